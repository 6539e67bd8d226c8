//! Criterion benchmarks of Tessera's keygen, presign and sign at 3-of-5, all parties in one
//! thread, at the 128-bit level (3072-bit Paillier). Safe primes come from the fixture (their
//! generation is benchmarked separately in tessera-paillier).
//!
//! `cargo bench -p tessera-sim --bench protocol` (about 15 minutes: keygen takes ~70 s a run).
//!
//! Online signing needs a fresh presignature per iteration (single-use, seconds to make), so its
//! group uses flat sampling with the smallest warm-up and measurement budgets: criterion then
//! runs 10 samples of one iteration each, making each presignature outside the timed routine.
//! `cargo run --release -p tessera-sim --example bench-sign -- K` gives a mean over K rounds,
//! and the side-by-side `compare` binary in `bench/` reports it against cggmp24.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::sync::Arc;

use std::time::Duration;

use criterion::{criterion_group, criterion_main, BatchSize, Criterion, SamplingMode};
use k256::Scalar;
use tessera_core::PartyIndex;
use tessera_ecdsa::SignRequest;
use tessera_sim::{fixtures, Seed};

fn bench(c: &mut Criterion) {
    // All parties in one thread, as BENCHMARKS.md reports (the simulation otherwise uses every
    // core); set before the first run spawns anything.
    std::env::set_var("TESSERA_SIM_THREADS", "1");
    let (n, m) = (5u16, 3u16);
    let signers: Vec<PartyIndex> = (0..m).map(PartyIndex).collect();
    let mut g = c.benchmark_group("3-of-5");
    g.sample_size(10);

    g.bench_function("keygen (all 5 parties)", |b| {
        b.iter(|| {
            let keys = fixtures::paillier_keys(usize::from(n), 0).unwrap();
            tessera_sim::keygen(n, m, keys, Seed::from_u64(1)).unwrap()
        })
    });

    let shares: Vec<Arc<_>> = tessera_sim::keygen(
        n,
        m,
        fixtures::paillier_keys(usize::from(n), 0).unwrap(),
        Seed::from_u64(1),
    )
    .unwrap()
    .into_iter()
    .map(Arc::new)
    .collect();

    let mut seed = 0u64;
    g.bench_function("presign (all 3 signers)", |b| {
        b.iter(|| {
            seed += 1;
            tessera_sim::presign(&shares, &signers, Seed::from_u64(seed)).unwrap()
        })
    });

    g.finish();

    let mut g = c.benchmark_group("3-of-5 online");
    g.sample_size(10)
        .sampling_mode(SamplingMode::Flat)
        .warm_up_time(Duration::from_millis(1))
        .measurement_time(Duration::from_millis(1));
    g.bench_function("sign (all 3 signers, each combines and verifies)", |b| {
        b.iter_batched(
            || {
                seed += 1;
                tessera_sim::presign(&shares, &signers, Seed::from_u64(seed)).unwrap()
            },
            |presigs| {
                let req = SignRequest {
                    digest: [7u8; 32],
                    tweak: Scalar::ZERO,
                    entropy: [9u8; 32],
                };
                tessera_sim::sign(presigs, &req).unwrap()
            },
            BatchSize::PerIteration,
        )
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
