//! Writes the frozen key-share fixture `test-data/keyshare-v1.bin` (party 0 of a 2-of-3 key made
//! from the public test primes) and `test-data/keyshare-v1.json` (what the test expects of it).
//!
//! `cargo run --release -p tessera-sim --example gen-keyshare-fixture`
//!
//! Run this only when introducing a new key-share version; the v1 fixture must never change.

use k256::elliptic_curve::group::GroupEncoding;
use tessera_sim::{fixtures, Seed};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let keys = fixtures::paillier_keys(3, 0)?;
    let shares = tessera_sim::keygen(3, 2, keys, Seed::from_u64(20261124))?;
    let share = shares.first().ok_or("no share")?;
    let bytes = share.to_bytes()?;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-data");
    std::fs::write(dir.join("keyshare-v1.bin"), &bytes)?;
    let expect = format!(
        "{{\"version\":1,\"index\":0,\"n\":3,\"threshold\":2,\"public_key\":\"{}\",\"chain_code\":\"{}\"}}\n",
        hex::encode(share.public_key_point()?.to_affine().to_bytes()),
        hex::encode(share.chain_code)
    );
    std::fs::write(dir.join("keyshare-v1.json"), expect)?;
    eprintln!("wrote {} bytes", bytes.len());
    Ok(())
}
