//! A party's threshold Schnorr key share and its stored format.
//!
//! Stored layout (sealed by the node's store): `version (1) ‖ suite tag (1) ‖ postcard(Stored)`,
//! where `Stored` holds frost's own serialisations of the `KeyPackage` and `PublicKeyPackage`
//! (each with frost's header naming the ciphersuite). Decoding rejects unknown versions, other
//! suites, trailing bytes, and any share whose parts disagree: identifiers must derive from the
//! stored session and parties, the verifying share must be `s_i·G` and match the public
//! package, the thresholds must agree and the group key must be the output key of the stored
//! internal key.

use std::collections::BTreeMap;

use frost_core::keys::{KeyPackage, PublicKeyPackage, VerifyingShare};
use frost_core::{Identifier, VerifyingKey};
use serde::{Deserialize, Serialize};
use tessera_core::{PartyIndex, ProtocolError, SessionId};
use zeroize::{Zeroize, Zeroizing};

use crate::common::identifiers;
use crate::Suite;

/// The stored format's version.
pub const SHARE_VERSION: u8 = 1;

/// Largest stored share accepted (1024 parties' verifying shares fit easily).
pub const MAX_SHARE_LEN: usize = 128 << 10;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ShareError {
    #[error("stored share of {0} bytes is too large")]
    TooLarge(usize),
    #[error("unsupported stored share version {0}")]
    Version(u8),
    #[error("stored share is for suite {got}, expected {want}")]
    Suite { got: u8, want: u8 },
    #[error("stored share does not decode: {0}")]
    Malformed(String),
    #[error("stored share is inconsistent: {0}")]
    Inconsistent(String),
}

/// One party's share of a threshold Schnorr key. Not `Clone`: signing borrows it.
pub struct KeyShare<C: Suite> {
    pub(crate) sid: SessionId,
    pub(crate) me: PartyIndex,
    pub(crate) parties: Vec<PartyIndex>,
    pub(crate) threshold: u16,
    /// `(party, identifier)` for every keygen party, derived from `sid`.
    pub(crate) ids: Vec<(PartyIndex, Identifier<C>)>,
    /// Holds the secret share; frost zeroizes it on drop.
    pub(crate) key: KeyPackage<C>,
    pub(crate) public: PublicKeyPackage<C>,
    pub(crate) internal_key: VerifyingKey<C>,
}

impl<C: Suite> std::fmt::Debug for KeyShare<C> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "KeyShare<{}>(party {}, {}-of-{}, <redacted>)",
            C::KEY_TYPE,
            self.me,
            self.threshold,
            self.parties.len()
        )
    }
}

#[derive(Serialize, Deserialize)]
struct Stored {
    sid: SessionId,
    me: PartyIndex,
    parties: Vec<PartyIndex>,
    threshold: u16,
    key_package: Vec<u8>,
    public_package: Vec<u8>,
    internal_key: Vec<u8>,
}

impl<C: Suite> KeyShare<C> {
    /// Assembles and checks a share (the DKG's and refresh's output, and the decoder).
    pub(crate) fn new(
        sid: SessionId,
        me: PartyIndex,
        parties: Vec<PartyIndex>,
        threshold: u16,
        key: KeyPackage<C>,
        public: PublicKeyPackage<C>,
        internal_key: VerifyingKey<C>,
    ) -> Result<Self, String> {
        let ids = identifiers::<C>(&sid, &parties).map_err(|e| e.to_string())?;
        let share = Self {
            sid,
            me,
            parties,
            threshold,
            ids,
            key,
            public,
            internal_key,
        };
        share.check()?;
        Ok(share)
    }

    fn check(&self) -> Result<(), String> {
        crate::common::check_parties(&self.parties, self.me, usize::from(self.threshold))
            .map_err(|e| e.to_string())?;
        if self.threshold < 2 {
            return Err("threshold below 2".into());
        }
        let own = self
            .ids
            .iter()
            .find(|(p, _)| *p == self.me)
            .map(|(_, id)| *id)
            .ok_or("own identifier missing")?;
        if *self.key.identifier() != own {
            return Err("key package identifier does not derive from the session".into());
        }
        if *self.key.min_signers() != self.threshold
            || self.public.min_signers() != Some(self.threshold)
        {
            return Err("threshold disagrees with the packages".into());
        }
        if self.key.verifying_key() != self.public.verifying_key() {
            return Err("key package and public package name different group keys".into());
        }
        if C::canonical_internal_key(&self.internal_key) != self.internal_key {
            return Err("internal key is not in its canonical (even-y) form".into());
        }
        if *self.public.verifying_key() != C::output_key(&self.internal_key) {
            return Err("group key is not the output key of the internal key".into());
        }
        let derived = VerifyingShare::<C>::from(*self.key.signing_share());
        if derived != *self.key.verifying_share() {
            return Err("verifying share is not s_i·G".into());
        }
        let shares = self.public.verifying_shares();
        if shares.len() != self.ids.len() || self.ids.iter().any(|(_, id)| !shares.contains_key(id))
        {
            return Err("public package's parties differ from the share's".into());
        }
        if shares.get(&own) != Some(&derived) {
            return Err("public package disagrees with own verifying share".into());
        }
        self.check_on_one_polynomial()
    }

    /// The verifying shares lie on one polynomial of degree `t − 1` in the exponent whose value
    /// at zero is the group key: interpolating from the first `t` shares reproduces every other
    /// share and the key. (Catches a changed verifying share of another party, which nothing
    /// else in the share could.)
    fn check_on_one_polynomial(&self) -> Result<(), String> {
        use frost_core::{compute_lagrange_coefficient, Group};
        let shares = self.public.verifying_shares();
        let basis: std::collections::BTreeSet<Identifier<C>> = shares
            .keys()
            .take(usize::from(self.threshold))
            .copied()
            .collect();
        let at = |x: Option<Identifier<C>>| -> Result<<C::Group as Group>::Element, String> {
            let mut acc = C::Group::identity();
            for id in &basis {
                let lambda = compute_lagrange_coefficient(&basis, x, *id)
                    .map_err(|e| format!("interpolation: {e}"))?;
                let y = shares.get(id).ok_or("basis share missing")?;
                acc = acc + y.to_element() * lambda;
            }
            Ok(acc)
        };
        if at(None)? != self.public.verifying_key().to_element() {
            return Err("verifying shares do not interpolate to the group key".into());
        }
        for (id, y) in shares.iter().skip(basis.len()) {
            if at(Some(*id))? != y.to_element() {
                return Err("verifying shares are not on one polynomial".into());
            }
        }
        Ok(())
    }

    pub fn me(&self) -> PartyIndex {
        self.me
    }

    pub fn parties(&self) -> &[PartyIndex] {
        &self.parties
    }

    pub fn threshold(&self) -> u16 {
        self.threshold
    }

    /// The keygen session id (the identifiers derive from it).
    pub fn key_sid(&self) -> SessionId {
        self.sid
    }

    /// The group key frost signs for (for BIP340 the BIP341 output key).
    pub fn verifying_key(&self) -> &VerifyingKey<C> {
        self.public.verifying_key()
    }

    /// The group key as the chain sees it (see [`Suite::public_key_bytes`]).
    pub fn public_key_bytes(&self) -> Result<Vec<u8>, ProtocolError> {
        C::public_key_bytes(self.public.verifying_key())
    }

    /// The untweaked DKG key `P` (equal to the group key for Ed25519).
    pub fn internal_key(&self) -> &VerifyingKey<C> {
        &self.internal_key
    }

    pub fn public_package(&self) -> &PublicKeyPackage<C> {
        &self.public
    }

    pub(crate) fn id_of(&self, p: PartyIndex) -> Option<Identifier<C>> {
        self.ids.iter().find(|(q, _)| *q == p).map(|(_, id)| *id)
    }

    /// The public verifying shares by party.
    pub fn verifying_shares(&self) -> BTreeMap<PartyIndex, VerifyingShare<C>> {
        self.ids
            .iter()
            .filter_map(|(p, id)| self.public.verifying_shares().get(id).map(|v| (*p, *v)))
            .collect()
    }

    /// The sealed-store encoding (contains the secret share: seal it, never log it).
    pub fn to_bytes(&self) -> Result<Zeroizing<Vec<u8>>, ProtocolError> {
        let mut stored = Stored {
            sid: self.sid,
            me: self.me,
            parties: self.parties.clone(),
            threshold: self.threshold,
            key_package: self
                .key
                .serialize()
                .map_err(|e| crate::common::bug("key package", e))?,
            public_package: self
                .public
                .serialize()
                .map_err(|e| crate::common::bug("public package", e))?,
            internal_key: self
                .internal_key
                .serialize()
                .map_err(|e| crate::common::bug("internal key", e))?,
        };
        let body = postcard::to_allocvec(&stored);
        stored.key_package.zeroize();
        let body =
            Zeroizing::new(body.map_err(|e| ProtocolError::Bug(format!("share encoding: {e}")))?);
        let mut out = Zeroizing::new(Vec::with_capacity(body.len() + 2));
        out.push(SHARE_VERSION);
        out.push(C::STORAGE_TAG);
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decodes and checks a stored share.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, ShareError> {
        if bytes.len() > MAX_SHARE_LEN {
            return Err(ShareError::TooLarge(bytes.len()));
        }
        let (&version, rest) = bytes
            .split_first()
            .ok_or_else(|| ShareError::Malformed("empty".into()))?;
        if version != SHARE_VERSION {
            return Err(ShareError::Version(version));
        }
        let (&tag, body) = rest
            .split_first()
            .ok_or_else(|| ShareError::Malformed("no suite tag".into()))?;
        if tag != C::STORAGE_TAG {
            return Err(ShareError::Suite {
                got: tag,
                want: C::STORAGE_TAG,
            });
        }
        let (stored, trailing): (Stored, &[u8]) =
            postcard::take_from_bytes(body).map_err(|e| ShareError::Malformed(e.to_string()))?;
        if !trailing.is_empty() {
            return Err(ShareError::Malformed(format!(
                "{} trailing bytes",
                trailing.len()
            )));
        }
        let Stored {
            sid,
            me,
            parties,
            threshold,
            key_package,
            public_package,
            internal_key,
        } = stored;
        let key_package = Zeroizing::new(key_package);
        let key = KeyPackage::<C>::deserialize(&key_package)
            .map_err(|e| ShareError::Malformed(format!("key package: {e}")))?;
        let public = PublicKeyPackage::<C>::deserialize(&public_package)
            .map_err(|e| ShareError::Malformed(format!("public package: {e}")))?;
        let internal_key = VerifyingKey::<C>::deserialize(&internal_key)
            .map_err(|e| ShareError::Malformed(format!("internal key: {e}")))?;
        Self::new(sid, me, parties, threshold, key, public, internal_key)
            .map_err(ShareError::Inconsistent)
    }
}
