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

// Paillier / ring-Pedersen proofs written here (paillier-zk 0.7 has no Π^prm and no Π^log*).
pub mod log_star;
pub mod prm;

// Thin, context-binding wrappers over paillier-zk =0.7.0-alpha.3 (CGGMP24 revision).
pub mod aff_g;
pub mod enc;
pub mod fac;
pub mod modulus;

pub use aux::RingPedersen;
pub use error::{Verified, ZkError};
pub use params::SecurityLevel;
