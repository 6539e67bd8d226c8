//! The devnet harness shared by the system tests: `tessera devnet` as a child process, the
//! client commands against it, the ledger's log folded as a node folds it, metrics over plain
//! HTTP, and OpenSSL as an independent signature verifier.
//!
//! Each test file includes it with `mod common;`; items one of them does not use are marked
//! `#[allow(dead_code)]`.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;
use sha2::Digest as _;
use tessera_ledger::{Client, Entry, Rejection, State};

pub struct Devnet {
    pub supervisor: Option<Child>,
    pub dir: PathBuf,
    pub ledger: String,
    pub identity: PathBuf,
}

pub fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_tessera")
}

impl Devnet {
    #[allow(dead_code)]
    pub fn start(name: &str, operators: u16, threshold: u16) -> Devnet {
        Devnet::start_with(name, operators, threshold, &[])
    }

    /// [`Devnet::start`] with more `tessera devnet` arguments (e.g. `--pool 2`).
    pub fn start_with(name: &str, operators: u16, threshold: u16, extra: &[&str]) -> Devnet {
        Devnet::start_with_env(name, operators, threshold, extra, &[])
    }

    /// [`Devnet::start_with`] with environment variables for the devnet and its processes
    /// (e.g. `RUST_LOG`).
    pub fn start_with_env(
        name: &str,
        operators: u16,
        threshold: u16,
        extra: &[&str],
        env: &[(&str, &str)],
    ) -> Devnet {
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
            .arg("--insecure-test-primes")
            .args(if extra.contains(&"--round-timeout") {
                &[][..]
            } else {
                &["--round-timeout", "30"][..]
            })
            .args(extra)
            .envs(env.iter().copied())
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
            .recv_timeout(Duration::from_secs(600))
            .expect("the devnet prints a ready line");
        assert!(line.starts_with("devnet ready: ledger http://"), "{line}");
        let state = read_state(&dir.join("net"));
        let ledger = state["ledger_url"].as_str().unwrap().to_string();
        let in_keyring = state["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|n| n["in_keyring"] == serde_json::json!(true))
            .count();
        assert_eq!(in_keyring, usize::from(operators));
        Devnet {
            supervisor: Some(child),
            dir,
            ledger,
            identity,
        }
    }

    pub fn cli(&self, args: &[&str]) -> Output {
        Command::new(exe())
            .args(["--ledger", &self.ledger, "--identity"])
            .arg(&self.identity)
            .args(args)
            .output()
            .expect("run tessera")
    }

    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let out = self.cli(args);
        assert!(
            out.status.success(),
            "tessera {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("one JSON object")
    }

    /// `devnet.json`: ledger URL and pid, and per node its id, pid and metrics URL.
    pub fn state(&self) -> serde_json::Value {
        read_state(&self.dir.join("net"))
    }

    #[allow(dead_code)]
    pub fn node_pid(&self, i: usize) -> i32 {
        self.state()["nodes"][i]["pid"].as_i64().unwrap() as i32
    }

    /// The ledger's log, folded and verified as a node does, asserting that every entry
    /// applies (an honest ledger's log).
    #[allow(dead_code)]
    pub fn ledger_state(&self) -> (State, Vec<Entry>) {
        let (st, all, rejected) = self.ledger_log();
        assert!(
            rejected.is_empty(),
            "an honest ledger's log verifies: {rejected:?}"
        );
        (st, all)
    }

    /// The ledger's log folded as a node folds it: an entry whose command does not verify is
    /// skipped ([`State::skip`]) and returned with its rejection; a broken hash link panics.
    pub fn ledger_log(&self) -> (State, Vec<Entry>, Vec<(u64, Rejection)>) {
        let client = Client::new(&self.ledger);
        let info = client.info().unwrap();
        let mut st = State::new(info.network, info.ledger_key);
        let mut all = Vec::new();
        let mut rejected = Vec::new();
        loop {
            let page = client.log(all.len() as u64, 1000, 0).unwrap();
            if page.is_empty() {
                break;
            }
            for e in page {
                if let Err(r) = st.apply(&e) {
                    assert!(
                        !matches!(r, Rejection::Link(_)),
                        "the ledger's log does not chain: {r}"
                    );
                    st.skip(&e).unwrap();
                    rejected.push((e.seq, r));
                }
                all.push(e);
            }
        }
        (st, all, rejected)
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

pub fn read_state(dir: &Path) -> serde_json::Value {
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

#[allow(dead_code)]
pub fn wait_until(what: &str, timeout: Duration, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !f() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Signs `message` with `key` through the CLI (`--timeout` if given), checks that the answer
/// is for that message and key and that OpenSSL accepts the signature (`tag` names its files),
/// and returns the CLI's JSON.
#[allow(dead_code)]
pub fn sign_verified(
    net: &Devnet,
    key: &str,
    public_key: &[u8],
    message: &str,
    timeout_secs: Option<u64>,
    tag: &str,
) -> serde_json::Value {
    let timeout = timeout_secs.map(|t| t.to_string());
    let mut args = vec!["sign", "--key", key, "--message", message, "--json"];
    if let Some(t) = &timeout {
        args.extend(["--timeout", t]);
    }
    let v = net.json(&args);
    let digest: [u8; 32] = sha2::Sha256::digest(message.as_bytes()).into();
    assert_eq!(v["digest"].as_str().unwrap(), hex::encode(digest));
    assert_eq!(v["key_id"].as_str().unwrap(), key);
    assert_eq!(v["public_key"].as_str().unwrap(), hex::encode(public_key));
    assert!(v["recovery_id"].as_u64().unwrap() <= 3);
    let r = hex::decode(v["r"].as_str().unwrap()).unwrap();
    let s = hex::decode(v["s"].as_str().unwrap()).unwrap();
    assert!(
        openssl_verifies(public_key, &digest, &r, &s, tag),
        "OpenSSL rejects the signature over {message:?}"
    );
    v
}

/// OpenSSL's verdict on (r, s) over `digest` under the SEC1 `public_key`.
#[allow(dead_code)]
pub fn openssl_verifies(
    public_key: &[u8],
    digest: &[u8; 32],
    r: &[u8],
    s: &[u8],
    tag: &str,
) -> bool {
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

/// A plain HTTP GET on loopback (the metrics endpoint), with no client library.
#[allow(dead_code)]
pub fn http_get(url: &str) -> String {
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

/// Appends `sc` through the malicious ledger's `POST /v1/unchecked` (a `malicious` build);
/// returns its seq.
#[allow(dead_code)]
pub fn append_unchecked(ledger: &str, sc: &tessera_ledger::SignedCommand) -> u64 {
    let host = ledger
        .strip_prefix("http://")
        .unwrap()
        .trim_end_matches('/');
    let body = serde_json::to_string(sc).unwrap();
    let mut s = std::net::TcpStream::connect(host).unwrap();
    write!(
        s,
        "POST /v1/unchecked HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut response = String::new();
    std::io::Read::read_to_string(&mut s, &mut response).unwrap();
    let (head, body) = response.split_once("\r\n\r\n").unwrap();
    assert!(
        head.starts_with("HTTP/1.1 200"),
        "/v1/unchecked refused: {response}"
    );
    let receipt: serde_json::Value = serde_json::from_str(body).unwrap();
    assert_eq!(receipt["id"].as_str().unwrap(), sc.id().to_string());
    receipt["seq"].as_u64().unwrap()
}
