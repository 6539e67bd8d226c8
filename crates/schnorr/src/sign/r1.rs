//! Signing round 1: commit to two fresh nonces.
//!
//! RFC 9591 §5.1 > "Each participant in the signing set generates nonces and their
//! corresponding public commitments … hiding_nonce = nonce_generate(sk_i); binding_nonce =
//! nonce_generate(sk_i)" (nonce_generate hashes 32 fresh random bytes with the secret share).
//!
//! IN: the key share and the message. OUT (broadcast): `(D_i, E_i)`.
//! CHECK `[FS1.1]` each received commitment pair decodes (sender blamed).

use std::collections::BTreeMap;

use frost_core::round1::{self, SigningCommitments, SigningNonces};
use frost_core::SigningPackage;
use tessera_core::inbox::Inbox;
use tessera_core::wire::{Delivery, Outgoing};
use tessera_core::{Blame, PartyIndex, ProtocolError};

use super::{r2, Common, FS1_1, PROTOCOL};
use crate::common::{bug, decode, encode, expect, header};
use crate::Suite;

pub(crate) struct Round1<C: Suite> {
    pub common: Common<C>,
    pub out: Vec<Outgoing>,
    /// One-time: consumed by value in [`Round1::proceed`].
    nonces: SigningNonces<C>,
    own: SigningCommitments<C>,
    inbox: Inbox<SigningCommitments<C>>,
}

impl<C: Suite> Round1<C> {
    pub fn new(
        common: Common<C>,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let (nonces, own) = round1::commit(common.key.signing_share(), &mut *rng);
        let bytes = own.serialize().map_err(|e| bug("commitments", e))?;
        let h = header(PROTOCOL, common.sid, 1, common.me, Delivery::Broadcast);
        let out = vec![encode(&h, &bytes)];
        let inbox = Inbox::new(common.others());
        Ok(Self {
            common,
            out,
            nonces,
            own,
            inbox,
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(PROTOCOL, self.common.sid, 1, Delivery::Broadcast);
        self.inbox.accept(from, bytes, || {
            let payload = decode(bytes, from, &e)?;
            // [FS1.1]
            SigningCommitments::<C>::deserialize(&payload)
                .map_err(|e| Blame::new(from, FS1_1, format!("commitments do not decode: {e}")))
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    /// RFC 9591 §5.2 > "each participant … computes their signature share":
    /// `z_i = d_i + e_i·ρ_i + λ_i·s_i·c`.
    pub fn proceed(self) -> Result<r2::Round2<C>, ProtocolError> {
        let Round1 {
            common,
            nonces,
            own,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let mut commitments = BTreeMap::new();
        let own_id = common
            .id(common.me)
            .ok_or_else(|| ProtocolError::Bug("own identifier".into()))?;
        commitments.insert(own_id, own);
        for (p, c) in inbox.into_accepted() {
            let id = common
                .id(p)
                .ok_or_else(|| ProtocolError::Bug(format!("no identifier for {p}")))?;
            commitments.insert(id, c);
        }
        let package = SigningPackage::new(commitments, &common.message);
        let share = frost_core::round2::sign(&package, &nonces, &common.key)
            .map_err(|e| bug("signature share", e))?;
        drop(nonces);
        let h = header(PROTOCOL, common.sid, 2, common.me, Delivery::Broadcast);
        let out = vec![encode(&h, &share.serialize())];
        Ok(r2::Round2::new(common, out, package, share))
    }
}
