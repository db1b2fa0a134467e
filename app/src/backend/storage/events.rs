//! SQL for the durable events of tickets (`ticket_events`): written in the transaction of the
//! change they record, read back in id order by whoever follows them.

use super::tickets::TicketScope;
use super::{on_pool, on_tx, Db, StoreError, Tx};
use chrono::{DateTime, Utc};

/// The PostgreSQL channel on which each event is announced when its transaction commits.
pub const EVENTS_CHANNEL: &str = "cupula_events";

pub use crate::model::TRANSCRIPT_EVENT;

/// The columns of `EventRow`, from the events (`v`) and their tickets (`t`).
const SELECT_EVENTS: &str = "SELECT v.id, v.observatory_id, v.organization_id, v.ticket_id, \
     t.number, v.entry_id, v.kind, v.internal, v.actor_id, v.created_at \
     FROM ticket_events v JOIN tickets t ON t.id = v.ticket_id";

/// An event as it was recorded.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRow {
    pub id: i64,
    pub observatory_id: i64,
    pub organization_id: i64,
    pub ticket_id: i64,
    /// The ticket's number.
    pub number: String,
    pub entry_id: i64,
    /// The entry's kind code, or `TRANSCRIPT_EVENT`.
    pub kind: String,
    pub internal: bool,
    pub actor_id: Option<i64>,
    pub created_at: DateTime<Utc>,
}

impl TicketScope {
    /// Whether this scope sees the event: the rule `Db::events_after` applies in SQL, for the
    /// events the bus hands every follower.
    pub fn sees_event(&self, event: &EventRow) -> bool {
        event.observatory_id == self.observatory_id
            && self
                .organization_id
                .is_none_or(|organization| organization == event.organization_id)
            && (self.internal || !event.internal)
    }
}

impl Tx {
    /// Records the event of a timeline entry at `now`, as `kind` (the entry's own kind when
    /// `None`).
    /// Its id is the next of `event_sequence`, whose row stays locked until this transaction
    /// ends: ids become visible in the order they were given, so a follower that read up to an
    /// id never misses a smaller one. On PostgreSQL the event is announced on commit.
    pub(crate) async fn record_event(
        &mut self,
        entry_id: i64,
        kind: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let id = on_tx!(self, |tx| {
            let id: i64 = sqlx::query_scalar(
                "UPDATE event_sequence SET last_id = last_id + 1 WHERE only_row = 1 \
                 RETURNING last_id",
            )
            .fetch_one(&mut **tx)
            .await?;
            sqlx::query(
                "INSERT INTO ticket_events (id, observatory_id, organization_id, ticket_id, \
                 entry_id, kind, internal, actor_id, created_at) \
                 SELECT $1, e.observatory_id, t.organization_id, e.ticket_id, e.id, \
                 COALESCE($2, e.kind), e.internal, e.author_id, $4 \
                 FROM timeline_entries e JOIN tickets t ON t.id = e.ticket_id WHERE e.id = $3",
            )
            .bind(id)
            .bind(kind)
            .bind(entry_id)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            Ok::<_, sqlx::Error>(id)
        })?;
        if let Tx::Postgres(tx) = self {
            sqlx::query("SELECT pg_notify($1, $2)")
                .bind(EVENTS_CHANNEL)
                .bind(id.to_string())
                .execute(&mut **tx)
                .await?;
        }
        Ok(id)
    }
}

impl Db {
    /// Up to `limit` events after `after` that `scope` may see, oldest first; of one ticket
    /// when `ticket_id` is given.
    pub async fn events_after(
        &self,
        scope: &TicketScope,
        ticket_id: Option<i64>,
        after: i64,
        limit: i64,
    ) -> Result<Vec<EventRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as::<_, EventRow>(&format!(
                "{SELECT_EVENTS} WHERE v.observatory_id = $1 AND v.id > $2 \
                 AND ($3 IS NULL OR v.organization_id = $3) \
                 AND ($4 OR NOT v.internal) \
                 AND ($5 IS NULL OR v.ticket_id = $5) \
                 ORDER BY v.id LIMIT $6"
            ))
            .bind(scope.observatory_id)
            .bind(after)
            .bind(scope.organization_id)
            .bind(scope.internal)
            .bind(ticket_id)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Up to `limit` events after `after`, whoever may see them, oldest first: what the event
    /// bus hands its followers.
    pub async fn events_since(&self, after: i64, limit: i64) -> Result<Vec<EventRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as::<_, EventRow>(&format!(
                "{SELECT_EVENTS} WHERE v.id > $1 ORDER BY v.id LIMIT $2"
            ))
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// The newest event's id (0 before the first): where a follower with no history starts.
    pub async fn last_event_id(&self) -> Result<i64, StoreError> {
        let id = on_pool!(self, |pool| {
            sqlx::query_scalar::<_, i64>("SELECT last_id FROM event_sequence WHERE only_row = 1")
                .fetch_one(pool)
                .await
        })?;
        Ok(id)
    }
}
