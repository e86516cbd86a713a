//! The local control socket: lets `pulsebot store check|backup` work while the bot runs.
//!
//! sled allows one process per store, so a second process cannot open the store the bot
//! holds. Instead the CLI asks the running bot over a Unix socket inside the data directory.
//! It admits the bot's own system user, root and the members of the data directory's group
//! (socket 0660, directory 0710; see [`peer`]). The protocol is one JSON request line and one
//! JSON response line.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};
use tokio::net::UnixListener;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

use std::sync::Arc;

use crate::clock::Clock;
use crate::store::AsyncStore;
use crate::survey::SurveyDefaults;

/// The socket's file name inside the data directory.
pub const SOCKET: &str = "control.sock";
/// A request must arrive within this time, or the connection is dropped.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// A request line is at most this long (real ones are a few hundred bytes).
const MAX_REQUEST: u64 = 64 * 1024;

/// What the CLI asks the running bot.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
#[serde(tag = "cmd", rename_all = "snake_case")]
pub enum Request {
    /// Run `store check` on the open store.
    Check,
    /// Surveys, rounds and counts (`pulsebot status`).
    Status,
    /// Copy the open store into `dir`.
    Backup {
        /// Target directory (new or empty).
        dir: PathBuf,
    },
    /// Compute an export (the CLI has already found and validated the survey file).
    Export {
        /// What to export.
        request: crate::services::export::ExportRequest,
        /// The survey file, read by the bot again.
        survey_file: PathBuf,
    },
}

/// The bot's answer.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Response {
    /// Whether the request succeeded.
    pub ok: bool,
    /// The report or the error, for the operator.
    pub text: String,
}

/// The socket path for a data directory.
pub fn socket_path(data_dir: &Path) -> PathBuf {
    data_dir.join(SOCKET)
}

/// Serves requests until `cancel` fires.
pub async fn serve(
    data_dir: &Path,
    store: AsyncStore,
    defaults: SurveyDefaults,
    clock: Arc<dyn Clock>,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let path = socket_path(data_dir);
    // A socket file left by a killed bot would make bind fail; the data-directory lock
    // guarantees no other live bot owns it.
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .with_context(|| format!("cannot listen on {}", path.display()))?;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600))?;
    let group = peer::share_with_group(data_dir, &path).unwrap_or_else(|e| {
        warn!(error = %e, "control socket kept for the bot's own user");
        None
    });
    loop {
        let (stream, _) = tokio::select! {
            _ = cancel.cancelled() => break,
            r = listener.accept() => match r {
                Ok(s) => s,
                Err(e) => {
                    warn!(error = %e, "control socket accept failed");
                    continue;
                }
            },
        };
        let store = store.clone();
        let defaults = defaults.clone();
        let clock = clock.clone();
        tokio::spawn(async move {
            if let Err(e) = handle(stream, group, store, defaults, clock).await {
                warn!(error = %format!("{e:#}"), "control request failed");
            }
        });
    }
    let _ = std::fs::remove_file(&path);
    Ok(())
}

async fn handle(
    stream: tokio::net::UnixStream,
    group: Option<u32>,
    store: AsyncStore,
    defaults: SurveyDefaults,
    clock: Arc<dyn Clock>,
) -> anyhow::Result<()> {
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let peer = peer::peer(&stream)?;
    if !peer::admitted(&peer, me, group) {
        warn!(
            uid = peer.uid,
            "control request refused: not the bot's user, root or its group"
        );
        let mut out = serde_json::to_vec(&Response {
            ok: false,
            text: peer::refusal(group),
        })?;
        out.push(b'\n');
        let (_, mut write) = stream.into_split();
        write.write_all(&out).await?;
        return Ok(());
    }
    let (read, mut write) = stream.into_split();
    // Bytes, not a String, and at most MAX_REQUEST of them: a request that is not UTF-8 or
    // has no end still gets an answer, and cannot fill the memory (bad-input corpus).
    let mut line = Vec::new();
    tokio::time::timeout(
        READ_TIMEOUT,
        tokio::io::BufReader::new(read)
            .take(MAX_REQUEST)
            .read_until(b'\n', &mut line),
    )
    .await
    .context("no request within 10 s")??;
    let response = match serde_json::from_slice::<Request>(&line) {
        Err(_) if line.len() as u64 >= MAX_REQUEST => Response {
            ok: false,
            text: format!("malformed request: longer than {MAX_REQUEST} bytes"),
        },
        Err(e) => Response {
            ok: false,
            text: format!("malformed request: {e}"),
        },
        Ok(req) => {
            info!(request = ?req_name(&req), "control request");
            execute(req, &store, &defaults, clock.now()).await
        }
    };
    let mut out = serde_json::to_vec(&response)?;
    out.push(b'\n');
    write.write_all(&out).await?;
    Ok(())
}

fn req_name(r: &Request) -> &'static str {
    match r {
        Request::Check => "check",
        Request::Status => "status",
        Request::Backup { .. } => "backup",
        Request::Export { .. } => "export",
    }
}

async fn execute(
    req: Request,
    store: &AsyncStore,
    defaults: &SurveyDefaults,
    now: jiff::Timestamp,
) -> Response {
    let result = match req {
        Request::Status => {
            let lang = defaults.language;
            let tz = defaults.timezone.clone();
            store
                .run(move |s| {
                    let (participants, rounds) = (s.participants()?, s.rounds()?);
                    let mut ids: Vec<String> = rounds.iter().map(|r| r.survey_id.clone()).collect();
                    ids.sort();
                    ids.dedup();
                    let (consented, counts) = crate::admin::round_counts(&participants, &rounds);
                    Ok((
                        true,
                        crate::admin::render_offline_status(
                            &ids,
                            &[],
                            consented,
                            &counts,
                            &tz,
                            lang,
                        ),
                    ))
                })
                .await
        }
        Request::Check => store
            .run(|s| s.check())
            .await
            .map(|r| (r.is_ok(), r.to_string())),
        Request::Backup { dir } => store
            .run(move |s| {
                let counts = crate::store::backup(s, &dir)?;
                s.audit(jiff::Timestamp::now(), "cli", "store.backup", "")?;
                Ok((counts, dir))
            })
            .await
            .map(|(counts, dir)| (true, backup_summary(&counts, &dir))),
        Request::Export {
            request,
            survey_file,
        } => {
            let survey = match crate::survey::load_file(&survey_file, defaults) {
                Ok(s) => s,
                Err(ds) => {
                    return Response {
                        ok: false,
                        text: ds
                            .iter()
                            .map(|d| d.to_string())
                            .collect::<Vec<_>>()
                            .join("\n"),
                    };
                }
            };
            let result = store
                .run(move |s| {
                    Ok(
                        crate::services::export::export(s, &survey, &request, "cli", now)
                            .map_err(|e| e.to_string()),
                    )
                })
                .await;
            return match result {
                Ok(Ok(bytes)) => Response {
                    ok: true,
                    text: String::from_utf8_lossy(&bytes).into_owned(),
                },
                Ok(Err(e)) => Response { ok: false, text: e },
                Err(e) => Response {
                    ok: false,
                    text: e.to_string(),
                },
            };
        }
    };
    match result {
        Ok((ok, text)) => Response { ok, text },
        Err(e) => Response {
            ok: false,
            text: e.to_string(),
        },
    }
}

/// The operator-facing summary of a backup.
pub fn backup_summary(
    counts: &std::collections::BTreeMap<&'static str, u64>,
    dir: &Path,
) -> String {
    let total: u64 = counts.values().sum();
    format!(
        "backup written to {} ({total} values in {} tables, still encrypted: restore with the same passphrase)",
        dir.display(),
        counts.len()
    )
}

/// Sends one request to the bot running on `data_dir` (blocking; for the CLI).
pub fn request(data_dir: &Path, req: &Request) -> anyhow::Result<Response> {
    let path = socket_path(data_dir);
    let mut stream = match UnixStream::connect(&path) {
        Ok(s) => s,
        Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
            anyhow::bail!(peer::denied_message(data_dir, &path))
        }
        Err(e) => {
            return Err(e).with_context(|| {
                format!(
                    "the store is in use, but the running bot does not answer on {}",
                    path.display()
                )
            });
        }
    };
    stream.set_read_timeout(Some(Duration::from_secs(600)))?;
    let mut line = serde_json::to_vec(req)?;
    line.push(b'\n');
    // A bot that refuses the peer answers at once and hangs up, so the write may fail while
    // its answer waits to be read.
    let written = stream.write_all(&line);
    let mut reply = String::new();
    let read = BufReader::new(stream).read_line(&mut reply);
    if reply.is_empty() {
        written?;
        read?;
    }
    serde_json::from_str(&reply).context("the bot's answer is malformed")
}

#[path = "control_peer.rs"]
mod peer;

/// The CLI's message when the kernel refuses it the control socket of `data_dir`.
pub fn denied_message(data_dir: &Path) -> String {
    peer::denied_message(data_dir, &socket_path(data_dir))
}

#[cfg(test)]
#[path = "control_corpus.rs"]
mod corpus;
