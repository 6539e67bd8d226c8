use std::collections::BTreeSet;

use super::*;
use crate::testkit::*;

fn cfg(pool: usize) -> SchedulerConfig {
    SchedulerConfig {
        pool_target: pool,
        max_running_presigns: 16,
        max_attempts: 2,
        keygen_timeout: Duration::from_secs(10),
        presign_timeout: Duration::from_secs(10),
        sign_timeout: Duration::from_secs(5),
        reshare_timeout: Duration::from_secs(20),
    }
}

/// Runs the scheduler at `now` with the given live operator indices and applies its commands.
fn step(net: &mut Net, live: &[usize], now: u64, cfg: &SchedulerConfig) -> Vec<Action> {
    let keys: BTreeSet<IdentityKey> = live
        .iter()
        .filter_map(|i| net.ops.get(*i).map(|o| o.public()))
        .collect();
    let actions = decide(&net.state, &|k| keys.contains(k), now, cfg);
    net.clock = now;
    for a in &actions {
        net.ok(Who::Ledger, a.clone());
    }
    actions
}

fn presign_starts(actions: &[Action]) -> Vec<Vec<u16>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartPresign { signers, .. } => Some(signers.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn keygen_starts_only_when_every_operator_is_live() {
    let mut net = Net::new(3, 2);
    let key = net.request_key("ecdsa-secp256k1");
    assert!(step(&mut net, &[0, 1], 1_000, &cfg(2)).is_empty());
    let a = step(&mut net, &[0, 1, 2], 1_000, &cfg(2));
    assert_eq!(a, vec![Action::StartKeygen { request: key }]);
    assert!(net.state.keygen_session(&key).is_some());
    // Timed out: aborted, then restarted; after max_attempts the key fails.
    let a = step(&mut net, &[0, 1, 2], 20_000, &cfg(2));
    assert!(matches!(a.as_slice(), [Action::AbortSession { .. }]));
    let a = step(&mut net, &[0, 1, 2], 20_000, &cfg(2));
    assert_eq!(a, vec![Action::StartKeygen { request: key }]);
    step(&mut net, &[0, 1, 2], 40_000, &cfg(2));
    let a = step(&mut net, &[0, 1, 2], 40_000, &cfg(2));
    assert_eq!(
        a,
        vec![Action::AbortSession {
            session: key,
            reason: "gave up after 2 keygen attempts".into()
        }]
    );
    assert!(matches!(
        net.state.key(&key).map(|k| &k.status),
        Some(KeyStatus::Failed { .. })
    ));
}

#[test]
fn presign_pool_is_filled_with_rotating_live_signers() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let a = step(&mut net, &[0, 1, 2], 1_000, &cfg(3));
    let sets = presign_starts(&a);
    assert_eq!(sets.len(), 3);
    let distinct: BTreeSet<_> = sets.iter().collect();
    assert_eq!(distinct.len(), 3, "signer sets rotate: {sets:?}");
    // Full pool: nothing more to do.
    assert!(step(&mut net, &[0, 1, 2], 1_000, &cfg(3)).is_empty());
    // Operator 2 goes away: sessions involving it stop counting, new ones avoid it.
    let a = step(&mut net, &[0, 1], 1_000, &cfg(3));
    for s in presign_starts(&a) {
        assert_eq!(s, vec![0, 1]);
    }
    assert_eq!(
        net.state
            .presigns_for_key(&key)
            .iter()
            .filter(|p| p.signers == vec![0, 1])
            .count(),
        3
    );
}

/// Marks ready the first `limit` presign sessions of `key` that are still running.
fn finish_running(net: &mut Net, key: Hash32, limit: usize) {
    let running: Vec<_> = net
        .state
        .presigns_for_key(&key)
        .iter()
        .filter(|p| !p.is_ready())
        .take(limit)
        .map(|p| (p.id, p.signers.clone()))
        .collect();
    for (id, signers) in running {
        net.ready(id, &signers);
    }
}

#[test]
fn presigning_is_started_a_few_sessions_at_a_time() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let c = SchedulerConfig {
        max_running_presigns: 2,
        ..cfg(4)
    };
    let first = presign_starts(&step(&mut net, &[0, 1, 2], 1_000, &c));
    assert_eq!(first.len(), 2, "only two sessions may run at once");
    assert!(presign_starts(&step(&mut net, &[0, 1, 2], 1_000, &c)).is_empty());
    // One finishes: one more starts, until the pool of four is reached.
    finish_running(&mut net, key, 1);
    assert_eq!(
        presign_starts(&step(&mut net, &[0, 1, 2], 1_000, &c)).len(),
        1
    );
    finish_running(&mut net, key, usize::MAX);
    assert_eq!(
        presign_starts(&step(&mut net, &[0, 1, 2], 1_000, &c)).len(),
        1
    );
    finish_running(&mut net, key, usize::MAX);
    assert!(presign_starts(&step(&mut net, &[0, 1, 2], 1_000, &c)).is_empty());
}

#[test]
fn pending_request_gets_the_oldest_ready_presign_and_timeouts_reschedule() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let p1 = net.presign(key, &[0, 1], 0x51);
    let p2 = net.presign(key, &[1, 2], 0x52);
    net.ready(p2, &[1, 2]);
    net.ready(p1, &[0, 1]);
    let digest = Hash32([0x42; 32]);
    let req = net.request_signature(key, digest, None);
    let a = step(&mut net, &[0, 1, 2], 1_000, &cfg(0));
    assert_eq!(
        a,
        vec![Action::StartSign {
            request: req,
            presign: p1
        }]
    );
    // Signing times out: the session is aborted and the request gets the next one.
    let a = step(&mut net, &[0, 1, 2], 7_000, &cfg(0));
    assert!(matches!(a.as_slice(), [Action::AbortSession { session, .. }] if *session == p1));
    let a = step(&mut net, &[0, 1, 2], 7_000, &cfg(0));
    assert_eq!(
        a,
        vec![Action::StartSign {
            request: req,
            presign: p2
        }]
    );
    let sig = sign(&ecdsa_secret(), &digest);
    net.ok(Who::Op(1), done(req, sig));
    net.ok(Who::Op(2), done(req, sig));
    assert!(step(&mut net, &[0, 1, 2], 7_000, &cfg(0)).is_empty());
}

#[test]
fn unserved_request_triggers_presigning_with_live_signers() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let req = net.request_signature(key, Hash32([1; 32]), None);
    let a = step(&mut net, &[1, 2], 1_000, &cfg(0));
    assert_eq!(presign_starts(&a), vec![vec![1, 2]]);
    let session = match a.first() {
        Some(Action::StartPresign { session, .. }) => *session,
        _ => Hash32::ZERO,
    };
    net.ready(session, &[1, 2]);
    let a = step(&mut net, &[1, 2], 1_000, &cfg(0));
    assert_eq!(
        a,
        vec![Action::StartSign {
            request: req,
            presign: session
        }]
    );
}

#[test]
fn reported_failure_aborts_and_blamed_operator_is_excluded() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let p = net.presign(key, &[0, 1], 0x51);
    net.ok(
        Who::Op(0),
        Action::SessionFailed {
            session: p,
            blamed: vec![1],
            check: "[P2.3]".into(),
        },
    );
    let a = step(&mut net, &[0, 1, 2], 1_000, &cfg(2));
    assert!(matches!(a.first(), Some(Action::AbortSession { session, .. }) if *session == p));
    let starts = presign_starts(&a);
    assert_eq!(starts.len(), 2);
    for s in starts {
        assert!(!s.contains(&1), "blamed operator 1 scheduled: {s:?}");
    }
}

#[test]
fn refills_wait_while_a_signature_is_in_flight_unless_the_pool_runs_low() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let c = cfg(4);
    assert_eq!(
        presign_starts(&step(&mut net, &[0, 1, 2], 1_000, &c)).len(),
        4
    );
    finish_running(&mut net, key, usize::MAX);
    let secret = ecdsa_secret();

    // A request takes one presignature; three are left (at or above the low-water mark of
    // two), so the refill waits for the signature instead of competing with it.
    let d1 = Hash32([1; 32]);
    let r1 = net.request_signature(key, d1, None);
    let a = step(&mut net, &[0, 1, 2], 1_000, &c);
    assert!(matches!(a.as_slice(), [Action::StartSign { request, .. }] if *request == r1));
    assert!(presign_starts(&step(&mut net, &[0, 1, 2], 1_000, &c)).is_empty());

    // Once it is done, the pool is topped up.
    let signers = match net.state.signature_request(&r1).map(|r| r.status.clone()) {
        Some(SignatureStatus::Signing { presign }) => net
            .state
            .presign(&presign)
            .map(|p| p.signers.clone())
            .unwrap_or_default(),
        other => panic!("request not signing: {other:?}"),
    };
    for i in &signers {
        net.ok(Who::Op(usize::from(*i)), done(r1, sign(&secret, &d1)));
    }
    assert_eq!(
        presign_starts(&step(&mut net, &[0, 1, 2], 1_000, &c)).len(),
        1
    );
    finish_running(&mut net, key, usize::MAX);

    // Three requests at once drain the pool to one, below the low-water mark: refills start
    // beside the signatures.
    for b in 2..5u8 {
        net.request_signature(key, Hash32([b; 32]), None);
    }
    let a = step(&mut net, &[0, 1, 2], 1_000, &c);
    let starts = a
        .iter()
        .filter(|x| matches!(x, Action::StartSign { .. }))
        .count();
    assert_eq!(starts, 3);
    assert_eq!(presign_starts(&a).len(), 3, "{a:?}");
}

#[test]
fn schnorr_keys_get_no_presign_pool() {
    let mut net = Net::new(3, 2);
    for (i, key_type) in ["eddsa-ed25519", "schnorr-bip340"].into_iter().enumerate() {
        let key = net.ok(
            Who::Owner,
            Action::RequestKey {
                keyring_id: "ring".into(),
                key_type: key_type.into(),
            },
        );
        let a = step(&mut net, &[0, 1, 2], 1_000 + i as u64, &cfg(2));
        assert_eq!(a, vec![Action::StartKeygen { request: key }]);
        // Each type's own encoding: the Ed25519 base point, an x-only secp256k1 key.
        let pk = match key_type {
            "eddsa-ed25519" => "58".to_string() + &"66".repeat(31),
            _ => compressed_hex(&ecdsa_secret())[2..].to_string(),
        };
        for op in 0..3 {
            net.ok(
                Who::Op(op),
                Action::KeyGenerated {
                    request: key,
                    public_key: pk.clone(),
                    chain_code: Hash32::ZERO,
                    public_shares: Vec::new(),
                },
            );
        }
        assert!(matches!(
            net.state.key(&key).map(|k| &k.status),
            Some(KeyStatus::Active { .. })
        ));
        let a = step(&mut net, &[0, 1, 2], 2_000 + i as u64, &cfg(2));
        assert!(presign_starts(&a).is_empty(), "{key_type}: {a:?}");
    }
    // An ECDSA key in the same keyring still gets its pool.
    let key = net.active_key();
    let a = step(&mut net, &[0, 1, 2], 3_000, &cfg(2));
    assert!(!presign_starts(&a).is_empty());
    assert!(net.state.presigns_for_key(&key).len() >= 2);
}

/// An active `eddsa-ed25519` key (the Ed25519 base point as its public key).
fn active_ed25519_key(net: &mut Net) -> Hash32 {
    let key = net.generating_key_of("eddsa-ed25519");
    for op in 0..net.n() {
        net.ok(
            Who::Op(op),
            Action::KeyGenerated {
                request: key,
                public_key: "58".to_string() + &"66".repeat(31),
                chain_code: Hash32::ZERO,
                public_shares: Vec::new(),
            },
        );
    }
    key
}

fn schnorr_starts(actions: &[Action]) -> Vec<Vec<u16>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartSchnorrSign { signers, .. } => Some(signers.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn schnorr_requests_start_frost_with_live_signers_and_retry_with_others() {
    let mut net = Net::new(4, 2);
    let key = active_ed25519_key(&mut net);
    let req = net.ok(
        Who::Owner,
        Action::RequestSchnorrSignature {
            key,
            message: crate::command::HexBytes(b"hello".to_vec()),
            note: None,
            deadline_ms: None,
        },
    );
    // Too few live operators: the request waits.
    let a = step(&mut net, &[3], 1_000, &cfg(2));
    assert!(schnorr_starts(&a).is_empty(), "{a:?}");
    assert_eq!(
        net.state.signature_request(&req).map(|r| r.status.label()),
        Some("pending")
    );
    // Signers are `threshold` live operators; no presign session is started for the key.
    let a = step(&mut net, &[1, 2, 3], 1_000, &cfg(2));
    assert_eq!(schnorr_starts(&a), vec![vec![1, 2]], "{a:?}");
    assert!(presign_starts(&a).is_empty());
    let Some(SignatureStatus::Signing { presign: first }) =
        net.state.signature_request(&req).map(|r| r.status.clone())
    else {
        panic!("not signing");
    };
    // Nothing more while it runs.
    assert!(step(&mut net, &[1, 2, 3], 2_000, &cfg(2)).is_empty());
    // Operator 2 blames 1: the session is aborted, and the retry leaves operator 1 out.
    net.ok(
        Who::Op(2),
        Action::SessionFailed {
            session: first,
            blamed: vec![1],
            check: "[FS2.2]".into(),
        },
    );
    let a = step(&mut net, &[0, 1, 2, 3], 2_500, &cfg(2));
    assert!(
        a.contains(&Action::AbortSession {
            session: first,
            reason: "operator 2 reported [FS2.2] blaming [1]".into()
        }),
        "{a:?}"
    );
    let a = step(&mut net, &[0, 1, 2, 3], 2_600, &cfg(2));
    let starts = schnorr_starts(&a);
    assert_eq!(starts.len(), 1, "{a:?}");
    assert!(!starts[0].contains(&1), "{starts:?}");
    // A signing that outlives the sign timeout is aborted too; after max_attempts (2) the
    // request fails.
    let a = step(&mut net, &[0, 1, 2, 3], 10_000, &cfg(2));
    assert!(
        matches!(a.as_slice(), [Action::AbortSession { .. }]),
        "{a:?}"
    );
    let a = step(&mut net, &[0, 1, 2, 3], 10_100, &cfg(2));
    assert!(
        matches!(a.as_slice(), [Action::AbortSession { session, .. }] if *session == req),
        "{a:?}"
    );
    assert_eq!(
        net.state.signature_request(&req).map(|r| r.status.label()),
        Some("failed")
    );
}

#[test]
fn refreshes_start_when_every_operator_is_live_and_time_out() {
    let mut net = Net::new(3, 2);
    let key = active_ed25519_key(&mut net);
    let req = net.ok(Who::Owner, Action::RequestRefresh { key });
    assert!(step(&mut net, &[0, 1], 1_000, &cfg(2)).is_empty());
    let a = step(&mut net, &[0, 1, 2], 1_000, &cfg(2));
    assert_eq!(a, vec![Action::StartRefresh { request: req }]);
    assert!(step(&mut net, &[0, 1, 2], 2_000, &cfg(2)).is_empty());
    // Past the keygen timeout: aborted and started again; after max_attempts it fails.
    let a = step(&mut net, &[0, 1, 2], 20_000, &cfg(2));
    assert!(
        matches!(a.as_slice(), [Action::AbortSession { .. }]),
        "{a:?}"
    );
    let a = step(&mut net, &[0, 1, 2], 20_000, &cfg(2));
    assert_eq!(a, vec![Action::StartRefresh { request: req }]);
    step(&mut net, &[0, 1, 2], 40_000, &cfg(2));
    let a = step(&mut net, &[0, 1, 2], 40_000, &cfg(2));
    assert!(
        matches!(a.as_slice(), [Action::AbortSession { session, .. }] if *session == req),
        "{a:?}"
    );
    assert!(matches!(
        net.state.refresh(&req).map(|r| &r.status),
        Some(crate::state::RefreshStatus::Failed { .. })
    ));
}

#[test]
fn signer_selection_honours_regions_and_fails_clearly_when_it_cannot() {
    // Operators 0..6 in regions eu, eu, us, us, ap, ap; threshold 3, three regions required.
    let mut net = Net::with_regions(6, 3, &["eu", "eu", "us", "us", "ap", "ap"]);
    net.ok(
        Who::Ledger,
        Action::SetSignerRegions {
            keyring_id: "ring".into(),
            min_regions: 3,
        },
    );
    let ring = net.state.keyring("ring").cloned().expect("ring");
    let all: Vec<u16> = (0..6).collect();
    // Every rotation yields three operators from three regions.
    for offset in 0..12 {
        let s = pick_signers(&ring, &all, 3, offset).expect("a set");
        assert_eq!(s.len(), 3);
        assert_eq!(ring.regions_of(&s).len(), 3, "offset {offset}: {s:?}");
    }
    // Without region ap the rule cannot be met.
    assert_eq!(pick_signers(&ring, &[0, 1, 2, 3], 3, 0), None);
    // With one region required, the plain rotating window.
    let mut one = ring.clone();
    one.min_regions = 1;
    assert_eq!(pick_signers(&one, &all, 3, 4), Some(vec![0, 4, 5]));

    let key = net.active_key();
    let a = step(&mut net, &[0, 1, 2, 3, 4, 5], 1_000, &cfg(2));
    let starts = presign_starts(&a);
    assert!(!starts.is_empty());
    for s in &starts {
        assert_eq!(ring.regions_of(s).len(), 3, "{s:?}");
    }
    // Both ap operators down: a request fails at once, saying why.
    let req = net.request_signature(key, Hash32([8; 32]), None);
    let a = step(&mut net, &[0, 1, 2, 3], 2_000, &cfg(2));
    assert!(
        a.iter()
            .any(|x| matches!(x, Action::AbortSession { session, reason }
            if *session == req && reason.contains("3 distinct regions"))),
        "{a:?}"
    );
    let Some(SignatureStatus::Failed { reason }) =
        net.state.signature_request(&req).map(|r| r.status.clone())
    else {
        panic!("not failed");
    };
    assert!(reason.contains("cover 2 (eu, us)"), "{reason}");
}

/// Runs the scheduler with old operators `live` and the first `new_live` new operators live.
fn step_change(
    net: &mut Net,
    live: &[usize],
    new_live: usize,
    now: u64,
    cfg: &SchedulerConfig,
) -> Vec<Action> {
    let mut keys: BTreeSet<IdentityKey> = live
        .iter()
        .filter_map(|i| net.ops.get(*i).map(|o| o.public()))
        .collect();
    keys.extend(net.new_ops.iter().take(new_live).map(|o| o.public()));
    let actions = decide(&net.state, &|k| keys.contains(k), now, cfg);
    net.clock = now;
    for a in &actions {
        net.ok(Who::Ledger, a.clone());
    }
    actions
}

/// A 2-of-3 keyring with one active key, changing to 2-of-3 new operators.
fn changing_net() -> (Net, Hash32, Hash32) {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let operators = (0..3)
        .map(|i| crate::command::Operator {
            identity: net.new_ops[i].public(),
            address: format!("127.0.0.1:{}", 8000 + i),
            region: "local".into(),
        })
        .collect();
    let c = net.ok(
        Who::Owner,
        Action::ChangeKeyring {
            keyring_id: "ring".into(),
            threshold: 2,
            operators,
        },
    );
    (net, key, c)
}

fn reshare_starts(actions: &[Action]) -> Vec<Vec<u16>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::StartReshare { dealers, .. } => Some(dealers.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn a_reshare_starts_when_the_new_committee_is_live_and_nothing_else_runs() {
    let (mut net, key, c) = changing_net();
    // New operators not all live yet: wait, and no presign pool for the changing keyring.
    let a = step_change(&mut net, &[0, 1, 2], 2, 1_000, &cfg(2));
    assert!(a.is_empty(), "{a:?}");
    let a = step_change(&mut net, &[0, 1, 2], 3, 1_000, &cfg(2));
    assert_eq!(reshare_starts(&a), vec![vec![0, 1]]);
    // One at a time.
    assert!(step_change(&mut net, &[0, 1, 2], 3, 1_000, &cfg(2)).is_empty());
    let s = net.state.keyring_change(&c).unwrap().keys[&key].session;
    assert!(s.is_some());
    // Timed out: aborted, then retried with rotated dealers; after max attempts the change
    // fails and the keyring is as before.
    let a = step_change(&mut net, &[0, 1, 2], 3, 30_000, &cfg(2));
    assert!(matches!(a.as_slice(), [Action::AbortSession { session, .. }] if Some(*session) == s));
    let a = step_change(&mut net, &[0, 1, 2], 3, 30_000, &cfg(2));
    assert_eq!(reshare_starts(&a), vec![vec![1, 2]]);
    step_change(&mut net, &[0, 1, 2], 3, 60_000, &cfg(2));
    let a = step_change(&mut net, &[0, 1, 2], 3, 60_000, &cfg(2));
    assert!(
        matches!(a.as_slice(), [Action::AbortSession { session, reason }]
            if *session == c && reason.contains("gave up")),
        "{a:?}"
    );
    assert!(matches!(
        net.state.keyring_change(&c).map(|c| &c.status),
        Some(ChangeStatus::Failed { .. })
    ));
    // The keyring works again with its old committee.
    let a = step_change(&mut net, &[0, 1, 2], 0, 60_000, &cfg(2));
    assert!(!presign_starts(&a).is_empty());
}

#[test]
fn a_reshare_waits_for_running_sessions_of_the_keyring() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let p = net.presign(key, &[0, 1], 0x51);
    let operators = net.state.keyring("ring").unwrap().operators.clone();
    let c = net.ok(
        Who::Owner,
        Action::ChangeKeyring {
            keyring_id: "ring".into(),
            threshold: 3,
            operators,
        },
    );
    let a = step_change(&mut net, &[0, 1, 2], 0, 1_000, &cfg(2));
    assert!(reshare_starts(&a).is_empty(), "{a:?}");
    net.ready(p, &[0, 1]);
    let a = step_change(&mut net, &[0, 1, 2], 0, 1_000, &cfg(2));
    assert_eq!(reshare_starts(&a), vec![vec![0, 1]]);
    assert!(net.state.keyring_change(&c).is_some());
}

#[test]
fn a_reshare_report_aborts_and_too_few_dealers_fail_the_change() {
    let (mut net, key, c) = changing_net();
    let a = step_change(&mut net, &[0, 1, 2], 3, 1_000, &cfg(2));
    assert_eq!(reshare_starts(&a), vec![vec![0, 1]]);
    let s = net.state.keyring_change(&c).unwrap().keys[&key]
        .session
        .unwrap();
    // Dealers 0 and 1 and three new operators: three reports blaming 1 exclude it.
    for who in [Who::Op(0), Who::New(0), Who::New(1)] {
        net.ok(
            who,
            Action::SessionFailed {
                session: s,
                blamed: vec![1],
                check: "R1.3".into(),
            },
        );
    }
    let a = step_change(&mut net, &[0, 1, 2], 3, 1_000, &cfg(2));
    assert!(matches!(a.as_slice(), [Action::AbortSession { session, .. }] if *session == s));
    // Operator 1 is excluded: dealers 0 and 2.
    let a = step_change(&mut net, &[0, 1, 2], 3, 1_000, &cfg(2));
    assert_eq!(reshare_starts(&a), vec![vec![0, 2]]);
    let s = net.state.keyring_change(&c).unwrap().keys[&key]
        .session
        .unwrap();
    for who in [Who::Op(0), Who::New(0), Who::New(1)] {
        net.ok(
            who,
            Action::SessionFailed {
                session: s,
                blamed: vec![2],
                check: "R1.3".into(),
            },
        );
    }
    step_change(&mut net, &[0, 1, 2], 3, 1_000, &cfg(2));
    // Only operator 0 is left: the change fails with the reason.
    let c2 = cfg(2);
    let c2 = SchedulerConfig {
        max_attempts: 5,
        ..c2
    };
    let a = step_change(&mut net, &[0, 1, 2], 3, 1_000, &c2);
    assert!(
        matches!(a.as_slice(), [Action::AbortSession { session, reason }]
            if *session == c && reason.contains("excluded by blame")),
        "{a:?}"
    );
}
