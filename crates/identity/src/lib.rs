#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::fmt;
use std::path::Path;
use std::str::FromStr;

use ed25519_dalek::pkcs8::{DecodePrivateKey, EncodePrivateKey};
use ed25519_dalek::{Signer, SigningKey, VerifyingKey};
use serde::{Deserialize, Serialize};

/// What can go wrong with identity keys and signatures.
#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path} is readable by group or others (mode {mode:o}); run `chmod 600 {path}`")]
    Permissions { path: String, mode: u32 },
    #[error("{path}: not an Ed25519 PKCS#8 private key ({reason})")]
    Format { path: String, reason: String },
    #[error("not an Ed25519 public key: {0}")]
    BadPublicKey(String),
    #[error("signature does not verify")]
    BadSignature,
}

/// A public identity: an Ed25519 verifying key, shown and serialised as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IdentityKey([u8; 32]);

impl IdentityKey {
    /// Parses and checks 32 bytes (must decode to a curve point).
    pub fn from_bytes(b: [u8; 32]) -> Result<Self, IdentityError> {
        VerifyingKey::from_bytes(&b).map_err(|e| IdentityError::BadPublicKey(e.to_string()))?;
        Ok(IdentityKey(b))
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Checks `sig` over `message` under `domain` (strict: no small-order keys, canonical S).
    pub fn verify(
        &self,
        domain: &str,
        message: &[u8],
        sig: &Signature,
    ) -> Result<(), IdentityError> {
        let vk = VerifyingKey::from_bytes(&self.0).map_err(|_| IdentityError::BadSignature)?;
        let sig = ed25519_dalek::Signature::from_bytes(&sig.0);
        vk.verify_strict(&framed(domain, message), &sig)
            .map_err(|_| IdentityError::BadSignature)?;
        Ok(())
    }
}

impl fmt::Display for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for IdentityKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdentityKey({})", hex::encode(&self.0[..8]))
    }
}

impl FromStr for IdentityKey {
    type Err = IdentityError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v = hex::decode(s.trim()).map_err(|e| IdentityError::BadPublicKey(e.to_string()))?;
        let b: [u8; 32] = v
            .try_into()
            .map_err(|_| IdentityError::BadPublicKey("expected 32 bytes".into()))?;
        IdentityKey::from_bytes(b)
    }
}

impl Serialize for IdentityKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for IdentityKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            let b = <[u8; 32]>::deserialize(d)?;
            IdentityKey::from_bytes(b).map_err(serde::de::Error::custom)
        }
    }
}

/// An Ed25519 signature, serialised as 128 hex digits in human-readable formats.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Signature(pub [u8; 64]);

impl fmt::Debug for Signature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Signature({}…)", hex::encode(&self.0[..8]))
    }
}

impl Serialize for Signature {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(self.0))
        } else {
            s.serialize_bytes(&self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Signature {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let v: Vec<u8> = if d.is_human_readable() {
            let s = String::deserialize(d)?;
            hex::decode(s).map_err(serde::de::Error::custom)?
        } else {
            serde_bytes_vec(d)?
        };
        let b: [u8; 64] = v
            .try_into()
            .map_err(|_| serde::de::Error::custom("signature must be 64 bytes"))?;
        Ok(Signature(b))
    }
}

fn serde_bytes_vec<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
    struct V;
    impl<'de> serde::de::Visitor<'de> for V {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("64 signature bytes")
        }
        fn visit_bytes<E: serde::de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::with_capacity(64);
            while let Some(b) = a.next_element::<u8>()? {
                if out.len() >= 64 {
                    return Err(serde::de::Error::custom("signature longer than 64 bytes"));
                }
                out.push(b);
            }
            Ok(out)
        }
    }
    d.deserialize_bytes(V)
}

/// A secret identity key. Zeroized on drop; its `Debug` shows only the public key.
pub struct Identity {
    key: SigningKey,
}

impl fmt::Debug for Identity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Identity({:?})", self.public())
    }
}

impl Identity {
    pub fn generate(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        Identity {
            key: SigningKey::generate(rng),
        }
    }

    /// From 32 secret bytes (tests and fixtures).
    pub fn from_secret_bytes(b: &[u8; 32]) -> Self {
        Identity {
            key: SigningKey::from_bytes(b),
        }
    }

    pub fn public(&self) -> IdentityKey {
        IdentityKey(self.key.verifying_key().to_bytes())
    }

    /// Signs `message` for `domain` (see the crate docs for the framing).
    pub fn sign(&self, domain: &str, message: &[u8]) -> Signature {
        Signature(self.key.sign(&framed(domain, message)).to_bytes())
    }

    /// The key as PKCS#8 DER (for TLS certificates). The buffer zeroizes on drop.
    pub fn to_pkcs8_der(&self) -> Result<zeroize::Zeroizing<Vec<u8>>, IdentityError> {
        let doc = self.key.to_pkcs8_der().map_err(|e| IdentityError::Format {
            path: "<memory>".into(),
            reason: e.to_string(),
        })?;
        Ok(zeroize::Zeroizing::new(doc.as_bytes().to_vec()))
    }

    /// Loads a PKCS#8 PEM key file, refusing one that group or others can read.
    pub fn load(path: &Path) -> Result<Self, IdentityError> {
        let shown = path.display().to_string();
        check_private(path)?;
        let pem = zeroize::Zeroizing::new(std::fs::read_to_string(path).map_err(|source| {
            IdentityError::Io {
                path: shown.clone(),
                source,
            }
        })?);
        let key = SigningKey::from_pkcs8_pem(&pem).map_err(|e| IdentityError::Format {
            path: shown,
            reason: e.to_string(),
        })?;
        Ok(Identity { key })
    }

    /// Writes the key as PKCS#8 PEM with mode 0600. Refuses to overwrite an existing file.
    pub fn save(&self, path: &Path) -> Result<(), IdentityError> {
        use std::io::Write;
        let shown = path.display().to_string();
        let pem = self
            .key
            .to_pkcs8_pem(Default::default())
            .map_err(|e| IdentityError::Format {
                path: shown.clone(),
                reason: e.to_string(),
            })?;
        let io = |source| IdentityError::Io {
            path: shown.clone(),
            source,
        };
        let mut opts = std::fs::OpenOptions::new();
        opts.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            opts.mode(0o600);
        }
        let mut f = opts.open(path).map_err(io)?;
        f.write_all(pem.as_bytes()).map_err(io)?;
        f.sync_all().map_err(io)?;
        Ok(())
    }

    /// Loads the key at `path`, or creates and saves a new one if there is no file.
    pub fn load_or_create(
        path: &Path,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, IdentityError> {
        if path.exists() {
            return Identity::load(path);
        }
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| IdentityError::Io {
                path: dir.display().to_string(),
                source,
            })?;
        }
        let id = Identity::generate(rng);
        id.save(path)?;
        Ok(id)
    }
}

/// Fails unless `path` is a file that only its owner can read (on Unix).
pub fn check_private(path: &Path) -> Result<(), IdentityError> {
    let meta = std::fs::metadata(path).map_err(|source| IdentityError::Io {
        path: path.display().to_string(),
        source,
    })?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(IdentityError::Permissions {
                path: path.display().to_string(),
                mode,
            });
        }
    }
    #[cfg(not(unix))]
    let _ = meta;
    Ok(())
}

fn framed(domain: &str, message: &[u8]) -> Vec<u8> {
    let d = domain.as_bytes();
    let mut v = Vec::with_capacity(2 + d.len() + message.len());
    // Domains are short constants; a longer one is truncated in the length prefix only if it
    // exceeds 65535 bytes, which `u16::try_from` turns into the maximum (never in practice).
    v.extend_from_slice(&u16::try_from(d.len()).unwrap_or(u16::MAX).to_be_bytes());
    v.extend_from_slice(d);
    v.extend_from_slice(message);
    v
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    #[test]
    fn signatures_are_bound_to_their_domain_and_message() {
        let id = Identity::generate(&mut OsRng);
        let sig = id.sign("tessera/ledger-command", b"hello");
        let pk = id.public();
        assert!(pk.verify("tessera/ledger-command", b"hello", &sig).is_ok());
        assert!(pk.verify("tessera/attestation", b"hello", &sig).is_err());
        assert!(pk.verify("tessera/ledger-command", b"hellp", &sig).is_err());
        let other = Identity::generate(&mut OsRng).public();
        assert!(other
            .verify("tessera/ledger-command", b"hello", &sig)
            .is_err());
    }

    #[test]
    fn public_keys_round_trip_as_hex_and_binary() {
        let pk = Identity::generate(&mut OsRng).public();
        let s = pk.to_string();
        assert_eq!(s.len(), 64);
        assert_eq!(s.parse::<IdentityKey>().ok(), Some(pk));
        let json = serde_json::to_string(&pk).unwrap_or_default();
        assert_eq!(json, format!("\"{s}\""));
        assert!("zz".parse::<IdentityKey>().is_err());
        assert!("00".repeat(31).parse::<IdentityKey>().is_err());
    }

    #[test]
    fn key_files_are_private_and_round_trip() -> Result<(), Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("id.pem");
        let id = Identity::generate(&mut OsRng);
        id.save(&path)?;
        assert!(
            id.save(&path).is_err(),
            "an existing key file is never overwritten"
        );
        let back = Identity::load(&path)?;
        assert_eq!(back.public(), id.public());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o640))?;
            let err = Identity::load(&path)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(err.contains("readable by group or others"), "{err}");
        }
        Ok(())
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let id = Identity::from_secret_bytes(&[7u8; 32]);
        let shown = format!("{id:?}");
        assert!(!shown.contains(&hex::encode([7u8; 32])));
        assert!(shown.starts_with("Identity("));
    }
}
