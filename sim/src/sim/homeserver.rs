//! Starting, stopping and registering users on the local Synapse.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, bail};
use hmac::{Hmac, Mac};
use matrix_sdk::reqwest;
use matrix_sdk::ruma::OwnedUserId;
use serde::Deserialize;
use sha1::Sha1;
use url::Url;

/// A running local Synapse.
#[derive(Debug)]
pub struct Homeserver {
    /// Its client-API base URL.
    pub url: Url,
    dir: PathBuf,
    secret: String,
    http: reqwest::Client,
}

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../scripts/synapse.sh")
}

fn free_port() -> anyhow::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0").context("no free loopback port")?;
    Ok(l.local_addr()?.port())
}

/// Runs `scripts/synapse.sh start` for `dir` on `port`, owned by this process.
fn start_on(dir: &Path, port: u16) -> anyhow::Result<()> {
    let out = Command::new("bash")
        .arg(script())
        .arg("start")
        .arg(dir)
        .arg(port.to_string())
        .arg(std::process::id().to_string())
        .output()
        .context("cannot run scripts/synapse.sh")?;
    if !out.status.success() {
        bail!(
            "the local Synapse did not start:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

impl Homeserver {
    /// Starts a fresh server with its data in `dir` (emptied first); it stops when this
    /// process ends, even if the process is killed.
    pub fn start(dir: &Path) -> anyhow::Result<Homeserver> {
        if dir.exists() {
            Command::new("bash")
                .arg(script())
                .arg("stop")
                .arg(dir)
                .status()
                .ok();
            std::fs::remove_dir_all(dir)
                .with_context(|| format!("cannot clear {}", dir.display()))?;
        }
        std::fs::create_dir_all(dir)?;
        let port = free_port()?;
        start_on(dir, port)?;
        let secret = std::fs::read_to_string(dir.join("registration_secret"))
            .context("Synapse started without a registration secret")?;
        Ok(Homeserver {
            url: Url::parse(&format!("http://127.0.0.1:{port}/"))?,
            dir: dir.to_path_buf(),
            secret,
            http: reqwest::Client::new(),
        })
    }

    /// The server's data directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Stops the server and waits for it to exit.
    pub fn stop(&self) {
        let _ = Command::new("bash")
            .arg(script())
            .arg("stop")
            .arg(&self.dir)
            .status();
    }

    /// Starts the stopped server again on the same port with the same data (an outage).
    pub fn restart(&self) -> anyhow::Result<()> {
        self.stop();
        let port = self.url.port().context("the server URL has a port")?;
        start_on(&self.dir, port)
    }

    /// Registers `localpart` with `password` through the shared-secret admin API.
    pub async fn register(
        &self,
        localpart: &str,
        password: &str,
        admin: bool,
    ) -> anyhow::Result<OwnedUserId> {
        // A connection can drop mid-response under load (seen once in CI: "connection
        // closed before message completed"); then the user may or may not exist, so the
        // retry accepts "already taken" as the earlier attempt's success.
        let mut dropped = false;
        for attempt in 1..=3 {
            match self.register_once(localpart, password, admin).await {
                Ok(Registration::Done(id)) => return Ok(id),
                Ok(Registration::Taken) if dropped => {
                    return Ok(OwnedUserId::try_from(format!("@{localpart}:localhost"))?);
                }
                Ok(Registration::Taken) => bail!("registering {localpart} failed: user id taken"),
                Err(e) if attempt < 3 && e.downcast_ref::<reqwest::Error>().is_some() => {
                    dropped = true;
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
                Err(e) => return Err(e),
            }
        }
        bail!("registering {localpart} failed three times")
    }

    /// An access token for a new device `device_id` of `user`, from a password login: what an
    /// operator gets from an identity provider's tooling (a token for a device without keys).
    pub async fn access_token(
        &self,
        user: &str,
        password: &str,
        device_id: &str,
    ) -> anyhow::Result<String> {
        #[derive(Deserialize)]
        struct LoggedIn {
            access_token: String,
        }
        let body = serde_json::json!({
            "type": "m.login.password",
            "identifier": {"type": "m.id.user", "user": user},
            "password": password,
            "device_id": device_id,
        });
        let resp = self
            .http
            .post(self.url.join("_matrix/client/v3/login")?)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body)?)
            .send()
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            bail!(
                "login of {user} failed: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(serde_json::from_slice::<LoggedIn>(&bytes)?.access_token)
    }

    async fn register_once(
        &self,
        localpart: &str,
        password: &str,
        admin: bool,
    ) -> anyhow::Result<Registration> {
        #[derive(Deserialize)]
        struct Nonce {
            nonce: String,
        }
        #[derive(Deserialize)]
        struct Registered {
            user_id: OwnedUserId,
        }
        let endpoint = self.url.join("_synapse/admin/v1/register")?;
        let nonce: Nonce = serde_json::from_slice(
            &self
                .http
                .get(endpoint.clone())
                .send()
                .await?
                .error_for_status()?
                .bytes()
                .await?,
        )?;
        let mut mac = Hmac::<Sha1>::new_from_slice(self.secret.as_bytes())?;
        mac.update(nonce.nonce.as_bytes());
        mac.update(b"\0");
        mac.update(localpart.as_bytes());
        mac.update(b"\0");
        mac.update(password.as_bytes());
        mac.update(b"\0");
        mac.update(if admin {
            b"admin" as &[u8]
        } else {
            b"notadmin"
        });
        let body = serde_json::json!({
            "nonce": nonce.nonce,
            "username": localpart,
            "password": password,
            "admin": admin,
            "mac": hex::encode(mac.finalize().into_bytes()),
        });
        let resp = self
            .http
            .post(endpoint)
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body)?)
            .send()
            .await?;
        let status = resp.status();
        let bytes = resp.bytes().await?;
        if !status.is_success() {
            if String::from_utf8_lossy(&bytes).contains("M_USER_IN_USE") {
                return Ok(Registration::Taken);
            }
            bail!(
                "registering {localpart} failed: {status} {}",
                String::from_utf8_lossy(&bytes)
            );
        }
        Ok(Registration::Done(
            serde_json::from_slice::<Registered>(&bytes)?.user_id,
        ))
    }
}

/// What one registration attempt found.
enum Registration {
    Done(OwnedUserId),
    Taken,
}

impl Drop for Homeserver {
    fn drop(&mut self) {
        self.stop();
    }
}
