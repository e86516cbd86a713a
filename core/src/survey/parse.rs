//! From survey-file text to a validated [`Survey`], or every problem with its position.
//!
//! The parser walks the span-carrying tree of `survey::tree` key by key. It does not stop at
//! the first problem: a reviewer fixing a file wants the whole list at once. Checks that need
//! the whole survey (duplicate ids, `show_if` targets) run after all blocks are read.
//! Standard instruments come from `survey::instruments`; a block that tries to set their
//! wording, options or scale is refused with a message that says why. The `[schedule]`
//! section is handed to `crate::schedule::parse_schedule`.

use std::collections::HashMap;
use std::ops::Range;

use super::SurveyDefaults;
use super::diagnostics::{Diagnostic, Sink, line_col};
use super::instruments;
use super::model::{
    Block, BlockKind, ChoiceOption, Instrument, Mode, Question, QuestionKind, ShowIf, Source,
    Survey, Text,
};
use super::tree::{Entry, Kind, Node, Table, parse_document};

// ---------------------------------------------------------------------------------------
// Small typed readers shared with `crate::schedule`. Each reports a type mismatch itself
// and returns `None`, so callers only handle the happy path.

fn type_hint(expected: &str) -> &'static str {
    match expected {
        "a string" => "put the value in double quotes",
        "a boolean" => "write true or false without quotes",
        "an integer" => "write a whole number without quotes",
        "a table" => "write an inline table like { de = \"…\", en = \"…\" } or a [section]",
        _ => "see surveys/README.md for the format",
    }
}

fn mismatch(node: &Node, what: &str, expected: &str, sink: &mut Sink<'_>) {
    sink.error(
        &node.span,
        format!("{what} must be {expected}, found {}", node.kind.type_name()),
        type_hint(expected),
    );
}

/// The string in `node`, or a reported type error.
pub(crate) fn str_of<'t>(node: &'t Node, what: &str, sink: &mut Sink<'_>) -> Option<&'t str> {
    match &node.kind {
        Kind::Str(s) => Some(s),
        _ => {
            mismatch(node, what, "a string", sink);
            None
        }
    }
}

/// The integer in `node`, or a reported type error.
pub(crate) fn get_int(node: &Node, what: &str, sink: &mut Sink<'_>) -> Option<i64> {
    match &node.kind {
        Kind::Int(i) => Some(*i),
        _ => {
            mismatch(node, what, "an integer", sink);
            None
        }
    }
}

/// The boolean in `node`, or a reported type error.
pub(crate) fn get_bool(node: &Node, what: &str, sink: &mut Sink<'_>) -> Option<bool> {
    match &node.kind {
        Kind::Bool(b) => Some(*b),
        _ => {
            mismatch(node, what, "a boolean", sink);
            None
        }
    }
}

/// The table in `node`, or a reported type error.
pub(crate) fn table_of<'t>(node: &'t Node, what: &str, sink: &mut Sink<'_>) -> Option<&'t Table> {
    match &node.kind {
        Kind::Table(t) => Some(t),
        _ => {
            mismatch(node, what, "a table", sink);
            None
        }
    }
}

/// The string at `key` of `t` if present (type errors reported).
pub(crate) fn get_str<'t>(
    t: &'t Table,
    key: &str,
    ctx: &str,
    sink: &mut Sink<'_>,
) -> Option<(&'t str, &'t Range<usize>)> {
    let e = t.get(key)?;
    str_of(&e.value, &format!("{ctx}: `{key}`"), sink).map(|s| (s, &e.value.span))
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// Reports every key of `t` not in `allowed`, suggesting the nearest allowed key.
pub(crate) fn check_keys(t: &Table, allowed: &[&str], ctx: &str, sink: &mut Sink<'_>) {
    for e in &t.entries {
        if allowed.contains(&e.key.as_str()) {
            continue;
        }
        let near = allowed
            .iter()
            .map(|a| (edit_distance(&e.key, a), *a))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d);
        let hint = match near {
            Some((_, a)) => format!("did you mean `{a}`?"),
            None => format!("remove it; allowed here: {}", allowed.join(", ")),
        };
        sink.error(&e.key_span, format!("{ctx}: unknown key `{}`", e.key), hint);
    }
}

// ---------------------------------------------------------------------------------------

/// Checks an id: lower-case ASCII letters, digits, `_`, `-`, starting with a letter or digit,
/// at most 40 characters. Dots are reserved for instrument items (`sus_bm.3`).
fn id_problem(id: &str) -> Option<&'static str> {
    if id.is_empty() {
        Some("is empty")
    } else if id.len() > 40 {
        Some("is longer than 40 characters")
    } else if id.contains('.') {
        Some("contains a dot, which is reserved for instrument items like `sus_bm.3`")
    } else if !id
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        || id.starts_with(['_', '-'])
    {
        Some("may only use lower-case letters, digits, `_` and `-`")
    } else {
        None
    }
}

const ID_HINT: &str =
    "use a short id of lower-case letters, digits, `_` and `-`, e.g. `q3` or `sus_bm`";

struct Parser<'a, 's> {
    sink: &'s mut Sink<'a>,
    text: &'a str,
}

/// Where an id was defined, for duplicate and `show_if` messages.
struct IdSite {
    span: Range<usize>,
    /// Index of the question (None for an instrument block id).
    question: Option<usize>,
}

impl<'a> Parser<'a, '_> {
    fn err(&mut self, span: &Range<usize>, msg: String, hint: impl Into<String>) {
        self.sink.error(span, msg, hint);
    }

    /// A `{ de = "…", en = "…" }` text; reports missing or empty translations.
    fn text(
        &mut self,
        t: &Table,
        key: &str,
        ctx: &str,
        required: bool,
        at: &Range<usize>,
    ) -> Option<Text> {
        let Some(e) = t.get(key) else {
            if required {
                self.err(
                    at,
                    format!("{ctx}: `{key}` is missing"),
                    format!("add {key} = {{ de = \"…\", en = \"…\" }}"),
                );
            }
            return None;
        };
        let Kind::Table(tt) = &e.value.kind else {
            self.err(
                &e.value.span,
                format!("{ctx}: `{key}` must give the German and the English text"),
                format!("write {key} = {{ de = \"…\", en = \"…\" }}"),
            );
            return None;
        };
        check_keys(tt, &["de", "en"], &format!("{ctx}: `{key}`"), self.sink);
        let mut get = |lang: &str, name: &str| -> Option<String> {
            match tt.get(lang) {
                None => {
                    self.sink.error(
                        &e.value.span,
                        format!("{ctx}: `{key}` has no {name} version (`{lang}`)"),
                        format!(
                            "add {lang} = \"…\"; participants read every text in German or English"
                        ),
                    );
                    None
                }
                Some(v) => {
                    let s = str_of(&v.value, &format!("{ctx}: `{key}.{lang}`"), self.sink)?;
                    if s.trim().is_empty() {
                        self.sink.error(
                            &v.value.span,
                            format!("{ctx}: `{key}.{lang}` is empty"),
                            "write the text, or remove the item",
                        );
                        return None;
                    }
                    Some(s.trim().to_owned())
                }
            }
        };
        let de = get("de", "German");
        let en = get("en", "English");
        Some(Text::new(de?, en?))
    }

    fn id_at(&mut self, node: &Node, ctx: &str) -> Option<String> {
        let id = str_of(node, &format!("{ctx}: `id`"), self.sink)?;
        if let Some(p) = id_problem(id) {
            self.err(&node.span, format!("{ctx}: id `{id}` {p}"), ID_HINT);
            return None;
        }
        Some(id.to_owned())
    }

    fn line_of(&self, span: &Range<usize>) -> usize {
        line_col(self.text, span.start).0
    }
}

/// Keys that would change an instrument's wording, options or scale.
const INSTRUMENT_EDIT_KEYS: &[&str] = &[
    "text",
    "items",
    "item",
    "options",
    "points",
    "low",
    "high",
    "labels",
    "scale",
    "de",
    "en",
    "question",
    "questions",
    "wording",
    "optional",
    "reverse",
    "order",
    "max_length",
];

const CUSTOM_TYPES: &[&str] = &["likert", "single", "multi", "scale", "text"];

/// Parses and validates one survey file's text. `file` labels diagnostics.
pub fn parse_str(
    file: &str,
    text: &str,
    defaults: &SurveyDefaults,
) -> Result<Survey, Vec<Diagnostic>> {
    let mut sink = Sink::new(file, text);
    let Some(root) = parse_document(text, &mut sink) else {
        return Err(sink.diags);
    };
    let survey = {
        let mut p = Parser {
            sink: &mut sink,
            text,
        };
        parse_root(&mut p, &root, file, defaults)
    };
    match survey {
        Some(s) if sink.is_clean() => Ok(s),
        _ => {
            if sink.is_clean() {
                // Defensive: a `None` without a message would hide the problem.
                sink.diags.push(Diagnostic::whole_file(
                    file,
                    "the survey could not be read",
                    "check the file against surveys/README.md",
                ));
            }
            Err(sink.diags)
        }
    }
}

const ROOT_KEYS: &[&str] = &[
    "id",
    "title",
    "intro",
    "audience",
    "mode",
    "min_group_size",
    "post_summary",
    "schedule",
    "blocks",
];

fn parse_root(
    p: &mut Parser<'_, '_>,
    root: &Table,
    file: &str,
    d: &SurveyDefaults,
) -> Option<Survey> {
    check_keys(root, ROOT_KEYS, "survey", p.sink);
    let top = 0..0;
    let id = match root.get("id") {
        Some(e) => p.id_at(&e.value, "survey"),
        None => {
            p.err(
                &top,
                "survey: `id` is missing".into(),
                "add id = \"…\" at the top, e.g. id = \"pulse\"",
            );
            None
        }
    };
    let title = p.text(root, "title", "survey", true, &top);
    let intro = p.text(root, "intro", "survey", true, &top);

    let audience = match root.get("audience") {
        None => d.pilot_rooms.clone(),
        Some(e) => parse_audience(p, e, d),
    };
    let mode = match get_str(root, "mode", "survey", p.sink) {
        None => Mode::Anonymous,
        Some(("anonymous", _)) => Mode::Anonymous,
        Some(("pseudonymous", _)) => Mode::Pseudonymous,
        Some((other, span)) => {
            p.err(
                span,
                format!("survey: unknown mode `{other}`"),
                "write mode = \"anonymous\" (default) or mode = \"pseudonymous\"",
            );
            Mode::Anonymous
        }
    };
    let mut min_group_size = d.min_group_size;
    if let Some(e) = root.get("min_group_size")
        && let Some(n) = get_int(&e.value, "survey: `min_group_size`", p.sink)
    {
        match u32::try_from(n) {
                // Privacy: a survey may raise k but never lower it below what the staff
                // council agreed for the whole pilot (the config's global value).
                Ok(n) if n >= d.min_group_size && n >= 2 => min_group_size = n,
                _ => p.err(
                    &e.value.span,
                    format!(
                        "survey: `min_group_size = {n}` is below the configured minimum {}",
                        d.min_group_size
                    ),
                    "a survey may raise the minimum group size, never lower it; remove the key or use a larger number",
                ),
            }
    }
    let post_summary = match root.get("post_summary") {
        None => false,
        Some(e) => get_bool(&e.value, "survey: `post_summary`", p.sink).unwrap_or(false),
    };
    let schedule = crate::schedule::parse_schedule(root.get("schedule"), &d.timezone, p.sink);
    let (blocks, questions) = match root.get("blocks") {
        Some(e) => parse_blocks(p, e),
        None => {
            p.err(
                &top,
                "survey: no `[[blocks]]`".into(),
                "add at least one block, e.g. [[blocks]] type = \"sus\" subject = \"BundesMessenger\"",
            );
            (Vec::new(), Vec::new())
        }
    };
    Some(Survey {
        id: id?,
        file: file.to_owned(),
        title: title?,
        intro: intro?,
        audience,
        mode,
        min_group_size,
        post_summary,
        default_lang: d.language,
        schedule: schedule?,
        blocks,
        questions,
    })
}

fn parse_audience(p: &mut Parser<'_, '_>, e: &Entry, d: &SurveyDefaults) -> Vec<String> {
    let Kind::Array(items) = &e.value.kind else {
        mismatch(&e.value, "survey: `audience`", "a list of rooms", p.sink);
        return Vec::new();
    };
    if items.is_empty() {
        p.err(
            &e.value.span,
            "survey: `audience` is empty, nobody would be asked".into(),
            "list pilot rooms, or remove `audience` to ask all pilot rooms",
        );
    }
    let mut out = Vec::new();
    for it in items {
        let Some(room) = str_of(it, "survey: `audience` entry", p.sink) else {
            continue;
        };
        let looks_like_room = (room.starts_with('#') || room.starts_with('!'))
            && room.contains(':')
            && room.len() > 3;
        if !looks_like_room {
            p.err(
                &it.span,
                format!("survey: `{room}` is not a Matrix room"),
                "write a room alias like \"#pilot:example.org\" or a room id like \"!abc:example.org\"",
            );
        } else if !d.pilot_rooms.is_empty() && !d.pilot_rooms.iter().any(|r| r == room) {
            p.err(
                &it.span,
                format!("survey: room `{room}` is not one of the pilot rooms"),
                "use rooms listed in `bot.pilot_rooms` of the config",
            );
        } else if out.iter().any(|r| r == room) {
            p.err(
                &it.span,
                format!("survey: room `{room}` is listed twice"),
                "list each room once",
            );
        } else {
            out.push(room.to_owned());
        }
    }
    out
}

fn parse_blocks(p: &mut Parser<'_, '_>, e: &Entry) -> (Vec<Block>, Vec<Question>) {
    let mut blocks = Vec::new();
    let mut questions: Vec<Question> = Vec::new();
    let Kind::Array(items) = &e.value.kind else {
        p.err(
            &e.key_span,
            format!(
                "survey: `blocks` must be a list of tables, found {}",
                e.value.kind.type_name()
            ),
            "write each block as a [[blocks]] section",
        );
        return (blocks, questions);
    };
    if items.is_empty() {
        p.err(
            &e.value.span,
            "survey: `blocks` is empty".into(),
            "add at least one [[blocks]] section",
        );
    }
    // id → where it was defined (block ids and custom item ids share one namespace).
    let mut ids: HashMap<String, IdSite> = HashMap::new();
    // show_if conditions to resolve once every id is known.
    let mut pending: Vec<Pending> = Vec::new();

    for (n, node) in items.iter().enumerate() {
        let ctx0 = format!("block {}", n + 1);
        let Some(t) = table_of(node, &format!("survey: {ctx0}"), p.sink) else {
            continue;
        };
        let Some(te) = t.get("type") else {
            p.err(
                &node.span,
                format!("{ctx0}: `type` is missing"),
                "add type = \"sus\", \"umux-lite\", \"ueq-s\", \"nps\", \"seq\", \"likert\", \"single\", \"multi\", \"scale\" or \"text\"",
            );
            continue;
        };
        let Some(ty) = str_of(&te.value, &format!("{ctx0}: `type`"), p.sink) else {
            continue;
        };
        let first = questions.len();
        if let Some(instr) = Instrument::from_name(ty) {
            let Some((block, qs)) = parse_instrument_block(p, t, node, instr, &ctx0, &mut ids)
            else {
                continue;
            };
            let count = qs.len();
            questions.extend(qs);
            if let Some(s) = t.get("show_if") {
                pending.push(Pending {
                    questions: first..first + count,
                    block: Some(block.id.clone()),
                    entry: s.clone(),
                });
            }
            blocks.push(Block {
                first_question: first,
                question_count: count,
                ..block
            });
        } else if CUSTOM_TYPES.contains(&ty) {
            let Some((q, show_if)) = parse_custom(p, t, node, ty, &ctx0, &mut ids, first) else {
                continue;
            };
            if let Some(s) = show_if {
                pending.push(Pending {
                    questions: first..first + 1,
                    block: None,
                    entry: s,
                });
            }
            blocks.push(Block {
                id: q.id.clone(),
                kind: BlockKind::Custom,
                first_question: first,
                question_count: 1,
            });
            questions.push(q);
        } else {
            let lower = ty.to_lowercase().replace('_', "-");
            let hint = match Instrument::from_name(&lower) {
                Some(i) => format!("did you mean `{i}`?"),
                None => "use an instrument (sus, umux-lite, ueq-s, nps, seq) or a custom item (likert, single, multi, scale, text)".into(),
            };
            p.err(
                &te.value.span,
                format!("{ctx0}: unknown block type `{ty}`"),
                hint,
            );
        }
    }

    // Raw targets of every condition, for following chains when looking for cycles.
    let raw_targets: HashMap<String, String> = pending
        .iter()
        .filter_map(|c| {
            let Kind::Table(t) = &c.entry.value.kind else {
                return None;
            };
            let Kind::Str(target) = &t.get("item")?.value.kind else {
                return None;
            };
            Some(
                c.questions
                    .clone()
                    .map(|qi| (questions[qi].id.clone(), target.clone())),
            )
        })
        .flatten()
        .collect();
    for c in pending {
        if let Some(cond) = resolve_show_if(p, &questions, &ids, &raw_targets, &c) {
            // A block's condition holds for each of its items: the whole block is asked or
            // skipped, never a part of it (a partial instrument has no score).
            for qi in c.questions {
                questions[qi].show_if = Some(cond.clone());
            }
        }
    }
    (blocks, questions)
}

/// A `show_if` waiting for every id to be known: of one custom item, or of a whole
/// instrument block (then it applies to each of the block's questions).
struct Pending {
    /// The questions the condition applies to (one for a custom item).
    questions: Range<usize>,
    /// The instrument block's id, if it is a block's condition.
    block: Option<String>,
    entry: Entry,
}

fn register_id(
    p: &mut Parser<'_, '_>,
    ids: &mut HashMap<String, IdSite>,
    id: &str,
    span: &Range<usize>,
    question: Option<usize>,
    ctx: &str,
) -> bool {
    if let Some(prev) = ids.get(id) {
        let line = p.line_of(&prev.span);
        p.err(
            span,
            format!("{ctx}: duplicate id `{id}` (first used on line {line})"),
            "give every block and item its own id",
        );
        false
    } else {
        ids.insert(
            id.to_owned(),
            IdSite {
                span: span.clone(),
                question,
            },
        );
        true
    }
}

fn parse_instrument_block(
    p: &mut Parser<'_, '_>,
    t: &Table,
    node: &Node,
    instr: Instrument,
    ctx0: &str,
    ids: &mut HashMap<String, IdSite>,
) -> Option<(Block, Vec<Question>)> {
    let id_entry = t.get("id");
    let id = match id_entry {
        Some(e) => p.id_at(&e.value, ctx0),
        // Default id: the instrument name; a second block of the same instrument then
        // collides and the message asks for explicit ids.
        None => Some(instr.name().replace('-', "_")),
    };
    let ctx = format!("block `{}`", id.as_deref().unwrap_or(instr.name()));
    let before = p.sink.count();
    for e in &t.entries {
        if INSTRUMENT_EDIT_KEYS.contains(&e.key.as_str()) {
            p.err(
                &e.key_span,
                format!(
                    "{ctx}: the wording, order and scale of standard instrument `{instr}` cannot be changed (`{}`)",
                    e.key
                ),
                format!(
                    "remove `{}`: changed items invalidate the published norms; for your own statement add a custom `likert` item",
                    e.key
                ),
            );
        }
    }
    let allowed: &[&str] = if instr == Instrument::Seq {
        &["type", "id", "subject", "task", "show_if"]
    } else {
        &["type", "id", "subject", "show_if"]
    };
    let others: Vec<Entry> = t
        .entries
        .iter()
        .filter(|e| !INSTRUMENT_EDIT_KEYS.contains(&e.key.as_str()))
        .cloned()
        .collect();
    if instr != Instrument::Seq
        && let Some(task) = t.get("task")
    {
        p.err(
            &task.key_span,
            format!("{ctx}: `task` only applies to `seq`"),
            "remove `task`; the subject alone is announced",
        );
    }
    let others = Table {
        entries: others.into_iter().filter(|e| e.key != "task").collect(),
    };
    check_keys(&others, allowed, &ctx, p.sink);

    let subject = match get_str(t, "subject", &ctx, p.sink) {
        Some((s, span)) if s.trim().is_empty() => {
            p.err(
                span,
                format!("{ctx}: `subject` is empty"),
                "name the system, e.g. subject = \"Webex\"",
            );
            None
        }
        Some((s, _)) => Some(s.trim().to_owned()),
        None => {
            if t.get("subject").is_none() {
                p.err(
                    &node.span,
                    format!("{ctx}: `subject` is missing"),
                    "name the system the block is about, e.g. subject = \"BundesMessenger\"",
                );
            }
            None
        }
    };
    let task = if instr == Instrument::Seq {
        p.text(t, "task", &ctx, true, &node.span)
    } else {
        None
    };
    let id = id?;
    let span = id_entry.map_or_else(|| node.span.clone(), |e| e.value.span.clone());
    if !register_id(p, ids, &id, &span, None, &ctx) {
        return None;
    }
    if p.sink.count() != before {
        return None;
    }
    let subject = subject?;
    let qs = instruments::questions(instr, &id, &subject, task.as_ref());
    Some((
        Block {
            id,
            kind: BlockKind::Instrument {
                instrument: instr,
                subject,
                task,
            },
            first_question: 0,
            question_count: 0,
        },
        qs,
    ))
}

fn parse_options(
    p: &mut Parser<'_, '_>,
    t: &Table,
    ctx: &str,
    at: &Range<usize>,
) -> Option<Vec<ChoiceOption>> {
    let Some(e) = t.get("options") else {
        p.err(
            at,
            format!("{ctx}: `options` is missing"),
            "add options = [ { id = \"a\", de = \"…\", en = \"…\" }, … ] with 2 to 20 entries",
        );
        return None;
    };
    let Kind::Array(items) = &e.value.kind else {
        mismatch(
            &e.value,
            &format!("{ctx}: `options`"),
            "a list of options",
            p.sink,
        );
        return None;
    };
    if items.len() < 2 {
        p.err(
            &e.value.span,
            format!("{ctx}: {} option(s), at least 2 are needed", items.len()),
            "add options, or use a `text` item for open answers",
        );
        return None;
    }
    if items.len() > 20 {
        p.err(
            &items[20].span,
            format!("{ctx}: {} options, at most 20 are allowed", items.len()),
            "shorten the list (polls show at most 20 answers); split it into two questions if needed",
        );
        return None;
    }
    let before = p.sink.count();
    let mut out: Vec<ChoiceOption> = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let octx = format!("{ctx}: option {}", i + 1);
        let Some(ot) = table_of(it, &octx, p.sink) else {
            continue;
        };
        check_keys(ot, &["id", "de", "en", "value"], &octx, p.sink);
        let id = match ot.get("id") {
            Some(ie) => p.id_at(&ie.value, &octx),
            None => {
                p.err(
                    &it.span,
                    format!("{octx}: `id` is missing"),
                    "give each option a short stable id, e.g. { id = \"daily\", de = \"Täglich\", en = \"Daily\" }",
                );
                None
            }
        };
        let label = |lang: &str, name: &str, p: &mut Parser<'_, '_>| -> Option<String> {
            match get_str(ot, lang, &octx, p.sink) {
                Some((s, span)) if s.trim().is_empty() => {
                    p.err(
                        span,
                        format!("{octx}: `{lang}` is empty"),
                        "write the option text",
                    );
                    None
                }
                Some((s, _)) => Some(s.trim().to_owned()),
                None => {
                    if ot.get(lang).is_none() {
                        p.err(
                            &it.span,
                            format!("{octx}: no {name} text (`{lang}`)"),
                            format!("add {lang} = \"…\"; every option needs German and English"),
                        );
                    }
                    None
                }
            }
        };
        let de = label("de", "German", p);
        let en = label("en", "English", p);
        let value = ot.get("value").and_then(|v| {
            let n = get_int(&v.value, &format!("{octx}: `value`"), p.sink)?;
            match i32::try_from(n) {
                Ok(n) => Some(n),
                Err(_) => {
                    p.err(
                        &v.value.span,
                        format!("{octx}: `value` is out of range"),
                        "use a small whole number",
                    );
                    None
                }
            }
        });
        if let (Some(id), Some(de), Some(en)) = (id, de, en) {
            if out.iter().any(|o| o.id == id) {
                let span = ot
                    .get("id")
                    .map_or(it.span.clone(), |e| e.value.span.clone());
                p.err(
                    &span,
                    format!("{octx}: duplicate option id `{id}`"),
                    "give every option of the question its own id",
                );
                continue;
            }
            out.push(ChoiceOption {
                id,
                label: Text::new(de, en),
                value,
            });
        }
    }
    (p.sink.count() == before).then_some(out)
}

#[allow(clippy::too_many_arguments)]
fn parse_custom(
    p: &mut Parser<'_, '_>,
    t: &Table,
    node: &Node,
    ty: &str,
    ctx0: &str,
    ids: &mut HashMap<String, IdSite>,
    index: usize,
) -> Option<(Question, Option<Entry>)> {
    let id_entry = t.get("id");
    let id = match id_entry {
        Some(e) => p.id_at(&e.value, ctx0),
        None => {
            p.err(
                &node.span,
                format!("{ctx0}: item `id` is missing"),
                "give every custom item an id, e.g. id = \"q1\"",
            );
            None
        }
    };
    let ctx = format!("item `{}`", id.as_deref().unwrap_or(ctx0));
    let before = p.sink.count();
    let common = ["type", "id", "text", "optional", "show_if"];
    let extra: &[&str] = match ty {
        "likert" => &["points", "low", "high"],
        "single" => &["options"],
        "multi" => &["options", "max_selections"],
        "scale" => &["low", "high"],
        _ => &["max_length"],
    };
    let allowed: Vec<&str> = common.iter().chain(extra).copied().collect();
    check_keys(t, &allowed, &ctx, p.sink);
    let text = p.text(t, "text", &ctx, true, &node.span);
    let optional = t
        .get("optional")
        .and_then(|e| get_bool(&e.value, &format!("{ctx}: `optional`"), p.sink))
        .unwrap_or(false);
    let kind = match ty {
        "likert" => {
            let points = match t.get("points") {
                None => Some(5),
                Some(e) => match get_int(&e.value, &format!("{ctx}: `points`"), p.sink) {
                    Some(n @ (5 | 7)) => u8::try_from(n).ok(),
                    Some(n) => {
                        p.err(
                            &e.value.span,
                            format!("{ctx}: a likert item has 5 or 7 points, not {n}"),
                            "write points = 5 or points = 7",
                        );
                        None
                    }
                    None => None,
                },
            };
            let (dl, dh) = instruments::agreement_ends();
            let low = p.text(t, "low", &ctx, false, &node.span).unwrap_or(dl);
            let high = p.text(t, "high", &ctx, false, &node.span).unwrap_or(dh);
            points.map(|n| QuestionKind::Choice {
                options: instruments::point_options(n, &low, &high),
            })
        }
        "single" => {
            parse_options(p, t, &ctx, &node.span).map(|options| QuestionKind::Choice { options })
        }
        "multi" => parse_options(p, t, &ctx, &node.span).and_then(|options| {
            let count = options.len();
            let max = match t.get("max_selections") {
                None => Some(count),
                Some(e) => {
                    let n = get_int(&e.value, &format!("{ctx}: `max_selections`"), p.sink)?;
                    match usize::try_from(n) {
                        Ok(n) if (1..=count).contains(&n) => Some(n),
                        _ => {
                            p.err(
                                &e.value.span,
                                format!(
                                    "{ctx}: `max_selections = {n}` but there are {count} options"
                                ),
                                format!("use a number from 1 to {count}"),
                            );
                            None
                        }
                    }
                }
            }?;
            Some(QuestionKind::Multi {
                options,
                max_selections: u8::try_from(max).unwrap_or(20),
            })
        }),
        "scale" => {
            let low = p
                .text(t, "low", &ctx, false, &node.span)
                .unwrap_or_else(|| Text::new("überhaupt nicht", "not at all"));
            let high = p
                .text(t, "high", &ctx, false, &node.span)
                .unwrap_or_else(|| Text::new("voll und ganz", "completely"));
            Some(QuestionKind::Scale {
                min: 0,
                max: 10,
                low,
                high,
            })
        }
        _ => {
            let max_length = match t.get("max_length") {
                None => Some(500),
                Some(e) => match get_int(&e.value, &format!("{ctx}: `max_length`"), p.sink) {
                    Some(n) if (1..=5000).contains(&n) => u32::try_from(n).ok(),
                    Some(n) => {
                        p.err(
                            &e.value.span,
                            format!("{ctx}: `max_length = {n}` is out of range"),
                            "use a number of characters from 1 to 5000 (default 500)",
                        );
                        None
                    }
                    None => None,
                },
            };
            max_length.map(|max_length| QuestionKind::Text { max_length })
        }
    };
    let show_if = t.get("show_if").cloned();
    let id = id?;
    let span = id_entry.map_or_else(|| node.span.clone(), |e| e.value.span.clone());
    let registered = register_id(p, ids, &id, &span, Some(index), &ctx);
    if !registered || p.sink.count() != before {
        return None;
    }
    Some((
        Question {
            id,
            text: text?,
            context: None,
            kind: kind?,
            optional,
            show_if: None,
            source: Source::Custom,
            subject: None,
        },
        show_if,
    ))
}

/// Resolves `show_if` of question `qi`: the target must be an earlier choice, multi or scale
/// question and the values must be its option ids (or numbers of the scale).
fn resolve_show_if(
    p: &mut Parser<'_, '_>,
    questions: &[Question],
    ids: &HashMap<String, IdSite>,
    raw_targets: &HashMap<String, String>,
    cond: &Pending,
) -> Option<ShowIf> {
    let qi = cond.questions.start;
    let entry = &cond.entry;
    let own: Vec<&str> = questions[cond.questions.clone()]
        .iter()
        .map(|q| q.id.as_str())
        .collect();
    let (me, ctx) = match &cond.block {
        Some(b) => (b.clone(), format!("block `{b}`")),
        None => (
            questions[qi].id.clone(),
            format!("item `{}`", questions[qi].id),
        ),
    };
    let t = table_of(&entry.value, &format!("{ctx}: `show_if`"), p.sink)?;
    check_keys(t, &["item", "values"], &format!("{ctx}: `show_if`"), p.sink);
    let Some(ie) = t.get("item") else {
        p.err(
            &entry.value.span,
            format!("{ctx}: `show_if` has no `item`"),
            "write show_if = { item = \"q1\", values = [\"yes\"] }",
        );
        return None;
    };
    let target = str_of(&ie.value, &format!("{ctx}: `show_if.item`"), p.sink)?;
    let span = &ie.value.span;
    let tq = questions.iter().position(|q| q.id == target);
    match (tq, ids.get(target)) {
        _ if target == me && cond.block.is_some() => {
            p.err(
                span,
                format!("{ctx}: `show_if` refers to the block itself"),
                "refer to an item asked before the block, e.g. a `single` item \"Do you use …?\"",
            );
            return None;
        }
        _ if target == me => {
            p.err(
                span,
                format!("{ctx}: `show_if` refers to the item itself"),
                "refer to an item defined earlier in the survey",
            );
            return None;
        }
        _ if own.contains(&target) => {
            p.err(
                span,
                format!("{ctx}: `show_if` refers to `{target}`, an item of the block itself"),
                "a block is asked or skipped as a whole; refer to an item asked before the block, e.g. a `single` item \"Do you use …?\"",
            );
            return None;
        }
        (Some(ti), _) if ti > qi => {
            // A later target: a cycle if following its show_if chain leads back here.
            let mut chain = vec![me.clone(), target.to_owned()];
            let mut cur = target.to_owned();
            let mut cycle = false;
            while let Some(next) = raw_targets.get(&cur) {
                if *next == me || own.contains(&next.as_str()) {
                    chain.push(me.clone());
                    cycle = true;
                    break;
                }
                if chain.contains(next) {
                    break;
                }
                chain.push(next.clone());
                cur = next.clone();
            }
            if cycle {
                p.err(
                    span,
                    format!("{ctx}: `show_if` forms a cycle: {}", chain.join(" → ")),
                    "a condition may only refer to an item asked earlier; remove one of the conditions",
                );
            } else {
                p.err(
                    span,
                    format!(
                        "{ctx}: `show_if` refers to `{target}`, which comes later in the survey"
                    ),
                    format!("move `{target}` before `{me}`, or refer to an earlier item"),
                );
            }
            return None;
        }
        (Some(_), _) => {}
        (None, Some(site)) if site.question.is_none() => {
            p.err(
                span,
                format!("{ctx}: `show_if` refers to block `{target}`, not to an item"),
                format!("refer to one of its items, e.g. `{target}.1`"),
            );
            return None;
        }
        (None, _) => {
            p.err(
                span,
                format!("{ctx}: `show_if` refers to unknown item `{target}`"),
                "refer to the id of an item defined earlier in the survey",
            );
            return None;
        }
    }
    let target_q = questions.iter().find(|q| q.id == target)?;
    let valid: Vec<String> = match &target_q.kind {
        QuestionKind::Choice { options } | QuestionKind::Multi { options, .. } => {
            options.iter().map(|o| o.id.clone()).collect()
        }
        QuestionKind::Scale { min, max, .. } => (*min..=*max).map(|n| n.to_string()).collect(),
        QuestionKind::Text { .. } => {
            p.err(
                span,
                format!("{ctx}: `show_if` refers to free-text item `{target}`"),
                "conditions can only use choice, likert or scale items",
            );
            return None;
        }
    };
    let Some(ve) = t.get("values") else {
        p.err(
            &entry.value.span,
            format!("{ctx}: `show_if` has no `values`"),
            format!(
                "list the answers of `{target}` that make this item shown, e.g. values = [\"{}\"]",
                valid[0]
            ),
        );
        return None;
    };
    let Kind::Array(vals) = &ve.value.kind else {
        mismatch(
            &ve.value,
            &format!("{ctx}: `show_if.values`"),
            "a list",
            p.sink,
        );
        return None;
    };
    if vals.is_empty() {
        p.err(
            &ve.value.span,
            format!("{ctx}: `show_if.values` is empty"),
            "list at least one answer value",
        );
        return None;
    }
    let mut values = Vec::new();
    let mut ok = true;
    for v in vals {
        let s = match &v.kind {
            Kind::Str(s) => s.clone(),
            Kind::Int(i) => i.to_string(),
            other => {
                p.err(
                    &v.span,
                    format!(
                        "{ctx}: `show_if` value must be an option id or number, found {}",
                        other.type_name()
                    ),
                    "write option ids in quotes or scale points as numbers",
                );
                ok = false;
                continue;
            }
        };
        if !valid.contains(&s) {
            p.err(
                &v.span,
                format!("{ctx}: `show_if` value `{s}` is not an answer of `{target}`"),
                format!("use one of: {}", valid.join(", ")),
            );
            ok = false;
        } else if !values.contains(&s) {
            values.push(s);
        }
    }
    ok.then(|| ShowIf {
        item: target.to_owned(),
        values,
    })
}
