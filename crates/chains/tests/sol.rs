//! Solana: a message signed by FROST(Ed25519) threshold signing, assembled into a transaction
//! whose signatures verify as the runtime checks them (`verify_strict` over the message bytes).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeMap;

use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_chains::sol;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// 2-of-3 FROST(Ed25519), trusted dealer.
struct FrostKey {
    packages: BTreeMap<frost_ed25519::Identifier, frost_ed25519::keys::KeyPackage>,
    public: frost_ed25519::keys::PublicKeyPackage,
    rng: ChaCha20Rng,
}

impl FrostKey {
    fn new(seed: u64) -> FrostKey {
        let mut rng = ChaCha20Rng::seed_from_u64(seed);
        let (shares, public) = frost_ed25519::keys::generate_with_dealer(
            3,
            2,
            frost_ed25519::keys::IdentifierList::Default,
            &mut rng,
        )
        .unwrap();
        let packages = shares
            .into_iter()
            .map(|(id, s)| (id, frost_ed25519::keys::KeyPackage::try_from(s).unwrap()))
            .collect();
        FrostKey {
            packages,
            public,
            rng,
        }
    }

    fn public_key(&self) -> [u8; 32] {
        self.public
            .verifying_key()
            .serialize()
            .unwrap()
            .try_into()
            .unwrap()
    }

    fn sign(&mut self, msg: &[u8]) -> [u8; 64] {
        let signers: Vec<_> = self.packages.keys().take(2).copied().collect();
        let mut nonces = BTreeMap::new();
        let mut commitments = BTreeMap::new();
        for id in &signers {
            let (n, c) =
                frost_ed25519::round1::commit(self.packages[id].signing_share(), &mut self.rng);
            nonces.insert(*id, n);
            commitments.insert(*id, c);
        }
        let package = frost_ed25519::SigningPackage::new(commitments, msg);
        let shares: BTreeMap<_, _> = signers
            .iter()
            .map(|id| {
                (
                    *id,
                    frost_ed25519::round2::sign(&package, &nonces[id], &self.packages[id]).unwrap(),
                )
            })
            .collect();
        let sig = frost_ed25519::aggregate(&package, &shares, &self.public).unwrap();
        sig.serialize().unwrap().try_into().unwrap()
    }
}

/// A legacy System-program transfer message: `signers` sign, then `recipient`, then the
/// System program.
fn transfer_message(signers: &[[u8; 32]], recipient: [u8; 32], lamports: u64) -> Vec<u8> {
    let mut m = vec![signers.len() as u8, 0, 1];
    m.push((signers.len() + 2) as u8);
    for s in signers {
        m.extend_from_slice(s);
    }
    m.extend_from_slice(&recipient);
    m.extend_from_slice(&[0u8; 32]); // System program
    m.extend_from_slice(&[0x42; 32]); // recent blockhash
    m.push(1); // one instruction
    m.push((signers.len() + 1) as u8); // program index
    m.extend_from_slice(&[2, 0, signers.len() as u8]); // accounts: payer, recipient
    let mut data = 2u32.to_le_bytes().to_vec();
    data.extend_from_slice(&lamports.to_le_bytes());
    m.push(data.len() as u8);
    m.extend_from_slice(&data);
    m
}

/// Splits a wire transaction the way the runtime does and checks every signature strictly.
fn runtime_verifies(tx_b64: &str) -> Result<(), String> {
    let tx = B64.decode(tx_b64).map_err(|e| e.to_string())?;
    let n = tx[0] as usize;
    assert!(n < 0x80, "test messages have fewer than 128 signers");
    let sigs = &tx[1..1 + 64 * n];
    let msg = &tx[1 + 64 * n..];
    let off = usize::from(msg[0] & 0x80 != 0);
    assert_eq!(msg[off] as usize, n, "signature count equals the header's");
    let keys = &msg[off + 4..];
    for i in 0..n {
        let vk = VerifyingKey::from_bytes(keys[32 * i..32 * i + 32].try_into().unwrap())
            .map_err(|e| e.to_string())?;
        let sig = Signature::from_bytes(sigs[64 * i..64 * i + 64].try_into().unwrap());
        vk.verify_strict(msg, &sig)
            .map_err(|_| format!("signature {i} fails"))?;
    }
    Ok(())
}

#[test]
fn address_is_base58_of_the_key() {
    assert_eq!(
        sol::address(&[0u8; 32]).unwrap(),
        "11111111111111111111111111111111"
    );
    let frost = FrostKey::new(1);
    let a = sol::address(&frost.public_key()).unwrap();
    assert_eq!(bs58::decode(&a).into_vec().unwrap(), frost.public_key());
    assert!(sol::address(&[1u8; 31]).is_err());
}

#[test]
fn frost_signed_transfer_verifies_as_the_runtime_checks() {
    let mut frost = FrostKey::new(2);
    let pk = frost.public_key();
    let msg = transfer_message(&[pk], [7; 32], 1_000_000);
    let prepared = sol::prepare(&B64.encode(&msg), &pk).unwrap();
    assert!(prepared.is_fee_payer());
    assert_eq!(prepared.message(), &msg[..]);
    let sig = frost.sign(prepared.message());
    let signed = prepared.assemble(&sig).unwrap();
    assert!(signed.complete);
    assert_eq!(bs58::decode(&signed.signature).into_vec().unwrap(), sig);
    runtime_verifies(&signed.transaction).unwrap();
    // A tampered message (another amount) no longer verifies.
    let mut tx = B64.decode(&signed.transaction).unwrap();
    let last = tx.len() - 1;
    tx[last] ^= 1;
    assert!(runtime_verifies(&B64.encode(&tx)).is_err());
    // A signature over another message is refused when assembling.
    let other = frost.sign(&transfer_message(&[pk], [7; 32], 2_000_000));
    assert!(prepared.assemble(&other).is_err());
}

#[test]
fn second_signer_of_a_v0_message_takes_the_second_slot() {
    let mut frost = FrostKey::new(3);
    let pk = frost.public_key();
    let payer = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let legacy = transfer_message(&[payer.verifying_key().to_bytes(), pk], [7; 32], 5);
    let mut v0 = vec![0x80];
    v0.extend_from_slice(&legacy);
    v0.push(0); // no address-table lookups
    let prepared = sol::prepare(&B64.encode(&v0), &pk).unwrap();
    assert_eq!(prepared.signer_index(), 1);
    assert!(!prepared.is_fee_payer());
    let signed = prepared.assemble(&frost.sign(&v0)).unwrap();
    assert!(!signed.complete);
    // Add the payer's signature in slot 0: then the whole transaction verifies.
    let mut tx = B64.decode(&signed.transaction).unwrap();
    assert_eq!(tx[0], 2);
    assert_eq!(&tx[1..65], &[0u8; 64]);
    use ed25519_dalek::Signer;
    tx[1..65].copy_from_slice(&payer.sign(&v0).to_bytes());
    runtime_verifies(&B64.encode(&tx)).unwrap();
}

#[test]
fn a_key_that_is_not_a_required_signer_is_refused() {
    let frost = FrostKey::new(4);
    let pk = frost.public_key();
    // The key appears, but only as the (unsigned) recipient.
    let msg = transfer_message(&[[5; 32]], pk, 1);
    let e = sol::prepare(&B64.encode(&msg), &pk)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("not one of the message's 1 required signers"),
        "{e}"
    );
}

#[test]
fn malformed_messages_get_clear_errors() {
    let pk = FrostKey::new(5).public_key();
    let good = transfer_message(&[pk], [7; 32], 1);
    assert!(sol::prepare(&B64.encode(&good), &pk).is_ok());
    // Every truncation and an extra byte are refused, never a panic.
    for n in 0..good.len() {
        assert!(
            sol::prepare(&B64.encode(&good[..n]), &pk).is_err(),
            "truncated at {n}"
        );
    }
    let mut long = good.clone();
    long.push(0);
    assert!(sol::prepare(&B64.encode(&long), &pk)
        .unwrap_err()
        .to_string()
        .contains("trailing"));
    let mut v1 = vec![0x81];
    v1.extend_from_slice(&good);
    assert!(sol::prepare(&B64.encode(&v1), &pk)
        .unwrap_err()
        .to_string()
        .contains("version 1"));
    let mut no_payer = good.clone();
    no_payer[0] = 0;
    assert!(sol::prepare(&B64.encode(&no_payer), &pk).is_err());
    let mut ro_payer = good.clone();
    ro_payer[1] = 1;
    assert!(sol::prepare(&B64.encode(&ro_payer), &pk)
        .unwrap_err()
        .to_string()
        .contains("writable"));
    assert!(sol::prepare("@@@", &pk)
        .unwrap_err()
        .to_string()
        .contains("base64"));
}
