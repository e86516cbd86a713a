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

/// The probe (the report itself has no scripts): after layout, `probe(w, d)` measures the
/// document `d` in window `w`: the viewport width, how wide the document is and which
/// elements stick out to the right (horizontal overflow), and for every chart on screen
/// (each chart exists wide and narrow; CSS shows one) its rendered size, its count of
/// drawn texts, the smallest text as drawn in CSS px (font size × the SVG's scale), how
/// many texts leave the chart's box, and its name. `out` writes the result into the page,
/// for `--dump-dom`.
const PROBE_FN: &str = r#"<script>
function probe(w, d) {
  const vw = w.innerWidth;
  const wide = [...d.body.querySelectorAll('*')]
    .filter(e => e.getBoundingClientRect().right > vw + 1)
    .slice(0, 5)
    .map(e => e.tagName + '.' + (e.getAttribute('class') || '') + ' ' +
         Math.round(e.getBoundingClientRect().right) + ' ' + e.textContent.slice(0, 60));
  const charts = [...d.querySelectorAll('svg.chart')]
    .filter(s => s.getBoundingClientRect().width > 0)
    .map(s => {
      const r = s.getBoundingClientRect();
      const texts = [...s.querySelectorAll('text')];
      const sizes = texts.map(t =>
        parseFloat(w.getComputedStyle(t).fontSize) * Math.abs(t.getScreenCTM().a || 1));
      const outside = texts.filter(t => {
        const b = t.getBoundingClientRect();
        return b.width > 0 && (b.left < r.left - 1 || b.right > r.right + 1);
      }).length;
      return [Math.round(r.width), Math.round(r.height), texts.length,
              s.getAttribute('aria-label'), Math.round(10 * Math.min(...sizes)) / 10, outside];
    });
  return { width: vw, scroll: d.documentElement.scrollWidth, overflow: wide, charts };
}
function out(result) {
  const pre = document.createElement('pre');
  pre.id = 'probe';
  pre.style.whiteSpace = 'pre-wrap';
  pre.style.wordBreak = 'break-all';
  pre.textContent = JSON.stringify(result);
  document.body.appendChild(pre);
}
</script>"#;

/// The report with the probe run on itself (a desktop window).
fn probed_page(html: &str) -> String {
    html.replacen(
        "</body>",
        &format!(
            "{PROBE_FN}<script>addEventListener('load', () => out(probe(window, document)));</script></body>"
        ),
        1,
    )
}

/// The report in a 390 px wide frame, probed from outside: headless chromium will not make
/// its window narrower than 500 px, but a frame is a viewport of its own (its media queries
/// see 390 px), and a `srcdoc` frame shares the page's origin, so the probe can measure it.
fn phone_page(html: &str) -> String {
    let doc = html.replace('&', "&amp;").replace('"', "&quot;");
    format!(
        "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"></head><body style=\"margin:0\">\
         <iframe id=\"phone\" width=\"390\" height=\"844\" style=\"border:0;display:block\" \
         srcdoc=\"{doc}\"></iframe>{PROBE_FN}<script>addEventListener('load', () => {{ \
         const f = document.getElementById('phone'); out(probe(f.contentWindow, f.contentDocument)); }});\
         </script></body></html>"
    )
}

/// Opens `page` at `width` × `height` and returns the probe's findings (and the DOM).
fn probe(profile: &Path, page: &Path, width: u32, height: u32) -> serde_json::Value {
    let out = browse(
        profile,
        &[
            format!("--window-size={width},{height}"),
            "--dump-dom".into(),
        ],
        &format!("file://{}", page.display()),
    );
    let dom = out.stdout;
    assert!(
        out.ok && dom.contains("</html>"),
        "chromium failed: {}",
        out.stderr
    );
    let json = dom
        .split("<pre id=\"probe\"")
        .nth(1)
        .and_then(|s| s.split_once('>'))
        .and_then(|(_, s)| s.split("</pre>").next())
        .unwrap_or_else(|| panic!("no probe output in the DOM:\n{dom}"));
    let mut probe: serde_json::Value = serde_json::from_str(
        &json
            .replace("&quot;", "\"")
            .replace("&nbsp;", "\u{a0}")
            .replace("&amp;", "&"),
    )
    .expect("probe JSON");
    probe["dom"] = serde_json::Value::String(dom);
    probe
}

#[test]
fn html_report_opens_in_chromium_with_its_charts_and_numbers() {
    let report = pulsebot::stats::fixture::report(false).expect("fixture report");
    let html =
        String::from_utf8(render(&report, Format::Html, Lang::De).expect("html")).expect("utf-8");
    let dir = tempfile::tempdir().expect("tempdir");
    let page = dir.path().join("bericht.html");
    std::fs::write(&page, &html).expect("write report");
    let desktop = dir.path().join("probe.html");
    std::fs::write(&desktop, probed_page(&html)).expect("write probe");
    let phone = dir.path().join("phone.html");
    std::fs::write(&phone, phone_page(&html)).expect("write phone probe");
    let profile = dir.path().join("profile");

    // The fixture draws (group rule, k = 5): SUS per round; participation in each round
    // (the audience of 40 is at least k); in rounds 1 and 2 SUS and SEQ side by side,
    // UEQ-S and the two 0–10 distributions; round 3 (3 responses) has no
    // answer figure, so its side-by-side charts are notices, not charts.
    let side = [
        "SUS",
        "SEQ „Eine Datei senden“",
        "UEQ-S: Nutzererlebnis (−3 bis +3) mit Bewertungsbereichen",
        "Verteilung 0–10: Wie wahrscheinlich ist es, dass Sie BundesMessenger einer Kollegin oder einem Kollegen empfehlen würden?",
        "Verteilung 0–10: Wie zufrieden sind Sie insgesamt?",
    ];
    // The report keeps "95 %" and "in %" together with a no-break space.
    let participation = "Beteiligung (Anteil in\u{a0}%)";
    let mut expected = vec!["SUS-Wert je Runde und System (0–100)"];
    for round in 1..=3 {
        expected.push(participation);
        if round < 3 {
            expected.extend(side);
        }
    }
    // Every chart is drawn twice (wide and narrow); one of them is on screen.
    assert_eq!(html.matches("<svg").count(), 2 * expected.len());

    // A laptop screen, then a phone (390 px, an iPhone 12–15's CSS width).
    for (page, window, width) in [(&desktop, (1366, 800), 1366), (&phone, (800, 900), 390)] {
        let probe = probe(&profile, page, window.0, window.1);
        let dom = probe["dom"].as_str().unwrap_or_default();
        assert_eq!(probe["width"].as_i64(), Some(i64::from(width)), "viewport");
        assert!(
            probe["scroll"].as_i64().unwrap_or(i64::MAX) <= i64::from(width),
            "{width} px: the page scrolls sideways; sticking out: {}",
            probe["overflow"]
        );
        assert_eq!(
            probe["overflow"].as_array().map(Vec::len),
            Some(0),
            "{width} px: elements wider than the screen: {}",
            probe["overflow"]
        );
        let charts = probe["charts"].as_array().expect("charts");
        let names: Vec<&str> = charts.iter().map(|c| c[3].as_str().unwrap_or("")).collect();
        assert_eq!(names, expected, "{width} px: charts drawn: {charts:?}");
        for c in charts {
            let (w, h, texts, smallest, outside) = (
                c[0].as_i64().unwrap_or(0),
                c[1].as_i64().unwrap_or(0),
                c[2].as_i64().unwrap_or(0),
                c[4].as_f64().unwrap_or(0.0),
                c[5].as_i64().unwrap_or(-1),
            );
            if width > 1000 {
                // Laid out across the text column.
                assert!((600..=1000).contains(&w), "chart width {w}: {c}");
            } else {
                assert!(
                    w <= i64::from(width) && w >= 300,
                    "chart width {w} at {width}: {c}"
                );
            }
            assert!(h >= 100, "chart height {h}: {c}");
            assert!(texts >= 5, "chart without labels: {c}");
            assert!(
                smallest >= 11.0,
                "{width} px: text drawn at {smallest} px: {c}"
            );
            assert_eq!(
                outside, 0,
                "{width} px: labels cut off at the chart's edge: {c}"
            );
        }
        // Key numbers a council member looks for, as the browser holds them.
        for needle in [
            "Zusammenfassung",
            "BundesMessenger liegt 12,2 Punkte über Webex",
            "Methode",
            "Rücklauf 19 von 40",
            "74,2 · n = 21",
            "63,1 · n = 16",
            "BundesMessenger liegt 10,6 Punkte über Webex",
            "Note B, akzeptabel",
            "SUS-Noten",
            "Täglich",
            "unterdrückt: weniger als 5 Antworten",
            "Abbildung unterdrückt",
        ] {
            // In the phone frame the report is the frame's `srcdoc`, escaped.
            let found = dom.contains(needle) || dom.contains(&needle.replace('"', "&quot;"));
            assert!(found, "`{needle}` missing from the page");
        }
    }

    // And pictures of it (kept if PULSEBOT_REPORT_SCREENSHOT names a file, for review; the
    // phone's first screen, in its 390 px frame, beside it as `<name>.phone.png`).
    let framed = dir.path().join("phone-shot.html");
    std::fs::write(&framed, phone_page(&html)).expect("write phone page");
    for (shown, size, keep_suffix) in [(&page, "1366,2400", ""), (&framed, "500,900", ".phone.png")]
    {
        let png = dir.path().join("bericht.png");
        let out = browse(
            &profile,
            &[
                format!("--window-size={size}"),
                format!("--screenshot={}", png.display()),
            ],
            &format!("file://{}", shown.display()),
        );
        assert!(out.ok, "{}", out.stderr);
        let bytes = std::fs::read(&png).expect("screenshot written");
        assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
        if keep_suffix.is_empty() {
            // A blank page of this size compresses to a few KB; charts, bands and text do not.
            assert!(
                bytes.len() > 60_000,
                "screenshot suspiciously empty: {} bytes",
                bytes.len()
            );
        }
        if let Ok(keep) = std::env::var("PULSEBOT_REPORT_SCREENSHOT") {
            std::fs::copy(&png, format!("{keep}{keep_suffix}")).expect("copy screenshot");
        }
    }
}
