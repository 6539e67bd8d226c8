//! The daemon: startup checks, the ledger follower, the transport, heartbeats, metrics.

use std::collections::{BTreeSet, HashMap};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use tessera_identity::{Identity, IdentityKey};
use tessera_ledger::command::{Action, Entry, Hash32, Operator};
use tessera_ledger::state::{
    ChangeStatus, KeyStatus, PresignSession, RefreshStatus, Rejection, SignatureStatus, State,
};
use tessera_ledger::Client;
use tessera_store::Store;
use tessera_transport::{Inbound, Transport, TransportConfig};

use crate::attestation::{BackendEvidence, LogAdmission};

use crate::config::{AttestationConfig, NodeConfig};
use crate::jobs::{
    self, now_ms, now_secs, Ctx, PaillierSource, RefreshJob, ReshareJob, SchnorrSignJob, SignJob,
};
use crate::metrics::Metrics;
use crate::router::{Limits, Routed, Router};
use crate::session::{Frame, Net};

#[derive(Debug, thiserror::Error)]
pub enum NodeError {
    #[error("configuration: {0}")]
    Config(#[from] crate::config::ConfigError),
    #[error("identity: {0}")]
    Identity(#[from] tessera_identity::IdentityError),
    #[error("attestation: {0}")]
    Attestation(String),
    #[error("sealed store: {0}")]
    Store(#[from] tessera_store::StoreError),
    #[error("ledger: {0}")]
    Ledger(String),
    #[error("transport: {0}")]
    Transport(String),
    #[error("{0}")]
    Other(String),
}

/// The TLS transport as the sessions see it.
struct TransportNet(Arc<Transport>);

impl Net for TransportNet {
    fn send(&self, to: &IdentityKey, frame: Vec<u8>) -> Result<(), String> {
        self.0.send(to, frame).map_err(|e| e.to_string())
    }
}

/// How often the node tells the ledger it is alive (with fresh evidence).
const HEARTBEAT: Duration = Duration::from_secs(2);
/// Long-poll wait on the ledger's log.
const LOG_WAIT_MS: u64 = 10_000;

/// Runs the node until `shutdown` resolves.
pub async fn run(
    cfg: NodeConfig,
    shutdown: impl Future<Output = ()> + Send,
) -> Result<(), NodeError> {
    cfg.check_secrets()?;
    let identity = Arc::new(Identity::load(&cfg.identity_key)?);
    let me = identity.public();
    let backend: Arc<dyn tessera_attest::Backend> = match &cfg.attestation {
        AttestationConfig::Software {
            platform_key,
            sealing_key,
        } => {
            let measurement = tessera_attest::measure_current_exe()
                .map_err(|e| NodeError::Attestation(e.to_string()))?;
            Arc::new(
                tessera_attest::SoftwareBackend::load(platform_key, measurement, sealing_key)
                    .map_err(|e| NodeError::Attestation(e.to_string()))?,
            )
        }
    };
    let sealing = backend
        .sealing_key()
        .map_err(|e| NodeError::Attestation(e.to_string()))?;
    std::fs::create_dir_all(&cfg.data_dir)
        .map_err(|e| NodeError::Other(format!("{}: {e}", cfg.data_dir.display())))?;
    let store = Arc::new(Store::open(&cfg.data_dir.join("node.redb"), &sealing)?);
    drop(sealing);

    let client = Client::new(&cfg.ledger_url);
    let info = {
        let c = client.clone();
        let mut tries = 0u32;
        loop {
            let c2 = c.clone();
            match tokio::task::spawn_blocking(move || c2.info()).await {
                Ok(Ok(info)) => break info,
                Ok(Err(e)) if tries < 60 => {
                    tracing::info!(error = %e, "waiting for the ledger");
                }
                Ok(Err(e)) => return Err(NodeError::Ledger(e.to_string())),
                Err(e) => return Err(NodeError::Other(e.to_string())),
            }
            tries += 1;
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    };
    if info.network != cfg.network || info.ledger_key != cfg.ledger_key {
        return Err(NodeError::Ledger(format!(
            "the ledger at {} serves network {:?} with key {}, the configuration expects {:?} with key {}",
            cfg.ledger_url, info.network, info.ledger_key, cfg.network, cfg.ledger_key
        )));
    }

    let metrics = Arc::new(Metrics::new());
    let state = Arc::new(RwLock::new(State::new(cfg.network.clone(), cfg.ledger_key)));

    // Catch up with the log before joining anything.
    let mut next = 0u64;
    let mut backlog = Vec::new();
    loop {
        let c = client.clone();
        let from = next;
        let entries = tokio::task::spawn_blocking(move || c.log(from, 1000, 0))
            .await
            .map_err(|e| NodeError::Other(e.to_string()))?
            .map_err(|e| NodeError::Ledger(e.to_string()))?;
        if entries.is_empty() {
            break;
        }
        for e in entries {
            next = e.seq + 1;
            apply(&state, &metrics, &e, &mut backlog);
        }
    }
    tracing::info!(entries = next, "caught up with the ledger");

    let peers = peer_addresses(&state.read().unwrap_or_else(|p| p.into_inner()), &me);
    let tcfg = TransportConfig::new(
        identity.clone(),
        cfg.listen,
        peers,
        Arc::new(LogAdmission {
            state: state.clone(),
        }),
        Arc::new(BackendEvidence {
            backend: backend.clone(),
            identity: me,
            network: cfg.network.clone(),
        }),
    );
    let (transport, mut inbound) = Transport::start(tcfg)
        .await
        .map_err(|e| NodeError::Transport(e.to_string()))?;
    let transport = Arc::new(transport);
    let router = Arc::new(Router::new(Limits::default()));

    let insecure_index = if cfg.insecure_test_primes {
        let st = state.read().unwrap_or_else(|p| p.into_inner());
        let idx = cfg.insecure_test_prime_index.unwrap_or_else(|| {
            st.keyrings()
                .find_map(|k| k.operator_index(&me))
                .map(usize::from)
                .unwrap_or(0)
        });
        Some(idx)
    } else {
        None
    };
    let ctx = Arc::new(Ctx {
        identity: identity.clone(),
        network: cfg.network.clone(),
        store: store.clone(),
        router: router.clone(),
        net: Arc::new(TransportNet(transport.clone())),
        metrics: metrics.clone(),
        ledger: client.clone(),
        round_timeout: cfg.round_timeout,
        reshare_round_timeout: cfg.reshare_round_timeout,
        paillier: PaillierSource::start(store.clone(), insecure_index),
        shares: std::sync::Mutex::new(HashMap::new()),
        armed: std::sync::Mutex::new(HashMap::new()),
    });

    // Sessions abandoned by a previous run of this node: report them so the ledger reschedules
    // at once instead of waiting for a timeout.
    let abandoned: BTreeSet<String> = store.journal_sessions()?.into_iter().collect();
    for j in &abandoned {
        if let Some((_, session)) = j.split_once(':') {
            if let Ok(session) = session.parse::<Hash32>() {
                report_abandoned(&ctx, session, "restart");
            }
        }
        let _ = store.journal_remove(j);
    }
    // Presignatures armed by a previous run were lost with it (tombstoned, never used): have
    // the ledger abort those it could still assign, instead of failing a request on one.
    {
        let st = state.read().unwrap_or_else(|p| p.into_inner());
        for (_, session) in jobs::lost_armed(&ctx) {
            if st.presign(&session).is_some_and(|p| p.is_unassigned()) {
                report_abandoned(&ctx, session, "armed presignature lost in a restart");
            }
        }
    }
    // Work started before this run that is still open.
    for e in std::mem::take(&mut backlog) {
        dispatch(&ctx, &state, &e, true);
    }
    {
        let st = state.read().unwrap_or_else(|p| p.into_inner());
        for key in st.keys().iter().map(|k| k.id) {
            arm_next(&ctx, &st, &key);
        }
    }
    for key in state
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .keys()
        .iter()
        .map(|k| k.id)
    {
        jobs::pool_gauge(&ctx, &key);
    }

    // Inbound frames → sessions.
    let r = router.clone();
    let m = metrics.clone();
    let inbound_task = tokio::spawn(async move {
        while let Some(Inbound { from, payload }) = inbound.recv().await {
            if r.dispatch(Frame {
                from,
                bytes: payload,
            }) == Routed::Dropped
            {
                m.frames_dropped.inc();
            }
        }
    });

    // Heartbeats with fresh evidence.
    let hb_ctx = ctx.clone();
    let hb_backend = backend.clone();
    let heartbeat_task = tokio::spawn(async move {
        let mut told_not_operator = false;
        loop {
            let c = hb_ctx.clone();
            let b = hb_backend.clone();
            let res = tokio::task::spawn_blocking(move || {
                let ev = b
                    .evidence(&c.identity.public(), &c.network, now_secs())
                    .map_err(|e| e.to_string())?;
                let hb = tessera_ledger::Heartbeat::sign(
                    &c.identity,
                    &c.network,
                    tessera_ledger::Evidence {
                        format: ev.format.clone(),
                        bytes: ev.bytes.clone(),
                    },
                    now_ms(),
                );
                c.ledger
                    .heartbeat(&hb)
                    .map(|_| ())
                    .map_err(|e| e.to_string())
            })
            .await;
            match res {
                Ok(Ok(())) => told_not_operator = false,
                // A node that is not (yet) in any committee — a spare waiting for a keyring
                // change — is told so every heartbeat; say it once, then quietly.
                Ok(Err(e)) if e.contains("is not an operator") => {
                    if !told_not_operator {
                        tracing::info!(error = %e, "not an operator of any keyring yet: heartbeats are refused until a keyring names this node");
                        told_not_operator = true;
                    } else {
                        tracing::debug!(error = %e, "heartbeat refused");
                    }
                }
                Ok(Err(e)) => tracing::warn!(error = %e, "heartbeat refused"),
                Err(e) => tracing::warn!(error = %e, "heartbeat task"),
            }
            tokio::time::sleep(HEARTBEAT).await;
        }
    });

    // The follower.
    let f_ctx = ctx.clone();
    let f_state = state.clone();
    let f_metrics = metrics.clone();
    let f_transport = transport.clone();
    let follow_task = tokio::spawn(async move {
        let mut next = next;
        loop {
            let c = f_ctx.ledger.clone();
            let from = next;
            let me = f_ctx.identity.public();
            let got =
                tokio::task::spawn_blocking(move || c.follow(from, 256, LOG_WAIT_MS, &me)).await;
            let entries = match got {
                Ok(Ok(v)) => v,
                Ok(Err(e)) => {
                    tracing::warn!(error = %e, "ledger unreachable");
                    tokio::time::sleep(Duration::from_millis(500)).await;
                    continue;
                }
                Err(_) => continue,
            };
            if let (Some(first), Some(last)) = (entries.first(), entries.last()) {
                tracing::debug!(from = first.seq, to = last.seq, "log entries received");
            }
            let mut peers_changed = false;
            let mut arm_keys = BTreeSet::new();
            for e in entries {
                next = next.max(e.seq + 1);
                let mut fresh = Vec::new();
                if apply(&f_state, &f_metrics, &e, &mut fresh) {
                    peers_changed |= matches!(
                        e.command.command.action,
                        Action::RegisterKeyring { .. }
                            | Action::ChangeKeyring { .. }
                            | Action::ReshareDone { .. }
                            | Action::AbortSession { .. }
                    );
                    for e in fresh {
                        dispatch(&f_ctx, &f_state, &e, false);
                        if let Some(key) =
                            arming_key(&f_state.read().unwrap_or_else(|p| p.into_inner()), &e)
                        {
                            arm_keys.insert(key);
                        }
                    }
                }
            }
            if !arm_keys.is_empty() {
                let st = f_state.read().unwrap_or_else(|p| p.into_inner());
                for key in &arm_keys {
                    arm_next(&f_ctx, &st, key);
                }
            }
            if peers_changed {
                let peers = peer_addresses(
                    &f_state.read().unwrap_or_else(|p| p.into_inner()),
                    &f_ctx.identity.public(),
                );
                if let Err(e) = f_transport.set_peers(peers) {
                    tracing::warn!(error = %e, "could not update peers");
                }
            }
            let s = f_transport.stats();
            f_metrics.set_transport("frames_sent", s.frames_sent);
            f_metrics.set_transport("frames_received", s.frames_received);
            f_metrics.set_transport("handshake_failures", s.handshake_failures);
            f_metrics.set_transport("admission_refusals", s.admission_refusals);
        }
    });

    let metrics_task = cfg
        .metrics_listen
        .map(|addr| tokio::spawn(serve_metrics(addr, metrics.clone())));
    tracing::info!(identity = %me, listen = %transport.local_addr(), "node running");

    shutdown.await;
    tracing::info!("shutting down");
    follow_task.abort();
    heartbeat_task.abort();
    inbound_task.abort();
    if let Some(t) = metrics_task {
        t.abort();
    }
    // Sessions still running hold clones of the transport; dropping ours stops its tasks once
    // they end (the process is exiting anyway).
    match Arc::try_unwrap(transport) {
        Ok(t) => t.shutdown().await,
        Err(t) => drop(t),
    }
    Ok(())
}

/// Reports in the background that this node cannot finish `session` (`SessionFailed`, blaming
/// no one), so that the ledger reschedules at once instead of waiting for a timeout.
fn report_abandoned(ctx: &Arc<Ctx>, session: Hash32, check: &'static str) {
    let c = ctx.clone();
    tokio::task::spawn_blocking(move || {
        let report = Action::SessionFailed {
            session,
            blamed: Vec::new(),
            check: check.into(),
        };
        if let Err(e) = jobs::submit(&c, report) {
            tracing::warn!(%session, error = %e, "could not report an abandoned session");
        }
    });
}

/// The key whose armed presignature `e` may call for (re)arming: after a presign session is
/// ready or aborted, and after a signature is done (its armed presignature was used). Not after
/// `StartSign`: arming then would put a durable write beside the signature's one round.
fn arming_key(st: &State, e: &Entry) -> Option<Hash32> {
    match &e.command.command.action {
        Action::PresignReady { session } | Action::AbortSession { session, .. } => {
            st.presign(session).map(|p| p.key)
        }
        Action::SignatureDone { request, .. } => st.signature_request(request).map(|r| r.key),
        _ => None,
    }
}

/// Arms `key`'s next presignature in the background ([`jobs::arm`]) if this node signs with
/// the key and has presign sessions that no request has taken yet.
fn arm_next(ctx: &Arc<Ctx>, st: &State, key: &Hash32) {
    let me = ctx.identity.public();
    let Some(idx) = st.key_keyring(key).and_then(|r| r.operator_index(&me)) else {
        return;
    };
    let Some(generation) = st.key(key).map(|k| k.generation) else {
        return;
    };
    // Usually the key's armed presignature is still usable: nothing to scan or start.
    if jobs::armed_session(ctx, key)
        .and_then(|s| st.presign(&s))
        .is_some_and(|p| still_usable(st, p))
    {
        return;
    }
    let sessions = st.presigns_for_key(key);
    // The ledger assigns the oldest ready session first.
    let mut candidates: Vec<&PresignSession> = sessions
        .iter()
        .copied()
        .filter(|p| p.is_unassigned() && p.signers.contains(&idx))
        .collect();
    candidates.sort_by_key(|p| (!p.is_ready(), p.started_seq));
    let candidates: Vec<Hash32> = candidates.iter().map(|p| p.id).collect();
    let keep: BTreeSet<Hash32> = sessions
        .iter()
        .filter(|p| still_usable(st, p))
        .map(|p| p.id)
        .collect();
    let (c, key) = (ctx.clone(), *key);
    tokio::task::spawn_blocking(move || {
        jobs::arm(&c, key, generation, &candidates, |s| keep.contains(s));
    });
}

/// Whether a request may still use presign session `p`: not aborted, and unassigned or assigned
/// to a request still signing with it. An armed presignature stays armed while this holds.
fn still_usable(st: &State, p: &PresignSession) -> bool {
    p.aborted.is_none()
        && p.assigned.is_none_or(|r| {
            matches!(
                st.signature_request(&r).map(|r| &r.status),
                Some(SignatureStatus::Signing { presign, .. }) if *presign == p.id
            )
        })
}

/// Verifies and applies one entry; on success pushes it to `out` for dispatch and returns true.
///
/// An entry that chains correctly but whose command does not verify (forged, replayed,
/// unauthorized, or against the state rules) is skipped: the state's head moves past it
/// ([`State::skip`]) so that the entries after it still chain, but the command is never
/// applied nor acted on. An entry that breaks the hash chain is a rewritten history: the state
/// does not move and every later entry fails the link too, so the node stops following.
fn apply(state: &RwLock<State>, metrics: &Metrics, e: &Entry, out: &mut Vec<Entry>) -> bool {
    let mut st = state.write().unwrap_or_else(|p| p.into_inner());
    let action = e.command.command.action.name();
    match st.apply(e) {
        Ok(()) => {
            metrics.ledger_entries.inc();
            out.push(e.clone());
            true
        }
        Err(r @ Rejection::Link(_)) => {
            metrics.ledger_rejected.inc();
            metrics.refused(action, "link");
            tracing::error!(seq = e.seq, action, rejection = %r, "ledger entry refused: the log does not chain (history rewritten?); not following past it");
            false
        }
        Err(r) => {
            metrics.ledger_rejected.inc();
            let reason = refusal_reason(&r);
            metrics.refused(action, &reason);
            match st.skip(e) {
                Ok(()) => {
                    if matches!(r, Rejection::Governance(_)) {
                        tracing::warn!(seq = e.seq, action, reason, rejection = %r, "ledger entry refused by the policy check: not acting on it");
                    } else {
                        tracing::warn!(seq = e.seq, action, reason, rejection = %r, "ledger entry skipped: its command does not verify");
                    }
                }
                Err(s) => {
                    tracing::error!(seq = e.seq, action, rejection = %r, skip = %s, "ledger entry neither applies nor can be skipped");
                }
            }
            false
        }
    }
}

/// A short label for a refusal: `governance_<rule>` for the policy rules, else its kind.
fn refusal_reason(r: &Rejection) -> String {
    match r {
        Rejection::Governance(g) => format!("governance_{}", g.label()),
        other => format!("{:?}", other.kind()).to_lowercase(),
    }
}

/// The `ReshareJob` for a `StartReshare` with id `session`, from the state as it stands.
fn reshare_job(
    st: &State,
    session: Hash32,
    change: &Hash32,
    key: &Hash32,
    dealers: &[u16],
) -> Option<ReshareJob> {
    let c = st.keyring_change(change)?;
    let keyring = st.keyring(&c.keyring_id)?;
    let record = st.key(key)?;
    let KeyStatus::Active {
        public_key,
        chain_code,
    } = &record.status
    else {
        return None;
    };
    Some(ReshareJob {
        session,
        key: *key,
        key_id: record.keygen_session?,
        previous: record.generation,
        public_key: public_key.clone(),
        chain_code: *chain_code,
        old_threshold: keyring.threshold,
        old_operators: keyring.operators.iter().map(|o| o.identity).collect(),
        old_public_shares: record.public_shares.clone(),
        dealers: dealers.to_vec(),
        new_threshold: c.threshold,
        new_operators: c.operators.iter().map(|o| o.identity).collect(),
    })
}

/// Every operator this node may run a session with: the other members of each keyring it
/// belongs to, and of each running keyring change whose old or new committee it is in.
fn peer_addresses(st: &State, me: &IdentityKey) -> HashMap<IdentityKey, SocketAddr> {
    let mut peers = HashMap::new();
    let mut committees: Vec<Vec<&Operator>> = Vec::new();
    for kr in st.keyrings() {
        committees.push(kr.operators.iter().collect());
    }
    for c in st.keyring_changes() {
        if c.status != ChangeStatus::Running {
            continue;
        }
        let mut both: Vec<&Operator> = c.operators.iter().collect();
        if let Some(kr) = st.keyring(&c.keyring_id) {
            both.extend(kr.operators.iter());
        }
        committees.push(both);
    }
    for ops in committees {
        if !ops.iter().any(|o| o.identity == *me) {
            continue;
        }
        for op in ops {
            if &op.identity == me {
                continue;
            }
            match op.address.parse::<SocketAddr>() {
                Ok(a) => {
                    peers.insert(op.identity, a);
                }
                Err(_) => {
                    tracing::warn!(peer = %op.identity, address = %op.address, "operator address is not host:port")
                }
            }
        }
    }
    peers
}

/// Starts whatever `e` asks of this node. `catching_up`: the entry predates this run, so only
/// work that is still open in the final state is joined.
fn dispatch(ctx: &Arc<Ctx>, state: &RwLock<State>, e: &Entry, catching_up: bool) {
    let me = ctx.identity.public();
    let st = state.read().unwrap_or_else(|p| p.into_inner());
    match &e.command.command.action {
        Action::StartKeygen { request } => {
            let session = e.command.id();
            let Some(keyring) = st.key_keyring(request).cloned() else {
                return;
            };
            let Some(idx) = keyring.operator_index(&me) else {
                return;
            };
            if catching_up {
                let open = st.keygen_session(request) == Some(session)
                    && st.key(request).is_some_and(|k| {
                        !matches!(
                            k.status,
                            KeyStatus::Active { .. } | KeyStatus::Failed { .. }
                        ) && !k.results.contains_key(&idx)
                    });
                if !open {
                    return;
                }
            }
            let Some(key_type) = st.key(request).map(|k| k.key_type.clone()) else {
                return;
            };
            let c = ctx.clone();
            let key = *request;
            drop(st);
            jobs::background("keygen", move || {
                if let Err(e) = jobs::keygen(&c, key, &key_type, session, &keyring, idx) {
                    tracing::warn!(%key, error = %e, "key generation failed");
                }
            });
        }
        Action::StartPresign {
            key,
            session,
            signers,
        } => {
            let Some(keyring) = st.key_keyring(key).cloned() else {
                return;
            };
            let Some(idx) = keyring.operator_index(&me) else {
                return;
            };
            if !signers.contains(&idx) {
                return;
            }
            if catching_up {
                let open = st
                    .presign(session)
                    .is_some_and(|p| p.aborted.is_none() && !p.ready.contains(&idx));
                if !open {
                    return;
                }
            }
            let generation = st.key(key).and_then(|k| k.generation);
            let (c, key, session, signers) = (ctx.clone(), *key, *session, signers.clone());
            drop(st);
            jobs::background("presign", move || {
                if let Err(e) = jobs::presign(&c, key, generation, session, &keyring, &signers, idx)
                {
                    tracing::warn!(%session, error = %e, "presigning failed");
                }
            });
        }
        Action::StartSign { request, presign } => {
            let Some(req) = st.signature_request(request) else {
                return;
            };
            let Some(p) = st.presign(presign) else {
                return;
            };
            let Some(keyring) = st.key_keyring(&req.key).cloned() else {
                return;
            };
            let Some(idx) = keyring.operator_index(&me) else {
                return;
            };
            if !p.signers.contains(&idx) {
                return;
            }
            let still_open = matches!(req.status, SignatureStatus::Signing { presign: q, .. } if q == *presign)
                && !req.shares.contains_key(&idx);
            if catching_up && !still_open {
                return;
            }
            let job = SignJob {
                request: *request,
                key: req.key,
                presign: *presign,
                generation: st.key(&req.key).and_then(|k| k.generation),
                digest: req.digest.0,
                tweak: req.tweak.map(|t| t.0),
                entropy: e.hash.0,
            };
            let (c, signers) = (ctx.clone(), p.signers.clone());
            drop(st);
            tracing::debug!(request = %job.request, "signing job starts");
            tokio::task::spawn_blocking(move || {
                if let Err(e) = jobs::sign(&c, &job, &keyring, &signers, idx) {
                    tracing::warn!(request = %job.request, error = %e, "signing failed");
                }
            });
        }
        Action::StartSchnorrSign { request, signers } => {
            let session = e.command.id();
            let Some(req) = st.signature_request(request) else {
                return;
            };
            let Some(message) = req.message.clone() else {
                return;
            };
            let Some((key_type, generation)) =
                st.key(&req.key).map(|k| (k.key_type.clone(), k.generation))
            else {
                return;
            };
            let Some(keyring) = st.key_keyring(&req.key).cloned() else {
                return;
            };
            let Some(idx) = keyring.operator_index(&me) else {
                return;
            };
            if !signers.contains(&idx) {
                return;
            }
            let still_open = matches!(req.status, SignatureStatus::Signing { presign: q } if q == session)
                && !req.shares.contains_key(&idx);
            if catching_up && !still_open {
                return;
            }
            let job = SchnorrSignJob {
                request: *request,
                key: req.key,
                key_type,
                session,
                message,
                generation,
            };
            let (c, signers) = (ctx.clone(), signers.clone());
            drop(st);
            tracing::debug!(request = %job.request, "schnorr signing job starts");
            tokio::task::spawn_blocking(move || {
                if let Err(e) = jobs::schnorr_sign(&c, &job, &keyring, &signers, idx) {
                    tracing::warn!(request = %job.request, error = %e, "schnorr signing failed");
                }
            });
        }
        Action::StartRefresh { request } => {
            let session = e.command.id();
            let Some(r) = st.refresh(request) else {
                return;
            };
            let Some(key_type) = st.key(&r.key).map(|k| k.key_type.clone()) else {
                return;
            };
            let Some(keyring) = st.key_keyring(&r.key).cloned() else {
                return;
            };
            let Some(idx) = keyring.operator_index(&me) else {
                return;
            };
            let open = matches!(r.status, RefreshStatus::Running { session: s } if s == session)
                && !r.results.contains(&idx);
            if catching_up && !open {
                return;
            }
            let job = RefreshJob {
                request: *request,
                key: r.key,
                key_type,
                session,
                previous: r.previous,
            };
            let c = ctx.clone();
            drop(st);
            jobs::background("refresh", move || {
                if let Err(e) = jobs::refresh(&c, &job, &keyring, idx) {
                    tracing::warn!(request = %job.request, error = %e, "refresh failed");
                }
            });
        }
        Action::RefreshDone { request, .. } => {
            // Once the ledger switched the key to the new shares, the old share goes.
            let Some(r) = st.refresh(request) else {
                return;
            };
            if let RefreshStatus::Done { .. } = r.status {
                let in_force = st.key(&r.key).and_then(|k| k.generation);
                if st
                    .key_keyring(&r.key)
                    .and_then(|k| k.operator_index(&me))
                    .is_some()
                {
                    jobs::discard_share(ctx, &r.key, r.previous, in_force);
                }
            }
        }
        Action::StartReshare {
            change,
            key,
            dealers,
        } => {
            let session = e.command.id();
            let Some(job) = reshare_job(&st, session, change, key, dealers) else {
                return;
            };
            let (new_index, dealer) = job.roles_of(&me);
            if new_index.is_none() && dealer.is_none() {
                return;
            }
            if catching_up {
                let open = st.keyring_change(change).is_some_and(|c| {
                    c.status == ChangeStatus::Running
                        && c.keys.get(key).is_some_and(|k| {
                            k.session == Some(session)
                                && new_index.is_none_or(|j| !k.results.contains_key(&j))
                        })
                });
                if !open {
                    return;
                }
            }
            let c = ctx.clone();
            drop(st);
            jobs::background("reshare", move || {
                if let Err(e) = jobs::reshare(&c, &job) {
                    tracing::warn!(key = %job.key, session = %job.session, error = %e, "resharing failed");
                }
            });
        }
        Action::ReshareDone { session, .. } => {
            // Once the whole keyring switched to the new committee, the old shares and every
            // presignature made with them go.
            let Some(change) = st
                .reshare_session(session)
                .and_then(|s| st.keyring_change(&s.change))
            else {
                return;
            };
            if let ChangeStatus::Done { .. } = change.status {
                tracing::info!(change = %change.id, keyring = %change.keyring_id, "keyring switched to its new committee");
                for (key, k) in &change.keys {
                    let in_force = st.key(key).and_then(|r| r.generation);
                    jobs::discard_presignatures(ctx, key);
                    jobs::discard_share(ctx, key, k.previous, in_force);
                }
                ctx.shares
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|name, _| {
                        !change
                            .keys
                            .iter()
                            .any(|(key, k)| *name == jobs::share_name(key, k.previous))
                    });
            }
        }
        Action::AbortSession { session, reason } => {
            tracing::info!(%session, reason, "ledger aborted a session");
            // A resharing session, or a whole keyring change, that did not finish: its new
            // shares are never used.
            let mut reshared: Vec<(Hash32, Hash32)> = Vec::new();
            if let Some(s) = st.reshare_session(session) {
                reshared.push((s.key, s.id));
            }
            if let Some(c) = st.keyring_change(session) {
                if let ChangeStatus::Failed { .. } = c.status {
                    for (key, k) in &c.keys {
                        reshared.extend(k.session.iter().chain(k.done.iter()).map(|s| (*key, *s)));
                    }
                }
            }
            for (key, generation) in reshared {
                let in_force = st.key(&key).and_then(|k| k.generation);
                jobs::discard_share(ctx, &key, Some(generation), in_force);
            }
            // A refresh that did not finish: its new shares are never used.
            let refresh_sessions: Vec<(Hash32, Hash32)> = match st.refresh_session(session) {
                Some(s) => vec![(s.key, s.id)],
                None => st
                    .refresh_sessions_of(session)
                    .iter()
                    .map(|s| (s.key, s.id))
                    .collect(),
            };
            for (key, generation) in refresh_sessions {
                let in_force = st.key(&key).and_then(|k| k.generation);
                jobs::discard_share(ctx, &key, Some(generation), in_force);
            }
            ctx.router.close(&tessera_core::SessionId(session.0));
            ctx.router
                .close(&tessera_core::SessionId(session.0).derive(b"sign"));
            // An aborted presign session is never assigned again: drop its presignature (a
            // tombstone, like consumption) so that it cannot be used and does not linger.
            if let Some(p) = st.presign(session) {
                jobs::disarm(ctx, &p.key, session);
                match ctx
                    .store
                    .consume_presignature(&p.key.to_string(), &session.to_string())
                {
                    Ok(_) => jobs::pool_gauge(ctx, &p.key),
                    Err(tessera_store::StoreError::NotFound { .. })
                    | Err(tessera_store::StoreError::AlreadyConsumed { .. }) => {}
                    Err(e) => {
                        tracing::warn!(%session, error = %e, "could not discard the presignature of an aborted session")
                    }
                }
            }
        }
        _ => {}
    }
}

async fn serve_metrics(addr: SocketAddr, metrics: Arc<Metrics>) {
    use axum::routing::get;
    let app = axum::Router::new().route(
        "/metrics",
        get(move || {
            let m = metrics.clone();
            async move {
                (
                    [(
                        axum::http::header::CONTENT_TYPE,
                        "application/openmetrics-text; version=1.0.0; charset=utf-8",
                    )],
                    m.render(),
                )
            }
        }),
    );
    match tokio::net::TcpListener::bind(addr).await {
        Ok(l) => {
            if let Err(e) = axum::serve(l, app).await {
                tracing::warn!(error = %e, "metrics server stopped");
            }
        }
        Err(e) => tracing::warn!(%addr, error = %e, "metrics endpoint could not bind"),
    }
}
