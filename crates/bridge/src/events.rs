//! What the service changes, as it happens, for the live stream (`GET /api/v1/stream`): a
//! broadcast inside the process (relayed between replicas over Redis), and the count of each
//! user's open streams. Publishing never
//! waits: a change nobody listens to is dropped.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use tokio::sync::broadcast;
use uuid::Uuid;

/// Something of this user's was written or changed: a journal entry (sent, completed, settled)
/// or an algorithm run (started, finished).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub user_id: Uuid,
    pub kind: Kind,
    /// The entry's or the run's id.
    pub id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Journal,
    Run,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Journal => "journal",
            Kind::Run => "run",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "journal" => Some(Kind::Journal),
            "run" => Some(Kind::Run),
            _ => None,
        }
    }
}

/// How many changes the bus keeps for a listener that has not read them yet; one further behind
/// has missed some (the stream then closes it as a slow consumer).
const BUS_CAPACITY: usize = 4096;

pub struct Events {
    changes: broadcast::Sender<Change>,
    streams: Arc<Mutex<HashMap<Uuid, usize>>>,
    /// This process, to tell its own changes from other replicas' on the shared relay.
    origin: Uuid,
    /// Other replicas' streams hear this one's changes through it (Redis, with REDIS_URL).
    relay: std::sync::OnceLock<tokio::sync::mpsc::Sender<Change>>,
}

impl Default for Events {
    fn default() -> Self {
        let (changes, _) = broadcast::channel(BUS_CAPACITY);
        Events {
            changes,
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
        self.changed(Change {
            user_id,
            kind: Kind::Journal,
            id: entry_id,
        });
    }

    pub fn run_changed(&self, user_id: Uuid, run_id: Uuid) {
        self.changed(Change {
            user_id,
            kind: Kind::Run,
            id: run_id,
        });
    }

    fn changed(&self, change: Change) {
        self.deliver(change);
        if let Some(relay) = self.relay.get() {
            // Never waits: with the relay far behind, other replicas miss this change (their
            // clients re-read the journal when they reconnect).
            if relay.try_send(change).is_err() {
                tracing::warn!("change not relayed to other replicas: relay queue full");
            }
        }
    }

    /// A change to this process's streams only (one relayed from another replica).
    pub fn deliver(&self, change: Change) {
        // An error only says nobody listens.
        let _ = self.changes.send(change);
    }

    /// This process's id on the relay.
    pub fn origin(&self) -> Uuid {
        self.origin
    }

    /// Sends this process's changes to `relay` from now on (set once).
    pub fn relay_to(&self, relay: tokio::sync::mpsc::Sender<Change>) {
        let _ = self.relay.set(relay);
    }

    pub fn changes(&self) -> broadcast::Receiver<Change> {
        self.changes.subscribe()
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
        let (mut one, mut two) = (events.changes(), events.changes());
        let (user, entry, run) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        events.journal_changed(user, entry);
        events.run_changed(user, run);
        for rx in [&mut one, &mut two] {
            assert_eq!(
                rx.recv().await.unwrap(),
                Change {
                    user_id: user,
                    kind: Kind::Journal,
                    id: entry
                }
            );
            assert_eq!(rx.recv().await.unwrap().kind, Kind::Run);
        }
    }
}
