//! Sealed-store tests on real redb files in temporary directories.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};

use redb::{ReadableTable, TableDefinition};
use tessera_store::{Store, StoreError, Table};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const KEY: [u8; 32] = [7u8; 32];
/// The file layout these tests pin: redb table names and record framing.
const KEY_SHARES: TableDefinition<&str, &[u8]> = TableDefinition::new("key_shares");
const PRESIGNATURES: TableDefinition<&str, &[u8]> = TableDefinition::new("presignatures");

fn db_path(dir: &tempfile::TempDir) -> std::path::PathBuf {
    dir.path().join("node.redb")
}

/// Rewrites one raw record with `f`, going around the store (as an attacker with the file would).
fn edit_raw(
    path: &Path,
    table: TableDefinition<&str, &[u8]>,
    key: &str,
    f: impl FnOnce(&mut Vec<u8>),
) -> TestResult {
    let db = redb::Database::create(path)?;
    let txn = db.begin_write()?;
    {
        let mut t = txn.open_table(table)?;
        let mut raw = t.get(key)?.map(|g| g.value().to_vec()).ok_or("no record")?;
        f(&mut raw);
        t.insert(key, raw.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

fn copy_raw(
    path: &Path,
    table: TableDefinition<&str, &[u8]>,
    from: &str,
    to_table: TableDefinition<&str, &[u8]>,
    to: &str,
) -> TestResult {
    let db = redb::Database::create(path)?;
    let txn = db.begin_write()?;
    {
        let raw = {
            let t = txn.open_table(table)?;
            let v = t.get(from)?.map(|g| g.value().to_vec());
            v.ok_or("no record")?
        };
        txn.open_table(to_table)?.insert(to, raw.as_slice())?;
    }
    txn.commit()?;
    Ok(())
}

#[test]
fn round_trip_in_every_table() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&db_path(&dir), &KEY)?;
    for table in [
        Table::KeyShares,
        Table::PaillierKeys,
        Table::Journal,
        Table::Meta,
    ] {
        store.put(table, "a/1", b"first")?;
        store.put(table, "a/2", b"second")?;
        store.put(table, "b/1", b"")?;
        assert_eq!(
            store.get(table, "a/1")?.as_deref().map(Vec::as_slice),
            Some(&b"first"[..])
        );
        assert_eq!(
            store.get(table, "b/1")?.as_deref().map(Vec::as_slice),
            Some(&b""[..])
        );
        assert!(store.get(table, "c")?.is_none());
        assert_eq!(store.keys(table, "a/")?, ["a/1", "a/2"]);
        assert_eq!(store.keys(table, "")?.len(), 3);
        assert!(store.delete(table, "a/1")?);
        assert!(!store.delete(table, "a/1")?);
        assert_eq!(store.keys(table, "a")?, ["a/2"]);
    }
    Ok(())
}

#[test]
fn values_are_not_stored_in_clear() -> TestResult {
    let dir = tempfile::tempdir()?;
    let secret = b"this-is-a-very-recognisable-secret-share";
    Store::open(&db_path(&dir), &KEY)?.put(Table::KeyShares, "k", secret)?;
    let file = std::fs::read(db_path(&dir))?;
    assert!(!file.windows(secret.len()).any(|w| w == secret));
    Ok(())
}

#[test]
fn reopen_keeps_data() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let store = Store::open(&db_path(&dir), &KEY)?;
        store.put(Table::PaillierKeys, "p", b"paillier")?;
        store.journal_put("session-1", b"round 2")?;
        store.put_presignature("key", "ps1", b"presig")?;
    }
    let store = Store::open(&db_path(&dir), &KEY)?;
    assert_eq!(
        store.get(Table::PaillierKeys, "p")?.as_deref(),
        Some(&b"paillier".to_vec())
    );
    assert_eq!(store.journal_sessions()?, ["session-1"]);
    assert_eq!(store.presignatures("key")?, ["ps1"]);
    Ok(())
}

#[cfg(unix)]
#[test]
fn new_database_file_is_private() -> TestResult {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir()?;
    Store::open(&db_path(&dir), &KEY)?;
    let mode = std::fs::metadata(db_path(&dir))?.permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);
    Ok(())
}

#[test]
fn wrong_sealing_key_is_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    Store::open(&db_path(&dir), &KEY)?.put(Table::KeyShares, "k", b"v")?;
    let err = Store::open(&db_path(&dir), &[8u8; 32]).err();
    assert!(matches!(err, Some(StoreError::WrongSealingKey)), "{err:?}");
    // The right key still opens it.
    let store = Store::open(&db_path(&dir), &KEY)?;
    assert!(store.get(Table::KeyShares, "k")?.is_some());
    Ok(())
}

#[test]
fn flipped_ciphertext_byte_is_tampered() -> TestResult {
    let dir = tempfile::tempdir()?;
    Store::open(&db_path(&dir), &KEY)?.put(Table::KeyShares, "k", b"share")?;
    edit_raw(&db_path(&dir), KEY_SHARES, "k", |raw| {
        if let Some(b) = raw.get_mut(26) {
            *b ^= 1;
        }
    })?;
    let err = Store::open(&db_path(&dir), &KEY)?
        .get(Table::KeyShares, "k")
        .err();
    assert!(
        matches!(&err, Some(StoreError::Tampered { table: "key_shares", key }) if key == "k"),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn truncated_or_reversioned_record_is_corrupt() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    {
        let store = Store::open(&path, &KEY)?;
        store.put(Table::KeyShares, "short", b"share")?;
        store.put(Table::KeyShares, "v2", b"share")?;
    }
    edit_raw(&path, KEY_SHARES, "short", |raw| raw.truncate(30))?;
    edit_raw(&path, KEY_SHARES, "v2", |raw| {
        if let Some(v) = raw.first_mut() {
            *v = 2;
        }
    })?;
    let store = Store::open(&path, &KEY)?;
    for key in ["short", "v2"] {
        let err = store.get(Table::KeyShares, key).err();
        assert!(matches!(err, Some(StoreError::Corrupt { .. })), "{err:?}");
    }
    Ok(())
}

#[test]
fn record_moved_to_another_key_or_table_is_tampered() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    Store::open(&path, &KEY)?.put(Table::KeyShares, "alice", b"alice's share")?;
    copy_raw(&path, KEY_SHARES, "alice", KEY_SHARES, "bob")?;
    copy_raw(
        &path,
        KEY_SHARES,
        "alice",
        TableDefinition::new("paillier_keys"),
        "alice",
    )?;
    let store = Store::open(&path, &KEY)?;
    assert!(store.get(Table::KeyShares, "alice")?.is_some());
    let err = store.get(Table::KeyShares, "bob").err();
    assert!(matches!(err, Some(StoreError::Tampered { .. })), "{err:?}");
    let err = store.get(Table::PaillierKeys, "alice").err();
    assert!(matches!(err, Some(StoreError::Tampered { .. })), "{err:?}");
    Ok(())
}

#[test]
fn presignature_is_consumed_once() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&db_path(&dir), &KEY)?;
    store.put_presignature("key", "ps1", b"presig one")?;
    store.put_presignature("key", "ps2", b"presig two")?;
    store.put_presignature("other", "ps1", b"other key")?;
    assert_eq!(store.presignatures("key")?, ["ps1", "ps2"]);
    assert!(!store.is_consumed("key", "ps1")?);

    assert_eq!(
        store.consume_presignature("key", "ps1")?.as_slice(),
        b"presig one"
    );
    assert!(store.is_consumed("key", "ps1")?);
    assert_eq!(store.presignatures("key")?, ["ps2"]);
    let err = store.consume_presignature("key", "ps1").err();
    assert!(
        matches!(err, Some(StoreError::AlreadyConsumed { .. })),
        "{err:?}"
    );
    let err = store.consume_presignature("key", "nope").err();
    assert!(matches!(err, Some(StoreError::NotFound { .. })), "{err:?}");
    // Another key's presignature with the same id is untouched.
    assert_eq!(store.presignatures("other")?, ["ps1"]);
    Ok(())
}

#[test]
fn armed_presignature_is_taken_once_and_remembered_per_key() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    {
        let store = Store::open(&path, &KEY)?;
        for id in ["ps1", "ps2", "ps3"] {
            store.put_presignature("key", id, id.as_bytes())?;
        }
        store.put_presignature("other", "ps9", b"ps9")?;
        assert!(store.armed_presignatures()?.is_empty());

        assert_eq!(store.arm_presignature("key", "ps1")?.as_slice(), b"ps1");
        // Armed is taken: tombstoned, gone from the pool, never handed out or stored again.
        assert!(store.is_consumed("key", "ps1")?);
        assert_eq!(store.presignatures("key")?, ["ps2", "ps3"]);
        let err = store.consume_presignature("key", "ps1").err();
        assert!(
            matches!(err, Some(StoreError::AlreadyConsumed { .. })),
            "{err:?}"
        );
        let err = store.arm_presignature("key", "ps1").err();
        assert!(
            matches!(err, Some(StoreError::AlreadyConsumed { .. })),
            "{err:?}"
        );
        let err = store.put_presignature("key", "ps1", b"again").err();
        assert!(
            matches!(err, Some(StoreError::AlreadyConsumed { .. })),
            "{err:?}"
        );
        assert_eq!(store.armed_presignatures()?, [("key".into(), "ps1".into())]);

        // One slot per key: the next arming replaces it; a failed one leaves it alone.
        store.arm_presignature("key", "ps2")?;
        let err = store.arm_presignature("key", "nope").err();
        assert!(matches!(err, Some(StoreError::NotFound { .. })), "{err:?}");
        store.arm_presignature("other", "ps9")?;
        // Consuming (the request's own path) does not touch the slots.
        store.consume_presignature("key", "ps3")?;
    }
    // Durable: a restarted process finds what it held.
    let store = Store::open(&path, &KEY)?;
    assert_eq!(
        store.armed_presignatures()?,
        [
            ("key".to_string(), "ps2".to_string()),
            ("other".to_string(), "ps9".to_string())
        ]
    );
    assert!(store.presignatures("key")?.is_empty());
    Ok(())
}

#[test]
fn consumed_presignature_cannot_be_put_again() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&db_path(&dir), &KEY)?;
    store.put_presignature("key", "ps1", b"presig")?;
    let err = store.put_presignature("key", "ps1", b"again").err();
    assert!(
        matches!(err, Some(StoreError::AlreadyExists { .. })),
        "{err:?}"
    );
    store.consume_presignature("key", "ps1")?;
    let err = store.put_presignature("key", "ps1", b"again").err();
    assert!(
        matches!(err, Some(StoreError::AlreadyConsumed { .. })),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn tampered_presignature_is_reported_and_not_consumed() -> TestResult {
    let dir = tempfile::tempdir()?;
    let path = db_path(&dir);
    Store::open(&path, &KEY)?.put_presignature("key", "ps1", b"presig")?;
    edit_raw(&path, PRESIGNATURES, "key/ps1", |raw| {
        if let Some(b) = raw.last_mut() {
            *b ^= 0x80;
        }
    })?;
    let store = Store::open(&path, &KEY)?;
    let err = store.consume_presignature("key", "ps1").err();
    assert!(
        matches!(&err, Some(StoreError::Tampered { table: "presignatures", key }) if key == "key/ps1"),
        "{err:?}"
    );
    assert!(!store.is_consumed("key", "ps1")?);
    Ok(())
}

#[test]
fn consumed_tombstone_survives_reopen() -> TestResult {
    let dir = tempfile::tempdir()?;
    {
        let store = Store::open(&db_path(&dir), &KEY)?;
        store.put_presignature("key", "ps1", b"presig")?;
        store.consume_presignature("key", "ps1")?;
    }
    let store = Store::open(&db_path(&dir), &KEY)?;
    assert!(store.is_consumed("key", "ps1")?);
    let err = store.consume_presignature("key", "ps1").err();
    assert!(
        matches!(err, Some(StoreError::AlreadyConsumed { .. })),
        "{err:?}"
    );
    Ok(())
}

#[test]
fn discard_all_presignatures_tombstones_them() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&db_path(&dir), &KEY)?;
    store.put_presignature("k1", "a", b"1")?;
    store.put_presignature("k1", "b", b"2")?;
    store.put_presignature("k2", "a", b"3")?;
    store.put(Table::KeyShares, "k1", b"share")?;
    assert_eq!(store.discard_all_presignatures()?, 3);
    assert!(store.presignatures("k1")?.is_empty());
    assert!(store.presignatures("k2")?.is_empty());
    for (k, p) in [("k1", "a"), ("k1", "b"), ("k2", "a")] {
        assert!(store.is_consumed(k, p)?);
        let err = store.put_presignature(k, p, b"restored").err();
        assert!(
            matches!(err, Some(StoreError::AlreadyConsumed { .. })),
            "{err:?}"
        );
    }
    assert!(store.get(Table::KeyShares, "k1")?.is_some());
    Ok(())
}

#[test]
fn journal_round_trip() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&db_path(&dir), &KEY)?;
    store.journal_put("s1", b"state 1")?;
    store.journal_put("s2", b"state 2")?;
    store.journal_put("s1", b"state 1'")?;
    assert_eq!(
        store.journal_get("s1")?.as_deref(),
        Some(&b"state 1'".to_vec())
    );
    assert_eq!(store.journal_sessions()?, ["s1", "s2"]);
    assert!(store.journal_remove("s1")?);
    assert!(store.journal_get("s1")?.is_none());
    assert_eq!(store.journal_sessions()?, ["s2"]);
    Ok(())
}

#[test]
fn invalid_ids_and_sizes_are_refused() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&db_path(&dir), &KEY)?;
    for (k, p) in [("", "a"), ("a/b", "c"), ("a", "b/c"), ("a", "\n")] {
        let err = store.put_presignature(k, p, b"x").err();
        assert!(
            matches!(err, Some(StoreError::InvalidKey { .. })),
            "{k:?} {p:?}: {err:?}"
        );
    }
    let err = store.put(Table::Meta, "", b"x").err();
    assert!(
        matches!(err, Some(StoreError::InvalidKey { .. })),
        "{err:?}"
    );
    let big = vec![0u8; tessera_store::MAX_VALUE_LEN + 1];
    let err = store.put(Table::Meta, "big", &big).err();
    assert!(matches!(err, Some(StoreError::TooLarge { .. })), "{err:?}");
    Ok(())
}

#[test]
fn debug_shows_only_the_path() -> TestResult {
    let dir = tempfile::tempdir()?;
    let store = Store::open(&db_path(&dir), &KEY)?;
    let shown = format!("{store:?}");
    assert!(shown.contains("node.redb"), "{shown}");
    assert!(!shown.contains("0707"), "{shown}");
    Ok(())
}

const CHILD_DIR_ENV: &str = "TESSERA_STORE_TEST_CHILD_DIR";
const CONSUMED_MARKER: &str = "tessera-store-test: consumed";

/// Runs only as the child of `consumed_tombstone_survives_sigkill` (a no-op otherwise): consumes
/// one presignature, announces it, then waits to be killed.
#[test]
fn sigkill_child_consumes_and_waits() -> TestResult {
    let Some(dir) = std::env::var_os(CHILD_DIR_ENV) else {
        return Ok(());
    };
    let store = Store::open(&Path::new(&dir).join("node.redb"), &KEY)?;
    let presig = store.consume_presignature("key", "ps1")?;
    println!("{CONSUMED_MARKER} {}", presig.len());
    std::thread::sleep(std::time::Duration::from_secs(60));
    Err("not killed within 60 s".into())
}

/// The crash-safety claim with a real process: once `consume_presignature` has returned, a
/// SIGKILL (no destructors, no clean close of the database) cannot bring the presignature back.
/// Power loss is covered by redb's `Durability::Immediate` (fsync before commit returns), which
/// a test cannot simulate.
#[cfg(unix)]
#[test]
fn consumed_tombstone_survives_sigkill() -> TestResult {
    if std::env::var_os(CHILD_DIR_ENV).is_some() {
        return Ok(());
    }
    let dir = tempfile::tempdir()?;
    {
        let store = Store::open(&db_path(&dir), &KEY)?;
        store.put_presignature("key", "ps1", b"presig one")?;
        store.put_presignature("key", "ps2", b"presig two")?;
    }
    let mut child = Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "sigkill_child_consumes_and_waits",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_DIR_ENV, dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = child.stdout.take().ok_or("no stdout")?;
    let mut announced = false;
    for line in BufReader::new(stdout).lines() {
        // libtest may print "test name ... " on the same line first.
        if line?.contains(CONSUMED_MARKER) {
            announced = true;
            break;
        }
    }
    child.kill()?; // SIGKILL
    let status = child.wait()?;
    if !announced {
        let mut err = String::new();
        if let Some(mut e) = child.stderr.take() {
            std::io::Read::read_to_string(&mut e, &mut err)?;
        }
        return Err(format!("child never consumed ({status}): {err}").into());
    }
    {
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(
            status.signal(),
            Some(9),
            "the child must die by SIGKILL: {status}"
        );
    }
    let store = Store::open(&db_path(&dir), &KEY)?;
    assert!(store.is_consumed("key", "ps1")?);
    let err = store.consume_presignature("key", "ps1").err();
    assert!(
        matches!(err, Some(StoreError::AlreadyConsumed { .. })),
        "{err:?}"
    );
    assert_eq!(store.presignatures("key")?, ["ps2"]);
    Ok(())
}
