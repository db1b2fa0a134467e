//! SQL for a person's own account: profile, password and sessions.

use super::{on_pool, Db, StoreError};
use chrono::{DateTime, Utc};

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct SessionInfoRow {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub last_seen_at: DateTime<Utc>,
    pub user_agent: String,
    pub ip: String,
}

/// What becomes of a person's own time zone.
#[derive(Debug, Clone, Copy)]
pub enum ZoneChange<'a> {
    Keep,
    /// `None`: their observatory's.
    Set(Option<&'a str>),
}

impl Db {
    pub async fn password_hash_of(&self, user_id: i64) -> Result<Option<String>, StoreError> {
        let hash = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT password_hash FROM users WHERE id = $1")
                .bind(user_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(hash.flatten())
    }

    pub async fn update_profile(
        &self,
        user_id: i64,
        name: &str,
        language: &str,
        time_zone: ZoneChange<'_>,
    ) -> Result<(), StoreError> {
        let (change_zone, zone) = match time_zone {
            ZoneChange::Keep => (false, None),
            ZoneChange::Set(zone) => (true, zone),
        };
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE users SET name = $1, language = $2, \
                 time_zone = CASE WHEN $3 THEN $4 ELSE time_zone END, updated_at = $5 \
                 WHERE id = $6",
            )
            .bind(name)
            .bind(language)
            .bind(change_zone)
            .bind(zone)
            .bind(Utc::now())
            .bind(user_id)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The person's sessions, most recently used first.
    pub async fn sessions_of_user(&self, user_id: i64) -> Result<Vec<SessionInfoRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, created_at, last_seen_at, user_agent, ip FROM sessions \
                 WHERE user_id = $1 ORDER BY last_seen_at DESC, id DESC",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Ends one of the person's sessions; false when it is not theirs (or no longer exists).
    pub async fn delete_session_of_user(
        &self,
        user_id: i64,
        session_id: i64,
    ) -> Result<bool, StoreError> {
        let deleted = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE id = $1 AND user_id = $2")
                .bind(session_id)
                .bind(user_id)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(deleted == 1)
    }

    /// Ends every session of the person except `keep`.
    pub async fn delete_other_sessions(&self, user_id: i64, keep: i64) -> Result<u64, StoreError> {
        let deleted = on_pool!(self, |pool| {
            sqlx::query("DELETE FROM sessions WHERE user_id = $1 AND id <> $2")
                .bind(user_id)
                .bind(keep)
                .execute(pool)
                .await
                .map(|r| r.rows_affected())
        })?;
        Ok(deleted)
    }
}
