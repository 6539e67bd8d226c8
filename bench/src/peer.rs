//! cggmp24 0.7.0-alpha.3's side, with its own simulator (`round_based::sim`), default options.

use std::time::Instant;

use cggmp24::security_level::SecurityLevel128;
use cggmp24::supported_curves::Secp256k1;
use cggmp24::{DataToSign, ExecutionId, KeyShare, PregeneratedPrimes};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;

use crate::Timings;

type Sha256 = sha2::Sha256;

fn err(e: impl std::fmt::Debug) -> String {
    format!("{e:?}")
}

pub fn run(n: u16, t: u16, primes: &[rug::Integer], seed: u64) -> Result<Timings, String> {
    if primes.len() < 4 * usize::from(n) {
        return Err(format!(
            "cggmp24 needs 4 primes per party, have {}",
            primes.len()
        ));
    }
    let pregen: Vec<PregeneratedPrimes<SecurityLevel128>> = (0..usize::from(n))
        .map(|i| {
            let four: [cggmp24::backend::Integer; 4] = core::array::from_fn(|k| {
                cggmp24::backend::Integer::from_rug(primes[4 * i + k].clone())
            });
            PregeneratedPrimes::try_from(four).map_err(|_| "prime too small".to_string())
        })
        .collect::<Result<_, _>>()?;

    // Auxiliary info (Paillier + ring-Pedersen with Π^mod, Π^fac, Π^prm), all parties.
    let aux_eid = format!("tessera-bench-aux-{seed}");
    let t0 = Instant::now();
    let aux = round_based::sim::run_with_setup(pregen, |i, party, primes| {
        let mut rng = ChaCha20Rng::seed_from_u64(seed * 1000 + u64::from(i));
        let eid = ExecutionId::new(aux_eid.as_bytes());
        async move {
            cggmp24::aux_info_gen(eid, i, n, primes)
                .start(&mut rng, party)
                .await
        }
    })
    .map_err(err)?
    .expect_ok()
    .into_vec();
    let aux_time = t0.elapsed();

    // Threshold key generation.
    let kg_eid = format!("tessera-bench-keygen-{seed}");
    let t1 = Instant::now();
    let cores = round_based::sim::run(n, |i, party| {
        let mut rng = ChaCha20Rng::seed_from_u64(seed * 2000 + u64::from(i));
        let eid = ExecutionId::new(kg_eid.as_bytes());
        async move {
            cggmp24::keygen::<Secp256k1>(eid, i, n)
                .set_threshold(t)
                .start(&mut rng, party)
                .await
        }
    })
    .map_err(err)?
    .expect_ok()
    .into_vec();
    let keygen = t1.elapsed();
    let shares: Vec<KeyShare<Secp256k1, SecurityLevel128>> = cores
        .into_iter()
        .zip(aux)
        .map(|(c, a)| KeyShare::from_parts((c, a)).map_err(err))
        .collect::<Result<_, _>>()?;

    // Presignatures among the first t parties.
    let signers: Vec<u16> = (0..t).collect();
    let ps_eid = format!("tessera-bench-presign-{seed}");
    let t2 = Instant::now();
    let presigs = round_based::sim::run(t, |i, party| {
        let mut rng = ChaCha20Rng::seed_from_u64(seed * 3000 + u64::from(i));
        let eid = ExecutionId::new(ps_eid.as_bytes());
        let share = &shares[usize::from(signers[usize::from(i)])];
        let signers = &signers;
        async move {
            cggmp24::signing(eid, i, signers, share)
                .generate_presignature(&mut rng, party)
                .await
        }
    })
    .map_err(err)?
    .expect_ok()
    .into_vec();
    let presign = t2.elapsed();

    // Online: partial signatures and combination.
    let data = DataToSign::<Secp256k1>::digest::<Sha256>(b"tessera bench");
    let t3 = Instant::now();
    let public = presigs
        .first()
        .map(|(_, p)| p.clone())
        .ok_or("no presignatures")?;
    let partials: Vec<_> = presigs
        .into_iter()
        .map(|(p, _)| p.issue_partial_signature(data))
        .collect();
    let sig = cggmp24::signing::PartialSignature::combine(&partials, &public, data)
        .ok_or("cggmp24 signature did not combine")?;
    let sign = t3.elapsed();
    sig.verify(&shares[0].shared_public_key, &data)
        .map_err(err)?;

    Ok(Timings {
        aux: aux_time,
        keygen,
        presign,
        sign,
    })
}
