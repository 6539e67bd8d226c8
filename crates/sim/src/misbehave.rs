//! Runs with one deliberately cheating party (the `malicious` feature), for `tessera demo
//! --misbehave` and the identification tests: a catalogue of named behaviours, runners that give
//! the cheater its behaviour, and the verdict the honest parties reach.

use std::sync::Arc;

use tessera_core::{PartyIndex, ProtocolError, SessionId};
use tessera_ecdsa::malicious::Behaviour;
use tessera_ecdsa::{
    KeyShare, Keygen, Presign, Presignature, Reshare, ReshareOutput, ReshareStatement, Sign,
    SignRequest, Signature,
};
use tessera_zk::SecurityLevel;

use crate::{deliver_all, run, Outcome, Outcomes, Seed, SimError};

/// The protocol a behaviour deviates in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Keygen,
    Presign,
    Sign,
    /// Refresh (resharing onto the same committee), with the cheater in one role.
    Refresh(Role),
}

/// The logical party of a refreshing operator that deviates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    Dealer,
    Receiver,
}

impl Phase {
    pub fn name(self) -> &'static str {
        match self {
            Phase::Keygen => "keygen",
            Phase::Presign => "presign",
            Phase::Sign => "sign",
            Phase::Refresh(_) => "refresh",
        }
    }
}

/// A named behaviour: `make(cheater, n)` builds it (some need a victim: the next party).
#[derive(Clone, Copy, Debug)]
pub struct Named {
    pub name: &'static str,
    pub phase: Phase,
    /// The check tag that must catch it.
    pub check: &'static str,
    make: fn(PartyIndex, u16) -> Behaviour,
}

impl Named {
    pub fn behaviour(&self, cheater: PartyIndex, n: u16) -> Behaviour {
        (self.make)(cheater, n)
    }
}

fn next(cheater: PartyIndex, n: u16) -> PartyIndex {
    PartyIndex((cheater.0 + 1) % n.max(1))
}

/// Every behaviour of [`Behaviour`], by name.
pub const CATALOGUE: &[Named] = &[
    Named {
        name: "keygen-bad-opening",
        phase: Phase::Keygen,
        check: "[K2.1]",
        make: |_, _| Behaviour::KeygenBadOpening,
    },
    Named {
        name: "keygen-extra-commitment",
        phase: Phase::Keygen,
        check: "[K2.2]",
        make: |_, _| Behaviour::KeygenExtraCommitment,
    },
    Named {
        name: "keygen-degenerate-ring-pedersen",
        phase: Phase::Keygen,
        check: "[K2.3]",
        make: |_, _| Behaviour::KeygenDegenerateRingPedersen,
    },
    Named {
        name: "keygen-bad-prm",
        phase: Phase::Keygen,
        check: "[K2.4]",
        make: |_, _| Behaviour::KeygenBadPrm,
    },
    Named {
        name: "keygen-bad-share",
        phase: Phase::Keygen,
        check: "[K4.1]",
        make: |c, n| Behaviour::KeygenBadShare { to: next(c, n) },
    },
    Named {
        name: "keygen-false-accusation",
        phase: Phase::Keygen,
        check: "[K4.3]",
        make: |c, n| Behaviour::KeygenFalseAccusation {
            against: next(c, n),
        },
    },
    Named {
        name: "presign-wrong-delta",
        phase: Phase::Presign,
        check: "[T5.4]",
        make: |_, _| Behaviour::PresignWrongDelta,
    },
    Named {
        name: "presign-wrong-sigma",
        phase: Phase::Presign,
        check: "[T7.3]",
        make: |_, _| Behaviour::PresignWrongSigma,
    },
    Named {
        name: "presign-bad-gamma-opening",
        phase: Phase::Presign,
        check: "[P4.1]",
        make: |_, _| Behaviour::PresignBadGammaOpening,
    },
    Named {
        name: "presign-bad-gamma-schnorr",
        phase: Phase::Presign,
        check: "[P4.3]",
        make: |_, _| Behaviour::PresignBadGammaSchnorr,
    },
    Named {
        name: "presign-inconsistent-s",
        phase: Phase::Presign,
        check: "[P6.2]",
        make: |_, _| Behaviour::PresignInconsistentS,
    },
    Named {
        name: "sign-non-canonical-share",
        phase: Phase::Sign,
        check: "[S1.1]",
        make: |_, _| Behaviour::SignNonCanonicalShare,
    },
    // Refresh: `make(seat, n)` gets the cheater's seat; receivers sit at 0..n, dealers after,
    // so `PartyIndex(n)` is the first dealer. Π^fac (`[R2.2]`) is not listed: it goes only to
    // receivers, so the dealers cannot see it and time out instead of naming anyone (the
    // identification test covers it).
    Named {
        name: "refresh-wrong-statement",
        phase: Phase::Refresh(Role::Dealer),
        check: "[R1.1]",
        make: |_, _| Behaviour::ReshareWrongStatement,
    },
    Named {
        name: "refresh-short-commitments",
        phase: Phase::Refresh(Role::Dealer),
        check: "[R1.2]",
        make: |_, _| Behaviour::ReshareShortCommitments,
    },
    Named {
        name: "refresh-shift-secret",
        phase: Phase::Refresh(Role::Dealer),
        check: "[R1.3]",
        make: |_, _| Behaviour::ReshareShiftSecret,
    },
    Named {
        name: "refresh-degenerate-ring-pedersen",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R1.4]",
        make: |_, _| Behaviour::ReshareDegenerateRingPedersen,
    },
    Named {
        name: "refresh-bad-prm",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R1.5]",
        make: |_, _| Behaviour::ReshareBadPrm,
    },
    Named {
        name: "refresh-bad-mod-proof",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R1.6]",
        make: |_, _| Behaviour::ReshareBadModProof,
    },
    Named {
        name: "refresh-short-dealing",
        phase: Phase::Refresh(Role::Dealer),
        check: "[R2.1]",
        make: |_, _| Behaviour::ReshareShortDealing,
    },
    Named {
        name: "refresh-bad-share",
        phase: Phase::Refresh(Role::Dealer),
        check: "[R3.1]",
        make: |c, n| Behaviour::ReshareBadShare { to: next(c, n) },
    },
    Named {
        name: "refresh-bad-reveal",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R3.2]",
        make: |_, n| Behaviour::ReshareBadReveal {
            against: PartyIndex(n),
        },
    },
    Named {
        name: "refresh-false-accusation",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R3.3]",
        make: |_, n| Behaviour::ReshareFalseAccusation {
            against: PartyIndex(n),
        },
    },
    Named {
        name: "refresh-complaint-flood",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R3.6]",
        make: |_, n| Behaviour::ReshareComplaintFlood {
            against: PartyIndex(n),
        },
    },
    Named {
        name: "refresh-bad-schnorr",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R3.4]",
        make: |_, _| Behaviour::ReshareBadSchnorr,
    },
    Named {
        name: "refresh-silent-confirm",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R3.5]",
        make: |_, _| Behaviour::ReshareSilentConfirm,
    },
    Named {
        name: "refresh-wrong-ack",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R4.1]",
        make: |_, _| Behaviour::ReshareWrongAck,
    },
    Named {
        name: "refresh-split-ack",
        phase: Phase::Refresh(Role::Receiver),
        check: "[R5.1]",
        make: |_, _| Behaviour::ReshareSplitAck,
    },
    Named {
        name: "refresh-short-echo",
        phase: Phase::Refresh(Role::Dealer),
        check: "[R5.2]",
        make: |_, _| Behaviour::ReshareShortEcho,
    },
];

pub fn lookup(name: &str) -> Option<&'static Named> {
    CATALOGUE.iter().find(|b| b.name == name)
}

/// What the honest parties concluded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Every honest party aborted.
    pub aborted: bool,
    /// The parties the honest parties blame (the same set at every honest party, or the run is
    /// reported as inconsistent).
    pub culprits: Vec<u16>,
    /// The check tags they name.
    pub checks: Vec<String>,
    /// All honest parties reached the same conclusion.
    pub consistent: bool,
}

/// The honest parties' verdict from a run's outcomes (`cheater` excluded).
pub fn verdict<O>(outcomes: &Outcomes<O>, cheater: PartyIndex) -> Verdict {
    let mut views = Vec::new();
    let mut aborted = true;
    for (p, o) in outcomes {
        if *p == cheater {
            continue;
        }
        match o {
            Outcome::Failed(ProtocolError::Aborted(blames)) => {
                let mut who: Vec<u16> = blames.iter().map(|b| b.party.0).collect();
                who.sort_unstable();
                who.dedup();
                let mut tags: Vec<String> = blames.iter().map(|b| b.check.0.to_string()).collect();
                tags.sort();
                tags.dedup();
                views.push((who, tags));
            }
            _ => {
                aborted = false;
                views.push((Vec::new(), Vec::new()));
            }
        }
    }
    let consistent = views.windows(2).all(|w| w.first() == w.get(1));
    let (culprits, checks) = views.into_iter().next().unwrap_or_default();
    Verdict {
        aborted,
        culprits,
        checks,
        consistent,
    }
}

/// Key generation in which `cheater` runs `behaviour`.
pub fn keygen(
    n: u16,
    threshold: u16,
    paillier: Vec<tessera_paillier::SecretKey>,
    seed: Seed,
    cheater: PartyIndex,
    behaviour: Behaviour,
) -> Result<Outcomes<KeyShare>, SimError> {
    let mut rng = seed.rng(b"keygen.setup", 0);
    let sid = SessionId::random(&mut rng);
    let mut parties = Vec::new();
    for (i, key) in paillier.into_iter().enumerate() {
        let me = PartyIndex(u16::try_from(i).map_err(|_| SimError::Setup("n".into()))?);
        let b = if me == cheater {
            behaviour
        } else {
            Behaviour::Honest
        };
        let level = SecurityLevel::LEVEL128;
        parties.push(
            Keygen::new_with_behaviour(sid, me, n, threshold, level, key, b, &mut rng)
                .map_err(|e| SimError::Protocol(me, e))?,
        );
    }
    Ok(run(parties, seed, &mut deliver_all).0)
}

/// Presigning among `signers` in which `cheater` runs `behaviour`.
pub fn presign(
    shares: &[Arc<KeyShare>],
    signers: &[PartyIndex],
    seed: Seed,
    cheater: PartyIndex,
    behaviour: Behaviour,
) -> Result<Outcomes<Presignature>, SimError> {
    let mut rng = seed.rng(b"presign.setup", 0);
    let sid = SessionId::random(&mut rng);
    let mut who = signers.to_vec();
    who.sort();
    let mut parties = Vec::new();
    for &p in &who {
        let share = shares
            .iter()
            .find(|s| s.index == p)
            .ok_or_else(|| SimError::Setup(format!("no share for party {p}")))?;
        let b = if p == cheater {
            behaviour
        } else {
            Behaviour::Honest
        };
        parties.push(
            Presign::new_with_behaviour(sid, share.clone(), signers, b, &mut rng)
                .map_err(|e| SimError::Protocol(p, e))?,
        );
    }
    Ok(run(parties, seed, &mut deliver_all).0)
}

/// Online signing in which `cheater` runs `behaviour`.
pub fn sign(
    presigs: Vec<Presignature>,
    req: &SignRequest,
    cheater: PartyIndex,
    behaviour: Behaviour,
) -> Result<Outcomes<Signature>, SimError> {
    let parties = presigs
        .into_iter()
        .map(|p| {
            let me = p.party();
            let b = if me == cheater {
                behaviour
            } else {
                Behaviour::Honest
            };
            Sign::new_with_behaviour(p, req, b).map_err(|e| SimError::Protocol(me, e))
        })
        .collect::<Result<Vec<_>, _>>()?;
    Ok(run(parties, Seed::from_u64(0), &mut deliver_all).0)
}

/// Refresh of `shares`' key by `dealers` in which the logical party at `cheater_seat` runs
/// `behaviour`, with fresh Paillier keys for the committee. Returns the statement (to map
/// seats to operators) and every seat's outcome, by seat.
pub fn refresh(
    shares: &[Arc<KeyShare>],
    dealers: &[PartyIndex],
    paillier: Vec<tessera_paillier::SecretKey>,
    seed: Seed,
    cheater_seat: PartyIndex,
    behaviour: Behaviour,
) -> Result<(ReshareStatement, Outcomes<ReshareOutput>), SimError> {
    let any = shares
        .first()
        .ok_or_else(|| SimError::Setup("no shares".into()))?;
    let st = ReshareStatement::refresh(any, dealers.to_vec())
        .map_err(|e| SimError::Protocol(any.index, e))?;
    let mut rng = seed.rng(b"refresh.setup", 0);
    let sid = SessionId::random(&mut rng);
    let b = |seat: PartyIndex| {
        if seat == cheater_seat {
            behaviour
        } else {
            Behaviour::Honest
        }
    };
    let mut parties = Vec::new();
    for (j, key) in paillier.into_iter().enumerate() {
        let j = PartyIndex(u16::try_from(j).map_err(|_| SimError::Setup("n".into()))?);
        parties.push(
            Reshare::receiver_with_behaviour(sid, st.clone(), j, key, b(j), &mut rng)
                .map_err(|e| SimError::Protocol(j, e))?,
        );
    }
    for &d in &st.dealers {
        let share = shares
            .iter()
            .find(|s| s.index == d)
            .ok_or_else(|| SimError::Setup(format!("no share for dealer {d}")))?;
        let seat = st
            .dealer_seat(d)
            .ok_or_else(|| SimError::Setup(format!("dealer {d} has no seat")))?;
        parties.push(
            Reshare::dealer_with_behaviour(sid, st.clone(), share, b(seat), &mut rng)
                .map_err(|e| SimError::Protocol(d, e))?,
        );
    }
    let outcomes = run(parties, seed, &mut deliver_all).0;
    Ok((st, outcomes))
}

/// The operator behind a refresh seat: receiver `j` is operator `j`, a dealer seat is the
/// dealer's old index.
pub fn operator_of(st: &ReshareStatement, seat: PartyIndex) -> PartyIndex {
    match seat.0.checked_sub(st.new_n) {
        Some(k) => st
            .dealers
            .get(usize::from(k))
            .copied()
            .unwrap_or(PartyIndex(u16::MAX)),
        None => seat,
    }
}

/// [`verdict`] of a refresh by operator: the cheating operator's seats (both roles) are
/// excluded, blamed seats are reported as their operators.
pub fn refresh_verdict(
    st: &ReshareStatement,
    outcomes: &Outcomes<ReshareOutput>,
    cheater: PartyIndex,
) -> Verdict {
    let mapped: Outcomes<()> = outcomes
        .iter()
        .filter(|(seat, _)| operator_of(st, *seat) != cheater)
        .map(|(seat, o)| {
            let o = match o {
                Outcome::Done(_) => Outcome::Done(()),
                Outcome::Stalled { waiting_for } => Outcome::Stalled {
                    waiting_for: waiting_for.clone(),
                },
                Outcome::Failed(ProtocolError::Aborted(blames)) => {
                    let blames = blames
                        .iter()
                        .map(|b| {
                            let mut b = b.clone();
                            b.party = operator_of(st, b.party);
                            b
                        })
                        .collect();
                    Outcome::Failed(ProtocolError::Aborted(blames))
                }
                Outcome::Failed(e) => Outcome::Failed(e.clone()),
            };
            (*seat, o)
        })
        .collect();
    verdict(&mapped, cheater)
}
