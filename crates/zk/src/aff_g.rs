//! Π^aff-g — Paillier affine operation with group commitment in range, through
//! `paillier-zk =0.7.0-alpha.3` (`paillier_affine_operation_in_range`, backend-rug).
//!
//! # Statement
//!
//! GG20's MtA / MtAwc answer ("Bob's proof with check"). Alice (the verifier) owns `N0` and sent
//! `C = Enc_{N0}(a)`; Bob (the prover) owns `N1`. Public: `N0`, `N1`, `C`, `D`, `Y`, `X`, and
//! Alice's ring-Pedersen parameters `(N̂, s, t)`. Bob knows `x`, `y`, `ρ ∈ Z*_{N0}`,
//! `ρ_y ∈ Z*_{N1}` with
//!
//! ```text
//! D = C^x · (1 + N0)^y · ρ^{N0}   mod N0²      (= C^x · Enc_{N0}(y; ρ))
//! Y = (1 + N1)^y · ρ_y^{N1}       mod N1²      (= Enc_{N1}(y; ρ_y))
//! X = x·G
//! |x| ≤ 2^ℓ,  |y| ≤ 2^ℓ'
//! ```
//!
//! and the proof shows `x ∈ ±2^{ℓ+ε}`, `y ∈ ±2^{ℓ'+ε}`.
//!
//! **Sign convention of `D` (checked against paillier-zk's code, not only its docs):** `y` is
//! *added*: paillier-zk's prover commits `A = C^α · Enc_{N0}(β; r)` and its verifier checks
//! `C^{z1} · Enc_{N0}(z2; w) = A · D^e` with `z1 = α + e·x`, `z2 = β + e·y`, `w = r·ρ^e`; this holds
//! exactly when `D = C^x · Enc_{N0}(y; ρ)`, i.e. `Dec_{N0}(D) = x·a + y (mod N0)`. The *same* `y`
//! (same sign) is encrypted in `Y`. In GG20 terms Bob picks `β′` (our `y`), sends
//! `D = C^{b} · Enc_{N0}(β′)` and keeps `β = −β′ mod q`; Alice's `α = Dec(D) mod q`, so
//! `α + β = a·b mod q`. A caller that computes `D` with `Enc(−β′)` or `C^{−b}` gets a proof that
//! never verifies (our prover refuses it first: `[aff_g.p7]`).
//!
//! Paper: CGGMP24 (ePrint 2021/060, 2024 revision), "Paillier Affine Operation with Group
//! Commitment in Range ZK" (Π^aff-g; Fig. 25 of that revision according to PROTOCOL-NOTES §1.3, not
//! re-checked against the PDF).
//!
//! # Parameters
//!
//! paillier-zk `SecurityParams { l_x: ℓ, l_y: ℓ', epsilon: ε }`; its challenge is always drawn
//! from `±q/2` with `q` the secp256k1 order. As for Π^enc this needs `ε ≥ 256 + s` (cggmp24:
//! `ε = 512`, `ℓ' = 1280`); cggmp21's `ε = 230`, `ℓ' = 848` make `z2 = β + e·y` leave its range for
//! honest provers.
//!
//! # Checks
//!
//! paillier-zk checks: `C, D ∈ Z*_{N0²}` (1, 2), `Y ∈ Z*_{N1²}` (3), `A ∈ Z*_{N0²}` (4),
//! `B_y ∈ Z*_{N1²}` (5), `E, S, F, T ∈ Z*_N̂` (6–9), the four equations (10–14: Paillier under N0,
//! the curve `z1·G = B_x + e·X`, Paillier under N1, two ring-Pedersen), and last the ranges
//! `z1 ∈ ±2^{ℓ+ε}` (15), `z2 ∈ ±2^{ℓ'+ε}` (16). The challenge hashes our context, the aux, the
//! security parameters, `(N0, N1, C, D, Y, X)` and the commitment.
//!
//! We add, before calling it:
//! - `[aff_g.0]` the level suits curve-order challenges (`ε ≥ 356`, see `enc`), `ℓ' ≥ 2ℓ + ε + 100`
//!   (so `y` statistically hides `x·a` for Alice's proven `a ∈ ±2^{ℓ+ε}`: Bob's share is what
//!   MtAwc protects), and `max(2(ℓ+ε), ℓ'+ε) + 2 < min_modulus_bits` (`D`'s plaintext cannot wrap
//!   mod N0, so the range statement means something);
//! - `[aff_g.1]` `N0`, `[aff_g.2]` `N1`: odd, bit length within the level;
//! - `[aff_g.3]` Alice's aux passes [`RingPedersen::validate`];
//! - `[aff_g.4]` `C ∈ Z*_{N0²}`, `[aff_g.5]` `D ∈ Z*_{N0²}`, `[aff_g.6]` `Y ∈ Z*_{N1²}`;
//! - `[aff_g.7]` `X` is not the identity (on-curve by type; re-encoded for generic-ec);
//! - `[aff_g.8]` `z1 ∈ ±2^{ℓ+ε}`, `z2 ∈ ±2^{ℓ'+ε}` *before* any exponentiation (paillier-zk checks
//!   the same predicates, but only after all the expensive equations);
//! - `[aff_g.9]` `w ∈ Z*_{N0}`, `w_y ∈ Z*_{N1}` (paillier-zk fails them only implicitly);
//! - `[aff_g.10]` `|z3|, |z4| < N̂·2^{ℓ+max(ε,256)+1}`: never reached by an honest prover, caps the
//!   verifier's work on exponents the paper leaves unbounded;
//! - context binding with domain `tessera.zk.aff_g.v1` (see `enc::bind_context`).
//!
//! The prover refuses a bad witness ([`ZkError::Prover`]): `[aff_g.p1]` `|x| ≤ 2^ℓ`, `[aff_g.p2]`
//! `|y| ≤ 2^ℓ'`, `[aff_g.p3]` `ρ ∈ Z*_{N0}`, `[aff_g.p4]` `ρ_y ∈ Z*_{N1}`, `[aff_g.p5]` `X = x·G`,
//! `[aff_g.p6]` `Y = Enc_{N1}(y; ρ_y)`, `[aff_g.p7]` `D = C^x · Enc_{N0}(y; ρ)`.
//!
//! Wire format: integers as in `enc` (strict `wire_int`), `B_x` as a 33-byte compressed point
//! (identity rejected when parsed).

use fast_paillier::backend::Integer as BInt;
use generic_ec::curves::Secp256k1;
use generic_ec::Point;
use paillier_zk::paillier_affine_operation_in_range as upstream_aff;
use paillier_zk::IntegerExt;
use rug::ops::RemRounding;
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::Transcript;

use crate::enc::{
    abs_at_most_pow2, bind_context, check_ciphertext, check_modulus, check_range_level,
    in_half_pm_pow2, in_mult_group, paillier_encrypt, secret_pow_mod, to_backend, to_ec_point,
    upstream_err, wire_int, CHALLENGE_BITS, MIN_SLACK_BITS,
};
use crate::{RingPedersen, SecurityLevel, Verified, ZkError};

const PROOF: &str = "aff_g";
const DOMAIN: &[u8] = b"tessera.zk.aff_g.v1";

/// Public input of Π^aff-g (see the module docs for the relation and the sign of `y`).
#[derive(Clone, Copy, Debug)]
pub struct Statement<'a> {
    /// `N0`: Alice's (the verifier's) Paillier modulus; `C` and `D` are under it.
    pub n0: &'a Integer,
    /// `N1`: Bob's (the prover's) own Paillier modulus; `Y` is under it.
    pub n1: &'a Integer,
    /// `C`: Alice's ciphertext.
    pub c: &'a Integer,
    /// `D = C^x · Enc_{N0}(y; ρ)`.
    pub d: &'a Integer,
    /// `Y = Enc_{N1}(y; ρ_y)`.
    pub y: &'a Integer,
    /// `X = x·G` (must not be the identity).
    pub x: &'a k256::ProjectivePoint,
    /// Alice's ring-Pedersen parameters.
    pub aux: &'a RingPedersen,
}

/// Bob's secret: `x` (`|x| ≤ 2^ℓ`), `y` (`|y| ≤ 2^ℓ'`), `ρ ∈ Z*_{N0}`, `ρ_y ∈ Z*_{N1}`.
#[derive(Clone, Copy)]
pub struct Witness<'a> {
    pub x: &'a Integer,
    pub y: &'a Integer,
    pub rho: &'a Integer,
    pub rho_y: &'a Integer,
}

impl std::fmt::Debug for Witness<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("aff_g::Witness(<redacted>)")
    }
}

/// A non-interactive Π^aff-g proof.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "ProofWire", into = "ProofWire")]
pub struct Proof(pub(crate) upstream_aff::NiProof<Secp256k1>);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofWire {
    #[serde(with = "wire_int")]
    a: BInt,
    #[serde(with = "wire_point")]
    b_x: [u8; 33],
    #[serde(with = "wire_int")]
    b_y: BInt,
    #[serde(with = "wire_int")]
    e: BInt,
    #[serde(with = "wire_int")]
    s: BInt,
    #[serde(with = "wire_int")]
    f: BInt,
    #[serde(with = "wire_int")]
    t: BInt,
    #[serde(with = "wire_int")]
    z1: BInt,
    #[serde(with = "wire_int")]
    z2: BInt,
    #[serde(with = "wire_int")]
    z3: BInt,
    #[serde(with = "wire_int")]
    z4: BInt,
    #[serde(with = "wire_int")]
    w: BInt,
    #[serde(with = "wire_int")]
    w_y: BInt,
}

impl From<Proof> for ProofWire {
    fn from(p: Proof) -> Self {
        let upstream_aff::NiProof {
            commitment: c,
            proof: z,
        } = p.0;
        // The identity (probability 2^-256 for an honest prover) encodes as 33 zero bytes, which
        // the parser rejects.
        let b_x = <[u8; 33]>::try_from(c.b_x.to_bytes(true).as_ref()).unwrap_or([0u8; 33]);
        ProofWire {
            a: c.a,
            b_x,
            b_y: c.b_y,
            e: c.e,
            s: c.s,
            f: c.f,
            t: c.t,
            z1: z.z1,
            z2: z.z2,
            z3: z.z3,
            z4: z.z4,
            w: z.w,
            w_y: z.w_y,
        }
    }
}

impl TryFrom<ProofWire> for Proof {
    type Error = &'static str;

    fn try_from(w: ProofWire) -> Result<Self, Self::Error> {
        const BAD: &str = "aff_g: B_x is not a valid non-identity point";
        let b_x = tessera_core::point::WirePoint(w.b_x).decode().ok_or(BAD)?;
        let b_x = to_ec_point(PROOF, "B_x", &b_x).map_err(|_| BAD)?;
        Ok(Proof(upstream_aff::NiProof {
            commitment: upstream_aff::Commitment {
                a: w.a,
                b_x,
                b_y: w.b_y,
                e: w.e,
                s: w.s,
                f: w.f,
                t: w.t,
            },
            proof: upstream_aff::Proof {
                z1: w.z1,
                z2: w.z2,
                z3: w.z3,
                z4: w.z4,
                w: w.w,
                w_y: w.w_y,
            },
        }))
    }
}

/// A compressed point as bytes. Accepts a byte string or a sequence of bytes (JSON), so the proof
/// round-trips through both binary formats and `serde_json`.
mod wire_point {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(b: &[u8; 33], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 33], D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = [u8; 33];
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("33 bytes")
            }
            fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<Self::Value, E> {
                <[u8; 33]>::try_from(v).map_err(|_| E::invalid_length(v.len(), &self))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = [0u8; 33];
                for (i, slot) in out.iter_mut().enumerate() {
                    *slot = seq
                        .next_element()?
                        .ok_or_else(|| A::Error::invalid_length(i, &self))?;
                }
                if seq.next_element::<u8>()?.is_some() {
                    return Err(A::Error::invalid_length(34, &self));
                }
                Ok(out)
            }
        }
        d.deserialize_bytes(V)
    }
}

fn security_params(level: &SecurityLevel) -> upstream_aff::SecurityParams {
    upstream_aff::SecurityParams {
        l_x: level.ell as usize,
        l_y: level.ell_prime as usize,
        epsilon: level.epsilon as usize,
    }
}

fn check_level(level: &SecurityLevel) -> Result<(), ZkError> {
    check_range_level(PROOF, level)?;
    let two_l = level.ell.saturating_mul(2);
    if level.ell_prime
        < two_l
            .saturating_add(level.epsilon)
            .saturating_add(MIN_SLACK_BITS)
    {
        return Err(ZkError::Statement {
            proof: PROOF,
            what: "security level: ℓ' < 2ℓ + ε + 100, y would not hide x·a",
        });
    }
    let l_eps = level.ell.saturating_add(level.epsilon);
    let widest = l_eps
        .saturating_mul(2)
        .max(level.ell_prime.saturating_add(level.epsilon));
    if widest.saturating_add(2) >= level.min_modulus_bits {
        return Err(ZkError::Statement {
            proof: PROOF,
            what: "security level: proven ranges do not fit below the modulus size",
        });
    }
    Ok(())
}

/// Validates the statement; returns `X` converted for paillier-zk.
fn check_statement(st: &Statement<'_>, level: &SecurityLevel) -> Result<Point<Secp256k1>, ZkError> {
    check_level(level)?; // [aff_g.0]
    check_modulus(PROOF, "N0 (size outside the level, or even)", st.n0, level)?; // [aff_g.1]
    check_modulus(PROOF, "N1 (size outside the level, or even)", st.n1, level)?; // [aff_g.2]
    st.aux.validate(level)?; // [aff_g.3]
    check_ciphertext(PROOF, "C", st.c, st.n0)?; // [aff_g.4]
    check_ciphertext(PROOF, "D", st.d, st.n0)?; // [aff_g.5]
    check_ciphertext(PROOF, "Y", st.y, st.n1)?; // [aff_g.6]
    to_ec_point(PROOF, "X", st.x) // [aff_g.7]
}

/// Bob proves that `st.d` and `st.y` are well formed from `x` (behind `st.x`) and `y`, with
/// `x`, `y` in range, for Alice who owns `st.n0` and `st.aux`.
pub fn prove(
    ctx: &Transcript,
    st: &Statement<'_>,
    witness: &Witness<'_>,
    level: &SecurityLevel,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Proof, ZkError> {
    let x_point = check_statement(st, level)?;
    let bad = |what| ZkError::Prover { proof: PROOF, what };
    if !abs_at_most_pow2(witness.x, level.ell) {
        return Err(bad("x is larger than 2^ℓ")); // [aff_g.p1]
    }
    if !abs_at_most_pow2(witness.y, level.ell_prime) {
        return Err(bad("y is larger than 2^ℓ'")); // [aff_g.p2]
    }
    if !in_mult_group(witness.rho, st.n0) {
        return Err(bad("ρ is not in Z*_N0")); // [aff_g.p3]
    }
    if !in_mult_group(witness.rho_y, st.n1) {
        return Err(bad("ρ_y is not in Z*_N1")); // [aff_g.p4]
    }
    let x = to_backend(witness.x);
    if Point::<Secp256k1>::generator() * x.to_scalar::<Secp256k1>() != x_point {
        return Err(bad("X is not x·G")); // [aff_g.p5]
    }
    if paillier_encrypt(st.n1, witness.y, witness.rho_y).as_ref() != Some(st.y) {
        return Err(bad("Y is not Enc_N1(y; ρ_y)")); // [aff_g.p6]
    }
    let nn0 = Integer::from(st.n0.square_ref());
    let expected_d = secret_pow_mod(st.c, witness.x, &nn0)
        .zip(paillier_encrypt(st.n0, witness.y, witness.rho))
        .map(|(cx, ey)| (cx * ey).rem_euc(&nn0));
    if expected_d.as_ref() != Some(st.d) {
        return Err(bad("D is not C^x · Enc_N0(y; ρ)")); // [aff_g.p7]
    }

    let key0 = fast_paillier::EncryptionKey::from_n(to_backend(st.n0));
    let key1 = fast_paillier::EncryptionKey::from_n(to_backend(st.n1));
    let (c, d, y_ct) = (to_backend(st.c), to_backend(st.d), to_backend(st.y));
    let (y, rho, rho_y) = (
        to_backend(witness.y),
        to_backend(witness.rho),
        to_backend(witness.rho_y),
    );
    let proof = upstream_aff::non_interactive::prove::<Secp256k1, sha2::Sha256>(
        &bind_context(ctx, DOMAIN),
        &st.aux.to_paillier_zk(),
        upstream_aff::Data {
            key_j: &key0,
            key_i: &key1,
            c: &c,
            d: &d,
            y: &y_ct,
            x: &x_point,
        },
        upstream_aff::PrivateData {
            x: &x,
            y: &y,
            nonce: &rho,
            nonce_y: &rho_y,
        },
        &security_params(level),
        rng,
    )
    .map_err(|_| bad("paillier-zk could not build the proof"))?;
    Ok(Proof(proof))
}

/// Alice verifies Bob's Π^aff-g proof under the same `ctx` Bob used. Call this *before*
/// decrypting `D`.
pub fn verify(
    ctx: &Transcript,
    st: &Statement<'_>,
    level: &SecurityLevel,
    proof: &Proof,
) -> Result<Verified, ZkError> {
    let x_point = check_statement(st, level)?;
    let z = &proof.0.proof;
    let out_of_range = |what| ZkError::OutOfRange { proof: PROOF, what };
    // [aff_g.8]
    if !in_half_pm_pow2(&z.z1, level.ell + level.epsilon) {
        return Err(out_of_range("z1"));
    }
    if !in_half_pm_pow2(&z.z2, level.ell_prime + level.epsilon) {
        return Err(out_of_range("z2"));
    }
    let n0 = to_backend(st.n0);
    let n1 = to_backend(st.n1);
    // [aff_g.9]
    if !z.w.in_mult_group_of(&n0) {
        return Err(ZkError::BadInput {
            proof: PROOF,
            what: "w (not in Z*_N0)",
        });
    }
    if !z.w_y.in_mult_group_of(&n1) {
        return Err(ZkError::BadInput {
            proof: PROOF,
            what: "w_y (not in Z*_N1)",
        });
    }
    // [aff_g.10]
    let cap = u64::from(st.aux.n.significant_bits())
        + u64::from(level.ell)
        + u64::from(level.epsilon.max(CHALLENGE_BITS))
        + 1;
    if z.z3.significant_bits() > cap {
        return Err(out_of_range("z3"));
    }
    if z.z4.significant_bits() > cap {
        return Err(out_of_range("z4"));
    }

    let key0 = fast_paillier::EncryptionKey::from_n(n0);
    let key1 = fast_paillier::EncryptionKey::from_n(n1);
    let (c, d, y_ct) = (to_backend(st.c), to_backend(st.d), to_backend(st.y));
    upstream_aff::non_interactive::verify::<Secp256k1, sha2::Sha256>(
        &bind_context(ctx, DOMAIN),
        &st.aux.to_paillier_zk(),
        upstream_aff::Data {
            key_j: &key0,
            key_i: &key1,
            c: &c,
            d: &d,
            y: &y_ct,
            x: &x_point,
        },
        &security_params(level),
        &proof.0,
    )
    .map_err(upstream_err(PROOF))?;
    Ok(Verified::new())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::OnceLock;

    use k256::elliptic_curve::PrimeField;
    use k256::{ProjectivePoint, Scalar};

    use super::*;
    use crate::enc::test_support::*;

    /// Alice = party 0 (N0, aux), Bob = party 1 (N1).
    struct Fixture {
        a: Integer,
        c: Integer,
        d: Integer,
        y_ct: Integer,
        x_point: ProjectivePoint,
        x: Integer,
        y: Integer,
        rho: Integer,
        rho_y: Integer,
        proof: Proof,
    }

    fn scalar_of(x: &Integer) -> Scalar {
        let q = Integer::from_str_radix(
            "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141",
            16,
        )
        .unwrap();
        let r = x.clone().rem_euc(&q);
        let mut bytes = [0u8; 32];
        let digits = r.to_digits::<u8>(rug::integer::Order::Msf);
        bytes[32 - digits.len()..].copy_from_slice(&digits);
        Scalar::from_repr(bytes.into()).unwrap()
    }

    /// `D = C^x · Enc_{N0}(y; ρ)` computed the way the protocol crate will.
    fn make_d(n0: &Integer, c: &Integer, x: &Integer, y: &Integer, rho: &Integer) -> Integer {
        let nn = Integer::from(n0.square_ref());
        let cx = Integer::from(c.pow_mod_ref(x, &nn).unwrap());
        (cx * paillier_encrypt(n0, y, rho).unwrap()).rem_euc(&nn)
    }

    fn statement(f: &Fixture) -> Statement<'_> {
        let [alice, bob] = parties();
        Statement {
            n0: &alice.n,
            n1: &bob.n,
            c: &f.c,
            d: &f.d,
            y: &f.y_ct,
            x: &f.x_point,
            aux: &alice.aux,
        }
    }

    fn witness(f: &Fixture) -> Witness<'_> {
        Witness {
            x: &f.x,
            y: &f.y,
            rho: &f.rho,
            rho_y: &f.rho_y,
        }
    }

    fn fixture() -> &'static Fixture {
        static F: OnceLock<Fixture> = OnceLock::new();
        F.get_or_init(|| {
            let [alice, bob] = parties();
            let mut rng = rng(11);
            // Alice's k (256 bits) under N0; Bob's γ or w (256 bits) and β' (ℓ' bits).
            let a = random_bits(&mut rng, 256);
            let c = paillier_encrypt(&alice.n, &a, &random_unit(&mut rng, &alice.n)).unwrap();
            let x = random_bits(&mut rng, 256);
            let y = random_signed(&mut rng, TEST_LEVEL.ell_prime);
            let rho = random_unit(&mut rng, &alice.n);
            let rho_y = random_unit(&mut rng, &bob.n);
            let d = make_d(&alice.n, &c, &x, &y, &rho);
            let y_ct = paillier_encrypt(&bob.n, &y, &rho_y).unwrap();
            let x_point = ProjectivePoint::GENERATOR * scalar_of(&x);
            let proof = {
                let st = Statement {
                    n0: &alice.n,
                    n1: &bob.n,
                    c: &c,
                    d: &d,
                    y: &y_ct,
                    x: &x_point,
                    aux: &alice.aux,
                };
                let w = Witness {
                    x: &x,
                    y: &y,
                    rho: &rho,
                    rho_y: &rho_y,
                };
                prove(&ctx(b"sid-1", 1, 0), &st, &w, &TEST_LEVEL, &mut rng).unwrap()
            };
            Fixture {
                a,
                c,
                d,
                y_ct,
                x_point,
                x,
                y,
                rho,
                rho_y,
                proof,
            }
        })
    }

    fn verify_with(st: &Statement<'_>, proof: &Proof) -> Result<Verified, ZkError> {
        verify(&ctx(b"sid-1", 1, 0), st, &TEST_LEVEL, proof)
    }

    fn assert_upstream(r: Result<Verified, ZkError>, reason_contains: &str) {
        match r {
            Err(ZkError::Upstream {
                proof: "aff_g",
                reason,
            }) => assert!(
                reason.contains(reason_contains),
                "reason {reason:?} lacks {reason_contains:?}"
            ),
            other => panic!("expected upstream rejection, got {other:?}"),
        }
    }

    #[test]
    fn aff_g_passes_at_level128_sizes() {
        let f = fixture();
        let _: Verified = verify_with(&statement(f), &f.proof).unwrap();
    }

    /// The convention the protocol crate relies on: `Dec_{N0}(D) = x·a + y`, the same `y` is in
    /// `Y`, and a `D` built with `−y` is refused by the prover.
    #[test]
    fn aff_g_d_convention_is_c_pow_x_times_enc_plus_y() {
        let f = fixture();
        let [alice, bob] = parties();
        let xa_plus_y = Integer::from(&f.x * &f.a) + &f.y;
        assert_eq!(alice.decrypt(&f.d), xa_plus_y);
        assert_eq!(bob.decrypt(&f.y_ct), f.y);
        let neg_y = Integer::from(-&f.y);
        let d_minus = make_d(&alice.n, &f.c, &f.x, &neg_y, &f.rho);
        let st = Statement {
            d: &d_minus,
            ..statement(f)
        };
        let mut rng = rng(12);
        let r = prove(
            &ctx(b"sid-1", 1, 0),
            &st,
            &witness(f),
            &TEST_LEVEL,
            &mut rng,
        );
        assert_eq!(
            r.unwrap_err(),
            ZkError::Prover {
                proof: "aff_g",
                what: "D is not C^x · Enc_N0(y; ρ)"
            }
        );
        // And the valid proof does not verify for it either.
        assert_upstream(verify_with(&st, &f.proof), "equality check failed 10");
    }

    #[test]
    fn aff_g_0_level128_is_consistent() {
        check_level(&SecurityLevel::LEVEL128).unwrap();
    }

    #[test]
    fn aff_g_wire_rejects_malformed_b_x() {
        // Binary formats hand the point over as a byte string.
        use serde::de::value::{BytesDeserializer, Error as DeError};
        let g = k256::elliptic_curve::group::GroupEncoding::to_bytes(
            &ProjectivePoint::GENERATOR.to_affine(),
        );
        let ok = wire_point::deserialize(BytesDeserializer::<DeError>::new(&g[..])).unwrap();
        assert_eq!(&ok[..], &g[..]);
        assert!(wire_point::deserialize(BytesDeserializer::<DeError>::new(&g[..32])).is_err());
        let f = fixture();
        let short: Vec<serde_json::Value> = vec![2.into(); 32];
        assert!(json_edit(&f.proof, |v| v["b_x"] = short.into()).is_err());
        let long = json_edit(&f.proof, |v| {
            v["b_x"].as_array_mut().unwrap().push(0.into());
        });
        assert!(long.is_err());
        let off_curve = json_edit(&f.proof, |v| {
            let arr = v["b_x"].as_array_mut().unwrap();
            for b in arr.iter_mut().skip(1) {
                *b = 0xff.into();
            }
        });
        assert!(off_curve.is_err());
    }

    #[test]
    fn aff_g_0_rejects_inconsistent_level() {
        let f = fixture();
        let c = ctx(b"sid-1", 1, 0);
        let weak_y = SecurityLevel {
            ell_prime: 848,
            ..TEST_LEVEL
        };
        for level in [CGGMP21_LEVEL, weak_y] {
            let r = verify(&c, &statement(f), &level, &f.proof);
            assert!(
                matches!(r, Err(ZkError::Statement { proof: "aff_g", .. })),
                "{r:?}"
            );
            let r = prove(&c, &statement(f), &witness(f), &level, &mut rng(13));
            assert!(
                matches!(r, Err(ZkError::Statement { proof: "aff_g", .. })),
                "{r:?}"
            );
        }
        let wraps = SecurityLevel {
            ell_prime: 2600,
            ..TEST_LEVEL
        };
        let r = verify(&c, &statement(f), &wraps, &f.proof);
        assert!(
            matches!(r, Err(ZkError::Statement { proof: "aff_g", .. })),
            "{r:?}"
        );
    }

    #[test]
    fn aff_g_1_2_reject_moduli_outside_level() {
        let f = fixture();
        let [alice, bob] = parties();
        let small0 = Integer::from(&alice.n >> 2u32) | 1u32;
        let small1 = Integer::from(&bob.n >> 2u32) | 1u32;
        let even1 = Integer::from(&bob.n + 1u32);
        for (n0, n1) in [(&small0, &bob.n), (&alice.n, &small1), (&alice.n, &even1)] {
            let st = Statement {
                n0,
                n1,
                ..statement(f)
            };
            let r = verify_with(&st, &f.proof);
            assert!(
                matches!(r, Err(ZkError::Statement { proof: "aff_g", .. })),
                "{r:?}"
            );
        }
    }

    #[test]
    fn aff_g_3_rejects_bad_aux() {
        let f = fixture();
        let [alice, _] = parties();
        let bad = RingPedersen {
            n: alice.aux.n.clone(),
            s: Integer::from(1u32),
            t: alice.aux.t.clone(),
        };
        let st = Statement {
            aux: &bad,
            ..statement(f)
        };
        let r = verify_with(&st, &f.proof);
        assert!(
            matches!(r, Err(ZkError::BadInput { proof: "aux", .. })),
            "{r:?}"
        );
    }

    #[test]
    fn aff_g_4_5_6_reject_ciphertexts_outside_group() {
        let f = fixture();
        let [alice, bob] = parties();
        let bads = |n: &Integer| {
            [
                Integer::new(),
                Integer::from(n.square_ref()),
                Integer::from(n * 3u32),
            ]
        };
        for bad in bads(&alice.n) {
            let st = Statement {
                c: &bad,
                ..statement(f)
            };
            let r = verify_with(&st, &f.proof);
            assert_eq!(
                r,
                Err(ZkError::BadInput {
                    proof: "aff_g",
                    what: "C"
                })
            );
            let st = Statement {
                d: &bad,
                ..statement(f)
            };
            let r = verify_with(&st, &f.proof);
            assert_eq!(
                r,
                Err(ZkError::BadInput {
                    proof: "aff_g",
                    what: "D"
                })
            );
        }
        for bad in bads(&bob.n) {
            let st = Statement {
                y: &bad,
                ..statement(f)
            };
            let r = verify_with(&st, &f.proof);
            assert_eq!(
                r,
                Err(ZkError::BadInput {
                    proof: "aff_g",
                    what: "Y"
                })
            );
        }
    }

    #[test]
    fn aff_g_7_rejects_identity_x() {
        let f = fixture();
        let id = ProjectivePoint::IDENTITY;
        let st = Statement {
            x: &id,
            ..statement(f)
        };
        let r = verify_with(&st, &f.proof);
        assert_eq!(
            r,
            Err(ZkError::BadInput {
                proof: "aff_g",
                what: "X"
            })
        );
    }

    #[test]
    fn aff_g_8_rejects_responses_out_of_range_early() {
        let f = fixture();
        let st = statement(f);
        let l_eps = (TEST_LEVEL.ell + TEST_LEVEL.epsilon) as usize;
        let lp_eps = (TEST_LEVEL.ell_prime + TEST_LEVEL.epsilon) as usize;
        let mut p = f.proof.clone();
        p.0.proof.z1 = (BInt::one() << (l_eps - 1)) + BInt::one();
        assert_eq!(
            verify_with(&st, &p),
            Err(ZkError::OutOfRange {
                proof: "aff_g",
                what: "z1"
            })
        );
        let mut p = f.proof.clone();
        p.0.proof.z2 = -((BInt::one() << (lp_eps - 1)) + BInt::one());
        assert_eq!(
            verify_with(&st, &p),
            Err(ZkError::OutOfRange {
                proof: "aff_g",
                what: "z2"
            })
        );
    }

    #[test]
    fn aff_g_9_rejects_nonces_outside_group() {
        let f = fixture();
        let [alice, bob] = parties();
        let mut p = f.proof.clone();
        p.0.proof.w = to_backend(&alice.q);
        assert!(matches!(
            verify_with(&statement(f), &p),
            Err(ZkError::BadInput {
                proof: "aff_g",
                what: "w (not in Z*_N0)"
            })
        ));
        let mut p = f.proof.clone();
        p.0.proof.w_y = to_backend(&bob.n);
        assert!(matches!(
            verify_with(&statement(f), &p),
            Err(ZkError::BadInput {
                proof: "aff_g",
                what: "w_y (not in Z*_N1)"
            })
        ));
    }

    #[test]
    fn aff_g_10_caps_z3_z4() {
        let f = fixture();
        for field in 0..2 {
            let mut p = f.proof.clone();
            let huge = BInt::one() << 5000usize;
            if field == 0 {
                p.0.proof.z3 = huge;
            } else {
                p.0.proof.z4 = huge;
            }
            let r = verify_with(&statement(f), &p);
            assert!(
                matches!(r, Err(ZkError::OutOfRange { proof: "aff_g", .. })),
                "{r:?}"
            );
        }
    }

    #[test]
    fn aff_g_upstream_rejects_changed_statement() {
        let f = fixture();
        let [alice, bob] = parties();
        let nn0 = Integer::from(alice.n.square_ref());
        let nn1 = Integer::from(bob.n.square_ref());
        let bump =
            |c: &Integer, n: &Integer, nn: &Integer| (c * Integer::from(n + 1u32)).rem_euc(nn);
        let other_c = bump(&f.c, &alice.n, &nn0);
        let other_d = bump(&f.d, &alice.n, &nn0);
        let other_y = bump(&f.y_ct, &bob.n, &nn1);
        let other_x = f.x_point + ProjectivePoint::GENERATOR;
        let cases = [
            Statement {
                c: &other_c,
                ..statement(f)
            },
            Statement {
                d: &other_d,
                ..statement(f)
            },
            Statement {
                y: &other_y,
                ..statement(f)
            },
            Statement {
                x: &other_x,
                ..statement(f)
            },
            Statement {
                aux: &bob.aux,
                ..statement(f)
            },
        ];
        for st in cases {
            assert_upstream(verify_with(&st, &f.proof), "equality check failed");
        }
        // Swapped moduli: caught by a group check or an equation.
        let st = Statement {
            n0: &bob.n,
            n1: &alice.n,
            ..statement(f)
        };
        assert!(verify_with(&st, &f.proof).is_err());
    }

    #[test]
    fn aff_g_upstream_rejects_replay_under_other_context() {
        let f = fixture();
        for other in [
            ctx(b"sid-2", 1, 0),
            ctx(b"sid-1", 2, 0),
            ctx(b"sid-1", 1, 2),
        ] {
            assert_upstream(
                verify(&other, &statement(f), &TEST_LEVEL, &f.proof),
                "equality check failed",
            );
        }
        // Same context, other proof type's domain: an enc-style context does not help either.
        let mut other = ctx(b"sid-1", 1, 0);
        other.append(b"extra", b"");
        assert_upstream(
            verify(&other, &statement(f), &TEST_LEVEL, &f.proof),
            "equality check failed",
        );
    }

    #[test]
    fn aff_g_upstream_rejects_tampered_fields() {
        let f = fixture();
        let st = statement(f);
        type Edit = fn(&mut upstream_aff::NiProof<Secp256k1>);
        let cases: [(Edit, &str); 8] = [
            (
                |p| p.proof.z1 = &p.proof.z1 + BInt::one(),
                "equality check failed",
            ),
            (
                |p| p.proof.z2 = &p.proof.z2 + BInt::one(),
                "equality check failed",
            ),
            (
                |p| p.proof.z3 = &p.proof.z3 + BInt::one(),
                "equality check failed 13",
            ),
            (
                |p| p.proof.z4 = &p.proof.z4 + BInt::one(),
                "equality check failed 14",
            ),
            (
                |p| p.commitment.b_x += Point::generator(),
                "equality check failed",
            ),
            (|p| p.commitment.e = BInt::zero(), "range check failed 6"),
            (|p| p.commitment.a = BInt::zero(), "range check failed 4"),
            (
                |p| p.commitment.b_y = &p.commitment.b_y + BInt::one(),
                "equality check failed",
            ),
        ];
        for (edit, reason) in cases {
            let mut p = f.proof.clone();
            edit(&mut p.0);
            assert_upstream(verify_with(&st, &p), reason);
        }
    }

    #[test]
    fn aff_g_wire_roundtrip_and_tamper() {
        let f = fixture();
        let st = statement(f);
        let _: Verified = verify_with(&st, &json_edit(&f.proof, |_| {}).unwrap()).unwrap();
        let p = json_edit(&f.proof, |v| {
            let w = json_int(&v["w"]) + 1u32;
            json_set_int(&mut v["w"], &w);
        })
        .unwrap();
        assert!(verify_with(&st, &p).is_err());
        // Identity or malformed B_x, bad radix: rejected while parsing, no panic.
        let zeros: Vec<serde_json::Value> = vec![0.into(); 33];
        assert!(json_edit(&f.proof, |v| v["b_x"] = zeros.into()).is_err());
        assert!(json_edit(&f.proof, |v| v["z3"]["radix"] = 0.into()).is_err());
    }

    #[test]
    fn aff_g_prover_rejects_bad_witness() {
        let f = fixture();
        let [alice, _] = parties();
        let c = ctx(b"sid-1", 1, 0);
        let big_x = Integer::from(1u32) << 257u32;
        let big_y = Integer::from(1u32) << (TEST_LEVEL.ell_prime + 1);
        let other_y = Integer::from(&f.y + 1u32);
        let other_x = Integer::from(&f.x + 1u32);
        let w = witness(f);
        let cases = [
            (Witness { x: &big_x, ..w }, "x is larger than 2^ℓ"),
            (Witness { y: &big_y, ..w }, "y is larger than 2^ℓ'"),
            (Witness { rho: &alice.p, ..w }, "ρ is not in Z*_N0"),
            (
                Witness {
                    rho_y: &Integer::new(),
                    ..w
                },
                "ρ_y is not in Z*_N1",
            ),
            (Witness { x: &other_x, ..w }, "X is not x·G"),
            (Witness { y: &other_y, ..w }, "Y is not Enc_N1(y; ρ_y)"),
        ];
        for (w, what) in cases {
            let r = prove(&c, &statement(f), &w, &TEST_LEVEL, &mut rng(14));
            assert_eq!(
                r.unwrap_err(),
                ZkError::Prover {
                    proof: "aff_g",
                    what
                }
            );
        }
    }

    #[test]
    #[ignore = "timing only: cargo test -p tessera-zk --release -- --ignored --nocapture timing"]
    fn aff_g_timing_level128() {
        let f = fixture();
        let c = ctx(b"sid-t", 1, 0);
        let t = std::time::Instant::now();
        let p = prove(&c, &statement(f), &witness(f), &TEST_LEVEL, &mut rng(15)).unwrap();
        let tp = t.elapsed();
        let t = std::time::Instant::now();
        let _: Verified = verify(&c, &statement(f), &TEST_LEVEL, &p).unwrap();
        println!("aff_g: prove {tp:?}, verify {:?}", t.elapsed());
    }
}
