//! Clear errors and non-zero exits from the network commands: a node whose secret file others
//! can read refuses to start; client requests for an unknown key or keyring, or from someone who
//! does not own the keyring, are refused by a real ledger process with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::Duration;

use rand_core::OsRng;
use tessera_identity::Identity;

fn exe() -> &'static str {
    env!("CARGO_BIN_EXE_tessera")
}

fn scratch(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("tessera-neterr-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[cfg(unix)]
#[test]
fn a_node_refuses_a_secret_file_that_others_can_read() {
    use std::os::unix::fs::PermissionsExt;
    let dir = scratch("perm");
    Identity::generate(&mut OsRng)
        .save(&dir.join("identity.pem"))
        .unwrap();
    Identity::generate(&mut OsRng)
        .save(&dir.join("platform.pem"))
        .unwrap();
    let ledger_key = Identity::generate(&mut OsRng).public();
    std::fs::write(
        dir.join("config.toml"),
        format!(
            "network = \"t\"\nidentity_key = \"identity.pem\"\nlisten = \"127.0.0.1:0\"\n\
             data_dir = \"data\"\nledger_url = \"http://127.0.0.1:9\"\nledger_key = \"{ledger_key}\"\n\n\
             [attestation]\nbackend = \"software\"\nplatform_key = \"platform.pem\"\n\
             sealing_key = \"sealing.key\"\n"
        ),
    )
    .unwrap();
    for (file, mode) in [("identity.pem", 0o644), ("platform.pem", 0o640)] {
        let p = dir.join(file);
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        let out = Command::new(exe())
            .args(["node", "--config"])
            .arg(dir.join("config.toml"))
            .output()
            .unwrap();
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains("readable by group or others") && err.contains(file),
            "{err}"
        );
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let _ = std::fs::remove_dir_all(&dir);
}

struct Ledger {
    child: Child,
    url: String,
    dir: PathBuf,
}

impl Drop for Ledger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// A ledger process alone (no nodes) whose keyring `default` is owned by `owner`.
fn ledger(dir: &Path, owner: &Identity) -> Ledger {
    let op = Identity::generate(&mut OsRng).public();
    std::fs::write(
        dir.join("genesis.toml"),
        format!(
            "network = \"errors\"\n\n[[keyrings]]\nid = \"default\"\nthreshold = 1\n\
             owners = [\"{}\"]\n\n[[keyrings.operators]]\nidentity = \"{op}\"\n\
             address = \"127.0.0.1:9\"\nregion = \"local\"\n",
            owner.public()
        ),
    )
    .unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = Command::new(exe())
        .args(["ledger", "--data"])
        .arg(dir.join("ledger"))
        .args(["--listen", &format!("127.0.0.1:{port}"), "--genesis"])
        .arg(dir.join("genesis.toml"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines().map_while(Result::ok) {
            if line.contains("ledger listening") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(30))
        .expect("the ledger starts");
    Ledger {
        child,
        url: format!("http://127.0.0.1:{port}"),
        dir: dir.to_path_buf(),
    }
}

fn client(l: &Ledger, identity: &Path, args: &[&str]) -> Output {
    Command::new(exe())
        .args(["--ledger", &l.url, "--identity"])
        .arg(identity)
        .args(args)
        .output()
        .unwrap()
}

#[test]
fn client_requests_the_ledger_refuses_fail_with_the_reason() {
    let dir = scratch("client");
    let owner_path = dir.join("owner.pem");
    let owner = Identity::load_or_create(&owner_path, &mut OsRng).unwrap();
    let l = ledger(&dir, &owner);

    let unknown = "ab".repeat(32);
    let out = client(
        &l,
        &owner_path,
        &["sign", "--key", &unknown, "--message", "m"],
    );
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(
        err.contains(&unknown) && err.to_lowercase().contains("unknown"),
        "{err}"
    );

    let out = client(&l, &owner_path, &["sign", "--key", "xyz", "--message", "m"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("not a key id"), "{}", stderr(&out));

    let out = client(&l, &owner_path, &["key", "create", "--keyring", "nope"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("nope"), "{err}");

    let stranger = dir.join("stranger.pem");
    let out = client(&l, &stranger, &["key", "create"]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("not an owner"), "{err}");

    // A request the ledger accepts but no operator serves (the only operator never runs): the
    // client gives up at its timeout with a clear message.
    let out = client(&l, &owner_path, &["key", "create", "--timeout", "2"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("timed out"), "{}", stderr(&out));
}
