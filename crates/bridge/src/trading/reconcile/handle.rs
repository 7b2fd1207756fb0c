//! The reconciler's handle, kept in the application state: the order path wakes it, shutdown stops
//! it. The work it wakes is in the parent module.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::sync::Notify;
use uuid::Uuid;

/// The reconciler's handle in the application state: wakes it, stops it.
pub struct Reconciler {
    pub(super) notify: Notify,
    grace: Duration,
    pub(super) task: Mutex<Option<tokio::task::AbortHandle>>,
    /// Entries found but undecided past their grace period, and when to look at them next.
    undecided: Mutex<HashMap<Uuid, std::time::Instant>>,
}

impl Reconciler {
    pub fn new(grace: Duration) -> Self {
        Reconciler {
            notify: Notify::new(),
            grace,
            task: Mutex::new(None),
            undecided: Mutex::new(HashMap::new()),
        }
    }

    /// Asks for a pass now (an entry just became unknown, or a write failed).
    pub fn wake(&self) {
        self.notify.notify_one();
    }

    /// Stops the background task (at shutdown; tests that simulate a crash).
    pub fn stop(&self) {
        if let Some(t) = self.task.lock().ok().and_then(|mut t| t.take()) {
            t.abort();
        }
    }

    pub fn grace(&self) -> Duration {
        self.grace
    }

    pub(super) fn undecided(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, std::time::Instant>> {
        self.undecided.lock().unwrap_or_else(|p| p.into_inner())
    }
}
