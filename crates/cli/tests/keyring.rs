//! System tests for keyring changes: operators are added and removed, and the threshold
//! changed, by resharing every key of the keyring over the network (ECDSA resharing with the
//! new committee's Paillier and ring-Pedersen setup proved), with the same public keys.
//!
//! - `a_keyring_changes_committee_by_resharing` (default suite): a 2-of-3 devnet with one
//!   spare node; the owner replaces operator 0 by the spare. The key keeps its public key, the
//!   new committee signs (checked by OpenSSL), the removed operator deletes its share, and the
//!   whole log — `ChangeKeyring`, `StartReshare`, `ReshareDone` — verifies when folded as a
//!   node folds it.
//! - `devnet_grows_from_8_to_16_operators` (ignored: about half an hour of CPU on two cores):
//!   a 5-of-8 devnet with eight spare nodes grows to 11-of-16. Run it with
//!   `cargo nextest run -p tessera-cli --test keyring --run-ignored only`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

// Shared with the other system tests; this one uses a part of it.
#[allow(dead_code)]
mod common;

use common::{sign_verified, Devnet};
use tessera_ledger::command::Action;
use tessera_ledger::state::KeyStatus;
use tessera_ledger::Hash32;

/// Signs `message` with `key` through the network and checks it with OpenSSL; returns the
/// signers' operator indices.
fn sign_and_check(net: &Devnet, key: &str, public_key: &[u8], message: &str) -> Vec<u64> {
    let v = sign_verified(net, key, public_key, message, Some(1800), message);
    v["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_u64().unwrap())
        .collect()
}

fn node_ids(net: &Devnet) -> Vec<String> {
    net.state()["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["id"].as_str().unwrap().to_string())
        .collect()
}

/// Runs `keyring change` and checks the ledger and the key afterwards.
fn change_and_check(
    net: &Devnet,
    args: &[&str],
    key: &str,
    public_key_hex: &str,
    expect_threshold: u16,
    expect_operators: &[String],
) {
    let mut cmd = vec!["keyring", "change", "--json"];
    cmd.extend_from_slice(args);
    let v = net.json(&cmd);
    assert_eq!(v["status"], "done", "{v}");
    let (st, entries) = net.ledger_state();
    let kr = st.keyring("default").unwrap();
    assert_eq!(kr.threshold, expect_threshold);
    let ids: Vec<String> = kr
        .operators
        .iter()
        .map(|o| o.identity.to_string())
        .collect();
    assert_eq!(ids, expect_operators);
    let shown = net.json(&["keyring", "show", "--json"]);
    let shown_ids: Vec<String> = shown["operators"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["identity"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(shown_ids, expect_operators);
    assert_eq!(shown["change"], serde_json::Value::Null);
    let key_id: Hash32 = key.parse().unwrap();
    let record = st.key(&key_id).unwrap();
    let KeyStatus::Active { public_key, .. } = &record.status else {
        panic!("the key is {:?}", record.status);
    };
    assert_eq!(public_key, public_key_hex, "resharing keeps the public key");
    assert_eq!(record.public_shares.len(), expect_operators.len());
    // Every operator of the new committee reported its new share.
    let change: Hash32 = v["change_id"].as_str().unwrap().parse().unwrap();
    let session = record
        .generation
        .expect("the key's shares are the reshared ones");
    assert_eq!(st.reshare_session(&session).map(|s| s.change), Some(change));
    let done_by: std::collections::BTreeSet<String> = entries
        .iter()
        .filter(|e| matches!(&e.command.command.action, Action::ReshareDone { session: s, .. } if *s == session))
        .map(|e| e.command.signer.to_string())
        .collect();
    let expected: std::collections::BTreeSet<String> = expect_operators.iter().cloned().collect();
    assert_eq!(done_by, expected);
}

#[test]
fn a_keyring_changes_committee_by_resharing() {
    let net = Devnet::start_with("keyring", 3, 2, &["--spare", "1", "--pool", "1"]);
    let ids = node_ids(&net);
    assert_eq!(ids.len(), 4);
    let created = net.json(&["key", "create", "--json"]);
    let key = created["key_id"].as_str().unwrap().to_string();
    let pk_hex = created["public_key"].as_str().unwrap().to_string();
    let pk = hex::decode(&pk_hex).unwrap();
    sign_and_check(&net, &key, &pk, "before the change");

    // A bad change is refused with a clear error and changes nothing.
    let out = net.cli(&["keyring", "change", "--threshold", "4"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("threshold"), "{err}");

    // Operator 0 leaves, the spare (node 3) joins: 2-of-3 again, with a new committee.
    let devnet_json = net.dir.join("net").join("devnet.json");
    change_and_check(
        &net,
        &[
            "--add-devnet-spares",
            devnet_json.to_str().unwrap(),
            "--remove",
            &ids[0],
            "--threshold",
            "2",
        ],
        &key,
        &pk_hex,
        2,
        &[ids[1].clone(), ids[2].clone(), ids[3].clone()],
    );
    for i in 0..3 {
        let signers = sign_and_check(&net, &key, &pk, &format!("after the change {i}"));
        assert_eq!(signers.len(), 2);
        assert!(signers.iter().all(|&s| s < 3), "{signers:?}");
    }
    // The operator that left erased its share once the keyring switched.
    let log = std::fs::read_to_string(net.dir.join("net").join("node-0").join("node.log")).unwrap();
    assert!(
        log.contains("old key share deleted"),
        "node 0 keeps its share of a keyring it left"
    );
}

#[test]
#[ignore = "about half an hour of CPU on two cores; run with --run-ignored only"]
fn devnet_grows_from_8_to_16_operators() {
    let net = Devnet::start_with(
        "grow16",
        8,
        5,
        &["--spare", "8", "--pool", "1", "--round-timeout", "900"],
    );
    let ids = node_ids(&net);
    assert_eq!(ids.len(), 16);
    let created = net.json(&["key", "create", "--timeout", "3600", "--json"]);
    let key = created["key_id"].as_str().unwrap().to_string();
    let pk_hex = created["public_key"].as_str().unwrap().to_string();
    let pk = hex::decode(&pk_hex).unwrap();
    sign_and_check(&net, &key, &pk, "8 operators");
    let devnet_json = net.dir.join("net").join("devnet.json");
    let started = std::time::Instant::now();
    change_and_check(
        &net,
        &[
            "--add-devnet-spares",
            devnet_json.to_str().unwrap(),
            "--threshold",
            "11",
        ],
        &key,
        &pk_hex,
        11,
        &ids,
    );
    eprintln!(
        "8 → 16 resharing took {:.0} s",
        started.elapsed().as_secs_f64()
    );
    let signers = sign_and_check(&net, &key, &pk, "16 operators");
    assert_eq!(signers.len(), 11);
}
