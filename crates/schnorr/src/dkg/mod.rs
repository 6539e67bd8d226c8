//! Distributed key generation and share refresh: FROST's Pedersen DKG with proofs of knowledge
//! (RFC 9591 appendix C; Komlo & Goldberg, "FROST", SAC 2020, Figure 1), run with frost
//! `keys::dkg`, and its zero-sharing variant frost `keys::refresh` (same group key, new shares).
//!
//! | round | sends | file |
//! |---|---|---|
//! | 1 | broadcast: Feldman commitments `C⃗_i` (and, for keygen, the proof of knowledge `σ_i`) — needs **reliable broadcast** (the node wraps the machine in `tessera_core::echo::Echo`) | [`r1`] |
//! | 2 | p2p: the share `f_i(ℓ)` for each other party `ℓ` (the transport encrypts it) | [`r2`] |
//!
//! Checks (each tag appears at the check, in the blame and in a test):
//! - `[FK1.1]` a round-1 package decodes for this ciphersuite (points valid, not the identity).
//! - `[FK1.2]` it has exactly `t` coefficient commitments (refresh: `t − 1`, the constant term
//!   being the identity by construction).
//! - `[FK1.3]` (keygen) the proof of knowledge of `a_{ℓ0}` verifies: `R_ℓ = g^{μ_ℓ}·φ_{ℓ0}^{−c_ℓ}`
//!   with `c_ℓ = H(ℓ, φ_{ℓ0}, R_ℓ)`; `ℓ` is the identifier derived from the keygen session, so
//!   a proof replayed from another session or party fails. (frost's refresh does not verify a
//!   proof: its polynomial's constant term is zero.)
//! - `[FK2.1]` a round-2 share decodes.
//! - `[FK2.2]` the share matches the sender's commitments: `g^{f_ℓ(i)} = Π_k φ_{ℓk}^{i^k}`.
//!
//! Every faulty message of a round is blamed before the round aborts.

use frost_core::keys::dkg::round1;
use frost_core::keys::{CoefficientCommitment, VerifiableSecretSharingCommitment};
use frost_core::{Group, Identifier};
use tessera_core::wire::{Outgoing, ProtocolId};
use tessera_core::{
    Blame, CheckTag, PartyIndex, ProtocolError, SessionId, StateMachine, Transition,
};

use crate::{KeyShare, Suite};

mod r1;
mod r2;

pub const FK1_1: CheckTag = CheckTag("[FK1.1]");
pub const FK1_2: CheckTag = CheckTag("[FK1.2]");
pub const FK1_3: CheckTag = CheckTag("[FK1.3]");
pub const FK2_1: CheckTag = CheckTag("[FK2.1]");
pub const FK2_2: CheckTag = CheckTag("[FK2.2]");

/// Keygen or refresh of an existing share.
pub(crate) enum Mode<C: Suite> {
    Keygen,
    Refresh(Box<KeyShare<C>>),
}

/// Parameters shared by both rounds.
pub(crate) struct Common<C: Suite> {
    /// This run's session id (in every header).
    pub sid: SessionId,
    /// The session the identifiers derive from: `sid` for keygen, the key's for refresh.
    pub key_sid: SessionId,
    pub me: PartyIndex,
    pub parties: Vec<PartyIndex>,
    pub threshold: u16,
    pub ids: Vec<(PartyIndex, Identifier<C>)>,
    pub mode: Mode<C>,
}

impl<C: Suite> Common<C> {
    pub fn protocol(&self) -> ProtocolId {
        match self.mode {
            Mode::Keygen => ProtocolId::FrostKeygen,
            Mode::Refresh(_) => ProtocolId::FrostRefresh,
        }
    }

    pub fn id(&self, p: PartyIndex) -> Result<Identifier<C>, ProtocolError> {
        self.ids
            .iter()
            .find(|(q, _)| *q == p)
            .map(|(_, id)| *id)
            .ok_or_else(|| ProtocolError::Bug(format!("no identifier for party {p}")))
    }

    pub fn others(&self) -> impl Iterator<Item = PartyIndex> + '_ {
        let me = self.me;
        self.parties.iter().copied().filter(move |&p| p != me)
    }

    /// The number of coefficient commitments a round-1 package must carry.
    pub fn expected_commitments(&self) -> usize {
        match self.mode {
            Mode::Keygen => usize::from(self.threshold),
            Mode::Refresh(_) => usize::from(self.threshold).saturating_sub(1),
        }
    }

    /// The commitment a share from a dealer is checked against: the package's, with the
    /// identity constant term put back for refresh (frost sends it without).
    pub fn full_commitment(
        &self,
        package: &round1::Package<C>,
    ) -> VerifiableSecretSharingCommitment<C> {
        match self.mode {
            Mode::Keygen => package.commitment().clone(),
            Mode::Refresh(_) => {
                let mut c = vec![CoefficientCommitment::new(C::Group::identity())];
                c.extend_from_slice(package.commitment().coefficients());
                VerifiableSecretSharingCommitment::new(c)
            }
        }
    }
}

enum State<C: Suite> {
    R1(Box<r1::Round1<C>>),
    R2(Box<r2::Round2<C>>),
}

/// One party's DKG or refresh. Drive it with [`StateMachine`]; the output is the new share.
pub struct Dkg<C: Suite> {
    state: State<C>,
    me: PartyIndex,
    parties: Vec<PartyIndex>,
}

impl<C: Suite> std::fmt::Debug for Dkg<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = match self.state {
            State::R1(_) => 1,
            State::R2(_) => 2,
        };
        write!(f, "Dkg<{}>(party {}, round {r})", C::KEY_TYPE, self.me)
    }
}

impl<C: Suite> Dkg<C> {
    /// Starts key generation for `me` among `parties` (sorted, distinct), `threshold` of which
    /// sign. `sid` must be fresh and agreed by all parties; the key's identifiers derive from it.
    pub fn new(
        sid: SessionId,
        me: PartyIndex,
        parties: Vec<PartyIndex>,
        threshold: u16,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        crate::common::check_parties(&parties, me, usize::from(threshold))?;
        if threshold < 2 {
            return Err(ProtocolError::InvalidInput(
                "threshold must be at least 2".into(),
            ));
        }
        let ids = crate::common::identifiers::<C>(&sid, &parties)?;
        let common = Common {
            sid,
            key_sid: sid,
            me,
            parties: parties.clone(),
            threshold,
            ids,
            mode: Mode::Keygen,
        };
        Self::start(common, rng)
    }

    /// Starts a refresh of `share` among all of the key's parties: the group key stays, every
    /// share changes, and old shares no longer combine with new ones. `sid` must be fresh.
    pub fn refresh(
        sid: SessionId,
        share: KeyShare<C>,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        if sid == share.sid {
            return Err(ProtocolError::InvalidInput(
                "a refresh needs a fresh session id".into(),
            ));
        }
        let common = Common {
            sid,
            key_sid: share.sid,
            me: share.me,
            parties: share.parties.clone(),
            threshold: share.threshold,
            ids: share.ids.clone(),
            mode: Mode::Refresh(Box::new(share)),
        };
        Self::start(common, rng)
    }

    fn start(
        common: Common<C>,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let me = common.me;
        let parties = common.parties.clone();
        let r1 = r1::Round1::new(common, rng)?;
        Ok(Self {
            state: State::R1(Box::new(r1)),
            me,
            parties,
        })
    }
}

impl<C: Suite> StateMachine for Dkg<C> {
    type Output = KeyShare<C>;

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
        }
    }

    fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        match &mut self.state {
            State::R1(r) => r.receive(from, bytes),
            State::R2(r) => r.receive(from, bytes),
        }
    }

    fn ready(&self) -> bool {
        match &self.state {
            State::R1(r) => r.ready(),
            State::R2(r) => r.ready(),
        }
    }

    fn proceed(
        self,
        _rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Transition<Self, KeyShare<C>>, ProtocolError> {
        let Dkg { state, me, parties } = self;
        match state {
            State::R1(r) => Ok(Transition::Continue(Dkg {
                state: State::R2(Box::new(r.proceed()?)),
                me,
                parties,
            })),
            State::R2(r) => r.proceed().map(Transition::Done),
        }
    }
}
