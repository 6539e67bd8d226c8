//! `tessera demo --misbehave PARTY:BEHAVIOUR` (the `malicious` feature): the demo flow with one
//! operator cheating, reporting whom the honest operators blame and with which check.

use std::sync::Arc;
use std::time::Instant;

use k256::Scalar;
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use tessera_core::PartyIndex;
use tessera_ecdsa::SignRequest;
use tessera_sim::misbehave::{self, Phase, Role, Verdict};
use tessera_sim::Seed;

#[derive(Serialize)]
struct Report {
    behaviour: &'static str,
    cheater: u16,
    phase: &'static str,
    /// Every honest operator aborted.
    aborted: bool,
    /// The operators the honest operators blame.
    culprits: Vec<u16>,
    /// The check tag they name (several joined by `,` if a run ever names more than one).
    check: String,
    /// The tag this behaviour is designed to trip.
    expected_check: &'static str,
    /// All honest operators reached the same verdict.
    consistent: bool,
    signers: Vec<u16>,
    keygen_ms: u128,
    presign_ms: u128,
    sign_ms: u128,
    /// For refresh behaviours: the operators that dealt, and the refresh's duration.
    #[serde(skip_serializing_if = "Option::is_none")]
    dealers: Option<Vec<u16>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    refresh_ms: Option<u128>,
}

fn parse(spec: &str, n: u16) -> Result<(PartyIndex, &'static misbehave::Named), String> {
    let (party, name) = spec
        .split_once(':')
        .ok_or_else(|| format!("--misbehave takes PARTY:BEHAVIOUR, got {spec:?}"))?;
    let party: u16 = party
        .parse()
        .map_err(|_| format!("--misbehave: {party:?} is not a party index"))?;
    if party >= n {
        return Err(format!(
            "--misbehave: party {party} does not exist (operators are 0..{n})"
        ));
    }
    let named = misbehave::lookup(name).ok_or_else(|| {
        format!("--misbehave: unknown behaviour {name:?} (see --list-misbehaviours)")
    })?;
    Ok((PartyIndex(party), named))
}

/// `M` signers including `cheater`.
fn signers_with(n: u16, m: u16, cheater: PartyIndex) -> Vec<PartyIndex> {
    let mut s = crate::demo::random_subset(n, m);
    if !s.contains(&cheater) {
        let i = (OsRng.next_u64() % s.len() as u64) as usize;
        if let Some(slot) = s.get_mut(i) {
            *slot = cheater;
        }
        s.sort();
    }
    s
}

pub fn run(
    n: u16,
    m: u16,
    spec: &str,
    message: &str,
    insecure: bool,
    json: bool,
) -> Result<(), String> {
    let (cheater, named) = parse(spec, n)?;
    if named.phase == Phase::Keygen && n < 2 {
        return Err("--misbehave needs at least 2 operators (one honest to judge)".into());
    }
    if named.phase != Phase::Keygen && m < 2 {
        return Err("--misbehave in presign, sign or refresh needs --threshold ≥ 2".into());
    }
    let progress = |s: &str| eprintln!("[tessera] {s}");
    progress(&format!(
        "operator {} will deviate: {} (caught by {})",
        cheater.0, named.name, named.check
    ));
    let seed = Seed::random(&mut OsRng);
    let keys = if insecure {
        progress("using the public test primes (INSECURE: demo only)");
        tessera_sim::fixtures::paillier_keys(usize::from(n), 0)?
    } else {
        crate::demo::generate_keys(n, tessera_zk::SecurityLevel::LEVEL128.prime_bits)?
    };
    let mut report = Report {
        behaviour: named.name,
        cheater: cheater.0,
        phase: named.phase.name(),
        aborted: false,
        culprits: Vec::new(),
        check: String::new(),
        expected_check: named.check,
        consistent: true,
        signers: Vec::new(),
        keygen_ms: 0,
        presign_ms: 0,
        sign_ms: 0,
        dealers: None,
        refresh_ms: None,
    };
    let err = |e: tessera_sim::SimError| e.to_string();

    progress(&format!("key generation among {n} operators…"));
    let t = Instant::now();
    let verdict: Verdict = 'run: {
        let (kb, honest_keygen) = if named.phase == Phase::Keygen {
            (named.behaviour(cheater, n), false)
        } else {
            (tessera_ecdsa::malicious::Behaviour::Honest, true)
        };
        let outcomes = misbehave::keygen(n, m, keys, seed, cheater, kb).map_err(err)?;
        report.keygen_ms = t.elapsed().as_millis();
        if !honest_keygen {
            break 'run misbehave::verdict(&outcomes, cheater);
        }
        let shares: Vec<Arc<_>> = outcomes
            .into_iter()
            .map(|(p, o)| o.ok().map(Arc::new).ok_or(format!("keygen failed at {p}")))
            .collect::<Result<_, _>>()?;
        if let Phase::Refresh(role) = named.phase {
            break 'run refresh(
                &shares,
                n,
                m,
                cheater,
                named,
                role,
                insecure,
                seed,
                &mut report,
            )?;
        }
        let behaviour = named.behaviour(cheater, n);

        let signers = signers_with(n, m, cheater);
        report.signers = signers.iter().map(|p| p.0).collect();
        progress(&format!("presigning with operators {:?}…", report.signers));
        let t = Instant::now();
        let pb = if named.phase == Phase::Presign {
            behaviour
        } else {
            tessera_ecdsa::malicious::Behaviour::Honest
        };
        let outcomes = misbehave::presign(&shares, &signers, seed, cheater, pb).map_err(err)?;
        report.presign_ms = t.elapsed().as_millis();
        if named.phase == Phase::Presign {
            break 'run misbehave::verdict(&outcomes, cheater);
        }
        let presigs: Vec<_> = outcomes
            .into_iter()
            .map(|(p, o)| o.ok().ok_or(format!("presign failed at {p}")))
            .collect::<Result<_, _>>()?;
        let mut entropy = [0u8; 32];
        OsRng.fill_bytes(&mut entropy);
        let req = SignRequest {
            digest: Sha256::digest(message.as_bytes()).into(),
            tweak: Scalar::ZERO,
            entropy,
        };
        let t = Instant::now();
        let outcomes = misbehave::sign(presigs, &req, cheater, behaviour).map_err(err)?;
        report.sign_ms = t.elapsed().as_millis();
        misbehave::verdict(&outcomes, cheater)
    };
    report.aborted = verdict.aborted;
    report.culprits = verdict.culprits.clone();
    report.check = verdict.checks.join(",");
    report.consistent = verdict.consistent;

    if json {
        println!(
            "{}",
            serde_json::to_string(&report).map_err(|e| e.to_string())?
        );
    } else {
        println!(
            "Tessera demo with a cheating operator: {m}-of-{n}, operator {} runs {}",
            report.cheater, report.behaviour
        );
        println!("  phase        {}", report.phase);
        println!("  aborted      {}", report.aborted);
        println!("  culprits     {:?}", report.culprits);
        println!(
            "  check        {} (designed to trip {})",
            report.check, report.expected_check
        );
        println!("  consistent   {}", report.consistent);
    }
    if !(report.aborted && report.consistent && report.culprits == [cheater.0]) {
        return Err("the honest operators did not identify exactly the cheating operator".into());
    }
    Ok(())
}

/// The refresh leg: `M` dealers (with the cheater if it deviates as a dealer, without it if
/// it deviates as a receiver and there are enough others), fresh Paillier keys for all.
#[allow(clippy::too_many_arguments)]
fn refresh(
    shares: &[Arc<tessera_ecdsa::KeyShare>],
    n: u16,
    m: u16,
    cheater: PartyIndex,
    named: &misbehave::Named,
    role: Role,
    insecure: bool,
    seed: Seed,
    report: &mut Report,
) -> Result<Verdict, String> {
    let others: Vec<PartyIndex> = (0..n).map(PartyIndex).filter(|&p| p != cheater).collect();
    let mut dealers: Vec<PartyIndex> = match role {
        Role::Dealer => std::iter::once(cheater)
            .chain(others.iter().copied().take(usize::from(m) - 1))
            .collect(),
        Role::Receiver if others.len() >= usize::from(m) => {
            others.iter().copied().take(usize::from(m)).collect()
        }
        Role::Receiver => std::iter::once(cheater)
            .chain(others.iter().copied().take(usize::from(m) - 1))
            .collect(),
    };
    dealers.sort();
    report.dealers = Some(dealers.iter().map(|p| p.0).collect());
    let cheater_seat = match role {
        Role::Receiver => cheater,
        Role::Dealer => {
            let k = dealers.iter().position(|&d| d == cheater).unwrap_or(0);
            PartyIndex(n + u16::try_from(k).map_err(|_| "dealer index")?)
        }
    };
    let behaviour = named.behaviour(cheater_seat, n);
    let keys = if insecure {
        // Fixture pairs after the ones keygen used, so the refresh really changes the keys.
        tessera_sim::fixtures::paillier_keys(usize::from(n), usize::from(n))?
    } else {
        crate::demo::generate_keys(n, tessera_zk::SecurityLevel::LEVEL128.prime_bits)?
    };
    eprintln!(
        "[tessera] refresh dealt by operators {:?}…",
        report.dealers.as_deref().unwrap_or_default()
    );
    let t = Instant::now();
    let (st, outcomes) = misbehave::refresh(shares, &dealers, keys, seed, cheater_seat, behaviour)
        .map_err(|e| e.to_string())?;
    report.refresh_ms = Some(t.elapsed().as_millis());
    Ok(misbehave::refresh_verdict(&st, &outcomes, cheater))
}
