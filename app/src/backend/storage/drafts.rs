//! SQL for the drafts of forms posted without JavaScript (`backend::drafts`).

use super::{on_pool, BeginWrite, Db, StoreError};
use chrono::{DateTime, Utc};

pub struct NewFormDraft<'a> {
    pub token_hash: &'a str,
    /// `None`: a form for the signed-out.
    pub session_id: Option<i64>,
    pub path: &'a str,
    /// A JSON object of field names to what was typed.
    pub fields: &'a str,
    pub expires_at: DateTime<Utc>,
}

impl Db {
    /// Keeps a draft in place of the one the same browser held (`replaces`, its token's hash),
    /// and deletes every expired draft on the way, so the table holds minutes of drafts only.
    pub async fn insert_form_draft(
        &self,
        new: NewFormDraft<'_>,
        replaces: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM form_drafts WHERE expires_at <= $1 OR token_hash = $2")
                .bind(now)
                .bind(replaces)
                .execute(&mut *tx)
                .await?;
            sqlx::query(
                "INSERT INTO form_drafts (token_hash, session_id, path, fields, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(new.token_hash)
            .bind(new.session_id)
            .bind(new.path)
            .bind(new.fields)
            .bind(new.expires_at)
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok::<_, StoreError>(())
        })
    }

    /// Reads and deletes the fields of the unexpired draft with this token for the page at
    /// `path`, if it was kept by no session or by the session whose token has `session_hash`.
    pub async fn take_form_draft(
        &self,
        token_hash: &str,
        path: &str,
        session_hash: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        let fields = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "DELETE FROM form_drafts \
                 WHERE token_hash = $1 AND path = $2 AND expires_at > $3 \
                 AND (session_id IS NULL \
                      OR session_id IN (SELECT id FROM sessions WHERE token_hash = $4)) \
                 RETURNING fields",
            )
            .bind(token_hash)
            .bind(path)
            .bind(now)
            .bind(session_hash)
            .fetch_optional(pool)
            .await
        })?;
        Ok(fields)
    }
}
