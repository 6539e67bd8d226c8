//! Governance commands: identities, workspaces, policies, approvals and requests.
//!
//! `approve` never signs what the ledger says: it rebuilds the subject itself — the request
//! digest from the request's key, digest and tweak (or the change's digest), and the policy
//! from the registry it fetched, resolved locally — and refuses when the ledger's view
//! disagrees. The nodes check the same things again before they sign.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Subcommand};
use rand_core::{OsRng, RngCore};
use tessera_identity::{Identity, IdentityKey};
use tessera_ledger::api::RequestView;
use tessera_ledger::command::{Action, Hash32};
use tessera_ledger::state::sign_request_digest;
use tessera_policy::{
    Approval, Change, KeyId, Name, Policy, Subject, Vote, Workspace, WorkspaceId,
};

use crate::client::{ledger, load_identity, submit, submit_with_deadline, ClientOpts};

#[derive(Subcommand, Debug)]
pub enum IdentityCommand {
    /// Creates a new identity key file (Ed25519 PKCS#8 PEM, mode 0600) and prints its public key.
    New {
        #[arg(long)]
        out: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
pub enum WorkspaceCommand {
    /// Creates a root workspace (signed by --identity, a keyring owner).
    Create(WorkspaceCreateArgs),
    /// Shows a workspace and its keys.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// Proposes putting a key into a workspace (signed by an owner of the key's keyring); it
    /// joins once the workspace's sign policy approves.
    AddKey {
        #[arg(long)]
        workspace: String,
        #[arg(long)]
        key: String,
        /// Approval deadline, from now (`90s`, `15m`, `2h`, `7d`; 1 minute to 30 days).
        /// Default: 24 h.
        #[arg(long, value_parser = crate::client::parse_deadline)]
        deadline: Option<Duration>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct WorkspaceCreateArgs {
    /// An owner, `NAME=PUBLIC_KEY_HEX`; repeat.
    #[arg(long = "owner", required = true)]
    owners: Vec<String>,
    /// A group, `NAME=OWNER,OWNER`; repeat.
    #[arg(long = "group")]
    groups: Vec<String>,
    #[arg(long)]
    admin_policy: String,
    #[arg(long)]
    sign_policy: String,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Proposes a new admin or sign policy for a workspace (signed by --identity, someone its
    /// admin policy names); it applies once the admin policy approves.
    Set {
        #[arg(long)]
        workspace: String,
        /// `admin` or `sign`.
        #[arg(long, default_value = "sign")]
        which: String,
        policy: String,
        /// Approval deadline, from now (`90s`, `15m`, `2h`, `7d`; 1 minute to 30 days).
        /// Default: 24 h.
        #[arg(long, value_parser = crate::client::parse_deadline)]
        deadline: Option<Duration>,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Args, Debug)]
pub struct ApproveArgs {
    /// The request id (a signature request or a proposed change).
    request: String,
    /// The approver's identity file.
    #[arg(long = "as")]
    as_file: PathBuf,
    /// Vote to reject instead.
    #[arg(long)]
    reject: bool,
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand, Debug)]
pub enum RequestCommand {
    /// Every key, signature and admin request.
    List {
        #[arg(long)]
        json: bool,
    },
    /// One request with its approval state.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

fn hash(what: &str, s: &str) -> Result<Hash32, String> {
    s.parse()
        .map_err(|_| format!("{what} {s:?} is not 64 hex digits"))
}

fn name(s: &str) -> Result<Name, String> {
    Name::new(s).map_err(|e| format!("{s:?}: {e}"))
}

fn policy(s: &str) -> Result<Policy, String> {
    s.parse::<Policy>()
        .map_err(|e| format!("policy {s:?}: {e}"))
}

fn print<T: serde::Serialize>(json: bool, value: &T, text: impl FnOnce() -> String) {
    if json {
        println!("{}", serde_json::to_string(value).unwrap_or_default());
    } else {
        println!("{}", text());
    }
}

pub fn identity(cmd: IdentityCommand) -> Result<(), String> {
    let IdentityCommand::New { out, json } = cmd;
    let id = Identity::generate(&mut OsRng);
    id.save(&out).map_err(|e| e.to_string())?;
    let v = serde_json::json!({ "public_key": id.public().to_string(), "file": out.display().to_string() });
    print(json, &v, || id.public().to_string());
    Ok(())
}

fn propose(
    opts: &ClientOpts,
    change: Change,
    deadline: Option<Duration>,
    json: bool,
) -> Result<(), String> {
    let client = ledger(opts)?;
    let me = load_identity(opts)?;
    let id = submit_with_deadline(&client, &me, deadline, |deadline_ms| {
        Action::ProposeChange {
            change,
            deadline_ms,
        }
    })?;
    let v = serde_json::json!({ "request_id": id.to_string() });
    print(json, &v, || format!("request_id: {id}"));
    Ok(())
}

pub fn workspace(cmd: WorkspaceCommand, opts: &ClientOpts) -> Result<(), String> {
    match cmd {
        WorkspaceCommand::Create(a) => {
            let mut w = Workspace::default();
            for o in &a.owners {
                let (n, k) = o
                    .split_once('=')
                    .ok_or_else(|| format!("--owner {o:?}: expected NAME=PUBLIC_KEY"))?;
                let k: IdentityKey = k.parse().map_err(|_| format!("--owner {o:?}: bad key"))?;
                w.owners.insert(name(n)?, k);
            }
            for g in &a.groups {
                let (n, m) = g
                    .split_once('=')
                    .ok_or_else(|| format!("--group {g:?}: expected NAME=A,B"))?;
                let members: BTreeSet<Name> = m
                    .split(',')
                    .map(|x| name(x.trim()))
                    .collect::<Result<_, _>>()?;
                w.groups.insert(name(n)?, members);
            }
            w.admin_policy = Some(policy(&a.admin_policy)?);
            w.sign_policy = Some(policy(&a.sign_policy)?);
            let mut id = [0u8; 32];
            OsRng.fill_bytes(&mut id);
            let ws = WorkspaceId(id);
            let client = ledger(opts)?;
            let me = load_identity(opts)?;
            submit(
                &client,
                &me,
                Action::ProposeChange {
                    change: Change::CreateWorkspace {
                        id: ws,
                        workspace: w,
                    },
                    deadline_ms: None,
                },
            )?;
            let v = serde_json::json!({ "workspace_id": ws.to_string() });
            print(a.json, &v, || format!("workspace_id: {ws}"));
            Ok(())
        }
        WorkspaceCommand::Show { id, json } => {
            let ws = WorkspaceId(hash("workspace", &id)?.0);
            let reg = ledger(opts)?.registry().map_err(|e| e.to_string())?;
            let w = reg.workspace(ws).map_err(|e| e.to_string())?;
            let keys: BTreeMap<String, Option<String>> = reg
                .keys()
                .iter()
                .filter(|(_, k)| k.workspace == ws)
                .map(|(id, k)| {
                    (
                        id.to_string(),
                        k.sign_policy.as_ref().map(|p| p.to_string()),
                    )
                })
                .collect();
            let v = serde_json::json!({ "workspace_id": id, "workspace": w, "keys": keys });
            print(json, &v, || {
                serde_json::to_string_pretty(&v).unwrap_or_default()
            });
            Ok(())
        }
        WorkspaceCommand::AddKey {
            workspace,
            key,
            deadline,
            json,
        } => {
            let change = Change::AddKey {
                id: KeyId(hash("key", &key)?.0),
                workspace: WorkspaceId(hash("workspace", &workspace)?.0),
            };
            propose(opts, change, deadline, json)
        }
    }
}

pub fn policy_cmd(cmd: PolicyCommand, opts: &ClientOpts) -> Result<(), String> {
    let PolicyCommand::Set {
        workspace,
        which,
        policy: text,
        deadline,
        json,
    } = cmd;
    let workspace = WorkspaceId(hash("workspace", &workspace)?.0);
    let p = Some(policy(&text)?);
    let change = match which.as_str() {
        "sign" => Change::SetSignPolicy {
            workspace,
            policy: p,
        },
        "admin" => Change::SetAdminPolicy {
            workspace,
            policy: p,
        },
        other => return Err(format!("--which {other:?}: expected admin or sign")),
    };
    propose(opts, change, deadline, json)
}

pub fn approve(args: ApproveArgs, opts: &ClientOpts) -> Result<(), String> {
    let client = ledger(opts)?;
    let me = Identity::load(&args.as_file).map_err(|e| e.to_string())?;
    let request = hash("request", &args.request)?;
    let info = client.info().map_err(|e| e.to_string())?;
    let reg = client.registry().map_err(|e| e.to_string())?;
    let view = client.request(&request, 0).map_err(|e| e.to_string())?;
    // Rebuild what is approved from the request itself and the registry, resolved here.
    let (digest, effective, shown) = match &view {
        RequestView::Signature(s) => {
            let e = reg
                .sign_policy(KeyId(s.key.0))
                .map_err(|e| format!("key {} is in no workspace: {e}", s.key))?;
            let d = sign_request_digest(&s.key, &s.digest, s.tweak.as_ref());
            (d, e, s.approval.clone())
        }
        RequestView::Admin(a) => {
            let e = reg
                .required_policy(&a.change)
                .map_err(|e| e.to_string())?
                .ok_or("this change needs no approval")?;
            (a.change.digest(), e, Some(a.approval.clone()))
        }
        RequestView::Key(_) | RequestView::Refresh(_) => {
            return Err("key and refresh requests need no approval".into())
        }
    };
    let shown = shown.ok_or("the request needs no approval")?;
    if shown.request_digest.0 != digest || shown.policy_digest.0 != effective.policy.digest() {
        return Err(format!(
            "the ledger's view of request {request} does not match the request and the policy in \
             force (`{}`); not signing",
            effective.policy.policy()
        ));
    }
    let subject = Subject::new(&info.network, request.0, digest, &effective.policy)
        .map_err(|e| e.to_string())?;
    let vote = if args.reject {
        Vote::Reject
    } else {
        Vote::Approve
    };
    let approval = Approval::sign(&me, &subject, vote);
    let id = submit(&client, &me, Action::Approve { request, approval })?;
    let after = client.request(&request, 0).map_err(|e| e.to_string())?;
    let state = match &after {
        RequestView::Signature(s) => s.approval.as_ref().map(|a| a.state.clone()),
        RequestView::Admin(a) => Some(a.approval.state.clone()),
        RequestView::Key(_) | RequestView::Refresh(_) => None,
    }
    .unwrap_or_default();
    let v = serde_json::json!({ "command_id": id.to_string(), "request_id": request.to_string(), "state": state });
    print(args.json, &v, || format!("voted on {request}: {state}"));
    Ok(())
}

fn summary(v: &RequestView) -> String {
    match v {
        RequestView::Key(k) => format!("{}  key        {}", k.key_id, k.status),
        RequestView::Signature(s) => {
            let a = s
                .approval
                .as_ref()
                .map(|a| {
                    format!(
                        "  approval {} (deadline_ms {}){}",
                        a.state,
                        a.deadline_ms,
                        a.missing
                            .as_ref()
                            .map(|m| format!(" ({m})"))
                            .unwrap_or_default()
                    )
                })
                .unwrap_or_default();
            let why = s
                .reason
                .as_ref()
                .map(|r| format!(": {r}"))
                .unwrap_or_default();
            format!("{}  signature  {}{why}{a}", s.request_id, s.status)
        }
        RequestView::Admin(a) => format!(
            "{}  change     {} (deadline_ms {}){}",
            a.request_id,
            a.approval.state,
            a.approval.deadline_ms,
            a.failed
                .as_ref()
                .map(|f| format!(": {f}"))
                .unwrap_or_default()
        ),
        RequestView::Refresh(r) => format!(
            "{}  refresh    {}{}",
            r.request_id,
            r.status,
            r.reason
                .as_ref()
                .map(|f| format!(": {f}"))
                .unwrap_or_default()
        ),
    }
}

pub fn request(cmd: RequestCommand, opts: &ClientOpts) -> Result<(), String> {
    let client = ledger(opts)?;
    match cmd {
        RequestCommand::List { json } => {
            let all = client.requests().map_err(|e| e.to_string())?;
            print(json, &all, || {
                all.iter().map(summary).collect::<Vec<_>>().join("\n")
            });
        }
        RequestCommand::Show { id, json } => {
            let v = client
                .request(&hash("request", &id)?, 0)
                .map_err(|e| e.to_string())?;
            print(json, &v, || {
                format!(
                    "{}\n{}",
                    summary(&v),
                    serde_json::to_string_pretty(&v).unwrap_or_default()
                )
            });
        }
    }
    Ok(())
}
