#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod software;

use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::Path;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_identity::{IdentityError, IdentityKey};

pub use software::{
    SoftwareBackend, SoftwareVerifier, DEFAULT_VALIDITY_SECS, SOFTWARE_DOMAIN, SOFTWARE_FORMAT,
};

/// Largest evidence accepted, in bytes (a Nitro document or a TDX quote with its certificate
/// chain is a few KiB).
pub const MAX_EVIDENCE_LEN: usize = 64 * 1024;
/// Longest format name accepted.
pub const MAX_FORMAT_LEN: usize = 64;
/// Default tolerance for evidence issued by a clock slightly ahead of ours.
pub const DEFAULT_CLOCK_SKEW_SECS: u64 = 30;
/// Default longest validity period (`expires_at - issued_at`) a policy accepts.
pub const DEFAULT_MAX_VALIDITY_SECS: u64 = 3600;

/// What can go wrong producing or checking attestation evidence. Each policy check has its own
/// variant.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AttestError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// A key file is missing, malformed or readable by group or others.
    #[error(transparent)]
    KeyFile(#[from] IdentityError),
    #[error("sealing key file {path}: {reason}")]
    SealingKeyFile { path: String, reason: String },
    #[error("not a measurement (64 hex digits): {0}")]
    BadMeasurement(String),
    #[error("cannot encode evidence: {0}")]
    Encode(String),
    #[error("evidence of {len} bytes exceeds the limit of {max}")]
    EvidenceTooLarge { len: usize, max: usize },
    #[error("malformed {format} evidence: {reason}")]
    Malformed { format: String, reason: String },
    #[error("no verifier for evidence format {0:?}")]
    UnknownFormat(String),
    #[error("{format} evidence: signature does not verify under the trusted platform key")]
    BadSignature { format: String },
    #[error("evidence is for identity {found}, expected {expected}")]
    IdentityMismatch {
        expected: IdentityKey,
        found: IdentityKey,
    },
    #[error("evidence is for network {found:?}, expected {expected:?}")]
    NetworkMismatch { expected: String, found: String },
    #[error("measurement {0} is not in the allowlist")]
    MeasurementNotAllowed(Measurement),
    #[error("evidence validity {issued_at}..{expires_at} is empty or longer than {max} s")]
    BadValidityPeriod {
        issued_at: u64,
        expires_at: u64,
        max: u64,
    },
    #[error("evidence issued at {issued_at} is not yet valid at {now}")]
    NotYetValid { issued_at: u64, now: u64 },
    #[error("evidence expired at {expires_at} (now {now})")]
    Expired { expires_at: u64, now: u64 },
}

/// SHA-256 of a node binary, shown and serialised (in human-readable formats) as 64 hex digits.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Measurement(pub [u8; 32]);

impl Measurement {
    pub fn of_bytes(bytes: &[u8]) -> Self {
        Measurement(Sha256::digest(bytes).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

/// SHA-256 of the file at `path`, read in chunks.
pub fn measure_file(path: &Path) -> Result<Measurement, AttestError> {
    let io = |source| AttestError::Io {
        path: path.display().to_string(),
        source,
    };
    let mut file = std::fs::File::open(path).map_err(io)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf).map_err(io)?;
        match buf.get(..n) {
            Some([]) | None => break,
            Some(chunk) => hasher.update(chunk),
        }
    }
    Ok(Measurement(hasher.finalize().into()))
}

/// SHA-256 of the running executable (`std::env::current_exe()`).
pub fn measure_current_exe() -> Result<Measurement, AttestError> {
    let exe = std::env::current_exe().map_err(|source| AttestError::Io {
        path: "<current executable>".into(),
        source,
    })?;
    measure_file(&exe)
}

impl fmt::Display for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Measurement {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Measurement({self})")
    }
}

impl FromStr for Measurement {
    type Err = AttestError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let shown = || AttestError::BadMeasurement(s.chars().take(80).collect());
        let v = hex::decode(s.trim()).map_err(|_| shown())?;
        Ok(Measurement(v.try_into().map_err(|_| shown())?))
    }
}

impl Serialize for Measurement {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Measurement {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            Ok(Measurement(<[u8; 32]>::deserialize(d)?))
        }
    }
}

/// Attestation evidence in some format: opaque bytes that only the format's verifier reads.
/// Serialised with the bytes as hex in human-readable formats; decoding is bounded by
/// [`MAX_EVIDENCE_LEN`] and [`MAX_FORMAT_LEN`] and rejects unknown fields.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "EvidenceRepr")]
pub struct Evidence {
    pub format: String,
    #[serde(with = "bytes_or_hex")]
    pub bytes: Vec<u8>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EvidenceRepr {
    format: String,
    #[serde(with = "bytes_or_hex")]
    bytes: Vec<u8>,
}

impl TryFrom<EvidenceRepr> for Evidence {
    type Error = AttestError;
    fn try_from(r: EvidenceRepr) -> Result<Self, AttestError> {
        let e = Evidence {
            format: r.format,
            bytes: r.bytes,
        };
        e.check_size()?;
        Ok(e)
    }
}

impl fmt::Debug for Evidence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Evidence({:?}, {} bytes)", self.format, self.bytes.len())
    }
}

impl Evidence {
    /// Fails if the format name or the bytes exceed their limits.
    pub fn check_size(&self) -> Result<(), AttestError> {
        if self.format.len() > MAX_FORMAT_LEN {
            return Err(AttestError::Malformed {
                format: self.format.chars().take(MAX_FORMAT_LEN).collect(),
                reason: format!("format name longer than {MAX_FORMAT_LEN} bytes"),
            });
        }
        if self.bytes.len() > MAX_EVIDENCE_LEN {
            return Err(AttestError::EvidenceTooLarge {
                len: self.bytes.len(),
                max: MAX_EVIDENCE_LEN,
            });
        }
        Ok(())
    }

    /// Compact binary encoding (postcard).
    pub fn to_bytes(&self) -> Result<Vec<u8>, AttestError> {
        self.check_size()?;
        postcard::to_allocvec(self).map_err(|e| AttestError::Encode(e.to_string()))
    }

    /// Decodes [`Evidence::to_bytes`], refusing oversized input and trailing bytes.
    pub fn from_bytes(b: &[u8]) -> Result<Self, AttestError> {
        let max = MAX_EVIDENCE_LEN + MAX_FORMAT_LEN + 16;
        if b.len() > max {
            return Err(AttestError::EvidenceTooLarge { len: b.len(), max });
        }
        let malformed = |reason: String| AttestError::Malformed {
            format: "<envelope>".into(),
            reason,
        };
        let (e, rest) =
            postcard::take_from_bytes::<Evidence>(b).map_err(|e| malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(malformed(format!("{} trailing bytes", rest.len())));
        }
        Ok(e)
    }
}

/// What verified evidence says about a node.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Claims {
    /// The node's identity key (its transport and ledger signing key).
    pub identity: IdentityKey,
    /// The network the evidence is for, so it cannot be replayed on another.
    pub network: String,
    /// The measurement of the code the node runs.
    pub measurement: Measurement,
    /// Unix seconds.
    pub issued_at: u64,
    /// Unix seconds; the evidence is valid while `now < expires_at`.
    pub expires_at: u64,
}

/// Produces this node's evidence and sealing key: one implementation per platform (software,
/// Nitro enclave, TDX guest).
pub trait Backend: Send + Sync {
    /// Evidence binding `identity` and `network` to this node's measurement, issued at `now`.
    fn evidence(
        &self,
        identity: &IdentityKey,
        network: &str,
        now: u64,
    ) -> Result<Evidence, AttestError>;

    /// The key that seals this node's storage, bound to the platform (and, for enclaves, the
    /// measurement) so that other code on other machines cannot derive it.
    fn sealing_key(&self) -> Result<zeroize::Zeroizing<[u8; 32]>, AttestError>;
}

/// Checks the cryptographic validity of one evidence format and extracts its claims. It does not
/// apply policy (allowlist, identity, network, validity period): [`Policy::check`] does, the same
/// way for every format. `now` is for the format's own time checks (certificate chains).
pub trait FormatVerifier: Send + Sync {
    fn format(&self) -> &'static str;
    fn verify(&self, evidence: &Evidence, now: u64) -> Result<Claims, AttestError>;
}

/// Which evidence a node accepts from peers: the network id, the allowlisted measurements and
/// one verifier per evidence format.
pub struct Policy {
    network: String,
    allowlist: BTreeSet<Measurement>,
    verifiers: Vec<Box<dyn FormatVerifier>>,
    clock_skew: u64,
    max_validity: u64,
}

impl fmt::Debug for Policy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Policy")
            .field("network", &self.network)
            .field("allowlist", &self.allowlist)
            .field("formats", &self.formats())
            .field("clock_skew", &self.clock_skew)
            .field("max_validity", &self.max_validity)
            .finish()
    }
}

impl Policy {
    /// A policy with no verifiers yet (every format is unknown until one is added).
    pub fn new(
        network: impl Into<String>,
        allowlist: impl IntoIterator<Item = Measurement>,
    ) -> Self {
        Policy {
            network: network.into(),
            allowlist: allowlist.into_iter().collect(),
            verifiers: Vec::new(),
            clock_skew: DEFAULT_CLOCK_SKEW_SECS,
            max_validity: DEFAULT_MAX_VALIDITY_SECS,
        }
    }

    /// Adds a verifier, replacing any previous one for the same format.
    pub fn with_verifier(mut self, verifier: impl FormatVerifier + 'static) -> Self {
        self.verifiers.retain(|v| v.format() != verifier.format());
        self.verifiers.push(Box::new(verifier));
        self
    }

    pub fn with_clock_skew(mut self, secs: u64) -> Self {
        self.clock_skew = secs;
        self
    }

    pub fn with_max_validity(mut self, secs: u64) -> Self {
        self.max_validity = secs;
        self
    }

    /// Replaces the allowlist (the ledger holds it and may change it).
    pub fn set_allowlist(&mut self, allowlist: impl IntoIterator<Item = Measurement>) {
        self.allowlist = allowlist.into_iter().collect();
    }

    pub fn network(&self) -> &str {
        &self.network
    }

    pub fn allowlist(&self) -> &BTreeSet<Measurement> {
        &self.allowlist
    }

    pub fn formats(&self) -> Vec<&'static str> {
        self.verifiers.iter().map(|v| v.format()).collect()
    }

    /// Verifies `evidence` with its format's verifier, then checks, in this order: the identity
    /// is `expected_identity`, the network is ours, the measurement is allowlisted, the validity
    /// period is non-empty and at most the policy's maximum, `issued_at <= now + skew`, and
    /// `now < expires_at`. Returns the claims if all hold.
    pub fn check(
        &self,
        evidence: &Evidence,
        expected_identity: &IdentityKey,
        now: u64,
    ) -> Result<Claims, AttestError> {
        evidence.check_size()?;
        let verifier = self
            .verifiers
            .iter()
            .find(|v| v.format() == evidence.format)
            .ok_or_else(|| AttestError::UnknownFormat(evidence.format.clone()))?;
        let claims = verifier.verify(evidence, now)?;
        if claims.identity != *expected_identity {
            return Err(AttestError::IdentityMismatch {
                expected: *expected_identity,
                found: claims.identity,
            });
        }
        if claims.network != self.network {
            return Err(AttestError::NetworkMismatch {
                expected: self.network.clone(),
                found: claims.network.chars().take(128).collect(),
            });
        }
        if !self.allowlist.contains(&claims.measurement) {
            return Err(AttestError::MeasurementNotAllowed(claims.measurement));
        }
        let period = claims.expires_at.checked_sub(claims.issued_at);
        if !matches!(period, Some(p) if p > 0 && p <= self.max_validity) {
            return Err(AttestError::BadValidityPeriod {
                issued_at: claims.issued_at,
                expires_at: claims.expires_at,
                max: self.max_validity,
            });
        }
        if claims.issued_at > now.saturating_add(self.clock_skew) {
            return Err(AttestError::NotYetValid {
                issued_at: claims.issued_at,
                now,
            });
        }
        if now >= claims.expires_at {
            return Err(AttestError::Expired {
                expires_at: claims.expires_at,
                now,
            });
        }
        Ok(claims)
    }
}

/// Raw bytes for binary formats, hex for human-readable ones.
mod bytes_or_hex {
    use std::fmt;

    use serde::{de, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(b: &[u8], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(b))
        } else {
            s.serialize_bytes(b)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        if d.is_human_readable() {
            let s: String = serde::Deserialize::deserialize(d)?;
            if s.len() > 2 * super::MAX_EVIDENCE_LEN {
                return Err(de::Error::custom("evidence too large"));
            }
            hex::decode(s).map_err(de::Error::custom)
        } else {
            d.deserialize_bytes(BytesVisitor)
        }
    }

    struct BytesVisitor;

    impl<'de> de::Visitor<'de> for BytesVisitor {
        type Value = Vec<u8>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("evidence bytes")
        }
        fn visit_bytes<E: de::Error>(self, v: &[u8]) -> Result<Vec<u8>, E> {
            Ok(v.to_vec())
        }
        fn visit_byte_buf<E: de::Error>(self, v: Vec<u8>) -> Result<Vec<u8>, E> {
            Ok(v)
        }
        fn visit_seq<A: de::SeqAccess<'de>>(self, mut a: A) -> Result<Vec<u8>, A::Error> {
            let mut out = Vec::new();
            while let Some(b) = a.next_element::<u8>()? {
                if out.len() >= super::MAX_EVIDENCE_LEN {
                    return Err(de::Error::custom("evidence too large"));
                }
                out.push(b);
            }
            Ok(out)
        }
    }
}
