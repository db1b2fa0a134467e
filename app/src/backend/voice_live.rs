//! Voice comments recorded in the browser and streamed while the person speaks (the page's
//! WebSocket, `server::voice_stream`). Each chunk MediaRecorder hands over is stored before it
//! is acknowledged, so a dropped connection, a closed page or a restarted server never loses an
//! acknowledged second of audio: the browser resends what was not acknowledged, under the same
//! recording key.
//!
//! While chunks arrive they are decoded (`audio::LiveDecoder`) and transcribed window by window
//! (`transcription::window_end`: at most ~30 s, cut at a pause): a window that is complete is
//! transcribed once, for good, in a task of its own (a stop meanwhile waits for it rather than
//! starting it again); the stretch after it is transcribed every second, when the engine has a
//! turn free, and shown as partial text. At stop only the last window is left to transcribe, so
//! the final text comes as soon after stop for a long comment as for a short one.
//!
//! At stop the whole recording is staged as an attachment of its author, with its duration and
//! machine transcript in its `voice_recordings` row, until the form that sends it
//! (`voice::commit_recorded`) makes it a voice entry; recordings never sent are forgotten after
//! a day (`purge_stale`).

use super::accounts::Viewer;
use super::attachments;
use super::audio::{self, DecodeLimits, LiveDecoder, SAMPLE_RATE};
use super::config::Config;
use super::error::ServiceError;
use super::files::FileStore;
use super::storage::tickets::now_micros;
use super::storage::voice::{ChunkWrite, RecordingRow};
use super::storage::Db;
use super::transcription::{self, Pass, Transcriber, TranscriptionError};
use super::voice;
use crate::i18n::Msg;
use crate::model::TranscriptState;
use bytes::Bytes;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Recordings streaming into this process at once; more are asked to try again shortly.
pub const MAX_LIVE_RECORDINGS: usize = 32;
/// The largest chunk accepted (MediaRecorder hands over a second of audio at a time: a few KiB).
pub const MAX_CHUNK_BYTES: usize = 256 * 1024;
/// How long unsent recordings are kept.
pub const KEPT_FOR: chrono::Duration = chrono::Duration::hours(24);
/// Audio past the maximum length still accepted: the browser stops at the maximum, and its
/// last chunk may run over by a moment.
const LENGTH_SLACK: Duration = Duration::from_millis(500);
/// How often the WebSocket asks for a partial text while audio arrives. One is computed only
/// when a second of new audio came and none is being computed, so the text follows the
/// speaker as fast as the engine can go (the figures are in docs/PERFORMANCE.md).
pub const PARTIAL_EVERY: Duration = Duration::from_secs(1);
/// A partial text is worth computing only once this much new audio arrived.
const PARTIAL_STEP_SAMPLES: usize = SAMPLE_RATE as usize;

static LIVE: AtomicUsize = AtomicUsize::new(0);

/// What the browser is told when it (re)connects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ready {
    /// The sequence number of the next chunk wanted: every chunk before it is stored.
    pub next: u32,
    pub max_seconds: u64,
}

/// What became of a chunk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChunkOutcome {
    /// Stored (now or before): every chunk up to `seq` is safe.
    Ack(u32),
    /// A chunk is missing before this one: send again from `next`.
    Resend { next: u32 },
}

/// The recording as it was sent, once the server has it whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Final {
    pub text: Option<String>,
    /// Done (the text is here), unavailable (no engine), or pending (the engine failed now: it
    /// is transcribed again after the recording is sent).
    pub state: TranscriptState,
    pub duration_ms: u64,
}

/// What stop answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StopOutcome {
    /// The whole recording is stored and staged: the form may send it (`transcript` follows).
    Stored { duration_ms: u64 },
    /// Chunks are missing: send again from `next`, then stop again.
    Resend { next: u32 },
}

/// One person's recording while it streams in.
pub struct LiveRecording {
    db: Db,
    store: FileStore,
    config: Config,
    viewer: Viewer,
    row: RecordingRow,
    next: u32,
    max_bytes: i64,
    decoder: SharedDecoder,
    worker: TranscriptWorker,
    /// Samples decoded when the last partial text was asked for.
    partial_at: usize,
    finished: Option<Final>,
    /// Set once the whole recording is staged (its duration): the form may send it.
    stored: Option<u64>,
    /// Its samples, from stop until its transcript is made.
    samples: Option<Vec<f32>>,
    staged_id: Option<String>,
    _slot: LiveSlot,
}

/// A place among `MAX_LIVE_RECORDINGS`, given back when the recording's connection ends.
struct LiveSlot;

impl LiveSlot {
    fn take() -> Option<LiveSlot> {
        if LIVE.fetch_add(1, Ordering::SeqCst) >= MAX_LIVE_RECORDINGS {
            LIVE.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        Some(LiveSlot)
    }
}

impl Drop for LiveSlot {
    fn drop(&mut self) {
        LIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A recording key: what the browser names it by (a UUID or random hex).
fn checked_key(key: &str) -> Result<&str, ServiceError> {
    let key = key.trim();
    let fits = (16..=64).contains(&key.len())
        && key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if fits {
        Ok(key)
    } else {
        Err(Msg::ErrorInvalidChoice.into())
    }
}

/// The container a browser records in, from the type it names (`audio/webm;codecs=opus`).
fn checked_format(format: &str) -> Result<&'static str, ServiceError> {
    let essence = format
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "audio/webm" | "video/webm" => Ok("audio/webm"),
        "audio/ogg" => Ok("audio/ogg"),
        "audio/mp4" | "video/mp4" => Ok("audio/mp4"),
        "audio/wav" | "audio/wave" | "audio/x-wav" => Ok("audio/wav"),
        _ => Err(Msg::ErrorVoiceNotAudio.into()),
    }
}

/// A file name for the staged recording, as a person would save it.
fn file_name_of(format: &str) -> &'static str {
    match format {
        "audio/ogg" => "grabacion.ogg",
        "audio/mp4" => "grabacion.m4a",
        "audio/wav" => "grabacion.wav",
        _ => "grabacion.webm",
    }
}

fn limits_of(config: &Config) -> DecodeLimits {
    DecodeLimits {
        max_duration: config.max_voice_duration + LENGTH_SLACK,
        time_limit: config.max_voice_duration + Duration::from_secs(60),
    }
}

/// Starts or resumes the recording the viewer's browser calls `key`: what it has stored is
/// decoded again, and the browser is told which chunk to send next.
pub async fn start(
    db: &Db,
    store: &FileStore,
    config: &Config,
    viewer: &Viewer,
    key: &str,
    format: &str,
    language: Option<&str>,
) -> Result<(LiveRecording, Ready), ServiceError> {
    let key = checked_key(key)?;
    let format = checked_format(format)?;
    let language = match language.map(str::trim).filter(|l| !l.is_empty()) {
        Some(code) if transcription::is_language(code) => code.to_string(),
        Some(_) => return Err(Msg::ErrorVoiceLanguage.into()),
        None => viewer.language.code().to_string(),
    };
    let slot = LiveSlot::take().ok_or(Msg::ErrorVoiceBusy)?;
    let row = db
        .open_recording(viewer.user_id, key, format, &language, now_micros())
        .await?;
    let next = u32::try_from(row.chunks).unwrap_or(0);
    // A recording whose transcript a crash interrupted is sent without it: the sweep makes it.
    let finished = (row.state == "ready").then(|| Final {
        text: row.transcript.clone(),
        state: row
            .transcript_state
            .as_deref()
            .and_then(TranscriptState::from_code)
            .unwrap_or(TranscriptState::Pending),
        duration_ms: u64::try_from(row.duration_ms.unwrap_or(0)).unwrap_or(0),
    });
    let transcriber = Transcriber::from_config(config);
    let decoder = LiveDecoder::start(&row.format, limits_of(config));
    if finished.is_none() && transcriber.is_available() {
        for chunk in db.recording_chunks(row.id).await? {
            decoder.push(Bytes::from(chunk));
        }
    }
    let max_bytes = config.max_file_bytes.min(audio::MAX_VOICE_BYTES);
    let stored =
        (row.state == "ready").then(|| u64::try_from(row.duration_ms.unwrap_or(0)).unwrap_or(0));
    let staged_id = row.attachment_id.clone();
    let recording = LiveRecording {
        db: db.clone(),
        store: store.clone(),
        config: config.clone(),
        viewer: viewer.clone(),
        worker: TranscriptWorker {
            transcriber,
            language: row.language.clone(),
            progress: Arc::default(),
        },
        row,
        next,
        max_bytes: i64::try_from(max_bytes).unwrap_or(i64::MAX),
        decoder: Arc::new(Mutex::new(Some(decoder))),
        partial_at: 0,
        stored,
        samples: None,
        staged_id,
        finished,
        _slot: slot,
    };
    let ready = Ready {
        next,
        max_seconds: config.max_voice_duration.as_secs(),
    };
    Ok((recording, ready))
}

impl LiveRecording {
    /// The browser's key of this recording.
    pub fn key(&self) -> &str {
        &self.row.recording_key
    }

    /// Stores chunk `seq` (or acknowledges it again if it was stored before).
    pub async fn chunk(&mut self, seq: u32, data: Bytes) -> Result<ChunkOutcome, ServiceError> {
        if seq < self.next || self.finished.is_some() {
            return Ok(ChunkOutcome::Ack(seq.min(self.next.saturating_sub(1))));
        }
        if seq > self.next {
            return Ok(ChunkOutcome::Resend { next: self.next });
        }
        if data.is_empty() || data.len() > MAX_CHUNK_BYTES {
            return Err(Msg::ErrorVoiceNotAudio.into());
        }
        let seq_i32 = i32::try_from(seq).map_err(|_| Msg::ErrorVoiceTooLong)?;
        match self
            .db
            .append_recording_chunk(self.row.id, seq_i32, &data, self.max_bytes, now_micros())
            .await?
        {
            ChunkWrite::Stored(_) => {}
            ChunkWrite::TooLarge => return Err(Msg::ErrorVoiceTooLong.into()),
            // Another connection of the same recording stored it meanwhile.
            ChunkWrite::OutOfOrder => {
                let stored = self
                    .db
                    .recording_by_key(self.viewer.user_id, &self.row.recording_key)
                    .await?
                    .ok_or(Msg::ErrorVoiceRecordingGone)?;
                self.next = u32::try_from(stored.chunks).unwrap_or(0);
                return Ok(ChunkOutcome::Resend { next: self.next });
            }
        }
        self.next = seq + 1;
        let decoding = self.worker.transcriber.is_available();
        if let Some(decoder) = self
            .decoder
            .lock()
            .expect("decoder lock")
            .as_ref()
            .filter(|_| decoding)
        {
            decoder.push(data);
        }
        Ok(ChunkOutcome::Ack(seq))
    }

    /// Work that computes the partial text, to run beside the connection (it takes seconds);
    /// `None` when too little audio arrived since the last one.
    pub fn partial_job(&mut self) -> Option<PartialJob> {
        if self.finished.is_some() || !self.worker.transcriber.is_available() {
            return None;
        }
        let decoded = self
            .decoder
            .lock()
            .expect("decoder lock")
            .as_ref()
            .map(LiveDecoder::decoded)?;
        if decoded < self.partial_at + PARTIAL_STEP_SAMPLES {
            return None;
        }
        self.partial_at = decoded;
        Some(PartialJob {
            decoder: self.decoder.clone(),
            worker: self.worker.clone(),
        })
    }

    /// The browser has sent `chunks` chunks in all: once they are all here, the recording is
    /// decoded to its end and staged; then `transcript` makes its last words.
    pub async fn stop(&mut self, chunks: u32) -> Result<StopOutcome, ServiceError> {
        if let Some(duration_ms) = self.stored {
            return Ok(StopOutcome::Stored { duration_ms });
        }
        if chunks != self.next {
            return Ok(StopOutcome::Resend { next: self.next });
        }
        if chunks == 0 {
            return Err(Msg::ErrorFileEmpty.into());
        }
        let bytes: Vec<u8> = self
            .db
            .recording_chunks(self.row.id)
            .await?
            .into_iter()
            .flatten()
            .collect();
        let staged = self.stage(Bytes::from(bytes.clone())).await?;
        let (duration, samples) = match self.checked(bytes, &staged.content_type).await {
            Ok(checked) => checked,
            Err(err) => {
                let _ =
                    attachments::discard_staged(&self.db, &self.store, &self.viewer, &staged.id)
                        .await;
                return Err(err);
            }
        };
        let duration_ms = u64::try_from(duration.as_millis()).unwrap_or(u64::MAX);
        self.db
            .finish_recording(
                self.row.id,
                &staged.id,
                i64::try_from(duration_ms).unwrap_or(i64::MAX),
                TranscriptState::Pending.code(),
                None,
                now_micros(),
            )
            .await?;
        self.stored = Some(duration_ms);
        self.samples = samples;
        self.staged_id = Some(staged.id);
        Ok(StopOutcome::Stored { duration_ms })
    }

    /// The whole transcript of a stopped recording: the windows not yet done are transcribed,
    /// and the text kept with the recording (or written to the entry it was sent as meanwhile).
    pub async fn transcript(&mut self) -> Result<Final, ServiceError> {
        if let Some(done) = &self.finished {
            return Ok(done.clone());
        }
        let duration_ms = self.stored.ok_or(Msg::ErrorVoiceRecordingIncomplete)?;
        let Some(samples) = self.samples.take() else {
            // No engine; or a crash came between stop and the transcript: the sweep makes it.
            let state = if self.worker.transcriber.is_available() {
                TranscriptState::Pending
            } else {
                TranscriptState::Unavailable
            };
            self.db
                .record_recording_transcript(self.row.id, state.code(), None, now_micros())
                .await?;
            let done = Final {
                text: None,
                state,
                duration_ms,
            };
            self.finished = Some(done.clone());
            return Ok(done);
        };
        let (text, state) = match self.worker.finish(samples).await {
            Ok(text) => (Some(text), TranscriptState::Done),
            Err(TranscriptionError::Unavailable) => (None, TranscriptState::Unavailable),
            Err(err) => {
                tracing::warn!(error = %err, "a streamed recording could not be transcribed now; it will be after it is sent");
                (None, TranscriptState::Pending)
            }
        };
        let kept = self
            .db
            .record_recording_transcript(self.row.id, state.code(), text.as_deref(), now_micros())
            .await?;
        if let (false, Some(text), Some(staged)) = (kept, &text, &self.staged_id) {
            // Sent already: the transcript goes to the entry it became.
            voice::record_sent_transcript(&self.db, staged, text).await?;
        }
        let done = Final {
            text,
            state,
            duration_ms,
        };
        self.finished = Some(done.clone());
        Ok(done)
    }

    /// The recording, staged as one file of the viewer, typed from its first bytes.
    async fn stage(&self, bytes: Bytes) -> Result<crate::model::AttachmentInfo, ServiceError> {
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes)]);
        let mut limited = self.config.clone();
        limited.max_file_bytes = self.config.max_file_bytes.min(audio::MAX_VOICE_BYTES);
        let staged = attachments::stage_whole(
            &self.db,
            &self.store,
            &limited,
            &self.viewer,
            file_name_of(&self.row.format),
            body,
        )
        .await
        .map_err(|err| match err {
            ServiceError::User(Msg::ErrorFileTypeNotAllowed) => Msg::ErrorVoiceNotAudio.into(),
            other => other,
        })?;
        if !audio::VOICE_TYPES.contains(&staged.content_type.as_str()) {
            let _ =
                attachments::discard_staged(&self.db, &self.store, &self.viewer, &staged.id).await;
            return Err(Msg::ErrorVoiceNotAudio.into());
        }
        Ok(staged)
    }

    /// Checks the whole recording as any voice comment is checked (audio only, no longer than
    /// allowed, read from its container) and, with an engine to feed, decodes its end: its
    /// duration, and its samples when they will be transcribed.
    async fn checked(
        &self,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(Duration, Option<Vec<f32>>), ServiceError> {
        let content_type = content_type.to_string();
        let demuxed = tokio::task::spawn_blocking(move || {
            audio::duration_of(bytes, &content_type, audio::DEMUX_TIME_LIMIT)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))?;
        let duration = match demuxed {
            Ok(duration) => duration,
            Err(audio::AudioError::TooLong) => return Err(Msg::ErrorVoiceTooLong.into()),
            Err(err) => {
                tracing::debug!(error = %err, "a streamed recording is not audio");
                return Err(Msg::ErrorVoiceNotAudio.into());
            }
        };
        if duration > self.config.max_voice_duration + LENGTH_SLACK {
            return Err(Msg::ErrorVoiceTooLong.into());
        }
        let decoder = self.decoder.lock().expect("decoder lock").take();
        let Some(decoder) = decoder.filter(|_| self.worker.transcriber.is_available()) else {
            return Ok((duration, None));
        };
        let decoded = tokio::task::spawn_blocking(move || decoder.finish())
            .await
            .map_err(|e| std::io::Error::other(e.to_string()))?;
        match decoded {
            Ok(samples) if !samples.is_empty() => Ok((duration, Some(samples))),
            Ok(_) => Err(Msg::ErrorVoiceNotAudio.into()),
            Err(audio::AudioError::TooLong) => Err(Msg::ErrorVoiceTooLong.into()),
            Err(err) => {
                tracing::debug!(error = %err, "a streamed recording could not be decoded");
                Err(Msg::ErrorVoiceNotAudio.into())
            }
        }
    }

    /// The person threw the recording away: nothing of it is kept.
    pub async fn discard(self) -> Result<(), ServiceError> {
        if let Some(attachment_id) = self
            .db
            .recording_by_key(self.viewer.user_id, &self.row.recording_key)
            .await?
            .and_then(|row| row.attachment_id)
        {
            let _ =
                attachments::discard_staged(&self.db, &self.store, &self.viewer, &attachment_id)
                    .await;
        }
        self.db.delete_recording(self.row.id).await?;
        Ok(())
    }
}

/// Computes one partial text: finishes the windows that are complete, then transcribes the one
/// still growing if the engine has a turn free.
pub struct PartialJob {
    decoder: SharedDecoder,
    worker: TranscriptWorker,
}

type SharedDecoder = Arc<Mutex<Option<LiveDecoder>>>;

/// The samples decoded so far from `from` on; `None` once the decoder was taken at stop.
fn samples_from(decoder: &SharedDecoder, from: usize) -> Option<Vec<f32>> {
    decoder
        .lock()
        .expect("decoder lock")
        .as_ref()
        .map(|decoder| decoder.samples_from(from))
}

impl PartialJob {
    /// The whole text so far; `None` when there is nothing new to show (the engine is busy, or
    /// another partial is being computed).
    pub async fn run(self) -> Option<String> {
        let progress = self.worker.progress.clone().try_lock_owned().ok()?;
        // The complete windows are transcribed for good in a task of their own: stop, which
        // drops this job, then waits for that work (`finish` takes the same lock) instead of
        // doing it again.
        let committing = tokio::spawn(
            self.worker
                .clone()
                .commit_complete_windows(self.decoder.clone(), progress),
        );
        let progress = committing.await.ok()??;
        self.worker.draft(&self.decoder, progress).await
    }
}

/// The windows of a recording transcribed so far, shared by its partial jobs and its stop.
#[derive(Clone)]
struct TranscriptWorker {
    transcriber: Transcriber,
    language: String,
    progress: Arc<tokio::sync::Mutex<Progress>>,
}

#[derive(Default)]
struct Progress {
    /// The texts of the complete windows, in order.
    texts: Vec<String>,
    /// Where the next window starts, in samples.
    done_until: usize,
}

impl Progress {
    fn joined(&self, last: Option<&str>) -> String {
        self.texts
            .iter()
            .map(String::as_str)
            .chain(last)
            .filter(|t| !t.is_empty())
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl TranscriptWorker {
    /// Transcribes, for good, each window of the recording that is complete; gives the
    /// progress back unless the engine failed or the recording stopped meanwhile.
    async fn commit_complete_windows(
        self,
        decoder: SharedDecoder,
        mut progress: tokio::sync::OwnedMutexGuard<Progress>,
    ) -> Option<tokio::sync::OwnedMutexGuard<Progress>> {
        loop {
            let samples = samples_from(&decoder, progress.done_until)?;
            let Some(end) = transcription::window_end(&samples, 0, false) else {
                return Some(progress);
            };
            let _turn = transcription::turn().await;
            let text = self
                .transcriber
                .transcribe_pcm(Arc::from(&samples[..end]), &self.language, Pass::Final)
                .await
                .ok()?;
            progress.texts.push(text);
            progress.done_until += end;
        }
    }

    /// The text so far: the complete windows' and a quick one of the stretch after them, when
    /// the engine has a turn free.
    async fn draft(
        &self,
        decoder: &SharedDecoder,
        progress: tokio::sync::OwnedMutexGuard<Progress>,
    ) -> Option<String> {
        let rest = samples_from(decoder, progress.done_until)?;
        if rest.len() < PARTIAL_STEP_SAMPLES {
            return Some(progress.joined(None));
        }
        let _turn = transcription::try_turn()?;
        let current = self
            .transcriber
            .transcribe_pcm(Arc::from(rest), &self.language, Pass::Draft)
            .await
            .ok()?;
        Some(progress.joined(Some(&current)))
    }

    /// The whole transcript, once every sample is decoded: the windows not yet done.
    async fn finish(&self, samples: Vec<f32>) -> Result<String, TranscriptionError> {
        if !self.transcriber.is_available() {
            return Err(TranscriptionError::Unavailable);
        }
        let mut progress = self.progress.lock().await;
        let mut start = progress.done_until.min(samples.len());
        while let Some(end) = transcription::window_end(&samples, start, true) {
            if end <= start {
                break;
            }
            let _turn = transcription::turn().await;
            let text = self
                .transcriber
                .transcribe_pcm(Arc::from(&samples[start..end]), &self.language, Pass::Final)
                .await?;
            progress.texts.push(text);
            start = end;
            progress.done_until = end;
        }
        Ok(progress
            .joined(None)
            .chars()
            .take(transcription::TRANSCRIPT_MAX_CHARS)
            .collect())
    }
}

/// Forgets the recordings nobody sent within `KEPT_FOR`, with their staged files (those expire
/// with the other staged files). Returns how many.
pub async fn purge_stale(db: &Db) -> Result<u64, ServiceError> {
    Ok(db.delete_recordings_before(now_micros() - KEPT_FOR).await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_and_formats_are_checked() {
        assert!(checked_key("3f2b8c1e-0d7a-4c55-9b1e-2a6f0c9d8e71").is_ok());
        assert!(checked_key("short").is_err());
        assert!(checked_key("../../etc/passwd-and-more-bytes").is_err());
        assert_eq!(
            checked_format("audio/webm;codecs=opus").unwrap(),
            "audio/webm"
        );
        assert_eq!(checked_format("audio/mp4").unwrap(), "audio/mp4");
        assert_eq!(
            checked_format("AUDIO/OGG; codecs=opus").unwrap(),
            "audio/ogg"
        );
        assert!(checked_format("application/pdf").is_err());
    }

    #[test]
    fn the_text_so_far_joins_the_windows_and_the_growing_one() {
        let progress = Progress {
            texts: vec!["el telescopio".into(), String::new(), "no abre".into()],
            done_until: 0,
        };
        assert_eq!(
            progress.joined(Some("la cúpula")),
            "el telescopio no abre la cúpula"
        );
        assert_eq!(progress.joined(None), "el telescopio no abre");
    }
}
