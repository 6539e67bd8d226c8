//! Connections: the accept loop, the per-peer dialer, and what runs on an established
//! connection.
//!
//! Each node dials every peer and sends only on the connection it dialed; connections it
//! accepts carry data towards it. Two nodes therefore hold two connections, one per direction,
//! and there is no race over which of two simultaneous dials survives. Both directions carry
//! evidence and its refreshes, so each side checks the other's attestation on every connection.
//!
//! On a connection, after TLS:
//! 1. each side sends an evidence frame and reads the other's; the receiver's [`Admission`]
//!    must admit it, or the connection is closed before any data frame is read;
//! 2. the dialer writes data frames; the listener passes them on and acknowledges them with a
//!    cumulative count, so the dialer knows which to send again after a reconnect;
//! 3. each side re-sends evidence every `evidence_refresh`, and drops the connection when the
//!    other's admitted evidence lapses.
//!
//! [`Admission`]: crate::Admission

use std::collections::VecDeque;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand_core::{OsRng, RngCore};
use rustls::pki_types::ServerName;
use tessera_identity::IdentityKey;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{sleep, sleep_until, timeout, Instant, MissedTickBehavior};
use tokio_rustls::{TlsAcceptor, TlsConnector};

use crate::frame::{read_frame, write_frame, FrameError, TAG_ACK, TAG_DATA, TAG_EVIDENCE};
use crate::tls::{cert_key, ALPN, SERVER_NAME};
use crate::{Inbound, Shared};

/// Inbound connections (including unfinished handshakes) beyond this are dropped at accept.
const MAX_INBOUND: usize = 1024;

/// Admission expiries further out than this are treated as this far out.
const FAR_FUTURE: Duration = Duration::from_secs(365 * 24 * 3600);

/// Why a connection ended (or never started).
#[derive(Debug, thiserror::Error)]
enum Closed {
    #[error("connect: {0}")]
    Connect(std::io::Error),
    #[error("TLS handshake: {0}")]
    Handshake(String),
    #[error("timed out before the connection was established")]
    Timeout,
    #[error("{0}")]
    Frame(#[from] FrameError),
    #[error("attestation refused: {0}")]
    Refused(String),
    #[error("attestation evidence lapsed")]
    Expired,
    #[error("own evidence unavailable: {0}")]
    NoEvidence(String),
    #[error("protocol violation: {0}")]
    Protocol(&'static str),
    #[error("peer removed from the peer set or moved")]
    PeerGone,
    #[error("local receiver dropped")]
    Local,
}

fn now_unix() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The instant at which evidence admitted until `expires_at` (unix secs) lapses, if later
/// than now.
fn lapse_instant(expires_at: u64) -> Option<Instant> {
    let left = match UNIX_EPOCH.checked_add(Duration::from_secs(expires_at)) {
        Some(at) => at.duration_since(SystemTime::now()).ok()?,
        None => FAR_FUTURE,
    };
    if left.is_zero() {
        return None;
    }
    Instant::now().checked_add(left.min(FAR_FUTURE))
}

fn admit(shared: &Shared, peer: &IdentityKey, evidence: &[u8]) -> Result<Instant, Closed> {
    let now = now_unix();
    let verdict = shared.admission.admit(peer, evidence, now).and_then(|exp| {
        lapse_instant(exp).ok_or_else(|| format!("evidence expires at {exp}, now is {now}"))
    });
    verdict.map_err(|reason| {
        shared.counters.bump(&shared.counters.admission_refusals);
        tracing::warn!(%peer, %reason, "attestation refused; dropping the connection");
        Closed::Refused(reason)
    })
}

fn own_evidence(shared: &Shared) -> Result<Vec<u8>, Closed> {
    shared
        .evidence
        .evidence(now_unix())
        .map_err(Closed::NoEvidence)
}

/// Step 1: both sides send evidence, then each admits the other's.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    stream: &mut S,
    peer: &IdentityKey,
) -> Result<Instant, Closed> {
    write_frame(stream, TAG_EVIDENCE, &own_evidence(shared)?).await?;
    let (tag, body) = read_frame(stream, shared.limits.max_frame).await?;
    if tag != TAG_EVIDENCE {
        return Err(Closed::Protocol("first frame is not evidence"));
    }
    admit(shared, peer, &body)
}

fn check_alpn(alpn: Option<&[u8]>) -> Result<(), Closed> {
    if alpn == Some(ALPN) {
        Ok(())
    } else {
        Err(Closed::Handshake(
            "peer did not agree on the protocol version (ALPN)".into(),
        ))
    }
}

/// Keeps `connections_open` right however the connection ends, abort included.
struct OpenGuard(Arc<crate::Counters>);

impl OpenGuard {
    fn new(counters: &Arc<crate::Counters>) -> Self {
        counters.bump(&counters.connections_open);
        OpenGuard(counters.clone())
    }
}

impl Drop for OpenGuard {
    fn drop(&mut self) {
        self.0
            .connections_open
            .fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// Counts and logs how a connection ended. `established` is false for failures before the
/// evidence exchange completed.
fn report(
    shared: &Shared,
    peer: Option<&IdentityKey>,
    addr: SocketAddr,
    closed: &Closed,
    established: bool,
) {
    let c = &shared.counters;
    let peer = peer
        .map(|p| p.to_string())
        .unwrap_or_else(|| "unknown".into());
    match closed {
        // Counted and logged where they happen.
        Closed::Refused(_) => {}
        Closed::Connect(e) => tracing::debug!(%peer, %addr, error = %e, "cannot connect"),
        Closed::Frame(FrameError::Oversize { len, max }) => {
            c.bump(&c.oversize_frames);
            tracing::warn!(%peer, %addr, len, max, "oversized frame; closing the connection");
        }
        Closed::Expired => {
            c.bump(&c.evidence_expiries);
            tracing::warn!(%peer, %addr, "attestation evidence lapsed; closing the connection");
        }
        Closed::PeerGone | Closed::Local => {
            tracing::debug!(%peer, %addr, reason = %closed, "connection closed");
        }
        _ if !established => {
            c.bump(&c.handshake_failures);
            tracing::warn!(%peer, %addr, reason = %closed, "connection not established");
        }
        Closed::Frame(FrameError::Closed) => {
            tracing::info!(%peer, %addr, "peer closed the connection");
        }
        _ => tracing::warn!(%peer, %addr, reason = %closed, "connection closed"),
    }
}

// ---------------------------------------------------------------------------------------------
// Listener side

pub(crate) async fn accept_loop(
    shared: Arc<Shared>,
    listener: TcpListener,
    config: Arc<rustls::ServerConfig>,
) {
    let acceptor = TlsAcceptor::from(config);
    // Dropping the set (when this task is aborted) aborts every inbound connection.
    let mut conns = JoinSet::new();
    loop {
        let (tcp, addr) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                // Typically out of file descriptors; pause rather than spin.
                tracing::warn!(error = %e, "accept failed");
                sleep(Duration::from_millis(100)).await;
                continue;
            }
        };
        while conns.try_join_next().is_some() {}
        if conns.len() >= MAX_INBOUND {
            tracing::warn!(%addr, "too many inbound connections; dropping a new one");
            continue;
        }
        conns.spawn(inbound(shared.clone(), acceptor.clone(), tcp, addr));
    }
}

async fn inbound(shared: Arc<Shared>, acceptor: TlsAcceptor, tcp: TcpStream, addr: SocketAddr) {
    // Latency matters more than packet count for protocol rounds.
    let _ = tcp.set_nodelay(true);
    let mut peer = None;
    let handshake = async {
        let mut tls = acceptor
            .accept(tcp)
            .await
            .map_err(|e| Closed::Handshake(e.to_string()))?;
        let (_, conn) = tls.get_ref();
        check_alpn(conn.alpn_protocol())?;
        let cert = conn
            .peer_certificates()
            .and_then(|c| c.first())
            .ok_or_else(|| Closed::Handshake("no client certificate".into()))?;
        let key = cert_key(cert).map_err(|e| Closed::Handshake(e.to_string()))?;
        peer = Some(key);
        let lapse = exchange(&shared, &mut tls, &key).await?;
        Ok::<_, Closed>((tls, key, lapse))
    };
    let result = timeout(shared.limits.handshake_timeout, handshake).await;
    let (tls, key, lapse) = match result {
        Ok(Ok(established)) => established,
        Ok(Err(closed)) => return report(&shared, peer.as_ref(), addr, &closed, false),
        Err(_) => return report(&shared, peer.as_ref(), addr, &Closed::Timeout, false),
    };
    shared.counters.bump(&shared.counters.connections_inbound);
    tracing::info!(peer = %key, %addr, "inbound connection established");
    let mut peers = shared.peers.clone();
    let gone = async move {
        let _ = peers.wait_for(|m| !m.contains_key(&key)).await;
    };
    let closed = run(&shared, tls, key, None, lapse, gone).await;
    report(&shared, Some(&key), addr, &closed, true);
}

// ---------------------------------------------------------------------------------------------
// Dialer side

/// A frame taken from the queue and not yet acknowledged.
struct Pending {
    payload: Vec<u8>,
    /// Connections that died while this frame was first in line, written and unacknowledged.
    strikes: u32,
}

/// The dialer's side of the frames in flight to one peer; outlives its connections.
struct Outbox {
    queue: mpsc::Receiver<Vec<u8>>,
    unacked: VecDeque<Pending>,
    /// Frames of `unacked` handed to the current connection (they are its first ones).
    written: usize,
    /// Whether the current connection got any acknowledgement.
    progress: bool,
}

pub(crate) async fn peer_task(
    shared: Arc<Shared>,
    peer: IdentityKey,
    config: Arc<rustls::ClientConfig>,
    queue: mpsc::Receiver<Vec<u8>>,
) {
    let connector = TlsConnector::from(config);
    let mut outbox = Outbox {
        queue,
        unacked: VecDeque::new(),
        written: 0,
        progress: false,
    };
    let mut failures = 0u32;
    loop {
        let Some(addr) = shared.peers.borrow().get(&peer).copied() else {
            return;
        };
        let started = Instant::now();
        outbox.written = 0;
        outbox.progress = false;
        let (closed, established) = dial(&shared, &connector, peer, addr, &mut outbox).await;
        report(&shared, Some(&peer), addr, &closed, established);
        if matches!(closed, Closed::PeerGone) {
            if !shared.peers.borrow().contains_key(&peer) {
                return;
            }
        } else {
            strike_head(&shared, &peer, &mut outbox);
        }
        // A connection that did useful work resets the backoff; one that dies at once (the
        // peer refusing us, say) keeps growing it.
        if outbox.progress || started.elapsed() > shared.limits.backoff_max {
            failures = 0;
        } else {
            failures = failures.saturating_add(1);
        }
        sleep(backoff(&shared, failures)).await;
    }
}

/// Full jitter over the upper half: `[d/2, d]` with `d = min(max, initial * 2^failures)`.
fn backoff(shared: &Shared, failures: u32) -> Duration {
    let l = &shared.limits;
    let d = l
        .backoff_initial
        .saturating_mul(1u32 << failures.min(20))
        .min(l.backoff_max);
    let half = d / 2;
    let nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
    let jitter = match nanos.checked_add(1) {
        Some(span) => OsRng.next_u64() % span,
        None => 0,
    };
    half + Duration::from_nanos(jitter)
}

/// The frame at the head of the line was written and never acknowledged: one more strike.
fn strike_head(shared: &Shared, peer: &IdentityKey, outbox: &mut Outbox) {
    if outbox.written == 0 {
        return;
    }
    let Some(head) = outbox.unacked.front_mut() else {
        return;
    };
    head.strikes += 1;
    if head.strikes >= shared.limits.max_attempts {
        let len = head.payload.len();
        outbox.unacked.pop_front();
        shared.counters.bump(&shared.counters.frames_abandoned);
        tracing::warn!(%peer, len, attempts = shared.limits.max_attempts,
            "giving up on a frame the peer never acknowledged");
    }
}

async fn dial(
    shared: &Shared,
    connector: &TlsConnector,
    peer: IdentityKey,
    addr: SocketAddr,
    outbox: &mut Outbox,
) -> (Closed, bool) {
    let handshake = async {
        let tcp = TcpStream::connect(addr).await.map_err(Closed::Connect)?;
        let _ = tcp.set_nodelay(true);
        let name =
            ServerName::try_from(SERVER_NAME).map_err(|e| Closed::Handshake(e.to_string()))?;
        let mut tls = connector
            .connect(name, tcp)
            .await
            .map_err(|e| Closed::Handshake(e.to_string()))?;
        check_alpn(tls.get_ref().1.alpn_protocol())?;
        let lapse = exchange(shared, &mut tls, &peer).await?;
        Ok::<_, Closed>((tls, lapse))
    };
    let result = timeout(shared.limits.handshake_timeout, handshake).await;
    let (tls, lapse) = match result {
        Ok(Ok(established)) => established,
        Ok(Err(closed)) => return (closed, false),
        Err(_) => return (Closed::Timeout, false),
    };
    shared.counters.bump(&shared.counters.connections_outbound);
    tracing::info!(%peer, %addr, "outbound connection established");
    let mut peers = shared.peers.clone();
    let moved = async move {
        let _ = peers.wait_for(|m| m.get(&peer) != Some(&addr)).await;
    };
    (
        run(shared, tls, peer, Some(outbox), lapse, moved).await,
        true,
    )
}

// ---------------------------------------------------------------------------------------------
// An established connection

/// Runs steps 2 and 3 until something ends the connection. `outbox` is `Some` on the dialer.
async fn run<S: AsyncRead + AsyncWrite + Unpin>(
    shared: &Shared,
    stream: S,
    peer: IdentityKey,
    outbox: Option<&mut Outbox>,
    lapse: Instant,
    stop: impl Future<Output = ()>,
) -> Closed {
    let _open = OpenGuard::new(&shared.counters);
    let dialer = outbox.is_some();
    let (mut rd, mut wr) = tokio::io::split(stream);
    // Listener: data frames received so far (to acknowledge). Dialer: acknowledged count.
    let (count_tx, count_rx) = watch::channel(0u64);
    let reader = read_loop(shared, &mut rd, peer, dialer, lapse, count_tx);
    let writer = write_loop(shared, &mut wr, outbox, count_rx);
    tokio::select! {
        closed = reader => closed,
        closed = writer => closed,
        () = stop => Closed::PeerGone,
    }
}

enum Read {
    Evidence(Vec<u8>),
    Delivered,
    Ack(u64),
}

async fn read_loop<R: AsyncRead + Unpin>(
    shared: &Shared,
    rd: &mut R,
    peer: IdentityKey,
    dialer: bool,
    mut lapse: Instant,
    count: watch::Sender<u64>,
) -> Closed {
    let mut received = 0u64;
    loop {
        let step = async {
            let (tag, body) = read_frame(rd, shared.limits.max_frame).await?;
            match tag {
                TAG_EVIDENCE => Ok(Read::Evidence(body)),
                TAG_DATA if !dialer => {
                    let inbound = Inbound {
                        from: peer,
                        payload: body,
                    };
                    shared
                        .inbound
                        .send(inbound)
                        .await
                        .map_err(|_| Closed::Local)?;
                    Ok(Read::Delivered)
                }
                TAG_ACK if dialer => {
                    let n: [u8; 8] = body
                        .try_into()
                        .map_err(|_| Closed::Protocol("malformed acknowledgement"))?;
                    Ok(Read::Ack(u64::from_be_bytes(n)))
                }
                _ => Err(Closed::Protocol("unexpected frame tag")),
            }
        };
        // Cancelling a half-read frame is fine: the connection is dropped either way.
        let step = tokio::select! {
            step = step => step,
            () = sleep_until(lapse) => return Closed::Expired,
        };
        match step {
            Err(closed) => return closed,
            Ok(Read::Evidence(body)) => match admit(shared, &peer, &body) {
                Ok(next) => lapse = next,
                Err(closed) => return closed,
            },
            Ok(Read::Delivered) => {
                received += 1;
                shared.counters.bump(&shared.counters.frames_received);
                count.send_replace(received);
            }
            Ok(Read::Ack(n)) => {
                count.send_replace(n);
            }
        }
    }
}

enum Write {
    Count(u64),
    Refresh,
    Frame(Option<Vec<u8>>),
}

async fn next_frame(outbox: Option<&mut Outbox>) -> Option<Vec<u8>> {
    match outbox {
        Some(outbox) => outbox.queue.recv().await,
        None => std::future::pending().await,
    }
}

async fn write_loop<W: AsyncWrite + Unpin>(
    shared: &Shared,
    wr: &mut W,
    mut outbox: Option<&mut Outbox>,
    mut count: watch::Receiver<u64>,
) -> Closed {
    let every = shared.limits.evidence_refresh;
    let mut refresh = tokio::time::interval_at(Instant::now() + every, every);
    refresh.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // Dialer: frames acknowledged on this connection so far.
    let mut acked = 0u64;
    loop {
        // Dialer: write whatever is unacknowledged and not yet written here (after a reconnect,
        // everything left over from the previous connection), in order.
        if let Some(ob) = outbox.as_deref_mut() {
            if let Some(p) = ob.unacked.get(ob.written) {
                // Counted before the write: a frame that dies half-written still earns its
                // strike, or a frame the peer refuses mid-way would be retried forever.
                ob.written += 1;
                if let Err(e) = write_frame(wr, TAG_DATA, &p.payload).await {
                    return e.into();
                }
                shared.counters.bump(&shared.counters.frames_sent);
                continue;
            }
        }
        let room = outbox
            .as_deref()
            .is_some_and(|ob| ob.unacked.len() < shared.limits.max_in_flight);
        let event = tokio::select! {
            biased;
            changed = count.changed() => match changed {
                Ok(()) => Write::Count(*count.borrow_and_update()),
                // The reader is gone, so the connection is ending anyway.
                Err(_) => return Closed::Local,
            },
            _ = refresh.tick() => Write::Refresh,
            frame = next_frame(outbox.as_deref_mut()), if room => Write::Frame(frame),
        };
        let written = match event {
            Write::Count(n) => match outbox.as_deref_mut() {
                Some(ob) => {
                    let Some(fresh) = n.checked_sub(acked) else {
                        return Closed::Protocol("acknowledgement count went backwards");
                    };
                    let fresh = usize::try_from(fresh).unwrap_or(usize::MAX);
                    if fresh > ob.written {
                        return Closed::Protocol("acknowledgement of frames never sent");
                    }
                    ob.unacked.drain(..fresh);
                    ob.written -= fresh;
                    ob.progress |= fresh > 0;
                    acked = n;
                    Ok(())
                }
                None => write_frame(wr, TAG_ACK, &n.to_be_bytes()).await,
            },
            Write::Refresh => match own_evidence(shared) {
                Ok(evidence) => write_frame(wr, TAG_EVIDENCE, &evidence).await,
                Err(closed) => return closed,
            },
            Write::Frame(Some(payload)) => {
                if let Some(ob) = outbox.as_deref_mut() {
                    ob.unacked.push_back(Pending {
                        payload,
                        strikes: 0,
                    });
                }
                Ok(())
            }
            // The handle was dropped: the peer left the set or the transport is stopping.
            Write::Frame(None) => return Closed::PeerGone,
        };
        if let Err(e) = written {
            return e.into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lapse_instants() {
        let now = now_unix();
        assert!(lapse_instant(now.saturating_sub(1)).is_none());
        assert!(lapse_instant(0).is_none());
        assert!(lapse_instant(now + 100).is_some());
        // Absurd expiries are capped rather than overflowing.
        assert!(lapse_instant(u64::MAX).is_some());
    }
}
