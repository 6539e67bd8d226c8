//! `tessera devnet`: a whole network on this machine — a ledger and N operator nodes as real
//! processes on loopback, each with its own keys, sealed database, attestation and logs.
//!
//! Layout under `--dir DIR`:
//! ```text
//! DIR/genesis.toml           network id, allowlist (this binary's SHA-256), platform key, keyring
//! DIR/platform.pem           development attestation platform key (software backend)
//! DIR/ledger/                ledger database and identity; DIR/ledger.log
//! DIR/node-I/config.toml     node I's configuration; identity.pem, sealing.key, data/, node.log
//! DIR/devnet.json            ledger_url and, per node, id, pid, metrics_url, address, region
//!                            and whether it is in the genesis keyring (while running)
//! ```
//! `--spare S` starts S more nodes that are not in the genesis keyring: operators ready to be
//! added with `tessera keyring change` (e.g. `--operators 8 --spare 8`, then grow 8 → 16).
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
    /// Number of operator nodes in the genesis keyring.
    #[arg(long, default_value_t = 5)]
    operators: u16,
    /// Nodes started beside them but outside the keyring, to be added later with
    /// `tessera keyring change` (they are listed in devnet.json with `in_keyring: false`).
    #[arg(long, default_value_t = 0)]
    spare: u16,
    /// Per-round timeout of resharing sessions, in seconds.
    #[arg(long, default_value_t = 1800)]
    reshare_round_timeout: u64,
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
    /// Operator nodes: `(address, region, in the genesis keyring)`.
    operator: Option<(String, String, bool)>,
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
    nodes: Vec<NodeLayout>,
}

struct NodeLayout {
    dir: PathBuf,
    id: IdentityKey,
    metrics: Option<SocketAddr>,
    operator: Operator,
    in_keyring: bool,
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
        let spare: Vec<Operator> = match ports.get("spare") {
            Some(v) => serde_json::from_value(v.clone())
                .map_err(|e| format!("{}: spare: {e}", ports_path.display()))?,
            None => Vec::new(),
        };
        if usize::from(args.spare) != spare.len() {
            return Err(format!(
                "{} was made with --spare {}; pass the same or a new --dir",
                dir.display(),
                spare.len()
            ));
        }
        let genesis_n = kr.operators.len();
        let nodes = kr
            .operators
            .iter()
            .chain(spare.iter())
            .enumerate()
            .map(|(i, op)| {
                let m = metrics
                    .get(i)
                    .and_then(|v| v.as_u64())
                    .and_then(|p| u16::try_from(p).ok())
                    .map(|p| SocketAddr::from(([127, 0, 0, 1], p)));
                NodeLayout {
                    dir: dir.join(format!("node-{i}")),
                    id: op.identity,
                    metrics: m,
                    operator: op.clone(),
                    in_keyring: i < genesis_n,
                }
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
    let total = args
        .operators
        .checked_add(args.spare)
        .ok_or("too many nodes")?;
    if args.insecure_test_primes && usize::from(total) > tessera_sim::fixtures::capacity() {
        // Public test primes protect nothing anyway; beyond the fixture's pairs, nodes share.
        eprintln!(
            "note: the test primes have {} pairs; {total} nodes reuse them in turn",
            tessera_sim::fixtures::capacity()
        );
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
    let mut spare = Vec::new();
    let mut nodes = Vec::new();
    let mut metrics_ports = Vec::new();
    for i in 0..total {
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
             insecure_test_primes = {insecure}\n\
             {prime_index}\n\
             [attestation]\n\
             backend = \"software\"\n\
             platform_key = \"platform.pem\"\n\
             sealing_key = \"sealing.key\"\n\n\
             [timeouts]\n\
             round_secs = {round}\n\
             reshare_round_secs = {reshare}\n",
            insecure = args.insecure_test_primes,
            prime_index = if args.insecure_test_primes {
                format!("insecure_test_prime_index = {i}\n")
            } else {
                String::new()
            },
            round = args.round_timeout,
            reshare = args.reshare_round_timeout,
        );
        std::fs::write(nd.join("config.toml"), config).map_err(|e| e.to_string())?;
        let op = Operator {
            identity: id.public(),
            address: format!("127.0.0.1:{p2p}"),
            region: region_of(&args.regions, i),
        };
        let in_keyring = i < args.operators;
        if in_keyring {
            operators.push(op.clone());
        } else {
            spare.push(op.clone());
        }
        nodes.push(NodeLayout {
            dir: nd,
            id: id.public(),
            metrics: Some(SocketAddr::from(([127, 0, 0, 1], mport))),
            operator: op,
            in_keyring,
        });
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
    let ports =
        serde_json::json!({ "ledger": ledger_port, "metrics": metrics_ports, "spare": spare });
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
                "address": p.operator.as_ref().map(|o| o.0.clone()),
                "region": p.operator.as_ref().map(|o| o.1.clone()),
                "in_keyring": p.operator.as_ref().map(|o| o.2),
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
            // Key generation's cost grows with the committee (about a minute of CPU per
            // operator on small machines, all sharing this one).
            "--keygen-timeout".into(),
            (300 + 60 * u64::from(args.operators + args.spare)).to_string(),
            "--sign-timeout".into(),
            "15".into(),
        ],
        log: dir.join("ledger.log"),
        child: None,
        metrics_url: None,
        id: None,
        operator: None,
    }];
    for (i, nl) in layout.nodes.iter().enumerate() {
        procs.push(Proc {
            name: format!("node-{i}"),
            args: vec![
                "node".into(),
                "--config".into(),
                nl.dir.join("config.toml").display().to_string(),
            ],
            log: nl.dir.join("node.log"),
            child: None,
            metrics_url: nl.metrics.map(|m| format!("http://{m}/metrics")),
            id: Some(nl.id),
            operator: Some((
                nl.operator.address.clone(),
                nl.operator.region.clone(),
                nl.in_keyring,
            )),
        });
    }
    for p in procs.iter_mut() {
        spawn(p)?;
    }
    write_state(&dir, &layout.ledger_url, &procs)?;

    // Ready when the ledger sees every operator of its keyrings alive (attested heartbeats).
    // Spare nodes cannot heartbeat until a keyring change names them.
    let client = tessera_ledger::client::Client::new(&layout.ledger_url);
    let started = Instant::now();
    let mut ready = false;
    while !stop.load(Ordering::SeqCst) {
        if !ready {
            let (live, n) = client
                .operators()
                .map(|o| (o.iter().filter(|v| v.live).count(), o.len()))
                .unwrap_or((0, 1));
            if n > 0 && live >= n {
                ready = true;
                let spare = if args.spare > 0 {
                    format!(" and {} spare nodes", args.spare)
                } else {
                    String::new()
                };
                println!(
                    "devnet ready: ledger {} with {n} operators{spare} (threshold {}); state in {}",
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
