//! Schnorr proof of knowledge of `x` with `X = x·G`.
//!
//! Used for the final key shares (keygen round 4, GG20 Phase 3) and for `γ_i` (presign
//! round 4). The challenge hashes the caller's context (protocol, session, prover — so another
//! party cannot replay the proof, CVE-2022-47930), `X` and the commitment `A`.
//!
//! Checks: `[schnorr.1]` `A` decodes to a non-identity point, `z` is canonical;
//! `[schnorr.2]` `X` is not the identity; `[schnorr.3]` `z·G = A + e·X`.

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use serde::{Deserialize, Serialize};
use tessera_core::point::{WirePoint, WireScalar};
use tessera_core::Transcript;

use crate::ec::hedged_nonce;
use crate::{Verified, ZkError};

const PROOF: &str = "schnorr";

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Proof {
    pub a: WirePoint,
    pub z: WireScalar,
}

fn challenge(ctx: &Transcript, x: &ProjectivePoint, a: &ProjectivePoint) -> Scalar {
    let mut t = ctx.clone();
    t.append(b"proof", b"tessera.zk.schnorr.v1");
    t.append_point(b"X", x);
    t.append_point(b"A", a);
    t.challenge_scalar(b"e")
}

pub fn prove(
    ctx: &Transcript,
    x: &Scalar,
    big_x: &ProjectivePoint,
    rng: &mut impl rand_core::CryptoRngCore,
) -> Proof {
    let r = hedged_nonce(ctx, rng, &[x], b"schnorr");
    let a = ProjectivePoint::mul_by_generator(&r);
    let e = challenge(ctx, big_x, &a);
    Proof {
        a: WirePoint::encode(&a),
        z: WireScalar::encode(&(r + e * x)),
    }
}

pub fn verify(
    ctx: &Transcript,
    big_x: &ProjectivePoint,
    proof: &Proof,
) -> Result<Verified, ZkError> {
    let bad = |what| ZkError::BadInput { proof: PROOF, what };
    let a = proof.a.decode().ok_or(bad("A"))?; // [schnorr.1]
    let z = proof.z.decode().ok_or(bad("z"))?; // [schnorr.1]
    if *big_x == ProjectivePoint::IDENTITY {
        return Err(bad("X")); // [schnorr.2]
    }
    let e = challenge(ctx, big_x, &a);
    if ProjectivePoint::mul_by_generator(&z) != a + *big_x * e {
        return Err(ZkError::Equation {
            proof: PROOF,
            what: "z·G = A + e·X",
        }); // [schnorr.3]
    }
    Ok(Verified::new())
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::Field;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    fn setup() -> (Transcript, Scalar, ProjectivePoint, Proof) {
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let mut ctx = Transcript::new(b"test");
        ctx.append(b"sid", b"1").append(b"prover", b"0");
        let x = Scalar::random(&mut rng);
        let big_x = ProjectivePoint::mul_by_generator(&x);
        let p = prove(&ctx, &x, &big_x, &mut rng);
        (ctx, x, big_x, p)
    }

    #[test]
    fn passes() {
        let (ctx, _, big_x, p) = setup();
        let _ = verify(&ctx, &big_x, &p).unwrap();
        let json = serde_json::to_string(&p).unwrap();
        let back: Proof = serde_json::from_str(&json).unwrap();
        let _ = verify(&ctx, &big_x, &back).unwrap();
    }

    #[test]
    fn schnorr_1_rejects_bad_encodings() {
        let (ctx, _, big_x, mut p) = setup();
        p.a = WirePoint([0; 33]);
        assert_eq!(
            verify(&ctx, &big_x, &p),
            Err(ZkError::BadInput {
                proof: PROOF,
                what: "A"
            })
        );
        let (ctx, _, big_x, mut p) = setup();
        p.z = WireScalar([0xff; 32]);
        assert_eq!(
            verify(&ctx, &big_x, &p),
            Err(ZkError::BadInput {
                proof: PROOF,
                what: "z"
            })
        );
    }

    #[test]
    fn schnorr_2_rejects_identity_statement() {
        let (ctx, _, _, p) = setup();
        assert!(matches!(
            verify(&ctx, &ProjectivePoint::IDENTITY, &p),
            Err(ZkError::BadInput { what: "X", .. })
        ));
    }

    #[test]
    fn schnorr_3_rejects_wrong_statement_tampering_and_replay() {
        let (ctx, _, big_x, p) = setup();
        let other = big_x + ProjectivePoint::GENERATOR;
        assert!(matches!(
            verify(&ctx, &other, &p),
            Err(ZkError::Equation { .. })
        ));
        let mut t = p.clone();
        t.z = WireScalar::encode(&(t.z.decode().unwrap() + Scalar::ONE));
        assert!(matches!(
            verify(&ctx, &big_x, &t),
            Err(ZkError::Equation { .. })
        ));
        // Replay under another prover's context.
        let mut ctx2 = Transcript::new(b"test");
        ctx2.append(b"sid", b"1").append(b"prover", b"1");
        assert!(matches!(
            verify(&ctx2, &big_x, &p),
            Err(ZkError::Equation { .. })
        ));
    }
}
