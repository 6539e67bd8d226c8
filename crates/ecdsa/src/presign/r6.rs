//! Presign round 6: `S_i = σ_i·R`, consistent with `T_i`.
//!
//! GG20 §3.3 Phase 6 > "Each player broadcasts S_i = R^{σ_i} and proves in ZK that it is
//! consistent with T_i … If y ≠ Π S_i the protocol aborts" — and identifies (type 7).
//!
//! CHECKS (blaming the sender): `[P6.1]` `S_j` is a valid non-identity point; `[P6.2]` the
//! consistency proof against `T_j` verifies. Then `[P6.3]`: if `Σ S_j ≠ y`, type-7
//! identification; otherwise the presignature is output.

use k256::ProjectivePoint;
use tessera_core::inbox::Inbox;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_zk::pedersen;

use super::{blame, type7, Bcast6, Ctx, Next, Presignature, State, P6_1, P6_2};
use crate::common::{expect, proof_ctx, wire_blame};

pub(crate) struct Round6 {
    pub out: Vec<Outgoing>,
    ctx: Ctx,
    bcast: Inbox<ProjectivePoint>,
}

impl Round6 {
    pub fn new(ctx: Ctx, out: Vec<Outgoing>) -> Self {
        let bcast = Inbox::new(ctx.others());
        Self { out, ctx, bcast }
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Presign, self.ctx.sid, 6, Delivery::Broadcast);
        let ctx = &self.ctx;
        self.bcast.accept(from, bytes, || {
            let m: Bcast6 = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            // [P6.1]
            let s =
                m.s.decode()
                    .ok_or_else(|| blame(from, P6_1, "S_j is not a valid non-identity point"))?;
            let t = ctx
                .peer(from)
                .ok_or_else(|| blame(from, P6_1, "not a signer"))?
                .t;
            // [P6.2] S_j = σ_j·R for the σ_j committed in T_j.
            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"st-consistency", from, None);
            let _verified = pedersen::verify_consistency(&pctx, &t, &s, &ctx.r, &m.proof)
                .map_err(|e| blame(from, P6_2, e.to_string()))?;
            Ok(s)
        })
    }

    pub fn ready(&self) -> bool {
        self.bcast.ready()
    }

    pub fn proceed(self, rng: &mut impl rand_core::CryptoRngCore) -> Result<Next, ProtocolError> {
        let Round6 {
            mut ctx, mut bcast, ..
        } = self;
        let blames = bcast.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        for (j, s) in bcast.into_accepted() {
            if let Some(v) = ctx.peer_mut(j) {
                v.s = s;
            }
        }
        // [P6.3] Σ S_j = y, else type-7 identification.
        let sum: ProjectivePoint = ctx.peers.iter().map(|v| v.s).sum();
        if sum != ctx.public_key {
            return Ok(Next::Round(State::Type7(Box::new(type7::Type7::start(
                ctx, rng,
            )?))));
        }
        Ok(Next::Done(Box::new(Presignature::from_ctx(ctx))))
    }
}
