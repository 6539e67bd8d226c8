//! Proof errors. Every variant names the check that failed; the protocol attaches the prover's
//! index and its own check tag.

/// Why a proof was rejected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ZkError {
    /// A received value is out of its required set (not in Z*_N, out of range, identity point…).
    #[error("{proof}: value `{what}` is malformed or outside its group/range")]
    BadInput {
        proof: &'static str,
        what: &'static str,
    },
    /// A vector has the wrong length (never truncated or padded).
    #[error("{proof}: `{what}` has length {got}, expected {want}")]
    WrongLength {
        proof: &'static str,
        what: &'static str,
        got: usize,
        want: usize,
    },
    /// A response is outside the range the proof states.
    #[error("{proof}: response `{what}` is out of range")]
    OutOfRange {
        proof: &'static str,
        what: &'static str,
    },
    /// A verification equation does not hold.
    #[error("{proof}: verification equation `{what}` does not hold")]
    Equation {
        proof: &'static str,
        what: &'static str,
    },
    /// The statement itself is unacceptable (e.g. a modulus below the security level).
    #[error("{proof}: statement rejected: {what}")]
    Statement {
        proof: &'static str,
        what: &'static str,
    },
    /// The prover could not produce a proof (bad witness: a local bug, never a peer's fault).
    #[error("{proof}: cannot prove: {what}")]
    Prover {
        proof: &'static str,
        what: &'static str,
    },
    /// paillier-zk rejected the proof; its reason, as text.
    #[error("{proof}: rejected by paillier-zk: {reason}")]
    Upstream { proof: &'static str, reason: String },
}

/// A zero-sized token returned by every successful verification: code that needs a verified
/// proof takes a `Verified`, so a skipped check does not compile.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[must_use = "a verified proof must be used"]
pub struct Verified(());

impl Verified {
    pub(crate) fn new() -> Self {
        Verified(())
    }
}
