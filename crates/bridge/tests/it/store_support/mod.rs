//! The contract-suite harness shared by the journal and algorithm store tests: each test runs on
//! a fresh SQLite file and, when TEST_DATABASE_URL is set, on a fresh Postgres database.

pub use crate::skip;

pub use crate::postgres_db;
use mt5_bridge::store::{self, Store, StoreError, UserCtx};
use postgres_db::{fresh_postgres_database, TestDatabase};
use sqlx::{Connection, Executor};
use std::future::Future;
use std::sync::Arc;

/// A migrated store and the URL of its database, for raw SQL next to the store.
#[derive(Clone)]
pub struct Db {
    pub store: Arc<dyn Store>,
    pub url: String,
}

impl Db {
    /// Runs raw SQL as the connecting role (no RLS), to set up what the API cannot (time ties).
    pub async fn raw(&self, sql: &str) {
        match self.store.backend() {
            "sqlite" => {
                let mut conn = sqlx::SqliteConnection::connect(&self.url).await.unwrap();
                conn.execute(sql).await.unwrap();
            }
            _ => {
                let mut conn = sqlx::PgConnection::connect(&self.url).await.unwrap();
                conn.execute(sql).await.unwrap();
            }
        }
    }
}

pub async fn run_sqlite<F, Fut>(test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = tempfile::tempdir().unwrap();
    let url = format!(
        "sqlite://{}?mode=rwc",
        dir.path().join("store.db").display()
    );
    let store = store::open(&url).await.unwrap();
    assert_eq!(store.backend(), "sqlite");
    store.migrate().await.unwrap();
    test(Db { store, url }).await;
}

pub fn admin_url() -> Option<String> {
    match std::env::var("TEST_DATABASE_URL") {
        Ok(url) if !url.trim().is_empty() => Some(url),
        _ => {
            skip::postgres_skipped();
            None
        }
    }
}

/// Runs `test` on a fresh, migrated Postgres database, drops the database afterwards (also when the
/// test panics), then re-raises the test's panic.
pub async fn run_postgres<F, Fut>(test: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(admin) = admin_url() else { return };
    let db = fresh_postgres_database(&admin)
        .await
        .expect("TEST_DATABASE_URL is set but a test database could not be created");
    let outcome = async {
        let store = store::open(&db.url).await?;
        store.migrate().await?;
        Ok::<_, StoreError>(store)
    }
    .await;
    let result = match outcome {
        Ok(store) => {
            assert_eq!(store.backend(), "postgres");
            let url = db.url.clone();
            tokio::spawn(test(Db { store, url })).await
        }
        Err(e) => {
            drop_best_effort(db).await;
            panic!("opening the test database failed: {e}");
        }
    };
    drop_best_effort(db).await;
    if let Err(e) = result {
        std::panic::resume_unwind(e.into_panic());
    }
}

pub async fn drop_best_effort(db: TestDatabase) {
    let name = db.name.clone();
    if let Err(e) = db.drop().await {
        eprintln!("could not drop test database {name}: {e}");
    }
}

#[macro_export]
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

// ---------------------------------------------------------------------------------------------
// Raw Postgres, as PostgREST would reach it (row-level security checks)

/// A raw transaction as `authenticated` with the user's claims, as PostgREST would open it.
pub async fn as_user<'c>(
    conn: &'c mut sqlx::PgConnection,
    user: &UserCtx,
) -> sqlx::Transaction<'c, sqlx::Postgres> {
    let mut tx = conn.begin().await.unwrap();
    tx.execute("set local role authenticated").await.unwrap();
    sqlx::query("select set_config('request.jwt.claims', $1, true)")
        .bind(
            serde_json::json!({"sub": user.user_id.to_string(), "role": "authenticated"})
                .to_string(),
        )
        .execute(&mut *tx)
        .await
        .unwrap();
    tx
}

/// A raw transaction as the service writes: [`as_user`], then switched to `mt5_bridge_writer` with
/// the same claims (what `PgStore::writer_tx` does).
pub async fn as_writer<'c>(
    conn: &'c mut sqlx::PgConnection,
    user: &UserCtx,
) -> sqlx::Transaction<'c, sqlx::Postgres> {
    let mut tx = as_user(conn, user).await;
    tx.execute("set local role mt5_bridge_writer")
        .await
        .unwrap();
    tx
}

/// Runs `sql` as [`as_user`] and returns the error it must fail with (rolled back either way).
pub async fn refused_as_user(
    conn: &mut sqlx::PgConnection,
    user: &UserCtx,
    sql: &str,
) -> sqlx::Error {
    let mut tx = as_user(conn, user).await;
    let err = match sqlx::query(sql).execute(&mut *tx).await {
        Ok(done) => panic!(
            "`{sql}` as authenticated succeeded ({} rows)",
            done.rows_affected()
        ),
        Err(e) => e,
    };
    tx.rollback().await.unwrap();
    err
}

pub fn sql_state(e: &sqlx::Error) -> Option<String> {
    e.as_database_error()
        .and_then(|d| d.code())
        .map(|c| c.to_string())
}

/// `authenticated` without claims sees no row of `table`; `anon` may not read it at all.
pub async fn assert_claimless_sees_nothing_and_anon_is_refused(
    conn: &mut sqlx::PgConnection,
    table: &str,
) {
    let count = format!("select count(*) from {table}");
    let mut tx = conn.begin().await.unwrap();
    tx.execute("set local role authenticated").await.unwrap();
    let (n,): (i64,) = sqlx::query_as(&count).fetch_one(&mut *tx).await.unwrap();
    assert_eq!(n, 0, "{table}: rows visible without claims");
    tx.rollback().await.unwrap();
    let mut tx = conn.begin().await.unwrap();
    tx.execute("set local role anon").await.unwrap();
    let err = sqlx::query(&count).fetch_one(&mut *tx).await.unwrap_err();
    assert_eq!(sql_state(&err).as_deref(), Some("42501"), "{table}: {err}");
    tx.rollback().await.unwrap();
}

/// A fresh signed-in user, with the claims Supabase puts in its tokens.
pub fn user_ctx() -> UserCtx {
    let id = uuid::Uuid::new_v4();
    UserCtx {
        user_id: id,
        email: Some(format!("{id}@example.test")),
        claims: serde_json::json!({"sub": id.to_string(), "role": "authenticated", "aud": "authenticated"}),
    }
}
