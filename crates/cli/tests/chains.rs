//! `tessera eth …` and `tessera btc …` over a running devnet (3 operators, threshold 2): one
//! threshold ECDSA key signs a legacy and an EIP-1559 transaction, which a real EVM (revm)
//! executes with the sender recovered from the signature, a `personal_sign` message, and a
//! 2-input P2WPKH PSBT whose spend Bitcoin Core's script interpreter accepts.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, TxKind, U256};
use bitcoin::hashes::Hash;
use bitcoin::psbt::Psbt;
use bitcoin::{Amount, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness};
use common::Devnet;
use revm::context::TxEnv;
use revm::database::{CacheDB, EmptyDB};
use revm::state::AccountInfo;
use revm::{Context, ExecuteEvm, MainBuilder, MainContext};

const ETHER: u128 = 1_000_000_000_000_000_000;

/// Executes `raw` in revm with its recovered sender funded (10 ether) when it is `funded`;
/// returns the sender and what arrived at `to`.
fn execute(raw: &str, funded: Address) -> Result<(Address, U256), String> {
    let bytes = hex::decode(raw.trim_start_matches("0x")).map_err(|e| e.to_string())?;
    let env = TxEnvelope::decode_2718(&mut bytes.as_slice()).map_err(|e| format!("decode: {e}"))?;
    let sender = env.recover_signer().map_err(|e| format!("recover: {e}"))?;
    let mut db = CacheDB::<EmptyDB>::default();
    db.insert_account_info(
        funded,
        AccountInfo {
            balance: U256::from(10 * ETHER),
            nonce: env.nonce(),
            ..Default::default()
        },
    );
    let tx = TxEnv::builder()
        .caller(sender)
        .nonce(env.nonce())
        .gas_limit(env.gas_limit())
        .kind(env.kind())
        .value(env.value())
        .data(env.input().clone())
        .chain_id(env.chain_id());
    let tx = match &env {
        TxEnvelope::Legacy(t) => tx.tx_type(Some(0)).gas_price(t.tx().gas_price),
        TxEnvelope::Eip1559(t) => tx
            .tx_type(Some(2))
            .max_fee_per_gas(t.tx().max_fee_per_gas)
            .gas_priority_fee(Some(t.tx().max_priority_fee_per_gas)),
        other => return Err(format!("unexpected type {}", other.tx_type())),
    }
    .build()
    .map_err(|e| format!("{e:?}"))?;
    let chain_id = env.chain_id().unwrap_or(1);
    let mut evm = Context::mainnet()
        .with_db(db)
        .modify_cfg_chained(|c| c.chain_id = chain_id)
        .modify_block_chained(|b| b.basefee = 1_000_000_000)
        .build_mainnet();
    let out = evm
        .transact(tx)
        .map_err(|e| format!("EVM rejected: {e:?}"))?;
    if !out.result.is_success() {
        return Err(format!("EVM execution failed: {:?}", out.result));
    }
    let TxKind::Call(to) = env.kind() else {
        return Err("create".into());
    };
    Ok((
        sender,
        out.state
            .get(&to)
            .map(|a| a.info.balance)
            .unwrap_or_default(),
    ))
}

fn core_verifies(tx: &Transaction, index: usize, prevouts: &[TxOut]) -> bool {
    let prev = &prevouts[index];
    bitcoinconsensus::verify(
        prev.script_pubkey.as_bytes(),
        prev.value.to_sat(),
        &bitcoin::consensus::serialize(tx),
        None,
        index,
    )
    .is_ok()
}

#[test]
fn eth_and_btc_signing_over_the_network() {
    let net = Devnet::start_with("chains", 3, 2, &["--pool", "2"]);
    let key = net.json(&["key", "create", "--json"]);
    let key_id = key["key_id"].as_str().unwrap().to_string();
    let public_key = hex::decode(key["public_key"].as_str().unwrap()).unwrap();

    // Ethereum address: the key's, as tessera-chains computes it.
    let addr = net.json(&["eth", "address", "--key", &key_id, "--json"]);
    let address = addr["address"].as_str().unwrap().to_string();
    assert_eq!(address, tessera_chains::eth::address(&public_key).unwrap());
    let from: Address = address.parse().unwrap();

    let txs = [
        (
            r#"{"type":0,"chainId":1337,"nonce":0,"gasPrice":"2000000000","gas":21000,
            "to":"0x00000000000000000000000000000000000000bb","value":"1000000000000000000"}"#,
            U256::from(ETHER),
        ),
        (
            r#"{"type":2,"chainId":"0xaa36a7","nonce":"0x5","gas":"0x5208","maxFeePerGas":"0x77359400",
            "maxPriorityFeePerGas":"0x3b9aca00","to":"0x00000000000000000000000000000000000000cc",
            "value":"0x2386f26fc10000"}"#,
            U256::from(10_000_000_000_000_000u64),
        ),
    ];
    for (i, (json, value)) in txs.iter().enumerate() {
        let file = net.dir.join(format!("tx{i}.json"));
        std::fs::write(&file, json).unwrap();
        let out = net.json(&[
            "eth",
            "sign-tx",
            "--key",
            &key_id,
            "--tx",
            file.to_str().unwrap(),
            "--json",
        ]);
        assert_eq!(out["from"].as_str().unwrap(), address);
        let raw = out["raw_tx"].as_str().unwrap();
        let (sender, arrived) = execute(raw, from).unwrap();
        assert_eq!(sender, from, "tx {i}: the EVM recovers the key's address");
        assert_eq!(arrived, *value, "tx {i}: value arrives at `to`");
        let bytes = hex::decode(&raw[2..]).unwrap();
        assert_eq!(
            out["hash"].as_str().unwrap(),
            alloy_primitives::keccak256(&bytes).to_string()
        );
        // A changed byte in the value field: rejected, or it spends from someone else.
        let mut bad = bytes.clone();
        let at = bytes.len() - 70;
        bad[at] ^= 0x01;
        if let Ok((s, _)) = execute(&format!("0x{}", hex::encode(&bad)), from) {
            assert_ne!(s, from);
        }
    }

    // personal_sign: recovers the address.
    let m = net.json(&[
        "eth",
        "sign-message",
        "--key",
        &key_id,
        "--message",
        "hello tessera",
        "--json",
    ]);
    let sig = hex::decode(&m["signature"].as_str().unwrap()[2..]).unwrap();
    let sig = alloy_primitives::Signature::from_raw(&sig).unwrap();
    assert_eq!(sig.recover_address_from_msg("hello tessera").unwrap(), from);

    // Bitcoin: a 2-input P2WPKH PSBT paying from the key's regtest address.
    let btc = net.json(&[
        "btc",
        "address",
        "--key",
        &key_id,
        "--network",
        "regtest",
        "--json",
    ]);
    let btc_address = btc["address"].as_str().unwrap();
    assert!(btc_address.starts_with("bcrt1q"), "{btc_address}");
    let spk = btc_address
        .parse::<bitcoin::Address<_>>()
        .unwrap()
        .require_network(bitcoin::Network::Regtest)
        .unwrap()
        .script_pubkey();
    let prevouts = [
        TxOut {
            value: Amount::from_sat(50_000),
            script_pubkey: spk.clone(),
        },
        TxOut {
            value: Amount::from_sat(80_000),
            script_pubkey: spk.clone(),
        },
    ];
    let unsigned = Transaction {
        version: bitcoin::transaction::Version::TWO,
        lock_time: bitcoin::absolute::LockTime::ZERO,
        input: (0..2u8)
            .map(|i| TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_byte_array([i + 1; 32]),
                    vout: u32::from(i),
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: vec![
            TxOut {
                value: Amount::from_sat(100_000),
                script_pubkey: ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(
                    [9; 20],
                )),
            },
            TxOut {
                value: Amount::from_sat(29_000),
                script_pubkey: spk.clone(),
            },
        ],
    };
    let mut psbt = Psbt::from_unsigned_tx(unsigned).unwrap();
    for (input, prev) in psbt.inputs.iter_mut().zip(&prevouts) {
        input.witness_utxo = Some(prev.clone());
    }
    let out = net.json(&[
        "btc",
        "sign-psbt",
        "--key",
        &key_id,
        "--psbt",
        &psbt.to_string(),
        "--json",
    ]);
    let tx: Transaction =
        bitcoin::consensus::encode::deserialize_hex(out["tx_hex"].as_str().unwrap()).unwrap();
    assert_eq!(out["txid"].as_str().unwrap(), tx.compute_txid().to_string());
    for i in 0..2 {
        assert!(
            core_verifies(&tx, i, &prevouts),
            "input {i} verifies in Bitcoin Core's interpreter"
        );
        let mut t = tx.clone();
        t.output[0].value = Amount::from_sat(100_001);
        assert!(
            !core_verifies(&t, i, &prevouts),
            "input {i}: tampered amount accepted"
        );
    }

    // A PSBT with no input of the key, and a garbage one: clear errors, non-zero exit.
    let other = net.cli(&[
        "btc",
        "sign-psbt",
        "--key",
        &key_id,
        "--psbt",
        "cHNidP8BAAoCAAAAAAAAAAAAAAA=",
    ]);
    assert!(!other.status.success());
    let err = String::from_utf8_lossy(&other.stderr);
    assert!(err.contains("PSBT") || err.contains("input"), "{err}");
}
