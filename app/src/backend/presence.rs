//! Presence on a ticket's page: each open page reports itself (and whether its reader is
//! writing) every `PRESENCE_EVERY_SECS` and learns who else is there. Staff see everyone by name and
//! what they write; a client sees the people of their organization, and the observatory's
//! staff only as "the observatory is replying" while one of them writes a public reply.

use super::accounts::Viewer;
use super::error::ServiceError;
use super::storage::presence::ViewerRow;
use super::storage::Db;
use super::tickets::load;
use crate::i18n::Msg;
use crate::model::{Composing, PresentViewer, Role, PRESENCE_EVERY_SECS};
use chrono::Utc;
use std::time::Duration;

/// A page not reported for this long is no longer open (its tab was closed, its phone
/// locked, its network lost).
pub const GONE_AFTER: Duration = Duration::from_secs(4 * PRESENCE_EVERY_SECS);

/// Longest tab id a page may send (it makes one up: 16 to 32 letters and digits).
const TAB_MAX_CHARS: usize = 40;

/// What an open page says about itself.
pub struct Report<'a> {
    pub tab: &'a str,
    pub composing: Option<Composing>,
    /// The page is being left: it no longer counts.
    pub leaving: bool,
}

/// Records the viewer's report on the ticket and returns the others on its page, as the
/// viewer may know them.
pub async fn report(
    db: &Db,
    viewer: &Viewer,
    number: &str,
    report: Report<'_>,
) -> Result<Vec<PresentViewer>, ServiceError> {
    let tab = report.tab.trim();
    if tab.is_empty()
        || tab.chars().count() > TAB_MAX_CHARS
        || !tab.chars().all(|c| c.is_ascii_alphanumeric())
    {
        return Err(Msg::ErrorInvalidChoice.into());
    }
    let row = load(db, viewer, number).await?;
    if report.leaving {
        db.forget_viewer(row.id, viewer.user_id, tab).await?;
        return Ok(Vec::new());
    }
    // A client cannot write an internal note: their writing is a reply whatever they say.
    let composing = match report.composing {
        Some(Composing::Note) if !viewer.role.is_staff() => Some(Composing::Reply),
        other => other,
    };
    let now = Utc::now();
    db.note_viewer(
        row.id,
        viewer.user_id,
        tab,
        composing.map(Composing::code),
        now,
    )
    .await?;
    let since = now - chrono::Duration::from_std(GONE_AFTER).unwrap_or_default();
    let others = db.viewers_since(row.id, viewer.user_id, since).await?;
    Ok(as_seen_by(viewer, others))
}

/// The others as the viewer may know them.
fn as_seen_by(viewer: &Viewer, others: Vec<ViewerRow>) -> Vec<PresentViewer> {
    let composing = |row: &ViewerRow| row.composing.as_deref().and_then(Composing::from_code);
    if viewer.role.is_staff() {
        return others
            .iter()
            .map(|row| PresentViewer {
                name: Some(row.name.clone()),
                composing: composing(row),
            })
            .collect();
    }
    let staff_replying = others.iter().any(|row| {
        Role::from_code(&row.role).is_none_or(Role::is_staff)
            && composing(row) == Some(Composing::Reply)
    });
    others
        .iter()
        .filter(|row| Role::from_code(&row.role) == Some(Role::Client))
        .map(|row| PresentViewer {
            name: Some(row.name.clone()),
            composing: composing(row).map(|_| Composing::Reply),
        })
        .chain(staff_replying.then_some(PresentViewer {
            name: None,
            composing: Some(Composing::Reply),
        }))
        .collect()
}

/// Forgets pages that stopped reporting long ago (the housekeeping of the mail worker's loop).
pub async fn purge(db: &Db) -> Result<u64, ServiceError> {
    let before = Utc::now() - chrono::Duration::from_std(GONE_AFTER * 10).unwrap_or_default();
    Ok(db.purge_viewers(before).await?)
}
