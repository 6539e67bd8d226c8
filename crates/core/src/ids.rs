//! Party indices, signer indices and session ids.
//!
//! Keygen parties and signers live in different index spaces (tofn `TypedUsize<K>`); the
//! translation happens only in [`SignerSet`].

use std::fmt;

use k256::Scalar;
use serde::{Deserialize, Serialize};

/// A keygen party, `0..n`. Its Shamir evaluation point is `i + 1`, never zero.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct PartyIndex(pub u16);

impl PartyIndex {
    /// The Shamir evaluation point `i + 1` (non-zero and distinct for distinct parties).
    pub fn eval_point(self) -> Scalar {
        Scalar::from(u64::from(self.0) + 1)
    }

    pub fn as_usize(self) -> usize {
        usize::from(self.0)
    }
}

impl fmt::Debug for PartyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "P{}", self.0)
    }
}

impl fmt::Display for PartyIndex {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A position in a signing set, `0..M`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug, Serialize, Deserialize)]
pub struct SignerIndex(pub u16);

impl SignerIndex {
    pub fn as_usize(self) -> usize {
        usize::from(self.0)
    }
}

/// The ordered, duplicate-free set of keygen parties that sign together.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct SignerSet {
    parties: Vec<PartyIndex>,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SignerSetError {
    #[error("signer set has {got} parties, the threshold needs exactly {want}")]
    WrongSize { got: usize, want: usize },
    #[error("party {0} is not a member of the key's {1} parties")]
    OutOfRange(u16, u16),
    #[error("party {0} appears twice in the signer set")]
    Duplicate(u16),
}

impl SignerSet {
    /// Validates and sorts `parties`: exactly `threshold` distinct members of `0..n`.
    pub fn new(
        mut parties: Vec<PartyIndex>,
        threshold: u16,
        n: u16,
    ) -> Result<Self, SignerSetError> {
        if parties.len() != usize::from(threshold) {
            return Err(SignerSetError::WrongSize {
                got: parties.len(),
                want: usize::from(threshold),
            });
        }
        parties.sort();
        for w in parties.windows(2) {
            if let [a, b] = w {
                if a == b {
                    return Err(SignerSetError::Duplicate(a.0));
                }
            }
        }
        if let Some(p) = parties.iter().find(|p| p.0 >= n) {
            return Err(SignerSetError::OutOfRange(p.0, n));
        }
        Ok(Self { parties })
    }

    pub fn len(&self) -> usize {
        self.parties.len()
    }

    pub fn is_empty(&self) -> bool {
        self.parties.is_empty()
    }

    pub fn parties(&self) -> &[PartyIndex] {
        &self.parties
    }

    pub fn party(&self, s: SignerIndex) -> Option<PartyIndex> {
        self.parties.get(s.as_usize()).copied()
    }

    pub fn signer_of(&self, p: PartyIndex) -> Option<SignerIndex> {
        self.parties
            .iter()
            .position(|&q| q == p)
            .and_then(|i| u16::try_from(i).ok())
            .map(SignerIndex)
    }

    pub fn contains(&self, p: PartyIndex) -> bool {
        self.parties.contains(&p)
    }

    /// Lagrange coefficient at zero of `p` within this set: `Π_{j≠p} x_j / (x_j − x_p)`.
    /// `None` if `p` is not in the set.
    pub fn lagrange_at_zero(&self, p: PartyIndex) -> Option<Scalar> {
        if !self.contains(p) {
            return None;
        }
        let xp = p.eval_point();
        let mut num = Scalar::ONE;
        let mut den = Scalar::ONE;
        for &q in &self.parties {
            if q == p {
                continue;
            }
            let xq = q.eval_point();
            num *= xq;
            den *= xq - xp;
        }
        // Distinct evaluation points make `den` non-zero.
        Option::<Scalar>::from(den.invert()).map(|inv| num * inv)
    }
}

/// A 32-byte session identifier, agreed before a protocol starts and never reused.
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SessionId(pub [u8; 32]);

impl SessionId {
    pub fn random(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        let mut b = [0u8; 32];
        rng.fill_bytes(&mut b);
        Self(b)
    }

    /// A sub-session id derived by hashing this id with a label (e.g. one presignature of a batch).
    pub fn derive(&self, label: &[u8]) -> Self {
        let mut t = crate::Transcript::new(b"tessera.session.derive");
        t.append(b"parent", &self.0);
        t.append(b"label", label);
        Self(t.challenge_bytes32(b"sid"))
    }
}

impl fmt::Debug for SessionId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sid:{}", hex::encode(&self.0[..8]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signer_set_rejects_duplicates_range_and_size() {
        let p = |i| PartyIndex(i);
        assert_eq!(
            SignerSet::new(vec![p(0), p(0)], 2, 3),
            Err(SignerSetError::Duplicate(0))
        );
        assert_eq!(
            SignerSet::new(vec![p(0), p(3)], 2, 3),
            Err(SignerSetError::OutOfRange(3, 3))
        );
        assert_eq!(
            SignerSet::new(vec![p(0)], 2, 3),
            Err(SignerSetError::WrongSize { got: 1, want: 2 })
        );
        let s = SignerSet::new(vec![p(2), p(0)], 2, 3).unwrap();
        assert_eq!(s.parties(), &[p(0), p(2)]);
        assert_eq!(s.signer_of(p(2)), Some(SignerIndex(1)));
    }

    #[test]
    fn lagrange_coefficients_interpolate_constant_term() {
        // f(x) = 7 + 3x; shares at x = 1, 3 (parties 0 and 2).
        let s = SignerSet::new(vec![PartyIndex(0), PartyIndex(2)], 2, 3).unwrap();
        let f = |x: Scalar| Scalar::from(7u64) + Scalar::from(3u64) * x;
        let mut acc = Scalar::ZERO;
        for &p in s.parties() {
            acc += s.lagrange_at_zero(p).unwrap() * f(p.eval_point());
        }
        assert_eq!(acc, Scalar::from(7u64));
        assert!(s.lagrange_at_zero(PartyIndex(1)).is_none());
    }
}
