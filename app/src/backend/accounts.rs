//! People and their sessions: sign-in, session checks, sign-out, creating accounts.
//!
//! `Viewer` is the one description of who is asking, which every service receives and checks
//! its rules against (observatory, role, organization).

use super::config::Config;
use super::error::ServiceError;
use super::passwords;
use super::storage::accounts::{NewSession, NewUser, SessionRow, UserRow};
use super::storage::{Db, StoreError, Tx};
use super::time_zone;
use super::tokens;
use crate::i18n::{Lang, Msg};
use crate::model::{Email, LocalZone, Role, SessionUser};
use chrono::{Duration as ChronoDuration, Utc};

/// Who is asking, resolved from their session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Viewer {
    pub session_id: i64,
    pub user_id: i64,
    pub observatory_id: i64,
    pub organization_id: Option<i64>,
    pub organization_name: Option<String>,
    pub role: Role,
    pub name: String,
    pub email: String,
    pub language: Lang,
    /// The zone they chose; `None`: their observatory's.
    pub time_zone: Option<String>,
    /// Their observatory's zone (ticket numbers carry its local year).
    pub observatory_time_zone: String,
}

impl Viewer {
    /// Administration is for the observatory's admins; to anyone else it does not exist.
    pub fn require_admin(&self) -> Result<(), Msg> {
        if self.role == Role::Admin {
            Ok(())
        } else {
            Err(Msg::ErrorNotFound)
        }
    }

    /// The zone this person sees dates in.
    pub fn zone(&self) -> LocalZone {
        time_zone::for_person(self.time_zone.as_deref(), &self.observatory_time_zone)
    }

    pub fn session_user(&self) -> SessionUser {
        SessionUser {
            id: self.user_id,
            name: self.name.clone(),
            email: self.email.clone(),
            role: self.role,
            organization: self.organization_name.clone(),
        }
    }
}

/// Failed sign-ins are counted over this sliding window.
pub const THROTTLE_WINDOW: ChronoDuration = ChronoDuration::minutes(15);
/// Failures for one address from one network address within the window before sign-in is
/// refused for that pair (at most 40 an hour from one place).
pub const MAX_FAILURES_PER_ACCOUNT: i64 = 10;
/// Failures from one network address within the window (several people may share one).
pub const MAX_FAILURES_PER_IP: i64 = 50;

/// A successful sign-in: the cookie's token (shown once, never stored) and the person.
#[derive(Debug)]
pub struct SignedIn {
    pub token: String,
    pub user_id: i64,
    pub language: Lang,
}

/// Details recorded with a session, so a person can recognise their sessions later.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub user_agent: String,
    pub ip: String,
}

/// Checks the e-mail and password and opens a new session (a new token every time, so a
/// session id planted before sign-in is never promoted).
///
/// Unknown e-mails and wrong passwords get the same message after the same work.
pub async fn sign_in(
    db: &Db,
    config: &Config,
    observatory_id: i64,
    email: &str,
    password: &str,
    client: &ClientInfo,
) -> Result<SignedIn, ServiceError> {
    if email.trim().is_empty() {
        return Err(Msg::ErrorEmailRequired.into());
    }
    if password.is_empty() {
        return Err(Msg::ErrorPasswordRequired.into());
    }
    // A malformed address cannot belong to anybody; it still costs a hash, like any miss.
    let user = match Email::parse(email) {
        Ok(email) => db.user_by_email(observatory_id, email.as_str()).await?,
        Err(_) => None,
    };
    let stored_hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| passwords::dummy_hash().to_string());
    let matches = throttled_password_check(
        db,
        observatory_id,
        &email.trim().to_lowercase(),
        &client.ip,
        &stored_hash,
        password,
    )
    .await?;
    let user = match user {
        Some(user) if matches && user.password_hash.is_some() => user,
        _ => return Err(Msg::ErrorInvalidCredentials.into()),
    };
    if !user.may_sign_in() {
        return Err(Msg::ErrorAccountInactive.into());
    }
    if passwords::needs_rehash(&stored_hash) {
        let fresh = passwords::hash_password(password.to_string()).await?;
        db.set_password_hash(user.id, &fresh).await?;
    }

    let token = tokens::random_token();
    let now = Utc::now();
    let absolute = ChronoDuration::from_std(config.session_absolute_timeout)
        .unwrap_or_else(|_| ChronoDuration::days(30));
    db.insert_session(NewSession {
        token_hash: &tokens::hash_token(&token),
        user_id: user.id,
        now,
        expires_at: now + absolute,
        user_agent: truncate(&client.user_agent, 300),
        ip: truncate(&client.ip, 64),
    })
    .await?;
    Ok(SignedIn {
        token,
        user_id: user.id,
        language: Lang::from_code(&user.language).unwrap_or_default(),
    })
}

/// Checks a password against `stored_hash` as one throttled attempt, for sign-in and for the
/// "current password" of My account.
///
/// Attempts are counted per typed address and network address (whether or not the address has
/// an account, so the limit says nothing about who is a client), and per network address. Keyed
/// by both, guesses from elsewhere cannot lock the owner out; the window slides, so nobody is
/// locked out for good, only slowed down. The attempt is reserved before the hash is computed,
/// so a parallel burst gets at most the limit of hashes; a refused or matching attempt is taken
/// back, a wrong password stays as the failure.
pub(crate) async fn throttled_password_check(
    db: &Db,
    observatory_id: i64,
    typed_email: &str,
    ip: &str,
    stored_hash: &str,
    password: &str,
) -> Result<bool, ServiceError> {
    let now = Utc::now();
    let attempt = db
        .reserve_sign_in_attempt(observatory_id, typed_email, ip, now, now - THROTTLE_WINDOW)
        .await?;
    if attempt.by_email > MAX_FAILURES_PER_ACCOUNT || attempt.by_ip > MAX_FAILURES_PER_IP {
        db.release_sign_in_attempt(attempt.id).await?;
        return Err(Msg::ErrorTooManyAttempts.into());
    }
    match passwords::verify_password(stored_hash.to_string(), password.to_string()).await {
        Ok(false) => Ok(false),
        Ok(true) => {
            db.release_sign_in_attempt(attempt.id).await?;
            Ok(true)
        }
        Err(busy) => {
            db.release_sign_in_attempt(attempt.id).await?;
            Err(busy.into())
        }
    }
}

/// Resolves a session token into a `Viewer`, ending sessions that timed out or whose person was
/// deactivated.
pub async fn authenticate(
    db: &Db,
    config: &Config,
    token: &str,
) -> Result<Option<Viewer>, StoreError> {
    // Anything that is not one of our tokens cannot match; skip the query.
    if !tokens::looks_like_token(token) {
        return Ok(None);
    }
    let Some(row) = db.session_by_token_hash(&tokens::hash_token(token)).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    let idle = ChronoDuration::from_std(config.session_idle_timeout)
        .unwrap_or_else(|_| ChronoDuration::hours(12));
    if now >= row.expires_at || now - row.last_seen_at >= idle || !row.user.may_sign_in() {
        db.delete_session(row.session_id).await?;
        return Ok(None);
    }
    // Recording every request would turn each page view into a write; a minute's precision
    // is plenty for idle timeouts.
    if now - row.last_seen_at >= ChronoDuration::minutes(1) {
        db.touch_session(row.session_id, now).await?;
    }
    Ok(viewer_of(row))
}

fn viewer_of(row: SessionRow) -> Option<Viewer> {
    Viewer::of_user(row.user, row.organization_name, row.session_id)
}

impl Viewer {
    /// The viewer of a person; `session_id` is 0 for programs signed in with an API key.
    pub fn of_user(
        user: UserRow,
        organization_name: Option<String>,
        session_id: i64,
    ) -> Option<Viewer> {
        let role = Role::from_code(&user.role)?;
        Some(Viewer {
            session_id,
            user_id: user.id,
            observatory_id: user.observatory_id,
            organization_id: user.organization_id,
            organization_name,
            role,
            name: user.name,
            email: user.email,
            language: Lang::from_code(&user.language).unwrap_or_default(),
            time_zone: user.time_zone,
            observatory_time_zone: user.observatory_time_zone,
        })
    }
}

/// Ends the viewer's session on the server: the cookie is worthless from now on.
pub async fn sign_out(db: &Db, viewer: &Viewer) -> Result<(), StoreError> {
    db.delete_session(viewer.session_id).await
}

/// Input for a new account.
pub struct NewAccount<'a> {
    pub observatory_id: i64,
    pub organization_id: Option<i64>,
    pub email: &'a str,
    pub name: &'a str,
    pub role: Role,
    pub language: Lang,
    /// `None` for invited people who set their own password later.
    pub password: Option<&'a str>,
}

/// Creates an account after checking the e-mail, name and password rules.
pub async fn create_account(db: &Db, new: NewAccount<'_>) -> Result<i64, ServiceError> {
    let (email, name) = checked_identity(&new)?;
    // Hashed before the transaction begins: a write transaction waits for nobody's hashing.
    let password_hash = match new.password {
        Some(password) => {
            passwords::check_new_password(password)?;
            Some(passwords::hash_password(password.to_string()).await?)
        }
        None => None,
    };
    let mut tx = db.begin().await?;
    let id = insert_account(&mut tx, &new, &email, name, password_hash.as_deref()).await?;
    tx.commit().await?;
    Ok(id)
}

/// Adds a person without a password in the caller's transaction, which also stores what
/// invites them: either both are there or neither.
pub(crate) async fn insert_invited_account(
    tx: &mut Tx,
    new: &NewAccount<'_>,
) -> Result<i64, ServiceError> {
    let (email, name) = checked_identity(new)?;
    insert_account(tx, new, &email, name, None).await
}

/// A new account's e-mail and name, checked in the order of the forms' fields.
fn checked_identity<'a>(new: &NewAccount<'a>) -> Result<(Email, &'a str), ServiceError> {
    let email = Email::parse(new.email)?;
    let name = new.name.trim();
    if name.is_empty() {
        return Err(Msg::ErrorNameRequired.into());
    }
    if (new.role == Role::Client) != new.organization_id.is_some() {
        return Err(Msg::ErrorInternal.into());
    }
    Ok((email, name))
}

async fn insert_account(
    tx: &mut Tx,
    new: &NewAccount<'_>,
    email: &Email,
    name: &str,
    password_hash: Option<&str>,
) -> Result<i64, ServiceError> {
    tx.insert_user(NewUser {
        observatory_id: new.observatory_id,
        organization_id: new.organization_id,
        email: email.as_str(),
        name,
        role: new.role.code(),
        language: new.language.code(),
        password_hash,
    })
    .await
    .map_err(|e| match e {
        StoreError::Duplicate => ServiceError::User(Msg::ErrorEmailTaken),
        other => ServiceError::Store(other),
    })
}

/// Remembers a signed-in person's language choice.
pub async fn set_language(db: &Db, viewer: &Viewer, lang: Lang) -> Result<(), StoreError> {
    db.set_user_language(viewer.user_id, lang.code()).await
}

fn truncate(text: &str, max_chars: usize) -> &str {
    match text.char_indices().nth(max_chars) {
        Some((index, _)) => &text[..index],
        None => text,
    }
}
