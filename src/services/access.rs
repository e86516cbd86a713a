//! Where a CLI command's store work happens: in this process when the bot is stopped, or in
//! the running bot (which holds the store) over the control socket. Written once here so that
//! every command falls back the same way and says the same thing.

use std::path::Path;

use crate::config::Config;
use crate::control::{self, Request};
use crate::store::{Passphrase, Store, StoreError};

/// The store, or the running bot that holds it.
pub enum Access {
    /// The bot is stopped: the store, opened here.
    Local(Store),
    /// The bot runs: ask it over the control socket.
    Running,
}

/// Opens the configured store, or finds it held by the running bot.
pub fn open_or_running(config: &Config) -> anyhow::Result<Access> {
    let pass = Passphrase::new(config.store.passphrase.expose())?;
    match Store::open_existing(&config.store.data_dir(), &pass) {
        Ok(store) => Ok(Access::Local(store)),
        Err(StoreError::InUse(_)) => Ok(Access::Running),
        Err(e) => Err(e.into()),
    }
}

/// Asks the running bot to do `req`; its answer's text, or an error with that text.
pub fn ask_bot(data_dir: &Path, req: &Request) -> anyhow::Result<String> {
    let resp = control::request(data_dir, req)?;
    if resp.ok {
        Ok(resp.text)
    } else {
        anyhow::bail!("the running bot reports a failure: {}", resp.text)
    }
}
