#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod common;
pub mod hd;
pub mod keygen;
pub mod malicious;
pub mod presign;
pub mod reshare;
pub mod sign;
mod table;

pub use keygen::Keygen;
pub use presign::{Presign, Presignature, StoredPresignatureError};
pub use reshare::{Reshare, ReshareOutput, ReshareStatement, Retirement};
pub use sign::{Sign, SignRequest, Signature};
pub use tessera_keyshare::KeyShare;
