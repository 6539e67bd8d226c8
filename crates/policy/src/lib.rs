#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod eval;
pub mod resolve;
pub mod syntax;

#[cfg(test)]
mod testkit;

pub use eval::{blocked_by, evaluate, Decision, Missing};
pub use resolve::{resolve, Member, ResolveError, ResolvedPolicy, Rule, Scope};
pub use syntax::{Expr, Name, Need, ParseError, ParseErrorKind, Policy};
