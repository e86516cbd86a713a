//! Problems found in survey files, each with a position and a remedy.
//!
//! A [`Diagnostic`] is what `pulsebot validate` prints: `file:line:column: error: what is
//! wrong — what to do`. Positions are computed from byte offsets of the TOML parser's spans;
//! lines and columns are 1-based and columns count characters (not bytes), so an umlaut
//! earlier on the line does not shift the caret.

use std::fmt;
use std::ops::Range;

/// One problem in one survey file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The file as the user named it (or a label such as `<stdin>`).
    pub file: String,
    /// 1-based line; 0 when the problem concerns the file as a whole (e.g. unreadable).
    pub line: usize,
    /// 1-based column in characters; 0 when `line` is 0.
    pub column: usize,
    /// What is wrong, e.g. "item `q3`: `show_if` refers to unknown item `q9`".
    pub message: String,
    /// What to do about it, e.g. "refer to an item defined earlier in the survey".
    pub hint: String,
}

impl Diagnostic {
    /// A diagnostic without a position (unreadable file, duplicate survey id across files).
    pub fn whole_file(file: &str, message: impl Into<String>, hint: impl Into<String>) -> Self {
        Diagnostic {
            file: file.to_owned(),
            line: 0,
            column: 0,
            message: message.into(),
            hint: hint.into(),
        }
    }

    /// The `line:column: message — hint` form used by the corpus `.expected` files.
    pub fn short(&self) -> String {
        format!(
            "{}:{}: {} — {}",
            self.line, self.column, self.message, self.hint
        )
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: error: {} — {}", self.file, self.message, self.hint)
        } else {
            write!(
                f,
                "{}:{}:{}: error: {} — {}",
                self.file, self.line, self.column, self.message, self.hint
            )
        }
    }
}

impl std::error::Error for Diagnostic {}

/// Collects diagnostics for one file and turns byte offsets into line/column.
#[derive(Debug)]
pub(crate) struct Sink<'a> {
    file: &'a str,
    text: &'a str,
    pub(crate) diags: Vec<Diagnostic>,
}

impl<'a> Sink<'a> {
    pub(crate) fn new(file: &'a str, text: &'a str) -> Self {
        Sink {
            file,
            text,
            diags: Vec::new(),
        }
    }

    /// Records an error at the start of `span`.
    pub(crate) fn error(&mut self, span: &Range<usize>, message: String, hint: impl Into<String>) {
        let (line, column) = line_col(self.text, span.start);
        self.diags.push(Diagnostic {
            file: self.file.to_owned(),
            line,
            column,
            message,
            hint: hint.into(),
        });
    }

    /// True when nothing has been reported yet.
    pub(crate) fn is_clean(&self) -> bool {
        self.diags.is_empty()
    }

    /// The number of diagnostics so far (lets a caller check whether a sub-parse added any).
    pub(crate) fn count(&self) -> usize {
        self.diags.len()
    }
}

/// 1-based line and character column of byte `offset` in `text` (clamped to the text).
pub(crate) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    // A span from the parser always lies on a char boundary, but be defensive: never panic.
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before[line_start..].chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_chars_not_bytes() {
        let t = "a = 1\nü = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        // 'ü' is two bytes; the '=' after "ü " is character column 3.
        assert_eq!(line_col(t, 9), (2, 3));
        assert_eq!(line_col(t, 999), (3, 1));
    }

    #[test]
    fn display_has_position_and_remedy() {
        let d = Diagnostic {
            file: "surveys/x.toml".into(),
            line: 3,
            column: 5,
            message: "unknown key `foo`".into(),
            hint: "remove it".into(),
        };
        assert_eq!(
            d.to_string(),
            "surveys/x.toml:3:5: error: unknown key `foo` — remove it"
        );
        assert_eq!(d.short(), "3:5: unknown key `foo` — remove it");
    }
}
