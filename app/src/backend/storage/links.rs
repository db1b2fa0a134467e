//! SQL for single-use account links and the e-mail outbox (queued, claimed, sent).

use super::{map_unique, on_pool, on_tx, BeginWrite, Db, StoreError, Tx};
use crate::model::LinkKind;
use chrono::{DateTime, Utc};

/// A link found by its token, whatever its state: the service decides whether it still works.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct LinkRow {
    pub id: i64,
    pub user_id: i64,
    pub purpose: String,
    pub expires_at: DateTime<Utc>,
    pub used_at: Option<DateTime<Utc>>,
    pub revoked_at: Option<DateTime<Utc>>,
    pub observatory_id: i64,
    pub user_active: bool,
}

/// An e-mail as queued.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxRow {
    pub id: i64,
    pub to_address: String,
    pub subject: String,
    /// The text as anyone may read it: a link's token is redacted.
    pub body_text: String,
    /// The whole text of a mail that carries a link, sealed (`backend::outbox`); `None` for
    /// mails without a secret, and once the mail is sent.
    pub sealed_body: Option<String>,
    pub kind: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    /// How many times a sender has taken it.
    pub attempts: i64,
    pub last_error: Option<String>,
    pub next_attempt_at: Option<DateTime<Utc>>,
    pub failed_at: Option<DateTime<Utc>>,
    pub cancelled_at: Option<DateTime<Utc>>,
    pub ticket_id: Option<i64>,
    pub body_html: Option<String>,
    pub from_name: Option<String>,
    pub unsubscribe_url: Option<String>,
}

/// The columns of `OutboxRow`, in a `SELECT` or a `RETURNING`.
const OUTBOX_COLUMNS: &str = "id, to_address, subject, body_text, sealed_body, kind, created_at, \
    sent_at, attempts, last_error, next_attempt_at, failed_at, cancelled_at, ticket_id, body_html, \
    from_name, unsubscribe_url";

/// Which mails an administrator lists.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxFilter {
    All,
    /// Not yet sent, failed nor cancelled.
    Waiting,
    Failed,
}

impl OutboxFilter {
    /// `waiting`, `failed`, or anything else for all.
    pub fn from_code(code: &str) -> OutboxFilter {
        match code {
            "waiting" => OutboxFilter::Waiting,
            "failed" => OutboxFilter::Failed,
            _ => OutboxFilter::All,
        }
    }
}

pub struct NewMail<'a> {
    pub observatory_id: i64,
    pub to_address: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub sealed_body: Option<&'a str>,
    pub kind: &'a str,
    /// The ticket a notification is about: its mails thread together.
    pub ticket_id: Option<i64>,
    pub body_html: Option<&'a str>,
    /// The name the mail is sent under (the observatory's); `None`: `CUPULA_MAIL_FROM`'s.
    pub from_name: Option<&'a str>,
    /// Where the recipient stops mails of this kind (optional kinds only).
    pub unsubscribe_url: Option<&'a str>,
}

/// Queues a message; run inside the transaction of the change it reports.
const INSERT_MAIL: &str =
    "INSERT INTO outbox (observatory_id, to_address, subject, body_text, sealed_body, kind, \
     created_at, ticket_id, body_html, from_name, unsubscribe_url) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)";

/// Every other outstanding password link of a person stops working once a password is set.
pub(crate) const REVOKE_PASSWORD_LINKS: &str = "UPDATE account_tokens SET revoked_at = $1 \
    WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL \
    AND purpose IN ('invitation', 'password_reset')";

impl Db {
    pub async fn link_by_token_hash(
        &self,
        token_hash: &str,
    ) -> Result<Option<LinkRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT t.id, t.user_id, t.purpose, t.expires_at, t.used_at, t.revoked_at, \
                 u.observatory_id, u.active AS user_active \
                 FROM account_tokens t JOIN users u ON u.id = t.user_id WHERE t.token_hash = $1",
            )
            .bind(token_hash)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// Uses a link once: sets the password and marks the link used, in one transaction that
    /// fails if the link was used meanwhile. Optionally ends all the person's sessions.
    /// Returns false when the link had already been used or revoked.
    pub async fn use_link_to_set_password(
        &self,
        link_id: i64,
        user_id: i64,
        password_hash: &str,
        end_sessions: bool,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let claimed = sqlx::query(
                "UPDATE account_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL \
                 AND revoked_at IS NULL AND purpose IN ('invitation', 'password_reset')",
            )
            .bind(now)
            .bind(link_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                tx.rollback().await?;
                return Ok(false);
            }
            sqlx::query("UPDATE users SET password_hash = $1, updated_at = $2 WHERE id = $3")
                .bind(password_hash)
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            sqlx::query(REVOKE_PASSWORD_LINKS)
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            if end_sessions {
                sqlx::query("DELETE FROM sessions WHERE user_id = $1")
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok::<bool, StoreError>(true)
        })
    }

    /// How many messages of this kind went to this address since `since` (for rate limits).
    pub async fn count_mail_since(
        &self,
        to_address: &str,
        kind: &str,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let count = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM outbox WHERE to_address = $1 AND kind = $2 AND created_at >= $3",
            )
            .bind(to_address)
            .bind(kind)
            .bind(since)
            .fetch_one(pool)
            .await
        })?;
        Ok(count)
    }

    /// The newest messages queued for an address, newest first.
    pub async fn mail_to(
        &self,
        to_address: &str,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE to_address = $1 ORDER BY id DESC LIMIT $2"
            ))
            .bind(to_address)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Records that a message went out and wipes its sealed text: from then on the database
    /// holds only the redacted body. False when it was already marked sent.
    pub async fn mark_mail_sent(
        &self,
        mail_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE outbox SET sent_at = $1, sealed_body = NULL, claimed_until = NULL, \
                 last_error = NULL WHERE id = $2 AND sent_at IS NULL",
            )
            .bind(now)
            .bind(mail_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(changed == 1)
    }
}

impl Db {
    /// Takes up to `limit` mails that are due at `now` and not taken by another sender, for
    /// that sender alone until `claimed_until`, counting an attempt for each. PostgreSQL skips
    /// rows another process is taking at the same moment; SQLite has one writer at a time.
    pub async fn claim_due_mail(
        &self,
        now: DateTime<Utc>,
        claimed_until: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let lock = match self {
            Db::Sqlite(_) => "",
            Db::Postgres(_) => "FOR UPDATE SKIP LOCKED",
        };
        let claim = format!(
            "UPDATE outbox SET claimed_until = $1, attempts = attempts + 1 WHERE id IN ( \
               SELECT id FROM outbox WHERE sent_at IS NULL AND failed_at IS NULL \
               AND cancelled_at IS NULL AND (next_attempt_at IS NULL OR next_attempt_at <= $2) \
               AND (claimed_until IS NULL OR claimed_until <= $2) \
               ORDER BY id LIMIT $3 {lock}) \
             RETURNING {OUTBOX_COLUMNS}"
        );
        let mut rows: Vec<OutboxRow> = on_pool!(self, |pool| {
            sqlx::query_as(&claim)
                .bind(claimed_until)
                .bind(now)
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        rows.sort_by_key(|row| row.id);
        Ok(rows)
    }

    /// Gives back mails taken but not tried (their attempt uncounted), while the lease taken
    /// at `now` still holds them: no other sender can have them yet.
    pub async fn release_mail(
        &self,
        mail_ids: &[i64],
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        for mail_id in mail_ids {
            on_pool!(self, |pool| {
                sqlx::query(
                    "UPDATE outbox SET claimed_until = NULL, attempts = attempts - 1 \
                     WHERE id = $1 AND sent_at IS NULL AND claimed_until > $2",
                )
                .bind(mail_id)
                .bind(now)
                .execute(pool)
                .await
                .map(|_| ())
            })?;
        }
        Ok(())
    }

    /// A send that did not go: tried again at `retry_at`, or given up (`failed_at`; its sealed
    /// text stays, so that an administrator's retry sends the link whole). Only a mail still
    /// unsent is touched.
    pub async fn record_mail_failure(
        &self,
        mail_id: i64,
        error: &str,
        retry_at: Option<DateTime<Utc>>,
        failed_at: Option<DateTime<Utc>>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE outbox SET claimed_until = NULL, last_error = $1, next_attempt_at = $2, \
                 failed_at = $3 WHERE id = $4 AND sent_at IS NULL",
            )
            .bind(error)
            .bind(retry_at)
            .bind(failed_at)
            .bind(mail_id)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// The observatory's mails, newest first, `limit` of them from before `before_id`.
    pub async fn observatory_outbox(
        &self,
        observatory_id: i64,
        filter: OutboxFilter,
        before_id: Option<i64>,
        limit: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        let condition = match filter {
            OutboxFilter::All => "",
            OutboxFilter::Waiting => {
                "AND sent_at IS NULL AND failed_at IS NULL AND cancelled_at IS NULL"
            }
            OutboxFilter::Failed => "AND failed_at IS NOT NULL",
        };
        let query = format!(
            "SELECT {OUTBOX_COLUMNS} FROM outbox WHERE observatory_id = $1 AND id < $2 \
             {condition} ORDER BY id DESC LIMIT $3"
        );
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(&query)
                .bind(observatory_id)
                .bind(before_id.unwrap_or(i64::MAX))
                .bind(limit)
                .fetch_all(pool)
                .await
        })?;
        Ok(rows)
    }

    /// A failed mail of the observatory is due again, with its attempts counted afresh.
    /// False when there is no such failed mail.
    pub async fn retry_failed_mail(
        &self,
        observatory_id: i64,
        mail_id: i64,
    ) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE outbox SET failed_at = NULL, next_attempt_at = NULL, attempts = 0 \
                 WHERE id = $1 AND observatory_id = $2 AND failed_at IS NOT NULL \
                 AND sent_at IS NULL AND cancelled_at IS NULL",
            )
            .bind(mail_id)
            .bind(observatory_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(changed == 1)
    }

    /// An unsent mail of the observatory will never be sent; its sealed text is wiped. False
    /// when there is no such unsent mail.
    pub async fn cancel_mail(
        &self,
        observatory_id: i64,
        mail_id: i64,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let changed = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE outbox SET cancelled_at = $1, sealed_body = NULL, claimed_until = NULL \
                 WHERE id = $2 AND observatory_id = $3 AND sent_at IS NULL AND cancelled_at IS NULL",
            )
            .bind(now)
            .bind(mail_id)
            .bind(observatory_id)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(changed == 1)
    }
}

impl Db {
    /// Records a link that confirms `new_email` as the person's notification address (earlier
    /// such links stop working) and queues its e-mail to that address, in one transaction.
    pub async fn insert_email_link_with_mail(
        &self,
        token_hash: &str,
        user_id: i64,
        new_email: &str,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        mail: NewMail<'_>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |conn| {
            sqlx::query(
                "UPDATE account_tokens SET revoked_at = $1 WHERE user_id = $2 \
                 AND purpose = 'email_verification' AND used_at IS NULL AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .execute(&mut **conn)
            .await?;
            sqlx::query(
                "INSERT INTO account_tokens (token_hash, user_id, purpose, new_email, created_at, \
                 expires_at) VALUES ($1, $2, 'email_verification', $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(new_email)
            .bind(now)
            .bind(expires_at)
            .execute(&mut **conn)
            .await?;
            Ok::<(), StoreError>(())
        })?;
        tx.queue_mail(&mail, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Uses a confirmation link once: its address becomes the notification address.
    /// Returns the address, or `None` when the link does not work (any more).
    pub async fn use_email_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            let link: Option<(i64, i64, Option<String>)> = sqlx::query_as(
                "SELECT t.id, t.user_id, t.new_email FROM account_tokens t JOIN users u ON u.id = t.user_id \
                 WHERE t.token_hash = $1 AND t.purpose = 'email_verification' AND t.used_at IS NULL \
                 AND t.revoked_at IS NULL AND t.expires_at > $2 AND u.active",
            )
            .bind(token_hash)
            .bind(now)
            .fetch_optional(&mut *tx)
            .await?;
            let Some((link_id, user_id, Some(email))) = link else {
                tx.rollback().await?;
                return Ok(None);
            };
            let claimed = sqlx::query(
                "UPDATE account_tokens SET used_at = $1 WHERE id = $2 AND used_at IS NULL",
            )
            .bind(now)
            .bind(link_id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if claimed != 1 {
                tx.rollback().await?;
                return Ok(None);
            }
            sqlx::query("UPDATE users SET notification_email = $1, updated_at = $2 WHERE id = $3")
                .bind(&email)
                .bind(now)
                .bind(user_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<Option<String>, StoreError>(Some(email))
        })
    }

    /// How many address-confirmation links a person asked for since `since`.
    pub async fn count_email_links_since(
        &self,
        user_id: i64,
        since: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let count = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT COUNT(*) FROM account_tokens WHERE user_id = $1 \
                 AND purpose = 'email_verification' AND created_at >= $2",
            )
            .bind(user_id)
            .bind(since)
            .fetch_one(pool)
            .await
        })?;
        Ok(count)
    }

    pub async fn clear_notification_email(&self, user_id: i64) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("UPDATE users SET notification_email = NULL, updated_at = $1 WHERE id = $2")
                .bind(Utc::now())
                .bind(user_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// The person's confirmed notification address, and the address waiting for confirmation.
    pub async fn notification_emails(
        &self,
        user_id: i64,
    ) -> Result<(Option<String>, Option<String>), StoreError> {
        on_pool!(self, |pool| {
            let current: Option<String> =
                sqlx::query_scalar("SELECT notification_email FROM users WHERE id = $1")
                    .bind(user_id)
                    .fetch_one(pool)
                    .await?;
            let pending: Option<String> = sqlx::query_scalar(
                "SELECT new_email FROM account_tokens WHERE user_id = $1 \
                 AND purpose = 'email_verification' AND used_at IS NULL AND revoked_at IS NULL \
                 AND expires_at > $2 ORDER BY id DESC LIMIT 1",
            )
            .bind(user_id)
            .bind(Utc::now())
            .fetch_optional(pool)
            .await?
            .flatten();
            Ok::<_, StoreError>((current, pending))
        })
    }
}

impl Tx {
    /// Records a new link, revoking the person's earlier links of the same purpose (only the
    /// newest link works), and queues its e-mail, in this transaction.
    pub async fn insert_link_with_mail(
        &mut self,
        token_hash: &str,
        user_id: i64,
        purpose: LinkKind,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        mail: NewMail<'_>,
    ) -> Result<(), StoreError> {
        on_tx!(&mut *self, |conn| {
            sqlx::query(
                "UPDATE account_tokens SET revoked_at = $1 \
                 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .bind(purpose.code())
            .execute(&mut **conn)
            .await?;
            sqlx::query(
                "INSERT INTO account_tokens (token_hash, user_id, purpose, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(token_hash)
            .bind(user_id)
            .bind(purpose.code())
            .bind(now)
            .bind(expires_at)
            .execute(&mut **conn)
            .await
            .map_err(map_unique)?;
            Ok::<(), StoreError>(())
        })?;
        self.queue_mail(&mail, now).await?;
        Ok(())
    }

    /// Queues an e-mail inside this transaction.
    pub async fn queue_mail(
        &mut self,
        mail: &NewMail<'_>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_tx!(self, |conn| {
            sqlx::query(INSERT_MAIL)
                .bind(mail.observatory_id)
                .bind(mail.to_address)
                .bind(mail.subject)
                .bind(mail.body_text)
                .bind(mail.sealed_body)
                .bind(mail.kind)
                .bind(now)
                .bind(mail.ticket_id)
                .bind(mail.body_html)
                .bind(mail.from_name)
                .bind(mail.unsubscribe_url)
                .execute(&mut **conn)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}
