//! Reshare round 3: receivers prove their new shares, or complain about a dealer.
//!
//! Receiver `j`: `x′_j = Σ_k f_k(j + 1)` over the dealers, `X′_l = Σ_k Σ_t (l + 1)^t·A_k,t` for
//! every new party `l` (tss-lib `round_4_new_step_2`, "recompute all X′_j"), and a Schnorr proof
//! of `x′_j` bound to the session and statement — or, for a share that failed the Feldman
//! check, its plaintext and Paillier nonce as evidence (keygen's complaint scheme).
//!
//! CHECKS, by everyone, on every receiver's message: `[R3.1]`–`[R3.3]` in [`judge`];
//! `[R3.6]` more than one complaint about a dealer (refused before judging any: each
//! judgement costs a Paillier encryption);
//! `[R3.4]` the Schnorr proof of `x′_j` against `X′_j`; `[R3.5]` neither a proof nor a
//! complaint.

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use tessera_core::inbox::Inbox;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_paillier::PublicKey;
use tessera_zk::{schnorr, RingPedersen};
use zeroize::Zeroizing;

use super::r2::Dealt;
use super::{
    blame, public_share_of, r4, Common, Complaint, Confirm, Role, R3_1, R3_2, R3_3, R3_4, R3_5,
    R3_6,
};
use crate::common::{expect, group_order, integer_to_scalar, wire_blame};
use crate::keygen::feldman_eval;
use crate::malicious::Behaviour;

pub(crate) struct Round3 {
    pub common: Common,
    pub out: Vec<Outgoing>,
    pub(crate) paillier: Option<tessera_paillier::SecretKey>,
    pub(crate) x: Option<Zeroizing<Scalar>>,
    pub(crate) commitments: Vec<(PartyIndex, Vec<ProjectivePoint>)>,
    pub(crate) aux: Vec<RingPedersen>,
    pub(crate) dealt: Vec<(PartyIndex, Dealt)>,
    pub(crate) public_shares: Vec<ProjectivePoint>,
    own_complaints: Vec<Complaint>,
    inbox: Inbox<Vec<Blame>>,
}

impl Round3 {
    pub fn new(
        common: Common,
        paillier: Option<tessera_paillier::SecretKey>,
        commitments: Vec<(PartyIndex, Vec<ProjectivePoint>)>,
        aux: Vec<RingPedersen>,
        dealt: Vec<(PartyIndex, Dealt)>,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Self, ProtocolError> {
        let coeff_sets: Vec<Vec<ProjectivePoint>> =
            commitments.iter().map(|(_, c)| c.clone()).collect();
        let public_shares: Vec<ProjectivePoint> = common
            .st
            .receivers()
            .map(|j| public_share_of(&coeff_sets, j))
            .collect();
        // Σ_k A_k,0 = Σ_k λ_k·X_k = y: implied by [R1.3] and the statement's validation.
        let mut y = ProjectivePoint::IDENTITY;
        for c in &coeff_sets {
            y += c.first().copied().unwrap_or(ProjectivePoint::IDENTITY);
        }
        if y != common.st.public_key {
            return Err(ProtocolError::Bug(
                "dealers' constant terms do not sum to the public key".into(),
            ));
        }

        let mut out = Vec::new();
        let mut own_complaints = Vec::new();
        let mut x = None;
        if let (Role::Receiver { j }, Some(key)) = (common.role, paillier.as_ref()) {
            let mut sum = Zeroizing::new(Scalar::ZERO);
            for (_, d) in &dealt {
                match &d.ours {
                    Some(Ok(s)) => *sum += s,
                    Some(Err(c)) => own_complaints.push(c.clone()),
                    None => return Err(ProtocolError::Bug("dealing without our share".into())),
                }
            }
            if let Behaviour::ReshareBadReveal { against } = common.behaviour {
                if let Some((_, d)) = dealt.iter().find(|(p, _)| *p == against) {
                    if let Some(c) = d.shares.get(j.as_usize()) {
                        if let Ok((plaintext, nonce)) = key.decrypt_with_nonce(c) {
                            own_complaints.push(Complaint {
                                dealer: against,
                                plaintext,
                                nonce: nonce + 1u32,
                            });
                        }
                    }
                }
            }
            if let Behaviour::ReshareComplaintFlood { against } = common.behaviour {
                if let Some((_, d)) = dealt.iter().find(|(p, _)| *p == against) {
                    if let Some(c) = d.shares.get(j.as_usize()) {
                        if let Ok((plaintext, nonce)) = key.decrypt_with_nonce(c) {
                            let c = Complaint {
                                dealer: against,
                                plaintext,
                                nonce,
                            };
                            own_complaints.extend(std::iter::repeat_n(c, 8));
                        }
                    }
                }
            }
            if let Behaviour::ReshareFalseAccusation { against } = common.behaviour {
                // Reveal the (valid) share from `against` as if it were bad.
                if let Some((_, d)) = dealt.iter().find(|(p, _)| *p == against) {
                    if let Some(c) = d.shares.get(j.as_usize()) {
                        if let Ok((plaintext, nonce)) = key.decrypt_with_nonce(c) {
                            own_complaints.push(Complaint {
                                dealer: against,
                                plaintext,
                                nonce,
                            });
                        }
                    }
                }
            }
            let schnorr = if own_complaints.is_empty() {
                let own_public = public_shares
                    .get(j.as_usize())
                    .copied()
                    .ok_or_else(|| ProtocolError::Bug("own public share".into()))?;
                if ProjectivePoint::mul_by_generator(&*sum) != own_public {
                    return Err(ProtocolError::Bug(
                        "own share does not match the commitments".into(),
                    ));
                }
                let ctx = common.ctx(b"schnorr", common.me, None);
                match common.behaviour {
                    Behaviour::ReshareSilentConfirm => None,
                    Behaviour::ReshareBadSchnorr => {
                        let wrong = Zeroizing::new(*sum + Scalar::ONE);
                        Some(schnorr::prove(&ctx, &wrong, &own_public, rng))
                    }
                    _ => Some(schnorr::prove(&ctx, &sum, &own_public, rng)),
                }
            } else {
                None
            };
            out.push(wire::encode(
                &common.header(3, Delivery::Broadcast),
                &Confirm {
                    complaints: own_complaints.clone(),
                    schnorr,
                },
            ));
            x = Some(sum);
        }
        let inbox = Inbox::new(common.other_receivers());
        Ok(Self {
            common,
            out,
            paillier,
            x,
            commitments,
            aux,
            dealt,
            public_shares,
            own_complaints,
            inbox,
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Reshare, self.common.sid, 3, Delivery::Broadcast);
        let (common, dealt, commitments, aux, public_shares) = (
            &self.common,
            &self.dealt,
            &self.commitments,
            &self.aux,
            &self.public_shares,
        );
        self.inbox.accept(from, bytes, || {
            let m: Confirm = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            if !m.complaints.is_empty() {
                // [R3.6] At most one complaint per dealer: each costs every judge a Paillier
                // encryption, so a flood of them is refused before any is judged.
                crate::common::one_per_dealer(m.complaints.iter().map(|c| c.dealer), dealt.len())
                    .map_err(|why| blame(from, R3_6, why))?;
                // Verdicts may blame the sender or a dealer; they are collected, not raised here.
                return Ok(m
                    .complaints
                    .iter()
                    .map(|c| judge(from, c, dealt, commitments, aux))
                    .collect());
            }
            // [R3.5] Without complaints, a Schnorr proof is mandatory.
            let Some(proof) = m.schnorr else {
                return Err(blame(from, R3_5, "neither a Schnorr proof nor a complaint"));
            };
            // [R3.4] Schnorr proof of x′_j for X′_j derived from the commitments.
            let x_j = public_shares
                .get(from.as_usize())
                .ok_or_else(|| blame(from, R3_4, "unknown receiver"))?;
            let ctx = common.ctx(b"schnorr", from, None);
            let _verified =
                schnorr::verify(&ctx, x_j, &proof).map_err(|e| blame(from, R3_4, e.to_string()))?;
            Ok(Vec::new())
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self) -> Result<r4::Round4, ProtocolError> {
        let Round3 {
            common,
            paillier,
            x,
            commitments,
            aux,
            dealt,
            public_shares,
            own_complaints,
            mut inbox,
            ..
        } = self;
        let mut blames = inbox.take_blames();
        for (_, verdicts) in inbox.iter() {
            blames.extend(verdicts.iter().cloned());
        }
        for c in &own_complaints {
            blames.push(judge(common.me, c, &dealt, &commitments, &aux));
        }
        if !blames.is_empty() {
            blames.sort_by_key(|b| b.party);
            blames.dedup_by(|a, b| a.party == b.party && a.check == b.check);
            return Err(ProtocolError::Aborted(blames));
        }
        r4::Round4::new(common, paillier, x, aux, public_shares)
    }
}

/// Judges a complaint by `accuser` against a dealer, from broadcast data only, so every honest
/// participant reaches the same verdict:
/// - `[R3.2]` the reveal does not re-encrypt to the broadcast ciphertext → the accuser lied;
/// - `[R3.3]` it does, and the share passes the Feldman check → false accusation;
/// - `[R3.1]` it does, and the share fails the Feldman check → the dealer dealt a bad share.
pub(crate) fn judge(
    accuser: PartyIndex,
    c: &Complaint,
    dealt: &[(PartyIndex, Dealt)],
    commitments: &[(PartyIndex, Vec<ProjectivePoint>)],
    aux: &[RingPedersen],
) -> Blame {
    let d = dealt.iter().find(|(q, _)| *q == c.dealer).map(|(_, d)| d);
    let coeffs = commitments
        .iter()
        .find(|(q, _)| *q == c.dealer)
        .map(|(_, c)| c);
    let (Some(coeffs), Some(accuser_aux), Some(ct)) = (
        coeffs,
        aux.get(accuser.as_usize()),
        d.and_then(|d| d.shares.get(accuser.as_usize())),
    ) else {
        return blame(accuser, R3_3, "complaint names no dealer of this resharing");
    };
    // [R3.2] The revealed plaintext and nonce must re-encrypt to what the dealer broadcast.
    match PublicKey::from_n(accuser_aux.n.clone()).encrypt_with(&c.plaintext, &c.nonce) {
        Ok(re) if re == *ct => {}
        _ => {
            return blame(
                accuser,
                R3_2,
                format!(
                    "revealed share from dealer seat {} does not re-encrypt to the broadcast ciphertext",
                    c.dealer
                ),
            )
        }
    }
    // [R3.3] / [R3.1] Feldman check of the revealed share.
    if c.plaintext >= 0 && c.plaintext < group_order() {
        let s = integer_to_scalar(&c.plaintext);
        if ProjectivePoint::mul_by_generator(&s) == feldman_eval(coeffs, accuser) {
            return blame(
                accuser,
                R3_3,
                format!(
                    "false accusation: the share from dealer seat {} is valid",
                    c.dealer
                ),
            );
        }
    }
    blame(
        c.dealer,
        R3_1,
        format!(
            "share dealt to receiver {accuser} fails the Feldman check (revealed by the receiver)"
        ),
    )
}
