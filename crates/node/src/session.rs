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
use tessera_core::wire::{self, Delivery, Outgoing};
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

/// Which identity plays which party index (seat) in a session.
///
/// Usually every identity holds one seat ([`Roster::new`]). In a resharing an operator in both
/// the old and the new committee plays two seats, a dealer and a receiver
/// ([`Roster::with_seats`], run with [`run_seats`]).
#[derive(Clone, Debug)]
pub struct Roster {
    /// Own seats, sorted, never empty; all held by one identity, which holds no other seat.
    mine: Vec<PartyIndex>,
    by_index: BTreeMap<PartyIndex, IdentityKey>,
    /// Each identity's seats, sorted.
    by_key: BTreeMap<IdentityKey, Vec<PartyIndex>>,
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
            if by_index.insert(p, k).is_some() || by_key.insert(k, vec![p]).is_some() {
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
            mine: vec![me],
            by_index,
            by_key,
        })
    }

    /// A roster in which an identity may hold several seats (no seat twice). `mine` are this
    /// node's seats: not empty, all held by one identity (ours), and every seat that identity
    /// holds.
    pub fn with_seats(
        mine: Vec<PartyIndex>,
        parties: impl IntoIterator<Item = (PartyIndex, IdentityKey)>,
    ) -> Result<Self, SessionError> {
        let mut by_index = BTreeMap::new();
        let mut by_key: BTreeMap<IdentityKey, Vec<PartyIndex>> = BTreeMap::new();
        for (p, k) in parties {
            if by_index.insert(p, k).is_some() {
                return Err(SessionError::Setup(format!(
                    "party {p} appears twice in the session"
                )));
            }
            by_key.entry(k).or_default().push(p);
        }
        for seats in by_key.values_mut() {
            seats.sort();
        }
        let mut mine = mine;
        mine.sort();
        if mine.windows(2).any(|w| matches!(w, [a, b] if a == b)) {
            return Err(SessionError::Setup(format!(
                "own seats {mine:?} name a seat twice"
            )));
        }
        let Some(first) = mine.first() else {
            return Err(SessionError::Setup("no own seat in the session".into()));
        };
        let Some(ours) = by_index.get(first) else {
            return Err(SessionError::Setup(format!(
                "own seat {first} is not in the session"
            )));
        };
        for p in &mine {
            match by_index.get(p) {
                None => {
                    return Err(SessionError::Setup(format!(
                        "own seat {p} is not in the session"
                    )))
                }
                Some(k) if k != ours => {
                    return Err(SessionError::Setup(format!(
                        "own seats {first} and {p} belong to different identities"
                    )))
                }
                Some(_) => {}
            }
        }
        if by_key.get(ours) != Some(&mine) {
            return Err(SessionError::Setup(format!(
                "own identity holds seats {:?}, but own seats are {mine:?}",
                by_key.get(ours).map(Vec::as_slice).unwrap_or_default()
            )));
        }
        Ok(Roster {
            mine,
            by_index,
            by_key,
        })
    }

    /// Own seat; with several ([`Roster::with_seats`]), the lowest — see [`Roster::mine`].
    pub fn me(&self) -> PartyIndex {
        // `mine` is never empty (both constructors check it).
        self.mine.first().copied().unwrap_or(PartyIndex(0))
    }

    /// Own seats, sorted.
    pub fn mine(&self) -> &[PartyIndex] {
        &self.mine
    }

    /// Whether `p` is one of own seats.
    pub fn is_mine(&self, p: PartyIndex) -> bool {
        self.mine.contains(&p)
    }

    /// The seat of an identity that holds exactly one; `None` for a stranger or an identity
    /// with several seats (see [`Roster::seats_of`]).
    pub fn party_of(&self, key: &IdentityKey) -> Option<PartyIndex> {
        match self.by_key.get(key).map(Vec::as_slice) {
            Some([p]) => Some(*p),
            _ => None,
        }
    }

    /// Every seat `key` holds, sorted (empty for a stranger).
    pub fn seats_of(&self, key: &IdentityKey) -> &[PartyIndex] {
        self.by_key.get(key).map(Vec::as_slice).unwrap_or_default()
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
    if roster.by_key.values().any(|seats| seats.len() != 1) {
        return Err(SessionError::Setup(
            "the roster gives an identity several seats: run it with run_seats".into(),
        ));
    }
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

/// Runs `machines`, one per own seat of `roster`, to completion in lockstep, and returns their
/// outputs in the order of `machines`. Blocking: call it from a blocking thread.
///
/// For an operator that plays several seats of one session (a resharing dealer and receiver).
/// Every round, each local machine's messages go out once per remote identity (a broadcast to
/// each identity that holds another participant seat, a p2p message to the identity of its
/// seat) and straight to the local machines they are for. An inbound frame names its sender
/// seat in its header; that seat must be one the authenticated identity holds, else the frame
/// is dropped. All local machines move on together when all are ready (the machines must
/// follow the same round structure, as the roles of one protocol do; a wrapper such as
/// [`Echo`](tessera_core::echo::Echo) keeps frames that arrive a round early); a machine that
/// finishes drops out. A timeout names the remote seats not heard from in that round.
pub fn run_seats<S: StateMachine>(
    machines: Vec<S>,
    roster: &Roster,
    net: &dyn Net,
    inbox: &Receiver<Frame>,
    round_timeout: Duration,
    rng: &mut ChaCha20Rng,
    observer: &mut dyn RoundObserver,
) -> Result<Vec<S::Output>, SessionError> {
    let mut seats: Vec<PartyIndex> = machines.iter().map(|m| m.me()).collect();
    seats.sort();
    if seats != roster.mine() {
        return Err(SessionError::Setup(format!(
            "the machines play seats {seats:?}, the roster gives this node {:?}",
            roster.mine()
        )));
    }
    let mut outputs: Vec<Option<S::Output>> = machines.iter().map(|_| None).collect();
    // Machines still running, with their position in `machines`.
    let mut live: Vec<(usize, S)> = machines.into_iter().enumerate().collect();
    let mut round = 0usize;
    while !live.is_empty() {
        let started = Instant::now();
        let mut remote: BTreeSet<PartyIndex> = BTreeSet::new();
        for (_, m) in &live {
            remote.extend(m.participants().iter().filter(|p| !roster.is_mine(**p)));
        }
        let mut local: Vec<(PartyIndex, Delivery, Vec<u8>)> = Vec::new();
        for (_, m) in live.iter_mut() {
            let me = m.me();
            let participants = m.participants().to_vec();
            for Outgoing { delivery, bytes } in m.take_outgoing() {
                let keys: BTreeSet<&IdentityKey> = match delivery {
                    Delivery::Broadcast => {
                        let mut keys = BTreeSet::new();
                        for &p in participants.iter().filter(|p| !roster.is_mine(**p)) {
                            keys.insert(roster.key_of(p).ok_or_else(|| {
                                SessionError::Setup(format!("no identity for party {p}"))
                            })?);
                        }
                        local.push((me, delivery, bytes.clone()));
                        keys
                    }
                    Delivery::P2p { to } if roster.is_mine(to) => {
                        local.push((me, delivery, bytes));
                        continue;
                    }
                    Delivery::P2p { to } => {
                        let key = roster.key_of(to).ok_or_else(|| {
                            SessionError::Setup(format!("no identity for party {to}"))
                        })?;
                        BTreeSet::from([key])
                    }
                };
                for key in keys {
                    if let Err(e) = net.send(key, bytes.clone()) {
                        // As in `run`: a refusal surfaces as the peer's silence at the timeout.
                        tracing::warn!(peer = %key, error = %e, "could not queue a protocol frame");
                    }
                }
            }
        }
        for (from, delivery, bytes) in local {
            deliver(&mut live, from, delivery, &bytes);
        }
        let deadline = started + round_timeout;
        let mut heard: BTreeSet<PartyIndex> = BTreeSet::new();
        while !live.iter().all(|(_, m)| m.ready()) {
            let left = deadline.saturating_duration_since(Instant::now());
            match inbox.recv_timeout(left) {
                Ok(frame) => {
                    let header = match wire::peek_header(&frame.bytes, usize::MAX) {
                        Ok(h) => h,
                        Err(e) => {
                            tracing::warn!(peer = %frame.from, error = %e, "frame without a readable header dropped");
                            continue;
                        }
                    };
                    let from = header.from;
                    if !roster.seats_of(&frame.from).contains(&from) {
                        tracing::warn!(peer = %frame.from, party = %from, "frame naming a seat its sender does not hold dropped");
                        continue;
                    }
                    if roster.is_mine(from) {
                        // Own machines' messages never travel over the network.
                        tracing::warn!(peer = %frame.from, party = %from, "frame naming an own seat dropped");
                        continue;
                    }
                    if let Delivery::P2p { to } = header.delivery {
                        if !roster.is_mine(to) {
                            tracing::warn!(peer = %frame.from, party = %from, to = %to, "p2p frame for a seat that is not ours dropped");
                            continue;
                        }
                    }
                    heard.insert(from);
                    deliver(&mut live, from, header.delivery, &frame.bytes);
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
        let mut next = Vec::with_capacity(live.len());
        for (i, m) in live {
            match m.proceed(rng)? {
                Transition::Continue(m) => next.push((i, m)),
                Transition::Done(out) => {
                    if let Some(slot) = outputs.get_mut(i) {
                        *slot = Some(out);
                    }
                }
            }
        }
        live = next;
        observer.round_done(round, started.elapsed());
        round += 1;
    }
    outputs
        .into_iter()
        .map(|o| o.ok_or_else(|| SessionError::Setup("a machine ended without output".into())))
        .collect()
}

/// Hands one message from seat `from` to the local machines it is for: a broadcast to every
/// one but the sender, a p2p message to the one at its recipient seat.
fn deliver<S: StateMachine>(
    live: &mut [(usize, S)],
    from: PartyIndex,
    delivery: Delivery,
    bytes: &[u8],
) {
    for (_, m) in live.iter_mut() {
        let me = m.me();
        let for_me = match delivery {
            Delivery::Broadcast => me != from,
            Delivery::P2p { to } => me == to && me != from,
        };
        if for_me {
            // A failed check is kept by the round and aborts it in `proceed`.
            if let Err(blame) = m.receive(from, bytes) {
                tracing::warn!(party = %from, seat = %me, %blame, "message failed a check");
            }
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::indexing_slicing,
    clippy::panic
)]
mod tests {
    use std::sync::mpsc::channel;
    use std::sync::{Arc, Mutex};

    use rand_core::SeedableRng;
    use tessera_core::wire::{encode, Header, ProtocolId, WIRE_VERSION};
    use tessera_core::{Blame, SessionId};
    use tessera_identity::Identity;

    use super::*;

    const SID: SessionId = SessionId([4; 32]);

    /// What a probe received: (its seat, sender seat, delivery).
    type Log = Arc<Mutex<Vec<(PartyIndex, PartyIndex, Delivery)>>>;

    /// One round: broadcast, and a p2p message to every other participant; ready with both from
    /// every other participant. Logs every message it is handed.
    struct Probe {
        me: PartyIndex,
        parties: Vec<PartyIndex>,
        out: Vec<Outgoing>,
        got: BTreeSet<(PartyIndex, bool)>,
        log: Log,
    }

    fn frame(from: u16, delivery: Delivery) -> Vec<u8> {
        let header = Header {
            version: WIRE_VERSION,
            protocol: ProtocolId::Reshare,
            sid: SID,
            round: 1,
            from: PartyIndex(from),
            delivery,
        };
        encode(&header, &()).bytes
    }

    impl Probe {
        fn new(me: u16, n: u16, log: &Log) -> Self {
            let parties: Vec<PartyIndex> = (0..n).map(PartyIndex).collect();
            let mut out = vec![Outgoing {
                delivery: Delivery::Broadcast,
                bytes: frame(me, Delivery::Broadcast),
            }];
            for &to in parties.iter().filter(|p| p.0 != me) {
                let delivery = Delivery::P2p { to };
                out.push(Outgoing {
                    delivery,
                    bytes: frame(me, delivery),
                });
            }
            Probe {
                me: PartyIndex(me),
                parties,
                out,
                got: BTreeSet::new(),
                log: log.clone(),
            }
        }
    }

    impl StateMachine for Probe {
        type Output = PartyIndex;
        fn me(&self) -> PartyIndex {
            self.me
        }
        fn participants(&self) -> &[PartyIndex] {
            &self.parties
        }
        fn take_outgoing(&mut self) -> Vec<Outgoing> {
            std::mem::take(&mut self.out)
        }
        fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
            let h = wire::peek_header(bytes, usize::MAX).unwrap();
            assert_eq!(h.from, from);
            self.log.lock().unwrap().push((self.me, from, h.delivery));
            self.got
                .insert((from, matches!(h.delivery, Delivery::P2p { .. })));
            Ok(())
        }
        fn ready(&self) -> bool {
            self.parties
                .iter()
                .filter(|&&p| p != self.me)
                .all(|&p| self.got.contains(&(p, false)) && self.got.contains(&(p, true)))
        }
        fn proceed(
            self,
            _: &mut impl rand_core::CryptoRngCore,
        ) -> Result<Transition<Self, PartyIndex>, ProtocolError> {
            Ok(Transition::Done(self.me))
        }
    }

    #[derive(Default)]
    struct Sent(Mutex<Vec<(IdentityKey, Vec<u8>)>>);

    impl Net for Arc<Sent> {
        fn send(&self, to: &IdentityKey, frame: Vec<u8>) -> Result<(), String> {
            self.0.lock().unwrap().push((*to, frame));
            Ok(())
        }
    }

    fn id(i: u8) -> IdentityKey {
        Identity::from_secret_bytes(&[i + 1; 32]).public()
    }

    /// Identity 0 (ours) holds seats 0 and 1, identity 1 seat 2, identity 2 seat 3.
    fn roster() -> Roster {
        Roster::with_seats(
            vec![PartyIndex(1), PartyIndex(0)],
            [(0, 0), (1, 0), (2, 1), (3, 2)].map(|(p, i)| (PartyIndex(p), id(i))),
        )
        .unwrap()
    }

    /// Runs probes at seats 0 and 1 of 4 with `frames` already in the inbox.
    fn run_probes(
        frames: Vec<(u8, Vec<u8>)>,
        timeout: Duration,
    ) -> (Result<Vec<PartyIndex>, SessionError>, Log, Arc<Sent>) {
        let log = Log::default();
        let sent = Arc::new(Sent::default());
        let (tx, rx) = channel();
        for (from, bytes) in frames {
            tx.send(Frame {
                from: id(from),
                bytes,
            })
            .unwrap();
        }
        let machines = vec![Probe::new(1, 4, &log), Probe::new(0, 4, &log)];
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let out = run_seats(machines, &roster(), &sent, &rx, timeout, &mut rng, &mut ());
        (out, log, sent)
    }

    /// Everything seats 2 and 3 send to seats 0 and 1.
    fn honest_remote_frames() -> Vec<(u8, Vec<u8>)> {
        let mut v = Vec::new();
        for (seat, ident) in [(2u16, 1u8), (3, 2)] {
            v.push((ident, frame(seat, Delivery::Broadcast)));
            for to in [0, 1] {
                v.push((ident, frame(seat, Delivery::P2p { to: PartyIndex(to) })));
            }
        }
        v
    }

    #[test]
    fn two_local_seats_talk_directly_and_send_once_per_remote_identity() {
        let (out, log, sent) = run_probes(honest_remote_frames(), Duration::from_secs(10));
        assert_eq!(out.unwrap(), vec![PartyIndex(1), PartyIndex(0)]);
        let sent = sent.0.lock().unwrap();
        // Per local seat: one broadcast to each remote identity and one p2p message to each
        // remote seat; nothing to ourselves.
        assert_eq!(sent.len(), 2 * (2 + 2));
        assert!(sent.iter().all(|(k, _)| *k != id(0)));
        for (k, bytes) in sent.iter() {
            let h = wire::peek_header(bytes, usize::MAX).unwrap();
            assert!(h.from.0 < 2);
            if let Delivery::P2p { to } = h.delivery {
                assert_eq!(roster().key_of(to), Some(k));
            }
        }
        let log = log.lock().unwrap();
        for me in [0u16, 1] {
            let mut got: Vec<(u16, bool)> = log
                .iter()
                .filter(|(m, _, _)| m.0 == me)
                .map(|(_, f, d)| (f.0, matches!(d, Delivery::P2p { .. })))
                .collect();
            got.sort();
            let other = 1 - me;
            let mut want = vec![(other, false), (other, true), (2, false), (2, true)];
            want.extend([(3, false), (3, true)]);
            want.sort();
            assert_eq!(got, want, "seat {me}");
        }
        // Every p2p message reached exactly its recipient.
        assert!(log
            .iter()
            .all(|(m, _, d)| !matches!(d, Delivery::P2p { to } if to != m)));
    }

    #[test]
    fn a_frame_naming_a_seat_its_sender_does_not_hold_is_dropped() {
        // Identity 1 (seat 2) sends seat 3's frames; identity 2 stays silent.
        let frames = honest_remote_frames()
            .into_iter()
            .map(|(_, bytes)| (1u8, bytes))
            .collect();
        let (out, log, _) = run_probes(frames, Duration::from_millis(300));
        match out {
            Err(SessionError::Timeout { round, waiting_for }) => {
                assert_eq!((round, waiting_for), (0, vec![PartyIndex(3)]))
            }
            other => panic!("expected a timeout naming seat 3, got {other:?}"),
        }
        assert!(log.lock().unwrap().iter().all(|(_, f, _)| f.0 != 3));
    }

    #[test]
    fn a_p2p_frame_for_a_seat_that_is_not_ours_is_dropped() {
        let mut frames: Vec<(u8, Vec<u8>)> = honest_remote_frames()
            .into_iter()
            .filter(|(i, _)| *i == 1)
            .collect();
        // Seat 3 sends only a p2p message addressed to seat 2.
        frames.push((2, frame(3, Delivery::P2p { to: PartyIndex(2) })));
        let (out, log, _) = run_probes(frames, Duration::from_millis(300));
        match out {
            Err(SessionError::Timeout { waiting_for, .. }) => {
                assert_eq!(waiting_for, vec![PartyIndex(3)])
            }
            other => panic!("expected a timeout naming seat 3, got {other:?}"),
        }
        assert!(log.lock().unwrap().iter().all(|(_, f, _)| f.0 != 3));
    }

    #[test]
    fn roster_seats_are_checked() {
        let r = roster();
        assert_eq!(r.mine(), &[PartyIndex(0), PartyIndex(1)]);
        assert_eq!(r.me(), PartyIndex(0));
        assert_eq!(r.seats_of(&id(0)), &[PartyIndex(0), PartyIndex(1)]);
        assert_eq!(r.seats_of(&id(1)), &[PartyIndex(2)]);
        assert!(r.seats_of(&id(9)).is_empty());
        assert_eq!(r.party_of(&id(0)), None);
        assert_eq!(r.party_of(&id(2)), Some(PartyIndex(3)));
        let parties = |v: &[(u16, u8)]| {
            v.iter()
                .map(|&(p, i)| (PartyIndex(p), id(i)))
                .collect::<Vec<_>>()
        };
        let setup = |r: Result<Roster, SessionError>| match r {
            Err(SessionError::Setup(m)) => m,
            other => panic!("expected a setup error, got {other:?}"),
        };
        // A seat twice.
        let m = setup(Roster::with_seats(
            vec![PartyIndex(0)],
            parties(&[(0, 0), (1, 1), (1, 2)]),
        ));
        assert!(m.contains("party 1 appears twice"), "{m}");
        // An own seat held by another identity.
        let m = setup(Roster::with_seats(
            vec![PartyIndex(0), PartyIndex(1)],
            parties(&[(0, 0), (1, 1)]),
        ));
        assert!(m.contains("different identities"), "{m}");
        // An own seat outside the session, the same seat twice, no seat.
        setup(Roster::with_seats(
            vec![PartyIndex(0), PartyIndex(5)],
            parties(&[(0, 0), (1, 1)]),
        ));
        setup(Roster::with_seats(
            vec![PartyIndex(0), PartyIndex(0)],
            parties(&[(0, 0), (1, 1)]),
        ));
        setup(Roster::with_seats(vec![], parties(&[(0, 0), (1, 1)])));
        // Own identity holds a seat that is not among own seats.
        let m = setup(Roster::with_seats(
            vec![PartyIndex(0)],
            parties(&[(0, 0), (1, 0), (2, 1)]),
        ));
        assert!(m.contains("own identity holds seats"), "{m}");
        // `Roster::new` still refuses an identity twice.
        let m = setup(Roster::new(PartyIndex(0), parties(&[(0, 0), (1, 0)])));
        assert!(m.contains("appears twice"), "{m}");
    }

    #[test]
    fn run_refuses_several_seats_and_run_seats_other_seats() {
        let log = Log::default();
        let sent = Arc::new(Sent::default());
        let (_tx, rx) = channel();
        let mut rng = ChaCha20Rng::seed_from_u64(1);
        let r = run(
            Probe::new(0, 4, &log),
            &roster(),
            &sent,
            &rx,
            Duration::from_millis(10),
            &mut rng,
            &mut (),
        );
        assert!(matches!(r, Err(SessionError::Setup(_))), "{r:?}");
        let r = run_seats(
            vec![Probe::new(0, 4, &log)],
            &roster(),
            &sent,
            &rx,
            Duration::from_millis(10),
            &mut rng,
            &mut (),
        );
        assert!(matches!(r, Err(SessionError::Setup(_))), "{r:?}");
        assert!(sent.0.lock().unwrap().is_empty());
    }
}
