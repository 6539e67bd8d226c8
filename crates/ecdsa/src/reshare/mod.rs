//! Resharing a key from an old committee `(M, N)` to a new one `(M′, N′)`, and refresh (the
//! same committee again), with the same public key and chain code.
//!
//! Desmedt–Jajodia / Wong–Wang–Wing verifiable secret redistribution, in the shape of tss-lib's
//! `ecdsa/resharing` with the per-dealer rule PROTOCOL-NOTES §3.2 asks for and the new
//! committee's Paillier and ring-Pedersen setup proved in full (Π^mod, Π^prm, Π^fac), as in
//! keygen. SECURITY-CHECKLIST "Refresh and reshare".
//!
//! **Two roles, two index spaces.** The `M` old parties that take part are *dealers*; the `N′`
//! members of the new committee are *receivers*. An operator in both committees runs two
//! logical parties, one of each role, with separate state (SECURITY-CHECKLIST: "runs two
//! logical parties with separate state and index spaces"). In a session the receivers sit at
//! `0..N′` (seat `j` is new party `j`, Shamir point `j + 1`) and the dealers after them, at
//! `N′..N′ + M`, in the order of [`ReshareStatement::dealers`].
//!
//! **Refresh** is resharing onto the same committee and threshold ([`ReshareStatement::refresh`]):
//! every new share, Paillier key and ring-Pedersen parameter set is fresh, the old ones no longer
//! combine with the new, and only `M` of the `N` parties need to be online (a zero-sharing
//! refresh needs all `N`). See `docs/deviations.md`.
//!
//! | round | dealers send | receivers send | file |
//! |---|---|---|---|
//! | 1 | Feldman commitments to `f_k` with `f_k(0) = λ_k·x_k`, degree `M′ − 1` | `(N_j, s_j, t_j)`, Π^prm, Π^mod | [`r1`] |
//! | 2 | `Enc_{N_j}(f_k(j + 1))` for every receiver `j` | p2p Π^fac to every other receiver | [`r2`] |
//! | 3 | — | Schnorr proof of `x′_j`, or complaints revealing a bad share | [`r3`] |
//! | 4 | — | acknowledgement: digest of the new committee's public data | [`r4`] |
//! | 5 | echo of every acknowledgement received | same | [`r5`] |
//!
//! Every message is broadcast to every participant of both roles, except Π^fac. Old parties
//! output [`ReshareOutput::Retire`] — the instruction to erase the old share — only at the end
//! of round 5, when every participant has echoed the same acknowledgement from every receiver:
//! a receiver that acknowledges to some and not to others (Kudelski's split-view attack on
//! GG18 resharing) is caught by the echo, and nobody erases anything.
//!
//! Checks (each tag appears at the check, in the error and in a test):
//! - `[R1.1]` the round-1 message is the sender's role's message and names the same
//!   statement (old committee, dealers, new committee, public key, chain code).
//! - `[R1.2]` a dealer sent exactly `M′` Feldman commitments, all valid points;
//!   `[R1.3]` its constant term is `λ_k·X_k` for its old public share `X_k` (the per-dealer VSR
//!   rule: a dealer cannot shift the secret, and the fault is attributable).
//! - `[R1.4]` a receiver's `N_j, s_j, t_j` are within the security level; `[R1.5]` Π^prm
//!   verifies; `[R1.6]` Π^mod verifies.
//! - `[R2.1]` a dealer sent exactly `N′` share ciphertexts, each in `Z*_{N_j²}` of its
//!   recipient; `[R2.2]` Π^fac addressed to us verifies.
//! - `[R3.1]` a share fails the Feldman check (dealer blamed, with the receiver's revealed
//!   plaintext and nonce as evidence); `[R3.2]` a complaint's reveal does not re-encrypt to the
//!   broadcast ciphertext (accuser blamed); `[R3.3]` a complaint about a valid share (accuser
//!   blamed); `[R3.4]` Schnorr proof of `x′_j` against `X′_j` from the commitments; `[R3.5]`
//!   neither a proof nor a complaint; `[R3.6]` more than one complaint about one dealer.
//! - `[R4.1]` a receiver acknowledged a different outcome than ours (seen the same by everyone).
//! - `[R5.1]` participants echo different acknowledgements from the same receiver: it
//!   equivocated; `[R5.2]` an echo has the wrong number of entries.
//!
//! Without transferable signatures on messages, a participant that lies in its echo can make an
//! honest receiver look like an equivocator ([R5.1] then names the receiver). The node layer
//! signs every message, so the echo can carry the signed acknowledgement as evidence.
//! Presignatures made with the old shares must be deleted when the new shares are activated.

use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::point::WirePoint;
use tessera_core::wire::{Delivery, Outgoing, ProtocolId};
use tessera_core::{
    Blame, CheckTag, PartyIndex, ProtocolError, SessionId, SignerSet, StateMachine, Transcript,
    Transition,
};
use tessera_keyshare::KeyShare;
use tessera_zk::{fac, modulus, prm, schnorr, RingPedersen, SecurityLevel};

mod r1;
mod r2;
mod r3;
mod r4;
mod r5;

pub const PROTOCOL: &[u8] = b"tessera.ecdsa.reshare.v1";

pub const R1_1: CheckTag = CheckTag("[R1.1]");
pub const R1_2: CheckTag = CheckTag("[R1.2]");
pub const R1_3: CheckTag = CheckTag("[R1.3]");
pub const R1_4: CheckTag = CheckTag("[R1.4]");
pub const R1_5: CheckTag = CheckTag("[R1.5]");
pub const R1_6: CheckTag = CheckTag("[R1.6]");
pub const R2_1: CheckTag = CheckTag("[R2.1]");
pub const R2_2: CheckTag = CheckTag("[R2.2]");
pub const R3_1: CheckTag = CheckTag("[R3.1]");
pub const R3_2: CheckTag = CheckTag("[R3.2]");
pub const R3_3: CheckTag = CheckTag("[R3.3]");
pub const R3_4: CheckTag = CheckTag("[R3.4]");
pub const R3_5: CheckTag = CheckTag("[R3.5]");
pub const R3_6: CheckTag = CheckTag("[R3.6]");
pub const R4_1: CheckTag = CheckTag("[R4.1]");
pub const R5_1: CheckTag = CheckTag("[R5.1]");
pub const R5_2: CheckTag = CheckTag("[R5.2]");

/// The public description of one resharing. Every participant must be given the same one (the
/// node takes it from the ledger); it is hashed into every message and proof, so parties with
/// different statements fail `[R1.1]` in the first round.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReshareStatement {
    /// The key's identity; it stays the same across reshares.
    pub key_id: SessionId,
    pub level: SecurityLevel,
    pub public_key: ProjectivePoint,
    pub chain_code: [u8; 32],
    /// The old committee: its threshold and every old party's public share `X_i`, by index.
    pub old_threshold: u16,
    pub old_public_shares: Vec<ProjectivePoint>,
    /// The old parties that deal (at least `old_threshold` of them, distinct, sorted).
    pub dealers: Vec<PartyIndex>,
    /// The new committee.
    pub new_n: u16,
    pub new_threshold: u16,
}

impl ReshareStatement {
    /// A resharing of `share`'s key by `dealers` (old indices) to `new_threshold`-of-`new_n`.
    pub fn new(
        share: &KeyShare,
        dealers: Vec<PartyIndex>,
        new_n: u16,
        new_threshold: u16,
    ) -> Result<Self, ProtocolError> {
        let bad = |e: tessera_keyshare::KeyShareError| ProtocolError::InvalidInput(e.to_string());
        let old_public_shares = (0..share.n)
            .map(|i| share.public_share(PartyIndex(i)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(bad)?;
        let mut dealers = dealers;
        dealers.sort();
        let st = Self {
            key_id: share.key_id,
            level: share.level,
            public_key: share.public_key_point().map_err(bad)?,
            chain_code: share.chain_code,
            old_threshold: share.threshold,
            old_public_shares,
            dealers,
            new_n,
            new_threshold,
        };
        st.validate()?;
        Ok(st)
    }

    /// Refresh: `dealers` reshare onto the same committee and threshold.
    pub fn refresh(share: &KeyShare, dealers: Vec<PartyIndex>) -> Result<Self, ProtocolError> {
        Self::new(share, dealers, share.n, share.threshold)
    }

    /// Checks the statement is usable: sizes, dealer set, and `Σ λ_k·X_k = y` over the dealers.
    pub fn validate(&self) -> Result<(), ProtocolError> {
        let invalid = |s: String| Err(ProtocolError::InvalidInput(s));
        if self.new_n == 0 || self.new_threshold == 0 || self.new_threshold > self.new_n {
            return invalid(format!(
                "new committee {}-of-{}: need 1 <= threshold <= n",
                self.new_threshold, self.new_n
            ));
        }
        let old_n = u16::try_from(self.old_public_shares.len())
            .map_err(|_| ProtocolError::InvalidInput("old committee too large".into()))?;
        let seats = usize::from(self.new_n) + self.dealers.len();
        if seats > usize::from(u16::MAX) {
            return invalid("too many participants".into());
        }
        if self.dealers.len() < usize::from(self.old_threshold) {
            return invalid(format!(
                "{} dealers, the old threshold needs at least {}",
                self.dealers.len(),
                self.old_threshold
            ));
        }
        let set = SignerSet::new(
            self.dealers.clone(),
            u16::try_from(self.dealers.len()).unwrap_or(u16::MAX),
            old_n,
        )
        .map_err(|e| ProtocolError::InvalidInput(format!("dealer set: {e}")))?;
        let mut y = ProjectivePoint::IDENTITY;
        for &d in set.parties() {
            let x = self
                .old_public_shares
                .get(d.as_usize())
                .ok_or_else(|| ProtocolError::InvalidInput("dealer out of range".into()))?;
            let l = set
                .lagrange_at_zero(d)
                .ok_or_else(|| ProtocolError::InvalidInput("dealer not in set".into()))?;
            y += *x * l;
        }
        if y != self.public_key {
            return invalid(
                "the old public shares of the dealers do not interpolate to the public key".into(),
            );
        }
        Ok(())
    }

    /// The number of seats in the session: receivers then dealers.
    pub fn seats(&self) -> u16 {
        // validate() bounds this.
        self.new_n
            .saturating_add(u16::try_from(self.dealers.len()).unwrap_or(u16::MAX))
    }

    /// The seat of new party `j`.
    pub fn receiver_seat(&self, j: PartyIndex) -> PartyIndex {
        j
    }

    /// The seat of the dealer with old index `old`, if it deals.
    pub fn dealer_seat(&self, old: PartyIndex) -> Option<PartyIndex> {
        let k = self.dealers.iter().position(|&d| d == old)?;
        let k = u16::try_from(k).ok()?;
        Some(PartyIndex(self.new_n.checked_add(k)?))
    }

    /// Every seat, receivers first.
    pub fn participants(&self) -> Vec<PartyIndex> {
        (0..self.seats()).map(PartyIndex).collect()
    }

    pub(crate) fn is_dealer_seat(&self, seat: PartyIndex) -> bool {
        seat.0 >= self.new_n && seat.0 < self.seats()
    }

    /// The old index of the dealer at `seat`.
    pub(crate) fn dealer_at(&self, seat: PartyIndex) -> Option<PartyIndex> {
        let k = seat.0.checked_sub(self.new_n)?;
        self.dealers.get(usize::from(k)).copied()
    }

    /// The receivers' seats `0..N′`.
    pub(crate) fn receivers(&self) -> impl Iterator<Item = PartyIndex> {
        (0..self.new_n).map(PartyIndex)
    }

    /// The dealers' seats.
    pub(crate) fn dealer_seats(&self) -> impl Iterator<Item = PartyIndex> {
        (self.new_n..self.seats()).map(PartyIndex)
    }

    /// `λ_k·X_k`: what dealer `old`'s constant-term commitment must be.
    pub(crate) fn expected_constant(&self, old: PartyIndex) -> Option<ProjectivePoint> {
        let n = u16::try_from(self.dealers.len()).ok()?;
        let set = SignerSet::new(self.dealers.clone(), n, u16::MAX).ok()?;
        let l = set.lagrange_at_zero(old)?;
        Some(*self.old_public_shares.get(old.as_usize())? * l)
    }

    /// The digest every message and proof is bound to.
    pub fn digest(&self) -> [u8; 32] {
        let mut t = Transcript::new(b"tessera.ecdsa.reshare.statement.v1");
        t.append_sid(&self.key_id);
        let l = &self.level;
        for v in [
            l.kappa,
            l.ell,
            l.ell_prime,
            l.epsilon,
            l.m,
            l.min_modulus_bits,
            l.max_modulus_bits,
            l.prime_bits,
        ] {
            t.append_u64(b"level", u64::from(v));
        }
        t.append_point(b"y", &self.public_key);
        t.append(b"chain", &self.chain_code);
        t.append_u64(b"old_threshold", u64::from(self.old_threshold));
        t.append_points(b"old_public_shares", &self.old_public_shares);
        t.append_u64(b"dealers", self.dealers.len() as u64);
        for d in &self.dealers {
            t.append_party(b"dealer", *d);
        }
        t.append_u64(b"new_n", u64::from(self.new_n));
        t.append_u64(b"new_threshold", u64::from(self.new_threshold));
        t.challenge_bytes32(b"statement")
    }
}

/// What a participant ends with.
#[derive(Debug)]
pub enum ReshareOutput {
    /// A receiver's share of the same key in the new committee.
    NewShare(Box<KeyShare>),
    /// A dealer's instruction: every receiver confirmed, consistently, to everyone — erase the
    /// old share now.
    Retire(Retirement),
}

/// A dealer's confirmation that the new committee holds the key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Retirement {
    pub key_id: SessionId,
    /// The old index whose share is to be erased.
    pub old_index: PartyIndex,
    /// The new committee's public data digest every receiver acknowledged.
    pub confirmation: [u8; 32],
}

impl ReshareOutput {
    pub fn into_share(self) -> Option<KeyShare> {
        match self {
            ReshareOutput::NewShare(k) => Some(*k),
            ReshareOutput::Retire(_) => None,
        }
    }

    pub fn retirement(&self) -> Option<&Retirement> {
        match self {
            ReshareOutput::Retire(r) => Some(r),
            ReshareOutput::NewShare(_) => None,
        }
    }
}

/// The Feldman commitments of a dealer (round 1).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct DealerCommit {
    pub statement: [u8; 32],
    pub coeffs: Vec<WirePoint>,
}

/// A receiver's Paillier / ring-Pedersen setup (round 1).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct ReceiverSetup {
    pub statement: [u8; 32],
    pub rp: RingPedersen,
    pub prm: prm::Proof,
    pub modulus: modulus::Proof,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) enum Msg1 {
    Dealer(DealerCommit),
    Receiver(Box<ReceiverSetup>),
}

/// A dealer's encrypted shares, one per receiver by index (round 2).
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Dealing {
    pub shares: Vec<Integer>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct FacMsg {
    pub fac: fac::Proof,
}

/// A receiver's claim that a dealer's share is bad, with the evidence.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Complaint {
    /// The dealer's seat.
    pub dealer: PartyIndex,
    pub plaintext: Integer,
    pub nonce: Integer,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Confirm {
    pub complaints: Vec<Complaint>,
    pub schnorr: Option<schnorr::Proof>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Ack {
    pub digest: [u8; 32],
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Echo {
    /// The acknowledgement received from each receiver, by receiver index (own included).
    pub acks: Vec<Option<[u8; 32]>>,
}

/// This participant's role.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Dealer { old: PartyIndex },
    Receiver { j: PartyIndex },
}

/// Parameters shared by every round.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    pub sid: SessionId,
    pub me: PartyIndex,
    pub role: Role,
    pub st: ReshareStatement,
    pub digest: [u8; 32],
    pub behaviour: crate::malicious::Behaviour,
}

impl Common {
    pub fn others(&self) -> impl Iterator<Item = PartyIndex> + '_ {
        let me = self.me;
        self.st.participants().into_iter().filter(move |&p| p != me)
    }

    pub fn other_receivers(&self) -> impl Iterator<Item = PartyIndex> + '_ {
        let me = self.me;
        self.st.receivers().filter(move |&p| p != me)
    }

    pub fn other_dealers(&self) -> impl Iterator<Item = PartyIndex> + '_ {
        let me = self.me;
        self.st.dealer_seats().filter(move |&p| p != me)
    }

    pub fn header(&self, round: u16, delivery: Delivery) -> tessera_core::wire::Header {
        tessera_core::wire::Header {
            version: tessera_core::wire::WIRE_VERSION,
            protocol: ProtocolId::Reshare,
            sid: self.sid,
            round,
            from: self.me,
            delivery,
        }
    }

    /// A proof context bound to this session, the statement, and prover (and verifier).
    pub fn ctx(
        &self,
        proof: &'static [u8],
        prover: PartyIndex,
        verifier: Option<PartyIndex>,
    ) -> Transcript {
        let mut t = crate::common::proof_ctx(PROTOCOL, &self.sid, proof, prover, verifier);
        t.append(b"statement", &self.digest);
        t
    }
}

pub(crate) fn blame(p: PartyIndex, tag: CheckTag, reason: impl Into<String>) -> Blame {
    Blame::new(p, tag, reason)
}

/// What the new committee's public data hashes to: the acknowledged outcome.
pub(crate) fn outcome_digest(
    c: &Common,
    public_shares: &[ProjectivePoint],
    aux: &[RingPedersen],
) -> [u8; 32] {
    let mut t = Transcript::new(b"tessera.ecdsa.reshare.outcome.v1");
    t.append_sid(&c.sid);
    t.append(b"statement", &c.digest);
    t.append_points(b"public_shares", public_shares);
    for rp in aux {
        t.append(b"N", &rp.n.to_digits::<u8>(rug::integer::Order::Msf));
        t.append(b"s", &rp.s.to_digits::<u8>(rug::integer::Order::Msf));
        t.append(b"t", &rp.t.to_digits::<u8>(rug::integer::Order::Msf));
    }
    t.challenge_bytes32(b"outcome")
}

/// Sums every dealer's commitments evaluated at receiver `j`: `X′_j`.
pub(crate) fn public_share_of(dealt: &[Vec<ProjectivePoint>], j: PartyIndex) -> ProjectivePoint {
    let mut acc = ProjectivePoint::IDENTITY;
    for coeffs in dealt {
        acc += crate::keygen::feldman_eval(coeffs, j);
    }
    acc
}

enum State {
    R1(Box<r1::Round1>),
    R2(Box<r2::Round2>),
    R3(Box<r3::Round3>),
    R4(Box<r4::Round4>),
    R5(Box<r5::Round5>),
}

/// One participant's side of a resharing. Drive it with [`StateMachine`].
pub struct Reshare {
    state: State,
    parties: Vec<PartyIndex>,
    me: PartyIndex,
}

impl std::fmt::Debug for Reshare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = match self.state {
            State::R1(_) => 1,
            State::R2(_) => 2,
            State::R3(_) => 3,
            State::R4(_) => 4,
            State::R5(_) => 5,
        };
        write!(f, "Reshare(seat {}, round {r})", self.me)
    }
}

impl Reshare {
    /// An old party that deals its share. It reads `x_i` from `old` and keeps only a copy of
    /// it; the caller erases `old` when the protocol returns [`ReshareOutput::Retire`].
    pub fn dealer(
        sid: SessionId,
        statement: ReshareStatement,
        old: &KeyShare,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        Self::start_dealer(
            sid,
            statement,
            old,
            crate::malicious::Behaviour::Honest,
            rng,
        )
    }

    /// A member of the new committee, index `j`, with a Paillier key from fresh safe primes.
    pub fn receiver(
        sid: SessionId,
        statement: ReshareStatement,
        j: PartyIndex,
        paillier: tessera_paillier::SecretKey,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        Self::start_receiver(
            sid,
            statement,
            j,
            paillier,
            crate::malicious::Behaviour::Honest,
            rng,
        )
    }

    fn start_dealer(
        sid: SessionId,
        st: ReshareStatement,
        old: &KeyShare,
        behaviour: crate::malicious::Behaviour,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        st.validate()?;
        let bad = |e: tessera_keyshare::KeyShareError| ProtocolError::InvalidInput(e.to_string());
        let mine = ReshareStatement::new(old, st.dealers.clone(), st.new_n, st.new_threshold)?;
        if mine != st {
            return Err(ProtocolError::InvalidInput(
                "the key share does not belong to this resharing's old committee".into(),
            ));
        }
        let me = st.dealer_seat(old.index).ok_or_else(|| {
            ProtocolError::InvalidInput(format!("party {} is not a dealer", old.index))
        })?;
        let x = zeroize::Zeroizing::new(old.secret_share().map_err(bad)?);
        let common = Common {
            sid,
            me,
            role: Role::Dealer { old: old.index },
            digest: st.digest(),
            st,
            behaviour,
        };
        let parties = common.st.participants();
        let r1 = r1::Round1::dealer(common, &x, rng)?;
        Ok(Self {
            state: State::R1(Box::new(r1)),
            parties,
            me,
        })
    }

    fn start_receiver(
        sid: SessionId,
        st: ReshareStatement,
        j: PartyIndex,
        paillier: tessera_paillier::SecretKey,
        behaviour: crate::malicious::Behaviour,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        st.validate()?;
        if j.0 >= st.new_n {
            return Err(ProtocolError::InvalidInput(format!(
                "new party index {j} is not below n′ = {}",
                st.new_n
            )));
        }
        let bits = paillier.public().n().significant_bits();
        if bits < st.level.min_modulus_bits || bits > st.level.max_modulus_bits {
            return Err(ProtocolError::InvalidInput(format!(
                "own Paillier modulus has {bits} bits, the security level needs {}..={}",
                st.level.min_modulus_bits, st.level.max_modulus_bits
            )));
        }
        let me = st.receiver_seat(j);
        let common = Common {
            sid,
            me,
            role: Role::Receiver { j },
            digest: st.digest(),
            st,
            behaviour,
        };
        let parties = common.st.participants();
        let r1 = r1::Round1::receiver(common, paillier, rng)?;
        Ok(Self {
            state: State::R1(Box::new(r1)),
            parties,
            me,
        })
    }
}

#[cfg(feature = "malicious")]
impl Reshare {
    /// [`Reshare::dealer`] for a dealer that deviates as `behaviour` says (tests only).
    pub fn dealer_with_behaviour(
        sid: SessionId,
        statement: ReshareStatement,
        old: &KeyShare,
        behaviour: crate::malicious::Behaviour,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        Self::start_dealer(sid, statement, old, behaviour, rng)
    }

    /// [`Reshare::receiver`] for a receiver that deviates as `behaviour` says (tests only).
    pub fn receiver_with_behaviour(
        sid: SessionId,
        statement: ReshareStatement,
        j: PartyIndex,
        paillier: tessera_paillier::SecretKey,
        behaviour: crate::malicious::Behaviour,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        Self::start_receiver(sid, statement, j, paillier, behaviour, rng)
    }

    /// An independent copy of this participant in round 1 (typically once every round-1
    /// message is in), which deviates as `behaviour` says from round 2 on: tests branch one
    /// costly round 1 into several runs (tests only; the copy holds the same secrets).
    pub fn fork_with_behaviour(
        &self,
        behaviour: crate::malicious::Behaviour,
    ) -> Result<Self, ProtocolError> {
        let State::R1(r) = &self.state else {
            return Err(ProtocolError::InvalidInput("fork only in round 1".into()));
        };
        Ok(Self {
            state: State::R1(Box::new(r.fork(behaviour)?)),
            parties: self.parties.clone(),
            me: self.me,
        })
    }
}

impl StateMachine for Reshare {
    type Output = ReshareOutput;

    fn me(&self) -> PartyIndex {
        self.me
    }

    fn participants(&self) -> &[PartyIndex] {
        &self.parties
    }

    fn take_outgoing(&mut self) -> Vec<Outgoing> {
        match &mut self.state {
            State::R1(r) => std::mem::take(&mut r.out),
            State::R2(r) => std::mem::take(&mut r.out),
            State::R3(r) => std::mem::take(&mut r.out),
            State::R4(r) => std::mem::take(&mut r.out),
            State::R5(r) => std::mem::take(&mut r.out),
        }
    }

    fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        match &mut self.state {
            State::R1(r) => r.receive(from, bytes),
            State::R2(r) => r.receive(from, bytes),
            State::R3(r) => r.receive(from, bytes),
            State::R4(r) => r.receive(from, bytes),
            State::R5(r) => r.receive(from, bytes),
        }
    }

    fn ready(&self) -> bool {
        match &self.state {
            State::R1(r) => r.ready(),
            State::R2(r) => r.ready(),
            State::R3(r) => r.ready(),
            State::R4(r) => r.ready(),
            State::R5(r) => r.ready(),
        }
    }

    fn proceed(
        self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Transition<Self, ReshareOutput>, ProtocolError> {
        let Reshare { state, parties, me } = self;
        let wrap = |state| Transition::Continue(Reshare { state, parties, me });
        Ok(match state {
            State::R1(r) => wrap(State::R2(Box::new(r.proceed(rng)?))),
            State::R2(r) => wrap(State::R3(Box::new(r.proceed(rng)?))),
            State::R3(r) => wrap(State::R4(Box::new(r.proceed()?))),
            State::R4(r) => wrap(State::R5(Box::new(r.proceed()?))),
            State::R5(r) => Transition::Done(r.proceed()?),
        })
    }
}

/// A scalar as the `Zeroizing` secret it is.
pub(crate) type Secret = zeroize::Zeroizing<Scalar>;
