//! Bitcoin: address vectors, and PSBT spends checked by Bitcoin Core's script interpreter
//! (`bitcoinconsensus`): P2WPKH with ECDSA (plain keys and the project's threshold ECDSA) and
//! P2TR key path with a FROST (`frost-secp256k1-tr`) threshold BIP340 signature.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;
use std::str::FromStr;
use std::sync::Arc;

use bitcoin::absolute::LockTime;
use bitcoin::hashes::Hash;
use bitcoin::psbt::Psbt;
use bitcoin::transaction::Version;
use bitcoin::{
    Amount, Network, OutPoint, ScriptBuf, Sequence, Transaction, TxIn, TxOut, Txid, Witness,
};
use k256::ecdsa::SigningKey;
use k256::elliptic_curve::ops::Reduce;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_chains::btc::{self, BtcKey, InputSignature};
use tessera_chains::{EcdsaSignature, Scheme};

fn key(byte: u8) -> SigningKey {
    SigningKey::from_bytes(&[byte; 32].into()).unwrap()
}

fn sec1(sk: &SigningKey) -> Vec<u8> {
    sk.verifying_key()
        .to_encoded_point(true)
        .as_bytes()
        .to_vec()
}

fn ecdsa(sk: &SigningKey, digest: &[u8; 32]) -> EcdsaSignature {
    let (sig, recid) = sk.sign_prehash_recoverable(digest).unwrap();
    EcdsaSignature {
        r: sig.r().to_bytes().into(),
        s: sig.s().to_bytes().into(),
        recovery_id: recid.to_byte(),
    }
}

fn high_s(sig: &EcdsaSignature) -> EcdsaSignature {
    let s = <k256::Scalar as Reduce<k256::U256>>::reduce_bytes(&sig.s.into());
    EcdsaSignature {
        r: sig.r,
        s: (-s).to_bytes().into(),
        recovery_id: sig.recovery_id ^ 1,
    }
}

/// A PSBT spending `prevouts` (each a fake outpoint) to two outputs, fee 1000 sat.
fn psbt(prevouts: &[TxOut]) -> Psbt {
    let total: u64 = prevouts.iter().map(|p| p.value.to_sat()).sum();
    let tx = Transaction {
        version: Version::TWO,
        lock_time: LockTime::ZERO,
        input: (0..prevouts.len())
            .map(|i| TxIn {
                previous_output: OutPoint {
                    txid: Txid::from_byte_array([i as u8 + 1; 32]),
                    vout: i as u32,
                },
                script_sig: ScriptBuf::new(),
                sequence: Sequence::ENABLE_RBF_NO_LOCKTIME,
                witness: Witness::new(),
            })
            .collect(),
        output: vec![
            TxOut {
                value: Amount::from_sat(30_000),
                script_pubkey: ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array(
                    [9; 20],
                )),
            },
            TxOut {
                value: Amount::from_sat(total - 30_000 - 1_000),
                script_pubkey: prevouts[0].script_pubkey.clone(),
            },
        ],
    };
    let mut p = Psbt::from_unsigned_tx(tx).unwrap();
    for (input, prev) in p.inputs.iter_mut().zip(prevouts) {
        input.witness_utxo = Some(prev.clone());
    }
    p
}

fn out(spk: &ScriptBuf, sat: u64) -> TxOut {
    TxOut {
        value: Amount::from_sat(sat),
        script_pubkey: spk.clone(),
    }
}

/// Bitcoin Core's verdict on input `index` of `tx` (all flags, Taproot included).
fn core_verifies(tx: &Transaction, index: usize, prevouts: &[TxOut]) -> bool {
    let bytes = bitcoin::consensus::serialize(tx);
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
        &bytes,
        Some(&utxos),
        index,
    )
    .is_ok()
}

fn decode(hex_tx: &str) -> Transaction {
    bitcoin::consensus::encode::deserialize_hex(hex_tx).unwrap()
}

/// Each input verifies; changing an output's amount or script, or claiming another spent
/// amount, makes Core reject every input.
fn assert_valid_and_tamper_evident(tx: &Transaction, prevouts: &[TxOut]) {
    for i in 0..tx.input.len() {
        assert!(core_verifies(tx, i, prevouts), "input {i} verifies");
        let mut t = tx.clone();
        t.output[0].value += Amount::from_sat(1);
        assert!(
            !core_verifies(&t, i, prevouts),
            "input {i}: tampered amount accepted"
        );
        let mut t = tx.clone();
        t.output[0].script_pubkey =
            ScriptBuf::new_p2wpkh(&bitcoin::WPubkeyHash::from_byte_array([8; 20]));
        assert!(
            !core_verifies(&t, i, prevouts),
            "input {i}: tampered recipient accepted"
        );
        let mut lying = prevouts.to_vec();
        lying[i].value += Amount::from_sat(1);
        assert!(
            !core_verifies(tx, i, &lying),
            "input {i}: wrong spent amount accepted"
        );
    }
}

#[test]
fn address_vectors_bip84_and_bip86() {
    // BIP84: m/84'/0'/0'/0/0 of "abandon … about".
    let pk =
        hex::decode("0330d54fd0dd420a6e5f8d3624f5f3482cae350f79d5f0753bf5beef9c2d91af3c").unwrap();
    assert_eq!(
        btc::p2wpkh_address(&pk, Network::Bitcoin).unwrap(),
        "bc1qcr8te4kr609gcawutmrza0j4xv80jy8z306fyu"
    );
    assert!(btc::p2wpkh_address(&pk, Network::Regtest)
        .unwrap()
        .starts_with("bcrt1q"));
    assert!(btc::p2wpkh_address(&pk, Network::Testnet)
        .unwrap()
        .starts_with("tb1q"));
    // BIP86: m/86'/0'/0'/0/0 internal key.
    let internal =
        hex::decode("cc8a4bc64d897bddc5fbc2f670f7a8ba0b386779106cf1223c6fc5d7cd6fc115").unwrap();
    assert_eq!(
        btc::p2tr_address(&internal, Network::Bitcoin).unwrap(),
        "bc1p5cyxnuxmeuwuvkwfem96lqzszd02n6xdcjrs20cac6yqjjwudpxqkedrcr"
    );
    assert!(btc::p2wpkh_address(&pk[..32], Network::Bitcoin).is_err());
    assert!(btc::p2tr_address(&[0u8; 32], Network::Bitcoin).is_err());
    assert!(btc::parse_network("litecoin").is_err());
}

#[test]
fn p2wpkh_psbt_with_two_inputs_is_accepted_by_bitcoin_core() {
    let sk = key(3);
    let k = BtcKey::new(Scheme::EcdsaSecp256k1, &sec1(&sk)).unwrap();
    let spk = k.script_pubkey();
    let prevouts = [out(&spk, 50_000), out(&spk, 70_000)];
    let p = psbt(&prevouts);
    let prepared = btc::prepare_psbt(&p.to_string(), k).unwrap();
    assert_eq!(
        prepared
            .to_sign()
            .iter()
            .map(|i| i.index)
            .collect::<Vec<_>>(),
        [0, 1]
    );
    assert_ne!(prepared.to_sign()[0].sighash, prepared.to_sign()[1].sighash);
    // One signature as threshold ECDSA may return it (high s): normalised to DER low-s.
    let sigs: Vec<InputSignature> = prepared
        .to_sign()
        .iter()
        .enumerate()
        .map(|(n, i)| {
            let s = ecdsa(&sk, &i.sighash);
            InputSignature::Ecdsa(if n == 0 { high_s(&s) } else { s })
        })
        .collect();
    let signed = prepared.finalize(&sigs).unwrap();
    let tx = decode(signed.tx_hex.as_ref().unwrap());
    assert_eq!(
        signed.txid.as_deref(),
        Some(tx.compute_txid().to_string().as_str())
    );
    assert_valid_and_tamper_evident(&tx, &prevouts);
    // Core enforces low s (standardness is not consensus, so check the encoding directly).
    for input in &tx.input {
        let sig = bitcoin::ecdsa::Signature::from_slice(input.witness.nth(0).unwrap()).unwrap();
        let mut low = sig.signature;
        low.normalize_s();
        assert_eq!(low, sig.signature);
    }
    // The returned PSBT is final and extracts to the same transaction.
    let back = Psbt::from_str(&signed.psbt).unwrap();
    assert_eq!(back.extract_tx().unwrap(), tx);
}

#[test]
fn a_wrong_signature_is_refused_before_finalising() {
    let sk = key(3);
    let k = BtcKey::new(Scheme::EcdsaSecp256k1, &sec1(&sk)).unwrap();
    let spk = k.script_pubkey();
    let p = psbt(&[out(&spk, 50_000), out(&spk, 70_000)]);
    let prepared = btc::prepare_psbt(&p.to_string(), k).unwrap();
    let d = prepared.to_sign()[0].sighash;
    // Both signatures over input 0's digest: input 1's is wrong.
    let sigs = [
        InputSignature::Ecdsa(ecdsa(&sk, &d)),
        InputSignature::Ecdsa(ecdsa(&sk, &d)),
    ];
    let e = prepared.clone().finalize(&sigs).unwrap_err().to_string();
    assert!(e.contains("input 1"), "{e}");
    assert!(prepared.clone().finalize(&sigs[..1]).is_err());
    assert!(prepared
        .finalize(&[InputSignature::Schnorr([1; 64]); 2])
        .is_err());
}

#[test]
fn only_the_keys_inputs_are_signed_and_the_rest_left_open() {
    let sk = key(3);
    let k = BtcKey::new(Scheme::EcdsaSecp256k1, &sec1(&sk)).unwrap();
    let theirs = BtcKey::new(Scheme::EcdsaSecp256k1, &sec1(&key(4))).unwrap();
    let prevouts = [
        out(&theirs.script_pubkey(), 20_000),
        out(&k.script_pubkey(), 70_000),
    ];
    let p = psbt(&prevouts);
    let prepared = btc::prepare_psbt(&p.to_string(), k).unwrap();
    assert_eq!(prepared.to_sign().len(), 1);
    assert_eq!(prepared.to_sign()[0].index, 1);
    let sig = InputSignature::Ecdsa(ecdsa(&sk, &prepared.to_sign()[0].sighash));
    let signed = prepared.finalize(&[sig]).unwrap();
    assert!(signed.tx_hex.is_none());
    let back = Psbt::from_str(&signed.psbt).unwrap();
    assert!(back.inputs[0].final_script_witness.is_none());
    assert!(back.inputs[1].final_script_witness.is_some());
    // A key with no input in the PSBT is told so.
    let none = BtcKey::new(Scheme::EcdsaSecp256k1, &sec1(&key(5))).unwrap();
    let e = btc::prepare_psbt(&p.to_string(), none)
        .unwrap_err()
        .to_string();
    assert!(e.contains("no input"), "{e}");
}

#[test]
fn malformed_psbts_and_unsupported_sighash_types_get_clear_errors() {
    let sk = key(3);
    let k = BtcKey::new(Scheme::EcdsaSecp256k1, &sec1(&sk)).unwrap();
    for bad in ["", "not base64!", "cHNidP8=", "AAAA"] {
        let e = btc::prepare_psbt(bad, k).unwrap_err().to_string();
        assert!(e.starts_with("invalid PSBT"), "{bad}: {e}");
    }
    let mut p = psbt(&[out(&k.script_pubkey(), 50_000)]);
    p.inputs[0].sighash_type = Some(bitcoin::EcdsaSighashType::None.into());
    let e = btc::prepare_psbt(&p.to_string(), k)
        .unwrap_err()
        .to_string();
    assert!(e.contains("SIGHASH_ALL"), "{e}");
    // Truncations of a valid PSBT never panic.
    let good = psbt(&[out(&k.script_pubkey(), 50_000)]).serialize();
    for n in 0..good.len() {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.encode(&good[..n]);
        assert!(btc::prepare_psbt(&b, k).is_err());
    }
}

/// A 2-of-3 FROST key (trusted dealer) and BIP341-tweaked threshold signing with 2 signers.
struct FrostKey {
    packages: BTreeMap<frost_secp256k1_tr::Identifier, frost_secp256k1_tr::keys::KeyPackage>,
    public: frost_secp256k1_tr::keys::PublicKeyPackage,
    rng: ChaCha20Rng,
}

impl FrostKey {
    fn new(seed: u64) -> FrostKey {
        use frost_secp256k1_tr as frost;
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (shares, public) =
            frost::keys::generate_with_dealer(3, 2, frost::keys::IdentifierList::Default, &mut rng)
                .unwrap();
        let packages = shares
            .into_iter()
            .map(|(id, s)| (id, frost::keys::KeyPackage::try_from(s).unwrap()))
            .collect();
        FrostKey {
            packages,
            public,
            rng,
        }
    }

    fn public_key(&self) -> Vec<u8> {
        self.public.verifying_key().serialize().unwrap()
    }

    fn sign(&mut self, msg: &[u8; 32]) -> [u8; 64] {
        use frost_secp256k1_tr as frost;
        let signers: Vec<_> = self.packages.keys().skip(1).copied().collect();
        let mut nonces = BTreeMap::new();
        let mut commitments = BTreeMap::new();
        for id in &signers {
            let (n, c) = frost::round1::commit(self.packages[id].signing_share(), &mut self.rng);
            nonces.insert(*id, n);
            commitments.insert(*id, c);
        }
        let package = frost::SigningPackage::new(commitments, msg);
        let shares: BTreeMap<_, _> = signers
            .iter()
            .map(|id| {
                (
                    *id,
                    frost::round2::sign_with_tweak(&package, &nonces[id], &self.packages[id], None)
                        .unwrap(),
                )
            })
            .collect();
        let sig = frost::aggregate_with_tweak(&package, &shares, &self.public, None).unwrap();
        sig.serialize().unwrap().try_into().unwrap()
    }
}

#[test]
fn p2tr_key_path_psbt_signed_by_frost_is_accepted_by_bitcoin_core() {
    let mut frost = FrostKey::new(11);
    let pk = frost.public_key();
    assert_eq!(pk.len(), 33);
    let k = BtcKey::new(Scheme::Bip340, &pk).unwrap();
    assert!(k
        .address(Network::Regtest)
        .to_string()
        .starts_with("bcrt1p"));
    let spk = k.script_pubkey();
    let prevouts = [out(&spk, 40_000), out(&spk, 90_000)];
    let prepared = btc::prepare_psbt(&psbt(&prevouts).to_string(), k).unwrap();
    assert!(prepared
        .to_sign()
        .iter()
        .all(|i| i.scheme == Scheme::Bip340));
    let sigs: Vec<_> = prepared
        .to_sign()
        .iter()
        .map(|i| InputSignature::Schnorr(frost.sign(&i.sighash)))
        .collect();
    let signed = prepared.clone().finalize(&sigs).unwrap();
    let tx = decode(signed.tx_hex.as_ref().unwrap());
    assert_eq!(tx.input[0].witness.len(), 1);
    assert_eq!(
        tx.input[0].witness.nth(0).unwrap().len(),
        64,
        "SIGHASH_DEFAULT: no sighash byte"
    );
    assert_valid_and_tamper_evident(&tx, &prevouts);
    // A FROST signature without the BIP341 tweak is refused by our check.
    let untweaked = {
        use frost_secp256k1_tr as f;
        let signers: Vec<_> = frost.packages.keys().take(2).copied().collect();
        let mut nonces = BTreeMap::new();
        let mut comms = BTreeMap::new();
        for id in &signers {
            let (n, c) = f::round1::commit(frost.packages[id].signing_share(), &mut frost.rng);
            nonces.insert(*id, n);
            comms.insert(*id, c);
        }
        let pkg = f::SigningPackage::new(comms, &prepared.to_sign()[0].sighash);
        let sh: BTreeMap<_, _> = signers
            .iter()
            .map(|id| {
                (
                    *id,
                    f::round2::sign(&pkg, &nonces[id], &frost.packages[id]).unwrap(),
                )
            })
            .collect();
        let s: [u8; 64] = f::aggregate(&pkg, &sh, &frost.public)
            .unwrap()
            .serialize()
            .unwrap()
            .try_into()
            .unwrap();
        s
    };
    let mut bad = sigs.clone();
    bad[0] = InputSignature::Schnorr(untweaked);
    let e = prepared.finalize(&bad).unwrap_err().to_string();
    assert!(e.contains("tweaked"), "{e}");
}

/// A `schnorr-bip340` key as the network stores it is the tweaked output key `Q`: as
/// `BtcKey::TaprootOutput` it pays to the same address and signs the same spends as the
/// internal key `P` it was tweaked from.
#[test]
fn p2tr_output_key_form_matches_the_internal_key_form() {
    let mut frost = FrostKey::new(13);
    let internal = BtcKey::new(Scheme::Bip340, &frost.public_key()).unwrap();
    let q = internal.output_key().unwrap();
    let output = BtcKey::taproot_output(&q.serialize()).unwrap();
    assert_eq!(output.output_key(), Some(q));
    for network in [Network::Bitcoin, Network::Testnet, Network::Regtest] {
        assert_eq!(output.address(network), internal.address(network));
    }
    let spk = output.script_pubkey();
    let prevouts = [out(&spk, 50_000)];
    let prepared = btc::prepare_psbt(&psbt(&prevouts).to_string(), output).unwrap();
    let sigs: Vec<_> = prepared
        .to_sign()
        .iter()
        .map(|i| InputSignature::Schnorr(frost.sign(&i.sighash)))
        .collect();
    let signed = prepared.finalize(&sigs).unwrap();
    assert_valid_and_tamper_evident(&decode(signed.tx_hex.as_ref().unwrap()), &prevouts);
    // Taking Q for an internal key would tweak twice: another address.
    let twice = BtcKey::new(Scheme::Bip340, &q.serialize()).unwrap();
    assert_ne!(
        twice.address(Network::Regtest),
        output.address(Network::Regtest)
    );
    assert!(BtcKey::taproot_output(&[0xff; 32]).is_err());
}

#[test]
fn p2tr_needs_every_previous_output() {
    let frost = FrostKey::new(12);
    let k = BtcKey::new(Scheme::Bip340, &frost.public_key()).unwrap();
    let other = BtcKey::new(Scheme::EcdsaSecp256k1, &sec1(&key(4))).unwrap();
    let mut p = psbt(&[
        out(&k.script_pubkey(), 40_000),
        out(&other.script_pubkey(), 10_000),
    ]);
    p.inputs[1].witness_utxo = None;
    let e = btc::prepare_psbt(&p.to_string(), k)
        .unwrap_err()
        .to_string();
    assert!(e.contains("input 1 has no previous output"), "{e}");
}

/// The project's threshold ECDSA (2-of-3, pregenerated key) spends a P2WPKH PSBT.
#[test]
fn threshold_ecdsa_spends_p2wpkh() {
    use tessera_core::PartyIndex;
    use tessera_ecdsa::SignRequest;
    use tessera_sim::{fixtures, Seed};
    let shares = fixtures::key_shares(include_bytes!("../../../test-data/keys-2of3.bin")).unwrap();
    let vk =
        k256::ecdsa::VerifyingKey::from_affine(shares[0].public_key_point().unwrap().to_affine())
            .unwrap();
    let pk = vk.to_encoded_point(true).as_bytes().to_vec();
    let shares: Vec<Arc<_>> = shares.into_iter().map(Arc::new).collect();
    let k = BtcKey::new(Scheme::EcdsaSecp256k1, &pk).unwrap();
    let prevouts = [out(&k.script_pubkey(), 60_000)];
    let prepared = btc::prepare_psbt(&psbt(&prevouts).to_string(), k).unwrap();
    let presigs =
        tessera_sim::presign(&shares, &[PartyIndex(1), PartyIndex(2)], Seed::from_u64(5)).unwrap();
    let s = tessera_sim::sign(
        presigs,
        &SignRequest {
            digest: prepared.to_sign()[0].sighash,
            tweak: k256::Scalar::ZERO,
            entropy: [3; 32],
        },
    )
    .unwrap();
    let sig = InputSignature::Ecdsa(EcdsaSignature {
        r: s.r,
        s: s.s,
        recovery_id: s.recovery_id,
    });
    let signed = prepared.finalize(&[sig]).unwrap();
    let tx = decode(signed.tx_hex.as_ref().unwrap());
    assert_valid_and_tamper_evident(&tx, &prevouts);
}
