//! Throwaway Postgres databases for the tests and benchmarks: each test gets a database of its own
//! on the server `TEST_DATABASE_URL` names, dropped afterwards. Not part of the service.
#![allow(dead_code)] // each test binary uses a different part

use mt5_bridge::store::{StoreError, StoreResult};
use sqlx::postgres::PgConnectOptions;
use sqlx::{ConnectOptions, Executor};
use uuid::Uuid;

/// A throwaway database for tests: created by [`fresh_postgres_database`], removed by
/// [`TestDatabase::drop`].
pub struct TestDatabase {
    /// The URL of the new database (the admin URL with the database name replaced).
    pub url: String,
    pub name: String,
    admin_url: String,
}

impl std::fmt::Debug for TestDatabase {
    // The URLs may carry a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestDatabase")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl TestDatabase {
    /// Drops the database, disconnecting whoever is still connected (best effort for callers).
    pub async fn drop(self) -> StoreResult<()> {
        let mut conn = connect_admin(&self.admin_url).await?;
        conn.execute(format!(r#"drop database if exists "{}" with (force)"#, self.name).as_str())
            .await?;
        Ok(())
    }
}

async fn connect_admin(admin_url: &str) -> StoreResult<sqlx::PgConnection> {
    let options: PgConnectOptions = admin_url
        .parse()
        .map_err(|e: sqlx::Error| StoreError::Database(format!("invalid database URL: {e}")))?;
    Ok(options.connect().await?)
}

/// Creates an empty, uniquely named database (`mt5b_<random>`) on the server of `admin_url`, which
/// must be allowed to create databases. The new database is not migrated.
pub async fn fresh_postgres_database(admin_url: &str) -> StoreResult<TestDatabase> {
    let name = format!("mt5b_{}", Uuid::new_v4().simple());
    let url = with_database(admin_url, &name);
    let mut conn = connect_admin(admin_url).await?;
    conn.execute(format!(r#"create database "{name}""#).as_str())
        .await?;
    Ok(TestDatabase {
        url,
        name,
        admin_url: admin_url.to_string(),
    })
}

/// Replaces the database name (the URL path) of a `postgres://` URL, keeping its query string.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, Some(q)),
        None => (url, None),
    };
    let authority_start = base.find("://").map(|i| i + 3).unwrap_or(0);
    let path_start = base[authority_start..]
        .find('/')
        .map(|i| authority_start + i)
        .unwrap_or(base.len());
    let mut out = format!("{}/{}", &base[..path_start], name);
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn database_name_is_replaced_and_query_kept() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "x"),
            "postgres://postgres@127.0.0.1:5432/x"
        );
        assert_eq!(
            with_database("postgresql://u:p@h/db?sslmode=disable", "x"),
            "postgresql://u:p@h/x?sslmode=disable"
        );
        assert_eq!(
            with_database("postgres://h:5432", "x"),
            "postgres://h:5432/x"
        );
        assert_eq!(
            with_database("postgres://h?sslmode=disable", "x"),
            "postgres://h/x?sslmode=disable"
        );
    }
}
