//! One node playing several seats of one session: a real resharing from a 2-of-3 key to a new
//! 2-of-3 committee over in-memory channels, where nodes A and B are both dealers and
//! receivers (two seats each) and node C only receives.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_core::echo::Echo;
use tessera_core::{PartyIndex, SessionId, SignerSet};
use tessera_ecdsa::{KeyShare, Reshare, ReshareOutput, ReshareStatement};
use tessera_identity::{Identity, IdentityKey};
use tessera_node::router::{Limits, Router};
use tessera_node::session::{self, Frame, Net, Roster};

const KEYS: &[u8] = include_bytes!("../../../test-data/keys-2of3.bin");

struct MemNet {
    me: IdentityKey,
    routers: Arc<HashMap<IdentityKey, Arc<Router>>>,
}

impl Net for MemNet {
    fn send(&self, to: &IdentityKey, frame: Vec<u8>) -> Result<(), String> {
        let r = self.routers.get(to).ok_or("unknown peer")?;
        r.dispatch(Frame {
            from: self.me,
            bytes: frame,
        });
        Ok(())
    }
}

fn p(i: u16) -> PartyIndex {
    PartyIndex(i)
}

#[test]
fn nodes_in_both_committees_reshare_with_two_seats_each() {
    let old = Arc::new(tessera_sim::fixtures::key_shares(KEYS).unwrap());
    let y = old[0].public_key_point().unwrap();
    // Old parties 0 (node A) and 1 (node B) deal; new parties 0 (A), 1 (B), 2 (C) receive.
    let st = ReshareStatement::new(&old[0], vec![p(0), p(1)], 3, 2).unwrap();
    assert_eq!(st.dealer_seat(p(0)), Some(p(3)));
    assert_eq!(st.dealer_seat(p(1)), Some(p(4)));
    let ids: Vec<IdentityKey> = (0..3u8)
        .map(|i| Identity::from_secret_bytes(&[i + 1; 32]).public())
        .collect();
    let seats = [(0, 0), (1, 1), (2, 2), (3, 0), (4, 1)].map(|(s, n)| (p(s), ids[n]));
    let routers: Arc<HashMap<IdentityKey, Arc<Router>>> = Arc::new(
        ids.iter()
            .map(|k| (*k, Arc::new(Router::new(Limits::default()))))
            .collect(),
    );
    let mut paillier = tessera_sim::fixtures::paillier_keys(3, 3).unwrap();
    let sid = SessionId([9; 32]);
    let mut handles = Vec::new();
    for node in (0..3u16).rev() {
        let key = paillier.pop().unwrap();
        let old = old.clone();
        let mine: Vec<PartyIndex> = if node < 2 {
            vec![p(node), p(node + 3)]
        } else {
            vec![p(node)]
        };
        let roster = Roster::with_seats(mine, seats).unwrap();
        let me = ids[usize::from(node)];
        let router = routers[&me].clone();
        let net = MemNet {
            me,
            routers: routers.clone(),
        };
        let st = st.clone();
        handles.push(std::thread::spawn(move || {
            let inbox = router.open(sid);
            let mut rng = ChaCha20Rng::seed_from_u64(u64::from(node));
            let mut machines = Vec::new();
            if node < 2 {
                let share = &old[usize::from(node)];
                let d = Reshare::dealer(sid, st.clone(), share, &mut rng).unwrap();
                machines.push(Echo::new(d, sid).unwrap());
            }
            let r = Reshare::receiver(sid, st, p(node), key, &mut rng).unwrap();
            machines.push(Echo::new(r, sid).unwrap());
            let out = session::run_seats(
                machines,
                &roster,
                &net,
                &inbox,
                Duration::from_secs(120),
                &mut rng,
                &mut (),
            );
            router.close(&sid);
            (node, out)
        }));
    }
    let mut shares: Vec<Option<KeyShare>> = vec![None, None, None];
    for h in handles {
        let (node, out) = h.join().unwrap();
        let mut out = out.unwrap().into_iter();
        if node < 2 {
            let retire = out.next().unwrap();
            let r = retire.retirement().expect("a dealer retires");
            assert_eq!(r.old_index, p(node));
            assert_eq!(r.key_id, old[0].key_id);
        }
        let share = match out.next().unwrap() {
            ReshareOutput::NewShare(s) => *s,
            ReshareOutput::Retire(_) => panic!("receiver {node} retired"),
        };
        assert!(out.next().is_none());
        assert_eq!(share.index, p(node));
        shares[usize::from(node)] = Some(share);
    }
    let shares: Vec<KeyShare> = shares.into_iter().map(Option::unwrap).collect();
    for s in &shares {
        assert_eq!(s.public_key_point().unwrap(), y);
        assert_eq!((s.n, s.threshold), (3, 2));
    }
    // Any two new shares give the key, both as public shares and as secrets.
    for pair in [[0u16, 1], [0, 2], [1, 2]] {
        let set = SignerSet::new(pair.map(p).to_vec(), 2, 3).unwrap();
        let mut public = ProjectivePoint::IDENTITY;
        let mut secret = Scalar::ZERO;
        for j in pair {
            let l = set.lagrange_at_zero(p(j)).unwrap();
            public += shares[0].public_share(p(j)).unwrap() * l;
            secret += shares[usize::from(j)].secret_share().unwrap() * l;
        }
        assert_eq!(public, y, "public shares {pair:?}");
        assert_eq!(
            ProjectivePoint::mul_by_generator(&secret),
            y,
            "shares {pair:?}"
        );
    }
}
