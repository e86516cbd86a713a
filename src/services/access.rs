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
    if running_elsewhere(config)? {
        return Ok(Access::Running);
    }
    let pass = Passphrase::new(config.store.passphrase.expose())?;
    match Store::open_existing(&config.store.data_dir(), &pass) {
        Ok(store) => Ok(Access::Local(store)),
        Err(StoreError::InUse(_)) => Ok(Access::Running),
        Err(e) => Err(e.into()),
    }
}

/// The system user that owns the data directory, when that is not this process's user.
///
/// Such a store is the service account's (`pulsebot` in the packaged layout): an operator
/// cannot open it, and root must not (files root creates in it would lock the bot out).
pub fn foreign_owner(data_dir: &Path) -> Option<u32> {
    use std::os::unix::fs::MetadataExt;
    let owner = std::fs::metadata(data_dir).ok()?.uid();
    // SAFETY: geteuid has no preconditions.
    (owner != unsafe { libc::geteuid() }).then_some(owner)
}

/// Refuses, with the command to use instead, to work offline on a store of another user.
pub fn ensure_own_store(config: &Config) -> anyhow::Result<()> {
    match foreign_owner(&config.store.path) {
        None => Ok(()),
        Some(owner) => anyhow::bail!(
            "the data directory {} belongs to user `{user}`: with the bot stopped, run this \
             command as that user, e.g. `sudo -u {user} pulsebot ...`",
            config.store.path.display(),
            user = user_name(owner)
        ),
    }
}

/// Whether the store belongs to another user and its running bot is the way in (`true`);
/// `false` for this user's own store; an error with the fix when neither works.
pub fn running_elsewhere(config: &Config) -> anyhow::Result<bool> {
    if foreign_owner(&config.store.path).is_none() {
        return Ok(false);
    }
    match std::fs::symlink_metadata(control::socket_path(&config.store.path)) {
        Ok(_) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            anyhow::bail!(control::denied_message(&config.store.path))
        }
        Err(_) => ensure_own_store(config).map(|()| false),
    }
}

/// The name of user `uid`, or its number when it has none.
fn user_name(uid: u32) -> String {
    let mut buf = vec![0 as libc::c_char; 16 * 1024];
    // SAFETY: an all-zero `passwd` is a valid value to be filled in.
    let mut pw: libc::passwd = unsafe { std::mem::zeroed() };
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: every pointer is valid for the call; `buf` outlives the use of `pw`'s fields.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pw, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() || pw.pw_name.is_null() {
        return uid.to_string();
    }
    // SAFETY: getpwuid_r succeeded, so pw_name points to a NUL-terminated string inside `buf`.
    unsafe { std::ffi::CStr::from_ptr(pw.pw_name) }
        .to_string_lossy()
        .into_owned()
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
