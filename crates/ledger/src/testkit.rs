//! A test network: a state with genesis, one keyring, and helpers that sign and apply.

use k256::ecdsa::{RecoveryId, SigningKey};
use tessera_identity::Identity;

use crate::command::{Action, Command, Entry, Hash32, Operator, SignedCommand};
use crate::state::*;

pub(crate) const NET: &str = "testnet";

#[derive(Clone, Copy, Debug)]
pub(crate) enum Who {
    Ledger,
    Owner,
    Op(usize),
    /// A candidate operator for a keyring change, identity seed `40 + i`.
    New(usize),
    Outsider,
}

pub(crate) struct Net {
    pub(crate) state: State,
    pub(crate) ledger: Identity,
    pub(crate) owner: Identity,
    pub(crate) ops: Vec<Identity>,
    pub(crate) outsider: Identity,
    /// Candidate operators for keyring changes (`Who::New`).
    pub(crate) new_ops: Vec<Identity>,
    pub(crate) counter: u64,
    /// `issued_at_ms` of the next command.
    pub(crate) clock: u64,
}

pub(crate) fn id(seed: u8) -> Identity {
    Identity::from_secret_bytes(&[seed; 32])
}

/// The ECDSA key the fake operators "generated".
pub(crate) fn ecdsa_secret() -> SigningKey {
    SigningKey::from_bytes(&[7u8; 32].into()).unwrap()
}

pub(crate) fn compressed_hex(sk: &SigningKey) -> String {
    hex::encode(sk.verifying_key().to_encoded_point(true).as_bytes())
}

/// The public shares (hex SEC1 compressed, `x = i + 1` for operator `i`) of a `t`-of-`n`
/// Shamir sharing of `sk`'s secret whose other coefficients are `seed`, `seed + 1`, …
pub(crate) fn public_shares_of(sk: &SigningKey, t: u16, n: u16, seed: u64) -> Vec<String> {
    use k256::elliptic_curve::sec1::ToEncodedPoint;
    let secret = *sk.as_nonzero_scalar().as_ref();
    (1..=u64::from(n))
        .map(|x| {
            let x = k256::Scalar::from(x);
            let mut y = k256::Scalar::ZERO;
            // Horner, highest coefficient first.
            for k in (1..u64::from(t)).rev() {
                y = (y + k256::Scalar::from(seed + k)) * x;
            }
            y += secret;
            let p = (k256::ProjectivePoint::GENERATOR * y).to_affine();
            hex::encode(p.to_encoded_point(true).as_bytes())
        })
        .collect()
}

pub(crate) fn sign(sk: &SigningKey, digest: &Hash32) -> (Hash32, Hash32, u8) {
    let (sig, rid): (k256::ecdsa::Signature, RecoveryId) =
        sk.sign_prehash_recoverable(&digest.0).unwrap();
    let (r, s) = sig.split_bytes();
    (Hash32(r.into()), Hash32(s.into()), rid.to_byte())
}

impl Net {
    /// Genesis and keyring "ring" with `n` operators, threshold `t`, all in region "local".
    pub(crate) fn new(n: usize, t: u16) -> Net {
        Net::with_regions(n, t, &["local"])
    }

    /// As [`Net::new`], operator `i` in `regions[i % regions.len()]`.
    pub(crate) fn with_regions(n: usize, t: u16, regions: &[&str]) -> Net {
        let mut net = Net {
            state: State::new(NET.into(), id(1).public()),
            ledger: id(1),
            owner: id(2),
            ops: (0..n).map(|i| id(10 + i as u8)).collect(),
            outsider: id(3),
            new_ops: (0..8).map(|i| id(40 + i)).collect(),
            counter: 0,
            clock: 1_000,
        };
        net.ok(
            Who::Ledger,
            Action::Genesis {
                allowlist: vec!["ab".repeat(32)],
                platform_keys: vec![id(4).public()],
            },
        );
        let operators = net
            .ops
            .iter()
            .enumerate()
            .map(|(i, o)| Operator {
                identity: o.public(),
                address: format!("127.0.0.1:{}", 7000 + i),
                region: regions[i % regions.len()].into(),
            })
            .collect();
        net.ok(
            Who::Ledger,
            Action::RegisterKeyring {
                keyring_id: "ring".into(),
                threshold: t,
                operators,
                owners: vec![net.owner.public()],
            },
        );
        net
    }

    pub(crate) fn ident(&self, who: Who) -> &Identity {
        match who {
            Who::Ledger => &self.ledger,
            Who::Owner => &self.owner,
            Who::Op(i) => self.ops.get(i).unwrap_or(&self.outsider),
            Who::New(i) => self.new_ops.get(i).unwrap_or(&self.outsider),
            Who::Outsider => &self.outsider,
        }
    }

    pub(crate) fn command(&mut self, who: Who, action: Action) -> SignedCommand {
        self.counter += 1;
        let mut nonce = [0u8; 16];
        nonce[..8].copy_from_slice(&self.counter.to_be_bytes());
        let cmd = Command {
            network: NET.into(),
            nonce,
            issued_at_ms: self.clock,
            action,
        };
        SignedCommand::sign(self.ident(who), cmd)
    }

    /// Applies the entry for `sc`; on rejection asserts the state did not change.
    pub(crate) fn submit(&mut self, sc: SignedCommand) -> Result<Hash32, Rejection> {
        let entry = self.state.next_entry(sc);
        let before = self.state.clone();
        match self.state.apply(&entry) {
            Ok(()) => Ok(entry.command.id()),
            Err(e) => {
                assert_eq!(self.state, before, "a rejected entry changed the state");
                Err(e)
            }
        }
    }

    /// Applies `action` by `who` and returns its entry.
    #[track_caller]
    pub(crate) fn entry(&mut self, who: Who, action: Action) -> Entry {
        let sc = self.command(who, action);
        let entry = self.state.next_entry(sc);
        if let Err(e) = self.state.apply(&entry) {
            panic!("unexpected rejection: {e}");
        }
        entry
    }

    pub(crate) fn push(&mut self, who: Who, action: Action) -> Result<Hash32, Rejection> {
        let sc = self.command(who, action);
        self.submit(sc)
    }

    #[track_caller]
    pub(crate) fn ok(&mut self, who: Who, action: Action) -> Hash32 {
        match self.push(who, action) {
            Ok(id) => id,
            Err(e) => panic!("unexpected rejection: {e}"),
        }
    }

    #[track_caller]
    pub(crate) fn rejected(&mut self, who: Who, action: Action) -> Rejection {
        match self.push(who, action) {
            Err(e) => e,
            Ok(_) => panic!("expected a rejection"),
        }
    }

    pub(crate) fn n(&self) -> usize {
        self.ops.len()
    }

    /// A key of `key_type` requested by the owner from the keyring "ring".
    #[track_caller]
    pub(crate) fn request_key(&mut self, key_type: &str) -> Hash32 {
        self.ok(
            Who::Owner,
            Action::RequestKey {
                keyring_id: "ring".into(),
                key_type: key_type.into(),
            },
        )
    }

    /// A requested key of `key_type`, keygen started, not yet reported.
    #[track_caller]
    pub(crate) fn generating_key_of(&mut self, key_type: &str) -> Hash32 {
        let key = self.request_key(key_type);
        self.ok(Who::Ledger, Action::StartKeygen { request: key });
        key
    }

    /// A requested ECDSA key, keygen started, not yet reported.
    pub(crate) fn generating_key(&mut self) -> Hash32 {
        self.generating_key_of("ecdsa-secp256k1")
    }

    pub(crate) fn key_generated(&self, key: Hash32) -> Action {
        let ring = self.state.key_keyring(&key);
        let (t, n) = ring.map(|r| (r.threshold, r.n())).unwrap_or((1, 1));
        Action::KeyGenerated {
            request: key,
            public_key: compressed_hex(&ecdsa_secret()),
            chain_code: Hash32([9; 32]),
            public_shares: public_shares_of(&ecdsa_secret(), t, n, 100),
        }
    }

    pub(crate) fn active_key(&mut self) -> Hash32 {
        let key = self.generating_key();
        for i in 0..self.n() {
            let a = self.key_generated(key);
            self.ok(Who::Op(i), a);
        }
        key
    }

    pub(crate) fn presign(&mut self, key: Hash32, signers: &[u16], tag: u8) -> Hash32 {
        let session = Hash32([tag; 32]);
        self.ok(
            Who::Ledger,
            Action::StartPresign {
                key,
                session,
                signers: signers.to_vec(),
            },
        );
        session
    }

    pub(crate) fn ready(&mut self, session: Hash32, signers: &[u16]) {
        for i in signers {
            self.ok(Who::Op(usize::from(*i)), Action::PresignReady { session });
        }
    }

    pub(crate) fn request_signature(
        &mut self,
        key: Hash32,
        digest: Hash32,
        tweak: Option<Hash32>,
    ) -> Hash32 {
        self.ok(
            Who::Owner,
            Action::RequestSignature {
                key,
                digest,
                tweak,
                note: None,
                deadline_ms: None,
            },
        )
    }

    /// Key active, presign 0,1 ready and assigned to a fresh request over `digest`.
    pub(crate) fn signing(&mut self, digest: Hash32, tweak: Option<Hash32>) -> (Hash32, Hash32) {
        let key = self.active_key();
        let p = self.presign(key, &[0, 1], 0x51);
        self.ready(p, &[0, 1]);
        let req = self.request_signature(key, digest, tweak);
        self.ok(
            Who::Ledger,
            Action::StartSign {
                request: req,
                presign: p,
            },
        );
        (key, req)
    }
}

pub(crate) fn done(request: Hash32, sig: (Hash32, Hash32, u8)) -> Action {
    Action::SignatureDone {
        request,
        r: sig.0,
        s: sig.1,
        recovery_id: sig.2,
    }
}
