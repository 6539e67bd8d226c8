//! The log on disk: one redb table, `seq → postcard(Entry)`.
//!
//! Appends commit with redb's default durability (fsync before `commit` returns), so an entry
//! the server acknowledged survives a crash. Opening re-reads the whole log; the caller folds it
//! through [`State`](crate::state::State) exactly as a node would, so a tampered or corrupted
//! file is refused rather than served.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableDatabase, TableDefinition};

use crate::command::Entry;

const ENTRIES: TableDefinition<u64, &[u8]> = TableDefinition::new("entries");

/// What can go wrong with the log file.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    #[error("ledger database {path}: {message}")]
    Db { path: String, message: String },
    #[error("ledger database {path}: entry {seq} does not decode: {message}")]
    Corrupt {
        path: String,
        seq: u64,
        message: String,
    },
    #[error("ledger database {path}: entry stored under key {key} claims seq {seq}")]
    Misplaced { path: String, key: u64, seq: u64 },
}

/// The redb-backed log.
#[derive(Debug)]
pub struct Store {
    db: Database,
    path: PathBuf,
}

impl Store {
    /// Opens or creates the database at `path`.
    pub fn open(path: &Path) -> Result<Store, StoreError> {
        let db = Database::create(path).map_err(|e| db_err(path, e))?;
        let store = Store {
            db,
            path: path.to_path_buf(),
        };
        // Create the table so that readers of an empty log find it.
        let txn = store.db.begin_write().map_err(|e| store.err(e))?;
        txn.open_table(ENTRIES).map_err(|e| store.err(e))?;
        txn.commit().map_err(|e| store.err(e))?;
        Ok(store)
    }

    fn err(&self, e: impl Into<redb::Error>) -> StoreError {
        db_err(&self.path, e)
    }

    /// Appends `entry` under its seq and waits until it is durable.
    pub fn append(&self, entry: &Entry) -> Result<(), StoreError> {
        self.append_all([entry])
    }

    /// Appends consecutive `entries` in one transaction: one commit (one fsync) for all, and
    /// after a crash either all of them are there or none.
    pub fn append_all<'a>(
        &self,
        entries: impl IntoIterator<Item = &'a Entry>,
    ) -> Result<(), StoreError> {
        let txn = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut table = txn.open_table(ENTRIES).map_err(|e| self.err(e))?;
            for entry in entries {
                let bytes = entry.to_bytes().ok_or_else(|| StoreError::Db {
                    path: self.path.display().to_string(),
                    message: "entry does not encode".into(),
                })?;
                table
                    .insert(entry.seq, bytes.as_slice())
                    .map_err(|e| self.err(e))?;
            }
        }
        txn.commit().map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Every stored entry in order, each checked to sit under its own seq.
    pub fn load_all(&self) -> Result<Vec<Entry>, StoreError> {
        let txn = self.db.begin_read().map_err(|e| self.err(e))?;
        let table = txn.open_table(ENTRIES).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in table.range::<u64>(..).map_err(|e| self.err(e))? {
            let (k, v) = row.map_err(|e| self.err(e))?;
            let key = k.value();
            let entry = Entry::from_bytes(v.value()).map_err(|e| StoreError::Corrupt {
                path: self.path.display().to_string(),
                seq: key,
                message: e.to_string(),
            })?;
            if entry.seq != key {
                return Err(StoreError::Misplaced {
                    path: self.path.display().to_string(),
                    key,
                    seq: entry.seq,
                });
            }
            out.push(entry);
        }
        Ok(out)
    }
}

fn db_err(path: &Path, e: impl Into<redb::Error>) -> StoreError {
    StoreError::Db {
        path: path.display().to_string(),
        message: e.into().to_string(),
    }
}
