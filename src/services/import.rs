//! Importing an earlier survey's answers (a LimeSurvey CSV export) as a new, closed round:
//! every row is checked by the core's parser first, then all records are written in one store
//! transaction, so nothing is ever half imported. The time comes from the caller's clock.

use jiff::Timestamp;

use crate::import::Parsed;
use crate::model::{Mode, RoundInfo};
use crate::store::Store;
use crate::survey::Survey;

/// Writes the responses `parsed` (every row already checked by `import::parse`) as a new,
/// closed round `label` of `survey`, audited under `actor`; the new round.
pub fn import_round(
    store: &Store,
    survey: &Survey,
    label: &str,
    parsed: &Parsed,
    now: Timestamp,
    actor: &str,
) -> anyhow::Result<RoundInfo> {
    // Imported rounds are anonymous: the source has no pseudonyms the bot could pair.
    let info = store.import_round(
        &survey.id,
        label,
        Mode::Anonymous,
        &parsed.records,
        now,
        actor,
    )?;
    Ok(info)
}
