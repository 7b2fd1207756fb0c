//! The session store and the rate limiter keep one contract, in memory and in Redis (on a private
//! `redis-server`); the Redis ones fail fast with `Unavailable` when Redis is away, recover when it returns, and
//! never show the URL's password.


use crate::common;

use common::procs::{free_port, RedisServer};
use mt5::clock::ManualClock;
use mt5_bridge::context::{MemorySessions, SessionStore};
use mt5_bridge::credentials::{MemoryRefused, RefusedStore};
use mt5_bridge::error::CredentialProblem;
use mt5_bridge::limits::{Limit, LimitError, MemoryRateLimiter, RateLimiter};
use mt5_bridge::shared_state::{Redis, RedisRateLimiter, RedisRefused, RedisSessions};
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn prefix() -> String {
    format!("test-{}:", Uuid::new_v4().simple())
}

#[tokio::test]
async fn memory_sessions_keep_the_contract() {
    let ttl = Duration::from_millis(500);
    check_session_contract(&MemorySessions::new(ttl), ttl)
        .await
        .unwrap();
}

#[tokio::test]
async fn memory_rate_limits_keep_the_contract() {
    let clock = ManualClock::new(1_000_000);
    let rl = MemoryRateLimiter::new(Arc::new(clock.clone()));
    check_limiter_contract(&rl, &clock, "k").await.unwrap();
}

#[tokio::test]
async fn sessions_keep_the_contract() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path()).await;
    let redis = Redis::connect(&server.url(), &prefix()).unwrap();
    let ttl = Duration::from_millis(500);
    check_session_contract(&RedisSessions::new(redis, ttl), ttl)
        .await
        .unwrap();
}

#[tokio::test]
async fn rate_limits_keep_the_contract_and_are_shared() {
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path()).await;
    let prefix = prefix();
    let clock = ManualClock::new(1_700_000_000_000);
    let rl = RedisRateLimiter::new(
        Redis::connect(&server.url(), &prefix).unwrap(),
        Arc::new(clock.clone()),
    );
    check_limiter_contract(&rl, &clock, "k").await.unwrap();

    // Two limiters (two replicas) on one Redis share every window: 20 concurrent acquires of a
    // limit of 7, spread over both, let exactly 7 through.
    let other = RedisRateLimiter::new(
        Redis::connect(&server.url(), &prefix).unwrap(),
        Arc::new(clock.clone()),
    );
    let limiters: [Arc<dyn RateLimiter>; 2] = [Arc::new(rl), Arc::new(other)];
    let limit = Limit {
        max: 7,
        window: Duration::from_secs(3600),
    };
    let tasks: Vec<_> = (0..20)
        .map(|i| {
            let l = limiters[i % 2].clone();
            tokio::spawn(async move { l.acquire("shared", limit).await })
        })
        .collect();
    let mut allowed = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(()) => allowed += 1,
            Err(LimitError::Exceeded(e)) => assert!(e.retry_after > Duration::ZERO),
            Err(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(allowed, 7);
}

#[tokio::test]
async fn an_absent_redis_fails_fast_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let mut server = RedisServer::start(dir.path()).await;
    let redis = Redis::connect(&server.url(), &prefix()).unwrap();
    let sessions = RedisSessions::new(redis.clone(), Duration::from_secs(60));
    let user = Uuid::new_v4();
    let account = Uuid::new_v4();
    sessions.set(user, account).await.unwrap();

    server.stop();
    let started = Instant::now();
    assert!(sessions.current(user).await.is_err());
    assert!(sessions.set(user, account).await.is_err());
    assert!(redis.ping().await.is_err());
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "failures are fast, not hangs: {:?}",
        started.elapsed()
    );

    server.restart().await;
    let deadline = Instant::now() + Duration::from_secs(15);
    while redis.ping().await.is_err() {
        assert!(Instant::now() < deadline, "no reconnection");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // An empty Redis (no persistence): the session is gone, and setting it works again.
    assert_eq!(sessions.current(user).await, Ok(None));
    sessions.set(user, account).await.unwrap();
    assert_eq!(sessions.current(user).await, Ok(Some(account)));
}

#[tokio::test]
async fn a_redis_that_never_answers_is_unavailable_and_the_password_stays_hidden() {
    let url = format!("redis://:hunter2-redis@127.0.0.1:{}/", free_port());
    let redis = Redis::connect(&url, "x:").unwrap();
    assert!(!format!("{redis:?}").contains("hunter2"));
    let rl = RedisRateLimiter::new(redis.clone(), Arc::new(ManualClock::new(0)));
    let limit = Limit {
        max: 1,
        window: Duration::from_secs(1),
    };
    match rl.acquire("k", limit).await {
        Err(LimitError::Unavailable(u)) => {
            assert!(!u.to_string().contains("hunter2"), "{u}");
        }
        other => panic!("want unavailable, got {other:?}"),
    }
    let err = Redis::connect("redis://:hunter2-redis@[not-a-host", "x:").unwrap_err();
    assert!(!err.contains("hunter2"), "{err}");
}

/// The contract every session store keeps (run on the in-memory store here, on Redis in the
/// Redis tests): a TTL renewed by use, and a clear that only forgets the named account.
async fn check_session_contract(
    s: &dyn mt5_bridge::context::SessionStore,
    ttl: Duration,
) -> Result<(), String> {
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

/// The contract every limiter keeps, on a clock the caller moves (run on the in-memory limiter
/// here, on Redis in the Redis tests). `key` must be fresh.
async fn check_limiter_contract(
    rl: &dyn mt5_bridge::limits::RateLimiter,
    clock: &mt5::clock::ManualClock,
    key: &str,
) -> Result<(), String> {
    let limit = Limit {
        max: 2,
        window: Duration::from_secs(60),
    };
    let other = format!("{key}-other");
    let fail = |what: &str, e: LimitError| format!("{what}: {e:?}");
    rl.acquire(key, limit).await.map_err(|e| fail("first", e))?;
    clock.advance_ms(10_000);
    rl.acquire(key, limit)
        .await
        .map_err(|e| fail("second", e))?;
    match rl.acquire(key, limit).await {
        Err(LimitError::Exceeded(e)) if e.retry_after == Duration::from_secs(50) => {}
        other => return Err(format!("third: want refused for 50 s, got {other:?}")),
    }
    rl.acquire(&other, limit)
        .await
        .map_err(|e| fail("keys are separate", e))?;
    clock.advance_ms(50_000);
    rl.acquire(key, limit)
        .await
        .map_err(|e| fail("after the oldest left the window", e))?;
    if rl.check(key, limit).await.is_ok() {
        return Err("check: want refused at the limit".into());
    }
    rl.release(key, limit).await.map_err(|e| e.to_string())?;
    rl.check(key, limit)
        .await
        .map_err(|e| fail("check after release", e))?;
    rl.acquire(key, limit)
        .await
        .map_err(|e| fail("acquire after release", e))?;
    clock.advance_ms(10_000);
    rl.check(key, limit)
        .await
        .map_err(|e| fail("check after the second left", e))?;
    rl.record(key, limit).await.map_err(|e| e.to_string())?;
    rl.record(key, limit).await.map_err(|e| e.to_string())?;
    if rl.check(key, limit).await.is_ok() {
        return Err("record counts regardless of the limit".into());
    }
    Ok(())
}

/// What the refused-credentials store must do: nothing is refused until put; a put is seen by
/// every reader of the same store (replicas); ids are independent.
async fn check_refused_contract(
    a: &dyn RefusedStore,
    b: &dyn RefusedStore,
) -> Result<(), Box<dyn std::error::Error>> {
    let id = format!("{}:0011", Uuid::new_v4());
    assert_eq!(a.get(&id).await?, None);
    let problem = CredentialProblem::RefusedByMt5 {
        code: -6,
        message: "Terminal: Authorization failed".into(),
    };
    a.put(&id, &problem).await?;
    assert_eq!(a.get(&id).await?, Some(problem.clone()));
    assert_eq!(b.get(&id).await?, Some(problem), "shared by every replica");
    assert_eq!(b.get(&format!("{}:0011", Uuid::new_v4())).await?, None);
    Ok(())
}

#[tokio::test]
async fn refused_credentials_keep_the_contract() {
    let memory = MemoryRefused::default();
    check_refused_contract(&memory, &memory).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let server = RedisServer::start(dir.path()).await;
    let prefix = prefix();
    let a = RedisRefused::new(Redis::connect(&server.url(), &prefix).unwrap());
    let b = RedisRefused::new(Redis::connect(&server.url(), &prefix).unwrap());
    check_refused_contract(&a, &b).await.unwrap();
}

/// The in-memory stores hold the keys of the last window, not every key ever seen.
#[tokio::test]
async fn memory_stores_are_swept_as_they_grow() {
    let ttl = Duration::from_millis(50);
    let sessions = MemorySessions::new(ttl);
    for _ in 0..1500 {
        sessions.set(Uuid::new_v4(), Uuid::new_v4()).await.unwrap();
    }
    tokio::time::sleep(ttl * 2).await;
    for _ in 0..3000 {
        sessions.set(Uuid::new_v4(), Uuid::new_v4()).await.unwrap();
    }
    assert!(
        sessions.len() < 3000 + 1024,
        "expired sessions were swept: {}",
        sessions.len()
    );

    let clock = ManualClock::new(1_000_000);
    let rl = MemoryRateLimiter::new(Arc::new(clock.clone()));
    let limit = Limit {
        max: 5,
        window: Duration::from_secs(60),
    };
    for i in 0..5000 {
        rl.record(&format!("user-{i}"), limit).await.unwrap();
    }
    assert_eq!(rl.len(), 5000, "live windows are kept");
    clock.advance_ms(61_000);
    // The map is swept when it doubles past its live size (5000 live: at 8192 keys).
    for i in 0..3200 {
        rl.record(&format!("later-{i}"), limit).await.unwrap();
    }
    assert_eq!(rl.len(), 3200, "expired windows were swept");
    // A window that is still live keeps its count through a sweep.
    for _ in 0..5 {
        rl.record("kept", limit).await.unwrap();
    }
    for i in 0..5000 {
        rl.record(&format!("more-{i}"), limit).await.unwrap();
    }
    assert!(rl.check("kept", limit).await.is_err());
}
