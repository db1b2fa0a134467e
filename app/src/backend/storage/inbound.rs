//! SQL for replies by e-mail: the request a reply address names, the people an address
//! belongs to, and each received message (kept once per Message-ID: posted, or held for
//! staff and then released or discarded).

use super::{on_pool, Db, StoreError};
use chrono::{DateTime, Utc};

/// The request a reply address names.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ReplyTicket {
    pub id: i64,
    pub observatory_id: i64,
    pub number: String,
}

/// A message received at a request's reply address, before it is posted or held.
pub struct NewInbound<'a> {
    pub ticket_id: i64,
    pub message_id: &'a str,
    pub from_address: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub received_at: DateTime<Utc>,
}

/// What became of a message already received under the same Message-ID.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// New: to be posted (or held) now.
    New(i64),
    /// Received before and dealt with: a copy, ignored.
    Copy,
}

/// A message held for staff.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct HeldMailRow {
    pub id: i64,
    pub from_address: String,
    pub subject: String,
    pub body_text: String,
    pub received_at: DateTime<Utc>,
    pub held_because: Option<String>,
}

impl Db {
    pub async fn reply_ticket(&self, ticket_id: i64) -> Result<Option<ReplyTicket>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as("SELECT id, observatory_id, number FROM tickets WHERE id = $1")
                .bind(ticket_id)
                .fetch_optional(pool)
                .await
        })?;
        Ok(row)
    }

    /// The observatory's people whose sign-in or notification address is `address` (any
    /// case), active or not: the service decides who may write.
    pub async fn people_with_address(
        &self,
        observatory_id: i64,
        address: &str,
    ) -> Result<Vec<i64>, StoreError> {
        let ids: Vec<(i64,)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id FROM users WHERE observatory_id = $1 \
                 AND (LOWER(email) = LOWER($2) OR LOWER(notification_email) = LOWER($2)) \
                 ORDER BY id",
            )
            .bind(observatory_id)
            .bind(address)
            .fetch_all(pool)
            .await
        })?;
        Ok(ids.into_iter().map(|(id,)| id).collect())
    }

    /// Keeps a received message, once per request and Message-ID. A message recorded before
    /// but never posted nor held (its receiver stopped half-way; the mail server sends it
    /// again) is new again.
    pub async fn record_inbound(&self, new: &NewInbound<'_>) -> Result<Recorded, StoreError> {
        let inserted: Option<(i64,)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "INSERT INTO inbound_mail (ticket_id, message_id, from_address, subject, \
                 body_text, received_at, state) VALUES ($1, $2, $3, $4, $5, $6, 'posted') \
                 ON CONFLICT (ticket_id, message_id) DO NOTHING RETURNING id",
            )
            .bind(new.ticket_id)
            .bind(new.message_id)
            .bind(new.from_address)
            .bind(new.subject)
            .bind(new.body_text)
            .bind(new.received_at)
            .fetch_optional(pool)
            .await
        })?;
        if let Some((id,)) = inserted {
            return Ok(Recorded::New(id));
        }
        let unfinished: Option<(i64,)> = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id FROM inbound_mail WHERE ticket_id = $1 AND message_id = $2 \
                 AND state = 'posted' AND entry_id IS NULL",
            )
            .bind(new.ticket_id)
            .bind(new.message_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(unfinished.map_or(Recorded::Copy, |(id,)| Recorded::New(id)))
    }

    /// The message became `entry_id`.
    pub async fn inbound_posted(&self, inbound_id: i64, entry_id: i64) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE inbound_mail SET entry_id = $1 WHERE id = $2")
                .bind(entry_id)
                .bind(inbound_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The message waits for staff, `because` ('unknown_sender', 'closed').
    pub async fn hold_inbound(&self, inbound_id: i64, because: &str) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE inbound_mail SET state = 'held', held_because = $1 WHERE id = $2")
                .bind(because)
                .bind(inbound_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The request's held messages, oldest first.
    pub async fn held_mail(&self, ticket_id: i64) -> Result<Vec<HeldMailRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, from_address, subject, body_text, received_at, held_because \
                 FROM inbound_mail WHERE ticket_id = $1 AND state = 'held' ORDER BY id",
            )
            .bind(ticket_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Takes a held message of the request out of the hold as `state` ('released',
    /// 'discarded'), by `user_id`; `None` when it is not held (any more): someone else
    /// decided first.
    pub async fn decide_held(
        &self,
        ticket_id: i64,
        inbound_id: i64,
        state: &str,
        user_id: i64,
        at: DateTime<Utc>,
    ) -> Result<Option<HeldMailRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(
                "UPDATE inbound_mail SET state = $1, decided_by = $2, decided_at = $3 \
                 WHERE id = $4 AND ticket_id = $5 AND state = 'held' \
                 RETURNING id, from_address, subject, body_text, received_at, held_because",
            )
            .bind(state)
            .bind(user_id)
            .bind(at)
            .bind(inbound_id)
            .bind(ticket_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }
}
