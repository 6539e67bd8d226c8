//! Side-by-side benchmarks of Tessera and its best audited peer, cggmp24 0.7.0-alpha.3, at the
//! same security level (cggmp24's `SecurityLevel128`), on the same machine, in the same run,
//! all parties of each protocol in one thread.
//!
//! `cargo run --release -p tessera-bench --bin compare -- --runs 3`

#![allow(clippy::indexing_slicing)]

pub mod ours;
pub mod peer;

use std::time::Duration;

/// One measured run of a whole flow at `t`-of-`n`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Timings {
    /// Auxiliary setup (Paillier/ring-Pedersen proofs), all parties. For Tessera this is part of
    /// keygen and reported there.
    pub aux: Duration,
    pub keygen: Duration,
    pub presign: Duration,
    pub sign: Duration,
}

/// The public fixture primes (20 × 1536-bit safe primes).
pub fn fixture_primes() -> Result<Vec<rug::Integer>, String> {
    tessera_paillier::fixtures::parse_primes(include_str!("../../test-data/safe-primes-1536.txt"))
        .map_err(|e| e.to_string())
}
