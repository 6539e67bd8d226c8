//! `tessera devnet`: a whole network on this machine — a ledger and N operator nodes as real
//! processes on loopback, each with its own keys, sealed database, attestation and logs.
//!
//! Layout under `--dir DIR`:
//! ```text
//! DIR/genesis.toml           network id, allowlist (this binary's SHA-256), platform key, keyring
//! DIR/platform.pem           development attestation platform key (software backend)
//! DIR/ledger/                ledger database and identity; DIR/ledger.log
//! DIR/node-I/config.toml     node I's configuration; identity.pem, sealing.key, data/, node.log
//! DIR/devnet.json            ledger_url and, per node, id, pid, metrics_url (while running)
//! ```
//! A child that dies is restarted after a second (its pid in devnet.json is updated), so a
//! node killed with SIGKILL comes back with its sealed state, as a supervised operator would.
//! SIGINT or SIGTERM stops every child (SIGTERM, then SIGKILL after 10 s) and removes
//! devnet.json. Rerunning with the same DIR resumes the same network.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use clap::Args;
use rand_core::{OsRng, RngCore};
use tessera_identity::{Identity, IdentityKey};
use tessera_ledger::command::Operator;
use tessera_ledger::genesis::{GenesisFile, KeyringSpec};

#[derive(Args, Debug)]
pub struct DevnetArgs {
    /// Number of operator nodes.
    #[arg(long, default_value_t = 5)]
    operators: u16,
    /// Signers needed (M of M-of-N).
    #[arg(long, default_value_t = 3)]
    threshold: u16,
    /// Directory for every key, database and log of the network.
    #[arg(long)]
    dir: PathBuf,
    /// Presignatures each key keeps ready.
    #[arg(long, default_value_t = 4)]
    pool: u32,
    /// Use the public, pregenerated test primes for the nodes' Paillier keys instead of fresh
    /// safe primes (fast startup for tests; the keys protect nothing).
    #[arg(long)]
    insecure_test_primes: bool,
    /// Per-round protocol timeout of the nodes, in seconds.
    #[arg(long, default_value_t = 60)]
    round_timeout: u64,
    /// Region tags, given to the operators in turn (operator i gets region i mod the list's
    /// length); every operator is in region "local" when not given.
    #[arg(long, value_delimiter = ',')]
    regions: Vec<String>,
    /// Every signing set must span this many distinct regions (see `--regions`).
    #[arg(long)]
    min_regions: Option<u16>,
}

struct Proc {
    name: String,
    args: Vec<String>,
    log: PathBuf,
    child: Option<Child>,
    metrics_url: Option<String>,
    id: Option<IdentityKey>,
}

fn free_port() -> Result<u16, String> {
    let l = TcpListener::bind("127.0.0.1:0").map_err(|e| format!("no free port: {e}"))?;
    l.local_addr()
        .map(|a| a.port())
        .map_err(|e| format!("no free port: {e}"))
}

fn write_private(path: &Path, bytes: &[u8]) -> Result<(), String> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    f.write_all(bytes)
        .map_err(|e| format!("{}: {e}", path.display()))
}

fn identity_at(path: &Path) -> Result<Identity, String> {
    Identity::load_or_create(path, &mut OsRng).map_err(|e| e.to_string())
}

fn mkdir(p: &Path) -> Result<(), String> {
    std::fs::create_dir_all(p).map_err(|e| format!("{}: {e}", p.display()))
}

/// What a devnet run needs to know about its directory (created on first use).
struct Layout {
    ledger_url: String,
    ledger_listen: SocketAddr,
    nodes: Vec<(PathBuf, IdentityKey, Option<SocketAddr>)>,
}

fn prepare(args: &DevnetArgs, owner: IdentityKey) -> Result<Layout, String> {
    let dir = &args.dir;
    mkdir(dir)?;
    let genesis_path = dir.join("genesis.toml");
    let ports_path = dir.join("ports.json");
    if genesis_path.exists() {
        // Resume: same keys, same ports.
        let ports: serde_json::Value = serde_json::from_str(
            &std::fs::read_to_string(&ports_path)
                .map_err(|e| format!("{}: {e}", ports_path.display()))?,
        )
        .map_err(|e| format!("{}: {e}", ports_path.display()))?;
        let ledger_port = ports.get("ledger").and_then(|v| v.as_u64()).unwrap_or(0);
        let genesis = GenesisFile::load(&genesis_path)?;
        let kr = genesis
            .keyrings
            .first()
            .ok_or("genesis.toml has no keyring")?;
        if usize::from(args.operators) != kr.operators.len() || args.threshold != kr.threshold {
            return Err(format!(
                "{} holds a {}-of-{} network; pass the same --operators and --threshold or a new --dir",
                dir.display(),
                kr.threshold,
                kr.operators.len()
            ));
        }
        let metrics = ports
            .get("metrics")
            .and_then(|v| v.as_array())
            .cloned()
            .unwrap_or_default();
        let nodes = kr
            .operators
            .iter()
            .enumerate()
            .map(|(i, op)| {
                let m = metrics
                    .get(i)
                    .and_then(|v| v.as_u64())
                    .and_then(|p| u16::try_from(p).ok())
                    .map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
                (dir.join(format!("node-{i}")), op.identity, m)
            })
            .collect();
        let port = u16::try_from(ledger_port).map_err(|_| "bad ledger port in ports.json")?;
        return Ok(Layout {
            ledger_url: format!("http://127.0.0.1:{port}"),
            ledger_listen: SocketAddr::from(([127, 0, 0, 1], port)),
            nodes,
        });
    }
    if args.threshold == 0 || args.threshold > args.operators {
        return Err(format!(
            "--threshold {} of --operators {}: need 1 <= threshold <= operators",
            args.threshold, args.operators
        ));
    }
    if args.insecure_test_primes && usize::from(args.operators) > tessera_sim::fixtures::capacity()
    {
        return Err(format!(
            "the test primes serve at most {} operators",
            tessera_sim::fixtures::capacity()
        ));
    }
    let network = format!(
        "tessera-devnet-{}",
        hex::encode({
            let mut b = [0u8; 4];
            OsRng.fill_bytes(&mut b);
            b
        })
    );
    let platform = identity_at(&dir.join("platform.pem"))?;
    let ledger_dir = dir.join("ledger");
    mkdir(&ledger_dir)?;
    let ledger_key = identity_at(&ledger_dir.join("ledger-identity.pem"))?.public();
    let ledger_port = free_port()?;
    let measurement = tessera_attest::measure_current_exe().map_err(|e| e.to_string())?;
    let mut operators = Vec::new();
    let mut nodes = Vec::new();
    let mut metrics_ports = Vec::new();
    for i in 0..args.operators {
        let nd = dir.join(format!("node-{i}"));
        mkdir(&nd)?;
        let id = identity_at(&nd.join("identity.pem"))?;
        let mut seal = zeroize::Zeroizing::new([0u8; 32]);
        OsRng.fill_bytes(seal.as_mut());
        write_private(&nd.join("sealing.key"), seal.as_ref())?;
        // The devnet's nodes share its platform key, as the machines of one development
        // platform would. A copy per node keeps each node's directory self-contained.
        let pk_pem = std::fs::read(dir.join("platform.pem")).map_err(|e| e.to_string())?;
        write_private(&nd.join("platform.pem"), &pk_pem)?;
        let p2p = free_port()?;
        let mport = free_port()?;
        metrics_ports.push(mport);
        let config = format!(
            "network = \"{network}\"\n\
             identity_key = \"identity.pem\"\n\
             listen = \"127.0.0.1:{p2p}\"\n\
             data_dir = \"data\"\n\
             ledger_url = \"http://127.0.0.1:{ledger_port}\"\n\
             ledger_key = \"{ledger_key}\"\n\
             metrics_listen = \"127.0.0.1:{mport}\"\n\
             insecure_test_primes = {}\n\n\
             [attestation]\n\
             backend = \"software\"\n\
             platform_key = \"platform.pem\"\n\
             sealing_key = \"sealing.key\"\n\n\
             [timeouts]\n\
             round_secs = {}\n",
            args.insecure_test_primes, args.round_timeout
        );
        std::fs::write(nd.join("config.toml"), config).map_err(|e| e.to_string())?;
        operators.push(Operator {
            identity: id.public(),
            address: format!("127.0.0.1:{p2p}"),
            region: region_of(&args.regions, i),
        });
        nodes.push((
            nd,
            id.public(),
            Some(SocketAddr::from(([127, 0, 0, 1], mport))),
        ));
    }
    let genesis = GenesisFile {
        network,
        allowlist: vec![measurement.to_string()],
        platform_keys: vec![platform.public()],
        keyrings: vec![KeyringSpec {
            id: "default".into(),
            threshold: args.threshold,
            operators,
            owners: vec![owner],
            min_regions: args.min_regions,
        }],
    };
    std::fs::write(&genesis_path, genesis.to_toml()?).map_err(|e| e.to_string())?;
    let ports = serde_json::json!({ "ledger": ledger_port, "metrics": metrics_ports });
    std::fs::write(&ports_path, ports.to_string()).map_err(|e| e.to_string())?;
    Ok(Layout {
        ledger_url: format!("http://127.0.0.1:{ledger_port}"),
        ledger_listen: SocketAddr::from(([127, 0, 0, 1], ledger_port)),
        nodes,
    })
}

fn spawn(p: &mut Proc) -> Result<(), String> {
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&p.log)
        .map_err(|e| format!("{}: {e}", p.log.display()))?;
    let err = log.try_clone().map_err(|e| e.to_string())?;
    let child = Command::new(exe)
        .args(&p.args)
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(err)
        .spawn()
        .map_err(|e| format!("could not start {}: {e}", p.name))?;
    p.child = Some(child);
    Ok(())
}

fn write_state(dir: &Path, ledger_url: &str, procs: &[Proc]) -> Result<(), String> {
    let nodes: Vec<serde_json::Value> = procs
        .iter()
        .filter(|p| p.id.is_some())
        .map(|p| {
            serde_json::json!({
                "id": p.id.map(|k| k.to_string()),
                "name": p.name,
                "pid": p.child.as_ref().map(|c| c.id()),
                "metrics_url": p.metrics_url,
                "log": p.log.display().to_string(),
            })
        })
        .collect();
    let ledger_pid = procs
        .iter()
        .find(|p| p.id.is_none())
        .and_then(|p| p.child.as_ref().map(|c| c.id()));
    let v = serde_json::json!({
        "ledger_url": ledger_url,
        "ledger_pid": ledger_pid,
        "nodes": nodes,
    });
    // Write then rename, so a reader never sees half a file.
    let tmp = dir.join("devnet.json.tmp");
    std::fs::write(&tmp, v.to_string()).map_err(|e| e.to_string())?;
    std::fs::rename(&tmp, dir.join("devnet.json")).map_err(|e| e.to_string())
}

fn terminate(procs: &mut [Proc]) {
    use nix::sys::signal::{kill, Signal};
    use nix::unistd::Pid;
    for p in procs.iter_mut() {
        if let Some(c) = &p.child {
            if let Ok(pid) = i32::try_from(c.id()) {
                let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
            }
        }
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    for p in procs.iter_mut() {
        if let Some(c) = p.child.as_mut() {
            loop {
                match c.try_wait() {
                    Ok(Some(_)) | Err(_) => break,
                    Ok(None) if Instant::now() >= deadline => {
                        let _ = c.kill();
                        let _ = c.wait();
                        break;
                    }
                    Ok(None) => std::thread::sleep(Duration::from_millis(50)),
                }
            }
        }
        p.child = None;
    }
}

pub fn run(args: DevnetArgs, owner_identity: Option<PathBuf>) -> Result<(), String> {
    let owner_path = match owner_identity {
        Some(p) => p,
        None => crate::client::default_identity_path()?,
    };
    let owner = identity_at(&owner_path)?.public();
    let layout = prepare(&args, owner)?;
    let dir = args.dir.clone();

    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let stop = Arc::new(AtomicBool::new(false));
    for sig in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(sig, stop.clone()).map_err(|e| e.to_string())?;
    }

    let mut procs = vec![Proc {
        name: "ledger".into(),
        args: vec![
            "ledger".into(),
            "--data".into(),
            dir.join("ledger").display().to_string(),
            "--listen".into(),
            layout.ledger_listen.to_string(),
            "--genesis".into(),
            dir.join("genesis.toml").display().to_string(),
            "--pool".into(),
            args.pool.to_string(),
            // A devnet's sessions are short; a node killed mid-session should not hold a
            // request up for long.
            "--presign-timeout".into(),
            "120".into(),
            "--sign-timeout".into(),
            "15".into(),
        ],
        log: dir.join("ledger.log"),
        child: None,
        metrics_url: None,
        id: None,
    }];
    for (i, (nd, id, metrics)) in layout.nodes.iter().enumerate() {
        procs.push(Proc {
            name: format!("node-{i}"),
            args: vec![
                "node".into(),
                "--config".into(),
                nd.join("config.toml").display().to_string(),
            ],
            log: nd.join("node.log"),
            child: None,
            metrics_url: metrics.map(|m| format!("http://{m}/metrics")),
            id: Some(*id),
        });
    }
    for p in procs.iter_mut() {
        spawn(p)?;
    }
    write_state(&dir, &layout.ledger_url, &procs)?;

    // Ready when the ledger sees every node alive (attested heartbeats).
    let client = tessera_ledger::client::Client::new(&layout.ledger_url);
    let started = Instant::now();
    let n = procs.len() - 1;
    let mut ready = false;
    while !stop.load(Ordering::SeqCst) {
        if !ready {
            let live = client
                .operators()
                .map(|o| o.iter().filter(|v| v.live).count())
                .unwrap_or(0);
            if live >= n {
                ready = true;
                println!(
                    "devnet ready: ledger {} with {n} operators (threshold {}); state in {}",
                    layout.ledger_url,
                    args.threshold,
                    dir.join("devnet.json").display()
                );
            } else if started.elapsed() > Duration::from_secs(300) {
                terminate(&mut procs);
                return Err(format!(
                    "only {live} of {n} nodes came up within 300 s; see the logs under {}",
                    dir.display()
                ));
            }
        }
        let mut changed = false;
        for p in procs.iter_mut() {
            let exited = match p.child.as_mut().map(|c| c.try_wait()) {
                Some(Ok(Some(status))) => Some(status.to_string()),
                Some(Err(e)) => Some(e.to_string()),
                _ => None,
            };
            if let Some(status) = exited {
                eprintln!("{} exited ({status}); restarting", p.name);
                std::thread::sleep(Duration::from_millis(500));
                spawn(p)?;
                changed = true;
            }
        }
        if changed {
            write_state(&dir, &layout.ledger_url, &procs)?;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("stopping the devnet…");
    // Nodes first, then the ledger.
    let (ledger, nodes) = procs.split_at_mut(1);
    terminate(nodes);
    terminate(ledger);
    let _ = std::fs::remove_file(dir.join("devnet.json"));
    eprintln!("devnet stopped");
    Ok(())
}

/// Operator `i`'s region: the list's entries in turn, or "local".
fn region_of(regions: &[String], i: u16) -> String {
    if regions.is_empty() {
        return "local".into();
    }
    regions
        .get(usize::from(i) % regions.len())
        .cloned()
        .unwrap_or_else(|| "local".into())
}
