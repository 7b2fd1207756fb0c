//! Service metrics in the Prometheus text exposition format (version 0.0.4), kept by the
//! `prometheus` crate: labelled counters and a histogram updated by the request path, plus the
//! pool's own counters and gauges read at scrape time.
//!
//! Labels only ever hold bounded, non-identifying values (route templates, methods, statuses,
//! retcodes, limit scopes, journal statuses): never a user id, account id, login or token.
//! The exposition writes each series' labels in name order (`method`, `route`, `status`), with a
//! histogram bucket's `le` last; label sets are unordered to Prometheus.

use crate::pool::TerminalPool;
use prometheus::core::Collector;
use prometheus::proto::MetricFamily;
use prometheus::{
    Counter, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge, Opts, TextEncoder,
};
use secrecy::SecretString;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the request-duration buckets, in seconds (Prometheus client defaults).
pub const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `route` label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// The content type of the exposition (`text/plain; version=0.0.4`).
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The method as a label: the standard ones by name, anything else as `other` (bounded).
pub fn method_label(m: &axum::http::Method) -> &'static str {
    use axum::http::Method;
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::PATCH => "PATCH",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The service's metrics, and the token that guards their endpoint.
pub struct Metrics {
    token: Option<SecretString>,
    http_requests: IntCounterVec,
    http_duration: HistogramVec,
    account_switches: IntCounter,
    orders: IntCounterVec,
    rate_limited: IntCounterVec,
    journal_reconciled: IntCounterVec,
    stream_events: IntCounterVec,
    stream_slow_consumers: IntCounter,
    stream_changes_read: IntCounter,
    trade_slot_fallbacks: IntCounter,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("token_set", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

fn counter_vec(name: &str, help: &str, labels: &[&str]) -> prometheus::Result<IntCounterVec> {
    IntCounterVec::new(Opts::new(name, help), labels)
}

/// Adds one to the series with these label values. The label count is fixed at each call site,
/// so the lookup cannot fail; if it ever did, the sample is dropped rather than the request.
fn inc(vec: &IntCounterVec, values: &[&str]) {
    if let Ok(c) = vec.get_metric_with_label_values(values) {
        c.inc();
    }
}

impl Metrics {
    /// `token`: scrapes must send `Authorization: Bearer <token>`; unset, every scrape is refused.
    /// Fails only on a malformed metric definition (a name or label the format does not allow).
    pub fn new(token: Option<SecretString>) -> prometheus::Result<Self> {
        Ok(Metrics {
            token,
            http_requests: counter_vec(
                "mt5b_http_requests_total",
                "HTTP requests by route template, method and status.",
                &["route", "method", "status"],
            )?,
            http_duration: HistogramVec::new(
                HistogramOpts::new(
                    "mt5b_http_request_duration_seconds",
                    "HTTP request latency by route template and method.",
                )
                .buckets(DURATION_BUCKETS.to_vec()),
                &["route", "method"],
            )?,
            account_switches: IntCounter::new(
                "mt5b_account_switches_total",
                "Changes of a user's current account.",
            )?,
            orders: counter_vec(
                "mt5b_orders_total",
                "Orders through the order pipeline by MT5 retcode, or refused (before sending) / not_executed (never ran) / unknown (answer lost).",
                &["retcode"],
            )?,
            rate_limited: counter_vec(
                "mt5b_rate_limited_total",
                "Requests refused by a rate limit, by limit scope.",
                &["scope"],
            )?,
            journal_reconciled: counter_vec(
                "mt5b_journal_reconciled_total",
                "Journal entries in doubt settled by the reconciler, by resulting status.",
                &["status"],
            )?,
            stream_events: counter_vec(
                "mt5b_stream_events_total",
                "Events sent on live streams, by channel.",
                &["channel"],
            )?,
            stream_slow_consumers: IntCounter::new(
                "mt5b_stream_slow_consumer_total",
                "Live streams closed because their client fell too far behind (4008 slow_consumer).",
            )?,
            trade_slot_fallbacks: IntCounter::new(
                "mt5b_trade_slot_fallback_total",
                "Trade-limit slots given back by their fallback (a path of the order pipeline that neither committed nor released one: a defect, 0 in a healthy service).",
            )?,
            stream_changes_read: IntCounter::new(
                "mt5b_stream_changes_read_total",
                "Changes (journal entries, runs, accounts) taken off their user's channel by live streams, each stream counting its own.",
            )?,
        })
    }

    /// Whether a scrape may read the metrics, given its `Authorization` header value. Without a
    /// token nobody may: the metrics reveal traffic, users' activity and the pool's state to
    /// anyone who can reach the API listener.
    pub fn authorized(&self, authorization: Option<&str>) -> bool {
        match &self.token {
            Some(token) => crate::auth::bearer_is(authorization, token),
            None => false,
        }
    }

    /// One finished HTTP request; `route` is the matched template or [`UNMATCHED_ROUTE`].
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        inc(&self.http_requests, &[route, method, &status]);
        if let Ok(h) = self
            .http_duration
            .get_metric_with_label_values(&[route, method])
        {
            h.observe(elapsed.as_secs_f64());
        }
    }

    /// A user's current account changed.
    pub fn account_switched(&self) {
        self.account_switches.inc();
    }

    /// An order the broker answered, by its retcode.
    pub fn order_retcode(&self, retcode: u32) {
        inc(&self.orders, &[&retcode.to_string()]);
    }

    /// An order refused by the bridge before sending (kill switch, risk limit).
    pub fn order_refused(&self) {
        inc(&self.orders, &["refused"]);
    }

    /// An order that certainly did not run (never sent, or refused before it started).
    pub fn order_failed(&self) {
        inc(&self.orders, &["not_executed"]);
    }

    /// An order sent whose answer was lost: in doubt until the reconciler settles it.
    pub fn order_in_doubt(&self) {
        inc(&self.orders, &["unknown"]);
    }

    /// A request refused by the rate limit named `scope`.
    pub fn rate_limited(&self, scope: &'static str) {
        inc(&self.rate_limited, &[scope]);
    }

    /// An event sent on a live stream's `channel`.
    pub fn stream_event(&self, channel: &'static str) {
        inc(&self.stream_events, &[channel]);
    }

    /// A trade slot released by its fallback instead of the pipeline.
    pub fn trade_slot_fallback(&self) {
        self.trade_slot_fallbacks.inc();
    }

    /// Trade slots released by their fallback so far.
    pub fn trade_slot_fallbacks(&self) -> u64 {
        self.trade_slot_fallbacks.get()
    }

    /// Changes one stream took off its user's channel.
    pub fn stream_changes_read(&self, n: usize) {
        self.stream_changes_read.inc_by(n as u64);
    }

    /// A live stream closed as a slow consumer.
    pub fn stream_slow_consumer(&self) {
        self.stream_slow_consumers.inc();
    }

    /// A journal entry in doubt settled by the reconciler with this status.
    pub fn journal_reconciled(&self, status: &'static str) {
        inc(&self.journal_reconciled, &[status]);
    }

    /// The exposition text, with the pool's counters read now; `stale_clocks` is how many trade
    /// servers' time offsets are stale, `streams` how many live streams are open. Families come
    /// out sorted by name.
    pub fn render(&self, pool: &TerminalPool, stale_clocks: usize, streams: usize) -> String {
        let stats = pool.stats();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let mut families: Vec<MetricFamily> = Vec::new();
        families.extend(self.http_requests.collect());
        families.extend(self.http_duration.collect());
        families.extend(self.account_switches.collect());
        families.extend(self.orders.collect());
        families.extend(self.rate_limited.collect());
        families.extend(self.journal_reconciled.collect());
        families.extend(self.stream_events.collect());
        families.extend(self.stream_slow_consumers.collect());
        families.extend(self.stream_changes_read.collect());
        families.extend(self.trade_slot_fallbacks.collect());
        let gauges: [(&str, &str, usize); 5] = [
            (
                "mt5b_stream_connections",
                "Live streams (GET /api/v1/stream) open now.",
                streams,
            ),
            (
                "mt5b_server_time_offset_stale",
                "Trade servers whose clock offset could not be measured at its last refresh (no recent tick): the last known offset is used.",
                stale_clocks,
            ),
            ("mt5b_pool_terminals", "Terminals in the pool.", pool.size()),
            (
                "mt5b_pool_terminals_kept",
                "Terminals kept on their accounts by the adaptive policy now.",
                pool.terminals_kept(),
            ),
            (
                "mt5b_pool_queue_depth",
                "Requests waiting for a terminal lease now.",
                pool.queue_depth(),
            ),
        ];
        for (name, help, value) in gauges {
            if let Ok(g) = IntGauge::new(name, help) {
                g.set(i64::try_from(value).unwrap_or(i64::MAX));
                families.extend(g.collect());
            }
        }
        let counters: [(&str, &str, u64); 6] = [
            (
                "mt5b_terminal_logins_total",
                "Terminal logins attempted, failed ones included (a terminal switching to an account).",
                load(&stats.logins),
            ),
            (
                "mt5b_terminal_failed_logins_total",
                "Terminal logins that failed.",
                load(&stats.failed_logins),
            ),
            (
                "mt5b_guard_mismatches_total",
                "Operations refused by the terminal guard (terminal on another account than expected).",
                load(&stats.guard_mismatches),
            ),
            (
                "mt5b_pool_leases_total",
                "Terminal leases granted.",
                load(&stats.leases),
            ),
            (
                "mt5b_pool_residency_holds_total",
                "Times residency kept an idle terminal on a hot account while another account waited.",
                load(&stats.residency_holds),
            ),
            (
                "mt5b_pool_residency_hits_total",
                "Requests served by a terminal while residency kept it on their account.",
                load(&stats.residency_hits),
            ),
        ];
        for (name, help, value) in counters {
            if let Ok(c) = IntCounter::new(name, help) {
                c.inc_by(value);
                families.extend(c.collect());
            }
        }
        if let Ok(c) = Counter::new(
            "mt5b_pool_lease_wait_seconds_total",
            "Total time requests spent waiting for a terminal lease.",
        ) {
            c.inc_by(load(&stats.wait_us) as f64 / 1_000_000.0);
            families.extend(c.collect());
        }
        // A labelled family nothing has touched yet has no series: left out, as a registry would.
        families.retain(|f| !f.get_metric().is_empty());
        families.sort_by(|a, b| a.name().cmp(b.name()));
        let mut out = String::new();
        // Encoding into a String fails only on a family without a name or type, which the
        // constructors above cannot make; a partial text is still the best answer then.
        let _ = TextEncoder::new().encode_utf8(&families, &mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::PoolOptions;

    #[test]
    fn counters_and_histograms_render_in_text_format() {
        let m = Metrics::new(None).unwrap();
        m.request("/api/v1/accounts", "GET", 200, Duration::from_millis(20));
        m.request("/api/v1/accounts", "GET", 200, Duration::from_millis(700));
        m.order_retcode(10009);
        m.rate_limited("switches_per_user");
        let text = m.render(&TerminalPool::new(Vec::new(), PoolOptions::default()), 0, 0);
        assert!(text.contains("# TYPE mt5b_http_requests_total counter\n"));
        assert!(text.contains(
            "mt5b_http_requests_total{method=\"GET\",route=\"/api/v1/accounts\",status=\"200\"} 2\n"
        ));
        assert!(text.contains("# TYPE mt5b_http_request_duration_seconds histogram\n"));
        // 20 ms falls in 0.025; 700 ms in 1: buckets are cumulative.
        assert!(text.contains("mt5b_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/accounts\",le=\"0.01\"} 0\n"));
        assert!(text.contains("mt5b_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/accounts\",le=\"0.025\"} 1\n"));
        assert!(text.contains("mt5b_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/accounts\",le=\"1\"} 2\n"));
        assert!(text.contains("mt5b_http_request_duration_seconds_bucket{method=\"GET\",route=\"/api/v1/accounts\",le=\"+Inf\"} 2\n"));
        assert!(text.contains(
            "mt5b_http_request_duration_seconds_count{method=\"GET\",route=\"/api/v1/accounts\"} 2\n"
        ));
        assert!(text.contains("mt5b_orders_total{retcode=\"10009\"} 1\n"));
        assert!(text.contains("mt5b_rate_limited_total{scope=\"switches_per_user\"} 1\n"));
        assert!(text.contains("mt5b_pool_terminals 0\n"));
        assert!(text.contains("mt5b_pool_queue_depth 0\n"));
        assert!(text.contains("mt5b_pool_lease_wait_seconds_total 0\n"));
        assert!(text.contains("mt5b_pool_residency_holds_total 0\n"));
        assert!(text.contains("mt5b_pool_residency_hits_total 0\n"));
        // Every sample line is `name[{labels}] value`.
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let value = line.rsplit(' ').next().unwrap();
            assert!(value.parse::<f64>().is_ok(), "{line}");
        }
    }

    #[test]
    fn label_values_are_escaped() {
        let m = Metrics::new(None).unwrap();
        m.request("q\"b\\n\nl", "GET", 200, Duration::ZERO);
        let text = m.render(&TerminalPool::new(Vec::new(), PoolOptions::default()), 0, 0);
        assert!(
            text.contains("mt5b_http_requests_total{method=\"GET\",route=\"q\\\"b\\\\n\\nl\",status=\"200\"} 1\n"),
            "{text}"
        );
    }

    #[test]
    fn untouched_labelled_families_are_left_out_and_families_are_sorted() {
        let m = Metrics::new(None).unwrap();
        let text = m.render(&TerminalPool::new(Vec::new(), PoolOptions::default()), 2, 0);
        assert!(!text.contains("mt5b_orders_total"), "{text}");
        assert!(text.contains("mt5b_server_time_offset_stale 2\n"));
        assert!(text.contains("mt5b_account_switches_total 0\n"));
        let names: Vec<&str> = text
            .lines()
            .filter_map(|l| l.strip_prefix("# TYPE "))
            .map(|l| l.split(' ').next().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
    }

    #[test]
    fn token_check() {
        let closed = Metrics::new(None).unwrap();
        assert!(!closed.authorized(None));
        assert!(!closed.authorized(Some("Bearer ")));
        assert!(!closed.authorized(Some("Bearer anything")));
        let m = Metrics::new(Some(SecretString::from("s3cret-token"))).unwrap();
        assert!(!m.authorized(None));
        assert!(!m.authorized(Some("Bearer wrong")));
        assert!(!m.authorized(Some("Bearer s3cret-toke")));
        assert!(!m.authorized(Some("s3cret-token")));
        assert!(m.authorized(Some("Bearer s3cret-token")));
        assert!(
            m.authorized(Some("bearer  s3cret-token ")),
            "the scheme is case-insensitive"
        );
        assert!(!m.authorized(Some("Bearer s3cret-token s3cret-token")));
        assert!(!m.authorized(Some("Bearer ")));
        assert!(!format!("{m:?}").contains("s3cret"));
    }
}
