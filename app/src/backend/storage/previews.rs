//! SQL for the previews of attached files (`backend::previews`): which are still to be made,
//! who is making one, and what was made. The columns live on `attachments`, so a preview goes
//! with its attachment's row.

use super::{on_pool, Db, StoreError};
use chrono::{DateTime, Utc};

/// What the preview maker needs of an attachment whose preview is still to be made.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PreviewSource {
    pub content_type: String,
    pub size: i64,
    pub storage_name: String,
}

/// A picture the maker stored: its file's name and its size.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredPicture {
    pub name: String,
    pub width: i32,
    pub height: i32,
}

/// `preview_state` values (see the migration `20261202000002_previews`).
pub const PENDING: &str = "pending";
pub const READY: &str = "ready";
pub const NONE: &str = "none";
pub const FAILED: &str = "failed";

impl Db {
    /// The attachment `id`, if its preview is still to be made.
    pub async fn pending_preview(&self, id: &str) -> Result<Option<PreviewSource>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT content_type, size, storage_name FROM attachments \
                 WHERE id = $1 AND preview_state = $2",
            )
            .bind(id)
            .bind(PENDING)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// Settles a pending preview as `state` (`NONE` or `FAILED`): it is not made again.
    pub async fn settle_preview(&self, id: &str, state: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE attachments SET preview_state = $1, preview_claimed_until = NULL \
                 WHERE id = $2 AND preview_state = $3",
            )
            .bind(state)
            .bind(id)
            .bind(PENDING)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Claims the making of a pending preview until `until` and counts the attempt, unless
    /// another maker holds it past `now` or it was attempted `max_attempts` times already.
    /// Whether it was claimed.
    pub async fn claim_preview(
        &self,
        id: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        max_attempts: i32,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE attachments SET preview_attempts = preview_attempts + 1, \
                 preview_claimed_until = $1 \
                 WHERE id = $2 AND preview_state = $3 AND preview_attempts < $4 \
                 AND (preview_claimed_until IS NULL OR preview_claimed_until <= $5)",
            )
            .bind(until)
            .bind(id)
            .bind(PENDING)
            .bind(max_attempts)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Records the pictures made for a pending preview. Whether they were recorded: not when
    /// the attachment went meanwhile (a staged file removed), whose pictures nobody names then.
    pub async fn record_preview(
        &self,
        id: &str,
        preview: &StoredPicture,
        display: Option<&StoredPicture>,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE attachments SET preview_state = $1, preview_claimed_until = NULL, \
                 preview_name = $2, preview_width = $3, preview_height = $4, \
                 display_name = $5, display_width = $6, display_height = $7 \
                 WHERE id = $8 AND preview_state = $9",
            )
            .bind(READY)
            .bind(&preview.name)
            .bind(preview.width)
            .bind(preview.height)
            .bind(display.map(|d| d.name.as_str()))
            .bind(display.map(|d| d.width))
            .bind(display.map(|d| d.height))
            .bind(id)
            .bind(PENDING)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Up to `limit` pending previews that no maker holds at `now` (their maker died, or the
    /// queue was full), oldest first. Those attempted `max_attempts` times already are given up
    /// first (`FAILED`): a file that brings its maker down is not tried for ever.
    pub async fn unclaimed_previews(
        &self,
        now: DateTime<Utc>,
        max_attempts: i32,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let ids = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE attachments SET preview_state = $1, preview_claimed_until = NULL \
                 WHERE preview_state = $2 AND preview_attempts >= $3 \
                 AND (preview_claimed_until IS NULL OR preview_claimed_until <= $4)",
            )
            .bind(FAILED)
            .bind(PENDING)
            .bind(max_attempts)
            .bind(now)
            .execute(pool)
            .await?;
            sqlx::query_scalar(
                "SELECT id FROM attachments WHERE preview_state = $1 \
                 AND (preview_claimed_until IS NULL OR preview_claimed_until <= $2) \
                 ORDER BY created_at, id LIMIT $3",
            )
            .bind(PENDING)
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(ids)
    }
}
