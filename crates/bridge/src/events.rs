//! What the service changes, as it happens, for the live stream (`GET /api/v1/stream`): a channel
//! per streaming user inside the process (relayed between replicas over Redis), the count of each
//! user's open streams, and the cap on streams not yet signed in. Publishing never waits: a change
//! nobody listens to is dropped.
//!
//! Changes are delivered per user: a stream reads only its own user's changes, from a channel of
//! `STREAM_USER_BUFFER` changes, so one user's burst can neither wake nor push out another user's
//! stream. The relay to other replicas takes each user's changes in turn for the same reason.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use tokio::sync::{broadcast, Notify, OwnedSemaphorePermit, Semaphore};
use uuid::Uuid;

/// Something of this user's was written or changed: a journal entry (sent, completed, settled),
/// an algorithm run (started, finished), or one of their accounts (deleted, or its credential
/// replaced).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Change {
    pub user_id: Uuid,
    pub kind: Kind,
    /// The entry's, the run's or the account's id.
    pub id: Uuid,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Journal,
    Run,
    /// A backtest was queued, progressed (at most once a second), finished or was canceled.
    Backtest,
    /// A bot's state or counters changed.
    Bot,
    /// The account was deleted: its subscriptions end.
    AccountDeleted,
    /// The account's row changed where a subscription depends on it (a new password): its
    /// subscriptions read the row again.
    AccountChanged,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Journal => "journal",
            Kind::Run => "run",
            Kind::Backtest => "backtest",
            Kind::Bot => "bot",
            Kind::AccountDeleted => "account_deleted",
            Kind::AccountChanged => "account_changed",
        }
    }

    pub fn parse(s: &str) -> Option<Kind> {
        match s {
            "journal" => Some(Kind::Journal),
            "run" => Some(Kind::Run),
            "backtest" => Some(Kind::Backtest),
            "bot" => Some(Kind::Bot),
            "account_deleted" => Some(Kind::AccountDeleted),
            "account_changed" => Some(Kind::AccountChanged),
            _ => None,
        }
    }
}

/// One streaming user's channel and open streams.
struct UserBus {
    changes: broadcast::Sender<Change>,
    streams: usize,
}

type Users = Arc<Mutex<HashMap<Uuid, UserBus>>>;

pub struct Events {
    users: Users,
    /// STREAM_USER_BUFFER: changes kept for a user's streams that have not read them yet.
    user_buffer: usize,
    /// This process, to tell its own changes from other replicas' on the shared relay.
    origin: Uuid,
    /// Other replicas' streams hear this one's changes through it (Redis, with REDIS_URL).
    relay: std::sync::OnceLock<Arc<FairQueue>>,
    /// STREAM_MAX_PENDING: streams upgraded and not yet signed in.
    pending: Arc<Semaphore>,
}

impl Default for Events {
    fn default() -> Self {
        Events::new(1024, 256)
    }
}

impl std::fmt::Debug for Events {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Events").finish_non_exhaustive()
    }
}

impl Events {
    pub fn new(user_buffer: usize, max_pending: usize) -> Self {
        Events {
            users: Arc::new(Mutex::new(HashMap::new())),
            user_buffer: user_buffer.max(1),
            origin: Uuid::new_v4(),
            relay: std::sync::OnceLock::new(),
            pending: Arc::new(Semaphore::new(max_pending)),
        }
    }

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

    pub fn backtest_changed(&self, user_id: Uuid, backtest_id: Uuid) {
        self.changed(Change {
            user_id,
            kind: Kind::Backtest,
            id: backtest_id,
        });
    }

    pub fn bot_changed(&self, user_id: Uuid, bot_id: Uuid) {
        self.changed(Change {
            user_id,
            kind: Kind::Bot,
            id: bot_id,
        });
    }

    /// The account is deleted: every subscription on it ends, on every replica.
    pub fn account_deleted(&self, user_id: Uuid, account_id: Uuid) {
        self.changed(Change {
            user_id,
            kind: Kind::AccountDeleted,
            id: account_id,
        });
    }

    /// The account's credential changed: subscriptions on it read the row again.
    pub fn account_changed(&self, user_id: Uuid, account_id: Uuid) {
        self.changed(Change {
            user_id,
            kind: Kind::AccountChanged,
            id: account_id,
        });
    }

    fn changed(&self, change: Change) {
        self.deliver(change);
        if let Some(relay) = self.relay.get() {
            relay.push(change);
        }
    }

    /// A change to this process's streams only (one relayed from another replica): to its user's
    /// streams, if any is open here.
    pub fn deliver(&self, change: Change) {
        let users = lock(&self.users);
        if let Some(bus) = users.get(&change.user_id) {
            // An error only says nobody listens.
            let _ = bus.changes.send(change);
        }
    }

    /// Changes of the user's that a stream of theirs on this replica has not read yet (the
    /// slowest stream's lag; 0 without a stream).
    pub fn backlog(&self, user_id: Uuid) -> usize {
        lock(&self.users)
            .get(&user_id)
            .map_or(0, |bus| bus.changes.len())
    }

    /// STREAM_USER_BUFFER.
    pub fn user_buffer(&self) -> usize {
        self.user_buffer
    }

    /// This process's id on the relay.
    pub fn origin(&self) -> Uuid {
        self.origin
    }

    /// Sends this process's changes to other replicas through `queue` from now on (set once).
    pub fn relay_to(&self, queue: Arc<FairQueue>) {
        let _ = self.relay.set(queue);
    }

    /// A place for one stream waiting for its sign-in message; None when STREAM_MAX_PENDING are.
    pub fn pending_stream(&self) -> Option<OwnedSemaphorePermit> {
        self.pending.clone().try_acquire_owned().ok()
    }

    /// One more open stream of `user`, unless they have `max` already in this process; the slot
    /// is given back when dropped.
    pub fn open_stream(&self, user: Uuid, max: usize) -> Option<StreamSlot> {
        let mut users = lock(&self.users);
        let bus = users.entry(user).or_insert_with(|| UserBus {
            changes: broadcast::channel(self.user_buffer).0,
            streams: 0,
        });
        if bus.streams >= max {
            if bus.streams == 0 {
                users.remove(&user);
            }
            return None;
        }
        bus.streams += 1;
        Some(StreamSlot {
            user,
            users: self.users.clone(),
        })
    }

    /// Open streams, all users together.
    pub fn open_streams(&self) -> usize {
        lock(&self.users).values().map(|b| b.streams).sum()
    }
}

fn lock(users: &Users) -> std::sync::MutexGuard<'_, HashMap<Uuid, UserBus>> {
    users.lock().unwrap_or_else(|p| p.into_inner())
}

/// An open stream of a user's, counted against `STREAM_MAX_CONNECTIONS_PER_USER` in this
/// process; it reads its user's changes.
pub struct StreamSlot {
    user: Uuid,
    users: Users,
}

impl std::fmt::Debug for StreamSlot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StreamSlot")
            .field("user", &self.user)
            .finish()
    }
}

impl StreamSlot {
    /// The user's changes from now on.
    pub fn changes(&self) -> broadcast::Receiver<Change> {
        match lock(&self.users).get(&self.user) {
            Some(bus) => bus.changes.subscribe(),
            // Unreachable while the slot lives; a closed channel ends the stream cleanly.
            None => broadcast::channel(1).1,
        }
    }
}

impl Drop for StreamSlot {
    fn drop(&mut self) {
        let mut users = lock(&self.users);
        if let Some(bus) = users.get_mut(&self.user) {
            bus.streams = bus.streams.saturating_sub(1);
            if bus.streams == 0 {
                users.remove(&self.user);
            }
        }
    }
}

/// The relay's queue to other replicas: each user's changes wait in their own line (at most
/// `per_user` of them; a user further behind loses their own oldest), and lines are served in
/// turn, so one user's burst cannot push another user's changes out or make them wait behind it.
pub struct FairQueue {
    lines: Mutex<Lines>,
    ready: Notify,
    per_user: usize,
}

#[derive(Default)]
struct Lines {
    waiting: HashMap<Uuid, VecDeque<Change>>,
    /// Users with changes waiting, in turn.
    turn: VecDeque<Uuid>,
}

impl FairQueue {
    pub fn new(per_user: usize) -> Self {
        FairQueue {
            lines: Mutex::new(Lines::default()),
            ready: Notify::new(),
            per_user: per_user.max(1),
        }
    }

    /// Queues a change; never waits.
    pub fn push(&self, change: Change) {
        {
            let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
            let Lines { waiting, turn } = &mut *lines;
            let line = waiting.entry(change.user_id).or_insert_with(|| {
                turn.push_back(change.user_id);
                VecDeque::new()
            });
            if line.len() >= self.per_user {
                line.pop_front();
                tracing::warn!(
                    "a change not relayed to other replicas: its user's relay line is full"
                );
            }
            line.push_back(change);
        }
        self.ready.notify_one();
    }

    /// Up to `max` changes, one per user in turn; waits while none are queued.
    pub async fn take(&self, max: usize) -> Vec<Change> {
        loop {
            let batch = self.take_now(max);
            if !batch.is_empty() {
                return batch;
            }
            self.ready.notified().await;
        }
    }

    fn take_now(&self, max: usize) -> Vec<Change> {
        let mut lines = self.lines.lock().unwrap_or_else(|p| p.into_inner());
        let Lines { waiting, turn } = &mut *lines;
        let mut batch = Vec::new();
        while batch.len() < max {
            let Some(user) = turn.pop_front() else { break };
            let Some(line) = waiting.get_mut(&user) else {
                continue;
            };
            if let Some(c) = line.pop_front() {
                batch.push(c);
            }
            if line.is_empty() {
                waiting.remove(&user);
            } else {
                turn.push_back(user);
            }
        }
        batch
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
    async fn a_stream_hears_only_its_user_s_changes() {
        let events = Events::default();
        let (me, other) = (Uuid::new_v4(), Uuid::new_v4());
        let (slot_a, slot_b) = (
            events.open_stream(me, 5).unwrap(),
            events.open_stream(me, 5).unwrap(),
        );
        let (mut one, mut two) = (slot_a.changes(), slot_b.changes());
        let (entry, run) = (Uuid::new_v4(), Uuid::new_v4());
        events.journal_changed(other, Uuid::new_v4());
        events.journal_changed(me, entry);
        events.run_changed(me, run);
        for rx in [&mut one, &mut two] {
            assert_eq!(
                rx.recv().await.unwrap(),
                Change {
                    user_id: me,
                    kind: Kind::Journal,
                    id: entry
                }
            );
            assert_eq!(rx.recv().await.unwrap().kind, Kind::Run);
            assert!(rx.try_recv().is_err(), "nothing of the other user's");
        }
    }

    #[test]
    fn another_user_s_flood_pushes_out_none_of_a_user_s_changes() {
        let events = Events::new(16, 1);
        let (me, flooder) = (Uuid::new_v4(), Uuid::new_v4());
        let slot = events.open_stream(me, 1).unwrap();
        let mut mine = slot.changes();
        let _theirs = events.open_stream(flooder, 1).unwrap();
        let id = Uuid::new_v4();
        events.journal_changed(me, id);
        for _ in 0..1000 {
            events.journal_changed(flooder, Uuid::new_v4());
        }
        assert_eq!(mine.try_recv().map(|c| c.id), Ok(id));
    }

    #[test]
    fn the_relay_serves_users_in_turn_and_bounds_each_line() {
        let q = FairQueue::new(100);
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        let change = |user_id| Change {
            user_id,
            kind: Kind::Journal,
            id: Uuid::new_v4(),
        };
        for _ in 0..5000 {
            q.push(change(a));
        }
        let bs: Vec<Change> = (0..3).map(|_| change(b)).collect();
        for c in &bs {
            q.push(*c);
        }
        let first = q.take_now(4);
        assert_eq!(
            first.iter().filter(|c| c.user_id == b).count(),
            2,
            "b's changes take turns with a's: {first:?}"
        );
        let rest: Vec<Change> = std::iter::from_fn(|| Some(q.take_now(256)))
            .take_while(|b| !b.is_empty())
            .flatten()
            .collect();
        assert_eq!(rest.iter().filter(|c| c.user_id == b).count(), 1);
        assert_eq!(
            rest.iter().filter(|c| c.user_id == a).count() + 2,
            100,
            "a's line kept its newest 100"
        );
    }

    #[test]
    fn the_pending_cap_gives_places_back() {
        let events = Events::new(16, 2);
        let one = events.pending_stream().unwrap();
        let _two = events.pending_stream().unwrap();
        assert!(events.pending_stream().is_none());
        drop(one);
        assert!(events.pending_stream().is_some());
    }
}
