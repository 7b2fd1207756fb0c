//! One contract suite for both stores of algorithm configurations and runs.
//!
//! Every contract test runs against a fresh SQLite file, and against a fresh Postgres database
//! when `TEST_DATABASE_URL` is set (skipped with a note otherwise; a set but unreachable server
//! fails). Each test makes its own users and accounts through the account store. The Postgres-only
//! tests at the end prove that Row Level Security keeps users apart even on a raw connection, that
//! users cannot delete runs, and that the schema carries its policies, grants and trigger.

use std::collections::HashSet;
use std::time::Duration;

use mt5_bridge::store::algorithms::{
    runs_page_size, AlgorithmConfig, AlgorithmConfigPatch, AlgorithmRun, ConfigCreated,
    NewAlgorithmConfig, NewAlgorithmRun, RunFinish, MAX_RUNS_PAGE, RUN_DONE, RUN_FAILED,
    RUN_RUNNING,
};
use mt5_bridge::store::{self, NewAccount, StoreError, UserCtx};
use serde_json::{json, Value};
use sqlx::{Connection, Row};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::store_support;
use store_support::{as_user, run_postgres, run_sqlite, sql_state, user_ctx, Db};

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

fn config(name: &str) -> NewAlgorithmConfig {
    NewAlgorithmConfig {
        id: Uuid::new_v4(),
        name: name.into(),
        kind: "ma_cross".into(),
        parameters: json!({"symbol": "EURUSD", "fast": 10, "slow": 50, "risk_pct": 0.5}),
    }
}

/// The cap the contract's own creates run under (far above what any scenario makes).
const CAP: u32 = 100;

fn saved(created: ConfigCreated) -> AlgorithmConfig {
    match created {
        ConfigCreated::Saved(c) => c,
        other => panic!("not saved: {other:?}"),
    }
}

async fn create_config(db: &Db, user: &UserCtx, name: &str) -> AlgorithmConfig {
    saved(
        db.store
            .create_config(user, config(name), CAP)
            .await
            .unwrap(),
    )
}

/// Every configuration of the user's, through the pages.
async fn all_configs(db: &Db, user: &UserCtx) -> Vec<AlgorithmConfig> {
    db.store.list_configs(user, None, 10_000).await.unwrap()
}

fn run_of(account_id: Uuid) -> NewAlgorithmRun {
    NewAlgorithmRun {
        id: Uuid::new_v4(),
        account_id,
        algorithm_id: "ma_cross".into(),
        algorithm_kind: "ma_cross".into(),
        parameters: json!({"symbol": "EURUSD", "fast": 10, "slow": 50}),
        dry_run: false,
        bot: None,
    }
}

async fn start(db: &Db, user: &UserCtx, account_id: Uuid) -> AlgorithmRun {
    db.store.create_run(user, run_of(account_id)).await.unwrap()
}

fn finish(status: &str) -> RunFinish {
    RunFinish {
        status: status.into(),
        trades: json!([{"symbol": "EURUSD", "type": "buy", "volume": 0.1, "order": 42}]),
        skipped: json!([{"symbol": "GBPUSD", "reason": "risk: max_positions"}]),
        error: None,
    }
}

fn ids<T>(rows: &[T], id: impl Fn(&T) -> Uuid) -> Vec<Uuid> {
    rows.iter().map(id).collect()
}

fn run_ids(runs: &[AlgorithmRun]) -> Vec<Uuid> {
    ids(runs, |r| r.id)
}

/// Two writes in a row must get distinct, ordered times on every backend.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(15)).await;
}

fn assert_recent(t: OffsetDateTime) {
    let age = OffsetDateTime::now_utc() - t;
    assert!(age.whole_seconds().abs() < 60, "a time of now: {age}");
}

contract!(
    config_create_get_update_delete,
    configs_list_oldest_first,
    configs_page_after_the_cursor,
    the_cap_holds_under_parallel_creates,
    duplicate_config_names_conflict,
    configs_are_invisible_and_untouchable_to_others,
    config_constraints_are_enforced,
    run_create_finish_get_round_trip,
    runs_list_newest_first_and_page_without_gaps,
    runs_list_clamps_the_limit,
    runs_only_on_the_users_own_accounts,
    runs_are_invisible_and_untouchable_to_others,
    run_constraints_are_enforced,
    runs_go_with_their_account,
);

async fn config_create_get_update_delete(db: Db) {
    let user = new_user(&db).await;
    let new = config("Fast EURUSD");
    let created = saved(
        db.store
            .create_config(&user, new.clone(), CAP)
            .await
            .unwrap(),
    );
    assert_eq!(created.id, new.id);
    assert_eq!(created.user_id, user.user_id);
    assert_eq!(created.name, "Fast EURUSD");
    assert_eq!(created.kind, "ma_cross");
    assert_eq!(created.parameters, new.parameters);
    assert_eq!(created.created_at, created.updated_at);
    assert_recent(created.created_at);
    // What create returned is exactly what is read back (timestamps included).
    assert_eq!(
        db.store.get_config(&user, created.id).await.unwrap(),
        Some(created.clone())
    );
    assert_eq!(
        db.store.get_config(&user, Uuid::new_v4()).await.unwrap(),
        None
    );

    // A partial patch changes only what it names; updated_at moves, created_at stays.
    tick().await;
    let renamed = db
        .store
        .update_config(
            &user,
            created.id,
            AlgorithmConfigPatch {
                name: Some("Slow EURUSD".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.name, "Slow EURUSD");
    assert_eq!(renamed.kind, created.kind);
    assert_eq!(renamed.parameters, created.parameters);
    assert_eq!(renamed.created_at, created.created_at);
    assert!(renamed.updated_at > created.updated_at);
    assert_eq!(
        db.store.get_config(&user, created.id).await.unwrap(),
        Some(renamed.clone())
    );

    tick().await;
    let params = json!({"symbol": "USDJPY", "period": 14, "levels": [30, 70], "note": null});
    let changed = db
        .store
        .update_config(
            &user,
            created.id,
            AlgorithmConfigPatch {
                name: None,
                kind: Some("rsi_reversion".into()),
                parameters: Some(params.clone()),
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(changed.name, "Slow EURUSD");
    assert_eq!(changed.kind, "rsi_reversion");
    assert_eq!(changed.parameters, params);
    assert!(changed.updated_at > renamed.updated_at);

    // An empty patch still moves updated_at and nothing else.
    tick().await;
    let touched = db
        .store
        .update_config(&user, created.id, AlgorithmConfigPatch::default())
        .await
        .unwrap()
        .unwrap();
    assert!(touched.updated_at > changed.updated_at);
    assert_eq!(
        AlgorithmConfig {
            updated_at: changed.updated_at,
            ..touched.clone()
        },
        changed
    );

    // A missing configuration is not updated.
    assert_eq!(
        db.store
            .update_config(
                &user,
                Uuid::new_v4(),
                AlgorithmConfigPatch {
                    name: Some("ghost".into()),
                    ..Default::default()
                }
            )
            .await
            .unwrap(),
        None
    );

    // Delete is for good: gone from get and list, a second delete finds nothing.
    assert!(db.store.delete_config(&user, created.id).await.unwrap());
    assert_eq!(db.store.get_config(&user, created.id).await.unwrap(), None);
    assert!(all_configs(&db, &user).await.is_empty());
    assert!(!db.store.delete_config(&user, created.id).await.unwrap());
    assert_eq!(
        db.store
            .update_config(&user, created.id, AlgorithmConfigPatch::default())
            .await
            .unwrap(),
        None
    );
}

async fn configs_list_oldest_first(db: Db) {
    let user = new_user(&db).await;
    let other = new_user(&db).await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(create_config(&db, &user, &format!("config {i}")).await);
        create_config(&db, &other, &format!("config {i}")).await;
        tick().await;
    }
    // Updating one does not move it in the list: the order is by creation.
    db.store
        .update_config(
            &user,
            made[0].id,
            AlgorithmConfigPatch {
                parameters: Some(json!({"fast": 5})),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    let listed = all_configs(&db, &user).await;
    assert_eq!(ids(&listed, |c| c.id), ids(&made, |c| c.id));
    assert!(listed.iter().all(|c| c.user_id == user.user_id));
    assert_eq!(listed[0].parameters, json!({"fast": 5}));
    assert_eq!(listed[1..], made[1..]);
    // A user without configurations lists none.
    let nobody = new_user(&db).await;
    assert!(all_configs(&db, &nobody).await.is_empty());
}

async fn configs_page_after_the_cursor(db: Db) {
    let user = new_user(&db).await;
    let mut made = Vec::new();
    for i in 0..5 {
        made.push(create_config(&db, &user, &format!("config {i}")).await);
        tick().await;
    }
    let mut seen = Vec::new();
    let mut after = None;
    loop {
        let page = db.store.list_configs(&user, after, 2).await.unwrap();
        assert!(page.len() <= 2);
        seen.extend(ids(&page, |c| c.id));
        match page.last() {
            Some(last) if page.len() == 2 => after = Some((last.created_at, last.id)),
            _ => break,
        }
    }
    assert_eq!(
        seen,
        ids(&made, |c| c.id),
        "every configuration once, in order"
    );
}

/// 30 parallel creates against a cap of 7: exactly 7 are saved, the others find the cap with
/// the count that filled it.
async fn the_cap_holds_under_parallel_creates(db: Db) {
    let user = new_user(&db).await;
    let store = db.store.clone();
    let tasks: Vec<_> = (0..30)
        .map(|i| {
            let (store, user) = (store.clone(), user.clone());
            tokio::spawn(async move {
                store
                    .create_config(&user, config(&format!("parallel {i}")), 7)
                    .await
                    .unwrap()
            })
        })
        .collect();
    let mut saved_count = 0;
    for t in tasks {
        match t.await.unwrap() {
            ConfigCreated::Saved(_) => saved_count += 1,
            ConfigCreated::LimitReached { current } => assert_eq!(current, 7),
        }
    }
    assert_eq!(saved_count, 7);
    assert_eq!(all_configs(&db, &user).await.len(), 7);
    // Another user's cap is their own.
    let other = new_user(&db).await;
    create_config(&db, &other, "mine").await;
}

async fn duplicate_config_names_conflict(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    let first = create_config(&db, &alice, "Breakout").await;

    let err = db
        .store
        .create_config(&alice, config("Breakout"), CAP)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    // The same id twice is a conflict too.
    let err = db
        .store
        .create_config(
            &alice,
            NewAlgorithmConfig {
                id: first.id,
                ..config("Other name")
            },
            CAP,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    assert_eq!(all_configs(&db, &alice).await, vec![first.clone()]);

    // Names are unique per user: Bob may use the same one.
    let bobs = create_config(&db, &bob, "Breakout").await;
    assert_eq!(bobs.user_id, bob.user_id);

    // Renaming onto a taken name conflicts and changes nothing.
    let second = create_config(&db, &alice, "Mean reversion").await;
    let err = db
        .store
        .update_config(
            &alice,
            second.id,
            AlgorithmConfigPatch {
                name: Some("Breakout".into()),
                kind: Some("breakout".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");
    assert_eq!(
        db.store.get_config(&alice, second.id).await.unwrap(),
        Some(second.clone())
    );

    // Once deleted, the name is free again.
    assert!(db.store.delete_config(&alice, first.id).await.unwrap());
    let reused = create_config(&db, &alice, "Breakout").await;
    assert_ne!(reused.id, first.id);
    assert_eq!(
        ids(&all_configs(&db, &alice).await, |c| c.id),
        vec![second.id, reused.id]
    );
}

async fn configs_are_invisible_and_untouchable_to_others(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    let a = create_config(&db, &alice, "Alice's").await;
    let b = create_config(&db, &bob, "Bob's").await;

    assert_eq!(db.store.get_config(&bob, a.id).await.unwrap(), None);
    assert_eq!(all_configs(&db, &bob).await, vec![b.clone()]);
    assert_eq!(
        db.store
            .update_config(
                &bob,
                a.id,
                AlgorithmConfigPatch {
                    name: Some("hijacked".into()),
                    kind: Some("x".into()),
                    parameters: Some(json!({"pwned": true})),
                },
            )
            .await
            .unwrap(),
        None
    );
    assert!(!db.store.delete_config(&bob, a.id).await.unwrap());
    // Alice's configuration is untouched.
    assert_eq!(db.store.get_config(&alice, a.id).await.unwrap(), Some(a));
    assert_eq!(db.store.get_config(&bob, b.id).await.unwrap(), Some(b));
}

async fn config_constraints_are_enforced(db: Db) {
    let user = new_user(&db).await;
    // Over-long values are refused by the schema on both backends.
    for new in [
        config(&"n".repeat(256)),
        NewAlgorithmConfig {
            kind: "k".repeat(65),
            ..config("long kind")
        },
    ] {
        let id = new.id;
        let err = db.store.create_config(&user, new, CAP).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
        assert_eq!(db.store.get_config(&user, id).await.unwrap(), None);
    }
    let fits = db
        .store
        .create_config(
            &user,
            NewAlgorithmConfig {
                kind: "k".repeat(64),
                ..config(&"n".repeat(255))
            },
            CAP,
        )
        .await
        .map(saved)
        .unwrap();
    assert_eq!(fits.name.len(), 255);
    let err = db
        .store
        .update_config(
            &user,
            fits.id,
            AlgorithmConfigPatch {
                name: Some("n".repeat(256)),
                ..Default::default()
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
    assert_eq!(
        db.store.get_config(&user, fits.id).await.unwrap(),
        Some(fits)
    );
    // Names count characters, not bytes, on both backends.
    let wide = create_config(&db, &user, &"é".repeat(255)).await;
    assert_eq!(wide.name.chars().count(), 255);
}

async fn run_create_finish_get_round_trip(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let config_id = Uuid::new_v4().to_string();
    let new = NewAlgorithmRun {
        algorithm_id: config_id.clone(),
        algorithm_kind: "breakout".into(),
        parameters: json!({"symbol": "XAUUSD", "lookback": 20, "atr_mult": 1.5}),
        dry_run: true,
        ..run_of(account)
    };
    let run = db.store.create_run(&user, new.clone()).await.unwrap();
    assert_eq!(run.id, new.id);
    assert_eq!(run.user_id, user.user_id);
    assert_eq!(run.account_id, account);
    assert_eq!(run.algorithm_id, config_id);
    assert_eq!(run.algorithm_kind, "breakout");
    assert_eq!(run.parameters, new.parameters);
    assert!(run.dry_run);
    assert_eq!(run.status, RUN_RUNNING);
    assert_eq!(run.trades, json!([]));
    assert_eq!(run.skipped, json!([]));
    assert_eq!(run.error, None);
    assert_eq!(run.finished_at, None);
    assert_recent(run.started_at);
    assert_eq!(
        db.store.get_run(&user, run.id).await.unwrap(),
        Some(run.clone())
    );
    assert_eq!(db.store.get_run(&user, Uuid::new_v4()).await.unwrap(), None);

    tick().await;
    let outcome = finish(RUN_DONE);
    db.store
        .finish_run(&user, run.id, outcome.clone())
        .await
        .unwrap();
    let done = db.store.get_run(&user, run.id).await.unwrap().unwrap();
    assert_eq!(done.status, RUN_DONE);
    assert_eq!(done.trades, outcome.trades);
    assert_eq!(done.skipped, outcome.skipped);
    assert_eq!(done.error, None);
    let finished_at = done.finished_at.unwrap();
    assert!(finished_at > done.started_at);
    assert_recent(finished_at);
    // What the run started with is untouched by finishing it.
    assert_eq!(
        AlgorithmRun {
            status: RUN_RUNNING.into(),
            trades: json!([]),
            skipped: json!([]),
            finished_at: None,
            ..done.clone()
        },
        run
    );

    // A failed run keeps its error; null trades read back as the empty array.
    let other = start(&db, &user, account).await;
    tick().await;
    db.store
        .finish_run(
            &user,
            other.id,
            RunFinish {
                status: RUN_FAILED.into(),
                trades: Value::Null,
                skipped: json!([]),
                error: Some("terminal timeout while reading bars".into()),
            },
        )
        .await
        .unwrap();
    let failed = db.store.get_run(&user, other.id).await.unwrap().unwrap();
    assert_eq!(failed.status, RUN_FAILED);
    assert_eq!(failed.trades, json!([]));
    assert_eq!(failed.skipped, json!([]));
    assert_eq!(
        failed.error.as_deref(),
        Some("terminal timeout while reading bars")
    );
    assert!(!failed.dry_run);
    assert!(failed.finished_at.unwrap() > failed.started_at);

    // Finishing a missing run is a no-op.
    db.store
        .finish_run(&user, Uuid::new_v4(), finish(RUN_DONE))
        .await
        .unwrap();
    assert_eq!(
        db.store
            .list_runs(&user, None, 100, None)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn runs_list_newest_first_and_page_without_gaps(db: Db) {
    let user = new_user(&db).await;
    let other = new_user(&db).await;
    let first = new_account(&db, &user).await;
    let second = new_account(&db, &user).await;
    let other_account = new_account(&db, &other).await;
    let mut made = Vec::new();
    for i in 0..9 {
        let account = if i % 2 == 0 { first } else { second };
        made.push(start(&db, &user, account).await.id);
        start(&db, &other, other_account).await;
        tick().await;
    }
    // Four runs share one start time, so only the id orders them.
    let tied: Vec<String> = made[2..6].iter().map(|id| format!("'{id}'")).collect();
    db.raw(&format!(
        "update algorithm_runs set started_at = (select started_at from algorithm_runs \
         where id = '{}') where id in ({})",
        made[2],
        tied.join(", ")
    ))
    .await;

    let mut expected = Vec::new();
    for id in &made {
        expected.push(db.store.get_run(&user, *id).await.unwrap().unwrap());
    }
    let tie_time = expected[2].started_at;
    assert!(expected[2..6].iter().all(|r| r.started_at == tie_time));
    expected.sort_by_key(|r| std::cmp::Reverse((r.started_at, r.id)));

    let all = db.store.list_runs(&user, None, 100, None).await.unwrap();
    assert_eq!(all, expected, "newest first, ties by id descending");

    // Pages of 2 walk the list exactly once: no duplicates, no gaps.
    let mut walked = Vec::new();
    let mut before = None;
    let mut pages = 0;
    loop {
        let page = db.store.list_runs(&user, before, 2, None).await.unwrap();
        if page.is_empty() {
            break;
        }
        assert!(page.len() <= 2);
        pages += 1;
        before = page.last().map(|r| (r.started_at, r.id));
        walked.extend(page);
    }
    assert_eq!(pages, 5);
    assert_eq!(run_ids(&walked), run_ids(&expected));
    let unique: HashSet<Uuid> = walked.iter().map(|r| r.id).collect();
    assert_eq!(unique.len(), 9);

    // A cursor in the middle of the tie continues inside it.
    let cursor = expected
        .iter()
        .position(|r| r.started_at == tie_time)
        .unwrap();
    let rest = db
        .store
        .list_runs(
            &user,
            Some((expected[cursor].started_at, expected[cursor].id)),
            100,
            None,
        )
        .await
        .unwrap();
    assert_eq!(run_ids(&rest), run_ids(&expected[cursor + 1..]));

    // A cursor older than everything yields nothing.
    let oldest = expected.last().unwrap();
    assert!(db
        .store
        .list_runs(&user, Some((oldest.started_at, oldest.id)), 100, None)
        .await
        .unwrap()
        .is_empty());
}

async fn runs_list_clamps_the_limit(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let mut made = Vec::new();
    for _ in 0..4 {
        made.push(start(&db, &user, account).await.id);
        tick().await;
    }
    made.reverse();
    // A limit of 0 means 1, and more than the maximum means the maximum.
    assert_eq!(
        run_ids(&db.store.list_runs(&user, None, 0, None).await.unwrap()),
        made[..1]
    );
    assert_eq!(
        run_ids(
            &db.store
                .list_runs(&user, None, u32::MAX, None)
                .await
                .unwrap()
        ),
        made
    );
    assert_eq!(
        run_ids(&db.store.list_runs(&user, None, 3, None).await.unwrap()),
        made[..3]
    );
    // The store reads the largest page and the row that tells whether another follows.
    assert_eq!(runs_page_size(u32::MAX), MAX_RUNS_PAGE + 1);
    assert_eq!(runs_page_size(0), 1);
    assert_eq!(runs_page_size(37), 37);
    assert_eq!(MAX_RUNS_PAGE, 500);
}

async fn runs_only_on_the_users_own_accounts(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    let a_acc = new_account(&db, &alice).await;
    new_account(&db, &bob).await;
    for new in [run_of(a_acc), run_of(Uuid::new_v4())] {
        let id = new.id;
        let err = db.store.create_run(&bob, new).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
        assert_eq!(db.store.get_run(&bob, id).await.unwrap(), None);
        assert_eq!(db.store.get_run(&alice, id).await.unwrap(), None);
    }
    assert!(db
        .store
        .list_runs(&bob, None, 100, None)
        .await
        .unwrap()
        .is_empty());
    assert!(db
        .store
        .list_runs(&alice, None, 100, None)
        .await
        .unwrap()
        .is_empty());
}

async fn runs_are_invisible_and_untouchable_to_others(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    let a_acc = new_account(&db, &alice).await;
    let b_acc = new_account(&db, &bob).await;
    let b = start(&db, &bob, b_acc).await;
    tick().await;
    let a = start(&db, &alice, a_acc).await;

    assert_eq!(db.store.get_run(&bob, a.id).await.unwrap(), None);
    assert_eq!(
        run_ids(&db.store.list_runs(&bob, None, 100, None).await.unwrap()),
        vec![b.id]
    );
    // A cursor just past Alice's run does not reveal it either.
    assert_eq!(
        run_ids(
            &db.store
                .list_runs(&bob, Some((a.started_at, Uuid::max())), 100, None)
                .await
                .unwrap()
        ),
        vec![b.id]
    );
    assert_eq!(
        run_ids(
            &db.store
                .list_runs(&alice, Some((a.started_at, Uuid::max())), 100, None)
                .await
                .unwrap()
        ),
        vec![a.id]
    );

    // Bob's finish of Alice's run is a no-op.
    db.store
        .finish_run(
            &bob,
            a.id,
            RunFinish {
                status: RUN_FAILED.into(),
                trades: json!([{"pwned": true}]),
                skipped: json!([]),
                error: Some("hijacked".into()),
            },
        )
        .await
        .unwrap();
    assert_eq!(db.store.get_run(&alice, a.id).await.unwrap(), Some(a));
    assert_eq!(db.store.get_run(&bob, b.id).await.unwrap(), Some(b));
}

async fn run_constraints_are_enforced(db: Db) {
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let first = start(&db, &user, account).await;

    // The same id twice is a conflict.
    let err = db
        .store
        .create_run(
            &user,
            NewAlgorithmRun {
                id: first.id,
                ..run_of(account)
            },
        )
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");

    // Over-long values are refused by the schema on both backends.
    for new in [
        NewAlgorithmRun {
            algorithm_id: "a".repeat(256),
            ..run_of(account)
        },
        NewAlgorithmRun {
            algorithm_kind: "k".repeat(65),
            ..run_of(account)
        },
    ] {
        let err = db.store.create_run(&user, new).await.unwrap_err();
        assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
    }
    let fits = db
        .store
        .create_run(
            &user,
            NewAlgorithmRun {
                algorithm_id: "a".repeat(255),
                algorithm_kind: "k".repeat(64),
                ..run_of(account)
            },
        )
        .await
        .unwrap();
    assert_eq!(fits.algorithm_id.len(), 255);

    // An unknown status is refused and the run stays as it was.
    let err = db
        .store
        .finish_run(&user, first.id, finish("cancelled"))
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Database(_)), "got {err:?}");
    assert_eq!(
        db.store.get_run(&user, first.id).await.unwrap(),
        Some(first)
    );
    assert_eq!(
        db.store
            .list_runs(&user, None, 100, None)
            .await
            .unwrap()
            .len(),
        2
    );
}

async fn runs_go_with_their_account(db: Db) {
    let user = new_user(&db).await;
    let gone = new_account(&db, &user).await;
    let kept = new_account(&db, &user).await;
    let lost = start(&db, &user, gone).await;
    let stays = start(&db, &user, kept).await;
    // A hard delete of the account (the API only soft-deletes) takes its runs with it.
    db.raw(&format!("delete from mt5_accounts where id = '{gone}'"))
        .await;
    assert_eq!(db.store.get_run(&user, lost.id).await.unwrap(), None);
    assert_eq!(
        db.store.list_runs(&user, None, 100, None).await.unwrap(),
        vec![stays]
    );
}

// ---------------------------------------------------------------------------------------------
// Postgres only

async fn count(conn: &mut sqlx::PgConnection, sql: &str) -> i64 {
    let (n,): (i64,) = sqlx::query_as(sql).fetch_one(conn).await.unwrap();
    n
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rls_isolates_algorithm_configs_on_a_raw_connection() {
    run_postgres(|db| async move {
        let alice = new_user(&db).await;
        let bob = new_user(&db).await;
        let a = create_config(&db, &alice, "Alice's").await;
        let b = create_config(&db, &bob, "Bob's").await;

        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let mut tx = as_user(&mut conn, &bob).await;
        // No user_id filter here: only RLS stands between Bob and Alice's configuration.
        let seen: Vec<Uuid> = sqlx::query("select * from algorithm_configs")
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<Uuid, _>("id"))
            .collect();
        assert_eq!(seen, vec![b.id]);
        let updated = sqlx::query("update algorithm_configs set name = 'hijacked' where id = $1")
            .bind(a.id)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(updated.rows_affected(), 0);
        let deleted = sqlx::query("delete from algorithm_configs where id = $1")
            .bind(a.id)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 0);
        // Handing one's own configuration to another user is refused by the policy.
        let moved = sqlx::query("update algorithm_configs set user_id = $1 where id = $2")
            .bind(alice.user_id)
            .bind(b.id)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert_eq!(sql_state(&moved).as_deref(), Some("42501"), "{moved}");
        tx.rollback().await.unwrap();

        // Writing a configuration for another user is refused.
        let mut tx = as_user(&mut conn, &bob).await;
        let forged = sqlx::query(
            "insert into algorithm_configs (id, user_id, name, kind, parameters) \
             values ($1, $2, 'forged', 'ma_cross', '{}')",
        )
        .bind(Uuid::new_v4())
        .bind(alice.user_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
        assert_eq!(sql_state(&forged).as_deref(), Some("42501"), "{forged}");
        tx.rollback().await.unwrap();

        // Bob may delete his own, as the policy allows.
        let mut tx = as_user(&mut conn, &bob).await;
        let deleted = sqlx::query("delete from algorithm_configs where id = $1")
            .bind(b.id)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 1);
        tx.rollback().await.unwrap();

        // Without claims nothing is visible; anon has no grant at all.
        store_support::assert_claimless_sees_nothing_and_anon_is_refused(
            &mut conn,
            "algorithm_configs",
        )
        .await;

        // Both configurations are still there, unchanged.
        assert_eq!(
            count(&mut conn, "select count(*) from algorithm_configs").await,
            2
        );
        assert_eq!(db.store.get_config(&alice, a.id).await.unwrap(), Some(a));
        assert_eq!(db.store.get_config(&bob, b.id).await.unwrap(), Some(b));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rls_isolates_algorithm_runs_on_a_raw_connection() {
    run_postgres(|db| async move {
        let alice = new_user(&db).await;
        let bob = new_user(&db).await;
        let a_acc = new_account(&db, &alice).await;
        let b_acc = new_account(&db, &bob).await;
        let a = start(&db, &alice, a_acc).await;
        let b = start(&db, &bob, b_acc).await;

        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        let mut tx = as_user(&mut conn, &bob).await;
        let seen: Vec<Uuid> = sqlx::query("select * from algorithm_runs")
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<Uuid, _>("id"))
            .collect();
        assert_eq!(seen, vec![b.id]);
        tx.rollback().await.unwrap();
        // Users may not change runs at all: not another user's, nor hand their own to another.
        let updated = store_support::refused_as_user(
            &mut conn,
            &bob,
            &format!(
                "update algorithm_runs set status = 'failed' where id = '{}'",
                a.id
            ),
        )
        .await;
        assert_eq!(sql_state(&updated).as_deref(), Some("42501"), "{updated}");
        let moved = store_support::refused_as_user(
            &mut conn,
            &bob,
            &format!(
                "update algorithm_runs set user_id = '{}' where id = '{}'",
                alice.user_id, b.id
            ),
        )
        .await;
        assert_eq!(sql_state(&moved).as_deref(), Some("42501"), "{moved}");

        // Users cannot delete runs, not even their own.
        let mut tx = as_user(&mut conn, &bob).await;
        let denied = sqlx::query("delete from algorithm_runs where id = $1")
            .bind(b.id)
            .execute(&mut *tx)
            .await
            .unwrap_err();
        assert_eq!(sql_state(&denied).as_deref(), Some("42501"), "{denied}");
        tx.rollback().await.unwrap();

        // Writing a run for another user is refused.
        let mut tx = as_user(&mut conn, &bob).await;
        let forged = sqlx::query(
            "insert into algorithm_runs (id, user_id, account_id, algorithm_id, \
             algorithm_kind, parameters) values ($1, $2, $3, 'x', 'x', '{}')",
        )
        .bind(Uuid::new_v4())
        .bind(alice.user_id)
        .bind(a_acc)
        .execute(&mut *tx)
        .await
        .unwrap_err();
        assert_eq!(sql_state(&forged).as_deref(), Some("42501"), "{forged}");
        tx.rollback().await.unwrap();

        // Without claims nothing is visible; anon has no grant at all.
        store_support::assert_claimless_sees_nothing_and_anon_is_refused(
            &mut conn,
            "algorithm_runs",
        )
        .await;

        assert_eq!(
            count(&mut conn, "select count(*) from algorithm_runs").await,
            2
        );
        assert_eq!(db.store.get_run(&alice, a.id).await.unwrap(), Some(a));
        assert_eq!(db.store.get_run(&bob, b.id).await.unwrap(), Some(b));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_algorithm_schema_has_rls_policies_grants_and_trigger() {
    run_postgres(|db| async move {
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();
        for table in ["algorithm_configs", "algorithm_runs"] {
            let (rls,): (bool,) = sqlx::query_as(
                "select relrowsecurity from pg_class where oid = ('public.' || $1)::regclass",
            )
            .bind(table)
            .fetch_one(&mut conn)
            .await
            .unwrap();
            assert!(rls, "RLS on {table}");
        }

        let policies: Vec<(String, String, String)> = sqlx::query_as(
            "select tablename::text, policyname::text, cmd::text from pg_policies \
             where schemaname = 'public' and tablename like 'algorithm%' \
             order by tablename, policyname",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let expected: Vec<(String, String, String)> = [
            (
                "algorithm_configs",
                "Users can delete own algorithm configs",
                "DELETE",
            ),
            (
                "algorithm_configs",
                "Users can insert own algorithm configs",
                "INSERT",
            ),
            (
                "algorithm_configs",
                "Users can update own algorithm configs",
                "UPDATE",
            ),
            (
                "algorithm_configs",
                "Users can view own algorithm configs",
                "SELECT",
            ),
            (
                "algorithm_runs",
                "Service can insert own algorithm runs",
                "INSERT",
            ),
            (
                "algorithm_runs",
                "Service can update own algorithm runs",
                "UPDATE",
            ),
            (
                "algorithm_runs",
                "Users can view own algorithm runs",
                "SELECT",
            ),
        ]
        .iter()
        .map(|(t, p, c)| (t.to_string(), p.to_string(), c.to_string()))
        .collect();
        assert_eq!(
            policies, expected,
            "users write their configurations; runs only the service writes; nobody deletes runs"
        );

        let indexes: Vec<(String, String)> = sqlx::query_as(
            "select indexname::text, indexdef from pg_indexes \
             where schemaname = 'public' and tablename like 'algorithm%' order by indexname",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let names: Vec<&str> = indexes.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(
            names,
            vec![
                "algorithm_configs_pkey",
                "algorithm_configs_user_id_name_key",
                "algorithm_runs_pkey",
                "idx_algorithm_runs_account",
                "idx_algorithm_runs_bot_bar",
                "idx_algorithm_runs_bot_started",
                "idx_algorithm_runs_user_started",
            ]
        );
        let def = |name: &str| {
            indexes
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, d)| d.clone())
                .unwrap()
        };
        assert!(def("algorithm_configs_user_id_name_key").contains("UNIQUE INDEX"));
        assert!(def("algorithm_configs_user_id_name_key").contains("(user_id, name)"));
        assert!(
            def("idx_algorithm_runs_user_started").contains("(user_id, started_at DESC, id DESC)")
        );

        let grants: Vec<(bool, bool, bool, bool, bool)> = sqlx::query_as(
            "select has_table_privilege('authenticated', t, 'select'), \
                    has_table_privilege('authenticated', t, 'insert'), \
                    has_table_privilege('authenticated', t, 'update'), \
                    has_table_privilege('authenticated', t, 'delete'), \
                    has_table_privilege('anon', t, 'select') \
             from unnest(array['public.algorithm_configs', 'public.algorithm_runs']) as t",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            grants,
            vec![
                (true, true, true, true, false),
                (true, false, false, false, false)
            ]
        );
        let writer: (bool, bool, bool, bool) = sqlx::query_as(
            "select has_table_privilege('mt5_bridge_writer', 'public.algorithm_runs', 'select'), \
                    has_table_privilege('mt5_bridge_writer', 'public.algorithm_runs', 'insert'), \
                    has_table_privilege('mt5_bridge_writer', 'public.algorithm_runs', 'update'), \
                    has_table_privilege('mt5_bridge_writer', 'public.algorithm_runs', 'delete')",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(writer, (true, true, true, false));

        // The trigger moves updated_at on any update, even one that does not set it.
        let user = new_user(&db).await;
        let cfg = create_config(&db, &user, "triggered").await;
        tick().await;
        sqlx::query("update algorithm_configs set kind = 'breakout' where id = $1")
            .bind(cfg.id)
            .execute(&mut conn)
            .await
            .unwrap();
        let now = db.store.get_config(&user, cfg.id).await.unwrap().unwrap();
        assert_eq!(now.kind, "breakout");
        assert!(now.updated_at > cfg.updated_at);
        assert_eq!(now.created_at, cfg.created_at);

        // Configurations and runs follow their user out (ON DELETE CASCADE).
        let account = new_account(&db, &user).await;
        let run = start(&db, &user, account).await;
        sqlx::query("delete from auth.users where id = $1")
            .bind(user.user_id)
            .execute(&mut conn)
            .await
            .unwrap();
        let (left,): (i64,) = sqlx::query_as(
            "select (select count(*) from algorithm_configs where id = $1) \
                  + (select count(*) from algorithm_runs where id = $2)",
        )
        .bind(cfg.id)
        .bind(run.id)
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(left, 0);
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_algorithm_migration_is_idempotent_and_cascades_from_the_user() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("a.db").display());
    let store = store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    let db = Db { store, url };
    let user = new_user(&db).await;
    let account = new_account(&db, &user).await;
    let cfg = create_config(&db, &user, "mine").await;
    let run = start(&db, &user, account).await;
    db.raw(&format!(
        "delete from auth_users where id = '{}'",
        user.user_id
    ))
    .await;
    assert_eq!(db.store.get_config(&user, cfg.id).await.unwrap(), None);
    assert_eq!(db.store.get_run(&user, run.id).await.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_users_cannot_write_even_their_own_runs_but_keep_their_configs() {
    run_postgres(|db| async move {
        let alice = new_user(&db).await;
        let acc = new_account(&db, &alice).await;
        let run = start(&db, &alice, acc).await;
        let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();

        // What the Data API gives Alice: her own claims, her own account and run. Planting a
        // finished run, rewriting one's outcome, removing one: all refused.
        for sql in [
            format!(
                "insert into algorithm_runs (id, user_id, account_id, algorithm_id, \
                 algorithm_kind, parameters, status) values ('{}', '{}', '{acc}', 'x', 'x', \
                 '{{}}', 'done')",
                Uuid::new_v4(),
                alice.user_id
            ),
            format!(
                "update algorithm_runs set status = 'done', trades = '[]' where id = '{}'",
                run.id
            ),
            format!("delete from algorithm_runs where id = '{}'", run.id),
        ] {
            let err = store_support::refused_as_user(&mut conn, &alice, &sql).await;
            assert_eq!(sql_state(&err).as_deref(), Some("42501"), "{sql}: {err}");
        }
        let mut tx = as_user(&mut conn, &alice).await;
        let seen: Vec<(Uuid, String)> = sqlx::query_as("select id, status from algorithm_runs")
            .fetch_all(&mut *tx)
            .await
            .unwrap();
        assert_eq!(seen, vec![(run.id, RUN_RUNNING.to_string())]);
        tx.rollback().await.unwrap();

        // The service still finishes runs, through the store.
        db.store
            .finish_run(&alice, run.id, finish(RUN_DONE))
            .await
            .unwrap();
        let done = db.store.get_run(&alice, run.id).await.unwrap().unwrap();
        assert_eq!(done.status, RUN_DONE);

        // Configurations stay the user's own to write, directly too.
        let mut tx = as_user(&mut conn, &alice).await;
        let id = Uuid::new_v4();
        sqlx::query(
            "insert into algorithm_configs (id, user_id, name, kind, parameters) \
             values ($1, $2, 'direct', 'ma_crossover', '{\"symbol\": \"EURUSD\"}')",
        )
        .bind(id)
        .bind(alice.user_id)
        .execute(&mut *tx)
        .await
        .unwrap();
        let updated = sqlx::query("update algorithm_configs set name = 'renamed' where id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(updated.rows_affected(), 1);
        tx.commit().await.unwrap();
        let cfg = db.store.get_config(&alice, id).await.unwrap().unwrap();
        assert_eq!(cfg.name, "renamed");
    })
    .await
}
