//! The time of day, behind a trait so tests can set and move it.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

/// UTC time, in milliseconds: the service's and the simulator's; tests set and move it.
pub trait Clock: Send + Sync {
    fn now_ms(&self) -> i64;
}

/// The machine's clock.
#[derive(Debug, Default, Clone, Copy)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_ms(&self) -> i64 {
        // Before 1970 only on a broken machine clock: read as 0 rather than panic.
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64)
    }
}

/// A clock that only moves when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn new(utc_ms: i64) -> Self {
        ManualClock(Arc::new(AtomicI64::new(utc_ms)))
    }
    pub fn set(&self, utc_ms: i64) {
        self.0.store(utc_ms, Ordering::SeqCst);
    }
    pub fn advance_ms(&self, ms: i64) {
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_ms(&self) -> i64 {
        self.0.load(Ordering::SeqCst)
    }
}
