//! `store rekey`: a new passphrase for the saved session and the store, both or neither.

use anyhow::Context;

use crate::config::Config;
use crate::matrix::session;
use crate::store::{self, Passphrase, StoreError};

/// Changes the passphrase of the session file and the store. The session file goes first (one
/// atomic file write, easy to roll back); if the store then fails, the session file is put
/// back, so the old passphrase still opens both.
pub fn rekey(config: &Config, new: &Passphrase) -> anyhow::Result<()> {
    let old = Passphrase::new(config.store.passphrase.expose())?;
    let lock = session::DataDirLock::acquire(&config.store.path)
        .context("stop the bot before changing the passphrase")?;
    let previous = session::rekey(
        &config.store.path,
        config.store.passphrase.expose(),
        new.expose(),
    )?;
    let result = store::rekey(&config.store.data_dir(), &old, new);
    if result.is_err()
        && let Some(bytes) = &previous
    {
        session::restore_session_file(&config.store.path, bytes)?;
    }
    drop(lock);
    match result {
        Ok(()) => Ok(()),
        Err(StoreError::InUse(p)) => anyhow::bail!(
            "the store {} is in use: stop the bot before changing the passphrase",
            p.display()
        ),
        Err(e) => Err(e.into()),
    }
}
