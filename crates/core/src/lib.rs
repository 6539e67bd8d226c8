#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod blame;
pub mod echo;
pub mod ids;
pub mod inbox;
pub mod point;
pub mod protocol;
pub mod secret;
pub mod transcript;
pub mod wire;

pub use blame::{Blame, CheckTag, Culprits};
pub use ids::{PartyIndex, SessionId, SignerIndex, SignerSet, SignerSetError};
pub use protocol::{ProtocolError, StateMachine, Transition};
pub use secret::SecretScalar;
pub use transcript::Transcript;
