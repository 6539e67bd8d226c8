#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod btc;
mod ecdsa;
pub mod eth;
pub mod sol;

pub use ecdsa::EcdsaSignature;

/// What a signature must be: decides which network protocol signs a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    /// Threshold ECDSA over secp256k1: signs a 32-byte digest.
    EcdsaSecp256k1,
    /// BIP340 Schnorr over secp256k1 (FROST `secp256k1-tr`): signs a 32-byte digest under the
    /// BIP341-tweaked output key.
    Bip340,
    /// Ed25519 (FROST `ed25519`): signs the message bytes themselves.
    Ed25519,
}

impl Scheme {
    /// The scheme of a ledger key type (`KeyView::key_type`): exactly the ledger's names.
    pub fn from_key_type(key_type: &str) -> Result<Scheme, Error> {
        match key_type {
            "ecdsa-secp256k1" => Ok(Scheme::EcdsaSecp256k1),
            "schnorr-bip340" => Ok(Scheme::Bip340),
            "eddsa-ed25519" => Ok(Scheme::Ed25519),
            other => Err(Error::UnsupportedKeyType(other.to_string())),
        }
    }
}

/// Why an adapter refused its input or a signature.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid public key: {0}")]
    PublicKey(String),
    #[error("key type {0:?} is not supported here")]
    UnsupportedKeyType(String),
    #[error("invalid transaction: {0}")]
    Transaction(String),
    #[error("invalid PSBT: {0}")]
    Psbt(String),
    #[error("invalid Solana message: {0}")]
    SolanaMessage(String),
    #[error("invalid signature: {0}")]
    Signature(String),
    #[error("{0}")]
    KeyNotSigner(String),
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The ledger's key type names, and nothing else.
    #[test]
    fn key_types_are_the_ledgers_names() {
        assert_eq!(
            Scheme::from_key_type("ecdsa-secp256k1").ok(),
            Some(Scheme::EcdsaSecp256k1)
        );
        assert_eq!(
            Scheme::from_key_type("schnorr-bip340").ok(),
            Some(Scheme::Bip340)
        );
        assert_eq!(
            Scheme::from_key_type("eddsa-ed25519").ok(),
            Some(Scheme::Ed25519)
        );
        for other in ["ed25519", "bip340-secp256k1", "ECDSA-secp256k1", ""] {
            assert!(Scheme::from_key_type(other).is_err(), "{other:?}");
        }
    }
}
