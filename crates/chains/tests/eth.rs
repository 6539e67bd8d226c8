//! Ethereum: known-answer vectors, and signed transactions executed by a real EVM (revm) with
//! the sender recovered from the encoded signature.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{Transaction as _, TxEnvelope};
use alloy_eips::eip2718::Decodable2718;
use alloy_primitives::{Address, TxKind, U256};
use k256::ecdsa::SigningKey;
use k256::elliptic_curve::ops::Reduce;
use revm::context::TxEnv;
use revm::database::{CacheDB, EmptyDB};
use revm::state::AccountInfo;
use revm::{Context, ExecuteEvm, MainBuilder, MainContext};
use tessera_chains::eth::{self, UnsignedTx};
use tessera_chains::EcdsaSignature;

const ETHER: u128 = 1_000_000_000_000_000_000;

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32].into()).unwrap()
}

fn sec1(sk: &SigningKey) -> Vec<u8> {
    sk.verifying_key()
        .to_encoded_point(true)
        .as_bytes()
        .to_vec()
}

/// A plain single-key signature over `digest` in the network's shape.
fn sign(sk: &SigningKey, digest: &[u8; 32]) -> EcdsaSignature {
    let (sig, recid) = sk.sign_prehash_recoverable(digest).unwrap();
    EcdsaSignature {
        r: sig.r().to_bytes().into(),
        s: sig.s().to_bytes().into(),
        recovery_id: recid.to_byte(),
    }
}

/// The same signature with `s` replaced by `n − s` (what threshold ECDSA may return).
fn high_s(sig: &EcdsaSignature) -> EcdsaSignature {
    let s = <k256::Scalar as Reduce<k256::U256>>::reduce_bytes(&sig.s.into());
    EcdsaSignature {
        r: sig.r,
        s: (-s).to_bytes().into(),
        recovery_id: sig.recovery_id ^ 1,
    }
}

/// What the EVM did with a raw transaction: the recovered sender and the balances after.
#[derive(Debug)]
struct Executed {
    sender: Address,
    to_balance: U256,
    sender_balance: U256,
}

/// Decodes `raw`, recovers its sender, funds `funded` with 10 ether and executes the
/// transaction in revm (Prague rules, basefee 1 gwei).
fn execute(raw: &str, funded: Address) -> Result<Executed, String> {
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
    let mut tx = TxEnv::builder()
        .caller(sender)
        .nonce(env.nonce())
        .gas_limit(env.gas_limit())
        .kind(env.kind())
        .value(env.value())
        .data(env.input().clone())
        .chain_id(env.chain_id());
    tx = match &env {
        TxEnvelope::Legacy(t) => tx.tx_type(Some(0)).gas_price(t.tx().gas_price),
        TxEnvelope::Eip1559(t) => tx
            .tx_type(Some(2))
            .max_fee_per_gas(t.tx().max_fee_per_gas)
            .gas_priority_fee(Some(t.tx().max_priority_fee_per_gas)),
        other => return Err(format!("unexpected type {}", other.tx_type())),
    };
    let tx = tx.build().map_err(|e| format!("{e:?}"))?;
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
    let to = match env.kind() {
        TxKind::Call(a) => a,
        TxKind::Create => return Err("create".into()),
    };
    let bal = |a: &Address| {
        out.state
            .get(a)
            .map(|acc| acc.info.balance)
            .unwrap_or_default()
    };
    Ok(Executed {
        sender,
        to_balance: bal(&to),
        sender_balance: bal(&sender),
    })
}

const LEGACY: &str = r#"{"type":"legacy","chainId":1,"nonce":9,"gasPrice":"20000000000","gas":21000,
    "to":"0x3535353535353535353535353535353535353535","value":"1000000000000000000","data":"0x"}"#;

const EIP1559: &str = r#"{"type":"0x2","chainId":"0xaa36a7","nonce":"0x3","gas":"0x5208",
    "maxFeePerGas":"0x77359400","maxPriorityFeePerGas":"0x3b9aca00",
    "to":"0x00000000000000000000000000000000000000aa","value":"0x2386f26fc10000"}"#;

#[test]
fn address_of_private_key_one_is_the_known_eip55_address() {
    let sk = SigningKey::from_slice(&{
        let mut b = [0u8; 32];
        b[31] = 1;
        b
    })
    .unwrap();
    assert_eq!(
        eth::address(&sec1(&sk)).unwrap(),
        "0x7E5F4552091A69125d5DfCb7b8C2659029395Bdf"
    );
    // x ≥ p is no point; prefix 5 is no SEC1 encoding; 32 bytes is too short.
    let mut not_a_point = [0xffu8; 33];
    not_a_point[0] = 2;
    assert!(eth::address(&not_a_point).is_err());
    let mut bad_prefix = sec1(&sk);
    bad_prefix[0] = 5;
    assert!(eth::address(&bad_prefix).is_err());
    assert!(eth::address(&sec1(&sk)[..32]).is_err());
}

/// The example of EIP-155 itself: signing hash and signed transaction byte for byte.
#[test]
fn eip155_example_from_the_eip() {
    let tx = eth::parse_tx(LEGACY).unwrap();
    assert_eq!(
        hex::encode(tx.signing_hash()),
        "daf5a779ae972f972197303d7b574746c7ef83eadac0f2791ad23db92e4c8e53"
    );
    let sk = key(0x46);
    let sig = sign(&sk, &tx.signing_hash());
    let signed = tx.assemble(&sec1(&sk), &sig).unwrap();
    assert_eq!(
        signed.raw_tx,
        "0xf86c098504a817c800825208943535353535353535353535353535353535353535880de0b6b3a76400008025a028ef61340bd939bc2195fe537567866003e1a15d3c71ff63e1590620aa636276a067cbe9d8997f761aecb703304b3800ccf555c9f3dc64214b297fb1966a3b6d83"
    );
    assert_eq!(signed.from, "0x9d8A62f656a8d1615C1294fd71e9CFb3E4855A4F");
}

#[test]
fn legacy_and_eip1559_transactions_execute_in_revm() {
    let sk = key(7);
    let from: Address = eth::address(&sec1(&sk)).unwrap().parse().unwrap();
    for (json, value) in [
        (LEGACY, U256::from(ETHER)),
        (EIP1559, U256::from(10_000_000_000_000_000u64)),
    ] {
        let tx = eth::parse_tx(json).unwrap();
        let sig = sign(&sk, &tx.signing_hash());
        let signed = tx.assemble(&sec1(&sk), &sig).unwrap();
        assert_eq!(signed.from, from.to_checksum(None));
        let done = execute(&signed.raw_tx, from).unwrap();
        assert_eq!(done.sender, from);
        assert_eq!(done.to_balance, value, "value arrives at `to`");
        assert!(
            done.sender_balance < U256::from(10 * ETHER) - value,
            "gas was paid"
        );
        // The hash is keccak of the encoding.
        let raw = hex::decode(&signed.raw_tx[2..]).unwrap();
        assert_eq!(
            signed.hash,
            format!("{}", alloy_primitives::keccak256(&raw))
        );
    }
}

#[test]
fn high_s_is_normalised_to_the_same_transaction() {
    let sk = key(9);
    for json in [LEGACY, EIP1559] {
        let tx = eth::parse_tx(json).unwrap();
        let sig = sign(&sk, &tx.signing_hash());
        let high = high_s(&sig);
        assert_ne!(high.s, sig.s);
        let a = tx.clone().assemble(&sec1(&sk), &sig).unwrap();
        let b = tx.clone().assemble(&sec1(&sk), &high).unwrap();
        assert_eq!(a, b);
        // Keeping the recovery id while flipping s recovers another key: refused.
        let wrong = EcdsaSignature {
            recovery_id: sig.recovery_id,
            ..high
        };
        assert!(tx.clone().assemble(&sec1(&sk), &wrong).is_err());
        // A signature by another key is refused.
        let other = sign(&key(10), &tx.signing_hash());
        assert!(tx.assemble(&sec1(&sk), &other).is_err());
    }
}

#[test]
fn a_tampered_raw_transaction_is_rejected_or_moves_nothing_from_the_key() {
    let sk = key(7);
    let from: Address = eth::address(&sec1(&sk)).unwrap().parse().unwrap();
    for json in [LEGACY, EIP1559] {
        let tx = eth::parse_tx(json).unwrap();
        let signed = tx
            .assemble(
                &sec1(&sk),
                &sign(&sk, &eth::parse_tx(json).unwrap().signing_hash()),
            )
            .unwrap();
        let raw = hex::decode(&signed.raw_tx[2..]).unwrap();
        let mut checked = 0;
        // Flip one bit in every byte position in turn (the value, the recipient, the signature…).
        for i in 0..raw.len() {
            let mut bad = raw.clone();
            bad[i] ^= 0x01;
            match execute(&format!("0x{}", hex::encode(&bad)), from) {
                Err(_) => {}
                Ok(done) => {
                    assert_ne!(
                        done.sender, from,
                        "byte {i}: tampered tx spent from the key"
                    );
                }
            }
            checked += 1;
        }
        assert_eq!(checked, raw.len());
    }
}

#[test]
fn personal_sign_recovers_the_address() {
    let sk = key(5);
    let msg = b"hello tessera";
    let digest = eth::personal_message_hash(msg);
    let out = eth::personal_signature(&sec1(&sk), msg, &high_s(&sign(&sk, &digest))).unwrap();
    let bytes = hex::decode(&out[2..]).unwrap();
    assert_eq!(bytes.len(), 65);
    assert!(bytes[64] == 27 || bytes[64] == 28);
    let sig = alloy_primitives::Signature::from_raw(&bytes).unwrap();
    let addr = sig.recover_address_from_msg(&msg[..]).unwrap();
    assert_eq!(addr.to_checksum(None), eth::address(&sec1(&sk)).unwrap());
    assert_ne!(
        sig.recover_address_from_msg(&b"hello tesserb"[..]).unwrap(),
        addr
    );
}

#[test]
fn bad_transaction_json_gets_a_clear_error() {
    let cases = [
        ("[]", "object"),
        ("{", "not JSON"),
        (
            r#"{"chainId":1,"nonce":0,"gas":21000,"gasPrice":1,"accessList":[]}"#,
            "accessList",
        ),
        (r#"{"nonce":0,"gas":21000,"gasPrice":1}"#, "chainId"),
        (r#"{"chainId":1,"nonce":0,"gas":21000}"#, "gasPrice"),
        (
            r#"{"chainId":1,"nonce":"0x","gas":21000,"gasPrice":1}"#,
            "empty hex",
        ),
        (
            r#"{"chainId":1,"nonce":-1,"gas":21000,"gasPrice":1}"#,
            "nonce",
        ),
        (
            r#"{"chainId":1,"nonce":"0x1ffffffffffffffff","gas":21000,"gasPrice":1}"#,
            "too large",
        ),
        (
            r#"{"chainId":1,"nonce":0,"gas":21000,"gasPrice":1,"to":"0x12"}"#,
            "20-byte",
        ),
        (
            r#"{"chainId":1,"nonce":0,"gas":21000,"gasPrice":1,"data":"zz"}"#,
            "hex",
        ),
        (
            r#"{"type":1,"chainId":1,"nonce":0,"gas":21000,"gasPrice":1}"#,
            "type 1",
        ),
        (
            r#"{"type":2,"chainId":1,"nonce":0,"gas":1,"maxFeePerGas":1,"maxPriorityFeePerGas":2}"#,
            "exceeds",
        ),
        (
            r#"{"type":2,"chainId":1,"nonce":0,"gas":1,"gasPrice":1,"maxFeePerGas":1,"maxPriorityFeePerGas":1}"#,
            "gasPrice",
        ),
    ];
    for (json, want) in cases {
        let e = eth::parse_tx(json).unwrap_err().to_string();
        assert!(e.contains(want), "{json}: {e}");
    }
    // Decimal and hex quantities mean the same.
    let a = eth::parse_tx(r#"{"chainId":"0x1","nonce":"10","gas":"0x5208","gasPrice":"1000"}"#)
        .unwrap();
    let b = eth::parse_tx(r#"{"chainId":1,"nonce":"0xa","gas":21000,"gasPrice":"0x3e8"}"#).unwrap();
    assert_eq!(a, b);
    assert!(matches!(a, UnsignedTx::Legacy(_)));
}

/// The project's threshold ECDSA (2-of-3, pregenerated key) signs both transaction types.
#[test]
fn threshold_ecdsa_signature_goes_through() {
    use tessera_core::PartyIndex;
    use tessera_ecdsa::SignRequest;
    use tessera_sim::{fixtures, Seed};
    let shares = fixtures::key_shares(include_bytes!("../../../test-data/keys-2of3.bin")).unwrap();
    let point = shares[0].public_key_point().unwrap().to_affine();
    let vk = k256::ecdsa::VerifyingKey::from_affine(point).unwrap();
    let pk = vk.to_encoded_point(true).as_bytes().to_vec();
    let from: Address = eth::address(&pk).unwrap().parse().unwrap();
    let shares: Vec<Arc<_>> = shares.into_iter().map(Arc::new).collect();
    for (i, json) in [LEGACY, EIP1559].into_iter().enumerate() {
        let tx = eth::parse_tx(json).unwrap();
        let presigs = tessera_sim::presign(
            &shares,
            &[PartyIndex(0), PartyIndex(2)],
            Seed::from_u64(i as u64),
        )
        .unwrap();
        let s = tessera_sim::sign(
            presigs,
            &SignRequest {
                digest: tx.signing_hash(),
                tweak: k256::Scalar::ZERO,
                entropy: [i as u8; 32],
            },
        )
        .unwrap();
        let sig = EcdsaSignature {
            r: s.r,
            s: s.s,
            recovery_id: s.recovery_id,
        };
        for sig in [sig, high_s(&sig)] {
            let signed = tx.clone().assemble(&pk, &sig).unwrap();
            let done = execute(&signed.raw_tx, from).unwrap();
            assert_eq!(done.sender, from);
            assert!(done.to_balance > U256::ZERO);
        }
    }
}
