//! Signing round 2: check every signature share, aggregate, verify.
//!
//! RFC 9591 §5.3 > "the Coordinator performs the following steps … z = Σ z_i … return
//! (group_commitment, z)"; §5.4 > "verify_signature_share … l = G.ScalarBaseMult(sig_share);
//! r = comm_share + G.ScalarMult(PK_i, challenge · lambda_i); return l == r".
//!
//! IN: the signing package (all commitments and the message). OUT: the signature.
//! CHECKS: `[FS2.1]` share decodes, `[FS2.2]` share verifies (sender blamed). The aggregate is
//! verified against the group key before it is returned.

use std::collections::BTreeMap;

use frost_core::round2::SignatureShare;
use frost_core::{CheaterDetection, Identifier, SigningPackage};
use tessera_core::inbox::Inbox;
use tessera_core::wire::{Delivery, Outgoing};
use tessera_core::{Blame, PartyIndex, ProtocolError};

use super::{Common, Signature, FS2_1, FS2_2, PROTOCOL};
use crate::common::{bug, decode, expect};
use crate::Suite;

pub(crate) struct Round2<C: Suite> {
    pub common: Common<C>,
    pub out: Vec<Outgoing>,
    package: SigningPackage<C>,
    own: SignatureShare<C>,
    inbox: Inbox<SignatureShare<C>>,
}

impl<C: Suite> Round2<C> {
    pub fn new(
        common: Common<C>,
        out: Vec<Outgoing>,
        package: SigningPackage<C>,
        own: SignatureShare<C>,
    ) -> Self {
        let inbox = Inbox::new(common.others());
        Self {
            common,
            out,
            package,
            own,
            inbox,
        }
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(PROTOCOL, self.common.sid, 2, Delivery::Broadcast);
        let (common, package) = (&self.common, &self.package);
        self.inbox.accept(from, bytes, || {
            let payload = decode(bytes, from, &e)?;
            // [FS2.1]
            let share = SignatureShare::<C>::deserialize(&payload).map_err(|e| {
                Blame::new(from, FS2_1, format!("signature share does not decode: {e}"))
            })?;
            // [FS2.2] > "l = G.ScalarBaseMult(sig_share); r = comm_share + PK_i·(c·λ_i); l == r"
            let id = common
                .id(from)
                .ok_or_else(|| Blame::new(from, FS2_2, "sender is not a signer"))?;
            let vs = common
                .public
                .verifying_shares()
                .get(&id)
                .ok_or_else(|| Blame::new(from, FS2_2, "sender has no verifying share"))?;
            frost_core::verify_signature_share(
                id,
                vs,
                &share,
                package,
                common.public.verifying_key(),
            )
            .map_err(|e| {
                Blame::new(
                    from,
                    FS2_2,
                    format!("signature share fails verification: {e}"),
                )
            })?;
            Ok(share)
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self) -> Result<Signature, ProtocolError> {
        let Round2 {
            common,
            package,
            own,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let mut shares: BTreeMap<Identifier<C>, SignatureShare<C>> = BTreeMap::new();
        let own_id = common
            .id(common.me)
            .ok_or_else(|| ProtocolError::Bug("own identifier".into()))?;
        shares.insert(own_id, own);
        for (p, s) in inbox.into_accepted() {
            let id = common
                .id(p)
                .ok_or_else(|| ProtocolError::Bug(format!("no identifier for {p}")))?;
            shares.insert(id, s);
        }
        let sig = frost_core::aggregate_custom(
            &package,
            &shares,
            &common.public,
            CheaterDetection::AllCheaters,
        )
        .map_err(|e| {
            let culprits: Vec<Blame> = e
                .culprits()
                .iter()
                .filter_map(|id| common.party(id))
                .map(|p| {
                    Blame::new(
                        p,
                        FS2_2,
                        "signature share fails verification at aggregation",
                    )
                })
                .collect();
            if culprits.is_empty() {
                bug("aggregation", e)
            } else {
                ProtocolError::Aborted(culprits)
            }
        })?;
        // Verified again, independently of aggregate's internal check, before release.
        common
            .public
            .verifying_key()
            .verify(&common.message, &sig)
            .map_err(|e| bug("aggregate signature does not verify", e))?;
        let bytes = sig.serialize().map_err(|e| bug("signature encoding", e))?;
        let arr: [u8; 64] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| ProtocolError::Bug(format!("signature of {} bytes", bytes.len())))?;
        Ok(Signature(arr))
    }
}
