//! A terminal that stops answering (its agent died) is taken out of the pool after one failure and
//! put back once it answers again; the pool carries on with the others meanwhile.

use crate::common::terminal::{Hooked, Hooks};
use mt5::*;
use mt5_bridge::pool::{PoolOptions, TerminalPool};
use mt5_sim::config::{default_accounts, FaultConfig, SimConfig, StateLocation};
use mt5_sim::terminal::{SimTerminal, TerminalOptions};
use secrecy::SecretString;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A connection a test can pull: unplugged, every call of the terminal is Unavailable.
#[derive(Default)]
struct Plug {
    unplugged: AtomicBool,
    calls_while_unplugged: AtomicU64,
}

impl Hooks for Plug {
    fn before(&self) -> Result<(), TerminalError> {
        if self.unplugged.load(Ordering::SeqCst) {
            self.calls_while_unplugged.fetch_add(1, Ordering::SeqCst);
            return Err(TerminalError::Unavailable("connection refused".into()));
        }
        Ok(())
    }
}

type Unpluggable = Hooked<Plug>;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unreachable_terminal_leaves_the_pool_and_comes_back() {
    let cfg = SimConfig {
        accounts: default_accounts(),
        state: StateLocation::Memory,
        seed: 3,
        login_latency_ms: 0,
        call_latency_ms: 0,
        order_latency_ms: 0,
        server_time_offset_s: 0,
        faults: FaultConfig::none(),
        unknown_enums: mt5_sim::config::UnknownEnums::none(),
        max_bars: mt5_sim::prices::MAX_BARS_INTRADAY,
    };
    let broker = mt5_sim::broker::open_from_config(&cfg).await.unwrap().0;
    let t: Vec<Arc<Unpluggable>> = (0..2)
        .map(|i| {
            Arc::new(Hooked {
                inner: SimTerminal::new(
                    format!("t{i}"),
                    broker.clone(),
                    TerminalOptions::default(),
                ),
                hooks: Plug::default(),
            })
        })
        .collect();
    let pool = TerminalPool::new(
        t.iter().map(|x| x.clone() as Arc<dyn Terminal>).collect(),
        PoolOptions::default(),
    );
    let accounts = [
        (
            Session::new(
                AccountKey::new(10001, "Sim-Demo"),
                SessionTag::from_bytes([1; 32]),
            ),
            "Sim-10001!",
        ),
        (
            Session::new(
                AccountKey::new(10002, "Sim-Demo"),
                SessionTag::from_bytes([2; 32]),
            ),
            "Sim-10002!",
        ),
    ];
    let op = |t: Arc<dyn Terminal>,
              at: Expected|
     -> mt5_bridge::pool::BoxFuture<Result<u64, TerminalError>> {
        Box::pin(async move { Ok(t.account_info(&at).await?.login) })
    };
    let run = |i: usize| {
        let (key, pw) = accounts[i].clone();
        let pool = &pool;
        async move {
            let pw = move || -> mt5_bridge::pool::BoxFuture<Result<SecretString, _>> {
                Box::pin(async move { Ok(SecretString::from(pw)) })
            };
            pool.run(&key, &pw, op).await
        }
    };
    // Warm up: each account on its own terminal.
    assert_eq!(run(0).await.unwrap(), 10001);
    assert_eq!(run(1).await.unwrap(), 10002);

    // Pull t0: at most one request fails, then every request is served by t1 alone.
    t[0].hooks.unplugged.store(true, Ordering::SeqCst);
    let mut failures = 0;
    for n in 0..20 {
        match run(n % 2).await {
            Ok(login) => assert_eq!(login, accounts[n % 2].0.account.login),
            Err(_) => failures += 1,
        }
    }
    assert!(
        failures <= 1,
        "{failures} failures after the terminal went away"
    );
    assert_eq!(pool.terminals_down(), 1);
    // Only the failing call and the probes touched the unplugged terminal.
    let touched = t[0].hooks.calls_while_unplugged.load(Ordering::SeqCst);
    assert!(
        touched <= 1 + 10,
        "the pool kept sending work to a dead terminal: {touched}"
    );

    // Plug it back: the probe puts it back and both terminals serve again.
    t[0].hooks.unplugged.store(false, Ordering::SeqCst);
    for _ in 0..40 {
        if pool.terminals_down() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(pool.terminals_down(), 0, "the terminal came back");
    let before = pool.stats().logins.load(Ordering::SeqCst);
    for n in 0..10 {
        assert_eq!(run(n % 2).await.unwrap(), accounts[n % 2].0.account.login);
    }
    // With both terminals back, the two accounts settle one per terminal: at most one more login.
    assert!(pool.stats().logins.load(Ordering::SeqCst) - before <= 1);
}
