//! The backtest store on both databases: the queue's claims, leases and claim numbers, fairness
//! between users, cancellation, the daily budget and retention; on Postgres, the Data API's view
//! of the new tables (users read their own rows and write none; the queue and the bar cache are
//! out of reach).

use crate::store_support::{
    as_user, assert_claimless_sees_nothing_and_anon_is_refused, refused_as_user, run_postgres,
    run_sqlite, sql_state, user_ctx, Db,
};
use mt5_bridge::store::backtests::{
    Budget, CachedChunk, Created, NewBacktest, Removed, Unit, UnitResult,
};
use mt5_bridge::store::{NewAccount, UserCtx};
use serde_json::{json, Value};
use sqlx::Connection;
use uuid::Uuid;

const BUDGET: Budget = Budget {
    per_day: 1_000_000,
    kept: 200,
};

async fn new_user(db: &Db) -> UserCtx {
    let user = user_ctx();
    db.store.ensure_user(&user).await.unwrap();
    user
}

async fn new_account(db: &Db, user: &UserCtx) -> Uuid {
    let login = (Uuid::new_v4().as_u128() % 1_000_000_000).to_string();
    let new = NewAccount {
        id: Uuid::new_v4(),
        account_name: format!("Account {login}"),
        login,
        server: "MetaQuotes-Demo".into(),
        encrypted_password: format!("v1:test:{}", Uuid::new_v4().simple()),
        broker_name: None,
        account_type: Some("demo".into()),
        risk_limits: None,
    };
    db.store.insert_account(user, new, false).await.unwrap().id
}

async fn submit(db: &Db, user: &UserCtx, account: Uuid, combos: usize, work: u64) -> Uuid {
    let id = Uuid::new_v4();
    let created = db
        .store
        .create_backtest(
            user,
            NewBacktest {
                id,
                account_id: account,
                request: json!({"kind": "ma_crossover"}),
                combinations: (0..combos).map(|i| json!({"fast_period": i + 2})).collect(),
                rank_by: None,
                work,
            },
            BUDGET,
        )
        .await
        .unwrap();
    assert!(matches!(created, Created::Queued(_)), "{created:?}");
    id
}

fn result(n: f64) -> UnitResult {
    UnitResult {
        report: json!({"net_profit": n}),
        trades: json!([{"time": 1, "profit": n}]),
        equity: json!([{"time": 1, "balance": 1.0, "equity": 1.0, "equity_min": 1.0, "equity_max": 1.0}]),
        history_start: None,
        notes: json!({}),
        request: json!({"kind": "ma_crossover", "learned": true}),
    }
}

async fn claim(db: &Db, worker: &str) -> Option<Unit> {
    db.store.claim_unit(worker, 60_000).await.unwrap()
}

async fn a_backtest_runs_unit_by_unit_to_done(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let id = submit(&db, &user, account, 2, 10).await;
    let row = db.store.get_backtest(&user, id).await.unwrap().unwrap();
    assert_eq!((row.status.as_str(), row.combinations), ("queued", 2));

    let first = claim(&db, "w1").await.unwrap();
    let second = claim(&db, "w2").await.unwrap();
    assert_eq!((first.backtest_id, second.backtest_id), (id, id));
    assert_ne!(first.combination, second.combination);
    assert!(claim(&db, "w3").await.is_none(), "every unit is claimed");
    assert_eq!(
        db.store
            .get_backtest(&user, id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "running"
    );
    assert!(db.store.renew_unit(&first, 60_000, 0.5).await.unwrap());
    let row = db.store.get_backtest(&user, id).await.unwrap().unwrap();
    assert!((row.progress - 0.25).abs() < 1e-9, "{}", row.progress);

    assert!(db.store.finish_unit(&first, result(1.0)).await.unwrap());
    assert_eq!(
        db.store
            .get_backtest(&user, id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "running"
    );
    assert!(db.store.finish_unit(&second, result(2.0)).await.unwrap());
    let row = db.store.get_backtest(&user, id).await.unwrap().unwrap();
    assert_eq!(row.status, "done");
    assert_eq!(row.progress, 1.0);
    assert_eq!(row.request["learned"], true);
    assert!(row.finished_at.is_some());
    let results = db.store.backtest_results(&user, id).await.unwrap();
    assert_eq!(results.len(), 2);
    let (trades, equity) = db
        .store
        .backtest_detail(&user, id, second.combination)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(trades[0]["profit"], 2.0);
    assert_eq!(equity.as_array().unwrap().len(), 1);
    // A finished unit's claim writes nothing more.
    assert!(!db.store.finish_unit(&first, result(9.0)).await.unwrap());
}

async fn an_expired_lease_requeues_the_unit_and_fences_the_old_worker(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let id = submit(&db, &user, account, 1, 10).await;
    let paused = db.store.claim_unit("paused", 1).await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    // The lease ran out: the next claim takes the unit again, with a newer claim number.
    let taken = claim(&db, "alive").await.unwrap();
    assert_eq!(
        (taken.backtest_id, taken.combination),
        (id, paused.combination)
    );
    assert!(taken.claim > paused.claim);
    // The paused worker wakes up: it can neither renew, nor store, nor fail the unit.
    assert!(!db.store.renew_unit(&paused, 60_000, 0.9).await.unwrap());
    assert!(!db.store.finish_unit(&paused, result(5.0)).await.unwrap());
    assert!(!db
        .store
        .fail_unit(&paused, json!({"code": "x"}))
        .await
        .unwrap());
    assert!(db.store.finish_unit(&taken, result(7.0)).await.unwrap());
    let results = db.store.backtest_results(&user, id).await.unwrap();
    assert_eq!(results.len(), 1);
    assert_eq!(results[0].report["net_profit"], 7.0);
}

async fn a_long_sweep_delays_another_user_by_one_unit_at_most(db: Db) {
    let big = new_user(&db).await;
    let small = new_user(&db).await;
    let big_account = new_account(&db, &big).await;
    let small_account = new_account(&db, &small).await;
    submit(&db, &big, big_account, 256, 10).await;
    // One worker: it starts on the sweep.
    let first = claim(&db, "w").await.unwrap();
    assert_eq!(first.user_id, big.user_id);
    let single = submit(&db, &small, small_account, 1, 10).await;
    // While the sweep's unit runs, or once it is done, the other user's backtest goes next.
    assert!(db.store.finish_unit(&first, result(0.0)).await.unwrap());
    let next = claim(&db, "w").await.unwrap();
    assert_eq!((next.user_id, next.backtest_id), (small.user_id, single));
    // And with two workers, the second takes it while the first runs the sweep.
    let single2 = submit(&db, &small, small_account, 1, 10).await;
    let a = claim(&db, "w1").await.unwrap();
    let b = claim(&db, "w2").await.unwrap();
    let users = [a.user_id, b.user_id];
    assert!(users.contains(&small.user_id) && users.contains(&big.user_id));
    assert!([a.backtest_id, b.backtest_id].contains(&single2));
}

async fn cancel_stops_units_and_delete_removes_finished(db: Db) {
    let user = new_user(&db).await;
    let other = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let id = submit(&db, &user, account, 3, 10).await;
    let running = claim(&db, "w").await.unwrap();
    assert!(db.store.finish_unit(&running, result(1.0)).await.unwrap());
    let running = claim(&db, "w").await.unwrap();
    // Another user can neither see nor cancel it.
    assert_eq!(
        db.store.remove_backtest(&other, id).await.unwrap(),
        Removed::NotFound
    );
    assert!(db.store.get_backtest(&other, id).await.unwrap().is_none());
    assert_eq!(
        db.store.remove_backtest(&user, id).await.unwrap(),
        Removed::Canceled
    );
    let row = db.store.get_backtest(&user, id).await.unwrap().unwrap();
    assert_eq!(row.status, "canceled");
    assert!(db
        .store
        .backtest_results(&user, id)
        .await
        .unwrap()
        .is_empty());
    // The running unit learns it at its next renewal and cannot store anything.
    assert!(!db.store.renew_unit(&running, 60_000, 0.5).await.unwrap());
    assert!(!db.store.finish_unit(&running, result(2.0)).await.unwrap());
    assert!(
        claim(&db, "w").await.is_none(),
        "no unit of it is left queued"
    );
    // Removing it again deletes it.
    assert_eq!(
        db.store.remove_backtest(&user, id).await.unwrap(),
        Removed::Deleted
    );
    assert!(db.store.get_backtest(&user, id).await.unwrap().is_none());
    assert_eq!(
        db.store.remove_backtest(&user, id).await.unwrap(),
        Removed::NotFound
    );
}

async fn an_outage_queues_the_unit_again_after_its_delay(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let id = submit(&db, &user, account, 1, 10).await;
    let unit = claim(&db, "w").await.unwrap();
    assert_eq!(unit.attempts, 0);
    assert!(db.store.retry_unit(&unit, 300).await.unwrap());
    // Not before its delay; its old claim writes nothing more.
    assert!(claim(&db, "w").await.is_none());
    assert!(!db.store.finish_unit(&unit, result(1.0)).await.unwrap());
    assert!(!db.store.retry_unit(&unit, 0).await.unwrap());
    tokio::time::sleep(std::time::Duration::from_millis(350)).await;
    let again = claim(&db, "w").await.unwrap();
    assert_eq!((again.backtest_id, again.attempts), (id, 1));
    assert!(again.claim > unit.claim);
    assert!(db.store.finish_unit(&again, result(1.0)).await.unwrap());
    assert_eq!(
        db.store
            .get_backtest(&user, id)
            .await
            .unwrap()
            .unwrap()
            .status,
        "done"
    );
}

async fn a_failed_unit_fails_the_backtest_and_cancels_the_rest(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let id = submit(&db, &user, account, 2, 10).await;
    let unit = claim(&db, "w").await.unwrap();
    let error = json!({"code": "symbol_not_found", "message": "symbol not found"});
    assert!(db.store.fail_unit(&unit, error.clone()).await.unwrap());
    let row = db.store.get_backtest(&user, id).await.unwrap().unwrap();
    assert_eq!(row.status, "failed");
    assert_eq!(row.error, Some(error));
    assert!(claim(&db, "w").await.is_none());
}

async fn the_daily_budget_and_retention_hold(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let budget = Budget {
        per_day: 100,
        kept: 2,
    };
    let new = |work| NewBacktest {
        id: Uuid::new_v4(),
        account_id: account,
        request: json!({}),
        combinations: vec![json!({})],
        rank_by: None,
        work,
    };
    let ok = db
        .store
        .create_backtest(&user, new(60), budget)
        .await
        .unwrap();
    assert!(matches!(ok, Created::Queued(_)));
    let over = db
        .store
        .create_backtest(&user, new(41), budget)
        .await
        .unwrap();
    assert_eq!(over, Created::OverBudget { used: 60 });
    let ok = db
        .store
        .create_backtest(&user, new(40), budget)
        .await
        .unwrap();
    assert!(matches!(ok, Created::Queued(_)));
    // Deleting gives nothing back: the work was spent.
    let all = db.store.list_backtests(&user, None, 10).await.unwrap();
    for b in &all {
        db.store.remove_backtest(&user, b.id).await.unwrap();
        db.store.remove_backtest(&user, b.id).await.unwrap();
    }
    let over = db
        .store
        .create_backtest(&user, new(1), budget)
        .await
        .unwrap();
    assert_eq!(over, Created::OverBudget { used: 100 });

    // Retention: beyond `kept`, the oldest finished go.
    let other = new_user(&db).await;
    let account = new_account(&db, &other).await;
    let mut ids = Vec::new();
    for _ in 0..3 {
        let id = submit(&db, &other, account, 1, 1).await;
        let unit = claim(&db, "w").await.unwrap();
        assert!(db.store.finish_unit(&unit, result(0.0)).await.unwrap());
        ids.push(id);
    }
    let keep2 = Budget {
        per_day: 1_000,
        kept: 2,
    };
    let created = db
        .store
        .create_backtest(
            &other,
            NewBacktest {
                id: Uuid::new_v4(),
                account_id: account,
                request: json!({}),
                combinations: vec![json!({})],
                rank_by: None,
                work: 1,
            },
            keep2,
        )
        .await
        .unwrap();
    assert!(matches!(created, Created::Queued(_)));
    let left: Vec<Uuid> = db
        .store
        .list_backtests(&other, None, 10)
        .await
        .unwrap()
        .iter()
        .map(|b| b.id)
        .collect();
    assert_eq!(left.len(), 2, "{left:?}");
    assert!(!left.contains(&ids[0]) && !left.contains(&ids[1]));
    assert!(left.contains(&ids[2]));
}

async fn the_bar_cache_keeps_its_bound(db: Db) {
    let chunk = |n: usize| CachedChunk {
        bars: vec![7u8; n],
        final_until: 42,
    };
    db.store
        .cache_bars("srv", "EURUSD", "1", 1, chunk(600), 1_000)
        .await
        .unwrap();
    // Uses a millisecond apart at least, so "least recently used" has one answer.
    let tick = || tokio::time::sleep(std::time::Duration::from_millis(5));
    tick().await;
    db.store
        .cache_bars("srv", "EURUSD", "1", 2, chunk(300), 1_000)
        .await
        .unwrap();
    tick().await;
    let got = db.store.cached_bars("srv", "EURUSD", "1", 1).await.unwrap();
    assert_eq!(got, Some(chunk(600)));
    // Chunk 1 was used last: adding chunk 3 evicts chunk 2.
    tick().await;
    db.store
        .cache_bars("srv", "EURUSD", "1", 3, chunk(300), 1_000)
        .await
        .unwrap();
    assert!(db
        .store
        .cached_bars("srv", "EURUSD", "1", 2)
        .await
        .unwrap()
        .is_none());
    assert!(db
        .store
        .cached_bars("srv", "EURUSD", "1", 1)
        .await
        .unwrap()
        .is_some());
    assert!(db
        .store
        .cached_bars("srv", "EURUSD", "1", 3)
        .await
        .unwrap()
        .is_some());
    assert!(db
        .store
        .cached_bars("other", "EURUSD", "1", 1)
        .await
        .unwrap()
        .is_none());
}

contract!(
    a_backtest_runs_unit_by_unit_to_done,
    an_expired_lease_requeues_the_unit_and_fences_the_old_worker,
    a_long_sweep_delays_another_user_by_one_unit_at_most,
    cancel_stops_units_and_delete_removes_finished,
    a_failed_unit_fails_the_backtest_and_cancels_the_rest,
    an_outage_queues_the_unit_again_after_its_delay,
    the_daily_budget_and_retention_hold,
    the_bar_cache_keeps_its_bound,
);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_backtests_are_read_only_and_the_queue_and_cache_out_of_reach() {
    run_postgres(|db| async move {
        let alice = new_user(&db).await;
        let bob = new_user(&db).await;
        let a_acc = new_account(&db, &alice).await;
        let b_acc = new_account(&db, &bob).await;
        let a = submit(&db, &alice, a_acc, 1, 1).await;
        let b = submit(&db, &bob, b_acc, 1, 1).await;
        for _ in 0..2 {
            let unit = claim(&db, "w").await.unwrap();
            assert!(db.store.finish_unit(&unit, result(1.0)).await.unwrap());
        }
        db.store
            .cache_bars(
                "srv",
                "EURUSD",
                "1",
                1,
                CachedChunk {
                    bars: vec![1; 60],
                    final_until: 1,
                },
                1 << 20,
            )
            .await
            .unwrap();

        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        // Bob reads his own rows only.
        for table in ["backtests", "backtest_results"] {
            let mut tx = as_user(&mut conn, &bob).await;
            let key = if table == "backtests" {
                "id"
            } else {
                "backtest_id"
            };
            let seen: Vec<(Uuid,)> = sqlx::query_as(&format!("select {key} from {table}"))
                .fetch_all(&mut *tx)
                .await
                .unwrap();
            assert_eq!(seen, vec![(b,)], "{table}");
            tx.rollback().await.unwrap();
            assert_claimless_sees_nothing_and_anon_is_refused(&mut conn, table).await;
        }
        // He writes none: not his own status, not a forged report, not another user's row.
        for sql in [
            format!("update backtests set status = 'done' where id = '{b}'"),
            format!("update backtests set account_id = '{a_acc}' where id = '{b}'"),
            format!("delete from backtests where id = '{b}'"),
            format!("update backtest_results set report = '{{}}' where backtest_id = '{b}'"),
            format!("delete from backtest_results where backtest_id = '{b}'"),
            format!(
                "insert into backtests (id, user_id, account_id, request, combinations, work) \
                 values ('{}', '{}', '{b_acc}', '{{}}', 1, 0)",
                Uuid::new_v4(),
                bob.user_id
            ),
            format!(
                "insert into backtest_results (backtest_id, combination, user_id, account_id, \
                 parameters, report) values ('{b}', 5, '{}', '{b_acc}', '{{}}', '{{}}')",
                bob.user_id
            ),
        ] {
            let e = refused_as_user(&mut conn, &bob, &sql).await;
            assert_eq!(sql_state(&e).as_deref(), Some("42501"), "{sql}: {e}");
        }
        // The queue, the budget and the bar cache: not readable, not writable.
        for sql in [
            "select count(*) from backtest_jobs",
            "select count(*) from backtest_budget",
            "select count(*) from bar_cache",
            "update backtest_jobs set status = 'queued'",
            "delete from bar_cache",
            "insert into backtest_budget (user_id, day, work) values (gen_random_uuid(), now(), 0)",
        ] {
            let e = refused_as_user(&mut conn, &bob, sql).await;
            assert_eq!(sql_state(&e).as_deref(), Some("42501"), "{sql}: {e}");
        }
        // Alice's backtest is untouched.
        let row = db.store.get_backtest(&alice, a).await.unwrap().unwrap();
        assert_eq!(row.status, "done");
        let _: Value = row.request;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_ties_a_backtest_to_one_of_the_users_accounts() {
    run_sqlite(|db| async move {
        let alice = new_user(&db).await;
        let bob = new_user(&db).await;
        let b_acc = new_account(&db, &bob).await;
        let e = db
            .store
            .create_backtest(
                &alice,
                NewBacktest {
                    id: Uuid::new_v4(),
                    account_id: b_acc,
                    request: json!({}),
                    combinations: vec![json!({})],
                    rank_by: None,
                    work: 1,
                },
                BUDGET,
            )
            .await;
        assert!(
            e.is_err(),
            "a backtest on another user's account was stored"
        );
        assert!(claim(&db, "w").await.is_none());
    })
    .await
}
