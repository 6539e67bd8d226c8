//! Chain commands over the running network: `tessera eth …` and `tessera btc …`.
//!
//! Each command reads the key (type and public key) from the ledger, lets `tessera-chains`
//! prepare what must be signed, requests one signature per digest from the network (all
//! submitted first, so the operators can work on them together), checks each result against the
//! key and assembles the chain's signed form.
//!
//! Only `ecdsa-secp256k1` keys sign here. Schnorr keys (P2TR, Solana) fail with the key type
//! named; once the network signs them, routing is a match on [`Scheme`] around
//! [`btc::PreparedPsbt`] and `tessera_chains::sol::prepare`, which already take BIP340 and
//! Ed25519 signatures.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use tessera_chains::btc::{self, BtcKey, InputSignature};
use tessera_chains::{eth, EcdsaSignature, Scheme};
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
    /// The key's address: P2WPKH for an ECDSA key.
    Address(BtcAddressArgs),
    /// Signs every PSBT input that spends from the key; prints `tx_hex` and `txid` when the
    /// transaction is complete, else the updated PSBT.
    SignPsbt(BtcSignPsbtArgs),
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

fn parse_key_id(s: &str) -> Result<Hash32, String> {
    s.parse()
        .map_err(|_| format!("--key {s:?} is not a key id (64 hex digits)"))
}

fn fetch_key(client: &Client, id: &str) -> Result<Key, String> {
    let id = parse_key_id(id)?;
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

/// Refuses keys this build cannot sign with over the network.
fn require_ecdsa(key: &Key, chain: &str) -> Result<(), String> {
    match key.scheme {
        Scheme::EcdsaSecp256k1 => Ok(()),
        _ => Err(format!(
            "key {} has type {:?}; {chain} signing here needs an ecdsa-secp256k1 key \
             (Schnorr signing is not available in this build)",
            key.id, key.key_type
        )),
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
    quiet: bool,
) -> Result<Vec<EcdsaSignature>, String> {
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&key.public_key)
        .map_err(|e| format!("key {}: {e}", key.id))?;
    let mut ids = Vec::new();
    for d in digests {
        let id = client::submit(
            client,
            identity,
            Action::RequestSignature {
                key: key.id,
                digest: Hash32(*d),
                tweak: None,
                note: None,
            },
        )?;
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
            require_ecdsa(&key, "Ethereum")?;
            let address = eth::address(&key.public_key).map_err(|e| e.to_string())?;
            print(a.json, &[("address", address.into())]);
            Ok(())
        }
        EthCommand::SignTx(a) => {
            let key = fetch_key(&client, &a.key)?;
            require_ecdsa(&key, "Ethereum")?;
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
            require_ecdsa(&key, "Ethereum")?;
            let identity = client::load_identity(opts)?;
            let digest = eth::personal_message_hash(a.message.as_bytes());
            let sigs = request_ecdsa(
                &client,
                &identity,
                &key,
                &[digest],
                Duration::from_secs(a.timeout),
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
            require_ecdsa(&key, "Bitcoin")?;
            let network = btc::parse_network(&a.network).map_err(|e| e.to_string())?;
            let k = BtcKey::new(key.scheme, &key.public_key).map_err(|e| e.to_string())?;
            print(
                a.json,
                &[
                    ("address", k.address(network).to_string().into()),
                    ("type", "p2wpkh".into()),
                ],
            );
            Ok(())
        }
        BtcCommand::SignPsbt(a) => {
            let key = fetch_key(&client, &a.key)?;
            require_ecdsa(&key, "Bitcoin")?;
            let psbt = match a.psbt.strip_prefix('@') {
                Some(path) => {
                    std::fs::read_to_string(path).map_err(|e| format!("cannot read {path}: {e}"))?
                }
                None => a.psbt.clone(),
            };
            let k = BtcKey::new(key.scheme, &key.public_key).map_err(|e| e.to_string())?;
            let prepared = btc::prepare_psbt(&psbt, k).map_err(|e| e.to_string())?;
            let digests: Vec<[u8; 32]> = prepared.to_sign().iter().map(|i| i.sighash).collect();
            let identity = client::load_identity(opts)?;
            let sigs = request_ecdsa(
                &client,
                &identity,
                &key,
                &digests,
                Duration::from_secs(a.timeout),
                a.json,
            )?;
            let inputs: Vec<usize> = prepared.to_sign().iter().map(|i| i.index).collect();
            let sigs: Vec<InputSignature> = sigs.into_iter().map(InputSignature::Ecdsa).collect();
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
