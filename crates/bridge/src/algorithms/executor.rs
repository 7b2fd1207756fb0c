//! One execution of an algorithm on an account: read the latest closed bars and the strategy's
//! positions, evaluate the strategy (its levels on the symbol's tick grid), hold back what the
//! symbol's stops and freeze levels forbid, size each entry by risk, apply the risk checks, and
//! send each order through the same pipeline as `POST /orders` (journaled with the algorithm and
//! run ids, counted against the trade limit). `dry_run` plans the same trades and sends nothing.

use super::driver::{self, skip_reason, Entry, Exit, Market, Sent, Venue};
use super::strategies::{Params, Strategy};
use crate::error::{ApiError, ApiResult};
use crate::pool::Purpose;
use crate::risk::RiskLimits;
use crate::state::AppState;
use crate::store::algorithms::{NewAlgorithmRun, RunFinish, RUN_DONE, RUN_FAILED};
use crate::store::{AccountRow, UserCtx};
use crate::trading::{
    on_terminal, request_hash, risk_refusal, submit, submit_on, Close, Command, Guard, HeldBack,
    Intent, Leased, Place, Source,
};
use mt5::util::PriceGrid;
use mt5::{AccountTradeMode, PositionFilter, RatesRange, SymbolInfo, TradePosition};
use serde_json::{json, Value};
use uuid::Uuid;

/// The magic number an algorithm's orders carry, so its positions can be told from the others.
pub fn magic_for(algorithm_id: &str) -> u64 {
    let h = u64::from_str_radix(&request_hash(&json!(algorithm_id)), 16).unwrap_or(0);
    1_000_000_000 + h % 1_000_000_000
}

/// What the strategy sees: closed bars, its own positions on the symbol, the symbol, equity;
/// and whether the terminal reports a real-money account.
struct View {
    symbol: SymbolInfo,
    bars: Vec<mt5::Rate>,
    own: Vec<TradePosition>,
    equity: f64,
    real: bool,
}

async fn view(
    state: &AppState,
    row: &AccountRow,
    strategy: &dyn Strategy,
    p: &Params,
    magic: u64,
    purpose: Purpose,
) -> ApiResult<View> {
    let symbol = p.symbol.clone();
    let timeframe = p.timeframe;
    // One more bar than needed: the last one returned is dropped when it is still forming.
    let count = strategy.bars_needed(p).saturating_add(1);
    let clock = state.clock.clone();
    // A run that will trade reads on a session that may trade: a read-only (investor) session
    // refuses it here, with `read_only_account`, before any intent is evaluated or sent.
    on_terminal(state, row, purpose, move |t, at| {
        let symbol = symbol.clone();
        let clock = clock.clone();
        Box::pin(async move {
            let info = t.symbol_info(&at, &symbol).await?;
            let offset = t.server_time_offset_s(&at).await?;
            let mut bars = t
                .copy_rates(
                    &at,
                    &symbol,
                    timeframe,
                    RatesRange::FromPos { start: 0, count },
                )
                .await?;
            let server_now = clock.now_ms().div_euclid(1000).saturating_add(offset);
            crate::bots::rules::closed_only(&mut bars, timeframe, server_now);
            // As many as the strategy asked for, whichever bar was dropped.
            let keep = strategy_bars(count);
            if bars.len() > keep {
                bars.drain(..bars.len() - keep);
            }
            let own = t
                .positions(&at, &PositionFilter::Symbol(symbol.clone()))
                .await?
                .into_iter()
                .filter(|p| p.magic == magic)
                .collect();
            let account = t.account_info(&at).await?;
            Ok(View {
                symbol: info,
                bars,
                own,
                equity: account.equity,
                // A trade mode the service does not know may be real money: it counts as live.
                real: !matches!(
                    account.trade_mode,
                    AccountTradeMode::Demo | AccountTradeMode::Contest
                ),
            })
        })
    })
    .await
}

/// The bars a view keeps of the `count` it reads (one spare for the forming bar).
pub(crate) fn strategy_bars(count: u32) -> usize {
    count.saturating_sub(1) as usize
}

pub use super::driver::{AlgorithmTrade, EntryTrade, ExitTrade, SkippedIntent};

/// What a run did: the trades it placed (or would have, dry) and the intents it did not send.
#[derive(Debug, Clone)]
pub struct RunReport {
    pub run_id: Uuid,
    pub dry_run: bool,
    pub trades: Vec<AlgorithmTrade>,
    pub skipped: Vec<SkippedIntent>,
}

/// The skip reason for a failed submission: the rule the order was held back for, else the error.
fn reason_for(held: &HeldBack, e: &ApiError) -> String {
    match held.rule() {
        Some(bad) => bad.reason(),
        None => skip_reason(e),
    }
}

pub struct Execution<'a> {
    pub account: &'a AccountRow,
    pub algorithm_id: String,
    pub strategy: &'a dyn Strategy,
    pub params: Params,
    pub raw_parameters: Value,
    pub dry_run: bool,
    /// The request's `confirm_live`: needed when the terminal reports a real-money account.
    pub confirm_live: bool,
}

/// Runs one pass; returns the response body. The account's stored risk limits are validated
/// first: a value the service cannot read is a `validation_failed` and no run is recorded.
pub async fn execute(state: &AppState, user: &UserCtx, ex: Execution<'_>) -> ApiResult<RunReport> {
    let limits = RiskLimits::stored(ex.account.risk_limits.as_ref())?;
    let run = state
        .store
        .create_run(
            user,
            NewAlgorithmRun {
                id: Uuid::new_v4(),
                account_id: ex.account.id,
                algorithm_id: ex.algorithm_id.clone(),
                algorithm_kind: ex.strategy.name().to_string(),
                parameters: ex.raw_parameters.clone(),
                dry_run: ex.dry_run,
                bot: None,
            },
        )
        .await?;
    state.events.run_changed(user.user_id, run.id);
    let result = pass(state, user, &ex, &limits, run.id).await;
    let finish = match &result {
        Ok((trades, skipped)) => RunFinish {
            status: RUN_DONE.into(),
            trades: serde_json::to_value(trades).unwrap_or_else(|_| json!([])),
            skipped: serde_json::to_value(skipped).unwrap_or_else(|_| json!([])),
            error: None,
        },
        Err(e) => RunFinish {
            status: RUN_FAILED.into(),
            trades: json!([]),
            skipped: json!([]),
            error: Some(skip_reason(e)),
        },
    };
    state.store.finish_run(user, run.id, finish).await?;
    state.events.run_changed(user.user_id, run.id);
    let (trades, skipped) = result?;
    Ok(RunReport {
        run_id: run.id,
        dry_run: ex.dry_run,
        trades,
        skipped,
    })
}

async fn pass(
    state: &AppState,
    user: &UserCtx,
    ex: &Execution<'_>,
    limits: &RiskLimits,
    run_id: Uuid,
) -> ApiResult<(Vec<AlgorithmTrade>, Vec<SkippedIntent>)> {
    let magic = magic_for(&ex.algorithm_id);
    let purpose = if ex.dry_run {
        Purpose::Read
    } else {
        Purpose::Trade
    };
    let v = view(state, ex.account, ex.strategy, &ex.params, magic, purpose).await?;
    // The account is live when MT5 says so, whatever its row says: the row's `account_type` is
    // only a label the user may clear or rewrite (PUT, or the Data API). Checked on the session
    // that would send, before any intent is evaluated, so nothing is sent without the confirmation.
    if v.real && !ex.confirm_live {
        return Err(ApiError::LiveConfirmationRequired);
    }
    let market = Market {
        symbol: &v.symbol,
        bars: &v.bars,
        own: &v.own,
        equity: v.equity,
    };
    if ex.dry_run {
        let mut venue = DryRun {
            state,
            account: ex.account,
            limits,
            lease: None,
        };
        driver::pass(ex.strategy, &ex.params, &market, magic, &mut venue).await
    } else {
        let mut venue = Live {
            state,
            user,
            account: ex.account,
            algorithm_id: &ex.algorithm_id,
            run_id,
            symbol: &v.symbol,
            lease: None,
            budget_spent: false,
        };
        driver::pass(ex.strategy, &ex.params, &market, magic, &mut venue).await
    }
}

/// A dry run's venue: sends nothing; an entry meets the account's risk limits as a live one
/// would, on the terminal now.
pub(crate) struct DryRun<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) account: &'a AccountRow,
    pub(crate) limits: &'a RiskLimits,
    /// The terminal a bot wave holds for the account; `None` takes one from the pool.
    pub(crate) lease: Option<&'a Leased>,
}

#[async_trait::async_trait]
impl Venue for DryRun<'_> {
    async fn enter(&mut self, entry: &Entry) -> ApiResult<Sent> {
        let refusal = risk_refusal(
            self.state,
            self.account,
            self.limits,
            &entry.request,
            self.lease,
        )
        .await?;
        Ok(match refusal {
            Some(r) => Sent::Skipped(format!("risk_limit_exceeded: {}", r.message)),
            None => Sent::Filled {
                ticket: None,
                volume: entry.volume,
                price: entry.price,
            },
        })
    }

    async fn exit(&mut self, exit: &Exit) -> ApiResult<Sent> {
        Ok(Sent::Filled {
            ticket: None,
            volume: exit.position.volume,
            price: exit.price,
        })
    }
}

/// A live run's venue: each order goes through the order pipeline (journaled with the algorithm
/// and run ids, counted against the trade limit), priced and its levels checked again at the
/// quote of the moment.
pub(crate) struct Live<'a> {
    pub(crate) state: &'a AppState,
    pub(crate) user: &'a UserCtx,
    pub(crate) account: &'a AccountRow,
    pub(crate) algorithm_id: &'a str,
    pub(crate) run_id: Uuid,
    /// The symbol as the strategy saw it.
    pub(crate) symbol: &'a SymbolInfo,
    /// The terminal a bot wave holds for the account; `None` takes one from the pool.
    pub(crate) lease: Option<&'a Leased>,
    /// Whether an order was answered `429 refusals_per_user` (the user's refusal budget spent).
    pub(crate) budget_spent: bool,
}

impl Live<'_> {
    async fn submit(&mut self, intent: Intent) -> ApiResult<crate::trading::Done> {
        let done = match self.lease {
            Some(lease) => submit_on(self.state, self.user, self.account, intent, lease).await,
            None => submit(self.state, self.user, self.account, intent).await,
        };
        if let Err(ApiError::RateLimited { scope, .. }) = &done {
            self.budget_spent |= *scope == crate::trading::RefusalBudget::SCOPE;
        }
        done
    }

    /// Sends an order: filled as the broker answered (else as asked), or skipped with why.
    async fn send(&mut self, intent: Intent, held: &HeldBack, volume: f64, price: f64) -> Sent {
        match self.submit(intent).await {
            Ok(done) => {
                let result = done.result.as_deref();
                Sent::Filled {
                    ticket: result.map(|r| r.order),
                    volume: result.map_or(volume, |r| r.volume),
                    price: result.map_or(price, |r| r.price),
                }
            }
            Err(e) => Sent::Skipped(reason_for(held, &e)),
        }
    }

    fn source(&self) -> Source {
        Source::Algorithm {
            algorithm_id: self.algorithm_id.to_string(),
            run_id: self.run_id,
        }
    }

    fn guard(&self, held: &HeldBack) -> Guard {
        Guard {
            info: self.symbol.clone(),
            grid: PriceGrid::of(self.symbol),
            held: held.clone(),
        }
    }
}

#[async_trait::async_trait]
impl Venue for Live<'_> {
    async fn enter(&mut self, entry: &Entry) -> ApiResult<Sent> {
        let held = HeldBack::default();
        let request = &entry.request;
        let intent = Intent {
            command: Command::Place(Place {
                symbol: request.symbol.clone(),
                r#type: entry.r#type,
                volume: entry.volume,
                price: None,
                stoplimit: None,
                sl: entry.sl,
                tp: entry.tp.unwrap_or(0.0),
                deviation: request.deviation,
                type_filling: Some(entry.type_filling),
                type_time: Default::default(),
                expiration_utc: None,
                magic: request.magic,
                comment: Some("algo".into()),
                guard: Some(self.guard(&held)),
            }),
            request: json!({"symbol": request.symbol, "type": entry.side, "volume": entry.volume, "sl": entry.sl, "tp": entry.tp, "magic": request.magic}),
            idempotency_key: None,
            source: self.source(),
        };
        Ok(self.send(intent, &held, entry.volume, entry.price).await)
    }

    async fn exit(&mut self, exit: &Exit) -> ApiResult<Sent> {
        let held = HeldBack::default();
        let pos = &exit.position;
        let intent = Intent {
            command: Command::Close(Close {
                volume: pos.volume,
                position: pos.clone(),
                r#type: exit.r#type,
                deviation: 20,
                type_filling: Some(exit.type_filling),
                comment: Some("algo exit".into()),
                guard: Some(self.guard(&held)),
            }),
            request: json!({"ticket": pos.ticket, "volume": pos.volume}),
            idempotency_key: None,
            source: self.source(),
        };
        Ok(self.send(intent, &held, pos.volume, exit.price).await)
    }
}
