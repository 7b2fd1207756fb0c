//! One contract suite for both audit log stores.
//!
//! Every contract test runs against a fresh SQLite file, and against a fresh Postgres database
//! when `TEST_DATABASE_URL` is set (skipped with a note otherwise). The Postgres-only tests at the
//! end prove that Row Level Security keeps users' entries apart on a raw connection and that
//! entries cannot be changed or removed by users.


use mt5_bridge::store::audit::{
    audit_page_size, AuditEntry, AUDIT_ACCOUNT_CONNECTED, AUDIT_ACCOUNT_DELETED,
    AUDIT_ACCOUNT_SWITCHED, AUDIT_CONNECT_FAILED, AUDIT_CREDENTIALS_INVALID, AUDIT_EVENTS,
    AUDIT_KEY_ROTATED, AUDIT_PASSWORD_CHANGED, MAX_AUDIT_PAGE,
};
use mt5_bridge::store::UserCtx;
use serde_json::{json, Value};
use sqlx::{Connection, Executor};
use uuid::Uuid;

use crate::store_support;
use store_support::{as_user, run_postgres, run_sqlite, sql_state, user_ctx, Db};

async fn new_user(db: &Db) -> UserCtx {
    let user = user_ctx();
    db.store.ensure_user(&user).await.unwrap();
    user
}

fn events(entries: &[AuditEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.event.as_str()).collect()
}

async fn round_trip(db: Db) {
    let alice = new_user(&db).await;
    let acc = Uuid::new_v4();
    let details = json!({"login": "5001234", "server": "MetaQuotes-Demo", "account_name": "Main"});
    db.store
        .record(
            Some(&alice),
            Some(acc),
            AUDIT_ACCOUNT_CONNECTED,
            details.clone(),
        )
        .await
        .unwrap();
    let got = db.store.list_audit(&alice, 10).await.unwrap();
    assert_eq!(got.len(), 1);
    let e = &got[0];
    assert_eq!(e.user_id, Some(alice.user_id));
    assert_eq!(e.account_id, Some(acc));
    assert_eq!(e.event, AUDIT_ACCOUNT_CONNECTED);
    assert_eq!(e.details, details);
    let age = time::OffsetDateTime::now_utc() - e.created_at;
    assert!(
        age.whole_seconds().abs() < 60,
        "created_at {}",
        e.created_at
    );

    // A null account and null details are stored as none and as the empty object.
    db.store
        .record(Some(&alice), None, AUDIT_CONNECT_FAILED, Value::Null)
        .await
        .unwrap();
    let got = db.store.list_audit(&alice, 10).await.unwrap();
    assert_eq!(got[0].event, AUDIT_CONNECT_FAILED);
    assert_eq!(got[0].account_id, None);
    assert_eq!(got[0].details, json!({}));
}

async fn newest_first_and_limited(db: Db) {
    let alice = new_user(&db).await;
    let order = [
        AUDIT_ACCOUNT_CONNECTED,
        AUDIT_PASSWORD_CHANGED,
        AUDIT_ACCOUNT_SWITCHED,
        AUDIT_ACCOUNT_DELETED,
    ];
    for (i, ev) in order.iter().enumerate() {
        db.store
            .record(Some(&alice), None, ev, json!({"n": i}))
            .await
            .unwrap();
    }
    let got = db.store.list_audit(&alice, 10).await.unwrap();
    let mut expected = order.to_vec();
    expected.reverse();
    assert_eq!(events(&got), expected);
    assert!(got.windows(2).all(|w| w[0].created_at >= w[1].created_at));
    let page = db.store.list_audit(&alice, 2).await.unwrap();
    assert_eq!(events(&page), expected[..2].to_vec());
    // Zero is clamped up to one entry.
    assert_eq!(db.store.list_audit(&alice, 0).await.unwrap().len(), 1);
    assert_eq!(audit_page_size(0), 1);
    assert_eq!(audit_page_size(u32::MAX), MAX_AUDIT_PAGE);
}

async fn users_are_isolated(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    db.store
        .record(
            Some(&alice),
            Some(Uuid::new_v4()),
            AUDIT_ACCOUNT_DELETED,
            json!({}),
        )
        .await
        .unwrap();
    assert!(db.store.list_audit(&bob, 100).await.unwrap().is_empty());
    db.store
        .record(
            Some(&bob),
            None,
            AUDIT_CONNECT_FAILED,
            json!({"mt5_error_code": 10004}),
        )
        .await
        .unwrap();
    let b = db.store.list_audit(&bob, 100).await.unwrap();
    assert_eq!(events(&b), vec![AUDIT_CONNECT_FAILED]);
    assert_eq!(b[0].details["mt5_error_code"], 10004);
    let a = db.store.list_audit(&alice, 100).await.unwrap();
    assert_eq!(events(&a), vec![AUDIT_ACCOUNT_DELETED]);
}

async fn service_events_have_no_user(db: Db) {
    let alice = new_user(&db).await;
    db.store
        .record(
            None,
            None,
            AUDIT_KEY_ROTATED,
            json!({"key_id": "k2", "rotated": 3}),
        )
        .await
        .unwrap();
    // A service entry belongs to nobody: no user lists it.
    assert!(db.store.list_audit(&alice, 100).await.unwrap().is_empty());
    let (n, user): (i64, Option<String>) = match db.store.backend() {
        "sqlite" => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            sqlx::query_as(
                "select count(*), max(user_id) from audit_log where event = 'key_rotated' \
                 and json_extract(details, '$.key_id') = 'k2'",
            )
            .fetch_one(&mut c)
            .await
            .unwrap()
        }
        _ => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            sqlx::query_as(
                "select count(*), max(user_id::text) from audit_log \
                 where event = 'key_rotated' and details->>'key_id' = 'k2'",
            )
            .fetch_one(&mut c)
            .await
            .unwrap()
        }
    };
    assert_eq!((n, user), (1, None));
}

async fn unknown_events_are_refused(db: Db) {
    let alice = new_user(&db).await;
    let err = db
        .store
        .record(Some(&alice), None, "password_leaked", json!({}))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("unknown audit event"), "{err}");
    assert!(db.store.list_audit(&alice, 10).await.unwrap().is_empty());
    // The schema refuses it too, on both backends.
    let sql = format!(
        "insert into audit_log (id, user_id, event, details, created_at) values \
         ('{}', '{}', 'password_leaked', '{{}}', '2024-01-01T00:00:00.000000Z')",
        Uuid::new_v4(),
        alice.user_id
    );
    let refused = match db.store.backend() {
        "sqlite" => {
            let mut c = sqlx::SqliteConnection::connect(&db.url).await.unwrap();
            c.execute(sql.as_str()).await.is_err()
        }
        _ => {
            let mut c = sqlx::PgConnection::connect(&db.url).await.unwrap();
            c.execute(sql.as_str()).await.is_err()
        }
    };
    assert!(refused);
}

async fn credentials_invalid_is_an_event(db: Db) {
    let alice = new_user(&db).await;
    let acc = Uuid::new_v4();
    assert!(AUDIT_EVENTS.contains(&AUDIT_CREDENTIALS_INVALID));
    assert_eq!(AUDIT_CREDENTIALS_INVALID, "credentials_invalid");
    db.store
        .record(
            Some(&alice),
            Some(acc),
            AUDIT_CREDENTIALS_INVALID,
            json!({"login": "5001234", "server": "MetaQuotes-Demo", "mt5_error_code": -6}),
        )
        .await
        .unwrap();
    let got = db.store.list_audit(&alice, 10).await.unwrap();
    assert_eq!(events(&got), vec![AUDIT_CREDENTIALS_INVALID]);
    assert_eq!(got[0].account_id, Some(acc));
    // Every event the store accepts, the schema accepts (the CHECK was widened, not replaced
    // by a shorter list).
    for event in AUDIT_EVENTS {
        db.store
            .record(Some(&alice), None, event, json!({}))
            .await
            .unwrap();
    }
    assert_eq!(
        db.store.list_audit(&alice, 100).await.unwrap().len(),
        AUDIT_EVENTS.len() + 1
    );
}

contract!(
    round_trip,
    newest_first_and_limited,
    users_are_isolated,
    service_events_have_no_user,
    unknown_events_are_refused,
    credentials_invalid_is_an_event,
);

// ---------------------------------------------------------------------------------------------
// Postgres only

async fn pg_rls(db: Db) {
    let alice = new_user(&db).await;
    let bob = new_user(&db).await;
    for ev in [AUDIT_ACCOUNT_CONNECTED, AUDIT_ACCOUNT_DELETED] {
        db.store
            .record(Some(&alice), Some(Uuid::new_v4()), ev, json!({}))
            .await
            .unwrap();
    }
    db.store
        .record(None, None, AUDIT_KEY_ROTATED, json!({"key_id": "k9"}))
        .await
        .unwrap();
    let mut conn = sqlx::PgConnection::connect(&db.url).await.unwrap();

    // Bob sees none of Alice's rows, nor the service row.
    let mut tx = as_user(&mut conn, &bob).await;
    let (n,): (i64,) = sqlx::query_as("select count(*) from audit_log")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 0);
    // Writing an entry for another user is refused.
    let forged = sqlx::query("insert into audit_log (user_id, event) values ($1, 'key_rotated')")
        .bind(alice.user_id)
        .execute(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(sql_state(&forged).as_deref(), Some("42501"), "{forged}");
    tx.rollback().await.unwrap();

    // Alice may not append to her own log either: only the service writes it.
    let err = store_support::refused_as_user(
        &mut conn,
        &alice,
        &format!(
            "insert into audit_log (user_id, event) values ('{}', 'password_changed')",
            alice.user_id
        ),
    )
    .await;
    assert_eq!(sql_state(&err).as_deref(), Some("42501"), "{err}");

    // Alice sees her two, and may neither change nor remove them.
    let mut tx = as_user(&mut conn, &alice).await;
    let (n,): (i64,) = sqlx::query_as("select count(*) from audit_log")
        .fetch_one(&mut *tx)
        .await
        .unwrap();
    assert_eq!(n, 2);
    tx.rollback().await.unwrap();
    for sql in [
        "update audit_log set event = 'key_rotated'",
        "delete from audit_log",
    ] {
        let mut tx = as_user(&mut conn, &alice).await;
        let err = sqlx::query(sql).execute(&mut *tx).await.unwrap_err();
        assert_eq!(sql_state(&err).as_deref(), Some("42501"), "{sql}: {err}");
        tx.rollback().await.unwrap();
    }

    // anon has no grant at all.
    let mut tx = conn.begin().await.unwrap();
    tx.execute("set local role anon").await.unwrap();
    let err = sqlx::query("select count(*) from audit_log")
        .fetch_one(&mut *tx)
        .await
        .unwrap_err();
    assert_eq!(sql_state(&err).as_deref(), Some("42501"), "{err}");
    tx.rollback().await.unwrap();

    let (n,): (i64,) = sqlx::query_as("select count(*) from audit_log")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(n, 3);

    // The policies and grants say the same: users read, the writer appends, nobody changes.
    let policies: Vec<(String, String, Vec<String>)> = sqlx::query_as(
        "select policyname::text, cmd::text, roles::text[] from pg_policies \
         where schemaname = 'public' and tablename = 'audit_log' order by policyname",
    )
    .fetch_all(&mut conn)
    .await
    .unwrap();
    assert_eq!(
        policies,
        vec![
            (
                "Service can insert own audit entries".to_string(),
                "INSERT".to_string(),
                vec!["mt5_bridge_writer".to_string()]
            ),
            (
                "Users can view own audit entries".to_string(),
                "SELECT".to_string(),
                vec!["authenticated".to_string()]
            ),
        ]
    );
    let grants: (bool, bool, bool, bool, bool, bool) = sqlx::query_as(
        "select has_table_privilege('authenticated', 'public.audit_log', 'select'), \
                has_table_privilege('authenticated', 'public.audit_log', 'insert'), \
                has_table_privilege('mt5_bridge_writer', 'public.audit_log', 'insert'), \
                has_table_privilege('mt5_bridge_writer', 'public.audit_log', 'update'), \
                has_table_privilege('mt5_bridge_writer', 'public.audit_log', 'delete'), \
                has_table_privilege('anon', 'public.audit_log', 'select')",
    )
    .fetch_one(&mut conn)
    .await
    .unwrap();
    assert_eq!(grants, (true, false, true, false, false, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn postgres_rls_keeps_audit_entries_apart_and_unchangeable() {
    run_postgres(pg_rls).await
}
