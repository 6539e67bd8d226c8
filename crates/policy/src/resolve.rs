//! Resolution: a [`Policy`]'s names become approver identities, using a [`Scope`] (the names a
//! workspace defines: approvers and groups of approvers).
//!
//! Rules (each refusal is a [`ResolveError`]):
//! - a name is an approver or a group, never both, and is looked up in the scope;
//! - a bare name outside a set must be an approver (a group there would be ambiguous);
//! - inside a set a group stands for its members; groups hold approver names only (no nested
//!   groups, so expansion is one level and cannot loop);
//! - after expansion, an identity may appear only once per set (`2 of {alice, ops}` with alice in
//!   ops is refused rather than silently counting alice once: the author meant something else);
//! - a threshold may not exceed the number of identities its set expands to, and `all of` a
//!   set of *n* identities is `n of` it.
//!
//! The result, [`ResolvedPolicy`], carries a digest over the canonical text *and* the resolved
//! identities, so an approval bound to it also binds the group memberships in force when it was
//! given: changing a group changes the digest, and old approvals stop verifying.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use tessera_identity::IdentityKey;

use crate::syntax::{Expr, Name, Need, Policy};

/// Prefix of the SHA-256 input of [`ResolvedPolicy::digest`].
pub const POLICY_DIGEST_DOMAIN: &str = "tessera/policy/resolved/v1";

/// The names a policy may use.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Scope {
    pub approvers: BTreeMap<Name, IdentityKey>,
    pub groups: BTreeMap<Name, BTreeSet<Name>>,
}

/// Why a policy does not resolve in a scope.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    #[error("unknown name `{0}`")]
    UnknownName(Name),
    #[error("`{0}` is a group; write `1 of {{{0}}}` or `all of {{{0}}}`")]
    BareGroup(Name),
    #[error("group `{group}` lists `{member}`, which is not an approver")]
    BadGroupMember { group: Name, member: Name },
    #[error("group `{0}` has no members")]
    EmptyGroup(Name),
    #[error("`{name}` is both an approver and a group")]
    Ambiguous { name: Name },
    #[error("`{member}` appears twice in {{{set}}} once groups are expanded")]
    DuplicateMember { member: Name, set: String },
    #[error("threshold {need} exceeds the {have} members of {{{set}}}")]
    ThresholdTooHigh { need: u32, have: usize, set: String },
}

/// A resolved rule: identities instead of names (names kept for explanations).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rule {
    One(Member),
    AtLeast { need: usize, of: Vec<Member> },
    All(Vec<Rule>),
    Any(Vec<Rule>),
}

/// An approver named in a policy.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Member {
    pub name: Name,
    pub key: IdentityKey,
}

/// A policy bound to identities. Built only by [`resolve`], so its rule is well-formed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ResolvedPolicy {
    policy: Policy,
    rule: Rule,
    digest: [u8; 32],
}

impl ResolvedPolicy {
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    pub fn rule(&self) -> &Rule {
        &self.rule
    }

    /// SHA-256 over [`POLICY_DIGEST_DOMAIN`], the canonical text and the resolved rule tree with
    /// its identity keys. Approvals sign this.
    pub fn digest(&self) -> [u8; 32] {
        self.digest
    }

    /// Every identity that appears anywhere in the policy.
    pub fn members(&self) -> BTreeSet<IdentityKey> {
        fn walk(r: &Rule, out: &mut BTreeSet<IdentityKey>) {
            match r {
                Rule::One(m) => {
                    out.insert(m.key);
                }
                Rule::AtLeast { of, .. } => out.extend(of.iter().map(|m| m.key)),
                Rule::All(v) | Rule::Any(v) => v.iter().for_each(|c| walk(c, out)),
            }
        }
        let mut out = BTreeSet::new();
        walk(&self.rule, &mut out);
        out
    }

    /// The name this policy gives `key`, if it names it.
    pub fn name_of(&self, key: &IdentityKey) -> Option<&Name> {
        fn walk<'a>(r: &'a Rule, key: &IdentityKey) -> Option<&'a Name> {
            match r {
                Rule::One(m) => (m.key == *key).then_some(&m.name),
                Rule::AtLeast { of, .. } => of.iter().find(|m| m.key == *key).map(|m| &m.name),
                Rule::All(v) | Rule::Any(v) => v.iter().find_map(|c| walk(c, key)),
            }
        }
        walk(&self.rule, key)
    }
}

/// Resolves `policy` in `scope`.
pub fn resolve(policy: &Policy, scope: &Scope) -> Result<ResolvedPolicy, ResolveError> {
    let rule = rule(policy.expr(), scope)?;
    let mut h = Sha256::new();
    frame(&mut h, POLICY_DIGEST_DOMAIN.as_bytes());
    frame(&mut h, policy.to_string().as_bytes());
    hash_rule(&mut h, &rule);
    Ok(ResolvedPolicy {
        policy: policy.clone(),
        rule,
        digest: h.finalize().into(),
    })
}

fn frame(h: &mut Sha256, bytes: &[u8]) {
    // Inputs are bounded (policy text ≤ 4096 bytes), so the length always fits.
    h.update((bytes.len() as u64).to_be_bytes());
    h.update(bytes);
}

fn hash_rule(h: &mut Sha256, r: &Rule) {
    match r {
        Rule::One(m) => {
            h.update([1]);
            h.update(m.key.as_bytes());
        }
        Rule::AtLeast { need, of } => {
            h.update([2]);
            h.update((*need as u64).to_be_bytes());
            h.update((of.len() as u64).to_be_bytes());
            of.iter().for_each(|m| h.update(m.key.as_bytes()));
        }
        Rule::All(v) | Rule::Any(v) => {
            h.update([if matches!(r, Rule::All(_)) { 3 } else { 4 }]);
            h.update((v.len() as u64).to_be_bytes());
            v.iter().for_each(|c| hash_rule(h, c));
        }
    }
}

fn approver(scope: &Scope, name: &Name) -> Result<Member, ResolveError> {
    if scope.groups.contains_key(name) {
        if scope.approvers.contains_key(name) {
            return Err(ResolveError::Ambiguous { name: name.clone() });
        }
        return Err(ResolveError::BareGroup(name.clone()));
    }
    let key = scope
        .approvers
        .get(name)
        .ok_or_else(|| ResolveError::UnknownName(name.clone()))?;
    Ok(Member {
        name: name.clone(),
        key: *key,
    })
}

fn rule(e: &Expr, scope: &Scope) -> Result<Rule, ResolveError> {
    match e {
        Expr::Approver(n) => Ok(Rule::One(approver(scope, n)?)),
        Expr::Threshold { need, of } => {
            let shown = of.iter().map(Name::as_str).collect::<Vec<_>>().join(", ");
            let mut members: Vec<Member> = Vec::new();
            for n in of {
                let expanded = match scope.groups.get(n) {
                    Some(group) => {
                        if scope.approvers.contains_key(n) {
                            return Err(ResolveError::Ambiguous { name: n.clone() });
                        }
                        if group.is_empty() {
                            return Err(ResolveError::EmptyGroup(n.clone()));
                        }
                        group
                            .iter()
                            .map(|m| {
                                scope
                                    .approvers
                                    .get(m)
                                    .filter(|_| !scope.groups.contains_key(m))
                                    .map(|k| Member {
                                        name: m.clone(),
                                        key: *k,
                                    })
                                    .ok_or_else(|| ResolveError::BadGroupMember {
                                        group: n.clone(),
                                        member: m.clone(),
                                    })
                            })
                            .collect::<Result<Vec<_>, _>>()?
                    }
                    None => vec![approver(scope, n)?],
                };
                for m in expanded {
                    if members.iter().any(|x| x.key == m.key || x.name == m.name) {
                        return Err(ResolveError::DuplicateMember {
                            member: m.name,
                            set: shown,
                        });
                    }
                    members.push(m);
                }
            }
            let need = match *need {
                Need::All => members.len(),
                Need::AtLeast(k) => {
                    if k as usize > members.len() {
                        return Err(ResolveError::ThresholdTooHigh {
                            need: k,
                            have: members.len(),
                            set: shown,
                        });
                    }
                    k as usize
                }
            };
            Ok(Rule::AtLeast { need, of: members })
        }
        Expr::And(v) => Ok(Rule::All(
            v.iter().map(|c| rule(c, scope)).collect::<Result<_, _>>()?,
        )),
        Expr::Or(v) => Ok(Rule::Any(
            v.iter().map(|c| rule(c, scope)).collect::<Result<_, _>>()?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testkit::{key, scope};

    fn res(text: &str) -> Result<ResolvedPolicy, String> {
        let s = scope(
            &["alice", "bob", "carol", "dave"],
            &[("ops", &["bob", "carol"])],
        );
        resolve(&Policy::parse(text).map_err(|e| e.to_string())?, &s).map_err(|e| e.to_string())
    }

    #[test]
    fn groups_expand_inside_sets() {
        let r = res("2 of {alice, ops}").unwrap();
        let Rule::AtLeast { need, of } = r.rule() else {
            panic!("{r:?}")
        };
        assert_eq!(*need, 2);
        let names: Vec<&str> = of.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["alice", "bob", "carol"]);
        assert_eq!(of[1].key, key("bob"));
        let all = res("all of {ops}").unwrap();
        assert!(matches!(all.rule(), Rule::AtLeast { need: 2, .. }));
    }

    #[test]
    fn refusals_say_why() {
        let cases = [
            ("erin", "unknown name `erin`"),
            ("1 of {alice, erin}", "unknown name `erin`"),
            (
                "ops and alice",
                "`ops` is a group; write `1 of {ops}` or `all of {ops}`",
            ),
            (
                "3 of {alice, bob}",
                "threshold 3 exceeds the 2 members of {alice, bob}",
            ),
            (
                "4 of {alice, ops}",
                "threshold 4 exceeds the 3 members of {alice, ops}",
            ),
            (
                "2 of {bob, ops}",
                "`bob` appears twice in {bob, ops} once groups are expanded",
            ),
        ];
        for (text, want) in cases {
            assert_eq!(res(text).unwrap_err(), want, "{text}");
        }
    }

    #[test]
    fn broken_scopes_are_refused() {
        let p = Policy::parse("1 of {ops}").unwrap();
        let mut s = scope(&["alice"], &[("ops", &["alice", "nobody"])]);
        assert_eq!(
            resolve(&p, &s).unwrap_err().to_string(),
            "group `ops` lists `nobody`, which is not an approver"
        );
        s.groups.insert(Name::new("ops").unwrap(), BTreeSet::new());
        assert_eq!(
            resolve(&p, &s).unwrap_err(),
            ResolveError::EmptyGroup(Name::new("ops").unwrap())
        );
        let s = scope(&["ops"], &[("ops", &["ops"])]);
        assert!(matches!(
            resolve(&p, &s),
            Err(ResolveError::Ambiguous { .. })
        ));
        let bare = Policy::parse("ops").unwrap();
        assert!(matches!(
            resolve(&bare, &s),
            Err(ResolveError::Ambiguous { .. })
        ));
        // A group member that is itself a group: no nesting.
        let s = scope(&["alice"], &[("ops", &["inner"]), ("inner", &["alice"])]);
        assert!(matches!(
            resolve(&p, &s),
            Err(ResolveError::BadGroupMember { .. })
        ));
        // Two names for one identity in a set are one approver counted twice: refused.
        let mut s = scope(&["alice", "bob"], &[]);
        s.approvers
            .insert(Name::new("alias").unwrap(), key("alice"));
        let twice = Policy::parse("2 of {alice, alias}").unwrap();
        assert!(matches!(
            resolve(&twice, &s),
            Err(ResolveError::DuplicateMember { .. })
        ));
    }

    #[test]
    fn the_digest_binds_text_and_identities() {
        let a = res("2 of {alice, ops}").unwrap();
        let b = res("2 of {alice, bob, carol}").unwrap();
        assert_eq!(a.rule(), b.rule(), "same identities");
        assert_ne!(a.digest(), b.digest(), "different text");
        assert_eq!(a.digest(), res("any 2 of {alice,ops,}").unwrap().digest());
        // Same text, group membership changed: a different digest.
        let s2 = scope(
            &["alice", "bob", "carol", "dave"],
            &[("ops", &["bob", "dave"])],
        );
        let c = resolve(a.policy(), &s2).unwrap();
        assert_ne!(a.digest(), c.digest());
        // Same text and names, a different key behind a name.
        let mut s3 = scope(
            &["alice", "bob", "carol", "dave"],
            &[("ops", &["bob", "carol"])],
        );
        s3.approvers.insert(Name::new("alice").unwrap(), key("zed"));
        assert_ne!(a.digest(), resolve(a.policy(), &s3).unwrap().digest());
        assert_ne!(
            res("alice and bob").unwrap().digest(),
            res("alice or bob").unwrap().digest()
        );
        assert_ne!(
            res("1 of {alice, bob}").unwrap().digest(),
            res("2 of {alice, bob}").unwrap().digest()
        );
    }

    #[test]
    fn members_and_names() {
        let r = res("alice or 1 of {ops}").unwrap();
        assert_eq!(
            r.members(),
            [key("alice"), key("bob"), key("carol")]
                .into_iter()
                .collect()
        );
        assert_eq!(r.name_of(&key("carol")).map(Name::as_str), Some("carol"));
        assert_eq!(r.name_of(&key("dave")), None);
    }
}

#[cfg(test)]
mod pinned {
    use super::*;
    use crate::testkit::scope;

    /// Approvals sign this digest: a change to its layout would orphan every stored approval,
    /// so it is frozen here.
    #[test]
    fn the_digest_layout_is_frozen() {
        let s = scope(&["alice", "bob"], &[("ops", &["bob"])]);
        let r = resolve(&Policy::parse("alice or 1 of {ops}").unwrap(), &s).unwrap();
        // Recomputed independently (Python, `cryptography`) from the layout in `resolve`.
        assert_eq!(
            hex::encode(r.digest()),
            "a9da7b45341b54b703f000cae6c3f909f307847b7d183f4259355b20e54fe2d1"
        );
    }
}
