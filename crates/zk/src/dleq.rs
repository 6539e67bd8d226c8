//! Chaum–Pedersen proof that `log_G A = log_B C` for public bases `G`, `B`.
//!
//! Used in GG20 type-7 identification: `log_G(σ̂_i·G) = log_R(S_i)`.
//!
//! Checks: `[dleq.1]` `U`, `V` decode to non-identity points, `z` is canonical;
//! `[dleq.2]` bases and statement points are not the identity; `[dleq.3]` `z·G = U + e·A`;
//! `[dleq.4]` `z·B = V + e·C`.

use k256::{ProjectivePoint, Scalar};
use serde::{Deserialize, Serialize};
use tessera_core::point::{WirePoint, WireScalar};
use tessera_core::Transcript;

use crate::ec::hedged_nonce;
use crate::{Verified, ZkError};

const PROOF: &str = "dleq";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proof {
    pub u: WirePoint,
    pub v: WirePoint,
    pub z: WireScalar,
}

fn challenge(ctx: &Transcript, pts: [&ProjectivePoint; 6]) -> Scalar {
    let mut t = ctx.clone();
    t.append(b"proof", b"tessera.zk.dleq.v1");
    for (label, p) in [b"G", b"A", b"B", b"C", b"U", b"V"].iter().zip(pts) {
        t.append_point(*label, p);
    }
    t.challenge_scalar(b"e")
}

pub fn prove(
    ctx: &Transcript,
    g: &ProjectivePoint,
    a: &ProjectivePoint,
    b: &ProjectivePoint,
    c: &ProjectivePoint,
    x: &Scalar,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Proof {
    let r = hedged_nonce(ctx, rng, &[x], b"dleq");
    let u = *g * r;
    let v = *b * r;
    let e = challenge(ctx, [g, a, b, c, &u, &v]);
    Proof {
        u: WirePoint::encode(&u),
        v: WirePoint::encode(&v),
        z: WireScalar::encode(&(r + e * x)),
    }
}

pub fn verify(
    ctx: &Transcript,
    g: &ProjectivePoint,
    a: &ProjectivePoint,
    b: &ProjectivePoint,
    c: &ProjectivePoint,
    proof: &Proof,
) -> Result<Verified, ZkError> {
    let bad = |what| ZkError::BadInput { proof: PROOF, what };
    let u = proof.u.decode().ok_or(bad("U"))?; // [dleq.1]
    let v = proof.v.decode().ok_or(bad("V"))?;
    let z = proof.z.decode().ok_or(bad("z"))?;
    for (p, what) in [(g, "G"), (a, "A"), (b, "B"), (c, "C")] {
        if *p == ProjectivePoint::IDENTITY {
            return Err(bad(what)); // [dleq.2]
        }
    }
    let e = challenge(ctx, [g, a, b, c, &u, &v]);
    if *g * z != u + *a * e {
        return Err(ZkError::Equation {
            proof: PROOF,
            what: "z·G = U + e·A",
        }); // [dleq.3]
    }
    if *b * z != v + *c * e {
        return Err(ZkError::Equation {
            proof: PROOF,
            what: "z·B = V + e·C",
        }); // [dleq.4]
    }
    Ok(Verified::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::ops::MulByGenerator as _;
    use k256::elliptic_curve::Field;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    struct Case {
        ctx: Transcript,
        g: ProjectivePoint,
        a: ProjectivePoint,
        b: ProjectivePoint,
        c: ProjectivePoint,
        p: Proof,
    }

    fn setup() -> Case {
        let mut rng = ChaCha20Rng::seed_from_u64(2);
        let ctx = Transcript::new(b"dleq-test");
        let x = Scalar::random(&mut rng);
        let g = ProjectivePoint::GENERATOR;
        let b = ProjectivePoint::mul_by_generator(&Scalar::random(&mut rng));
        let (a, c) = (g * x, b * x);
        let p = prove(&ctx, &g, &a, &b, &c, &x, &mut rng);
        Case { ctx, g, a, b, c, p }
    }

    #[test]
    fn passes() {
        let k = setup();
        let _ = verify(&k.ctx, &k.g, &k.a, &k.b, &k.c, &k.p).unwrap();
    }

    #[test]
    fn dleq_1_rejects_bad_encodings() {
        let mut k = setup();
        k.p.u = WirePoint([0; 33]);
        assert!(matches!(
            verify(&k.ctx, &k.g, &k.a, &k.b, &k.c, &k.p),
            Err(ZkError::BadInput { what: "U", .. })
        ));
        let mut k = setup();
        k.p.z = WireScalar([0xff; 32]);
        assert!(matches!(
            verify(&k.ctx, &k.g, &k.a, &k.b, &k.c, &k.p),
            Err(ZkError::BadInput { what: "z", .. })
        ));
    }

    #[test]
    fn dleq_2_rejects_identity() {
        let k = setup();
        let o = ProjectivePoint::IDENTITY;
        assert!(matches!(
            verify(&k.ctx, &k.g, &k.a, &o, &k.c, &k.p),
            Err(ZkError::BadInput { what: "B", .. })
        ));
    }

    #[test]
    fn dleq_3_and_4_reject_unequal_logs() {
        let k = setup();
        let a2 = k.a + ProjectivePoint::GENERATOR;
        assert!(matches!(
            verify(&k.ctx, &k.g, &a2, &k.b, &k.c, &k.p),
            Err(ZkError::Equation {
                what: "z·G = U + e·A",
                ..
            })
        ));
        // A prover whose C has a different log than A: the second equation fails.
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let x = Scalar::random(&mut rng);
        let a = k.g * x;
        let c = k.b * (x + Scalar::ONE);
        let p = prove(&k.ctx, &k.g, &a, &k.b, &c, &x, &mut rng);
        assert!(matches!(
            verify(&k.ctx, &k.g, &a, &k.b, &c, &p),
            Err(ZkError::Equation {
                what: "z·B = V + e·C",
                ..
            })
        ));
    }
}
