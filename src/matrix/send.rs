//! Sending messages at most once.
//!
//! Each message's transaction id is derived from what caused it (e.g. the command event it
//! answers), so sending it again after a crash or a failed sync batch reuses the id and the
//! homeserver returns the first event instead of posting a second one.

use std::time::{Duration, SystemTime};

use anyhow::Context;
use matrix_sdk::Room;
use matrix_sdk::config::RequestConfig;
use matrix_sdk::ruma::api::error::{ErrorKind, RetryAfter};

use crate::bot::port::{Refusal, Refused};
use matrix_sdk::ruma::events::room::message::{
    AddMentions, ForwardThread, ReplyMetadata, RoomMessageEventContent,
};
use matrix_sdk::ruma::{EventId, OwnedEventId, OwnedTransactionId, UserId};
use sha2::{Digest, Sha256};

/// A transaction id that is the same whenever the same `purpose` is sent for the same `cause`.
pub fn txn_id(purpose: &str, cause: &str) -> OwnedTransactionId {
    let digest = Sha256::digest(format!("{purpose}\0{cause}").as_bytes());
    OwnedTransactionId::from(format!("pb{}", hex::encode(&digest[..16])))
}

/// Request settings for sends: the client retries a rate limit or a server error a few
/// times (honouring the server's retry-after, at most 30 s apart) and then hands the
/// failure to the caller, instead of the client's default of retrying for 15 minutes.
fn send_config() -> RequestConfig {
    RequestConfig::new()
        .retry_limit(3)
        .max_retry_time(Duration::from_secs(30))
}

/// A failed send as the sender needs it: a final refusal (any 4xx but 429), a rate limit
/// with its retry-after, or a transient failure (network, 5xx) to retry. Names no room.
pub fn send_error(e: matrix_sdk::Error) -> anyhow::Error {
    if let Some(ErrorKind::LimitExceeded(d)) = e.client_api_error_kind() {
        let after = match d.retry_after {
            Some(RetryAfter::Delay(d)) => Some(d),
            Some(RetryAfter::DateTime(t)) => t.duration_since(SystemTime::now()).ok(),
            None => None,
        };
        return anyhow::Error::new(Refused {
            kind: Refusal::RateLimited(after),
            detail: e.to_string(),
        });
    }
    if let Some(api) = e.as_client_api_error()
        && api.status_code.is_client_error()
    {
        return anyhow::Error::new(Refused {
            kind: Refusal::Final,
            detail: e.to_string(),
        });
    }
    anyhow::Error::new(e).context("send failed")
}

/// Sends a plain-text reply to `event_id` by `sender`, at most once per (purpose, event).
pub async fn reply_text(
    room: &Room,
    event_id: &EventId,
    sender: &UserId,
    purpose: &str,
    text: &str,
) -> anyhow::Result<OwnedEventId> {
    let content = RoomMessageEventContent::text_plain(text).make_reply_to(
        ReplyMetadata::new(event_id, sender, None),
        ForwardThread::Yes,
        AddMentions::No,
    );
    let txn = txn_id(purpose, event_id.as_str());
    let response = room
        .send(content)
        .with_transaction_id(txn)
        .with_request_config(send_config())
        .await
        .map_err(send_error)?;
    Ok(response.response.event_id)
}

/// Sends one queued message with its recorded transaction id (so a resend after a crash
/// is deduplicated by the homeserver) and returns the event id.
pub async fn send_queued(
    room: &Room,
    message: &crate::conversation::Outgoing,
    txn: &str,
) -> anyhow::Result<OwnedEventId> {
    let content = crate::matrix::content::to_content(message)
        .context("a queued message cannot be turned into an event")?;
    let response = room
        .send(content)
        .with_transaction_id(OwnedTransactionId::from(txn))
        .with_request_config(send_config())
        .await
        .map_err(send_error)?;
    Ok(response.response.event_id)
}

/// Sends a plain-text message at most once per (`purpose`, `cause`) (see [`txn_id`]).
pub async fn send_text_once(
    room: &Room,
    text: &str,
    purpose: &str,
    cause: &str,
) -> anyhow::Result<()> {
    room.send(RoomMessageEventContent::text_plain(text))
        .with_transaction_id(txn_id(purpose, cause))
        .with_request_config(send_config())
        .await
        .map_err(send_error)?;
    Ok(())
}

/// Uploads a file into the room; in an encrypted room the SDK encrypts it first.
pub async fn send_file(room: &Room, name: &str, mime: &str, bytes: Vec<u8>) -> anyhow::Result<()> {
    let mime: mime::Mime = mime.parse().context("not a MIME type")?;
    room.send_attachment(
        name,
        &mime,
        bytes,
        matrix_sdk::attachment::AttachmentConfig::new(),
    )
    .await
    .map_err(send_error)
    .context("upload failed")?;
    Ok(())
}

/// A transaction id for the `index`-th message caused by `event_id` (see [`txn_id`]).
pub fn caused_txn(event_id: &str, index: usize) -> String {
    txn_id("dm", &format!("{event_id}/{index}")).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn txn_ids_are_stable_and_distinct() {
        assert_eq!(txn_id("reply", "$a"), txn_id("reply", "$a"));
        assert_ne!(txn_id("reply", "$a"), txn_id("reply", "$b"));
        assert_ne!(txn_id("reply", "$a"), txn_id("refuse", "$a"));
    }
}
