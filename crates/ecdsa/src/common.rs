//! Helpers shared by the protocols: proof contexts, hedged nonces, integer/scalar conversion.

use k256::elliptic_curve::ops::Reduce;
use k256::elliptic_curve::PrimeField;
use k256::{Scalar, U256};
use rug::integer::Order;
use rug::Integer;
use serde::de::DeserializeOwned;
use tessera_core::inbox::Inbox;
use tessera_core::wire::{self, Delivery, Expect, ProtocolId};
use tessera_core::{Blame, CheckTag, PartyIndex, SessionId, Transcript};

/// No honest message of a network of up to 256 parties at the 128-bit level is near this.
pub const MAX_MSG_LEN: usize = 8 << 20;

/// The wire-level check: a message that does not decode, or whose header names another
/// session, round, sender or delivery, blames its sender.
pub const WIRE: CheckTag = CheckTag("[W.0]");

/// The Fiat–Shamir context of one proof: protocol, session, round, prover and, for proofs
/// addressed to one verifier, the verifier.
pub fn proof_ctx(
    protocol: &'static [u8],
    sid: &SessionId,
    proof: &'static [u8],
    prover: PartyIndex,
    verifier: Option<PartyIndex>,
) -> Transcript {
    let mut t = Transcript::new(protocol);
    t.append_sid(sid);
    t.append(b"proof", proof);
    t.append_party(b"prover", prover);
    match verifier {
        Some(v) => t.append_party(b"verifier", v),
        None => t.append(b"verifier", b"all"),
    };
    t
}

/// A nonce hedged with secret material: `H(rng ‖ secret ‖ sid ‖ label)` reduced mod q, so a
/// weak rng alone does not make nonces predictable (frost `Nonce::new`).
pub fn hedged_scalar(
    rng: &mut impl rand_core::CryptoRngCore,
    secret: &Scalar,
    sid: &SessionId,
    label: &[u8],
) -> Scalar {
    let mut fresh = [0u8; 32];
    rng.fill_bytes(&mut fresh);
    let mut t = Transcript::new(b"tessera.ecdsa.hedged-nonce.v1");
    t.append(b"rng", &fresh);
    t.append_scalar(b"secret", secret);
    t.append_sid(sid);
    t.append(b"label", label);
    zeroize::Zeroize::zeroize(&mut fresh);
    t.challenge_scalar(b"nonce")
}

pub fn scalar_to_integer(s: &Scalar) -> Integer {
    Integer::from_digits(&s.to_repr()[..], Order::Msf)
}

/// The secp256k1 group order as an integer.
pub fn group_order() -> Integer {
    scalar_to_integer(&(-Scalar::ONE)) + 1u32
}

/// Reduces a (possibly negative) integer mod q.
pub fn integer_to_scalar(x: &Integer) -> Scalar {
    let q = group_order();
    let mut r = Integer::from(x % &q);
    if r < 0 {
        r += &q;
    }
    let digits = r.to_digits::<u8>(Order::Msf);
    let mut bytes = [0u8; 32];
    let start = 32usize.saturating_sub(digits.len());
    if let Some(dst) = bytes.get_mut(start..) {
        if let Some(src) = digits.get(digits.len().saturating_sub(32)..) {
            dst.copy_from_slice(src);
        }
    }
    <Scalar as Reduce<U256>>::reduce(U256::from_be_slice(&bytes))
}

/// A wire error becomes a blame of the sender.
pub fn wire_blame(from: PartyIndex, e: tessera_core::wire::WireError) -> Blame {
    Blame::new(from, WIRE, e.to_string())
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

/// How many distinct dealers `dealers` names, if it names each at most once and no more than
/// `max` of them: a complaint costs every judge a Paillier encryption, so repeats are refused
/// before any is judged (keygen `[K4.6]`, resharing `[R3.6]`).
pub(crate) fn one_per_dealer(
    dealers: impl Iterator<Item = PartyIndex>,
    max: usize,
) -> Result<(), String> {
    let mut named: Vec<PartyIndex> = dealers.collect();
    let total = named.len();
    named.sort();
    named.dedup();
    if named.len() != total || named.len() > max {
        return Err(format!(
            "{total} complaints about {} dealers: at most one per dealer",
            named.len()
        ));
    }
    Ok(())
}

/// The inboxes of a round in which every sender sends one broadcast and one p2p message.
pub(crate) struct SplitInbox<B, P> {
    pub bcast: Inbox<B>,
    pub p2p: Inbox<P>,
}

impl<B, P> SplitInbox<B, P> {
    pub fn new(senders: Vec<PartyIndex>) -> Self {
        Self {
            bcast: Inbox::new(senders.clone()),
            p2p: Inbox::new(senders),
        }
    }

    /// Broadcasts expected from one set of parties and p2p messages from another.
    pub fn with_senders(bcast: Vec<PartyIndex>, p2p: Vec<PartyIndex>) -> Self {
        Self {
            bcast: Inbox::new(bcast),
            p2p: Inbox::new(p2p),
        }
    }

    pub fn ready(&self) -> bool {
        self.bcast.ready() && self.p2p.ready()
    }

    /// Every blame of both inboxes.
    pub fn take_blames(&mut self) -> Vec<Blame> {
        let mut b = self.bcast.take_blames();
        b.extend(self.p2p.take_blames());
        b
    }

    /// Routes a message by its header to the broadcast or p2p inbox, decodes it against the
    /// round's expectations and runs the matching check. A message whose header does not
    /// parse settles both of the sender's slots, so the round still finishes and aborts with
    /// the blame instead of waiting forever.
    #[allow(clippy::too_many_arguments)]
    pub fn receive<MB: DeserializeOwned, MP: DeserializeOwned>(
        &mut self,
        from: PartyIndex,
        bytes: &[u8],
        protocol: ProtocolId,
        sid: SessionId,
        round: u16,
        me: PartyIndex,
        check_bcast: impl FnOnce(MB) -> Result<B, Blame>,
        check_p2p: impl FnOnce(MP) -> Result<P, Blame>,
    ) -> Result<(), Blame> {
        let header = match wire::peek_header(bytes, MAX_MSG_LEN) {
            Ok(h) => h,
            Err(e) => {
                let b = wire_blame(from, e);
                self.bcast.reject(from, bytes, b.clone());
                self.p2p.reject(from, bytes, b.clone());
                return Err(b);
            }
        };
        match header.delivery {
            Delivery::Broadcast => {
                let e = expect(protocol, sid, round, Delivery::Broadcast);
                self.bcast.accept(from, bytes, || {
                    check_bcast(wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?)
                })
            }
            Delivery::P2p { .. } => {
                let e = expect(protocol, sid, round, Delivery::P2p { to: me });
                self.p2p.accept(from, bytes, || {
                    check_p2p(wire::decode(bytes, from, &e).map_err(|e| wire_blame(from, e))?)
                })
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integer_scalar_roundtrip() {
        let s = Scalar::from(123456789u64);
        assert_eq!(integer_to_scalar(&scalar_to_integer(&s)), s);
        assert_eq!(integer_to_scalar(&Integer::from(-1)), -Scalar::ONE);
        assert_eq!(integer_to_scalar(&group_order()), Scalar::ZERO);
        let big = group_order() * 5u32 + 7u32;
        assert_eq!(integer_to_scalar(&big), Scalar::from(7u64));
    }
}
