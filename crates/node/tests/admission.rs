//! Peers are admitted by the same attestation check the ledger applies to heartbeats, against
//! the log's allowlist and every platform key it names.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, RwLock};

use rand_core::OsRng;
use tessera_attest::{Backend, Measurement, SoftwareBackend};
use tessera_identity::Identity;
use tessera_ledger::{Action, Command, SignedCommand, State};
use tessera_node::attestation::LogAdmission;
use tessera_transport::Admission;

#[test]
fn evidence_from_any_listed_platform_key_admits_and_nothing_else_does() {
    let dir = tempfile::tempdir().unwrap();
    let ledger = Identity::generate(&mut OsRng);
    // Platform keys from fixed secrets, so the test can hand a copy to each backend.
    let (first, second, stranger) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    let public = |s: &[u8; 32]| Identity::from_secret_bytes(s).public();
    let good = Measurement::of_bytes(b"node binary");
    let mut st = State::new("net".into(), ledger.public());
    let genesis = Command::new(
        "net",
        Action::Genesis {
            allowlist: vec![good.to_string()],
            platform_keys: vec![public(&first), public(&second)],
        },
        0,
        &mut OsRng,
    );
    let entry = st.next_entry(SignedCommand::sign(&ledger, genesis));
    st.apply(&entry).unwrap();
    let admission = LogAdmission {
        state: Arc::new(RwLock::new(st)),
    };
    let peer = Identity::generate(&mut OsRng).public();
    let now = 1_000_000;
    let evidence = |platform: &[u8; 32], m: Measurement, name: &str| {
        let b = SoftwareBackend::new(
            Identity::from_secret_bytes(platform),
            m,
            &dir.path().join(name),
        )
        .unwrap();
        b.evidence(&peer, "net", now).unwrap().to_bytes().unwrap()
    };
    // Both platform keys of the log admit (not only the last one listed).
    for (p, name) in [(&first, "s1"), (&second, "s2")] {
        let exp = admission
            .admit(&peer, &evidence(p, good, name), now)
            .unwrap();
        assert!(exp > now);
    }
    // Another platform key, or a binary off the allowlist, does not.
    assert!(admission
        .admit(&peer, &evidence(&stranger, good, "s3"), now)
        .is_err());
    let other = Measurement::of_bytes(b"altered binary");
    let err = admission
        .admit(&peer, &evidence(&first, other, "s4"), now)
        .unwrap_err();
    assert!(err.contains("not in the allowlist"), "{err}");
    // Evidence bound to another identity does not admit this peer.
    let someone = Identity::generate(&mut OsRng).public();
    assert!(admission
        .admit(&someone, &evidence(&first, good, "s5"), now)
        .is_err());
}
