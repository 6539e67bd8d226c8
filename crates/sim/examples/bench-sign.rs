//! Times the online signing round (all signers' shares, combination, low-s, recovery-id
//! cross-check and verification at every signer) at 3-of-5 over K presignatures.
//!
//! `cargo run --release -p tessera-sim --example bench-sign -- 10`

use std::sync::Arc;
use std::time::{Duration, Instant};

use k256::Scalar;
use tessera_core::PartyIndex;
use tessera_ecdsa::SignRequest;
use tessera_sim::{fixtures, Seed};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let k: u64 = std::env::args()
        .nth(1)
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(10);
    let (n, t) = (5u16, 3u16);
    let shares: Vec<Arc<_>> =
        tessera_sim::keygen(n, t, fixtures::paillier_keys(5, 0)?, Seed::from_u64(1))?
            .into_iter()
            .map(Arc::new)
            .collect();
    let signers: Vec<PartyIndex> = (0..t).map(PartyIndex).collect();
    let mut total = Duration::ZERO;
    let mut samples = Vec::new();
    for i in 0..k {
        let presigs = tessera_sim::presign(&shares, &signers, Seed::from_u64(100 + i))?;
        let req = SignRequest {
            digest: [i as u8; 32],
            tweak: Scalar::ZERO,
            entropy: [7u8; 32],
        };
        let t0 = Instant::now();
        tessera_sim::sign(presigs, &req)?;
        let d = t0.elapsed();
        total += d;
        samples.push(d.as_secs_f64() * 1e3);
    }
    samples.sort_by(|a, b| a.total_cmp(b));
    println!(
        "online sign 3-of-5 (all signers + combine at each): mean {:.3} ms, median {:.3} ms over {k}",
        total.as_secs_f64() * 1e3 / k as f64,
        samples.get(samples.len() / 2).copied().unwrap_or(0.0)
    );
    Ok(())
}
