//! The pages' WebSocket for voice comments, `GET /voice/stream`: the browser streams a
//! recording while the person speaks and reads the words back (`backend::voice_live` keeps and
//! transcribes it). The session cookie authenticates the upgrade, and only this portal's own
//! pages may open it (browsers always send `Origin` on a WebSocket).
//!
//! Text frames are JSON. The browser sends `start {key, format, language}` on every connect
//! (also to resume), then each MediaRecorder chunk as a binary frame (a 4-byte big-endian
//! sequence number, then the bytes), then `stop {chunks}` or `discard`. The server answers
//! `ready {next, max_seconds}` (send from chunk `next`), `ack {seq}` once a chunk is stored,
//! `partial {text}` every few seconds while audio arrives, `stored {duration_ms}` once the
//! whole recording is kept (the form may send it), `final {text, state, duration_ms}`,
//! `discarded`, and `error {message, code}` with a translated message.

use crate::rest::code_of;
use app::backend::accounts::Viewer;
use app::backend::error::ServiceError;
use app::backend::voice_live::{self, ChunkOutcome, Final, LiveRecording, Ready, StopOutcome};
use app::backend::{request, AppState};
use app::i18n::{Lang, Msg};
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Deserialize;
use serde_json::json;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Pings keep proxies from closing a quiet connection and tell a dead one.
const PING_EVERY: Duration = Duration::from_secs(20);
/// A connection that says nothing for this long (not even a pong) is closed.
const IDLE_LIMIT: Duration = Duration::from_secs(90);
/// Room around a chunk for its sequence number and the frame.
const FRAME_OVERHEAD: usize = 1024;

#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    Start {
        key: String,
        format: String,
        #[serde(default)]
        language: Option<String>,
    },
    Stop {
        chunks: u32,
    },
    Discard,
}

pub async fn voice_stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Response {
    let lang = request::language_of(&headers);
    if !crate::is_own_page(&headers, &state.config) {
        tracing::warn!("refused a voice stream from another site");
        return refusal(StatusCode::FORBIDDEN, Msg::ErrorCrossSite, lang);
    }
    let viewer = match request::viewer_from_headers(&state, &headers).await {
        Ok(Some(viewer)) => viewer,
        Ok(None) => return refusal(StatusCode::UNAUTHORIZED, Msg::ErrorSignInRequired, lang),
        Err(_) => return refusal(StatusCode::SERVICE_UNAVAILABLE, Msg::ErrorInternal, lang),
    };
    upgrade
        .max_message_size(voice_live::MAX_CHUNK_BYTES + FRAME_OVERHEAD)
        .max_frame_size(voice_live::MAX_CHUNK_BYTES + FRAME_OVERHEAD)
        .on_upgrade(move |socket| Connection::new(socket, state, viewer).run())
}

fn refusal(status: StatusCode, msg: Msg, lang: Lang) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        msg.text(lang),
    )
        .into_response()
}

/// One browser tab's connection: at most one recording at a time.
struct Connection {
    socket: WebSocket,
    state: AppState,
    viewer: Viewer,
    recording: Option<LiveRecording>,
    partial: Option<JoinHandle<()>>,
    partials: (mpsc::Sender<Option<String>>, mpsc::Receiver<Option<String>>),
}

impl Connection {
    fn new(socket: WebSocket, state: AppState, viewer: Viewer) -> Connection {
        Connection {
            socket,
            state,
            viewer,
            recording: None,
            partial: None,
            partials: mpsc::channel(1),
        }
    }

    async fn run(mut self) {
        let mut partial_tick = tokio::time::interval(voice_live::PARTIAL_EVERY);
        let mut ping_tick = tokio::time::interval(PING_EVERY);
        let mut last_heard = tokio::time::Instant::now();
        loop {
            tokio::select! {
                message = self.socket.recv() => {
                    let Some(Ok(message)) = message else { break };
                    last_heard = tokio::time::Instant::now();
                    let go_on = match message {
                        Message::Text(text) => self.control(text.as_str()).await,
                        Message::Binary(data) => self.chunk(data).await,
                        Message::Close(_) => false,
                        Message::Ping(_) | Message::Pong(_) => true,
                    };
                    if !go_on {
                        break;
                    }
                }
                _ = partial_tick.tick() => self.start_partial(),
                Some(text) = self.partials.1.recv() => {
                    self.partial = None;
                    if let Some(text) = text {
                        if !self.send(json!({"type": "partial", "text": text})).await {
                            break;
                        }
                    }
                }
                _ = ping_tick.tick() => {
                    if last_heard.elapsed() > IDLE_LIMIT
                        || self.socket.send(Message::Ping(Bytes::new())).await.is_err()
                    {
                        break;
                    }
                }
            }
        }
        // The page is gone: a partial still being computed is of no use to anyone.
        if let Some(job) = self.partial.take() {
            job.abort();
        }
    }

    /// Sends a JSON message; `false` when the connection is gone.
    async fn send(&mut self, message: serde_json::Value) -> bool {
        self.socket
            .send(Message::Text(message.to_string().into()))
            .await
            .is_ok()
    }

    /// Tells the browser why its recording was refused; the connection stays open.
    async fn refuse(&mut self, err: ServiceError) -> bool {
        let msg = match err {
            ServiceError::User(msg) => msg,
            other => {
                tracing::error!(error = %other, "a voice stream failed");
                Msg::ErrorInternal
            }
        };
        let lang = self.viewer.language;
        self.send(json!({"type": "error", "message": msg.text(lang), "code": code_of(msg)}))
            .await
    }

    async fn ready(&mut self, ready: Ready) -> bool {
        self.send(json!({"type": "ready", "next": ready.next, "max_seconds": ready.max_seconds}))
            .await
    }

    async fn control(&mut self, text: &str) -> bool {
        let Ok(message) = serde_json::from_str::<ClientMessage>(text) else {
            return self.refuse(Msg::ErrorInvalidChoice.into()).await;
        };
        match message {
            ClientMessage::Start {
                key,
                format,
                language,
            } => {
                // A new start replaces the recording this tab had.
                self.recording = None;
                let state = &self.state;
                match voice_live::start(
                    &state.db,
                    &state.files,
                    &state.config,
                    &self.viewer,
                    &key,
                    &format,
                    language.as_deref(),
                )
                .await
                {
                    Ok((recording, ready)) => {
                        self.recording = Some(recording);
                        self.ready(ready).await
                    }
                    Err(err) => self.refuse(err).await,
                }
            }
            ClientMessage::Stop { chunks } => self.stop(chunks).await,
            ClientMessage::Discard => {
                let Some(recording) = self.recording.take() else {
                    return self.send(json!({"type": "discarded"})).await;
                };
                match recording.discard().await {
                    Ok(()) => self.send(json!({"type": "discarded"})).await,
                    Err(err) => self.refuse(err).await,
                }
            }
        }
    }

    async fn chunk(&mut self, data: Bytes) -> bool {
        let Some(recording) = self.recording.as_mut() else {
            return self.refuse(Msg::ErrorVoiceRecordingGone.into()).await;
        };
        if data.len() < 4 {
            return self.refuse(Msg::ErrorVoiceNotAudio.into()).await;
        }
        let seq = u32::from_be_bytes([data[0], data[1], data[2], data[3]]);
        match recording.chunk(seq, data.slice(4..)).await {
            Ok(ChunkOutcome::Ack(seq)) => self.send(json!({"type": "ack", "seq": seq})).await,
            Ok(ChunkOutcome::Resend { next }) => {
                let max_seconds = self.state.config.max_voice_duration.as_secs();
                self.ready(Ready { next, max_seconds }).await
            }
            Err(err) => {
                self.recording = None;
                self.refuse(err).await
            }
        }
    }

    async fn stop(&mut self, chunks: u32) -> bool {
        let Some(recording) = self.recording.as_mut() else {
            return self.refuse(Msg::ErrorVoiceRecordingGone.into()).await;
        };
        let stored = match recording.stop(chunks).await {
            Ok(StopOutcome::Stored { duration_ms }) => duration_ms,
            Ok(StopOutcome::Resend { next }) => {
                let max_seconds = self.state.config.max_voice_duration.as_secs();
                return self.ready(Ready { next, max_seconds }).await;
            }
            Err(err) => {
                self.recording = None;
                return self.refuse(err).await;
            }
        };
        if !self
            .send(json!({"type": "stored", "duration_ms": stored}))
            .await
        {
            return false;
        }
        // A partial in the making would only delay the final text.
        if let Some(job) = self.partial.take() {
            job.abort();
        }
        let Some(recording) = self.recording.as_mut() else {
            return true;
        };
        match recording.transcript().await {
            Ok(done) => self.send(final_message(&done)).await,
            Err(err) => self.refuse(err).await,
        }
    }

    /// Brings the partial text up to date beside the connection, one at a time.
    fn start_partial(&mut self) {
        if self.partial.is_some() {
            return;
        }
        let Some(job) = self.recording.as_mut().and_then(LiveRecording::partial_job) else {
            return;
        };
        let results = self.partials.0.clone();
        self.partial = Some(tokio::spawn(async move {
            let _ = results.send(job.run().await).await;
        }));
    }
}

fn final_message(done: &Final) -> serde_json::Value {
    json!({
        "type": "final",
        "text": done.text,
        "state": done.state.code(),
        "duration_ms": done.duration_ms,
    })
}
