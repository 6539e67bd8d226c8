//! Reshare round 4: receivers acknowledge the outcome.
//!
//! Every check of rounds 1–3 passed at this receiver: it assembles its new key share and
//! broadcasts the digest of the new committee's public data (`X′_l` for every new party and
//! every `(N_l, s_l, t_l)`), the acknowledgement old parties wait for before erasing anything
//! (tss-lib `round_4_new_step_2` "ACK to both committees"; SECURITY-CHECKLIST "Old parties
//! erase their shares only after the new committee confirms").
//!
//! CHECKS: none on receipt; whether each acknowledgement matches is decided in round 5, on
//! everyone's echoed view (`[R4.1]`, `[R5.1]`), so that every participant decides the same.

use k256::{ProjectivePoint, Scalar};
use tessera_core::inbox::Inbox;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError, Transcript};
use tessera_keyshare::{KeyShare, PartyAux};
use tessera_zk::RingPedersen;
use zeroize::Zeroizing;

use super::{outcome_digest, r5, Ack, Common, Role};
use crate::common::{expect, wire_blame};
use crate::malicious::Behaviour;

pub(crate) struct Round4 {
    pub common: Common,
    pub out: Vec<Outgoing>,
    share: Option<KeyShare>,
    digest: [u8; 32],
    /// The acknowledgement this party sent (to everyone, if it is honest).
    sent: Option<[u8; 32]>,
    inbox: Inbox<[u8; 32]>,
}

impl Round4 {
    pub fn new(
        common: Common,
        paillier: Option<tessera_paillier::SecretKey>,
        x: Option<Zeroizing<Scalar>>,
        aux: Vec<RingPedersen>,
        public_shares: Vec<ProjectivePoint>,
    ) -> Result<Self, ProtocolError> {
        let digest = outcome_digest(&common, &public_shares, &aux);
        let mut out = Vec::new();
        let mut share = None;
        let mut sent = None;
        if let (Role::Receiver { j }, Some(paillier), Some(x)) = (common.role, paillier, x) {
            let st = &common.st;
            let mut t = Transcript::new(b"tessera.ecdsa.reshare.rid.v1");
            t.append_sid(&common.sid);
            t.append(b"statement", &common.digest);
            let rid = t.challenge_bytes32(b"rid");
            let ks = KeyShare::new(
                st.key_id,
                st.level,
                j,
                st.new_threshold,
                st.public_key,
                &public_shares,
                st.chain_code,
                rid,
                aux.into_iter().map(|rp| PartyAux { rp }).collect(),
                &x,
                paillier,
            )
            .map_err(|e| ProtocolError::Bug(format!("key share assembly: {e}")))?;
            share = Some(ks);
            let header = common.header(4, Delivery::Broadcast);
            match common.behaviour {
                Behaviour::ReshareWrongAck => {
                    let mut d = digest;
                    d[0] ^= 1;
                    out.push(wire::encode(&header, &Ack { digest: d }));
                    sent = Some(d);
                }
                Behaviour::ReshareSplitAck => {
                    // Acknowledge to half the participants and contradict to the other half,
                    // each copy a well-formed broadcast.
                    for to in common.others() {
                        let mut d = digest;
                        if to.0 % 2 == 1 {
                            d[0] ^= 1;
                        }
                        out.push(Outgoing {
                            delivery: Delivery::P2p { to },
                            bytes: wire::encode(&header, &Ack { digest: d }).bytes,
                        });
                    }
                }
                _ => out.push(wire::encode(&header, &Ack { digest })),
            }
            sent = sent.or(Some(digest));
        }
        let inbox = Inbox::new(common.other_receivers());
        Ok(Self {
            common,
            out,
            share,
            digest,
            sent,
            inbox,
        })
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Reshare, self.common.sid, 4, Delivery::Broadcast);
        self.inbox.accept(from, bytes, || {
            let m: Ack = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            Ok(m.digest)
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self) -> Result<r5::Round5, ProtocolError> {
        let Round4 {
            common,
            share,
            digest,
            sent,
            mut inbox,
            ..
        } = self;
        let blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let mut acks: Vec<Option<[u8; 32]>> = vec![None; usize::from(common.st.new_n)];
        for (p, d) in inbox.into_accepted() {
            if let Some(slot) = acks.get_mut(p.as_usize()) {
                *slot = Some(d);
            }
        }
        if let Role::Receiver { j } = common.role {
            if let Some(slot) = acks.get_mut(j.as_usize()) {
                *slot = sent;
            }
        }
        Ok(r5::Round5::new(common, share, digest, acks))
    }
}
