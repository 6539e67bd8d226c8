//! Helpers shared by the simulation tests: fixtures, signer subsets, independent verification.

#![allow(
    dead_code,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::io::Write;
use std::process::Command;
use std::sync::Arc;

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, VerifyingKey};
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tessera_core::PartyIndex;
use tessera_ecdsa::{KeyShare, Signature};
use tessera_sim::{fixtures, Seed};

pub fn keygen(n: u16, m: u16, seed: u64) -> Vec<Arc<KeyShare>> {
    let keys = fixtures::paillier_keys(usize::from(n), 0).expect("fixture primes");
    tessera_sim::keygen(n, m, keys, Seed::from_u64(seed))
        .expect("keygen")
        .into_iter()
        .map(Arc::new)
        .collect()
}

pub fn random_subset(n: u16, m: u16, seed: u64) -> Vec<PartyIndex> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    let mut all: Vec<u16> = (0..n).collect();
    for i in (1..all.len()).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        all.swap(i, j);
    }
    let mut v: Vec<PartyIndex> = all
        .into_iter()
        .take(usize::from(m))
        .map(PartyIndex)
        .collect();
    v.sort();
    v
}

/// Verifies with our dependency (k256) and checks low-s and the recovery id.
pub fn verify_k256(vk: &VerifyingKey, digest: &[u8; 32], sig: &Signature) {
    let s = sig.to_k256().expect("signature scalars");
    vk.verify_prehash(digest, &s).expect("k256 verifies");
    assert!(s.normalize_s().is_none(), "s must be low");
    let recid = RecoveryId::from_byte(sig.recovery_id).expect("recovery id");
    let rec = VerifyingKey::recover_from_prehash(digest, &s, recid).expect("recover");
    assert_eq!(&rec, vk, "recovery id recovers the key");
}

/// SubjectPublicKeyInfo (RFC 5480) for an uncompressed secp256k1 key: the fixed DER header
/// `SEQUENCE { SEQUENCE { id-ecPublicKey, secp256k1 }, BIT STRING }` then `04 ‖ x ‖ y`.
fn spki_der(vk: &VerifyingKey) -> Vec<u8> {
    let mut out = hex::decode("3056301006072a8648ce3d020106052b8104000a034200").expect("hex");
    out.extend_from_slice(vk.to_encoded_point(false).as_bytes());
    out
}

/// Verifies with OpenSSL's command-line tool: an implementation that shares no code with ours.
pub fn verify_openssl(vk: &VerifyingKey, digest: &[u8; 32], sig: &Signature) -> bool {
    let dir = std::env::temp_dir().join(format!(
        "tessera-openssl-{}-{}",
        std::process::id(),
        hex::encode(&digest[..6])
    ));
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let pk = dir.join("pk.der");
    let dg = dir.join("digest.bin");
    let sg = dir.join("sig.der");
    std::fs::write(&pk, spki_der(vk)).expect("write pk");
    std::fs::File::create(&dg)
        .and_then(|mut f| f.write_all(digest))
        .expect("write digest");
    std::fs::write(&sg, sig.to_der().expect("der")).expect("write sig");
    let out = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey"])
        .arg(&pk)
        .arg("-in")
        .arg(&dg)
        .arg("-sigfile")
        .arg(&sg)
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    let _ = std::fs::remove_dir_all(&dir);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified Successfully")
}

/// Pregenerated shares of a 2-of-3 (`m = 2`) or 3-of-3 (`m = 3`) key from the public test
/// primes (`cargo run --release -p tessera-sim --example gen-key-fixtures`): tests of presigning
/// and signing need not spend half a minute on keygen each.
pub fn fixture_keys(m: u16) -> Vec<Arc<KeyShare>> {
    let bytes: &[u8] = match m {
        2 => include_bytes!("../../../../test-data/keys-2of3.bin"),
        3 => include_bytes!("../../../../test-data/keys-3of3.bin"),
        _ => panic!("no fixture for threshold {m}"),
    };
    fixtures::key_shares(bytes)
        .expect("fixture key shares decode")
        .into_iter()
        .map(Arc::new)
        .collect()
}
