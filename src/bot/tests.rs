//! The fast tier: the bot's router, sender and scheduler against the in-memory port
//! (`fake.rs`), a real store in a temp dir and a clock the test moves. Whole flows run in
//! seconds without a homeserver: consent, a full round with every question kind, a changed
//! vote, an invalid answer, `stopp`, reminders inside working hours only, close with partial
//! responses, and a restart in the middle of a round.
//!
//! Timers: the bot's schedule reads the [`ManualClock`]; tokio's own time runs normally
//! (short ticks), because the store works on blocking threads, which paused tokio time does
//! not wait for (its auto-advance would fire the bot's short waits early).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use jiff::Timestamp;
use matrix_sdk::ruma::{OwnedEventId, OwnedRoomId, OwnedUserId, RoomId, UserId};
use tokio_util::sync::CancellationToken;

use super::fake::{FakePort, Sent, SentEvent};
use super::port::MatrixPort;
use super::{Bot, RunOptions};
use crate::clock::ManualClock;
use crate::config::{Config, SecretOverrides};
use crate::conversation::{Context, Outgoing};
use crate::matrix::events::Inbound;
use crate::model::{AnswerValue, ConsentState};
use crate::store::{AsyncStore, Passphrase};

/// One question of every kind (shared with the Synapse tier's round test).
const FLOW: &str = include_str!("../../tests/fixtures/surveys/flow.toml");

/// A scheduled round: Monday 2030-01-07 10:00 Berlin, two days, a reminder after 8 hours.
const SCHEDULED: &str = include_str!("../../tests/fixtures/surveys/sched.toml");

const PILOT: &str = "!pilot:fake";
const ADMIN_ROOM: &str = "!admin:fake";
const ADMIN: &str = "@admin:fake";

fn at(s: &str) -> Timestamp {
    s.parse().expect("a valid timestamp")
}

fn user(id: &str) -> OwnedUserId {
    id.try_into().expect("a valid user id")
}

fn room(id: &str) -> OwnedRoomId {
    id.try_into().expect("a valid room id")
}

static EVENTS: AtomicU64 = AtomicU64::new(0);

/// A fresh inbound event id.
fn event_id() -> OwnedEventId {
    let n = EVENTS.fetch_add(1, Ordering::Relaxed);
    format!("$in{n}").try_into().expect("a valid event id")
}

/// A bot over the fake port, a store in a temp dir and a manual clock.
struct Harness {
    /// `None` only for the moment of a restart.
    running: Option<Bot>,
    port: Arc<FakePort>,
    clock: Arc<ManualClock>,
    dir: tempfile::TempDir,
    /// Appended to the test config (e.g. a `[privacy]` table).
    extra: String,
}

impl Harness {
    /// A pilot room with `members`, an admin room, `survey` loaded, the bot running.
    async fn new(survey: &str, members: &[&str], now: Timestamp) -> Harness {
        Harness::with_surveys(&[survey], members, now).await
    }

    /// [`Harness::new`] with several surveys.
    async fn with_surveys(surveys: &[&str], members: &[&str], now: Timestamp) -> Harness {
        Harness::with_config(surveys, members, now, "").await
    }

    /// [`Harness::with_surveys`] with `extra` appended to the bot's config.
    async fn with_config(
        surveys: &[&str],
        members: &[&str],
        now: Timestamp,
        extra: &str,
    ) -> Harness {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("password"), "bot password").expect("write");
        std::fs::write(dir.path().join("passphrase"), "store passphrase").expect("write");
        for secret in ["password", "passphrase"] {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(
                dir.path().join(secret),
                std::fs::Permissions::from_mode(0o600),
            )
            .expect("chmod");
        }
        std::fs::create_dir_all(dir.path().join("surveys")).expect("mkdir");
        for survey in surveys {
            let id = survey_id(survey);
            std::fs::write(dir.path().join(format!("surveys/{id}.toml")), survey).expect("write");
        }
        let port = Arc::new(FakePort::new());
        let members: Vec<OwnedUserId> = members.iter().map(|m| user(m)).collect();
        let refs: Vec<&UserId> = members.iter().map(|m| m.as_ref()).collect();
        port.add_room(&room(PILOT), &refs);
        port.add_room(&room(ADMIN_ROOM), &[&user(ADMIN)]);
        let clock = Arc::new(ManualClock::new(now));
        port.set_clock(clock.clone());
        Harness {
            running: Some(start(&dir, port.clone(), clock.clone(), extra).await),
            port,
            clock,
            dir,
            extra: extra.to_owned(),
        }
    }

    fn bot(&self) -> &Bot {
        self.running.as_ref().expect("the bot runs")
    }

    /// Stops the bot (as a crash would: nothing flushed beyond what the store committed) and
    /// starts a new one on the same store and homeserver.
    async fn restart(&mut self) {
        let old = self.running.take().expect("the bot runs");
        old.inner.cancel.cancel();
        old.inner.tasks.close();
        let _ = tokio::time::timeout(Duration::from_secs(5), old.inner.tasks.wait()).await;
        // The store's handle must be gone before it opens again.
        drop(old);
        self.running = Some(
            start(
                &self.dir,
                self.port.clone(),
                self.clock.clone(),
                &self.extra,
            )
            .await,
        );
    }

    /// The participant says `text` in `room`.
    async fn say(&self, room: &RoomId, who: &UserId, text: &str) {
        let id = event_id();
        self.port
            .note_incoming(room, who, &id, super::port::HistoryKind::Text);
        let ev = Inbound::Text {
            event_id: id,
            sender: who.to_owned(),
            body: text.to_owned(),
        };
        self.bot().route(room, ev, None).await.expect("handled");
    }

    /// The participant votes `answers` on the poll `poll`; the vote's event id back.
    async fn vote(
        &self,
        room: &RoomId,
        who: &UserId,
        poll: &SentEvent,
        answers: &[&str],
    ) -> OwnedEventId {
        let id = event_id();
        self.vote_as(id.clone(), room, who, poll, answers).await;
        id
    }

    /// The vote with event id `id` (a replay when the bot saw it before).
    async fn vote_as(
        &self,
        id: OwnedEventId,
        room: &RoomId,
        who: &UserId,
        poll: &SentEvent,
        answers: &[&str],
    ) {
        self.port
            .note_incoming(room, who, &id, super::port::HistoryKind::Other);
        let ev = Inbound::PollResponse {
            event_id: id,
            sender: who.to_owned(),
            poll_id: poll.event_id.clone(),
            answers: answers.iter().map(|a| (*a).to_owned()).collect(),
        };
        self.bot().route(room, ev, None).await.expect("handled");
    }

    /// Waits for the question `item` in `dm` after the first `after` events.
    async fn asked(&self, dm: &RoomId, after: usize, item: &str) -> (usize, SentEvent) {
        let ctx = question(item);
        self.port.wait_for(dm, after, item, is_context(&ctx)).await
    }

    /// Waits for what `pred` accepts among the bot's messages in the admin room.
    async fn in_admin_room(&self, what: &str, pred: impl Fn(&SentEvent) -> bool) -> SentEvent {
        self.port.wait_for(&room(ADMIN_ROOM), 0, what, pred).await.1
    }

    /// The admin's command in the admin room.
    async fn admin(&self, command: &str) {
        self.say(&room(ADMIN_ROOM), &user(ADMIN), command).await;
    }

    /// A store handle (the bot's own).
    fn store(&self) -> &AsyncStore {
        &self.bot().inner.store
    }
}

impl Drop for Harness {
    fn drop(&mut self) {
        if let Some(bot) = &self.running {
            bot.inner.cancel.cancel();
        }
    }
}

fn survey_id(toml: &str) -> String {
    toml.lines()
        .find_map(|l| l.strip_prefix("id = \""))
        .and_then(|l| l.strip_suffix('"'))
        .expect("the survey has an id")
        .to_owned()
}

/// A bot on the data in `dir`, running its background tasks.
async fn start(
    dir: &tempfile::TempDir,
    port: Arc<FakePort>,
    clock: Arc<ManualClock>,
    extra: &str,
) -> Bot {
    let text = format!(
        "[matrix]\nhomeserver = \"http://127.0.0.1:9\"\nuser = \"@pulsebot:fake\"\npassword_file = \"password\"\n\
         max_send_rate = 1000\n\n\
         [bot]\nadmins = [\"{ADMIN}\"]\npilot_rooms = [\"{PILOT}\"]\nadmin_room = \"{ADMIN_ROOM}\"\n\n\
         [store]\npath = \"store\"\npassphrase_file = \"passphrase\"\n\n\
         [surveys]\ndir = \"surveys\"\n{extra}\n"
    );
    let path = dir.path().join("config.toml");
    std::fs::write(&path, &text).expect("write config");
    let config = match Config::parse(&path, &text, &SecretOverrides::default()) {
        Ok(c) => c,
        Err(e) => panic!("test config: {e}"),
    };
    let surveys = super::load_surveys(&config).expect("surveys load");
    let store = AsyncStore::open(
        config.store.data_dir(),
        Passphrase::new(config.store.passphrase.expose()).expect("passphrase"),
    )
    .await
    .expect("store opens");
    let options = RunOptions {
        clock,
        tick: Duration::from_millis(50),
        metrics: Arc::default(),
    };
    let bot = Bot::new(
        config,
        port,
        store,
        surveys,
        options,
        CancellationToken::new(),
    );
    bot.load_dm_rooms().await.expect("dm rooms");
    bot.spawn_background();
    bot
}

fn is_poll(ctx: &Context) -> impl Fn(&SentEvent) -> bool + '_ {
    move |e| matches!(&e.what, Sent::Message(Outgoing::Poll { context, .. }) if context == ctx)
}

fn is_context(ctx: &Context) -> impl Fn(&SentEvent) -> bool + '_ {
    move |e| match &e.what {
        Sent::Message(Outgoing::Poll { context, .. } | Outgoing::Text { context, .. }) => {
            context == ctx
        }
        _ => false,
    }
}

fn question(item: &str) -> Context {
    Context::Question(item.to_owned())
}

/// The answer ids of a sent poll, in display order.
fn answer_ids(e: &SentEvent) -> Vec<String> {
    match &e.what {
        Sent::Message(Outgoing::Poll { poll, .. }) => {
            poll.answers.iter().map(|a| a.id.clone()).collect()
        }
        other => panic!("not a poll: {other:?}"),
    }
}

/// Brings `who` through first contact: the DM, the notice and the consent poll, voted "yes".
/// Returns the DM and how many events it held when the first question may come.
async fn consent(h: &Harness, who: &UserId) -> (OwnedRoomId, usize) {
    let dm = h.port.wait_for_dm(who).await;
    let (i, poll) = h
        .port
        .wait_for(&dm, 0, "the consent poll", is_poll(&Context::Consent))
        .await;
    let yes = answer_ids(&poll).remove(0);
    h.vote(&dm, who, &poll, &[&yes]).await;
    (dm, i + 1)
}

/// Alice and Bob in the pilot room, the `flow` round started, both consented: each with
/// their DM and where their first question may come.
async fn two_in_a_flow_round() -> (Harness, [(OwnedUserId, OwnedRoomId, usize); 2]) {
    let (alice, bob) = (user("@alice:fake"), user("@bob:fake"));
    let h = Harness::new(
        FLOW,
        &[alice.as_str(), bob.as_str()],
        at("2030-01-07T09:00:00Z"),
    )
    .await;
    h.admin("!pulse start flow").await;
    let (dm_a, from_a) = consent(&h, &alice).await;
    let (dm_b, from_b) = consent(&h, &bob).await;
    (h, [(alice, dm_a, from_a), (bob, dm_b, from_b)])
}

async fn answers_of(h: &Harness, survey: &str, round: u32) -> Vec<crate::model::AnswerRecord> {
    let s = survey.to_owned();
    h.store()
        .run(move |st| st.answers(&s, round))
        .await
        .expect("answers")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consent_then_every_question_kind_with_a_changed_vote_and_an_invalid_answer() {
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    h.admin("!pulse start flow").await;
    let (dm, from) = consent(&h, &alice).await;

    // usage (single choice) by poll: "daily" opens the conditional `features`.
    let (i, usage) = h.asked(&dm, from, "usage").await;
    h.vote(&dm, &alice, &usage, &["daily"]).await;
    let (i, features) = h.asked(&dm, i + 1, "features").await;
    // An invalid typed answer gets a hint and changes nothing.
    h.say(&dm, &alice, "99").await;
    let (i, _) = h
        .port
        .wait_for(&dm, i + 1, "a hint", is_context(&Context::Hint))
        .await;
    h.vote(&dm, &alice, &features, &["chat", "files"]).await;
    let (i, notify) = h.asked(&dm, i + 1, "notify").await;
    h.vote(&dm, &alice, &notify, &["2"]).await;
    // overall (0–10) typed as a number.
    let (i, _) = h.asked(&dm, i + 1, "overall").await;
    h.say(&dm, &alice, "8").await;
    let (i, task) = h.asked(&dm, i + 1, "task.1").await;
    // A changed vote on an earlier poll replaces that answer silently.
    h.vote(&dm, &alice, &notify, &["5"]).await;
    h.vote(&dm, &alice, &task, &["6"]).await;
    let (i, _) = h.asked(&dm, i + 1, "comment").await;
    h.say(&dm, &alice, "Alles gut").await;
    h.port
        .wait_for(&dm, i + 1, "thanks", is_context(&Context::Thanks))
        .await;

    let stored = answers_of(&h, "flow", 1).await;
    assert_eq!(stored.len(), 1, "one response, counted once");
    let a = &stored[0].answers;
    assert!(stored[0].complete);
    assert_eq!(a.get("usage"), Some(&AnswerValue::Choice("daily".into())));
    assert_eq!(
        a.get("features"),
        Some(&AnswerValue::Multi(vec!["chat".into(), "files".into()]))
    );
    assert_eq!(a.get("notify"), Some(&AnswerValue::Choice("5".into())));
    assert_eq!(a.get("overall"), Some(&AnswerValue::Number(8)));
    assert_eq!(a.get("task.1"), Some(&AnswerValue::Choice("6".into())));
    assert_eq!(
        a.get("comment"),
        Some(&AnswerValue::Text("Alles gut".into()))
    );
    // No question went out twice.
    let questions: Vec<String> = h
        .port
        .sent(&dm)
        .iter()
        .filter_map(|e| match &e.what {
            Sent::Message(Outgoing::Poll { context, .. } | Outgoing::Text { context, .. }) => {
                match context {
                    Context::Question(item) => Some(item.clone()),
                    _ => None,
                }
            }
            _ => None,
        })
        .collect();
    let mut unique = questions.clone();
    unique.dedup();
    assert_eq!(questions, unique, "a question was sent twice");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopp_ends_the_round_for_that_participant_only() {
    let (h, [(alice, dm_a, from_a), (bob, dm_b, from_b)]) = two_in_a_flow_round().await;
    let (asked_a, _) = h.asked(&dm_a, from_a, "usage").await;
    let (_, usage_b) = h.asked(&dm_b, from_b, "usage").await;
    h.say(&dm_a, &alice, "stopp").await;
    let (i, _) = h
        .port
        .wait_for(
            &dm_a,
            asked_a + 1,
            "the stop confirmation",
            is_context(&Context::Reply),
        )
        .await;
    // Bob goes on unaffected.
    h.vote(&dm_b, &bob, &usage_b, &["rarely"]).await;
    h.port
        .wait_for(&dm_b, from_b, "notify", is_poll(&question("notify")))
        .await;
    // Alice's votes no longer count, and she gets no further question.
    let a = alice.to_string();
    let entry = h
        .store()
        .run(move |s| s.participant(&a))
        .await
        .expect("read")
        .expect("alice is in the ledger");
    assert_eq!(entry.consent, ConsentState::No);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        h.port.sent(&dm_a)[i + 1..].iter().all(|e| !matches!(
            &e.what,
            Sent::Message(Outgoing::Poll {
                context: Context::Question(_),
                ..
            })
        )),
        "a question after stopp"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn close_keeps_partial_responses_and_refuses_late_answers() {
    let (h, [(alice, dm_a, from_a), _]) = two_in_a_flow_round().await;
    let (i, usage) = h.asked(&dm_a, from_a, "usage").await;
    h.vote(&dm_a, &alice, &usage, &["rarely"]).await;
    let (i, notify) = h.asked(&dm_a, i + 1, "notify").await;
    h.admin("!pulse close flow").await;
    h.in_admin_room(
        "the close reply",
        |e| matches!(&e.what, Sent::Text(t) if t.contains("geschlossen")),
    )
    .await;
    // Alice answered one question: a partial response; Bob none: nothing.
    let stored = answers_of(&h, "flow", 1).await;
    assert_eq!(stored.len(), 1);
    assert!(!stored[0].complete);
    assert_eq!(
        stored[0].answers.get("usage"),
        Some(&AnswerValue::Choice("rarely".into()))
    );
    // A late vote is not counted; Alice is told the survey is over.
    h.vote(&dm_a, &alice, &notify, &["4"]).await;
    h.port
        .wait_for(
            &dm_a,
            i + 1,
            "the closed reply",
            is_context(&Context::Closed),
        )
        .await;
    let stored = answers_of(&h, "flow", 1).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].answers.get("notify"), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restart_in_the_middle_of_a_round_goes_on_where_it_stopped() {
    let alice = user("@alice:fake");
    let mut h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    h.admin("!pulse start flow").await;
    let (dm, from) = consent(&h, &alice).await;
    let (i, usage) = h.asked(&dm, from, "usage").await;
    let first = h.vote(&dm, &alice, &usage, &["rarely"]).await;
    let (i, notify) = h.asked(&dm, i + 1, "notify").await;
    h.restart().await;
    // The same vote replayed after the restart (a sync position not yet saved) counts once.
    h.vote_as(first, &dm, &alice, &usage, &["rarely"]).await;
    h.vote(&dm, &alice, &notify, &["3"]).await;
    let (_, overall) = h.asked(&dm, i + 1, "overall").await;
    assert!(matches!(overall.what, Sent::Message(_)));
    let count = |item: &str| {
        h.port
            .sent(&dm)
            .iter()
            .filter(|e| is_context(&question(item))(e))
            .count()
    };
    assert_eq!(count("usage"), 1, "usage asked once across the restart");
    assert_eq!(count("notify"), 1, "notify asked once across the restart");
    assert_eq!(count("overall"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scheduled_round_opens_reminds_in_working_hours_only_and_closes() {
    let alice = user("@alice:fake");
    // Monday 2030-01-07, 09:00 in Berlin (UTC+1): an hour before the round.
    let h = Harness::new(SCHEDULED, &[alice.as_str()], at("2030-01-07T08:00:00Z")).await;
    let settle = || tokio::time::sleep(Duration::from_millis(400));
    settle().await;
    assert!(
        h.port.dm_of(&alice).is_none(),
        "nothing before the round opens"
    );

    // 10:00:30: the round opens; the participant consents and gets the first question.
    h.clock.set(at("2030-01-07T09:00:30Z"));
    let (dm, from) = consent(&h, &alice).await;
    h.port
        .wait_for(&dm, from, "q1", is_poll(&question("q1")))
        .await;
    let reminders = || {
        h.port
            .sent(&dm)
            .iter()
            .filter(|e| is_context(&Context::Reminder)(e))
            .count()
    };
    // The reminder is due 8 hours after opening, 18:00 — the start of the quiet hours.
    h.clock.set(at("2030-01-07T17:30:00Z"));
    settle().await;
    assert_eq!(reminders(), 0, "no reminder at 18:30 (quiet hours)");
    h.clock.set(at("2030-01-08T06:59:00Z"));
    settle().await;
    assert_eq!(reminders(), 0, "no reminder at 07:59 (quiet hours)");
    h.clock.set(at("2030-01-08T07:01:00Z"));
    h.port
        .wait_for(&dm, from, "the reminder", is_context(&Context::Reminder))
        .await;
    settle().await;
    assert_eq!(reminders(), 1, "one reminder, at 08:01");

    // Wednesday 10:00:30: the round is over.
    h.clock.set(at("2030-01-09T09:00:30Z"));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let info = loop {
        let info = h
            .store()
            .run(|s| s.round_info("sched", 1))
            .await
            .expect("read")
            .expect("round 1 exists");
        if info.closed_at.is_some() || tokio::time::Instant::now() > deadline {
            break info;
        }
        settle().await;
    };
    assert_eq!(info.opened_at, at("2030-01-07T09:00:30Z"));
    assert_eq!(info.closed_at, Some(at("2030-01-09T09:00:30Z")));
    assert_eq!(info.audience, Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_round_started_after_an_import_takes_the_next_number() {
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    let imported = crate::model::AnswerRecord {
        survey_id: "flow".into(),
        round: 0,
        complete: true,
        answers: [("notify".to_owned(), AnswerValue::Choice("4".into()))].into(),
        pseudonym: None,
    };
    let now = at("2030-01-06T09:00:00Z");
    h.store()
        .run(move |s| {
            s.import_round(
                "flow",
                "webex-2029",
                crate::model::Mode::Anonymous,
                &[imported],
                now,
                "cli",
            )
        })
        .await
        .expect("import");
    // The scheduler reads its rounds from the store, imported ones included: the bot's
    // round is round 2, not a second round 1.
    h.admin("!pulse start flow").await;
    h.in_admin_room(
        "the start reply",
        |e| matches!(&e.what, Sent::Text(t) if t.starts_with("Runde 2 von `flow` ist offen")),
    )
    .await;
    let (dm, from) = consent(&h, &alice).await;
    h.asked(&dm, from, "usage").await;
    let info = h
        .store()
        .run(|s| s.round_info("flow", 2))
        .await
        .expect("read")
        .expect("round 2 exists");
    assert!(info.closed_at.is_none() && info.schedule.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_commands_are_answered_in_the_admin_room_and_a_1_to_1_chat_only() {
    let h = Harness::new(FLOW, &[], at("2030-01-07T09:00:00Z")).await;
    let (admin, colleague) = (user(ADMIN), user("@colleague:fake"));
    let status = |e: &SentEvent| matches!(&e.what, Sent::Text(t) if t.contains("pulsebot"));
    let wrong_room = |e: &SentEvent| matches!(&e.what, Sent::Text(t) if t.contains("Admin-Raum"));
    // A team room the admin invited the bot into: no status there, only the pointer.
    let team = room("!team:fake");
    h.port.add_room(&team, &[&admin, &colleague]);
    h.say(&team, &admin, "!pulse status").await;
    h.port
        .wait_for(&team, 0, "the wrong-room reply", wrong_room)
        .await;
    assert!(
        !h.port.sent(&team).iter().any(status),
        "status in a team room"
    );
    // The admin's 1:1 chat with the bot and the admin room get the status.
    let direct = room("!direct:fake");
    h.port.add_room(&direct, &[&admin]);
    h.say(&direct, &admin, "!pulse status").await;
    h.port.wait_for(&direct, 0, "the status", status).await;
    h.admin("!pulse status").await;
    h.in_admin_room("the status", status).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_are_uploaded_into_encrypted_rooms_only() {
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    let admin = user(ADMIN);
    h.admin("!pulse start flow").await;
    let (dm, from) = consent(&h, &alice).await;
    h.asked(&dm, from, "usage").await;
    // A 1:1 chat with the admin, but not encrypted: a pointer, no file.
    let plain = room("!plain:fake");
    h.port.add_plain_room(&plain, &[&admin]);
    h.say(&plain, &admin, "!pulse report flow").await;
    h.port
        .wait_for(
            &plain,
            0,
            "the refusal",
            |e| matches!(&e.what, Sent::Text(t) if t.contains("verschlüsselte Räume")),
        )
        .await;
    assert!(
        !h.port
            .sent(&plain)
            .iter()
            .any(|e| matches!(e.what, Sent::File(_))),
        "a report in an unencrypted room"
    );
    // The (encrypted) admin room gets the file.
    h.admin("!pulse report flow").await;
    h.in_admin_room(
        "the report file",
        |e| matches!(&e.what, Sent::File(name) if name.ends_with(".html")),
    )
    .await;
}

// --- Hostile rooms and careless participants (issue 14) ---------------------------------

impl Harness {
    /// Any inbound event, routed as the sync loop would.
    async fn event(&self, room: &RoomId, ev: Inbound) {
        self.bot().route(room, ev, None).await.expect("handled");
    }

    fn metric(&self, f: impl Fn(&crate::metrics::Metrics) -> &AtomicU64) -> u64 {
        f(&self.bot().inner.metrics).load(Ordering::Relaxed)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_send_is_dropped_and_no_other_participant_waits_for_it() {
    use super::port::Refusal;
    let (h, [(alice, dm_a, from_a), (bob, dm_b, from_b)]) = two_in_a_flow_round().await;
    let (_, usage_a) = h.asked(&dm_a, from_a, "usage").await;
    let (_, usage_b) = h.asked(&dm_b, from_b, "usage").await;
    // Alice's DM refuses everything from now on (the bot was muted there).
    h.port.refuse(&dm_a, Refusal::Final, u32::MAX);
    h.vote(&dm_a, &alice, &usage_a, &["daily"]).await;
    // Bob is not held up by it.
    let (i, _) = h
        .port
        .wait_for(&dm_b, from_b, "usage", is_context(&question("usage")))
        .await;
    h.vote(&dm_b, &bob, &usage_b, &["daily"]).await;
    h.asked(&dm_b, i + 1, "features").await;
    // Alice's question was given up, counted, and not retried.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while h.metric(|m| &m.messages_dropped) == 0 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the refusal was never given up"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let pending = h.store().pending().await.expect("outbox");
    assert!(
        pending.iter().all(|m| m.message.room_id != dm_a.as_str()),
        "nothing waits for the refusing room"
    );
    // A rate limit is waited out and the message goes through.
    h.port.refuse(
        &dm_b,
        Refusal::RateLimited(Some(Duration::from_millis(100))),
        2,
    );
    let (i, features) = h.asked(&dm_b, 0, "features").await;
    h.vote(&dm_b, &bob, &features, &["chat"]).await;
    h.asked(&dm_b, i + 1, "notify").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dm_someone_else_joins_is_left_and_the_round_goes_on_in_a_fresh_one() {
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    h.admin("!pulse start flow").await;
    let (dm, from) = consent(&h, &alice).await;
    let (_, usage) = h.asked(&dm, from, "usage").await;
    h.vote(&dm, &alice, &usage, &["daily"]).await;
    let (_, _) = h.asked(&dm, from, "features").await;
    // A colleague joins the DM.
    let eve = user("@eve:fake");
    h.port.join_as(&dm, &eve);
    h.event(
        &dm,
        Inbound::Membership {
            event_id: event_id(),
            user: eve.clone(),
            membership: matrix_sdk::ruma::events::room::member::MembershipState::Join,
        },
    )
    .await;
    // A fresh DM: one line of explanation, then the waiting question again.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let fresh = loop {
        if let Some(d) = h.port.dm_of(&alice).filter(|d| *d != dm) {
            break d;
        }
        assert!(tokio::time::Instant::now() < deadline, "no fresh DM");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let (_, hint) = h
        .port
        .wait_for(&fresh, 0, "the explanation", is_context(&Context::Hint))
        .await;
    assert!(
        matches!(&hint.what, Sent::Message(m) if m.body() == crate::conversation::texts::dm_moved(crate::lang::Lang::De))
    );
    let (_, features) = h.asked(&fresh, 0, "features").await;
    let before = h.port.sent(&dm).len();
    // Nothing more goes into the old room: `meine daten` there is ignored, the round goes
    // on in the fresh one.
    h.say(&dm, &alice, "meine daten").await;
    h.vote(&fresh, &alice, &features, &["chat"]).await;
    h.asked(&fresh, 0, "notify").await;
    assert_eq!(
        h.port.sent(&dm).len(),
        before,
        "the old DM gets nothing more"
    );
    assert!(!h.port.is_joined(&dm), "the bot left the old DM");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn edits_redactions_and_replies_in_a_round() {
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    h.admin("!pulse start flow").await;
    let (dm, from) = consent(&h, &alice).await;
    let (i, _) = h.asked(&dm, from, "usage").await;
    // A typed answer, then its edit: the answer changes, the waiting question stays.
    let typed = event_id();
    h.event(
        &dm,
        Inbound::Text {
            event_id: typed.clone(),
            sender: alice.clone(),
            body: "1".into(),
        },
    )
    .await;
    let (i, features) = h.asked(&dm, i + 1, "features").await;
    // A quote-reply is no answer: a hint, nothing counted.
    h.event(
        &dm,
        Inbound::Aside {
            event_id: event_id(),
            sender: alice.clone(),
            body: "1".into(),
        },
    )
    .await;
    let (i, _) = h
        .port
        .wait_for(&dm, i + 1, "the reply hint", is_context(&Context::Reply))
        .await;
    // The edit turns "daily" into "weekly" (features stays asked); a command in an edit is
    // no command.
    h.event(
        &dm,
        Inbound::Edit {
            event_id: event_id(),
            sender: alice.clone(),
            target: typed.clone(),
            body: "2".into(),
        },
    )
    .await;
    h.event(
        &dm,
        Inbound::Edit {
            event_id: event_id(),
            sender: alice.clone(),
            target: typed.clone(),
            body: "stopp".into(),
        },
    )
    .await;
    h.vote(&dm, &alice, &features, &["chat"]).await;
    let (i, notify) = h.asked(&dm, i + 1, "notify").await;
    // Redacting the vote on `features` withdraws it: asked again.
    let vote = h.vote(&dm, &alice, &notify, &["3"]).await;
    let (i, _) = h.asked(&dm, i + 1, "overall").await;
    h.event(
        &dm,
        Inbound::Redaction {
            event_id: event_id(),
            sender: alice.clone(),
            target: vote,
        },
    )
    .await;
    let (_, notify2) = h.asked(&dm, i + 1, "notify").await;
    h.vote(&dm, &alice, &notify2, &["4"]).await;
    let u = alice.to_string();
    let state = h
        .store()
        .run(move |s| s.conversation(&u, "flow", 1))
        .await
        .expect("read")
        .expect("running");
    assert_eq!(
        state.answers.get("usage"),
        Some(&AnswerValue::Choice("weekly".into()))
    );
    assert_eq!(
        state.answers.get("notify"),
        Some(&AnswerValue::Choice("4".into()))
    );
    let entry = h
        .store()
        .run({
            let u = alice.to_string();
            move |s| s.participant(&u)
        })
        .await
        .expect("read")
        .expect("entry");
    assert_eq!(
        entry.consent,
        ConsentState::Yes,
        "`stopp` in an edit is no command"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_junk_flood_costs_bounded_replies_and_state_and_nobody_waits() {
    let (h, [(alice, dm_a, from_a), (bob, dm_b, from_b)]) = two_in_a_flow_round().await;
    let (_, usage_b) = h.asked(&dm_b, from_b, "usage").await;
    h.asked(&dm_a, from_a, "usage").await;
    let sent_before = h.port.sent(&dm_a).len();
    // Alice sends 500 junk messages and votes on polls that do not exist.
    let flood = {
        let (bot, dm_a, alice) = (h.bot().clone(), dm_a.clone(), alice.clone());
        tokio::spawn(async move {
            for k in 0..500 {
                let ev = if k % 2 == 0 {
                    Inbound::Text {
                        event_id: event_id(),
                        sender: alice.clone(),
                        body: format!("junk {k}"),
                    }
                } else {
                    Inbound::PollResponse {
                        event_id: event_id(),
                        sender: alice.clone(),
                        poll_id: "$no-such-poll".try_into().expect("id"),
                        answers: vec!["x".into()],
                    }
                };
                bot.route(&dm_a, ev, None).await.expect("handled");
            }
        })
    };
    // Meanwhile Bob answers and gets his next question.
    let t0 = std::time::Instant::now();
    h.vote(&dm_b, &bob, &usage_b, &["daily"]).await;
    h.asked(&dm_b, 0, "features").await;
    let delay = t0.elapsed();
    flood.await.expect("flood");
    println!("bob's next question during alice's 500-message flood: {delay:?}");
    // Alice got a handful of hints, not 500.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let replies = h.port.sent(&dm_a).len() - sent_before;
    assert!(
        replies <= crate::throttle::REPLY_BURST as usize + 2,
        "{replies} replies to a flood"
    );
    assert!(h.metric(|m| &m.replies_throttled) > 0);
    // Her state is bounded: the counted log holds at most its cap.
    let u = alice.to_string();
    let state = h
        .store()
        .run(move |s| s.conversation(&u, "flow", 1))
        .await
        .expect("read")
        .expect("running");
    assert!(state.counted.len() <= crate::counted::MAX_COUNTED);
    assert!(state.answers.is_empty(), "junk answered nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upgraded_pilot_room_is_followed() {
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    let new = room("!pilot2:fake");
    h.port.upgrade(&room(PILOT), &new);
    h.event(
        &room(PILOT),
        Inbound::Tombstone {
            event_id: event_id(),
            replacement: new.clone(),
        },
    )
    .await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !h.port.is_joined(&new) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the new room was not joined"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(h.bot().directory().is_pilot(&new) && h.bot().directory().is_pilot(&room(PILOT)));
    // A new member of the new room is asked like any pilot member.
    let bea = user("@bea:fake");
    h.port.add_room(&new, &[&bea]);
    h.admin("!pulse start flow").await;
    h.port.wait_for_dm(&bea).await;
    h.port.wait_for_dm(&alice).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_in_a_room_that_refuses_replies_stalls_nothing() {
    use super::port::Refusal;
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    // The bot is muted in the pilot room; people type commands there.
    h.port.refuse(&room(PILOT), Refusal::Final, u32::MAX);
    for _ in 0..20 {
        h.say(&room(PILOT), &alice, "!pulse status").await;
        h.say(&room(PILOT), &user(ADMIN), "!pulse status").await;
    }
    // Every event was handled at once (no error for the sync loop to retry), and the admin
    // room still works.
    h.admin("!pulse help").await;
    h.in_admin_room(
        "help",
        |e| matches!(&e.what, Sent::Text(t) if t.contains("!pulse")),
    )
    .await;
    assert!(h.port.sent(&room(PILOT)).is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_refuses_to_start_while_an_open_rounds_survey_file_is_missing() {
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    h.admin("!pulse start flow").await;
    h.port.wait_for_dm(&alice).await;
    let rounds = h.store().run(|s| s.rounds()).await.expect("rounds");
    let dir = std::path::Path::new("surveys");
    let err = super::check_open_rounds(&rounds, &[], dir).expect_err("refused");
    let text = err.to_string();
    assert!(
        text.contains("`flow` round 1") && text.contains("!pulse close"),
        "{text}"
    );
    let loaded: Vec<crate::survey::Survey> = h
        .bot()
        .inner
        .surveys
        .iter()
        .map(|s| (**s).clone())
        .collect();
    assert!(super::check_open_rounds(&rounds, &loaded, dir).is_ok());
}

/// `min_gap` (issue 15): a participant asked in one survey's round is not invited to another
/// survey's round that opens within the gap; with a gap of zero they are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn min_gap_keeps_a_participant_from_being_asked_twice_across_surveys() {
    let alice = user("@alice:fake");
    let other = FLOW.replace("id = \"flow\"", "id = \"other\"");
    let no_gap = FLOW
        .replace("id = \"flow\"", "id = \"nogap\"")
        .replace("[schedule]\n", "[schedule]\nmin_gap = \"0 days\"\n");
    let h = Harness::with_surveys(
        &[FLOW, &other, &no_gap],
        &[alice.as_str()],
        at("2030-01-07T09:00:00Z"),
    )
    .await;
    h.admin("!pulse start flow").await;
    let (dm, from) = consent(&h, &alice).await;
    h.asked(&dm, from, "usage").await;
    h.admin("!pulse close flow").await;
    h.port
        .wait_for(&dm, from, "the round's end", |e| {
            matches!(&e.what, Sent::Message(Outgoing::PollEnd { .. }))
        })
        .await;
    let store = h.store().clone();
    let round_of = |survey: &'static str| {
        let (u, store) = (alice.to_string(), store.clone());
        async move {
            store
                .run(move |s| s.participant(&u))
                .await
                .expect("read")
                .expect("entry")
                .round(survey, 1)
                .is_some()
        }
    };
    // `other` opens the same day: within the default gap of 7 days, so no invitation.
    h.admin("!pulse start other").await;
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(!round_of("other").await, "invited within min_gap");
    h.admin("!pulse close other").await;
    // `nogap` has no gap: invited at once.
    h.admin("!pulse start nogap").await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !round_of("nogap").await {
        assert!(
            tokio::time::Instant::now() < deadline,
            "not invited without a gap"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Issue 15: a change of `min_group_size` between starts is in the audit log, once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_changed_min_group_size_is_audited_at_start() {
    let h = Harness::new(FLOW, &[], at("2030-01-07T09:00:00Z")).await;
    let mut config = h.bot().inner.config.clone();
    let now = at("2030-01-07T10:00:00Z");
    let entries = || async {
        h.store()
            .run(|s| s.audit_log())
            .await
            .expect("audit")
            .into_iter()
            .filter(|e| e.action == "config.min_group_size")
            .map(|e| e.detail)
            .collect::<Vec<_>>()
    };
    super::audit_config_changes(h.store(), &config, now)
        .await
        .expect("audit");
    super::audit_config_changes(h.store(), &config, now)
        .await
        .expect("audit");
    assert_eq!(
        entries().await.len(),
        1,
        "the first start records it, a restart does not"
    );
    config.privacy.min_group_size = 3;
    super::audit_config_changes(h.store(), &config, now)
        .await
        .expect("audit");
    let got = entries().await;
    assert_eq!(got.len(), 2);
    assert!(got[1].starts_with("min_group_size 5 -> 3"), "{got:?}");
}

/// Issue 16: the intro names the deadline; `später` pauses with a short note, `weitermachen`
/// brings the waiting question back; reminders name the deadline and the questions left.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_round_names_its_deadline_and_can_be_paused_and_resumed() {
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    h.admin("!pulse start flow").await;
    let (dm, from) = consent(&h, &alice).await;
    let (_, intro) = h
        .port
        .wait_for(&dm, from, "the intro", is_context(&Context::Intro))
        .await;
    let Sent::Message(intro) = &intro.what else {
        panic!("{intro:?}")
    };
    // `flow` is open for the default three days from Monday 7 January 2030, 10:00 Berlin.
    assert!(
        intro
            .body()
            .contains(", bis Donnerstag, 10. Januar, 10 Uhr"),
        "{}",
        intro.body()
    );
    assert!(intro.body().contains("„später“"), "{}", intro.body());
    let (i, _) = h.asked(&dm, from, "usage").await;
    h.say(&dm, &alice, "später").await;
    let (i, paused) = h
        .port
        .wait_for(&dm, i + 1, "the pause note", is_context(&Context::Reply))
        .await;
    assert!(
        matches!(&paused.what, Sent::Message(m) if m.body() == crate::conversation::texts::paused(crate::lang::Lang::De))
    );
    h.say(&dm, &alice, "weitermachen").await;
    let (_, again) = h.asked(&dm, i + 1, "usage").await;
    h.vote(&dm, &alice, &again, &["daily"]).await;
    h.asked(&dm, i + 1, "features").await;
}

/// The Webex SUS behind a screening question (issue 16: no forced ratings).
const SCREENED: &str = r#"
id = "screened"
title = { de = "Webex-Vergleich", en = "Webex comparison" }
intro = { de = "Kurz zu Webex.", en = "A quick one about Webex." }
[schedule]
manual = true
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
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn who_does_not_use_webex_skips_its_block_and_the_webex_sus_counts_only_raters() {
    let people: Vec<OwnedUserId> = ["alice", "bob", "carol", "dave", "erin", "frank"]
        .iter()
        .map(|n| user(&format!("@{n}:fake")))
        .collect();
    let names: Vec<&str> = people.iter().map(|p| p.as_str()).collect();
    let h = Harness::new(SCREENED, &names, at("2030-01-07T09:00:00Z")).await;
    h.admin("!pulse start screened").await;
    // Frank never uses Webex; the other five rate it.
    let frank = &people[5];
    let (dm_f, from_f) = consent(&h, frank).await;
    let (i, screen) = h.asked(&dm_f, from_f, "uses_webex").await;
    h.vote(&dm_f, frank, &screen, &["no"]).await;
    let (_, thanks) = h
        .port
        .wait_for(&dm_f, i + 1, "thanks", is_context(&Context::Thanks))
        .await;
    assert!(matches!(&thanks.what, Sent::Message(Outgoing::Text { .. })));
    // Not one Webex statement or announcement reached him.
    assert!(
        !h.port.sent(&dm_f).iter().any(|e| matches!(
            &e.what,
            Sent::Message(Outgoing::Poll { context, .. } | Outgoing::Text { context, .. })
                if matches!(context, Context::Question(q) | Context::Info(q) if q.starts_with("sus_webex"))
        )),
        "a Webex question was sent to someone who does not use it"
    );
    for who in &people[..5] {
        let (dm, from) = consent(&h, who).await;
        let (mut i, screen) = h.asked(&dm, from, "uses_webex").await;
        h.vote(&dm, who, &screen, &["yes"]).await;
        for item in 1..=10 {
            let (j, poll) = h.asked(&dm, i + 1, &format!("sus_webex.{item}")).await;
            h.vote(&dm, who, &poll, &["3"]).await;
            i = j;
        }
        h.port
            .wait_for(&dm, i + 1, "thanks", is_context(&Context::Thanks))
            .await;
    }
    let stored = answers_of(&h, "screened", 1).await;
    assert_eq!(stored.len(), 6);
    assert!(stored.iter().all(|r| r.complete), "skipping is finishing");
    let skipped = stored
        .iter()
        .filter(|r| !r.answers.keys().any(|k| k.starts_with("sus_webex")))
        .count();
    assert_eq!(skipped, 1, "only Frank's response lacks the Webex block");

    h.admin("!pulse close screened").await;
    h.in_admin_room(
        "the close reply",
        |e| matches!(&e.what, Sent::Text(t) if t.contains("geschlossen")),
    )
    .await;
    let path = h.dir.path().join("surveys/screened.toml");
    let survey = crate::survey::load_file(&path, &crate::survey::SurveyDefaults::default())
        .expect("the survey loads");
    let now = crate::clock::Clock::now(h.clock.as_ref());
    let req = crate::services::export::ExportRequest {
        survey: "screened".into(),
        rounds: crate::services::export::Rounds::All,
        format: crate::export::Format::Json,
        include_text: false,
        lang: crate::lang::Lang::De,
        distributions: Default::default(),
    };
    let json =
        crate::services::export::export(h.store().blocking_store(), &survey, &req, "test", now)
            .expect("export");
    let json: serde_json::Value = serde_json::from_slice(&json).expect("json");
    let sus = json["rounds"][0]["instruments"]
        .as_array()
        .expect("instruments")
        .iter()
        .find(|i| i["block"] == "sus_webex")
        .cloned()
        .expect("sus_webex");
    // Five ratings of SUS 50 (all "3"), not six with a zero for Frank.
    assert_eq!(sus["n"], 5, "{sus}");
    assert_eq!(sus["suppressed"], false, "{sus}");
    assert_eq!(sus["mean"], 50.0, "{sus}");
}

/// Answers every question of a `flow` round in `dm` from event `from` on (polls voted,
/// numbers and text typed); returns the index of the thanks.
async fn answer_flow_round(h: &Harness, dm: &RoomId, who: &UserId, from: usize) -> usize {
    let (i, usage) = h.asked(dm, from, "usage").await;
    h.vote(dm, who, &usage, &["daily"]).await;
    let (i, features) = h.asked(dm, i + 1, "features").await;
    h.vote(dm, who, &features, &["chat"]).await;
    let (i, notify) = h.asked(dm, i + 1, "notify").await;
    h.vote(dm, who, &notify, &["4"]).await;
    let (i, _) = h.asked(dm, i + 1, "overall").await;
    h.say(dm, who, "7").await;
    let (i, task) = h.asked(dm, i + 1, "task.1").await;
    h.vote(dm, who, &task, &["5"]).await;
    let (i, _) = h.asked(dm, i + 1, "comment").await;
    h.say(dm, who, "-").await;
    h.port
        .wait_for(dm, i + 1, "thanks", is_context(&Context::Thanks))
        .await
        .0
}

/// Issue 17: the bot's events per finished response, counted by the fake homeserver in a
/// round after the participant's first (the notice and consent are once per participant):
/// at most the questions plus 3, no poll ends. The SEQ item's task line travels in its
/// question's event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_response_costs_at_most_questions_plus_three_events() {
    let alice = user("@alice:fake");
    let h = Harness::new(FLOW, &[alice.as_str()], at("2030-01-07T09:00:00Z")).await;
    h.admin("!pulse start flow").await;
    let (dm, from) = consent(&h, &alice).await;
    let end_first = answer_flow_round(&h, &dm, &alice, from).await;
    h.admin("!pulse close flow").await;
    h.in_admin_room(
        "the close reply",
        |e| matches!(&e.what, Sent::Text(t) if t.contains("geschlossen")),
    )
    .await;
    h.admin("!pulse start flow").await;
    let (intro, _) = h
        .port
        .wait_for(
            &dm,
            end_first + 1,
            "round 2's intro",
            is_context(&Context::Intro),
        )
        .await;
    let thanks = answer_flow_round(&h, &dm, &alice, intro + 1).await;
    // Nothing more comes after the thanks (no poll end, no clean-up).
    tokio::time::sleep(Duration::from_millis(300)).await;
    let sent = h.port.sent(&dm);
    assert_eq!(sent.len(), thanks + 1, "events after the thanks: {sent:#?}");
    let round_two = &sent[intro..];
    let questions = 6; // usage, features (shown after "daily"), notify, overall, task, comment
    assert!(
        round_two.len() <= questions + 3,
        "{} events for {questions} questions: {round_two:#?}",
        round_two.len()
    );
    assert!(
        !round_two
            .iter()
            .any(|e| matches!(&e.what, Sent::Message(Outgoing::PollEnd { .. }))),
        "a poll end in a finished round"
    );
    // A late vote on an answered poll of the finished round is refused politely and not
    // counted.
    let (_, usage) = h.asked(&dm, intro, "usage").await;
    h.vote(&dm, &alice, &usage, &["rarely"]).await;
    h.port
        .wait_for(
            &dm,
            thanks + 1,
            "the closed reply",
            is_context(&Context::Closed),
        )
        .await;
    let stored = answers_of(&h, "flow", 2).await;
    assert_eq!(stored.len(), 1);
    assert_eq!(
        stored[0].answers.get("usage"),
        Some(&AnswerValue::Choice("daily".into()))
    );
}

#[path = "history_tests.rs"]
mod history;
