//! Bots through the API: one pass per closed bar on a clock the test moves, the closed-bar rule at
//! the boundary, weekend gaps and downtime, their own positions only, netting, orders in doubt, the
//! faults that stop them, limits, the kill switch, isolation between users and the Data API.

use crate::common::{self, routes};
use mt5::clock::ManualClock;
use mt5::{RatesRange, Timeframe};
use mt5_sim::broker::{Broker, BrokerConfig, MarketData};
use mt5_sim::prices::PriceFeed;
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use uuid::Uuid;

const HOUR: i64 = 3_600_000;

fn code(b: &Value) -> &str {
    b["error"]["code"].as_str().unwrap_or("<none>")
}

fn params() -> Value {
    json!({"symbol": "EURUSD", "risk_per_trade": 0.01, "max_positions": 3})
}

fn utc(ms: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(ms / 1000)
        .unwrap()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

async fn app_at(
    db: common::Db,
    sim: mt5_sim::config::SimConfig,
    t: i64,
    tweak: impl FnOnce(&mut std::collections::HashMap<&'static str, String>),
) -> (common::TestApp, ManualClock) {
    let clock = ManualClock::new(t);
    let (broker, _feed) =
        mt5_sim::broker::open_from_config_with_clock(&sim, Arc::new(clock.clone()))
            .await
            .unwrap();
    (
        common::spawn_on_broker_with(db, sim, broker, tweak).await,
        clock,
    )
}

/// At a moment where ma_crossover enters on EURUSD H1 (a minute past the hour).
async fn app_at_signal(db: common::Db) -> (common::TestApp, ManualClock, i64) {
    app_before_signal(db, common::sim_config(), 0, |_| {}).await
}

/// With `sim` and `tweak`, the clock `before` ms ahead of the moment `t` (returned) where
/// ma_crossover enters.
async fn app_before_signal(
    db: common::Db,
    sim: mt5_sim::config::SimConfig,
    before: i64,
    tweak: impl FnOnce(&mut std::collections::HashMap<&'static str, String>),
) -> (common::TestApp, ManualClock, i64) {
    let t = common::signal_time(&sim, &params());
    let (app, clock) = app_at(db, sim, t - before, tweak).await;
    (app, clock, t)
}

async fn create(app: &common::TestApp, t: &str, body: Value) -> Value {
    let (s, b) = app.post(routes::BOTS, t, body).await;
    assert_eq!(s, 201, "{b}");
    b
}

fn bot_body(account: &str, name: &str) -> Value {
    json!({"name": name, "account_id": account, "algorithm_id": "ma_crossover", "parameters": params()})
}

/// The simulator with logins of `login_latency_ms` and hedging demo accounts like 10001 for each
/// of `logins`, password `Pw-<login>!`.
fn sim_with_accounts(
    login_latency_ms: u64,
    logins: impl IntoIterator<Item = u64>,
) -> mt5_sim::config::SimConfig {
    let mut sim = common::sim_config();
    sim.login_latency_ms = login_latency_ms;
    let template = sim
        .accounts
        .iter()
        .find(|a| a.login == 10001)
        .unwrap()
        .clone();
    for login in logins {
        let mut a = template.clone();
        a.login = login;
        a.password = secrecy::SecretString::from(format!("Pw-{login}!"));
        sim.accounts.push(a);
    }
    sim
}

/// Polls the bot until `done` holds (15 s at most).
async fn until(
    app: &common::TestApp,
    t: &str,
    id: &str,
    what: &str,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let (s, b) = app.get(&routes::bot(id), t).await;
        assert_eq!(s, 200, "{b}");
        if done(&b) {
            return b;
        }
        assert!(std::time::Instant::now() < deadline, "{what}: {b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The bot as it is after the scheduler has had several ticks to act.
async fn settled(app: &common::TestApp, t: &str, id: &str) -> Value {
    tokio::time::sleep(Duration::from_millis(1200)).await;
    app.get(&routes::bot(id), t).await.1
}

async fn positions(app: &common::TestApp, t: &str) -> Vec<Value> {
    let (s, b) = app.get(routes::POSITIONS, t).await;
    assert_eq!(s, 200, "{b}");
    b["positions"].as_array().cloned().unwrap_or_default()
}

async fn journal(app: &common::TestApp, t: &str) -> Vec<Value> {
    let (s, b) = app.get(&format!("{}?limit=500", routes::JOURNAL), t).await;
    assert_eq!(s, 200, "{b}");
    b["entries"].as_array().cloned().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_decides_each_closed_bar_once_and_never_between() {
    // A server two hours ahead of UTC: every time the API shows is UTC all the same.
    let mut sim = common::sim_config();
    sim.server_time_offset_s = 7200;
    let (app, clock, t) = app_before_signal(common::Db::Sqlite, sim, 0, |_| {}).await;
    let (tok, account) = app.trader(10001).await;
    let bar = t - t.rem_euclid(HOUR) - HOUR;

    let b = create(&app, &tok, bot_body(&account, "trend")).await;
    assert_eq!(b["state"], "running");
    assert_eq!(b["netting"], false);
    assert_eq!(b["timeframe"], "H1");
    let magic = b["magic"].as_i64().unwrap();
    assert!((2_000_000_000..1 << 31).contains(&magic), "{magic}");
    let id = b["id"].as_str().unwrap().to_string();

    // Its first pass decides on the bar that closed last, and enters (the pass is counted when
    // claimed; its run is there once it is done).
    let b = until(&app, &tok, &id, "first pass", |b| {
        b["passes"] == 1 && b["last_run"].is_object()
    })
    .await;
    assert_eq!(b["last_bar_time"], utc(bar), "{b}");
    assert_eq!(b["trades"], 1, "{b}");
    assert_eq!(b["missed_bars"], 0);
    assert_eq!(b["last_run"]["bot_id"], id.as_str());
    assert_eq!(b["last_run"]["bar_time"], utc(bar));
    // The list shows each bot as the bot's own route does.
    let (s, page) = app.get(routes::BOTS, &tok).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["bots"][0]["last_run"], b["last_run"], "{page}");
    assert_eq!(page["bots"][0]["last_bar_time"], utc(bar), "{page}");
    let mine: Vec<Value> = positions(&app, &tok)
        .await
        .into_iter()
        .filter(|p| p["magic"].as_i64() == Some(magic))
        .collect();
    assert_eq!(mine.len(), 1, "the bot's position carries its magic");

    // Within the bar: nothing.
    clock.advance_ms(20 * 60_000);
    let b = settled(&app, &tok, &id).await;
    assert_eq!(b["passes"], 1, "{b}");

    // At the next boundary: one pass on the bar that just closed, and only one.
    clock.set(t - t.rem_euclid(HOUR) + HOUR);
    let b = until(&app, &tok, &id, "second pass", |b| b["passes"] == 2).await;
    assert_eq!(b["last_bar_time"], utc(bar + HOUR), "{b}");
    let b = settled(&app, &tok, &id).await;
    assert_eq!(b["passes"], 2, "no bar twice: {b}");
    assert_eq!(b["next_bar_time"], utc(bar + 3 * HOUR));

    // The replay re-evaluates both passes on the cached bars and the recorded positions: the
    // simulator's history is not revised, so nothing differs.
    let (s, r) = app.get(&format!("{}/replay", routes::bot(&id)), &tok).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["passes"], 2, "{r}");
    assert_eq!(r["differences"], json!([]), "{r}");
    // A recorded decision that the bars do not give is listed, with both versions.
    let changed = app
        .as_data_api_user(
            Uuid::nil(),
            &format!(
                "update bot_passes set intents = json_set(intents, '$.decided', json('[]')) \
                 where bot_id = '{id}' and bar_time = {}",
                bar / 1000 + 7200
            ),
        )
        .await;
    assert_eq!(changed, 1);
    let (_, r) = app.get(&format!("{}/replay", routes::bot(&id)), &tok).await;
    let diffs = r["differences"].as_array().unwrap();
    assert_eq!(diffs.len(), 1, "{r}");
    assert_eq!(diffs[0]["bar_time"], utc(bar));
    assert_eq!(diffs[0]["recorded"], json!([]));
    assert_eq!(diffs[0]["replayed"][0]["action"], "entry", "{r}");
    // Page by page: `next_from` continues where a page stopped.
    let (s, r) = app
        .get(&format!("{}/replay?limit=1", routes::bot(&id)), &tok)
        .await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(r["passes"], 1, "{r}");
    assert_eq!(r["differences"].as_array().unwrap().len(), 1, "{r}");
    assert_eq!(r["next_from"], utc(bar + HOUR), "{r}");
    let (_, r) = app
        .get(
            &format!(
                "{}/replay?limit=1&from={}",
                routes::bot(&id),
                utc(bar + HOUR)
            ),
            &tok,
        )
        .await;
    assert_eq!(r["passes"], 1, "{r}");
    assert_eq!(r["differences"], json!([]), "{r}");
    assert_eq!(r["next_from"], Value::Null, "{r}");
    for bad in ["limit=0", "limit=10001", "limit=x"] {
        let (s, e) = app
            .get(&format!("{}/replay?{bad}", routes::bot(&id)), &tok)
            .await;
        assert_eq!((s, code(&e)), (422, "validation_failed"), "{bad}: {e}");
    }

    // Its runs carry the bot; the runs list leaves bot passes out unless asked.
    let (_, runs) = app.get(routes::RUNS, &tok).await;
    assert_eq!(runs["runs"].as_array().unwrap().len(), 0, "{runs}");
    let (s, runs) = app
        .get(&format!("{}?bot_id={id}", routes::RUNS), &tok)
        .await;
    assert_eq!(s, 200, "{runs}");
    let runs = runs["runs"].as_array().unwrap();
    assert!(!runs.is_empty());
    assert!(runs.iter().all(|r| r["bot_id"] == id.as_str()));
    // Every order it sent is journaled as an algorithm's.
    let entries = journal(&app, &tok).await;
    assert_eq!(
        entries.len() as i64,
        b["trades"].as_i64().unwrap(),
        "{entries:?}"
    );
    assert!(entries.iter().all(|e| e["source"] == "algorithm"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_paper_bot_decides_what_execute_decides_and_sends_nothing() {
    let (app, _clock, _t) = app_at_signal(common::Db::Sqlite).await;
    let (tok, account) = app.trader(10001).await;
    let mut body = bot_body(&account, "paper");
    body["dry_run"] = json!(true);
    let b = create(&app, &tok, body).await;
    let id = b["id"].as_str().unwrap().to_string();
    let b = until(&app, &tok, &id, "paper pass", |b| b["passes"] == 1).await;
    assert_eq!(b["trades"], 1, "{b}");
    let bot_trades = b["last_run"]["trades"].clone();
    assert_eq!(b["last_run"]["dry_run"], true);

    let (s, ex) = app
        .post(
            routes::EXECUTE,
            &tok,
            json!({"account_id": account, "algorithm_id": "ma_crossover", "parameters": params(), "dry_run": true}),
        )
        .await;
    assert_eq!(s, 200, "{ex}");
    let strip = |v: &Value| -> Vec<Value> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|t| {
                json!([
                    t["symbol"],
                    t["type"],
                    t["volume"],
                    t["price"],
                    t["sl"],
                    t["tp"]
                ])
            })
            .collect()
    };
    assert_eq!(
        strip(&bot_trades),
        strip(&ex["trades"]),
        "one strategy code"
    );
    assert!(
        journal(&app, &tok).await.is_empty(),
        "a paper bot sends nothing"
    );
    assert!(positions(&app, &tok).await.is_empty());
}

/// The simulator's prices with MT5's gaps: a bar appears only at its first tick (`first_tick_s`
/// after its open), and no bar at all opens in the `closed` window (a weekend), server seconds.
struct Gapped {
    feed: Arc<PriceFeed>,
    first_tick_s: i64,
    closed: (i64, i64),
}

impl MarketData for Gapped {
    fn market(&self) -> &dyn mt5_sim::market::Market {
        MarketData::market(self.feed.as_ref())
    }
    fn tick(&self, symbol: &str, utc_ms: i64) -> Option<mt5::Tick> {
        MarketData::tick(self.feed.as_ref(), symbol, utc_ms)
    }
    fn rates(
        &self,
        symbol: &str,
        timeframe: Timeframe,
        range: RatesRange,
        now_utc_ms: i64,
    ) -> Result<Vec<mt5::Rate>, mt5::TerminalError> {
        let mut bars = MarketData::rates(self.feed.as_ref(), symbol, timeframe, range, now_utc_ms)?;
        bars.retain(|b| !(self.closed.0 <= b.time && b.time < self.closed.1));
        let now_s = now_utc_ms.div_euclid(1000);
        if bars
            .last()
            .is_some_and(|b| now_s < b.time + self.first_tick_s)
        {
            bars.pop();
        }
        Ok(bars)
    }
    fn symbol_info(&self, symbol: &str, utc_ms: i64, ccy: &str) -> Option<mt5::SymbolInfo> {
        MarketData::symbol_info(self.feed.as_ref(), symbol, utc_ms, ccy)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_boundary_decides_the_bar_just_closed_gaps_miss_nothing_and_downtime_counts() {
    let sim = common::sim_config();
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let b0 = now - now.rem_euclid(HOUR) - 400 * HOUR;
    let clock = ManualClock::new(b0 + 10 * 60_000);
    let feed = Arc::new(PriceFeed::new(
        sim.seed,
        mt5_sim::symbols::builtin_symbols(),
        0,
    ));
    let s = b0 / 1000;
    let broker = Broker::open(BrokerConfig {
        accounts: sim.accounts.clone(),
        state: sim.state.clone(),
        data: Arc::new(Gapped {
            feed,
            first_tick_s: 30,
            closed: (s + 2 * 3600, s + 5 * 3600),
        }),
        clock: Arc::new(clock.clone()),
        server_time_offset_s: 0,
    })
    .await
    .unwrap();
    let app = common::spawn_on_broker(common::Db::Sqlite, sim, broker).await;
    let (tok, account) = app.trader(10001).await;
    let mut body = bot_body(&account, "gaps");
    body["dry_run"] = json!(true);
    let id = create(&app, &tok, body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = until(&app, &tok, &id, "first", |b| b["passes"] == 1).await;
    assert_eq!(b["last_bar_time"], utc(b0 - HOUR));

    // Exactly at the boundary, before the next bar's first tick: the last bar returned is the one
    // that just closed, and it is decided on.
    clock.set(b0 + HOUR);
    let b = until(&app, &tok, &id, "at the boundary", |b| b["passes"] == 2).await;
    assert_eq!(b["last_bar_time"], utc(b0), "{b}");

    // The market closes after b0+1h: one pass on that bar, then none while closed.
    clock.set(b0 + 2 * HOUR + 10 * 60_000);
    let b = until(&app, &tok, &id, "before the gap", |b| b["passes"] == 3).await;
    assert_eq!(b["last_bar_time"], utc(b0 + HOUR));
    clock.set(b0 + 3 * HOUR + 10 * 60_000);
    let b = settled(&app, &tok, &id).await;
    assert_eq!(b["passes"], 3, "no pass while the market is closed: {b}");
    clock.set(b0 + 5 * HOUR + 10 * 60_000);
    let b = settled(&app, &tok, &id).await;
    assert_eq!(
        b["passes"], 3,
        "the first bar after the gap is still forming: {b}"
    );
    clock.set(b0 + 6 * HOUR + 60_000);
    let b = until(&app, &tok, &id, "after the gap", |b| b["passes"] == 4).await;
    assert_eq!(b["last_bar_time"], utc(b0 + 5 * HOUR));
    assert_eq!(
        b["missed_bars"], 0,
        "bars that never existed are not missed: {b}"
    );

    // Downtime: the scheduler sees the clock five bars later. One pass, on the latest closed bar;
    // the four bars in between that exist are counted missed, never replayed.
    clock.set(b0 + 11 * HOUR + 60_000);
    let b = until(&app, &tok, &id, "after downtime", |b| b["passes"] == 5).await;
    assert_eq!(b["last_bar_time"], utc(b0 + 10 * HOUR));
    assert_eq!(b["missed_bars"], 4, "{b}");
    let b = settled(&app, &tok, &id).await;
    assert_eq!(b["passes"], 5, "no backlog: {b}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bots_keep_to_their_own_positions_and_a_netting_symbol_takes_one_bot() {
    let (app, _clock, _t) = app_at_signal(common::Db::Sqlite).await;
    let (tok, account) = app.trader(10001).await;
    let a = create(&app, &tok, bot_body(&account, "a")).await;
    let b = create(&app, &tok, bot_body(&account, "b")).await;
    assert_ne!(a["magic"], b["magic"], "one magic per bot of an account");
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());
    until(&app, &tok, a_id, "a enters", |b| b["trades"] == 1).await;
    until(&app, &tok, b_id, "b enters", |b| b["trades"] == 1).await;
    let (s, manual) = app
        .post(
            routes::ORDERS,
            &tok,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}),
        )
        .await;
    assert_eq!(s, 200, "{manual}");
    assert_eq!(positions(&app, &tok).await.len(), 3);

    // Stopping a with its positions closes a's only.
    let (s, stopped) = app
        .post(
            &routes::bot_action(a_id, "stop"),
            &tok,
            json!({"close_positions": true}),
        )
        .await;
    assert_eq!(s, 200, "{stopped}");
    assert_eq!(stopped["state"], "stopped");
    assert_eq!(stopped["state_reason"], "user");
    assert_eq!(stopped["open_positions"], Value::Null, "{stopped}");
    let left = positions(&app, &tok).await;
    let magics: Vec<i64> = left.iter().map(|p| p["magic"].as_i64().unwrap()).collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(magics.contains(&b["magic"].as_i64().unwrap()));
    assert!(magics.contains(&0), "the manual position stays");

    // Deleting: only once stopped; its runs keep its id.
    let (s, e) = app.delete(&routes::bot(b_id), &tok).await;
    assert_eq!((s, code(&e)), (409, "bot_state_conflict"), "{e}");
    let (s, _) = app.delete(&routes::bot(a_id), &tok).await;
    assert_eq!(s, 200);
    let (s, e) = app.get(&routes::bot(a_id), &tok).await;
    assert_eq!((s, code(&e)), (404, "bot_not_found"));
    let (_, runs) = app
        .get(&format!("{}?bot_id={a_id}", routes::RUNS), &tok)
        .await;
    assert!(!runs["runs"].as_array().unwrap().is_empty(), "{runs}");

    // A netting account: one running or paused bot per symbol.
    let netting = app
        .connect(&tok, 10002, "Sim-10002!", "Sim-Demo", "netting")
        .await;
    let first = create(&app, &tok, bot_body(&netting, "n1")).await;
    assert_eq!(first["netting"], true);
    let (s, e) = app.post(routes::BOTS, &tok, bot_body(&netting, "n2")).await;
    assert_eq!((s, code(&e)), (409, "bot_symbol_taken"), "{e}");
    assert_eq!(e["error"]["details"]["symbol"], "EURUSD");
    assert_eq!(e["error"]["details"]["bot_id"], first["id"]);
    let mut other = bot_body(&netting, "n3");
    other["parameters"]["symbol"] = json!("GBPUSD");
    create(&app, &tok, other).await;
    let first_id = first["id"].as_str().unwrap();
    app.post(&routes::bot_action(first_id, "pause"), &tok, json!({}))
        .await;
    let (s, _) = app.post(routes::BOTS, &tok, bot_body(&netting, "n2")).await;
    assert_eq!(s, 409, "a paused bot still holds its symbol");
    app.post(&routes::bot_action(first_id, "stop"), &tok, json!({}))
        .await;
    create(&app, &tok, bot_body(&netting, "n2")).await;
    let (s, e) = app
        .post(&routes::bot_action(first_id, "resume"), &tok, json!({}))
        .await;
    assert_eq!(
        (s, code(&e)),
        (409, "bot_state_conflict"),
        "a stopped bot stays stopped"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_order_in_doubt_skips_the_next_bar_and_nothing_is_doubled() {
    let mut sim = common::sim_config();
    sim.faults.order_dropped = 1.0;
    let (app, clock, t) = app_before_signal(common::Db::Sqlite, sim, 0, |env| {
        env.insert("TERMINAL_TIMEOUT_MS", "1500".into());
    })
    .await;
    let (tok, account) = app.trader(10001).await;
    let id = create(&app, &tok, bot_body(&account, "doubt")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    until(&app, &tok, &id, "first pass", |b| b["passes"] == 1).await;
    let entries = journal(&app, &tok).await;
    assert_eq!(entries.len(), 1, "{entries:?}");
    assert!(
        ["unknown", "pending"].contains(&entries[0]["status"].as_str().unwrap()),
        "{entries:?}"
    );
    clock.set(t - t.rem_euclid(HOUR) + HOUR + 1000);
    let b = until(&app, &tok, &id, "in doubt", |b| b["passes"] == 2).await;
    assert_eq!(b["skipped_bars"], 1, "{b}");
    assert_eq!(b["last_skip_reason"], "order_in_doubt");
    assert_eq!(b["state"], "running");
    assert_eq!(
        journal(&app, &tok).await.len(),
        1,
        "nothing sent while in doubt"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_stop_or_skip_as_documented_and_nothing_is_sent_after() {
    let mut sim = common::sim_config();
    for a in &mut sim.accounts {
        if a.login == 10001 && a.server == "Sim-Demo" {
            a.investor_password = Some(secrecy::SecretString::from("Investor-10001!"));
        }
    }
    let (app, clock, t) = app_before_signal(common::Db::Sqlite, sim, 0, |_| {}).await;
    let next_bar = |k: i64| t - t.rem_euclid(HOUR) + k * HOUR + 1000;

    // An investor session: a trading bot faults, a paper bot runs.
    let tok = app.token(Uuid::new_v4());
    let investor = app
        .connect(&tok, 10001, "Investor-10001!", "Sim-Demo", "read-only")
        .await;
    let live = create(&app, &tok, bot_body(&investor, "live")).await;
    let mut paper = bot_body(&investor, "paper");
    paper["dry_run"] = json!(true);
    let paper = create(&app, &tok, paper).await;
    let b = until(&app, &tok, live["id"].as_str().unwrap(), "faulted", |b| {
        b["state"] == "faulted"
    })
    .await;
    assert_eq!(b["state_reason"], "read_only_account", "{b}");
    until(
        &app,
        &tok,
        paper["id"].as_str().unwrap(),
        "paper runs",
        |b| b["passes"] == 1,
    )
    .await;
    assert!(journal(&app, &tok).await.is_empty());

    // A live account needs the confirmation (a paper bot does not).
    let (s, e) = app
        .post(
            routes::BOTS,
            &tok,
            bot_body(
                &app.connect(&tok, 20001, "Live-20001!", "Sim-Live", "real")
                    .await,
                "x",
            ),
        )
        .await;
    assert_eq!((s, code(&e)), (422, "live_confirmation_required"), "{e}");

    // trading_enabled false: the bar is skipped, the bot keeps running.
    let (tok, account) = app.trader(10003).await;
    let (s, e) = app
        .put(
            &routes::account(&account),
            &tok,
            json!({"risk_limits": {"trading_enabled": false}}),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    let id = create(&app, &tok, bot_body(&account, "off")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = until(&app, &tok, &id, "disabled", |b| b["skipped_bars"] == 1).await;
    assert_eq!(b["last_skip_reason"], "trading_disabled");
    assert_eq!(b["state"], "running");
    assert!(journal(&app, &tok).await.is_empty());

    // The daily loss reached (manual positions' spreads are already a loss against a tiny
    // limit): every bot of the account paused, until the user resumes it.
    let (s, e) = app
        .put(
            &routes::account(&account),
            &tok,
            json!({"risk_limits": {"trading_enabled": true}}),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    // A buy and a sell of one lot: together they lose two spreads whichever way the price goes.
    for side in ["buy", "sell"] {
        let (s, o) = app
            .post(
                routes::ORDERS,
                &tok,
                json!({"symbol": "EURUSD", "type": side, "volume": 1.0}),
            )
            .await;
        assert_eq!(s, 200, "{o}");
    }
    let (s, e) = app
        .put(
            &routes::account(&account),
            &tok,
            json!({"risk_limits": {"max_daily_loss": 0.000001}}),
        )
        .await;
    assert_eq!(s, 200, "{e}");
    clock.set(next_bar(1));
    let b = until(&app, &tok, &id, "daily loss", |b| b["state"] == "paused").await;
    assert_eq!(b["state_reason"], "daily_loss_reached", "{b}");
    let sent = journal(&app, &tok).await.len();
    clock.set(next_bar(2));
    let b = settled(&app, &tok, &id).await;
    assert_eq!(b["state"], "paused", "a new bar does not resume it");
    assert_eq!(journal(&app, &tok).await.len(), sent);

    // Resumed with the loss still there, it pauses again at its next pass.
    let (s, b) = app
        .post(&routes::bot_action(&id, "resume"), &tok, json!({}))
        .await;
    assert_eq!((s, b["state"].as_str()), (200, Some("running")), "{b}");
    clock.set(next_bar(3));
    let b = until(&app, &tok, &id, "paused again", |b| b["state"] == "paused").await;
    assert_eq!(b["state_reason"], "daily_loss_reached");

    // The account deleted: its bots stop, paused ones too.
    let (s, _) = app.delete(&routes::account(&account), &tok).await;
    assert_eq!(s, 200);
    let (_, b) = app.get(&routes::bot(&id), &tok).await;
    assert_eq!(b["state"], "stopped", "{b}");
    assert_eq!(b["state_reason"], "account_deleted", "{b}");
    let (s, e) = app
        .post(&routes::bot_action(&id, "resume"), &tok, json!({}))
        .await;
    assert_eq!((s, code(&e)), (409, "bot_state_conflict"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_the_kill_switch_and_other_users() {
    let sim = common::sim_config();
    let (app, _clock, _t) = app_before_signal(common::Db::Sqlite, sim, 0, |env| {
        env.insert("BOTS_PER_ACCOUNT", "3".into());
    })
    .await;
    let (tok, account) = app.trader(10001).await;
    let mut paper = bot_body(&account, "p");
    paper["dry_run"] = json!(true);
    // Parallel creates cannot pass the limit together.
    let tries: Vec<_> = (0..6)
        .map(|_| app.post(routes::BOTS, &tok, paper.clone()))
        .collect();
    let answers = futures_util::future::join_all(tries).await;
    let made = answers.iter().filter(|(s, _)| *s == 201).count();
    assert_eq!(made, 3, "{answers:?}");
    let refused = answers.iter().find(|(s, _)| *s == 409).unwrap();
    assert_eq!(code(&refused.1), "bot_limit_reached");
    assert_eq!(refused.1["error"]["details"]["limit"], 3);
    assert_eq!(refused.1["error"]["details"]["current"], 3);
    assert_eq!(refused.1["error"]["details"]["setting"], "BOTS_PER_ACCOUNT");
    let (_, page) = app.get(routes::BOTS, &tok).await;
    let ids: Vec<String> = page["bots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(ids.len(), 3);

    // The kill switch pauses every running bot; pausing again changes nothing.
    let (s, k) = app
        .post(routes::KILL_SWITCH, &tok, json!({"account_id": account}))
        .await;
    assert_eq!(s, 200, "{k}");
    assert_eq!(k["paused"].as_array().unwrap().len(), 3);
    let (s, b) = app
        .post(&routes::bot_action(&ids[0], "pause"), &tok, json!({}))
        .await;
    assert_eq!(s, 200);
    assert_eq!(b["state_reason"], "kill_switch", "a no-op keeps the reason");
    let (s, b) = app
        .post(&routes::bot_action(&ids[0], "resume"), &tok, json!({}))
        .await;
    assert_eq!((s, b["state"].as_str()), (200, Some("running")));

    // Another user sees none of it and touches none of it.
    let other = app.token(Uuid::new_v4());
    let (_, page) = app.get(routes::BOTS, &other).await;
    assert_eq!(page["bots"], json!([]));
    for (method, path) in [
        ("GET", routes::bot(&ids[0])),
        ("PUT", routes::bot(&ids[0])),
        ("DELETE", routes::bot(&ids[0])),
        ("POST", routes::bot_action(&ids[0], "pause")),
        ("POST", routes::bot_action(&ids[0], "resume")),
        ("POST", routes::bot_action(&ids[0], "stop")),
    ] {
        let (s, e) = match method {
            "GET" => app.get(&path, &other).await,
            "PUT" => app.put(&path, &other, json!({"parameters": {}})).await,
            "DELETE" => app.delete(&path, &other).await,
            _ => app.post(&path, &other, json!({})).await,
        };
        assert_eq!(
            (s, code(&e)),
            (404, "bot_not_found"),
            "{method} {path}: {e}"
        );
    }
    let (s, e) = app.post(routes::BOTS, &other, paper.clone()).await;
    assert_eq!((s, code(&e)), (404, "account_not_found"), "{e}");
    let (s, e) = app
        .post(routes::KILL_SWITCH, &other, json!({"account_id": account}))
        .await;
    assert_eq!((s, code(&e)), (404, "account_not_found"), "{e}");
    let (s, b) = app.get(&routes::bot(&ids[1]), &tok).await;
    assert_eq!((s, b["state"].as_str()), (200, Some("paused")), "untouched");

    // Bad input names its field.
    let (s, e) = app
        .put(
            &routes::bot(&ids[1]),
            &tok,
            json!({"parameters": {"risk_per_trade": 7}}),
        )
        .await;
    assert_eq!((s, code(&e)), (422, "validation_failed"), "{e}");
    assert_eq!(
        e["error"]["details"]["fields"][0]["field"],
        "parameters.risk_per_trade"
    );
    let (s, e) = app
        .post(
            routes::BOTS,
            &tok,
            json!({"name": "", "account_id": account, "algorithm_id": "ma_crossover"}),
        )
        .await;
    assert_eq!((s, code(&e)), (422, "validation_failed"), "{e}");
    let (s, e) = app.get(&routes::bot("not-a-uuid"), &tok).await;
    assert_eq!((s, code(&e)), (422, "validation_failed"), "{e}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_cannot_write_bots_through_the_data_api() {
    if common::postgres_url().is_none() {
        crate::skip::postgres_skipped();
        return;
    }
    let app = common::spawn(common::Db::Postgres).await;
    let user = Uuid::new_v4();
    let tok = app.token(user);
    let account = app
        .connect(&tok, 10001, "Sim-10001!", "Sim-Demo", "main")
        .await;
    let mut body = bot_body(&account, "locked");
    body["dry_run"] = json!(true);
    let (s, b) = app.post(routes::BOTS, &tok, body).await;
    assert_eq!(s, 201, "{b}");
    let id = b["id"].as_str().unwrap();
    app.post(&routes::bot_action(id, "pause"), &tok, json!({}))
        .await;
    use sqlx::{Connection, Executor};
    for sql in [
        format!("update bots set state = 'running' where id = '{id}'"),
        format!("update bots set confirm_live = true where id = '{id}'"),
        format!("update bots set magic = 2000000009 where id = '{id}'"),
        format!("update bots set parameters = '{{}}' where id = '{id}'"),
        format!("delete from bots where id = '{id}'"),
        format!(
            "insert into bots (id, user_id, account_id, name, algorithm_id, algorithm_kind, \
             parameters, symbol, timeframe, magic) values ('{}', '{user}', '{account}', 'x', \
             'ma_crossover', 'ma_crossover', '{{}}', 'EURUSD', 'H1', 2000000100)",
            Uuid::new_v4()
        ),
        format!("insert into bot_passes (bot_id, bar_time, replica) values ('{id}', 1, 'x')"),
        "select * from bot_passes".to_string(),
        "select * from bot_waves".to_string(),
    ] {
        let mut conn = sqlx::PgConnection::connect(&app.database_url)
            .await
            .unwrap();
        let mut tx = conn.begin().await.unwrap();
        tx.execute("set local role authenticated").await.unwrap();
        sqlx::query("select set_config('request.jwt.claims', $1, true)")
            .bind(json!({"sub": user.to_string(), "role": "authenticated"}).to_string())
            .execute(&mut *tx)
            .await
            .unwrap();
        let done = tx.execute(sql.as_str()).await;
        assert!(done.is_err(), "{sql} was allowed: {done:?}");
    }
    // Reading their own bot is allowed.
    assert_eq!(
        app.as_data_api_user(user, &format!("select 1 from bots where id = '{id}'"))
            .await,
        1
    );
    let (_, b) = app.get(&routes::bot(id), &tok).await;
    assert_eq!(b["state"], "paused");
    assert_eq!(b["confirm_live"], false);
    let (s, page) = app.get(routes::BOTS, &tok).await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["bots"][0]["id"], id, "{page}");
    assert_eq!(page["bots"][0]["last_run"], b["last_run"], "{page}");
    app.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wave_logs_each_account_in_once_and_users_keep_trading_meanwhile() {
    const USERS: u64 = 8;
    let sim = sim_with_accounts(200, 40_001..40_001 + USERS);
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let b0 = now - now.rem_euclid(HOUR) - 300 * HOUR;
    let (app, clock) = app_at(common::Db::Sqlite, sim, b0 + 10 * 60_000, |env| {
        env.insert("TERMINALS", "sim:2".into());
    })
    .await;
    let mut users = Vec::new();
    let mut bots = Vec::new();
    for k in 0..USERS {
        let login = 40_001 + k;
        let tok = app.token(Uuid::new_v4());
        let account = app
            .connect(&tok, login, &format!("Pw-{login}!"), "Sim-Demo", "wave")
            .await;
        for symbol in ["EURUSD", "GBPUSD"] {
            let b = create(
                &app,
                &tok,
                json!({"name": symbol, "account_id": account, "algorithm_id": "ma_crossover",
                       "dry_run": true, "parameters": {"symbol": symbol}}),
            )
            .await;
            bots.push((tok.clone(), b["id"].as_str().unwrap().to_string()));
        }
        users.push((tok, account));
    }
    let all_passed = |n: i64| {
        let (app, bots) = (&app, &bots);
        async move {
            for (tok, id) in bots {
                until(app, tok, id, "wave", |b| b["passes"] == n).await;
            }
        }
    };
    all_passed(1).await;

    // A wave on its own: at most one login per account (8 accounts, 2 terminals).
    let logins = |app: &common::TestApp| {
        app.state
            .pool
            .stats()
            .logins
            .load(std::sync::atomic::Ordering::SeqCst)
    };
    let before = logins(&app);
    let mark = audit_mark(&app).await;
    clock.set(b0 + HOUR);
    all_passed(2).await;
    let used = logins(&app) - before;
    assert!(used <= USERS, "{used} logins for {USERS} accounts");
    // Eight accounts of one trade server, two series: each read from a terminal once.
    let reads = audit_after(&app, mark)
        .await
        .into_iter()
        .filter(|r| r.operation == "copy_rates")
        .count();
    assert_eq!(reads, 2, "series read once per trade server and bar close");

    // A wave while the users read their accounts (2 requests a second, the users in turn):
    // nobody is refused or told to come back.
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (base, client, stop, users) = (
            app.base.clone(),
            app.client.clone(),
            stop.clone(),
            users.clone(),
        );
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            for (tok, account) in users.iter().cycle() {
                if stop.load(std::sync::atomic::Ordering::SeqCst) {
                    break;
                }
                let s = client
                    .get(format!("{base}{}", routes::ACCOUNT))
                    .bearer_auth(tok)
                    .header("X-Account-Id", account)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                statuses.push(s);
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            statuses
        })
    };
    clock.set(b0 + 2 * HOUR);
    all_passed(3).await;
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let statuses = load.await.unwrap();
    assert!(!statuses.is_empty());
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    for (tok, id) in &bots {
        let (_, b) = app.get(&routes::bot(id), tok).await;
        assert_eq!(b["skipped_bars"], 0, "no bar lost to the load: {b}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_bot_is_backtested_over_its_live_period_and_compared_with_its_live_trades() {
    let (app, _clock, t) = app_at_signal(common::Db::Sqlite).await;
    let (tok, account) = app.trader(10001).await;
    let b = create(&app, &tok, bot_body(&account, "tested")).await;
    let id = b["id"].as_str().unwrap().to_string();
    let magic = b["magic"].as_i64().unwrap();
    until(&app, &tok, &id, "live pass", |b| b["trades"] == 1).await;

    // Not with what the bot already says; another user's bot is not found.
    let (s, e) = app
        .post(
            routes::BACKTESTS,
            &tok,
            json!({"bot_id": id, "account_id": account}),
        )
        .await;
    assert_eq!((s, code(&e)), (422, "invalid_combination"), "{e}");
    assert_eq!(e["error"]["details"]["fields"][0]["field"], "account_id");
    let other = app.token(Uuid::new_v4());
    let (s, e) = app
        .post(routes::BACKTESTS, &other, json!({"bot_id": id}))
        .await;
    assert_eq!((s, code(&e)), (404, "bot_not_found"), "{e}");

    let window = json!({"bot_id": id, "from": t / 1000 - 5 * 86_400, "to": t / 1000 + 60});
    let (s, bt) = app.post(routes::BACKTESTS, &tok, window).await;
    assert_eq!(s, 202, "{bt}");
    assert_eq!(bt["request"]["bot"]["magic"], magic, "{bt}");
    assert_eq!(bt["request"]["parameters"]["symbol"], "EURUSD");
    let bt_id = bt["id"].as_str().unwrap().to_string();
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let done = loop {
        let (s, b) = app.get(&routes::backtest(&bt_id), &tok).await;
        assert_eq!(s, 200, "{b}");
        if b["status"] == "done" {
            break b;
        }
        assert_ne!(b["status"], "failed", "{b}");
        assert!(std::time::Instant::now() < deadline, "{b}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let live = &done["results"][0]["live"];
    assert_eq!(live["bot_id"], id.as_str(), "{done}");
    assert_eq!(live["magic"], magic);
    assert!(live["report"]["net_profit"].is_number(), "{live}");
    let diff = live["difference"]["net_profit"].as_f64().unwrap();
    let tested = done["results"][0]["report"]["net_profit"].as_f64().unwrap();
    let lived = live["report"]["net_profit"].as_f64().unwrap();
    assert!((diff - (tested - lived)).abs() < 1e-6, "{live}");
    // A plain backtest has no live side.
    let (s, plain) = app
        .post(
            routes::BACKTESTS,
            &tok,
            json!({"account_id": account, "algorithm_id": "ma_crossover",
                   "parameters": params(), "from": t / 1000 - 5 * 86_400, "to": t / 1000}),
        )
        .await;
    assert_eq!(s, 202, "{plain}");
    assert!(plain["request"].get("bot").is_none(), "{plain}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_lost_to_the_trade_limit_is_a_skipped_intent_and_a_refused_bar() {
    let sim = common::sim_config();
    let (app, _clock, _t) = app_before_signal(common::Db::Sqlite, sim, 0, |env| {
        env.insert("TRADE_LIMIT_PER_HOUR", "1".into());
    })
    .await;
    let (tok, account) = app.trader(10001).await;
    // The account's one order of the hour, placed by hand.
    let (s, o) = app
        .post(
            routes::ORDERS,
            &tok,
            json!({"symbol": "EURUSD", "type": "buy", "volume": 0.01}),
        )
        .await;
    assert_eq!(s, 200, "{o}");
    let id = create(&app, &tok, bot_body(&account, "limited")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = until(&app, &tok, &id, "pass", |b| b["passes"] == 1).await;
    assert_eq!(b["trades"], 0, "{b}");
    assert_eq!(b["refused_bars"], 1, "{b}");
    assert_eq!(b["state"], "running");
    let skipped = b["last_run"]["skipped"].as_array().unwrap();
    assert!(
        skipped
            .iter()
            .any(|s| s["reason"].as_str().unwrap().contains("trades_per_account")),
        "{b}"
    );
    assert_eq!(positions(&app, &tok).await.len(), 1, "only the manual one");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_on_a_netting_symbol_leave_one_bot_and_magics_stay_unique() {
    let (app, _clock, _t) = app_at_signal(common::Db::Sqlite).await;
    let tok = app.token(Uuid::new_v4());
    let netting = app
        .connect(&tok, 10002, "Sim-10002!", "Sim-Demo", "netting")
        .await;
    let mut body = bot_body(&netting, "race");
    body["dry_run"] = json!(true);
    let tries: Vec<_> = (0..6)
        .map(|_| app.post(routes::BOTS, &tok, body.clone()))
        .collect();
    let answers = futures_util::future::join_all(tries).await;
    let made: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 201)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(made.len(), 1, "{answers:?}");
    assert!(answers
        .iter()
        .all(|(s, b)| *s == 201 || (*s == 409 && code(b) == "bot_symbol_taken")));
    // Other symbols at once: each gets its own magic.
    let tries: Vec<_> = ["GBPUSD", "USDJPY", "USDCHF", "EURJPY"]
        .iter()
        .map(|s| {
            let mut b = body.clone();
            b["parameters"]["symbol"] = json!(s);
            app.post(routes::BOTS, &tok, b)
        })
        .collect();
    let mut magics: Vec<i64> = futures_util::future::join_all(tries)
        .await
        .iter()
        .map(|(s, b)| {
            assert_eq!(*s, 201, "{b}");
            b["magic"].as_i64().unwrap()
        })
        .collect();
    magics.push(made[0]["magic"].as_i64().unwrap());
    magics.sort_unstable();
    magics.dedup();
    assert_eq!(magics.len(), 5, "{magics:?}");
}

/// The status of `GET /api/v1/account` on `account`.
async fn account_status(app: &common::TestApp, tok: &str, account: &str) -> u16 {
    app.client
        .get(format!("{}{}", app.base, routes::ACCOUNT))
        .bearer_auth(tok)
        .header("X-Account-Id", account)
        .send()
        .await
        .map(|r| r.status().as_u16())
        .unwrap_or(0)
}

/// What the simulated broker recorded after `from` (a sequence number).
async fn audit_after(app: &common::TestApp, from: u64) -> Vec<mt5_sim::state::AuditRecord> {
    let mut all = app.broker.audit().await.unwrap();
    all.retain(|r| r.seq > from);
    all
}

async fn audit_mark(app: &common::TestApp) -> u64 {
    audit_after(app, 0).await.last().map_or(0, |r| r.seq)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wave_trades_on_one_lease_while_another_user_keeps_the_only_terminal_busy() {
    let mut sim = common::sim_config();
    sim.login_latency_ms = 50;
    // An hour before the signal: the bots' first passes decide on the bar before it.
    let (app, clock, t) = app_before_signal(common::Db::Sqlite, sim, HOUR, |env| {
        env.insert("TERMINALS", "sim:1".into());
    })
    .await;
    let (tok, account) = app.trader(10001).await;
    let mut ids = Vec::new();
    for name in ["a", "b", "c"] {
        let b = create(&app, &tok, bot_body(&account, name)).await;
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    let mut before = Vec::new();
    for id in &ids {
        before.push(
            until(&app, &tok, id, "first pass", |b| b["passes"] == 1).await["trades"].clone(),
        );
    }

    // Another user reads their own account on the only terminal without a pause.
    let (other, other_account) = app.trader(10002).await;
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let load = {
        let (base, client, stop) = (app.base.clone(), app.client.clone(), stop.clone());
        tokio::spawn(async move {
            let mut statuses = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                let s = client
                    .get(format!("{base}{}", routes::ACCOUNT))
                    .bearer_auth(&other)
                    .header("X-Account-Id", &other_account)
                    .send()
                    .await
                    .map(|r| r.status().as_u16())
                    .unwrap_or(0);
                statuses.push(s);
            }
            statuses
        })
    };
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mark = audit_mark(&app).await;
    // The signal bar closes: the three bots' passes are one wave, and each enters.
    clock.set(t);
    for (id, was) in ids.iter().zip(&before) {
        let was = was.as_i64().unwrap();
        let b = until(&app, &tok, id, "the signal's pass", |b| {
            b["trades"].as_i64() == Some(was + 1)
        })
        .await;
        assert_eq!(b["passes"], 2, "{b}");
    }
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    let statuses = load.await.unwrap();
    assert!(statuses.len() > 3, "{statuses:?}");
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");

    let wave = audit_after(&app, mark).await;
    let mine = |op: &str| {
        wave.iter()
            .filter(|r| r.login == 10001 && r.operation == op)
            .count()
    };
    assert_eq!(mine("order_send"), 3, "{wave:?}");
    // Its reads, three risk checks and three orders on one lease: one login, however much the
    // other user wanted the terminal meanwhile; the series read once for the three bots.
    assert_eq!(mine("login"), 1, "{wave:?}");
    assert_eq!(mine("copy_rates"), 1, "{wave:?}");
    assert!(
        wave.iter()
            .any(|r| r.login == 10002 && r.operation == "login"),
        "the other user was served in between waves"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_users_request_waits_behind_at_most_one_of_their_bot_accounts() {
    let sim = sim_with_accounts(300, 50_001..=50_004);
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let b0 = now - now.rem_euclid(HOUR) - 200 * HOUR;
    let (app, clock) = app_at(common::Db::Sqlite, sim, b0 + 10 * 60_000, |env| {
        env.insert("TERMINALS", "sim:1".into());
    })
    .await;
    let tok = app.token(Uuid::new_v4());
    let mut bots = Vec::new();
    for login in 50_001..=50_003u64 {
        let account = app
            .connect(
                &tok,
                login,
                &format!("Pw-{login}!"),
                "Sim-Demo",
                &login.to_string(),
            )
            .await;
        let b = create(
            &app,
            &tok,
            json!({"name": "paper", "account_id": account, "algorithm_id": "ma_crossover",
                   "dry_run": true, "parameters": {"symbol": "EURUSD"}}),
        )
        .await;
        bots.push(b["id"].as_str().unwrap().to_string());
    }
    let manual = app
        .connect(&tok, 50_004, "Pw-50004!", "Sim-Demo", "manual")
        .await;
    for id in &bots {
        until(&app, &tok, id, "first pass", |b| b["passes"] == 1).await;
    }

    // The terminal on the fourth account, so that each wave of the next bar logs in.
    assert_eq!(account_status(&app, &tok, &manual).await, 200);
    // The next bar: three waves on one terminal. The user asks for their fourth account once the
    // first wave has logged in.
    let mark = audit_mark(&app).await;
    clock.set(b0 + HOUR);
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !audit_after(&app, mark)
        .await
        .iter()
        .any(|r| r.operation == "login")
    {
        assert!(std::time::Instant::now() < deadline, "no wave began");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(account_status(&app, &tok, &manual).await, 200);
    for id in &bots {
        until(&app, &tok, id, "second pass", |b| b["passes"] == 2).await;
    }
    let logins: Vec<u64> = audit_after(&app, mark)
        .await
        .into_iter()
        .filter(|r| r.operation == "login")
        .map(|r| r.login)
        .collect();
    let at = logins.iter().position(|l| *l == 50_004).unwrap();
    // The wave it found running, and at most the one admitted as it arrived: never all three.
    assert!(
        at <= 2,
        "bot accounts served before the user's request: {logins:?}"
    );
    assert_eq!(logins.len(), 4, "one login per account: {logins:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_spent_refusal_budget_skips_the_bar_and_sends_nothing() {
    let sim = common::sim_config();
    let (app, clock, t) = app_before_signal(common::Db::Sqlite, sim, HOUR, |env| {
        env.insert("REFUSAL_LIMIT_PER_HOUR", "2".into());
    })
    .await;
    let (tok, account) = app.trader(10001).await;
    let b = create(&app, &tok, bot_body(&account, "budget")).await;
    let id = b["id"].as_str().unwrap().to_string();
    let b = until(&app, &tok, &id, "first pass", |b| b["passes"] == 1).await;
    let trades = b["trades"].clone();

    // Just before the signal bar closes (the budget's window runs on the same clock), the user
    // spends their refusal budget on another account with its kill switch on.
    clock.set(t - 3 * 60_000);
    let other = app
        .connect(&tok, 10002, "Sim-10002!", "Sim-Demo", "second")
        .await;
    let (s, b) = app
        .put(
            &routes::account(&other),
            &tok,
            json!({"risk_limits": {"trading_enabled": false}}),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    let mut answers = Vec::new();
    for _ in 0..3 {
        let r = app
            .client
            .post(format!("{}{}", app.base, routes::ORDERS))
            .bearer_auth(&tok)
            .header("x-account-id", &other)
            .json(&json!({"symbol": "EURUSD", "type": "buy", "volume": 0.1}))
            .send()
            .await
            .unwrap();
        answers.push(r.status().as_u16());
    }
    assert_eq!(answers, [403, 403, 429]);

    let mark = audit_mark(&app).await;
    clock.set(t);
    let b = until(&app, &tok, &id, "the signal's pass", |b| {
        b["skipped_bars"] == 1
    })
    .await;
    assert_eq!(b["last_skip_reason"], "refusals_per_user", "{b}");
    assert_eq!(b["state"], "running", "{b}");
    assert_eq!(b["trades"], trades, "{b}");
    assert_eq!(b["refused_bars"], 0, "not the bot's refusal: {b}");
    let sent = audit_after(&app, mark)
        .await
        .into_iter()
        .filter(|r| r.operation == "order_send")
        .count();
    assert_eq!(sent, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_wave_lets_a_slow_reader_keep_up_within_its_buffer() {
    const BOTS: usize = 30;
    let now = time::OffsetDateTime::now_utc().unix_timestamp() * 1000;
    let b0 = now - now.rem_euclid(HOUR) - 100 * HOUR;
    let (app, clock) = app_at(
        common::Db::Sqlite,
        common::sim_config(),
        b0 + 10 * 60_000,
        |env| {
            env.insert("STREAM_USER_BUFFER", "16".into());
            env.insert("BOTS_PER_ACCOUNT", "40".into());
        },
    )
    .await;
    let user = Uuid::new_v4();
    let tok = app.token(user);
    let account = app
        .connect(&tok, 10001, "Sim-10001!", "Sim-Demo", "many")
        .await;
    let mut ids = Vec::new();
    for k in 0..BOTS {
        let b = create(
            &app,
            &tok,
            json!({"name": format!("p{k}"), "account_id": account, "algorithm_id": "ma_crossover",
                   "dry_run": true, "parameters": {"symbol": "EURUSD"}}),
        )
        .await;
        ids.push(b["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        until(&app, &tok, id, "first pass", |b| b["passes"] == 1).await;
    }

    // A reader of the user's changes that takes 50 ms over each, as a stream on a slow link would.
    let slot = app.state.events.open_stream(user, 10).unwrap();
    let mut rx = slot.changes();
    let reader = tokio::spawn(async move {
        let (mut read, mut lagged) = (0usize, 0u64);
        loop {
            match tokio::time::timeout(Duration::from_secs(3), rx.recv()).await {
                Ok(Ok(_)) => read += 1,
                Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(n))) => lagged += n,
                _ => break,
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        (read, lagged)
    });
    // The next bar: one wave of 30 passes, each a change of its bot.
    clock.set(b0 + HOUR);
    for id in &ids {
        until(&app, &tok, id, "second pass", |b| b["passes"] == 2).await;
    }
    let (read, lagged) = reader.await.unwrap();
    drop(slot);
    assert_eq!(lagged, 0, "the reader fell behind its buffer");
    assert!(read >= BOTS, "{read} changes read");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replays_are_paid_from_the_dry_run_budget() {
    let (app, _clock, _t) = app_before_signal(common::Db::Sqlite, common::sim_config(), 0, |env| {
        env.insert("DRY_RUN_LIMIT_PER_HOUR", "2".into());
    })
    .await;
    let (tok, account) = app.trader(10001).await;
    let id = create(&app, &tok, bot_body(&account, "replayed")).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    until(&app, &tok, &id, "first pass", |b| b["passes"] == 1).await;
    // Fired together: two are answered, the rest slowed with nothing evaluated.
    let replay = format!("{}/replay", routes::bot(&id));
    let answers = futures_util::future::join_all((0..6).map(|_| app.get(&replay, &tok))).await;
    let ok = answers.iter().filter(|(s, _)| *s == 200).count();
    let limited: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 429)
        .map(|(_, b)| b)
        .collect();
    assert_eq!(ok, 2, "{answers:?}");
    assert_eq!(limited.len(), 4, "{answers:?}");
    assert!(limited
        .iter()
        .all(|b| b["error"]["details"]["scope"] == "dry_runs_per_user"));
    // Another user's budget is their own.
    let (other, other_account) = app.trader(10002).await;
    let mut body = bot_body(&other_account, "theirs");
    body["dry_run"] = json!(true);
    let theirs = create(&app, &other, body).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (s, b) = app
        .get(&format!("{}/replay", routes::bot(&theirs)), &other)
        .await;
    assert_eq!(s, 200, "{b}");
}
