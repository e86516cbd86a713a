//! The config-file part of the bad-input corpus (issue 14, item 7); the rest is in
//! `core/tests/bad_input.rs` and `src/control_corpus.rs`.
//!
//! Each case is a config text (or a file on disk) and the first problem it must produce:
//! the dotted key, the `line:column` (where the problem sits at a value of the file; `None`
//! for what is missing or for the file as a whole) and a phrase of the message. Every
//! problem is also checked to render as `FILE[:LINE:COL]: [key `…`: ]message`, and no case
//! may panic. The test prints `corpus: config files: <n> cases`.
//! A property test feeds random and mutated config texts to the parser.

use std::path::{Path, PathBuf};

use proptest::prelude::*;

use super::*;

const FILE: &str = "/etc/pulsebot/config.toml";

/// A valid config: `[matrix]` on line 1, `[bot]` on line 5.
const BASE: &str = "[matrix]\nhomeserver = \"http://127.0.0.1:8008\"\nuser = \"@pulsebot:localhost\"\n\n[bot]\nadmins = [\"@admin:localhost\"]\npilot_rooms = [\"#pilot:localhost\"]\n";

fn with_secrets() -> SecretOverrides {
    SecretOverrides {
        password: Some(Secret::new("pw")),
        access_token: None,
        passphrase: Some(Secret::new("a long passphrase")),
    }
}

fn no_passphrase() -> SecretOverrides {
    SecretOverrides {
        password: None,
        access_token: None,
        passphrase: None,
    }
}

/// `extra` appended after the base (starting on line 9, after an empty line 8).
fn plus(extra: &str) -> String {
    format!("{BASE}\n{extra}\n")
}

/// The base with `from` replaced by `to`.
fn with(from: &str, to: &str) -> String {
    assert!(BASE.contains(from), "{from}");
    BASE.replacen(from, to, 1)
}

struct Case {
    name: &'static str,
    text: String,
    secrets: SecretOverrides,
    /// The dotted key of the first problem (`None`: a file-level problem).
    key: Option<&'static str>,
    /// Its position, where the file has one.
    at: Option<(usize, usize)>,
    says: &'static str,
}

fn c(
    name: &'static str,
    text: String,
    key: Option<&'static str>,
    at: Option<(usize, usize)>,
    says: &'static str,
) -> Case {
    Case {
        name,
        text,
        secrets: with_secrets(),
        key,
        at,
        says,
    }
}

fn text_cases(dir: &Path) -> Vec<Case> {
    let secret = |name: &str, content: &[u8]| {
        let p = dir.join(name);
        std::fs::write(&p, content).expect("write secret");
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        }
        p.display().to_string()
    };
    let empty = secret("empty", b"\n\n");
    let example = secret("example", b"change-me\n");
    let latin1 = secret("latin1", b"gr\xfc\xdf\n");
    let missing = dir.join("missing").display().to_string();
    let open_to_all = secret("open-to-all", b"a long passphrase\n");
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&open_to_all, std::fs::Permissions::from_mode(0o644))
            .expect("chmod");
    }
    let folder = dir.display().to_string();
    let passphrase = |file: &str| plus(&format!("[store]\npassphrase_file = \"{file}\""));
    let own = |mut case: Case| {
        case.secrets = no_passphrase();
        case
    };
    let big_notice = plus(&format!(
        "[notice]\nde = \"{}\"\nen = \"x\"\nfr = \"y\"",
        "Datenschutz ".repeat(100_000)
    ));
    vec![
        // --- the file as a whole
        c(
            "empty file",
            String::new(),
            Some("matrix"),
            None,
            "missing: the [matrix] table",
        ),
        c(
            "yaml instead of toml",
            "matrix:\n  user: x\n".into(),
            None,
            Some((1, 7)),
            "expected",
        ),
        c(
            "json instead of toml",
            "{\"matrix\": {}}".into(),
            None,
            Some((1, 1)),
            "invalid",
        ),
        c(
            "key defined twice",
            with("user = ", "user = \"@a:localhost\"\nuser = "),
            Some("matrix.user"),
            Some((4, 1)),
            "duplicate key",
        ),
        c(
            "table defined twice",
            plus("[matrix]\nuser = \"@b:localhost\""),
            Some("matrix"),
            Some((9, 1)),
            "duplicate key",
        ),
        c(
            "unclosed string",
            with("\"http://127.0.0.1:8008\"", "\"http://127.0.0.1:8008"),
            Some("matrix.homeserver"),
            Some((2, 36)),
            "invalid basic string",
        ),
        c(
            "unknown table",
            plus("[matirx]\nuser = \"x\""),
            Some("matirx"),
            Some((9, 2)),
            "unknown field `matirx`",
        ),
        c(
            "bot table missing",
            BASE.split("[bot]").next().unwrap_or_default().to_owned(),
            Some("bot"),
            None,
            "missing: the [bot] table",
        ),
        // --- [matrix]
        c(
            "homeserver missing",
            with("homeserver = \"http://127.0.0.1:8008\"\n", ""),
            Some("matrix.homeserver"),
            None,
            "missing: the homeserver's URL",
        ),
        c(
            "homeserver without scheme",
            with("http://127.0.0.1:8008", "matrix.example.org"),
            Some("matrix.homeserver"),
            Some((2, 14)),
            "is not a URL",
        ),
        c(
            "homeserver ftp",
            with("http://127.0.0.1:8008", "ftp://matrix.example.org"),
            Some("matrix.homeserver"),
            Some((2, 14)),
            "is not an http(s) URL",
        ),
        c(
            "homeserver a number",
            with("\"http://127.0.0.1:8008\"", "8008"),
            Some("matrix.homeserver"),
            Some((2, 14)),
            "invalid type: integer",
        ),
        c(
            "user missing",
            with("user = \"@pulsebot:localhost\"\n", ""),
            Some("matrix.user"),
            None,
            "missing: the bot's full Matrix id",
        ),
        c(
            "user without @",
            with("@pulsebot:localhost", "pulsebot:localhost"),
            Some("matrix.user"),
            Some((3, 8)),
            "malformed Matrix id `pulsebot:localhost`",
        ),
        c(
            "user without server",
            with("@pulsebot:localhost", "@pulsebot"),
            Some("matrix.user"),
            Some((3, 8)),
            "malformed Matrix id `@pulsebot`",
        ),
        c(
            "user empty",
            with("@pulsebot:localhost", ""),
            Some("matrix.user"),
            Some((3, 8)),
            "malformed Matrix id ``",
        ),
        c(
            "device_name a list",
            with("[matrix]\n", "[matrix]\ndevice_name = [\"a\"]\n"),
            Some("matrix.device_name"),
            Some((2, 15)),
            "invalid type: sequence",
        ),
        Case {
            // With the password from the environment the file is never read: only without.
            secrets: SecretOverrides {
                password: None,
                access_token: None,
                passphrase: Some(Secret::new("a long passphrase")),
            },
            ..c(
                "password file missing",
                with(
                    "[matrix]\n",
                    &format!("[matrix]\npassword_file = \"{missing}\"\n"),
                ),
                Some("matrix.password_file"),
                Some((2, 17)),
                "cannot read the secret file",
            )
        },
        // --- [bot]
        c(
            "admins empty",
            with("[\"@admin:localhost\"]", "[]"),
            Some("bot.admins"),
            None,
            "missing: at least one admin",
        ),
        c(
            "admins a string",
            with("[\"@admin:localhost\"]", "\"@admin:localhost\""),
            Some("bot.admins"),
            Some((6, 10)),
            "invalid type: string",
        ),
        c(
            "admin is a room",
            with("@admin:localhost", "!room:localhost"),
            Some("bot.admins"),
            Some((6, 11)),
            "malformed Matrix id `!room:localhost`",
        ),
        c(
            "admin misspelled key",
            with("admins =", "admin ="),
            Some("bot.admin"),
            Some((6, 1)),
            "unknown field `admin`",
        ),
        c(
            "pilot room a user",
            with("#pilot:localhost", "@alice:localhost"),
            Some("bot.pilot_rooms"),
            Some((7, 16)),
            "malformed room `@alice:localhost`",
        ),
        c(
            "pilot room without server",
            with("#pilot:localhost", "#pilot"),
            Some("bot.pilot_rooms"),
            Some((7, 16)),
            "malformed room `#pilot`",
        ),
        c(
            "admin room a number",
            plus("").replace("pilot_rooms", "admin_room = 5\npilot_rooms"),
            Some("bot.admin_room"),
            Some((7, 14)),
            "invalid type: integer",
        ),
        c(
            "ignore_users bad",
            plus("").replace("pilot_rooms", "ignore_users = [\"bot\"]\npilot_rooms"),
            Some("bot.ignore_users"),
            Some((7, 17)),
            "malformed Matrix id `bot`",
        ),
        c(
            "language french",
            plus("").replace("pilot_rooms", "default_language = \"fr\"\npilot_rooms"),
            Some("bot.default_language"),
            Some((7, 20)),
            "`fr` is not a supported language",
        ),
        c(
            "time zone invented",
            plus("").replace("pilot_rooms", "timezone = \"Mars/Olympus\"\npilot_rooms"),
            Some("bot.timezone"),
            Some((7, 12)),
            "unknown time zone `Mars/Olympus`",
        ),
        c(
            "time zone a number",
            plus("").replace("pilot_rooms", "timezone = 1\npilot_rooms"),
            Some("bot.timezone"),
            Some((7, 12)),
            "invalid type: integer",
        ),
        // --- numbers
        c(
            "min group size 1",
            plus("[privacy]\nmin_group_size = 1"),
            Some("privacy.min_group_size"),
            Some((10, 18)),
            "1 is out of range: give a whole number from 2 to 1000",
        ),
        c(
            "min group size a string",
            plus("[privacy]\nmin_group_size = \"5\""),
            Some("privacy.min_group_size"),
            Some((10, 18)),
            "invalid type: string",
        ),
        c(
            "min group size a float",
            plus("[privacy]\nmin_group_size = 5.0"),
            Some("privacy.min_group_size"),
            Some((10, 18)),
            "invalid type: floating point",
        ),
        c(
            "retention zero",
            plus("[privacy]\nretention_days = 0"),
            Some("privacy.retention_days"),
            Some((10, 18)),
            "from 1 to 3650",
        ),
        c(
            "retention huge",
            plus("[privacy]\nretention_days = 99999999999"),
            Some("privacy.retention_days"),
            Some((10, 18)),
            "out of range",
        ),
        c(
            "retention beyond i64",
            plus("[privacy]\nretention_days = 99999999999999999999"),
            Some("privacy.retention_days"),
            Some((10, 18)),
            "number too large",
        ),
        c(
            "timeline limit zero",
            plus("[sync]\ntimeline_limit = 0"),
            Some("sync.timeline_limit"),
            Some((10, 18)),
            "from 1 to 1000",
        ),
        c(
            "sync timeout too long",
            plus("[sync]\ntimeout_secs = 301"),
            Some("sync.timeout_secs"),
            Some((10, 16)),
            "from 1 to 300",
        ),
        c(
            "undecryptable negative",
            plus("[sync]\nundecryptable_timeout_secs = -5"),
            Some("sync.undecryptable_timeout_secs"),
            Some((10, 30)),
            "-5 is out of range",
        ),
        c(
            "sync unknown key",
            plus("[sync]\nbatch = 5"),
            Some("sync.batch"),
            Some((10, 1)),
            "unknown field `batch`",
        ),
        // --- other tables
        c(
            "metrics host only",
            plus("[metrics]\nlisten = \"localhost\""),
            Some("metrics.listen"),
            Some((10, 10)),
            "not an address with port",
        ),
        c(
            "metrics without port",
            plus("[metrics]\nlisten = \"127.0.0.1\""),
            Some("metrics.listen"),
            Some((10, 10)),
            "not an address with port",
        ),
        c(
            "metrics false",
            plus("[metrics]\nlisten = false"),
            Some("metrics.listen"),
            Some((10, 10)),
            "invalid type: boolean",
        ),
        c(
            "notice a number",
            plus("[notice]\nde = 1"),
            Some("notice.de"),
            Some((10, 6)),
            "invalid type: integer",
        ),
        c(
            "notice 1.2 MB with a french key",
            big_notice,
            Some("notice.fr"),
            Some((12, 1)),
            "unknown field `fr`",
        ),
        c(
            "store path a number",
            plus("[store]\npath = 1"),
            Some("store.path"),
            Some((10, 8)),
            "invalid type: integer",
        ),
        c(
            "surveys dir a list",
            plus("[surveys]\ndir = []"),
            Some("surveys.dir"),
            Some((10, 7)),
            "invalid type: sequence",
        ),
        // --- secrets
        own(c(
            "passphrase not configured",
            BASE.into(),
            Some("store.passphrase_file"),
            None,
            "or the environment variable PULSEBOT_STORE_PASSPHRASE",
        )),
        own(c(
            "passphrase file missing",
            passphrase(&missing),
            Some("store.passphrase_file"),
            Some((10, 19)),
            "create it (mode 0600) or set PULSEBOT_STORE_PASSPHRASE",
        )),
        own(c(
            "passphrase file empty",
            passphrase(&empty),
            Some("store.passphrase_file"),
            Some((10, 19)),
            "is empty",
        )),
        own(c(
            "passphrase is the example",
            passphrase(&example),
            Some("store.passphrase_file"),
            Some((10, 19)),
            "the passphrase is the example placeholder",
        )),
        own(c(
            "passphrase file not UTF-8",
            passphrase(&latin1),
            Some("store.passphrase_file"),
            Some((10, 19)),
            "cannot read the secret file",
        )),
        own(c(
            "passphrase file readable by everyone",
            passphrase(&open_to_all),
            Some("store.passphrase_file"),
            Some((10, 19)),
            "may be read or changed by other users (mode 0644); run `chmod 600",
        )),
        own(c(
            "passphrase file a directory",
            passphrase(&folder),
            Some("store.passphrase_file"),
            Some((10, 19)),
            "cannot read the secret file",
        )),
    ]
}

fn check(c: &Case) -> Result<(), String> {
    let parsed = std::panic::catch_unwind(|| Config::parse(Path::new(FILE), &c.text, &c.secrets))
        .map_err(|_| "PANIC".to_owned())?;
    let e = match parsed {
        Ok(_) => return Err("accepted".into()),
        Err(e) => e,
    };
    let shown = e.to_string();
    let first = &e.problems[0];
    let prefix = match first.position {
        Some((l, col)) => format!("{FILE}:{l}:{col}: "),
        None => format!("{FILE}: "),
    };
    let ok = first.key.as_deref() == c.key
        && first.position == c.at
        && first.message.contains(c.says)
        && shown.starts_with(&prefix)
        && !shown.contains("Some(");
    if ok {
        Ok(())
    } else {
        Err(format!(
            "expected key {:?} at {:?} containing {:?}, got key {:?} at {:?}: {}",
            c.key,
            c.at,
            c.says,
            first.key,
            first.position,
            shown.chars().take(300).collect::<String>()
        ))
    }
}

#[test]
fn config_corpus() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = text_cases(dir.path());
    let mut failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check(c).err().map(|e| format!("{}: {e}", c.name)))
        .collect();
    // Files that cannot be read at all: named, with what to do.
    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(&latin1, b"[matrix]\nuser = \"@b\xfc:localhost\"\n").expect("write");
    let file_cases: [(&str, PathBuf); 3] = [
        ("config not UTF-8", latin1),
        ("config missing", dir.path().join("nope.toml")),
        ("config is a directory", dir.path().to_path_buf()),
    ];
    for (name, path) in &file_cases {
        match Config::load_with(path, &with_secrets()) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(e) => {
                let shown = e.to_string();
                if !shown.starts_with(&format!("{}: cannot read the config file", path.display()))
                    || !shown.contains("Pass --config FILE")
                {
                    failures.push(format!("{name}: {shown}"));
                }
            }
        }
    }
    println!(
        "corpus: config files: {} cases ({} texts, {} files)",
        cases.len() + file_cases.len(),
        cases.len(),
        file_cases.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() + file_cases.len() >= 30);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary text: no panic; every problem of a refusal carries a message, and a
    /// position only where it points into the text.
    #[test]
    fn fuzz_config_text(text in "\\PC{0,200}") {
        if let Err(e) = Config::parse(Path::new(FILE), &text, &with_secrets()) {
            prop_assert!(!e.problems.is_empty());
            for p in &e.problems {
                prop_assert!(!p.message.is_empty());
                if let Some((l, _)) = p.position {
                    prop_assert!(l >= 1 && l <= text.lines().count() + 1);
                }
            }
        }
    }

    /// The valid config with one line deleted, duplicated or cut: no panic, and a refusal
    /// names a key or a position for each problem.
    #[test]
    fn fuzz_config_mutations(line in 0usize..12, how in 0u8..3, cut in 0usize..40) {
        let mut lines: Vec<String> = plus("[privacy]\nmin_group_size = 7\n[sync]\ntimeout_secs = 20")
            .lines()
            .map(str::to_owned)
            .collect();
        let i = line % lines.len();
        match how {
            0 => { lines.remove(i); }
            1 => { let l = lines[i].clone(); lines.insert(i, l); }
            _ => { lines[i] = lines[i].chars().take(cut).collect(); }
        }
        if let Err(e) = Config::parse(Path::new(FILE), &lines.join("\n"), &with_secrets()) {
            for p in &e.problems {
                prop_assert!(p.key.is_some() || p.position.is_some(), "{e}");
            }
        }
    }
}
