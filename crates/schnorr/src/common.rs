//! Shared by the protocols: party identifiers, message framing, size limits.

use frost_core::{Ciphersuite, Identifier};
use tessera_core::wire::{self, Delivery, Expect, Header, Outgoing, ProtocolId, WIRE_VERSION};
use tessera_core::{Blame, CheckTag, PartyIndex, ProtocolError, SessionId};

/// No honest message of these protocols for up to 1024 parties comes near this (a DKG round-1
/// package is `t` points and a proof; everything else is a few points or scalars).
pub const MAX_MSG_LEN: usize = 128 << 10;

/// The largest message a key signs (Solana transactions are at most 1232 bytes).
pub const MAX_MESSAGE_LEN: usize = 64 << 10;

/// The wire-level check: a message that does not decode as a framed message for this session,
/// round, sender and delivery blames its sender.
pub const WIRE: CheckTag = CheckTag("[W.0]");

/// A party's FROST identifier: `HID(tag ‖ keygen sid ‖ index)`. Deriving it from the keygen
/// session binds the DKG's proofs of knowledge (which hash the identifier) to that session.
pub fn identifier<C: Ciphersuite>(
    key_sid: &SessionId,
    p: PartyIndex,
) -> Result<Identifier<C>, ProtocolError> {
    let mut input = Vec::with_capacity(64);
    input.extend_from_slice(b"tessera.frost.id.v1");
    input.extend_from_slice(&key_sid.0);
    input.extend_from_slice(&p.0.to_be_bytes());
    Identifier::derive(&input)
        .map_err(|e| ProtocolError::Bug(format!("identifier derivation failed: {e}")))
}

/// Identifiers of `parties`, in the same order.
pub fn identifiers<C: Ciphersuite>(
    key_sid: &SessionId,
    parties: &[PartyIndex],
) -> Result<Vec<(PartyIndex, Identifier<C>)>, ProtocolError> {
    parties
        .iter()
        .map(|&p| identifier::<C>(key_sid, p).map(|id| (p, id)))
        .collect()
}

/// Checks a party list: sorted, distinct, containing `me`, with `min` to `u16::MAX` members.
pub fn check_parties(
    parties: &[PartyIndex],
    me: PartyIndex,
    min: usize,
) -> Result<(), ProtocolError> {
    if parties.len() < min {
        return Err(ProtocolError::InvalidInput(format!(
            "{} parties, at least {min} needed",
            parties.len()
        )));
    }
    if parties.windows(2).any(|w| matches!(w, [a, b] if a >= b)) {
        return Err(ProtocolError::InvalidInput(
            "parties must be sorted and distinct".into(),
        ));
    }
    if !parties.contains(&me) {
        return Err(ProtocolError::InvalidInput(format!(
            "party {me} is not one of the participants"
        )));
    }
    Ok(())
}

pub fn header(
    protocol: ProtocolId,
    sid: SessionId,
    round: u16,
    from: PartyIndex,
    delivery: Delivery,
) -> Header {
    Header {
        version: WIRE_VERSION,
        protocol,
        sid,
        round,
        from,
        delivery,
    }
}

pub fn expect(protocol: ProtocolId, sid: SessionId, round: u16, delivery: Delivery) -> Expect {
    Expect {
        protocol,
        sid,
        round,
        delivery,
        max_len: MAX_MSG_LEN,
    }
}

/// Frames `payload` (frost's own serialisation of a package) for the wire.
pub fn encode(header: &Header, payload: &[u8]) -> Outgoing {
    wire::encode(header, &payload)
}

/// Decodes a framed message to frost's bytes; any header or framing failure blames `from`.
pub fn decode(bytes: &[u8], from: PartyIndex, expect: &Expect) -> Result<Vec<u8>, Blame> {
    wire::decode::<Vec<u8>>(bytes, from, expect).map_err(|e| Blame::new(from, WIRE, e.to_string()))
}

/// A frost error in local computation (our own input or state), never a peer's fault.
pub fn bug<C: Ciphersuite>(what: &str, e: frost_core::Error<C>) -> ProtocolError {
    ProtocolError::Bug(format!("{what}: {e}"))
}
