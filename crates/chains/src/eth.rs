//! Ethereum: EIP-55 addresses, legacy (EIP-155) and EIP-1559 transactions, EIP-191 messages.
//!
//! # Transaction JSON
//! One object, the field names of `eth_sendTransaction`:
//!
//! | field | |
//! |---|---|
//! | `type` | `0` / `"0x0"` / `"legacy"` or `2` / `"0x2"` / `"eip1559"`; absent: 2 if `maxFeePerGas` is given, else 0 |
//! | `chainId` | required (legacy transactions are always EIP-155 replay-protected) |
//! | `nonce`, `gas` | required |
//! | `gasPrice` | legacy only, required |
//! | `maxFeePerGas`, `maxPriorityFeePerGas` | EIP-1559 only, required |
//! | `to` | 20-byte hex address; absent or `null` creates a contract |
//! | `value` | default 0 |
//! | `data` (or `input`) | 0x-hex, default empty |
//!
//! Quantities are JSON integers, `"0x…"` hex strings or decimal strings (`"1000000000"`), so both
//! RPC-style and hand-written files work. Unknown fields are refused: a field silently ignored
//! (an `accessList`, say) would sign a different transaction from the one the user read.

use alloy_consensus::transaction::SignerRecoverable;
use alloy_consensus::{SignableTransaction, TxEip1559, TxEnvelope, TxLegacy};
use alloy_eips::eip2718::Encodable2718;
use alloy_primitives::{Address, Bytes, TxKind, U256};
use serde_json::{Map, Value};

use crate::ecdsa::verifying_key;
use crate::{EcdsaSignature, Error};

/// The EIP-55 checksummed address of a 33-byte compressed secp256k1 public key.
pub fn address(public_key: &[u8]) -> Result<String, Error> {
    Ok(address_of(public_key)?.to_checksum(None))
}

fn address_of(public_key: &[u8]) -> Result<Address, Error> {
    let vk = verifying_key(public_key)?;
    Ok(Address::from_public_key(&vk))
}

/// A parsed, unsigned transaction.
#[derive(Clone, Debug, PartialEq)]
pub enum UnsignedTx {
    Legacy(TxLegacy),
    Eip1559(TxEip1559),
}

/// The signed transaction, ready for `eth_sendRawTransaction`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedTx {
    /// EIP-2718 encoding, 0x-hex.
    pub raw_tx: String,
    /// Transaction hash, 0x-hex.
    pub hash: String,
    /// The sender, EIP-55.
    pub from: String,
}

/// Parses a transaction JSON object (see the module doc).
pub fn parse_tx(json: &str) -> Result<UnsignedTx, Error> {
    let v: Value = serde_json::from_str(json).map_err(|e| tx_err(format!("not JSON: {e}")))?;
    let Value::Object(obj) = v else {
        return Err(tx_err("expected a JSON object"));
    };
    const KNOWN: [&str; 11] = [
        "type",
        "chainId",
        "nonce",
        "to",
        "value",
        "gas",
        "gasPrice",
        "maxFeePerGas",
        "maxPriorityFeePerGas",
        "data",
        "input",
    ];
    if let Some(k) = obj.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        return Err(tx_err(format!("unsupported field {k:?}")));
    }
    let tx_type = match obj.get("type") {
        None | Some(Value::Null) => {
            if obj.contains_key("maxFeePerGas") {
                2
            } else {
                0
            }
        }
        Some(Value::String(s)) if s == "legacy" => 0,
        Some(Value::String(s)) if s == "eip1559" => 2,
        Some(t) => quantity(t, "type")?,
    };
    let chain_id: u64 = required(&obj, "chainId")?;
    let nonce: u64 = required(&obj, "nonce")?;
    let gas_limit: u64 = required(&obj, "gas")?;
    let value: U256 = optional(&obj, "value")?.unwrap_or(U256::ZERO);
    let to = match obj.get("to") {
        None | Some(Value::Null) => TxKind::Create,
        Some(Value::String(s)) => TxKind::Call(
            s.parse::<Address>()
                .map_err(|_| tx_err(format!("\"to\": {s:?} is not a 20-byte hex address")))?,
        ),
        Some(_) => return Err(tx_err("\"to\" must be a hex string")),
    };
    let input = match (obj.get("data"), obj.get("input")) {
        (Some(_), Some(_)) => return Err(tx_err("give \"data\" or \"input\", not both")),
        (Some(d), None) | (None, Some(d)) => hex_bytes(d)?,
        (None, None) => Bytes::new(),
    };
    match tx_type {
        0 => {
            forbid(&obj, &["maxFeePerGas", "maxPriorityFeePerGas"], "a legacy")?;
            Ok(UnsignedTx::Legacy(TxLegacy {
                chain_id: Some(chain_id),
                nonce,
                gas_price: required(&obj, "gasPrice")?,
                gas_limit,
                to,
                value,
                input,
            }))
        }
        2 => {
            forbid(&obj, &["gasPrice"], "an EIP-1559")?;
            let max_fee_per_gas: u128 = required(&obj, "maxFeePerGas")?;
            let max_priority_fee_per_gas: u128 = required(&obj, "maxPriorityFeePerGas")?;
            if max_priority_fee_per_gas > max_fee_per_gas {
                return Err(tx_err("maxPriorityFeePerGas exceeds maxFeePerGas"));
            }
            Ok(UnsignedTx::Eip1559(TxEip1559 {
                chain_id,
                nonce,
                gas_limit,
                max_fee_per_gas,
                max_priority_fee_per_gas,
                to,
                value,
                access_list: Default::default(),
                input,
            }))
        }
        other => Err(tx_err(format!(
            "transaction type {other} is not supported (0 = legacy, 2 = EIP-1559)"
        ))),
    }
}

impl UnsignedTx {
    /// The digest the key must sign (keccak256 of the signing payload).
    pub fn signing_hash(&self) -> [u8; 32] {
        match self {
            UnsignedTx::Legacy(tx) => tx.signature_hash().0,
            UnsignedTx::Eip1559(tx) => tx.signature_hash().0,
        }
    }

    /// The signed transaction, from the network's signature over [`Self::signing_hash`] by the
    /// key `public_key` (33-byte SEC1). A high `s` is normalised; a signature that does not
    /// recover `public_key` is refused.
    pub fn assemble(self, public_key: &[u8], sig: &EcdsaSignature) -> Result<SignedTx, Error> {
        let vk = verifying_key(public_key)?;
        let (sig, recid) = sig.normalize(&self.signing_hash(), &vk)?;
        let signature = alloy_primitives::Signature::from((sig, recid));
        let envelope: TxEnvelope = match self {
            UnsignedTx::Legacy(tx) => tx.into_signed(signature).into(),
            UnsignedTx::Eip1559(tx) => tx.into_signed(signature).into(),
        };
        // Independent of our own check above: what a node will recover from the encoding.
        let from = envelope
            .recover_signer()
            .map_err(|e| Error::Signature(format!("sender recovery failed: {e}")))?;
        if from != Address::from_public_key(&vk) {
            return Err(Error::Signature(
                "the transaction recovers another sender".into(),
            ));
        }
        Ok(SignedTx {
            raw_tx: format!("0x{}", hex::encode(envelope.encoded_2718())),
            hash: format!("{}", envelope.tx_hash()),
            from: from.to_checksum(None),
        })
    }
}

/// EIP-191 `personal_sign` digest: keccak256("\x19Ethereum Signed Message:\n" ‖ len ‖ message).
pub fn personal_message_hash(message: &[u8]) -> [u8; 32] {
    alloy_primitives::eip191_hash_message(message).0
}

/// The 65-byte `personal_sign` signature `r ‖ s ‖ v` (v = 27 + y parity), 0x-hex, from the
/// network's signature over [`personal_message_hash`].
pub fn personal_signature(
    public_key: &[u8],
    message: &[u8],
    sig: &EcdsaSignature,
) -> Result<String, Error> {
    let vk = verifying_key(public_key)?;
    let (sig, recid) = sig.normalize(&personal_message_hash(message), &vk)?;
    let mut out = sig.to_bytes().to_vec();
    out.push(27 + u8::from(recid.is_y_odd()));
    Ok(format!("0x{}", hex::encode(out)))
}

fn tx_err(m: impl Into<String>) -> Error {
    Error::Transaction(m.into())
}

fn forbid(obj: &Map<String, Value>, fields: &[&str], what: &str) -> Result<(), Error> {
    match fields.iter().find(|f| obj.contains_key(**f)) {
        Some(f) => Err(tx_err(format!(
            "{f:?} does not belong in {what} transaction"
        ))),
        None => Ok(()),
    }
}

fn required<T: TryFrom<U256>>(obj: &Map<String, Value>, field: &str) -> Result<T, Error> {
    optional(obj, field)?.ok_or_else(|| tx_err(format!("missing {field:?}")))
}

fn optional<T: TryFrom<U256>>(obj: &Map<String, Value>, field: &str) -> Result<Option<T>, Error> {
    match obj.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(v) => quantity(v, field).map(Some),
    }
}

fn quantity<T: TryFrom<U256>>(v: &Value, field: &str) -> Result<T, Error> {
    let n = match v {
        Value::Number(n) => n
            .as_u64()
            .map(U256::from)
            .ok_or_else(|| tx_err(format!("{field:?}: {n} is not a non-negative integer")))?,
        Value::String(s) => {
            let parsed = match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
                Some(h) if !h.is_empty() => U256::from_str_radix(h, 16),
                Some(_) => return Err(tx_err(format!("{field:?}: empty hex quantity"))),
                None if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) => {
                    U256::from_str_radix(s, 10)
                }
                None => return Err(tx_err(format!("{field:?}: {s:?} is not a quantity"))),
            };
            parsed.map_err(|_| tx_err(format!("{field:?}: {s:?} is not a 256-bit quantity")))?
        }
        _ => return Err(tx_err(format!("{field:?} must be a number or a string"))),
    };
    T::try_from(n).map_err(|_| tx_err(format!("{field:?}: {n} is too large")))
}

fn hex_bytes(v: &Value) -> Result<Bytes, Error> {
    let Value::String(s) = v else {
        return Err(tx_err("\"data\" must be a 0x-hex string"));
    };
    let h = s.strip_prefix("0x").unwrap_or(s);
    hex::decode(h)
        .map(Bytes::from)
        .map_err(|_| tx_err("\"data\" is not hex"))
}
