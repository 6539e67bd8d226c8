//! The two ciphersuites and what differs between them: key-type name, message rules, public key
//! encoding and the BIP341 post-processing of the DKG output.

use std::collections::BTreeMap;

use frost_core::keys::PublicKeyPackage;
use frost_core::{Ciphersuite, VerifyingKey};
use tessera_core::ProtocolError;

/// FROST(Ed25519, SHA-512): signatures are RFC 8032 Ed25519 signatures.
pub type Ed25519 = frost_ed25519::Ed25519Sha512;

/// FROST(secp256k1, SHA-256) with BIP340 challenges: signatures are BIP340 Schnorr signatures.
pub type Bip340 = frost_secp256k1_tr::Secp256K1Sha256TR;

/// A FROST ciphersuite Tessera offers as a key type.
pub trait Suite: Ciphersuite + Send + Sync + 'static {
    /// The ledger's key-type name.
    const KEY_TYPE: &'static str;
    /// The suite's byte in a stored key share.
    const STORAGE_TAG: u8;

    /// Rejects messages this key type must not sign.
    fn check_message(message: &[u8]) -> Result<(), ProtocolError>;

    /// The group key as the chain sees it: the 32-byte Ed25519 public key, or the 32-byte
    /// x-only BIP340 output key.
    fn public_key_bytes(key: &VerifyingKey<Self>) -> Result<Vec<u8>, ProtocolError>;

    /// The group key frost's DKG returns for the internal key `internal` (the sum of the
    /// dealers' constant-term commitments): the key itself, or its BIP341 output key.
    fn output_key(internal: &VerifyingKey<Self>) -> VerifyingKey<Self>;

    /// The one encoding of the internal key a share stores: itself, or for BIP340 (x-only keys)
    /// the point with even y, so that `P` and `−P` are not two encodings of one key.
    fn canonical_internal_key(internal: &VerifyingKey<Self>) -> VerifyingKey<Self>;
}

fn serialize_key<C: Ciphersuite>(key: &VerifyingKey<C>) -> Result<Vec<u8>, ProtocolError> {
    key.serialize()
        .map_err(|e| ProtocolError::Bug(format!("group key does not serialise: {e}")))
}

impl Suite for Ed25519 {
    const KEY_TYPE: &'static str = "eddsa-ed25519";
    const STORAGE_TAG: u8 = 1;

    /// Ed25519 signs the raw message (Solana signs the serialised transaction message).
    fn check_message(message: &[u8]) -> Result<(), ProtocolError> {
        if message.len() > crate::common::MAX_MESSAGE_LEN {
            return Err(ProtocolError::InvalidInput(format!(
                "message of {} bytes exceeds {} bytes",
                message.len(),
                crate::common::MAX_MESSAGE_LEN
            )));
        }
        Ok(())
    }

    fn public_key_bytes(key: &VerifyingKey<Self>) -> Result<Vec<u8>, ProtocolError> {
        serialize_key(key)
    }

    fn output_key(internal: &VerifyingKey<Self>) -> VerifyingKey<Self> {
        *internal
    }

    fn canonical_internal_key(internal: &VerifyingKey<Self>) -> VerifyingKey<Self> {
        *internal
    }
}

impl Suite for Bip340 {
    const KEY_TYPE: &'static str = "schnorr-bip340";
    const STORAGE_TAG: u8 = 2;

    /// BIP340 signs a 32-byte message: a BIP341 sighash.
    fn check_message(message: &[u8]) -> Result<(), ProtocolError> {
        if message.len() != 32 {
            return Err(ProtocolError::InvalidInput(format!(
                "a BIP340 message is a 32-byte sighash, got {} bytes",
                message.len()
            )));
        }
        Ok(())
    }

    /// The x-only encoding (BIP340 keys have an implicit even y).
    fn public_key_bytes(key: &VerifyingKey<Self>) -> Result<Vec<u8>, ProtocolError> {
        let sec1 = serialize_key(key)?;
        match sec1.split_first() {
            Some((_, x)) if x.len() == 32 => Ok(x.to_vec()),
            _ => Err(ProtocolError::Bug(
                "unexpected secp256k1 key encoding".into(),
            )),
        }
    }

    /// `Q = P + int(hashTapTweak(x(P)))·G` with `P` made even (BIP341, no script path), as
    /// frost-secp256k1-tr's `post_dkg` applies it.
    fn output_key(internal: &VerifyingKey<Self>) -> VerifyingKey<Self> {
        use frost_secp256k1_tr::keys::Tweak as _;
        let package = PublicKeyPackage::<Self>::new(BTreeMap::new(), *internal, None);
        *package.tweak::<&[u8]>(None).verifying_key()
    }

    fn canonical_internal_key(internal: &VerifyingKey<Self>) -> VerifyingKey<Self> {
        use frost_secp256k1_tr::keys::EvenY as _;
        internal.into_even_y(None)
    }
}
