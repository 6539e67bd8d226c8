//! How the ledger judges an operator's attestation evidence before counting it live.
//!
//! The ledger only decides *scheduling* with this (peers check each other's evidence again at
//! connection time), so the check is a trait. The default, [`AttestPolicy`], is the attestation
//! crate's [`Policy`](tessera_attest::Policy) with the software verifier, built from the log's
//! allowlist and platform keys at the time of the check; tests may use a stub.

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

    /// True for checks that accept evidence without verifying it; the ledger warns at start.
    fn is_insecure(&self) -> bool {
        false
    }
}

/// The attestation crate's policy: evidence in the software format, signed by one of the log's
/// platform keys, binding the expected identity and this network to an allowlisted
/// measurement, within its validity period. (Hardware formats join here when their verifiers
/// exist.)
#[derive(Clone, Copy, Debug, Default)]
pub struct AttestPolicy;

impl EvidenceCheck for AttestPolicy {
    fn check(
        &self,
        evidence: &Evidence,
        expected_identity: &IdentityKey,
        now_ms: u64,
        context: &AttestationContext<'_>,
    ) -> Result<Claims, String> {
        let mut allowlist = Vec::with_capacity(context.allowlist.len());
        for m in context.allowlist {
            allowlist.push(
                m.parse::<tessera_attest::Measurement>()
                    .map_err(|e| format!("allowlist entry {m:?}: {e}"))?,
            );
        }
        if context.platform_keys.is_empty() {
            return Err("the log names no platform keys, so no evidence can verify".into());
        }
        // A policy holds one verifier per format, so each platform key gets its own policy.
        let mut first_error = None;
        for key in context.platform_keys {
            let policy = tessera_attest::Policy::new(context.network, allowlist.iter().copied())
                .with_verifier(tessera_attest::SoftwareVerifier { platform_key: *key });
            match policy.check(evidence, expected_identity, now_ms / 1000) {
                Ok(claims) => {
                    return Ok(Claims {
                        measurement: claims.measurement.to_string(),
                        expires_at_ms: Some(claims.expires_at.saturating_mul(1000)),
                    })
                }
                Err(e) => {
                    first_error.get_or_insert(e.to_string());
                }
            }
        }
        Err(first_error.unwrap_or_default())
    }
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

    fn is_insecure(&self) -> bool {
        true
    }
}
