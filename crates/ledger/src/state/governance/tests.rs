//! Governance rules: each attack leaves the request unsigned, with the expected reason.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use tessera_identity::Identity;
use tessera_policy::{Approval, Change, KeyId, Name, Policy, Vote, Workspace, WorkspaceId};

use super::*;
use crate::command::{Action, Command, Entry, SignedCommand};
use crate::state::SignatureStatus;
use crate::testkit::*;

const WS: WorkspaceId = WorkspaceId([0x77; 32]);

fn alice() -> Identity {
    id(40)
}
fn bob() -> Identity {
    id(41)
}
fn carol() -> Identity {
    id(42)
}
fn mallory() -> Identity {
    id(43)
}

fn policy(p: &str) -> Option<Policy> {
    Some(p.parse().unwrap())
}

/// Signs `action` as `who` (any identity) and applies it.
fn push_as(net: &mut Net, who: &Identity, action: Action) -> Result<Hash32, Rejection> {
    net.counter += 1;
    let mut nonce = [0u8; 16];
    nonce[..8].copy_from_slice(&net.counter.to_be_bytes());
    let cmd = Command {
        network: NET.into(),
        nonce,
        issued_at_ms: net.clock,
        action,
    };
    net.submit(SignedCommand::sign(who, cmd))
}

/// The subject the state holds for a request (admin or signature).
fn subject(net: &Net, request: Hash32) -> Subject {
    match net.state.admin_request(&request) {
        Some(a) => a.request.subject().clone(),
        None => net.state.sign_approval(&request).unwrap().subject().clone(),
    }
}

fn vote(net: &mut Net, who: &Identity, request: Hash32, v: Vote) -> Result<Hash32, Rejection> {
    let approval = Approval::sign(who, &subject(net, request), v);
    push_as(net, who, Action::Approve { request, approval })
}

fn approve(net: &mut Net, who: &Identity, request: Hash32) {
    vote(net, who, request, Vote::Approve).unwrap();
}

fn gov_err(r: Rejection) -> GovRejection {
    match r {
        Rejection::Governance(g) => *g,
        other => panic!("expected a governance rejection, got {other}"),
    }
}

/// A 3-of-2 network with an active key in workspace WS, whose admin and sign policies are
/// `2 of {alice, bob, carol}`, and a ready presign session for the key.
fn governed() -> (Net, Hash32, Hash32) {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    join_workspace(&mut net, key);
    let p = net.presign(key, &[0, 1], 0x51);
    net.ready(p, &[0, 1]);
    (net, key, p)
}

/// Creates workspace WS (admin and sign policies `2 of {alice, bob, carol}`) and puts `key`
/// in it.
fn join_workspace(net: &mut Net, key: Hash32) {
    let mut w = Workspace::default();
    for (n, who) in [("alice", alice()), ("bob", bob()), ("carol", carol())] {
        w.owners.insert(Name::new(n).unwrap(), who.public());
    }
    w.admin_policy = policy("2 of {alice, bob, carol}");
    w.sign_policy = policy("2 of {alice, bob, carol}");
    // A stranger cannot create a root workspace; a keyring owner can, at once.
    let create = Action::ProposeChange {
        change: Change::CreateWorkspace {
            id: WS,
            workspace: w,
        },
        deadline_ms: None,
    };
    assert_eq!(
        gov_err(net.rejected(Who::Outsider, create.clone())).label(),
        "not_proposer"
    );
    net.ok(Who::Owner, create);
    assert!(net.state.registry().workspace(WS).is_ok());
    // The key joins the workspace once its sign policy approves.
    let add = net.ok(
        Who::Owner,
        Action::ProposeChange {
            change: Change::AddKey {
                id: KeyId(key.0),
                workspace: WS,
            },
            deadline_ms: None,
        },
    );
    approve(net, &alice(), add);
    assert!(!net.state.is_governed(&key));
    approve(net, &bob(), add);
    assert!(net.state.is_governed(&key));
}

fn start_sign(request: Hash32, presign: Hash32) -> Action {
    Action::StartSign { request, presign }
}

fn status(net: &Net, req: Hash32) -> SignatureStatus {
    net.state.signature_request(&req).unwrap().status.clone()
}

#[test]
fn governed_request_is_signed_only_after_two_approvals() {
    let (mut net, key, p) = governed();
    let digest = Hash32([0x42; 32]);
    let req = net.request_signature(key, digest, None);
    let ap = net.state.sign_approval(&req).unwrap();
    assert_eq!(
        ap.subject().request_digest(),
        sign_request_digest(&key, &digest, None)
    );
    assert_eq!(ap.deadline_ms(), net.clock + APPROVAL_WINDOW_MS);

    // [G1] StartSign before any approval, and after only one.
    let e = gov_err(net.rejected(Who::Ledger, start_sign(req, p)));
    assert!(matches!(e, GovRejection::NotApproved { .. }), "{e}");
    assert!(e.to_string().contains("needs 2 more of {"), "{e}");
    approve(&mut net, &alice(), req);
    let e = gov_err(net.rejected(Who::Ledger, start_sign(req, p)));
    assert_eq!(e.label(), "not_approved");
    // The same approver twice counts once.
    let e = gov_err(vote(&mut net, &alice(), req, Vote::Approve).unwrap_err());
    assert_eq!(e, GovRejection::AlreadyVoted(alice().public()));
    assert_eq!(status(&net, req), SignatureStatus::Pending);

    approve(&mut net, &bob(), req);
    assert!(net.state.sign_approved(&req));
    net.ok(Who::Ledger, start_sign(req, p));
    let sig = sign(&ecdsa_secret(), &digest);
    net.ok(Who::Op(0), done(req, sig));
    net.ok(Who::Op(1), done(req, sig));
    assert!(matches!(status(&net, req), SignatureStatus::Done { .. }));
}

#[test]
fn ungoverned_keys_need_no_approval() {
    let mut net = Net::new(3, 2);
    let (_, req) = net.signing(Hash32([1; 32]), None);
    assert!(net.state.sign_approval(&req).is_none());
    assert!(matches!(status(&net, req), SignatureStatus::Signing { .. }));
    let other = net.request_signature(net.state.keys()[0].id, Hash32([2; 32]), None);
    let mut scope = tessera_policy::Scope::default();
    scope
        .approvers
        .insert(Name::new("alice").unwrap(), alice().public());
    let p = tessera_policy::resolve(&"alice".parse().unwrap(), &scope).unwrap();
    let s = Subject::new(NET, other.0, [0; 32], &p).unwrap();
    let approval = Approval::sign(&alice(), &s, Vote::Approve);
    let e = gov_err(
        push_as(
            &mut net,
            &alice(),
            Action::Approve {
                request: other,
                approval,
            },
        )
        .unwrap_err(),
    );
    assert_eq!(e, GovRejection::NotGoverned(other));
}

#[test]
fn forged_approvals_do_not_count() {
    let (mut net, key, p) = governed();
    let req = net.request_signature(key, Hash32([0x42; 32]), None);
    let s = subject(&net, req);
    // [G2] A signature that is not alice's, under alice's name.
    let mut forged = Approval::sign(&mallory(), &s, Vote::Approve);
    forged.approver = alice().public();
    let e = gov_err(
        push_as(
            &mut net,
            &alice(),
            Action::Approve {
                request: req,
                approval: forged,
            },
        )
        .unwrap_err(),
    );
    assert_eq!(
        e,
        GovRejection::BadApproval(ApprovalError::BadSignature(alice().public()))
    );
    // [G3] A valid signature by someone the policy does not name.
    let e = gov_err(vote(&mut net, &mallory(), req, Vote::Approve).unwrap_err());
    assert_eq!(
        e,
        GovRejection::BadApproval(ApprovalError::NotAnApprover(mallory().public()))
    );
    // [G4] Alice's genuine approval, submitted by someone else.
    let approval = Approval::sign(&alice(), &s, Vote::Approve);
    let e = gov_err(
        push_as(
            &mut net,
            &mallory(),
            Action::Approve {
                request: req,
                approval,
            },
        )
        .unwrap_err(),
    );
    assert_eq!(e.label(), "not_approvers_command");
    // An approval flipped from reject to approve.
    let mut flipped = Approval::sign(&bob(), &s, Vote::Reject);
    flipped.vote = Vote::Approve;
    let e = gov_err(
        push_as(
            &mut net,
            &bob(),
            Action::Approve {
                request: req,
                approval: flipped,
            },
        )
        .unwrap_err(),
    );
    assert_eq!(e.label(), "bad_approval");
    assert!(net
        .state
        .sign_approval(&req)
        .unwrap()
        .approvals()
        .is_empty());
    let e = gov_err(net.rejected(Who::Ledger, start_sign(req, p)));
    assert_eq!(e.label(), "not_approved");
    assert_eq!(status(&net, req), SignatureStatus::Pending);
}

#[test]
fn approvals_replayed_from_another_request_do_not_count() {
    let (mut net, key, p) = governed();
    let r1 = net.request_signature(key, Hash32([0x01; 32]), None);
    let r2 = net.request_signature(key, Hash32([0x02; 32]), None);
    let s1 = subject(&net, r1);
    for who in [alice(), bob()] {
        let approval = Approval::sign(&who, &s1, Vote::Approve);
        let e = gov_err(
            push_as(
                &mut net,
                &who,
                Action::Approve {
                    request: r2,
                    approval,
                },
            )
            .unwrap_err(),
        );
        assert_eq!(
            e,
            GovRejection::BadApproval(ApprovalError::BadSignature(who.public()))
        );
    }
    // Same request id, another payload: a subject the state never built.
    let policy = net.state.sign_approval(&r2).unwrap().policy().clone();
    let other_payload = Subject::new(NET, r2.0, [0x99; 32], &policy).unwrap();
    let approval = Approval::sign(&alice(), &other_payload, Vote::Approve);
    let e = gov_err(
        push_as(
            &mut net,
            &alice(),
            Action::Approve {
                request: r2,
                approval,
            },
        )
        .unwrap_err(),
    );
    assert_eq!(e.label(), "bad_approval");
    // [G5] r2 stays unsigned; r1 is unaffected and can still be approved.
    assert_eq!(
        gov_err(net.rejected(Who::Ledger, start_sign(r2, p))).label(),
        "not_approved"
    );
    approve(&mut net, &alice(), r1);
    approve(&mut net, &carol(), r1);
    net.ok(Who::Ledger, start_sign(r1, p));
}

/// Changes WS's sign policy to `text`, approved by alice and bob under the admin policy.
fn set_sign_policy(net: &mut Net, text: &str) {
    // The proposer must be someone the admin policy names: the keyring owner is not.
    let e = net.rejected(
        Who::Owner,
        Action::ProposeChange {
            change: Change::SetSignPolicy {
                workspace: WS,
                policy: policy(text),
            },
            deadline_ms: None,
        },
    );
    assert_eq!(gov_err(e).label(), "not_proposer");
    let proposer = alice();
    let change = push_as(
        net,
        &proposer,
        Action::ProposeChange {
            change: Change::SetSignPolicy {
                workspace: WS,
                policy: policy(text),
            },
            deadline_ms: None,
        },
    )
    .unwrap();
    approve(net, &alice(), change);
    assert_eq!(
        net.state.registry().workspace(WS).unwrap().sign_policy,
        policy("2 of {alice, bob, carol}")
    );
    approve(net, &bob(), change);
    assert_eq!(
        net.state.registry().workspace(WS).unwrap().sign_policy,
        policy(text)
    );
}

#[test]
fn approvals_under_an_old_policy_are_stale_after_a_policy_change() {
    let (mut net, key, p) = governed();
    // Fully approved under the old policy, then the policy changes before StartSign.
    let r1 = net.request_signature(key, Hash32([0x01; 32]), None);
    approve(&mut net, &alice(), r1);
    approve(&mut net, &bob(), r1);
    // Half approved under the old policy.
    let r2 = net.request_signature(key, Hash32([0x02; 32]), None);
    approve(&mut net, &alice(), r2);
    let old_subject = subject(&net, r2);

    set_sign_policy(&mut net, "all of {alice, bob, carol}");

    // [G6] r1's approvals were given under the old policy.
    let e = gov_err(net.rejected(Who::Ledger, start_sign(r1, p)));
    assert_eq!(e.label(), "stale_policy", "{e}");
    // [G7] A vote signed under the old policy on r2 is stale too.
    let approval = Approval::sign(&bob(), &old_subject, Vote::Approve);
    let e = gov_err(
        push_as(
            &mut net,
            &bob(),
            Action::Approve {
                request: r2,
                approval,
            },
        )
        .unwrap_err(),
    );
    assert_eq!(e.label(), "stale_policy");
    assert_eq!(
        gov_err(net.rejected(Who::Ledger, start_sign(r2, p))).label(),
        "not_approved"
    );
    // A new request opens under the new policy; an approval signed for the old policy
    // digest does not verify under it.
    let r3 = net.request_signature(key, Hash32([0x03; 32]), None);
    let s3 = subject(&net, r3);
    assert_ne!(s3.policy_digest(), old_subject.policy_digest());
    let old_policy = old_subject.policy_digest();
    assert_ne!(
        net.state.sign_approval(&r3).unwrap().policy().digest(),
        old_policy
    );
    for who in [alice(), bob()] {
        approve(&mut net, &who, r3);
    }
    assert_eq!(
        gov_err(net.rejected(Who::Ledger, start_sign(r3, p))).label(),
        "not_approved"
    );
    approve(&mut net, &carol(), r3);
    net.ok(Who::Ledger, start_sign(r3, p));
    assert_eq!(status(&net, r1), SignatureStatus::Pending);
    assert_eq!(status(&net, r2), SignatureStatus::Pending);
}

/// A misbehaving ledger appends StartSign before the approvals; a follower folding the log
/// skips it (it does not verify at that point) and never signs.
#[test]
fn reordered_start_sign_before_approvals_is_skipped_by_followers() {
    let (mut net, key, p) = governed();
    let req = net.request_signature(key, Hash32([0x42; 32]), None);
    // Build the rest of the log without checks, as a malicious ledger would.
    let mut log: Vec<Entry> = Vec::new();
    let mut head = (net.state.next_seq(), net.state.head_hash());
    let mut append = |sc: SignedCommand, log: &mut Vec<Entry>| {
        let e = Entry::new(head.0, head.1, sc);
        head = (head.0 + 1, e.hash);
        log.push(e);
    };
    let sc = net.command(Who::Ledger, start_sign(req, p));
    append(sc, &mut log);
    let s = subject(&net, req);
    for (i, who) in [alice(), bob()].iter().enumerate() {
        let cmd = Command {
            network: NET.into(),
            nonce: [0xa0 + i as u8; 16],
            issued_at_ms: net.clock,
            action: Action::Approve {
                request: req,
                approval: Approval::sign(who, &s, Vote::Approve),
            },
        };
        append(SignedCommand::sign(who, cmd), &mut log);
    }
    // Operators then post a signature for the presign they were (not) assigned.
    let sig = sign(&ecdsa_secret(), &Hash32([0x42; 32]));
    for i in 0..2 {
        let sc = net.command(Who::Op(i), done(req, sig));
        append(sc, &mut log);
    }
    // The follower: apply, else skip (node.rs `apply`).
    let mut follower = net.state.clone();
    let mut refused = Vec::new();
    for e in &log {
        if let Err(r) = follower.apply(e) {
            refused.push((e.command.command.action.name(), r.clone()));
            follower.skip(e).unwrap();
        }
    }
    assert_eq!(refused.len(), 3, "{refused:?}");
    assert_eq!(refused[0].0, "StartSign");
    assert_eq!(gov_err(refused[0].1.clone()).label(), "not_approved");
    assert!(refused[1..]
        .iter()
        .all(|(a, r)| *a == "SignatureDone" && matches!(r, Rejection::WrongState { .. })));
    // Approved, but never assigned: only a StartSign after the approvals can start it.
    assert!(follower.sign_approved(&req));
    let r = follower.signature_request(&req).unwrap();
    assert_eq!(r.status, SignatureStatus::Pending);
    assert!(follower.presign(&p).unwrap().assigned.is_none());
}

#[test]
fn deadlines_expire_requests_and_refuse_late_votes() {
    let (mut net, key, p) = governed();
    let req = net.request_signature(key, Hash32([0x42; 32]), None);
    let deadline = net.state.sign_approval(&req).unwrap().deadline_ms();
    approve(&mut net, &alice(), req);
    // Not yet due.
    let e = gov_err(net.rejected(Who::Ledger, Action::ExpireRequest { request: req }));
    assert_eq!(e.label(), "not_expired");
    assert!(net.state.expired_requests(deadline - 1).is_empty());
    assert_eq!(net.state.expired_requests(deadline), vec![req]);
    // [G8] A vote at the deadline is refused.
    net.clock = deadline;
    let e = gov_err(vote(&mut net, &bob(), req, Vote::Approve).unwrap_err());
    assert!(matches!(e, GovRejection::Expired { .. }), "{e}");
    // A backdated vote cannot reopen it once any entry moved the clock past the deadline.
    net.clock = deadline + 5;
    net.request_signature(key, Hash32([0x44; 32]), None);
    net.clock = deadline - 10;
    let e = gov_err(vote(&mut net, &bob(), req, Vote::Approve).unwrap_err());
    assert!(matches!(e, GovRejection::Expired { .. }), "{e}");
    net.ok(Who::Ledger, Action::ExpireRequest { request: req });
    let ap = net.state.sign_approval(&req).unwrap();
    assert_eq!(state_label(ap.state()), "expired");
    let SignatureStatus::Failed { reason } = status(&net, req) else {
        panic!("not failed")
    };
    assert!(reason.starts_with("expired"), "{reason}");
    assert!(reason.contains("needs 1 more of"), "{reason}");
    assert!(matches!(
        net.rejected(Who::Ledger, start_sign(req, p)),
        Rejection::WrongState { .. }
    ));
    // Only the ledger expires requests.
    let other = net.request_signature(key, Hash32([0x43; 32]), None);
    assert!(matches!(
        net.rejected(Who::Owner, Action::ExpireRequest { request: other }),
        Rejection::NotLedger { .. }
    ));
}

#[test]
fn vetoed_requests_fail_with_the_vetoers_named() {
    let (mut net, key, p) = governed();
    let req = net.request_signature(key, Hash32([0x42; 32]), None);
    vote(&mut net, &bob(), req, Vote::Reject).unwrap();
    assert_eq!(status(&net, req), SignatureStatus::Pending);
    vote(&mut net, &carol(), req, Vote::Reject).unwrap();
    assert_eq!(
        status(&net, req),
        SignatureStatus::Failed {
            reason: "rejected: vetoed by bob, carol".into()
        }
    );
    let e = gov_err(vote(&mut net, &alice(), req, Vote::Approve).unwrap_err());
    assert_eq!(e.label(), "closed");
    assert!(net.rejected(Who::Ledger, start_sign(req, p)).kind() == RejectionKind::Conflict);
}

#[test]
fn workspace_changes_need_the_admin_policy() {
    let (mut net, key, _) = governed();
    // Putting a key in a workspace: only an owner of its keyring may propose it, once.
    let add = Action::ProposeChange {
        change: Change::AddKey {
            id: KeyId(key.0),
            workspace: WS,
        },
        deadline_ms: None,
    };
    assert_eq!(
        gov_err(push_as(&mut net, &alice(), add.clone()).unwrap_err()).label(),
        "not_proposer"
    );
    assert_eq!(gov_err(net.rejected(Who::Owner, add)).label(), "workspace");
    // A group change applies only once two of the three approve.
    let ops = Name::new("ops").unwrap();
    let change = Change::SetGroup {
        workspace: WS,
        name: ops.clone(),
        members: [Name::new("alice").unwrap(), Name::new("bob").unwrap()].into(),
    };
    let id = push_as(
        &mut net,
        &carol(),
        Action::ProposeChange {
            change: change.clone(),
            deadline_ms: None,
        },
    )
    .unwrap();
    assert_eq!(
        net.state
            .admin_request(&id)
            .unwrap()
            .request
            .subject()
            .request_digest(),
        change.digest()
    );
    approve(&mut net, &carol(), id);
    assert!(!net
        .state
        .registry()
        .workspace(WS)
        .unwrap()
        .groups
        .contains_key(&ops));
    // Mallory is not named by the admin policy.
    let e = gov_err(vote(&mut net, &mallory(), id, Vote::Approve).unwrap_err());
    assert_eq!(e.label(), "bad_approval");
    approve(&mut net, &alice(), id);
    assert!(net
        .state
        .registry()
        .workspace(WS)
        .unwrap()
        .groups
        .contains_key(&ops));
    let e = gov_err(vote(&mut net, &bob(), id, Vote::Approve).unwrap_err());
    assert_eq!(e.label(), "closed");
    // Roots are independent: another root may name alice differently.
    let mut w = Workspace::default();
    w.owners.insert(Name::new("x").unwrap(), alice().public());
    w.admin_policy = policy("x");
    w.sign_policy = policy("x");
    let ok = net.push(
        Who::Owner,
        Action::ProposeChange {
            change: Change::CreateWorkspace {
                id: WorkspaceId([0x78; 32]),
                workspace: w,
            },
            deadline_ms: None,
        },
    );
    assert!(ok.is_ok(), "separate roots do not share names: {ok:?}");
}

#[test]
fn scheduler_starts_signing_only_approved_requests_and_expires_late_ones() {
    use crate::scheduler::{decide, SchedulerConfig};
    let (mut net, key, p) = governed();
    let cfg = SchedulerConfig {
        pool_target: 1,
        ..SchedulerConfig::default()
    };
    let live = |_: &tessera_identity::IdentityKey| true;
    let req = net.request_signature(key, Hash32([0x42; 32]), None);
    let late = net.request_signature(key, Hash32([0x43; 32]), None);
    let now = net.clock;
    let starts = |a: &[Action]| -> Vec<Hash32> {
        a.iter()
            .filter_map(|a| match a {
                Action::StartSign { request, .. } => Some(*request),
                _ => None,
            })
            .collect()
    };
    let a = decide(&net.state, &live, now, &cfg);
    assert!(starts(&a).is_empty(), "{a:?}");
    approve(&mut net, &alice(), req);
    approve(&mut net, &carol(), req);
    let a = decide(&net.state, &live, now, &cfg);
    assert_eq!(starts(&a), vec![req]);
    assert!(a.contains(&start_sign(req, p)));
    // Past the deadline the unapproved one expires, and is not started.
    let deadline = net.state.sign_approval(&late).unwrap().deadline_ms();
    let a = decide(&net.state, &live, deadline, &cfg);
    assert!(
        a.contains(&Action::ExpireRequest { request: late }),
        "{a:?}"
    );
    assert!(!starts(&a).contains(&late));
    net.clock = deadline;
    for action in a {
        net.ok(Who::Ledger, action);
    }
    assert!(matches!(status(&net, late), SignatureStatus::Failed { .. }));
    assert!(matches!(status(&net, req), SignatureStatus::Signing { .. }));
}

#[test]
fn a_request_made_before_its_key_joined_a_workspace_fails_instead_of_waiting() {
    use crate::scheduler::{decide, SchedulerConfig};
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let early = net.request_signature(key, Hash32([0x44; 32]), None);
    join_workspace(&mut net, key);
    // No approval was opened for it, so none can be collected: the scheduler fails it.
    assert!(net.state.unapprovable(&early).is_some());
    let live = |_: &tessera_identity::IdentityKey| true;
    let a = decide(&net.state, &live, net.clock, &SchedulerConfig::default());
    let abort = a
        .iter()
        .find(|x| matches!(x, Action::AbortSession { session, .. } if *session == early))
        .cloned()
        .unwrap_or_else(|| panic!("no abort for the early request: {a:?}"));
    net.ok(Who::Ledger, abort);
    let SignatureStatus::Failed { reason } = status(&net, early) else {
        panic!("not failed");
    };
    assert!(
        reason.contains("before its key joined a workspace"),
        "{reason}"
    );
    // A request made now opens an approval and waits for votes.
    let later = net.request_signature(key, Hash32([0x45; 32]), None);
    assert!(net.state.unapprovable(&later).is_none());
}

fn sign_with_deadline(key: Hash32, digest: u8, deadline_ms: Option<u64>) -> Action {
    Action::RequestSignature {
        key,
        digest: Hash32([digest; 32]),
        tweak: None,
        note: None,
        deadline_ms,
    }
}

#[test]
fn a_requested_deadline_is_the_one_expiry_and_votes_use() {
    use crate::scheduler::{decide, SchedulerConfig};
    let (mut net, key, _) = governed();
    let deadline = net.clock + 2 * 60 * 1000;
    let req = net.ok(Who::Owner, sign_with_deadline(key, 0x42, Some(deadline)));
    assert_eq!(
        net.state.sign_approval(&req).unwrap().deadline_ms(),
        deadline
    );
    approve(&mut net, &alice(), req);
    // One millisecond before: not due, and a vote still counts.
    let live = |_: &tessera_identity::IdentityKey| true;
    let cfg = SchedulerConfig::default();
    let expire = Action::ExpireRequest { request: req };
    assert!(!decide(&net.state, &live, deadline - 1, &cfg).contains(&expire));
    net.clock = deadline - 1;
    let e = gov_err(net.rejected(Who::Ledger, expire.clone()));
    assert_eq!(e.label(), "not_expired");
    // At the deadline exactly: the scheduler expires it and a vote is refused.
    assert!(decide(&net.state, &live, deadline, &cfg).contains(&expire));
    net.clock = deadline;
    let e = gov_err(vote(&mut net, &bob(), req, Vote::Approve).unwrap_err());
    assert!(
        matches!(e, GovRejection::Expired { deadline_ms, .. } if deadline_ms == deadline),
        "{e}"
    );
    net.ok(Who::Ledger, expire);
    assert!(matches!(status(&net, req), SignatureStatus::Failed { .. }));
    // Without a deadline the default window still applies.
    let default = net.ok(Who::Owner, sign_with_deadline(key, 0x43, None));
    assert_eq!(
        net.state.sign_approval(&default).unwrap().deadline_ms(),
        net.clock + APPROVAL_WINDOW_MS
    );
}

#[test]
fn a_requested_deadline_outside_the_bounds_is_refused() {
    let (mut net, key, _) = governed();
    let now = net.clock;
    let min = now + MIN_APPROVAL_WINDOW_MS;
    let max = now + MAX_APPROVAL_WINDOW_MS;
    for bad in [0, now, min - 1, max + 1, u64::MAX] {
        let e = gov_err(net.rejected(Who::Owner, sign_with_deadline(key, 0x42, Some(bad))));
        assert_eq!(e.label(), "bad_deadline", "{bad}: {e}");
        assert_eq!(e.kind(), RejectionKind::Malformed);
    }
    let e = gov_err(net.rejected(Who::Owner, sign_with_deadline(key, 0x42, Some(min - 1))));
    assert!(e.to_string().contains("at least 60 s"), "{e}");
    let e = gov_err(net.rejected(Who::Owner, sign_with_deadline(key, 0x42, Some(max + 1))));
    assert!(e.to_string().contains("at most 30 days"), "{e}");
    // The bounds themselves are allowed, on a signature request and on a proposal.
    for (i, ok) in [min, max].into_iter().enumerate() {
        let req = net.ok(
            Who::Owner,
            sign_with_deadline(key, 0x50 + i as u8, Some(ok)),
        );
        assert_eq!(net.state.sign_approval(&req).unwrap().deadline_ms(), ok);
    }
    let set_policy = |deadline_ms| Action::ProposeChange {
        change: Change::SetSignPolicy {
            workspace: WS,
            policy: policy("1 of {alice}"),
        },
        deadline_ms,
    };
    let e = gov_err(push_as(&mut net, &alice(), set_policy(Some(max + 1))).unwrap_err());
    assert_eq!(e.label(), "bad_deadline");
    let req = push_as(&mut net, &alice(), set_policy(Some(min))).unwrap();
    assert_eq!(
        net.state.admin_request(&req).unwrap().request.deadline_ms(),
        min
    );
}

#[test]
fn a_deadline_on_a_command_that_opens_no_approval_is_refused() {
    let mut net = Net::new(3, 2);
    let key = net.active_key();
    let deadline = Some(net.clock + 10 * 60 * 1000);
    let e = gov_err(net.rejected(Who::Owner, sign_with_deadline(key, 0x42, deadline)));
    assert_eq!(e.label(), "bad_deadline");
    assert!(e.to_string().contains("no workspace"), "{e}");
    let create = Action::ProposeChange {
        change: Change::CreateWorkspace {
            id: WS,
            workspace: Workspace::default(),
        },
        deadline_ms: deadline,
    };
    let e = gov_err(net.rejected(Who::Owner, create));
    assert!(e.to_string().contains("applies at once"), "{e}");
}
