//! Voice comments: a timeline entry of kind `voice` whose recording is an attachment committed
//! in the same transaction, with its duration, its language (the person's portal language
//! unless they say otherwise) and its transcript. The REST API and the pages make one call.
//!
//! The recording is checked before anything is written: one of the containers browsers record
//! in (`audio::VOICE_TYPES`, told by its first bytes), audio only, at most
//! `audio::MAX_VOICE_BYTES` and `Config::max_voice_duration`. Transcription runs after the
//! commit, off the request path: a queue of jobs that wait for one of the engine's turns
//! (`transcription::MAX_CONCURRENT`); what a crash or a full queue left pending is taken up by
//! `transcribe_pending`. The transcript is written to the entry's row and indexed for search
//! with the entry's own scope. The machine's transcript and the person's edit are both kept.

use super::accounts::Viewer;
use super::attachments;
use super::audio::{self, AudioError};
use super::config::Config;
use super::error::ServiceError;
use super::events::EventBus;
use super::files::FileStore;
use super::search::{document_terms, DocumentScope};
use super::storage::tickets::{now_micros, NewEntry, TicketRow};
use super::storage::voice::{NewVoiceRow, TranscriptionJob};
use super::storage::{Db, Tx};
use super::tickets::{self, scope_of};
use super::transcription::{self, Recording, Transcriber, TranscriptionError};
use crate::i18n::Msg;
use crate::model::{
    AttachmentInfo, EntryKind, TimelineEntry, TranscriptState, VoiceInfo, MESSAGE_MAX_CHARS,
};
use bytes::Bytes;
use chrono::Duration;
use futures_util::Stream;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};

/// How long a job holds a transcription: longer than the engine may take to answer.
const CLAIM: Duration = Duration::minutes(5);
/// Attempts before a transcription is given up as failed.
const MAX_ATTEMPTS: i32 = 3;
/// Jobs waiting for a turn at once; beyond that, the sweep takes them up later.
const QUEUE_LIMIT: usize = 64;
/// Pending transcriptions one sweep schedules.
const SWEEP_BATCH: i64 = 50;

static QUEUED: AtomicUsize = AtomicUsize::new(0);

/// What a person sends with a recording.
#[derive(Debug, Clone, Default)]
pub struct NewVoice<'a> {
    /// The file's name on their device (only shown).
    pub file_name: &'a str,
    /// A code of `transcription::LANGUAGES`; `None`: the person's portal language.
    pub language: Option<&'a str>,
    /// Their own version of the transcript (they fixed a word), kept beside the machine's.
    pub edited_text: Option<&'a str>,
    /// Staff only: a voice note clients never see.
    pub internal: bool,
}

/// Adds a voice comment to a ticket: stages the recording from `body` as it streams, checks
/// it, and commits it with its entry in one transaction; then schedules its transcription.
/// Nothing of a refused recording is kept. Returns the entry's id.
#[allow(clippy::too_many_arguments)]
pub async fn add_voice<S>(
    db: &Db,
    store: &FileStore,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    number: &str,
    new: NewVoice<'_>,
    body: S,
) -> Result<i64, ServiceError>
where
    S: Stream<Item = Result<Bytes, std::io::Error>> + Unpin + Send,
{
    let ticket = tickets::writable_ticket(db, viewer, number, new.internal).await?;
    let language = match new.language.map(str::trim).filter(|l| !l.is_empty()) {
        Some(code) if transcription::is_language(code) => code.to_string(),
        Some(_) => return Err(Msg::ErrorVoiceLanguage.into()),
        None => viewer.language.code().to_string(),
    };
    let edited_text = new.edited_text.map(str::trim).filter(|t| !t.is_empty());
    if edited_text.is_some_and(|t| t.chars().count() > MESSAGE_MAX_CHARS) {
        return Err(Msg::ErrorTextTooLong.into());
    }
    // A recording is never larger than this: a bigger body stops streaming there.
    let mut limited = config.clone();
    limited.max_file_bytes = config.max_file_bytes.min(audio::MAX_VOICE_BYTES);
    let staged = attachments::stage_whole(db, store, &limited, viewer, new.file_name, body)
        .await
        .map_err(|err| match err {
            ServiceError::User(Msg::ErrorFileTypeNotAllowed) => Msg::ErrorVoiceNotAudio.into(),
            other => other,
        })?;
    let outcome = async {
        let duration = checked_duration(db, store, config, viewer, &staged).await?;
        commit_voice(
            db,
            config,
            viewer,
            &ticket,
            &staged,
            duration,
            &language,
            edited_text,
            new.internal,
        )
        .await
    }
    .await;
    let entry_id = match outcome {
        Ok(entry_id) => entry_id,
        Err(err) => {
            let _ = attachments::discard_staged(db, store, viewer, &staged.id).await;
            return Err(err);
        }
    };
    events.committed();
    schedule(db, store, config, entry_id);
    Ok(entry_id)
}

/// The staged recording's duration, once it is known to be audio within the limits.
async fn checked_duration(
    db: &Db,
    store: &FileStore,
    config: &Config,
    viewer: &Viewer,
    staged: &AttachmentInfo,
) -> Result<std::time::Duration, ServiceError> {
    if !audio::VOICE_TYPES.contains(&staged.content_type.as_str()) {
        return Err(Msg::ErrorVoiceNotAudio.into());
    }
    let row = db
        .attachment_in_scope(scope_of(viewer), viewer.user_id, &staged.id, now_micros())
        .await?
        .ok_or(Msg::ErrorNotFound)?;
    let bytes = store
        .read(&row.storage_name, audio::MAX_VOICE_BYTES as usize)
        .await?;
    let content_type = staged.content_type.clone();
    let demuxed = tokio::task::spawn_blocking(move || {
        audio::duration_of(bytes, &content_type, audio::DEMUX_TIME_LIMIT)
    })
    .await
    .map_err(|e| std::io::Error::other(e.to_string()))?;
    match demuxed {
        Ok(duration) if duration > config.max_voice_duration => Err(Msg::ErrorVoiceTooLong.into()),
        Ok(duration) => Ok(duration),
        Err(AudioError::TooLong) => Err(Msg::ErrorVoiceTooLong.into()),
        Err(err) => {
            tracing::debug!(attachment = %staged.id, error = %err, "a voice recording was refused");
            Err(Msg::ErrorVoiceNotAudio.into())
        }
    }
}

/// Writes the entry, commits the recording to it and records its transcript state.
#[allow(clippy::too_many_arguments)]
async fn commit_voice(
    db: &Db,
    config: &Config,
    viewer: &Viewer,
    ticket: &TicketRow,
    staged: &AttachmentInfo,
    duration: std::time::Duration,
    language: &str,
    edited_text: Option<&str>,
    internal: bool,
) -> Result<i64, ServiceError> {
    let now = now_micros();
    let mut tx = db.begin().await?;
    tickets::lock_for_writing(&mut tx, viewer, ticket, now).await?;
    let entry_id = append_voice_in_tx(
        &mut tx,
        config,
        viewer,
        ticket,
        VoiceParts {
            attachment_id: &staged.id,
            duration_ms: i64::try_from(duration.as_millis()).unwrap_or(i64::MAX),
            language,
            state: first_state(config),
            transcript: None,
            edited_text,
            internal,
        },
        now,
    )
    .await?;
    tx.commit().await?;
    Ok(entry_id)
}

/// What a voice entry is made of.
struct VoiceParts<'a> {
    /// The viewer's staged recording.
    attachment_id: &'a str,
    duration_ms: i64,
    language: &'a str,
    state: TranscriptState,
    transcript: Option<&'a str>,
    edited_text: Option<&'a str>,
    internal: bool,
}

/// Appends a voice entry to a ticket in the caller's transaction (which has touched the
/// ticket): the entry, its recording committed to it, and its transcript state. The entry is
/// found by the person's text and by the machine's.
async fn append_voice_in_tx(
    tx: &mut Tx,
    config: &Config,
    viewer: &Viewer,
    ticket: &TicketRow,
    parts: VoiceParts<'_>,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<i64, ServiceError> {
    let files = attachments::staged_for_commit(
        tx,
        config,
        viewer,
        ticket,
        &[parts.attachment_id.to_string()],
        now,
    )
    .await?;
    let scope = DocumentScope {
        observatory_id: ticket.observatory_id,
        organization_id: ticket.organization_id,
        internal: parts.internal,
    };
    let searched: Vec<&str> = [parts.edited_text, parts.transcript]
        .into_iter()
        .flatten()
        .collect();
    let entry_id = tx
        .append_entry(
            ticket.observatory_id,
            ticket.id,
            NewEntry {
                kind: EntryKind::Voice.code(),
                internal: parts.internal,
                author_id: Some(viewer.user_id),
                body: parts.edited_text.unwrap_or(""),
                old_value: None,
                new_value: None,
                terms: (!searched.is_empty()).then(|| document_terms(&searched.join("\n"), scope)),
            },
            now,
        )
        .await?;
    attachments::attach_in_tx(tx, viewer, ticket, &files, entry_id, parts.internal, now).await?;
    tx.insert_voice(NewVoiceRow {
        entry_id,
        observatory_id: ticket.observatory_id,
        ticket_id: ticket.id,
        attachment_id: parts.attachment_id,
        duration_ms: parts.duration_ms,
        language: parts.language,
        transcript_state: parts.state.code(),
        transcript: parts.transcript,
        edited_text: parts.edited_text,
        now,
    })
    .await?;
    Ok(entry_id)
}

/// A recording streamed from the page (`voice_live`), committed to a ticket as a voice entry
/// in the caller's transaction, by the message or request the person sends it with. The text
/// they sent counts as an edit only when it differs from the machine's. A transcript still in
/// the making when it is sent is written to the entry by the recording's own job
/// (`voice_live`), or later by `transcribe_pending`.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn commit_recorded(
    tx: &mut Tx,
    config: &Config,
    viewer: &Viewer,
    ticket: &TicketRow,
    key: &str,
    sent_text: Option<&str>,
    internal: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<RecordedVoice, ServiceError> {
    let key = key.trim();
    let Some(recording) = tx.ready_recording(viewer.user_id, key).await? else {
        return Err(Msg::ErrorVoiceRecordingIncomplete.into());
    };
    let attachment_id = recording
        .attachment_id
        .as_deref()
        .ok_or(Msg::ErrorVoiceRecordingGone)?;
    let sent_text = sent_text.map(str::trim).filter(|t| !t.is_empty());
    if sent_text.is_some_and(|t| t.chars().count() > MESSAGE_MAX_CHARS) {
        return Err(Msg::ErrorTextTooLong.into());
    }
    let machine = recording.transcript.as_deref();
    let edited_text = sent_text.filter(|text| Some(*text) != machine.map(str::trim));
    let state = match recording
        .transcript_state
        .as_deref()
        .and_then(TranscriptState::from_code)
    {
        Some(TranscriptState::Done) => TranscriptState::Done,
        _ => first_state(config),
    };
    let entry_id = append_voice_in_tx(
        tx,
        config,
        viewer,
        ticket,
        VoiceParts {
            attachment_id,
            duration_ms: recording.duration_ms.unwrap_or(0),
            language: &recording.language,
            state,
            transcript: machine.filter(|_| state == TranscriptState::Done),
            edited_text,
            internal,
        },
        now,
    )
    .await
    .map_err(|err| match err {
        // The staged file expired before the recording was sent.
        ServiceError::User(Msg::ErrorNotFound) => Msg::ErrorVoiceRecordingGone.into(),
        other => other,
    })?;
    tx.delete_recording(recording.id).await?;
    Ok(RecordedVoice { entry_id })
}

/// A streamed recording committed to a ticket.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RecordedVoice {
    pub entry_id: i64,
}

/// The text a streamed recording is sent with: the person's, else the machine's (empty when
/// there is none yet). The recording must be whole.
pub(crate) async fn recording_text(
    db: &Db,
    viewer: &Viewer,
    key: &str,
    sent_text: Option<&str>,
) -> Result<String, ServiceError> {
    let recording = db
        .recording_by_key(viewer.user_id, key.trim())
        .await?
        .filter(|row| row.state == "ready")
        .ok_or(Msg::ErrorVoiceRecordingIncomplete)?;
    Ok(sent_text
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .or(recording.transcript)
        .unwrap_or_default())
}

/// A new voice entry's state: pending while an engine is configured.
fn first_state(config: &Config) -> TranscriptState {
    if Transcriber::from_config(config).is_available() {
        TranscriptState::Pending
    } else {
        TranscriptState::Unavailable
    }
}

/// Staff run the transcription of a voice entry again (the engine improved, or it failed):
/// a new voice entry with the same recording and a fresh transcript, as visible as the first.
/// Returns the new entry's id.
pub async fn retranscribe(
    db: &Db,
    store: &FileStore,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    number: &str,
    entry_id: i64,
) -> Result<i64, ServiceError> {
    let ticket = db
        .ticket_by_number(scope_of(viewer), number.trim())
        .await?
        .ok_or(Msg::ErrorNotFound)?;
    let original = db
        .voice_of(
            ticket.observatory_id,
            ticket.id,
            entry_id,
            viewer.role.is_staff(),
        )
        .await?
        .ok_or(Msg::ErrorNotFound)?;
    if !viewer.role.is_staff() {
        return Err(Msg::ErrorForbidden.into());
    }
    let now = now_micros();
    let mut tx = db.begin().await?;
    tickets::lock_for_writing(&mut tx, viewer, &ticket, now).await?;
    let new_entry = tx
        .append_entry(
            ticket.observatory_id,
            ticket.id,
            NewEntry {
                kind: EntryKind::Voice.code(),
                internal: original.internal,
                author_id: Some(viewer.user_id),
                body: "",
                // Which comment this transcribes again: nothing new was said, nobody is mailed.
                old_value: Some(original.entry_id.to_string()),
                new_value: None,
                terms: None,
            },
            now,
        )
        .await?;
    tx.insert_voice(NewVoiceRow {
        entry_id: new_entry,
        observatory_id: ticket.observatory_id,
        ticket_id: ticket.id,
        attachment_id: &original.attachment_id,
        duration_ms: original.duration_ms,
        language: &original.language,
        transcript_state: first_state(config).code(),
        transcript: None,
        edited_text: None,
        now,
    })
    .await?;
    tx.commit().await?;
    events.committed();
    schedule(db, store, config, new_entry);
    Ok(new_entry)
}

/// A voice entry of a ticket, as the viewer may see it (to poll it until its transcript is
/// written). Any other entry, or one they may not see, is not found.
pub async fn entry(
    db: &Db,
    config: &Config,
    viewer: &Viewer,
    number: &str,
    entry_id: i64,
) -> Result<TimelineEntry, ServiceError> {
    tickets::ticket(db, config, viewer, number)
        .await?
        .timeline
        .into_iter()
        .find(|e| e.id == entry_id && e.voice.is_some())
        .ok_or_else(|| Msg::ErrorNotFound.into())
}

/// A voice entry's recording and transcript, as the viewer may see them.
pub async fn voice_info(
    db: &Db,
    config: &Config,
    viewer: &Viewer,
    number: &str,
    entry_id: i64,
) -> Result<VoiceInfo, ServiceError> {
    entry(db, config, viewer, number, entry_id)
        .await?
        .voice
        .ok_or_else(|| Msg::ErrorNotFound.into())
}

/// The voice entries of a ticket the viewer may see, by entry id, with their recordings taken
/// from the ticket's files the viewer may see (`attachments::by_entry`).
pub(crate) async fn by_entry(
    db: &Db,
    viewer: &Viewer,
    ticket_id: i64,
    files: &[(i64, AttachmentInfo)],
) -> Result<HashMap<i64, VoiceInfo>, ServiceError> {
    let rows = db
        .ticket_voices(viewer.observatory_id, ticket_id, viewer.role.is_staff())
        .await?;
    Ok(rows
        .into_iter()
        .map(|row| {
            let audio = files
                .iter()
                .find(|(_, file)| file.id == row.attachment_id)
                .map(|(_, file)| file.clone());
            let voice = VoiceInfo {
                audio,
                duration_ms: u64::try_from(row.duration_ms).unwrap_or(0),
                language: row.language,
                state: TranscriptState::from_code(&row.transcript_state)
                    .unwrap_or(TranscriptState::Failed),
                transcript: row.transcript,
                edited_text: row.edited_text,
            };
            (row.entry_id, voice)
        })
        .collect())
}

/// Queues the transcription of a voice entry, to run after the caller's request; nothing
/// happens when no engine is configured, or the queue is full (`transcribe_pending` takes it
/// up later).
pub fn schedule(db: &Db, store: &FileStore, config: &Config, entry_id: i64) {
    let transcriber = Transcriber::from_config(config);
    if !transcriber.is_available() {
        return;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        return;
    };
    if QUEUED.fetch_add(1, Ordering::SeqCst) >= QUEUE_LIMIT {
        QUEUED.fetch_sub(1, Ordering::SeqCst);
        return;
    }
    let queued = Queued;
    let (db, store) = (db.clone(), store.clone());
    runtime.spawn(async move {
        let _queued = queued;
        if let Err(err) = transcribe(&db, &store, &transcriber, entry_id).await {
            tracing::warn!(entry = entry_id, error = %err, "transcribing a voice comment failed; it is tried again later");
        }
    });
}

/// A place in the queue, given back however its task ends.
struct Queued;

impl Drop for Queued {
    fn drop(&mut self) {
        QUEUED.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Schedules the pending transcriptions that no job holds (lost to a crash or a full queue).
/// Call it at start-up and from time to time. Returns how many it scheduled.
pub async fn transcribe_pending(
    db: &Db,
    store: &FileStore,
    config: &Config,
) -> Result<usize, ServiceError> {
    if !Transcriber::from_config(config).is_available() {
        return Ok(0);
    }
    let ids = db
        .unclaimed_transcriptions(now_micros(), SWEEP_BATCH)
        .await?;
    for entry_id in &ids {
        schedule(db, store, config, *entry_id);
    }
    Ok(ids.len())
}

/// One transcription job: waits for a turn, claims the entry, transcribes its recording and
/// writes the transcript (or why there is none).
async fn transcribe(
    db: &Db,
    store: &FileStore,
    transcriber: &Transcriber,
    entry_id: i64,
) -> Result<(), ServiceError> {
    let _turn = transcription::turn().await;
    let now = now_micros();
    let Some(job) = db
        .claim_transcription(entry_id, now, now + CLAIM, MAX_ATTEMPTS)
        .await?
    else {
        return Ok(());
    };
    let bytes = store
        .read(&job.storage_name, audio::MAX_VOICE_BYTES as usize)
        .await?;
    let recording = Recording {
        bytes: Bytes::from(bytes),
        content_type: job.content_type.clone(),
        language: job.language.clone(),
    };
    match transcriber.transcribe(recording).await {
        Ok(text) => record(db, &job, &text).await,
        Err(TranscriptionError::Unavailable) => {
            db.settle_transcription(entry_id, TranscriptState::Unavailable.code(), now_micros())
                .await?;
            Ok(())
        }
        Err(err) => {
            let state = if job.attempts >= MAX_ATTEMPTS {
                TranscriptState::Failed
            } else {
                TranscriptState::Pending
            };
            tracing::warn!(entry = entry_id, attempt = job.attempts, error = %err, "the speech engine could not transcribe a voice comment");
            db.settle_transcription(entry_id, state.code(), now_micros())
                .await?;
            Ok(())
        }
    }
}

/// A streamed recording's transcript, made after its stop, for the voice entry it was sent as
/// meanwhile (when the entry still waits for one).
pub(crate) async fn record_sent_transcript(
    db: &Db,
    attachment_id: &str,
    text: &str,
) -> Result<(), ServiceError> {
    let Some(entry_id) = db.voice_entry_of_attachment(attachment_id).await? else {
        return Ok(());
    };
    let now = now_micros();
    if let Some(job) = db
        .claim_transcription(entry_id, now, now + CLAIM, MAX_ATTEMPTS + 1)
        .await?
    {
        record(db, &job, text).await?;
    }
    Ok(())
}

async fn record(db: &Db, job: &TranscriptionJob, text: &str) -> Result<(), ServiceError> {
    let terms = document_terms(
        text,
        DocumentScope {
            observatory_id: job.observatory_id,
            organization_id: job.organization_id,
            internal: job.internal,
        },
    );
    db.record_transcript(job, text, &terms, now_micros())
        .await?;
    Ok(())
}
