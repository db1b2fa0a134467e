//! SQL for the in-app notifications behind the bell (`bell_notifications`).

use super::tickets::{EntryRow, TicketScope};
use super::{on_pool, on_tx, Db, StoreError, Tx};
use chrono::{DateTime, Utc};

/// A notification with its ticket and the entry it tells of.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct BellRow {
    #[sqlx(rename = "bell_id")]
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub read_at: Option<DateTime<Utc>>,
    #[sqlx(flatten)]
    pub entry: EntryRow,
}

impl Tx {
    /// Tells each of `people` of entry `entry_id` (once, however often it is asked).
    pub(crate) async fn tell(
        &mut self,
        entry_id: i64,
        people: &[i64],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for user_id in people {
            on_tx!(self, |tx| {
                sqlx::query(
                    "INSERT INTO bell_notifications \
                     (observatory_id, user_id, ticket_id, entry_id, created_at) \
                     SELECT observatory_id, $1, ticket_id, id, $3 FROM timeline_entries \
                     WHERE id = $2 ON CONFLICT (user_id, entry_id) DO NOTHING",
                )
                .bind(user_id)
                .bind(entry_id)
                .bind(now)
                .execute(&mut **tx)
                .await
                .map(|_| ())
            })?;
        }
        Ok(())
    }
}

impl Db {
    /// How many of the person's notifications are unread, on tickets the scope sees.
    pub async fn bell_unread(&self, scope: TicketScope, user_id: i64) -> Result<i64, StoreError> {
        let count = on_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>(
                "SELECT COUNT(*) FROM bell_notifications b JOIN tickets t ON t.id = b.ticket_id \
                 WHERE b.user_id = $1 AND b.read_at IS NULL AND t.observatory_id = $2 \
                 AND ($3 IS NULL OR t.organization_id = $3)",
            )
            .bind(user_id)
            .bind(scope.observatory_id)
            .bind(scope.organization_id)
            .fetch_one(pool)
            .await
        })?;
        Ok(count)
    }

    /// The person's newest `limit` notifications, newest first, on tickets and entries the
    /// scope sees.
    pub async fn bell_items(
        &self,
        scope: TicketScope,
        user_id: i64,
        limit: i64,
    ) -> Result<Vec<BellRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as::<_, BellRow>(
                "SELECT b.id AS bell_id, t.number, t.subject, b.read_at, \
                 e.id, e.kind, e.internal, u.name AS author, u.role AS author_role, \
                 e.body, e.old_value, e.new_value, e.created_at \
                 FROM bell_notifications b JOIN tickets t ON t.id = b.ticket_id \
                 JOIN timeline_entries e ON e.id = b.entry_id \
                 LEFT JOIN users u ON u.id = e.author_id \
                 WHERE b.user_id = $1 AND t.observatory_id = $2 \
                 AND ($3 IS NULL OR t.organization_id = $3) AND ($4 OR NOT e.internal) \
                 ORDER BY b.id DESC LIMIT $5",
            )
            .bind(user_id)
            .bind(scope.observatory_id)
            .bind(scope.organization_id)
            .bind(scope.internal)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Marks the person's notification `id` read, or all of them with `None`. Returns how
    /// many were unread.
    pub async fn bell_mark_read(
        &self,
        user_id: i64,
        id: Option<i64>,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        let done = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE bell_notifications SET read_at = $1 \
                 WHERE user_id = $2 AND read_at IS NULL AND ($3 IS NULL OR id = $3)",
            )
            .bind(now)
            .bind(user_id)
            .bind(id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done)
    }
}
