//! Personal API keys: a program (an observatory's monitoring software) acts as the person who
//! created the key, with exactly their rights. Keys are shown once and stored only as hashes.

use super::accounts::{AccountError, Viewer};
use super::storage::{Db, StoreError};
use super::tokens;
use crate::i18n::Msg;
use crate::model::ApiTokenInfo;

/// Every key starts with this, so a leaked one is easy to recognise (and to scan for).
pub const PREFIX: &str = "cupula_";
const NAME_MAX_CHARS: usize = 100;

/// Creates a key named `name` for the viewer and returns it.
pub async fn create(db: &Db, viewer: &Viewer, name: &str) -> Result<String, AccountError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(Msg::ErrorNameRequired.into());
    }
    if name.chars().count() > NAME_MAX_CHARS {
        return Err(Msg::ErrorTextTooLong.into());
    }
    let token = format!("{PREFIX}{}", tokens::random_token());
    db.insert_api_token(viewer.user_id, name, &tokens::hash_token(&token))
        .await?;
    Ok(token)
}

pub async fn list(db: &Db, viewer: &Viewer) -> Result<Vec<ApiTokenInfo>, AccountError> {
    Ok(db
        .api_tokens(viewer.user_id)
        .await?
        .into_iter()
        .map(|(id, name, created_at, last_used_at)| ApiTokenInfo {
            id,
            name,
            created_at,
            last_used_at,
        })
        .collect())
}

/// Revokes one of the viewer's keys; anybody else's answers "not found".
pub async fn revoke(db: &Db, viewer: &Viewer, token_id: i64) -> Result<(), AccountError> {
    if db.revoke_api_token(viewer.user_id, token_id).await? {
        Ok(())
    } else {
        Err(Msg::ErrorNotFound.into())
    }
}

/// The person a key acts for, if the key is valid and they may still sign in.
pub async fn authenticate(db: &Db, token: &str) -> Result<Option<Viewer>, StoreError> {
    let Some(secret) = token.strip_prefix(PREFIX) else {
        return Ok(None);
    };
    if secret.len() != 64 || !secret.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Ok(None);
    }
    let Some(user_id) = db.use_api_token(&tokens::hash_token(token)).await? else {
        return Ok(None);
    };
    Ok(db
        .user_with_organization(user_id)
        .await?
        .filter(|(user, _)| user.may_sign_in())
        .and_then(|(user, organization)| Viewer::of_user(user, organization, 0)))
}
