//! The three sessions a node takes part in, each a blocking function run on its own thread:
//! key generation, presigning (for the pool) and online signing.
//!
//! Key generation and presigning record themselves in the sealed journal when they start and
//! remove the record when their outcome is stored and reported, so that a node restarted after a
//! crash knows which sessions it abandoned and reports them to the ledger instead of silently
//! timing out. Signing needs no journal entry: its presignature's tombstone is the durable
//! record, and a restarted node that finds its `StartSign` still open in the log retries, fails
//! on the tombstone and reports that.
//!
//! Signing follows SECURITY-CHECKLIST "Never use a presignature twice": the store deletes the
//! presignature and writes a durable tombstone in one committed transaction *before* the
//! signature share is computed and released. If the node dies after that, the presignature is
//! gone for good and the ledger assigns the request another one.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use k256::elliptic_curve::sec1::ToEncodedPoint;
use k256::ProjectivePoint;
use rand_chacha::ChaCha20Rng;
use rand_core::{OsRng, SeedableRng};
use tessera_core::echo::Echo;
use tessera_core::{PartyIndex, SessionId};
use tessera_ecdsa::{
    KeyShare, Keygen, Presign, Presignature, Reshare, ReshareOutput, ReshareStatement, Sign,
    SignRequest,
};
use tessera_identity::{Identity, IdentityKey};
use tessera_ledger::command::{Action, Command, Hash32, SignedCommand};
use tessera_ledger::state::Keyring;
use tessera_ledger::Client;
use tessera_store::{Store, Table};
use tessera_zk::SecurityLevel;

use crate::metrics::Metrics;
use crate::router::Router;
use crate::session::{self, Net, Roster, RoundObserver, SessionError};

/// What every job needs.
pub struct Ctx {
    pub identity: Arc<Identity>,
    pub network: String,
    pub store: Arc<Store>,
    pub router: Arc<Router>,
    pub net: Arc<dyn Net>,
    pub metrics: Arc<Metrics>,
    pub ledger: Client,
    pub round_timeout: Duration,
    pub paillier: Arc<PaillierSource>,
    /// Key shares already read from the sealed store, by [`share_name`]. Decoding one
    /// re-checks its Paillier primes (about 150 ms of Miller–Rabin), which must not sit on the
    /// one-round signing path.
    pub shares: Mutex<HashMap<String, Arc<KeyShare>>>,
    /// Each key's armed presignature, if any (see [`arm`]).
    pub armed: Mutex<HashMap<Hash32, Armed>>,
    /// Per-round timeout of resharing sessions, whose rounds verify every new operator's
    /// setup proofs and take minutes with large committees.
    pub reshare_round_timeout: Duration,
}

impl std::fmt::Debug for Ctx {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Ctx")
            .field("identity", &self.identity.public())
            .field("network", &self.network)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Session(#[from] SessionError),
    #[error("sealed store: {0}")]
    Store(#[from] tessera_store::StoreError),
    #[error("{0}")]
    Local(String),
}

pub fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

pub fn now_secs() -> u64 {
    now_ms() / 1000
}

fn fresh_rng() -> ChaCha20Rng {
    let mut seed = [0u8; 32];
    rand_core::RngCore::fill_bytes(&mut OsRng, &mut seed);
    ChaCha20Rng::from_seed(seed)
}

/// This node's Paillier key, generated once from fresh safe primes in the background at first
/// start (or taken from the public test primes in insecure test mode) and kept sealed; every
/// key generation uses it, as CGGMP's auxiliary information is per party, not per key.
pub struct PaillierSource {
    slot: Mutex<Option<Result<Vec<u8>, String>>>,
    ready: Condvar,
}

impl std::fmt::Debug for PaillierSource {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PaillierSource(<redacted>)")
    }
}

const PAILLIER_RECORD: &str = "own";

impl PaillierSource {
    /// Loads the sealed key or starts generating one on a background thread.
    pub fn start(store: Arc<Store>, insecure_test_index: Option<usize>) -> Arc<Self> {
        let src = Arc::new(PaillierSource {
            slot: Mutex::new(None),
            ready: Condvar::new(),
        });
        let bg = src.clone();
        std::thread::spawn(move || {
            let result = Self::load_or_make(&store, insecure_test_index);
            if let Err(e) = &result {
                tracing::error!(error = %e, "no Paillier key: key generation cannot run");
            }
            let mut slot = bg.slot.lock().unwrap_or_else(|p| p.into_inner());
            *slot = Some(result);
            bg.ready.notify_all();
        });
        src
    }

    fn load_or_make(store: &Store, insecure: Option<usize>) -> Result<Vec<u8>, String> {
        if let Some(bytes) = store
            .get(Table::PaillierKeys, PAILLIER_RECORD)
            .map_err(|e| e.to_string())?
        {
            return Ok(bytes.to_vec());
        }
        let started = Instant::now();
        let key = match insecure {
            Some(i) => tessera_sim::fixtures::paillier_keys(1, i)?
                .pop()
                .ok_or("no fixture key")?,
            None => {
                let bits = SecurityLevel::LEVEL128.min_modulus_bits / 2;
                tessera_paillier::SecretKey::generate(&mut fresh_rng(), bits)
            }
        };
        let bytes = postcard::to_allocvec(&key).map_err(|e| e.to_string())?;
        store
            .put(Table::PaillierKeys, PAILLIER_RECORD, &bytes)
            .map_err(|e| e.to_string())?;
        tracing::info!(
            ms = started.elapsed().as_millis() as u64,
            insecure_test_primes = insecure.is_some(),
            "Paillier key ready"
        );
        Ok(bytes)
    }

    /// Waits (up to `timeout`) for the key.
    pub fn get(&self, timeout: Duration) -> Result<tessera_paillier::SecretKey, String> {
        let slot = self.slot.lock().unwrap_or_else(|p| p.into_inner());
        let (slot, _) = self
            .ready
            .wait_timeout_while(slot, timeout, |s| s.is_none())
            .unwrap_or_else(|p| p.into_inner());
        match slot.as_ref() {
            Some(Ok(bytes)) => postcard::from_bytes(bytes).map_err(|e| e.to_string()),
            Some(Err(e)) => Err(e.clone()),
            None => Err("the Paillier key is still being generated".into()),
        }
    }
}

/// Niceness of background sessions (key generation and presigning): CPU-heavy, not on the
/// online path. Online signing stays at the normal priority, so on a busy machine its one round
/// is not queued behind a presign's Paillier arithmetic.
pub const BACKGROUND_NICE: i32 = 10;

/// Runs `job` on its own thread at [`BACKGROUND_NICE`] (Linux; elsewhere at normal priority).
pub fn background(name: &str, job: impl FnOnce() + Send + 'static) {
    let spawned = std::thread::Builder::new()
        .name(name.to_string())
        .spawn(move || {
            lower_priority();
            job();
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "could not start a background session thread");
    }
}

#[cfg(target_os = "linux")]
fn lower_priority() {
    // On Linux, PRIO_PROCESS with a thread id sets that thread's niceness only.
    let me = rustix::thread::gettid();
    if let Err(e) = rustix::process::setpriority_process(Some(me), BACKGROUND_NICE) {
        tracing::debug!(error = %e, "could not lower the priority of a background session");
    }
}

#[cfg(not(target_os = "linux"))]
fn lower_priority() {}

/// Signs and submits a command, retrying transient ledger errors for a while.
pub fn submit(ctx: &Ctx, action: Action) -> Result<(), String> {
    let cmd = Command::new(ctx.network.clone(), action, now_ms(), &mut OsRng);
    let signed = SignedCommand::sign(&ctx.identity, cmd);
    let mut delay = Duration::from_millis(100);
    let give_up = Instant::now() + Duration::from_secs(30);
    loop {
        match ctx.ledger.submit(&signed) {
            Ok(_) => return Ok(()),
            Err(e @ tessera_ledger::ClientError::Transport { .. }) if Instant::now() < give_up => {
                tracing::warn!(error = %e, "ledger unavailable; retrying");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(2));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

struct Observer<'a> {
    metrics: &'a Metrics,
    protocol: &'static str,
}

impl RoundObserver for Observer<'_> {
    fn round_done(&mut self, _round: usize, elapsed: Duration) {
        self.metrics.round(self.protocol, elapsed.as_secs_f64());
    }
}

fn roster(keyring: &Keyring, me: u16, members: &[u16]) -> Result<Roster, JobError> {
    let mut parties = Vec::new();
    for &i in members {
        let op = keyring
            .operator(i)
            .ok_or_else(|| JobError::Local(format!("operator {i} is not in the keyring")))?;
        parties.push((PartyIndex(i), op.identity));
    }
    Ok(Roster::new(PartyIndex(me), parties)?)
}

/// One session's connection to the network, handed to the body of [`guarded`].
struct Runner<'a> {
    ctx: &'a Ctx,
    roster: &'a Roster,
    inbox: &'a std::sync::mpsc::Receiver<session::Frame>,
    obs: Observer<'a>,
}

impl Runner<'_> {
    fn run<S: tessera_core::StateMachine>(
        &mut self,
        machine: S,
        rng: &mut ChaCha20Rng,
    ) -> Result<S::Output, SessionError> {
        session::run(
            machine,
            self.roster,
            &*self.ctx.net,
            self.inbox,
            self.ctx.round_timeout,
            rng,
            &mut self.obs,
        )
    }

    /// Runs several machines of one session, one per seat of this node (see
    /// [`session::run_seats`]).
    fn run_seats<S: tessera_core::StateMachine>(
        &mut self,
        machines: Vec<S>,
        round_timeout: Duration,
        rng: &mut ChaCha20Rng,
    ) -> Result<Vec<S::Output>, SessionError> {
        session::run_seats(
            machines,
            self.roster,
            &*self.ctx.net,
            self.inbox,
            round_timeout,
            rng,
            &mut self.obs,
        )
    }
}

/// Which session [`guarded`] runs.
struct Spec<'a> {
    protocol: &'static str,
    /// The ledger's id for the session (reported on failure).
    session: Hash32,
    /// The protocol's session id (routing and transcripts).
    sid: SessionId,
    roster: &'a Roster,
    /// Record the session in the sealed journal while it runs. Signing does not: its
    /// presignature's tombstone already records it durably, and a node that restarts finds the
    /// unfinished `StartSign` in the log, tries again, fails on the tombstone and reports —
    /// two commits fewer on the one-round path.
    journal: bool,
}

/// Runs a session and does the bookkeeping shared by all three protocols: journal, router,
/// metrics, the result's report to the ledger (`report`), and a `SessionFailed` report on
/// failure. The journal entry goes only after the outcome is durable (share stored,
/// presignature stored or consumed) and reported.
fn guarded<T>(
    ctx: &Ctx,
    spec: Spec<'_>,
    body: impl FnOnce(&mut Runner<'_>) -> Result<T, JobError>,
    report: impl FnOnce(&T) -> Action,
) -> Result<T, JobError> {
    guarded_with(
        ctx,
        spec,
        body,
        |v| Some(report(v)),
        |blamed| blamed.iter().map(|p| p.0).collect(),
    )
}

/// [`guarded`] for sessions whose result is not always reported (`report` gives `None`) and
/// whose seats are not the ledger's operator indices (`blame` maps the blamed seats to what
/// `SessionFailed` names).
fn guarded_with<T>(
    ctx: &Ctx,
    spec: Spec<'_>,
    body: impl FnOnce(&mut Runner<'_>) -> Result<T, JobError>,
    report: impl FnOnce(&T) -> Option<Action>,
    blame: impl FnOnce(&[PartyIndex]) -> Vec<u16>,
) -> Result<T, JobError> {
    let Spec {
        protocol,
        session,
        sid,
        roster,
        journal,
    } = spec;
    let key = format!("{protocol}:{session}");
    if journal {
        ctx.store.journal_put(&key, protocol.as_bytes())?;
    }
    let inbox = ctx.router.open(sid);
    let started = Instant::now();
    let out = body(&mut Runner {
        ctx,
        roster,
        inbox: &inbox,
        obs: Observer {
            metrics: &ctx.metrics,
            protocol,
        },
    });
    ctx.router.close(&sid);
    let out = match out {
        Ok(v) => {
            ctx.metrics.session(protocol, "ok");
            tracing::info!(protocol, %session, ms = started.elapsed().as_millis() as u64, "session done");
            match report(&v) {
                Some(action) => submit(ctx, action).map(|()| v).map_err(JobError::Local),
                None => Ok(v),
            }
        }
        Err(e) => {
            let (blamed, cause) = match &e {
                JobError::Session(s) => (blame(&s.blamed()), s.cause()),
                _ => (Vec::new(), "local".to_string()),
            };
            ctx.metrics.session(protocol, "failed");
            ctx.metrics.failure(protocol, &cause);
            tracing::warn!(protocol, %session, error = %e, ?blamed, "session failed");
            if !matches!(e, JobError::Session(SessionError::Cancelled)) {
                let report = Action::SessionFailed {
                    session,
                    blamed,
                    check: cause,
                };
                if let Err(e) = submit(ctx, report) {
                    tracing::warn!(error = %e, "could not report the failure to the ledger");
                }
            }
            Err(e)
        }
    };
    if journal {
        if let Err(e) = ctx.store.journal_remove(&key) {
            tracing::warn!(error = %e, "journal");
        }
    }
    out
}

/// Key generation among all operators of `keyring`, by the key's type: GG20 for
/// `ecdsa-secp256k1`, FROST's DKG for the Schnorr types.
pub fn keygen(
    ctx: &Ctx,
    key: Hash32,
    key_type: &str,
    session: Hash32,
    keyring: &Keyring,
    me: u16,
) -> Result<(), JobError> {
    let members: Vec<u16> = (0..keyring.n()).collect();
    let roster = roster(keyring, me, &members)?;
    let spec = Spec {
        protocol: "keygen",
        session,
        sid: SessionId(session.0),
        roster: &roster,
        journal: true,
    };
    match tessera_schnorr::KeyType::from_name(key_type) {
        Some(tessera_schnorr::KeyType::Ed25519) => {
            schnorr_keygen::<tessera_schnorr::Ed25519>(ctx, key, spec, keyring, me)
        }
        Some(tessera_schnorr::KeyType::Bip340) => {
            schnorr_keygen::<tessera_schnorr::Bip340>(ctx, key, spec, keyring, me)
        }
        None if key_type == tessera_ledger::command::KEY_TYPE_ECDSA_SECP256K1 => {
            ecdsa_keygen(ctx, key, spec, keyring, me)
        }
        None => Err(JobError::Local(format!("unsupported key type {key_type}"))),
    }
}

/// FROST DKG (`tessera-schnorr`) among all operators, wrapped in the echo broadcast its first
/// round needs. The share goes to the same sealed table as ECDSA shares, in its own versioned
/// format; the key's type in the ledger says which decoder applies. The posted key is the
/// chain's encoding (32-byte Ed25519 key, or x-only BIP341 output key) and the chain code is
/// zero: Schnorr keys have no BIP32 derivation.
fn schnorr_keygen<C: tessera_schnorr::Suite>(
    ctx: &Ctx,
    key: Hash32,
    spec: Spec<'_>,
    keyring: &Keyring,
    me: u16,
) -> Result<(), JobError> {
    let parties: Vec<PartyIndex> = (0..keyring.n()).map(PartyIndex).collect();
    let sid = spec.sid;
    guarded(
        ctx,
        spec,
        |net| {
            let mut rng = fresh_rng();
            let inner = tessera_schnorr::Dkg::<C>::new(
                sid,
                PartyIndex(me),
                parties,
                keyring.threshold,
                &mut rng,
            )
            .map_err(SessionError::from)?;
            let machine = Echo::new(inner, sid).map_err(SessionError::from)?;
            let share = net.run(machine, &mut rng)?;
            let bytes = share
                .to_bytes()
                .map_err(|e| JobError::Local(e.to_string()))?;
            store_share(ctx, &key, None, &bytes)?;
            share
                .public_key_bytes()
                .map_err(|e| JobError::Local(e.to_string()))
        },
        |public_key| Action::KeyGenerated {
            request: key,
            public_key: hex::encode(public_key),
            chain_code: Hash32::ZERO,
            public_shares: Vec::new(),
        },
    )
    .map(drop)
}

/// GG20 key generation among all operators of `keyring`.
fn ecdsa_keygen(
    ctx: &Ctx,
    key: Hash32,
    spec: Spec<'_>,
    keyring: &Keyring,
    me: u16,
) -> Result<(), JobError> {
    let sid = spec.sid;
    guarded(
        ctx,
        spec,
        |net| {
            let paillier = ctx
                .paillier
                .get(Duration::from_secs(600))
                .map_err(JobError::Local)?;
            let mut rng = fresh_rng();
            let inner = Keygen::new(
                sid,
                PartyIndex(me),
                keyring.n(),
                keyring.threshold,
                SecurityLevel::LEVEL128,
                paillier,
                &mut rng,
            )
            .map_err(SessionError::from)?;
            let machine = Echo::new(inner, sid).map_err(SessionError::from)?;
            let share: KeyShare = net.run(machine, &mut rng)?;
            let bytes = share
                .to_bytes()
                .map_err(|e| JobError::Local(e.to_string()))?;
            store_share(ctx, &key, None, &bytes)?;
            Ok(share)
        },
        |share| Action::KeyGenerated {
            request: key,
            public_key: hex::encode(share.public_key.0),
            chain_code: Hash32(share.chain_code),
            // A share whose public shares cannot be listed is refused by the ledger.
            public_shares: public_shares_hex(share).unwrap_or_default(),
        },
    )
    .map(drop)
}

fn load_share(
    ctx: &Ctx,
    key: &Hash32,
    generation: Option<Hash32>,
) -> Result<Arc<KeyShare>, JobError> {
    let name = share_name(key, generation);
    if let Some(s) = ctx
        .shares
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&name)
    {
        return Ok(s.clone());
    }
    let bytes = ctx
        .store
        .get(Table::KeyShares, &name)?
        .ok_or_else(|| JobError::Local(format!("no share {name}")))?;
    let share = Arc::new(
        KeyShare::from_bytes(&bytes).map_err(|e| JobError::Local(format!("share {name}: {e}")))?,
    );
    ctx.shares
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(name, share.clone());
    Ok(share)
}

/// Presigning among `signers` for the pool of `key`.
pub fn presign(
    ctx: &Ctx,
    key: Hash32,
    generation: Option<Hash32>,
    session: Hash32,
    keyring: &Keyring,
    signers: &[u16],
    me: u16,
) -> Result<(), JobError> {
    let roster = roster(keyring, me, signers)?;
    let share = load_share(ctx, &key, generation)?;
    let parties: Vec<PartyIndex> = signers.iter().map(|&i| PartyIndex(i)).collect();
    let spec = Spec {
        protocol: "presign",
        session,
        sid: SessionId(session.0),
        roster: &roster,
        journal: true,
    };
    let stored = guarded(
        ctx,
        spec,
        |net| {
            let mut rng = fresh_rng();
            let sid = SessionId(session.0);
            let inner = Presign::new(sid, share, &parties, &mut rng).map_err(SessionError::from)?;
            let machine = Echo::new(inner, sid).map_err(SessionError::from)?;
            let presig: Presignature = net.run(machine, &mut rng)?;
            let sealed = presig
                .into_sealed_bytes()
                .map_err(|e| JobError::Local(e.to_string()))?;
            ctx.store
                .put_presignature(&key.to_string(), &session.to_string(), &sealed)?;
            Ok(())
        },
        |()| Action::PresignReady { session },
    );
    pool_gauge(ctx, &key);
    stored
}

pub fn pool_gauge(ctx: &Ctx, key: &Hash32) {
    if let Ok(ids) = ctx.store.presignatures(&key.to_string()) {
        let armed = usize::from(lock(&ctx.armed).contains_key(key));
        ctx.metrics.set_pool(&key.to_string(), ids.len() + armed);
    }
}

/// What a signing session needs from the ledger entries.
#[derive(Debug, Clone)]
pub struct SignJob {
    pub request: Hash32,
    pub key: Hash32,
    pub presign: Hash32,
    /// The key's share generation in force (see [`share_name`]).
    pub generation: Option<Hash32>,
    pub digest: [u8; 32],
    pub tweak: Option<[u8; 32]>,
    /// ρ: the hash of the ledger entry that bound the approved request to the presignature,
    /// fixed only after the request was (SECURITY-CHECKLIST, re-randomized presignatures).
    pub entropy: [u8; 32],
}

/// A presignature taken out of the sealed store ahead of the request that will use it (see
/// [`arm`]).
pub struct Armed {
    /// Its presign session.
    pub session: Hash32,
    presig: Presignature,
}

impl std::fmt::Debug for Armed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Armed")
            .field("session", &self.session)
            .finish_non_exhaustive()
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Arms `key`'s next presignature: takes it out of the sealed store — tombstoned, durably,
/// exactly as signing consumes one — and keeps it in memory for the next request, so that the
/// request's one round does not wait for a durable write. "Marked consumed durably before the
/// signature share leaves" holds as before; the write just happens earlier.
///
/// `candidates` are the key's presign sessions this node signs in and that no request has
/// taken yet, in the order the ledger assigns them; the first one this node holds is armed.
/// An armed presignature whose session `keep` no longer accepts (aborted, or its request went
/// another way) is dropped first. If the node stops while holding one, the presignature is
/// lost (tombstoned, never used); the next start reports it ([`lost_armed`]).
pub fn arm(
    ctx: &Ctx,
    key: Hash32,
    generation: Option<Hash32>,
    candidates: &[Hash32],
    keep: impl Fn(&Hash32) -> bool,
) {
    let mut armed = lock(&ctx.armed);
    if let Some(a) = armed.get(&key) {
        if keep(&a.session) {
            return;
        }
        tracing::debug!(%key, presign = %a.session, "armed presignature dropped: its session is over");
        armed.remove(&key);
    }
    let k = key.to_string();
    let stored = match ctx.store.presignatures(&k) {
        Ok(ids) => ids,
        Err(e) => {
            tracing::warn!(%key, error = %e, "could not list presignatures");
            return;
        }
    };
    let Some(session) = candidates
        .iter()
        .find(|c| stored.contains(&c.to_string()))
        .copied()
    else {
        return;
    };
    let share = match load_share(ctx, &key, generation) {
        Ok(s) => s,
        Err(e) => {
            tracing::warn!(%key, error = %e, "cannot arm a presignature");
            return;
        }
    };
    let bytes = match ctx.store.arm_presignature(&k, &session.to_string()) {
        Ok(b) => b,
        Err(e) => {
            tracing::warn!(%key, presign = %session, error = %e, "could not arm a presignature");
            return;
        }
    };
    match Presignature::from_sealed_bytes(&bytes, &share) {
        Ok(presig) => {
            armed.insert(key, Armed { session, presig });
            drop(armed);
            tracing::debug!(%key, presign = %session, "presignature armed");
        }
        Err(e) => {
            drop(armed);
            // Tombstoned and unusable: have the ledger abort the session.
            tracing::warn!(%key, presign = %session, error = %e, "stored presignature unreadable");
            let report = Action::SessionFailed {
                session,
                blamed: Vec::new(),
                check: "stored presignature unreadable".into(),
            };
            if let Err(e) = submit(ctx, report) {
                tracing::warn!(error = %e, "could not report the failure to the ledger");
            }
        }
    }
    pool_gauge(ctx, &key);
}

/// The presign session of `key`'s armed presignature, if one is armed.
pub fn armed_session(ctx: &Ctx, key: &Hash32) -> Option<Hash32> {
    lock(&ctx.armed).get(key).map(|a| a.session)
}

/// Drops `key`'s armed presignature if it is the one of `session` (the session was aborted).
pub fn disarm(ctx: &Ctx, key: &Hash32, session: &Hash32) {
    let mut armed = lock(&ctx.armed);
    if armed.get(key).is_some_and(|a| a.session == *session) {
        armed.remove(key);
    }
}

/// Presign sessions whose presignature this node armed before it last stopped: lost with the
/// process (tombstoned), by key. The caller reports those the ledger could still assign.
pub fn lost_armed(ctx: &Ctx) -> Vec<(Hash32, Hash32)> {
    match ctx.store.armed_presignatures() {
        Ok(v) => v
            .into_iter()
            .filter_map(|(k, p)| Some((k.parse().ok()?, p.parse().ok()?)))
            .collect(),
        Err(e) => {
            tracing::warn!(error = %e, "could not list armed presignatures");
            Vec::new()
        }
    }
}

/// Online signing: consumes the presignature durably, then runs the one round.
pub fn sign(
    ctx: &Ctx,
    job: &SignJob,
    keyring: &Keyring,
    signers: &[u16],
    me: u16,
) -> Result<(), JobError> {
    let roster = roster(keyring, me, signers)?;
    let share = load_share(ctx, &job.key, job.generation)?;
    let tweak = match job.tweak {
        None => k256::Scalar::ZERO,
        Some(t) => Option::<k256::Scalar>::from(
            <k256::Scalar as k256::elliptic_curve::PrimeField>::from_repr(t.into()),
        )
        .ok_or_else(|| JobError::Local("tweak is not a scalar".into()))?,
    };
    let req = SignRequest {
        digest: job.digest,
        tweak,
        entropy: job.entropy,
    };
    // The signing messages carry the sign sub-session id derived from the presign session.
    let sid = SessionId(job.presign.0).derive(b"sign");
    let spec = Spec {
        protocol: "sign",
        session: job.presign,
        sid,
        roster: &roster,
        journal: false,
    };
    let posted = guarded(
        ctx,
        spec,
        |net| {
            let presig = {
                // Held across the fallback's consumption too, so that arming cannot take this
                // presignature out from under it.
                let mut armed = lock(&ctx.armed);
                if armed
                    .get(&job.key)
                    .is_some_and(|a| a.session == job.presign)
                {
                    let a = armed.remove(&job.key);
                    drop(armed);
                    tracing::debug!(request = %job.request, "armed presignature taken");
                    a.map(|a| a.presig)
                        .ok_or_else(|| JobError::Local("armed presignature vanished".into()))?
                } else {
                    // Durable before anything derived from the presignature leaves this process.
                    let t = Instant::now();
                    let bytes = ctx
                        .store
                        .consume_presignature(&job.key.to_string(), &job.presign.to_string())?;
                    drop(armed);
                    tracing::debug!(request = %job.request, us = t.elapsed().as_micros() as u64, "presignature consumed");
                    Presignature::from_sealed_bytes(&bytes, &share)
                        .map_err(|e| JobError::Local(e.to_string()))?
                }
            };
            let machine = Sign::new(presig, &req).map_err(SessionError::from)?;
            let mut rng = fresh_rng();
            Ok(net.run(machine, &mut rng)?)
        },
        |sig| Action::SignatureDone {
            request: job.request,
            r: Hash32(sig.r),
            s: Hash32(sig.s),
            recovery_id: sig.recovery_id,
        },
    )
    .map(|_| tracing::debug!(request = %job.request, "signature posted"));
    // The gauge scans the store: after the result is posted, not on the request's path.
    pool_gauge(ctx, &job.key);
    posted
}

/// What a FROST signing session needs from the ledger entries.
#[derive(Debug, Clone)]
pub struct SchnorrSignJob {
    pub request: Hash32,
    pub key: Hash32,
    pub key_type: String,
    /// The `StartSchnorrSign` command id: the session id.
    pub session: Hash32,
    pub message: Vec<u8>,
    /// The key's share generation in force when the session started (see [`share_name`]).
    pub generation: Option<Hash32>,
}

/// The sealed store's name for a key's share of `generation`: the key id for the share key
/// generation made, `KEY/SESSION` for the share a refresh session made. A refresh writes its
/// share under a new name and the old one is deleted only once the ledger switched the key to
/// the new generation, so a refresh that fails half-way leaves every operator with a share of
/// the same generation.
pub fn share_name(key: &Hash32, generation: Option<Hash32>) -> String {
    match generation {
        None => key.to_string(),
        Some(g) => format!("{key}/{g}"),
    }
}

/// Writes a key's share of `generation` to the sealed store under [`share_name`].
fn store_share(
    ctx: &Ctx,
    key: &Hash32,
    generation: Option<Hash32>,
    bytes: &[u8],
) -> Result<(), JobError> {
    Ok(ctx
        .store
        .put(Table::KeyShares, &share_name(key, generation), bytes)?)
}

fn load_schnorr_share<C: tessera_schnorr::Suite>(
    ctx: &Ctx,
    key: &Hash32,
    generation: Option<Hash32>,
) -> Result<tessera_schnorr::KeyShare<C>, JobError> {
    let name = share_name(key, generation);
    let bytes = ctx
        .store
        .get(Table::KeyShares, &name)?
        .ok_or_else(|| JobError::Local(format!("no share {name}")))?;
    tessera_schnorr::KeyShare::<C>::from_bytes(&bytes)
        .map_err(|e| JobError::Local(format!("share {name}: {e}")))
}

/// FROST signing (`tessera-schnorr`, two broadcast rounds inside the echo broadcast) among
/// `signers`, for a Schnorr key's request. Nothing is written: FROST's nonces are made in round
/// 1 and consumed in round 2 in memory, so a node that restarts mid-session cannot reuse one —
/// it joins the session again with fresh nonces or the ledger aborts it and starts another.
pub fn schnorr_sign(
    ctx: &Ctx,
    job: &SchnorrSignJob,
    keyring: &Keyring,
    signers: &[u16],
    me: u16,
) -> Result<(), JobError> {
    match tessera_schnorr::KeyType::from_name(&job.key_type) {
        Some(tessera_schnorr::KeyType::Ed25519) => {
            schnorr_sign_with::<tessera_schnorr::Ed25519>(ctx, job, keyring, signers, me)
        }
        Some(tessera_schnorr::KeyType::Bip340) => {
            schnorr_sign_with::<tessera_schnorr::Bip340>(ctx, job, keyring, signers, me)
        }
        None => Err(JobError::Local(format!(
            "key type {:?} is not a Schnorr key type",
            job.key_type
        ))),
    }
}

fn schnorr_sign_with<C: tessera_schnorr::Suite>(
    ctx: &Ctx,
    job: &SchnorrSignJob,
    keyring: &Keyring,
    signers: &[u16],
    me: u16,
) -> Result<(), JobError> {
    let roster = roster(keyring, me, signers)?;
    let share = load_schnorr_share::<C>(ctx, &job.key, job.generation)?;
    let parties: Vec<PartyIndex> = signers.iter().map(|&i| PartyIndex(i)).collect();
    let sid = SessionId(job.session.0);
    let spec = Spec {
        protocol: "schnorr-sign",
        session: job.session,
        sid,
        roster: &roster,
        journal: false,
    };
    guarded(
        ctx,
        spec,
        |net| {
            let mut rng = fresh_rng();
            let inner = tessera_schnorr::Sign::<C>::new(
                sid,
                &share,
                parties,
                job.message.clone(),
                &mut rng,
            )
            .map_err(SessionError::from)?;
            let machine = Echo::new(inner, sid).map_err(SessionError::from)?;
            Ok(net.run(machine, &mut rng)?)
        },
        |sig| {
            let (r, s) = sig.0.split_at(32);
            let half = |b: &[u8]| {
                let mut h = [0u8; 32];
                h.copy_from_slice(b);
                Hash32(h)
            };
            Action::SignatureDone {
                request: job.request,
                r: half(r),
                s: half(s),
                recovery_id: 0,
            }
        },
    )
    .map(|_| tracing::debug!(request = %job.request, "schnorr signature posted"))
}

/// What a refresh session needs from the ledger entries.
#[derive(Debug, Clone)]
pub struct RefreshJob {
    pub request: Hash32,
    pub key: Hash32,
    pub key_type: String,
    /// The `StartRefresh` command id: the session id, and the new shares' generation.
    pub session: Hash32,
    /// The generation the refresh replaces.
    pub previous: Option<Hash32>,
}

/// FROST share refresh among all operators of `keyring` (`Dkg::refresh` inside the echo
/// broadcast). The new share is stored under the session's generation before `RefreshDone` is
/// posted; the old one stays until the ledger switches the key (see [`share_name`]).
pub fn refresh(ctx: &Ctx, job: &RefreshJob, keyring: &Keyring, me: u16) -> Result<(), JobError> {
    match tessera_schnorr::KeyType::from_name(&job.key_type) {
        Some(tessera_schnorr::KeyType::Ed25519) => {
            refresh_with::<tessera_schnorr::Ed25519>(ctx, job, keyring, me)
        }
        Some(tessera_schnorr::KeyType::Bip340) => {
            refresh_with::<tessera_schnorr::Bip340>(ctx, job, keyring, me)
        }
        None => Err(JobError::Local(format!(
            "key type {:?} is not refreshed by the network",
            job.key_type
        ))),
    }
}

fn refresh_with<C: tessera_schnorr::Suite>(
    ctx: &Ctx,
    job: &RefreshJob,
    keyring: &Keyring,
    me: u16,
) -> Result<(), JobError> {
    let members: Vec<u16> = (0..keyring.n()).collect();
    let roster = roster(keyring, me, &members)?;
    let sid = SessionId(job.session.0);
    let spec = Spec {
        protocol: "refresh",
        session: job.session,
        sid,
        roster: &roster,
        journal: true,
    };
    guarded(
        ctx,
        spec,
        |net| {
            let share = load_schnorr_share::<C>(ctx, &job.key, job.previous)?;
            let mut rng = fresh_rng();
            let inner = tessera_schnorr::Dkg::<C>::refresh(sid, share, &mut rng)
                .map_err(SessionError::from)?;
            let machine = Echo::new(inner, sid).map_err(SessionError::from)?;
            let fresh = net.run(machine, &mut rng)?;
            let bytes = fresh
                .to_bytes()
                .map_err(|e| JobError::Local(e.to_string()))?;
            store_share(ctx, &job.key, Some(job.session), &bytes)?;
            fresh
                .public_key_bytes()
                .map_err(|e| JobError::Local(e.to_string()))
        },
        |public_key| Action::RefreshDone {
            request: job.request,
            public_key: hex::encode(public_key),
        },
    )
    .map(drop)
}

/// Deletes a share that is not (or no longer) the key's generation in force: the share a
/// finished refresh replaced, or one from a refresh session that was aborted.
pub fn discard_share(
    ctx: &Ctx,
    key: &Hash32,
    generation: Option<Hash32>,
    in_force: Option<Hash32>,
) {
    if generation == in_force {
        return;
    }
    let name = share_name(key, generation);
    match ctx.store.delete(Table::KeyShares, &name) {
        Ok(true) => tracing::info!(share = %name, "old key share deleted"),
        Ok(false) => {}
        Err(e) => tracing::warn!(share = %name, error = %e, "could not delete an old key share"),
    }
}

/// What a resharing session needs from the ledger entries: the `StartReshare` of a keyring
/// change, with both committees as the ledger state had them when the session started.
#[derive(Debug, Clone)]
pub struct ReshareJob {
    /// The `StartReshare` command id: the session id, and the new shares' generation.
    pub session: Hash32,
    pub key: Hash32,
    /// The protocol's key id: the key generation session's id (it never changes).
    pub key_id: Hash32,
    /// The generation of the old shares the dealers deal from.
    pub previous: Option<Hash32>,
    /// The key's public key (33-byte SEC1 compressed, hex) and chain code.
    pub public_key: String,
    pub chain_code: Hash32,
    /// The old committee: its threshold, operators and public shares (by old index).
    pub old_threshold: u16,
    pub old_operators: Vec<IdentityKey>,
    pub old_public_shares: Vec<String>,
    /// The old operators that deal (sorted old indices).
    pub dealers: Vec<u16>,
    /// The new committee.
    pub new_threshold: u16,
    pub new_operators: Vec<IdentityKey>,
}

impl ReshareJob {
    /// The statement every participant must agree on, built from the ledger's public data.
    pub fn statement(&self) -> Result<ReshareStatement, JobError> {
        let bad =
            |what: &str, e: String| JobError::Local(format!("reshare statement: {what}: {e}"));
        let point = |hex_str: &str| -> Result<ProjectivePoint, JobError> {
            let bytes = hex::decode(hex_str).map_err(|e| bad("hex", e.to_string()))?;
            let p = k256::PublicKey::from_sec1_bytes(&bytes)
                .map_err(|e| bad("point", e.to_string()))?;
            Ok(p.to_projective())
        };
        let old_public_shares = self
            .old_public_shares
            .iter()
            .map(|h| point(h))
            .collect::<Result<Vec<_>, _>>()?;
        let new_n = u16::try_from(self.new_operators.len())
            .map_err(|_| JobError::Local("new committee too large".into()))?;
        let st = ReshareStatement {
            key_id: SessionId(self.key_id.0),
            level: SecurityLevel::LEVEL128,
            public_key: point(&self.public_key)?,
            chain_code: self.chain_code.0,
            old_threshold: self.old_threshold,
            old_public_shares,
            dealers: self.dealers.iter().map(|&d| PartyIndex(d)).collect(),
            new_n,
            new_threshold: self.new_threshold,
        };
        st.validate().map_err(|e| bad("invalid", e.to_string()))?;
        Ok(st)
    }

    /// `who`'s parts in the session: its receiver index in the new committee, and its old
    /// index if it is one of the dealers.
    pub fn roles_of(&self, who: &IdentityKey) -> (Option<u16>, Option<u16>) {
        let index = |ops: &[IdentityKey]| {
            ops.iter()
                .position(|k| k == who)
                .and_then(|i| u16::try_from(i).ok())
        };
        let dealer = index(&self.old_operators).filter(|i| self.dealers.contains(i));
        (index(&self.new_operators), dealer)
    }

    /// Every seat and who holds it: receivers `0..N′` (the new operators), then the dealers.
    fn seats(&self, st: &ReshareStatement) -> Result<Vec<(PartyIndex, IdentityKey)>, JobError> {
        let mut seats = Vec::new();
        for (j, who) in self.new_operators.iter().enumerate() {
            let j = u16::try_from(j).map_err(|_| JobError::Local("seat".into()))?;
            seats.push((st.receiver_seat(PartyIndex(j)), *who));
        }
        for &d in &self.dealers {
            let who = self
                .old_operators
                .get(usize::from(d))
                .ok_or_else(|| JobError::Local(format!("dealer {d} is not an old operator")))?;
            let seat = st
                .dealer_seat(PartyIndex(d))
                .ok_or_else(|| JobError::Local(format!("dealer {d} has no seat")))?;
            seats.push((seat, *who));
        }
        Ok(seats)
    }
}

/// Resharing `job.key` from the old committee to the new one (`tessera_ecdsa::Reshare`). An
/// operator in both committees plays two seats — a dealer and a receiver, separate machines
/// with separate state — in the one session. A receiver stores its new share under the
/// session's generation before it posts `ReshareDone`; nothing old is deleted here: the old
/// share stays in force until the ledger switches the whole keyring (see [`discard_share`]).
pub fn reshare(ctx: &Ctx, job: &ReshareJob) -> Result<(), JobError> {
    let me = ctx.identity.public();
    let st = job.statement()?;
    let seats = job.seats(&st)?;
    let (my_new, my_old) = job.roles_of(&me);
    let mut mine = Vec::new();
    if let Some(j) = my_new {
        mine.push(st.receiver_seat(PartyIndex(j)));
    }
    if let Some(d) = my_old {
        mine.push(
            st.dealer_seat(PartyIndex(d))
                .ok_or_else(|| JobError::Local("dealer seat".into()))?,
        );
    }
    if mine.is_empty() {
        return Ok(());
    }
    let roster = Roster::with_seats(mine, seats.iter().copied())?;
    let sid = SessionId(job.session.0);
    let spec = Spec {
        protocol: "reshare",
        session: job.session,
        sid,
        roster: &roster,
        journal: true,
    };
    let receiver = my_new.is_some();
    // Blame names seats; the ledger excludes old operators by their old index (a receiver
    // cannot be excluded: the new committee is fixed by the change).
    let dealer_of = |seat: PartyIndex| {
        let k = seat.0.checked_sub(st.new_n)?;
        st.dealers.get(usize::from(k)).map(|p| p.0)
    };
    guarded_with(
        ctx,
        spec,
        |net| {
            let mut rng = fresh_rng();
            let mut machines = Vec::new();
            if let Some(j) = my_new {
                let paillier = ctx
                    .paillier
                    .get(Duration::from_secs(600))
                    .map_err(JobError::Local)?;
                let inner = Reshare::receiver(sid, st.clone(), PartyIndex(j), paillier, &mut rng)
                    .map_err(SessionError::from)?;
                // The echo round also keeps a message that arrives a round early.
                machines.push(Echo::new(inner, sid).map_err(SessionError::from)?);
            }
            if my_old.is_some() {
                let share = load_share(ctx, &job.key, job.previous)?;
                if share.key_id != st.key_id {
                    return Err(JobError::Local(format!(
                        "the stored share of {} belongs to key id {:?}, the ledger says {}",
                        job.key, share.key_id, job.key_id
                    )));
                }
                let inner =
                    Reshare::dealer(sid, st.clone(), &share, &mut rng).map_err(SessionError::from)?;
                machines.push(Echo::new(inner, sid).map_err(SessionError::from)?);
            }
            let outputs = net.run_seats(machines, ctx.reshare_round_timeout, &mut rng)?;
            let mut public_shares = None;
            for out in outputs {
                match out {
                    ReshareOutput::NewShare(share) => {
                        let bytes = share
                            .to_bytes()
                            .map_err(|e| JobError::Local(e.to_string()))?;
                        store_share(ctx, &job.key, Some(job.session), &bytes)?;
                        public_shares = Some(public_shares_hex(&share)?);
                    }
                    ReshareOutput::Retire(r) => {
                        tracing::info!(key = %job.key, old_index = r.old_index.0, "dealt; the old share goes when the ledger switches the keyring");
                    }
                }
            }
            Ok(public_shares)
        },
        |public_shares| {
            public_shares.clone().map(|public_shares| Action::ReshareDone {
                session: job.session,
                public_shares,
            })
        },
        |blamed| blamed.iter().filter_map(|p| dealer_of(*p)).collect(),
    )
    .map(|_| {
        if receiver {
            tracing::info!(key = %job.key, "new share stored and reported");
        }
    })
}

/// Every party's public share of `share`'s key, hex SEC1 compressed, by index: what
/// `KeyGenerated` and `ReshareDone` carry.
pub fn public_shares_hex(share: &KeyShare) -> Result<Vec<String>, JobError> {
    (0..share.n)
        .map(|i| {
            share
                .public_share(PartyIndex(i))
                .map(|p| hex::encode(p.to_affine().to_encoded_point(true).as_bytes()))
                .map_err(|e| JobError::Local(e.to_string()))
        })
        .collect()
}

/// Drops every presignature of `key` (as tombstones): they were made with shares that are no
/// longer in force.
pub fn discard_presignatures(ctx: &Ctx, key: &Hash32) {
    lock(&ctx.armed).remove(key);
    let k = key.to_string();
    match ctx.store.presignatures(&k) {
        Ok(ids) => {
            for id in ids {
                if let Err(e) = ctx.store.consume_presignature(&k, &id) {
                    tracing::warn!(key = %key, presign = %id, error = %e, "could not discard a presignature");
                }
            }
        }
        Err(e) => tracing::warn!(key = %key, error = %e, "could not list presignatures"),
    }
    pool_gauge(ctx, key);
}
