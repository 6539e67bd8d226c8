//! Refresh and resharing: same public key, new shares that sign, old shares that no longer
//! combine with the new, and old parties told to erase only after every receiver confirmed.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use tessera_core::{PartyIndex, SignerSet};
use tessera_ecdsa::{KeyShare, SignRequest};
use tessera_sim::{fixtures, Seed};

fn old_key() -> Vec<KeyShare> {
    fixtures::key_shares(include_bytes!("../../../test-data/keys-2of3.bin")).unwrap()
}

fn p(i: u16) -> PartyIndex {
    PartyIndex(i)
}

/// Presigns and signs with `signers` of `shares`, checks the signature with k256.
fn sign_with(shares: Vec<KeyShare>, signers: &[PartyIndex], seed: u64) {
    let vk =
        k256::ecdsa::VerifyingKey::from_affine(shares[0].public_key_point().unwrap().to_affine())
            .unwrap();
    let shares: Vec<Arc<KeyShare>> = shares.into_iter().map(Arc::new).collect();
    let presigs = tessera_sim::presign(&shares, signers, Seed::from_u64(seed)).unwrap();
    let digest = [0x5a; 32];
    let sig = tessera_sim::sign(
        presigs,
        &SignRequest {
            digest,
            tweak: Scalar::ZERO,
            entropy: [7; 32],
        },
    )
    .unwrap();
    common::verify_k256(&vk, &digest, &sig);
}

/// `Σ λ_i·x_i·G` over `set` for the given shares.
fn interpolate(shares: &[&KeyShare]) -> ProjectivePoint {
    let n = u16::try_from(shares.len()).unwrap();
    let set = SignerSet::new(shares.iter().map(|s| s.index).collect(), n, u16::MAX).unwrap();
    let mut acc = Scalar::ZERO;
    for s in shares {
        acc += set.lagrange_at_zero(s.index).unwrap() * s.secret_share().unwrap();
    }
    ProjectivePoint::mul_by_generator(&acc)
}

#[test]
fn refresh_keeps_the_key_and_old_shares_no_longer_combine() {
    let old = old_key();
    let refs: Vec<&KeyShare> = old.iter().collect();
    let y = old[0].public_key_point().unwrap();
    // Only the threshold (2 of 3) deals; all 3 receive. Fresh Paillier keys (fixture pairs
    // 3..6, none of the old committee's).
    let keys = fixtures::paillier_keys(3, 3).unwrap();
    let out =
        tessera_sim::reshare::reshare(&refs, &[p(0), p(2)], 3, 2, keys, Seed::from_u64(1)).unwrap();
    assert_eq!(out.shares.len(), 3);
    assert_eq!(out.retired.len(), 2);
    assert_eq!(
        out.retired.iter().map(|r| r.old_index).collect::<Vec<_>>(),
        vec![p(0), p(2)]
    );
    for (new, old) in out.shares.iter().zip(old.iter()) {
        assert_eq!(new.public_key_point().unwrap(), y);
        assert_eq!(new.key_id, old.key_id);
        assert_eq!(new.chain_code, old.chain_code);
        assert_eq!((new.n, new.threshold), (3, 2));
        assert_ne!(new.secret_share().unwrap(), old.secret_share().unwrap());
        assert_ne!(new.paillier().public().n(), old.paillier().public().n());
    }
    // New shares interpolate to the key; an old share with a new one does not.
    assert_eq!(interpolate(&[&out.shares[0], &out.shares[1]]), y);
    assert_ne!(interpolate(&[&old[0], &out.shares[1]]), y);
    assert_ne!(interpolate(&[&out.shares[0], &old[2]]), y);
    sign_with(out.shares, &[p(1), p(2)], 7);
}

#[test]
fn reshare_2of3_to_3of4_signs_with_the_same_key() {
    let old = old_key();
    let refs: Vec<&KeyShare> = old.iter().collect();
    let y = old[0].public_key_point().unwrap();
    let keys = fixtures::paillier_keys(4, 3).unwrap();
    let out =
        tessera_sim::reshare::reshare(&refs, &[p(1), p(2)], 4, 3, keys, Seed::from_u64(2)).unwrap();
    assert_eq!(out.shares.len(), 4);
    for s in &out.shares {
        assert_eq!(s.public_key_point().unwrap(), y);
        assert_eq!((s.n, s.threshold), (4, 3));
    }
    assert_eq!(
        interpolate(&[&out.shares[0], &out.shares[2], &out.shares[3]]),
        y
    );
    // Two new shares are below the new threshold: they do not give the key.
    assert_ne!(interpolate(&[&out.shares[0], &out.shares[1]]), y);
    sign_with(out.shares, &[p(0), p(2), p(3)], 8);
}
