//! Service metrics in the Prometheus text exposition format (version 0.0.4), from a small registry
//! kept in memory: labelled counters and histograms updated by the request path, plus the pool's
//! own counters read at scrape time.
//!
//! Labels only ever hold bounded, non-identifying values (route templates, methods, statuses,
//! retcodes, limit scopes, journal statuses): never a user id, account id, login or token.

use crate::pool::TerminalPool;
use secrecy::SecretString;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Upper bounds of the request-duration buckets, in seconds (Prometheus client defaults).
pub const DURATION_BUCKETS: [f64; 11] = [
    0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
];

/// The `route` label of a request that matched no route.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// Counters sharing one name, one per combination of label values.
pub struct CounterVec {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    values: Mutex<BTreeMap<Vec<String>, u64>>,
}

impl CounterVec {
    pub fn new(name: &'static str, help: &'static str, labels: &'static [&'static str]) -> Self {
        CounterVec {
            name,
            help,
            labels,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    /// Adds one to the counter with these label values (in the order of the label names).
    pub fn inc(&self, values: &[&str]) {
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let mut map = self.values.lock().unwrap_or_else(|p| p.into_inner());
        *map.entry(key).or_insert(0) += 1;
    }

    /// The current value (0 when never incremented).
    pub fn get(&self, values: &[&str]) -> u64 {
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let map = self.values.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&key).copied().unwrap_or(0)
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "counter");
        let map = self.values.lock().unwrap_or_else(|p| p.into_inner());
        for (values, n) in map.iter() {
            let _ = writeln!(
                out,
                "{}{} {}",
                self.name,
                label_set(self.labels, values, None),
                n
            );
        }
    }
}

#[derive(Clone)]
struct HistogramData {
    /// Per bucket (not cumulative); the last slot is above every bound.
    counts: Vec<u64>,
    sum: f64,
    count: u64,
}

/// Histograms sharing one name and bucket bounds, one per combination of label values.
pub struct HistogramVec {
    name: &'static str,
    help: &'static str,
    labels: &'static [&'static str],
    bounds: &'static [f64],
    values: Mutex<BTreeMap<Vec<String>, HistogramData>>,
}

impl HistogramVec {
    pub fn new(
        name: &'static str,
        help: &'static str,
        labels: &'static [&'static str],
        bounds: &'static [f64],
    ) -> Self {
        HistogramVec {
            name,
            help,
            labels,
            bounds,
            values: Mutex::new(BTreeMap::new()),
        }
    }

    pub fn observe(&self, values: &[&str], v: f64) {
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let idx = self
            .bounds
            .iter()
            .position(|b| v <= *b)
            .unwrap_or(self.bounds.len());
        let mut map = self.values.lock().unwrap_or_else(|p| p.into_inner());
        let h = map.entry(key).or_insert_with(|| HistogramData {
            counts: vec![0; self.bounds.len() + 1],
            sum: 0.0,
            count: 0,
        });
        if let Some(c) = h.counts.get_mut(idx) {
            *c += 1;
        }
        h.sum += v;
        h.count += 1;
    }

    /// Observations so far with these label values.
    pub fn count(&self, values: &[&str]) -> u64 {
        let key: Vec<String> = values.iter().map(|v| v.to_string()).collect();
        let map = self.values.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&key).map(|h| h.count).unwrap_or(0)
    }

    fn render(&self, out: &mut String) {
        header(out, self.name, self.help, "histogram");
        // Copied out so the lock is not held while formatting.
        let snapshot: Vec<(Vec<String>, HistogramData)> = {
            let map = self.values.lock().unwrap_or_else(|p| p.into_inner());
            map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
        };
        for (values, h) in snapshot {
            let mut cumulative = 0;
            for (i, bound) in self.bounds.iter().enumerate() {
                cumulative += h.counts.get(i).copied().unwrap_or(0);
                let le = format_float(*bound);
                let _ = writeln!(
                    out,
                    "{}_bucket{} {}",
                    self.name,
                    label_set(self.labels, &values, Some(&le)),
                    cumulative
                );
            }
            let _ = writeln!(
                out,
                "{}_bucket{} {}",
                self.name,
                label_set(self.labels, &values, Some("+Inf")),
                h.count
            );
            let labels = label_set(self.labels, &values, None);
            let _ = writeln!(out, "{}_sum{} {}", self.name, labels, format_float(h.sum));
            let _ = writeln!(out, "{}_count{} {}", self.name, labels, h.count);
        }
    }
}

fn header(out: &mut String, name: &str, help: &str, kind: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn sample(out: &mut String, name: &str, help: &str, kind: &str, value: impl std::fmt::Display) {
    header(out, name, help, kind);
    let _ = writeln!(out, "{name} {value}");
}

/// `{a="x",b="y"}` (with `le` last for histogram buckets), or nothing without labels.
fn label_set(names: &[&str], values: &[String], le: Option<&str>) -> String {
    let mut parts: Vec<String> = names
        .iter()
        .zip(values)
        .map(|(n, v)| format!("{n}=\"{}\"", escape_label(v)))
        .collect();
    if let Some(le) = le {
        parts.push(format!("le=\"{le}\""));
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("{{{}}}", parts.join(","))
    }
}

/// Label values escape backslash, double quote and newline (the exposition format's rules).
fn escape_label(v: &str) -> String {
    let mut s = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

fn format_float(v: f64) -> String {
    if v.is_infinite() {
        if v > 0.0 { "+Inf" } else { "-Inf" }.to_string()
    } else if v.is_nan() {
        "NaN".to_string()
    } else {
        format!("{v}")
    }
}

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
    pub http_requests: CounterVec,
    pub http_duration: HistogramVec,
    pub account_switches: AtomicU64,
    pub orders: CounterVec,
    pub rate_limited: CounterVec,
    pub journal_reconciled: CounterVec,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("token_set", &self.token.is_some())
            .finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new(None)
    }
}

impl Metrics {
    /// `token`: when set, scrapes must send `Authorization: Bearer <token>`.
    pub fn new(token: Option<SecretString>) -> Self {
        Metrics {
            token,
            http_requests: CounterVec::new(
                "mt5b_http_requests_total",
                "HTTP requests by route template, method and status.",
                &["route", "method", "status"],
            ),
            http_duration: HistogramVec::new(
                "mt5b_http_request_duration_seconds",
                "HTTP request latency by route template and method.",
                &["route", "method"],
                &DURATION_BUCKETS,
            ),
            account_switches: AtomicU64::new(0),
            orders: CounterVec::new(
                "mt5b_orders_total",
                "Orders through the order pipeline by MT5 retcode, or refused (before sending) / not_executed (never ran) / unknown (answer lost).",
                &["retcode"],
            ),
            rate_limited: CounterVec::new(
                "mt5b_rate_limited_total",
                "Requests refused by a rate limit, by limit scope.",
                &["scope"],
            ),
            journal_reconciled: CounterVec::new(
                "mt5b_journal_reconciled_total",
                "Journal entries in doubt settled by the reconciler, by resulting status.",
                &["status"],
            ),
        }
    }

    /// Whether a scrape may read the metrics, given its `Authorization` header value.
    pub fn authorized(&self, authorization: Option<&str>) -> bool {
        match &self.token {
            Some(token) => crate::auth::bearer_is(authorization, token),
            None => true,
        }
    }

    /// One finished HTTP request; `route` is the matched template or [`UNMATCHED_ROUTE`].
    pub fn request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        self.http_requests.inc(&[route, method, &status]);
        self.http_duration
            .observe(&[route, method], elapsed.as_secs_f64());
    }

    /// A user's current account changed.
    pub fn account_switched(&self) {
        self.account_switches.fetch_add(1, Ordering::Relaxed);
    }

    /// An order the broker answered, by its retcode.
    pub fn order_retcode(&self, retcode: u32) {
        self.orders.inc(&[&retcode.to_string()]);
    }

    /// An order refused by the bridge before sending (kill switch, risk limit).
    pub fn order_refused(&self) {
        self.orders.inc(&["refused"]);
    }

    /// An order that certainly did not run (never sent, or refused before it started).
    pub fn order_failed(&self) {
        self.orders.inc(&["not_executed"]);
    }

    /// An order sent whose answer was lost: in doubt until the reconciler settles it.
    pub fn order_in_doubt(&self) {
        self.orders.inc(&["unknown"]);
    }

    /// A request refused by the rate limit named `scope`.
    pub fn rate_limited(&self, scope: &'static str) {
        self.rate_limited.inc(&[scope]);
    }

    /// A journal entry in doubt settled by the reconciler with this status.
    pub fn journal_reconciled(&self, status: &'static str) {
        self.journal_reconciled.inc(&[status]);
    }

    /// Everything in the text exposition format, with the pool's counters read now.
    /// The exposition text; `stale_clocks` is how many trade servers' time offsets are stale.
    pub fn render(&self, pool: &TerminalPool, stale_clocks: usize) -> String {
        let mut out = String::new();
        sample(
            &mut out,
            "mt5b_server_time_offset_stale",
            "Trade servers whose clock offset could not be measured at its last refresh (no recent tick): the last known offset is used.",
            "gauge",
            stale_clocks as u64,
        );
        self.http_requests.render(&mut out);
        self.http_duration.render(&mut out);
        let stats = pool.stats();
        let load = |a: &AtomicU64| a.load(Ordering::Relaxed);
        sample(
            &mut out,
            "mt5b_terminal_logins_total",
            "Terminal logins attempted, failed ones included (a terminal switching to an account).",
            "counter",
            load(&stats.logins),
        );
        sample(
            &mut out,
            "mt5b_terminal_failed_logins_total",
            "Terminal logins that failed.",
            "counter",
            load(&stats.failed_logins),
        );
        sample(
            &mut out,
            "mt5b_guard_mismatches_total",
            "Operations refused by the terminal guard (terminal on another account than expected).",
            "counter",
            load(&stats.guard_mismatches),
        );
        sample(
            &mut out,
            "mt5b_pool_terminals",
            "Terminals in the pool.",
            "gauge",
            pool.size(),
        );
        sample(
            &mut out,
            "mt5b_pool_terminals_kept",
            "Terminals kept on their accounts by the adaptive policy now.",
            "gauge",
            pool.terminals_kept(),
        );
        sample(
            &mut out,
            "mt5b_pool_queue_depth",
            "Requests waiting for a terminal lease now.",
            "gauge",
            pool.queue_depth(),
        );
        sample(
            &mut out,
            "mt5b_pool_lease_wait_seconds_total",
            "Total time requests spent waiting for a terminal lease.",
            "counter",
            format_float(load(&stats.wait_us) as f64 / 1_000_000.0),
        );
        sample(
            &mut out,
            "mt5b_pool_leases_total",
            "Terminal leases granted.",
            "counter",
            load(&stats.leases),
        );
        sample(
            &mut out,
            "mt5b_pool_residency_holds_total",
            "Times residency kept an idle terminal on a hot account while another account waited.",
            "counter",
            load(&stats.residency_holds),
        );
        sample(
            &mut out,
            "mt5b_pool_residency_hits_total",
            "Requests served by a terminal while residency kept it on their account.",
            "counter",
            load(&stats.residency_hits),
        );
        sample(
            &mut out,
            "mt5b_account_switches_total",
            "Changes of a user's current account.",
            "counter",
            self.account_switches.load(Ordering::Relaxed),
        );
        self.orders.render(&mut out);
        self.rate_limited.render(&mut out);
        self.journal_reconciled.render(&mut out);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::PoolOptions;

    #[test]
    fn counters_and_histograms_render_in_text_format() {
        let m = Metrics::new(None);
        m.request("/api/v1/accounts", "GET", 200, Duration::from_millis(20));
        m.request("/api/v1/accounts", "GET", 200, Duration::from_millis(700));
        m.order_retcode(10009);
        m.rate_limited("switches_per_user");
        let text = m.render(&TerminalPool::new(Vec::new(), PoolOptions::default()), 0);
        assert!(text.contains("# TYPE mt5b_http_requests_total counter\n"));
        assert!(text.contains(
            "mt5b_http_requests_total{route=\"/api/v1/accounts\",method=\"GET\",status=\"200\"} 2\n"
        ));
        assert!(text.contains("# TYPE mt5b_http_request_duration_seconds histogram\n"));
        // 20 ms falls in 0.025; 700 ms in 1: buckets are cumulative.
        assert!(text.contains("mt5b_http_request_duration_seconds_bucket{route=\"/api/v1/accounts\",method=\"GET\",le=\"0.01\"} 0\n"));
        assert!(text.contains("mt5b_http_request_duration_seconds_bucket{route=\"/api/v1/accounts\",method=\"GET\",le=\"0.025\"} 1\n"));
        assert!(text.contains("mt5b_http_request_duration_seconds_bucket{route=\"/api/v1/accounts\",method=\"GET\",le=\"1\"} 2\n"));
        assert!(text.contains("mt5b_http_request_duration_seconds_bucket{route=\"/api/v1/accounts\",method=\"GET\",le=\"+Inf\"} 2\n"));
        assert!(text.contains(
            "mt5b_http_request_duration_seconds_count{route=\"/api/v1/accounts\",method=\"GET\"} 2\n"
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
        let c = CounterVec::new("x_total", "x", &["a"]);
        c.inc(&["q\"b\\n\nl"]);
        let mut out = String::new();
        c.render(&mut out);
        assert!(out.contains("x_total{a=\"q\\\"b\\\\n\\nl\"} 1\n"), "{out}");
        assert_eq!(c.get(&["q\"b\\n\nl"]), 1);
    }

    #[test]
    fn token_check() {
        let open = Metrics::new(None);
        assert!(open.authorized(None));
        let m = Metrics::new(Some(SecretString::from("s3cret-token")));
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
