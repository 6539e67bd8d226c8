#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod attestation;
pub mod config;
pub mod jobs;
pub mod metrics;
pub mod node;
pub mod router;
pub mod session;

pub use config::NodeConfig;
pub use node::{run, NodeError};
