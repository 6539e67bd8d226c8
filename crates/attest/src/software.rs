//! The software backend: development only. Evidence is the claims signed by a *platform key*
//! kept in a file, so whoever holds that key can forge evidence for any measurement.

use std::fmt;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};
use tessera_identity::{check_private, Identity, IdentityKey, Signature};
use zeroize::Zeroizing;

use crate::{AttestError, Backend, Claims, Evidence, FormatVerifier, Measurement};

/// The evidence format name of the software backend.
pub const SOFTWARE_FORMAT: &str = "tessera-software-v1";
/// The signature domain of software evidence.
pub const SOFTWARE_DOMAIN: &str = "tessera/attestation/software/v1";
/// Default validity of software evidence: 10 minutes.
pub const DEFAULT_VALIDITY_SECS: u64 = 600;

const SEALING_FILE_LEN: usize = 32;
const SEALING_INFO: &[u8] = b"tessera/sealing-key/software/v1";

/// The software evidence bytes: the postcard-encoded [`Claims`] exactly as signed, and the
/// platform key's signature over them. The signature is checked before the claims are decoded.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct SignedClaims {
    claims: Vec<u8>,
    signature: Signature,
}

/// A development attestation backend: signs claims with a platform key from a file and derives
/// the sealing key from a local key file. `Debug` shows only public parts and paths.
pub struct SoftwareBackend {
    platform: Identity,
    measurement: Measurement,
    validity: u64,
    sealing_key_file: PathBuf,
}

impl fmt::Debug for SoftwareBackend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SoftwareBackend")
            .field("platform_key", &self.platform.public())
            .field("measurement", &self.measurement)
            .field("validity", &self.validity)
            .field("sealing_key_file", &self.sealing_key_file)
            .finish()
    }
}

impl SoftwareBackend {
    /// Loads the platform key (PKCS#8 PEM, owner-only) and opens the sealing key file,
    /// creating it (mode 0600, 32 random bytes) if missing. `measurement` is normally
    /// [`crate::measure_current_exe`].
    pub fn load(
        platform_key_file: &Path,
        measurement: Measurement,
        sealing_key_file: &Path,
    ) -> Result<Self, AttestError> {
        Self::new(
            Identity::load(platform_key_file)?,
            measurement,
            sealing_key_file,
        )
    }

    /// As [`SoftwareBackend::load`], with the platform key already in memory.
    pub fn new(
        platform: Identity,
        measurement: Measurement,
        sealing_key_file: &Path,
    ) -> Result<Self, AttestError> {
        create_sealing_file_if_missing(sealing_key_file)?;
        let backend = SoftwareBackend {
            platform,
            measurement,
            validity: DEFAULT_VALIDITY_SECS,
            sealing_key_file: sealing_key_file.to_path_buf(),
        };
        // Refuse a bad file now rather than at the first use.
        backend.sealing_key()?;
        Ok(backend)
    }

    /// Sets how long evidence stays valid after it is issued.
    pub fn with_validity(mut self, secs: u64) -> Self {
        self.validity = secs;
        self
    }

    /// The public platform key: what verifiers trust ([`SoftwareVerifier`]).
    pub fn platform_key(&self) -> IdentityKey {
        self.platform.public()
    }

    pub fn measurement(&self) -> Measurement {
        self.measurement
    }

    /// A verifier trusting this backend's platform key.
    pub fn verifier(&self) -> SoftwareVerifier {
        SoftwareVerifier {
            platform_key: self.platform_key(),
        }
    }
}

impl Backend for SoftwareBackend {
    fn evidence(
        &self,
        identity: &IdentityKey,
        network: &str,
        now: u64,
    ) -> Result<Evidence, AttestError> {
        let claims = Claims {
            identity: *identity,
            network: network.to_owned(),
            measurement: self.measurement,
            issued_at: now,
            expires_at: now.saturating_add(self.validity),
        };
        let encode = |e: postcard::Error| AttestError::Encode(e.to_string());
        let claims = postcard::to_allocvec(&claims).map_err(encode)?;
        let signature = self.platform.sign(SOFTWARE_DOMAIN, &claims);
        let bytes = postcard::to_allocvec(&SignedClaims { claims, signature }).map_err(encode)?;
        let evidence = Evidence {
            format: SOFTWARE_FORMAT.to_owned(),
            bytes,
        };
        evidence.check_size()?;
        Ok(evidence)
    }

    /// HKDF-SHA256 of the sealing key file's 32 bytes, re-read (and its permissions re-checked)
    /// on every call.
    fn sealing_key(&self) -> Result<Zeroizing<[u8; 32]>, AttestError> {
        let path = &self.sealing_key_file;
        let shown = || path.display().to_string();
        check_private(path)?;
        let mut seed = Zeroizing::new(Vec::with_capacity(SEALING_FILE_LEN + 1));
        std::fs::File::open(path)
            .and_then(|f| f.take(SEALING_FILE_LEN as u64 + 1).read_to_end(&mut seed))
            .map_err(|source| AttestError::Io {
                path: shown(),
                source,
            })?;
        if seed.len() != SEALING_FILE_LEN {
            return Err(AttestError::SealingKeyFile {
                path: shown(),
                reason: format!("expected exactly {SEALING_FILE_LEN} bytes"),
            });
        }
        let mut key = Zeroizing::new([0u8; 32]);
        hkdf::Hkdf::<sha2::Sha256>::new(None, &seed)
            .expand(SEALING_INFO, key.as_mut())
            .map_err(|e| AttestError::SealingKeyFile {
                path: shown(),
                reason: e.to_string(),
            })?;
        Ok(key)
    }
}

/// Creates the sealing key file atomically: 32 random bytes written to a temporary file
/// (0600), synced, then linked into place, so a crash never leaves a short file behind and a
/// file created concurrently by someone else is never overwritten.
fn create_sealing_file_if_missing(path: &Path) -> Result<(), AttestError> {
    if path.exists() {
        return Ok(());
    }
    let io = |p: &Path| {
        let p = p.display().to_string();
        move |source| AttestError::Io { path: p, source }
    };
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".tmp{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut seed = Zeroizing::new([0u8; SEALING_FILE_LEN]);
    OsRng.fill_bytes(seed.as_mut());
    let written = opts
        .open(&tmp)
        .and_then(|mut f| {
            f.write_all(seed.as_ref())?;
            f.sync_all()
        })
        .map_err(io(&tmp));
    let linked = written.and_then(|()| match std::fs::hard_link(&tmp, path) {
        Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => Err(io(path)(e)),
        _ => Ok(()),
    });
    let _ = std::fs::remove_file(&tmp);
    linked?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        // Make the new directory entry durable: losing the sealing key loses the store.
        std::fs::File::open(dir)
            .and_then(|d| d.sync_all())
            .map_err(io(dir))?;
    }
    Ok(())
}

/// Verifies [`SOFTWARE_FORMAT`] evidence against a trusted platform key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SoftwareVerifier {
    pub platform_key: IdentityKey,
}

impl FormatVerifier for SoftwareVerifier {
    fn format(&self) -> &'static str {
        SOFTWARE_FORMAT
    }

    /// Checks the signature, then decodes the claims. `now` is unused: the claims' own
    /// validity period is checked by the policy.
    fn verify(&self, evidence: &Evidence, _now: u64) -> Result<Claims, AttestError> {
        if evidence.format != SOFTWARE_FORMAT {
            return Err(AttestError::UnknownFormat(evidence.format.clone()));
        }
        evidence.check_size()?;
        let malformed = |reason: String| AttestError::Malformed {
            format: SOFTWARE_FORMAT.into(),
            reason,
        };
        let signed: SignedClaims = decode_exact(&evidence.bytes).map_err(malformed)?;
        self.platform_key
            .verify(SOFTWARE_DOMAIN, &signed.claims, &signed.signature)
            .map_err(|_| AttestError::BadSignature {
                format: SOFTWARE_FORMAT.into(),
            })?;
        decode_exact(&signed.claims).map_err(malformed)
    }
}

fn decode_exact<'a, T: Deserialize<'a>>(b: &'a [u8]) -> Result<T, String> {
    let (v, rest) = postcard::take_from_bytes(b).map_err(|e| e.to_string())?;
    if !rest.is_empty() {
        return Err(format!("{} trailing bytes", rest.len()));
    }
    Ok(v)
}
