//! BIP32 non-hardened derivation for threshold keys.
//!
//! A threshold key has no private key anywhere, so only **public** (non-hardened) derivation is
//! possible: from the master extended public key — the group key `Y` and the chain code agreed
//! during key generation (commit–reveal, XOR of every party's contribution, see
//! [`crate::keygen`]) — each step `i < 2^31` computes `I = HMAC-SHA512(c, ser_P(K) ‖ ser_32(i))`,
//! the child key `K + I_L·G` and chain code `I_R`. The signing key for a path is `x + ε` with the
//! public tweak `ε = Σ I_L` over the path; signers pass `ε` as [`crate::SignRequest::tweak`]
//! (the presignature is re-randomized at signing time, so presignatures made before the path was
//! known stay safe: SECURITY-CHECKLIST "Presignatures with raw digests and derived keys").
//!
//! The HMAC step, the child-key arithmetic and the `xpub` serialisation (mainnet version bytes
//! `0488B21E`, Base58Check) come from the `bip32` crate (RustCrypto's k256 backend); this module
//! adds the accumulated tweak, rejects hardened steps with a clear error, and cross-checks
//! `Y + ε·G` against the derived key.

use std::str::FromStr;

use bip32::{ChildNumber, DerivationPath, ExtendedKeyAttrs, Prefix, PublicKey as _, XPub};
use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::elliptic_curve::PrimeField;
use k256::{ProjectivePoint, Scalar};

/// Why a derivation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HdError {
    #[error("derivation path {0:?} is not of the form m/i/j/… with decimal indices")]
    InvalidPath(String),
    #[error("step {0} of the path is hardened: a threshold key has no private key to derive it from; use non-hardened indices below 2^31")]
    Hardened(usize),
    #[error("the group public key is not a valid curve point")]
    InvalidKey,
    #[error("BIP32 derivation failed at step {0} (an index whose tweak is ≥ n or yields the identity, probability < 2^-127): use another index")]
    Derivation(usize),
    #[error("internal error: derived key disagrees with Y + ε·G")]
    Inconsistent,
}

/// The result of deriving a path.
#[derive(Clone, Debug)]
pub struct Derived {
    /// `ε = Σ I_L`: sign with [`crate::SignRequest::tweak`] set to this.
    pub tweak: Scalar,
    /// The child public key `Y + ε·G`.
    pub public_key: ProjectivePoint,
    /// The child's extended public key.
    pub xpub: XPub,
}

impl Derived {
    /// The child's extended public key in BIP32 serialisation (mainnet `xpub…`).
    pub fn xpub_string(&self) -> String {
        self.xpub.to_string(Prefix::XPUB)
    }
}

/// The master extended public key (depth 0, no parent) of a group key and its chain code.
pub fn master_xpub(public_key: &ProjectivePoint, chain_code: [u8; 32]) -> Result<XPub, HdError> {
    let vk = k256::ecdsa::VerifyingKey::from_affine(public_key.to_affine())
        .map_err(|_| HdError::InvalidKey)?;
    Ok(XPub::new(
        vk,
        ExtendedKeyAttrs {
            depth: 0,
            parent_fingerprint: [0; 4],
            child_number: ChildNumber(0),
            chain_code,
        },
    ))
}

/// Parses a path such as `m/0/7` and refuses hardened steps.
pub fn parse_path(path: &str) -> Result<DerivationPath, HdError> {
    let parsed =
        DerivationPath::from_str(path).map_err(|_| HdError::InvalidPath(path.to_string()))?;
    if let Some(step) = parsed.iter().position(|c| c.is_hardened()) {
        return Err(HdError::Hardened(step + 1));
    }
    Ok(parsed)
}

/// Derives `path` (e.g. `m/0/7`; `m` alone is the master key) from `master`, non-hardened only.
pub fn derive(master: &XPub, path: &str) -> Result<Derived, HdError> {
    let parsed = parse_path(path)?;
    let mut xpub = master.clone();
    let mut tweak = Scalar::ZERO;
    for (step, child) in parsed.iter().enumerate() {
        let (il, _) = xpub
            .public_key()
            .derive_tweak(&xpub.attrs().chain_code, child)
            .map_err(|_| HdError::Derivation(step + 1))?;
        let il: Option<Scalar> = Scalar::from_repr(il.into()).into();
        tweak += il.ok_or(HdError::Derivation(step + 1))?;
        xpub = xpub
            .derive_child(child)
            .map_err(|_| HdError::Derivation(step + 1))?;
    }
    let master_point = ProjectivePoint::from(*master.public_key().as_affine());
    let public_key = master_point + ProjectivePoint::mul_by_generator(&tweak);
    if ProjectivePoint::from(*xpub.public_key().as_affine()) != public_key {
        return Err(HdError::Inconsistent);
    }
    Ok(Derived {
        tweak,
        public_key,
        xpub,
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
mod tests {
    use super::*;

    fn xpub(s: &str) -> XPub {
        s.parse().unwrap()
    }

    fn point(x: &XPub) -> ProjectivePoint {
        ProjectivePoint::from(*x.public_key().as_affine())
    }

    /// BIP32 test vectors 1 and 2 (bitcoin/bips bip-0032.mediawiki): every non-hardened step,
    /// derived from the parent's xpub, must give the published child xpub (key, chain code,
    /// depth, parent fingerprint, child number: the whole serialisation).
    #[test]
    fn matches_bip32_test_vectors_for_public_derivation() {
        let cases = [
            // Vector 1: m/0H → m/0H/1
            (
                "xpub68Gmy5EdvgibQVfPdqkBBCHxA5htiqg55crXYuXoQRKfDBFA1WEjWgP6LHhwBZeNK1VTsfTFUHCdrfp1bgwQ9xv5ski8PX9rL2dZXvgGDnw",
                "m/1",
                "xpub6ASuArnXKPbfEwhqN6e3mwBcDTgzisQN1wXN9BJcM47sSikHjJf3UFHKkNAWbWMiGj7Wf5uMash7SyYq527Hqck2AxYysAA7xmALppuCkwQ",
            ),
            // Vector 1: m/0H/1/2H → m/0H/1/2H/2 → m/0H/1/2H/2/1000000000
            (
                "xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5",
                "m/2",
                "xpub6FHa3pjLCk84BayeJxFW2SP4XRrFd1JYnxeLeU8EqN3vDfZmbqBqaGJAyiLjTAwm6ZLRQUMv1ZACTj37sR62cfN7fe5JnJ7dh8zL4fiyLHV",
            ),
            (
                "xpub6D4BDPcP2GT577Vvch3R8wDkScZWzQzMMUm3PWbmWvVJrZwQY4VUNgqFJPMM3No2dFDFGTsxxpG5uJh7n7epu4trkrX7x7DogT5Uv6fcLW5",
                "m/2/1000000000",
                "xpub6H1LXWLaKsWFhvm6RVpEL9P4KfRZSW7abD2ttkWP3SSQvnyA8FSVqNTEcYFgJS2UaFcxupHiYkro49S8yGasTvXEYBVPamhGW6cFJodrTHy",
            ),
            // Vector 2: m → m/0
            (
                "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB",
                "m/0",
                "xpub69H7F5d8KSRgmmdJg2KhpAK8SR3DjMwAdkxj3ZuxV27CprR9LgpeyGmXUbC6wb7ERfvrnKZjXoUmmDznezpbZb7ap6r1D3tgFxHmwMkQTPH",
            ),
        ];
        for (parent, path, child) in cases {
            let d = derive(&xpub(parent), path).unwrap();
            assert_eq!(d.xpub_string(), child, "{path} from {parent}");
            assert_eq!(d.public_key, point(&xpub(child)));
            assert_eq!(
                d.public_key,
                point(&xpub(parent)) + ProjectivePoint::mul_by_generator(&d.tweak)
            );
        }
    }

    #[test]
    fn master_xpub_serialises_like_bip32() {
        // Vector 2's master: rebuild it from its key and chain code.
        let s = "xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB";
        let x = xpub(s);
        let rebuilt = master_xpub(&point(&x), x.attrs().chain_code).unwrap();
        assert_eq!(rebuilt.to_string(Prefix::XPUB), s);
        let m = derive(&rebuilt, "m").unwrap();
        assert_eq!(m.tweak, Scalar::ZERO);
        assert_eq!(m.xpub_string(), s);
    }

    #[test]
    fn hardened_and_malformed_paths_are_clear_errors() {
        let x = xpub("xpub661MyMwAqRbcFW31YEwpkMuc5THy2PSt5bDMsktWQcFF8syAmRUapSCGu8ED9W6oDMSgv6Zz8idoc4a6mr8BDzTJY47LJhkJ8UB7WEGuduB");
        assert_eq!(derive(&x, "m/0/1'").unwrap_err(), HdError::Hardened(2));
        assert!(derive(&x, "m/2147483648").is_err());
        for bad in ["", "0/1", "m/x", "m//1", "m/-1"] {
            assert!(
                matches!(derive(&x, bad), Err(HdError::InvalidPath(_))),
                "{bad:?}"
            );
        }
    }
}
