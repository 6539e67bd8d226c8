//! Π^prm: the ring-Pedersen parameters `(N̂, s, t)` satisfy `s ∈ ⟨t⟩` (CGGMP24 "Ring-Pedersen
//! parameters ZK", m binary challenges).
//!
//! Prover (knows `λ` with `s = t^λ mod N̂` and `φ(N̂)`): for `i = 1..m`, `a_i ← Z_φ`,
//! `A_i = t^{a_i}`; challenge bits `e_i = H(ctx, N̂, s, t, A_1..A_m)`; `z_i = a_i + e_i·λ mod φ`.
//! Verifier: `t^{z_i} = A_i · s^{e_i} mod N̂` for every `i`. Soundness error `2^{−m}` with
//! `m = 128` — far from the single-challenge composite-dlog proofs broken by TSSHOCK
//! ("c-split") and the 1-iteration Multichain variant ("c-guess").
//!
//! Checks: `[prm.1]` the statement passes [`RingPedersen::validate`] (size, `s`, `t` units,
//! not ±1, distinct); `[prm.2]` exactly `m` commitments and `m` responses; `[prm.3]` every
//! `A_i ∈ Z*_N̂`; `[prm.4]` every `0 ≤ z_i < N̂`; `[prm.5]` every equation holds.
//!
//! The prover uses CRT over `p`, `q` and constant-time exponentiation for the secret `a_i`.

use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::Transcript;

use crate::arith::{
    append_int, in_mult_group, modp, pow_public, pow_secret, random_below, random_unit,
};
use crate::{RingPedersen, SecurityLevel, Verified, ZkError};

const PROOF: &str = "prm";

/// The prover's secret: `λ` and `φ(N̂)`. Not `Clone`; `Debug` is redacted.
pub struct PrmSecret {
    lambda: Integer,
    phi: Integer,
    p: Integer,
    q: Integer,
}

impl std::fmt::Debug for PrmSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PrmSecret(<redacted>)")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proof {
    pub a: Vec<Integer>,
    pub z: Vec<Integer>,
}

/// Fresh ring-Pedersen parameters over `N̂ = p·q`: `t = r²`, `s = t^λ`.
pub fn generate(
    rng: &mut impl rand_core::CryptoRngCore,
    p: &Integer,
    q: &Integer,
) -> (RingPedersen, PrmSecret) {
    let n = Integer::from(p * q);
    let phi = Integer::from(p - 1u32) * Integer::from(q - 1u32);
    loop {
        let r = random_unit(rng, &n);
        let t = modp(&Integer::from(r.square_ref()), &n);
        let lambda = random_below(rng, &phi);
        let Some(s) = pow_secret(&t, &lambda, &n) else {
            continue;
        };
        let rp = RingPedersen { n: n.clone(), s, t };
        // Reject the (negligible) degenerate draws that validation would refuse.
        let n_minus_1 = Integer::from(&n - 1u32);
        if rp.s <= 1u32 || rp.t <= 1u32 || rp.s == n_minus_1 || rp.t == n_minus_1 || rp.s == rp.t {
            continue;
        }
        return (
            rp,
            PrmSecret {
                lambda,
                phi,
                p: p.clone(),
                q: q.clone(),
            },
        );
    }
}

fn challenge(ctx: &Transcript, rp: &RingPedersen, a: &[Integer], m: usize) -> Vec<bool> {
    let mut t = ctx.clone();
    t.append(b"proof", b"tessera.zk.prm.v1");
    append_int(&mut t, b"N", &rp.n);
    append_int(&mut t, b"s", &rp.s);
    append_int(&mut t, b"t", &rp.t);
    t.append_u64(b"m", a.len() as u64);
    for x in a {
        append_int(&mut t, b"A", x);
    }
    t.challenge_bits(b"e", m)
}

/// `t^e mod N` via CRT over the prover's primes, constant time in `e`.
fn crt_pow_secret(base: &Integer, e: &Integer, sec: &PrmSecret) -> Option<Integer> {
    let ep = modp(e, &Integer::from(&sec.p - 1u32));
    let eq = modp(e, &Integer::from(&sec.q - 1u32));
    let xp = if ep == 0 {
        Integer::from(1)
    } else {
        pow_secret(base, &ep, &sec.p)?
    };
    let xq = if eq == 0 {
        Integer::from(1)
    } else {
        pow_secret(base, &eq, &sec.q)?
    };
    let q_inv = Integer::from(sec.q.invert_ref(&sec.p)?);
    let h = modp(&(Integer::from(&xp - &xq) * q_inv), &sec.p);
    Some(h * &sec.q + xq)
}

pub fn prove(
    ctx: &Transcript,
    rp: &RingPedersen,
    secret: &PrmSecret,
    level: &SecurityLevel,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Proof, ZkError> {
    let m = level.m as usize;
    let mut a_sec = Vec::with_capacity(m);
    let mut a = Vec::with_capacity(m);
    for _ in 0..m {
        let ai = random_below(rng, &secret.phi);
        let big = crt_pow_secret(&rp.t, &ai, secret).ok_or(ZkError::Prover {
            proof: PROOF,
            what: "t^a",
        })?;
        a.push(big);
        a_sec.push(ai);
    }
    let e = challenge(ctx, rp, &a, m);
    let z = a_sec
        .iter()
        .zip(e.iter())
        .map(|(ai, &ei)| {
            if ei {
                modp(&Integer::from(ai + &secret.lambda), &secret.phi)
            } else {
                ai.clone()
            }
        })
        .collect();
    Ok(Proof { a, z })
}

pub fn verify(
    ctx: &Transcript,
    rp: &RingPedersen,
    level: &SecurityLevel,
    proof: &Proof,
) -> Result<Verified, ZkError> {
    rp.validate(level)?; // [prm.1]
    let m = level.m as usize;
    for (v, what) in [(&proof.a, "A"), (&proof.z, "z")] {
        if v.len() != m {
            return Err(ZkError::WrongLength {
                proof: PROOF,
                what,
                got: v.len(),
                want: m,
            }); // [prm.2]
        }
    }
    for ai in &proof.a {
        if !in_mult_group(ai, &rp.n) {
            return Err(ZkError::BadInput {
                proof: PROOF,
                what: "A_i",
            }); // [prm.3]
        }
    }
    for zi in &proof.z {
        if *zi < 0 || *zi >= rp.n {
            return Err(ZkError::OutOfRange {
                proof: PROOF,
                what: "z_i",
            }); // [prm.4]
        }
    }
    let e = challenge(ctx, rp, &proof.a, m);
    for ((ai, zi), ei) in proof.a.iter().zip(&proof.z).zip(e) {
        let lhs = pow_public(&rp.t, zi, &rp.n);
        let rhs = if ei {
            Some(modp(&Integer::from(ai * &rp.s), &rp.n))
        } else {
            Some(ai.clone())
        };
        if lhs.is_none() || lhs != rhs {
            return Err(ZkError::Equation {
                proof: PROOF,
                what: "t^z = A·s^e",
            }); // [prm.5]
        }
    }
    Ok(Verified::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkeys::primes;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn setup() -> (Transcript, RingPedersen, Proof, SecurityLevel) {
        let (p, q) = primes(0);
        let mut rng = ChaCha20Rng::seed_from_u64(7);
        let (rp, sec) = generate(&mut rng, &p, &q);
        let ctx = Transcript::new(b"prm-test");
        let level = SecurityLevel::LEVEL128;
        let proof = prove(&ctx, &rp, &sec, &level, &mut rng).unwrap();
        (ctx, rp, proof, level)
    }

    #[test]
    fn passes() {
        let (ctx, rp, p, level) = setup();
        let _ = verify(&ctx, &rp, &level, &p).unwrap();
        let back: Proof = serde_json::from_str(&serde_json::to_string(&p).unwrap()).unwrap();
        let _ = verify(&ctx, &rp, &level, &back).unwrap();
    }

    #[test]
    fn prm_1_rejects_bad_statement() {
        let (ctx, mut rp, p, level) = setup();
        rp.s = Integer::from(1);
        assert!(matches!(
            verify(&ctx, &rp, &level, &p),
            Err(ZkError::BadInput { proof: "aux", .. })
        ));
        let (ctx, mut rp, p, level) = setup();
        rp.n = Integer::from(&rp.n >> 8);
        assert!(matches!(
            verify(&ctx, &rp, &level, &p),
            Err(ZkError::Statement { .. })
        ));
    }

    #[test]
    fn prm_2_rejects_wrong_lengths() {
        let (ctx, rp, mut p, level) = setup();
        p.a.pop();
        assert!(matches!(
            verify(&ctx, &rp, &level, &p),
            Err(ZkError::WrongLength { what: "A", .. })
        ));
        let (ctx, rp, mut p, level) = setup();
        p.z.push(Integer::from(1));
        assert!(matches!(
            verify(&ctx, &rp, &level, &p),
            Err(ZkError::WrongLength { what: "z", .. })
        ));
        // An empty proof must not pass vacuously.
        let (ctx, rp, _, level) = setup();
        let empty = Proof {
            a: vec![],
            z: vec![],
        };
        assert!(verify(&ctx, &rp, &level, &empty).is_err());
    }

    #[test]
    fn prm_3_rejects_non_units() {
        let (ctx, rp, mut p, level) = setup();
        p.a[3] = Integer::from(0);
        assert!(matches!(
            verify(&ctx, &rp, &level, &p),
            Err(ZkError::BadInput { what: "A_i", .. })
        ));
        let (ctx, rp, mut p, level) = setup();
        p.a[5] = primes(0).0;
        assert!(matches!(
            verify(&ctx, &rp, &level, &p),
            Err(ZkError::BadInput { what: "A_i", .. })
        ));
    }

    #[test]
    fn prm_4_rejects_out_of_range_response() {
        let (ctx, rp, mut p, level) = setup();
        p.z[0] = Integer::from(&rp.n + 1u32);
        assert!(matches!(
            verify(&ctx, &rp, &level, &p),
            Err(ZkError::OutOfRange { .. })
        ));
        let (ctx, rp, mut p, level) = setup();
        p.z[0] = Integer::from(-1);
        assert!(matches!(
            verify(&ctx, &rp, &level, &p),
            Err(ZkError::OutOfRange { .. })
        ));
    }

    #[test]
    fn prm_5_rejects_tampering_replay_and_s_outside_t() {
        let (ctx, rp, mut p, level) = setup();
        p.z[9] += 1;
        assert!(matches!(
            verify(&ctx, &rp, &level, &p),
            Err(ZkError::Equation { .. })
        ));
        let (_, rp, p, level) = setup();
        let other = Transcript::new(b"prm-test-other-session");
        assert!(matches!(
            verify(&other, &rp, &level, &p),
            Err(ZkError::Equation { .. })
        ));
        // s chosen outside ⟨t⟩ (here s = −t^λ, a non-square): a prover without λ fails.
        let (ctx, mut rp, _, level) = setup();
        let (p0, q0) = primes(0);
        let mut rng = ChaCha20Rng::seed_from_u64(9);
        let (_, sec) = generate(&mut rng, &p0, &q0);
        rp.s = Integer::from(&rp.n - &rp.s);
        let forged = prove(&ctx, &rp, &sec, &level, &mut rng).unwrap();
        assert!(matches!(
            verify(&ctx, &rp, &level, &forged),
            Err(ZkError::Equation { .. })
        ));
    }
}
