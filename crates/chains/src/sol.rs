//! Solana: base58 addresses and signing a serialized transaction message.
//!
//! What an Ed25519 key signs on Solana is the serialized message itself. [`prepare`] parses the
//! message (legacy or v0) far enough to know its required signers and refuses one the key does
//! not have to sign; [`PreparedMessage::assemble`] checks the signature as the runtime does
//! (`verify_strict`) and writes the transaction: compact-u16 signature count, the 64-byte
//! signatures in the order of the message's first account keys, then the message.
//!
//! The message layout (header, compact-u16 arrays, instructions, v0 address-table lookups) is
//! parsed here by hand: the Solana SDK crates would bring far more than a few dozen lines, and
//! the whole message is walked so that a truncated or padded one is refused.

use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};

use crate::Error;

/// The Solana address of a 32-byte Ed25519 public key: its base58 form.
pub fn address(public_key: &[u8]) -> Result<String, Error> {
    Ok(bs58::encode(ed25519_key(public_key)?.as_bytes()).into_string())
}

fn ed25519_key(public_key: &[u8]) -> Result<VerifyingKey, Error> {
    let bytes: &[u8; 32] = public_key.try_into().map_err(|_| {
        Error::PublicKey(format!(
            "an Ed25519 key is 32 bytes, got {}",
            public_key.len()
        ))
    })?;
    VerifyingKey::from_bytes(bytes).map_err(|_| Error::PublicKey("not an Ed25519 point".into()))
}

/// A message the key must sign, with where its signature goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PreparedMessage {
    message: Vec<u8>,
    key: [u8; 32],
    signer_index: usize,
    num_signatures: usize,
}

/// The signed transaction.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTransaction {
    /// The wire transaction, base64 (as `sendTransaction` takes it).
    pub transaction: String,
    /// The key's signature, base58 (the transaction id when the key is the fee payer).
    pub signature: String,
    /// False when other signers still have to sign (their slots are zero).
    pub complete: bool,
}

/// Parses a base64 message and finds the key among its required signers.
pub fn prepare(message_base64: &str, public_key: &[u8]) -> Result<PreparedMessage, Error> {
    let key = ed25519_key(public_key)?.to_bytes();
    let message = base64::engine::general_purpose::STANDARD
        .decode(message_base64.trim())
        .map_err(|e| msg_err(format!("not base64: {e}")))?;
    let signers = required_signers(&message)?;
    let signer_index = signers.iter().position(|k| *k == key).ok_or_else(|| {
        Error::KeyNotSigner(format!(
            "the key {} is not one of the message's {} required signers",
            bs58::encode(key).into_string(),
            signers.len()
        ))
    })?;
    Ok(PreparedMessage {
        num_signatures: signers.len(),
        message,
        key,
        signer_index,
    })
}

impl PreparedMessage {
    /// The bytes to sign (the message itself).
    pub fn message(&self) -> &[u8] {
        &self.message
    }

    /// The key's position among the signers (0 is the fee payer).
    pub fn signer_index(&self) -> usize {
        self.signer_index
    }

    pub fn is_fee_payer(&self) -> bool {
        self.signer_index == 0
    }

    /// The transaction with `signature` in the key's slot (other slots zero).
    pub fn assemble(&self, signature: &[u8; 64]) -> Result<SignedTransaction, Error> {
        let vk = ed25519_key(&self.key)?;
        let sig = Signature::from_bytes(signature);
        vk.verify_strict(&self.message, &sig).map_err(|_| {
            Error::Signature("the Ed25519 signature does not verify (strict)".into())
        })?;
        let mut tx = Vec::with_capacity(3 + 64 * self.num_signatures + self.message.len());
        write_compact_u16(&mut tx, self.num_signatures)?;
        for i in 0..self.num_signatures {
            if i == self.signer_index {
                tx.extend_from_slice(signature);
            } else {
                tx.extend_from_slice(&[0u8; 64]);
            }
        }
        tx.extend_from_slice(&self.message);
        Ok(SignedTransaction {
            transaction: base64::engine::general_purpose::STANDARD.encode(tx),
            signature: bs58::encode(signature).into_string(),
            complete: self.num_signatures == 1,
        })
    }
}

fn msg_err(m: impl Into<String>) -> Error {
    Error::SolanaMessage(m.into())
}

/// A cursor over the message that fails cleanly at its end.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize, what: &str) -> Result<&'a [u8], Error> {
        let (head, tail) = self
            .rest
            .split_at_checked(n)
            .ok_or_else(|| msg_err(format!("truncated in {what}")))?;
        self.rest = tail;
        Ok(head)
    }

    fn byte(&mut self, what: &str) -> Result<u8, Error> {
        self.take(1, what)?
            .first()
            .copied()
            .ok_or_else(|| msg_err(format!("truncated in {what}")))
    }

    /// Solana's compact-u16 ("shortvec"): 7 bits a byte, at most 3 bytes, canonical.
    fn compact_u16(&mut self, what: &str) -> Result<usize, Error> {
        let mut value: usize = 0;
        for i in 0..3 {
            let b = self.byte(what)?;
            if i == 2 && b > 0x03 {
                return Err(msg_err(format!("{what}: length exceeds u16")));
            }
            if i > 0 && b == 0 {
                return Err(msg_err(format!("{what}: non-canonical length")));
            }
            value |= usize::from(b & 0x7f) << (7 * i);
            if b & 0x80 == 0 {
                return Ok(value);
            }
        }
        Err(msg_err(format!("{what}: length exceeds u16")))
    }
}

fn write_compact_u16(out: &mut Vec<u8>, n: usize) -> Result<(), Error> {
    let mut n = u16::try_from(n).map_err(|_| msg_err("more than 65535 signatures"))?;
    loop {
        let low = u8::try_from(n & 0x7f).unwrap_or(0);
        n >>= 7;
        if n == 0 {
            out.push(low);
            return Ok(());
        }
        out.push(low | 0x80);
    }
}

/// The message's required signers, in signature order, after checking its whole layout.
fn required_signers(message: &[u8]) -> Result<Vec<[u8; 32]>, Error> {
    let mut r = Reader { rest: message };
    let first = *message.first().ok_or_else(|| msg_err("empty"))?;
    let versioned = first & 0x80 != 0;
    if versioned {
        let version = r.byte("version")? & 0x7f;
        if version != 0 {
            return Err(msg_err(format!(
                "message version {version} (only legacy and v0)"
            )));
        }
    }
    let num_required = usize::from(r.byte("header")?);
    let readonly_signed = usize::from(r.byte("header")?);
    let readonly_unsigned = usize::from(r.byte("header")?);
    let num_keys = r.compact_u16("account keys")?;
    let mut keys = Vec::with_capacity(num_keys);
    for _ in 0..num_keys {
        let k: [u8; 32] = r
            .take(32, "account keys")?
            .try_into()
            .map_err(|_| msg_err("account key"))?;
        keys.push(k);
    }
    if num_required == 0 {
        return Err(msg_err("no required signers (no fee payer)"));
    }
    if readonly_signed >= num_required {
        return Err(msg_err("the fee payer must be writable"));
    }
    if num_required + readonly_unsigned > num_keys {
        return Err(msg_err(format!(
            "header names {} signers and {readonly_unsigned} read-only accounts, but there are {num_keys} keys",
            num_required
        )));
    }
    r.take(32, "recent blockhash")?;
    let num_instructions = r.compact_u16("instructions")?;
    for i in 0..num_instructions {
        let program = usize::from(r.byte("instruction")?);
        let accounts = r.compact_u16("instruction accounts")?;
        r.take(accounts, "instruction accounts")?;
        let data = r.compact_u16("instruction data")?;
        r.take(data, "instruction data")?;
        if !versioned && program >= num_keys {
            return Err(msg_err(format!(
                "instruction {i}: program index {program} out of range"
            )));
        }
    }
    if versioned {
        let lookups = r.compact_u16("address table lookups")?;
        for _ in 0..lookups {
            r.take(32, "address table")?;
            let w = r.compact_u16("writable indexes")?;
            r.take(w, "writable indexes")?;
            let ro = r.compact_u16("read-only indexes")?;
            r.take(ro, "read-only indexes")?;
        }
    }
    if !r.rest.is_empty() {
        return Err(msg_err(format!("{} trailing bytes", r.rest.len())));
    }
    keys.truncate(num_required);
    Ok(keys)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn compact_u16_round_trips_and_rejects_aliases() {
        for n in [0usize, 1, 127, 128, 255, 16383, 16384, 65535] {
            let mut v = Vec::new();
            write_compact_u16(&mut v, n).unwrap();
            let mut r = Reader { rest: &v };
            assert_eq!(r.compact_u16("t").unwrap(), n);
            assert!(r.rest.is_empty());
        }
        // Known encodings from the Solana docs: 0x80 → [0x80, 0x01], 0x3fff → [0xff, 0x7f].
        let mut v = Vec::new();
        write_compact_u16(&mut v, 0x80).unwrap();
        assert_eq!(v, [0x80, 0x01]);
        v.clear();
        write_compact_u16(&mut v, 0x3fff).unwrap();
        assert_eq!(v, [0xff, 0x7f]);
        // Non-canonical (0 as two bytes) and overflowing encodings.
        for bad in [&[0x80u8, 0x00][..], &[0xff, 0xff, 0x04], &[0x80]] {
            assert!(Reader { rest: bad }.compact_u16("t").is_err(), "{bad:?}");
        }
        assert!(write_compact_u16(&mut v, 65536).is_err());
    }
}
