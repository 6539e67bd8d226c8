//! The presignature: what one signer keeps from presigning for one online signature.

use std::sync::Arc;

use k256::{ProjectivePoint, Scalar};
use tessera_core::point::{WirePoint, WireScalar};
use tessera_core::{PartyIndex, SessionId, SignerSet};
use zeroize::{Zeroize, Zeroizing};

use super::Ctx;
use crate::table::PointTable;

/// A single-use presignature: `R`, this signer's `k_i` and `σ_i`, and every signer's `R̄_j`,
/// `S_j` (for online blame).
///
/// Not `Clone`, not serialisable here: signing consumes it by value, so the type system rules
/// out using one twice in a process. Across restarts the node's sealed store marks it consumed
/// before the signature share leaves (SECURITY-CHECKLIST "Never use a presignature twice").
pub struct Presignature {
    pub(crate) sid: SessionId,
    pub(crate) key_id: SessionId,
    pub(crate) me: PartyIndex,
    pub(crate) signers: SignerSet,
    pub(crate) public_key: ProjectivePoint,
    pub(crate) r: ProjectivePoint,
    pub(crate) k: Zeroizing<Scalar>,
    pub(crate) sigma: Zeroizing<Scalar>,
    pub(crate) r_bars: Vec<(PartyIndex, ProjectivePoint)>,
    pub(crate) s_points: Vec<(PartyIndex, ProjectivePoint)>,
    /// Multiples of `R` and of `Y`, built offline so that the online round's two products by
    /// public scalars (`δ·R`, `(r/s)·Y`) are table lookups (see [`crate::table`]). `None` for
    /// a presignature read back from storage: building a table costs about six plain scalar
    /// multiplications, so on that path online signing multiplies directly instead.
    pub(crate) r_table: Option<PointTable>,
    pub(crate) y_table: Option<Arc<PointTable>>,
}

impl std::fmt::Debug for Presignature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Presignature")
            .field("sid", &self.sid)
            .field("me", &self.me)
            .field("signers", &self.signers.parties())
            .field("k", &"<redacted>")
            .field("sigma", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Presignature {
    pub(crate) fn from_ctx(ctx: Ctx) -> Self {
        Self {
            sid: ctx.sid,
            key_id: ctx.share.key_id,
            me: ctx.me,
            signers: ctx.signers.clone(),
            public_key: ctx.public_key,
            r: ctx.r,
            k: ctx.k.clone(),
            sigma: ctx.sigma.clone(),
            r_bars: ctx.peers.iter().map(|v| (v.party, v.r_bar)).collect(),
            s_points: ctx.peers.iter().map(|v| (v.party, v.s)).collect(),
            r_table: Some(PointTable::new(&ctx.r)),
            y_table: Some(Arc::new(PointTable::new(&ctx.public_key))),
        }
    }

    /// The presigning session this came from.
    pub fn session(&self) -> SessionId {
        self.sid
    }

    /// The key (its keygen session id) this presignature belongs to.
    pub fn key_id(&self) -> SessionId {
        self.key_id
    }

    pub fn signers(&self) -> &SignerSet {
        &self.signers
    }

    pub fn party(&self) -> PartyIndex {
        self.me
    }

    /// The un-randomized nonce point `R` (public).
    pub fn big_r(&self) -> ProjectivePoint {
        self.r
    }

    pub fn public_key(&self) -> ProjectivePoint {
        self.public_key
    }
}

/// Magic and version of the stored presignature record (inside the node's sealed store).
const STORED_MAGIC: &[u8; 4] = b"TPS\x01";
/// Bound on a stored record: a presignature with 64 signers is ~5 KiB.
const MAX_STORED_LEN: usize = 64 << 10;

#[derive(serde::Serialize, serde::Deserialize)]
struct Stored {
    sid: SessionId,
    key_id: SessionId,
    me: PartyIndex,
    signers: Vec<PartyIndex>,
    public_key: WirePoint,
    r: WirePoint,
    k: WireScalar,
    sigma: WireScalar,
    r_bars: Vec<(PartyIndex, WirePoint)>,
    s_points: Vec<(PartyIndex, WirePoint)>,
}

impl Drop for Stored {
    fn drop(&mut self) {
        self.k.0.zeroize();
        self.sigma.0.zeroize();
    }
}

/// Why a stored presignature was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StoredPresignatureError {
    #[error("stored presignature is malformed: {0}")]
    Malformed(String),
    #[error("stored presignature does not belong to this key share: {0}")]
    WrongKey(&'static str),
}

impl Presignature {
    /// The record a node keeps in its sealed store. Consumes the presignature: the only copy
    /// left is the sealed one, which the store deletes (with a durable tombstone) when it hands
    /// the bytes back for signing. The buffer zeroizes on drop.
    pub fn into_sealed_bytes(self) -> Result<Zeroizing<Vec<u8>>, StoredPresignatureError> {
        let stored = Stored {
            sid: self.sid,
            key_id: self.key_id,
            me: self.me,
            signers: self.signers.parties().to_vec(),
            public_key: WirePoint::encode(&self.public_key),
            r: WirePoint::encode(&self.r),
            k: WireScalar::encode(&self.k),
            sigma: WireScalar::encode(&self.sigma),
            r_bars: self
                .r_bars
                .iter()
                .map(|(p, q)| (*p, WirePoint::encode(q)))
                .collect(),
            s_points: self
                .s_points
                .iter()
                .map(|(p, q)| (*p, WirePoint::encode(q)))
                .collect(),
        };
        let mut out = Zeroizing::new(Vec::with_capacity(4096));
        out.extend_from_slice(STORED_MAGIC);
        let body = Zeroizing::new(
            postcard::to_allocvec(&stored)
                .map_err(|e| StoredPresignatureError::Malformed(e.to_string()))?,
        );
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Reads a record written by [`Presignature::into_sealed_bytes`] and checks it against the
    /// key share it will sign with: same key, same party, a valid signer set of that key, and
    /// every point on the curve. The tables of multiples of `R` and `Y` are not rebuilt:
    /// signing from a stored presignature multiplies directly, which costs less online than
    /// building them would.
    pub fn from_sealed_bytes(
        bytes: &[u8],
        share: &tessera_keyshare::KeyShare,
    ) -> Result<Self, StoredPresignatureError> {
        let bad = |m: &str| StoredPresignatureError::Malformed(m.to_string());
        if bytes.len() > MAX_STORED_LEN {
            return Err(bad("record too large"));
        }
        let body = bytes
            .strip_prefix(STORED_MAGIC.as_slice())
            .ok_or_else(|| bad("bad magic or version"))?;
        let (stored, rest): (Stored, &[u8]) = postcard::take_from_bytes(body)
            .map_err(|e| StoredPresignatureError::Malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(bad("trailing bytes"));
        }
        if stored.key_id != share.key_id {
            return Err(StoredPresignatureError::WrongKey("key id"));
        }
        if stored.me != share.index {
            return Err(StoredPresignatureError::WrongKey("party index"));
        }
        if stored.public_key != share.public_key {
            return Err(StoredPresignatureError::WrongKey("public key"));
        }
        let signers = SignerSet::new(stored.signers.clone(), share.threshold, share.n)
            .map_err(|e| StoredPresignatureError::Malformed(e.to_string()))?;
        if !signers.contains(stored.me) {
            return Err(bad("own index is not a signer"));
        }
        let point = |p: &WirePoint| p.decode().ok_or_else(|| bad("point not on the curve"));
        let scalar = |s: &WireScalar| s.decode().ok_or_else(|| bad("scalar out of range"));
        let per_signer = |v: &[(PartyIndex, WirePoint)]| {
            let got: Vec<PartyIndex> = v.iter().map(|(p, _)| *p).collect();
            if got != signers.parties() {
                return Err(bad("per-signer points do not match the signer set"));
            }
            v.iter()
                .map(|(p, q)| Ok((*p, point(q)?)))
                .collect::<Result<Vec<_>, _>>()
        };
        let public_key = point(&stored.public_key)?;
        let r = point(&stored.r)?;
        Ok(Self {
            sid: stored.sid,
            key_id: stored.key_id,
            me: stored.me,
            public_key,
            r,
            k: Zeroizing::new(scalar(&stored.k)?),
            sigma: Zeroizing::new(scalar(&stored.sigma)?),
            r_bars: per_signer(&stored.r_bars)?,
            s_points: per_signer(&stored.s_points)?,
            signers,
            // No tables: they would be built on the online path, where they cost more than
            // the two products they speed up (see the field's documentation).
            r_table: None,
            y_table: None,
        })
    }
}
