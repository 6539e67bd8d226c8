//! Deterministic identities and scopes for tests.

use std::collections::{BTreeMap, BTreeSet};

use sha2::{Digest, Sha256};
use tessera_identity::{Identity, IdentityKey};

use crate::resolve::Scope;
use crate::syntax::Name;

/// The identity called `name`: its secret is SHA-256 of the name.
pub fn id(name: &str) -> Identity {
    Identity::from_secret_bytes(&Sha256::digest(name.as_bytes()).into())
}

pub fn key(name: &str) -> IdentityKey {
    id(name).public()
}

pub fn name(s: &str) -> Name {
    Name::new(s).unwrap()
}

/// A scope whose approvers are `approvers` (each with [`key`]) and whose groups are `groups`.
pub fn scope(approvers: &[&str], groups: &[(&str, &[&str])]) -> Scope {
    Scope {
        approvers: approvers
            .iter()
            .map(|a| (name(a), key(a)))
            .collect::<BTreeMap<_, _>>(),
        groups: groups
            .iter()
            .map(|(g, m)| (name(g), m.iter().map(|s| name(s)).collect::<BTreeSet<_>>()))
            .collect(),
    }
}
