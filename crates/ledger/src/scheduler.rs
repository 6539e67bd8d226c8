//! The scheduler: which admin commands the ledger should issue next, decided from the state,
//! the operators' liveness and the clock. Pure, so it is tested without a server; the server
//! runs it after every append and on a timer, signs what it returns and appends it.
//!
//! Per round, in this order:
//! 1. **Aborts.** A session with a `SessionFailed` report, a keygen or an unready presign past
//!    its timeout, and a signing past its timeout are aborted (`AbortSession`); a request whose
//!    presign session is aborted returns to pending and gets another.
//! 2. **Give up.** A pending key or signature request that already used `max_attempts`
//!    sessions fails (`AbortSession` naming the request).
//! 3. **Keygen.** A pending key request starts when **all** its keyring's operators are live;
//!    so does a pending refresh (`StartRefresh`), which needs every share too. A running
//!    refresh is aborted on a failure report or after the keygen timeout, and retried.
//!    **Keyring changes.** While a change runs, nothing new starts in its keyring (keygen,
//!    presign, signing, refresh). Once no session runs there, its keys are reshared one at a
//!    time (log order): `StartReshare` when every new operator is live and the old threshold
//!    of live operators not excluded by blame exists, dealers rotating with the key's
//!    attempts. A reshare session is aborted on a failure report or after `reshare_timeout`;
//!    after `max_attempts`, or when too few old operators are left unexcluded, the change
//!    fails (`AbortSession` naming the change).
//! 4. **Sign.** Each pending signature request, oldest first, gets the oldest ready, unassigned
//!    presign session of its key whose signers are all live and none excluded by blame — if it
//!    is approved: a request on a key in a workspace waits until the votes in the log satisfy
//!    the key's sign policy (the same check `StartSign` passes in the state rules), and a
//!    request whose approval deadline passed is expired (`ExpireRequest`). Admin requests past
//!    their deadline are expired too.
//!    A Schnorr request (FROST, no presignatures) gets a `StartSchnorrSign` instead, with
//!    `threshold` of the key's live, non-excluded operators, a window that rotates with the
//!    request's attempts so that a retry after a failure tries other signers first.
//!    Every signing set (presign, FROST) spans the keyring's `min_regions` distinct regions
//!    ([`pick_signers`]); a request whose signers cannot meet that rule with the live,
//!    non-excluded operators (enough of them, too few regions) fails with the reason.
//! 5. **Pool.** Each active key keeps `pool_target` healthy unassigned presign sessions (running
//!    or ready, signers live and not excluded), plus one per request step 4 could not serve.
//!    Signers are `threshold` of the live, non-excluded operators, taken as a window that
//!    rotates with the number of sessions the key has had, so the work spreads.
//!    **Signing first:** while a signature of the key is in flight (this round's `StartSign`s
//!    included), a refill waits unless the pool is below its low-water mark (half the target)
//!    or requests are unserved. Presigning is CPU-heavy; started beside an online signature it
//!    would take the CPU the signature's one round needs.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use sha2::{Digest, Sha256};
use tessera_identity::IdentityKey;

use crate::command::{Action, Hash32};
use crate::state::{
    ChangeStatus, KeyStatus, Keyring, PresignSession, RefreshStatus, SignatureStatus, State,
};

/// Tuning of the scheduler.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SchedulerConfig {
    /// Unassigned presign sessions kept per active key.
    pub pool_target: usize,
    /// Presign sessions of one key that may run (started, not yet ready) at once. Presigning is
    /// CPU-bound: starting the whole pool at once makes every session slower, and past the
    /// presign timeout they are all aborted and started again — a collapse under load.
    pub max_running_presigns: usize,
    /// Sessions a request may use before it fails.
    pub max_attempts: u32,
    pub keygen_timeout: Duration,
    /// For a presign session that is not ready yet.
    pub presign_timeout: Duration,
    /// From `StartSign` to the request being done.
    pub sign_timeout: Duration,
    /// For a reshare session of a keyring change (resharing to many operators is slow: about
    /// ten minutes of CPU per round for 16 operators on small machines).
    pub reshare_timeout: Duration,
}

impl Default for SchedulerConfig {
    fn default() -> Self {
        SchedulerConfig {
            pool_target: 4,
            max_running_presigns: 2,
            max_attempts: 5,
            keygen_timeout: Duration::from_secs(300),
            presign_timeout: Duration::from_secs(120),
            sign_timeout: Duration::from_secs(30),
            reshare_timeout: Duration::from_secs(60 * 60),
        }
    }
}

fn ms(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// The presign session id for the `k`-th session the scheduler starts for `key` in the round
/// that sees `next_seq` entries: unique because `next_seq` grows with every append.
pub fn presign_session_id(key: &Hash32, next_seq: u64, k: u64) -> Hash32 {
    let mut h = Sha256::new();
    h.update(b"tessera/ledger/presign-session/v1");
    h.update(key.0);
    h.update(next_seq.to_be_bytes());
    h.update(k.to_be_bytes());
    Hash32(h.finalize().into())
}

/// `t` signers from `eligible` (live, not excluded, ascending), starting at `offset` in
/// rotation so that work spreads, spanning at least `ring.min_regions` distinct regions: one
/// operator of each region not yet covered is taken first, in rotation order, then the set is
/// filled in rotation order. With one region required this is the window
/// `eligible[offset..offset + t]` (wrapping). `None` when `eligible` cannot meet the rule.
pub fn pick_signers(ring: &Keyring, eligible: &[u16], t: usize, offset: usize) -> Option<Vec<u16>> {
    if eligible.len() < t || t == 0 {
        return None;
    }
    let rotated: Vec<u16> = (0..eligible.len())
        .filter_map(|j| eligible.get((offset + j) % eligible.len()).copied())
        .collect();
    let need = usize::from(ring.min_regions);
    let mut picked: Vec<u16> = Vec::with_capacity(t);
    let mut covered: BTreeSet<&str> = BTreeSet::new();
    for &i in &rotated {
        if covered.len() >= need || picked.len() >= t {
            break;
        }
        if let Some(op) = ring.operator(i) {
            if covered.insert(op.region.as_str()) {
                picked.push(i);
            }
        }
    }
    for &i in &rotated {
        if picked.len() >= t {
            break;
        }
        if !picked.contains(&i) {
            picked.push(i);
        }
    }
    picked.sort_unstable();
    (picked.len() == t && ring.regions_ok(&picked)).then_some(picked)
}

/// Why no signing set of `ring` can be formed from `eligible` now, when the region rule is
/// what stops it (enough operators, too few regions).
fn region_shortfall(ring: &Keyring, eligible: &[u16]) -> Option<String> {
    let t = usize::from(ring.threshold);
    if eligible.len() < t || pick_signers(ring, eligible, t, 0).is_some() {
        return None;
    }
    let regions = ring.regions_of(eligible);
    Some(format!(
        "keyring {:?} needs signers from {} distinct regions; the live operators cover {} ({})",
        ring.id,
        ring.min_regions,
        regions.len(),
        regions.into_iter().collect::<Vec<_>>().join(", ")
    ))
}

/// The commands to issue now. `is_live` says whether an operator's heartbeat is current.
pub fn decide(
    state: &State,
    is_live: &dyn Fn(&IdentityKey) -> bool,
    now_ms: u64,
    cfg: &SchedulerConfig,
) -> Vec<Action> {
    let mut out = Vec::new();
    let mut aborting: BTreeSet<Hash32> = BTreeSet::new();
    let abort =
        |out: &mut Vec<Action>, aborting: &mut BTreeSet<Hash32>, id: Hash32, why: String| {
            if aborting.insert(id) {
                out.push(Action::AbortSession {
                    session: id,
                    reason: why,
                });
            }
        };
    let reported = |session: &Hash32| -> Option<String> {
        let r = state.failure_reports(session).first()?;
        Some(format!(
            "operator {} reported {} blaming {:?}",
            r.reporter, r.check, r.blamed
        ))
    };

    // 1. Aborts.
    for key in state.keys() {
        if let KeyStatus::Generating { session } = key.status {
            let started = state.keygen(&session).map(|s| s.started_at_ms).unwrap_or(0);
            if let Some(why) = reported(&session) {
                abort(&mut out, &mut aborting, session, why);
            } else if now_ms >= started.saturating_add(ms(cfg.keygen_timeout)) {
                abort(&mut out, &mut aborting, session, "keygen timed out".into());
            }
        }
    }
    for p in state.presigns() {
        if p.aborted.is_some() {
            continue;
        }
        let finished = p.assigned.is_some_and(|r| {
            !matches!(
                state.signature_request(&r).map(|r| &r.status),
                Some(SignatureStatus::Signing { .. })
            )
        });
        if finished {
            continue;
        }
        if let Some(why) = reported(&p.id) {
            abort(&mut out, &mut aborting, p.id, why);
        } else if p.assigned.is_none()
            && !p.is_ready()
            && now_ms >= p.started_at_ms.saturating_add(ms(cfg.presign_timeout))
        {
            abort(&mut out, &mut aborting, p.id, "presign timed out".into());
        }
    }
    for r in state.signature_requests() {
        if let SignatureStatus::Signing { presign } = r.status {
            let started = r.sign_started_at_ms.unwrap_or(0);
            if now_ms >= started.saturating_add(ms(cfg.sign_timeout)) {
                abort(&mut out, &mut aborting, presign, "signing timed out".into());
            }
        }
    }

    for r in state.refreshes() {
        if let RefreshStatus::Running { session } = r.status {
            let started = state
                .refresh_session(&session)
                .map(|s| s.started_at_ms)
                .unwrap_or(0);
            if let Some(why) = reported(&session) {
                abort(&mut out, &mut aborting, session, why);
            } else if now_ms >= started.saturating_add(ms(cfg.keygen_timeout)) {
                abort(&mut out, &mut aborting, session, "refresh timed out".into());
            }
        }
    }

    for c in state.keyring_changes() {
        if c.status != ChangeStatus::Running {
            continue;
        }
        for (key, e) in &c.keys {
            let Some(session) = e.session else {
                continue;
            };
            let started = state
                .reshare_session(&session)
                .map(|s| s.started_at_ms)
                .unwrap_or(0);
            if let Some(why) = reported(&session) {
                abort(&mut out, &mut aborting, session, why);
            } else if now_ms >= started.saturating_add(ms(cfg.reshare_timeout)) {
                abort(
                    &mut out,
                    &mut aborting,
                    session,
                    format!("resharing key {key} timed out"),
                );
            }
        }
    }

    // Approval deadlines.
    let expired = state.expired_requests(now_ms);
    for id in &expired {
        out.push(Action::ExpireRequest { request: *id });
    }

    // 2 and 3. Key requests.
    for key in state.keys() {
        if key.status != KeyStatus::Pending {
            continue;
        }
        if key.attempts >= cfg.max_attempts {
            abort(
                &mut out,
                &mut aborting,
                key.id,
                format!("gave up after {} keygen attempts", key.attempts),
            );
            continue;
        }
        let Some(ring) = state.keyring(&key.keyring_id) else {
            continue;
        };
        if state.running_change(&ring.id).is_some() {
            continue;
        }
        if ring.operators.iter().all(|o| is_live(&o.identity)) {
            out.push(Action::StartKeygen { request: key.id });
        }
    }

    for r in state.refreshes() {
        if r.status != RefreshStatus::Pending {
            continue;
        }
        if r.attempts >= cfg.max_attempts {
            abort(
                &mut out,
                &mut aborting,
                r.id,
                format!("gave up after {} refresh attempts", r.attempts),
            );
            continue;
        }
        let Some(ring) = state.key_keyring(&r.key) else {
            continue;
        };
        if state.running_change(&ring.id).is_some() {
            continue;
        }
        if ring.operators.iter().all(|o| is_live(&o.identity)) {
            out.push(Action::StartRefresh { request: r.id });
        }
    }

    // Keyring changes: one key at a time, once nothing else runs in the keyring.
    for c in state.keyring_changes() {
        if c.status != ChangeStatus::Running {
            continue;
        }
        let Some(ring) = state.keyring(&c.keyring_id) else {
            continue;
        };
        let mut keys: Vec<_> = c.keys.iter().filter(|(_, e)| e.done.is_none()).collect();
        keys.sort_by_key(|(k, _)| state.key(k).map(|r| r.requested_seq).unwrap_or(0));
        let Some((key, e)) = keys.first() else {
            continue;
        };
        if e.session.is_some() || state.keyring_running_session(&ring.id).is_some() {
            continue;
        }
        if e.attempts >= cfg.max_attempts {
            abort(
                &mut out,
                &mut aborting,
                c.id,
                format!("gave up resharing key {key} after {} attempts", e.attempts),
            );
            continue;
        }
        let t = usize::from(ring.threshold);
        let allowed: Vec<u16> = (0..ring.n()).filter(|i| !e.excluded.contains(i)).collect();
        if allowed.len() < t {
            abort(
                &mut out,
                &mut aborting,
                c.id,
                format!(
                    "resharing key {key} needs {t} dealers of keyring {:?}, but only {} \
                     operator(s) are not excluded by blame",
                    ring.id,
                    allowed.len()
                ),
            );
            continue;
        }
        let live: Vec<u16> = allowed
            .into_iter()
            .filter(|i| ring.operator(*i).is_some_and(|o| is_live(&o.identity)))
            .collect();
        if live.len() < t || !c.operators.iter().all(|o| is_live(&o.identity)) {
            continue;
        }
        let offset = e.attempts as usize;
        let mut dealers: Vec<u16> = (0..t)
            .filter_map(|j| live.get((offset + j) % live.len()).copied())
            .collect();
        dealers.sort_unstable();
        out.push(Action::StartReshare {
            change: c.id,
            key: **key,
            dealers,
        });
    }

    // 2 and 4. Signature requests.
    // Operators that may sign for a key now: live and not excluded by blame, ascending.
    let eligible = |ring: &Keyring, excluded: &BTreeSet<u16>| -> Vec<u16> {
        (0..ring.n())
            .filter(|i| !excluded.contains(i))
            .filter(|i| ring.operator(*i).is_some_and(|o| is_live(&o.identity)))
            .collect()
    };
    let healthy = |p: &PresignSession, excluded: &BTreeSet<u16>| -> bool {
        let Some(ring) = state.key_keyring(&p.key) else {
            return false;
        };
        ring.regions_ok(&p.signers)
            && p.signers.iter().all(|i| {
                !excluded.contains(i) && ring.operator(*i).is_some_and(|o| is_live(&o.identity))
            })
    };
    let mut excluded_by_key: BTreeMap<Hash32, BTreeSet<u16>> = BTreeMap::new();
    let mut used: BTreeSet<Hash32> = BTreeSet::new();
    let mut signing: BTreeSet<Hash32> = state
        .signature_requests()
        .iter()
        .filter(|r| matches!(r.status, SignatureStatus::Signing { .. }))
        .map(|r| r.key)
        .collect();
    let mut unserved: BTreeMap<Hash32, usize> = BTreeMap::new();
    for r in state.signature_requests() {
        if r.status != SignatureStatus::Pending || expired.contains(&r.id) {
            continue;
        }
        if let Some(why) = state.unapprovable(&r.id) {
            abort(&mut out, &mut aborting, r.id, why);
            continue;
        }
        // While its keyring changes, a request waits: no signing session may start.
        if state
            .key_keyring(&r.key)
            .is_some_and(|ring| state.running_change(&ring.id).is_some())
        {
            continue;
        }
        if !state.sign_approved(&r.id) {
            continue;
        }
        if r.attempts >= cfg.max_attempts {
            abort(
                &mut out,
                &mut aborting,
                r.id,
                format!("gave up after {} signing attempts", r.attempts),
            );
            continue;
        }
        let excluded = excluded_by_key
            .entry(r.key)
            .or_insert_with(|| state.excluded_operators(&r.key))
            .clone();
        if r.is_schnorr() {
            let Some(ring) = state.key_keyring(&r.key) else {
                continue;
            };
            let eligible = eligible(ring, &excluded);
            let t = usize::from(ring.threshold);
            let Some(signers) = pick_signers(ring, &eligible, t, r.attempts as usize) else {
                // The region rule cannot be met: fail now, saying why. Too few live operators:
                // wait for them to come back; the request fails when its client gives up or
                // its approval expires, not here (a restart is not a failure).
                if let Some(why) = region_shortfall(ring, &eligible) {
                    abort(&mut out, &mut aborting, r.id, why);
                }
                continue;
            };
            signing.insert(r.key);
            out.push(Action::StartSchnorrSign {
                request: r.id,
                signers,
            });
            continue;
        }
        let pick = state.presigns_for_key(&r.key).into_iter().find(|p| {
            p.is_available()
                && !used.contains(&p.id)
                && !aborting.contains(&p.id)
                && healthy(p, &excluded)
        });
        if pick.is_none() {
            // No usable presignature, and the region rule cannot be met by the live operators:
            // a new one could not be made either.
            if let Some(ring) = state.key_keyring(&r.key) {
                if let Some(why) = region_shortfall(ring, &eligible(ring, &excluded)) {
                    abort(&mut out, &mut aborting, r.id, why);
                    continue;
                }
            }
        }
        match pick {
            Some(p) => {
                used.insert(p.id);
                signing.insert(r.key);
                out.push(Action::StartSign {
                    request: r.id,
                    presign: p.id,
                });
            }
            None => *unserved.entry(r.key).or_default() += 1,
        }
    }

    // 5. Presign pools.
    for key in state.keys() {
        // Only ECDSA signs from presignatures; FROST keys sign in two live rounds.
        if !matches!(key.status, KeyStatus::Active { .. })
            || key.key_type != crate::command::KEY_TYPE_ECDSA_SECP256K1
        {
            continue;
        }
        let Some(ring) = state.keyring(&key.keyring_id) else {
            continue;
        };
        if state.running_change(&ring.id).is_some() {
            continue;
        }
        let excluded = state.excluded_operators(&key.id);
        let eligible = eligible(ring, &excluded);
        let t = usize::from(ring.threshold);
        if eligible.len() < t {
            continue;
        }
        let sessions = state.presigns_for_key(&key.id);
        let have = sessions
            .iter()
            .filter(|p| {
                p.is_unassigned()
                    && !used.contains(&p.id)
                    && !aborting.contains(&p.id)
                    && healthy(p, &excluded)
            })
            .count();
        let running = sessions
            .iter()
            .filter(|p| {
                p.is_unassigned()
                    && !p.is_ready()
                    && !aborting.contains(&p.id)
                    && healthy(p, &excluded)
            })
            .count();
        let waiting = unserved.get(&key.id).copied().unwrap_or(0);
        if signing.contains(&key.id) && waiting == 0 && have >= cfg.pool_target.div_ceil(2) {
            continue;
        }
        let want = cfg.pool_target + waiting;
        let start = want
            .saturating_sub(have)
            .min(cfg.max_running_presigns.saturating_sub(running));
        for k in 0..start {
            let offset = sessions.len() + k;
            let Some(signers) = pick_signers(ring, &eligible, t, offset) else {
                break;
            };
            out.push(Action::StartPresign {
                key: key.id,
                session: presign_session_id(&key.id, state.next_seq(), k as u64),
                signers,
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
