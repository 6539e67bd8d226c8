//! Presign round 1: commit to `Γ_i`, encrypt `k_i`, prove its range.
//!
//! GG20 §3.3 Phase 1 > "Every party P_i selects k_i, γ_i ∈_R Z_q; computes [C_i, D_i] = Com(g^{γ_i})
//! and broadcasts C_i", with "P_i … sends c_i = E_i(k_i) together with a range proof" — the
//! range proof here is CGGMP24's Π^enc, built with each verifier's ring-Pedersen parameters.
//!
//! IN: the key share and the signer set. OUT: broadcast `(C_i, K_i)`; to each `j`, Π^enc.
//! CHECKS (blaming the sender): `[P1.1]` the broadcast decodes and `K_j ∈ Z*_{N_j²}`;
//! `[P1.2]` Π^enc addressed to us verifies (checked when both messages are in, in `proceed`).

use k256::elliptic_curve::ops::MulByGenerator as _;
use std::sync::Arc;

use k256::{ProjectivePoint, Scalar};
use rug::Integer;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError, SessionId, SignerSet, Transcript};
use tessera_keyshare::KeyShare;
use tessera_paillier::PublicKey;
use tessera_zk::enc;
use zeroize::Zeroizing;

use super::{blame, r2, Bcast1, Ctx, Next, P2p1, PeerView, State, P1_1, P1_2};
use crate::common::{hedged_scalar, proof_ctx, scalar_to_integer, SplitInbox};

/// `C_i = H(sid, i, Γ_i, nonce)`.
pub(crate) fn gamma_commitment(
    sid: &SessionId,
    party: PartyIndex,
    gamma: &ProjectivePoint,
    nonce: &[u8; 32],
) -> [u8; 32] {
    let mut t = Transcript::new(b"tessera.ecdsa.presign.gamma-commit.v1");
    t.append_sid(sid);
    t.append_party(b"party", party);
    t.append_point(b"Gamma", gamma);
    t.append(b"nonce", nonce);
    t.challenge_bytes32(b"commitment")
}

pub(crate) struct Round1 {
    pub out: Vec<Outgoing>,
    ctx: Ctx,
    inbox: SplitInbox<Bcast1, P2p1>,
}

impl Round1 {
    pub fn new(
        sid: SessionId,
        share: Arc<KeyShare>,
        signers: SignerSet,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let bad = |e: tessera_keyshare::KeyShareError| ProtocolError::InvalidInput(e.to_string());
        let me = share.index;
        let x = Zeroizing::new(share.secret_share().map_err(bad)?);
        let lambda = |p| {
            signers
                .lagrange_at_zero(p)
                .ok_or_else(|| ProtocolError::InvalidInput("party not in signer set".into()))
        };
        let w = Zeroizing::new(lambda(me)? * *x);
        let mut peers = Vec::with_capacity(signers.len());
        for &p in signers.parties() {
            let aux = share.aux_of(p).map_err(bad)?.clone();
            peers.push(PeerView {
                party: p,
                pk: PublicKey::from_n(aux.n.clone()),
                aux,
                big_w: share.public_share(p).map_err(bad)? * lambda(p)?,
                k_ct: Integer::new(),
                gamma_commitment: [0; 32],
                gamma: ProjectivePoint::IDENTITY,
                mta: Vec::new(),
                delta: Scalar::ZERO,
                t: ProjectivePoint::IDENTITY,
                r_bar: ProjectivePoint::IDENTITY,
                s: ProjectivePoint::IDENTITY,
            });
        }
        // Nonce shares hedged with the key share (SECURITY-CHECKLIST "Randomness").
        let k = Zeroizing::new(hedged_scalar(rng, &x, &sid, b"presign.k"));
        let gamma = Zeroizing::new(hedged_scalar(rng, &x, &sid, b"presign.gamma"));
        let (k_ct, k_nonce) = share
            .paillier()
            .encrypt(rng, &scalar_to_integer(&k))
            .map_err(|e| ProtocolError::Bug(format!("encrypting k_i: {e}")))?;
        let big_gamma = ProjectivePoint::mul_by_generator(&*gamma);
        let mut gamma_nonce = [0u8; 32];
        rng.fill_bytes(&mut gamma_nonce);
        let gamma_commitment = gamma_commitment(&sid, me, &big_gamma, &gamma_nonce);

        let ctx = Ctx {
            sid,
            me,
            level: share.level,
            public_key: share.public_key_point().map_err(bad)?,
            signers,
            share,
            peers,
            k,
            gamma,
            w,
            k_nonce,
            gamma_nonce,
            bob: Vec::new(),
            delta: Scalar::ZERO,
            sigma: Zeroizing::new(Scalar::ZERO),
            l: Zeroizing::new(Scalar::ZERO),
            r: ProjectivePoint::IDENTITY,
            behaviour: crate::malicious::Behaviour::Honest,
        };

        let mut out = vec![wire::encode(
            &ctx.header(1, Delivery::Broadcast),
            &Bcast1 {
                gamma_commitment,
                k_ct: k_ct.clone(),
            },
        )];
        let n0 = ctx.share.paillier().public().n().clone();
        let k_int = scalar_to_integer(&ctx.k);
        for j in ctx.others() {
            let aux = &ctx
                .peer(j)
                .ok_or_else(|| ProtocolError::Bug("peer view".into()))?
                .aux;
            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"enc", me, Some(j));
            let proof = enc::prove(
                &pctx,
                &enc::Statement {
                    n0: &n0,
                    ciphertext: &k_ct,
                    aux,
                },
                &enc::Witness {
                    k: &k_int,
                    rho: &ctx.k_nonce,
                    key: ctx.share.paillier(),
                },
                &ctx.level,
                rng,
            )
            .map_err(|e| ProtocolError::Bug(format!("Π^enc prover: {e}")))?;
            out.push(wire::encode(
                &ctx.header(1, Delivery::P2p { to: j }),
                &P2p1 { enc: proof },
            ));
        }
        let mut ctx = ctx;
        if let Some(v) = ctx.peer_mut(me) {
            v.k_ct = k_ct;
            v.gamma_commitment = gamma_commitment;
            v.gamma = big_gamma;
        }
        let inbox = SplitInbox::new(ctx.others());
        Ok(Self { out, ctx, inbox })
    }

    #[cfg(feature = "malicious")]
    pub fn set_behaviour(&mut self, b: crate::malicious::Behaviour) {
        self.ctx.behaviour = b;
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let ctx = &self.ctx;
        let pk = ctx.peer(from).map(|v| v.pk.clone());
        self.inbox.receive(
            from,
            bytes,
            ProtocolId::Presign,
            ctx.sid,
            1,
            ctx.me,
            |m: Bcast1| {
                // [P1.1] K_j is a Paillier ciphertext under N_j.
                let pk = pk.ok_or_else(|| blame(from, P1_1, "not a signer"))?;
                if !pk.is_ciphertext(&m.k_ct) {
                    return Err(blame(from, P1_1, "K_j is not in Z*_(N_j²)"));
                }
                Ok(m)
            },
            Ok::<P2p1, Blame>,
        )
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self, rng: &mut impl rand_core::CryptoRngCore) -> Result<Next, ProtocolError> {
        let Round1 {
            mut ctx, mut inbox, ..
        } = self;
        let mut blames = inbox.take_blames();
        let SplitInbox { bcast, p2p } = inbox;
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let own_aux = ctx.me_view()?.aux.clone();
        for (j, m) in bcast.iter() {
            // [P1.2] Π^enc: K_j encrypts k_j ∈ ±2^{ℓ+ε}, proved to us with our parameters.
            let Some(proof) = p2p.get(j) else {
                blames.push(blame(j, P1_2, "missing Π^enc"));
                continue;
            };
            let Some(view) = ctx.peer(j) else {
                blames.push(blame(j, P1_2, "not a signer"));
                continue;
            };
            let pctx = proof_ctx(super::PROTOCOL, &ctx.sid, b"enc", j, Some(ctx.me));
            let st = enc::Statement {
                n0: view.pk.n(),
                ciphertext: &m.k_ct,
                aux: &own_aux,
            };
            let own_key = Some(ctx.share.paillier());
            if let Err(e) = enc::verify(&pctx, &st, &ctx.level, &proof.enc, own_key) {
                blames.push(blame(j, P1_2, e.to_string()));
            }
        }
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        for (j, m) in bcast.into_accepted() {
            if let Some(v) = ctx.peer_mut(j) {
                v.k_ct = m.k_ct;
                v.gamma_commitment = m.gamma_commitment;
            }
        }
        Ok(Next::Round(State::R2(Box::new(r2::Round2::new(ctx, rng)?))))
    }
}
