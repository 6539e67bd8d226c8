//! System test for threshold Schnorr keys: a devnet of three operators (threshold 2) creates
//! one `eddsa-ed25519` and one `schnorr-bip340` key through the client, every operator runs
//! FROST's DKG and the ledger activates each key with its chain encoding. Network signing for
//! these key types is not wired yet: the ledger refuses `RequestSignature` for them.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

// Shared with the other system tests; this one uses a part of it.
#[allow(dead_code)]
mod common;

use common::Devnet;

#[test]
fn devnet_creates_one_key_of_each_schnorr_type() {
    let net = Devnet::start("schnorr", 3, 2);
    let mut keys = Vec::new();
    for key_type in ["eddsa-ed25519", "schnorr-bip340"] {
        let v = net.json(&[
            "key",
            "create",
            "--type",
            key_type,
            "--timeout",
            "90",
            "--json",
        ]);
        assert_eq!(v["key_type"].as_str().unwrap(), key_type);
        let pk = hex::decode(v["public_key"].as_str().unwrap()).unwrap();
        assert_eq!(pk.len(), 32, "{key_type} keys are 32 bytes");
        // Checked with decoders that share no code with FROST.
        match key_type {
            "eddsa-ed25519" => {
                tessera_identity::IdentityKey::from_bytes(pk.clone().try_into().unwrap())
                    .expect("an Ed25519 point");
            }
            _ => {
                let mut sec1 = vec![0x02];
                sec1.extend_from_slice(&pk);
                k256::PublicKey::from_sec1_bytes(&sec1).expect("an x coordinate on secp256k1");
            }
        }
        // No presignature pool for Schnorr keys, and no ECDSA signing with them.
        let key_id = v["key_id"].as_str().unwrap().to_string();
        let out = net.cli(&["sign", "--key", &key_id, "--message", "hello", "--json"]);
        assert!(
            !out.status.success(),
            "{key_type} key signed through RequestSignature"
        );
        keys.push(key_id);
    }
    let (st, log) = net.ledger_state();
    for k in &keys {
        let id: tessera_ledger::Hash32 = k.parse().unwrap();
        assert!(
            st.presigns_for_key(&id).is_empty(),
            "presign session for {k}"
        );
        assert!(log.iter().any(|e| matches!(
            &e.command.command.action,
            tessera_ledger::Action::StartKeygen { request } if *request == id
        )));
    }
}
