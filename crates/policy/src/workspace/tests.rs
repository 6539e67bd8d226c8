use super::*;
use crate::approval::{tally, Approval, Subject, Vote};
use crate::request::{Event, Request, State};
use crate::testkit::{id, key, name};

const R: WorkspaceId = WorkspaceId([1; 32]);
const C: WorkspaceId = WorkspaceId([2; 32]);
const K1: KeyId = KeyId([11; 32]);
const K2: KeyId = KeyId([12; 32]);

fn policy(text: &str) -> Option<Policy> {
    Some(Policy::parse(text).unwrap())
}

fn set(names: &[&str]) -> BTreeSet<IdentityKey> {
    names.iter().map(|n| key(n)).collect()
}

fn owners(names: &[&str]) -> BTreeMap<Name, IdentityKey> {
    names.iter().map(|n| (name(n), key(n))).collect()
}

fn root() -> Workspace {
    Workspace {
        parent: None,
        owners: owners(&["alice", "bob", "carol", "cfo"]),
        groups: [(name("ops"), [name("bob"), name("carol")].into())].into(),
        admin_policy: policy("2 of {alice, bob, cfo}"),
        sign_policy: policy("any 1 of {ops} and cfo"),
    }
}

fn child() -> Workspace {
    Workspace {
        parent: Some(R),
        owners: owners(&["dave", "erin"]),
        groups: BTreeMap::new(),
        admin_policy: None,
        sign_policy: policy("dave and 1 of {alice, erin}"),
    }
}

const ADMINS: &[&str] = &["alice", "cfo"];

/// R (root) ⊃ C (child); K1 in C, K2 in R.
fn registry() -> Registry {
    let steps: [(Change, &[&str]); 4] = [
        (
            Change::CreateWorkspace {
                id: R,
                workspace: root(),
            },
            &[],
        ),
        (
            Change::CreateWorkspace {
                id: C,
                workspace: child(),
            },
            ADMINS,
        ),
        (
            Change::AddKey {
                id: K1,
                workspace: C,
            },
            &["dave", "erin"],
        ),
        (
            Change::AddKey {
                id: K2,
                workspace: R,
            },
            &["carol", "cfo"],
        ),
    ];
    steps.iter().fold(Registry::new(), |r, (c, who)| {
        r.apply(c, &set(who)).unwrap()
    })
}

fn refused(r: &Registry, c: Change, who: &[&str]) -> String {
    match r.apply(&c, &set(who)) {
        Ok(_) => "applied".into(),
        Err(e) => e.to_string(),
    }
}

#[test]
fn effective_sign_policy_of_a_key() {
    let r = registry();
    let e1 = r.sign_policy(K1).unwrap();
    assert_eq!(
        (e1.defined_in, e1.which, e1.policy.policy().to_string()),
        (C, Which::Sign, "dave and 1 of {alice, erin}".to_string())
    );
    let e2 = r.sign_policy(K2).unwrap();
    assert_eq!((e2.defined_in, e2.which), (R, Which::Sign));
    // An override wins, and needs the admin policy of the key's workspace (inherited from R).
    let c = Change::SetKeyPolicy {
        key: K1,
        policy: policy("all of {dave, erin}"),
    };
    assert_eq!(
        r.required_policy(&c)
            .unwrap()
            .map(|e| (e.defined_in, e.which)),
        Some((R, Which::Admin))
    );
    let r2 = r.apply(&c, &set(ADMINS)).unwrap();
    let e3 = r2.sign_policy(K1).unwrap();
    assert_eq!((e3.defined_in, e3.which), (C, Which::Key));
    assert_eq!(e3.policy.members(), set(&["dave", "erin"]));
    // Removing the override falls back to the workspace.
    let r3 = r2
        .apply(
            &Change::SetKeyPolicy {
                key: K1,
                policy: None,
            },
            &set(ADMINS),
        )
        .unwrap();
    assert_eq!(r3.sign_policy(K1).unwrap(), e1);
    assert_eq!(
        r.sign_policy(KeyId([99; 32])).unwrap_err(),
        WorkspaceError::UnknownKey(KeyId([99; 32]))
    );
}

#[test]
fn inherited_policies_are_resolved_where_they_are_defined() {
    let mut r = registry();
    // Without its own sign policy, C inherits R's, which means R's `ops`.
    r = r
        .apply(
            &Change::SetSignPolicy {
                workspace: C,
                policy: None,
            },
            &set(ADMINS),
        )
        .unwrap();
    let e = r.sign_policy(K1).unwrap();
    assert_eq!(e.defined_in, R);
    assert_eq!(e.policy.members(), set(&["bob", "carol", "cfo"]));
    assert_eq!(e.policy, r.sign_policy(K2).unwrap().policy);
    // The admin policy of C is R's.
    assert_eq!(r.admin_policy(C).unwrap().defined_in, R);
    // C gets its own admin policy: from then on C's admins decide C.
    let own = Change::SetAdminPolicy {
        workspace: C,
        policy: policy("dave or erin"),
    };
    r = r.apply(&own, &set(ADMINS)).unwrap();
    let add = Change::SetOwner {
        workspace: C,
        name: name("fred"),
        key: key("fred"),
    };
    assert!(refused(&r, add.clone(), ADMINS)
        .starts_with("the admin policy `dave or erin` is not satisfied"));
    assert!(r.apply(&add, &set(&["erin"])).is_ok());
}

#[test]
fn admin_changes_need_the_admin_policy() {
    let r = registry();
    let add = Change::SetOwner {
        workspace: R,
        name: name("zed"),
        key: key("zed"),
    };
    assert_eq!(
        refused(&r, add.clone(), &["alice"]),
        "the admin policy `2 of {alice, bob, cfo}` is not satisfied: needs 1 more of {bob, cfo}"
    );
    // Sign-policy approvers are not admins.
    assert!(refused(&r, add.clone(), &["carol", "cfo", "dave"])
        .contains("needs 1 more of {alice, bob}"));
    let r2 = r.apply(&add, &set(&["bob", "cfo"])).unwrap();
    assert_eq!(
        r2.workspace(R).unwrap().owners.get(&name("zed")),
        Some(&key("zed"))
    );
    assert_eq!(r, registry(), "apply leaves its input alone");
    // Child workspaces: the parent's admins.
    let c2 = Change::CreateWorkspace {
        id: WorkspaceId([3; 32]),
        workspace: Workspace {
            parent: Some(C),
            ..Workspace::default()
        },
    };
    assert!(refused(&r, c2.clone(), &["dave", "erin"]).starts_with("the admin policy"));
    assert_eq!(refused(&r, c2, ADMINS), "applied");
    // Keys: the sign policy.
    let k = Change::AddKey {
        id: KeyId([13; 32]),
        workspace: C,
    };
    assert_eq!(
        refused(&r, k.clone(), ADMINS),
        "the sign policy `dave and 1 of {alice, erin}` is not satisfied: needs dave"
    );
    assert_eq!(refused(&r, k, &["dave", "alice"]), "applied");
    // Changing the admin policy itself needs the current admin policy.
    let weaker = Change::SetAdminPolicy {
        workspace: R,
        policy: policy("alice"),
    };
    assert!(refused(&r, weaker.clone(), &["alice"]).starts_with("the admin policy `2 of"));
    let r3 = r.apply(&weaker, &set(&["alice", "bob"])).unwrap();
    assert_eq!(
        r3.admin_policy(R).unwrap().policy.members(),
        set(&["alice"])
    );
}

#[test]
fn changes_that_would_break_a_workspace_are_refused() {
    let r = registry();
    let a = ADMINS;
    let cases: Vec<(Change, &str)> = vec![
        (
            Change::RemoveOwner {
                workspace: R,
                name: name("cfo"),
            },
            "admin policy `2 of {alice, bob, cfo}`: unknown name `cfo`",
        ),
        (
            Change::RemoveOwner {
                workspace: R,
                name: name("zed"),
            },
            "no owner or group `zed`",
        ),
        (
            Change::RemoveGroup {
                workspace: R,
                name: name("ops"),
            },
            "sign policy `1 of {ops} and cfo`: unknown name `ops`",
        ),
        (
            Change::SetAdminPolicy {
                workspace: R,
                policy: None,
            },
            "a root workspace must set both an admin and a sign policy",
        ),
        (
            Change::SetOwner {
                workspace: C,
                name: name("alice"),
                key: key("zed"),
            },
            "`alice` is defined twice along the chain",
        ),
        (
            Change::SetOwner {
                workspace: R,
                name: name("dave"),
                key: key("zed"),
            },
            "`dave` is defined twice along the chain",
        ),
        (
            Change::SetOwner {
                workspace: C,
                name: name("bobby"),
                key: key("bob"),
            },
            "has two names along the chain",
        ),
        (
            Change::SetOwner {
                workspace: R,
                name: name("ops"),
                key: key("zed"),
            },
            "`ops` is defined twice along the chain",
        ),
        (
            Change::SetGroup {
                workspace: R,
                name: name("ops"),
                members: [name("zed")].into(),
            },
            "group `ops` must list one or more owners",
        ),
        (
            Change::SetGroup {
                workspace: R,
                name: name("ops"),
                members: BTreeSet::new(),
            },
            "group `ops` must list one or more owners",
        ),
        (
            // R's group may not list C's owners: they are not in R's scope.
            Change::SetGroup {
                workspace: R,
                name: name("ops"),
                members: [name("dave")].into(),
            },
            "group `ops` must list one or more owners",
        ),
        (
            Change::SetSignPolicy {
                workspace: C,
                policy: policy("3 of {dave, erin}"),
            },
            "threshold 3 exceeds the 2 members of {dave, erin}",
        ),
        (
            Change::SetSignPolicy {
                workspace: C,
                policy: policy("ops"),
            },
            "`ops` is a group",
        ),
        (
            Change::SetKeyPolicy {
                key: K1,
                policy: policy("zed"),
            },
            "key sign policy `zed`: unknown name `zed`",
        ),
        (
            Change::SetKeyPolicy {
                key: KeyId([9; 32]),
                policy: None,
            },
            "no key 0909",
        ),
        (
            Change::SetOwner {
                workspace: WorkspaceId([9; 32]),
                name: name("x"),
                key: key("x"),
            },
            "no workspace 0909",
        ),
        (
            Change::CreateWorkspace {
                id: C,
                workspace: child(),
            },
            "already exists",
        ),
        (
            Change::CreateWorkspace {
                id: WorkspaceId([4; 32]),
                workspace: Workspace {
                    parent: Some(WorkspaceId([9; 32])),
                    ..Workspace::default()
                },
            },
            "no workspace 0909",
        ),
    ];
    for (c, want) in cases {
        let got = refused(&r, c.clone(), a);
        assert!(got.contains(want), "{c:?}: {got}");
    }
    assert!(refused(
        &r,
        Change::AddKey {
            id: K2,
            workspace: R
        },
        &["bob", "cfo"]
    )
    .contains("already exists"));
    // A root must come with both policies, and they must resolve.
    let bare = Change::CreateWorkspace {
        id: WorkspaceId([5; 32]),
        workspace: Workspace {
            sign_policy: None,
            ..root()
        },
    };
    assert!(refused(&r, bare, &[]).contains("must set both"));
}

#[test]
fn changes_are_checked_against_every_workspace_below() {
    // C's sign policy uses R's group; shrinking the group in R breaks C, so it is refused.
    let mut r = registry();
    r = r
        .apply(
            &Change::SetSignPolicy {
                workspace: C,
                policy: policy("2 of {ops}"),
            },
            &set(ADMINS),
        )
        .unwrap();
    let shrink = Change::SetGroup {
        workspace: R,
        name: name("ops"),
        members: [name("bob")].into(),
    };
    let got = refused(&r, shrink, ADMINS);
    assert!(
        got.contains(&format!("workspace {C}: sign policy `2 of {{ops}}`")),
        "{got}"
    );
    assert!(
        got.contains("threshold 2 exceeds the 1 members of {ops}"),
        "{got}"
    );
}

#[test]
fn group_changes_change_the_policy_digest() {
    let r = registry();
    let before = r.sign_policy(K2).unwrap().policy.digest();
    let grow = Change::SetGroup {
        workspace: R,
        name: name("ops"),
        members: [name("bob"), name("carol"), name("alice")].into(),
    };
    let r2 = r.apply(&grow, &set(ADMINS)).unwrap();
    let after = r2.sign_policy(K2).unwrap();
    assert_ne!(before, after.policy.digest());
    assert!(after.policy.members().contains(&key("alice")));
}

#[test]
fn nesting_is_bounded() {
    let mut r = registry();
    let mut parent = C;
    // R and C are levels 1 and 2.
    for level in 3..=MAX_WORKSPACE_DEPTH + 1 {
        let id = WorkspaceId([100 + level as u8; 32]);
        let c = Change::CreateWorkspace {
            id,
            workspace: Workspace {
                parent: Some(parent),
                ..Workspace::default()
            },
        };
        match r.apply(&c, &set(ADMINS)) {
            Ok(next) => {
                assert!(level <= MAX_WORKSPACE_DEPTH, "level {level} accepted");
                r = next;
            }
            Err(e) => {
                assert_eq!(level, MAX_WORKSPACE_DEPTH + 1);
                assert!(matches!(e, WorkspaceError::TooDeep(_)), "{e}");
            }
        }
        parent = id;
    }
}

#[test]
fn stored_registries_are_checked_when_loaded() {
    let r = registry();
    let json = serde_json::to_string(&r).unwrap();
    let back: Registry = serde_json::from_str(&json).unwrap();
    assert_eq!(back, r);
    // Parents that loop.
    let mut ws = r.workspaces().clone();
    ws.get_mut(&R).unwrap().parent = Some(C);
    assert!(matches!(
        Registry::from_parts(ws, BTreeMap::new()),
        Err(WorkspaceError::TooDeep(_))
    ));
    // A key in a missing workspace.
    let mut keys = r.keys().clone();
    keys.insert(
        KeyId([7; 32]),
        Key {
            workspace: WorkspaceId([8; 32]),
            sign_policy: None,
        },
    );
    assert!(Registry::from_parts(r.workspaces().clone(), keys).is_err());
    // A policy that does not resolve, and an unknown field.
    let broken = json.replace("2 of {alice, bob, cfo}", "2 of {alice, zed}");
    assert!(serde_json::from_str::<Registry>(&broken)
        .unwrap_err()
        .to_string()
        .contains("unknown name `zed`"));
    let extra = json.replacen("\"parent\":null", "\"parent\":null,\"x\":1", 1);
    assert_ne!(extra, json);
    assert!(serde_json::from_str::<Registry>(&extra).is_err());
}

#[test]
fn change_digests_are_distinct_and_stable() {
    let p = policy("alice");
    let changes = [
        Change::CreateWorkspace {
            id: C,
            workspace: child(),
        },
        Change::CreateWorkspace {
            id: R,
            workspace: child(),
        },
        Change::CreateWorkspace {
            id: C,
            workspace: Workspace {
                sign_policy: None,
                ..child()
            },
        },
        Change::SetOwner {
            workspace: R,
            name: name("a"),
            key: key("a"),
        },
        Change::SetOwner {
            workspace: R,
            name: name("a"),
            key: key("b"),
        },
        Change::SetOwner {
            workspace: R,
            name: name("b"),
            key: key("a"),
        },
        Change::SetOwner {
            workspace: C,
            name: name("a"),
            key: key("a"),
        },
        Change::RemoveOwner {
            workspace: R,
            name: name("a"),
        },
        Change::RemoveGroup {
            workspace: R,
            name: name("a"),
        },
        Change::SetGroup {
            workspace: R,
            name: name("a"),
            members: [name("b")].into(),
        },
        Change::SetGroup {
            workspace: R,
            name: name("a"),
            members: [name("b"), name("c")].into(),
        },
        Change::SetGroup {
            workspace: R,
            name: name("ab"),
            members: BTreeSet::new(),
        },
        Change::SetAdminPolicy {
            workspace: R,
            policy: p.clone(),
        },
        Change::SetAdminPolicy {
            workspace: R,
            policy: None,
        },
        Change::SetSignPolicy {
            workspace: R,
            policy: p.clone(),
        },
        Change::SetSignPolicy {
            workspace: R,
            policy: policy("bob"),
        },
        Change::AddKey {
            id: K1,
            workspace: R,
        },
        Change::AddKey {
            id: K2,
            workspace: R,
        },
        Change::SetKeyPolicy { key: K1, policy: p },
        Change::SetKeyPolicy {
            key: K1,
            policy: None,
        },
    ];
    let digests: BTreeSet<[u8; 32]> = changes.iter().map(Change::digest).collect();
    assert_eq!(digests.len(), changes.len());
    for c in &changes {
        assert_eq!(c.digest(), c.clone().digest());
        let json = serde_json::to_string(c).unwrap();
        assert_eq!(&serde_json::from_str::<Change>(&json).unwrap(), c);
    }
}

/// A signature request end to end: the key's effective policy, approvals verified and
/// tallied, the request approved.
#[test]
fn a_signature_request_under_a_keys_policy() {
    let r = registry();
    let e = r.sign_policy(K1).unwrap();
    let subject = Subject::new("testnet", [42; 32], [43; 32], &e.policy).unwrap();
    let approvals = [
        Approval::sign(&id("dave"), &subject, Vote::Approve),
        Approval::sign(&id("bob"), &subject, Vote::Approve), // not named by K1's policy
        Approval::sign(&id("erin"), &subject, Vote::Approve),
    ];
    let t = tally(&subject, &e.policy, &approvals);
    assert_eq!(t.refused.len(), 1);
    let mut req = Request::new(subject, e.policy, 1_000).unwrap();
    for v in t.votes {
        req = req.step(&Event::Vote(v), 10).0;
    }
    assert_eq!(req.state(), &State::Approved { at_ms: 10 });
}

/// Every combination of (key override, child sign policy) for a key in the child: the
/// effective policy comes from the nearest definition, and is resolved where it is defined.
#[test]
fn effective_policy_for_every_combination_of_definitions() {
    for key_override in [false, true] {
        for child_sign in [false, true] {
            let mut r = registry();
            let sp = Change::SetSignPolicy {
                workspace: C,
                policy: if child_sign { policy("erin") } else { None },
            };
            r = r.apply(&sp, &set(ADMINS)).unwrap();
            if key_override {
                let kp = Change::SetKeyPolicy {
                    key: K1,
                    policy: policy("dave"),
                };
                r = r.apply(&kp, &set(ADMINS)).unwrap();
            }
            let e = r.sign_policy(K1).unwrap();
            let want = match (key_override, child_sign) {
                (true, _) => (C, Which::Key, set(&["dave"])),
                (false, true) => (C, Which::Sign, set(&["erin"])),
                (false, false) => (R, Which::Sign, set(&["bob", "carol", "cfo"])),
            };
            assert_eq!(
                (e.defined_in, e.which, e.policy.members()),
                want,
                "override {key_override}, child sign {child_sign}"
            );
            // K2 lives in R and never sees C's definitions.
            assert_eq!(r.sign_policy(K2).unwrap().defined_in, R);
        }
    }
}

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n as u64) as usize
    }
}

/// Thousands of random changes with random approvers: every registry `apply` returns
/// validates as a whole, survives a JSON round trip, has a policy in force for every workspace
/// and key, and was reached only with the approval the old registry required.
#[test]
fn random_change_sequences_keep_the_registry_valid() {
    let people = [
        "alice", "bob", "carol", "cfo", "dave", "erin", "fred", "gina",
    ];
    let texts = [
        "alice",
        "fred or gina",
        "2 of {alice, bob, cfo}",
        "1 of {ops} and cfo",
        "all of {ops}",
        "dave and 1 of {alice, erin}",
        "2 of {team, gina}",
    ];
    // Deriving a public key is a scalar multiplication: once per person.
    let pk: BTreeMap<&str, IdentityKey> = people.iter().map(|p| (*p, key(p))).collect();
    let mut rng = Rng(0x5EED);
    let mut r = registry();
    let (mut applied, mut refused_count) = (0, 0);
    let mut kinds: BTreeMap<String, usize> = BTreeMap::new();
    for step in 0..3000 {
        let ids: Vec<WorkspaceId> = r.workspaces().keys().copied().collect();
        let ws = ids[rng.below(ids.len())];
        let person = |rng: &mut Rng| people[rng.below(people.len())];
        let group = |rng: &mut Rng| ["ops", "team"][rng.below(2)];
        let pol = |rng: &mut Rng| {
            let i = rng.below(texts.len() + 1);
            texts.get(i).and_then(|t| policy(t))
        };
        let keys: Vec<KeyId> = r.keys().keys().copied().collect();
        let change = match rng.below(9) {
            0 => Change::SetOwner {
                workspace: ws,
                name: name(person(&mut rng)),
                key: pk[person(&mut rng)],
            },
            1 => {
                // Mostly someone who is an owner there, so that removals can succeed.
                let there: Vec<&Name> = r.workspace(ws).unwrap().owners.keys().collect();
                let n = match there.len() {
                    0 => name(person(&mut rng)),
                    len => there[rng.below(len)].clone(),
                };
                Change::RemoveOwner {
                    workspace: ws,
                    name: n,
                }
            }
            2 => Change::SetGroup {
                workspace: ws,
                name: name(group(&mut rng)),
                members: (0..rng.below(4)).map(|_| name(person(&mut rng))).collect(),
            },
            3 => Change::RemoveGroup {
                workspace: ws,
                name: name(group(&mut rng)),
            },
            4 => Change::SetAdminPolicy {
                workspace: ws,
                policy: pol(&mut rng),
            },
            5 => Change::SetSignPolicy {
                workspace: ws,
                policy: pol(&mut rng),
            },
            6 => Change::AddKey {
                id: KeyId([rng.below(256) as u8; 32]),
                workspace: ws,
            },
            7 => Change::SetKeyPolicy {
                key: keys[rng.below(keys.len())],
                policy: pol(&mut rng),
            },
            _ => Change::CreateWorkspace {
                id: WorkspaceId([rng.below(256) as u8; 32]),
                workspace: Workspace {
                    parent: Some(ws),
                    ..Workspace::default()
                },
            },
        };
        let who: BTreeSet<IdentityKey> = people
            .iter()
            .filter(|_| rng.below(2) == 0)
            .map(|p| pk[p])
            .collect();
        let Ok(next) = r.apply(&change, &who) else {
            refused_count += 1;
            continue;
        };
        applied += 1;
        let kind = format!("{change:?}");
        *kinds
            .entry(kind.split([' ', '{']).next().unwrap_or("").to_string())
            .or_insert(0) += 1;
        let needed = r.required_policy(&change).unwrap().unwrap();
        assert!(
            evaluate(&needed.policy, &who).is_approved(),
            "step {step}: {change:?}"
        );
        let again = Registry::from_parts(next.workspaces().clone(), next.keys().clone());
        assert_eq!(again.as_ref(), Ok(&next), "step {step}: {change:?}");
        let json = serde_json::to_string(&next).unwrap();
        assert_eq!(serde_json::from_str::<Registry>(&json).unwrap(), next);
        for id in next.workspaces().keys() {
            next.admin_policy(*id).unwrap();
            next.workspace_sign_policy(*id).unwrap();
        }
        for k in next.keys().keys() {
            next.sign_policy(*k).unwrap();
        }
        r = next;
    }
    // Every kind of change got through at least once.
    assert_eq!(kinds.len(), 9, "{kinds:?}");

    assert!(
        applied > 100 && refused_count > 1000,
        "{applied} applied, {refused_count} refused"
    );
}

fn open(r: &Registry, change: &Change) -> (Request, Subject) {
    let e = r.required_policy(change).unwrap().unwrap();
    let subject = Subject::new("testnet", [77; 32], change.digest(), &e.policy).unwrap();
    (
        Request::new(subject.clone(), e.policy, 1_000).unwrap(),
        subject,
    )
}

fn approve(mut req: Request, subject: &Subject, who: &[&str]) -> Request {
    for w in who {
        let v = Approval::sign(&id(w), subject, Vote::Approve)
            .verify(subject, req.policy())
            .unwrap();
        req = req.step(&Event::Vote(v), 10).0;
    }
    req
}

#[test]
fn admin_changes_go_through_approved_requests() {
    let r = registry();
    let add = Change::SetOwner {
        workspace: R,
        name: name("zed"),
        key: key("zed"),
    };
    let (req, subject) = open(&r, &add);
    let half = approve(req.clone(), &subject, &["alice"]);
    assert_eq!(
        r.apply_approved(&add, &half),
        Err(WorkspaceError::RequestNotApproved)
    );
    let done = approve(req.clone(), &subject, &["alice", "cfo"]);
    let r2 = r.apply_approved(&add, &done).unwrap();
    assert!(r2.workspace(R).unwrap().owners.contains_key(&name("zed")));
    // The same approvals cannot carry another change.
    let other = Change::SetOwner {
        workspace: R,
        name: name("zed"),
        key: key("eve"),
    };
    assert_eq!(
        r.apply_approved(&other, &done),
        Err(WorkspaceError::RequestMismatch)
    );
    // The admin policy changed in between: the request is stale, although alice and cfo
    // would satisfy the new policy too.
    let swap = Change::SetAdminPolicy {
        workspace: R,
        policy: policy("alice or cfo"),
    };
    let r3 = r.apply(&swap, &set(ADMINS)).unwrap();
    assert_eq!(
        r3.apply_approved(&add, &done),
        Err(WorkspaceError::StalePolicy(Which::Admin))
    );
}

#[test]
fn signature_requests_are_checked_against_the_current_key_policy() {
    let r = registry();
    let e = r.sign_policy(K1).unwrap();
    let subject = Subject::new("testnet", [88; 32], [89; 32], &e.policy).unwrap();
    let req = Request::new(subject.clone(), e.policy, 1_000).unwrap();
    let pending = approve(req.clone(), &subject, &["dave"]);
    assert_eq!(
        r.check_sign_request(K1, &pending),
        Err(WorkspaceError::RequestNotApproved)
    );
    let done = approve(req, &subject, &["dave", "erin"]);
    assert_eq!(r.check_sign_request(K1, &done), Ok(()));
    // K2 has another policy.
    assert!(matches!(
        r.check_sign_request(K2, &done),
        Err(WorkspaceError::StalePolicy(Which::Sign))
    ));
    // K1 gets an override after approval.
    let o = Change::SetKeyPolicy {
        key: K1,
        policy: policy("dave"),
    };
    let r2 = r.apply(&o, &set(ADMINS)).unwrap();
    assert_eq!(
        r2.check_sign_request(K1, &done),
        Err(WorkspaceError::StalePolicy(Which::Key))
    );
}
