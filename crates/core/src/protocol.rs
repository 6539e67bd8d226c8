//! The sans-IO state-machine interface every protocol implements, and its error.
//!
//! A protocol is a sequence of rounds. In each round a party first hands out its outgoing
//! messages ([`StateMachine::take_outgoing`]), then takes incoming messages one at a time
//! ([`StateMachine::receive`]), and when it has heard from everyone it expects
//! ([`StateMachine::ready`]) it moves on ([`StateMachine::proceed`]), consuming the round.
//! A message that fails a check blames its sender; the round keeps every blame and the
//! protocol aborts at the end of the round with all of them (cggmp21 `collect_blame`).

use crate::wire::Outgoing;
use crate::{Blame, PartyIndex};

/// Why a protocol run ended without output.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProtocolError {
    /// One or more parties failed checks; every entry carries evidence of the check's tag.
    #[error("aborted: {}", fmt_blames(.0))]
    Aborted(Vec<Blame>),
    /// The local caller supplied unusable input (wrong signer set, key of another size…).
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// A failure no party can be blamed for. The protocol guarantees this never happens with
    /// honest code; a node must halt the key and raise an alarm (PROTOCOL-NOTES §2.3).
    #[error("internal error: {0}")]
    Bug(String),
}

fn fmt_blames(b: &[Blame]) -> String {
    b.iter()
        .map(|b| b.to_string())
        .collect::<Vec<_>>()
        .join("; ")
}

impl ProtocolError {
    /// The blamed parties, sorted and deduplicated (empty for non-abort errors).
    pub fn culprits(&self) -> Vec<PartyIndex> {
        match self {
            ProtocolError::Aborted(b) => crate::Culprits::culprits(b.as_slice()),
            _ => Vec::new(),
        }
    }

    pub fn blames(&self) -> &[Blame] {
        match self {
            ProtocolError::Aborted(b) => b,
            _ => &[],
        }
    }
}

/// Result of finishing a round.
#[derive(Debug)]
pub enum Transition<S, O> {
    /// The next round; call [`StateMachine::take_outgoing`] on it.
    Continue(S),
    /// The protocol's output.
    Done(O),
}

/// A party's side of one protocol run.
pub trait StateMachine: Sized {
    type Output;

    /// This party's index.
    fn me(&self) -> PartyIndex;

    /// The parties this protocol runs among (including `me`).
    fn participants(&self) -> &[PartyIndex];

    /// The current round's outgoing messages (empty after the first call).
    fn take_outgoing(&mut self) -> Vec<Outgoing>;

    /// Checks one message of the current round from an authenticated sender. An error blames
    /// the sender and is also kept by the round, so `proceed` will abort with it.
    fn receive(&mut self, from: PartyIndex, bytes: &[u8]) -> Result<(), Blame>;

    /// Whether every expected message of the current round has been received (or its sender
    /// already blamed).
    fn ready(&self) -> bool;

    /// Finishes the round.
    fn proceed(
        self,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Result<Transition<Self, Self::Output>, ProtocolError>;
}
