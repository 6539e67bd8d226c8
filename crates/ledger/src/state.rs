//! The state rules: a pure, deterministic fold over the log that the ledger runs before it
//! appends and every node runs on what it fetches.
//!
//! [`State::apply`] checks one entry, in this order: hash link and sequence number, network,
//! signature, replay, authorization (who may issue the action), then the semantic rules of the
//! action. Every check runs before anything changes, so a rejected entry leaves the state as it
//! was. [`State::skip`] steps over an entry whose link is sound but whose command was rejected,
//! so that a follower of an untrusted log treats it as a no-op and keeps following. Derived
//! state (keyrings, keys, signature requests, sessions) is read through accessors.
//!
//! Decisions the rules encode:
//! - A key is Active only when **all** `n` operators posted the identical `KeyGenerated`: every
//!   operator must hold a share, or later signer sets could not be chosen freely. Two different
//!   results mark the key Failed for good.
//! - The keygen session id is the `StartKeygen` command's id, so a keygen that is aborted and
//!   restarted runs under a fresh session id. Results posted before an abort are discarded.
//! - `1 ≤ threshold ≤ n ≤ 64`: the threshold ECDSA core supports `t = 1` (a single signer), so
//!   the ledger does not forbid it.
//! - Replay: a command id seen before, or a (signer, nonce) pair seen before, is a replay.
//! - `AbortSession` given a key or signature request id (rather than a session id) fails that
//!   request for good; that is how the scheduler gives up.
//! - A presign session that was assigned to a request and then aborted is never reused (some
//!   signers may have released shares); its request returns to Pending.
//! - Blame: an operator is excluded from a key's future presign sessions when, in some session
//!   of that key, at least half of the other members (and at least one) blamed it in
//!   `SessionFailed`. This is derived from the log, so it survives restarts and every node
//!   computes the same set. Keygen needs every operator and ignores exclusions.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::elliptic_curve::group::Group;
use k256::elliptic_curve::PrimeField;
use k256::{FieldBytes, ProjectivePoint, Scalar};
use tessera_identity::IdentityKey;

pub use governance::{
    approval_deadline, reject_reason, sign_request_digest, state_label, AdminRequest, GovRejection,
    APPROVAL_WINDOW_MS, MAX_APPROVAL_WINDOW_MS, MIN_APPROVAL_WINDOW_MS, SIGN_REQUEST_DIGEST_DOMAIN,
};

use crate::command::{
    verify_link, Action, Entry, Hash32, LinkError, Operator, SignedCommand,
    KEY_TYPE_ECDSA_SECP256K1,
};

/// Largest keyring, as in the threshold ECDSA core.
pub const MAX_OPERATORS: usize = 64;
/// Longest free-text field (notes, abort reasons).
pub const MAX_TEXT: usize = 1024;
/// Longest message a `RequestSchnorrSignature` may ask to sign (a Solana transaction message
/// is at most 1232 bytes).
pub const MAX_MESSAGE: usize = 8 << 10;
/// Most allowlist entries, platform keys or owners.
pub const MAX_LIST: usize = 1024;

/// Why an entry was refused. [`Rejection::kind`] classifies it (the HTTP status follows).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Rejection {
    #[error("broken hash chain: {0}")]
    Link(#[from] LinkError),
    #[error("command is for network {got:?}, this is {expected:?}")]
    WrongNetwork { expected: String, got: String },
    #[error("command signature does not verify under its signer {0}")]
    BadSignature(IdentityKey),
    #[error("replayed command {0}")]
    Replay(Hash32),
    #[error("replayed command: signer {signer} already used nonce {nonce}")]
    NonceReused { signer: IdentityKey, nonce: String },
    #[error("{action} may only be issued by the ledger key, not {signer}")]
    NotLedger {
        action: &'static str,
        signer: IdentityKey,
    },
    #[error("{signer} is not an owner of keyring {keyring:?}")]
    NotOwner {
        signer: IdentityKey,
        keyring: String,
    },
    #[error("{signer} is not an operator of keyring {keyring:?}")]
    NotOperator {
        signer: IdentityKey,
        keyring: String,
    },
    #[error("operator {index} is not a member of session {session}")]
    NotSessionMember { index: u16, session: Hash32 },
    #[error("entry 0 must be Genesis")]
    GenesisMissing,
    #[error("Genesis is only allowed as entry 0")]
    GenesisRepeated,
    #[error("unknown keyring {0:?}")]
    UnknownKeyring(String),
    #[error("unknown key {0}")]
    UnknownKey(Hash32),
    #[error("unknown request {0}")]
    UnknownRequest(Hash32),
    #[error("unknown session {0}")]
    UnknownSession(Hash32),
    #[error("keyring {0:?} already exists")]
    DuplicateKeyring(String),
    #[error("id {0} is already in use")]
    DuplicateId(Hash32),
    #[error("operator {index} already posted {action} for {target}")]
    Duplicate {
        index: u16,
        action: &'static str,
        target: Hash32,
    },
    #[error("threshold {threshold} is not in 1..={operators} (the number of operators)")]
    BadThreshold { threshold: u16, operators: usize },
    #[error("unsupported key type {0}")]
    UnsupportedKeyType(String),
    #[error("malformed {field}: {reason}")]
    Malformed { field: &'static str, reason: String },
    #[error("{what} is {actual}; {action} needs {needed}")]
    WrongState {
        what: String,
        actual: String,
        action: &'static str,
        needed: &'static str,
    },
    #[error("presign session {0} is not ready (not every signer posted PresignReady)")]
    PresignNotReady(Hash32),
    #[error("presign session {session} is already assigned to request {request}")]
    PresignUsed { session: Hash32, request: Hash32 },
    #[error("presign session {0} was aborted")]
    PresignAborted(Hash32),
    #[error(
        "presign session {session} is for key {session_key}, the request for key {request_key}"
    )]
    PresignWrongKey {
        session: Hash32,
        session_key: Hash32,
        request_key: Hash32,
    },
    #[error("signers {signers:?} span {got} region(s); keyring {keyring:?} needs signers from {needed} distinct regions")]
    TooFewRegions {
        keyring: String,
        signers: Vec<u16>,
        needed: u16,
        got: usize,
    },
    #[error("signature does not verify: {0}")]
    InvalidSignature(String),
    #[error("signature has a high s (must be at most n/2)")]
    HighS,
    #[error("recovery id {0} does not recover the key")]
    WrongRecoveryId(u8),
    #[error(
        "keyring {keyring:?} is being changed by {change}; {action} waits until the change is \
         done or failed"
    )]
    KeyringChanging {
        keyring: String,
        change: Hash32,
        action: &'static str,
    },
    #[error("{signer} is not an operator of the new committee of keyring change {change}")]
    NotNewOperator { signer: IdentityKey, change: Hash32 },
    /// A workspace, approval or deadline rule (see [`governance`]).
    #[error(transparent)]
    Governance(Box<GovRejection>),
}

impl From<GovRejection> for Rejection {
    fn from(g: GovRejection) -> Rejection {
        Rejection::Governance(Box::new(g))
    }
}

/// The caller's kind of fault, for mapping to HTTP statuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RejectionKind {
    /// 400: the command is malformed or for another network.
    Malformed,
    /// 403: bad signature or a signer not allowed to issue the action.
    Unauthorized,
    /// 404: it names a keyring, key, request or session that does not exist.
    Unknown,
    /// 409: replay, duplicate, or the target is not in a state that allows the action.
    Conflict,
}

impl Rejection {
    pub fn kind(&self) -> RejectionKind {
        use Rejection::*;
        match self {
            Link(_)
            | WrongNetwork { .. }
            | BadThreshold { .. }
            | UnsupportedKeyType(_)
            | Malformed { .. }
            | InvalidSignature(_)
            | HighS
            | WrongRecoveryId(_) => RejectionKind::Malformed,
            BadSignature(_)
            | NotLedger { .. }
            | NotOwner { .. }
            | NotOperator { .. }
            | NotSessionMember { .. }
            | NotNewOperator { .. } => RejectionKind::Unauthorized,
            UnknownKeyring(_) | UnknownKey(_) | UnknownRequest(_) | UnknownSession(_) => {
                RejectionKind::Unknown
            }
            Replay(_)
            | NonceReused { .. }
            | GenesisMissing
            | GenesisRepeated
            | DuplicateKeyring(_)
            | DuplicateId(_)
            | Duplicate { .. }
            | WrongState { .. }
            | PresignNotReady(_)
            | PresignUsed { .. }
            | PresignAborted(_)
            | PresignWrongKey { .. }
            | TooFewRegions { .. }
            | KeyringChanging { .. } => RejectionKind::Conflict,
            Governance(g) => g.kind(),
        }
    }
}

/// A registered keyring. Operator `i` in `operators` is party index `i` in every session.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Keyring {
    pub id: String,
    pub threshold: u16,
    pub operators: Vec<Operator>,
    pub owners: Vec<IdentityKey>,
    pub registered_seq: u64,
    /// Every signing set must span this many distinct regions (`SetSignerRegions`; 1 when
    /// never set).
    pub min_regions: u16,
}

/// The index of `who` in a committee.
fn index_of(operators: &[Operator], who: &IdentityKey) -> Option<u16> {
    operators
        .iter()
        .position(|o| o.identity == *who)
        .and_then(|i| u16::try_from(i).ok())
}

impl Keyring {
    /// The index of `who` among the operators.
    pub fn operator_index(&self, who: &IdentityKey) -> Option<u16> {
        index_of(&self.operators, who)
    }

    pub fn operator(&self, index: u16) -> Option<&Operator> {
        self.operators.get(usize::from(index))
    }

    pub fn is_owner(&self, who: &IdentityKey) -> bool {
        self.owners.contains(who)
    }

    /// The number of operators, `n`.
    pub fn n(&self) -> u16 {
        u16::try_from(self.operators.len()).unwrap_or(u16::MAX)
    }

    /// The distinct regions of `members` (operator indices).
    pub fn regions_of(&self, members: &[u16]) -> BTreeSet<&str> {
        members
            .iter()
            .filter_map(|i| self.operator(*i))
            .map(|o| o.region.as_str())
            .collect()
    }

    /// Whether `signers` span the keyring's required number of regions.
    pub fn regions_ok(&self, signers: &[u16]) -> bool {
        self.regions_of(signers).len() >= usize::from(self.min_regions)
    }
}

/// Where a key request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyStatus {
    /// Waiting for the scheduler's `StartKeygen`.
    Pending,
    /// Keygen running under `session` (the `StartKeygen` command id).
    Generating {
        session: Hash32,
    },
    /// Every operator reported this key.
    Active {
        /// 33-byte SEC1 compressed point, lowercase hex.
        public_key: String,
        chain_code: Hash32,
    },
    Failed {
        reason: String,
    },
}

impl KeyStatus {
    pub fn label(&self) -> &'static str {
        match self {
            KeyStatus::Pending => "pending",
            KeyStatus::Generating { .. } => "generating",
            KeyStatus::Active { .. } => "active",
            KeyStatus::Failed { .. } => "failed",
        }
    }
}

/// A key request and the key it produced. Its id is the `RequestKey` command id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyRecord {
    pub id: Hash32,
    pub keyring_id: String,
    pub key_type: String,
    pub requester: IdentityKey,
    pub requested_seq: u64,
    pub requested_at_ms: u64,
    pub status: KeyStatus,
    /// `KeyGenerated` results of the current keygen session, by operator index: public key,
    /// chain code, public shares.
    pub results: BTreeMap<u16, (String, Hash32, Vec<String>)>,
    /// How many keygen sessions were started.
    pub attempts: u32,
    /// The refresh or reshare session whose shares are in use (`None`: the keygen's).
    pub generation: Option<Hash32>,
    /// Every operator's public share of the key (hex SEC1 compressed, by operator index) for
    /// the shares in use: set when keygen completes, replaced when a keyring change reshares
    /// the key. Empty for Schnorr keys and before keygen completes.
    pub public_shares: Vec<String>,
    /// The keygen session that produced the key (its id is the ECDSA protocol's key id, which
    /// stays the same across reshares); `None` until keygen completes.
    pub keygen_session: Option<Hash32>,
}

/// Where a signature request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SignatureStatus {
    /// Waiting for the scheduler's `StartSign`.
    Pending,
    /// Assigned to presign session `presign`.
    Signing {
        presign: Hash32,
    },
    Done {
        r: Hash32,
        s: Hash32,
        recovery_id: u8,
        /// Operator indices that posted this signature (the presign session's signers).
        signers: Vec<u16>,
    },
    Failed {
        reason: String,
    },
}

impl SignatureStatus {
    pub fn label(&self) -> &'static str {
        match self {
            SignatureStatus::Pending => "pending",
            SignatureStatus::Signing { .. } => "signing",
            SignatureStatus::Done { .. } => "done",
            SignatureStatus::Failed { .. } => "failed",
        }
    }
}

/// A signature request. Its id is the `RequestSignature` command id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignatureRequest {
    pub id: Hash32,
    pub key: Hash32,
    pub digest: Hash32,
    pub tweak: Option<Hash32>,
    /// The message of a Schnorr request (`RequestSchnorrSignature`), whose `digest` is then
    /// SHA-256 of it; `None` for an ECDSA request, which signs `digest` itself.
    pub message: Option<Vec<u8>>,
    pub note: Option<String>,
    pub requester: IdentityKey,
    pub requested_seq: u64,
    pub requested_at_ms: u64,
    pub status: SignatureStatus,
    /// `issued_at_ms` of the `StartSign` (or `StartSchnorrSign`) that started the current
    /// attempt.
    pub sign_started_at_ms: Option<u64>,
    /// `SignatureDone` posts of the current assignment, by operator index: (r, s, recovery id).
    pub shares: BTreeMap<u16, (Hash32, Hash32, u8)>,
    /// How many signing sessions were started (presign sessions assigned, or FROST sessions).
    pub attempts: u32,
}

impl SignatureRequest {
    /// Whether this is a Schnorr (FROST) request.
    pub fn is_schnorr(&self) -> bool {
        self.message.is_some()
    }
}

/// A presign session started by `StartPresign`, or a FROST signing session started by
/// `StartSchnorrSign` (`frost`): kept in the same table so that aborts, timeouts, blame and
/// exclusion treat both alike. A FROST session is created ready and assigned to its request,
/// so it never counts towards a pool and no `StartSign` can take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PresignSession {
    pub id: Hash32,
    pub key: Hash32,
    /// Sorted operator indices, `threshold` of them.
    pub signers: Vec<u16>,
    /// Signers that posted `PresignReady`.
    pub ready: BTreeSet<u16>,
    /// The signature request that consumed it.
    pub assigned: Option<Hash32>,
    pub aborted: Option<String>,
    pub started_seq: u64,
    pub started_at_ms: u64,
    /// A FROST signing session (`StartSchnorrSign`), not a presign session.
    pub frost: bool,
}

impl PresignSession {
    /// Every signer posted `PresignReady`.
    pub fn is_ready(&self) -> bool {
        self.signers.iter().all(|i| self.ready.contains(i))
    }

    /// Ready, not assigned, not aborted: `StartSign` may use it.
    pub fn is_available(&self) -> bool {
        self.is_ready() && self.assigned.is_none() && self.aborted.is_none()
    }

    /// Not assigned and not aborted: counts towards the pool (running or ready).
    pub fn is_unassigned(&self) -> bool {
        self.assigned.is_none() && self.aborted.is_none()
    }
}

/// Where a refresh request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RefreshStatus {
    /// Waiting for the scheduler's `StartRefresh`.
    Pending,
    /// Running under `session` (the `StartRefresh` command id).
    Running {
        session: Hash32,
    },
    /// Every operator stored its new share; the key uses the shares of `session`.
    Done {
        session: Hash32,
    },
    Failed {
        reason: String,
    },
}

impl RefreshStatus {
    pub fn label(&self) -> &'static str {
        match self {
            RefreshStatus::Pending => "pending",
            RefreshStatus::Running { .. } => "running",
            RefreshStatus::Done { .. } => "done",
            RefreshStatus::Failed { .. } => "failed",
        }
    }
}

/// A share refresh of a Schnorr key. Its id is the `RequestRefresh` command id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshRequest {
    pub id: Hash32,
    pub key: Hash32,
    pub requester: IdentityKey,
    pub requested_seq: u64,
    pub requested_at_ms: u64,
    pub status: RefreshStatus,
    /// The key's share generation when the current (or last) session started: the shares the
    /// refresh replaces.
    pub previous: Option<Hash32>,
    /// Operators that posted `RefreshDone` in the current session.
    pub results: BTreeSet<u16>,
    /// How many sessions were started.
    pub attempts: u32,
}

/// A refresh session started by `StartRefresh`; its members are all the keyring's operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RefreshSession {
    pub id: Hash32,
    pub request: Hash32,
    pub key: Hash32,
    pub aborted: Option<String>,
    pub started_seq: u64,
    pub started_at_ms: u64,
}

/// A keygen session started by `StartKeygen`; its members are all the keyring's operators.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeygenSession {
    pub id: Hash32,
    pub key: Hash32,
    pub aborted: Option<String>,
    pub started_seq: u64,
    pub started_at_ms: u64,
}

/// A session of any kind, by id.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionRef<'a> {
    Keygen(&'a KeygenSession),
    Presign(&'a PresignSession),
    Refresh(&'a RefreshSession),
    Reshare(&'a ReshareSession),
}

/// One `SessionFailed` report.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailureReport {
    pub seq: u64,
    pub reporter: u16,
    pub blamed: Vec<u16>,
    pub check: String,
}

/// The state folded from the log. Two states are equal when they folded the same entries.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct State {
    network: String,
    ledger_key: IdentityKey,
    next_seq: u64,
    head: Hash32,
    commands: HashSet<Hash32>,
    nonces: HashSet<(IdentityKey, [u8; 16])>,
    allowlist: Vec<String>,
    platform_keys: Vec<IdentityKey>,
    keyrings: BTreeMap<String, Keyring>,
    keys: BTreeMap<Hash32, KeyRecord>,
    signatures: BTreeMap<Hash32, SignatureRequest>,
    presigns: BTreeMap<Hash32, PresignSession>,
    keygens: BTreeMap<Hash32, KeygenSession>,
    refreshes: BTreeMap<Hash32, RefreshRequest>,
    refresh_sessions: BTreeMap<Hash32, RefreshSession>,
    changes: BTreeMap<Hash32, KeyringChange>,
    reshare_sessions: BTreeMap<Hash32, ReshareSession>,
    failures: BTreeMap<Hash32, Vec<FailureReport>>,
    gov: governance::Governance,
}

/// What an accepted entry changes; computed by `plan` (which only reads) and applied by `exec`.
enum Plan {
    Genesis {
        allowlist: Vec<String>,
        platform_keys: Vec<IdentityKey>,
    },
    RegisterKeyring(Keyring),
    SetSignerRegions {
        keyring_id: String,
        min_regions: u16,
    },
    SetAllowlist(Vec<String>),
    StartKeygen(KeygenSession),
    StartPresign(PresignSession),
    StartSign {
        request: Hash32,
        presign: Hash32,
        at_ms: u64,
    },
    StartSchnorrSign(PresignSession),
    RequestRefresh(RefreshRequest),
    StartRefresh(RefreshSession),
    RefreshDone {
        request: Hash32,
        index: u16,
        done: bool,
    },
    AbortRefresh {
        session: Hash32,
        request: Hash32,
        reason: String,
    },
    FailRefresh {
        request: Hash32,
        reason: String,
    },
    AbortPresign {
        session: Hash32,
        reason: String,
        release: Option<Hash32>,
    },
    AbortKeygen {
        session: Hash32,
        key: Hash32,
        reason: String,
    },
    FailKey {
        key: Hash32,
        reason: String,
    },
    FailSignature {
        request: Hash32,
        reason: String,
    },
    RequestKey(KeyRecord),
    RequestSignature(SignatureRequest),
    KeyGenerated {
        key: Hash32,
        index: u16,
        public_key: String,
        chain_code: Hash32,
        public_shares: Vec<String>,
        outcome: KeygenOutcome,
    },
    PresignReady {
        session: Hash32,
        index: u16,
    },
    SignatureDone {
        request: Hash32,
        index: u16,
        sig: (Hash32, Hash32, u8),
        done: Option<Vec<u16>>,
    },
    SessionFailed {
        session: Hash32,
        report: FailureReport,
    },
    Gov(governance::GovPlan),
    Reshare(reshare::ResharePlan),
}

enum KeygenOutcome {
    Partial,
    Active,
    Conflict(String),
}

impl State {
    /// The empty state of `network`, whose ledger signs with `ledger_key`.
    pub fn new(network: String, ledger_key: IdentityKey) -> State {
        State {
            network,
            ledger_key,
            next_seq: 0,
            head: Hash32::ZERO,
            commands: HashSet::new(),
            nonces: HashSet::new(),
            allowlist: Vec::new(),
            platform_keys: Vec::new(),
            keyrings: BTreeMap::new(),
            keys: BTreeMap::new(),
            signatures: BTreeMap::new(),
            presigns: BTreeMap::new(),
            keygens: BTreeMap::new(),
            refreshes: BTreeMap::new(),
            refresh_sessions: BTreeMap::new(),
            changes: BTreeMap::new(),
            reshare_sessions: BTreeMap::new(),
            failures: BTreeMap::new(),
            gov: governance::Governance::default(),
        }
    }

    /// Checks `entry` against every rule and, if it passes, applies it. On `Err` nothing
    /// changed.
    pub fn apply(&mut self, entry: &Entry) -> Result<(), Rejection> {
        let plan = self.plan(entry)?;
        self.exec(entry, plan);
        Ok(())
    }

    /// Steps over an entry that chains correctly but whose command is not applied: checks only
    /// the hash link and sequence number (the first check of [`apply`](Self::apply)) and moves
    /// the head to `entry` — next seq and head hash — without checking or applying the command
    /// and without recording its id or nonce as seen.
    ///
    /// A follower uses it for an entry that [`apply`](Self::apply) rejected for anything but
    /// [`Rejection::Link`]: a forged, replayed or unauthorized command inside a well-formed log
    /// is a no-op, like an invalid transaction in a block, and the follower keeps following the
    /// entries after it. A broken link (a rewritten history) is refused here too, with
    /// `Rejection::Link`, and nothing changes. Since the command is not recorded, the same
    /// command can still be applied later by an entry where it does verify.
    pub fn skip(&mut self, entry: &Entry) -> Result<(), Rejection> {
        verify_link(&self.head, self.next_seq, entry)?;
        self.head = entry.hash;
        self.next_seq = entry.seq.saturating_add(1);
        Ok(())
    }

    /// Checks `entry` as [`apply`](Self::apply) would, without applying it.
    pub fn check(&self, entry: &Entry) -> Result<(), Rejection> {
        self.plan(entry).map(|_| ())
    }

    /// The entry that would put `command` at the head of this log (not checked).
    pub fn next_entry(&self, command: SignedCommand) -> Entry {
        Entry::new(self.next_seq, self.head, command)
    }

    pub fn network(&self) -> &str {
        &self.network
    }

    pub fn ledger_key(&self) -> IdentityKey {
        self.ledger_key
    }

    /// The number of entries folded (applied or skipped), i.e. the seq of the next one.
    pub fn next_seq(&self) -> u64 {
        self.next_seq
    }

    /// The seq of the last entry folded (applied or skipped).
    pub fn head_seq(&self) -> Option<u64> {
        self.next_seq.checked_sub(1)
    }

    /// The hash of the last entry folded (applied or skipped; zeros before the first).
    pub fn head_hash(&self) -> Hash32 {
        self.head
    }

    /// Whether a command with this id was applied.
    pub fn contains_command(&self, id: &Hash32) -> bool {
        self.commands.contains(id)
    }

    pub fn allowlist(&self) -> &[String] {
        &self.allowlist
    }

    pub fn platform_keys(&self) -> &[IdentityKey] {
        &self.platform_keys
    }

    pub fn keyring(&self, id: &str) -> Option<&Keyring> {
        self.keyrings.get(id)
    }

    pub fn keyrings(&self) -> impl Iterator<Item = &Keyring> {
        self.keyrings.values()
    }

    pub fn key(&self, id: &Hash32) -> Option<&KeyRecord> {
        self.keys.get(id)
    }

    /// Key requests in log order.
    pub fn keys(&self) -> Vec<&KeyRecord> {
        let mut v: Vec<_> = self.keys.values().collect();
        v.sort_by_key(|k| k.requested_seq);
        v
    }

    /// The keyring a key belongs to.
    pub fn key_keyring(&self, key: &Hash32) -> Option<&Keyring> {
        self.keys
            .get(key)
            .and_then(|k| self.keyrings.get(&k.keyring_id))
    }

    pub fn signature_request(&self, id: &Hash32) -> Option<&SignatureRequest> {
        self.signatures.get(id)
    }

    /// Signature requests in log order.
    pub fn signature_requests(&self) -> Vec<&SignatureRequest> {
        let mut v: Vec<_> = self.signatures.values().collect();
        v.sort_by_key(|r| r.requested_seq);
        v
    }

    pub fn presign(&self, id: &Hash32) -> Option<&PresignSession> {
        self.presigns.get(id)
    }

    /// All presign sessions, oldest first.
    pub fn presigns(&self) -> Vec<&PresignSession> {
        let mut v: Vec<_> = self.presigns.values().collect();
        v.sort_by_key(|p| p.started_seq);
        v
    }

    /// Presign sessions of `key`, oldest first.
    pub fn presigns_for_key(&self, key: &Hash32) -> Vec<&PresignSession> {
        let mut v: Vec<_> = self.presigns.values().filter(|p| p.key == *key).collect();
        v.sort_by_key(|p| p.started_seq);
        v
    }

    pub fn keygen(&self, session: &Hash32) -> Option<&KeygenSession> {
        self.keygens.get(session)
    }

    /// The current keygen session of a key request, while it is Generating.
    pub fn keygen_session(&self, key: &Hash32) -> Option<Hash32> {
        match self.keys.get(key).map(|k| &k.status) {
            Some(KeyStatus::Generating { session }) => Some(*session),
            _ => None,
        }
    }

    pub fn refresh(&self, id: &Hash32) -> Option<&RefreshRequest> {
        self.refreshes.get(id)
    }

    /// Refresh requests in log order.
    pub fn refreshes(&self) -> Vec<&RefreshRequest> {
        let mut v: Vec<_> = self.refreshes.values().collect();
        v.sort_by_key(|r| r.requested_seq);
        v
    }

    pub fn refresh_session(&self, id: &Hash32) -> Option<&RefreshSession> {
        self.refresh_sessions.get(id)
    }

    /// Every session started for refresh request `request`, oldest first.
    pub fn refresh_sessions_of(&self, request: &Hash32) -> Vec<&RefreshSession> {
        let mut v: Vec<_> = self
            .refresh_sessions
            .values()
            .filter(|s| s.request == *request)
            .collect();
        v.sort_by_key(|s| s.started_seq);
        v
    }

    /// A keygen, presign (or FROST signing) or refresh session by id.
    pub fn session(&self, id: &Hash32) -> Option<SessionRef<'_>> {
        if let Some(p) = self.presigns.get(id) {
            return Some(SessionRef::Presign(p));
        }
        if let Some(r) = self.refresh_sessions.get(id) {
            return Some(SessionRef::Refresh(r));
        }
        if let Some(r) = self.reshare_sessions.get(id) {
            return Some(SessionRef::Reshare(r));
        }
        self.keygens.get(id).map(SessionRef::Keygen)
    }

    /// Operator indices taking part in a session (all operators for keygen; the dealers, old
    /// indices, for a reshare session, whose new committee is the change's operators).
    pub fn session_members(&self, id: &Hash32) -> Option<Vec<u16>> {
        match self.session(id)? {
            SessionRef::Presign(p) => Some(p.signers.clone()),
            SessionRef::Keygen(k) => {
                let n = self.key_keyring(&k.key)?.n();
                Some((0..n).collect())
            }
            SessionRef::Refresh(r) => {
                let n = self.key_keyring(&r.key)?.n();
                Some((0..n).collect())
            }
            SessionRef::Reshare(r) => Some(r.dealers.clone()),
        }
    }

    /// `SessionFailed` reports for a session, in log order.
    pub fn failure_reports(&self, session: &Hash32) -> &[FailureReport] {
        self.failures.get(session).map(Vec::as_slice).unwrap_or(&[])
    }

    /// Operators excluded from `key`'s future presign sessions by blame (see the module doc).
    /// Only sessions of the keyring's current committee count: after a keyring change the
    /// indices name other operators. Blame in reshare sessions is kept per change
    /// ([`KeyReshare::excluded`]).
    pub fn excluded_operators(&self, key: &Hash32) -> BTreeSet<u16> {
        let mut out = BTreeSet::new();
        let since = self
            .keys
            .get(key)
            .map(|k| self.committee_since(&k.keyring_id))
            .unwrap_or(0);
        for (session, reports) in &self.failures {
            let Some(members) = self.session_members(session) else {
                continue;
            };
            let belongs = match self.session(session) {
                Some(SessionRef::Presign(p)) => p.key == *key && p.started_seq >= since,
                Some(SessionRef::Keygen(k)) => k.key == *key && k.started_seq >= since,
                Some(SessionRef::Refresh(r)) => r.key == *key && r.started_seq >= since,
                Some(SessionRef::Reshare(_)) | None => false,
            };
            if !belongs {
                continue;
            }
            let blamed: BTreeSet<u16> = reports.iter().flat_map(|r| r.blamed.clone()).collect();
            for x in blamed {
                let accusers = reports
                    .iter()
                    .filter(|r| r.reporter != x && r.blamed.contains(&x))
                    .count();
                let others = members.len().saturating_sub(1);
                if accusers >= 1 && accusers * 2 >= others {
                    out.insert(x);
                }
            }
        }
        out
    }

    /// Identities of the operators an action asks to act or to take note (call it after the
    /// entry was applied): keygen/presign/sign starts and aborts go to the session's members,
    /// results go to the other members of the same session, Genesis and allowlist changes and
    /// new keyrings to the operators concerned. Requests by owners concern nobody directly (the
    /// scheduler answers them with a start command).
    pub fn concerned_operators(&self, action: &Action) -> BTreeSet<IdentityKey> {
        let ids = |ring: Option<&Keyring>, idx: &[u16]| -> BTreeSet<IdentityKey> {
            ring.map(|r| {
                idx.iter()
                    .filter_map(|i| r.operator(*i).map(|o| o.identity))
                    .collect()
            })
            .unwrap_or_default()
        };
        let all = |ring: Option<&Keyring>| -> BTreeSet<IdentityKey> {
            ring.map(|r| r.operators.iter().map(|o| o.identity).collect())
                .unwrap_or_default()
        };
        let session = |id: &Hash32| -> BTreeSet<IdentityKey> {
            match self.session(id) {
                Some(SessionRef::Presign(p)) => ids(self.key_keyring(&p.key), &p.signers),
                Some(SessionRef::Keygen(k)) => all(self.key_keyring(&k.key)),
                Some(SessionRef::Refresh(r)) => all(self.key_keyring(&r.key)),
                Some(SessionRef::Reshare(r)) => self.reshare_concerned(r),
                None => BTreeSet::new(),
            }
        };
        let refresh_ring = |request: &Hash32| {
            self.refreshes
                .get(request)
                .and_then(|r| self.key_keyring(&r.key))
        };
        match action {
            Action::Genesis { .. } | Action::SetAllowlist { .. } => self
                .keyrings
                .values()
                .flat_map(|r| r.operators.iter().map(|o| o.identity))
                .collect(),
            Action::RegisterKeyring { operators, .. } => {
                operators.iter().map(|o| o.identity).collect()
            }
            Action::SetSignerRegions { keyring_id, .. } => all(self.keyrings.get(keyring_id)),
            Action::StartKeygen { request } | Action::KeyGenerated { request, .. } => {
                all(self.key_keyring(request))
            }
            Action::StartPresign { session: id, .. }
            | Action::PresignReady { session: id }
            | Action::SessionFailed { session: id, .. } => session(id),
            Action::StartSign { presign, .. } => session(presign),
            Action::StartSchnorrSign { request, signers } => {
                let key = self.signatures.get(request).map(|r| r.key);
                ids(key.and_then(|k| self.key_keyring(&k)), signers)
            }
            Action::AbortSession { session: id, .. } => {
                if self.session(id).is_some() {
                    session(id)
                } else if let Some(c) = self.changes.get(id) {
                    self.change_concerned(c)
                } else if self.keys.contains_key(id) {
                    all(self.key_keyring(id))
                } else if self.refreshes.contains_key(id) {
                    all(refresh_ring(id))
                } else {
                    match self.signatures.get(id).map(|r| &r.status) {
                        Some(SignatureStatus::Signing { presign }) => session(presign),
                        _ => BTreeSet::new(),
                    }
                }
            }
            Action::SignatureDone { request, .. } => {
                let last = self.signatures.get(request).and_then(|r| match r.status {
                    SignatureStatus::Signing { presign } => Some(presign),
                    _ => None,
                });
                match last {
                    Some(p) => session(&p),
                    None => self
                        .presigns
                        .values()
                        .find(|p| p.assigned == Some(*request))
                        .map(|p| session(&p.id))
                        .unwrap_or_default(),
                }
            }
            Action::StartRefresh { request } | Action::RefreshDone { request, .. } => {
                all(refresh_ring(request))
            }
            Action::ChangeKeyring { .. } => self
                .changes
                .values()
                .max_by_key(|c| c.requested_seq)
                .map(|c| self.change_concerned(c))
                .unwrap_or_default(),
            Action::StartReshare { .. } => self
                .reshare_sessions
                .values()
                .max_by_key(|r| r.started_seq)
                .map(|r| self.reshare_concerned(r))
                .unwrap_or_default(),
            Action::ReshareDone { session: id, .. } => session(id),
            Action::RequestKey { .. }
            | Action::RequestSignature { .. }
            | Action::RequestSchnorrSignature { .. }
            | Action::RequestRefresh { .. } => BTreeSet::new(),
            Action::ProposeChange { .. }
            | Action::Approve { .. }
            | Action::ExpireRequest { .. } => BTreeSet::new(),
        }
    }

    /// Whether `action` concerns the operator `who` (see [`concerned_operators`](Self::concerned_operators)).
    pub fn concerns(&self, action: &Action, who: &IdentityKey) -> bool {
        self.concerned_operators(action).contains(who)
    }

    // ---- checking -------------------------------------------------------------------------

    fn plan(&self, entry: &Entry) -> Result<Plan, Rejection> {
        verify_link(&self.head, self.next_seq, entry)?;
        let sc = &entry.command;
        let cmd = &sc.command;
        if cmd.network != self.network {
            return Err(Rejection::WrongNetwork {
                expected: self.network.clone(),
                got: cmd.network.clone(),
            });
        }
        sc.verify()
            .map_err(|_| Rejection::BadSignature(sc.signer))?;
        let id = sc.id();
        if self.commands.contains(&id) {
            return Err(Rejection::Replay(id));
        }
        if self.nonces.contains(&(sc.signer, cmd.nonce)) {
            return Err(Rejection::NonceReused {
                signer: sc.signer,
                nonce: hex::encode(cmd.nonce),
            });
        }
        let ctx = Ctx {
            seq: entry.seq,
            id,
            signer: sc.signer,
            at_ms: cmd.issued_at_ms,
            action: cmd.action.name(),
        };
        if ledger_only(&cmd.action) && ctx.signer != self.ledger_key {
            return Err(Rejection::NotLedger {
                action: ctx.action,
                signer: ctx.signer,
            });
        }
        match (&cmd.action, entry.seq) {
            (Action::Genesis { .. }, 0) => {}
            (Action::Genesis { .. }, _) => return Err(Rejection::GenesisRepeated),
            (_, 0) => return Err(Rejection::GenesisMissing),
            _ => {}
        }
        match &cmd.action {
            Action::Genesis {
                allowlist,
                platform_keys,
            } => {
                check_allowlist(allowlist)?;
                check_list("platform_keys", platform_keys)?;
                Ok(Plan::Genesis {
                    allowlist: allowlist.clone(),
                    platform_keys: platform_keys.clone(),
                })
            }
            Action::SetAllowlist { allowlist } => {
                check_allowlist(allowlist)?;
                Ok(Plan::SetAllowlist(allowlist.clone()))
            }
            Action::RegisterKeyring {
                keyring_id,
                threshold,
                operators,
                owners,
            } => self.plan_register(&ctx, keyring_id, *threshold, operators, owners),
            Action::StartKeygen { request } => self.plan_start_keygen(&ctx, request),
            Action::StartPresign {
                key,
                session,
                signers,
            } => self.plan_start_presign(&ctx, key, session, signers),
            Action::StartSign { request, presign } => self.plan_start_sign(&ctx, request, presign),
            Action::AbortSession { session, reason } => self.plan_abort(session, reason),
            Action::RequestKey {
                keyring_id,
                key_type,
            } => self.plan_request_key(&ctx, keyring_id, key_type),
            Action::RequestSignature {
                key,
                digest,
                tweak,
                note,
                deadline_ms,
            } => self
                .plan_request_signature(&ctx, key, digest, tweak, note)
                .and_then(|p| self.plan_open_sign(&ctx, p, *deadline_ms)),
            Action::KeyGenerated {
                request,
                public_key,
                chain_code,
                public_shares,
            } => self.plan_key_generated(&ctx, request, public_key, chain_code, public_shares),
            Action::PresignReady { session } => self.plan_presign_ready(&ctx, session),
            Action::SignatureDone {
                request,
                r,
                s,
                recovery_id,
            } => self.plan_signature_done(&ctx, request, (*r, *s, *recovery_id)),
            Action::SessionFailed {
                session,
                blamed,
                check,
            } => self.plan_session_failed(&ctx, session, blamed, check),
            Action::ProposeChange {
                change,
                deadline_ms,
            } => self.plan_propose(&ctx, change, *deadline_ms),
            Action::Approve { request, approval } => self.plan_approve(&ctx, request, approval),
            Action::ExpireRequest { request } => self.plan_expire(&ctx, request),
            Action::RequestSchnorrSignature {
                key,
                message,
                note,
                deadline_ms,
            } => self
                .plan_request_schnorr(&ctx, key, &message.0, note)
                .and_then(|p| self.plan_open_sign(&ctx, p, *deadline_ms)),
            Action::StartSchnorrSign { request, signers } => {
                self.plan_start_schnorr_sign(&ctx, request, signers)
            }
            Action::RequestRefresh { key } => self.plan_request_refresh(&ctx, key),
            Action::SetSignerRegions {
                keyring_id,
                min_regions,
            } => self.plan_set_regions(keyring_id, *min_regions),
            Action::StartRefresh { request } => self.plan_start_refresh(&ctx, request),
            Action::RefreshDone {
                request,
                public_key,
            } => self.plan_refresh_done(&ctx, request, public_key),
            Action::ChangeKeyring {
                keyring_id,
                threshold,
                operators,
            } => self.plan_change_keyring(&ctx, keyring_id, *threshold, operators),
            Action::StartReshare {
                change,
                key,
                dealers,
            } => self.plan_start_reshare(&ctx, change, key, dealers),
            Action::ReshareDone {
                session,
                public_shares,
            } => self.plan_reshare_done(&ctx, session, public_shares),
        }
    }

    fn id_in_use(&self, id: &Hash32) -> bool {
        self.commands.contains(id)
            || self.keys.contains_key(id)
            || self.signatures.contains_key(id)
            || self.presigns.contains_key(id)
            || self.keygens.contains_key(id)
            || self.refreshes.contains_key(id)
            || self.refresh_sessions.contains_key(id)
            || self.changes.contains_key(id)
            || self.reshare_sessions.contains_key(id)
    }

    /// The keyring of `key` and the signer's operator index in it.
    fn operator_of_key(&self, ctx: &Ctx, key: &Hash32) -> Result<(&Keyring, u16), Rejection> {
        let rec = self.keys.get(key).ok_or(Rejection::UnknownKey(*key))?;
        let ring = self
            .keyrings
            .get(&rec.keyring_id)
            .ok_or_else(|| Rejection::UnknownKeyring(rec.keyring_id.clone()))?;
        let index = ring
            .operator_index(&ctx.signer)
            .ok_or_else(|| Rejection::NotOperator {
                signer: ctx.signer,
                keyring: ring.id.clone(),
            })?;
        Ok((ring, index))
    }

    fn plan_register(
        &self,
        ctx: &Ctx,
        keyring_id: &str,
        threshold: u16,
        operators: &[Operator],
        owners: &[IdentityKey],
    ) -> Result<Plan, Rejection> {
        if keyring_id.is_empty()
            || keyring_id.len() > 64
            || !keyring_id
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        {
            return Err(malformed(
                "keyring_id",
                "1 to 64 characters from [A-Za-z0-9._-]",
            ));
        }
        if self.keyrings.contains_key(keyring_id) {
            return Err(Rejection::DuplicateKeyring(keyring_id.to_string()));
        }
        if operators.is_empty() || operators.len() > MAX_OPERATORS {
            return Err(malformed(
                "operators",
                format!("need 1 to {MAX_OPERATORS} operators"),
            ));
        }
        let distinct: BTreeSet<_> = operators.iter().map(|o| o.identity).collect();
        if distinct.len() != operators.len() {
            return Err(malformed("operators", "an identity appears twice"));
        }
        if operators
            .iter()
            .any(|o| o.address.len() > 256 || o.region.len() > 64)
        {
            return Err(malformed(
                "operators",
                "address over 256 or region over 64 bytes",
            ));
        }
        if threshold == 0 || usize::from(threshold) > operators.len() {
            return Err(Rejection::BadThreshold {
                threshold,
                operators: operators.len(),
            });
        }
        if owners.is_empty() {
            return Err(malformed("owners", "a keyring needs at least one owner"));
        }
        check_list("owners", owners)?;
        Ok(Plan::RegisterKeyring(Keyring {
            id: keyring_id.to_string(),
            threshold,
            operators: operators.to_vec(),
            owners: owners.to_vec(),
            registered_seq: ctx.seq,
            min_regions: 1,
        }))
    }

    fn plan_set_regions(&self, keyring_id: &str, min_regions: u16) -> Result<Plan, Rejection> {
        let ring = self
            .keyrings
            .get(keyring_id)
            .ok_or_else(|| Rejection::UnknownKeyring(keyring_id.to_string()))?;
        let all: Vec<u16> = (0..ring.n()).collect();
        let regions = ring.regions_of(&all).len();
        if min_regions == 0 || min_regions > ring.threshold || usize::from(min_regions) > regions {
            return Err(malformed(
                "min_regions",
                format!(
                    "must be 1 to the threshold {} and at most the keyring's {regions} distinct \
                     region(s)",
                    ring.threshold
                ),
            ));
        }
        Ok(Plan::SetSignerRegions {
            keyring_id: keyring_id.to_string(),
            min_regions,
        })
    }

    fn plan_start_keygen(&self, ctx: &Ctx, request: &Hash32) -> Result<Plan, Rejection> {
        let key = self
            .keys
            .get(request)
            .ok_or(Rejection::UnknownKey(*request))?;
        if key.status != KeyStatus::Pending {
            return Err(wrong_state(
                format!("key {request}"),
                key.status.label(),
                ctx.action,
                "pending",
            ));
        }
        self.check_not_changing(ctx, &key.keyring_id)?;
        Ok(Plan::StartKeygen(KeygenSession {
            id: ctx.id,
            key: *request,
            aborted: None,
            started_seq: ctx.seq,
            started_at_ms: ctx.at_ms,
        }))
    }

    fn plan_start_presign(
        &self,
        ctx: &Ctx,
        key: &Hash32,
        session: &Hash32,
        signers: &[u16],
    ) -> Result<Plan, Rejection> {
        let rec = self.keys.get(key).ok_or(Rejection::UnknownKey(*key))?;
        let ring = self
            .keyrings
            .get(&rec.keyring_id)
            .ok_or_else(|| Rejection::UnknownKeyring(rec.keyring_id.clone()))?;
        if !matches!(rec.status, KeyStatus::Active { .. }) {
            return Err(wrong_state(
                format!("key {key}"),
                rec.status.label(),
                ctx.action,
                "active",
            ));
        }
        if self.id_in_use(session) {
            return Err(Rejection::DuplicateId(*session));
        }
        check_signers(ring, signers)?;
        check_regions(ring, signers)?;
        self.check_not_changing(ctx, &ring.id)?;
        Ok(Plan::StartPresign(PresignSession {
            id: *session,
            key: *key,
            signers: signers.to_vec(),
            ready: BTreeSet::new(),
            assigned: None,
            aborted: None,
            started_seq: ctx.seq,
            started_at_ms: ctx.at_ms,
            frost: false,
        }))
    }

    fn plan_start_sign(
        &self,
        ctx: &Ctx,
        request: &Hash32,
        presign: &Hash32,
    ) -> Result<Plan, Rejection> {
        let req = self
            .signatures
            .get(request)
            .ok_or(Rejection::UnknownRequest(*request))?;
        let session = self
            .presigns
            .get(presign)
            .ok_or(Rejection::UnknownSession(*presign))?;
        if req.status != SignatureStatus::Pending {
            return Err(wrong_state(
                format!("request {request}"),
                req.status.label(),
                ctx.action,
                "pending",
            ));
        }
        if session.key != req.key {
            return Err(Rejection::PresignWrongKey {
                session: *presign,
                session_key: session.key,
                request_key: req.key,
            });
        }
        if session.aborted.is_some() {
            return Err(Rejection::PresignAborted(*presign));
        }
        if let Some(used) = session.assigned {
            return Err(Rejection::PresignUsed {
                session: *presign,
                request: used,
            });
        }
        if !session.is_ready() {
            return Err(Rejection::PresignNotReady(*presign));
        }
        if req.is_schnorr() || session.frost {
            return Err(malformed(
                "request",
                "a Schnorr request is signed by StartSchnorrSign, not from a presignature",
            ));
        }
        // A presignature made before the keyring's region rule was raised is not used.
        if let Some(ring) = self.key_keyring(&req.key) {
            check_regions(ring, &session.signers)?;
            self.check_not_changing(ctx, &ring.id)?;
        }
        self.check_sign_approved(request)?;
        Ok(Plan::StartSign {
            request: *request,
            presign: *presign,
            at_ms: ctx.at_ms,
        })
    }

    fn plan_abort(&self, id: &Hash32, reason: &str) -> Result<Plan, Rejection> {
        check_text("reason", reason)?;
        let reason = reason.to_string();
        if let Some(p) = self.presigns.get(id) {
            if p.aborted.is_some() {
                return Err(Rejection::PresignAborted(*id));
            }
            // The request it serves goes back to the queue, unless it already finished.
            let release = p.assigned.filter(|r| {
                matches!(self.signatures.get(r).map(|q| &q.status),
                         Some(SignatureStatus::Signing { presign }) if presign == id)
            });
            return Ok(Plan::AbortPresign {
                session: *id,
                reason,
                release,
            });
        }
        if let Some(k) = self.keygens.get(id) {
            let current = self.keygen_session(&k.key) == Some(*id);
            if k.aborted.is_some() || !current {
                return Err(wrong_state(
                    format!("keygen session {id}"),
                    "finished or aborted",
                    "AbortSession",
                    "a running session",
                ));
            }
            return Ok(Plan::AbortKeygen {
                session: *id,
                key: k.key,
                reason,
            });
        }
        if let Some(r) = self.refresh_sessions.get(id) {
            let current = matches!(self.refreshes.get(&r.request).map(|q| &q.status),
                                   Some(RefreshStatus::Running { session }) if session == id);
            if r.aborted.is_some() || !current {
                return Err(wrong_state(
                    format!("refresh session {id}"),
                    "finished or aborted",
                    "AbortSession",
                    "a running session",
                ));
            }
            return Ok(Plan::AbortRefresh {
                session: *id,
                request: r.request,
                reason,
            });
        }
        if let Some(plan) = self.plan_abort_reshare(id, &reason)? {
            return Ok(plan);
        }
        if let Some(r) = self.refreshes.get(id) {
            return match r.status {
                RefreshStatus::Pending | RefreshStatus::Running { .. } => Ok(Plan::FailRefresh {
                    request: *id,
                    reason,
                }),
                _ => Err(wrong_state(
                    format!("refresh {id}"),
                    r.status.label(),
                    "AbortSession",
                    "pending or running",
                )),
            };
        }
        if let Some(k) = self.keys.get(id) {
            return match k.status {
                KeyStatus::Pending | KeyStatus::Generating { .. } => {
                    Ok(Plan::FailKey { key: *id, reason })
                }
                _ => Err(wrong_state(
                    format!("key {id}"),
                    k.status.label(),
                    "AbortSession",
                    "pending or generating",
                )),
            };
        }
        if let Some(r) = self.signatures.get(id) {
            return match r.status {
                SignatureStatus::Pending | SignatureStatus::Signing { .. } => {
                    Ok(Plan::FailSignature {
                        request: *id,
                        reason,
                    })
                }
                _ => Err(wrong_state(
                    format!("request {id}"),
                    r.status.label(),
                    "AbortSession",
                    "pending or signing",
                )),
            };
        }
        Err(Rejection::UnknownSession(*id))
    }

    fn plan_request_key(
        &self,
        ctx: &Ctx,
        keyring_id: &str,
        key_type: &str,
    ) -> Result<Plan, Rejection> {
        let ring = self.owned_keyring(ctx, keyring_id)?;
        if key_type != KEY_TYPE_ECDSA_SECP256K1 {
            if tessera_schnorr::KeyType::from_name(key_type).is_none() {
                return Err(Rejection::UnsupportedKeyType(key_type.to_string()));
            }
            // FROST's DKG needs at least two signers.
            if ring.threshold < 2 {
                return Err(Rejection::UnsupportedKeyType(format!(
                    "{key_type} needs a keyring threshold of at least 2"
                )));
            }
        }
        if self.id_in_use(&ctx.id) {
            return Err(Rejection::DuplicateId(ctx.id));
        }
        Ok(Plan::RequestKey(KeyRecord {
            id: ctx.id,
            keyring_id: keyring_id.to_string(),
            key_type: key_type.to_string(),
            requester: ctx.signer,
            requested_seq: ctx.seq,
            requested_at_ms: ctx.at_ms,
            status: KeyStatus::Pending,
            results: BTreeMap::new(),
            attempts: 0,
            generation: None,
            public_shares: Vec::new(),
            keygen_session: None,
        }))
    }

    /// The keyring `keyring_id`, if the command's signer is one of its owners.
    fn owned_keyring(&self, ctx: &Ctx, keyring_id: &str) -> Result<&Keyring, Rejection> {
        let ring = self
            .keyrings
            .get(keyring_id)
            .ok_or_else(|| Rejection::UnknownKeyring(keyring_id.to_string()))?;
        if !ring.is_owner(&ctx.signer) {
            return Err(Rejection::NotOwner {
                signer: ctx.signer,
                keyring: ring.id.clone(),
            });
        }
        Ok(ring)
    }

    /// The key of an owner's request: it exists, the signer owns its keyring, and it is
    /// active. Returns the record and its public key.
    fn owned_active_key(&self, ctx: &Ctx, key: &Hash32) -> Result<(&KeyRecord, &str), Rejection> {
        let rec = self.keys.get(key).ok_or(Rejection::UnknownKey(*key))?;
        self.owned_keyring(ctx, &rec.keyring_id)?;
        let KeyStatus::Active { public_key, .. } = &rec.status else {
            return Err(wrong_state(
                format!("key {key}"),
                rec.status.label(),
                ctx.action,
                "active",
            ));
        };
        Ok((rec, public_key))
    }

    fn plan_request_signature(
        &self,
        ctx: &Ctx,
        key: &Hash32,
        digest: &Hash32,
        tweak: &Option<Hash32>,
        note: &Option<String>,
    ) -> Result<Plan, Rejection> {
        let (rec, public_key) = self.owned_active_key(ctx, key)?;
        // Presignature-based signing is ECDSA's; Schnorr keys sign whole messages.
        if rec.key_type != KEY_TYPE_ECDSA_SECP256K1 {
            return Err(Rejection::UnsupportedKeyType(format!(
                "{:?}: RequestSignature signs with ecdsa-secp256k1 keys; use \
                 RequestSchnorrSignature",
                rec.key_type
            )));
        }
        if let Some(n) = note {
            check_text("note", n)?;
        }
        signing_key(public_key, tweak.as_ref())?;
        if self.id_in_use(&ctx.id) {
            return Err(Rejection::DuplicateId(ctx.id));
        }
        Ok(Plan::RequestSignature(SignatureRequest {
            id: ctx.id,
            key: *key,
            digest: *digest,
            tweak: *tweak,
            message: None,
            note: note.clone(),
            requester: ctx.signer,
            requested_seq: ctx.seq,
            requested_at_ms: ctx.at_ms,
            status: SignatureStatus::Pending,
            sign_started_at_ms: None,
            shares: BTreeMap::new(),
            attempts: 0,
        }))
    }

    fn plan_request_schnorr(
        &self,
        ctx: &Ctx,
        key: &Hash32,
        message: &[u8],
        note: &Option<String>,
    ) -> Result<Plan, Rejection> {
        let (rec, _) = self.owned_active_key(ctx, key)?;
        let Some(kt) = tessera_schnorr::KeyType::from_name(&rec.key_type) else {
            return Err(Rejection::UnsupportedKeyType(format!(
                "{:?}: RequestSchnorrSignature signs with eddsa-ed25519 or schnorr-bip340 keys; \
                 use RequestSignature",
                rec.key_type
            )));
        };
        if message.len() > MAX_MESSAGE {
            return Err(malformed("message", format!("over {MAX_MESSAGE} bytes")));
        }
        kt.check_message(message)
            .map_err(|e| malformed("message", e.to_string()))?;
        if let Some(n) = note {
            check_text("note", n)?;
        }
        if self.id_in_use(&ctx.id) {
            return Err(Rejection::DuplicateId(ctx.id));
        }
        Ok(Plan::RequestSignature(SignatureRequest {
            id: ctx.id,
            key: *key,
            digest: Hash32::sha256(message),
            tweak: None,
            message: Some(message.to_vec()),
            note: note.clone(),
            requester: ctx.signer,
            requested_seq: ctx.seq,
            requested_at_ms: ctx.at_ms,
            status: SignatureStatus::Pending,
            sign_started_at_ms: None,
            shares: BTreeMap::new(),
            attempts: 0,
        }))
    }

    fn plan_start_schnorr_sign(
        &self,
        ctx: &Ctx,
        request: &Hash32,
        signers: &[u16],
    ) -> Result<Plan, Rejection> {
        let req = self
            .signatures
            .get(request)
            .ok_or(Rejection::UnknownRequest(*request))?;
        if req.status != SignatureStatus::Pending {
            return Err(wrong_state(
                format!("request {request}"),
                req.status.label(),
                ctx.action,
                "pending",
            ));
        }
        if !req.is_schnorr() {
            return Err(malformed(
                "request",
                "an ECDSA request is signed from a presignature by StartSign",
            ));
        }
        let ring = self
            .key_keyring(&req.key)
            .ok_or(Rejection::UnknownKey(req.key))?;
        check_signers(ring, signers)?;
        check_regions(ring, signers)?;
        self.check_not_changing(ctx, &ring.id)?;
        if self.id_in_use(&ctx.id) {
            return Err(Rejection::DuplicateId(ctx.id));
        }
        self.check_sign_approved(request)?;
        Ok(Plan::StartSchnorrSign(PresignSession {
            id: ctx.id,
            key: req.key,
            signers: signers.to_vec(),
            ready: signers.iter().copied().collect(),
            assigned: Some(*request),
            aborted: None,
            started_seq: ctx.seq,
            started_at_ms: ctx.at_ms,
            frost: true,
        }))
    }

    fn plan_request_refresh(&self, ctx: &Ctx, key: &Hash32) -> Result<Plan, Rejection> {
        let (rec, _) = self.owned_active_key(ctx, key)?;
        if tessera_schnorr::KeyType::from_name(&rec.key_type).is_none() {
            return Err(Rejection::UnsupportedKeyType(format!(
                "{:?}: the network refreshes eddsa-ed25519 and schnorr-bip340 keys",
                rec.key_type
            )));
        }
        if let Some(open) = self.refreshes.values().find(|r| {
            r.key == *key
                && matches!(
                    r.status,
                    RefreshStatus::Pending | RefreshStatus::Running { .. }
                )
        }) {
            return Err(wrong_state(
                format!("key {key}"),
                &format!("being refreshed by {}", open.id),
                ctx.action,
                "no refresh in progress",
            ));
        }
        if self.id_in_use(&ctx.id) {
            return Err(Rejection::DuplicateId(ctx.id));
        }
        Ok(Plan::RequestRefresh(RefreshRequest {
            id: ctx.id,
            key: *key,
            requester: ctx.signer,
            requested_seq: ctx.seq,
            requested_at_ms: ctx.at_ms,
            status: RefreshStatus::Pending,
            previous: None,
            results: BTreeSet::new(),
            attempts: 0,
        }))
    }

    fn plan_start_refresh(&self, ctx: &Ctx, request: &Hash32) -> Result<Plan, Rejection> {
        let r = self
            .refreshes
            .get(request)
            .ok_or(Rejection::UnknownRequest(*request))?;
        if r.status != RefreshStatus::Pending {
            return Err(wrong_state(
                format!("refresh {request}"),
                r.status.label(),
                ctx.action,
                "pending",
            ));
        }
        if let Some(ring) = self.key_keyring(&r.key) {
            self.check_not_changing(ctx, &ring.id)?;
        }
        if self.id_in_use(&ctx.id) {
            return Err(Rejection::DuplicateId(ctx.id));
        }
        Ok(Plan::StartRefresh(RefreshSession {
            id: ctx.id,
            request: *request,
            key: r.key,
            aborted: None,
            started_seq: ctx.seq,
            started_at_ms: ctx.at_ms,
        }))
    }

    fn plan_refresh_done(
        &self,
        ctx: &Ctx,
        request: &Hash32,
        public_key: &str,
    ) -> Result<Plan, Rejection> {
        let r = self
            .refreshes
            .get(request)
            .ok_or(Rejection::UnknownRequest(*request))?;
        let (ring, index) = self.operator_of_key(ctx, &r.key)?;
        if !matches!(r.status, RefreshStatus::Running { .. }) {
            return Err(wrong_state(
                format!("refresh {request}"),
                r.status.label(),
                ctx.action,
                "running",
            ));
        }
        if r.results.contains(&index) {
            return Err(Rejection::Duplicate {
                index,
                action: ctx.action,
                target: *request,
            });
        }
        let rec = self.keys.get(&r.key).ok_or(Rejection::UnknownKey(r.key))?;
        let KeyStatus::Active {
            public_key: key_pk, ..
        } = &rec.status
        else {
            return Err(wrong_state(
                format!("key {}", r.key),
                rec.status.label(),
                ctx.action,
                "active",
            ));
        };
        if parse_public_key(&rec.key_type, public_key)? != *key_pk {
            return Err(malformed(
                "public_key",
                "a refresh keeps the key; this result is for another key",
            ));
        }
        Ok(Plan::RefreshDone {
            request: *request,
            index,
            done: r.results.len() + 1 >= usize::from(ring.n()),
        })
    }

    fn plan_key_generated(
        &self,
        ctx: &Ctx,
        request: &Hash32,
        public_key: &str,
        chain_code: &Hash32,
        public_shares: &[String],
    ) -> Result<Plan, Rejection> {
        let (ring, index) = self.operator_of_key(ctx, request)?;
        let rec = self
            .keys
            .get(request)
            .ok_or(Rejection::UnknownKey(*request))?;
        if !matches!(rec.status, KeyStatus::Generating { .. }) {
            return Err(wrong_state(
                format!("key {request}"),
                rec.status.label(),
                ctx.action,
                "generating",
            ));
        }
        if rec.results.contains_key(&index) {
            return Err(Rejection::Duplicate {
                index,
                action: ctx.action,
                target: *request,
            });
        }
        let public_key = parse_public_key(&rec.key_type, public_key)?;
        let public_shares = if rec.key_type == KEY_TYPE_ECDSA_SECP256K1 {
            reshare::parse_public_shares(public_shares, ring.n())?
        } else if public_shares.is_empty() {
            Vec::new()
        } else {
            return Err(malformed(
                "public_shares",
                format!("must be empty for a {} key", rec.key_type),
            ));
        };
        let conflict = rec.results.iter().find(|(_, (pk, cc, shares))| {
            *pk != public_key || cc != chain_code || *shares != public_shares
        });
        let outcome = if let Some((other, _)) = conflict {
            KeygenOutcome::Conflict(format!(
                "operators {other} and {index} reported different keys"
            ))
        } else if rec.results.len() + 1 >= usize::from(ring.n()) {
            KeygenOutcome::Active
        } else {
            KeygenOutcome::Partial
        };
        Ok(Plan::KeyGenerated {
            key: *request,
            index,
            public_key,
            chain_code: *chain_code,
            public_shares,
            outcome,
        })
    }

    fn plan_presign_ready(&self, ctx: &Ctx, session: &Hash32) -> Result<Plan, Rejection> {
        let p = self
            .presigns
            .get(session)
            .ok_or(Rejection::UnknownSession(*session))?;
        let (_, index) = self.operator_of_key(ctx, &p.key)?;
        if !p.signers.contains(&index) {
            return Err(Rejection::NotSessionMember {
                index,
                session: *session,
            });
        }
        if p.aborted.is_some() {
            return Err(Rejection::PresignAborted(*session));
        }
        if p.ready.contains(&index) {
            return Err(Rejection::Duplicate {
                index,
                action: ctx.action,
                target: *session,
            });
        }
        Ok(Plan::PresignReady {
            session: *session,
            index,
        })
    }

    fn plan_signature_done(
        &self,
        ctx: &Ctx,
        request: &Hash32,
        sig: (Hash32, Hash32, u8),
    ) -> Result<Plan, Rejection> {
        let req = self
            .signatures
            .get(request)
            .ok_or(Rejection::UnknownRequest(*request))?;
        let (ring, index) = self.operator_of_key(ctx, &req.key)?;
        let SignatureStatus::Signing { presign } = req.status else {
            return Err(wrong_state(
                format!("request {request}"),
                req.status.label(),
                ctx.action,
                "signing",
            ));
        };
        let session = self
            .presigns
            .get(&presign)
            .ok_or(Rejection::UnknownSession(presign))?;
        if !session.signers.contains(&index) {
            return Err(Rejection::NotSessionMember {
                index,
                session: presign,
            });
        }
        if req.shares.contains_key(&index) {
            return Err(Rejection::Duplicate {
                index,
                action: ctx.action,
                target: *request,
            });
        }
        let key = self
            .keys
            .get(&req.key)
            .ok_or(Rejection::UnknownKey(req.key))?;
        let KeyStatus::Active { public_key, .. } = &key.status else {
            return Err(wrong_state(
                format!("key {}", req.key),
                "not active",
                ctx.action,
                "active",
            ));
        };
        // Every recorded share passed this check when it was posted: a post identical to one
        // of them (the usual case — every signer of the session posts the same signature)
        // needs no second verification.
        if !req.shares.values().any(|s| *s == sig) {
            match &req.message {
                None => verify_ecdsa(public_key, req.tweak.as_ref(), &req.digest, sig)?,
                Some(message) => verify_schnorr(&key.key_type, public_key, message, sig)?,
            }
        }
        let mut agreeing: Vec<u16> = req
            .shares
            .iter()
            .filter(|(_, s)| **s == sig)
            .map(|(i, _)| *i)
            .collect();
        agreeing.push(index);
        agreeing.sort_unstable();
        let done = (agreeing.len() >= usize::from(ring.threshold)).then_some(agreeing);
        Ok(Plan::SignatureDone {
            request: *request,
            index,
            sig,
            done,
        })
    }

    fn plan_session_failed(
        &self,
        ctx: &Ctx,
        session: &Hash32,
        blamed: &[u16],
        check: &str,
    ) -> Result<Plan, Rejection> {
        let key = match self.session(session) {
            Some(SessionRef::Presign(p)) => p.key,
            Some(SessionRef::Keygen(k)) => k.key,
            Some(SessionRef::Refresh(r)) => r.key,
            Some(SessionRef::Reshare(r)) => {
                return self.plan_reshare_failed(ctx, r, blamed, check);
            }
            None => return Err(Rejection::UnknownSession(*session)),
        };
        let (_, index) = self.operator_of_key(ctx, &key)?;
        let members = self.session_members(session).unwrap_or_default();
        if !members.contains(&index) {
            return Err(Rejection::NotSessionMember {
                index,
                session: *session,
            });
        }
        if blamed.len() > members.len() || blamed.iter().any(|b| !members.contains(b)) {
            return Err(malformed("blamed", "must name members of the session"));
        }
        if check.len() > 128 {
            return Err(malformed("check", "over 128 bytes"));
        }
        if self
            .failure_reports(session)
            .iter()
            .any(|r| r.reporter == index)
        {
            return Err(Rejection::Duplicate {
                index,
                action: ctx.action,
                target: *session,
            });
        }
        let mut blamed = blamed.to_vec();
        blamed.sort_unstable();
        blamed.dedup();
        Ok(Plan::SessionFailed {
            session: *session,
            report: FailureReport {
                seq: ctx.seq,
                reporter: index,
                blamed,
                check: check.to_string(),
            },
        })
    }

    // ---- applying -------------------------------------------------------------------------

    /// Applies a checked plan. Every lookup below succeeded in `plan`, so the `if let`s always
    /// match; they are there because the lints forbid panicking.
    fn exec(&mut self, entry: &Entry, plan: Plan) {
        let sc = &entry.command;
        self.commands.insert(sc.id());
        self.nonces.insert((sc.signer, sc.command.nonce));
        self.head = entry.hash;
        self.next_seq = entry.seq.saturating_add(1);
        self.gov_tick(sc.command.issued_at_ms);
        match plan {
            Plan::Genesis {
                allowlist,
                platform_keys,
            } => {
                self.allowlist = allowlist;
                self.platform_keys = platform_keys;
            }
            Plan::RegisterKeyring(ring) => {
                self.keyrings.insert(ring.id.clone(), ring);
            }
            Plan::SetAllowlist(list) => self.allowlist = list,
            Plan::SetSignerRegions {
                keyring_id,
                min_regions,
            } => {
                if let Some(r) = self.keyrings.get_mut(&keyring_id) {
                    r.min_regions = min_regions;
                }
            }
            Plan::StartKeygen(session) => {
                if let Some(k) = self.keys.get_mut(&session.key) {
                    k.status = KeyStatus::Generating {
                        session: session.id,
                    };
                    k.results.clear();
                    k.attempts = k.attempts.saturating_add(1);
                }
                self.keygens.insert(session.id, session);
            }
            Plan::StartPresign(session) => {
                self.presigns.insert(session.id, session);
            }
            Plan::StartSchnorrSign(session) => {
                if let Some(r) = session.assigned.and_then(|r| self.signatures.get_mut(&r)) {
                    r.status = SignatureStatus::Signing {
                        presign: session.id,
                    };
                    r.sign_started_at_ms = Some(session.started_at_ms);
                    r.shares.clear();
                    r.attempts = r.attempts.saturating_add(1);
                }
                self.presigns.insert(session.id, session);
            }
            Plan::StartSign {
                request,
                presign,
                at_ms,
            } => {
                if let Some(p) = self.presigns.get_mut(&presign) {
                    p.assigned = Some(request);
                }
                if let Some(r) = self.signatures.get_mut(&request) {
                    r.status = SignatureStatus::Signing { presign };
                    r.sign_started_at_ms = Some(at_ms);
                    r.shares.clear();
                    r.attempts = r.attempts.saturating_add(1);
                }
            }
            Plan::AbortPresign {
                session,
                reason,
                release,
            } => {
                if let Some(p) = self.presigns.get_mut(&session) {
                    p.aborted = Some(reason);
                }
                if let Some(r) = release.and_then(|r| self.signatures.get_mut(&r)) {
                    r.status = SignatureStatus::Pending;
                    r.sign_started_at_ms = None;
                    r.shares.clear();
                }
            }
            Plan::AbortKeygen {
                session,
                key,
                reason,
            } => {
                if let Some(s) = self.keygens.get_mut(&session) {
                    s.aborted = Some(reason);
                }
                if let Some(k) = self.keys.get_mut(&key) {
                    k.status = KeyStatus::Pending;
                    k.results.clear();
                }
            }
            Plan::FailKey { key, reason } => {
                if let Some(session) = self.keygen_session(&key) {
                    if let Some(s) = self.keygens.get_mut(&session) {
                        s.aborted = Some(reason.clone());
                    }
                }
                if let Some(k) = self.keys.get_mut(&key) {
                    k.status = KeyStatus::Failed { reason };
                }
            }
            Plan::FailSignature { request, reason } => {
                let presign = match self.signatures.get(&request).map(|r| &r.status) {
                    Some(SignatureStatus::Signing { presign }) => Some(*presign),
                    _ => None,
                };
                if let Some(p) = presign.and_then(|p| self.presigns.get_mut(&p)) {
                    p.aborted.get_or_insert_with(|| reason.clone());
                }
                if let Some(r) = self.signatures.get_mut(&request) {
                    r.status = SignatureStatus::Failed { reason };
                }
            }
            Plan::RequestKey(rec) => {
                self.keys.insert(rec.id, rec);
            }
            Plan::RequestSignature(req) => {
                self.signatures.insert(req.id, req);
            }
            Plan::KeyGenerated {
                key,
                index,
                public_key,
                chain_code,
                public_shares,
                outcome,
            } => {
                if let Some(k) = self.keys.get_mut(&key) {
                    k.results.insert(
                        index,
                        (public_key.clone(), chain_code, public_shares.clone()),
                    );
                    match outcome {
                        KeygenOutcome::Partial => {}
                        KeygenOutcome::Active => {
                            if let KeyStatus::Generating { session } = k.status {
                                k.keygen_session = Some(session);
                            }
                            k.public_shares = public_shares;
                            k.status = KeyStatus::Active {
                                public_key,
                                chain_code,
                            }
                        }
                        KeygenOutcome::Conflict(reason) => k.status = KeyStatus::Failed { reason },
                    }
                }
            }
            Plan::PresignReady { session, index } => {
                if let Some(p) = self.presigns.get_mut(&session) {
                    p.ready.insert(index);
                }
            }
            Plan::SignatureDone {
                request,
                index,
                sig,
                done,
            } => {
                if let Some(r) = self.signatures.get_mut(&request) {
                    r.shares.insert(index, sig);
                    if let Some(signers) = done {
                        r.status = SignatureStatus::Done {
                            r: sig.0,
                            s: sig.1,
                            recovery_id: sig.2,
                            signers,
                        };
                    }
                }
            }
            Plan::SessionFailed { session, report } => {
                self.failures.entry(session).or_default().push(report);
                self.update_reshare_exclusions(&session);
            }
            Plan::RequestRefresh(r) => {
                self.refreshes.insert(r.id, r);
            }
            Plan::StartRefresh(session) => {
                let generation = self.keys.get(&session.key).and_then(|k| k.generation);
                if let Some(r) = self.refreshes.get_mut(&session.request) {
                    r.status = RefreshStatus::Running {
                        session: session.id,
                    };
                    r.previous = generation;
                    r.results.clear();
                    r.attempts = r.attempts.saturating_add(1);
                }
                self.refresh_sessions.insert(session.id, session);
            }
            Plan::RefreshDone {
                request,
                index,
                done,
            } => {
                let mut switch = None;
                if let Some(r) = self.refreshes.get_mut(&request) {
                    r.results.insert(index);
                    if let (true, RefreshStatus::Running { session }) = (done, &r.status) {
                        switch = Some((r.key, *session));
                        r.status = RefreshStatus::Done { session: *session };
                    }
                }
                if let Some((key, session)) = switch {
                    if let Some(k) = self.keys.get_mut(&key) {
                        k.generation = Some(session);
                    }
                }
            }
            Plan::AbortRefresh {
                session,
                request,
                reason,
            } => {
                if let Some(s) = self.refresh_sessions.get_mut(&session) {
                    s.aborted = Some(reason);
                }
                if let Some(r) = self.refreshes.get_mut(&request) {
                    r.status = RefreshStatus::Pending;
                    r.results.clear();
                }
            }
            Plan::FailRefresh { request, reason } => {
                let running = match self.refreshes.get(&request).map(|r| &r.status) {
                    Some(RefreshStatus::Running { session }) => Some(*session),
                    _ => None,
                };
                if let Some(s) = running.and_then(|s| self.refresh_sessions.get_mut(&s)) {
                    s.aborted.get_or_insert_with(|| reason.clone());
                }
                if let Some(r) = self.refreshes.get_mut(&request) {
                    r.status = RefreshStatus::Failed { reason };
                }
            }
            Plan::Gov(g) => self.exec_gov(g),
            Plan::Reshare(r) => self.exec_reshare(r),
        }
    }
}

/// What the rules need to know about the command being checked.
struct Ctx {
    seq: u64,
    id: Hash32,
    signer: IdentityKey,
    at_ms: u64,
    action: &'static str,
}

fn ledger_only(action: &Action) -> bool {
    matches!(
        action,
        Action::Genesis { .. }
            | Action::RegisterKeyring { .. }
            | Action::SetAllowlist { .. }
            | Action::StartKeygen { .. }
            | Action::StartPresign { .. }
            | Action::StartSign { .. }
            | Action::StartSchnorrSign { .. }
            | Action::StartRefresh { .. }
            | Action::SetSignerRegions { .. }
            | Action::StartReshare { .. }
            | Action::AbortSession { .. }
            | Action::ExpireRequest { .. }
    )
}

/// `threshold` distinct, sorted operator indices of `ring`.
fn check_signers(ring: &Keyring, signers: &[u16]) -> Result<(), Rejection> {
    if signers.len() != usize::from(ring.threshold)
        || !signers.windows(2).all(|w| matches!(w, [a, b] if a < b))
        || signers.iter().any(|i| *i >= ring.n())
    {
        return Err(malformed(
            "signers",
            format!(
                "need {} distinct sorted indices below {}",
                ring.threshold,
                ring.n()
            ),
        ));
    }
    Ok(())
}

/// `signers` span at least the keyring's `min_regions` distinct regions.
fn check_regions(ring: &Keyring, signers: &[u16]) -> Result<(), Rejection> {
    let got = ring.regions_of(signers).len();
    if got < usize::from(ring.min_regions) {
        return Err(Rejection::TooFewRegions {
            keyring: ring.id.clone(),
            signers: signers.to_vec(),
            needed: ring.min_regions,
            got,
        });
    }
    Ok(())
}

fn malformed(field: &'static str, reason: impl Into<String>) -> Rejection {
    Rejection::Malformed {
        field,
        reason: reason.into(),
    }
}

fn wrong_state(
    what: String,
    actual: &str,
    action: &'static str,
    needed: &'static str,
) -> Rejection {
    Rejection::WrongState {
        what,
        actual: actual.to_string(),
        action,
        needed,
    }
}

fn check_text(field: &'static str, s: &str) -> Result<(), Rejection> {
    if s.len() > MAX_TEXT {
        return Err(malformed(field, format!("over {MAX_TEXT} bytes")));
    }
    Ok(())
}

fn check_list<T: Ord>(field: &'static str, list: &[T]) -> Result<(), Rejection> {
    if list.len() > MAX_LIST {
        return Err(malformed(field, format!("over {MAX_LIST} entries")));
    }
    let distinct: BTreeSet<&T> = list.iter().collect();
    if distinct.len() != list.len() {
        return Err(malformed(field, "duplicate entries"));
    }
    Ok(())
}

fn check_allowlist(list: &[String]) -> Result<(), Rejection> {
    check_list("allowlist", list)?;
    for m in list {
        if m.len() != 64 || !m.chars().all(|c| matches!(c, '0'..='9' | 'a'..='f')) {
            return Err(malformed(
                "allowlist",
                format!("{m:?} is not 64 lowercase hex digits"),
            ));
        }
    }
    Ok(())
}

/// Parses a public key in its key type's encoding (a 33-byte compressed SEC1 point for ECDSA,
/// see [`Action::KeyGenerated`]); returns it as lowercase hex.
fn parse_public_key(key_type: &str, hex_str: &str) -> Result<String, Rejection> {
    let bytes = hex::decode(hex_str).map_err(|e| malformed("public_key", e.to_string()))?;
    if let Some(kt) = tessera_schnorr::KeyType::from_name(key_type) {
        kt.check_public_key(&bytes)
            .map_err(|e| malformed("public_key", e.to_string()))?;
        return Ok(hex::encode(bytes));
    }
    if bytes.len() != 33 {
        return Err(malformed("public_key", "expected 33 bytes (compressed)"));
    }
    k256::PublicKey::from_sec1_bytes(&bytes)
        .map_err(|_| malformed("public_key", "not a point on secp256k1"))?;
    Ok(hex::encode(bytes))
}

/// The key a request signs under: `public_key + tweak·G`.
pub fn signing_key(
    public_key_hex: &str,
    tweak: Option<&Hash32>,
) -> Result<k256::ecdsa::VerifyingKey, Rejection> {
    let bytes = hex::decode(public_key_hex).map_err(|e| malformed("public_key", e.to_string()))?;
    let pk = k256::PublicKey::from_sec1_bytes(&bytes)
        .map_err(|_| malformed("public_key", "not a point on secp256k1"))?;
    let mut point = pk.to_projective();
    if let Some(t) = tweak {
        let scalar: Option<Scalar> = Scalar::from_repr(FieldBytes::from(t.0)).into();
        let scalar = scalar.ok_or_else(|| malformed("tweak", "not below the group order"))?;
        point += ProjectivePoint::GENERATOR * scalar;
    }
    if bool::from(point.is_identity()) {
        return Err(malformed("tweak", "tweaked key is the point at infinity"));
    }
    k256::ecdsa::VerifyingKey::from_affine(point.to_affine())
        .map_err(|e| malformed("public_key", e.to_string()))
}

/// Checks a Schnorr signature posted as two halves (see [`Action::SignatureDone`]) with the key
/// type's own verifier: strict RFC 8032 for Ed25519, BIP340 for the x-only output key.
fn verify_schnorr(
    key_type: &str,
    public_key_hex: &str,
    message: &[u8],
    (r, s, recovery_id): (Hash32, Hash32, u8),
) -> Result<(), Rejection> {
    let kt = tessera_schnorr::KeyType::from_name(key_type)
        .ok_or_else(|| Rejection::UnsupportedKeyType(key_type.to_string()))?;
    if recovery_id != 0 {
        return Err(Rejection::InvalidSignature(
            "a Schnorr signature has no recovery id (must be 0)".into(),
        ));
    }
    let pk = hex::decode(public_key_hex).map_err(|e| malformed("public_key", e.to_string()))?;
    let mut sig = [0u8; 64];
    sig[..32].copy_from_slice(&r.0);
    sig[32..].copy_from_slice(&s.0);
    kt.verify(&pk, message, &sig)
        .map_err(|e| Rejection::InvalidSignature(e.to_string()))
}

/// Checks a final signature: valid for `digest` under the (tweaked) key, low-s, and its
/// recovery id recovers that key.
fn verify_ecdsa(
    public_key_hex: &str,
    tweak: Option<&Hash32>,
    digest: &Hash32,
    (r, s, recovery_id): (Hash32, Hash32, u8),
) -> Result<(), Rejection> {
    let vk = signing_key(public_key_hex, tweak)?;
    let sig = k256::ecdsa::Signature::from_scalars(FieldBytes::from(r.0), FieldBytes::from(s.0))
        .map_err(|_| Rejection::InvalidSignature("r or s is zero or not below n".into()))?;
    if sig.normalize_s().is_some() {
        return Err(Rejection::HighS);
    }
    // Recovering the key from (r, s, v) also verifies the signature under the recovered key, so
    // a recovered key equal to the request's key is the whole check. Otherwise, say which part
    // is wrong: the signature itself, or only its recovery id.
    let recovered = k256::ecdsa::RecoveryId::from_byte(recovery_id)
        .and_then(|rid| k256::ecdsa::VerifyingKey::recover_from_prehash(&digest.0, &sig, rid).ok());
    if recovered == Some(vk) {
        return Ok(());
    }
    vk.verify_prehash(&digest.0, &sig).map_err(|_| {
        Rejection::InvalidSignature("not valid for the digest under the key".into())
    })?;
    Err(Rejection::WrongRecoveryId(recovery_id))
}

pub mod governance;
mod reshare;
pub use reshare::{ChangeStatus, KeyReshare, KeyringChange, ReshareSession};
#[cfg(test)]
mod tests;
