//! Runs one protocol session (any [`StateMachine`]) over the network.
//!
//! The session runs on a blocking thread: a round's `receive` and `proceed` verify
//! zero-knowledge proofs for up to seconds, which must not stall the async runtime. Frames
//! arrive through a [`std::sync::mpsc`] inbox that the [`Router`](crate::router::Router) fills;
//! frames leave through [`Net`], which only enqueues (the transport delivers, reconnects and
//! resends). Each round waits at most `round_timeout` for the messages it still expects; a
//! timeout names the parties that were silent in that round, so that the ledger can exclude
//! them next time.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::mpsc::{Receiver, RecvTimeoutError};
use std::time::{Duration, Instant};

use rand_chacha::ChaCha20Rng;
use tessera_core::wire::{Delivery, Outgoing};
use tessera_core::{PartyIndex, ProtocolError, StateMachine, Transition};
use tessera_identity::IdentityKey;

/// Where a session's outgoing frames go: the TLS transport in a node, channels in tests.
pub trait Net: Send + Sync + 'static {
    /// Enqueues `frame` for `to`. Must not block for long.
    fn send(&self, to: &IdentityKey, frame: Vec<u8>) -> Result<(), String>;
}

/// One frame from an authenticated peer.
#[derive(Clone)]
pub struct Frame {
    pub from: IdentityKey,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Frame {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Frame(from {:?}, {} bytes)", self.from, self.bytes.len())
    }
}

/// Which identity plays which party index in a session.
#[derive(Clone, Debug)]
pub struct Roster {
    me: PartyIndex,
    by_index: BTreeMap<PartyIndex, IdentityKey>,
    by_key: BTreeMap<IdentityKey, PartyIndex>,
}

impl Roster {
    /// `parties` must contain `me` and no identity twice.
    pub fn new(
        me: PartyIndex,
        parties: impl IntoIterator<Item = (PartyIndex, IdentityKey)>,
    ) -> Result<Self, SessionError> {
        let mut by_index = BTreeMap::new();
        let mut by_key = BTreeMap::new();
        for (p, k) in parties {
            if by_index.insert(p, k).is_some() || by_key.insert(k, p).is_some() {
                return Err(SessionError::Setup(format!(
                    "party {p} or identity {k:?} appears twice in the session"
                )));
            }
        }
        if !by_index.contains_key(&me) {
            return Err(SessionError::Setup(format!(
                "own index {me} is not in the session"
            )));
        }
        Ok(Roster {
            me,
            by_index,
            by_key,
        })
    }

    pub fn me(&self) -> PartyIndex {
        self.me
    }

    pub fn party_of(&self, key: &IdentityKey) -> Option<PartyIndex> {
        self.by_key.get(key).copied()
    }

    pub fn key_of(&self, p: PartyIndex) -> Option<&IdentityKey> {
        self.by_index.get(&p)
    }
}

/// How a session ended without output.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Protocol(#[from] ProtocolError),
    #[error("round {round} timed out waiting for parties {waiting_for:?}")]
    Timeout {
        round: usize,
        waiting_for: Vec<PartyIndex>,
    },
    #[error("session cancelled")]
    Cancelled,
    #[error("session setup: {0}")]
    Setup(String),
}

impl SessionError {
    /// The parties this failure points at: blamed by a check, or silent until the timeout.
    pub fn blamed(&self) -> Vec<PartyIndex> {
        match self {
            SessionError::Protocol(e) => e.culprits(),
            SessionError::Timeout { waiting_for, .. } => waiting_for.clone(),
            _ => Vec::new(),
        }
    }

    /// A short cause for metrics and the ledger: the check tag, `timeout`, …
    pub fn cause(&self) -> String {
        match self {
            SessionError::Protocol(ProtocolError::Aborted(b)) => b
                .first()
                .map(|b| b.check.0.to_string())
                .unwrap_or_else(|| "aborted".into()),
            SessionError::Protocol(ProtocolError::InvalidInput(_)) => "invalid-input".into(),
            SessionError::Protocol(ProtocolError::Bug(_)) => "bug".into(),
            SessionError::Timeout { .. } => "timeout".into(),
            SessionError::Cancelled => "cancelled".into(),
            SessionError::Setup(_) => "setup".into(),
        }
    }
}

/// Per-round observations, for metrics.
pub trait RoundObserver {
    fn round_done(&mut self, round: usize, elapsed: Duration);
}

impl RoundObserver for () {
    fn round_done(&mut self, _: usize, _: Duration) {}
}

/// Runs `machine` to completion. Blocking: call it from a blocking thread.
pub fn run<S: StateMachine>(
    mut machine: S,
    roster: &Roster,
    net: &dyn Net,
    inbox: &Receiver<Frame>,
    round_timeout: Duration,
    rng: &mut ChaCha20Rng,
    observer: &mut dyn RoundObserver,
) -> Result<S::Output, SessionError> {
    if machine.me() != roster.me() {
        return Err(SessionError::Setup(
            "the machine's index differs from the roster's".into(),
        ));
    }
    let mut round = 0usize;
    loop {
        let started = Instant::now();
        let participants = machine.participants().to_vec();
        for Outgoing { delivery, bytes } in machine.take_outgoing() {
            let targets: Vec<PartyIndex> = match delivery {
                Delivery::Broadcast => participants
                    .iter()
                    .copied()
                    .filter(|&p| p != roster.me())
                    .collect(),
                Delivery::P2p { to } => vec![to],
            };
            for to in targets {
                let key = roster
                    .key_of(to)
                    .ok_or_else(|| SessionError::Setup(format!("no identity for party {to}")))?;
                if let Err(e) = net.send(key, bytes.clone()) {
                    // The transport queues and retries; a refusal here (queue full, peer not
                    // admitted) surfaces as the peer's silence at the timeout.
                    tracing::warn!(peer = %key, error = %e, "could not queue a protocol frame");
                }
            }
        }
        let deadline = started + round_timeout;
        let mut heard: BTreeSet<PartyIndex> = BTreeSet::new();
        while !machine.ready() {
            let left = deadline.saturating_duration_since(Instant::now());
            match inbox.recv_timeout(left) {
                Ok(frame) => {
                    let Some(from) = roster.party_of(&frame.from) else {
                        tracing::warn!(peer = %frame.from, "frame from a peer outside the session dropped");
                        continue;
                    };
                    heard.insert(from);
                    // A failed check is kept by the round and aborts it in `proceed`.
                    if let Err(blame) = machine.receive(from, &frame.bytes) {
                        tracing::warn!(party = %from, %blame, "message failed a check");
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let waiting_for = participants
                        .iter()
                        .copied()
                        .filter(|p| *p != roster.me() && !heard.contains(p))
                        .collect();
                    return Err(SessionError::Timeout { round, waiting_for });
                }
                Err(RecvTimeoutError::Disconnected) => return Err(SessionError::Cancelled),
            }
        }
        let next = machine.proceed(rng)?;
        observer.round_done(round, started.elapsed());
        round += 1;
        match next {
            Transition::Continue(m) => machine = m,
            Transition::Done(out) => return Ok(out),
        }
    }
}
