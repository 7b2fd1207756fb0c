//! The latest closed bars of the series bots trade, per trade server (a leaf of the bars
//! component: the application state holds it).

use mt5::enums::Mt5Enum as _;
use mt5::{Rate, Timeframe};

/// The cache key of a trade server: its name as `account_info().server` reports it, lower-cased
/// and trimmed.
pub fn server_key(server: &str) -> String {
    server.trim().to_lowercase()
}

/// The latest closed bars of each (trade server, symbol, timeframe) as a bot wave last read them,
/// so that the waves of one bar close read each series from a terminal once: the first wave to
/// lock a series reads it, and the others (any account on that trade server) take it from here
/// while no bar of it has closed since (the wave decides that by its closed-bar rule). Process
/// memory only: a replica reads each series once per bar close.
#[derive(Default)]
pub struct Latest {
    series: std::sync::Mutex<std::collections::HashMap<LatestKey, LatestSlot>>,
}

type LatestKey = (String, String, i64);
type LatestSlot = std::sync::Arc<tokio::sync::Mutex<Option<LatestSeries>>>;

/// Series kept at most; beyond it the ones no wave holds are forgotten.
const LATEST_MAX: usize = 4_096;

/// A series as read: the bars closed at `closed_at` (server clock, seconds), the last `asked`.
#[derive(Debug, Clone)]
pub struct LatestSeries {
    pub bars: Vec<Rate>,
    pub closed_at: i64,
    pub asked: u32,
}

impl Latest {
    /// Locks a series for the caller (who reads it when what is kept will not do); the waves of
    /// the same series wait for each other, so the first reads and the rest take its bars.
    pub async fn lock(
        &self,
        server: &str,
        symbol: &str,
        timeframe: Timeframe,
    ) -> tokio::sync::OwnedMutexGuard<Option<LatestSeries>> {
        let slot = {
            let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
            if series.len() >= LATEST_MAX {
                series.retain(|_, s| std::sync::Arc::strong_count(s) > 1);
            }
            series
                .entry((server_key(server), symbol.to_string(), timeframe.code()))
                .or_default()
                .clone()
        };
        slot.lock_owned().await
    }
}
