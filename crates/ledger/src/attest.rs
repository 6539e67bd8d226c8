//! How the ledger judges an operator's attestation evidence before counting it live.
//!
//! The ledger only decides *scheduling* with this (peers check each other's evidence again at
//! connection time), so the check is a trait: the attestation crate plugs in behind it, tests
//! use a stub. The allowlist and platform keys come from the log at the time of the check.

use std::fmt;

use tessera_identity::IdentityKey;

use crate::api::Evidence;

/// What the check is measured against: the network id and the log's current allowlist.
#[derive(Clone, Copy, Debug)]
pub struct AttestationContext<'a> {
    pub network: &'a str,
    /// Allowed measurements, lowercase hex.
    pub allowlist: &'a [String],
    pub platform_keys: &'a [IdentityKey],
}

/// What valid evidence establishes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Claims {
    /// The measured binary, lowercase hex.
    pub measurement: String,
    /// When the evidence stops counting (ms since the epoch), if it expires.
    pub expires_at_ms: Option<u64>,
}

/// Checks `evidence` binds `expected_identity` (and the network) to an allowed measurement,
/// at time `now_ms`. `Err` carries the reason, which the ledger logs and reports.
pub trait EvidenceCheck: Send + Sync + fmt::Debug {
    fn check(
        &self,
        evidence: &Evidence,
        expected_identity: &IdentityKey,
        now_ms: u64,
        context: &AttestationContext<'_>,
    ) -> Result<Claims, String>;
}

/// Accepts any evidence without looking at it, claiming the measurement `"unverified"`. For
/// tests and for development networks without attestation only: the ledger logs a warning when
/// it starts with it.
#[derive(Clone, Copy, Debug, Default)]
pub struct InsecureAcceptAll;

impl EvidenceCheck for InsecureAcceptAll {
    fn check(
        &self,
        _evidence: &Evidence,
        _expected_identity: &IdentityKey,
        _now_ms: u64,
        _context: &AttestationContext<'_>,
    ) -> Result<Claims, String> {
        Ok(Claims {
            measurement: "unverified".into(),
            expires_at_ms: None,
        })
    }
}
