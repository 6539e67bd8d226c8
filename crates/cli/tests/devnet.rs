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

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sha2::{Digest, Sha256};
use tessera_ledger::{Action, Client, State};

struct Devnet {
    supervisor: Option<Child>,
    dir: PathBuf,
    ledger: String,
    identity: PathBuf,
}

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_tessera")
}

impl Devnet {
    fn start(name: &str, operators: u16, threshold: u16) -> Devnet {
        let dir =
            std::env::temp_dir().join(format!("tessera-devnet-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let identity = dir.join("owner.pem");
        let mut child = Command::new(exe())
            .arg("--identity")
            .arg(&identity)
            .args(["devnet", "--operators", &operators.to_string()])
            .args(["--threshold", &threshold.to_string()])
            .arg("--dir")
            .arg(dir.join("net"))
            .args(["--insecure-test-primes", "--round-timeout", "30"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the devnet");
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let line = rx
            .recv_timeout(Duration::from_secs(300))
            .expect("the devnet prints a ready line");
        assert!(line.starts_with("devnet ready: ledger http://"), "{line}");
        let state = read_state(&dir.join("net"));
        let ledger = state["ledger_url"].as_str().unwrap().to_string();
        assert_eq!(
            state["nodes"].as_array().unwrap().len(),
            usize::from(operators)
        );
        Devnet {
            supervisor: Some(child),
            dir,
            ledger,
            identity,
        }
    }

    fn cli(&self, args: &[&str]) -> Output {
        Command::new(exe())
            .args(["--ledger", &self.ledger, "--identity"])
            .arg(&self.identity)
            .args(args)
            .output()
            .expect("run tessera")
    }

    fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "tessera {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("one JSON object")
    }

    fn state(&self) -> serde_json::Value {
        read_state(&self.dir.join("net"))
    }

    fn node_pid(&self, i: usize) -> i32 {
        self.state()["nodes"][i]["pid"].as_i64().unwrap() as i32
    }

    /// The ledger's log, folded and verified as a node does.
    fn ledger_state(&self) -> (State, Vec<tessera_ledger::Entry>) {
        let client = Client::new(&self.ledger);
        let info = client.info().unwrap();
        let mut st = State::new(info.network, info.ledger_key);
        let mut all = Vec::new();
        loop {
            let page = client.log(all.len() as u64, 1000, 0).unwrap();
            if page.is_empty() {
                break;
            }
            for e in page {
                st.apply(&e).expect("an honest ledger's log verifies");
                all.push(e);
            }
        }
        (st, all)
    }
}

impl Drop for Devnet {
    fn drop(&mut self) {
        let state = std::fs::read_to_string(self.dir.join("net/devnet.json")).ok();
        if let Some(mut c) = self.supervisor.take() {
            let _ = kill(Pid::from_raw(c.id() as i32), Signal::SIGTERM);
            let deadline = Instant::now() + Duration::from_secs(30);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = c.try_wait() {
                    break;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            let _ = c.kill();
            let _ = c.wait();
        }
        // Whatever is left (a supervisor killed by the test leaves its children behind).
        if let Some(v) = state.and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok()) {
            let mut pids: Vec<i64> = v["nodes"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|n| n["pid"].as_i64())
                .collect();
            pids.extend(v["ledger_pid"].as_i64());
            for p in pids {
                let _ = kill(Pid::from_raw(p as i32), Signal::SIGKILL);
            }
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}

fn read_state(dir: &Path) -> serde_json::Value {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(s) = std::fs::read_to_string(dir.join("devnet.json")) {
            if let Ok(v) = serde_json::from_str(&s) {
                return v;
            }
        }
        assert!(
            Instant::now() < deadline,
            "no devnet.json in {}",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// OpenSSL's verdict on (r, s) over `digest` under the SEC1 `public_key`.
fn openssl_verifies(public_key: &[u8], digest: &[u8; 32], r: &[u8], s: &[u8], tag: &str) -> bool {
    let vk = k256::ecdsa::VerifyingKey::from_sec1_bytes(public_key).unwrap();
    let sig = k256::ecdsa::Signature::from_scalars(
        <[u8; 32]>::try_from(r).unwrap(),
        <[u8; 32]>::try_from(s).unwrap(),
    )
    .unwrap();
    // Our own verifier must agree too.
    assert!(vk.verify_prehash(digest, &sig).is_ok());
    let dir = std::env::temp_dir().join(format!(
        "tessera-devnet-openssl-{}-{tag}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let mut spki = hex::decode("3056301006072a8648ce3d020106052b8104000a034200").unwrap();
    spki.extend_from_slice(vk.to_encoded_point(false).as_bytes());
    std::fs::write(dir.join("pk.der"), spki).unwrap();
    std::fs::File::create(dir.join("digest.bin"))
        .and_then(|mut f| f.write_all(digest))
        .unwrap();
    std::fs::write(dir.join("sig.der"), sig.to_der().as_bytes()).unwrap();
    let out = Command::new("openssl")
        .args(["pkeyutl", "-verify", "-pubin", "-keyform", "DER", "-inkey"])
        .arg(dir.join("pk.der"))
        .arg("-in")
        .arg(dir.join("digest.bin"))
        .arg("-sigfile")
        .arg(dir.join("sig.der"))
        .output()
        .expect("openssl is installed (.ci/run installs it)");
    let _ = std::fs::remove_dir_all(&dir);
    out.status.success() && String::from_utf8_lossy(&out.stdout).contains("Verified Successfully")
}

struct Signed {
    r: String,
}

fn sign_and_check(net: &Devnet, key: &str, public_key: &[u8], i: usize) -> Signed {
    let message = format!("devnet message {i}");
    let v = net.json(&["sign", "--key", key, "--message", &message, "--json"]);
    let digest: [u8; 32] = Sha256::digest(message.as_bytes()).into();
    assert_eq!(v["digest"].as_str().unwrap(), hex::encode(digest));
    assert_eq!(v["key_id"].as_str().unwrap(), key);
    let r = hex::decode(v["r"].as_str().unwrap()).unwrap();
    let s = hex::decode(v["s"].as_str().unwrap()).unwrap();
    assert!(
        openssl_verifies(public_key, &digest, &r, &s, &i.to_string()),
        "OpenSSL rejects signature {i}"
    );
    assert!(v["recovery_id"].as_u64().unwrap() <= 3);
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

/// A plain HTTP GET on loopback (the metrics endpoint), with no client library.
fn http_get(url: &str) -> String {
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_once('/').unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "GET /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut body = String::new();
    std::io::Read::read_to_string(&mut s, &mut body).unwrap();
    body
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
