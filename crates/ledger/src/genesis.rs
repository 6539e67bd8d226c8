//! The genesis file: what the ledger writes into an empty log.
//!
//! TOML (or JSON when the file name ends in `.json`):
//!
//! ```toml
//! network = "devnet"
//! allowlist = ["<64 hex: SHA-256 of an allowed node binary>"]
//! platform_keys = ["<64 hex: Ed25519 key that signs software attestation evidence>"]
//!
//! [[keyrings]]
//! id = "default"
//! threshold = 2
//! owners = ["<64 hex: identity key allowed to request keys and signatures>"]
//!
//! [[keyrings.operators]]
//! identity = "<64 hex>"
//! address = "127.0.0.1:7001"
//! region = "local"
//! ```
//!
//! A keyring may add `min_regions = K`: every signing set spans K distinct regions.

use std::path::Path;

use serde::{Deserialize, Serialize};
use tessera_identity::IdentityKey;

use crate::command::{Action, Operator};

/// The parsed genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenesisFile {
    pub network: String,
    #[serde(default)]
    pub allowlist: Vec<String>,
    #[serde(default)]
    pub platform_keys: Vec<IdentityKey>,
    #[serde(default)]
    pub keyrings: Vec<KeyringSpec>,
}

/// One keyring of the genesis file.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KeyringSpec {
    pub id: String,
    pub threshold: u16,
    pub operators: Vec<Operator>,
    pub owners: Vec<IdentityKey>,
    /// Signing sets must span this many distinct operator regions (`SetSignerRegions`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_regions: Option<u16>,
}

impl KeyringSpec {
    pub fn action(&self) -> Action {
        Action::RegisterKeyring {
            keyring_id: self.id.clone(),
            threshold: self.threshold,
            operators: self.operators.clone(),
            owners: self.owners.clone(),
        }
    }

    /// The region rule's command, when the spec sets one.
    pub fn regions_action(&self) -> Option<Action> {
        self.min_regions
            .map(|min_regions| Action::SetSignerRegions {
                keyring_id: self.id.clone(),
                min_regions,
            })
    }
}

impl GenesisFile {
    /// Reads a TOML file, or JSON when the name ends in `.json`.
    pub fn load(path: &Path) -> Result<GenesisFile, String> {
        let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let json = path.extension().is_some_and(|e| e == "json");
        let parsed = if json {
            serde_json::from_str(&text).map_err(|e| e.to_string())
        } else {
            GenesisFile::from_toml(&text)
        };
        parsed.map_err(|e| format!("{}: {e}", path.display()))
    }

    pub fn from_toml(text: &str) -> Result<GenesisFile, String> {
        toml::from_str(text).map_err(|e| e.to_string())
    }

    pub fn to_toml(&self) -> Result<String, String> {
        toml::to_string(self).map_err(|e| e.to_string())
    }

    /// Entry 0.
    pub fn genesis_action(&self) -> Action {
        Action::Genesis {
            allowlist: self.allowlist.clone(),
            platform_keys: self.platform_keys.clone(),
        }
    }
}
