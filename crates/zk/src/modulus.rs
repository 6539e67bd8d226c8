//! Π^mod — Paillier–Blum modulus, through `paillier-zk =0.7.0-alpha.3`
//! (`paillier_blum_modulus`, backend-rug), with `M = 128` challenges.
//!
//! # Statement
//!
//! Public: `N`. The prover knows primes `p ≡ q ≡ 3 (mod 4)` with `N = p·q`; the proof shows `N` is
//! a Paillier–Blum modulus (`gcd(N, φ(N)) = 1`, exactly two prime factors, both ≡ 3 mod 4) with
//! soundness error `2^-128`. Sent once per aux-info generation / refresh as a *broadcast*: the
//! context holds protocol, session id and prover index, no verifier index.
//!
//! Paper: CGGMP24 (ePrint 2021/060, 2024 revision), "Paillier-Blum Modulus ZK" (Π^mod; Fig. 12 of
//! that revision according to PROTOCOL-NOTES §1.3, not re-checked against the PDF). The 2024
//! revision added the verifier check `gcd(w, N) = 1`, whose absence is CVE-2025-66016 /
//! GHSA-m95p-425x-x889 (PROTOCOL-NOTES §8.1); paillier-zk 0.7.0-alpha.3 has it.
//!
//! # Checks
//!
//! paillier-zk checks: `N` not prime (GMP, 25 rounds) and odd; `w ∈ Z*_N` (RangeCheck 1, the
//! CVE-2025-66016 fix); for each of the 128 points `x_i, z_i ∈ Z*_N` (RangeCheck 2, 3),
//! `z_i^N = y_i` and `x_i^4 = (−1)^{a_i} w^{b_i} y_i mod N`. The challenges `y_i ∈ Z*_N` are drawn
//! from a hash of our context, `N` and `w`.
//!
//! We add, before calling it:
//! - `[mod.0]` `level.m == 128` (the const generic `M` is fixed at 128, as in cggmp24);
//! - `[mod.1]` `N` odd with bit length within `min_modulus_bits..=max_modulus_bits`;
//! - `[mod.2]` `N ≡ 1 (mod 4)` (a product of two primes ≡ 3 mod 4 is);
//! - `[mod.3]` `N` is not a perfect square;
//! - `[mod.4]` `N` has no prime factor below 1000 (cheap; Π^fac proves the real bound);
//! - `[mod.5]` `0 < w < N` and Jacobi `(w | N) = −1` — what the honest prover samples; implies
//!   `gcd(w, N) = 1`, so CVE-2025-66016's `w ≡ 0 (mod p)` is refused before paillier-zk sees it;
//! - exactly 128 points (by type: a proof with another count does not parse);
//! - context binding with domain `tessera.zk.mod.v1` (see `enc::bind_context`).
//!
//! The prover refuses a bad witness ([`ZkError::Prover`]): `[mod.p1]` `p·q = N`, `[mod.p2]` `p ≠ q`,
//! `[mod.p3]` `p ≡ q ≡ 3 (mod 4)`, `[mod.p4]` `p`, `q` probable primes.
//!
//! Wire format: integers as in `enc` (strict `wire_int`); points as a list of `{x, a, b, z}`.

use fast_paillier::backend::Integer as BInt;
use paillier_zk::paillier_blum_modulus as upstream_mod;
use rug::integer::IsPrime;
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::Transcript;

use crate::upstream::{bind_context, check_modulus, to_backend, upstream_err, wire_int};
use crate::{SecurityLevel, Verified, ZkError};

const PROOF: &str = "mod";
const DOMAIN: &[u8] = b"tessera.zk.mod.v1";

/// Number of challenges (paillier-zk's const generic `M`).
pub const M: usize = 128;

/// Public input of Π^mod.
#[derive(Clone, Copy, Debug)]
pub struct Statement<'a> {
    /// The prover's Paillier (and ring-Pedersen) modulus.
    pub n: &'a Integer,
}

/// The factorisation `N = p·q`.
#[derive(Clone, Copy)]
pub struct Witness<'a> {
    pub p: &'a Integer,
    pub q: &'a Integer,
}

impl std::fmt::Debug for Witness<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("modulus::Witness(<redacted>)")
    }
}

/// A non-interactive Π^mod proof: `w` and 128 points `(x_i, a_i, b_i, z_i)`.
#[derive(Clone, Debug, Serialize, Deserialize)]
#[serde(try_from = "ProofWire", into = "ProofWire")]
pub struct Proof(pub(crate) upstream_mod::NiProof<M>);

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProofWire {
    #[serde(with = "wire_int")]
    w: BInt,
    points: Vec<PointWire>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PointWire {
    #[serde(with = "wire_int")]
    x: BInt,
    a: bool,
    b: bool,
    #[serde(with = "wire_int")]
    z: BInt,
}

impl From<Proof> for ProofWire {
    fn from(p: Proof) -> Self {
        let upstream_mod::NiProof { commitment, proof } = p.0;
        ProofWire {
            w: commitment.w,
            points: proof
                .points
                .into_iter()
                .map(|pt| PointWire {
                    x: pt.x,
                    a: pt.a,
                    b: pt.b,
                    z: pt.z,
                })
                .collect(),
        }
    }
}

impl TryFrom<ProofWire> for Proof {
    type Error = &'static str;

    fn try_from(w: ProofWire) -> Result<Self, Self::Error> {
        let points: Vec<upstream_mod::ProofPoint> = w
            .points
            .into_iter()
            .map(|pt| upstream_mod::ProofPoint {
                x: pt.x,
                a: pt.a,
                b: pt.b,
                z: pt.z,
            })
            .collect();
        let points: [upstream_mod::ProofPoint; M] = points
            .try_into()
            .map_err(|_| "mod: proof must have exactly 128 points")?;
        Ok(Proof(upstream_mod::NiProof {
            commitment: upstream_mod::Commitment { w: w.w },
            proof: upstream_mod::Proof { points },
        }))
    }
}

/// The product of the primes below 1000.
fn small_primorial() -> Integer {
    let mut acc = Integer::from(1u32);
    let mut p = Integer::from(2u32);
    while p < 1000u32 {
        acc *= &p;
        p.next_prime_mut();
    }
    acc
}

fn check_statement(st: &Statement<'_>, level: &SecurityLevel) -> Result<(), ZkError> {
    // [mod.0]
    if usize::try_from(level.m).ok() != Some(M) {
        return Err(ZkError::Statement {
            proof: PROOF,
            what: "security level: m must be 128 (paillier-zk const generic)",
        });
    }
    check_modulus(PROOF, "N (size outside the level, or even)", st.n, level)?; // [mod.1]
    let statement = |what| ZkError::Statement { proof: PROOF, what };
    if st.n.mod_u(4) != 1 {
        return Err(statement("N is not 1 mod 4")); // [mod.2]
    }
    if st.n.is_perfect_square() {
        return Err(statement("N is a perfect square")); // [mod.3]
    }
    if Integer::from(st.n.gcd_ref(&small_primorial())) != 1u32 {
        return Err(statement("N has a prime factor below 1000")); // [mod.4]
    }
    Ok(())
}

/// Proves that `st.n` is a Paillier–Blum modulus. `ctx` holds protocol, session id and the
/// prover's index (the proof is broadcast).
pub fn prove(
    ctx: &Transcript,
    st: &Statement<'_>,
    witness: &Witness<'_>,
    level: &SecurityLevel,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Result<Proof, ZkError> {
    check_statement(st, level)?;
    let bad = |what| ZkError::Prover { proof: PROOF, what };
    let (p, q) = (witness.p, witness.q);
    if Integer::from(p * q) != *st.n {
        return Err(bad("p·q ≠ N")); // [mod.p1]
    }
    if p == q {
        return Err(bad("p = q")); // [mod.p2]
    }
    if p.mod_u(4) != 3 || q.mod_u(4) != 3 {
        return Err(bad("p or q is not 3 mod 4")); // [mod.p3]
    }
    if p.is_probably_prime(30) == IsPrime::No || q.is_probably_prime(30) == IsPrime::No {
        return Err(bad("p or q is not prime")); // [mod.p4]
    }
    let n = to_backend(st.n);
    let (p, q) = (to_backend(p), to_backend(q));
    let proof = upstream_mod::non_interactive::prove::<M, sha2::Sha256>(
        &bind_context(ctx, DOMAIN),
        upstream_mod::Data { n: &n },
        upstream_mod::PrivateData { p: &p, q: &q },
        rng,
    )
    .map_err(|_| bad("paillier-zk could not build the proof"))?;
    Ok(Proof(proof))
}

/// Verifies a Π^mod proof for `st.n` under the prover's broadcast context.
pub fn verify(
    ctx: &Transcript,
    st: &Statement<'_>,
    level: &SecurityLevel,
    proof: &Proof,
) -> Result<Verified, ZkError> {
    check_statement(st, level)?;
    // [mod.5]
    let w = proof.0.commitment.w.clone().to_rug();
    if w <= 0u32 || w >= *st.n || w.jacobi(st.n) != -1 {
        return Err(ZkError::BadInput {
            proof: PROOF,
            what: "w (not in Z*_N with Jacobi symbol −1)",
        });
    }
    let n = to_backend(st.n);
    // The rug backend ignores this rng (GMP's primality test is deterministic); a Miller–Rabin
    // test never calls a prime composite, so the outcome for an honest N cannot depend on it.
    upstream_mod::non_interactive::verify::<M, sha2::Sha256>(
        &bind_context(ctx, DOMAIN),
        upstream_mod::Data { n: &n },
        &proof.0,
        &mut rand_core::OsRng,
    )
    .map_err(upstream_err(PROOF))?;
    Ok(Verified::new())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use std::sync::OnceLock;

    use rug::ops::RemRounding;

    use super::*;
    use crate::upstream::test_support::*;

    fn bctx(sid: &[u8], prover: u64) -> Transcript {
        let mut t = Transcript::new(b"tessera.test.protocol");
        t.append(b"sid", sid).append_u64(b"prover", prover);
        t
    }

    fn fixture() -> &'static Proof {
        static F: OnceLock<Proof> = OnceLock::new();
        F.get_or_init(|| {
            let [a, _] = parties();
            prove(
                &bctx(b"sid-1", 0),
                &Statement { n: &a.n },
                &Witness { p: &a.p, q: &a.q },
                &TEST_LEVEL,
                &mut rng(21),
            )
            .unwrap()
        })
    }

    fn verify_n(n: &Integer, proof: &Proof) -> Result<Verified, ZkError> {
        verify(&bctx(b"sid-1", 0), &Statement { n }, &TEST_LEVEL, proof)
    }

    fn assert_statement(r: Result<Verified, ZkError>, what: &str) {
        match r {
            Err(ZkError::Statement {
                proof: "mod",
                what: w,
            }) => assert!(w.contains(what), "{w}"),
            other => panic!("expected statement rejection, got {other:?}"),
        }
    }

    fn assert_upstream(r: Result<Verified, ZkError>, reason_contains: &str) {
        match r {
            Err(ZkError::Upstream {
                proof: "mod",
                reason,
            }) => assert!(
                reason.contains(reason_contains),
                "reason {reason:?} lacks {reason_contains:?}"
            ),
            other => panic!("expected upstream rejection, got {other:?}"),
        }
    }

    #[test]
    fn mod_passes_at_level128_sizes() {
        let [a, _] = parties();
        let _: Verified = verify_n(&a.n, fixture()).unwrap();
    }

    #[test]
    fn mod_0_rejects_m_other_than_128() {
        let [a, _] = parties();
        let level = SecurityLevel {
            m: 80,
            ..TEST_LEVEL
        };
        let r = verify(
            &bctx(b"sid-1", 0),
            &Statement { n: &a.n },
            &level,
            fixture(),
        );
        assert_statement(r, "m must be 128");
    }

    #[test]
    fn mod_1_rejects_modulus_outside_level() {
        let [a, _] = parties();
        let small = Integer::from(&a.n >> 4u32) | 1u32;
        let large = Integer::from(&a.n << 4u32) | 1u32;
        let even = Integer::from(&a.n + 1u32);
        for n in [small, large, even] {
            assert_statement(verify_n(&n, fixture()), "N (size");
        }
    }

    #[test]
    fn mod_2_rejects_n_3_mod_4() {
        let [a, _] = parties();
        let n = Integer::from(&a.n + 2u32);
        assert_statement(verify_n(&n, fixture()), "1 mod 4");
    }

    #[test]
    fn mod_3_rejects_perfect_square() {
        let [a, _] = parties();
        let n = Integer::from(a.p.square_ref());
        assert!(n.significant_bits() >= 3071);
        assert_statement(verify_n(&n, fixture()), "perfect square");
    }

    #[test]
    fn mod_4_rejects_small_factor() {
        let [a, _] = parties();
        // 3·m with m ≡ 3 mod 4, so 3m ≡ 1 mod 4, same size as N.
        let mut m = Integer::from(&a.n / 3u32);
        while m.mod_u(4) != 3 {
            m += 1u32;
        }
        let n = m * 3u32;
        assert_eq!(n.mod_u(4), 1);
        assert_statement(verify_n(&n, fixture()), "below 1000");
    }

    #[test]
    fn mod_5_rejects_bad_w_including_cve_2025_66016() {
        let [a, _] = parties();
        let w = fixture().0.commitment.w.clone().to_rug();
        let square = Integer::from(w.square_ref()).rem_euc(&a.n); // Jacobi +1
        let multiple_of_p = Integer::from(&a.p * 5u32); // gcd(w, N) = p
        for bad in [square, multiple_of_p.clone(), Integer::new(), a.n.clone()] {
            let mut p = fixture().clone();
            p.0.commitment.w = to_backend(&bad);
            assert_eq!(
                verify_n(&a.n, &p),
                Err(ZkError::BadInput {
                    proof: "mod",
                    what: "w (not in Z*_N with Jacobi symbol −1)"
                })
            );
        }
        // paillier-zk itself has the CVE-2025-66016 check too.
        let mut p = fixture().clone();
        p.0.commitment.w = to_backend(&multiple_of_p);
        let r = upstream_mod::non_interactive::verify::<M, sha2::Sha256>(
            &bind_context(&bctx(b"sid-1", 0), DOMAIN),
            upstream_mod::Data {
                n: &to_backend(&a.n),
            },
            &p.0,
            &mut rand_core::OsRng,
        );
        let e = r.map_err(upstream_err("mod")).unwrap_err();
        assert!(format!("{e}").contains("range check failed 1"), "{e}");
    }

    #[test]
    fn mod_upstream_rejects_other_modulus() {
        let [_, b] = parties();
        assert!(verify_n(&b.n, fixture()).is_err());
    }

    #[test]
    fn mod_upstream_rejects_replay_under_other_context() {
        let [a, _] = parties();
        for other in [bctx(b"sid-2", 0), bctx(b"sid-1", 1)] {
            let r = verify(&other, &Statement { n: &a.n }, &TEST_LEVEL, fixture());
            assert_upstream(r, "incorrect nth root");
        }
    }

    #[test]
    fn mod_upstream_rejects_tampered_points() {
        let [a, _] = parties();
        type Edit = fn(&mut upstream_mod::ProofPoint);
        let cases: [(Edit, &str); 5] = [
            (|pt| pt.z = &pt.z + BInt::one(), "incorrect nth root"),
            (|pt| pt.a = !pt.a, "incorrect 4th root"),
            (|pt| pt.b = !pt.b, "incorrect 4th root"),
            (|pt| pt.x = BInt::zero(), "range check failed 2"),
            (|pt| pt.z = BInt::zero(), "range check failed 3"),
        ];
        for (k, (edit, reason)) in cases.into_iter().enumerate() {
            // The last point costs a full verification; test it once.
            let indices: &[usize] = if k == 0 { &[0, M - 1] } else { &[0] };
            for &i in indices {
                let mut p = fixture().clone();
                edit(&mut p.0.proof.points[i]);
                assert_upstream(verify_n(&a.n, &p), reason);
            }
        }
    }

    /// A non-Blum modulus (one prime ≡ 1 mod 4): paillier-zk's prover still emits a proof; it is
    /// refused by `[mod.2]` and, independently, by paillier-zk's verifier.
    #[test]
    fn mod_rejects_non_blum_modulus() {
        let [a, _] = parties();
        let mut rng = rng(22);
        let q1 = prime_mod4(&mut rng, 1536, 1);
        let n = Integer::from(&a.p * &q1);
        let st = Statement { n: &n };
        let r = prove(
            &bctx(b"sid-1", 0),
            &st,
            &Witness { p: &a.p, q: &q1 },
            &TEST_LEVEL,
            &mut rng,
        );
        assert!(r.is_err());
        let nb = to_backend(&n);
        let shared = bind_context(&bctx(b"sid-1", 0), DOMAIN);
        let forged = upstream_mod::non_interactive::prove::<M, sha2::Sha256>(
            &shared,
            upstream_mod::Data { n: &nb },
            upstream_mod::PrivateData {
                p: &to_backend(&a.p),
                q: &to_backend(&q1),
            },
            &mut rng,
        )
        .unwrap();
        assert_statement(verify_n(&n, &Proof(forged.clone())), "1 mod 4");
        let r = upstream_mod::non_interactive::verify::<M, sha2::Sha256>(
            &shared,
            upstream_mod::Data { n: &nb },
            &forged,
            &mut rand_core::OsRng,
        );
        assert!(r.is_err());
    }

    #[test]
    fn mod_wire_roundtrip_and_length() {
        let [a, _] = parties();
        let _: Verified = verify_n(&a.n, &json_edit(fixture(), |_| {}).unwrap()).unwrap();
        let short = json_edit(fixture(), |v| {
            v["points"].as_array_mut().unwrap().pop();
        });
        assert!(short.is_err());
        let long = json_edit(fixture(), |v| {
            let arr = v["points"].as_array_mut().unwrap();
            let first = arr[0].clone();
            arr.push(first);
        });
        assert!(long.is_err());
        let p = json_edit(fixture(), |v| {
            let z = json_int(&v["points"][5]["z"]) + 1u32;
            json_set_int(&mut v["points"][5]["z"], &z);
        })
        .unwrap();
        assert_upstream(verify_n(&a.n, &p), "incorrect nth root");
        assert!(json_edit(fixture(), |v| v["w"]["radix"] = 99.into()).is_err());
    }

    #[test]
    fn mod_prover_rejects_bad_witness() {
        let [a, b] = parties();
        let c = bctx(b"sid-1", 0);
        let st = Statement { n: &a.n };
        let r = prove(
            &c,
            &st,
            &Witness { p: &a.p, q: &b.q },
            &TEST_LEVEL,
            &mut rng(23),
        );
        assert_eq!(
            r.unwrap_err(),
            ZkError::Prover {
                proof: "mod",
                what: "p·q ≠ N"
            }
        );
        let sq = Integer::from(a.p.square_ref());
        let r = prove(
            &c,
            &Statement { n: &sq },
            &Witness { p: &a.p, q: &a.p },
            &TEST_LEVEL,
            &mut rng(23),
        );
        // A square is refused as a statement before the witness is looked at.
        assert!(
            matches!(r, Err(ZkError::Statement { proof: "mod", .. })),
            "{r:?}"
        );
    }

    #[test]
    #[ignore = "timing only: cargo test -p tessera-zk --release -- --ignored --nocapture timing"]
    fn mod_timing_level128() {
        let [a, _] = parties();
        let c = bctx(b"sid-t", 0);
        let t = std::time::Instant::now();
        let p = prove(
            &c,
            &Statement { n: &a.n },
            &Witness { p: &a.p, q: &a.q },
            &TEST_LEVEL,
            &mut rng(24),
        )
        .unwrap();
        let tp = t.elapsed();
        let t = std::time::Instant::now();
        let _: Verified = verify(&c, &Statement { n: &a.n }, &TEST_LEVEL, &p).unwrap();
        println!("mod: prove {tp:?}, verify {:?}", t.elapsed());
    }
}
