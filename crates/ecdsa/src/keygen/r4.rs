//! Keygen round 4: proofs of the final shares, or complaints.
//!
//! GG20 §3, Phase 3 > "every player P_i proves in ZK that he knows x_i using Schnorr's protocol";
//! CGGMP keygen round 3 > `e_i = H(sid, i, rid, X_i, A_i)`.
//!
//! IN: complaints or Schnorr proofs. OUT: the key share.
//! CHECKS: `[K4.1]`–`[K4.3]` in [`super::complaint`]; `[K4.4]` Schnorr proof of `x_j` against
//! `X_j` derived from the Feldman commitments; `[K4.5]` neither a proof nor a complaint;
//! `[K4.6]` more than one complaint about one dealer (refused before judging any).

use k256::{ProjectivePoint, Scalar};
use tessera_core::inbox::Inbox;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_keyshare::{KeyShare, PartyAux};
use tessera_zk::schnorr;
use zeroize::Zeroizing;

use super::r3::Dealt;
use super::{blame, complaint, Bcast4, Common, Complaint, Opened, K4_4, K4_5, K4_6};
use crate::common::{expect, proof_ctx, wire_blame};

pub(crate) struct Round4Input {
    pub common: Common,
    pub out: Vec<Outgoing>,
    pub x: Zeroizing<Scalar>,
    pub paillier: tessera_paillier::SecretKey,
    pub opened: Vec<(PartyIndex, Opened)>,
    pub dealt: Vec<(PartyIndex, Dealt)>,
    pub own_complaints: Vec<Complaint>,
    pub public_shares: Vec<ProjectivePoint>,
    pub public_key: ProjectivePoint,
    pub rid: [u8; 32],
    pub chain: [u8; 32],
}

pub(crate) struct Round4 {
    pub out: Vec<Outgoing>,
    input: Round4Input,
    inbox: Inbox<Vec<Blame>>,
}

impl Round4 {
    pub fn new(mut input: Round4Input) -> Self {
        let inbox = Inbox::new(input.common.others());
        let out = std::mem::take(&mut input.out);
        Self { out, input, inbox }
    }

    /// A copy at the start of the round (see [`super::Keygen::fork`]).
    #[cfg(feature = "malicious")]
    pub fn fork(&self) -> Result<Self, ProtocolError> {
        if !super::untouched(&self.inbox) {
            return Err(ProtocolError::InvalidInput(
                "fork only at the start of a round".into(),
            ));
        }
        let i = &self.input;
        Ok(Self {
            out: self.out.clone(),
            input: Round4Input {
                common: i.common.clone(),
                out: Vec::new(),
                x: i.x.clone(),
                paillier: super::copy_paillier(&i.paillier)?,
                opened: i.opened.clone(),
                dealt: i.dealt.clone(),
                own_complaints: i.own_complaints.clone(),
                public_shares: i.public_shares.clone(),
                public_key: i.public_key,
                rid: i.rid,
                chain: i.chain,
            },
            inbox: Inbox::new(i.common.others()),
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let inp = &self.input;
        let e = expect(ProtocolId::Keygen, inp.common.sid, 4, Delivery::Broadcast);
        self.inbox.accept(from, bytes, || {
            let m: Bcast4 = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            if !m.complaints.is_empty() {
                // [K4.6] At most one complaint per dealer, refused before judging any: each
                // judgement costs a Paillier encryption, so repeats would be a cheap flood.
                crate::common::one_per_dealer(
                    m.complaints.iter().map(|c| c.dealer),
                    inp.dealt.len(),
                )
                .map_err(|why| blame(from, K4_6, why))?;
                // Verdicts may blame the sender or a dealer; they are collected, not raised here.
                return Ok(m
                    .complaints
                    .iter()
                    .map(|c| complaint::judge(from, c, &inp.dealt, &inp.opened))
                    .collect());
            }
            // [K4.5] Without complaints, a Schnorr proof is mandatory.
            let Some(proof) = m.schnorr else {
                return Err(blame(from, K4_5, "neither a Schnorr proof nor a complaint"));
            };
            // [K4.4] Schnorr proof of x_j for X_j derived from the commitments, bound to rid.
            let x_j = inp
                .public_shares
                .get(from.as_usize())
                .ok_or_else(|| blame(from, K4_4, "unknown party"))?;
            let mut ctx = proof_ctx(super::PROTOCOL, &inp.common.sid, b"schnorr", from, None);
            ctx.append(b"rid", &inp.rid);
            let _verified =
                schnorr::verify(&ctx, x_j, &proof).map_err(|e| blame(from, K4_4, e.to_string()))?;
            Ok(Vec::new())
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self) -> Result<KeyShare, ProtocolError> {
        let Round4 {
            input, mut inbox, ..
        } = self;
        let mut blames = inbox.take_blames();
        for (_, verdicts) in inbox.iter() {
            blames.extend(verdicts.iter().cloned());
        }
        for c in &input.own_complaints {
            blames.push(complaint::judge(
                input.common.me,
                c,
                &input.dealt,
                &input.opened,
            ));
        }
        if !blames.is_empty() {
            blames.sort_by_key(|b| b.party);
            blames.dedup_by(|a, b| a.party == b.party && a.check == b.check);
            return Err(ProtocolError::Aborted(blames));
        }
        let Round4Input {
            common,
            x,
            paillier,
            opened,
            public_shares,
            public_key,
            rid,
            chain,
            ..
        } = input;
        let aux = opened
            .into_iter()
            .map(|(_, o)| PartyAux { rp: o.rp })
            .collect();
        KeyShare::new(
            common.sid,
            common.level,
            common.me,
            common.threshold,
            public_key,
            &public_shares,
            chain,
            rid,
            aux,
            &x,
            paillier,
        )
        .map_err(|e| ProtocolError::Bug(format!("key share assembly: {e}")))
    }
}
