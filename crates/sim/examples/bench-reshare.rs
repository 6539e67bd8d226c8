//! Times refresh and resharing along 5-of-8 → 11-of-16 → 22-of-32 and prints a table: seats
//! (dealers + receivers), wall time, total CPU time of the process, CPU time per seat and the
//! machine's 1-minute load average when the step ended (the machine may be shared).
//!
//! ```text
//! cargo run --release -p tessera-sim --example bench-reshare -- [--steps 1,2,3,4,5] [--seed N]
//! ```
//!
//! | step | what |
//! |---|---|
//! | 1 | refresh 5-of-8 |
//! | 2 | reshare 5-of-8 → 11-of-16 |
//! | 3 | refresh 11-of-16 |
//! | 4 | reshare 11-of-16 → 22-of-32 |
//! | 5 | refresh 22-of-32 |
//!
//! Default: all five. The steps run in order, each from the previous one's committee; a step
//! whose old committee was not produced by the step before it (e.g. `--steps 4` alone) starts
//! from a key generated at that size first, untimed.
//!
//! The dealers are the first `M` members of the old committee. Every seat runs in this process
//! (on as many threads as `tessera_sim::run` uses), so "CPU per seat" is the process's CPU time
//! for the step divided by the number of seats: what one operator would spend on its own
//! machine, averaged over dealers (who verify) and receivers (who also prove).
//!
//! INSECURE: the new committees' Paillier keys come from the public fixture primes
//! (`test-data/safe-primes-1536.txt`), reused cyclically because the fixture holds fewer pairs
//! than 32 parties need, so several receivers share a modulus. The protocol's cost does not
//! depend on that; safe-prime generation (about 2 s per prime, two per receiver) is measured on
//! its own in BENCHMARKS.md.

use std::time::{Duration, Instant};

use tessera_core::PartyIndex;
use tessera_ecdsa::KeyShare;
use tessera_sim::{fixtures, Seed};

struct Step {
    id: u8,
    old: (u16, u16),
    new: (u16, u16),
}

const STEPS: [Step; 5] = [
    Step {
        id: 1,
        old: (5, 8),
        new: (5, 8),
    },
    Step {
        id: 2,
        old: (5, 8),
        new: (11, 16),
    },
    Step {
        id: 3,
        old: (11, 16),
        new: (11, 16),
    },
    Step {
        id: 4,
        old: (11, 16),
        new: (22, 32),
    },
    Step {
        id: 5,
        old: (22, 32),
        new: (22, 32),
    },
];

/// Fixture Paillier keys for `n` parties, cycling through the fixture's pairs from `offset`.
fn cyclic_keys(n: u16, offset: usize) -> Result<Vec<tessera_paillier::SecretKey>, String> {
    (0..usize::from(n))
        .map(|i| {
            fixtures::paillier_keys(1, offset + i)?
                .pop()
                .ok_or_else(|| "no fixture key".to_string())
        })
        .collect()
}

/// User + system CPU time of this process (all threads), from `/proc/self/stat` in clock ticks
/// of 1/100 s (Linux's USER_HZ on x86-64).
fn process_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    // Fields 14 (utime) and 15 (stime) of proc(5); the split starts at field 3.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(Duration::from_millis((utime + stime) * 10))
}

/// The 1-minute load average: on a shared machine, how much the wall time was stretched.
fn load() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_else(|| "n/a".into())
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    format!("{cpu}, {cores} cores available")
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

fn parse_args() -> Result<(Vec<u8>, u64), String> {
    let mut steps: Vec<u8> = STEPS.iter().map(|s| s.id).collect();
    let mut seed = 1u64;
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--steps" => {
                let v = args.next().ok_or("--steps needs a list, e.g. 1,2,4")?;
                steps = v
                    .split(',')
                    .map(|s| match s.trim().parse::<u8>() {
                        Ok(n) if (1..=5).contains(&n) => Ok(n),
                        _ => Err(format!("--steps: {s:?} is not a step (1 to 5)")),
                    })
                    .collect::<Result<_, _>>()?;
                steps.sort_unstable();
                steps.dedup();
            }
            "--seed" => {
                let v = args.next().ok_or("--seed needs a number")?;
                seed = v.parse().map_err(|_| format!("--seed: {v:?}"))?;
            }
            "-h" | "--help" => {
                println!(
                    "bench-reshare [--steps 1,2,3,4,5] [--seed N]\n\
                     1 refresh 5-of-8, 2 reshare 5-of-8 -> 11-of-16, 3 refresh 11-of-16,\n\
                     4 reshare 11-of-16 -> 22-of-32, 5 refresh 22-of-32"
                );
                std::process::exit(0);
            }
            other => return Err(format!("unknown argument {other:?} (try --help)")),
        }
    }
    Ok((steps, seed))
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (selected, seed) = parse_args()?;
    println!(
        "Machine: {}; simulation threads: {}; 1-minute load average at start: {}.",
        machine(),
        tessera_sim::default_threads(),
        load()
    );
    println!(
        "Parameters: LEVEL128 (3072-bit Paillier moduli), fixture Paillier keys reused cyclically \
         ({} pairs; INSECURE, primes not timed), dealers = first M of the old committee, \
         seed {seed}, steps {selected:?}.",
        fixtures::capacity()
    );
    println!();

    let mut current: Option<Vec<KeyShare>> = None;
    let mut rows = Vec::new();
    let mut key_offset = 0usize;
    for step in STEPS.iter().filter(|s| selected.contains(&s.id)) {
        let (m, n) = step.old;
        let have = current
            .as_ref()
            .and_then(|c| c.first())
            .map(|s| (s.threshold, s.n));
        if have != Some(step.old) {
            let t0 = Instant::now();
            eprintln!(
                "[bench] key generation {m}-of-{n} to start step {} (untimed)…",
                step.id
            );
            let shares = tessera_sim::keygen(
                n,
                m,
                cyclic_keys(n, key_offset)?,
                Seed::from_u64(seed ^ 0xcafe),
            )?;
            eprintln!("[bench]   done in {}", secs(t0.elapsed()));
            key_offset += usize::from(n);
            current = Some(shares);
        }
        let old = current.take().ok_or("no committee")?;
        let y = old.first().ok_or("empty committee")?.public_key_point()?;
        let refs: Vec<&KeyShare> = old.iter().collect();
        let dealers: Vec<PartyIndex> = (0..m).map(PartyIndex).collect();
        let (m2, n2) = step.new;
        let keys = cyclic_keys(n2, key_offset)?;
        key_offset += usize::from(n2);
        let seats = u32::from(m) + u32::from(n2);
        let what = if step.old == step.new {
            format!("refresh {m}-of-{n}")
        } else {
            format!("reshare {m}-of-{n} → {m2}-of-{n2}")
        };
        eprintln!("[bench] step {}: {what}, {seats} seats…", step.id);

        let cpu0 = process_cpu();
        let t0 = Instant::now();
        let out = tessera_sim::reshare::reshare(
            &refs,
            &dealers,
            n2,
            m2,
            keys,
            Seed::from_u64(seed.wrapping_add(u64::from(step.id))),
        )?;
        let wall = t0.elapsed();
        let cpu = match (cpu0, process_cpu()) {
            (Some(a), Some(b)) => Some(b.saturating_sub(a)),
            _ => None,
        };

        if out.shares.len() != usize::from(n2) || out.retired.len() != usize::from(m) {
            return Err(format!(
                "step {}: {} new shares and {} retirements",
                step.id,
                out.shares.len(),
                out.retired.len()
            )
            .into());
        }
        for s in &out.shares {
            if s.public_key_point()? != y || (s.threshold, s.n) != step.new {
                return Err(format!("step {}: a new share does not match", step.id).into());
            }
        }
        let row = format!(
            "| {} | {what} | {seats} ({m} + {n2}) | {} | {} | {} | {} |",
            step.id,
            secs(wall),
            cpu.map(secs).unwrap_or_else(|| "n/a".into()),
            cpu.map(|c| secs(c / seats)).unwrap_or_else(|| "n/a".into()),
            load(),
        );
        eprintln!("[bench] {row}");
        rows.push(row);
        drop(old);
        current = Some(out.shares);
    }

    println!(
        "| step | what | seats (dealers + receivers) | wall | CPU, all seats | CPU per seat |"
    );
    println!("|---|---|---|---|---|---|");
    for r in rows {
        println!("{r}");
    }
    Ok(())
}
