//! Presign round 2: the MtA answers.
//!
//! GG20 §3.3 Phase 2 > "Every pair of players P_i, P_j engages in two multiplicative-to-additive
//! share conversion subprotocols": MtA for `k_i·γ_j` and MtAwc for `k_i·w_j`. Bob `j` returns
//! `D = K_i^{x}·Enc_i(y′)` with Π^aff-g (which also binds `X = x·G`: `Γ_j` for the first, `W_j`
//! for the second — "Bob's proof with check"; CGGMP24's proof without its `Y = Enc_j(y′)`, which
//! only CGGMP's own identification needs: see `tessera_zk::aff_g`).
//!
//! IN: every `K_j`. OUT: broadcast `Γ_i` and the ciphertexts for every Alice; to each Alice the
//! two Π^aff-g proofs (built with her ring-Pedersen parameters).
//! CHECKS (blaming the sender): `[P2.1]` `Γ_j` is a valid non-identity point; `[P2.2]` exactly one
//! ciphertext set per other signer, in signer order, every `D` in `Z*_{N_to²}`; `[P2.3]` Π^aff-g for `k_i·γ_j` with `X = Γ_j`; `[P2.4]` Π^aff-g for `k_i·w_j` with
//! `X = W_j` as *we* compute it from the public shares — both checked before we decrypt.

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_paillier::random_signed_bits;
use tessera_zk::{aff_g, pedersen};
use zeroize::Zeroizing;

use super::{
    blame, r3, Bcast2, Bcast3, BobSecrets, Ctx, MtaCts, Next, P2p2, State, P2_1, P2_2, P2_3, P2_4,
};
use crate::common::{integer_to_scalar, proof_ctx, scalar_to_integer, SplitInbox};
use tessera_core::point::{WirePoint, WireScalar};

pub(crate) struct Received2 {
    pub gamma: ProjectivePoint,
    pub mta: Vec<MtaCts>,
}

pub(crate) struct Round2 {
    pub out: Vec<Outgoing>,
    ctx: Ctx,
    inbox: SplitInbox<Received2, P2p2>,
}

impl Round2 {
    pub fn new(
        mut ctx: Ctx,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        fn bug(what: &'static str) -> impl Fn(tessera_paillier::PaillierError) -> ProtocolError {
            move |e| ProtocolError::Bug(format!("{what}: {e}"))
        }
        let me = ctx.me;
        let own_gamma = ctx.me_view()?.gamma;
        let own_w = ctx.me_view()?.big_w;
        let gamma_int = scalar_to_integer(&ctx.gamma);
        let w_int = scalar_to_integer(&ctx.w);
        let mut mta = Vec::new();
        let mut proofs = Vec::new();
        let mut bob = Vec::new();
        for j in ctx.others() {
            let alice = ctx
                .peer(j)
                .ok_or_else(|| ProtocolError::Bug("peer view".into()))?
                .clone();
            // y′ drawn from the full ±2^{ℓ′} range, never mod q (Makriyannis et al. 2023, short β).
            let beta = random_signed_bits(rng, ctx.level.ell_prime);
            let nu = random_signed_bits(rng, ctx.level.ell_prime);

            let (enc_beta, beta_nonce) = alice.pk.encrypt(rng, &beta).map_err(bug("Enc β′"))?;
            let d_gamma = alice
                .pk
                .add(
                    &alice
                        .pk
                        .mul_secret(&alice.k_ct, &gamma_int)
                        .map_err(bug("K^γ"))?,
                    &enc_beta,
                )
                .map_err(bug("D^γ"))?;

            let (enc_nu, nu_nonce) = alice.pk.encrypt(rng, &nu).map_err(bug("Enc ν′"))?;
            let d_w = alice
                .pk
                .add(
                    &alice
                        .pk
                        .mul_secret(&alice.k_ct, &w_int)
                        .map_err(bug("K^w"))?,
                    &enc_nu,
                )
                .map_err(bug("D^w"))?;

            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"aff-g.gamma", me, Some(j));
            let aff_gamma = aff_g::prove(
                &pctx,
                &aff_g::Statement {
                    n0: alice.pk.n(),
                    c: &alice.k_ct,
                    d: &d_gamma,
                    x: &own_gamma,
                    aux: &alice.aux,
                },
                &aff_g::Witness {
                    x: &gamma_int,
                    y: &beta,
                    rho: &beta_nonce,
                },
                &ctx.level,
                rng,
            )
            .map_err(|e| ProtocolError::Bug(format!("Π^aff-g prover: {e}")))?;
            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"aff-g.w", me, Some(j));
            let aff_w = aff_g::prove(
                &pctx,
                &aff_g::Statement {
                    n0: alice.pk.n(),
                    c: &alice.k_ct,
                    d: &d_w,
                    x: &own_w,
                    aux: &alice.aux,
                },
                &aff_g::Witness {
                    x: &w_int,
                    y: &nu,
                    rho: &nu_nonce,
                },
                &ctx.level,
                rng,
            )
            .map_err(|e| ProtocolError::Bug(format!("Π^aff-g prover: {e}")))?;

            mta.push(MtaCts {
                to: j,
                d_gamma,
                d_w,
            });
            proofs.push((j, P2p2 { aff_gamma, aff_w }));
            bob.push(BobSecrets {
                to: j,
                beta,
                beta_nonce,
                nu,
            });
        }
        let mut out = vec![wire::encode(
            &ctx.header(2, Delivery::Broadcast),
            &Bcast2 {
                gamma: WirePoint::encode(&own_gamma),
                mta: mta.clone(),
            },
        )];
        for (j, p) in proofs {
            out.push(wire::encode(&ctx.header(2, Delivery::P2p { to: j }), &p));
        }
        ctx.bob = bob;
        if let Some(v) = ctx.peer_mut(me) {
            v.mta = mta;
        }
        let inbox = SplitInbox::new(ctx.others());
        Ok(Self { out, ctx, inbox })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let ctx = &self.ctx;
        self.inbox.receive(
            from,
            bytes,
            ProtocolId::Presign,
            ctx.sid,
            2,
            ctx.me,
            |m: Bcast2| check_bcast(ctx, from, m),
            Ok::<P2p2, Blame>,
        )
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self, rng: &mut impl rand_core::CryptoRngCore) -> Result<Next, ProtocolError> {
        let Round2 {
            mut ctx, mut inbox, ..
        } = self;
        let mut blames = inbox.take_blames();
        let SplitInbox { bcast, p2p } = inbox;
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let me = ctx.me;
        let own = ctx.me_view()?.clone();
        // Verify both proofs of every Bob before decrypting anything (SECURITY-CHECKLIST, Presign 2).
        for (j, m) in bcast.iter() {
            let Some(proofs) = p2p.get(j) else {
                blames.push(blame(j, P2_3, "missing Π^aff-g"));
                continue;
            };
            let (Some(bob), Some(cts)) = (ctx.peer(j), m.mta.iter().find(|c| c.to == me)) else {
                blames.push(blame(j, P2_2, "no ciphertexts for us"));
                continue;
            };
            // [P2.3] Π^aff-g for k_i·γ_j, X = Γ_j.
            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"aff-g.gamma", j, Some(me));
            let st = aff_g::Statement {
                n0: own.pk.n(),
                c: &own.k_ct,
                d: &cts.d_gamma,
                x: &m.gamma,
                aux: &own.aux,
            };
            let own_key = Some(ctx.share.paillier());
            if let Err(e) = aff_g::verify(&pctx, &st, &ctx.level, &proofs.aff_gamma, own_key) {
                blames.push(blame(j, P2_3, e.to_string()));
                continue;
            }
            // [P2.4] Π^aff-g for k_i·w_j, X = W_j = λ_j·X_j computed locally.
            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"aff-g.w", j, Some(me));
            let st = aff_g::Statement {
                n0: own.pk.n(),
                c: &own.k_ct,
                d: &cts.d_w,
                x: &bob.big_w,
                aux: &own.aux,
            };
            if let Err(e) = aff_g::verify(&pctx, &st, &ctx.level, &proofs.aff_w, own_key) {
                blames.push(blame(j, P2_4, e.to_string()));
            }
        }
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }

        // δ_i = k_iγ_i + Σ_j (α_ij + β_ij),  σ_i = k_iw_i + Σ_j (μ_ij + ν_ij).
        let sk = ctx.share.paillier();
        let mut delta = *ctx.k * *ctx.gamma;
        let mut sigma = Zeroizing::new(*ctx.k * *ctx.w);
        for (j, m) in bcast.iter() {
            let cts = m
                .mta
                .iter()
                .find(|c| c.to == me)
                .ok_or_else(|| ProtocolError::Bug(format!("ciphertexts of {j}")))?;
            let alpha = sk
                .decrypt(&cts.d_gamma)
                .map_err(|e| ProtocolError::Bug(format!("decrypt α: {e}")))?;
            let mu = sk
                .decrypt(&cts.d_w)
                .map_err(|e| ProtocolError::Bug(format!("decrypt μ: {e}")))?;
            delta += integer_to_scalar(&alpha);
            *sigma += integer_to_scalar(&mu);
        }
        for b in &ctx.bob {
            delta -= integer_to_scalar(&b.beta);
            *sigma -= integer_to_scalar(&b.nu);
        }
        for (j, m) in bcast.into_accepted() {
            if let Some(v) = ctx.peer_mut(j) {
                v.gamma = m.gamma;
                v.mta = m.mta;
            }
        }

        // T_i = σ_i·G + l_i·H with a proof of knowledge of (σ_i, l_i).
        match ctx.behaviour {
            crate::malicious::Behaviour::PresignWrongDelta => delta += Scalar::ONE,
            crate::malicious::Behaviour::PresignWrongSigma => *sigma += Scalar::ONE,
            _ => {}
        }
        let l = Zeroizing::new(<Scalar as k256::elliptic_curve::Field>::random(&mut *rng));
        let t = ProjectivePoint::mul_by_generator(&*sigma) + pedersen::h_generator() * *l;
        let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"pedersen", me, None);
        let proof = pedersen::prove_opening(&pctx, &t, &sigma, &l, rng);
        ctx.delta = delta;
        ctx.sigma = sigma;
        ctx.l = l;
        if let Some(v) = ctx.peer_mut(me) {
            v.delta = delta;
            v.t = t;
        }
        let out = vec![wire::encode(
            &ctx.header(3, Delivery::Broadcast),
            &Bcast3 {
                delta: WireScalar::encode(&delta),
                t: WirePoint::encode(&t),
                proof,
            },
        )];
        Ok(Next::Round(State::R3(Box::new(r3::Round3::new(ctx, out)))))
    }
}

fn check_bcast(ctx: &Ctx, from: PartyIndex, m: Bcast2) -> Result<Received2, Blame> {
    // [P2.1] Γ_j is a valid, non-identity point.
    let gamma = m
        .gamma
        .decode()
        .ok_or_else(|| blame(from, P2_1, "Γ_j is not a valid non-identity point"))?;
    // [P2.2] exactly one ciphertext set per other signer, in signer order; all in their groups.
    let targets: Vec<PartyIndex> = ctx
        .signers
        .parties()
        .iter()
        .copied()
        .filter(|&p| p != from)
        .collect();
    if m.mta.len() != targets.len() || m.mta.iter().zip(&targets).any(|(c, t)| c.to != *t) {
        return Err(blame(
            from,
            P2_2,
            format!(
                "{} MtA ciphertext sets, expected one for each of {} other signers in order",
                m.mta.len(),
                targets.len()
            ),
        ));
    }
    for c in &m.mta {
        let alice_pk = &ctx
            .peer(c.to)
            .ok_or_else(|| blame(from, P2_2, "unknown recipient"))?
            .pk;
        if !alice_pk.is_ciphertext(&c.d_gamma) || !alice_pk.is_ciphertext(&c.d_w) {
            return Err(blame(from, P2_2, "an MtA ciphertext is not in its Z*_(N²)"));
        }
    }
    Ok(Received2 { gamma, mta: m.mta })
}
