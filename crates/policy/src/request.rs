//! The request lifecycle: a pure, total transition function.
//!
//! ```text
//!            approvals satisfy the policy           network reports the signature
//!  Pending ───────────────────────────────▶ Approved ──────────────────────────▶ Signed
//!     │  rejections block the policy ─▶ Rejected { Vetoed { by } }
//!     │  requester withdraws          ─▶ Rejected { Withdrawn }
//!     └  now_ms ≥ deadline_ms         ─▶ Expired { at_ms: deadline_ms }
//! ```
//!
//! Rules:
//! - **Time is an argument.** Every event comes with `now_ms` (the ledger's time for the entry
//!   that carries it). A pending request whose deadline has passed (`now_ms >= deadline_ms`)
//!   expires before the event is looked at, so a vote at or after the deadline never counts.
//!   The deadline bounds the approval phase only: an approved request waits for its signature.
//! - **Votes.** Only a [`VerifiedVote`] for this request's [`Subject`] is accepted (anything else
//!   is [`Ignored::WrongSubject`]). Each approver's first vote stands; a second one, either way,
//!   is [`Ignored::AlreadyVoted`].
//! - **Veto.** A rejection ends the request exactly when the approvers who rejected *block* the
//!   policy: even if everyone else approved, it would not be satisfied ([`blocked_by`]). So in
//!   `cfo and 2 of {a, b, c}` the cfo alone is a veto set, as is any two of a, b, c; in
//!   `2 of {a, b, c}` one rejection is only recorded. No separate veto list is needed: the
//!   veto sets are the policy's blocking sets.
//! - **Final states** (`Signed`, `Rejected`, `Expired`) ignore every event.
//! - Who may withdraw is the ledger's business (the requester's signed command); this module
//!   only records it.
//!
//! [`Request::step`] returns the next request and an [`Outcome`]; it never fails and never
//! panics, so every node that applies the same events in the same order holds the same state.

use std::collections::BTreeSet;

use tessera_identity::IdentityKey;

use crate::approval::{Subject, VerifiedVote, Vote};
use crate::eval::{blocked_by, evaluate, Decision};
use crate::resolve::ResolvedPolicy;
use crate::syntax::Name;

/// Where a request stands.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum State {
    Pending,
    Approved { at_ms: u64 },
    Signed { at_ms: u64, output: [u8; 32] },
    Rejected { at_ms: u64, reason: RejectReason },
    Expired { at_ms: u64 },
}

impl State {
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            State::Signed { .. } | State::Rejected { .. } | State::Expired { .. }
        )
    }
}

/// Why a request was rejected.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RejectReason {
    /// These approvers rejected and, between them, made the policy unsatisfiable.
    Vetoed { by: Vec<Name> },
    /// The requester withdrew it before it was approved.
    Withdrawn,
}

/// Something that happens to a request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    Vote(VerifiedVote),
    /// Time passes (lets a request expire without any other event).
    Tick,
    /// The network produced the signature; `output` is its digest (or the key request's key id).
    Signed {
        output: [u8; 32],
    },
    Withdraw,
}

/// What an event did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// A vote was recorded; the request is still pending.
    Counted,
    /// The request moved to another state because of this event.
    Moved,
    /// The deadline passed: the request is now expired (the event itself was a tick).
    Expired,
    /// A tick with nothing to do.
    Unchanged,
    Ignored(Ignored),
}

/// Why an event was ignored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ignored {
    /// The vote was verified for another request, network or policy.
    WrongSubject,
    /// This approver already voted on this request.
    AlreadyVoted,
    /// The deadline had passed (the request expired as this event arrived).
    AfterDeadline,
    /// Already approved: votes and withdrawal come too late; only the signature is awaited.
    AlreadyApproved,
    /// A signature for a request that is not approved.
    NotApproved,
    /// The request is signed, rejected or expired.
    Final,
}

/// A key or signature request under a policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Request {
    subject: Subject,
    policy: ResolvedPolicy,
    deadline_ms: u64,
    approvals: BTreeSet<IdentityKey>,
    rejections: BTreeSet<IdentityKey>,
    state: State,
}

/// Why a request cannot be opened.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the subject was built for another policy")]
pub struct SubjectMismatch;

impl Request {
    /// A pending request. `subject` must have been built from `policy`.
    pub fn new(
        subject: Subject,
        policy: ResolvedPolicy,
        deadline_ms: u64,
    ) -> Result<Request, SubjectMismatch> {
        if subject.policy_digest() != policy.digest() {
            return Err(SubjectMismatch);
        }
        Ok(Request {
            subject,
            policy,
            deadline_ms,
            approvals: BTreeSet::new(),
            rejections: BTreeSet::new(),
            state: State::Pending,
        })
    }

    pub fn state(&self) -> &State {
        &self.state
    }

    pub fn subject(&self) -> &Subject {
        &self.subject
    }

    pub fn policy(&self) -> &ResolvedPolicy {
        &self.policy
    }

    pub fn deadline_ms(&self) -> u64 {
        self.deadline_ms
    }

    /// Approvers whose approval counted.
    pub fn approvals(&self) -> &BTreeSet<IdentityKey> {
        &self.approvals
    }

    /// Approvers whose rejection counted.
    pub fn rejections(&self) -> &BTreeSet<IdentityKey> {
        &self.rejections
    }

    /// The policy's verdict on the approvals so far (with what is missing).
    pub fn decision(&self) -> Decision {
        evaluate(&self.policy, &self.approvals)
    }

    /// Applies `event` at `now_ms`. Total: defined for every state and event.
    pub fn step(&self, event: &Event, now_ms: u64) -> (Request, Outcome) {
        let mut next = self.clone();
        let outcome = next.apply(event, now_ms);
        (next, outcome)
    }

    fn apply(&mut self, event: &Event, now_ms: u64) -> Outcome {
        if self.state == State::Pending && now_ms >= self.deadline_ms {
            self.state = State::Expired {
                at_ms: self.deadline_ms,
            };
            return match event {
                Event::Tick => Outcome::Expired,
                Event::Vote(_) => Outcome::Ignored(Ignored::AfterDeadline),
                Event::Signed { .. } => Outcome::Ignored(Ignored::NotApproved),
                Event::Withdraw => Outcome::Ignored(Ignored::AfterDeadline),
            };
        }
        match (&self.state, event) {
            (_, Event::Tick) => Outcome::Unchanged,
            (s, _) if s.is_final() => Outcome::Ignored(Ignored::Final),
            (State::Approved { .. }, Event::Signed { output }) => {
                self.state = State::Signed {
                    at_ms: now_ms,
                    output: *output,
                };
                Outcome::Moved
            }
            (State::Approved { .. }, _) => Outcome::Ignored(Ignored::AlreadyApproved),
            (_, Event::Signed { .. }) => Outcome::Ignored(Ignored::NotApproved),
            (_, Event::Withdraw) => {
                self.state = State::Rejected {
                    at_ms: now_ms,
                    reason: RejectReason::Withdrawn,
                };
                Outcome::Moved
            }
            (_, Event::Vote(v)) => self.vote(v, now_ms),
        }
    }

    fn vote(&mut self, v: &VerifiedVote, now_ms: u64) -> Outcome {
        if v.subject_id() != self.subject.id() {
            return Outcome::Ignored(Ignored::WrongSubject);
        }
        let who = v.approver();
        if self.approvals.contains(&who) || self.rejections.contains(&who) {
            return Outcome::Ignored(Ignored::AlreadyVoted);
        }
        match v.vote() {
            Vote::Approve => {
                self.approvals.insert(who);
                if self.decision().is_approved() {
                    self.state = State::Approved { at_ms: now_ms };
                    return Outcome::Moved;
                }
            }
            Vote::Reject => {
                self.rejections.insert(who);
                if blocked_by(&self.policy, &self.rejections) {
                    let mut by: Vec<Name> = self
                        .rejections
                        .iter()
                        .filter_map(|k| self.policy.name_of(k).cloned())
                        .collect();
                    by.sort();
                    self.state = State::Rejected {
                        at_ms: now_ms,
                        reason: RejectReason::Vetoed { by },
                    };
                    return Outcome::Moved;
                }
            }
        }
        Outcome::Counted
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approval::Approval;
    use crate::resolve::resolve;
    use crate::syntax::Policy;
    use crate::testkit::{id, key, scope};

    const DEADLINE: u64 = 1000;
    const EARLY: u64 = 100;

    fn policy() -> ResolvedPolicy {
        let s = scope(&["alice", "bob", "carol", "cfo"], &[]);
        resolve(
            &Policy::parse("cfo and 2 of {alice, bob, carol}").unwrap(),
            &s,
        )
        .unwrap()
    }

    fn subject(p: &ResolvedPolicy, req: u8) -> Subject {
        Subject::new("testnet", [req; 32], [7; 32], p).unwrap()
    }

    fn vote(who: &str, v: Vote, req: u8) -> Event {
        let p = policy();
        let s = subject(&p, req);
        Event::Vote(Approval::sign(&id(who), &s, v).verify(&s, &p).unwrap())
    }

    fn fresh() -> Request {
        let p = policy();
        Request::new(subject(&p, 1), p, DEADLINE).unwrap()
    }

    fn run(r: &Request, events: &[(Event, u64)]) -> Request {
        events.iter().fold(r.clone(), |r, (e, t)| r.step(e, *t).0)
    }

    fn label(s: &State) -> String {
        match s {
            State::Pending => "pending".into(),
            State::Approved { at_ms } => format!("approved@{at_ms}"),
            State::Signed { at_ms, .. } => format!("signed@{at_ms}"),
            State::Rejected {
                at_ms,
                reason: RejectReason::Withdrawn,
            } => format!("withdrawn@{at_ms}"),
            State::Rejected {
                at_ms,
                reason: RejectReason::Vetoed { by },
            } => {
                let by: Vec<&str> = by.iter().map(Name::as_str).collect();
                format!("vetoed({})@{at_ms}", by.join(","))
            }
            State::Expired { at_ms } => format!("expired@{at_ms}"),
        }
    }

    /// Every state × every event, against a table written out by hand.
    #[test]
    fn every_state_and_event() {
        let p0 = fresh();
        let p1 = run(
            &p0,
            &[
                (vote("cfo", Vote::Approve, 1), 10),
                (vote("alice", Vote::Approve, 1), 20),
            ],
        );
        let ap = run(&p1, &[(vote("bob", Vote::Approve, 1), 30)]);
        let si = run(&ap, &[(Event::Signed { output: [5; 32] }, 40)]);
        let re = run(&p0, &[(Event::Withdraw, 50)]);
        let ex = run(&p0, &[(Event::Tick, DEADLINE)]);
        let states = [
            ("P0", &p0),
            ("P1", &p1),
            ("Ap", &ap),
            ("Si", &si),
            ("Re", &re),
            ("Ex", &ex),
        ];
        assert_eq!(label(ap.state()), "approved@30");
        assert_eq!(label(si.state()), "signed@40");

        let events = [
            ("approve bob", vote("bob", Vote::Approve, 1), EARLY),
            ("approve alice", vote("alice", Vote::Approve, 1), EARLY),
            ("reject carol", vote("carol", Vote::Reject, 1), EARLY),
            ("reject cfo", vote("cfo", Vote::Reject, 1), EARLY),
            ("other request", vote("bob", Vote::Approve, 2), EARLY),
            ("tick early", Event::Tick, EARLY),
            ("tick deadline", Event::Tick, DEADLINE),
            ("signed", Event::Signed { output: [6; 32] }, EARLY),
            ("withdraw", Event::Withdraw, EARLY),
            ("late approve", vote("bob", Vote::Approve, 1), DEADLINE + 5),
        ];
        use Ignored::*;
        use Outcome::{Counted, Expired, Moved, Unchanged};
        let ig = Outcome::Ignored;
        #[rustfmt::skip]
        let want: [[(&str, Outcome); 10]; 6] = [
            // P0: nothing yet.
            [("pending", Counted), ("pending", Counted), ("pending", Counted),
             ("vetoed(cfo)@100", Moved), ("pending", ig(WrongSubject)), ("pending", Unchanged),
             ("expired@1000", Expired), ("pending", ig(NotApproved)), ("withdrawn@100", Moved),
             ("expired@1000", ig(AfterDeadline))],
            // P1: cfo and alice approved.
            [("approved@100", Moved), ("pending", ig(AlreadyVoted)), ("pending", Counted),
             ("pending", ig(AlreadyVoted)), ("pending", ig(WrongSubject)), ("pending", Unchanged),
             ("expired@1000", Expired), ("pending", ig(NotApproved)), ("withdrawn@100", Moved),
             ("expired@1000", ig(AfterDeadline))],
            // Ap
            [("approved@30", ig(AlreadyApproved)), ("approved@30", ig(AlreadyApproved)),
             ("approved@30", ig(AlreadyApproved)), ("approved@30", ig(AlreadyApproved)),
             ("approved@30", ig(AlreadyApproved)), ("approved@30", Unchanged),
             ("approved@30", Unchanged), ("signed@100", Moved),
             ("approved@30", ig(AlreadyApproved)), ("approved@30", ig(AlreadyApproved))],
            // Si
            [("signed@40", ig(Final)), ("signed@40", ig(Final)), ("signed@40", ig(Final)),
             ("signed@40", ig(Final)), ("signed@40", ig(Final)), ("signed@40", Unchanged),
             ("signed@40", Unchanged), ("signed@40", ig(Final)), ("signed@40", ig(Final)),
             ("signed@40", ig(Final))],
            // Re
            [("withdrawn@50", ig(Final)), ("withdrawn@50", ig(Final)), ("withdrawn@50", ig(Final)),
             ("withdrawn@50", ig(Final)), ("withdrawn@50", ig(Final)), ("withdrawn@50", Unchanged),
             ("withdrawn@50", Unchanged), ("withdrawn@50", ig(Final)), ("withdrawn@50", ig(Final)),
             ("withdrawn@50", ig(Final))],
            // Ex
            [("expired@1000", ig(Final)), ("expired@1000", ig(Final)), ("expired@1000", ig(Final)),
             ("expired@1000", ig(Final)), ("expired@1000", ig(Final)), ("expired@1000", Unchanged),
             ("expired@1000", Unchanged), ("expired@1000", ig(Final)), ("expired@1000", ig(Final)),
             ("expired@1000", ig(Final))],
        ];
        for ((sname, s), row) in states.iter().zip(want.iter()) {
            for ((ename, e, t), (wstate, wout)) in events.iter().zip(row.iter()) {
                let (next, out) = s.step(e, *t);
                assert_eq!(
                    (label(next.state()).as_str(), &out),
                    (*wstate, wout),
                    "{sname} × {ename}"
                );
                // Ignored events and idle ticks leave the request as it was (a late event
                // finds it expired, which is the deadline's doing, not the event's).
                let idle = out == Outcome::Unchanged || matches!(out, Outcome::Ignored(_));
                if idle && out != Outcome::Ignored(AfterDeadline) {
                    assert_eq!(&next, *s, "{sname} × {ename} must not change the request");
                }
            }
        }
    }

    #[test]
    fn step_is_pure() {
        let r = fresh();
        let e = vote("cfo", Vote::Approve, 1);
        let (a, oa) = r.step(&e, 5);
        let (b, ob) = r.step(&e, 5);
        assert_eq!((a, oa), (b, ob));
        assert_eq!(r, fresh(), "the input is untouched");
    }

    #[test]
    fn rejections_end_the_request_only_when_they_block_the_policy() {
        let r = run(
            &fresh(),
            &[
                (vote("alice", Vote::Reject, 1), 10),
                (vote("cfo", Vote::Approve, 1), 11),
            ],
        );
        assert_eq!(r.state(), &State::Pending);
        assert_eq!(r.rejections().len(), 1);
        let (r2, out) = r.step(&vote("bob", Vote::Reject, 1), 12);
        assert_eq!(out, Outcome::Moved);
        assert_eq!(label(r2.state()), "vetoed(alice,bob)@12");
        // Carol's approval would still have been possible before bob rejected.
        let (r3, _) = r.step(&vote("bob", Vote::Approve, 1), 12);
        let (r3, _) = r3.step(&vote("carol", Vote::Approve, 1), 13);
        assert_eq!(label(r3.state()), "approved@13");
    }

    #[test]
    fn the_deadline_is_exclusive_and_time_is_the_callers() {
        let r = run(
            &fresh(),
            &[
                (vote("cfo", Vote::Approve, 1), 1),
                (vote("alice", Vote::Approve, 1), 2),
            ],
        );
        let (ok, _) = r.step(&vote("bob", Vote::Approve, 1), DEADLINE - 1);
        assert_eq!(label(ok.state()), format!("approved@{}", DEADLINE - 1));
        let (late, out) = r.step(&vote("bob", Vote::Approve, 1), DEADLINE);
        assert_eq!(out, Outcome::Ignored(Ignored::AfterDeadline));
        assert_eq!(label(late.state()), "expired@1000");
        assert!(!late.approvals().contains(&key("bob")));
        // Approved requests do not expire.
        let (still, out) = ok.step(&Event::Tick, u64::MAX);
        assert_eq!((still.state(), out), (ok.state(), Outcome::Unchanged));
    }

    #[test]
    fn a_subject_must_match_its_policy() {
        let p = policy();
        let s = scope(&["alice"], &[]);
        let other = resolve(&Policy::parse("alice").unwrap(), &s).unwrap();
        assert_eq!(
            Request::new(subject(&other, 1), p, DEADLINE),
            Err(SubjectMismatch)
        );
    }

    /// Every order of every combination of votes by four approvers: the request ends approved
    /// exactly when the approvals reach the policy before the rejections block it.
    #[test]
    fn every_vote_sequence_matches_a_reference() {
        let names = ["alice", "bob", "carol", "cfo"];
        // Reference semantics written out for `cfo and 2 of {alice, bob, carol}`.
        let approved =
            |set: &[&str]| set.contains(&"cfo") && set.iter().filter(|n| **n != "cfo").count() >= 2;
        let blocked = |rej: &[&str]| rej.contains(&"cfo") || rej.len() >= 2;
        let votes: Vec<Vec<(Event, &str, bool)>> = names
            .iter()
            .map(|n| {
                vec![
                    (vote(n, Vote::Approve, 1), *n, true),
                    (vote(n, Vote::Reject, 1), *n, false),
                ]
            })
            .collect();
        let mut checked = 0;
        // Each approver: absent, approves or rejects (3^4), in every order (≤ 4!).
        for choice in 0..81u32 {
            let mut cast = Vec::new();
            let mut c = choice;
            for v in &votes {
                match c % 3 {
                    1 => cast.push(&v[0]),
                    2 => cast.push(&v[1]),
                    _ => {}
                }
                c /= 3;
            }
            for order in permutations(cast.len()) {
                let mut r = fresh();
                let (mut yes, mut no) = (Vec::new(), Vec::new());
                let mut want = "pending".to_string();
                for (t, &i) in order.iter().enumerate() {
                    let (e, who, approve) = cast[i];
                    r = r.step(e, t as u64).0;
                    if want == "pending" {
                        if *approve {
                            yes.push(*who);
                            if approved(&yes) {
                                want = format!("approved@{t}");
                            }
                        } else {
                            no.push(*who);
                            if blocked(&no) {
                                no.sort();
                                want = format!("vetoed({})@{t}", no.join(","));
                            }
                        }
                    }
                }
                assert_eq!(label(r.state()), want, "{choice} {order:?}");
                checked += 1;
            }
        }
        assert!(checked > 500, "{checked}");
    }

    fn permutations(n: usize) -> Vec<Vec<usize>> {
        if n == 0 {
            return vec![vec![]];
        }
        let mut out = Vec::new();
        for p in permutations(n - 1) {
            for i in 0..=p.len() {
                let mut q = p.clone();
                q.insert(i, n - 1);
                out.push(q);
            }
        }
        out
    }
}
