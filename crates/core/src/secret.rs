//! Secret scalars: zeroized on drop, never printed, compared in constant time.

use k256::Scalar;
use subtle::ConstantTimeEq;
use zeroize::{Zeroize, ZeroizeOnDrop};

/// A secret scalar (a key share, a nonce share, a mask).
///
/// Not `Clone`: a copy is an explicit [`SecretScalar::expose`] at the point of use.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct SecretScalar(Scalar);

impl SecretScalar {
    pub fn new(s: Scalar) -> Self {
        Self(s)
    }

    pub fn random(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Self(<Scalar as k256::elliptic_curve::Field>::random(rng))
    }

    /// The value, for arithmetic. Callers keep the copy on the stack only as long as needed.
    pub fn expose(&self) -> &Scalar {
        &self.0
    }
}

impl std::fmt::Debug for SecretScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretScalar(<redacted>)")
    }
}

impl PartialEq for SecretScalar {
    fn eq(&self, other: &Self) -> bool {
        self.0.ct_eq(&other.0).into()
    }
}

impl Eq for SecretScalar {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let s = SecretScalar::new(Scalar::from(42u64));
        assert_eq!(format!("{s:?}"), "SecretScalar(<redacted>)");
    }
}
