//! Π^log*: knowledge of `x` with `C = Enc_{N0}(x; ρ)` and `X = x·B`, `x ∈ ±2^{ℓ+ε}`
//! (CGGMP24 "Knowledge of Exponent vs Paillier Encryption", with a base `B` other than `G`).
//!
//! GG20 uses it in presign round 5 to show `R̄_i = k_i·R` is consistent with `K_i = Enc_i(k_i)`.
//! paillier-zk 0.7 no longer ships it, so it is written here, in the same shape as its Π^enc.
//!
//! Prover: `α ← ±2^{ℓ+ε}`, `μ ← ±2^ℓ·N̂`, `r ← Z*_{N0}`, `γ ← ±2^{ℓ+ε}·N̂`;
//! `S = s^x t^μ`, `A = (1+N0)^α r^{N0} mod N0²`, `Y = α·B`, `D = s^α t^γ`;
//! `e ∈ ±2^128` (see [`crate::CHALLENGE_BITS`]) from the transcript of
//! `(ctx, N0, C, B, X, N̂, s, t, S, A, Y, D)`;
//! `z1 = α + e·x`, `z2 = r·ρ^e mod N0`, `z3 = γ + e·μ`.
//!
//! Checks (verifier): `[log.0]` the level suits 128-bit challenges; `[log.1]` `N0` odd and
//! within the level; `[log.2]` the verifier's aux passes [`RingPedersen::validate`]; `[log.3]` `C, A ∈ Z*_{N0²}`; `[log.4]` `S, D ∈ Z*_N̂`;
//! `[log.5]` `B`, `X`, `Y` valid non-identity points; `[log.6]` `z2 ∈ Z*_{N0}`;
//! `[log.7]` `|z1| ≤ 2^{ℓ+ε}`; `[log.8]` `|z3| ≤ 2^{ℓ+ε+1}·N̂·2^{128}` (bounds the verifier's
//! work; an honest `z3` is far smaller); `[log.9]` `(1+N0)^{z1}·z2^{N0} = A·C^e mod N0²`;
//! `[log.10]` `z1·B = Y + e·X`; `[log.11]` `s^{z1}·t^{z3} = D·S^e mod N̂`.
//! The prover refuses a witness with `|x| > 2^ℓ` (`[log.p1]`), or whose key is not `N0` or nonce
//! not in `Z*_{N0}` (`[log.p2]`). Secret exponents use `mpz_powm_sec`; `A` is computed by CRT
//! under the prover's own key; a verifier that owns `N̂` checks `[log.11]` by CRT.

use k256::ProjectivePoint;
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::point::WirePoint;
use tessera_core::Transcript;
use tessera_paillier::SecretKey;

use crate::arith::{
    abs_le_pow2, append_int, challenge_pm, check_range_level, enc_public, in_mult_group,
    int_to_scalar as to_scalar, modp, modulus_ok, pow_n, pow_public, random_pm, random_unit,
    ring_public, ring_secret, CHALLENGE_BITS,
};
use crate::{RingPedersen, SecurityLevel, Verified, ZkError};

const PROOF: &str = "log*";

#[derive(Debug)]
pub struct Statement<'a> {
    /// The prover's Paillier modulus.
    pub n0: &'a Integer,
    /// `C = Enc_{N0}(x; ρ)`.
    pub c: &'a Integer,
    /// The base `B` (GG20: `R`).
    pub base: &'a ProjectivePoint,
    /// `X = x·B`.
    pub x: &'a ProjectivePoint,
}

pub struct Witness<'a> {
    pub x: &'a Integer,
    pub nonce: &'a Integer,
    /// The prover's own Paillier key (modulus `N0`), for CRT.
    pub key: &'a SecretKey,
}

impl std::fmt::Debug for Witness<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Witness(<redacted>)")
    }
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proof {
    pub s: Integer,
    pub a: Integer,
    pub y: WirePoint,
    pub d: Integer,
    pub z1: Integer,
    pub z2: Integer,
    pub z3: Integer,
}

#[allow(clippy::too_many_arguments)]
fn challenge(
    ctx: &Transcript,
    st: &Statement<'_>,
    aux: &RingPedersen,
    s: &Integer,
    a: &Integer,
    y: &ProjectivePoint,
    d: &Integer,
) -> Integer {
    let mut t = ctx.clone();
    t.append(b"proof", b"tessera.zk.log-star.v2");
    append_int(&mut t, b"N0", st.n0);
    append_int(&mut t, b"C", st.c);
    t.append_point(b"B", st.base);
    t.append_point(b"X", st.x);
    append_int(&mut t, b"Nhat", &aux.n);
    append_int(&mut t, b"s", &aux.s);
    append_int(&mut t, b"t", &aux.t);
    append_int(&mut t, b"S", s);
    append_int(&mut t, b"A", a);
    t.append_point(b"Y", y);
    append_int(&mut t, b"D", d);
    challenge_pm(&t)
}

fn check_common(
    st: &Statement<'_>,
    aux: &RingPedersen,
    level: &SecurityLevel,
) -> Result<Integer, ZkError> {
    check_range_level(PROOF, level)?; // [log.0]
    if !modulus_ok(st.n0, level) {
        return Err(ZkError::Statement {
            proof: PROOF,
            what: "N0 outside the security level",
        }); // [log.1]
    }
    aux.validate(level)?; // [log.2]
    let nn = Integer::from(st.n0.square_ref());
    if !in_mult_group(st.c, &nn) {
        return Err(ZkError::BadInput {
            proof: PROOF,
            what: "C",
        }); // [log.3]
    }
    if *st.base == ProjectivePoint::IDENTITY || *st.x == ProjectivePoint::IDENTITY {
        return Err(ZkError::BadInput {
            proof: PROOF,
            what: "B or X",
        }); // [log.5]
    }
    Ok(nn)
}

pub fn prove(
    ctx: &Transcript,
    st: &Statement<'_>,
    w: &Witness<'_>,
    aux: &RingPedersen,
    level: &SecurityLevel,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Proof, ZkError> {
    let _nn = check_common(st, aux, level)?;
    let bad = |what| ZkError::Prover { proof: PROOF, what };
    if !abs_le_pow2(w.x, level.ell) {
        return Err(bad("|x| > 2^ℓ")); // [log.p1]
    }
    if w.key.public().n() != st.n0 || !in_mult_group(w.nonce, st.n0) {
        return Err(bad("the witness key is not N0, or ρ ∉ Z*_N0")); // [log.p2]
    }
    let one = Integer::from(1);
    let b_le = Integer::from(&one << (level.ell + level.epsilon));
    let b_l_n = Integer::from(&one << level.ell) * &aux.n;
    let b_le_n = Integer::from(&b_le * &aux.n);
    let alpha = random_pm(rng, &b_le);
    let mu = random_pm(rng, &b_l_n);
    let r = random_unit(rng, st.n0);
    let gamma = random_pm(rng, &b_le_n);
    let s = ring_secret(aux, w.x, &mu).ok_or(bad("S"))?;
    let a = w.key.encrypt_with(&alpha, &r).map_err(|_| bad("A"))?;
    let y = *st.base * to_scalar(&alpha);
    let d = ring_secret(aux, &alpha, &gamma).ok_or(bad("D"))?;
    let e = challenge(ctx, st, aux, &s, &a, &y, &d);
    let z1 = Integer::from(&e * w.x) + &alpha;
    let rho_e = pow_public(w.nonce, &e, st.n0).ok_or(bad("ρ^e"))?;
    let z2 = modp(&(r * rho_e), st.n0);
    let z3 = Integer::from(&e * &mu) + &gamma;
    Ok(Proof {
        s,
        a,
        y: WirePoint::encode(&y),
        d,
        z1,
        z2,
        z3,
    })
}

/// Verifies `p`. `own` is the verifier's Paillier key: when its modulus is `N̂` the ring-Pedersen
/// equation runs by CRT.
pub fn verify(
    ctx: &Transcript,
    st: &Statement<'_>,
    aux: &RingPedersen,
    level: &SecurityLevel,
    p: &Proof,
    own: Option<&SecretKey>,
) -> Result<Verified, ZkError> {
    let nn = check_common(st, aux, level)?;
    let bad = |what| ZkError::BadInput { proof: PROOF, what };
    if !in_mult_group(&p.a, &nn) {
        return Err(bad("A")); // [log.3]
    }
    if !in_mult_group(&p.s, &aux.n) || !in_mult_group(&p.d, &aux.n) {
        return Err(bad("S or D")); // [log.4]
    }
    let y = p.y.decode().ok_or(bad("Y"))?; // [log.5]
    if !in_mult_group(&p.z2, st.n0) {
        return Err(bad("z2")); // [log.6]
    }
    let one = Integer::from(1);
    if !abs_le_pow2(&p.z1, level.ell + level.epsilon) {
        return Err(ZkError::OutOfRange {
            proof: PROOF,
            what: "z1",
        }); // [log.7]
    }
    let z3_cap = Integer::from(&one << (level.ell + level.epsilon + 1 + CHALLENGE_BITS)) * &aux.n;
    if Integer::from(p.z3.abs_ref()) > z3_cap {
        return Err(ZkError::OutOfRange {
            proof: PROOF,
            what: "z3",
        }); // [log.8]
    }
    let e = challenge(ctx, st, aux, &p.s, &p.a, &y, &p.d);
    let eq = |what| ZkError::Equation { proof: PROOF, what };
    // [log.9]
    let lhs = enc_public(st.n0, &nn, &p.z1, &p.z2).ok_or(eq("Paillier"))?;
    let ce = pow_public(st.c, &e, &nn).ok_or(eq("Paillier"))?;
    if lhs != modp(&(Integer::from(&p.a * &ce)), &nn) {
        return Err(eq("(1+N0)^z1·z2^N0 = A·C^e"));
    }
    // [log.10]
    if *st.base * to_scalar(&p.z1) != y + *st.x * to_scalar(&e) {
        return Err(eq("z1·B = Y + e·X"));
    }
    // [log.11]
    let l = ring_public(own, aux, &p.z1, &p.z3);
    let r = pow_n(own, &p.s, &e, &aux.n).map(|se| modp(&(se * &p.d), &aux.n));
    if l.is_none() || l != r {
        return Err(eq("s^z1·t^z3 = D·S^e"));
    }
    Ok(Verified::new())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;
    use crate::testkeys::primes;
    use k256::elliptic_curve::ops::MulByGenerator as _;
    use k256::elliptic_curve::Field;
    use k256::Scalar;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;
    use rug::integer::Order;
    use std::sync::OnceLock;

    struct Case {
        ctx: Transcript,
        n0: Integer,
        c: Integer,
        base: ProjectivePoint,
        x_pt: ProjectivePoint,
        aux: RingPedersen,
        proof: Proof,
        level: SecurityLevel,
    }

    /// Prover key (fixture pair 1) and verifier key (pair 2, whose modulus is `N̂`).
    fn keys() -> &'static (SecretKey, SecretKey) {
        static K: OnceLock<(SecretKey, SecretKey)> = OnceLock::new();
        K.get_or_init(|| {
            let (p, q) = primes(1);
            let (vp, vq) = primes(2);
            (
                SecretKey::from_primes(p, q).unwrap(),
                SecretKey::from_primes(vp, vq).unwrap(),
            )
        })
    }

    impl Case {
        fn st(&self) -> Statement<'_> {
            Statement {
                n0: &self.n0,
                c: &self.c,
                base: &self.base,
                x: &self.x_pt,
            }
        }
        /// Verifies with and without the verifier's CRT key; both must agree.
        fn verify(&self) -> Result<Verified, ZkError> {
            let slow = verify(
                &self.ctx,
                &self.st(),
                &self.aux,
                &self.level,
                &self.proof,
                None,
            );
            let fast = verify(
                &self.ctx,
                &self.st(),
                &self.aux,
                &self.level,
                &self.proof,
                Some(&keys().1),
            );
            assert_eq!(slow, fast, "CRT and plain verification disagree");
            fast
        }
    }

    fn case() -> Case {
        let mut rng = ChaCha20Rng::seed_from_u64(11);
        let (p0, q0) = primes(1);
        let n0 = Integer::from(&p0 * &q0);
        let (vp, vq) = primes(2);
        let (aux, _) = crate::prm::generate(&mut rng, &vp, &vq);
        let k = Scalar::random(&mut rng);
        let x = Integer::from_digits(&k.to_bytes()[..], Order::Msf);
        let rho = random_unit(&mut rng, &n0);
        let c = keys().0.encrypt_with(&x, &rho).unwrap();
        let base = ProjectivePoint::mul_by_generator(&Scalar::random(&mut rng));
        let x_pt = base * k;
        let ctx = Transcript::new(b"log-star-test");
        let level = SecurityLevel::LEVEL128;
        let st = Statement {
            n0: &n0,
            c: &c,
            base: &base,
            x: &x_pt,
        };
        let proof = prove(
            &ctx,
            &st,
            &Witness {
                x: &x,
                nonce: &rho,
                key: &keys().0,
            },
            &aux,
            &level,
            &mut rng,
        )
        .unwrap();
        Case {
            ctx,
            n0,
            c,
            base,
            x_pt,
            aux,
            proof,
            level,
        }
    }

    #[test]
    fn passes_and_roundtrips() {
        let k = case();
        let _ = k.verify().unwrap();
        let mut k2 = case();
        k2.proof = serde_json::from_str(&serde_json::to_string(&k.proof).unwrap()).unwrap();
        let _ = k2.verify().unwrap();
    }

    #[test]
    fn log_0_rejects_level_without_slack() {
        let mut k = case();
        k.level.epsilon = 200;
        assert!(matches!(k.verify(), Err(ZkError::Statement { .. })));
    }

    #[test]
    fn log_1_rejects_small_modulus() {
        let mut k = case();
        k.n0 = Integer::from(&k.n0 >> 64u32) | 1u32;
        assert!(matches!(k.verify(), Err(ZkError::Statement { .. })));
    }

    #[test]
    fn log_2_rejects_bad_aux() {
        let mut k = case();
        k.aux.t = k.aux.s.clone();
        assert!(matches!(
            k.verify(),
            Err(ZkError::BadInput { proof: "aux", .. })
        ));
    }

    #[test]
    fn log_3_rejects_ciphertexts_outside_group() {
        let mut k = case();
        k.c = Integer::from(0);
        assert!(matches!(
            k.verify(),
            Err(ZkError::BadInput { what: "C", .. })
        ));
        let mut k = case();
        k.proof.a = k.n0.clone();
        assert!(matches!(
            k.verify(),
            Err(ZkError::BadInput { what: "A", .. })
        ));
    }

    #[test]
    fn log_4_rejects_commitments_outside_group() {
        let mut k = case();
        k.proof.d = Integer::from(0);
        assert!(matches!(
            k.verify(),
            Err(ZkError::BadInput { what: "S or D", .. })
        ));
    }

    #[test]
    fn log_5_rejects_identity_points() {
        let mut k = case();
        k.proof.y = WirePoint([0; 33]);
        assert!(matches!(
            k.verify(),
            Err(ZkError::BadInput { what: "Y", .. })
        ));
        let mut k = case();
        k.x_pt = ProjectivePoint::IDENTITY;
        assert!(matches!(
            k.verify(),
            Err(ZkError::BadInput { what: "B or X", .. })
        ));
    }

    #[test]
    fn log_6_rejects_z2_outside_group() {
        let mut k = case();
        k.proof.z2 = Integer::from(0);
        assert!(matches!(
            k.verify(),
            Err(ZkError::BadInput { what: "z2", .. })
        ));
    }

    #[test]
    fn log_7_rejects_z1_out_of_range() {
        let mut k = case();
        k.proof.z1 = Integer::from(1) << (k.level.ell + k.level.epsilon + 1);
        assert!(matches!(
            k.verify(),
            Err(ZkError::OutOfRange { what: "z1", .. })
        ));
    }

    #[test]
    fn log_8_caps_z3() {
        let mut k = case();
        k.proof.z3 = Integer::from(&k.aux.n << 2000u32);
        assert!(matches!(
            k.verify(),
            Err(ZkError::OutOfRange { what: "z3", .. })
        ));
    }

    #[test]
    fn log_9_10_11_reject_wrong_statements_and_tampering() {
        // [log.9] another ciphertext.
        let mut k = case();
        let nn = Integer::from(k.n0.square_ref());
        k.c = modp(&(Integer::from(&k.c * 4u32)), &nn);
        assert!(matches!(
            k.verify(),
            Err(ZkError::Equation {
                what: "(1+N0)^z1·z2^N0 = A·C^e",
                ..
            })
        ));
        // [log.10] another X.
        let mut k = case();
        k.x_pt += ProjectivePoint::GENERATOR;
        assert!(matches!(k.verify(), Err(ZkError::Equation { .. })));
        // [log.11] tampered z3 (changes only the ring-Pedersen equation).
        let mut k = case();
        k.proof.z3 += 1;
        assert!(matches!(
            k.verify(),
            Err(ZkError::Equation {
                what: "s^z1·t^z3 = D·S^e",
                ..
            })
        ));
        // Replay under another context.
        let mut k = case();
        k.ctx = Transcript::new(b"log-star-test-other");
        assert!(matches!(k.verify(), Err(ZkError::Equation { .. })));
    }

    #[test]
    fn log_p_prover_refuses_bad_witness() {
        let k = case();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let big = Integer::from(1) << (k.level.ell + 1);
        let w = Witness {
            x: &big,
            nonce: &Integer::from(1),
            key: &keys().0,
        };
        assert!(matches!(
            prove(&k.ctx, &k.st(), &w, &k.aux, &k.level, &mut rng),
            Err(ZkError::Prover { .. })
        ));
        let w = Witness {
            x: &Integer::from(5),
            nonce: &Integer::from(1),
            key: &keys().1,
        };
        assert!(matches!(
            prove(&k.ctx, &k.st(), &w, &k.aux, &k.level, &mut rng),
            Err(ZkError::Prover { .. })
        ));
    }
}
