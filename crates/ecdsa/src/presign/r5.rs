//! Presign round 5: `R̄_i = k_i·R` with Π^log*.
//!
//! GG20 §3.3 Phase 5 > "Each player broadcasts R̄_i = R^{k_i} and proves in ZK that it is
//! consistent with E_i(k_i)" — here CGGMP24's Π^log* with base `R`, one proof per verifier.
//!
//! CHECKS (blaming the sender): `[P5.1]` `R̄_j` is a valid non-identity point; `[P5.2]` Π^log*
//! addressed to us verifies. Then `[P5.3]`: if `Σ R̄_j ≠ G`, type-5 identification.

use k256::ProjectivePoint;
use tessera_core::point::WirePoint;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_zk::{log_star, pedersen};

use super::{blame, r6, type5, Bcast5, Bcast6, Ctx, Next, P2p5, State, P5_1, P5_2};
use crate::common::{proof_ctx, SplitInbox};

pub(crate) struct Round5 {
    pub out: Vec<Outgoing>,
    ctx: Ctx,
    inbox: SplitInbox<ProjectivePoint, P2p5>,
}

impl Round5 {
    pub fn new(ctx: Ctx, out: Vec<Outgoing>) -> Self {
        let inbox = SplitInbox::new(ctx.others());
        Self { out, ctx, inbox }
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let ctx = &self.ctx;
        self.inbox.receive(
            from,
            bytes,
            ProtocolId::Presign,
            ctx.sid,
            5,
            ctx.me,
            |m: Bcast5| {
                // [P5.1]
                m.r_bar
                    .decode()
                    .ok_or_else(|| blame(from, P5_1, "R̄_j is not a valid non-identity point"))
            },
            Ok::<P2p5, Blame>,
        )
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self, rng: &mut impl rand_core::CryptoRngCore) -> Result<Next, ProtocolError> {
        let Round5 {
            mut ctx, mut inbox, ..
        } = self;
        let mut blames = inbox.take_blames();
        let SplitInbox { bcast, p2p } = inbox;
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let own_aux = ctx.me_view()?.aux.clone();
        for (j, r_bar) in bcast.iter() {
            let (Some(view), Some(p)) = (ctx.peer(j), p2p.get(j)) else {
                blames.push(blame(j, P5_2, "missing Π^log*"));
                continue;
            };
            // [P5.2] Π^log*: R̄_j = k_j·R for the k_j inside K_j.
            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"log-star", j, Some(ctx.me));
            let st = log_star::Statement {
                n0: view.pk.n(),
                c: &view.k_ct,
                base: &ctx.r,
                x: r_bar,
            };
            let own_key = Some(ctx.share.paillier());
            if let Err(e) = log_star::verify(&pctx, &st, &own_aux, &ctx.level, &p.log_star, own_key)
            {
                blames.push(blame(j, P5_2, e.to_string()));
            }
        }
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        for (j, r_bar) in bcast.into_accepted() {
            if let Some(v) = ctx.peer_mut(j) {
                v.r_bar = r_bar;
            }
        }
        // [P5.3] "If g ≠ Π R̄_i the protocol aborts" — and identifies (type 5).
        let sum: ProjectivePoint = ctx.peers.iter().map(|v| v.r_bar).sum();
        if sum != ProjectivePoint::GENERATOR {
            return Ok(Next::Round(State::Type5(Box::new(type5::Type5::start(
                ctx, true,
            )?))));
        }
        let s = ctx.r * *ctx.sigma;
        let t = ctx.me_view()?.t;
        if let Some(v) = ctx.peer_mut(ctx.me) {
            v.s = s;
        }
        let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"st-consistency", ctx.me, None);
        let proof = pedersen::prove_consistency(&pctx, &t, &s, &ctx.r, &ctx.sigma, &ctx.l, rng);
        let out = vec![wire::encode(
            &ctx.header(6, Delivery::Broadcast),
            &Bcast6 {
                s: WirePoint::encode(&s),
                proof,
            },
        )];
        Ok(Next::Round(State::R6(Box::new(r6::Round6::new(ctx, out)))))
    }
}
