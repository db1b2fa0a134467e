//! SQL for single-use account links and the e-mail outbox.

use super::{map_unique, on_pool, Db, StoreError};
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
}

pub struct NewMail<'a> {
    pub observatory_id: i64,
    pub to_address: &'a str,
    pub subject: &'a str,
    pub body_text: &'a str,
    pub sealed_body: Option<&'a str>,
    pub kind: &'a str,
}

/// Queues a message; run inside the transaction of the change it reports.
const INSERT_MAIL: &str =
    "INSERT INTO outbox (observatory_id, to_address, subject, body_text, sealed_body, kind, \
                           created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)";

/// Every other outstanding password link of a person stops working once a password is set.
pub(crate) const REVOKE_PASSWORD_LINKS: &str = "UPDATE account_tokens SET revoked_at = $1 \
    WHERE user_id = $2 AND used_at IS NULL AND revoked_at IS NULL \
    AND purpose IN ('invitation', 'password_reset')";

impl Db {
    /// Records a new link, revoking the person's earlier links of the same purpose (only the
    /// newest link works), and queues its e-mail, all in one transaction.
    pub async fn insert_link_with_mail(
        &self,
        token_hash: &str,
        user_id: i64,
        purpose: LinkKind,
        now: DateTime<Utc>,
        expires_at: DateTime<Utc>,
        mail: NewMail<'_>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE account_tokens SET revoked_at = $1 \
                 WHERE user_id = $2 AND purpose = $3 AND used_at IS NULL AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .bind(purpose.code())
            .execute(&mut *tx)
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
            .execute(&mut *tx)
            .await
            .map_err(map_unique)?;
            sqlx::query(INSERT_MAIL)
                .bind(mail.observatory_id)
                .bind(mail.to_address)
                .bind(mail.subject)
                .bind(mail.body_text)
                .bind(mail.sealed_body)
                .bind(mail.kind)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })
    }

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
            let mut tx = pool.begin().await?;
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
            sqlx::query_as(
                "SELECT id, to_address, subject, body_text, sealed_body, kind, created_at, sent_at \
                 FROM outbox WHERE to_address = $1 ORDER BY id DESC LIMIT $2",
            )
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
                "UPDATE outbox SET sent_at = $1, sealed_body = NULL \
                 WHERE id = $2 AND sent_at IS NULL",
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
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
            sqlx::query(
                "UPDATE account_tokens SET revoked_at = $1 WHERE user_id = $2 \
                 AND purpose = 'email_verification' AND used_at IS NULL AND revoked_at IS NULL",
            )
            .bind(now)
            .bind(user_id)
            .execute(&mut *tx)
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
            .execute(&mut *tx)
            .await?;
            sqlx::query(INSERT_MAIL)
                .bind(mail.observatory_id)
                .bind(mail.to_address)
                .bind(mail.subject)
                .bind(mail.body_text)
                .bind(mail.sealed_body)
                .bind(mail.kind)
                .bind(now)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok::<(), StoreError>(())
        })
    }

    /// Uses a confirmation link once: its address becomes the notification address.
    /// Returns the address, or `None` when the link does not work (any more).
    pub async fn use_email_link(
        &self,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin().await?;
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
