//! The bot scheduler: every tick (or when rung) it reads the running bots that are due by the
//! clock, groups them by account, and runs each account's wave under the account's lease, at most
//! as many accounts at a time as the pool has terminals in service. The clock is the application's
//! (`AppState::clock`): a test that moves it moves the scheduler. Once an hour it deletes bot runs
//! and passes older than BOT_RUNS_KEPT_DAYS.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use time::OffsetDateTime;
use uuid::Uuid;

use crate::state::AppState;

/// How often due bots are looked for.
pub const TICK: Duration = Duration::from_millis(250);
use super::rules::WAVE_LEASE_MS;
/// Due bots read per tick.
const DUE_PER_TICK: u32 = 2_000;

pub fn spawn(state: AppState) {
    let bots = state.bots.clone();
    let task = tokio::spawn(async move { run(state).await });
    bots.track(task.abort_handle());
}

async fn run(state: AppState) {
    let in_flight: Arc<Mutex<HashSet<Uuid>>> = Arc::default();
    let mut capacity = in_service(&state);
    let admit = Arc::new(tokio::sync::Semaphore::new(capacity));
    let mut last_prune: Option<std::time::Instant> = None;
    loop {
        tokio::select! {
            _ = tokio::time::sleep(TICK) => {}
            _ = state.bots.rung() => {}
        }
        // As many waves at a time as terminals in service now (one taken out or back changes it;
        // permits in use are taken off as their waves end).
        let target = in_service(&state);
        if target > capacity {
            admit.add_permits(target - capacity);
            capacity = target;
        } else if target < capacity {
            capacity -= admit.forget_permits(capacity - target);
        }
        if last_prune.is_none_or(|t| t.elapsed() > Duration::from_secs(3600)) {
            last_prune = Some(std::time::Instant::now());
            prune(&state).await;
        }
        let now =
            OffsetDateTime::from_unix_timestamp_nanos(i128::from(state.clock.now_ms()) * 1_000_000)
                .unwrap_or(OffsetDateTime::UNIX_EPOCH);
        let due = match state.store.due_bots(now, DUE_PER_TICK).await {
            Ok(d) => d,
            Err(e) => {
                tracing::warn!(error = %e, "bots: due bots not read");
                continue;
            }
        };
        let mut accounts: BTreeMap<Uuid, Uuid> = BTreeMap::new();
        for b in due {
            accounts.entry(b.account_id).or_insert(b.user_id);
        }
        for (account_id, user_id) in accounts {
            {
                let mut busy = in_flight.lock().unwrap_or_else(|p| p.into_inner());
                if !busy.insert(account_id) {
                    continue;
                }
            }
            let (state, in_flight, admit) = (state.clone(), in_flight.clone(), admit.clone());
            tokio::spawn(async move {
                if let Ok(_permit) = admit.acquire().await {
                    wave(&state, user_id, account_id, now).await;
                }
                in_flight
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&account_id);
            });
        }
    }
}

/// Terminals in service: the pool's, less those down (at least one, so waves wait rather than stop).
fn in_service(state: &AppState) -> usize {
    state
        .pool
        .size()
        .saturating_sub(state.pool.terminals_down())
        .max(1)
}

async fn wave(state: &AppState, user_id: Uuid, account_id: Uuid, now: OffsetDateTime) {
    let replica = state.bots.replica().to_string();
    let bots = match state
        .store
        .claim_wave(account_id, &replica, WAVE_LEASE_MS, now)
        .await
    {
        Ok(Some(b)) => b,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!(account_id = %account_id, error = %e, "bots: wave not claimed");
            return;
        }
    };
    if !bots.is_empty() {
        super::wave::run(state, user_id, account_id, bots).await;
    }
    if let Err(e) = state.store.release_wave(account_id, &replica).await {
        tracing::warn!(account_id = %account_id, error = %e, "bots: wave lease not released");
    }
}

async fn prune(state: &AppState) {
    let kept =
        time::Duration::try_from(state.bots.settings.runs_kept).unwrap_or(time::Duration::DAY);
    let before = OffsetDateTime::now_utc() - kept;
    match state.store.prune_bot_runs(before).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(runs = n, "bots: old runs deleted"),
        Err(e) => tracing::warn!(error = %e, "bots: old runs not deleted"),
    }
}
