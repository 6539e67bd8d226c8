//! Presign round 3: broadcast `δ_i` and `T_i`.
//!
//! GG20 §3.3 Phase 3 > "Every player P_i broadcasts δ_i and T_i = g^{σ_i} h^{ℓ_i} with a zero
//! knowledge proof of knowledge of σ_i, ℓ_i."
//!
//! CHECKS (blaming the sender): `[P3.1]` `δ_j` is a canonical scalar and `T_j` a valid
//! non-identity point; `[P3.2]` the proof of knowledge of the opening of `T_j` verifies.

use k256::{ProjectivePoint, Scalar};
use tessera_core::inbox::Inbox;
use tessera_core::point::WirePoint;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_zk::{pedersen, schnorr};
use zeroize::Zeroizing;

use super::{blame, r4, Bcast3, Bcast4, Ctx, Next, State, P3_1, P3_2};
use crate::common::{expect, proof_ctx, wire_blame};
use crate::malicious::Behaviour;

pub(crate) struct Round3 {
    pub out: Vec<Outgoing>,
    ctx: Ctx,
    bcast: Inbox<(Scalar, ProjectivePoint)>,
}

impl Round3 {
    pub fn new(ctx: Ctx, out: Vec<Outgoing>) -> Self {
        let bcast = Inbox::new(ctx.others());
        Self { out, ctx, bcast }
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Presign, self.ctx.sid, 3, Delivery::Broadcast);
        let sid = self.ctx.sid;
        self.bcast.accept(from, bytes, || {
            let m: Bcast3 = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            // [P3.1] canonical δ_j, valid T_j.
            let delta = m
                .delta
                .decode()
                .ok_or_else(|| blame(from, P3_1, "δ_j is not a canonical scalar"))?;
            let t =
                m.t.decode()
                    .ok_or_else(|| blame(from, P3_1, "T_j is not a valid non-identity point"))?;
            // [P3.2] proof of knowledge of (σ_j, l_j) with T_j = σ_j·G + l_j·H.
            let pctx = proof_ctx(super::PROTOCOL, &sid, b"pedersen", from, None);
            let _verified = pedersen::verify_opening(&pctx, &t, &m.proof)
                .map_err(|e| blame(from, P3_2, e.to_string()))?;
            Ok((delta, t))
        })
    }

    pub fn ready(&self) -> bool {
        self.bcast.ready()
    }

    pub fn proceed(self, rng: &mut impl rand_core::CryptoRngCore) -> Result<Next, ProtocolError> {
        let Round3 {
            mut ctx, mut bcast, ..
        } = self;
        let blames = bcast.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        for (j, (delta, t)) in bcast.into_accepted() {
            if let Some(v) = ctx.peer_mut(j) {
                v.delta = delta;
                v.t = t;
            }
        }
        let own_gamma = ctx.me_view()?.gamma;
        let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"schnorr.gamma", ctx.me, None);
        let proof = match ctx.behaviour {
            Behaviour::PresignBadGammaSchnorr => {
                let wrong = Zeroizing::new(*ctx.gamma + Scalar::ONE);
                schnorr::prove(&pctx, &wrong, &own_gamma, rng)
            }
            _ => schnorr::prove(&pctx, &ctx.gamma, &own_gamma, rng),
        };
        let nonce = match ctx.behaviour {
            Behaviour::PresignBadGammaOpening => ctx.gamma_nonce.map(|b| !b),
            _ => ctx.gamma_nonce,
        };
        let out = vec![wire::encode(
            &ctx.header(4, Delivery::Broadcast),
            &Bcast4 {
                gamma: WirePoint::encode(&own_gamma),
                nonce,
                schnorr: proof,
            },
        )];
        Ok(Next::Round(State::R4(Box::new(r4::Round4::new(ctx, out)))))
    }
}
