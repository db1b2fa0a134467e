//! Personal API keys: a program (an observatory's monitoring software) acts as the person who
//! created the key, with exactly their rights. Keys are shown once and stored only as hashes.
//! A key may expire; deactivating its person (or their organization) revokes it for good.

use super::accounts::Viewer;
use super::error::ServiceError;
use super::storage::tickets::ApiTokenRow;
use super::storage::{Db, StoreError};
use super::tokens;
use crate::i18n::Msg;
use crate::model::{ApiKeyValidity, ApiTokenInfo};
use chrono::{DateTime, Duration, Utc};

/// Every key starts with this, so a leaked one is easy to recognise (and to scan for).
pub const PREFIX: &str = "cupula_";
const NAME_MAX_CHARS: usize = 100;
/// A key's last use is recorded at most this often: recording every call would turn each
/// read into a write, and a minute's precision is plenty (as for sessions).
pub const LAST_USED_PRECISION: Duration = Duration::minutes(1);

/// Creates a key named `name` for the viewer, working for `validity`, and returns it.
pub async fn create(
    db: &Db,
    viewer: &Viewer,
    name: &str,
    validity: ApiKeyValidity,
) -> Result<String, ServiceError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Msg::ErrorNameRequired.into());
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(Msg::ErrorTextTooLong.into());
    }
    let token = format!("{PREFIX}{}", tokens::random_token());
    let now = Utc::now();
    let expires_at = validity.days().map(|days| now + Duration::days(days));
    db.insert_api_token(
        viewer.user_id,
        name,
        &tokens::hash_token(&token),
        now,
        expires_at,
    )
    .await?;
    Ok(token)
}

/// The viewer's keys that were not revoked, expired ones included (shown as expired).
pub async fn list(db: &Db, viewer: &Viewer) -> Result<Vec<ApiTokenInfo>, ServiceError> {
    let now = Utc::now();
    Ok(db
        .api_tokens(viewer.user_id)
        .await?
        .into_iter()
        .map(|row| ApiTokenInfo {
            expired: is_expired(&row, now),
            id: row.id,
            name: row.name,
            created_at: row.created_at,
            expires_at: row.expires_at,
            last_used_at: row.last_used_at,
        })
        .collect())
}

fn is_expired(key: &ApiTokenRow, now: DateTime<Utc>) -> bool {
    key.expires_at.is_some_and(|at| at <= now)
}

/// Revokes one of the viewer's keys; anybody else's answers "not found".
pub async fn revoke(db: &Db, viewer: &Viewer, token_id: i64) -> Result<(), ServiceError> {
    if db.revoke_api_token(viewer.user_id, token_id).await? {
        Ok(())
    } else {
        Err(Msg::ErrorNotFound.into())
    }
}

/// The person a key acts for, if the key was not revoked, has not expired, and its person may
/// still sign in. Records the use, at most once a minute.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Viewer>, StoreError> {
    let Some(secret) = token.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    if !tokens::looks_like_token(secret) {
        return Ok(None);
    }
    let Some(key) = db.api_token_by_hash(&tokens::hash_token(token)).await? else {
        return Ok(None);
    };
    let now = Utc::now();
    if is_expired(&key, now) {
        return Ok(None);
    }
    let Some(viewer) = db
        .user_with_organization(key.user_id)
        .await?
        .filter(|(user, _)| user.may_sign_in())
        .and_then(|(user, organization)| Viewer::of_user(user, organization, 0))
    else {
        return Ok(None);
    };
    let recorded_lately = key
        .last_used_at
        .is_some_and(|at| now - at < LAST_USED_PRECISION);
    if !recorded_lately {
        db.touch_api_token(key.id, now, now - LAST_USED_PRECISION)
            .await?;
    }
    Ok(Some(viewer))
}
