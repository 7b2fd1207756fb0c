//! The bot scheduler's handle in the application state: its settings, the bell rung when a bot is
//! created or resumed, and its task. Its own module, so the state does not depend on the scheduler.

use std::time::Duration;
use tokio::sync::Notify;

/// BOTS_PER_USER, BOTS_PER_ACCOUNT, BOT_RUNS_KEPT_DAYS.
#[derive(Debug, Clone, Copy)]
pub struct BotSettings {
    pub per_user: u32,
    pub per_account: u32,
    pub runs_kept: Duration,
}

impl Default for BotSettings {
    fn default() -> Self {
        BotSettings {
            per_user: 50,
            per_account: 20,
            runs_kept: Duration::from_secs(30 * 86_400),
        }
    }
}

pub struct Bots {
    pub settings: BotSettings,
    bell: Notify,
    /// This replica, as `bot_passes.replica` and `bot_waves.replica` name it.
    replica: String,
    tasks: std::sync::Mutex<Vec<tokio::task::AbortHandle>>,
    /// The latest closed bars per (trade server, symbol, timeframe), shared by the waves.
    pub latest: crate::bars::latest::Latest,
}

impl Bots {
    pub fn new(settings: BotSettings, process_run_id: &str) -> Self {
        Bots {
            settings,
            bell: Notify::new(),
            replica: process_run_id.to_string(),
            tasks: std::sync::Mutex::new(Vec::new()),
            latest: crate::bars::latest::Latest::default(),
        }
    }

    pub fn replica(&self) -> &str {
        &self.replica
    }

    /// Wakes the scheduler (a bot was created or resumed).
    pub fn ring(&self) {
        self.bell.notify_one();
    }

    pub async fn rung(&self) {
        self.bell.notified().await;
    }

    pub fn track(&self, task: tokio::task::AbortHandle) {
        self.tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(task);
    }

    /// Stops the scheduler (at shutdown).
    pub fn stop(&self) {
        for t in self
            .tasks
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .drain(..)
        {
            t.abort();
        }
    }
}
