//! The quote reader against one user's floods: made-up names cost no terminal call, a user's
//! symbols are capped, another user's quotes keep flowing while one user watches 200, and
//! symbols whose watchers left stop being read within one chunk. Counted at a terminal that lists
//! 2,000 symbols and records every read.

use crate::common::terminal::{Hooked, Hooks};
use async_trait::async_trait;
use mt5::*;
use mt5_bridge::pool::{PoolOptions, TerminalPool};
use mt5_bridge::ticks::{Feed, TickHub, TickWatch, TooManySymbols};
use mt5_sim::config::{default_accounts, FaultConfig, SimConfig, StateLocation};
use mt5_sim::terminal::{SimTerminal, TerminalOptions};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use uuid::Uuid;

const LISTED: usize = 2_000;

fn listed(i: usize) -> String {
    format!("SYM{i:04}")
}

/// The simulator's terminal, with 2,000 more symbols listed, whose quotes change at every read
/// and take `read_ms` each; every tick read is recorded with its time.
struct ManySymbols {
    read_ms: u64,
    reads: Mutex<Vec<(String, Instant)>>,
    lists: Mutex<usize>,
}

impl ManySymbols {
    fn reads_of(&self, f: impl Fn(&str, Instant) -> bool) -> usize {
        let reads = self.reads.lock().unwrap();
        reads.iter().filter(|(s, t)| f(s, *t)).count()
    }
}

#[async_trait]
impl Hooks for ManySymbols {
    async fn symbols(
        &self,
        inner: &SimTerminal,
        at: &Expected,
        g: Option<&str>,
    ) -> Result<Vec<SymbolInfo>, TerminalError> {
        *self.lists.lock().unwrap() += 1;
        let mut all = inner.symbols(at, g).await?;
        let model = all[0].clone();
        all.extend((0..LISTED).map(|i| SymbolInfo {
            name: listed(i),
            ..model.clone()
        }));
        Ok(all)
    }

    async fn tick(
        &self,
        inner: &SimTerminal,
        at: &Expected,
        s: &str,
    ) -> Result<Tick, TerminalError> {
        tokio::time::sleep(Duration::from_millis(self.read_ms)).await;
        let n = {
            let mut reads = self.reads.lock().unwrap();
            reads.push((s.to_string(), Instant::now()));
            reads.len()
        };
        if !s.starts_with("SYM") {
            return inner.symbol_info_tick(at, s).await;
        }
        let mut tick = inner.symbol_info_tick(at, "EURUSD").await?;
        // A new quote at every read, so every read is an event.
        tick.bid += n as f64 * 1e-5;
        tick.ask += n as f64 * 1e-5;
        Ok(tick)
    }
}

struct Rig {
    terminal: Arc<Hooked<ManySymbols>>,
    pool: Arc<TerminalPool>,
    hub: Arc<TickHub>,
}

/// One terminal listing 2,000 symbols, logged in to Sim-Demo (so quotes of that server can be
/// read from it), and a quote hub over it.
async fn rig(read_ms: u64) -> Rig {
    let cfg = SimConfig {
        accounts: default_accounts(),
        state: StateLocation::Memory,
        seed: 11,
        login_latency_ms: 0,
        call_latency_ms: 0,
        order_latency_ms: 0,
        server_time_offset_s: 0,
        faults: FaultConfig::none(),
        unknown_enums: mt5_sim::config::UnknownEnums::none(),
        max_bars: mt5_sim::prices::MAX_BARS_INTRADAY,
    };
    let broker = mt5_sim::broker::open_from_config(&cfg).await.unwrap().0;
    let terminal = Arc::new(Hooked {
        inner: SimTerminal::new("many".into(), broker, TerminalOptions::default()),
        hooks: ManySymbols {
            read_ms,
            reads: Mutex::new(Vec::new()),
            lists: Mutex::new(0),
        },
    });
    let pool = Arc::new(TerminalPool::new(
        vec![terminal.clone() as Arc<dyn Terminal>],
        PoolOptions::default(),
    ));
    let session = Session::new(
        AccountKey::new(10001, "Sim-Demo"),
        SessionTag::from_bytes([1; 32]),
    );
    let pw = || -> mt5_bridge::pool::BoxFuture<Result<SecretString, _>> {
        Box::pin(async { Ok(SecretString::from("Sim-10001!")) })
    };
    let op = |t: Arc<dyn Terminal>,
              at: Expected|
     -> mt5_bridge::pool::BoxFuture<Result<u64, TerminalError>> {
        Box::pin(async move { Ok(t.account_info(&at).await?.login) })
    };
    assert_eq!(pool.run(&session, &pw, op).await.unwrap(), 10001);
    let hub = Arc::new(TickHub::new(pool.clone()));
    Rig {
        terminal,
        pool,
        hub,
    }
}

/// Waits until the hub knows the server's list (a watch of a listed symbol starts the reader).
async fn list_known(r: &Rig) -> TickWatch {
    let mut w = r
        .hub
        .watch(Uuid::new_v4(), "Sim-Demo", "EURUSD", 10)
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while *r.terminal.hooks.lists.lock().unwrap() == 0 || matches!(*w.feed.borrow(), Feed::Starting)
    {
        assert!(Instant::now() < deadline, "the list was never read");
        let _ = tokio::time::timeout(Duration::from_millis(100), w.feed.changed()).await;
    }
    w
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn made_up_names_cost_no_terminal_call() {
    let r = rig(0).await;
    let _known = list_known(&r).await;
    let flooder = Uuid::new_v4();
    let before = r.terminal.hooks.reads_of(|_, _| true);
    let watches: Vec<TickWatch> = (0..250)
        .map(|i| {
            r.hub
                .watch(flooder, "Sim-Demo", &format!("FAKE{i}"), 200)
                .expect("unknown names are not counted against the cap")
        })
        .collect();
    for w in &watches {
        assert_eq!(*w.feed.borrow(), Feed::NotFound, "told at once");
    }
    tokio::time::sleep(Duration::from_millis(1_000)).await;
    assert_eq!(
        r.terminal.hooks.reads_of(|s, _| s.starts_with("FAKE")),
        0,
        "a made-up name was read from the terminal"
    );
    assert!(
        r.terminal.hooks.reads_of(|_, _| true) > before,
        "the reader kept reading EURUSD"
    );
    assert_eq!(
        *r.terminal.hooks.lists.lock().unwrap(),
        1,
        "the list is read once, then kept"
    );
    drop(r.pool);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_s_200_symbols_neither_starve_another_user_nor_outlive_their_watchers() {
    // 2 ms a read: 200 symbols take 400 ms, more than one round's 250 ms of terminal time.
    let r = rig(2).await;
    let _known = list_known(&r).await;
    let (heavy, light) = (Uuid::new_v4(), Uuid::new_v4());
    // 200 on "5 streams" (40 each), then the 201st is refused.
    let mut held: Vec<Vec<TickWatch>> = Vec::new();
    for stream in 0..5 {
        held.push(
            (0..40)
                .map(|i| {
                    r.hub
                        .watch(heavy, "Sim-Demo", &listed(stream * 40 + i), 200)
                        .unwrap()
                })
                .collect(),
        );
    }
    assert_eq!(
        r.hub
            .watch(heavy, "Sim-Demo", &listed(1500), 200)
            .unwrap_err(),
        TooManySymbols { limit: 200 }
    );
    // The same symbol on another stream is no new one.
    let again = r.hub.watch(heavy, "Sim-Demo", &listed(0), 200).unwrap();
    drop(again);

    let mut mine: Vec<TickWatch> = [1998, 1999]
        .iter()
        .map(|i| r.hub.watch(light, "Sim-Demo", &listed(*i), 200).unwrap())
        .collect();
    // Every second, each of the light user's symbols has at least one new quote.
    let mut per_second: HashMap<usize, u32> = HashMap::new();
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(4) {
        for (k, w) in mine.iter_mut().enumerate() {
            if w.feed.has_changed().unwrap_or(false) {
                w.feed.borrow_and_update();
                let second = start.elapsed().as_secs() as usize;
                *per_second.entry(second * 2 + k).or_default() += 1;
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    for second in 0..4 {
        for k in 0..2 {
            assert!(
                per_second.get(&(second * 2 + k)).copied().unwrap_or(0) >= 1,
                "symbol {k} had no event in second {second}: {per_second:?}"
            );
        }
    }
    let heavy_reads = r.terminal.hooks.reads_of(|s, _| {
        s.strip_prefix("SYM")
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n < 200)
    });
    assert!(
        heavy_reads > 200,
        "the heavy user's symbols were read too: {heavy_reads}"
    );

    // The heavy user closes every stream: once the service has seen the sockets close (a moment
    // after the client drops them), at most one more chunk (8) of theirs is read.
    drop(held);
    tokio::time::sleep(Duration::from_millis(200)).await;
    let closed = Instant::now();
    tokio::time::sleep(Duration::from_millis(1_300)).await;
    let after = r.terminal.hooks.reads_of(|s, t| {
        t > closed
            && s.strip_prefix("SYM")
                .and_then(|n| n.parse::<usize>().ok())
                .is_some_and(|n| n < 200)
    });
    assert!(
        after <= 8,
        "{after} reads of symbols nobody watches any more"
    );
    assert!(
        r.terminal
            .hooks
            .reads_of(|s, t| t > closed && s == listed(1999))
            >= 3,
        "the light user's quotes go on"
    );
    // Their places are given back: 200 new ones fit again.
    let again: Vec<TickWatch> = (0..200)
        .map(|i| {
            r.hub
                .watch(heavy, "Sim-Demo", &listed(200 + i), 200)
                .unwrap()
        })
        .collect();
    assert_eq!(again.len(), 200);
}

/// The reader holds a terminal for a few symbols at a time: a request that arrives while it reads
/// many waits behind at most one chunk of reads (8), not behind all the watched symbols.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_waits_behind_at_most_one_chunk_of_quote_reads() {
    let r = rig(20).await;
    let _known = list_known(&r).await;
    let user = Uuid::new_v4();
    let _watches: Vec<TickWatch> = (0..30)
        .map(|i| r.hub.watch(user, "Sim-Demo", &listed(i), 200).unwrap())
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;
    let session = Session::new(
        AccountKey::new(10001, "Sim-Demo"),
        SessionTag::from_bytes([1; 32]),
    );
    let pw = || -> mt5_bridge::pool::BoxFuture<Result<SecretString, _>> {
        Box::pin(async { Ok(SecretString::from("Sim-10001!")) })
    };
    let arrived = Instant::now();
    let op = |t: Arc<dyn Terminal>,
              at: Expected|
     -> mt5_bridge::pool::BoxFuture<Result<Instant, TerminalError>> {
        Box::pin(async move {
            t.account_info(&at).await?;
            Ok(Instant::now())
        })
    };
    let served = r.pool.run(&session, &pw, op).await.unwrap();
    let behind = r.terminal.hooks.reads_of(|_, t| t > arrived && t < served);
    assert!(
        behind <= 8,
        "the request waited behind {behind} quote reads"
    );
}
