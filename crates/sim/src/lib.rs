#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::sync::{mpsc, Arc, Mutex};

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_core::wire::{Delivery, Outgoing};
use tessera_core::{PartyIndex, ProtocolError, SessionId, StateMachine, Transition};
use tessera_ecdsa::{KeyShare, Keygen, Presign, Presignature, Sign, SignRequest, Signature};
use tessera_zk::SecurityLevel;

pub mod fixtures;
#[cfg(feature = "malicious")]
pub mod misbehave;
pub mod reshare;

/// How one party's run ended.
#[derive(Debug)]
pub enum Outcome<O> {
    Done(O),
    Failed(ProtocolError),
    /// Waiting for messages that never came (a timeout in a real network).
    Stalled {
        waiting_for: Vec<PartyIndex>,
    },
}

impl<O> Outcome<O> {
    pub fn ok(self) -> Option<O> {
        match self {
            Outcome::Done(o) => Some(o),
            _ => None,
        }
    }

    pub fn error(&self) -> Option<&ProtocolError> {
        match self {
            Outcome::Failed(e) => Some(e),
            _ => None,
        }
    }
}

/// One delivery as the filter sees it.
#[derive(Debug, Clone)]
pub struct Delivered {
    pub from: PartyIndex,
    pub to: PartyIndex,
    pub delivery: Delivery,
    /// 0-based count of rounds completed so far by the sender.
    pub round: usize,
    pub bytes: Vec<u8>,
}

/// Sees every delivery and returns what is actually delivered (nothing, the message, a
/// modified message, several copies…). The identity filter is [`deliver_all`].
///
/// A filter may also hold messages back and [`release`](Filter::release) them in a later step,
/// after that step's own messages: a message overtaken by later rounds' messages. Once a filter
/// has held anything back, the simulation is asynchronous: a party that is not ready waits for
/// later deliveries, and parties are declared stalled only when nobody can make progress.
/// Otherwise it runs in lock step and a party that is not ready at the end of a step has stalled
/// (a timeout in a real network).
pub trait Filter {
    fn filter(&mut self, msg: Delivered) -> Vec<Delivered>;

    /// Messages held back by earlier calls, to deliver now. Called once per step, after the
    /// step's messages went through [`Filter::filter`]; they are delivered after those.
    fn release(&mut self) -> Vec<Delivered> {
        Vec::new()
    }

    /// Whether messages are still held back for a later step.
    fn holding(&self) -> bool {
        false
    }
}

impl<F: FnMut(Delivered) -> Vec<Delivered>> Filter for F {
    fn filter(&mut self, msg: Delivered) -> Vec<Delivered> {
        self(msg)
    }
}

/// Delivers everything unchanged.
pub fn deliver_all(m: Delivered) -> Vec<Delivered> {
    vec![m]
}

/// What the simulation observed besides the outcomes: every blame raised on receipt.
#[derive(Debug, Default)]
pub struct Observed {
    pub receive_errors: Vec<(PartyIndex, tessera_core::Blame)>,
    pub rounds: usize,
}

/// The root of every rng in a simulation. Tests use [`Seed::from_u64`] for reproducible runs;
/// `tessera demo` uses [`Seed::random`] (OS entropy).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Seed(pub [u8; 32]);

impl std::fmt::Debug for Seed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Seed(<redacted>)")
    }
}

impl Seed {
    pub fn from_u64(n: u64) -> Self {
        let mut s = [0u8; 32];
        s[..8].copy_from_slice(&n.to_le_bytes());
        Self(s)
    }

    pub fn random(rng: &mut impl rand_core::CryptoRngCore) -> Self {
        let mut s = [0u8; 32];
        rng.fill_bytes(&mut s);
        Self(s)
    }

    /// An independent rng for one purpose (`label`) and party.
    pub fn rng(&self, label: &[u8], party: u16) -> ChaCha20Rng {
        let mut t = tessera_core::Transcript::new(b"tessera.sim.seed.v1");
        t.append(b"seed", &self.0);
        t.append(b"label", label);
        t.append_u64(b"party", u64::from(party));
        ChaCha20Rng::from_seed(t.challenge_bytes32(b"rng"))
    }
}

/// Every party's outcome (by its [`StateMachine::me`]), in the order the parties were given.
pub type Outcomes<O> = Vec<(PartyIndex, Outcome<O>)>;

/// A party between steps of [`run`].
struct Slot<S: StateMachine> {
    me: PartyIndex,
    party: Option<S>,
    rng: ChaCha20Rng,
    /// Senders heard from since the party last proceeded.
    heard: Vec<PartyIndex>,
    outcome: Option<Outcome<S::Output>>,
}

/// One party's work in a step: its deliveries, in order, and then `proceed` if it is ready.
struct Job<S> {
    party: S,
    rng: ChaCha20Rng,
    heard: Vec<PartyIndex>,
    /// `(position in the step's queue, sender, bytes)`.
    deliveries: Vec<(usize, PartyIndex, Vec<u8>)>,
}

enum Step<S: StateMachine> {
    Continue(S),
    Waiting(S),
    Finished(Outcome<S::Output>),
}

struct Stepped<S: StateMachine> {
    step: Step<S>,
    rng: ChaCha20Rng,
    heard: Vec<PartyIndex>,
    /// `(position in the step's queue, blame)`.
    errors: Vec<(usize, tessera_core::Blame)>,
}

fn step<S: StateMachine>(job: Job<S>) -> Stepped<S> {
    let Job {
        mut party,
        mut rng,
        mut heard,
        deliveries,
    } = job;
    let mut errors = Vec::new();
    for (q, from, bytes) in deliveries {
        if !heard.contains(&from) {
            heard.push(from);
        }
        if let Err(b) = party.receive(from, &bytes) {
            errors.push((q, b));
        }
    }
    let step = if !party.ready() {
        Step::Waiting(party)
    } else {
        heard.clear();
        match party.proceed(&mut rng) {
            Ok(Transition::Continue(next)) => Step::Continue(next),
            Ok(Transition::Done(o)) => Step::Finished(Outcome::Done(o)),
            Err(e) => Step::Finished(Outcome::Failed(e)),
        }
    };
    Stepped {
        step,
        rng,
        heard,
        errors,
    }
}

/// Runs `f` on every job on up to `threads` threads and returns the results in job order.
/// Which thread runs which job does not matter: a job only touches its own data.
fn parallel_map<J: Send, R: Send>(
    jobs: Vec<J>,
    threads: usize,
    f: impl Fn(J) -> R + Sync,
) -> Vec<R> {
    let threads = threads.min(jobs.len());
    if threads <= 1 {
        return jobs.into_iter().map(f).collect();
    }
    let queue = Mutex::new(jobs.into_iter().enumerate());
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        for _ in 0..threads {
            let tx = tx.clone();
            let (queue, f) = (&queue, &f);
            scope.spawn(move || loop {
                // A poisoned lock means another worker panicked; the scope re-raises that.
                let next = queue.lock().ok().and_then(|mut q| q.next());
                let Some((i, job)) = next else { break };
                if tx.send((i, f(job))).is_err() {
                    break;
                }
            });
        }
    });
    drop(tx);
    let mut out: Vec<(usize, R)> = rx.into_iter().collect();
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

/// The parties `p` has heard nothing from in its current round (all others if it heard from
/// everyone: then it is missing a second message from someone, and the simulation cannot tell
/// whom).
fn silent(p: &impl StateMachine, heard: &[PartyIndex]) -> Vec<PartyIndex> {
    let me = p.me();
    let others = p.participants().iter().copied().filter(|&q| q != me);
    let silent: Vec<PartyIndex> = others.clone().filter(|q| !heard.contains(q)).collect();
    if silent.is_empty() {
        others.collect()
    } else {
        silent
    }
}

/// Consecutive steps without progress or deliveries after which a filter that keeps holding
/// messages back is taken to hold them forever.
const MAX_IDLE_STEPS: usize = 64;

/// Runs `parties` to completion. Each party gets its own rng derived from `seed` and its index.
///
/// In each step every active party's outgoing messages go through `filter` (sequentially, in
/// party order); then every party receives its deliveries, in that order, and proceeds if it is
/// ready — the parties in parallel, on [`default_threads`] threads. A party only touches its own
/// state, rng and deliveries, so the result for a given seed does not depend on the number of
/// threads or on scheduling.
pub fn run<S>(
    parties: Vec<S>,
    seed: Seed,
    filter: &mut impl Filter,
) -> (Outcomes<S::Output>, Observed)
where
    S: StateMachine + Send,
    S::Output: Send,
{
    run_with_threads(parties, seed, filter, default_threads())
}

/// The number of threads [`run`] uses: `TESSERA_SIM_THREADS` if set to a positive number (e.g.
/// `1` for benchmarks that report per-party figures), otherwise
/// [`std::thread::available_parallelism`].
pub fn default_threads() -> usize {
    std::env::var("TESSERA_SIM_THREADS")
        .ok()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0)
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()))
}

/// [`run`] on `threads` threads (`1`: everything on the calling thread).
pub fn run_with_threads<S>(
    parties: Vec<S>,
    seed: Seed,
    filter: &mut impl Filter,
    threads: usize,
) -> (Outcomes<S::Output>, Observed)
where
    S: StateMachine + Send,
    S::Output: Send,
{
    let mut slots: Vec<Slot<S>> = parties
        .into_iter()
        .map(|p| Slot {
            me: p.me(),
            rng: seed.rng(b"run", p.me().0),
            party: Some(p),
            heard: Vec::new(),
            outcome: None,
        })
        .collect();
    let mut round = 0usize;
    let mut observed = Observed::default();
    let mut asynchronous = false;
    let mut idle = 0usize;
    loop {
        // Collect this round's messages from every active party.
        let mut queue: Vec<Delivered> = Vec::new();
        for p in slots.iter_mut().filter_map(|s| s.party.as_mut()) {
            let me = p.me();
            let participants = p.participants().to_vec();
            for Outgoing { delivery, bytes } in p.take_outgoing() {
                let targets: Vec<PartyIndex> = match delivery {
                    Delivery::Broadcast => {
                        participants.iter().copied().filter(|&q| q != me).collect()
                    }
                    Delivery::P2p { to } => vec![to],
                };
                for to in targets {
                    queue.extend(filter.filter(Delivered {
                        from: me,
                        to,
                        delivery,
                        round,
                        bytes: bytes.clone(),
                    }));
                }
            }
        }
        let released = filter.release();
        asynchronous |= !released.is_empty() || filter.holding();
        queue.extend(released);
        let delivered = !queue.is_empty();

        // Route each delivery to its recipient, keeping the queue order per recipient.
        let mut deliveries: Vec<Vec<(usize, PartyIndex, Vec<u8>)>> =
            slots.iter().map(|_| Vec::new()).collect();
        for (q, m) in queue.into_iter().enumerate() {
            let to = slots.iter().position(|s| s.party.is_some() && s.me == m.to);
            if let Some(d) = to.and_then(|i| deliveries.get_mut(i)) {
                d.push((q, m.from, m.bytes));
            }
        }

        // Every active party receives and, if ready, proceeds.
        let mut jobs = Vec::new();
        let mut owners = Vec::new();
        for (i, (slot, deliveries)) in slots.iter_mut().zip(deliveries).enumerate() {
            if let Some(party) = slot.party.take() {
                owners.push(i);
                jobs.push(Job {
                    party,
                    rng: slot.rng.clone(),
                    heard: std::mem::take(&mut slot.heard),
                    deliveries,
                });
            }
        }
        let results = parallel_map(jobs, threads, step);

        let mut progressed = false;
        let mut errors = Vec::new();
        for (i, r) in owners.into_iter().zip(results) {
            let Some(slot) = slots.get_mut(i) else {
                continue;
            };
            slot.rng = r.rng;
            slot.heard = r.heard;
            errors.extend(r.errors.into_iter().map(|(q, b)| (q, slot.me, b)));
            match r.step {
                Step::Continue(next) => {
                    slot.party = Some(next);
                    progressed = true;
                }
                Step::Finished(o) => slot.outcome = Some(o),
                Step::Waiting(p) if asynchronous => slot.party = Some(p),
                Step::Waiting(p) => {
                    slot.outcome = Some(Outcome::Stalled {
                        waiting_for: silent(&p, &slot.heard),
                    })
                }
            }
        }
        errors.sort_by_key(|(q, _, _)| *q);
        observed
            .receive_errors
            .extend(errors.into_iter().map(|(_, to, b)| (to, b)));
        round += 1;
        idle = if progressed || delivered { 0 } else { idle + 1 };
        let may_release = asynchronous && filter.holding() && idle < MAX_IDLE_STEPS;
        if !progressed && !may_release {
            break;
        }
    }
    observed.rounds = round;
    let outcomes = slots
        .into_iter()
        .map(|s| {
            let outcome = match (s.outcome, s.party) {
                (Some(o), _) => o,
                (None, Some(p)) => Outcome::Stalled {
                    waiting_for: silent(&p, &s.heard),
                },
                (None, None) => Outcome::Stalled {
                    waiting_for: Vec::new(),
                },
            };
            (s.me, outcome)
        })
        .collect();
    (outcomes, observed)
}

/// Errors of the whole-flow helpers.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    #[error("party {0}: {1}")]
    Protocol(PartyIndex, ProtocolError),
    #[error("party {0} stalled waiting for {1:?}")]
    Stalled(PartyIndex, Vec<PartyIndex>),
    #[error("invalid setup: {0}")]
    Setup(String),
    #[error("parties disagree: {0}")]
    Disagreement(&'static str),
}

fn collect<O>(
    outcomes: Vec<(PartyIndex, Outcome<O>)>,
    who: &[PartyIndex],
) -> Result<Vec<O>, SimError> {
    let mut out = Vec::new();
    for (i, (_, o)) in outcomes.into_iter().enumerate() {
        let p = who.get(i).copied().unwrap_or(PartyIndex(u16::MAX));
        match o {
            Outcome::Done(v) => out.push(v),
            Outcome::Failed(e) => return Err(SimError::Protocol(p, e)),
            Outcome::Stalled { waiting_for } => return Err(SimError::Stalled(p, waiting_for)),
        }
    }
    Ok(out)
}

/// Key generation among `n` parties for `threshold`-of-`n`, with the given Paillier keys
/// (one per party, by index).
pub fn keygen(
    n: u16,
    threshold: u16,
    paillier: Vec<tessera_paillier::SecretKey>,
    seed: Seed,
) -> Result<Vec<KeyShare>, SimError> {
    if paillier.len() != usize::from(n) {
        return Err(SimError::Setup(format!(
            "{} Paillier keys for {n} parties",
            paillier.len()
        )));
    }
    let mut rng = seed.rng(b"keygen.setup", 0);
    let sid = SessionId::random(&mut rng);
    let mut parties = Vec::new();
    for (i, key) in paillier.into_iter().enumerate() {
        let me = PartyIndex(u16::try_from(i).map_err(|_| SimError::Setup("n".into()))?);
        let p = Keygen::new(
            sid,
            me,
            n,
            threshold,
            SecurityLevel::LEVEL128,
            key,
            &mut rng,
        )
        .map_err(|e| SimError::Protocol(me, e))?;
        parties.push(p);
    }
    let who: Vec<PartyIndex> = (0..n).map(PartyIndex).collect();
    let (outcomes, _) = run(parties, seed, &mut deliver_all);
    let shares = collect(outcomes, &who)?;
    let y = shares.first().map(|s| s.public_key);
    if shares.iter().any(|s| Some(s.public_key) != y) {
        return Err(SimError::Disagreement("public key"));
    }
    Ok(shares)
}

/// Presigning among `signers`.
pub fn presign(
    shares: &[Arc<KeyShare>],
    signers: &[PartyIndex],
    seed: Seed,
) -> Result<Vec<Presignature>, SimError> {
    let mut rng = seed.rng(b"presign.setup", 0);
    let sid = SessionId::random(&mut rng);
    let mut parties = Vec::new();
    let mut who = signers.to_vec();
    who.sort();
    for &p in &who {
        let share = shares
            .iter()
            .find(|s| s.index == p)
            .ok_or_else(|| SimError::Setup(format!("no share for party {p}")))?;
        parties.push(
            Presign::new(sid, share.clone(), signers, &mut rng)
                .map_err(|e| SimError::Protocol(p, e))?,
        );
    }
    let (outcomes, _) = run(parties, seed, &mut deliver_all);
    collect(outcomes, &who)
}

/// Online signing from one presignature per signer.
pub fn sign(presigs: Vec<Presignature>, req: &SignRequest) -> Result<Signature, SimError> {
    let who: Vec<PartyIndex> = presigs.iter().map(|p| p.party()).collect();
    let parties = presigs
        .into_iter()
        .map(|p| {
            let me = p.party();
            Sign::new(p, req).map_err(|e| SimError::Protocol(me, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let (outcomes, _) = run(parties, Seed::from_u64(0), &mut deliver_all);
    let sigs = collect(outcomes, &who)?;
    let first = sigs
        .first()
        .copied()
        .ok_or(SimError::Setup("no signers".into()))?;
    if sigs.iter().any(|s| *s != first) {
        return Err(SimError::Disagreement("signature"));
    }
    Ok(first)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parallel_map_keeps_job_order() {
        for threads in [1, 2, 3, 8] {
            let jobs: Vec<u64> = (0..50).collect();
            let out = parallel_map(jobs, threads, |j| {
                // Uneven work, so that threads finish out of order.
                std::thread::sleep(std::time::Duration::from_micros((j * 37) % 200));
                j * j
            });
            assert_eq!(out, (0..50).map(|j| j * j).collect::<Vec<u64>>());
        }
    }
}
