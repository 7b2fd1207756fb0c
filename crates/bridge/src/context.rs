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
