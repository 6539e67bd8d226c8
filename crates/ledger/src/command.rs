//! Signed commands and hash-chained log entries: the wire and storage format shared by the
//! ledger and every node.
//!
//! Binary encodings are postcard; the id of a command and the hash of an entry are SHA-256 over
//! those encodings, so both sides must produce identical bytes. JSON (the HTTP API) is the
//! human-readable face of the same types: byte strings are lowercase hex, `Action` is tagged by
//! `"type"`. Postcard cannot decode an internally tagged enum, so `Action` has two serde mirrors
//! (tagged for JSON, plain for postcard) generated from one list of variants.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use tessera_identity::{Identity, IdentityKey, Signature};
use tessera_policy::{Approval, Change};

/// Domain of the Ed25519 signature over `postcard(Command)`.
pub const COMMAND_DOMAIN: &str = "tessera/ledger/command/v1";
/// Prefix of the SHA-256 input that makes an entry's hash.
pub const ENTRY_DOMAIN: &str = "tessera/ledger/entry/v1";
/// Threshold ECDSA on secp256k1 (presignature pool, `RequestSignature`).
pub const KEY_TYPE_ECDSA_SECP256K1: &str = "ecdsa-secp256k1";
/// Threshold Schnorr (FROST) on Ed25519: RFC 8032 signatures (`tessera-schnorr`).
pub const KEY_TYPE_EDDSA_ED25519: &str = "eddsa-ed25519";
/// Threshold Schnorr (FROST) on secp256k1: BIP340 signatures for the BIP341 key-path output
/// key (`tessera-schnorr`).
pub const KEY_TYPE_SCHNORR_BIP340: &str = "schnorr-bip340";

/// 32 bytes: a SHA-256 output or a scalar. Used for command ids (hence request and key ids),
/// session ids, digests and signature halves. Hex in JSON and `Display`; raw bytes in postcard.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Hash32(pub [u8; 32]);

/// A command's id: SHA-256 of `postcard(SignedCommand)`.
pub type CommandId = Hash32;

impl Hash32 {
    pub const ZERO: Hash32 = Hash32([0; 32]);

    /// SHA-256 of `data`.
    pub fn sha256(data: &[u8]) -> Hash32 {
        Hash32(Sha256::digest(data).into())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for Hash32 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hash32({})", hex::encode(self.0))
    }
}

/// Why a hex string is not a [`Hash32`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected 64 hex digits: {0}")]
pub struct ParseHashError(String);

impl FromStr for Hash32 {
    type Err = ParseHashError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let v = hex::decode(s.trim()).map_err(|e| ParseHashError(e.to_string()))?;
        let b: [u8; 32] = v
            .try_into()
            .map_err(|v: Vec<u8>| ParseHashError(format!("got {} bytes", v.len())))?;
        Ok(Hash32(b))
    }
}

impl Serialize for Hash32 {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&self.to_string())
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Hash32 {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            s.parse().map_err(serde::de::Error::custom)
        } else {
            Ok(Hash32(<[u8; 32]>::deserialize(d)?))
        }
    }
}

/// `[u8; 16]` as 32 hex digits in JSON, raw bytes in postcard.
mod hex16 {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(v: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(v))
        } else {
            v.serialize(s)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            let v = hex::decode(s).map_err(serde::de::Error::custom)?;
            v.try_into()
                .map_err(|_| serde::de::Error::custom("nonce must be 16 bytes"))
        } else {
            <[u8; 16]>::deserialize(d)
        }
    }
}

/// A byte string of any length: lowercase hex in JSON, raw bytes in postcard. Size limits are
/// the state rules' (a message to sign is at most [`crate::state::MAX_MESSAGE`] bytes).
#[derive(Clone, PartialEq, Eq, Hash, Default)]
pub struct HexBytes(pub Vec<u8>);

impl fmt::Debug for HexBytes {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HexBytes({})", hex::encode(&self.0))
    }
}

impl Serialize for HexBytes {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            s.serialize_str(&hex::encode(&self.0))
        } else {
            self.0.serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for HexBytes {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            let s = String::deserialize(d)?;
            hex::decode(s)
                .map(HexBytes)
                .map_err(serde::de::Error::custom)
        } else {
            Ok(HexBytes(Vec::<u8>::deserialize(d)?))
        }
    }
}

/// A keyring member: its identity key, where its node listens, and a free-form region label.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Operator {
    pub identity: IdentityKey,
    pub address: String,
    pub region: String,
}

/// Generates `Action` and its two serde mirrors from one variant list.
macro_rules! actions {
    ($(
        $(#[doc = $doc:literal])*
        $variant:ident { $( $(#[doc = $fdoc:literal])* $field:ident : $ty:ty ),* $(,)? }
    ),* $(,)?) => {
        /// What a command asks for. Who may issue each one is enforced by
        /// [`State::apply`](crate::state::State::apply); see the crate README's table.
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub enum Action {
            $( $(#[doc = $doc])* $variant { $( $(#[doc = $fdoc])* $field: $ty ),* } ),*
        }

        impl Action {
            /// The variant's name (`"RequestSignature"`, …), for messages and logs.
            pub fn name(&self) -> &'static str {
                match self { $( Action::$variant { .. } => stringify!($variant) ),* }
            }
        }

        mod action_wire {
            use super::*;

            #[derive(Serialize, Deserialize)]
            #[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
            pub(super) enum Tagged { $( $variant { $( $field: $ty ),* } ),* }

            #[derive(Serialize, Deserialize)]
            pub(super) enum Plain { $( $variant { $( $field: $ty ),* } ),* }

            impl From<Action> for Tagged {
                fn from(a: Action) -> Self {
                    match a { $( Action::$variant { $( $field ),* } => Tagged::$variant { $( $field ),* } ),* }
                }
            }
            impl From<Tagged> for Action {
                fn from(a: Tagged) -> Self {
                    match a { $( Tagged::$variant { $( $field ),* } => Action::$variant { $( $field ),* } ),* }
                }
            }
            impl From<Action> for Plain {
                fn from(a: Action) -> Self {
                    match a { $( Action::$variant { $( $field ),* } => Plain::$variant { $( $field ),* } ),* }
                }
            }
            impl From<Plain> for Action {
                fn from(a: Plain) -> Self {
                    match a { $( Plain::$variant { $( $field ),* } => Action::$variant { $( $field ),* } ),* }
                }
            }
        }
    };
}

actions! {
    /// Ledger key, entry 0 only: the network's measurement allowlist and platform keys.
    Genesis {
        /// Allowed measurements, each 64 lowercase hex digits (SHA-256 of a node binary).
        allowlist: Vec<String>,
        /// Keys that may sign attestation evidence (software backend).
        platform_keys: Vec<IdentityKey>,
    },
    /// Ledger key: a new keyring; operator `i` of the list has index `i` in every session.
    RegisterKeyring {
        keyring_id: String,
        threshold: u16,
        operators: Vec<Operator>,
        owners: Vec<IdentityKey>,
    },
    /// Ledger key: replaces the measurement allowlist.
    SetAllowlist { allowlist: Vec<String> },
    /// Ledger key: all operators of the key's keyring run key generation for `request`.
    /// The session id is this command's id.
    StartKeygen { request: Hash32 },
    /// Ledger key: `signers` (sorted operator indices, `threshold` of them) presign for `key`.
    StartPresign { key: Hash32, session: Hash32, signers: Vec<u16> },
    /// Ledger key: the signature request `request` consumes the ready presign session `presign`.
    StartSign { request: Hash32, presign: Hash32 },
    /// Ledger key: ends a session (keygen, presign) or, given a request id, fails the request.
    AbortSession { session: Hash32, reason: String },
    /// Keyring owner: asks for a new key; this command's id becomes the key id.
    RequestKey { keyring_id: String, key_type: String },
    /// Key owner: asks for a signature over a 32-byte digest; this command's id is the request id.
    RequestSignature {
        key: Hash32,
        digest: Hash32,
        /// BIP32 additive tweak: the signature is under `public_key + tweak·G`.
        tweak: Option<Hash32>,
        note: Option<String>,
        /// Approval deadline, ms since the epoch, if the key is in a workspace; `None`: the
        /// default, `issued_at_ms` + 24 h. Allowed: at least 1 minute and at most 30 days
        /// after `issued_at_ms`; refused on a key in no workspace (nothing to approve).
        deadline_ms: Option<u64>,
    },
    /// Keyring operator: the result of key generation for `request` as this operator sees it.
    KeyGenerated {
        request: Hash32,
        /// The key type's encoding, hex: for `ecdsa-secp256k1` the 33-byte SEC1 compressed
        /// point, for `eddsa-ed25519` the 32-byte Ed25519 key, for `schnorr-bip340` the 32-byte
        /// x-only BIP341 output key.
        public_key: String,
        /// BIP32 chain code (ECDSA keys); all zeros for Schnorr keys, which have none.
        chain_code: Hash32,
        /// Every operator's public share of the key (`x_i·G`), hex SEC1 compressed (33 bytes),
        /// by operator index: exactly `n` for `ecdsa-secp256k1`, empty for Schnorr keys.
        public_shares: Vec<String>,
    },
    /// Presign session member: its presignature for `session` is stored.
    PresignReady { session: Hash32 },
    /// Signing session member: the final signature for `request`. ECDSA: big-endian r and s
    /// and the recovery id. Schnorr (a `RequestSchnorrSignature`): the 64-byte signature split
    /// in halves, `r` = its first 32 bytes (`R` for Ed25519, `x(R)` for BIP340), `s` = the last
    /// 32, and `recovery_id` 0.
    SignatureDone { request: Hash32, r: Hash32, s: Hash32, recovery_id: u8 },
    /// Session member: the session failed; `blamed` operator indices, the failed `check` tag.
    SessionFailed { session: Hash32, blamed: Vec<u16>, check: String },
    /// A keyring owner: proposes a change to the workspace registry; this command's id is the
    /// admin request id. Creating a root workspace applies at once (no policy governs it yet);
    /// every other change waits for approvals under the policy it requires
    /// ([`tessera_policy::Registry::required_policy`]). `AddKey` puts an existing key (of a
    /// keyring the proposer owns) under the workspace's sign policy.
    ProposeChange {
        change: Change,
        /// Approval deadline, ms since the epoch; `None`: the default, `issued_at_ms` + 24 h.
        /// Allowed: at least 1 minute and at most 30 days after `issued_at_ms`; refused on a
        /// change that applies at once (a root workspace).
        deadline_ms: Option<u64>,
    },
    /// An approver: a vote on a pending admin request or signature request. The state builds
    /// the subject (network, request id, request digest, policy digest) itself and verifies the
    /// vote against it.
    Approve { request: Hash32, approval: Approval },
    /// Ledger key: a pending request whose approval deadline has passed expires.
    ExpireRequest { request: Hash32 },
    /// Key owner: asks for a threshold Schnorr (FROST) signature over `message` with an
    /// `eddsa-ed25519` key (any message up to the size limit, e.g. a Solana transaction
    /// message) or a `schnorr-bip340` key (a 32-byte message, e.g. a BIP341 sighash); this
    /// command's id is the request id.
    RequestSchnorrSignature {
        key: Hash32,
        message: HexBytes,
        note: Option<String>,
        /// Approval deadline, ms since the epoch, if the key is in a workspace; `None`: the
        /// default, `issued_at_ms` + 24 h. Allowed: at least 1 minute and at most 30 days
        /// after `issued_at_ms`; refused on a key in no workspace (nothing to approve).
        deadline_ms: Option<u64>,
    },
    /// Ledger key: `signers` (sorted operator indices, `threshold` of them) run FROST's two
    /// signing rounds for the Schnorr signature request `request`. The session id is this
    /// command's id. There is no pool: FROST's nonces are made in its first round.
    StartSchnorrSign { request: Hash32, signers: Vec<u16> },
    /// Keyring owner: asks for a refresh of a Schnorr key: every operator gets a new share of
    /// the same key, and old shares no longer combine with new ones. This command's id is the
    /// refresh request id.
    RequestRefresh { key: Hash32 },
    /// Ledger key: all operators of the key's keyring run the refresh `request`. The session
    /// id is this command's id.
    StartRefresh { request: Hash32 },
    /// Keyring operator: its new share from refresh `request` is stored, for the key
    /// `public_key` (which a refresh keeps). The key switches to the new shares when all `n`
    /// operators posted.
    RefreshDone { request: Hash32, public_key: String },
    /// Ledger key: every signing set of the keyring (presign, FROST signing) must include
    /// operators from at least `min_regions` distinct regions (the operators' `region` tags).
    SetSignerRegions { keyring_id: String, min_regions: u16 },
    /// Keyring owner: replaces keyring `keyring_id`'s committee with `operators` and
    /// `threshold` by resharing every key of the keyring to it (same public keys). This
    /// command's id is the change id.
    ChangeKeyring {
        keyring_id: String,
        threshold: u16,
        operators: Vec<Operator>,
    },
    /// Ledger key: the old operators `dealers` (sorted, distinct indices into the keyring's
    /// current operators, exactly the keyring's current threshold of them) reshare `key` to
    /// the committee of change `change`. The session id is this command's id.
    StartReshare {
        change: Hash32,
        key: Hash32,
        dealers: Vec<u16>,
    },
    /// Operator of the change's new committee: its new share of the session's key is stored.
    /// `public_shares`: the new committee's public key shares, hex SEC1-compressed (33 bytes),
    /// by new index.
    ReshareDone {
        session: Hash32,
        public_shares: Vec<String>,
    },
}

impl Serialize for Action {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            action_wire::Tagged::from(self.clone()).serialize(s)
        } else {
            action_wire::Plain::from(self.clone()).serialize(s)
        }
    }
}

impl<'de> Deserialize<'de> for Action {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        if d.is_human_readable() {
            Ok(action_wire::Tagged::deserialize(d)?.into())
        } else {
            Ok(action_wire::Plain::deserialize(d)?.into())
        }
    }
}

/// What a signer asks the network to do.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Command {
    /// Network id; commands for another network are rejected.
    pub network: String,
    /// Random, so that identical actions make distinct commands; a (signer, nonce) pair is
    /// accepted once.
    #[serde(with = "hex16")]
    pub nonce: [u8; 16],
    /// The signer's clock. Informational for the state rules; the ledger may refuse stale
    /// submissions.
    pub issued_at_ms: u64,
    pub action: Action,
}

impl Command {
    /// A command with a fresh random nonce.
    pub fn new(
        network: impl Into<String>,
        action: Action,
        issued_at_ms: u64,
        rng: &mut impl rand_core::CryptoRngCore,
    ) -> Command {
        let mut nonce = [0u8; 16];
        rng.fill_bytes(&mut nonce);
        Command {
            network: network.into(),
            nonce,
            issued_at_ms,
            action,
        }
    }

    /// The bytes that are signed.
    pub fn signed_bytes(&self) -> Option<Vec<u8>> {
        postcard::to_allocvec(self).ok()
    }
}

/// A command with its signer's Ed25519 signature over `postcard(command)` under
/// [`COMMAND_DOMAIN`].
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SignedCommand {
    pub command: Command,
    pub signer: IdentityKey,
    pub signature: Signature,
}

/// Why a signed command or entry does not verify.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VerifyError {
    #[error("command does not encode")]
    Encoding,
    #[error("signature does not verify under the signer's key")]
    BadSignature,
}

impl SignedCommand {
    pub fn sign(identity: &Identity, command: Command) -> SignedCommand {
        // Encoding these types cannot fail (every sequence has a known length); if it ever did,
        // the signature over the empty string is refused by `verify`, which re-encodes.
        let bytes = command.signed_bytes().unwrap_or_default();
        SignedCommand {
            signature: identity.sign(COMMAND_DOMAIN, &bytes),
            signer: identity.public(),
            command,
        }
    }

    pub fn verify(&self) -> Result<(), VerifyError> {
        let bytes = self.command.signed_bytes().ok_or(VerifyError::Encoding)?;
        self.signer
            .verify(COMMAND_DOMAIN, &bytes, &self.signature)
            .map_err(|_| VerifyError::BadSignature)
    }

    /// SHA-256 of `postcard(self)`: the command id, and the id of the key, request or session
    /// the command creates.
    pub fn id(&self) -> CommandId {
        Hash32::sha256(&postcard::to_allocvec(self).unwrap_or_default())
    }
}

/// One log entry. `hash = SHA-256(ENTRY_DOMAIN ‖ prev ‖ seq as u64 BE ‖ postcard(command))`;
/// entry 0 has `prev` all zeros.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Entry {
    pub seq: u64,
    pub prev: Hash32,
    pub command: SignedCommand,
    pub hash: Hash32,
}

/// Why an entry does not extend the chain.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    #[error("entry has seq {got}, expected {expected}")]
    Seq { expected: u64, got: u64 },
    #[error("entry {seq} links to {got}, but the previous entry's hash is {expected}")]
    Prev {
        seq: u64,
        expected: Hash32,
        got: Hash32,
    },
    #[error("entry {seq} claims hash {claimed}, but its contents hash to {actual}")]
    Hash {
        seq: u64,
        claimed: Hash32,
        actual: Hash32,
    },
}

impl Entry {
    /// The entry at `seq` after an entry with hash `prev`.
    pub fn new(seq: u64, prev: Hash32, command: SignedCommand) -> Entry {
        let hash = Entry::compute_hash(seq, &prev, &command);
        Entry {
            seq,
            prev,
            command,
            hash,
        }
    }

    pub fn compute_hash(seq: u64, prev: &Hash32, command: &SignedCommand) -> Hash32 {
        let mut h = Sha256::new();
        h.update(ENTRY_DOMAIN.as_bytes());
        h.update(prev.0);
        h.update(seq.to_be_bytes());
        h.update(postcard::to_allocvec(command).unwrap_or_default());
        Hash32(h.finalize().into())
    }

    /// The postcard encoding (the ledger's storage format).
    pub fn to_bytes(&self) -> Option<Vec<u8>> {
        postcard::to_allocvec(self).ok()
    }

    /// Decodes the postcard encoding, refusing trailing bytes.
    pub fn from_bytes(bytes: &[u8]) -> Result<Entry, postcard::Error> {
        let (entry, rest) = postcard::take_from_bytes::<Entry>(bytes)?;
        if !rest.is_empty() {
            return Err(postcard::Error::DeserializeBadEncoding);
        }
        Ok(entry)
    }
}

/// Checks that `entry` is entry number `expected_seq`, follows the entry whose hash is
/// `prev_hash` (zeros for entry 0) and carries its own correct hash. The command's signature is
/// checked separately ([`SignedCommand::verify`]).
pub fn verify_link(prev_hash: &Hash32, expected_seq: u64, entry: &Entry) -> Result<(), LinkError> {
    if entry.seq != expected_seq {
        return Err(LinkError::Seq {
            expected: expected_seq,
            got: entry.seq,
        });
    }
    if entry.prev != *prev_hash {
        return Err(LinkError::Prev {
            seq: entry.seq,
            expected: *prev_hash,
            got: entry.prev,
        });
    }
    let actual = Entry::compute_hash(entry.seq, &entry.prev, &entry.command);
    if actual != entry.hash {
        return Err(LinkError::Hash {
            seq: entry.seq,
            claimed: entry.hash,
            actual,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SignedCommand {
        let id = Identity::from_secret_bytes(&[1; 32]);
        let cmd = Command {
            network: "testnet".into(),
            nonce: [9; 16],
            issued_at_ms: 1_700_000_000_000,
            action: Action::RequestSignature {
                key: Hash32([2; 32]),
                digest: Hash32([3; 32]),
                tweak: None,
                note: Some("hi".into()),
                deadline_ms: None,
            },
        };
        SignedCommand::sign(&id, cmd)
    }

    #[test]
    fn json_is_tagged_hex_and_round_trips() -> Result<(), Box<dyn std::error::Error>> {
        let sc = sample();
        let json = serde_json::to_value(&sc)?;
        assert_eq!(json["command"]["action"]["type"], "request_signature");
        assert_eq!(json["command"]["action"]["key"], "02".repeat(32));
        assert_eq!(json["command"]["nonce"], "09".repeat(16));
        assert!(json["command"]["action"]["tweak"].is_null());
        let back: SignedCommand = serde_json::from_value(json)?;
        assert_eq!(back, sc);
        assert!(back.verify().is_ok());
        Ok(())
    }

    #[test]
    fn json_rejects_unknown_fields_and_types() {
        let sc = sample();
        let mut json = serde_json::to_value(&sc).unwrap_or_default();
        json["command"]["action"]["extra"] = serde_json::json!(1);
        assert!(serde_json::from_value::<SignedCommand>(json.clone()).is_err());
        json["command"]["action"] = serde_json::json!({"type": "launch_missiles"});
        assert!(serde_json::from_value::<SignedCommand>(json).is_err());
    }

    #[test]
    fn postcard_round_trips_and_refuses_trailing_bytes() -> Result<(), Box<dyn std::error::Error>> {
        let e = Entry::new(0, Hash32::ZERO, sample());
        let bytes = e.to_bytes().ok_or("encode")?;
        assert_eq!(Entry::from_bytes(&bytes)?, e);
        let mut longer = bytes.clone();
        longer.push(0);
        assert!(Entry::from_bytes(&longer).is_err());
        Ok(())
    }

    #[test]
    fn tampering_breaks_the_signature_and_changes_the_id() {
        let sc = sample();
        let mut t = sc.clone();
        t.command.issued_at_ms += 1;
        assert!(t.verify().is_err());
        assert_ne!(t.id(), sc.id());
    }

    #[test]
    fn links_are_checked() {
        let e0 = Entry::new(0, Hash32::ZERO, sample());
        let e1 = Entry::new(1, e0.hash, sample());
        assert!(verify_link(&Hash32::ZERO, 0, &e0).is_ok());
        assert!(verify_link(&e0.hash, 1, &e1).is_ok());
        assert!(matches!(
            verify_link(&e0.hash, 2, &e1),
            Err(LinkError::Seq { .. })
        ));
        assert!(matches!(
            verify_link(&Hash32([5; 32]), 1, &e1),
            Err(LinkError::Prev { .. })
        ));
        let mut forged = e1.clone();
        forged.command.command.issued_at_ms = 0;
        assert!(matches!(
            verify_link(&e0.hash, 1, &forged),
            Err(LinkError::Hash { .. })
        ));
    }

    #[test]
    fn hash_display_is_64_hex() {
        let h = Hash32([0xab; 32]);
        assert_eq!(h.to_string(), "ab".repeat(32));
        assert_eq!(h.to_string().parse::<Hash32>().ok(), Some(h));
        assert!("ab".parse::<Hash32>().is_err());
    }
}
