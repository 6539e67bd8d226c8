//! The node's configuration file (TOML).
//!
//! ```toml
//! network = "tessera-devnet"
//! identity_key = "identity.pem"        # Ed25519 PKCS#8 PEM, mode 0600
//! listen = "127.0.0.1:7101"            # peer-to-peer TLS
//! data_dir = "data"                    # the sealed database lives here
//! ledger_url = "http://127.0.0.1:7000"
//! ledger_key = "<64 hex digits>"       # the ledger's identity: it signs scheduling commands
//! metrics_listen = "127.0.0.1:9101"    # optional Prometheus endpoint
//! insecure_test_primes = false         # devnet/tests only: public pregenerated Paillier primes
//! insecure_test_prime_index = 3        # devnet/tests only: which fixture pair (default: the
//!                                      # node's index in its keyring)
//!
//! [attestation]
//! backend = "software"                 # the only backend that produces evidence today
//! platform_key = "platform.pem"        # development platform key (signs the evidence)
//! sealing_key = "sealing.key"          # 32 random bytes; the sealing key derives from it
//!
//! [timeouts]
//! round_secs = 60                      # per protocol round
//! reshare_round_secs = 1800            # per resharing round (verifies every new operator's
//!                                      # setup proofs: minutes with 16 operators)
//! ```
//!
//! Relative paths are relative to the configuration file's directory. The node refuses to start
//! if any secret file (identity, platform key, sealing key) is readable by group or others.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;
use tessera_identity::IdentityKey;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("{path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Secret(#[from] tessera_identity::IdentityError),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct Raw {
    network: String,
    identity_key: PathBuf,
    listen: SocketAddr,
    data_dir: PathBuf,
    ledger_url: String,
    ledger_key: IdentityKey,
    metrics_listen: Option<SocketAddr>,
    #[serde(default)]
    insecure_test_primes: bool,
    insecure_test_prime_index: Option<usize>,
    attestation: RawAttestation,
    #[serde(default)]
    timeouts: RawTimeouts,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, tag = "backend", rename_all = "snake_case")]
enum RawAttestation {
    Software {
        platform_key: PathBuf,
        sealing_key: PathBuf,
    },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawTimeouts {
    #[serde(default = "default_round_secs")]
    round_secs: u64,
    #[serde(default = "default_reshare_round_secs")]
    reshare_round_secs: u64,
}

impl Default for RawTimeouts {
    fn default() -> Self {
        RawTimeouts {
            round_secs: default_round_secs(),
            reshare_round_secs: default_reshare_round_secs(),
        }
    }
}

fn default_round_secs() -> u64 {
    60
}

fn default_reshare_round_secs() -> u64 {
    1800
}

/// Where the attestation evidence and the sealing key come from.
#[derive(Debug, Clone)]
pub enum AttestationConfig {
    /// Development backend: evidence signed by a platform key held in a file.
    Software {
        platform_key: PathBuf,
        sealing_key: PathBuf,
    },
}

/// A validated node configuration with absolute paths.
#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub network: String,
    pub identity_key: PathBuf,
    pub listen: SocketAddr,
    pub data_dir: PathBuf,
    pub ledger_url: String,
    pub ledger_key: IdentityKey,
    pub metrics_listen: Option<SocketAddr>,
    pub insecure_test_primes: bool,
    /// Which fixture prime pair an insecure test node uses (`None`: its keyring index).
    pub insecure_test_prime_index: Option<usize>,
    pub attestation: AttestationConfig,
    pub round_timeout: Duration,
    pub reshare_round_timeout: Duration,
}

impl NodeConfig {
    /// Reads and checks `path`, including the permissions of every secret file it names.
    pub fn load(path: &Path) -> Result<NodeConfig, ConfigError> {
        let shown = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
            path: shown.clone(),
            source,
        })?;
        let raw: Raw = toml::from_str(&text).map_err(|source| ConfigError::Parse {
            path: shown,
            source: Box::new(source),
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let abs = |p: &Path| {
            if p.is_absolute() {
                p.to_path_buf()
            } else {
                base.join(p)
            }
        };
        if raw.network.is_empty() {
            return Err(ConfigError::Invalid("network must not be empty".into()));
        }
        if !(raw.ledger_url.starts_with("http://") || raw.ledger_url.starts_with("https://")) {
            return Err(ConfigError::Invalid(format!(
                "ledger_url {:?} must start with http:// or https://",
                raw.ledger_url
            )));
        }
        if raw.timeouts.round_secs == 0 || raw.timeouts.reshare_round_secs == 0 {
            return Err(ConfigError::Invalid(
                "timeouts.round_secs and timeouts.reshare_round_secs must be > 0".into(),
            ));
        }
        if raw.insecure_test_prime_index.is_some() && !raw.insecure_test_primes {
            return Err(ConfigError::Invalid(
                "insecure_test_prime_index needs insecure_test_primes = true".into(),
            ));
        }
        let attestation = match raw.attestation {
            RawAttestation::Software {
                platform_key,
                sealing_key,
            } => AttestationConfig::Software {
                platform_key: abs(&platform_key),
                sealing_key: abs(&sealing_key),
            },
        };
        let cfg = NodeConfig {
            network: raw.network,
            identity_key: abs(&raw.identity_key),
            listen: raw.listen,
            data_dir: abs(&raw.data_dir),
            ledger_url: raw.ledger_url.trim_end_matches('/').to_string(),
            ledger_key: raw.ledger_key,
            metrics_listen: raw.metrics_listen,
            insecure_test_primes: raw.insecure_test_primes,
            insecure_test_prime_index: raw.insecure_test_prime_index,
            attestation,
            round_timeout: Duration::from_secs(raw.timeouts.round_secs),
            reshare_round_timeout: Duration::from_secs(raw.timeouts.reshare_round_secs),
        };
        cfg.check_secrets()?;
        Ok(cfg)
    }

    /// Refuses secret files that group or others can read (or that do not exist).
    pub fn check_secrets(&self) -> Result<(), ConfigError> {
        tessera_identity::check_private(&self.identity_key)?;
        match &self.attestation {
            AttestationConfig::Software {
                platform_key,
                sealing_key,
            } => {
                tessera_identity::check_private(platform_key)?;
                // The backend creates a missing sealing key file (mode 0600) on first start.
                if sealing_key.exists() {
                    tessera_identity::check_private(sealing_key)?;
                }
            }
        }
        Ok(())
    }
}
