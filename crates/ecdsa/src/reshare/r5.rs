//! Reshare round 5: everyone echoes the acknowledgements it received; the outcome.
//!
//! Reliable broadcast of the final confirmation (SECURITY-CHECKLIST "Broadcast", PROTOCOL-NOTES
//! §2.1 forget-and-forgive / split view): every participant of both roles broadcasts the
//! acknowledgement it received from each receiver. Only when every echo agrees with its own
//! view, and every acknowledgement is the outcome it computed itself, does a receiver activate
//! its new share and a dealer return [`Retirement`](super::Retirement).
//!
//! CHECKS: `[R5.2]` an echo has one entry per receiver; `[R5.1]` two views of one receiver's
//! acknowledgement differ (it equivocated); `[R4.1]` everyone saw the same acknowledgement,
//! and it is not our outcome (or missing).

use tessera_core::inbox::Inbox;
use tessera_core::wire::{self, Delivery, Outgoing, ProtocolId};
use tessera_core::{Blame, PartyIndex, ProtocolError};
use tessera_keyshare::KeyShare;

use super::{blame, Common, Echo, ReshareOutput, Retirement, Role, R4_1, R5_1, R5_2};
use crate::common::{expect, wire_blame};

type Acks = Vec<Option<[u8; 32]>>;

pub(crate) struct Round5 {
    pub common: Common,
    pub out: Vec<Outgoing>,
    share: Option<KeyShare>,
    digest: [u8; 32],
    acks: Acks,
    inbox: Inbox<Acks>,
}

impl Round5 {
    pub fn new(common: Common, share: Option<KeyShare>, digest: [u8; 32], acks: Acks) -> Self {
        let mut echoed = acks.clone();
        if common.behaviour == crate::malicious::Behaviour::ReshareShortEcho {
            echoed.pop();
        }
        let out = vec![wire::encode(
            &common.header(5, Delivery::Broadcast),
            &Echo { acks: echoed },
        )];
        let inbox = Inbox::new(common.others());
        Self {
            common,
            out,
            share,
            digest,
            acks,
            inbox,
        }
    }

    pub fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame> {
        let e = expect(ProtocolId::Reshare, self.common.sid, 5, Delivery::Broadcast);
        let n = usize::from(self.common.st.new_n);
        self.inbox.accept(from, bytes, || {
            let m: Echo = wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?;
            // [R5.2] One entry per receiver.
            if m.acks.len() != n {
                return Err(blame(
                    from,
                    R5_2,
                    format!("echo of {} acknowledgements, expected {n}", m.acks.len()),
                ));
            }
            Ok(m.acks)
        })
    }

    pub fn ready(&self) -> bool {
        self.inbox.ready()
    }

    pub fn proceed(self) -> Result<ReshareOutput, ProtocolError> {
        let Round5 {
            common,
            share,
            digest,
            acks,
            mut inbox,
            ..
        } = self;
        let mut blames = inbox.take_blames();
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        let echoes: Vec<(PartyIndex, Acks)> = inbox.into_accepted();
        for (j, mine) in acks.iter().enumerate() {
            let receiver = PartyIndex(u16::try_from(j).unwrap_or(u16::MAX));
            // [R5.1] Everyone must have received the same acknowledgement from `receiver`.
            let split = echoes
                .iter()
                .find(|(_, theirs)| theirs.get(j) != Some(mine));
            if let Some((echoer, _)) = split {
                blames.push(blame(
                    receiver,
                    R5_1,
                    format!(
                        "its acknowledgement as echoed by seat {echoer} differs from the one we received"
                    ),
                ));
                continue;
            }
            // [R4.1] …and it must be the outcome we computed.
            if *mine != Some(digest) {
                blames.push(blame(
                    receiver,
                    R4_1,
                    "acknowledged a different outcome of the resharing",
                ));
            }
        }
        if !blames.is_empty() {
            return Err(ProtocolError::Aborted(blames));
        }
        match (common.role, share) {
            (Role::Receiver { .. }, Some(ks)) => Ok(ReshareOutput::NewShare(Box::new(ks))),
            (Role::Dealer { old }, None) => Ok(ReshareOutput::Retire(Retirement {
                key_id: common.st.key_id,
                old_index: old,
                confirmation: digest,
            })),
            _ => Err(ProtocolError::Bug("role and output disagree".into())),
        }
    }
}
