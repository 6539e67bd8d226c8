//! `tessera demo`: the whole protocol among N in-process parties.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::elliptic_curve::group::GroupEncoding;
use k256::Scalar;
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tessera_core::PartyIndex;
use tessera_ecdsa::{KeyShare, SignRequest};
use tessera_sim::Seed;

#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Number of operators (key-share holders), 1..=64.
    #[cfg_attr(
        feature = "malicious",
        arg(long, required_unless_present = "list_misbehaviours")
    )]
    #[cfg_attr(not(feature = "malicious"), arg(long, required = true))]
    operators: Option<u16>,
    /// Number of operators that must sign (M of "M-of-N"), 1..=operators.
    #[cfg_attr(
        feature = "malicious",
        arg(long, required_unless_present = "list_misbehaviours")
    )]
    #[cfg_attr(not(feature = "malicious"), arg(long, required = true))]
    threshold: Option<u16>,
    /// The message to sign (its SHA-256 digest is signed).
    #[cfg_attr(
        feature = "malicious",
        arg(long, required_unless_present = "list_misbehaviours")
    )]
    #[cfg_attr(not(feature = "malicious"), arg(long, required = true))]
    message: Option<String>,
    /// Print exactly one JSON object on stdout.
    #[arg(long)]
    json: bool,
    /// Use the public, pregenerated test primes instead of fresh safe primes. The key is then
    /// worthless: for quick runs and CI only.
    #[arg(long)]
    insecure_test_primes: bool,
    /// Sign with the BIP32 child key at this non-hardened path (e.g. `m/0/7`), derived from the
    /// group key and the chain code agreed during key generation.
    #[arg(long, value_name = "PATH")]
    derive: Option<String>,
    /// Make operator PARTY deviate as BEHAVIOUR (see --list-misbehaviours) and report whom the
    /// honest operators blame, with which check (builds with `--features malicious` only).
    #[cfg(feature = "malicious")]
    #[arg(long, value_name = "PARTY:BEHAVIOUR")]
    misbehave: Option<String>,
    /// Print the behaviour names, one per line.
    #[cfg(feature = "malicious")]
    #[arg(long)]
    list_misbehaviours: bool,
}

#[derive(Serialize)]
struct Report {
    public_key: String,
    message: String,
    digest: String,
    r: String,
    s: String,
    recovery_id: u8,
    signers: Vec<u16>,
    verified: bool,
    primes_ms: u128,
    keygen_ms: u128,
    presign_ms: u128,
    sign_ms: u128,
    /// With `--derive`: the path, the master extended public key (BIP32, mainnet `xpub`) and the
    /// child public key that signed (SEC1 compressed, hex).
    #[serde(skip_serializing_if = "Option::is_none")]
    path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    xpub: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    child_public_key: Option<String>,
}

const MAX_OPERATORS: u16 = 64;

pub fn run(args: DemoArgs) -> Result<(), String> {
    #[cfg(feature = "malicious")]
    if args.list_misbehaviours {
        for b in tessera_sim::misbehave::CATALOGUE {
            println!("{}", b.name);
        }
        return Ok(());
    }
    let n = args.operators.ok_or("--operators is required")?;
    let m = args.threshold.ok_or("--threshold is required")?;
    let message = args.message.clone().ok_or("--message is required")?;
    if n == 0 || n > MAX_OPERATORS {
        return Err(format!(
            "--operators must be between 1 and {MAX_OPERATORS}, got {n}"
        ));
    }
    if m == 0 || m > n {
        return Err(format!(
            "--threshold must satisfy 1 <= M <= N (N = {n}), got {m}"
        ));
    }
    if let Some(path) = &args.derive {
        tessera_ecdsa::hd::parse_path(path).map_err(|e| format!("--derive: {e}"))?;
    }
    #[cfg(feature = "malicious")]
    if let Some(spec) = &args.misbehave {
        return crate::misbehave::run(n, m, spec, &message, args.insecure_test_primes, args.json);
    }
    let progress = |s: &str| eprintln!("[tessera] {s}");
    let seed = Seed::random(&mut OsRng);

    // 1. Paillier keys from safe primes.
    let t0 = Instant::now();
    let keys = if args.insecure_test_primes {
        progress("using the public test primes (INSECURE: demo only)");
        tessera_sim::fixtures::paillier_keys(usize::from(n), 0)?
    } else {
        progress(&format!(
            "generating {} safe primes of {} bits (about 2 s each, on 2 threads)…",
            2 * n,
            tessera_zk::SecurityLevel::LEVEL128.prime_bits
        ));
        generate_keys(n, tessera_zk::SecurityLevel::LEVEL128.prime_bits)?
    };
    let primes_ms = t0.elapsed().as_millis();

    // 2. Distributed key generation.
    progress(&format!("key generation among {n} operators…"));
    let t1 = Instant::now();
    let shares: Vec<Arc<KeyShare>> = tessera_sim::keygen(n, m, keys, seed)
        .map_err(|e| format!("key generation failed: {e}"))?
        .into_iter()
        .map(Arc::new)
        .collect();
    let keygen_ms = t1.elapsed().as_millis();
    let public_key = shares
        .first()
        .ok_or("no shares")?
        .public_key_point()
        .map_err(|e| e.to_string())?;

    // 3. A random M of N sign.
    let signers = random_subset(n, m);
    progress(&format!(
        "presigning with operators {:?}…",
        signers.iter().map(|p| p.0).collect::<Vec<_>>()
    ));
    let t2 = Instant::now();
    let presigs = tessera_sim::presign(&shares, &signers, seed)
        .map_err(|e| format!("presigning failed: {e}"))?;
    let presign_ms = t2.elapsed().as_millis();

    // BIP32: the master xpub from the group key and the agreed chain code, then the child.
    let (tweak, signing_key, xpub, child_public_key) = match &args.derive {
        None => (Scalar::ZERO, public_key, None, None),
        Some(path) => {
            let chain_code = shares.first().ok_or("no shares")?.chain_code;
            let master = tessera_ecdsa::hd::master_xpub(&public_key, chain_code)
                .map_err(|e| e.to_string())?;
            let child =
                tessera_ecdsa::hd::derive(&master, path).map_err(|e| format!("--derive: {e}"))?;
            (
                child.tweak,
                child.public_key,
                Some(master.to_string(bip32::Prefix::XPUB)),
                Some(hex::encode(child.public_key.to_affine().to_bytes())),
            )
        }
    };

    let digest: [u8; 32] = Sha256::digest(message.as_bytes()).into();
    let mut entropy = [0u8; 32];
    OsRng.fill_bytes(&mut entropy);
    let req = SignRequest {
        digest,
        tweak,
        entropy,
    };
    let t3 = Instant::now();
    let sig = tessera_sim::sign(presigs, &req).map_err(|e| format!("signing failed: {e}"))?;
    let sign_ms = t3.elapsed().as_millis();

    // 4. Independent verification with k256's verifier, against the key that signed.
    let vk = k256::ecdsa::VerifyingKey::from_affine(signing_key.to_affine())
        .map_err(|e| e.to_string())?;
    let verified = sig
        .to_k256()
        .map(|s| vk.verify_prehash(&digest, &s).is_ok() && s.normalize_s().is_none())
        .unwrap_or(false);

    let report = Report {
        public_key: hex::encode(public_key.to_affine().to_bytes()),
        message: message.clone(),
        digest: hex::encode(digest),
        r: hex::encode(sig.r),
        s: hex::encode(sig.s),
        recovery_id: sig.recovery_id,
        signers: signers.iter().map(|p| p.0).collect(),
        verified,
        primes_ms,
        keygen_ms,
        presign_ms,
        sign_ms,
        path: args.derive.clone(),
        xpub,
        child_public_key,
    };
    if args.json {
        let line = serde_json::to_string(&report).map_err(|e| e.to_string())?;
        println!("{line}");
    } else {
        println!("Tessera demo: {m}-of-{n} threshold ECDSA (secp256k1, GG20 hardened)");
        println!("  public key   {}", report.public_key);
        if let (Some(path), Some(xpub), Some(child)) =
            (&report.path, &report.xpub, &report.child_public_key)
        {
            println!("  xpub         {xpub}");
            println!("  child key    {child} ({path}, signs below)");
        }
        println!("  message      {:?}", report.message);
        println!("  digest       {} (SHA-256)", report.digest);
        println!("  signers      {:?}", report.signers);
        println!("  r            {}", report.r);
        println!("  s            {} (low-s)", report.s);
        println!("  recovery id  {}", report.recovery_id);
        println!("  verified     {}", report.verified);
        println!(
            "  timings      primes {} ms, keygen {} ms, presign {} ms, sign {} ms",
            primes_ms, keygen_ms, presign_ms, sign_ms
        );
    }
    if !verified {
        return Err("the signature did not verify".into());
    }
    Ok(())
}

pub(crate) fn random_subset(n: u16, m: u16) -> Vec<PartyIndex> {
    let mut all: Vec<u16> = (0..n).collect();
    // Fisher–Yates with rejection-free u64 reduction (bias < 2^-48 for n ≤ 64).
    for i in (1..all.len()).rev() {
        let j = (OsRng.next_u64() % (i as u64 + 1)) as usize;
        all.swap(i, j);
    }
    let mut chosen: Vec<PartyIndex> = all
        .into_iter()
        .take(usize::from(m))
        .map(PartyIndex)
        .collect();
    chosen.sort();
    chosen
}

pub(crate) fn generate_keys(n: u16, bits: u32) -> Result<Vec<tessera_paillier::SecretKey>, String> {
    let total = 2 * usize::from(n);
    let done = std::sync::atomic::AtomicUsize::new(0);
    let threads = std::thread::available_parallelism()
        .map(|p| p.get())
        .unwrap_or(1)
        .min(total);
    let mut primes: Vec<tessera_paillier::Integer> = Vec::with_capacity(total);
    std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let done = &done;
                scope.spawn(move || {
                    let mut out = Vec::new();
                    let mut rng = OsRng;
                    let mine = (total + threads - 1 - t) / threads;
                    for _ in 0..mine {
                        out.push(tessera_paillier::prime::generate_safe_prime(&mut rng, bits));
                        let d = done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1;
                        eprintln!("[tessera]   safe prime {d}/{total}");
                    }
                    out
                })
            })
            .collect();
        for h in handles {
            if let Ok(v) = h.join() {
                primes.extend(v);
            }
        }
    });
    if primes.len() != total {
        return Err("safe-prime generation failed".into());
    }
    primes
        .chunks(2)
        .map(|pq| match pq {
            [p, q] => tessera_paillier::SecretKey::from_primes(p.clone(), q.clone())
                .map_err(|e| e.to_string()),
            _ => Err("odd number of primes".into()),
        })
        .collect()
}
