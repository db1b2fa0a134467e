//! Speech to text for voice comments, behind one interface: `Transcriber`. An engine is given
//! a whole recording and the language it is spoken in, and answers its text. Engines run off
//! the request path (`voice` schedules them after the comment is saved), at most
//! `MAX_CONCURRENT` at a time for the whole process; the rest wait their turn.
//!
//! - `Http`: an OpenAI-compatible speech server (`POST {url}/v1/audio/transcriptions`), for
//!   observatories that run their own.
//! - `Builtin`: Whisper base through whisper.cpp on the CPU (the model `speech_model` names,
//!   made by `speech_model::convert`). The model is loaded on first use, once per process,
//!   and shared by every job; inference runs on the blocking pool under the same permits.
//! - `Unavailable`: nothing configured; voice comments keep their audio, playable, and say so.
//!
//! The speech server wins when both are configured. Audio is transcribed in windows of at
//! most 30 s (Whisper's own), cut where the speaker pauses (`window_end`).

use super::audio::{self, DecodeLimits};
use super::config::{Config, TranscriptionSettings};
use bytes::Bytes;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
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

/// How carefully a window is transcribed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pass {
    /// The text shown while the person still speaks: quick, soon replaced (greedy decoding).
    Draft,
    /// The text that is kept: beam search, which on espeak Spanish makes about half the errors
    /// of greedy decoding for 1.2 times the time (docs/PERFORMANCE.md).
    Final,
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
    #[error("the recording could not be decoded: {0}")]
    Undecodable(String),
    #[error("the built-in speech engine failed: {0}")]
    Engine(String),
}

/// How voice comments are transcribed in this portal.
#[derive(Debug, Clone)]
pub enum Transcriber {
    Http(HttpEngine),
    Builtin(WhisperEngine),
    Unavailable,
}

/// Whisper hears 16 kHz mono.
pub const SAMPLE_RATE: usize = 16_000;

/// Silence put before and after each window. A clip that starts on its first word has that
/// word garbled: with half a second before it, the error rate on short espeak Spanish phrases
/// fell from 70% to 51% (docs/PERFORMANCE.md). It also gives whisper.cpp the second of audio it
/// needs at least.
const MARGIN: usize = SAMPLE_RATE / 2;

/// The longest stretch transcribed at once: Whisper's 30 s window, less the margins.
pub const WINDOW: usize = 30 * SAMPLE_RATE - 2 * MARGIN;

/// A window is cut at the quietest `QUIET` (100 ms) in its last `CUT_SEARCH` (3 s).
const CUT_SEARCH: usize = 3 * SAMPLE_RATE;
const QUIET: usize = SAMPLE_RATE / 10;

/// How long decoding a whole recording may take.
const DECODE_TIME_LIMIT: Duration = Duration::from_secs(30);

impl Transcriber {
    pub fn from_config(config: &Config) -> Transcriber {
        match (&config.transcription, &config.speech_model) {
            (Some(settings), _) => Transcriber::Http(HttpEngine {
                settings: settings.clone(),
            }),
            (None, Some(model)) => Transcriber::Builtin(WhisperEngine {
                model: model.clone(),
                max_duration: config.max_voice_duration,
                max_threads: config.speech_threads,
            }),
            (None, None) => Transcriber::Unavailable,
        }
    }

    /// The text of 16 kHz mono `samples`, at most one `WINDOW` (~30 s) long, trimmed. Call
    /// it holding a `turn()`.
    pub async fn transcribe_pcm(
        &self,
        samples: Arc<[f32]>,
        language: &str,
        pass: Pass,
    ) -> Result<String, TranscriptionError> {
        let text = match self {
            Transcriber::Http(engine) => {
                let recording = Recording {
                    bytes: Bytes::from(wav_file(&samples)),
                    content_type: "audio/wav".into(),
                    language: language.to_string(),
                };
                engine.transcribe(recording).await?
            }
            Transcriber::Builtin(engine) => engine.transcribe_pcm(samples, language, pass).await?,
            Transcriber::Unavailable => return Err(TranscriptionError::Unavailable),
        };
        Ok(text.trim().chars().take(TRANSCRIPT_MAX_CHARS).collect())
    }

    /// Whether a new voice comment will get a transcript (else it says "unavailable" at once).
    pub fn is_available(&self) -> bool {
        !matches!(self, Transcriber::Unavailable)
    }

    /// The text of a recording, trimmed and at most `TRANSCRIPT_MAX_CHARS`. Call it holding a
    /// `turn()`.
    pub async fn transcribe(&self, recording: Recording) -> Result<String, TranscriptionError> {
        let text = match self {
            Transcriber::Http(engine) => engine.transcribe(recording).await?,
            Transcriber::Builtin(engine) => engine.transcribe(recording).await?,
            Transcriber::Unavailable => return Err(TranscriptionError::Unavailable),
        };
        Ok(text.trim().chars().take(TRANSCRIPT_MAX_CHARS).collect())
    }
}

/// Where the window starting at `start` ends: `None` while fewer than `WINDOW` samples follow
/// `start` and `finished` is false; else a cut at the quietest short stretch in the last few
/// seconds before the window's maximum length (so words are not cut), or the end of `samples`
/// when finished and what is left fits in one window.
pub fn window_end(samples: &[f32], start: usize, finished: bool) -> Option<usize> {
    let start = start.min(samples.len());
    let left = samples.len() - start;
    match (left, finished) {
        (left, false) if left < WINDOW => None,
        (left, true) if left <= WINDOW => Some(samples.len()),
        _ => Some(quietest_cut(samples, start)),
    }
}

/// The middle of the quietest `QUIET` stretch in `[start + WINDOW - CUT_SEARCH, start + WINDOW]`
/// (searched in 10 ms steps).
fn quietest_cut(samples: &[f32], start: usize) -> usize {
    let limit = (start + WINDOW).min(samples.len());
    let from = limit.saturating_sub(CUT_SEARCH).max(start);
    let step = SAMPLE_RATE / 100;
    let mut best = (f32::INFINITY, limit);
    let mut at = from;
    while at + QUIET <= limit {
        let energy: f32 = samples[at..at + QUIET].iter().map(|s| s * s).sum();
        if energy < best.0 {
            best = (energy, at + QUIET / 2);
        }
        at += step;
    }
    best.1.max(start + 1)
}

/// 16 kHz mono samples as a 16-bit PCM WAV file (what the speech server is sent).
pub fn wav_file(samples: &[f32]) -> Vec<u8> {
    let data_len = (samples.len() * 2) as u32;
    let mut wav = Vec::with_capacity(44 + samples.len() * 2);
    wav.extend_from_slice(b"RIFF");
    wav.extend_from_slice(&(36 + data_len).to_le_bytes());
    wav.extend_from_slice(b"WAVEfmt ");
    wav.extend_from_slice(&16u32.to_le_bytes());
    wav.extend_from_slice(&1u16.to_le_bytes()); // PCM
    wav.extend_from_slice(&1u16.to_le_bytes()); // mono
    wav.extend_from_slice(&(SAMPLE_RATE as u32).to_le_bytes());
    wav.extend_from_slice(&(SAMPLE_RATE as u32 * 2).to_le_bytes());
    wav.extend_from_slice(&2u16.to_le_bytes());
    wav.extend_from_slice(&16u16.to_le_bytes());
    wav.extend_from_slice(b"data");
    wav.extend_from_slice(&data_len.to_le_bytes());
    for s in samples {
        let v = (s.clamp(-1.0, 1.0) * 32767.0).round() as i16;
        wav.extend_from_slice(&v.to_le_bytes());
    }
    wav
}

/// How far `heard` is from `reference`: the word-level edit distance (substitutions,
/// insertions, deletions) and the number of words of `reference`, both lower-cased with
/// punctuation ignored. Their ratio is the word error rate the tests and the benchmark report.
pub fn word_errors(reference: &str, heard: &str) -> (usize, usize) {
    let words = |text: &str| -> Vec<String> {
        text.to_lowercase()
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let (reference, heard) = (words(reference), words(heard));
    let mut previous: Vec<usize> = (0..=heard.len()).collect();
    for (i, r) in reference.iter().enumerate() {
        let mut row = vec![i + 1];
        for (j, h) in heard.iter().enumerate() {
            let substitution = previous[j] + usize::from(r != h);
            row.push(substitution.min(previous[j + 1] + 1).min(row[j] + 1));
        }
        previous = row;
    }
    (previous[heard.len()], reference.len())
}

/// Whisper on the CPU, through whisper.cpp.
#[derive(Debug, Clone)]
pub struct WhisperEngine {
    model: PathBuf,
    max_duration: Duration,
    /// `CUPULA_SPEECH_THREADS`.
    max_threads: Option<usize>,
}

/// A segment whisper.cpp thinks is more likely silence than speech is dropped: on silence
/// Whisper otherwise "hears" the subtitle credits it was trained on.
const NO_SPEECH_THRESHOLD: f32 = 0.6;

/// Below this peak level a window is silence, and not worth an encoder pass.
const SILENCE_PEAK: f32 = 0.003;

/// Beams searched for a `Pass::Final` window.
const BEAM_SIZE: i32 = 5;

/// Threads for a job starting now: the cores shared among the jobs running (the caller holds
/// one of the turns), at most `max_threads`. A job alone gets every core; two on two cores get
/// one each, which also keeps their times steady. whisper.cpp's threads wait for each other by
/// spinning, so a core taken by another program slows a job that counted on it many times over:
/// `CUPULA_SPEECH_THREADS` leaves cores to the rest of a shared machine.
fn threads(max_threads: Option<usize>) -> i32 {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let running = MAX_CONCURRENT
        .saturating_sub(RUNNING.available_permits())
        .max(1);
    let threads = (cores / running).min(max_threads.unwrap_or(usize::MAX));
    i32::try_from(threads.max(1)).unwrap_or(1)
}

/// The loaded models, by path: loaded on first use, shared by every job after.
fn loaded(path: &Path) -> Result<Arc<whisper_rs::WhisperContext>, TranscriptionError> {
    static MODELS: OnceLock<Mutex<HashMap<PathBuf, Arc<whisper_rs::WhisperContext>>>> =
        OnceLock::new();
    let models = MODELS.get_or_init(Default::default);
    // Held while loading (a blocking thread, never across an await): one load per model.
    let mut models = models
        .lock()
        .map_err(|_| TranscriptionError::Engine("a model load panicked".into()))?;
    if let Some(context) = models.get(path) {
        return Ok(context.clone());
    }
    static LOGGING: std::sync::Once = std::sync::Once::new();
    // whisper.cpp's own logging (to standard error) is silenced.
    LOGGING.call_once(whisper_rs::install_logging_hooks);
    let started = std::time::Instant::now();
    let context = whisper_rs::WhisperContext::new_with_params(
        path,
        whisper_rs::WhisperContextParameters::default(),
    )
    .map_err(|e| TranscriptionError::Engine(format!("loading {}: {e}", path.display())))?;
    tracing::info!(model = %path.display(), millis = started.elapsed().as_millis() as u64, "speech model loaded");
    let context = Arc::new(context);
    models.insert(path.to_path_buf(), context.clone());
    Ok(context)
}

/// Set when the future waiting for a job is dropped (the person pressed stop while a partial
/// text was being made, or left): whisper.cpp checks it between operations and gives up, so
/// the cores go to the work still wanted. A job left running would share them with the next
/// one, each with all its threads: on two cores a final transcript then took 20-35 s instead
/// of 4 s.
struct CancelOnDrop(Arc<AtomicBool>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// whisper.cpp's abort callback: whether the job's `CancelOnDrop` fired.
///
/// # Safety
/// `flag` is the `AtomicBool` given to `run_whisper`, which outlives the `full` call that
/// calls this.
unsafe extern "C" fn is_cancelled(flag: *mut std::ffi::c_void) -> bool {
    // SAFETY: see above; the flag is only read, atomically.
    unsafe { (*(flag as *const AtomicBool)).load(Ordering::Relaxed) }
}

/// Runs `job` on the blocking pool, cancelled (see `CancelOnDrop`) if this future is dropped.
async fn blocking_whisper<T: Send + 'static>(
    job: impl FnOnce(&AtomicBool) -> Result<T, TranscriptionError> + Send + 'static,
) -> Result<T, TranscriptionError> {
    let cancelled = Arc::new(AtomicBool::new(false));
    let _cancel = CancelOnDrop(cancelled.clone());
    tokio::task::spawn_blocking(move || job(&cancelled))
        .await
        .map_err(|e| TranscriptionError::Engine(e.to_string()))?
}

/// Transcribes one window, blocking; gives up once `cancelled` is set.
fn run_whisper(
    whisper: &WhisperEngine,
    samples: &[f32],
    language: &str,
    pass: Pass,
    cancelled: &AtomicBool,
) -> Result<String, TranscriptionError> {
    if samples.iter().fold(0f32, |m, s| m.max(s.abs())) < SILENCE_PEAK {
        return Ok(String::new());
    }
    let context = loaded(&whisper.model)?;
    let engine = |e: whisper_rs::WhisperError| TranscriptionError::Engine(e.to_string());
    let mut state = context.create_state().map_err(engine)?;
    let strategy = match pass {
        Pass::Draft => whisper_rs::SamplingStrategy::Greedy { best_of: 1 },
        Pass::Final => whisper_rs::SamplingStrategy::BeamSearch {
            beam_size: BEAM_SIZE,
            patience: -1.0,
        },
    };
    let mut params = whisper_rs::FullParams::new(strategy);
    params.set_n_threads(threads(whisper.max_threads));
    // The language is the person's: never guessed (that costs an encoder pass, and errs).
    params.set_language(Some(language));
    params.set_translate(false);
    params.set_no_context(true);
    params.set_no_timestamps(true);
    params.set_print_special(false);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_timestamps(false);
    params.set_suppress_blank(true);
    params.set_suppress_nst(true);
    // SAFETY: `is_cancelled` only reads `cancelled`, which outlives `state.full` below.
    unsafe {
        params.set_abort_callback(Some(is_cancelled));
        params
            .set_abort_callback_user_data(cancelled as *const AtomicBool as *mut std::ffi::c_void);
    }
    let silence = [0.0; MARGIN];
    let padded = [&silence[..], samples, &silence[..]].concat();
    state.full(params, &padded).map_err(engine)?;
    let mut text = String::new();
    for segment in state.as_iter() {
        if segment.no_speech_probability() > NO_SPEECH_THRESHOLD {
            continue;
        }
        let piece = segment.to_str_lossy().map_err(engine)?;
        let piece = piece.trim();
        if !piece.is_empty() {
            if !text.is_empty() {
                text.push(' ');
            }
            text.push_str(piece);
        }
    }
    Ok(text)
}

impl WhisperEngine {
    async fn transcribe_pcm(
        &self,
        samples: Arc<[f32]>,
        language: &str,
        pass: Pass,
    ) -> Result<String, TranscriptionError> {
        let engine = self.clone();
        let language = language.to_string();
        blocking_whisper(move |cancelled| {
            let window = &samples[..samples.len().min(WINDOW)];
            run_whisper(&engine, window, &language, pass, cancelled)
        })
        .await
    }

    /// A whole recording: decoded, then transcribed window by window, texts joined.
    async fn transcribe(&self, recording: Recording) -> Result<String, TranscriptionError> {
        let engine = self.clone();
        let limits = DecodeLimits {
            max_duration: self.max_duration,
            time_limit: DECODE_TIME_LIMIT,
        };
        blocking_whisper(move |cancelled| {
            let samples = audio::decode_pcm(&recording.bytes, &recording.content_type, limits)
                .map_err(|e| TranscriptionError::Undecodable(e.to_string()))?;
            let mut texts = Vec::new();
            let mut start = 0;
            while start < samples.len() {
                let end = window_end(&samples, start, true).unwrap_or(samples.len());
                let text = run_whisper(
                    &engine,
                    &samples[start..end],
                    &recording.language,
                    Pass::Final,
                    cancelled,
                )?;
                if !text.is_empty() {
                    texts.push(text);
                }
                start = end;
            }
            Ok(texts.join(" "))
        })
        .await
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
    fn word_errors_count_substitutions_insertions_and_deletions() {
        let reference = "El telescopio no abre, la cúpula.";
        assert_eq!(
            word_errors(reference, "el telescopio no abre la cúpula"),
            (0, 6)
        );
        assert_eq!(
            word_errors(reference, "el telescopio abre la copula hoy"),
            (3, 6)
        );
        assert_eq!(word_errors(reference, ""), (6, 6));
        assert_eq!(word_errors("", "hola"), (1, 0));
    }

    #[test]
    fn the_file_name_tells_the_container() {
        assert_eq!(file_name_for("audio/ogg"), "voice.ogg");
        assert_eq!(file_name_for("video/webm"), "voice.webm");
        assert_eq!(file_name_for("audio/mp4"), "voice.m4a");
        assert!(is_language("es") && is_language("en") && !is_language("xx"));
    }
}
