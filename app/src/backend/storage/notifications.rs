//! SQL for notifications: the queue of timeline entries waiting to be mailed, what the notifier
//! reads about each (the ticket, the observatory's branding, the people who may be told), the
//! observatory's rule switches and each person's opt-outs.

use super::links::NewMail;
use super::{on_pool, on_tx, BeginWrite, Db, StoreError};
use chrono::{DateTime, Utc};

/// Queues an entry for the notifier; run inside the transaction that writes the entry.
/// Binds the entry ($1), the time ($2) and its ticket ($3), whose assignee it keeps as of now.
pub(crate) const QUEUE_ENTRY: &str =
    "INSERT INTO notification_queue (entry_id, created_at, assignee_id) \
     SELECT $1, $2, assignee_id FROM tickets WHERE id = $3";

/// A queued entry with everything its e-mails say.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct PendingNotification {
    pub entry_id: i64,
    pub kind: String,
    pub internal: bool,
    pub author_id: Option<i64>,
    pub author_name: Option<String>,
    pub author_role: Option<String>,
    pub body: String,
    pub old_value: Option<String>,
    pub new_value: Option<String>,
    pub entry_created_at: DateTime<Utc>,
    /// For a voice comment: its transcript and whether it is still being made.
    pub voice_transcript: Option<String>,
    pub voice_state: Option<String>,
    pub ticket_id: i64,
    pub number: String,
    pub subject: String,
    pub organization_id: i64,
    pub organization_name: String,
    pub created_by: i64,
    /// The assignee when the entry was written.
    pub assignee_id: Option<i64>,
    pub observatory_id: i64,
    pub observatory_name: String,
    pub primary_color: String,
    pub accent_color: String,
    pub logo_file: Option<String>,
    pub email_sender_name: Option<String>,
    pub queue_email: Option<String>,
}

/// A person who may be told about a ticket: its reporter, its assignee, a support contact of
/// its organization, or a member of staff.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Candidate {
    pub id: i64,
    pub email: String,
    pub notification_email: Option<String>,
    pub name: String,
    pub role: String,
    pub language: String,
    pub support_contact: bool,
}

/// The people a ticket's e-mails may go to, and who among them opted out of what.
#[derive(Debug, Clone, Default)]
pub struct Audience {
    pub people: Vec<Candidate>,
    /// Support contacts that are plain addresses, not users (none while the organization is
    /// deactivated).
    pub contact_addresses: Vec<String>,
    /// `(user id, rule code)` of every opt-out among `people`.
    pub opt_outs: Vec<(i64, String)>,
    /// `(rule code, enabled)` the observatory set.
    pub rules: Vec<(String, bool)>,
}

/// The active users of the observatory ($1) who may hear of a ticket of organization $2
/// reported by $3: the reporter, support contacts and staff.
/// Clients only of the ticket's organization, and only while it is active (as signing in
/// requires).
const CANDIDATES: &str = "u.observatory_id = $1 AND u.active AND ( \
    u.role IN ('agent', 'admin') \
    OR (u.organization_id = $2 \
        AND EXISTS (SELECT 1 FROM organizations uo WHERE uo.id = $2 AND uo.active) \
        AND (u.id = $3 \
             OR u.id IN (SELECT user_id FROM support_contacts WHERE organization_id = $2))))";

impl Db {
    /// The oldest queued entries after entry `after`, with their ticket and observatory.
    pub async fn pending_notifications(
        &self,
        after: i64,
        limit: i64,
    ) -> Result<Vec<PendingNotification>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT e.id AS entry_id, e.kind, e.internal, e.author_id, a.name AS author_name, \
                 a.role AS author_role, e.body, e.old_value, e.new_value, \
                 e.created_at AS entry_created_at, v.transcript AS voice_transcript, \
                 v.transcript_state AS voice_state, t.id AS ticket_id, \
                 t.number, t.subject, t.organization_id, org.name AS organization_name, \
                 t.created_by, q.assignee_id, o.id AS observatory_id, \
                 o.name AS observatory_name, o.primary_color, o.accent_color, o.logo_file, \
                 o.email_sender_name, o.queue_email \
                 FROM notification_queue q \
                 JOIN timeline_entries e ON e.id = q.entry_id \
                 JOIN tickets t ON t.id = e.ticket_id \
                 JOIN organizations org ON org.id = t.organization_id \
                 JOIN observatories o ON o.id = t.observatory_id \
                 LEFT JOIN users a ON a.id = e.author_id \
                 LEFT JOIN voice_entries v ON v.entry_id = e.id \
                 WHERE q.entry_id > $1 ORDER BY q.entry_id LIMIT $2",
            )
            .bind(after)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Who may be told about `pending`'s ticket, and the rules that apply.
    pub async fn notification_audience(
        &self,
        pending: &PendingNotification,
    ) -> Result<Audience, StoreError> {
        let (observatory, organization, reporter) = (
            pending.observatory_id,
            pending.organization_id,
            pending.created_by,
        );
        on_pool!(self, |pool| {
            let people = sqlx::query_as(&format!(
                "SELECT u.id, u.email, u.notification_email, u.name, u.role, u.language, \
                 EXISTS (SELECT 1 FROM support_contacts sc \
                         WHERE sc.organization_id = $2 AND sc.user_id = u.id) AS support_contact \
                 FROM users u WHERE {CANDIDATES} ORDER BY u.id"
            ))
            .bind(observatory)
            .bind(organization)
            .bind(reporter)
            .fetch_all(pool)
            .await?;
            let opt_outs = sqlx::query_as(&format!(
                "SELECT n.user_id, n.rule FROM notification_opt_outs n \
                 JOIN users u ON u.id = n.user_id WHERE {CANDIDATES}"
            ))
            .bind(observatory)
            .bind(organization)
            .bind(reporter)
            .fetch_all(pool)
            .await?;
            // A deactivated organization's plain contacts hear nothing either.
            let contact_addresses = sqlx::query_scalar(
                "SELECT sc.email FROM support_contacts sc \
                 JOIN organizations o ON o.id = sc.organization_id \
                 WHERE sc.organization_id = $1 AND sc.email IS NOT NULL AND o.active \
                 ORDER BY sc.id",
            )
            .bind(organization)
            .fetch_all(pool)
            .await?;
            let rules = sqlx::query_as(
                "SELECT rule, enabled FROM observatory_notification_rules WHERE observatory_id = $1",
            )
            .bind(observatory)
            .fetch_all(pool)
            .await?;
            Ok(Audience {
                people,
                contact_addresses,
                opt_outs,
                rules,
            })
        })
    }

    /// Takes a queued entry off the queue, queues its e-mails and tells the people `told` of it
    /// in the portal (the bell), in one transaction. False, doing nothing, when another
    /// notifier took it first.
    pub async fn deliver_notification(
        &self,
        entry_id: i64,
        mails: &[NewMail<'_>],
        told: &[i64],
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        // First: it takes SQLite's write lock, and on PostgreSQL it waits for a notifier that
        // took the row meanwhile, then finds it gone.
        let taken = on_tx!(&mut tx, |conn| {
            sqlx::query("DELETE FROM notification_queue WHERE entry_id = $1")
                .bind(entry_id)
                .execute(&mut **conn)
                .await
                .map(|done| done.rows_affected())
        })?;
        if taken != 1 {
            return Ok(false);
        }
        for mail in mails {
            tx.queue_mail(mail, now).await?;
        }
        tx.tell(entry_id, told, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// The rules an observatory switched, and where its staff notices go.
    pub async fn notification_settings(
        &self,
        observatory_id: i64,
    ) -> Result<(Option<String>, Vec<(String, bool)>), StoreError> {
        on_pool!(self, |pool| {
            let queue: Option<String> =
                sqlx::query_scalar("SELECT queue_email FROM observatories WHERE id = $1")
                    .bind(observatory_id)
                    .fetch_one(pool)
                    .await?;
            let rules = sqlx::query_as(
                "SELECT rule, enabled FROM observatory_notification_rules WHERE observatory_id = $1",
            )
            .bind(observatory_id)
            .fetch_all(pool)
            .await?;
            Ok((queue, rules))
        })
    }

    /// Replaces an observatory's rule switches and queue address.
    pub async fn save_notification_settings(
        &self,
        observatory_id: i64,
        queue_email: Option<&str>,
        rules: &[(&str, bool)],
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("UPDATE observatories SET queue_email = $1 WHERE id = $2")
                .bind(queue_email)
                .bind(observatory_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query("DELETE FROM observatory_notification_rules WHERE observatory_id = $1")
                .bind(observatory_id)
                .execute(&mut *tx)
                .await?;
            for (rule, enabled) in rules {
                sqlx::query(
                    "INSERT INTO observatory_notification_rules (observatory_id, rule, enabled) \
                     VALUES ($1, $2, $3) \
                     ON CONFLICT (observatory_id, rule) DO UPDATE SET enabled = excluded.enabled",
                )
                .bind(observatory_id)
                .bind(rule)
                .bind(enabled)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// The rules a person opted out of.
    pub async fn opt_outs(&self, user_id: i64) -> Result<Vec<String>, StoreError> {
        let rules = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT rule FROM notification_opt_outs WHERE user_id = $1 ORDER BY rule",
            )
            .bind(user_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(rules)
    }

    /// Replaces a person's opt-outs.
    pub async fn save_opt_outs(&self, user_id: i64, rules: &[&str]) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM notification_opt_outs WHERE user_id = $1")
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            for rule in rules {
                // Two saves at once (two tabs) may both insert: the second changes nothing.
                sqlx::query(
                    "INSERT INTO notification_opt_outs (user_id, rule) VALUES ($1, $2) \
                     ON CONFLICT (user_id, rule) DO NOTHING",
                )
                .bind(user_id)
                .bind(rule)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Whether a person is a support contact of their organization.
    pub async fn is_support_contact(&self, user_id: i64) -> Result<bool, StoreError> {
        let count: i64 = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM support_contacts WHERE user_id = $1")
                .bind(user_id)
                .fetch_one(pool)
                .await
        })?;
        Ok(count > 0)
    }

    /// How many entries wait for the notifier (for tests and the operator).
    pub async fn queued_notifications(&self) -> Result<i64, StoreError> {
        let count = on_pool!(self, |pool| {
            sqlx::query_scalar("SELECT COUNT(*) FROM notification_queue")
                .fetch_one(pool)
                .await
        })?;
        Ok(count)
    }
}
