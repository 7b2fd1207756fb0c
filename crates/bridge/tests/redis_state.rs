//! The Redis implementations keep the same contracts as the in-memory ones (on a private
//! `redis-server`), fail fast with `Unavailable` when Redis is away, recover when it returns, and
//! never show the URL's password.

#![allow(clippy::unwrap_used, clippy::expect_used)] // a test should panic loudly on the unexpected

mod common;

use common::procs::{free_port, RedisServer};
use mt5_bridge::context::{check_session_contract, SessionStore};
use mt5_bridge::limits::{check_limiter_contract, Limit, LimitError, RateLimiter};
use mt5_bridge::shared_state::{Redis, RedisRateLimiter, RedisSessions};
use mt5_sim::market::ManualClock;
use std::sync::Arc;
use std::time::{Duration, Instant};
use uuid::Uuid;

fn prefix() -> String {
    format!("test-{}:", Uuid::new_v4().simple())
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
