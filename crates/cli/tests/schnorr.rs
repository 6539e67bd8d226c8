//! System test for threshold Schnorr keys over a devnet of three operators (threshold 2): the
//! client creates one `eddsa-ed25519` and one `schnorr-bip340` key (FROST DKG on every
//! operator), then signs with each through the network (FROST signing between two operators,
//! checked by the ledger and by the client), and uses them on their chains:
//! - Solana: `sol address` and `sol sign-tx` of a System-program transfer; the wire
//!   transaction is split the way the runtime does and its signature checked with
//!   ed25519-dalek's `verify_strict` (Solana's rule), a tampered message refused.
//! - Refresh: `key refresh` gives every operator a new share of the Ed25519 key, which then
//!   signs again under the same public key.
//! - Bitcoin: `btc address` (P2TR) and `btc sign-psbt` of a 2-input key-path spend, accepted by
//!   Bitcoin Core's script interpreter (`bitcoinconsensus`, Taproot flags), a tampered amount
//!   refused.
//!
//! Every check uses a verifier that shares no code with FROST: ed25519-dalek, k256's BIP340 and
//! libbitcoinconsensus.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

// Shared with the other system tests; this one uses a part of it.
#[allow(dead_code)]
mod common;

use base64::Engine as _;
use bitcoin::hashes::Hash;
use bitcoin::psbt::Psbt;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use common::Devnet;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// A legacy System-program transfer of `lamports` from `payer` (the only signer).
fn transfer_message(payer: [u8; 32], lamports: u64) -> Vec<u8> {
    let mut m = vec![1, 0, 1, 3];
    m.extend_from_slice(&payer);
    m.extend_from_slice(&[0x77; 32]); // recipient
    m.extend_from_slice(&[0u8; 32]); // System program
    m.extend_from_slice(&[0x42; 32]); // recent blockhash
    m.extend_from_slice(&[1, 2, 2, 0, 1]); // one instruction: program 2, accounts [0, 1]
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    m.push(data.len() as u8);
    m.extend_from_slice(&data);
    m
}

/// Bitcoin Core's verdict on input `index` of `tx` (Taproot needs every spent output).
fn core_verifies(tx: &Transaction, index: usize, prevouts: &[TxOut]) -> bool {
    let utxos: Vec<bitcoinconsensus::Utxo> = prevouts
        .iter()
        .map(|p| bitcoinconsensus::Utxo {
            script_pubkey: p.script_pubkey.as_bytes().as_ptr(),
            script_pubkey_len: p.script_pubkey.len() as u32,
            value: p.value.to_sat() as i64,
        })
        .collect();
    let prev = &prevouts[index];
    bitcoinconsensus::verify(
        prev.script_pubkey.as_bytes(),
        prev.value.to_sat(),
        &bitcoin::consensus::serialize(tx),
        Some(&utxos),
        index,
    )
    .is_ok()
}

fn create(net: &Devnet, key_type: &str) -> (String, Vec<u8>) {
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
    (v["key_id"].as_str().unwrap().to_string(), pk)
}

#[test]
fn devnet_signs_with_schnorr_keys_for_solana_and_taproot() {
    let net = Devnet::start("schnorr", 3, 2);

    // --- Ed25519: plain signing, then Solana. ---
    let (ed_key, ed_pk) = create(&net, "eddsa-ed25519");
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&ed_pk.clone().try_into().unwrap())
        .expect("an Ed25519 point");
    let s = net.json(&[
        "sign",
        "--key",
        &ed_key,
        "--message",
        "hello tessera",
        "--json",
    ]);
    assert_eq!(s["key_type"].as_str().unwrap(), "eddsa-ed25519");
    assert_eq!(s["signers"].as_array().unwrap().len(), 2);
    let sig = hex::decode(s["signature"].as_str().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(&sig.try_into().unwrap());
    vk.verify_strict(b"hello tessera", &sig)
        .expect("RFC 8032 signature on the text's bytes");
    assert!(vk.verify_strict(b"hello tesserA", &sig).is_err());

    let addr = net.json(&["sol", "address", "--key", &ed_key, "--json"]);
    let address = addr["address"].as_str().unwrap();
    assert_eq!(bs58::decode(address).into_vec().unwrap(), ed_pk);
    let message = transfer_message(ed_pk.clone().try_into().unwrap(), 1_000_000);
    let out = net.json(&[
        "sol",
        "sign-tx",
        "--key",
        &ed_key,
        "--message",
        &B64.encode(&message),
        "--json",
    ]);
    assert_eq!(out["complete"], serde_json::Value::Bool(true));
    let wire = B64.decode(out["transaction"].as_str().unwrap()).unwrap();
    // One signature, then the message, exactly as submitted.
    assert_eq!(wire[0], 1);
    assert_eq!(&wire[65..], message.as_slice());
    let tx_sig = ed25519_dalek::Signature::from_bytes(&wire[1..65].try_into().unwrap());
    assert_eq!(
        bs58::decode(out["signature"].as_str().unwrap())
            .into_vec()
            .unwrap(),
        wire[1..65].to_vec(),
        "the base58 signature is the one in the transaction"
    );
    vk.verify_strict(&message, &tx_sig)
        .expect("the runtime's strict Ed25519 check");
    let mut tampered = message.clone();
    *tampered.last_mut().unwrap() ^= 1;
    assert!(vk.verify_strict(&tampered, &tx_sig).is_err());

    // Refresh: every operator gets a new share of the same key; signing goes on under it.
    let r = net.json(&[
        "key",
        "refresh",
        "--key",
        &ed_key,
        "--timeout",
        "90",
        "--json",
    ]);
    assert_eq!(r["status"].as_str().unwrap(), "done");
    let refreshed: tessera_ledger::Hash32 = r["session"].as_str().unwrap().parse().unwrap();
    let s = net.json(&[
        "sign",
        "--key",
        &ed_key,
        "--message",
        "after the refresh",
        "--json",
    ]);
    let sig = hex::decode(s["signature"].as_str().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_bytes(&sig.try_into().unwrap());
    vk.verify_strict(b"after the refresh", &sig)
        .expect("signed with the refreshed shares, under the same key");

    // --- BIP340: plain signing, then a Taproot key-path spend. ---
    let (tr_key, tr_pk) = create(&net, "schnorr-bip340");
    let xonly = k256::schnorr::VerifyingKey::from_bytes(&tr_pk).expect("an x-only key");
    let digest = [0x5a; 32];
    let s = net.json(&[
        "sign",
        "--key",
        &tr_key,
        "--digest",
        &hex::encode(digest),
        "--json",
    ]);
    let sig = hex::decode(s["signature"].as_str().unwrap()).unwrap();
    let sig = k256::schnorr::Signature::try_from(sig.as_slice()).unwrap();
    xonly
        .verify_raw(&digest, &sig)
        .expect("BIP340 signature under the key");
    assert!(xonly.verify_raw(&[0x5b; 32], &sig).is_err());
    // A BIP340 key takes a 32-byte message only: refused before anything is submitted.
    let bad = net.cli(&["sign", "--key", &tr_key, "--digest", "abcd"]);
    assert!(!bad.status.success());

    let btc = net.json(&[
        "btc",
        "address",
        "--key",
        &tr_key,
        "--network",
        "regtest",
        "--json",
    ]);
    assert_eq!(btc["type"].as_str().unwrap(), "p2tr");
    let address = btc["address"]
        .as_str()
        .unwrap()
        .parse::<bitcoin::Address<_>>()
        .unwrap()
        .require_network(bitcoin::Network::Regtest)
        .unwrap();
    let spk = address.script_pubkey();
    // Segwit v1 whose program is the key itself: the key is already the output key.
    assert_eq!(spk.as_bytes()[..2], [0x51, 0x20]);
    assert_eq!(&spk.as_bytes()[2..], tr_pk.as_slice());

    let prevouts = [
        TxOut {
            value: Amount::from_sat(60_000),
            script_pubkey: spk.clone(),
        },
        TxOut {
            value: Amount::from_sat(70_000),
            script_pubkey: spk.clone(),
        },
    ];
    let unsigned = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: (0..2u8)
            .map(|i| TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_byte_array([i + 7; 32]),
                    vout: u32::from(i),
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: vec![TxOut {
            value: Amount::from_sat(125_000),
            script_pubkey: ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([9; 20])),
        }],
    };
    let mut psbt = Psbt::from_unsigned_tx(unsigned).unwrap();
    for (input, prev) in psbt.inputs.iter_mut().zip(&prevouts) {
        input.witness_utxo = Some(prev.clone());
    }
    let out = net.json(&[
        "btc",
        "sign-psbt",
        "--key",
        &tr_key,
        "--psbt",
        &psbt.to_string(),
        "--json",
    ]);
    let tx: Transaction =
        bitcoin::consensus::encode::deserialize_hex(out["tx_hex"].as_str().unwrap()).unwrap();
    assert_eq!(out["txid"].as_str().unwrap(), tx.compute_txid().to_string());
    for i in 0..2 {
        assert_eq!(tx.input[i].witness.len(), 1, "key path: one signature");
        assert!(
            core_verifies(&tx, i, &prevouts),
            "input {i} verifies in Bitcoin Core's interpreter"
        );
        let mut t = tx.clone();
        t.output[0].value = Amount::from_sat(125_001);
        assert!(
            !core_verifies(&t, i, &prevouts),
            "input {i}: tampered amount accepted"
        );
    }

    // Each key signs for its own chain only.
    let wrong = net.cli(&["sol", "address", "--key", &tr_key]);
    assert!(!wrong.status.success());
    assert!(String::from_utf8_lossy(&wrong.stderr).contains("eddsa-ed25519"));
    let wrong = net.cli(&["btc", "address", "--key", &ed_key]);
    assert!(!wrong.status.success());

    // The ledger ran FROST sessions, never presign sessions, for these keys; each request
    // is done with two signers and the signature the ledger checked.
    let (st, _log) = net.ledger_state();
    let ed_id: tessera_ledger::Hash32 = ed_key.parse().unwrap();
    assert_eq!(
        st.key(&ed_id).and_then(|k| k.generation),
        Some(refreshed),
        "the key uses the refreshed shares"
    );
    for k in [&ed_key, &tr_key] {
        let id: tessera_ledger::Hash32 = k.parse().unwrap();
        let sessions = st.presigns_for_key(&id);
        assert!(
            !sessions.is_empty() && sessions.iter().all(|p| p.frost),
            "{k}"
        );
    }
    let done = st
        .signature_requests()
        .into_iter()
        .filter(|r| r.is_schnorr())
        .filter(|r| matches!(&r.status, tessera_ledger::state::SignatureStatus::Done { signers, .. } if signers.len() == 2))
        .count();
    assert_eq!(done, 6, "3 plain signatures, 1 Solana, 2 Taproot inputs");
}

/// Geographic rule: operators in eu, us, ap, eu and every signing set spanning three regions.
/// Each signature's signers include the one `ap` operator; once it stops (SIGSTOP: alive to
/// the devnet, silent to the ledger) and its heartbeat lapses, no set can meet the rule and a
/// request fails at once with the reason.
#[test]
fn signers_span_the_required_regions_or_the_request_fails_saying_why() {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;

    let net = Devnet::start_with(
        "regions",
        4,
        3,
        &["--regions", "eu,us,ap", "--min-regions", "3"],
    );
    let (key, _) = create(&net, "eddsa-ed25519");
    for i in 0..3 {
        let text = format!("regional {i}");
        let s = net.json(&["sign", "--key", &key, "--message", &text, "--json"]);
        let signers: Vec<u64> = s["signers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .collect();
        assert_eq!(signers.len(), 3);
        assert!(
            signers.contains(&2),
            "the only ap operator signs: {signers:?}"
        );
    }
    let (st, _) = net.ledger_state();
    let ring = st.keyring("default").unwrap();
    assert_eq!(ring.min_regions, 3);
    let regions: Vec<&str> = ring.operators.iter().map(|o| o.region.as_str()).collect();
    assert_eq!(regions, ["eu", "us", "ap", "eu"]);

    let ap = Pid::from_raw(net.node_pid(2));
    kill(ap, Signal::SIGSTOP).unwrap();
    // The ledger's liveness window is 30 s.
    std::thread::sleep(std::time::Duration::from_secs(34));
    let out = net.cli(&[
        "sign",
        "--key",
        &key,
        "--message",
        "no ap",
        "--timeout",
        "60",
    ]);
    kill(ap, Signal::SIGCONT).unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("needs signers from 3 distinct regions") && err.contains("cover 2 (eu, us)"),
        "{err}"
    );
}
