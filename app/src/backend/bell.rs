//! The bell: in-app notifications, written by the notifier with each entry's e-mails and by
//! the same rules (`notifications`), read here by their person.

use super::accounts::Viewer;
use super::error::ServiceError;
use super::storage::Db;
use super::tickets::{entries_told, scope_of};
use crate::model::{Bell, BellItem};
use chrono::Utc;

/// The newest notifications shown.
pub const SHOWN: i64 = 50;

/// The viewer's unread count.
pub async fn unread(db: &Db, viewer: &Viewer) -> Result<i64, ServiceError> {
    Ok(db.bell_unread(scope_of(viewer), viewer.user_id).await?)
}

/// The viewer's unread count and newest notifications.
pub async fn bell(db: &Db, viewer: &Viewer) -> Result<Bell, ServiceError> {
    let scope = scope_of(viewer);
    let rows = db.bell_items(scope, viewer.user_id, SHOWN).await?;
    let entries = entries_told(
        db,
        viewer.observatory_id,
        rows.iter().map(|r| r.entry.clone()).collect(),
    )
    .await?;
    let items = rows
        .into_iter()
        .zip(entries)
        .filter_map(|(row, entry)| {
            Some(BellItem {
                id: row.id,
                read: row.read_at.is_some(),
                entry: entry?,
                number: row.number,
                subject: row.subject,
            })
        })
        .collect();
    Ok(Bell {
        unread: unread(db, viewer).await?,
        items,
    })
}

/// Marks one of the viewer's notifications read, or all of them with `None`.
pub async fn mark_read(db: &Db, viewer: &Viewer, id: Option<i64>) -> Result<(), ServiceError> {
    db.bell_mark_read(viewer.user_id, id, Utc::now()).await?;
    Ok(())
}
