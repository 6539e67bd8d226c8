//! Pedersen commitments `T = σ·G + l·H` and their proofs (GG20 presign rounds 3 and 6).
//!
//! `H` is a nothing-up-my-sleeve generator from RFC 9380 hash-to-curve
//! (`secp256k1_XMD:SHA-256_SSWU_RO_`) of a fixed Tessera tag: no one knows `log_G H`.
//!
//! - Opening proof (round 3): knowledge of `(σ, l)` with `T = σ·G + l·H`.
//!   Checks: `[ped.1]` `A` decodes (non-identity), `z1`, `z2` canonical; `[ped.2]` `T` is not the
//!   identity; `[ped.3]` `z1·G + z2·H = A + e·T`.
//! - Consistency proof (round 6): knowledge of `(σ, l)` with `T = σ·G + l·H` **and** `S = σ·R`.
//!   Checks: `[ped.4]` `A`, `B` decode, `z1`, `z2` canonical; `[ped.5]` `T`, `S`, `R` are not the
//!   identity; `[ped.6]` `z1·G + z2·H = A + e·T`; `[ped.7]` `z1·R = B + e·S`.

use k256::elliptic_curve::ops::MulByGenerator as _;
use std::sync::OnceLock;

use k256::elliptic_curve::hash2curve::{ExpandMsgXmd, GroupDigest};
use k256::{ProjectivePoint, Scalar, Secp256k1};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tessera_core::point::{WirePoint, WireScalar};
use tessera_core::Transcript;

use crate::ec::hedged_nonce;
use crate::{Verified, ZkError};

const PROOF: &str = "pedersen";
const H_DST: &[u8] = b"TESSERA-V1-secp256k1_XMD:SHA-256_SSWU_RO_";
const H_MSG: &[u8] = b"tessera pedersen generator H";

/// The second generator `H` (cached).
pub fn h_generator() -> ProjectivePoint {
    static H: OnceLock<ProjectivePoint> = OnceLock::new();
    *H.get_or_init(|| {
        Secp256k1::hash_from_bytes::<ExpandMsgXmd<Sha256>>(&[H_MSG], &[H_DST])
            .unwrap_or(ProjectivePoint::IDENTITY)
    })
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct OpeningProof {
    pub a: WirePoint,
    pub z1: WireScalar,
    pub z2: WireScalar,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct ConsistencyProof {
    pub a: WirePoint,
    pub b: WirePoint,
    pub z1: WireScalar,
    pub z2: WireScalar,
}

fn challenge(ctx: &Transcript, domain: &[u8], pts: &[(&[u8], &ProjectivePoint)]) -> Scalar {
    let mut t = ctx.clone();
    t.append(b"proof", domain);
    for (label, p) in pts {
        t.append_point(label, p);
    }
    t.challenge_scalar(b"e")
}

pub fn prove_opening(
    ctx: &Transcript,
    t: &ProjectivePoint,
    sigma: &Scalar,
    l: &Scalar,
    rng: &mut impl rand_core::CryptoRngCore,
) -> OpeningProof {
    let a_s = hedged_nonce(ctx, rng, &[sigma, l], b"pedersen.a");
    let b_s = hedged_nonce(ctx, rng, &[sigma, l], b"pedersen.b");
    let a = ProjectivePoint::mul_by_generator(&a_s) + h_generator() * b_s;
    let e = challenge(
        ctx,
        b"tessera.zk.pedersen.opening.v1",
        &[(b"T", t), (b"A", &a)],
    );
    OpeningProof {
        a: WirePoint::encode(&a),
        z1: WireScalar::encode(&(a_s + e * sigma)),
        z2: WireScalar::encode(&(b_s + e * l)),
    }
}

pub fn verify_opening(
    ctx: &Transcript,
    t: &ProjectivePoint,
    proof: &OpeningProof,
) -> Result<Verified, ZkError> {
    let bad = |what| ZkError::BadInput { proof: PROOF, what };
    let a = proof.a.decode().ok_or(bad("A"))?; // [ped.1]
    let z1 = proof.z1.decode().ok_or(bad("z1"))?;
    let z2 = proof.z2.decode().ok_or(bad("z2"))?;
    if *t == ProjectivePoint::IDENTITY {
        return Err(bad("T")); // [ped.2]
    }
    let e = challenge(
        ctx,
        b"tessera.zk.pedersen.opening.v1",
        &[(b"T", t), (b"A", &a)],
    );
    if ProjectivePoint::mul_by_generator(&z1) + h_generator() * z2 != a + *t * e {
        return Err(ZkError::Equation {
            proof: PROOF,
            what: "z1·G + z2·H = A + e·T",
        }); // [ped.3]
    }
    Ok(Verified::new())
}

pub fn prove_consistency(
    ctx: &Transcript,
    t: &ProjectivePoint,
    s: &ProjectivePoint,
    r: &ProjectivePoint,
    sigma: &Scalar,
    l: &Scalar,
    rng: &mut impl rand_core::CryptoRngCore,
) -> ConsistencyProof {
    let a_s = hedged_nonce(ctx, rng, &[sigma, l], b"st.a");
    let b_s = hedged_nonce(ctx, rng, &[sigma, l], b"st.b");
    let a = ProjectivePoint::mul_by_generator(&a_s) + h_generator() * b_s;
    let b = *r * a_s;
    let e = challenge(
        ctx,
        b"tessera.zk.pedersen.consistency.v1",
        &[(b"T", t), (b"S", s), (b"R", r), (b"A", &a), (b"B", &b)],
    );
    ConsistencyProof {
        a: WirePoint::encode(&a),
        b: WirePoint::encode(&b),
        z1: WireScalar::encode(&(a_s + e * sigma)),
        z2: WireScalar::encode(&(b_s + e * l)),
    }
}

pub fn verify_consistency(
    ctx: &Transcript,
    t: &ProjectivePoint,
    s: &ProjectivePoint,
    r: &ProjectivePoint,
    proof: &ConsistencyProof,
) -> Result<Verified, ZkError> {
    let bad = |what| ZkError::BadInput { proof: PROOF, what };
    let a = proof.a.decode().ok_or(bad("A"))?; // [ped.4]
    let b = proof.b.decode().ok_or(bad("B"))?;
    let z1 = proof.z1.decode().ok_or(bad("z1"))?;
    let z2 = proof.z2.decode().ok_or(bad("z2"))?;
    for (p, what) in [(t, "T"), (s, "S"), (r, "R")] {
        if *p == ProjectivePoint::IDENTITY {
            return Err(bad(what)); // [ped.5]
        }
    }
    let e = challenge(
        ctx,
        b"tessera.zk.pedersen.consistency.v1",
        &[(b"T", t), (b"S", s), (b"R", r), (b"A", &a), (b"B", &b)],
    );
    if ProjectivePoint::mul_by_generator(&z1) + h_generator() * z2 != a + *t * e {
        return Err(ZkError::Equation {
            proof: PROOF,
            what: "z1·G + z2·H = A + e·T",
        }); // [ped.6]
    }
    if *r * z1 != b + *s * e {
        return Err(ZkError::Equation {
            proof: PROOF,
            what: "z1·R = B + e·S",
        }); // [ped.7]
    }
    Ok(Verified::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::group::GroupEncoding;
    use k256::elliptic_curve::Field;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn h_is_a_fixed_nums_generator() {
        let h = h_generator();
        assert_ne!(h, ProjectivePoint::IDENTITY);
        assert_ne!(h, ProjectivePoint::GENERATOR);
        // Pinned: changing the tag or the hash-to-curve suite changes every T_i.
        assert_eq!(hex::encode(h.to_affine().to_bytes()), H_HEX);
    }

    const H_HEX: &str = "03416eb82b64f5b5603371a05ceb9b1a266aa35e94e4596b613069b547af3a4501";

    fn opening() -> (Transcript, ProjectivePoint, OpeningProof) {
        let mut rng = ChaCha20Rng::seed_from_u64(4);
        let ctx = Transcript::new(b"ped-test");
        let (s, l) = (Scalar::random(&mut rng), Scalar::random(&mut rng));
        let t = ProjectivePoint::mul_by_generator(&s) + h_generator() * l;
        let p = prove_opening(&ctx, &t, &s, &l, &mut rng);
        (ctx, t, p)
    }

    #[test]
    fn opening_passes() {
        let (ctx, t, p) = opening();
        let _ = verify_opening(&ctx, &t, &p).unwrap();
    }

    #[test]
    fn ped_1_rejects_bad_encoding() {
        let (ctx, t, mut p) = opening();
        p.a = WirePoint([0; 33]);
        assert!(matches!(
            verify_opening(&ctx, &t, &p),
            Err(ZkError::BadInput { what: "A", .. })
        ));
        let (ctx, t, mut p) = opening();
        p.z2 = WireScalar([0xff; 32]);
        assert!(matches!(
            verify_opening(&ctx, &t, &p),
            Err(ZkError::BadInput { what: "z2", .. })
        ));
    }

    #[test]
    fn ped_2_rejects_identity() {
        let (ctx, _, p) = opening();
        assert!(matches!(
            verify_opening(&ctx, &ProjectivePoint::IDENTITY, &p),
            Err(ZkError::BadInput { what: "T", .. })
        ));
    }

    #[test]
    fn ped_3_rejects_other_commitment_and_replay() {
        let (ctx, t, p) = opening();
        assert!(matches!(
            verify_opening(&ctx, &(t + ProjectivePoint::GENERATOR), &p),
            Err(ZkError::Equation { .. })
        ));
        let ctx2 = Transcript::new(b"ped-test-other");
        assert!(matches!(
            verify_opening(&ctx2, &t, &p),
            Err(ZkError::Equation { .. })
        ));
    }

    struct Cons {
        ctx: Transcript,
        t: ProjectivePoint,
        s: ProjectivePoint,
        r: ProjectivePoint,
        p: ConsistencyProof,
    }

    fn consistency(break_s: bool) -> Cons {
        let mut rng = ChaCha20Rng::seed_from_u64(5);
        let ctx = Transcript::new(b"st-test");
        let (sigma, l) = (Scalar::random(&mut rng), Scalar::random(&mut rng));
        let r = ProjectivePoint::mul_by_generator(&Scalar::random(&mut rng));
        let t = ProjectivePoint::mul_by_generator(&sigma) + h_generator() * l;
        let s = if break_s {
            r * (sigma + Scalar::ONE)
        } else {
            r * sigma
        };
        let p = prove_consistency(&ctx, &t, &s, &r, &sigma, &l, &mut rng);
        Cons { ctx, t, s, r, p }
    }

    #[test]
    fn consistency_passes() {
        let c = consistency(false);
        let _ = verify_consistency(&c.ctx, &c.t, &c.s, &c.r, &c.p).unwrap();
        let back: ConsistencyProof =
            serde_json::from_str(&serde_json::to_string(&c.p).unwrap()).unwrap();
        let _ = verify_consistency(&c.ctx, &c.t, &c.s, &c.r, &back).unwrap();
    }

    #[test]
    fn ped_4_rejects_bad_encoding() {
        let mut c = consistency(false);
        c.p.b = WirePoint([0; 33]);
        assert!(matches!(
            verify_consistency(&c.ctx, &c.t, &c.s, &c.r, &c.p),
            Err(ZkError::BadInput { what: "B", .. })
        ));
    }

    #[test]
    fn ped_5_rejects_identity() {
        let c = consistency(false);
        assert!(matches!(
            verify_consistency(&c.ctx, &c.t, &ProjectivePoint::IDENTITY, &c.r, &c.p),
            Err(ZkError::BadInput { what: "S", .. })
        ));
    }

    #[test]
    fn ped_6_rejects_other_t() {
        let c = consistency(false);
        assert!(matches!(
            verify_consistency(
                &c.ctx,
                &(c.t + ProjectivePoint::GENERATOR),
                &c.s,
                &c.r,
                &c.p
            ),
            Err(ZkError::Equation {
                what: "z1·G + z2·H = A + e·T",
                ..
            })
        ));
    }

    #[test]
    fn ped_7_rejects_s_with_another_sigma() {
        let c = consistency(true);
        assert!(matches!(
            verify_consistency(&c.ctx, &c.t, &c.s, &c.r, &c.p),
            Err(ZkError::Equation {
                what: "z1·R = B + e·S",
                ..
            })
        ));
    }
}
