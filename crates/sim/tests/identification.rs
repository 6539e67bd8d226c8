//! Identifiable abort: a party that deviates is named, with the check that caught it, by
//! every honest party — and no honest party is blamed.
//!
//! The deviations come from `tessera-ecdsa`'s `malicious` feature (enabled for tests only).
//! Where the deviating message is built in code that has no behaviour hook, the test re-encodes
//! the cheater's broadcast in transit (the same change reaches every receiver, so it is the
//! cheater's message), or splices two sessions of the same signer (`[P4.2]`).

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::sync::Arc;

use k256::{ProjectivePoint, Scalar};
use rand_chacha::ChaCha20Rng;
use rand_core::SeedableRng;
use tessera_core::point::{WirePoint, WireScalar};
use tessera_core::wire::{self, Delivery, Expect, Header, Outgoing};
use tessera_core::Transition;
use tessera_core::{Blame, CheckTag, PartyIndex, ProtocolError, SessionId, StateMachine};
use tessera_ecdsa::common::MAX_MSG_LEN;
use tessera_ecdsa::keygen::{K2_1, K2_2, K2_3, K2_4, K3_1, K3_2, K3_3, K4_2, K4_4, K4_5, K4_6};
use tessera_ecdsa::malicious::Behaviour;
use tessera_ecdsa::presign::{
    P1_1, P1_2, P2_1, P2_2, P2_3, P2_4, P3_1, P3_2, P4_1, P4_2, P4_3, P5_1, P5_2, P6_1, P6_2, T5_0,
    T5_1, T5_2, T5_3, T7_0, T7_1, T7_2,
};
use tessera_ecdsa::{KeyShare, Keygen, Presign, Presignature, Sign, SignRequest};
use tessera_paillier::Integer;
use tessera_sim::{deliver_all, fixtures, run, Delivered, Outcome, Seed};
use tessera_zk::{dleq, fac, modulus, pedersen, schnorr, SecurityLevel};

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

fn keygen_parties(cheater: PartyIndex, behaviour: Behaviour) -> Vec<Keygen> {
    let keys = fixtures::paillier_keys(3, 0).unwrap();
    let mut rng = ChaCha20Rng::seed_from_u64(21);
    let sid = SessionId::random(&mut rng);
    keys.into_iter()
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
        .collect()
}

fn keygen_with(cheater: PartyIndex, behaviour: Behaviour) -> Vec<(PartyIndex, Outcome<KeyShare>)> {
    run(
        keygen_parties(cheater, behaviour),
        Seed::from_u64(22),
        &mut deliver_all,
    )
    .0
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

// ---- cheating in transit -----------------------------------------------------------------
//
// Where the deviating message is built in code without a behaviour hook, a filter decodes the
// cheater's broadcast, changes it and re-encodes it. The protocols' message structs are
// crate-private; postcard encodes a struct as the tuple of its fields, so a tuple of the same
// public field types decodes exactly those bytes (a layout change makes the decode fail, and
// the test with it).

/// A message's header and what its receiver expects of it.
fn header_of(bytes: &[u8]) -> (Header, Expect) {
    let h = wire::peek_header(bytes, MAX_MSG_LEN).unwrap();
    let e = Expect {
        protocol: h.protocol,
        sid: h.sid,
        round: h.round,
        delivery: h.delivery,
        max_len: MAX_MSG_LEN,
    };
    (h, e)
}

/// Rewrites every broadcast that `cheater` sends in protocol round `round` with `change`,
/// which gets the header, what a receiver expects and the bytes, and returns the new bytes.
/// Every receiver gets the same rewritten message: the cheater sent it.
fn rewrite(
    cheater: PartyIndex,
    round: u16,
    change: impl Fn(&Header, &Expect, &[u8]) -> Vec<u8>,
) -> impl FnMut(Delivered) -> Vec<Delivered> {
    move |mut d: Delivered| {
        if d.from == cheater && d.delivery == Delivery::Broadcast {
            let (h, e) = header_of(&d.bytes);
            if h.round == round {
                d.bytes = change(&h, &e, &d.bytes);
            }
        }
        vec![d]
    }
}

fn plus_one(s: &WireScalar) -> WireScalar {
    WireScalar::encode(&(s.decode().unwrap() + Scalar::ONE))
}

// ---- keygen -----------------------------------------------------------------------------
//
// A run aborts at the end of the round whose check fired. The [K2.*] runs stop after round 2;
// the [K3.*] and [K4.*] checks are tested in branches of one shared run (`Keygen::fork`), so
// that rounds 1–3 (about 35 s of proofs for three parties) are paid for once.

/// A party that runs normally for `live` rounds, then only sends the messages of the next one:
/// once a cheater's deviation is out, the honest parties abort at the end of that round
/// whatever it does next, so the test need not spend seconds on its proofs.
struct QuitsAfter<S> {
    inner: S,
    live: usize,
}

impl<S: StateMachine> StateMachine for QuitsAfter<S> {
    type Output = S::Output;

    fn me(&self) -> PartyIndex {
        self.inner.me()
    }

    fn participants(&self) -> &[PartyIndex] {
        self.inner.participants()
    }

    fn take_outgoing(&mut self) -> Vec<Outgoing> {
        self.inner.take_outgoing()
    }

    fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        if self.live == 0 {
            return Ok(());
        }
        self.inner.receive(from, bytes)
    }

    fn ready(&self) -> bool {
        self.live == 0 || self.inner.ready()
    }

    fn proceed(
        self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Transition<Self, S::Output>, ProtocolError> {
        if self.live == 0 {
            return Err(ProtocolError::InvalidInput("quit after deviating".into()));
        }
        Ok(match self.inner.proceed(rng)? {
            Transition::Continue(inner) => Transition::Continue(QuitsAfter {
                inner,
                live: self.live - 1,
            }),
            Transition::Done(o) => Transition::Done(o),
        })
    }
}

fn quits_after<S: StateMachine>(
    parties: Vec<S>,
    cheater: PartyIndex,
    live: usize,
) -> Vec<QuitsAfter<S>> {
    parties
        .into_iter()
        .map(|p| QuitsAfter {
            live: if p.me() == cheater { live } else { usize::MAX },
            inner: p,
        })
        .collect()
}

/// Keygen in which `cheater` deviates in its round-2 message (and then quits).
fn keygen_round2_with(
    cheater: PartyIndex,
    behaviour: Behaviour,
) -> Vec<(PartyIndex, Outcome<KeyShare>)> {
    let parties = quits_after(keygen_parties(cheater, behaviour), cheater, 1);
    run(parties, Seed::from_u64(22), &mut deliver_all).0
}

#[test]
fn keygen_k2_1_opening_mismatch_blames_the_committer() {
    let cheater = PartyIndex(2);
    let out = keygen_round2_with(cheater, Behaviour::KeygenBadOpening);
    assert_honest_blame(out, cheater, K2_1);
}

#[test]
fn keygen_k2_2_extra_feldman_commitment_blames_the_dealer() {
    let cheater = PartyIndex(0);
    let out = keygen_round2_with(cheater, Behaviour::KeygenExtraCommitment);
    assert_honest_blame(out, cheater, K2_2);
}

#[test]
fn keygen_k2_3_degenerate_ring_pedersen_blames_its_owner() {
    let cheater = PartyIndex(1);
    let out = keygen_round2_with(cheater, Behaviour::KeygenDegenerateRingPedersen);
    assert_honest_blame(out, cheater, K2_3);
}

#[test]
fn keygen_k2_4_s_outside_t_group_fails_prm() {
    let cheater = PartyIndex(2);
    let out = keygen_round2_with(cheater, Behaviour::KeygenBadPrm);
    assert_honest_blame(out, cheater, K2_4);
}

/// Drives honest parties through `rounds` rounds, delivering everything, and returns them at the
/// start of the next round (its messages not yet taken), ready to [`Keygen::fork`].
fn advance(mut parties: Vec<Keygen>, rounds: usize, seed: u64) -> Vec<Keygen> {
    let mut rng = ChaCha20Rng::seed_from_u64(seed);
    for _ in 0..rounds {
        let sent: Vec<(PartyIndex, Vec<Outgoing>)> = parties
            .iter_mut()
            .map(|p| (p.me(), p.take_outgoing()))
            .collect();
        for (from, out) in &sent {
            for o in out {
                for p in parties.iter_mut().filter(|p| p.me() != *from) {
                    if matches!(o.delivery, Delivery::P2p { to } if to != p.me()) {
                        continue;
                    }
                    p.receive(*from, &o.bytes).unwrap();
                }
            }
        }
        parties = parties
            .into_iter()
            .map(|p| match p.proceed(&mut rng).unwrap() {
                Transition::Continue(p) => p,
                Transition::Done(_) => panic!("keygen ended early"),
            })
            .collect();
    }
    parties
}

fn fork_all(parties: &[Keygen]) -> Vec<Keygen> {
    parties.iter().map(|p| p.fork().unwrap()).collect()
}

/// Finishes a copy of `at` with `filter`; `cheater` quits once the round's messages are out.
fn keygen_branch(
    at: &[Keygen],
    cheater: PartyIndex,
    mut filter: impl FnMut(Delivered) -> Vec<Delivered>,
) -> Vec<(PartyIndex, Outcome<KeyShare>)> {
    let parties = quits_after(fork_all(at), cheater, 0);
    run(parties, Seed::from_u64(23), &mut filter).0
}

/// `keygen::P2p3 { fac }`.
type KeygenP2p3 = (fac::Proof,);

/// `d` (a keygen round-3 p2p message) sent to `to` instead, its content unchanged.
fn readdress(mut d: Delivered, to: PartyIndex) -> Delivered {
    let (mut h, e) = header_of(&d.bytes);
    assert_eq!(h.round, 3);
    let m: KeygenP2p3 = wire::decode(&d.bytes, d.from, &e).unwrap();
    h.delivery = Delivery::P2p { to };
    d.bytes = wire::encode(&h, &m).bytes;
    d.delivery = h.delivery;
    d.to = to;
    d
}

/// `keygen::Bcast3 { modulus, shares }`.
type KeygenBcast3 = (modulus::Proof, Vec<Integer>);
/// `keygen::Bcast4 { complaints: [Complaint { dealer, plaintext, nonce }], schnorr }`.
type KeygenBcast4 = (Vec<(PartyIndex, Integer, Integer)>, Option<schnorr::Proof>);

#[test]
fn keygen_k3_1_k3_2_k3_3_k4_2_k4_4_k4_5_k4_6_in_branches_of_one_run() {
    let moduli: Vec<Integer> = fixtures::paillier_keys(3, 0)
        .unwrap()
        .iter()
        .map(|k| k.public().n().clone())
        .collect();
    let at_round3 = advance(keygen_parties(PartyIndex(0), Behaviour::Honest), 2, 24);

    // [K3.1] Party 2 replays party 0's Π^mod (the proof is bound to N_0, to its prover and rid).
    let cheater = PartyIndex(2);
    let mut replayed: Option<modulus::Proof> = None;
    let out = keygen_branch(&at_round3, cheater, move |mut d: Delivered| {
        if d.delivery == Delivery::Broadcast {
            let (h, e) = header_of(&d.bytes);
            if h.round == 3 {
                let mut m: KeygenBcast3 = wire::decode(&d.bytes, d.from, &e).unwrap();
                if d.from == PartyIndex(0) {
                    replayed = Some(m.0);
                } else if d.from == cheater {
                    m.0 = replayed.clone().expect("party 0 sends first");
                    d.bytes = wire::encode(&h, &m).bytes;
                }
            }
        }
        vec![d]
    });
    assert_honest_blame(out, cheater, K3_1);

    // [K3.3] Party 1 "encrypts" party 2's share as N_2: in range, but not a unit mod N_2², so
    // party 2 could neither decrypt it nor prove it bad.
    let cheater = PartyIndex(1);
    let n2 = moduli[2].clone();
    let filter = rewrite(cheater, 3, move |h, e, bytes| {
        let mut m: KeygenBcast3 = wire::decode(bytes, h.from, e).unwrap();
        m.1[2] = n2.clone();
        wire::encode(h, &m).bytes
    });
    assert_honest_blame(keygen_branch(&at_round3, cheater, filter), cheater, K3_3);

    // [K3.2] Party 0 sends each of parties 1 and 2 the Π^fac it made for the other: a proof
    // made with another verifier's ring-Pedersen parameters does not verify with ours.
    let cheater = PartyIndex(0);
    let mut held: Option<Delivered> = None;
    let filter = move |d: Delivered| {
        if d.from != cheater || d.delivery == Delivery::Broadcast {
            return vec![d];
        }
        match held.take() {
            None => {
                held = Some(d);
                Vec::new()
            }
            Some(first) => {
                let (to_first, to_second) = (first.to, d.to);
                vec![readdress(first, to_second), readdress(d, to_first)]
            }
        }
    };
    assert_honest_blame(keygen_branch(&at_round3, cheater, filter), cheater, K3_2);

    // Round 3 honestly, then the round-4 branches.
    let at_round4 = advance(at_round3, 1, 25);

    // [K4.2] Party 1 complains about party 0 with a reveal that does not re-encrypt to the
    // ciphertext party 0 broadcast.
    let cheater = PartyIndex(1);
    let filter = rewrite(cheater, 4, |h, _, _| {
        let forged: KeygenBcast4 = (
            vec![(PartyIndex(0), Integer::from(1), Integer::from(1))],
            None,
        );
        wire::encode(h, &forged).bytes
    });
    assert_honest_blame(keygen_branch(&at_round4, cheater, filter), cheater, K4_2);

    // [K4.6] The same forged complaint twice: refused before it is judged (else [K4.2]).
    let filter = rewrite(cheater, 4, |h, _, _| {
        let c = (PartyIndex(0), Integer::from(1), Integer::from(1));
        let forged: KeygenBcast4 = (vec![c.clone(), c], None);
        wire::encode(h, &forged).bytes
    });
    assert_honest_blame(keygen_branch(&at_round4, cheater, filter), cheater, K4_6);

    // [K4.4] Party 2's Schnorr proof of x_2 does not verify (response z + 1).
    let cheater = PartyIndex(2);
    let filter = rewrite(cheater, 4, |h, e, bytes| {
        let mut m: KeygenBcast4 = wire::decode(bytes, h.from, e).unwrap();
        let proof = m.1.as_mut().unwrap();
        proof.z = plus_one(&proof.z);
        wire::encode(h, &m).bytes
    });
    assert_honest_blame(keygen_branch(&at_round4, cheater, filter), cheater, K4_4);

    // [K4.5] Party 0 sends neither a proof nor a complaint.
    let cheater = PartyIndex(0);
    let filter = rewrite(cheater, 4, |h, e, bytes| {
        let mut m: KeygenBcast4 = wire::decode(bytes, h.from, e).unwrap();
        m.1 = None;
        wire::encode(h, &m).bytes
    });
    assert_honest_blame(keygen_branch(&at_round4, cheater, filter), cheater, K4_5);

    // The shared run itself was sound: unforked and unfiltered, it ends with one key.
    let keys: Vec<KeyShare> = run(at_round4, Seed::from_u64(26), &mut deliver_all)
        .0
        .into_iter()
        .map(|(_, o)| o.ok().unwrap())
        .collect();
    assert!(keys.iter().all(|k| k.public_key == keys[0].public_key));
}

// ---- presign ----------------------------------------------------------------------------

fn presign_with(
    shares: &[Arc<KeyShare>],
    signers: &[PartyIndex],
    cheater: PartyIndex,
    behaviour: Behaviour,
) -> Vec<(PartyIndex, Outcome<Presignature>)> {
    presign_filtered(shares, signers, cheater, behaviour, deliver_all)
}

fn presign_parties(
    shares: &[Arc<KeyShare>],
    signers: &[PartyIndex],
    cheater: PartyIndex,
    behaviour: Behaviour,
) -> Vec<Presign> {
    let mut rng = ChaCha20Rng::seed_from_u64(31);
    let sid = SessionId::random(&mut rng);
    signers
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
        .collect()
}

fn presign_filtered(
    shares: &[Arc<KeyShare>],
    signers: &[PartyIndex],
    cheater: PartyIndex,
    behaviour: Behaviour,
    mut filter: impl FnMut(Delivered) -> Vec<Delivered>,
) -> Vec<(PartyIndex, Outcome<Presignature>)> {
    let parties = presign_parties(shares, signers, cheater, behaviour);
    run(parties, Seed::from_u64(32), &mut filter).0
}

/// Honest presigning whose `cheater` has its messages of round `live + 1` rewritten by
/// `filter`, and quits once they are out (the honest parties abort at the end of that round).
fn presign_quits_after(
    shares: &[Arc<KeyShare>],
    signers: &[PartyIndex],
    cheater: PartyIndex,
    live: usize,
    mut filter: impl FnMut(Delivered) -> Vec<Delivered>,
) -> Vec<(PartyIndex, Outcome<Presignature>)> {
    let parties = presign_parties(shares, signers, cheater, Behaviour::Honest);
    run(
        quits_after(parties, cheater, live),
        Seed::from_u64(32),
        &mut filter,
    )
    .0
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

// ---- presign: the remaining checks ---------------------------------------------------------

/// The type-7 reveal's round number in its header (`presign::ROUND_TYPE7`, crate-private).
const TYPE7_ROUND: u16 = 70;

/// `Bcast3 { delta, t, proof }`.
type Bcast3 = (WireScalar, WirePoint, pedersen::OpeningProof);
/// `Bcast6 { s, proof }`.
type Bcast6 = (WirePoint, pedersen::ConsistencyProof);
/// `Reveal7 { k, k_nonce, mus: [MuReveal { from, mu, nonce }], dleq }`.
type Reveal7 = (
    WireScalar,
    Integer,
    Vec<(PartyIndex, Integer, Integer)>,
    dleq::Proof,
);

fn signers3() -> (Vec<Arc<KeyShare>>, [PartyIndex; 3]) {
    (
        common::fixture_keys(3),
        [PartyIndex(0), PartyIndex(1), PartyIndex(2)],
    )
}

#[test]
fn presign_p3_1_non_canonical_delta_blames_the_sender() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(1);
    let filter = rewrite(cheater, 3, |h, e, bytes| {
        let mut m: Bcast3 = wire::decode(bytes, h.from, e).unwrap();
        m.0 = WireScalar([0xff; 32]); // ≥ q
        wire::encode(h, &m).bytes
    });
    let out = presign_filtered(&shares, &signers, cheater, Behaviour::Honest, filter);
    assert_honest_blame(out, cheater, P3_1);
}

#[test]
fn presign_p3_2_bad_proof_of_t_opening_blames_the_prover() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(2);
    let filter = rewrite(cheater, 3, |h, e, bytes| {
        let mut m: Bcast3 = wire::decode(bytes, h.from, e).unwrap();
        m.2.z1 = plus_one(&m.2.z1);
        wire::encode(h, &m).bytes
    });
    let out = presign_filtered(&shares, &signers, cheater, Behaviour::Honest, filter);
    assert_honest_blame(out, cheater, P3_2);
}

#[test]
fn presign_p4_1_gamma_opening_mismatch_blames_the_committer() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(0);
    let out = presign_with(
        &shares,
        &signers,
        cheater,
        Behaviour::PresignBadGammaOpening,
    );
    assert_honest_blame(out, cheater, P4_1);
}

#[test]
fn presign_p4_3_schnorr_proof_of_wrong_gamma_blames_the_prover() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(1);
    let out = presign_with(
        &shares,
        &signers,
        cheater,
        Behaviour::PresignBadGammaSchnorr,
    );
    assert_honest_blame(out, cheater, P4_3);
}

/// A signer that runs a second session as the same party and sends that session's round-2
/// messages in place of its own: it committed to `Γ_i` in round 1, then answers the MtA (with
/// valid Π^aff-g proofs) for another `Γ′_i`, then opens `Γ_i` in round 4.
struct Spliced {
    main: Presign,
    /// The second session, until its round-2 messages are out.
    alt: Option<Presign>,
    rounds: usize,
}

impl StateMachine for Spliced {
    type Output = Presignature;

    fn me(&self) -> PartyIndex {
        self.main.me()
    }

    fn participants(&self) -> &[PartyIndex] {
        self.main.participants()
    }

    fn take_outgoing(&mut self) -> Vec<Outgoing> {
        let own = self.main.take_outgoing();
        match self.alt.take() {
            Some(mut alt) if self.rounds == 1 => alt.take_outgoing(),
            Some(mut alt) => {
                let _ = alt.take_outgoing();
                self.alt = Some(alt);
                own
            }
            None => own,
        }
    }

    fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        if let Some(alt) = &mut self.alt {
            let _ = alt.receive(from, bytes);
        }
        self.main.receive(from, bytes)
    }

    fn ready(&self) -> bool {
        self.main.ready() && self.alt.as_ref().is_none_or(|a| a.ready())
    }

    fn proceed(
        self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Transition<Self, Presignature>, ProtocolError> {
        let alt = match self.alt.map(|a| a.proceed(rng)) {
            Some(Ok(Transition::Continue(a))) => Some(a),
            _ => None,
        };
        Ok(match self.main.proceed(rng)? {
            Transition::Continue(main) => Transition::Continue(Spliced {
                main,
                alt,
                rounds: self.rounds + 1,
            }),
            Transition::Done(p) => Transition::Done(p),
        })
    }
}

#[test]
fn presign_p4_2_gamma_differs_from_round_two_blames_the_signer() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(2);
    let mut rng = ChaCha20Rng::seed_from_u64(41);
    let sid = SessionId::random(&mut rng);
    let mut session = |p: PartyIndex| {
        Presign::new(sid, shares[p.as_usize()].clone(), &signers, &mut rng).unwrap()
    };
    let parties: Vec<Spliced> = signers
        .iter()
        .map(|&p| Spliced {
            main: session(p),
            alt: (p == cheater).then(|| session(p)),
            rounds: 0,
        })
        .collect();
    let (out, _) = run(parties, Seed::from_u64(42), &mut deliver_all);
    assert_honest_blame(out, cheater, P4_2);
}

#[test]
fn presign_p6_1_identity_s_blames_the_sender() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(1);
    let filter = rewrite(cheater, 6, |h, e, bytes| {
        let mut m: Bcast6 = wire::decode(bytes, h.from, e).unwrap();
        m.0 = WirePoint::encode(&ProjectivePoint::IDENTITY);
        wire::encode(h, &m).bytes
    });
    let out = presign_filtered(&shares, &signers, cheater, Behaviour::Honest, filter);
    assert_honest_blame(out, cheater, P6_1);
}

#[test]
fn presign_p6_2_s_inconsistent_with_t_blames_the_sender() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(0);
    let out = presign_with(&shares, &signers, cheater, Behaviour::PresignInconsistentS);
    assert_honest_blame(out, cheater, P6_2);
}

#[test]
fn presign_t7_1_revealed_k_not_in_k_ciphertext_is_identified() {
    // σ_i + 1 makes Σ S_j ≠ y; the reveal then lies about k_i.
    let (shares, signers) = signers3();
    let cheater = PartyIndex(1);
    let filter = rewrite(cheater, TYPE7_ROUND, |h, e, bytes| {
        let mut m: Reveal7 = wire::decode(bytes, h.from, e).unwrap();
        m.0 = plus_one(&m.0);
        wire::encode(h, &m).bytes
    });
    let out = presign_filtered(
        &shares,
        &signers,
        cheater,
        Behaviour::PresignWrongSigma,
        filter,
    );
    assert_honest_blame(out, cheater, T7_1);
}

#[test]
fn presign_t7_2_revealed_mu_not_in_mta_ciphertext_is_identified() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(2);
    let filter = rewrite(cheater, TYPE7_ROUND, |h, e, bytes| {
        let mut m: Reveal7 = wire::decode(bytes, h.from, e).unwrap();
        m.2[0].1 += 1u32;
        wire::encode(h, &m).bytes
    });
    let out = presign_filtered(
        &shares,
        &signers,
        cheater,
        Behaviour::PresignWrongSigma,
        filter,
    );
    assert_honest_blame(out, cheater, T7_2);
}

// ---- presign: rounds 1, 2 and 5, and the identification reveals ---------------------------
//
// A statement changed in transit (a ciphertext or point in the cheater's broadcast) no longer
// matches the proof its honest code made: the cheater claims one thing and proves another.

/// The type-5 reveal's round number in its header (`presign::ROUND_TYPE5`, crate-private).
const TYPE5_ROUND: u16 = 50;

/// `Bcast1 { gamma_commitment, k_ct }`.
type Bcast1 = ([u8; 32], Integer);
/// `Bcast2 { gamma, mta: [MtaCts { to, d_gamma, d_w }] }`.
type Bcast2 = (WirePoint, Vec<(PartyIndex, Integer, Integer)>);
/// `Bcast5 { r_bar }`.
type Bcast5 = (WirePoint,);
/// `Reveal5 { k, k_nonce, gamma, betas: [BetaReveal { to, beta, nonce }] }`.
type Reveal5 = (
    WireScalar,
    Integer,
    WireScalar,
    Vec<(PartyIndex, Integer, Integer)>,
);

/// Party `p`'s Paillier modulus `N_p`, as every share holds it.
fn modulus_of(shares: &[Arc<KeyShare>], p: PartyIndex) -> Integer {
    shares[0].aux_of(p).unwrap().n.clone()
}

/// `c·(1 + N)^m mod N²`: a ciphertext of the plaintext of `c` plus `m`, with the same nonce.
fn add_to_plaintext(c: &Integer, n: &Integer, m: &Integer) -> Integer {
    let nn = Integer::from(n * n);
    let shift = Integer::from(m * n) + 1u32;
    Integer::from(c * &shift).modulo(&nn)
}

#[test]
fn presign_p1_1_k_not_a_ciphertext_blames_the_sender() {
    // K_j = 0, N_j (not units) and N_j² (out of range): each is rejected on receipt.
    let (shares, signers) = signers3();
    let cheater = PartyIndex(1);
    let n = modulus_of(&shares, cheater);
    for bad in [Integer::new(), n.clone(), Integer::from(&n * &n)] {
        let filter = rewrite(cheater, 1, move |h, e, bytes| {
            let mut m: Bcast1 = wire::decode(bytes, h.from, e).unwrap();
            m.1 = bad.clone();
            wire::encode(h, &m).bytes
        });
        let out = presign_quits_after(&shares, &signers, cheater, 0, filter);
        assert_honest_blame(out, cheater, P1_1);
    }
}

#[test]
fn presign_p1_2_k_outside_the_proved_range_fails_enc() {
    // Party 2 broadcasts K_2 shifted to encrypt k_2 + 2^{ℓ+ε+1} — still a ciphertext, so [P1.1]
    // passes — with the Π^enc it made for K_2.
    let (shares, signers) = signers3();
    let cheater = PartyIndex(2);
    let n = modulus_of(&shares, cheater);
    let level = shares[0].level;
    let shift = Integer::from(1) << (level.ell + level.epsilon + 1);
    let filter = rewrite(cheater, 1, move |h, e, bytes| {
        let mut m: Bcast1 = wire::decode(bytes, h.from, e).unwrap();
        m.1 = add_to_plaintext(&m.1, &n, &shift);
        wire::encode(h, &m).bytes
    });
    let out = presign_quits_after(&shares, &signers, cheater, 0, filter);
    assert_honest_blame(out, cheater, P1_2);
}

#[test]
fn presign_p2_1_identity_gamma_blames_the_sender() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(0);
    let filter = rewrite(cheater, 2, |h, e, bytes| {
        let mut m: Bcast2 = wire::decode(bytes, h.from, e).unwrap();
        m.0 = WirePoint::encode(&ProjectivePoint::IDENTITY);
        wire::encode(h, &m).bytes
    });
    let out = presign_quits_after(&shares, &signers, cheater, 1, filter);
    assert_honest_blame(out, cheater, P2_1);
}

#[test]
fn presign_p2_2_wrong_mta_ciphertexts_blame_the_sender() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(1);
    let n0 = modulus_of(&shares, PartyIndex(0));
    type Change = Box<dyn Fn(&mut Bcast2)>;
    let changes: [Change; 3] = [
        // No ciphertexts for party 2.
        Box::new(|m| {
            m.1.pop();
        }),
        // Both sets, in the wrong order.
        Box::new(|m| m.1.swap(0, 1)),
        // D^w to party 0 is N_0: in range, not a unit mod N_0².
        Box::new(move |m| m.1[0].2 = n0.clone()),
    ];
    for change in changes {
        let filter = rewrite(cheater, 2, move |h, e, bytes| {
            let mut m: Bcast2 = wire::decode(bytes, h.from, e).unwrap();
            change(&mut m);
            wire::encode(h, &m).bytes
        });
        let out = presign_quits_after(&shares, &signers, cheater, 1, filter);
        assert_honest_blame(out, cheater, P2_2);
    }
}

/// Rewrites `cheater`'s round-2 broadcast so that each `D` that `field` selects (`d_gamma` or
/// `d_w` of every recipient) encrypts one more than the cheater proved: Alice's `α` (or `μ`)
/// share shifted by 1, as a Bob that wants to bias `δ` (or `σ`) would do.
fn shift_mta(
    shares: &[Arc<KeyShare>],
    cheater: PartyIndex,
    field: fn(&mut (PartyIndex, Integer, Integer)) -> &mut Integer,
) -> impl FnMut(Delivered) -> Vec<Delivered> {
    let shares = shares.to_vec();
    rewrite(cheater, 2, move |h, e, bytes| {
        let mut m: Bcast2 = wire::decode(bytes, h.from, e).unwrap();
        for cts in &mut m.1 {
            let n = modulus_of(&shares, cts.0);
            let d = field(cts);
            *d = add_to_plaintext(d, &n, &Integer::from(1));
        }
        wire::encode(h, &m).bytes
    })
}

#[test]
fn presign_p2_3_shifted_d_gamma_fails_aff_g() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(2);
    let filter = shift_mta(&shares, cheater, |c| &mut c.1);
    let out = presign_quits_after(&shares, &signers, cheater, 1, filter);
    assert_honest_blame(out, cheater, P2_3);
}

#[test]
fn presign_p2_4_shifted_d_w_fails_aff_g() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(0);
    let filter = shift_mta(&shares, cheater, |c| &mut c.2);
    let out = presign_quits_after(&shares, &signers, cheater, 1, filter);
    assert_honest_blame(out, cheater, P2_4);
}

#[test]
fn presign_p5_1_identity_r_bar_blames_the_sender() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(1);
    let filter = rewrite(cheater, 5, |h, e, bytes| {
        let mut m: Bcast5 = wire::decode(bytes, h.from, e).unwrap();
        m.0 = WirePoint::encode(&ProjectivePoint::IDENTITY);
        wire::encode(h, &m).bytes
    });
    let out = presign_quits_after(&shares, &signers, cheater, 4, filter);
    assert_honest_blame(out, cheater, P5_1);
}

#[test]
fn presign_p5_2_r_bar_not_k_times_r_fails_log_star() {
    // R̄_0 + G (which would make Σ R̄_j ≠ G) with the Π^log* made for R̄_0 = k_0·R.
    let (shares, signers) = signers3();
    let cheater = PartyIndex(0);
    let filter = rewrite(cheater, 5, |h, e, bytes| {
        let mut m: Bcast5 = wire::decode(bytes, h.from, e).unwrap();
        m.0 = WirePoint::encode(&(m.0.decode().unwrap() + ProjectivePoint::GENERATOR));
        wire::encode(h, &m).bytes
    });
    let out = presign_quits_after(&shares, &signers, cheater, 4, filter);
    assert_honest_blame(out, cheater, P5_2);
}

/// Presigning in which `cheater` broadcasts a wrong `δ_i` (so type-5 identification runs) and
/// then changes its own reveal with `change`.
fn type5_with_reveal(
    cheater: PartyIndex,
    change: impl Fn(&mut Reveal5) + 'static,
) -> Vec<(PartyIndex, Outcome<Presignature>)> {
    let (shares, signers) = signers3();
    let filter = rewrite(cheater, TYPE5_ROUND, move |h, e, bytes| {
        let mut m: Reveal5 = wire::decode(bytes, h.from, e).unwrap();
        change(&mut m);
        wire::encode(h, &m).bytes
    });
    presign_filtered(
        &shares,
        &signers,
        cheater,
        Behaviour::PresignWrongDelta,
        filter,
    )
}

#[test]
fn presign_t5_0_reveal_missing_a_beta_is_identified() {
    let cheater = PartyIndex(0);
    let out = type5_with_reveal(cheater, |m| {
        m.3.pop();
    });
    assert_honest_blame(out, cheater, T5_0);
}

#[test]
fn presign_t5_1_revealed_k_not_in_k_ciphertext_is_identified() {
    let cheater = PartyIndex(1);
    let out = type5_with_reveal(cheater, |m| m.0 = plus_one(&m.0));
    assert_honest_blame(out, cheater, T5_1);
}

#[test]
fn presign_t5_2_revealed_gamma_not_behind_gamma_point_is_identified() {
    let cheater = PartyIndex(2);
    let out = type5_with_reveal(cheater, |m| m.2 = plus_one(&m.2));
    assert_honest_blame(out, cheater, T5_2);
}

#[test]
fn presign_t5_3_revealed_beta_not_in_d_gamma_is_identified() {
    // The D^γ to party 0 no longer matches: party 0, whose δ_0 depends on it, is not judged on
    // δ_0 ([T5.4]), and party 2 is judged and found honest.
    let cheater = PartyIndex(1);
    let out = type5_with_reveal(cheater, |m| {
        assert_eq!(m.3[0].0, PartyIndex(0));
        m.3[0].1 += 1u32;
    });
    assert_honest_blame(out, cheater, T5_3);
}

#[test]
fn presign_t7_0_reveal_missing_a_mu_is_identified() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(0);
    let filter = rewrite(cheater, TYPE7_ROUND, |h, e, bytes| {
        let mut m: Reveal7 = wire::decode(bytes, h.from, e).unwrap();
        m.2.pop();
        wire::encode(h, &m).bytes
    });
    let out = presign_filtered(
        &shares,
        &signers,
        cheater,
        Behaviour::PresignWrongSigma,
        filter,
    );
    assert_honest_blame(out, cheater, T7_0);
}

// ---- online signing ---------------------------------------------------------------------

#[test]
fn sign_s1_1_non_canonical_share_blames_the_signer() {
    let (shares, signers) = signers3();
    let cheater = PartyIndex(0);
    let presigs = tessera_sim::presign(&shares, &signers, Seed::from_u64(51)).unwrap();
    let req = SignRequest {
        digest: [5u8; 32],
        tweak: Scalar::ZERO,
        entropy: [6u8; 32],
    };
    let parties: Vec<Sign> = presigs
        .into_iter()
        .map(|p| {
            let b = if p.party() == cheater {
                Behaviour::SignNonCanonicalShare
            } else {
                Behaviour::Honest
            };
            Sign::new_with_behaviour(p, &req, b).unwrap()
        })
        .collect();
    let (out, _) = run(parties, Seed::from_u64(52), &mut deliver_all);
    assert_honest_blame(out, cheater, tessera_ecdsa::sign::S1_1);
}
