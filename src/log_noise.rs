//! Known-harmless log lines of the Matrix SDK, kept out of the default log.
//!
//! A healthy bot made the SDK log ERROR lines at every start and reply: a 404 for account
//! data that does not exist yet (`m.secret_storage.default_key`), a 404 for an event the bot
//! looks up, "could not compute power levels for push conditions" (the bot's sync filter
//! leaves those out). An alert on ERROR fired constantly. This filter drops exactly those
//! lines while `RUST_LOG` is unset; with `RUST_LOG` set everything the filter selects shows.
//! pulsebot itself logs the failures that matter, with context, at warn.

use std::fmt::Write as _;

use tracing::field::{Field, Visit};
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Filter};

/// A message part that marks a known-harmless SDK line, per target prefix.
const HARMLESS: &[(&str, &[&str])] = &[
    // Every failed request, also the expected 404s; real failures come back to pulsebot as
    // errors, which it logs itself.
    (
        "matrix_sdk::http_client",
        &["status_code: 404", "M_NOT_FOUND", "NotFound"],
    ),
    (
        "matrix_sdk::room",
        &["Could not compute power levels for push conditions"],
    ),
];

/// Drops the SDK's known-harmless lines (see the module docs).
#[derive(Debug, Clone, Copy, Default)]
pub struct HarmlessSdkNoise;

impl HarmlessSdkNoise {
    /// Whether a line of `target` with this `message` is known to be harmless.
    pub fn is_harmless(target: &str, message: &str) -> bool {
        HARMLESS.iter().any(|(prefix, parts)| {
            target.starts_with(prefix) && parts.iter().any(|p| message.contains(p))
        })
    }
}

/// Collects an event's fields as text (only for events of the SDK's noisy targets).
struct Message(String);

impl Visit for Message {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        let _ = write!(self.0, " {}={value}", field.name());
    }
}

impl<S: Subscriber> Filter<S> for HarmlessSdkNoise {
    fn enabled(&self, _meta: &Metadata<'_>, _cx: &Context<'_, S>) -> bool {
        true
    }

    fn event_enabled(&self, event: &Event<'_>, _cx: &Context<'_, S>) -> bool {
        let target = event.metadata().target();
        if !HARMLESS
            .iter()
            .any(|(prefix, _)| target.starts_with(prefix))
        {
            return true;
        }
        let mut message = Message(String::new());
        event.record(&mut message);
        !HarmlessSdkNoise::is_harmless(target, &message.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::Layer;
    use tracing_subscriber::layer::SubscriberExt;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().expect("buffer").extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn the_sdk_s_harmless_errors_are_dropped_and_real_ones_kept() {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let layer = tracing_subscriber::fmt::layer()
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .with_filter(HarmlessSdkNoise);
        let subscriber = tracing_subscriber::registry().with(layer);
        tracing::subscriber::with_default(subscriber, || {
            tracing::error!(
                target: "matrix_sdk::http_client",
                "Error while sending request: Api(Server(ClientApi(Error {{ status_code: 404, body: Standard {{ kind: NotFound, message: \"Account data not found\" }} }})))"
            );
            tracing::error!(
                target: "matrix_sdk::room",
                "Could not compute power levels for push conditions: the store has none"
            );
            tracing::error!(
                target: "matrix_sdk::http_client",
                "Error while sending request: Reqwest(connection refused)"
            );
            tracing::error!(target: "pulsebot::bot", "NotFound in pulsebot's own line");
        });
        let log = String::from_utf8(buffer.0.lock().expect("buffer").clone()).expect("utf-8");
        assert!(!log.contains("Account data not found"), "{log}");
        assert!(!log.contains("push conditions"), "{log}");
        assert!(
            log.contains("connection refused"),
            "a real failure stays: {log}"
        );
        assert!(log.contains("pulsebot's own line"), "{log}");
    }
}
