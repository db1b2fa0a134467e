//! The voice recorder of a comment (new request, reply): it asks for the microphone, records
//! with MediaRecorder in the format the browser supports, shows a timer and an input-level
//! meter, and streams each one-second chunk over the `/voice/stream` WebSocket while the person
//! speaks, reading the partial text back. At stop the final transcript fills an editable field
//! (`voice_text`) and the recording's key goes into the hidden `voice_recording` field, which
//! the form's server function commits with the comment.
//!
//! Nothing is lost to a bad network: each chunk is written to IndexedDB before it is sent and
//! deleted once the server acknowledges it; the socket reconnects with backoff and resumes
//! from the server's count; a recording left unsent by a closed page is offered on the next
//! page with a recorder.
//!
//! The recorder needs the wasm: before hydration its button is disabled, with a hint.

use crate::i18n::{Lang, Msg};
use crate::ui::prefs::{use_prefs, use_t};
use leptos::prelude::*;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The languages the recorder offers, by their own names (which need no translation).
pub const LANGUAGES: [(&str, &str); 7] = [
    ("es", "Español"),
    ("en", "English"),
    ("fr", "Français"),
    ("de", "Deutsch"),
    ("it", "Italiano"),
    ("pt", "Português"),
    ("ca", "Català"),
];

/// The containers asked of MediaRecorder, best first: Chrome and Android record WebM/Opus,
/// Firefox Ogg/Opus, Safari MP4 (AAC).
pub const FORMATS: [&str; 3] = [
    "audio/webm;codecs=opus",
    "audio/ogg;codecs=opus",
    "audio/mp4",
];
/// The longest recording until the server says otherwise (`ready.max_seconds`).
pub const DEFAULT_MAX_SECONDS: u64 = 300;
/// How long before the maximum the person is told.
pub const WARN_BEFORE_SECONDS: u64 = 30;
/// A chunk a second: a cut costs at most a second, and the server transcribes as audio comes.
pub const CHUNK_MS: i32 = 1000;
/// After Send while recording, how long the form waits for the final transcript once the
/// server has the whole recording (without it the server transcribes after).
pub const FINAL_WAIT_MS: u32 = 5_000;
/// Silence from the server while it owes an answer, after which the connection counts as dropped.
pub const SILENCE_LIMIT_MS: f64 = 30_000.0;

/// The first format MediaRecorder supports; `None`: let the browser choose.
pub fn choose_format(supported: impl Fn(&str) -> bool) -> Option<&'static str> {
    FORMATS.into_iter().find(|format| supported(format))
}

/// A recording's length as the timer shows it: `04:05`.
pub fn mm_ss(seconds: u64) -> String {
    format!("{:02}:{:02}", seconds / 60, seconds % 60)
}

/// A length in a sentence: `0:45`, `12:03`.
pub fn m_ss(seconds: u64) -> String {
    format!("{}:{:02}", seconds / 60, seconds % 60)
}

/// The recorder's language by default: the person's portal language.
pub fn default_language(lang: Lang) -> &'static str {
    lang.code()
}

/// Whether the "seconds left" warning is due.
pub fn warning_due(elapsed_ms: u64, max_seconds: u64) -> bool {
    max_seconds > WARN_BEFORE_SECONDS && elapsed_ms >= (max_seconds - WARN_BEFORE_SECONDS) * 1000
}

/// The meter's level (0–100) from an AnalyserNode's time-domain bytes (128 is silence): the
/// RMS on a decibel scale from -60 dB (0) to 0 dB (100), as people hear loudness.
pub fn level_percent(samples: &[u8]) -> u8 {
    if samples.is_empty() {
        return 0;
    }
    let sum: f64 = samples
        .iter()
        .map(|&b| {
            let v = (f64::from(b) - 128.0) / 128.0;
            v * v
        })
        .sum();
    let rms = (sum / samples.len() as f64).sqrt();
    if rms <= 0.0 {
        return 0;
    }
    let db = 20.0 * rms.log10();
    (((db + 60.0) / 60.0) * 100.0).clamp(0.0, 100.0).round() as u8
}

/// The waits between reconnections: 1, 2, 4, 8, then 15 s.
#[derive(Debug, Default, Clone)]
pub struct Backoff {
    failures: u32,
}

impl Backoff {
    pub const MAX_MS: u32 = 15_000;

    pub fn next_delay_ms(&mut self) -> u32 {
        let delay = (1_000u32 << self.failures.min(4)).min(Self::MAX_MS);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    pub fn reset(&mut self) {
        self.failures = 0;
    }
}

/// The chunks the browser still holds (written to IndexedDB, not yet acknowledged by the
/// server) and where sending stands on the current connection.
#[derive(Debug, Clone)]
pub struct ChunkBook<T> {
    held: BTreeMap<u32, T>,
    /// The next sequence number to send on this connection.
    send_from: u32,
    /// Chunks the recorder produced so far (the next one's number).
    total: u32,
}

impl<T> Default for ChunkBook<T> {
    fn default() -> Self {
        ChunkBook {
            held: BTreeMap::new(),
            send_from: 0,
            total: 0,
        }
    }
}

/// The server lacks chunks the browser no longer has: that part of the recording is lost.
#[derive(Debug, PartialEq, Eq)]
pub struct Gap {
    pub missing: u32,
}

impl<T> ChunkBook<T> {
    /// A chunk safely stored on this device, ready to send.
    pub fn hold(&mut self, seq: u32, chunk: T) {
        self.total = self.total.max(seq + 1);
        self.held.insert(seq, chunk);
    }

    /// The recorder's chunk count (as `stop.chunks` says it).
    pub fn total(&self) -> u32 {
        self.total
    }

    pub fn set_total(&mut self, total: u32) {
        self.total = self.total.max(total);
    }

    /// The server stored every chunk up to `seq`: they may be forgotten.
    pub fn ack(&mut self, seq: u32) {
        self.held.retain(|&held, _| held > seq);
    }

    /// The server has `next` chunks (a connect, or a gap it noticed): forget those below and
    /// send again from there. `Err` when a chunk it needs is no longer here.
    pub fn ready(&mut self, next: u32) -> Result<(), Gap> {
        self.held.retain(|&held, _| held >= next);
        self.send_from = next;
        if next < self.total && !self.held.contains_key(&next) {
            return Err(Gap { missing: next });
        }
        Ok(())
    }

    /// The next chunk to send, in order; `None` while the next one is not stored yet.
    pub fn next_to_send(&mut self) -> Option<(u32, &T)> {
        let seq = self.send_from;
        let chunk = self.held.get(&seq)?;
        self.send_from = seq + 1;
        Some((seq, chunk))
    }

    /// Every chunk produced so far went out on this connection.
    pub fn all_sent(&self) -> bool {
        self.send_from >= self.total
    }

    /// Chunks not yet acknowledged (about a second each).
    pub fn pending(&self) -> u32 {
        self.held.len() as u32
    }

    /// Sent on this connection and not acknowledged yet: the server owes an answer.
    pub fn awaiting_ack(&self) -> bool {
        self.held
            .keys()
            .next()
            .is_some_and(|&first| first < self.send_from)
    }

    pub fn chunks(&self) -> impl Iterator<Item = (&u32, &T)> {
        self.held.iter()
    }
}

/// A binary frame: the 4-byte big-endian sequence number, then the chunk's bytes.
pub fn binary_frame(seq: u32, bytes: &[u8]) -> Vec<u8> {
    let mut frame = Vec::with_capacity(bytes.len() + 4);
    frame.extend_from_slice(&seq.to_be_bytes());
    frame.extend_from_slice(bytes);
    frame
}

/// What the page sends on the socket (text frames).
#[derive(Debug, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ClientMessage<'a> {
    Start {
        key: &'a str,
        format: &'a str,
        language: &'a str,
    },
    Stop {
        chunks: u32,
    },
    Discard,
}

impl ClientMessage<'_> {
    pub fn json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// What the server sends.
#[derive(Debug, Deserialize, PartialEq)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum ServerMessage {
    Ready {
        next: u32,
        #[serde(default)]
        max_seconds: Option<u64>,
    },
    Ack {
        seq: u32,
    },
    Partial {
        text: String,
    },
    /// The whole recording is kept: the form may send its key.
    Stored {
        #[serde(default)]
        duration_ms: Option<u64>,
    },
    Final {
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        state: Option<String>,
        #[serde(default)]
        duration_ms: Option<u64>,
    },
    Discarded,
    Error {
        message: String,
        #[serde(default)]
        code: Option<String>,
    },
    #[serde(other)]
    Unknown,
}

impl ServerMessage {
    pub fn parse(text: &str) -> Option<ServerMessage> {
        serde_json::from_str(text).ok()
    }
}

/// A refusal worth trying again later (the server is full), rather than the end.
pub fn is_transient_refusal(code: Option<&str>) -> bool {
    matches!(code, Some("voice_busy" | "busy"))
}

/// What IndexedDB keeps of a recording besides its chunks, to resume it from another page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredRecording {
    pub key: String,
    pub format: String,
    pub language: String,
    /// The page it was made on.
    pub page: String,
    /// When it began (ms since the epoch).
    pub created_ms: f64,
    /// Chunks produced.
    pub chunks: u32,
    /// The recorder stopped: `chunks` is the whole count.
    pub stopped: bool,
}

impl StoredRecording {
    /// About how long it is (a chunk a second).
    pub fn seconds(&self) -> u64 {
        u64::from(self.chunks)
    }
}

/// Why the microphone could not be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MicProblem {
    Denied,
    Missing,
    Busy,
    Unsupported,
    Failed,
}

impl MicProblem {
    /// From the `DOMException` name `getUserMedia` rejects with.
    pub fn from_error_name(name: &str) -> MicProblem {
        match name {
            "NotAllowedError" | "SecurityError" | "PermissionDeniedError" => MicProblem::Denied,
            "NotFoundError" | "OverconstrainedError" | "DevicesNotFoundError" => {
                MicProblem::Missing
            }
            "NotReadableError" | "AbortError" | "TrackStartError" => MicProblem::Busy,
            "TypeError" | "NotSupportedError" => MicProblem::Unsupported,
            _ => MicProblem::Failed,
        }
    }

    pub fn message(self) -> Msg {
        match self {
            MicProblem::Denied => Msg::RecorderMicDenied,
            MicProblem::Missing => Msg::RecorderMicMissing,
            MicProblem::Busy => Msg::RecorderMicBusy,
            MicProblem::Unsupported => Msg::RecorderMicUnsupported,
            MicProblem::Failed => Msg::RecorderMicFailed,
        }
    }
}

/// Where the recording stands.
#[derive(Debug, Clone, PartialEq)]
pub enum Phase {
    Idle,
    /// Waiting for the microphone permission.
    Asking,
    Recording,
    Paused,
    /// Stopped; the server does not have every chunk yet.
    Finishing,
    /// The server has it all; the transcript is being made.
    Transcribing,
    /// The final transcript arrived (or there will be none).
    Done,
    /// The server refused it (its translated message); the local copy stays playable.
    Refused(String),
    Mic(MicProblem),
}

impl Phase {
    /// For styles and tests (`data-state`).
    pub fn code(&self) -> &'static str {
        match self {
            Phase::Idle => "idle",
            Phase::Asking => "asking",
            Phase::Recording => "recording",
            Phase::Paused => "paused",
            Phase::Finishing => "sending",
            Phase::Transcribing => "transcribing",
            Phase::Done => "ready",
            Phase::Refused(_) => "refused",
            Phase::Mic(_) => "mic-problem",
        }
    }

    /// The form must wait (Send stops the recording and goes once the server has it).
    pub fn busy(&self) -> bool {
        matches!(
            self,
            Phase::Recording | Phase::Paused | Phase::Finishing | Phase::Transcribing
        )
    }

    /// A recording goes with the form: the comment may stay empty.
    pub fn attached(&self) -> bool {
        self.busy() || *self == Phase::Done
    }

    /// The record button is offered.
    pub fn can_start(&self) -> bool {
        matches!(self, Phase::Idle | Phase::Mic(_))
    }

    pub fn capturing(&self) -> bool {
        matches!(self, Phase::Recording | Phase::Paused)
    }
}

/// The socket's state, shown while a recording is on its way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Link {
    Connecting,
    Open,
    /// The browser has no network: chunks wait on this device.
    Offline,
    /// Lost; trying again in so many seconds.
    Retrying(u32),
}

impl Link {
    pub fn code(self) -> &'static str {
        match self {
            Link::Connecting => "connecting",
            Link::Open => "open",
            Link::Offline => "offline",
            Link::Retrying(_) => "retrying",
        }
    }
}

/// The status line under the recorder.
pub fn status_text(phase: &Phase, link: Link, pending: u32, lang: Lang) -> Option<String> {
    let link_text = match link {
        Link::Offline => Some(Msg::RecorderOffline.text(lang).to_string()),
        Link::Retrying(seconds) => {
            Some(Msg::RecorderReconnecting.fill(lang, &[("seconds", &seconds.to_string())]))
        }
        Link::Connecting => Some(Msg::RecorderConnecting.text(lang).to_string()),
        Link::Open => None,
    };
    match phase {
        Phase::Idle | Phase::Mic(_) | Phase::Refused(_) => None,
        Phase::Asking => Some(Msg::RecorderAskingMic.text(lang).to_string()),
        Phase::Recording | Phase::Paused => link_text.or_else(|| {
            Some(
                if *phase == Phase::Paused {
                    Msg::RecorderPaused
                } else {
                    Msg::RecorderRecording
                }
                .text(lang)
                .to_string(),
            )
        }),
        Phase::Finishing => link_text.or_else(|| {
            Some(Msg::RecorderSendingRest.fill(lang, &[("seconds", &pending.to_string())]))
        }),
        Phase::Transcribing => {
            link_text.or_else(|| Some(Msg::RecorderTranscribing.text(lang).to_string()))
        }
        Phase::Done => Some(Msg::RecorderReady.text(lang).to_string()),
    }
}

/// What the page's form reads of its recorder.
#[derive(Debug, Clone, Copy)]
pub struct RecorderHandle {
    /// Recording or on its way: Send stops it and the form goes once the server has it.
    pub busy: RwSignal<bool>,
    /// A recording goes with the form (the comment may be empty).
    pub attached: RwSignal<bool>,
    /// Send was pressed while busy: the form goes by itself.
    pub queued: RwSignal<bool>,
}

impl RecorderHandle {
    pub fn new() -> RecorderHandle {
        RecorderHandle {
            busy: RwSignal::new(false),
            attached: RwSignal::new(false),
            queued: RwSignal::new(false),
        }
    }
}

impl Default for RecorderHandle {
    fn default() -> Self {
        RecorderHandle::new()
    }
}

/// The recorder's signals, shared by its view and its browser side.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
struct Ui {
    id: u64,
    lang: Lang,
    handle: RecorderHandle,
    phase: RwSignal<Phase>,
    link: RwSignal<Link>,
    elapsed_ms: RwSignal<u64>,
    level: RwSignal<u8>,
    max_seconds: RwSignal<u64>,
    announce: RwSignal<String>,
    partial: RwSignal<String>,
    /// The final transcript (`Some("")`: none was made out); `None` until it arrives.
    transcript: RwSignal<Option<String>>,
    /// `unavailable` or `failed` when there is no transcript.
    transcript_state: RwSignal<Option<String>>,
    /// Set once the server has the whole recording.
    key: RwSignal<Option<String>>,
    pending: RwSignal<u32>,
    audio_url: RwSignal<Option<String>>,
    download_name: RwSignal<String>,
    language: RwSignal<String>,
    unsent: RwSignal<Vec<StoredRecording>>,
    confirm_discard: RwSignal<bool>,
}

/// A microphone, drawn in the text colour.
#[component]
fn MicIcon() -> impl IntoView {
    view! {
        <svg
            class="recorder-icon"
            viewBox="0 0 24 24"
            fill="none"
            stroke="currentColor"
            stroke-width="1.8"
            stroke-linecap="round"
            stroke-linejoin="round"
            aria-hidden="true"
            focusable="false"
        >
            <rect x="9" y="3" width="6" height="11" rx="3" />
            <path d="M5 11a7 7 0 0 0 14 0M12 18v3M8 21h8" />
        </svg>
    }
}

/// The recorder of a form. `id` names its elements (unique on the page); `handle` tells the
/// page's form whether it must wait; when `sent` turns true the form went with the recording,
/// which is then forgotten on this device.
#[component]
pub fn VoiceRecorder(
    id: &'static str,
    handle: RecorderHandle,
    #[prop(into)] sent: Signal<bool>,
) -> impl IntoView {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT_ID: AtomicU64 = AtomicU64::new(1);
    let t = use_t();
    let lang = use_prefs().lang;
    let ui = Ui {
        id: NEXT_ID.fetch_add(1, Ordering::Relaxed),
        lang,
        handle,
        phase: RwSignal::new(Phase::Idle),
        link: RwSignal::new(Link::Connecting),
        elapsed_ms: RwSignal::new(0),
        level: RwSignal::new(0),
        max_seconds: RwSignal::new(DEFAULT_MAX_SECONDS),
        announce: RwSignal::new(String::new()),
        partial: RwSignal::new(String::new()),
        transcript: RwSignal::new(None),
        transcript_state: RwSignal::new(None),
        key: RwSignal::new(None),
        pending: RwSignal::new(0),
        audio_url: RwSignal::new(None),
        download_name: RwSignal::new("grabacion.webm".to_string()),
        language: RwSignal::new(default_language(lang).to_string()),
        unsent: RwSignal::new(Vec::new()),
        confirm_discard: RwSignal::new(false),
    };
    let root = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        let phase = ui.phase.get();
        handle.busy.set(phase.busy());
        handle.attached.set(phase.attached());
    });
    Effect::new(move |_| {
        if sent.get() {
            #[cfg(feature = "hydrate")]
            live::forget(ui);
        }
    });
    #[cfg(feature = "hydrate")]
    {
        Effect::new(move |_| {
            if let Some(root) = root.get() {
                live::mount(ui, root.into());
            }
        });
        // A form sent just before its page changed: the recording went with it.
        on_cleanup(move || live::unmount(ui.id, sent.try_get_untracked().unwrap_or(false)));
    }
    let hydrated = RwSignal::new(false);
    Effect::new(move |_| hydrated.set(true));

    let record = move |_| {
        #[cfg(feature = "hydrate")]
        live::record(ui);
    };
    let pause = move |_| {
        #[cfg(feature = "hydrate")]
        live::pause_or_resume(ui);
    };
    let stop = move |_| {
        #[cfg(feature = "hydrate")]
        live::stop(ui.id);
    };
    let discard = move |_| {
        #[cfg(feature = "hydrate")]
        live::discard(ui);
    };
    let hint_id = format!("{id}-hint");
    let language_id = format!("{id}-language");
    let transcript_id = format!("{id}-transcript");
    let partial_id = format!("{id}-partial");
    let seconds = move || ui.elapsed_ms.get() / 1000;
    let status = move || status_text(&ui.phase.get(), ui.link.get(), ui.pending.get(), lang);
    view! {
        <div
            class="recorder"
            role="group"
            aria-label=t(Msg::RecorderRecord)
            id=id
            data-testid="voice-recorder"
            data-state=move || ui.phase.with(Phase::code)
            data-connection=move || ui.link.get().code()
            node_ref=root
        >
            <input
                type="hidden"
                name="voice_recording"
                data-testid="voice-recording-key"
                prop:value=move || ui.key.get().unwrap_or_default()
            />
            <For
                each=move || ui.unsent.get()
                key=|stored| stored.key.clone()
                let:stored
            >
                <UnsentOffer stored ui />
            </For>
            <div class="recorder-bar">
                <Show when=move || ui.phase.with(Phase::can_start)>
                    <button
                        type="button"
                        class="btn btn-secondary recorder-record"
                        data-testid="voice-record"
                        disabled=move || !hydrated.get()
                        aria-describedby=hint_id.clone()
                        on:click=record
                    >
                        <MicIcon />
                        <span>{t(Msg::RecorderRecord)}</span>
                    </button>
                </Show>
                <div class="recorder-language">
                    <label for=language_id.clone()>{t(Msg::RecorderLanguage)}</label>
                    <select
                        class="input"
                        id=language_id.clone()
                        data-testid="voice-language"
                        disabled=move || !ui.phase.with(Phase::can_start)
                        on:change=move |ev| ui.language.set(event_target_value(&ev))
                    >
                        {LANGUAGES
                            .into_iter()
                            .map(|(code, name)| {
                                view! {
                                    <option value=code selected=move || ui.language.with(|l| l == code) lang=code>
                                        {name}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </div>
            </div>
            <p class="field-hint" id=format!("{id}-hint") hidden=move || hydrated.get()>
                {t(Msg::RecorderNeedsScript)}
            </p>
            <Show when=move || ui.phase.with(Phase::capturing)>
                <div class="recorder-live">
                    <span
                        class=move || if ui.phase.get() == Phase::Paused { "recorder-dot is-paused" } else { "recorder-dot" }
                        aria-hidden="true"
                    ></span>
                    <span class="recorder-time" role="timer" aria-label=t(Msg::RecorderElapsed) data-testid="voice-timer">
                        {move || mm_ss(seconds())}
                    </span>
                    <div
                        class="recorder-meter"
                        role="meter"
                        aria-label=t(Msg::RecorderLevel)
                        aria-valuemin="0"
                        aria-valuemax="100"
                        aria-valuenow=move || ui.level.get().to_string()
                        data-testid="voice-level"
                    >
                        <div class="recorder-meter-bar" style:width=move || format!("{}%", ui.level.get())></div>
                    </div>
                    <div class="recorder-controls">
                        <button type="button" class="btn btn-secondary" data-testid="voice-pause" on:click=pause>
                            {move || t(if ui.phase.get() == Phase::Paused { Msg::RecorderResume } else { Msg::RecorderPause })}
                        </button>
                        <button type="button" class="btn btn-primary" data-testid="voice-stop" on:click=stop>
                            {t(Msg::RecorderStop)}
                        </button>
                        <button
                            type="button"
                            class="btn btn-ghost"
                            data-testid="voice-discard"
                            on:click=move |_| ui.confirm_discard.set(true)
                        >
                            {t(Msg::RecorderDiscard)}
                        </button>
                    </div>
                </div>
            </Show>
            <Show when=move || ui.confirm_discard.get()>
                <div class="recorder-confirm" role="group" aria-labelledby=format!("{id}-confirm")>
                    <p id=format!("{id}-confirm")>{t(Msg::RecorderDiscardConfirm)}</p>
                    <div class="cluster">
                        <button type="button" class="btn btn-danger" data-testid="voice-discard-confirm" on:click=discard>
                            {t(Msg::RecorderDiscardYes)}
                        </button>
                        <button
                            type="button"
                            class="btn btn-secondary"
                            data-testid="voice-discard-cancel"
                            on:click=move |_| ui.confirm_discard.set(false)
                        >
                            {t(Msg::RecorderDiscardNo)}
                        </button>
                    </div>
                </div>
            </Show>
            <p class="recorder-status muted" role="status" data-testid="voice-status">
                {status}
            </p>
            <p class="visually-hidden" aria-live="assertive" data-testid="voice-announce">
                {move || ui.announce.get()}
            </p>
            {move || ui.phase.get().clone_mic().map(|problem| view! {
                <div class="alert alert-error" role="alert" data-testid="voice-mic-problem">
                    {t(problem.message())}
                </div>
            })}
            {move || match ui.phase.get() {
                Phase::Refused(message) => Some(view! {
                    <div class="alert alert-error" role="alert" data-testid="voice-error">{message}</div>
                }),
                _ => None,
            }}
            <div
                class="recorder-partial"
                id=partial_id
                aria-live="polite"
                data-testid="voice-partial"
                hidden=move || ui.partial.with(String::is_empty) || ui.transcript.with(Option::is_some)
            >
                <span class="muted">{t(Msg::RecorderPartialLabel)} ": "</span>
                <span>{move || ui.partial.get()}</span>
            </div>
            {move || ui.audio_url.get().map(|url| {
                let download = url.clone();
                view! {
                    <div class="recorder-playback">
                        <span class="muted">{t(Msg::RecorderYourRecording)}</span>
                        <audio controls=true preload="metadata" src=url data-testid="voice-player"></audio>
                        <a
                            class="recorder-download"
                            href=download
                            download=move || ui.download_name.get()
                            data-testid="voice-download"
                        >
                            {t(Msg::RecorderDownload)}
                        </a>
                    </div>
                }
            })}
            <Show when=move || ui.transcript.with(Option::is_some)>
                <div class="field">
                    <label for=transcript_id.clone()>{t(Msg::RecorderTranscript)}</label>
                    <textarea
                        class="input"
                        id=transcript_id.clone()
                        name="voice_text"
                        rows="4"
                        data-testid="voice-transcript"
                        prop:value=move || ui.transcript.get().unwrap_or_default()
                    ></textarea>
                </div>
            </Show>
            {move || {
                let note = match ui.transcript_state.get().as_deref() {
                    Some("unavailable") => Some(Msg::RecorderTranscriptUnavailable),
                    Some("failed") | Some("pending") => Some(Msg::RecorderTranscriptLater),
                    _ => None,
                };
                note.map(|note| view! { <p class="field-hint" data-testid="voice-transcript-note">{t(note)}</p> })
            }}
            <Show when=move || matches!(ui.phase.get(), Phase::Done | Phase::Refused(_) | Phase::Transcribing | Phase::Finishing)>
                <button
                    type="button"
                    class="btn btn-ghost"
                    data-testid="voice-discard"
                    on:click=move |_| ui.confirm_discard.set(true)
                >
                    {t(Msg::RecorderDiscard)}
                </button>
            </Show>
        </div>
    }
    .into_any()
}

impl Phase {
    fn clone_mic(&self) -> Option<MicProblem> {
        match self {
            Phase::Mic(problem) => Some(*problem),
            _ => None,
        }
    }
}

/// An offer to send a recording an earlier page left unsent.
#[component]
fn UnsentOffer(stored: StoredRecording, ui: Ui) -> impl IntoView {
    let t = use_t();
    let lang = ui.lang;
    let when = clock_of(stored.created_ms);
    let text = Msg::RecorderUnsent.fill(
        lang,
        &[("when", &when), ("duration", &m_ss(stored.seconds()))],
    );
    let (send_key, discard_key) = (stored.key.clone(), stored.key.clone());
    let _ = (&send_key, &discard_key);
    view! {
        <div class="alert alert-info recorder-unsent" data-testid="voice-unsent">
            <p>{text}</p>
            <div class="cluster">
                <button
                    type="button"
                    class="btn btn-primary"
                    data-testid="voice-unsent-send"
                    disabled=move || !ui.phase.with(Phase::can_start)
                    on:click=move |_| {
                        #[cfg(feature = "hydrate")]
                        live::resume_unsent(ui, send_key.clone());
                    }
                >
                    {t(Msg::Send)}
                </button>
                <button
                    type="button"
                    class="btn btn-secondary"
                    data-testid="voice-unsent-discard"
                    on:click=move |_| {
                        #[cfg(feature = "hydrate")]
                        live::discard_unsent(ui, discard_key.clone());
                    }
                >
                    {t(Msg::RecorderDiscard)}
                </button>
            </div>
        </div>
    }
}

/// When a recording began, as the person's clock shows it (`12:30`).
#[cfg_attr(not(feature = "hydrate"), allow(unused_variables))]
fn clock_of(ms: f64) -> String {
    #[cfg(feature = "hydrate")]
    {
        let date = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms));
        format!("{:02}:{:02}", date.get_hours(), date.get_minutes())
    }
    #[cfg(not(feature = "hydrate"))]
    {
        String::new()
    }
}

/// The browser's side: microphone, MediaRecorder, level meter, IndexedDB and the socket. Its
/// state lives outside the reactive graph (browser objects are not `Send`); the page has one
/// thread. Signals are written with `try_` calls: the form may be gone meanwhile.
/// A random name for things of this browser (a recording, a page's presence).
#[cfg(feature = "hydrate")]
pub(crate) use live::new_key;

#[cfg(feature = "hydrate")]
mod live {
    use super::*;
    use gloo_timers::future::TimeoutFuture;
    use std::cell::RefCell;
    use std::collections::HashMap;
    use wasm_bindgen::closure::Closure;
    use wasm_bindgen::{JsCast, JsValue};
    use wasm_bindgen_futures::JsFuture;
    use web_sys::{
        AnalyserNode, AudioContext, Blob, BlobEvent, BlobPropertyBag, HtmlFormElement,
        MediaRecorder, MediaRecorderOptions, MediaStream, MediaStreamConstraints, MessageEvent,
        WebSocket,
    };

    struct Job {
        ui: Ui,
        key: String,
        format: String,
        language: String,
        page: String,
        created_ms: f64,
        book: ChunkBook<Vec<u8>>,
        /// Chunks the recorder gave so far (the next one's number); some may still be being
        /// written to IndexedDB, and `stop` waits for them.
        produced: u32,
        writes_in_flight: u32,
        /// Every chunk of a recording made on this page, for its player.
        blobs: Vec<Blob>,
        stopped: bool,
        finished: bool,
        recorder: Option<MediaRecorder>,
        stream: Option<MediaStream>,
        audio: Option<(AudioContext, AnalyserNode)>,
        started_ms: f64,
        paused_ms: f64,
        paused_at: Option<f64>,
        warned: bool,
        socket: Option<WebSocket>,
        /// Tells this connection's events from a closed one's.
        generation: u32,
        ready: bool,
        stop_sent: bool,
        last_heard: f64,
        backoff: Backoff,
        _listeners: Vec<JsValue>,
    }

    thread_local! {
        static JOBS: RefCell<HashMap<u64, Job>> = RefCell::new(HashMap::new());
        /// The forms' submit listeners, by recorder.
        static FORMS: RefCell<HashMap<u64, (HtmlFormElement, JsValue)>> = RefCell::new(HashMap::new());
        /// Recordings sent or discarded by this page, whose deletion from IndexedDB may still
        /// be on its way: never offered again.
        static FORGOTTEN: RefCell<std::collections::HashSet<String>> = RefCell::default();
    }

    fn with_job<R>(id: u64, f: impl FnOnce(&mut Job) -> R) -> Option<R> {
        JOBS.with(|jobs| jobs.borrow_mut().get_mut(&id).map(f))
    }

    fn now() -> f64 {
        js_sys::Date::now()
    }

    fn set_phase(ui: Ui, phase: Phase) {
        ui.phase.try_set(phase);
    }

    /// The form around the recorder: Send while busy stops the recording and sends the form
    /// once the server has it. A capture listener runs before the ActionForm's own.
    pub fn mount(ui: Ui, root: web_sys::Element) {
        if FORMS.with(|forms| forms.borrow().contains_key(&ui.id)) {
            return;
        }
        let Some(form) = root
            .closest("form")
            .ok()
            .flatten()
            .and_then(|f| f.dyn_into::<HtmlFormElement>().ok())
        else {
            return;
        };
        let listener = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
            let phase = ui.phase.try_get_untracked().unwrap_or(Phase::Idle);
            if !phase.busy() {
                return;
            }
            ev.prevent_default();
            ev.stop_immediate_propagation();
            ui.handle.queued.try_set(true);
            match phase {
                Phase::Recording | Phase::Paused => stop(ui.id),
                Phase::Transcribing => wait_for_final(ui),
                _ => {}
            }
        })
        .into_js_value();
        let _ = form.add_event_listener_with_callback_and_bool(
            "submit",
            listener.unchecked_ref(),
            true,
        );
        FORMS.with(|forms| forms.borrow_mut().insert(ui.id, (form, listener)));
        // Recordings an earlier page left unsent are offered.
        leptos::task::spawn_local(async move {
            let mut stored = idb::all().await;
            FORGOTTEN.with(|gone| stored.retain(|s| !gone.borrow().contains(&s.key)));
            ui.unsent.try_set(stored);
        });
        let online = Closure::<dyn Fn()>::new(move || {
            if with_job(ui.id, |job| !job.finished && job.socket.is_none()).unwrap_or(false) {
                connect(ui.id);
            }
        })
        .into_js_value();
        let _ = window().add_event_listener_with_callback("online", online.unchecked_ref());
        on_cleanup(move || {
            let _ = window().remove_event_listener_with_callback("online", online.unchecked_ref());
        });
    }

    /// The form is gone (another page): the microphone is released; what was recorded stays
    /// on this device and is offered on the next page with a recorder.
    pub fn unmount(id: u64, sent: bool) {
        if let Some((form, listener)) = FORMS.with(|forms| forms.borrow_mut().remove(&id)) {
            let _ = form.remove_event_listener_with_callback_and_bool(
                "submit",
                listener.unchecked_ref(),
                true,
            );
        }
        let job = JOBS.with(|jobs| jobs.borrow_mut().remove(&id));
        if let Some(mut job) = job {
            job.finished = true;
            release(&mut job);
            close_socket(&mut job);
            if sent {
                let key = job.key.clone();
                delete_recording(key);
            }
        }
    }

    /// The form went with the recording: forget it here.
    pub fn forget(ui: Ui) {
        let job = JOBS.with(|jobs| jobs.borrow_mut().remove(&ui.id));
        if let Some(mut job) = job {
            job.finished = true;
            release(&mut job);
            close_socket(&mut job);
            let key = job.key.clone();
            delete_recording(key);
        }
        reset(ui);
    }

    /// Deletes a recording from this device, for good.
    fn delete_recording(key: String) {
        FORGOTTEN.with(|gone| gone.borrow_mut().insert(key.clone()));
        leptos::task::spawn_local(async move { idb::delete_recording(&key).await });
    }

    fn reset(ui: Ui) {
        if let Some(url) = ui.audio_url.try_get_untracked().flatten() {
            let _ = web_sys::Url::revoke_object_url(&url);
        }
        ui.phase.try_set(Phase::Idle);
        ui.link.try_set(Link::Connecting);
        ui.elapsed_ms.try_set(0);
        ui.level.try_set(0);
        ui.announce.try_set(String::new());
        ui.partial.try_set(String::new());
        ui.transcript.try_set(None);
        ui.transcript_state.try_set(None);
        ui.key.try_set(None);
        ui.pending.try_set(0);
        ui.audio_url.try_set(None);
        ui.confirm_discard.try_set(false);
        ui.handle.queued.try_set(false);
    }

    /// A random name (a UUID, or 32 hex digits where the browser has no `randomUUID`).
    pub(crate) fn new_key() -> String {
        if let Ok(crypto) = window().crypto() {
            let has_uuid = js_sys::Reflect::get(&crypto, &JsValue::from_str("randomUUID"))
                .map(|f| f.is_function())
                .unwrap_or(false);
            if has_uuid {
                return crypto.random_uuid();
            }
            let mut bytes = [0u8; 16];
            if crypto.get_random_values_with_u8_array(&mut bytes).is_ok() {
                return bytes.iter().map(|b| format!("{b:02x}")).collect();
            }
        }
        (0..4)
            .map(|_| {
                format!(
                    "{:08x}",
                    (js_sys::Math::random() * f64::from(u32::MAX)) as u32
                )
            })
            .collect()
    }

    fn has(target: &JsValue, name: &str) -> bool {
        js_sys::Reflect::get(target, &JsValue::from_str(name))
            .is_ok_and(|v| !v.is_undefined() && !v.is_null())
    }

    /// Asks for the microphone and starts recording.
    pub fn record(ui: Ui) {
        if !ui.phase.get_untracked().can_start() {
            return;
        }
        let navigator = window().navigator();
        if !has(&navigator, "mediaDevices") || !has(&window(), "MediaRecorder") {
            set_phase(ui, Phase::Mic(MicProblem::Unsupported));
            return;
        }
        set_phase(ui, Phase::Asking);
        leptos::task::spawn_local(async move {
            match begin(ui).await {
                Ok(()) => {}
                Err(problem) => set_phase(ui, Phase::Mic(problem)),
            }
        });
    }

    async fn begin(ui: Ui) -> Result<(), MicProblem> {
        let devices = window()
            .navigator()
            .media_devices()
            .map_err(|_| MicProblem::Unsupported)?;
        let constraints = MediaStreamConstraints::new();
        constraints.set_audio(&JsValue::TRUE);
        let promise = devices
            .get_user_media_with_constraints(&constraints)
            .map_err(|_| MicProblem::Unsupported)?;
        let stream: MediaStream = JsFuture::from(promise)
            .await
            .map_err(|err| {
                let name = js_sys::Reflect::get(&err, &JsValue::from_str("name"))
                    .ok()
                    .and_then(|n| n.as_string())
                    .unwrap_or_default();
                MicProblem::from_error_name(&name)
            })?
            .unchecked_into();
        // The form went away while the browser asked: let go of the microphone.
        if ui.phase.try_get_untracked().is_none() {
            stream.get_tracks().for_each(&mut |track, _, _| {
                track.unchecked_into::<web_sys::MediaStreamTrack>().stop()
            });
            return Ok(());
        }
        let options = MediaRecorderOptions::new();
        if let Some(format) = choose_format(MediaRecorder::is_type_supported) {
            options.set_mime_type(format);
        }
        let recorder =
            MediaRecorder::new_with_media_stream_and_media_recorder_options(&stream, &options)
                .or_else(|_| MediaRecorder::new_with_media_stream(&stream))
                .map_err(|_| MicProblem::Failed)?;
        let id = ui.id;
        let on_data = Closure::<dyn Fn(BlobEvent)>::new(move |ev: BlobEvent| {
            if let Some(blob) = ev.data().filter(|b| b.size() > 0.0) {
                chunk(id, blob);
            }
        })
        .into_js_value();
        recorder.set_ondataavailable(Some(on_data.unchecked_ref()));
        let on_stop = Closure::<dyn Fn()>::new(move || stopped(id)).into_js_value();
        recorder.set_onstop(Some(on_stop.unchecked_ref()));
        if recorder.start_with_time_slice(CHUNK_MS).is_err() {
            stream.get_tracks().for_each(&mut |track, _, _| {
                track.unchecked_into::<web_sys::MediaStreamTrack>().stop()
            });
            return Err(MicProblem::Failed);
        }
        let format = Some(recorder.mime_type())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| "audio/webm".to_string());
        ui.download_name
            .try_set(format!("grabacion.{}", extension_of(&format)));
        let audio = meter(&stream);
        let created = now();
        let job = Job {
            ui,
            key: new_key(),
            format,
            language: ui.language.get_untracked(),
            page: window().location().pathname().unwrap_or_default(),
            created_ms: created,
            book: ChunkBook::default(),
            produced: 0,
            writes_in_flight: 0,
            blobs: Vec::new(),
            stopped: false,
            finished: false,
            recorder: Some(recorder),
            stream: Some(stream),
            audio,
            started_ms: created,
            paused_ms: 0.0,
            paused_at: None,
            warned: false,
            socket: None,
            generation: 0,
            ready: false,
            stop_sent: false,
            last_heard: created,
            backoff: Backoff::default(),
            _listeners: vec![on_data, on_stop],
        };
        let meta = meta_of(&job);
        JOBS.with(|jobs| jobs.borrow_mut().insert(id, job));
        set_phase(ui, Phase::Recording);
        idb::put_meta(&meta).await;
        connect(id);
        leptos::task::spawn_local(tick(ui));
        leptos::task::spawn_local(watchdog(id));
        Ok(())
    }

    fn extension_of(format: &str) -> &'static str {
        if format.starts_with("audio/ogg") {
            "ogg"
        } else if format.contains("mp4") {
            "m4a"
        } else {
            "webm"
        }
    }

    fn meta_of(job: &Job) -> StoredRecording {
        StoredRecording {
            key: job.key.clone(),
            format: job.format.clone(),
            language: job.language.clone(),
            page: job.page.clone(),
            created_ms: job.created_ms,
            chunks: job
                .book
                .total()
                .max(job.produced.saturating_sub(job.writes_in_flight)),
            stopped: job.stopped,
        }
    }

    fn meter(stream: &MediaStream) -> Option<(AudioContext, AnalyserNode)> {
        let context = AudioContext::new().ok()?;
        let source = context.create_media_stream_source(stream).ok()?;
        let analyser = context.create_analyser().ok()?;
        analyser.set_fft_size(1024);
        source.connect_with_audio_node(&analyser).ok()?;
        // Safari starts it suspended outside the click's own turn.
        let _ = context.resume();
        Some((context, analyser))
    }

    /// The timer, the meter, the warning before the maximum and the stop at it, ten times a second.
    async fn tick(ui: Ui) {
        let mut samples = vec![0u8; 1024];
        loop {
            TimeoutFuture::new(100).await;
            let Some((capturing, elapsed, level, warn, over)) = with_job(ui.id, |job| {
                let t = now();
                let paused_now = job.paused_at.map(|at| t - at).unwrap_or(0.0);
                let elapsed = (t - job.started_ms - job.paused_ms - paused_now).max(0.0) as u64;
                let level = match (&job.audio, job.paused_at) {
                    (Some((_, analyser)), None) => {
                        analyser.get_byte_time_domain_data(&mut samples);
                        level_percent(&samples)
                    }
                    _ => 0,
                };
                let max = ui
                    .max_seconds
                    .try_get_untracked()
                    .unwrap_or(DEFAULT_MAX_SECONDS);
                let warn = !job.warned && warning_due(elapsed, max);
                if warn {
                    job.warned = true;
                }
                (
                    job.recorder.is_some() && !job.stopped,
                    elapsed,
                    level,
                    warn,
                    elapsed >= max * 1000,
                )
            }) else {
                return;
            };
            if !capturing {
                ui.level.try_set(0);
                return;
            }
            ui.elapsed_ms.try_set(elapsed);
            ui.level.try_set(level);
            if warn {
                ui.announce.try_set(
                    Msg::RecorderSecondsLeft
                        .fill(ui.lang, &[("seconds", &WARN_BEFORE_SECONDS.to_string())]),
                );
            }
            if over {
                ui.announce
                    .try_set(Msg::RecorderMaxReached.text(ui.lang).to_string());
                stop(ui.id);
            }
        }
    }

    pub fn pause_or_resume(ui: Ui) {
        with_job(ui.id, |job| {
            let Some(recorder) = &job.recorder else {
                return;
            };
            match job.paused_at.take() {
                Some(at) => {
                    let _ = recorder.resume();
                    job.paused_ms += now() - at;
                    ui.phase.try_set(Phase::Recording);
                }
                None => {
                    let _ = recorder.pause();
                    job.paused_at = Some(now());
                    ui.phase.try_set(Phase::Paused);
                }
            }
        });
    }

    /// Stops recording; the last chunk comes with the recorder's `stop` event.
    pub fn stop(id: u64) {
        with_job(id, |job| {
            if let Some(recorder) = &job.recorder {
                if recorder.state() != web_sys::RecordingState::Inactive {
                    let _ = recorder.stop();
                }
            }
        });
    }

    /// A chunk from the recorder: numbered, written to IndexedDB, then sent.
    fn chunk(id: u64, blob: Blob) {
        let Some(seq) = with_job(id, |job| {
            job.blobs.push(blob.clone());
            let seq = job.produced;
            job.produced += 1;
            job.writes_in_flight += 1;
            seq
        }) else {
            return;
        };
        leptos::task::spawn_local(async move {
            let bytes = match JsFuture::from(blob.array_buffer()).await {
                Ok(buffer) => js_sys::Uint8Array::new(&buffer).to_vec(),
                // Unreadable (never seen): an empty chunk keeps the numbering whole.
                Err(_) => Vec::new(),
            };
            let Some(mut meta) = with_job(id, |job| meta_of(job)) else {
                return;
            };
            meta.chunks = meta.chunks.max(seq + 1);
            // Without IndexedDB (private windows of some browsers) the chunk is still sent;
            // it just cannot outlive the page.
            idb::put_chunk(&meta, seq, &bytes).await;
            with_job(id, |job| {
                job.writes_in_flight -= 1;
                job.book.hold(seq, bytes);
            });
            pump(id);
        });
    }

    /// The recorder's `stop`: its last chunk came before it.
    fn stopped(id: u64) {
        let Some(ui) = with_job(id, |job| {
            job.stopped = true;
            release(job);
            let format = job.format.clone();
            let url = (!job.blobs.is_empty())
                .then(|| {
                    let parts = js_sys::Array::new();
                    job.blobs.iter().for_each(|b| {
                        parts.push(b);
                    });
                    let options = BlobPropertyBag::new();
                    options.set_type(&format);
                    Blob::new_with_blob_sequence_and_options(&parts, &options).ok()
                })
                .flatten()
                .and_then(|blob| web_sys::Url::create_object_url_with_blob(&blob).ok());
            if let Some(url) = url {
                job.ui.audio_url.try_set(Some(url));
            }
            job.ui
        }) else {
            return;
        };
        if ui.phase.get_untracked().capturing() {
            set_phase(ui, Phase::Finishing);
        }
        leptos::task::spawn_local(async move {
            // The last chunk's write may still be on its way: the count is the recorder's.
            TimeoutFuture::new(0).await;
            if let Some(meta) = with_job(id, |job| meta_of(job)) {
                idb::put_meta(&meta).await;
            }
            pump(id);
        });
    }

    /// Releases the microphone and the meter.
    fn release(job: &mut Job) {
        if let Some(stream) = job.stream.take() {
            stream.get_tracks().for_each(&mut |track, _, _| {
                track.unchecked_into::<web_sys::MediaStreamTrack>().stop()
            });
        }
        if let Some((context, _)) = job.audio.take() {
            let _ = context.close();
        }
        if let Some(recorder) = &job.recorder {
            if recorder.state() != web_sys::RecordingState::Inactive {
                let _ = recorder.stop();
            }
        }
    }

    fn close_socket(job: &mut Job) {
        job.generation += 1;
        job.ready = false;
        if let Some(socket) = job.socket.take() {
            socket.set_onopen(None);
            socket.set_onmessage(None);
            socket.set_onclose(None);
            socket.set_onerror(None);
            let _ = socket.close();
        }
    }

    fn socket_url() -> String {
        let location = window().location();
        let scheme = if location.protocol().unwrap_or_default() == "https:" {
            "wss:"
        } else {
            "ws:"
        };
        format!(
            "{scheme}//{}/voice/stream",
            location.host().unwrap_or_default()
        )
    }

    /// Opens (or reopens) the socket; `start` goes on every connect and resumes.
    fn connect(id: u64) {
        let Some((ui, generation)) = with_job(id, |job| {
            close_socket(job);
            job.generation += 1;
            (job.ui, job.generation)
        }) else {
            return;
        };
        if window().navigator().on_line() {
            ui.link.try_set(Link::Connecting);
        } else {
            ui.link.try_set(Link::Offline);
            return;
        }
        let Ok(socket) = WebSocket::new(&socket_url()) else {
            dropped(id, generation);
            return;
        };
        socket.set_binary_type(web_sys::BinaryType::Arraybuffer);
        let on_open = Closure::<dyn Fn()>::new(move || {
            let message = with_job(id, |job| {
                job.last_heard = now();
                ClientMessage::Start {
                    key: &job.key,
                    format: &job.format,
                    language: &job.language,
                }
                .json()
            });
            if let (Some(message), Some(socket)) =
                (message, with_job(id, |job| job.socket.clone()).flatten())
            {
                let _ = socket.send_with_str(&message);
            }
        })
        .into_js_value();
        let on_message = Closure::<dyn Fn(MessageEvent)>::new(move |ev: MessageEvent| {
            if with_job(id, |job| job.generation) != Some(generation) {
                return;
            }
            with_job(id, |job| job.last_heard = now());
            if let Some(message) = ev
                .data()
                .as_string()
                .and_then(|text| ServerMessage::parse(&text))
            {
                handle(id, message);
            }
        })
        .into_js_value();
        let on_close = Closure::<dyn Fn()>::new(move || dropped(id, generation)).into_js_value();
        socket.set_onopen(Some(on_open.unchecked_ref()));
        socket.set_onmessage(Some(on_message.unchecked_ref()));
        socket.set_onclose(Some(on_close.unchecked_ref()));
        with_job(id, |job| {
            job.socket = Some(socket);
            job._listeners.extend([on_open, on_message, on_close]);
            // A few connections' listeners at most; drop older ones.
            let keep = job._listeners.len().saturating_sub(8);
            if keep > 2 {
                job._listeners.drain(2..keep);
            }
        });
    }

    /// The connection closed: try again after a wait, or when the network is back.
    fn dropped(id: u64, generation: u32) {
        let Some((ui, delay)) = with_job(id, |job| {
            if job.generation != generation || job.finished {
                return None;
            }
            close_socket(job);
            Some((job.ui, job.backoff.next_delay_ms()))
        })
        .flatten() else {
            return;
        };
        if !window().navigator().on_line() {
            ui.link.try_set(Link::Offline);
            return;
        }
        ui.link.try_set(Link::Retrying(delay / 1000));
        leptos::task::spawn_local(async move {
            TimeoutFuture::new(delay).await;
            if with_job(id, |job| !job.finished && job.socket.is_none()).unwrap_or(false) {
                connect(id);
            }
        });
    }

    /// 30 s without a word while the server owes one counts as a dropped connection.
    async fn watchdog(id: u64) {
        loop {
            TimeoutFuture::new(5_000).await;
            let Some(stale) = with_job(id, |job| {
                let waiting = job.socket.is_some()
                    && (!job.ready
                        || job.book.awaiting_ack()
                        || (job.stop_sent && job.ui.key.try_get_untracked().flatten().is_none()));
                waiting && now() - job.last_heard > SILENCE_LIMIT_MS
            }) else {
                return;
            };
            if stale {
                let generation = with_job(id, |job| job.generation).unwrap_or(0);
                dropped(id, generation);
            }
            if with_job(id, |job| job.finished).unwrap_or(true) {
                return;
            }
        }
    }

    /// Sends what the server lacks, in order, then `stop` once the recorder has stopped.
    fn pump(id: u64) {
        with_job(id, |job| {
            let Some(socket) = job.socket.clone().filter(|_| job.ready) else {
                job.ui.pending.try_set(job.book.pending());
                return;
            };
            while let Some((seq, bytes)) = job.book.next_to_send() {
                if socket
                    .send_with_u8_array(&binary_frame(seq, bytes))
                    .is_err()
                {
                    break;
                }
            }
            let all_written = job.writes_in_flight == 0 && job.book.total() >= job.produced;
            if job.stopped && all_written && job.book.all_sent() && !job.stop_sent {
                let _ = socket.send_with_str(
                    &ClientMessage::Stop {
                        chunks: job.book.total(),
                    }
                    .json(),
                );
                job.stop_sent = true;
            }
            job.ui.pending.try_set(job.book.pending());
        });
    }

    fn handle(id: u64, message: ServerMessage) {
        let Some(ui) = with_job(id, |job| job.ui) else {
            return;
        };
        match message {
            ServerMessage::Ready { next, max_seconds } => {
                if let Some(max) = max_seconds.filter(|&m| m > 0) {
                    ui.max_seconds.try_set(max);
                }
                let outcome = with_job(id, |job| {
                    job.ready = true;
                    job.stop_sent = false;
                    job.backoff.reset();
                    // A chunk still being written is not missing.
                    let outcome = job.book.ready(next).or_else(|gap| {
                        if job.writes_in_flight > 0 {
                            Ok(())
                        } else {
                            Err(gap)
                        }
                    });
                    (outcome, job.key.clone())
                });
                ui.link.try_set(Link::Open);
                if let Some((outcome, key)) = outcome {
                    leptos::task::spawn_local(
                        async move { idb::delete_chunks_below(&key, next).await },
                    );
                    if outcome.is_err() {
                        refuse(id, Msg::RecorderLost.text(ui.lang).to_string());
                        return;
                    }
                }
                pump(id);
            }
            ServerMessage::Ack { seq } => {
                if let Some(key) = with_job(id, |job| {
                    job.book.ack(seq);
                    job.ui.pending.try_set(job.book.pending());
                    job.key.clone()
                }) {
                    leptos::task::spawn_local(async move {
                        idb::delete_chunks_below(&key, seq + 1).await
                    });
                }
            }
            ServerMessage::Partial { text } => {
                if ui
                    .transcript
                    .try_with_untracked(Option::is_none)
                    .unwrap_or(false)
                {
                    ui.partial.try_set(text);
                }
            }
            ServerMessage::Stored { .. } => {
                let key = with_job(id, |job| job.key.clone());
                ui.key.try_set(key);
                set_phase(ui, Phase::Transcribing);
                if ui.handle.queued.try_get_untracked().unwrap_or(false) {
                    wait_for_final(ui);
                }
            }
            ServerMessage::Final { text, state, .. } => {
                if ui.key.try_with_untracked(Option::is_none).unwrap_or(true) {
                    ui.key.try_set(with_job(id, |job| job.key.clone()));
                }
                match text {
                    Some(text) => ui.transcript.try_set(Some(text)),
                    None => ui
                        .transcript_state
                        .try_set(Some(state.unwrap_or_else(|| "failed".into()))),
                };
                set_phase(ui, Phase::Done);
                with_job(id, |job| {
                    job.finished = true;
                    close_socket(job);
                });
                if ui.handle.queued.try_get_untracked().unwrap_or(false) {
                    submit(ui);
                }
            }
            ServerMessage::Error { message, code } => {
                if is_transient_refusal(code.as_deref()) {
                    let generation = with_job(id, |job| job.generation).unwrap_or(0);
                    dropped(id, generation);
                } else {
                    refuse(id, message);
                }
            }
            ServerMessage::Discarded | ServerMessage::Unknown => {}
        }
    }

    /// The server refused the recording: say why, keep the local copy playable.
    fn refuse(id: u64, message: String) {
        let Some((ui, key)) = with_job(id, |job| {
            job.finished = true;
            release(job);
            close_socket(job);
            (job.ui, job.key.clone())
        }) else {
            return;
        };
        ui.handle.queued.try_set(false);
        set_phase(ui, Phase::Refused(message));
        delete_recording(key);
    }

    /// Send was pressed: the server has the recording; give the transcript a few seconds.
    fn wait_for_final(ui: Ui) {
        leptos::task::spawn_local(async move {
            TimeoutFuture::new(FINAL_WAIT_MS).await;
            if ui.handle.queued.try_get_untracked().unwrap_or(false)
                && ui.phase.try_get_untracked() == Some(Phase::Transcribing)
            {
                ui.transcript_state.try_set(Some("pending".into()));
                submit(ui);
            }
        });
    }

    /// Sends the form the person already pressed Send on.
    fn submit(ui: Ui) {
        ui.handle.queued.try_set(false);
        // Set to ready so the form's own listener sees a recorder with nothing to wait for.
        if ui.phase.try_get_untracked().is_some_and(|p| p.busy()) {
            ui.phase.try_set(Phase::Done);
        }
        let Some(form) =
            FORMS.with(|forms| forms.borrow().get(&ui.id).map(|(form, _)| form.clone()))
        else {
            return;
        };
        leptos::task::spawn_local(async move {
            // The hidden field and the transcript reach the DOM first.
            TimeoutFuture::new(50).await;
            if form.request_submit().is_err() {
                if let Some(button) = form
                    .query_selector("[type=submit]")
                    .ok()
                    .flatten()
                    .and_then(|b| b.dyn_into::<web_sys::HtmlElement>().ok())
                {
                    button.click();
                }
            }
        });
    }

    /// Discards the recording here and on the server.
    pub fn discard(ui: Ui) {
        let job = JOBS.with(|jobs| jobs.borrow_mut().remove(&ui.id));
        if let Some(mut job) = job {
            job.finished = true;
            if let Some(socket) = job.socket.clone().filter(|_| job.ready) {
                let _ = socket.send_with_str(&ClientMessage::Discard.json());
            }
            release(&mut job);
            close_socket(&mut job);
            let key = job.key.clone();
            delete_recording(key);
        }
        reset(ui);
        ui.announce
            .try_set(Msg::RecorderDiscarded.text(ui.lang).to_string());
    }

    /// Sends a recording an earlier page left: its chunks come back from IndexedDB.
    pub fn resume_unsent(ui: Ui, key: String) {
        if !ui.phase.get_untracked().can_start() {
            return;
        }
        let Some(meta) = ui.unsent.get_untracked().into_iter().find(|s| s.key == key) else {
            return;
        };
        ui.unsent.update(|list| list.retain(|s| s.key != key));
        leptos::task::spawn_local(async move {
            let chunks = idb::chunks(&meta.key).await;
            let mut book = ChunkBook::default();
            book.set_total(meta.chunks);
            let complete = chunks.first().is_some_and(|(seq, _)| *seq == 0)
                && chunks.len() as u32 == meta.chunks;
            let mut blobs = Vec::new();
            for (seq, bytes) in chunks {
                if complete {
                    let parts = js_sys::Array::of1(&js_sys::Uint8Array::from(&bytes[..]));
                    if let Ok(blob) = Blob::new_with_u8_array_sequence(&parts) {
                        blobs.push(blob);
                    }
                }
                book.hold(seq, bytes);
            }
            ui.language.try_set(meta.language.clone());
            ui.download_name
                .try_set(format!("grabacion.{}", extension_of(&meta.format)));
            ui.elapsed_ms.try_set(meta.seconds() * 1000);
            let job = Job {
                ui,
                key: meta.key.clone(),
                format: meta.format.clone(),
                language: meta.language.clone(),
                page: meta.page.clone(),
                created_ms: meta.created_ms,
                book,
                produced: meta.chunks,
                writes_in_flight: 0,
                blobs,
                stopped: false,
                finished: false,
                recorder: None,
                stream: None,
                audio: None,
                started_ms: meta.created_ms,
                paused_ms: 0.0,
                paused_at: None,
                warned: true,
                socket: None,
                generation: 0,
                ready: false,
                stop_sent: false,
                last_heard: now(),
                backoff: Backoff::default(),
                _listeners: Vec::new(),
            };
            JOBS.with(|jobs| jobs.borrow_mut().insert(ui.id, job));
            set_phase(ui, Phase::Finishing);
            // Marks it stopped and makes its player, as a recorder's stop would.
            stopped(ui.id);
            connect(ui.id);
            leptos::task::spawn_local(watchdog(ui.id));
        });
    }

    pub fn discard_unsent(ui: Ui, key: String) {
        ui.unsent.update(|list| list.retain(|s| s.key != key));
        delete_recording(key);
    }

    /// IndexedDB: `recordings` (the JSON of a `StoredRecording`, by key) and `chunks` (each
    /// chunk's bytes, by `[key, seq]`). Every call is best effort.
    mod idb {
        use super::super::StoredRecording;
        use wasm_bindgen::closure::Closure;
        use wasm_bindgen::{JsCast, JsValue};
        use wasm_bindgen_futures::JsFuture;
        use web_sys::{
            IdbDatabase, IdbKeyRange, IdbOpenDbRequest, IdbRequest, IdbTransaction,
            IdbTransactionMode,
        };

        const NAME: &str = "cupula-voice";
        const RECORDINGS: &str = "recordings";
        const CHUNKS: &str = "chunks";

        async fn request(request: &IdbRequest) -> Option<JsValue> {
            let done = js_sys::Promise::new(&mut |resolve, reject| {
                request.set_onsuccess(Some(&resolve));
                request.set_onerror(Some(&reject));
            });
            JsFuture::from(done).await.ok()?;
            request.result().ok()
        }

        async fn finished(tx: &IdbTransaction) -> bool {
            let done = js_sys::Promise::new(&mut |resolve, reject| {
                tx.set_oncomplete(Some(&resolve));
                tx.set_onerror(Some(&reject));
                tx.set_onabort(Some(&reject));
            });
            JsFuture::from(done).await.is_ok()
        }

        async fn open() -> Option<IdbDatabase> {
            let factory = web_sys::window()?.indexed_db().ok()??;
            let opening: IdbOpenDbRequest = factory.open_with_u32(NAME, 1).ok()?;
            let upgrade = Closure::<dyn Fn(web_sys::Event)>::new(move |ev: web_sys::Event| {
                let Some(db) = ev
                    .target()
                    .and_then(|t| t.dyn_into::<IdbRequest>().ok())
                    .and_then(|r| r.result().ok())
                    .and_then(|r| r.dyn_into::<IdbDatabase>().ok())
                else {
                    return;
                };
                for name in [RECORDINGS, CHUNKS] {
                    if !db.object_store_names().contains(name) {
                        let _ = db.create_object_store(name);
                    }
                }
            });
            opening.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
            let db = request(&opening).await?.dyn_into::<IdbDatabase>().ok();
            drop(upgrade);
            db
        }

        fn transaction(db: &IdbDatabase, mode: IdbTransactionMode) -> Option<IdbTransaction> {
            let names = js_sys::Array::of2(&RECORDINGS.into(), &CHUNKS.into());
            db.transaction_with_str_sequence_and_mode(&names, mode).ok()
        }

        fn chunk_key(key: &str, seq: u32) -> JsValue {
            js_sys::Array::of2(&key.into(), &JsValue::from(seq)).into()
        }

        fn chunk_range(key: &str, below: u32) -> Option<IdbKeyRange> {
            IdbKeyRange::bound_with_lower_open_and_upper_open(
                &chunk_key(key, 0),
                &chunk_key(key, below),
                false,
                true,
            )
            .ok()
        }

        pub async fn put_meta(meta: &StoredRecording) {
            let Some(db) = open().await else { return };
            let Some(tx) = transaction(&db, IdbTransactionMode::Readwrite) else {
                return;
            };
            if let (Ok(store), Ok(json)) =
                (tx.object_store(RECORDINGS), serde_json::to_string(meta))
            {
                let _ = store.put_with_key(&json.into(), &meta.key.as_str().into());
            }
            finished(&tx).await;
            db.close();
        }

        /// A chunk and its recording's count, in one transaction.
        pub async fn put_chunk(meta: &StoredRecording, seq: u32, bytes: &[u8]) -> bool {
            let Some(db) = open().await else { return false };
            let Some(tx) = transaction(&db, IdbTransactionMode::Readwrite) else {
                return false;
            };
            let data = js_sys::Uint8Array::from(bytes).buffer();
            if let Ok(store) = tx.object_store(CHUNKS) {
                let _ = store.put_with_key(&data, &chunk_key(&meta.key, seq));
            }
            if let (Ok(store), Ok(json)) =
                (tx.object_store(RECORDINGS), serde_json::to_string(meta))
            {
                let _ = store.put_with_key(&json.into(), &meta.key.as_str().into());
            }
            let ok = finished(&tx).await;
            db.close();
            ok
        }

        pub async fn delete_chunks_below(key: &str, below: u32) {
            let Some(db) = open().await else { return };
            let Some(tx) = transaction(&db, IdbTransactionMode::Readwrite) else {
                return;
            };
            if let (Ok(store), Some(range)) = (tx.object_store(CHUNKS), chunk_range(key, below)) {
                let _ = store.delete(&range);
            }
            finished(&tx).await;
            db.close();
        }

        pub async fn delete_recording(key: &str) {
            let Some(db) = open().await else { return };
            let Some(tx) = transaction(&db, IdbTransactionMode::Readwrite) else {
                return;
            };
            if let (Ok(store), Some(range)) = (tx.object_store(CHUNKS), chunk_range(key, u32::MAX))
            {
                let _ = store.delete(&range);
            }
            if let Ok(store) = tx.object_store(RECORDINGS) {
                let _ = store.delete(&key.into());
            }
            finished(&tx).await;
            db.close();
        }

        /// The recordings kept here, oldest first; those without chunks are dropped.
        pub async fn all() -> Vec<StoredRecording> {
            let Some(db) = open().await else {
                return Vec::new();
            };
            let Some(tx) = transaction(&db, IdbTransactionMode::Readonly) else {
                return Vec::new();
            };
            let Some(all) = tx
                .object_store(RECORDINGS)
                .ok()
                .and_then(|s| s.get_all().ok())
            else {
                return Vec::new();
            };
            let values = request(&all).await;
            db.close();
            let mut list: Vec<StoredRecording> = values
                .map(|v| js_sys::Array::from(&v))
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_string())
                        .filter_map(|json| serde_json::from_str(&json).ok())
                        .collect()
                })
                .unwrap_or_default();
            let empty: Vec<String> = list
                .iter()
                .filter(|s| s.chunks == 0)
                .map(|s| s.key.clone())
                .collect();
            for key in empty {
                delete_recording(&key).await;
            }
            list.retain(|s| s.chunks > 0);
            list.sort_by(|a, b| a.created_ms.total_cmp(&b.created_ms));
            list
        }

        /// A recording's chunks still here, in order.
        pub async fn chunks(key: &str) -> Vec<(u32, Vec<u8>)> {
            let Some(db) = open().await else {
                return Vec::new();
            };
            let Some(tx) = transaction(&db, IdbTransactionMode::Readonly) else {
                return Vec::new();
            };
            let (Ok(store), Some(range)) = (tx.object_store(CHUNKS), chunk_range(key, u32::MAX))
            else {
                return Vec::new();
            };
            let (Ok(keys), Ok(values)) = (
                store.get_all_keys_with_key(&range),
                store.get_all_with_key(&range),
            ) else {
                return Vec::new();
            };
            let keys = request(&keys).await.map(|v| js_sys::Array::from(&v));
            let values = request(&values).await.map(|v| js_sys::Array::from(&v));
            db.close();
            let (Some(keys), Some(values)) = (keys, values) else {
                return Vec::new();
            };
            keys.iter()
                .zip(values.iter())
                .filter_map(|(k, v)| {
                    let seq = js_sys::Array::from(&k).get(1).as_f64()? as u32;
                    Some((seq, js_sys::Uint8Array::new(&v).to_vec()))
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timer_reads_minutes_and_seconds() {
        assert_eq!(mm_ss(0), "00:00");
        assert_eq!(mm_ss(65), "01:05");
        assert_eq!(mm_ss(300), "05:00");
        assert_eq!(m_ss(45), "0:45");
        assert_eq!(m_ss(723), "12:03");
    }

    #[test]
    fn format_is_the_first_the_browser_supports() {
        let chrome = ["audio/webm;codecs=opus", "audio/webm"];
        assert_eq!(
            choose_format(|f| chrome.contains(&f)),
            Some("audio/webm;codecs=opus")
        );
        let firefox = ["audio/ogg;codecs=opus"];
        assert_eq!(
            choose_format(|f| firefox.contains(&f)),
            Some("audio/ogg;codecs=opus")
        );
        let safari = ["audio/mp4"];
        assert_eq!(choose_format(|f| safari.contains(&f)), Some("audio/mp4"));
        assert_eq!(choose_format(|_| false), None);
    }

    #[test]
    fn backoff_doubles_up_to_fifteen_seconds_and_resets() {
        let mut backoff = Backoff::default();
        let delays: Vec<u32> = (0..7).map(|_| backoff.next_delay_ms()).collect();
        assert_eq!(delays, [1_000, 2_000, 4_000, 8_000, 15_000, 15_000, 15_000]);
        backoff.reset();
        assert_eq!(backoff.next_delay_ms(), 1_000);
    }

    #[test]
    fn ready_drops_what_the_server_has_and_resends_the_rest_in_order() {
        let mut book = ChunkBook::default();
        for seq in 0..5 {
            book.hold(seq, format!("chunk{seq}"));
        }
        book.ready(0).unwrap();
        let mut sent = Vec::new();
        while let Some((seq, _)) = book.next_to_send() {
            sent.push(seq);
        }
        assert_eq!(sent, [0, 1, 2, 3, 4]);
        assert!(book.all_sent());
        book.ack(1);
        assert_eq!(book.pending(), 3);
        assert!(book.awaiting_ack());
        // The connection drops; the server stored up to chunk 2 before it did.
        book.ready(3).unwrap();
        let resent: Vec<u32> = std::iter::from_fn(|| book.next_to_send().map(|(s, _)| s)).collect();
        assert_eq!(resent, [3, 4]);
        assert_eq!(book.chunks().map(|(s, _)| *s).collect::<Vec<_>>(), [3, 4]);
        book.ack(4);
        assert_eq!(book.pending(), 0);
        assert!(!book.awaiting_ack());
    }

    #[test]
    fn chunks_go_out_only_in_sequence() {
        let mut book = ChunkBook::default();
        book.ready(0).unwrap();
        // Chunk 1 was stored before chunk 0 finished writing: nothing goes before 0.
        book.hold(1, "b");
        assert!(book.next_to_send().is_none());
        book.hold(0, "a");
        assert_eq!(book.next_to_send().map(|(s, _)| s), Some(0));
        assert_eq!(book.next_to_send().map(|(s, _)| s), Some(1));
        assert!(book.next_to_send().is_none());
        assert_eq!(book.total(), 2);
    }

    #[test]
    fn a_chunk_neither_side_has_is_reported() {
        let mut book = ChunkBook::default();
        book.set_total(4);
        book.hold(3, "d");
        assert_eq!(book.ready(1), Err(Gap { missing: 1 }));
        let mut complete = ChunkBook::<&str>::default();
        complete.set_total(4);
        // The server has everything: nothing is missing.
        assert_eq!(complete.ready(4), Ok(()));
        assert!(complete.all_sent());
    }

    #[test]
    fn protocol_messages_match_the_server() {
        assert_eq!(
            ClientMessage::Start {
                key: "k",
                format: "audio/webm;codecs=opus",
                language: "es"
            }
            .json(),
            r#"{"type":"start","key":"k","format":"audio/webm;codecs=opus","language":"es"}"#
        );
        assert_eq!(
            ClientMessage::Stop { chunks: 12 }.json(),
            r#"{"type":"stop","chunks":12}"#
        );
        assert_eq!(ClientMessage::Discard.json(), r#"{"type":"discard"}"#);
        assert_eq!(
            ServerMessage::parse(r#"{"type":"ready","next":3,"max_seconds":300}"#),
            Some(ServerMessage::Ready {
                next: 3,
                max_seconds: Some(300)
            })
        );
        assert_eq!(
            ServerMessage::parse(r#"{"type":"ack","seq":7}"#),
            Some(ServerMessage::Ack { seq: 7 })
        );
        assert_eq!(
            ServerMessage::parse(
                r#"{"type":"final","text":null,"state":"unavailable","duration_ms":1200}"#
            ),
            Some(ServerMessage::Final {
                text: None,
                state: Some("unavailable".into()),
                duration_ms: Some(1200)
            })
        );
        assert_eq!(
            ServerMessage::parse(
                r#"{"type":"error","message":"Demasiado larga","code":"voice_too_long"}"#
            ),
            Some(ServerMessage::Error {
                message: "Demasiado larga".into(),
                code: Some("voice_too_long".into())
            })
        );
        assert_eq!(
            ServerMessage::parse(r#"{"type":"something_new"}"#),
            Some(ServerMessage::Unknown)
        );
        assert_eq!(binary_frame(258, b"ab"), [0, 0, 1, 2, b'a', b'b']);
    }

    #[test]
    fn the_warning_comes_thirty_seconds_before_the_maximum() {
        assert!(!warning_due(269_999, 300));
        assert!(warning_due(270_000, 300));
        assert!(!warning_due(10_000, 20));
    }

    #[test]
    fn the_meter_follows_loudness() {
        assert_eq!(level_percent(&[128; 64]), 0);
        let loud: Vec<u8> = (0..64).map(|i| if i % 2 == 0 { 255 } else { 1 }).collect();
        assert!(level_percent(&loud) > 95);
        let quiet: Vec<u8> = (0..64)
            .map(|i| if i % 2 == 0 { 131 } else { 125 })
            .collect();
        let level = level_percent(&quiet);
        assert!(level > 10 && level < 60, "{level}");
    }

    #[test]
    fn microphone_errors_get_their_guidance() {
        assert_eq!(
            MicProblem::from_error_name("NotAllowedError"),
            MicProblem::Denied
        );
        assert_eq!(
            MicProblem::from_error_name("NotFoundError"),
            MicProblem::Missing
        );
        assert_eq!(
            MicProblem::from_error_name("NotReadableError"),
            MicProblem::Busy
        );
        assert_eq!(MicProblem::from_error_name("Whatever"), MicProblem::Failed);
    }

    #[test]
    fn the_form_waits_while_a_recording_is_on_its_way() {
        assert!(Phase::Recording.busy() && Phase::Finishing.busy() && Phase::Transcribing.busy());
        assert!(!Phase::Done.busy() && Phase::Done.attached());
        assert!(!Phase::Refused("x".into()).attached());
        assert_eq!(
            status_text(&Phase::Finishing, Link::Open, 3, Lang::Es).as_deref(),
            Some("Enviando la grabación… 3 s pendientes")
        );
        assert_eq!(
            status_text(&Phase::Recording, Link::Offline, 0, Lang::Es).as_deref(),
            Some(Msg::RecorderOffline.text(Lang::Es))
        );
    }
}
