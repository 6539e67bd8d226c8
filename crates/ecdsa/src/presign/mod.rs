//! Presigning (GG20 offline phase): six rounds among the M signers, ending in a single-use
//! [`Presignature`].
//!
//! | round | sends | file |
//! |---|---|---|
//! | 1 | `C_i = Com(Γ_i)`, `K_i = Enc_i(k_i)`; p2p Π^enc on `k_i` | [`r1`] |
//! | 2 | `Γ_i` and the MtA ciphertexts `D^γ, F^γ, D^w, F^w` to every signer; p2p Π^aff-g ×2 | [`r2`] |
//! | 3 | `δ_i`, `T_i = σ_i·G + l_i·H` with a proof of knowledge of the opening | [`r3`] |
//! | 4 | opening of `C_i`, with a Schnorr proof of `γ_i` | [`r4`] |
//! | 5 | `R̄_i = k_i·R`; p2p Π^log* (`R̄_i` consistent with `K_i`, base `R`) | [`r5`] |
//! | 6 | `S_i = σ_i·R` with a proof of consistency with `T_i` | [`r6`] |
//! | — | type-5 identification (`δ = 0` or `Σ R̄_j ≠ G`) | [`type5`] |
//! | — | type-7 identification (`Σ S_j ≠ y`) | [`type7`] |
//!
//! Notation: `w_i = λ_i·x_i` (Lagrange at 0 over the signer set), `W_j = λ_j·X_j`,
//! `k = Σk_i`, `γ = Σγ_i`, `δ = kγ`, `R = δ⁻¹·ΣΓ_j = k⁻¹·G`, `σ = kx`.
//! MtA: Bob `j` answers Alice `i`'s `K_i` with `D = K_i^{x}·Enc_i(y')` (x = γ_j or w_j, y' drawn
//! from ±2^{ℓ′}); Alice's share is `Dec_i(D) = k_i·x + y'`, Bob's is `−y'`.
//!
//! Every check's tag (`[P1.1]` …) is listed in the round's module doc.

use std::sync::Arc;

use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::point::{WirePoint, WireScalar};
use tessera_core::wire::{Delivery, Header, Outgoing, ProtocolId, WIRE_VERSION};
use tessera_core::{
    Blame, CheckTag, PartyIndex, ProtocolError, SessionId, SignerSet, StateMachine, Transition,
};
use tessera_keyshare::KeyShare;
use tessera_paillier::PublicKey;
use tessera_zk::{aff_g, enc, log_star, pedersen, schnorr, RingPedersen, SecurityLevel};
use zeroize::Zeroizing;

mod output;
mod r1;
mod r2;
mod r3;
mod r4;
mod r5;
mod r6;
mod type5;
mod type7;

pub use output::{Presignature, StoredPresignatureError};

pub const PROTOCOL: &[u8] = b"tessera.ecdsa.presign.v1";

pub const P1_1: CheckTag = CheckTag("[P1.1]");
pub const P1_2: CheckTag = CheckTag("[P1.2]");
pub const P2_1: CheckTag = CheckTag("[P2.1]");
pub const P2_2: CheckTag = CheckTag("[P2.2]");
pub const P2_3: CheckTag = CheckTag("[P2.3]");
pub const P2_4: CheckTag = CheckTag("[P2.4]");
pub const P3_1: CheckTag = CheckTag("[P3.1]");
pub const P3_2: CheckTag = CheckTag("[P3.2]");
pub const P4_1: CheckTag = CheckTag("[P4.1]");
pub const P4_2: CheckTag = CheckTag("[P4.2]");
pub const P4_3: CheckTag = CheckTag("[P4.3]");
pub const P5_1: CheckTag = CheckTag("[P5.1]");
pub const P5_2: CheckTag = CheckTag("[P5.2]");
pub const P6_1: CheckTag = CheckTag("[P6.1]");
pub const P6_2: CheckTag = CheckTag("[P6.2]");
pub const T5_0: CheckTag = CheckTag("[T5.0]");
pub const T5_1: CheckTag = CheckTag("[T5.1]");
pub const T5_2: CheckTag = CheckTag("[T5.2]");
pub const T5_3: CheckTag = CheckTag("[T5.3]");
pub const T5_4: CheckTag = CheckTag("[T5.4]");
pub const T5_5: CheckTag = CheckTag("[T5.5]");
pub const T7_0: CheckTag = CheckTag("[T7.0]");
pub const T7_1: CheckTag = CheckTag("[T7.1]");
pub const T7_2: CheckTag = CheckTag("[T7.2]");
pub const T7_3: CheckTag = CheckTag("[T7.3]");

pub(crate) const ROUND_TYPE5: u16 = 50;
pub(crate) const ROUND_TYPE7: u16 = 70;

// ---- messages ---------------------------------------------------------------------------

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast1 {
    pub gamma_commitment: [u8; 32],
    pub k_ct: Integer,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct P2p1 {
    pub enc: enc::Proof,
}

/// Bob's MtA ciphertexts for one Alice. Broadcast (they are ciphertexts under Alice's key), so
/// that identification can recompute them from revealed values.
#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct MtaCts {
    pub to: PartyIndex,
    /// `K_to^{γ_from} · Enc_to(β′)`
    pub d_gamma: Integer,
    /// `K_to^{w_from} · Enc_to(ν′)`
    pub d_w: Integer,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast2 {
    pub gamma: WirePoint,
    pub mta: Vec<MtaCts>,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct P2p2 {
    pub aff_gamma: aff_g::Proof,
    pub aff_w: aff_g::Proof,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast3 {
    pub delta: WireScalar,
    pub t: WirePoint,
    pub proof: pedersen::OpeningProof,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast4 {
    pub gamma: WirePoint,
    pub nonce: [u8; 32],
    pub schnorr: schnorr::Proof,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast5 {
    pub r_bar: WirePoint,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct P2p5 {
    pub log_star: log_star::Proof,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Bcast6 {
    pub s: WirePoint,
    pub proof: pedersen::ConsistencyProof,
}

// ---- shared state ------------------------------------------------------------------------

/// What a signer knows about another signer (or itself), filled in as rounds complete.
#[derive(Clone)]
pub(crate) struct PeerView {
    pub party: PartyIndex,
    pub pk: PublicKey,
    pub aux: RingPedersen,
    pub big_w: ProjectivePoint,
    pub k_ct: Integer,
    pub gamma_commitment: [u8; 32],
    pub gamma: ProjectivePoint,
    pub mta: Vec<MtaCts>,
    pub delta: Scalar,
    pub t: ProjectivePoint,
    pub r_bar: ProjectivePoint,
    pub s: ProjectivePoint,
}

/// Bob-side MtA secrets toward one Alice.
pub(crate) struct BobSecrets {
    pub to: PartyIndex,
    pub beta: Integer,
    pub beta_nonce: Integer,
    pub nu: Integer,
}

/// Everything one signer carries from round to round.
pub(crate) struct Ctx {
    pub sid: SessionId,
    pub me: PartyIndex,
    pub signers: SignerSet,
    pub level: SecurityLevel,
    pub share: Arc<KeyShare>,
    pub public_key: ProjectivePoint,
    pub peers: Vec<PeerView>,
    pub k: Zeroizing<Scalar>,
    pub gamma: Zeroizing<Scalar>,
    pub w: Zeroizing<Scalar>,
    /// Paillier nonce of `K_i`.
    pub k_nonce: Integer,
    pub gamma_nonce: [u8; 32],
    pub bob: Vec<BobSecrets>,
    pub delta: Scalar,
    pub sigma: Zeroizing<Scalar>,
    pub l: Zeroizing<Scalar>,
    pub r: ProjectivePoint,
    pub behaviour: crate::malicious::Behaviour,
}

impl Ctx {
    pub fn peer(&self, p: PartyIndex) -> Option<&PeerView> {
        self.peers.iter().find(|v| v.party == p)
    }

    pub fn peer_mut(&mut self, p: PartyIndex) -> Option<&mut PeerView> {
        self.peers.iter_mut().find(|v| v.party == p)
    }

    pub fn others(&self) -> Vec<PartyIndex> {
        self.signers
            .parties()
            .iter()
            .copied()
            .filter(|&p| p != self.me)
            .collect()
    }

    pub fn header(&self, round: u16, delivery: Delivery) -> Header {
        Header {
            version: WIRE_VERSION,
            protocol: ProtocolId::Presign,
            sid: self.sid,
            round,
            from: self.me,
            delivery,
        }
    }

    pub fn me_view(&self) -> Result<&PeerView, ProtocolError> {
        self.peer(self.me)
            .ok_or_else(|| ProtocolError::Bug("own view missing".into()))
    }
}

pub(crate) fn blame(p: PartyIndex, tag: CheckTag, reason: impl Into<String>) -> Blame {
    Blame::new(p, tag, reason)
}

// ---- state machine -----------------------------------------------------------------------

pub(crate) enum State {
    R1(Box<r1::Round1>),
    R2(Box<r2::Round2>),
    R3(Box<r3::Round3>),
    R4(Box<r4::Round4>),
    R5(Box<r5::Round5>),
    R6(Box<r6::Round6>),
    Type5(Box<type5::Type5>),
    Type7(Box<type7::Type7>),
}

/// What a round's `proceed` leads to.
pub(crate) enum Next {
    Round(State),
    Done(Box<Presignature>),
}

/// One signer's side of presigning. Drive it with [`StateMachine`]; the output is a
/// [`Presignature`] to be used exactly once.
pub struct Presign {
    state: State,
    participants: Vec<PartyIndex>,
    me: PartyIndex,
}

impl std::fmt::Debug for Presign {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Presign(party {})", self.me)
    }
}

impl Presign {
    /// Starts presigning for the signers `signers` (which must include this share's party).
    pub fn new(
        sid: SessionId,
        share: Arc<KeyShare>,
        signers: &[PartyIndex],
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let set = SignerSet::new(signers.to_vec(), share.threshold, share.n)
            .map_err(|e| ProtocolError::InvalidInput(e.to_string()))?;
        if !set.contains(share.index) {
            return Err(ProtocolError::InvalidInput(format!(
                "party {} is not in the signer set",
                share.index
            )));
        }
        let me = share.index;
        let participants = set.parties().to_vec();
        let r1 = r1::Round1::new(sid, share, set, rng)?;
        Ok(Self {
            state: State::R1(Box::new(r1)),
            participants,
            me,
        })
    }
}

#[cfg(feature = "malicious")]
impl Presign {
    /// [`Presign::new`] for a signer that deviates as `behaviour` says (tests only).
    pub fn new_with_behaviour(
        sid: SessionId,
        share: Arc<KeyShare>,
        signers: &[PartyIndex],
        behaviour: crate::malicious::Behaviour,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let mut p = Self::new(sid, share, signers, rng)?;
        if let State::R1(r) = &mut p.state {
            r.set_behaviour(behaviour);
        }
        Ok(p)
    }
}

macro_rules! each_round {
    ($s:expr, $r:ident => $e:expr) => {
        match $s {
            State::R1($r) => $e,
            State::R2($r) => $e,
            State::R3($r) => $e,
            State::R4($r) => $e,
            State::R5($r) => $e,
            State::R6($r) => $e,
            State::Type5($r) => $e,
            State::Type7($r) => $e,
        }
    };
}

impl StateMachine for Presign {
    type Output = Presignature;

    fn me(&self) -> PartyIndex {
        self.me
    }

    fn participants(&self) -> &[PartyIndex] {
        &self.participants
    }

    fn take_outgoing(&mut self) -> Vec<Outgoing> {
        each_round!(&mut self.state, r => std::mem::take(&mut r.out))
    }

    fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        each_round!(&mut self.state, r => r.receive(from, bytes))
    }

    fn ready(&self) -> bool {
        each_round!(&self.state, r => r.ready())
    }

    fn proceed(
        self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Transition<Self, Presignature>, ProtocolError> {
        let Presign {
            state,
            participants,
            me,
        } = self;
        let next = match state {
            State::R1(r) => r.proceed(rng)?,
            State::R2(r) => r.proceed(rng)?,
            State::R3(r) => r.proceed(rng)?,
            State::R4(r) => r.proceed(rng)?,
            State::R5(r) => r.proceed(rng)?,
            State::R6(r) => r.proceed(rng)?,
            State::Type5(r) => return Err(r.proceed()),
            State::Type7(r) => return Err(r.proceed()),
        };
        Ok(match next {
            Next::Round(state) => Transition::Continue(Presign {
                state,
                participants,
                me,
            }),
            Next::Done(p) => Transition::Done(*p),
        })
    }
}
