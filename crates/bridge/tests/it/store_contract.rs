//! One contract suite for both account stores.
//!
//! Every contract test runs against a fresh SQLite file, and against a fresh Postgres database
//! when `TEST_DATABASE_URL` is set (skipped with a note otherwise; a set but unreachable server
//! fails). The Postgres-only tests at the end prove that Row Level Security isolates users even for
//! a raw connection, and that concurrent migrations of several databases of one cluster succeed.


use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use mt5_bridge::store::{self, AccountPatch, AccountStore, NewAccount, StoreError, UserCtx};
use serde_json::json;
use sqlx::{Connection, Executor, Row};
use store_support::postgres_db::fresh_postgres_database;
use uuid::Uuid;

use crate::store_support;
use store_support::{
    admin_url, as_user, as_writer, drop_best_effort, refused_as_user, sql_state, user_ctx,
};

type Store = Arc<dyn AccountStore>;

const TOMB: &str = "revoked";

async fn new_user(store: &Store) -> UserCtx {
    let user = user_ctx();
    store.ensure_user(&user).await.unwrap();
    // Idempotent.
    store.ensure_user(&user).await.unwrap();
    user
}

fn account(login: &str, server: &str) -> NewAccount {
    NewAccount {
        id: Uuid::new_v4(),
        account_name: format!("Account {login}"),
        login: login.to_string(),
        server: server.to_string(),
        encrypted_password: format!("v1:test:{}", Uuid::new_v4().simple()),
        broker_name: Some("MetaQuotes".into()),
        account_type: Some("demo".into()),
        risk_limits: Some(json!({"max_daily_loss": 500.5, "max_risk_per_trade": 0.01})),
    }
}

/// Two inserts in a row must get distinct, ordered creation times on every backend.
async fn tick() {
    tokio::time::sleep(Duration::from_millis(15)).await;
}

// The runners of store_support, for contracts that take the store alone (or with its URL).
async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()>,
{
    store_support::run_sqlite(|db| test(db.store)).await
}

async fn run_postgres_with_url<F, Fut>(test: F)
where
    F: FnOnce(Store, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    store_support::run_postgres(|db| test(db.store, db.url)).await
}

async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(Store) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    store_support::run_postgres(|db| test(db.store)).await
}

macro_rules! contract {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::run_sqlite(super::$name).await
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    super::run_postgres(super::$name).await
                }
            )*
        }
    };
}

contract!(
    insert_list_get,
    users_never_see_each_other,
    duplicate_login_server_conflicts_per_user,
    first_account_becomes_default,
    set_default_moves_the_default,
    soft_delete_hides_tombstones_and_promotes_oldest,
    include_inactive_lists_deleted_accounts,
    reactivate_restores_a_deleted_account,
    updated_at_advances_created_at_stays,
    risk_limits_round_trip_and_clear,
    replace_ciphertext_is_compare_and_swap,
    migrations_are_idempotent,
    concurrent_inserts_leave_one_default,
    over_long_values_are_rejected,
    trade_allowed_is_recorded_and_read_with_every_row,
);

async fn insert_list_get(store: Store) {
    let user = new_user(&store).await;
    assert!(store.list_accounts(&user, true).await.unwrap().is_empty());
    assert!(store.default_account(&user).await.unwrap().is_none());

    let new = account("5042856355", "MetaQuotes-Demo");
    let row = store
        .insert_account(&user, new.clone(), false)
        .await
        .unwrap();
    assert_eq!(row.id, new.id);
    assert_eq!(row.user_id, user.user_id);
    assert_eq!(row.account_name, new.account_name);
    assert_eq!(row.login, "5042856355");
    assert_eq!(row.server, "MetaQuotes-Demo");
    assert_eq!(row.encrypted_password, new.encrypted_password);
    assert!(row.is_active);
    assert_eq!(row.broker_name.as_deref(), Some("MetaQuotes"));
    assert_eq!(row.account_type.as_deref(), Some("demo"));
    assert_eq!(row.risk_limits, new.risk_limits);
    assert_eq!(row.created_at, row.updated_at);
    let age = time::OffsetDateTime::now_utc() - row.created_at;
    assert!(age.whole_seconds().abs() < 60, "created_at is now: {age}");

    // What was returned is exactly what is read back (timestamps included).
    assert_eq!(
        store.get_account(&user, row.id).await.unwrap(),
        Some(row.clone())
    );
    assert_eq!(
        store
            .find_by_login(&user, "5042856355", "MetaQuotes-Demo")
            .await
            .unwrap(),
        Some(row.clone())
    );
    assert_eq!(
        store
            .find_by_login(&user, "5042856355", "Other-Server")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        store.get_account(&user, Uuid::new_v4()).await.unwrap(),
        None
    );

    tick().await;
    let second = store
        .insert_account(&user, account("7000001", "MetaQuotes-Demo"), false)
        .await
        .unwrap();
    let listed = store.list_accounts(&user, false).await.unwrap();
    assert_eq!(listed, vec![row, second], "oldest first");
}

async fn users_never_see_each_other(store: Store) {
    let alice = new_user(&store).await;
    let bob = new_user(&store).await;
    let a = store
        .insert_account(&alice, account("1111", "Srv"), false)
        .await
        .unwrap();
    let b = store
        .insert_account(&bob, account("2222", "Srv"), false)
        .await
        .unwrap();

    assert_eq!(store.get_account(&bob, a.id).await.unwrap(), None);
    assert_eq!(
        store.find_by_login(&bob, "1111", "Srv").await.unwrap(),
        None
    );
    assert_eq!(
        store.list_accounts(&bob, true).await.unwrap(),
        vec![b.clone()]
    );
    assert_eq!(store.default_account(&bob).await.unwrap(), Some(b.clone()));

    let patch = AccountPatch {
        account_name: Some("hijacked".into()),
        encrypted_password: Some("v1:evil:xx".into()),
        ..Default::default()
    };
    assert_eq!(store.update_account(&bob, a.id, patch).await.unwrap(), None);
    assert!(!store.set_default(&bob, a.id).await.unwrap());
    assert!(!store.soft_delete(&bob, a.id, TOMB).await.unwrap());
    assert_eq!(
        store
            .reactivate(&bob, a.id, account("1111", "Srv"), true)
            .await
            .unwrap(),
        None
    );

    // Alice's row is exactly as it was, and Bob's default did not move.
    assert_eq!(
        store.get_account(&alice, a.id).await.unwrap(),
        Some(a.clone())
    );
    assert_eq!(store.list_accounts(&alice, true).await.unwrap(), vec![a]);
    assert_eq!(store.default_account(&bob).await.unwrap(), Some(b));
}

async fn duplicate_login_server_conflicts_per_user(store: Store) {
    let alice = new_user(&store).await;
    let bob = new_user(&store).await;
    let first = store
        .insert_account(&alice, account("5042856355", "MetaQuotes-Demo"), false)
        .await
        .unwrap();

    let err = store
        .insert_account(&alice, account("5042856355", "MetaQuotes-Demo"), false)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");

    // The same login on another server, and the same login+server for another user, are fine.
    store
        .insert_account(&alice, account("5042856355", "MetaQuotes-Live"), false)
        .await
        .unwrap();
    store
        .insert_account(&bob, account("5042856355", "MetaQuotes-Demo"), false)
        .await
        .unwrap();

    // A deleted account still holds its (user, login, server): it is reactivated, not re-inserted.
    assert!(store.soft_delete(&alice, first.id, TOMB).await.unwrap());
    let err = store
        .insert_account(&alice, account("5042856355", "MetaQuotes-Demo"), true)
        .await
        .unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "got {err:?}");

    // A failed insert changes nothing (its transaction rolled back, including the default reset).
    assert_eq!(store.list_accounts(&alice, true).await.unwrap().len(), 2);
    let default = store.default_account(&alice).await.unwrap().unwrap();
    assert_eq!(default.server, "MetaQuotes-Live");
}

async fn first_account_becomes_default(store: Store) {
    let user = new_user(&store).await;
    let first = store
        .insert_account(&user, account("100", "S"), false)
        .await
        .unwrap();
    assert!(first.is_default, "the first account is the default");
    tick().await;
    let second = store
        .insert_account(&user, account("200", "S"), false)
        .await
        .unwrap();
    assert!(!second.is_default);
    assert_eq!(store.default_account(&user).await.unwrap(), Some(first));
}

async fn set_default_moves_the_default(store: Store) {
    let user = new_user(&store).await;
    let a = store
        .insert_account(&user, account("100", "S"), false)
        .await
        .unwrap();
    tick().await;
    let b = store
        .insert_account(&user, account("200", "S"), false)
        .await
        .unwrap();
    tick().await;
    let c = store
        .insert_account(&user, account("300", "S"), true)
        .await
        .unwrap();
    assert!(c.is_default);
    let defaults = |rows: Vec<mt5_bridge::store::AccountRow>| {
        rows.into_iter()
            .filter(|r| r.is_default)
            .map(|r| r.id)
            .collect::<Vec<_>>()
    };
    assert_eq!(
        defaults(store.list_accounts(&user, true).await.unwrap()),
        vec![c.id]
    );

    assert!(store.set_default(&user, b.id).await.unwrap());
    assert_eq!(
        defaults(store.list_accounts(&user, true).await.unwrap()),
        vec![b.id]
    );
    assert_eq!(
        store.default_account(&user).await.unwrap().unwrap().id,
        b.id
    );
    // Setting the current default again is fine and changes nothing.
    assert!(store.set_default(&user, b.id).await.unwrap());
    assert_eq!(
        defaults(store.list_accounts(&user, true).await.unwrap()),
        vec![b.id]
    );

    assert!(!store.set_default(&user, Uuid::new_v4()).await.unwrap());
    assert!(store.soft_delete(&user, a.id, TOMB).await.unwrap());
    assert!(
        !store.set_default(&user, a.id).await.unwrap(),
        "deleted accounts cannot be default"
    );
    assert_eq!(
        defaults(store.list_accounts(&user, true).await.unwrap()),
        vec![b.id]
    );
}

async fn soft_delete_hides_tombstones_and_promotes_oldest(store: Store) {
    let user = new_user(&store).await;
    let a = store
        .insert_account(&user, account("100", "S"), false)
        .await
        .unwrap();
    tick().await;
    let b = store
        .insert_account(&user, account("200", "S"), false)
        .await
        .unwrap();
    tick().await;
    let c = store
        .insert_account(&user, account("300", "S"), false)
        .await
        .unwrap();
    assert!(a.is_default);

    // Deleting a non-default account leaves the default alone.
    assert!(store.soft_delete(&user, c.id, TOMB).await.unwrap());
    assert_eq!(
        store.default_account(&user).await.unwrap().unwrap().id,
        a.id
    );
    assert_eq!(store.get_account(&user, c.id).await.unwrap(), None);
    assert!(
        !store.soft_delete(&user, c.id, TOMB).await.unwrap(),
        "already deleted"
    );

    tick().await;
    let d = store
        .insert_account(&user, account("400", "S"), false)
        .await
        .unwrap();

    // Deleting the default promotes the oldest remaining active account (b, not the newer d).
    assert!(store.soft_delete(&user, a.id, TOMB).await.unwrap());
    let gone = store
        .find_by_login(&user, "100", "S")
        .await
        .unwrap()
        .unwrap();
    assert!(!gone.is_active);
    assert!(!gone.is_default);
    assert_eq!(gone.encrypted_password, TOMB);
    assert_eq!(gone.created_at, a.created_at);
    assert_eq!(store.get_account(&user, a.id).await.unwrap(), None);
    assert_eq!(
        store.default_account(&user).await.unwrap().unwrap().id,
        b.id
    );
    let active: Vec<Uuid> = store
        .list_accounts(&user, false)
        .await
        .unwrap()
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(active, vec![b.id, d.id]);

    assert!(store.soft_delete(&user, b.id, TOMB).await.unwrap());
    assert_eq!(
        store.default_account(&user).await.unwrap().unwrap().id,
        d.id
    );
    assert!(store.soft_delete(&user, d.id, TOMB).await.unwrap());
    assert_eq!(store.default_account(&user).await.unwrap(), None);
    assert!(store.list_accounts(&user, false).await.unwrap().is_empty());
    let all = store.list_accounts(&user, true).await.unwrap();
    assert_eq!(all.len(), 4);
    assert!(all
        .iter()
        .all(|r| !r.is_active && !r.is_default && r.encrypted_password == TOMB));
}

async fn include_inactive_lists_deleted_accounts(store: Store) {
    let user = new_user(&store).await;
    let a = store
        .insert_account(&user, account("100", "S"), false)
        .await
        .unwrap();
    tick().await;
    let b = store
        .insert_account(&user, account("200", "S"), false)
        .await
        .unwrap();
    assert!(store.soft_delete(&user, a.id, TOMB).await.unwrap());
    let active = store.list_accounts(&user, false).await.unwrap();
    assert_eq!(active.iter().map(|r| r.id).collect::<Vec<_>>(), vec![b.id]);
    let all = store.list_accounts(&user, true).await.unwrap();
    assert_eq!(
        all.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![a.id, b.id]
    );
    assert!(!all[0].is_active);
    assert!(all[1].is_active && all[1].is_default);
}

async fn reactivate_restores_a_deleted_account(store: Store) {
    let user = new_user(&store).await;
    let a = store
        .insert_account(&user, account("100", "S"), false)
        .await
        .unwrap();
    // An active account cannot be "reactivated".
    assert_eq!(
        store
            .reactivate(&user, a.id, account("100", "S"), false)
            .await
            .unwrap(),
        None
    );
    assert!(store.soft_delete(&user, a.id, TOMB).await.unwrap());

    // With no other active account it comes back as the default, with the new fields.
    let mut again = account("100", "S");
    again.account_name = "Back again".into();
    again.encrypted_password = "v1:test:fresh".into();
    again.broker_name = None;
    again.risk_limits = None;
    tick().await;
    let back = store
        .reactivate(&user, a.id, again, false)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(back.id, a.id);
    assert!(back.is_active);
    assert!(back.is_default);
    assert_eq!(back.account_name, "Back again");
    assert_eq!(back.encrypted_password, "v1:test:fresh");
    assert_eq!(back.broker_name, None);
    assert_eq!(back.risk_limits, None);
    assert_eq!(back.created_at, a.created_at);
    assert!(back.updated_at > a.updated_at);
    assert_eq!(store.get_account(&user, a.id).await.unwrap(), Some(back));

    // With another active default, it comes back as a non-default unless asked.
    tick().await;
    let b = store
        .insert_account(&user, account("200", "S"), true)
        .await
        .unwrap();
    assert!(store.soft_delete(&user, a.id, TOMB).await.unwrap());
    let back = store
        .reactivate(&user, a.id, account("100", "S"), false)
        .await
        .unwrap()
        .unwrap();
    assert!(!back.is_default);
    assert_eq!(
        store.default_account(&user).await.unwrap().unwrap().id,
        b.id
    );

    assert!(store.soft_delete(&user, a.id, TOMB).await.unwrap());
    let back = store
        .reactivate(&user, a.id, account("100", "S"), true)
        .await
        .unwrap()
        .unwrap();
    assert!(back.is_default);
    let defaults: Vec<Uuid> = store
        .list_accounts(&user, true)
        .await
        .unwrap()
        .into_iter()
        .filter(|r| r.is_default)
        .map(|r| r.id)
        .collect();
    assert_eq!(defaults, vec![a.id]);

    assert_eq!(
        store
            .reactivate(&user, Uuid::new_v4(), account("1", "S"), false)
            .await
            .unwrap(),
        None
    );
}

async fn updated_at_advances_created_at_stays(store: Store) {
    let user = new_user(&store).await;
    let row = store
        .insert_account(&user, account("100", "S"), false)
        .await
        .unwrap();
    tick().await;
    let renamed = store
        .update_account(
            &user,
            row.id,
            AccountPatch {
                account_name: Some("Renamed".into()),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(renamed.account_name, "Renamed");
    assert_eq!(renamed.created_at, row.created_at);
    assert!(renamed.updated_at > row.updated_at);
    // Untouched fields stay.
    assert_eq!(renamed.encrypted_password, row.encrypted_password);
    assert_eq!(renamed.risk_limits, row.risk_limits);
    assert_eq!(renamed.broker_name, row.broker_name);
    assert!(renamed.is_default);

    tick().await;
    let touched = store
        .update_account(&user, row.id, AccountPatch::default())
        .await
        .unwrap()
        .unwrap();
    assert!(touched.updated_at > renamed.updated_at);
    assert_eq!(touched.created_at, row.created_at);
    assert_eq!(
        store.get_account(&user, row.id).await.unwrap(),
        Some(touched)
    );

    assert!(store.soft_delete(&user, row.id, TOMB).await.unwrap());
    let patch = AccountPatch {
        account_name: Some("Ghost".into()),
        ..Default::default()
    };
    assert_eq!(
        store.update_account(&user, row.id, patch).await.unwrap(),
        None,
        "deleted accounts are not updated"
    );
    let gone = store
        .find_by_login(&user, "100", "S")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(gone.account_name, "Renamed");
}

async fn risk_limits_round_trip_and_clear(store: Store) {
    let user = new_user(&store).await;
    let limits = json!({
        "max_daily_loss": 1234.56,
        "max_risk_per_trade": 0.015,
        "max_positions": 7,
        "symbols": ["EURUSD", "XAUUSD"],
        "nested": {"flag": true, "none": null}
    });
    let mut new = account("100", "S");
    new.risk_limits = Some(limits.clone());
    let row = store.insert_account(&user, new, false).await.unwrap();
    assert_eq!(row.risk_limits, Some(limits.clone()));
    let read = store.get_account(&user, row.id).await.unwrap().unwrap();
    assert_eq!(read.risk_limits, Some(limits.clone()));

    // None leaves it alone.
    let same = store
        .update_account(
            &user,
            row.id,
            AccountPatch {
                broker_name: Some(Some("Other".into())),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(same.risk_limits, Some(limits));
    assert_eq!(same.broker_name.as_deref(), Some("Other"));

    let replaced = json!({"max_daily_loss": 10});
    let updated = store
        .update_account(
            &user,
            row.id,
            AccountPatch {
                risk_limits: Some(Some(replaced.clone())),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(updated.risk_limits, Some(replaced));

    // Some(None) clears nullable fields.
    let cleared = store
        .update_account(
            &user,
            row.id,
            AccountPatch {
                risk_limits: Some(None),
                broker_name: Some(None),
                account_type: Some(None),
                ..Default::default()
            },
        )
        .await
        .unwrap()
        .unwrap();
    assert_eq!(cleared.risk_limits, None);
    assert_eq!(cleared.broker_name, None);
    assert_eq!(cleared.account_type, None);
    assert_eq!(
        store.get_account(&user, row.id).await.unwrap(),
        Some(cleared)
    );
}

async fn replace_ciphertext_is_compare_and_swap(store: Store) {
    let alice = new_user(&store).await;
    let bob = new_user(&store).await;
    let a = store
        .insert_account(&alice, account("100", "S"), false)
        .await
        .unwrap();
    let b = store
        .insert_account(&bob, account("200", "S"), false)
        .await
        .unwrap();
    tick().await;
    let gone = store
        .insert_account(&bob, account("300", "S"), false)
        .await
        .unwrap();
    assert!(store.soft_delete(&bob, gone.id, TOMB).await.unwrap());

    // The service path sees every user's credentials, deleted ones included.
    let all = store.all_credentials().await.unwrap();
    let ids: Vec<Uuid> = all.iter().map(|r| r.id).collect();
    assert_eq!(ids.len(), 3);
    for id in [a.id, b.id, gone.id] {
        assert!(ids.contains(&id));
    }

    assert!(!store
        .replace_ciphertext(a.id, "v1:test:not-the-current-one", "v1:k2:new")
        .await
        .unwrap());
    assert_eq!(
        store
            .get_account(&alice, a.id)
            .await
            .unwrap()
            .unwrap()
            .encrypted_password,
        a.encrypted_password
    );
    assert!(store
        .replace_ciphertext(a.id, &a.encrypted_password, "v1:k2:new")
        .await
        .unwrap());
    assert_eq!(
        store
            .get_account(&alice, a.id)
            .await
            .unwrap()
            .unwrap()
            .encrypted_password,
        "v1:k2:new"
    );
    // The old value no longer matches, so a second swap from it fails.
    assert!(!store
        .replace_ciphertext(a.id, &a.encrypted_password, "v1:k3:newer")
        .await
        .unwrap());
    assert!(!store
        .replace_ciphertext(Uuid::new_v4(), "x", "y")
        .await
        .unwrap());
    // Bob's row was not touched.
    assert_eq!(store.get_account(&bob, b.id).await.unwrap(), Some(b));
}

async fn migrations_are_idempotent(store: Store) {
    let user = new_user(&store).await;
    let row = store
        .insert_account(&user, account("100", "S"), false)
        .await
        .unwrap();
    store.migrate().await.unwrap();
    store.migrate().await.unwrap();
    assert_eq!(store.get_account(&user, row.id).await.unwrap(), Some(row));
}

async fn concurrent_inserts_leave_one_default(store: Store) {
    let user = new_user(&store).await;
    let mut tasks = Vec::new();
    for i in 0..6 {
        let store = store.clone();
        let user = user.clone();
        tasks.push(tokio::spawn(async move {
            store
                .insert_account(&user, account(&format!("{}", 1000 + i), "S"), false)
                .await
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    let rows = store.list_accounts(&user, false).await.unwrap();
    assert_eq!(rows.len(), 6);
    assert_eq!(rows.iter().filter(|r| r.is_default).count(), 1);
}

async fn over_long_values_are_rejected(store: Store) {
    let user = new_user(&store).await;
    // VARCHAR(50) on Postgres, a CHECK on SQLite: both refuse, and nothing is stored.
    let long = account(&"9".repeat(51), "S");
    assert!(matches!(
        store.insert_account(&user, long, false).await,
        Err(StoreError::Database(_))
    ));
    let fits = account(&"9".repeat(50), "S");
    store.insert_account(&user, fits, false).await.unwrap();
    assert_eq!(store.list_accounts(&user, true).await.unwrap().len(), 1);
}

async fn trade_allowed_is_recorded_and_read_with_every_row(store: Store) {
    let alice = new_user(&store).await;
    let bob = new_user(&store).await;
    let a = store
        .insert_account(&alice, account("1", "S"), false)
        .await
        .unwrap();
    let b = store
        .insert_account(&alice, account("2", "S"), false)
        .await
        .unwrap();
    assert_eq!(
        (a.trade_allowed, b.trade_allowed),
        (None, None),
        "until recorded"
    );

    store
        .record_trade_allowed(&alice, a.id, true)
        .await
        .unwrap();
    let got = store.get_account(&alice, a.id).await.unwrap().unwrap();
    assert_eq!(got.trade_allowed, Some(true));
    assert!(format!("{got:?}").contains("trade_allowed: Some(true)"));
    // An upsert: the last login's answer wins.
    store
        .record_trade_allowed(&alice, a.id, false)
        .await
        .unwrap();

    // Every query that returns account rows carries it; the other account has none.
    let by_id = |rows: Vec<mt5_bridge::store::AccountRow>| -> Vec<(Uuid, Option<bool>)> {
        rows.into_iter().map(|r| (r.id, r.trade_allowed)).collect()
    };
    assert_eq!(
        by_id(store.list_accounts(&alice, false).await.unwrap()),
        vec![(a.id, Some(false)), (b.id, None)]
    );
    let one = |r: Option<mt5_bridge::store::AccountRow>| r.unwrap().trade_allowed;
    assert_eq!(
        one(store.get_account(&alice, a.id).await.unwrap()),
        Some(false)
    );
    assert_eq!(
        one(store.default_account(&alice).await.unwrap()),
        Some(false)
    );
    assert_eq!(
        one(store.find_by_login(&alice, "1", "S").await.unwrap()),
        Some(false)
    );
    let patch = AccountPatch {
        account_name: Some("Renamed".into()),
        ..Default::default()
    };
    assert_eq!(
        one(store.update_account(&alice, a.id, patch).await.unwrap()),
        Some(false)
    );
    assert!(store.soft_delete(&alice, a.id, TOMB).await.unwrap());
    assert_eq!(
        by_id(store.list_accounts(&alice, true).await.unwrap()),
        vec![(a.id, Some(false)), (b.id, None)]
    );
    assert_eq!(
        one(store
            .reactivate(&alice, a.id, account("1", "S"), false)
            .await
            .unwrap()),
        Some(false)
    );
    let all = store.all_credentials().await.unwrap();
    assert_eq!(
        all.iter().find(|r| r.id == a.id).unwrap().trade_allowed,
        Some(false)
    );

    // Only for one's own accounts: another user's, or none at all, is an error and changes
    // nothing.
    for (user, id) in [(&bob, a.id), (&alice, Uuid::new_v4())] {
        let err = store
            .record_trade_allowed(user, id, true)
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("not one of the user's accounts"),
            "{err}"
        );
    }
    assert_eq!(
        one(store.get_account(&alice, a.id).await.unwrap()),
        Some(false)
    );
    // The status of a second account is its own.
    store
        .record_trade_allowed(&alice, b.id, true)
        .await
        .unwrap();
    assert_eq!(
        by_id(store.list_accounts(&alice, false).await.unwrap()),
        vec![(a.id, Some(false)), (b.id, Some(true))]
    );
}

// ---------------------------------------------------------------------------------------------
// Postgres only

async fn raw_connection(url: &str) -> sqlx::PgConnection {
    sqlx::PgConnection::connect(url).await.unwrap()
}

fn claims_for(user: &UserCtx) -> String {
    json!({"sub": user.user_id.to_string(), "role": "authenticated"}).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rls_hides_other_users_rows_from_a_raw_connection() {
    run_postgres_with_url(|store, url| async move {
        let alice = new_user(&store).await;
        let bob = new_user(&store).await;
        let a = store
            .insert_account(&alice, account("1111", "S"), false)
            .await
            .unwrap();
        let b = store
            .insert_account(&bob, account("2222", "S"), false)
            .await
            .unwrap();

        let mut conn = raw_connection(&url).await;
        let mut tx = as_user(&mut conn, &bob).await;
        // No user_id filter here: only RLS stands between Bob and Alice's row.
        let seen: Vec<Uuid> = sqlx::query("select id from mt5_accounts")
            .fetch_all(&mut *tx)
            .await
            .unwrap()
            .iter()
            .map(|r| r.get::<Uuid, _>("id"))
            .collect();
        assert_eq!(seen, vec![b.id]);
        let updated = sqlx::query("update mt5_accounts set account_name = 'pwned' where id = $1")
            .bind(a.id)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(updated.rows_affected(), 0);
        let deleted = sqlx::query("delete from mt5_accounts where id = $1")
            .bind(a.id)
            .execute(&mut *tx)
            .await
            .unwrap();
        assert_eq!(deleted.rows_affected(), 0);
        // Moving one's own row to another user is refused by the policy.
        let moved = sqlx::query("update mt5_accounts set user_id = $1 where id = $2")
            .bind(alice.user_id)
            .bind(b.id)
            .execute(&mut *tx)
            .await;
        assert!(
            moved.is_err(),
            "RLS must refuse handing a row to another user"
        );
        tx.rollback().await.unwrap();

        // Inserting a row for another user is refused too.
        let mut tx = as_user(&mut conn, &bob).await;
        let forged = sqlx::query(
            "insert into mt5_accounts (user_id, account_name, login, server, encrypted_password) \
             values ($1, 'x', '9', 'S', 'c')",
        )
        .bind(alice.user_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
        let code = forged
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.to_string());
        assert_eq!(
            code.as_deref(),
            Some("42501"),
            "insufficient_privilege: {forged}"
        );
        tx.rollback().await.unwrap();

        assert_eq!(store.get_account(&alice, a.id).await.unwrap(), Some(a));
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rls_without_claims_sees_nothing_and_anon_has_no_grant() {
    run_postgres_with_url(|store, url| async move {
        let alice = new_user(&store).await;
        store
            .insert_account(&alice, account("1111", "S"), false)
            .await
            .unwrap();

        let mut conn = raw_connection(&url).await;
        // The connecting superuser sees the row: it is there.
        let (total,): (i64,) = sqlx::query_as("select count(*) from mt5_accounts")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(total, 1);

        let mut tx = conn.begin().await.unwrap();
        tx.execute("set local role authenticated").await.unwrap();
        let (seen,): (i64,) = sqlx::query_as("select count(*) from mt5_accounts")
            .fetch_one(&mut *tx)
            .await
            .unwrap();
        assert_eq!(seen, 0, "authenticated without claims sees nothing");
        tx.rollback().await.unwrap();

        let mut tx = conn.begin().await.unwrap();
        tx.execute("set local role anon").await.unwrap();
        let err = sqlx::query("select count(*) from mt5_accounts")
            .fetch_one(&mut *tx)
            .await
            .unwrap_err();
        let code = err
            .as_database_error()
            .and_then(|e| e.code())
            .map(|c| c.to_string());
        assert_eq!(code.as_deref(), Some("42501"), "anon has no grant: {err}");
        tx.rollback().await.unwrap();
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_schema_has_rls_policies_indexes_and_grants() {
    run_postgres_with_url(|store, url| async move {
        let mut conn = raw_connection(&url).await;
        let (rls,): (bool,) = sqlx::query_as(
            "select relrowsecurity from pg_class where oid = 'public.mt5_accounts'::regclass",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert!(rls);

        let policies: Vec<(String, String)> = sqlx::query_as(
            "select policyname::text, cmd::text from pg_policies \
             where schemaname = 'public' and tablename = 'mt5_accounts' order by policyname",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            policies,
            vec![
                ("Users can delete own accounts".into(), "DELETE".into()),
                ("Users can insert own accounts".into(), "INSERT".into()),
                ("Users can update own accounts".into(), "UPDATE".into()),
                ("Users can view own accounts".into(), "SELECT".into()),
            ]
        );

        let indexes: Vec<(String,)> = sqlx::query_as(
            "select indexname::text from pg_indexes \
             where schemaname = 'public' and tablename = 'mt5_accounts' \
             and indexname like 'idx_%' order by indexname",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        assert_eq!(
            indexes,
            vec![
                ("idx_mt5_accounts_active".into(),),
                ("idx_mt5_accounts_user_id".into(),)
            ]
        );

        // The target of the journal's and the status table's (account_id, user_id) keys.
        let (unique,): (String,) = sqlx::query_as(
            "select pg_get_constraintdef(oid) from pg_constraint \
             where conrelid = 'public.mt5_accounts'::regclass \
             and conname = 'mt5_accounts_id_user_id_key'",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(unique, "UNIQUE (id, user_id)");

        let (auth_select, auth_delete, anon_select, anon_insert): (bool, bool, bool, bool) =
            sqlx::query_as(
                "select has_table_privilege('authenticated', 'public.mt5_accounts', 'select'), \
                        has_table_privilege('authenticated', 'public.mt5_accounts', 'delete'), \
                        has_table_privilege('anon', 'public.mt5_accounts', 'select'), \
                        has_table_privilege('anon', 'public.mt5_accounts', 'insert')",
            )
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert!(auth_select && auth_delete);
        assert!(!anon_select && !anon_insert);

        // The shim is ours here, so ensure_user adds the user to auth.users.
        let user = new_user(&store).await;
        let (n,): (i64,) = sqlx::query_as("select count(*) from auth.users where id = $1")
            .bind(user.user_id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(n, 1);
        let (uid,): (Option<Uuid>,) = sqlx::query_as(
            "select auth.uid() from (select set_config('request.jwt.claims', $1, true)) s",
        )
        .bind(claims_for(&user))
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!(uid, Some(user.user_id));
    })
    .await
}

/// The schema exactly as the specification gives it, as someone may have created it by hand.
const SPEC_SCHEMA: &str = r#"
CREATE TABLE IF NOT EXISTS mt5_accounts (
    id UUID PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id UUID REFERENCES auth.users(id) ON DELETE CASCADE,
    account_name VARCHAR(255) NOT NULL,
    login VARCHAR(50) NOT NULL,
    server VARCHAR(255) NOT NULL,
    encrypted_password TEXT NOT NULL,
    is_active BOOLEAN DEFAULT true,
    is_default BOOLEAN DEFAULT false,
    broker_name VARCHAR(100),
    account_type VARCHAR(20),
    risk_limits JSONB,
    created_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    updated_at TIMESTAMP WITH TIME ZONE DEFAULT NOW(),
    UNIQUE(user_id, login, server)
);
CREATE INDEX idx_mt5_accounts_user_id ON mt5_accounts(user_id);
CREATE INDEX idx_mt5_accounts_active ON mt5_accounts(user_id, is_active) WHERE is_active = true;
ALTER TABLE mt5_accounts ENABLE ROW LEVEL SECURITY;
CREATE POLICY "Users can view own accounts" ON mt5_accounts FOR SELECT USING (auth.uid() = user_id);
CREATE POLICY "Users can insert own accounts" ON mt5_accounts FOR INSERT WITH CHECK (auth.uid() = user_id);
CREATE POLICY "Users can update own accounts" ON mt5_accounts FOR UPDATE USING (auth.uid() = user_id);
CREATE POLICY "Users can delete own accounts" ON mt5_accounts FOR DELETE USING (auth.uid() = user_id);
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_migration_adopts_a_table_made_from_the_spec() {
    let Some(admin) = admin_url() else { return };
    let db = fresh_postgres_database(&admin).await.unwrap();
    let url = db.url.clone();
    let result = tokio::spawn(async move {
        let mut conn = raw_connection(&url).await;
        conn.execute(include_str!(
            "../../migrations/postgres/20240101000001_auth_shim.sql"
        ))
        .await
        .unwrap();
        conn.execute(SPEC_SCHEMA).await.unwrap();
        let user = user_ctx();
        sqlx::query("insert into auth.users (id) values ($1)")
            .bind(user.user_id)
            .execute(&mut conn)
            .await
            .unwrap();
        sqlx::query(
            "insert into mt5_accounts (user_id, account_name, login, server, encrypted_password, \
             is_default) values ($1, 'Old', '1', 'S', 'c', true)",
        )
        .bind(user.user_id)
        .execute(&mut conn)
        .await
        .unwrap();

        let store = store::open(&url).await.unwrap();
        store.migrate().await.unwrap();
        let rows = store.list_accounts(&user, false).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].account_name, "Old");
        assert!(rows[0].is_default);
        let (policies,): (i64,) =
            sqlx::query_as("select count(*) from pg_policies where tablename = 'mt5_accounts'")
                .fetch_one(&mut conn)
                .await
                .unwrap();
        assert_eq!(policies, 4);
        // The trigger was added, so updates now move updated_at.
        tick().await;
        let patch = AccountPatch {
            account_name: Some("New".into()),
            ..Default::default()
        };
        let updated = store
            .update_account(&user, rows[0].id, patch)
            .await
            .unwrap()
            .unwrap();
        assert!(updated.updated_at > rows[0].updated_at);
    })
    .await;
    drop_best_effort(db).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_databases_migrate_concurrently() {
    let Some(admin) = admin_url() else { return };
    let mut dbs = Vec::new();
    for _ in 0..4 {
        dbs.push(fresh_postgres_database(&admin).await.unwrap());
    }
    let tasks: Vec<_> = dbs
        .iter()
        .map(|db| {
            let url = db.url.clone();
            tokio::spawn(async move {
                let store = store::open(&url).await?;
                store.migrate().await?;
                let user = user_ctx();
                store.ensure_user(&user).await?;
                store
                    .insert_account(&user, account("1", "S"), false)
                    .await
                    .map(|row| row.is_default)
            })
        })
        .collect();
    let mut results = Vec::new();
    for t in tasks {
        results.push(t.await);
    }
    for db in dbs {
        drop_best_effort(db).await;
    }
    for r in results {
        assert!(r.unwrap().unwrap(), "migrated and usable");
    }
}

#[tokio::test]
async fn postgres_unreachable_server_is_an_error() {
    let err = store::open("postgres://postgres@127.0.0.1:1/postgres")
        .await
        .err()
        .expect("no server listens on port 1");
    // A server that does not answer is an outage (503 database_unavailable), not a fault.
    assert!(matches!(err, StoreError::Unavailable(_)), "{err:?}");
}

#[tokio::test]
async fn sqlite_in_memory_url_works() {
    let store: Store = store::open("sqlite::memory:").await.unwrap();
    store.migrate().await.unwrap();
    let user = new_user(&store).await;
    let row = store
        .insert_account(&user, account("1", "S"), false)
        .await
        .unwrap();
    assert_eq!(store.get_account(&user, row.id).await.unwrap(), Some(row));
}

#[tokio::test]
async fn sqlite_creates_missing_directories_and_unknown_schemes_fail() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("nested/deeper/mt5-bridge.db");
    let store = store::open(&format!("sqlite://{}?mode=rwc", path.display()))
        .await
        .unwrap();
    store.migrate().await.unwrap();
    assert!(path.exists());

    let err = store::open("mysql://root:secret-pw@localhost/db")
        .await
        .err()
        .unwrap();
    let msg = err.to_string();
    assert!(msg.contains("mysql"), "{msg}");
    assert!(
        !msg.contains("secret-pw"),
        "the URL's password is not echoed: {msg}"
    );
}

// ---------------------------------------------------------------------------------------------
// mt5_account_status: users read it, only the service writes it

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_account_status_is_read_only_for_users() {
    run_postgres_with_url(|store, url| async move {
        let alice = new_user(&store).await;
        let bob = new_user(&store).await;
        let a = store
            .insert_account(&alice, account("1", "S"), false)
            .await
            .unwrap();
        let a2 = store
            .insert_account(&alice, account("2", "S"), false)
            .await
            .unwrap();
        let b = store
            .insert_account(&bob, account("3", "S"), false)
            .await
            .unwrap();
        store
            .record_trade_allowed(&alice, a.id, false)
            .await
            .unwrap();
        store.record_trade_allowed(&bob, b.id, true).await.unwrap();
        let mut conn = raw_connection(&url).await;

        // Alice reads her own status, and only hers.
        let mut tx = as_user(&mut conn, &alice).await;
        let seen: Vec<(Uuid, bool)> =
            sqlx::query_as("select account_id, trade_allowed from mt5_account_status")
                .fetch_all(&mut *tx)
                .await
                .unwrap();
        assert_eq!(seen, vec![(a.id, false)]);
        tx.rollback().await.unwrap();

        // Through the Data API she may not write it, not even for her own accounts: claiming
        // that the broker allows trading, adding a row, removing one.
        for sql in [
            format!(
                "update mt5_account_status set trade_allowed = true where account_id = '{}'",
                a.id
            ),
            format!(
                "insert into mt5_account_status (account_id, user_id, trade_allowed) \
                 values ('{}', '{}', true)",
                a2.id, alice.user_id
            ),
            format!(
                "insert into mt5_account_status (account_id, user_id, trade_allowed) \
                 values ('{}', '{}', true) on conflict (account_id) do update set \
                 trade_allowed = true",
                a.id, alice.user_id
            ),
            format!(
                "delete from mt5_account_status where account_id = '{}'",
                a.id
            ),
        ] {
            let err = refused_as_user(&mut conn, &alice, &sql).await;
            assert_eq!(sql_state(&err).as_deref(), Some("42501"), "{sql}: {err}");
        }

        // The writer is held to the claims' user by its policy, and to the account's owner by
        // the (account_id, user_id) key, which FK checks apply although they ignore RLS.
        let mut tx = as_writer(&mut conn, &bob).await;
        let err = sqlx::query(
            "insert into mt5_account_status (account_id, user_id, trade_allowed) \
             values ($1, $2, true)",
        )
        .bind(a2.id)
        .bind(alice.user_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
        assert_eq!(sql_state(&err).as_deref(), Some("42501"), "policy: {err}");
        tx.rollback().await.unwrap();
        let mut tx = as_writer(&mut conn, &bob).await;
        let err = sqlx::query(
            "insert into mt5_account_status (account_id, user_id, trade_allowed) \
             values ($1, $2, true)",
        )
        .bind(a2.id)
        .bind(bob.user_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
        assert_eq!(sql_state(&err).as_deref(), Some("23503"), "key: {err}");
        tx.rollback().await.unwrap();
        let mut tx = as_writer(&mut conn, &bob).await;
        let updated =
            sqlx::query("update mt5_account_status set trade_allowed = true where account_id = $1")
                .bind(a.id)
                .execute(&mut *tx)
                .await
                .unwrap();
        assert_eq!(updated.rows_affected(), 0, "not Bob's row");
        tx.rollback().await.unwrap();

        // Nothing above changed a thing; the service's own write still works.
        let got = store.get_account(&alice, a.id).await.unwrap().unwrap();
        assert_eq!(got.trade_allowed, Some(false));
        store
            .record_trade_allowed(&alice, a.id, true)
            .await
            .unwrap();
        let got = store.get_account(&alice, a.id).await.unwrap().unwrap();
        assert_eq!(got.trade_allowed, Some(true));

        // Policies and grants, and the row goes with its account.
        let policies: Vec<(String, String, Vec<String>)> = sqlx::query_as(
            "select policyname::text, cmd::text, roles::text[] from pg_policies \
             where schemaname = 'public' and tablename = 'mt5_account_status' \
             order by policyname",
        )
        .fetch_all(&mut conn)
        .await
        .unwrap();
        let writer = || vec!["mt5_bridge_writer".to_string()];
        assert_eq!(
            policies,
            vec![
                (
                    "Service can insert own account status".into(),
                    "INSERT".into(),
                    writer()
                ),
                (
                    "Service can update own account status".into(),
                    "UPDATE".into(),
                    writer()
                ),
                (
                    "Users can view own account status".into(),
                    "SELECT".into(),
                    vec!["authenticated".to_string()]
                ),
            ]
        );
        store_support::assert_claimless_sees_nothing_and_anon_is_refused(
            &mut conn,
            "mt5_account_status",
        )
        .await;
        sqlx::query("delete from mt5_accounts where id = $1")
            .bind(a.id)
            .execute(&mut conn)
            .await
            .unwrap();
        let (left,): (i64,) = sqlx::query_as("select count(*) from mt5_account_status")
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(left, 1, "only Bob's is left");
    })
    .await
}

#[tokio::test]
async fn sqlite_account_status_keys_hold() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("s.db").display());
    let store: Store = store::open(&url).await.unwrap();
    store.migrate().await.unwrap();
    let alice = new_user(&store).await;
    let bob = new_user(&store).await;
    let a = store
        .insert_account(&alice, account("1", "S"), false)
        .await
        .unwrap();
    store
        .record_trade_allowed(&alice, a.id, true)
        .await
        .unwrap();
    // sqlx turns foreign keys on for every SQLite connection, as the store's pool does.
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let crossed = sqlx::query(&format!(
        "insert into mt5_account_status (account_id, user_id, trade_allowed, updated_at) \
         values ('{}', '{}', 1, '2024-01-01T00:00:00.000000Z') \
         on conflict (account_id) do update set user_id = excluded.user_id",
        a.id, bob.user_id
    ))
    .execute(&mut conn)
    .await
    .unwrap_err();
    assert!(crossed.to_string().contains("FOREIGN KEY"), "{crossed}");
    sqlx::query(&format!("delete from mt5_accounts where id = '{}'", a.id))
        .execute(&mut conn)
        .await
        .unwrap();
    let (left,): (i64,) = sqlx::query_as("select count(*) from mt5_account_status")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(left, 0, "the status goes with its account");
}

// ---------------------------------------------------------------------------------------------
// Existing databases upgrade

/// Rows as an earlier version wrote them: Alice's account with one journal entry and one audit
/// entry, and Bob's account; `crossed` adds an entry of Bob's on Alice's account.
fn old_rows(alice: Uuid, bob: Uuid, a: Uuid, b: Uuid, crossed: bool, sqlite: bool) -> String {
    let (users, now) = if sqlite {
        (
            "auth_users (id, created_at)",
            ", '2024-01-01T00:00:00.000000Z'",
        )
    } else {
        ("auth.users (id)", "")
    };
    let (times, at) = if sqlite {
        (
            ", created_at, updated_at",
            ", '2024-01-01T00:00:00.000000Z', '2024-01-01T00:00:00.000000Z'",
        )
    } else {
        ("", "")
    };
    let (jt, jat) = if sqlite {
        (", created_at", ", '2024-01-01T00:00:00.000000Z'")
    } else {
        ("", "")
    };
    let mut sql = format!(
        "insert into {users} values ('{alice}'{now}), ('{bob}'{now});\n\
         insert into mt5_accounts (id, user_id, account_name, login, server, encrypted_password{times}) \
           values ('{a}', '{alice}', 'A', '1', 'S', 'c'{at}), ('{b}', '{bob}', 'B', '2', 'S', 'c'{at});\n\
         insert into trade_journal (id, user_id, account_id, client_id, source, action, request, status{jt}) \
           values ('{}', '{alice}', '{a}', 'good', 'api', 'place', '{{}}', 'done'{jat});\n\
         insert into audit_log (id, user_id, event, details, created_at) \
           values ('{}', '{alice}', 'account_connected', '{{}}', '2024-01-01T00:00:00.000000Z'), \
                  ('{}', '{alice}', 'account_switched', '{{}}', '2024-01-01T00:00:00.000000Z');\n",
        Uuid::new_v4(),
        Uuid::new_v4(),
        Uuid::new_v4(),
    );
    if crossed {
        sql.push_str(&format!(
            "insert into trade_journal (id, user_id, account_id, client_id, source, action, request, status{jt}) \
               values ('{}', '{bob}', '{a}', 'crossed', 'api', 'place', '{{}}', 'done'{jat});\n",
            Uuid::new_v4()
        ));
    }
    sql
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_an_existing_database_upgrades_and_a_crossed_entry_stops_it() {
    let Some(admin) = admin_url() else { return };
    let db = fresh_postgres_database(&admin).await.unwrap();
    let url = db.url.clone();
    let result = tokio::spawn(async move {
        let mut conn = raw_connection(&url).await;
        // The schema as the first five migrations left it; they can be run again.
        for sql in [
            include_str!("../../migrations/postgres/20240101000001_auth_shim.sql"),
            include_str!("../../migrations/postgres/20240101000002_mt5_accounts.sql"),
            include_str!("../../migrations/postgres/20240101000003_trade_journal.sql"),
            include_str!("../../migrations/postgres/20240101000004_algorithms.sql"),
            include_str!("../../migrations/postgres/20240101000005_audit_log.sql"),
        ] {
            conn.execute(sql).await.unwrap();
        }
        let (alice, bob) = (user_ctx(), user_ctx());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        conn.execute(old_rows(alice.user_id, bob.user_id, a, b, true, false).as_str())
            .await
            .unwrap();

        // An entry whose user is not its account's user stops the upgrade, loudly.
        let store = store::open(&url).await.unwrap();
        let err = store.migrate().await.unwrap_err();
        assert!(
            err.to_string()
                .contains("entries have a user_id that is not their account's user_id"),
            "{err}"
        );
        let (kept, keyed): (i64, bool) = sqlx::query_as(
            "select (select count(*) from trade_journal), exists(select 1 from pg_constraint \
             where conname = 'trade_journal_account_id_user_id_fkey')",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!((kept, keyed), (2, false), "nothing dropped, no key added");

        // Once it is dealt with, the upgrade completes and the old rows are all there.
        conn.execute("delete from trade_journal where client_id = 'crossed'")
            .await
            .unwrap();
        store.migrate().await.unwrap();
        let (journal, audit): (i64, i64) = sqlx::query_as(
            "select (select count(*) from trade_journal), (select count(*) from audit_log)",
        )
        .fetch_one(&mut conn)
        .await
        .unwrap();
        assert_eq!((journal, audit), (1, 2));
        let row = store.get_account(&alice, a).await.unwrap().unwrap();
        assert_eq!(row.trade_allowed, None);
        store.record_trade_allowed(&alice, a, true).await.unwrap();
        // Alice's old grants are gone: her journal is read-only now.
        let err = refused_as_user(
            &mut conn,
            &alice,
            &format!(
                "insert into trade_journal (id, user_id, account_id, client_id, source, action, \
                 request, status) values ('{}', '{}', '{a}', 'late', 'api', 'place', '{{}}', \
                 'done')",
                Uuid::new_v4(),
                alice.user_id
            ),
        )
        .await;
        assert_eq!(sql_state(&err).as_deref(), Some("42501"), "{err}");
        // Migrating again changes nothing.
        store.migrate().await.unwrap();
    })
    .await;
    drop_best_effort(db).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlite_an_existing_database_upgrades_and_a_crossed_entry_stops_it() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}?mode=rwc", dir.path().join("old.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    for sql in [
        include_str!("../../migrations/sqlite/20240101000001_accounts.sql"),
        include_str!("../../migrations/sqlite/20240101000002_trade_journal.sql"),
        include_str!("../../migrations/sqlite/20240101000003_algorithms.sql"),
        include_str!("../../migrations/sqlite/20240101000004_audit_log.sql"),
    ] {
        conn.execute(sql).await.unwrap();
    }
    let (alice, bob) = (user_ctx(), user_ctx());
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    conn.execute(old_rows(alice.user_id, bob.user_id, a, b, true, true).as_str())
        .await
        .unwrap();

    let store = store::open(&url).await.unwrap();
    let err = store.migrate().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("every_journal_entry_has_its_account_user_id"),
        "{err}"
    );
    let (kept,): (i64,) = sqlx::query_as("select count(*) from trade_journal")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(kept, 2, "nothing dropped");

    conn.execute("delete from trade_journal where client_id = 'crossed'")
        .await
        .unwrap();
    store.migrate().await.unwrap();
    let (journal, keyed): (i64, i64) = sqlx::query_as(
        "select (select count(*) from trade_journal), \
         (select count(*) from pragma_foreign_key_list('trade_journal') where \"from\" = 'account_id' and \"to\" = 'id')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!((journal, keyed), (1, 1));
    // The audit log was rebuilt for the new event: its rows keep their order (the rowid breaks
    // the tie between entries of the same microsecond), and the event is accepted.
    let events: Vec<String> = store
        .list_audit(&alice, 10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert_eq!(events, vec!["account_switched", "account_connected"]);
    store
        .record(
            Some(&alice),
            Some(a),
            mt5_bridge::store::audit::AUDIT_CREDENTIALS_INVALID,
            json!({}),
        )
        .await
        .unwrap();
    store.record_trade_allowed(&alice, a, false).await.unwrap();
    assert_eq!(
        store
            .get_account(&alice, a)
            .await
            .unwrap()
            .unwrap()
            .trade_allowed,
        Some(false)
    );
    store.migrate().await.unwrap();
}
