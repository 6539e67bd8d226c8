//! The ledger over real HTTP on loopback: a server on port 0 and the blocking client.

// Test helpers outside `#[test]` functions fail loudly on purpose.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::SigningKey;
use tessera_identity::{Identity, IdentityKey};
use tessera_ledger::api::{Evidence, Heartbeat};
use tessera_ledger::attest::{AttestationContext, Claims, EvidenceCheck};
use tessera_ledger::server::now_ms;
use tessera_ledger::state::State;
use tessera_ledger::{
    Action, Client, Command, GenesisFile, Hash32, KeyringSpec, Ledger, LedgerConfig, Operator,
    RequestView, SchedulerConfig, SignedCommand,
};

mod common;

use common::{fold, id, ledger_id, op, owner, public_shares, Running};

const NET: &str = "devnet-test";

fn genesis(n: usize, t: u16) -> GenesisFile {
    GenesisFile {
        network: NET.into(),
        allowlist: vec!["ab".repeat(32)],
        platform_keys: vec![],
        keyrings: vec![KeyringSpec {
            id: "main".into(),
            threshold: t,
            operators: (0..n)
                .map(|i| Operator {
                    identity: op(i).public(),
                    address: format!("127.0.0.1:{}", 9000 + i),
                    region: "local".into(),
                })
                .collect(),
            owners: vec![owner().public()],
            min_regions: None,
        }],
    }
}

fn config(dir: &std::path::Path, n: usize, t: u16) -> LedgerConfig {
    let mut c = LedgerConfig::new(dir, "127.0.0.1:0".parse().unwrap());
    c.identity = Some(ledger_id());
    c.genesis = Some(genesis(n, t));
    c.run_scheduler = false;
    c
}

fn signed(who: &Identity, action: Action) -> SignedCommand {
    SignedCommand::sign(
        who,
        Command::new(NET, action, now_ms(), &mut rand_core::OsRng),
    )
}

fn ecdsa_secret() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32].into()).unwrap()
}

fn compressed(sk: &SigningKey) -> String {
    hex::encode(sk.verifying_key().to_encoded_point(true).as_bytes())
}

#[test]
fn submit_log_long_poll_and_request_status() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Running::start(config(dir.path(), 2, 2));
    let client = ledger.client();

    let info = client.info().unwrap();
    assert_eq!(info.network, NET);
    assert_eq!(info.ledger_key, ledger_id().public());
    assert_eq!(info.head_seq, Some(1), "genesis and one keyring");
    let state = ledger.folded();
    assert_eq!(state.head_hash(), info.head_hash);
    assert!(state.keyring("main").is_some());

    // Long-poll on the log wakes on the append, not at the end of the wait.
    let waiter = {
        let c = client.clone();
        thread::spawn(move || {
            let t = Instant::now();
            (c.log(2, 10, 10_000).unwrap(), t.elapsed())
        })
    };
    thread::sleep(Duration::from_millis(200));
    let request_key = signed(
        &owner(),
        Action::RequestKey {
            keyring_id: "main".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
    );
    let receipt = client.submit(&request_key).unwrap();
    assert_eq!(receipt.seq, 2);
    assert_eq!(receipt.id, request_key.id());
    let (entries, waited) = waiter.join().unwrap();
    assert_eq!(entries.len(), 1);
    assert_eq!(entries[0].command, request_key);
    assert!(
        waited < Duration::from_secs(5),
        "long-poll waited {waited:?}"
    );

    // An empty wait returns at once with nothing.
    assert!(client.log(3, 10, 0).unwrap().is_empty());

    // An operator following the log is served the same entries (one that asks nothing of it
    // at once may come a few ms later); a malformed operator is refused.
    let followed = client.follow(2, 10, 10_000, &op(0).public()).unwrap();
    assert_eq!(followed.len(), 1);
    assert_eq!(followed[0].command, request_key);
    assert!(client.follow(3, 10, 0, &op(0).public()).unwrap().is_empty());
    let refused = ureq::get(&format!(
        "{}/v1/log?from=0&wait_ms=10&operator=zz",
        client.url()
    ))
    .config()
    .http_status_as_error(false)
    .build()
    .call()
    .unwrap();
    assert_eq!(refused.status().as_u16(), 400);

    let key_id = receipt.id;
    match client.request(&key_id, 0).unwrap() {
        RequestView::Key(k) => assert_eq!(k.status, "pending"),
        other => panic!("{other:?}"),
    }

    // Long-poll on the request returns when it becomes final.
    let waiter = {
        let c = client.clone();
        thread::spawn(move || c.request(&key_id, 10_000).unwrap())
    };
    client
        .submit(&signed(
            &ledger_id(),
            Action::StartKeygen { request: key_id },
        ))
        .unwrap();
    for i in 0..2 {
        client
            .submit(&signed(
                &op(i),
                Action::KeyGenerated {
                    request: key_id,
                    public_key: compressed(&ecdsa_secret()),
                    chain_code: Hash32([9; 32]),
                    public_shares: public_shares(&[7u8; 32], 2, 2),
                },
            ))
            .unwrap();
    }
    match waiter.join().unwrap() {
        RequestView::Key(k) => {
            assert_eq!(k.status, "active");
            assert_eq!(k.public_key, Some(compressed(&ecdsa_secret())));
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(client.key(&key_id).unwrap().status, "active");

    // Errors carry the server's message and a caller-fault status.
    let e = client.submit(&request_key).unwrap_err();
    assert_eq!(e.status(), Some(409));
    assert!(e.to_string().contains("replayed"), "{e}");
    let mut forged = signed(
        &owner(),
        Action::RequestKey {
            keyring_id: "main".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
    );
    forged.signer = op(0).public();
    assert_eq!(client.submit(&forged).unwrap_err().status(), Some(403));
    let by_operator = signed(
        &op(0),
        Action::RequestKey {
            keyring_id: "main".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
    );
    let e = client.submit(&by_operator).unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(e.to_string().contains("not an owner"), "{e}");
    let e = client.request(&Hash32([0xee; 32]), 0).unwrap_err();
    assert_eq!(e.status(), Some(404));
    let other_net = SignedCommand::sign(
        &owner(),
        Command::new(
            "elsewhere",
            Action::RequestKey {
                keyring_id: "main".into(),
                key_type: "ecdsa-secp256k1".into(),
            },
            now_ms(),
            &mut rand_core::OsRng,
        ),
    );
    assert_eq!(client.submit(&other_net).unwrap_err().status(), Some(400));
    let raw = ureq::post(format!("{}/v1/commands", ledger.url))
        .config()
        .http_status_as_error(false)
        .build()
        .send("{not json")
        .unwrap();
    assert_eq!(raw.status().as_u16(), 400);

    // What the client saw folds to the same state as the server's.
    let folded = fold(&client);
    assert_eq!(folded.next_seq(), 6);
    ledger.shutdown();
}

#[test]
fn restart_reopens_the_same_log_and_state() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), 3, 2);
    c.identity = None; // created in the data directory, then reloaded
    let ledger = Running::start(c);
    let client = ledger.client();
    let ledger_key = client.info().unwrap().ledger_key;
    for _ in 0..3 {
        client
            .submit(&signed(
                &owner(),
                Action::RequestKey {
                    keyring_id: "main".into(),
                    key_type: "ecdsa-secp256k1".into(),
                },
            ))
            .unwrap();
    }
    let before = ledger.folded();
    let info_before = client.info().unwrap();
    ledger.shutdown();

    // The genesis file is given again: it must not be appended twice.
    let mut c = config(dir.path(), 3, 2);
    c.identity = None;
    let ledger = Running::start(c);
    let client = ledger.client();
    let info_after = client.info().unwrap();
    assert_eq!(info_after, info_before);
    assert_eq!(info_after.ledger_key, ledger_key);
    assert_eq!(
        ledger.initial, before,
        "the reopened server re-folded the same state"
    );
    assert_eq!(ledger.folded(), before);
    // Still appends on top.
    let r = client
        .submit(&signed(
            &owner(),
            Action::RequestKey {
                keyring_id: "main".into(),
                key_type: "ecdsa-secp256k1".into(),
            },
        ))
        .unwrap();
    assert_eq!(Some(r.seq), info_before.head_seq.map(|s| s + 1));
    ledger.shutdown();

    // A genesis file for another network is refused.
    let mut c = config(dir.path(), 3, 2);
    c.identity = None;
    if let Some(g) = c.genesis.as_mut() {
        g.network = "other".into();
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    assert!(rt.block_on(Ledger::bind(c)).is_err());
}

/// Attestation stub: evidence format "good" passes, anything else fails.
#[derive(Debug)]
struct FormatCheck;

impl EvidenceCheck for FormatCheck {
    fn check(
        &self,
        evidence: &Evidence,
        _expected: &IdentityKey,
        now_ms: u64,
        ctx: &AttestationContext<'_>,
    ) -> Result<Claims, String> {
        if evidence.format == "good" {
            Ok(Claims {
                measurement: ctx.allowlist.first().cloned().unwrap_or_default(),
                expires_at_ms: Some(now_ms + 60_000),
            })
        } else {
            Err(format!("unknown evidence format {:?}", evidence.format))
        }
    }
}

fn beat(client: &Client, who: &Identity, format: &str) -> Result<(), tessera_ledger::ClientError> {
    let evidence = Evidence {
        format: format.into(),
        bytes: vec![1, 2, 3],
    };
    client
        .heartbeat(&Heartbeat::sign(who, NET, evidence, now_ms()))
        .map(|_| ())
}

#[test]
fn heartbeats_decide_liveness_and_failed_attestation_is_reported() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), 2, 2);
    c.evidence = Arc::new(FormatCheck);
    let ledger = Running::start(c);
    let client = ledger.client();
    beat(&client, &op(0), "good").unwrap();
    let e = beat(&client, &op(1), "tampered").unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(e.to_string().contains("attestation failed"), "{e}");
    let e = beat(&client, &owner(), "good").unwrap_err();
    assert_eq!(e.status(), Some(403), "not an operator");
    let ops = client.operators().unwrap();
    let row = |i: usize| ops.iter().find(|o| o.identity == op(i).public()).unwrap();
    assert!(row(0).live);
    assert_eq!(
        row(0).measurement.as_deref(),
        Some("ab".repeat(32).as_str())
    );
    assert!(!row(1).live);
    assert!(row(1)
        .error
        .as_deref()
        .unwrap_or("")
        .contains("unknown evidence"));
    // A heartbeat signed for another network does not verify.
    let hb = Heartbeat::sign(
        &op(1),
        "elsewhere",
        Evidence {
            format: "good".into(),
            bytes: vec![],
        },
        now_ms(),
    );
    assert_eq!(client.heartbeat(&hb).unwrap_err().status(), Some(403));
    ledger.shutdown();
}

#[test]
fn software_evidence_is_checked_against_the_logs_allowlist_and_platform_keys() {
    use tessera_attest::{Backend, Measurement, SoftwareBackend};
    let dir = tempfile::tempdir().unwrap();
    let platform = id(5);
    let good = Measurement::of_bytes(b"node v1");
    let mut c = config(dir.path(), 2, 2);
    if let Some(g) = c.genesis.as_mut() {
        g.allowlist = vec![good.to_string()];
        g.platform_keys = vec![platform.public()];
    }
    // `LedgerConfig::new` checks evidence with the attestation crate's policy by default.
    let ledger = Running::start(c);
    let client = ledger.client();
    let now_s = now_ms() / 1000;
    // Each heartbeat of an operator must be newer than its last: space them by 1 ms.
    let t0 = now_ms();
    let tick = std::cell::Cell::new(0);
    let issued = || {
        tick.set(tick.get() + 1);
        t0 + tick.get()
    };
    let send = |backend: &SoftwareBackend, who: &Identity| {
        let evidence = backend.evidence(&who.public(), NET, now_s).unwrap();
        client.heartbeat(&Heartbeat::sign(who, NET, evidence, issued()))
    };
    let honest = SoftwareBackend::new(id(5), good, &dir.path().join("s1.key")).unwrap();
    let receipt = send(&honest, &op(0)).unwrap();
    assert_eq!(receipt.measurement, good.to_string());
    assert!(receipt.live_until_ms <= (now_s + 600) * 1000 + 1000);
    // A node whose binary differs from the allowlisted measurement is refused.
    let patched = SoftwareBackend::new(
        id(5),
        Measurement::of_bytes(b"node v1, patched"),
        &dir.path().join("s2.key"),
    )
    .unwrap();
    let e = send(&patched, &op(1)).unwrap_err();
    assert_eq!(e.status(), Some(403));
    assert!(e.to_string().contains("allowlist"), "{e}");
    // Evidence signed by a platform key the log does not name is refused.
    let rogue = SoftwareBackend::new(id(6), good, &dir.path().join("s3.key")).unwrap();
    let e = send(&rogue, &op(1)).unwrap_err();
    assert_eq!(e.status(), Some(403));
    // Evidence made for another identity is refused.
    let evidence = honest.evidence(&op(0).public(), NET, now_s).unwrap();
    let e = client
        .heartbeat(&Heartbeat::sign(&op(1), NET, evidence, issued()))
        .unwrap_err();
    assert_eq!(e.status(), Some(403), "{e}");
    let ops = client.operators().unwrap();
    assert_eq!(ops.iter().filter(|o| o.live).count(), 1);
    ledger.shutdown();
}

/// A fake operator: heartbeats, follows and verifies the log like a node, and answers the
/// scheduler's commands that concern it with canned results.
fn fake_operator(url: String, index: usize, stop: Arc<AtomicBool>) -> thread::JoinHandle<()> {
    thread::spawn(move || {
        let me = op(index);
        let client = Client::new(&url);
        let info = client.info().unwrap();
        let mut state = State::new(info.network, info.ledger_key);
        let mut last_beat = Instant::now() - Duration::from_secs(60);
        while !stop.load(Ordering::Relaxed) {
            if last_beat.elapsed() > Duration::from_millis(500) {
                beat(&client, &me, "good").unwrap();
                last_beat = Instant::now();
            }
            let Ok(entries) = client.log(state.next_seq(), 100, 200) else {
                continue;
            };
            for e in entries {
                state.apply(&e).unwrap();
                let action = &e.command.command.action;
                if !state.concerns(action, &me.public()) || e.command.signer != info.ledger_key {
                    continue;
                }
                let reply = match action {
                    Action::StartKeygen { request } => Some(Action::KeyGenerated {
                        request: *request,
                        public_key: compressed(&ecdsa_secret()),
                        chain_code: Hash32([9; 32]),
                        public_shares: public_shares(&[7u8; 32], 2, 3),
                    }),
                    Action::StartPresign { session, .. } => {
                        Some(Action::PresignReady { session: *session })
                    }
                    Action::StartSign { request, .. } => {
                        let digest = state.signature_request(request).unwrap().digest;
                        let (sig, rid) =
                            ecdsa_secret().sign_prehash_recoverable(&digest.0).unwrap();
                        let (r, s) = sig.split_bytes();
                        Some(Action::SignatureDone {
                            request: *request,
                            r: Hash32(r.into()),
                            s: Hash32(s.into()),
                            recovery_id: rid.to_byte(),
                        })
                    }
                    _ => None,
                };
                if let Some(a) = reply {
                    client.submit(&signed(&me, a)).unwrap();
                }
            }
        }
    })
}

#[test]
fn scheduler_drives_fake_operators_from_key_request_to_signature() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config(dir.path(), 3, 2);
    c.run_scheduler = true;
    c.scheduler_tick = Duration::from_millis(100);
    c.evidence = Arc::new(FormatCheck);
    c.scheduler = SchedulerConfig {
        pool_target: 2,
        ..SchedulerConfig::default()
    };
    let ledger = Running::start(c);
    let client = ledger.client();
    let stop = Arc::new(AtomicBool::new(false));
    let ops: Vec<_> = (0..3)
        .map(|i| fake_operator(ledger.url.clone(), i, stop.clone()))
        .collect();

    let key = client
        .submit(&signed(
            &owner(),
            Action::RequestKey {
                keyring_id: "main".into(),
                key_type: "ecdsa-secp256k1".into(),
            },
        ))
        .unwrap()
        .id;
    let RequestView::Key(k) = client.request(&key, 20_000).unwrap() else {
        panic!("not a key")
    };
    assert_eq!(k.status, "active", "{k:?}");

    for m in 0..3u8 {
        let digest = Hash32([m; 32]);
        let req = client
            .submit(&signed(
                &owner(),
                Action::RequestSignature {
                    key,
                    digest,
                    tweak: None,
                    note: Some(format!("message {m}")),
                    deadline_ms: None,
                },
            ))
            .unwrap()
            .id;
        let RequestView::Signature(s) = client.request(&req, 20_000).unwrap() else {
            panic!("not a signature request")
        };
        assert_eq!(s.status, "done", "{s:?}");
        let (r, sv) = (s.r.unwrap(), s.s.unwrap());
        let sig = k256::ecdsa::Signature::from_scalars(r.0, sv.0).unwrap();
        ecdsa_secret()
            .verifying_key()
            .verify_prehash(&digest.0, &sig)
            .unwrap();
        assert_eq!(s.signers.map(|v| v.len()), Some(2));
    }
    stop.store(true, Ordering::Relaxed);
    for t in ops {
        t.join().unwrap();
    }
    // Every presign session served at most one request.
    let state = ledger.folded();
    let assigned: Vec<_> = state.presigns().iter().filter_map(|p| p.assigned).collect();
    let distinct: std::collections::BTreeSet<_> = assigned.iter().collect();
    assert_eq!(assigned.len(), distinct.len());
    ledger.shutdown();
}

/// Appends share commits when they arrive together (group commit). Whatever the grouping, every
/// command gets its own outcome, the seqs form one chain, a command sent twice at once lands
/// once, and the log reads back the same after a restart.
#[test]
fn concurrent_submissions_each_get_their_own_outcome_and_one_chain() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Running::start(config(dir.path(), 3, 2));
    let start = ledger.client().info().unwrap().head_seq.unwrap() + 1;
    let twice = signed(
        &owner(),
        Action::RequestKey {
            keyring_id: "main".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
    );
    let threads: Vec<_> = (0..8)
        .map(|t| {
            let client = ledger.client();
            let twice = twice.clone();
            thread::spawn(move || {
                let mut seqs = Vec::new();
                let mut refused = 0;
                for i in 0..10 {
                    let cmd = if i == 5 && t < 2 {
                        twice.clone()
                    } else {
                        signed(
                            &owner(),
                            Action::RequestKey {
                                keyring_id: "main".into(),
                                key_type: "ecdsa-secp256k1".into(),
                            },
                        )
                    };
                    match client.submit(&cmd) {
                        Ok(r) => seqs.push(r.seq),
                        Err(e) => {
                            assert!(e.to_string().contains("replay"), "{e}");
                            refused += 1;
                        }
                    }
                }
                (seqs, refused)
            })
        })
        .collect();
    let mut seqs = Vec::new();
    let mut refused = 0;
    for t in threads {
        let (s, r) = t.join().unwrap();
        seqs.extend(s);
        refused += r;
    }
    assert_eq!(refused, 1, "the command sent twice lands once");
    seqs.sort_unstable();
    let expected: Vec<u64> = (start..start + 79).collect();
    assert_eq!(seqs, expected, "one receipt per accepted command, no gaps");
    let state = ledger.folded();
    assert_eq!(state.next_seq(), start + 79);
    ledger.shutdown();

    let reopened = Running::start(config(dir.path(), 3, 2));
    assert_eq!(reopened.initial, state);
    reopened.shutdown();
}
