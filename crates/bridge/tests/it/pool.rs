//! Terminal pool behaviour on real simulated terminals sharing one in-memory broker: affinity, LRU
//! switching, batching, fairness, the bounded queue, deadlines, cancellation, the naive baseline,
//! the account guard, and a concurrent soak checked against the broker's audit trail.

use mt5::{
    AccountInfo, AccountKey, Expected, PositionFilter, Session, SessionTag, Terminal, TerminalError,
};
use mt5_bridge::error::{ApiError, CredentialProblem};
use mt5_bridge::pool::{
    BoxFuture, PasswordFuture, PasswordUnavailable, Policy, PoolOptions, Purpose, TerminalPool,
};
use mt5_sim::broker::{AuditRecord, Broker};
use mt5_sim::config::{default_accounts, AccountSpec, FaultConfig, SimConfig, StateLocation};
use mt5_sim::terminal::{SimTerminal, TerminalOptions};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use secrecy::SecretString;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::sync::{watch, Notify};

const LOGIN_MS: u64 = 200;
/// First login number of the test accounts; account `i` is `BASE_LOGIN + i`.
const BASE_LOGIN: u64 = 70_000;

/// Account `i`'s session with its own password (tests pick the tags; the bridge derives them).
fn key(i: usize) -> Session {
    Session::new(
        AccountKey::new(BASE_LOGIN + i as u64, "Sim-Demo"),
        SessionTag::from_bytes([i as u8; 32]),
    )
}

/// The password source of account `i`.
fn pw_of(i: usize) -> impl Fn() -> PasswordFuture + Sync {
    move || Box::pin(async move { Ok(password(i)) })
}

fn password(i: usize) -> SecretString {
    SecretString::from(format!("pw-{}", BASE_LOGIN + i as u64))
}

fn accounts(n: usize) -> Vec<AccountSpec> {
    let template = default_accounts()
        .into_iter()
        .find(|a| a.server == "Sim-Demo")
        .unwrap();
    (0..n)
        .map(|i| AccountSpec {
            login: BASE_LOGIN + i as u64,
            password: password(i),
            name: format!("Pool test {i}"),
            ..template.clone()
        })
        .collect()
}

struct Rig {
    broker: Arc<Broker>,
    terminals: Vec<Arc<SimTerminal>>,
    pool: Arc<TerminalPool>,
}

async fn rig(
    terminals: usize,
    n_accounts: usize,
    login_ms: u64,
    call_ms: u64,
    opts: PoolOptions,
) -> Rig {
    let cfg = SimConfig {
        accounts: accounts(n_accounts),
        state: StateLocation::Memory,
        seed: 7,
        login_latency_ms: login_ms,
        call_latency_ms: call_ms,
        order_latency_ms: 0,
        server_time_offset_s: 0,
        faults: FaultConfig::none(),
        unknown_enums: mt5_sim::config::UnknownEnums::none(),
        max_bars: mt5_sim::prices::MAX_BARS_INTRADAY,
    };
    let broker = mt5_sim::broker::open_from_config(&cfg).await.unwrap().0;
    let topts = TerminalOptions::from_config(&cfg);
    let terminals: Vec<Arc<SimTerminal>> = (0..terminals)
        .map(|i| Arc::new(SimTerminal::new(format!("sim-{i}"), broker.clone(), topts)))
        .collect();
    let dyns = terminals
        .iter()
        .map(|t| t.clone() as Arc<dyn Terminal>)
        .collect();
    Rig {
        broker,
        terminals,
        pool: Arc::new(TerminalPool::new(dyns, opts)),
    }
}

fn opts() -> PoolOptions {
    PoolOptions::default()
}

fn logins(pool: &TerminalPool) -> u64 {
    pool.stats().logins.load(Ordering::SeqCst)
}

type Op<R> =
    Box<dyn Fn(Arc<dyn Terminal>, Expected) -> BoxFuture<Result<R, TerminalError>> + Send + Sync>;

fn info_op() -> Op<AccountInfo> {
    Box::new(|t, at| Box::pin(async move { t.account_info(&at).await }))
}

/// Reads the positions, then reports the account the guard accepted (the one the op ran for).
fn positions_op() -> Op<u64> {
    Box::new(|t, at| {
        Box::pin(async move {
            t.positions(&at, &PositionFilter::All).await?;
            Ok(at.account.login)
        })
    })
}

/// `account_info`, then keeps the lease `hold` longer.
fn slow_info_op(hold: Duration) -> Op<AccountInfo> {
    Box::new(move |t, at| {
        Box::pin(async move {
            let info = t.account_info(&at).await?;
            tokio::time::sleep(hold).await;
            Ok(info)
        })
    })
}

/// `account_info`, then signals `started` and keeps the lease until `gate` opens.
fn gated_op(started: Arc<Notify>, gate: watch::Receiver<bool>) -> Op<AccountInfo> {
    Box::new(move |t, at| {
        let started = started.clone();
        let mut gate = gate.clone();
        Box::pin(async move {
            let info = t.account_info(&at).await?;
            started.notify_one();
            let _ = gate.wait_for(|open| *open).await;
            Ok(info)
        })
    })
}

async fn run<R: Send + 'static>(pool: &TerminalPool, i: usize, op: Op<R>) -> Result<R, ApiError> {
    let pw = pw_of(i);
    // What a caller of the service sees: the pool's error as the API answers it.
    pool.run(&key(i), &pw, op).await.map_err(ApiError::from)
}

/// Holds the pool's (only free) terminal for account `i` until the returned sender opens the gate.
async fn hold(
    pool: &Arc<TerminalPool>,
    i: usize,
) -> (
    watch::Sender<bool>,
    tokio::task::JoinHandle<Result<AccountInfo, ApiError>>,
) {
    let started = Arc::new(Notify::new());
    let (open, gate) = watch::channel(false);
    let p = pool.clone();
    let op = gated_op(started.clone(), gate);
    let holder = tokio::spawn(async move { run(&p, i, op).await });
    tokio::time::timeout(Duration::from_secs(10), started.notified())
        .await
        .expect("the holder got its lease");
    (open, holder)
}

async fn wait_for_depth(pool: &TerminalPool, depth: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.queue_depth() != depth {
        assert!(
            Instant::now() < deadline,
            "queue depth never reached {depth} (is {})",
            pool.queue_depth()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

async fn audit(broker: &Broker) -> Vec<AuditRecord> {
    broker.audit().await.unwrap()
}

fn is_login(r: &AuditRecord) -> bool {
    r.operation == "login"
}

/// Every operation of `terminal_id`'s audit, split into runs: (account logged in, ops until the next login).
fn runs(records: &[AuditRecord], terminal_id: &str) -> Vec<(u64, Vec<u64>)> {
    let mut out: Vec<(u64, Vec<u64>)> = Vec::new();
    for r in records.iter().filter(|r| r.terminal_id == terminal_id) {
        if is_login(r) {
            out.push((r.login, Vec::new()));
        } else if let Some(last) = out.last_mut() {
            last.1.push(r.login);
        } else {
            panic!("operation before any login on {terminal_id}: {r:?}");
        }
    }
    out
}

/// Replays the audit per terminal: every operation ran under the login the terminal last made.
fn assert_ops_ran_under_current_login(records: &[AuditRecord]) {
    let mut current: HashMap<&str, (u64, &str)> = HashMap::new();
    for r in records {
        if is_login(r) {
            current.insert(&r.terminal_id, (r.login, &r.server));
        } else {
            assert_eq!(
                current.get(r.terminal_id.as_str()),
                Some(&(r.login, r.server.as_str())),
                "operation {} (seq {}) ran under another login than its terminal held",
                r.operation,
                r.seq
            );
        }
    }
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn affinity_keeps_each_account_on_its_terminal() {
    let r = rig(2, 2, LOGIN_MS, 0, opts()).await;
    for n in 0..50 {
        let i = n % 2;
        let info = run(&r.pool, i, info_op()).await.unwrap();
        assert_eq!(info.login, key(i).account.login);
    }
    assert_eq!(logins(&r.pool), 2, "only the two warm-up logins");

    // Concurrently too: each account waits for its own terminal rather than switching the other.
    let tasks: Vec<_> = (0..2)
        .map(|i| {
            let p = r.pool.clone();
            tokio::spawn(async move {
                for _ in 0..25 {
                    assert_eq!(
                        run(&p, i, info_op()).await.unwrap().login,
                        key(i).account.login
                    );
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(logins(&r.pool), 2);

    let records = audit(&r.broker).await;
    let login_terminals: Vec<&str> = records
        .iter()
        .filter(|r| is_login(r))
        .map(|r| r.terminal_id.as_str())
        .collect();
    assert_eq!(login_terminals, ["sim-0", "sim-1"]);
    assert_eq!(
        records
            .iter()
            .filter(|r| r.operation == "account_info")
            .count(),
        100
    );
    assert_ops_ran_under_current_login(&records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_least_recently_used_terminal_switches() {
    let r = rig(2, 3, LOGIN_MS, 0, opts()).await;
    let (a, b, c) = (0, 1, 2);
    for i in [a, b, a, c] {
        assert_eq!(
            run(&r.pool, i, info_op()).await.unwrap().login,
            key(i).account.login
        );
    }
    assert_eq!(logins(&r.pool), 3, "A, B, C each logged in once");

    let records = audit(&r.broker).await;
    let login_on = |login: u64| -> Vec<String> {
        records
            .iter()
            .filter(|r| is_login(r) && r.login == login)
            .map(|r| r.terminal_id.clone())
            .collect()
    };
    assert_eq!(login_on(key(b).account.login).len(), 1);
    assert_eq!(
        login_on(key(c).account.login),
        login_on(key(b).account.login),
        "C evicted B, not A"
    );

    // A was used more recently than B, so it is still logged in.
    run(&r.pool, a, info_op()).await.unwrap();
    assert_eq!(logins(&r.pool), 3, "A needed no login");
    run(&r.pool, b, info_op()).await.unwrap();
    assert_eq!(logins(&r.pool), 4, "B was evicted and logs in again");
    assert_ops_ran_under_current_login(&audit(&r.broker).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queued_operations_for_one_account_run_in_one_batch() {
    let r = rig(1, 2, LOGIN_MS, 0, opts()).await;
    let (a, b) = (0, 1);
    let (open, holder) = hold(&r.pool, a).await;

    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let p = r.pool.clone();
            tokio::spawn(async move { run(&p, b, positions_op()).await })
        })
        .collect();
    wait_for_depth(&r.pool, 10).await;
    open.send(true).unwrap();
    assert_eq!(holder.await.unwrap().unwrap().login, key(a).account.login);
    for w in waiters {
        assert_eq!(w.await.unwrap().unwrap(), key(b).account.login);
    }

    assert_eq!(logins(&r.pool), 2, "one login for A, one for all ten of B");
    let ops: Vec<(String, u64)> = audit(&r.broker)
        .await
        .into_iter()
        .map(|r| (r.operation, r.login))
        .collect();
    let mut expected = vec![
        ("login".to_string(), key(a).account.login),
        ("account_info".to_string(), key(a).account.login),
        ("login".to_string(), key(b).account.login),
    ];
    expected.extend((0..10).map(|_| ("positions".to_string(), key(b).account.login)));
    assert_eq!(ops, expected);
    assert_eq!(r.pool.queue_depth(), 0);
}

/// Runs `loops` concurrent loops of `op` for account `i` until `until`; returns how many ran.
fn flood(
    pool: &Arc<TerminalPool>,
    i: usize,
    loops: usize,
    until: Instant,
    op: fn() -> Op<AccountInfo>,
) -> Vec<tokio::task::JoinHandle<usize>> {
    (0..loops)
        .map(|_| {
            let p = pool.clone();
            tokio::spawn(async move {
                let mut n = 0;
                while Instant::now() < until {
                    assert_eq!(run(&p, i, op()).await.unwrap().login, key(i).account.login);
                    n += 1;
                }
                n
            })
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_for_one_account_does_not_starve_another() {
    let max_batch = 4;
    let o = PoolOptions {
        max_batch,
        max_turn: Duration::from_secs(30),
        ..opts()
    };
    let r = rig(1, 2, LOGIN_MS, 2, o).await;
    let (a, b) = (0, 1);
    let flood_for = Duration::from_secs(4);
    let until = Instant::now() + flood_for;
    let loops = flood(&r.pool, a, 3, until, info_op);

    tokio::time::sleep(Duration::from_millis(500)).await;
    let arrived_ms = now_ms();
    let started = Instant::now();
    assert_eq!(
        run(&r.pool, b, positions_op()).await.unwrap(),
        key(b).account.login
    );
    let latency = started.elapsed();
    assert!(
        latency < flood_for / 2,
        "B waited {latency:?} behind a {flood_for:?} flood"
    );
    let mut a_ops = 0;
    for l in loops {
        a_ops += l.await.unwrap();
    }
    assert!(a_ops > 20, "the flood ran ({a_ops} ops)");

    let records = audit(&r.broker).await;
    let b_login = records
        .iter()
        .find(|r| is_login(r) && r.login == key(b).account.login)
        .unwrap()
        .seq;
    let a_ops_while_b_waited = records
        .iter()
        .filter(|r| r.operation == "account_info" && r.utc_ms >= arrived_ms && r.seq < b_login)
        .count();
    assert!(
        a_ops_while_b_waited <= max_batch as usize,
        "{a_ops_while_b_waited} operations for A ran while B waited"
    );
    assert_ops_ran_under_current_login(&records);
}

/// Lengths of the runs between logins on `sim-0`, without the first and last (partial) runs.
fn middle_run_lengths(records: &[AuditRecord]) -> Vec<usize> {
    let all = runs(records, "sim-0");
    assert!(
        all.len() >= 5,
        "the accounts took turns ({} runs)",
        all.len()
    );
    for (login, ops) in &all {
        assert!(ops.iter().all(|l| l == login), "a run mixed accounts");
    }
    all[1..all.len() - 1]
        .iter()
        .map(|(_, ops)| ops.len())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_floods_take_turns_of_at_most_max_batch() {
    let max_batch = 3;
    let o = PoolOptions {
        max_batch,
        max_turn: Duration::from_secs(30),
        ..opts()
    };
    let r = rig(1, 2, LOGIN_MS, 2, o).await;
    let until = Instant::now() + Duration::from_secs(3);
    let mut loops = flood(&r.pool, 0, 2, until, info_op);
    loops.extend(flood(&r.pool, 1, 2, until, info_op));
    for l in loops {
        l.await.unwrap();
    }
    let lengths = middle_run_lengths(&audit(&r.broker).await);
    assert!(
        lengths
            .iter()
            .all(|&n| (1..=max_batch as usize).contains(&n)),
        "turn lengths {lengths:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_floods_take_turns_of_at_most_max_turn() {
    // Each op holds the lease 10 ms; a turn of 150 ms allows about 15 of them, counted from the
    // end of the (200 ms) login, so a turn is neither one op long nor unbounded.
    let o = PoolOptions {
        max_batch: 10_000,
        max_turn: Duration::from_millis(150),
        ..opts()
    };
    let r = rig(1, 2, LOGIN_MS, 0, o).await;
    let until = Instant::now() + Duration::from_secs(4);
    let slow = || slow_info_op(Duration::from_millis(10));
    let mut loops = flood(&r.pool, 0, 2, until, slow);
    loops.extend(flood(&r.pool, 1, 2, until, slow));
    for l in loops {
        l.await.unwrap();
    }
    let lengths = middle_run_lengths(&audit(&r.broker).await);
    let mean = lengths.iter().sum::<usize>() as f64 / lengths.len() as f64;
    assert!(lengths.iter().all(|&n| n <= 60), "turn lengths {lengths:?}");
    assert!(mean >= 2.0, "turns end right after the login: {lengths:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_refuses_at_once() {
    let o = PoolOptions {
        queue_limit: 3,
        ..opts()
    };
    let r = rig(1, 4, 20, 0, o).await;
    let (open, holder) = hold(&r.pool, 0).await;
    let waiters: Vec<_> = (1..4)
        .map(|i| {
            let p = r.pool.clone();
            tokio::spawn(async move { run(&p, i, info_op()).await })
        })
        .collect();
    wait_for_depth(&r.pool, 3).await;

    let refused = tokio::time::timeout(Duration::from_secs(1), run(&r.pool, 1, info_op()))
        .await
        .expect("refused without waiting");
    assert!(
        matches!(refused, Err(ApiError::TerminalUnavailable(_))),
        "{refused:?}"
    );
    let (status, code) = refused.unwrap_err().status_and_code();
    assert_eq!((status.as_u16(), code), (503, "terminal_unavailable"));
    assert_eq!(r.pool.stats().queue_rejections.load(Ordering::SeqCst), 1);
    assert_eq!(
        r.pool.queue_depth(),
        3,
        "the refused request left no waiter behind"
    );

    open.send(true).unwrap();
    holder.await.unwrap().unwrap();
    for (w, i) in waiters.into_iter().zip(1..) {
        assert_eq!(w.await.unwrap().unwrap().login, key(i).account.login);
    }
    assert_eq!(r.pool.queue_depth(), 0);
    assert_eq!(r.pool.stats().queue_rejections.load(Ordering::SeqCst), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_terminal_serves_a_request_even_when_the_queue_is_full() {
    let o = PoolOptions {
        queue_limit: 1,
        ..opts()
    };
    let r = rig(2, 2, 20, 0, o).await;
    let (a, b) = (0, 1);
    let (open, holder) = hold(&r.pool, a).await;
    // A second request for A waits for A's terminal (a login elsewhere costs more) and fills the queue.
    let p = r.pool.clone();
    let waiter = tokio::spawn(async move { run(&p, a, info_op()).await });
    wait_for_depth(&r.pool, 1).await;

    let served = tokio::time::timeout(Duration::from_secs(5), run(&r.pool, b, info_op()))
        .await
        .expect("served by the idle terminal");
    assert_eq!(served.unwrap().login, key(b).account.login);
    assert_eq!(r.pool.stats().queue_rejections.load(Ordering::SeqCst), 0);

    open.send(true).unwrap();
    holder.await.unwrap().unwrap();
    assert_eq!(waiter.await.unwrap().unwrap().login, key(a).account.login);
    assert_eq!(logins(&r.pool), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_past_its_deadline_times_out_and_leaks_nothing() {
    let o = PoolOptions {
        timeout: Duration::from_millis(300),
        ..opts()
    };
    let r = rig(1, 2, 50, 0, o).await;
    let (a, b) = (0, 1);
    let started = Arc::new(Notify::new());
    let p = r.pool.clone();
    let s = started.clone();
    let holder = tokio::spawn(async move {
        let pw = pw_of(a);
        let op = slow_info_op(Duration::from_secs(2));
        let o2: Op<AccountInfo> = Box::new(move |t, at| {
            s.notify_one();
            op(t, at)
        });
        p.run_with_timeout(&key(a), &pw, Duration::from_secs(10), o2)
            .await
    });
    tokio::time::timeout(Duration::from_secs(5), started.notified())
        .await
        .unwrap();

    let t0 = Instant::now();
    let late = run(&r.pool, b, info_op()).await;
    assert!(matches!(late, Err(ApiError::TerminalTimeout)), "{late:?}");
    assert_eq!(late.unwrap_err().status_and_code().0.as_u16(), 504);
    assert!(
        t0.elapsed() < Duration::from_millis(1500),
        "gave up at its deadline, not the holder's"
    );
    assert_eq!(r.pool.stats().timeouts.load(Ordering::SeqCst), 1);
    assert_eq!(r.pool.queue_depth(), 0);

    holder.await.unwrap().unwrap();
    assert_eq!(
        run(&r.pool, b, info_op()).await.unwrap().login,
        key(b).account.login
    );
    assert_eq!(r.pool.queue_depth(), 0);
    assert_eq!(
        r.pool.stats().leases.load(Ordering::SeqCst),
        2,
        "the timed-out request never got a lease"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_waiter_leaves_no_slot_or_queue_entry() {
    let r = rig(1, 3, 20, 0, opts()).await;
    let (open, holder) = hold(&r.pool, 0).await;
    for i in [1, 2, 1] {
        let gave_up =
            tokio::time::timeout(Duration::from_millis(100), run(&r.pool, i, info_op())).await;
        assert!(
            gave_up.is_err(),
            "the waiter was still waiting when dropped"
        );
    }
    assert_eq!(r.pool.queue_depth(), 0);
    open.send(true).unwrap();
    holder.await.unwrap().unwrap();
    let ok = tokio::time::timeout(Duration::from_secs(5), run(&r.pool, 2, info_op())).await;
    assert_eq!(
        ok.expect("the terminal is free again").unwrap().login,
        key(2).account.login
    );
    assert_eq!(r.pool.stats().leases.load(Ordering::SeqCst), 2);
    assert_eq!(
        r.pool.stats().timeouts.load(Ordering::SeqCst),
        0,
        "dropped, not timed out"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiters_dropped_at_random_moments_leak_nothing() {
    // Requests give up at random moments, some while their grant is on its way to them.
    let r = rig(1, 3, 5, 1, opts()).await;
    let tasks: Vec<_> = (0..60u64)
        .map(|n| {
            let p = r.pool.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(n);
                let i = rng.gen_range(0..3);
                let patience = Duration::from_millis(rng.gen_range(0..40));
                let _ = tokio::time::timeout(patience, run(&p, i, info_op())).await;
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(r.pool.queue_depth(), 0);
    for i in 0..3 {
        let ok = tokio::time::timeout(Duration::from_secs(5), run(&r.pool, i, info_op())).await;
        assert_eq!(
            ok.expect("no slot leaked").unwrap().login,
            key(i).account.login
        );
    }
    assert_ops_ran_under_current_login(&audit(&r.broker).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn naive_policy_logs_in_for_every_request_on_one_terminal() {
    let o = PoolOptions {
        policy: Policy::Naive,
        ..opts()
    };
    let r = rig(3, 3, 20, 0, o).await;
    assert_eq!((r.pool.size(), r.pool.policy()), (1, Policy::Naive));
    let sequence = [0, 0, 1, 1, 0, 2];
    for &i in &sequence {
        assert_eq!(
            run(&r.pool, i, info_op()).await.unwrap().login,
            key(i).account.login
        );
    }
    assert_eq!(logins(&r.pool), sequence.len() as u64);

    // One global queue: waiters are served in arrival order, not batched by account.
    let (open, holder) = hold(&r.pool, 0).await;
    let mut waiters = Vec::new();
    for (n, i) in [1, 2, 1].into_iter().enumerate() {
        let p = r.pool.clone();
        waiters.push(tokio::spawn(
            async move { run(&p, i, positions_op()).await },
        ));
        wait_for_depth(&r.pool, n + 1).await;
    }
    open.send(true).unwrap();
    holder.await.unwrap().unwrap();
    for w in waiters {
        w.await.unwrap().unwrap();
    }
    assert_eq!(logins(&r.pool), sequence.len() as u64 + 4);

    let records = audit(&r.broker).await;
    assert!(records.iter().all(|r| r.terminal_id == "sim-0"));
    let tail: Vec<(String, u64)> = records[records.len() - 6..]
        .iter()
        .map(|r| (r.operation.clone(), r.login - BASE_LOGIN))
        .collect();
    let expected: Vec<(String, u64)> = [
        ("login", 1),
        ("positions", 1),
        ("login", 2),
        ("positions", 2),
        ("login", 1),
        ("positions", 1),
    ]
    .iter()
    .map(|(o, l)| (o.to_string(), *l))
    .collect();
    assert_eq!(tail, expected);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_terminal_switched_behind_the_pools_back_is_caught_by_the_guard() {
    let r = rig(1, 2, 20, 0, opts()).await;
    let (a, other) = (0, 1);
    run(&r.pool, a, info_op()).await.unwrap();
    r.terminals[0]
        .login(&key(other), &password(other), Duration::from_secs(5))
        .await
        .unwrap();

    let info = run(&r.pool, a, info_op()).await.unwrap();
    assert_eq!(info.login, key(a).account.login);
    assert_eq!(r.pool.stats().guard_mismatches.load(Ordering::SeqCst), 1);
    assert_eq!(logins(&r.pool), 2, "the retry logged in again");

    let records = audit(&r.broker).await;
    let ops: Vec<(&str, u64)> = records
        .iter()
        .map(|r| (r.operation.as_str(), r.login - BASE_LOGIN))
        .collect();
    assert_eq!(
        ops,
        [
            ("login", 0),
            ("account_info", 0),
            ("login", 1), // behind the pool's back
            ("login", 0), // the retry
            ("account_info", 0),
        ]
    );
    assert_ops_ran_under_current_login(&records);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_mismatch_on_the_retry_too_fails_with_503_and_executes_nothing() {
    let r = rig(1, 2, 5, 0, opts()).await;
    let (a, other) = (0, 1);
    // An operation that switches its own terminal away just before acting: always refused.
    let sabotage: Op<AccountInfo> = Box::new(move |t, at| {
        Box::pin(async move {
            t.login(&key(other), &password(other), Duration::from_secs(5))
                .await?;
            t.account_info(&at).await
        })
    });
    let err = run(&r.pool, a, sabotage).await.unwrap_err();
    assert!(matches!(err, ApiError::TerminalUnavailable(_)), "{err:?}");
    assert_eq!(err.status_and_code().1, "terminal_unavailable");
    assert_eq!(r.pool.stats().guard_mismatches.load(Ordering::SeqCst), 2);
    let records = audit(&r.broker).await;
    assert!(
        !records.iter().any(|r| r.operation == "account_info"),
        "{records:?}"
    );

    // The pool recovers: it no longer trusts the terminal's login and logs in again.
    assert_eq!(
        run(&r.pool, a, info_op()).await.unwrap().login,
        key(a).account.login
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_lost_connection_the_pool_logs_in_again() {
    let r = rig(1, 1, 5, 0, opts()).await;
    run(&r.pool, 0, info_op()).await.unwrap();
    // The terminal drops its session and the call fails, as when the terminal's connection is lost.
    let lost: Op<AccountInfo> = Box::new(|t, _| {
        Box::pin(async move {
            t.logout().await?;
            Err(TerminalError::Unavailable("connection lost".into()))
        })
    });
    let err = run(&r.pool, 0, lost).await.unwrap_err();
    assert_eq!(err.status_and_code().1, "terminal_unavailable");

    assert_eq!(
        run(&r.pool, 0, info_op()).await.unwrap().login,
        key(0).account.login
    );
    assert_eq!(
        logins(&r.pool),
        2,
        "the pool stopped trusting the terminal's login"
    );
    assert_eq!(r.pool.stats().guard_mismatches.load(Ordering::SeqCst), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_login_refuses_bad_credentials_and_keeps_the_terminal_usable() {
    let r = rig(1, 2, 5, 0, opts()).await;
    let bad = r
        .pool
        .verify_login(&key(0), &SecretString::from("wrong".to_string()))
        .await
        .map_err(ApiError::from)
        .unwrap_err();
    assert!(
        matches!(bad, ApiError::Mt5LoginFailed { code: -6, .. }),
        "{bad:?}"
    );
    assert_eq!(r.pool.stats().failed_logins.load(Ordering::SeqCst), 1);
    let info = r.pool.verify_login(&key(1), &password(1)).await.unwrap();
    assert_eq!(info.login, key(1).account.login);
    // The verified login is reused by the next operation.
    run(&r.pool, 1, info_op()).await.unwrap();
    assert_eq!(logins(&r.pool), 2);
}

#[tokio::test]
async fn a_pool_without_terminals_refuses_at_once() {
    let pool = TerminalPool::new(Vec::new(), opts());
    let r = tokio::time::timeout(Duration::from_secs(1), run(&pool, 0, info_op()))
        .await
        .expect("no wait for a terminal that does not exist");
    assert!(matches!(r, Err(ApiError::TerminalUnavailable(_))), "{r:?}");
    assert_eq!(pool.queue_depth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_soak_every_operation_runs_on_its_own_account() {
    soak(Policy::Adaptive).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_soak_under_the_pool_policy_too() {
    soak(Policy::Pool).await;
}

async fn soak(policy: Policy) {
    const ACCOUNTS: usize = 8;
    const WORKERS: u64 = 16;
    const OPS_PER_WORKER: usize = 25;
    let o = PoolOptions {
        policy,
        max_batch: 8,
        max_turn: Duration::from_millis(100),
        ..opts()
    };
    let r = rig(3, ACCOUNTS, 20, 1, o).await;
    let tasks: Vec<_> = (0..WORKERS)
        .map(|w| {
            let p = r.pool.clone();
            tokio::spawn(async move {
                let mut rng = StdRng::seed_from_u64(1000 + w);
                let mut done: Vec<(usize, &'static str)> = Vec::new();
                for _ in 0..OPS_PER_WORKER {
                    let i = rng.gen_range(0..ACCOUNTS);
                    if rng.gen_bool(0.5) {
                        let info = run(&p, i, info_op()).await.unwrap();
                        assert_eq!(
                            (info.login, info.server.as_str()),
                            (key(i).account.login, "Sim-Demo")
                        );
                        done.push((i, "account_info"));
                    } else {
                        assert_eq!(
                            run(&p, i, positions_op()).await.unwrap(),
                            key(i).account.login
                        );
                        done.push((i, "positions"));
                    }
                    if rng.gen_bool(0.3) {
                        tokio::time::sleep(Duration::from_millis(rng.gen_range(0..5))).await;
                    }
                }
                done
            })
        })
        .collect();
    let mut expected: HashMap<(u64, String), usize> = HashMap::new();
    for t in tasks {
        for (i, op) in t.await.unwrap() {
            *expected
                .entry((key(i).account.login, op.to_string()))
                .or_default() += 1;
        }
    }
    let total = WORKERS as usize * OPS_PER_WORKER;
    assert_eq!(expected.values().sum::<usize>(), total);

    let stats = r.pool.stats();
    let logins = stats.logins.load(Ordering::SeqCst);
    assert!(
        logins >= ACCOUNTS as u64 && logins <= total as u64,
        "{logins} logins"
    );
    assert_eq!(stats.guard_mismatches.load(Ordering::SeqCst), 0);
    assert_eq!(stats.leases.load(Ordering::SeqCst), total as u64);
    assert_eq!(r.pool.queue_depth(), 0);

    let records = audit(&r.broker).await;
    assert_ops_ran_under_current_login(&records);
    assert_eq!(
        records.iter().filter(|r| is_login(r)).count() as u64,
        logins
    );
    let mut executed: HashMap<(u64, String), usize> = HashMap::new();
    for rec in records.iter().filter(|r| !is_login(r)) {
        *executed
            .entry((rec.login, rec.operation.clone()))
            .or_default() += 1;
    }
    assert_eq!(
        executed, expected,
        "each operation ran exactly once, on its own account"
    );
}

/// Runs `n` requests for account `i` one after another, so the pool sees it as hot.
async fn warm_up(pool: &TerminalPool, i: usize, n: usize) {
    for _ in 0..n {
        assert_eq!(
            run(pool, i, info_op()).await.unwrap().login,
            key(i).account.login
        );
    }
}

fn stat(
    pool: &TerminalPool,
    counter: fn(&mt5_bridge::pool::PoolStats) -> &std::sync::atomic::AtomicU64,
) -> u64 {
    counter(pool.stats()).load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resident_terminal_serves_its_hot_account_without_a_login_then_switches_on_time() {
    let window = Duration::from_secs(1);
    let o = PoolOptions {
        residency: window,
        max_turn: Duration::from_secs(30),
        ..opts()
    };
    let r = rig(1, 2, LOGIN_MS, 0, o).await;
    let (a, b) = (0, 1);
    // Six requests in a row: A's rate predicts its next request well within the window.
    warm_up(&r.pool, a, 6).await;
    assert_eq!(logins(&r.pool), 1);

    // B waits: the only terminal stays on A for the window.
    let p = r.pool.clone();
    let b_started = Instant::now();
    let b_task = tokio::spawn(async move {
        let got = run(&p, b, positions_op()).await;
        (got, b_started.elapsed())
    });
    wait_for_depth(&r.pool, 1).await;
    assert_eq!(stat(&r.pool, |s| &s.residency_holds), 1);

    // A's next request, inside the window, is served at once on the same login.
    let a_started = Instant::now();
    assert_eq!(
        run(&r.pool, a, info_op()).await.unwrap().login,
        key(a).account.login
    );
    assert!(
        a_started.elapsed() < window / 2,
        "A waited {:?} for its own resident terminal",
        a_started.elapsed()
    );
    assert_eq!(logins(&r.pool), 1, "A needed no login");
    assert_eq!(stat(&r.pool, |s| &s.residency_hits), 1);

    // Nothing else happens: the end of the window alone hands the terminal to B.
    let (got, waited) = tokio::time::timeout(Duration::from_secs(10), b_task)
        .await
        .expect("B was served once the window ended, with no other request to wake the pool")
        .unwrap();
    assert_eq!(got.unwrap(), key(b).account.login);
    assert!(
        waited >= window / 2,
        "B took the terminal during A's window ({waited:?})"
    );
    assert_eq!(logins(&r.pool), 2);

    let ops: Vec<(String, u64)> = audit(&r.broker)
        .await
        .into_iter()
        .map(|r| (r.operation, r.login - BASE_LOGIN))
        .collect();
    let tail: Vec<(&str, u64)> = ops[ops.len() - 3..]
        .iter()
        .map(|(o, l)| (o.as_str(), *l))
        .collect();
    assert_eq!(tail, [("account_info", 0), ("login", 1), ("positions", 1)]);
    assert_eq!(r.pool.queue_depth(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residency_never_keeps_a_waiting_account_beyond_the_turn() {
    // A window far longer than the turn: the turn (from the end of A's login) bounds it.
    let window = Duration::from_secs(20);
    let o = PoolOptions {
        residency: window,
        max_turn: Duration::from_millis(300),
        ..opts()
    };
    let r = rig(1, 2, LOGIN_MS, 0, o).await;
    let (a, b) = (0, 1);
    warm_up(&r.pool, a, 3).await;
    let started = Instant::now();
    assert_eq!(
        run(&r.pool, b, positions_op()).await.unwrap(),
        key(b).account.login
    );
    let waited = started.elapsed();
    assert_eq!(stat(&r.pool, |s| &s.residency_holds), 1, "residency held B");
    assert!(
        waited < Duration::from_secs(5),
        "B waited {waited:?}: residency outlived A's 300 ms turn"
    );

    // A turn of `max_batch` operations is over too: B is served at once, with no hold.
    let o = PoolOptions {
        residency: window,
        max_turn: Duration::from_secs(30),
        max_batch: 3,
        ..opts()
    };
    let r = rig(1, 2, LOGIN_MS, 0, o).await;
    warm_up(&r.pool, a, 3).await;
    let started = Instant::now();
    assert_eq!(
        run(&r.pool, b, positions_op()).await.unwrap(),
        key(b).account.login
    );
    assert_eq!(stat(&r.pool, |s| &s.residency_holds), 0);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "B waited {:?} after A's batch was used up",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn residency_zero_switches_to_a_waiting_account_at_once() {
    let o = PoolOptions {
        residency: Duration::ZERO,
        max_turn: Duration::from_secs(30),
        ..opts()
    };
    let r = rig(1, 2, LOGIN_MS, 0, o).await;
    let (a, b) = (0, 1);
    warm_up(&r.pool, a, 6).await;

    // B takes the terminal as soon as it asks, so A's next request must log in again.
    let p = r.pool.clone();
    let b_task = tokio::spawn(async move { run(&p, b, positions_op()).await });
    let deadline = Instant::now() + Duration::from_secs(10);
    while r.pool.is_logged_in(&key(a)) {
        assert!(Instant::now() < deadline, "the terminal never left A");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    assert_eq!(
        run(&r.pool, a, info_op()).await.unwrap().login,
        key(a).account.login
    );
    assert_eq!(b_task.await.unwrap().unwrap(), key(b).account.login);
    assert_eq!(logins(&r.pool), 3, "A, B, then A again");
    assert_eq!(stat(&r.pool, |s| &s.residency_holds), 0);

    let logins_in_order: Vec<u64> = audit(&r.broker)
        .await
        .into_iter()
        .filter(is_login)
        .map(|r| r.login - BASE_LOGIN)
        .collect();
    assert_eq!(logins_in_order, [0, 1, 0]);
}

/// The pool settings `mt5-bridge serve` loads from these flags (and a JWT secret).
fn pool_settings(flags: &[&str]) -> Result<PoolOptions, String> {
    use clap::Parser;
    use mt5_bridge::config::{Cli, Command, ServeSettings};
    let dir = tempfile::tempdir().unwrap();
    let mut argv = vec![
        "mt5-bridge".to_string(),
        "serve".to_string(),
        "--data-dir".to_string(),
        dir.path().display().to_string(),
    ];
    argv.extend(flags.iter().map(|f| f.to_string()));
    let Command::Serve(args) = Cli::try_parse_from(argv).unwrap().command else {
        panic!("not parsed as serve");
    };
    let lookup = |name: &str| match name {
        "JWT_SECRET" => Some("a-test-secret-of-at-least-32-bytes!!".to_string()),
        _ => None,
    };
    ServeSettings::load(&args, &lookup)
        .map(|s| s.pool)
        .map_err(|e| e.to_string())
}

#[test]
fn pool_residency_ms_is_validated() {
    let load = |flags: &[&str]| pool_settings(flags).map(|p| p.residency);
    assert_eq!(load(&[]).unwrap(), Duration::from_millis(500));
    assert_eq!(
        load(&["--pool-residency-ms", "0"]).unwrap(),
        Duration::ZERO,
        "0 turns it off"
    );
    assert_eq!(
        load(&["--pool-residency-ms", "2000"]).unwrap(),
        Duration::from_secs(2)
    );
    let err = load(&["--pool-residency-ms", "10001"]).unwrap_err();
    assert!(err.contains("POOL_RESIDENCY_MS"), "{err}");
}

async fn run_as<R: Send + 'static>(
    pool: &TerminalPool,
    user: uuid::Uuid,
    i: usize,
    op: Op<R>,
) -> Result<R, ApiError> {
    let pw = pw_of(i);
    pool.run_for(
        &key(i),
        Some(user),
        &pw,
        mt5_bridge::pool::Purpose::Read,
        Duration::from_secs(30),
        op,
    )
    .await
    .map(|ran| ran.value)
    .map_err(ApiError::from)
}

/// Waits until `n` requests are queued in the pool.
async fn queued(pool: &TerminalPool, n: usize) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while pool.queue_depth() < n {
        assert!(
            Instant::now() < deadline,
            "only {} queued",
            pool.queue_depth()
        );
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_cannot_fill_the_queue() {
    let o = PoolOptions {
        queue_limit_per_user: 3,
        ..opts()
    };
    let r = rig(1, 3, 5, 0, o).await;
    let (flooder, other) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (open, holder) = hold(&r.pool, 0).await;
    let mut waiting = Vec::new();
    for _ in 0..3 {
        let p = r.pool.clone();
        waiting.push(tokio::spawn(async move {
            run_as(&p, flooder, 1, info_op()).await
        }));
    }
    queued(&r.pool, 3).await;
    // The fourth request of the same user is refused at once, with the scope and Retry-After 1.
    let err = run_as(&r.pool, flooder, 1, info_op()).await.unwrap_err();
    assert!(
        matches!(
            err,
            ApiError::RateLimited {
                scope: "queue_per_user",
                limit: 3,
                window_s: 0,
                retry_after_s: 1
            }
        ),
        "{err:?}"
    );
    // Another user still queues and is served.
    let p = r.pool.clone();
    let others = tokio::spawn(async move { run_as(&p, other, 2, info_op()).await });
    queued(&r.pool, 4).await;
    open.send(true).unwrap();
    holder.await.unwrap().unwrap();
    others.await.unwrap().unwrap();
    for w in waiting {
        w.await.unwrap().unwrap();
    }
    // Once served, the user may queue again.
    run_as(&r.pool, flooder, 1, info_op()).await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_take_turns_for_logins_however_many_accounts_they_cycle() {
    // One terminal; user A has 20 accounts waiting before user B's one request arrives.
    let r = rig(1, 22, 5, 0, opts()).await;
    let (a, b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let (open, holder) = hold(&r.pool, 0).await;
    let order = Arc::new(std::sync::Mutex::new(Vec::new()));
    let mut tasks = Vec::new();
    for i in 1..=20 {
        let (p, order) = (r.pool.clone(), order.clone());
        tasks.push(tokio::spawn(async move {
            run_as(&p, a, i, info_op()).await.unwrap();
            order.lock().unwrap().push(i);
        }));
        queued(&r.pool, i).await;
    }
    let (p, o) = (r.pool.clone(), order.clone());
    tasks.push(tokio::spawn(async move {
        run_as(&p, b, 21, info_op()).await.unwrap();
        o.lock().unwrap().push(21);
    }));
    queued(&r.pool, 21).await;
    open.send(true).unwrap();
    holder.await.unwrap().unwrap();
    for t in tasks {
        t.await.unwrap();
    }
    let order = order.lock().unwrap().clone();
    let b_at = order.iter().position(|i| *i == 21).unwrap();
    // Arrival order would serve B 21st; taking turns serves it after at most one of A's logins.
    assert!(b_at <= 1, "B served at position {b_at}: {order:?}");
    // A's accounts are still served oldest first among themselves.
    let a_order: Vec<usize> = order.iter().copied().filter(|i| *i != 21).collect();
    assert_eq!(a_order, (1..=20).collect::<Vec<_>>());
}

/// Runs `op` for account `i` as an order (`Purpose::Trade`) with its own deadline.
async fn trade<R: Send + 'static>(
    pool: &TerminalPool,
    i: usize,
    timeout: Duration,
    op: Op<R>,
) -> Result<R, ApiError> {
    let pw = pw_of(i);
    pool.run_for(&key(i), None, &pw, Purpose::Trade, timeout, op)
        .await
        .map(|ran| ran.value)
        .map_err(ApiError::from)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn orders_waiting_for_the_last_trading_terminal_are_told_when_it_stops() {
    let r = rig(2, 2, 0, 0, opts()).await;
    // sim-0's "Algo Trading" is off; the pool learns it at its first login there.
    r.terminals[0].set_algo_trading(false);
    run(&r.pool, 0, info_op()).await.unwrap();
    run(&r.pool, 1, info_op()).await.unwrap();
    assert_eq!(r.pool.terminals_trading_disabled(), 1);

    // An order for account 1 holds the one terminal that trades (sim-1) until the gate opens;
    // there the terminal turns out to have stopped trading too (MT5's -8).
    let (open, gate) = watch::channel(false);
    let started = Arc::new(Notify::new());
    let holder = {
        let (pool, started) = (r.pool.clone(), started.clone());
        tokio::spawn(async move {
            let op: Op<()> = Box::new(move |t, at| {
                let (started, mut gate) = (started.clone(), gate.clone());
                Box::pin(async move {
                    assert_eq!(t.id(), "sim-1", "orders go only where trading is on");
                    t.account_info(&at).await?;
                    started.notify_one();
                    let _ = gate.wait_for(|o| *o).await;
                    Err(TerminalError::trading_disabled())
                })
            });
            trade(&pool, 1, Duration::from_secs(20), op).await
        })
    };
    tokio::time::timeout(Duration::from_secs(10), started.notified())
        .await
        .expect("the order got sim-1");
    // An order for account 0 waits: sim-0 is idle but cannot trade.
    let waiter = {
        let pool = r.pool.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let op: Op<()> = Box::new(|_, _| Box::pin(async { Ok(()) }));
            (
                trade(&pool, 0, Duration::from_secs(20), op).await,
                t0.elapsed(),
            )
        })
    };
    wait_for_depth(&r.pool, 1).await;
    open.send(true).unwrap();

    let held = holder.await.unwrap();
    assert!(
        matches!(held, Err(ApiError::TerminalTradingDisabled)),
        "{held:?}"
    );
    let (waited, took) = waiter.await.unwrap();
    assert!(
        matches!(waited, Err(ApiError::TerminalTradingDisabled)),
        "{waited:?}"
    );
    assert!(
        took < Duration::from_secs(5),
        "told at once, not at its deadline: {took:?}"
    );
    assert_eq!(r.pool.queue_depth(), 0);
    assert_eq!(r.pool.terminals_trading_disabled(), 2);
    // A new order is refused at once; reads still run.
    let op: Op<()> = Box::new(|_, _| Box::pin(async { Ok(()) }));
    assert!(matches!(
        trade(&r.pool, 0, Duration::from_secs(20), op).await,
        Err(ApiError::TerminalTradingDisabled)
    ));
    run(&r.pool, 0, info_op()).await.unwrap();
    run(&r.pool, 1, info_op()).await.unwrap();
}

/// Under `policy`, on 4 terminals: each `hot` account (index, its user, a request every so many
/// ms) asked for in a loop, while the `cold` accounts, each of a user of its own, ask in three
/// waves. Returns the logins of each hot account and the slowest cold request.
async fn hot_and_cold(
    policy: Policy,
    hot: &[(usize, uuid::Uuid, u64)],
    cold: std::ops::Range<usize>,
) -> (Vec<usize>, Duration) {
    let o = PoolOptions { policy, ..opts() };
    let r = rig(4, cold.end, LOGIN_MS, 0, o).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let loops: Vec<_> = hot
        .iter()
        .map(|&(i, user, every_ms)| {
            let (p, stop) = (r.pool.clone(), stop.clone());
            tokio::spawn(async move {
                while !stop.load(Ordering::SeqCst) {
                    let got = run_as(&p, user, i, info_op()).await.unwrap();
                    assert_eq!(got.login, key(i).account.login);
                    tokio::time::sleep(Duration::from_millis(every_ms)).await;
                }
            })
        })
        .collect();
    // Long enough for the hot accounts' frequencies to show.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let mut slowest = Duration::ZERO;
    for _wave in 0..3 {
        let waiting: Vec<_> = cold
            .clone()
            .map(|i| {
                let p = r.pool.clone();
                let user = uuid::Uuid::new_v4();
                tokio::spawn(async move {
                    let started = Instant::now();
                    assert_eq!(
                        run_as(&p, user, i, positions_op()).await.unwrap(),
                        key(i).account.login
                    );
                    started.elapsed()
                })
            })
            .collect();
        for c in waiting {
            slowest = slowest.max(c.await.unwrap());
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for l in loops {
        l.await.unwrap();
    }
    let records = audit(&r.broker).await;
    assert_ops_ran_under_current_login(&records);
    let hot_logins = hot
        .iter()
        .map(|&(i, _, _)| {
            records
                .iter()
                .filter(|r| is_login(r) && r.login == key(i).account.login)
                .count()
        })
        .collect();
    (hot_logins, slowest)
}

/// Three hot accounts, each of its own user, asked for every 20 ms.
fn three_hot() -> Vec<(usize, uuid::Uuid, u64)> {
    (0..3).map(|i| (i, uuid::Uuid::new_v4(), 20)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn adaptive_keeps_hot_accounts_on_their_terminals_while_cold_ones_rotate_within_the_bound() {
    let (hot_logins, slowest) = hot_and_cold(Policy::Adaptive, &three_hot(), 3..15).await;
    // At most 3 of 4 terminals are kept, and the three hot accounts are worth keeping (asked for
    // far more often than once per 200 ms login): none of them ever logs in again.
    assert_eq!(hot_logins, [1, 1, 1], "hot accounts lost their terminals");
    // The documented wait: ⌈n / R⌉ × (login + max_turn) for n = 12 waiting users and R = 1
    // rotating terminal: 12 × (200 + 500) ms. Generous for a shared machine, far below the
    // requests' 30 s deadline.
    let bound = Duration::from_millis(12 * (LOGIN_MS + 500));
    assert!(
        slowest < bound + Duration::from_secs(2),
        "a cold account waited {slowest:?} (bound {bound:?})"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pool_policy_switches_hot_accounts_away_for_waiting_cold_ones() {
    // The same workload under `pool`: turns end and the hot accounts log in again, which is
    // what `adaptive` is for.
    let (hot_logins, _) = hot_and_cold(Policy::Pool, &three_hot(), 3..15).await;
    assert!(
        hot_logins.iter().sum::<usize>() > 3,
        "under `pool` the hot accounts kept their terminals: {hot_logins:?}"
    );
}

#[test]
fn pool_policy_is_adaptive_unless_set() {
    let load = |flags: &[&str]| pool_settings(flags).map(|p| p.policy);
    assert_eq!(load(&[]).unwrap(), Policy::Adaptive);
    assert_eq!(load(&["--pool-policy", "pool"]).unwrap(), Policy::Pool);
    assert_eq!(load(&["--pool-policy", "naive"]).unwrap(), Policy::Naive);
    let err = load(&["--pool-policy", "lru"]).unwrap_err();
    assert!(
        err.contains("POOL_POLICY") && err.contains("adaptive"),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kept_terminals_go_round_the_users_before_anyone_gets_a_second() {
    // 4 terminals, so at most 3 kept. User A has three accounts asked for every 20 ms, user B one
    // asked for every 40 ms. By frequency alone A's three would be kept and B's would rotate; by
    // rounds over the users A's two hottest and B's are kept, and cold accounts rotate through
    // the fourth terminal.
    let (user_a, user_b) = (uuid::Uuid::new_v4(), uuid::Uuid::new_v4());
    let hot = [
        (0, user_a, 20),
        (1, user_a, 20),
        (2, user_a, 20),
        (3, user_b, 40),
    ];
    let (logins, _) = hot_and_cold(Policy::Adaptive, &hot, 4..10).await;
    assert_eq!(logins[3], 1, "user B's only account lost its terminal");
    let a_logins: usize = logins[..3].iter().sum();
    assert!(
        a_logins > 3,
        "user A kept all three of its accounts ({a_logins} logins)"
    );
}

/// `run_if_idle` reads on a terminal already on the session and idle, or not at all: it never
/// logs in, never waits behind a lease, is not counted as a lease, and a waiter that came
/// meanwhile is served when it ends.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peek_reads_only_from_an_idle_terminal_already_on_the_session() {
    let r = rig(1, 2, 20, 0, opts()).await;
    let peek = |i: usize| {
        let pool = r.pool.clone();
        async move {
            pool.run_if_idle(&key(i), |t, at| {
                Box::pin(async move { t.account_info(&at).await })
            })
            .await
        }
    };
    // Nobody is logged in: nothing runs and nothing logs in.
    assert!(peek(0).await.is_none());
    assert_eq!(logins(&r.pool), 0);
    run(&r.pool, 0, info_op()).await.unwrap();
    assert_eq!(logins(&r.pool), 1);
    let leases = r.pool.stats().leases.load(Ordering::SeqCst);
    let info = peek(0)
        .await
        .expect("the terminal is on account 0")
        .unwrap();
    assert_eq!(info.login, BASE_LOGIN);
    assert_eq!(
        r.pool.stats().leases.load(Ordering::SeqCst),
        leases,
        "not a lease"
    );
    // Another account's session: not on any terminal, so no read and no switch.
    assert!(peek(1).await.is_none());
    assert_eq!(logins(&r.pool), 1);
    // A held terminal is not peeked at.
    let (open, holder) = hold(&r.pool, 0).await;
    assert!(peek(0).await.is_none());
    open.send(true).unwrap();
    holder.await.unwrap().unwrap();
    // A waiter arriving during a peek gets the terminal once the peek ends.
    let pool = r.pool.clone();
    let slow_peek = tokio::spawn(async move {
        pool.run_if_idle(&key(0), |t, at| {
            Box::pin(async move {
                tokio::time::sleep(Duration::from_millis(200)).await;
                t.account_info(&at).await
            })
        })
        .await
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    let waited = tokio::time::timeout(Duration::from_secs(5), run(&r.pool, 1, info_op()))
        .await
        .expect("the waiter was served after the peek")
        .unwrap();
    assert_eq!(waited.login, BASE_LOGIN + 1);
    assert!(slow_peek.await.unwrap().unwrap().is_ok());
}

/// `run_on_server_if_idle` reads from any terminal on an account of that server, as that
/// account's session, and tells "nobody is there" from "they are all busy".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_peek_uses_any_idle_terminal_on_that_server() {
    use mt5_bridge::pool::Peeked;
    let r = rig(1, 2, 20, 0, opts()).await;
    let peek = |server: &'static str| {
        let pool = r.pool.clone();
        async move {
            pool.run_on_server_if_idle(server, |t, at| {
                Box::pin(async move { t.account_info(&at).await })
            })
            .await
        }
    };
    assert!(matches!(peek("Sim-Demo").await, Peeked::NoTerminal));
    run(&r.pool, 1, info_op()).await.unwrap();
    let logins_now = logins(&r.pool);
    // Read as the account the terminal is on (the guard would refuse any other).
    match peek("Sim-Demo").await {
        Peeked::Ran(Ok(info)) => assert_eq!(info.login, BASE_LOGIN + 1),
        other => panic!("{other:?}"),
    }
    assert!(matches!(peek("Other-Server").await, Peeked::NoTerminal));
    let (open, holder) = hold(&r.pool, 1).await;
    assert!(matches!(peek("Sim-Demo").await, Peeked::Busy));
    open.send(true).unwrap();
    holder.await.unwrap().unwrap();
    assert_eq!(logins(&r.pool), logins_now, "a peek never logs in");
}

/// A password source that cannot give the password answers through the pool exactly as its
/// caller would have (the service's `409 account_credentials_invalid` with its reason), and no
/// login is tried; a failure that is no answer of the service's is an internal error.
#[tokio::test]
async fn a_password_the_source_could_not_give_answers_as_the_source_said() {
    let r = rig(1, 1, 0, 0, opts()).await;
    let refused = || -> PasswordFuture {
        Box::pin(async {
            Err(ApiError::AccountCredentialsInvalid(CredentialProblem::Undecryptable).into())
        })
    };
    let err = ApiError::from(r.pool.run(&key(0), &refused, info_op()).await.unwrap_err());
    assert_eq!(err.status_and_code().1, "account_credentials_invalid");
    assert_eq!(err.status_and_code().0.as_u16(), 409);
    assert_eq!(err.body()["error"]["details"]["reason"], "undecryptable");
    let broken =
        || -> PasswordFuture { Box::pin(async { Err(PasswordUnavailable::new("vault closed")) }) };
    let err = ApiError::from(r.pool.run(&key(0), &broken, info_op()).await.unwrap_err());
    assert_eq!(err.status_and_code().1, "internal_error");
    assert_eq!(logins(&r.pool), 0);
    // The terminal was given back each time: a good password is served at once.
    run(&r.pool, 0, info_op()).await.unwrap();
    assert_eq!(logins(&r.pool), 1);
}
