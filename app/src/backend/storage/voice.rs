//! SQL for voice comments: the transcript state beside each voice entry, and the jobs that
//! write transcripts.

use super::events::TRANSCRIPT_EVENT;
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
    /// The machine's text when it is already known (transcribed while the person spoke).
    pub transcript: Option<&'a str>,
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
        if recorded {
            tx.record_event(job.entry_id, Some(TRANSCRIPT_EVENT), now)
                .await?;
        }
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
        let mut tx = self.begin().await?;
        let settled = on_tx!(&mut tx, |tx| {
            sqlx::query(
                "UPDATE voice_entries SET transcript_state = $2, claimed_until = NULL, \
                 updated_at = $3 WHERE entry_id = $1 AND transcript_state = 'pending'",
            )
            .bind(entry_id)
            .bind(state)
            .bind(now)
            .execute(&mut **tx)
            .await
            .map(|done| done.rows_affected() == 1)
        })?;
        // Followers hear of an ending (the player shows "no transcript"), not of a claim given back.
        if settled && state != "pending" {
            tx.record_event(entry_id, Some(TRANSCRIPT_EVENT), now)
                .await?;
        }
        tx.commit().await?;
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
                 duration_ms, language, transcript_state, transcript, edited_text, updated_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            )
            .bind(new.entry_id)
            .bind(new.observatory_id)
            .bind(new.ticket_id)
            .bind(new.attachment_id)
            .bind(new.duration_ms)
            .bind(new.language)
            .bind(new.transcript_state)
            .bind(new.transcript)
            .bind(new.edited_text)
            .bind(new.now)
            .execute(&mut **tx)
            .await
            .map(|_| ())
        })?;
        Ok(())
    }
}

/// A recording streamed from a browser, before it is sent with a message or a request.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct RecordingRow {
    pub id: i64,
    pub user_id: i64,
    pub recording_key: String,
    pub format: String,
    pub language: String,
    /// `recording` while chunks arrive; `ready` once staged.
    pub state: String,
    /// How many chunks are stored: the next one expected has this sequence number.
    pub chunks: i32,
    pub bytes: i64,
    pub attachment_id: Option<String>,
    pub duration_ms: Option<i64>,
    pub transcript_state: Option<String>,
    pub transcript: Option<String>,
}

const RECORDING_SELECT: &str = "SELECT id, user_id, recording_key, format, language, state, \
    chunks, bytes, attachment_id, duration_ms, transcript_state, transcript FROM voice_recordings";

/// What became of a chunk offered for a recording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkWrite {
    /// Stored: the recording now has this many chunks.
    Stored(i32),
    /// Not the next one expected (a resend, or one after a gap), or the recording is no
    /// longer recording: nothing written.
    OutOfOrder,
    /// It would take the recording past its byte limit: nothing written.
    TooLarge,
}

impl Db {
    /// A person's recording by the key their browser gave it.
    pub async fn recording_by_key(
        &self,
        user_id: i64,
        key: &str,
    ) -> Result<Option<RecordingRow>, StoreError> {
        let row = on_pool!(self, |pool| {
            sqlx::query_as(&format!(
                "{RECORDING_SELECT} WHERE user_id = $1 AND recording_key = $2"
            ))
            .bind(user_id)
            .bind(key)
            .fetch_optional(pool)
            .await
        })?;
        Ok(row)
    }

    /// The person's recording under `key`, created (recording, no chunks) when it is new.
    pub async fn open_recording(
        &self,
        user_id: i64,
        key: &str,
        format: &str,
        language: &str,
        now: DateTime<Utc>,
    ) -> Result<RecordingRow, StoreError> {
        on_pool!(self, |pool| {
            sqlx::query(
                "INSERT INTO voice_recordings (user_id, recording_key, format, language, state, \
                 created_at, updated_at) VALUES ($1, $2, $3, $4, 'recording', $5, $5) \
                 ON CONFLICT (user_id, recording_key) DO NOTHING",
            )
            .bind(user_id)
            .bind(key)
            .bind(format)
            .bind(language)
            .bind(now)
            .execute(pool)
            .await
            .map(|_| ())
        })?;
        self.recording_by_key(user_id, key)
            .await?
            .ok_or(StoreError::Database(sqlx::Error::RowNotFound))
    }

    /// Stores chunk `seq` of a recording if it is the next one expected and the recording stays
    /// within `max_bytes`, in one transaction with the count, so an acknowledged chunk is never
    /// lost or stored twice.
    pub async fn append_recording_chunk(
        &self,
        recording_id: i64,
        seq: i32,
        data: &[u8],
        max_bytes: i64,
        now: DateTime<Utc>,
    ) -> Result<ChunkWrite, StoreError> {
        let len = i64::try_from(data.len()).unwrap_or(i64::MAX);
        let mut tx = self.begin().await?;
        let outcome = on_tx!(&mut tx, |tx| async {
            let counted = sqlx::query(
                "UPDATE voice_recordings SET chunks = chunks + 1, bytes = bytes + $3, \
                 updated_at = $5 WHERE id = $1 AND chunks = $2 AND state = 'recording' \
                 AND bytes + $3 <= $4",
            )
            .bind(recording_id)
            .bind(seq)
            .bind(len)
            .bind(max_bytes)
            .bind(now)
            .execute(&mut **tx)
            .await?
            .rows_affected();
            if counted == 1 {
                sqlx::query(
                    "INSERT INTO voice_recording_chunks (recording_id, seq, data) \
                     VALUES ($1, $2, $3)",
                )
                .bind(recording_id)
                .bind(seq)
                .bind(data)
                .execute(&mut **tx)
                .await?;
                return Ok::<_, sqlx::Error>(ChunkWrite::Stored(seq + 1));
            }
            let (chunks, bytes, state): (i32, i64, String) =
                sqlx::query_as("SELECT chunks, bytes, state FROM voice_recordings WHERE id = $1")
                    .bind(recording_id)
                    .fetch_one(&mut **tx)
                    .await?;
            Ok(
                if chunks == seq && state == "recording" && bytes.saturating_add(len) > max_bytes {
                    ChunkWrite::TooLarge
                } else {
                    ChunkWrite::OutOfOrder
                },
            )
        }
        .await)?;
        tx.commit().await?;
        Ok(outcome)
    }

    /// A recording's chunks, in order.
    pub async fn recording_chunks(&self, recording_id: i64) -> Result<Vec<Vec<u8>>, StoreError> {
        let chunks = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT data FROM voice_recording_chunks WHERE recording_id = $1 ORDER BY seq",
            )
            .bind(recording_id)
            .fetch_all(pool)
            .await
        })?;
        Ok(chunks)
    }

    /// A recording is whole: staged as `attachment_id`, with its duration and transcript. Its
    /// chunks are no longer needed.
    #[allow(clippy::too_many_arguments)]
    pub async fn finish_recording(
        &self,
        recording_id: i64,
        attachment_id: &str,
        duration_ms: i64,
        transcript_state: &str,
        transcript: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        on_tx!(&mut tx, |tx| {
            sqlx::query(
                "UPDATE voice_recordings SET state = 'ready', attachment_id = $2, \
                 duration_ms = $3, transcript_state = $4, transcript = $5, updated_at = $6 \
                 WHERE id = $1",
            )
            .bind(recording_id)
            .bind(attachment_id)
            .bind(duration_ms)
            .bind(transcript_state)
            .bind(transcript)
            .bind(now)
            .execute(&mut **tx)
            .await?;
            sqlx::query("DELETE FROM voice_recording_chunks WHERE recording_id = $1")
                .bind(recording_id)
                .execute(&mut **tx)
                .await
                .map(|_| ())
        })?;
        tx.commit().await?;
        Ok(())
    }

    /// Writes the transcript of a whole recording not yet sent. `false`: it was sent (or
    /// discarded) meanwhile.
    pub async fn record_recording_transcript(
        &self,
        recording_id: i64,
        transcript_state: &str,
        transcript: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<bool, StoreError> {
        let written = on_pool!(self, |pool| {
            sqlx::query(
                "UPDATE voice_recordings SET transcript_state = $2, transcript = $3, \
                 updated_at = $4 WHERE id = $1 AND state = 'ready'",
            )
            .bind(recording_id)
            .bind(transcript_state)
            .bind(transcript)
            .bind(now)
            .execute(pool)
            .await
            .map(|done| done.rows_affected())
        })?;
        Ok(written == 1)
    }

    /// The voice entry a recording was committed to.
    pub async fn voice_entry_of_attachment(
        &self,
        attachment_id: &str,
    ) -> Result<Option<i64>, StoreError> {
        let entry = on_pool!(self, |pool| {
            sqlx::query_scalar(
                "SELECT entry_id FROM voice_entries WHERE attachment_id = $1 \
                 ORDER BY entry_id LIMIT 1",
            )
            .bind(attachment_id)
            .fetch_optional(pool)
            .await
        })?;
        Ok(entry)
    }

    /// Forgets a recording and its chunks.
    pub async fn delete_recording(&self, recording_id: i64) -> Result<(), StoreError> {
        let mut tx = self.begin().await?;
        tx.delete_recording(recording_id).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Forgets the recordings untouched since `before` (never sent), with their chunks.
    /// Returns how many.
    pub async fn delete_recordings_before(&self, before: DateTime<Utc>) -> Result<u64, StoreError> {
        let mut tx = self.begin().await?;
        let deleted = on_tx!(&mut tx, |tx| {
            sqlx::query(
                "DELETE FROM voice_recording_chunks WHERE recording_id IN \
                 (SELECT id FROM voice_recordings WHERE updated_at < $1)",
            )
            .bind(before)
            .execute(&mut **tx)
            .await?;
            sqlx::query("DELETE FROM voice_recordings WHERE updated_at < $1")
                .bind(before)
                .execute(&mut **tx)
                .await
                .map(|done| done.rows_affected())
        })?;
        tx.commit().await?;
        Ok(deleted)
    }
}

impl Tx {
    /// A person's whole recording under `key`, for the message or request that sends it.
    pub async fn ready_recording(
        &mut self,
        user_id: i64,
        key: &str,
    ) -> Result<Option<RecordingRow>, StoreError> {
        let row = on_tx!(self, |tx| {
            sqlx::query_as(&format!(
                "{RECORDING_SELECT} WHERE user_id = $1 AND recording_key = $2 AND state = 'ready'"
            ))
            .bind(user_id)
            .bind(key)
            .fetch_optional(&mut **tx)
            .await
        })?;
        Ok(row)
    }

    pub async fn delete_recording(&mut self, recording_id: i64) -> Result<(), StoreError> {
        on_tx!(self, |tx| {
            sqlx::query("DELETE FROM voice_recording_chunks WHERE recording_id = $1")
                .bind(recording_id)
                .execute(&mut **tx)
                .await?;
            sqlx::query("DELETE FROM voice_recordings WHERE id = $1")
                .bind(recording_id)
                .execute(&mut **tx)
                .await
                .map(|_| ())
        })?;
        Ok(())
    }
}
