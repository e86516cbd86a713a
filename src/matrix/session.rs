//! The bot's Matrix session: one device for the bot's whole life.
//!
//! The first start logs in with the password (or takes over the device of a configured access
//! token, for homeservers behind an identity provider), bootstraps cross-signing and saves the
//! session;
//! every later start restores it, so the device id (and with it every Megolm session the
//! participants shared with the bot) stays the same. The session file holds an access token,
//! so it is encrypted with the store passphrase and written with mode 0600. The matrix-sdk
//! SQLite store beside it is encrypted with the same passphrase.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::Context;
use matrix_sdk::Client;
use matrix_sdk::authentication::matrix::MatrixSession;
use matrix_sdk::encryption::EncryptionSettings;
use matrix_sdk::ruma::api::client::uiaa;
use matrix_sdk_crypto::{CollectStrategy, DecryptionSettings, TrustRequirement};
use matrix_sdk_store_encryption::StoreCipher;
use serde::{Deserialize, Serialize};
use tracing::info;

use crate::config::Config;

/// The saved session, encrypted.
pub(crate) const SESSION_FILE: &str = "session.json";
/// The matrix-sdk SQLite store (state and crypto), encrypted by the SDK.
const SDK_STORE_DIR: &str = "matrix";
/// The lock file that keeps a second instance out.
const LOCK_FILE: &str = "pulsebot.lock";
/// Where the first start leaves the recovery key for the operator to take away.
pub const RECOVERY_KEY_FILE: &str = "recovery-key.txt";
/// Written once recovery (secret storage and key backup) is set up or was restored, so no
/// later start makes a second one.
const RECOVERY_DONE_FILE: &str = "recovery.done";

/// Why a data directory could not be used.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    /// Another process holds the lock.
    #[error(
        "another pulsebot instance is already using the data directory {dir} (lock held on {lock}); \
         stop it first — two bots on one store would answer every message twice"
    )]
    Locked {
        /// The data directory.
        dir: PathBuf,
        /// The lock file.
        lock: PathBuf,
    },
    /// The session file does not decrypt with the given passphrase.
    #[error(
        "the saved session in {0} cannot be decrypted: wrong store passphrase? \
         (nothing was changed)"
    )]
    WrongPassphrase(PathBuf),
    /// The saved session belongs to another account or homeserver than the config names.
    #[error(
        "the saved session in {file} is for {saved}, but the config names {configured}; \
         use another store.path for another account"
    )]
    OtherAccount {
        /// The session file.
        file: PathBuf,
        /// Who the session is for.
        saved: String,
        /// Who the config names.
        configured: String,
    },
}

/// An exclusive lock on the data directory, held for the life of the process.
#[derive(Debug)]
pub struct DataDirLock {
    _file: File,
    path: PathBuf,
}

impl DataDirLock {
    /// Creates the directory if needed and takes the lock, or says who has it.
    pub fn acquire(dir: &Path) -> anyhow::Result<DataDirLock> {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("cannot create the data directory {}", dir.display()))?;
        restrict_dir(dir)?;
        let path = dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .with_context(|| format!("cannot open the lock file {}", path.display()))?;
        match file.try_lock() {
            Ok(()) => Ok(DataDirLock { _file: file, path }),
            Err(std::fs::TryLockError::WouldBlock) => Err(SessionError::Locked {
                dir: dir.to_path_buf(),
                lock: path,
            }
            .into()),
            Err(std::fs::TryLockError::Error(e)) => {
                Err(e).with_context(|| format!("cannot lock {}", path.display()))
            }
        }
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// Keeps other local users out of the data directory.
fn restrict_dir(dir: &Path) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .with_context(|| format!("cannot restrict permissions of {}", dir.display()))
}

#[derive(Serialize, Deserialize)]
struct SessionFile {
    /// Who the session is for, in clear so a mismatch can be explained without the passphrase.
    user_id: String,
    homeserver: String,
    /// The session's cipher key, wrapped with the store passphrase.
    cipher: Vec<u8>,
    /// The `MatrixSession` (user id, device id, access token), encrypted.
    session: Vec<u8>,
    /// The random passphrase of the SDK's SQLite store, encrypted. Keeping it here (rather
    /// than using the operator's passphrase directly) lets `store rekey` change the
    /// operator's passphrase by re-wrapping this file alone.
    sdk_passphrase: Vec<u8>,
}

/// What the session file holds, decrypted.
struct Saved {
    session: MatrixSession,
    sdk_passphrase: String,
}

fn new_sdk_passphrase() -> String {
    use rand::RngCore;
    let mut key = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut key);
    hex::encode(key)
}

fn save_session(
    path: &Path,
    config: &Config,
    session: &MatrixSession,
    sdk_passphrase: &str,
) -> anyhow::Result<()> {
    let passphrase = config.store.passphrase.expose();
    let cipher = StoreCipher::new().context("cannot create a session cipher")?;
    let file = SessionFile {
        sdk_passphrase: cipher
            .encrypt_value(&sdk_passphrase)
            .context("cannot encrypt the SDK store key")?,
        user_id: config.matrix.user.to_string(),
        homeserver: config.matrix.homeserver.to_string(),
        cipher: cipher
            .export(passphrase)
            .context("cannot wrap the session key")?,
        session: cipher
            .encrypt_value(session)
            .context("cannot encrypt the session")?,
    };
    let json = serde_json::to_vec(&file)?;
    write_private(path, &json)
}

/// Writes a file with mode 0600 atomically (temp file, fsync, rename).
pub(crate) fn write_private(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension("tmp");
    let mut f = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .mode(0o600)
        .open(&tmp)
        .with_context(|| format!("cannot write {}", tmp.display()))?;
    f.write_all(bytes)?;
    f.sync_all()?;
    std::fs::rename(&tmp, path).with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}

/// Re-wraps the session file's key with a new passphrase (`pulsebot store rekey`).
///
/// Returns the previous file content so a caller can roll back if a later step fails.
pub fn rekey(data_dir: &Path, old: &str, new: &str) -> anyhow::Result<Option<Vec<u8>>> {
    let path = data_dir.join(SESSION_FILE);
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let mut file: SessionFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("the session file {} is damaged", path.display()))?;
    let cipher = StoreCipher::import(old, &file.cipher)
        .map_err(|_| SessionError::WrongPassphrase(path.clone()))?;
    file.cipher = cipher.export(new).context("cannot wrap the session key")?;
    write_private(&path, &serde_json::to_vec(&file)?)?;
    Ok(Some(bytes))
}

/// Restores a session file saved by [`rekey`].
pub fn restore_session_file(data_dir: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    write_private(&data_dir.join(SESSION_FILE), bytes)
}

fn load_session(path: &Path, config: &Config) -> anyhow::Result<Option<Saved>> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let file: SessionFile = serde_json::from_slice(&bytes)
        .with_context(|| format!("the session file {} is damaged", path.display()))?;
    if file.user_id != config.matrix.user.as_str() {
        return Err(SessionError::OtherAccount {
            file: path.to_path_buf(),
            saved: file.user_id,
            configured: config.matrix.user.to_string(),
        }
        .into());
    }
    let cipher = StoreCipher::import(config.store.passphrase.expose(), &file.cipher)
        .map_err(|_| SessionError::WrongPassphrase(path.to_path_buf()))?;
    let session = cipher
        .decrypt_value(&file.session)
        .map_err(|_| SessionError::WrongPassphrase(path.to_path_buf()))?;
    let sdk_passphrase = cipher
        .decrypt_value(&file.sdk_passphrase)
        .map_err(|_| SessionError::WrongPassphrase(path.to_path_buf()))?;
    Ok(Some(Saved {
        session,
        sdk_passphrase,
    }))
}

/// Builds a client on the encrypted SDK store, restoring the saved session or logging in.
///
/// Returns the client and whether this was the first start (a fresh login).
pub async fn connect(config: &Config) -> anyhow::Result<(Client, bool)> {
    let dir = &config.store.path;
    let session_path = dir.join(SESSION_FILE);
    // Decrypt the session before touching the SDK store, so a wrong passphrase changes nothing.
    let saved = load_session(&session_path, config)?;
    let sdk_dir = dir.join(SDK_STORE_DIR);
    if saved.is_none() && sdk_dir.exists() {
        // An SDK store without a session is left from a first start that died before the
        // session was saved; its device is unusable without the access token.
        std::fs::remove_dir_all(&sdk_dir)
            .with_context(|| format!("cannot clear the stale store {}", sdk_dir.display()))?;
    }
    let sdk_passphrase = saved
        .as_ref()
        .map_or_else(new_sdk_passphrase, |s| s.sdk_passphrase.clone());
    let client = Client::builder()
        .homeserver_url(config.matrix.homeserver.as_str())
        .sqlite_store(&sdk_dir, Some(&sdk_passphrase))
        .with_encryption_settings(EncryptionSettings {
            auto_enable_cross_signing: false,
            ..Default::default()
        })
        // Device trust (`matrix.device_trust`) is decided by pulsebot, not by these settings:
        // the SDK's stricter ones (`CrossSignedOrLegacy`, `IdentityBasedStrategy`) shut out
        // every device of a user without a cross-signing identity, whom `cross-signed` accepts
        // when it is their only device. So the SDK decrypts everything and shares with every
        // device not blacklisted, and `matrix::trust` drops events from untrusted devices and
        // blacklists them before each send. Set explicitly so an SDK default cannot change it.
        .with_decryption_settings(DecryptionSettings {
            sender_device_trust_requirement: TrustRequirement::Untrusted,
        })
        .with_room_key_recipient_strategy(CollectStrategy::AllDevices)
        .build()
        .await
        .context("cannot open the Matrix store in the data directory")?;

    match saved {
        Some(Saved { session, .. }) => {
            client
                .restore_session(session)
                .await
                .context("cannot restore the saved Matrix session")?;
            info!(device = %client.device_id().map(|d| d.to_string()).unwrap_or_default(), "session restored");
            Ok((client, false))
        }
        None => {
            let session = if let Some(token) = &config.matrix.access_token {
                let session = token_session(config, token.expose()).await?;
                client
                    .restore_session(session.clone())
                    .await
                    .context("cannot use the access token's session")?;
                session
            } else {
                let user = config.matrix.user.as_str();
                let password = config.matrix.password.as_ref().context(
                    "the first start logs in: set matrix.password_file (or PULSEBOT_PASSWORD), or \
                     matrix.access_token_file (or PULSEBOT_ACCESS_TOKEN) on a homeserver with an \
                     identity provider",
                )?;
                client
                    .matrix_auth()
                    .login_username(user, password.expose())
                    .initial_device_display_name(&config.matrix.device_name)
                    .send()
                    .await
                    .context("login failed: check matrix.user, the password and the homeserver")?;
                client
                    .matrix_auth()
                    .session()
                    .context("the login gave no session")?
            };
            save_session(&session_path, config, &session, &sdk_passphrase)?;
            info!(device = %session.meta.device_id, "logged in, session saved");
            Ok((client, true))
        }
    }
}

/// Why an access token cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The homeserver did not accept the token.
    #[error(
        "the homeserver refused the access token (HTTP {0}): issue a new one and put it into \
         matrix.access_token_file"
    )]
    Refused(u16),
    /// The token is another account's.
    #[error("the access token is for {token}, but the config names {configured}")]
    OtherAccount {
        /// Whose token it is.
        token: String,
        /// Who the config names.
        configured: String,
    },
    /// The token has no device (an application service's or a guest's): no encryption.
    #[error(
        "the access token has no device, so the bot could not take part in encrypted chats: \
         issue a token for a device (e.g. `mas-cli manage issue-compatibility-token USER DEVICE`, \
         or a password login on the account)"
    )]
    NoDevice,
}

/// What `/account/whoami` says about a token.
#[derive(Deserialize)]
struct WhoAmI {
    user_id: String,
    device_id: Option<String>,
}

/// The session an access token stands for: its user and device, asked of the homeserver
/// (`/account/whoami`), because a compatibility token from the identity provider's tooling
/// comes without the device id the crypto store must be opened with.
async fn token_session(config: &Config, token: &str) -> anyhow::Result<MatrixSession> {
    use matrix_sdk::SessionMeta;
    use matrix_sdk::authentication::SessionTokens;
    use matrix_sdk::ruma::{OwnedDeviceId, OwnedUserId};

    let url = config
        .matrix
        .homeserver
        .join("_matrix/client/v3/account/whoami")
        .context("cannot build the whoami URL")?;
    let response = matrix_sdk::reqwest::Client::new()
        .get(url)
        .bearer_auth(token)
        .send()
        .await
        .context("cannot reach the homeserver to check the access token")?;
    let status = response.status();
    if !status.is_success() {
        return Err(TokenError::Refused(status.as_u16()).into());
    }
    let body = response
        .bytes()
        .await
        .context("cannot read the homeserver's answer about the access token")?;
    let who: WhoAmI =
        serde_json::from_slice(&body).context("the homeserver's whoami answer is malformed")?;
    let user_id = OwnedUserId::try_from(who.user_id.as_str())
        .context("the homeserver's whoami answer has a malformed user id")?;
    if user_id != config.matrix.user {
        return Err(TokenError::OtherAccount {
            token: user_id.to_string(),
            configured: config.matrix.user.to_string(),
        }
        .into());
    }
    let device_id: OwnedDeviceId = who.device_id.ok_or(TokenError::NoDevice)?.into();
    Ok(MatrixSession {
        meta: SessionMeta { user_id, device_id },
        tokens: SessionTokens {
            access_token: token.to_owned(),
            refresh_token: None,
        },
    })
}

/// Makes the bot's device verified by its owner, so clients show no warning for it.
///
/// Needs one sync first (the device keys must be uploaded). Synapse asks for the password
/// (user-interactive auth) unless this is the account's first cross-signing upload.
pub async fn bootstrap_cross_signing(client: &Client, config: &Config) -> anyhow::Result<()> {
    let enc = client.encryption();
    let Some(secret) = config.matrix.password.as_ref() else {
        return enc.bootstrap_cross_signing_if_needed(None).await.context(
            "cross-signing bootstrap failed (no password configured for the server's check)",
        );
    };
    if let Err(e) = enc.bootstrap_cross_signing_if_needed(None).await {
        let Some(response) = e.as_uiaa_response() else {
            return Err(e).context("cross-signing bootstrap failed");
        };
        let mut password = uiaa::Password::new(
            uiaa::UserIdentifier::Matrix(uiaa::MatrixUserIdentifier::new(
                config.matrix.user.to_string(),
            )),
            secret.expose().to_owned(),
        );
        password.session = response.session.clone();
        enc.bootstrap_cross_signing(Some(uiaa::AuthData::Password(password)))
            .await
            .context("cross-signing bootstrap with password failed")?;
    }
    info!("cross-signing ready");
    Ok(())
}

/// What became of recovery (secret storage with the cross-signing keys, and server-side key
/// backup) at this start.
#[derive(Debug, PartialEq, Eq)]
pub enum RecoveryOutcome {
    /// Set up now; the key is in this file, for the operator to move to safe keeping.
    Created(PathBuf),
    /// Set up earlier (by the bot, or restored with `pulsebot recover`).
    Present,
    /// The account's secret storage was set up by another client: the bot leaves it alone.
    ForeignSecretStorage,
}

/// Sets up secret storage and key backup once, so a lost data directory can be recovered
/// (`pulsebot recover`) with the same identity and the room keys.
///
/// Runs after cross-signing is bootstrapped and the first sync. The recovery key is written
/// to the data directory (0600), never logged: whoever holds it and the account can read
/// what the bot can, so it belongs offline, with the store passphrase's custodian.
pub async fn ensure_recovery(client: &Client, data_dir: &Path) -> anyhow::Result<RecoveryOutcome> {
    let done = data_dir.join(RECOVERY_DONE_FILE);
    if done.exists() {
        return Ok(RecoveryOutcome::Present);
    }
    let enc = client.encryption();
    if enc
        .secret_storage()
        .is_enabled()
        .await
        .context("cannot ask the homeserver whether secret storage is set up")?
    {
        write_private(&done, b"foreign\n")?;
        return Ok(RecoveryOutcome::ForeignSecretStorage);
    }
    let key = enc
        .recovery()
        .enable()
        .wait_for_backups_to_upload()
        .await
        .context("cannot set up secret storage and key backup")?;
    let path = data_dir.join(RECOVERY_KEY_FILE);
    write_private(&path, format!("{key}\n").as_bytes())?;
    write_private(&done, b"created\n")?;
    Ok(RecoveryOutcome::Created(path))
}

/// What `pulsebot recover` found after restoring the identity and the room keys.
#[derive(Debug, Default)]
pub struct Recovered {
    /// The new device's id.
    pub device: String,
    /// Joined rooms whose latest messages were looked at.
    pub rooms: usize,
    /// Of those, rooms with at least one message that decrypted with the restored keys.
    pub rooms_decrypting: usize,
    /// Encrypted messages looked at that still do not decrypt.
    pub undecryptable: usize,
}

/// Restores the bot's identity on a fresh data directory: logs in as a new device, imports the
/// cross-signing keys from secret storage with the recovery key (which also verifies the new
/// device), and downloads the room keys from the key backup.
pub async fn recover(config: &Config, recovery_key: &str) -> anyhow::Result<Recovered> {
    use matrix_sdk::config::SyncSettings;
    use matrix_sdk::room::MessagesOptions;

    let dir = &config.store.path;
    if dir.join(SESSION_FILE).exists() {
        anyhow::bail!(
            "the data directory {} already has a session: recover is for a fresh data \
             directory after a loss (move the old one aside first)",
            dir.display()
        );
    }
    let (client, _) = connect(config).await?;
    client
        .sync_once(SyncSettings::default().timeout(std::time::Duration::ZERO))
        .await
        .context("the first sync after the login failed")?;
    client
        .encryption()
        .recovery()
        .recover(recovery_key.trim())
        .await
        .context("the recovery key does not open the account's secret storage")?;
    write_private(&dir.join(RECOVERY_DONE_FILE), b"recovered\n")?;
    let mut found = Recovered {
        device: client
            .device_id()
            .map(|d| d.to_string())
            .unwrap_or_default(),
        ..Recovered::default()
    };
    for room in client.joined_rooms() {
        if !room.encryption_state().is_encrypted() {
            continue;
        }
        found.rooms += 1;
        if let Err(e) = client
            .encryption()
            .backups()
            .download_room_keys_for_room(room.room_id())
            .await
        {
            tracing::debug!(error = %e, "no room keys downloaded for a room");
        }
        let mut options = MessagesOptions::backward();
        options.limit = 20u32.into();
        let messages = room
            .messages(options)
            .await
            .context("cannot read a room's history")?;
        let mut decrypted = false;
        for event in &messages.chunk {
            match &event.kind {
                matrix_sdk::deserialized_responses::TimelineEventKind::Decrypted(_) => {
                    decrypted = true
                }
                matrix_sdk::deserialized_responses::TimelineEventKind::UnableToDecrypt {
                    ..
                } => found.undecryptable += 1,
                _ => {}
            }
        }
        found.rooms_decrypting += usize::from(decrypted);
    }
    Ok(found)
}
