//! A small TOML value tree that remembers where every key and value stood in the file.
//!
//! `toml_edit`'s immutable document keeps byte spans; we copy what the survey parser needs
//! into this simpler tree so the parser (and the schedule parser in `crate::schedule`) can
//! report every problem with its position, and can look at unknown keys instead of stopping
//! at the first one as serde's `deny_unknown_fields` would. This module does no validation
//! beyond TOML syntax.

use std::ops::Range;

use toml_edit::{ImDocument, Item, Value};

use super::diagnostics::Sink;

/// A value with the byte range it occupies in the source.
#[derive(Debug, Clone)]
pub(crate) struct Node {
    pub(crate) span: Range<usize>,
    pub(crate) kind: Kind,
}

/// The TOML value kinds.
#[derive(Debug, Clone)]
pub(crate) enum Kind {
    Str(String),
    Int(i64),
    /// A float; no survey key takes one, so only its type matters.
    Float,
    Bool(bool),
    /// A TOML date, time or date-time, kept in its TOML spelling (e.g. `2025-03-04T10:00:00`).
    Datetime(String),
    Array(Vec<Node>),
    Table(Table),
}

/// A table's entries in file order.
#[derive(Debug, Clone, Default)]
pub(crate) struct Table {
    pub(crate) entries: Vec<Entry>,
}

/// One `key = value` of a table.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub(crate) key: String,
    pub(crate) key_span: Range<usize>,
    pub(crate) value: Node,
}

impl Table {
    /// The entry for `key`, if present.
    pub(crate) fn get(&self, key: &str) -> Option<&Entry> {
        self.entries.iter().find(|e| e.key == key)
    }
}

impl Kind {
    /// The TOML type name used in messages ("expected a string, found an integer").
    pub(crate) fn type_name(&self) -> &'static str {
        match self {
            Kind::Str(_) => "a string",
            Kind::Int(_) => "an integer",
            Kind::Float => "a float",
            Kind::Bool(_) => "a boolean",
            Kind::Datetime(_) => "a date/time",
            Kind::Array(_) => "an array",
            Kind::Table(_) => "a table",
        }
    }
}

/// Parses `text` as TOML; on a syntax error reports it (with position) and returns `None`.
pub(crate) fn parse_document(text: &str, sink: &mut Sink<'_>) -> Option<Table> {
    match ImDocument::parse(text) {
        Ok(doc) => Some(convert_table(doc.as_table(), 0..0).0),
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            // toml_edit's message is multi-line ("invalid table header\nexpected ..."); keep it
            // on one line so the diagnostic stays one line.
            let msg = e
                .message()
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .collect::<Vec<_>>()
                .join("; ");
            sink.error(
                &span,
                format!("this is not valid TOML: {msg}"),
                "fix the TOML syntax (quotes around text, `key = value`, one `[[blocks]]` header per block)",
            );
            None
        }
    }
}

fn convert_table(t: &toml_edit::Table, fallback: Range<usize>) -> (Table, Range<usize>) {
    let span = t.span().unwrap_or(fallback);
    let mut entries = Vec::new();
    for (k, _) in t.iter() {
        let Some((key, item)) = t.get_key_value(k) else {
            continue;
        };
        let key_span = key.span().unwrap_or_else(|| span.clone());
        if let Some(value) = convert_item(item, key_span.clone()) {
            entries.push(Entry {
                key: k.to_owned(),
                key_span,
                value,
            });
        }
    }
    (Table { entries }, span)
}

fn convert_item(item: &Item, fallback: Range<usize>) -> Option<Node> {
    match item {
        Item::None => None,
        Item::Value(v) => Some(convert_value(v, fallback)),
        Item::Table(t) => {
            let (table, span) = convert_table(t, fallback);
            Some(Node {
                span,
                kind: Kind::Table(table),
            })
        }
        Item::ArrayOfTables(a) => {
            let span = a.span().unwrap_or_else(|| fallback.clone());
            let nodes = a
                .iter()
                .map(|t| {
                    let (table, span) = convert_table(t, fallback.clone());
                    Node {
                        span,
                        kind: Kind::Table(table),
                    }
                })
                .collect();
            Some(Node {
                span,
                kind: Kind::Array(nodes),
            })
        }
    }
}

fn convert_value(v: &Value, fallback: Range<usize>) -> Node {
    let span = v.span().unwrap_or_else(|| fallback.clone());
    let kind = match v {
        Value::String(s) => Kind::Str(s.value().clone()),
        Value::Integer(i) => Kind::Int(*i.value()),
        Value::Float(_) => Kind::Float,
        Value::Boolean(b) => Kind::Bool(*b.value()),
        Value::Datetime(d) => Kind::Datetime(d.value().to_string()),
        Value::Array(a) => Kind::Array(a.iter().map(|v| convert_value(v, span.clone())).collect()),
        Value::InlineTable(t) => {
            let mut entries = Vec::new();
            for (k, _) in t.iter() {
                let Some((key, item)) = t.get_key_value(k) else {
                    continue;
                };
                let key_span = key.span().unwrap_or_else(|| span.clone());
                if let Some(value) = convert_item(item, key_span.clone()) {
                    entries.push(Entry {
                        key: k.to_owned(),
                        key_span,
                        value,
                    });
                }
            }
            Kind::Table(Table { entries })
        }
    };
    Node { span, kind }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::survey::diagnostics::line_col;

    #[test]
    fn keeps_key_and_value_positions() {
        let text = "id = \"x\"\n[schedule]\nevery = \"2 weeks\"\n[[blocks]]\ntype = \"sus\"\n";
        let mut sink = Sink::new("t.toml", text);
        let t = parse_document(text, &mut sink).expect("valid TOML");
        let e = t.get("schedule").expect("schedule");
        let Kind::Table(s) = &e.value.kind else {
            panic!("table")
        };
        let every = s.get("every").expect("every");
        assert_eq!(line_col(text, every.key_span.start), (3, 1));
        assert_eq!(line_col(text, every.value.span.start), (3, 9));
        let Kind::Array(blocks) = &t.get("blocks").expect("blocks").value.kind else {
            panic!("array")
        };
        let Kind::Table(b) = &blocks[0].kind else {
            panic!("table")
        };
        assert_eq!(
            line_col(text, b.get("type").expect("type").key_span.start),
            (5, 1)
        );
    }

    #[test]
    fn syntax_error_has_position() {
        let text = "id = \"x\"\ntitle = \n";
        let mut sink = Sink::new("t.toml", text);
        assert!(parse_document(text, &mut sink).is_none());
        assert_eq!(sink.diags.len(), 1);
        assert_eq!(sink.diags[0].line, 2);
    }
}
