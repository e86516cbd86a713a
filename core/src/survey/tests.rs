//! Whole-survey tests: the shipped surveys, the README example, the broken-file corpus
//! (snapshot of every diagnostic), preview output, and a never-panic property test.

use std::path::PathBuf;

use proptest::prelude::*;

use super::*;

/// The repository root (surveys/, tests/ and docs/ are the bot package's).
fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Defaults as a pilot config would give them (two pilot rooms, k = 5, Berlin, German).
fn defaults() -> SurveyDefaults {
    SurveyDefaults {
        pilot_rooms: vec![
            "#pilot:stadt.example".into(),
            "#pilot-bauamt:stadt.example".into(),
        ],
        ..SurveyDefaults::default()
    }
}

fn load(name: &str) -> Survey {
    match load_file(&root().join("surveys").join(name), &defaults()) {
        Ok(s) => s,
        Err(ds) => panic!(
            "{name} is invalid:\n{}",
            ds.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

#[test]
fn shipped_surveys_are_valid_and_as_specified() {
    let report = validate_paths(&[root().join("surveys")], &defaults());
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.surveys.len(), 3);

    let b = load("pilot-baseline.toml");
    assert_eq!(b.id, "pilot-baseline");
    assert_eq!(b.schedule.start, crate::schedule::Start::Manual);
    let kinds: Vec<String> = b
        .blocks
        .iter()
        .map(|bl| match &bl.kind {
            BlockKind::Instrument {
                instrument,
                subject,
                ..
            } => format!("{instrument}:{subject}"),
            BlockKind::Custom => format!("custom:{}", bl.id),
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "sus:BundesMessenger",
            "ueq-s:BundesMessenger",
            "nps:BundesMessenger",
            "custom:obstacle",
        ]
    );
    // 10 + 8 + 1 + 1 questions, the free text optional; at most 5 minutes (issue 16).
    assert_eq!(b.questions().len(), 20);
    assert!(b.question("obstacle").is_some_and(|q| q.optional));
    assert!(b.estimated_minutes() <= 5, "{}", b.estimated_minutes());

    // The Webex SUS is its own round, behind a screening question, with the SUS about
    // BundesMessenger beside it so the report compares the two.
    let w = load("webex-comparison.toml");
    assert_eq!(w.schedule.start, crate::schedule::Start::Manual);
    assert_eq!(w.questions().len(), 21);
    assert!(w.estimated_minutes() <= 5, "{}", w.estimated_minutes());
    assert!(w.question("sus_bm.1").is_some_and(|q| q.show_if.is_none()));
    let cond = ShowIf {
        item: "uses_webex".into(),
        values: vec!["yes".into()],
    };
    assert!(
        w.questions()
            .iter()
            .filter(|q| q.id.starts_with("sus_webex."))
            .all(|q| q.show_if.as_ref() == Some(&cond))
    );
    // Audience defaults to all pilot rooms.
    assert_eq!(b.audience, defaults().pilot_rooms);

    let p = load("pulse.toml");
    assert_eq!(p.questions().len(), 2 + 3 + 1);
    let crate::schedule::Start::Every {
        every,
        weekday,
        time,
        ..
    } = &p.schedule.start
    else {
        panic!("pulse is recurring");
    };
    assert_eq!(every.to_string(), "2 weeks");
    assert_eq!(*weekday, Some(jiff::civil::Weekday::Tuesday));
    assert_eq!(time.to_string(), "10:00:00");
    assert_eq!(p.schedule.open_for.to_string(), "3 days");
    assert_eq!(p.schedule.reminders.len(), 2);
    // The pulse begins after the baseline and ends with the pilot: both dates set once.
    let crate::schedule::Start::Every { start, until, .. } = &p.schedule.start else {
        panic!("pulse is recurring");
    };
    assert_eq!(start.to_string(), "2027-01-12");
    assert_eq!(until.map(|d| d.to_string()).as_deref(), Some("2027-06-29"));
    assert_eq!(p.schedule.timezone.iana_name(), Some("Europe/Berlin"));
    let tasks: Vec<&str> = p
        .blocks
        .iter()
        .filter_map(|bl| match &bl.kind {
            BlockKind::Instrument { task: Some(t), .. } => Some(t.en.as_str()),
            _ => None,
        })
        .collect();
    assert_eq!(
        tasks,
        [
            "Sending a file",
            "Starting a call",
            "Finding an old message"
        ]
    );
    assert!(p.question("comment").is_some_and(|q| q.optional));
}

#[test]
fn readme_example_is_valid() {
    let readme = std::fs::read_to_string(root().join("surveys/README.md")).unwrap_or_default();
    let block = readme
        .split("```toml\n")
        .nth(1)
        .and_then(|s| s.split("```").next())
        .unwrap_or_default();
    assert!(
        block.contains("id = \"example\""),
        "README example not found"
    );
    let s = match parse_str("README.md", block, &defaults()) {
        Ok(s) => s,
        Err(ds) => panic!(
            "README example invalid:\n{}",
            ds.iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join("\n")
        ),
    };
    assert_eq!(s.min_group_size, 8);
    let f = s.question("features").expect("features item");
    assert_eq!(
        f.show_if,
        Some(ShowIf {
            item: "usage".into(),
            values: vec!["daily".into(), "weekly".into()]
        })
    );
    // The screened block: each Webex item behind "uses_webex = yes".
    let w = s.question("sus_webex.10").expect("webex item");
    assert_eq!(
        w.show_if.as_ref().map(|c| c.item.as_str()),
        Some("uses_webex")
    );
}

/// Snapshot test over `tests/surveys/broken/*.toml`: each file's diagnostics, one per line
/// as `line:column: message — hint`, must equal its `.expected` sibling. Set
/// `PULSEBOT_BLESS=1` to (re)write the `.expected` files after reviewing a change.
#[test]
fn broken_corpus_matches_expected_diagnostics() {
    let dir = root().join("tests/surveys/broken");
    let bless = std::env::var_os("PULSEBOT_BLESS").is_some();
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("corpus directory exists")
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 30, "corpus has only {} files", files.len());
    let mut failures = Vec::new();
    for f in &files {
        let name = f.file_name().and_then(|n| n.to_str()).unwrap_or("?");
        let text = std::fs::read_to_string(f).expect("corpus file readable");
        let got = match parse_str(name, &text, &defaults()) {
            Ok(_) => "(valid — but every corpus file must be broken)".to_owned(),
            Err(ds) => {
                // Every diagnostic points into the file and carries a remedy.
                for d in &ds {
                    assert!(d.line >= 1 && d.column >= 1, "{d}");
                    assert!(!d.hint.is_empty(), "{d}");
                }
                ds.iter()
                    .map(Diagnostic::short)
                    .collect::<Vec<_>>()
                    .join("\n")
            }
        };
        let exp_path = f.with_extension("expected");
        if bless {
            std::fs::write(&exp_path, format!("{got}\n")).expect("write expected");
            continue;
        }
        let expected = std::fs::read_to_string(&exp_path).unwrap_or_default();
        if expected.trim_end() != got {
            failures.push(format!("--- {name}\nexpected:\n{expected}\ngot:\n{got}\n"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn diagnostics_name_file_line_and_column() {
    let text = "id = \"t\"\ntitle = { de = \"T\", en = \"T\" }\nintro = { de = \"I\", en = \"I\" }\n\n[[blocks]]\ntype = \"sus\"\nsubject = \"X\"\nwording = \"mine\"\n";
    let ds = parse_str("surveys/x.toml", text, &defaults()).expect_err("edit refused");
    assert_eq!(ds.len(), 1);
    assert!(
        ds[0].to_string().starts_with(
            "surveys/x.toml:8:1: error: block `sus`: the wording, order and scale of standard instrument `sus` cannot be changed (`wording`) — "
        ),
        "{}",
        ds[0]
    );
}

#[test]
fn duplicate_survey_ids_across_files_are_reported() {
    let dir = tempfile::tempdir().expect("tempdir");
    let src = std::fs::read_to_string(root().join("surveys/pulse.toml")).expect("pulse");
    std::fs::write(dir.path().join("a.toml"), &src).expect("write");
    std::fs::write(dir.path().join("b.toml"), &src).expect("write");
    std::fs::write(dir.path().join("notes.txt"), "ignored").expect("write");
    let (surveys, diags) = load_dir(dir.path(), &defaults());
    assert_eq!(surveys.len(), 1);
    assert_eq!(diags.len(), 1);
    assert!(
        diags[0]
            .message
            .contains("survey id `pulse` is also used by")
    );
    let missing = validate_paths(&[dir.path().join("nope.toml")], &defaults());
    assert!(!missing.is_ok());
    assert!(
        missing.diagnostics[0]
            .message
            .starts_with("cannot read the file")
    );
}

#[test]
fn preview_reads_like_the_chat() {
    let p = load("pulse.toml");
    let de = render::preview(&p, Lang::De);
    assert!(
        de.starts_with("Neue Umfrage: 6 Fragen, ca. 2 Minuten\n\nPilot-Puls BundesMessenger\n"),
        "{de}"
    );
    assert!(de.contains("Die folgenden Aussagen beziehen sich auf: BundesMessenger\n\nFrage 1/6 · BundesMessenger: Die Funktionen dieses Systems erfüllen meine Anforderungen.\n\n1 – Stimme überhaupt nicht zu\n2\n3\n4\n5\n6\n7 – Stimme voll zu\n\nAntworten Sie mit der Nummer (1–7)."), "{de}");
    assert!(de.contains("Aufgabe: Einen Anruf starten\n\nFrage 4/6 · BundesMessenger: Wie schwierig oder einfach war es insgesamt, die Aufgabe zu erledigen?"), "{de}");
    assert!(de.contains("Frage 6/6: Möchten Sie uns noch etwas mitteilen?\n\nAntworten Sie mit einer Nachricht (höchstens 500 Zeichen). Diese Frage ist freiwillig – zum Überspringen „weiter“ senden."), "{de}");
    assert!(
        de.trim_end()
            .ends_with("Danke! Ihre Antworten sind gespeichert. Die Ergebnisse gibt es nach dem Ende der Umfrage nur als Gesamtzahlen.")
    );
    let en = render::preview(&load("pilot-baseline.toml"), Lang::En);
    assert!(
        en.starts_with("New survey: 20 questions, about 5 minutes"),
        "{en}"
    );
    assert!(en.contains("Question 19/20 · BundesMessenger: How likely is it that you would recommend BundesMessenger to a colleague?\n\n0 – Not at all likely\n1\n"), "{en}");
    let w = render::preview(&load("webex-comparison.toml"), Lang::En);
    assert!(
        w.starts_with("New survey: up to 21 questions, about 5 minutes"),
        "{w}"
    );
    assert!(w.contains("The following statements refer to: Webex\n\n(Only if question 11 was answered with “Yes”.)\nQuestion 12/21 · Webex: I think that I would like to use this system frequently."), "{w}");
    assert!(en.contains("send “skip” to skip it"));
}

#[test]
fn preview_notes_conditions() {
    let text = r#"
id = "c"
title = { de = "T", en = "T" }
intro = { de = "I", en = "I" }
[[blocks]]
type = "single"
id = "use"
text = { de = "Nutzen Sie Anrufe?", en = "Do you use calls?" }
options = [ { id = "yes", de = "Ja", en = "Yes" }, { id = "no", de = "Nein", en = "No" } ]
[[blocks]]
type = "text"
id = "why"
text = { de = "Warum nicht?", en = "Why not?" }
show_if = { item = "use", values = ["no"] }
"#;
    let s = parse_str("c.toml", text, &defaults()).expect("valid");
    let de = render::preview(&s, Lang::De);
    assert!(
        de.contains("(Nur wenn Frage 1 mit „Nein“ beantwortet wurde.)\nFrage 2/2: Warum nicht?"),
        "{de}"
    );
    let why = s.question("why").expect("why");
    assert!(!s.is_shown(why, |_| None));
    let no = Answer::Choice("no".into());
    assert!(s.is_shown(why, |id| (id == "use").then_some(&no)));
    let yes = Answer::Choice("yes".into());
    assert!(!s.is_shown(why, |id| (id == "use").then_some(&yes)));
}

#[test]
fn questions_serialize_for_persistence() {
    let p = load("pulse.toml");
    for q in p.questions() {
        let json = serde_json::to_string(q).expect("serialize");
        let back: Question = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(&back, q);
    }
    let json = serde_json::to_value(&p.questions()[0]).expect("serialize");
    assert_eq!(json["id"], "umux_bm.1");
    assert_eq!(json["kind"]["type"], "choice");
    assert_eq!(json["source"]["instrument"], "umux-lite");
}

#[test]
fn answers_flow_into_scores() {
    // A respondent answers the baseline SUS block by typing; the numeric values score.
    let b = load("pilot-baseline.toml");
    let typed = [
        "4",
        "2/5",
        "stimme voll zu",
        "1",
        "4",
        "2",
        "5",
        "1",
        "4",
        "2",
    ];
    let mut items = [None; 10];
    for (i, t) in typed.iter().enumerate() {
        let q = b.question(&format!("sus_bm.{}", i + 1)).expect("sus item");
        let a = parse_answer(q, t).expect("valid answer");
        items[i] = q.numeric_value(&a).map(|v| v as u8);
    }
    // Same answers as the hand-computed example in scoring.rs: 4,2,5,1,4,2,5,1,4,2 → 85.0.
    assert_eq!(scoring::sus(&items), Some(85.0));

    // The same through score_blocks, with the Webex SUS left unanswered and NPS = 8.
    let mut answers = std::collections::HashMap::new();
    for (i, t) in typed.iter().enumerate() {
        let id = format!("sus_bm.{}", i + 1);
        let q = b.question(&id).expect("sus item");
        answers.insert(id, parse_answer(q, t).expect("valid"));
    }
    answers.insert("recommend_bm.1".into(), Answer::Scale(8));
    let scores = scoring::score_blocks(&b, |id| answers.get(id));
    assert_eq!(
        scores[0],
        scoring::BlockScore::Sus {
            block: "sus_bm".into(),
            score: Some(85.0)
        }
    );
    assert_eq!(
        scores[1],
        scoring::BlockScore::UeqS {
            block: "ueq_bm".into(),
            scores: scoring::UeqS {
                pragmatic: None,
                hedonic: None,
                overall: None
            }
        }
    );
    assert_eq!(
        scores[2],
        scoring::BlockScore::Nps {
            block: "recommend_bm".into(),
            category: Some(scoring::NpsCategory::Passive)
        }
    );
}

#[test]
fn min_group_size_can_be_raised() {
    let text = "id = \"t\"\ntitle = { de = \"T\", en = \"T\" }\nintro = { de = \"I\", en = \"I\" }\nmin_group_size = 10\n[[blocks]]\ntype = \"nps\"\nsubject = \"X\"\n";
    let s = parse_str("t.toml", text, &defaults()).expect("valid");
    assert_eq!(s.min_group_size, 10);
    assert_eq!(s.blocks[0].id, "nps");
    assert_eq!(s.questions()[0].id, "nps.1");
}

fn survey_fragments() -> impl Strategy<Value = String> {
    // Pieces of real survey syntax, so random combinations get deep into the parser instead
    // of failing at the first byte.
    let pieces = prop::sample::select(vec![
        "id = \"x\"\n",
        "title = { de = \"T\", en = \"T\" }\n",
        "intro = { de = \"I\", en = \"I\" }\n",
        "[schedule]\n",
        "every = \"2 weeks\"\n",
        "weekday = \"tuesday\"\n",
        "time = \"10:00\"\n",
        "start = \"2025-03-04\"\n",
        "at = [2025-03-30T02:30:00]\n",
        "reminders = { after = [\"1 day\", \"9 days\"] }\n",
        "quiet_hours = { from = \"18:00\", to = \"08:00\" }\n",
        "timezone = \"Mars/Base\"\n",
        "[[blocks]]\n",
        "type = \"sus\"\n",
        "type = \"single\"\n",
        "type = \"text\"\n",
        "subject = \"X\"\n",
        "id = \"q1\"\n",
        "id = \"q2\"\n",
        "text = { de = \"F\", en = \"Q\" }\n",
        "options = [{ id = \"a\", de = \"A\", en = \"A\" }, { id = \"b\", de = \"B\" }]\n",
        "show_if = { item = \"q2\", values = [\"a\", 3] }\n",
        "show_if = { item = \"q1\", values = [\"a\"] }\n",
        "max_length = -1\n",
        "optional = 1.5\n",
        "min_group_size = 99999999999\n",
        "\"ü\" = \"\u{1F600}\"\n",
        "= \n",
        "[\n",
    ]);
    prop::collection::vec(pieces, 0..30).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary text never panics the parser, and every diagnostic has a position.
    #[test]
    fn parser_never_panics_on_arbitrary_text(text in "\\PC*") {
        if let Err(ds) = parse_str("fuzz.toml", &text, &defaults()) {
            prop_assert!(!ds.is_empty());
        }
    }

    /// Random combinations of survey fragments never panic either.
    #[test]
    fn parser_never_panics_on_survey_fragments(text in survey_fragments()) {
        match parse_str("fuzz.toml", &text, &defaults()) {
            Ok(s) => {
                // Whatever is accepted renders in both languages.
                prop_assert!(!render::preview(&s, Lang::De).is_empty());
                prop_assert!(!render::preview(&s, Lang::En).is_empty());
            }
            Err(ds) => prop_assert!(!ds.is_empty()),
        }
    }
}

/// A screening item and an instrument block behind it (issue 16, no forced ratings).
pub(crate) const SCREENED: &str = r#"
id = "screened"
title = { de = "T", en = "T" }
intro = { de = "I", en = "I" }
[[blocks]]
type = "sus"
id = "sus_bm"
subject = "BundesMessenger"
[[blocks]]
type = "single"
id = "uses_webex"
text = { de = "Nutzen Sie Webex bei der Arbeit?", en = "Do you use Webex at work?" }
options = [ { id = "yes", de = "Ja", en = "Yes" }, { id = "no", de = "Nein", en = "No" } ]
[[blocks]]
type = "sus"
id = "sus_webex"
subject = "Webex"
show_if = { item = "uses_webex", values = ["yes"] }
[[blocks]]
type = "nps"
id = "recommend"
subject = "BundesMessenger"
"#;

#[test]
fn show_if_on_an_instrument_block_applies_to_each_of_its_items() {
    let s = parse_str("screened.toml", SCREENED, &defaults()).expect("valid");
    let cond = ShowIf {
        item: "uses_webex".into(),
        values: vec!["yes".into()],
    };
    let webex: Vec<&Question> = s
        .questions()
        .iter()
        .filter(|q| q.id.starts_with("sus_webex."))
        .collect();
    assert_eq!(webex.len(), 10);
    assert!(webex.iter().all(|q| q.show_if.as_ref() == Some(&cond)));
    // The wording stays the published one, and nothing else is conditional.
    assert_eq!(
        webex[0].text,
        load("pilot-baseline.toml").questions()[0].text
    );
    assert!(
        s.questions()
            .iter()
            .filter(|q| !q.id.starts_with("sus_webex."))
            .all(|q| q.show_if.is_none())
    );
    let no = Answer::Choice("no".into());
    assert!(!s.is_shown(webex[3], |id| (id == "uses_webex").then_some(&no)));
    // The intro's count is an upper bound; the preview names the condition once.
    let de = render::preview(&s, Lang::De);
    assert!(
        de.starts_with("Neue Umfrage: bis zu 22 Fragen, ca. 5 Minuten"),
        "{de}"
    );
    assert_eq!(de.matches("(Nur wenn Frage 11 mit „Ja“").count(), 1, "{de}");
    let en = render::intro(&s, Lang::En, None);
    assert!(
        en.starts_with("New survey: up to 22 questions, about 5 minutes"),
        "{en}"
    );
}

#[test]
fn show_if_on_instrument_blocks_is_checked_like_on_items() {
    let with = |cond: &str| {
        SCREENED.replace(
            "show_if = { item = \"uses_webex\", values = [\"yes\"] }",
            cond,
        )
    };
    let first = |text: &str| match parse_str("s.toml", text, &defaults()) {
        Ok(_) => panic!("accepted:\n{text}"),
        Err(ds) => ds[0].to_string(),
    };
    let d = first(&with(
        "show_if = { item = \"uses_webex\", values = [\"maybe\"] }",
    ));
    assert_eq!(
        d,
        "s.toml:18:44: error: block `sus_webex`: `show_if` value `maybe` is not an answer of `uses_webex` — use one of: yes, no"
    );
    let d = first(&with(
        "show_if = { item = \"sus_webex.2\", values = [\"1\"] }",
    ));
    assert!(
        d.contains(
            "block `sus_webex`: `show_if` refers to `sus_webex.2`, an item of the block itself"
        ),
        "{d}"
    );
    let d = first(&with(
        "show_if = { item = \"recommend.1\", values = [\"1\"] }",
    ));
    assert!(d.contains("block `sus_webex`: `show_if` refers to `recommend.1`, which comes later in the survey — move `recommend.1` before `sus_webex`"), "{d}");
    let d = first(&with("show_if = { item = \"sus_bm\", values = [\"1\"] }"));
    assert!(
        d.contains("refers to block `sus_bm`, not to an item"),
        "{d}"
    );
    // `optional` stays refused: a block is skipped as a whole or answered as a whole.
    let d = first(&with("optional = true"));
    assert!(d.contains("cannot be changed (`optional`)"), "{d}");
}
