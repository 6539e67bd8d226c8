//! Type-7 identification: `Σ S_j ≠ y`.
//!
//! GG20 §4.3 (tofn `sign/r8/type7.rs`, with the paper's `ν_ji → ν_ij` subscript typo fixed):
//! every signer reveals `k_i` with the nonce of `K_i`, and, as Alice, the plaintext `μ_ij` and
//! nonce of every `D^w_{j→i}` it decrypted; it proves with a DLEQ proof that
//! `log_G(σ̂_i·G) = log_R(S_i)`, where anyone can recompute
//! `σ̂_i·G = k_i·W_i + Σ_j μ_ij·G − Σ_j (μ_ji·G − k_j·W_i)`.
//! `w_i` is never revealed (`μ_ji = k_j·w_i + ν′_ij` is masked by the 2^{ℓ′}-wide `ν′`).
//! - `[T7.0]` the reveal decodes and has one `μ` per other signer, in order;
//! - `[T7.1]` `K_i = Enc_i(k_i; ρ_i)`;
//! - `[T7.2]` each revealed `μ_ij` and nonce re-encrypt to `D^w_{j→i}`;
//! - `[T7.3]` the DLEQ proof for `(σ̂_i·G, S_i)` verifies (only judged when every party `σ̂_i`
//!   depends on passed `[T7.0]`–`[T7.2]`).

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::inbox::Inbox;
use tessera_core::point::WireScalar;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_zk::dleq;

use super::{blame, Ctx, ROUND_TYPE7, T7_0, T7_1, T7_2, T7_3};
use crate::common::{expect, integer_to_scalar, proof_ctx, scalar_to_integer, wire_blame};

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct MuReveal {
    pub from: PartyIndex,
    pub mu: Integer,
    pub nonce: Integer,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Reveal7 {
    pub k: WireScalar,
    pub k_nonce: Integer,
    pub mus: Vec<MuReveal>,
    pub dleq: dleq::Proof,
}

pub(crate) struct Type7 {
    pub out: Vec<Outgoing>,
    ctx: Ctx,
    own: Reveal7,
    bcast: Inbox<Reveal7>,
}

impl Type7 {
    pub fn start(ctx: Ctx, rng: &mut impl rand_core::CryptoRngCore) -> Result<Self, ProtocolError> {
        let sk = ctx.share.paillier();
        let mut mus = Vec::new();
        for j in ctx.others() {
            let d = ctx
                .peer(j)
                .and_then(|v| v.mta.iter().find(|c| c.to == ctx.me))
                .ok_or_else(|| ProtocolError::Bug("MtA ciphertext to us".into()))?;
            let (mu, nonce) = sk
                .decrypt_with_nonce(&d.d_w)
                .map_err(|e| ProtocolError::Bug(format!("decrypt μ: {e}")))?;
            mus.push(MuReveal { from: j, mu, nonce });
        }
        let sigma_g = ProjectivePoint::mul_by_generator(&*ctx.sigma);
        let own_s = ctx.me_view()?.s;
        let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"type7.dleq", ctx.me, None);
        let proof = dleq::prove(
            &pctx,
            &ProjectivePoint::GENERATOR,
            &sigma_g,
            &ctx.r,
            &own_s,
            &ctx.sigma,
            rng,
        );
        let own = Reveal7 {
            k: WireScalar::encode(&ctx.k),
            k_nonce: ctx.k_nonce.clone(),
            mus,
            dleq: proof,
        };
        let out = vec![wire::encode(
            &ctx.header(ROUND_TYPE7, Delivery::Broadcast),
            &own,
        )];
        let bcast = Inbox::new(ctx.others());
        Ok(Self {
            out,
            ctx,
            own,
            bcast,
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(
            ProtocolId::Presign,
            self.ctx.sid,
            ROUND_TYPE7,
            Delivery::Broadcast,
        );
        self.bcast.accept(from, bytes, || {
            wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))
        })
    }

    pub fn ready(&self) -> bool {
        self.bcast.ready()
    }

    pub fn proceed(self) -> ProtocolError {
        let Type7 {
            ctx,
            own,
            mut bcast,
            ..
        } = self;
        let mut blames = bcast.take_blames();
        let mut reveals: Vec<(PartyIndex, Reveal7)> = bcast.into_accepted();
        reveals.push((ctx.me, own));
        reveals.sort_by_key(|(p, _)| *p);
        let already: Vec<PartyIndex> = blames.iter().map(|b| b.party).collect();
        blames.extend(judge(&ctx, &reveals, &already));
        if blames.is_empty() {
            return ProtocolError::Bug(
                "type-7 identification found no culprit although Σ S_j ≠ y".into(),
            );
        }
        ProtocolError::Aborted(blames)
    }
}

/// A party whose reveal is consistent: its `k_i` and the `μ_ij` it decrypted, by sender.
type Judged = (PartyIndex, Scalar, Vec<(PartyIndex, Scalar)>);

fn judge(ctx: &Ctx, reveals: &[(PartyIndex, Reveal7)], already: &[PartyIndex]) -> Vec<Blame> {
    let mut blames = Vec::new();
    let reveal = |p: PartyIndex| reveals.iter().find(|(q, _)| *q == p).map(|(_, r)| r);
    // k_i and μ_ij (as scalars) of every party whose reveal is consistent.
    let mut good: Vec<Judged> = Vec::new();
    for &i in ctx.signers.parties() {
        if already.contains(&i) {
            continue;
        }
        let (Some(r), Some(view)) = (reveal(i), ctx.peer(i)) else {
            blames.push(blame(i, T7_0, "no reveal"));
            continue;
        };
        let senders: Vec<PartyIndex> = ctx
            .signers
            .parties()
            .iter()
            .copied()
            .filter(|&p| p != i)
            .collect();
        if r.mus.len() != senders.len() || r.mus.iter().zip(&senders).any(|(m, s)| m.from != *s) {
            blames.push(blame(i, T7_0, "μ reveals do not match the other signers"));
            continue;
        }
        let Some(k) = r.k.decode() else {
            blames.push(blame(i, T7_0, "k_i is not a canonical scalar"));
            continue;
        };
        // [T7.1]
        match view.pk.encrypt_with(&scalar_to_integer(&k), &r.k_nonce) {
            Ok(c) if c == view.k_ct => {}
            _ => {
                blames.push(blame(i, T7_1, "revealed k_i does not re-encrypt to K_i"));
                continue;
            }
        }
        // [T7.2]
        let mut ok = true;
        let mut mus = Vec::new();
        for m in &r.mus {
            let sent = ctx
                .peer(m.from)
                .and_then(|v| v.mta.iter().find(|c| c.to == i))
                .map(|c| &c.d_w);
            match (sent, view.pk.encrypt_with(&m.mu, &m.nonce)) {
                (Some(d), Ok(c)) if *d == c => mus.push((m.from, integer_to_scalar(&m.mu))),
                _ => {
                    ok = false;
                    break;
                }
            }
        }
        if !ok {
            blames.push(blame(i, T7_2, "a revealed μ does not re-encrypt to D^w"));
            continue;
        }
        good.push((i, k, mus));
    }
    let find = |p: PartyIndex| good.iter().find(|(q, _, _)| *q == p);
    // [T7.3] σ̂_i·G = k_i·W_i + Σ_j μ_ij·G − Σ_j (μ_ji·G − k_j·W_i), then DLEQ against S_i.
    for (i, k_i, mus_i) in &good {
        let Some(view) = ctx.peer(*i) else { continue };
        let mut sigma_g = view.big_w * k_i;
        let mut complete = true;
        for (j, mu_ij) in mus_i {
            let Some((_, k_j, mus_j)) = find(*j) else {
                complete = false;
                break;
            };
            let Some((_, mu_ji)) = mus_j.iter().find(|(f, _)| f == i) else {
                complete = false;
                break;
            };
            sigma_g += ProjectivePoint::mul_by_generator(mu_ij);
            sigma_g -= ProjectivePoint::mul_by_generator(mu_ji) - view.big_w * k_j;
        }
        if !complete {
            continue;
        }
        let Some(r) = reveal(*i) else { continue };
        let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"type7.dleq", *i, None);
        if dleq::verify(
            &pctx,
            &ProjectivePoint::GENERATOR,
            &sigma_g,
            &ctx.r,
            &view.s,
            &r.dleq,
        )
        .is_err()
        {
            blames.push(blame(
                *i,
                T7_3,
                "S_i is not R raised to the σ_i implied by the MtA transcript",
            ));
        }
    }
    blames
}
