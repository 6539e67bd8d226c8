//! Precomputed multiples of a fixed point, for multiplying it by **public** scalars.
//!
//! Online signing multiplies two points that are known well before the request arrives by
//! scalars that are public: the presignature's `R` by the re-randomizer `δ` (a hash of public
//! data), and the public key `Y` by `r/s` when the combined signature is verified. Presigning
//! builds a table of `d·16^k·P` (`d = 1..8`, `k = 0..64`, affine), so that online each product
//! is 65 mixed additions instead of a 256-bit double-and-add.
//!
//! The digit recoding and the table lookups depend on the scalar, so this is **variable time**:
//! never use it with a secret scalar. Every caller passes a value that is public by
//! construction (documented at the call).

use k256::elliptic_curve::group::Group as _;
use k256::elliptic_curve::BatchNormalize;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, ProjectivePoint, Scalar};

/// Signed base-16 digits need 65 positions for a 256-bit scalar (the last one takes the carry).
const ROWS: usize = 65;
/// Digits are in `-8..=7`; a row holds `1·P_k … 8·P_k` and negatives are taken on the fly.
const PER_ROW: usize = 8;

/// `d·16^k·P` for `d = 1..=8`, `k = 0..65`.
#[derive(Clone)]
pub(crate) struct PointTable {
    rows: Vec<[AffinePoint; PER_ROW]>,
}

impl std::fmt::Debug for PointTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PointTable({} rows)", self.rows.len())
    }
}

impl PointTable {
    /// Builds the table for `p` (about 260 doublings and 460 additions, one field inversion).
    pub fn new(p: &ProjectivePoint) -> Self {
        if bool::from(p.is_identity()) {
            // Every multiple is the identity (and batch normalisation cannot invert z = 0).
            return Self {
                rows: vec![[AffinePoint::IDENTITY; PER_ROW]; ROWS],
            };
        }
        // d·16^k·P is never the identity for 1 ≤ d ≤ 8: the group order q is a prime above 8 and
        // 16^k is a unit mod q.
        let mut projective = Vec::with_capacity(ROWS * PER_ROW);
        let mut base = *p;
        for _ in 0..ROWS {
            let mut acc = base;
            projective.push(acc);
            for _ in 1..PER_ROW {
                acc += base;
                projective.push(acc);
            }
            // base ← 16·base
            for _ in 0..4 {
                base = base.double();
            }
        }
        let affine: Vec<AffinePoint> =
            <ProjectivePoint as BatchNormalize<[ProjectivePoint]>>::batch_normalize(
                projective.as_slice(),
            );
        let rows = affine
            .chunks_exact(PER_ROW)
            .map(|c| {
                let mut row = [AffinePoint::IDENTITY; PER_ROW];
                row.copy_from_slice(c);
                row
            })
            .collect();
        Self { rows }
    }

    /// `s·P` for a **public** `s` (variable time).
    pub fn mul_public(&self, s: &Scalar) -> ProjectivePoint {
        let mut acc = ProjectivePoint::IDENTITY;
        for (row, d) in self.rows.iter().zip(signed_digits(s)) {
            let idx = usize::from(d.unsigned_abs());
            if idx == 0 {
                continue;
            }
            if let Some(q) = row.get(idx - 1) {
                if d < 0 {
                    acc += -*q;
                } else {
                    acc += q;
                }
            }
        }
        acc
    }
}

/// `s = Σ_k d_k·16^k` with `d_k ∈ -8..=7` (the last digit absorbs the final carry).
fn signed_digits(s: &Scalar) -> [i8; ROWS] {
    let bytes = s.to_repr(); // big-endian
    let mut out = [0i8; ROWS];
    let mut carry = 0i8;
    for (k, slot) in out.iter_mut().enumerate().take(ROWS - 1) {
        let byte = bytes.get(31 - k / 2).copied().unwrap_or(0);
        let nibble = if k % 2 == 0 { byte & 0x0f } else { byte >> 4 };
        // nibble ≤ 15 and carry ≤ 1, so this fits in i8.
        let v = i8::try_from(nibble).unwrap_or(0) + carry;
        if v >= 8 {
            *slot = v - 16;
            carry = 1;
        } else {
            *slot = v;
            carry = 0;
        }
    }
    if let Some(last) = out.last_mut() {
        *last = carry;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use k256::elliptic_curve::ops::MulByGenerator as _;
    use k256::elliptic_curve::Field;
    use rand_chacha::ChaCha20Rng;
    use rand_core::SeedableRng;

    #[test]
    fn matches_double_and_add_for_random_and_edge_scalars() {
        let mut rng = ChaCha20Rng::seed_from_u64(3);
        let p = ProjectivePoint::mul_by_generator(&Scalar::random(&mut rng));
        let t = PointTable::new(&p);
        let mut scalars = vec![
            Scalar::ZERO,
            Scalar::ONE,
            -Scalar::ONE,
            Scalar::from(8u64),
            Scalar::from(0x88u64),
            Scalar::from(u64::MAX),
            -Scalar::from(8u64),
        ];
        scalars.extend((0..50).map(|_| Scalar::random(&mut rng)));
        for s in scalars {
            assert_eq!(t.mul_public(&s), p * s, "scalar {s:?}");
        }
    }

    #[test]
    fn the_identity_and_the_generator() {
        let t = PointTable::new(&ProjectivePoint::IDENTITY);
        assert_eq!(
            t.mul_public(&Scalar::from(12345u64)),
            ProjectivePoint::IDENTITY
        );
        let g = PointTable::new(&ProjectivePoint::GENERATOR);
        let s = Scalar::from(987654321u64);
        assert_eq!(g.mul_public(&s), ProjectivePoint::mul_by_generator(&s));
    }
}
