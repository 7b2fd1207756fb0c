//! What the service changes, as it happens, for the live stream (`GET /api/v1/stream`): a
//! broadcast inside the process, and the count of each user's open streams. Publishing never
//! waits: a change nobody listens to is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use uuid::Uuid;

/// A journal entry of this user's was written or changed (sent, completed, settled).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JournalChange {
    pub user_id: Uuid,
    pub entry_id: Uuid,
}

/// How many changes the bus keeps for a listener that has not read them yet; one further behind
/// has missed some (the stream then closes it as a slow consumer).
const BUS_CAPACITY: usize = 4096;

pub struct Events {
    journal: broadcast::Sender<JournalChange>,
    streams: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// This process, to tell its own changes from other replicas' on the shared relay.
    origin: Uuid,
    /// Other replicas' streams hear this one's changes through it (Redis, with REDIS_URL).
    relay: std::sync::OnceLock<tokio::sync::mpsc::Sender<JournalChange>>,
}

impl Default for Events {
    fn default() -> Self {
        let (journal, _) = broadcast::channel(BUS_CAPACITY);
        Events {
            journal,
            streams: Arc::new(Mutex::new(HashMap::new())),
            origin: Uuid::new_v4(),
            relay: std::sync::OnceLock::new(),
        }
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    pub fn journal_changed(&self, user_id: Uuid, entry_id: Uuid) {
        let change = JournalChange { user_id, entry_id };
        self.deliver(change);
        if let Some(relay) = self.relay.get() {
            // Never waits: with the relay far behind, other replicas miss this change (their
            // clients re-read the journal when they reconnect).
            if relay.try_send(change).is_err() {
                tracing::warn!("journal change not relayed to other replicas: relay queue full");
            }
        }
    }

    /// A change to this process's streams only (one relayed from another replica).
    pub fn deliver(&self, change: JournalChange) {
        // An error only says nobody listens.
        let _ = self.journal.send(change);
    }

    /// This process's id on the relay.
    pub fn origin(&self) -> Uuid {
        self.origin
    }

    /// Sends this process's changes to `relay` from now on (set once).
    pub fn relay_to(&self, relay: tokio::sync::mpsc::Sender<JournalChange>) {
        let _ = self.relay.set(relay);
    }

    pub fn journal(&self) -> broadcast::Receiver<JournalChange> {
        self.journal.subscribe()
    }

    /// One more open stream of `user`, unless they have `max` already; the slot is given back
    /// when dropped.
    pub fn open_stream(&self, user: Uuid, max: usize) -> Option<StreamSlot> {
        let mut open = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        let n = open.entry(user).or_insert(0);
        if *n >= max {
            return None;
        }
        *n += 1;
        Some(StreamSlot {
            user,
            streams: self.streams.clone(),
        })
    }

    /// Open streams, all users together.
    pub fn open_streams(&self) -> usize {
        let open = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        open.values().sum()
    }
}

/// An open stream of a user's, counted against `STREAM_MAX_CONNECTIONS_PER_USER`.
#[derive(Debug)]
pub struct StreamSlot {
    user: Uuid,
    streams: Arc<Mutex<HashMap<Uuid, usize>>>,
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut open = self.streams.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = open.get_mut(&self.user) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                open.remove(&self.user);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn streams_are_counted_per_user_and_given_back() {
        let events = Events::default();
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let first = events.open_stream(a, 2).unwrap();
        let second = events.open_stream(a, 2).unwrap();
        assert!(events.open_stream(a, 2).is_none(), "a third of a's");
        let other = events.open_stream(b, 2).unwrap();
        assert_eq!(events.open_streams(), 3);
        drop(first);
        assert!(events.open_stream(a, 2).is_some(), "a slot given back");
        drop((second, other));
        assert_eq!(events.open_streams(), 0);
    }

    #[tokio::test]
    async fn changes_reach_every_listener() {
        let events = Events::default();
        let (mut one, mut two) = (events.journal(), events.journal());
        let (user, entry) = (Uuid::new_v4(), Uuid::new_v4());
        events.journal_changed(user, entry);
        let want = JournalChange {
            user_id: user,
            entry_id: entry,
        };
        assert_eq!(one.recv().await.unwrap(), want);
        assert_eq!(two.recv().await.unwrap(), want);
    }
}
