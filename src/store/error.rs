//! The store's error type: one enum whose variants callers branch on (wrong passphrase,
//! full disk, corruption, …). Messages never contain Matrix ids, room ids, answers or
//! pseudonyms: errors end up in logs and on the admin's terminal.

use std::path::PathBuf;

/// Everything that can go wrong in the store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// No passphrase was given (empty, or neither file nor environment variable set).
    #[error("no store passphrase given: set it in a file or in the environment")]
    MissingPassphrase,
    /// The passphrase does not unwrap the store's data key. Nothing was written.
    #[error("wrong store passphrase: the data key could not be unwrapped (nothing was changed)")]
    WrongPassphrase,
    /// No store exists at this path (and this operation does not create one).
    #[error("no store found at {0}")]
    NotFound(PathBuf),
    /// Another process holds the store open.
    #[error("the store at {0} is in use by another process")]
    InUse(PathBuf),
    /// A write or read failed at the operating-system level: typically a full disk.
    /// The operation was not acknowledged; earlier acknowledged writes are unaffected.
    #[error("disk I/O failed (full disk or I/O error), the operation was not stored: {0}")]
    Io(#[from] std::io::Error),
    /// A stored value does not decrypt or does not parse, or the storage engine found a
    /// damaged page.
    #[error("corrupted data in table `{table}`: {reason}")]
    Corrupt {
        /// The table (sled tree) where the damage was found.
        table: &'static str,
        /// What failed (never contains the value itself).
        reason: String,
    },
    /// The audit log's hash chain does not verify: an entry was changed, removed or inserted.
    #[error("audit log hash chain broken at entry {seq}: {reason}")]
    AuditChainBroken {
        /// Sequence number of the first entry that fails to verify.
        seq: u64,
        /// What failed.
        reason: String,
    },
    /// The store was written by a newer pulsebot with a schema this binary does not know.
    #[error("store schema version {found} is newer than this pulsebot supports ({supported})")]
    UnsupportedSchema {
        /// The version found on disk.
        found: u32,
        /// The newest version this binary can read.
        supported: u32,
    },
    /// A migration step failed; the backup made before it is named.
    #[error("migration from schema {from} failed ({reason}); backup before migration: {backup}")]
    Migration {
        /// The schema version migrated from.
        from: u32,
        /// What failed.
        reason: String,
        /// Where the pre-migration backup was written.
        backup: PathBuf,
    },
    /// A round that was never opened in this store.
    #[error("unknown round {round} of survey `{survey_id}`")]
    UnknownRound {
        /// The survey id (not identifying: survey ids come from file names).
        survey_id: String,
        /// The round number.
        round: u32,
    },
    /// An import with this label exists already.
    #[error("survey `{survey_id}` already has an imported round labelled `{label}`")]
    DuplicateImport {
        /// The survey.
        survey_id: String,
        /// The label.
        label: String,
    },
    /// Encryption of a value failed (should not happen; reported rather than panicking).
    #[error("encryption failed: {0}")]
    Crypto(String),
    /// The backup target exists and is not empty.
    #[error("backup target {0} exists and is not empty")]
    BackupTargetNotEmpty(PathBuf),
    /// Any other failure reported by sled (a bug or unsupported use).
    #[error("storage engine error: {0}")]
    Backend(String),
}

impl From<sled::Error> for StoreError {
    fn from(e: sled::Error) -> Self {
        match e {
            sled::Error::Io(io) => StoreError::Io(io),
            sled::Error::Corruption { at, .. } => StoreError::Corrupt {
                table: "sled",
                reason: format!("storage engine detected corruption at {at:?}"),
            },
            other => StoreError::Backend(other.to_string()),
        }
    }
}

impl From<sled::transaction::TransactionError<StoreError>> for StoreError {
    fn from(e: sled::transaction::TransactionError<StoreError>) -> Self {
        match e {
            sled::transaction::TransactionError::Abort(e) => e,
            sled::transaction::TransactionError::Storage(e) => e.into(),
        }
    }
}
