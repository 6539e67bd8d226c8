#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

pub mod approval;
pub mod eval;
pub mod request;
pub mod resolve;
pub mod syntax;
pub mod workspace;

#[cfg(test)]
mod testkit;

pub use approval::{
    tally, Approval, ApprovalError, NetworkIdError, Subject, Tally, VerifiedVote, Vote,
};
pub use eval::{blocked_by, evaluate, Decision, Missing};
pub use request::{Event, Ignored, Outcome, RejectReason, Request, State, SubjectMismatch};
pub use resolve::{resolve, Member, ResolveError, ResolvedPolicy, Rule, Scope};
pub use syntax::{Expr, Name, NameError, Need, ParseError, ParseErrorKind, Policy, ShapeError};
pub use workspace::{
    Change, Effective, Key, KeyId, Registry, Which, Workspace, WorkspaceError, WorkspaceId,
};
