//! Voice comments through the API, for field apps: send a recording, poll its entry until the
//! transcript is there, and (staff) run the transcription again. Every rule is
//! `app::backend::voice`'s; each handler makes one call.

use super::files::{file_error, idle_limited};
use super::{caller, ApiEntry, ApiError, Caller, ErrorBody, WriteFailures};
use app::backend::voice::{self, NewVoice};
use app::backend::AppState;
use app::i18n::{Lang, Msg};
use axum::extract::{Path, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::Deserialize;
use utoipa::ToSchema;

/// A voice comment, as a multipart form. Text fields go before `audio`: the recording is
/// stored as it streams, and what follows it is not read.
#[derive(Deserialize, ToSchema)]
#[allow(dead_code)] // documentation only: the form is read as it streams
struct VoiceForm {
    /// The spoken language (`es`, `en`, `fr`…); by default the person's portal language.
    language: Option<String>,
    /// The person's own version of the transcript (a word fixed), kept beside the machine's.
    text: Option<String>,
    /// `true` (staff only): a voice note clients never see.
    internal: Option<bool>,
    /// The recording: WebM or Ogg with Opus, MP4 (AAC) or WAV, audio only, at most the
    /// portal's longest voice comment (5 minutes unless configured otherwise).
    #[schema(value_type = String, format = Binary)]
    audio: Vec<u8>,
}

/// The entry of a voice comment, polled until its transcript is there
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/voice/{id}",
    tag = "tickets",
    params(
        ("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042"),
        ("id" = i64, Path, description = "The voice entry's id"),
    ),
    responses(
        (status = 200, description = "The entry; its `voice.transcript_state` stays `pending` until the transcript is written", body = ApiEntry),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 404, description = "Unknown, not a voice entry, or not yours to see", body = ErrorBody),
    )
)]
pub async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((number, id)): Path<(String, String)>,
) -> Result<Json<ApiEntry>, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
    let entry_id = entry_id_of(&id, lang)?;
    voice::entry(&state.db, &state.config, &viewer, &number, entry_id)
        .await
        .map(|e| Json(ApiEntry::from(e)))
        .map_err(|e| ApiError::from_service(e, lang))
}

/// Add a voice comment: a recording, transcribed after it is saved
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/voice",
    tag = "tickets",
    params(("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042")),
    request_body(content((VoiceForm = "multipart/form-data"))),
    responses(
        (status = 201, description = "Added: the entry, with `voice.transcript_state` `pending` (poll the entry), `unavailable` (no transcription configured) or `done`", body = ApiEntry),
        WriteFailures,
        (status = 404, description = "Unknown, or not yours to see", body = ErrorBody),
        (status = 415, description = "Not an audio recording of an accepted container", body = ErrorBody),
        (status = 422, description = "Invalid input, a language that cannot be transcribed, or a recording longer than allowed", body = ErrorBody),
    )
)]
pub async fn add(
    State(state): State<AppState>,
    Path(number): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, request.headers()).await?;
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let bad_body = || ApiError::new(StatusCode::BAD_REQUEST, Msg::ErrorInvalidBody, lang);
    let boundary = multer::parse_boundary(&content_type).map_err(|_| bad_body())?;
    let mut form = multer::Multipart::new(idle_limited(request.into_body()), boundary);
    let (mut language, mut text, mut internal) = (None, None, false);
    let entry_id = loop {
        let field = form
            .next_field()
            .await
            .map_err(|_| bad_body())?
            .ok_or_else(|| ApiError::new(StatusCode::BAD_REQUEST, Msg::ErrorNoFiles, lang))?;
        match field.name() {
            Some("audio") => {
                let file_name = field.file_name().unwrap_or("voice").to_string();
                let bytes = field.map(|chunk| chunk.map_err(std::io::Error::other));
                let new = NewVoice {
                    file_name: &file_name,
                    language: language.as_deref(),
                    edited_text: text.as_deref(),
                    internal,
                };
                break voice::add_voice(
                    &state.db,
                    &state.files,
                    &state.events,
                    &state.config,
                    &viewer,
                    &number,
                    new,
                    bytes,
                )
                .await
                .map_err(|e| file_error(e, lang))?;
            }
            Some("language") => language = Some(field.text().await.map_err(|_| bad_body())?),
            Some("text") => text = Some(field.text().await.map_err(|_| bad_body())?),
            Some("internal") => {
                internal = matches!(field.text().await.as_deref(), Ok("true" | "1" | "on"));
            }
            _ => {}
        }
    };
    let entry = voice::entry(&state.db, &state.config, &viewer, &number, entry_id)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    Ok((StatusCode::CREATED, Json(ApiEntry::from(entry))).into_response())
}

/// Transcribe a voice comment again (staff): a new voice entry with the same recording
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/voice/{id}/transcription",
    tag = "tickets",
    params(
        ("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042"),
        ("id" = i64, Path, description = "The voice entry's id"),
    ),
    responses(
        (status = 201, description = "The new entry, its transcript `pending` (or `unavailable`)", body = ApiEntry),
        WriteFailures,
        (status = 404, description = "Unknown, not a voice entry, or not yours to see", body = ErrorBody),
    )
)]
pub async fn retranscribe(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path((number, id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
    let entry_id = entry_id_of(&id, lang)?;
    let new_entry = voice::retranscribe(
        &state.db,
        &state.files,
        &state.events,
        &state.config,
        &viewer,
        &number,
        entry_id,
    )
    .await
    .map_err(|e| ApiError::from_service(e, lang))?;
    let entry = voice::entry(&state.db, &state.config, &viewer, &number, new_entry)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    Ok((StatusCode::CREATED, Json(ApiEntry::from(entry))).into_response())
}

/// An entry id from the path; anything else names no entry.
fn entry_id_of(id: &str, lang: Lang) -> Result<i64, ApiError> {
    id.trim()
        .parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, Msg::ErrorNotFound, lang))
}
