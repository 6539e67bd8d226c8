//! Π^enc — Paillier encryption in range (CGGMP24, ePrint 2021/060, "Paillier Encryption in Range
//! ZK"), written here with constant-time provers and CRT fast paths.
//!
//! # Statement
//!
//! Public: the prover's Paillier modulus `N0`, a ciphertext `K ∈ Z*_{N0²}`, and the *verifier's*
//! ring-Pedersen parameters `(N̂, s, t)`. The prover knows `k` and `ρ ∈ Z*_{N0}` with
//! `K = (1 + N0)^k · ρ^{N0} mod N0²` and `|k| ≤ 2^ℓ`; the proof convinces the verifier that
//! `k ∈ ±2^{ℓ+ε}`. In GG20 this is Alice's range proof for `K_i = Enc_i(k_i)` sent to each `P_j`
//! with `P_j`'s ring-Pedersen parameters (SECURITY-CHECKLIST "Presign" step 1).
//!
//! # Protocol
//!
//! Prover: `α ← ±2^{ℓ+ε}`, `μ ← ±2^ℓ·N̂`, `r ← Z*_{N0}`, `γ ← ±2^{ℓ+ε}·N̂`;
//! `S = s^k t^μ`, `A = (1+N0)^α r^{N0} mod N0²`, `C = s^α t^γ mod N̂`;
//! `e ∈ ±2^128` from the transcript of `(ctx, level, N0, K, N̂, s, t, S, A, C)`;
//! `z1 = α + e·k`, `z2 = r·ρ^e mod N0`, `z3 = γ + e·μ`.
//!
//! # Checks (verifier)
//!
//! - `[enc.0]` the level suits 128-bit challenges (`ε ≥ 228`, `ℓ + ε + 2 < min_modulus_bits`);
//! - `[enc.1]` `N0` odd, bit length within the level;
//! - `[enc.2]` the verifier's aux passes [`RingPedersen::validate`];
//! - `[enc.3]` `K ∈ Z*_{N0²}`; `[enc.4]` `A ∈ Z*_{N0²}`; `[enc.5]` `S, C ∈ Z*_N̂`;
//!   `[enc.6]` `z2 ∈ Z*_{N0}` (every value invertible mod its modulus: CVE-2025-66016's lesson);
//! - `[enc.7]` `|z1| ≤ 2^{ℓ+ε}` (the range statement), before any exponentiation;
//! - `[enc.8]` `|z3| ≤ N̂·2^{ℓ+ε+2}`: an honest `z3` is below `N̂·2^{ℓ+ε+1}`; caps the verifier's work
//!   on an exponent the paper leaves unbounded;
//! - `[enc.9]` `(1+N0)^{z1}·z2^{N0} = A·K^e mod N0²`;
//! - `[enc.10]` `s^{z1}·t^{z3} = C·S^e mod N̂`.
//!
//! The prover refuses a bad witness ([`ZkError::Prover`], a local bug): `[enc.p1]` `|k| ≤ 2^ℓ`,
//! `[enc.p2]` its key is `N0`, `[enc.p3]` `ρ ∈ Z*_{N0}`. It does not re-encrypt `K` to check it:
//! a wrong `K` only yields a proof that fails `[enc.9]`.
//!
//! # Side channels and speed
//!
//! Exponentiations with secret exponents (`s^k`, `t^μ`, `s^α`, `t^γ`) use GMP's `mpz_powm_sec`.
//! `r^{N0}` has the public exponent `N0` and is computed under the prover's own key by CRT. The
//! verifier passes its own [`SecretKey`] when `N̂` is its Paillier modulus (Tessera's setup): the
//! ring-Pedersen equation is then evaluated modulo `p` and `q` separately.

use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::Transcript;
use tessera_paillier::SecretKey;

use crate::arith::{
    abs_le_pow2, append_int, challenge_pm, check_range_level, in_mult_group, modp, modulus_ok,
    pow_public, random_pm, random_unit, ring_public, ring_secret,
};
use crate::{RingPedersen, SecurityLevel, Verified, ZkError};

const PROOF: &str = "enc";

/// Public input of Π^enc.
#[derive(Clone, Copy, Debug)]
pub struct Statement<'a> {
    /// `N0`: the prover's own Paillier modulus.
    pub n0: &'a Integer,
    /// `K = Enc_{N0}(k; ρ)`.
    pub ciphertext: &'a Integer,
    /// The verifier's ring-Pedersen parameters `(N̂, s, t)`.
    pub aux: &'a RingPedersen,
}

/// The prover's secret: plaintext `k` (`|k| ≤ 2^ℓ`), nonce `ρ ∈ Z*_{N0}`, and its own key (for CRT).
#[derive(Clone, Copy)]
pub struct Witness<'a> {
    pub k: &'a Integer,
    pub rho: &'a Integer,
    pub key: &'a SecretKey,
}

impl std::fmt::Debug for Witness<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("enc::Witness(<redacted>)")
    }
}

/// A non-interactive Π^enc proof: commitment `(S, A, C)`, response `(z1, z2, z3)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    pub s: Integer,
    pub a: Integer,
    pub c: Integer,
    pub z1: Integer,
    pub z2: Integer,
    pub z3: Integer,
}

fn challenge(
    ctx: &Transcript,
    st: &Statement<'_>,
    level: &SecurityLevel,
    s: &Integer,
    a: &Integer,
    c: &Integer,
) -> Integer {
    let mut t = ctx.clone();
    t.append(b"proof", b"tessera.zk.enc.v2");
    t.append_u64(b"ell", level.ell.into())
        .append_u64(b"epsilon", level.epsilon.into());
    append_int(&mut t, b"N0", st.n0);
    append_int(&mut t, b"K", st.ciphertext);
    append_int(&mut t, b"Nhat", &st.aux.n);
    append_int(&mut t, b"s", &st.aux.s);
    append_int(&mut t, b"t", &st.aux.t);
    append_int(&mut t, b"S", s);
    append_int(&mut t, b"A", a);
    append_int(&mut t, b"C", c);
    challenge_pm(&t)
}

/// `[enc.0]`–`[enc.3]`; returns `N0²`.
fn check_statement(st: &Statement<'_>, level: &SecurityLevel) -> Result<Integer, ZkError> {
    check_range_level(PROOF, level)?; // [enc.0]
    if !modulus_ok(st.n0, level) {
        return Err(ZkError::Statement {
            proof: PROOF,
            what: "N0 outside the security level",
        }); // [enc.1]
    }
    st.aux.validate(level)?; // [enc.2]
    let nn = Integer::from(st.n0.square_ref());
    if !in_mult_group(st.ciphertext, &nn) {
        return Err(ZkError::BadInput {
            proof: PROOF,
            what: "K",
        }); // [enc.3]
    }
    Ok(nn)
}

pub fn prove(
    ctx: &Transcript,
    st: &Statement<'_>,
    w: &Witness<'_>,
    level: &SecurityLevel,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Proof, ZkError> {
    check_statement(st, level)?;
    let bad = |what| ZkError::Prover { proof: PROOF, what };
    if !abs_le_pow2(w.k, level.ell) {
        return Err(bad("|k| > 2^ℓ")); // [enc.p1]
    }
    if w.key.public().n() != st.n0 {
        return Err(bad("the witness key is not N0")); // [enc.p2]
    }
    if !in_mult_group(w.rho, st.n0) {
        return Err(bad("ρ ∉ Z*_N0")); // [enc.p3]
    }
    let aux = st.aux;
    let one = Integer::from(1);
    let b_le = Integer::from(&one << (level.ell + level.epsilon));
    let alpha = random_pm(rng, &b_le);
    let mu = random_pm(rng, &(Integer::from(&one << level.ell) * &aux.n));
    let r = random_unit(rng, st.n0);
    let gamma = random_pm(rng, &(b_le * &aux.n));

    let s = ring_secret(aux, w.k, &mu).ok_or(bad("S"))?;
    let a = w.key.encrypt_with(&alpha, &r).map_err(|_| bad("A"))?;
    let c = ring_secret(aux, &alpha, &gamma).ok_or(bad("C"))?;
    let e = challenge(ctx, st, level, &s, &a, &c);
    let z1 = Integer::from(&e * w.k) + &alpha;
    let rho_e = pow_public(w.rho, &e, st.n0).ok_or(bad("ρ^e"))?;
    let z2 = modp(&(r * rho_e), st.n0);
    let z3 = Integer::from(&e * &mu) + &gamma;
    Ok(Proof {
        s,
        a,
        c,
        z1,
        z2,
        z3,
    })
}

/// Verifies `p`. `own` is the verifier's Paillier key; when its modulus is `N̂` the ring-Pedersen
/// equation runs by CRT (same result, a fraction of the time).
pub fn verify(
    ctx: &Transcript,
    st: &Statement<'_>,
    level: &SecurityLevel,
    p: &Proof,
    own: Option<&SecretKey>,
) -> Result<Verified, ZkError> {
    let nn = check_statement(st, level)?;
    let aux = st.aux;
    let bad = |what| ZkError::BadInput { proof: PROOF, what };
    if !in_mult_group(&p.a, &nn) {
        return Err(bad("A")); // [enc.4]
    }
    if !in_mult_group(&p.s, &aux.n) || !in_mult_group(&p.c, &aux.n) {
        return Err(bad("S or C")); // [enc.5]
    }
    if !in_mult_group(&p.z2, st.n0) {
        return Err(bad("z2")); // [enc.6]
    }
    let range = |what| ZkError::OutOfRange { proof: PROOF, what };
    if !abs_le_pow2(&p.z1, level.ell + level.epsilon) {
        return Err(range("z1")); // [enc.7]
    }
    let z3_cap = Integer::from(&aux.n << (level.ell + level.epsilon + 2));
    if p.z3.cmp_abs(&z3_cap).is_gt() {
        return Err(range("z3")); // [enc.8]
    }
    let e = challenge(ctx, st, level, &p.s, &p.a, &p.c);
    let eq = |what| ZkError::Equation { proof: PROOF, what };

    // [enc.9] (1+N0)^z1 · z2^N0 = A · K^e  (mod N0²)
    let lhs = crate::arith::enc_public(st.n0, &nn, &p.z1, &p.z2);
    let ke = pow_public(st.ciphertext, &e, &nn);
    match (lhs, ke) {
        (Some(l), Some(ke)) if l == modp(&(Integer::from(&ke * &p.a)), &nn) => {}
        _ => return Err(eq("(1+N0)^z1·z2^N0 = A·K^e")),
    }
    // [enc.10] s^z1 · t^z3 = C · S^e  (mod N̂)
    let lhs = ring_public(own, aux, &p.z1, &p.z3);
    let se = crate::arith::pow_n(own, &p.s, &e, &aux.n);
    match (lhs, se) {
        (Some(l), Some(se)) if l == modp(&(Integer::from(&se * &p.c)), &aux.n) => {}
        _ => return Err(eq("s^z1·t^z3 = C·S^e")),
    }
    Ok(Verified::new())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::upstream::test_support::{ctx, parties, random_bits, rng, TEST_LEVEL};

    struct Fixture {
        ciphertext: Integer,
        k: Integer,
        rho: Integer,
        proof: Proof,
    }

    /// Prover = party 0 (its N0), verifier = party 1 (its aux).
    fn statement(f: &Fixture) -> Statement<'_> {
        let [a, b] = parties();
        Statement {
            n0: &a.n,
            ciphertext: &f.ciphertext,
            aux: &b.aux,
        }
    }

    fn fixture() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let [a, b] = parties();
            let mut rng = rng(1);
            let k = random_bits(&mut rng, 256);
            let rho = random_unit(&mut rng, &a.n);
            let ciphertext = a.key().encrypt_with(&k, &rho).unwrap();
            let st = Statement {
                n0: &a.n,
                ciphertext: &ciphertext,
                aux: &b.aux,
            };
            let w = Witness {
                k: &k,
                rho: &rho,
                key: a.key(),
            };
            let proof = prove(&ctx(b"sid-1", 0, 1), &st, &w, &TEST_LEVEL, &mut rng).unwrap();
            Fixture {
                ciphertext,
                k,
                rho,
                proof,
            }
        })
    }

    /// Verifies with and without the verifier's CRT key and insists both agree.
    fn check(st: &Statement<'_>, proof: &Proof) -> Result<Verified, ZkError> {
        let c = ctx(b"sid-1", 0, 1);
        let slow = verify(&c, st, &TEST_LEVEL, proof, None);
        let fast = verify(&c, st, &TEST_LEVEL, proof, Some(parties()[1].key()));
        assert_eq!(slow, fast, "CRT and plain verification disagree");
        fast
    }

    #[test]
    fn enc_passes_at_level128() {
        let f = fixture();
        let _ = check(&statement(f), &f.proof).unwrap();
        // A negative plaintext is within ±2^ℓ too.
        let [a, b] = parties();
        let mut rng = rng(2);
        let k = -random_bits(&mut rng, 255);
        let rho = random_unit(&mut rng, &a.n);
        let ct = a.key().encrypt_with(&k, &rho).unwrap();
        let st = Statement {
            n0: &a.n,
            ciphertext: &ct,
            aux: &b.aux,
        };
        let w = Witness {
            k: &k,
            rho: &rho,
            key: a.key(),
        };
        let p = prove(&ctx(b"sid-1", 0, 1), &st, &w, &TEST_LEVEL, &mut rng).unwrap();
        let _ = check(&st, &p).unwrap();
    }

    #[test]
    fn enc_wire_roundtrip() {
        let f = fixture();
        let json = serde_json::to_string(&f.proof).unwrap();
        let back: Proof = serde_json::from_str(&json).unwrap();
        let _ = check(&statement(f), &back).unwrap();
        let mut v: serde_json::Value = serde_json::from_str(&json).unwrap();
        v["extra"] = serde_json::Value::Bool(true);
        assert!(serde_json::from_value::<Proof>(v).is_err());
    }

    #[test]
    fn enc_0_rejects_level_without_slack() {
        let f = fixture();
        let weak = SecurityLevel {
            epsilon: 200,
            ..TEST_LEVEL
        };
        let r = verify(&ctx(b"sid-1", 0, 1), &statement(f), &weak, &f.proof, None);
        assert!(matches!(r, Err(ZkError::Statement { .. })), "{r:?}");
    }

    #[test]
    fn enc_1_rejects_modulus_outside_level() {
        let f = fixture();
        let small = Integer::from(&parties()[0].n >> 8u32) | 1u32;
        let st = Statement {
            n0: &small,
            ..statement(f)
        };
        assert!(matches!(
            check(&st, &f.proof),
            Err(ZkError::Statement { .. })
        ));
    }

    #[test]
    fn enc_2_rejects_bad_aux() {
        let f = fixture();
        let mut aux = parties()[1].aux.clone();
        aux.t = aux.s.clone();
        let st = Statement {
            aux: &aux,
            ..statement(f)
        };
        assert!(matches!(
            check(&st, &f.proof),
            Err(ZkError::BadInput { proof: "aux", .. })
        ));
    }

    #[test]
    fn enc_3_rejects_ciphertext_outside_group() {
        let f = fixture();
        let n0 = &parties()[0].n;
        for bad in [Integer::from(0), n0.clone(), Integer::from(n0.square_ref())] {
            let st = Statement {
                ciphertext: &bad,
                ..statement(f)
            };
            assert_eq!(
                check(&st, &f.proof),
                Err(ZkError::BadInput {
                    proof: "enc",
                    what: "K"
                })
            );
        }
    }

    #[test]
    fn enc_4_5_6_reject_values_outside_their_groups() {
        let f = fixture();
        let n0 = parties()[0].n.clone();
        let nhat = parties()[1].aux.n.clone();
        type Edit = fn(&mut Proof, &Integer, &Integer);
        let cases: [(Edit, &str); 4] = [
            (|p, n0, _| p.a = n0.clone(), "A"),
            (|p, _, nh| p.s = nh.clone(), "S or C"),
            (|p, _, _| p.c = Integer::from(0), "S or C"),
            (|p, n0, _| p.z2 = Integer::from(n0 * 2u32), "z2"),
        ];
        for (edit, what) in cases {
            let mut p = f.proof.clone();
            edit(&mut p, &n0, &nhat);
            assert_eq!(
                check(&statement(f), &p),
                Err(ZkError::BadInput { proof: "enc", what })
            );
        }
        // z2 sharing a factor with N0.
        let mut p = f.proof.clone();
        p.z2 = parties()[0].p.clone();
        assert_eq!(
            check(&statement(f), &p),
            Err(ZkError::BadInput {
                proof: "enc",
                what: "z2"
            })
        );
    }

    #[test]
    fn enc_7_rejects_z1_out_of_range() {
        let f = fixture();
        let mut p = f.proof.clone();
        p.z1 = (Integer::from(1) << (TEST_LEVEL.ell + TEST_LEVEL.epsilon)) + 1u32;
        assert_eq!(
            check(&statement(f), &p),
            Err(ZkError::OutOfRange {
                proof: "enc",
                what: "z1"
            })
        );
    }

    #[test]
    fn enc_7_a_plaintext_beyond_the_range_cannot_be_proved() {
        // A cheating prover with k ≈ 2^{ℓ+ε+10} (skipping [enc.p1]) fails [enc.7] or [enc.9].
        let [a, b] = parties();
        let mut rng = rng(9);
        let k = Integer::from(1) << (TEST_LEVEL.ell + TEST_LEVEL.epsilon + 10);
        let rho = random_unit(&mut rng, &a.n);
        let ct = a.key().encrypt_with(&k, &rho).unwrap();
        let st = Statement {
            n0: &a.n,
            ciphertext: &ct,
            aux: &b.aux,
        };
        let lax = SecurityLevel {
            ell: TEST_LEVEL.ell + TEST_LEVEL.epsilon + 10,
            ..TEST_LEVEL
        };
        let w = Witness {
            k: &k,
            rho: &rho,
            key: a.key(),
        };
        let p = prove(&ctx(b"sid-1", 0, 1), &st, &w, &lax, &mut rng).unwrap();
        assert!(check(&st, &p).is_err());
    }

    #[test]
    fn enc_8_caps_z3() {
        let f = fixture();
        let mut p = f.proof.clone();
        p.z3 = Integer::from(&parties()[1].aux.n << (TEST_LEVEL.ell + TEST_LEVEL.epsilon + 3));
        assert_eq!(
            check(&statement(f), &p),
            Err(ZkError::OutOfRange {
                proof: "enc",
                what: "z3"
            })
        );
    }

    #[test]
    fn enc_9_rejects_another_ciphertext_or_tampered_paillier_values() {
        let f = fixture();
        let [a, _] = parties();
        let other = a.key().encrypt_with(&(f.k.clone() + 1u32), &f.rho).unwrap();
        let st = Statement {
            ciphertext: &other,
            ..statement(f)
        };
        let want = Err(ZkError::Equation {
            proof: "enc",
            what: "(1+N0)^z1·z2^N0 = A·K^e",
        });
        assert_eq!(check(&st, &f.proof), want);
        let mut p = f.proof.clone();
        p.z2 = modp(&(Integer::from(&p.z2 * 2u32)), &a.n);
        assert_eq!(check(&statement(f), &p), want);
    }

    #[test]
    fn enc_10_rejects_tampered_ring_pedersen_values() {
        let f = fixture();
        let want = Err(ZkError::Equation {
            proof: "enc",
            what: "s^z1·t^z3 = C·S^e",
        });
        let mut p = f.proof.clone();
        p.z3 += 1u32;
        assert_eq!(check(&statement(f), &p), want);
        let mut p = f.proof.clone();
        p.z3 = -p.z3;
        assert_eq!(check(&statement(f), &p), want);
    }

    #[test]
    fn enc_rejects_replay_under_another_context_or_verifier() {
        let f = fixture();
        let other = ctx(b"sid-2", 0, 1);
        assert!(verify(&other, &statement(f), &TEST_LEVEL, &f.proof, None).is_err());
        let swapped = ctx(b"sid-1", 0, 2);
        assert!(verify(&swapped, &statement(f), &TEST_LEVEL, &f.proof, None).is_err());
    }

    #[test]
    fn enc_p_prover_refuses_bad_witness() {
        let f = fixture();
        let [a, b] = parties();
        let mut rng = rng(3);
        let st = statement(f);
        let big = Integer::from(1) << (TEST_LEVEL.ell + 1);
        let cases = [
            Witness {
                k: &big,
                rho: &f.rho,
                key: a.key(),
            },
            Witness {
                k: &f.k,
                rho: &f.rho,
                key: b.key(),
            },
            Witness {
                k: &f.k,
                rho: &a.p,
                key: a.key(),
            },
        ];
        for w in cases {
            assert!(matches!(
                prove(&ctx(b"sid-1", 0, 1), &st, &w, &TEST_LEVEL, &mut rng),
                Err(ZkError::Prover { .. })
            ));
        }
    }
}
