#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod command;
pub mod state;

pub use command::{Action, Command, CommandId, Entry, Hash32, LinkError, Operator, SignedCommand};
pub use state::{Rejection, State};
