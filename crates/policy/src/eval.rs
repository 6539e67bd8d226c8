//! Evaluation: does a set of approvers satisfy a resolved policy, and if not, what is missing.
//!
//! [`evaluate`] is a pure function of the policy and the set: no clock, no randomness, no
//! iteration over hash maps. Every node computes the same [`Decision`] from the same verified
//! approvals. Identities in the set that the policy does not name are ignored (they cannot
//! help and cannot hurt), which keeps evaluation monotone: adding an approver never turns an
//! approval into a non-approval.

use std::collections::BTreeSet;
use std::fmt;

use tessera_identity::IdentityKey;

use crate::resolve::{ResolvedPolicy, Rule};
use crate::syntax::Name;

/// The verdict on a set of approvers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    Approved,
    /// Not yet: what would still be needed.
    Pending(Missing),
}

impl Decision {
    pub fn is_approved(&self) -> bool {
        matches!(self, Decision::Approved)
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Approved => f.write_str("approved"),
            Decision::Pending(m) => write!(f, "pending: {m}"),
        }
    }
}

/// What is still missing, mirroring the policy's shape. Its `Display` reads as a sentence:
/// `needs alice and (needs 1 more of {bob, carol} or needs dave)`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Missing {
    /// This approver has not approved.
    Approver(Name),
    /// `count` more of these (those who have not yet approved).
    More { count: usize, of: Vec<Name> },
    /// Each of these is missing (two or more).
    All(Vec<Missing>),
    /// Satisfying any one of these would do (two or more).
    Any(Vec<Missing>),
}

impl fmt::Display for Missing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Missing::Approver(n) => write!(f, "needs {n}"),
            Missing::More { count, of } => {
                write!(f, "needs {count} more of {{")?;
                for (i, n) in of.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{n}")?;
                }
                f.write_str("}")
            }
            Missing::All(v) => chain(f, v, " and ", |m| matches!(m, Missing::Any(_))),
            Missing::Any(v) => chain(f, v, " or ", |m| matches!(m, Missing::All(_))),
        }
    }
}

fn chain(
    f: &mut fmt::Formatter<'_>,
    v: &[Missing],
    sep: &str,
    parens: impl Fn(&Missing) -> bool,
) -> fmt::Result {
    for (i, m) in v.iter().enumerate() {
        if i > 0 {
            f.write_str(sep)?;
        }
        if parens(m) {
            write!(f, "({m})")?;
        } else {
            write!(f, "{m}")?;
        }
    }
    Ok(())
}

/// Evaluates `policy` against the identities that validly approved.
pub fn evaluate(policy: &ResolvedPolicy, approvers: &BTreeSet<IdentityKey>) -> Decision {
    match missing(policy.rule(), approvers) {
        None => Decision::Approved,
        Some(m) => Decision::Pending(m),
    }
}

/// Whether `policy` can still be satisfied when `refusers` will never approve: a set of
/// refusals *blocks* the policy exactly when everyone else approving would not be enough.
pub fn blocked_by(policy: &ResolvedPolicy, refusers: &BTreeSet<IdentityKey>) -> bool {
    let rest: BTreeSet<IdentityKey> = policy.members().difference(refusers).copied().collect();
    !evaluate(policy, &rest).is_approved()
}

fn missing(r: &Rule, set: &BTreeSet<IdentityKey>) -> Option<Missing> {
    match r {
        Rule::One(m) => (!set.contains(&m.key)).then(|| Missing::Approver(m.name.clone())),
        Rule::AtLeast { need, of } => {
            let have = of.iter().filter(|m| set.contains(&m.key)).count();
            (have < *need).then(|| Missing::More {
                count: need - have,
                of: of
                    .iter()
                    .filter(|m| !set.contains(&m.key))
                    .map(|m| m.name.clone())
                    .collect(),
            })
        }
        Rule::All(v) => {
            let mut gaps: Vec<Missing> = v.iter().filter_map(|c| missing(c, set)).collect();
            match gaps.len() {
                0 => None,
                1 => gaps.pop(),
                _ => Some(Missing::All(gaps)),
            }
        }
        Rule::Any(v) => {
            let mut gaps = Vec::with_capacity(v.len());
            for c in v {
                gaps.push(missing(c, set)?);
            }
            Some(Missing::Any(gaps))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolve::resolve;
    use crate::syntax::Policy;
    use crate::testkit::{key, scope};

    fn check(text: &str, approved: &[&str]) -> String {
        let s = scope(
            &["alice", "bob", "carol", "dave", "erin", "cfo"],
            &[("ops", &["bob", "carol"])],
        );
        let p = resolve(&Policy::parse(text).unwrap(), &s).unwrap();
        let set = approved.iter().map(|n| key(n)).collect();
        let d = evaluate(&p, &set);
        let shown = d.to_string();
        match d {
            Decision::Approved => shown,
            Decision::Pending(m) => {
                assert_eq!(shown, format!("pending: {m}"));
                m.to_string()
            }
        }
    }

    #[test]
    fn explanations_say_what_is_missing() {
        let cases: &[(&str, &[&str], &str)] = &[
            (
                "2 of {alice, bob, carol}",
                &["alice"],
                "needs 1 more of {bob, carol}",
            ),
            ("2 of {alice, bob, carol}", &["alice", "carol"], "approved"),
            (
                "2 of {alice, bob, carol}",
                &[],
                "needs 2 more of {alice, bob, carol}",
            ),
            ("any 1 of {ops} and cfo", &["bob"], "needs cfo"),
            (
                "any 1 of {ops} and cfo",
                &[],
                "needs 1 more of {bob, carol} and needs cfo",
            ),
            ("any 1 of {ops} and cfo", &["cfo", "carol"], "approved"),
            (
                "(alice or bob) and 2 of {carol, dave, erin}",
                &["dave"],
                "(needs alice or needs bob) and needs 1 more of {carol, erin}",
            ),
            ("alice or bob and cfo", &["bob"], "needs alice or needs cfo"),
            (
                "alice or bob and cfo",
                &[],
                "needs alice or (needs bob and needs cfo)",
            ),
            (
                "all of {alice, ops}",
                &["bob"],
                "needs 2 more of {alice, carol}",
            ),
            ("alice", &["bob", "carol"], "needs alice"),
        ];
        for (text, set, want) in cases {
            assert_eq!(check(text, set), *want, "{text} with {set:?}");
        }
    }

    #[test]
    fn strangers_are_ignored() {
        assert_eq!(check("alice", &["alice", "zed"]), "approved");
        assert_eq!(check("1 of {bob}", &["zed"]), "needs 1 more of {bob}");
    }

    #[test]
    fn blocking_sets() {
        let s = scope(&["a", "b", "c", "cfo"], &[]);
        let p = resolve(&Policy::parse("2 of {a, b, c} and cfo").unwrap(), &s).unwrap();
        let set = |v: &[&str]| v.iter().map(|n| key(n)).collect::<BTreeSet<_>>();
        assert!(!blocked_by(&p, &set(&[])));
        assert!(!blocked_by(&p, &set(&["a"])));
        assert!(blocked_by(&p, &set(&["a", "b"])));
        assert!(blocked_by(&p, &set(&["cfo"])), "cfo alone can veto");
        assert!(!blocked_by(&p, &set(&["zed"])));
    }
}
