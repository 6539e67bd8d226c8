#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod conn;
mod frame;
mod tls;

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use tessera_identity::{Identity, IdentityKey};
use tokio::net::TcpListener;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Decides whether a peer's attestation evidence is acceptable.
pub trait Admission: Send + Sync + 'static {
    /// Checks `peer`'s `evidence` at `now` (unix seconds). `Ok(expires_at)` admits the peer
    /// until that unix time; `Err(reason)` refuses it. The evidence must be bound to `peer`
    /// (the key the TLS handshake authenticated), or a peer could present another's evidence.
    fn admit(&self, peer: &IdentityKey, evidence: &[u8], now: u64) -> Result<u64, String>;
}

/// Produces this node's attestation evidence, sent on every connection and refreshed on it.
pub trait EvidenceSource: Send + Sync + 'static {
    /// Fresh evidence at `now` (unix seconds).
    fn evidence(&self, now: u64) -> Result<Vec<u8>, String>;
}

/// A payload received from an authenticated, admitted peer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub from: IdentityKey,
    pub payload: Vec<u8>,
}

/// Everything [`Transport::start`] needs. [`TransportConfig::new`] fills in the defaults.
pub struct TransportConfig {
    pub identity: Arc<Identity>,
    /// Where to listen; port 0 picks a free port (see [`Transport::local_addr`]).
    pub listen: SocketAddr,
    /// The peers to talk to and to accept connections from, pinned to their identity keys.
    pub peers: HashMap<IdentityKey, SocketAddr>,
    pub admission: Arc<dyn Admission>,
    pub evidence: Arc<dyn EvidenceSource>,
    /// Largest payload, in bytes, sent or accepted. All nodes should agree on it.
    pub max_frame: usize,
    /// Payloads waiting to be sent, per peer, before [`SendError::QueueFull`].
    pub send_queue: usize,
    /// Payloads written but not yet acknowledged, per peer.
    pub max_in_flight: usize,
    /// Capacity of the [`Inbound`] channel; when it is full, reading from peers pauses.
    pub inbound_queue: usize,
    /// First reconnect delay; it doubles per failed attempt up to `backoff_max`, with jitter.
    pub backoff_initial: Duration,
    pub backoff_max: Duration,
    /// How often fresh evidence is sent on an open connection. Must be shorter than the
    /// validity that peers' [`Admission`] grants, or they drop the connection.
    pub evidence_refresh: Duration,
    /// Limit on TCP connect + TLS handshake + evidence exchange.
    pub handshake_timeout: Duration,
    /// Connections that may die with the same frame first in line before it is given up on.
    pub max_attempts: u32,
}

impl TransportConfig {
    /// A config with default limits: 16 MiB frames, 256 queued and 32 in-flight frames per
    /// peer, backoff 50 ms doubling to 2 s, evidence refreshed every 60 s.
    pub fn new(
        identity: Arc<Identity>,
        listen: SocketAddr,
        peers: HashMap<IdentityKey, SocketAddr>,
        admission: Arc<dyn Admission>,
        evidence: Arc<dyn EvidenceSource>,
    ) -> Self {
        TransportConfig {
            identity,
            listen,
            peers,
            admission,
            evidence,
            max_frame: 16 << 20,
            send_queue: 256,
            max_in_flight: 32,
            inbound_queue: 1024,
            backoff_initial: Duration::from_millis(50),
            backoff_max: Duration::from_secs(2),
            evidence_refresh: Duration::from_secs(60),
            handshake_timeout: Duration::from_secs(10),
            max_attempts: 5,
        }
    }

    fn check(&self) -> Result<(), TransportError> {
        let bad = |what: &str| Err(TransportError::Config(what.to_string()));
        if self.max_frame == 0 || self.max_frame >= u32::MAX as usize {
            return bad("max_frame must be between 1 and 2^32 - 2 bytes");
        }
        if self.send_queue == 0 || self.max_in_flight == 0 || self.inbound_queue == 0 {
            return bad("queue sizes must be at least 1");
        }
        if self.evidence_refresh.is_zero() || self.handshake_timeout.is_zero() {
            return bad("evidence_refresh and handshake_timeout must be positive");
        }
        if self.max_attempts == 0 {
            return bad("max_attempts must be at least 1");
        }
        Ok(())
    }

    fn limits(&self) -> Limits {
        Limits {
            max_frame: self.max_frame,
            send_queue: self.send_queue,
            max_in_flight: self.max_in_flight,
            backoff_initial: self.backoff_initial,
            backoff_max: self.backoff_max,
            evidence_refresh: self.evidence_refresh,
            handshake_timeout: self.handshake_timeout,
            max_attempts: self.max_attempts,
        }
    }
}

impl fmt::Debug for TransportConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TransportConfig")
            .field("identity", &self.identity)
            .field("listen", &self.listen)
            .field("peers", &self.peers)
            .field("limits", &self.limits())
            .field("inbound_queue", &self.inbound_queue)
            .finish_non_exhaustive()
    }
}

/// Why the transport could not start.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("TLS setup: {0}")]
    Tls(String),
    #[error("invalid transport config: {0}")]
    Config(String),
}

/// Why [`Transport::send`] refused a payload. Nothing was queued.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SendError {
    #[error("{0} is not in the peer set")]
    UnknownPeer(IdentityKey),
    #[error("send queue to {0} is full")]
    QueueFull(IdentityKey),
    #[error("payload of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
}

/// A snapshot of the transport's counters (monotonic, except `connections_open`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    /// Data frames written to a connection (a resent frame counts again).
    pub frames_sent: u64,
    /// Data frames received from admitted peers and passed to the [`Inbound`] channel.
    pub frames_received: u64,
    /// Connections established (TLS and admission done both ways), outbound and inbound.
    pub connections_outbound: u64,
    pub connections_inbound: u64,
    /// Connections open now.
    pub connections_open: u64,
    /// Connections that failed before being established: TLS errors, timeouts, and a peer
    /// closing during the evidence exchange. Includes `unknown_peers` and `pin_mismatches`.
    pub handshake_failures: u64,
    /// Inbound handshakes refused because the key is not in the peer set.
    pub unknown_peers: u64,
    /// Outbound handshakes refused because the server's key is not the pinned one.
    pub pin_mismatches: u64,
    /// Evidence refused by [`Admission`], at connection time or on refresh.
    pub admission_refusals: u64,
    /// Connections dropped because the peer's evidence lapsed.
    pub evidence_expiries: u64,
    /// Connections closed because a peer announced a frame above `max_frame`.
    pub oversize_frames: u64,
    /// Frames given up on after `max_attempts` connections died with them unacknowledged.
    pub frames_abandoned: u64,
}

#[derive(Debug, Default)]
pub(crate) struct Counters {
    frames_sent: AtomicU64,
    frames_received: AtomicU64,
    connections_outbound: AtomicU64,
    connections_inbound: AtomicU64,
    connections_open: AtomicU64,
    handshake_failures: AtomicU64,
    unknown_peers: AtomicU64,
    pin_mismatches: AtomicU64,
    admission_refusals: AtomicU64,
    evidence_expiries: AtomicU64,
    oversize_frames: AtomicU64,
    frames_abandoned: AtomicU64,
}

impl Counters {
    pub(crate) fn bump(&self, counter: &AtomicU64) {
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn snapshot(&self) -> Stats {
        let get = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Stats {
            frames_sent: get(&self.frames_sent),
            frames_received: get(&self.frames_received),
            connections_outbound: get(&self.connections_outbound),
            connections_inbound: get(&self.connections_inbound),
            connections_open: get(&self.connections_open),
            handshake_failures: get(&self.handshake_failures),
            unknown_peers: get(&self.unknown_peers),
            pin_mismatches: get(&self.pin_mismatches),
            admission_refusals: get(&self.admission_refusals),
            evidence_expiries: get(&self.evidence_expiries),
            oversize_frames: get(&self.oversize_frames),
            frames_abandoned: get(&self.frames_abandoned),
        }
    }
}

pub(crate) type PeerMap = Arc<HashMap<IdentityKey, SocketAddr>>;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    pub(crate) max_frame: usize,
    pub(crate) send_queue: usize,
    pub(crate) max_in_flight: usize,
    pub(crate) backoff_initial: Duration,
    pub(crate) backoff_max: Duration,
    pub(crate) evidence_refresh: Duration,
    pub(crate) handshake_timeout: Duration,
    pub(crate) max_attempts: u32,
}

/// What every task of one transport shares.
pub(crate) struct Shared {
    pub(crate) admission: Arc<dyn Admission>,
    pub(crate) evidence: Arc<dyn EvidenceSource>,
    pub(crate) counters: Arc<Counters>,
    pub(crate) limits: Limits,
    pub(crate) peers: watch::Receiver<PeerMap>,
    pub(crate) inbound: mpsc::Sender<Inbound>,
}

struct PeerHandle {
    queue: mpsc::Sender<Vec<u8>>,
    task: JoinHandle<()>,
}

#[derive(Default)]
struct Tasks {
    accept: Option<JoinHandle<()>>,
    peers: HashMap<IdentityKey, PeerHandle>,
}

/// A running transport: a listener plus one sending task per peer.
///
/// Dropping it (or [`Transport::shutdown`]) stops every task and closes every connection;
/// the [`Inbound`] receiver then yields `None`.
pub struct Transport {
    identity: Arc<Identity>,
    local_addr: SocketAddr,
    shared: Arc<Shared>,
    peers_tx: watch::Sender<PeerMap>,
    tasks: Mutex<Tasks>,
}

impl fmt::Debug for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Transport")
            .field("identity", &self.identity.public())
            .field("local_addr", &self.local_addr)
            .field("peers", &self.peers_tx.borrow().len())
            .finish_non_exhaustive()
    }
}

impl Transport {
    /// Binds the listener and starts dialing every peer. Must run inside a tokio runtime.
    pub async fn start(
        config: TransportConfig,
    ) -> Result<(Transport, mpsc::Receiver<Inbound>), TransportError> {
        config.check()?;
        let listener =
            TcpListener::bind(config.listen)
                .await
                .map_err(|source| TransportError::Bind {
                    addr: config.listen,
                    source,
                })?;
        let local_addr = listener
            .local_addr()
            .map_err(|source| TransportError::Bind {
                addr: config.listen,
                source,
            })?;
        let counters = Arc::new(Counters::default());
        let (peers_tx, peers_rx) = watch::channel(PeerMap::default());
        let server = tls::server_config(&config.identity, peers_rx.clone(), counters.clone())?;
        let (inbound_tx, inbound_rx) = mpsc::channel(config.inbound_queue);
        let shared = Arc::new(Shared {
            admission: config.admission.clone(),
            evidence: config.evidence.clone(),
            counters,
            limits: config.limits(),
            peers: peers_rx,
            inbound: inbound_tx,
        });
        let accept = tokio::spawn(conn::accept_loop(shared.clone(), listener, server));
        let transport = Transport {
            identity: config.identity.clone(),
            local_addr,
            shared,
            peers_tx,
            tasks: Mutex::new(Tasks {
                accept: Some(accept),
                peers: HashMap::new(),
            }),
        };
        transport.set_peers(config.peers)?;
        tracing::info!(key = %transport.identity.public(), addr = %local_addr, "transport listening");
        Ok((transport, inbound_rx))
    }

    /// The address the listener is bound to.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// This node's identity key.
    pub fn key(&self) -> IdentityKey {
        self.identity.public()
    }

    /// Replaces the peer set. Removed peers lose their queued frames and their connections,
    /// both ways; a peer whose address changed is redialed at the new one; new peers are dialed.
    pub fn set_peers(&self, peers: HashMap<IdentityKey, SocketAddr>) -> Result<(), TransportError> {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        let mut configs = Vec::new();
        for key in peers.keys().filter(|k| !tasks.peers.contains_key(k)) {
            let config = tls::client_config(&self.identity, *key, self.shared.counters.clone())?;
            configs.push((*key, config));
        }
        tasks.peers.retain(|key, handle| {
            let keep = peers.contains_key(key);
            if !keep {
                handle.task.abort();
            }
            keep
        });
        self.peers_tx.send_replace(Arc::new(peers));
        for (key, config) in configs {
            let (queue, rx) = mpsc::channel(self.shared.limits.send_queue);
            let task = tokio::spawn(conn::peer_task(self.shared.clone(), key, config, rx));
            tasks.peers.insert(key, PeerHandle { queue, task });
        }
        Ok(())
    }

    /// Queues `payload` for `to`. Never blocks: a full queue is an error, not a wait.
    ///
    /// Delivery is at least once while the peer stays in the peer set: frames not acknowledged
    /// when a connection drops are sent again on the next one, so the receiver may see
    /// duplicates. A frame is given up on (and counted) only after `max_attempts` connections
    /// in a row died with it first in line, as happens when the peer refuses its size.
    pub fn send(&self, to: &IdentityKey, payload: Vec<u8>) -> Result<(), SendError> {
        let max = self.shared.limits.max_frame;
        if payload.len() > max {
            return Err(SendError::TooLarge {
                len: payload.len(),
                max,
            });
        }
        let tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        let handle = tasks.peers.get(to).ok_or(SendError::UnknownPeer(*to))?;
        handle.queue.try_send(payload).map_err(|e| match e {
            mpsc::error::TrySendError::Full(_) => SendError::QueueFull(*to),
            mpsc::error::TrySendError::Closed(_) => SendError::UnknownPeer(*to),
        })
    }

    /// The counters, for metrics.
    pub fn stats(&self) -> Stats {
        self.shared.counters.snapshot()
    }

    /// Stops every task and waits until the listening socket is closed, so the port can be
    /// bound again at once.
    pub async fn shutdown(self) {
        let (accept, peers) = self.abort_all();
        for handle in accept.into_iter().chain(peers) {
            // A cancelled task's error is the expected outcome here.
            let _ = handle.await;
        }
    }

    fn abort_all(&self) -> (Option<JoinHandle<()>>, Vec<JoinHandle<()>>) {
        let mut tasks = self.tasks.lock().unwrap_or_else(PoisonError::into_inner);
        let accept = tasks.accept.take();
        let peers: Vec<_> = tasks.peers.drain().map(|(_, h)| h.task).collect();
        for handle in accept.iter().chain(&peers) {
            handle.abort();
        }
        (accept, peers)
    }
}

impl Drop for Transport {
    fn drop(&mut self) {
        self.abort_all();
    }
}
