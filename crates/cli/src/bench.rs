//! `tessera bench`: starts a devnet, creates a key, and measures signing as a client sees it —
//! latency from submitting a request to reading the finished signature, with a warm
//! presignature pool, then sustained signatures per second when requests keep coming.
//!
//! Latency runs one request at a time and waits for the pool to be full again before the next,
//! so every request finds a ready presignature (the network's one-round path). The sustained
//! run submits requests from several threads for a fixed time; once the pool drains, its rate is
//! the rate at which the operators presign.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use clap::Args;
use rand_core::{OsRng, RngCore};
use tessera_identity::Identity;
use tessera_ledger::{
    Action, Client, Command as LedgerCommand, Hash32, RequestView, SignedCommand, State,
};

#[derive(Args, Debug)]
pub struct BenchArgs {
    #[arg(long, default_value_t = 5)]
    operators: u16,
    #[arg(long, default_value_t = 3)]
    threshold: u16,
    /// Devnet directory (a fresh temporary one by default).
    #[arg(long)]
    dir: Option<PathBuf>,
    /// Presignatures kept ready per key.
    #[arg(long, default_value_t = 8)]
    pool: u32,
    /// Sequential signatures for the latency figures.
    #[arg(long, default_value_t = 50)]
    signatures: usize,
    /// Seconds of the sustained run (0 skips it).
    #[arg(long, default_value_t = 60)]
    sustained_secs: u64,
    /// Client threads submitting requests in the sustained run.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Public test primes for the nodes' Paillier keys (startup in seconds; worthless keys).
    #[arg(long)]
    insecure_test_primes: bool,
    #[arg(long)]
    json: bool,
}

struct DevnetChild {
    child: Child,
}

impl Drop for DevnetChild {
    fn drop(&mut self) {
        use nix::sys::signal::{kill, Signal};
        use nix::unistd::Pid;
        if let Ok(pid) = i32::try_from(self.child.id()) {
            let _ = kill(Pid::from_raw(pid), Signal::SIGTERM);
        }
        let _ = self.child.wait();
    }
}

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn fold(client: &Client, st: &mut State) -> Result<(), String> {
    loop {
        let page = client
            .log(st.next_seq(), 1000, 0)
            .map_err(|e| e.to_string())?;
        if page.is_empty() {
            return Ok(());
        }
        for e in page {
            st.apply(&e)
                .map_err(|r| format!("ledger entry {} does not verify: {r}", e.seq))?;
        }
    }
}

fn available(st: &State, key: &Hash32) -> usize {
    st.presigns_for_key(key)
        .iter()
        .filter(|p| p.is_available())
        .count()
}

fn request(
    client: &Client,
    identity: &Identity,
    network: &str,
    action: Action,
    timeout: Duration,
) -> Result<(RequestView, Duration), String> {
    let started = Instant::now();
    let cmd = LedgerCommand::new(network.to_string(), action, now_ms(), &mut OsRng);
    let id = client
        .submit(&SignedCommand::sign(identity, cmd))
        .map_err(|e| e.to_string())?
        .id;
    let receipt = started.elapsed();
    let deadline = Instant::now() + timeout;
    loop {
        let v = client.request(&id, 10_000).map_err(|e| e.to_string())?;
        if v.is_final() {
            return Ok((v, receipt));
        }
        if Instant::now() > deadline {
            return Err(format!("request {id} timed out"));
        }
    }
}

/// One signature as the client saw it.
struct Timing {
    /// From building the signed request to reading the finished signature.
    took: Duration,
    /// From building the signed request to the ledger's receipt: the request (and, with a
    /// ready presignature, the `StartSign` that serves it) is durable in the log.
    receipt: Duration,
}

fn sign_once(
    client: &Client,
    identity: &Identity,
    network: &str,
    key: Hash32,
) -> Result<Timing, String> {
    let mut digest = [0u8; 32];
    OsRng.fill_bytes(&mut digest);
    let started = Instant::now();
    let (v, receipt) = request(
        client,
        identity,
        network,
        Action::RequestSignature {
            key,
            digest: Hash32(digest),
            tweak: None,
            note: None,
            deadline_ms: None,
        },
        Duration::from_secs(300),
    )?;
    let took = started.elapsed();
    match v {
        RequestView::Signature(s) if s.status == "done" => Ok(Timing { took, receipt }),
        RequestView::Signature(s) => Err(format!("signing failed: {:?}", s.reason)),
        RequestView::Key(_) | RequestView::Admin(_) | RequestView::Refresh(_) => {
            Err("unexpected request kind".into())
        }
    }
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((p / 100.0) * (sorted.len() as f64)).ceil() as usize;
    sorted
        .get(rank.saturating_sub(1).min(sorted.len() - 1))
        .copied()
        .unwrap_or_default()
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub fn run(args: BenchArgs) -> Result<(), String> {
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("tessera-bench-{}", std::process::id())),
    };
    let identity_path = dir.join("bench-owner.pem");
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let identity =
        Identity::load_or_create(&identity_path, &mut OsRng).map_err(|e| e.to_string())?;
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let mut cmd = Command::new(exe);
    cmd.arg("--identity")
        .arg(&identity_path)
        .args(["devnet", "--operators", &args.operators.to_string()])
        .args(["--threshold", &args.threshold.to_string()])
        .args(["--pool", &args.pool.to_string()])
        .arg("--dir")
        .arg(dir.join("net"));
    if args.insecure_test_primes {
        cmd.arg("--insecure-test-primes");
    }
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .map_err(|e| e.to_string())?;
    let mut devnet = DevnetChild { child };
    let stdout = devnet.child.stdout.take().ok_or("no devnet stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(stdout), &mut line)
        .map_err(|e| e.to_string())?;
    let url = line
        .split_whitespace()
        .find(|w| w.starts_with("http://"))
        .ok_or_else(|| format!("devnet did not start: {line:?}"))?
        .to_string();
    eprintln!("{}", line.trim_end());
    let client = Client::new(&url);
    let info = client.info().map_err(|e| e.to_string())?;

    eprintln!("creating a key…");
    let t = Instant::now();
    let key = match request(
        &client,
        &identity,
        &info.network,
        Action::RequestKey {
            keyring_id: "default".into(),
            key_type: "ecdsa-secp256k1".into(),
        },
        Duration::from_secs(900),
    )?
    .0
    {
        RequestView::Key(k) if k.status == "active" => k.key_id,
        other => return Err(format!("key generation failed: {other:?}")),
    };
    let keygen = t.elapsed();

    let mut st = State::new(info.network.clone(), info.ledger_key);
    let pool = usize::try_from(args.pool).unwrap_or(usize::MAX);
    let wait_warm = |st: &mut State| -> Result<Duration, String> {
        let t = Instant::now();
        loop {
            fold(&client, st)?;
            if available(st, &key) >= pool {
                return Ok(t.elapsed());
            }
            if t.elapsed() > Duration::from_secs(900) {
                return Err("the presignature pool did not fill".into());
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    };
    eprintln!("filling the pool ({pool} presignatures)…");
    let fill = wait_warm(&mut st)?;

    eprintln!(
        "{} sequential signatures with a warm pool…",
        args.signatures
    );
    let mut lat = Vec::with_capacity(args.signatures);
    let mut receipts = Vec::with_capacity(args.signatures);
    for _ in 0..args.signatures {
        // Top the pool up again, so this request finds a ready presignature.
        wait_warm(&mut st)?;
        let t = sign_once(&client, &identity, &info.network, key)?;
        lat.push(t.took);
        receipts.push(t.receipt);
    }
    lat.sort();
    receipts.sort();

    let mut sustained = None;
    if args.sustained_secs > 0 {
        wait_warm(&mut st)?;
        eprintln!(
            "sustained: {} s with {} client threads…",
            args.sustained_secs, args.concurrency
        );
        let done = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let identity = Arc::new(identity);
        let started = Instant::now();
        let mut threads = Vec::new();
        for _ in 0..args.concurrency.max(1) {
            let (client, identity, network, done, stop) = (
                client.clone(),
                identity.clone(),
                info.network.clone(),
                done.clone(),
                stop.clone(),
            );
            threads.push(std::thread::spawn(move || -> Result<(), String> {
                while !stop.load(Ordering::SeqCst) {
                    sign_once(&client, &identity, &network, key)?;
                    if !stop.load(Ordering::SeqCst) {
                        done.fetch_add(1, Ordering::SeqCst);
                    }
                }
                Ok(())
            }));
        }
        std::thread::sleep(Duration::from_secs(args.sustained_secs));
        stop.store(true, Ordering::SeqCst);
        let elapsed = started.elapsed();
        for t in threads {
            t.join().map_err(|_| "client thread panicked")??;
        }
        let n = done.load(Ordering::SeqCst);
        sustained = Some((n, elapsed));
    }
    drop(devnet);

    let (p50, p99) = (percentile(&lat, 50.0), percentile(&lat, 99.0));
    let receipt_p50 = percentile(&receipts, 50.0);
    let (min, max) = (
        lat.first().copied().unwrap_or_default(),
        lat.last().copied().unwrap_or_default(),
    );
    let rate = sustained.map(|(n, e)| n as f64 / e.as_secs_f64());
    if args.json {
        let out = serde_json::json!({
            "operators": args.operators,
            "threshold": args.threshold,
            "pool": args.pool,
            "keygen_ms": ms(keygen),
            "pool_fill_ms": ms(fill),
            "signatures": lat.len(),
            "latency_ms": { "min": ms(min), "p50": ms(p50), "p99": ms(p99), "max": ms(max) },
            "receipt_p50_ms": ms(receipt_p50),
            "sustained": sustained.map(|(n, e)| serde_json::json!({
                "signatures": n, "seconds": e.as_secs_f64(), "per_second": rate,
                "client_threads": args.concurrency,
            })),
        });
        println!("{out}");
    } else {
        println!(
            "| {}-of-{} devnet, pool {} | value |",
            args.threshold, args.operators, args.pool
        );
        println!("|---|---|");
        println!("| key generation | {:.1} s |", keygen.as_secs_f64());
        println!(
            "| pool fill ({pool} presignatures) | {:.1} s |",
            fill.as_secs_f64()
        );
        println!(
            "| signing latency, warm pool, {} requests: min / p50 / p99 / max | {:.1} / {:.1} / {:.1} / {:.1} ms |",
            lat.len(),
            ms(min),
            ms(p50),
            ms(p99),
            ms(max)
        );
        println!(
            "| of which submitting the request until the ledger's receipt, p50 | {:.1} ms |",
            ms(receipt_p50)
        );
        if let (Some((n, e)), Some(r)) = (sustained, rate) {
            println!(
                "| sustained, {} client threads, {:.0} s | {n} signatures, {r:.2}/s |",
                args.concurrency,
                e.as_secs_f64()
            );
        }
    }
    Ok(())
}
