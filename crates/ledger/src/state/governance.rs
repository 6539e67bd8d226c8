//! Governance rules: workspaces, keys under a workspace's sign policy, approvals and deadlines,
//! folded from the log by the same [`State`] the ledger and every node run.
//!
//! Because every node folds the log with these rules and skips an entry they refuse, the checks
//! here are what makes "every node re-checks every approval" true: a `StartSign` for a request
//! whose policy is not satisfied by verified approvals *in the log* is refused, so no node acts
//! on it, whoever appended it.
//!
//! Decisions:
//! - **One approval flow for everything.** `ProposeChange` opens an admin request (its id is
//!   the command id) for a [`Change`] under [`Registry::required_policy`]; `RequestSignature`
//!   on a key that belongs to a workspace opens a signature approval under the key's effective
//!   sign policy. `Approve` carries one [`Approval`] for either. When an admin request becomes
//!   approved, its change is applied in the same step with [`Registry::apply_approved`].
//! - **The state builds the subject.** network id, request id (the request's command id),
//!   request digest ([`Change::digest`] or [`sign_request_digest`] of the key, digest and tweak
//!   of the request as the state holds it) and the digest of the policy the state resolved
//!   itself. Nothing in an `Approve` command but the approver's key, vote and signature is used.
//! - **Policy in force.** A vote is refused once the policy its request was opened under is no
//!   longer the one in force (a changed policy, group or owner key changes the digest): the
//!   approvals are stale. `StartSign` checks [`Registry::check_sign_request`] against the
//!   registry as it stands at that entry.
//! - **Time.** `now` for the lifecycle is the largest `issued_at_ms` of any entry applied so far
//!   (this one included): a backdated vote cannot reopen a passed deadline. The ledger refuses
//!   commands more than its clock skew away from its clock, which bounds a forward-dated one.
//!   A request's approval deadline is the `deadline_ms` its opening command names, or by
//!   default its `issued_at_ms` plus [`APPROVAL_WINDOW_MS`]; the ledger (scheduler) issues
//!   `ExpireRequest` once it has passed, and a vote at or after it is refused.
//! - **Deadlines.** A named deadline must be at least [`MIN_APPROVAL_WINDOW_MS`] and at most
//!   [`MAX_APPROVAL_WINDOW_MS`] after `now` (see Time): approvers get at least a minute, and a
//!   request cannot sit open for months. It is part of the signed opening command, so nobody
//!   can move it after approvers saw it; a deadline on a command that opens no approval (a key
//!   in no workspace, a root workspace) is refused rather than silently ignored. There is no
//!   workspace-level default window: the registry's policies say who approves, not when.
//! - **Who proposes.** Creating a root workspace (no policy governs it yet): an owner of some
//!   keyring. Putting a key into a workspace (`AddKey`): an owner of the key's keyring. Any other
//!   change: someone the policy it needs names, so strangers cannot fill the log with proposals.
//! - Keys outside every workspace keep the owner-only behaviour: no approval is needed.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};
use tessera_identity::IdentityKey;
use tessera_policy::{
    Approval, ApprovalError, Change, Event, Ignored, KeyId, Outcome, Registry, Request, Subject,
    WorkspaceError,
};

use super::{Ctx, Plan, Rejection, RejectionKind, SignatureRequest, SignatureStatus, State};
use crate::command::Hash32;

/// How long a request waits for approvals, from its `issued_at_ms`.
pub const APPROVAL_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;
/// A requested deadline must be at least this after the request's `issued_at_ms` (1 minute).
pub const MIN_APPROVAL_WINDOW_MS: u64 = 60 * 1000;
/// A requested deadline may be at most this after the request's `issued_at_ms` (30 days).
pub const MAX_APPROVAL_WINDOW_MS: u64 = 30 * 24 * 60 * 60 * 1000;
/// Prefix of the SHA-256 input of [`sign_request_digest`].
pub const SIGN_REQUEST_DIGEST_DOMAIN: &str = "tessera/ledger/sign-request/v1";

/// The request digest approvals of a signature request sign: it commits to the key, the
/// 32-byte digest to sign and the derivation tweak, i.e. to exactly what the network would sign.
pub fn sign_request_digest(key: &Hash32, digest: &Hash32, tweak: Option<&Hash32>) -> [u8; 32] {
    let mut h = Sha256::new();
    h.update(SIGN_REQUEST_DIGEST_DOMAIN.as_bytes());
    h.update(key.0);
    h.update(digest.0);
    match tweak {
        None => h.update([0u8]),
        Some(t) => {
            h.update([1u8]);
            h.update(t.0);
        }
    }
    h.finalize().into()
}

/// The approval deadline of a request opened at `now_ms`: `requested`, if it is at least
/// [`MIN_APPROVAL_WINDOW_MS`] and at most [`MAX_APPROVAL_WINDOW_MS`] after `now_ms`, or by
/// default `now_ms` + [`APPROVAL_WINDOW_MS`].
pub fn approval_deadline(now_ms: u64, requested: Option<u64>) -> Result<u64, GovRejection> {
    let Some(deadline_ms) = requested else {
        return Ok(now_ms.saturating_add(APPROVAL_WINDOW_MS));
    };
    let bad = |why: String| GovRejection::BadDeadline {
        deadline_ms,
        now_ms,
        why,
    };
    if deadline_ms < now_ms.saturating_add(MIN_APPROVAL_WINDOW_MS) {
        return Err(bad(format!(
            "it must be at least {} s after the request",
            MIN_APPROVAL_WINDOW_MS / 1000
        )));
    }
    if deadline_ms > now_ms.saturating_add(MAX_APPROVAL_WINDOW_MS) {
        return Err(bad(format!(
            "it must be at most {} days after the request",
            MAX_APPROVAL_WINDOW_MS / (24 * 60 * 60 * 1000)
        )));
    }
    Ok(deadline_ms)
}

fn unused_deadline(deadline_ms: u64, now_ms: u64, why: &str) -> GovRejection {
    GovRejection::BadDeadline {
        deadline_ms,
        now_ms,
        why: format!("nothing to approve: {why}"),
    }
}

/// Why a governance rule refused an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum GovRejection {
    #[error("request {request} is not approved: {why}")]
    NotApproved { request: Hash32, why: String },
    #[error("approval refused: {0}")]
    BadApproval(#[from] ApprovalError),
    #[error("{0}")]
    Workspace(#[from] WorkspaceError),
    #[error("request {0} needs no approval (its key is in no workspace)")]
    NotGoverned(Hash32),
    #[error("request {request} is {state}; {action} needs a pending request")]
    Closed {
        request: Hash32,
        state: &'static str,
        action: &'static str,
    },
    #[error("request {request} passed its approval deadline {deadline_ms} (now {now_ms})")]
    Expired {
        request: Hash32,
        deadline_ms: u64,
        now_ms: u64,
    },
    #[error("request {request} is not past its approval deadline {deadline_ms} (now {now_ms})")]
    NotExpired {
        request: Hash32,
        deadline_ms: u64,
        now_ms: u64,
    },
    #[error("approver {0} already voted on this request")]
    AlreadyVoted(IdentityKey),
    #[error("an approval by {approver} must be submitted by its approver, not {signer}")]
    NotApproversCommand {
        signer: IdentityKey,
        approver: IdentityKey,
    },
    #[error("{signer} may not propose this change: {why}")]
    NotProposer { signer: IdentityKey, why: String },
    #[error("approval deadline {deadline_ms} refused (now {now_ms}): {why}")]
    BadDeadline {
        deadline_ms: u64,
        now_ms: u64,
        why: String,
    },
}

impl GovRejection {
    pub fn kind(&self) -> RejectionKind {
        use GovRejection::*;
        match self {
            BadApproval(_) | NotProposer { .. } | NotApproversCommand { .. } => {
                RejectionKind::Unauthorized
            }
            Workspace(WorkspaceError::UnknownWorkspace(_) | WorkspaceError::UnknownKey(_)) => {
                RejectionKind::Unknown
            }
            Workspace(
                WorkspaceError::NotApproved { .. }
                | WorkspaceError::RequestNotApproved
                | WorkspaceError::RequestMismatch
                | WorkspaceError::StalePolicy(_)
                | WorkspaceError::WorkspaceExists(_)
                | WorkspaceError::KeyExists(_),
            ) => RejectionKind::Conflict,
            Workspace(_) | BadDeadline { .. } => RejectionKind::Malformed,
            NotApproved { .. }
            | NotGoverned(_)
            | Closed { .. }
            | Expired { .. }
            | NotExpired { .. }
            | AlreadyVoted(_) => RejectionKind::Conflict,
        }
    }

    /// A short stable label (metrics, logs).
    pub fn label(&self) -> &'static str {
        use GovRejection::*;
        match self {
            NotApproved { .. } => "not_approved",
            BadApproval(_) => "bad_approval",
            Workspace(WorkspaceError::StalePolicy(_)) => "stale_policy",
            Workspace(_) => "workspace",
            NotGoverned(_) => "not_governed",
            Closed { .. } => "closed",
            Expired { .. } => "expired",
            NotExpired { .. } => "not_expired",
            AlreadyVoted(_) => "already_voted",
            NotProposer { .. } => "not_proposer",
            NotApproversCommand { .. } => "not_approvers_command",
            BadDeadline { .. } => "bad_deadline",
        }
    }
}

/// A proposed registry change and its approvals.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminRequest {
    pub id: Hash32,
    pub change: Change,
    pub proposer: IdentityKey,
    pub proposed_seq: u64,
    /// The approval state, under the policy in force when it was proposed.
    pub request: Request,
    /// Why an approved change could not be applied (the registry moved on meanwhile).
    pub failed: Option<String>,
}

/// The governance part of [`State`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Governance {
    registry: Registry,
    clock_ms: u64,
    admin: BTreeMap<Hash32, AdminRequest>,
    /// Approval state of signature requests on governed keys, by request id.
    sign: BTreeMap<Hash32, Request>,
}

/// What an accepted governance entry changes.
pub(super) enum GovPlan {
    /// A root workspace, applied at once.
    Registry(Registry),
    Propose(Box<AdminRequest>),
    OpenSign {
        req: Box<SignatureRequest>,
        approval: Box<Request>,
    },
    VoteAdmin {
        id: Hash32,
        request: Box<Request>,
        /// Once approved: the next registry, or why the change no longer applies.
        applied: Option<Result<Registry, String>>,
    },
    VoteSign {
        id: Hash32,
        request: Box<Request>,
        /// The request was vetoed: the signature request fails with this reason.
        rejected: Option<String>,
    },
    Expire {
        id: Hash32,
        request: Box<Request>,
        reason: String,
    },
}

/// Lower-case label of a policy request state.
pub fn state_label(s: &tessera_policy::State) -> &'static str {
    match s {
        tessera_policy::State::Pending => "pending",
        tessera_policy::State::Approved { .. } => "approved",
        tessera_policy::State::Signed { .. } => "signed",
        tessera_policy::State::Rejected { .. } => "rejected",
        tessera_policy::State::Expired { .. } => "expired",
    }
}

/// Why a request was rejected, in words.
pub fn reject_reason(r: &tessera_policy::RejectReason) -> String {
    match r {
        tessera_policy::RejectReason::Vetoed { by } => {
            let names: Vec<&str> = by.iter().map(|n| n.as_str()).collect();
            format!("vetoed by {}", names.join(", "))
        }
        tessera_policy::RejectReason::Withdrawn => "withdrawn".into(),
    }
}

fn gov(e: impl Into<GovRejection>) -> Rejection {
    Rejection::from(e.into())
}

impl State {
    /// The workspace registry.
    pub fn registry(&self) -> &Registry {
        &self.gov.registry
    }

    /// The governance clock: the largest `issued_at_ms` applied so far.
    pub fn governance_clock_ms(&self) -> u64 {
        self.gov.clock_ms
    }

    pub fn admin_request(&self, id: &Hash32) -> Option<&AdminRequest> {
        self.gov.admin.get(id)
    }

    /// Admin requests in log order.
    pub fn admin_requests(&self) -> Vec<&AdminRequest> {
        let mut v: Vec<_> = self.gov.admin.values().collect();
        v.sort_by_key(|a| a.proposed_seq);
        v
    }

    /// The approval state of a signature request on a governed key.
    pub fn sign_approval(&self, request: &Hash32) -> Option<&Request> {
        self.gov.sign.get(request)
    }

    /// Whether the key belongs to a workspace (its signatures need approvals).
    pub fn is_governed(&self, key: &Hash32) -> bool {
        self.gov.registry.keys().contains_key(&KeyId(key.0))
    }

    /// Whether a `StartSign` for `request` would pass the approval check now.
    /// Why a pending signature request can never be approved: it was made before its key
    /// joined a workspace, so no approval was opened with it and no vote can count. `None`
    /// for any other request.
    pub fn unapprovable(&self, request: &Hash32) -> Option<String> {
        let req = self.signatures.get(request)?;
        let governed = self.gov.registry.keys().contains_key(&KeyId(req.key.0));
        (governed && req.status == SignatureStatus::Pending && !self.gov.sign.contains_key(request))
            .then(|| {
                "it was made before its key joined a workspace, so no approval can be collected \
                 for it; request it again"
                    .to_string()
            })
    }

    pub fn sign_approved(&self, request: &Hash32) -> bool {
        self.check_sign_approved(request).is_ok()
    }

    /// The approval check of `StartSign`: a request on a governed key must be approved under
    /// the key's sign policy as it stands now, by the verified votes recorded in the log.
    pub fn check_sign_approved(&self, request: &Hash32) -> Result<(), Rejection> {
        let req = self
            .signatures
            .get(request)
            .ok_or(Rejection::UnknownRequest(*request))?;
        let key = KeyId(req.key.0);
        if !self.gov.registry.keys().contains_key(&key) {
            return Ok(());
        }
        let Some(approval) = self.gov.sign.get(request) else {
            return Err(gov(GovRejection::NotApproved {
                request: *request,
                why: "it was made before its key joined a workspace; request it again".into(),
            }));
        };
        self.gov
            .registry
            .check_sign_request(key, approval)
            .map_err(|e| match e {
                WorkspaceError::RequestNotApproved => gov(GovRejection::NotApproved {
                    request: *request,
                    why: format!(
                        "{} under `{}`: {}",
                        state_label(approval.state()),
                        approval.policy().policy(),
                        approval.decision()
                    ),
                }),
                other => gov(other),
            })
    }

    /// Every pending request (admin or signature) whose approval deadline is at or before
    /// `now_ms`: the ones `ExpireRequest` may end.
    pub fn expired_requests(&self, now_ms: u64) -> Vec<Hash32> {
        let due =
            |r: &Request| *r.state() == tessera_policy::State::Pending && now_ms >= r.deadline_ms();
        let mut out: Vec<Hash32> = self
            .gov
            .admin
            .values()
            .filter(|a| due(&a.request))
            .map(|a| a.id)
            .collect();
        out.extend(
            self.gov
                .sign
                .iter()
                .filter(|(id, r)| {
                    due(r)
                        && self
                            .signatures
                            .get(id)
                            .is_some_and(|s| s.status == SignatureStatus::Pending)
                })
                .map(|(id, _)| *id),
        );
        out
    }

    pub(super) fn gov_tick(&mut self, at_ms: u64) {
        self.gov.clock_ms = self.gov.clock_ms.max(at_ms);
    }

    fn gov_now(&self, ctx: &Ctx) -> u64 {
        self.gov.clock_ms.max(ctx.at_ms)
    }

    fn owns_some_keyring(&self, who: &IdentityKey) -> bool {
        self.keyrings.values().any(|r| r.is_owner(who))
    }

    fn open(
        &self,
        request_id: Hash32,
        request_digest: [u8; 32],
        policy: tessera_policy::ResolvedPolicy,
        now: u64,
        deadline_ms: Option<u64>,
    ) -> Result<Request, Rejection> {
        let deadline = approval_deadline(now, deadline_ms).map_err(gov)?;
        let subject = Subject::new(&self.network, request_id.0, request_digest, &policy)
            .map_err(|e| super::malformed("network", e.to_string()))?;
        Request::new(subject, policy, deadline)
            .map_err(|e| super::malformed("policy", e.to_string()))
    }

    pub(super) fn plan_propose(
        &self,
        ctx: &Ctx,
        change: &Change,
        deadline_ms: Option<u64>,
    ) -> Result<Plan, Rejection> {
        let reg = &self.gov.registry;
        let not = |why: &str| {
            gov(GovRejection::NotProposer {
                signer: ctx.signer,
                why: why.into(),
            })
        };
        if let Change::AddKey { id, .. } = change {
            let k = self
                .keys
                .get(&Hash32(id.0))
                .ok_or(Rejection::UnknownKey(Hash32(id.0)))?;
            let owner = self
                .keyrings
                .get(&k.keyring_id)
                .is_some_and(|r| r.is_owner(&ctx.signer));
            if !owner {
                return Err(not(
                    "only an owner of the key's keyring may put it in a workspace",
                ));
            }
            if reg.keys().contains_key(id) {
                return Err(gov(WorkspaceError::KeyExists(*id)));
            }
        }
        let Some(required) = reg.required_policy(change).map_err(gov)? else {
            // A root workspace: no policy governs it yet.
            if !self.owns_some_keyring(&ctx.signer) {
                return Err(not("only a keyring owner may create a root workspace"));
            }
            if let Some(d) = deadline_ms {
                return Err(gov(unused_deadline(
                    d,
                    self.gov_now(ctx),
                    "a root workspace applies at once",
                )));
            }
            let next = reg.apply(change, &Default::default()).map_err(gov)?;
            return Ok(Plan::Gov(GovPlan::Registry(next)));
        };
        if !matches!(change, Change::AddKey { .. })
            && !required.policy.members().contains(&ctx.signer)
        {
            return Err(not(&format!(
                "the {} `{}` does not name the proposer",
                required.which,
                required.policy.policy()
            )));
        }
        if self.id_in_use(&ctx.id) || self.gov.admin.contains_key(&ctx.id) {
            return Err(Rejection::DuplicateId(ctx.id));
        }
        let request = self.open(
            ctx.id,
            change.digest(),
            required.policy,
            self.gov_now(ctx),
            deadline_ms,
        )?;
        Ok(Plan::Gov(GovPlan::Propose(Box::new(AdminRequest {
            id: ctx.id,
            change: change.clone(),
            proposer: ctx.signer,
            proposed_seq: ctx.seq,
            request,
            failed: None,
        }))))
    }

    /// Wraps the plan of a `RequestSignature`: on a governed key, the request also opens an
    /// approval under the key's sign policy in force now, with deadline `deadline_ms` (`None`:
    /// the default).
    pub(super) fn plan_open_sign(
        &self,
        ctx: &Ctx,
        plan: Plan,
        deadline_ms: Option<u64>,
    ) -> Result<Plan, Rejection> {
        let Plan::RequestSignature(req) = plan else {
            return Ok(plan);
        };
        let key = KeyId(req.key.0);
        if !self.gov.registry.keys().contains_key(&key) {
            if let Some(d) = deadline_ms {
                return Err(gov(unused_deadline(
                    d,
                    self.gov_now(ctx),
                    "the key is in no workspace, so the request needs no approval",
                )));
            }
            return Ok(Plan::RequestSignature(req));
        }
        let effective = self.gov.registry.sign_policy(key).map_err(gov)?;
        let digest = sign_request_digest(&req.key, &req.digest, req.tweak.as_ref());
        let approval = self.open(
            req.id,
            digest,
            effective.policy,
            self.gov_now(ctx),
            deadline_ms,
        )?;
        Ok(Plan::Gov(GovPlan::OpenSign {
            req: Box::new(req),
            approval: Box::new(approval),
        }))
    }

    /// Checks that `r` takes votes at `now` and counts `approval` on it.
    fn vote(
        &self,
        id: &Hash32,
        r: &Request,
        approval: &Approval,
        now: u64,
        action: &'static str,
    ) -> Result<Request, Rejection> {
        if *r.state() != tessera_policy::State::Pending {
            return Err(gov(GovRejection::Closed {
                request: *id,
                state: state_label(r.state()),
                action,
            }));
        }
        if now >= r.deadline_ms() {
            return Err(gov(GovRejection::Expired {
                request: *id,
                deadline_ms: r.deadline_ms(),
                now_ms: now,
            }));
        }
        let verified = approval.verify(r.subject(), r.policy()).map_err(gov)?;
        let (next, outcome) = r.step(&Event::Vote(verified), now);
        match outcome {
            Outcome::Counted | Outcome::Moved => Ok(next),
            Outcome::Ignored(Ignored::AlreadyVoted) => {
                Err(gov(GovRejection::AlreadyVoted(approval.approver)))
            }
            _ => Err(gov(GovRejection::Closed {
                request: *id,
                state: state_label(next.state()),
                action,
            })),
        }
    }

    pub(super) fn plan_approve(
        &self,
        ctx: &Ctx,
        request: &Hash32,
        approval: &Approval,
    ) -> Result<Plan, Rejection> {
        if ctx.signer != approval.approver {
            return Err(gov(GovRejection::NotApproversCommand {
                signer: ctx.signer,
                approver: approval.approver,
            }));
        }
        let now = self.gov_now(ctx);
        let reg = &self.gov.registry;
        if let Some(a) = self.gov.admin.get(request) {
            // Votes under a policy that is no longer in force do not count.
            if let Some(e) = reg.required_policy(&a.change).map_err(gov)? {
                if e.policy.digest() != a.request.policy().digest() {
                    return Err(gov(WorkspaceError::StalePolicy(e.which)));
                }
            }
            let next = self.vote(request, &a.request, approval, now, ctx.action)?;
            let applied =
                matches!(next.state(), tessera_policy::State::Approved { .. }).then(|| {
                    reg.apply_approved(&a.change, &next)
                        .map_err(|e| e.to_string())
                });
            return Ok(Plan::Gov(GovPlan::VoteAdmin {
                id: *request,
                request: Box::new(next),
                applied,
            }));
        }
        let sreq = self
            .signatures
            .get(request)
            .ok_or(Rejection::UnknownRequest(*request))?;
        let r = self
            .gov
            .sign
            .get(request)
            .ok_or(gov(GovRejection::NotGoverned(*request)))?;
        let effective = reg.sign_policy(KeyId(sreq.key.0)).map_err(gov)?;
        if effective.policy.digest() != r.policy().digest() {
            return Err(gov(WorkspaceError::StalePolicy(effective.which)));
        }
        let next = self.vote(request, r, approval, now, ctx.action)?;
        let rejected = match next.state() {
            tessera_policy::State::Rejected { reason, .. } => Some(reject_reason(reason)),
            _ => None,
        };
        Ok(Plan::Gov(GovPlan::VoteSign {
            id: *request,
            request: Box::new(next),
            rejected,
        }))
    }

    pub(super) fn plan_expire(&self, ctx: &Ctx, request: &Hash32) -> Result<Plan, Rejection> {
        let now = self.gov_now(ctx);
        let r = match self.gov.admin.get(request) {
            Some(a) => &a.request,
            None => self
                .gov
                .sign
                .get(request)
                .ok_or(Rejection::UnknownRequest(*request))?,
        };
        if *r.state() != tessera_policy::State::Pending {
            return Err(gov(GovRejection::Closed {
                request: *request,
                state: state_label(r.state()),
                action: ctx.action,
            }));
        }
        if now < r.deadline_ms() {
            return Err(gov(GovRejection::NotExpired {
                request: *request,
                deadline_ms: r.deadline_ms(),
                now_ms: now,
            }));
        }
        let reason = format!(
            "expired: not approved by its deadline {} under `{}` ({})",
            r.deadline_ms(),
            r.policy().policy(),
            r.decision()
        );
        let (next, _) = r.step(&Event::Tick, now);
        Ok(Plan::Gov(GovPlan::Expire {
            id: *request,
            request: Box::new(next),
            reason,
        }))
    }

    pub(super) fn exec_gov(&mut self, plan: GovPlan) {
        match plan {
            GovPlan::Registry(next) => self.gov.registry = next,
            GovPlan::Propose(a) => {
                self.gov.admin.insert(a.id, *a);
            }
            GovPlan::OpenSign { req, approval } => {
                self.gov.sign.insert(req.id, *approval);
                self.signatures.insert(req.id, *req);
            }
            GovPlan::VoteAdmin {
                id,
                request,
                applied,
            } => {
                let mut failed = None;
                match applied {
                    Some(Ok(next)) => self.gov.registry = next,
                    Some(Err(why)) => failed = Some(why),
                    None => {}
                }
                if let Some(a) = self.gov.admin.get_mut(&id) {
                    a.request = *request;
                    a.failed = failed;
                }
            }
            GovPlan::VoteSign {
                id,
                request,
                rejected,
            } => {
                self.gov.sign.insert(id, *request);
                if let (Some(reason), Some(r)) = (rejected, self.signatures.get_mut(&id)) {
                    r.status = SignatureStatus::Failed {
                        reason: format!("rejected: {reason}"),
                    };
                }
            }
            GovPlan::Expire {
                id,
                request,
                reason,
            } => {
                if let Some(a) = self.gov.admin.get_mut(&id) {
                    a.request = *request;
                } else {
                    self.gov.sign.insert(id, *request);
                    if let Some(r) = self.signatures.get_mut(&id) {
                        r.status = SignatureStatus::Failed { reason };
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests;
