//! The e-mail outbox: messages wait there until `mailer` sends them.
//!
//! A message that carries a single-use link is kept twice: as text anyone may read, with the
//! link's token redacted (what the operator sees), and whole, sealed with the portal's secret
//! key (what the sender sends). Sending wipes the sealed copy, so the database never holds a
//! usable link: not while the mail waits (only the key, outside the database, opens it), and
//! not at all once it has gone.

use super::secret_key::SecretKey;
use super::storage::links::OutboxRow;
use super::storage::{Db, StoreError};
use chrono::{DateTime, Utc};

/// Stands for a link's token in the readable text of a mail.
pub const REDACTED: &str = "[redacted]";

#[derive(Debug, thiserror::Error)]
pub enum OutboxError {
    #[error("a queued e-mail does not open with this secret key: it was sealed with another one (every server of one database needs the same CUPULA_SECRET_KEY or secret.key)")]
    WrongKey,
    #[error("the e-mail was already sent: its link is no longer kept")]
    AlreadySent,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a sealed body is bound to: a sealed text copied to another row (another address)
/// does not open there.
fn seal_context(kind: &str, to_address: &str) -> String {
    format!("cupula outbox\0{kind}\0{to_address}")
}

/// Seals the whole text of a mail of `kind` to `to_address`, for `NewMail::sealed_body`.
pub fn seal_body(key: &SecretKey, kind: &str, to_address: &str, body: &str) -> String {
    key.seal(body, &seal_context(kind, to_address))
}

/// The whole text to send: the sealed copy opened with `key`, or the stored text of a mail
/// that carries no secret.
pub fn body_to_send(key: &SecretKey, mail: &OutboxRow) -> Result<String, OutboxError> {
    if mail.sent_at.is_some() {
        return Err(OutboxError::AlreadySent);
    }
    match &mail.sealed_body {
        Some(sealed) => key
            .open(sealed, &seal_context(&mail.kind, &mail.to_address))
            .ok_or(OutboxError::WrongKey),
        None => Ok(mail.body_text.clone()),
    }
}

/// Records that a mail went out and wipes its sealed copy. False when it was already sent.
pub async fn mark_sent(db: &Db, mail_id: i64) -> Result<bool, OutboxError> {
    Ok(db.mark_mail_sent(mail_id, Utc::now()).await?)
}

/// A queued mail as the operator sees it (`cupula outbox`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueuedMail {
    pub to_address: String,
    pub kind: String,
    pub subject: String,
    /// With the link's token redacted, unless revealed.
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub sent_at: Option<DateTime<Utc>>,
    pub attempts: i64,
    /// The mail server's last answer when a try failed.
    pub last_error: Option<String>,
    /// Set once the sender gave it up.
    pub failed_at: Option<DateTime<Utc>>,
}

/// The newest mails queued for an address, newest first. With `reveal`, unsent mails show
/// their whole text (links included); a key that does not open them is an error, not a guess.
pub async fn mail_to(
    db: &Db,
    to_address: &str,
    limit: i64,
    reveal: Option<&SecretKey>,
) -> Result<Vec<QueuedMail>, OutboxError> {
    let rows = db
        .mail_to(&to_address.trim().to_lowercase(), limit.clamp(1, 1000))
        .await?;
    rows.into_iter()
        .map(|row| {
            let body = match reveal {
                Some(key) if row.sent_at.is_none() => body_to_send(key, &row)?,
                _ => row.body_text,
            };
            Ok(QueuedMail {
                to_address: row.to_address,
                kind: row.kind,
                subject: row.subject,
                body,
                created_at: row.created_at,
                sent_at: row.sent_at,
                attempts: row.attempts,
                last_error: row.last_error,
                failed_at: row.failed_at,
            })
        })
        .collect()
}
