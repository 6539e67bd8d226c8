//! Prints a markdown table comparing Tessera and cggmp24 at 3-of-5.
//!
//! `cargo run --release -p tessera-bench --bin compare -- --runs 3`

use std::time::Duration;

use tessera_bench::{fixture_primes, ours, peer, Timings};

fn mean(v: &[Timings], f: impl Fn(&Timings) -> Duration) -> f64 {
    v.iter().map(|t| f(t).as_secs_f64()).sum::<f64>() / v.len().max(1) as f64
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Both sides run all parties in one thread: pin the simulation (which otherwise uses every
    // core) before any thread exists.
    std::env::set_var("TESSERA_SIM_THREADS", "1");
    let args: Vec<String> = std::env::args().collect();
    let runs: u64 = match args.iter().position(|a| a == "--runs") {
        Some(i) => args.get(i + 1).ok_or("--runs needs a value")?.parse()?,
        None => 1,
    };
    let with_primes = args.iter().any(|a| a == "--with-primes");
    let (n, t) = (5u16, 3u16);
    let primes = fixture_primes()?;
    let mut mine = Vec::new();
    let mut theirs = Vec::new();
    for r in 0..runs {
        eprintln!("run {}/{runs}: tessera…", r + 1);
        mine.push(ours::run(n, t, r + 1)?);
        eprintln!("run {}/{runs}: cggmp24…", r + 1);
        theirs.push(peer::run(n, t, &primes, r + 1)?);
    }
    // Per-party safe-prime generation, same run: Tessera needs 2 (N̂ = N), cggmp24 needs 4.
    let primes_row = if with_primes {
        eprintln!("primes: tessera (2 × 1536-bit with our sieve)…");
        let t0 = std::time::Instant::now();
        for _ in 0..2 {
            tessera_paillier::prime::generate_safe_prime(&mut rand_core::OsRng, 1536);
        }
        let ours = t0.elapsed().as_secs_f64();
        eprintln!("primes: cggmp24 (PregeneratedPrimes::generate, 4 × 1536-bit)…");
        let t1 = std::time::Instant::now();
        let _ = cggmp24::PregeneratedPrimes::<cggmp24::security_level::SecurityLevel128>::generate(
            &mut rand_core::OsRng,
        );
        Some((ours, t1.elapsed().as_secs_f64()))
    } else {
        None
    };
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .map(|l| l.split(':').nth(1).unwrap_or("").trim().to_string())
        })
        .unwrap_or_default();
    let cores = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(0);
    println!("Machine: {cpu}, {cores} cores. {t}-of-{n}, all parties in one thread, mean of {runs} run(s), primes pregenerated.\n");
    println!("| phase | Tessera (GG20 hardened) | cggmp24 0.7.0-alpha.3 | Tessera / cggmp24 |");
    println!("|---|---|---|---|");
    let nf = f64::from(n);
    let tf = f64::from(t);
    let ours_setup = mean(&mine, |x| x.keygen) / nf;
    let their_setup = (mean(&theirs, |x| x.aux) + mean(&theirs, |x| x.keygen)) / nf;
    println!(
        "| setup per party (aux proofs + keygen) | {:.2} s | {:.2} s (aux {:.2} s + keygen {:.3} s) | {:.2} |",
        ours_setup,
        their_setup,
        mean(&theirs, |x| x.aux) / nf,
        mean(&theirs, |x| x.keygen) / nf,
        ours_setup / their_setup
    );
    if let Some((po, pt)) = primes_row {
        println!(
            "| safe primes per party (one sample each) | {po:.2} s (2 primes) | {pt:.2} s (4 primes) | {:.2} |",
            po / pt
        );
        println!(
            "| setup per party incl. primes | {:.2} s | {:.2} s | {:.2} |",
            ours_setup + po,
            their_setup + pt,
            (ours_setup + po) / (their_setup + pt)
        );
    }
    let op = mean(&mine, |x| x.presign) / tf;
    let tp = mean(&theirs, |x| x.presign) / tf;
    println!(
        "| presign per signer | {op:.3} s | {tp:.3} s | {:.2} |",
        op / tp
    );
    let os = mean(&mine, |x| x.sign) * 1e3;
    let ts = mean(&theirs, |x| x.sign) * 1e3;
    println!(
        "| online sign, all {t} signers + combine | {os:.2} ms | {ts:.2} ms | {:.2} |",
        os / ts
    );
    Ok(())
}
