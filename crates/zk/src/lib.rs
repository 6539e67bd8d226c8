#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

mod arith;
pub mod aux;
mod ec;
pub mod error;
pub mod params;
#[cfg(test)]
mod testkeys;

// Elliptic-curve proofs, written here.
pub mod dleq;
pub mod pedersen;
pub mod schnorr;

// Paillier / ring-Pedersen proofs written here: constant-time provers, CRT for the owner of a key.
pub mod aff_g;
pub mod enc;
pub mod log_star;
pub mod prm;

// Thin, context-binding wrappers over paillier-zk =0.7.0-alpha.3 (CGGMP24 revision).
pub mod fac;
pub mod modulus;
mod upstream;

pub use arith::CHALLENGE_BITS;

pub use aux::RingPedersen;
pub use error::{Verified, ZkError};
pub use params::SecurityLevel;
