//! Files sent with a plain form post, before the page's script has loaded (a slow link, or no
//! JavaScript): the new-request form and the reply box then post `multipart/form-data` to their
//! server functions, which read only URL-encoded forms. In front of those two routes, this
//! stages each `file` field as it streams (the same service call as the REST API's multipart
//! upload, so the same limits and type checks) and hands the server function the form's other
//! fields, URL-encoded, with the staged ids added to its `attachments` field, as the uploader
//! would have sent them. A refused file is not fatal here: the server function answers with the
//! refusal (`request::RefusedFormFile`) like any other error of its form, keeping what was typed.

use crate::rest::idle_limited;
use app::backend::accounts::Viewer;
use app::backend::error::ServiceError;
use app::backend::request::{self, RefusedFormFile};
use app::backend::{attachments, AppState};
use app::i18n::Msg;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{header, HeaderValue, Method};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

/// The server functions whose forms carry files.
pub const FORM_FILE_ROUTES: [&str; 2] = ["/api/tickets/open", "/api/tickets/message"];

/// The fields each of those server functions requires. A form refused before all of its fields
/// were read still reaches its function (which then answers with the refusal), so the fields
/// it never sent are given empty.
fn required_fields(path: &str) -> &'static [&'static str] {
    match path {
        "/api/tickets/open" => &["request_type", "priority", "subject", "comment"],
        "/api/tickets/message" => &["number", "body"],
        _ => &[],
    }
}

/// The form fields other than files together: as much as any URL-encoded form may send.
const TEXT_FIELDS_LIMIT: usize = crate::limits::BODY_LIMIT;

/// Whether a request is a multipart post to one of `FORM_FILE_ROUTES`.
pub fn is_form_with_files(method: &Method, path: &str, content_type: Option<&str>) -> bool {
    method == Method::POST
        && FORM_FILE_ROUTES.contains(&path)
        && content_type.is_some_and(|v| v.trim_start().starts_with("multipart/form-data"))
}

/// Stages the files of a multipart form post and passes the rest on URL-encoded.
pub async fn stage_form_files(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string);
    if !is_form_with_files(
        request.method(),
        request.uri().path(),
        content_type.as_deref(),
    ) {
        return next.run(request).await;
    }
    let boundary = content_type
        .as_deref()
        .and_then(|v| multer::parse_boundary(v).ok());
    let viewer = request::viewer_from_headers(&state, request.headers())
        .await
        .ok()
        .flatten();
    let (mut parts, body) = request.into_parts();
    let mut fields: Vec<(String, String)> = Vec::new();
    let mut refused: Option<Msg> = None;
    let mut staged: Vec<String> = Vec::new();
    match boundary {
        None => refused = Some(Msg::ErrorInvalidBody),
        Some(boundary) => {
            // Text fields are read whole, so each is bounded before it is read; files stream
            // (their limits are the file service's). Signed out, nothing is staged: the form's
            // text alone may come, as any URL-encoded form's.
            let mut limit = multer::SizeLimit::new().per_field(TEXT_FIELDS_LIMIT as u64);
            limit = match viewer {
                Some(_) => limit.for_field("file", u64::MAX),
                None => limit
                    .whole_stream((TEXT_FIELDS_LIMIT + crate::limits::MULTIPART_OVERHEAD) as u64),
            };
            let mut form = multer::Multipart::with_constraints(
                idle_limited(body),
                boundary,
                multer::Constraints::new().size_limit(limit),
            );
            let mut text_bytes = 0usize;
            loop {
                let field = match form.next_field().await {
                    Ok(Some(field)) => field,
                    Ok(None) => break,
                    Err(e) => {
                        refused.get_or_insert(refusal_of(&e));
                        break;
                    }
                };
                let name = field.name().unwrap_or_default().to_string();
                if name == "file" {
                    let file_name = field.file_name().unwrap_or_default().to_string();
                    // A file input left empty still sends its field, with no name and no bytes;
                    // after a refusal the other files are not kept either.
                    if file_name.is_empty() || refused.is_some() {
                        continue;
                    }
                    let Some(viewer) = &viewer else {
                        // Signed out: the server function says so.
                        continue;
                    };
                    let bytes = field.map(|chunk| chunk.map_err(std::io::Error::other));
                    match attachments::stage_whole(
                        &state.db,
                        &state.files,
                        &state.config,
                        viewer,
                        &file_name,
                        bytes,
                    )
                    .await
                    {
                        Ok(file) => staged.push(file.id),
                        Err(err) => {
                            refused = Some(match err {
                                ServiceError::User(msg) => msg,
                                other => {
                                    tracing::error!("a form's file: {other}");
                                    Msg::ErrorInternal
                                }
                            })
                        }
                    }
                    continue;
                }
                match field.text().await {
                    Ok(text) => {
                        text_bytes += name.len() + text.len();
                        if text_bytes > TEXT_FIELDS_LIMIT {
                            refused.get_or_insert(Msg::ErrorBodyTooLarge);
                            break;
                        }
                        fields.push((name, text));
                    }
                    Err(e) => {
                        refused.get_or_insert(refusal_of(&e));
                        break;
                    }
                }
            }
            if refused.is_some() {
                discard(&state, viewer.as_ref(), &staged).await;
                staged.clear();
            } else if !staged.is_empty() {
                add_attachments(&mut fields, &staged);
            }
        }
    }
    if let Some(msg) = refused {
        for field in required_fields(parts.uri.path()) {
            if !fields.iter().any(|(name, _)| name == field) {
                fields.push((field.to_string(), String::new()));
            }
        }
        parts.extensions.insert(RefusedFormFile(msg));
    }
    let encoded = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(fields.iter())
        .finish();
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-www-form-urlencoded"),
    );
    parts
        .headers
        .insert(header::CONTENT_LENGTH, encoded.len().into());
    let response = next
        .run(Request::from_parts(parts, Body::from(encoded)))
        .await;
    if !staged.is_empty() && sends_the_form_back(&response) {
        discard(&state, viewer.as_ref(), &staged).await;
    }
    response
}

/// Whether the server function refused the form: a plain form post is then sent back to its
/// page with the error's name (`request::redirect_back_with_error`).
fn sends_the_form_back(response: &Response) -> bool {
    response
        .headers()
        .get(header::LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|to| to.split_once('?'))
        .is_some_and(|(_, query)| query.split('&').any(|pair| pair.starts_with("error=")))
}

/// Files of a form that was not sent are not kept: the browser cannot give them back to the
/// form, and they would count against the organization's quota until they expire.
async fn discard(state: &AppState, viewer: Option<&Viewer>, staged: &[String]) {
    if let Some(viewer) = viewer {
        for id in staged {
            if let Err(e) = attachments::discard_staged(&state.db, &state.files, viewer, id).await {
                tracing::warn!("discarding a refused form's file: {e}");
            }
        }
    }
}

/// What a person is told of a form the server could not read.
fn refusal_of(error: &multer::Error) -> Msg {
    match error {
        multer::Error::FieldSizeExceeded { .. } | multer::Error::StreamSizeExceeded { .. } => {
            Msg::ErrorBodyTooLarge
        }
        _ => Msg::ErrorInvalidBody,
    }
}

/// Adds staged ids to the form's `attachments` field (comma-separated, as the uploader keeps it).
fn add_attachments(fields: &mut Vec<(String, String)>, staged: &[String]) {
    let ids = staged.join(",");
    match fields.iter_mut().find(|(name, _)| name == "attachments") {
        Some((_, value)) if !value.trim().is_empty() => {
            value.push(',');
            value.push_str(&ids);
        }
        Some((_, value)) => *value = ids,
        None => fields.push(("attachments".to_string(), ids)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn staged_ids_join_the_attachments_field() {
        let mut fields = vec![("body".to_string(), "hola".to_string())];
        add_attachments(&mut fields, &["a1".to_string(), "b2".to_string()]);
        assert_eq!(fields[1], ("attachments".to_string(), "a1,b2".to_string()));
        add_attachments(&mut fields, &["c3".to_string()]);
        assert_eq!(fields[1].1, "a1,b2,c3");
        let mut empty = vec![("attachments".to_string(), " ".to_string())];
        add_attachments(&mut empty, &["d4".to_string()]);
        assert_eq!(empty[0].1, "d4");
    }

    #[test]
    fn only_multipart_posts_to_the_two_forms_are_taken() {
        let multipart = Some("multipart/form-data; boundary=x");
        assert!(is_form_with_files(
            &Method::POST,
            "/api/tickets/message",
            multipart
        ));
        assert!(is_form_with_files(
            &Method::POST,
            "/api/tickets/open",
            multipart
        ));
        assert!(!is_form_with_files(
            &Method::POST,
            "/api/tickets/status",
            multipart
        ));
        assert!(!is_form_with_files(
            &Method::POST,
            "/api/tickets/message",
            Some("application/x-www-form-urlencoded")
        ));
        assert!(!is_form_with_files(
            &Method::GET,
            "/api/tickets/message",
            multipart
        ));
    }
}
