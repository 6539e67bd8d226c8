//! Pregenerated safe primes for tests, benchmarks and `tessera demo --insecure-test-primes`.
//!
//! The primes in `test-data/safe-primes-1536.txt` are public: keys built from them protect
//! nothing. They exist so that tests do not spend minutes finding safe primes. Regenerate with
//! `cargo run --release -p tessera-paillier --example gen-safe-primes -- --bits 1536 --count 20`.

use tessera_paillier::{Integer, SecretKey};

const PRIMES: &str = include_str!("../../../test-data/safe-primes-1536.txt");

/// How many parties the fixture can serve (two primes each).
pub fn capacity() -> usize {
    tessera_paillier::fixtures::parse_primes(PRIMES)
        .map(|v| v.len() / 2)
        .unwrap_or(0)
}

/// Paillier keys for parties `0..n` from the fixture primes (`offset` shifts which pairs are used).
pub fn paillier_keys(n: usize, offset: usize) -> Result<Vec<SecretKey>, String> {
    let primes: Vec<Integer> =
        tessera_paillier::fixtures::parse_primes(PRIMES).map_err(|e| e.to_string())?;
    let pairs = primes.len() / 2;
    if n > pairs {
        return Err(format!(
            "fixture has primes for {pairs} parties, {n} requested"
        ));
    }
    (0..n)
        .map(|i| {
            let j = (i + offset) % pairs;
            let p = primes.get(2 * j).cloned().ok_or("prime index")?;
            let q = primes.get(2 * j + 1).cloned().ok_or("prime index")?;
            SecretKey::from_primes(p, q).map_err(|e| e.to_string())
        })
        .collect()
}

/// Every party's share of a pregenerated key (see `examples/gen-key-fixtures.rs`), decoded and
/// validated.
pub fn key_shares(bytes: &[u8]) -> Result<Vec<tessera_ecdsa::KeyShare>, String> {
    let mut out = Vec::new();
    let mut rest = bytes;
    while !rest.is_empty() {
        let (len, tail) = rest.split_at_checked(4).ok_or("truncated length")?;
        let len = u32::from_be_bytes(len.try_into().map_err(|_| "length")?) as usize;
        let (share, tail) = tail.split_at_checked(len).ok_or("truncated share")?;
        out.push(tessera_ecdsa::KeyShare::from_bytes(share).map_err(|e| e.to_string())?);
        rest = tail;
    }
    Ok(out)
}
