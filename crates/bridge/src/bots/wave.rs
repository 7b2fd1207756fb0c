//! One account's wave: every due bot of the account, for the bar that just closed, back to back.
//!
//! One pool operation reads what every pass needs (the server's clock offset, the account, its
//! positions and the broker day's deals, each (symbol, timeframe)'s bars once), so the account is
//! logged in at most once per wave. Then each bot's pass: the closed-bar rule picks the bar, the
//! claim of (bot, bar) is written before anything is sent, the checks that skip or stop a bot run,
//! and the shared strategy driver decides, through the order pipeline (live) or the dry-run venue.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use mt5::enums::Mt5Enum as _;
use mt5::util::PriceGrid;
use mt5::{
    AccountInfo, AccountTradeMode, Rate, RatesRange, SymbolInfo, TerminalError, Timeframe,
    TradePosition,
};
use serde_json::{json, Value};
use time::OffsetDateTime;
use uuid::Uuid;

use super::reason;
use super::rules::{bar_end, closed_only, missed_between, next_boundary, OFFSET_SENSITIVE_ABOVE_S};
use crate::algorithms::driver::{self, Entry, Exit, Market, Sent, Venue};
use crate::algorithms::executor::{DryRun, Live};
use crate::algorithms::strategies::{find, Params, Strategy};
use crate::bars::latest::LatestSeries;
use crate::error::{ApiError, ApiResult};
use crate::pool::Purpose;
use crate::risk::{read_snapshot, Needs, RiskLimits};
use crate::state::AppState;
use crate::store::algorithms::{NewAlgorithmRun, RunFinish, RUN_DONE, RUN_FAILED};
use crate::store::bots::{BotRow, PassRecord, Transition, FAULTED, PAUSED, RUNNING, STOPPED};
use crate::store::{AccountRow, UserCtx};
use crate::trading::Leased;

/// What the wave's one pool operation read.
struct Read {
    offset_s: i64,
    /// The server's time when the bars had been read (seconds).
    server_now: i64,

    account: AccountInfo,
    positions: Vec<TradePosition>,
    day_realised: f64,
    series: HashMap<(String, i64), (SymbolInfo, Vec<Rate>)>,
}

/// How long a wave waits, at most, for its user's streams to read its changes.
const STREAM_PACING_MAX: std::time::Duration = std::time::Duration::from_secs(2);
const STREAM_PACING_STEP: std::time::Duration = std::time::Duration::from_millis(20);

/// A bot whose copied configuration is valid.
#[derive(Clone)]
struct Ready {
    bot: BotRow,
    strategy: Arc<dyn Strategy>,
    params: Params,
}

fn ms_to_time(ms: i64) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The UTC instant of the next boundary of `tf` after `server_now` (seconds, server clock).
fn due_after(server_now: i64, tf: Timeframe, offset_s: i64) -> OffsetDateTime {
    ms_to_time((next_boundary(server_now, tf) - offset_s).saturating_mul(1000))
}

/// The error code a reason names (`rate_limited` by its scope).
fn code_of(e: &ApiError) -> String {
    match e {
        ApiError::RateLimited { scope, .. } => (*scope).to_string(),
        other => other.code().as_str().to_string(),
    }
}

/// Moves a bot to `to` from any live state, as the service; emits the change.
async fn set_state(state: &AppState, bot: &BotRow, to: &'static str, why: &str) {
    let ctx = UserCtx::service_for(bot.user_id);
    let from: &[&str] = if to == STOPPED {
        &[RUNNING, PAUSED, FAULTED]
    } else {
        &[RUNNING]
    };
    match state
        .store
        .transition_bot(
            &ctx,
            bot.id,
            Transition {
                to,
                reason: Some(why),
                from,
            },
        )
        .await
    {
        Ok(_) => state.events.bot_changed(bot.user_id, bot.id),
        Err(e) => tracing::warn!(bot_id = %bot.id, error = %e, "bot state not written"),
    }
}

/// Records a pass's outcome and tells the bot's stream.
async fn finish(state: &AppState, bot: &BotRow, bar: Option<i64>, record: PassRecord) {
    let counted = record.skipped || record.trades > 0 || record.state.is_some() || bar.is_some();
    match state.store.finish_pass(bot, bar, record).await {
        Ok(_) if counted => state.events.bot_changed(bot.user_id, bot.id),
        Ok(_) => {}
        Err(e) => tracing::warn!(bot_id = %bot.id, error = %e, "bot pass not recorded"),
    }
}

/// No pass: nothing to decide on (no bars, or no new bar since the last pass); only when next.
fn no_pass(due_at: OffsetDateTime) -> PassRecord {
    PassRecord {
        due_at,
        intents: json!([]),
        ..Default::default()
    }
}

fn skipped(why: impl Into<String>, due_at: OffsetDateTime) -> PassRecord {
    PassRecord {
        skipped: true,
        skip_reason: Some(why.into()),
        due_at,
        intents: json!([]),
        ..Default::default()
    }
}

/// Faults that a new bar does not cure: the bot stops trying until its owner resumes it.
fn fault_of(e: &ApiError) -> Option<&'static str> {
    match e {
        ApiError::AccountCredentialsInvalid(_) => Some("account_credentials_invalid"),
        ApiError::ReadOnlyAccount => Some("read_only_account"),
        ApiError::LiveConfirmationRequired => Some(reason::LIVE_CONFIRMATION_REQUIRED),
        _ => None,
    }
}

/// Runs one account's wave for `bots` (all of `account_id`, running and due).
pub async fn run(state: &AppState, user_id: Uuid, account_id: Uuid, bots: Vec<BotRow>) {
    let ctx = UserCtx::service_for(user_id);
    let now_ms = state.clock.now_ms();
    let row = match state.store.get_account(&ctx, account_id).await {
        Ok(Some(row)) => row,
        Ok(None) => {
            for bot in &bots {
                set_state(state, bot, STOPPED, reason::ACCOUNT_DELETED).await;
            }
            return;
        }
        Err(e) => {
            let retry = ms_to_time(now_ms + 5_000);
            let why = code_of(&e.into());
            for bot in &bots {
                finish(state, bot, None, skipped(why.clone(), retry)).await;
            }
            return;
        }
    };
    let limits = match RiskLimits::stored(row.risk_limits.as_ref()) {
        Ok(l) => l,
        Err(_) => {
            for bot in &bots {
                set_state(state, bot, FAULTED, reason::INVALID_CONFIGURATION).await;
            }
            return;
        }
    };
    let mut ready = Vec::new();
    for bot in bots {
        let valid = find(&bot.algorithm_kind).and_then(|s| {
            let p = s.validate(&bot.parameters).ok()?;
            Some((s, p))
        });
        match valid {
            Some((strategy, params)) => ready.push(Ready {
                bot,
                strategy: Arc::from(strategy),
                params,
            }),
            None => set_state(state, &bot, FAULTED, reason::INVALID_CONFIGURATION).await,
        }
    }
    if ready.is_empty() {
        return;
    }
    let wave = Wave {
        state: state.clone(),
        ctx,
        row: row.clone(),
        limits,
        handled: Arc::default(),
    };
    let mut done = wave.on_lease(&ready).await;
    if matches!(done, Err(ApiError::ReadOnlyAccount)) && ready.iter().any(|r| r.bot.dry_run) {
        // A read-only session: the bots that would trade fault, paper bots read and run.
        for r in ready.iter().filter(|r| !r.bot.dry_run) {
            set_state(state, &r.bot, FAULTED, "read_only_account").await;
        }
        ready.retain(|r| r.bot.dry_run);
        done = wave.on_lease(&ready).await;
    }
    if let Err(e) = done {
        // A fault no bar cures stops the bots; anything else skips this bar only, for the bots
        // whose pass had not run when the terminal failed.
        let offset = state
            .server_clocks
            .current(&row.server, std::time::Instant::now())
            .unwrap_or(0);
        let server_now = now_ms.div_euclid(1000) + offset;
        let handled = wave.handled();
        for r in ready.iter().filter(|r| !handled.contains(&r.bot.id)) {
            match fault_of(&e) {
                Some(why) if !(r.bot.dry_run && why == "read_only_account") => {
                    set_state(state, &r.bot, FAULTED, why).await
                }
                _ => {
                    let due = due_after(server_now, r.params.timeframe, offset);
                    finish(state, &r.bot, None, skipped(code_of(&e), due)).await
                }
            }
        }
    }
}

/// One account's wave: what its passes share.
#[derive(Clone)]
struct Wave {
    state: AppState,
    ctx: UserCtx,
    row: AccountRow,
    limits: RiskLimits,
    /// The bots whose pass ran (a retry on another terminal does not run them again).
    handled: Arc<Mutex<HashSet<Uuid>>>,
}

enum Stop {
    Next,
    /// The rest of the wave is not run (its bots were paused).
    Wave,
}

impl Wave {
    fn handled(&self) -> HashSet<Uuid> {
        self.handled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Whether the bot's pass ran in this wave (an earlier attempt on another terminal).
    fn ran(&self, bot: Uuid) -> bool {
        self.handled
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .contains(&bot)
    }

    /// The wave in one pool operation (one lease, outside `POOL_QUEUE_LIMIT_PER_USER`): the reads,
    /// then every pass back to back on the same terminal, its orders and paper risk checks
    /// included. An error the terminal gave that ends the lease is the pool's to handle; the
    /// passes that ran are recorded.
    async fn on_lease(&self, ready: &[Ready]) -> ApiResult<()> {
        let trades = ready.iter().any(|r| !r.bot.dry_run);
        let purpose = if trades {
            Purpose::Trade
        } else {
            Purpose::Read
        };
        // Each pass may send orders: every one of them gets the time one operation has.
        let passes = u32::try_from(ready.len()).unwrap_or(u32::MAX);
        let timeout = self
            .state
            .pool
            .timeout()
            .saturating_mul(passes.saturating_add(1));
        let shared = Arc::new((self.clone(), ready.to_vec()));
        crate::trading::on_terminal_for(
            &self.state,
            &self.row,
            purpose,
            None,
            timeout,
            move |t, at| {
                let shared = shared.clone();
                Box::pin(async move {
                    let (wave, ready) = shared.as_ref();
                    wave.passes(ready, Leased::new(t, at)).await
                })
            },
        )
        .await
    }

    async fn passes(&self, ready: &[Ready], lease: Leased) -> Result<(), TerminalError> {
        let state = &self.state;
        let read = self.read(ready, &lease).await?;
        let account_id = self.row.id;
        let replica = state.bots.replica();
        let mut paced = std::time::Duration::ZERO;
        for r in ready {
            if self.ran(r.bot.id) {
                continue;
            }
            // The lease is this replica's until the wave ends; lost (a pause longer than the
            // lease), another replica has the account and this one stops.
            match state
                .store
                .renew_wave(account_id, replica, super::rules::WAVE_LEASE_MS)
                .await
            {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => {
                    tracing::warn!(account_id = %account_id, error = %e, "bots: wave lease not renewed");
                    break;
                }
            }
            self.let_streams_read(&mut paced).await;
            let stop = pass(self, &read, r, &lease).await;
            self.handled
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(r.bot.id);
            if let Some(e) = lease.broken() {
                return Err(e);
            }
            if let Stop::Wave = stop {
                break;
            }
        }
        Ok(())
    }

    /// Before a pass: while the user's slowest stream here has half its `STREAM_USER_BUFFER`
    /// unread, wait for it (at most [`STREAM_PACING_MAX`] a wave), so that a wave of many bots
    /// does not push a stream that keeps up past its buffer; one that still lags is slow.
    async fn let_streams_read(&self, waited: &mut std::time::Duration) {
        let events = &self.state.events;
        let half = events.user_buffer() / 2;
        while events.backlog(self.ctx.user_id) > half && *waited < STREAM_PACING_MAX {
            tokio::time::sleep(STREAM_PACING_STEP).await;
            *waited += STREAM_PACING_STEP;
        }
    }

    /// The reads: the offset, the account, all positions and the day's deals, then each
    /// (symbol, timeframe) once, from the trade server's latest bars when a wave of this bar close
    /// read them already.
    async fn read(&self, ready: &[Ready], lease: &Leased) -> Result<Read, TerminalError> {
        let (t, at) = (lease.terminal(), lease.at());
        let mut wanted: HashMap<(String, i64), (Timeframe, u32)> = HashMap::new();
        for r in ready {
            let count = r.strategy.bars_needed(&r.params).saturating_add(1);
            let key = (r.params.symbol.clone(), r.params.timeframe.code());
            let e = wanted.entry(key).or_insert((r.params.timeframe, count));
            e.1 = e.1.max(count);
        }
        let first_symbol = ready
            .first()
            .map(|r| r.params.symbol.clone())
            .unwrap_or_default();
        let day = self.limits.max_daily_loss.is_some();
        let offset_s = t.server_time_offset_s(at).await?;
        self.state
            .server_clocks
            .observe(&self.row.server, offset_s, std::time::Instant::now());
        let snap = read_snapshot(
            t,
            at,
            Needs {
                positions: true,
                account: true,
                day,
            },
            &first_symbol,
        )
        .await?;
        // Before the bars: a bar that closes while they are read was read forming, and is not
        // taken for closed.
        let server_now = self
            .state
            .clock
            .now_ms()
            .div_euclid(1000)
            .saturating_add(offset_s);
        let mut series = HashMap::new();
        let server = snap.account.server.clone();
        for ((symbol, code), (tf, count)) in wanted {
            let info = t.symbol_info(at, &symbol).await?;
            let mut latest = self.state.bots.latest.lock(&server, &symbol, tf).await;
            let kept = latest.as_ref().filter(|l| {
                l.asked >= count
                    && l.closed_at <= server_now
                    && next_boundary(l.closed_at, tf) > server_now
            });
            let bars = match kept {
                Some(l) => l.bars.clone(),
                None => {
                    let mut bars = t
                        .copy_rates(at, &symbol, tf, RatesRange::FromPos { start: 0, count })
                        .await?;
                    closed_only(&mut bars, tf, server_now);
                    *latest = Some(LatestSeries {
                        bars: bars.clone(),
                        closed_at: server_now,
                        asked: count,
                    });
                    bars
                }
            };
            drop(latest);
            series.insert((symbol, code), (info, bars));
        }
        Ok(Read {
            offset_s,
            server_now,
            account: snap.account,
            positions: snap.positions,
            day_realised: snap.day_realised,
            series,
        })
    }
}

/// Whether the broker day's loss (realised plus floating) has reached `max_daily_loss`.
fn daily_loss_reached(limits: &RiskLimits, read: &Read) -> bool {
    let Some(max) = limits.max_daily_loss else {
        return false;
    };
    let info = &read.account;
    let realised = read.day_realised;
    let start_equity = info.balance - realised;
    let day_loss = (-(realised + info.profit)).max(0.0);
    day_loss >= max * start_equity
}

async fn pass(w: &Wave, read: &Read, r: &Ready, lease: &Leased) -> Stop {
    let (state, ctx, row, limits) = (&w.state, &w.ctx, &w.row, &w.limits);
    let server_now = read.server_now;
    let bot = &r.bot;
    let tf = r.params.timeframe;
    let due = due_after(server_now, tf, read.offset_s);
    let key = (r.params.symbol.clone(), tf.code());
    // The series' bars as the wave read them (closed ones only), and the strategy's window of them.
    let Some((info, all_closed)) = read.series.get(&key) else {
        finish(state, bot, None, no_pass(due)).await;
        return Stop::Next;
    };
    let keep = crate::algorithms::executor::strategy_bars(
        r.strategy.bars_needed(&r.params).saturating_add(1),
    );
    let bars = &all_closed[all_closed.len().saturating_sub(keep)..];
    let Some(last) = bars.last().copied() else {
        finish(state, bot, None, no_pass(due)).await;
        return Stop::Next;
    };
    // No new bar since the last pass (market closed, no ticks): no pass, nothing missed.
    if bot.last_bar_time.is_some_and(|t| t >= last.time) {
        finish(state, bot, None, no_pass(due)).await;
        return Stop::Next;
    }
    let long_bars = tf.seconds().is_none_or(|s| s > OFFSET_SENSITIVE_ABOVE_S);
    if long_bars && state.server_clocks.is_stale(&row.server) {
        finish(state, bot, None, skipped(reason::SERVER_TIME_UNKNOWN, due)).await;
        return Stop::Next;
    }
    let missed = bot.last_bar_time.map_or(0, |prev| {
        missed_between(all_closed, prev, last.time).unwrap_or_else(|| {
            // History read does not reach back: the bars by the clock, gaps included.
            let len = bar_end(last.time, tf).map_or(1, |e| (e - last.time).max(1));
            ((last.time - prev) / len - 1).max(0)
        })
    });
    let own: Vec<TradePosition> = read
        .positions
        .iter()
        .filter(|p| p.symbol == r.params.symbol && i64::try_from(p.magic).ok() == Some(bot.magic))
        .cloned()
        .collect();
    let inputs = json!({
        "from": bars.first().map(|b| b.time),
        "to": last.time,
        "count": bars.len(),
        "positions": own.iter().map(|p| json!({
            "ticket": p.ticket, "type": p.r#type, "volume": p.volume,
            "price_open": p.price_open, "sl": p.sl, "tp": p.tp, "time": p.time,
        })).collect::<Vec<_>>(),
        "equity": read.account.equity,
        "parameters": bot.parameters,
        // From the bar's close (UTC) to this pass's evaluation, its bars in hand, by the
        // application's clock (the wave's earlier passes included).
        "delay_ms": bar_end(last.time, tf)
            .map(|end| state.clock.now_ms() - (end - read.offset_s).saturating_mul(1000)),
    });
    // What the strategy decides on these bars and positions, before sizing and sending: what the
    // replay compares.
    let decided = r
        .strategy
        .evaluate(&r.params, bars, &own, PriceGrid::of(info));
    match state
        .store
        .claim_pass(bot, last.time, state.bots.replica(), inputs, missed)
        .await
    {
        Ok(true) => {}
        Ok(false) => return Stop::Next,
        Err(e) => {
            let e: ApiError = e.into();
            finish(state, bot, None, skipped(code_of(&e), due)).await;
            return Stop::Next;
        }
    }
    let bar = Some(last.time);
    let real = !matches!(
        read.account.trade_mode,
        AccountTradeMode::Demo | AccountTradeMode::Contest
    );
    let live_row = row.account_type.as_deref() == Some("live");
    if !bot.dry_run && (real || live_row) && !bot.confirm_live {
        let record = PassRecord {
            state: Some((FAULTED, reason::LIVE_CONFIRMATION_REQUIRED.into())),
            due_at: due,
            intents: json!([]),
            ..Default::default()
        };
        finish(state, bot, bar, record).await;
        return Stop::Next;
    }
    if limits.trading_enabled == Some(false) {
        finish(state, bot, bar, skipped(reason::TRADING_DISABLED, due)).await;
        return Stop::Next;
    }
    if daily_loss_reached(limits, read) {
        finish(state, bot, bar, skipped(reason::DAILY_LOSS_REACHED, due)).await;
        match state
            .store
            .pause_bots(ctx, Some(row.id), reason::DAILY_LOSS_REACHED)
            .await
        {
            Ok(ids) => ids
                .into_iter()
                .for_each(|id| state.events.bot_changed(bot.user_id, id)),
            Err(e) => tracing::warn!(account_id = %row.id, error = %e, "bots not paused"),
        }
        return Stop::Wave;
    }
    match state.store.bot_in_doubt(bot.id).await {
        Ok(false) => {}
        Ok(true) => {
            finish(state, bot, bar, skipped(reason::ORDER_IN_DOUBT, due)).await;
            return Stop::Next;
        }
        Err(e) => {
            let e: ApiError = e.into();
            finish(state, bot, bar, skipped(code_of(&e), due)).await;
            return Stop::Next;
        }
    }
    if !bot.dry_run {
        if let Err(e) = crate::trading::RefusalBudget::of(state, ctx).check().await {
            finish(state, bot, bar, skipped(code_of(&e), due)).await;
            return Stop::Next;
        }
    }
    let market = Market {
        symbol: info,
        bars,
        own: &own,
        equity: read.account.equity,
    };
    let magic = bot.magic.max(0) as u64;
    let run_id = Uuid::new_v4();
    let new_run = NewAlgorithmRun {
        id: run_id,
        account_id: row.id,
        algorithm_id: bot.algorithm_id.clone(),
        algorithm_kind: bot.algorithm_kind.clone(),
        parameters: bot.parameters.clone(),
        dry_run: bot.dry_run,
        bot: Some((bot.id, last.time - read.offset_s)),
    };
    let mut run_written = false;
    let mut budget_spent = false;
    let result = if bot.dry_run {
        let mut venue = DryRun {
            state,
            account: row,
            limits,
            lease: Some(lease),
        };
        driver::pass(r.strategy.as_ref(), &r.params, &market, magic, &mut venue).await
    } else {
        let mut venue = BotVenue {
            live: Live {
                state,
                user: ctx,
                account: row,
                algorithm_id: &bot.algorithm_id,
                run_id,
                symbol: info,
                lease: Some(lease),
                budget_spent: false,
            },
            run: Some(new_run.clone()),
            written: &mut run_written,
        };
        let done = driver::pass(r.strategy.as_ref(), &r.params, &market, magic, &mut venue).await;
        budget_spent = venue.live.budget_spent;
        done
    };
    let mut record = PassRecord {
        due_at: due,
        ..Default::default()
    };
    let finish_run = match &result {
        Ok((trades, skipped_intents)) => {
            record.trades = trades.len() as i64;
            record.intents =
                json!({"decided": decided, "trades": trades, "skipped": skipped_intents});
            if budget_spent {
                record.skipped = true;
                record.skip_reason = Some(reason::REFUSALS_PER_USER.into());
            }
            let tried = !trades.is_empty() || !skipped_intents.is_empty();
            if tried {
                record.refused = Some(trades.is_empty());
            }
            if record.refused == Some(true) && bot.refused_bars + 1 >= super::REFUSED_BARS_FAULT {
                let last_reason = skipped_intents
                    .last()
                    .map(|s| s.reason.clone())
                    .unwrap_or_default();
                record.state = Some((FAULTED, last_reason));
            }
            tried.then(|| RunFinish {
                status: RUN_DONE.into(),
                trades: serde_json::to_value(trades).unwrap_or_else(|_| json!([])),
                skipped: serde_json::to_value(skipped_intents).unwrap_or_else(|_| json!([])),
                error: None,
            })
        }
        Err(e) => {
            record.skipped = true;
            record.skip_reason = Some(code_of(e));
            record.intents = json!({"decided": decided, "error": code_of(e)});
            if let Some(why) = fault_of(e) {
                record.state = Some((FAULTED, why.into()));
            }
            Some(RunFinish {
                status: RUN_FAILED.into(),
                trades: json!([]),
                skipped: json!([]),
                error: Some(driver::skip_reason(e)),
            })
        }
    };
    if let Some(done) = finish_run {
        let written = run_written
            || match state.store.create_run(ctx, new_run).await {
                Ok(_) => true,
                Err(e) => {
                    tracing::warn!(bot_id = %bot.id, error = %e, "bot run not written");
                    false
                }
            };
        if written {
            if let Err(e) = state.store.finish_run(ctx, run_id, done).await {
                tracing::warn!(bot_id = %bot.id, error = %e, "bot run not finished");
            }
            record.run_id = Some(run_id);
            state.events.run_changed(bot.user_id, run_id);
        }
    }
    finish(state, bot, bar, record).await;
    Stop::Next
}

/// The live venue of a bot's pass: the algorithms' live venue, with the pass's run written (with
/// its bot and bar) before its first order is sent, so an order in doubt is found through it.
struct BotVenue<'a> {
    live: Live<'a>,
    run: Option<NewAlgorithmRun>,
    written: &'a mut bool,
}

impl BotVenue<'_> {
    async fn ensure_run(&mut self) -> ApiResult<()> {
        if let Some(new) = self.run.take() {
            self.live
                .state
                .store
                .create_run(self.live.user, new)
                .await?;
            *self.written = true;
        }
        Ok(())
    }
}

#[async_trait::async_trait]
impl Venue for BotVenue<'_> {
    async fn enter(&mut self, entry: &Entry) -> ApiResult<Sent> {
        self.ensure_run().await?;
        self.live.enter(entry).await
    }

    async fn exit(&mut self, exit: &Exit) -> ApiResult<Sent> {
        self.ensure_run().await?;
        self.live.exit(exit).await
    }
}

/// Positions carrying the bot's magic on its account, as the broker reports them now.
pub async fn own_positions(
    state: &AppState,
    row: &AccountRow,
    magic: i64,
) -> ApiResult<Vec<TradePosition>> {
    crate::trading::on_terminal(state, row, Purpose::Read, move |t, at| {
        Box::pin(async move {
            Ok(t.positions(&at, &mt5::PositionFilter::All)
                .await?
                .into_iter()
                .filter(|p| i64::try_from(p.magic).ok() == Some(magic))
                .collect())
        })
    })
    .await
}

/// Closes `positions` through the order pipeline under one run of the bot (no bar); returns
/// the ones that could not be closed, with why.
pub async fn close_all(
    state: &AppState,
    ctx: &UserCtx,
    row: &AccountRow,
    bot: &BotRow,
    positions: Vec<TradePosition>,
) -> Vec<Value> {
    let run_id = Uuid::new_v4();
    let new_run = NewAlgorithmRun {
        id: run_id,
        account_id: row.id,
        algorithm_id: bot.algorithm_id.clone(),
        algorithm_kind: bot.algorithm_kind.clone(),
        parameters: bot.parameters.clone(),
        dry_run: false,
        bot: None,
    };
    let mut failed = Vec::new();
    let mut closed = Vec::new();
    if let Err(e) = state.store.create_run(ctx, new_run).await {
        let why = code_of(&e.into());
        return positions
            .iter()
            .map(|p| json!({"ticket": p.ticket, "symbol": p.symbol, "volume": p.volume, "reason": why}))
            .collect();
    }
    for p in positions {
        let intent = crate::trading::Intent {
            command: crate::trading::Command::Close(crate::trading::Close {
                volume: p.volume,
                position: p.clone(),
                r#type: if p.r#type == mt5::PositionType::Buy {
                    mt5::OrderType::Sell
                } else {
                    mt5::OrderType::Buy
                },
                deviation: 20,
                type_filling: None,
                comment: Some("bot stop".into()),
                guard: None,
            }),
            request: json!({"ticket": p.ticket, "volume": p.volume}),
            idempotency_key: None,
            source: crate::trading::Source::Algorithm {
                algorithm_id: bot.algorithm_id.clone(),
                run_id,
            },
        };
        match crate::trading::submit(state, ctx, row, intent).await {
            Ok(_) => {
                closed.push(json!({"ticket": p.ticket, "symbol": p.symbol, "volume": p.volume}))
            }
            Err(e) => failed.push(json!({
                "ticket": p.ticket, "symbol": p.symbol, "volume": p.volume,
                "reason": driver::skip_reason(&e),
            })),
        }
    }
    let finish = RunFinish {
        status: if failed.is_empty() {
            RUN_DONE
        } else {
            RUN_FAILED
        }
        .into(),
        trades: json!(closed),
        skipped: json!(failed),
        error: None,
    };
    if let Err(e) = state.store.finish_run(ctx, run_id, finish).await {
        tracing::warn!(bot_id = %bot.id, error = %e, "bot stop run not finished");
    }
    state.events.run_changed(bot.user_id, run_id);
    failed
}
