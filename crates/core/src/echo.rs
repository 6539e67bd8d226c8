//! Echo broadcast: a wrapper that makes every party check that everyone received the same
//! broadcast messages before a round is finished.
//!
//! Sending `N` point-to-point copies is not a broadcast: a sender can give different, each
//! well-formed, messages to different parties (SECURITY-CHECKLIST "Broadcast"). [`Echo`] wraps
//! any [`StateMachine`] and, for every inner round:
//!
//! 1. passes the inner machine's messages through unchanged, and hands it the messages of its
//!    current round;
//! 2. once the inner machine is [`ready`](StateMachine::ready), finishes a wrapper round whose
//!    only message is an *echo* (broadcast, [`ProtocolId::Echo`], header bound to the session
//!    id and the echo round): for every participant that sent a [`Delivery::Broadcast`]
//!    message in this inner round (itself included), the SHA-256 digest of the bytes it
//!    received. A round without broadcasts echoes an empty list; every round is echoed, so all
//!    participants agree on the round structure;
//! 3. calls the inner `proceed` only when it holds an echo from every other participant and all
//!    of them agree with its own view.
//!
//! A wrapped run therefore has twice as many rounds as the inner protocol: inner round, echo
//! round, inner round, …
//!
//! Checks:
//! - `[E.0]` an echo decodes, its header names this session, echo round, sender and broadcast
//!   delivery, and its entries name participants in strictly increasing order (the echoer is
//!   blamed).
//! - `[E.1]` every echo agrees with our own view of sender `k`'s broadcast (sender `k` is
//!   blamed: it gave different broadcasts to different parties).
//! - `[E.2]` a message falls outside the window an honest sender can reach: an echo for a round
//!   more than one ahead, more than [`MAX_BUFFERED_PER_SENDER`] buffered messages, a buffered
//!   message above [`MAX_BUFFERED_LEN`], or a message for a finished round in which the sender
//!   sent us no message of that kind.
//! - A message for a finished round that differs from the one received then is equivocation
//!   ([`EQUIVOCATION`], `[W.2]`); a byte-identical copy is ignored
//!   ([`DUPLICATE`], `[W.3]`, returned but not kept), as the inner inbox does.
//!
//! **Reordering.** A party proceeds past an echo round only with the echo of every other
//! participant, so an honest sender is never more than one round ahead of us: while our inner
//! round `r` is collecting, every honest inner message we get is for round `r` (or a finished
//! round); once we have sent our echo, a fast party may already send its round-`r+1` messages
//! and its round-`r+1` echo. Those are buffered (bounded as above) and replayed after the inner
//! machine proceeds. Inner rounds are told apart by the round number in their header
//! ([`wire::peek_header`]); the inner protocol must number its rounds in increasing order (all
//! Tessera protocols do; their numbers need not be consecutive). The current round's number is
//! taken from our own outgoing messages or, in a round in which we send nothing, from the first
//! message the inner machine accepts.
//!
//! A message whose header does not decode cannot be routed: while the inner round collects, the
//! inner machine judges it (with its own tag) and the sender's echo slot is settled with the
//! same blame; once our echo is out it is judged as an echo (`[E.0]`). Either way its sender is
//! blamed and the round can finish.
//!
//! **Limit.** Messages are not signed yet, so an echo is not transferable evidence. A party
//! that lies in its echo about sender `k` makes the honest `k` look like an equivocator: `[E.1]`
//! then names `k`, and every honest party aborts (safety holds — nobody proceeds on split
//! views — but blame can be misplaced). The node layer will sign every message so that an echo
//! can carry the signed original and a disagreement proves who lied (a later issue).
//!
//! **Cost.** One extra message round per inner round and `32·N` bytes per echo; a disagreement
//! aborts before the inner round is finished, so the inner protocol's own blames for that
//! round are not collected.

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use crate::inbox::{Inbox, DUPLICATE, EQUIVOCATION, UNEXPECTED_SENDER};
use crate::protocol::{ProtocolError, StateMachine, Transition};
use crate::wire::{self, Delivery, Expect, Header, Outgoing, ProtocolId, WIRE_VERSION};
use crate::{Blame, CheckTag, PartyIndex, SessionId};

/// A malformed echo.
pub const E0: CheckTag = CheckTag("[E.0]");
/// Echoes disagree about a sender's broadcast: the sender equivocated.
pub const E1: CheckTag = CheckTag("[E.1]");
/// A message outside the window an honest sender can reach.
pub const E2: CheckTag = CheckTag("[E.2]");

/// An honest sender has at most three messages for the next round in flight while we finish
/// ours (a broadcast, a p2p message and its echo); one more for slack.
pub const MAX_BUFFERED_PER_SENDER: usize = 4;

/// The largest message kept for a later round (the limit of Tessera's protocol messages).
pub const MAX_BUFFERED_LEN: usize = 8 << 20;

/// Header, list length and one `(party, digest)` pair per participant, with room for varints.
fn max_echo_len(participants: usize) -> usize {
    64 + 40 * participants
}

type Digest32 = [u8; 32];

fn digest(bytes: &[u8]) -> Digest32 {
    Sha256::digest(bytes).into()
}

/// The echo payload: per sender, the digest of its broadcast in the round, sorted by sender.
type EchoPayload = Vec<(PartyIndex, Digest32)>;

#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Debug)]
enum Kind {
    InnerBroadcast,
    InnerP2p,
    Echo,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    /// The inner round is collecting messages.
    Inner,
    /// Our echo is out; collecting the others'.
    Echo,
}

/// Where a message belongs relative to the current round.
enum Slot {
    Current,
    Future,
    Past,
}

struct Buffered {
    from: PartyIndex,
    digest: Digest32,
    bytes: Vec<u8>,
}

/// A [`StateMachine`] wrapper that adds an echo round after every round of `S`, so that a
/// sender that equivocates on a broadcast is caught (`[E.1]`) before anyone proceeds.
pub struct Echo<S: StateMachine> {
    inner: S,
    st: State,
}

/// Everything but the inner machine, so that `proceed` can move the inner machine out.
struct State {
    sid: SessionId,
    /// Echo round, `0..`: one per inner round.
    step: u16,
    phase: Phase,
    out: Vec<Outgoing>,
    /// Header round of the inner round being collected, once known.
    current: Option<u16>,
    /// Header round of the latest finished inner round whose number we learned.
    last: Option<u16>,
    /// This round's broadcast digests by sender (ours included): the view we echo.
    view: BTreeMap<PartyIndex, Digest32>,
    echoes: Inbox<EchoPayload>,
    /// Digests of messages received, by kind, round (header round or echo round) and sender, to
    /// tell a retransmission of a finished round's message from equivocation.
    seen: BTreeMap<(Kind, u16, PartyIndex), Vec<Digest32>>,
    buffer: Vec<Buffered>,
    blames: Vec<Blame>,
}

impl<S: StateMachine> std::fmt::Debug for Echo<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Echo(party {}, echo round {}, {:?} phase, {} buffered, {} blames)",
            self.inner.me(),
            self.st.step,
            self.st.phase,
            self.st.buffer.len(),
            self.st.blames.len()
        )
    }
}

/// Our own messages for one inner round: their round number and our broadcast's digest.
fn own_round(
    out: &[Outgoing],
    me: PartyIndex,
) -> Result<(Option<u16>, Option<Digest32>), ProtocolError> {
    let mut round = None;
    let mut bcast = None;
    for m in out {
        let h = wire::peek_header(&m.bytes, usize::MAX)
            .map_err(|e| ProtocolError::Bug(format!("own message does not decode: {e}")))?;
        if h.protocol == ProtocolId::Echo || h.from != me || h.delivery != m.delivery {
            return Err(ProtocolError::Bug(
                "own message has an echo, foreign or inconsistent header".into(),
            ));
        }
        if round.is_some_and(|r| r != h.round) {
            return Err(ProtocolError::Bug(
                "own messages of one round carry different round numbers".into(),
            ));
        }
        round = Some(h.round);
        if m.delivery == Delivery::Broadcast {
            if bcast.is_some() {
                return Err(ProtocolError::Bug(
                    "more than one broadcast in a round cannot be echoed".into(),
                ));
            }
            bcast = Some(digest(&m.bytes));
        }
    }
    Ok((round, bcast))
}

impl<S: StateMachine> Echo<S> {
    /// Wraps `inner`, which has not sent anything yet. `sid` is the session id the echoes are
    /// bound to (the same for every participant).
    pub fn new(mut inner: S, sid: SessionId) -> Result<Self, ProtocolError> {
        let out = inner.take_outgoing();
        let me = inner.me();
        let (current, own) = own_round(&out, me)?;
        let echoes = Inbox::new(inner.participants().iter().copied().filter(|&p| p != me));
        Ok(Self {
            inner,
            st: State {
                sid,
                step: 0,
                phase: Phase::Inner,
                out,
                current,
                last: None,
                view: own.map(|d| (me, d)).into_iter().collect(),
                echoes,
                seen: BTreeMap::new(),
                buffer: Vec::new(),
                blames: Vec::new(),
            },
        })
    }

    /// The wrapped machine (e.g. to inspect its round).
    pub fn inner(&self) -> &S {
        &self.inner
    }

    fn echo_header(&self, round: u16) -> Header {
        Header {
            version: WIRE_VERSION,
            protocol: ProtocolId::Echo,
            sid: self.st.sid,
            round,
            from: self.inner.me(),
            delivery: Delivery::Broadcast,
        }
    }

    fn is_participant(&self, p: PartyIndex) -> bool {
        p != self.inner.me() && self.inner.participants().contains(&p)
    }

    fn record(&mut self, b: Blame) -> Blame {
        self.st.blames.push(b.clone());
        b
    }

    fn stranger(from: PartyIndex) -> Blame {
        // Not recorded: a stranger cannot make a round abort.
        Blame::new(
            from,
            UNEXPECTED_SENDER,
            "message from a party that is not a participant",
        )
    }

    /// A message for a finished round: ignored if byte-identical to one received then.
    fn past(&mut self, kind: Kind, round: u16, from: PartyIndex, d: Digest32) -> Blame {
        if !self.is_participant(from) {
            return Self::stranger(from);
        }
        match self.st.seen.get(&(kind, round, from)) {
            Some(ds) if ds.contains(&d) => Blame::new(from, DUPLICATE, "duplicate message ignored"),
            Some(_) => self.record(Blame::new(
                from,
                EQUIVOCATION,
                format!("sent a different message for finished round {round}"),
            )),
            None => self.record(Blame::new(
                from,
                E2,
                format!("message for finished round {round}, in which it sent no such message"),
            )),
        }
    }

    fn remember(&mut self, kind: Kind, round: u16, from: PartyIndex, d: Digest32) {
        let ds = self.st.seen.entry((kind, round, from)).or_default();
        if !ds.contains(&d) {
            ds.push(d);
        }
    }

    fn hold(&mut self, from: PartyIndex, bytes: &[u8], d: Digest32) -> Result<(), Blame> {
        if !self.is_participant(from) {
            return Err(Self::stranger(from));
        }
        let mine = self.st.buffer.iter().filter(|b| b.from == from);
        if mine.clone().any(|b| b.digest == d) {
            return Err(Blame::new(from, DUPLICATE, "duplicate message ignored"));
        }
        if mine.count() >= MAX_BUFFERED_PER_SENDER {
            return Err(self.record(Blame::new(
                from,
                E2,
                "more messages for later rounds than an honest party sends",
            )));
        }
        if bytes.len() > MAX_BUFFERED_LEN {
            return Err(self.record(Blame::new(
                from,
                E2,
                format!(
                    "{} bytes is too large to keep for a later round",
                    bytes.len()
                ),
            )));
        }
        self.st.buffer.push(Buffered {
            from,
            digest: d,
            bytes: bytes.to_vec(),
        });
        Ok(())
    }

    fn receive_echo(&mut self, from: PartyIndex, bytes: &[u8], h: &Header) -> Result<(), Blame> {
        if !self.is_participant(from) {
            return Err(Self::stranger(from));
        }
        let d = digest(bytes);
        let step = self.st.step;
        if h.round < step {
            return Err(self.past(Kind::Echo, h.round, from, d));
        }
        if step.checked_add(1) == Some(h.round) {
            return self.hold(from, bytes, d);
        }
        if h.round > step {
            return Err(self.record(Blame::new(
                from,
                E2,
                format!("echo for round {} while at echo round {step}", h.round),
            )));
        }
        let expect = Expect {
            protocol: ProtocolId::Echo,
            sid: self.st.sid,
            round: step,
            delivery: Delivery::Broadcast,
            max_len: max_echo_len(self.inner.participants().len()),
        };
        let participants = self.inner.participants();
        let res = self.st.echoes.accept(from, bytes, || {
            let entries: EchoPayload = wire::decode(bytes, from, &expect)
                .map_err(|e| Blame::new(from, E0, format!("echo: {e}")))?;
            let increasing = entries.windows(2).all(|w| match w {
                [a, b] => a.0 < b.0,
                _ => true,
            });
            if !increasing {
                return Err(Blame::new(
                    from,
                    E0,
                    "echo entries are not in strictly increasing sender order",
                ));
            }
            if let Some((p, _)) = entries.iter().find(|(p, _)| !participants.contains(p)) {
                return Err(Blame::new(
                    from,
                    E0,
                    format!("echo names {p}, who is not a participant"),
                ));
            }
            Ok(entries)
        });
        if !matches!(&res, Err(b) if b.check == DUPLICATE) {
            self.remember(Kind::Echo, step, from, d);
        }
        res
    }

    fn receive_inner(&mut self, from: PartyIndex, bytes: &[u8], h: &Header) -> Result<(), Blame> {
        let d = digest(bytes);
        let kind = match h.delivery {
            Delivery::Broadcast => Kind::InnerBroadcast,
            Delivery::P2p { .. } => Kind::InnerP2p,
        };
        let slot = match (self.st.current, self.st.last) {
            (Some(c), _) if h.round == c => Slot::Current,
            (Some(c), _) if h.round > c => Slot::Future,
            (Some(_), _) => Slot::Past,
            (None, Some(l)) if h.round <= l => Slot::Past,
            // We sent nothing this round: while collecting, anything newer is for this round
            // (no honest party is a round ahead before our echo is out); afterwards it is not.
            (None, _) if self.st.phase == Phase::Inner => Slot::Current,
            (None, _) => Slot::Future,
        };
        match slot {
            Slot::Past => Err(self.past(kind, h.round, from, d)),
            Slot::Future => self.hold(from, bytes, d),
            Slot::Current => {
                if self.is_participant(from) {
                    if kind == Kind::InnerBroadcast && self.st.phase == Phase::Inner {
                        // The view we echo is the first broadcast the inner inbox saw; once our
                        // echo is out it no longer changes (the inner inbox judges later copies).
                        self.st.view.entry(from).or_insert(d);
                    }
                    self.remember(kind, h.round, from, d);
                }
                let res = self.inner.receive(from, bytes);
                if res.is_ok() && self.st.current.is_none() {
                    self.st.current = Some(h.round);
                }
                res
            }
        }
    }

    /// Builds our echo and moves to the echo phase.
    fn send_echo(&mut self) {
        let entries: EchoPayload = self.st.view.iter().map(|(p, d)| (*p, *d)).collect();
        let header = self.echo_header(self.st.step);
        self.st.out.push(wire::encode(&header, &entries));
        self.st.phase = Phase::Echo;
    }

    /// Every disagreement between the echoes and our view, one blame per accused sender.
    fn compare(&self) -> Vec<Blame> {
        let mut accused: BTreeMap<PartyIndex, Vec<PartyIndex>> = BTreeMap::new();
        for (echoer, entries) in self.st.echoes.iter() {
            let theirs: BTreeMap<PartyIndex, Digest32> = entries.iter().copied().collect();
            let senders = theirs.keys().chain(self.st.view.keys());
            for k in senders {
                if theirs.get(k) != self.st.view.get(k) {
                    let v = accused.entry(*k).or_default();
                    if !v.contains(&echoer) {
                        v.push(echoer);
                    }
                }
            }
        }
        accused
            .into_iter()
            .map(|(k, echoers)| {
                Blame::new(
                    k,
                    E1,
                    format!(
                        "broadcast differs between us and the echoes of {}",
                        echoers
                            .iter()
                            .map(|p| p.to_string())
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                )
            })
            .collect()
    }

    /// Starts the next inner round (`self.inner` is already the next round) and replays what
    /// was buffered for it.
    fn next_round(mut self) -> Result<Self, ProtocolError> {
        let out = self.inner.take_outgoing();
        let me = self.inner.me();
        let (current, own) = own_round(&out, me)?;
        self.st.step = self
            .st
            .step
            .checked_add(1)
            .ok_or_else(|| ProtocolError::Bug("echo round counter overflow".into()))?;
        self.st.last = self.st.current.or(self.st.last);
        self.st.current = current;
        self.st.echoes = Inbox::new(
            self.inner
                .participants()
                .iter()
                .copied()
                .filter(|&p| p != me),
        );
        self.st.view = own.map(|d| (me, d)).into_iter().collect();
        self.st.phase = Phase::Inner;
        self.st.out = out;
        for b in std::mem::take(&mut self.st.buffer) {
            // Blames are kept where they arise (the inner round or `blames`); the remaining
            // errors are ignored duplicates.
            let _ = self.receive(b.from, &b.bytes);
        }
        Ok(self)
    }
}

impl<S: StateMachine> StateMachine for Echo<S> {
    type Output = S::Output;

    fn me(&self) -> PartyIndex {
        self.inner.me()
    }

    fn participants(&self) -> &[PartyIndex] {
        self.inner.participants()
    }

    fn take_outgoing(&mut self) -> Vec<Outgoing> {
        std::mem::take(&mut self.st.out)
    }

    fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        match wire::peek_header(bytes, usize::MAX) {
            Ok(h) if h.protocol == ProtocolId::Echo => self.receive_echo(from, bytes, &h),
            Ok(h) => self.receive_inner(from, bytes, &h),
            Err(_) => {
                // Not routable: it may have been an inner message or an echo. The inner round
                // (while collecting) or the echo round settles the sender's slot and blames it.
                if self.st.phase == Phase::Inner {
                    let res = self.inner.receive(from, bytes);
                    if let Err(b) = &res {
                        self.st.echoes.reject(from, bytes, b.clone());
                    }
                    res
                } else {
                    let expect = Expect {
                        protocol: ProtocolId::Echo,
                        sid: self.st.sid,
                        round: self.st.step,
                        delivery: Delivery::Broadcast,
                        max_len: max_echo_len(self.inner.participants().len()),
                    };
                    self.st.echoes.accept(from, bytes, || {
                        wire::decode::<EchoPayload>(bytes, from, &expect)
                            .map_err(|e| Blame::new(from, E0, format!("echo: {e}")))
                    })
                }
            }
        }
    }

    fn ready(&self) -> bool {
        match self.st.phase {
            Phase::Inner => self.inner.ready(),
            Phase::Echo => self.st.echoes.ready(),
        }
    }

    fn proceed(
        mut self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Transition<Self, Self::Output>, ProtocolError> {
        match self.st.phase {
            Phase::Inner => {
                if !self.st.blames.is_empty() {
                    return Err(ProtocolError::Aborted(self.st.blames));
                }
                self.send_echo();
                Ok(Transition::Continue(self))
            }
            Phase::Echo => {
                let mut blames = std::mem::take(&mut self.st.blames);
                blames.extend(self.st.echoes.take_blames());
                blames.extend(self.compare());
                if !blames.is_empty() {
                    return Err(ProtocolError::Aborted(blames));
                }
                let Echo { inner, st } = self;
                match inner.proceed(rng)? {
                    Transition::Done(o) => Ok(Transition::Done(o)),
                    Transition::Continue(inner) => {
                        Echo { inner, st }.next_round().map(Transition::Continue)
                    }
                }
            }
        }
    }
}

#[cfg(test)]
#[allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]
mod tests {
    use super::*;
    use crate::inbox::Inbox;

    /// A tiny protocol: in each round every party broadcasts `10·me + round` and sends the same
    /// value to each other party point to point; some parties stay silent in some rounds (as
    /// resharing dealers do). The output is every broadcast seen, so split views show.
    struct Dummy {
        me: PartyIndex,
        parties: Vec<PartyIndex>,
        sid: SessionId,
        /// Header round numbers, not consecutive on purpose.
        rounds: Vec<u16>,
        /// `(round index, party)` pairs that send nothing.
        silent: Vec<(usize, PartyIndex)>,
        at: usize,
        out: Vec<Outgoing>,
        bcast: Inbox<u64>,
        p2p: Inbox<u64>,
        seen: Vec<(u16, PartyIndex, u64)>,
    }

    impl std::fmt::Debug for Dummy {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            write!(f, "Dummy({}, round {})", self.me, self.at)
        }
    }

    fn value(p: PartyIndex, round: u16) -> u64 {
        10 * u64::from(p.0) + u64::from(round)
    }

    impl Dummy {
        fn new(me: u16, n: u16, rounds: &[u16], silent: &[(usize, u16)]) -> Self {
            let mut d = Dummy {
                me: PartyIndex(me),
                parties: (0..n).map(PartyIndex).collect(),
                sid: SessionId([3; 32]),
                rounds: rounds.to_vec(),
                silent: silent.iter().map(|&(r, p)| (r, PartyIndex(p))).collect(),
                at: 0,
                out: Vec::new(),
                bcast: Inbox::new([]),
                p2p: Inbox::new([]),
                seen: Vec::new(),
            };
            d.start();
            d
        }

        fn round(&self) -> u16 {
            self.rounds[self.at]
        }

        fn speaks(&self, p: PartyIndex) -> bool {
            !self.silent.contains(&(self.at, p))
        }

        fn header(&self, delivery: Delivery) -> Header {
            Header {
                version: WIRE_VERSION,
                protocol: ProtocolId::Keygen,
                sid: self.sid,
                round: self.round(),
                from: self.me,
                delivery,
            }
        }

        fn start(&mut self) {
            let senders: Vec<PartyIndex> = self
                .parties
                .iter()
                .copied()
                .filter(|&p| p != self.me && self.speaks(p))
                .collect();
            self.bcast = Inbox::new(senders.clone());
            self.p2p = Inbox::new(senders);
            if self.speaks(self.me) {
                let v = value(self.me, self.round());
                self.out
                    .push(wire::encode(&self.header(Delivery::Broadcast), &v));
                for &p in &self.parties {
                    if p != self.me {
                        self.out
                            .push(wire::encode(&self.header(Delivery::P2p { to: p }), &v));
                    }
                }
                self.seen.push((self.round(), self.me, v));
            }
        }
    }

    const TAG: CheckTag = CheckTag("[D.1]");

    impl StateMachine for Dummy {
        type Output = Vec<(u16, PartyIndex, u64)>;

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
            let delivery = match wire::peek_header(bytes, 1024) {
                Ok(h) => h.delivery,
                Err(e) => {
                    let b = Blame::new(from, TAG, e.to_string());
                    self.bcast.reject(from, bytes, b.clone());
                    self.p2p.reject(from, bytes, b.clone());
                    return Err(b);
                }
            };
            let expect = Expect {
                protocol: ProtocolId::Keygen,
                sid: self.sid,
                round: self.round(),
                delivery: match delivery {
                    Delivery::Broadcast => Delivery::Broadcast,
                    Delivery::P2p { .. } => Delivery::P2p { to: self.me },
                },
                max_len: 1024,
            };
            let check = || {
                wire::decode::<u64>(bytes, from, &expect)
                    .map_err(|e| Blame::new(from, TAG, e.to_string()))
            };
            match delivery {
                Delivery::Broadcast => self.bcast.accept(from, bytes, check),
                Delivery::P2p { .. } => self.p2p.accept(from, bytes, check),
            }
        }

        fn ready(&self) -> bool {
            self.bcast.ready() && self.p2p.ready()
        }

        fn proceed(
            mut self,
            _rng: &mut impl rand_core::CryptoRngCore,
        ) -> Result<Transition<Self, Self::Output>, ProtocolError> {
            let mut blames = self.bcast.take_blames();
            blames.extend(self.p2p.take_blames());
            if !blames.is_empty() {
                return Err(ProtocolError::Aborted(blames));
            }
            let r = self.round();
            for (p, v) in self.bcast.iter() {
                self.seen.push((r, p, *v));
            }
            self.seen.sort();
            self.at += 1;
            if self.at == self.rounds.len() {
                return Ok(Transition::Done(self.seen));
            }
            self.start();
            Ok(Transition::Continue(self))
        }
    }

    /// SplitMix64: enough for scheduling, and the dummy ignores its rng.
    struct TestRng(u64);

    impl rand_core::RngCore for TestRng {
        fn next_u32(&mut self) -> u32 {
            (self.next_u64() >> 32) as u32
        }
        fn next_u64(&mut self) -> u64 {
            self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = self.0;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            z ^ (z >> 31)
        }
        fn fill_bytes(&mut self, dest: &mut [u8]) {
            for b in dest {
                *b = self.next_u64() as u8;
            }
        }
        fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
            self.fill_bytes(dest);
            Ok(())
        }
    }
    impl rand_core::CryptoRng for TestRng {}

    type Out = Vec<(u16, PartyIndex, u64)>;
    type Msg = (PartyIndex, PartyIndex, Vec<u8>);

    struct Run<O> {
        results: Vec<Option<Result<O, ProtocolError>>>,
        receive_errors: Vec<(PartyIndex, Blame)>,
        rounds: Vec<usize>,
    }

    fn expand(from: PartyIndex, parties: &[PartyIndex], out: Vec<Outgoing>) -> Vec<Msg> {
        let mut v = Vec::new();
        for m in out {
            match m.delivery {
                Delivery::Broadcast => {
                    for &p in parties {
                        if p != from {
                            v.push((from, p, m.bytes.clone()));
                        }
                    }
                }
                Delivery::P2p { to } => v.push((from, to, m.bytes)),
            }
        }
        v
    }

    /// An asynchronous network: messages in flight are delivered in a random order chosen by
    /// `seed` (first in, first out for `None`); `tamper` sees each message once when it is sent and returns what is delivered
    /// (nothing, the message, copies, altered copies). A party proceeds as soon as it is ready.
    fn run_async<S: StateMachine>(
        parties: Vec<S>,
        seed: Option<u64>,
        mut tamper: impl FnMut(&Msg) -> Vec<Msg>,
    ) -> Run<S::Output> {
        let mut rng = TestRng(seed.unwrap_or(0));
        let all: Vec<PartyIndex> = parties.iter().map(|p| p.me()).collect();
        let mut pool: Vec<Msg> = Vec::new();
        let mut slots: Vec<Option<S>> = Vec::new();
        for mut p in parties {
            for m in expand(p.me(), &all, p.take_outgoing()) {
                pool.extend(tamper(&m));
            }
            slots.push(Some(p));
        }
        let mut run = Run {
            results: slots.iter().map(|_| None).collect(),
            receive_errors: Vec::new(),
            rounds: slots.iter().map(|_| 0).collect(),
        };
        while !pool.is_empty() {
            let (from, to, bytes) = match seed {
                Some(_) => {
                    let i = (rand_core::RngCore::next_u64(&mut rng) % pool.len() as u64) as usize;
                    pool.swap_remove(i)
                }
                None => pool.remove(0),
            };
            let t = to.as_usize();
            let Some(mut p) = slots[t].take() else {
                continue;
            };
            if let Err(b) = p.receive(from, &bytes) {
                run.receive_errors.push((to, b));
            }
            let mut p = Some(p);
            while let Some(q) = p.take() {
                if !q.ready() {
                    p = Some(q);
                    break;
                }
                run.rounds[t] += 1;
                match q.proceed(&mut rng) {
                    Ok(Transition::Continue(mut next)) => {
                        for m in expand(to, &all, next.take_outgoing()) {
                            pool.extend(tamper(&m));
                        }
                        p = Some(next);
                    }
                    Ok(Transition::Done(o)) => run.results[t] = Some(Ok(o)),
                    Err(e) => run.results[t] = Some(Err(e)),
                }
            }
            slots[t] = p;
        }
        run
    }

    const ROUNDS: &[u16] = &[1, 2, 50];
    /// Party 3 is silent in the second round, party 0 in the third.
    const SILENT: &[(usize, u16)] = &[(1, 3), (2, 0)];

    fn dummies(n: u16) -> Vec<Dummy> {
        (0..n).map(|i| Dummy::new(i, n, ROUNDS, SILENT)).collect()
    }

    fn wrapped(n: u16) -> Vec<Echo<Dummy>> {
        dummies(n)
            .into_iter()
            .map(|d| Echo::new(d, SessionId([9; 32])).unwrap())
            .collect()
    }

    fn assert_all_done_and_agree(run: &Run<Out>) {
        let first = run.results[0].as_ref().unwrap().as_ref().unwrap();
        for r in &run.results {
            assert_eq!(r.as_ref().unwrap().as_ref().unwrap(), first);
        }
    }

    fn assert_honest_abort(run: &Run<Out>, honest: &[usize], culprit: PartyIndex, tag: CheckTag) {
        for &i in honest {
            match &run.results[i] {
                Some(Err(e)) => {
                    assert_eq!(e.culprits(), vec![culprit], "party {i}: {e}");
                    assert!(e.blames().iter().all(|b| b.check == tag), "party {i}: {e}");
                }
                other => panic!("party {i}: expected an abort, got {other:?}"),
            }
        }
    }

    #[test]
    fn honest_run_in_any_order_completes() {
        for seed in 0..40 {
            let run = run_async(wrapped(4), Some(seed), |m| vec![m.clone()]);
            assert_all_done_and_agree(&run);
            assert!(run.receive_errors.is_empty(), "{:?}", run.receive_errors);
            // Each inner round is followed by its echo round.
            assert!(run.rounds.iter().all(|&r| r == 2 * ROUNDS.len()));
        }
    }

    #[test]
    fn unwrapped_dummy_needs_ordered_delivery() {
        // The reason for the buffer: without it, a fast party's next-round message reaching a
        // slow party is blamed as a wrong-round message (some seed shows it).
        let blamed = (0..40).any(|seed| {
            let run = run_async(dummies(4), Some(seed), |m| vec![m.clone()]);
            !run.receive_errors.is_empty()
        });
        assert!(blamed);
    }

    #[test]
    fn duplicates_are_ignored_in_any_round() {
        for seed in 0..20 {
            let run = run_async(wrapped(4), Some(seed), |m| vec![m.clone(), m.clone()]);
            assert_all_done_and_agree(&run);
            assert!(run.receive_errors.iter().all(|(_, b)| b.check == DUPLICATE));
        }
    }

    /// Replaces party 0's broadcast of `round` to party 1 with another well-formed value.
    fn equivocate(m: &Msg, round: u16) -> Vec<Msg> {
        let (from, to, bytes) = m;
        let h = wire::peek_header(bytes, 1024).unwrap();
        if *from == PartyIndex(0)
            && *to == PartyIndex(1)
            && h.protocol == ProtocolId::Keygen
            && h.round == round
            && h.delivery == Delivery::Broadcast
        {
            let other = wire::encode(&h, &999u64);
            return vec![(*from, *to, other.bytes)];
        }
        vec![m.clone()]
    }

    #[test]
    fn e1_equivocated_broadcast_blames_the_sender() {
        for seed in 0..10 {
            let run = run_async(wrapped(4), Some(seed), |m| equivocate(m, 2));
            assert_honest_abort(&run, &[1, 2, 3], PartyIndex(0), E1);
            assert!(run.receive_errors.is_empty(), "{:?}", run.receive_errors);
        }
        // Without the echo, party 1 finishes with a view the others do not share.
        let run = run_async(dummies(4), None, |m| equivocate(m, 1));
        let one = run.results[1].as_ref().unwrap().as_ref().unwrap();
        let two = run.results[2].as_ref().unwrap().as_ref().unwrap();
        assert_ne!(one, two);
    }

    /// Replaces an echo's bytes, given the original and its echo round.
    type Alter = Box<dyn Fn(&[u8], u16) -> Vec<u8>>;

    #[test]
    fn e0_malformed_echo_blames_the_echoer() {
        let echo_bytes = |entries: &EchoPayload, round: u16| {
            let h = Header {
                version: WIRE_VERSION,
                protocol: ProtocolId::Echo,
                sid: SessionId([9; 32]),
                round,
                from: PartyIndex(2),
                delivery: Delivery::Broadcast,
            };
            wire::encode(&h, entries).bytes
        };
        let cases: Vec<(&str, Alter)> = vec![
            (
                "unsorted",
                Box::new(move |_, r| {
                    echo_bytes(&vec![(PartyIndex(1), [0; 32]), (PartyIndex(0), [0; 32])], r)
                }),
            ),
            (
                "stranger",
                Box::new(move |_, r| echo_bytes(&vec![(PartyIndex(7), [0; 32])], r)),
            ),
            (
                "trailing",
                Box::new(|b, _| {
                    let mut b = b.to_vec();
                    b.push(0);
                    b
                }),
            ),
            ("garbage", Box::new(|_, _| vec![0xff; 40])),
        ];
        for (name, alter) in cases {
            let run = run_async(wrapped(4), Some(1), |m| {
                let (from, to, bytes) = m;
                let h = wire::peek_header(bytes, 1024).unwrap();
                if *from == PartyIndex(2)
                    && *to == PartyIndex(1)
                    && h.protocol == ProtocolId::Echo
                    && h.round == 1
                {
                    return vec![(*from, *to, alter(bytes, h.round))];
                }
                vec![m.clone()]
            });
            assert_honest_abort(&run, &[1], PartyIndex(2), E0);
            let (to, b) = &run.receive_errors[0];
            assert_eq!(
                (*to, b.party, b.check),
                (PartyIndex(1), PartyIndex(2), E0),
                "{name}"
            );
        }
    }

    fn inner_msg(from: u16, round: u16, value: u64) -> Vec<u8> {
        let h = Header {
            version: WIRE_VERSION,
            protocol: ProtocolId::Keygen,
            sid: SessionId([3; 32]),
            round,
            from: PartyIndex(from),
            delivery: Delivery::Broadcast,
        };
        wire::encode(&h, &value).bytes
    }

    /// Party 0 of 3, with its first inner round complete and its echo sent.
    fn party_in_echo_phase() -> Echo<Dummy> {
        let mut p = Echo::new(Dummy::new(0, 3, ROUNDS, &[]), SessionId([9; 32])).unwrap();
        for from in [1u16, 2] {
            p.receive(
                PartyIndex(from),
                &inner_msg(from, 1, value(PartyIndex(from), 1)),
            )
            .unwrap();
            let h = Header {
                version: WIRE_VERSION,
                protocol: ProtocolId::Keygen,
                sid: SessionId([3; 32]),
                round: 1,
                from: PartyIndex(from),
                delivery: Delivery::P2p { to: PartyIndex(0) },
            };
            p.receive(
                PartyIndex(from),
                &wire::encode(&h, &value(PartyIndex(from), 1)).bytes,
            )
            .unwrap();
        }
        assert!(p.ready());
        match p.proceed(&mut TestRng(0)).unwrap() {
            Transition::Continue(p) => p,
            Transition::Done(_) => panic!("one round only"),
        }
    }

    #[test]
    fn e2_too_many_or_too_far_ahead_messages_blame_the_sender() {
        let mut p = party_in_echo_phase();
        // Party 1 is allowed a few distinct next-round messages, not more.
        for v in 0..MAX_BUFFERED_PER_SENDER as u64 {
            p.receive(PartyIndex(1), &inner_msg(1, 2, v)).unwrap();
        }
        let b = p.receive(PartyIndex(1), &inner_msg(1, 2, 77)).unwrap_err();
        assert_eq!((b.party, b.check), (PartyIndex(1), E2));
        // An echo two rounds ahead.
        let h = Header {
            version: WIRE_VERSION,
            protocol: ProtocolId::Echo,
            sid: SessionId([9; 32]),
            round: 2,
            from: PartyIndex(2),
            delivery: Delivery::Broadcast,
        };
        let far = wire::encode(&h, &EchoPayload::new()).bytes;
        let b = p.receive(PartyIndex(2), &far).unwrap_err();
        assert_eq!((b.party, b.check), (PartyIndex(2), E2));
        // A stranger cannot fill the buffer, and is not recorded.
        let b = p.receive(PartyIndex(9), &inner_msg(9, 2, 1)).unwrap_err();
        assert_eq!(b.check, UNEXPECTED_SENDER);
        // The round keeps the blames and aborts with all of them when it finishes.
        assert_eq!(p.st.blames.len(), 2);
        for from in [1u16, 2] {
            p.receive(PartyIndex(from), &round1_echo(from)).unwrap();
        }
        match p.proceed(&mut TestRng(0)) {
            Err(e) => {
                assert_eq!(e.culprits(), vec![PartyIndex(1), PartyIndex(2)]);
                assert!(e.blames().iter().all(|b| b.check == E2), "{e}");
            }
            Ok(_) => panic!("must abort"),
        }
    }

    /// An honest echo of the first round of [`party_in_echo_phase`].
    fn round1_echo(from: u16) -> Vec<u8> {
        let h = Header {
            version: WIRE_VERSION,
            protocol: ProtocolId::Echo,
            sid: SessionId([9; 32]),
            round: 0,
            from: PartyIndex(from),
            delivery: Delivery::Broadcast,
        };
        let view: EchoPayload = (0..3)
            .map(|q| {
                let b = inner_msg(q, 1, value(PartyIndex(q), 1));
                (PartyIndex(q), digest(&b))
            })
            .collect();
        wire::encode(&h, &view).bytes
    }

    #[test]
    fn finished_round_duplicate_is_ignored_and_a_different_message_is_equivocation() {
        let mut p = party_in_echo_phase();
        let dup = p
            .receive(PartyIndex(1), &inner_msg(1, 1, value(PartyIndex(1), 1)))
            .unwrap_err();
        assert_eq!(dup.check, DUPLICATE);
        assert!(p.st.blames.is_empty());
        // Still round 1 for the inner machine: its own inbox sees the equivocation.
        let eq = p.receive(PartyIndex(1), &inner_msg(1, 1, 5)).unwrap_err();
        assert_eq!(eq.check, EQUIVOCATION);
        // Once the inner round is finished, the wrapper's record decides.
        let mut p = party_in_echo_phase();
        for from in [1u16, 2] {
            p.receive(PartyIndex(from), &round1_echo(from)).unwrap();
        }
        let Transition::Continue(mut p) = p.proceed(&mut TestRng(0)).unwrap() else {
            panic!("three rounds")
        };
        let dup = p
            .receive(PartyIndex(2), &inner_msg(2, 1, value(PartyIndex(2), 1)))
            .unwrap_err();
        assert_eq!(dup.check, DUPLICATE);
        let eq = p.receive(PartyIndex(2), &inner_msg(2, 1, 6)).unwrap_err();
        assert_eq!((eq.party, eq.check), (PartyIndex(2), EQUIVOCATION));
        let b = p.receive(PartyIndex(2), &inner_msg(2, 1, 6)).unwrap_err();
        assert_eq!(b.check, EQUIVOCATION);
        match p.proceed(&mut TestRng(0)) {
            Err(e) => assert_eq!(e.culprits(), vec![PartyIndex(2)]),
            Ok(_) => panic!("must abort"),
        }
    }
}
