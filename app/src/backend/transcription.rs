//! Speech to text for voice comments, behind one interface: `Transcriber`. An engine is given
//! a whole recording and the language it is spoken in, and answers its text. Engines run off
//! the request path (`voice` schedules them after the comment is saved), at most
//! `MAX_CONCURRENT` at a time for the whole process; the rest wait their turn.
//!
//! - `Http`: an OpenAI-compatible speech server (`POST {url}/v1/audio/transcriptions`), for
//!   observatories that run their own.
//! - `Unavailable`: nothing configured; voice comments keep their audio, playable, and say so.
//!
//! A built-in engine (Whisper on the CPU) fits the same shape: it loads its model once, shared,
//! and runs on the blocking pool under the same permits.

use super::config::{Config, TranscriptionSettings};
use bytes::Bytes;
use futures_util::StreamExt;
use std::sync::OnceLock;
use std::time::Duration;
use tokio::sync::Semaphore;

/// Transcriptions running at once in this process: each costs the speech server (or, built
/// in, the CPU) a great deal, and the machine has few cores.
pub const MAX_CONCURRENT: usize = 2;

/// The languages a recording may be said to be in: Whisper's codes that people here speak.
pub const LANGUAGES: &[&str] = &[
    "es", "en", "fr", "de", "it", "pt", "ca", "eu", "gl", "nl", "pl", "ru", "zh", "ja",
];

/// The longest transcript kept, in characters (five minutes of speech are about 5,000).
pub const TRANSCRIPT_MAX_CHARS: usize = 20_000;

/// How long the speech server may take to accept a connection, and to answer in all.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(180);

/// The largest answer read from the speech server.
const ANSWER_MAX_BYTES: usize = 1024 * 1024;

static RUNNING: Semaphore = Semaphore::const_new(MAX_CONCURRENT);

/// One of the `MAX_CONCURRENT` turns at transcribing, waited for in order; held until dropped.
pub async fn turn() -> tokio::sync::SemaphorePermit<'static> {
    RUNNING
        .acquire()
        .await
        .expect("the transcription semaphore is never closed")
}

/// A turn if one is free now: for work that is worth doing only when the engine is idle
/// (the partial text shown while a person speaks).
pub fn try_turn() -> Option<tokio::sync::SemaphorePermit<'static>> {
    RUNNING.try_acquire().ok()
}

/// Whether `code` is one of `LANGUAGES`.
pub fn is_language(code: &str) -> bool {
    LANGUAGES.contains(&code)
}

/// A recording to transcribe.
#[derive(Debug, Clone)]
pub struct Recording {
    pub bytes: Bytes,
    /// Its detected content type (`audio/ogg`, `video/webm`…).
    pub content_type: String,
    /// One of `LANGUAGES`: a hint, so the engine need not guess.
    pub language: String,
}

/// Why a recording has no transcript. Logged, never shown: people see the entry's state.
#[derive(Debug, thiserror::Error)]
pub enum TranscriptionError {
    #[error("no transcription engine is configured")]
    Unavailable,
    #[error("the speech server could not be reached: {0}")]
    Unreachable(String),
    #[error("the speech server answered {status}: {body}")]
    Refused { status: u16, body: String },
    #[error("the speech server's answer is not a transcript: {0}")]
    BadAnswer(String),
}

/// How voice comments are transcribed in this portal.
#[derive(Debug, Clone)]
pub enum Transcriber {
    Http(HttpEngine),
    Unavailable,
}

impl Transcriber {
    pub fn from_config(config: &Config) -> Transcriber {
        match &config.transcription {
            Some(settings) => Transcriber::Http(HttpEngine {
                settings: settings.clone(),
            }),
            None => Transcriber::Unavailable,
        }
    }

    /// Whether a new voice comment will get a transcript (else it says "unavailable" at once).
    pub fn is_available(&self) -> bool {
        !matches!(self, Transcriber::Unavailable)
    }

    /// The text of a recording, trimmed and at most `TRANSCRIPT_MAX_CHARS`. Call it holding a
    /// `turn()`.
    pub async fn transcribe(&self, recording: Recording) -> Result<String, TranscriptionError> {
        let engine = match self {
            Transcriber::Http(engine) => engine,
            Transcriber::Unavailable => return Err(TranscriptionError::Unavailable),
        };
        let text = engine.transcribe(recording).await?;
        Ok(text.trim().chars().take(TRANSCRIPT_MAX_CHARS).collect())
    }
}

/// An OpenAI-compatible speech server.
#[derive(Debug, Clone)]
pub struct HttpEngine {
    settings: TranscriptionSettings,
}

/// One client for the process: it keeps connections to the speech server open between jobs.
fn client() -> Result<&'static reqwest::Client, TranscriptionError> {
    static CLIENT: OnceLock<reqwest::Client> = OnceLock::new();
    if let Some(client) = CLIENT.get() {
        return Ok(client);
    }
    let client = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(ANSWER_TIMEOUT)
        // The server is the operator's: it is never sent elsewhere.
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| TranscriptionError::Unreachable(e.to_string()))?;
    Ok(CLIENT.get_or_init(|| client))
}

/// A file name whose extension tells the server the container, as its own clients send.
fn file_name_for(content_type: &str) -> &'static str {
    match content_type {
        "audio/ogg" => "voice.ogg",
        "audio/wav" => "voice.wav",
        "audio/mp4" | "video/mp4" => "voice.m4a",
        _ => "voice.webm",
    }
}

impl HttpEngine {
    async fn transcribe(&self, recording: Recording) -> Result<String, TranscriptionError> {
        let url = format!(
            "{}/v1/audio/transcriptions",
            self.settings.url.as_str().trim_end_matches('/')
        );
        let file = reqwest::multipart::Part::stream(recording.bytes)
            .file_name(file_name_for(&recording.content_type))
            .mime_str(&recording.content_type)
            .map_err(|e| TranscriptionError::Unreachable(e.to_string()))?;
        let form = reqwest::multipart::Form::new()
            .part("file", file)
            .text("model", self.settings.model.clone())
            .text("language", recording.language)
            .text("response_format", "json");
        let mut request = client()?.post(url).multipart(form);
        if let Some(key) = &self.settings.api_key {
            request = request.bearer_auth(key);
        }
        let response = request
            .send()
            .await
            .map_err(|e| TranscriptionError::Unreachable(e.to_string()))?;
        let status = response.status();
        let mut body = Vec::new();
        let mut chunks = response.bytes_stream();
        while let Some(chunk) = chunks.next().await {
            let chunk = chunk.map_err(|e| TranscriptionError::Unreachable(e.to_string()))?;
            if body.len() + chunk.len() > ANSWER_MAX_BYTES {
                return Err(TranscriptionError::BadAnswer(
                    "the answer is too long".into(),
                ));
            }
            body.extend_from_slice(&chunk);
        }
        if !status.is_success() {
            return Err(TranscriptionError::Refused {
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body).chars().take(500).collect(),
            });
        }
        #[derive(serde::Deserialize)]
        struct Answer {
            text: String,
        }
        serde_json::from_slice::<Answer>(&body)
            .map(|answer| answer.text)
            .map_err(|e| TranscriptionError::BadAnswer(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_name_tells_the_container() {
        assert_eq!(file_name_for("audio/ogg"), "voice.ogg");
        assert_eq!(file_name_for("video/webm"), "voice.webm");
        assert_eq!(file_name_for("audio/mp4"), "voice.m4a");
        assert!(is_language("es") && is_language("en") && !is_language("xx"));
    }
}

// replaced on merge: the built-in engine's branch brings these.
impl Transcriber {
    pub async fn transcribe_pcm(
        &self,
        _samples: std::sync::Arc<[f32]>,
        _language: &str,
    ) -> Result<String, TranscriptionError> {
        Err(TranscriptionError::Unavailable)
    }
}
pub fn window_end(samples: &[f32], start: usize, finished: bool) -> Option<usize> {
    let max = 28 * 16_000;
    if samples.len() - start >= max {
        Some(start + max)
    } else if finished && samples.len() > start {
        Some(samples.len())
    } else {
        None
    }
}
