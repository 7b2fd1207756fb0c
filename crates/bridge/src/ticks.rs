//! The live stream's `ticks` channel at its source: one reader per trade server, shared by every
//! subscriber of every connection, so a thousand watchers of EURUSD cost one read per 250 ms.
//!
//! A reader reads only from a terminal already logged in to some account of that server and idle
//! at that moment ([`TerminalPool::run_on_server_if_idle`]): it never queues, never logs a
//! terminal in and never delays a request by more than one read. Quotes are the server's, the
//! same for every account on it, so whose session the terminal holds does not matter.

use crate::pool::{Peeked, TerminalPool};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::watch;

/// How often a server's subscribed symbols are read: no symbol's ticks are sent more often.
pub const TICK_EVERY: Duration = Duration::from_millis(250);

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

/// The symbols watched on each server.
pub struct TickHub {
    pool: Arc<TerminalPool>,
    servers: Mutex<HashMap<String, HashMap<String, watch::Sender<Feed>>>>,
    every: Duration,
}

impl TickHub {
    pub fn new(pool: Arc<TerminalPool>) -> Self {
        TickHub {
            pool,
            servers: Mutex::new(HashMap::new()),
            every: TICK_EVERY,
        }
    }

    /// The feed of `symbol` on `server`, starting that server's reader if none runs. The feed is
    /// read while any receiver of it lives.
    pub fn watch(self: &Arc<Self>, server: &str, symbol: &str) -> watch::Receiver<Feed> {
        let mut servers = self.lock();
        let start = !servers.contains_key(server);
        let symbols = servers.entry(server.to_string()).or_default();
        let rx = match symbols.get(symbol) {
            Some(tx) => tx.subscribe(),
            None => {
                let (tx, rx) = watch::channel(Feed::Starting);
                symbols.insert(symbol.to_string(), tx);
                rx
            }
        };
        if start {
            tokio::spawn(read_server(self.clone(), server.to_string()));
        }
        rx
    }

    fn lock(
        &self,
    ) -> std::sync::MutexGuard<'_, HashMap<String, HashMap<String, watch::Sender<Feed>>>> {
        self.servers.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The symbols of `server` someone still watches; None (and the server forgotten) when
    /// nobody does, which ends its reader. Under the same lock as [`TickHub::watch`], so a
    /// watcher arriving now either finds this reader or starts the next.
    fn watched(&self, server: &str) -> Option<Vec<String>> {
        let mut servers = self.lock();
        let symbols = servers.get_mut(server)?;
        symbols.retain(|_, tx| tx.receiver_count() > 0);
        if symbols.is_empty() {
            servers.remove(server);
            return None;
        }
        let mut names: Vec<String> = symbols.keys().cloned().collect();
        names.sort();
        Some(names)
    }

    /// Sets each symbol's feed (under one lock); watchers hear only a change.
    fn publish(&self, server: &str, feeds: impl IntoIterator<Item = (String, Feed)>) {
        let servers = self.lock();
        let Some(symbols) = servers.get(server) else {
            return;
        };
        for (symbol, feed) in feeds {
            if let Some(tx) = symbols.get(&symbol) {
                tx.send_if_modified(|now| {
                    let changed = *now != feed;
                    if changed {
                        *now = feed;
                    }
                    changed
                });
            }
        }
    }
}

/// One symbol's read: its tick as the API shows it, or None when the server has no such symbol.
type Read = Option<Value>;

/// Symbols read in one hold of a terminal: a request that comes meanwhile waits for at most this
/// many reads, however many symbols are watched.
const SYMBOLS_PER_READ: usize = 8;

async fn read_server(hub: Arc<TickHub>, server: String) {
    let mut every = tokio::time::interval(hub.every);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    // Where a round starts: when terminals are busy and a round stops early, the symbols it did
    // not reach go first next time.
    let mut start = 0usize;
    loop {
        every.tick().await;
        let Some(mut symbols) = hub.watched(&server) else {
            return;
        };
        let n = symbols.len();
        symbols.rotate_left(start % n.max(1));
        let mut done = 0;
        for chunk in symbols.chunks(SYMBOLS_PER_READ) {
            match read_chunk(&hub.pool, &server, chunk).await {
                Peeked::Ran(Ok(reads)) => {
                    let feeds = chunk.iter().zip(reads).map(|(symbol, read)| {
                        let feed = read.map_or(Feed::NotFound, Feed::Tick);
                        (symbol.clone(), feed)
                    });
                    hub.publish(&server, feeds);
                    done += chunk.len();
                }
                // The next round tries again; what subscribers saw last stands.
                Peeked::Ran(Err(e)) => {
                    tracing::debug!(error = %e, server = %server, "ticks: read failed");
                    break;
                }
                Peeked::Busy => break,
                Peeked::NoTerminal => {
                    let waiting = symbols
                        .iter()
                        .map(|s| (s.clone(), Feed::WaitingForTerminal));
                    hub.publish(&server, waiting);
                    break;
                }
            }
        }
        start = (start + done) % n.max(1);
    }
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
