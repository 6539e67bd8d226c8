//! Π^fac — no small factor, through `paillier-zk =0.7.0-alpha.3` (`no_small_factor`, backend-rug).
//!
//! # Statement
//!
//! Public: the prover's modulus `N` and the *verifier's* ring-Pedersen parameters `(N̂, s, t)`.
//! The prover knows `p, q` with `N = p·q` and `2^ℓ < p, q ≤ 2^ℓ·√N`; the proof convinces the
//! verifier that neither factor is below `2^ℓ` (CGGMP: `p, q > 2^ℓ`). Sent per verifier during
//! aux-info generation / refresh (context: protocol, session id, prover and verifier index).
//! Missing it is BitForge / CVE-2023-33241 (SECURITY-CHECKLIST "Setup").
//!
//! Paper: CGGMP24 (ePrint 2021/060, 2024 revision), "No Small Factor Proof" (Π^fac; Fig. 26 of
//! that revision according to PROTOCOL-NOTES §1.3, not re-checked against the PDF). The 2024
//! version drops the prover-chosen `σ` (`v = r − e·ν·p`, right-hand side `s^N`) and checks every
//! commitment and left-hand side in `Z*_N̂` (PROTOCOL-NOTES §2.2).
//!
//! # Parameters
//!
//! paillier-zk `SecurityParams { l: ℓ, epsilon: ε }` = `(level.ell, level.epsilon)` — what cggmp24
//! passes (`l: L::ELL, epsilon: L::EPSILON`, i.e. `(256, 512)` for its `SecurityLevel128`; cggmp21
//! passed its own `(256, 230)`). Both are fine here: the challenge is `e ∈ ±2^{ℓ-1}` (not the curve
//! order), so `ε` only needs to hide `e·p` against `α ∈ ±2^{ℓ+ε}·√N` (`ε ≥ 100` is plenty),
//! and the guarantee requires `2ℓ + ε ≤ log₂√N`: the responses bound one committed factor by
//! `2^{ℓ+ε}·√N`, so the other is at least `√N / 2^{ℓ+ε}`, which must exceed `2^ℓ`. For 3071-bit
//! moduli: `ε ≤ 1023`. `n_root` is `⌊√N⌋`, computed by both sides from `N` (never sent).
//!
//! # Checks
//!
//! paillier-zk checks: commitments `P, Q, A, B, T ∈ Z*_N̂` (RangeCheck 0–4), `|N| ≥ 4ℓ` bits (5),
//! `s^{z1} t^{w1} = A·P^e` (6), `s^{z2} t^{w2} = B·Q^e` (8), `Q^{z1} t^v = T·(s^N)^e` (10), each
//! left-hand side in `Z*_N̂` (7, 9, 11), and last `z1, z2 ∈ ±2^{ℓ+ε}·√N` (12, 13). The challenge
//! hashes our context, the security parameters, the aux, `(N, ⌊√N⌋)` and the commitment.
//!
//! We add, before calling it:
//! - `[fac.0]` the level: `4ℓ ≤ min_modulus_bits − 1`, `100 ≤ ε`, `2ℓ + ε ≤ (min_modulus_bits − 1)/2`;
//! - `[fac.1]` `N` odd with bit length within `min_modulus_bits..=max_modulus_bits`;
//! - `[fac.2]` the verifier's aux passes [`RingPedersen::validate`];
//! - `[fac.3]` `n_root = ⌊√N⌋` computed locally;
//! - `[fac.4]` `z1, z2 ∈ ±2^{ℓ+ε}·√N` (paillier-zk's predicate) *before* any exponentiation;
//! - `[fac.5]` caps `|w1|, |w2| < N̂·2^{max(ℓ+ε, 2ℓ)+1}`, `|v| < N·N̂·2^{max(ℓ+ε, 2ℓ)+2}`: never
//!   reached by an honest prover, they bound the verifier's work on exponents the paper leaves
//!   unbounded;
//! - context binding with domain `tessera.zk.fac.v1` (see `enc::bind_context`).
//!
//! paillier-zk 0.7's `no_small_factor::NiProof` has private fields, so this module composes
//! `interactive::commit` → `non_interactive::challenge` → `interactive::prove` (and
//! `non_interactive::challenge` → `interactive::verify`) exactly as paillier-zk's own
//! `non_interactive::{prove, verify}` do, and keeps the public `Commitment` and `Proof`.
//!
//! The prover refuses a bad witness ([`ZkError::Prover`]): `[fac.p1]` `p·q = N`, `[fac.p2]`
//! `p, q > 2^ℓ`, `[fac.p3]` `p, q ≤ 2^ℓ·⌊√N⌋`.
//!
//! Wire format: integers as in `enc` (strict `wire_int`).

use fast_paillier::backend::Integer as BInt;
use paillier_zk::no_small_factor as upstream_fac;
use paillier_zk::IntegerExt;
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::Transcript;

use crate::upstream::{
    bind_context, check_modulus, to_backend, upstream_err, wire_int, MIN_SLACK_BITS,
};
use crate::{RingPedersen, SecurityLevel, Verified, ZkError};

const PROOF: &str = "fac";
const DOMAIN: &[u8] = b"tessera.zk.fac.v1";

/// Public input of Π^fac.
#[derive(Clone, Copy, Debug)]
pub struct Statement<'a> {
    /// The prover's modulus `N`.
    pub n: &'a Integer,
    /// The verifier's ring-Pedersen parameters `(N̂, s, t)`.
    pub aux: &'a RingPedersen,
}

/// The factorisation `N = p·q`.
#[derive(Clone, Copy)]
pub struct Witness<'a> {
    pub p: &'a Integer,
    pub q: &'a Integer,
}

impl std::fmt::Debug for Witness<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("fac::Witness(<redacted>)")
    }
}

/// A non-interactive Π^fac proof: commitment `(P, Q, A, B, T)`, response `(z1, z2, w1, w2, v)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(from = "ProofWire", into = "ProofWire")]
pub struct Proof {
    pub(crate) commitment: upstream_fac::Commitment,
    pub(crate) proof: upstream_fac::Proof,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofWire {
    #[serde(with = "wire_int")]
    p: BInt,
    #[serde(with = "wire_int")]
    q: BInt,
    #[serde(with = "wire_int")]
    a: BInt,
    #[serde(with = "wire_int")]
    b: BInt,
    #[serde(with = "wire_int")]
    t: BInt,
    #[serde(with = "wire_int")]
    z1: BInt,
    #[serde(with = "wire_int")]
    z2: BInt,
    #[serde(with = "wire_int")]
    w1: BInt,
    #[serde(with = "wire_int")]
    w2: BInt,
    #[serde(with = "wire_int")]
    v: BInt,
}

impl From<Proof> for ProofWire {
    fn from(x: Proof) -> Self {
        let Proof {
            commitment: c,
            proof: z,
        } = x;
        ProofWire {
            p: c.p,
            q: c.q,
            a: c.a,
            b: c.b,
            t: c.t,
            z1: z.z1,
            z2: z.z2,
            w1: z.w1,
            w2: z.w2,
            v: z.v,
        }
    }
}

impl From<ProofWire> for Proof {
    fn from(w: ProofWire) -> Self {
        Proof {
            commitment: upstream_fac::Commitment {
                p: w.p,
                q: w.q,
                a: w.a,
                b: w.b,
                t: w.t,
            },
            proof: upstream_fac::Proof {
                z1: w.z1,
                z2: w.z2,
                w1: w.w1,
                w2: w.w2,
                v: w.v,
            },
        }
    }
}

fn security_params(level: &SecurityLevel) -> upstream_fac::SecurityParams {
    upstream_fac::SecurityParams {
        l: level.ell as usize,
        epsilon: level.epsilon as usize,
    }
}

fn check_level(level: &SecurityLevel) -> Result<(), ZkError> {
    let statement = |what| ZkError::Statement { proof: PROOF, what };
    let n_bits = level.min_modulus_bits.saturating_sub(1);
    if level.ell.saturating_mul(4) > n_bits {
        return Err(statement("security level: 4ℓ exceeds the modulus size"));
    }
    if level.epsilon < MIN_SLACK_BITS {
        return Err(statement(
            "security level: ε < 100 leaves no statistical slack",
        ));
    }
    if level.ell.saturating_mul(2).saturating_add(level.epsilon) > n_bits / 2 {
        return Err(statement(
            "security level: 2ℓ + ε > log₂√N, the proof would not bound factors by 2^ℓ",
        ));
    }
    Ok(())
}

/// Validates the statement and returns `⌊√N⌋` `[fac.3]`.
fn check_statement(st: &Statement<'_>, level: &SecurityLevel) -> Result<Integer, ZkError> {
    check_level(level)?; // [fac.0]
    check_modulus(PROOF, "N (size outside the level, or even)", st.n, level)?; // [fac.1]
    st.aux.validate(level)?; // [fac.2]
    Ok(Integer::from(st.n.sqrt_ref())) // [fac.3]
}

/// Proves that `st.n` has no factor below `2^ℓ`, to the owner of `st.aux`.
pub fn prove(
    ctx: &Transcript,
    st: &Statement<'_>,
    witness: &Witness<'_>,
    level: &SecurityLevel,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Proof, ZkError> {
    let n_root = check_statement(st, level)?;
    let bad = |what| ZkError::Prover { proof: PROOF, what };
    let (p, q) = (witness.p, witness.q);
    if Integer::from(p * q) != *st.n {
        return Err(bad("p·q ≠ N")); // [fac.p1]
    }
    let two_l = Integer::from(1u32) << level.ell;
    if *p <= two_l || *q <= two_l {
        return Err(bad("p or q is not above 2^ℓ")); // [fac.p2]
    }
    let upper = Integer::from(&two_l * &n_root);
    if *p > upper || *q > upper {
        return Err(bad("p or q is above 2^ℓ·√N")); // [fac.p3]
    }

    let aux = st.aux.to_paillier_zk();
    let (n, n_root) = (to_backend(st.n), BInt::from_rug(n_root));
    let data = upstream_fac::Data {
        n: &n,
        n_root: &n_root,
    };
    let (p, q) = (to_backend(p), to_backend(q));
    let pdata = upstream_fac::PrivateData { p: &p, q: &q };
    let params = security_params(level);
    let (commitment, pcomm) = upstream_fac::interactive::commit(&aux, data, pdata, &params, rng)
        .map_err(|_| bad("paillier-zk could not build the commitment"))?;
    let challenge = upstream_fac::non_interactive::challenge::<sha2::Sha256>(
        &bind_context(ctx, DOMAIN),
        &aux,
        data,
        &commitment,
        &params,
    );
    let proof = upstream_fac::interactive::prove(pdata, &pcomm, &challenge)
        .map_err(|_| bad("paillier-zk could not build the proof"))?;
    Ok(Proof { commitment, proof })
}

/// Verifies a Π^fac proof for `st` under the same `ctx` the prover used.
pub fn verify(
    ctx: &Transcript,
    st: &Statement<'_>,
    level: &SecurityLevel,
    proof: &Proof,
) -> Result<Verified, ZkError> {
    let n_root = check_statement(st, level)?;
    let z = &proof.proof;
    let out_of_range = |what| ZkError::OutOfRange { proof: PROOF, what };
    let n_root = BInt::from_rug(n_root);
    // [fac.4]
    let range = (BInt::one() << (level.ell + level.epsilon) as usize) * &n_root;
    if !z.z1.is_in_half_pm(&range) {
        return Err(out_of_range("z1"));
    }
    if !z.z2.is_in_half_pm(&range) {
        return Err(out_of_range("z2"));
    }
    // [fac.5]
    let spread = u64::from(
        level
            .ell
            .saturating_add(level.epsilon)
            .max(level.ell.saturating_mul(2)),
    );
    let n_hat_bits = u64::from(st.aux.n.significant_bits());
    let n_bits = u64::from(st.n.significant_bits());
    if z.w1.significant_bits() > n_hat_bits + spread + 1 {
        return Err(out_of_range("w1"));
    }
    if z.w2.significant_bits() > n_hat_bits + spread + 1 {
        return Err(out_of_range("w2"));
    }
    if z.v.significant_bits() > n_bits + n_hat_bits + spread + 2 {
        return Err(out_of_range("v"));
    }

    let aux = st.aux.to_paillier_zk();
    let n = to_backend(st.n);
    let data = upstream_fac::Data {
        n: &n,
        n_root: &n_root,
    };
    let params = security_params(level);
    let challenge = upstream_fac::non_interactive::challenge::<sha2::Sha256>(
        &bind_context(ctx, DOMAIN),
        &aux,
        data,
        &proof.commitment,
        &params,
    );
    upstream_fac::interactive::verify(&aux, data, &proof.commitment, &params, &challenge, z)
        .map_err(upstream_err(PROOF))?;
    Ok(Verified::new())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::OnceLock;

    use super::*;
    use crate::upstream::test_support::*;

    /// Prover = party 0 (its N), verifier = party 1 (its aux).
    fn statement() -> Statement<'static> {
        let [a, b] = parties();
        Statement {
            n: &a.n,
            aux: &b.aux,
        }
    }

    fn fixture() -> &'static Proof {
        static F: OnceLock<Proof> = OnceLock::new();
        F.get_or_init(|| {
            let [a, _] = parties();
            prove(
                &ctx(b"sid-1", 0, 1),
                &statement(),
                &Witness { p: &a.p, q: &a.q },
                &TEST_LEVEL,
                &mut rng(31),
            )
            .unwrap()
        })
    }

    fn verify_with(st: &Statement<'_>, proof: &Proof) -> Result<Verified, ZkError> {
        verify(&ctx(b"sid-1", 0, 1), st, &TEST_LEVEL, proof)
    }

    fn assert_upstream(r: Result<Verified, ZkError>, reason_contains: &str) {
        match r {
            Err(ZkError::Upstream {
                proof: "fac",
                reason,
            }) => assert!(
                reason.contains(reason_contains),
                "reason {reason:?} lacks {reason_contains:?}"
            ),
            other => panic!("expected upstream rejection, got {other:?}"),
        }
    }

    #[test]
    fn fac_passes_at_level128_sizes() {
        let _: Verified = verify_with(&statement(), fixture()).unwrap();
        // cggmp24's ε = 512 (the level paillier-zk's own tests use) is complete too.
        let [a, _] = parties();
        let c = ctx(b"sid-2", 0, 1);
        let w = Witness { p: &a.p, q: &a.q };
        let cggmp24 = SecurityLevel {
            epsilon: 512,
            ell_prime: 1280,
            ..SecurityLevel::LEVEL128
        };
        let p = prove(&c, &statement(), &w, &cggmp24, &mut rng(32)).unwrap();
        let _: Verified = verify(&c, &statement(), &cggmp24, &p).unwrap();
    }

    #[test]
    fn fac_0_level128_is_consistent() {
        check_level(&SecurityLevel::LEVEL128).unwrap();
    }

    #[test]
    fn fac_0_rejects_inconsistent_level() {
        let c = ctx(b"sid-1", 0, 1);
        let levels = [
            SecurityLevel {
                epsilon: 1100,
                ..TEST_LEVEL
            },
            SecurityLevel {
                epsilon: 64,
                ..TEST_LEVEL
            },
            SecurityLevel {
                ell: 800,
                ..TEST_LEVEL
            },
        ];
        for level in levels {
            let r = verify(&c, &statement(), &level, fixture());
            assert!(
                matches!(r, Err(ZkError::Statement { proof: "fac", .. })),
                "{r:?}"
            );
        }
    }

    #[test]
    fn fac_1_rejects_modulus_outside_level() {
        let [a, b] = parties();
        let small = Integer::from(&a.n >> 2u32) | 1u32;
        let large = Integer::from(&a.n << 2u32) | 1u32;
        let even = Integer::from(&a.n + 1u32);
        for n in [&small, &large, &even] {
            let st = Statement { n, aux: &b.aux };
            let r = verify_with(&st, fixture());
            assert!(
                matches!(r, Err(ZkError::Statement { proof: "fac", .. })),
                "{r:?}"
            );
        }
    }

    #[test]
    fn fac_2_rejects_bad_aux() {
        let [a, b] = parties();
        let bad = RingPedersen {
            n: b.aux.n.clone(),
            s: b.aux.s.clone(),
            t: Integer::from(&b.aux.n - 1u32),
        };
        let r = verify_with(&Statement { n: &a.n, aux: &bad }, fixture());
        assert!(
            matches!(r, Err(ZkError::BadInput { proof: "aux", .. })),
            "{r:?}"
        );
    }

    #[test]
    fn fac_4_rejects_z_out_of_range_early() {
        let [a, _] = parties();
        let n_root = BInt::from_rug(Integer::from(a.n.sqrt_ref()));
        let half = (BInt::one() << (TEST_LEVEL.ell + TEST_LEVEL.epsilon - 1) as usize) * &n_root;
        let mut p = fixture().clone();
        p.proof.z1 = &half + BInt::one();
        assert_eq!(
            verify_with(&statement(), &p),
            Err(ZkError::OutOfRange {
                proof: "fac",
                what: "z1"
            })
        );
        let mut p = fixture().clone();
        p.proof.z2 = -(&half + BInt::one());
        assert_eq!(
            verify_with(&statement(), &p),
            Err(ZkError::OutOfRange {
                proof: "fac",
                what: "z2"
            })
        );
    }

    #[test]
    fn fac_5_caps_w1_w2_v() {
        let huge = BInt::one() << 9000usize;
        type Edit = fn(&mut upstream_fac::Proof, BInt);
        let cases: [(Edit, &str); 3] = [
            (|z, h| z.w1 = h, "w1"),
            (|z, h| z.w2 = -h, "w2"),
            (|z, h| z.v = h.clone() * h, "v"),
        ];
        for (edit, what) in cases {
            let mut p = fixture().clone();
            edit(&mut p.proof, huge.clone());
            assert_eq!(
                verify_with(&statement(), &p),
                Err(ZkError::OutOfRange { proof: "fac", what })
            );
        }
    }

    /// A modulus with a 128-bit factor: paillier-zk's prover happily emits a proof (its "p" need
    /// not even be prime); `[fac.4]` and, independently, paillier-zk's range check 12 refuse it.
    #[test]
    fn fac_rejects_small_factor() {
        let [_, b] = parties();
        let mut rng = rng(33);
        let small = prime_mod4(&mut rng, 128, 3);
        let mut big = random_bits(&mut rng, 3072 - 128);
        big.set_bit(3072 - 128 - 1, true);
        big.set_bit(3072 - 128 - 2, true);
        big.set_bit(0, true);
        let n = Integer::from(&big * &small);
        assert!(n.significant_bits() >= 3071);
        let st = Statement { n: &n, aux: &b.aux };
        let c = ctx(b"sid-1", 0, 1);
        let w = Witness { p: &big, q: &small };
        let r = prove(&c, &st, &w, &TEST_LEVEL, &mut rng);
        assert_eq!(
            r.unwrap_err(),
            ZkError::Prover {
                proof: "fac",
                what: "p or q is not above 2^ℓ"
            }
        );
        // Forge with paillier-zk directly.
        let aux = b.aux.to_paillier_zk();
        let (nb, rootb) = (to_backend(&n), BInt::from_rug(Integer::from(n.sqrt_ref())));
        let data = upstream_fac::Data {
            n: &nb,
            n_root: &rootb,
        };
        let (pb, qb) = (to_backend(&big), to_backend(&small));
        let pdata = upstream_fac::PrivateData { p: &pb, q: &qb };
        let params = security_params(&TEST_LEVEL);
        let (commitment, pcomm) =
            upstream_fac::interactive::commit(&aux, data, pdata, &params, &mut rng).unwrap();
        let shared = bind_context(&c, DOMAIN);
        let challenge = upstream_fac::non_interactive::challenge::<sha2::Sha256>(
            &shared,
            &aux,
            data,
            &commitment,
            &params,
        );
        let proof = upstream_fac::interactive::prove(pdata, &pcomm, &challenge).unwrap();
        let forged = Proof { commitment, proof };
        assert_eq!(
            verify(&c, &st, &TEST_LEVEL, &forged),
            Err(ZkError::OutOfRange {
                proof: "fac",
                what: "z1"
            })
        );
        let r = upstream_fac::interactive::verify(
            &aux,
            data,
            &forged.commitment,
            &params,
            &challenge,
            &forged.proof,
        );
        let e = r.map_err(upstream_err("fac")).unwrap_err();
        assert!(format!("{e}").contains("range check failed 12"), "{e}");
    }

    #[test]
    fn fac_upstream_rejects_changed_statement() {
        let [a, b] = parties();
        // Party 1's modulus, same aux.
        let r = verify_with(
            &Statement {
                n: &b.n,
                aux: &b.aux,
            },
            fixture(),
        );
        assert!(r.is_err(), "{r:?}");
        // Another verifier's aux.
        let r = verify_with(
            &Statement {
                n: &a.n,
                aux: &a.aux,
            },
            fixture(),
        );
        assert!(r.is_err(), "{r:?}");
    }

    #[test]
    fn fac_upstream_rejects_replay_under_other_context() {
        for other in [
            ctx(b"sid-2", 0, 1),
            ctx(b"sid-1", 2, 1),
            ctx(b"sid-1", 0, 2),
        ] {
            let r = verify(&other, &statement(), &TEST_LEVEL, fixture());
            assert_upstream(r, "equality check failed 6");
        }
    }

    #[test]
    fn fac_upstream_rejects_tampered_fields() {
        type Edit = fn(&mut Proof);
        let cases: [(Edit, &str); 6] = [
            (
                |p| p.proof.z1 = &p.proof.z1 + BInt::one(),
                "equality check failed 6",
            ),
            (
                |p| p.proof.w2 = &p.proof.w2 + BInt::one(),
                "equality check failed 8",
            ),
            (
                |p| p.proof.v = &p.proof.v + BInt::one(),
                "equality check failed 10",
            ),
            (|p| p.commitment.p = BInt::zero(), "range check failed 0"),
            (
                |p| p.commitment.t = BInt::one() << 4000usize,
                "range check failed 4",
            ),
            (
                |p| p.commitment.a = &p.commitment.a + BInt::one(),
                "equality check failed 6",
            ),
        ];
        for (edit, reason) in cases {
            let mut p = fixture().clone();
            edit(&mut p);
            assert_upstream(verify_with(&statement(), &p), reason);
        }
    }

    #[test]
    fn fac_wire_roundtrip_and_tamper() {
        let _: Verified =
            verify_with(&statement(), &json_edit(fixture(), |_| {}).unwrap()).unwrap();
        let p = json_edit(fixture(), |v| {
            let w1 = json_int(&v["w1"]) + 1u32;
            json_set_int(&mut v["w1"], &w1);
        })
        .unwrap();
        assert_upstream(verify_with(&statement(), &p), "equality check failed 6");
        assert!(json_edit(fixture(), |v| v["v"]["radix"] = 1.into()).is_err());
        assert!(json_edit(fixture(), |v| v["v"]["value"] = "0x12".into()).is_err());
    }

    #[test]
    fn fac_prover_rejects_bad_witness() {
        let [a, b] = parties();
        let c = ctx(b"sid-1", 0, 1);
        let r = prove(
            &c,
            &statement(),
            &Witness { p: &a.p, q: &b.q },
            &TEST_LEVEL,
            &mut rng(34),
        );
        assert_eq!(
            r.unwrap_err(),
            ZkError::Prover {
                proof: "fac",
                what: "p·q ≠ N"
            }
        );
        let one = Integer::from(1u32);
        let r = prove(
            &c,
            &statement(),
            &Witness { p: &one, q: &a.n },
            &TEST_LEVEL,
            &mut rng(34),
        );
        assert_eq!(
            r.unwrap_err(),
            ZkError::Prover {
                proof: "fac",
                what: "p or q is not above 2^ℓ"
            }
        );
    }

    #[test]
    #[ignore = "timing only: cargo test -p tessera-zk --release -- --ignored --nocapture timing"]
    fn fac_timing_level128() {
        let [a, _] = parties();
        let c = ctx(b"sid-t", 0, 1);
        let t = std::time::Instant::now();
        let p = prove(
            &c,
            &statement(),
            &Witness { p: &a.p, q: &a.q },
            &TEST_LEVEL,
            &mut rng(35),
        )
        .unwrap();
        let tp = t.elapsed();
        let t = std::time::Instant::now();
        let _: Verified = verify(&c, &statement(), &TEST_LEVEL, &p).unwrap();
        println!("fac: prove {tp:?}, verify {:?}", t.elapsed());
    }
}
