//! Attached files: resumable uploads, staged files, committing them to a ticket, listing and
//! downloading them. Every rule lives here; the tus endpoints, downloads and the REST API each
//! make one call with the `Viewer` who asks.
//!
//! An upload belongs to the person who began it, not to a ticket: a new request has none while
//! its files upload. Its bytes are appended to a partial file; when the last one arrives the
//! file is checked (its type from its first bytes), hashed and moved to its final name, and it
//! becomes a *staged attachment* of that person. Sending a reply, a request or an API call then
//! *commits* staged attachments to a ticket as one timeline entry. What is never committed
//! expires and is purged with its files (`purge_expired`).

use super::accounts::Viewer;
use super::config::Config;
use super::error::ServiceError;
use super::events::EventBus;
use super::file_types;
use super::files::{new_name, FileStore, StoredFile};
use super::previews;
use super::search::{document_terms, DocumentScope};
use super::storage::attachments::{AttachmentRow, NewAttachmentRow, NewUploadRow, UploadRow};
use super::storage::tickets::{now_micros, NewEntry, TicketRow};
use super::storage::{Db, Tx};
use super::tickets::{self, scope_of};
use super::tokens::{hash_token, random_token};
use crate::i18n::Msg;
use crate::model::{AttachmentInfo, EntryKind, FILE_NAME_MAX_CHARS};
use bytes::Bytes;
use chrono::{DateTime, Duration, Utc};
use futures_util::{Stream, StreamExt};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::SystemTime;

/// How long a partial upload waits for its next byte, and a staged file for its commit.
pub const UPLOAD_EXPIRY: Duration = Duration::hours(24);

/// While bytes stream in, the offset is recorded (after a sync) at least this often, so even a
/// crash of the server loses little of a long upload.
const CHECKPOINT_BYTES: u64 = 16 * 1024 * 1024;

/// How long an upload's writer holds it without renewing. A writer that died (its server was
/// killed) blocks the upload no longer than this; its client's retries then resume.
const WRITER_LEASE: Duration = Duration::seconds(30);

/// A writer's lease is renewed this often while its request runs, whether bytes flow, the
/// client pauses (up to the upload's idle timeout) or the file is being finished.
const RENEW_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// What a person declares when an upload begins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUpload {
    /// The file's name on their device (only shown; the stored name is the server's).
    pub name: String,
    /// Its size in bytes.
    pub length: u64,
}

/// Where an upload stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UploadState {
    /// Random (256 bits, hexadecimal): names the upload in addresses such as `/uploads/{id}`.
    pub id: String,
    /// Bytes the server has: where the upload resumes.
    pub offset: u64,
    pub length: u64,
    pub expires_at: DateTime<Utc>,
    /// Once complete: the staged attachment it became (commit it with its `id`).
    pub attachment: Option<AttachmentInfo>,
}

/// A file to send, after its access was checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Download {
    pub info: AttachmentInfo,
    pub file: StoredFile,
}

/// What `purge_expired` removed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Purged {
    /// Upload records (with the partial file of those never completed).
    pub uploads: usize,
    /// Staged attachments with their files.
    pub staged: usize,
}

fn info_of(row: &AttachmentRow) -> AttachmentInfo {
    AttachmentInfo {
        id: row.id.clone(),
        name: row.name.clone(),
        size: u64::try_from(row.size).unwrap_or(0),
        content_type: row.content_type.clone(),
        sha256: row.sha256.clone(),
        created_at: row.created_at,
        internal: row.internal,
        inline: row.inline,
        preview: previews::size_of(row.preview_width, row.preview_height),
        display: previews::size_of(row.display_width, row.display_height),
    }
}

/// A file name as shown: its last path component, without control characters, at most
/// `FILE_NAME_MAX_CHARS` (cut before the extension, which is kept).
fn clean_name(name: &str) -> Result<String, ServiceError> {
    let last = name.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        // Control characters, and the direction marks that could show `gpj.exe` as `exe.jpg`.
        .filter(|c| !c.is_control() && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .collect::<String>()
        .trim()
        .to_string();
    if cleaned.is_empty() || cleaned == "." || cleaned == ".." {
        return Err(Msg::ErrorFileNameRequired.into());
    }
    if cleaned.chars().count() <= FILE_NAME_MAX_CHARS {
        return Ok(cleaned);
    }
    let extension = cleaned
        .rsplit_once('.')
        .map(|(_, ext)| ext)
        .filter(|ext| ext.chars().count() <= 16)
        .unwrap_or("");
    let keep = FILE_NAME_MAX_CHARS - extension.chars().count() - 1;
    let stem: String = cleaned.chars().take(keep).collect();
    Ok(if extension.is_empty() {
        cleaned.chars().take(FILE_NAME_MAX_CHARS).collect()
    } else {
        format!("{}.{extension}", stem.trim_end())
    })
}

fn to_i64(bytes: u64) -> Result<i64, ServiceError> {
    i64::try_from(bytes).map_err(|_| Msg::ErrorFileTooLarge.into())
}

/// Begins an upload of the viewer's. A file over the per-file limit, or over what the client's
/// organization has left of its quota, is refused at once. Staff files count against the
/// ticket's organization when they are committed.
pub async fn begin_upload(
    db: &Db,
    config: &Config,
    viewer: &Viewer,
    declared: NewUpload,
) -> Result<UploadState, ServiceError> {
    let name = clean_name(&declared.name)?;
    if declared.length == 0 {
        return Err(Msg::ErrorFileEmpty.into());
    }
    if declared.length > config.max_file_bytes {
        return Err(Msg::ErrorFileTooLarge.into());
    }
    if declared.length > config.max_request_files_bytes {
        return Err(Msg::ErrorRequestFilesTooLarge.into());
    }
    let length = to_i64(declared.length)?;
    let now = now_micros();
    let organization_id = if viewer.role.is_staff() {
        None
    } else {
        let organization_id = viewer.organization_id.ok_or(Msg::ErrorNotFound)?;
        let used = db
            .organization_usage(viewer.observatory_id, organization_id, now)
            .await?;
        if used.saturating_add(length) > to_i64(config.organization_quota_bytes)? {
            return Err(Msg::ErrorQuotaExceeded.into());
        }
        Some(organization_id)
    };
    let id = random_token();
    let expires_at = now + UPLOAD_EXPIRY;
    db.insert_upload(NewUploadRow {
        token_hash: &hash_token(&id),
        observatory_id: viewer.observatory_id,
        user_id: viewer.user_id,
        organization_id,
        name: &name,
        length,
        storage_name: &new_name(),
        now,
        expires_at,
    })
    .await?;
    Ok(UploadState {
        id,
        offset: 0,
        length: declared.length,
        expires_at,
        attachment: None,
    })
}

/// The viewer's upload with this id; anybody else's, or an expired one, is not found.
async fn upload_of(db: &Db, viewer: &Viewer, id: &str) -> Result<UploadRow, ServiceError> {
    db.upload_of(
        viewer.observatory_id,
        viewer.user_id,
        &hash_token(id.trim()),
        Utc::now(),
    )
    .await?
    .ok_or(Msg::ErrorNotFound.into())
}

async fn state_of(
    db: &Db,
    viewer: &Viewer,
    id: &str,
    row: &UploadRow,
) -> Result<UploadState, ServiceError> {
    let attachment = match &row.attachment_id {
        Some(attachment_id) => db
            .attachment_in_scope(scope_of(viewer), viewer.user_id, attachment_id, Utc::now())
            .await?
            .map(|a| info_of(&a)),
        None => None,
    };
    Ok(UploadState {
        id: id.trim().to_string(),
        offset: u64::try_from(row.received).unwrap_or(0),
        length: u64::try_from(row.length).unwrap_or(0),
        expires_at: row.expires_at,
        attachment,
    })
}

/// Where the viewer's upload stands (a tus `HEAD`).
pub async fn upload_state(db: &Db, viewer: &Viewer, id: &str) -> Result<UploadState, ServiceError> {
    let row = upload_of(db, viewer, id).await?;
    state_of(db, viewer, id, &row).await
}

/// Appends the bytes of `body` to the viewer's upload at `offset`, which must be where the
/// upload stands (`ErrorUploadOffsetConflict` otherwise, also while another request is
/// appending to it). Bytes go to the disk as they arrive, never more than one chunk in memory;
/// past the declared length the upload stops (`ErrorFileLongerThanDeclared`). What reached the
/// disk is kept when the stream fails (`ErrorUploadInterrupted`), so the upload resumes from
/// there. When the last byte arrives the file is checked and becomes a staged attachment, named
/// in the answer; a type not on the allowlist deletes it (`ErrorFileTypeNotAllowed`).
pub async fn append<S>(
    db: &Db,
    store: &FileStore,
    viewer: &Viewer,
    id: &str,
    offset: u64,
    body: S,
) -> Result<UploadState, ServiceError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send,
{
    let row = upload_of(db, viewer, id).await?;
    if row.attachment_id.is_some() || offset != u64::try_from(row.received).unwrap_or(0) {
        return Err(Msg::ErrorUploadOffsetConflict.into());
    }
    let lease = WriterLease::claim(db, row.id)
        .await?
        .ok_or(Msg::ErrorUploadOffsetConflict)?;
    // Read again under the lease: another writer may have moved it on meanwhile.
    let row = upload_of(db, viewer, id).await?;
    let outcome =
        if row.attachment_id.is_some() || offset != u64::try_from(row.received).unwrap_or(0) {
            Err(Msg::ErrorUploadOffsetConflict.into())
        } else {
            append_leased(db, store, &lease, &row, body).await
        };
    lease.release().await;
    outcome?;
    let row = upload_of(db, viewer, id).await?;
    state_of(db, viewer, id, &row).await
}

/// `append` once the writer's lease is held.
async fn append_leased<S>(
    db: &Db,
    store: &FileStore,
    lease: &WriterLease,
    row: &UploadRow,
    mut body: S,
) -> Result<(), ServiceError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send,
{
    let length = u64::try_from(row.length).unwrap_or(0);
    let stored = u64::try_from(row.received).unwrap_or(0);
    let mut writer = store.open_partial(&row.storage_name, stored).await?;
    let mut received = stored;
    let mut recorded = stored;
    let mut failure: Option<ServiceError> = None;
    while received < length {
        let chunk = match body.next().await {
            None => break,
            Some(Ok(chunk)) => chunk,
            Some(Err(e)) => {
                tracing::debug!("upload {} cut at {received}: {e}", row.id);
                failure = Some(Msg::ErrorUploadInterrupted.into());
                break;
            }
        };
        if received + chunk.len() as u64 > length {
            failure = Some(Msg::ErrorFileLongerThanDeclared.into());
            break;
        }
        // A lease lost (its renewal failed) writes nothing more, not even what is buffered.
        lease.holds()?;
        if let Err(e) = writer.write(&chunk).await {
            failure = Some(e.into());
            break;
        }
        received += chunk.len() as u64;
        if received - recorded >= CHECKPOINT_BYTES && received < length {
            lease.holds()?;
            writer.sync().await?;
            lease.checkpoint(received).await?;
            recorded = received;
        }
    }
    // A body that goes on past the declared length is refused too.
    if failure.is_none() && received == length {
        if let Some(Ok(extra)) = body.next().await {
            if !extra.is_empty() {
                failure = Some(Msg::ErrorFileLongerThanDeclared.into());
            }
        }
    }
    lease.holds()?;
    writer.sync().await?;
    drop(writer);
    if received != recorded {
        lease.checkpoint(received).await?;
    }
    if let Some(failure) = failure {
        return Err(failure);
    }
    if received == length {
        finish(db, store, row).await?;
    }
    Ok(())
}

/// The lease of an upload's one writer (see the `uploads.writer` column): taken before the
/// first byte is written, renewed by a task of its own every `RENEW_EVERY` while it is held,
/// given back at the end. A renewal that fails (the database unreachable, or the lease lapsed
/// and another writer took it) marks the lease lost at once, while it is still valid: the
/// writer then stops before its next write. Dropped without `release` (the request was
/// abandoned), it is given back by a task of its own.
struct WriterLease {
    db: Db,
    upload_id: i64,
    writer: String,
    lost: Arc<AtomicBool>,
    keeper: tokio::task::JoinHandle<()>,
    released: bool,
}

impl WriterLease {
    async fn claim(db: &Db, upload_id: i64) -> Result<Option<WriterLease>, ServiceError> {
        let writer = random_token();
        let now = now_micros();
        if !db
            .claim_upload_writer(upload_id, &writer, now, now + WRITER_LEASE)
            .await?
        {
            return Ok(None);
        }
        let lost = Arc::new(AtomicBool::new(false));
        let keeper = tokio::spawn({
            let (db, writer, lost) = (db.clone(), writer.clone(), lost.clone());
            async move {
                loop {
                    tokio::time::sleep(RENEW_EVERY).await;
                    let now = now_micros();
                    let renewed = db
                        .renew_upload_writer(upload_id, &writer, now, now + WRITER_LEASE)
                        .await;
                    if !matches!(renewed, Ok(true)) {
                        tracing::warn!("upload {upload_id}: its writer lease was lost");
                        lost.store(true, Ordering::SeqCst);
                        return;
                    }
                }
            }
        });
        Ok(Some(WriterLease {
            db: db.clone(),
            upload_id,
            writer,
            lost,
            keeper,
            released: false,
        }))
    }

    /// `ErrorUploadOffsetConflict` once the lease is lost.
    fn holds(&self) -> Result<(), ServiceError> {
        if self.lost.load(Ordering::SeqCst) {
            Err(Msg::ErrorUploadOffsetConflict.into())
        } else {
            Ok(())
        }
    }

    /// Records `received` bytes as held by the store (and renews the lease), if still held.
    async fn checkpoint(&self, received: u64) -> Result<(), ServiceError> {
        self.holds()?;
        let now = now_micros();
        if self
            .db
            .record_written(
                self.upload_id,
                &self.writer,
                to_i64(received)?,
                now + UPLOAD_EXPIRY,
                now + WRITER_LEASE,
            )
            .await?
        {
            Ok(())
        } else {
            Err(Msg::ErrorUploadOffsetConflict.into())
        }
    }

    async fn release(mut self) {
        self.released = true;
        self.keeper.abort();
        if let Err(e) = self
            .db
            .release_upload_writer(self.upload_id, &self.writer)
            .await
        {
            tracing::warn!(
                "upload {}: giving back its writer lease: {e}",
                self.upload_id
            );
        }
    }
}

impl Drop for WriterLease {
    fn drop(&mut self) {
        self.keeper.abort();
        if self.released {
            return;
        }
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            let (db, upload_id, writer) = (self.db.clone(), self.upload_id, self.writer.clone());
            runtime.spawn(async move {
                let _ = db.release_upload_writer(upload_id, &writer).await;
            });
        }
    }
}

/// Stages a whole file sent in one piece whose length is not said beforehand (a field of a
/// multipart form): an upload whose declared length is the most it may be (the file limit, or
/// what the organization has left), settled to where the bytes end, then checked and staged
/// like any finished upload. Nothing of a refused file is kept.
pub async fn stage_whole<S>(
    db: &Db,
    store: &FileStore,
    config: &Config,
    viewer: &Viewer,
    name: &str,
    body: S,
) -> Result<AttachmentInfo, ServiceError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send,
{
    let mut ceiling = config.max_file_bytes.min(config.max_request_files_bytes);
    let mut quota_bound = false;
    if let (false, Some(organization_id)) = (viewer.role.is_staff(), viewer.organization_id) {
        let used = db
            .organization_usage(viewer.observatory_id, organization_id, now_micros())
            .await?;
        let left = config
            .organization_quota_bytes
            .saturating_sub(u64::try_from(used).unwrap_or(0));
        if left < ceiling {
            ceiling = left;
            quota_bound = true;
        }
    }
    if ceiling == 0 {
        return Err(Msg::ErrorQuotaExceeded.into());
    }
    let declared = NewUpload {
        name: name.to_string(),
        length: ceiling,
    };
    let upload = begin_upload(db, config, viewer, declared).await?;
    let outcome = append(db, store, viewer, &upload.id, 0, body).await;
    let state = match outcome {
        Ok(state) => state,
        Err(err) => {
            let _ = cancel_upload(db, store, viewer, &upload.id).await;
            return Err(match err {
                ServiceError::User(Msg::ErrorFileLongerThanDeclared) if quota_bound => {
                    Msg::ErrorQuotaExceeded.into()
                }
                ServiceError::User(Msg::ErrorFileLongerThanDeclared) => {
                    Msg::ErrorFileTooLarge.into()
                }
                other => other,
            });
        }
    };
    if let Some(attachment) = state.attachment {
        return Ok(attachment);
    }
    // The bytes ended before the ceiling: that is the file's length.
    let row = upload_of(db, viewer, &upload.id).await?;
    if row.received == 0 {
        let _ = cancel_upload(db, store, viewer, &upload.id).await;
        return Err(Msg::ErrorFileEmpty.into());
    }
    db.settle_upload_length(row.id, row.received).await?;
    let row = upload_of(db, viewer, &upload.id).await?;
    finish(db, store, &row).await?;
    let row = upload_of(db, viewer, &upload.id).await?;
    state_of(db, viewer, &upload.id, &row)
        .await?
        .attachment
        .ok_or_else(|| Msg::ErrorInternal.into())
}

/// Checks a complete upload and makes it a staged attachment of its owner.
async fn finish(db: &Db, store: &FileStore, row: &UploadRow) -> Result<(), ServiceError> {
    store
        .complete_partial(&row.storage_name, row.length as u64)
        .await?;
    let mut head = store
        .read_partial_head(&row.storage_name, file_types::HEAD_BYTES)
        .await?;
    if file_types::is_ole(&head) && row.length as u64 <= file_types::OLE_MAX_BYTES {
        head = store
            .read_partial_head(&row.storage_name, file_types::OLE_MAX_BYTES as usize)
            .await?;
    }
    let Some(file_type) = file_types::detect(&head, &row.name) else {
        db.delete_upload(row.id).await?;
        store.delete_partial(&row.storage_name).await?;
        return Err(Msg::ErrorFileTypeNotAllowed.into());
    };
    drop(head);
    let sha256 = store.partial_sha256(&row.storage_name).await?;
    // Moved into place only now, complete and verified; a crash before the row below is
    // written leaves a file no row names, which `remove_orphans` deletes.
    let storage_name = store.finish(&row.storage_name).await?;
    let now = now_micros();
    let attachment_id = random_token();
    let finished = db
        .finish_upload(
            row,
            NewAttachmentRow {
                id: &attachment_id,
                name: &row.name,
                size: row.length,
                content_type: file_type.content_type,
                inline: file_type.inline,
                sha256: &sha256,
                storage_name: &storage_name,
                now,
                expires_at: now + UPLOAD_EXPIRY,
            },
        )
        .await?;
    if !finished {
        // Another request finished it (only possible if this one's lease lapsed); a file of this
        // one's that no row names is left to the orphan sweep.
        return Err(Msg::ErrorUploadOffsetConflict.into());
    }
    previews::schedule(db, store, &attachment_id);
    Ok(())
}

/// Cancels the viewer's upload (a tus `DELETE`): its partial file goes, or the staged file it
/// became if not committed yet.
pub async fn cancel_upload(
    db: &Db,
    store: &FileStore,
    viewer: &Viewer,
    id: &str,
) -> Result<(), ServiceError> {
    let row = upload_of(db, viewer, id).await?;
    if let Some(attachment_id) = &row.attachment_id {
        return discard_staged(db, store, viewer, attachment_id).await;
    }
    // Held while deleting, so no writer appends to a file that is going.
    let lease = WriterLease::claim(db, row.id)
        .await?
        .ok_or(Msg::ErrorUploadOffsetConflict)?;
    db.delete_upload(row.id).await?;
    store.delete_partial(&row.storage_name).await?;
    lease.release().await;
    Ok(())
}

/// Removes one of the viewer's staged files (taken out of a form before sending). Committed
/// files stay: the timeline is append-only.
pub async fn discard_staged(
    db: &Db,
    store: &FileStore,
    viewer: &Viewer,
    attachment_id: &str,
) -> Result<(), ServiceError> {
    let files = db
        .delete_staged(viewer.observatory_id, viewer.user_id, attachment_id.trim())
        .await?
        .ok_or(Msg::ErrorNotFound)?;
    for name in files.names() {
        store.delete(&name).await?;
    }
    Ok(())
}

/// Commits the viewer's staged attachments to a ticket as one timeline entry (`internal`, like
/// a note, only for staff), with a ticket event. Returns the entry's id.
pub async fn commit(
    db: &Db,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    ticket_number: &str,
    attachment_ids: &[String],
    internal: bool,
) -> Result<i64, ServiceError> {
    let ticket = tickets::writable_ticket(db, viewer, ticket_number, internal).await?;
    let now = now_micros();
    let mut tx = db.begin().await?;
    tickets::lock_for_writing(&mut tx, viewer, &ticket, now).await?;
    let staged = staged_for_commit(&mut tx, config, viewer, &ticket, attachment_ids, now).await?;
    let body = staged
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    let entry_id = tx
        .append_entry(
            ticket.observatory_id,
            ticket.id,
            NewEntry {
                kind: EntryKind::Attachment.code(),
                internal,
                author_id: Some(viewer.user_id),
                body: &body,
                old_value: None,
                new_value: None,
                terms: Some(document_terms(
                    &body,
                    DocumentScope {
                        observatory_id: ticket.observatory_id,
                        organization_id: ticket.organization_id,
                        internal,
                    },
                )),
            },
            now,
        )
        .await?;
    attach_in_tx(&mut tx, viewer, &ticket, &staged, entry_id, internal, now).await?;
    tx.commit().await?;
    events.committed();
    Ok(entry_id)
}

/// The viewer's staged attachments `ids`, checked for a commit to `ticket` within `tx`: each
/// must be theirs and staged (`ErrorNotFound` otherwise), together within the per-request
/// limit and the ticket's organization's quota. For services that commit files together with
/// their own entry (a message, a new request) in one transaction; the transaction must have
/// written first (`Tx::touch_ticket`), so the quota it reads cannot change under it.
pub(crate) async fn staged_for_commit(
    tx: &mut Tx,
    config: &Config,
    viewer: &Viewer,
    ticket: &TicketRow,
    ids: &[String],
    now: DateTime<Utc>,
) -> Result<Vec<AttachmentRow>, ServiceError> {
    let wanted: HashSet<&str> = ids.iter().map(|id| id.trim()).collect();
    if wanted.is_empty() {
        return Err(Msg::ErrorNoFiles.into());
    }
    let wanted: Vec<String> = wanted.into_iter().map(str::to_string).collect();
    let staged = tx
        .staged(viewer.observatory_id, viewer.user_id, &wanted, now)
        .await?;
    if staged.len() != wanted.len() {
        return Err(Msg::ErrorNotFound.into());
    }
    let total: i64 = staged.iter().map(|a| a.size).sum();
    if total > to_i64(config.max_request_files_bytes)? {
        return Err(Msg::ErrorRequestFilesTooLarge.into());
    }
    tx.lock_organization(ticket.organization_id).await?;
    let used = tx
        .organization_usage(ticket.observatory_id, ticket.organization_id, now)
        .await?;
    // The client's own staged files already count against their organization.
    let counted: i64 = staged
        .iter()
        .filter(|a| a.organization_id == Some(ticket.organization_id))
        .map(|a| a.size)
        .sum();
    if used - counted + total > to_i64(config.organization_quota_bytes)? {
        return Err(Msg::ErrorQuotaExceeded.into());
    }
    Ok(staged)
}

/// Points checked staged attachments (`staged_for_commit`) at the timeline entry `entry_id`.
pub(crate) async fn attach_in_tx(
    tx: &mut Tx,
    viewer: &Viewer,
    ticket: &TicketRow,
    staged: &[AttachmentRow],
    entry_id: i64,
    internal: bool,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let ids: Vec<String> = staged.iter().map(|a| a.id.clone()).collect();
    let committed = tx
        .commit_staged(
            viewer.observatory_id,
            viewer.user_id,
            &ids,
            ticket.id,
            ticket.organization_id,
            entry_id,
            internal,
            now,
        )
        .await?;
    if committed != ids.len() as u64 {
        return Err(Msg::ErrorNotFound.into());
    }
    Ok(())
}

/// The files of a ticket the viewer may see (internal ones only for staff), in order.
pub async fn list(
    db: &Db,
    viewer: &Viewer,
    ticket_number: &str,
) -> Result<Vec<AttachmentInfo>, ServiceError> {
    let scope = scope_of(viewer);
    let ticket = db
        .ticket_by_number(scope, ticket_number.trim())
        .await?
        .ok_or(Msg::ErrorNotFound)?;
    Ok(db
        .ticket_attachments(scope, ticket.id)
        .await?
        .iter()
        .map(info_of)
        .collect())
}

/// The files of a ticket's timeline entries the viewer may see, by entry.
pub(crate) async fn by_entry(
    db: &Db,
    viewer: &Viewer,
    ticket_id: i64,
) -> Result<Vec<(i64, AttachmentInfo)>, ServiceError> {
    Ok(db
        .ticket_attachments(scope_of(viewer), ticket_id)
        .await?
        .iter()
        .filter_map(|a| Some((a.entry_id?, info_of(a))))
        .collect())
}

/// A file to download, checked by the rules of tickets: a staged file only for its owner, a
/// committed one through its ticket's scope, an internal one only for staff. Anything else is
/// not found.
pub async fn for_download(
    db: &Db,
    store: &FileStore,
    viewer: &Viewer,
    attachment_id: &str,
) -> Result<Download, ServiceError> {
    let row = db
        .attachment_in_scope(
            scope_of(viewer),
            viewer.user_id,
            attachment_id.trim(),
            Utc::now(),
        )
        .await?
        .ok_or(Msg::ErrorNotFound)?;
    Ok(Download {
        info: info_of(&row),
        file: store.stored(&row.storage_name)?,
    })
}

/// Deletes uploads that expired (24 hours after their last byte) with their partial files, and
/// staged attachments never committed with theirs. Safe to run at any time, from several
/// tasks: rows go first, so a crash leaves at worst files no row names (`remove_orphans`).
pub async fn purge_expired(
    db: &Db,
    store: &FileStore,
    now: DateTime<Utc>,
) -> Result<Purged, ServiceError> {
    let mut purged = Purged::default();
    for upload in db.expired_uploads(now).await? {
        db.delete_upload(upload.id).await?;
        if !upload.finished {
            store.delete_partial(&upload.storage_name).await?;
        }
        purged.uploads += 1;
    }
    for files in db.delete_expired_staged(now).await? {
        for name in files.names() {
            store.delete(&name).await?;
        }
        purged.staged += 1;
    }
    Ok(purged)
}

/// Deletes the store's files that no row names and that were last written before
/// `modified_before` (files younger than that may be about to be recorded). At start-up, before
/// serving, pass the start time; from a periodic task, an hour ago. Returns how many went.
pub async fn remove_orphans(
    db: &Db,
    store: &FileStore,
    modified_before: DateTime<Utc>,
) -> Result<usize, ServiceError> {
    let cutoff = SystemTime::from(modified_before);
    let (partial, finished): (Vec<_>, Vec<_>) = store
        .list()
        .await?
        .into_iter()
        .filter(|file| file.modified < cutoff)
        .partition(|file| file.partial);
    let partial: Vec<String> = partial.into_iter().map(|f| f.name).collect();
    let finished: Vec<String> = finished.into_iter().map(|f| f.name).collect();
    let listed: Vec<String> = partial.iter().chain(&finished).cloned().collect();
    let in_use: HashSet<String> = db.store_names_in_use(&listed).await?.into_iter().collect();
    let mut removed = 0;
    for name in partial.iter().filter(|n| !in_use.contains(*n)) {
        store.delete_partial(name).await?;
        removed += 1;
    }
    for name in finished.iter().filter(|n| !in_use.contains(*n)) {
        store.delete(name).await?;
        removed += 1;
    }
    Ok(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_lose_paths_and_control_characters_and_keep_their_extension() {
        assert_eq!(clean_name("C:\\fotos\\cúpula.jpg").unwrap(), "cúpula.jpg");
        assert_eq!(clean_name("../../etc/passwd").unwrap(), "passwd");
        assert_eq!(clean_name("a\u{0}b\r\n.txt").unwrap(), "ab.txt");
        assert_eq!(clean_name("foto\u{202E}gpj.exe").unwrap(), "fotogpj.exe");
        assert!(clean_name("dir/").is_err());
        assert!(clean_name(" .. ").is_err());
        let long = format!("{}.mp4", "x".repeat(500));
        let cut = clean_name(&long).unwrap();
        assert_eq!(cut.chars().count(), FILE_NAME_MAX_CHARS);
        assert!(cut.ends_with(".mp4"));
    }
}
