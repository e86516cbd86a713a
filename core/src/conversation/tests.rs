//! Scenario tests of the conversation: whole rounds through the pure state machine with
//! the shipped surveys and small inline ones, consent and commands, and property tests of
//! the answer path. (The test that drives the bot's real `record_answer` with this closure
//! shape lives with the bot: `src/store/tests/conversation.rs`.)

use std::path::Path;

use proptest::prelude::*;

use super::*;
use crate::lang::Lang;
use crate::model::{AnswerValue, ConsentState, ConversationState};
use crate::survey::{self, AnswerError, Survey, SurveyDefaults};

fn load(name: &str) -> Survey {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../surveys")
        .join(name);
    match survey::load_file(&path, &SurveyDefaults::default()) {
        Ok(s) => s,
        Err(d) => panic!("{name} does not load: {d:?}"),
    }
}

/// Every custom kind, two conditional branches and a chained condition.
const MINI: &str = r#"
id = "mini"
title = { de = "Mini", en = "Mini" }
intro = { de = "Kurz.", en = "Short." }
[schedule]
manual = true

[[blocks]]
type = "single"
id = "usage"
text = { de = "Wie oft nutzen Sie BundesMessenger?", en = "How often do you use BundesMessenger?" }
options = [
  { id = "daily", de = "Täglich", en = "Daily" },
  { id = "weekly", de = "Wöchentlich", en = "Weekly" },
  { id = "rarely", de = "Selten", en = "Rarely" },
]

[[blocks]]
type = "multi"
id = "features"
text = { de = "Welche Funktionen nutzen Sie?", en = "Which features do you use?" }
max_selections = 2
options = [
  { id = "chat", de = "Chat", en = "Chat" },
  { id = "files", de = "Dateien", en = "Files" },
  { id = "calls", de = "Anrufe", en = "Calls" },
]
show_if = { item = "usage", values = ["daily", "weekly"] }

[[blocks]]
type = "single"
id = "rare_reason"
text = { de = "Warum selten?", en = "Why rarely?" }
options = [
  { id = "time", de = "Keine Zeit", en = "No time" },
  { id = "other", de = "Anderes", en = "Other" },
]
show_if = { item = "usage", values = ["rarely"] }

[[blocks]]
type = "text"
id = "rare_other"
optional = true
max_length = 50
text = { de = "Was genau?", en = "What exactly?" }
show_if = { item = "rare_reason", values = ["other"] }

[[blocks]]
type = "likert"
id = "notify"
optional = true
text = { de = "Die Benachrichtigungen sind hilfreich.", en = "The notifications are helpful." }

[[blocks]]
type = "scale"
id = "overall"
text = { de = "Wie zufrieden sind Sie insgesamt?", en = "How satisfied are you overall?" }
low = { de = "überhaupt nicht", en = "not at all" }
high = { de = "voll und ganz", en = "completely" }

[[blocks]]
type = "text"
id = "comment"
optional = true
max_length = 40
text = { de = "Was sollten wir wissen?", en = "What should we know?" }
"#;

fn mini() -> Survey {
    match survey::parse_str("mini.toml", MINI, &SurveyDefaults::default()) {
        Ok(s) => s,
        Err(d) => panic!("inline survey does not parse: {d:?}"),
    }
}

/// A participant's DM as the Matrix layer would drive it: messages are "sent", polls get
/// event ids and are registered, answers go through `step`.
struct Sim<'a> {
    round: Round<'a>,
    state: ConversationState,
    sent: Vec<Outgoing>,
    polls: Vec<(String, String)>,
    finished: bool,
}

impl<'a> Sim<'a> {
    fn new(survey: &'a Survey, lang: Lang) -> Self {
        let round = Round::new(survey, lang);
        let (state, out) = start(&round);
        assert_eq!(state, ConversationState::default(), "start_round's state");
        let mut sim = Sim {
            round,
            state,
            sent: Vec::new(),
            polls: Vec::new(),
            finished: false,
        };
        sim.deliver(out);
        sim
    }

    fn deliver(&mut self, out: Vec<Outgoing>) {
        for m in out {
            let event_id = format!("$ev{}", self.sent.len());
            if register_sent(&mut self.state, &event_id, &m)
                && let Context::Question(item) = m.context()
            {
                self.polls.push((item.clone(), event_id));
            }
            self.sent.push(m);
        }
    }

    fn send(&mut self, input: Input) -> Step {
        assert!(!self.finished, "input after finish");
        let s = step(&self.state, &self.round, &input);
        self.state = s.state.clone();
        self.deliver(s.outgoing.clone());
        self.finished = s.finish;
        s
    }

    fn typed(&mut self, body: &str) -> Step {
        self.send(Input::Text(body.to_owned()))
    }

    fn poll_of(&self, item: &str) -> String {
        self.polls
            .iter()
            .rev()
            .find(|(i, _)| i == item)
            .map(|(_, e)| e.clone())
            .unwrap_or_else(|| panic!("no poll for {item}"))
    }

    fn vote(&mut self, item: &str, ids: &[&str]) -> Step {
        let poll_event_id = self.poll_of(item);
        self.send(Input::PollVote {
            poll_event_id,
            answer_ids: ids.iter().map(|s| (*s).to_owned()).collect(),
        })
    }

    /// The item of the last question sent.
    fn asked(&self) -> String {
        self.sent
            .iter()
            .rev()
            .find_map(|m| match m.context() {
                Context::Question(i) => Some(i.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    /// Progress ("i/N") of every question message sent, in order.
    fn progress_seen(&self) -> Vec<(usize, usize)> {
        self.sent
            .iter()
            .filter(|m| matches!(m.context(), Context::Question(_)))
            .filter_map(|m| progress_of(m.body()))
            .collect()
    }

    fn answer(&self, item: &str) -> Option<&AnswerValue> {
        self.state.answers.get(item)
    }
}

/// Parses "Frage 3/10:" / "Question 3/10:" at the start of a question's first line that
/// has one (a context line may come first).
fn progress_of(body: &str) -> Option<(usize, usize)> {
    let rest = body.lines().find_map(|l| {
        l.strip_prefix("Frage ")
            .or_else(|| l.strip_prefix("Question "))
    })?;
    let (frac, _) = rest.split_once(':')?;
    // "14/31 · Webex": the system an instrument item is about follows the numbers.
    let frac = frac.split(" · ").next()?;
    let (i, n) = frac.split_once('/')?;
    Some((i.parse().ok()?, n.parse().ok()?))
}

fn assert_progress_sane(seen: &[(usize, usize)]) {
    for w in seen.windows(2) {
        assert!(w[1].0 >= w[0].0, "progress went backwards: {seen:?}");
    }
    for (i, n) in seen {
        assert!(*i >= 1 && i <= n, "progress out of range: {seen:?}");
    }
}

fn hint_text(s: &Step) -> &str {
    s.outgoing.first().map(Outgoing::body).unwrap_or_default()
}

#[test]
fn pilot_baseline_round_by_poll_with_typed_numbers_and_text() {
    let survey = load("pilot-baseline.toml");
    let mut sim = Sim::new(&survey, Lang::De);
    let n = survey.questions().len();
    assert!(sim.sent[0].body().starts_with(&format!(
        "Neue Umfrage: {n} Fragen, ca. {} Minuten",
        survey.estimated_minutes()
    )));
    // The first SUS item comes with its subject announcement in the same event, a poll.
    assert!(matches!(sim.sent[1].context(), Context::Question(i) if i == "sus_bm.1"));
    let Outgoing::Poll { poll, .. } = &sim.sent[1] else {
        panic!("choice questions are polls");
    };
    assert!(
        poll.question
            .starts_with("Die folgenden Aussagen beziehen sich auf: BundesMessenger.\n\nFrage 1/"),
        "{}",
        poll.question
    );
    assert!(poll.fallback.starts_with("Die folgenden Aussagen"));
    assert_eq!(poll.answers.len(), 5);
    assert!(poll.disclosed && poll.max_selections == 1);
    assert!(poll.fallback.contains("\n1 – Stimme überhaupt nicht zu\n"));

    // Alternate poll votes and typed numbers through every choice and scale item.
    let mut k = 0;
    while !sim.finished {
        let item = sim.asked();
        let q = survey
            .question(&item)
            .cloned()
            .expect("asked question exists");
        let step = match (&q.kind, k % 2) {
            (survey::QuestionKind::Text { .. }, _) if item == "obstacle" => {
                sim.typed("  Die Suche findet ältere Nachrichten nicht 😕 – äöüß  ")
            }
            (survey::QuestionKind::Text { .. }, _) => sim.typed("überspringen"),
            (survey::QuestionKind::Scale { .. }, 0) => sim.vote(&item, &["9"]),
            (survey::QuestionKind::Scale { .. }, _) => sim.typed("9/10"),
            (_, 0) => sim.vote(&item, &["4"]),
            (_, _) => sim.typed("4/5"),
        };
        assert_eq!(step.outcome, Outcome::Answered { item: item.clone() });
        k += 1;
    }
    assert_eq!(k, n);
    assert_eq!(sim.state.answers.len(), n);
    assert_eq!(
        sim.answer("sus_bm.1"),
        Some(&AnswerValue::Choice("4".into()))
    );
    assert_eq!(
        sim.answer("sus_bm.2"),
        Some(&AnswerValue::Choice("4".into()))
    );
    assert_eq!(sim.answer("recommend_bm.1"), Some(&AnswerValue::Number(9)));
    assert_eq!(
        sim.answer("obstacle"),
        Some(&AnswerValue::Text(
            "Die Suche findet ältere Nachrichten nicht 😕 – äöüß".into()
        ))
    );

    // The thanks is the last message and the one closing message: answered polls get no
    // end of their own (issue 17), so the round cost the intro, one event per question and
    // the thanks.
    assert_eq!(
        sim.sent.last().map(Outgoing::context),
        Some(&Context::Thanks)
    );
    assert!(
        !sim.sent
            .iter()
            .any(|m| matches!(m, Outgoing::PollEnd { .. })),
        "a poll end after finishing"
    );
    assert_eq!(sim.sent.len(), n + 2);
    // Progress 1/N … N/N, one step at a time.
    let seen = sim.progress_seen();
    let want: Vec<(usize, usize)> = (1..=n).map(|i| (i, n)).collect();
    assert_eq!(seen, want);
}

#[test]
fn pulse_round_in_english_with_context_lines() {
    let survey = load("pulse.toml");
    let mut sim = Sim::new(&survey, Lang::En);
    assert!(sim.sent[0].body().starts_with("New survey: "));
    while !sim.finished {
        let item = sim.asked();
        if item == "comment" {
            sim.typed("Works well 👍");
        } else {
            sim.typed("6");
        }
    }
    // UMUX-Lite subject plus three SEQ tasks, each in front of its question's text in the
    // question's own event, none as a message of its own.
    assert!(
        !sim.sent
            .iter()
            .any(|m| matches!(m.context(), Context::Info(_))),
        "a context line in a message of its own"
    );
    let led: Vec<&str> = sim
        .sent
        .iter()
        .filter(|m| matches!(m.context(), Context::Question(_)))
        .filter(|m| m.body().starts_with("The following"))
        .map(Outgoing::body)
        .collect();
    assert_eq!(led.len(), 4, "{led:?}");
    assert!(
        led.iter().any(|b| b.starts_with(
            "The following question refers to: BundesMessenger – task: Sending a file.\n\nQuestion "
        )),
        "{led:?}"
    );
    assert_eq!(
        sim.answer("comment"),
        Some(&AnswerValue::Text("Works well 👍".into()))
    );
    assert!(sim.sent.iter().any(|m| m.body().starts_with("Thank you!")));
}

#[test]
fn every_custom_kind_by_poll_and_typed_with_skip_and_branch() {
    let survey = mini();
    // By poll.
    let mut a = Sim::new(&survey, Lang::De);
    assert_eq!(a.asked(), "usage");
    a.vote("usage", &["weekly"]);
    assert_eq!(a.asked(), "features");
    a.vote("features", &["calls", "chat"]);
    assert_eq!(a.asked(), "notify"); // rare_reason and rare_other are hidden
    a.vote("notify", &["2"]);
    a.vote("overall", &["10"]);
    assert_eq!(a.asked(), "comment");
    let s = a.typed("-");
    assert!(s.finish);
    assert_eq!(
        a.state.answers,
        [
            ("usage", AnswerValue::Choice("weekly".into())),
            (
                "features",
                AnswerValue::Multi(vec!["chat".into(), "calls".into()])
            ),
            ("notify", AnswerValue::Choice("2".into())),
            ("overall", AnswerValue::Number(10)),
            ("comment", AnswerValue::Skipped),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    );
    assert_progress_sane(&a.progress_seen());
    // All questions may come at first; the hidden branch leaves the count.
    assert_eq!(
        a.progress_seen(),
        vec![(1, 7), (2, 5), (3, 5), (4, 5), (5, 5)]
    );

    // Typed, the other branch (chain: rare_reason = other shows rare_other).
    let mut b = Sim::new(&survey, Lang::En);
    b.typed("3");
    assert_eq!(b.asked(), "rare_reason");
    b.typed("Other");
    assert_eq!(b.asked(), "rare_other");
    b.typed("Zu viele Räume 🏢");
    b.typed("skip"); // optional likert skipped
    b.typed("0");
    let s = b.typed("Nichts weiter");
    assert!(s.finish);
    assert_eq!(b.answer("notify"), Some(&AnswerValue::Skipped));
    assert_eq!(b.answer("overall"), Some(&AnswerValue::Number(0)));
    assert_eq!(b.answer("features"), None);
    assert_progress_sane(&b.progress_seen());
    assert_eq!(b.progress_seen().last(), Some(&(6, 6)));
}

#[test]
fn changed_vote_replaces_the_answer_silently() {
    let survey = load("pilot-baseline.toml");
    let mut sim = Sim::new(&survey, Lang::De);
    sim.vote("sus_bm.1", &["2"]);
    sim.vote("sus_bm.2", &["3"]);
    let before = sim.sent.len();
    let s = sim.vote("sus_bm.1", &["5"]);
    assert_eq!(
        s.outcome,
        Outcome::Changed {
            item: "sus_bm.1".into()
        }
    );
    assert!(s.outgoing.is_empty(), "a changed vote sends nothing");
    assert_eq!(sim.sent.len(), before);
    assert_eq!(
        sim.answer("sus_bm.1"),
        Some(&AnswerValue::Choice("5".into()))
    );
    // The waiting question is still sus_bm.3 and typing still answers it.
    assert_eq!(sim.asked(), "sus_bm.3");
    let s = sim.typed("1");
    assert_eq!(
        s.outcome,
        Outcome::Answered {
            item: "sus_bm.3".into()
        }
    );
    assert_eq!(sim.state.current, 3);
}

#[test]
fn changed_vote_that_flips_show_if_drops_and_asks_what_is_missing() {
    let survey = mini();
    let mut sim = Sim::new(&survey, Lang::De);
    sim.vote("usage", &["daily"]);
    sim.vote("features", &["files"]);
    assert_eq!(sim.asked(), "notify");
    // Now "rarely": features is dropped, rare_reason is asked at once.
    let s = sim.vote("usage", &["rarely"]);
    assert_eq!(
        s.outcome,
        Outcome::Changed {
            item: "usage".into()
        }
    );
    assert_eq!(sim.answer("features"), None);
    assert_eq!(sim.asked(), "rare_reason");
    // A vote on the now-hidden features poll changes nothing and says so.
    let snapshot = sim.state.clone();
    let s = sim.vote("features", &["chat"]);
    assert_eq!(s.outcome, Outcome::Rejected(Rejection::NotShown));
    assert_eq!(sim.state, snapshot);
    // Answer the revealed question, then notify (sent before) comes again.
    sim.vote("rare_reason", &["time"]);
    assert_eq!(sim.asked(), "notify");
    // Voting on the *old* notify poll answers it too.
    let s = sim.vote("notify", &["4"]);
    assert_eq!(
        s.outcome,
        Outcome::Answered {
            item: "notify".into()
        }
    );
    assert_eq!(sim.asked(), "overall");
    sim.typed("7");
    sim.typed("Danke");
    assert!(sim.finished);
    assert_eq!(
        sim.answer("usage"),
        Some(&AnswerValue::Choice("rarely".into()))
    );
    assert_eq!(
        sim.answer("rare_reason"),
        Some(&AnswerValue::Choice("time".into()))
    );
    assert_eq!(sim.answer("features"), None);
    let seen = sim.progress_seen();
    assert_progress_sane(&seen);
    // usage, features, notify, rare_reason (revealed), notify again, overall, comment.
    assert_eq!(
        seen.iter().map(|p| p.0).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7]
    );
    assert_eq!(seen.first(), Some(&(1, 7)));
    assert_eq!(seen.last(), Some(&(7, 7)));
}

#[test]
fn changed_vote_hiding_the_waiting_question_sends_the_next() {
    let survey = mini();
    let mut sim = Sim::new(&survey, Lang::De);
    sim.vote("usage", &["rarely"]);
    sim.vote("rare_reason", &["other"]);
    assert_eq!(sim.asked(), "rare_other");
    // rare_reason → time hides rare_other, the waiting question: notify follows.
    sim.vote("rare_reason", &["time"]);
    assert_eq!(sim.asked(), "notify");
    // And usage → weekly hides the whole rare branch and reveals features.
    sim.vote("usage", &["weekly"]);
    assert_eq!(sim.answer("rare_reason"), None);
    assert_eq!(sim.asked(), "features");
    assert_progress_sane(&sim.progress_seen());
}

#[test]
fn invalid_answers_get_a_hint_and_change_nothing() {
    let survey = mini();
    let mut sim = Sim::new(&survey, Lang::De);
    sim.typed("1");
    assert_eq!(sim.asked(), "features");
    let cases: Vec<(Input, AnswerError)> = vec![
        (
            Input::Text("1, 2, 3".into()),
            AnswerError::TooManySelections { max: 2 },
        ),
        (
            Input::Text("7".into()),
            AnswerError::UnknownOption { count: 3 },
        ),
        (Input::Text("   ".into()), AnswerError::Empty),
        (Input::Text("-".into()), AnswerError::NotOptional),
        (
            Input::PollVote {
                poll_event_id: sim.poll_of("features"),
                answer_ids: vec!["chat".into(), "files".into(), "calls".into()],
            },
            AnswerError::TooManySelections { max: 2 },
        ),
        (
            Input::PollVote {
                poll_event_id: sim.poll_of("features"),
                answer_ids: vec!["nope".into()],
            },
            AnswerError::UnknownOption { count: 3 },
        ),
        (
            Input::PollVote {
                poll_event_id: sim.poll_of("features"),
                answer_ids: vec![],
            },
            AnswerError::Empty,
        ),
        (
            Input::PollVote {
                poll_event_id: sim.poll_of("usage"),
                answer_ids: vec!["daily".into(), "weekly".into()],
            },
            AnswerError::UnknownOption { count: 3 },
        ),
    ];
    for (input, want) in cases {
        let snapshot = sim.state.clone();
        let s = sim.send(input.clone());
        assert_eq!(
            s.outcome,
            Outcome::Rejected(Rejection::Invalid(want.clone())),
            "{input:?}"
        );
        assert_eq!(sim.state, snapshot, "{input:?}");
        assert!(!s.finish);
        assert_eq!(s.outgoing.len(), 1);
        assert_eq!(*s.outgoing[0].context(), Context::Hint);
        assert_eq!(hint_text(&s), want.message(Lang::De));
    }
    // Text over the limit, in English.
    let mut en = Sim::new(&survey, Lang::En);
    for a in ["1", "1", "4", "5"] {
        en.typed(a);
    }
    assert_eq!(en.asked(), "comment");
    let long = "ü".repeat(41);
    let s = en.typed(&long);
    assert_eq!(
        s.outcome,
        Outcome::Rejected(Rejection::Invalid(AnswerError::TooLong {
            len: 41,
            max: 40
        }))
    );
    assert!(hint_text(&s).starts_with("Your answer has 41 characters"));
    // A scale vote out of range.
    let mut sc = Sim::new(&survey, Lang::De);
    sc.typed("1");
    sc.typed("1");
    sc.typed("3");
    assert_eq!(sc.asked(), "overall");
    let s = sc.vote("overall", &["11"]);
    assert_eq!(
        s.outcome,
        Outcome::Rejected(Rejection::Invalid(AnswerError::OutOfRange {
            min: 0,
            max: 10
        }))
    );
}

#[test]
fn unknown_poll_and_late_input_say_the_survey_closed() {
    let survey = mini();
    let mut sim = Sim::new(&survey, Lang::De);
    let snapshot = sim.state.clone();
    let s = sim.send(Input::PollVote {
        poll_event_id: "$old-round-poll".into(),
        answer_ids: vec!["daily".into()],
    });
    assert_eq!(s.outcome, Outcome::Rejected(Rejection::UnknownPoll));
    assert_eq!(sim.state, snapshot);
    assert_eq!(
        hint_text(&s),
        "Diese Umfrage ist beendet. Ihre Antwort wurde nicht mehr gezählt."
    );
    assert!(!knows_poll(&sim.state, "$old-round-poll"));
    assert!(knows_poll(&sim.state, &sim.poll_of("usage")));
    // The bot's persistence answers RoundClosed / RoundFinished without calling the step: the reply.
    let r = closed_reply(Lang::En);
    assert_eq!(r.len(), 1);
    assert!(r[0].body().starts_with("This survey has closed."));
    // A consented participant without a running round who votes on an old poll.
    let p = Participant {
        consent: ConsentState::Yes,
        lang: Lang::De,
        in_round: false,
    };
    let vote = Input::PollVote {
        poll_event_id: "$old".into(),
        answer_ids: vec!["4".into()],
    };
    assert_eq!(
        decide(&p, &vote, &notice()),
        Action::Reply(closed_reply(Lang::De))
    );
}

#[test]
fn undecryptable_answer_reasks_once() {
    let survey = load("pulse.toml");
    let mut sim = Sim::new(&survey, Lang::De);
    sim.typed("5");
    let item = sim.asked();
    let polls_before = sim.polls.len();
    let s = sim.send(Input::Undecryptable);
    assert_eq!(s.outcome, Outcome::Reasked { item: item.clone() });
    assert!(hint_text(&s).contains("nicht lesen"));
    assert_eq!(sim.polls.len(), polls_before + 1, "a new poll, registered");
    assert_eq!(sim.state.answers.len(), 1);
    // Same number as before: nothing new was asked.
    let seen = sim.progress_seen();
    assert_eq!(seen[seen.len() - 1], seen[seen.len() - 2]);
    let s = sim.send(Input::Undecryptable);
    assert_eq!(s.outcome, Outcome::Ignored);
    assert!(s.outgoing.is_empty());
    // Either poll of the question answers it.
    let old = sim.polls[polls_before - 1].1.clone();
    let s = sim.send(Input::PollVote {
        poll_event_id: old,
        answer_ids: vec!["6".into()],
    });
    assert_eq!(s.outcome, Outcome::Answered { item });
}

#[test]
fn remind_and_close_messages() {
    let survey = mini();
    let mut sim = Sim::new(&survey, Lang::En);
    let round = Round::new(&survey, Lang::En);
    let ended = |msgs: &[Outgoing]| -> Vec<String> {
        msgs.iter()
            .filter_map(|m| match m {
                Outgoing::PollEnd { poll_event_id, .. } => Some(poll_event_id.clone()),
                _ => None,
            })
            .collect()
    };
    // Nothing answered: the waiting poll ended, no thank-you.
    let c = close(&sim.state, &round);
    assert_eq!(ended(&c), vec![sim.poll_of("usage")]);
    assert_eq!(c.len(), 1);
    sim.typed("1");
    let r = remind(&sim.state, &round);
    assert_eq!(*r[0].context(), Context::Reminder);
    assert!(matches!(r[1].context(), Context::Question(i) if i == "features"));
    assert_eq!(progress_of(r[1].body()).map(|p| p.0), Some(2));
    // The reminder's poll asks the same question again.
    sim.deliver(r);
    // Only the polls of the waiting question end (both of them), not the answered one
    // (issue 17: no clean-up storm at close), then one thank-you.
    let c = close(&sim.state, &round);
    let want: Vec<String> = sim
        .polls
        .iter()
        .filter(|(item, _)| item == "features")
        .map(|(_, e)| e.clone())
        .collect();
    assert_eq!(want.len(), 2);
    let mut got = ended(&c);
    got.sort();
    let mut want_sorted = want.clone();
    want_sorted.sort();
    assert_eq!(got, want_sorted);
    assert!(!ended(&c).contains(&sim.poll_of("usage")));
    assert_eq!(c.len(), 3); // two polls of the waiting question ended, one thank-you
    assert_eq!(*c[2].context(), Context::Closed);
}

/// Issue 17: in every round after the first (notice and consent are once per participant
/// and come from `route`, not from here) a finished response costs at most the questions
/// plus 3 events, whichever path the participant takes (polls or typed, a changed vote on
/// an earlier poll, which still changes the answer while the round is open).
#[test]
fn a_finished_response_costs_at_most_questions_plus_three_events() {
    for (name, lang) in [
        ("pilot-baseline.toml", Lang::De),
        ("pulse.toml", Lang::En),
        ("pilot-baseline.toml", Lang::En),
    ] {
        let survey = load(name);
        let mut sim = Sim::new(&survey, lang);
        let mut asked = 0;
        let mut changed = false;
        while !sim.finished {
            let item = sim.asked();
            let q = survey
                .question(&item)
                .cloned()
                .expect("asked question exists");
            asked += 1;
            if asked == 3 && !changed {
                // A changed vote on the first poll of the round: replaces that answer, and
                // sends nothing.
                let (first, _) = sim.polls[0].clone();
                let before = sim.sent.len();
                let s = sim.vote(&first, &["2"]);
                assert_eq!(
                    s.outcome,
                    Outcome::Changed {
                        item: first.clone()
                    }
                );
                assert_eq!(sim.sent.len(), before);
                assert_eq!(sim.answer(&first), Some(&AnswerValue::Choice("2".into())));
                changed = true;
            }
            match &q.kind {
                survey::QuestionKind::Text { .. } => sim.typed("-"),
                survey::QuestionKind::Scale { .. } => sim.vote(&item, &["7"]),
                _ => sim.vote(&item, &["3"]),
            };
        }
        let questions = survey.questions().len();
        assert_eq!(asked, questions, "{name}");
        assert!(
            sim.sent.len() <= questions + 3,
            "{name}: {} events for {questions} questions",
            sim.sent.len()
        );
        assert!(
            !sim.sent
                .iter()
                .any(|m| matches!(m, Outgoing::PollEnd { .. }))
        );
    }
}

#[test]
fn input_debug_does_not_show_answers() {
    let t = format!("{:?}", Input::Text("geheime Antwort".into()));
    assert_eq!(t, "Text(<15 chars>)");
    let v = format!(
        "{:?}",
        Input::PollVote {
            poll_event_id: "$p".into(),
            answer_ids: vec!["rarely".into()],
        }
    );
    assert!(!v.contains("rarely"), "{v}");
}

#[test]
fn answer_value_mapping_round_trips() {
    use crate::survey::Answer;
    for a in [
        Answer::Skipped,
        Answer::Choice("4".into()),
        Answer::Multi(vec!["a".into(), "b".into()]),
        Answer::Scale(10),
        Answer::Text("Grüße 👋".into()),
    ] {
        assert_eq!(from_value(&to_value(&a)), Some(a));
    }
    assert_eq!(to_value(&Answer::Scale(7)), AnswerValue::Number(7));
    assert_eq!(from_value(&AnswerValue::Number(300)), None);
    assert_eq!(from_value(&AnswerValue::Number(-1)), None);
}

fn notice() -> Notice {
    Notice {
        de: "Verantwortlich: Stadt X. Zweck: Pilotauswertung. Freiwillig.".into(),
        en: "Controller: City X. Purpose: pilot evaluation. Voluntary.".into(),
    }
}

fn p(consent: ConsentState, in_round: bool) -> Participant {
    Participant {
        consent,
        lang: Lang::De,
        in_round,
    }
}

fn text(s: &str) -> Input {
    Input::Text(s.to_owned())
}

fn consent_vote(id: &str) -> Input {
    Input::PollVote {
        poll_event_id: "$consent".into(),
        answer_ids: vec![id.to_owned()],
    }
}

#[test]
fn first_contact_is_notice_and_consent_poll() {
    let out = first_contact(&notice(), Lang::De);
    assert_eq!(out.len(), 2);
    assert!(out[0].body().starts_with("Verantwortlich: Stadt X."));
    assert!(out[0].body().contains("language en"));
    let Outgoing::Poll { context, poll } = &out[1] else {
        panic!("consent is a poll");
    };
    assert_eq!(*context, Context::Consent);
    let labels: Vec<&str> = poll.answers.iter().map(|a| a.text.as_str()).collect();
    assert_eq!(labels, ["Ja, teilnehmen", "Nein danke"]);
    assert!(poll.fallback.contains("1. Ja, teilnehmen\n2. Nein danke"));
    // A participant who was never asked and writes gets the first contact.
    assert_eq!(
        decide(&p(ConsentState::Unknown, false), &text("hallo"), &notice()),
        Action::FirstContact(out)
    );
    // No registration needed for the consent poll.
    let mut st = ConversationState::default();
    assert!(!register_sent(&mut st, "$c", &consent_poll(Lang::De)));
}

#[test]
fn consent_yes_no_and_start_again() {
    let n = notice();
    let asked = p(ConsentState::Asked, false);
    for input in [
        consent_vote(CONSENT_YES_ID),
        text("Ja"),
        text("yes"),
        text("1"),
        text("ja, teilnehmen"),
    ] {
        assert!(
            matches!(
                decide(&asked, &input, &n),
                Action::SetConsent {
                    state: ConsentState::Yes,
                    ..
                }
            ),
            "{input:?}"
        );
    }
    for input in [
        consent_vote(CONSENT_NO_ID),
        text("nein"),
        text("No."),
        text("2"),
        text("Nein danke"),
    ] {
        assert!(
            matches!(
                decide(&asked, &input, &n),
                Action::SetConsent {
                    state: ConsentState::No,
                    ..
                }
            ),
            "{input:?}"
        );
    }
    // Anything else while asked: a hint, nothing stored.
    let Action::Reply(r) = decide(&asked, &text("vielleicht"), &n) else {
        panic!("hint expected");
    };
    assert!(r[0].body().contains("„ja“ oder „nein“"));
    // Both consent answers at once: a hint.
    let both = Input::PollVote {
        poll_event_id: "$c".into(),
        answer_ids: vec![CONSENT_YES_ID.into(), CONSENT_NO_ID.into()],
    };
    assert!(matches!(decide(&asked, &both, &n), Action::Reply(_)));

    // "No" is final: answers and votes are ignored, only a yes vote gets one line.
    let no = p(ConsentState::No, false);
    assert_eq!(decide(&no, &text("1"), &n), Action::Ignore);
    assert_eq!(decide(&no, &text("ja"), &n), Action::Ignore);
    assert_eq!(decide(&no, &Input::Undecryptable, &n), Action::Ignore);
    let Action::Reply(r) = decide(&no, &consent_vote(CONSENT_YES_ID), &n) else {
        panic!("one line expected");
    };
    assert!(r[0].body().contains("„start“"));
    // … until `start`.
    assert!(matches!(
        decide(&no, &text("Start"), &n),
        Action::OptIn { .. }
    ));
    // Consented: a "no" vote on the consent poll withdraws like `stopp`.
    let yes = p(ConsentState::Yes, true);
    assert!(matches!(
        decide(&yes, &consent_vote(CONSENT_NO_ID), &n),
        Action::OptOut { .. }
    ));
    assert_eq!(
        decide(&yes, &consent_vote(CONSENT_YES_ID), &n),
        Action::Ignore
    );
    // A consented participant's "ja" is an answer, not consent.
    assert_eq!(decide(&yes, &text("ja"), &n), Action::Round);
    // `start` before ever being asked shows the notice first.
    assert!(matches!(
        decide(&p(ConsentState::Unknown, false), &text("start"), &n),
        Action::FirstContact(_)
    ));
    assert!(matches!(
        decide(&p(ConsentState::Yes, false), &text("start"), &n),
        Action::Reply(_)
    ));
}

#[test]
fn commands_work_in_every_state_and_stop_in_the_middle() {
    let n = notice();
    let running = p(ConsentState::Yes, true);
    // In the middle of a round, `stopp` wins over answering.
    let Action::OptOut { confirmation } = decide(&running, &text("STOPP"), &n) else {
        panic!("stop must opt out");
    };
    assert_eq!(confirmation.len(), 1);
    assert!(confirmation[0].body().starts_with("Sie sind abgemeldet"));
    // After that the participant is `No`: their late answers are ignored.
    assert_eq!(
        decide(&p(ConsentState::No, false), &text("4"), &n),
        Action::Ignore
    );
    assert!(matches!(
        decide(&p(ConsentState::No, false), &text("stop"), &n),
        Action::Reply(_)
    ));
    for consent in [
        ConsentState::Unknown,
        ConsentState::Asked,
        ConsentState::Yes,
        ConsentState::No,
    ] {
        let who = p(consent, consent == ConsentState::Yes);
        let Action::Reply(h) = decide(&who, &text("hilfe"), &n) else {
            panic!("help in {consent:?}");
        };
        assert!(h[0].body().contains("meine daten"));
        assert_eq!(decide(&who, &text("meine Daten"), &n), Action::ShowMyData);
        assert!(matches!(
            decide(&who, &text("löschen"), &n),
            Action::Erase { .. }
        ));
        let Action::SetLanguage { lang, reply } = decide(&who, &text("language en"), &n) else {
            panic!("language in {consent:?}");
        };
        assert_eq!(lang, Lang::En);
        assert!(reply[0].body().starts_with("From now on"));
        assert!(matches!(
            decide(&who, &text("sprache xx"), &n),
            Action::Reply(_)
        ));
    }
    let shown = my_data_reply(&example_my_data(), &[], &berlin(), Lang::De);
    assert!(shown[0].body().starts_with("Das ist über Sie gespeichert:"));
    // Without a running round, text gets a short pointer.
    let Action::Reply(r) = decide(&p(ConsentState::Yes, false), &text("4"), &n) else {
        panic!("reply expected");
    };
    assert!(r[0].body().starts_with("Gerade läuft keine Umfrage"));
}

#[test]
fn participant_view_from_ledger() {
    let mut e = crate::model::LedgerEntry::new("@a:x");
    e.consent = ConsentState::Yes;
    e.lang = Lang::En;
    let v = Participant::from_ledger(Some(&e), true, Lang::De);
    assert_eq!(
        (v.consent, v.lang, v.in_round),
        (ConsentState::Yes, Lang::En, true)
    );
    e.erased = true;
    let v = Participant::from_ledger(Some(&e), true, Lang::De);
    assert_eq!((v.consent, v.in_round), (ConsentState::No, false));
    let v = Participant::from_ledger(None, true, Lang::En);
    assert_eq!(
        (v.consent, v.lang, v.in_round),
        (ConsentState::Unknown, Lang::En, false)
    );
}

/// An input with poll references as indexes into the polls sent so far (resolved at run
/// time, so the strategy does not depend on the state and shrinks well).
#[derive(Debug, Clone)]
enum RawInput {
    Text(String),
    Vote(usize, Vec<String>),
    UnknownPoll(String),
    Undecryptable,
}

fn arb_raw() -> impl Strategy<Value = RawInput> {
    let answer_id = prop_oneof![
        "[a-z0-9]{0,6}",
        Just("1".to_owned()),
        Just("3".to_owned()),
        Just("daily".to_owned()),
        Just("rarely".to_owned()),
        Just("chat".to_owned()),
        Just("other".to_owned()),
        Just("11".to_owned()),
        any::<String>(),
    ];
    prop_oneof![
        any::<String>().prop_map(RawInput::Text),
        "[0-9 ,/.-]{0,8}|skip|-|überspringen|Täglich|Anderes".prop_map(RawInput::Text),
        (any::<usize>(), prop::collection::vec(answer_id, 0..5))
            .prop_map(|(i, ids)| RawInput::Vote(i, ids)),
        "\\$[a-z]{0,5}".prop_map(RawInput::UnknownPoll),
        Just(RawInput::Undecryptable),
    ]
}

impl Sim<'_> {
    fn resolve(&self, raw: RawInput) -> Input {
        match raw {
            RawInput::Text(t) => Input::Text(t),
            RawInput::Vote(i, answer_ids) => match self.polls.get(i % self.polls.len().max(1)) {
                Some((_, poll_event_id)) => Input::PollVote {
                    poll_event_id: poll_event_id.clone(),
                    answer_ids,
                },
                None => Input::Undecryptable,
            },
            RawInput::UnknownPoll(p) => Input::PollVote {
                poll_event_id: p,
                answer_ids: vec!["1".into()],
            },
            RawInput::Undecryptable => Input::Undecryptable,
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Arbitrary text and malformed votes never panic; a rejected input never changes the
    /// state; the waiting question is always the last one sent; progress stays sane.
    #[test]
    fn answer_path_never_panics_and_rejections_change_nothing(
        seed_answers in prop::collection::vec(0usize..3, 0..4),
        inputs in prop::collection::vec(arb_raw(), 1..16),
        lang_en in any::<bool>(),
    ) {
        let survey = mini();
        let lang = if lang_en { Lang::En } else { Lang::De };
        let mut sim = Sim::new(&survey, lang);
        // Get somewhere into the round first, with valid typed answers.
        for a in seed_answers {
            if sim.finished { break; }
            let q = survey.question(&sim.asked()).cloned().expect("asked");
            let body = match q.kind {
                survey::QuestionKind::Text { .. } => "ok".to_owned(),
                survey::QuestionKind::Scale { .. } => a.to_string(),
                _ => (a + 1).to_string(),
            };
            sim.typed(&body);
        }
        for raw in inputs {
            if sim.finished { break; }
            let input = sim.resolve(raw);
            let before = sim.state.clone();
            let s = sim.send(input);
            match &s.outcome {
                Outcome::Rejected(_) => {
                    prop_assert_eq!(&sim.state, &before);
                    prop_assert!(!s.finish);
                    prop_assert_eq!(s.outgoing.len(), 1);
                }
                Outcome::Ignored => prop_assert_eq!(&sim.state, &before),
                _ => {}
            }
            if !sim.finished {
                let w = waiting(&sim.state, &survey).map(|q| q.id.clone());
                prop_assert_eq!(w, Some(sim.asked()));
            }
        }
        assert_progress_sane(&sim.progress_seen());
    }

    /// Arbitrary text as a typed answer to every question of both shipped surveys: never a
    /// panic, and an error always leaves the state as it was.
    #[test]
    fn typed_text_into_shipped_surveys(body in any::<String>(), skip in 0usize..20) {
        for file in ["pilot-baseline.toml", "pulse.toml"] {
            let survey = load(file);
            let mut sim = Sim::new(&survey, Lang::De);
            for _ in 0..skip.min(survey.questions().len() - 1) {
                sim.typed("3");
            }
            let before = sim.state.clone();
            let s = sim.send(Input::Text(body.clone()));
            if let Outcome::Rejected(_) = s.outcome {
                prop_assert_eq!(&sim.state, &before);
            } else {
                prop_assert_eq!(sim.state.answers.len(), before.answers.len() + 1);
            }
        }
    }
}

// --- Edits, redactions, replies (issue 14) ----------------------------------------------

impl Sim<'_> {
    /// `send` as the bot's persistence does it: the event id is counted with the question
    /// it answered.
    fn send_counted(&mut self, event_id: &str, input: Input) -> Step {
        let s = self.send(input);
        let answered = s.update("!dm:x").answered;
        self.state.counted.insert(event_id, answered.as_deref());
        s
    }
}

#[test]
fn an_edit_changes_the_answer_it_edits_never_the_waiting_question() {
    let survey = mini();
    let mut sim = Sim::new(&survey, Lang::De);
    assert_eq!(sim.asked(), "usage");
    sim.send_counted("$t1", text("1"));
    assert_eq!(
        sim.answer("usage"),
        Some(&AnswerValue::Choice("daily".into()))
    );
    assert_eq!(sim.asked(), "features");
    // The edit turns "daily" into "rarely": `features` is no longer asked, `rare_reason` is.
    let s = sim.send_counted(
        "$e1",
        Input::Edit {
            target: "$t1".into(),
            body: "3".into(),
        },
    );
    assert_eq!(
        s.outcome,
        Outcome::Changed {
            item: "usage".into()
        }
    );
    assert_eq!(
        sim.answer("usage"),
        Some(&AnswerValue::Choice("rarely".into()))
    );
    assert_eq!(sim.asked(), "rare_reason");
    assert_eq!(sim.answer("features"), None);
    // The edit now speaks for `usage`; the edited event no longer does.
    assert_eq!(sim.state.counted.answered_item("$e1"), Some("usage"));
    assert_eq!(sim.state.counted.answered_item("$t1"), None);
    // An invalid edit gets a hint and changes nothing.
    let before = sim.state.clone();
    let s = sim.send(Input::Edit {
        target: "$e1".into(),
        body: "sieben".into(),
    });
    assert!(matches!(
        s.outcome,
        Outcome::Rejected(Rejection::Invalid(_))
    ));
    assert_eq!(sim.state, before);
}

#[test]
fn edits_and_redactions_of_non_answers_change_nothing() {
    let survey = mini();
    let mut sim = Sim::new(&survey, Lang::De);
    sim.send_counted("$junk", text("hallo"));
    let before = sim.state.clone();
    for input in [
        Input::Edit {
            target: "$junk".into(),
            body: "1".into(),
        },
        Input::Edit {
            target: "$never-seen".into(),
            body: "1".into(),
        },
        Input::Withdraw {
            target: "$junk".into(),
        },
        Input::Withdraw {
            target: "$never-seen".into(),
        },
    ] {
        let s = sim.send(input);
        assert_eq!(s.outcome, Outcome::Ignored);
        assert!(s.outgoing.is_empty(), "no message for {s:?}");
        assert_eq!(
            sim.state, before,
            "the waiting question is not answered by an edit"
        );
    }
}

#[test]
fn a_redacted_answer_is_withdrawn_and_its_question_comes_again() {
    let survey = mini();
    let mut sim = Sim::new(&survey, Lang::De);
    let usage = sim.poll_of("usage");
    sim.send_counted(
        "$v1",
        Input::PollVote {
            poll_event_id: usage,
            answer_ids: vec!["daily".into()],
        },
    );
    assert_eq!(sim.asked(), "features");
    let progress_before = sim.progress_seen();
    let s = sim.send_counted(
        "$r1",
        Input::Withdraw {
            target: "$v1".into(),
        },
    );
    assert_eq!(
        s.outcome,
        Outcome::Withdrawn {
            item: "usage".into()
        }
    );
    assert_eq!(sim.answer("usage"), None);
    assert_eq!(
        sim.asked(),
        "usage",
        "the withdrawn question is waiting again"
    );
    assert_eq!(s.outgoing[0].body(), texts::answer_withdrawn(Lang::De));
    let mut seen = progress_before;
    seen.extend(sim.progress_seen().into_iter().skip(seen.len()));
    assert_progress_sane(&seen);
    // A second redaction of the same event changes nothing.
    let s = sim.send(Input::Withdraw {
        target: "$v1".into(),
    });
    assert_eq!(s.outcome, Outcome::Ignored);
    // And the question can be answered again.
    let s = sim.vote("usage", &["weekly"]);
    assert_eq!(
        s.outcome,
        Outcome::Answered {
            item: "usage".into()
        }
    );
}

#[test]
fn replies_and_threads_are_not_answers_but_commands_in_them_are_commands() {
    let in_round = p(ConsentState::Yes, true);
    let aside = |s: &str| Input::Aside(s.to_owned());
    match decide(&in_round, &aside("4"), &notice()) {
        Action::Reply(m) => assert_eq!(m[0].body(), texts::not_an_answer(Lang::De)),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        decide(&p(ConsentState::Yes, false), &aside("4"), &notice()),
        Action::Ignore
    );
    assert!(matches!(
        decide(&in_round, &aside("stopp"), &notice()),
        Action::OptOut { .. }
    ));
    // A command in an edit is no command.
    let edit = Input::Edit {
        target: "$x".into(),
        body: "stopp".into(),
    };
    assert_eq!(decide(&in_round, &edit, &notice()), Action::Round);
    assert_eq!(
        decide(&p(ConsentState::Yes, false), &edit, &notice()),
        Action::Ignore
    );
    assert_eq!(
        decide(&p(ConsentState::Asked, false), &edit, &notice()),
        Action::Ignore
    );
}

#[test]
fn oversized_messages_get_a_hint_and_are_not_read() {
    let huge = "stopp ".repeat(route::MAX_MESSAGE_BYTES / 6 + 1);
    for p in [
        p(ConsentState::Yes, true),
        p(ConsentState::Unknown, false),
        p(ConsentState::Asked, false),
    ] {
        match decide(&p, &text(&huge), &notice()) {
            Action::Reply(m) => assert_eq!(m[0].body(), texts::message_too_long(Lang::De)),
            other => panic!("{other:?}"),
        }
    }
    // The longest valid free-text answer is still read.
    let longest = "ä".repeat(5000);
    assert_eq!(
        decide(&p(ConsentState::Yes, true), &text(&longest), &notice()),
        Action::Round
    );
}

fn berlin() -> jiff::tz::TimeZone {
    jiff::tz::TimeZone::get("Europe/Berlin").expect("tz")
}

/// Anna: consented, German, a finished round, a running round with three answers (a
/// choice, a multiple choice, a text), one reminder, a message waiting.
fn example_my_data() -> route::MyData {
    use crate::model::{LedgerEntry, RoundParticipation, RoundStatus};
    let mut e = LedgerEntry::new("@anna:stadt.example");
    e.consent = ConsentState::Yes;
    e.consent_at = Some("2026-12-02T13:05:00Z".parse().expect("time"));
    e.dm_room = Some("!dm:stadt.example".into());
    e.rounds = vec![
        RoundParticipation {
            survey_id: "mini".into(),
            round: 1,
            status: RoundStatus::Finished,
            reminders_sent: 0,
        },
        RoundParticipation {
            survey_id: "mini".into(),
            round: 2,
            status: RoundStatus::Started,
            reminders_sent: 1,
        },
        RoundParticipation {
            survey_id: "gone".into(),
            round: 1,
            status: RoundStatus::Partial,
            reminders_sent: 2,
        },
    ];
    let mut st = ConversationState::default();
    st.answers
        .insert("usage".into(), AnswerValue::Choice("daily".into()));
    st.answers.insert(
        "features".into(),
        AnswerValue::Multi(vec!["chat".into(), "files".into()]),
    );
    st.answers.insert("notify".into(), AnswerValue::Skipped);
    route::MyData {
        ledger: Some(e),
        erased: false,
        drafts: vec![("mini".into(), 2, st)],
        pseudonymous_responses: Vec::new(),
        pending_messages: 1,
    }
}

#[test]
fn my_data_in_words_de() {
    let mini = mini();
    let r = my_data_reply(&example_my_data(), &[&mini], &berlin(), Lang::De);
    assert_eq!(
        r[0].body(),
        "Das ist über Sie gespeichert:

Ihr Konto im Messenger: @anna:stadt.example. Über dieses Konto schreibt Ihnen der Umfrage-Bot in diesem Chat.
Sie haben am 2. Dezember 2026, 14:05 Uhr zugestimmt, an den Umfragen des Pilotprojekts teilzunehmen.
Der Bot schreibt Ihnen auf Deutsch.
1 Nachricht an Sie wartet noch darauf, gesendet zu werden.

Ihre Umfragerunden und wo Sie stehen:
• Mini, Runde 1: abgeschlossen
• Mini, Runde 2: begonnen, 1 Erinnerung erhalten
• gone, Runde 1: teilweise beantwortet (Runde beendet), 2 Erinnerungen erhalten

Ihre bisherigen Antworten in der laufenden Runde 2 von „Mini“:
• „Wie oft nutzen Sie BundesMessenger?“ – Täglich
• „Welche Funktionen nutzen Sie?“ – Chat, Dateien
• „Die Benachrichtigungen sind hilfreich.“ – übersprungen
Sobald Sie fertig sind oder die Runde endet, werden diese Antworten ohne Bezug zu Ihrer Person gespeichert.

Nicht mit Ihrer Person verbunden ist:
Ihre Antworten aus beendeten Runden. Sie sind ohne jeden Bezug zu Ihnen gespeichert. Niemand kann sie Ihnen zuordnen, Ihnen zeigen oder einzeln löschen.
Sonst ist über Sie nichts gespeichert. Die Nachrichten in diesem Chat können Sie selbst löschen."
    );
}

#[test]
fn my_data_in_words_en() {
    let mini = mini();
    let mut data = example_my_data();
    if let Some(e) = data.ledger.as_mut() {
        e.lang = Lang::En;
    }
    let r = my_data_reply(&data, &[&mini], &berlin(), Lang::En);
    assert_eq!(
        r[0].body(),
        "This is what is stored about you:

Your messenger account: @anna:stadt.example. The survey bot writes to you in this chat through it.
You agreed on 2 December 2026, 2:05 pm to take part in the pilot's surveys.
The bot writes to you in English.
1 message to you is still waiting to be sent.

Your survey rounds and where you stand:
• Mini, round 1: finished
• Mini, round 2: started, 1 reminder received
• gone, round 1: partly answered (round ended), 2 reminders received

Your answers so far in the running round 2 of “Mini”:
• “How often do you use BundesMessenger?” – Daily
• “Which features do you use?” – Chat, Files
• “The notifications are helpful.” – skipped
As soon as you finish or the round ends, these answers are stored without any link to you.

Not linked to you:
Your answers from finished rounds. They are stored without any link to you. Nobody can trace them to you, show them to you or delete them one by one.
Nothing else is stored about you. You can delete the messages in this chat yourself."
    );
}

#[test]
fn my_data_unknown_survey_pseudonymous_erased_and_nobody() {
    use crate::model::AnswerRecord;
    let mut data = example_my_data();
    data.drafts.clear();
    data.pending_messages = 0;
    let mut answers = std::collections::BTreeMap::new();
    answers.insert("q1".to_owned(), AnswerValue::Number(7));
    answers.insert("q2".to_owned(), AnswerValue::Text("Gut so".into()));
    data.pseudonymous_responses = vec![AnswerRecord {
        survey_id: "gone".into(),
        round: 1,
        complete: false,
        answers,
        pseudonym: Some("x".into()),
    }];
    let de = my_data_reply(&data, &[], &berlin(), Lang::De)[0]
        .body()
        .to_owned();
    assert!(
        de.contains(
            "Ihre Antworten aus Runde 1 von „gone“. Diese Umfrage vergleicht Runden miteinander; deshalb sind Ihre Antworten unter einem Kennzeichen gespeichert, das nur zu Ihnen führt:\n• „q1“ – 7\n• „q2“ – „Gut so“\n"
        ),
        "{de}"
    );
    assert!(de.contains("Ihre Antworten aus beendeten Runden aller anderen Umfragen."));
    for bad in ["Some(", "Choice(", "Started", "Yes", "T13:05"] {
        assert!(!de.contains(bad), "{bad} in {de}");
    }
    let nobody = route::MyData {
        ledger: None,
        erased: false,
        drafts: Vec::new(),
        pseudonymous_responses: Vec::new(),
        pending_messages: 0,
    };
    assert_eq!(
        my_data_reply(&nobody, &[], &berlin(), Lang::De)[0].body(),
        "Über Sie ist nichts gespeichert."
    );
    let erased = route::MyData {
        erased: true,
        ..nobody
    };
    assert!(
        my_data_reply(&erased, &[], &berlin(), Lang::En)[0]
            .body()
            .starts_with("You had your data deleted.")
    );
}

/// The Webex SUS behind a screening question (issue 16: no forced ratings).
const SCREENED: &str = r#"
id = "screened"
title = { de = "T", en = "T" }
intro = { de = "I", en = "I" }
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

fn screened() -> Survey {
    match survey::parse_str("screened.toml", SCREENED, &SurveyDefaults::default()) {
        Ok(s) => s,
        Err(d) => panic!("inline survey does not parse: {d:?}"),
    }
}

#[test]
fn no_webex_skips_the_whole_block_and_the_count_follows() {
    let survey = screened();
    let mut sim = Sim::new(&survey, Lang::De);
    assert!(
        sim.sent[0]
            .body()
            .starts_with("Neue Umfrage: bis zu 12 Fragen"),
        "{}",
        sim.sent[0].body()
    );
    assert_eq!(sim.asked(), "uses_webex");
    let s = sim.vote("uses_webex", &["no"]);
    assert_eq!(
        s.outcome,
        Outcome::Answered {
            item: "uses_webex".into()
        }
    );
    // Straight to the recommendation: no Webex statement, no Webex announcement.
    assert_eq!(sim.asked(), "recommend.1");
    assert!(
        !sim.sent
            .iter()
            .any(|m| m.body().contains("Webex") && !m.body().contains("Nutzen Sie Webex")),
        "a Webex text was sent"
    );
    let s = sim.typed("8");
    assert!(s.finish);
    assert_eq!(sim.progress_seen(), [(1, 12), (2, 2)]);
    assert_progress_sane(&sim.progress_seen());
    assert_eq!(sim.state.answers.len(), 2);
    assert!(!sim.state.answers.keys().any(|k| k.starts_with("sus_webex")));
}

#[test]
fn webex_users_get_the_block_and_a_changed_mind_drops_it() {
    let survey = screened();
    let mut sim = Sim::new(&survey, Lang::En);
    sim.vote("uses_webex", &["yes"]);
    // The block starts with its announcement, in front of the first item's text in the
    // same event (issue 17), and every item names its system.
    let first = sim.sent.last().expect("the first Webex item");
    assert!(matches!(first.context(), Context::Question(i) if i == "sus_webex.1"));
    assert!(
        first.body().starts_with("The following") && first.body().contains("Webex"),
        "{}",
        first.body()
    );
    for item in 1..=3 {
        assert_eq!(sim.asked(), format!("sus_webex.{item}"));
        assert!(
            sim.sent
                .last()
                .is_some_and(|m| m.body().contains(" · Webex: "))
        );
        sim.vote(&format!("sus_webex.{item}"), &["3"]);
    }
    assert_eq!(
        sim.progress_seen(),
        [(1, 12), (2, 12), (3, 12), (4, 12), (5, 12)]
    );
    // "No" after all: the Webex answers are dropped and the block is skipped.
    let s = sim.vote("uses_webex", &["no"]);
    assert_eq!(
        s.outcome,
        Outcome::Changed {
            item: "uses_webex".into()
        }
    );
    assert!(!sim.state.answers.keys().any(|k| k.starts_with("sus_webex")));
    assert_eq!(sim.asked(), "recommend.1");
    assert_eq!(sim.progress_seen().last(), Some(&(6, 6)));
    // A vote on a Webex poll now changes nothing.
    let s = sim.vote("sus_webex.2", &["4"]);
    assert_eq!(s.outcome, Outcome::Rejected(Rejection::NotShown));
    assert!(sim.typed("10").finish);
    assert_eq!(sim.state.answers.len(), 2);
}

/// Every participant-facing text of the conversation in both languages, one section each:
/// `texts`, the help, the consent poll, the intro and thanks, a question of every kind
/// (with the skip word), reminders, and `meine daten`.
fn every_participant_text() -> String {
    use crate::model::{ConsentState, RoundStatus};
    use std::fmt::Write as _;
    let mut out = String::new();
    let mut put = |name: &str, de: &str, en: &str| {
        let _ = write!(out, "## {name}\n[de]\n{de}\n[en]\n{en}\n\n");
    };
    type Fixed = fn(Lang) -> &'static str;
    let fixed: [(&str, Fixed); 36] = [
        ("notice_language_hint", texts::notice_language_hint),
        ("consent_question", texts::consent_question),
        ("consent_yes", texts::consent_yes),
        ("consent_no", texts::consent_no),
        ("consent_how_to", texts::consent_how_to),
        ("consent_given", texts::consent_given),
        ("consent_declined", texts::consent_declined),
        ("consent_hint", texts::consent_hint),
        ("consent_after_no", texts::consent_after_no),
        ("already_participating", texts::already_participating),
        ("opted_in_again", texts::opted_in_again),
        ("stopped", texts::stopped),
        ("already_stopped", texts::already_stopped),
        ("deleted", texts::deleted),
        ("my_data_heading", texts::my_data_heading),
        ("language_set", texts::language_set),
        ("language_hint", texts::language_hint),
        ("no_survey_running", texts::no_survey_running),
        ("survey_closed", texts::survey_closed),
        ("closed_thanks", texts::closed_thanks),
        ("question_not_needed", texts::question_not_needed),
        ("reask", texts::reask),
        ("paused", texts::paused),
        ("not_an_answer", texts::not_an_answer),
        ("message_too_long", texts::message_too_long),
        ("answer_withdrawn", texts::answer_withdrawn),
        ("dm_moved", texts::dm_moved),
        ("poll_ended", texts::poll_ended),
        ("help_heading", texts::help_heading),
        ("help_footer", texts::help_footer),
        ("my_data_nothing", texts::my_data_nothing),
        ("my_data_erased", texts::my_data_erased),
        ("my_data_language", texts::my_data_language),
        ("my_data_rounds_heading", texts::my_data_rounds_heading),
        ("my_data_draft_footer", texts::my_data_draft_footer),
        ("my_data_skipped", texts::my_data_skipped),
    ];
    for (name, f) in fixed {
        put(name, f(Lang::De), f(Lang::En));
    }
    let both = |f: &dyn Fn(Lang) -> String| (f(Lang::De), f(Lang::En));
    let mut put2 = |name: &str, (de, en): (String, String)| put(name, &de, &en);
    put2("help", both(&|l| help(l)));
    let d = "Freitag, 12. Dezember, 16 Uhr";
    put2(
        "reminder (3 left, deadline)",
        both(&|l| texts::reminder(l, 3, Some(d))),
    );
    put2("reminder (1 left)", both(&|l| texts::reminder(l, 1, None)));
    put2(
        "my_data_account",
        both(&|l| texts::my_data_account(l, "@anna:stadt.example")),
    );
    for c in [ConsentState::Yes, ConsentState::Asked, ConsentState::No] {
        put2(
            &format!("my_data_consent {c:?}"),
            both(&|l| texts::my_data_consent(l, c, Some("2. Dezember 2026, 14:05 Uhr"))),
        );
        put2(
            &format!("my_data_consent {c:?}, no date"),
            both(&|l| texts::my_data_consent(l, c, None)),
        );
    }
    put2(
        "my_data_consent Unknown",
        both(&|l| texts::my_data_consent(l, ConsentState::Unknown, None)),
    );
    for s in [
        RoundStatus::Invited,
        RoundStatus::Started,
        RoundStatus::Finished,
        RoundStatus::Partial,
        RoundStatus::OptedOut,
    ] {
        put2(
            &format!("round_status_words {s:?}"),
            both(&|l| texts::round_status_words(l, s).to_owned()),
        );
    }
    for n in [1, 2] {
        put2(
            &format!("my_data_reminders {n}"),
            both(&|l| texts::my_data_reminders(l, n)),
        );
        put2(
            &format!("my_data_pending {n}"),
            both(&|l| texts::my_data_pending(l, n as usize)),
        );
    }
    put2(
        "my_data_draft_heading",
        both(&|l| texts::my_data_draft_heading(l, "Pilot-Puls", 3)),
    );
    put2(
        "my_data_pseudonymous_heading",
        both(&|l| texts::my_data_pseudonymous_heading(l, "Pilot-Puls", 3)),
    );
    for p in [false, true] {
        put2(
            &format!("my_data_not_stored {p}"),
            both(&|l| texts::my_data_not_stored(l, p)),
        );
    }
    put2(
        "consent poll fallback",
        both(&|l| match route::consent_poll(l) {
            Outgoing::Poll { poll, .. } => poll.fallback,
            other => other.body().to_owned(),
        }),
    );
    // The questionnaire's own texts, as the conversation sends them.
    let pulse = load("pulse.toml");
    let webex = load("webex-comparison.toml");
    put2(
        "intro (deadline)",
        both(&|l| crate::survey::render::intro(&pulse, l, Some(d))),
    );
    put2(
        "intro (conditional questions)",
        both(&|l| crate::survey::render::intro(&webex, l, None)),
    );
    put2("thanks", both(&|l| crate::survey::render::thanks(l)));
    let mini = mini();
    for q in mini.questions() {
        let progress = crate::survey::render::Progress { index: 2, total: 7 };
        put2(
            &format!("question {}", q.id),
            both(&|l| crate::survey::render::question_text(q, progress, l)),
        );
    }
    for q in pulse.questions().iter().take(2) {
        let progress = crate::survey::render::Progress { index: 1, total: 6 };
        put2(
            &format!("question {}", q.id),
            both(&|l| {
                let context = q
                    .context
                    .as_ref()
                    .map(|c| format!("{}\n", c.get(l)))
                    .unwrap_or_default();
                format!(
                    "{context}{}",
                    crate::survey::render::question_text(q, progress, l)
                )
            }),
        );
    }
    for e in [
        AnswerError::NotOptional,
        AnswerError::UnknownOption { count: 5 },
        AnswerError::OutOfRange { min: 0, max: 10 },
    ] {
        put2(&format!("answer error {e:?}"), both(&|l| e.message(l)));
    }
    // `meine daten` in full.
    let mut data = example_my_data();
    put2(
        "my data",
        (
            my_data_reply(&data, &[&mini], &berlin(), Lang::De)[0]
                .body()
                .to_owned(),
            {
                if let Some(e) = data.ledger.as_mut() {
                    e.lang = Lang::En;
                }
                my_data_reply(&data, &[&mini], &berlin(), Lang::En)[0]
                    .body()
                    .to_owned()
            },
        ),
    );
    out
}

/// Snapshot of every participant text (de and en): changing any text fails this test until
/// `core/src/conversation/participant-texts.txt` is updated (`PULSEBOT_BLESS=1` rewrites it;
/// review the diff, it is what the participants read).
#[test]
fn every_participant_text_matches_its_snapshot() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/conversation/participant-texts.txt");
    let got = every_participant_text();
    if std::env::var_os("PULSEBOT_BLESS").is_some() {
        std::fs::write(&path, &got).expect("write the snapshot");
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_default();
    if want != got {
        let first = want
            .lines()
            .zip(got.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(want.lines().count().min(got.lines().count()));
        panic!(
            "participant texts changed (first difference at line {}: {:?}); review and rerun with PULSEBOT_BLESS=1",
            first + 1,
            got.lines().nth(first)
        );
    }
    // No programmer notation reaches a participant.
    for bad in ["de|en", "Some(", "None", "Choice(", "{n}", "{d}"] {
        assert!(!got.contains(bad), "`{bad}` in a participant text");
    }
}
