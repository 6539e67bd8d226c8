//! Tessera's side: keygen (with each party's Paillier/ring-Pedersen proofs), presign, sign.

use std::sync::Arc;
use std::time::Instant;

use k256::Scalar;
use tessera_core::PartyIndex;
use tessera_ecdsa::SignRequest;
use tessera_sim::{fixtures, Seed};

use crate::Timings;

pub fn run(n: u16, t: u16, seed: u64) -> Result<Timings, String> {
    let keys = fixtures::paillier_keys(usize::from(n), 0)?;
    let t0 = Instant::now();
    let shares: Vec<Arc<_>> = tessera_sim::keygen(n, t, keys, Seed::from_u64(seed))
        .map_err(|e| e.to_string())?
        .into_iter()
        .map(Arc::new)
        .collect();
    let keygen = t0.elapsed();
    let signers: Vec<PartyIndex> = (0..t).map(PartyIndex).collect();
    let t1 = Instant::now();
    let presigs = tessera_sim::presign(&shares, &signers, Seed::from_u64(seed + 1))
        .map_err(|e| e.to_string())?;
    let presign = t1.elapsed();
    let req = SignRequest {
        digest: [5u8; 32],
        tweak: Scalar::ZERO,
        entropy: [6u8; 32],
    };
    let t2 = Instant::now();
    tessera_sim::sign(presigs, &req).map_err(|e| e.to_string())?;
    let sign = t2.elapsed();
    Ok(Timings {
        aux: std::time::Duration::ZERO,
        keygen,
        presign,
        sign,
    })
}
