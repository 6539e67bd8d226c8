//! A forged or replayed ledger command is ignored by every node, with real processes.
//!
//! The devnet runs a binary built with the `malicious` feature, whose ledger serves
//! `POST /v1/unchecked`: it appends any signed command as the next, correctly chained entry
//! without checking it — a compromised coordinator. Through it the test appends signature
//! requests the owner never signed, a ledger-signed `StartSign` for one of them (the strongest
//! forgery such a coordinator can make), a replay of an honest request and a `StartSign` for
//! it. Every node must count each of them as rejected, act on none (no `SignatureDone` or
//! `SessionFailed` for them), and keep following the log: the presignatures those `StartSign`s
//! named are then used for honest signatures, which OpenSSL verifies.
//!
//! `cargo test -p tessera-cli --features malicious --test ledger_forgery`

#![cfg(feature = "malicious")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{append_unchecked, http_get, sign_verified, wait_until, Devnet};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use tessera_identity::Identity;
use tessera_ledger::server::now_ms;
use tessera_ledger::state::SignatureStatus;
use tessera_ledger::{Action, Client, Command, Hash32, Rejection, SignedCommand, State};

const OPERATORS: usize = 3;

fn command(network: &str, action: Action) -> Command {
    Command::new(network, action, now_ms(), &mut OsRng)
}

fn request_signature(key: Hash32, message: &str) -> Action {
    Action::RequestSignature {
        key,
        digest: Hash32(Sha256::digest(message.as_bytes()).into()),
        tweak: None,
        note: None,
        deadline_ms: None,
    }
}

/// `tessera_ledger_entries_rejected_total` at a node's metrics endpoint.
fn rejected_total(metrics_url: &str) -> u64 {
    http_get(metrics_url)
        .lines()
        .find(|l| l.starts_with("tessera_ledger_entries_rejected_total "))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

/// Signs `message` through the CLI, checks it with OpenSSL, returns the request id.
fn sign_and_check(net: &Devnet, key: &str, public_key: &[u8], message: &str, tag: &str) -> Hash32 {
    let v = sign_verified(net, key, public_key, message, Some(60), tag);
    assert_eq!(v["signers"].as_array().unwrap().len(), 2);
    v["request_id"].as_str().unwrap().parse().unwrap()
}

/// The presign session the log's (applied) `StartSign` for `request` named.
fn presign_of(st: &State, log: &[tessera_ledger::Entry], request: &Hash32) -> Hash32 {
    let mut found = log.iter().filter_map(|e| match &e.command.command.action {
        Action::StartSign {
            request: r,
            presign,
        } if r == request && st.contains_command(&e.command.id()) => Some(*presign),
        _ => None,
    });
    let p = found.next().expect("a StartSign for the request");
    assert!(
        found.next().is_none(),
        "request {request} was started twice"
    );
    p
}

#[test]
fn forged_and_replayed_commands_are_ignored_by_every_node() {
    let started = Instant::now();
    let net = Devnet::start("forgery", OPERATORS as u16, 2);
    let key = net.json(&["key", "create", "--json"]);
    let key_id_hex = key["key_id"].as_str().unwrap().to_string();
    let key_id: Hash32 = key_id_hex.parse().unwrap();
    let public_key = hex::decode(key["public_key"].as_str().unwrap()).unwrap();

    // The network works.
    let honest = sign_and_check(&net, &key_id_hex, &public_key, "an honest message", "1");

    let client = Client::new(&net.ledger);
    let info = client.info().unwrap();
    let network = info.network.clone();
    let owner = Identity::load(&net.identity).unwrap();
    let ledger_key = Identity::load(&net.dir.join("net/ledger/ledger-identity.pem")).unwrap();
    assert_eq!(ledger_key.public(), info.ledger_key);
    let outsider = Identity::generate(&mut OsRng);

    // Two ready, unassigned presign sessions of the key: the oldest, which the scheduler
    // would hand to the next honest requests. Wait until no older session is still running
    // (presign sessions finish out of order), or it could become the oldest ready one later.
    let mut ready = Vec::new();
    wait_until(
        "two ready presign sessions with none older still running",
        Duration::from_secs(180),
        || {
            let (st, _) = net.ledger_state();
            let sessions = st.presigns_for_key(&key_id);
            let available: Vec<_> = sessions.iter().filter(|p| p.is_available()).collect();
            let Some(second) = available.get(1) else {
                return false;
            };
            let older_running = sessions
                .iter()
                .any(|p| p.is_unassigned() && !p.is_ready() && p.started_seq < second.started_seq);
            ready = available.iter().map(|p| p.id).collect();
            !older_running
        },
    );
    let (p1, p2) = (ready[0], ready[1]);
    let (_, log) = net.ledger_state();
    let honest_command = log
        .iter()
        .map(|e| &e.command)
        .find(|sc| sc.id() == honest)
        .expect("the honest request is in the log")
        .clone();
    let pids: Vec<i32> = (0..OPERATORS).map(|i| net.node_pid(i)).collect();

    // Forged: the owner's request signed by someone else, and a request by a non-owner.
    let mut impersonated = SignedCommand::sign(
        &outsider,
        command(&network, request_signature(key_id, "forged: owner")),
    );
    impersonated.signer = owner.public();
    let not_owner = SignedCommand::sign(
        &outsider,
        command(&network, request_signature(key_id, "forged: outsider")),
    );
    // The coordinator's own StartSign for the forged request, with a ready presignature.
    let forged_start = SignedCommand::sign(
        &ledger_key,
        command(
            &network,
            Action::StartSign {
                request: impersonated.id(),
                presign: p1,
            },
        ),
    );
    // Replayed: the honest request again, and a StartSign for it with another presignature.
    let replayed_start = SignedCommand::sign(
        &ledger_key,
        command(
            &network,
            Action::StartSign {
                request: honest,
                presign: p2,
            },
        ),
    );
    let bad = [
        &impersonated,
        &not_owner,
        &forged_start,
        &honest_command,
        &replayed_start,
    ];
    let seqs: Vec<u64> = bad
        .iter()
        .map(|sc| append_unchecked(&net.ledger, sc))
        .collect();
    let first_bad = seqs[0];

    // The log is still well chained; folded as a node folds it, exactly these entries are
    // rejected, each for the reason the forgery was built to trip.
    let (_, _, rejected) = net.ledger_log();
    assert_eq!(
        rejected.iter().map(|(s, _)| *s).collect::<Vec<_>>(),
        seqs,
        "{rejected:?}"
    );
    let reasons: Vec<&Rejection> = rejected.iter().map(|(_, r)| r).collect();
    assert!(
        matches!(reasons[0], Rejection::BadSignature(k) if *k == owner.public()),
        "{reasons:?}"
    );
    assert!(
        matches!(reasons[1], Rejection::NotOwner { .. }),
        "{reasons:?}"
    );
    assert!(
        matches!(reasons[2], Rejection::UnknownRequest(r) if *r == impersonated.id()),
        "{reasons:?}"
    );
    assert!(
        matches!(reasons[3], Rejection::Replay(r) if *r == honest),
        "{reasons:?}"
    );
    assert!(
        matches!(reasons[4], Rejection::WrongState { .. }),
        "{reasons:?}"
    );

    // Every node counted every bad entry.
    let metrics: Vec<String> = (0..OPERATORS)
        .map(|i| {
            net.state()["nodes"][i]["metrics_url"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    wait_until(
        "every node to reject the bad entries",
        Duration::from_secs(30),
        || {
            metrics
                .iter()
                .all(|u| rejected_total(u) >= bad.len() as u64)
        },
    );
    // Give any node that would act on them time to do so.
    std::thread::sleep(Duration::from_secs(3));

    // Nobody acted: no result or failure for the forged or replayed requests or the
    // presignatures their StartSigns named.
    let requests: BTreeSet<Hash32> = [impersonated.id(), not_owner.id(), honest]
        .into_iter()
        .collect();
    let sessions: BTreeSet<Hash32> = [p1, p2].into_iter().collect();
    let (_, log, _) = net.ledger_log();
    for e in log.iter().filter(|e| e.seq > first_bad) {
        match &e.command.command.action {
            Action::SignatureDone { request, .. } => assert!(
                !requests.contains(request),
                "entry {}: an operator posted SignatureDone for a forged or replayed request",
                e.seq
            ),
            Action::SessionFailed { session, .. } | Action::AbortSession { session, .. } => {
                assert!(
                    !sessions.contains(session) && !requests.contains(session),
                    "entry {}: {} for a session named by a forged StartSign",
                    e.seq,
                    e.command.command.action.name()
                )
            }
            _ => {}
        }
    }
    // No node died over them.
    assert_eq!(
        (0..OPERATORS).map(|i| net.node_pid(i)).collect::<Vec<_>>(),
        pids
    );

    // The nodes kept following the log past the bad entries, and the presignatures named
    // there were never consumed: the next two honest requests get exactly those (the oldest
    // ready ones) and succeed at the first attempt.
    let second = sign_and_check(&net, &key_id_hex, &public_key, "after the forgeries", "2");
    let third = sign_and_check(
        &net,
        &key_id_hex,
        &public_key,
        "after the forgeries, again",
        "3",
    );
    let (st, log, rejected) = net.ledger_log();
    assert_eq!(rejected.len(), bad.len());
    for (request, presign) in [(second, p1), (third, p2)] {
        assert_eq!(presign_of(&st, &log, &request), presign);
        let r = st.signature_request(&request).unwrap();
        assert!(matches!(r.status, SignatureStatus::Done { .. }));
        assert_eq!(r.attempts, 1);
    }
    assert!(st.signature_request(&impersonated.id()).is_none());
    assert!(st.signature_request(&not_owner.id()).is_none());
    for s in [p1, p2] {
        assert!(st.failure_reports(&s).is_empty());
    }
    eprintln!(
        "forgery test: {} s",
        Instant::now().duration_since(started).as_secs()
    );
}
