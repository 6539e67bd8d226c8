//! Transport faults through the simulation's message filter: what each protocol does when the
//! network drops, duplicates, corrupts, reorders or equivocates, asserted precisely.
//!
//! Real keygen, presign and sign runs among three parties, from the pregenerated fixtures
//! (`test-data/`): no safe primes are generated here.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use k256::ecdsa::VerifyingKey;
use k256::Scalar;
use rand_chacha::ChaCha20Rng;
use rand_core::{RngCore, SeedableRng};
use tessera_core::echo::{Echo, E1};
use tessera_core::inbox::DUPLICATE;
use tessera_core::wire::{self, Delivery, ProtocolId};
use tessera_core::{CheckTag, PartyIndex, SessionId, StateMachine};
use tessera_ecdsa::common::WIRE;
use tessera_ecdsa::keygen::K2_1;
use tessera_ecdsa::sign::S1_2;
use tessera_ecdsa::{KeyShare, Keygen, Presign, Presignature, Sign, SignRequest, Signature};
use tessera_sim::{fixtures, run, Delivered, Filter, Outcome, Outcomes, Seed};
use tessera_zk::SecurityLevel;

const P0: PartyIndex = PartyIndex(0);
const P1: PartyIndex = PartyIndex(1);
const P2: PartyIndex = PartyIndex(2);
const ALL: [PartyIndex; 3] = [P0, P1, P2];

fn shares() -> Vec<Arc<KeyShare>> {
    common::fixture_keys(3)
}

fn presign_parties(shares: &[Arc<KeyShare>]) -> Vec<Presign> {
    let mut rng = ChaCha20Rng::seed_from_u64(61);
    let sid = SessionId::random(&mut rng);
    ALL.iter()
        .map(|&p| Presign::new(sid, shares[p.as_usize()].clone(), &ALL, &mut rng).unwrap())
        .collect()
}

fn keygen_parties() -> (SessionId, Vec<Keygen>) {
    let keys = fixtures::paillier_keys(3, 0).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(62);
    let sid = SessionId::random(&mut rng);
    let parties = keys
        .into_iter()
        .zip(ALL)
        .map(|(k, me)| Keygen::new(sid, me, 3, 3, SecurityLevel::LEVEL128, k, &mut rng).unwrap())
        .collect();
    (sid, parties)
}

fn request() -> SignRequest {
    SignRequest {
        digest: [0x5a; 32],
        tweak: Scalar::ZERO,
        entropy: [7; 32],
    }
}

fn sign_parties(presigs: Vec<Presignature>) -> Vec<Sign> {
    presigs
        .into_iter()
        .map(|p| Sign::new(p, &request()).unwrap())
        .collect()
}

fn wrap<S: StateMachine>(parties: Vec<S>, sid: SessionId) -> Vec<Echo<S>> {
    parties
        .into_iter()
        .map(|p| Echo::new(p, sid).unwrap())
        .collect()
}

fn done<O: std::fmt::Debug>(outcomes: Outcomes<O>) -> Vec<O> {
    outcomes
        .into_iter()
        .map(|(p, o)| match o {
            Outcome::Done(v) => v,
            other => panic!("party {p}: expected output, got {other:?}"),
        })
        .collect()
}

/// Every party signed the same signature, which verifies under the fixture key.
fn assert_valid_signature(shares: &[Arc<KeyShare>], sigs: &[Signature]) {
    let y = shares[0].public_key_point().unwrap();
    let vk = VerifyingKey::from_affine(y.to_affine()).unwrap();
    for s in sigs {
        assert_eq!(s, &sigs[0]);
    }
    common::verify_k256(&vk, &request().digest, &sigs[0]);
}

fn outcome<O>(outcomes: &Outcomes<O>, p: PartyIndex) -> &Outcome<O> {
    &outcomes.iter().find(|(q, _)| *q == p).unwrap().1
}

/// `p` aborted naming exactly `culprit`, every blame with `check`.
fn assert_aborted<O: std::fmt::Debug>(
    outcomes: &Outcomes<O>,
    p: PartyIndex,
    culprit: PartyIndex,
    check: CheckTag,
) {
    match outcome(outcomes, p) {
        Outcome::Failed(e) => {
            assert_eq!(e.culprits(), vec![culprit], "party {p}: {e}");
            assert!(
                e.blames().iter().all(|b| b.check == check),
                "party {p}: expected {check}, got {e}"
            );
        }
        other => panic!("party {p}: expected an abort, got {other:?}"),
    }
}

fn is_broadcast(m: &Delivered) -> bool {
    m.delivery == Delivery::Broadcast
}

// ---- dropped --------------------------------------------------------------------------------

#[test]
fn dropped_message_stalls_the_receiver_and_blames_no_one() {
    // Presign round 1: party 0's broadcast and p2p message to party 1 are lost.
    let (outcomes, observed) = run(
        presign_parties(&shares()),
        Seed::from_u64(1),
        &mut |m: Delivered| {
            if m.round == 0 && m.from == P0 && m.to == P1 {
                return vec![];
            }
            vec![m]
        },
    );
    assert!(
        observed.receive_errors.is_empty(),
        "{:?}",
        observed.receive_errors
    );
    // Party 1 waits for party 0; the others went on to round 2 and wait for party 1.
    for (p, o) in &outcomes {
        let want = if *p == P1 { vec![P0] } else { vec![P1] };
        match o {
            Outcome::Stalled { waiting_for } => assert_eq!(waiting_for, &want, "party {p}"),
            other => panic!("party {p}: expected a stall, got {other:?}"),
        }
    }
}

// ---- duplicated -----------------------------------------------------------------------------

#[test]
fn duplicated_messages_are_ignored_and_the_signature_is_valid() {
    let shares = shares();
    // Every message of presign rounds 1 and 4 arrives twice, byte-identical.
    let dup = |m: Delivered| {
        if m.round == 0 || m.round == 3 {
            return vec![m.clone(), m];
        }
        vec![m]
    };
    let (outcomes, observed) = run(presign_parties(&shares), Seed::from_u64(2), &mut { dup });
    // 3 senders × 2 recipients × (broadcast + p2p) in round 1, broadcasts only in round 4.
    assert_eq!(observed.receive_errors.len(), 12 + 6);
    assert!(observed
        .receive_errors
        .iter()
        .all(|(_, b)| b.check == DUPLICATE));
    let presigs = done(outcomes);
    // The online round, every share twice.
    let (outcomes, observed) = run(
        sign_parties(presigs),
        Seed::from_u64(3),
        &mut |m: Delivered| vec![m.clone(), m],
    );
    assert_eq!(observed.receive_errors.len(), 6);
    assert_valid_signature(&shares, &done(outcomes));
}

// ---- corrupted ------------------------------------------------------------------------------

#[test]
fn corrupted_header_blames_exactly_the_sender() {
    // The first byte (the wire version) of party 0's round-1 broadcast is flipped in transit.
    let (outcomes, observed) = run(
        presign_parties(&shares()),
        Seed::from_u64(4),
        &mut |mut m: Delivered| {
            if m.round == 0 && m.from == P0 && is_broadcast(&m) {
                m.bytes[0] ^= 0x02;
            }
            vec![m]
        },
    );
    // Each receiver blamed party 0 on receipt, and nobody else was blamed.
    let mut blamers: Vec<PartyIndex> = observed.receive_errors.iter().map(|(to, _)| *to).collect();
    blamers.sort();
    assert_eq!(blamers, vec![P1, P2]);
    for (_, b) in &observed.receive_errors {
        assert_eq!((b.party, b.check), (P0, WIRE), "{b}");
        assert!(b.reason.contains("version"), "{b}");
    }
    assert_aborted(&outcomes, P1, P0, WIRE);
    assert_aborted(&outcomes, P2, P0, WIRE);
    // Party 0 saw nothing wrong: it waits for the others' round-2 messages.
    assert!(matches!(outcome(&outcomes, P0), Outcome::Stalled { .. }));
}

#[test]
fn corrupted_signature_share_blames_exactly_the_sender() {
    let shares = shares();
    let presigs = tessera_sim::presign(&shares, &ALL, Seed::from_u64(5)).unwrap();
    // The last byte of party 0's s_0 is flipped: still a canonical scalar, so only the
    // share check [S1.2] can catch it.
    let (outcomes, observed) = run(
        sign_parties(presigs),
        Seed::from_u64(6),
        &mut |mut m: Delivered| {
            if m.from == P0 {
                let last = m.bytes.len() - 1;
                m.bytes[last] ^= 1;
            }
            vec![m]
        },
    );
    assert!(observed.receive_errors.is_empty());
    assert_aborted(&outcomes, P1, P0, S1_2);
    assert_aborted(&outcomes, P2, P0, S1_2);
    // Party 0 received intact shares and finishes with a valid signature.
    match outcome(&outcomes, P0) {
        Outcome::Done(sig) => assert_valid_signature(&shares, &[*sig]),
        other => panic!("party 0: expected a signature, got {other:?}"),
    }
}

// ---- reordered ------------------------------------------------------------------------------

/// Holds every message of a step and releases them in a seeded random order.
struct Shuffle {
    rng: ChaCha20Rng,
    held: Vec<Delivered>,
}

impl Filter for Shuffle {
    fn filter(&mut self, msg: Delivered) -> Vec<Delivered> {
        self.held.push(msg);
        vec![]
    }

    fn release(&mut self) -> Vec<Delivered> {
        let mut v = std::mem::take(&mut self.held);
        for i in (1..v.len()).rev() {
            let j = (self.rng.next_u64() % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
        v
    }
}

#[test]
fn shuffled_deliveries_within_a_round_complete() {
    let shares = shares();
    let mut shuffle = Shuffle {
        rng: ChaCha20Rng::seed_from_u64(7),
        held: Vec::new(),
    };
    let (outcomes, observed) = run(presign_parties(&shares), Seed::from_u64(7), &mut shuffle);
    assert!(observed.receive_errors.is_empty());
    let (outcomes, _) = run(
        sign_parties(done(outcomes)),
        Seed::from_u64(8),
        &mut shuffle,
    );
    assert_valid_signature(&shares, &done(outcomes));
}

/// Holds back the messages that `hold` picks for `delay` steps; they are then delivered after
/// that step's own messages, i.e. after messages of later rounds.
struct Delay<F> {
    hold: F,
    delay: usize,
    step: usize,
    held: Vec<(usize, Delivered)>,
    released: usize,
}

impl<F: FnMut(&Delivered) -> bool> Filter for Delay<F> {
    fn filter(&mut self, msg: Delivered) -> Vec<Delivered> {
        if (self.hold)(&msg) {
            self.held.push((self.step + self.delay, msg));
            return vec![];
        }
        vec![msg]
    }

    /// Called once per step, after that step's messages went through `filter`.
    fn release(&mut self) -> Vec<Delivered> {
        let (due, keep) = std::mem::take(&mut self.held)
            .into_iter()
            .partition(|(at, _)| *at <= self.step);
        self.held = keep;
        self.step += 1;
        self.released += due.len();
        due.into_iter().map(|(_, m)| m).collect()
    }

    fn holding(&self) -> bool {
        !self.held.is_empty()
    }
}

fn header(m: &Delivered) -> wire::Header {
    wire::peek_header(&m.bytes, usize::MAX).unwrap()
}

#[test]
fn with_echo_next_round_messages_may_overtake_the_current_round() {
    let shares = shares();
    let (sid, parties) = (SessionId([0x11; 32]), presign_parties(&shares));
    // Party 2's echo to party 1 of every inner round is delivered one step late: by then
    // parties 0 and 2 have proceeded, and their next-round messages reach party 1 first.
    let mut late_echo = Delay {
        hold: |m: &Delivered| m.from == P2 && m.to == P1 && header(m).protocol == ProtocolId::Echo,
        delay: 1,
        step: 0,
        held: Vec::new(),
        released: 0,
    };
    let (outcomes, observed) = run(wrap(parties, sid), Seed::from_u64(9), &mut late_echo);
    // Presigning has 6 rounds; the last echo is not overtaken by anything.
    assert_eq!(late_echo.released, 6);
    assert!(
        observed.receive_errors.is_empty(),
        "{:?}",
        observed.receive_errors
    );
    let presigs = done(outcomes);

    // Online signing with a random half of all messages, echoes included, one step late.
    let mut rng = ChaCha20Rng::seed_from_u64(10);
    let mut random = Delay {
        hold: move |_: &Delivered| rng.next_u32() % 2 == 0,
        delay: 1,
        step: 0,
        held: Vec::new(),
        released: 0,
    };
    let (outcomes, observed) = run(
        wrap(sign_parties(presigs), sid),
        Seed::from_u64(11),
        &mut random,
    );
    assert!(random.released > 0);
    assert!(
        observed.receive_errors.is_empty(),
        "{:?}",
        observed.receive_errors
    );
    assert_valid_signature(&shares, &done(outcomes));
}

// ---- equivocation ---------------------------------------------------------------------------

/// Party 0's keygen round-1 broadcast to party 1 carries a different commitment (last byte
/// flipped: still a well-formed message), while party 2 gets the real one.
fn equivocate(mut m: Delivered) -> Vec<Delivered> {
    if m.round == 0 && m.from == P0 && m.to == P1 && is_broadcast(&m) {
        assert_eq!(header(&m).protocol, ProtocolId::Keygen);
        let last = m.bytes.len() - 1;
        m.bytes[last] ^= 1;
    }
    vec![m]
}

#[test]
fn equivocation_on_a_broadcast_is_caught_by_the_echo() {
    let (sid, parties) = keygen_parties();
    let (outcomes, observed) = run(wrap(parties, sid), Seed::from_u64(12), &mut equivocate);
    assert!(
        observed.receive_errors.is_empty(),
        "{:?}",
        observed.receive_errors
    );
    // Both honest parties abort in the echo after round 1, naming exactly party 0.
    assert_aborted(&outcomes, P1, P0, E1);
    assert_aborted(&outcomes, P2, P0, E1);
    assert_eq!(observed.rounds, 2, "caught in the first echo round");
}

#[test]
fn equivocation_on_a_broadcast_passes_round_1_without_the_echo() {
    let (_, parties) = keygen_parties();
    let (outcomes, observed) = run(parties, Seed::from_u64(12), &mut equivocate);
    // Round 1 raises nothing: each party holds a well-formed commitment from party 0. Only
    // party 1 notices, one round later, when the opening does not match its copy [K2.1];
    // party 2 goes on to round 3 and waits for party 1.
    assert!(observed
        .receive_errors
        .iter()
        .all(|(to, b)| *to == P1 && b.party == P0 && b.check == K2_1));
    assert_aborted(&outcomes, P1, P0, K2_1);
    for p in [P0, P2] {
        match outcome(&outcomes, p) {
            Outcome::Stalled { waiting_for } => assert_eq!(waiting_for, &vec![P1], "party {p}"),
            other => panic!("party {p}: expected a stall, got {other:?}"),
        }
    }
}
