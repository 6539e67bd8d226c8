//! Type-5 identification: `δ = 0` (no `R`) or `Σ R̄_j ≠ G`.
//!
//! GG20 §4.2 (as tofn `sign/type5_common.rs` implements it): every signer reveals `k_i`, the
//! Paillier nonce of `K_i`, `γ_i`, and, as Bob, each `β′_ij` with the nonce of `Enc_j(β′_ij)`.
//! Nothing involving `w` is revealed. Everyone then checks, for every signer `i`:
//! - `[T5.0]` the reveal decodes and has exactly one `β′` per other signer, in order;
//! - `[T5.1]` `K_i = Enc_i(k_i; ρ_i)` with `k_i < q`;
//! - `[T5.2]` `Γ_i = γ_i·G`;
//! - `[T5.3]` each `D^γ_{i→j} = K_j^{γ_i}·Enc_j(β′_ij; s_ij)`;
//! - `[T5.4]` `δ_i = k_iγ_i + Σ_j (k_iγ_j + β′_ji) − Σ_j β′_ij` (only judged when every `D^γ`
//!   addressed to `i` passed `[T5.3]`, so an honest Alice is never blamed for a bad Bob);
//! - `[T5.5]` (when `R` exists) `R̄_i = k_i·R`. Defence in depth, with no test: `R` exists only
//!   when every `R̄_i` passed `[P5.2]`, whose Π^log* shows `R̄_i = x·R` for the `x ∈ ±2^{ℓ+ε}`
//!   inside `K_i`; a `k_i < q` that passes `[T5.1]` is that `x` (both are far below `N_i`), so
//!   this check fires only if Π^log* is unsound.
//!
//! The reveals burn this presignature, which is discarded whatever the verdict.

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use serde::{Deserialize, Serialize};
use tessera_core::inbox::Inbox;
use tessera_core::point::WireScalar;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};

use super::{blame, Ctx, ROUND_TYPE5, T5_0, T5_1, T5_2, T5_3, T5_4, T5_5};
use crate::common::{expect, integer_to_scalar, scalar_to_integer, wire_blame};

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct BetaReveal {
    pub to: PartyIndex,
    pub beta: Integer,
    pub nonce: Integer,
}

#[derive(Clone, Serialize, Deserialize)]
pub(crate) struct Reveal5 {
    pub k: WireScalar,
    pub k_nonce: Integer,
    pub gamma: WireScalar,
    pub betas: Vec<BetaReveal>,
}

pub(crate) struct Type5 {
    pub out: Vec<Outgoing>,
    ctx: Ctx,
    /// Whether `R` (and the `R̄_j`) exist: false when entered because `δ = 0`.
    have_r: bool,
    own: Reveal5,
    bcast: Inbox<Reveal5>,
}

impl Type5 {
    pub fn start(ctx: Ctx, have_r: bool) -> Result<Self, ProtocolError> {
        let own = Reveal5 {
            k: WireScalar::encode(&ctx.k),
            k_nonce: ctx.k_nonce.clone(),
            gamma: WireScalar::encode(&ctx.gamma),
            betas: ctx
                .bob
                .iter()
                .map(|b| BetaReveal {
                    to: b.to,
                    beta: b.beta.clone(),
                    nonce: b.beta_nonce.clone(),
                })
                .collect(),
        };
        let out = vec![wire::encode(
            &ctx.header(ROUND_TYPE5, Delivery::Broadcast),
            &own,
        )];
        let bcast = Inbox::new(ctx.others());
        Ok(Self {
            out,
            ctx,
            have_r,
            own,
            bcast,
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(
            ProtocolId::Presign,
            self.ctx.sid,
            ROUND_TYPE5,
            Delivery::Broadcast,
        );
        self.bcast.accept(from, bytes, || {
            wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))
        })
    }

    pub fn ready(&self) -> bool {
        self.bcast.ready()
    }

    /// Judges every signer from the reveals; always ends the protocol with an error.
    pub fn proceed(self) -> ProtocolError {
        let Type5 {
            ctx,
            have_r,
            own,
            mut bcast,
            ..
        } = self;
        let mut blames = bcast.take_blames();
        let mut reveals: Vec<(PartyIndex, Reveal5)> = bcast.into_accepted();
        reveals.push((ctx.me, own));
        reveals.sort_by_key(|(p, _)| *p);
        let blamed_on_receive: Vec<PartyIndex> = blames.iter().map(|b| b.party).collect();
        blames.extend(judge(&ctx, have_r, &reveals, &blamed_on_receive));
        if blames.is_empty() {
            return ProtocolError::Bug(
                "type-5 identification found no culprit although the presignature failed".into(),
            );
        }
        ProtocolError::Aborted(blames)
    }
}

struct Opened5 {
    k: Scalar,
    gamma: Scalar,
}

fn judge(
    ctx: &Ctx,
    have_r: bool,
    reveals: &[(PartyIndex, Reveal5)],
    already: &[PartyIndex],
) -> Vec<Blame> {
    let mut blames = Vec::new();
    let reveal = |p: PartyIndex| reveals.iter().find(|(q, _)| *q == p).map(|(_, r)| r);
    // Pass 1: per-party checks that need only the party's own reveal: [T5.0]–[T5.2].
    let mut opened: Vec<(PartyIndex, Opened5)> = Vec::new();
    for &i in ctx.signers.parties() {
        if already.contains(&i) {
            continue;
        }
        let (Some(r), Some(view)) = (reveal(i), ctx.peer(i)) else {
            blames.push(blame(i, T5_0, "no reveal"));
            continue;
        };
        let targets: Vec<PartyIndex> = ctx
            .signers
            .parties()
            .iter()
            .copied()
            .filter(|&p| p != i)
            .collect();
        if r.betas.len() != targets.len() || r.betas.iter().zip(&targets).any(|(b, t)| b.to != *t) {
            blames.push(blame(i, T5_0, "β′ reveals do not match the other signers"));
            continue;
        }
        let (Some(k), Some(gamma)) = (r.k.decode(), r.gamma.decode()) else {
            blames.push(blame(i, T5_0, "k_i or γ_i is not a canonical scalar"));
            continue;
        };
        // [T5.1] K_i = Enc_i(k_i; ρ_i).
        match view.pk.encrypt_with(&scalar_to_integer(&k), &r.k_nonce) {
            Ok(c) if c == view.k_ct => {}
            _ => {
                blames.push(blame(i, T5_1, "revealed k_i does not re-encrypt to K_i"));
                continue;
            }
        }
        // [T5.2] Γ_i = γ_i·G.
        if ProjectivePoint::mul_by_generator(&gamma) != view.gamma {
            blames.push(blame(i, T5_2, "revealed γ_i does not match Γ_i"));
            continue;
        }
        opened.push((i, Opened5 { k, gamma }));
    }
    let open = |p: PartyIndex| opened.iter().find(|(q, _)| *q == p).map(|(_, o)| o);

    // Pass 2: [T5.3] every Bob's D^γ recomputed from revealed values.
    let mut bad_d_to: Vec<PartyIndex> = Vec::new();
    let mut blamed_t53: Vec<PartyIndex> = Vec::new();
    for (i, oi) in &opened {
        let (Some(r), Some(view_i)) = (reveal(*i), ctx.peer(*i)) else {
            continue;
        };
        for b in &r.betas {
            let Some(alice) = ctx.peer(b.to) else {
                continue;
            };
            let Some(sent) = view_i.mta.iter().find(|c| c.to == b.to) else {
                continue;
            };
            let expected = alice
                .pk
                .mul_secret(&alice.k_ct, &scalar_to_integer(&oi.gamma))
                .and_then(|kg| {
                    alice
                        .pk
                        .encrypt_with(&b.beta, &b.nonce)
                        .and_then(|e| alice.pk.add(&kg, &e))
                });
            let in_range = b.beta.significant_bits() <= ctx.level.ell_prime + ctx.level.epsilon;
            if !in_range || expected.ok().as_ref() != Some(&sent.d_gamma) {
                if !blamed_t53.contains(i) {
                    blames.push(blame(
                        *i,
                        T5_3,
                        format!("D^γ to {} does not match the revealed γ_i and β′", b.to),
                    ));
                    blamed_t53.push(*i);
                }
                bad_d_to.push(b.to);
            }
        }
    }

    // Pass 3: [T5.4] δ_i recomputed; [T5.5] R̄_i = k_i·R.
    for (i, oi) in &opened {
        if blamed_t53.contains(i) || bad_d_to.contains(i) {
            continue;
        }
        let (Some(r), Some(view)) = (reveal(*i), ctx.peer(*i)) else {
            continue;
        };
        let mut delta = oi.k * oi.gamma;
        let mut complete = true;
        for &j in ctx.signers.parties() {
            if j == *i {
                continue;
            }
            let (Some(oj), Some(rj)) = (open(j), reveal(j)) else {
                complete = false;
                break;
            };
            let Some(beta_ji) = rj.betas.iter().find(|b| b.to == *i) else {
                complete = false;
                break;
            };
            delta += oi.k * oj.gamma + integer_to_scalar(&beta_ji.beta);
        }
        if !complete {
            // Some other party already failed [T5.0]–[T5.2]; i cannot be judged on δ_i.
            continue;
        }
        for b in &r.betas {
            delta -= integer_to_scalar(&b.beta);
        }
        if delta != view.delta {
            blames.push(blame(
                *i,
                T5_4,
                "broadcast δ_i differs from the revealed values",
            ));
            continue;
        }
        if have_r && ctx.r * oi.k != view.r_bar {
            blames.push(blame(*i, T5_5, "R̄_i ≠ k_i·R"));
        }
    }
    blames
}
