//! Per-user context: each user's current account, resolved per request.
//!
//! In memory with a sliding TTL by default, behind [`SessionStore`] so a shared store (Redis) can
//! take its place when several replicas serve the same users.

use crate::swept::SweptMap;
use crate::unavailable::Unavailable;
use async_trait::async_trait;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use uuid::Uuid;

#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// The user's current account id, if set and not expired (refreshes the TTL).
    async fn current(&self, user: Uuid) -> Result<Option<Uuid>, Unavailable>;
    async fn set(&self, user: Uuid, account: Uuid) -> Result<(), Unavailable>;
    /// Forgets the current account if it is `account` (after a delete).
    async fn clear_if(&self, user: Uuid, account: Uuid) -> Result<(), Unavailable>;
}

pub struct MemorySessions {
    ttl: Duration,
    /// Expired sessions are swept as the map grows: it holds the users of the last TTL.
    map: Mutex<SweptMap<Uuid, (Uuid, Instant)>>,
}

impl MemorySessions {
    pub fn new(ttl: Duration) -> Self {
        MemorySessions {
            ttl,
            map: Mutex::new(SweptMap::default()),
        }
    }

    /// Users with a session held now (expired ones may linger until the next sweep).
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, SweptMap<Uuid, (Uuid, Instant)>> {
        // A poisoned map only means another request panicked mid-update; the data is still usable.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn current(&self, user: Uuid) -> Result<Option<Uuid>, Unavailable> {
        let mut held = self.lock();
        let map = &mut held.map;
        let now = Instant::now();
        Ok(match map.get_mut(&user) {
            Some((account, seen)) if now.duration_since(*seen) < self.ttl => {
                *seen = now;
                Some(*account)
            }
            Some(_) => {
                map.remove(&user);
                None
            }
            None => None,
        })
    }

    async fn set(&self, user: Uuid, account: Uuid) -> Result<(), Unavailable> {
        let now = Instant::now();
        let mut held = self.lock();
        held.map.insert(user, (account, now));
        held.sweep_if_grown(|_, (_, seen)| now.duration_since(*seen) < self.ttl);
        Ok(())
    }

    async fn clear_if(&self, user: Uuid, account: Uuid) -> Result<(), Unavailable> {
        let mut held = self.lock();
        if held.map.get(&user).map(|(a, _)| *a) == Some(account) {
            held.map.remove(&user);
        }
        Ok(())
    }
}

/// The user's current account: the session's choice, else the default; `no_account` when none.
/// A chosen account that is gone (or not the user's: the store shows only their rows) falls back
/// to the default.
pub async fn resolve_current(
    store: &dyn crate::store::Store,
    sessions: &dyn SessionStore,
    user: &crate::store::UserCtx,
) -> crate::error::ApiResult<crate::store::AccountRow> {
    if let Some(id) = sessions.current(user.user_id).await? {
        if let Some(row) = store.get_account(user, id).await? {
            return Ok(row);
        }
    }
    store
        .default_account(user)
        .await?
        .ok_or(crate::error::ApiError::NoAccount)
}

/// The account a request acts on: the one it names (`X-Account-Id`), which must be the user's
/// (`account_not_found` otherwise), else the user's current account.
pub async fn resolve_account(
    store: &dyn crate::store::Store,
    sessions: &dyn SessionStore,
    user: &crate::store::UserCtx,
    chosen: Option<Uuid>,
) -> crate::error::ApiResult<crate::store::AccountRow> {
    match chosen {
        Some(id) => store
            .get_account(user, id)
            .await?
            .ok_or(crate::error::ApiError::AccountNotFound),
        None => resolve_current(store, sessions, user).await,
    }
}
