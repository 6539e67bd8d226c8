//! The network's ECDSA output and the chains' rule that `s` is low.
//!
//! Threshold ECDSA may return either of `(r, s)` and `(r, n − s)`; Ethereum (EIP-2) and Bitcoin
//! (BIP62/BIP146 standardness) accept only the low one. Replacing `s` by `n − s` negates the
//! nonce point, so its y parity (bit 0 of the recovery id) flips too.

use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};

use crate::Error;

/// A secp256k1 ECDSA signature as the network returns it (`s` may be high).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EcdsaSignature {
    pub r: [u8; 32],
    pub s: [u8; 32],
    /// Bit 0: y parity of the nonce point; bit 1: its x exceeded the group order.
    pub recovery_id: u8,
}

impl EcdsaSignature {
    /// The low-s form with its recovery id adjusted, checked to verify over `digest` under
    /// `key` and to recover `key` with that recovery id.
    pub(crate) fn normalize(
        &self,
        digest: &[u8; 32],
        key: &VerifyingKey,
    ) -> Result<(Signature, RecoveryId), Error> {
        let sig = Signature::from_scalars(self.r, self.s)
            .map_err(|_| Error::Signature("r or s is zero or not below the group order".into()))?;
        let recid = RecoveryId::from_byte(self.recovery_id)
            .ok_or_else(|| Error::Signature(format!("recovery id {} > 3", self.recovery_id)))?;
        let (sig, recid) = match sig.normalize_s() {
            Some(low) => (
                low,
                RecoveryId::new(!recid.is_y_odd(), recid.is_x_reduced()),
            ),
            None => (sig, recid),
        };
        let recovered = VerifyingKey::recover_from_prehash(digest, &sig, recid)
            .map_err(|_| Error::Signature("does not verify over the digest".into()))?;
        if &recovered != key {
            return Err(Error::Signature(
                "does not verify under the key with its recovery id".into(),
            ));
        }
        Ok((sig, recid))
    }
}

pub(crate) fn verifying_key(sec1: &[u8]) -> Result<VerifyingKey, Error> {
    // Only 02/03: k256 would also take the 33-byte "compact" form (tag 05), which no chain uses.
    if sec1.len() != 33 || !matches!(sec1.first(), Some(2 | 3)) {
        return Err(Error::PublicKey(format!(
            "expected 33 bytes of compressed SEC1 (02/03 prefix), got {} bytes",
            sec1.len()
        )));
    }
    VerifyingKey::from_sec1_bytes(sec1)
        .map_err(|_| Error::PublicKey("not a secp256k1 point".into()))
}
