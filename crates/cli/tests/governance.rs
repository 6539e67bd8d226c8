//! Approvals are re-checked by every node, with real processes: a key under a
//! `2 of {alice, bob, carol}` policy is signed only after two approvals, and what a compromised
//! coordinator appends through the `malicious` ledger's `POST /v1/unchecked` — a forged
//! approval and its own `StartSign` for the unapproved request — gets no signature from any
//! node, which each count as refused by the policy check.
//!
//! `cargo test -p tessera-cli --features malicious --test governance`

#![cfg(feature = "malicious")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::time::Duration;

use common::{append_unchecked, http_get, openssl_verifies, wait_until, Devnet};
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use tessera_identity::Identity;
use tessera_ledger::api::RequestView;
use tessera_ledger::server::now_ms;
use tessera_ledger::state::{GovRejection, SignatureStatus};
use tessera_ledger::{Action, Client, Command, Hash32, Rejection, SignedCommand};
use tessera_policy::{Approval, Vote};

fn refused_not_approved(metrics_url: &str) -> u64 {
    http_get(metrics_url)
        .lines()
        .filter(|l| {
            l.starts_with("tessera_ledger_entries_refused_total{")
                && l.contains("action=\"StartSign\"")
                && l.contains("reason=\"governance_not_approved\"")
        })
        .filter_map(|l| l.rsplit(' ').next().and_then(|n| n.parse::<u64>().ok()))
        .sum()
}

#[test]
fn a_governed_key_signs_only_after_two_approvals_and_nodes_refuse_forgeries() {
    let net = Devnet::start("governance", 3, 2);
    let key = net.json(&["key", "create", "--json"]);
    let key_hex = key["key_id"].as_str().unwrap().to_string();
    let key_id: Hash32 = key_hex.parse().unwrap();

    let mut people = Vec::new();
    for n in ["alice", "bob", "carol"] {
        let file = net.dir.join(format!("{n}.pem"));
        let v = net.json(&["identity", "new", "--out", file.to_str().unwrap(), "--json"]);
        people.push((n, file, v["public_key"].as_str().unwrap().to_string()));
    }
    let owners: Vec<String> = people.iter().map(|(n, _, k)| format!("{n}={k}")).collect();
    let policy = "2 of {alice, bob, carol}";
    let ws = net.json(&[
        "workspace",
        "create",
        "--owner",
        &owners[0],
        "--owner",
        &owners[1],
        "--owner",
        &owners[2],
        "--admin-policy",
        policy,
        "--sign-policy",
        policy,
        "--json",
    ]);
    let ws = ws["workspace_id"].as_str().unwrap().to_string();
    let add = net.json(&[
        "workspace",
        "add-key",
        "--workspace",
        &ws,
        "--key",
        &key_hex,
        "--json",
    ]);
    let add = add["request_id"].as_str().unwrap().to_string();
    for (_, file, _) in &people[..2] {
        net.json(&["approve", &add, "--as", file.to_str().unwrap(), "--json"]);
    }
    let shown = net.json(&["workspace", "show", &ws, "--json"]);
    assert!(shown["keys"].get(&key_hex).is_some(), "{shown}");

    // A signature request on the governed key, and a ready presign session for it.
    let client = Client::new(&net.ledger);
    let info = client.info().unwrap();
    let owner = Identity::load(&net.identity).unwrap();
    let digest = Hash32(Sha256::digest(b"governed").into());
    let cmd = |a: Action| Command::new(info.network.clone(), a, now_ms(), &mut OsRng);
    let request = client
        .submit(&SignedCommand::sign(
            &owner,
            cmd(Action::RequestSignature {
                key: key_id,
                digest,
                tweak: None,
                note: None,
                deadline_ms: None,
            }),
        ))
        .unwrap()
        .id;
    let mut presign = Hash32::ZERO;
    wait_until("a ready presign session", Duration::from_secs(180), || {
        let (st, _) = net.ledger_state();
        match st
            .presigns_for_key(&key_id)
            .iter()
            .find(|p| p.is_available())
        {
            Some(p) => {
                presign = p.id;
                true
            }
            None => false,
        }
    });

    // The coordinator forges: an approval by a stranger, and its own StartSign.
    let mallory = Identity::generate(&mut OsRng);
    let policy_view = match client.request(&request, 0).unwrap() {
        RequestView::Signature(s) => s.approval.unwrap(),
        other => panic!("{other:?}"),
    };
    assert_eq!(policy_view.state, "pending");
    let st = net.ledger_state().0;
    let subject = st.sign_approval(&request).unwrap().subject().clone();
    let forged = Approval::sign(&mallory, &subject, Vote::Approve);
    append_unchecked(
        &net.ledger,
        &SignedCommand::sign(
            &mallory,
            cmd(Action::Approve {
                request,
                approval: forged,
            }),
        ),
    );
    let ledger_key = Identity::load(&net.dir.join("net/ledger/ledger-identity.pem")).unwrap();
    append_unchecked(
        &net.ledger,
        &SignedCommand::sign(&ledger_key, cmd(Action::StartSign { request, presign })),
    );
    let (_, _, rejected) = net.ledger_log();
    assert_eq!(rejected.len(), 2, "{rejected:?}");
    assert!(
        matches!(&rejected[0].1, Rejection::Governance(g) if matches!(**g, GovRejection::BadApproval(_)))
    );
    assert!(matches!(&rejected[1].1, Rejection::Governance(g) if g.label() == "not_approved"));

    let metrics: Vec<String> = (0..3)
        .map(|i| {
            net.state()["nodes"][i]["metrics_url"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    wait_until(
        "every node to refuse the unapproved StartSign",
        Duration::from_secs(30),
        || metrics.iter().all(|u| refused_not_approved(u) >= 1),
    );
    std::thread::sleep(Duration::from_secs(3));
    let (st, log, _) = net.ledger_log();
    assert_eq!(
        st.signature_request(&request).unwrap().status,
        SignatureStatus::Pending
    );
    assert!(!log.iter().any(|e| matches!(&e.command.command.action,
        Action::SignatureDone { request: r, .. } if *r == request)));

    // Two real approvals: the network signs.
    let id = request.to_string();
    let v = net.json(&[
        "approve",
        &id,
        "--as",
        people[0].1.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["state"], "pending");
    let v = net.json(&[
        "approve",
        &id,
        "--as",
        people[2].1.to_str().unwrap(),
        "--json",
    ]);
    assert_eq!(v["state"], "approved");
    let mut done = None;
    wait_until(
        "the approved request is signed",
        Duration::from_secs(120),
        || match client.request(&request, 5_000) {
            Ok(RequestView::Signature(s)) if s.status == "done" => {
                done = Some(s);
                true
            }
            _ => false,
        },
    );
    let s = done.unwrap();
    assert_eq!(s.approval.as_ref().unwrap().state, "signed");
    let public_key = hex::decode(key["public_key"].as_str().unwrap()).unwrap();
    assert!(
        openssl_verifies(
            &public_key,
            &digest.0,
            &s.r.unwrap().0,
            &s.s.unwrap().0,
            "governed"
        ),
        "OpenSSL rejects the governed signature"
    );
    let shown = net.json(&["request", "show", &id, "--json"]);
    assert_eq!(shown["status"], "done");
}
