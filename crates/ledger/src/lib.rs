#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod api;
pub mod attest;
pub mod client;
pub mod command;
pub mod genesis;
pub mod scheduler;
pub mod server;
pub mod state;
pub mod store;

#[cfg(test)]
mod testkit;

pub use api::{
    AdminView, ApprovalView, Evidence, Heartbeat, Info, KeyView, Receipt, RequestView,
    RequestsPage, SignatureView,
};
pub use attest::{AttestPolicy, AttestationContext, Claims, EvidenceCheck, InsecureAcceptAll};
pub use client::{Client, ClientError};
pub use command::{
    Action, Command, CommandId, Entry, Hash32, HexBytes, LinkError, Operator, SignedCommand,
};
pub use genesis::{GenesisFile, KeyringSpec};
pub use scheduler::SchedulerConfig;
pub use server::{serve, Ledger, LedgerConfig, LedgerError};
pub use state::{Rejection, State};
