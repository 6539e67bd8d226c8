//! Π^aff-g — Paillier affine operation with group commitment in range (CGGMP24, ePrint 2021/060,
//! "Paillier Affine Operation with Group Commitment in Range ZK"), GG20's "Bob's proof with
//! check", written here with constant-time provers and CRT fast paths.
//!
//! # Statement
//!
//! Alice (the verifier) owns `N0` and sent `C = Enc_{N0}(a)`. Public: `N0`, `C`, `D`, `X` and
//! Alice's ring-Pedersen parameters `(N̂, s, t)`. Bob (the prover) knows `x`, `y`, `ρ ∈ Z*_{N0}` with
//!
//! ```text
//! D = C^x · (1 + N0)^y · ρ^{N0}   mod N0²      (= C^x · Enc_{N0}(y; ρ))
//! X = x·G,    |x| ≤ 2^ℓ,  |y| ≤ 2^ℓ′
//! ```
//!
//! and the proof shows `x ∈ ±2^{ℓ+ε}`, `y ∈ ±2^{ℓ′+ε}`. Alice's share is `Dec(D) = x·a + y`; Bob
//! keeps `−y`. `y` is *added* (a caller computing `D` with `Enc(−y)` gets a proof that fails).
//!
//! **Difference from the paper's statement:** CGGMP24's Π^aff-g also binds `Y = Enc_{N1}(y)` under
//! Bob's own key, because CGGMP's presign identification later uses `Y`. GG20 has no such use
//! (type-5 identification reveals `y` with its nonce and recomputes `D`), and GG18/GG20's own
//! "Bob's proof with check" has no `Y`; so `Y`, its commitment `B_y` and its equation are dropped.
//! The range argument for `y` is the ring-Pedersen pair `F = s^β t^δ`, `T = s^y t^μ` with
//! `s^{z2} t^{z4} = F·T^e` and `|z2| ≤ 2^{ℓ′+ε}`, which is unchanged. See `docs/deviations.md`.
//!
//! # Protocol
//!
//! Prover: `α ← ±2^{ℓ+ε}`, `β ← ±2^{ℓ′+ε}`, `r ← Z*_{N0}`, `γ, δ ← ±2^{ℓ+ε}·N̂`, `m, μ ← ±2^ℓ·N̂`;
//! `A = C^α·(1+N0)^β·r^{N0} mod N0²`, `B_x = α·G`, `E = s^α t^γ`, `S = s^x t^m`, `F = s^β t^δ`,
//! `T = s^y t^μ mod N̂`; `e ∈ ±2^128` from the transcript of
//! `(ctx, level, N0, C, D, X, N̂, s, t, A, B_x, E, S, F, T)`;
//! `z1 = α + e·x`, `z2 = β + e·y`, `z3 = γ + e·m`, `z4 = δ + e·μ`, `w = r·ρ^e mod N0`.
//!
//! # Checks (verifier)
//!
//! - `[aff_g.0]` the level: 128-bit challenges fit (`ε ≥ 228`), `ℓ′ ≥ 2ℓ + ε + 100` (so `y`
//!   statistically hides `x·a` for Alice's proven `a ∈ ±2^{ℓ+ε}`), and
//!   `max(2(ℓ+ε), ℓ′+ε) + 2 < min_modulus_bits` (`D`'s plaintext cannot wrap mod N0);
//! - `[aff_g.1]` `N0` odd, bit length within the level (`[aff_g.2]`, Bob's `N1`, went with `Y`);
//!   `[aff_g.3]` Alice's aux passes
//!   [`RingPedersen::validate`];
//! - `[aff_g.4]` `C ∈ Z*_{N0²}`, `[aff_g.5]` `D ∈ Z*_{N0²}`, `[aff_g.6]` `A ∈ Z*_{N0²}`;
//! - `[aff_g.7]` `X` and `B_x` are not the identity (`B_x` decodes as a valid point);
//! - `[aff_g.8]` `E, S, F, T ∈ Z*_N̂`; `[aff_g.9]` `w ∈ Z*_{N0}`;
//! - `[aff_g.10]` `|z1| ≤ 2^{ℓ+ε}`, `[aff_g.11]` `|z2| ≤ 2^{ℓ′+ε}` — before any exponentiation;
//! - `[aff_g.12]` `|z3|, |z4| ≤ N̂·2^{ℓ+ε+2}` (never reached by an honest prover; caps the work);
//! - `[aff_g.13]` `C^{z1}·(1+N0)^{z2}·w^{N0} = A·D^e mod N0²`;
//! - `[aff_g.14]` `z1·G = B_x + e·X`;
//! - `[aff_g.15]` `s^{z1} t^{z3} = E·S^e mod N̂`; `[aff_g.16]` `s^{z2} t^{z4} = F·T^e mod N̂`.
//!
//! The prover refuses a bad witness ([`ZkError::Prover`]): `[aff_g.p1]` `|x| ≤ 2^ℓ`,
//! `[aff_g.p2]` `|y| ≤ 2^ℓ′`, `[aff_g.p3]` `ρ ∈ Z*_{N0}`, `[aff_g.p4]` `X = x·G`.
//!
//! # Side channels and speed
//!
//! Secret exponents (`C^α`, every ring-Pedersen exponent) go through `mpz_powm_sec`; `r^{N0}` has
//! a public exponent. Alice verifies under her own key: pass it as `own` and the `N0²` and `N̂`
//! equations run by CRT.

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::ProjectivePoint;
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::point::WirePoint;
use tessera_core::Transcript;
use tessera_paillier::SecretKey;

use crate::arith::{
    abs_le_pow2, append_int, challenge_pm, check_range_level, in_mult_group, int_to_scalar, modp,
    modulus_ok, pow_n, pow_nn, pow_public, pow_secret, random_pm, random_unit, ring_public,
    ring_secret, MIN_SLACK_BITS,
};
use crate::{RingPedersen, SecurityLevel, Verified, ZkError};

const PROOF: &str = "aff_g";

/// Public input of Π^aff-g (see the module docs for the relation and the sign of `y`).
#[derive(Clone, Copy, Debug)]
pub struct Statement<'a> {
    /// `N0`: Alice's (the verifier's) Paillier modulus; `C` and `D` are under it.
    pub n0: &'a Integer,
    /// `C`: Alice's ciphertext.
    pub c: &'a Integer,
    /// `D = C^x · Enc_{N0}(y; ρ)`.
    pub d: &'a Integer,
    /// `X = x·G` (must not be the identity).
    pub x: &'a ProjectivePoint,
    /// Alice's ring-Pedersen parameters.
    pub aux: &'a RingPedersen,
}

/// Bob's secret: `x` (`|x| ≤ 2^ℓ`), `y` (`|y| ≤ 2^ℓ′`), `ρ ∈ Z*_{N0}`.
#[derive(Clone, Copy)]
pub struct Witness<'a> {
    pub x: &'a Integer,
    pub y: &'a Integer,
    pub rho: &'a Integer,
}

impl std::fmt::Debug for Witness<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("aff_g::Witness(<redacted>)")
    }
}

/// A non-interactive Π^aff-g proof.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Proof {
    pub a: Integer,
    pub b_x: WirePoint,
    pub e_commit: Integer,
    pub s: Integer,
    pub f: Integer,
    pub t: Integer,
    pub z1: Integer,
    pub z2: Integer,
    pub z3: Integer,
    pub z4: Integer,
    pub w: Integer,
}

struct Commitment<'a> {
    a: &'a Integer,
    b_x: &'a ProjectivePoint,
    e: &'a Integer,
    s: &'a Integer,
    f: &'a Integer,
    t: &'a Integer,
}

fn challenge(
    ctx: &Transcript,
    st: &Statement<'_>,
    level: &SecurityLevel,
    c: &Commitment<'_>,
) -> Integer {
    let mut t = ctx.clone();
    t.append(b"proof", b"tessera.zk.aff-g.v2");
    t.append_u64(b"ell", level.ell.into())
        .append_u64(b"ell'", level.ell_prime.into())
        .append_u64(b"epsilon", level.epsilon.into());
    append_int(&mut t, b"N0", st.n0);
    append_int(&mut t, b"C", st.c);
    append_int(&mut t, b"D", st.d);
    t.append_point(b"X", st.x);
    append_int(&mut t, b"Nhat", &st.aux.n);
    append_int(&mut t, b"s", &st.aux.s);
    append_int(&mut t, b"t", &st.aux.t);
    append_int(&mut t, b"A", c.a);
    t.append_point(b"Bx", c.b_x);
    append_int(&mut t, b"E", c.e);
    append_int(&mut t, b"S", c.s);
    append_int(&mut t, b"F", c.f);
    append_int(&mut t, b"T", c.t);
    challenge_pm(&t)
}

fn check_level(level: &SecurityLevel) -> Result<(), ZkError> {
    check_range_level(PROOF, level)?;
    let statement = |what| ZkError::Statement { proof: PROOF, what };
    let hide = level
        .ell
        .saturating_mul(2)
        .saturating_add(level.epsilon)
        .saturating_add(MIN_SLACK_BITS);
    if level.ell_prime < hide {
        return Err(statement("security level: ℓ′ < 2ℓ + ε + 100"));
    }
    let widest = level
        .ell
        .saturating_add(level.epsilon)
        .saturating_mul(2)
        .max(level.ell_prime.saturating_add(level.epsilon));
    if widest.saturating_add(2) >= level.min_modulus_bits {
        return Err(statement(
            "security level: the MtA plaintext could wrap mod N0",
        ));
    }
    Ok(())
}

/// `[aff_g.0]`–`[aff_g.5]`, `X` of `[aff_g.7]`; returns `N0²`.
fn check_statement(st: &Statement<'_>, level: &SecurityLevel) -> Result<Integer, ZkError> {
    check_level(level)?; // [aff_g.0]
    if !modulus_ok(st.n0, level) {
        return Err(ZkError::Statement {
            proof: PROOF,
            what: "N0 outside the security level",
        }); // [aff_g.1]
    }
    st.aux.validate(level)?; // [aff_g.3]
    let nn = Integer::from(st.n0.square_ref());
    let bad = |what| ZkError::BadInput { proof: PROOF, what };
    if !in_mult_group(st.c, &nn) {
        return Err(bad("C")); // [aff_g.4]
    }
    if !in_mult_group(st.d, &nn) {
        return Err(bad("D")); // [aff_g.5]
    }
    if *st.x == ProjectivePoint::IDENTITY {
        return Err(bad("X")); // [aff_g.7]
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
    let nn = check_statement(st, level)?;
    let bad = |what| ZkError::Prover { proof: PROOF, what };
    if !abs_le_pow2(w.x, level.ell) {
        return Err(bad("|x| > 2^ℓ")); // [aff_g.p1]
    }
    if !abs_le_pow2(w.y, level.ell_prime) {
        return Err(bad("|y| > 2^ℓ′")); // [aff_g.p2]
    }
    if !in_mult_group(w.rho, st.n0) {
        return Err(bad("ρ ∉ Z*_N0")); // [aff_g.p3]
    }
    if ProjectivePoint::mul_by_generator(&int_to_scalar(w.x)) != *st.x {
        return Err(bad("X ≠ x·G")); // [aff_g.p4]
    }
    commit_and_respond(ctx, st, w, level, &nn, rng)
}

/// The prover's computation, after the statement and witness checks (tests call it directly to
/// play a prover that skips them).
fn commit_and_respond(
    ctx: &Transcript,
    st: &Statement<'_>,
    w: &Witness<'_>,
    level: &SecurityLevel,
    nn: &Integer,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Proof, ZkError> {
    let bad = |what| ZkError::Prover { proof: PROOF, what };
    let aux = st.aux;
    let one = Integer::from(1);
    let b_le = Integer::from(&one << (level.ell + level.epsilon));
    let b_lpe = Integer::from(&one << (level.ell_prime + level.epsilon));
    let b_le_n = Integer::from(&b_le * &aux.n);
    let b_l_n = Integer::from(&one << level.ell) * &aux.n;
    let alpha = random_pm(rng, &b_le);
    let beta = random_pm(rng, &b_lpe);
    let r = random_unit(rng, st.n0);
    let gamma = random_pm(rng, &b_le_n);
    let m = random_pm(rng, &b_l_n);
    let delta = random_pm(rng, &b_le_n);
    let mu = random_pm(rng, &b_l_n);

    // A = C^α · (1+N0)^β · r^N0: α secret (constant time), N0 public.
    let c_alpha = pow_secret(st.c, &alpha, nn).ok_or(bad("C^α"))?;
    let enc_beta = crate::arith::enc_public(st.n0, nn, &beta, &r).ok_or(bad("Enc(β)"))?;
    let a = modp(&(c_alpha * enc_beta), nn);
    let b_x = ProjectivePoint::mul_by_generator(&int_to_scalar(&alpha));
    let e_commit = ring_secret(aux, &alpha, &gamma).ok_or(bad("E"))?;
    let s = ring_secret(aux, w.x, &m).ok_or(bad("S"))?;
    let f = ring_secret(aux, &beta, &delta).ok_or(bad("F"))?;
    let t = ring_secret(aux, w.y, &mu).ok_or(bad("T"))?;
    let e = challenge(
        ctx,
        st,
        level,
        &Commitment {
            a: &a,
            b_x: &b_x,
            e: &e_commit,
            s: &s,
            f: &f,
            t: &t,
        },
    );
    let z1 = Integer::from(&e * w.x) + &alpha;
    let z2 = Integer::from(&e * w.y) + &beta;
    let z3 = Integer::from(&e * &m) + &gamma;
    let z4 = Integer::from(&e * &mu) + &delta;
    let rho_e = pow_public(w.rho, &e, st.n0).ok_or(bad("ρ^e"))?;
    let w_resp = modp(&(r * rho_e), st.n0);
    Ok(Proof {
        a,
        b_x: WirePoint::encode(&b_x),
        e_commit,
        s,
        f,
        t,
        z1,
        z2,
        z3,
        z4,
        w: w_resp,
    })
}

/// Verifies `p`. `own` is the verifier's (Alice's) Paillier key: when it is `N0` (and `N̂`), the
/// Paillier and ring-Pedersen equations run by CRT.
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
        return Err(bad("A")); // [aff_g.6]
    }
    let b_x = p.b_x.decode().ok_or(bad("B_x"))?; // [aff_g.7]
    if [&p.e_commit, &p.s, &p.f, &p.t]
        .iter()
        .any(|v| !in_mult_group(v, &aux.n))
    {
        return Err(bad("E, S, F or T")); // [aff_g.8]
    }
    if !in_mult_group(&p.w, st.n0) {
        return Err(bad("w")); // [aff_g.9]
    }
    let range = |what| ZkError::OutOfRange { proof: PROOF, what };
    if !abs_le_pow2(&p.z1, level.ell + level.epsilon) {
        return Err(range("z1")); // [aff_g.10]
    }
    if !abs_le_pow2(&p.z2, level.ell_prime + level.epsilon) {
        return Err(range("z2")); // [aff_g.11]
    }
    let cap = Integer::from(&aux.n << (level.ell + level.epsilon + 2));
    if p.z3.cmp_abs(&cap).is_gt() || p.z4.cmp_abs(&cap).is_gt() {
        return Err(range("z3 or z4")); // [aff_g.12]
    }
    let e = challenge(
        ctx,
        st,
        level,
        &Commitment {
            a: &p.a,
            b_x: &b_x,
            e: &p.e_commit,
            s: &p.s,
            f: &p.f,
            t: &p.t,
        },
    );
    let eq = |what| ZkError::Equation { proof: PROOF, what };

    // [aff_g.13] C^z1 · (1+N0)^z2 · w^N0 = A · D^e  (mod N0²)
    let n0 = st.n0;
    let lhs = pow_nn(own, st.c, &p.z1, n0, &nn).and_then(|cz| {
        let wn = pow_nn(own, &p.w, n0, n0, &nn)?;
        let g = modp(&(modp(&p.z2, n0) * n0 + 1u32), &nn);
        Some(modp(&(modp(&(cz * wn), &nn) * g), &nn))
    });
    let rhs = pow_nn(own, st.d, &e, n0, &nn).map(|de| modp(&(de * &p.a), &nn));
    if lhs.is_none() || lhs != rhs {
        return Err(eq("C^z1·(1+N0)^z2·w^N0 = A·D^e"));
    }
    // [aff_g.14] z1·G = B_x + e·X
    if ProjectivePoint::mul_by_generator(&int_to_scalar(&p.z1)) != b_x + *st.x * int_to_scalar(&e) {
        return Err(eq("z1·G = B_x + e·X"));
    }
    // [aff_g.15], [aff_g.16]
    let ring_eq = |z_a: &Integer, z_b: &Integer, commit: &Integer, base: &Integer| {
        let l = ring_public(own, aux, z_a, z_b);
        let r = pow_n(own, base, &e, &aux.n).map(|x| modp(&(x * commit), &aux.n));
        l.is_some() && l == r
    };
    if !ring_eq(&p.z1, &p.z3, &p.e_commit, &p.s) {
        return Err(eq("s^z1·t^z3 = E·S^e"));
    }
    if !ring_eq(&p.z2, &p.z4, &p.f, &p.t) {
        return Err(eq("s^z2·t^z4 = F·T^e"));
    }
    Ok(Verified::new())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::upstream::test_support::{
        ctx, parties, random_bits, random_signed, rng, TEST_LEVEL,
    };

    /// Alice = party 0 (N0, aux), Bob = party 1.
    struct Fixture {
        c: Integer,
        d: Integer,
        x_int: Integer,
        y: Integer,
        rho: Integer,
        x: ProjectivePoint,
        proof: Proof,
    }

    fn statement(f: &Fixture) -> Statement<'_> {
        let [a, _] = parties();
        Statement {
            n0: &a.n,
            c: &f.c,
            d: &f.d,
            x: &f.x,
            aux: &a.aux,
        }
    }

    fn make_d(n0: &Integer, c: &Integer, x: &Integer, y: &Integer, rho: &Integer) -> Integer {
        let nn = Integer::from(n0.square_ref());
        let cx = pow_secret(c, x, &nn).unwrap();
        let ey = crate::arith::enc_public(n0, &nn, y, rho).unwrap();
        modp(&(cx * ey), &nn)
    }

    fn fixture() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let [a, _] = parties();
            let mut rng = rng(21);
            let k = random_bits(&mut rng, 256);
            let c = a
                .key()
                .encrypt_with(&k, &random_unit(&mut rng, &a.n))
                .unwrap();
            let x_int = random_bits(&mut rng, 255);
            let y = random_signed(&mut rng, TEST_LEVEL.ell_prime - 1);
            let rho = random_unit(&mut rng, &a.n);
            let d = make_d(&a.n, &c, &x_int, &y, &rho);
            let x = ProjectivePoint::mul_by_generator(&int_to_scalar(&x_int));
            let mut f = Fixture {
                c,
                d,
                x_int,
                y,
                rho,
                x,
                proof: Proof {
                    a: Integer::new(),
                    b_x: WirePoint([0; 33]),
                    e_commit: Integer::new(),
                    s: Integer::new(),
                    f: Integer::new(),
                    t: Integer::new(),
                    z1: Integer::new(),
                    z2: Integer::new(),
                    z3: Integer::new(),
                    z4: Integer::new(),
                    w: Integer::new(),
                },
            };
            let w = Witness {
                x: &f.x_int,
                y: &f.y,
                rho: &f.rho,
            };
            f.proof = prove(
                &ctx(b"sid", 1, 0),
                &statement(&f),
                &w,
                &TEST_LEVEL,
                &mut rng,
            )
            .unwrap();
            f
        })
    }

    fn check(st: &Statement<'_>, proof: &Proof) -> Result<Verified, ZkError> {
        let c = ctx(b"sid", 1, 0);
        let slow = verify(&c, st, &TEST_LEVEL, proof, None);
        let fast = verify(&c, st, &TEST_LEVEL, proof, Some(parties()[0].key()));
        assert_eq!(slow, fast, "CRT and plain verification disagree");
        fast
    }

    fn equation(what: &'static str) -> Result<Verified, ZkError> {
        Err(ZkError::Equation {
            proof: "aff_g",
            what,
        })
    }

    #[test]
    fn aff_g_passes_and_alice_gets_x_a_plus_y() {
        let f = fixture();
        let _ = check(&statement(f), &f.proof).unwrap();
        let [a, _] = parties();
        let k = a.decrypt(&f.c);
        assert_eq!(a.decrypt(&f.d), Integer::from(&k * &f.x_int) + &f.y);
        let json = serde_json::to_string(&f.proof).unwrap();
        let back: Proof = serde_json::from_str(&json).unwrap();
        let _ = check(&statement(f), &back).unwrap();
    }

    #[test]
    fn aff_g_0_rejects_levels_without_slack() {
        let f = fixture();
        for level in [
            SecurityLevel {
                epsilon: 200,
                ..TEST_LEVEL
            },
            SecurityLevel {
                ell_prime: 700,
                ..TEST_LEVEL
            },
            SecurityLevel {
                ell_prime: 3000,
                ..TEST_LEVEL
            },
        ] {
            let r = verify(&ctx(b"sid", 1, 0), &statement(f), &level, &f.proof, None);
            assert!(matches!(r, Err(ZkError::Statement { .. })), "{r:?}");
        }
    }

    #[test]
    fn aff_g_1_3_reject_bad_modulus_and_aux() {
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
        let mut aux = parties()[0].aux.clone();
        aux.s = Integer::from(1);
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
    fn aff_g_4_5_7_reject_bad_statement_values() {
        let f = fixture();
        let n0 = parties()[0].n.clone();
        let st = Statement {
            c: &n0,
            ..statement(f)
        };
        assert_eq!(
            check(&st, &f.proof),
            Err(ZkError::BadInput {
                proof: "aff_g",
                what: "C"
            })
        );
        let zero = Integer::from(0);
        let st = Statement {
            d: &zero,
            ..statement(f)
        };
        assert_eq!(
            check(&st, &f.proof),
            Err(ZkError::BadInput {
                proof: "aff_g",
                what: "D"
            })
        );
        let st = Statement {
            x: &ProjectivePoint::IDENTITY,
            ..statement(f)
        };
        assert_eq!(
            check(&st, &f.proof),
            Err(ZkError::BadInput {
                proof: "aff_g",
                what: "X"
            })
        );
    }

    #[test]
    fn aff_g_6_7_8_9_reject_proof_values_outside_their_groups() {
        let f = fixture();
        let [a, _] = parties();
        type Edit = fn(&mut Proof, &Integer);
        let cases: [(Edit, &str); 7] = [
            (|p, n| p.a = Integer::from(n * 3u32), "A"),
            (|p, _| p.b_x = WirePoint([0; 33]), "B_x"),
            (|p, _| p.e_commit = Integer::from(0), "E, S, F or T"),
            (|p, n| p.s = n.clone(), "E, S, F or T"),
            (|p, n| p.f = Integer::from(n + 1u32), "E, S, F or T"),
            (|p, _| p.t = Integer::from(-1), "E, S, F or T"),
            (|p, n| p.w = n.clone(), "w"),
        ];
        for (edit, what) in cases {
            let mut p = f.proof.clone();
            edit(&mut p, &a.n);
            assert_eq!(
                check(&statement(f), &p),
                Err(ZkError::BadInput {
                    proof: "aff_g",
                    what
                }),
                "{what}"
            );
        }
    }

    #[test]
    fn aff_g_10_11_12_reject_responses_out_of_range() {
        let f = fixture();
        let one = Integer::from(1);
        let mut p = f.proof.clone();
        p.z1 = -(Integer::from(&one << (TEST_LEVEL.ell + TEST_LEVEL.epsilon)) + 1u32);
        assert_eq!(
            check(&statement(f), &p),
            Err(ZkError::OutOfRange {
                proof: "aff_g",
                what: "z1"
            })
        );
        let mut p = f.proof.clone();
        p.z2 = Integer::from(&one << (TEST_LEVEL.ell_prime + TEST_LEVEL.epsilon)) + 1u32;
        assert_eq!(
            check(&statement(f), &p),
            Err(ZkError::OutOfRange {
                proof: "aff_g",
                what: "z2"
            })
        );
        let mut p = f.proof.clone();
        p.z4 = Integer::from(&parties()[0].aux.n << (TEST_LEVEL.ell + TEST_LEVEL.epsilon + 3));
        assert_eq!(
            check(&statement(f), &p),
            Err(ZkError::OutOfRange {
                proof: "aff_g",
                what: "z3 or z4"
            })
        );
    }

    #[test]
    fn aff_g_11_an_out_of_range_y_cannot_be_proved() {
        // Bob skips [aff_g.p2] with y ≈ 2^{ℓ′+ε+8}: the proof fails [aff_g.11] (or an equation).
        let f = fixture();
        let [a, _] = parties();
        let mut rng = rng(23);
        let y = Integer::from(1) << (TEST_LEVEL.ell_prime + TEST_LEVEL.epsilon + 8);
        let d = make_d(&a.n, &f.c, &f.x_int, &y, &f.rho);
        let st = Statement {
            d: &d,
            ..statement(f)
        };
        let lax = SecurityLevel {
            ell_prime: TEST_LEVEL.ell_prime + TEST_LEVEL.epsilon + 8,
            ..TEST_LEVEL
        };
        let w = Witness {
            x: &f.x_int,
            y: &y,
            rho: &f.rho,
        };
        let p = prove(&ctx(b"sid", 1, 0), &st, &w, &lax, &mut rng).unwrap();
        assert!(check(&st, &p).is_err());
    }

    #[test]
    fn aff_g_13_rejects_wrong_d_and_tampered_w() {
        let f = fixture();
        let [a, _] = parties();
        // D with −y instead of +y (the sign convention), and D for another x.
        let neg = make_d(&a.n, &f.c, &f.x_int, &Integer::from(-&f.y), &f.rho);
        let st = Statement {
            d: &neg,
            ..statement(f)
        };
        assert_eq!(
            check(&st, &f.proof),
            equation("C^z1·(1+N0)^z2·w^N0 = A·D^e")
        );
        let mut p = f.proof.clone();
        p.w = modp(&(Integer::from(&p.w * 2u32)), &a.n);
        assert_eq!(
            check(&statement(f), &p),
            equation("C^z1·(1+N0)^z2·w^N0 = A·D^e")
        );
    }

    #[test]
    fn aff_g_14_group_equation_is_checked() {
        // A proof whose Paillier and ring-Pedersen parts are right for x, claimed for an X that
        // is not x·G.
        let f = fixture();
        let mut rng = rng(29);
        let st = statement(f);
        // X' = X + G with the same (x, y, ρ): only the group equation can catch it.
        let x2 = f.x + ProjectivePoint::GENERATOR;
        let st2 = Statement { x: &x2, ..st };
        let w = Witness {
            x: &f.x_int,
            y: &f.y,
            rho: &f.rho,
        };
        // The honest prover refuses ([aff_g.p4]) …
        assert!(matches!(
            prove(&ctx(b"sid", 1, 0), &st2, &w, &TEST_LEVEL, &mut rng),
            Err(ZkError::Prover { .. })
        ));
        // … and a prover that skips that check produces a proof the verifier rejects at 14.
        let p = prove_unchecked(&st2, &w, &mut rng);
        assert_eq!(check(&st2, &p), equation("z1·G = B_x + e·X"));
    }

    /// The prover's computation without the witness checks (a cheating prover).
    fn prove_unchecked(
        st: &Statement<'_>,
        w: &Witness<'_>,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Proof {
        let nn = Integer::from(st.n0.square_ref());
        commit_and_respond(&ctx(b"sid", 1, 0), st, w, &TEST_LEVEL, &nn, rng).unwrap()
    }

    #[test]
    fn aff_g_15_16_reject_tampered_ring_pedersen_responses() {
        let f = fixture();
        let mut p = f.proof.clone();
        p.z3 += 1u32;
        assert_eq!(check(&statement(f), &p), equation("s^z1·t^z3 = E·S^e"));
        let mut p = f.proof.clone();
        p.z4 -= 1u32;
        assert_eq!(check(&statement(f), &p), equation("s^z2·t^z4 = F·T^e"));
    }

    #[test]
    fn aff_g_rejects_replay_under_another_context() {
        let f = fixture();
        let r = verify(
            &ctx(b"sid", 2, 0),
            &statement(f),
            &TEST_LEVEL,
            &f.proof,
            None,
        );
        assert!(matches!(r, Err(ZkError::Equation { .. })));
    }

    #[test]
    fn aff_g_p_prover_refuses_bad_witness() {
        let f = fixture();
        let mut rng = rng(31);
        let big_x = Integer::from(1) << (TEST_LEVEL.ell + 1);
        let big_y = Integer::from(1) << (TEST_LEVEL.ell_prime + 1);
        let zero = Integer::from(0);
        for w in [
            Witness {
                x: &big_x,
                y: &f.y,
                rho: &f.rho,
            },
            Witness {
                x: &f.x_int,
                y: &big_y,
                rho: &f.rho,
            },
            Witness {
                x: &f.x_int,
                y: &f.y,
                rho: &zero,
            },
        ] {
            assert!(matches!(
                prove(&ctx(b"sid", 1, 0), &statement(f), &w, &TEST_LEVEL, &mut rng),
                Err(ZkError::Prover { .. })
            ));
        }
    }
}
