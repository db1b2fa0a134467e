//! What is kept only for a while, removed in small batches so that no purge holds the
//! database's writers back for long (`backend::retention` says for how long).

use super::{on_pool, Db, StoreError};
use chrono::{DateTime, Utc};

/// Rows removed per statement: the `LIMIT` of each one below.
const BATCH: u64 = 1000;

impl Db {
    /// Sessions past their absolute expiry, or idle since before `idle_before`.
    pub async fn purge_sessions(
        &self,
        now: DateTime<Utc>,
        idle_before: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        self.in_batches(
            "DELETE FROM sessions WHERE id IN \
             (SELECT id FROM sessions WHERE expires_at < $1 OR last_seen_at < $2 LIMIT 1000)",
            &[now, idle_before],
        )
        .await
    }

    /// Failed sign-ins older than `before` (the throttle looks at minutes, not days).
    pub async fn purge_sign_in_failures(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.in_batches(
            "DELETE FROM sign_in_failures WHERE id IN \
             (SELECT id FROM sign_in_failures WHERE failed_at < $1 LIMIT 1000)",
            &[before],
        )
        .await
    }

    /// Single-use links used, revoked or expired before `before`.
    pub async fn purge_links(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.in_batches(
            "DELETE FROM account_tokens WHERE id IN \
             (SELECT id FROM account_tokens \
              WHERE used_at < $1 OR revoked_at < $1 OR expires_at < $1 LIMIT 1000)",
            &[before],
        )
        .await
    }

    /// Empties the bodies of e-mails sent, failed or cancelled before `before`; the row (to,
    /// subject, state) stays for the administration's list and the link rate limits.
    pub async fn purge_mail_bodies(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.in_batches(
            "UPDATE outbox SET body_text = '', body_html = NULL, sealed_body = NULL \
             WHERE id IN (SELECT id FROM outbox \
              WHERE (sent_at < $1 OR failed_at < $1 OR cancelled_at < $1) \
              AND (body_text <> '' OR body_html IS NOT NULL OR sealed_body IS NOT NULL) \
              LIMIT 1000)",
            &[before],
        )
        .await
    }

    /// Ticket events created before `before`. Only the oldest rows are looked at (ids follow
    /// commit order), so the purge reads no more of the table than it deletes.
    pub async fn purge_events(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        self.in_batches(
            "DELETE FROM ticket_events WHERE id IN \
             (SELECT id FROM ticket_events ORDER BY id LIMIT 1000) AND created_at < $1",
            &[before],
        )
        .await
    }

    /// Runs `sql`, which changes at most `BATCH` rows, until it changes fewer.
    async fn in_batches(&self, sql: &str, cutoffs: &[DateTime<Utc>]) -> Result<u64, StoreError> {
        let mut total = 0;
        loop {
            let done = on_pool!(self, |pool| {
                let mut query = sqlx::query(sql);
                for cutoff in cutoffs {
                    query = query.bind(*cutoff);
                }
                query.execute(pool).await.map(|done| done.rows_affected())
            })?;
            total += done;
            if done < BATCH {
                return Ok(total);
            }
        }
    }
}
