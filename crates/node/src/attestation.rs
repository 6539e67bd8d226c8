//! Attestation glue: peers are admitted at connection time (the transport's [`Admission`])
//! with the same check the ledger applies to heartbeats, [`AttestPolicy`], against the log's
//! current allowlist and platform keys.

use std::sync::{Arc, RwLock};

use tessera_attest::{Backend, Evidence};
use tessera_identity::IdentityKey;
use tessera_ledger::{AttestPolicy, AttestationContext, EvidenceCheck, State};
use tessera_transport::{Admission, EvidenceSource};

/// Admits a peer whose evidence verifies under the log's current allowlist and platform keys.
#[derive(Debug)]
pub struct LogAdmission {
    pub state: Arc<RwLock<State>>,
}

impl Admission for LogAdmission {
    fn admit(&self, peer: &IdentityKey, evidence: &[u8], now: u64) -> Result<u64, String> {
        let evidence = Evidence::from_bytes(evidence).map_err(|e| e.to_string())?;
        let st = self.state.read().unwrap_or_else(|p| p.into_inner());
        let context = AttestationContext {
            network: st.network(),
            allowlist: st.allowlist(),
            platform_keys: st.platform_keys(),
        };
        let claims = AttestPolicy.check(&evidence, peer, now.saturating_mul(1000), &context)?;
        claims
            .expires_at_ms
            .map(|ms| ms / 1000)
            .ok_or_else(|| "evidence without an expiry".to_string())
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
