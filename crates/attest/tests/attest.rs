//! Policy checks over the software backend: one passing case and one failing case per check.

use std::path::Path;

use rand_core::OsRng;
use tessera_attest::{
    measure_current_exe, measure_file, AttestError, Backend, Claims, Evidence, FormatVerifier,
    Measurement, Policy, SoftwareBackend, SoftwareVerifier, MAX_EVIDENCE_LEN, SOFTWARE_FORMAT,
};
use tessera_identity::{Identity, IdentityKey};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const NETWORK: &str = "tessera-devnet";
const NOW: u64 = 1_700_000_000;

struct Fixture {
    _dir: tempfile::TempDir,
    backend: SoftwareBackend,
    node: IdentityKey,
    measurement: Measurement,
}

impl Fixture {
    fn new() -> Result<Self, Box<dyn std::error::Error>> {
        let dir = tempfile::tempdir()?;
        let platform_file = dir.path().join("platform.pem");
        Identity::generate(&mut OsRng).save(&platform_file)?;
        let measurement = Measurement::of_bytes(b"tessera node binary");
        let backend =
            SoftwareBackend::load(&platform_file, measurement, &dir.path().join("sealing.key"))?;
        Ok(Fixture {
            _dir: dir,
            backend,
            node: Identity::generate(&mut OsRng).public(),
            measurement,
        })
    }

    fn policy(&self) -> Policy {
        Policy::new(NETWORK, [self.measurement]).with_verifier(self.backend.verifier())
    }

    fn evidence(&self) -> Result<Evidence, AttestError> {
        self.backend.evidence(&self.node, NETWORK, NOW)
    }
}

#[test]
fn good_evidence_passes() -> TestResult {
    let f = Fixture::new()?;
    let claims = f.policy().check(&f.evidence()?, &f.node, NOW)?;
    assert_eq!(
        claims,
        Claims {
            identity: f.node,
            network: NETWORK.into(),
            measurement: f.measurement,
            issued_at: NOW,
            expires_at: NOW + 600,
        }
    );
    // Still valid one second before expiry.
    f.policy().check(&f.evidence()?, &f.node, NOW + 599)?;
    Ok(())
}

#[test]
fn wrong_identity_is_refused() -> TestResult {
    let f = Fixture::new()?;
    let other = Identity::generate(&mut OsRng).public();
    let err = f.policy().check(&f.evidence()?, &other, NOW).err();
    assert!(
        matches!(err, Some(AttestError::IdentityMismatch { expected, found }) if expected == other && found == f.node),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn wrong_network_is_refused() -> TestResult {
    let f = Fixture::new()?;
    let evidence = f.backend.evidence(&f.node, "tessera-mainnet", NOW)?;
    let err = f.policy().check(&evidence, &f.node, NOW).err();
    assert!(
        matches!(err, Some(AttestError::NetworkMismatch { .. })),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn measurement_not_allowlisted_is_refused() -> TestResult {
    let f = Fixture::new()?;
    let other = Measurement::of_bytes(b"a modified binary");
    let mut policy = Policy::new(NETWORK, [other]).with_verifier(f.backend.verifier());
    let err = policy.check(&f.evidence()?, &f.node, NOW).err();
    assert!(
        matches!(err, Some(AttestError::MeasurementNotAllowed(m)) if m == f.measurement),
        "{err:?}"
    );
    policy.set_allowlist([other, f.measurement]);
    policy.check(&f.evidence()?, &f.node, NOW)?;
    Ok(())
}

#[test]
fn expired_evidence_is_refused() -> TestResult {
    let f = Fixture::new()?;
    for now in [NOW + 600, NOW + 10_000] {
        let err = f.policy().check(&f.evidence()?, &f.node, now).err();
        assert!(
            matches!(err, Some(AttestError::Expired { expires_at, .. }) if expires_at == NOW + 600),
            "{err:?}"
        );
    }
    Ok(())
}

#[test]
fn not_yet_valid_evidence_is_refused() -> TestResult {
    let f = Fixture::new()?;
    // Within the default 30 s skew: accepted.
    f.policy().check(&f.evidence()?, &f.node, NOW - 30)?;
    let err = f.policy().check(&f.evidence()?, &f.node, NOW - 31).err();
    assert!(
        matches!(err, Some(AttestError::NotYetValid { .. })),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn overlong_or_empty_validity_is_refused() -> TestResult {
    let f = Fixture::new()?;
    let policy = f.policy().with_max_validity(300);
    let err = policy.check(&f.evidence()?, &f.node, NOW).err();
    assert!(
        matches!(err, Some(AttestError::BadValidityPeriod { .. })),
        "{err:?}"
    );
    let dir = tempfile::tempdir()?;
    let zero = SoftwareBackend::new(
        Identity::generate(&mut OsRng),
        f.measurement,
        &dir.path().join("sealing.key"),
    )?
    .with_validity(0);
    let policy = Policy::new(NETWORK, [f.measurement]).with_verifier(zero.verifier());
    let evidence = zero.evidence(&f.node, NETWORK, NOW)?;
    let err = policy.check(&evidence, &f.node, NOW).err();
    assert!(
        matches!(err, Some(AttestError::BadValidityPeriod { .. })),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn evidence_from_another_platform_key_is_refused() -> TestResult {
    let f = Fixture::new()?;
    let stranger = SoftwareVerifier {
        platform_key: Identity::generate(&mut OsRng).public(),
    };
    let policy = Policy::new(NETWORK, [f.measurement]).with_verifier(stranger);
    let err = policy.check(&f.evidence()?, &f.node, NOW).err();
    assert!(
        matches!(err, Some(AttestError::BadSignature { .. })),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn truncated_or_garbled_evidence_is_refused() -> TestResult {
    let f = Fixture::new()?;
    let good = f.evidence()?;
    let policy = f.policy();
    let malformed = |e: &Evidence| {
        matches!(
            policy.check(e, &f.node, NOW),
            Err(AttestError::Malformed { .. })
        )
    };
    let bad_signature = |e: &Evidence| {
        matches!(
            policy.check(e, &f.node, NOW),
            Err(AttestError::BadSignature { .. })
        )
    };

    let mut truncated = good.clone();
    truncated.bytes.truncate(good.bytes.len() - 10);
    assert!(malformed(&truncated));

    let mut trailing = good.clone();
    trailing.bytes.push(0);
    assert!(malformed(&trailing));

    let mut empty = good.clone();
    empty.bytes.clear();
    assert!(malformed(&empty));

    // A flipped byte inside the signed claims (byte 0 is their length prefix).
    let mut flipped = good.clone();
    if let Some(b) = flipped.bytes.get_mut(5) {
        *b ^= 1;
    }
    assert!(bad_signature(&flipped));

    // A flipped byte in the signature.
    let mut flipped = good;
    if let Some(b) = flipped.bytes.last_mut() {
        *b ^= 1;
    }
    assert!(bad_signature(&flipped));
    Ok(())
}

#[test]
fn unknown_format_is_refused() -> TestResult {
    let f = Fixture::new()?;
    let mut evidence = f.evidence()?;
    evidence.format = "aws-nitro-v1".into();
    let err = f.policy().check(&evidence, &f.node, NOW).err();
    assert!(
        matches!(&err, Some(AttestError::UnknownFormat(x)) if x == "aws-nitro-v1"),
        "{err:?}"
    );
    // A policy without verifiers knows no format at all.
    let err = Policy::new(NETWORK, [f.measurement])
        .check(&f.evidence()?, &f.node, NOW)
        .err();
    assert!(
        matches!(err, Some(AttestError::UnknownFormat(_))),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn oversized_evidence_is_refused() -> TestResult {
    let f = Fixture::new()?;
    let big = Evidence {
        format: SOFTWARE_FORMAT.into(),
        bytes: vec![0; MAX_EVIDENCE_LEN + 1],
    };
    let err = f.policy().check(&big, &f.node, NOW).err();
    assert!(
        matches!(err, Some(AttestError::EvidenceTooLarge { .. })),
        "{err:?}"
    );
    assert!(big.to_bytes().is_err());
    let json = serde_json::to_string(&big)?;
    assert!(serde_json::from_str::<Evidence>(&json).is_err());
    Ok(())
}

/// A stand-in for a hardware format (as a Nitro or TDX verifier would be): the same policy
/// code applies to whatever claims it returns.
struct FixedClaimsVerifier(Claims);

impl FormatVerifier for FixedClaimsVerifier {
    fn format(&self) -> &'static str {
        "test-enclave-v1"
    }
    fn verify(&self, _: &Evidence, _: u64) -> Result<Claims, AttestError> {
        Ok(self.0.clone())
    }
}

#[test]
fn another_format_plugs_into_the_same_policy() -> TestResult {
    let f = Fixture::new()?;
    let claims = Claims {
        identity: f.node,
        network: NETWORK.into(),
        measurement: Measurement::of_bytes(b"enclave image"),
        issued_at: NOW,
        expires_at: NOW + 60,
    };
    let mut policy = f
        .policy()
        .with_verifier(FixedClaimsVerifier(claims.clone()));
    assert_eq!(policy.formats(), [SOFTWARE_FORMAT, "test-enclave-v1"]);
    let evidence = Evidence {
        format: "test-enclave-v1".into(),
        bytes: vec![1, 2, 3],
    };
    let err = policy.check(&evidence, &f.node, NOW).err();
    assert!(
        matches!(err, Some(AttestError::MeasurementNotAllowed(_))),
        "{err:?}"
    );
    policy.set_allowlist([claims.measurement]);
    assert_eq!(policy.check(&evidence, &f.node, NOW)?, claims);
    let err = policy.check(&evidence, &f.node, NOW + 60).err();
    assert!(matches!(err, Some(AttestError::Expired { .. })), "{err:?}");
    Ok(())
}

#[test]
fn evidence_encodings_round_trip() -> TestResult {
    let f = Fixture::new()?;
    let evidence = f.evidence()?;
    let bin = evidence.to_bytes()?;
    assert_eq!(Evidence::from_bytes(&bin)?, evidence);
    let mut trailing = bin.clone();
    trailing.push(0);
    assert!(Evidence::from_bytes(&trailing).is_err());
    let mut short = bin;
    short.pop();
    assert!(Evidence::from_bytes(&short).is_err());

    let json = serde_json::to_value(&evidence)?;
    assert_eq!(json.get("format"), Some(&SOFTWARE_FORMAT.into()));
    assert_eq!(
        json.get("bytes"),
        Some(&hex::encode(&evidence.bytes).into())
    );
    assert_eq!(serde_json::from_value::<Evidence>(json.clone())?, evidence);
    let mut extra = json;
    if let Some(obj) = extra.as_object_mut() {
        obj.insert("extra".into(), 1.into());
    }
    assert!(serde_json::from_value::<Evidence>(extra).is_err());
    Ok(())
}

#[test]
fn measurements_are_sha256_in_hex() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("binary");
    std::fs::write(&path, b"abc")?;
    let m = measure_file(&path)?;
    let abc = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";
    assert_eq!(m.to_string(), abc);
    assert_eq!(abc.parse::<Measurement>()?, m);
    assert_eq!(Measurement::of_bytes(b"abc"), m);
    assert_eq!(serde_json::to_string(&m)?, format!("\"{abc}\""));
    assert_eq!(
        serde_json::from_str::<Measurement>(&format!("\"{abc}\""))?,
        m
    );
    assert!("abcd".parse::<Measurement>().is_err());
    assert!("zz".repeat(32).parse::<Measurement>().is_err());
    assert!(measure_file(&dir.path().join("missing")).is_err());

    let exe = measure_current_exe()?;
    assert_eq!(exe, measure_file(&std::env::current_exe()?)?);
    Ok(())
}

#[test]
fn sealing_key_is_stable_and_per_file() -> TestResult {
    let dir = tempfile::tempdir()?;
    let m = Measurement([0; 32]);
    let platform = || Identity::from_secret_bytes(&[1; 32]);
    let a = dir.path().join("a.key");
    let key_a = SoftwareBackend::new(platform(), m, &a)?.sealing_key()?;
    let again = SoftwareBackend::new(platform(), m, &a)?.sealing_key()?;
    assert_eq!(*key_a, *again);
    let b = dir.path().join("b.key");
    let key_b = SoftwareBackend::new(platform(), m, &b)?.sealing_key()?;
    assert_ne!(*key_a, *key_b);
    // The key is derived from the file, not the file's bytes themselves.
    assert_ne!(std::fs::read(&a)?, key_a.to_vec());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(std::fs::metadata(&a)?.permissions().mode() & 0o777, 0o600);
    }
    Ok(())
}

#[cfg(unix)]
#[test]
fn readable_sealing_key_file_is_refused() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sealing.key");
    let m = Measurement([0; 32]);
    let backend = SoftwareBackend::new(Identity::generate(&mut OsRng), m, &path)?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644))?;
    let err = backend.sealing_key().err();
    assert!(matches!(err, Some(AttestError::KeyFile(_))), "{err:?}");
    let err = SoftwareBackend::new(Identity::generate(&mut OsRng), m, &path).err();
    let shown = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(shown.contains("readable by group or others"), "{shown}");
    Ok(())
}

#[test]
fn short_sealing_key_file_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sealing.key");
    write_private(&path, &[0u8; 16])?;
    let m = Measurement([0; 32]);
    let err = SoftwareBackend::new(Identity::generate(&mut OsRng), m, &path).err();
    assert!(
        matches!(err, Some(AttestError::SealingKeyFile { .. })),
        "{err:?}"
    );
    Ok(())
}

#[cfg(unix)]
#[test]
fn readable_platform_key_file_is_refused() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    let platform_file = dir.path().join("platform.pem");
    Identity::generate(&mut OsRng).save(&platform_file)?;
    std::fs::set_permissions(&platform_file, std::fs::Permissions::from_mode(0o640))?;
    let sealing = dir.path().join("sealing.key");
    let err = SoftwareBackend::load(&platform_file, Measurement([0; 32]), &sealing).err();
    assert!(matches!(err, Some(AttestError::KeyFile(_))), "{err:?}");
    Ok(())
}

#[test]
fn debug_never_shows_secrets() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = dir.path().join("sealing.key");
    let platform = Identity::from_secret_bytes(&[9; 32]);
    let backend = SoftwareBackend::new(platform, Measurement([0; 32]), &path)?;
    let shown = format!("{backend:?}");
    assert!(!shown.contains(&hex::encode([9u8; 32])), "{shown}");
    assert!(
        !shown.contains(&hex::encode(std::fs::read(&path)?)),
        "{shown}"
    );
    assert!(
        !shown.contains(&hex::encode(*backend.sealing_key()?)),
        "{shown}"
    );
    Ok(())
}

fn write_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    opts.open(path)?.write_all(bytes)
}
