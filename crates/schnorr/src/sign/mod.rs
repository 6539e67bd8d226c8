//! Two-round FROST signing (RFC 9591 §5; Komlo & Goldberg, "FROST", Figure 3), every signer
//! acting as its own coordinator: commitments and signature shares are broadcast, and every
//! signer aggregates and verifies the signature itself.
//!
//! | round | sends | file |
//! |---|---|---|
//! | 1 | broadcast: nonce commitments `(D_i, E_i)` (nonces hedged with the secret share by frost's `Nonce::new`) | [`r1`] |
//! | 2 | broadcast: signature share `z_i` | [`r2`] |
//!
//! Checks (each tag appears at the check, in the blame and in a test):
//! - `[FS1.1]` commitments decode for this ciphersuite (valid, non-identity points).
//! - `[FS2.1]` a signature share decodes (a canonical scalar).
//! - `[FS2.2]` the share verifies against the sender's public verifying share:
//!   `g^{z_i} = R_i · Y_i^{c·λ_i}` (RFC 9591 §5.4 `verify_signature_share`, frost's cheater
//!   detection). Every failing share is blamed; the aggregated signature is then checked once
//!   more with frost's `aggregate` (all cheaters) and verified against the group key before it
//!   is returned — for BIP340 the BIP341 output key, see the crate docs.
//!
//! Signing the same message twice uses fresh nonces each time; a nonce is consumed by value in
//! round 2 and never stored. The message rules are the suite's ([`crate::Suite::check_message`]).
//! The signing session's id is in every header; FROST needs no more binding (its binding factors
//! hash the message and every commitment).

use frost_core::keys::{KeyPackage, PublicKeyPackage};
use tessera_core::wire::{Outgoing, ProtocolId};
use tessera_core::{
    Blame, CheckTag, PartyIndex, ProtocolError, SessionId, StateMachine, Transition,
};

use crate::{KeyShare, Suite};

mod r1;
mod r2;

pub const FS1_1: CheckTag = CheckTag("[FS1.1]");
pub const FS2_1: CheckTag = CheckTag("[FS2.1]");
pub const FS2_2: CheckTag = CheckTag("[FS2.2]");

pub(crate) const PROTOCOL: ProtocolId = ProtocolId::FrostSign;

/// A 64-byte Schnorr signature: `R ‖ z` for Ed25519 (RFC 8032), `x(R) ‖ s` for BIP340.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Signature(pub [u8; 64]);

impl Signature {
    pub fn to_hex(&self) -> String {
        hex::encode(self.0)
    }
}

/// Parameters shared by both rounds.
pub(crate) struct Common<C: Suite> {
    pub sid: SessionId,
    pub me: PartyIndex,
    pub signers: Vec<PartyIndex>,
    pub message: Vec<u8>,
    /// `(party, identifier)` of the signers.
    pub ids: Vec<(PartyIndex, frost_core::Identifier<C>)>,
    /// Secret: frost zeroizes it on drop.
    pub key: KeyPackage<C>,
    pub public: PublicKeyPackage<C>,
}

impl<C: Suite> Common<C> {
    pub fn others(&self) -> impl Iterator<Item = PartyIndex> + '_ {
        let me = self.me;
        self.signers.iter().copied().filter(move |&p| p != me)
    }

    pub fn id(&self, p: PartyIndex) -> Option<frost_core::Identifier<C>> {
        self.ids.iter().find(|(q, _)| *q == p).map(|(_, id)| *id)
    }

    pub fn party(&self, id: &frost_core::Identifier<C>) -> Option<PartyIndex> {
        self.ids.iter().find(|(_, i)| i == id).map(|(p, _)| *p)
    }
}

enum State<C: Suite> {
    R1(Box<r1::Round1<C>>),
    R2(Box<r2::Round2<C>>),
}

/// One signer's FROST signing run. Drive it with [`StateMachine`]; the output is a signature
/// that verifies under the key's group key.
pub struct Sign<C: Suite> {
    state: State<C>,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
}

impl<C: Suite> std::fmt::Debug for Sign<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let r = match self.state {
            State::R1(_) => 1,
            State::R2(_) => 2,
        };
        write!(f, "Sign<{}>(party {}, round {r})", C::KEY_TYPE, self.me)
    }
}

impl<C: Suite> Sign<C> {
    /// Starts signing `message` with `share` among `signers` (sorted, distinct key parties,
    /// at least the threshold, including this party). `sid` must be fresh and agreed.
    pub fn new(
        sid: SessionId,
        share: &KeyShare<C>,
        signers: Vec<PartyIndex>,
        message: Vec<u8>,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        C::check_message(&message)?;
        crate::common::check_parties(&signers, share.me, usize::from(share.threshold))?;
        let mut ids = Vec::with_capacity(signers.len());
        for &p in &signers {
            let id = share.id_of(p).ok_or_else(|| {
                ProtocolError::InvalidInput(format!("signer {p} is not a party of the key"))
            })?;
            ids.push((p, id));
        }
        let common = Common {
            sid,
            me: share.me,
            signers: signers.clone(),
            message,
            ids,
            key: share.key.clone(),
            public: share.public.clone(),
        };
        let me = share.me;
        let r1 = r1::Round1::new(common, rng)?;
        Ok(Self {
            state: State::R1(Box::new(r1)),
            me,
            signers,
        })
    }
}

impl<C: Suite> StateMachine for Sign<C> {
    type Output = Signature;

    fn me(&self) -> PartyIndex {
        self.me
    }

    fn participants(&self) -> &[PartyIndex] {
        &self.signers
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
    ) -> Result<Transition<Self, Signature>, ProtocolError> {
        let Sign { state, me, signers } = self;
        match state {
            State::R1(r) => Ok(Transition::Continue(Sign {
                state: State::R2(Box::new(r.proceed()?)),
                me,
                signers,
            })),
            State::R2(r) => r.proceed().map(Transition::Done),
        }
    }
}
