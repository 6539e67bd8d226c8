//! `run` steps the parties on several threads; the result for a seed must not depend on how
//! many threads there are, which thread ran which party, or when.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use k256::Scalar;
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_core::{PartyIndex, SessionId};
use tessera_ecdsa::{Presign, SignRequest};
use tessera_sim::{deliver_all, run_with_threads, Outcome, Seed};

#[test]
fn same_seed_same_result_on_one_or_many_threads() {
    let shares = common::fixture_keys(3);
    let signers = [PartyIndex(0), PartyIndex(1), PartyIndex(2)];
    let req = SignRequest {
        digest: [9; 32],
        tweak: Scalar::ZERO,
        entropy: [1; 32],
    };
    // Presignatures are single-use and not comparable; the signatures they make are.
    let sigs: Vec<_> = [1usize, 2, 4]
        .into_iter()
        .map(|threads| {
            let mut rng = ChaCha20Rng::seed_from_u64(78);
            let sid = SessionId::random(&mut rng);
            let parties: Vec<Presign> = signers
                .iter()
                .map(|&p| Presign::new(sid, shares[p.as_usize()].clone(), &signers, &mut rng))
                .collect::<Result<_, _>>()
                .unwrap();
            let (out, _) = run_with_threads(parties, Seed::from_u64(77), &mut deliver_all, threads);
            let presigs = out
                .into_iter()
                .map(|(_, o)| match o {
                    Outcome::Done(p) => p,
                    other => panic!("{other:?}"),
                })
                .collect();
            tessera_sim::sign(presigs, &req).unwrap()
        })
        .collect();
    assert_eq!(sigs[0], sigs[1]);
    assert_eq!(sigs[0], sigs[2]);
}
