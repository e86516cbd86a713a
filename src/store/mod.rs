//! The encrypted sled store: the only code that touches pulsebot's data on disk (issue 4).
//!
//! # Privacy model, as the store keeps it
//! - The **participation ledger** (consent, language, DM room, status per round, reminders)
//!   is keyed by a keyed hash of the Matrix id; it never holds answers.
//! - **Conversation state** of a running round (answers so far, poll maps, counted event
//!   ids) is the only place answers sit next to an identity, and only until the participant
//!   finishes or the round closes: then one transaction moves the answers into the
//!   **answer store** and deletes the conversation state.
//! - The **answer store** has random keys and holds no Matrix id, no event id and no time
//!   (at most the round); `pseudonymous` rounds add a per-survey pseudonym.
//! - Every value is encrypted (XChaCha20-Poly1305), every identity-bearing key is a keyed
//!   hash, and the data key is wrapped with the passphrase inside the store (see
//!   [`cipher`](self::cipher)).
//!
//! # Delivery guarantees, as the store keeps them
//! - Each mutating call is one sled transaction over all trees: it applies completely or
//!   not at all, and with [`StoreOptions::sync_on_commit`] (the default) it is fsynced
//!   before the call returns, so "returned `Ok`" means "survives a crash". The exceptions
//!   are writes a crash may lose because they are repeated idempotently: outbox "sent"
//!   marks, poll registrations, the sync position, and answers whose messages carry
//!   transaction ids derived from the answer's event (see [`Store::record_answer`]). sled
//!   recovers its log in order, so such a write is never lost while a later one survives.
//! - [`Store::record_answer`] is idempotent by event id while the round is open.
//! - [`Store::queue`] records a transaction id before the message is sent.
//!
//! # Layout
//! - `cipher`: passphrase, data key, value envelope, pseudonyms.
//! - `tables`: tree names and key layouts.
//! - `records`: the persisted records of the core's model types, and the conversions.
//! - `model`: the store's own types (outbox and audit-log entries).
//! - `ledger`, `conversation`, `answers`, `outbox`, `audit`: the tables' operations.
//! - `retention`, `rights`: deleting old raw answers; "my data" and "delete".
//! - `parallel`: sealing many records on every core (imports).
//! - `scan` (tests and benchmarks only): full scans of the answer store on every core,
//!   decoding into borrowed views.
//! - `admin`: `check`, `backup`, `rekey` for the CLI.
//! - `migrate`: schema versions and ordered migrations.
//! - `async_store`: [`AsyncStore`], which keeps sled calls off the async worker threads.
//!
//! sled calls block (and fsync): call [`Store`] from blocking threads only, or use
//! [`AsyncStore`].

#![warn(missing_docs)]

mod admin;
mod answers;
mod async_store;
mod audit;
pub(crate) mod cipher;
mod conversation;
mod delivery;
mod error;
mod ledger;
mod migrate;
mod model;
mod outbox;
mod parallel;
pub(crate) mod records;
mod retention;
mod rights;
#[cfg(any(test, pulsebot_bench))]
mod scan;
mod tables;

#[cfg(test)]
mod tests;

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use sled::Transactional;
use sled::transaction::{ConflictableTransactionError, TransactionalTree};

pub use admin::{CheckReport, backup, check, rekey};
pub use async_store::AsyncStore;
pub use cipher::{POLY1305_PORTABLE, Passphrase};
pub use conversation::{CloseReport, RecordOutcome};
pub use error::StoreError;
pub use model::{AuditEntry, OutboxMessage, OutboxState};
// The core's model, which the store persists through `records`; imported for the tables'
// operations (`use super::...`), not re-exported: callers take it from the core.
#[cfg(any(test, pulsebot_bench))]
pub use parallel::default_threads;
use pulsebot_core::model::{
    AnswerRecord, AnswerUpdate, ConsentState, ConversationState, LedgerEntry, Mode, Outbound,
    RoundInfo, RoundSchedule, RoundStatus,
};
use records::Persisted;
pub use retention::RetentionReport;
pub use rights::MyData;
#[cfg(any(test, pulsebot_bench))]
pub use scan::{AnswerValueRef, AnswerView, ScanStats};

use cipher::Crypt;
use tables::{ALL, META, META_CIPHER, META_SCHEMA, Table};

/// The schema version this binary writes. See `migrate` for the history.
pub const SCHEMA_VERSION: u32 = 5;

/// How the store behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreOptions {
    /// Fsync after every committed transaction (default `true`). Only bulk tools that flush
    /// themselves (the benchmark, test workloads) turn this off: without it, an `Ok` does not
    /// mean the write survives a crash.
    pub sync_on_commit: bool,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            sync_on_commit: true,
        }
    }
}

/// A handle to the open store; cheap to clone (shared state behind an `Arc`).
#[derive(Clone)]
pub struct Store {
    inner: Arc<Inner>,
}

struct Inner {
    db: sled::Db,
    trees: Vec<sled::Tree>,
    crypt: Crypt,
    path: PathBuf,
    opts: StoreOptions,
    /// Writers take it shared, [`backup`] exclusively: a backup sees no half-applied
    /// sequence of transactions across trees (sled has no cross-tree snapshot).
    gate: RwLock<()>,
    /// Group commit: transactions committed so far, and how many of them an fsync covers.
    committed: AtomicU64,
    flushed: AtomicU64,
    flush_lock: Mutex<()>,
}

impl std::fmt::Debug for Store {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Store")
            .field("path", &self.inner.path)
            .finish_non_exhaustive()
    }
}

type TxResult<T> = Result<T, ConflictableTransactionError<StoreError>>;

fn abort(e: StoreError) -> ConflictableTransactionError<StoreError> {
    ConflictableTransactionError::Abort(e)
}

/// A running transaction over every table, with encryption applied on the way in and out.
pub(crate) struct Tx<'a> {
    view: &'a [TransactionalTree],
    crypt: &'a Crypt,
}

impl Tx<'_> {
    fn get<T: Persisted>(&self, t: Table, key: &[u8]) -> TxResult<Option<T>> {
        match self.view[t.idx].get(key)? {
            Some(raw) => Ok(Some(self.crypt.open_model(t.name, &raw).map_err(abort)?)),
            None => Ok(None),
        }
    }

    fn put<T: Persisted>(&self, t: Table, key: &[u8], value: &T) -> TxResult<()> {
        let raw = self.crypt.seal_model(value).map_err(abort)?;
        self.view[t.idx].insert(key, raw)?;
        Ok(())
    }

    fn del(&self, t: Table, key: &[u8]) -> TxResult<bool> {
        Ok(self.view[t.idx].remove(key)?.is_some())
    }

    fn tree(&self, t: Table) -> &TransactionalTree {
        &self.view[t.idx]
    }
}

impl Store {
    /// Opens the store at `path`, creating it (with a new random data key wrapped with
    /// `passphrase`) if the directory holds none. Runs pending migrations, each after a
    /// backup. A wrong passphrase returns [`StoreError::WrongPassphrase`] before anything
    /// is written.
    pub fn open(path: &Path, passphrase: &Passphrase) -> Result<Store, StoreError> {
        Self::open_with(path, passphrase, StoreOptions::default(), true)
    }

    /// Opens an existing store; [`StoreError::NotFound`] if there is none (for the CLI, which
    /// must not create stores by accident).
    pub fn open_existing(path: &Path, passphrase: &Passphrase) -> Result<Store, StoreError> {
        Self::open_with(path, passphrase, StoreOptions::default(), false)
    }

    /// Opens with explicit options; `create` decides whether a missing store is created.
    pub fn open_with(
        path: &Path,
        passphrase: &Passphrase,
        opts: StoreOptions,
        create: bool,
    ) -> Result<Store, StoreError> {
        let exists = path.join("conf").exists() || path.join("db").exists();
        if !exists && !create {
            return Err(StoreError::NotFound(path.to_owned()));
        }
        let db = open_sled(path)?;
        let meta = db.open_tree(META.name)?;
        let mut created = false;
        let crypt = match meta.get(META_CIPHER)? {
            Some(wrapped) => Crypt::import(passphrase, &wrapped)?,
            None => {
                if meta.get(META_SCHEMA)?.is_some() || db.tree_names().len() > 2 {
                    return Err(StoreError::Corrupt {
                        table: "meta",
                        reason: "the wrapped data key is missing".into(),
                    });
                }
                let crypt = Crypt::new_random()?;
                let mut batch = sled::Batch::default();
                batch.insert(META_CIPHER, crypt.export(passphrase)?);
                batch.insert(META_SCHEMA, &SCHEMA_VERSION.to_be_bytes());
                meta.apply_batch(batch)?;
                db.flush()?;
                created = true;
                crypt
            }
        };
        let version = read_schema(&meta)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::UnsupportedSchema {
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        if version < SCHEMA_VERSION {
            migrate::run(&db, path, &crypt, version)?;
        }
        let trees = ALL
            .iter()
            .map(|t| db.open_tree(t.name))
            .collect::<Result<Vec<_>, _>>()?;
        let store = Store {
            inner: Arc::new(Inner {
                db,
                trees,
                crypt,
                path: path.to_owned(),
                opts,
                gate: RwLock::new(()),
                committed: AtomicU64::new(0),
                flushed: AtomicU64::new(0),
                flush_lock: Mutex::new(()),
            }),
        };
        if created {
            store.audit(jiff::Timestamp::now(), "bot", "store.create", "")?;
        }
        Ok(store)
    }

    /// The directory the store lives in.
    pub fn path(&self) -> &Path {
        &self.inner.path
    }

    /// Fsyncs everything written so far. Needed only with `sync_on_commit = false`.
    pub fn flush(&self) -> Result<(), StoreError> {
        self.inner.db.flush()?;
        Ok(())
    }

    /// Runs `f` as one transaction over all tables, then fsyncs if configured. `f` may run
    /// more than once on conflicts, so it must be free of side effects.
    pub(crate) fn write<R>(&self, f: impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R, StoreError> {
        let r = self.write_unsynced(&f)?;
        self.sync_if_configured()?;
        Ok(r)
    }

    /// Waits for the disk (group commit) unless the store was opened without
    /// `sync_on_commit`.
    fn sync_if_configured(&self) -> Result<(), StoreError> {
        if self.inner.opts.sync_on_commit {
            self.sync_committed()?;
        }
        Ok(())
    }

    /// Runs `f` as one transaction without waiting for the disk: for writes whose loss in a
    /// crash is harmless because they are repeated idempotently (an outbox entry marked sent,
    /// a poll id registered, the sync position). The next durable write covers them.
    pub(crate) fn write_relaxed<R>(
        &self,
        f: impl Fn(&Tx<'_>) -> TxResult<R>,
    ) -> Result<R, StoreError> {
        self.write_unsynced(&f)
    }

    fn write_unsynced<R>(&self, f: &impl Fn(&Tx<'_>) -> TxResult<R>) -> Result<R, StoreError> {
        // A poisoned gate only means another writer panicked; the data is sled's, not ours.
        let _g = self.inner.gate.read().unwrap_or_else(|e| e.into_inner());
        let crypt = &self.inner.crypt;
        let r = self
            .inner
            .trees
            .as_slice()
            .transaction(|view| f(&Tx { view, crypt }))?;
        self.inner.committed.fetch_add(1, Ordering::SeqCst);
        Ok(r)
    }

    /// Group commit: returns once an fsync that started after this thread's last commit has
    /// finished. Writers waiting while another fsync runs usually find their commit covered
    /// by the next one, so concurrent answers share fsyncs instead of queueing for one each.
    fn sync_committed(&self) -> Result<(), StoreError> {
        let mine = self.inner.committed.load(Ordering::SeqCst);
        let _f = self
            .inner
            .flush_lock
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if self.inner.flushed.load(Ordering::SeqCst) >= mine {
            return Ok(());
        }
        // Everything committed up to here is in sled's buffers before the fsync starts.
        let target = self.inner.committed.load(Ordering::SeqCst);
        self.inner.db.flush()?;
        self.inner.flushed.store(target, Ordering::SeqCst);
        Ok(())
    }

    fn tree(&self, t: Table) -> &sled::Tree {
        &self.inner.trees[t.idx]
    }

    fn crypt(&self) -> &Crypt {
        &self.inner.crypt
    }

    /// Reads and decrypts one value outside a transaction.
    fn read<T: Persisted>(&self, t: Table, key: &[u8]) -> Result<Option<T>, StoreError> {
        match self.tree(t).get(key)? {
            Some(raw) => Ok(Some(self.crypt().open_model(t.name, &raw)?)),
            None => Ok(None),
        }
    }

    /// Decrypts every value under `prefix` of a table.
    fn scan<T: Persisted>(
        &self,
        t: Table,
        prefix: &[u8],
    ) -> Result<Vec<(sled::IVec, T)>, StoreError> {
        let mut out = Vec::new();
        for kv in self.tree(t).scan_prefix(prefix) {
            let (k, v) = kv?;
            out.push((k, self.crypt().open_model(t.name, &v)?));
        }
        Ok(out)
    }
}

fn open_sled(path: &Path) -> Result<sled::Db, StoreError> {
    // sled's flusher thread keeps the file lock for a moment after the last handle is
    // dropped, so a reopen in the same process can see its own old lock: retry briefly
    // before calling the store busy.
    let mut attempts = 0;
    loop {
        match sled::Config::new().path(path).open() {
            Ok(db) => return Ok(db),
            // sled reports a held file lock as a generic I/O error.
            Err(sled::Error::Io(io)) if io.to_string().contains("lock") => {
                attempts += 1;
                if attempts >= 20 {
                    return Err(StoreError::InUse(path.to_owned()));
                }
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            Err(other) => return Err(other.into()),
        }
    }
}

pub(crate) fn read_schema(meta: &sled::Tree) -> Result<u32, StoreError> {
    let raw = meta.get(META_SCHEMA)?.ok_or_else(|| StoreError::Corrupt {
        table: "meta",
        reason: "schema version missing".into(),
    })?;
    let bytes: [u8; 4] = raw.as_ref().try_into().map_err(|_| StoreError::Corrupt {
        table: "meta",
        reason: "schema version is not 4 bytes".into(),
    })?;
    Ok(u32::from_be_bytes(bytes))
}
