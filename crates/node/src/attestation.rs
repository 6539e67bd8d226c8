//! Attestation glue: one policy, built from the ledger log's allowlist and platform keys,
//! used by peers at connection time (the transport's [`Admission`]) and by the ledger when it
//! counts an operator live ([`LedgerEvidenceCheck`]).

use std::sync::{Arc, RwLock};

use tessera_attest::{Backend, Evidence, Measurement, Policy, SoftwareVerifier};
use tessera_identity::IdentityKey;
use tessera_ledger::{AttestationContext, Claims, EvidenceCheck, State};
use tessera_transport::{Admission, EvidenceSource};

/// The policy for `network` with `allowlist` (hex) and software `platform_keys`. Entries that
/// are not valid measurements are skipped (the ledger's state rules already reject them).
pub fn policy(network: &str, allowlist: &[String], platform_keys: &[IdentityKey]) -> Policy {
    let measurements = allowlist
        .iter()
        .filter_map(|m| m.parse::<Measurement>().ok());
    let mut policy = Policy::new(network.to_string(), measurements);
    for k in platform_keys {
        policy = policy.with_verifier(SoftwareVerifier { platform_key: *k });
    }
    policy
}

/// Admits a peer whose evidence verifies under the log's current allowlist and platform keys.
#[derive(Debug)]
pub struct LogAdmission {
    pub state: Arc<RwLock<State>>,
}

impl Admission for LogAdmission {
    fn admit(&self, peer: &IdentityKey, evidence: &[u8], now: u64) -> Result<u64, String> {
        let evidence = Evidence::from_bytes(evidence).map_err(|e| e.to_string())?;
        let policy = {
            let st = self.state.read().unwrap_or_else(|p| p.into_inner());
            policy(st.network(), st.allowlist(), st.platform_keys())
        };
        let claims = policy
            .check(&evidence, peer, now)
            .map_err(|e| e.to_string())?;
        Ok(claims.expires_at)
    }
}

/// This node's evidence, fresh for every connection and refresh.
pub struct BackendEvidence {
    pub backend: Arc<dyn Backend>,
    pub identity: IdentityKey,
    pub network: String,
}

impl std::fmt::Debug for BackendEvidence {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "BackendEvidence({:?}, {})", self.identity, self.network)
    }
}

impl EvidenceSource for BackendEvidence {
    fn evidence(&self, now: u64) -> Result<Vec<u8>, String> {
        self.backend
            .evidence(&self.identity, &self.network, now)
            .and_then(|e| e.to_bytes())
            .map_err(|e| e.to_string())
    }
}

/// The ledger's check of heartbeat evidence, with the same policy code as the peers'.
#[derive(Debug, Clone, Copy, Default)]
pub struct LedgerEvidenceCheck;

impl EvidenceCheck for LedgerEvidenceCheck {
    fn check(
        &self,
        evidence: &tessera_ledger::Evidence,
        expected_identity: &IdentityKey,
        now_ms: u64,
        context: &AttestationContext<'_>,
    ) -> Result<Claims, String> {
        let ev = Evidence {
            format: evidence.format.clone(),
            bytes: evidence.bytes.clone(),
        };
        let claims = policy(context.network, context.allowlist, context.platform_keys)
            .check(&ev, expected_identity, now_ms / 1000)
            .map_err(|e| e.to_string())?;
        Ok(Claims {
            measurement: claims.measurement.to_string(),
            expires_at_ms: Some(claims.expires_at.saturating_mul(1000)),
        })
    }
}
