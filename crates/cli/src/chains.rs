//! Chain commands over the running network: `tessera eth …`, `tessera btc …`, `tessera sol …`.
//!
//! Each command reads the key (type and public key) from the ledger, lets `tessera-chains`
//! prepare what must be signed, requests one signature per digest or message from the network
//! (all submitted first, so the operators can work on them together), checks each result
//! against the key and assembles the chain's signed form.
//!
//! | chain | key type | signature |
//! |---|---|---|
//! | Ethereum | `ecdsa-secp256k1` | GG20 over the transaction's or EIP-191 message's hash |
//! | Bitcoin P2WPKH | `ecdsa-secp256k1` | GG20 over each input's BIP143 sighash |
//! | Bitcoin P2TR (key path) | `schnorr-bip340` | FROST BIP340 over each input's BIP341 sighash, under the key itself (already the tweaked output key) |
//! | Solana | `eddsa-ed25519` | FROST Ed25519 over the transaction message |

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use tessera_chains::btc::{self, BtcKey, InputSignature};
use tessera_chains::{eth, sol, EcdsaSignature, Scheme};
use tessera_identity::Identity;
use tessera_ledger::api::RequestView;
use tessera_ledger::client::Client;
use tessera_ledger::command::{Action, Hash32};

use crate::client::{self, ClientOpts};

#[derive(Subcommand, Debug)]
pub enum EthCommand {
    /// The key's Ethereum address (EIP-55).
    Address(KeyArg),
    /// Signs a transaction (JSON: legacy/EIP-155 or EIP-1559) and prints `raw_tx`, `hash`, `from`.
    SignTx(EthSignTxArgs),
    /// Signs a message the `personal_sign` way (EIP-191) and prints the 65-byte signature.
    SignMessage(EthSignMessageArgs),
}

#[derive(Subcommand, Debug)]
pub enum BtcCommand {
    /// The key's address: P2WPKH for an ECDSA key, P2TR (key path) for a BIP340 key.
    Address(BtcAddressArgs),
    /// Signs every PSBT input that spends from the key; prints `tx_hex` and `txid` when the
    /// transaction is complete, else the updated PSBT.
    SignPsbt(BtcSignPsbtArgs),
}

#[derive(Subcommand, Debug)]
pub enum SolCommand {
    /// The key's Solana address (base58 Ed25519 public key).
    Address(KeyArg),
    /// Signs a serialized transaction message (base64) and prints the key's `signature`
    /// (base58) and the signed wire `transaction` (base64).
    SignTx(SolSignTxArgs),
}

#[derive(Args, Debug)]
pub struct SolSignTxArgs {
    #[arg(long)]
    key: String,
    /// The serialized transaction message (legacy or v0) in base64, or `@FILE` to read it
    /// from a file.
    #[arg(long)]
    message: String,
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Approval deadline if the key is in a workspace, from now (`90s`, `15m`, `2h`, `7d`;
    /// 1 minute to 30 days). Default: 24 h.
    #[arg(long, value_parser = client::parse_deadline)]
    deadline: Option<Duration>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct KeyArg {
    /// The key id (from `key create`).
    #[arg(long)]
    key: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct EthSignTxArgs {
    #[arg(long)]
    key: String,
    /// The transaction JSON file (see `tessera-chains` `eth` for the fields).
    #[arg(long)]
    tx: PathBuf,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Approval deadline if the key is in a workspace, from now (`90s`, `15m`, `2h`, `7d`;
    /// 1 minute to 30 days). Default: 24 h.
    #[arg(long, value_parser = client::parse_deadline)]
    deadline: Option<Duration>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct EthSignMessageArgs {
    #[arg(long)]
    key: String,
    /// The message text (signed as its UTF-8 bytes).
    #[arg(long)]
    message: String,
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Approval deadline if the key is in a workspace, from now (`90s`, `15m`, `2h`, `7d`;
    /// 1 minute to 30 days). Default: 24 h.
    #[arg(long, value_parser = client::parse_deadline)]
    deadline: Option<Duration>,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct BtcAddressArgs {
    #[arg(long)]
    key: String,
    /// mainnet, testnet, signet or regtest.
    #[arg(long, default_value = "mainnet")]
    network: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct BtcSignPsbtArgs {
    #[arg(long)]
    key: String,
    /// The PSBT in base64, or `@FILE` to read it from a file.
    #[arg(long)]
    psbt: String,
    #[arg(long, default_value_t = 300)]
    timeout: u64,
    /// Approval deadline if the key is in a workspace, from now (`90s`, `15m`, `2h`, `7d`;
    /// 1 minute to 30 days). Default: 24 h.
    #[arg(long, value_parser = client::parse_deadline)]
    deadline: Option<Duration>,
    #[arg(long)]
    json: bool,
}

/// A key as the ledger knows it.
struct Key {
    id: Hash32,
    key_type: String,
    scheme: Scheme,
    public_key: Vec<u8>,
}

fn fetch_key(client: &Client, id: &str) -> Result<Key, String> {
    let id = client::parse_key_id(id)?;
    let view = client.key(&id).map_err(|e| format!("key {id}: {e}"))?;
    let Some(pk) = view.public_key.filter(|_| view.status == "active") else {
        return Err(format!("key {id} is not active (status {})", view.status));
    };
    let public_key = hex::decode(&pk).map_err(|_| format!("key {id}: public key is not hex"))?;
    let scheme = Scheme::from_key_type(&view.key_type).map_err(|e| format!("key {id}: {e}"))?;
    Ok(Key {
        id,
        key_type: view.key_type,
        scheme,
        public_key,
    })
}

/// Refuses a key of another type than the chain's.
fn require(key: &Key, scheme: Scheme, chain: &str) -> Result<(), String> {
    if key.scheme == scheme {
        return Ok(());
    }
    let want = match scheme {
        Scheme::EcdsaSecp256k1 => "an ecdsa-secp256k1",
        Scheme::Ed25519 => "an eddsa-ed25519",
        Scheme::Bip340 => "a schnorr-bip340",
    };
    Err(format!(
        "key {} has type {:?}; {chain} needs {want} key",
        key.id, key.key_type
    ))
}

/// The key as Bitcoin uses it: P2WPKH for ECDSA; for BIP340 the ledger's key is already the
/// tweaked P2TR output key.
fn btc_key(key: &Key) -> Result<BtcKey, String> {
    match key.scheme {
        Scheme::Bip340 => BtcKey::taproot_output(&key.public_key),
        Scheme::EcdsaSecp256k1 => BtcKey::new(key.scheme, &key.public_key),
        Scheme::Ed25519 => {
            return Err(format!(
                "key {} has type {:?}; Bitcoin needs an ecdsa-secp256k1 (P2WPKH) or \
                 schnorr-bip340 (P2TR) key",
                key.id, key.key_type
            ))
        }
    }
    .map_err(|e| format!("key {}: {e}", key.id))
}

/// A Schnorr key for [`client::request_schnorr`].
fn schnorr_key(key: &Key) -> Result<client::SchnorrKey<'_>, String> {
    let key_type = tessera_schnorr::KeyType::from_name(&key.key_type).ok_or_else(|| {
        format!(
            "key {} has type {:?}, not a Schnorr type",
            key.id, key.key_type
        )
    })?;
    Ok(client::SchnorrKey {
        id: key.id,
        key_type,
        public_key: &key.public_key,
    })
}

/// `@FILE` reads the file; anything else is the value itself.
fn value_or_file(v: &str) -> Result<String, String> {
    match v.strip_prefix('@') {
        Some(path) => std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}")),
        None => Ok(v.to_string()),
    }
}

/// Requests an ECDSA signature over each digest (all submitted, then awaited) and checks each
/// against the key.
fn request_ecdsa(
    client: &Client,
    identity: &Identity,
    key: &Key,
    digests: &[[u8; 32]],
    timeout: Duration,
    deadline: Option<Duration>,
    quiet: bool,
) -> Result<Vec<EcdsaSignature>, String> {
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&key.public_key)
        .map_err(|e| format!("key {}: {e}", key.id))?;
    let mut ids = Vec::new();
    for d in digests {
        let id = client::submit_with_deadline(client, identity, deadline, |deadline_ms| {
            Action::RequestSignature {
                key: key.id,
                digest: Hash32(*d),
                tweak: None,
                note: None,
                deadline_ms,
            }
        })?;
        ids.push(id);
    }
    if !quiet {
        eprintln!("{} signature request(s) submitted; waiting…", ids.len());
    }
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    for (id, digest) in ids.iter().zip(digests) {
        let left = deadline.saturating_duration_since(Instant::now());
        let RequestView::Signature(v) = client::wait(client, id, left)? else {
            return Err(format!(
                "request {id}: the ledger answered with a key request"
            ));
        };
        let (Some(r), Some(s), Some(recovery_id)) = (v.r, v.s, v.recovery_id) else {
            return Err(format!(
                "request {id}: signing failed: {}",
                v.reason.unwrap_or_else(|| v.status.clone())
            ));
        };
        let sig = k256::ecdsa::Signature::from_scalars(r.0, s.0)
            .map_err(|e| format!("request {id}: {e}"))?;
        vk.verify_prehash(digest, &sig).map_err(|_| {
            format!("request {id}: the network returned a signature that does not verify")
        })?;
        out.push(EcdsaSignature {
            r: r.0,
            s: s.0,
            recovery_id,
        });
    }
    Ok(out)
}

fn print(json: bool, fields: &[(&str, serde_json::Value)]) {
    if json {
        let obj: serde_json::Map<String, serde_json::Value> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect();
        println!("{}", serde_json::Value::Object(obj));
    } else {
        for (k, v) in fields {
            let text = match v {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            println!("{:<9} {text}", format!("{k}:"));
        }
    }
}

pub fn eth(cmd: EthCommand, opts: &ClientOpts) -> Result<(), String> {
    let client = client::ledger(opts)?;
    match cmd {
        EthCommand::Address(a) => {
            let key = fetch_key(&client, &a.key)?;
            require(&key, Scheme::EcdsaSecp256k1, "Ethereum")?;
            let address = eth::address(&key.public_key).map_err(|e| e.to_string())?;
            print(a.json, &[("address", address.into())]);
            Ok(())
        }
        EthCommand::SignTx(a) => {
            let key = fetch_key(&client, &a.key)?;
            require(&key, Scheme::EcdsaSecp256k1, "Ethereum")?;
            let text = std::fs::read_to_string(&a.tx)
                .map_err(|e| format!("cannot read {}: {e}", a.tx.display()))?;
            let tx = eth::parse_tx(&text).map_err(|e| format!("{}: {e}", a.tx.display()))?;
            let identity = client::load_identity(opts)?;
            let sigs = request_ecdsa(
                &client,
                &identity,
                &key,
                &[tx.signing_hash()],
                Duration::from_secs(a.timeout),
                a.deadline,
                a.json,
            )?;
            let sig = sigs.first().ok_or("no signature")?;
            let signed = tx
                .assemble(&key.public_key, sig)
                .map_err(|e| e.to_string())?;
            print(
                a.json,
                &[
                    ("raw_tx", signed.raw_tx.into()),
                    ("hash", signed.hash.into()),
                    ("from", signed.from.into()),
                ],
            );
            Ok(())
        }
        EthCommand::SignMessage(a) => {
            let key = fetch_key(&client, &a.key)?;
            require(&key, Scheme::EcdsaSecp256k1, "Ethereum")?;
            let identity = client::load_identity(opts)?;
            let digest = eth::personal_message_hash(a.message.as_bytes());
            let sigs = request_ecdsa(
                &client,
                &identity,
                &key,
                &[digest],
                Duration::from_secs(a.timeout),
                a.deadline,
                a.json,
            )?;
            let sig = sigs.first().ok_or("no signature")?;
            let signature = eth::personal_signature(&key.public_key, a.message.as_bytes(), sig)
                .map_err(|e| e.to_string())?;
            let address = eth::address(&key.public_key).map_err(|e| e.to_string())?;
            print(
                a.json,
                &[
                    ("signature", signature.into()),
                    ("address", address.into()),
                    ("hash", format!("0x{}", hex::encode(digest)).into()),
                ],
            );
            Ok(())
        }
    }
}

pub fn btc(cmd: BtcCommand, opts: &ClientOpts) -> Result<(), String> {
    let client = client::ledger(opts)?;
    match cmd {
        BtcCommand::Address(a) => {
            let key = fetch_key(&client, &a.key)?;
            let network = btc::parse_network(&a.network).map_err(|e| e.to_string())?;
            let k = btc_key(&key)?;
            let kind = match k.scheme() {
                Scheme::EcdsaSecp256k1 => "p2wpkh",
                _ => "p2tr",
            };
            print(
                a.json,
                &[
                    ("address", k.address(network).to_string().into()),
                    ("type", kind.into()),
                ],
            );
            Ok(())
        }
        BtcCommand::SignPsbt(a) => {
            let key = fetch_key(&client, &a.key)?;
            let k = btc_key(&key)?;
            let psbt = value_or_file(&a.psbt)?;
            let prepared = btc::prepare_psbt(&psbt, k).map_err(|e| e.to_string())?;
            let digests: Vec<[u8; 32]> = prepared.to_sign().iter().map(|i| i.sighash).collect();
            let identity = client::load_identity(opts)?;
            let timeout = Duration::from_secs(a.timeout);
            let sigs: Vec<InputSignature> = match key.scheme {
                Scheme::EcdsaSecp256k1 => request_ecdsa(
                    &client, &identity, &key, &digests, timeout, a.deadline, a.json,
                )?
                .into_iter()
                .map(InputSignature::Ecdsa)
                .collect(),
                _ => {
                    let messages: Vec<Vec<u8>> = digests.iter().map(|d| d.to_vec()).collect();
                    client::request_schnorr(
                        &client,
                        &identity,
                        &schnorr_key(&key)?,
                        &messages,
                        timeout,
                        a.deadline,
                        a.json,
                    )?
                    .into_iter()
                    .map(|r| InputSignature::Schnorr(r.signature))
                    .collect()
                }
            };
            let inputs: Vec<usize> = prepared.to_sign().iter().map(|i| i.index).collect();
            let signed = prepared.finalize(&sigs).map_err(|e| e.to_string())?;
            print(
                a.json,
                &[
                    ("tx_hex", signed.tx_hex.into()),
                    ("txid", signed.txid.into()),
                    ("signed_inputs", inputs.into()),
                    ("psbt", signed.psbt.into()),
                ],
            );
            Ok(())
        }
    }
}

pub fn sol(cmd: SolCommand, opts: &ClientOpts) -> Result<(), String> {
    let client = client::ledger(opts)?;
    match cmd {
        SolCommand::Address(a) => {
            let key = fetch_key(&client, &a.key)?;
            require(&key, Scheme::Ed25519, "Solana")?;
            let address = sol::address(&key.public_key).map_err(|e| e.to_string())?;
            print(a.json, &[("address", address.into())]);
            Ok(())
        }
        SolCommand::SignTx(a) => {
            let key = fetch_key(&client, &a.key)?;
            require(&key, Scheme::Ed25519, "Solana")?;
            let message = value_or_file(&a.message)?;
            let prepared = sol::prepare(&message, &key.public_key).map_err(|e| e.to_string())?;
            let identity = client::load_identity(opts)?;
            let results = client::request_schnorr(
                &client,
                &identity,
                &schnorr_key(&key)?,
                &[prepared.message().to_vec()],
                Duration::from_secs(a.timeout),
                a.deadline,
                a.json,
            )?;
            let r = results.first().ok_or("no signature")?;
            let signed = prepared.assemble(&r.signature).map_err(|e| e.to_string())?;
            let address = sol::address(&key.public_key).map_err(|e| e.to_string())?;
            print(
                a.json,
                &[
                    ("signature", signed.signature.into()),
                    ("transaction", signed.transaction.into()),
                    ("complete", signed.complete.into()),
                    ("signer_index", prepared.signer_index().into()),
                    ("address", address.into()),
                ],
            );
            Ok(())
        }
    }
}
