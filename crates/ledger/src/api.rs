//! The JSON bodies of the HTTP API, shared by the server and the client, and the heartbeat
//! that keeps an operator schedulable.

use serde::{Deserialize, Serialize};
use tessera_identity::{Identity, IdentityKey, Signature};

use crate::command::{CommandId, Entry, Hash32};
use crate::state::{KeyRecord, KeyStatus, SignatureRequest, SignatureStatus, State};

/// Domain of the Ed25519 signature over a heartbeat.
pub const HEARTBEAT_DOMAIN: &str = "tessera/ledger/heartbeat/v1";

/// `GET /v1/info`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Info {
    pub network: String,
    pub ledger_key: IdentityKey,
    /// Seq of the last entry; `null` for an empty log.
    pub head_seq: Option<u64>,
    /// Hash of the last entry (zeros for an empty log).
    pub head_hash: Hash32,
}

/// `GET /v1/log`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPage {
    pub entries: Vec<Entry>,
}

/// `POST /v1/commands`: where the command landed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Receipt {
    pub seq: u64,
    /// The command id (for `RequestKey`/`RequestSignature`, the request id).
    pub id: CommandId,
}

/// The error body of every 4xx/5xx response.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    pub error: String,
}

/// `GET /v1/keys/{id}`, and a key request under `GET /v1/requests/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyView {
    pub key_id: Hash32,
    pub keyring_id: String,
    pub key_type: String,
    /// `pending`, `generating`, `active` or `failed`.
    pub status: String,
    /// 33-byte compressed SEC1 hex, once active.
    pub public_key: Option<String>,
    pub chain_code: Option<Hash32>,
    pub reason: Option<String>,
    /// The current keygen session while generating.
    pub session: Option<Hash32>,
}

impl KeyView {
    pub fn new(k: &KeyRecord) -> KeyView {
        let (public_key, chain_code, reason, session) = match &k.status {
            KeyStatus::Pending => (None, None, None, None),
            KeyStatus::Generating { session } => (None, None, None, Some(*session)),
            KeyStatus::Active {
                public_key,
                chain_code,
            } => (Some(public_key.clone()), Some(*chain_code), None, None),
            KeyStatus::Failed { reason } => (None, None, Some(reason.clone()), None),
        };
        KeyView {
            key_id: k.id,
            keyring_id: k.keyring_id.clone(),
            key_type: k.key_type.clone(),
            status: k.status.label().into(),
            public_key,
            chain_code,
            reason,
            session,
        }
    }

    /// Active or failed: the request will not change any more.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "active" | "failed")
    }
}

/// A signature request under `GET /v1/requests/{id}`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignatureView {
    pub request_id: Hash32,
    pub key: Hash32,
    /// The key's (untweaked) public key, compressed SEC1 hex.
    pub public_key: Option<String>,
    pub digest: Hash32,
    pub tweak: Option<Hash32>,
    pub note: Option<String>,
    /// `pending`, `signing`, `done` or `failed`.
    pub status: String,
    /// The presign session assigned, while signing.
    pub presign: Option<Hash32>,
    pub r: Option<Hash32>,
    pub s: Option<Hash32>,
    pub recovery_id: Option<u8>,
    pub signers: Option<Vec<u16>>,
    pub reason: Option<String>,
}

impl SignatureView {
    pub fn new(r: &SignatureRequest, state: &State) -> SignatureView {
        let public_key = match state.key(&r.key).map(|k| &k.status) {
            Some(KeyStatus::Active { public_key, .. }) => Some(public_key.clone()),
            _ => None,
        };
        let mut v = SignatureView {
            request_id: r.id,
            key: r.key,
            public_key,
            digest: r.digest,
            tweak: r.tweak,
            note: r.note.clone(),
            status: r.status.label().into(),
            presign: None,
            r: None,
            s: None,
            recovery_id: None,
            signers: None,
            reason: None,
        };
        match &r.status {
            SignatureStatus::Pending => {}
            SignatureStatus::Signing { presign } => v.presign = Some(*presign),
            SignatureStatus::Done {
                r,
                s,
                recovery_id,
                signers,
            } => {
                v.r = Some(*r);
                v.s = Some(*s);
                v.recovery_id = Some(*recovery_id);
                v.signers = Some(signers.clone());
            }
            SignatureStatus::Failed { reason } => v.reason = Some(reason.clone()),
        }
        v
    }

    /// Done or failed.
    pub fn is_final(&self) -> bool {
        matches!(self.status.as_str(), "done" | "failed")
    }
}

/// `GET /v1/requests/{id}`: a key request or a signature request, tagged by `"kind"`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RequestView {
    Key(KeyView),
    Signature(SignatureView),
}

impl RequestView {
    /// Looks `id` up among key and signature requests.
    pub fn find(state: &State, id: &Hash32) -> Option<RequestView> {
        if let Some(k) = state.key(id) {
            return Some(RequestView::Key(KeyView::new(k)));
        }
        state
            .signature_request(id)
            .map(|r| RequestView::Signature(SignatureView::new(r, state)))
    }

    pub fn is_final(&self) -> bool {
        match self {
            RequestView::Key(k) => k.is_final(),
            RequestView::Signature(s) => s.is_final(),
        }
    }
}

/// Attestation evidence as the node presents it (the attestation crate's type: the format
/// names the verifier, the bytes are hex in JSON and size-bounded when decoded).
pub use tessera_attest::Evidence;

/// `POST /v1/heartbeats`: an operator says it is up, with fresh evidence. The signature covers
/// `postcard((network, identity, evidence, issued_at_ms))` under [`HEARTBEAT_DOMAIN`]; the
/// network is not sent, so a heartbeat for one network never counts on another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Heartbeat {
    pub identity: IdentityKey,
    pub evidence: Evidence,
    pub issued_at_ms: u64,
    pub signature: Signature,
}

impl Heartbeat {
    pub fn sign(
        identity: &Identity,
        network: &str,
        evidence: Evidence,
        issued_at_ms: u64,
    ) -> Heartbeat {
        let public = identity.public();
        let bytes = heartbeat_bytes(network, &public, &evidence, issued_at_ms);
        Heartbeat {
            identity: public,
            signature: identity.sign(HEARTBEAT_DOMAIN, &bytes),
            evidence,
            issued_at_ms,
        }
    }

    /// Checks the signature for `network`.
    pub fn verify(&self, network: &str) -> bool {
        let bytes = heartbeat_bytes(network, &self.identity, &self.evidence, self.issued_at_ms);
        !bytes.is_empty()
            && self
                .identity
                .verify(HEARTBEAT_DOMAIN, &bytes, &self.signature)
                .is_ok()
    }
}

fn heartbeat_bytes(
    network: &str,
    identity: &IdentityKey,
    evidence: &Evidence,
    issued_at_ms: u64,
) -> Vec<u8> {
    postcard::to_allocvec(&(network, identity, evidence, issued_at_ms)).unwrap_or_default()
}

/// Answer to an accepted heartbeat.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeartbeatReceipt {
    /// The operator counts as live until then (ledger clock, ms since the epoch).
    pub live_until_ms: u64,
    pub measurement: String,
}

/// `GET /v1/operators`: one row per operator of any keyring.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorView {
    pub identity: IdentityKey,
    pub address: String,
    pub region: String,
    pub keyrings: Vec<String>,
    pub live: bool,
    pub live_until_ms: Option<u64>,
    pub last_heartbeat_ms: Option<u64>,
    pub measurement: Option<String>,
    /// Why the last heartbeat was refused (attestation failure and the like).
    pub error: Option<String>,
}

/// `GET /v1/operators`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OperatorsPage {
    pub operators: Vec<OperatorView>,
}
