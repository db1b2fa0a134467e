//! Bounds on every request: how large its body may be and how long it may take.
//!
//! The body limit is enforced here, in one middleware in front of every route, and not by
//! `DefaultBodyLimit`, which only the body extractors honour (server functions read their body
//! themselves). A declared `Content-Length` past the limit is refused before anything is read;
//! a body without one is counted while it streams and cut off at the limit. Either way the
//! answer is a 413 with the translated message, in the form the caller reads: JSON for the REST
//! API, the server function's own error for the pages' calls, a page for plain form posts.

use app::backend::config::Config;
use app::backend::{logo, request, AppState};
use app::error::UserError;
use app::i18n::{Lang, Msg};
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Forms, messages and API calls: far more than any text a person types.
pub const BODY_LIMIT: usize = 1024 * 1024;
/// Room for the multipart boundaries and headers around an uploaded file.
pub const MULTIPART_OVERHEAD: usize = 16 * 1024;

/// What a request may send and how long it may take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub body_bytes: u64,
    /// `None` for the bytes of an upload, which may take as long as a slow link needs: their
    /// route ends a body that pauses too long instead (`rest::files::UPLOAD_IDLE_TIMEOUT`).
    pub time: Option<Duration>,
}

/// The limits of a route.
pub fn limits_of(
    method: &Method,
    path: &str,
    content_type: Option<&str>,
    config: &Config,
) -> Limits {
    let bytes = |n: usize| n as u64;
    let timed = |body_bytes| Limits {
        body_bytes,
        time: Some(config.request_time_limit),
    };
    if method == Method::PATCH && path.starts_with("/api/v1/uploads/") {
        return Limits {
            body_bytes: config.max_file_bytes,
            time: None,
        };
    }
    if method == Method::POST
        && path.starts_with("/api/v1/tickets/")
        && (path.ends_with("/attachments") || path.ends_with("/voice"))
    {
        // Files (or a recording) sent in the request itself, as a form.
        return Limits {
            body_bytes: config
                .max_request_files_bytes
                .saturating_add(bytes(MULTIPART_OVERHEAD)),
            time: None,
        };
    }
    if crate::form_files::is_form_with_files(method, path, content_type) {
        // A form posted before its page's script loaded, with its files.
        return Limits {
            body_bytes: config
                .max_request_files_bytes
                .saturating_add(bytes(BODY_LIMIT + MULTIPART_OVERHEAD)),
            time: None,
        };
    }
    match path {
        "/admin/branding/logo" => timed(bytes(logo::MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD)),
        _ => timed(bytes(BODY_LIMIT)),
    }
}

/// Applies the body limit of the route and the configured time limit to a request.
pub async fn limit_requests(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let lang = request::language_of(request.headers());
    let kind = ReplyKind::of(&request);
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let limits = limits_of(
        request.method(),
        request.uri().path(),
        content_type,
        &state.config,
    );
    let limit = limits.body_bytes;
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit) {
        return refusal(
            kind,
            StatusCode::PAYLOAD_TOO_LARGE,
            Msg::ErrorBodyTooLarge,
            lang,
        );
    }
    let exceeded = Arc::new(AtomicBool::new(false));
    let request = count_body(request, limit, exceeded.clone());
    let response = match limits.time {
        Some(time_limit) => tokio::time::timeout(time_limit, next.run(request)).await,
        None => Ok(next.run(request).await),
    };
    let response = match response {
        Ok(response) => response,
        Err(_) => {
            tracing::warn!("a request took longer than its time limit");
            return refusal(
                kind,
                StatusCode::REQUEST_TIMEOUT,
                Msg::ErrorRequestTimeout,
                lang,
            );
        }
    };
    if exceeded.load(Ordering::SeqCst) {
        // Whatever the route made of its cut-off body, the person is told why.
        return refusal(
            kind,
            StatusCode::PAYLOAD_TOO_LARGE,
            Msg::ErrorBodyTooLarge,
            lang,
        );
    }
    response
}

/// Replaces the body by one that ends with an error once more than `limit` bytes arrived, and
/// raises `exceeded` then.
fn count_body(request: Request, limit: u64, exceeded: Arc<AtomicBool>) -> Request {
    let (parts, body) = request.into_parts();
    let mut seen = 0u64;
    let counted = body.into_data_stream().map(move |chunk| {
        let chunk = chunk?;
        seen += chunk.len() as u64;
        if seen > limit {
            exceeded.store(true, Ordering::SeqCst);
            return Err(axum::Error::new(BodyTooLarge));
        }
        Ok(chunk)
    });
    Request::from_parts(parts, Body::from_stream(counted))
}

#[derive(Debug, thiserror::Error)]
#[error("the request body is larger than its limit")]
struct BodyTooLarge;

/// Who reads the refusal.
#[derive(Clone, Copy)]
enum ReplyKind {
    /// A program calling `/api/v1`: the API's JSON error.
    Api,
    /// A browser's form posted without JavaScript: a page.
    Page,
    /// The portal's own script calling a server function: its error type.
    ServerFunction,
}

impl ReplyKind {
    fn of(request: &Request) -> ReplyKind {
        let path = request.uri().path();
        if path.starts_with("/api/v1/") {
            ReplyKind::Api
        } else if path.starts_with("/api/") && !accepts_html(request) {
            ReplyKind::ServerFunction
        } else {
            ReplyKind::Page
        }
    }
}

fn accepts_html(request: &Request) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

fn refusal(kind: ReplyKind, status: StatusCode, message: Msg, lang: Lang) -> Response {
    let text = message.text(lang);
    let mut response = match kind {
        ReplyKind::Api => (
            status,
            axum::Json(serde_json::json!({
                "error": { "code": crate::rest::code_of(message), "message": text }
            })),
        )
            .into_response(),
        ReplyKind::ServerFunction => (
            status,
            [(header::CONTENT_TYPE, "application/json")],
            serde_json::to_string(&UserError::new(message)).unwrap_or_default(),
        )
            .into_response(),
        ReplyKind::Page => (
            status,
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            refusal_page(text, lang),
        )
            .into_response(),
    };
    // The rest of an oversize body is not read: the connection cannot carry another request.
    response
        .headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// A page for a form posted without JavaScript; going back keeps what was typed in the form.
fn refusal_page(text: &str, lang: Lang) -> String {
    format!(
        "<!DOCTYPE html><html lang=\"{}\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>{text}</title></head><body><main><p role=\"alert\">{text}</p>\
         <p>{}</p><p><a href=\"/\">{}</a></p></main></body></html>",
        lang.code(),
        Msg::GoBackKeepsTyping.text(lang),
        Msg::BackHome.text(lang),
    )
}
