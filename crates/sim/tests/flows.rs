//! Full simulations over (M, N) with random signer subsets; every signature is checked by k256
//! and by OpenSSL's command-line verifier.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use k256::ecdsa::VerifyingKey;
use k256::Scalar;
use sha2::{Digest, Sha256};
use tessera_ecdsa::SignRequest;
use tessera_sim::Seed;

fn flow(n: u16, m: u16, seed: u64, signings: usize) {
    let shares = common::keygen(n, m, seed);
    let y = shares[0].public_key_point().unwrap();
    for s in &shares {
        assert_eq!(s.public_key_point().unwrap(), y, "all parties agree on y");
        assert_eq!(
            s.chain_code, shares[0].chain_code,
            "all parties agree on the chain code"
        );
        s.validate().unwrap();
    }
    let vk = VerifyingKey::from_affine(y.to_affine()).unwrap();
    for k in 0..signings {
        let signers = common::random_subset(n, m, seed * 100 + k as u64);
        let presigs = tessera_sim::presign(&shares, &signers, Seed::from_u64(seed + k as u64))
            .unwrap_or_else(|e| panic!("presign {signers:?}: {e}"));
        let msg = format!("tessera test {n} {m} {k}");
        let digest: [u8; 32] = Sha256::digest(msg.as_bytes()).into();
        let req = SignRequest {
            digest,
            tweak: Scalar::ZERO,
            entropy: [k as u8; 32],
        };
        let sig = tessera_sim::sign(presigs, &req).unwrap();
        common::verify_k256(&vk, &digest, &sig);
        assert!(
            common::verify_openssl(&vk, &digest, &sig),
            "OpenSSL rejects the signature of {signers:?}"
        );
    }
}

#[test]
fn sim_2_of_2() {
    flow(2, 2, 1, 1);
}

#[test]
fn sim_2_of_3() {
    flow(3, 2, 2, 2);
}

#[test]
fn sim_3_of_5() {
    flow(5, 3, 3, 2);
}

#[test]
fn sim_5_of_8() {
    flow(8, 5, 4, 1);
}

#[test]
fn sim_1_of_1() {
    flow(1, 1, 5, 1);
}
