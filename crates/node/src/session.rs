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
    /// Every seat this node plays (just `me` unless made by [`Roster::with_seats`]).
    mine: Vec<PartyIndex>,
    by_index: BTreeMap<PartyIndex, IdentityKey>,
    by_key: BTreeMap<IdentityKey, PartyIndex>,
    /// Every seat of each identity, for rosters where one identity plays several.
    seats: BTreeMap<IdentityKey, BTreeSet<PartyIndex>>,
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
        let seats = by_key
            .iter()
            .map(|(k, p)| (*k, BTreeSet::from([*p])))
            .collect();
        Ok(Roster {
            me,
            mine: vec![me],
            by_index,
            by_key,
            seats,
        })
    }

    /// A roster where an identity may play several seats (resharing: an operator in both the
    /// old and the new committee is a dealer and a receiver). `mine` are this node's seats, all
    /// of one identity; no seat may appear twice.
    pub fn with_seats(
        mine: Vec<PartyIndex>,
        parties: impl IntoIterator<Item = (PartyIndex, IdentityKey)>,
    ) -> Result<Self, SessionError> {
        let mut by_index = BTreeMap::new();
        let mut seats: BTreeMap<IdentityKey, BTreeSet<PartyIndex>> = BTreeMap::new();
        for (p, k) in parties {
            if by_index.insert(p, k).is_some() {
                return Err(SessionError::Setup(format!(
                    "seat {p} appears twice in the session"
                )));
            }
            seats.entry(k).or_default().insert(p);
        }
        let Some(&me) = mine.first() else {
            return Err(SessionError::Setup("no own seat in the session".into()));
        };
        let own = by_index.get(&me).copied();
        for m in &mine {
            match by_index.get(m) {
                Some(k) if Some(*k) == own => {}
                Some(_) => {
                    return Err(SessionError::Setup(format!(
                        "own seat {m} belongs to another identity"
                    )))
                }
                None => {
                    return Err(SessionError::Setup(format!(
                        "own seat {m} is not in the session"
                    )))
                }
            }
        }
        let mut unique = mine.clone();
        unique.sort();
        unique.dedup();
        if unique.len() != mine.len() {
            return Err(SessionError::Setup("an own seat is given twice".into()));
        }
        let by_key = seats
            .iter()
            .filter_map(|(k, s)| s.first().map(|p| (*k, *p)))
            .collect();
        Ok(Roster {
            me,
            mine,
            by_index,
            by_key,
            seats,
        })
    }

    /// This node's seats.
    pub fn mine(&self) -> &[PartyIndex] {
        &self.mine
    }

    /// Whether `key` plays `seat`.
    pub fn holds(&self, key: &IdentityKey, seat: PartyIndex) -> bool {
        self.seats.get(key).is_some_and(|s| s.contains(&seat))
    }

    /// Whether some identity plays more than one seat.
    fn multi_seat(&self) -> bool {
        self.seats.values().any(|s| s.len() > 1)
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
    if roster.multi_seat() {
        return Err(SessionError::Setup(
            "an identity plays several seats: use run_seats".into(),
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

/// Runs this node's machines of one session — one per seat in [`Roster::mine`], in that order
/// — in lockstep, and returns their outputs in the same order. Blocking.
///
/// A broadcast goes once to each other identity (whatever its number of seats) and straight
/// to this node's other machines; a point-to-point message to one of our seats never leaves
/// the process. An incoming frame's sender seat is its header's `from`, accepted only if the
/// authenticated peer plays that seat; a broadcast reaches every local machine, a
/// point-to-point frame only the machine it is addressed to.
pub fn run_seats<S: StateMachine>(
    machines: Vec<S>,
    roster: &Roster,
    net: &dyn Net,
    inbox: &Receiver<Frame>,
    round_timeout: Duration,
    rng: &mut ChaCha20Rng,
    observer: &mut dyn RoundObserver,
) -> Result<Vec<S::Output>, SessionError> {
    let mine = roster.mine().to_vec();
    if machines.iter().map(|m| m.me()).collect::<Vec<_>>() != mine {
        return Err(SessionError::Setup(
            "the machines' indices differ from the roster's own seats".into(),
        ));
    }
    let me = roster
        .key_of(roster.me())
        .copied()
        .ok_or_else(|| SessionError::Setup("own identity missing".into()))?;
    let mut live: Vec<Option<S>> = machines.into_iter().map(Some).collect();
    let mut outputs: Vec<Option<S::Output>> = live.iter().map(|_| None).collect();
    let mut round = 0usize;
    while live.iter().any(Option::is_some) {
        let started = Instant::now();
        // Everyone this round's machines expect to hear from, outside this node.
        let mut remote: BTreeSet<PartyIndex> = BTreeSet::new();
        let mut local_out: Vec<(PartyIndex, Outgoing)> = Vec::new();
        for m in live.iter_mut().flatten() {
            remote.extend(m.participants().iter().filter(|p| !mine.contains(p)));
            for o in m.take_outgoing() {
                local_out.push((m.me(), o));
            }
        }
        for (from, Outgoing { delivery, bytes }) in local_out {
            let mut identities: BTreeSet<IdentityKey> = BTreeSet::new();
            match delivery {
                Delivery::Broadcast => {
                    for m in live.iter_mut().flatten() {
                        if m.me() != from {
                            if let Err(blame) = m.receive(from, &bytes) {
                                tracing::warn!(party = %from, %blame, "own message failed a check");
                            }
                        }
                    }
                    for p in &remote {
                        if let Some(k) = roster.key_of(*p) {
                            if *k != me {
                                identities.insert(*k);
                            }
                        }
                    }
                }
                Delivery::P2p { to } => {
                    if let Some(m) = live.iter_mut().flatten().find(|m| m.me() == to) {
                        if let Err(blame) = m.receive(from, &bytes) {
                            tracing::warn!(party = %from, %blame, "own message failed a check");
                        }
                    } else {
                        let k = roster.key_of(to).ok_or_else(|| {
                            SessionError::Setup(format!("no identity for party {to}"))
                        })?;
                        identities.insert(*k);
                    }
                }
            }
            for k in identities {
                if let Err(e) = net.send(&k, bytes.clone()) {
                    tracing::warn!(peer = %k, error = %e, "could not queue a protocol frame");
                }
            }
        }
        let deadline = started + round_timeout;
        let mut heard: BTreeSet<PartyIndex> = BTreeSet::new();
        while !live.iter().flatten().all(|m| m.ready()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match inbox.recv_timeout(left) {
                Ok(frame) => {
                    let Ok(header) = tessera_core::wire::peek_header(&frame.bytes, usize::MAX)
                    else {
                        tracing::warn!(peer = %frame.from, "unreadable frame dropped");
                        continue;
                    };
                    let from = header.from;
                    if frame.from == me || !roster.holds(&frame.from, from) {
                        tracing::warn!(peer = %frame.from, party = %from, "frame for a seat the peer does not play dropped");
                        continue;
                    }
                    heard.insert(from);
                    let targets: Vec<&mut S> = match header.delivery {
                        Delivery::Broadcast => live.iter_mut().flatten().collect(),
                        Delivery::P2p { to } => {
                            live.iter_mut().flatten().filter(|m| m.me() == to).collect()
                        }
                    };
                    if targets.is_empty() {
                        tracing::warn!(peer = %frame.from, party = %from, "frame addressed to a seat not played here dropped");
                    }
                    for m in targets {
                        if let Err(blame) = m.receive(from, &frame.bytes) {
                            tracing::warn!(party = %from, %blame, "message failed a check");
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    let waiting_for = remote
                        .iter()
                        .copied()
                        .filter(|p| !heard.contains(p))
                        .collect();
                    return Err(SessionError::Timeout { round, waiting_for });
                }
                Err(RecvTimeoutError::Disconnected) => return Err(SessionError::Cancelled),
            }
        }
        for (slot, out) in live.iter_mut().zip(outputs.iter_mut()) {
            if let Some(m) = slot.take() {
                match m.proceed(rng)? {
                    Transition::Continue(next) => *slot = Some(next),
                    Transition::Done(o) => *out = Some(o),
                }
            }
        }
        observer.round_done(round, started.elapsed());
        round += 1;
    }
    outputs
        .into_iter()
        .map(|o| o.ok_or_else(|| SessionError::Setup("a machine ended without output".into())))
        .collect()
}
