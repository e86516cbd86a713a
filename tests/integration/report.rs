//! The HTML report in a real browser: Debian's headless `chromium` (installed by
//! `scripts/test.sh`) opens the report of the fixed data set, lays it out, and the test checks
//! that the charts are drawn at a readable size and the key numbers are on the page.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use pulsebot::export::{Format, render};
use pulsebot::lang::Lang;

/// Chromium's first start in a fresh profile can take a while on a busy machine.
const BROWSER_WAIT: Duration = Duration::from_secs(90);

fn chromium() -> PathBuf {
    for dir in std::env::var("PATH").unwrap_or_default().split(':') {
        for name in ["chromium", "chromium-browser"] {
            let p = Path::new(dir).join(name);
            if p.is_file() {
                return p;
            }
        }
    }
    panic!(
        "chromium is not installed: run scripts/test.sh, which installs Debian's `chromium` \
         (or `apt-get install chromium` as root)"
    );
}

/// What chromium printed and how it ended.
struct Browsed {
    ok: bool,
    stdout: String,
    stderr: String,
}

/// Runs headless chromium with `args` on `url`, offline-minded, with its own profile.
/// Output goes to files: a DOM larger than the pipe buffer would block chromium while this
/// process waits for it to exit.
fn browse(profile: &Path, args: &[String], url: &str) -> Browsed {
    let out_path = profile.with_extension("stdout");
    let err_path = profile.with_extension("stderr");
    let mut child = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(File::create(&out_path).expect("stdout file"))
        .stderr(File::create(&err_path).expect("stderr file"))
        .spawn()
        .expect("chromium starts");
    let start = Instant::now();
    let read =
        |p: &Path| String::from_utf8_lossy(&std::fs::read(p).unwrap_or_default()).into_owned();
    loop {
        match child.try_wait().expect("wait for chromium") {
            Some(status) => {
                return Browsed {
                    ok: status.success(),
                    stdout: read(&out_path),
                    stderr: read(&err_path),
                };
            }
            None if start.elapsed() > BROWSER_WAIT => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "chromium did not finish in {BROWSER_WAIT:?}: {}",
                    read(&err_path)
                );
            }
            None => std::thread::sleep(Duration::from_millis(100)),
        }
    }
}

/// Appended to a copy of the report (the report itself has no scripts): after layout, writes
/// every chart's rendered size and the count of its drawn text into the page, for `--dump-dom`.
const PROBE: &str = r#"<script>
window.addEventListener('load', () => {
  const boxes = [...document.querySelectorAll('svg.chart')].map(s => {
    const r = s.getBoundingClientRect();
    return [Math.round(r.width), Math.round(r.height), s.querySelectorAll('text').length,
            s.getAttribute('aria-label')];
  });
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.textContent = JSON.stringify({width: window.innerWidth, charts: boxes});
  document.body.appendChild(pre);
});
</script>
</body>"#;

#[test]
fn html_report_opens_in_chromium_with_its_charts_and_numbers() {
    let report = pulsebot::stats::fixture::report(false).expect("fixture report");
    let html =
        String::from_utf8(render(&report, Format::Html, Lang::De).expect("html")).expect("utf-8");
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("bericht.html");
    std::fs::write(&page, &html).expect("write report");
    let probe = dir.path().join("probe.html");
    std::fs::write(&probe, html.replacen("</body>", PROBE, 1)).expect("write probe");
    let profile = dir.path().join("profile");

    // A laptop screen.
    let out = browse(
        &profile,
        &["--window-size=1366,800".into(), "--dump-dom".into()],
        &format!("file://{}", probe.display()),
    );
    let dom = out.stdout;
    assert!(
        out.ok && dom.contains("</html>"),
        "chromium failed: {}",
        out.stderr
    );
    let json = dom
        .split("<pre id=\"probe\">")
        .nth(1)
        .and_then(|s| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no probe output in the DOM:\n{dom}"));
    let probe: serde_json::Value = serde_json::from_str(
        &json
            .replace("&quot;", "\"")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&"),
    )
    .expect("probe JSON");
    let charts = probe["charts"].as_array().expect("charts");
    // The fixture draws: SUS per round; in rounds 1 and 2 SUS and SEQ side by side and
    // UEQ-S; in round 3 (3 responses) only participation. Participation of rounds 1 and 2
    // and every 0–10 distribution are withheld (small cells), so they are notices, not charts.
    let names: Vec<&str> = charts.iter().map(|c| c[3].as_str().unwrap_or("")).collect();
    let side = [
        "SUS",
        "SEQ „Eine Datei senden“",
        "UEQ-S: Nutzererlebnis (−3 bis +3) mit Bewertungsbereichen",
    ];
    let mut expected = vec!["SUS-Wert je Runde und System (0–100)"];
    expected.extend(side);
    expected.extend(side);
    // The report keeps "95 %" and "in %" together with a no-break space.
    expected.push("Beteiligung (Anteil in\u{a0}%)");
    assert_eq!(names, expected, "charts drawn: {charts:?}");
    assert_eq!(html.matches("<svg").count(), expected.len());
    for c in charts {
        let (w, h, texts) = (
            c[0].as_i64().unwrap_or(0),
            c[1].as_i64().unwrap_or(0),
            c[2].as_i64().unwrap_or(0),
        );
        // Laid out across the text column, tall enough to read, with labels drawn.
        assert!((600..=1000).contains(&w), "chart width {w}: {c}");
        assert!(h >= 100, "chart height {h}: {c}");
        assert!(texts >= 5, "chart without labels: {c}");
    }
    // Key numbers a council member looks for, as the browser holds them.
    for needle in [
        "74,2 · n = 21",
        "63,1 · n = 16",
        "BundesMessenger liegt 10,6 Punkte über Webex",
        "Note B, akzeptabel",
        "unterdrückt: weniger als 5 Antworten",
        "Abbildung unterdrückt",
    ] {
        assert!(dom.contains(needle), "`{needle}` missing from the page");
    }

    // And a picture of it (kept if PULSEBOT_REPORT_SCREENSHOT names a file, for review).
    let png = dir.path().join("bericht.png");
    let out = browse(
        &profile,
        &[
            "--window-size=1366,2400".into(),
            format!("--screenshot={}", png.display()),
        ],
        &format!("file://{}", page.display()),
    );
    assert!(out.ok, "{}", out.stderr);
    let bytes = std::fs::read(&png).expect("screenshot written");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
    // A blank page of this size compresses to a few KB; charts, bands and text do not.
    assert!(
        bytes.len() > 60_000,
        "screenshot suspiciously empty: {} bytes",
        bytes.len()
    );
    if let Ok(keep) = std::env::var("PULSEBOT_REPORT_SCREENSHOT") {
        std::fs::copy(&png, keep).expect("copy screenshot");
    }
}
