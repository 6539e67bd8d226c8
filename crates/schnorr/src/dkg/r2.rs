//! DKG round 2: send each party its share; check the shares received against the dealers'
//! commitments; sum them into the long-lived share.
//!
//! FROST Figure 1, Round 2 > "1. Each P_i securely sends to each other participant P_ℓ a secret
//! share (ℓ, f_i(ℓ)) … 2. Each P_i verifies their shares by calculating
//! g^{f_ℓ(i)} ≟ Π_{k=0}^{t−1} φ_{ℓk}^{i^k mod q} … 3. … s_i = Σ_{ℓ=1}^{n} f_ℓ(i) … 4. … Y_i = g^{s_i}
//! … the group's public key Y = Π_{j=1}^{n} φ_{j0}".
//!
//! IN: the round-1 packages (identical at every party thanks to the echo). OUT (p2p):
//! frost's `round2::Package`. CHECKS: `[FK2.1]` decodes, `[FK2.2]` Feldman check (dealer
//! blamed). Output: the [`KeyShare`], with the internal key `Σ φ_{j0}` kept beside frost's
//! (for BIP340 tweaked) group key.

use std::collections::BTreeMap;

use frost_core::keys::dkg::{self, round1, round2};
use frost_core::keys::{refresh, PublicKeyPackage, SecretShare};
use frost_core::Identifier;
use tessera_core::inbox::Inbox;
use tessera_core::wire::{Delivery, Outgoing};
use tessera_core::{Blame, PartyIndex, ProtocolError};

use super::{Common, Mode, FK2_1, FK2_2};
use crate::common::{bug, decode, expect};
use crate::{KeyShare, Suite};

pub(crate) struct Round2<C: Suite> {
    pub common: Common<C>,
    pub out: Vec<Outgoing>,
    secret: round2::SecretPackage<C>,
    own: round1::Package<C>,
    received: BTreeMap<Identifier<C>, round1::Package<C>>,
    by_party: Vec<(PartyIndex, round1::Package<C>)>,
    inbox: Inbox<round2::Package<C>>,
}

impl<C: Suite> Round2<C> {
    pub fn new(
        common: Common<C>,
        out: Vec<Outgoing>,
        secret: round2::SecretPackage<C>,
        own: round1::Package<C>,
        received: BTreeMap<Identifier<C>, round1::Package<C>>,
        by_party: Vec<(PartyIndex, round1::Package<C>)>,
    ) -> Self {
        let inbox = Inbox::new(common.others());
        Self {
            common,
            out,
            secret,
            own,
            received,
            by_party,
            inbox,
        }
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let common = &self.common;
        let e = expect(
            common.protocol(),
            common.sid,
            2,
            Delivery::P2p { to: common.me },
        );
        let dealer = self
            .by_party
            .iter()
            .find(|(p, _)| *p == from)
            .map(|(_, pkg)| pkg);
        self.inbox.accept(from, bytes, || {
            let payload = zeroize::Zeroizing::new(decode(bytes, from, &e)?);
            // [FK2.1]
            let package = round2::Package::<C>::deserialize(&payload)
                .map_err(|e| Blame::new(from, FK2_1, format!("share does not decode: {e}")))?;
            let dealer = dealer
                .ok_or_else(|| Blame::new(from, FK2_2, "no round-1 commitment from sender"))?;
            // [FK2.2] > "g^{f_ℓ(i)} ≟ Π_{k=0}^{t−1} φ_{ℓk}^{i^k mod q}"
            let me = common
                .id(common.me)
                .map_err(|e| Blame::new(from, FK2_2, e.to_string()))?;
            SecretShare::new(me, *package.signing_share(), common.full_commitment(dealer))
                .verify()
                .map_err(|_| {
                    Blame::new(from, FK2_2, "share fails the check against the commitments")
                })?;
            Ok(package)
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self) -> Result<KeyShare<C>, ProtocolError> {
        let Round2 {
            common,
            secret,
            own,
            received,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let mut shares = BTreeMap::new();
        for (p, package) in inbox.into_accepted() {
            shares.insert(common.id(p)?, package);
        }
        let Common {
            sid,
            key_sid,
            me,
            parties,
            threshold,
            ids,
            mode,
        } = common;
        let (key, public, internal_key) = match mode {
            Mode::Keygen => {
                let (key, public) = dkg::part3(&secret, &received, &shares)
                    .map_err(|e| bug("DKG part 3 on checked shares", e))?;
                // The internal key Σ φ_{j0}, before any ciphersuite post-processing.
                let own_id = ids
                    .iter()
                    .find(|(p, _)| *p == me)
                    .map(|(_, id)| *id)
                    .ok_or_else(|| ProtocolError::Bug("own identifier".into()))?;
                let commitments: BTreeMap<_, _> = received
                    .iter()
                    .map(|(id, pkg)| (*id, pkg.commitment()))
                    .chain(std::iter::once((own_id, own.commitment())))
                    .collect();
                let internal = PublicKeyPackage::from_dkg_commitments(&commitments)
                    .map_err(|e| bug("group key from commitments", e))?;
                (
                    key,
                    public,
                    C::canonical_internal_key(internal.verifying_key()),
                )
            }
            Mode::Refresh(old) => {
                let old = *old;
                let (key, public) = refresh::refresh_dkg_shares(
                    &secret,
                    &received,
                    &shares,
                    old.public.clone(),
                    old.key.clone(),
                )
                .map_err(|e| bug("refresh on checked shares", e))?;
                (key, public, old.internal_key)
            }
        };
        drop(shares);
        let _ = sid;
        KeyShare::new(key_sid, me, parties, threshold, key, public, internal_key)
            .map_err(|e| ProtocolError::Bug(format!("DKG output is inconsistent: {e}")))
    }
}
