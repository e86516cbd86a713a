//! The control-socket part of the bad-input corpus (issue 14, item 7); the rest is in
//! `core/tests/bad_input.rs` and `src/config_corpus.rs`.
//!
//! Each case sends raw bytes to the request handler over a socket pair (the same code path
//! as the real socket, with a real store in a temporary directory) and checks the one JSON
//! response line: `ok` and a phrase of its text. No case may panic or go unanswered. The test
//! prints `corpus: control requests: <n> cases`.

use std::sync::Arc;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::*;
use crate::export::{Format, request::Rounds};
use crate::lang::Lang;
use crate::services::export::ExportRequest;
use crate::store::Passphrase;

/// A request as the CLI would send it, as one line.
fn line(req: &Request) -> Vec<u8> {
    let mut v = serde_json::to_vec(req).expect("a request serializes");
    v.push(b'\n');
    v
}

fn export(survey_file: PathBuf) -> Request {
    Request::Export {
        request: ExportRequest {
            survey: "pulse".into(),
            rounds: Rounds::All,
            format: Format::Json,
            include_text: false,
            lang: Lang::De,
            distributions: Default::default(),
        },
        survey_file,
    }
}

/// Sends `bytes` (then closes the writing side) and returns the response.
async fn ask(store: &AsyncStore, bytes: Vec<u8>) -> Result<Response, String> {
    let (client, server) = tokio::net::UnixStream::pair().map_err(|e| e.to_string())?;
    let handler = tokio::spawn(handle(
        server,
        None,
        store.clone(),
        SurveyDefaults::default(),
        Arc::new(crate::clock::SystemClock),
    ));
    let (mut read, mut write) = client.into_split();
    // The handler may answer (and hang up) before a huge request is written; the writer's
    // broken pipe is then expected, so it runs on its own.
    let writer = tokio::spawn(async move {
        let _ = write.write_all(&bytes).await;
        let _ = write.shutdown().await;
    });
    let mut reply = Vec::new();
    // After answering a request it stopped reading, the handler hangs up with bytes unread,
    // which resets the connection: what arrived before the reset is the answer.
    if let Err(e) = read.read_to_end(&mut reply).await
        && reply.is_empty()
    {
        return Err(e.to_string());
    }
    let _ = writer.await;
    match handler.await {
        Err(e) => return Err(format!("handler panicked: {e}")),
        Ok(Err(e)) => return Err(format!("handler failed: {e:#}")),
        Ok(Ok(())) => {}
    }
    if !reply.ends_with(b"\n") || reply.iter().filter(|b| **b == b'\n').count() != 1 {
        return Err(format!(
            "not one response line: {:?}",
            String::from_utf8_lossy(&reply)
        ));
    }
    serde_json::from_slice(&reply).map_err(|e| format!("response is not JSON: {e}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_request_corpus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = AsyncStore::open(
        dir.path().join("store"),
        Passphrase::new("korrekt Pferd Batterie Heftklammer").expect("non-empty"),
    )
    .await
    .expect("open store");
    let broken = dir.path().join("broken.toml");
    std::fs::write(&broken, "id = \"pulse\"\ntitle = 5\n").expect("write");
    let pulse = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("surveys/pulse.toml");
    let full = dir.path().join("full");
    std::fs::create_dir(&full).expect("mkdir");
    std::fs::write(full.join("x"), "x").expect("write");
    let b = |s: &str| s.as_bytes().to_vec();
    let mut huge = b"{\"cmd\":\"status\",\"pad\":\"".to_vec();
    huge.extend(std::iter::repeat_n(b'x', 1024 * 1024));
    huge.extend(b"\"}\n");

    // (name, bytes sent, expected ok, phrase of the response text)
    let cases: Vec<(&str, Vec<u8>, bool, &str)> = vec![
        (
            "empty line",
            b("\n"),
            false,
            "malformed request: EOF while parsing",
        ),
        (
            "nothing at all",
            Vec::new(),
            false,
            "malformed request: EOF while parsing",
        ),
        ("empty object", b("{}\n"), false, "missing field `cmd`"),
        (
            "unknown command",
            b("{\"cmd\":\"delete_everything\"}\n"),
            false,
            "unknown variant `delete_everything`",
        ),
        (
            "command in capitals",
            b("{\"cmd\":\"CHECK\"}\n"),
            false,
            "unknown variant `CHECK`",
        ),
        (
            "command a number",
            b("{\"cmd\":1}\n"),
            false,
            "malformed request: invalid type",
        ),
        ("bare string", b("\"check\"\n"), false, "malformed request"),
        // serde's sequence form of the tagged enum: `["check"]` is the check request.
        ("array form", b("[\"check\"]\n"), true, "schema version"),
        ("null", b("null\n"), false, "malformed request"),
        (
            "truncated JSON",
            b("{\"cmd\":\"che\n"),
            false,
            "malformed request",
        ),
        (
            "trailing garbage",
            b("{\"cmd\":\"check\"} junk\n"),
            false,
            "trailing characters",
        ),
        (
            "two requests on one line",
            b("{\"cmd\":\"status\"}{\"cmd\":\"check\"}\n"),
            false,
            "trailing characters",
        ),
        ("NUL bytes", b("\0\0\0\n"), false, "malformed request"),
        (
            "not UTF-8",
            b"{\"cmd\":\"\xff\xfe\"}\n".to_vec(),
            false,
            "malformed request",
        ),
        (
            "1 MiB request",
            huge,
            false,
            "malformed request: longer than 65536 bytes",
        ),
        (
            "backup without dir",
            b("{\"cmd\":\"backup\"}\n"),
            false,
            "missing field `dir`",
        ),
        (
            "backup dir a number",
            b("{\"cmd\":\"backup\",\"dir\":5}\n"),
            false,
            "invalid type: integer",
        ),
        (
            "backup into a non-empty dir",
            line(&Request::Backup { dir: full.clone() }),
            false,
            "not empty",
        ),
        (
            "export without request",
            b("{\"cmd\":\"export\",\"survey_file\":\"x\"}\n"),
            false,
            "missing field `request`",
        ),
        (
            "export request empty",
            b("{\"cmd\":\"export\",\"request\":{},\"survey_file\":\"x\"}\n"),
            false,
            "missing field `survey`",
        ),
        (
            "export of a missing survey file",
            line(&export(dir.path().join("nope.toml"))),
            false,
            "cannot read the file",
        ),
        (
            "export of a broken survey file",
            line(&export(broken.clone())),
            false,
            "broken.toml:2:9: error: survey: `title`",
        ),
        (
            "export with no rounds",
            line(&export(pulse)),
            false,
            "pulse",
        ),
        // Defined no-ops and acceptances.
        (
            "unknown field ignored",
            b("{\"cmd\":\"status\",\"extra\":1}\n"),
            true,
            "",
        ),
        ("CRLF line end", b("{\"cmd\":\"check\"}\r\n"), true, ""),
        (
            "no line end before close",
            b("{\"cmd\":\"status\"}"),
            true,
            "",
        ),
    ];
    let mut failures = Vec::new();
    for (name, bytes, ok, says) in &cases {
        match ask(&store, bytes.clone()).await {
            Err(e) => failures.push(format!("{name}: {e}")),
            Ok(r) if r.ok != *ok || !r.text.contains(says) || (!r.ok && r.text.is_empty()) => {
                failures.push(format!(
                    "{name}: expected ok={ok} containing {says:?}, got ok={} {:?}",
                    r.ok,
                    r.text.chars().take(300).collect::<String>()
                ))
            }
            Ok(_) => {}
        }
    }
    println!("corpus: control requests: {} cases", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 15);
}
