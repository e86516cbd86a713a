//! The event ids a running round has counted: what makes every answer count exactly once,
//! bounded so that a participant's junk cannot grow it.
//!
//! Why bounded, and why this bound: an event id is needed only while the event can come
//! again, and events come again only from the one sync batch the bot handled but had not yet
//! saved its position after (a crash) — at most the room's timeline plus a filled gap — or
//! from the short retry of an undecryptable event. The log keeps the newest
//! [`MAX_COUNTED`] ids of the round, far more than one batch of a direct chat holds in
//! practice; a participant who floods their chat with junk therefore costs a fixed amount
//! of state, not one entry per message.
//!
//! Each entry also remembers which question the event answered, if it was an answer and is
//! still the latest one for that question: an edit (`m.replace`) or a redaction of that
//! event then changes or withdraws exactly that answer (issue 14).
//!
//! On disk the log is a sequence of strings, oldest first: `"<event id>"` or
//! `"<event id> <item id>"` (neither contains a space: event ids are opaque ids the
//! homeserver makes, item ids are checked by the survey parser). Schema-5 stores kept a
//! sorted set of bare ids, which reads as a log of entries without items.

use std::collections::VecDeque;

/// The newest this many counted ids are kept per participant and round.
pub const MAX_COUNTED: usize = 1024;

/// The counted event ids of one conversation, oldest first (see the module docs).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counted {
    entries: VecDeque<String>,
}

fn split(entry: &str) -> (&str, Option<&str>) {
    match entry.split_once(' ') {
        Some((id, item)) => (id, Some(item)),
        None => (entry, None),
    }
}

impl Counted {
    /// The log as stored (see the module docs).
    pub fn from_raw(entries: Vec<String>) -> Counted {
        let mut c = Counted {
            entries: entries.into(),
        };
        c.trim();
        c
    }

    /// The entries as stored, oldest first.
    pub fn raw(&self) -> impl Iterator<Item = &str> {
        self.entries.iter().map(String::as_str)
    }

    /// How many entries the log holds (at most [`MAX_COUNTED`]).
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing was counted yet.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Whether `event_id` (or a marker) was counted.
    pub fn contains(&self, event_id: &str) -> bool {
        self.entries.iter().any(|e| split(e).0 == event_id)
    }

    /// Counts `event_id`; `answered` is the question it answered (it becomes the latest
    /// answer event of that question, so an older event no longer speaks for it).
    pub fn insert(&mut self, event_id: &str, answered: Option<&str>) {
        if self.contains(event_id) {
            return;
        }
        match answered {
            Some(item) => {
                self.forget_answer(item);
                self.entries.push_back(format!("{event_id} {item}"));
            }
            None => self.entries.push_back(event_id.to_owned()),
        }
        self.trim();
    }

    /// The question `event_id` answered, if it is still that question's latest answer event.
    pub fn answered_item(&self, event_id: &str) -> Option<&str> {
        self.entries
            .iter()
            .map(|e| split(e))
            .find(|(id, _)| *id == event_id)
            .and_then(|(_, item)| item)
    }

    /// No event speaks for `item` any more (its answer was withdrawn or replaced).
    pub fn forget_answer(&mut self, item: &str) {
        for e in self.entries.iter_mut() {
            if let (id, Some(i)) = split(e)
                && i == item
            {
                *e = id.to_owned();
            }
        }
    }

    fn trim(&mut self) {
        while self.entries.len() > MAX_COUNTED {
            self.entries.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_once_and_remembers_the_latest_answer_of_each_question() {
        let mut c = Counted::default();
        c.insert("$a", Some("q1"));
        c.insert("$b", None);
        c.insert("$c", Some("q1"));
        assert!(c.contains("$a") && c.contains("$b") && c.contains("$c"));
        assert_eq!(c.answered_item("$a"), None, "replaced by $c");
        assert_eq!(c.answered_item("$c"), Some("q1"));
        c.insert("$c", Some("q2"));
        assert_eq!(
            c.answered_item("$c"),
            Some("q1"),
            "a second insert changes nothing"
        );
        c.forget_answer("q1");
        assert_eq!(c.answered_item("$c"), None);
        assert!(c.contains("$c"));
    }

    #[test]
    fn the_log_is_bounded_and_drops_the_oldest() {
        let mut c = Counted::default();
        for i in 0..(MAX_COUNTED + 500) {
            c.insert(&format!("$e{i}"), None);
        }
        assert_eq!(c.len(), MAX_COUNTED);
        assert!(!c.contains("$e0"));
        assert!(c.contains(&format!("$e{}", MAX_COUNTED + 499)));
    }

    #[test]
    fn reads_what_schema_5_stored_and_round_trips() {
        let c = Counted::from_raw(vec!["$a".into(), "$b q1".into()]);
        assert!(c.contains("$a") && c.contains("$b"));
        assert_eq!(c.answered_item("$b"), Some("q1"));
        let raw: Vec<String> = c.raw().map(str::to_owned).collect();
        assert_eq!(Counted::from_raw(raw), c);
    }
}
