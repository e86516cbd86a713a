//! Stable names and localized labels of the report's enums, shared by every format.

use crate::lang::Lang;
use crate::stats::Reason;
use crate::survey::Instrument;
use crate::survey::scoring::{Acceptability, UeqBand};

/// Stable name of an acceptability band (JSON, CSV).
pub fn acceptability(a: Acceptability) -> &'static str {
    match a {
        Acceptability::NotAcceptable => "not_acceptable",
        Acceptability::Marginal => "marginal",
        Acceptability::Acceptable => "acceptable",
    }
}

/// Stable name of a UEQ band (JSON, CSV).
pub fn band(b: UeqBand) -> &'static str {
    match b {
        UeqBand::Negative => "negative",
        UeqBand::Neutral => "neutral",
        UeqBand::Positive => "positive",
    }
}

/// Readable acceptability label.
pub fn acceptability_label(a: Acceptability, lang: Lang) -> &'static str {
    match a {
        Acceptability::NotAcceptable => lang.pick("nicht akzeptabel", "not acceptable"),
        Acceptability::Marginal => lang.pick("grenzwertig", "marginal"),
        Acceptability::Acceptable => lang.pick("akzeptabel", "acceptable"),
    }
}

/// Readable UEQ band label.
pub fn band_label(b: UeqBand, lang: Lang) -> &'static str {
    match b {
        UeqBand::Negative => lang.pick("negativ", "negative"),
        UeqBand::Neutral => lang.pick("neutral", "neutral"),
        UeqBand::Positive => lang.pick("positiv", "positive"),
    }
}

/// Readable instrument name.
pub fn instrument_label(i: Instrument, lang: Lang) -> &'static str {
    match i {
        Instrument::Sus => "SUS",
        Instrument::UmuxLite => "UMUX-Lite",
        Instrument::UeqS => "UEQ-S",
        Instrument::Nps => lang.pick("Weiterempfehlung (NPS)", "Recommendation (NPS)"),
        Instrument::Seq => "SEQ",
    }
}

/// Why a figure is missing, for readers (`k` and `k_text` filled in).
pub fn reason_label(r: Reason, k: u64, k_text: u64, lang: Lang) -> String {
    match (r, lang) {
        (Reason::BelowMinGroupSize, Lang::De) => format!("weniger als {k} Antworten"),
        (Reason::BelowMinGroupSize, Lang::En) => format!("fewer than {k} responses"),
        (Reason::SmallCell, Lang::De) => format!("Gruppe mit weniger als {k} Personen"),
        (Reason::SmallCell, Lang::En) => format!("group of fewer than {k} people"),
        (Reason::Complementary, Lang::De) => {
            "ließe eine kleine Gruppe durch Differenzbildung erkennen".into()
        }
        (Reason::Complementary, Lang::En) => "would reveal a small group by subtraction".into(),
        (Reason::TextNotRequested, Lang::De) => "Freitexte nicht angefordert".into(),
        (Reason::TextNotRequested, Lang::En) => "free text not requested".into(),
        (Reason::TextBelowThreshold, Lang::De) => format!("weniger als {k_text} Freitexte"),
        (Reason::TextBelowThreshold, Lang::En) => format!("fewer than {k_text} free-text answers"),
    }
}

/// "Runde 3" / "Round 3".
pub fn round_label(round: u32, lang: Lang) -> String {
    format!("{} {round}", lang.pick("Runde", "Round"))
}
