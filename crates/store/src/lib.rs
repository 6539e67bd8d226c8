#![doc = include_str!("../README.md")]
#![forbid(unsafe_code)]

use std::fmt;
use std::path::{Path, PathBuf};

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand_core::{OsRng, RngCore};
use redb::{
    Database, Durability, ReadableDatabase, ReadableTable, TableDefinition, TableHandle,
    WriteTransaction,
};
use sha2::Sha256;
use zeroize::Zeroizing;

/// The version byte every sealed record starts with.
pub const RECORD_VERSION: u8 = 1;
/// Largest value accepted by `put` (a Paillier key share is a few KiB; journals stay small).
pub const MAX_VALUE_LEN: usize = 16 << 20;
/// Longest key accepted, in bytes.
pub const MAX_KEY_LEN: usize = 512;
/// Longest key id or presignature id, in bytes.
pub const MAX_ID_LEN: usize = 128;

const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + NONCE_LEN;
const AD_DOMAIN: &[u8] = b"tessera-store/record";
const RECORD_KEY_LABEL: &[u8] = b"tessera-store/record-key/v1";
const CHECK_KEY: &str = "sealing-check";
const CHECK_PLAINTEXT: &[u8] = b"tessera-store sealing check v1";

type Def = TableDefinition<'static, &'static str, &'static [u8]>;

const KEY_SHARES: Def = TableDefinition::new("key_shares");
const PAILLIER_KEYS: Def = TableDefinition::new("paillier_keys");
const JOURNAL: Def = TableDefinition::new("journal");
const META: Def = TableDefinition::new("meta");
const PRESIGNATURES: Def = TableDefinition::new("presignatures");
/// Tombstones: `key_id/presig_id` → reason byte ([`TOMBSTONE_USED`], [`TOMBSTONE_DISCARDED`]
/// or [`TOMBSTONE_ARMED`]).
const CONSUMED: TableDefinition<'static, &'static str, u8> =
    TableDefinition::new("presignatures_consumed");
/// The last presignature armed for each key: `key_id` → `presig_id` (see
/// [`Store::arm_presignature`]).
const ARMED: TableDefinition<'static, &'static str, &'static str> =
    TableDefinition::new("presignatures_armed");
/// The store's own records (the sealed check value); not reachable through [`Table`].
const INTERNAL: Def = TableDefinition::new("store");

const TOMBSTONE_USED: u8 = 1;
const TOMBSTONE_DISCARDED: u8 = 2;
/// Taken out ahead of a request: it may or may not have been used since.
const TOMBSTONE_ARMED: u8 = 3;

/// The general sealed tables. Presignatures are deliberately absent: they are reachable only
/// through the single-use API ([`Store::put_presignature`], [`Store::consume_presignature`]), so
/// no code path can read one without consuming it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Table {
    KeyShares,
    PaillierKeys,
    Journal,
    Meta,
}

impl Table {
    /// The table's name in the database file, which is also bound into every record's AD.
    pub const fn name(self) -> &'static str {
        match self {
            Table::KeyShares => "key_shares",
            Table::PaillierKeys => "paillier_keys",
            Table::Journal => "journal",
            Table::Meta => "meta",
        }
    }

    const fn def(self) -> Def {
        match self {
            Table::KeyShares => KEY_SHARES,
            Table::PaillierKeys => PAILLIER_KEYS,
            Table::Journal => JOURNAL,
            Table::Meta => META,
        }
    }
}

/// What can go wrong with the store. Record errors name the table and key, never the value.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("database: {0}")]
    Database(Box<redb::Error>),
    #[error("wrong sealing key for this store: its check value does not open")]
    WrongSealingKey,
    #[error("record {table}/{key} failed authentication: tampered with, corrupted or moved")]
    Tampered { table: &'static str, key: String },
    #[error("record {table}/{key} is malformed: {reason}")]
    Corrupt {
        table: &'static str,
        key: String,
        reason: String,
    },
    #[error("presignature {key_id}/{presig_id} was already consumed")]
    AlreadyConsumed { key_id: String, presig_id: String },
    #[error("presignature {key_id}/{presig_id} not found")]
    NotFound { key_id: String, presig_id: String },
    #[error("presignature {key_id}/{presig_id} already exists")]
    AlreadyExists { key_id: String, presig_id: String },
    #[error("invalid key {key:?}: {reason}")]
    InvalidKey { key: String, reason: &'static str },
    #[error("value of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("encryption failed")]
    Seal,
}

fn db(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Database(Box::new(e.into()))
}

/// An open sealed store. `Debug` shows only the path.
pub struct Store {
    db: Database,
    aead: XChaCha20Poly1305,
    path: PathBuf,
}

impl fmt::Debug for Store {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

impl Store {
    /// Opens (creating with mode 0600 if missing) the database at `path`. On first open a
    /// sealed check value is written; later opens with another key fail with
    /// [`StoreError::WrongSealingKey`].
    pub fn open(path: &Path, sealing_key: &[u8; 32]) -> Result<Store, StoreError> {
        let io = |source| StoreError::Io {
            path: path.display().to_string(),
            source,
        };
        if !path.exists() {
            // Created empty here so the mode is 0600 from the start; redb initialises it.
            let mut opts = std::fs::OpenOptions::new();
            opts.write(true).create_new(true);
            #[cfg(unix)]
            {
                use std::os::unix::fs::OpenOptionsExt;
                opts.mode(0o600);
            }
            opts.open(path).map_err(io)?;
        }
        // A file altered outside redb is reported as corrupted instead of trusted (a plain open
        // may panic on it); the check reads the whole file, which is small for a node's store.
        let db = Database::builder()
            .set_check_integrity_on_open(true)
            .set_cache_size(32 << 20)
            .create(path)
            .map_err(db)?;
        let store = Store {
            db,
            aead: XChaCha20Poly1305::new(record_key(sealing_key)?.as_ref().into()),
            path: path.to_path_buf(),
        };
        store.init()?;
        Ok(store)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn init(&self) -> Result<(), StoreError> {
        let txn = self.write_txn()?;
        {
            for t in [KEY_SHARES, PAILLIER_KEYS, JOURNAL, META, PRESIGNATURES] {
                txn.open_table(t).map_err(db)?;
            }
            txn.open_table(CONSUMED).map_err(db)?;
            txn.open_table(ARMED).map_err(db)?;
            let mut internal = txn.open_table(INTERNAL).map_err(db)?;
            let existing = internal
                .get(CHECK_KEY)
                .map_err(db)?
                .map(|g| g.value().to_vec());
            match existing {
                Some(record) => {
                    let plain = self
                        .unseal("store", CHECK_KEY, &record)
                        .map_err(|_| StoreError::WrongSealingKey)?;
                    if plain.as_slice() != CHECK_PLAINTEXT {
                        return Err(StoreError::WrongSealingKey);
                    }
                }
                None => {
                    let record = self.seal("store", CHECK_KEY, CHECK_PLAINTEXT)?;
                    internal.insert(CHECK_KEY, record.as_slice()).map_err(db)?;
                }
            }
        }
        txn.commit().map_err(db)
    }

    /// Every write commits with `Durability::Immediate` (fsync before `commit` returns) and
    /// 2-phase commit, so a crash can never leave a half-applied transaction in place.
    fn write_txn(&self) -> Result<WriteTransaction, StoreError> {
        let mut txn = self.db.begin_write().map_err(db)?;
        txn.set_durability(Durability::Immediate).map_err(db)?;
        txn.set_two_phase_commit(true);
        Ok(txn)
    }

    /// Seals and stores `value` under `key`, replacing any previous value.
    pub fn put(&self, table: Table, key: &str, value: &[u8]) -> Result<(), StoreError> {
        check_key(key)?;
        let record = self.seal(table.name(), key, value)?;
        let txn = self.write_txn()?;
        {
            let mut t = txn.open_table(table.def()).map_err(db)?;
            t.insert(key, record.as_slice()).map_err(db)?;
        }
        txn.commit().map_err(db)
    }

    /// Reads and unseals the value under `key`. A record that fails authentication is an
    /// error ([`StoreError::Tampered`]), never returned.
    pub fn get(&self, table: Table, key: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        check_key(key)?;
        let txn = self.db.begin_read().map_err(db)?;
        let t = txn.open_table(table.def()).map_err(db)?;
        let Some(guard) = t.get(key).map_err(db)? else {
            return Ok(None);
        };
        self.unseal(table.name(), key, guard.value()).map(Some)
    }

    /// Removes `key`; returns whether it was there.
    pub fn delete(&self, table: Table, key: &str) -> Result<bool, StoreError> {
        check_key(key)?;
        let txn = self.write_txn()?;
        let removed = {
            let mut t = txn.open_table(table.def()).map_err(db)?;
            let old = t.remove(key).map_err(db)?;
            old.is_some()
        };
        txn.commit().map_err(db)?;
        Ok(removed)
    }

    /// The keys in `table` starting with `prefix`, in byte order.
    pub fn keys(&self, table: Table, prefix: &str) -> Result<Vec<String>, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let t = txn.open_table(table.def()).map_err(db)?;
        keys_with_prefix(&t, prefix)
    }

    /// Stores a fresh presignature. Refuses an id that was ever consumed or discarded
    /// ([`StoreError::AlreadyConsumed`]) and one that is already stored
    /// ([`StoreError::AlreadyExists`]).
    pub fn put_presignature(
        &self,
        key_id: &str,
        presig_id: &str,
        bytes: &[u8],
    ) -> Result<(), StoreError> {
        let k = presig_key(key_id, presig_id)?;
        let record = self.seal(PRESIGNATURES.name(), &k, bytes)?;
        let txn = self.write_txn()?;
        {
            let consumed = txn.open_table(CONSUMED).map_err(db)?;
            if consumed.get(k.as_str()).map_err(db)?.is_some() {
                return Err(StoreError::AlreadyConsumed {
                    key_id: key_id.into(),
                    presig_id: presig_id.into(),
                });
            }
            let mut presigs = txn.open_table(PRESIGNATURES).map_err(db)?;
            if presigs.get(k.as_str()).map_err(db)?.is_some() {
                return Err(StoreError::AlreadyExists {
                    key_id: key_id.into(),
                    presig_id: presig_id.into(),
                });
            }
            presigs.insert(k.as_str(), record.as_slice()).map_err(db)?;
        }
        txn.commit().map_err(db)
    }

    /// Takes a presignature for use, exactly once. In one write transaction: remove the record,
    /// unseal it, write the "consumed" tombstone, commit durably — and only then return the
    /// bytes. If anything fails before the commit, nothing changes and nothing is returned.
    pub fn consume_presignature(
        &self,
        key_id: &str,
        presig_id: &str,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.take_presignature(key_id, presig_id, TOMBSTONE_USED)
    }

    /// Takes a presignature out **ahead of** the request that will use it, exactly as
    /// [`Store::consume_presignature`] does (removed, tombstoned, durable before the bytes are
    /// returned), and records it as `key_id`'s armed presignature in the same transaction,
    /// replacing the previous one. The caller keeps it in memory for the next request: the
    /// durable write is then off that request's path. A process that stops while holding one
    /// loses it — it is tombstoned, so it is never used — and finds it again with
    /// [`Store::armed_presignatures`] to report it.
    pub fn arm_presignature(
        &self,
        key_id: &str,
        presig_id: &str,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        self.take_presignature(key_id, presig_id, TOMBSTONE_ARMED)
    }

    /// `(key_id, presig_id)` of the last presignature armed for each key (see
    /// [`Store::arm_presignature`]); it may since have been used.
    pub fn armed_presignatures(&self) -> Result<Vec<(String, String)>, StoreError> {
        let txn = self.db.begin_read().map_err(db)?;
        let t = txn.open_table(ARMED).map_err(db)?;
        let mut out = Vec::new();
        for entry in t.iter().map_err(db)? {
            let (k, v) = entry.map_err(db)?;
            out.push((k.value().to_string(), v.value().to_string()));
        }
        Ok(out)
    }

    fn take_presignature(
        &self,
        key_id: &str,
        presig_id: &str,
        reason: u8,
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let k = presig_key(key_id, presig_id)?;
        let txn = self.write_txn()?;
        let plain = {
            let mut presigs = txn.open_table(PRESIGNATURES).map_err(db)?;
            let record = presigs
                .remove(k.as_str())
                .map_err(db)?
                .map(|g| g.value().to_vec());
            let mut consumed = txn.open_table(CONSUMED).map_err(db)?;
            let Some(record) = record else {
                let tombstoned = consumed.get(k.as_str()).map_err(db)?.is_some();
                let (key_id, presig_id) = (key_id.into(), presig_id.into());
                return Err(if tombstoned {
                    StoreError::AlreadyConsumed { key_id, presig_id }
                } else {
                    StoreError::NotFound { key_id, presig_id }
                });
            };
            // A tampered record aborts the transaction (dropping it rolls back): it stays in
            // place, reported again on every attempt, and is never used.
            let plain = self.unseal(PRESIGNATURES.name(), &k, &record)?;
            consumed.insert(k.as_str(), reason).map_err(db)?;
            if reason == TOMBSTONE_ARMED {
                let mut armed = txn.open_table(ARMED).map_err(db)?;
                armed.insert(key_id, presig_id).map_err(db)?;
            }
            plain
        };
        txn.commit().map_err(db)?;
        Ok(plain)
    }

    /// Ids of the stored (unconsumed) presignatures for `key_id`.
    pub fn presignatures(&self, key_id: &str) -> Result<Vec<String>, StoreError> {
        check_id(key_id)?;
        let prefix = format!("{key_id}/");
        let txn = self.db.begin_read().map_err(db)?;
        let t = txn.open_table(PRESIGNATURES).map_err(db)?;
        Ok(keys_with_prefix(&t, &prefix)?
            .into_iter()
            .filter_map(|k| k.strip_prefix(&prefix).map(str::to_owned))
            .collect())
    }

    /// Whether the presignature was consumed or discarded (a tombstone exists).
    pub fn is_consumed(&self, key_id: &str, presig_id: &str) -> Result<bool, StoreError> {
        let k = presig_key(key_id, presig_id)?;
        let txn = self.db.begin_read().map_err(db)?;
        let t = txn.open_table(CONSUMED).map_err(db)?;
        let found = t.get(k.as_str()).map_err(db)?.is_some();
        Ok(found)
    }

    /// Deletes and tombstones every stored presignature, in one durable transaction; returns
    /// how many. Run on restore from a backup: a backup may hold presignatures that were used
    /// after it was taken (SECURITY-CHECKLIST, "Never use a presignature twice").
    pub fn discard_all_presignatures(&self) -> Result<usize, StoreError> {
        let txn = self.write_txn()?;
        let n = {
            let mut presigs = txn.open_table(PRESIGNATURES).map_err(db)?;
            let all = keys_with_prefix(&presigs, "")?;
            let mut consumed = txn.open_table(CONSUMED).map_err(db)?;
            for k in &all {
                consumed
                    .insert(k.as_str(), TOMBSTONE_DISCARDED)
                    .map_err(db)?;
            }
            presigs.retain(|_, _| false).map_err(db)?;
            all.len()
        };
        txn.commit().map_err(db)?;
        Ok(n)
    }

    /// Saves the journal entry of a session (sealed, in [`Table::Journal`]).
    pub fn journal_put(&self, session_id: &str, bytes: &[u8]) -> Result<(), StoreError> {
        self.put(Table::Journal, session_id, bytes)
    }

    pub fn journal_get(&self, session_id: &str) -> Result<Option<Zeroizing<Vec<u8>>>, StoreError> {
        self.get(Table::Journal, session_id)
    }

    pub fn journal_remove(&self, session_id: &str) -> Result<bool, StoreError> {
        self.delete(Table::Journal, session_id)
    }

    /// Ids of the sessions with a journal entry.
    pub fn journal_sessions(&self) -> Result<Vec<String>, StoreError> {
        self.keys(Table::Journal, "")
    }

    /// `version ‖ nonce ‖ XChaCha20-Poly1305(value, ad(version, table, key))`.
    fn seal(&self, table: &str, key: &str, value: &[u8]) -> Result<Vec<u8>, StoreError> {
        if value.len() > MAX_VALUE_LEN {
            return Err(StoreError::TooLarge {
                len: value.len(),
                max: MAX_VALUE_LEN,
            });
        }
        let mut nonce = [0u8; NONCE_LEN];
        OsRng.fill_bytes(&mut nonce);
        // Becomes ciphertext in place; zeroized in case encryption fails half-way.
        let mut body = Zeroizing::new(value.to_vec());
        let tag = self
            .aead
            .encrypt_in_place_detached(
                &XNonce::from(nonce),
                &associated_data(RECORD_VERSION, table, key),
                body.as_mut_slice(),
            )
            .map_err(|_| StoreError::Seal)?;
        let mut out = Vec::with_capacity(HEADER_LEN + body.len() + TAG_LEN);
        out.push(RECORD_VERSION);
        out.extend_from_slice(&nonce);
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        Ok(out)
    }

    fn unseal(
        &self,
        table: &'static str,
        key: &str,
        record: &[u8],
    ) -> Result<Zeroizing<Vec<u8>>, StoreError> {
        let corrupt = |reason: String| StoreError::Corrupt {
            table,
            key: key.into(),
            reason,
        };
        let (header, sealed) = record
            .split_at_checked(HEADER_LEN)
            .filter(|(_, s)| s.len() >= TAG_LEN)
            .ok_or_else(|| corrupt(format!("{} bytes is too short", record.len())))?;
        let (version, nonce) = header
            .split_first()
            .ok_or_else(|| corrupt("empty".into()))?;
        let nonce: [u8; NONCE_LEN] = nonce.try_into().map_err(|_| corrupt("bad nonce".into()))?;
        if *version != RECORD_VERSION {
            return Err(corrupt(format!("unknown record version {version}")));
        }
        let (ciphertext, tag) = sealed
            .split_at_checked(sealed.len().saturating_sub(TAG_LEN))
            .ok_or_else(|| corrupt("no tag".into()))?;
        let tag: [u8; TAG_LEN] = tag.try_into().map_err(|_| corrupt("bad tag".into()))?;
        let mut plain = Zeroizing::new(ciphertext.to_vec());
        self.aead
            .decrypt_in_place_detached(
                &XNonce::from(nonce),
                &associated_data(*version, table, key),
                plain.as_mut_slice(),
                &Tag::from(tag),
            )
            .map_err(|_| StoreError::Tampered {
                table,
                key: key.into(),
            })?;
        Ok(plain)
    }
}

/// The AEAD key for records, separated from any other use of the sealing key.
fn record_key(sealing_key: &[u8; 32]) -> Result<Zeroizing<[u8; 32]>, StoreError> {
    // HMAC takes keys of any length: this error cannot happen.
    let mut mac =
        <Hmac<Sha256> as Mac>::new_from_slice(sealing_key).map_err(|_| StoreError::Seal)?;
    mac.update(RECORD_KEY_LABEL);
    Ok(Zeroizing::new(mac.finalize().into_bytes().into()))
}

/// `"tessera-store/record" ‖ version ‖ u16 len ‖ table ‖ u32 len ‖ key`: a record only opens
/// under the table, key and format version it was written for.
fn associated_data(version: u8, table: &str, key: &str) -> Vec<u8> {
    let mut ad = Vec::with_capacity(AD_DOMAIN.len() + 7 + table.len() + key.len());
    ad.extend_from_slice(AD_DOMAIN);
    ad.push(version);
    // Both lengths are bounded (table names are constants, keys by MAX_KEY_LEN).
    ad.extend_from_slice(&u16::try_from(table.len()).unwrap_or(u16::MAX).to_be_bytes());
    ad.extend_from_slice(table.as_bytes());
    ad.extend_from_slice(&u32::try_from(key.len()).unwrap_or(u32::MAX).to_be_bytes());
    ad.extend_from_slice(key.as_bytes());
    ad
}

fn keys_with_prefix(
    t: &impl ReadableTable<&'static str, &'static [u8]>,
    prefix: &str,
) -> Result<Vec<String>, StoreError> {
    let mut out = Vec::new();
    for entry in t.range(prefix..).map_err(db)? {
        let (k, _) = entry.map_err(db)?;
        let k = k.value();
        if !k.starts_with(prefix) {
            break;
        }
        out.push(k.to_owned());
    }
    Ok(out)
}

fn check_key(key: &str) -> Result<(), StoreError> {
    let reason = if key.is_empty() {
        "empty"
    } else if key.len() > MAX_KEY_LEN {
        "too long"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidKey {
        key: key.chars().take(64).collect(),
        reason,
    })
}

fn check_id(id: &str) -> Result<(), StoreError> {
    let reason = if id.is_empty() {
        "empty"
    } else if id.len() > MAX_ID_LEN {
        "too long"
    } else if id.contains('/') {
        "contains '/'"
    } else if id.chars().any(char::is_control) {
        "contains a control character"
    } else {
        return Ok(());
    };
    Err(StoreError::InvalidKey {
        key: id.chars().take(64).collect(),
        reason,
    })
}

/// `key_id/presig_id`; ids may not contain `/`, so the split is unambiguous.
fn presig_key(key_id: &str, presig_id: &str) -> Result<String, StoreError> {
    check_id(key_id)?;
    check_id(presig_id)?;
    Ok(format!("{key_id}/{presig_id}"))
}
