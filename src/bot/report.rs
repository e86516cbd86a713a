//! `!pulse report`: the export of a survey as an encrypted file in the room the admin asked
//! in. The same audited export path as `pulsebot export`; the statistics run on a blocking
//! thread so the sync loop never waits for them.

use matrix_sdk::ruma::{OwnedUserId, RoomId};
use tracing::{info, warn};

use super::Bot;
use crate::export::Format;
use crate::services::export::{ExportRequest, Rounds, export_file};

impl Bot {
    /// Uploads the report; `Ok(None)` when the file went out, `Ok(Some(text))` for a reply
    /// instead (unknown survey or format).
    pub(super) async fn report(
        &self,
        room: &RoomId,
        sender: &OwnedUserId,
        survey_id: &str,
        format: Option<&str>,
    ) -> anyhow::Result<Option<String>> {
        let lang = self.lang();
        // Aggregates only, but still nothing for a room whose history the homeserver can read.
        if !self.port().is_encrypted(room).await {
            warn!("report refused: the room is not end-to-end encrypted");
            return Ok(Some(crate::admin::unencrypted_room(lang).to_owned()));
        }
        let ids: Vec<String> = self.inner.surveys.iter().map(|s| s.id.clone()).collect();
        let Some(survey) = self.survey(survey_id) else {
            return Ok(Some(crate::admin::unknown_survey(survey_id, &ids, lang)));
        };
        let format: Format = match format.unwrap_or("html").parse() {
            Ok(f) => f,
            Err(_) => {
                let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
                return Ok(Some(
                    lang.pick(
                        &format!("Unbekanntes Format. Formate: {}", names.join(", ")),
                        &format!("Unknown format. Formats: {}", names.join(", ")),
                    )
                    .to_owned(),
                ));
            }
        };
        let request = ExportRequest {
            survey: survey.id.clone(),
            rounds: Rounds::All,
            format,
            include_text: false,
            lang,
            distributions: self.inner.config.privacy.distributions,
        };
        let store = self.inner.store.blocking_store().clone();
        let actor = sender.to_string();
        let now = self.now();
        let file = tokio::task::spawn_blocking(move || {
            export_file(&store, &survey, &request, &actor, now)
        })
        .await??;
        let size = file.bytes.len();
        let upload = super::port::Upload {
            name: file.file_name,
            mime: file.mime,
            bytes: file.bytes,
        };
        self.port().upload(room, upload).await?;
        info!(
            survey = survey_id,
            format = format.name(),
            bytes = size,
            "report uploaded"
        );
        Ok(None)
    }
}
