//! Presign round 4: open `Γ_i`; compute `δ` and `R`.
//!
//! GG20 §3.3 Phase 4 > "Every player P_i broadcasts D_i. Let Γ_i be the values decommitted …
//! The players compute R = (Π Γ_i)^{δ^{-1}} and r = H′(R)."
//!
//! CHECKS (blaming the sender): `[P4.1]` the opening matches the round-1 commitment `C_j`;
//! `[P4.2]` the opened `Γ_j` equals the `Γ_j` bound into its round-2 Π^aff-g proofs;
//! `[P4.3]` the Schnorr proof of `γ_j` verifies.
//! Then, if `δ = Σδ_j = 0` (or `R` is the identity), no `R` exists: type-5 identification.

use k256::ProjectivePoint;
use tessera_core::inbox::Inbox;
use tessera_core::point::WirePoint;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_zk::{log_star, schnorr};

use super::{blame, r1, r5, type5, Bcast4, Bcast5, Ctx, Next, P2p5, State, P4_1, P4_2, P4_3};
use crate::common::{expect, proof_ctx, scalar_to_integer, wire_blame};

pub(crate) struct Round4 {
    pub out: Vec<Outgoing>,
    ctx: Ctx,
    bcast: Inbox<()>,
}

impl Round4 {
    pub fn new(ctx: Ctx, out: Vec<Outgoing>) -> Self {
        let bcast = Inbox::new(ctx.others());
        Self { out, ctx, bcast }
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Presign, self.ctx.sid, 4, Delivery::Broadcast);
        let ctx = &self.ctx;
        self.bcast.accept(from, bytes, || {
            let m: Bcast4 = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            let view = ctx
                .peer(from)
                .ok_or_else(|| blame(from, P4_1, "not a signer"))?;
            let gamma = m
                .gamma
                .decode()
                .ok_or_else(|| blame(from, P4_1, "Γ_j is not a valid non-identity point"))?;
            // [P4.1] "D_i opens C_i".
            if r1::gamma_commitment(&ctx.sid, from, &gamma, &m.nonce) != view.gamma_commitment {
                return Err(blame(
                    from,
                    P4_1,
                    "opening does not match the commitment C_j",
                ));
            }
            // [P4.2] the Γ_j of the Π^aff-g proofs is the committed one.
            if gamma != view.gamma {
                return Err(blame(
                    from,
                    P4_2,
                    "opened Γ_j differs from the Γ_j of round 2",
                ));
            }
            // [P4.3] Schnorr proof of γ_j.
            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"schnorr.gamma", from, None);
            let _verified = schnorr::verify(&pctx, &gamma, &m.schnorr)
                .map_err(|e| blame(from, P4_3, e.to_string()))?;
            Ok(())
        })
    }

    pub fn ready(&self) -> bool {
        self.bcast.ready()
    }

    pub fn proceed(self, rng: &mut impl rand_core::CryptoRngCore) -> Result<Next, ProtocolError> {
        let Round4 {
            mut ctx, mut bcast, ..
        } = self;
        let blames = bcast.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let delta: k256::Scalar = ctx.peers.iter().map(|v| v.delta).sum();
        let gamma_sum: ProjectivePoint = ctx.peers.iter().map(|v| v.gamma).sum();
        let delta_inv: Option<k256::Scalar> = delta.invert().into();
        let r = delta_inv.map(|d| gamma_sum * d);
        let Some(r) = r.filter(|r| *r != ProjectivePoint::IDENTITY) else {
            // δ = 0: R is undefined (tofn r4/happy.rs, issue #110) — identify who lied.
            return Ok(Next::Round(State::Type5(Box::new(type5::Type5::start(
                ctx, false,
            )?))));
        };
        ctx.r = r;
        if ctx.behaviour == crate::malicious::Behaviour::PresignInconsistentS {
            // T_i is already out: S_i = (σ_i + 1)·R (round 5) no longer matches it.
            *ctx.sigma += k256::Scalar::ONE;
        }
        let r_bar = r * *ctx.k;
        if let Some(v) = ctx.peer_mut(ctx.me) {
            v.r_bar = r_bar;
        }
        let mut out = vec![wire::encode(
            &ctx.header(5, Delivery::Broadcast),
            &Bcast5 {
                r_bar: WirePoint::encode(&r_bar),
            },
        )];
        let own = ctx.me_view()?.clone();
        let k_int = scalar_to_integer(&ctx.k);
        for j in ctx.others() {
            let aux = &ctx
                .peer(j)
                .ok_or_else(|| ProtocolError::Bug("peer view".into()))?
                .aux;
            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"log-star", ctx.me, Some(j));
            let proof = log_star::prove(
                &pctx,
                &log_star::Statement {
                    n0: own.pk.n(),
                    c: &own.k_ct,
                    base: &r,
                    x: &r_bar,
                },
                &log_star::Witness {
                    x: &k_int,
                    nonce: &ctx.k_nonce,
                    key: ctx.share.paillier(),
                },
                aux,
                &ctx.level,
                rng,
            )
            .map_err(|e| ProtocolError::Bug(format!("Π^log* prover: {e}")))?;
            out.push(wire::encode(
                &ctx.header(5, Delivery::P2p { to: j }),
                &P2p5 { log_star: proof },
            ));
        }
        Ok(Next::Round(State::R5(Box::new(r5::Round5::new(ctx, out)))))
    }
}
