//! `tessera demo`: the whole protocol among N in-process parties.

use std::sync::Arc;
use std::time::Instant;

use clap::Args;
use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::elliptic_curve::group::GroupEncoding;
use k256::{ProjectivePoint, Scalar};
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
    /// After signing, reshare the key to a new committee of N operators with threshold M and
    /// sign again with it (repeatable: one resharing per occurrence, in order). Each resharing is
    /// dealt by a random threshold subset of the previous committee; the public key stays the same.
    #[arg(long, value_name = "N:M", value_parser = parse_reshare)]
    #[cfg_attr(feature = "malicious", arg(conflicts_with = "misbehave"))]
    reshare: Vec<Committee>,
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

/// A committee's size and threshold: `N:M` on the command line (M of N sign).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Committee {
    operators: u16,
    threshold: u16,
}

fn parse_reshare(spec: &str) -> Result<Committee, String> {
    let usage = "expected N:M (new operators : new threshold), e.g. 16:11";
    let (n, m) = spec
        .split_once(':')
        .ok_or_else(|| format!("{usage}; got {spec:?}"))?;
    let n: u16 = n
        .trim()
        .parse()
        .map_err(|_| format!("{usage}; N = {n:?} is not a number"))?;
    let m: u16 = m
        .trim()
        .parse()
        .map_err(|_| format!("{usage}; M = {m:?} is not a number"))?;
    if n == 0 || n > MAX_OPERATORS {
        return Err(format!("N must be between 1 and {MAX_OPERATORS}, got {n}"));
    }
    if m == 0 || m > n {
        return Err(format!("M must satisfy 1 <= M <= N (N = {n}), got {m}"));
    }
    Ok(Committee {
        operators: n,
        threshold: m,
    })
}

/// One committee's signature: the initial committee's, then one per `--reshare`.
#[derive(Serialize)]
struct Stage {
    operators: u16,
    threshold: u16,
    /// The group public key as this committee's shares give it (SEC1 compressed, hex).
    public_key: String,
    /// The old operators that dealt this committee's shares; `null` for the initial committee.
    dealers: Option<Vec<u16>>,
    signers: Vec<u16>,
    r: String,
    s: String,
    recovery_id: u8,
    verified: bool,
    /// Time to obtain this committee's Paillier keys (safe primes, or the fixture).
    primes_ms: u128,
    /// The resharing that made this committee; `null` for the initial committee (key generation).
    reshare_ms: Option<u128>,
    presign_ms: u128,
    sign_ms: u128,
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
    /// With `--reshare`: every committee's signature, the initial committee first.
    #[serde(skip_serializing_if = "Option::is_none")]
    stages: Option<Vec<Stage>>,
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
    let bits = tessera_zk::SecurityLevel::LEVEL128.prime_bits;

    // 1. Paillier keys from safe primes.
    let t0 = Instant::now();
    let keys = if args.insecure_test_primes {
        progress("using the public test primes (INSECURE: demo only)");
        tessera_sim::fixtures::paillier_keys(usize::from(n), 0)?
    } else {
        progress(&format!(
            "generating {} safe primes of {bits} bits (about 2 s each, on 2 threads)…",
            2 * n
        ));
        generate_keys(n, bits)?
    };
    let primes_ms = t0.elapsed().as_millis();

    // 2. Distributed key generation.
    progress(&format!("key generation among {n} operators…"));
    let t1 = Instant::now();
    let mut committee: Vec<Arc<KeyShare>> = tessera_sim::keygen(n, m, keys, seed)
        .map_err(|e| format!("key generation failed: {e}"))?
        .into_iter()
        .map(Arc::new)
        .collect();
    let keygen_ms = t1.elapsed().as_millis();
    let first_share = committee.first().ok_or("no shares")?;
    let public_key = first_share.public_key_point().map_err(|e| e.to_string())?;
    let chain_code = first_share.chain_code;
    let key_id = first_share.key_id;

    // 3. A random M of N presign and sign, under the master key or (BIP32) the child key.
    let digest: [u8; 32] = Sha256::digest(message.as_bytes()).into();
    let key = SigningKey::of(first_share, args.derive.as_deref())?;
    let first = sign_with(&committee, m, &digest, &key)?;

    let mut stages = vec![Stage {
        operators: n,
        threshold: m,
        public_key: hex::encode(public_key.to_affine().to_bytes()),
        dealers: None,
        signers: first.signers.clone(),
        r: hex::encode(first.sig.r),
        s: hex::encode(first.sig.s),
        recovery_id: first.sig.recovery_id,
        verified: first.verified,
        primes_ms,
        reshare_ms: None,
        presign_ms: first.presign_ms,
        sign_ms: first.sign_ms,
    }];

    // 4. Each --reshare N:M: a threshold subset of the current committee deals the key to a new
    // committee, which signs the same message again.
    let (mut cur_n, mut cur_m) = (n, m);
    // Fixture key pairs used so far, so that a small new committee gets pairs of its own.
    let mut fixture_offset = usize::from(n);
    for c in &args.reshare {
        let (new_n, new_m) = (c.operators, c.threshold);
        let t = Instant::now();
        let keys = if args.insecure_test_primes {
            let fresh = tessera_sim::fixtures::capacity().saturating_sub(fixture_offset);
            if usize::from(new_n) > fresh {
                progress(&format!(
                    "the test primes hold {} key pairs: reusing them cyclically for the new \
                     committee of {new_n} (INSECURE: demo only)",
                    tessera_sim::fixtures::capacity()
                ));
            }
            cyclic_fixture_keys(new_n, fixture_offset)?
        } else {
            progress(&format!(
                "generating {} safe primes for the new committee of {new_n}…",
                2 * new_n
            ));
            generate_keys(new_n, bits)?
        };
        fixture_offset += usize::from(new_n);
        let stage_primes_ms = t.elapsed().as_millis();

        let dealers = random_subset(cur_n, cur_m);
        let dealer_ids: Vec<u16> = dealers.iter().map(|p| p.0).collect();
        progress(&format!(
            "resharing {cur_m}-of-{cur_n} to {new_m}-of-{new_n}, dealt by operators {dealer_ids:?}…"
        ));
        let t = Instant::now();
        let old: Vec<&KeyShare> = committee.iter().map(|s| s.as_ref()).collect();
        let out = tessera_sim::reshare::reshare(
            &old,
            &dealers,
            new_n,
            new_m,
            keys,
            Seed::random(&mut OsRng),
        )
        .map_err(|e| format!("resharing to {new_n}:{new_m} failed: {e}"))?;
        let reshare_ms = t.elapsed().as_millis();

        // The same key, or nothing: a changed public key or chain code is a bug, not a result.
        if out.shares.len() != usize::from(new_n) {
            return Err(format!(
                "resharing to {new_n}:{new_m} produced {} shares",
                out.shares.len()
            ));
        }
        for share in &out.shares {
            let y = share.public_key_point().map_err(|e| e.to_string())?;
            if y != public_key || share.chain_code != chain_code {
                return Err(format!(
                    "resharing to {new_n}:{new_m} changed the key: new operator {} holds a share \
                     of {} (chain code {}), the key is {} (chain code {})",
                    share.index,
                    hex::encode(y.to_affine().to_bytes()),
                    hex::encode(share.chain_code),
                    hex::encode(public_key.to_affine().to_bytes()),
                    hex::encode(chain_code)
                ));
            }
            if (share.n, share.threshold) != (new_n, new_m) {
                return Err(format!(
                    "resharing to {new_n}:{new_m} gave new operator {} a {}-of-{} share",
                    share.index, share.threshold, share.n
                ));
            }
        }
        // Every dealer must have been told to retire its old share (all receivers confirmed).
        let mut retired: Vec<PartyIndex> = out.retired.iter().map(|r| r.old_index).collect();
        retired.sort();
        if retired != dealers || out.retired.iter().any(|r| r.key_id != key_id) {
            return Err(format!(
                "resharing to {new_n}:{new_m}: retirements for {:?}, dealers were {dealer_ids:?}",
                retired.iter().map(|p| p.0).collect::<Vec<_>>()
            ));
        }
        // The old shares go now: only the new committee can sign from here on.
        drop(old);
        committee = out.shares.into_iter().map(Arc::new).collect();
        (cur_n, cur_m) = (new_n, new_m);

        // Derive again from this committee's own key data: it must give the same signing key.
        let stage_key = SigningKey::of(
            committee.first().ok_or("no shares")?,
            args.derive.as_deref(),
        )?;
        if stage_key.point != key.point {
            return Err(format!(
                "resharing to {new_n}:{new_m} changed the signing key"
            ));
        }
        let signed = sign_with(&committee, new_m, &digest, &stage_key)?;
        stages.push(Stage {
            operators: new_n,
            threshold: new_m,
            public_key: hex::encode(public_key.to_affine().to_bytes()),
            dealers: Some(dealer_ids),
            signers: signed.signers,
            r: hex::encode(signed.sig.r),
            s: hex::encode(signed.sig.s),
            recovery_id: signed.sig.recovery_id,
            verified: signed.verified,
            primes_ms: stage_primes_ms,
            reshare_ms: Some(reshare_ms),
            presign_ms: signed.presign_ms,
            sign_ms: signed.sign_ms,
        });
    }
    let all_verified = stages.iter().all(|s| s.verified);

    let report = Report {
        public_key: hex::encode(public_key.to_affine().to_bytes()),
        message: message.clone(),
        digest: hex::encode(digest),
        r: hex::encode(first.sig.r),
        s: hex::encode(first.sig.s),
        recovery_id: first.sig.recovery_id,
        signers: first.signers,
        verified: first.verified,
        primes_ms,
        keygen_ms,
        presign_ms: first.presign_ms,
        sign_ms: first.sign_ms,
        path: args.derive.clone(),
        xpub: key.xpub,
        child_public_key: key.child_public_key,
        stages: (!args.reshare.is_empty()).then_some(stages),
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
            primes_ms, keygen_ms, report.presign_ms, report.sign_ms
        );
        for (i, st) in report.stages.iter().flatten().enumerate() {
            let origin = match (&st.dealers, st.reshare_ms) {
                (Some(d), Some(ms)) => format!("reshared by {d:?} in {ms} ms"),
                _ => "key generation".to_string(),
            };
            println!(
                "  stage {i:<6} {}-of-{}, {origin}, signers {:?}, verified {}, r {}…",
                st.threshold,
                st.operators,
                st.signers,
                st.verified,
                st.r.get(..16).unwrap_or(&st.r)
            );
        }
    }
    if !all_verified {
        return Err("a signature did not verify".into());
    }
    Ok(())
}

/// The key a committee signs under: the group key, or with `--derive` the BIP32 child at the
/// path, derived publicly from the share's group key and chain code.
struct SigningKey {
    tweak: Scalar,
    point: ProjectivePoint,
    xpub: Option<String>,
    child_public_key: Option<String>,
}

impl SigningKey {
    fn of(share: &KeyShare, derive: Option<&str>) -> Result<Self, String> {
        let public_key = share.public_key_point().map_err(|e| e.to_string())?;
        let Some(path) = derive else {
            return Ok(Self {
                tweak: Scalar::ZERO,
                point: public_key,
                xpub: None,
                child_public_key: None,
            });
        };
        let master = tessera_ecdsa::hd::master_xpub(&public_key, share.chain_code)
            .map_err(|e| e.to_string())?;
        let child =
            tessera_ecdsa::hd::derive(&master, path).map_err(|e| format!("--derive: {e}"))?;
        Ok(Self {
            tweak: child.tweak,
            point: child.public_key,
            xpub: Some(master.to_string(bip32::Prefix::XPUB)),
            child_public_key: Some(hex::encode(child.public_key.to_affine().to_bytes())),
        })
    }
}

struct Signed {
    signers: Vec<u16>,
    sig: tessera_ecdsa::Signature,
    verified: bool,
    presign_ms: u128,
    sign_ms: u128,
}

/// A random `m` of `committee` presign, then sign `digest` under `key`; the signature is checked
/// with k256's verifier, independently of the protocol's own check.
fn sign_with(
    committee: &[Arc<KeyShare>],
    m: u16,
    digest: &[u8; 32],
    key: &SigningKey,
) -> Result<Signed, String> {
    let n = u16::try_from(committee.len()).map_err(|_| "committee too large")?;
    let signers = random_subset(n, m);
    let ids: Vec<u16> = signers.iter().map(|p| p.0).collect();
    eprintln!("[tessera] presigning with operators {ids:?}…");
    let t = Instant::now();
    let presigs = tessera_sim::presign(committee, &signers, Seed::random(&mut OsRng))
        .map_err(|e| format!("presigning failed: {e}"))?;
    let presign_ms = t.elapsed().as_millis();

    let mut entropy = [0u8; 32];
    OsRng.fill_bytes(&mut entropy);
    let req = SignRequest {
        digest: *digest,
        tweak: key.tweak,
        entropy,
    };
    let t = Instant::now();
    let sig = tessera_sim::sign(presigs, &req).map_err(|e| format!("signing failed: {e}"))?;
    let sign_ms = t.elapsed().as_millis();

    let vk =
        k256::ecdsa::VerifyingKey::from_affine(key.point.to_affine()).map_err(|e| e.to_string())?;
    let verified = sig
        .to_k256()
        .map(|s| vk.verify_prehash(digest, &s).is_ok() && s.normalize_s().is_none())
        .unwrap_or(false);
    Ok(Signed {
        signers: ids,
        sig,
        verified,
        presign_ms,
        sign_ms,
    })
}

/// Fixture Paillier keys for `n` parties from pair `offset` on, wrapping around the fixture's
/// few pairs: several parties then share a modulus. Acceptable only because the fixture keys are
/// public anyway (`--insecure-test-primes`).
fn cyclic_fixture_keys(n: u16, offset: usize) -> Result<Vec<tessera_paillier::SecretKey>, String> {
    (0..usize::from(n))
        .map(|i| {
            tessera_sim::fixtures::paillier_keys(1, offset + i)?
                .pop()
                .ok_or_else(|| "no fixture key".to_string())
        })
        .collect()
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
