//! The ledger service: the log in redb, the state rules before every append, the HTTP API,
//! heartbeats, and the scheduler loop.
//!
//! One mutex guards the state, the store and the in-memory copy of the log; an append checks
//! the entry, commits it durably, applies it, then wakes long-polls (a `watch` on the log
//! length) and the scheduler. Appends run on the blocking pool because the commit fsyncs.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Bytes;
use axum::extract::{Path as AxPath, Query, State as AxState};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use tessera_identity::{Identity, IdentityError, IdentityKey};
use tokio::sync::{watch, Notify};

use crate::api::{
    ErrorBody, Heartbeat, HeartbeatReceipt, Info, KeyView, LogPage, OperatorView, OperatorsPage,
    Receipt, RequestView,
};
use crate::attest::{AttestPolicy, AttestationContext, EvidenceCheck};
use crate::command::{Action, Command, Entry, Hash32, SignedCommand};
use crate::genesis::GenesisFile;
use crate::scheduler::{self, SchedulerConfig};
use crate::state::{Rejection, RejectionKind, State};
use crate::store::{Store, StoreError};

/// Longest long-poll.
pub const MAX_WAIT: Duration = Duration::from_secs(30);
/// Most entries per `GET /v1/log`.
pub const MAX_PAGE: usize = 1000;
/// Largest request body.
const MAX_BODY: usize = 1 << 20;

/// File name of the ledger's identity key in the data directory.
pub const IDENTITY_FILE: &str = "ledger-identity.pem";
/// File name of the log database in the data directory.
pub const DB_FILE: &str = "ledger.redb";

/// Everything the ledger needs to start. [`LedgerConfig::new`] fills in the defaults.
#[derive(Debug)]
pub struct LedgerConfig {
    pub data_dir: PathBuf,
    pub listen: SocketAddr,
    /// The ledger's key; `None` loads `data_dir/ledger-identity.pem`, creating it if missing.
    pub identity: Option<Identity>,
    /// Written into an empty log; with an existing log its network must match, and keyrings
    /// it names that the log lacks are registered.
    pub genesis: Option<GenesisFile>,
    pub scheduler: SchedulerConfig,
    /// Whether the scheduler runs (off for a ledger that only records).
    pub run_scheduler: bool,
    /// How often the scheduler runs besides after each append.
    pub scheduler_tick: Duration,
    /// How long a heartbeat keeps an operator live (capped by its evidence's expiry).
    pub liveness_window: Duration,
    /// How far a submitted command's or heartbeat's `issued_at_ms` may be from the ledger's
    /// clock.
    pub max_clock_skew: Duration,
    pub evidence: Arc<dyn EvidenceCheck>,
}

impl LedgerConfig {
    /// Defaults: scheduler on (pool 4; timeouts keygen 300 s, presign 120 s, sign 30 s), tick
    /// 1 s, liveness 30 s, clock skew 10 min, evidence checked by [`AttestPolicy`].
    pub fn new(data_dir: impl Into<PathBuf>, listen: SocketAddr) -> LedgerConfig {
        LedgerConfig {
            data_dir: data_dir.into(),
            listen,
            identity: None,
            genesis: None,
            scheduler: SchedulerConfig::default(),
            run_scheduler: true,
            scheduler_tick: Duration::from_secs(1),
            liveness_window: Duration::from_secs(30),
            max_clock_skew: Duration::from_secs(600),
            evidence: Arc::new(AttestPolicy),
        }
    }
}

/// Why the ledger could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    #[error("ledger identity: {0}")]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
    #[error("genesis: {0}")]
    Genesis(String),
    #[error("stored log does not verify at entry {seq}: {rejection}")]
    BadLog { seq: u64, rejection: Rejection },
}

/// Why an append failed.
#[derive(Debug, thiserror::Error)]
pub enum AppendError {
    #[error(transparent)]
    Rejected(#[from] Rejection),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The log, its state and its store, under one lock.
#[derive(Debug)]
struct Core {
    state: State,
    store: Store,
    entries: Vec<Entry>,
    /// Set when the in-memory state could not be rebuilt after a failed commit.
    failed: Option<String>,
}

fn fill(slot: &Mutex<Option<Result<Receipt, AppendError>>>, outcome: Result<Receipt, AppendError>) {
    *lock(slot) = Some(outcome);
}

/// Folds stored entries into a fresh state. Entries appended through `/v1/unchecked` are
/// skipped, as nodes skip them, so that such a ledger can restart; a broken link is fatal.
fn fold(network: String, ledger_key: IdentityKey, entries: &[Entry]) -> Result<State, LedgerError> {
    let mut state = State::new(network, ledger_key);
    for e in entries {
        if let Err(rejection) = state.apply(e) {
            if cfg!(feature = "malicious")
                && !matches!(rejection, Rejection::Link(_))
                && state.skip(e).is_ok()
            {
                tracing::warn!(seq = e.seq, %rejection, "stored entry does not verify; skipped");
                continue;
            }
            return Err(LedgerError::BadLog {
                seq: e.seq,
                rejection,
            });
        }
    }
    Ok(state)
}

/// Where a queued command's outcome goes.
type Slot = Arc<Mutex<Option<Result<Receipt, AppendError>>>>;
/// The longest a group commit waits for commands that were received but are not queued yet.
const SIBLING_WAIT: Duration = Duration::from_millis(1);

/// Counts a received command in [`Inner::arriving`] until it is queued for the group commit
/// (or dropped on the way), so that a committer knows whether more are about to join.
struct Arriving(Arc<Inner>);

impl Arriving {
    fn new(inner: &Arc<Inner>) -> Self {
        inner.arriving.fetch_add(1, Ordering::AcqRel);
        Arriving(inner.clone())
    }
}

impl Drop for Arriving {
    fn drop(&mut self) {
        self.0.arriving.fetch_sub(1, Ordering::AcqRel);
    }
}

/// A command waiting for the group commit, and where its outcome goes.
type Pending = (SignedCommand, Slot);

impl Core {
    /// Checks and applies each command in order, then stores every accepted entry in one
    /// durable commit (group commit: commands that arrive while a commit is in progress share
    /// the next one; those that arrive while the batch is applied, from `more`, join it). The
    /// caller holds the core lock throughout, so nobody sees state that is not yet durable.
    /// Each command's outcome goes to its slot.
    ///
    /// `schedule` then sees the state with the batch applied and returns the ledger's own
    /// commands (the scheduler's decisions); they are applied and committed in the same
    /// transaction, so a signature request and the `StartSign` that serves it cost one commit.
    /// Returns how many of the scheduler's commands were appended.
    fn append_batch(
        &mut self,
        batch: Vec<Pending>,
        more: &dyn Fn() -> Vec<Pending>,
        schedule: &dyn Fn(&State) -> Vec<SignedCommand>,
    ) -> usize {
        let started = std::time::Instant::now();
        let mut accepted: Vec<(Entry, Option<Slot>)> = Vec::new();
        let mut batch = batch;
        // Commands that arrive while the batch is being applied join it (`more` returns them,
        // or nothing once there are none left to wait for).
        while !batch.is_empty() {
            for (command, slot) in batch {
                let entry = self.state.next_entry(command);
                // `apply` plans first and changes nothing when the plan is refused.
                match self.state.apply(&entry) {
                    Ok(()) => accepted.push((entry, Some(slot))),
                    Err(r) => fill(&slot, Err(AppendError::Rejected(r))),
                }
            }
            batch = more();
        }
        let applied = started.elapsed();
        let mut own = 0;
        for command in schedule(&self.state) {
            let name = command.command.action.name();
            let entry = self.state.next_entry(command);
            match self.state.apply(&entry) {
                Ok(()) => {
                    tracing::debug!(seq = entry.seq, action = name, "scheduled");
                    accepted.push((entry, None));
                    own += 1;
                }
                Err(r) => {
                    tracing::warn!(action = name, rejection = %r, "scheduler command refused")
                }
            }
        }
        if accepted.is_empty() {
            return 0;
        }
        let decided = started.elapsed();
        match self.store.append_all(accepted.iter().map(|(e, _)| e)) {
            Ok(()) => {
                let micros = |d: std::time::Duration| d.as_micros() as u64;
                tracing::debug!(
                    entries = accepted.len(),
                    apply_us = micros(applied),
                    schedule_us = micros(decided - applied),
                    store_us = micros(started.elapsed() - decided),
                    "group commit"
                );
                for (entry, slot) in accepted {
                    let receipt = Receipt {
                        seq: entry.seq,
                        id: entry.command.id(),
                    };
                    self.entries.push(entry);
                    if let Some(slot) = slot {
                        fill(&slot, Ok(receipt));
                    }
                }
                own
            }
            Err(e) => {
                // The state ran ahead of the disk: fold the durable entries again.
                tracing::error!(error = %e, "commit failed; rebuilding the state from the stored log");
                match fold(
                    self.state.network().to_string(),
                    self.state.ledger_key(),
                    &self.entries,
                ) {
                    Ok(state) => self.state = state,
                    Err(r) => {
                        tracing::error!(error = %r, "cannot rebuild the state; refusing appends");
                        self.failed = Some(format!("state rebuild failed: {r}"));
                    }
                }
                for slot in accepted.into_iter().filter_map(|(_, s)| s) {
                    fill(&slot, Err(AppendError::Store(e.clone())));
                }
                0
            }
        }
    }

    /// Stores `command` durably as the next entry (right seq and prev hash) and moves the
    /// state's head past it with [`State::skip`] — nothing else is checked, and the command is
    /// not applied to the ledger's own state. Only in builds with the `malicious` feature.
    #[cfg(feature = "malicious")]
    fn append_unchecked(&mut self, command: SignedCommand) -> Result<Receipt, AppendError> {
        let entry = self.state.next_entry(command);
        self.store.append(&entry)?;
        self.state.skip(&entry)?;
        let receipt = Receipt {
            seq: entry.seq,
            id: entry.command.id(),
        };
        self.entries.push(entry);
        Ok(receipt)
    }
}

/// What the ledger knows about an operator's liveness.
#[derive(Clone, Debug, Default)]
struct Liveness {
    live_until_ms: Option<u64>,
    last_heartbeat_ms: Option<u64>,
    last_issued_at_ms: Option<u64>,
    measurement: Option<String>,
    error: Option<String>,
}

#[derive(Debug)]
struct Inner {
    identity: Identity,
    network: String,
    core: Mutex<Core>,
    /// Commands waiting for the next group commit (see [`Inner::append`]).
    queue: Mutex<Vec<Pending>>,
    /// Commands received (still being decoded and checked) but not yet in `queue` (see
    /// [`Arriving`]).
    arriving: AtomicUsize,
    /// Run the scheduler inside every commit (`LedgerConfig::run_scheduler`).
    schedule_inline: bool,
    head: watch::Sender<u64>,
    live: Mutex<BTreeMap<IdentityKey, Liveness>>,
    kick: Notify,
    shutdown: watch::Sender<bool>,
    scheduler: SchedulerConfig,
    liveness_window_ms: u64,
    max_skew_ms: u64,
    evidence: Arc<dyn EvidenceCheck>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave the state half-applied (apply validates
    // before mutating), so a poisoned lock is still usable.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Milliseconds since the Unix epoch.
pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

impl Inner {
    /// Appends a command (blocking: the commit fsyncs) and wakes waiters.
    ///
    /// Group commit: the command joins a queue; whoever holds the core lock next takes the whole
    /// queue and commits it at once. Three operators posting the same signature within a
    /// millisecond cost one fsync, not three in a row. Before it stores the batch, the committer
    /// also takes the commands that were queued while it applied the batch, and waits (at most
    /// [`SIBLING_WAIT`] in all) for commands the server already received and is still decoding,
    /// so that they join this commit instead of waiting for the next one — the
    /// `commit_delay`/`commit_siblings` rule of PostgreSQL's group commit, where the siblings
    /// are requests already in the server.
    fn append(
        &self,
        command: SignedCommand,
        arriving: Option<Arriving>,
    ) -> Result<Receipt, AppendError> {
        let slot = Arc::new(Mutex::new(None));
        lock(&self.queue).push((command, slot.clone()));
        drop(arriving);
        // The inline scheduler pass decided on the batch's state; another pass is only worth
        // waking for if that one appended something (its commands may enable more).
        let mut kick = !self.schedule_inline;
        let next = {
            let mut core = lock(&self.core);
            if lock(&slot).is_none() {
                let until = std::time::Instant::now() + SIBLING_WAIT;
                let more = || loop {
                    let got = std::mem::take(&mut *lock(&self.queue));
                    if !got.is_empty()
                        || self.arriving.load(Ordering::Acquire) == 0
                        || std::time::Instant::now() >= until
                    {
                        return got;
                    }
                    std::thread::sleep(Duration::from_micros(20));
                };
                let batch = std::mem::take(&mut *lock(&self.queue));
                if let Some(why) = &core.failed {
                    let e = StoreError::Db {
                        path: "ledger".into(),
                        message: why.clone(),
                    };
                    for (_, s) in &batch {
                        fill(s, Err(AppendError::Store(e.clone())));
                    }
                } else {
                    let own = core.append_batch(batch, &more, &|st| self.decisions(st));
                    kick |= own > 0;
                }
            }
            core.state.next_seq()
        };
        self.appended(next, kick);
        let outcome = lock(&slot).take();
        outcome.unwrap_or_else(|| {
            Err(AppendError::Store(StoreError::Db {
                path: "ledger".into(),
                message: "command was not processed".into(),
            }))
        })
    }

    /// [`Core::append_unchecked`], then wakes waiters. Only with the `malicious` feature.
    #[cfg(feature = "malicious")]
    fn append_unchecked(&self, command: SignedCommand) -> Result<Receipt, AppendError> {
        let (receipt, next) = {
            let mut core = lock(&self.core);
            let r = core.append_unchecked(command)?;
            (r, core.state.next_seq())
        };
        self.appended(next, true);
        Ok(receipt)
    }

    /// Wakes long-polls after an append that left `next` entries, and the scheduler if `kick`.
    fn appended(&self, next: u64, kick: bool) {
        // Appends race to this point after releasing the lock: only ever move the head forward.
        self.head.send_if_modified(|v| {
            let advance = next > *v;
            if advance {
                *v = next;
            }
            advance
        });
        if kick {
            self.kick.notify_one();
        }
    }

    /// Signs `action` with the ledger key and appends it.
    fn append_own(&self, action: Action) -> Result<Receipt, AppendError> {
        let cmd = Command::new(
            self.network.clone(),
            action,
            now_ms(),
            &mut rand_core::OsRng,
        );
        self.append(SignedCommand::sign(&self.identity, cmd), None)
    }

    /// The scheduler's decisions for `state` now, signed with the ledger key (none when this
    /// ledger does not schedule).
    fn decisions(&self, state: &State) -> Vec<SignedCommand> {
        if !self.schedule_inline {
            return Vec::new();
        }
        let now = now_ms();
        let live: BTreeMap<IdentityKey, bool> = lock(&self.live)
            .iter()
            .map(|(k, l)| (*k, l.live_until_ms.is_some_and(|t| t > now)))
            .collect();
        let is_live = |k: &IdentityKey| live.get(k).copied().unwrap_or(false);
        scheduler::decide(state, &is_live, now, &self.scheduler)
            .into_iter()
            .map(|action| {
                let cmd = Command::new(self.network.clone(), action, now, &mut rand_core::OsRng);
                SignedCommand::sign(&self.identity, cmd)
            })
            .collect()
    }

    /// A scheduler pass on the timer or after a heartbeat: decides and commits until there is
    /// nothing more to do (appends also schedule, inside their own commit).
    fn schedule(&self) {
        for _ in 0..64 {
            let (own, next) = {
                let mut core = lock(&self.core);
                if core.failed.is_some() {
                    return;
                }
                let own = core.append_batch(Vec::new(), &Vec::new, &|st| self.decisions(st));
                (own, core.state.next_seq())
            };
            if own == 0 {
                return;
            }
            // This loop runs the next pass itself.
            self.appended(next, false);
        }
    }
}

/// A bound, not yet serving ledger. [`Ledger::bind`] opens the store and the socket;
/// [`Ledger::run`] serves until the shutdown future completes.
#[derive(Debug)]
pub struct Ledger {
    inner: Arc<Inner>,
    listener: tokio::net::TcpListener,
    tick: Duration,
    run_scheduler: bool,
}

impl Ledger {
    /// Opens (or creates) the data directory, re-verifies the stored log, writes the genesis
    /// entries into an empty log, and binds the listening socket.
    pub async fn bind(mut config: LedgerConfig) -> Result<(Ledger, SocketAddr), LedgerError> {
        if config.evidence.is_insecure() {
            tracing::warn!("attestation evidence is NOT verified (development only)");
        }
        if cfg!(feature = "malicious") {
            tracing::warn!(
                "built with the `malicious` feature: POST /v1/unchecked appends commands \
                 WITHOUT checking them (tests only)"
            );
        }
        let dir = config.data_dir.clone();
        std::fs::create_dir_all(&dir).map_err(|source| LedgerError::Io {
            context: dir.display().to_string(),
            source,
        })?;
        let identity = match config.identity.take() {
            Some(id) => id,
            None => Identity::load_or_create(&dir.join(IDENTITY_FILE), &mut rand_core::OsRng)?,
        };
        let store = Store::open(&dir.join(DB_FILE))?;
        let entries = store.load_all()?;
        let network = match (entries.first(), &config.genesis) {
            (Some(e0), genesis) => {
                let network = e0.command.command.network.clone();
                if let Some(g) = genesis {
                    if g.network != network {
                        return Err(LedgerError::Genesis(format!(
                            "the genesis file is for network {:?}, the stored log for {network:?}",
                            g.network
                        )));
                    }
                }
                network
            }
            (None, Some(g)) => g.network.clone(),
            (None, None) => {
                return Err(LedgerError::Genesis(
                    "the log is empty and no genesis file was given".into(),
                ))
            }
        };
        let state = fold(network.clone(), identity.public(), &entries)?;
        let was_empty = entries.is_empty();
        let next = state.next_seq();
        let (head, _) = watch::channel(next);
        let (shutdown, _) = watch::channel(false);
        let inner = Arc::new(Inner {
            identity,
            network,
            core: Mutex::new(Core {
                state,
                store,
                entries,
                failed: None,
            }),
            queue: Mutex::new(Vec::new()),
            arriving: AtomicUsize::new(0),
            schedule_inline: config.run_scheduler,
            head,
            live: Mutex::new(BTreeMap::new()),
            kick: Notify::new(),
            shutdown,
            scheduler: config.scheduler.clone(),
            liveness_window_ms: u64::try_from(config.liveness_window.as_millis())
                .unwrap_or(u64::MAX),
            max_skew_ms: u64::try_from(config.max_clock_skew.as_millis()).unwrap_or(u64::MAX),
            evidence: config.evidence.clone(),
        });
        if let Some(g) = &config.genesis {
            let genesis_err = |e: AppendError| LedgerError::Genesis(e.to_string());
            if was_empty {
                inner.append_own(g.genesis_action()).map_err(genesis_err)?;
            }
            for ring in &g.keyrings {
                let existing = lock(&inner.core).state.keyring(&ring.id).cloned();
                match existing {
                    None => {
                        inner.append_own(ring.action()).map_err(genesis_err)?;
                        if let Some(a) = ring.regions_action() {
                            inner.append_own(a).map_err(genesis_err)?;
                        }
                    }
                    Some(have)
                        if have.threshold != ring.threshold
                            || have.operators != ring.operators
                            || have.owners != ring.owners =>
                    {
                        tracing::warn!(
                            keyring = %ring.id,
                            "genesis file differs from the registered keyring; the log wins"
                        );
                    }
                    Some(_) => {}
                }
            }
        }
        let listener = tokio::net::TcpListener::bind(config.listen)
            .await
            .map_err(|source| LedgerError::Io {
                context: format!("listen on {}", config.listen),
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| LedgerError::Io {
            context: "local address".into(),
            source,
        })?;
        tracing::info!(%addr, network = %inner.network, ledger_key = %inner.identity.public(),
            entries = next, "ledger ready");
        Ok((
            Ledger {
                inner,
                listener,
                tick: config.scheduler_tick,
                run_scheduler: config.run_scheduler,
            },
            addr,
        ))
    }

    /// The ledger's identity key (nodes are configured with it).
    pub fn public_key(&self) -> IdentityKey {
        self.inner.identity.public()
    }

    /// A copy of the current state.
    pub fn state(&self) -> State {
        lock(&self.inner.core).state.clone()
    }

    /// Serves until `shutdown` completes, then stops the scheduler, ends long-polls and waits
    /// for open requests.
    pub async fn run(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), LedgerError> {
        let inner = self.inner;
        let sched = if self.run_scheduler {
            Some(tokio::spawn(scheduler_loop(inner.clone(), self.tick)))
        } else {
            None
        };
        let app = router(inner.clone());
        let stop = inner.shutdown.clone();
        // Small JSON responses on the signing path: no Nagle delay.
        let listener = axum::serve::ListenerExt::tap_io(self.listener, |tcp| {
            if let Err(e) = tcp.set_nodelay(true) {
                tracing::debug!(error = %e, "could not set TCP_NODELAY");
            }
        });
        let served = axum::serve(listener, app)
            .with_graceful_shutdown(async move {
                shutdown.await;
                stop.send_replace(true);
            })
            .await;
        inner.shutdown.send_replace(true);
        if let Some(task) = sched {
            if let Err(e) = task.await {
                tracing::error!(error = %e, "scheduler task failed");
            }
        }
        served.map_err(|source| LedgerError::Io {
            context: "serving HTTP".into(),
            source,
        })
    }
}

/// Binds and serves until Ctrl-C or SIGTERM.
pub async fn serve(config: LedgerConfig) -> Result<(), LedgerError> {
    let (ledger, _addr) = Ledger::bind(config).await?;
    ledger.run(shutdown_signal()).await
}

/// Completes on Ctrl-C or (on Unix) SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
}

async fn scheduler_loop(inner: Arc<Inner>, tick: Duration) {
    let mut stop = inner.shutdown.subscribe();
    loop {
        if *stop.borrow_and_update() {
            return;
        }
        let pass = inner.clone();
        if let Err(e) = tokio::task::spawn_blocking(move || pass.schedule()).await {
            tracing::error!(error = %e, "scheduler pass failed");
        }
        tokio::select! {
            _ = inner.kick.notified() => {}
            _ = tokio::time::sleep(tick) => {}
            _ = stop.changed() => return,
        }
    }
}

fn router(inner: Arc<Inner>) -> Router {
    let app = Router::new()
        .route("/v1/info", get(info))
        .route("/v1/log", get(log))
        .route("/v1/commands", post(submit))
        .route("/v1/requests/{id}", get(request))
        .route("/v1/requests", get(requests))
        .route("/v1/registry", get(registry))
        .route("/v1/keys/{id}", get(key))
        .route("/v1/keyrings/{id}", get(keyring))
        .route("/v1/keyring-changes/{id}", get(keyring_change))
        .route("/v1/heartbeats", post(heartbeat))
        .route("/v1/operators", get(operators))
        .route("/v1/openapi.json", get(openapi));
    #[cfg(feature = "malicious")]
    let app = app.route("/v1/unchecked", post(unchecked));
    app.layer(axum::extract::DefaultBodyLimit::max(MAX_BODY))
        .with_state(inner)
}

/// The OpenAPI document of this API (`crates/ledger/openapi.json`), compiled in so that the
/// binary always serves the description of the routes it has. `tests/openapi.rs` checks the
/// two agree.
pub const OPENAPI_JSON: &str = include_str!("../openapi.json");

/// `GET /v1/openapi.json`: [`OPENAPI_JSON`] as is.
async fn openapi() -> impl IntoResponse {
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        OPENAPI_JSON,
    )
}

/// An error response: `{ "error": message }` with a status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }

    fn internal(context: &str, e: impl std::fmt::Display) -> ApiError {
        tracing::error!(error = %e, "{context}");
        ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(ErrorBody {
                error: self.message,
            }),
        )
            .into_response()
    }
}

impl From<Rejection> for ApiError {
    fn from(r: Rejection) -> ApiError {
        let status = match r.kind() {
            RejectionKind::Malformed => StatusCode::BAD_REQUEST,
            RejectionKind::Unauthorized => StatusCode::FORBIDDEN,
            RejectionKind::Unknown => StatusCode::NOT_FOUND,
            RejectionKind::Conflict => StatusCode::CONFLICT,
        };
        ApiError::new(status, r.to_string())
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

fn parse_json<T: serde::de::DeserializeOwned>(body: &Bytes) -> Result<T, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("malformed body: {e}")))
}

fn parse_id(s: &str) -> Result<Hash32, ApiError> {
    s.parse()
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("bad id: {e}")))
}

fn wait_of(wait_ms: Option<u64>) -> Duration {
    Duration::from_millis(wait_ms.unwrap_or(0)).min(MAX_WAIT)
}

async fn info(AxState(inner): AxState<Arc<Inner>>) -> ApiResult<Info> {
    let core = lock(&inner.core);
    Ok(Json(Info {
        network: inner.network.clone(),
        ledger_key: inner.identity.public(),
        head_seq: core.state.head_seq(),
        head_hash: core.state.head_hash(),
    }))
}

#[derive(Debug, Deserialize)]
struct LogQuery {
    from: Option<u64>,
    limit: Option<usize>,
    wait_ms: Option<u64>,
    /// The operator (identity, hex) that is following the log: see [`UNCONCERNED_DELAY`].
    operator: Option<String>,
}

/// How much later a long-poll that names its operator is answered when none of the new entries
/// asks that operator to act at once. An online signing session (`StartSign`,
/// `StartSchnorrSign`) wakes its signers immediately, and an `AbortSession` wakes everyone;
/// the other operators, and every operator for the rest (requests, results, background
/// sessions — which run for seconds), hear of them up to this much later, batched. On a busy
/// machine this keeps the nodes that have nothing to do off the CPU while a signature's one
/// round and its results are on the way.
const UNCONCERNED_DELAY: Duration = Duration::from_millis(10);

/// Whether `entry` asks `operator` to act at once (see [`UNCONCERNED_DELAY`]): an online
/// signing session it is in ([`State::concerns`]) or any abort.
fn urgent_for(state: &State, entry: &Entry, operator: &IdentityKey) -> bool {
    let action = &entry.command.command.action;
    match action {
        Action::StartSign { .. } | Action::StartSchnorrSign { .. } => {
            state.concerns(action, operator)
        }
        Action::AbortSession { .. } => true,
        _ => false,
    }
}

async fn log(AxState(inner): AxState<Arc<Inner>>, Query(q): Query<LogQuery>) -> ApiResult<LogPage> {
    let from = q.from.unwrap_or(0);
    let limit = q.limit.unwrap_or(100).clamp(1, MAX_PAGE);
    let wait = wait_of(q.wait_ms);
    let operator = match &q.operator {
        None => None,
        Some(s) => Some(
            s.parse::<IdentityKey>()
                .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("operator: {e}")))?,
        ),
    };
    if !wait.is_zero() {
        let mut head = inner.head.subscribe();
        let mut stop = inner.shutdown.subscribe();
        tokio::select! {
            _ = tokio::time::timeout(wait, head.wait_for(|n| *n > from)) => {}
            _ = stop.wait_for(|s| *s) => {}
        }
        if let Some(operator) = operator {
            // New entries that ask nothing of this operator can wait a little (batched with
            // whatever follows), unless one that does arrives meanwhile.
            let until = tokio::time::Instant::now() + UNCONCERNED_DELAY;
            loop {
                let urgent = {
                    let core = lock(&inner.core);
                    let start = usize::try_from(from).unwrap_or(usize::MAX);
                    let end = start.saturating_add(limit).min(core.entries.len());
                    let new = core.entries.get(start..end).unwrap_or(&[]);
                    new.is_empty() || new.iter().any(|e| urgent_for(&core.state, e, &operator))
                };
                if urgent || tokio::time::Instant::now() >= until {
                    break;
                }
                head.borrow_and_update();
                tokio::select! {
                    _ = tokio::time::timeout_at(until, head.changed()) => {}
                    _ = stop.wait_for(|s| *s) => break,
                }
            }
        }
    }
    let core = lock(&inner.core);
    let start = usize::try_from(from).unwrap_or(usize::MAX);
    let end = start.saturating_add(limit).min(core.entries.len());
    let entries = core.entries.get(start..end).unwrap_or(&[]).to_vec();
    Ok(Json(LogPage { entries }))
}

async fn submit(AxState(inner): AxState<Arc<Inner>>, body: Bytes) -> ApiResult<Receipt> {
    // Counted from here until queued (or refused): a commit in progress may wait for it.
    let arriving = Arriving::new(&inner);
    let command: SignedCommand = parse_json(&body)?;
    let now = now_ms();
    if command.command.issued_at_ms.abs_diff(now) > inner.max_skew_ms {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "issued_at_ms {} is more than {} ms from the ledger's clock ({now})",
                command.command.issued_at_ms, inner.max_skew_ms
            ),
        ));
    }
    let action = command.command.action.name();
    tracing::debug!(action, "command received");
    let task = inner.clone();
    let result = tokio::task::spawn_blocking(move || task.append(command, Some(arriving)))
        .await
        .map_err(|e| ApiError::internal("append task", e))?;
    match result {
        Ok(r) => {
            tracing::debug!(seq = r.seq, id = %r.id, action, "appended");
            Ok(Json(r))
        }
        Err(AppendError::Rejected(rej)) => {
            tracing::info!(action, rejection = %rej, "command refused");
            Err(rej.into())
        }
        Err(AppendError::Store(e)) => Err(ApiError::internal("append", e)),
    }
}

/// `POST /v1/unchecked` with a [`SignedCommand`] (JSON) → `{ seq, id }`: appends the command
/// as the next entry — right seq and prev hash, stored durably like any entry — after only
/// [`State::skip`] on the ledger's own state: no network, signature, replay, authorization,
/// state-rule or clock check, and the ledger's state does not apply it.
///
/// **Exists only in builds with the `malicious` feature**: it makes this ledger a misbehaving
/// coordinator (one that forges, replays or mis-schedules commands), so that system tests can
/// show every node ignores such entries. Never enable it in a production build.
#[cfg(feature = "malicious")]
async fn unchecked(AxState(inner): AxState<Arc<Inner>>, body: Bytes) -> ApiResult<Receipt> {
    let command: SignedCommand = parse_json(&body)?;
    let action = command.command.action.name();
    let task = inner.clone();
    let result = tokio::task::spawn_blocking(move || task.append_unchecked(command))
        .await
        .map_err(|e| ApiError::internal("append task", e))?;
    match result {
        Ok(r) => {
            tracing::warn!(seq = r.seq, id = %r.id, action, "appended UNCHECKED (malicious build)");
            Ok(Json(r))
        }
        Err(AppendError::Rejected(rej)) => Err(rej.into()),
        Err(AppendError::Store(e)) => Err(ApiError::internal("append", e)),
    }
}

#[derive(Debug, Deserialize)]
struct WaitQuery {
    wait_ms: Option<u64>,
}

async fn request(
    AxState(inner): AxState<Arc<Inner>>,
    AxPath(id): AxPath<String>,
    Query(q): Query<WaitQuery>,
) -> ApiResult<RequestView> {
    let id = parse_id(&id)?;
    let deadline = tokio::time::Instant::now() + wait_of(q.wait_ms);
    let mut head = inner.head.subscribe();
    let mut stop = inner.shutdown.subscribe();
    loop {
        head.borrow_and_update();
        let view = {
            let core = lock(&inner.core);
            RequestView::find(&core.state, &id)
        };
        let view = view
            .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("unknown request {id}")))?;
        if view.is_final() || tokio::time::Instant::now() >= deadline {
            return Ok(Json(view));
        }
        tokio::select! {
            changed = tokio::time::timeout_at(deadline, head.changed()) => {
                if !matches!(changed, Ok(Ok(()))) {
                    return Ok(Json(view));
                }
            }
            _ = stop.wait_for(|s| *s) => return Ok(Json(view)),
        }
    }
}

/// `GET /v1/requests`: every request with its status and approvals.
async fn requests(AxState(inner): AxState<Arc<Inner>>) -> ApiResult<crate::api::RequestsPage> {
    let core = lock(&inner.core);
    Ok(Json(crate::api::RequestsPage::new(&core.state)))
}

/// `GET /v1/registry`: the workspaces and the keys that belong to them.
async fn registry(AxState(inner): AxState<Arc<Inner>>) -> ApiResult<tessera_policy::Registry> {
    let core = lock(&inner.core);
    Ok(Json(core.state.registry().clone()))
}

async fn key(
    AxState(inner): AxState<Arc<Inner>>,
    AxPath(id): AxPath<String>,
) -> ApiResult<KeyView> {
    let id = parse_id(&id)?;
    let core = lock(&inner.core);
    core.state
        .key(&id)
        .map(|k| Json(KeyView::new(k)))
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("unknown key {id}")))
}

async fn keyring(
    AxState(inner): AxState<Arc<Inner>>,
    AxPath(id): AxPath<String>,
) -> ApiResult<crate::api::KeyringView> {
    let core = lock(&inner.core);
    let st = &core.state;
    st.keyring(&id)
        .map(|k| {
            Json(crate::api::KeyringView {
                keyring_id: k.id.clone(),
                threshold: k.threshold,
                operators: k.operators.clone(),
                owners: k.owners.clone(),
                min_regions: k.min_regions,
                change: st.running_change(&k.id).map(|c| c.id),
            })
        })
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, format!("unknown keyring {id:?}")))
}

async fn keyring_change(
    AxState(inner): AxState<Arc<Inner>>,
    AxPath(id): AxPath<String>,
) -> ApiResult<crate::api::KeyringChangeView> {
    let id = parse_id(&id)?;
    let core = lock(&inner.core);
    core.state
        .keyring_change(&id)
        .map(|c| Json(crate::api::KeyringChangeView::new(c)))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                format!("unknown keyring change {id}"),
            )
        })
}

async fn heartbeat(
    AxState(inner): AxState<Arc<Inner>>,
    body: Bytes,
) -> ApiResult<HeartbeatReceipt> {
    let hb: Heartbeat = parse_json(&body)?;
    let now = now_ms();
    if hb.issued_at_ms.abs_diff(now) > inner.max_skew_ms {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "heartbeat issued_at_ms is too far from the ledger's clock",
        ));
    }
    if !hb.verify(&inner.network) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "heartbeat signature does not verify",
        ));
    }
    let (is_operator, allowlist, platform_keys) = {
        let core = lock(&inner.core);
        let s = &core.state;
        let is_operator = s.is_operator(&hb.identity);
        (
            is_operator,
            s.allowlist().to_vec(),
            s.platform_keys().to_vec(),
        )
    };
    if !is_operator {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!("{} is not an operator of any keyring", hb.identity),
        ));
    }
    if lock(&inner.live)
        .get(&hb.identity)
        .and_then(|l| l.last_issued_at_ms)
        .is_some_and(|last| hb.issued_at_ms <= last)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "heartbeat is not newer than the last one",
        ));
    }
    let ctx = AttestationContext {
        network: &inner.network,
        allowlist: &allowlist,
        platform_keys: &platform_keys,
    };
    let checked = inner.evidence.check(&hb.evidence, &hb.identity, now, &ctx);
    let receipt = {
        let mut live = lock(&inner.live);
        let l = live.entry(hb.identity).or_default();
        l.last_heartbeat_ms = Some(now);
        l.last_issued_at_ms = Some(hb.issued_at_ms);
        match checked {
            Ok(claims) => {
                let until = now
                    .saturating_add(inner.liveness_window_ms)
                    .min(claims.expires_at_ms.unwrap_or(u64::MAX));
                l.live_until_ms = Some(until);
                l.measurement = Some(claims.measurement.clone());
                l.error = None;
                Ok(HeartbeatReceipt {
                    live_until_ms: until,
                    measurement: claims.measurement,
                })
            }
            Err(reason) => {
                tracing::warn!(operator = %hb.identity, %reason,
                    "attestation failed; operator excluded from scheduling");
                l.live_until_ms = None;
                l.error = Some(reason.clone());
                Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    format!("attestation failed: {reason}"),
                ))
            }
        }
    };
    inner.kick.notify_one();
    receipt.map(Json)
}

async fn operators(AxState(inner): AxState<Arc<Inner>>) -> ApiResult<OperatorsPage> {
    let now = now_ms();
    let mut rows: BTreeMap<IdentityKey, OperatorView> = BTreeMap::new();
    {
        let core = lock(&inner.core);
        for ring in core.state.keyrings() {
            for op in &ring.operators {
                rows.entry(op.identity)
                    .or_insert_with(|| OperatorView {
                        identity: op.identity,
                        address: op.address.clone(),
                        region: op.region.clone(),
                        keyrings: Vec::new(),
                        live: false,
                        live_until_ms: None,
                        last_heartbeat_ms: None,
                        measurement: None,
                        error: None,
                    })
                    .keyrings
                    .push(ring.id.clone());
            }
        }
    }
    let live = lock(&inner.live);
    for (id, row) in rows.iter_mut() {
        if let Some(l) = live.get(id) {
            row.live = l.live_until_ms.is_some_and(|t| t > now);
            row.live_until_ms = l.live_until_ms;
            row.last_heartbeat_ms = l.last_heartbeat_ms;
            row.measurement = l.measurement.clone();
            row.error = l.error.clone();
        }
    }
    Ok(Json(OperatorsPage {
        operators: rows.into_values().collect(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A signing session wakes its signers at once, an abort everyone; nothing else does.
    #[test]
    fn only_an_online_session_or_an_abort_concerns_an_operator_at_once() {
        use crate::testkit::{Net, Who};
        let mut net = Net::new(3, 2);
        let key = net.active_key();
        let p = net.presign(key, &[0, 1], 0x51);
        net.ready(p, &[0, 1]);
        let request = net.entry(
            Who::Owner,
            Action::RequestSignature {
                key,
                digest: Hash32([1; 32]),
                tweak: None,
                note: None,
                deadline_ms: None,
            },
        );
        let start = net.entry(
            Who::Ledger,
            Action::StartSign {
                request: request.command.id(),
                presign: p,
            },
        );
        let abort = net.entry(
            Who::Ledger,
            Action::AbortSession {
                session: p,
                reason: "test".into(),
            },
        );
        let ops: Vec<IdentityKey> = net.ops.iter().map(|o| o.public()).collect();
        let outsider = net.outsider.public();
        let st = &net.state;
        assert!(urgent_for(st, &start, &ops[0]) && urgent_for(st, &start, &ops[1]));
        assert!(!urgent_for(st, &start, &ops[2]), "not a signer");
        assert!(!urgent_for(st, &start, &outsider));
        assert!(ops.iter().all(|o| !urgent_for(st, &request, o)));
        assert!(ops.iter().all(|o| urgent_for(st, &abort, o)));
    }

    #[test]
    fn rejections_map_to_caller_fault_statuses() {
        let s = |r: Rejection| ApiError::from(r).status;
        assert_eq!(s(Rejection::HighS), StatusCode::BAD_REQUEST);
        assert_eq!(s(Rejection::Replay(Hash32::ZERO)), StatusCode::CONFLICT);
        assert_eq!(
            s(Rejection::UnknownKey(Hash32::ZERO)),
            StatusCode::NOT_FOUND
        );
        let k = Identity::from_secret_bytes(&[1; 32]).public();
        assert_eq!(s(Rejection::BadSignature(k)), StatusCode::FORBIDDEN);
    }

    /// An unchecked append is stored and chained but not applied, the checked path still
    /// works after it, and the ledger restarts over it.
    #[cfg(feature = "malicious")]
    #[test]
    fn unchecked_entries_are_stored_skipped_and_survive_a_restart() {
        let dir = tempfile::tempdir().unwrap();
        let net = "unchecked-test";
        let config = || {
            let mut c = LedgerConfig::new(dir.path(), "127.0.0.1:0".parse().unwrap());
            c.identity = Some(Identity::from_secret_bytes(&[1; 32]));
            c.genesis = Some(GenesisFile {
                network: net.into(),
                allowlist: vec![],
                platform_keys: vec![],
                keyrings: vec![],
            });
            c.run_scheduler = false;
            c
        };
        let allowlist = vec!["ab".repeat(32)];
        let set = |allowlist: &Vec<String>| {
            Command::new(
                net,
                Action::SetAllowlist {
                    allowlist: allowlist.clone(),
                },
                now_ms(),
                &mut rand_core::OsRng,
            )
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let (ledger, _) = rt.block_on(Ledger::bind(config())).unwrap();
        // A ledger-only action signed by an outsider: `/v1/commands` refuses it.
        let forged = SignedCommand::sign(&Identity::from_secret_bytes(&[3; 32]), set(&allowlist));
        assert!(matches!(
            ledger.inner.append(forged.clone(), None),
            Err(AppendError::Rejected(Rejection::NotLedger { .. }))
        ));
        let receipt = ledger.inner.append_unchecked(forged.clone()).unwrap();
        assert_eq!((receipt.seq, receipt.id), (1, forged.id()));
        let st = ledger.state();
        assert_eq!(st.next_seq(), 2);
        assert!(st.allowlist().is_empty());
        assert!(!st.contains_command(&forged.id()));
        let honest = ledger.inner.append_own(set(&allowlist).action).unwrap();
        assert_eq!(honest.seq, 2);
        assert_eq!(ledger.state().allowlist(), allowlist.as_slice());
        let before = ledger.state();
        drop(ledger);

        let (again, _) = rt.block_on(Ledger::bind(config())).unwrap();
        assert_eq!(again.state(), before);
        assert_eq!(lock(&again.inner.core).entries[1].command, forged);
    }
}
