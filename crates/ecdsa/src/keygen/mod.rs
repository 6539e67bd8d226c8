//! Distributed key generation with each party's Paillier and ring-Pedersen setup.
//!
//! GG20 §3 key generation (after GG18 §4.1), hardened as CGGMP's auxiliary-info phase and
//! SECURITY-CHECKLIST "Setup" require. Four rounds, all messages broadcast except the Π^fac
//! proofs, which are per verifier:
//!
//! | round | sends | file |
//! |---|---|---|
//! | 1 | hash commitment `V_i` to the Feldman commitments, `rid_i`, chain-code share, `(N_i, s_i, t_i)` | [`r1`] |
//! | 2 | opening of `V_i`, Π^prm for `(N_i, s_i, t_i)` | [`r2`] |
//! | 3 | Π^mod for `N_i` (bound to `rid`), shares `f_i(j)` encrypted under each `N_j`; p2p Π^fac | [`r3`] |
//! | 4 | Schnorr proof of `x_i` bound to `rid`, or complaints revealing a bad share | [`r4`], [`complaint`] |
//!
//! Checks (each tag appears at the check, in the error and in a test):
//! - `[K1.1]` round-1 message decodes.
//! - `[K2.1]` opening matches the commitment; `[K2.2]` exactly `M` Feldman commitments, all
//!   valid non-identity points; `[K2.3]` `N_j`, `s_j`, `t_j` within the security level;
//!   `[K2.4]` Π^prm verifies.
//! - `[K3.1]` Π^mod verifies; `[K3.2]` Π^fac (addressed to us) verifies; `[K3.3]` exactly `n`
//!   share ciphertexts, each in Z*_{N_j²} of its recipient.
//! - `[K4.1]` a share fails the Feldman check (dealer blamed, with the receiver's revealed
//!   plaintext and nonce as evidence); `[K4.2]` a complaint's revealed plaintext/nonce does not
//!   re-encrypt to the broadcast ciphertext (accuser blamed); `[K4.3]` a complaint about a share
//!   that passes the Feldman check (false accusation, accuser blamed); `[K4.4]` Schnorr proof
//!   of `x_j` against `X_j` derived from the commitments; `[K4.5]` no proof and no complaint;
//!   `[K4.6]` more than one complaint about one dealer.

use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::point::WirePoint;
use tessera_core::wire::{Delivery, Outgoing, ProtocolId};
use tessera_core::{
    Blame, CheckTag, PartyIndex, ProtocolError, SessionId, StateMachine, Transition,
};
use tessera_keyshare::KeyShare;
use tessera_zk::{fac, modulus, prm, schnorr, RingPedersen, SecurityLevel};

mod complaint;
mod r1;
mod r2;
mod r3;
mod r4;

pub const PROTOCOL: &[u8] = b"tessera.ecdsa.keygen.v1";

pub const K1_1: CheckTag = CheckTag("[K1.1]");
pub const K2_1: CheckTag = CheckTag("[K2.1]");
pub const K2_2: CheckTag = CheckTag("[K2.2]");
pub const K2_3: CheckTag = CheckTag("[K2.3]");
pub const K2_4: CheckTag = CheckTag("[K2.4]");
pub const K3_1: CheckTag = CheckTag("[K3.1]");
pub const K3_2: CheckTag = CheckTag("[K3.2]");
pub const K3_3: CheckTag = CheckTag("[K3.3]");
pub const K4_1: CheckTag = CheckTag("[K4.1]");
pub const K4_2: CheckTag = CheckTag("[K4.2]");
pub const K4_3: CheckTag = CheckTag("[K4.3]");
pub const K4_4: CheckTag = CheckTag("[K4.4]");
pub const K4_5: CheckTag = CheckTag("[K4.5]");
pub const K4_6: CheckTag = CheckTag("[K4.6]");

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast1 {
    pub commitment: [u8; 32],
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast2 {
    pub coeffs: Vec<WirePoint>,
    pub rid: [u8; 32],
    pub chain: [u8; 32],
    pub rp: RingPedersen,
    pub nonce: [u8; 32],
    pub prm: prm::Proof,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast3 {
    pub modulus: modulus::Proof,
    /// `Enc_{N_j}(f_i(j + 1))` for every party `j` (own slot included), by index.
    pub shares: Vec<Integer>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct P2p3 {
    pub fac: fac::Proof,
}

/// A receiver's claim that a dealer's share is bad, with the evidence that lets everyone decide.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Complaint {
    pub dealer: PartyIndex,
    pub plaintext: Integer,
    pub nonce: Integer,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast4 {
    pub complaints: Vec<Complaint>,
    pub schnorr: Option<schnorr::Proof>,
}

/// What a party's round-2 opening gave us about it.
#[derive(Clone)]
pub(crate) struct Opened {
    pub coeffs: Vec<ProjectivePoint>,
    pub rid: [u8; 32],
    pub chain: [u8; 32],
    pub rp: RingPedersen,
}

/// Parameters shared by every round.
#[derive(Clone, Debug)]
pub(crate) struct Common {
    pub sid: SessionId,
    pub me: PartyIndex,
    pub parties: Vec<PartyIndex>,
    pub threshold: u16,
    pub level: SecurityLevel,
    pub behaviour: crate::malicious::Behaviour,
}

impl Common {
    pub fn others(&self) -> impl Iterator<Item = PartyIndex> + '_ {
        let me = self.me;
        self.parties.iter().copied().filter(move |&p| p != me)
    }

    pub fn header(&self, round: u16, delivery: Delivery) -> tessera_core::wire::Header {
        tessera_core::wire::Header {
            version: tessera_core::wire::WIRE_VERSION,
            protocol: ProtocolId::Keygen,
            sid: self.sid,
            round,
            from: self.me,
            delivery,
        }
    }
}

/// Evaluates the Feldman commitments at party `p`: `Σ_k (p+1)^k · A_k`.
pub(crate) fn feldman_eval(coeffs: &[ProjectivePoint], p: PartyIndex) -> ProjectivePoint {
    let x = p.eval_point();
    let mut acc = ProjectivePoint::IDENTITY;
    for c in coeffs.iter().rev() {
        acc = acc * x + c;
    }
    acc
}

/// Evaluates a secret polynomial at party `p`.
pub(crate) fn poly_eval(coeffs: &[Scalar], p: PartyIndex) -> Scalar {
    let x = p.eval_point();
    let mut acc = Scalar::ZERO;
    for c in coeffs.iter().rev() {
        acc = acc * x + c;
    }
    acc
}

pub(crate) fn blame(p: PartyIndex, tag: CheckTag, reason: impl Into<String>) -> Blame {
    Blame::new(p, tag, reason)
}

enum State {
    R1(Box<r1::Round1>),
    R2(Box<r2::Round2>),
    R3(Box<r3::Round3>),
    R4(Box<r4::Round4>),
}

/// One party's key generation. Drive it with [`StateMachine`].
pub struct Keygen {
    state: State,
    parties: Vec<PartyIndex>,
    me: PartyIndex,
}

impl std::fmt::Debug for Keygen {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = match self.state {
            State::R1(_) => 1,
            State::R2(_) => 2,
            State::R3(_) => 3,
            State::R4(_) => 4,
        };
        write!(f, "Keygen(party {}, round {r})", self.me)
    }
}

impl Keygen {
    /// Starts key generation for party `me` of `n`, with `threshold` signers needed, using this
    /// party's Paillier key (from freshly generated safe primes).
    pub fn new(
        sid: SessionId,
        me: PartyIndex,
        n: u16,
        threshold: u16,
        level: SecurityLevel,
        paillier: tessera_paillier::SecretKey,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        Self::start(
            sid,
            me,
            n,
            threshold,
            level,
            paillier,
            crate::malicious::Behaviour::Honest,
            rng,
        )
    }

    /// The behaviour is known before round 1 is built: some deviations are in the commitment.
    #[allow(clippy::too_many_arguments)]
    fn start(
        sid: SessionId,
        me: PartyIndex,
        n: u16,
        threshold: u16,
        level: SecurityLevel,
        paillier: tessera_paillier::SecretKey,
        behaviour: crate::malicious::Behaviour,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        if n == 0 || threshold == 0 || threshold > n {
            return Err(ProtocolError::InvalidInput(format!(
                "threshold {threshold} of {n} parties: need 1 <= threshold <= n"
            )));
        }
        if me.0 >= n {
            return Err(ProtocolError::InvalidInput(format!(
                "party index {me} is not below n = {n}"
            )));
        }
        let bits = paillier.public().n().significant_bits();
        if bits < level.min_modulus_bits || bits > level.max_modulus_bits {
            return Err(ProtocolError::InvalidInput(format!(
                "own Paillier modulus has {bits} bits, the security level needs {}..={}",
                level.min_modulus_bits, level.max_modulus_bits
            )));
        }
        let parties: Vec<PartyIndex> = (0..n).map(PartyIndex).collect();
        let common = Common {
            sid,
            me,
            parties: parties.clone(),
            threshold,
            level,
            behaviour,
        };
        let r1 = r1::Round1::new(common, paillier, rng)?;
        Ok(Self {
            state: State::R1(Box::new(r1)),
            parties,
            me,
        })
    }
}

#[cfg(feature = "malicious")]
impl Keygen {
    /// [`Keygen::new`] for a party that deviates as `behaviour` says (tests only).
    #[allow(clippy::too_many_arguments)]
    pub fn new_with_behaviour(
        sid: SessionId,
        me: PartyIndex,
        n: u16,
        threshold: u16,
        level: SecurityLevel,
        paillier: tessera_paillier::SecretKey,
        behaviour: crate::malicious::Behaviour,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        Self::start(sid, me, n, threshold, level, paillier, behaviour, rng)
    }

    /// An independent copy of this party at the start of round 3 or 4 (before it has received
    /// anything of the round), its outgoing messages included if not yet taken: tests branch
    /// one run into several instead of paying for rounds 1–3 again (tests only; the copy holds
    /// the same secrets).
    pub fn fork(&self) -> Result<Self, ProtocolError> {
        let state = match &self.state {
            State::R3(r) => State::R3(Box::new(r.fork()?)),
            State::R4(r) => State::R4(Box::new(r.fork()?)),
            State::R1(_) | State::R2(_) => {
                return Err(ProtocolError::InvalidInput(
                    "fork only at the start of round 3 or 4".into(),
                ))
            }
        };
        Ok(Self {
            state,
            parties: self.parties.clone(),
            me: self.me,
        })
    }
}

/// Whether nothing has been received into `inbox`: [`Keygen::fork`] copies a round only at its
/// start, so that a copy never silently drops messages.
#[cfg(feature = "malicious")]
fn untouched<T>(inbox: &tessera_core::inbox::Inbox<T>) -> bool {
    inbox.iter().next().is_none() && inbox.blames().is_empty()
}

/// A second owner of the same Paillier key, for [`Keygen::fork`] (the key is not `Clone`).
#[cfg(feature = "malicious")]
pub(crate) fn copy_paillier(
    k: &tessera_paillier::SecretKey,
) -> Result<tessera_paillier::SecretKey, ProtocolError> {
    tessera_paillier::SecretKey::from_primes(k.p().clone(), k.q().clone())
        .map_err(|e| ProtocolError::Bug(format!("copying the Paillier key: {e}")))
}

impl StateMachine for Keygen {
    type Output = KeyShare;

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
        }
    }

    fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        match &mut self.state {
            State::R1(r) => r.receive(from, bytes),
            State::R2(r) => r.receive(from, bytes),
            State::R3(r) => r.receive(from, bytes),
            State::R4(r) => r.receive(from, bytes),
        }
    }

    fn ready(&self) -> bool {
        match &self.state {
            State::R1(r) => r.ready(),
            State::R2(r) => r.ready(),
            State::R3(r) => r.ready(),
            State::R4(r) => r.ready(),
        }
    }

    fn proceed(
        self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Transition<Self, KeyShare>, ProtocolError> {
        let Keygen { state, parties, me } = self;
        let wrap = |state| Transition::Continue(Keygen { state, parties, me });
        Ok(match state {
            State::R1(r) => wrap(State::R2(Box::new(r.proceed(rng)?))),
            State::R2(r) => wrap(State::R3(Box::new(r.proceed(rng)?))),
            State::R3(r) => wrap(State::R4(Box::new(r.proceed(rng)?))),
            State::R4(r) => Transition::Done(r.proceed()?),
        })
    }
}
