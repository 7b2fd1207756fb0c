//! The live stream's `ticks` channel at its source: one reader per trade server, shared by every
//! subscriber of every connection, so a thousand watchers of EURUSD cost one read per 250 ms.
//!
//! A reader reads only from a terminal already logged in to some account of that server and idle
//! at that moment ([`TerminalPool::run_on_server_if_idle`]): it never queues, never logs a
//! terminal in and never delays a request by more than one read. Quotes are the server's, the
//! same for every account on it, so whose session the terminal holds does not matter.
//!
//! What one user asks for cannot take quotes from another:
//! - names are checked against the server's symbol list (read from an idle terminal there, kept an
//!   hour) before any read: an unknown name costs no terminal call;
//! - a user watches at most `STREAM_MAX_SYMBOLS_PER_USER` distinct symbols across their streams;
//! - who watches is read again before each chunk of reads, so a closed subscription costs at most
//!   one more chunk;
//! - a round spends at most [`ROUND_BUDGET`] of terminal time, taking symbols in turn by user
//!   (round-robin over the users watching, then over each user's symbols).

use crate::pool::{Peeked, TerminalPool};
use serde_json::{Map, Value};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::watch;
use uuid::Uuid;

/// How often a server's subscribed symbols are read: no symbol's ticks are sent more often.
pub const TICK_EVERY: Duration = Duration::from_millis(250);

/// Terminal time one round of a server's reads may take, at most.
pub const ROUND_BUDGET: Duration = Duration::from_millis(250);

/// How long a server's symbol list is trusted before it is read again.
pub const SYMBOL_LIST_TTL: Duration = Duration::from_secs(3600);

/// The fields of `GET /api/v1/symbols/{symbol}/tick` a tick event carries.
pub const TICK_FIELDS: &[&str] = &["bid", "ask", "last", "time", "time_msc"];

/// What a symbol's feed shows now.
#[derive(Debug, Clone, PartialEq)]
pub enum Feed {
    /// Nothing read yet.
    Starting,
    /// No terminal is logged in to an account on the server.
    WaitingForTerminal,
    /// The last tick: `{"symbol","bid","ask","last","time","time_msc"}`.
    Tick(Value),
    /// The server has no such symbol.
    NotFound,
}

/// A user watches as many distinct symbols as they may.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooManySymbols {
    pub limit: usize,
}

/// One watcher's hold on a symbol's feed; the symbol is read while any hold on it lives.
pub struct TickWatch {
    pub feed: watch::Receiver<Feed>,
    /// None for a name the server's list lacks (never read, not counted).
    held: Option<(Arc<TickHub>, Uuid, String, String)>,
}

impl std::fmt::Debug for TickWatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TickWatch").finish_non_exhaustive()
    }
}

impl Drop for TickWatch {
    fn drop(&mut self) {
        if let Some((hub, user, server, symbol)) = self.held.take() {
            hub.unwatch(user, &server, &symbol);
        }
    }
}

/// The symbols watched on each server, by whom, and each server's symbol list.
pub struct TickHub {
    pool: Arc<TerminalPool>,
    state: Mutex<HubState>,
    every: Duration,
}

#[derive(Default)]
struct HubState {
    servers: HashMap<String, ServerFeeds>,
    /// Each user's holds, by (server, symbol): distinct ones count against the user's cap.
    users: HashMap<Uuid, HashMap<(String, String), usize>>,
    /// Each server's symbol names and when they were read.
    lists: HashMap<String, (Arc<HashSet<String>>, Instant)>,
}

#[derive(Default)]
struct ServerFeeds {
    feeds: HashMap<String, watch::Sender<Feed>>,
    /// Who watches what here, each user's symbols in the order they were first watched.
    watchers: BTreeMap<Uuid, Vec<String>>,
}

impl TickHub {
    pub fn new(pool: Arc<TerminalPool>) -> Self {
        TickHub {
            pool,
            state: Mutex::new(HubState::default()),
            every: TICK_EVERY,
        }
    }

    /// `user`'s hold on the feed of `symbol` on `server`, starting that server's reader if none
    /// runs. A name the server's list (when known) lacks gets a feed that says so at once, read
    /// never. Refused when the user would watch more than `max_per_user` distinct symbols.
    pub fn watch(
        self: &Arc<Self>,
        user: Uuid,
        server: &str,
        symbol: &str,
        max_per_user: usize,
    ) -> Result<TickWatch, TooManySymbols> {
        let mut st = self.lock();
        if let Some((names, _)) = st.lists.get(server) {
            if !names.contains(symbol) {
                let (_, feed) = watch::channel(Feed::NotFound);
                return Ok(TickWatch { feed, held: None });
            }
        }
        let key = (server.to_string(), symbol.to_string());
        let holds = st.users.entry(user).or_default();
        if !holds.contains_key(&key) && holds.len() >= max_per_user {
            if holds.is_empty() {
                st.users.remove(&user);
            }
            return Err(TooManySymbols {
                limit: max_per_user,
            });
        }
        *holds.entry(key).or_insert(0) += 1;
        let start = !st.servers.contains_key(server);
        let feeds = st.servers.entry(server.to_string()).or_default();
        let mine = feeds.watchers.entry(user).or_default();
        if !mine.iter().any(|s| s == symbol) {
            mine.push(symbol.to_string());
        }
        let feed = feeds
            .feeds
            .entry(symbol.to_string())
            .or_insert_with(|| watch::channel(Feed::Starting).0)
            .subscribe();
        drop(st);
        if start {
            tokio::spawn(read_server(self.clone(), server.to_string()));
        }
        Ok(TickWatch {
            feed,
            held: Some((self.clone(), user, server.to_string(), symbol.to_string())),
        })
    }

    fn unwatch(&self, user: Uuid, server: &str, symbol: &str) {
        let mut st = self.lock();
        let key = (server.to_string(), symbol.to_string());
        let Some(holds) = st.users.get_mut(&user) else {
            return;
        };
        let last = match holds.get_mut(&key) {
            Some(n) if *n > 1 => {
                *n -= 1;
                false
            }
            Some(_) => {
                holds.remove(&key);
                true
            }
            None => false,
        };
        if holds.is_empty() {
            st.users.remove(&user);
        }
        if !last {
            return;
        }
        if let Some(feeds) = st.servers.get_mut(server) {
            if let Some(mine) = feeds.watchers.get_mut(&user) {
                mine.retain(|s| s != symbol);
                if mine.is_empty() {
                    feeds.watchers.remove(&user);
                }
            }
            if !feeds
                .watchers
                .values()
                .any(|m| m.iter().any(|s| s == symbol))
            {
                feeds.feeds.remove(symbol);
            }
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HubState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The server's symbol list, when known and fresh.
    fn list(&self, server: &str) -> Option<Arc<HashSet<String>>> {
        let st = self.lock();
        let (names, at) = st.lists.get(server)?;
        (at.elapsed() < SYMBOL_LIST_TTL).then(|| names.clone())
    }

    /// Keeps the server's list and tells the watchers of names it lacks (who are then no longer
    /// read).
    fn set_list(&self, server: &str, names: HashSet<String>) {
        let names = Arc::new(names);
        let mut st = self.lock();
        st.lists
            .insert(server.to_string(), (names.clone(), Instant::now()));
        if let Some(feeds) = st.servers.get(server) {
            for (symbol, tx) in &feeds.feeds {
                if !names.contains(symbol) {
                    set_feed(tx, Feed::NotFound);
                }
            }
        }
    }

    /// Sets the feed of every symbol watched on `server`.
    fn publish_all(&self, server: &str, feed: Feed) {
        let st = self.lock();
        if let Some(feeds) = st.servers.get(server) {
            for tx in feeds.feeds.values() {
                set_feed(tx, feed.clone());
            }
        }
    }

    /// Sets each symbol's feed (under one lock); watchers hear only a change.
    fn publish(&self, server: &str, feeds: impl IntoIterator<Item = (String, Feed)>) {
        let st = self.lock();
        let Some(symbols) = st.servers.get(server) else {
            return;
        };
        for (symbol, feed) in feeds {
            if let Some(tx) = symbols.feeds.get(&symbol) {
                set_feed(tx, feed);
            }
        }
    }

    /// The next chunk of this round's reads on `server`, from who watches now: users in turn,
    /// each user's symbols in turn, a symbol once per round and only if the server lists it.
    /// None (and the server forgotten, ending its reader) when nobody watches there. Under the
    /// same lock as [`TickHub::watch`], so a watcher arriving now either finds this reader or
    /// starts the next.
    fn next_chunk(&self, server: &str, round: &mut Round) -> Option<Vec<String>> {
        let mut st = self.lock();
        let HubState { servers, lists, .. } = &mut *st;
        let feeds = servers.get(server)?;
        if feeds.watchers.is_empty() {
            servers.remove(server);
            return None;
        }
        let listed = lists.get(server).map(|(names, _)| names.clone());
        let users: Vec<(&Uuid, &Vec<String>)> = feeds.watchers.iter().collect();
        let mut chunk: Vec<String> = Vec::with_capacity(SYMBOLS_PER_READ);
        let mut fruitless = 0;
        while chunk.len() < SYMBOLS_PER_READ && fruitless < users.len() {
            let (user, symbols) = users[round.turn % users.len()];
            round.turn = round.turn.wrapping_add(1);
            let cursor = round.cursors.entry(*user).or_insert(0);
            let mut found = None;
            for k in 0..symbols.len() {
                let i = (*cursor + k) % symbols.len();
                let s = &symbols[i];
                let wanted = listed.as_ref().is_none_or(|l| l.contains(s))
                    && !round.read.contains(s)
                    && !chunk.contains(s);
                if wanted {
                    found = Some(s.clone());
                    *cursor = i + 1;
                    break;
                }
            }
            match found {
                Some(s) => {
                    fruitless = 0;
                    chunk.push(s);
                }
                None => fruitless += 1,
            }
        }
        round.read.extend(chunk.iter().cloned());
        Some(chunk)
    }
}

/// Sets a feed; its watchers hear only a change.
fn set_feed(tx: &watch::Sender<Feed>, feed: Feed) {
    tx.send_if_modified(|now| {
        let changed = *now != feed;
        if changed {
            *now = feed;
        }
        changed
    });
}

/// Where the reader of one server is in its rotation: whose turn it is and each user's next
/// symbol (kept across rounds), and what this round has read.
#[derive(Default)]
struct Round {
    turn: usize,
    cursors: HashMap<Uuid, usize>,
    read: HashSet<String>,
}

/// One symbol's read: its tick as the API shows it, or None when the server has no such symbol.
type Read = Option<Value>;

/// Symbols read in one hold of a terminal: a request that comes meanwhile waits for at most this
/// many reads, however many symbols are watched.
const SYMBOLS_PER_READ: usize = 8;

async fn read_server(hub: Arc<TickHub>, server: String) {
    let mut every = tokio::time::interval(hub.every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut round = Round::default();
    loop {
        every.tick().await;
        if hub.list(&server).is_none() {
            match read_list(&hub.pool, &server).await {
                Peeked::Ran(Ok(names)) => hub.set_list(&server, names),
                Peeked::Ran(Err(e)) => {
                    tracing::debug!(error = %e, server = %server, "ticks: symbol list not read");
                }
                Peeked::Busy => {}
                Peeked::NoTerminal => hub.publish_all(&server, Feed::WaitingForTerminal),
            }
            // Nobody watches any more: the reader ends (and a new watcher starts the next).
            if hub.next_chunk(&server, &mut Round::default()).is_none() {
                return;
            }
            continue;
        }
        round.read.clear();
        let started = Instant::now();
        loop {
            let Some(chunk) = hub.next_chunk(&server, &mut round) else {
                return;
            };
            if chunk.is_empty() {
                break;
            }
            match read_chunk(&hub.pool, &server, &chunk).await {
                Peeked::Ran(Ok(reads)) => {
                    let feeds = chunk.iter().zip(reads).map(|(symbol, read)| {
                        let feed = read.map_or(Feed::NotFound, Feed::Tick);
                        (symbol.clone(), feed)
                    });
                    hub.publish(&server, feeds);
                }
                // The next round tries again; what subscribers saw last stands.
                Peeked::Ran(Err(e)) => {
                    tracing::debug!(error = %e, server = %server, "ticks: read failed");
                    break;
                }
                Peeked::Busy => break,
                Peeked::NoTerminal => {
                    hub.publish_all(&server, Feed::WaitingForTerminal);
                    break;
                }
            }
            if started.elapsed() >= ROUND_BUDGET {
                break;
            }
        }
    }
}

/// The server's symbol names, read from an idle terminal there.
async fn read_list(pool: &TerminalPool, server: &str) -> Peeked<HashSet<String>> {
    pool.run_on_server_if_idle(server, move |t, at| {
        Box::pin(async move {
            let list = t.symbols(&at, None).await?;
            Ok(list.into_iter().map(|s| s.name).collect())
        })
    })
    .await
}

/// Reads `symbols` in one hold of an idle terminal on `server`.
async fn read_chunk(pool: &TerminalPool, server: &str, symbols: &[String]) -> Peeked<Vec<Read>> {
    let names = symbols.to_vec();
    pool.run_on_server_if_idle(server, move |t, at| {
        Box::pin(async move {
            let offset = t.server_time_offset_s(&at).await?;
            let mut reads: Vec<Read> = Vec::with_capacity(names.len());
            for name in &names {
                match t.symbol_info_tick(&at, name).await {
                    Ok(tick) => reads.push(Some(tick_view(name, tick, offset))),
                    // Read as the tick route maps it: `symbol_not_found`.
                    Err(e) if e.is_not_found() => reads.push(None),
                    Err(e) => return Err(e),
                }
            }
            Ok(reads)
        })
    })
    .await
}

/// `{"symbol","bid","ask","last","time","time_msc"}`, the times as `GET
/// /api/v1/symbols/{symbol}/tick` gives them.
fn tick_view(symbol: &str, tick: mt5::Tick, offset_s: i64) -> Value {
    let full = serde_json::to_value(crate::times::Utc(tick, offset_s)).unwrap_or(Value::Null);
    let mut m = Map::new();
    m.insert("symbol".into(), Value::String(symbol.to_string()));
    for field in TICK_FIELDS {
        m.insert(
            (*field).into(),
            full.get(*field).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tick_shows_the_route_s_fields_and_times() {
        let tick = mt5::Tick {
            time: 1_700_000_000 + 7200,
            bid: 1.1,
            ask: 1.2,
            last: 0.0,
            volume: 3,
            time_msc: (1_700_000_000 + 7200) * 1000 + 250,
            flags: 6,
            volume_real: 3.0,
        };
        let v = tick_view("EURUSD", tick, 7200);
        let obj = v.as_object().unwrap();
        let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(keys, ["ask", "bid", "last", "symbol", "time", "time_msc"]);
        assert_eq!(v["symbol"], "EURUSD");
        // The server's clock (UTC+2) is taken off, as the tick route does.
        let route = serde_json::to_value(crate::times::Utc(tick, 7200)).unwrap();
        assert_eq!(v["time"], route["time"]);
        assert_eq!(v["time_msc"], route["time_msc"]);
        assert_eq!(v["time"], "2023-11-14T22:13:20Z");
    }
}
