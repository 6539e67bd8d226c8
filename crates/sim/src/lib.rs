#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::sync::Arc;

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
pub trait Filter {
    fn filter(&mut self, msg: Delivered) -> Vec<Delivered>;
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

/// Every party's outcome, in the order the parties were given.
pub type Outcomes<O> = Vec<(PartyIndex, Outcome<O>)>;

/// Runs `parties` to completion. Each party gets its own rng derived from `seed` and its index.
pub fn run<S: StateMachine>(
    parties: Vec<S>,
    seed: Seed,
    filter: &mut impl Filter,
) -> (Outcomes<S::Output>, Observed) {
    let mut rngs: Vec<ChaCha20Rng> = parties.iter().map(|p| seed.rng(b"run", p.me().0)).collect();
    let mut active: Vec<Option<S>> = parties.into_iter().map(Some).collect();
    let mut done: Vec<Option<Outcome<S::Output>>> = active.iter().map(|_| None).collect();
    let mut round = 0usize;
    let mut observed = Observed::default();
    loop {
        // Collect this round's messages from every active party.
        let mut queue: Vec<Delivered> = Vec::new();
        for p in active.iter_mut().flatten() {
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
        for m in queue {
            let Some(Some(p)) = active
                .iter_mut()
                .find(|p| p.as_ref().is_some_and(|p| p.me() == m.to))
            else {
                continue;
            };
            if let Err(b) = p.receive(m.from, &m.bytes) {
                observed.receive_errors.push((m.to, b));
            }
        }
        // Advance every party that heard from everyone; the rest have stalled.
        let mut progressed = false;
        for (i, slot) in active.iter_mut().enumerate() {
            let Some(p) = slot.take() else { continue };
            if !p.ready() {
                let waiting_for = p.participants().to_vec();
                let me = p.me();
                if let Some(d) = done.get_mut(i) {
                    *d = Some(Outcome::Stalled {
                        waiting_for: waiting_for.into_iter().filter(|&q| q != me).collect(),
                    });
                }
                continue;
            }
            let rng = match rngs.get_mut(i) {
                Some(r) => r,
                None => continue,
            };
            match p.proceed(rng) {
                Ok(Transition::Continue(next)) => {
                    *slot = Some(next);
                    progressed = true;
                }
                Ok(Transition::Done(o)) => {
                    if let Some(d) = done.get_mut(i) {
                        *d = Some(Outcome::Done(o));
                    }
                }
                Err(e) => {
                    if let Some(d) = done.get_mut(i) {
                        *d = Some(Outcome::Failed(e));
                    }
                }
            }
        }
        round += 1;
        if !progressed {
            break;
        }
    }
    observed.rounds = round;
    let outcomes = done
        .into_iter()
        .enumerate()
        .map(|(i, o)| {
            let idx = PartyIndex(u16::try_from(i).unwrap_or(u16::MAX));
            (
                idx,
                o.unwrap_or(Outcome::Stalled {
                    waiting_for: Vec::new(),
                }),
            )
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
