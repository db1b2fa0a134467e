//! What `cupula backup` and `cupula restore` ask of the database.

use super::{on_pool, Db, StoreError};
use std::path::Path;

impl Db {
    /// Writes a consistent copy of the SQLite database to `path` (which must not exist) while
    /// the portal goes on: `VACUUM INTO` reads one snapshot, as any reader does, and holds no
    /// writer back. `false` on PostgreSQL, which `pg_dump` copies.
    pub async fn copy_sqlite_into(&self, path: &Path) -> Result<bool, StoreError> {
        let Db::Sqlite(pool) = self else {
            return Ok(false);
        };
        sqlx::query("VACUUM INTO $1")
            .bind(path.to_string_lossy().into_owned())
            .execute(pool)
            .await?;
        Ok(true)
    }

    /// What SQLite's integrity check finds wrong (nothing: an empty list); PostgreSQL checks
    /// its pages itself.
    pub async fn integrity_problems(&self) -> Result<Vec<String>, StoreError> {
        let Db::Sqlite(pool) = self else {
            return Ok(Vec::new());
        };
        let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_all(pool)
            .await?;
        Ok(rows.into_iter().filter(|row| row != "ok").collect())
    }

    pub async fn ticket_total(&self) -> Result<i64, StoreError> {
        let total = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM tickets")
                .fetch_one(pool)
                .await
        })?;
        Ok(total)
    }

    /// The stored names of every file a request holds (the file, its preview and its
    /// display copy): what a restored file store must have.
    pub async fn attached_store_names(&self) -> Result<Vec<String>, StoreError> {
        let names = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT storage_name FROM attachments WHERE ticket_id IS NOT NULL \
                 UNION SELECT preview_name FROM attachments \
                 WHERE ticket_id IS NOT NULL AND preview_name IS NOT NULL \
                 UNION SELECT display_name FROM attachments \
                 WHERE ticket_id IS NOT NULL AND display_name IS NOT NULL",
            )
            .fetch_all(pool)
            .await
        })?;
        Ok(names)
    }
}
