//! Drafts of forms posted without JavaScript. When such a post fails, the browser is sent back
//! to the form's page; what was typed waits here for that page instead of riding in its address,
//! which the browser's history, proxies and server logs keep. A draft is named by a random
//! token in a short-lived cookie (only the token's hash is stored), belongs to the session that
//! posted it (or to none, on forms for the signed-out), is read once, and expires after
//! `DRAFT_LIFETIME`.

use super::storage::drafts::NewFormDraft;
use super::storage::{Db, StoreError};
use super::tokens;
use crate::model::FormDraft;
use chrono::Utc;
use std::collections::BTreeMap;
use std::time::Duration;

/// Long enough for the redirect and a slow phone; short enough not to linger.
pub const DRAFT_LIFETIME: Duration = Duration::from_secs(10 * 60);

/// Keeps what was typed into a form (the fields left empty are not kept) for the page at
/// `path`, in place of the draft `replaces` names (the one the browser held). Returns the token
/// for the cookie, or `None` when nothing was typed.
pub async fn keep(
    db: &Db,
    session_id: Option<i64>,
    path: &str,
    typed: &[(&str, &str)],
    replaces: Option<&str>,
) -> Result<Option<String>, StoreError> {
    let fields: BTreeMap<&str, &str> = typed
        .iter()
        .filter(|(_, value)| !value.is_empty())
        .copied()
        .collect();
    if fields.is_empty() {
        return Ok(None);
    }
    let fields = serde_json::to_string(&fields)
        .map_err(|e| StoreError::Database(sqlx::Error::Encode(Box::new(e))))?;
    let token = tokens::random_token();
    let now = Utc::now();
    let replaced = replaces.map(tokens::hash_token);
    db.insert_form_draft(
        NewFormDraft {
            token_hash: &tokens::hash_token(&token),
            session_id,
            path,
            fields: &fields,
            expires_at: now + DRAFT_LIFETIME,
        },
        replaced.as_deref(),
        now,
    )
    .await?;
    Ok(Some(token))
}

/// The draft `token` names for the page at `path`, taken so that it is shown once. Only the
/// session that kept it (`session_token`, the request's session cookie) gets a signed-in form's
/// draft.
pub async fn take(
    db: &Db,
    token: &str,
    session_token: Option<&str>,
    path: &str,
) -> Result<Option<FormDraft>, StoreError> {
    let session_hash = session_token.map(tokens::hash_token);
    let fields = db
        .take_form_draft(
            &tokens::hash_token(token),
            path,
            session_hash.as_deref(),
            Utc::now(),
        )
        .await?;
    Ok(fields
        .and_then(|json| serde_json::from_str(&json).ok())
        .map(|fields| FormDraft {
            path: path.to_string(),
            fields,
        }))
}
