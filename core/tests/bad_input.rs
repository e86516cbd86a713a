//! The bad-input corpus of issue 14 (item 7) for the pure core: survey files, chat answers
//! and DM commands, and import CSVs (with their mapping files). Config files and
//! control-socket requests live in the bot package (`src/config_corpus.rs`,
//! `src/control_corpus.rs`), event contents beside the classifier (`src/matrix/events.rs`).
//!
//! Every case is a row of a table: a name, the input, and the outcome it must have. For a
//! file the outcome is the message (a phrase it must contain) *and* the `line:column` it is
//! reported at; for a chat message the exact [`Answer`] or [`AnswerError`] (or [`Command`]);
//! for an import the error kind, the CSV line and column, and a phrase. No case may panic:
//! each table runs every row even after a failure and reports all mismatches at once.
//!
//! Counted by the tables themselves: each test asserts its minimum and prints
//! `corpus: <kind>: <n> cases` (see it with `--nocapture`). At the time of writing:
//! survey files 110 (106 texts, 4 files on disk), chat 120 (75 typed answers, 17 poll votes,
//! 28 commands), import 64; with config files 55 and control requests 26 in the bot
//! package, 375 cases. The older snapshot corpus `tests/surveys/broken` is not counted.
//!
//! The property tests at the end ("fuzz targets") run a bounded number of random inputs
//! through the answer parser, the command parser and the import parser (the survey parser's
//! live in `core/src/survey/tests.rs`; a mutation-based one is added here).

use std::path::PathBuf;

use proptest::prelude::*;
use pulsebot_core::conversation::Command;
use pulsebot_core::import::{self, ImportError};
use pulsebot_core::lang::Lang;
use pulsebot_core::model::AnswerValue;
use pulsebot_core::survey::{
    self, Answer, AnswerError, Diagnostic, Question, Survey, SurveyDefaults, answer_from_poll,
    parse_answer, parse_str,
};

fn defaults() -> SurveyDefaults {
    SurveyDefaults {
        pilot_rooms: vec!["#pilot:stadt.example".into()],
        ..SurveyDefaults::default()
    }
}

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// True if a text shown to a person looks like Rust's debug output leaked into it.
fn looks_like_debug(s: &str) -> bool {
    [
        "Some(", "None", "Ok(", "Err(", "::", "{ ", " }", "\\\"", "[\"",
    ]
    .iter()
    .any(|p| s.contains(p))
}

// =======================================================================================
// Survey files
// =======================================================================================

/// Three lines: a valid survey head.
const HEAD: &str =
    "id = \"c\"\ntitle = { de = \"T\", en = \"T\" }\nintro = { de = \"I\", en = \"I\" }\n";
/// A valid block appended where a case does not care about blocks.
const SUS: &str = "\n[[blocks]]\ntype = \"sus\"\nsubject = \"BM\"\n";

/// `extra` at the top level, starting on line 4.
fn top(extra: &str) -> String {
    format!("{HEAD}{extra}\n{SUS}")
}

/// `extra` inside `[schedule]`, starting on line 5.
fn sched(extra: &str) -> String {
    format!("{HEAD}[schedule]\n{extra}\n{SUS}")
}

/// `extra` as the body of the only block, starting on line 6.
fn block(extra: &str) -> String {
    format!("{HEAD}\n[[blocks]]\n{extra}\n")
}

/// A valid single-choice item with id `q1` (lines 6–9), then `extra` as a second block
/// (its body starting on line 12).
fn two(extra: &str) -> String {
    format!(
        "{HEAD}\n[[blocks]]\ntype = \"single\"\nid = \"q1\"\ntext = {{ de = \"F\", en = \"Q\" }}\noptions = [{{ id = \"a\", de = \"A\", en = \"A\" }}, {{ id = \"b\", de = \"B\", en = \"B\" }}]\n\n[[blocks]]\n{extra}\n"
    )
}

/// A survey case: the file, and the first diagnostic it must produce (position and phrase).
/// `line == 0` means a whole-file diagnostic.
struct SurveyCase {
    name: &'static str,
    text: String,
    line: usize,
    column: usize,
    says: &'static str,
}

fn s(name: &'static str, text: String, at: (usize, usize), says: &'static str) -> SurveyCase {
    SurveyCase {
        name,
        text,
        line: at.0,
        column: at.1,
        says,
    }
}

const OPTS: &str =
    "options = [{ id = \"a\", de = \"A\", en = \"A\" }, { id = \"b\", de = \"B\", en = \"B\" }]";

fn survey_cases() -> Vec<SurveyCase> {
    let long_id = "x".repeat(10_000);
    let huge_title = format!(
        "id = \"c\"\ntitle = {{ de = \"{}\", en = \"\" }}\nintro = {{ de = \"I\", en = \"I\" }}\n{SUS}",
        "T".repeat(200_000)
    );
    vec![
        // --- whole file and TOML syntax
        s("empty file", String::new(), (1, 1), "survey: `id` is missing"),
        s("only comments", "# nothing\n# here\n".into(), (1, 1), "survey: `id` is missing"),
        s("only whitespace", "  \n\t\n".into(), (1, 1), "survey: `id` is missing"),
        s("json instead of toml", "{\"id\": \"c\"}\n".into(), (1, 1), "TOML"),
        s("yaml instead of toml", "id: c\ntitle: T\n".into(), (1, 3), "TOML"),
        s("unclosed inline table", format!("{HEAD}[schedule]\nquiet_hours = {{ from = \"18:00\"\n"), (5, 31), "TOML"),
        s("unclosed array", top("audience = [\"#pilot:stadt.example\""), (6, 1), "TOML"),
        s("bare key with space", top("min group size = 5"), (4, 5), "TOML"),
        s("table defined twice", format!("{HEAD}[schedule]\nmanual = true\n[schedule]\nmanual = true\n{SUS}"), (6, 1), "TOML"),
        s("invalid escape", "id = \"c\\q\"\n".into(), (1, 10), "TOML"),
        s("leading zero number", top("min_group_size = 05"), (4, 19), "TOML"),
        s("nul byte in string", "id = \"c\0\"\n".into(), (1, 8), "TOML"),
        s("control char in key", top("mo\u{7}de = \"anonymous\""), (4, 3), "TOML"),
        s("byte order mark then junk", "\u{feff}id = = \"c\"\n".into(), (1, 7), "TOML"),
        // --- the survey's own keys
        s("id empty", format!("id = \"\"\n{}", &top("")[9..]), (1, 6), "id `` is empty"),
        s("id 10000 chars", format!("id = \"{long_id}\"\n{}", &top("")[9..]), (1, 6), "is longer than 40 characters"),
        s("id with dot", format!("id = \"a.b\"\n{}", &top("")[9..]), (1, 6), "contains a dot"),
        s("id starts with dash", format!("id = \"-a\"\n{}", &top("")[9..]), (1, 6), "may only use lower-case letters"),
        s("id with umlaut", format!("id = \"umfrage-ä\"\n{}", &top("")[9..]), (1, 6), "may only use lower-case letters"),
        s("id is a number", format!("id = 7\n{}", &top("")[9..]), (1, 6), "survey: `id` must be a string, found an integer"),
        s("title missing", format!("id = \"c\"\nintro = {{ de = \"I\", en = \"I\" }}\n{SUS}"), (1, 1), "survey: `title` is missing"),
        s("title 200k chars with empty en", huge_title, (2, 200025), "survey: `title.en` is empty"),
        s("title with french", "id = \"c\"\ntitle = { de = \"T\", en = \"T\", fr = \"T\" }\nintro = { de = \"I\", en = \"I\" }\n\n[[blocks]]\ntype = \"sus\"\nsubject = \"BM\"\n".into(), (2, 31), "survey: `title`: unknown key `fr`"),
        s("title translation is a number", "id = \"c\"\ntitle = { de = 1, en = \"T\" }\nintro = { de = \"I\", en = \"I\" }\n\n[[blocks]]\ntype = \"sus\"\nsubject = \"BM\"\n".into(), (2, 16), "`title.de` must be a string"),
        s("mode is a number", top("mode = 1"), (4, 8), "survey: `mode` must be a string"),
        s("mode in German", top("mode = \"anonym\""), (4, 8), "survey: unknown mode `anonym`"),
        s("min_group_size as string", top("min_group_size = \"5\""), (4, 18), "must be an integer, found a string"),
        s("min_group_size negative", top("min_group_size = -3"), (4, 18), "below the configured minimum 5"),
        s("min_group_size float", top("min_group_size = 5.5"), (4, 18), "must be an integer, found a float"),
        s("post_summary as string", top("post_summary = \"yes\""), (4, 16), "survey: `post_summary` must be a boolean"),
        s("audience a string", top("audience = \"#pilot:stadt.example\""), (4, 12), "survey: `audience` must be a list of rooms"),
        s("audience empty", top("audience = []"), (4, 12), "survey: `audience` is empty"),
        s("audience user id", top("audience = [\"@alice:stadt.example\"]"), (4, 13), "is not a Matrix room"),
        s("audience number entry", top("audience = [1]"), (4, 13), "survey: `audience` entry must be a string"),
        s("audience twice", top("audience = [\"#pilot:stadt.example\", \"#pilot:stadt.example\"]"), (4, 37), "is listed twice"),
        s("unknown root key near miss", top("titel = { de = \"T\", en = \"T\" }"), (4, 1), "survey: unknown key `titel`"),
        s("blocks as a string", top("blocks = \"sus\"").replace(SUS, ""), (4, 1), "survey: `blocks` must be a list of tables"),
        s("blocks empty list", top("blocks = []").replace(SUS, ""), (4, 10), "survey: `blocks` is empty"),
        s("block is a number", top("blocks = [1]").replace(SUS, ""), (4, 11), "survey: block 1 must be a table"),
        // --- blocks
        s("block without type", block("subject = \"BM\""), (5, 1), "block 1: `type` is missing"),
        s("block type number", block("type = 3"), (6, 8), "block 1: `type` must be a string"),
        s("instrument misspelled", block("type = \"suss\"\nsubject = \"BM\""), (6, 8), "unknown block type `suss`"),
        s("instrument upper case", block("type = \"SUS\"\nsubject = \"BM\""), (6, 8), "unknown block type `SUS`"),
        s("umux with underscore", block("type = \"umux_lite\"\nsubject = \"BM\""), (6, 8), "unknown block type `umux_lite`"),
        s("likert misspelled", block("type = \"likret\"\nid = \"q\""), (6, 8), "unknown block type `likret`"),
        s("instrument subject empty", block("type = \"nps\"\nsubject = \"\""), (7, 11), "block `nps`: `subject` is empty"),
        s("instrument subject number", block("type = \"ueq-s\"\nsubject = 5"), (7, 11), "`subject` must be a string"),
        s("instrument with text", block("type = \"umux-lite\"\nsubject = \"BM\"\ntext = { de = \"x\", en = \"x\" }"), (8, 1), "cannot be changed (`text`)"),
        s("nps with task", block("type = \"nps\"\nsubject = \"BM\"\ntask = { de = \"x\", en = \"x\" }"), (8, 1), "`task` only applies to `seq`"),
        s("instrument id with space", block("type = \"sus\"\nid = \"sus bm\"\nsubject = \"BM\""), (7, 6), "may only use lower-case letters"),
        s("custom item without text", block("type = \"text\"\nid = \"q\""), (5, 1), "item `q`: `text` is missing"),
        s("likert points as string", block("type = \"likert\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\npoints = \"5\""), (9, 10), "item `q`: `points` must be an integer"),
        s("likert 6 points", block("type = \"likert\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\npoints = 6"), (9, 10), "a likert item has 5 or 7 points, not 6"),
        s("single without options", block("type = \"single\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }"), (5, 1), "item `q`: `options` is missing"),
        s("options as a string", block("type = \"single\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\noptions = \"a, b\""), (9, 11), "`options` must be a list of options"),
        s("options empty", block("type = \"single\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\noptions = []"), (9, 11), "0 option(s), at least 2 are needed"),
        s("option is a string", block("type = \"single\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\noptions = [\"a\", \"b\"]"), (9, 12), "option 1 must be a table"),
        s("option without id", block("type = \"single\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\noptions = [{ de = \"A\", en = \"A\" }, { id = \"b\", de = \"B\", en = \"B\" }]"), (9, 12), "option 1: `id` is missing"),
        s("option label empty", block("type = \"single\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\noptions = [{ id = \"a\", de = \"\", en = \"A\" }, { id = \"b\", de = \"B\", en = \"B\" }]"), (9, 29), "option 1: `de` is empty"),
        s("option value string", block("type = \"single\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\noptions = [{ id = \"a\", de = \"A\", en = \"A\", value = \"1\" }, { id = \"b\", de = \"B\", en = \"B\" }]"), (9, 52), "option 1: `value` must be an integer"),
        s("option value huge", block("type = \"single\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\noptions = [{ id = \"a\", de = \"A\", en = \"A\", value = 9223372036854775807 }, { id = \"b\", de = \"B\", en = \"B\" }]"), (9, 52), "option 1: `value` is out of range"),
        s("multi max_selections zero", block(&format!("type = \"multi\"\nid = \"q\"\ntext = {{ de = \"F\", en = \"Q\" }}\n{OPTS}\nmax_selections = 0")), (10, 18), "`max_selections = 0` but there are 2 options"),
        s("multi max_selections string", block(&format!("type = \"multi\"\nid = \"q\"\ntext = {{ de = \"F\", en = \"Q\" }}\n{OPTS}\nmax_selections = \"2\"")), (10, 18), "`max_selections` must be an integer"),
        s("text max_length too large", block("type = \"text\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\nmax_length = 5001"), (9, 14), "`max_length = 5001` is out of range"),
        s("text max_length negative", block("type = \"text\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\nmax_length = -1"), (9, 14), "`max_length = -1` is out of range"),
        s("text with points", block("type = \"text\"\nid = \"q\"\ntext = { de = \"F\", en = \"Q\" }\npoints = 5"), (9, 1), "item `q`: unknown key `points`"),
        s("scale with options", block(&format!("type = \"scale\"\nid = \"q\"\ntext = {{ de = \"F\", en = \"Q\" }}\n{OPTS}")), (9, 1), "item `q`: unknown key `options`"),
        s("item id duplicates a block id", two("type = \"text\"\nid = \"q1\"\ntext = { de = \"F\", en = \"Q\" }"), (13, 6), "duplicate id `q1` (first used on line 7)"),
        // --- show_if
        s("show_if a string", two("type = \"text\"\nid = \"q2\"\ntext = { de = \"F\", en = \"Q\" }\nshow_if = \"q1 == a\""), (15, 11), "item `q2`: `show_if` must be a table"),
        s("show_if without item", two("type = \"text\"\nid = \"q2\"\ntext = { de = \"F\", en = \"Q\" }\nshow_if = { values = [\"a\"] }"), (15, 11), "`show_if` has no `item`"),
        s("show_if without values", two("type = \"text\"\nid = \"q2\"\ntext = { de = \"F\", en = \"Q\" }\nshow_if = { item = \"q1\" }"), (15, 11), "`show_if` has no `values`"),
        s("show_if values empty", two("type = \"text\"\nid = \"q2\"\ntext = { de = \"F\", en = \"Q\" }\nshow_if = { item = \"q1\", values = [] }"), (15, 35), "`show_if.values` is empty"),
        s("show_if values a string", two("type = \"text\"\nid = \"q2\"\ntext = { de = \"F\", en = \"Q\" }\nshow_if = { item = \"q1\", values = \"a\" }"), (15, 35), "`show_if.values` must be a list"),
        s("show_if item a number", two("type = \"text\"\nid = \"q2\"\ntext = { de = \"F\", en = \"Q\" }\nshow_if = { item = 1, values = [\"a\"] }"), (15, 20), "`show_if.item` must be a string"),
        s("show_if unknown key", two("type = \"text\"\nid = \"q2\"\ntext = { de = \"F\", en = \"Q\" }\nshow_if = { item = \"q1\", values = [\"a\"], equals = true }"), (15, 42), "`show_if`: unknown key `equals`"),
        s("show_if on instrument item out of range", format!("{HEAD}\n[[blocks]]\ntype = \"sus\"\nid = \"s\"\nsubject = \"BM\"\n\n[[blocks]]\ntype = \"text\"\nid = \"q2\"\ntext = {{ de = \"F\", en = \"Q\" }}\nshow_if = {{ item = \"s.11\", values = [\"1\"] }}\n"), (14, 20), "refers to unknown item `s.11`"),
        // --- schedule
        s("schedule a string", top("schedule = \"weekly\""), (4, 12), "`schedule` must be a table"),
        s("timezone a number", sched("timezone = 1"), (5, 12), "schedule: `timezone` must be a string"),
        s("timezone city only", sched("timezone = \"Berlin\""), (5, 12), "unknown time zone `Berlin`"),
        s("open_for negative", sched("manual = true\nopen_for = \"-3 days\""), (6, 12), "schedule: `open_for`"),
        s("open_for in words", sched("manual = true\nopen_for = \"three days\""), (6, 12), "cannot read duration `three days`"),
        s("open_for a date", sched("manual = true\nopen_for = 2025-01-01"), (6, 12), "schedule: `open_for`"),
        s("min_gap bad", sched("manual = true\nmin_gap = \"soon\""), (6, 11), "schedule: `min_gap`"),
        s("working_days a string", sched("manual = true\nworking_days = \"monday-friday\""), (6, 16), "`working_days` must be a list, found a string"),
        s("working_days twice", sched("manual = true\nworking_days = [\"monday\", \"monday\"]"), (6, 27), "lists `monday` twice"),
        s("working_days a date", sched("manual = true\nworking_days = [\"2025-03-04\"]"), (6, 17), "`2025-03-04` is not a weekday"),
        s("quiet_hours a string", sched("manual = true\nquiet_hours = \"18-8\""), (6, 15), "`quiet_hours` must be a table"),
        s("quiet_hours without to", sched("manual = true\nquiet_hours = { from = \"18:00\" }"), (6, 15), "needs both `from` and `to`"),
        s("quiet_hours hour 25", sched("manual = true\nquiet_hours = { from = \"25:00\", to = \"08:00\" }"), (6, 24), "`25:00` is not a time of day"),
        s("quiet_hours unknown key", sched("manual = true\nquiet_hours = { from = \"18:00\", to = \"08:00\", tz = \"UTC\" }"), (6, 47), "`quiet_hours`: unknown key `tz`"),
        s("reminders a list", sched("manual = true\nreminders = [\"1 day\"]"), (6, 13), "`reminders` must be a table"),
        s("reminders without after", sched("manual = true\nreminders = { }"), (6, 13), "`reminders` has no `after` list"),
        s("reminders.after a string", sched("manual = true\nreminders = { after = \"1 day\" }"), (6, 23), "`reminders.after` must be a list"),
        s("reminder a number", sched("manual = true\nreminders = { after = [1] }"), (6, 24), "schedule: reminder"),
        s("manual as string", sched("manual = \"yes\""), (5, 10), "`manual` must be a boolean"),
        s("manual false alone", sched("manual = false"), (5, 10), "`manual = false` but no start times"),
        s("at a string", sched("at = \"2025-03-04T10:00\""), (5, 6), "`at` must be a list"),
        s("at empty", sched("at = []"), (5, 6), "schedule: `at`"),
        s("at German date", sched("at = [\"04.03.2025 10:00\"]"), (5, 7), "is not a local date and time"),
        s("every a number", sched("every = 14\nweekday = \"tuesday\"\ntime = \"10:00\"\nstart = \"2025-03-04\""), (5, 9), "schedule: `every`"),
        s("every fortnightly", sched("every = \"fortnightly\"\nweekday = \"tuesday\"\ntime = \"10:00\"\nstart = \"2025-03-04\""), (5, 9), "cannot read duration `fortnightly`"),
        s("weekday werktags", sched("every = \"2 weeks\"\nweekday = \"werktags\"\ntime = \"10:00\"\nstart = \"2025-03-04\""), (6, 11), "`werktags` is not a weekday"),
        s("time with Uhr", sched("every = \"2 weeks\"\nweekday = \"tuesday\"\ntime = \"10 Uhr\"\nstart = \"2025-03-04\""), (7, 8), "`10 Uhr` is not a time of day"),
        s("start German date", sched("every = \"2 weeks\"\nweekday = \"tuesday\"\ntime = \"10:00\"\nstart = \"04.03.2025\""), (8, 9), "`04.03.2025` is not a date"),
        s("max_rounds zero", sched("every = \"2 weeks\"\nweekday = \"tuesday\"\ntime = \"10:00\"\nstart = \"2025-03-04\"\nmax_rounds = 0"), (9, 14), "`max_rounds = 0` is not a positive number"),
        s("until with manual", sched("manual = true\nuntil = \"2025-12-31\""), (6, 1), "`until` only applies to a recurring schedule"),
    ]
}

#[test]
fn survey_corpus() {
    let cases = survey_cases();
    let mut failures = Vec::new();
    for c in &cases {
        let got = std::panic::catch_unwind(|| parse_str("corpus.toml", &c.text, &defaults()));
        let ds = match got {
            Err(_) => {
                failures.push(format!("{}: PANIC", c.name));
                continue;
            }
            Ok(Ok(_)) => {
                failures.push(format!("{}: accepted, but it is broken", c.name));
                continue;
            }
            Ok(Err(ds)) => ds,
        };
        for d in &ds {
            // Every diagnostic: a position inside the file, a message, a remedy, no debug.
            if d.line == 0 || d.column == 0 || d.message.is_empty() || d.hint.is_empty() {
                failures.push(format!("{}: incomplete diagnostic {d}", c.name));
            }
            if d.message.contains("Some(") || d.hint.contains("Some(") {
                failures.push(format!("{}: debug notation in {d}", c.name));
            }
        }
        let first = &ds[0];
        if (first.line, first.column) != (c.line, c.column) || !first.message.contains(c.says) {
            failures.push(format!(
                "{}: expected {}:{} containing {:?}, got {}",
                c.name,
                c.line,
                c.column,
                c.says,
                first.short()
            ));
        }
    }
    let file_cases = survey_file_cases(&mut failures);
    println!(
        "corpus: survey files: {} cases ({} texts, {} files)",
        cases.len() + file_cases,
        cases.len(),
        file_cases
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() + file_cases >= 70);
}

/// Cases that need real files: bytes that are not UTF-8, a missing file, a directory given
/// as a file. Each must give a whole-file diagnostic naming the file. Returns the count.
fn survey_file_cases(failures: &mut Vec<String>) -> usize {
    let dir = tempfile::tempdir().expect("tempdir");
    let latin1 = dir.path().join("latin1.toml");
    std::fs::write(
        &latin1,
        b"id = \"c\"\ntitle = { de = \"Gr\xfc\xdfe\", en = \"T\" }\n",
    )
    .expect("write");
    let binary = dir.path().join("binary.toml");
    std::fs::write(&binary, [0xff, 0xfe, 0x00, 0x01, 0x80]).expect("write");
    let sub = dir.path().join("sub.toml");
    std::fs::create_dir(&sub).expect("mkdir");
    let cases: [(&str, PathBuf, &str); 4] = [
        ("latin-1 umlaut", latin1, "cannot read the file"),
        ("binary garbage", binary, "cannot read the file"),
        (
            "missing file",
            dir.path().join("nope.toml"),
            "cannot read the file",
        ),
        ("directory named .toml", sub, "cannot read the file"),
    ];
    for (name, path, says) in &cases {
        match survey::load_file(path, &defaults()) {
            Ok(_) => failures.push(format!("{name}: accepted")),
            Err(ds) => {
                let d: &Diagnostic = &ds[0];
                let shown = d.to_string();
                if d.line != 0
                    || !d.message.contains(says)
                    || !shown.starts_with(&path.display().to_string())
                    || d.hint.is_empty()
                {
                    failures.push(format!("{name}: got {shown}"));
                }
            }
        }
    }
    cases.len()
}

// =======================================================================================
// Chat answers (typed and voted) and DM commands
// =======================================================================================

/// One question of every kind: likert 5 (`lik`), single choice (`one`), multiple choice with
/// at most two (`many`), 0–10 scale (`sc`), optional short text (`txt`, 20 characters),
/// required text (`req`).
const CHAT: &str = r#"
id = "chat"
title = { de = "T", en = "T" }
intro = { de = "I", en = "I" }
[schedule]
manual = true

[[blocks]]
type = "likert"
id = "lik"
text = { de = "Es klappt.", en = "It works." }

[[blocks]]
type = "single"
id = "one"
text = { de = "Wie oft?", en = "How often?" }
options = [
  { id = "daily", de = "Täglich", en = "Daily" },
  { id = "weekly", de = "Wöchentlich", en = "Weekly" },
  { id = "never", de = "Nie", en = "Never" },
]

[[blocks]]
type = "multi"
id = "many"
text = { de = "Was?", en = "What?" }
max_selections = 2
options = [
  { id = "mail", de = "E-Mail", en = "Email" },
  { id = "chat", de = "Chat", en = "Chat" },
  { id = "call", de = "Anruf", en = "Call" },
  { id = "files", de = "Dateien", en = "Files" },
]

[[blocks]]
type = "scale"
id = "sc"
text = { de = "Wie sehr?", en = "How much?" }

[[blocks]]
type = "text"
id = "txt"
optional = true
max_length = 20
text = { de = "Noch etwas?", en = "Anything else?" }

[[blocks]]
type = "text"
id = "req"
text = { de = "Warum?", en = "Why?" }
"#;

fn chat_survey() -> Survey {
    match parse_str("chat.toml", CHAT, &defaults()) {
        Ok(s) => s,
        Err(ds) => panic!("{ds:?}"),
    }
}

fn choice(id: &str) -> Result<Answer, AnswerError> {
    Ok(Answer::Choice(id.into()))
}

fn multi(ids: &[&str]) -> Result<Answer, AnswerError> {
    Ok(Answer::Multi(ids.iter().map(|s| (*s).to_owned()).collect()))
}

fn text(t: &str) -> Result<Answer, AnswerError> {
    Ok(Answer::Text(t.into()))
}

const UNKNOWN5: Result<Answer, AnswerError> = Err(AnswerError::UnknownOption { count: 5 });
const UNKNOWN3: Result<Answer, AnswerError> = Err(AnswerError::UnknownOption { count: 3 });
const UNKNOWN4: Result<Answer, AnswerError> = Err(AnswerError::UnknownOption { count: 4 });
const RANGE: Result<Answer, AnswerError> = Err(AnswerError::OutOfRange { min: 0, max: 10 });
const EMPTY: Result<Answer, AnswerError> = Err(AnswerError::Empty);
const REQUIRED: Result<Answer, AnswerError> = Err(AnswerError::NotOptional);

/// The expected outcome of a chat answer.
type Outcome = Result<Answer, AnswerError>;
/// (name, item, message body, outcome).
type Typed = (&'static str, &'static str, String, Outcome);
/// (name, item, answer ids of the poll response, outcome).
type Vote = (&'static str, &'static str, Vec<String>, Outcome);

/// Typed answers: (name, item, message body, outcome).
fn typed_cases() -> Vec<Typed> {
    let big = "a".repeat(100 * 1024);
    let c = |n: &'static str, item: &'static str, body: &str, r| (n, item, body.to_owned(), r);
    vec![
        // likert (required, options "1".."5")
        c("likert digit", "lik", "3", choice("3")),
        c("likert padded", "lik", "  3 \n", choice("3")),
        c("likert with dot", "lik", "3.", choice("3")),
        c("likert of five", "lik", "3/5", choice("3")),
        c("likert plus sign", "lik", "+3", choice("3")),
        c("likert end label de", "lik", "stimme voll zu", choice("5")),
        c(
            "likert end label en upper",
            "lik",
            "STRONGLY DISAGREE",
            choice("1"),
        ),
        c(
            "likert end label with number",
            "lik",
            "5 – Stimme voll zu",
            choice("5"),
        ),
        c("likert zero", "lik", "0", UNKNOWN5),
        c("likert six", "lik", "6", UNKNOWN5),
        c("likert negative", "lik", "-1", UNKNOWN5),
        c("likert decimal", "lik", "3.5", UNKNOWN5),
        c("likert decimal comma", "lik", "3,5", UNKNOWN5),
        c("likert fullwidth digit", "lik", "３", UNKNOWN5),
        c("likert arabic-indic digit", "lik", "٣", UNKNOWN5),
        c("likert word", "lik", "drei", UNKNOWN5),
        c("likert emoji", "lik", "👍", UNKNOWN5),
        c("likert two numbers", "lik", "3 4", UNKNOWN5),
        c(
            "likert i64 overflow",
            "lik",
            "99999999999999999999",
            UNKNOWN5,
        ),
        c("likert exponent", "lik", "1e3", UNKNOWN5),
        c("likert 100 kB", "lik", &big, UNKNOWN5),
        c("likert empty", "lik", "", EMPTY),
        c("likert whitespace", "lik", " \t\n ", EMPTY),
        c("likert only dots", "lik", "...", EMPTY),
        c("likert skip dash", "lik", "-", REQUIRED),
        c("likert skip word de", "lik", "Überspringen", REQUIRED),
        c("likert skip word en upper", "lik", "SKIP", REQUIRED),
        // single choice
        c("single number", "one", "2", choice("weekly")),
        c("single label de", "one", "Täglich", choice("daily")),
        c("single label en upper", "one", "DAILY", choice("daily")),
        c("single label exclaimed", "one", "nie!", choice("never")),
        c("single option id", "one", "weekly", choice("weekly")),
        c(
            "single label spaced",
            "one",
            "  Wöchentlich  ",
            choice("weekly"),
        ),
        c("single four", "one", "4", UNKNOWN3),
        c(
            "single two labels",
            "one",
            "täglich und wöchentlich",
            UNKNOWN3,
        ),
        c("single list", "one", "1,2", UNKNOWN3),
        c("single cyrillic lookalike", "one", "Nіe", UNKNOWN3),
        c("single umlaut spelled out", "one", "taeglich", UNKNOWN3),
        c("single emoji", "one", "🤷", UNKNOWN3),
        // multiple choice, at most 2
        c("multi comma", "many", "1, 2", multi(&["mail", "chat"])),
        c("multi reversed", "many", "2 1", multi(&["mail", "chat"])),
        c("multi repeated", "many", "1,1", multi(&["mail"])),
        c("multi und", "many", "1 und 3", multi(&["mail", "call"])),
        c(
            "multi labels",
            "many",
            "E-Mail, Chat",
            multi(&["mail", "chat"]),
        ),
        c(
            "multi semicolons",
            "many",
            "1;2;3",
            Err(AnswerError::TooManySelections { max: 2 }),
        ),
        c("multi five", "many", "5", UNKNOWN4),
        c("multi one bad token", "many", "1, x", UNKNOWN4),
        c("multi only separators", "many", ", ;", EMPTY),
        c("multi only and", "many", "und", EMPTY),
        c("multi zero", "many", "0", UNKNOWN4),
        // 0–10 scale
        c("scale zero", "sc", "0", Ok(Answer::Scale(0))),
        c("scale ten", "sc", "10", Ok(Answer::Scale(10))),
        c("scale of ten", "sc", "10/10", Ok(Answer::Scale(10))),
        c(
            "scale end label",
            "sc",
            "voll und ganz",
            Ok(Answer::Scale(10)),
        ),
        c(
            "scale end label en",
            "sc",
            "Not at all.",
            Ok(Answer::Scale(0)),
        ),
        c("scale eleven", "sc", "11", RANGE),
        c("scale negative", "sc", "-1", RANGE),
        c("scale decimal comma", "sc", "7,5", RANGE),
        c("scale 256", "sc", "256", RANGE),
        c("scale word", "sc", "sieben", RANGE),
        c("scale empty", "sc", "", EMPTY),
        c("scale skip required", "sc", "weiter", REQUIRED),
        // optional text, 20 characters
        c("text skip dash", "txt", "-", Ok(Answer::Skipped)),
        c(
            "text skip upper",
            "txt",
            "Überspringen!",
            Ok(Answer::Skipped),
        ),
        c("text trimmed", "txt", "  gut  ", text("gut")),
        c(
            "text two lines",
            "txt",
            "Zeile 1\nZeile 2",
            text("Zeile 1\nZeile 2"),
        ),
        c(
            "text 20 emoji",
            "txt",
            &"😀".repeat(20),
            text(&"😀".repeat(20)),
        ),
        c(
            "text 21 chars",
            "txt",
            &"x".repeat(21),
            Err(AnswerError::TooLong { len: 21, max: 20 }),
        ),
        c(
            "text 100 kB",
            "txt",
            &big,
            Err(AnswerError::TooLong {
                len: 102_400,
                max: 20,
            }),
        ),
        c("text whitespace", "txt", "  \n ", EMPTY),
        c(
            "text command word is text here",
            "txt",
            "stopp",
            text("stopp"),
        ),
        // required text
        c("required text dash", "req", "-", REQUIRED),
        c("required text skip", "req", "skip", REQUIRED),
        c("required text empty", "req", "", EMPTY),
        c("required text ok", "req", "ok", text("ok")),
    ]
}

/// Poll votes: (name, item, answer ids in the response, outcome).
fn vote_cases() -> Vec<Vote> {
    let v = |ids: &[&str]| ids.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    vec![
        ("vote likert", "lik", v(&["3"]), choice("3")),
        ("vote likert none", "lik", v(&[]), EMPTY),
        ("vote likert unknown id", "lik", v(&["9"]), UNKNOWN5),
        ("vote likert two ids", "lik", v(&["1", "2"]), UNKNOWN5),
        ("vote single", "one", v(&["daily"]), choice("daily")),
        ("vote single wrong case", "one", v(&["Daily"]), UNKNOWN3),
        (
            "vote single 100 kB id",
            "one",
            vec!["d".repeat(100 * 1024)],
            UNKNOWN3,
        ),
        (
            "vote multi too many",
            "many",
            v(&["mail", "chat", "call"]),
            Err(AnswerError::TooManySelections { max: 2 }),
        ),
        (
            "vote multi repeated id",
            "many",
            v(&["mail", "mail"]),
            multi(&["mail"]),
        ),
        ("vote multi unknown id", "many", v(&["fax"]), UNKNOWN4),
        ("vote multi none", "many", v(&[]), EMPTY),
        ("vote scale", "sc", v(&["10"]), Ok(Answer::Scale(10))),
        ("vote scale eleven", "sc", v(&["11"]), RANGE),
        ("vote scale letter", "sc", v(&["a"]), RANGE),
        ("vote scale empty id", "sc", v(&[""]), RANGE),
        ("vote scale two ids", "sc", v(&["1", "2"]), RANGE),
        ("vote on a text question", "txt", v(&["a"]), EMPTY),
    ]
}

/// DM commands: (body, what it is). Only the whole message is a command.
fn command_cases() -> Vec<(String, Command)> {
    let c = |b: &str, cmd| (b.to_owned(), cmd);
    vec![
        c("HILFE", Command::Help),
        c("Help!", Command::Help),
        c("  stopp. ", Command::Stop),
        c("STOP", Command::Stop),
        c("stopp\n", Command::Stop),
        c("Start", Command::Start),
        c("Meine   Daten", Command::MyData),
        c("my data", Command::MyData),
        c("LÖSCHEN", Command::Delete),
        c("loeschen", Command::Delete),
        c("delete!", Command::Delete),
        c("sprache en", Command::Language(Lang::En)),
        c("Sprache EN", Command::Language(Lang::En)),
        c("language deutsch", Command::Language(Lang::De)),
        c("sprache", Command::LanguageUnknown),
        c("sprache fr", Command::LanguageUnknown),
        c("sprache ist gut", Command::NotACommand),
        c("language english please", Command::NotACommand),
        c("meine daten?", Command::NotACommand),
        c("stopp bitte", Command::NotACommand),
        c("stop stop", Command::NotACommand),
        c("Nachrichten löschen geht nicht", Command::NotACommand),
        c("", Command::NotACommand),
        c("🛑", Command::NotACommand),
        c("ｓｔｏｐ", Command::NotACommand),
        c("\u{200b}stop", Command::NotACommand),
        (
            format!("{}stop", "stop ".repeat(20_000)),
            Command::NotACommand,
        ),
        c("hilfe hilfe", Command::NotACommand),
    ]
}

/// The participant-facing message of an error: in both languages, non-empty, no debug.
fn check_message(name: &str, e: &AnswerError, failures: &mut Vec<String>) {
    for lang in [Lang::De, Lang::En] {
        let m = e.message(lang);
        if m.trim().is_empty() || looks_like_debug(&m) {
            failures.push(format!("{name}: bad {lang:?} message {m:?}"));
        }
    }
}

#[test]
fn chat_corpus() {
    let survey = chat_survey();
    let q = |id: &str| -> &Question { survey.question(id).expect("item of the chat survey") };
    let mut failures = Vec::new();
    let typed = typed_cases();
    for (name, item, body, want) in &typed {
        let got = std::panic::catch_unwind(|| parse_answer(q(item), body));
        match got {
            Err(_) => failures.push(format!("{name}: PANIC")),
            Ok(got) => {
                if &got != want {
                    failures.push(format!("{name}: expected {want:?}, got {got:?}"));
                }
                if let Err(e) = &got {
                    check_message(name, e, &mut failures);
                }
            }
        }
    }
    let votes = vote_cases();
    for (name, item, ids, want) in &votes {
        let got = answer_from_poll(q(item), ids);
        if &got != want {
            failures.push(format!("{name}: expected {want:?}, got {got:?}"));
        }
        if let Err(e) = &got {
            check_message(name, e, &mut failures);
        }
    }
    let commands = command_cases();
    for (body, want) in &commands {
        let got = Command::parse(body);
        if &got != want {
            let shown: String = body.chars().take(40).collect();
            failures.push(format!("command {shown:?}: expected {want:?}, got {got:?}"));
        }
    }
    println!(
        "corpus: chat: {} cases ({} typed answers, {} poll votes, {} commands)",
        typed.len() + votes.len() + commands.len(),
        typed.len(),
        votes.len(),
        commands.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(typed.len() + votes.len() + commands.len() >= 50);
}

// =======================================================================================
// Import CSVs and their mapping files
// =======================================================================================

/// Maps a LimeSurvey-like export onto the chat survey: a coded likert column, a single
/// choice by option id, three option columns of the multiple choice, the scale, the text.
const MAP: &str = r#"
ignore = ["id"]
[csv]
complete_column = "done"
[values.agree]
A1 = 1
A2 = 2
A3 = 3
A4 = 4
A5 = 5
[[columns]]
column = "LIK"
item = "lik"
values = "agree"
[[columns]]
column = "ONE"
item = "one"
[[columns]]
column = "M1"
item = "many"
option = "mail"
[[columns]]
column = "M2"
item = "many"
option = "chat"
[[columns]]
column = "M3"
item = "many"
option = "call"
[[columns]]
column = "SC"
item = "sc"
[[columns]]
column = "TXT"
item = "txt"
"#;

const HEADER: &str = "id,done,LIK,ONE,M1,M2,M3,SC,TXT";
const ROW: &str = "1,x,A3,daily,Y,N,N,7,gut";

/// The header and `rows`, one per line.
fn csv(rows: &[&str]) -> Vec<u8> {
    let mut s = String::from(HEADER);
    for r in rows {
        s.push('\n');
        s.push_str(r);
    }
    s.push('\n');
    s.into_bytes()
}

/// A good row with one cell replaced (0-based field index).
fn row_with(field: usize, cell: &str) -> String {
    let mut f: Vec<&str> = ROW.split(',').collect();
    f[field] = cell;
    f.join(",")
}

/// What an import must come to.
#[derive(Debug)]
enum Imp {
    /// Imported: this many records, this many empty rows skipped.
    Ok(usize, usize),
    /// Refused for its rows: the first problem's line, column and a phrase, and the total.
    Row(u64, Option<&'static str>, &'static str, usize),
    /// Refused for the header: one of the problems contains the phrase.
    Header(&'static str),
    /// Refused for the mapping: one of the problems contains the phrase.
    Mapping(&'static str),
    /// Nothing to import.
    Empty,
}

struct ImportCase {
    name: &'static str,
    mapping: String,
    csv: Vec<u8>,
    want: Imp,
}

fn import_cases() -> Vec<ImportCase> {
    let m = || MAP.to_owned();
    let i = |name, csv: Vec<u8>, want| ImportCase {
        name,
        mapping: m(),
        csv,
        want,
    };
    let mi = |name, mapping: String, csv: Vec<u8>, want| ImportCase {
        name,
        mapping,
        csv,
        want,
    };
    let r = |field: usize, cell: &str| csv(&[&row_with(field, cell)]);
    let long = "x".repeat(100 * 1024);
    let many_bad: Vec<String> = (0..60).map(|_| row_with(2, "A9")).collect();
    let many_bad: Vec<&str> = many_bad.iter().map(String::as_str).collect();
    let many_good: Vec<&str> = vec![ROW; 2000];
    let mut bom = b"\xEF\xBB\xBF".to_vec();
    bom.extend(csv(&[ROW]));
    let mut bom_only = b"\xEF\xBB\xBF".to_vec();
    bom_only.extend(csv(&[]));
    let mut latin1_cell = csv(&[]);
    latin1_cell.extend(b"1,x,A3,daily,Y,N,N,7,gr\xfc\xdf\n");
    let mut latin1_header = b"id,done,LIK,ONE,M1,M2,M3,SC,T\xdcXT\n".to_vec();
    latin1_header.extend(ROW.as_bytes());
    vec![
        // --- accepted with a defined result
        i("byte order mark", bom, Imp::Ok(1, 0)),
        i(
            "CRLF line ends",
            format!("{HEADER}\r\n{ROW}\r\n").into_bytes(),
            Imp::Ok(1, 0),
        ),
        i(
            "no final newline",
            format!("{HEADER}\n{ROW}").into_bytes(),
            Imp::Ok(1, 0),
        ),
        i(
            "header names padded",
            format!("id, done ,LIK,ONE,M1,M2,M3,SC,TXT\n{ROW}\n").into_bytes(),
            Imp::Ok(1, 0),
        ),
        i("scale written 7.0", r(7, "7.0"), Imp::Ok(1, 0)),
        i(
            "one empty row among good",
            csv(&[ROW, ",,,,,,,,"]),
            Imp::Ok(1, 1),
        ),
        i(
            "quoted text with comma and newline",
            csv(&["1,x,A3,daily,Y,N,N,7,\"a, b\nc\""]),
            Imp::Ok(1, 0),
        ),
        i("2000 rows", csv(&many_good), Imp::Ok(2000, 0)),
        mi(
            "semicolon file with semicolon mapping",
            MAP.replace("[csv]", "[csv]\ndelimiter = \";\""),
            csv(&[])
                .iter()
                .chain(ROW.as_bytes())
                .map(|b| if *b == b',' { b';' } else { *b })
                .collect(),
            Imp::Ok(1, 0),
        ),
        mi(
            "tab file with \\t mapping",
            MAP.replace("[csv]", "[csv]\ndelimiter = \"\\\\t\""),
            csv(&[ROW])
                .iter()
                .map(|b| if *b == b',' { b'\t' } else { *b })
                .collect(),
            Imp::Ok(1, 0),
        ),
        // --- nothing to import
        i("header only", csv(&[]), Imp::Empty),
        i("header only after BOM", bom_only, Imp::Empty),
        i(
            "only empty rows",
            csv(&[",,,,,,,,", ",,,,,,,,"]),
            Imp::Empty,
        ),
        // --- header problems
        i(
            "empty file",
            Vec::new(),
            Imp::Header("mapped column `LIK` is not in the file"),
        ),
        i(
            "only newlines",
            b"\n\n\n".to_vec(),
            Imp::Header("mapped column `LIK` is not in the file"),
        ),
        i(
            "semicolons with comma mapping",
            csv(&[])
                .iter()
                .map(|b| if *b == b',' { b';' } else { *b })
                .collect(),
            Imp::Header("mapped column `LIK` is not in the file"),
        ),
        i(
            "duplicate column",
            format!("{HEADER},ONE\n{ROW},daily\n").into_bytes(),
            Imp::Header("column `ONE` appears twice"),
        ),
        i(
            "unnamed column",
            format!("{HEADER},\n{ROW},\n").into_bytes(),
            Imp::Header("a column has no name"),
        ),
        i(
            "mapped column missing",
            HEADER.replace(",SC", "").into_bytes(),
            Imp::Header("mapped column `SC` is not in the file"),
        ),
        i(
            "complete column missing",
            HEADER.replace(",done", "").into_bytes(),
            Imp::Header("csv.complete_column `done` is not in the file"),
        ),
        i(
            "header case differs",
            HEADER.to_lowercase().into_bytes(),
            Imp::Header("mapped column `LIK` is not in the file"),
        ),
        i("header not UTF-8", latin1_header, Imp::Header("UTF-8")),
        // --- row problems (line 2 is the first row)
        i(
            "row too short",
            csv(&["1,x,A3"]),
            Imp::Row(2, None, "3 fields, the header has 9", 1),
        ),
        i(
            "row too long",
            csv(&[&format!("{ROW},extra")]),
            Imp::Row(2, None, "10 fields, the header has 9", 1),
        ),
        i(
            "unknown code",
            r(2, "A7"),
            Imp::Row(
                2,
                Some("LIK"),
                "`A7` is not in code table [values.agree] (codes: A1, A2, A3, A4, A5)",
                1,
            ),
        ),
        i(
            "code in lower case",
            r(2, "a3"),
            Imp::Row(2, Some("LIK"), "`a3` is not in code table", 1),
        ),
        i(
            "stray quote in cell",
            r(2, "A\"3"),
            Imp::Row(2, Some("LIK"), "`A\"3` is not in code table", 1),
        ),
        i(
            "option by label",
            r(3, "Täglich"),
            Imp::Row(
                2,
                Some("ONE"),
                "`Täglich` is not an answer of `one` (answers: daily, weekly, never)",
                1,
            ),
        ),
        i(
            "option unknown",
            r(3, "sometimes"),
            Imp::Row(2, Some("ONE"), "`sometimes` is not an answer of `one`", 1),
        ),
        i(
            "scale eleven",
            r(7, "11"),
            Imp::Row(2, Some("SC"), "11 is outside 0–10", 1),
        ),
        i(
            "scale negative",
            r(7, "-1"),
            Imp::Row(2, Some("SC"), "-1 is outside 0–10", 1),
        ),
        i(
            "scale decimal comma",
            r(7, "\"7,5\""),
            Imp::Row(2, Some("SC"), "`7,5` is not a whole number", 1),
        ),
        i(
            "scale exponent",
            r(7, "1e3"),
            Imp::Row(2, Some("SC"), "1000 is outside 0–10", 1),
        ),
        i(
            "scale NaN",
            r(7, "NaN"),
            Imp::Row(2, Some("SC"), "`NaN` is not a whole number", 1),
        ),
        i(
            "scale inf",
            r(7, "inf"),
            Imp::Row(2, Some("SC"), "`inf` is not a whole number", 1),
        ),
        i(
            "scale beyond i64",
            r(7, "99999999999999999999"),
            Imp::Row(2, Some("SC"), "is not a whole number", 1),
        ),
        i(
            "multi bad mark",
            r(4, "X"),
            Imp::Row(
                2,
                Some("M1"),
                "`X` is neither a selected (Y) nor an unselected (N) mark",
                1,
            ),
        ),
        i(
            "multi too many",
            csv(&["1,x,A3,daily,Y,Y,Y,7,gut"]),
            Imp::Row(
                2,
                None,
                "item `many`: 3 options selected, at most 2 allowed",
                1,
            ),
        ),
        i(
            "text too long",
            r(8, &"x".repeat(21)),
            Imp::Row(
                2,
                Some("TXT"),
                "21 characters, the item takes at most 20",
                1,
            ),
        ),
        i(
            "text 100 kB",
            r(8, &long),
            Imp::Row(
                2,
                Some("TXT"),
                "102400 characters, the item takes at most 20",
                1,
            ),
        ),
        i(
            "NUL in a cell",
            r(2, "A\x003"),
            Imp::Row(2, Some("LIK"), "is not in code table", 1),
        ),
        i(
            "cell not UTF-8",
            latin1_cell,
            Imp::Row(2, None, "not readable as CSV", 1),
        ),
        i(
            "bad row after a multi-line cell",
            csv(&["1,x,A3,daily,Y,N,N,7,\"a\nb\"", &row_with(7, "12")]),
            Imp::Row(4, Some("SC"), "12 is outside 0–10", 1),
        ),
        i(
            "bad row after CRLF rows",
            format!("{HEADER}\r\n{ROW}\r\n{ROW}\r\n{}\r\n", row_with(7, "12")).into_bytes(),
            Imp::Row(4, Some("SC"), "12 is outside", 1),
        ),
        i(
            "unclosed quote",
            csv(&["1,x,\"A3,daily,Y,N,N,7,gut"]),
            Imp::Row(2, None, "fields, the header has 9", 1),
        ),
        i(
            "60 bad rows",
            csv(&many_bad),
            Imp::Row(2, Some("LIK"), "`A9` is not in code table", 60),
        ),
        // --- mapping problems
        mi(
            "mapping not TOML",
            "columns = [".into(),
            csv(&[ROW]),
            Imp::Mapping("TOML parse error at line 1"),
        ),
        mi(
            "mapping misspelled key",
            MAP.replace("ignore =", "ignorre ="),
            csv(&[ROW]),
            Imp::Mapping("unknown field `ignorre`"),
        ),
        mi(
            "mapping without columns",
            "ignore = []\n".into(),
            csv(&[ROW]),
            Imp::Mapping("missing field `columns`"),
        ),
        mi(
            "mapping columns empty",
            "columns = []\n".into(),
            csv(&[ROW]),
            Imp::Mapping("no [[columns]]: nothing would be imported"),
        ),
        mi(
            "mapping unknown item",
            MAP.replace("item = \"sc\"", "item = \"nope\""),
            csv(&[ROW]),
            Imp::Mapping("survey `chat` has no item `nope`"),
        ),
        mi(
            "delimiter two chars",
            MAP.replace("[csv]", "[csv]\ndelimiter = \";;\""),
            csv(&[ROW]),
            Imp::Mapping("csv.delimiter must be one ASCII character"),
        ),
        mi(
            "delimiter non-ASCII",
            MAP.replace("[csv]", "[csv]\ndelimiter = \"§\""),
            csv(&[ROW]),
            Imp::Mapping("csv.delimiter must be one ASCII character"),
        ),
        mi(
            "delimiter a number",
            MAP.replace("[csv]", "[csv]\ndelimiter = 1"),
            csv(&[ROW]),
            Imp::Mapping("invalid type: integer"),
        ),
        mi(
            "code table missing",
            MAP.replace("values = \"agree\"", "values = \"agreee\""),
            csv(&[ROW]),
            Imp::Mapping("no code table [values.agreee]"),
        ),
        mi(
            "code table value off the scale",
            MAP.replace("A5 = 5", "A5 = 5\nA6 = 6"),
            csv(&[ROW]),
            Imp::Mapping("[values.agree] A6 = 6: `6` is not an answer of `lik`"),
        ),
        mi(
            "multi without option",
            MAP.replace("option = \"mail\"\n", ""),
            csv(&[ROW]),
            Imp::Mapping("`many` is a multiple-choice item: map one column per option"),
        ),
        mi(
            "option on a single choice",
            MAP.replace("item = \"one\"", "item = \"one\"\noption = \"daily\""),
            csv(&[ROW]),
            Imp::Mapping("`option` is only for multiple-choice items"),
        ),
        mi(
            "multi option unknown",
            MAP.replace("option = \"call\"", "option = \"fax\""),
            csv(&[ROW]),
            Imp::Mapping("item `many` has no option `fax` (options: mail, chat, call, files)"),
        ),
        mi(
            "column mapped twice",
            format!("{MAP}[[columns]]\ncolumn = \"SC\"\nitem = \"req\"\n"),
            csv(&[ROW]),
            Imp::Mapping("column mapped twice"),
        ),
        mi(
            "column mapped and ignored",
            MAP.replace("ignore = [\"id\"]", "ignore = [\"id\", \"SC\"]"),
            csv(&[ROW]),
            Imp::Mapping("column is both mapped and ignored"),
        ),
        mi(
            "complete column mapped",
            MAP.replace("complete_column = \"done\"", "complete_column = \"SC\""),
            csv(&[ROW]),
            Imp::Mapping("csv.complete_column `SC` is also mapped to an item"),
        ),
        mi(
            "code table on free text",
            MAP.replace("item = \"txt\"", "item = \"txt\"\nvalues = \"agree\""),
            csv(&[ROW]),
            Imp::Mapping("free-text items take the cell as it is"),
        ),
        mi(
            "item filled twice",
            format!("{MAP}[[columns]]\ncolumn = \"id\"\nitem = \"sc\"\n")
                .replace("ignore = [\"id\"]", "ignore = []"),
            csv(&[ROW]),
            Imp::Mapping("item `sc` is already filled by columns[6]"),
        ),
    ]
}

fn check_import(c: &ImportCase) -> Result<(), String> {
    let survey = chat_survey();
    let got = std::panic::catch_unwind(|| import::parse(&survey, &c.mapping, &c.csv))
        .map_err(|_| "PANIC".to_owned())?;
    // Whatever the outcome, its message is for a person: no debug notation.
    if let Err(e) = &got {
        let shown = e.to_string();
        if shown.contains("Some(") || shown.contains("Error {") {
            return Err(format!("debug notation in {shown}"));
        }
    }
    match (&c.want, &got) {
        (Imp::Ok(n, empty), Ok(p)) if p.records.len() == *n && p.empty_rows == *empty => Ok(()),
        (Imp::Empty, Err(ImportError::Empty)) => Ok(()),
        (Imp::Header(says), Err(ImportError::Header(es)))
        | (Imp::Mapping(says), Err(ImportError::Mapping(es)))
            if es.iter().any(|e| e.contains(says)) =>
        {
            Ok(())
        }
        (Imp::Row(line, column, says, total), Err(ImportError::Rows { problems, total: t }))
            if problems[0].line == *line
                && problems[0].column.as_deref() == *column
                && problems[0].problem.contains(says)
                && t == total =>
        {
            if *t > problems.len()
                && !got
                    .as_ref()
                    .err()
                    .is_some_and(|e| e.to_string().contains("more"))
            {
                return Err("the count of unlisted problems is missing".into());
            }
            Ok(())
        }
        (want, got) => Err(format!(
            "expected {want:?}, got {}",
            match got {
                Ok(p) => format!("Ok({} records, {} empty)", p.records.len(), p.empty_rows),
                Err(e) => e.to_string().chars().take(400).collect(),
            }
        )),
    }
}

#[test]
fn import_corpus() {
    let cases = import_cases();
    let failures: Vec<String> = cases
        .iter()
        .filter_map(|c| check_import(c).err().map(|e| format!("{}: {e}", c.name)))
        .collect();
    // The good row really is good, so each case tests what it names.
    assert!(
        check_import(&ImportCase {
            name: "control",
            mapping: MAP.into(),
            csv: csv(&[ROW]),
            want: Imp::Ok(1, 0)
        })
        .is_ok()
    );
    println!("corpus: import: {} cases", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(cases.len() >= 35);
}

// =======================================================================================
// Fuzz targets: bounded property tests (256 random inputs each, a few seconds in all)
// =======================================================================================

/// Cells an export might contain, good and bad, for the structured CSV fuzzer.
fn arb_cell() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(String::new()),
        Just("A3".to_owned()),
        Just("Y".to_owned()),
        Just("N".to_owned()),
        Just("daily".to_owned()),
        Just("7".to_owned()),
        Just("\"a,\nb\"".to_owned()),
        Just("\"".to_owned()),
        "-?[0-9]{1,22}(\\.[0-9])?",
        "\\PC{0,30}",
    ]
}

fn lines_of(text: &str) -> usize {
    text.lines().count() + 1
}

proptest! {
    // No failure file: an integration test has no lib.rs for proptest to put it beside.
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Any typed text, for every question kind: no panic; an accepted answer is valid for
    /// the question; a refusal has a message in both languages.
    #[test]
    fn fuzz_answer_parser(body in "\\PC{0,60}|[0-9 ,;/.+-]{0,12}|(?i)(stimme|voll|zu|nie|täglich|skip|-| )*") {
        let survey = chat_survey();
        for q in survey.questions() {
            match parse_answer(q, &body) {
                Ok(Answer::Choice(id)) => prop_assert!(q.options().iter().any(|o| o.id == id)),
                Ok(Answer::Multi(ids)) => {
                    prop_assert!(!ids.is_empty() && ids.len() <= 2);
                    prop_assert!(ids.iter().all(|id| q.options().iter().any(|o| &o.id == id)));
                }
                Ok(Answer::Scale(v)) => prop_assert!(v <= 10),
                Ok(Answer::Text(t)) => prop_assert!(!t.is_empty() && t.chars().count() <= 500),
                Ok(Answer::Skipped) => prop_assert!(q.optional),
                Err(e) => {
                    prop_assert!(!e.message(Lang::De).is_empty());
                    prop_assert!(!e.message(Lang::En).is_empty());
                }
            }
        }
        // The command parser sees every message first.
        let _ = Command::parse(&body);
    }

    /// Any poll response (ids made up or real, any number of them): no panic, and an
    /// accepted vote names only real options.
    #[test]
    fn fuzz_poll_votes(ids in prop::collection::vec("[a-z0-9]{0,6}|daily|mail|chat|call|1|10", 0..6)) {
        let survey = chat_survey();
        for q in survey.questions() {
            match answer_from_poll(q, &ids) {
                Ok(Answer::Choice(id)) => prop_assert!(ids.contains(&id)),
                Ok(Answer::Multi(chosen)) => prop_assert!(chosen.iter().all(|c| ids.contains(c))),
                Ok(Answer::Scale(v)) => prop_assert!(v <= 10),
                Ok(other) => prop_assert!(false, "unexpected {other:?}"),
                Err(_) => {}
            }
        }
    }

    /// Arbitrary bytes as the CSV: no panic; any refusal names a line or the header.
    #[test]
    fn fuzz_import_bytes(bytes in prop::collection::vec(any::<u8>(), 0..400)) {
        let survey = chat_survey();
        let mut with_header = csv(&[]);
        with_header.extend(&bytes);
        for input in [&bytes, &with_header] {
            if let Err(ImportError::Rows { problems, total }) = import::parse(&survey, MAP, input) {
                prop_assert!(total >= problems.len() && !problems.is_empty());
                prop_assert!(problems.iter().all(|p| p.line >= 2));
            }
        }
    }

    /// Rows assembled from plausible and implausible cells, with random field counts and
    /// line ends: no panic, a problem's line lies inside the file, and an accepted import
    /// has a record or skipped row per data row.
    #[test]
    fn fuzz_import_rows(
        rows in prop::collection::vec(prop::collection::vec(arb_cell(), 7..11), 1..8),
        crlf in any::<bool>(),
    ) {
        let survey = chat_survey();
        let end = if crlf { "\r\n" } else { "\n" };
        let mut text = format!("{HEADER}{end}");
        for r in &rows {
            text.push_str(&r.join(","));
            text.push_str(end);
        }
        match import::parse(&survey, MAP, text.as_bytes()) {
            Ok(p) => prop_assert!(p.records.len() + p.empty_rows <= rows.len()),
            Err(ImportError::Rows { problems, .. }) => {
                let last = lines_of(&text) as u64;
                prop_assert!(problems.iter().all(|p| p.line >= 2 && p.line <= last), "{problems:?}");
            }
            Err(_) => {}
        }
    }

    /// Arbitrary mapping text: no panic, and anything but a valid mapping is refused as one.
    #[test]
    fn fuzz_import_mapping(mapping in "\\PC{0,200}|(\\[\\[columns\\]\\]\ncolumn = \"[A-Z]{1,3}\"\nitem = \"(lik|one|many|sc|txt|x)\"\n(values = \"agree\"\n|option = \"mail\"\n)?){0,4}") {
        let survey = chat_survey();
        let _ = import::parse(&survey, &mapping, &csv(&[ROW]));
    }

    /// The shipped pulse survey with one line deleted, duplicated or cut: no panic, and
    /// every diagnostic points at a line of the file (or at the file as a whole).
    #[test]
    fn fuzz_survey_mutations(line in 0usize..60, how in 0u8..4, cut in 0usize..80) {
        let original = std::fs::read_to_string(repo().join("surveys/pulse.toml")).expect("pulse.toml");
        let mut lines: Vec<String> = original.lines().map(str::to_owned).collect();
        let i = line % lines.len();
        match how {
            0 => { lines.remove(i); }
            1 => { let l = lines[i].clone(); lines.insert(i, l); }
            2 => { lines[i] = lines[i].chars().take(cut).collect(); }
            _ => { lines[i] = lines[i].chars().skip(cut % 8).collect(); }
        }
        let text = lines.join("\n");
        if let Err(ds) = parse_str("pulse.toml", &text, &defaults()) {
            for d in &ds {
                prop_assert!(d.line <= lines_of(&text) && !d.hint.is_empty(), "{d}");
            }
        }
    }
}

/// Checks the value types line up with what the bot stores (an import's records are the
/// same `AnswerValue`s the conversation writes).
#[test]
fn imported_values_have_the_stored_shape() {
    let p = import::parse(&chat_survey(), MAP, &csv(&[ROW])).expect("good row");
    let a = &p.records[0].answers;
    assert_eq!(a.get("lik"), Some(&AnswerValue::Choice("3".into())));
    assert_eq!(
        a.get("many"),
        Some(&AnswerValue::Multi(vec!["mail".into()]))
    );
    assert_eq!(a.get("sc"), Some(&AnswerValue::Number(7)));
    assert_eq!(a.get("txt"), Some(&AnswerValue::Text("gut".into())));
}
