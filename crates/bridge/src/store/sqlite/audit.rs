//! The SQLite audit log.
//!
//! The same contract as Postgres without RLS: reads filter by `user_id`. Each write is one
//! statement. Timestamps are written by the application in the store's fixed-width microsecond
//! format; the rowid breaks ties so entries written within one microsecond still sort in order.

use async_trait::async_trait;
use serde_json::Value;
use uuid::Uuid;

use super::{fmt_ts, now, parse_ts, parse_uuid, SqliteStore};
use crate::store::audit::{audit_page_size, check_event, details_column, AuditEntry, AuditStore};
use crate::store::{StoreError, StoreResult, UserCtx};

#[derive(sqlx::FromRow)]
struct LiteAudit {
    id: String,
    user_id: Option<String>,
    account_id: Option<String>,
    event: String,
    details: String,
    created_at: String,
}

impl LiteAudit {
    fn into_entry(self) -> StoreResult<AuditEntry> {
        Ok(AuditEntry {
            id: parse_uuid(&self.id)?,
            user_id: self.user_id.as_deref().map(parse_uuid).transpose()?,
            account_id: self.account_id.as_deref().map(parse_uuid).transpose()?,
            event: self.event,
            details: serde_json::from_str(&self.details)
                .map_err(|e| StoreError::Database(format!("bad stored details: {e}")))?,
            created_at: parse_ts(&self.created_at)?,
        })
    }
}

#[async_trait]
impl AuditStore for SqliteStore {
    async fn record(
        &self,
        user: Option<&UserCtx>,
        account_id: Option<Uuid>,
        event: &str,
        details: Value,
    ) -> StoreResult<()> {
        check_event(event)?;
        let details = serde_json::to_string(&details_column(details))
            .map_err(|e| StoreError::Database(format!("details: {e}")))?;
        sqlx::query(
            "insert into audit_log (id, user_id, account_id, event, details, created_at) \
             values (?1, ?2, ?3, ?4, ?5, ?6)",
        )
        .bind(Uuid::new_v4().to_string())
        .bind(user.map(|u| u.user_id.to_string()))
        .bind(account_id.map(|a| a.to_string()))
        .bind(event)
        .bind(details)
        .bind(fmt_ts(now())?)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    async fn list_audit(&self, user: &UserCtx, limit: u32) -> StoreResult<Vec<AuditEntry>> {
        let found: Vec<LiteAudit> = sqlx::query_as(
            "select id, user_id, account_id, event, details, created_at from audit_log \
             where user_id = ?1 order by created_at desc, rowid desc limit ?2",
        )
        .bind(user.user_id.to_string())
        .bind(i64::from(audit_page_size(limit)))
        .fetch_all(self.pool())
        .await?;
        found.into_iter().map(LiteAudit::into_entry).collect()
    }
}
