//! Message framing: every protocol message is `Header ‖ payload`, encoded with `postcard`.
//!
//! The decoder enforces a size limit before parsing, rejects unknown versions and trailing
//! bytes, and checks that the header names the session, round, sender and recipient the
//! receiver expects. A message that fails any of this is the sender's fault (tofn
//! `wire_bytes.rs`), reported as a [`WireError`] that the protocol turns into a blame.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::{PartyIndex, SessionId};

/// Current wire version. Unknown versions are rejected.
pub const WIRE_VERSION: u16 = 1;

/// Identifies a protocol so that a message for one can never be parsed as another.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum ProtocolId {
    Keygen,
    Presign,
    Sign,
    Reshare,
    /// The echo round added by [`crate::echo::Echo`] after every round of a wrapped protocol.
    Echo,
    /// Threshold Schnorr (FROST) distributed key generation (`tessera-schnorr`). Appended after
    /// the existing variants so their postcard discriminants stay as they were.
    FrostKeygen,
    /// Threshold Schnorr (FROST) signing.
    FrostSign,
    /// Threshold Schnorr (FROST) share refresh.
    FrostRefresh,
}

/// Whether a message was sent to everyone (and so must reach everyone identically: the node
/// adds an echo round) or to one party.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub enum Delivery {
    Broadcast,
    P2p { to: PartyIndex },
}

#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Header {
    pub version: u16,
    pub protocol: ProtocolId,
    pub sid: SessionId,
    pub round: u16,
    pub from: PartyIndex,
    pub delivery: Delivery,
}

/// A framed outgoing message.
#[derive(Clone, PartialEq, Eq)]
pub struct Outgoing {
    pub delivery: Delivery,
    pub bytes: Vec<u8>,
}

impl std::fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Outgoing({:?}, {} bytes)",
            self.delivery,
            self.bytes.len()
        )
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum WireError {
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("message does not decode: {0}")]
    Malformed(String),
    #[error("message has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("unsupported wire version {0}")]
    Version(u16),
    #[error("message is for {got:?}, expected {want:?}")]
    WrongProtocol { got: ProtocolId, want: ProtocolId },
    #[error("message belongs to another session")]
    WrongSession,
    #[error("message is for round {got}, expected round {want}")]
    WrongRound { got: u16, want: u16 },
    #[error("header names sender {claimed}, but the channel authenticated {actual}")]
    WrongSender {
        claimed: PartyIndex,
        actual: PartyIndex,
    },
    #[error("message delivery {got:?} does not match the expected {want:?}")]
    WrongDelivery { got: Delivery, want: Delivery },
}

/// Encodes a payload with its header.
pub fn encode<T: Serialize>(header: &Header, payload: &T) -> Outgoing {
    // Serialising into a Vec cannot fail for our types (no maps with non-string keys, no
    // unbounded recursion); fall back to an empty payload that every receiver rejects.
    let bytes = postcard::to_allocvec(&(header, payload)).unwrap_or_default();
    Outgoing {
        delivery: header.delivery,
        bytes,
    }
}

/// What the receiver expects of a message before it looks at the payload.
#[derive(Clone, Copy, Debug)]
pub struct Expect {
    pub protocol: ProtocolId,
    pub sid: SessionId,
    pub round: u16,
    pub delivery: Delivery,
    pub max_len: usize,
}

/// Reads only the header, to route a message to the right inbox (broadcast or p2p).
pub fn peek_header(bytes: &[u8], max_len: usize) -> Result<Header, WireError> {
    if bytes.len() > max_len {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: max_len,
        });
    }
    let (header, _): (Header, &[u8]) =
        postcard::take_from_bytes(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    Ok(header)
}

/// Decodes and checks a message that the transport authenticated as coming from `from`.
pub fn decode<T: DeserializeOwned>(
    bytes: &[u8],
    from: PartyIndex,
    expect: &Expect,
) -> Result<T, WireError> {
    if bytes.len() > expect.max_len {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: expect.max_len,
        });
    }
    // The header is checked before the payload is parsed, so a message for another session,
    // round or sender is reported as such (and detected in the first round it appears).
    let (header, body): (Header, &[u8]) =
        postcard::take_from_bytes(bytes).map_err(|e| WireError::Malformed(e.to_string()))?;
    if header.version != WIRE_VERSION {
        return Err(WireError::Version(header.version));
    }
    if header.protocol != expect.protocol {
        return Err(WireError::WrongProtocol {
            got: header.protocol,
            want: expect.protocol,
        });
    }
    if header.sid != expect.sid {
        return Err(WireError::WrongSession);
    }
    if header.round != expect.round {
        return Err(WireError::WrongRound {
            got: header.round,
            want: expect.round,
        });
    }
    if header.from != from {
        return Err(WireError::WrongSender {
            claimed: header.from,
            actual: from,
        });
    }
    if header.delivery != expect.delivery {
        return Err(WireError::WrongDelivery {
            got: header.delivery,
            want: expect.delivery,
        });
    }
    let (payload, rest): (T, &[u8]) =
        postcard::take_from_bytes(body).map_err(|e| WireError::Malformed(e.to_string()))?;
    if !rest.is_empty() {
        return Err(WireError::TrailingBytes(rest.len()));
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn setup() -> (Header, Expect) {
        let sid = SessionId([7; 32]);
        let h = Header {
            version: WIRE_VERSION,
            protocol: ProtocolId::Presign,
            sid,
            round: 2,
            from: PartyIndex(1),
            delivery: Delivery::Broadcast,
        };
        let e = Expect {
            protocol: ProtocolId::Presign,
            sid,
            round: 2,
            delivery: Delivery::Broadcast,
            max_len: 1024,
        };
        (h, e)
    }

    #[test]
    fn roundtrip_and_every_header_check() {
        let (h, e) = setup();
        let m = encode(&h, &(5u32, vec![1u8, 2, 3]));
        let ok: (u32, Vec<u8>) = decode(&m.bytes, PartyIndex(1), &e).unwrap();
        assert_eq!(ok, (5, vec![1, 2, 3]));

        assert!(matches!(
            decode::<(u32, Vec<u8>)>(&m.bytes, PartyIndex(2), &e),
            Err(WireError::WrongSender { .. })
        ));
        let mut e2 = e;
        e2.round = 3;
        assert!(matches!(
            decode::<(u32, Vec<u8>)>(&m.bytes, PartyIndex(1), &e2),
            Err(WireError::WrongRound { .. })
        ));
        let mut e3 = e;
        e3.sid = SessionId([8; 32]);
        assert_eq!(
            decode::<(u32, Vec<u8>)>(&m.bytes, PartyIndex(1), &e3),
            Err(WireError::WrongSession)
        );
        let mut e4 = e;
        e4.protocol = ProtocolId::Keygen;
        assert!(matches!(
            decode::<(u32, Vec<u8>)>(&m.bytes, PartyIndex(1), &e4),
            Err(WireError::WrongProtocol { .. })
        ));
        let mut e5 = e;
        e5.delivery = Delivery::P2p { to: PartyIndex(0) };
        assert!(matches!(
            decode::<(u32, Vec<u8>)>(&m.bytes, PartyIndex(1), &e5),
            Err(WireError::WrongDelivery { .. })
        ));
        let mut e6 = e;
        e6.max_len = 4;
        assert!(matches!(
            decode::<(u32, Vec<u8>)>(&m.bytes, PartyIndex(1), &e6),
            Err(WireError::TooLarge { .. })
        ));
        let mut trailing = m.bytes.clone();
        trailing.push(0);
        assert_eq!(
            decode::<(u32, Vec<u8>)>(&trailing, PartyIndex(1), &e),
            Err(WireError::TrailingBytes(1))
        );
        assert!(matches!(
            decode::<(u32, Vec<u8>)>(&m.bytes[..5], PartyIndex(1), &e),
            Err(WireError::Malformed(_))
        ));
        let mut h2 = h;
        h2.version = 9;
        let m2 = encode(&h2, &(5u32, vec![1u8]));
        assert_eq!(
            decode::<(u32, Vec<u8>)>(&m2.bytes, PartyIndex(1), &e),
            Err(WireError::Version(9))
        );
    }
}
