//! Key shares written by every released version stay readable.
//!
//! `test-data/keyshare-v1.bin` was written by
//! `cargo run --release -p tessera-sim --example gen-keyshare-fixture` and must never change.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use k256::elliptic_curve::group::GroupEncoding;
use tessera_keyshare::{KeyShare, KeyShareError};

const V1: &[u8] = include_bytes!("../../../test-data/keyshare-v1.bin");
const V1_EXPECT: &str = include_str!("../../../test-data/keyshare-v1.json");

fn field<'a>(json: &'a str, key: &str) -> &'a str {
    let pat = format!("\"{key}\":");
    let start = json.find(&pat).expect("field") + pat.len();
    let rest = json[start..].trim_start_matches('"');
    let end = rest.find(['"', ',', '}']).expect("end");
    &rest[..end]
}

#[test]
fn frozen_v1_share_still_decodes() {
    let ks = KeyShare::from_bytes(V1).expect("v1 key share decodes and validates");
    assert_eq!(ks.index.0.to_string(), field(V1_EXPECT, "index"));
    assert_eq!(ks.n.to_string(), field(V1_EXPECT, "n"));
    assert_eq!(ks.threshold.to_string(), field(V1_EXPECT, "threshold"));
    assert_eq!(
        hex::encode(ks.public_key_point().unwrap().to_affine().to_bytes()),
        field(V1_EXPECT, "public_key")
    );
    assert_eq!(hex::encode(ks.chain_code), field(V1_EXPECT, "chain_code"));
    // Re-encoding is byte-identical (the layout is pinned).
    assert_eq!(ks.to_bytes().unwrap(), V1);
}

#[test]
fn debug_prints_no_secret() {
    let ks = KeyShare::from_bytes(V1).unwrap();
    let d = format!("{ks:?}");
    assert!(d.contains("<redacted>"));
    let secret = hex::encode(ks.secret_share().unwrap().to_bytes());
    assert!(!d.contains(&secret));
}

#[test]
fn rejects_bad_magic_version_trailing_and_tampering() {
    let mut b = V1.to_vec();
    b[0] ^= 1;
    assert_eq!(KeyShare::from_bytes(&b).unwrap_err(), KeyShareError::Magic);

    let mut b = V1.to_vec();
    b[5] = 9;
    assert_eq!(
        KeyShare::from_bytes(&b).unwrap_err(),
        KeyShareError::Version(9)
    );

    let mut b = V1.to_vec();
    b.push(0);
    assert_eq!(
        KeyShare::from_bytes(&b).unwrap_err(),
        KeyShareError::TrailingBytes(1)
    );

    assert!(matches!(
        KeyShare::from_bytes(&V1[..V1.len() / 2]),
        Err(KeyShareError::Malformed(_))
    ));
    assert!(matches!(
        KeyShare::from_bytes(&vec![0u8; 5 << 20]),
        Err(KeyShareError::TooLarge(_))
    ));

    // Flip bytes throughout the body: every result is an error or a share that validates —
    // never a panic, never an inconsistent share.
    for i in (6..V1.len()).step_by(61) {
        let mut b = V1.to_vec();
        b[i] ^= 0x5a;
        if let Ok(ks) = KeyShare::from_bytes(&b) {
            ks.validate().unwrap();
        }
    }
}
