//! Validated decoding of curve points and scalars received from peers.
//!
//! Every point is decoded from its 33-byte compressed SEC1 form (on the curve by construction;
//! secp256k1 has cofactor 1, so on-curve means in the prime-order group) and rejected if it is
//! the identity. Every scalar is 32 big-endian bytes and must be `< q`.

use k256::elliptic_curve::group::GroupEncoding;
use k256::elliptic_curve::PrimeField;
use k256::{AffinePoint, ProjectivePoint, Scalar};
use serde::{Deserialize, Serialize};

/// A compressed point as it travels on the wire. Decode with [`WirePoint::decode`].
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WirePoint(#[serde(with = "serde_bytes33")] pub [u8; 33]);

/// A scalar as it travels on the wire. Decode with [`WireScalar::decode`].
#[derive(Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireScalar(pub [u8; 32]);

impl std::fmt::Debug for WirePoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "WirePoint({})", hex::encode(self.0))
    }
}

impl std::fmt::Debug for WireScalar {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Wire scalars may be secret (revealed only in identification paths): never print them.
        f.write_str("WireScalar(<redacted>)")
    }
}

impl WirePoint {
    pub fn encode(p: &ProjectivePoint) -> Self {
        let mut out = [0u8; 33];
        out.copy_from_slice(&p.to_affine().to_bytes()[..]);
        Self(out)
    }

    /// The point, if it is a valid, non-identity curve point.
    pub fn decode(&self) -> Option<ProjectivePoint> {
        let arr = k256::CompressedPoint::from(self.0);
        let p: Option<AffinePoint> = AffinePoint::from_bytes(&arr).into();
        let p = ProjectivePoint::from(p?);
        if p == ProjectivePoint::IDENTITY {
            None
        } else {
            Some(p)
        }
    }
}

impl WireScalar {
    pub fn encode(s: &Scalar) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(&s.to_repr());
        Self(out)
    }

    /// The scalar, if the bytes are a canonical encoding (`< q`).
    pub fn decode(&self) -> Option<Scalar> {
        Scalar::from_repr(self.0.into()).into()
    }
}

mod serde_bytes33 {
    use serde::de::{Error, SeqAccess, Visitor};
    use serde::{Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8; 33], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(b)
    }

    struct V;

    impl<'de> Visitor<'de> for V {
        type Value = [u8; 33];

        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("33 bytes")
        }

        fn visit_bytes<E: Error>(self, v: &[u8]) -> Result<[u8; 33], E> {
            <[u8; 33]>::try_from(v).map_err(|_| E::invalid_length(v.len(), &self))
        }

        fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<[u8; 33], A::Error> {
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

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 33], D::Error> {
        d.deserialize_bytes(V)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_and_garbage_are_rejected() {
        assert!(WirePoint([0u8; 33]).decode().is_none());
        let mut b = [0xffu8; 33];
        b[0] = 2;
        assert!(WirePoint(b).decode().is_none());
        let g = WirePoint::encode(&ProjectivePoint::GENERATOR);
        assert_eq!(g.decode(), Some(ProjectivePoint::GENERATOR));
        assert!(WireScalar([0xff; 32]).decode().is_none());
        assert_eq!(WireScalar::encode(&Scalar::ONE).decode(), Some(Scalar::ONE));
    }
}
