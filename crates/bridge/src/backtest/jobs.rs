//! The backtest workers: each takes the next unit (one combination) from the store's queue under
//! a lease, reads what it needs from the account's broker (through the bar cache), runs it off
//! the async runtime, and stores its result under its claim.
//!
//! A worker renews its lease every second, which is also when it learns that the unit was
//! canceled or its lease lost (then it stops within that second and writes nothing). A unit whose
//! worker died is queued again when its lease runs out, and another worker, on this replica or
//! another, runs it from the start.

pub use super::handle::{default_workers, BacktestSettings, Backtests};
use super::run::{self, History, Settings};
use super::spec::{AccountTerms, Spec};
use crate::algorithms::strategies;
use crate::bars::{ReadStats, Source};
use crate::error::{ApiError, ApiResult};
use crate::risk::RiskLimits;
use crate::state::AppState;
use crate::store::backtests::{Unit, UnitResult};
use crate::store::UserCtx;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a claim holds without renewal.
pub const LEASE_MS: i64 = 15_000;
/// How often a running unit renews its lease and looks for a cancellation.
const HEARTBEAT: Duration = Duration::from_secs(1);
/// How often an idle worker looks at the queue when nothing woke it.
const IDLE_POLL: Duration = Duration::from_millis(500);

/// Starts `settings.workers` workers on the state's runtime.
pub fn spawn(state: AppState) {
    let n = state.backtests.settings.workers;
    let mut handles = Vec::with_capacity(n);
    for i in 0..n {
        let st = state.clone();
        let task = tokio::spawn(async move { worker(st, i).await });
        handles.push(task.abort_handle());
    }
    state.backtests.hold(handles);
}

async fn worker(state: AppState, index: usize) {
    let name = format!("{}#{index}", state.backtests.worker_name());
    loop {
        let notified = state.backtests.bell().notified();
        match state.store.claim_unit(&name, LEASE_MS).await {
            Ok(Some(unit)) => {
                state
                    .events
                    .backtest_changed(unit.user_id, unit.backtest_id);
                run_unit(&state, unit).await;
                continue;
            }
            Ok(None) => {}
            Err(e) => tracing::warn!(error = %e, "backtest queue not read"),
        }
        let _ = tokio::time::timeout(IDLE_POLL, notified).await;
    }
}

/// Tries of a unit that an outage ended before its backtest fails.
const RETRIES: u32 = 4;
/// The wait before the first retry, doubled each time (2, 4, 8, 16 s).
const RETRY_DELAY_MS: i64 = 2_000;

/// Whether an error says something was out of service (a terminal, the database, Redis, a
/// queue), not that the backtest cannot run.
fn outage(e: &ApiError) -> bool {
    matches!(
        e,
        ApiError::TerminalUnavailable(_)
            | ApiError::TerminalTimeout
            | ApiError::DatabaseUnavailable(_)
            | ApiError::StateUnavailable(_)
            | ApiError::RateLimited { .. }
    )
}

/// An error as a failed backtest shows it: its code and message.
fn error_value(e: &ApiError) -> Value {
    json!({"code": e.code().as_str(), "message": e.to_string()})
}

async fn run_unit(state: &AppState, unit: Unit) {
    let cancel = Arc::new(AtomicBool::new(false));
    let progress = Arc::new(AtomicU64::new(0f64.to_bits()));
    // The heartbeat: renews the lease, records progress, and stops the unit when it was
    // canceled or its claim superseded.
    let beat = {
        let (state, unit, cancel, progress) = (
            state.clone(),
            unit.clone(),
            cancel.clone(),
            progress.clone(),
        );
        tokio::spawn(async move {
            loop {
                tokio::time::sleep(HEARTBEAT).await;
                let p = f64::from_bits(progress.load(Ordering::Relaxed));
                match state.store.renew_unit(&unit, LEASE_MS, p).await {
                    // Progress reaches the stream at most once a second per unit.
                    Ok(true) => state
                        .events
                        .backtest_changed(unit.user_id, unit.backtest_id),
                    Ok(false) => {
                        cancel.store(true, Ordering::Relaxed);
                        return;
                    }
                    Err(e) => tracing::warn!(error = %e, "backtest lease not renewed"),
                }
            }
        })
    };
    // Dropped with this future too (a worker stopped mid-unit): the heartbeat stops and the run
    // is told to, so a stopped worker's lease runs out as a dead process's would.
    let _stop = StopOnDrop {
        beat: beat.abort_handle(),
        cancel: cancel.clone(),
    };
    let outcome = execute(state, &unit, cancel.clone(), progress).await;
    beat.abort();
    let written = match outcome {
        Ok(Some(result)) => state.store.finish_unit(&unit, result).await,
        // Canceled, or the lease was lost: the unit is someone else's now, or no one's.
        Ok(None) => return,
        // An outage is not the backtest's fault: the unit is queued again, a little later each
        // time, and fails only when the outage outlasts a few tries.
        Err(e) if outage(&e) && unit.attempts < RETRIES => {
            let delay = RETRY_DELAY_MS << unit.attempts;
            tracing::info!(backtest_id = %unit.backtest_id, code = e.code().as_str(), delay_ms = delay, "backtest unit queued again after an outage");
            state.store.retry_unit(&unit, delay).await
        }
        Err(e) => {
            tracing::info!(backtest_id = %unit.backtest_id, code = e.code().as_str(), "backtest failed");
            state.store.fail_unit(&unit, error_value(&e)).await
        }
    };
    match written {
        Ok(true) => state
            .events
            .backtest_changed(unit.user_id, unit.backtest_id),
        Ok(false) => tracing::info!(
            backtest_id = %unit.backtest_id,
            "backtest result not written: the unit was canceled or claimed again"
        ),
        Err(e) => {
            tracing::warn!(backtest_id = %unit.backtest_id, error = %e, "backtest result not written")
        }
    }
}

struct StopOnDrop {
    beat: tokio::task::AbortHandle,
    cancel: Arc<AtomicBool>,
}

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.beat.abort();
        self.cancel.store(true, Ordering::Relaxed);
    }
}

/// Runs one unit; `None` when it was stopped.
async fn execute(
    state: &AppState,
    unit: &Unit,
    cancel: Arc<AtomicBool>,
    progress: Arc<AtomicU64>,
) -> ApiResult<Option<UnitResult>> {
    let mut spec = Spec::from_value(&unit.request)?;
    let strategy = strategies::find(&spec.kind).ok_or(ApiError::AlgorithmNotFound)?;
    let params = strategy
        .validate(&unit.parameters)
        .map_err(ApiError::fields)?;
    let ctx = UserCtx::service_for(unit.user_id);
    let row = state
        .store
        .get_account(&ctx, unit.account_id)
        .await?
        .ok_or(ApiError::AccountNotFound)?;
    let limits = RiskLimits::stored(row.risk_limits.as_ref())?;
    // The account's terms, the symbol's specification and the server clock: read once.
    let symbol_name = params.symbol.clone();
    let (account, symbol, offset, conversions) = crate::trading::read(state, &row, move |t, at| {
        let symbol = symbol_name.clone();
        Box::pin(async move {
            let account = t.account_info(&at).await?;
            let symbol = t.symbol_info(&at, &symbol).await?;
            let offset = t.server_time_offset_s(&at).await?;
            // The symbols that convert its currencies to the account's, when they differ.
            let conversions = if needs_conversion(&symbol, &account.currency) {
                conversion_symbols(&symbol, &account.currency, &t.symbols(&at, None).await?)
            } else {
                Vec::new()
            };
            Ok((account, symbol, offset, conversions))
        })
    })
    .await?;
    let terms = AccountTerms {
        currency: account.currency.clone(),
        leverage: account.leverage,
        margin_mode: account.margin_mode,
        margin_so_mode: account.margin_so_mode,
        margin_so_call: account.margin_so_call,
        margin_so_so: account.margin_so_so,
        server: account.server.clone(),
    };
    let initial_deposit = spec.initial_deposit.unwrap_or(account.balance);
    spec.initial_deposit = Some(initial_deposit);
    spec.account = Some(terms.clone());
    spec.server_offset_s = Some(offset);

    let source = Source {
        state,
        row: &row,
        server: crate::bars::server_key(&terms.server),
        offset_s: offset,
        cache_max_bytes: state.backtests.settings.bar_cache_max_bytes,
    };
    let bar_seconds = params
        .timeframe
        .seconds()
        .ok_or_else(|| ApiError::validation("parameters.timeframe", "must have a fixed length"))?;
    let warm = strategy.bars_needed(&params).max(1) as usize;
    let mut stats = ReadStats::default();
    let (from, to) = (spec.from + offset, spec.to + offset);
    let mut bars = source
        .history(&params.symbol, params.timeframe, from, to, warm, &mut stats)
        .await?;
    // The bar still forming has no close yet: it is not history.
    let now_server = time::OffsetDateTime::now_utc().unix_timestamp() + offset;
    bars.retain(|b| b.time + bar_seconds <= now_server);
    let m1 = if spec.model == run::Model::M1Ohlc {
        let first = bars.get(warm.saturating_sub(1)).map_or(from, |b| b.time);
        source
            .history(
                &params.symbol,
                mt5::Timeframe::M1,
                first,
                to + bar_seconds,
                0,
                &mut stats,
            )
            .await?
    } else {
        Vec::new()
    };
    // Their bars over the same span, so each trade is valued at the rates of its time.
    let first_bar = bars.first().map_or(from, |b| b.time);
    let mut converting = Vec::with_capacity(conversions.len());
    for info in conversions {
        let rates = source
            .history(&info.name, params.timeframe, first_bar, to, 1, &mut stats)
            .await?;
        converting.push((info, rates));
    }
    let settings = Settings {
        model: spec.model,
        spread: spec.spread(),
        slippage_points: spec.slippage_points,
        commission_per_lot: spec.commission_per_lot,
        initial_deposit,
        account: mt5_sim::engine::AccountSettings {
            margin_so_mode: terms.margin_so_mode,
            ..mt5_sim::engine::AccountSettings::simulated(
                &terms.currency,
                terms.leverage,
                terms.margin_mode,
                terms.margin_so_call,
                terms.margin_so_so,
            )
        },
        server_offset_s: offset,
        max_curve_points: if unit.combinations > 1 { 1_000 } else { 10_000 },
    };
    // A bot's backtest trades under the bot's magic, as it does live.
    let magic = match spec.bot {
        Some(bot) => bot.magic.max(0) as u64,
        None => crate::algorithms::executor::magic_for(&spec.algorithm_id),
    };
    let kind = spec.kind.clone();
    let traded = params.symbol.clone();
    // The engine and the strategy: CPU-bound, so off the async runtime, on a thread of its own
    // with a runtime that only drives this run (it awaits no I/O).
    let cancel_run = cancel.clone();
    let ran = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .map_err(|e| ApiError::Internal(format!("backtest runtime: {e}")))?;
        let strategy = strategies::find(&kind).ok_or(ApiError::AlgorithmNotFound)?;
        rt.block_on(async {
            let history = History {
                bars: &bars,
                m1: &m1,
                bar_seconds,
                conversions: &converting,
            };
            let mut report = |p: f64| progress.store(p.to_bits(), Ordering::Relaxed);
            run::run(
                strategy.as_ref(),
                &params,
                &limits,
                &symbol,
                &history,
                &settings,
                magic,
                &cancel_run,
                &mut report,
            )
            .await
        })
        .map_err(|e| match e {
            run::BacktestError::Api(e) => e,
            other => ApiError::Internal(other.to_string()),
        })
        .map(Some)
        .or_else(|e| {
            if cancel_run.load(Ordering::Relaxed) {
                Ok(None)
            } else {
                Err(e)
            }
        })
    })
    .await
    .map_err(|e| ApiError::Internal(format!("backtest task: {e}")))??;
    let Some(outcome) = ran else {
        return Ok(None);
    };
    if cancel.load(Ordering::Relaxed) {
        return Ok(None);
    }
    let history_start = outcome
        .history_start
        .and_then(|t| time::OffsetDateTime::from_unix_timestamp(t - offset).ok());
    Ok(Some(UnitResult {
        report: serde_json::to_value(&outcome.report)
            .map_err(|e| ApiError::Internal(format!("report: {e}")))?,
        trades: serde_json::to_value(&outcome.trades)
            .map_err(|e| ApiError::Internal(format!("trades: {e}")))?,
        equity: serde_json::to_value(&outcome.curve)
            .map_err(|e| ApiError::Internal(format!("equity: {e}")))?,
        history_start,
        notes: json!({
            "sl_and_tp_in_one_bar": outcome.sl_and_tp_in_one_bar,
            "unmodelled_swaps": outcome.unmodelled_swaps,
            "bars": bars_len_note(&stats),
            "live": match spec.bot {
                Some(bot) => Some(
                    live_comparison(state, &row, &spec, &traded, bot, &outcome.report)
                        .await?,
                ),
                None => None,
            },
        }),
        request: spec.to_value(),
    }))
}

/// A bot's live trading over the backtest's window (its deals, by its magic, on the symbol) with
/// the same report module, and the backtest's figures less the live ones.
async fn live_comparison(
    state: &AppState,
    row: &crate::store::AccountRow,
    spec: &Spec,
    symbol: &str,
    bot: super::spec::BotRef,
    backtest: &super::report::Report,
) -> ApiResult<serde_json::Value> {
    let (from, to) = (spec.from, spec.to);
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let (balance, offset, deals) = crate::trading::read(state, row, move |t, at| {
        Box::pin(async move {
            let offset = t.server_time_offset_s(&at).await?;
            let balance = t.account_info(&at).await?.balance;
            let select = mt5::HistorySelect::Range {
                from: from + offset,
                to: now.max(to) + offset + 86_400,
                group: None,
            };
            Ok((balance, offset, t.history_deals(&at, &select).await?))
        })
    })
    .await?;
    let live = super::report::account_report(
        &deals,
        balance,
        from + offset,
        to + offset,
        Some(symbol),
        Some(bot.magic.max(0) as u64),
    );
    let live = serde_json::to_value(&live).unwrap_or(serde_json::Value::Null);
    let tested = serde_json::to_value(backtest).unwrap_or(serde_json::Value::Null);
    // Every figure both reports have as a number: the backtest's less the live one.
    let mut difference = serde_json::Map::new();
    if let (Some(l), Some(b)) = (live.as_object(), tested.as_object()) {
        for (k, lv) in l {
            if let (Some(x), Some(y)) = (b.get(k).and_then(|v| v.as_f64()), lv.as_f64()) {
                difference.insert(k.clone(), json!(x - y));
            }
        }
    }
    Ok(json!({"bot_id": bot.id, "magic": bot.magic, "report": live, "difference": difference}))
}

fn needs_conversion(symbol: &mt5::SymbolInfo, account: &str) -> bool {
    [&symbol.currency_profit, &symbol.currency_margin]
        .iter()
        .any(|c| !c.is_empty() && !c.eq_ignore_ascii_case(account))
}

/// The symbols the engine converts `symbol`'s profit and margin currencies to `account` with:
/// a direct or inverse pair, else through USD (as `mt5_sim::market::convert_by_quotes`); none
/// for a currency the traded symbol converts itself, or the broker has no pair for.
pub fn conversion_symbols(
    symbol: &mt5::SymbolInfo,
    account: &str,
    all: &[mt5::SymbolInfo],
) -> Vec<mt5::SymbolInfo> {
    let quoting = |base: &str, profit: &str| {
        all.iter()
            .find(|s| s.currency_base == base && s.currency_profit == profit)
    };
    let leg = |from: &str, to: &str| quoting(from, to).or_else(|| quoting(to, from));
    let mut out: Vec<mt5::SymbolInfo> = Vec::new();
    for ccy in [&symbol.currency_profit, &symbol.currency_margin] {
        if ccy.is_empty() || ccy == account {
            continue;
        }
        let legs: Vec<&mt5::SymbolInfo> = match leg(ccy, account) {
            Some(direct) => vec![direct],
            None if ccy != "USD" && account != "USD" => leg(ccy, "USD")
                .into_iter()
                .chain(leg("USD", account))
                .collect(),
            None => Vec::new(),
        };
        for s in legs {
            if s.name != symbol.name && !out.iter().any(|o| o.name == s.name) {
                out.push(s.clone());
            }
        }
    }
    out
}

fn bars_len_note(stats: &ReadStats) -> Value {
    json!({"chunks": stats.chunks, "chunks_from_terminal": stats.from_terminal})
}
