//! Health and metrics: counters the bot keeps, rendered in the Prometheus/OpenMetrics text
//! format by `prometheus-client` and served by hyper over plain HTTP on a loopback address
//! (`GET /metrics`, `GET /health`).
//!
//! Counts only: no room, no participant, no answer ever appears here.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use hyper::StatusCode;
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
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
    /// The same times since start, in buckets from 1 ms to about 16 s.
    handling_histogram: Histogram,
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
            handling_histogram: Histogram::new(exponential_buckets(0.001, 2.0, 15)),
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
        self.handling_histogram.observe(d.as_secs_f64());
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

    /// The Prometheus text exposition (OpenMetrics text format, by `prometheus-client`).
    pub fn render(self: &std::sync::Arc<Self>) -> String {
        let mut registry = prometheus_client::registry::Registry::default();
        registry.register_collector(Box::new(Exposition(self.clone())));
        let mut s = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut s, &registry);
        s
    }
}

/// The bot's counters as `prometheus-client` sees them: read from the atomics on each scrape,
/// so the bot's parts keep counting with plain atomics and no registry is passed around.
#[derive(Debug)]
struct Exposition(std::sync::Arc<Metrics>);

impl Collector for Exposition {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let m = &self.0;
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let gauges: [(&str, &str, f64); 5] = [
            ("pulsebot_up", "1 while the bot runs.", 1.0),
            (
                "pulsebot_uptime_seconds",
                "Seconds since start.",
                m.started.elapsed().as_secs() as f64,
            ),
            (
                "pulsebot_sync_lag_seconds",
                "Seconds since the last handled sync batch (-1 before the first).",
                m.sync_lag().map_or(-1.0, |d| d.as_secs_f64()),
            ),
            (
                "pulsebot_rounds_open",
                "Survey rounds open at the last count.",
                load(&m.rounds_open) as f64,
            ),
            (
                "pulsebot_outbox_pending",
                "Messages waiting to be sent at the sender's last look.",
                load(&m.outbox_pending) as f64,
            ),
        ];
        for (name, help, v) in gauges {
            ConstGauge::new(v).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Gauge,
            )?)?;
        }
        // Counter names without `_total`: the encoder appends it.
        let counters: [(&str, &str, u64); 11] = [
            (
                "pulsebot_answers_counted",
                "Answers counted (each exactly once).",
                load(&m.answers),
            ),
            (
                "pulsebot_undecryptable_events",
                "Events the bot could not decrypt when they arrived.",
                load(&m.undecryptable),
            ),
            (
                "pulsebot_untrusted_device_events",
                "Messages and votes ignored because their device is not trusted (matrix.device_trust).",
                load(&m.untrusted),
            ),
            (
                "pulsebot_messages_sent",
                "Messages delivered to the homeserver.",
                load(&m.sent),
            ),
            (
                "pulsebot_send_failures",
                "Failed send attempts (a message is retried with the same transaction id unless the refusal is final).",
                load(&m.send_failures),
            ),
            (
                "pulsebot_messages_dropped",
                "Messages given up on: refused by the homeserver, rate-limited too often, or for a room the bot lost.",
                load(&m.messages_dropped),
            ),
            (
                "pulsebot_replies_throttled",
                "Replies (hints, my data, survey closed) not sent because the participant used up their reply rate.",
                load(&m.replies_throttled),
            ),
            (
                "pulsebot_events_dropped",
                "Inbound events skipped because a bounded queue was full.",
                load(&m.events_dropped),
            ),
            (
                "pulsebot_command_failures",
                "Admin commands that failed or ran out of time.",
                load(&m.command_failures),
            ),
            ("pulsebot_syncs", "Sync responses handled.", load(&m.syncs)),
            (
                "pulsebot_sync_events",
                "Timeline events handed from sync responses to the bot.",
                load(&m.sync_events),
            ),
        ];
        for (name, help, v) in counters {
            ConstCounter::new(v).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }
        let secs = |a: &AtomicU64| a.load(Ordering::Relaxed) as f64 / 1e6;
        for (name, help, v) in [
            (
                "pulsebot_sync_request_seconds",
                "Time in sync requests, including the SDK's processing and decryption.",
                secs(&m.sync_request_us),
            ),
            (
                "pulsebot_sync_handling_seconds",
                "Time handling sync responses and saving the position.",
                secs(&m.sync_handling_us),
            ),
        ] {
            ConstCounter::new(v).encode(encoder.encode_descriptor(
                name,
                help,
                None,
                MetricType::Counter,
            )?)?;
        }
        m.handling_histogram.encode(encoder.encode_descriptor(
            "pulsebot_answer_handling_seconds",
            "From a decrypted answer reaching the bot to its next question handed to the homeserver.",
            None,
            MetricType::Histogram,
        )?)?;
        if let Some((p50, p99)) = m.handling_quantiles() {
            let mut family = encoder.encode_descriptor(
                "pulsebot_answer_handling_recent_seconds",
                "p50 and p99 of the most recent answer handling times (up to 100,000).",
                None,
                MetricType::Gauge,
            )?;
            for (q, v) in [("0.5", p50), ("0.99", p99)] {
                ConstGauge::new(v.as_secs_f64())
                    .encode(family.encode_family(&[("quantile", q)])?)?;
            }
        }
        Ok(())
    }
}

/// The answer to one request of the endpoint.
fn respond(
    path: &str,
    metrics: &std::sync::Arc<Metrics>,
    healthy_lag: Duration,
) -> (StatusCode, &'static str, String) {
    const TEXT: &str = "text/plain; charset=utf-8";
    match path {
        "/metrics" => (
            StatusCode::OK,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            metrics.render(),
        ),
        "/handling" => (StatusCode::OK, TEXT, metrics.render_handling()),
        "/stored" => (StatusCode::OK, TEXT, metrics.render_stored()),
        "/health" => match metrics.sync_lag() {
            Some(lag) if lag <= healthy_lag => (StatusCode::OK, TEXT, "ok\n".to_owned()),
            Some(lag) => (
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                format!("sync lag {} s\n", lag.as_secs()),
            ),
            None => (
                StatusCode::SERVICE_UNAVAILABLE,
                TEXT,
                "not synced yet\n".to_owned(),
            ),
        },
        _ => (
            StatusCode::NOT_FOUND,
            TEXT,
            "try /metrics or /health\n".to_owned(),
        ),
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
    use hyper::service::service_fn;

    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| anyhow::anyhow!("cannot listen on {addr}: {e}"))?;
    info!(addr = %listener.local_addr()?, "metrics endpoint listening");
    loop {
        let (conn, _) = tokio::select! {
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
        let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
            let (status, kind, body) = respond(req.uri().path(), &metrics, healthy_lag);
            let response = hyper::Response::builder()
                .status(status)
                .header(hyper::header::CONTENT_TYPE, kind)
                .body(http_body_util::Full::new(hyper::body::Bytes::from(body)));
            async move { response }
        });
        tokio::spawn(async move {
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(hyper_util::rt::TokioTimer::new())
                .header_read_timeout(Duration::from_secs(5))
                .serve_connection(hyper_util::rt::TokioIo::new(conn), service);
            // A scraper that hangs up early is its own business.
            let _ = tokio::time::timeout(Duration::from_secs(30), connection).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn quantiles_use_nearest_rank() {
        let m = Arc::new(Metrics::default());
        for ms in 1..=100u64 {
            m.record_handling(Duration::from_millis(ms));
        }
        let (p50, p99) = m.handling_quantiles().expect("samples");
        assert_eq!(p50, Duration::from_millis(50));
        assert_eq!(p99, Duration::from_millis(99));
        let text = m.render();
        assert!(
            text.contains("pulsebot_answer_handling_recent_seconds{quantile=\"0.99\"} 0.099"),
            "{text}"
        );
        assert!(
            text.contains("pulsebot_answer_handling_seconds_count 100\n"),
            "{text}"
        );
        // 1..=100 ms: 2 answers took at most 2 ms, all 100 at most 128 ms.
        assert!(
            text.contains("pulsebot_answer_handling_seconds_bucket{le=\"0.002\"} 2\n"),
            "{text}"
        );
        assert!(
            text.contains("pulsebot_answer_handling_seconds_bucket{le=\"0.128\"} 100\n"),
            "{text}"
        );
        assert!(text.contains("pulsebot_sync_lag_seconds -1.0\n"), "{text}");
        assert!(text.ends_with("# EOF\n"), "{text}");
    }

    #[test]
    fn sync_batches_and_samples_are_reported() {
        let m = Arc::new(Metrics::default());
        m.record_batch(Duration::from_millis(1500), Duration::from_millis(20), 40);
        m.record_batch(Duration::from_millis(500), Duration::from_millis(10), 2);
        let text = m.render();
        assert!(text.contains("pulsebot_syncs_total 2\n"), "{text}");
        assert!(text.contains("pulsebot_sync_events_total 42\n"), "{text}");
        assert!(
            text.contains("pulsebot_sync_request_seconds_total 2.0\n"),
            "{text}"
        );
        assert!(
            text.contains("pulsebot_sync_handling_seconds_total 0.03\n"),
            "{text}"
        );
        assert!(text.contains("# TYPE pulsebot_syncs counter\n"), "{text}");
        m.record_handling(Duration::from_micros(1234));
        m.record_handling(Duration::from_micros(7));
        assert_eq!(m.render_handling(), "2\n1234\n7\n");
    }

    /// The endpoint over real HTTP: a real client, the paths, the status codes.
    #[tokio::test]
    async fn the_endpoint_answers_metrics_and_health_over_http() {
        let m = Arc::new(Metrics::default());
        m.answers.fetch_add(3, Ordering::Relaxed);
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("port");
        let addr = listener.local_addr().expect("addr");
        drop(listener);
        let cancel = CancellationToken::new();
        let server = tokio::spawn(serve(
            addr,
            m.clone(),
            Duration::from_secs(60),
            cancel.clone(),
        ));
        let client = matrix_sdk::reqwest::Client::new();
        let get = |path: &'static str| {
            let client = client.clone();
            async move {
                for _ in 0..50 {
                    if let Ok(r) = client.get(format!("http://{addr}{path}")).send().await {
                        let status = r.status().as_u16();
                        return (status, r.text().await.expect("body"));
                    }
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                panic!("the endpoint never answered");
            }
        };
        let (status, body) = get("/metrics").await;
        assert_eq!(status, 200);
        assert!(
            body.contains("pulsebot_answers_counted_total 3\n"),
            "{body}"
        );
        assert_eq!(get("/health").await, (503, "not synced yet\n".into()));
        m.synced();
        assert_eq!(get("/health").await, (200, "ok\n".into()));
        assert_eq!(get("/nope").await.0, 404);
        cancel.cancel();
        server.await.expect("joined").expect("clean stop");
    }
}
