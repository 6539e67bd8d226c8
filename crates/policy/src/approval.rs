//! Approvals: an approver's Ed25519 vote on one request, under one policy, on one network.
//!
//! The signed message (under the identity crate's framing, domain [`APPROVAL_DOMAIN`]) is
//!
//! ```text
//! u16 len(network) ‖ network ‖ request_id (32) ‖ request_digest (32) ‖ policy_digest (32) ‖ vote (1)
//! ```
//!
//! with `vote` 1 for approve and 2 for reject. So a signature cannot be replayed on another
//! network, another request, another payload under the same request id, under a policy other
//! than the one the approver saw (a changed group changes the policy digest, see
//! [`crate::resolve`](mod@crate::resolve)), or turned from an approval into a rejection.
//!
//! [`Approval::verify`] yields a [`VerifiedVote`], which only verification can make: the request
//! state machine takes nothing else. [`tally`] verifies a batch and counts each approver once.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_identity::{Identity, IdentityKey, Signature};

use crate::resolve::ResolvedPolicy;

/// Domain of the approval signature.
pub const APPROVAL_DOMAIN: &str = "tessera/policy/approval/v1";
/// Longest network id, in bytes.
pub const MAX_NETWORK_LEN: usize = 256;

/// What an approval is about. Build it with [`Subject::new`] from the policy the node itself
/// resolved, never from a digest someone sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    network: String,
    request_id: [u8; 32],
    request_digest: [u8; 32],
    policy_digest: [u8; 32],
}

/// Why a [`Subject`] cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("network id must be 1 to 256 bytes, got {0}")]
pub struct NetworkIdError(pub usize);

impl Subject {
    /// `request_digest` commits to what will be signed (the transaction digest, or the action
    /// of an admin request); `request_id` names the request on the ledger.
    pub fn new(
        network: &str,
        request_id: [u8; 32],
        request_digest: [u8; 32],
        policy: &ResolvedPolicy,
    ) -> Result<Subject, NetworkIdError> {
        if network.is_empty() || network.len() > MAX_NETWORK_LEN {
            return Err(NetworkIdError(network.len()));
        }
        Ok(Subject {
            network: network.to_string(),
            request_id,
            request_digest,
            policy_digest: policy.digest(),
        })
    }

    pub fn network(&self) -> &str {
        &self.network
    }

    pub fn request_id(&self) -> [u8; 32] {
        self.request_id
    }

    pub fn request_digest(&self) -> [u8; 32] {
        self.request_digest
    }

    pub fn policy_digest(&self) -> [u8; 32] {
        self.policy_digest
    }

    /// The signed bytes for `vote` (see the module docs).
    pub fn message(&self, vote: Vote) -> Vec<u8> {
        let n = self.network.as_bytes();
        let mut v = Vec::with_capacity(2 + n.len() + 97);
        // `new` bounds the length to 256.
        v.extend_from_slice(&(n.len() as u16).to_be_bytes());
        v.extend_from_slice(n);
        v.extend_from_slice(&self.request_id);
        v.extend_from_slice(&self.request_digest);
        v.extend_from_slice(&self.policy_digest);
        v.push(vote.byte());
        v
    }

    /// SHA-256 of everything bound (vote excluded): lets a [`VerifiedVote`] name its subject.
    pub fn id(&self) -> [u8; 32] {
        let mut m = self.message(Vote::Approve);
        m.pop();
        Sha256::digest(&m).into()
    }
}

/// An approver's vote.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Vote {
    Approve,
    Reject,
}

impl Vote {
    fn byte(self) -> u8 {
        match self {
            Vote::Approve => 1,
            Vote::Reject => 2,
        }
    }
}

/// A signed vote as it travels (JSON: keys and signature in hex).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    pub approver: IdentityKey,
    pub vote: Vote,
    pub signature: Signature,
}

/// Why an approval does not count.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApprovalError {
    #[error("the subject was built for another policy than the one given")]
    WrongPolicy,
    #[error("approver {0} is not named by the policy")]
    NotAnApprover(IdentityKey),
    #[error("signature by {0} does not verify for this network, request and policy")]
    BadSignature(IdentityKey),
    #[error("approver {0} already voted on this request; only the first vote counts")]
    Duplicate(IdentityKey),
}

/// A vote whose signature verified for a subject, by an approver the policy names. Only
/// [`Approval::verify`] makes one.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct VerifiedVote {
    approver: IdentityKey,
    vote: Vote,
    subject: [u8; 32],
}

impl VerifiedVote {
    pub fn approver(&self) -> IdentityKey {
        self.approver
    }

    pub fn vote(&self) -> Vote {
        self.vote
    }

    /// [`Subject::id`] of the subject it was verified for.
    pub fn subject_id(&self) -> [u8; 32] {
        self.subject
    }
}

impl Approval {
    pub fn sign(identity: &Identity, subject: &Subject, vote: Vote) -> Approval {
        Approval {
            approver: identity.public(),
            vote,
            signature: identity.sign(APPROVAL_DOMAIN, &subject.message(vote)),
        }
    }

    /// Checks that the policy names the approver and that the signature verifies for
    /// `subject`. `policy` must be the one `subject` was built from.
    pub fn verify(
        &self,
        subject: &Subject,
        policy: &ResolvedPolicy,
    ) -> Result<VerifiedVote, ApprovalError> {
        if subject.policy_digest != policy.digest() {
            return Err(ApprovalError::WrongPolicy);
        }
        if !policy.members().contains(&self.approver) {
            return Err(ApprovalError::NotAnApprover(self.approver));
        }
        self.approver
            .verify(
                APPROVAL_DOMAIN,
                &subject.message(self.vote),
                &self.signature,
            )
            .map_err(|_| ApprovalError::BadSignature(self.approver))?;
        Ok(VerifiedVote {
            approver: self.approver,
            vote: self.vote,
            subject: subject.id(),
        })
    }
}

/// The outcome of verifying a batch of approvals.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Tally {
    /// Each approver's first valid vote, in input order.
    pub votes: Vec<VerifiedVote>,
    /// Who approved (first valid vote).
    pub approvers: BTreeSet<IdentityKey>,
    /// Who rejected (first valid vote).
    pub rejecters: BTreeSet<IdentityKey>,
    /// Each approval that did not count, by its index in the input.
    pub refused: Vec<(usize, ApprovalError)>,
}

/// Verifies `approvals` in order; an approver's first valid vote counts and any later one is
/// refused as [`ApprovalError::Duplicate`]. Invalid approvals do not block a later valid one
/// from the same key (a forger cannot use up someone else's vote).
pub fn tally(subject: &Subject, policy: &ResolvedPolicy, approvals: &[Approval]) -> Tally {
    let mut t = Tally::default();
    for (i, a) in approvals.iter().enumerate() {
        match a.verify(subject, policy) {
            Err(e) => t.refused.push((i, e)),
            Ok(v) => {
                if t.approvers.contains(&v.approver) || t.rejecters.contains(&v.approver) {
                    t.refused.push((i, ApprovalError::Duplicate(v.approver)));
                    continue;
                }
                match v.vote {
                    Vote::Approve => t.approvers.insert(v.approver),
                    Vote::Reject => t.rejecters.insert(v.approver),
                };
                t.votes.push(v);
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::eval::evaluate;
    use crate::resolve::resolve;
    use crate::syntax::Policy;
    use crate::testkit::{id, key, scope};

    fn policy(text: &str) -> ResolvedPolicy {
        let s = scope(&["alice", "bob", "carol"], &[]);
        resolve(&Policy::parse(text).unwrap(), &s).unwrap()
    }

    fn subject(p: &ResolvedPolicy) -> Subject {
        Subject::new("testnet", [1; 32], [2; 32], p).unwrap()
    }

    #[test]
    fn a_valid_approval_verifies() {
        let p = policy("2 of {alice, bob, carol}");
        let s = subject(&p);
        let a = Approval::sign(&id("alice"), &s, Vote::Approve);
        let v = a.verify(&s, &p).unwrap();
        assert_eq!(v.approver(), key("alice"));
        assert_eq!(v.vote(), Vote::Approve);
        assert_eq!(v.subject_id(), s.id());
    }

    #[test]
    fn replays_and_forgeries_are_refused() {
        let p = policy("2 of {alice, bob, carol}");
        let s = subject(&p);
        let a = Approval::sign(&id("alice"), &s, Vote::Approve);
        let bad = |a: &Approval, s: &Subject, p: &ResolvedPolicy| a.verify(s, p).unwrap_err();

        // Wrong signer: bob's signature presented as alice's.
        let mut forged = Approval::sign(&id("bob"), &s, Vote::Approve);
        forged.approver = key("alice");
        assert_eq!(
            bad(&forged, &s, &p),
            ApprovalError::BadSignature(key("alice"))
        );
        // Another request id, another payload, another network.
        let other_id = Subject::new("testnet", [9; 32], [2; 32], &p).unwrap();
        assert_eq!(
            bad(&a, &other_id, &p),
            ApprovalError::BadSignature(key("alice"))
        );
        let other_digest = Subject::new("testnet", [1; 32], [9; 32], &p).unwrap();
        assert_eq!(
            bad(&a, &other_digest, &p),
            ApprovalError::BadSignature(key("alice"))
        );
        let other_net = Subject::new("mainnet", [1; 32], [2; 32], &p).unwrap();
        assert_eq!(
            bad(&a, &other_net, &p),
            ApprovalError::BadSignature(key("alice"))
        );
        // Another policy with the same members.
        let p2 = policy("1 of {alice, bob, carol}");
        let s2 = subject(&p2);
        assert_eq!(bad(&a, &s2, &p2), ApprovalError::BadSignature(key("alice")));
        // A subject built from one policy, checked against another.
        assert_eq!(bad(&a, &s, &p2), ApprovalError::WrongPolicy);
        // An approval turned into a rejection.
        let mut flipped = a.clone();
        flipped.vote = Vote::Reject;
        assert_eq!(
            bad(&flipped, &s, &p),
            ApprovalError::BadSignature(key("alice"))
        );
        // A valid signature by someone the policy does not name.
        let z = Approval::sign(&id("zed"), &s, Vote::Approve);
        assert_eq!(bad(&z, &s, &p), ApprovalError::NotAnApprover(key("zed")));
        // A signature under another domain (a ledger command signature over the same bytes).
        let mut other_domain = a.clone();
        other_domain.signature =
            id("alice").sign("tessera/ledger/command/v1", &s.message(Vote::Approve));
        assert_eq!(
            bad(&other_domain, &s, &p),
            ApprovalError::BadSignature(key("alice"))
        );
        // A corrupted signature.
        let mut corrupt = a.clone();
        corrupt.signature.0[0] ^= 1;
        assert_eq!(
            bad(&corrupt, &s, &p),
            ApprovalError::BadSignature(key("alice"))
        );
    }

    #[test]
    fn duplicates_count_once() {
        let p = policy("2 of {alice, bob, carol}");
        let s = subject(&p);
        let a = Approval::sign(&id("alice"), &s, Vote::Approve);
        let t = tally(&s, &p, &[a.clone(), a.clone(), a]);
        assert_eq!(t.approvers.len(), 1);
        assert_eq!(
            t.refused,
            vec![
                (1, ApprovalError::Duplicate(key("alice"))),
                (2, ApprovalError::Duplicate(key("alice")))
            ]
        );
        assert!(
            !evaluate(&p, &t.approvers).is_approved(),
            "one approver, counted once"
        );
    }

    #[test]
    fn first_valid_vote_wins_and_forgeries_do_not_use_it_up() {
        let p = policy("2 of {alice, bob, carol}");
        let s = subject(&p);
        let mut forged = Approval::sign(&id("bob"), &s, Vote::Reject);
        forged.approver = key("alice");
        let approve = Approval::sign(&id("alice"), &s, Vote::Approve);
        let reject = Approval::sign(&id("alice"), &s, Vote::Reject);
        let bob = Approval::sign(&id("bob"), &s, Vote::Approve);
        let t = tally(&s, &p, &[forged, approve, reject, bob]);
        assert_eq!(
            t.approvers,
            [key("alice"), key("bob")].into_iter().collect()
        );
        assert!(t.rejecters.is_empty());
        assert_eq!(t.votes.len(), 2);
        assert_eq!(
            t.refused,
            vec![
                (0, ApprovalError::BadSignature(key("alice"))),
                (2, ApprovalError::Duplicate(key("alice")))
            ]
        );
        assert!(evaluate(&p, &t.approvers).is_approved());
    }

    #[test]
    fn message_layout_is_pinned() {
        let p = policy("alice");
        let s = Subject::new("tn", [0xaa; 32], [0xbb; 32], &p).unwrap();
        let m = s.message(Vote::Reject);
        assert_eq!(m.len(), 2 + 2 + 96 + 1);
        assert_eq!(&m[..4], b"\x00\x02tn");
        assert_eq!(&m[4..36], &[0xaa; 32]);
        assert_eq!(&m[36..68], &[0xbb; 32]);
        assert_eq!(&m[68..100], &p.digest());
        assert_eq!(m[100], 2);
        assert_eq!(s.message(Vote::Approve)[100], 1);
        assert_eq!(
            Subject::new("", [0; 32], [0; 32], &p),
            Err(NetworkIdError(0))
        );
        assert!(Subject::new(&"n".repeat(257), [0; 32], [0; 32], &p).is_err());
    }

    /// A known-answer vector: alice approves request [1; 32] with digest [2; 32] on
    /// "testnet" under `alice or 1 of {ops}` (ops = {bob}). The signature was computed
    /// independently (Python, `cryptography`) from the documented layout.
    #[test]
    fn known_answer_signature() {
        let s = scope(&["alice", "bob"], &[("ops", &["bob"])]);
        let p = resolve(&Policy::parse("alice or 1 of {ops}").unwrap(), &s).unwrap();
        let subject = Subject::new("testnet", [1; 32], [2; 32], &p).unwrap();
        let a = Approval::sign(&id("alice"), &subject, Vote::Approve);
        assert_eq!(
            hex::encode(a.signature.0),
            "c080fed403dbad17de389fe5183d357345dc4a1b3876e5c8810126e9545c4d5d\
             b90c77e420f66e7ebfcf9a332dd2e09a22c51f8bd15f26f9d88cffa54c3a1e09"
        );
        assert!(a.verify(&subject, &p).is_ok());
    }

    #[test]
    fn approvals_round_trip_as_json() {
        let p = policy("alice");
        let a = Approval::sign(&id("alice"), &subject(&p), Vote::Reject);
        let json = serde_json::to_string(&a).unwrap();
        assert!(json.contains("\"vote\":\"reject\""), "{json}");
        assert_eq!(serde_json::from_str::<Approval>(&json).unwrap(), a);
        let extra = json.replace('}', ",\"x\":1}");
        assert!(serde_json::from_str::<Approval>(&extra).is_err());
    }
}
