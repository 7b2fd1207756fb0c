//! The Postgres audit log.
//!
//! A user's entry is read in one transaction as role `authenticated` with the user's claims, so Row
//! Level Security applies on top of the explicit `user_id` filter. Users may only read the log, so
//! a user's entry is written as `mt5_bridge_writer` with the same claims (`PgStore::writer_tx`).
//! A service entry (no user) is written as the connecting role. `created_at` takes the wall clock rather than the
//! transaction start so entries written in one transaction still sort in order.

use async_trait::async_trait;
use serde_json::Value;
use time::OffsetDateTime;
use uuid::Uuid;

use super::PgStore;
use crate::store::audit::{audit_page_size, check_event, details_column, AuditEntry, AuditStore};
use crate::store::{StoreResult, UserCtx};

const INSERT: &str = "insert into audit_log (user_id, account_id, event, details, created_at) \
     values ($1, $2, $3, $4, clock_timestamp())";

#[derive(sqlx::FromRow)]
struct PgAudit {
    id: Uuid,
    user_id: Option<Uuid>,
    account_id: Option<Uuid>,
    event: String,
    details: Value,
    created_at: OffsetDateTime,
}

impl From<PgAudit> for AuditEntry {
    fn from(r: PgAudit) -> Self {
        AuditEntry {
            id: r.id,
            user_id: r.user_id,
            account_id: r.account_id,
            event: r.event,
            details: r.details,
            created_at: r.created_at,
        }
    }
}

#[async_trait]
impl AuditStore for PgStore {
    async fn record(
        &self,
        user: Option<&UserCtx>,
        account_id: Option<Uuid>,
        event: &str,
        details: Value,
    ) -> StoreResult<()> {
        check_event(event)?;
        let details = details_column(details);
        match user {
            Some(user) => {
                let mut tx = self.writer_tx(user).await?;
                sqlx::query(INSERT)
                    .bind(Some(user.user_id))
                    .bind(account_id)
                    .bind(event)
                    .bind(&details)
                    .execute(&mut *tx)
                    .await?;
                tx.commit().await?;
            }
            None => {
                sqlx::query(INSERT)
                    .bind(None::<Uuid>)
                    .bind(account_id)
                    .bind(event)
                    .bind(&details)
                    .execute(self.pool())
                    .await?;
            }
        }
        Ok(())
    }

    async fn list_audit(&self, user: &UserCtx, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let mut tx = self.user_tx(user).await?;
        let found: Vec<PgAudit> = sqlx::query_as(
            "select id, user_id, account_id, event, details, created_at from audit_log \
             where user_id = $1 order by created_at desc, id desc limit $2",
        )
        .bind(user.user_id)
        .bind(i64::from(audit_page_size(limit)))
        .fetch_all(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(found.into_iter().map(Into::into).collect())
    }
}
