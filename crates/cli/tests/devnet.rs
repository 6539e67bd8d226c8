//! System tests with real processes on loopback: `tessera devnet` starts a ledger and operator
//! nodes; the client commands create a key and sign; nodes are killed with SIGKILL in the middle
//! of presigning and of signing and come back; a node running a binary that is not on the
//! allowlist is refused by its peers and by the ledger.
//!
//! Every signature is checked by OpenSSL's command-line tool, which shares no code with ours.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod common;

use std::collections::BTreeSet;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::{exe, http_get, openssl_verifies, sign_verified, wait_until, Devnet};
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};
use tessera_ledger::{Action, Client};

struct Signed {
    r: String,
}

fn sign_and_check(net: &Devnet, key: &str, public_key: &[u8], i: usize) -> Signed {
    let message = format!("devnet message {i}");
    let v = sign_verified(net, key, public_key, &message, None, &i.to_string());
    assert_eq!(v["signers"].as_array().unwrap().len(), 3);
    Signed {
        r: v["r"].as_str().unwrap().to_string(),
    }
}

/// Waits for a presign session of `key` that operator `who` is in and has not finished, then
/// kills that operator's process with SIGKILL. Returns the session.
fn kill_during_presign(net: &Devnet, who: u16) -> tessera_ledger::Hash32 {
    let mut target = None;
    wait_until(
        "a presign session with the victim in it",
        Duration::from_secs(120),
        || {
            let (st, log) = net.ledger_state();
            target = log
                .iter()
                .rev()
                .find_map(|e| match &e.command.command.action {
                    Action::StartPresign {
                        session, signers, ..
                    } if signers.contains(&who) => st
                        .presign(session)
                        .filter(|p| p.aborted.is_none() && !p.ready.contains(&who))
                        .map(|p| p.id),
                    _ => None,
                });
            target.is_some()
        },
    );
    let pid = net.node_pid(usize::from(who));
    kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
    target.unwrap()
}

#[test]
fn five_nodes_sign_twenty_messages_through_sigkills() {
    let net = Devnet::start("sigkill", 5, 3);
    let key = net.json(&["key", "create", "--json"]);
    let key_id = key["key_id"].as_str().unwrap().to_string();
    let public_key = hex::decode(key["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(public_key.len(), 33);

    let mut rs = Vec::new();
    for i in 0..6 {
        rs.push(sign_and_check(&net, &key_id, &public_key, i).r);
    }

    // SIGKILL during presigning: the pool refills after every signature.
    let victim = 1u16;
    let old_pid = net.node_pid(usize::from(victim));
    let session = kill_during_presign(&net, victim);
    wait_until(
        "the supervisor restarts the killed node",
        Duration::from_secs(30),
        || net.node_pid(usize::from(victim)) != old_pid,
    );
    for i in 6..12 {
        rs.push(sign_and_check(&net, &key_id, &public_key, i).r);
    }
    let (st, _) = net.ledger_state();
    let p = st.presign(&session).unwrap();
    assert!(
        !p.ready.contains(&victim),
        "the killed node cannot have finished the session it was killed in"
    );

    // SIGKILL during signing: kill a signer as soon as the ledger assigns it a signature.
    let (tx, rx) = std::sync::mpsc::channel();
    {
        let ledger = net.ledger.clone();
        let identity = net.identity.clone();
        let key_id = key_id.clone();
        std::thread::spawn(move || {
            let out = Command::new(exe())
                .args(["--ledger", &ledger, "--identity"])
                .arg(&identity)
                .args([
                    "sign",
                    "--key",
                    &key_id,
                    "--message",
                    "devnet message 12",
                    "--json",
                ])
                .output()
                .unwrap();
            let _ = tx.send(out);
        });
    }
    let mut killed = None;
    wait_until(
        "a StartSign for the request",
        Duration::from_secs(120),
        || {
            let (_, log) = net.ledger_state();
            let found = log
                .iter()
                .rev()
                .find_map(|e| match &e.command.command.action {
                    Action::StartSign { presign, .. } => Some(*presign),
                    _ => None,
                });
            if let Some(presign) = found {
                let (st, _) = net.ledger_state();
                let signers = st.presign(&presign).unwrap().signers.clone();
                let who = signers[0];
                let pid = net.node_pid(usize::from(who));
                kill(Pid::from_raw(pid), Signal::SIGKILL).unwrap();
                killed = Some(who);
            }
            found.is_some()
        },
    );
    let out = rx.recv_timeout(Duration::from_secs(300)).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let digest: [u8; 32] = Sha256::digest(b"devnet message 12").into();
    let (r, s) = (
        hex::decode(v["r"].as_str().unwrap()).unwrap(),
        hex::decode(v["s"].as_str().unwrap()).unwrap(),
    );
    assert!(openssl_verifies(&public_key, &digest, &r, &s, "12"));
    rs.push(v["r"].as_str().unwrap().to_string());
    assert!(killed.is_some());

    for i in 13..20 {
        rs.push(sign_and_check(&net, &key_id, &public_key, i).r);
    }

    // No presignature was used twice: every signature has its own r.
    let distinct: BTreeSet<&String> = rs.iter().collect();
    assert_eq!(distinct.len(), 20, "two signatures share an r");

    // The ledger agrees: 20 signature requests done, each by exactly the threshold.
    let (st, _) = net.ledger_state();
    let done = st
        .signature_requests()
        .into_iter()
        .filter(|r| {
            matches!(
                r.status,
                tessera_ledger::state::SignatureStatus::Done { .. }
            )
        })
        .count();
    assert_eq!(done, 20);

    // Metrics are served and count the work (on a node that was never restarted: counters
    // start again with the process).
    let spared = (0..5u16)
        .find(|i| *i != victim && Some(*i) != killed)
        .unwrap();
    let metrics_url = net.state()["nodes"][usize::from(spared)]["metrics_url"]
        .as_str()
        .unwrap()
        .to_string();
    let body = http_get(&metrics_url);
    assert!(
        body.contains("tessera_sessions_total{protocol=\"keygen\",outcome=\"ok\"} 1"),
        "{body}"
    );
    assert!(body.contains("tessera_presignature_pool{key="), "{body}");
}

#[test]
fn a_node_with_an_unlisted_binary_is_refused_by_peers_and_ledger() {
    let mut net = Devnet::start("measure", 3, 2);
    // Take the supervisor away so that it does not restart the node we replace; Drop cleans
    // up its orphaned children through devnet.json.
    let mut sup = net.supervisor.take().unwrap();
    sup.kill().unwrap();
    sup.wait().unwrap();

    let victim = 2usize;
    let node = net.state()["nodes"][victim].clone();
    let key = node["id"].as_str().unwrap().to_string();
    kill(Pid::from_raw(net.node_pid(victim)), Signal::SIGKILL).unwrap();

    // The same program with one byte appended: it runs the same, but measures differently.
    let altered = net.dir.join("tessera-altered");
    let mut bytes = std::fs::read(exe()).unwrap();
    bytes.push(0);
    std::fs::write(&altered, bytes).unwrap();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&altered, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let log = net.dir.join("altered.log");
    let mut altered_node = Command::new(&altered)
        .args(["node", "--config"])
        .arg(net.dir.join(format!("net/node-{victim}/config.toml")))
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();

    let client = Client::new(&net.ledger);
    let mut refused_by_ledger = String::new();
    wait_until(
        "the ledger to refuse the altered node's evidence",
        Duration::from_secs(60),
        || {
            let ops = client.operators().unwrap();
            let row = ops.iter().find(|o| o.identity.to_string() == key).unwrap();
            refused_by_ledger = row.error.clone().unwrap_or_default();
            !row.live && refused_by_ledger.contains("not in the allowlist")
        },
    );

    // Peers refuse it at connection time: each honest node's transport counts the refusal.
    let urls: Vec<String> = (0..3)
        .filter(|&i| i != victim)
        .map(|i| {
            net.state()["nodes"][i]["metrics_url"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    wait_until(
        "both peers to refuse the altered node",
        Duration::from_secs(60),
        || {
            urls.iter().all(|u| {
                http_get(u)
                    .lines()
                    .find(|l| l.starts_with("tessera_transport{name=\"admission_refusals\"}"))
                    .and_then(|l| l.rsplit(' ').next())
                    .and_then(|n| n.parse::<u64>().ok())
                    .is_some_and(|n| n > 0)
            })
        },
    );
    let _ = altered_node.kill();
    let _ = altered_node.wait();
}

/// The 64-hex-digit runs in `line` (log fields such as `key=…`, `presign=…`, in order).
fn hex_ids(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut run = String::new();
    for c in line.chars().chain(std::iter::once(' ')) {
        if c.is_ascii_hexdigit() {
            run.push(c);
        } else {
            if run.len() == 64 {
                out.push(run.clone());
            }
            run.clear();
        }
    }
    out
}

/// A node keeps its next presignature armed: taken out of the sealed store (tombstoned) ahead
/// of the request, so that the request's round waits for no disk write. Killed while holding
/// one, it loses it; after the restart it reports the presign session, the ledger aborts it,
/// and signing carries on with other presignatures.
#[test]
fn a_restarted_node_reports_the_presignature_it_had_armed() {
    let net = Devnet::start_with_env(
        "armed",
        3,
        3,
        &["--pool", "2"],
        &[("RUST_LOG", "info,tessera_node::jobs=debug")],
    );
    let key = net.json(&["key", "create", "--json"]);
    let key_id = key["key_id"].as_str().unwrap().to_string();
    let public_key = hex::decode(key["public_key"].as_str().unwrap()).unwrap();
    let mut rs = vec![sign_and_check(&net, &key_id, &public_key, 0).r];
    let key_hash: tessera_ledger::Hash32 = key_id.parse().unwrap();

    // A full pool, and node 0 (a signer of every session in a 3-of-3) holding one armed.
    let log_path = std::path::PathBuf::from(net.state()["nodes"][0]["log"].as_str().unwrap());
    let mut armed = None;
    wait_until(
        "a full pool and an armed presignature on node 0",
        Duration::from_secs(300),
        || {
            let (st, _) = net.ledger_state();
            let available = st
                .presigns_for_key(&key_hash)
                .iter()
                .filter(|p| p.is_available())
                .count();
            let log = std::fs::read_to_string(&log_path).unwrap_or_default();
            armed = log
                .lines()
                .rfind(|l| l.contains("presignature armed"))
                .and_then(|l| hex_ids(l).get(1).cloned());
            available == 2 && armed.is_some()
        },
    );
    let armed: tessera_ledger::Hash32 = armed.unwrap().parse().unwrap();
    let (st, _) = net.ledger_state();
    assert!(
        st.presign(&armed).is_some_and(|p| p.is_available()),
        "node 0 armed a presignature the ledger can still assign"
    );

    let old_pid = net.node_pid(0);
    kill(Pid::from_raw(old_pid), Signal::SIGKILL).unwrap();
    wait_until(
        "the supervisor restarts node 0",
        Duration::from_secs(30),
        || net.node_pid(0) != old_pid,
    );
    let node0: tessera_identity::IdentityKey = net.state()["nodes"][0]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    wait_until(
        "node 0 reports the armed presignature and the ledger aborts its session",
        Duration::from_secs(60),
        || {
            let (st, log) = net.ledger_state();
            let reported = log.iter().any(|e| {
                e.command.signer == node0
                    && matches!(
                        &e.command.command.action,
                        Action::SessionFailed { session, check, .. }
                            if *session == armed && check == "armed presignature lost in a restart"
                    )
            });
            reported && st.presign(&armed).is_some_and(|p| p.aborted.is_some())
        },
    );

    // Signing goes on, on other presignatures; none was used twice.
    for i in 1..4 {
        rs.push(sign_and_check(&net, &key_id, &public_key, i).r);
    }
    let (st, _) = net.ledger_state();
    assert!(
        st.presign(&armed).is_some_and(|p| p.assigned.is_none()),
        "the lost presignature was never assigned to a request"
    );
    let distinct: BTreeSet<&String> = rs.iter().collect();
    assert_eq!(distinct.len(), rs.len(), "two signatures share an r");
}
