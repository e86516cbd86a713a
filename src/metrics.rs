//! Health and metrics: counters the bot keeps, rendered in the Prometheus text format and
//! served over plain HTTP on a loopback address (`GET /metrics`, `GET /health`).
//!
//! Counts only: no room, no participant, no answer ever appears here.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

/// How many recent answer-handling times the quantiles are computed from.
const SAMPLES: usize = 100_000;

/// Counters since start.
#[derive(Debug)]
pub struct Metrics {
    started: Instant,
    /// Answers counted.
    pub answers: AtomicU64,
    /// Messages delivered.
    pub sent: AtomicU64,
    /// Failed send attempts (each is retried).
    pub send_failures: AtomicU64,
    /// Messages given up on: refused by the homeserver (forbidden, too large, not in the
    /// room), rate-limited too often, or queued for a room the bot lost.
    pub messages_dropped: AtomicU64,
    /// Replies not sent because the participant (or room) had used up their reply rate.
    pub replies_throttled: AtomicU64,
    /// Inbound events skipped because a bounded queue was full.
    pub events_dropped: AtomicU64,
    /// Admin commands that failed or ran out of time (their reply may be missing).
    pub command_failures: AtomicU64,
    /// Rounds open at the last count.
    pub rounds_open: AtomicU64,
    /// Undecryptable events seen.
    pub undecryptable: AtomicU64,
    /// Messages and votes ignored because their device is not trusted (`matrix.device_trust`).
    pub untrusted: AtomicU64,
    /// Messages waiting in the outbox at the sender's last look.
    pub outbox_pending: AtomicU64,
    /// Milliseconds since `started` of the last saved sync position (0: none yet).
    last_sync_ms: AtomicU64,
    /// Recent times from a decrypted answer reaching the bot to its next question being
    /// handed to the homeserver, in microseconds.
    handling: Samples,
    /// Recent times from a decrypted answer reaching the bot to its being stored.
    stored: Samples,
    syncs: AtomicU64,
    sync_events: AtomicU64,
    sync_request_us: AtomicU64,
    sync_handling_us: AtomicU64,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics {
            started: Instant::now(),
            answers: AtomicU64::new(0),
            sent: AtomicU64::new(0),
            send_failures: AtomicU64::new(0),
            messages_dropped: AtomicU64::new(0),
            replies_throttled: AtomicU64::new(0),
            events_dropped: AtomicU64::new(0),
            command_failures: AtomicU64::new(0),
            rounds_open: AtomicU64::new(0),
            undecryptable: AtomicU64::new(0),
            untrusted: AtomicU64::new(0),
            outbox_pending: AtomicU64::new(0),
            last_sync_ms: AtomicU64::new(0),
            handling: Samples::default(),
            stored: Samples::default(),
            syncs: AtomicU64::new(0),
            sync_events: AtomicU64::new(0),
            sync_request_us: AtomicU64::new(0),
            sync_handling_us: AtomicU64::new(0),
        }
    }
}

/// Recent durations in microseconds, with their count and sum since start.
#[derive(Debug, Default)]
struct Samples {
    recent: Mutex<VecDeque<u32>>,
    count: AtomicU64,
    sum_us: AtomicU64,
}

impl Samples {
    fn record(&self, d: Duration) {
        let us = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        let mut h = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        self.count.fetch_add(1, Ordering::Relaxed);
        self.sum_us.fetch_add(u64::from(us), Ordering::Relaxed);
        if h.len() == SAMPLES {
            h.pop_front();
        }
        h.push_back(us);
    }

    /// The count since start, then the recent samples oldest first, one per line (for the
    /// benchmark's per-phase figures; numbers only).
    fn render(&self) -> String {
        use std::fmt::Write;
        let h = self.recent.lock().unwrap_or_else(|p| p.into_inner());
        let mut s = format!("{}\n", self.count.load(Ordering::Relaxed));
        for us in h.iter() {
            let _ = writeln!(s, "{us}");
        }
        s
    }

    fn quantiles(&self) -> Option<(Duration, Duration)> {
        let mut v: Vec<u32> = {
            let h = self.recent.lock().unwrap_or_else(|p| p.into_inner());
            h.iter().copied().collect()
        };
        v.sort_unstable();
        let us = |q| quantile(&v, q).map(|x| Duration::from_micros(u64::from(x)));
        Some((us(0.5)?, us(0.99)?))
    }
}

fn quantile(sorted: &[u32], q: f64) -> Option<u32> {
    if sorted.is_empty() {
        return None;
    }
    // Nearest rank.
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    Some(sorted[rank - 1])
}

impl Metrics {
    /// A sync batch was handled and its position saved.
    pub fn synced(&self) {
        let ms = self.started.elapsed().as_millis() as u64;
        self.last_sync_ms.store(ms.max(1), Ordering::Relaxed);
    }

    /// Time since the last saved sync position, if there was one.
    pub fn sync_lag(&self) -> Option<Duration> {
        match self.last_sync_ms.load(Ordering::Relaxed) {
            0 => None,
            ms => Some(
                self.started
                    .elapsed()
                    .saturating_sub(Duration::from_millis(ms)),
            ),
        }
    }

    /// Records one handled sync batch.
    pub fn record_batch(&self, request: Duration, handling: Duration, events: usize) {
        let us = |d: Duration| u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        self.syncs.fetch_add(1, Ordering::Relaxed);
        self.sync_events.fetch_add(events as u64, Ordering::Relaxed);
        self.sync_request_us
            .fetch_add(us(request), Ordering::Relaxed);
        self.sync_handling_us
            .fetch_add(us(handling), Ordering::Relaxed);
    }

    /// Records one answer's handling time.
    pub fn record_handling(&self, d: Duration) {
        self.handling.record(d);
    }

    /// Records the time one answer took to be stored.
    pub fn record_stored(&self, d: Duration) {
        self.stored.record(d);
    }

    /// The recent handling times (see [`Samples::render`]).
    pub fn render_handling(&self) -> String {
        self.handling.render()
    }

    /// The recent storing times (see [`Samples::render`]).
    pub fn render_stored(&self) -> String {
        self.stored.render()
    }

    /// p50 and p99 of the recent handling times.
    pub fn handling_quantiles(&self) -> Option<(Duration, Duration)> {
        self.handling.quantiles()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        use std::fmt::Write;
        let mut s = String::new();
        let mut counter = |name: &str, help: &str, kind: &str, v: String| {
            let _ = writeln!(s, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {v}");
        };
        counter("pulsebot_up", "1 while the bot runs.", "gauge", "1".into());
        counter(
            "pulsebot_uptime_seconds",
            "Seconds since start.",
            "gauge",
            self.started.elapsed().as_secs().to_string(),
        );
        counter(
            "pulsebot_sync_lag_seconds",
            "Seconds since the last handled sync batch (-1 before the first).",
            "gauge",
            self.sync_lag()
                .map_or("-1".into(), |d| format!("{:.3}", d.as_secs_f64())),
        );
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed).to_string();
        counter(
            "pulsebot_answers_counted_total",
            "Answers counted (each exactly once).",
            "counter",
            load(&self.answers),
        );
        counter(
            "pulsebot_undecryptable_events_total",
            "Events the bot could not decrypt when they arrived.",
            "counter",
            load(&self.undecryptable),
        );
        counter(
            "pulsebot_untrusted_device_events_total",
            "Messages and votes ignored because their device is not trusted (matrix.device_trust).",
            "counter",
            load(&self.untrusted),
        );
        counter(
            "pulsebot_rounds_open",
            "Survey rounds open at the last count.",
            "gauge",
            load(&self.rounds_open),
        );
        counter(
            "pulsebot_outbox_pending",
            "Messages waiting to be sent at the sender's last look.",
            "gauge",
            load(&self.outbox_pending),
        );
        counter(
            "pulsebot_messages_sent_total",
            "Messages delivered to the homeserver.",
            "counter",
            load(&self.sent),
        );
        counter(
            "pulsebot_send_failures_total",
            "Failed send attempts (a message is retried with the same transaction id unless the refusal is final).",
            "counter",
            load(&self.send_failures),
        );
        counter(
            "pulsebot_messages_dropped_total",
            "Messages given up on: refused by the homeserver, rate-limited too often, or for a room the bot lost.",
            "counter",
            load(&self.messages_dropped),
        );
        counter(
            "pulsebot_replies_throttled_total",
            "Replies (hints, my data, survey closed) not sent because the participant used up their reply rate.",
            "counter",
            load(&self.replies_throttled),
        );
        counter(
            "pulsebot_events_dropped_total",
            "Inbound events skipped because a bounded queue was full.",
            "counter",
            load(&self.events_dropped),
        );
        counter(
            "pulsebot_command_failures_total",
            "Admin commands that failed or ran out of time.",
            "counter",
            load(&self.command_failures),
        );
        counter(
            "pulsebot_syncs_total",
            "Sync responses handled.",
            "counter",
            load(&self.syncs),
        );
        counter(
            "pulsebot_sync_events_total",
            "Timeline events handed from sync responses to the bot.",
            "counter",
            load(&self.sync_events),
        );
        let secs = |a: &AtomicU64| format!("{:.6}", a.load(Ordering::Relaxed) as f64 / 1e6);
        counter(
            "pulsebot_sync_request_seconds_total",
            "Time in sync requests, including the SDK's processing and decryption.",
            "counter",
            secs(&self.sync_request_us),
        );
        counter(
            "pulsebot_sync_handling_seconds_total",
            "Time handling sync responses and saving the position.",
            "counter",
            secs(&self.sync_handling_us),
        );
        let _ = writeln!(
            s,
            "# HELP pulsebot_answer_handling_seconds From a decrypted answer reaching the bot to its next question handed to the homeserver.\n# TYPE pulsebot_answer_handling_seconds summary"
        );
        if let Some((p50, p99)) = self.handling_quantiles() {
            let _ = writeln!(
                s,
                "pulsebot_answer_handling_seconds{{quantile=\"0.5\"}} {:.6}\npulsebot_answer_handling_seconds{{quantile=\"0.99\"}} {:.6}",
                p50.as_secs_f64(),
                p99.as_secs_f64()
            );
        }
        let _ = writeln!(
            s,
            "pulsebot_answer_handling_seconds_sum {:.6}\npulsebot_answer_handling_seconds_count {}",
            self.handling.sum_us.load(Ordering::Relaxed) as f64 / 1e6,
            self.handling.count.load(Ordering::Relaxed)
        );
        s
    }
}

/// Serves `/metrics` and `/health` on `addr` until `cancel`; `healthy_lag` is the sync lag
/// above which `/health` answers 503.
pub async fn serve(
    addr: SocketAddr,
    metrics: std::sync::Arc<Metrics>,
    healthy_lag: Duration,
    cancel: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    info!(addr = %listener.local_addr()?, "metrics endpoint listening");
    loop {
        let (mut conn, _) = tokio::select! {
            _ = cancel.cancelled() => return Ok(()),
            accepted = listener.accept() => match accepted {
                Ok(c) => c,
                Err(e) => {
                    warn!(error = %e, "metrics connection failed");
                    continue;
                }
            },
        };
        let metrics = metrics.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            let n = match tokio::time::timeout(Duration::from_secs(5), conn.read(&mut buf)).await {
                Ok(Ok(n)) => n,
                _ => return,
            };
            let request = String::from_utf8_lossy(&buf[..n]);
            let path = request.split_whitespace().nth(1).unwrap_or("");
            let (status, body) = match path {
                "/metrics" => ("200 OK", metrics.render()),
                "/handling" => ("200 OK", metrics.render_handling()),
                "/stored" => ("200 OK", metrics.render_stored()),
                "/health" => match metrics.sync_lag() {
                    Some(lag) if lag <= healthy_lag => ("200 OK", "ok\n".to_owned()),
                    Some(lag) => (
                        "503 Service Unavailable",
                        format!("sync lag {} s\n", lag.as_secs()),
                    ),
                    None => ("503 Service Unavailable", "not synced yet\n".to_owned()),
                },
                _ => ("404 Not Found", "try /metrics or /health\n".to_owned()),
            };
            let response = format!(
                "HTTP/1.1 {status}\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.write_all(response.as_bytes()).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantiles_use_nearest_rank() {
        let m = Metrics::default();
        for ms in 1..=100u64 {
            m.record_handling(Duration::from_millis(ms));
        }
        let (p50, p99) = m.handling_quantiles().expect("samples");
        assert_eq!(p50, Duration::from_millis(50));
        assert_eq!(p99, Duration::from_millis(99));
        let text = m.render();
        assert!(
            text.contains("pulsebot_answer_handling_seconds{quantile=\"0.99\"} 0.099000"),
            "{text}"
        );
        assert!(
            text.contains("pulsebot_answer_handling_seconds_count 100"),
            "{text}"
        );
        assert!(text.contains("pulsebot_sync_lag_seconds -1"), "{text}");
    }

    #[test]
    fn sync_batches_and_samples_are_reported() {
        let m = Metrics::default();
        m.record_batch(Duration::from_millis(1500), Duration::from_millis(20), 40);
        m.record_batch(Duration::from_millis(500), Duration::from_millis(10), 2);
        let text = m.render();
        assert!(text.contains("pulsebot_syncs_total 2\n"), "{text}");
        assert!(text.contains("pulsebot_sync_events_total 42\n"), "{text}");
        assert!(
            text.contains("pulsebot_sync_request_seconds_total 2.000000\n"),
            "{text}"
        );
        assert!(
            text.contains("pulsebot_sync_handling_seconds_total 0.030000\n"),
            "{text}"
        );
        m.record_handling(Duration::from_micros(1234));
        m.record_handling(Duration::from_micros(7));
        assert_eq!(m.render_handling(), "2\n1234\n7\n");
    }
}
