//! SQL for the request life cycle: each ticket's timer (the next reminder, notice or automatic
//! closure of its cadence), firing it once, the client's acceptance of a resolution, a client's
//! answer ending the wait, and the observatory's cadence settings.

use super::tickets::{NewEntry, NewTimer};
use super::{on_pool, on_tx, Db, StoreError, Tx};
use chrono::{DateTime, Utc};

/// A timer that is due, with what deciding its action needs.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct DueTimer {
    pub ticket_id: i64,
    pub cadence: String,
    pub step: i64,
    pub due_at: DateTime<Utc>,
    pub observatory_id: i64,
    pub organization_id: i64,
    pub reminder_hours: i64,
    pub reminder_count: i64,
    pub closure_hours: i64,
}

/// What firing a timer does: the entry that records it, maybe closing the ticket, and the
/// cadence's next timer.
#[derive(Debug, Clone)]
pub struct Firing<'a> {
    pub action: &'a str,
    pub argument: Option<String>,
    /// Closes the ticket as done with this resolution.
    pub resolution: Option<&'a str>,
    pub next: Option<NewTimer>,
}

/// An observatory's cadences.
#[derive(Debug, Clone, Copy, PartialEq, Eq, sqlx::FromRow)]
pub struct CadenceSettings {
    pub reminder_hours: i64,
    pub reminder_count: i64,
    pub closure_hours: i64,
}

impl Db {
    /// Timers due at `now`, the oldest first.
    pub async fn due_timers(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<DueTimer>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT tt.ticket_id, tt.cadence, tt.step, tt.due_at, t.observatory_id, \
                 t.organization_id, o.reminder_hours, o.reminder_count, o.closure_hours \
                 FROM ticket_timers tt JOIN tickets t ON t.id = tt.ticket_id \
                 JOIN observatories o ON o.id = t.observatory_id \
                 WHERE tt.due_at <= $1 ORDER BY tt.due_at, tt.ticket_id LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Fires `timer` once: takes it (false when another worker did, or it changed), records
    /// the action as a system entry (queued for notification), closes the ticket when the
    /// action does, and sets the next timer; all in one transaction. Returns the entry's id.
    pub async fn fire_timer(
        &self,
        timer: &DueTimer,
        firing: Firing<'_>,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let mut tx = self.begin().await?;
        // First: it takes SQLite's write lock; on PostgreSQL a second worker waits here and
        // then finds the row gone.
        let taken = on_tx!(&mut tx, |conn| {
            sqlx::query(
                "DELETE FROM ticket_timers WHERE ticket_id = $1 AND cadence = $2 AND step = $3",
            )
            .bind(timer.ticket_id)
            .bind(&timer.cadence)
            .bind(timer.step)
            .execute(&mut **conn)
            .await
            .map(|done| done.rows_affected())
        })?;
        if taken != 1 {
            return Ok(None);
        }
        on_tx!(&mut tx, |conn| {
            match firing.resolution {
                Some(resolution) => sqlx::query(
                    "UPDATE tickets SET status = 'done', closed = TRUE, \
                     closed_at = COALESCE(closed_at, $1), resolution = $2, updated_at = $1 \
                     WHERE id = $3",
                )
                .bind(now)
                .bind(resolution)
                .bind(timer.ticket_id)
                .execute(&mut **conn)
                .await
                .map(|_| ()),
                None => sqlx::query("UPDATE tickets SET updated_at = $1 WHERE id = $2")
                    .bind(now)
                    .bind(timer.ticket_id)
                    .execute(&mut **conn)
                    .await
                    .map(|_| ()),
            }
        })?;
        let entry_id = tx
            .append_entry(
                timer.observatory_id,
                timer.ticket_id,
                NewEntry {
                    kind: "system",
                    internal: false,
                    author_id: None,
                    body: "",
                    old_value: firing.argument,
                    new_value: Some(firing.action.to_string()),
                    terms: None,
                },
                now,
            )
            .await?;
        tx.set_timer(timer.ticket_id, firing.next.as_ref(), now)
            .await?;
        tx.commit().await?;
        Ok(Some(entry_id))
    }

    pub async fn cadence_settings(
        &self,
        observatory_id: i64,
    ) -> Result<CadenceSettings, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT reminder_hours, reminder_count, closure_hours FROM observatories \
                 WHERE id = $1",
            )
            .bind(observatory_id)
            .fetch_one(pool)
            .await
        })?;
        Ok(row)
    }

    pub async fn save_cadence_settings(
        &self,
        observatory_id: i64,
        settings: CadenceSettings,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE observatories SET reminder_hours = $1, reminder_count = $2, \
                 closure_hours = $3 WHERE id = $4",
            )
            .bind(settings.reminder_hours)
            .bind(settings.reminder_count)
            .bind(settings.closure_hours)
            .bind(observatory_id)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The ticket's timer, if any: `(cadence, step, due)`.
    pub async fn timer_of(
        &self,
        ticket_id: i64,
    ) -> Result<Option<(String, i64, DateTime<Utc>)>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as("SELECT cadence, step, due_at FROM ticket_timers WHERE ticket_id = $1")
                .bind(ticket_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }
}

impl Tx {
    /// Replaces the ticket's timer with `timer` (or none).
    pub async fn set_timer(
        &mut self,
        ticket_id: i64,
        timer: Option<&NewTimer>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(self, |conn| {
            sqlx::query("DELETE FROM ticket_timers WHERE ticket_id = $1")
                .bind(ticket_id)
                .execute(&mut **conn)
                .await?;
            if let Some(timer) = timer {
                sqlx::query(
                    "INSERT INTO ticket_timers (ticket_id, cadence, step, due_at, created_at) \
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(ticket_id)
                .bind(timer.cadence)
                .bind(timer.step)
                .bind(timer.due_at)
                .bind(now)
                .execute(&mut **conn)
                .await?;
            }
            Ok::<(), sqlx::Error>(())
        })?;
        Ok(())
    }

    /// The client accepts a done request's resolution: it closes as accepted, its timer ends,
    /// and an entry by `actor` records it. `None` when it is not a done request waiting for
    /// confirmation (any more).
    pub async fn accept_resolution(
        &mut self,
        observatory_id: i64,
        ticket_id: i64,
        actor: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let changed = on_tx!(self, |conn| {
            sqlx::query(
                "UPDATE tickets SET resolution = 'accepted', updated_at = $1 \
                 WHERE id = $2 AND observatory_id = $3 AND status = 'done' AND resolution IS NULL",
            )
            .bind(now)
            .bind(ticket_id)
            .bind(observatory_id)
            .execute(&mut **conn)
            .await
            .map(|done| done.rows_affected())
        })?;
        if changed != 1 {
            return Ok(None);
        }
        self.set_timer(ticket_id, None, now).await?;
        let entry_id = self
            .append_entry(
                observatory_id,
                ticket_id,
                NewEntry {
                    kind: "system",
                    internal: false,
                    author_id: Some(actor),
                    body: "",
                    old_value: None,
                    new_value: Some("accepted".into()),
                    terms: None,
                },
                now,
            )
            .await?;
        Ok(Some(entry_id))
    }

    /// A client answered a request that waits for them: its waiting timer ends and it goes
    /// back to in progress, recorded as a status change by `actor`. `None` when it was not
    /// waiting for its client.
    pub async fn end_waiting(
        &mut self,
        observatory_id: i64,
        ticket_id: i64,
        actor: i64,
        now: DateTime<Utc>,
    ) -> Result<Option<i64>, StoreError> {
        let waiting = on_tx!(self, |conn| {
            sqlx::query("DELETE FROM ticket_timers WHERE ticket_id = $1 AND cadence = 'waiting'")
                .bind(ticket_id)
                .execute(&mut **conn)
                .await
                .map(|done| done.rows_affected())
        })?;
        if waiting != 1 {
            return Ok(None);
        }
        let moved = on_tx!(self, |conn| {
            sqlx::query(
                "UPDATE tickets SET status = 'in_progress', closed = FALSE, closed_at = NULL, \
                 updated_at = $1 WHERE id = $2 AND observatory_id = $3 AND status = 'blocked'",
            )
            .bind(now)
            .bind(ticket_id)
            .bind(observatory_id)
            .execute(&mut **conn)
            .await
            .map(|done| done.rows_affected())
        })?;
        if moved != 1 {
            return Ok(None);
        }
        let entry_id = self
            .append_entry(
                observatory_id,
                ticket_id,
                NewEntry {
                    kind: "status",
                    internal: false,
                    author_id: Some(actor),
                    body: "",
                    old_value: Some("blocked".into()),
                    new_value: Some("in_progress".into()),
                    terms: None,
                },
                now,
            )
            .await?;
        Ok(Some(entry_id))
    }
}
