//! The session runner and router over in-memory channels: real presigning and signing among
//! fixture key shares, wrapped in the echo check, with frames arriving before their session
//! opens; and a silent party reported by the round timeout.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_core::echo::Echo;
use tessera_core::{PartyIndex, SessionId};
use tessera_ecdsa::{KeyShare, Presign, Presignature, Sign, SignRequest};
use tessera_identity::{Identity, IdentityKey};
use tessera_node::router::{Limits, Router};
use tessera_node::session::{self, Frame, Net, Roster, SessionError};

const KEYS: &[u8] = include_bytes!("../../../test-data/keys-2of3.bin");

/// Delivers every frame to the recipient's router at once; parties in `mute` send nothing.
struct MemNet {
    me: IdentityKey,
    routers: Arc<Mutex<HashMap<IdentityKey, Arc<Router>>>>,
    mute: bool,
}

impl Net for MemNet {
    fn send(&self, to: &IdentityKey, frame: Vec<u8>) -> Result<(), String> {
        if self.mute {
            return Ok(());
        }
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

struct World {
    ids: Vec<IdentityKey>,
    shares: Vec<Arc<KeyShare>>,
    routers: Arc<Mutex<HashMap<IdentityKey, Arc<Router>>>>,
}

fn world() -> World {
    let shares: Vec<Arc<KeyShare>> = tessera_sim::fixtures::key_shares(KEYS)
        .unwrap()
        .into_iter()
        .map(Arc::new)
        .collect();
    let ids: Vec<IdentityKey> = (0..3u8)
        .map(|i| Identity::from_secret_bytes(&[i + 1; 32]).public())
        .collect();
    let routers = Arc::new(Mutex::new(
        ids.iter()
            .map(|k| (*k, Arc::new(Router::new(Limits::default()))))
            .collect(),
    ));
    World {
        ids,
        shares,
        routers,
    }
}

fn roster(w: &World, me: u16, members: &[u16]) -> Roster {
    Roster::new(
        PartyIndex(me),
        members
            .iter()
            .map(|&i| (PartyIndex(i), w.ids[usize::from(i)])),
    )
    .unwrap()
}

fn presign_all(
    w: &World,
    signers: &[u16],
    mute: Option<u16>,
    timeout: Duration,
) -> Vec<Result<Presignature, SessionError>> {
    let sid = SessionId([7u8; 32]);
    let parties: Vec<PartyIndex> = signers.iter().map(|&i| PartyIndex(i)).collect();
    let mut handles = Vec::new();
    for (n, &i) in signers.iter().enumerate() {
        let share = w.shares[usize::from(i)].clone();
        let me = w.ids[usize::from(i)];
        let router = w.routers.lock().unwrap()[&me].clone();
        let net = MemNet {
            me,
            routers: w.routers.clone(),
            mute: mute == Some(i),
        };
        let roster = roster(w, i, signers);
        let parties = parties.clone();
        // Open the sessions at different moments: frames for a session that is not open yet
        // must be held, not lost.
        let delay = Duration::from_millis(150 * n as u64);
        handles.push(std::thread::spawn(move || {
            std::thread::sleep(delay);
            let inbox = router.open(sid);
            let mut rng = ChaCha20Rng::seed_from_u64(u64::from(i));
            let inner = Presign::new(sid, share, &parties, &mut rng).unwrap();
            let machine = Echo::new(inner, sid).unwrap();
            let out = session::run(machine, &roster, &net, &inbox, timeout, &mut rng, &mut ());
            router.close(&sid);
            out
        }));
    }
    handles.into_iter().map(|h| h.join().unwrap()).collect()
}

#[test]
fn presign_and_sign_over_the_router() {
    let w = world();
    let signers = [0u16, 2];
    let presigs: Vec<Presignature> = presign_all(&w, &signers, None, Duration::from_secs(60))
        .into_iter()
        .map(|r| r.unwrap())
        .collect();
    let req = SignRequest {
        digest: [5u8; 32],
        tweak: k256::Scalar::ZERO,
        entropy: [1u8; 32],
    };
    let mut handles = Vec::new();
    for p in presigs {
        let i = p.party().0;
        let me = w.ids[usize::from(i)];
        let router = w.routers.lock().unwrap()[&me].clone();
        let net = MemNet {
            me,
            routers: w.routers.clone(),
            mute: false,
        };
        let roster = roster(&w, i, &signers);
        let sid = p.session().derive(b"sign");
        let req = req.clone();
        handles.push(std::thread::spawn(move || {
            let inbox = router.open(sid);
            let mut rng = ChaCha20Rng::seed_from_u64(9);
            let m = Sign::new(p, &req).unwrap();
            session::run(
                m,
                &roster,
                &net,
                &inbox,
                Duration::from_secs(30),
                &mut rng,
                &mut (),
            )
        }));
    }
    let sigs: Vec<_> = handles
        .into_iter()
        .map(|h| h.join().unwrap().unwrap())
        .collect();
    assert_eq!(sigs[0], sigs[1]);
    let vk =
        k256::ecdsa::VerifyingKey::from_affine(w.shares[0].public_key_point().unwrap().to_affine())
            .unwrap();
    use k256::ecdsa::signature::hazmat::PrehashVerifier;
    vk.verify_prehash(&req.digest, &sigs[0].to_k256().unwrap())
        .unwrap();
}

#[test]
fn a_silent_party_is_named_by_the_timeout() {
    let w = world();
    let out = presign_all(&w, &[0, 1], Some(1), Duration::from_secs(3));
    match &out[0] {
        Err(SessionError::Timeout { waiting_for, .. }) => {
            assert_eq!(waiting_for, &vec![PartyIndex(1)])
        }
        other => panic!("expected a timeout naming party 1, got {other:?}"),
    }
}

#[test]
fn frames_from_outside_the_roster_never_reach_the_protocol() {
    let w = world();
    let stranger = Identity::from_secret_bytes(&[99; 32]).public();
    let r = roster(&w, 0, &[0, 1]);
    assert_eq!(r.party_of(&stranger), None);
    assert_eq!(r.party_of(&w.ids[1]), Some(PartyIndex(1)));
    // A router drops what does not parse as a protocol frame.
    let router = Router::new(Limits::default());
    assert_eq!(
        router.dispatch(Frame {
            from: stranger,
            bytes: vec![0xff; 3]
        }),
        tessera_node::router::Routed::Dropped
    );
}

fn frame_for(sid: SessionId, from: IdentityKey) -> Frame {
    use tessera_core::wire::{encode, Delivery, Header, ProtocolId, WIRE_VERSION};
    let header = Header {
        version: WIRE_VERSION,
        protocol: ProtocolId::Presign,
        sid,
        round: 1,
        from: PartyIndex(1),
        delivery: Delivery::Broadcast,
    };
    Frame {
        from,
        bytes: encode(&header, &()).bytes,
    }
}

#[test]
fn frames_for_sessions_not_yet_open_are_held_within_bounds() {
    use std::time::Duration;
    use tessera_node::router::Routed;
    let peer = Identity::from_secret_bytes(&[5; 32]).public();
    let router = Router::new(Limits {
        max_pending_sessions: 1,
        max_frames_per_session: 2,
        max_age: Duration::from_secs(60),
    });
    let (a, b) = (SessionId([1; 32]), SessionId([2; 32]));
    assert_eq!(router.dispatch(frame_for(a, peer)), Routed::Held);
    assert_eq!(router.dispatch(frame_for(a, peer)), Routed::Held);
    // Per-session bound, then the bound on sessions held.
    assert_eq!(router.dispatch(frame_for(a, peer)), Routed::Dropped);
    assert_eq!(router.dispatch(frame_for(b, peer)), Routed::Dropped);
    // Opening the session hands over what was held; later frames go straight in.
    let inbox = router.open(a);
    assert_eq!(inbox.try_iter().count(), 2);
    assert_eq!(router.dispatch(frame_for(a, peer)), Routed::Delivered);
    assert_eq!(inbox.try_iter().count(), 1);
    // A closed session's frames are held again (and age out), never delivered.
    router.close(&a);
    assert_eq!(router.dispatch(frame_for(a, peer)), Routed::Held);
    assert_eq!(inbox.try_iter().count(), 0);
}
