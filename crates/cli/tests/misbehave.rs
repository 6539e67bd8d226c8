//! `tessera demo --misbehave` and `--list-misbehaviours`: the binary built with the `malicious`
//! feature (`cargo nextest run -p tessera-cli --features malicious --test misbehave`, which
//! `scripts/test.sh` runs).

#![cfg(feature = "malicious")]
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

use std::process::Command;

fn tessera(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_tessera"))
        .args(args)
        .output()
        .expect("run tessera")
}

#[test]
fn list_misbehaviours_prints_one_name_per_line() {
    let out = tessera(&["demo", "--list-misbehaviours"]);
    assert!(out.status.success());
    let s = String::from_utf8(out.stdout).unwrap();
    let names: Vec<&str> = s.lines().collect();
    assert_eq!(names.len(), tessera_sim::misbehave::CATALOGUE.len());
    for b in tessera_sim::misbehave::CATALOGUE {
        assert!(names.contains(&b.name), "{}", b.name);
    }
    assert!(names.iter().all(|n| !n.is_empty() && !n.contains(' ')));
}

#[test]
fn a_cheating_operator_is_named_with_the_check() {
    let out = tessera(&[
        "demo",
        "--operators",
        "2",
        "--threshold",
        "2",
        "--message",
        "x",
        "--misbehave",
        "1:presign-wrong-sigma",
        "--json",
        "--insecure-test-primes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let s = String::from_utf8(out.stdout).unwrap();
    assert_eq!(s.lines().count(), 1, "{s}");
    let v: serde_json::Value = serde_json::from_str(&s).unwrap();
    assert_eq!(v["aborted"], true);
    assert_eq!(v["culprits"], serde_json::json!([1]));
    assert_eq!(v["check"], "[T7.3]");
    assert_eq!(v["phase"], "presign");
    assert_eq!(v["consistent"], true);
}

#[test]
fn a_split_acknowledgement_in_refresh_is_named_by_the_echo() {
    let out = tessera(&[
        "demo",
        "--operators",
        "2",
        "--threshold",
        "2",
        "--message",
        "x",
        "--misbehave",
        "1:refresh-split-ack",
        "--json",
        "--insecure-test-primes",
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["phase"], "refresh");
    assert_eq!(v["aborted"], true);
    assert_eq!(v["culprits"], serde_json::json!([1]));
    assert_eq!(v["check"], "[R5.1]");
    assert_eq!(v["expected_check"], "[R5.1]");
    assert_eq!(v["dealers"], serde_json::json!([0, 1]));
    assert_eq!(v["consistent"], true);
}

#[test]
fn bad_misbehave_specs_are_clear_errors_before_any_work() {
    for spec in [
        "presign-wrong-delta",
        "5:presign-wrong-delta",
        "x:presign-wrong-delta",
        "0:nope",
    ] {
        let out = tessera(&[
            "demo",
            "--operators",
            "3",
            "--threshold",
            "2",
            "--message",
            "x",
            "--misbehave",
            spec,
        ]);
        assert!(!out.status.success(), "{spec}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--misbehave"), "{spec}: {err}");
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn reshare_is_refused_with_misbehave() {
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
        "--misbehave",
        "1:presign-wrong-delta",
    ]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--reshare") && err.contains("--misbehave"),
        "{err}"
    );
    assert!(!err.contains("[tessera]"), "{err}");
    assert!(out.stdout.is_empty());
}
