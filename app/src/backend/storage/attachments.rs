//! SQL for uploads in progress and attached files.
//!
//! An upload belongs to the person who began it; when complete it becomes a staged attachment
//! of theirs (no ticket yet), and committing points it at a ticket's timeline entry. Reads are
//! scoped like tickets' (`TicketScope`), plus the owner for staged files.

use super::tickets::{bind_args, Arg, Conditions, TicketScope};
use super::{on_pool, on_tx, BeginWrite, Db, StoreError, Tx};
use chrono::{DateTime, Utc};

/// An upload in progress (or finished, until it expires), as its owner resumes it.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct UploadRow {
    pub id: i64,
    pub observatory_id: i64,
    pub user_id: i64,
    /// A client's organization, whose quota it counts against from the start; `None` for staff.
    pub organization_id: Option<i64>,
    pub name: String,
    pub length: i64,
    pub received: i64,
    /// The partial file's server-made name.
    pub storage_name: String,
    /// Once complete: the staged attachment it became.
    pub attachment_id: Option<String>,
    pub expires_at: DateTime<Utc>,
}

pub struct NewUploadRow<'a> {
    pub token_hash: &'a str,
    pub observatory_id: i64,
    pub user_id: i64,
    pub organization_id: Option<i64>,
    pub name: &'a str,
    pub length: i64,
    pub storage_name: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An attached file, staged or committed.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentRow {
    pub id: String,
    pub observatory_id: i64,
    pub owner_id: i64,
    /// Whose quota it counts against: a client's organization from the start, the ticket's
    /// once committed; `None` while a staff member's file is staged.
    pub organization_id: Option<i64>,
    pub ticket_id: Option<i64>,
    pub entry_id: Option<i64>,
    pub internal: bool,
    pub name: String,
    pub size: i64,
    pub content_type: String,
    pub inline: bool,
    pub sha256: String,
    pub storage_name: String,
    pub created_at: DateTime<Utc>,
    /// Staged files are purged then; `None` once committed.
    pub expires_at: Option<DateTime<Utc>>,
    /// Its preview's file and size, once made (`backend::previews`).
    pub preview_name: Option<String>,
    pub preview_width: Option<i32>,
    pub preview_height: Option<i32>,
    /// The larger picture of an image for the lightbox, when it is larger than its preview.
    pub display_name: Option<String>,
    pub display_width: Option<i32>,
    pub display_height: Option<i32>,
}

/// The files of a deleted attachment, for the store to delete too.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct AttachmentFiles {
    pub storage_name: String,
    pub preview_name: Option<String>,
    pub display_name: Option<String>,
}

impl AttachmentFiles {
    /// The file and its previews.
    pub fn names(self) -> Vec<String> {
        std::iter::once(self.storage_name)
            .chain(self.preview_name)
            .chain(self.display_name)
            .collect()
    }
}

const ATTACHMENT_COLUMNS: &str = "a.id, a.observatory_id, a.owner_id, a.organization_id, \
    a.ticket_id, a.entry_id, a.internal, a.name, a.size, a.content_type, a.inline, a.sha256, \
    a.storage_name, a.created_at, a.expires_at, a.preview_name, a.preview_width, \
    a.preview_height, a.display_name, a.display_width, a.display_height";

const UPLOAD_COLUMNS: &str = "id, observatory_id, user_id, organization_id, name, length, \
    received, storage_name, attachment_id, expires_at";

/// What a finished upload records of its file.
pub struct NewAttachmentRow<'a> {
    pub id: &'a str,
    pub name: &'a str,
    pub size: i64,
    pub content_type: &'a str,
    pub inline: bool,
    pub sha256: &'a str,
    pub storage_name: &'a str,
    pub now: DateTime<Utc>,
    pub expires_at: DateTime<Utc>,
}

/// An expired upload the purge removes.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct ExpiredUpload {
    pub id: i64,
    pub storage_name: String,
    /// Complete uploads have no partial file left (it became the attachment's).
    pub finished: bool,
}

impl Db {
    pub async fn insert_upload(&self, new: NewUploadRow<'_>) -> Result<i64, StoreError> {
        let id = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "INSERT INTO uploads (token_hash, observatory_id, user_id, organization_id, name, \
                 length, received, storage_name, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, 0, $7, $8, $9) RETURNING id",
            )
            .bind(new.token_hash)
            .bind(new.observatory_id)
            .bind(new.user_id)
            .bind(new.organization_id)
            .bind(new.name)
            .bind(new.length)
            .bind(new.storage_name)
            .bind(new.now)
            .bind(new.expires_at)
            .fetch_one(pool)
            .await
        })?;
        Ok(id)
    }

    /// The person's upload with this token hash, unless it expired.
    pub async fn upload_of(
        &self,
        observatory_id: i64,
        user_id: i64,
        token_hash: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<UploadRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT {UPLOAD_COLUMNS} FROM uploads WHERE token_hash = $1 \
                 AND observatory_id = $2 AND user_id = $3 AND expires_at > $4"
            ))
            .bind(token_hash)
            .bind(observatory_id)
            .bind(user_id)
            .bind(now)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// Takes the writer's lease of an unfinished upload for `writer` until `until`, unless
    /// another writer holds it past `now`. Whether it was taken.
    pub async fn claim_upload_writer(
        &self,
        upload_id: i64,
        writer: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE uploads SET writer = $1, writer_until = $2 \
                 WHERE id = $3 AND attachment_id IS NULL \
                 AND (writer_until IS NULL OR writer_until <= $4)",
            )
            .bind(writer)
            .bind(until)
            .bind(upload_id)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Extends the writer's lease until `until`, if `writer` holds it and it has not lapsed by
    /// `now`. Whether it did.
    pub async fn renew_upload_writer(
        &self,
        upload_id: i64,
        writer: &str,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE uploads SET writer_until = $1 \
                 WHERE id = $2 AND writer = $3 AND writer_until > $4",
            )
            .bind(until)
            .bind(upload_id)
            .bind(writer)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Records how many bytes of an upload the store holds and extends its writer's lease,
    /// only if `writer` still holds it. Whether it did.
    pub async fn record_written(
        &self,
        upload_id: i64,
        writer: &str,
        received: i64,
        expires_at: DateTime<Utc>,
        writer_until: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let done = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE uploads SET received = $1, expires_at = $2, writer_until = $3 \
                 WHERE id = $4 AND writer = $5 AND attachment_id IS NULL",
            )
            .bind(received)
            .bind(expires_at)
            .bind(writer_until)
            .bind(upload_id)
            .bind(writer)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(done == 1)
    }

    /// Gives back the writer's lease (if `writer` still holds it).
    pub async fn release_upload_writer(
        &self,
        upload_id: i64,
        writer: &str,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE uploads SET writer = NULL, writer_until = NULL \
                 WHERE id = $1 AND writer = $2",
            )
            .bind(upload_id)
            .bind(writer)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Ends an upload whose length was not known beforehand where its bytes ended.
    pub async fn settle_upload_length(
        &self,
        upload_id: i64,
        length: i64,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE uploads SET length = $1 \
                 WHERE id = $2 AND attachment_id IS NULL AND received = $1",
            )
            .bind(length)
            .bind(upload_id)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    pub async fn delete_upload(&self, upload_id: i64) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query("DELETE FROM uploads WHERE id = $1")
                .bind(upload_id)
                .execute(pool)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }

    /// Turns a complete upload into a staged attachment of its owner, in one transaction.
    /// Whether it did: `false` when the upload was finished already (nothing is written then).
    pub async fn finish_upload(
        &self,
        upload: &UploadRow,
        new: NewAttachmentRow<'_>,
    ) -> Result<bool, StoreError> {
        on_pool!(self, |pool| {
            let mut tx = pool.begin_write().await?;
            sqlx::query(
                "INSERT INTO attachments (id, observatory_id, owner_id, organization_id, name, \
                 size, content_type, inline, sha256, storage_name, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
            )
            .bind(new.id)
            .bind(upload.observatory_id)
            .bind(upload.user_id)
            .bind(upload.organization_id)
            .bind(new.name)
            .bind(new.size)
            .bind(new.content_type)
            .bind(new.inline)
            .bind(new.sha256)
            .bind(new.storage_name)
            .bind(new.now)
            .bind(new.expires_at)
            .execute(&mut *tx)
            .await?;
            let finished = sqlx::query(
                "UPDATE uploads SET received = length, attachment_id = $1, expires_at = $2 \
                 WHERE id = $3 AND attachment_id IS NULL",
            )
            .bind(new.id)
            .bind(new.expires_at)
            .bind(upload.id)
            .execute(&mut *tx)
            .await?
            .rows_affected();
            // Finished meanwhile by another request: nothing of this one is kept.
            if finished != 1 {
                return Ok(false);
            }
            tx.commit().await?;
            Ok::<_, StoreError>(true)
        })
    }

    /// Bytes the organization holds or has been promised: its committed files, its clients'
    /// staged files and the declared lengths of their uploads in progress (expired ones apart).
    pub async fn organization_usage(
        &self,
        observatory_id: i64,
        organization_id: i64,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let used = on_pool!(self, |pool| {
            sqlx::query_scalar(USAGE_SQL)
                .bind(observatory_id)
                .bind(organization_id)
                .bind(now)
                .fetch_one(pool)
                .await
        })?;
        Ok(used)
    }

    /// An attachment the viewer may read: a staged one only by its owner, a committed one
    /// through its ticket's scope (internal ones only for staff).
    pub async fn attachment_in_scope(
        &self,
        scope: TicketScope,
        user_id: i64,
        attachment_id: &str,
        now: DateTime<Utc>,
    ) -> Result<Option<AttachmentRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT {ATTACHMENT_COLUMNS} FROM attachments a \
                 LEFT JOIN tickets t ON t.id = a.ticket_id \
                 WHERE a.id = $1 AND a.observatory_id = $2 AND ( \
                   (a.ticket_id IS NULL AND a.owner_id = $3 AND a.expires_at > $4) \
                   OR (t.observatory_id = $2 AND ($5 = 0 OR t.organization_id = $5) \
                       AND ($6 OR NOT a.internal)))"
            ))
            .bind(attachment_id)
            .bind(scope.observatory_id)
            .bind(user_id)
            .bind(now)
            .bind(scope.organization_id.unwrap_or(0))
            .bind(scope.internal)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// The files committed to a ticket (already known to be in the reader's scope), in order;
    /// internal ones only when the scope allows.
    pub async fn ticket_attachments(
        &self,
        scope: TicketScope,
        ticket_id: i64,
    ) -> Result<Vec<AttachmentRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "SELECT {ATTACHMENT_COLUMNS} FROM attachments a \
                 WHERE a.ticket_id = $1 AND a.observatory_id = $2 AND ($3 OR NOT a.internal) \
                 ORDER BY a.entry_id, a.created_at, a.id"
            ))
            .bind(ticket_id)
            .bind(scope.observatory_id)
            .bind(scope.internal)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Deletes a staged attachment of its owner (and its upload), returning its files' names.
    pub async fn delete_staged(
        &self,
        observatory_id: i64,
        owner_id: i64,
        attachment_id: &str,
    ) -> Result<Option<AttachmentFiles>, StoreError> {
        let name = on_pool!(self, |pool| {
            sqlx::query_as(
                "DELETE FROM attachments WHERE id = $1 AND observatory_id = $2 \
                 AND owner_id = $3 AND ticket_id IS NULL \
                 RETURNING storage_name, preview_name, display_name",
            )
            .bind(attachment_id)
            .bind(observatory_id)
            .bind(owner_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(name)
    }

    /// Uploads past their expiry.
    pub async fn expired_uploads(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<ExpiredUpload>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(
                "SELECT id, storage_name, attachment_id IS NOT NULL AS finished FROM uploads \
                 WHERE expires_at <= $1 AND (writer_until IS NULL OR writer_until <= $1)",
            )
            .bind(now)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// Deletes the staged attachments past their expiry, returning their files' names.
    pub async fn delete_expired_staged(
        &self,
        now: DateTime<Utc>,
    ) -> Result<Vec<AttachmentFiles>, StoreError> {
        let names = on_pool!(self, |pool| {
            sqlx::query_as(
                "DELETE FROM attachments WHERE ticket_id IS NULL AND expires_at <= $1 \
                 RETURNING storage_name, preview_name, display_name",
            )
            .bind(now)
            .fetch_all(pool)
            .await
        })?;
        Ok(names)
    }

    /// Of the given store names, those any row names: an upload (unfinished, or finished and
    /// not yet expired: object storage completes a file under its upload's name before the
    /// attachment row is written), an attachment's file or one of its previews. One statement
    /// for all of them, so a file moving from upload to attachment meanwhile is seen in one of
    /// the two.
    pub async fn store_names_in_use(&self, names: &[String]) -> Result<Vec<String>, StoreError> {
        let mut found = Vec::new();
        for chunk in names.chunks(200) {
            let mut conditions = Conditions::default();
            let lists: Vec<String> = (0..4).map(|_| conditions.text_list(chunk)).collect();
            let sql = format!(
                "SELECT storage_name FROM uploads WHERE storage_name IN ({}) \
                 UNION SELECT storage_name FROM attachments WHERE storage_name IN ({}) \
                 UNION SELECT preview_name FROM attachments WHERE preview_name IN ({}) \
                 UNION SELECT display_name FROM attachments WHERE display_name IN ({})",
                lists[0], lists[1], lists[2], lists[3]
            );
            let rows: Vec<(String,)> = self.fetch_all_with(&sql, &conditions.args).await?;
            found.extend(rows.into_iter().map(|(name,)| name));
        }
        Ok(found)
    }
}

impl Conditions {
    /// Placeholders for a list of texts, as `IN (…)` takes them.
    fn text_list(&mut self, values: &[String]) -> String {
        values
            .iter()
            .map(|value| self.placeholder(Arg::Text(value.clone())))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

const USAGE_SQL: &str = "SELECT CAST(COALESCE((SELECT SUM(size) FROM attachments \
       WHERE observatory_id = $1 AND organization_id = $2 \
       AND (ticket_id IS NOT NULL OR expires_at > $3)), 0) \
     + COALESCE((SELECT SUM(length) FROM uploads \
       WHERE observatory_id = $1 AND organization_id = $2 \
       AND attachment_id IS NULL AND expires_at > $3), 0) AS BIGINT)";

impl Tx {
    /// Holds the organization's row until the transaction ends, so two commits cannot both
    /// spend its last quota (PostgreSQL; SQLite's single writer already serializes them).
    pub async fn lock_organization(&mut self, organization_id: i64) -> Result<(), StoreError> {
        if let Tx::Postgres(tx) = self {
            sqlx::query("SELECT id FROM organizations WHERE id = $1 FOR UPDATE")
                .bind(organization_id)
                .execute(&mut **tx)
                .await?;
        }
        Ok(())
    }

    /// `Db::organization_usage` within the transaction.
    pub async fn organization_usage(
        &mut self,
        observatory_id: i64,
        organization_id: i64,
        now: DateTime<Utc>,
    ) -> Result<i64, StoreError> {
        let used = on_tx!(self, |tx| {
            sqlx::query_scalar(USAGE_SQL)
                .bind(observatory_id)
                .bind(organization_id)
                .bind(now)
                .fetch_one(&mut **tx)
                .await
        })?;
        Ok(used)
    }

    /// The owner's staged attachments among `ids` that have not expired.
    pub async fn staged(
        &mut self,
        observatory_id: i64,
        owner_id: i64,
        ids: &[String],
        now: DateTime<Utc>,
    ) -> Result<Vec<AttachmentRow>, StoreError> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        let mut conditions = Conditions::default();
        let list = conditions.text_list(ids);
        conditions.add("a.observatory_id = ?", Arg::Int(observatory_id));
        conditions.add("a.owner_id = ?", Arg::Int(owner_id));
        conditions.add("a.expires_at > ?", Arg::Time(now));
        conditions.add_plain("a.ticket_id IS NULL");
        let sql = format!(
            "SELECT {ATTACHMENT_COLUMNS} FROM attachments a {} AND a.id IN ({list}) \
             ORDER BY a.created_at, a.id",
            conditions.where_clause()
        );
        let rows = on_tx!(self, |tx| {
            bind_args!(sqlx::query_as(&sql), &conditions.args)
                .fetch_all(&mut **tx)
                .await
        })?;
        Ok(rows)
    }

    /// Points the owner's staged attachments at a ticket's entry, counting them against the
    /// ticket's organization from now on. Returns how many were committed (fewer than `ids`
    /// means some were not the owner's staged files any more).
    #[allow(clippy::too_many_arguments)]
    pub async fn commit_staged(
        &mut self,
        observatory_id: i64,
        owner_id: i64,
        ids: &[String],
        ticket_id: i64,
        organization_id: i64,
        entry_id: i64,
        internal: bool,
        now: DateTime<Utc>,
    ) -> Result<u64, StoreError> {
        if ids.is_empty() {
            return Ok(0);
        }
        let mut conditions = Conditions::default();
        let ticket = conditions.placeholder(Arg::Int(ticket_id));
        let organization = conditions.placeholder(Arg::Int(organization_id));
        let entry = conditions.placeholder(Arg::Int(entry_id));
        let internal = if internal { "TRUE" } else { "FALSE" };
        let list = conditions.text_list(ids);
        conditions.add("observatory_id = ?", Arg::Int(observatory_id));
        conditions.add("owner_id = ?", Arg::Int(owner_id));
        conditions.add("expires_at > ?", Arg::Time(now));
        conditions.add_plain("ticket_id IS NULL");
        let sql = format!(
            "UPDATE attachments SET ticket_id = {ticket}, organization_id = {organization}, \
             entry_id = {entry}, internal = {internal}, expires_at = NULL {} AND id IN ({list})",
            conditions.where_clause()
        );
        let changed = on_tx!(self, |tx| {
            bind_args!(sqlx::query(&sql), &conditions.args)
                .execute(&mut **tx)
                .await
                .map(|done| done.rows_affected())
        })?;
        Ok(changed)
    }
}
