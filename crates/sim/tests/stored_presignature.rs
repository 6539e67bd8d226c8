//! A presignature survives the node's sealed store: written once, read back against its key
//! share, it signs exactly as the in-memory one would; records for another share or damaged
//! records are refused.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use tessera_core::PartyIndex;
use tessera_ecdsa::{Presignature, SignRequest, StoredPresignatureError};
use tessera_sim::Seed;

#[test]
fn stored_presignatures_sign_after_reload() {
    let shares = common::fixture_keys(2);
    let signers = [PartyIndex(0), PartyIndex(2)];
    let presigs = tessera_sim::presign(&shares, &signers, Seed::from_u64(41)).unwrap();
    let records: Vec<_> = presigs
        .into_iter()
        .map(|p| p.into_sealed_bytes().unwrap())
        .collect();

    // A record read against another party's share (same key) or damaged is refused.
    assert_eq!(
        Presignature::from_sealed_bytes(&records[0], &shares[1]).err(),
        Some(StoredPresignatureError::WrongKey("party index"))
    );
    let short = &records[0][..records[0].len() - 1];
    assert!(matches!(
        Presignature::from_sealed_bytes(short, &shares[0]),
        Err(StoredPresignatureError::Malformed(_))
    ));
    let mut longer = records[0].to_vec();
    longer.push(0);
    assert!(matches!(
        Presignature::from_sealed_bytes(&longer, &shares[0]),
        Err(StoredPresignatureError::Malformed(_))
    ));

    let back: Vec<Presignature> = records
        .iter()
        .zip([&shares[0], &shares[2]])
        .map(|(r, s)| Presignature::from_sealed_bytes(r, s).unwrap())
        .collect();
    let req = SignRequest {
        digest: [9u8; 32],
        tweak: k256::Scalar::ZERO,
        entropy: [3u8; 32],
    };
    let sig = tessera_sim::sign(back, &req).unwrap();
    let vk =
        k256::ecdsa::VerifyingKey::from_affine(shares[0].public_key_point().unwrap().to_affine())
            .unwrap();
    common::verify_k256(&vk, &req.digest, &sig);
}
