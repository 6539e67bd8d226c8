//! Keyring changes: a keyring owner replaces the committee (operators and threshold) of a
//! keyring, and every key of the keyring is reshared to the new committee under the same public
//! key (`ChangeKeyring`, `StartReshare`, `ReshareDone`).
//!
//! Decisions the rules encode:
//! - A change covers the keyring's **active** keys when it is requested; each must be an
//!   `ecdsa-secp256k1` key with known public shares (FROST resharing is not available, so a
//!   keyring with an active Schnorr key cannot change). A key whose generation is pending or
//!   running, or a running refresh, refuses the change until it finishes.
//! - While a change runs, no keygen, presign, signing or refresh session of the keyring starts;
//!   requests are still accepted and wait. A reshare session starts only when no session of any
//!   kind runs in the keyring, one key at a time.
//! - A reshare session is done when **every** new operator posted `ReshareDone` with the same
//!   public shares, whose interpolation at 0 is the key's public key.
//! - The switch is atomic: when the last key is done (or at once for a keyring without keys),
//!   the keyring takes the new operators and threshold, every key the new shares (its
//!   `generation` becomes the reshare session) and every unconsumed presign session of the
//!   keyring is aborted: presignatures of the old committee must never be used. A change that
//!   fails leaves the keyring and its keys exactly as they were.
//! - Blame in a reshare session: `SessionFailed` may come from a dealer or a new operator and
//!   blames dealers (old indices). A dealer blamed by at least half of the session's other
//!   members (and at least one) is excluded from that key's later reshare sessions of the same
//!   change ([`KeyReshare::excluded`]). The reporter index of such a report is its position in
//!   the session's member list: the dealers in order, then the new operators that are not
//!   dealers, in order.

use std::collections::{BTreeMap, BTreeSet};

use k256::ProjectivePoint;
use tessera_core::{PartyIndex, SignerSet};
use tessera_identity::IdentityKey;

use super::{
    malformed, wrong_state, Ctx, FailureReport, KeyStatus, Plan, RefreshStatus, Rejection,
    SignatureStatus, State, MAX_OPERATORS,
};
use crate::command::{Hash32, Operator, KEY_TYPE_ECDSA_SECP256K1};

/// Where a keyring change stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChangeStatus {
    /// Keys are being reshared; the keyring still has its old committee.
    Running,
    /// Every key was reshared and the keyring switched to the new committee at entry `seq`.
    Done { seq: u64 },
    /// Given up; the keyring and its keys are as before.
    Failed { reason: String },
}

impl ChangeStatus {
    pub fn label(&self) -> &'static str {
        match self {
            ChangeStatus::Running => "running",
            ChangeStatus::Done { .. } => "done",
            ChangeStatus::Failed { .. } => "failed",
        }
    }
}

/// The resharing of one key within a keyring change.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct KeyReshare {
    /// The key's share generation when the change started.
    pub previous: Option<Hash32>,
    /// The running reshare session, if any.
    pub session: Option<Hash32>,
    /// How many reshare sessions were started.
    pub attempts: u32,
    /// `ReshareDone` posts of the current session: the public shares, by new index.
    pub results: BTreeMap<u16, Vec<String>>,
    /// The session that completed.
    pub done: Option<Hash32>,
    /// The new committee's public shares (hex SEC1 compressed, by new index), once done.
    pub public_shares: Vec<String>,
    /// Old operator indices excluded as dealers by blame in this change's sessions.
    pub excluded: BTreeSet<u16>,
}

/// A `ChangeKeyring`. Its id is the command id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyringChange {
    pub id: Hash32,
    pub keyring_id: String,
    pub threshold: u16,
    pub operators: Vec<Operator>,
    pub requester: IdentityKey,
    pub requested_seq: u64,
    pub status: ChangeStatus,
    /// The keys being reshared (the keyring's active keys when the change was requested).
    pub keys: BTreeMap<Hash32, KeyReshare>,
}

impl KeyringChange {
    /// The index of `who` in the new committee.
    pub fn operator_index(&self, who: &IdentityKey) -> Option<u16> {
        super::index_of(&self.operators, who)
    }

    /// The size of the new committee.
    pub fn n(&self) -> u16 {
        u16::try_from(self.operators.len()).unwrap_or(u16::MAX)
    }
}

/// A reshare session started by `StartReshare`: `dealers` (old indices) reshare `key` to the
/// new committee of `change`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReshareSession {
    pub id: Hash32,
    pub change: Hash32,
    pub key: Hash32,
    pub dealers: Vec<u16>,
    pub started_seq: u64,
    pub started_at_ms: u64,
}

pub(super) enum ResharePlan {
    Change(KeyringChange),
    Start(ReshareSession),
    Done {
        session: Hash32,
        change: Hash32,
        key: Hash32,
        index: u16,
        public_shares: Vec<String>,
        key_done: bool,
        switch: bool,
        seq: u64,
    },
    Abort {
        change: Hash32,
        key: Hash32,
    },
    Fail {
        change: Hash32,
        reason: String,
    },
}

/// Checks `n` public shares (hex SEC1 compressed points); returns them as lowercase hex.
pub(super) fn parse_public_shares(shares: &[String], n: u16) -> Result<Vec<String>, Rejection> {
    decode_points(shares, n).map(|(hex, _)| hex)
}

fn decode_points(
    shares: &[String],
    n: u16,
) -> Result<(Vec<String>, Vec<ProjectivePoint>), Rejection> {
    if shares.len() != usize::from(n) {
        return Err(malformed(
            "public_shares",
            format!("need {n} points (one per operator), got {}", shares.len()),
        ));
    }
    let mut hexes = Vec::with_capacity(shares.len());
    let mut points = Vec::with_capacity(shares.len());
    for (i, s) in shares.iter().enumerate() {
        let bytes =
            hex::decode(s).map_err(|e| malformed("public_shares", format!("entry {i}: {e}")))?;
        if bytes.len() != 33 {
            return Err(malformed(
                "public_shares",
                format!("entry {i}: expected 33 bytes (SEC1 compressed)"),
            ));
        }
        let pk = k256::PublicKey::from_sec1_bytes(&bytes).map_err(|_| {
            malformed(
                "public_shares",
                format!("entry {i} is not a point on secp256k1"),
            )
        })?;
        hexes.push(hex::encode(bytes));
        points.push(pk.to_projective());
    }
    Ok((hexes, points))
}

/// The Lagrange interpolation at 0 of `points`, the value at `x = j + 1` being `points[j]`
/// (party `j`'s Shamir point, as in [`tessera_core::SignerSet`]).
fn interpolate_at_zero(points: &[ProjectivePoint]) -> Option<ProjectivePoint> {
    let k = u16::try_from(points.len()).ok()?;
    let set = SignerSet::new((0..k).map(PartyIndex).collect(), k, k).ok()?;
    let mut acc = ProjectivePoint::IDENTITY;
    for (&p, x) in set.parties().iter().zip(points) {
        acc += *x * set.lagrange_at_zero(p)?;
    }
    Some(acc)
}

impl State {
    pub fn keyring_change(&self, id: &Hash32) -> Option<&KeyringChange> {
        self.changes.get(id)
    }

    /// Keyring changes in log order.
    pub fn keyring_changes(&self) -> Vec<&KeyringChange> {
        let mut v: Vec<_> = self.changes.values().collect();
        v.sort_by_key(|c| c.requested_seq);
        v
    }

    /// The running change of a keyring, if any.
    pub fn running_change(&self, keyring_id: &str) -> Option<&KeyringChange> {
        self.changes
            .values()
            .find(|c| c.keyring_id == keyring_id && c.status == ChangeStatus::Running)
    }

    pub fn reshare_session(&self, id: &Hash32) -> Option<&ReshareSession> {
        self.reshare_sessions.get(id)
    }

    /// Whether `who` is an operator of some keyring or of the new committee of a running
    /// change (so that it can heartbeat and be live before the change runs).
    pub fn is_operator(&self, who: &IdentityKey) -> bool {
        self.keyrings().any(|r| r.operator_index(who).is_some())
            || self
                .changes
                .values()
                .any(|c| c.status == ChangeStatus::Running && c.operator_index(who).is_some())
    }

    /// The seq from which the keyring's current committee holds the shares: the last completed
    /// change's, 0 when it never changed.
    pub(super) fn committee_since(&self, keyring_id: &str) -> u64 {
        self.changes
            .values()
            .filter(|c| c.keyring_id == keyring_id)
            .filter_map(|c| match c.status {
                ChangeStatus::Done { seq } => Some(seq),
                _ => None,
            })
            .max()
            .unwrap_or(0)
    }

    /// Refuses `ctx.action` on a keyring while a change of it runs.
    pub(super) fn check_not_changing(&self, ctx: &Ctx, keyring_id: &str) -> Result<(), Rejection> {
        match self.running_change(keyring_id) {
            Some(c) => Err(Rejection::KeyringChanging {
                keyring: keyring_id.to_string(),
                change: c.id,
                action: ctx.action,
            }),
            None => Ok(()),
        }
    }

    /// A session of any kind still running in the keyring, described: a keygen, a presign
    /// session not yet ready, a signing (ECDSA or FROST), a refresh or a reshare.
    pub fn keyring_running_session(&self, keyring_id: &str) -> Option<String> {
        let in_ring = |key: &Hash32| {
            self.keys
                .get(key)
                .is_some_and(|k| k.keyring_id == keyring_id)
        };
        for k in self.keys.values().filter(|k| k.keyring_id == keyring_id) {
            if let KeyStatus::Generating { session } = k.status {
                return Some(format!("keygen session {session} of key {}", k.id));
            }
        }
        for p in self.presigns.values().filter(|p| in_ring(&p.key)) {
            if p.is_unassigned() && !p.is_ready() {
                return Some(format!("presign session {} of key {}", p.id, p.key));
            }
        }
        for r in self.signatures.values().filter(|r| in_ring(&r.key)) {
            if let SignatureStatus::Signing { presign } = r.status {
                return Some(format!("signing session {presign} of request {}", r.id));
            }
        }
        for r in self.refreshes.values().filter(|r| in_ring(&r.key)) {
            if let RefreshStatus::Running { session } = r.status {
                return Some(format!("refresh session {session} of key {}", r.key));
            }
        }
        for c in self.changes.values().filter(|c| c.keyring_id == keyring_id) {
            if c.status != ChangeStatus::Running {
                continue;
            }
            for (key, e) in &c.keys {
                if let Some(s) = e.session {
                    return Some(format!("reshare session {s} of key {key}"));
                }
            }
        }
        None
    }

    /// The old operators of a change's keyring and its new committee.
    pub(super) fn change_concerned(&self, c: &KeyringChange) -> BTreeSet<IdentityKey> {
        let mut out: BTreeSet<IdentityKey> = c.operators.iter().map(|o| o.identity).collect();
        if let Some(ring) = self.keyrings.get(&c.keyring_id) {
            out.extend(ring.operators.iter().map(|o| o.identity));
        }
        out
    }

    /// A reshare session's dealers and the new committee.
    pub(super) fn reshare_concerned(&self, r: &ReshareSession) -> BTreeSet<IdentityKey> {
        let Some(c) = self.changes.get(&r.change) else {
            return BTreeSet::new();
        };
        let mut out: BTreeSet<IdentityKey> = c.operators.iter().map(|o| o.identity).collect();
        if let Some(ring) = self.keyrings.get(&c.keyring_id) {
            out.extend(
                r.dealers
                    .iter()
                    .filter_map(|i| ring.operator(*i).map(|o| o.identity)),
            );
        }
        out
    }

    /// The members of a reshare session, for blame: the dealers' identities in order, then the
    /// new operators that are not dealers.
    fn reshare_members(&self, r: &ReshareSession) -> Vec<IdentityKey> {
        let mut out: Vec<IdentityKey> = Vec::new();
        let Some(c) = self.changes.get(&r.change) else {
            return out;
        };
        if let Some(ring) = self.keyrings.get(&c.keyring_id) {
            out.extend(
                r.dealers
                    .iter()
                    .filter_map(|i| ring.operator(*i).map(|o| o.identity)),
            );
        }
        for o in &c.operators {
            if !out.contains(&o.identity) {
                out.push(o.identity);
            }
        }
        out
    }

    pub(super) fn plan_change_keyring(
        &self,
        ctx: &Ctx,
        keyring_id: &str,
        threshold: u16,
        operators: &[Operator],
    ) -> Result<Plan, Rejection> {
        let ring = self.owned_keyring(ctx, keyring_id)?;
        self.check_not_changing(ctx, keyring_id)?;
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
        if let Some(o) = operators.iter().find(|o| {
            o.address.is_empty()
                || o.region.is_empty()
                || o.address.len() > 256
                || o.region.len() > 64
        }) {
            return Err(malformed(
                "operators",
                format!(
                    "operator {} needs an address of 1 to 256 bytes and a region of 1 to 64",
                    o.identity
                ),
            ));
        }
        if threshold == 0 || usize::from(threshold) > operators.len() {
            return Err(Rejection::BadThreshold {
                threshold,
                operators: operators.len(),
            });
        }
        let regions: BTreeSet<&str> = operators.iter().map(|o| o.region.as_str()).collect();
        if regions.len() < usize::from(ring.min_regions) || threshold < ring.min_regions {
            return Err(malformed(
                "operators",
                format!(
                    "keyring {keyring_id:?} needs signers from {} distinct regions; the new \
                     operators span {} and the new threshold is {threshold}",
                    ring.min_regions,
                    regions.len()
                ),
            ));
        }
        let mut keys = BTreeMap::new();
        for k in self
            .keys()
            .into_iter()
            .filter(|k| k.keyring_id == keyring_id)
        {
            match &k.status {
                KeyStatus::Pending | KeyStatus::Generating { .. } => {
                    return Err(wrong_state(
                        format!("key {} of keyring {keyring_id:?}", k.id),
                        k.status.label(),
                        ctx.action,
                        "every key's generation finished (wait for key's generation)",
                    ));
                }
                KeyStatus::Failed { .. } => continue,
                KeyStatus::Active { .. } => {}
            }
            if k.key_type != KEY_TYPE_ECDSA_SECP256K1 {
                return Err(Rejection::UnsupportedKeyType(format!(
                    "key {} is a {} key: resharing FROST keys is not available, so keyring \
                     {keyring_id:?} cannot change its committee",
                    k.id, k.key_type
                )));
            }
            if k.public_shares.len() != usize::from(ring.n()) {
                return Err(wrong_state(
                    format!("key {}", k.id),
                    "without public shares",
                    ctx.action,
                    "every key's public shares (from its keygen)",
                ));
            }
            keys.insert(
                k.id,
                KeyReshare {
                    previous: k.generation,
                    ..KeyReshare::default()
                },
            );
        }
        if let Some(r) = self.refreshes.values().find(|r| {
            matches!(r.status, RefreshStatus::Running { .. })
                && self
                    .keys
                    .get(&r.key)
                    .is_some_and(|k| k.keyring_id == keyring_id)
        }) {
            return Err(wrong_state(
                format!("key {} of keyring {keyring_id:?}", r.key),
                "being refreshed",
                ctx.action,
                "no refresh running",
            ));
        }
        if self.id_in_use(&ctx.id) {
            return Err(Rejection::DuplicateId(ctx.id));
        }
        Ok(Plan::Reshare(ResharePlan::Change(KeyringChange {
            id: ctx.id,
            keyring_id: keyring_id.to_string(),
            threshold,
            operators: operators.to_vec(),
            requester: ctx.signer,
            requested_seq: ctx.seq,
            status: ChangeStatus::Running,
            keys,
        })))
    }

    fn running_change_by_id(
        &self,
        ctx: &Ctx,
        change: &Hash32,
    ) -> Result<&KeyringChange, Rejection> {
        let c = self
            .changes
            .get(change)
            .ok_or(Rejection::UnknownRequest(*change))?;
        if c.status != ChangeStatus::Running {
            return Err(wrong_state(
                format!("keyring change {change}"),
                c.status.label(),
                ctx.action,
                "running",
            ));
        }
        Ok(c)
    }

    pub(super) fn plan_start_reshare(
        &self,
        ctx: &Ctx,
        change: &Hash32,
        key: &Hash32,
        dealers: &[u16],
    ) -> Result<Plan, Rejection> {
        let c = self.running_change_by_id(ctx, change)?;
        let entry = c.keys.get(key).ok_or_else(|| {
            malformed(
                "key",
                format!("key {key} is not one of the keys of keyring change {change}"),
            )
        })?;
        if entry.done.is_some() {
            return Err(wrong_state(
                format!("key {key}"),
                "already reshared",
                ctx.action,
                "a key of the change not yet reshared",
            ));
        }
        if let Some(s) = entry.session {
            return Err(wrong_state(
                format!("key {key}"),
                &format!("being reshared by session {s}"),
                ctx.action,
                "no reshare session running for the key",
            ));
        }
        if let Some(running) = self.keyring_running_session(&c.keyring_id) {
            return Err(wrong_state(
                format!("keyring {:?}", c.keyring_id),
                &format!("running {running}"),
                ctx.action,
                "no session running in the keyring",
            ));
        }
        let ring = self
            .keyrings
            .get(&c.keyring_id)
            .ok_or_else(|| Rejection::UnknownKeyring(c.keyring_id.clone()))?;
        if dealers.len() != usize::from(ring.threshold)
            || !dealers.windows(2).all(|w| matches!(w, [a, b] if a < b))
            || dealers.iter().any(|i| *i >= ring.n())
        {
            return Err(malformed(
                "dealers",
                format!(
                    "need {} distinct sorted indices below {} (the keyring's current threshold \
                     and operators)",
                    ring.threshold,
                    ring.n()
                ),
            ));
        }
        if let Some(x) = dealers.iter().find(|i| entry.excluded.contains(i)) {
            return Err(malformed(
                "dealers",
                format!(
                    "operator {x} was blamed in a reshare session of key {key} and may not deal"
                ),
            ));
        }
        if self.id_in_use(&ctx.id) {
            return Err(Rejection::DuplicateId(ctx.id));
        }
        Ok(Plan::Reshare(ResharePlan::Start(ReshareSession {
            id: ctx.id,
            change: *change,
            key: *key,
            dealers: dealers.to_vec(),
            started_seq: ctx.seq,
            started_at_ms: ctx.at_ms,
        })))
    }

    pub(super) fn plan_reshare_done(
        &self,
        ctx: &Ctx,
        session: &Hash32,
        public_shares: &[String],
    ) -> Result<Plan, Rejection> {
        let s = self
            .reshare_sessions
            .get(session)
            .ok_or(Rejection::UnknownSession(*session))?;
        let c = self.running_change_by_id(ctx, &s.change)?;
        let entry = c.keys.get(&s.key).ok_or(Rejection::UnknownKey(s.key))?;
        if entry.session != Some(*session) {
            return Err(wrong_state(
                format!("reshare session {session}"),
                "finished or aborted",
                ctx.action,
                "the key's running reshare session",
            ));
        }
        let index = c
            .operator_index(&ctx.signer)
            .ok_or(Rejection::NotNewOperator {
                signer: ctx.signer,
                change: c.id,
            })?;
        if entry.results.contains_key(&index) {
            return Err(Rejection::Duplicate {
                index,
                action: ctx.action,
                target: *session,
            });
        }
        let (hexes, points) = decode_points(public_shares, c.n())?;
        let rec = self.keys.get(&s.key).ok_or(Rejection::UnknownKey(s.key))?;
        let KeyStatus::Active { public_key, .. } = &rec.status else {
            return Err(wrong_state(
                format!("key {}", s.key),
                rec.status.label(),
                ctx.action,
                "active",
            ));
        };
        let key_point = hex::decode(public_key)
            .ok()
            .and_then(|b| k256::PublicKey::from_sec1_bytes(&b).ok())
            .map(|p| p.to_projective())
            .ok_or_else(|| malformed("public_key", "the key's public key is not a point"))?;
        let first = points.get(..usize::from(c.threshold)).unwrap_or(&points);
        if interpolate_at_zero(first) != Some(key_point) {
            return Err(malformed(
                "public_shares",
                format!(
                    "the first {} shares do not interpolate to key {}'s public key",
                    c.threshold, s.key
                ),
            ));
        }
        if let Some((other, _)) = entry.results.iter().find(|(_, v)| **v != hexes) {
            return Err(malformed(
                "public_shares",
                format!("new operator {other} posted different public shares in this session"),
            ));
        }
        let key_done = entry.results.len() + 1 >= usize::from(c.n());
        let switch = key_done && c.keys.iter().all(|(k, e)| *k == s.key || e.done.is_some());
        Ok(Plan::Reshare(ResharePlan::Done {
            session: *session,
            change: c.id,
            key: s.key,
            index,
            public_shares: hexes,
            key_done,
            switch,
            seq: ctx.seq,
        }))
    }

    pub(super) fn plan_reshare_failed(
        &self,
        ctx: &Ctx,
        r: &ReshareSession,
        blamed: &[u16],
        check: &str,
    ) -> Result<Plan, Rejection> {
        let members = self.reshare_members(r);
        let reporter = members
            .iter()
            .position(|m| *m == ctx.signer)
            .and_then(|i| u16::try_from(i).ok())
            .ok_or(Rejection::NotOperator {
                signer: ctx.signer,
                keyring: format!("(reshare session {}: dealers and new committee)", r.id),
            })?;
        if blamed.len() > r.dealers.len() || blamed.iter().any(|b| !r.dealers.contains(b)) {
            return Err(malformed(
                "blamed",
                "must name dealers of the reshare session (old operator indices)",
            ));
        }
        if check.len() > 128 {
            return Err(malformed("check", "over 128 bytes"));
        }
        if self
            .failure_reports(&r.id)
            .iter()
            .any(|f| f.reporter == reporter)
        {
            return Err(Rejection::Duplicate {
                index: reporter,
                action: ctx.action,
                target: r.id,
            });
        }
        let mut blamed = blamed.to_vec();
        blamed.sort_unstable();
        blamed.dedup();
        Ok(Plan::SessionFailed {
            session: r.id,
            report: FailureReport {
                seq: ctx.seq,
                reporter,
                blamed,
                check: check.to_string(),
            },
        })
    }

    /// `AbortSession` on a reshare session (back to waiting for a new one) or on a change id
    /// (the change fails); `None` when `id` is neither.
    pub(super) fn plan_abort_reshare(
        &self,
        id: &Hash32,
        reason: &str,
    ) -> Result<Option<Plan>, Rejection> {
        if let Some(s) = self.reshare_sessions.get(id) {
            let current = self.changes.get(&s.change).is_some_and(|c| {
                c.status == ChangeStatus::Running
                    && c.keys.get(&s.key).and_then(|e| e.session) == Some(*id)
            });
            if !current {
                return Err(wrong_state(
                    format!("reshare session {id}"),
                    "finished or aborted",
                    "AbortSession",
                    "a running session",
                ));
            }
            return Ok(Some(Plan::Reshare(ResharePlan::Abort {
                change: s.change,
                key: s.key,
            })));
        }
        if let Some(c) = self.changes.get(id) {
            if c.status != ChangeStatus::Running {
                return Err(wrong_state(
                    format!("keyring change {id}"),
                    c.status.label(),
                    "AbortSession",
                    "running",
                ));
            }
            return Ok(Some(Plan::Reshare(ResharePlan::Fail {
                change: *id,
                reason: reason.to_string(),
            })));
        }
        Ok(None)
    }

    /// After a `SessionFailed` on a reshare session: dealers blamed by at least half of the
    /// other members (and at least one) are excluded for the key in the change.
    pub(super) fn update_reshare_exclusions(&mut self, session: &Hash32) {
        let Some(r) = self.reshare_sessions.get(session) else {
            return;
        };
        let members = self.reshare_members(r);
        let reports = self.failure_reports(session);
        let others = members.len().saturating_sub(1);
        let mut excluded = Vec::new();
        for (pos, x) in r.dealers.iter().enumerate() {
            let accusers = reports
                .iter()
                .filter(|f| usize::from(f.reporter) != pos && f.blamed.contains(x))
                .count();
            if accusers >= 1 && accusers * 2 >= others {
                excluded.push(*x);
            }
        }
        let (change, key) = (r.change, r.key);
        if let Some(e) = self
            .changes
            .get_mut(&change)
            .and_then(|c| c.keys.get_mut(&key))
        {
            e.excluded.extend(excluded);
        }
    }

    pub(super) fn exec_reshare(&mut self, plan: ResharePlan) {
        match plan {
            ResharePlan::Change(c) => {
                let (id, seq, empty) = (c.id, c.requested_seq, c.keys.is_empty());
                self.changes.insert(c.id, c);
                if empty {
                    self.switch_committee(&id, seq);
                }
            }
            ResharePlan::Start(s) => {
                if let Some(e) = self
                    .changes
                    .get_mut(&s.change)
                    .and_then(|c| c.keys.get_mut(&s.key))
                {
                    e.session = Some(s.id);
                    e.attempts = e.attempts.saturating_add(1);
                    e.results.clear();
                }
                self.reshare_sessions.insert(s.id, s);
            }
            ResharePlan::Done {
                session,
                change,
                key,
                index,
                public_shares,
                key_done,
                switch,
                seq,
            } => {
                if let Some(e) = self
                    .changes
                    .get_mut(&change)
                    .and_then(|c| c.keys.get_mut(&key))
                {
                    e.results.insert(index, public_shares.clone());
                    if key_done {
                        e.done = Some(session);
                        e.session = None;
                        e.public_shares = public_shares;
                    }
                }
                if switch {
                    self.switch_committee(&change, seq);
                }
            }
            ResharePlan::Abort { change, key } => {
                if let Some(e) = self
                    .changes
                    .get_mut(&change)
                    .and_then(|c| c.keys.get_mut(&key))
                {
                    e.session = None;
                    e.results.clear();
                }
            }
            ResharePlan::Fail { change, reason } => {
                if let Some(c) = self.changes.get_mut(&change) {
                    c.status = ChangeStatus::Failed { reason };
                    for e in c.keys.values_mut() {
                        e.session = None;
                        e.results.clear();
                    }
                }
            }
        }
    }

    /// The keyring takes the change's committee and every key its new shares; presignatures
    /// of the old committee are void.
    fn switch_committee(&mut self, change: &Hash32, seq: u64) {
        let Some(c) = self.changes.get_mut(change) else {
            return;
        };
        c.status = ChangeStatus::Done { seq };
        let c = c.clone();
        if let Some(ring) = self.keyrings.get_mut(&c.keyring_id) {
            ring.operators = c.operators.clone();
            ring.threshold = c.threshold;
        }
        for (key, e) in &c.keys {
            if let Some(k) = self.keys.get_mut(key) {
                k.generation = e.done;
                k.public_shares = e.public_shares.clone();
                // The keygen results name the old committee's shares.
                k.results.clear();
            }
        }
        let ring_keys: BTreeSet<Hash32> = self
            .keys
            .values()
            .filter(|k| k.keyring_id == c.keyring_id)
            .map(|k| k.id)
            .collect();
        for p in self.presigns.values_mut() {
            if ring_keys.contains(&p.key) && p.is_unassigned() {
                p.aborted = Some(format!(
                    "keyring change {change}: presignatures of the old committee are void"
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests;
