//! `session::run_seats` over in-memory channels: a real resharing of a 2-of-3 fixture key to a
//! new 2-of-3 committee in which one operator is both a dealer and a receiver (two seats, one
//! identity), one old operator leaves and one new operator joins; and the frames a node must
//! never deliver (a seat its sender does not play, a point-to-point frame for a seat not
//! played here) are dropped.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use k256::ProjectivePoint;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_core::wire::{Delivery, Header};
use tessera_core::{PartyIndex, SessionId, SignerSet};
use tessera_ecdsa::{KeyShare, Reshare, ReshareOutput, ReshareStatement};
use tessera_identity::{Identity, IdentityKey};
use tessera_node::router::{Limits, Router};
use tessera_node::session::{self, Frame, Net, Roster, SessionError};

const KEYS: &[u8] = include_bytes!("../../../test-data/keys-2of3.bin");

type Routers = Arc<Mutex<HashMap<IdentityKey, Arc<Router>>>>;

struct MemNet {
    me: IdentityKey,
    routers: Routers,
}

impl Net for MemNet {
    fn send(&self, to: &IdentityKey, frame: Vec<u8>) -> Result<(), String> {
        let r = self
            .routers
            .lock()
            .unwrap()
            .get(to)
            .cloned()
            .ok_or("unknown peer")?;
        r.dispatch(Frame {
            from: self.me,
            bytes: frame,
        });
        Ok(())
    }
}

fn ids(n: u8) -> Vec<IdentityKey> {
    (0..n)
        .map(|i| Identity::from_secret_bytes(&[i + 1; 32]).public())
        .collect()
}

fn routers(ids: &[IdentityKey]) -> Routers {
    Arc::new(Mutex::new(
        ids.iter()
            .map(|k| (*k, Arc::new(Router::new(Limits::default()))))
            .collect(),
    ))
}

#[test]
fn resharing_with_a_node_in_both_committees() {
    let old: Vec<KeyShare> = tessera_sim::fixtures::key_shares(KEYS).unwrap();
    // Identities A, B, C hold old shares 0, 1, 2; D is new. Dealers: old 0 (A) and 1 (B).
    // New committee, 2-of-3: B, C, D. B deals and receives; A only deals; C and D receive.
    let who = ids(4);
    let (a, b, c, d) = (who[0], who[1], who[2], who[3]);
    let st = ReshareStatement::new(&old[0], vec![PartyIndex(0), PartyIndex(1)], 3, 2).unwrap();
    let new_committee = [b, c, d];
    let mut seats: Vec<(PartyIndex, IdentityKey)> = new_committee
        .iter()
        .enumerate()
        .map(|(j, k)| (st.receiver_seat(PartyIndex(j as u16)), *k))
        .collect();
    seats.push((st.dealer_seat(PartyIndex(0)).unwrap(), a));
    seats.push((st.dealer_seat(PartyIndex(1)).unwrap(), b));
    let sid = SessionId([3u8; 32]);
    let routers = routers(&who);
    let mut paillier = tessera_sim::fixtures::paillier_keys(3, 3).unwrap().into_iter();
    // (identity, receiver index, dealer old index)
    let plan: [(IdentityKey, Option<u16>, Option<u16>); 4] = [
        (a, None, Some(0)),
        (b, Some(0), Some(1)),
        (c, Some(1), None),
        (d, Some(2), None),
    ];
    let mut handles = Vec::new();
    for (n, (me, recv, deal)) in plan.into_iter().enumerate() {
        let mut rng = ChaCha20Rng::seed_from_u64(n as u64);
        let mut machines = Vec::new();
        let mut mine = Vec::new();
        if let Some(j) = recv {
            mine.push(st.receiver_seat(PartyIndex(j)));
            machines.push(
                Reshare::receiver(
                    sid,
                    st.clone(),
                    PartyIndex(j),
                    paillier.next().unwrap(),
                    &mut rng,
                )
                .unwrap(),
            );
        }
        if let Some(i) = deal {
            mine.push(st.dealer_seat(PartyIndex(i)).unwrap());
            machines.push(Reshare::dealer(sid, st.clone(), &old[usize::from(i)], &mut rng).unwrap());
        }
        let roster = Roster::with_seats(mine, seats.clone()).unwrap();
        let router = routers.lock().unwrap()[&me].clone();
        let net = MemNet {
            me,
            routers: routers.clone(),
        };
        handles.push(std::thread::spawn(move || {
            let inbox = router.open(sid);
            session::run_seats(
                machines,
                &roster,
                &net,
                &inbox,
                Duration::from_secs(600),
                &mut rng,
                &mut (),
            )
        }));
    }
    let outs: Vec<Vec<ReshareOutput>> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    // A retires; B gets a new share and retires; C and D get new shares.
    assert!(outs[0].len() == 1 && outs[0][0].retirement().is_some());
    assert!(outs[1].len() == 2 && outs[1][1].retirement().is_some());
    let mut new: Vec<KeyShare> = Vec::new();
    for (o, j) in [(&outs[1][0], 0u16), (&outs[2][0], 1), (&outs[3][0], 2)] {
        let ReshareOutput::NewShare(s) = o else {
            panic!("receiver {j} got no share");
        };
        assert_eq!(s.index, PartyIndex(j));
        new.push((**s).clone());
    }
    let y = old[0].public_key_point().unwrap();
    for s in &new {
        assert_eq!(s.public_key_point().unwrap(), y, "same public key");
        assert_eq!((s.n, s.threshold), (3, 2));
    }
    // Any two new public shares interpolate to the key; every receiver agrees on them.
    for pair in [[0u16, 1], [0, 2], [1, 2]] {
        let set = SignerSet::new(vec![PartyIndex(pair[0]), PartyIndex(pair[1])], 2, 3).unwrap();
        let mut acc = ProjectivePoint::IDENTITY;
        for &p in &pair {
            acc += new[0].public_share(PartyIndex(p)).unwrap()
                * set.lagrange_at_zero(PartyIndex(p)).unwrap();
        }
        assert_eq!(acc, y);
    }
    for s in &new[1..] {
        for p in 0..3 {
            assert_eq!(
                s.public_share(PartyIndex(p)).unwrap(),
                new[0].public_share(PartyIndex(p)).unwrap()
            );
        }
    }
}

fn frame(from_seat: u16, delivery: Delivery, sid: SessionId) -> Vec<u8> {
    let h = Header {
        version: tessera_core::wire::WIRE_VERSION,
        protocol: tessera_core::wire::ProtocolId::Reshare,
        sid,
        round: 0,
        from: PartyIndex(from_seat),
        delivery,
    };
    tessera_core::wire::encode(&h, &0u8).bytes
}

/// A machine that expects one broadcast from seat 0 and never gets one it accepts.
struct Waiting {
    me: PartyIndex,
    parties: Vec<PartyIndex>,
    got: bool,
}

impl tessera_core::StateMachine for Waiting {
    type Output = ();
    fn me(&self) -> PartyIndex {
        self.me
    }
    fn participants(&self) -> &[PartyIndex] {
        &self.parties
    }
    fn take_outgoing(&mut self) -> Vec<tessera_core::wire::Outgoing> {
        Vec::new()
    }
    fn receive(&mut self, _from: PartyIndex, _bytes: &[u8]) -> Result<(), tessera_core::Blame> {
        self.got = true;
        Ok(())
    }
    fn ready(&self) -> bool {
        self.got
    }
    fn proceed(
        self,
        _rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<tessera_core::Transition<Self, ()>, tessera_core::ProtocolError> {
        Ok(tessera_core::Transition::Done(()))
    }
}

#[test]
fn frames_for_seats_the_sender_or_we_do_not_play_are_dropped() {
    let who = ids(3);
    let (me, x, y) = (who[0], who[1], who[2]);
    // Seats: 0 → x, 1 → y, 2 and 3 → me.
    let seats = vec![
        (PartyIndex(0), x),
        (PartyIndex(1), y),
        (PartyIndex(2), me),
        (PartyIndex(3), me),
    ];
    let roster = Roster::with_seats(vec![PartyIndex(2), PartyIndex(3)], seats.clone()).unwrap();
    let sid = SessionId([4u8; 32]);
    let (tx, rx) = std::sync::mpsc::channel();
    // y claims seat 0 (x's); x sends point to point to seat 1 (y's, not ours).
    tx.send(Frame {
        from: y,
        bytes: frame(0, Delivery::Broadcast, sid),
    })
    .unwrap();
    tx.send(Frame {
        from: x,
        bytes: frame(0, Delivery::P2p { to: PartyIndex(1) }, sid),
    })
    .unwrap();
    let parties: Vec<PartyIndex> = (0..4).map(PartyIndex).collect();
    let machines = vec![
        Waiting {
            me: PartyIndex(2),
            parties: parties.clone(),
            got: false,
        },
        Waiting {
            me: PartyIndex(3),
            parties,
            got: false,
        },
    ];
    let net = MemNet {
        me,
        routers: routers(&who),
    };
    let mut rng = ChaCha20Rng::seed_from_u64(1);
    match session::run_seats(
        machines,
        &roster,
        &net,
        &rx,
        Duration::from_millis(500),
        &mut rng,
        &mut (),
    ) {
        Err(SessionError::Timeout { waiting_for, .. }) => {
            // x's point-to-point frame was heard (seat 0), but reached no machine; y's forged
            // one was not counted at all.
            assert_eq!(waiting_for, vec![PartyIndex(1)]);
        }
        other => panic!("expected a timeout, got {other:?}"),
    }
    // The same frame from its rightful sender is delivered to both machines.
    let (tx, rx) = std::sync::mpsc::channel();
    tx.send(Frame {
        from: x,
        bytes: frame(0, Delivery::Broadcast, sid),
    })
    .unwrap();
    let parties: Vec<PartyIndex> = (0..4).map(PartyIndex).collect();
    let machines = vec![
        Waiting {
            me: PartyIndex(2),
            parties: parties.clone(),
            got: false,
        },
        Waiting {
            me: PartyIndex(3),
            parties,
            got: false,
        },
    ];
    let outs = session::run_seats(
        machines,
        &roster,
        &net,
        &rx,
        Duration::from_secs(5),
        &mut rng,
        &mut (),
    )
    .unwrap();
    assert_eq!(outs.len(), 2);
}

#[test]
fn with_seats_refuses_bad_rosters() {
    let who = ids(2);
    let (me, x) = (who[0], who[1]);
    let dup = vec![(PartyIndex(0), me), (PartyIndex(0), x)];
    assert!(Roster::with_seats(vec![PartyIndex(0)], dup).is_err());
    let seats = vec![(PartyIndex(0), me), (PartyIndex(1), x)];
    assert!(Roster::with_seats(vec![PartyIndex(0), PartyIndex(1)], seats.clone()).is_err());
    assert!(Roster::with_seats(vec![PartyIndex(5)], seats.clone()).is_err());
    assert!(Roster::with_seats(Vec::new(), seats.clone()).is_err());
    assert!(Roster::with_seats(vec![PartyIndex(0), PartyIndex(0)], seats.clone()).is_err());
    // The one-seat constructor still refuses an identity twice.
    let twice = vec![(PartyIndex(0), me), (PartyIndex(1), me)];
    assert!(Roster::new(PartyIndex(0), twice.clone()).is_err());
    assert!(Roster::with_seats(vec![PartyIndex(0), PartyIndex(1)], twice).is_ok());
}
