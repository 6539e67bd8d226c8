//! Workspaces: owners, groups, child workspaces, admin and sign policies, and keys.
//!
//! A [`Registry`] is plain data; [`Registry::apply`] is a pure function from a registry, a
//! [`Change`] and the set of identities that validly approved it to the next registry.
//!
//! # Model
//! - A workspace names its **owners** (name → identity key) and **groups** (name → owner
//!   names). These are the names its policies may use, together with those of its ancestors:
//!   a workspace's [`Scope`] is the union along the chain from the root. A name may be defined
//!   only once along a chain (no shadowing) and an identity may have only one name in it, so a
//!   policy means the same thing wherever it is read.
//! - The **admin policy** decides changes to the workspace (owners, groups, policies, key policy
//!   overrides, new child workspaces). The **sign policy** decides key requests and signature
//!   requests. Either may be `None` in a child workspace, which then inherits its nearest
//!   ancestor's; a root must set both.
//! - A policy is always resolved in the scope of the workspace that *defines* it: an inherited
//!   policy means what it meant where it was written, whatever names the child defines.
//! - A **key** belongs to one workspace and may override the sign policy; the override is
//!   resolved in the key's workspace. [`Registry::sign_policy`] gives a key's effective policy.
//!
//! # Who approves what ([`Registry::required_policy`])
//! | change | policy |
//! |---|---|
//! | create a root workspace | none here: the ledger decides who may (a fee, an allowlist) |
//! | create a child workspace | the parent's effective admin policy |
//! | owners, groups, admin/sign policy of W | W's effective admin policy |
//! | override a key's sign policy | the admin policy of the key's workspace |
//! | add a key to W (a key request) | W's effective sign policy |
//!
//! A change to W is refused unless, afterwards, W and every workspace under it still validate
//! (every policy resolves, names are unique, groups list owners): an admin cannot remove an
//! owner that a policy still names, or leave a root without policies.
//!
//! The caller opens a [`Request`] whose subject has request digest [`Change::digest`] under
//! `required_policy(change)`, feeds it verified votes, and once it is approved calls
//! [`Registry::apply_approved`], which checks that the request is approved, is for this change
//! and that the required policy has not changed since (else the approvals are stale), then
//! re-evaluates the policy itself. [`Registry::check_sign_request`] is the same check for a
//! signature request before the network signs.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_identity::IdentityKey;

use crate::eval::{evaluate, Decision, Missing};
use crate::request::{Request, State};
use crate::resolve::{resolve, ResolveError, ResolvedPolicy, Scope};
use crate::syntax::{Name, Policy};

/// Deepest chain of workspaces (root = 1).
pub const MAX_WORKSPACE_DEPTH: usize = 16;
/// Prefix of the SHA-256 input of [`Change::digest`].
pub const CHANGE_DIGEST_DOMAIN: &str = "tessera/policy/change/v1";

macro_rules! id_type {
    ($name:ident, $what:literal) => {
        #[doc = concat!("A ", $what, " id (32 bytes, hex in JSON; the ledger uses the id of the creating command).")]
        #[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(pub [u8; 32]);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&hex::encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), hex::encode(&self.0[..6]))
            }
        }

        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&hex::encode(self.0))
                } else {
                    self.0.serialize(s)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let s = String::deserialize(d)?;
                    let v = hex::decode(&s).map_err(serde::de::Error::custom)?;
                    let b: [u8; 32] = v
                        .try_into()
                        .map_err(|_| serde::de::Error::custom("expected 64 hex digits"))?;
                    Ok($name(b))
                } else {
                    Ok($name(<[u8; 32]>::deserialize(d)?))
                }
            }
        }
    };
}

id_type!(WorkspaceId, "workspace");
id_type!(KeyId, "key");

/// A workspace.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Workspace {
    pub parent: Option<WorkspaceId>,
    pub owners: BTreeMap<Name, IdentityKey>,
    pub groups: BTreeMap<Name, BTreeSet<Name>>,
    /// `None`: inherit the parent's.
    pub admin_policy: Option<Policy>,
    /// `None`: inherit the parent's.
    pub sign_policy: Option<Policy>,
}

/// A key's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Key {
    pub workspace: WorkspaceId,
    /// `None`: the workspace's effective sign policy.
    pub sign_policy: Option<Policy>,
}

/// A change to the registry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "snake_case")]
pub enum Change {
    CreateWorkspace {
        id: WorkspaceId,
        workspace: Workspace,
    },
    /// Adds an owner, or gives an existing one a new key.
    SetOwner {
        workspace: WorkspaceId,
        name: Name,
        key: IdentityKey,
    },
    RemoveOwner {
        workspace: WorkspaceId,
        name: Name,
    },
    /// Creates or replaces a group.
    SetGroup {
        workspace: WorkspaceId,
        name: Name,
        members: BTreeSet<Name>,
    },
    RemoveGroup {
        workspace: WorkspaceId,
        name: Name,
    },
    SetAdminPolicy {
        workspace: WorkspaceId,
        policy: Option<Policy>,
    },
    SetSignPolicy {
        workspace: WorkspaceId,
        policy: Option<Policy>,
    },
    /// A key request: the key joins the workspace (with no override).
    AddKey {
        id: KeyId,
        workspace: WorkspaceId,
    },
    SetKeyPolicy {
        key: KeyId,
        policy: Option<Policy>,
    },
}

impl Change {
    /// SHA-256 of a canonical, injective encoding: use it as the request digest that approvals
    /// of this change sign.
    pub fn digest(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        let mut put = |b: &[u8]| {
            h.update((b.len() as u64).to_be_bytes());
            h.update(b);
        };
        put(CHANGE_DIGEST_DOMAIN.as_bytes());
        let policy =
            |p: &Option<Policy>| p.as_ref().map(|p| format!("some:{p}")).unwrap_or_default();
        match self {
            Change::CreateWorkspace { id, workspace } => {
                put(b"create_workspace");
                put(&id.0);
                put(workspace
                    .parent
                    .map(|p| p.0.to_vec())
                    .unwrap_or_default()
                    .as_slice());
                put(&(workspace.owners.len() as u64).to_be_bytes());
                for (n, k) in &workspace.owners {
                    put(n.as_str().as_bytes());
                    put(k.as_bytes());
                }
                put(&(workspace.groups.len() as u64).to_be_bytes());
                for (n, m) in &workspace.groups {
                    put(n.as_str().as_bytes());
                    put(&(m.len() as u64).to_be_bytes());
                    m.iter().for_each(|x| put(x.as_str().as_bytes()));
                }
                put(policy(&workspace.admin_policy).as_bytes());
                put(policy(&workspace.sign_policy).as_bytes());
            }
            Change::SetOwner {
                workspace,
                name,
                key,
            } => {
                put(b"set_owner");
                put(&workspace.0);
                put(name.as_str().as_bytes());
                put(key.as_bytes());
            }
            Change::RemoveOwner { workspace, name } => {
                put(b"remove_owner");
                put(&workspace.0);
                put(name.as_str().as_bytes());
            }
            Change::SetGroup {
                workspace,
                name,
                members,
            } => {
                put(b"set_group");
                put(&workspace.0);
                put(name.as_str().as_bytes());
                put(&(members.len() as u64).to_be_bytes());
                members.iter().for_each(|x| put(x.as_str().as_bytes()));
            }
            Change::RemoveGroup { workspace, name } => {
                put(b"remove_group");
                put(&workspace.0);
                put(name.as_str().as_bytes());
            }
            Change::SetAdminPolicy {
                workspace,
                policy: p,
            } => {
                put(b"set_admin_policy");
                put(&workspace.0);
                put(policy(p).as_bytes());
            }
            Change::SetSignPolicy {
                workspace,
                policy: p,
            } => {
                put(b"set_sign_policy");
                put(&workspace.0);
                put(policy(p).as_bytes());
            }
            Change::AddKey { id, workspace } => {
                put(b"add_key");
                put(&id.0);
                put(&workspace.0);
            }
            Change::SetKeyPolicy { key, policy: p } => {
                put(b"set_key_policy");
                put(&key.0);
                put(policy(p).as_bytes());
            }
        }
        h.finalize().into()
    }
}

/// Which of a workspace's policies.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    Admin,
    Sign,
    /// A key's override.
    Key,
}

impl fmt::Display for Which {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Which::Admin => "admin policy",
            Which::Sign => "sign policy",
            Which::Key => "key sign policy",
        })
    }
}

/// Why a change or a lookup failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WorkspaceError {
    #[error("no workspace {0}")]
    UnknownWorkspace(WorkspaceId),
    #[error("no key {0}")]
    UnknownKey(KeyId),
    #[error("workspace {0} already exists")]
    WorkspaceExists(WorkspaceId),
    #[error("key {0} already exists")]
    KeyExists(KeyId),
    #[error("workspace {0}: no owner or group `{1}`")]
    UnknownName(WorkspaceId, Name),
    #[error("the {which} `{policy}` is not satisfied: {missing}")]
    NotApproved {
        which: Which,
        policy: String,
        missing: Missing,
    },
    #[error("workspace {workspace}: {which} `{policy}`: {error}")]
    Policy {
        workspace: WorkspaceId,
        which: Which,
        policy: String,
        error: ResolveError,
    },
    #[error("workspace {0}: a root workspace must set both an admin and a sign policy")]
    RootWithoutPolicy(WorkspaceId),
    #[error("workspace {0}: `{1}` is defined twice along the chain (owner, group or ancestor)")]
    NameClash(WorkspaceId, Name),
    #[error("workspace {0}: identity {1} has two names along the chain")]
    DuplicateIdentity(WorkspaceId, IdentityKey),
    #[error("workspace {0}: group `{1}` must list one or more owners (no groups)")]
    BadGroup(WorkspaceId, Name),
    #[error("workspace {0} is nested deeper than 16 levels or its parents loop")]
    TooDeep(WorkspaceId),
    #[error("the request is not approved")]
    RequestNotApproved,
    #[error("the request was approved for another change or payload")]
    RequestMismatch,
    #[error("the {0} changed after the request was opened; approvals must be given again")]
    StalePolicy(Which),
}

/// Every workspace and key. Deserialising checks the whole registry (see
/// [`Registry::from_parts`]).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "RegistryParts")]
pub struct Registry {
    workspaces: BTreeMap<WorkspaceId, Workspace>,
    keys: BTreeMap<KeyId, Key>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RegistryParts {
    workspaces: BTreeMap<WorkspaceId, Workspace>,
    keys: BTreeMap<KeyId, Key>,
}

impl TryFrom<RegistryParts> for Registry {
    type Error = WorkspaceError;
    fn try_from(p: RegistryParts) -> Result<Registry, WorkspaceError> {
        Registry::from_parts(p.workspaces, p.keys)
    }
}

/// A resolved policy and the workspace that defined it (or the key, for an override).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Effective {
    pub policy: ResolvedPolicy,
    pub defined_in: WorkspaceId,
    pub which: Which,
}

impl Registry {
    pub fn new() -> Registry {
        Registry::default()
    }

    /// A registry from stored parts, checked as a whole (parents exist, no loops, every
    /// workspace validates).
    pub fn from_parts(
        workspaces: BTreeMap<WorkspaceId, Workspace>,
        keys: BTreeMap<KeyId, Key>,
    ) -> Result<Registry, WorkspaceError> {
        let r = Registry { workspaces, keys };
        for id in r.workspaces.keys() {
            r.validate(*id)?;
        }
        for k in r.keys.values() {
            r.workspace(k.workspace)?;
        }
        Ok(r)
    }

    pub fn workspaces(&self) -> &BTreeMap<WorkspaceId, Workspace> {
        &self.workspaces
    }

    pub fn keys(&self) -> &BTreeMap<KeyId, Key> {
        &self.keys
    }

    pub fn workspace(&self, id: WorkspaceId) -> Result<&Workspace, WorkspaceError> {
        self.workspaces
            .get(&id)
            .ok_or(WorkspaceError::UnknownWorkspace(id))
    }

    /// `id` and its ancestors, nearest first.
    fn chain(&self, id: WorkspaceId) -> Result<Vec<(WorkspaceId, &Workspace)>, WorkspaceError> {
        let mut out = Vec::new();
        let mut next = Some(id);
        while let Some(at) = next {
            if out.len() == MAX_WORKSPACE_DEPTH {
                return Err(WorkspaceError::TooDeep(id));
            }
            let w = self.workspace(at)?;
            out.push((at, w));
            next = w.parent;
        }
        Ok(out)
    }

    /// The names policies defined in `id` may use: its owners and groups and its ancestors'.
    pub fn scope(&self, id: WorkspaceId) -> Result<Scope, WorkspaceError> {
        let mut s = Scope::default();
        for (_, w) in self.chain(id)? {
            s.approvers
                .extend(w.owners.iter().map(|(n, k)| (n.clone(), *k)));
            s.groups
                .extend(w.groups.iter().map(|(n, m)| (n.clone(), m.clone())));
        }
        Ok(s)
    }

    fn effective(&self, id: WorkspaceId, which: Which) -> Result<Effective, WorkspaceError> {
        let chain = self.chain(id)?;
        for (at, w) in &chain {
            let p = match which {
                Which::Admin => &w.admin_policy,
                _ => &w.sign_policy,
            };
            if let Some(p) = p {
                return Ok(Effective {
                    policy: self.resolve_in(*at, which, p)?,
                    defined_in: *at,
                    which,
                });
            }
        }
        let root = chain.last().map(|(r, _)| *r).unwrap_or(id);
        Err(WorkspaceError::RootWithoutPolicy(root))
    }

    fn resolve_in(
        &self,
        at: WorkspaceId,
        which: Which,
        p: &Policy,
    ) -> Result<ResolvedPolicy, WorkspaceError> {
        resolve(p, &self.scope(at)?).map_err(|error| WorkspaceError::Policy {
            workspace: at,
            which,
            policy: p.to_string(),
            error,
        })
    }

    /// The admin policy in force for workspace `id`.
    pub fn admin_policy(&self, id: WorkspaceId) -> Result<Effective, WorkspaceError> {
        self.effective(id, Which::Admin)
    }

    /// The sign policy in force for workspace `id` (key requests).
    pub fn workspace_sign_policy(&self, id: WorkspaceId) -> Result<Effective, WorkspaceError> {
        self.effective(id, Which::Sign)
    }

    /// The sign policy in force for key `key`: its override, else its workspace's.
    pub fn sign_policy(&self, key: KeyId) -> Result<Effective, WorkspaceError> {
        let k = self.keys.get(&key).ok_or(WorkspaceError::UnknownKey(key))?;
        match &k.sign_policy {
            Some(p) => Ok(Effective {
                policy: self.resolve_in(k.workspace, Which::Key, p)?,
                defined_in: k.workspace,
                which: Which::Key,
            }),
            None => self.workspace_sign_policy(k.workspace),
        }
    }

    /// The policy whose approval `change` needs (`None` only for a root workspace).
    pub fn required_policy(&self, change: &Change) -> Result<Option<Effective>, WorkspaceError> {
        Ok(Some(match change {
            Change::CreateWorkspace { workspace, .. } => match workspace.parent {
                None => return Ok(None),
                Some(parent) => self.admin_policy(parent)?,
            },
            Change::SetOwner { workspace, .. }
            | Change::RemoveOwner { workspace, .. }
            | Change::SetGroup { workspace, .. }
            | Change::RemoveGroup { workspace, .. }
            | Change::SetAdminPolicy { workspace, .. }
            | Change::SetSignPolicy { workspace, .. } => self.admin_policy(*workspace)?,
            Change::AddKey { workspace, .. } => self.workspace_sign_policy(*workspace)?,
            Change::SetKeyPolicy { key, .. } => {
                let k = self.keys.get(key).ok_or(WorkspaceError::UnknownKey(*key))?;
                self.admin_policy(k.workspace)?
            }
        }))
    }

    /// Applies `change`, approved by `approvers` (identities whose approvals of this change,
    /// under `required_policy(change)`, verified). Pure: `self` is unchanged.
    pub fn apply(
        &self,
        change: &Change,
        approvers: &BTreeSet<IdentityKey>,
    ) -> Result<Registry, WorkspaceError> {
        if let Some(e) = self.required_policy(change)? {
            if let Decision::Pending(missing) = evaluate(&e.policy, approvers) {
                return Err(WorkspaceError::NotApproved {
                    which: e.which,
                    policy: e.policy.policy().to_string(),
                    missing,
                });
            }
        }
        let mut next = self.clone();
        let touched = next.mutate(change)?;
        next.validate_under(touched)?;
        Ok(next)
    }

    /// Applies `change` once `request` (opened for it) is approved: the request must be
    /// [`State::Approved`], its request digest must be [`Change::digest`], and its policy must
    /// still be the one `change` requires now — a policy or group change in between makes
    /// the request stale rather than letting old approvals count under new rules.
    pub fn apply_approved(
        &self,
        change: &Change,
        request: &Request,
    ) -> Result<Registry, WorkspaceError> {
        if !matches!(request.state(), State::Approved { .. }) {
            return Err(WorkspaceError::RequestNotApproved);
        }
        if request.subject().request_digest() != change.digest() {
            return Err(WorkspaceError::RequestMismatch);
        }
        if let Some(e) = self.required_policy(change)? {
            if e.policy.digest() != request.policy().digest() {
                return Err(WorkspaceError::StalePolicy(e.which));
            }
        }
        self.apply(change, request.approvals())
    }

    /// Checks, just before signing, that `request` for `key` is approved under the key's sign
    /// policy as it stands now.
    pub fn check_sign_request(&self, key: KeyId, request: &Request) -> Result<(), WorkspaceError> {
        if !matches!(request.state(), State::Approved { .. }) {
            return Err(WorkspaceError::RequestNotApproved);
        }
        let e = self.sign_policy(key)?;
        if e.policy.digest() != request.policy().digest() {
            return Err(WorkspaceError::StalePolicy(e.which));
        }
        if let Decision::Pending(missing) = evaluate(&e.policy, request.approvals()) {
            return Err(WorkspaceError::NotApproved {
                which: e.which,
                policy: e.policy.policy().to_string(),
                missing,
            });
        }
        Ok(())
    }

    fn get_mut(&mut self, id: WorkspaceId) -> Result<&mut Workspace, WorkspaceError> {
        self.workspaces
            .get_mut(&id)
            .ok_or(WorkspaceError::UnknownWorkspace(id))
    }

    /// Makes the change without checks; returns the workspace whose subtree must re-validate.
    fn mutate(&mut self, change: &Change) -> Result<WorkspaceId, WorkspaceError> {
        match change.clone() {
            Change::CreateWorkspace { id, workspace } => {
                if self.workspaces.contains_key(&id) {
                    return Err(WorkspaceError::WorkspaceExists(id));
                }
                self.workspaces.insert(id, workspace);
                Ok(id)
            }
            Change::SetOwner {
                workspace,
                name,
                key,
            } => {
                self.get_mut(workspace)?.owners.insert(name, key);
                Ok(workspace)
            }
            Change::RemoveOwner { workspace, name } => {
                if self.get_mut(workspace)?.owners.remove(&name).is_none() {
                    return Err(WorkspaceError::UnknownName(workspace, name));
                }
                Ok(workspace)
            }
            Change::SetGroup {
                workspace,
                name,
                members,
            } => {
                self.get_mut(workspace)?.groups.insert(name, members);
                Ok(workspace)
            }
            Change::RemoveGroup { workspace, name } => {
                if self.get_mut(workspace)?.groups.remove(&name).is_none() {
                    return Err(WorkspaceError::UnknownName(workspace, name));
                }
                Ok(workspace)
            }
            Change::SetAdminPolicy { workspace, policy } => {
                self.get_mut(workspace)?.admin_policy = policy;
                Ok(workspace)
            }
            Change::SetSignPolicy { workspace, policy } => {
                self.get_mut(workspace)?.sign_policy = policy;
                Ok(workspace)
            }
            Change::AddKey { id, workspace } => {
                self.workspace(workspace)?;
                if self.keys.contains_key(&id) {
                    return Err(WorkspaceError::KeyExists(id));
                }
                self.keys.insert(
                    id,
                    Key {
                        workspace,
                        sign_policy: None,
                    },
                );
                Ok(workspace)
            }
            Change::SetKeyPolicy { key, policy } => {
                let k = self
                    .keys
                    .get_mut(&key)
                    .ok_or(WorkspaceError::UnknownKey(key))?;
                k.sign_policy = policy;
                Ok(k.workspace)
            }
        }
    }

    /// Validates `top` and every workspace below it.
    fn validate_under(&self, top: WorkspaceId) -> Result<(), WorkspaceError> {
        for id in self.workspaces.keys() {
            let below = self.chain(*id).map(|c| c.iter().any(|(a, _)| *a == top));
            if below.unwrap_or(true) {
                self.validate(*id)?;
            }
        }
        Ok(())
    }

    fn validate(&self, id: WorkspaceId) -> Result<(), WorkspaceError> {
        let chain = self.chain(id)?;
        let w = self.workspace(id)?;
        if w.parent.is_none() && (w.admin_policy.is_none() || w.sign_policy.is_none()) {
            return Err(WorkspaceError::RootWithoutPolicy(id));
        }
        // Names and identities are unique along the chain.
        let mut names: BTreeSet<&Name> = BTreeSet::new();
        let mut identities: BTreeSet<&IdentityKey> = BTreeSet::new();
        for (_, a) in &chain {
            for n in a.owners.keys().chain(a.groups.keys()) {
                if !names.insert(n) {
                    return Err(WorkspaceError::NameClash(id, n.clone()));
                }
            }
            for k in a.owners.values() {
                if !identities.insert(k) {
                    return Err(WorkspaceError::DuplicateIdentity(id, *k));
                }
            }
        }
        let scope = self.scope(id)?;
        for (g, members) in &w.groups {
            if members.is_empty() || members.iter().any(|m| !scope.approvers.contains_key(m)) {
                return Err(WorkspaceError::BadGroup(id, g.clone()));
            }
        }
        if let Some(p) = &w.admin_policy {
            self.resolve_in(id, Which::Admin, p)?;
        }
        if let Some(p) = &w.sign_policy {
            self.resolve_in(id, Which::Sign, p)?;
        }
        for k in self.keys.values().filter(|k| k.workspace == id) {
            if let Some(p) = &k.sign_policy {
                self.resolve_in(id, Which::Key, p)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests;
