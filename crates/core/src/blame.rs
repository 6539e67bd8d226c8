//! Who failed which check.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::PartyIndex;

/// The tag of one protocol check, e.g. `"[P3.2]"`. The same tag appears in the paper quote
/// above the check, in the error, in the test that makes the check fail and (later) in the
/// misbehaviour that triggers it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CheckTag(pub &'static str);

impl fmt::Debug for CheckTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl fmt::Display for CheckTag {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

/// A party that failed a check, with the check's tag and a human-readable reason.
///
/// `Serialize` only: a blame is evidence we report, never something we accept from a peer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Blame {
    pub party: PartyIndex,
    pub check: CheckTag,
    pub reason: String,
}

impl Blame {
    pub fn new(party: PartyIndex, check: CheckTag, reason: impl Into<String>) -> Self {
        Self {
            party,
            check,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for Blame {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "party {} failed {}: {}",
            self.party, self.check, self.reason
        )
    }
}

impl std::error::Error for Blame {}

/// Exhaustive list of culprits of an abort, sorted and deduplicated.
pub trait Culprits {
    fn culprits(&self) -> Vec<PartyIndex>;
}

impl Culprits for [Blame] {
    fn culprits(&self) -> Vec<PartyIndex> {
        let mut v: Vec<PartyIndex> = self.iter().map(|b| b.party).collect();
        v.sort();
        v.dedup();
        v
    }
}
