#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use k256::elliptic_curve::ops::MulByGenerator as _;
use k256::{ProjectivePoint, Scalar};
use serde::{Deserialize, Serialize};
use tessera_core::point::{WirePoint, WireScalar};
use tessera_core::{PartyIndex, SessionId, SignerSet};
use tessera_paillier::SecretKey as PaillierSecretKey;
use tessera_zk::{RingPedersen, SecurityLevel};
use zeroize::Zeroize;

/// Magic bytes at the start of every stored key share.
pub const MAGIC: &[u8; 4] = b"TSKS";
/// The version this code writes.
pub const CURRENT_VERSION: u16 = 1;
/// No key share of up to 256 parties comes near this.
pub const MAX_ENCODED_LEN: usize = 4 << 20;

/// What every party publishes during key generation and keeps for signing: its Paillier modulus
/// (`aux.n`) and ring-Pedersen parameters.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartyAux {
    pub rp: RingPedersen,
}

/// The stored key share, version 1.
#[derive(Serialize, Deserialize)]
pub struct KeyShare {
    /// The keygen session that created this key; doubles as the key id.
    pub key_id: SessionId,
    pub level: SecurityLevel,
    pub index: PartyIndex,
    pub n: u16,
    /// Signers needed (M of "M-of-N"): the sharing polynomial has degree M − 1.
    pub threshold: u16,
    pub public_key: WirePoint,
    /// `X_j = x_j·G` for every party `j`.
    pub public_shares: Vec<WirePoint>,
    /// Agreed in keygen by commit–reveal (XOR of contributions), for BIP32 derivation.
    pub chain_code: [u8; 32],
    /// The joint random id bound into keygen's proofs.
    pub rid: [u8; 32],
    /// Every party's auxiliary parameters, by index.
    pub aux: Vec<PartyAux>,
    secret_share: WireScalar,
    paillier: PaillierSecretKey,
}

impl std::fmt::Debug for KeyShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeyShare")
            .field("key_id", &self.key_id)
            .field("index", &self.index)
            .field("threshold", &self.threshold)
            .field("n", &self.n)
            .field("public_key", &self.public_key)
            .field("secret_share", &"<redacted>")
            .field("paillier", &"<redacted>")
            .finish_non_exhaustive()
    }
}

impl Drop for KeyShare {
    fn drop(&mut self) {
        self.secret_share.0.zeroize();
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyShareError {
    #[error("not a Tessera key share (bad magic)")]
    Magic,
    #[error("key share version {0} is not supported by this build")]
    Version(u16),
    #[error("key share of {0} bytes exceeds the limit")]
    TooLarge(usize),
    #[error("key share does not decode: {0}")]
    Malformed(String),
    #[error("key share has {0} trailing bytes")]
    TrailingBytes(usize),
    #[error("key share is inconsistent: {0}")]
    Inconsistent(&'static str),
}

impl KeyShare {
    /// Assembles and validates a key share (called by key generation).
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        key_id: SessionId,
        level: SecurityLevel,
        index: PartyIndex,
        threshold: u16,
        public_key: ProjectivePoint,
        public_shares: &[ProjectivePoint],
        chain_code: [u8; 32],
        rid: [u8; 32],
        aux: Vec<PartyAux>,
        secret_share: &Scalar,
        paillier: PaillierSecretKey,
    ) -> Result<Self, KeyShareError> {
        let n = u16::try_from(public_shares.len())
            .map_err(|_| KeyShareError::Inconsistent("too many parties"))?;
        let ks = Self {
            key_id,
            level,
            index,
            n,
            threshold,
            public_key: WirePoint::encode(&public_key),
            public_shares: public_shares.iter().map(WirePoint::encode).collect(),
            chain_code,
            rid,
            aux,
            secret_share: WireScalar::encode(secret_share),
            paillier,
        };
        ks.validate()?;
        Ok(ks)
    }

    /// `x_i`, the secret share.
    pub fn secret_share(&self) -> Result<Scalar, KeyShareError> {
        self.secret_share
            .decode()
            .ok_or(KeyShareError::Inconsistent("secret share is not a scalar"))
    }

    pub fn paillier(&self) -> &PaillierSecretKey {
        &self.paillier
    }

    pub fn public_key_point(&self) -> Result<ProjectivePoint, KeyShareError> {
        self.public_key.decode().ok_or(KeyShareError::Inconsistent(
            "public key is not a valid point",
        ))
    }

    pub fn public_share(&self, p: PartyIndex) -> Result<ProjectivePoint, KeyShareError> {
        self.public_shares
            .get(p.as_usize())
            .and_then(WirePoint::decode)
            .ok_or(KeyShareError::Inconsistent(
                "missing or invalid public share",
            ))
    }

    pub fn aux_of(&self, p: PartyIndex) -> Result<&RingPedersen, KeyShareError> {
        self.aux
            .get(p.as_usize())
            .map(|a| &a.rp)
            .ok_or(KeyShareError::Inconsistent("missing aux"))
    }

    /// Checks every invariant of a share. Run on creation and on every load.
    pub fn validate(&self) -> Result<(), KeyShareError> {
        let n = usize::from(self.n);
        if self.threshold == 0 || self.threshold > self.n {
            return Err(KeyShareError::Inconsistent("threshold outside 1..=n"));
        }
        if self.index.0 >= self.n {
            return Err(KeyShareError::Inconsistent("own index outside 0..n"));
        }
        if self.public_shares.len() != n || self.aux.len() != n {
            return Err(KeyShareError::Inconsistent(
                "public shares or aux have the wrong length",
            ));
        }
        let x = self.secret_share()?;
        let xs: Vec<ProjectivePoint> = (0..self.n)
            .map(|j| self.public_share(PartyIndex(j)))
            .collect::<Result<_, _>>()?;
        let own = xs
            .get(self.index.as_usize())
            .ok_or(KeyShareError::Inconsistent("own public share missing"))?;
        if ProjectivePoint::mul_by_generator(&x) != *own {
            return Err(KeyShareError::Inconsistent(
                "secret share does not match own public share",
            ));
        }
        // Any `threshold` public shares must interpolate to the public key; check the first
        // set and, if there are more parties, the last one too.
        let y = self.public_key_point()?;
        let t = self.threshold;
        for start in [0, self.n - t] {
            let set = SignerSet::new((start..start + t).map(PartyIndex).collect(), t, self.n)
                .map_err(|_| KeyShareError::Inconsistent("bad signer set"))?;
            let mut acc = ProjectivePoint::IDENTITY;
            for &p in set.parties() {
                let l = set
                    .lagrange_at_zero(p)
                    .ok_or(KeyShareError::Inconsistent("lagrange"))?;
                let xp = xs
                    .get(p.as_usize())
                    .ok_or(KeyShareError::Inconsistent("public share missing"))?;
                acc += *xp * l;
            }
            if acc != y {
                return Err(KeyShareError::Inconsistent(
                    "public shares do not interpolate to the public key",
                ));
            }
        }
        let own_aux = self.aux_of(self.index)?;
        if own_aux.n != *self.paillier.public().n() {
            return Err(KeyShareError::Inconsistent(
                "Paillier key does not match the published modulus",
            ));
        }
        for a in &self.aux {
            a.rp.validate(&self.level)
                .map_err(|_| KeyShareError::Inconsistent("a party's aux is below the level"))?;
        }
        Ok(())
    }

    /// The stored encoding.
    pub fn to_bytes(&self) -> Result<Vec<u8>, KeyShareError> {
        let mut out = Vec::with_capacity(8 << 10);
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&CURRENT_VERSION.to_be_bytes());
        let body =
            postcard::to_allocvec(self).map_err(|e| KeyShareError::Malformed(e.to_string()))?;
        out.extend_from_slice(&body);
        Ok(out)
    }

    /// Decodes and validates a stored key share of any supported version.
    pub fn from_bytes(bytes: &[u8]) -> Result<Self, KeyShareError> {
        if bytes.len() > MAX_ENCODED_LEN {
            return Err(KeyShareError::TooLarge(bytes.len()));
        }
        let (magic, rest) = bytes.split_at_checked(4).ok_or(KeyShareError::Magic)?;
        if magic != MAGIC {
            return Err(KeyShareError::Magic);
        }
        let (ver, body) = rest
            .split_at_checked(2)
            .ok_or(KeyShareError::Malformed("truncated version".into()))?;
        let version = u16::from_be_bytes([
            ver.first().copied().unwrap_or_default(),
            ver.get(1).copied().unwrap_or_default(),
        ]);
        match version {
            1 => {
                let (ks, trailing): (KeyShare, &[u8]) = postcard::take_from_bytes(body)
                    .map_err(|e| KeyShareError::Malformed(e.to_string()))?;
                if !trailing.is_empty() {
                    return Err(KeyShareError::TrailingBytes(trailing.len()));
                }
                ks.validate()?;
                Ok(ks)
            }
            v => Err(KeyShareError::Version(v)),
        }
    }
}
