//! Settling orders whose outcome was lost.
//!
//! An order whose call reached the terminal side without an answer coming back is journaled
//! `unknown`; one left `pending` past its deadline (the service died, or the database failed
//! around the send) is taken to be in doubt too. The reconciler looks for each such entry in the
//! broker's state until the call's deadline plus `RECONCILE_GRACE_MS` has passed, then settles it
//! with a compare-and-set on its status, so replicas can reconcile side by side:
//!
//! - `place` and `close_position` carry the client id in the order comment: found with a deal,
//!   or as an order placed, filled, partially filled, canceled or expired, it is `done` with the
//!   retcode MT5 would have answered (from the order's state); found rejected, `rejected`;
//! - `cancel_order` is `done` when the order is in the history as canceled;
//! - `modify_order` and `modify_position` are `done` when the order's or position's levels are
//!   the requested ones (MT5 keeps no comment of a modification);
//! - not found once the deadline and the grace period passed: `not_executed`;
//! - found, but in a state that does not tell what MT5 answered (still in process, or a state the
//!   service does not know, with no deal): left `unknown`, however long it takes: the order exists,
//!   so it is never called `not_executed`; past the grace period such an entry is looked at every
//!   30 s rather than every pass (each look is a terminal round trip);
//! - an entry whose account is gone: `failed`.
//!
//! Before any of that, an entry whose route names an agent with a ledger (protocol v3) is asked
//! there at once when it is `unknown`, or `pending` from a process run that is gone ([`ledger`]):
//! `answered` settles it with MT5's own answer, `never_received` settles it `not_executed`,
//! `running` asks again on the next pass; anything else is left to the steps above.
//!
//! It runs at startup and then in the background: every second while anything is open, every few
//! seconds otherwise, and at once when the order path wakes it.

use crate::error::{ApiError, ApiResult};
use crate::state::AppState;
use crate::store::journal::{Completion, JournalEntry, JournalStatus};
use crate::store::AccountRow;
use crate::trading::{
    comment_has_client_id, completion_for, error_outcome, is_client_id, modify_outcome, read,
    send_outcome, stored_response,
};
use mt5::enums::Mt5Enum;
use mt5::{HistorySelect, OrderSendResult, OrderState, PositionFilter, TradeDeal, TradeOrder};
use serde_json::Value;
use std::time::Duration;
use time::OffsetDateTime;

pub mod handle;
mod ledger;
pub use handle::Reconciler;

/// Default of `RECONCILE_GRACE_MS`.
pub const DEFAULT_GRACE: Duration = Duration::from_secs(60);
/// How long after its deadline a `pending` entry is left to the request that wrote it (which
/// may still be writing its outcome) before it is taken to be in doubt.
const PENDING_MARGIN: Duration = Duration::from_secs(2);
const BUSY_EVERY: Duration = Duration::from_secs(1);
const IDLE_EVERY: Duration = Duration::from_secs(5);
/// How often an order found in a state that does not settle it is looked at again once its
/// grace period is over: it may stay so for long, and each look is a terminal round trip.
const UNDECIDED_EVERY: Duration = Duration::from_secs(30);

/// Starts the background reconciler of `state`.
pub fn spawn(state: AppState) {
    let reconciler = state.reconciler.clone();
    let task = tokio::spawn(async move {
        loop {
            let open = match reconcile_once(&state).await {
                Ok(pass) => pass.open,
                Err(e) => {
                    tracing::warn!(error = %e, "journal reconciliation deferred");
                    1
                }
            };
            let every = if open > 0 { BUSY_EVERY } else { IDLE_EVERY };
            tokio::select! {
                _ = state.reconciler.notify.notified() => {}
                _ = tokio::time::sleep(every) => {}
            }
        }
    });
    if let Ok(mut t) = reconciler.task.lock() {
        *t = Some(task.abort_handle());
    };
}

/// What one pass did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pass {
    pub done: usize,
    pub rejected: usize,
    pub not_executed: usize,
    pub failed: usize,
    /// Entries still open after the pass (in flight, or in doubt within their grace period).
    pub open: usize,
}

impl Pass {
    /// Entries the pass settled.
    pub fn settled(&self) -> usize {
        self.done + self.rejected + self.not_executed + self.failed
    }

    /// How the pass is logged: at `info` only when it settled something; a pass that only found
    /// entries still open (one a second while any is) at `debug`; an empty one not at all.
    fn level(&self) -> Option<tracing::Level> {
        if self.settled() > 0 {
            Some(tracing::Level::INFO)
        } else if self.open > 0 {
            Some(tracing::Level::DEBUG)
        } else {
            None
        }
    }

    fn log(&self) {
        // `tracing`'s macros take their level as a constant, hence one call per level.
        match self.level() {
            Some(tracing::Level::INFO) => tracing::info!(
                done = self.done,
                rejected = self.rejected,
                not_executed = self.not_executed,
                failed = self.failed,
                open = self.open,
                "journal reconciliation pass"
            ),
            Some(_) => tracing::debug!(open = self.open, "journal reconciliation pass"),
            None => {}
        }
    }

    fn count(&mut self, status: JournalStatus) {
        match status {
            JournalStatus::Done => self.done += 1,
            JournalStatus::Rejected => self.rejected += 1,
            JournalStatus::NotExecuted => self.not_executed += 1,
            _ => self.failed += 1,
        }
    }
}

/// One pass over the open entries of every user.
pub async fn reconcile_once(state: &AppState) -> ApiResult<Pass> {
    let mut pass = Pass::default();
    let open = state.store.open_entries().await?;
    if open.is_empty() {
        return Ok(pass);
    }
    let accounts = state.store.all_credentials().await?;
    let budget = state.pool.timeout();
    // Whose process runs are alive, read once a pass, only when a ledger could be asked.
    let live = if open
        .iter()
        .any(|e| e.status == JournalStatus::Pending && e.route.ledger_id.is_some())
    {
        ledger::live_runs(state).await
    } else {
        None
    };
    // Forget the undecided entries that are settled now (here or by another replica).
    state
        .reconciler
        .undecided()
        .retain(|id, _| open.iter().any(|e| e.id == *id));
    for mut entry in open {
        let now = OffsetDateTime::now_utc();
        let deadline = entry.created_at + budget;
        let later = state
            .reconciler
            .undecided()
            .get(&entry.id)
            .is_some_and(|at| std::time::Instant::now() < *at);
        if later {
            pass.open += 1;
            continue;
        }
        if ledger::askable(state, &entry, &live) {
            let row = accounts
                .iter()
                .find(|a| a.id == entry.account_id && a.user_id == entry.user_id && a.is_active);
            if let Some(row) = row {
                match ledger::ask(state, row, &entry).await {
                    ledger::Verdict::Settled(found) => {
                        settle_from(state, &entry, entry.status, found, &mut pass).await?;
                        continue;
                    }
                    // Still running at the agent: asked again next pass, until the grace period
                    // ends (a call that hangs there is then looked for in the history too).
                    ledger::Verdict::Running if now < deadline + state.reconciler.grace() => {
                        pass.open += 1;
                        continue;
                    }
                    ledger::Verdict::Running => {}
                    ledger::Verdict::CannotTell => {}
                }
            }
        }
        if entry.status == JournalStatus::Pending {
            // In flight here or on another replica until its deadline.
            if now < deadline + PENDING_MARGIN {
                pass.open += 1;
                continue;
            }
            let in_doubt = Completion {
                status: Some(JournalStatus::Unknown),
                error: Some("left pending past its deadline".into()),
                ..Default::default()
            };
            if !state
                .store
                .settle(entry.id, JournalStatus::Pending, in_doubt)
                .await?
            {
                continue; // completed meanwhile
            }
            state.events.journal_changed(entry.user_id, entry.id);
            entry.status = JournalStatus::Unknown;
        }
        // Only through the account row of the entry's own user: a journal row naming another
        // user's account is settled by nothing.
        let Some(row) = accounts
            .iter()
            .find(|a| a.id == entry.account_id && a.user_id == entry.user_id && a.is_active)
        else {
            let gone = Completion {
                status: Some(JournalStatus::Failed),
                error: Some("account no longer active".into()),
                ..Default::default()
            };
            settle(state, &entry, gone, &mut pass).await?;
            continue;
        };
        match look_up(state, row, &entry).await {
            Ok(Found::Settled(found)) => settle(state, &entry, found, &mut pass).await?,
            Ok(Found::Nothing) if now >= deadline + state.reconciler.grace() => {
                let answer = ApiError::OrderNotSent {
                    journal_id: entry.id,
                    why: "not found in the broker's history".into(),
                };
                let missing = Completion {
                    status: Some(JournalStatus::NotExecuted),
                    error: Some("not found in the broker's history after its deadline".into()),
                    response: Some(stored_response(&error_outcome(&answer))),
                    ..Default::default()
                };
                settle(state, &entry, missing, &mut pass).await?;
            }
            Ok(Found::Nothing) => pass.open += 1,
            Ok(Found::Undecided) => {
                tracing::debug!(journal_id = %entry.id, "order found in a state that does not settle it yet");
                if now >= deadline + state.reconciler.grace() {
                    state
                        .reconciler
                        .undecided()
                        .insert(entry.id, std::time::Instant::now() + UNDECIDED_EVERY);
                }
                pass.open += 1;
            }
            Err(e) => {
                tracing::warn!(journal_id = %entry.id, error = %e, "reconciliation deferred: terminal unavailable");
                pass.open += 1;
            }
        }
    }
    pass.log();
    Ok(pass)
}

async fn settle(
    state: &AppState,
    entry: &JournalEntry,
    completion: Completion,
    pass: &mut Pass,
) -> ApiResult<()> {
    settle_from(state, entry, JournalStatus::Unknown, completion, pass).await
}

/// Settles an entry while its status is still `from` (a compare-and-set: replicas reconcile side
/// by side, and a request that wrote its own outcome meanwhile wins).
async fn settle_from(
    state: &AppState,
    entry: &JournalEntry,
    from: JournalStatus,
    completion: Completion,
    pass: &mut Pass,
) -> ApiResult<()> {
    let status = completion.status.unwrap_or(JournalStatus::Failed);
    if state.store.settle(entry.id, from, completion).await? {
        state.metrics.journal_reconciled(status.as_str());
        state.events.journal_changed(entry.user_id, entry.id);
        pass.count(status);
    }
    Ok(())
}

/// What the broker's state shows of an entry.
#[derive(Debug)]
enum Found {
    /// What happened, as the journal records it.
    Settled(Completion),
    /// No trace of it (yet); past its grace period it is `not_executed`.
    Nothing,
    /// The order is there, but its state does not tell what MT5 answered: it stays in doubt.
    Undecided,
}

/// The entry's outcome as the broker's state shows it.
async fn look_up(state: &AppState, row: &AccountRow, entry: &JournalEntry) -> ApiResult<Found> {
    let ticket = || entry.request.get("ticket").and_then(Value::as_u64);
    match entry.action.as_str() {
        "place" | "close_position" => {
            let Some((order, deals, offset_s)) =
                find_by_client_id(state, row, &entry.client_id, entry.created_at).await?
            else {
                return Ok(Found::Nothing);
            };
            let Some(result) = result_from_history(&order, &deals) else {
                return Ok(Found::Undecided);
            };
            let outcome = match send_outcome(&result, offset_s) {
                Ok(o) => o,
                Err(e) => error_outcome(&e),
            };
            Ok(Found::Settled(completion_for(&result, &outcome)))
        }
        "cancel_order" => {
            let Some(ticket) = ticket() else {
                return Ok(Found::Nothing);
            };
            let (active, history, offset_s) = read(state, row, move |t, at| {
                Box::pin(async move {
                    let active = t.orders(&at, &PositionFilter::Ticket(ticket)).await?;
                    let history = t
                        .history_orders(&at, &HistorySelect::Ticket { ticket })
                        .await?;
                    Ok((active, history, t.server_time_offset_s(&at).await?))
                })
            })
            .await?;
            let gone = active.iter().all(|o| o.ticket != ticket);
            let ended = history.iter().find(|o| o.ticket == ticket).map(|o| o.state);
            match ended {
                Some(OrderState::Canceled) if gone => {}
                // Out of the book in a state the service does not know: canceled or not cannot
                // be told, and it is not called either.
                Some(OrderState::Unknown(_)) if gone => return Ok(Found::Undecided),
                _ => return Ok(Found::Nothing),
            }
            let result = reconciled(ticket);
            let outcome = send_outcome(&result, offset_s)?;
            Ok(Found::Settled(completion_for(&result, &outcome)))
        }
        "modify_position" | "modify_order" => {
            let Some(ticket) = ticket() else {
                return Ok(Found::Nothing);
            };
            let position = entry.action == "modify_position";
            let (levels, offset_s) = read(state, row, move |t, at| {
                Box::pin(async move {
                    let levels = if position {
                        t.positions(&at, &PositionFilter::Ticket(ticket))
                            .await?
                            .into_iter()
                            .find(|p| p.ticket == ticket)
                            .map(|p| Levels {
                                price: None,
                                sl: p.sl,
                                tp: p.tp,
                                stoplimit: None,
                            })
                    } else {
                        t.orders(&at, &PositionFilter::Ticket(ticket))
                            .await?
                            .into_iter()
                            .find(|o| o.ticket == ticket)
                            .map(|o| Levels {
                                price: Some(o.price_open),
                                sl: o.sl,
                                tp: o.tp,
                                stoplimit: Some(o.price_stoplimit),
                            })
                    };
                    Ok((levels, t.server_time_offset_s(&at).await?))
                })
            })
            .await?;
            match levels {
                Some(l) if l.are(&entry.request) => {
                    let mut result = reconciled(if position { 0 } else { ticket });
                    result.retcode = mt5::retcode::DONE;
                    let outcome = modify_outcome(&result, offset_s)?;
                    Ok(Found::Settled(completion_for(&result, &outcome)))
                }
                _ => Ok(Found::Nothing),
            }
        }
        _ => Ok(Found::Nothing),
    }
}

/// An order's or a position's levels, to compare with what a modify asked for.
struct Levels {
    price: Option<f64>,
    sl: f64,
    tp: f64,
    stoplimit: Option<f64>,
}

impl Levels {
    /// Whether every level the request names is what the broker holds (a `null` in a journaled
    /// modify is a level it did not name; a journaled `modify_position` names both).
    fn are(&self, request: &Value) -> bool {
        let same = |a: f64, b: f64| (a - b).abs() <= 1e-6 * a.abs().max(b.abs()).max(1.0);
        let wants = |k: &str| request.get(k).and_then(Value::as_f64);
        let mut named = 0;
        for (key, held) in [
            ("price", self.price),
            ("sl", Some(self.sl)),
            ("tp", Some(self.tp)),
            ("stoplimit", self.stoplimit),
        ] {
            if let (Some(want), Some(held)) = (wants(key), held) {
                if !same(want, held) {
                    return false;
                }
                named += 1;
            }
        }
        named > 0
    }
}

/// The result of a request settled from the broker's state.
fn reconciled(order: u64) -> OrderSendResult {
    OrderSendResult {
        retcode: mt5::retcode::DONE,
        order,
        comment: "Request executed (reconciled)".into(),
        ..Default::default()
    }
}

/// Rebuilds what `order_send` would have answered from an order in the broker's history and its
/// deals: its deals when it has any (whatever its state says), else its state. `None` when that
/// cannot be told: the broker is still processing it, or its state is one the service does not
/// know.
pub fn result_from_history(order: &TradeOrder, deals: &[TradeDeal]) -> Option<OrderSendResult> {
    use mt5::retcode::{DONE, DONE_PARTIAL, PLACED, REJECT};
    let filled: f64 = deals.iter().map(|d| d.volume).sum();
    let retcode = if filled > 0.0 {
        if filled + 1e-9 >= order.volume_initial {
            DONE
        } else {
            DONE_PARTIAL
        }
    } else {
        match order.state {
            OrderState::Filled => DONE,
            OrderState::Partial => DONE_PARTIAL,
            OrderState::Placed => PLACED,
            // A pending order that was placed and later canceled or expired was accepted; a
            // market order that ends so without a deal (an unfilled FOK) was not.
            OrderState::Canceled | OrderState::Expired if order.r#type.is_pending() => PLACED,
            // Of a type the service does not know, pending or not cannot be told, nor so
            // whether it was accepted.
            OrderState::Canceled | OrderState::Expired if !order.r#type.is_known() => return None,
            OrderState::Canceled | OrderState::Expired | OrderState::Rejected => REJECT,
            OrderState::Started
            | OrderState::RequestAdd
            | OrderState::RequestModify
            | OrderState::RequestCancel => return None,
            // A state MT5 does not list, and no deal: the order may have been accepted (a pending
            // order resting or done with), or refused, and nothing else in the history tells
            // which, so MT5's answer cannot be rebuilt. The entry stays in doubt rather than be
            // called placed or rejected on a guess. (With a deal it is settled above: a deal
            // means MT5 executed it, whatever the state is called.)
            OrderState::Unknown(_) => return None,
        }
    };
    let price = if filled > 0.0 {
        deals.iter().map(|d| d.price * d.volume).sum::<f64>() / filled
    } else {
        order.price_open
    };
    Some(OrderSendResult {
        retcode,
        deal: deals.first().map(|d| d.ticket).unwrap_or(0),
        order: order.ticket,
        volume: if filled > 0.0 {
            filled
        } else {
            order.volume_initial
        },
        price,
        comment: if retcode == REJECT {
            "Request rejected (reconciled)".into()
        } else {
            "Request executed (reconciled)".into()
        },
        ..Default::default()
    })
}

/// Finds the order that carries `client_id` in its comment, among active orders and the history
/// from a day before `since` on, with its deals; also returns the server-time offset.
pub async fn find_by_client_id(
    state: &AppState,
    row: &AccountRow,
    client_id: &str,
    since: OffsetDateTime,
) -> ApiResult<Option<(TradeOrder, Vec<TradeDeal>, i64)>> {
    if !is_client_id(client_id) {
        return Ok(None);
    }
    let cid = client_id.to_string();
    let since = since.unix_timestamp();
    read(state, row, move |t, at| {
        let cid = cid.clone();
        Box::pin(async move {
            let offset = t.server_time_offset_s(&at).await?;
            let now = OffsetDateTime::now_utc()
                .unix_timestamp()
                .saturating_add(offset);
            let select = HistorySelect::Range {
                from: since.saturating_add(offset).saturating_sub(86_400),
                to: now.saturating_add(86_400),
                group: None,
            };
            let mut candidates = t.orders(&at, &PositionFilter::All).await?;
            candidates.extend(t.history_orders(&at, &select).await?);
            let Some(order) = candidates
                .into_iter()
                .find(|o| comment_has_client_id(&o.comment, &cid))
            else {
                return Ok(None);
            };
            let deals = t
                .history_deals(
                    &at,
                    &HistorySelect::Ticket {
                        ticket: order.ticket,
                    },
                )
                .await?;
            Ok(Some((order, deals, offset)))
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use mt5::OrderType;

    fn order(r#type: OrderType, state: OrderState) -> TradeOrder {
        TradeOrder {
            ticket: 7,
            r#type,
            state,
            volume_initial: 0.2,
            price_open: 1.1,
            ..Default::default()
        }
    }

    fn deal(volume: f64, price: f64) -> TradeDeal {
        TradeDeal {
            ticket: 70,
            order: 7,
            volume,
            price,
            ..Default::default()
        }
    }

    #[test]
    fn deals_settle_an_order_whatever_its_state_is_called() {
        for state in [OrderState::Filled, OrderState::Unknown(17)] {
            let r = result_from_history(&order(OrderType::Buy, state), &[deal(0.2, 1.2)]).unwrap();
            assert_eq!(
                (r.retcode, r.order, r.deal, r.volume, r.price),
                (mt5::retcode::DONE, 7, 70, 0.2, 1.2)
            );
        }
        let part = result_from_history(
            &order(OrderType::Sell, OrderState::Unknown(17)),
            &[deal(0.1, 1.0)],
        )
        .unwrap();
        assert_eq!(part.retcode, mt5::retcode::DONE_PARTIAL);
    }

    #[test]
    fn without_deals_an_unknown_state_leaves_the_answer_untold() {
        for t in [OrderType::Buy, OrderType::BuyLimit, OrderType::Unknown(12)] {
            assert_eq!(
                result_from_history(&order(t, OrderState::Unknown(17)), &[]),
                None
            );
        }
        // Known states still tell.
        let placed = result_from_history(&order(OrderType::BuyLimit, OrderState::Canceled), &[]);
        assert_eq!(placed.map(|r| r.retcode), Some(mt5::retcode::PLACED));
        let refused = result_from_history(&order(OrderType::Buy, OrderState::Canceled), &[]);
        assert_eq!(refused.map(|r| r.retcode), Some(mt5::retcode::REJECT));
        // Of a type the service does not know, a canceled order may have rested or not.
        let odd = result_from_history(&order(OrderType::Unknown(12), OrderState::Expired), &[]);
        assert_eq!(odd, None);
        let odd = result_from_history(&order(OrderType::Unknown(12), OrderState::Rejected), &[]);
        assert_eq!(odd.map(|r| r.retcode), Some(mt5::retcode::REJECT));
    }

    #[test]
    fn a_pass_is_logged_at_info_only_when_it_settled_something() {
        let open = Pass {
            open: 3,
            ..Pass::default()
        };
        assert_eq!(open.level(), Some(tracing::Level::DEBUG));
        assert_eq!(Pass::default().level(), None);
        for settled in [
            Pass { done: 1, ..open },
            Pass {
                rejected: 1,
                ..open
            },
            Pass {
                not_executed: 1,
                ..open
            },
            Pass {
                failed: 1,
                ..Pass::default()
            },
        ] {
            assert_eq!(settled.level(), Some(tracing::Level::INFO), "{settled:?}");
        }
    }
}
