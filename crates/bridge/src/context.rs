//! Per-user context: each user's current account, resolved per request.
//!
//! In memory with a sliding TTL by default, behind [`SessionStore`] so a shared store (Redis) can
//! take its place when several replicas serve the same users.

use crate::shared_state::Unavailable;
use async_trait::async_trait;
use std::collections::HashMap;
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
    map: Mutex<HashMap<Uuid, (Uuid, Instant)>>,
}

impl MemorySessions {
    pub fn new(ttl: Duration) -> Self {
        MemorySessions {
            ttl,
            map: Mutex::new(HashMap::new()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Uuid, (Uuid, Instant)>> {
        // A poisoned map only means another request panicked mid-update; the data is still usable.
        self.map.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[async_trait]
impl SessionStore for MemorySessions {
    async fn current(&self, user: Uuid) -> Result<Option<Uuid>, Unavailable> {
        let mut map = self.lock();
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
        self.lock().insert(user, (account, Instant::now()));
        Ok(())
    }

    async fn clear_if(&self, user: Uuid, account: Uuid) -> Result<(), Unavailable> {
        let mut map = self.lock();
        if map.get(&user).map(|(a, _)| *a) == Some(account) {
            map.remove(&user);
        }
        Ok(())
    }
}

/// The contract every session store keeps (run on the in-memory store here, on Redis in the
/// Redis tests): a TTL renewed by use, and a clear that only forgets the named account.
pub async fn check_session_contract(s: &dyn SessionStore, ttl: Duration) -> Result<(), String> {
    let (u, a, b) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
    let get = |u| async move { s.current(u).await.map_err(|e| e.to_string()) };
    let want = |got: Option<Uuid>, want: Option<Uuid>, what: &str| {
        if got == want {
            Ok(())
        } else {
            Err(format!("{what}: got {got:?}, want {want:?}"))
        }
    };
    want(get(u).await?, None, "fresh user")?;
    s.set(u, a).await.map_err(|e| e.to_string())?;
    want(get(u).await?, Some(a), "after set")?;
    s.clear_if(u, b).await.map_err(|e| e.to_string())?;
    want(get(u).await?, Some(a), "clear of another account")?;
    s.clear_if(u, a).await.map_err(|e| e.to_string())?;
    want(get(u).await?, None, "after clear")?;
    s.set(u, b).await.map_err(|e| e.to_string())?;
    // Used at half the TTL, it lives on past the first TTL.
    tokio::time::sleep(ttl / 2).await;
    want(get(u).await?, Some(b), "used within the TTL")?;
    tokio::time::sleep(ttl * 3 / 4).await;
    want(get(u).await?, Some(b), "renewed by use")?;
    tokio::time::sleep(ttl + ttl / 2).await;
    want(get(u).await?, None, "after the TTL without use")?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ttl_and_clear() {
        let ttl = Duration::from_millis(500);
        check_session_contract(&MemorySessions::new(ttl), ttl)
            .await
            .unwrap();
    }
}
