//! Every participant-facing sentence the conversation adds, in German and English.
//!
//! One place so wording can be reviewed (by the staff council, by data protection, by a
//! native speaker) without reading code. Style: short, friendly, formal "Sie" in German,
//! written for non-technical staff on a phone. Command words are quoted exactly as they
//! are typed. Texts that belong to the questionnaire itself (intro, question layout, answer
//! errors, thanks) live in `survey::render` and `survey::AnswerError::message`; they are
//! reused here, not duplicated. Every text, in both languages, is pinned by the snapshot
//! `participant-texts.txt` beside this file (test `every_participant_text_matches_its_snapshot`).

use crate::lang::Lang;

/// Appended to the data-protection notice: how to switch language before answering.
pub fn notice_language_hint(lang: Lang) -> &'static str {
    lang.pick(
        "For English, send “language en”.",
        "Auf Deutsch: senden Sie „sprache de“.",
    )
}

/// The consent poll's question.
pub fn consent_question(lang: Lang) -> &'static str {
    lang.pick(
        "Möchten Sie an den Umfragen des Pilotprojekts teilnehmen?",
        "Would you like to take part in the pilot's surveys?",
    )
}

/// The consent poll's "yes" answer.
pub fn consent_yes(lang: Lang) -> &'static str {
    lang.pick("Ja, teilnehmen", "Yes, take part")
}

/// The consent poll's "no" answer.
pub fn consent_no(lang: Lang) -> &'static str {
    lang.pick("Nein danke", "No, thanks")
}

/// How to answer the consent question without poll support.
pub fn consent_how_to(lang: Lang) -> &'static str {
    lang.pick(
        "Antworten Sie mit „ja“ oder „nein“ (oder 1 oder 2).",
        "Reply with “yes” or “no” (or 1 or 2).",
    )
}

/// Reply to "yes".
pub fn consent_given(lang: Lang) -> &'static str {
    lang.pick(
        "Vielen Dank! Sie nehmen teil. Die Umfragen erscheinen hier in diesem Chat. Mit „stopp“ beenden Sie die Teilnahme jederzeit.",
        "Thank you! You are taking part. The surveys will appear here in this chat. Send “stop” to end your participation at any time.",
    )
}

/// Reply to "no" (the last message unless the participant writes `start`).
pub fn consent_declined(lang: Lang) -> &'static str {
    lang.pick(
        "In Ordnung, Sie nehmen nicht teil und erhalten keine weiteren Nachrichten. Falls Sie es sich anders überlegen, senden Sie „start“.",
        "All right, you are not taking part and will get no further messages. If you change your mind, send “start”.",
    )
}

/// Reply to text that is not a consent answer while consent is pending.
pub fn consent_hint(lang: Lang) -> &'static str {
    lang.pick(
        "Bitte tippen Sie oben eine Antwort an oder schreiben Sie „ja“ oder „nein“.",
        "Please tap an answer above or reply with “yes” or “no”.",
    )
}

/// Reply to a "yes" vote after the participant declined or stopped: "no" is final until
/// `start`.
pub fn consent_after_no(lang: Lang) -> &'static str {
    lang.pick(
        "Sie hatten die Teilnahme abgelehnt. Wenn Sie doch teilnehmen möchten, senden Sie „start“.",
        "You declined to take part. If you would like to take part after all, send “start”.",
    )
}

/// Reply to `start` from someone who takes part already.
pub fn already_participating(lang: Lang) -> &'static str {
    lang.pick(
        "Sie nehmen bereits teil. Die nächste Umfrage erscheint hier.",
        "You are already taking part. The next survey will appear here.",
    )
}

/// Reply to `start` after "no", `stopp` or `löschen`.
pub fn opted_in_again(lang: Lang) -> &'static str {
    lang.pick(
        "Willkommen zurück! Sie nehmen wieder teil. Mit „stopp“ beenden Sie die Teilnahme jederzeit.",
        "Welcome back! You are taking part again. Send “stop” to end your participation at any time.",
    )
}

/// The confirmation of `stopp`: the last message the participant gets.
pub fn stopped(lang: Lang) -> &'static str {
    lang.pick(
        "Sie sind abgemeldet: Das beendet diese Umfrage und alle künftigen, Sie erhalten keine Nachrichten mehr. Ihre Antworten der laufenden Umfrage sind verworfen. Mit „start“ können Sie wieder teilnehmen.",
        "You have opted out: this ends this survey and all future ones, and you will get no more messages. Your answers to the running survey were discarded. Send “start” to take part again.",
    )
}

/// Reply to `stopp` from someone who is not taking part.
pub fn already_stopped(lang: Lang) -> &'static str {
    lang.pick(
        "Sie nehmen nicht teil und erhalten keine Umfragen. Mit „start“ können Sie teilnehmen.",
        "You are not taking part and get no surveys. Send “start” to take part.",
    )
}

/// The confirmation of `löschen`.
pub fn deleted(lang: Lang) -> &'static str {
    lang.pick(
        "Alles, was beim Bot noch mit Ihrer Person verknüpft war, ist gelöscht, und Sie erhalten keine Nachrichten mehr. Anonyme Antworten abgeschlossener Umfragen lassen sich niemandem zuordnen und bleiben in der Auswertung. Ihre Nachrichten in diesem Chat entfernt der Bot jetzt. Mit „start“ können Sie wieder teilnehmen.",
        "Everything the bot still linked to you has been deleted, and you will get no more messages. Anonymous answers of finished surveys cannot be traced to anyone and stay in the results. The bot now removes your messages from this chat. Send “start” to take part again.",
    )
}

/// The heading above "my data".
pub fn my_data_heading(lang: Lang) -> &'static str {
    lang.pick(
        "Das ist über Sie gespeichert:",
        "This is what is stored about you:",
    )
}

/// Confirmation of a language change, in the new language.
pub fn language_set(new: Lang) -> &'static str {
    new.pick(
        "Ich schreibe Ihnen ab jetzt auf Deutsch.",
        "From now on I will write to you in English.",
    )
}

/// Reply to `sprache` with a missing or unknown language.
pub fn language_hint(lang: Lang) -> &'static str {
    lang.pick(
        "Bitte senden Sie „sprache de“ für Deutsch oder „sprache en“ für Englisch.",
        "Please send “language en” for English or “language de” for German.",
    )
}

/// Reply to text when no survey is running for the participant.
pub fn no_survey_running(lang: Lang) -> &'static str {
    lang.pick(
        "Gerade läuft keine Umfrage. Die nächste erscheint hier. Mit „hilfe“ sehen Sie alle Befehle.",
        "No survey is running right now. The next one will appear here. Send “help” to see all commands.",
    )
}

/// Reply to an answer that arrives after the round closed (or for a poll of an old round).
pub fn survey_closed(lang: Lang) -> &'static str {
    lang.pick(
        "Diese Umfrage ist beendet. Ihre Antwort wurde nicht mehr gezählt.",
        "This survey has closed. Your answer was not counted.",
    )
}

/// Sent at close to participants who had started but not finished.
pub fn closed_thanks(lang: Lang) -> &'static str {
    lang.pick(
        "Diese Umfrage ist jetzt beendet. Vielen Dank für Ihre Antworten!",
        "This survey has now closed. Thank you for your answers!",
    )
}

/// Reply to a vote on a question that a changed earlier answer made unnecessary.
pub fn question_not_needed(lang: Lang) -> &'static str {
    lang.pick(
        "Diese Frage entfällt nach Ihrer geänderten Antwort. Sie müssen nichts weiter tun.",
        "This question no longer applies after your changed answer. Nothing else to do.",
    )
}

/// Before a question is asked again because an answer could not be decrypted.
pub fn reask(lang: Lang) -> &'static str {
    lang.pick(
        "Ihre letzte Nachricht konnte ich leider nicht lesen. Bitte beantworten Sie diese Frage noch einmal:",
        "Sorry, I could not read your last message. Please answer this question again:",
    )
}

/// Reply to `später` during a round.
pub fn paused(lang: Lang) -> &'static str {
    lang.pick(
        "In Ordnung, machen Sie später weiter. Ihre bisherigen Antworten bleiben gespeichert. Schreiben Sie dann „weitermachen“, und die Frage, bei der Sie stehen geblieben sind, kommt noch einmal.",
        "All right, continue later. Your answers so far are kept. Then send “continue” and the question where you left off comes again.",
    )
}

/// Reply to a quote-reply or a thread message during a round: those are not answers.
pub fn not_an_answer(lang: Lang) -> &'static str {
    lang.pick(
        "Antworten als Zitat oder im Thread werden nicht gezählt. Bitte schreiben Sie Ihre Antwort als normale Nachricht oder tippen Sie sie oben an.",
        "Quoted replies and thread messages are not counted. Please send your answer as a normal message or tap it above.",
    )
}

/// Reply to a message too long to read as an answer or a command.
pub fn message_too_long(lang: Lang) -> &'static str {
    lang.pick(
        "Diese Nachricht ist zu lang und wurde nicht gelesen. Bitte antworten Sie kürzer.",
        "This message is too long and was not read. Please answer more briefly.",
    )
}

/// Said when the participant deleted (redacted) an answer and the question comes again.
pub fn answer_withdrawn(lang: Lang) -> &'static str {
    lang.pick(
        "Sie haben eine Antwort gelöscht. Sie zählt nicht mehr; die Frage kommt noch einmal.",
        "You deleted an answer. It no longer counts; the question comes again.",
    )
}

/// First line in a fresh DM after someone else joined the old one.
pub fn dm_moved(lang: Lang) -> &'static str {
    lang.pick(
        "Jemand anderes ist unserem bisherigen Chat beigetreten. Damit Ihre Antworten vertraulich bleiben, geht es hier weiter; den alten Chat nutze ich nicht mehr.",
        "Someone else joined our previous chat. To keep your answers confidential, we continue here; I no longer use the old chat.",
    )
}

/// A reminder line before the waiting question is shown again.
pub fn reminder(lang: Lang, questions_left: usize, deadline: Option<&str>) -> String {
    let left = match (lang, questions_left) {
        (Lang::De, 1) => "Es fehlt noch 1 Frage.".to_owned(),
        (Lang::De, n) => format!("Es fehlen noch {n} Fragen."),
        (Lang::En, 1) => "1 question is left.".to_owned(),
        (Lang::En, n) => format!("{n} questions are left."),
    };
    let until = match deadline {
        Some(d) => lang.pick(" bis {d}", " until {d}").replace("{d}", d),
        None => String::new(),
    };
    match lang {
        Lang::De => format!(
            "Kleine Erinnerung: Die Umfrage läuft noch{until}. {left} Sie können einfach hier weitermachen."
        ),
        Lang::En => format!(
            "A short reminder: the survey is open{until}. {left} You can simply continue here."
        ),
    }
}

/// Fallback text of a poll end event.
pub fn poll_ended(lang: Lang) -> &'static str {
    lang.pick("Diese Frage ist beendet.", "This question has ended.")
}

/// First line of the help.
pub fn help_heading(lang: Lang) -> &'static str {
    lang.pick(
        "Das können Sie mir schreiben:",
        "You can send me these commands:",
    )
}

/// Last line of the help.
pub fn help_footer(lang: Lang) -> &'static str {
    lang.pick(
        "Befehle funktionieren auf Deutsch und Englisch. Zum Antworten tippen Sie eine Antwort an oder schreiben die Nummer. Freiwillige Fragen überspringen Sie mit „weiter“.",
        "Commands work in English and German. To answer, tap an answer or type its number. To skip an optional question, send “skip”.",
    )
}

// ---------------------------------------------------------------------------------------
// Dates, and "my data" (issue 16).

pub use crate::dates::{date_time, weekday_date_time};

/// "my data": nothing is stored (unknown person).
pub fn my_data_nothing(lang: Lang) -> &'static str {
    lang.pick(
        "Über Sie ist nichts gespeichert.",
        "Nothing is stored about you.",
    )
}

/// "my data" after `löschen`: only the wish not to be contacted is kept.
pub fn my_data_erased(lang: Lang) -> &'static str {
    lang.pick(
        "Sie haben Ihre Daten löschen lassen. Gespeichert ist nur noch, dass Sie keine Nachrichten mehr erhalten möchten – ohne Ihren Namen und ohne Ihre Antworten.",
        "You had your data deleted. All that is kept is that you do not want any more messages – without your name and without your answers.",
    )
}

/// "my data": the account the bot writes to.
pub fn my_data_account(lang: Lang, user_id: &str) -> String {
    match lang {
        Lang::De => format!(
            "Ihr Konto im Messenger: {user_id}. Über dieses Konto schreibt Ihnen der Umfrage-Bot in diesem Chat."
        ),
        Lang::En => format!(
            "Your messenger account: {user_id}. The survey bot writes to you in this chat through it."
        ),
    }
}

/// "my data": the consent and when it last changed (`when` already formatted, if known).
pub fn my_data_consent(
    lang: Lang,
    consent: crate::model::ConsentState,
    when: Option<&str>,
) -> String {
    use crate::model::ConsentState;
    match (consent, when, lang) {
        (ConsentState::Yes, Some(w), Lang::De) => {
            format!("Sie haben am {w} zugestimmt, an den Umfragen des Pilotprojekts teilzunehmen.")
        }
        (ConsentState::Yes, Some(w), Lang::En) => {
            format!("You agreed on {w} to take part in the pilot's surveys.")
        }
        (ConsentState::Yes, None, _) => lang
            .pick(
                "Sie haben zugestimmt, an den Umfragen des Pilotprojekts teilzunehmen.",
                "You agreed to take part in the pilot's surveys.",
            )
            .to_owned(),
        (ConsentState::Asked, Some(w), Lang::De) => format!(
            "Der Bot hat Sie am {w} gefragt, ob Sie teilnehmen möchten. Sie haben noch nicht geantwortet."
        ),
        (ConsentState::Asked, Some(w), Lang::En) => format!(
            "The bot asked you on {w} whether you want to take part. You have not answered yet."
        ),
        (ConsentState::Asked, None, _) => lang
            .pick(
                "Der Bot hat Sie gefragt, ob Sie teilnehmen möchten. Sie haben noch nicht geantwortet.",
                "The bot asked you whether you want to take part. You have not answered yet.",
            )
            .to_owned(),
        (ConsentState::No, Some(w), Lang::De) => format!(
            "Sie haben am {w} abgelehnt oder sich abgemeldet. Sie erhalten keine Umfragen."
        ),
        (ConsentState::No, Some(w), Lang::En) => {
            format!("You declined or opted out on {w}. You get no surveys.")
        }
        (ConsentState::No, None, _) => lang
            .pick(
                "Sie haben abgelehnt oder sich abgemeldet. Sie erhalten keine Umfragen.",
                "You declined or opted out. You get no surveys.",
            )
            .to_owned(),
        (ConsentState::Unknown, _, _) => lang
            .pick(
                "Sie wurden noch nicht gefragt, ob Sie teilnehmen möchten.",
                "You have not been asked yet whether you want to take part.",
            )
            .to_owned(),
    }
}

/// "my data": the language the bot writes in.
pub fn my_data_language(lang: Lang) -> &'static str {
    lang.pick(
        "Der Bot schreibt Ihnen auf Deutsch.",
        "The bot writes to you in English.",
    )
}

/// "my data": heading of the list of rounds.
pub fn my_data_rounds_heading(lang: Lang) -> &'static str {
    lang.pick(
        "Ihre Umfragerunden und wo Sie stehen:",
        "Your survey rounds and where you stand:",
    )
}

/// "my data": where the participant stands in one round, in words.
pub fn round_status_words(lang: Lang, status: crate::model::RoundStatus) -> &'static str {
    use crate::model::RoundStatus;
    match status {
        RoundStatus::Invited => lang.pick("eingeladen", "invited"),
        RoundStatus::Started => lang.pick("begonnen", "started"),
        RoundStatus::Finished => lang.pick("abgeschlossen", "finished"),
        RoundStatus::Partial => lang.pick(
            "teilweise beantwortet (Runde beendet)",
            "partly answered (round ended)",
        ),
        RoundStatus::OptedOut => lang.pick("abgemeldet", "opted out"),
    }
}

/// "my data": reminders received in a round ("" for none).
pub fn my_data_reminders(lang: Lang, n: u32) -> String {
    match (n, lang) {
        (0, _) => String::new(),
        (1, Lang::De) => "1 Erinnerung erhalten".to_owned(),
        (1, Lang::En) => "1 reminder received".to_owned(),
        (n, Lang::De) => format!("{n} Erinnerungen erhalten"),
        (n, Lang::En) => format!("{n} reminders received"),
    }
}

/// "my data": heading of the answers of a running round.
pub fn my_data_draft_heading(lang: Lang, survey: &str, round: u32) -> String {
    match lang {
        Lang::De => {
            format!("Ihre bisherigen Antworten in der laufenden Runde {round} von „{survey}“:")
        }
        Lang::En => format!("Your answers so far in the running round {round} of “{survey}”:"),
    }
}

/// "my data": what happens to the answers of a running round.
pub fn my_data_draft_footer(lang: Lang) -> &'static str {
    lang.pick(
        "Sobald Sie fertig sind oder die Runde endet, werden diese Antworten ohne Bezug zu Ihrer Person gespeichert.",
        "As soon as you finish or the round ends, these answers are stored without any link to you.",
    )
}

/// "my data": heading of answers kept under a survey's code name (pseudonymous surveys).
pub fn my_data_pseudonymous_heading(lang: Lang, survey: &str, round: u32) -> String {
    match lang {
        Lang::De => format!(
            "Ihre Antworten aus Runde {round} von „{survey}“. Diese Umfrage vergleicht Runden miteinander; deshalb sind Ihre Antworten unter einem Kennzeichen gespeichert, das nur zu Ihnen führt:"
        ),
        Lang::En => format!(
            "Your answers from round {round} of “{survey}”. This survey compares rounds with each other, so your answers are stored under a code that leads only to you:"
        ),
    }
}

/// "my data": an answer that was skipped.
pub fn my_data_skipped(lang: Lang) -> &'static str {
    lang.pick("übersprungen", "skipped")
}

/// "my data": messages to the participant not sent yet.
pub fn my_data_pending(lang: Lang, n: usize) -> String {
    match (n, lang) {
        (1, Lang::De) => "1 Nachricht an Sie wartet noch darauf, gesendet zu werden.".to_owned(),
        (1, Lang::En) => "1 message to you is still waiting to be sent.".to_owned(),
        (n, Lang::De) => format!("{n} Nachrichten an Sie warten noch darauf, gesendet zu werden."),
        (n, Lang::En) => format!("{n} messages to you are still waiting to be sent."),
    }
}

/// "my data": what is not stored.
pub fn my_data_not_stored(lang: Lang, some_pseudonymous: bool) -> String {
    let first = match (lang, some_pseudonymous) {
        (Lang::De, false) => "Ihre Antworten aus beendeten Runden.",
        (Lang::De, true) => "Ihre Antworten aus beendeten Runden aller anderen Umfragen.",
        (Lang::En, false) => "Your answers from finished rounds.",
        (Lang::En, true) => "Your answers from finished rounds of every other survey.",
    };
    match lang {
        Lang::De => format!(
            "Nicht mit Ihrer Person verbunden ist:\n{first} Sie sind ohne jeden Bezug zu Ihnen gespeichert. Niemand kann sie Ihnen zuordnen, Ihnen zeigen oder einzeln löschen.\nSonst ist über Sie nichts gespeichert. Die Nachrichten in diesem Chat können Sie selbst löschen."
        ),
        Lang::En => format!(
            "Not linked to you:\n{first} They are stored without any link to you. Nobody can trace them to you, show them to you or delete them one by one.\nNothing else is stored about you. You can delete the messages in this chat yourself."
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_exists_in_both_languages_and_differs() {
        let all: [fn(Lang) -> &'static str; 36] = [
            notice_language_hint,
            consent_question,
            consent_yes,
            consent_no,
            consent_how_to,
            consent_given,
            consent_declined,
            consent_hint,
            consent_after_no,
            already_participating,
            opted_in_again,
            stopped,
            already_stopped,
            deleted,
            my_data_heading,
            language_set,
            language_hint,
            no_survey_running,
            survey_closed,
            closed_thanks,
            question_not_needed,
            reask,
            paused,
            not_an_answer,
            message_too_long,
            answer_withdrawn,
            dm_moved,
            poll_ended,
            help_heading,
            help_footer,
            my_data_nothing,
            my_data_erased,
            my_data_language,
            my_data_rounds_heading,
            my_data_draft_footer,
            my_data_skipped,
        ];
        for f in all {
            let (de, en) = (f(Lang::De), f(Lang::En));
            assert!(!de.is_empty() && !en.is_empty());
            assert_ne!(de, en);
        }
        assert!(survey_closed(Lang::De).starts_with("Diese Umfrage ist beendet."));
        assert!(survey_closed(Lang::En).starts_with("This survey has closed."));
    }

    #[test]
    fn reminders_name_the_deadline_and_the_questions_left() {
        let d = Some("Freitag, 12. Dezember, 16 Uhr");
        assert_eq!(
            reminder(Lang::De, 3, d),
            "Kleine Erinnerung: Die Umfrage läuft noch bis Freitag, 12. Dezember, 16 Uhr. Es fehlen noch 3 Fragen. Sie können einfach hier weitermachen."
        );
        assert_eq!(
            reminder(Lang::En, 1, None),
            "A short reminder: the survey is open. 1 question is left. You can simply continue here."
        );
    }
}
