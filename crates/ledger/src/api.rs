//! The JSON bodies of the HTTP API, shared by the server and the client, and the heartbeat
//! that keeps an operator schedulable.

use serde::{Deserialize, Serialize};
use tessera_identity::{Identity, IdentityKey, Signature};

use crate::command::{CommandId, Entry, Hash32};
use crate::state::{
    KeyRecord, KeyStatus, RefreshRequest, RefreshStatus, SignatureRequest, SignatureStatus, State,
};

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

/// `GET /v1/keyrings/{id}`: a keyring's committee as it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringView {
    pub keyring_id: String,
    pub threshold: u16,
    /// The operators in keyring order (operator index = position).
    pub operators: Vec<crate::command::Operator>,
    pub owners: Vec<IdentityKey>,
    pub min_regions: u16,
    /// The keyring change running now, if any.
    pub change: Option<Hash32>,
}

/// `GET /v1/keyring-changes/{id}`: a keyring change and how far its resharing got.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyringChangeView {
    pub change_id: Hash32,
    pub keyring_id: String,
    /// The new committee's threshold and operators.
    pub threshold: u16,
    pub operators: Vec<crate::command::Operator>,
    /// `running`, `done` or `failed`.
    pub status: String,
    pub reason: Option<String>,
    /// Per key of the keyring, in key id order.
    pub keys: Vec<KeyReshareView>,
}

/// One key's resharing within a keyring change.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyReshareView {
    pub key_id: Hash32,
    /// Whether every new operator reported its new share.
    pub done: bool,
    /// Resharing sessions started for the key.
    pub attempts: u32,
    /// The running session, if any.
    pub session: Option<Hash32>,
}

impl KeyringChangeView {
    pub fn new(c: &crate::state::KeyringChange) -> KeyringChangeView {
        let reason = match &c.status {
            crate::state::ChangeStatus::Failed { reason } => Some(reason.clone()),
            _ => None,
        };
        KeyringChangeView {
            change_id: c.id,
            keyring_id: c.keyring_id.clone(),
            threshold: c.threshold,
            operators: c.operators.clone(),
            status: c.status.label().into(),
            reason,
            keys: c
                .keys
                .iter()
                .map(|(k, r)| KeyReshareView {
                    key_id: *k,
                    done: r.done.is_some(),
                    attempts: r.attempts,
                    session: r.session,
                })
                .collect(),
        }
    }
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
    /// The key's type (`ecdsa-secp256k1`, `eddsa-ed25519`, `schnorr-bip340`).
    #[serde(default)]
    pub key_type: String,
    /// The key's (untweaked) public key in its type's encoding, hex (compressed SEC1 for
    /// ECDSA).
    pub public_key: Option<String>,
    /// ECDSA: the digest signed. Schnorr: SHA-256 of `message`.
    pub digest: Hash32,
    /// The message of a Schnorr request, hex.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    pub tweak: Option<Hash32>,
    pub note: Option<String>,
    /// `pending`, `signing`, `done` or `failed`.
    pub status: String,
    /// The presign session assigned, while signing.
    pub presign: Option<Hash32>,
    pub r: Option<Hash32>,
    pub s: Option<Hash32>,
    pub recovery_id: Option<u8>,
    /// A finished Schnorr signature: 64 bytes hex (`r ‖ s`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signature: Option<String>,
    pub signers: Option<Vec<u16>>,
    pub reason: Option<String>,
    /// The approval lifecycle, for a request on a key in a workspace (`null` otherwise).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approval: Option<ApprovalView>,
}

/// Where a request stands under its policy: `pending → approved → signed`, or `rejected` /
/// `expired`, with the reason.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApprovalView {
    /// `pending`, `approved`, `signed`, `rejected` or `expired`.
    pub state: String,
    /// The policy the request was opened under (canonical text).
    pub policy: String,
    /// What approvals sign: the request digest the ledger computed and the policy digest.
    pub request_digest: Hash32,
    pub policy_digest: Hash32,
    pub deadline_ms: u64,
    pub approved_by: Vec<IdentityKey>,
    pub rejected_by: Vec<IdentityKey>,
    /// What the policy still needs, while pending.
    pub missing: Option<String>,
    /// Why it was rejected or expired, or why it cannot be signed as it stands (a stale policy).
    pub reason: Option<String>,
}

impl ApprovalView {
    /// The approval view of signature request `id`, if its key is governed.
    pub fn of_signature(state: &State, id: &Hash32) -> Option<ApprovalView> {
        let r = state.signature_request(id)?;
        let a = state.sign_approval(id)?;
        let mut v = ApprovalView::of(a);
        match (&r.status, a.state()) {
            (SignatureStatus::Done { .. }, _) => v.state = "signed".into(),
            (_, tessera_policy::State::Approved { .. }) => {
                if let Err(e) = state.check_sign_approved(id) {
                    v.reason = Some(e.to_string());
                }
            }
            _ => {}
        }
        Some(v)
    }

    pub fn of(a: &tessera_policy::Request) -> ApprovalView {
        let (missing, reason) = match a.state() {
            tessera_policy::State::Pending => match a.decision() {
                tessera_policy::Decision::Pending(m) => (Some(m.to_string()), None),
                tessera_policy::Decision::Approved => (None, None),
            },
            tessera_policy::State::Rejected { reason, .. } => {
                (None, Some(crate::state::reject_reason(reason)))
            }
            tessera_policy::State::Expired { at_ms } => {
                (None, Some(format!("no approval by the deadline {at_ms}")))
            }
            _ => (None, None),
        };
        ApprovalView {
            state: crate::state::state_label(a.state()).into(),
            policy: a.policy().policy().to_string(),
            request_digest: Hash32(a.subject().request_digest()),
            policy_digest: Hash32(a.subject().policy_digest()),
            deadline_ms: a.deadline_ms(),
            approved_by: a.approvals().iter().copied().collect(),
            rejected_by: a.rejections().iter().copied().collect(),
            missing,
            reason,
        }
    }
}

impl SignatureView {
    pub fn new(r: &SignatureRequest, state: &State) -> SignatureView {
        let key = state.key(&r.key);
        let public_key = match key.map(|k| &k.status) {
            Some(KeyStatus::Active { public_key, .. }) => Some(public_key.clone()),
            _ => None,
        };
        let mut v = SignatureView {
            request_id: r.id,
            key: r.key,
            key_type: key.map(|k| k.key_type.clone()).unwrap_or_default(),
            public_key,
            digest: r.digest,
            message: r.message.as_ref().map(hex::encode),
            tweak: r.tweak,
            note: r.note.clone(),
            status: r.status.label().into(),
            presign: None,
            r: None,
            s: None,
            recovery_id: None,
            signature: None,
            signers: None,
            reason: None,
            approval: ApprovalView::of_signature(state, &r.id),
        };
        let schnorr = r.is_schnorr();
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
                if schnorr {
                    v.signature = Some(format!("{r}{s}"));
                }
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
    /// A proposed workspace change.
    Admin(AdminView),
    /// A share refresh of a Schnorr key.
    Refresh(RefreshView),
}

/// A share refresh and where it stands.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefreshView {
    pub request_id: Hash32,
    pub key: Hash32,
    /// `pending`, `running`, `done` or `failed`.
    pub status: String,
    /// The running session, or the one whose shares the key now uses.
    pub session: Option<Hash32>,
    pub attempts: u32,
    pub reason: Option<String>,
}

impl RefreshView {
    pub fn new(r: &RefreshRequest) -> RefreshView {
        let (session, reason) = match &r.status {
            RefreshStatus::Pending => (None, None),
            RefreshStatus::Running { session } | RefreshStatus::Done { session } => {
                (Some(*session), None)
            }
            RefreshStatus::Failed { reason } => (None, Some(reason.clone())),
        };
        RefreshView {
            request_id: r.id,
            key: r.key,
            status: r.status.label().into(),
            session,
            attempts: r.attempts,
            reason,
        }
    }
}

/// A proposed change to the workspace registry and its approvals.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminView {
    pub request_id: Hash32,
    pub proposer: IdentityKey,
    pub change: tessera_policy::Change,
    /// `approved` means applied, unless `failed` says why it could not be.
    pub approval: ApprovalView,
    pub failed: Option<String>,
}

impl AdminView {
    pub fn new(a: &crate::state::AdminRequest) -> AdminView {
        AdminView {
            request_id: a.id,
            proposer: a.proposer,
            change: a.change.clone(),
            approval: ApprovalView::of(&a.request),
            failed: a.failed.clone(),
        }
    }
}

/// `GET /v1/requests`: every key, signature and admin request, in log order within each kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct RequestsPage {
    pub requests: Vec<RequestView>,
}

impl RequestsPage {
    pub fn new(state: &State) -> RequestsPage {
        let mut requests: Vec<RequestView> = state
            .keys()
            .into_iter()
            .map(|k| RequestView::Key(KeyView::new(k)))
            .collect();
        requests.extend(
            state
                .signature_requests()
                .into_iter()
                .map(|r| RequestView::Signature(SignatureView::new(r, state))),
        );
        requests.extend(
            state
                .admin_requests()
                .into_iter()
                .map(|a| RequestView::Admin(AdminView::new(a))),
        );
        requests.extend(
            state
                .refreshes()
                .into_iter()
                .map(|r| RequestView::Refresh(RefreshView::new(r))),
        );
        RequestsPage { requests }
    }
}

impl RequestView {
    /// Looks `id` up among key, signature, admin and refresh requests.
    pub fn find(state: &State, id: &Hash32) -> Option<RequestView> {
        if let Some(k) = state.key(id) {
            return Some(RequestView::Key(KeyView::new(k)));
        }
        if let Some(a) = state.admin_request(id) {
            return Some(RequestView::Admin(AdminView::new(a)));
        }
        if let Some(r) = state.refresh(id) {
            return Some(RequestView::Refresh(RefreshView::new(r)));
        }
        state
            .signature_request(id)
            .map(|r| RequestView::Signature(SignatureView::new(r, state)))
    }

    pub fn is_final(&self) -> bool {
        match self {
            RequestView::Key(k) => k.is_final(),
            RequestView::Signature(s) => s.is_final(),
            RequestView::Admin(a) => a.approval.state != "pending",
            RequestView::Refresh(r) => matches!(r.status.as_str(), "done" | "failed"),
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
