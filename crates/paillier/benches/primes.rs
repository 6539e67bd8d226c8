//! Safe-prime generation at the 128-bit level (1536-bit primes).
//! `cargo bench -p tessera-paillier --bench primes`

use criterion::{criterion_group, criterion_main, Criterion};
use rand_core::OsRng;

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("safe prime");
    g.sample_size(10);
    g.bench_function("1536-bit", |b| {
        b.iter(|| tessera_paillier::prime::generate_safe_prime(&mut OsRng, 1536))
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
