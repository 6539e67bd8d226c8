//! Bitcoin: P2WPKH and P2TR key-path addresses; PSBT (BIP174) signing.
//!
//! [`prepare_psbt`] finds every input the key owns — the input's previous output (from
//! `witness_utxo`, or `non_witness_utxo` checked against the outpoint) pays to the key's own
//! script — and computes its sighash: BIP143 with `SIGHASH_ALL` for P2WPKH, BIP341 key path with
//! `SIGHASH_DEFAULT` for P2TR (which commits to every input's previous output, so all must be
//! known). [`PreparedPsbt::finalize`] checks each signature against the key and digest, writes
//! the final witnesses and, once every input is final, extracts the transaction.
//!
//! A PSBT input that asks for another sighash type (`PSBT_IN_SIGHASH_TYPE`) is refused rather
//! than signed with a type the other parties did not ask for.

use std::str::FromStr;

use bitcoin::hashes::Hash;
use bitcoin::key::{CompressedPublicKey, TapTweak, TweakedPublicKey, UntweakedPublicKey};
use bitcoin::psbt::Psbt;
use bitcoin::secp256k1::{self, Secp256k1};
use bitcoin::sighash::{EcdsaSighashType, Prevouts, SighashCache, TapSighashType};
use bitcoin::{Address, Network, ScriptBuf, TxOut, Witness, XOnlyPublicKey};

use crate::ecdsa::verifying_key;
use crate::{EcdsaSignature, Error, Scheme};

/// `mainnet`/`bitcoin`, `testnet`, `signet` or `regtest`.
pub fn parse_network(name: &str) -> Result<Network, Error> {
    match name {
        "mainnet" | "bitcoin" => Ok(Network::Bitcoin),
        "testnet" => Ok(Network::Testnet),
        "signet" => Ok(Network::Signet),
        "regtest" => Ok(Network::Regtest),
        other => Err(Error::Transaction(format!(
            "unknown network {other:?} (mainnet, testnet, signet, regtest)"
        ))),
    }
}

/// A key as Bitcoin uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BtcKey {
    /// An ECDSA key: P2WPKH.
    Ecdsa(CompressedPublicKey),
    /// A BIP340 internal key: P2TR key path, BIP341 tweak with no script tree.
    Taproot(XOnlyPublicKey),
    /// A P2TR output key that already carries the BIP341 tweak: what a Tessera
    /// `schnorr-bip340` key is (frost-secp256k1-tr's DKG returns the tweaked key, and the
    /// network signs under it). The address pays to it directly.
    TaprootOutput(XOnlyPublicKey),
}

impl BtcKey {
    /// From the ledger's public key bytes and the key's signing scheme. A Taproot key may be
    /// given as 32-byte x-only or as 33-byte SEC1 (its x coordinate is the internal key).
    pub fn new(scheme: Scheme, public_key: &[u8]) -> Result<BtcKey, Error> {
        match scheme {
            Scheme::EcdsaSecp256k1 => {
                verifying_key(public_key)?;
                CompressedPublicKey::from_slice(public_key)
                    .map(BtcKey::Ecdsa)
                    .map_err(|e| Error::PublicKey(e.to_string()))
            }
            Scheme::Bip340 => {
                let x = match public_key.len() {
                    32 => public_key,
                    33 => public_key.get(1..).unwrap_or_default(),
                    n => {
                        return Err(Error::PublicKey(format!(
                            "a BIP340 key is 32 or 33 bytes, got {n}"
                        )))
                    }
                };
                XOnlyPublicKey::from_slice(x)
                    .map(BtcKey::Taproot)
                    .map_err(|e| Error::PublicKey(e.to_string()))
            }
            Scheme::Ed25519 => Err(Error::UnsupportedKeyType(
                "an Ed25519 key has no Bitcoin address".into(),
            )),
        }
    }

    /// A P2TR output key given as the ledger stores a `schnorr-bip340` key: 32 bytes x-only,
    /// already tweaked (see [`BtcKey::TaprootOutput`]).
    pub fn taproot_output(output_key: &[u8]) -> Result<BtcKey, Error> {
        XOnlyPublicKey::from_slice(output_key)
            .map(BtcKey::TaprootOutput)
            .map_err(|e| Error::PublicKey(format!("not an x-only secp256k1 key: {e}")))
    }

    /// The key's address on `network`.
    pub fn address(&self, network: Network) -> Address {
        match self {
            BtcKey::Ecdsa(pk) => Address::p2wpkh(pk, network),
            BtcKey::Taproot(internal) => {
                Address::p2tr(&Secp256k1::verification_only(), *internal, None, network)
            }
            BtcKey::TaprootOutput(q) => {
                Address::p2tr_tweaked(TweakedPublicKey::dangerous_assume_tweaked(*q), network)
            }
        }
    }

    /// The script an output paying to this key carries.
    pub fn script_pubkey(&self) -> ScriptBuf {
        self.address(Network::Bitcoin).script_pubkey()
    }

    /// The scheme that signs for this key.
    pub fn scheme(&self) -> Scheme {
        match self {
            BtcKey::Ecdsa(_) => Scheme::EcdsaSecp256k1,
            BtcKey::Taproot(_) | BtcKey::TaprootOutput(_) => Scheme::Bip340,
        }
    }

    /// For a Taproot key, the tweaked output key a BIP340 signature must verify under.
    pub fn output_key(&self) -> Option<XOnlyPublicKey> {
        match self {
            BtcKey::Ecdsa(_) => None,
            BtcKey::Taproot(internal) => {
                let internal: UntweakedPublicKey = *internal;
                let (tweaked, _) = internal.tap_tweak(&Secp256k1::verification_only(), None);
                Some(tweaked.to_x_only_public_key())
            }
            BtcKey::TaprootOutput(q) => Some(*q),
        }
    }
}

/// P2WPKH address of a 33-byte compressed secp256k1 key.
pub fn p2wpkh_address(public_key: &[u8], network: Network) -> Result<String, Error> {
    Ok(BtcKey::new(Scheme::EcdsaSecp256k1, public_key)?
        .address(network)
        .to_string())
}

/// P2TR key-path address (BIP341 tweak, no script tree) of a BIP340 internal key.
pub fn p2tr_address(internal_key: &[u8], network: Network) -> Result<String, Error> {
    Ok(BtcKey::new(Scheme::Bip340, internal_key)?
        .address(network)
        .to_string())
}

/// One input the key must sign.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct InputToSign {
    /// Index of the input in the transaction.
    pub index: usize,
    /// The digest to sign.
    pub sighash: [u8; 32],
    /// ECDSA for P2WPKH, BIP340 for P2TR (under the tweaked key, see [`BtcKey::output_key`]).
    pub scheme: Scheme,
}

/// A signature for one [`InputToSign`], in the same order.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InputSignature {
    Ecdsa(EcdsaSignature),
    Schnorr([u8; 64]),
}

/// A PSBT with the inputs the key owns and their digests.
#[derive(Clone, Debug)]
pub struct PreparedPsbt {
    psbt: Psbt,
    key: BtcKey,
    inputs: Vec<InputToSign>,
}

/// The result of signing: the PSBT with the key's inputs finalised, and the transaction once
/// every input is final.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SignedPsbt {
    /// The updated PSBT, base64.
    pub psbt: String,
    /// Consensus-encoded transaction, hex, when every input is final.
    pub tx_hex: Option<String>,
    /// Its txid.
    pub txid: Option<String>,
}

/// Parses a base64 PSBT and finds the inputs `key` owns. Errors when it owns none.
pub fn prepare_psbt(psbt_base64: &str, key: BtcKey) -> Result<PreparedPsbt, Error> {
    let psbt = Psbt::from_str(psbt_base64.trim()).map_err(|e| Error::Psbt(e.to_string()))?;
    let spent: Vec<Option<TxOut>> = (0..psbt.inputs.len())
        .map(|i| spent_output(&psbt, i))
        .collect::<Result<_, _>>()?;
    let ours = key.script_pubkey();
    let mut cache = SighashCache::new(&psbt.unsigned_tx);
    let mut inputs = Vec::new();
    for (index, (input, prev)) in psbt.inputs.iter().zip(&spent).enumerate() {
        let Some(prev) = prev.as_ref().filter(|p| p.script_pubkey == ours) else {
            continue;
        };
        if input.final_script_witness.is_some() || input.final_script_sig.is_some() {
            return Err(Error::Psbt(format!("input {index} is already final")));
        }
        let sighash = match key {
            BtcKey::Ecdsa(_) => {
                if let Some(t) = input.sighash_type {
                    if !matches!(t.ecdsa_hash_ty(), Ok(EcdsaSighashType::All)) {
                        return Err(Error::Psbt(format!(
                            "input {index} asks for sighash type {t}; only SIGHASH_ALL is signed"
                        )));
                    }
                }
                cache
                    .p2wpkh_signature_hash(
                        index,
                        &prev.script_pubkey,
                        prev.value,
                        EcdsaSighashType::All,
                    )
                    .map_err(|e| Error::Psbt(format!("input {index}: {e}")))?
                    .to_byte_array()
            }
            BtcKey::Taproot(_) | BtcKey::TaprootOutput(_) => {
                if let Some(t) = input.sighash_type {
                    if !matches!(t.taproot_hash_ty(), Ok(TapSighashType::Default)) {
                        return Err(Error::Psbt(format!(
                            "input {index} asks for sighash type {t}; only SIGHASH_DEFAULT is signed"
                        )));
                    }
                }
                let all: Vec<TxOut> = spent
                    .iter()
                    .enumerate()
                    .map(|(i, p)| {
                        p.clone().ok_or_else(|| {
                            Error::Psbt(format!(
                                "input {i} has no previous output; a Taproot signature commits to all of them"
                            ))
                        })
                    })
                    .collect::<Result<_, _>>()?;
                cache
                    .taproot_key_spend_signature_hash(
                        index,
                        &Prevouts::All(&all),
                        TapSighashType::Default,
                    )
                    .map_err(|e| Error::Psbt(format!("input {index}: {e}")))?
                    .to_byte_array()
            }
        };
        inputs.push(InputToSign {
            index,
            sighash,
            scheme: key.scheme(),
        });
    }
    if inputs.is_empty() {
        return Err(Error::KeyNotSigner(format!(
            "no input of the PSBT spends from the key's address ({} inputs)",
            psbt.inputs.len()
        )));
    }
    Ok(PreparedPsbt { psbt, key, inputs })
}

/// The output an input spends, when the PSBT says.
fn spent_output(psbt: &Psbt, index: usize) -> Result<Option<TxOut>, Error> {
    let (Some(input), Some(txin)) = (psbt.inputs.get(index), psbt.unsigned_tx.input.get(index))
    else {
        return Err(Error::Psbt(format!("no input {index}")));
    };
    if let Some(out) = &input.witness_utxo {
        return Ok(Some(out.clone()));
    }
    let Some(prev_tx) = &input.non_witness_utxo else {
        return Ok(None);
    };
    if prev_tx.compute_txid() != txin.previous_output.txid {
        return Err(Error::Psbt(format!(
            "input {index}: non_witness_utxo is not the transaction it spends"
        )));
    }
    let vout = usize::try_from(txin.previous_output.vout).unwrap_or(usize::MAX);
    prev_tx.output.get(vout).cloned().map(Some).ok_or_else(|| {
        Error::Psbt(format!(
            "input {index}: non_witness_utxo has no output {vout}"
        ))
    })
}

impl PreparedPsbt {
    /// What must be signed, one entry per owned input.
    pub fn to_sign(&self) -> &[InputToSign] {
        &self.inputs
    }

    /// The key the PSBT was prepared for.
    pub fn key(&self) -> BtcKey {
        self.key
    }

    /// Checks `signatures` (one per [`Self::to_sign`] entry, same order), finalises those
    /// inputs and extracts the transaction when every input is final.
    pub fn finalize(mut self, signatures: &[InputSignature]) -> Result<SignedPsbt, Error> {
        if signatures.len() != self.inputs.len() {
            return Err(Error::Signature(format!(
                "{} signatures for {} inputs",
                signatures.len(),
                self.inputs.len()
            )));
        }
        let secp = Secp256k1::verification_only();
        for (want, sig) in self.inputs.iter().zip(signatures) {
            let witness = match (self.key, sig) {
                (BtcKey::Ecdsa(pk), InputSignature::Ecdsa(sig)) => {
                    let vk = verifying_key(&pk.to_bytes())?;
                    let (low, _) = sig
                        .normalize(&want.sighash, &vk)
                        .map_err(|e| Error::Signature(format!("input {}: {e}", want.index)))?;
                    let signature = secp256k1::ecdsa::Signature::from_compact(&low.to_bytes())
                        .map_err(|e| Error::Signature(e.to_string()))?;
                    let sig = bitcoin::ecdsa::Signature {
                        signature,
                        sighash_type: EcdsaSighashType::All,
                    };
                    Witness::p2wpkh(&sig, &pk.0)
                }
                (BtcKey::Taproot(_) | BtcKey::TaprootOutput(_), InputSignature::Schnorr(bytes)) => {
                    let signature = secp256k1::schnorr::Signature::from_slice(bytes)
                        .map_err(|e| Error::Signature(e.to_string()))?;
                    let out = self
                        .key
                        .output_key()
                        .ok_or_else(|| Error::Signature("no output key".into()))?;
                    let msg = secp256k1::Message::from_digest(want.sighash);
                    secp.verify_schnorr(&signature, &msg, &out).map_err(|_| {
                        Error::Signature(format!(
                            "input {}: the BIP340 signature does not verify under the tweaked output key",
                            want.index
                        ))
                    })?;
                    Witness::p2tr_key_spend(&bitcoin::taproot::Signature {
                        signature,
                        sighash_type: TapSighashType::Default,
                    })
                }
                _ => {
                    return Err(Error::Signature(format!(
                        "input {}: wrong signature kind for the key",
                        want.index
                    )))
                }
            };
            let input = self
                .psbt
                .inputs
                .get_mut(want.index)
                .ok_or_else(|| Error::Psbt(format!("no input {}", want.index)))?;
            // BIP174 finalizer: keep the UTXO, drop what only signers needed.
            *input = bitcoin::psbt::Input {
                non_witness_utxo: input.non_witness_utxo.take(),
                witness_utxo: input.witness_utxo.take(),
                final_script_witness: Some(witness),
                unknown: std::mem::take(&mut input.unknown),
                proprietary: std::mem::take(&mut input.proprietary),
                ..Default::default()
            };
        }
        let complete = self
            .psbt
            .inputs
            .iter()
            .all(|i| i.final_script_witness.is_some() || i.final_script_sig.is_some());
        let psbt = self.psbt.to_string();
        if !complete {
            return Ok(SignedPsbt {
                psbt,
                tx_hex: None,
                txid: None,
            });
        }
        let tx = self
            .psbt
            .extract_tx()
            .map_err(|e| Error::Psbt(format!("cannot extract the transaction: {e}")))?;
        Ok(SignedPsbt {
            psbt,
            tx_hex: Some(bitcoin::consensus::encode::serialize_hex(&tx)),
            txid: Some(tx.compute_txid().to_string()),
        })
    }
}
