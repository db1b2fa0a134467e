//! SQL for voice comments: the transcript state beside each voice entry, and the jobs that
//! write transcripts.

use super::{on_pool, on_tx, Db, StoreError, Tx};
use chrono::{DateTime, Utc};

/// A voice entry's recording and transcript.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct VoiceRow {
    pub entry_id: i64,
    pub attachment_id: String,
    pub duration_ms: i64,
    pub language: String,
    pub transcript_state: String,
    pub transcript: Option<String>,
    pub edited_text: Option<String>,
    /// The entry's own flag (staff only).
    pub internal: bool,
}

pub struct NewVoiceRow<'a> {
    pub entry_id: i64,
    pub observatory_id: i64,
    pub ticket_id: i64,
    pub attachment_id: &'a str,
    pub duration_ms: i64,
    pub language: &'a str,
    pub transcript_state: &'a str,
    pub edited_text: Option<&'a str>,
    pub now: DateTime<Utc>,
}

/// What a transcription job needs: the recording, its language, and the search scope of the
/// entry it writes to.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct TranscriptionJob {
    pub entry_id: i64,
    pub observatory_id: i64,
    pub ticket_id: i64,
    pub organization_id: i64,
    pub internal: bool,
    pub language: String,
    pub storage_name: String,
    pub content_type: String,
    pub attempts: i32,
}

const VOICE_SELECT: &str = "SELECT v.entry_id, v.attachment_id, v.duration_ms, v.language, \
    v.transcript_state, v.transcript, v.edited_text, e.internal \
    FROM voice_entries v JOIN timeline_entries e ON e.id = v.entry_id";

impl Db {
    /// The voice entries of a ticket; internal ones only when `internal`.
    pub async fn ticket_voices(
        &self,
        observatory_id: i64,
        ticket_id: i64,
        internal: bool,
    ) -> Result<Vec<VoiceRow>, StoreError> {
        let rows = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "{VOICE_SELECT} WHERE v.ticket_id = $1 AND v.observatory_id = $2 \
                 AND ($3 OR NOT e.internal) ORDER BY v.entry_id"
            ))
            .bind(ticket_id)
            .bind(observatory_id)
            .bind(internal)
            .fetch_all(pool)
            .await
        })?;
        Ok(rows)
    }

    /// One voice entry of a ticket; an internal one only when `internal`.
    pub async fn voice_of(
        &self,
        observatory_id: i64,
        ticket_id: i64,
        entry_id: i64,
        internal: bool,
    ) -> Result<Option<VoiceRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "{VOICE_SELECT} WHERE v.entry_id = $1 AND v.ticket_id = $2 \
                 AND v.observatory_id = $3 AND ($4 OR NOT e.internal)"
            ))
            .bind(entry_id)
            .bind(ticket_id)
            .bind(observatory_id)
            .bind(internal)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// Claims a pending transcription until `until`, counting the attempt; `None` when it is
    /// not pending, another job holds it, or it has had `max_attempts`.
    pub async fn claim_transcription(
        &self,
        entry_id: i64,
        now: DateTime<Utc>,
        until: DateTime<Utc>,
        max_attempts: i32,
    ) -> Result<Option<TranscriptionJob>, StoreError> {
        let job = on_pool!(self, |pool| {
            let claimed = sqlx::query(
                "UPDATE voice_entries SET attempts = attempts + 1, claimed_until = $2 \
                 WHERE entry_id = $1 AND transcript_state = 'pending' AND attempts < $4 \
                 AND (claimed_until IS NULL OR claimed_until < $3)",
            )
            .bind(entry_id)
            .bind(until)
            .bind(now)
            .bind(max_attempts)
            .execute(pool)
            .await?
            .rows_affected();
            if claimed != 1 {
                return Ok(None);
            }
            sqlx::query_as(
                "SELECT v.entry_id, v.observatory_id, v.ticket_id, t.organization_id, e.internal, \
                 v.language, a.storage_name, a.content_type, v.attempts \
                 FROM voice_entries v \
                 JOIN timeline_entries e ON e.id = v.entry_id \
                 JOIN tickets t ON t.id = v.ticket_id \
                 JOIN attachments a ON a.id = v.attachment_id \
                 WHERE v.entry_id = $1",
            )
            .bind(entry_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(job)
    }

    /// Writes a pending entry's transcript and the search document of its text, in one
    /// transaction. `false`: it was no longer pending.
    pub async fn record_transcript(
        &self,
        job: &TranscriptionJob,
        transcript: &str,
        terms: &str,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin().await?;
        let recorded = on_tx!(&mut tx, |tx| {
            let done = sqlx::query(
                "UPDATE voice_entries SET transcript_state = 'done', transcript = $2, \
                 claimed_until = NULL, updated_at = $3 \
                 WHERE entry_id = $1 AND transcript_state = 'pending'",
            )
            .bind(job.entry_id)
            .bind(transcript)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if done == 1 {
                sqlx::query(
                    "INSERT INTO search_documents (ticket_id, entry_id, internal, terms) \
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(job.ticket_id)
                .bind(job.entry_id)
                .bind(job.internal)
                .bind(terms)
                .execute(&mut **tx)
                .await?;
            }
            Ok::<_, sqlx::Error>(done == 1)
        })?;
        tx.commit().await?;
        Ok(recorded)
    }

    /// Ends a pending transcription without a transcript (`unavailable` or `failed`), or gives
    /// its claim back (`pending`) so a later sweep tries again.
    pub async fn settle_transcription(
        &self,
        entry_id: i64,
        state: &str,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE voice_entries SET transcript_state = $2, claimed_until = NULL, \
                 updated_at = $3 WHERE entry_id = $1 AND transcript_state = 'pending'",
            )
            .bind(entry_id)
            .bind(state)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }

    /// Pending transcriptions no job holds (lost to a crash or a full queue), oldest first.
    pub async fn unclaimed_transcriptions(
        &self,
        now: DateTime<Utc>,
        limit: i64,
    ) -> Result<Vec<i64>, StoreError> {
        let ids = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT entry_id FROM voice_entries WHERE transcript_state = 'pending' \
                 AND (claimed_until IS NULL OR claimed_until < $1) ORDER BY updated_at LIMIT $2",
            )
            .bind(now)
            .bind(limit)
            .fetch_all(pool)
            .await
        })?;
        Ok(ids)
    }
}

impl Tx {
    /// Records a voice entry's recording and transcript state, beside its timeline entry.
    pub async fn insert_voice(&mut self, new: NewVoiceRow<'_>) -> Result<(), StoreError> {
        on_tx!(self, |tx| {
            sqlx::query(
                "INSERT INTO voice_entries (entry_id, observatory_id, ticket_id, attachment_id, \
                 duration_ms, language, transcript_state, edited_text, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(new.entry_id)
            .bind(new.observatory_id)
            .bind(new.ticket_id)
            .bind(new.attachment_id)
            .bind(new.duration_ms)
            .bind(new.language)
            .bind(new.transcript_state)
            .bind(new.edited_text)
            .bind(new.now)
            .execute(&mut **tx)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }
}
