//! `tessera keyring change`: grows, shrinks or re-thresholds a keyring. The ledger reshares
//! every key of the keyring to the new committee (same public keys, new shares); the command
//! waits until the keyring switched, or the change failed.

use std::time::{Duration, Instant};

use clap::{Args, Subcommand};
use tessera_identity::IdentityKey;
use tessera_ledger::command::{Action, Hash32, Operator};

use crate::client::{ledger, load_identity, submit, ClientOpts};

#[derive(Subcommand, Debug)]
pub enum KeyringCommand {
    /// Replaces the keyring's committee: adds and removes operators and sets the threshold.
    /// Every key of the keyring is reshared to the new committee with the same public key.
    Change(ChangeArgs),
    /// Shows the keyring's committee: threshold, operators in index order, running change.
    Show(ShowArgs),
}

#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The keyring.
    #[arg(long, default_value = "default")]
    keyring: String,
    #[arg(long)]
    json: bool,
}

#[derive(Args, Debug)]
pub struct ChangeArgs {
    /// The keyring to change.
    #[arg(long, default_value = "default")]
    keyring: String,
    /// An operator to add: `IDENTITY,HOST:PORT,REGION` (identity: 64 hex digits). Repeat for
    /// several.
    #[arg(long = "add", value_name = "IDENTITY,ADDRESS,REGION")]
    add: Vec<String>,
    /// An operator to remove, by identity. Repeat for several.
    #[arg(long = "remove", value_name = "IDENTITY")]
    remove: Vec<String>,
    /// Add every spare node of the devnet whose devnet.json this is (`in_keyring: false`).
    #[arg(long, value_name = "DEVNET_JSON")]
    add_devnet_spares: Option<std::path::PathBuf>,
    /// The new committee's threshold.
    #[arg(long)]
    threshold: u16,
    /// Return once the change is accepted, without waiting for the resharing.
    #[arg(long)]
    no_wait: bool,
    /// Give up waiting after this many seconds (the change itself goes on).
    #[arg(long, default_value_t = 7200)]
    timeout: u64,
    #[arg(long)]
    json: bool,
}

pub fn run(cmd: KeyringCommand, opts: &ClientOpts) -> Result<(), String> {
    match cmd {
        KeyringCommand::Change(args) => change(args, opts),
        KeyringCommand::Show(args) => show(args, opts),
    }
}

fn show(args: ShowArgs, opts: &ClientOpts) -> Result<(), String> {
    let client = ledger(opts)?;
    let k = client
        .keyring(&args.keyring)
        .map_err(|e| format!("keyring {:?}: {e}", args.keyring))?;
    if args.json {
        println!("{}", serde_json::to_string(&k).map_err(|e| e.to_string())?);
        return Ok(());
    }
    println!("keyring_id: {}", k.keyring_id);
    println!("committee:  {}-of-{}", k.threshold, k.operators.len());
    println!(
        "regions:    at least {} per signing set",
        k.min_regions.max(1)
    );
    if let Some(c) = k.change {
        println!("changing:   {c}");
    }
    for (i, o) in k.operators.iter().enumerate() {
        println!("operator {i}: {} {} {}", o.identity, o.address, o.region);
    }
    Ok(())
}

fn parse_identity(s: &str, what: &str) -> Result<IdentityKey, String> {
    s.trim()
        .parse()
        .map_err(|_| format!("{what} {s:?}: the identity is not 64 hex digits"))
}

/// `IDENTITY,HOST:PORT,REGION`.
fn parse_operator(s: &str) -> Result<Operator, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let [identity, address, region] = parts.as_slice() else {
        return Err(format!(
            "--add {s:?}: expected IDENTITY,HOST:PORT,REGION (three comma-separated fields)"
        ));
    };
    if address.parse::<std::net::SocketAddr>().is_err() {
        return Err(format!("--add {s:?}: {address:?} is not HOST:PORT"));
    }
    if region.is_empty() {
        return Err(format!("--add {s:?}: the region is empty"));
    }
    Ok(Operator {
        identity: parse_identity(identity, "--add")?,
        address: (*address).to_string(),
        region: (*region).to_string(),
    })
}

/// The spare nodes a devnet.json lists.
fn devnet_spares(path: &std::path::Path) -> Result<Vec<Operator>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
    let v: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))?;
    let nodes = v
        .get("nodes")
        .and_then(|n| n.as_array())
        .ok_or_else(|| format!("{}: no nodes", path.display()))?;
    let mut out = Vec::new();
    for n in nodes {
        if n.get("in_keyring").and_then(|b| b.as_bool()) != Some(false) {
            continue;
        }
        let field = |k: &str| {
            n.get(k)
                .and_then(|x| x.as_str())
                .map(str::to_string)
                .ok_or_else(|| format!("{}: a spare node has no {k}", path.display()))
        };
        out.push(Operator {
            identity: parse_identity(&field("id")?, "devnet.json node")?,
            address: field("address")?,
            region: field("region")?,
        });
    }
    Ok(out)
}

/// The new committee: the current operators minus `remove`, plus `add`, in that order (the
/// operators that stay keep their relative order).
fn committee(
    current: Vec<Operator>,
    add: Vec<Operator>,
    remove: &[IdentityKey],
) -> Result<Vec<Operator>, String> {
    for r in remove {
        if !current.iter().any(|o| o.identity == *r) {
            return Err(format!("--remove {r}: not an operator of the keyring"));
        }
    }
    let mut ops: Vec<Operator> = current
        .into_iter()
        .filter(|o| !remove.contains(&o.identity))
        .collect();
    for a in add {
        if ops.iter().any(|o| o.identity == a.identity) {
            return Err(format!("--add {}: already in the committee", a.identity));
        }
        ops.push(a);
    }
    Ok(ops)
}

fn change(args: ChangeArgs, opts: &ClientOpts) -> Result<(), String> {
    let client = ledger(opts)?;
    let identity = load_identity(opts)?;
    let mut add = args
        .add
        .iter()
        .map(|s| parse_operator(s))
        .collect::<Result<Vec<_>, _>>()?;
    if let Some(p) = &args.add_devnet_spares {
        add.extend(devnet_spares(p)?);
    }
    let remove = args
        .remove
        .iter()
        .map(|s| parse_identity(s, "--remove"))
        .collect::<Result<Vec<_>, _>>()?;
    // The current committee, in keyring order.
    let current = client
        .keyring(&args.keyring)
        .map_err(|e| format!("keyring {:?}: {e}", args.keyring))?
        .operators;
    if current.is_empty() {
        return Err(format!(
            "keyring {:?} has no operators (is it registered?)",
            args.keyring
        ));
    }
    let operators = committee(current, add, &remove)?;
    let n = operators.len();
    let id = submit(
        &client,
        &identity,
        Action::ChangeKeyring {
            keyring_id: args.keyring.clone(),
            threshold: args.threshold,
            operators,
        },
    )?;
    if args.no_wait {
        print_change(&args, &id, "running", None, n);
        return Ok(());
    }
    if !args.json {
        eprintln!(
            "keyring change {id} accepted: {}-of-{n}; resharing every key…",
            args.threshold
        );
    }
    let deadline = Instant::now() + Duration::from_secs(args.timeout);
    loop {
        match client.keyring_change(&id) {
            Ok(v) if v.status == "done" => {
                print_change(&args, &id, &v.status, None, n);
                return Ok(());
            }
            Ok(v) if v.status == "failed" => {
                return Err(format!(
                    "keyring change {id} failed: {}",
                    v.reason.unwrap_or_else(|| "no reason given".into())
                ));
            }
            Ok(_) | Err(tessera_ledger::ClientError::Transport { .. }) => {}
            Err(e) => return Err(e.to_string()),
        }
        if Instant::now() >= deadline {
            return Err(format!(
                "timed out after {} s waiting for keyring change {id} (it goes on)",
                args.timeout
            ));
        }
        std::thread::sleep(Duration::from_secs(1));
    }
}

fn print_change(args: &ChangeArgs, id: &Hash32, status: &str, reason: Option<&str>, n: usize) {
    if args.json {
        let out = serde_json::json!({
            "change_id": id.to_string(),
            "keyring_id": args.keyring,
            "threshold": args.threshold,
            "operators": n,
            "status": status,
            "reason": reason,
        });
        println!("{out}");
    } else {
        println!("change_id:  {id}");
        println!("keyring_id: {}", args.keyring);
        println!("committee:  {}-of-{n}", args.threshold);
        println!("status:     {status}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(b: u8) -> Operator {
        Operator {
            identity: tessera_identity::Identity::from_secret_bytes(&[b; 32]).public(),
            address: format!("127.0.0.1:{}", 7000 + u16::from(b)),
            region: "eu".into(),
        }
    }

    #[test]
    fn operator_arguments_are_parsed_strictly() {
        let id = tessera_identity::Identity::from_secret_bytes(&[7u8; 32])
            .public()
            .to_string();
        let o = parse_operator(&format!("{id},127.0.0.1:7100,us")).unwrap();
        assert_eq!(o.address, "127.0.0.1:7100");
        assert_eq!(o.region, "us");
        for bad in [
            format!("{id},127.0.0.1:7100"),
            format!("{id},localhost,us"),
            format!("{id},127.0.0.1:7100,"),
            "zz,127.0.0.1:7100,us".to_string(),
            format!("{id},127.0.0.1:7100,us,extra"),
        ] {
            assert!(parse_operator(&bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn committee_keeps_order_removes_and_refuses_duplicates() {
        let got = committee(vec![op(1), op(2), op(3)], vec![op(4)], &[op(2).identity]).unwrap();
        let ids: Vec<_> = got.iter().map(|o| o.identity).collect();
        assert_eq!(ids, vec![op(1).identity, op(3).identity, op(4).identity]);
        assert!(committee(vec![op(1)], vec![op(1)], &[]).is_err());
        assert!(committee(vec![op(1)], vec![], &[op(9).identity]).is_err());
    }
}
