//! Single-use links sent by e-mail: password resets ("forgot password", which also serves a
//! first access) and invitations. Tokens carry 256 random bits and are stored only hashed;
//! a new link revokes the person's earlier ones of the same kind. The mail that carries a link
//! waits in the outbox with the token redacted from its readable text and its whole text sealed
//! with the portal's secret key (`backend::outbox`).

use super::accounts::Viewer;
use super::config::Config;
use super::error::ServiceError;
use super::outbox;
use super::passwords;
use super::storage::accounts::UserRow;
use super::storage::links::{LinkRow, NewMail};
use super::storage::{Db, StoreError, Tx};
use super::tokens;
use crate::i18n::{Lang, Msg};
use crate::model::{Email, LinkKind};
use chrono::{DateTime, Duration, Utc};

/// How long a password-reset link works.
pub const RESET_VALIDITY: Duration = Duration::hours(1);
/// How long an invitation works.
pub const INVITATION_VALIDITY: Duration = Duration::days(7);
/// At most this many link e-mails of one kind go to one address per hour, whoever asks:
/// nobody can use the portal to flood someone's mailbox.
pub const LINK_MAILS_PER_HOUR: i64 = 3;

/// Asks for a password-reset link. The answer is the same whether or not the address has an
/// account, so the form cannot be used to find out who is a client.
pub async fn request_password_reset(
    db: &Db,
    config: &Config,
    observatory_id: i64,
    email: &str,
) -> Result<(), ServiceError> {
    let email = Email::parse(email)?;
    let Some(user) = db.user_by_email(observatory_id, email.as_str()).await? else {
        return Ok(());
    };
    if !user.active {
        return Ok(());
    }
    send_link(db, config, &user, LinkKind::PasswordReset).await
}

/// Sends an invitation to a person the observatory added (who has no password yet).
pub async fn invite(
    db: &Db,
    config: &Config,
    observatory_id: i64,
    email: &str,
) -> Result<(), ServiceError> {
    let email = Email::parse(email)?;
    let user = db
        .user_by_email(observatory_id, email.as_str())
        .await?
        .ok_or(ServiceError::User(Msg::ErrorNotFound))?;
    send_link(db, config, &user, LinkKind::Invitation).await
}

async fn send_link(
    db: &Db,
    config: &Config,
    user: &UserRow,
    purpose: LinkKind,
) -> Result<(), ServiceError> {
    let recipient = LinkRecipient {
        observatory_id: user.observatory_id,
        email: &user.email,
        name: &user.name,
        language: Lang::from_code(&user.language).unwrap_or_default(),
    };
    let Some(link) = compose_link(db, config, &recipient, purpose).await? else {
        return Ok(());
    };
    let mut tx = db.begin().await?;
    link.store(&mut tx, user.id).await?;
    tx.commit().await?;
    Ok(())
}

/// Who a link is for: what its e-mail needs, so that it can be written before the account
/// exists and stored in the transaction that creates the account.
pub(crate) struct LinkRecipient<'a> {
    pub observatory_id: i64,
    pub email: &'a str,
    pub name: &'a str,
    pub language: Lang,
}

/// A link and its e-mail, written and ready to be stored with the account it opens.
pub(crate) struct LinkMail {
    token_hash: String,
    purpose: LinkKind,
    created_at: DateTime<Utc>,
    expires_at: DateTime<Utc>,
    observatory_id: i64,
    to_address: String,
    subject: String,
    body: LinkMailBody,
    from_name: String,
}

impl LinkMail {
    /// Records the link (revoking the person's earlier ones of its kind) and queues its e-mail,
    /// in the caller's transaction.
    pub(crate) async fn store(&self, tx: &mut Tx, user_id: i64) -> Result<(), StoreError> {
        tx.insert_link_with_mail(
            &self.token_hash,
            user_id,
            self.purpose,
            self.created_at,
            self.expires_at,
            NewMail {
                observatory_id: self.observatory_id,
                to_address: &self.to_address,
                subject: &self.subject,
                body_text: &self.body.redacted,
                sealed_body: Some(&self.body.sealed),
                kind: self.purpose.code(),
                ticket_id: None,
                body_html: None,
                from_name: Some(&self.from_name),
                unsubscribe_url: None,
            },
        )
        .await
    }
}

/// Writes a link's e-mail, or refuses to: `None` when the address had its share of link
/// e-mails this hour and the asker must not be told (a password reset).
pub(crate) async fn compose_link(
    db: &Db,
    config: &Config,
    to: &LinkRecipient<'_>,
    purpose: LinkKind,
) -> Result<Option<LinkMail>, ServiceError> {
    let email = to.email;
    let now = Utc::now();
    let recent = db
        .count_mail_since(email, purpose.code(), now - Duration::hours(1))
        .await?;
    if recent >= LINK_MAILS_PER_HOUR {
        tracing::warn!(
            purpose = purpose.code(),
            "link e-mail limit reached for an address"
        );
        // An admin is told (they know the person exists); "forgot password" must not tell.
        return match purpose {
            LinkKind::Invitation => Err(Msg::ErrorTooManyAttempts.into()),
            LinkKind::PasswordReset => Ok(None),
        };
    }
    let observatory = db
        .default_observatory()
        .await?
        .filter(|o| o.id == to.observatory_id)
        .ok_or(ServiceError::User(Msg::ErrorInternal))?;
    let lang = to.language;
    let token = tokens::random_token();
    let (path, validity, subject, body) = match purpose {
        LinkKind::PasswordReset => (
            "reset-password",
            RESET_VALIDITY,
            Msg::MailResetSubject,
            Msg::MailResetBody,
        ),
        LinkKind::Invitation => (
            "invitation",
            INVITATION_VALIDITY,
            Msg::MailInvitationSubject,
            Msg::MailInvitationBody,
        ),
    };
    let args = [
        ("observatory", observatory.name.as_str()),
        ("name", to.name),
        ("email", email),
    ];
    let subject = header_safe(&subject.fill(lang, &args));
    let body = sealed_link_body(config, purpose.code(), email, &token, |token| {
        let link = link_url(config, path, token);
        body.fill(lang, &[&args[..], &[("link", link.as_str())]].concat())
    })?;
    Ok(Some(LinkMail {
        token_hash: tokens::hash_token(&token),
        purpose,
        created_at: now,
        expires_at: now + validity,
        observatory_id: to.observatory_id,
        to_address: email.to_string(),
        subject,
        body,
        from_name: observatory.sender_name().to_string(),
    }))
}

/// A password link (invitation or reset) that still works: not expired, used or revoked, and its
/// person still active. Links of other kinds (an address confirmation) never set a password.
pub async fn valid_link(db: &Db, token: &str) -> Result<Option<LinkRow>, StoreError> {
    if !tokens::looks_like_token(token) {
        return Ok(None);
    }
    let link = db.link_by_token_hash(&tokens::hash_token(token)).await?;
    Ok(link.filter(|l| {
        LinkKind::from_code(&l.purpose).is_some()
            && l.used_at.is_none()
            && l.revoked_at.is_none()
            && l.expires_at > Utc::now()
            && l.user_active
    }))
}

/// Sets the password through a link, once. Nobody is signed in by it: the person signs in next,
/// and may end every other session (a reset after a suspected intrusion).
pub async fn set_password_with_link(
    db: &Db,
    token: &str,
    password: &str,
    end_other_sessions: bool,
) -> Result<(), ServiceError> {
    let link = valid_link(db, token)
        .await?
        .ok_or(ServiceError::User(Msg::ErrorLinkInvalid))?;
    passwords::check_new_password(password)?;
    let hash = passwords::hash_password(password.to_string()).await?;
    let used = db
        .use_link_to_set_password(link.id, link.user_id, &hash, end_other_sessions, Utc::now())
        .await?;
    if used {
        Ok(())
    } else {
        Err(ServiceError::User(Msg::ErrorLinkInvalid))
    }
}

/// The address of the page at `path` that uses `token`.
fn link_url(config: &Config, path: &str, token: &str) -> url::Url {
    let mut link = config.base_url.clone();
    link.set_path(path);
    link.set_query(Some(&format!("token={token}")));
    link
}

/// The text of a link e-mail, twice: readable with the token redacted, and whole, sealed.
struct LinkMailBody {
    redacted: String,
    sealed: String,
}

/// Writes a link e-mail's text with `write(token)` twice, once with the token redacted and once
/// with the real one, which is sealed with the portal's key for the mail's `kind` and address.
fn sealed_link_body(
    config: &Config,
    kind: &str,
    to_address: &str,
    token: &str,
    write: impl Fn(&str) -> String,
) -> Result<LinkMailBody, ServiceError> {
    let Some(key) = &config.secret_key else {
        tracing::error!("no secret key is configured: link e-mails cannot be queued");
        return Err(Msg::ErrorInternal.into());
    };
    Ok(LinkMailBody {
        redacted: write(outbox::REDACTED),
        sealed: outbox::seal_body(key, kind, to_address, &write(token)),
    })
}

/// A value safe for an e-mail header: line breaks and other control characters become spaces,
/// so text from the database (an observatory's name, a ticket's title) cannot add headers.
pub fn header_safe(value: &str) -> String {
    value
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

/// How long a link confirming a notification address works.
pub const EMAIL_CONFIRMATION_VALIDITY: Duration = Duration::days(1);
/// The outbox kind of a mail confirming a notification address.
const EMAIL_CONFIRMATION_KIND: &str = "email_verification";

/// Asks for notifications at another address. A new address takes effect only when the link sent
/// to it is used; an empty field, or the log-in address, goes back to the log-in address at once.
/// Returns whether a confirmation was sent.
pub async fn request_notification_email(
    db: &Db,
    config: &Config,
    viewer: &Viewer,
    email: &str,
) -> Result<bool, ServiceError> {
    if email.trim().is_empty() {
        db.clear_notification_email(viewer.user_id).await?;
        return Ok(false);
    }
    let email = Email::parse(email)?;
    if email.as_str() == viewer.email {
        db.clear_notification_email(viewer.user_id).await?;
        return Ok(false);
    }
    let now = Utc::now();
    // Limited per address and per person, so nobody can use the portal to mail strangers.
    let hour_ago = now - Duration::hours(1);
    if db
        .count_mail_since(email.as_str(), EMAIL_CONFIRMATION_KIND, hour_ago)
        .await?
        >= LINK_MAILS_PER_HOUR
        || db.count_email_links_since(viewer.user_id, hour_ago).await? >= LINK_MAILS_PER_HOUR
    {
        return Err(Msg::ErrorTooManyAttempts.into());
    }
    let observatory = db
        .default_observatory()
        .await?
        .filter(|o| o.id == viewer.observatory_id)
        .ok_or(ServiceError::User(Msg::ErrorInternal))?;
    let token = tokens::random_token();
    let args = [
        ("observatory", observatory.name.as_str()),
        ("name", viewer.name.as_str()),
        ("email", email.as_str()),
    ];
    let subject = header_safe(&Msg::MailConfirmSubject.fill(viewer.language, &args));
    let body = sealed_link_body(
        config,
        EMAIL_CONFIRMATION_KIND,
        email.as_str(),
        &token,
        |token| {
            let link = link_url(config, "confirm-email", token);
            Msg::MailConfirmBody.fill(
                viewer.language,
                &[&args[..], &[("link", link.as_str())]].concat(),
            )
        },
    )?;
    db.insert_email_link_with_mail(
        &tokens::hash_token(&token),
        viewer.user_id,
        email.as_str(),
        now,
        now + EMAIL_CONFIRMATION_VALIDITY,
        NewMail {
            observatory_id: viewer.observatory_id,
            to_address: email.as_str(),
            subject: &subject,
            body_text: &body.redacted,
            sealed_body: Some(&body.sealed),
            kind: EMAIL_CONFIRMATION_KIND,
            ticket_id: None,
            body_html: None,
            from_name: Some(observatory.sender_name()),
            unsubscribe_url: None,
        },
    )
    .await?;
    Ok(true)
}

/// Uses a confirmation link: its address becomes the notification address.
pub async fn confirm_notification_email(db: &Db, token: &str) -> Result<String, ServiceError> {
    if !tokens::looks_like_token(token) {
        return Err(Msg::ErrorLinkInvalid.into());
    }
    db.use_email_link(&tokens::hash_token(token), Utc::now())
        .await?
        .ok_or(ServiceError::User(Msg::ErrorLinkInvalid))
}
