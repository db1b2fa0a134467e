//! Files through the API: resumable uploads (tus 1.0 core, with the creation, expiration and
//! termination extensions), attaching finished uploads to a ticket, listing a ticket's files
//! and downloading one. Every rule is `app::backend::attachments`'s; each handler makes one call.

use super::{caller, ApiError, Caller, ErrorBody};
use crate::rest::tus;
use app::backend::attachments::{self, NewUpload, UploadState};
use app::backend::files::StoredFile;
use app::backend::previews;
use app::backend::AppState;
use app::i18n::{Lang, Msg};
use app::model::AttachmentInfo;
use axum::body::Body;
use axum::extract::{FromRequest, Path, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use tower::ServiceExt;
use utoipa::ToSchema;

/// An upload's body may pause this long between two chunks (a phone changing networks)
/// before the server stops waiting; the bytes that arrived are kept and the client resumes.
pub const UPLOAD_IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// Every tus answer says which protocol version it speaks.
fn tus_response(status: StatusCode, headers: &[(&str, HeaderValue)]) -> Response {
    let mut response = status.into_response();
    let map = response.headers_mut();
    map.insert(tus::TUS_RESUMABLE, HeaderValue::from_static(tus::VERSION));
    for (name, value) in headers {
        map.insert(
            header::HeaderName::from_bytes(name.as_bytes()).expect("tus header names are valid"),
            value.clone(),
        );
    }
    response
}

/// A tus failure: the status a tus client acts on, with the API's JSON error for people.
fn tus_error(error: ApiError) -> Response {
    let mut response = error.into_response();
    response
        .headers_mut()
        .insert(tus::TUS_RESUMABLE, HeaderValue::from_static(tus::VERSION));
    response
}

/// The status of each message the file service answers.
pub(super) fn file_error(err: app::backend::error::ServiceError, lang: Lang) -> ApiError {
    use app::backend::error::ServiceError;
    match err {
        ServiceError::User(message) => {
            let status = match message {
                Msg::ErrorFileTooLarge
                | Msg::ErrorRequestFilesTooLarge
                | Msg::ErrorQuotaExceeded
                | Msg::ErrorFileLongerThanDeclared => StatusCode::PAYLOAD_TOO_LARGE,
                Msg::ErrorFileTypeNotAllowed | Msg::ErrorVoiceNotAudio => {
                    StatusCode::UNSUPPORTED_MEDIA_TYPE
                }
                Msg::ErrorUploadOffsetConflict => StatusCode::CONFLICT,
                Msg::ErrorFileEmpty
                | Msg::ErrorFileNameRequired
                | Msg::ErrorUploadInterrupted
                | Msg::ErrorNoFiles => StatusCode::BAD_REQUEST,
                _ => return ApiError::from_service(ServiceError::User(message), lang),
            };
            ApiError::new(status, message, lang)
        }
        other => ApiError::from_service(other, lang),
    }
}

async fn tus_caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, Response> {
    let caller = caller(state, headers).await.map_err(tus_error)?;
    if !tus::speaks_our_version(headers) {
        return Err(tus_response(
            StatusCode::PRECONDITION_FAILED,
            &[(tus::TUS_VERSION, HeaderValue::from_static(tus::VERSION))],
        ));
    }
    Ok(caller)
}

fn upload_location(id: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("/api/v1/uploads/{id}")).expect("upload ids are hexadecimal")
}

/// What this server accepts: tus's discovery request
#[utoipa::path(
    options,
    path = "/api/v1/uploads",
    tag = "files",
    security(()),
    responses((status = 204, description = "The tus version, extensions and the largest file accepted"))
)]
pub async fn discover(State(state): State<AppState>) -> Response {
    tus_response(
        StatusCode::NO_CONTENT,
        &[
            (tus::TUS_VERSION, HeaderValue::from_static(tus::VERSION)),
            (
                tus::TUS_EXTENSION,
                HeaderValue::from_static(tus::EXTENSIONS),
            ),
            (
                tus::TUS_MAX_SIZE,
                tus::header_number(state.config.max_file_bytes),
            ),
        ],
    )
}

/// Begin a resumable upload (tus creation): `Upload-Length` and `Upload-Metadata: filename <base64>`
#[utoipa::path(
    post,
    path = "/api/v1/uploads",
    tag = "files",
    params(
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Length" = u64, Header, description = "The file's size in bytes"),
        ("Upload-Metadata" = Option<String>, Header, description = "`filename <base64 of the name>`"),
    ),
    responses(
        (status = 201, description = "Created: `Location` is the upload's address, `Upload-Expires` when it lapses unfinished"),
        (status = 400, description = "No length, or no file name", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 412, description = "Not tus 1.0.0"),
        (status = 413, description = "Larger than a file or the organization's quota may be", body = ErrorBody),
    )
)]
pub async fn begin(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, Response> {
    let Caller { viewer, lang, .. } = tus_caller(&state, &headers).await?;
    let Some(length) = tus::number(&headers, tus::UPLOAD_LENGTH) else {
        return Err(tus_error(ApiError::new(
            StatusCode::BAD_REQUEST,
            Msg::ErrorUploadLengthRequired,
            lang,
        )));
    };
    let name = tus::metadata(&headers, "filename").unwrap_or_default();
    let upload = attachments::begin_upload(
        &state.db,
        &state.config,
        &viewer,
        NewUpload { name, length },
    )
    .await
    .map_err(|e| tus_error(file_error(e, lang)))?;
    Ok(tus_response(
        StatusCode::CREATED,
        &[
            ("location", upload_location(&upload.id)),
            (tus::UPLOAD_OFFSET, tus::header_number(upload.offset)),
            (tus::UPLOAD_EXPIRES, tus::http_date(upload.expires_at)),
        ],
    ))
}

/// Where an upload stands (tus): `Upload-Offset` is the byte to resume from
#[utoipa::path(
    head,
    path = "/api/v1/uploads/{id}",
    tag = "files",
    params(("id" = String, Path, description = "The upload's id, from `Location`"), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        (status = 200, description = "`Upload-Offset` and `Upload-Length`"),
        (status = 401, description = "No valid API key or session"),
        (status = 404, description = "Unknown, expired, or not yours"),
        (status = 412, description = "Not tus 1.0.0"),
    )
)]
pub async fn offset(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let Caller { viewer, lang, .. } = tus_caller(&state, &headers).await?;
    let upload = attachments::upload_state(&state.db, &viewer, &id)
        .await
        .map_err(|e| tus_error(file_error(e, lang)))?;
    let mut response = tus_response(StatusCode::OK, &upload_headers(&upload));
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    Ok(response)
}

fn upload_headers(upload: &UploadState) -> Vec<(&'static str, HeaderValue)> {
    let mut headers = vec![
        (tus::UPLOAD_OFFSET, tus::header_number(upload.offset)),
        (tus::UPLOAD_LENGTH, tus::header_number(upload.length)),
        (tus::UPLOAD_EXPIRES, tus::http_date(upload.expires_at)),
    ];
    if let Some(attachment) = &upload.attachment {
        if let Ok(id) = HeaderValue::from_str(&attachment.id) {
            headers.push(("cupula-attachment-id", id));
        }
    }
    headers
}

/// Send bytes of an upload from `Upload-Offset` (tus); the last byte makes it a file to attach
#[utoipa::path(
    patch,
    path = "/api/v1/uploads/{id}",
    tag = "files",
    params(
        ("id" = String, Path, description = "The upload's id"),
        ("Tus-Resumable" = String, Header, description = "1.0.0"),
        ("Upload-Offset" = u64, Header, description = "Where these bytes begin: the offset the server has"),
    ),
    request_body(content = Vec<u8>, content_type = "application/offset+octet-stream"),
    responses(
        (status = 204, description = "Stored: `Upload-Offset` is the new offset; once complete, `Cupula-Attachment-Id` names the file to attach"),
        (status = 400, description = "The connection ended early: the bytes that arrived are kept", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 404, description = "Unknown, expired, or not yours", body = ErrorBody),
        (status = 409, description = "`Upload-Offset` is not the server's offset, or another request is sending this upload", body = ErrorBody),
        (status = 412, description = "Not tus 1.0.0"),
        (status = 413, description = "More bytes than declared", body = ErrorBody),
        (status = 415, description = "Not `application/offset+octet-stream`, or the finished file's type is not allowed", body = ErrorBody),
    )
)]
pub async fn append(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, Response> {
    let headers = request.headers().clone();
    let Caller { viewer, lang, .. } = tus_caller(&state, &headers).await?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    if content_type != Some(tus::PATCH_CONTENT_TYPE) {
        return Err(tus_error(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Msg::ErrorUploadContentType,
            lang,
        )));
    }
    let Some(offset) = tus::number(&headers, tus::UPLOAD_OFFSET) else {
        return Err(tus_error(ApiError::new(
            StatusCode::BAD_REQUEST,
            Msg::ErrorUploadOffsetConflict,
            lang,
        )));
    };
    let body = idle_limited(request.into_body());
    let upload = attachments::append(&state.db, &state.files, &viewer, &id, offset, body)
        .await
        .map_err(|e| tus_error(file_error(e, lang)))?;
    Ok(tus_response(
        StatusCode::NO_CONTENT,
        &upload_headers(&upload),
    ))
}

/// The body as the file service reads it: chunks, ending with an error when the client stops
/// sending for `UPLOAD_IDLE_TIMEOUT`.
pub(crate) fn idle_limited(
    body: Body,
) -> impl futures_util::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Unpin + Send {
    let chunks = body.into_data_stream();
    Box::pin(futures_util::stream::unfold(
        Some(chunks),
        |chunks| async move {
            let mut chunks = chunks?;
            match tokio::time::timeout(UPLOAD_IDLE_TIMEOUT, chunks.next()).await {
                Ok(Some(Ok(chunk))) => Some((Ok(chunk), Some(chunks))),
                Ok(Some(Err(err))) => Some((Err(std::io::Error::other(err)), None)),
                Ok(None) => None,
                Err(_) => Some((
                    Err(std::io::Error::new(
                        std::io::ErrorKind::TimedOut,
                        "the client stopped sending",
                    )),
                    None,
                )),
            }
        },
    ))
}

/// End an upload early (tus termination): its bytes are deleted
#[utoipa::path(
    delete,
    path = "/api/v1/uploads/{id}",
    tag = "files",
    params(("id" = String, Path, description = "The upload's id"), ("Tus-Resumable" = String, Header, description = "1.0.0")),
    responses(
        (status = 204, description = "Ended and deleted"),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 404, description = "Unknown, expired, or not yours", body = ErrorBody),
        (status = 412, description = "Not tus 1.0.0"),
    )
)]
pub async fn terminate(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, Response> {
    let Caller { viewer, lang, .. } = tus_caller(&state, &headers).await?;
    attachments::cancel_upload(&state.db, &state.files, &viewer, &id)
        .await
        .map_err(|e| tus_error(file_error(e, lang)))?;
    Ok(tus_response(StatusCode::NO_CONTENT, &[]))
}

/// Files to attach: finished uploads, by the ids their last `PATCH` named.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AttachBody {
    /// `Cupula-Attachment-Id` of each finished upload.
    attachments: Vec<String>,
    /// Staff only: files only staff see, like an internal note.
    #[serde(default)]
    internal: bool,
}

/// Files sent in the request itself, as a form with one or more `file` fields.
#[derive(ToSchema)]
#[allow(dead_code)] // documentation only: the form is read as it streams
pub struct AttachForm {
    /// One or more files.
    #[schema(value_type = Vec<String>, format = Binary)]
    file: Vec<Vec<u8>>,
    /// `true` (staff only): files only staff see.
    internal: Option<bool>,
}

/// Attach files to a ticket, as one entry of its timeline: sent in the request (a multipart
/// form with `file` fields), or finished resumable uploads named in JSON
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/attachments",
    tag = "files",
    params(("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042")),
    request_body(content(
        (AttachForm = "multipart/form-data"),
        (AttachBody = "application/json"),
    )),
    responses(
        (status = 201, description = "Attached: the files sent, as the ticket now lists them", body = Vec<ApiAttachment>),
        super::WriteFailures,
        (status = 404, description = "Unknown ticket, or a file that is not your finished upload", body = ErrorBody),
        (status = 415, description = "A file of a type that is not allowed", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    )
)]
pub async fn attach(
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
    let (ids, internal) = match multer::parse_boundary(&content_type) {
        Ok(boundary) => stage_form(&state, &viewer, lang, request.into_body(), boundary).await?,
        Err(_) => {
            let Json(body) = Json::<AttachBody>::from_request(request, &state)
                .await
                .map_err(|r| ApiError::bad_body(r, lang))?;
            (body.attachments, body.internal)
        }
    };
    attachments::commit(
        &state.db,
        &state.events,
        &state.config,
        &viewer,
        &number,
        &ids,
        internal,
    )
    .await
    .map_err(|e| file_error(e, lang))?;
    let files = attachments::list(&state.db, &viewer, &number)
        .await
        .map_err(|e| file_error(e, lang))?;
    let attached: Vec<ApiAttachment> = files
        .into_iter()
        .filter(|file| ids.contains(&file.id))
        .map(ApiAttachment::from)
        .collect();
    Ok((StatusCode::CREATED, Json(attached)).into_response())
}

/// Stages each `file` field of a multipart form as it streams (never a whole file in memory);
/// on any failure the files staged so far are discarded.
async fn stage_form(
    state: &AppState,
    viewer: &app::backend::accounts::Viewer,
    lang: Lang,
    body: Body,
    boundary: String,
) -> Result<(Vec<String>, bool), ApiError> {
    let mut form = multer::Multipart::new(idle_limited(body), boundary);
    let mut ids = Vec::new();
    let mut internal = false;
    let outcome = loop {
        let field = match form.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break Ok(()),
            Err(_) => {
                break Err(ApiError::new(
                    StatusCode::BAD_REQUEST,
                    Msg::ErrorInvalidBody,
                    lang,
                ))
            }
        };
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or_default().to_string();
                let bytes = field.map(|chunk| chunk.map_err(std::io::Error::other));
                match attachments::stage_whole(
                    &state.db,
                    &state.files,
                    &state.config,
                    viewer,
                    &name,
                    bytes,
                )
                .await
                {
                    Ok(file) => ids.push(file.id),
                    Err(err) => break Err(file_error(err, lang)),
                }
            }
            Some("internal") => {
                internal = matches!(field.text().await.as_deref(), Ok("true" | "1" | "on"));
            }
            _ => {}
        }
    };
    if let Err(error) = outcome {
        for id in &ids {
            let _ = attachments::discard_staged(&state.db, &state.files, viewer, id).await;
        }
        return Err(error);
    }
    Ok((ids, internal))
}

/// A ticket's file as the API lists it.
#[derive(Serialize, ToSchema)]
#[schema(as = Attachment)]
pub struct ApiAttachment {
    id: String,
    name: String,
    size: u64,
    /// Detected from the file's first bytes, never taken from its name.
    content_type: String,
    sha256: String,
    created_at: chrono::DateTime<chrono::Utc>,
    /// Staff only: like an internal note.
    internal: bool,
    /// Where to download it (the same rights apply).
    url: String,
    /// Its preview (`image/jpeg`), once made: images and PDFs get one.
    preview_url: Option<String>,
}

impl From<AttachmentInfo> for ApiAttachment {
    fn from(a: AttachmentInfo) -> Self {
        ApiAttachment {
            url: a.download_url(),
            preview_url: a.preview.map(|_| a.preview_url()),
            id: a.id,
            name: a.name,
            size: a.size,
            content_type: a.content_type,
            sha256: a.sha256,
            created_at: a.created_at,
            internal: a.internal,
        }
    }
}

/// A ticket's files (clients: not those of internal notes)
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}/attachments",
    tag = "files",
    params(("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042")),
    responses(
        (status = 200, description = "The ticket's files, oldest first", body = Vec<ApiAttachment>),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 404, description = "Unknown, or not yours to see", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Json<Vec<ApiAttachment>>, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
    let files = attachments::list(&state.db, &viewer, &number)
        .await
        .map_err(|e| file_error(e, lang))?;
    Ok(Json(files.into_iter().map(ApiAttachment::from).collect()))
}

/// Download a file (Range requests supported)
#[utoipa::path(
    get,
    path = "/api/v1/attachments/{id}",
    tag = "files",
    params(("id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The file, as detected; shown inline only for raster images, audio and video"),
        (status = 206, description = "The requested range"),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 404, description = "Unknown, or not yours to see", body = ErrorBody),
        (status = 416, description = "A range outside the file"),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, request.headers()).await?;
    let download = attachments::for_download(&state.db, &state.files, &viewer, &id)
        .await
        .map_err(|e| file_error(e, lang))?;
    Ok(serve_file(download, request).await)
}

/// A file's preview: a small JPEG (at most 480 px a side) of an image or of a PDF's first page
#[utoipa::path(
    get,
    path = "/api/v1/attachments/{id}/preview",
    tag = "files",
    params(("id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The preview, `image/jpeg` without metadata", content_type = "image/jpeg"),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 404, description = "Unknown, not yours to see, or no preview (yet): video, HEIC and other types get none", body = ErrorBody),
    )
)]
pub async fn preview(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    picture(state, id, request, previews::Picture::Preview).await
}

/// An image's larger picture for viewing (at most 1600 px a side), made when the image is larger than its preview
#[utoipa::path(
    get,
    path = "/api/v1/attachments/{id}/display",
    tag = "files",
    params(("id" = String, Path, description = "The file's id")),
    responses(
        (status = 200, description = "The picture, `image/jpeg` without metadata", content_type = "image/jpeg"),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 404, description = "Unknown, not yours to see, or none (yet): the preview is the largest picture of a small image", body = ErrorBody),
    )
)]
pub async fn display(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Request,
) -> Result<Response, ApiError> {
    picture(state, id, request, previews::Picture::Display).await
}

async fn picture(
    state: AppState,
    id: String,
    request: Request,
    picture: previews::Picture,
) -> Result<Response, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, request.headers()).await?;
    let download = previews::for_picture(&state.db, &state.files, &viewer, &id, picture)
        .await
        .map_err(|e| file_error(e, lang))?;
    Ok(serve_file(download, request).await)
}

/// Streams a stored file with Range and conditional requests (tower-http's `ServeFile` for
/// the local store, `serve_object` for object storage; `If-None-Match` against the file's
/// SHA-256 for both), then sets the headers that keep a browser from running it: the detected
/// type, `nosniff` (on every answer), a sandboxing CSP, and `attachment` unless it is a raster
/// image, audio or video.
async fn serve_file(download: attachments::Download, request: Request) -> Response {
    let info = &download.info;
    let etag = HeaderValue::from_str(&format!("\"{}\"", info.sha256)).ok();
    let unchanged = match (&etag, request.headers().get(header::IF_NONE_MATCH)) {
        (Some(etag), Some(asked)) => etag_matches(asked, etag),
        _ => false,
    };
    let served = if unchanged {
        StatusCode::NOT_MODIFIED.into_response()
    } else {
        match &download.file {
            StoredFile::Local(path) => tower_http::services::ServeFile::new(path)
                .oneshot(request)
                .await
                .map(IntoResponse::into_response)
                .unwrap_or_else(|never| match never {}),
            StoredFile::S3(object) => serve_object(object, etag.as_ref(), request.headers()).await,
        }
    };
    let (mut parts, body) = served.into_parts();
    if parts.status.is_success() || parts.status == StatusCode::NOT_MODIFIED {
        if let Some(etag) = etag {
            parts.headers.insert(header::ETAG, etag);
        }
    }
    if parts.status.is_success() {
        if let Ok(content_type) = HeaderValue::from_str(&info.content_type) {
            parts.headers.insert(header::CONTENT_TYPE, content_type);
        }
        parts.headers.insert(
            header::CONTENT_DISPOSITION,
            content_disposition(&info.name, info.inline),
        );
    }
    parts.headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    parts.headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=3600"),
    );
    Response::from_parts(parts, body)
}

/// Whether an `If-None-Match` list names `etag` (weakly, as RFC 9110 compares it), or is `*`.
fn etag_matches(asked: &HeaderValue, etag: &HeaderValue) -> bool {
    let (Ok(asked), Ok(etag)) = (asked.to_str(), etag.to_str()) else {
        return false;
    };
    asked
        .split(',')
        .map(|tag| tag.trim())
        .any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// An object of the bucket: the whole of it, or the one range asked for (206; several ranges
/// get the whole file, as RFC 9110 allows), or 416 for a range outside it. `If-Range` must name
/// the file's ETag for the range to apply.
async fn serve_object(
    object: &app::backend::files::StoredObject,
    etag: Option<&HeaderValue>,
    headers: &HeaderMap,
) -> Response {
    let size = match object.size().await {
        Ok(size) => size,
        Err(err) => return unreadable(err),
    };
    let range_applies = match headers.get(header::IF_RANGE) {
        None => true,
        Some(if_range) => Some(if_range) == etag,
    };
    let asked = headers
        .get(header::RANGE)
        .filter(|_| range_applies)
        .map(|range| {
            range
                .to_str()
                .ok()
                .and_then(|range| http_range_header::parse_range_header(range).ok())
                .and_then(|ranges| ranges.validate(size).ok())
        });
    let (status, bytes) = match asked {
        None => (StatusCode::OK, 0..size),
        Some(Some(ranges)) if ranges.len() == 1 => (
            StatusCode::PARTIAL_CONTENT,
            *ranges[0].start()..*ranges[0].end() + 1,
        ),
        Some(Some(_)) => (StatusCode::OK, 0..size),
        Some(None) => {
            let mut refused = StatusCode::RANGE_NOT_SATISFIABLE.into_response();
            if let Ok(value) = HeaderValue::from_str(&format!("bytes */{size}")) {
                refused.headers_mut().insert(header::CONTENT_RANGE, value);
            }
            return refused;
        }
    };
    let stream = match object.stream(bytes.clone()).await {
        Ok(stream) => stream,
        Err(err) => return unreadable(err),
    };
    let mut response = Body::from_stream(stream).into_response();
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    headers.insert(
        header::CONTENT_LENGTH,
        HeaderValue::from(bytes.end - bytes.start),
    );
    if status == StatusCode::PARTIAL_CONTENT {
        if let Ok(value) =
            HeaderValue::from_str(&format!("bytes {}-{}/{size}", bytes.start, bytes.end - 1))
        {
            headers.insert(header::CONTENT_RANGE, value);
        }
    }
    response
}

/// A stored file that could not be read: gone (404, as a missing local file is), or the
/// bucket failed (500, logged; nothing of it reaches the person).
fn unreadable(err: std::io::Error) -> Response {
    if err.kind() == std::io::ErrorKind::NotFound {
        return StatusCode::NOT_FOUND.into_response();
    }
    tracing::error!(error = %err, "reading a file from the bucket failed");
    StatusCode::INTERNAL_SERVER_ERROR.into_response()
}

/// `inline` or `attachment`, with the person's file name in RFC 6266 / 5987 form (an ASCII
/// fallback and the UTF-8 name, percent-encoded).
fn content_disposition(name: &str, inline: bool) -> HeaderValue {
    let disposition = if inline { "inline" } else { "attachment" };
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '"' | '\\' | '%' | ';' | ',') || c == ' ' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = url::form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    HeaderValue::from_str(&format!(
        "{disposition}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dispositions_escape_the_name() {
        assert_eq!(
            content_disposition("montura ñ.jpg", true),
            "inline; filename=\"montura _.jpg\"; filename*=UTF-8''montura%20%C3%B1.jpg"
        );
        assert_eq!(
            content_disposition("a\"b;c.pdf", false),
            "attachment; filename=\"a_b_c.pdf\"; filename*=UTF-8''a%22b%3Bc.pdf"
        );
    }
}
