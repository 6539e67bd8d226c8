//! Identifiable abort in resharing: for every check tag, a participant that deviates there is
//! named, with that tag, by every honest participant that can see the deviation — no honest
//! participant is blamed, no receiver activates a new share and no dealer is told to erase.
//!
//! Setup: the 2-of-3 fixture key, dealt by old parties 0 and 1 to a new 2-of-2 committee.
//! Seats 0 and 1 are the receivers, seats 2 and 3 the dealers (old parties 0 and 1). Round 1
//! (the costly Π^mod / Π^prm proofs) runs once for the checks of rounds 2–5; every such test
//! branches from it with `Reshare::fork_with_behaviour`.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::collections::BTreeSet;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_core::{CheckTag, PartyIndex, ProtocolError, SessionId, StateMachine};
use tessera_ecdsa::malicious::Behaviour;
use tessera_ecdsa::reshare::{
    R1_1, R1_2, R1_3, R1_4, R1_5, R1_6, R2_1, R2_2, R3_1, R3_2, R3_3, R3_4, R3_5, R3_6, R4_1, R5_1,
    R5_2,
};
use tessera_ecdsa::{KeyShare, Reshare, ReshareOutput, ReshareStatement};
use tessera_sim::{deliver_all, fixtures, run, Outcome, Seed};

const SEATS: u16 = 4;

fn p(i: u16) -> PartyIndex {
    PartyIndex(i)
}

fn old_key() -> Vec<KeyShare> {
    fixtures::key_shares(include_bytes!("../../../test-data/keys-2of3.bin")).unwrap()
}

/// Every participant, with `cheats` (seat, behaviour) applied.
fn participants(cheats: &[(u16, Behaviour)]) -> Vec<Reshare> {
    let old = old_key();
    let st = ReshareStatement::new(&old[0], vec![p(0), p(1)], 2, 2).unwrap();
    assert_eq!(st.seats(), SEATS);
    let sid = SessionId([42; 32]);
    let behaviour = |seat: u16| {
        cheats
            .iter()
            .find(|(s, _)| *s == seat)
            .map(|(_, b)| *b)
            .unwrap_or_default()
    };
    let mut rng = ChaCha20Rng::seed_from_u64(9);
    let mut parties = Vec::new();
    for (j, key) in fixtures::paillier_keys(2, 3)
        .unwrap()
        .into_iter()
        .enumerate()
    {
        let j = u16::try_from(j).unwrap();
        parties.push(
            Reshare::receiver_with_behaviour(sid, st.clone(), p(j), key, behaviour(j), &mut rng)
                .unwrap(),
        );
    }
    for (k, old_index) in [p(0), p(1)].into_iter().enumerate() {
        let seat = 2 + u16::try_from(k).unwrap();
        assert_eq!(st.dealer_seat(old_index), Some(p(seat)));
        parties.push(
            Reshare::dealer_with_behaviour(
                sid,
                st.clone(),
                &old[old_index.as_usize()],
                behaviour(seat),
                &mut rng,
            )
            .unwrap(),
        );
    }
    parties
}

/// Delivers every round-1 message, so each participant is ready to finish round 1.
fn through_round_one(parties: &mut [Reshare]) {
    let mut msgs = Vec::new();
    for q in parties.iter_mut() {
        let from = q.me();
        for m in q.take_outgoing() {
            msgs.push((from, m));
        }
    }
    for (from, m) in msgs {
        for q in parties.iter_mut().filter(|q| q.me() != from) {
            let _ = q.receive(from, &m.bytes);
        }
    }
    assert!(parties.iter().all(|q| q.ready()));
}

type Outcomes = Vec<(PartyIndex, Outcome<ReshareOutput>)>;

fn run_all(parties: Vec<Reshare>) -> Outcomes {
    run(parties, Seed::from_u64(5), &mut deliver_all).0
}

/// Every seat not in `cheaters` aborted, blaming exactly `expected` (party, tag) pairs; or, for
/// seats in `blind` (who cannot see the deviation), did not finish: no honest receiver
/// activates a new share and no honest dealer is told to erase.
fn assert_caught(
    outcomes: &Outcomes,
    cheaters: &[u16],
    expected: &[(u16, CheckTag)],
    blind: &[u16],
) {
    let want: BTreeSet<(u16, &str)> = expected.iter().map(|(p, t)| (*p, t.0)).collect();
    for (seat, o) in outcomes {
        if cheaters.contains(&seat.0) {
            continue;
        }
        if blind.contains(&seat.0) {
            assert!(
                matches!(o, Outcome::Stalled { .. }),
                "seat {seat} cannot see the deviation and must not finish: {o:?}"
            );
            continue;
        }
        let Outcome::Failed(ProtocolError::Aborted(blames)) = o else {
            panic!("honest seat {seat} did not abort: {o:?}");
        };
        let got: BTreeSet<(u16, &str)> = blames.iter().map(|b| (b.party.0, b.check.0)).collect();
        assert_eq!(got, want, "honest seat {seat} blamed {blames:?}");
    }
}

#[test]
fn round_one_deviations_statement_and_constant_term_and_prm() {
    // Dealer seat 2 shifts its secret; receiver 0's s is outside ⟨t⟩.
    let mut parties = participants(&[
        (2, Behaviour::ReshareShiftSecret),
        (0, Behaviour::ReshareBadPrm),
    ]);
    through_round_one(&mut parties);
    assert_caught(&run_all(parties), &[0, 2], &[(0, R1_5), (2, R1_3)], &[]);
}

#[test]
fn round_one_deviations_vector_length_and_degenerate_parameters() {
    let mut parties = participants(&[
        (3, Behaviour::ReshareShortCommitments),
        (1, Behaviour::ReshareDegenerateRingPedersen),
    ]);
    through_round_one(&mut parties);
    assert_caught(&run_all(parties), &[1, 3], &[(1, R1_4), (3, R1_2)], &[]);
}

#[test]
fn round_one_deviations_other_statement_and_modulus_proof() {
    let mut parties = participants(&[
        (2, Behaviour::ReshareWrongStatement),
        (0, Behaviour::ReshareBadModProof),
    ]);
    through_round_one(&mut parties);
    assert_caught(&run_all(parties), &[0, 2], &[(0, R1_6), (2, R1_1)], &[]);
}

#[test]
fn honest_branch_completes_and_later_round_deviations_are_named() {
    let mut base = participants(&[]);
    through_round_one(&mut base);
    // The honest branch completes: two new shares, both dealers told to erase.
    let honest: Vec<Reshare> = base
        .iter()
        .map(|q| q.fork_with_behaviour(Behaviour::Honest).unwrap())
        .collect();
    let mut shares = 0;
    let mut retired = Vec::new();
    for (_, o) in run_all(honest) {
        match o {
            Outcome::Done(ReshareOutput::NewShare(_)) => shares += 1,
            Outcome::Done(ReshareOutput::Retire(r)) => retired.push(r.old_index),
            other => panic!("honest run: {other:?}"),
        }
    }
    assert_eq!(shares, 2);
    assert_eq!(retired, vec![p(0), p(1)]);
    // (cheater seat, behaviour, check, seats that cannot see it).
    let cases: Vec<(u16, Behaviour, CheckTag, Vec<u16>)> = vec![
        (3, Behaviour::ReshareShortDealing, R2_1, vec![]),
        // Π^fac goes only to the other receivers; dealers see nothing and never finish.
        (1, Behaviour::ReshareBadFac, R2_2, vec![2, 3]),
        (2, Behaviour::ReshareBadShare { to: p(1) }, R3_1, vec![]),
        (
            0,
            Behaviour::ReshareBadReveal { against: p(2) },
            R3_2,
            vec![],
        ),
        (
            1,
            Behaviour::ReshareFalseAccusation { against: p(3) },
            R3_3,
            vec![],
        ),
        (
            0,
            Behaviour::ReshareComplaintFlood { against: p(2) },
            R3_6,
            vec![],
        ),
        (0, Behaviour::ReshareBadSchnorr, R3_4, vec![]),
        (1, Behaviour::ReshareSilentConfirm, R3_5, vec![]),
        (0, Behaviour::ReshareWrongAck, R4_1, vec![]),
        (0, Behaviour::ReshareSplitAck, R5_1, vec![]),
        (3, Behaviour::ReshareShortEcho, R5_2, vec![]),
    ];
    for (cheater, behaviour, tag, blind) in cases {
        let branch: Vec<Reshare> = base
            .iter()
            .map(|q| {
                let b = if q.me() == p(cheater) {
                    behaviour
                } else {
                    Behaviour::Honest
                };
                q.fork_with_behaviour(b).unwrap()
            })
            .collect();
        let outcomes = run_all(branch);
        assert_caught(&outcomes, &[cheater], &[(cheater, tag)], &blind);
        eprintln!("{behaviour:?}: caught by {tag}");
    }
}
