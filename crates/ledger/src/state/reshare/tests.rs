//! Keyring changes: one test per rejection, plus the happy paths they guard.

use super::*;
use crate::command::{Action, Operator};
use crate::testkit::*;

const NEW_T: u16 = 3;
const NEW_N: u16 = 4;

fn new_operators(net: &Net, n: usize) -> Vec<Operator> {
    (0..n)
        .map(|i| Operator {
            identity: net.new_ops[i].public(),
            address: format!("127.0.0.1:{}", 8000 + i),
            region: "local".into(),
        })
        .collect()
}

fn change(net: &Net) -> Action {
    Action::ChangeKeyring {
        keyring_id: "ring".into(),
        threshold: NEW_T,
        operators: new_operators(net, usize::from(NEW_N)),
    }
}

/// The new committee's public shares of the test key.
fn new_shares() -> Vec<String> {
    public_shares_of(&ecdsa_secret(), NEW_T, NEW_N, 200)
}

fn reshare_done(session: Hash32) -> Action {
    Action::ReshareDone {
        session,
        public_shares: new_shares(),
    }
}

/// A 2-of-3 keyring with one active key and a ready presign session, and a running change to
/// 3-of-4 new operators.
fn changing() -> (Net, Hash32, Hash32, Hash32) {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let p = net.presign(key, &[0, 1], 0x51);
    net.ready(p, &[0, 1]);
    let a = change(&net);
    let c = net.ok(Who::Owner, a);
    (net, key, p, c)
}

fn start(net: &mut Net, c: Hash32, key: Hash32, dealers: &[u16]) -> Hash32 {
    net.ok(
        Who::Ledger,
        Action::StartReshare {
            change: c,
            key,
            dealers: dealers.to_vec(),
        },
    )
}

#[test]
fn a_change_reshares_every_key_and_switches_at_once() {
    let (mut net, key, p, c) = changing();
    let old_ring = net.state.keyring("ring").cloned();
    assert_eq!(
        net.state.running_change("ring").map(|c| c.id),
        Some(c),
        "the change runs"
    );
    assert!(net.state.is_operator(&net.new_ops[0].public()));
    assert!(!net.state.is_operator(&net.new_ops[5].public()));
    let s = start(&mut net, c, key, &[0, 2]);
    assert_eq!(
        net.state.reshare_session(&s).map(|r| r.dealers.clone()),
        Some(vec![0, 2])
    );
    for i in 0..usize::from(NEW_N) - 1 {
        net.ok(Who::New(i), reshare_done(s));
        assert_eq!(net.state.keyring("ring").cloned(), old_ring, "not yet");
    }
    net.ok(Who::New(3), reshare_done(s));
    let ch = net.state.keyring_change(&c).unwrap();
    assert!(matches!(ch.status, ChangeStatus::Done { .. }));
    assert_eq!(ch.keys[&key].done, Some(s));
    let ring = net.state.keyring("ring").unwrap();
    assert_eq!(ring.threshold, NEW_T);
    assert_eq!(ring.operators, new_operators(&net, 4));
    let rec = net.state.key(&key).unwrap();
    assert_eq!(rec.generation, Some(s));
    assert_eq!(rec.public_shares, new_shares());
    // The old committee's presignature is void.
    assert!(net.state.presign(&p).is_some_and(|p| p.aborted.is_some()));
    assert!(net.state.running_change("ring").is_none());
    // The new committee presigns now; old indices beyond the new n do not.
    net.ok(
        Who::Ledger,
        Action::StartPresign {
            key,
            session: Hash32([0x61; 32]),
            signers: vec![0, 1, 3],
        },
    );
    assert!(!net.state.is_operator(&net.ops[0].public()));
}

#[test]
fn a_keyring_without_keys_switches_at_once() {
    let mut net = Net::new(3, 2);
    let a = change(&net);
    let c = net.ok(Who::Owner, a);
    assert!(matches!(
        net.state.keyring_change(&c).map(|c| &c.status),
        Some(ChangeStatus::Done { .. })
    ));
    assert_eq!(net.state.keyring("ring").map(|r| r.threshold), Some(NEW_T));
}

#[test]
fn change_keyring_rules() {
    let mut net = Net::with_regions(3, 2, &["a", "b"]);
    let _key = net.active_key();
    let good = new_operators(&net, 4);
    let ch = |threshold: u16, operators: Vec<Operator>| Action::ChangeKeyring {
        keyring_id: "ring".into(),
        threshold,
        operators,
    };
    let e = net.rejected(Who::Outsider, ch(3, good.clone()));
    assert!(matches!(e, Rejection::NotOwner { .. }), "{e}");
    let e = net.rejected(
        Who::Owner,
        Action::ChangeKeyring {
            keyring_id: "nope".into(),
            threshold: 3,
            operators: good.clone(),
        },
    );
    assert!(matches!(e, Rejection::UnknownKeyring(_)), "{e}");
    let e = net.rejected(Who::Owner, ch(1, Vec::new()));
    assert!(
        matches!(
            e,
            Rejection::Malformed {
                field: "operators",
                ..
            }
        ),
        "{e}"
    );
    let mut dup = good.clone();
    dup[1].identity = dup[0].identity;
    let e = net.rejected(Who::Owner, ch(2, dup));
    assert!(e.to_string().contains("appears twice"), "{e}");
    let mut no_addr = good.clone();
    no_addr[2].address.clear();
    let e = net.rejected(Who::Owner, ch(2, no_addr));
    assert!(e.to_string().contains("address"), "{e}");
    let mut no_region = good.clone();
    no_region[2].region.clear();
    let e = net.rejected(Who::Owner, ch(2, no_region));
    assert!(e.to_string().contains("region"), "{e}");
    let e = net.rejected(Who::Owner, ch(5, good.clone()));
    assert!(matches!(e, Rejection::BadThreshold { .. }), "{e}");
    let e = net.rejected(Who::Owner, ch(0, good.clone()));
    assert!(matches!(e, Rejection::BadThreshold { .. }), "{e}");
    // The keyring needs two regions; the new operators are all "local".
    net.ok(
        Who::Ledger,
        Action::SetSignerRegions {
            keyring_id: "ring".into(),
            min_regions: 2,
        },
    );
    let e = net.rejected(Who::Owner, ch(3, good.clone()));
    assert!(e.to_string().contains("distinct regions"), "{e}");
    let mut spread = good.clone();
    spread[0].region = "b".into();
    let c = net.ok(Who::Owner, ch(3, spread.clone()));
    // Only one change at a time.
    let e = net.rejected(Who::Owner, ch(3, spread));
    assert_eq!(
        e,
        Rejection::KeyringChanging {
            keyring: "ring".into(),
            change: c,
            action: "ChangeKeyring"
        }
    );
}

#[test]
fn change_keyring_waits_for_key_generation() {
    let mut net = Net::new(3, 2);
    let key = net.request_key("ecdsa-secp256k1");
    let a = change(&net);
    let e = net.rejected(Who::Owner, a.clone());
    assert!(e.to_string().contains(&key.to_string()), "{e}");
    net.ok(Who::Ledger, Action::StartKeygen { request: key });
    let e = net.rejected(Who::Owner, a.clone());
    assert!(e.to_string().contains("generating"), "{e}");
    for i in 0..3 {
        let kg = net.key_generated(key);
        net.ok(Who::Op(i), kg);
    }
    net.ok(Who::Owner, a);
}

#[test]
fn change_keyring_refuses_schnorr_keys() {
    let mut net = Net::new(3, 2);
    let key = net.generating_key_of("eddsa-ed25519");
    for i in 0..3 {
        net.ok(
            Who::Op(i),
            Action::KeyGenerated {
                request: key,
                public_key: "58".to_string() + &"66".repeat(31),
                chain_code: Hash32::ZERO,
                public_shares: Vec::new(),
            },
        );
    }
    let a = change(&net);
    let e = net.rejected(Who::Owner, a);
    assert!(matches!(e, Rejection::UnsupportedKeyType(_)), "{e}");
    assert!(e.to_string().contains("eddsa-ed25519"), "{e}");
    assert!(e.to_string().contains(&key.to_string()), "{e}");
}

#[test]
fn sessions_of_a_changing_keyring_are_refused_but_requests_wait() {
    let (mut net, key, p, c) = changing();
    let changing =
        |e: Rejection| matches!(e, Rejection::KeyringChanging { change, .. } if change == c);
    let e = net.rejected(
        Who::Ledger,
        Action::StartPresign {
            key,
            session: Hash32([0x71; 32]),
            signers: vec![0, 1],
        },
    );
    assert!(changing(e));
    let req = net.request_signature(key, Hash32([0x42; 32]), None);
    let e = net.rejected(
        Who::Ledger,
        Action::StartSign {
            request: req,
            presign: p,
        },
    );
    assert!(changing(e));
    let k2 = net.request_key("ecdsa-secp256k1");
    let e = net.rejected(Who::Ledger, Action::StartKeygen { request: k2 });
    assert!(changing(e));
    // After a failed change, sessions run again, with the old committee.
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: c,
            reason: "operator 9 never came".into(),
        },
    );
    net.ok(Who::Ledger, Action::StartKeygen { request: k2 });
}

#[test]
fn start_reshare_rules() {
    let (mut net, key, _p, c) = changing();
    let sr = |dealers: Vec<u16>| Action::StartReshare {
        change: c,
        key,
        dealers,
    };
    let e = net.rejected(Who::Owner, sr(vec![0, 1]));
    assert!(matches!(e, Rejection::NotLedger { .. }), "{e}");
    for bad in [vec![0], vec![0, 1, 2], vec![1, 0], vec![1, 1], vec![0, 3]] {
        let e = net.rejected(Who::Ledger, sr(bad.clone()));
        assert!(
            matches!(
                e,
                Rejection::Malformed {
                    field: "dealers",
                    ..
                }
            ),
            "{bad:?}: {e}"
        );
    }
    let e = net.rejected(
        Who::Ledger,
        Action::StartReshare {
            change: c,
            key: Hash32([0xee; 32]),
            dealers: vec![0, 1],
        },
    );
    assert!(
        matches!(e, Rejection::Malformed { field: "key", .. }),
        "{e}"
    );
    let e = net.rejected(
        Who::Ledger,
        Action::StartReshare {
            change: Hash32([0xee; 32]),
            key,
            dealers: vec![0, 1],
        },
    );
    assert!(matches!(e, Rejection::UnknownRequest(_)), "{e}");
    let s = start(&mut net, c, key, &[0, 1]);
    let e = net.rejected(Who::Ledger, sr(vec![1, 2]));
    assert!(e.to_string().contains(&s.to_string()), "{e}");
}

#[test]
fn start_reshare_waits_for_running_sessions() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let p = net.presign(key, &[0, 1], 0x51);
    let a = change(&net);
    let c = net.ok(Who::Owner, a);
    let sr = Action::StartReshare {
        change: c,
        key,
        dealers: vec![0, 1],
    };
    let e = net.rejected(Who::Ledger, sr.clone());
    assert!(e.to_string().contains("presign session"), "{e}");
    net.ready(p, &[0, 1]);
    net.ok(Who::Ledger, sr);
}

#[test]
fn reshare_done_rules() {
    let (mut net, key, _p, c) = changing();
    let s = start(&mut net, c, key, &[0, 1]);
    let e = net.rejected(Who::Op(2), reshare_done(s));
    assert!(matches!(e, Rejection::NotNewOperator { .. }), "{e}");
    let mut short = new_shares();
    short.pop();
    let e = net.rejected(
        Who::New(0),
        Action::ReshareDone {
            session: s,
            public_shares: short,
        },
    );
    assert!(e.to_string().contains("need 4 points"), "{e}");
    let mut bad = new_shares();
    bad[3] = "05".repeat(33);
    let e = net.rejected(
        Who::New(0),
        Action::ReshareDone {
            session: s,
            public_shares: bad,
        },
    );
    assert!(e.to_string().contains("not a point"), "{e}");
    // Shares of another key do not interpolate to this one.
    let other = k256::ecdsa::SigningKey::from_bytes(&[8u8; 32].into()).unwrap();
    let e = net.rejected(
        Who::New(0),
        Action::ReshareDone {
            session: s,
            public_shares: public_shares_of(&other, NEW_T, NEW_N, 200),
        },
    );
    assert!(e.to_string().contains("interpolate"), "{e}");
    net.ok(Who::New(0), reshare_done(s));
    let e = net.rejected(Who::New(0), reshare_done(s));
    assert!(matches!(e, Rejection::Duplicate { .. }), "{e}");
    // Another valid sharing of the same key, but not the one already posted.
    let e = net.rejected(
        Who::New(1),
        Action::ReshareDone {
            session: s,
            public_shares: public_shares_of(&ecdsa_secret(), NEW_T, NEW_N, 300),
        },
    );
    assert!(e.to_string().contains("different public shares"), "{e}");
    // After an abort the session's results are void.
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: s,
            reason: "timed out".into(),
        },
    );
    let e = net.rejected(Who::New(1), reshare_done(s));
    assert!(e.to_string().contains("finished or aborted"), "{e}");
    let e = net.rejected(
        Who::Ledger,
        Action::AbortSession {
            session: s,
            reason: "again".into(),
        },
    );
    assert!(matches!(e, Rejection::WrongState { .. }), "{e}");
    let s2 = start(&mut net, c, key, &[1, 2]);
    assert_eq!(
        net.state.keyring_change(&c).map(|c| c.keys[&key].attempts),
        Some(2)
    );
    for i in 0..4 {
        net.ok(Who::New(i), reshare_done(s2));
    }
    let e = net.rejected(Who::New(0), reshare_done(s2));
    assert!(matches!(e, Rejection::WrongState { .. }), "{e}");
}

#[test]
fn a_failed_change_leaves_everything_as_it_was() {
    let (mut net, key, _p, c) = changing();
    let ring = net.state.keyring("ring").cloned();
    let rec = net.state.key(&key).cloned();
    let s = start(&mut net, c, key, &[0, 1]);
    net.ok(Who::New(0), reshare_done(s));
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: c,
            reason: "gave up".into(),
        },
    );
    assert_eq!(
        net.state.keyring_change(&c).map(|c| c.status.clone()),
        Some(ChangeStatus::Failed {
            reason: "gave up".into()
        })
    );
    assert_eq!(net.state.keyring("ring").cloned(), ring);
    assert_eq!(net.state.key(&key).cloned(), rec);
    let e = net.rejected(Who::New(1), reshare_done(s));
    assert!(matches!(e, Rejection::WrongState { .. }), "{e}");
    assert!(!net.state.is_operator(&net.new_ops[0].public()));
}

#[test]
fn blamed_dealers_are_excluded_from_the_next_session() {
    let (mut net, key, _p, c) = changing();
    let s = start(&mut net, c, key, &[0, 1]);
    let fail = |blamed: Vec<u16>| Action::SessionFailed {
        session: s,
        blamed,
        check: "R1.2".into(),
    };
    let e = net.rejected(Who::New(0), fail(vec![2]));
    assert!(
        matches!(
            e,
            Rejection::Malformed {
                field: "blamed",
                ..
            }
        ),
        "{e}"
    );
    let e = net.rejected(Who::Outsider, fail(vec![1]));
    assert!(matches!(e, Rejection::NotOperator { .. }), "{e}");
    // Members: dealers 0 and 1, and the four new operators: blame by half of the other five
    // (three) excludes.
    net.ok(Who::Op(0), fail(vec![1]));
    net.ok(Who::New(0), fail(vec![1]));
    let e = net.rejected(Who::New(0), fail(vec![1]));
    assert!(matches!(e, Rejection::Duplicate { .. }), "{e}");
    assert!(net.state.keyring_change(&c).unwrap().keys[&key]
        .excluded
        .is_empty());
    net.ok(Who::New(1), fail(vec![1]));
    assert_eq!(
        net.state.keyring_change(&c).unwrap().keys[&key].excluded,
        BTreeSet::from([1])
    );
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: s,
            reason: "blame".into(),
        },
    );
    let e = net.rejected(
        Who::Ledger,
        Action::StartReshare {
            change: c,
            key,
            dealers: vec![1, 2],
        },
    );
    assert!(e.to_string().contains("blamed"), "{e}");
    start(&mut net, c, key, &[0, 2]);
    // Reshare blame does not exclude anyone from the key's presign sessions.
    assert!(net.state.excluded_operators(&key).is_empty());
}

#[test]
fn concerned_operators_of_a_reshare_are_dealers_and_new_committee() {
    let (mut net, key, _p, c) = changing();
    let s = start(&mut net, c, key, &[0, 2]);
    let who = net.state.concerned_operators(&Action::ReshareDone {
        session: s,
        public_shares: Vec::new(),
    });
    let mut expected: BTreeSet<_> = net.new_ops[..4].iter().map(|i| i.public()).collect();
    expected.insert(net.ops[0].public());
    expected.insert(net.ops[2].public());
    assert_eq!(who, expected);
}

#[test]
fn key_generated_carries_the_public_shares() {
    let mut net = Net::new(3, 2);
    let key = net.generating_key();
    let kg = |shares: Vec<String>| Action::KeyGenerated {
        request: key,
        public_key: compressed_hex(&ecdsa_secret()),
        chain_code: Hash32([9; 32]),
        public_shares: shares,
    };
    let good = public_shares_of(&ecdsa_secret(), 2, 3, 100);
    let e = net.rejected(Who::Op(0), kg(good[..2].to_vec()));
    assert!(e.to_string().contains("need 3 points"), "{e}");
    let mut bad = good.clone();
    bad[0] = "zz".into();
    let e = net.rejected(Who::Op(0), kg(bad));
    assert!(
        matches!(
            e,
            Rejection::Malformed {
                field: "public_shares",
                ..
            }
        ),
        "{e}"
    );
    net.ok(Who::Op(0), kg(good.clone()));
    // Another operator saw other shares: the key fails.
    net.ok(Who::Op(1), kg(public_shares_of(&ecdsa_secret(), 2, 3, 500)));
    assert!(matches!(
        net.state.key(&key).map(|k| &k.status),
        Some(KeyStatus::Failed { .. })
    ));
    let key = net.active_key();
    assert_eq!(
        net.state.key(&key).map(|k| k.public_shares.clone()),
        Some(good)
    );
}

#[test]
fn a_schnorr_key_generated_carries_no_public_shares() {
    let mut net = Net::new(3, 2);
    let key = net.generating_key_of("eddsa-ed25519");
    let e = net.rejected(
        Who::Op(0),
        Action::KeyGenerated {
            request: key,
            public_key: "58".to_string() + &"66".repeat(31),
            chain_code: Hash32::ZERO,
            public_shares: public_shares_of(&ecdsa_secret(), 2, 3, 100),
        },
    );
    assert!(e.to_string().contains("must be empty"), "{e}");
}
