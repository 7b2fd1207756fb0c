//! Asking an agent's ledger (protocol v3) what became of an order in doubt, at once rather than
//! after its deadline and grace period.
//!
//! Asked: `unknown` entries, and `pending` entries written by another process run that is gone
//! (an earlier run of this process, or a replica whose Redis heartbeat is gone), whose route names
//! an agent with a ledger. The ledger answers, for the entry's own session only:
//!
//! - `answered`, from the ledger the entry recorded: settled with MT5's own answer, exactly as the
//!   order path would have (the key replays it); an answer that proves nothing ran (MT5's -2 or
//!   -8): `not_executed`;
//! - `never_received`, from the ledger the entry recorded, the entry younger than the ledger's
//!   retention: `not_executed` at once (the agent recorded a tombstone: the order can never run);
//! - `running`: left open, asked again on the next pass (every second while anything is open),
//!   until the deadline and the grace period have passed (then the history is looked at too);
//! - `interrupted`, `unknown` (another session), another ledger id, an agent that cannot be reached
//!   or speaks v2, a simulated terminal: nothing here; the broker's history and the grace period
//!   settle it as before.

use crate::agent::client::AgentTerminal;
use crate::agent::wire::{LedgerEntry, LedgerState};
use crate::error::ApiError;
use crate::state::AppState;
use crate::store::journal::{Completion, JournalEntry, JournalStatus};
use crate::store::AccountRow;
use crate::trading::{
    completion_for, error_outcome, modify_outcome, send_outcome, stored_response,
};
use mt5::wire::{fill_missing, from_wire, Kind};
use mt5::{OrderSendResult, TerminalError};
use time::OffsetDateTime;

/// What the ledger settles of an entry.
pub(super) enum Verdict {
    /// Settled: the completion to write.
    Settled(Completion),
    /// The call is still running at the agent: ask again on the next pass.
    Running,
    /// The ledger cannot tell: settled as before (history, then the grace period).
    CannotTell,
}

/// The process runs alive now: `None` when every other run is gone (no Redis: one process), else
/// the replicas whose heartbeat is in Redis (an empty list when Redis cannot say: then no run is
/// taken for gone).
pub(super) async fn live_runs(state: &AppState) -> Option<Result<Vec<String>, ()>> {
    let redis = state.redis.as_ref()?;
    Some(crate::ownership::live_replicas(redis).await.map_err(|_| ()))
}

/// Whether the ledger may be asked about `entry` now.
pub(super) fn askable(
    state: &AppState,
    entry: &JournalEntry,
    live: &Option<Result<Vec<String>, ()>>,
) -> bool {
    if entry.route.terminal_index.is_none() || entry.route.ledger_id.is_none() {
        return false;
    }
    match entry.status {
        JournalStatus::Unknown => true,
        JournalStatus::Pending => match entry.route.process_run_id.as_deref() {
            None => false,
            // In flight in this process: its own request settles it.
            Some(run) if run == state.process_run_id => false,
            Some(run) => match live {
                None => true,
                Some(Ok(replicas)) => !replicas.iter().any(|r| r == run),
                Some(Err(())) => false,
            },
        },
        _ => false,
    }
}

/// Asks the agent the entry went to.
pub(super) async fn ask(state: &AppState, row: &AccountRow, entry: &JournalEntry) -> Verdict {
    let Some(slot) = entry
        .route
        .terminal_index
        .and_then(|i| usize::try_from(i).ok())
    else {
        return Verdict::CannotTell;
    };
    let Some(terminal) = state.pool.terminal(slot) else {
        return Verdict::CannotTell;
    };
    let Some(agent) = terminal
        .as_any()
        .and_then(|a| a.downcast_ref::<AgentTerminal>())
    else {
        return Verdict::CannotTell;
    };
    let Ok(session) = state.credentials.session(row).await else {
        return Verdict::CannotTell;
    };
    let answer = match agent
        .ledger(&session, std::slice::from_ref(&entry.client_id))
        .await
    {
        Ok(a) => a,
        Err(e) => {
            tracing::debug!(journal_id = %entry.id, error = %e, "the agent's ledger did not answer");
            return Verdict::CannotTell;
        }
    };
    if Some(answer.ledger_id.as_str()) != entry.route.ledger_id.as_deref() {
        // Another ledger (the file was replaced): it cannot know this order.
        return Verdict::CannotTell;
    }
    let Some(found) = answer
        .entries
        .into_iter()
        .find(|e| e.client_id == entry.client_id)
    else {
        return Verdict::CannotTell;
    };
    let retention = agent.ledger_retention();
    verdict(state, row, entry, found, retention)
}

fn verdict(
    state: &AppState,
    row: &AccountRow,
    entry: &JournalEntry,
    found: LedgerEntry,
    retention: Option<std::time::Duration>,
) -> Verdict {
    match found.state {
        LedgerState::Running => Verdict::Running,
        LedgerState::NeverReceived => {
            let age = OffsetDateTime::now_utc() - entry.created_at;
            let young = retention.is_some_and(|r| age < r);
            if !young {
                return Verdict::CannotTell;
            }
            let answer = ApiError::OrderNotSent {
                journal_id: entry.id,
                why: "the terminal agent never received it".into(),
            };
            Verdict::Settled(Completion {
                status: Some(JournalStatus::NotExecuted),
                error: Some("never received by the terminal agent (its ledger)".into()),
                response: Some(stored_response(&error_outcome(&answer))),
                ..Default::default()
            })
        }
        LedgerState::Answered => match found.answer {
            Some(a) if a.status == 200 => {
                let Some(mut result) = a.result else {
                    return Verdict::CannotTell;
                };
                fill_missing::<OrderSendResult>(Kind::OrderSendResult, &mut result);
                let Ok(result) = from_wire::<OrderSendResult>(Kind::OrderSendResult, result) else {
                    return Verdict::CannotTell;
                };
                let offset_s = state
                    .server_clocks
                    .current(&row.server, std::time::Instant::now())
                    .unwrap_or(0);
                let modify = crate::store::journal::JournalAction::parse(&entry.action)
                    .is_some_and(|a| a.is_modify());
                let outcome = if modify {
                    modify_outcome(&result, offset_s)
                } else {
                    send_outcome(&result, offset_s)
                };
                let stored = match &outcome {
                    Ok(o) => o.clone(),
                    Err(e) => error_outcome(e),
                };
                Verdict::Settled(completion_for(&result, &stored))
            }
            Some(a) => {
                // An error that proves nothing ran (MT5's -2 or -8): as the order path answers it.
                let Some((code, message)) = a.error.and_then(|e| e.last_error) else {
                    return Verdict::CannotTell;
                };
                let err = TerminalError::Mt5 { code, message };
                if !err.is_not_sent() {
                    return Verdict::CannotTell;
                }
                let answer = ApiError::from(err);
                let code = answer.status_and_code().1.to_string();
                Verdict::Settled(Completion {
                    status: Some(JournalStatus::NotExecuted),
                    error: Some(code),
                    response: Some(stored_response(&error_outcome(&answer))),
                    ..Default::default()
                })
            }
            None => Verdict::CannotTell,
        },
        LedgerState::Interrupted | LedgerState::Unknown => Verdict::CannotTell,
    }
}
