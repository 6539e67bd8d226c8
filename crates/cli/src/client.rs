//! Client commands: `tessera --ledger URL key create` and `tessera --ledger URL sign`.
//!
//! Each command signs what it submits with the caller's identity key (`--identity FILE`, by
//! default `$XDG_CONFIG_HOME/tessera/identity.pem` or `~/.config/tessera/identity.pem`,
//! created on first use), then waits for the network's result and checks it locally before
//! printing it: a signature is verified against the key's public key.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use rand_core::OsRng;
use sha2::{Digest, Sha256};
use tessera_identity::Identity;
use tessera_ledger::api::RequestView;
use tessera_ledger::client::Client;
use tessera_ledger::command::{Action, Command, Hash32, HexBytes, SignedCommand};

/// Options every client command shares.
#[derive(Args, Debug, Clone)]
pub struct ClientOpts {
    /// The ledger's URL (e.g. the `ledger_url` in a devnet's devnet.json).
    #[arg(long, global = true)]
    pub ledger: Option<String>,
    /// Your identity key (Ed25519 PKCS#8 PEM); created on first use.
    #[arg(long, global = true)]
    pub identity: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
pub enum KeyCommand {
    /// Requests a new threshold key and waits for the operators' key generation.
    Create(KeyCreateArgs),
    /// Refreshes a Schnorr key's shares (same key, new shares on every operator; old shares no
    /// longer combine with new ones) and waits for it.
    Refresh(KeyRefreshArgs),
}

#[derive(Args, Debug)]
pub struct KeyRefreshArgs {
    /// The key id.
    #[arg(long)]
    key: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct KeyCreateArgs {
    /// The keyring whose operators hold the key.
    #[arg(long, default_value = "default")]
    keyring: String,
    /// Key type: ecdsa-secp256k1 (GG20), eddsa-ed25519 or schnorr-bip340 (FROST; the BIP340
    /// key is the BIP341 key-path output key).
    #[arg(long = "type", default_value = "ecdsa-secp256k1")]
    key_type: String,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
#[command(group(clap::ArgGroup::new("what").required(true).args(["message", "digest"])))]
pub struct SignArgs {
    /// The key id (from `key create`).
    #[arg(long)]
    key: String,
    /// The text to sign. An ECDSA or BIP340 key signs its SHA-256; an Ed25519 key signs the
    /// text's bytes themselves (Ed25519 hashes internally).
    #[arg(long)]
    message: Option<String>,
    /// Sign this 32-byte digest (64 hex digits): the prehash for ECDSA, the 32-byte message
    /// for BIP340 and Ed25519.
    #[arg(long)]
    digest: Option<String>,
    /// Give up after this many seconds.
    #[arg(long, default_value_t = 120)]
    timeout: u64,
    /// Approval deadline if the key is in a workspace, from now: a whole number and a unit
    /// `s`, `m`, `h` or `d` (`90s`, `15m`, `2h`, `7d`); the ledger allows 1 minute to 30 days.
    /// Default: 24 h.
    #[arg(long, value_parser = crate::client::parse_deadline)]
    deadline: Option<Duration>,
    #[arg(long)]
    json: bool,
}

/// Parses a `--deadline`: a positive whole number and one unit, `s`, `m`, `h` or `d` (`90s`,
/// `15m`, `2h`, `7d`). Nothing else: no spaces, signs, fractions or combined units.
pub(crate) fn parse_deadline(s: &str) -> Result<Duration, String> {
    let bad = || {
        format!(
            "bad duration {s:?}: expected a positive whole number and a unit s, m, h or d \
             (e.g. 90s, 15m, 2h, 7d)"
        )
    };
    let units: [(&str, u64); 4] = [("s", 1), ("m", 60), ("h", 60 * 60), ("d", 24 * 60 * 60)];
    let (digits, secs_per_unit) = units
        .iter()
        .find_map(|(unit, secs)| s.strip_suffix(unit).map(|d| (d, *secs)))
        .ok_or_else(bad)?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let n: u64 = digits.parse().map_err(|_| bad())?;
    if n == 0 {
        return Err(bad());
    }
    n.checked_mul(secs_per_unit)
        .map(Duration::from_secs)
        .ok_or_else(bad)
}

/// Where the caller's identity lives by default.
pub fn default_identity_path() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("tessera").join("identity.pem"));
    }
    let home = std::env::var_os("HOME")
        .filter(|d| !d.is_empty())
        .ok_or("neither XDG_CONFIG_HOME nor HOME is set; pass --identity FILE")?;
    Ok(PathBuf::from(home)
        .join(".config")
        .join("tessera")
        .join("identity.pem"))
}

pub fn load_identity(opts: &ClientOpts) -> Result<Identity, String> {
    let path = match &opts.identity {
        Some(p) => p.clone(),
        None => default_identity_path()?,
    };
    Identity::load_or_create(&path, &mut OsRng).map_err(|e| e.to_string())
}

pub(crate) fn ledger(opts: &ClientOpts) -> Result<Client, String> {
    let url = opts
        .ledger
        .clone()
        .ok_or("no ledger: pass --ledger URL (a devnet's URL is in its devnet.json)")?;
    Ok(Client::new(&url))
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

/// A `--key` argument: a key id, 64 hex digits.
pub(crate) fn parse_key_id(s: &str) -> Result<Hash32, String> {
    s.parse()
        .map_err(|_| format!("--key {s:?} is not a key id (64 hex digits)"))
}

/// Signs `action`, submits it and returns the request id (the command's id).
pub(crate) fn submit(
    client: &Client,
    identity: &Identity,
    action: Action,
) -> Result<Hash32, String> {
    submit_with_deadline(client, identity, None, |_| action)
}

/// Submits the action `make` builds from the approval deadline: `deadline` after the
/// command's `issued_at_ms`, or `None`.
pub(crate) fn submit_with_deadline(
    client: &Client,
    identity: &Identity,
    deadline: Option<Duration>,
    make: impl FnOnce(Option<u64>) -> Action,
) -> Result<Hash32, String> {
    let info = client
        .info()
        .map_err(|e| format!("ledger unreachable: {e}"))?;
    let at = now_ms();
    let deadline_ms =
        deadline.map(|d| at.saturating_add(u64::try_from(d.as_millis()).unwrap_or(u64::MAX)));
    let cmd = Command::new(info.network, make(deadline_ms), at, &mut OsRng);
    let signed = SignedCommand::sign(identity, cmd);
    let receipt = client.submit(&signed).map_err(|e| e.to_string())?;
    Ok(receipt.id)
}

pub(crate) fn wait(client: &Client, id: &Hash32, timeout: Duration) -> Result<RequestView, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(format!(
                "timed out after {} s waiting for request {id}",
                timeout.as_secs()
            ));
        }
        let wait_ms = u64::try_from(left.as_millis().min(10_000)).unwrap_or(10_000);
        match client.request(id, wait_ms) {
            Ok(v) if v.is_final() => return Ok(v),
            Ok(_) => {}
            Err(tessera_ledger::ClientError::Transport { .. }) => {
                std::thread::sleep(Duration::from_millis(200))
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

pub fn key(cmd: KeyCommand, opts: &ClientOpts) -> Result<(), String> {
    match cmd {
        KeyCommand::Create(args) => key_create(args, opts),
        KeyCommand::Refresh(args) => key_refresh(args, opts),
    }
}

fn key_refresh(args: KeyRefreshArgs, opts: &ClientOpts) -> Result<(), String> {
    let client = ledger(opts)?;
    let identity = load_identity(opts)?;
    let key = parse_key_id(&args.key)?;
    let id = submit(&client, &identity, Action::RequestRefresh { key })?;
    if !args.json {
        eprintln!("refresh request {id} submitted; waiting for every operator…");
    }
    let RequestView::Refresh(r) = wait(&client, &id, Duration::from_secs(args.timeout))? else {
        return Err("the ledger answered with another kind of request".into());
    };
    if r.status != "done" {
        return Err(format!(
            "refresh failed: {}",
            r.reason.unwrap_or_else(|| r.status.clone())
        ));
    }
    let session = r.session.map(|s| s.to_string()).unwrap_or_default();
    if args.json {
        let out = serde_json::json!({
            "request_id": r.request_id.to_string(),
            "key_id": r.key.to_string(),
            "status": r.status,
            "session": session,
            "attempts": r.attempts,
        });
        println!("{out}");
    } else {
        println!("request_id: {}", r.request_id);
        println!("key_id:     {}", r.key);
        println!("session:    {session}");
    }
    Ok(())
}

fn key_create(args: KeyCreateArgs, opts: &ClientOpts) -> Result<(), String> {
    let client = ledger(opts)?;
    let identity = load_identity(opts)?;
    let id = submit(
        &client,
        &identity,
        Action::RequestKey {
            keyring_id: args.keyring.clone(),
            key_type: args.key_type.clone(),
        },
    )?;
    if !args.json {
        eprintln!("key request {id} submitted; waiting for key generation…");
    }
    let view = wait(&client, &id, Duration::from_secs(args.timeout))?;
    let RequestView::Key(k) = view else {
        return Err("the ledger answered with a signature request".into());
    };
    let Some(public_key) = k.public_key.filter(|_| k.status == "active") else {
        return Err(format!(
            "key generation failed: {}",
            k.reason.unwrap_or_else(|| k.status.clone())
        ));
    };
    if args.json {
        let out = serde_json::json!({
            "key_id": k.key_id.to_string(),
            "public_key": public_key,
            "keyring": k.keyring_id,
            "key_type": k.key_type,
            "chain_code": k.chain_code.map(|c| c.to_string()),
        });
        println!("{out}");
    } else {
        println!("key_id:     {}", k.key_id);
        println!("public_key: {public_key}");
    }
    Ok(())
}

/// A finished Schnorr signature from the network, checked against the key.
pub(crate) struct SchnorrResult {
    pub request: Hash32,
    pub signature: [u8; 64],
    pub signers: Vec<u16>,
}

/// A Schnorr key as the ledger shows it.
pub(crate) struct SchnorrKey<'a> {
    pub id: Hash32,
    pub key_type: tessera_schnorr::KeyType,
    pub public_key: &'a [u8],
}

/// Requests a Schnorr (FROST) signature over each message with `key` (all submitted, then
/// awaited) and checks each with the key type's verifier before returning it.
pub(crate) fn request_schnorr(
    client: &Client,
    identity: &Identity,
    key: &SchnorrKey<'_>,
    messages: &[Vec<u8>],
    timeout: Duration,
    deadline: Option<Duration>,
    quiet: bool,
) -> Result<Vec<SchnorrResult>, String> {
    let SchnorrKey {
        id: key,
        key_type,
        public_key,
    } = *key;
    let mut ids = Vec::new();
    for m in messages {
        key_type
            .check_message(m)
            .map_err(|e| format!("cannot sign this with key {key}: {e}"))?;
        ids.push(submit_with_deadline(
            client,
            identity,
            deadline,
            |deadline_ms| Action::RequestSchnorrSignature {
                key,
                message: HexBytes(m.clone()),
                note: None,
                deadline_ms,
            },
        )?);
    }
    if !quiet {
        eprintln!("{} signature request(s) submitted; waiting…", ids.len());
    }
    let deadline = Instant::now() + timeout;
    let mut out = Vec::new();
    for (id, message) in ids.iter().zip(messages) {
        let left = deadline.saturating_duration_since(Instant::now());
        let RequestView::Signature(v) = wait(client, id, left)? else {
            return Err(format!(
                "request {id}: the ledger answered with another kind of request"
            ));
        };
        let Some(sig_hex) = v.signature.filter(|_| v.status == "done") else {
            return Err(format!(
                "request {id}: signing failed: {}",
                v.reason.unwrap_or_else(|| v.status.clone())
            ));
        };
        let signature: [u8; 64] = hex::decode(&sig_hex)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| format!("request {id}: the signature is not 64 bytes of hex"))?;
        key_type
            .verify(public_key, message, &signature)
            .map_err(|e| format!("request {id}: the network returned a bad signature: {e}"))?;
        out.push(SchnorrResult {
            request: *id,
            signature,
            signers: v.signers.unwrap_or_default(),
        });
    }
    Ok(out)
}

fn parse_digest(d: &str) -> Result<[u8; 32], String> {
    hex::decode(d.trim_start_matches("0x"))
        .ok()
        .and_then(|v| <[u8; 32]>::try_from(v).ok())
        .ok_or_else(|| format!("--digest {d:?} is not 32 bytes of hex"))
}

/// `sign` with a Schnorr key: the message rules of the key type, one FROST signature.
fn sign_schnorr(
    args: &SignArgs,
    client: &Client,
    identity: &Identity,
    key: Hash32,
    key_type: tessera_schnorr::KeyType,
    public_key: &str,
) -> Result<(), String> {
    let message: Vec<u8> = match (&args.message, &args.digest, key_type) {
        (Some(m), _, tessera_schnorr::KeyType::Ed25519) => m.as_bytes().to_vec(),
        (Some(m), _, tessera_schnorr::KeyType::Bip340) => Sha256::digest(m.as_bytes()).to_vec(),
        (None, Some(d), _) => parse_digest(d)?.to_vec(),
        (None, None, _) => return Err("pass --message TEXT or --digest HEX".into()),
    };
    let pk = hex::decode(public_key).map_err(|e| e.to_string())?;
    let sk = SchnorrKey {
        id: key,
        key_type,
        public_key: &pk,
    };
    let results = request_schnorr(
        client,
        identity,
        &sk,
        std::slice::from_ref(&message),
        Duration::from_secs(args.timeout),
        args.deadline,
        true,
    )?;
    let r = results.first().ok_or("no signature")?;
    let signature = hex::encode(r.signature);
    if args.json {
        let out = serde_json::json!({
            "request_id": r.request.to_string(),
            "key_id": key.to_string(),
            "key_type": key_type.name(),
            "message": hex::encode(&message),
            "digest": hex::encode(Sha256::digest(&message)),
            "signature": signature,
            "public_key": public_key,
            "signers": r.signers,
        });
        println!("{out}");
    } else {
        println!("request_id:  {}", r.request);
        println!("key_type:    {}", key_type.name());
        println!("message:     {}", hex::encode(&message));
        println!("signature:   {signature}");
        println!("signers:     {:?}", r.signers);
    }
    Ok(())
}

pub fn sign(args: SignArgs, opts: &ClientOpts) -> Result<(), String> {
    let client = ledger(opts)?;
    let identity = load_identity(opts)?;
    let key = parse_key_id(&args.key)?;
    // The key's type decides the protocol; an unknown key is refused by the ledger below.
    if let Ok(view) = client.key(&key) {
        if let Some(kt) = tessera_schnorr::KeyType::from_name(&view.key_type) {
            let Some(public_key) = view.public_key.filter(|_| view.status == "active") else {
                return Err(format!("key {key} is not active (status {})", view.status));
            };
            return sign_schnorr(&args, &client, &identity, key, kt, &public_key);
        }
    }
    let digest: [u8; 32] = match (&args.message, &args.digest) {
        (Some(m), _) => Sha256::digest(m.as_bytes()).into(),
        (None, Some(d)) => parse_digest(d)?,
        (None, None) => return Err("pass --message TEXT or --digest HEX".into()),
    };
    let id = submit_with_deadline(&client, &identity, args.deadline, |deadline_ms| {
        Action::RequestSignature {
            key,
            digest: Hash32(digest),
            tweak: None,
            note: None,
            deadline_ms,
        }
    })?;
    let view = wait(&client, &id, Duration::from_secs(args.timeout))?;
    let RequestView::Signature(v) = view else {
        return Err("the ledger answered with a key request".into());
    };
    let (Some(r), Some(s), Some(recovery_id), Some(public_key)) =
        (v.r, v.s, v.recovery_id, v.public_key.clone())
    else {
        return Err(format!(
            "signing failed: {}",
            v.reason.unwrap_or_else(|| v.status.clone())
        ));
    };
    // Check what the network returned before handing it on.
    let pk = hex::decode(&public_key).map_err(|e| e.to_string())?;
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(&pk).map_err(|e| e.to_string())?;
    let sig = k256::ecdsa::Signature::from_scalars(r.0, s.0).map_err(|e| e.to_string())?;
    vk.verify_prehash(&digest, &sig)
        .map_err(|_| "the network returned a signature that does not verify".to_string())?;
    let signers = v.signers.unwrap_or_default();
    if args.json {
        let out = serde_json::json!({
            "request_id": v.request_id.to_string(),
            "key_id": v.key.to_string(),
            "digest": hex::encode(digest),
            "r": r.to_string(),
            "s": s.to_string(),
            "recovery_id": recovery_id,
            "public_key": public_key,
            "signers": signers,
        });
        println!("{out}");
    } else {
        println!("request_id:  {}", v.request_id);
        println!("digest:      {}", hex::encode(digest));
        println!("r:           {r}");
        println!("s:           {s}");
        println!("recovery_id: {recovery_id}");
        println!("signers:     {signers:?}");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_parse_whole_numbers_with_one_unit() {
        assert_eq!(parse_deadline("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_deadline("15m"), Ok(Duration::from_secs(15 * 60)));
        assert_eq!(parse_deadline("2h"), Ok(Duration::from_secs(2 * 3600)));
        assert_eq!(parse_deadline("7d"), Ok(Duration::from_secs(7 * 86400)));
        assert_eq!(parse_deadline("007m"), Ok(Duration::from_secs(7 * 60)));
    }

    #[test]
    fn deadlines_refuse_anything_else() {
        for bad in [
            "",
            "s",
            "15",
            "0s",
            "0d",
            "-5m",
            "+5m",
            "1.5h",
            " 5m",
            "5m ",
            "5 m",
            "5M",
            "5w",
            "1h30m",
            "5ms",
            "m5",
            "٣m",
            "5é",
            "99999999999999999999s",
            "213503982334602d",
        ] {
            let e = parse_deadline(bad).unwrap_err();
            assert!(
                e.contains("expected a positive whole number"),
                "{bad:?}: {e}"
            );
        }
    }
}
