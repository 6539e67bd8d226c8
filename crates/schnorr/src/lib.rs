#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod common;
pub mod dkg;
pub mod share;
pub mod sign;
pub mod suite;
pub mod verify;

pub use dkg::Dkg;
pub use share::{KeyShare, ShareError};
pub use sign::{Sign, Signature};
pub use suite::{Bip340, Ed25519, Suite};
pub use verify::{KeyType, VerifyError};
