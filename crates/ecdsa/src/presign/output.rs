//! The presignature: what one signer keeps from presigning for one online signature.

use std::sync::Arc;

use k256::{ProjectivePoint, Scalar};
use tessera_core::{PartyIndex, SessionId, SignerSet};
use zeroize::Zeroizing;

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
    /// public scalars (`δ·R`, `(r/s)·Y`) are table lookups (see [`crate::table`]).
    pub(crate) r_table: PointTable,
    pub(crate) y_table: Arc<PointTable>,
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
            r_table: PointTable::new(&ctx.r),
            y_table: Arc::new(PointTable::new(&ctx.public_key)),
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
