//! Writes whole-key fixtures for tests: every party's share of a 2-of-3 and a 3-of-3 key, made
//! from the public test primes (so the keys protect nothing).
//!
//! `cargo run --release -p tessera-sim --example gen-key-fixtures`

use tessera_sim::{fixtures, Seed};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test-data");
    for (n, m, seed) in [(3u16, 2u16, 11u64), (3, 3, 12)] {
        let keys = fixtures::paillier_keys(usize::from(n), 0)?;
        let shares = tessera_sim::keygen(n, m, keys, Seed::from_u64(seed))?;
        let mut out = Vec::new();
        for s in &shares {
            let b = s.to_bytes()?;
            out.extend_from_slice(&u32::try_from(b.len())?.to_be_bytes());
            out.extend_from_slice(&b);
        }
        let name = format!("keys-{m}of{n}.bin");
        std::fs::write(dir.join(&name), out)?;
        eprintln!("wrote {name}");
    }
    Ok(())
}
