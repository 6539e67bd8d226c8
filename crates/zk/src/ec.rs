//! Shared helpers of the elliptic-curve proofs: hedged nonces and challenges.

use k256::Scalar;
use tessera_core::Transcript;

/// A prover nonce hedged with the witness: `H(ctx ‖ rng ‖ witness ‖ label)`.
pub(crate) fn hedged_nonce(
    ctx: &Transcript,
    rng: &mut impl rand_core::CryptoRngCore,
    witness: &[&Scalar],
    label: &[u8],
) -> Scalar {
    let mut fresh = [0u8; 32];
    rng.fill_bytes(&mut fresh);
    let mut t = ctx.clone();
    t.append(b"hedge.label", label);
    t.append(b"hedge.rng", &fresh);
    for w in witness {
        t.append_scalar(b"hedge.witness", w);
    }
    zeroize::Zeroize::zeroize(&mut fresh);
    t.challenge_scalar(b"hedge.nonce")
}
