//! Identifiable abort: a party that deviates is named, with the check that caught it, by
//! every honest party — and no honest party is blamed.
//!
//! The deviations come from `tessera-ecdsa`'s `malicious` feature (enabled for tests only).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_core::{CheckTag, PartyIndex, SessionId};
use tessera_ecdsa::malicious::Behaviour;
use tessera_ecdsa::{KeyShare, Keygen, Presign};
use tessera_sim::{deliver_all, fixtures, run, Outcome, Seed};
use tessera_zk::SecurityLevel;

/// Every party other than `cheater` ended with an abort naming exactly `cheater` with `check`.
fn assert_honest_blame<O: std::fmt::Debug>(
    outcomes: Vec<(PartyIndex, Outcome<O>)>,
    cheater: PartyIndex,
    check: CheckTag,
) {
    let mut honest = 0;
    for (p, o) in outcomes {
        if p == cheater {
            continue;
        }
        honest += 1;
        match o {
            Outcome::Failed(e) => {
                assert_eq!(e.culprits(), vec![cheater], "party {p}: {e}");
                assert!(
                    e.blames().iter().all(|b| b.check == check),
                    "party {p}: expected {check}, got {e}"
                );
            }
            other => panic!("party {p}: expected an abort, got {other:?}"),
        }
    }
    assert!(honest > 0);
}

fn keygen_with(cheater: PartyIndex, behaviour: Behaviour) -> Vec<(PartyIndex, Outcome<KeyShare>)> {
    let keys = fixtures::paillier_keys(3, 0).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let sid = SessionId::random(&mut rng);
    let parties: Vec<Keygen> = keys
        .into_iter()
        .enumerate()
        .map(|(i, k)| {
            let me = PartyIndex(i as u16);
            let b = if me == cheater {
                behaviour
            } else {
                Behaviour::Honest
            };
            Keygen::new_with_behaviour(sid, me, 3, 2, SecurityLevel::LEVEL128, k, b, &mut rng)
                .unwrap()
        })
        .collect();
    run(parties, Seed::from_u64(22), &mut deliver_all).0
}

#[test]
fn keygen_k4_1_bad_share_blames_the_dealer() {
    let cheater = PartyIndex(1);
    let out = keygen_with(cheater, Behaviour::KeygenBadShare { to: PartyIndex(2) });
    assert_honest_blame(out, cheater, tessera_ecdsa::keygen::K4_1);
}

#[test]
fn keygen_k4_3_false_accusation_blames_the_accuser() {
    let cheater = PartyIndex(0);
    let out = keygen_with(
        cheater,
        Behaviour::KeygenFalseAccusation {
            against: PartyIndex(2),
        },
    );
    assert_honest_blame(out, cheater, tessera_ecdsa::keygen::K4_3);
}

fn presign_with(
    shares: &[Arc<KeyShare>],
    signers: &[PartyIndex],
    cheater: PartyIndex,
    behaviour: Behaviour,
) -> Vec<(PartyIndex, Outcome<tessera_ecdsa::Presignature>)> {
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    let sid = SessionId::random(&mut rng);
    let parties: Vec<Presign> = signers
        .iter()
        .map(|&p| {
            let b = if p == cheater {
                behaviour
            } else {
                Behaviour::Honest
            };
            Presign::new_with_behaviour(sid, shares[p.as_usize()].clone(), signers, b, &mut rng)
                .unwrap()
        })
        .collect();
    run(parties, Seed::from_u64(32), &mut deliver_all).0
}

#[test]
fn presign_type5_wrong_delta_is_identified() {
    let shares = common::fixture_keys(3);
    let signers = [PartyIndex(0), PartyIndex(1), PartyIndex(2)];
    let out = presign_with(
        &shares,
        &signers,
        PartyIndex(1),
        Behaviour::PresignWrongDelta,
    );
    assert_honest_blame(out, PartyIndex(1), tessera_ecdsa::presign::T5_4);
}

#[test]
fn presign_type7_wrong_sigma_is_identified() {
    let shares = common::fixture_keys(3);
    let signers = [PartyIndex(0), PartyIndex(1), PartyIndex(2)];
    let out = presign_with(
        &shares,
        &signers,
        PartyIndex(2),
        Behaviour::PresignWrongSigma,
    );
    assert_honest_blame(out, PartyIndex(2), tessera_ecdsa::presign::T7_3);
}

#[test]
fn presign_type5_and_type7_in_two_party_sets() {
    let shares = common::fixture_keys(2);
    let signers = [PartyIndex(0), PartyIndex(2)];
    let out = presign_with(
        &shares,
        &signers,
        PartyIndex(0),
        Behaviour::PresignWrongDelta,
    );
    assert_honest_blame(out, PartyIndex(0), tessera_ecdsa::presign::T5_4);
    let out = presign_with(
        &shares,
        &signers,
        PartyIndex(2),
        Behaviour::PresignWrongSigma,
    );
    assert_honest_blame(out, PartyIndex(2), tessera_ecdsa::presign::T7_3);
}

#[test]
fn honest_behaviour_produces_presignatures() {
    let shares = common::fixture_keys(2);
    let signers = [PartyIndex(1), PartyIndex(2)];
    let out = presign_with(&shares, &signers, PartyIndex(1), Behaviour::Honest);
    assert!(out.into_iter().all(|(_, o)| matches!(o, Outcome::Done(_))));
}
