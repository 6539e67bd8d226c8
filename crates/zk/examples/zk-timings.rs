//! Prints the cost of the per-presignature proofs at the default level (3072-bit moduli), one
//! thread: prove, verify by a third party, and verify by the owner of the aux (CRT fast path).
//!
//! `cargo run --release -p tessera-zk --example zk-timings -- 5`
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::time::Instant;

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::elliptic_curve::Field;
use k256::{ProjectivePoint, Scalar};
use rand_chacha::rand_core::SeedableRng;
use rug::integer::Order;
use rug::Integer;
use tessera_core::Transcript;
use tessera_paillier::{fixtures::parse_primes, random_signed_bits, SecretKey};
use tessera_zk::{aff_g, enc, log_star, SecurityLevel};

fn ms(f: &mut dyn FnMut(), runs: u32) -> f64 {
    let t = Instant::now();
    for _ in 0..runs {
        f();
    }
    t.elapsed().as_secs_f64() * 1e3 / f64::from(runs)
}

fn main() {
    let runs: u32 = std::env::args()
        .nth(1)
        .map(|a| a.parse().unwrap())
        .unwrap_or(5);
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../test-data/safe-primes-1536.txt"
    ))
    .unwrap();
    let p = parse_primes(&text).unwrap();
    let mut rng = rand_chacha::ChaCha20Rng::seed_from_u64(7);
    let alice = SecretKey::from_primes(p[0].clone(), p[1].clone()).unwrap();
    let bob = SecretKey::from_primes(p[2].clone(), p[3].clone()).unwrap();
    let (alice_aux, _) = tessera_zk::prm::generate(&mut rng, &p[0], &p[1]);
    let (bob_aux, _) = tessera_zk::prm::generate(&mut rng, &p[2], &p[3]);
    let level = SecurityLevel::LEVEL128;
    let ctx = Transcript::new(b"timings");

    // Π^enc: Alice proves K = Enc_A(k) to Bob (Bob's aux).
    let k = Scalar::random(&mut rng);
    let k_int = Integer::from_digits(&k.to_bytes()[..], Order::Msf);
    let (k_ct, k_nonce) = alice.encrypt(&mut rng, &k_int).unwrap();
    let st = enc::Statement {
        n0: alice.public().n(),
        ciphertext: &k_ct,
        aux: &bob_aux,
    };
    let w = enc::Witness {
        k: &k_int,
        rho: &k_nonce,
        key: &alice,
    };
    let proof = enc::prove(&ctx, &st, &w, &level, &mut rng).unwrap();
    let enc_p = ms(
        &mut || {
            enc::prove(&ctx, &st, &w, &level, &mut rng).unwrap();
        },
        runs,
    );
    let enc_v = ms(
        &mut || {
            let _ = enc::verify(&ctx, &st, &level, &proof, None).unwrap();
        },
        runs,
    );
    let enc_vo = ms(
        &mut || {
            let _ = enc::verify(&ctx, &st, &level, &proof, Some(&bob)).unwrap();
        },
        runs,
    );

    // Π^aff-g: Bob answers Alice's K with D = K^x·Enc_A(y) (Alice's aux).
    let x = Scalar::random(&mut rng);
    let x_int = Integer::from_digits(&x.to_bytes()[..], Order::Msf);
    let y = random_signed_bits(&mut rng, level.ell_prime);
    let (ey, rho) = alice.public().encrypt(&mut rng, &y).unwrap();
    let d = alice
        .public()
        .add(&alice.public().mul_secret(&k_ct, &x_int).unwrap(), &ey)
        .unwrap();
    let big_x = ProjectivePoint::mul_by_generator(&x);
    let st = aff_g::Statement {
        n0: alice.public().n(),
        c: &k_ct,
        d: &d,
        x: &big_x,
        aux: &alice_aux,
    };
    let w = aff_g::Witness {
        x: &x_int,
        y: &y,
        rho: &rho,
    };
    let proof = aff_g::prove(&ctx, &st, &w, &level, &mut rng).unwrap();
    let aff_p = ms(
        &mut || {
            aff_g::prove(&ctx, &st, &w, &level, &mut rng).unwrap();
        },
        runs,
    );
    let aff_v = ms(
        &mut || {
            let _ = aff_g::verify(&ctx, &st, &level, &proof, None).unwrap();
        },
        runs,
    );
    let aff_vo = ms(
        &mut || {
            let _ = aff_g::verify(&ctx, &st, &level, &proof, Some(&alice)).unwrap();
        },
        runs,
    );

    // Π^log*: Alice proves R̄ = k·R for K (Bob's aux).
    let base = ProjectivePoint::mul_by_generator(&Scalar::random(&mut rng));
    let r_bar = base * k;
    let st = log_star::Statement {
        n0: alice.public().n(),
        c: &k_ct,
        base: &base,
        x: &r_bar,
    };
    let w = log_star::Witness {
        x: &k_int,
        nonce: &k_nonce,
        key: &alice,
    };
    let proof = log_star::prove(&ctx, &st, &w, &bob_aux, &level, &mut rng).unwrap();
    let log_p = ms(
        &mut || {
            log_star::prove(&ctx, &st, &w, &bob_aux, &level, &mut rng).unwrap();
        },
        runs,
    );
    let log_v = ms(
        &mut || {
            let _ = log_star::verify(&ctx, &st, &bob_aux, &level, &proof, None).unwrap();
        },
        runs,
    );
    let log_vo = ms(
        &mut || {
            let _ = log_star::verify(&ctx, &st, &bob_aux, &level, &proof, Some(&bob)).unwrap();
        },
        runs,
    );

    println!("3072-bit moduli, ℓ = 256, ℓ′ = 848, ε = 230, mean of {runs} runs, one thread");
    println!();
    println!("| proof | prove | verify (third party) | verify (owner of the aux, CRT) |");
    println!("|---|---|---|---|");
    println!("| Π^enc | {enc_p:.1} ms | {enc_v:.1} ms | {enc_vo:.1} ms |");
    println!("| Π^aff-g | {aff_p:.1} ms | {aff_v:.1} ms | {aff_vo:.1} ms |");
    println!("| Π^log* | {log_p:.1} ms | {log_v:.1} ms | {log_vo:.1} ms |");
}
