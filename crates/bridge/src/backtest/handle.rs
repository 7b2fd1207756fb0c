//! The backtest workers' handle in the application state: their settings, the bell rung when
//! work is queued, and their tasks. Its own module (as the reconciler's handle is), so the state
//! does not depend on the workers' code.

use tokio::sync::Notify;

/// The backtests' settings (BACKTEST_* and BAR_CACHE_MAX_MB).
#[derive(Debug, Clone, Copy)]
pub struct BacktestSettings {
    /// Units run at once by this process (BACKTEST_WORKERS).
    pub workers: usize,
    /// The longest window (BACKTEST_MAX_WINDOW_DAYS).
    pub max_window_days: u32,
    /// Backtests kept per user (BACKTESTS_KEPT_PER_USER).
    pub kept_per_user: u32,
    /// Bar-evaluations per user per UTC day (BACKTEST_WORK_PER_DAY).
    pub work_per_day: u64,
    /// The bar cache's bound, in bytes (BAR_CACHE_MAX_MB).
    pub bar_cache_max_bytes: u64,
}

impl Default for BacktestSettings {
    fn default() -> Self {
        BacktestSettings {
            workers: default_workers(),
            max_window_days: 3660,
            kept_per_user: 200,
            work_per_day: 200_000_000,
            bar_cache_max_bytes: 2048 * 1024 * 1024,
        }
    }
}

/// The cores minus one, at least one.
pub fn default_workers() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get().saturating_sub(1))
        .unwrap_or(1)
        .max(1)
}

/// The workers' handle: settings, and a bell rung when work is queued.
pub struct Backtests {
    pub settings: BacktestSettings,
    bell: Notify,
    /// A name unique to this process, written as `claimed_by`.
    worker_name: String,
    tasks: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
}

impl Backtests {
    pub fn new(settings: BacktestSettings) -> Self {
        Backtests {
            settings,
            bell: Notify::new(),
            worker_name: format!("{}:{}", std::process::id(), uuid::Uuid::new_v4().simple()),
            tasks: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Work was queued: an idle worker looks now.
    pub fn wake(&self) {
        self.bell.notify_waiters();
    }

    pub fn worker_name(&self) -> &str {
        &self.worker_name
    }

    pub fn bell(&self) -> &Notify {
        &self.bell
    }

    /// Keeps the workers' tasks, to stop them with [`Backtests::stop`].
    pub fn hold(&self, handles: Vec<tokio::task::AbortHandle>) {
        if let Ok(mut tasks) = self.tasks.lock() {
            tasks.extend(handles);
        }
    }

    /// Stops the workers (their units' leases run out and are claimed again).
    pub fn stop(&self) {
        if let Ok(mut tasks) = self.tasks.lock() {
            for t in tasks.drain(..) {
                t.abort();
            }
        }
    }
}
