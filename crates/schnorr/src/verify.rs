//! Verification of a finished signature from public data only, for the parties that hold no
//! share: the ledger (before it accepts a posted signature), clients and tests.
//!
//! Keys are in the chain's encoding ([`Suite::public_key_bytes`]): 32 bytes for Ed25519, the
//! 32-byte x-only BIP341 output key for BIP340. Signatures are 64 bytes.

use frost_core::{Signature as FrostSignature, VerifyingKey};

use crate::{Bip340, Ed25519, Suite};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("unknown key type {0:?}")]
    UnknownKeyType(String),
    #[error("public key is not a valid {0} key")]
    PublicKey(&'static str),
    #[error("signature does not decode")]
    Malformed,
    #[error("message is not acceptable for {0}: {1}")]
    Message(&'static str, String),
    #[error("signature is not valid for the message under the key")]
    Invalid,
}

/// The key types this crate signs for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    Ed25519,
    Bip340,
}

impl KeyType {
    /// The ledger's name, or `None` for a key type this crate does not handle.
    pub fn from_name(name: &str) -> Option<KeyType> {
        match name {
            n if n == Ed25519::KEY_TYPE => Some(KeyType::Ed25519),
            n if n == Bip340::KEY_TYPE => Some(KeyType::Bip340),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            KeyType::Ed25519 => Ed25519::KEY_TYPE,
            KeyType::Bip340 => Bip340::KEY_TYPE,
        }
    }

    /// Checks that `bytes` is a public key of this type in the chain's encoding.
    pub fn check_public_key(self, bytes: &[u8]) -> Result<(), VerifyError> {
        match self {
            KeyType::Ed25519 => parse_key::<Ed25519>(bytes).map(|_| ()),
            KeyType::Bip340 => parse_key::<Bip340>(bytes).map(|_| ()),
        }
    }

    /// Checks that `message` may be signed with this key type.
    pub fn check_message(self, message: &[u8]) -> Result<(), VerifyError> {
        let r = match self {
            KeyType::Ed25519 => Ed25519::check_message(message),
            KeyType::Bip340 => Bip340::check_message(message),
        };
        r.map_err(|e| VerifyError::Message(self.name(), e.to_string()))
    }

    /// Verifies a 64-byte signature on `message` under `public_key`.
    pub fn verify(
        self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), VerifyError> {
        self.check_message(message)?;
        match self {
            KeyType::Ed25519 => verify::<Ed25519>(public_key, message, signature),
            KeyType::Bip340 => verify::<Bip340>(public_key, message, signature),
        }
    }
}

/// Ed25519 keys are frost's encoding; a BIP340 x-only key is the even-y point `0x02 ‖ x`.
fn parse_key<C: Suite>(bytes: &[u8]) -> Result<VerifyingKey<C>, VerifyError> {
    let bad = || VerifyError::PublicKey(C::KEY_TYPE);
    if bytes.len() != 32 {
        return Err(bad());
    }
    let key = match VerifyingKey::<C>::deserialize(bytes) {
        Ok(k) => k,
        Err(_) => {
            let mut sec1 = Vec::with_capacity(33);
            sec1.push(0x02);
            sec1.extend_from_slice(bytes);
            VerifyingKey::<C>::deserialize(&sec1).map_err(|_| bad())?
        }
    };
    // The key must round-trip to exactly these bytes (no second encoding of one key).
    if C::public_key_bytes(&key).map_err(|_| bad())? != bytes {
        return Err(bad());
    }
    Ok(key)
}

fn verify<C: Suite>(
    public_key: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    let key = parse_key::<C>(public_key)?;
    if signature.len() != 64 {
        return Err(VerifyError::Malformed);
    }
    let sig = FrostSignature::<C>::deserialize(signature).map_err(|_| VerifyError::Malformed)?;
    key.verify(message, &sig).map_err(|_| VerifyError::Invalid)
}
