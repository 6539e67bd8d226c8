//! One test per rejection, plus the happy paths they guard.

use k256::ecdsa::SigningKey;

use super::*;
use crate::command::{
    Command, Entry, Hash32, HexBytes, Operator, SignedCommand, KEY_TYPE_EDDSA_ED25519,
    KEY_TYPE_SCHNORR_BIP340,
};
use crate::testkit::*;

#[test]
fn full_flow_key_presign_sign() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let pk = compressed_hex(&ecdsa_secret());
    assert_eq!(
        net.state.key(&key).map(|k| k.status.clone()),
        Some(KeyStatus::Active {
            public_key: pk,
            chain_code: Hash32([9; 32])
        })
    );
    let p = net.presign(key, &[0, 2], 0x51);
    net.ready(p, &[0, 2]);
    assert!(net.state.presign(&p).is_some_and(|s| s.is_available()));
    let digest = Hash32([0x42; 32]);
    let req = net.request_signature(key, digest, None);
    net.ok(
        Who::Ledger,
        Action::StartSign {
            request: req,
            presign: p,
        },
    );
    let sig = sign(&ecdsa_secret(), &digest);
    net.ok(Who::Op(0), done(req, sig));
    assert!(matches!(
        net.state.signature_request(&req).map(|r| &r.status),
        Some(SignatureStatus::Signing { .. })
    ));
    net.ok(Who::Op(2), done(req, sig));
    assert_eq!(
        net.state.signature_request(&req).map(|r| r.status.clone()),
        Some(SignatureStatus::Done {
            r: sig.0,
            s: sig.1,
            recovery_id: sig.2,
            signers: vec![0, 2],
        })
    );
    assert_eq!(net.state.head_seq(), Some(net.state.next_seq() - 1));
}

#[test]
fn tweaked_signature_is_checked_under_the_child_key() {
    let mut net = Net::new(2, 2);
    let tweak = Hash32([3; 32]);
    let digest = Hash32([0x42; 32]);
    let (_, req) = net.signing(digest, Some(tweak));
    // A signature under the untweaked key is refused.
    let untweaked = sign(&ecdsa_secret(), &digest);
    assert!(matches!(
        net.rejected(Who::Op(0), done(req, untweaked)),
        Rejection::InvalidSignature(_)
    ));
    let t: Option<Scalar> = Scalar::from_repr(FieldBytes::from(tweak.0)).into();
    let child = *ecdsa_secret().as_nonzero_scalar().as_ref() + t.unwrap_or(Scalar::ZERO);
    let child = SigningKey::from_bytes(&child.to_bytes()).unwrap();
    let sig = sign(&child, &digest);
    net.ok(Who::Op(0), done(req, sig));
    net.ok(Who::Op(1), done(req, sig));
    assert!(matches!(
        net.state.signature_request(&req).map(|r| &r.status),
        Some(SignatureStatus::Done { .. })
    ));
}

#[test]
fn forged_signature_is_rejected() {
    let mut net = Net::new(2, 2);
    let mut sc = net.command(
        Who::Owner,
        Action::RequestKey {
            keyring_id: "ring".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
    );
    sc.signature.0[0] ^= 1;
    assert!(matches!(
        net.submit(sc.clone()),
        Err(Rejection::BadSignature(_))
    ));
    // A valid signature by someone else, claimed for the owner.
    let mut stolen = sc.clone();
    stolen.signature = SignedCommand::sign(&net.outsider, sc.command.clone()).signature;
    assert!(matches!(
        net.submit(stolen),
        Err(Rejection::BadSignature(_))
    ));
    assert_eq!(
        Rejection::BadSignature(net.owner.public()).kind(),
        RejectionKind::Unauthorized
    );
}

#[test]
fn broken_hash_link_is_rejected() {
    let mut net = Net::new(2, 2);
    let sc = net.command(
        Who::Owner,
        Action::RequestKey {
            keyring_id: "ring".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
    );
    let good = net.state.next_entry(sc.clone());
    let before = net.state.clone();
    let wrong_prev = Entry::new(good.seq, Hash32([1; 32]), sc.clone());
    assert!(matches!(
        net.state.apply(&wrong_prev),
        Err(Rejection::Link(LinkError::Prev { .. }))
    ));
    let wrong_seq = Entry::new(good.seq + 1, good.prev, sc.clone());
    assert!(matches!(
        net.state.apply(&wrong_seq),
        Err(Rejection::Link(LinkError::Seq { .. }))
    ));
    let mut wrong_hash = good.clone();
    wrong_hash.hash.0[0] ^= 1;
    assert!(matches!(
        net.state.apply(&wrong_hash),
        Err(Rejection::Link(LinkError::Hash { .. }))
    ));
    assert_eq!(net.state, before);
    assert!(net.state.apply(&good).is_ok());
}

#[test]
fn skip_steps_over_a_forged_entry_but_not_over_a_broken_link() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let digest = Hash32([0x42; 32]);
    let request = Action::RequestSignature {
        key,
        digest,
        tweak: None,
        note: None,
        deadline_ms: None,
    };
    // The owner's command, signed by someone else and claimed for the owner.
    let honest = net.command(Who::Owner, request);
    let mut forged = honest.clone();
    forged.signature = SignedCommand::sign(&net.outsider, honest.command.clone()).signature;
    let entry = net.state.next_entry(forged.clone());
    let before = net.state.clone();
    assert_eq!(
        net.state.apply(&entry),
        Err(Rejection::BadSignature(net.owner.public()))
    );
    assert_eq!(net.state, before);

    // A broken link is refused by `skip` as by `apply`, and changes nothing.
    let wrong_prev = Entry::new(entry.seq, Hash32([1; 32]), forged.clone());
    let wrong_seq = Entry::new(entry.seq + 1, entry.prev, forged.clone());
    let mut wrong_hash = entry.clone();
    wrong_hash.hash.0[0] ^= 1;
    for bad in [&wrong_prev, &wrong_seq, &wrong_hash] {
        assert!(matches!(
            net.state.skip(bad),
            Err(Rejection::Link(LinkError::Prev { .. }))
                | Err(Rejection::Link(LinkError::Seq { .. }))
                | Err(Rejection::Link(LinkError::Hash { .. }))
        ));
        assert_eq!(net.state, before);
    }

    // The well-linked forged entry is skipped: only the head moves.
    assert_eq!(net.state.skip(&entry), Ok(()));
    assert_eq!(net.state.next_seq(), entry.seq + 1);
    assert_eq!(net.state.head_seq(), Some(entry.seq));
    assert_eq!(net.state.head_hash(), entry.hash);
    let mut expected = before.clone();
    expected.head = entry.hash;
    expected.next_seq = entry.seq + 1;
    assert_eq!(net.state, expected, "skip changed more than the head");
    assert!(!net.state.contains_command(&forged.id()));
    assert!(net.state.signature_request(&forged.id()).is_none());
    // Skipping it again (a replayed link) is refused.
    assert!(matches!(
        net.state.skip(&entry),
        Err(Rejection::Link(LinkError::Seq { .. }))
    ));

    // The next honest entry chains onto the skipped one and applies — even with the nonce
    // the forgery carried, which `skip` did not record as seen.
    let next = net.state.next_entry(honest.clone());
    assert_eq!(next.prev, entry.hash);
    assert_eq!(net.state.apply(&next), Ok(()));
    assert_eq!(
        net.state.signature_request(&honest.id()).map(|r| r.digest),
        Some(digest)
    );
}

#[test]
fn replayed_command_is_rejected() {
    let mut net = Net::new(2, 2);
    let sc = net.command(
        Who::Owner,
        Action::RequestKey {
            keyring_id: "ring".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
    );
    let id = net.submit(sc.clone()).ok();
    assert_eq!(net.submit(sc.clone()), Err(Rejection::Replay(sc.id())));
    assert_eq!(id, Some(sc.id()));
    // Same nonce, different content: still a replay of the nonce.
    let mut again = sc.command.clone();
    again.issued_at_ms += 1;
    let resigned = SignedCommand::sign(&net.owner, again);
    assert!(matches!(
        net.submit(resigned),
        Err(Rejection::NonceReused { .. })
    ));
    assert_eq!(Rejection::Replay(sc.id()).kind(), RejectionKind::Conflict);
}

#[test]
fn wrong_network_is_rejected() {
    let mut net = Net::new(2, 2);
    let mut sc = net.command(
        Who::Owner,
        Action::RequestKey {
            keyring_id: "ring".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
    );
    sc.command.network = "mainnet".into();
    let sc = SignedCommand::sign(&net.owner, sc.command);
    assert!(matches!(
        net.submit(sc),
        Err(Rejection::WrongNetwork { .. })
    ));
}

#[test]
fn genesis_comes_first_and_once() {
    let mut state = State::new(NET.into(), id(1).public());
    let sc = SignedCommand::sign(
        &id(1),
        Command {
            network: NET.into(),
            nonce: [1; 16],
            issued_at_ms: 0,
            action: Action::SetAllowlist { allowlist: vec![] },
        },
    );
    assert_eq!(
        state.apply(&state.next_entry(sc)),
        Err(Rejection::GenesisMissing)
    );
    let mut net = Net::new(2, 2);
    let e = net.rejected(
        Who::Ledger,
        Action::Genesis {
            allowlist: vec![],
            platform_keys: vec![],
        },
    );
    assert_eq!(e, Rejection::GenesisRepeated);
}

#[test]
fn ledger_actions_by_anyone_else_are_unauthorized() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let actions = vec![
        Action::SetAllowlist { allowlist: vec![] },
        Action::RegisterKeyring {
            keyring_id: "other".into(),
            threshold: 1,
            operators: vec![],
            owners: vec![],
        },
        Action::StartKeygen { request: key },
        Action::StartPresign {
            key,
            session: Hash32([1; 32]),
            signers: vec![0, 1],
        },
        Action::StartSign {
            request: key,
            presign: key,
        },
        Action::AbortSession {
            session: key,
            reason: "x".into(),
        },
    ];
    for a in actions {
        for who in [Who::Owner, Who::Op(0), Who::Outsider] {
            let e = net.rejected(who, a.clone());
            assert!(matches!(e, Rejection::NotLedger { .. }), "{e}");
            assert_eq!(e.kind(), RejectionKind::Unauthorized);
        }
    }
}

#[test]
fn owner_actions_by_non_owners_are_unauthorized() {
    let mut net = Net::new(2, 2);
    let key = net.active_key();
    for who in [Who::Op(0), Who::Outsider, Who::Ledger] {
        let e = net.rejected(
            who,
            Action::RequestKey {
                keyring_id: "ring".into(),
                key_type: "ecdsa-secp256k1".into(),
            },
        );
        assert!(matches!(e, Rejection::NotOwner { .. }), "{e}");
        let e = net.rejected(
            who,
            Action::RequestSignature {
                key,
                digest: Hash32([1; 32]),
                tweak: None,
                note: None,
                deadline_ms: None,
            },
        );
        assert!(matches!(e, Rejection::NotOwner { .. }), "{e}");
    }
}

#[test]
fn operator_actions_by_non_operators_are_unauthorized() {
    let mut net = Net::new(3, 2);
    let key = net.generating_key();
    let kg = net.key_generated(key);
    for who in [Who::Owner, Who::Outsider, Who::Ledger] {
        let e = net.rejected(who, kg.clone());
        assert!(matches!(e, Rejection::NotOperator { .. }), "{e}");
    }
    for i in 0..3 {
        net.ok(Who::Op(i), kg.clone());
    }
    let p = net.presign(key, &[0, 1], 0x51);
    let e = net.rejected(Who::Outsider, Action::PresignReady { session: p });
    assert!(matches!(e, Rejection::NotOperator { .. }), "{e}");
    let e = net.rejected(
        Who::Owner,
        Action::SessionFailed {
            session: p,
            blamed: vec![],
            check: "x".into(),
        },
    );
    assert!(matches!(e, Rejection::NotOperator { .. }), "{e}");
}

#[test]
fn session_actions_by_non_members_are_unauthorized() {
    let mut net = Net::new(3, 2);
    let digest = Hash32([5; 32]);
    let (_, req) = net.signing(digest, None);
    // Operator 2 is in the keyring but not in the signer set {0, 1}.
    let sig = sign(&ecdsa_secret(), &digest);
    let e = net.rejected(Who::Op(2), done(req, sig));
    assert!(
        matches!(e, Rejection::NotSessionMember { index: 2, .. }),
        "{e}"
    );
    let e = net.rejected(
        Who::Op(2),
        Action::PresignReady {
            session: Hash32([0x51; 32]),
        },
    );
    assert!(
        matches!(e, Rejection::NotSessionMember { index: 2, .. }),
        "{e}"
    );
    let e = net.rejected(Who::Outsider, done(req, sig));
    assert!(matches!(e, Rejection::NotOperator { .. }), "{e}");
}

#[test]
fn keyring_rules() {
    let mut net = Net::new(2, 2);
    let op = |b: u8| Operator {
        identity: id(b).public(),
        address: "a".into(),
        region: "r".into(),
    };
    let ring = |id: &str, t: u16, ops: Vec<Operator>| Action::RegisterKeyring {
        keyring_id: id.into(),
        threshold: t,
        operators: ops,
        owners: vec![id_owner()],
    };
    fn id_owner() -> IdentityKey {
        id(2).public()
    }
    let e = net.rejected(Who::Ledger, ring("ring", 1, vec![op(20)]));
    assert_eq!(e, Rejection::DuplicateKeyring("ring".into()));
    let e = net.rejected(Who::Ledger, ring("r2", 0, vec![op(20)]));
    assert!(matches!(e, Rejection::BadThreshold { .. }));
    let e = net.rejected(Who::Ledger, ring("r2", 3, vec![op(20), op(21)]));
    assert!(matches!(e, Rejection::BadThreshold { .. }));
    let e = net.rejected(Who::Ledger, ring("r2", 1, vec![op(20), op(20)]));
    assert!(matches!(
        e,
        Rejection::Malformed {
            field: "operators",
            ..
        }
    ));
    let e = net.rejected(Who::Ledger, ring("bad id!", 1, vec![op(20)]));
    assert!(matches!(
        e,
        Rejection::Malformed {
            field: "keyring_id",
            ..
        }
    ));
    // t = 1 is allowed.
    net.ok(Who::Ledger, ring("solo", 1, vec![op(20)]));
    let e = net.rejected(
        Who::Owner,
        Action::RequestKey {
            keyring_id: "nope".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
    );
    assert_eq!(e.kind(), RejectionKind::Unknown);
    let e = net.rejected(
        Who::Owner,
        Action::RequestKey {
            keyring_id: "ring".into(),
            key_type: "ed25519".into(),
        },
    );
    assert!(matches!(e, Rejection::UnsupportedKeyType(_)));
    let e = net.rejected(
        Who::Ledger,
        Action::SetAllowlist {
            allowlist: vec!["AB".repeat(32)],
        },
    );
    assert!(matches!(
        e,
        Rejection::Malformed {
            field: "allowlist",
            ..
        }
    ));
}

#[test]
fn key_generated_conflict_marks_the_key_failed() {
    let mut net = Net::new(3, 2);
    let key = net.generating_key();
    let kg = net.key_generated(key);
    net.ok(Who::Op(0), kg.clone());
    assert_eq!(
        net.rejected(Who::Op(0), kg.clone()),
        Rejection::Duplicate {
            index: 0,
            action: "KeyGenerated",
            target: key
        }
    );
    let other = SigningKey::from_bytes(&[8u8; 32].into()).unwrap();
    net.ok(
        Who::Op(1),
        Action::KeyGenerated {
            request: key,
            public_key: compressed_hex(&other),
            chain_code: Hash32([9; 32]),
            public_shares: public_shares_of(&other, 2, 3, 100),
        },
    );
    assert!(matches!(
        net.state.key(&key).map(|k| &k.status),
        Some(KeyStatus::Failed { .. })
    ));
    // Nothing more is accepted for it.
    let e = net.rejected(Who::Op(2), kg);
    assert!(matches!(e, Rejection::WrongState { .. }), "{e}");
    let e = net.rejected(
        Who::Op(2),
        Action::KeyGenerated {
            request: key,
            public_key: "02".repeat(33),
            chain_code: Hash32::ZERO,
            public_shares: Vec::new(),
        },
    );
    assert!(matches!(e, Rejection::WrongState { .. }), "{e}");
}

#[test]
fn key_generated_needs_a_valid_point_and_a_running_keygen() {
    let mut net = Net::new(2, 2);
    let key = net.request_key("ecdsa-secp256k1");
    let kg = net.key_generated(key);
    let e = net.rejected(Who::Op(0), kg);
    assert!(matches!(e, Rejection::WrongState { .. }), "{e}");
    net.ok(Who::Ledger, Action::StartKeygen { request: key });
    let e = net.rejected(
        Who::Op(0),
        Action::KeyGenerated {
            request: key,
            public_key: "05".repeat(33),
            chain_code: Hash32::ZERO,
            public_shares: public_shares_of(&ecdsa_secret(), 2, 2, 100),
        },
    );
    assert!(
        matches!(
            e,
            Rejection::Malformed {
                field: "public_key",
                ..
            }
        ),
        "{e}"
    );
    let e = net.rejected(
        Who::Owner,
        Action::RequestSignature {
            key,
            digest: Hash32::ZERO,
            tweak: None,
            note: None,
            deadline_ms: None,
        },
    );
    assert!(matches!(e, Rejection::WrongState { .. }), "{e}");
}

#[test]
fn start_sign_needs_a_ready_unused_presign_of_the_same_key() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let p = net.presign(key, &[0, 1], 0x51);
    let req = net.request_signature(key, Hash32([1; 32]), None);
    let start = |presign| Action::StartSign {
        request: req,
        presign,
    };
    assert_eq!(
        net.rejected(Who::Ledger, start(p)),
        Rejection::PresignNotReady(p)
    );
    net.ok(Who::Op(0), Action::PresignReady { session: p });
    assert_eq!(
        net.rejected(Who::Ledger, start(p)),
        Rejection::PresignNotReady(p)
    );
    net.ok(Who::Op(1), Action::PresignReady { session: p });
    net.ok(Who::Ledger, start(p));
    // A second request cannot use the same session.
    let req2 = net.request_signature(key, Hash32([2; 32]), None);
    assert_eq!(
        net.rejected(
            Who::Ledger,
            Action::StartSign {
                request: req2,
                presign: p
            }
        ),
        Rejection::PresignUsed {
            session: p,
            request: req
        }
    );
    // An aborted session cannot be used.
    let q = net.presign(key, &[1, 2], 0x52);
    net.ready(q, &[1, 2]);
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: q,
            reason: "test".into(),
        },
    );
    assert_eq!(
        net.rejected(
            Who::Ledger,
            Action::StartSign {
                request: req2,
                presign: q
            }
        ),
        Rejection::PresignAborted(q)
    );
    // A session of another key cannot be used.
    let key2 = net.active_key();
    let other = net.presign(key2, &[0, 1], 0x53);
    net.ready(other, &[0, 1]);
    assert!(matches!(
        net.rejected(
            Who::Ledger,
            Action::StartSign {
                request: req2,
                presign: other
            }
        ),
        Rejection::PresignWrongKey { .. }
    ));
    // Session ids are unique.
    assert_eq!(
        net.rejected(
            Who::Ledger,
            Action::StartPresign {
                key,
                session: p,
                signers: vec![0, 1]
            }
        ),
        Rejection::DuplicateId(p)
    );
    for bad in [vec![1, 0], vec![0], vec![0, 3], vec![1, 1]] {
        let e = net.rejected(
            Who::Ledger,
            Action::StartPresign {
                key,
                session: Hash32([0x60; 32]),
                signers: bad,
            },
        );
        assert!(
            matches!(
                e,
                Rejection::Malformed {
                    field: "signers",
                    ..
                }
            ),
            "{e}"
        );
    }
}

#[test]
fn signature_done_with_an_invalid_signature_is_rejected() {
    let mut net = Net::new(2, 2);
    let digest = Hash32([0x42; 32]);
    let (_, req) = net.signing(digest, None);
    let good = sign(&ecdsa_secret(), &digest);
    // Valid signature, other digest.
    let wrong = sign(&ecdsa_secret(), &Hash32([0x43; 32]));
    assert!(matches!(
        net.rejected(Who::Op(0), done(req, wrong)),
        Rejection::InvalidSignature(_)
    ));
    // Zero r.
    assert!(matches!(
        net.rejected(Who::Op(0), done(req, (Hash32::ZERO, good.1, good.2))),
        Rejection::InvalidSignature(_)
    ));
    // Same signature with s negated: valid ECDSA but high s.
    let s: Option<Scalar> = Scalar::from_repr(FieldBytes::from(good.1 .0)).into();
    let high = Hash32((-s.unwrap_or(Scalar::ONE)).to_bytes().into());
    assert_eq!(
        net.rejected(Who::Op(0), done(req, (good.0, high, good.2 ^ 1))),
        Rejection::HighS
    );
    // Wrong recovery id.
    assert_eq!(
        net.rejected(Who::Op(0), done(req, (good.0, good.1, good.2 ^ 1))),
        Rejection::WrongRecoveryId(good.2 ^ 1)
    );
    assert_eq!(
        net.rejected(Who::Op(0), done(req, (good.0, good.1, 9))),
        Rejection::WrongRecoveryId(9)
    );
    net.ok(Who::Op(0), done(req, good));
    assert!(matches!(
        net.rejected(Who::Op(0), done(req, good)),
        Rejection::Duplicate { index: 0, .. }
    ));
    // Only a post identical to an accepted one skips the check: another signer's different,
    // invalid post is still refused.
    assert!(matches!(
        net.rejected(Who::Op(1), done(req, wrong)),
        Rejection::InvalidSignature(_)
    ));
    assert_eq!(
        net.rejected(Who::Op(1), done(req, (good.0, good.1, good.2 ^ 1))),
        Rejection::WrongRecoveryId(good.2 ^ 1)
    );
    net.ok(Who::Op(1), done(req, good));
    assert!(matches!(
        net.state.signature_request(&req).map(|r| &r.status),
        Some(SignatureStatus::Done { .. })
    ));
}

#[test]
fn aborting_an_assigned_presign_returns_the_request_to_pending() {
    let mut net = Net::new(3, 2);
    let digest = Hash32([0x42; 32]);
    let (key, req) = net.signing(digest, None);
    let p = Hash32([0x51; 32]);
    net.ok(
        Who::Op(0),
        Action::SessionFailed {
            session: p,
            blamed: vec![1],
            check: "[S2.1]".into(),
        },
    );
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: p,
            reason: "operator 0 reported [S2.1]".into(),
        },
    );
    assert_eq!(
        net.state.signature_request(&req).map(|r| r.status.clone()),
        Some(SignatureStatus::Pending)
    );
    assert_eq!(net.state.excluded_operators(&key), BTreeSet::from([1]));
    assert_eq!(
        net.rejected(
            Who::Ledger,
            Action::AbortSession {
                session: p,
                reason: "again".into()
            }
        ),
        Rejection::PresignAborted(p)
    );
    let q = net.presign(key, &[0, 2], 0x52);
    net.ready(q, &[0, 2]);
    net.ok(
        Who::Ledger,
        Action::StartSign {
            request: req,
            presign: q,
        },
    );
    let sig = sign(&ecdsa_secret(), &digest);
    net.ok(Who::Op(0), done(req, sig));
    net.ok(Who::Op(2), done(req, sig));
    let r = net.state.signature_request(&req);
    assert_eq!(r.map(|r| r.attempts), Some(2));
    assert!(matches!(
        r.map(|r| &r.status),
        Some(SignatureStatus::Done { .. })
    ));
}

#[test]
fn aborting_keygen_and_failing_requests() {
    let mut net = Net::new(2, 2);
    let key = net.generating_key();
    let session = net.state.keygen_session(&key);
    assert!(session.is_some());
    let session = session.unwrap_or_default();
    let kg = net.key_generated(key);
    net.ok(Who::Op(0), kg.clone());
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session,
            reason: "timeout".into(),
        },
    );
    assert_eq!(
        net.state.key(&key).map(|k| k.status.clone()),
        Some(KeyStatus::Pending)
    );
    net.ok(Who::Ledger, Action::StartKeygen { request: key });
    assert_ne!(net.state.keygen_session(&key), Some(session));
    // Results from before the abort were discarded: both must report again.
    net.ok(Who::Op(0), kg.clone());
    assert!(matches!(
        net.state.key(&key).map(|k| &k.status),
        Some(KeyStatus::Generating { .. })
    ));
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: key,
            reason: "given up".into(),
        },
    );
    assert!(matches!(
        net.state.key(&key).map(|k| &k.status),
        Some(KeyStatus::Failed { .. })
    ));
    let e = net.rejected(
        Who::Ledger,
        Action::AbortSession {
            session: Hash32([0xee; 32]),
            reason: String::new(),
        },
    );
    assert_eq!(e.kind(), RejectionKind::Unknown);
}

#[test]
fn concerned_operators_find_their_work() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let start = Action::StartPresign {
        key,
        session: Hash32([0x70; 32]),
        signers: vec![0, 2],
    };
    net.ok(Who::Ledger, start.clone());
    let ops: Vec<_> = net.ops.iter().map(|o| o.public()).collect();
    assert!(net.state.concerns(&start, &ops[0]));
    assert!(!net.state.concerns(&start, &ops[1]));
    assert!(net.state.concerns(&start, &ops[2]));
    assert_eq!(
        net.state
            .concerned_operators(&Action::StartKeygen { request: key })
            .len(),
        3
    );
}

/// The Ed25519 base point: a valid prime-order key.
const ED25519_KEY: &str = "5866666666666666666666666666666666666666666666666666666666666666";

/// A requested key of `key_type` with keygen started.
fn generating(net: &mut Net, key_type: &str) -> Hash32 {
    let key = net.ok(
        Who::Owner,
        Action::RequestKey {
            keyring_id: "ring".into(),
            key_type: key_type.into(),
        },
    );
    net.ok(Who::Ledger, Action::StartKeygen { request: key });
    key
}

fn schnorr_generated(key: Hash32, public_key: &str) -> Action {
    Action::KeyGenerated {
        request: key,
        public_key: public_key.into(),
        chain_code: Hash32::ZERO,
        public_shares: Vec::new(),
    }
}

#[test]
fn schnorr_key_types_activate_with_their_own_key_encoding() {
    // x-only BIP340 key: the x coordinate of a secp256k1 point.
    let bip340 = compressed_hex(&ecdsa_secret())[2..].to_string();
    for (key_type, good) in [
        (KEY_TYPE_EDDSA_ED25519, ED25519_KEY.to_string()),
        (KEY_TYPE_SCHNORR_BIP340, bip340.clone()),
    ] {
        let mut net = Net::new(3, 2);
        let key = generating(&mut net, key_type);
        // An ECDSA (SEC1) key, a key of the other Schnorr type's length and garbage are
        // refused for this key type.
        for bad in [
            compressed_hex(&ecdsa_secret()),
            "00".repeat(32),
            "ab".repeat(31),
        ] {
            assert!(
                matches!(
                    net.rejected(Who::Op(0), schnorr_generated(key, &bad)),
                    Rejection::Malformed {
                        field: "public_key",
                        ..
                    }
                ),
                "{key_type} accepted {bad}"
            );
        }
        for i in 0..3 {
            net.ok(Who::Op(i), schnorr_generated(key, &good));
        }
        assert_eq!(
            net.state.key(&key).map(|k| k.status.clone()),
            Some(KeyStatus::Active {
                public_key: good.clone(),
                chain_code: Hash32::ZERO
            }),
            "{key_type}"
        );
        // No presignature signing for Schnorr keys.
        let e = net.rejected(
            Who::Owner,
            Action::RequestSignature {
                key,
                digest: Hash32([1; 32]),
                tweak: None,
                note: None,
                deadline_ms: None,
            },
        );
        assert!(matches!(e, Rejection::UnsupportedKeyType(_)), "{e}");
    }
    // An ECDSA key still wants its SEC1 encoding, not an x-only key.
    let mut net = Net::new(2, 2);
    let key = net.generating_key();
    assert!(matches!(
        net.rejected(Who::Op(0), schnorr_generated(key, &bip340)),
        Rejection::Malformed { .. }
    ));
}

#[test]
fn schnorr_keys_disagreeing_operators_conflict() {
    let mut net = Net::new(2, 2);
    let key = generating(&mut net, KEY_TYPE_EDDSA_ED25519);
    net.ok(Who::Op(0), schnorr_generated(key, ED25519_KEY));
    // Another valid Ed25519 key: an identity key's public half.
    let other = hex::encode(id(7).public().as_bytes());
    net.ok(Who::Op(1), schnorr_generated(key, &other));
    assert!(!matches!(
        net.state.key(&key).map(|k| &k.status),
        Some(KeyStatus::Active { .. })
    ));
}

#[test]
fn schnorr_keys_need_a_threshold_of_two() {
    let mut net = Net::new(3, 2);
    net.ok(
        Who::Ledger,
        Action::RegisterKeyring {
            keyring_id: "solo".into(),
            threshold: 1,
            operators: vec![Operator {
                identity: id(20).public(),
                address: "a".into(),
                region: "r".into(),
            }],
            owners: vec![id(2).public()],
        },
    );
    for key_type in [KEY_TYPE_EDDSA_ED25519, KEY_TYPE_SCHNORR_BIP340] {
        let e = net.rejected(
            Who::Owner,
            Action::RequestKey {
                keyring_id: "solo".into(),
                key_type: key_type.into(),
            },
        );
        assert!(matches!(e, Rejection::UnsupportedKeyType(_)), "{e}");
    }
    // ECDSA allows t = 1.
    net.ok(
        Who::Owner,
        Action::RequestKey {
            keyring_id: "solo".into(),
            key_type: KEY_TYPE_ECDSA_SECP256K1.into(),
        },
    );
}

/// One Schnorr key of a type, standing in for a FROST group: the ledger checks only the
/// finished signature against the key, so a single signer makes the same signatures.
enum SchnorrSigner {
    Ed25519(ed25519_dalek::SigningKey),
    Bip340(k256::schnorr::SigningKey),
}

impl SchnorrSigner {
    fn new(key_type: &str) -> SchnorrSigner {
        match key_type {
            KEY_TYPE_EDDSA_ED25519 => {
                SchnorrSigner::Ed25519(ed25519_dalek::SigningKey::from_bytes(&[0x31; 32]))
            }
            _ => SchnorrSigner::Bip340(
                k256::schnorr::SigningKey::from_bytes(&[0x32; 32]).expect("a valid scalar"),
            ),
        }
    }

    fn public_hex(&self) -> String {
        match self {
            SchnorrSigner::Ed25519(k) => hex::encode(k.verifying_key().as_bytes()),
            SchnorrSigner::Bip340(k) => hex::encode(k.verifying_key().to_bytes()),
        }
    }

    /// A message the key type accepts: any bytes for Ed25519, a 32-byte sighash for BIP340.
    fn message(&self, tag: u8) -> Vec<u8> {
        match self {
            SchnorrSigner::Ed25519(_) => format!("a solana message {tag}").into_bytes(),
            SchnorrSigner::Bip340(_) => vec![tag; 32],
        }
    }

    /// The signature as `SignatureDone` carries it: two halves, recovery id 0.
    fn sign(&self, message: &[u8]) -> (Hash32, Hash32, u8) {
        let bytes: [u8; 64] = match self {
            SchnorrSigner::Ed25519(k) => {
                use ed25519_dalek::Signer;
                k.sign(message).to_bytes()
            }
            SchnorrSigner::Bip340(k) => k
                .sign_raw(message, &[0x33; 32])
                .expect("BIP340 signing")
                .to_bytes(),
        };
        let (r, s) = bytes.split_at(32);
        (
            Hash32(r.try_into().expect("32")),
            Hash32(s.try_into().expect("32")),
            0,
        )
    }
}

/// An active Schnorr key of `key_type` whose public key is `signer`'s.
fn active_schnorr_key(net: &mut Net, key_type: &str, signer: &SchnorrSigner) -> Hash32 {
    let key = generating(net, key_type);
    for i in 0..net.n() {
        net.ok(Who::Op(i), schnorr_generated(key, &signer.public_hex()));
    }
    key
}

fn schnorr_request(key: Hash32, message: &[u8]) -> Action {
    Action::RequestSchnorrSignature {
        key,
        message: HexBytes(message.to_vec()),
        note: None,
        deadline_ms: None,
    }
}

#[test]
fn schnorr_requests_are_signed_by_a_frost_session_and_checked_with_the_key_types_verifier() {
    for key_type in [KEY_TYPE_EDDSA_ED25519, KEY_TYPE_SCHNORR_BIP340] {
        let mut net = Net::new(3, 2);
        let signer = SchnorrSigner::new(key_type);
        let key = active_schnorr_key(&mut net, key_type, &signer);
        let message = signer.message(1);

        // Only an owner asks; the message must suit the key type.
        assert!(matches!(
            net.rejected(Who::Op(0), schnorr_request(key, &message)),
            Rejection::NotOwner { .. }
        ));
        let too_long = vec![0u8; MAX_MESSAGE + 1];
        assert!(matches!(
            net.rejected(Who::Owner, schnorr_request(key, &too_long)),
            Rejection::Malformed {
                field: "message",
                ..
            }
        ));
        if key_type == KEY_TYPE_SCHNORR_BIP340 {
            let e = net.rejected(Who::Owner, schnorr_request(key, &[7; 31]));
            assert!(
                matches!(
                    e,
                    Rejection::Malformed {
                        field: "message",
                        ..
                    }
                ),
                "{e}"
            );
        }
        let req = net.ok(Who::Owner, schnorr_request(key, &message));
        let r = net.state.signature_request(&req).cloned().expect("request");
        assert_eq!(r.message.as_deref(), Some(message.as_slice()));
        assert_eq!(r.digest, Hash32::sha256(&message));

        // Only the ledger starts it, with `threshold` sorted signers of the keyring.
        let start = |signers: Vec<u16>| Action::StartSchnorrSign {
            request: req,
            signers,
        };
        assert!(matches!(
            net.rejected(Who::Owner, start(vec![0, 1])),
            Rejection::NotLedger { .. }
        ));
        for bad in [vec![0], vec![1, 0], vec![0, 3], vec![0, 1, 2]] {
            assert!(
                matches!(
                    net.rejected(Who::Ledger, start(bad.clone())),
                    Rejection::Malformed {
                        field: "signers",
                        ..
                    }
                ),
                "{bad:?}"
            );
        }
        let session = net.ok(Who::Ledger, start(vec![0, 2]));
        let s = net.state.presign(&session).cloned().expect("session");
        assert!(s.frost && s.assigned == Some(req) && !s.is_unassigned());
        assert_eq!(
            net.state.signature_request(&req).map(|r| r.status.clone()),
            Some(SignatureStatus::Signing { presign: session })
        );
        // Started once per attempt.
        assert!(matches!(
            net.rejected(Who::Ledger, start(vec![0, 1])),
            Rejection::WrongState { .. }
        ));
        // A FROST session is not a presignature: StartSign cannot take it.
        let ecdsa = net.active_key();
        let other = net.request_signature(ecdsa, Hash32([3; 32]), None);
        assert!(matches!(
            net.rejected(
                Who::Ledger,
                Action::StartSign {
                    request: other,
                    presign: session
                }
            ),
            Rejection::PresignWrongKey { .. }
        ));

        let sig = signer.sign(&message);
        // Operator 1 is not a signer of this session.
        assert!(matches!(
            net.rejected(Who::Op(1), done(req, sig)),
            Rejection::NotSessionMember { .. }
        ));
        // A signature over another message, a flipped bit, or a recovery id: refused.
        let wrong = signer.sign(&signer.message(2));
        let mut flipped = sig;
        flipped.1 .0[31] ^= 1;
        for bad in [wrong, flipped, (sig.0, sig.1, 1)] {
            let e = net.rejected(Who::Op(0), done(req, bad));
            assert!(
                matches!(e, Rejection::InvalidSignature(_)),
                "{key_type}: {e}"
            );
        }
        net.ok(Who::Op(0), done(req, sig));
        net.ok(Who::Op(2), done(req, sig));
        assert_eq!(
            net.state.signature_request(&req).map(|r| r.status.clone()),
            Some(SignatureStatus::Done {
                r: sig.0,
                s: sig.1,
                recovery_id: 0,
                signers: vec![0, 2]
            })
        );
    }
}

#[test]
fn schnorr_and_ecdsa_requests_use_their_own_commands() {
    let mut net = Net::new(3, 2);
    let signer = SchnorrSigner::new(KEY_TYPE_EDDSA_ED25519);
    let key = active_schnorr_key(&mut net, KEY_TYPE_EDDSA_ED25519, &signer);
    // An ECDSA key signs digests from presignatures, never whole messages with FROST.
    let ecdsa = net.active_key();
    let e = net.rejected(Who::Owner, schnorr_request(ecdsa, b"hello"));
    assert!(matches!(e, Rejection::UnsupportedKeyType(_)), "{e}");
    let ecdsa_req = net.request_signature(ecdsa, Hash32([4; 32]), None);
    assert!(matches!(
        net.rejected(
            Who::Ledger,
            Action::StartSchnorrSign {
                request: ecdsa_req,
                signers: vec![0, 1]
            }
        ),
        Rejection::Malformed {
            field: "request",
            ..
        }
    ));
    // A Schnorr request on a key that is not active yet is refused.
    let pending = generating(&mut net, KEY_TYPE_EDDSA_ED25519);
    assert!(matches!(
        net.rejected(Who::Owner, schnorr_request(pending, b"hello")),
        Rejection::WrongState { .. }
    ));
    // The Schnorr request itself is fine.
    net.ok(Who::Owner, schnorr_request(key, b"hello"));
}

#[test]
fn an_aborted_frost_session_returns_its_request_for_another_attempt() {
    let mut net = Net::new(3, 2);
    let signer = SchnorrSigner::new(KEY_TYPE_SCHNORR_BIP340);
    let key = active_schnorr_key(&mut net, KEY_TYPE_SCHNORR_BIP340, &signer);
    let message = signer.message(9);
    let req = net.ok(Who::Owner, schnorr_request(key, &message));
    let first = net.ok(
        Who::Ledger,
        Action::StartSchnorrSign {
            request: req,
            signers: vec![0, 1],
        },
    );
    // Operator 0 blames 1; the ledger aborts the session.
    net.ok(
        Who::Op(0),
        Action::SessionFailed {
            session: first,
            blamed: vec![1],
            check: "[FS2.2]".into(),
        },
    );
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: first,
            reason: "blame".into(),
        },
    );
    let r = net.state.signature_request(&req).cloned().expect("request");
    assert_eq!(r.status, SignatureStatus::Pending);
    assert_eq!(r.attempts, 1);
    // One accuser of the one other member: operator 1 is excluded from the key's sessions.
    assert!(net.state.excluded_operators(&key).contains(&1));
    // A share posted for the aborted attempt is refused; the next attempt signs.
    let sig = signer.sign(&message);
    assert!(matches!(
        net.rejected(Who::Op(0), done(req, sig)),
        Rejection::WrongState { .. }
    ));
    net.ok(
        Who::Ledger,
        Action::StartSchnorrSign {
            request: req,
            signers: vec![0, 2],
        },
    );
    net.ok(Who::Op(0), done(req, sig));
    net.ok(Who::Op(2), done(req, sig));
    let r = net.state.signature_request(&req).cloned().expect("request");
    assert!(matches!(r.status, SignatureStatus::Done { .. }));
    assert_eq!(r.attempts, 2);
}

#[test]
fn a_refresh_switches_the_key_to_new_shares_only_when_every_operator_has_one() {
    let mut net = Net::new(3, 2);
    let signer = SchnorrSigner::new(KEY_TYPE_EDDSA_ED25519);
    let key = active_schnorr_key(&mut net, KEY_TYPE_EDDSA_ED25519, &signer);
    let pk = signer.public_hex();
    // Owners only; ECDSA keys are not refreshed by the network.
    assert!(matches!(
        net.rejected(Who::Op(0), Action::RequestRefresh { key }),
        Rejection::NotOwner { .. }
    ));
    let ecdsa = net.active_key();
    assert!(matches!(
        net.rejected(Who::Owner, Action::RequestRefresh { key: ecdsa }),
        Rejection::UnsupportedKeyType(_)
    ));
    let req = net.ok(Who::Owner, Action::RequestRefresh { key });
    // One refresh of a key at a time.
    assert!(matches!(
        net.rejected(Who::Owner, Action::RequestRefresh { key }),
        Rejection::WrongState { .. }
    ));
    assert!(matches!(
        net.rejected(Who::Owner, Action::StartRefresh { request: req }),
        Rejection::NotLedger { .. }
    ));
    let done = |public_key: &str| Action::RefreshDone {
        request: req,
        public_key: public_key.into(),
    };
    // Not running yet.
    assert!(matches!(
        net.rejected(Who::Op(0), done(&pk)),
        Rejection::WrongState { .. }
    ));
    let first = net.ok(Who::Ledger, Action::StartRefresh { request: req });
    // Only the keyring's operators report a refresh.
    assert!(matches!(
        net.rejected(Who::Outsider, done(&pk)),
        Rejection::NotOperator { .. }
    ));
    net.ok(Who::Op(0), done(&pk));
    assert!(matches!(
        net.rejected(Who::Op(0), done(&pk)),
        Rejection::Duplicate { .. }
    ));
    // A refresh keeps the key: a result for another key is refused.
    let other = hex::encode(id(7).public().as_bytes());
    assert!(matches!(
        net.rejected(Who::Op(1), done(&other)),
        Rejection::Malformed {
            field: "public_key",
            ..
        }
    ));
    // Aborted half-way: the key keeps its old shares, the request goes back to pending.
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: first,
            reason: "timed out".into(),
        },
    );
    assert_eq!(net.state.key(&key).and_then(|k| k.generation), None);
    assert_eq!(
        net.state.refresh(&req).map(|r| r.status.clone()),
        Some(RefreshStatus::Pending)
    );
    let second = net.ok(Who::Ledger, Action::StartRefresh { request: req });
    net.ok(Who::Op(0), done(&pk));
    net.ok(Who::Op(1), done(&pk));
    assert_eq!(net.state.key(&key).and_then(|k| k.generation), None);
    net.ok(Who::Op(2), done(&pk));
    let r = net.state.refresh(&req).cloned().expect("refresh");
    assert_eq!(r.status, RefreshStatus::Done { session: second });
    assert_eq!(r.attempts, 2);
    assert_eq!(r.previous, None);
    assert_eq!(net.state.key(&key).and_then(|k| k.generation), Some(second));
    // The key stays active with the same public key, and another refresh may follow.
    assert!(matches!(
        net.state.key(&key).map(|k| &k.status),
        Some(KeyStatus::Active { public_key, .. }) if *public_key == pk
    ));
    let again = net.ok(Who::Owner, Action::RequestRefresh { key });
    net.ok(Who::Ledger, Action::StartRefresh { request: again });
    assert_eq!(
        net.state.refresh(&again).and_then(|r| r.previous),
        Some(second)
    );
    // Giving up on a refresh (its request id) fails it; the key is unchanged.
    net.ok(
        Who::Ledger,
        Action::AbortSession {
            session: again,
            reason: "gave up".into(),
        },
    );
    assert!(matches!(
        net.state.refresh(&again).map(|r| &r.status),
        Some(RefreshStatus::Failed { .. })
    ));
    assert_eq!(net.state.key(&key).and_then(|k| k.generation), Some(second));
}

#[test]
fn signing_sets_must_span_the_keyrings_regions() {
    // Operators 0..6 in regions eu, us, ap, eu, us, ap.
    let mut net = Net::with_regions(6, 3, &["eu", "us", "ap"]);
    let set = |min_regions| Action::SetSignerRegions {
        keyring_id: "ring".into(),
        min_regions,
    };
    // Ledger key only; 1 to the threshold, and no more than the keyring's regions.
    assert!(matches!(
        net.rejected(Who::Owner, set(2)),
        Rejection::NotLedger { .. }
    ));
    for bad in [0, 4] {
        assert!(matches!(
            net.rejected(Who::Ledger, set(bad)),
            Rejection::Malformed {
                field: "min_regions",
                ..
            }
        ));
    }
    let key = net.active_key();
    // A presignature made while one region was enough…
    let old = net.presign(key, &[0, 3, 4], 0x61);
    net.ready(old, &[0, 3, 4]);
    net.ok(Who::Ledger, set(3));
    assert_eq!(net.state.keyring("ring").map(|r| r.min_regions), Some(3));
    // …is not used once three are required, and new sets must span three regions.
    let req = net.request_signature(key, Hash32([5; 32]), None);
    let e = net.rejected(
        Who::Ledger,
        Action::StartSign {
            request: req,
            presign: old,
        },
    );
    assert!(
        matches!(
            e,
            Rejection::TooFewRegions {
                needed: 3,
                got: 2,
                ..
            }
        ),
        "{e}"
    );
    assert!(matches!(
        net.rejected(
            Who::Ledger,
            Action::StartPresign {
                key,
                session: Hash32([0x62; 32]),
                signers: vec![0, 1, 3],
            }
        ),
        Rejection::TooFewRegions { .. }
    ));
    let good = net.presign(key, &[0, 1, 2], 0x63);
    net.ready(good, &[0, 1, 2]);
    net.ok(
        Who::Ledger,
        Action::StartSign {
            request: req,
            presign: good,
        },
    );
    // FROST signing sets too.
    let signer = SchnorrSigner::new(KEY_TYPE_EDDSA_ED25519);
    let skey = active_schnorr_key(&mut net, KEY_TYPE_EDDSA_ED25519, &signer);
    let sreq = net.ok(Who::Owner, schnorr_request(skey, b"hi"));
    assert!(matches!(
        net.rejected(
            Who::Ledger,
            Action::StartSchnorrSign {
                request: sreq,
                signers: vec![1, 4, 5],
            }
        ),
        Rejection::TooFewRegions { .. }
    ));
    net.ok(
        Who::Ledger,
        Action::StartSchnorrSign {
            request: sreq,
            signers: vec![3, 4, 5],
        },
    );
}
