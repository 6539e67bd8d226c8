//! `tessera demo` as a user runs it: the real binary, its JSON, its exit status.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

use k256::ecdsa::signature::hazmat::PrehashVerifier;
use k256::ecdsa::{RecoveryId, Signature, VerifyingKey};
use sha2::{Digest, Sha256};

fn tessera(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("run tessera")
}

#[test]
fn demo_json_is_one_verified_object() {
    let out = tessera(&[
        "demo",
        "--operators",
        "3",
        "--threshold",
        "2",
        "--message",
        "pay 1 BTC to Alice",
        "--json",
        "--insecure-test-primes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout.lines().count(),
        1,
        "exactly one line of JSON: {stdout}"
    );
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    for key in [
        "public_key",
        "message",
        "digest",
        "r",
        "s",
        "recovery_id",
        "signers",
        "verified",
        "keygen_ms",
        "presign_ms",
        "sign_ms",
    ] {
        assert!(v.get(key).is_some(), "missing {key}");
    }
    assert_eq!(v["message"], "pay 1 BTC to Alice");
    let digest: [u8; 32] = Sha256::digest(b"pay 1 BTC to Alice").into();
    assert_eq!(v["digest"], hex::encode(digest));
    assert_eq!(v["verified"], true);
    let signers: Vec<u64> = v["signers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_u64().unwrap())
        .collect();
    assert_eq!(signers.len(), 2);
    assert!(signers.iter().all(|&s| s < 3));

    // Check the signature here too, independently of the binary's own verdict.
    let pk = hex::decode(v["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(pk.len(), 33);
    let vk = VerifyingKey::from_sec1_bytes(&pk).unwrap();
    let r = hex::decode(v["r"].as_str().unwrap()).unwrap();
    let s = hex::decode(v["s"].as_str().unwrap()).unwrap();
    assert_eq!((r.len(), s.len()), (32, 32));
    let sig = Signature::from_scalars(
        <[u8; 32]>::try_from(r.as_slice()).unwrap(),
        <[u8; 32]>::try_from(s.as_slice()).unwrap(),
    )
    .unwrap();
    assert!(sig.normalize_s().is_none(), "s is low");
    vk.verify_prehash(&digest, &sig).unwrap();
    let recid = RecoveryId::from_byte(v["recovery_id"].as_u64().unwrap() as u8).unwrap();
    assert_eq!(
        VerifyingKey::recover_from_prehash(&digest, &sig, recid).unwrap(),
        vk
    );
}

#[test]
fn bad_thresholds_are_clear_errors() {
    for (n, m) in [("3", "0"), ("3", "4"), ("0", "1")] {
        let out = tessera(&["demo", "--operators", n, "--threshold", m, "--message", "x"]);
        assert!(!out.status.success(), "{n}/{m} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains("--threshold") || err.contains("--operators"),
            "{err}"
        );
        assert!(out.stdout.is_empty());
    }
    let out = tessera(&[
        "demo",
        "--operators",
        "x",
        "--threshold",
        "1",
        "--message",
        "x",
    ]);
    assert!(!out.status.success());
}

#[test]
fn human_output_by_default() {
    let out = tessera(&[
        "demo",
        "--operators",
        "1",
        "--threshold",
        "1",
        "--message",
        "hi",
        "--insecure-test-primes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    assert!(s.contains("verified     true"), "{s}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("key generation"));
}

#[test]
fn demo_derive_signs_with_the_bip32_child_key() {
    let out = tessera(&[
        "demo",
        "--operators",
        "2",
        "--threshold",
        "2",
        "--message",
        "child",
        "--derive",
        "m/0/7",
        "--json",
        "--insecure-test-primes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["path"], "m/0/7");

    // The master xpub carries the group key; derive m/0/7 with the bip32 crate as the reference.
    let xpub: bip32::XPub = v["xpub"].as_str().unwrap().parse().unwrap();
    assert!(v["xpub"].as_str().unwrap().starts_with("xpub"));
    assert_eq!(xpub.attrs().depth, 0);
    let master_pk = hex::decode(v["public_key"].as_str().unwrap()).unwrap();
    assert_eq!(
        xpub.public_key().to_encoded_point(true).as_bytes(),
        &master_pk[..]
    );
    let child = xpub
        .derive_child(bip32::ChildNumber(0))
        .unwrap()
        .derive_child(bip32::ChildNumber(7))
        .unwrap();
    let child_pk = hex::decode(v["child_public_key"].as_str().unwrap()).unwrap();
    assert_eq!(
        child.public_key().to_encoded_point(true).as_bytes(),
        &child_pk[..]
    );
    assert_ne!(child_pk, master_pk);

    // The signature verifies under the child key, not the master key.
    let digest: [u8; 32] = Sha256::digest(b"child").into();
    let sig = Signature::from_scalars(
        <[u8; 32]>::try_from(hex::decode(v["r"].as_str().unwrap()).unwrap().as_slice()).unwrap(),
        <[u8; 32]>::try_from(hex::decode(v["s"].as_str().unwrap()).unwrap().as_slice()).unwrap(),
    )
    .unwrap();
    let child_vk = VerifyingKey::from_sec1_bytes(&child_pk).unwrap();
    child_vk.verify_prehash(&digest, &sig).unwrap();
    let master_vk = VerifyingKey::from_sec1_bytes(&master_pk).unwrap();
    assert!(master_vk.verify_prehash(&digest, &sig).is_err());
    let recid = RecoveryId::from_byte(v["recovery_id"].as_u64().unwrap() as u8).unwrap();
    assert_eq!(
        VerifyingKey::recover_from_prehash(&digest, &sig, recid).unwrap(),
        child_vk
    );
}

#[test]
fn demo_refuses_hardened_or_malformed_paths_before_any_work() {
    for path in ["m/0'/1", "m/0h", "0/1", "m/x"] {
        let out = tessera(&[
            "demo",
            "--operators",
            "2",
            "--threshold",
            "2",
            "--message",
            "x",
            "--derive",
            path,
        ]);
        assert!(!out.status.success(), "{path} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--derive"), "{path}: {err}");
        assert!(
            !err.contains("generating"),
            "{path}: failed only after starting work"
        );
        assert!(out.stdout.is_empty());
    }
}

/// The signature `(r, s)` of a stage (or of the top-level object).
fn signature_of(v: &serde_json::Value) -> Signature {
    let scalar = |k: &str| -> [u8; 32] {
        hex::decode(v[k].as_str().unwrap())
            .unwrap()
            .try_into()
            .unwrap()
    };
    Signature::from_scalars(scalar("r"), scalar("s")).unwrap()
}

#[test]
fn demo_reshare_signs_with_every_committee_under_the_same_key() {
    // 1-of-2, then resharing to 2-of-3 (dealt by 1 of 2) and down to 1-of-1 (dealt by 2 of 3),
    // all signing under the same BIP32 child key. The smallest sizes that still grow, shrink,
    // raise and lower the threshold and deal from a strict subset: every seat verifies every new
    // operator's Π^mod and Π^prm, which is what costs (about 2 minutes here).
    let out = tessera(&[
        "demo",
        "--operators",
        "2",
        "--threshold",
        "1",
        "--reshare",
        "3:2",
        "--reshare",
        "1:1",
        "--derive",
        "m/3/1",
        "--message",
        "reshared",
        "--json",
        "--insecure-test-primes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1, "one line of JSON: {stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["verified"], true);
    let stages = v["stages"].as_array().unwrap();
    let committees: Vec<(u64, u64)> = stages
        .iter()
        .map(|s| {
            (
                s["operators"].as_u64().unwrap(),
                s["threshold"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(committees, [(2, 1), (3, 2), (1, 1)]);

    // The initial committee is the plain demo's: same signature, no resharing.
    assert_eq!(stages[0]["r"], v["r"]);
    assert_eq!(stages[0]["s"], v["s"]);
    assert_eq!(stages[0]["signers"], v["signers"]);
    assert!(stages[0]["reshare_ms"].is_null());
    assert!(stages[0]["dealers"].is_null());

    // Dealers: a threshold subset of the previous committee.
    for (i, (prev_n, prev_m)) in [(1, (2u64, 1u64)), (2, (3, 2))] {
        assert!(stages[i]["reshare_ms"].as_u64().is_some(), "stage {i}");
        let dealers: Vec<u64> = stages[i]["dealers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|d| d.as_u64().unwrap())
            .collect();
        assert_eq!(dealers.len() as u64, prev_m, "stage {i}");
        assert!(dealers.iter().all(|&d| d < prev_n), "stage {i}");
    }

    // One key throughout; every committee's signature verifies under the child key, derived
    // here with the bip32 crate from the xpub, and its recovery id recovers that key.
    let master_pk = v["public_key"].as_str().unwrap();
    let xpub: bip32::XPub = v["xpub"].as_str().unwrap().parse().unwrap();
    assert_eq!(
        hex::encode(xpub.public_key().to_encoded_point(true).as_bytes()),
        master_pk
    );
    let child = xpub
        .derive_child(bip32::ChildNumber(3))
        .unwrap()
        .derive_child(bip32::ChildNumber(1))
        .unwrap();
    let child_pk = child.public_key().to_encoded_point(true);
    assert_eq!(v["child_public_key"], hex::encode(child_pk.as_bytes()));
    let child_vk = VerifyingKey::from_sec1_bytes(child_pk.as_bytes()).unwrap();
    let digest: [u8; 32] = Sha256::digest(b"reshared").into();
    let mut seen_r = Vec::new();
    for (i, st) in stages.iter().enumerate() {
        assert_eq!(st["public_key"], master_pk, "stage {i}");
        assert_eq!(st["verified"], true, "stage {i}");
        let signers = st["signers"].as_array().unwrap();
        assert_eq!(signers.len() as u64, st["threshold"].as_u64().unwrap());
        let sig = signature_of(st);
        assert!(sig.normalize_s().is_none(), "stage {i}: s is low");
        child_vk.verify_prehash(&digest, &sig).unwrap();
        let recid = RecoveryId::from_byte(st["recovery_id"].as_u64().unwrap() as u8).unwrap();
        assert_eq!(
            VerifyingKey::recover_from_prehash(&digest, &sig, recid).unwrap(),
            child_vk
        );
        seen_r.push(st["r"].as_str().unwrap().to_owned());
    }
    seen_r.sort();
    seen_r.dedup();
    assert_eq!(seen_r.len(), 3, "a fresh nonce for every committee");
}

#[test]
fn bad_reshare_specs_are_clear_errors() {
    for spec in [
        "4", "4:", ":3", "x:2", "4:y", "4:5", "4:0", "0:0", "65:2", "3:2:1",
    ] {
        let out = tessera(&[
            "demo",
            "--operators",
            "3",
            "--threshold",
            "2",
            "--message",
            "x",
            "--reshare",
            "4:3",
            "--reshare",
            spec,
        ]);
        assert!(!out.status.success(), "{spec} must fail");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--reshare"), "{spec}: {err}");
        assert!(err.contains("N:M"), "{spec}: {err}");
        assert!(
            !err.contains("[tessera]"),
            "{spec}: failed only after starting work"
        );
        assert!(out.stdout.is_empty());
    }
}
