//! The trade servers' clocks, as the agents' terminals see them: one offset (server clock minus
//! UTC) per trade server, measured at login and refreshed at most every [`REFRESH`], instead of
//! an agent round trip (a `symbols_get()` and a tick read per Market Watch symbol) on every request
//! that reports times.
//!
//! An agent that cannot measure (a quiet market: no recent tick) answers `null`; the last known
//! offset is kept then and the server counts as stale (`mt5b_server_time_offset_stale`). A server
//! never measured is taken as UTC, stale, and asked again after [`RETRY_UNKNOWN`]: never silently 0.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// How long a measured offset is used before it is measured again.
pub const REFRESH: Duration = Duration::from_secs(60);
/// How soon a server whose offset was never measured is asked again.
pub const RETRY_UNKNOWN: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, Copy)]
struct Reading {
    offset_s: i64,
    /// When it was last measured (or last failed to measure).
    at: Instant,
    /// The last measurement found nothing: `offset_s` is older than that (or a guess of 0).
    stale: bool,
    /// Set once a measurement succeeded.
    known: bool,
}

/// Offsets per trade server, shared by every agent of the pool.
#[derive(Debug, Default)]
pub struct ServerClocks {
    servers: Mutex<HashMap<String, Reading>>,
}

/// Servers compare without case or surrounding blanks, as MT5 finds them.
fn key(server: &str) -> String {
    server.trim().chars().flat_map(char::to_lowercase).collect()
}

impl ServerClocks {
    /// The offset to use now, or `None` when it should be measured first.
    pub fn current(&self, server: &str, now: Instant) -> Option<i64> {
        let servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        let r = servers.get(&key(server))?;
        let age = now.saturating_duration_since(r.at);
        let fresh_for = if r.known { REFRESH } else { RETRY_UNKNOWN };
        (age < fresh_for).then_some(r.offset_s)
    }

    /// Records a measurement (`None`: the agent could not tell) and returns the offset to use.
    pub fn record(&self, server: &str, measured: Option<i64>, now: Instant) -> i64 {
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        let k = key(server);
        let previous = servers.get(&k).copied();
        let reading = match (measured, previous) {
            (Some(offset_s), _) => Reading {
                offset_s,
                at: now,
                stale: false,
                known: true,
            },
            (None, Some(p)) => Reading {
                at: now,
                stale: true,
                ..p
            },
            (None, None) => Reading {
                offset_s: 0,
                at: now,
                stale: true,
                known: false,
            },
        };
        if reading.stale && !previous.is_some_and(|p| p.stale) {
            tracing::warn!(
                server = %server.chars().take(64).collect::<String>(),
                offset_s = reading.offset_s,
                known = reading.known,
                "server time offset could not be measured (no recent tick): keeping the last known one"
            );
        }
        servers.insert(k, reading);
        reading.offset_s
    }

    /// Keeps an offset a terminal reported for a server no agent measured (a simulated terminal
    /// knows its clock exactly), so times shown later convert by it; a server with a reading of
    /// its own keeps that one (and when it is measured next).
    pub fn observe(&self, server: &str, offset_s: i64, now: Instant) {
        let mut servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        servers.entry(key(server)).or_insert(Reading {
            offset_s,
            at: now,
            stale: false,
            known: true,
        });
    }

    /// The last offset measured for the server, however old (None: never measured).
    pub fn last_known(&self, server: &str) -> Option<i64> {
        let servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        servers
            .get(&key(server))
            .filter(|r| r.known)
            .map(|r| r.offset_s)
    }

    /// Whether the server's offset is stale (its last measurement found nothing). A server never
    /// recorded (a simulated terminal knows its clock exactly) is not.
    pub fn is_stale(&self, server: &str) -> bool {
        let servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        servers.get(&key(server)).is_some_and(|r| r.stale)
    }

    /// Trade servers whose offset is stale now.
    pub fn stale(&self) -> usize {
        let servers = self.servers.lock().unwrap_or_else(|p| p.into_inner());
        servers.values().filter(|r| r.stale).count()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // a test should panic loudly on the unexpected
mod tests {
    use super::*;

    #[test]
    fn measured_once_then_kept_for_a_minute() {
        let clocks = ServerClocks::default();
        let t0 = Instant::now();
        assert_eq!(clocks.current("Broker-Live", t0), None);
        assert_eq!(clocks.record("Broker-Live", Some(7200), t0), 7200);
        // Another spelling of the same server shares it.
        assert_eq!(
            clocks.current(" broker-live ", t0 + REFRESH / 2),
            Some(7200)
        );
        assert_eq!(clocks.current("Broker-Live", t0 + REFRESH), None);
        assert_eq!(clocks.current("Other-Server", t0), None);
        assert_eq!(clocks.stale(), 0);
    }

    #[test]
    fn a_quiet_market_keeps_the_last_offset_and_says_so() {
        let clocks = ServerClocks::default();
        let t0 = Instant::now();
        clocks.record("Broker-Live", Some(10_800), t0);
        let t1 = t0 + REFRESH;
        assert_eq!(clocks.record("Broker-Live", None, t1), 10_800);
        assert_eq!(clocks.stale(), 1);
        assert_eq!(
            clocks.current("Broker-Live", t1 + REFRESH / 2),
            Some(10_800)
        );
        // A later tick clears it.
        clocks.record("Broker-Live", Some(10_800), t1 + REFRESH);
        assert_eq!(clocks.stale(), 0);
    }

    #[test]
    fn a_server_never_measured_is_stale_and_asked_again_soon() {
        let clocks = ServerClocks::default();
        let t0 = Instant::now();
        assert_eq!(clocks.record("Quiet", None, t0), 0);
        assert_eq!(clocks.stale(), 1);
        assert_eq!(clocks.current("Quiet", t0 + RETRY_UNKNOWN / 2), Some(0));
        assert_eq!(clocks.current("Quiet", t0 + RETRY_UNKNOWN), None);
    }

    #[test]
    fn an_observed_offset_never_overrides_a_measured_one() {
        let clocks = ServerClocks::default();
        let t0 = Instant::now();
        clocks.observe("Sim-Demo", 7200, t0);
        assert_eq!(clocks.last_known("sim-demo"), Some(7200));
        clocks.record("Broker-Live", Some(10_800), t0);
        clocks.observe("Broker-Live", 0, t0 + REFRESH);
        assert_eq!(clocks.last_known("Broker-Live"), Some(10_800));
        // Nor makes a stale reading fresh.
        assert_eq!(clocks.current("Broker-Live", t0 + REFRESH), None);
    }
}
