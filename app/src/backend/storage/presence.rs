//! SQL for who has a ticket's page open (`ticket_viewers`).

use super::{on_pool, Db, StoreError};
use chrono::{DateTime, Utc};

/// Someone with the page open, as last reported.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ViewerRow {
    pub user_id: i64,
    pub name: String,
    /// `admin`, `agent` or `client`.
    pub role: String,
    /// `reply`, `note`, or `None` while they only read.
    pub composing: Option<String>,
}

impl Db {
    /// Records that `user_id` has the ticket open in `tab`, writing `composing`, at `now`.
    pub async fn note_viewer(
        &self,
        ticket_id: i64,
        user_id: i64,
        tab: &str,
        composing: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO ticket_viewers (ticket_id, user_id, tab, composing, seen_at) \
                 VALUES ($1, $2, $3, $4, $5) \
                 ON CONFLICT (ticket_id, user_id, tab) \
                 DO UPDATE SET composing = excluded.composing, seen_at = excluded.seen_at",
            )
            .bind(ticket_id)
            .bind(user_id)
            .bind(tab)
            .bind(composing)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The page in `tab` was left.
    pub async fn forget_viewer(
        &self,
        ticket_id: i64,
        user_id: i64,
        tab: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "DELETE FROM ticket_viewers WHERE ticket_id = $1 AND user_id = $2 AND tab = $3",
            )
            .bind(ticket_id)
            .bind(user_id)
            .bind(tab)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The active people other than `user_id` who reported the ticket open since `since`, one
    /// row a person (writing, if they write in any of their tabs; a reply before a note), by
    /// name.
    pub async fn viewers_since(
        &self,
        ticket_id: i64,
        user_id: i64,
        since: DateTime<Utc>,
    ) -> Result<Vec<ViewerRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as::<_, ViewerRow>(
                "SELECT u.id AS user_id, u.name, u.role, MAX(v.composing) AS composing \
                 FROM ticket_viewers v JOIN users u ON u.id = v.user_id \
                 WHERE v.ticket_id = $1 AND v.user_id <> $2 AND v.seen_at >= $3 AND u.active \
                 GROUP BY u.id, u.name, u.role ORDER BY u.name, u.id",
            )
            .bind(ticket_id)
            .bind(user_id)
            .bind(since)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Drops what was last reported before `before`: pages closed without saying so.
    pub async fn purge_viewers(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let done = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM ticket_viewers WHERE seen_at < $1")
                .bind(before)
                .execute(pool)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(done)
    }
}
