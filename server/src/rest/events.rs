//! `GET /api/v1/events`: what happens to the tickets a key's owner may see, as Server-Sent
//! Events, for monitoring software and chat bridges. A program that reconnects sends the last
//! id it saw (`Last-Event-ID`, as EventSource does by itself) and gets every event after it,
//! once. The rules are `app::backend::live`'s; the handler makes one call.

use super::{caller, ApiError, Caller, ErrorBody};
use app::backend::live::{self, LiveEvent, StartAt};
use app::backend::AppState;
use app::i18n::{Lang, Msg};
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::convert::Infallible;
use std::time::Duration;
use utoipa::{IntoParams, ToSchema};

/// How often an idle stream sends a comment, so that proxies and the client know it is alive.
const HEARTBEAT_EVERY: Duration = Duration::from_secs(15);

/// How long a client waits before reconnecting after the stream ended.
const RETRY_AFTER: Duration = Duration::from_secs(2);

/// Which events to stream.
#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventsQuery {
    /// Only this ticket's events (404 when it is not yours to see).
    ticket: Option<String>,
    /// Start after this event id (`Last-Event-ID` wins when both are sent); without either,
    /// the stream starts with the events that happen from now on.
    after: Option<String>,
}

/// One event; the stream's `id` and `event` fields are its `id` and `kind`.
#[derive(Serialize, ToSchema)]
#[schema(as = Event)]
pub struct ApiEvent {
    /// Increases with every event of the portal; resume after it with `Last-Event-ID`.
    id: i64,
    /// The ticket's number.
    ticket: String,
    /// The timeline entry's kind (`created`, `message`, `note`, `status`, `assignment`,
    /// `priority`, `attachment`, `voice`, `system`), or `transcript` when a voice entry's
    /// transcript arrived; read the entry from the ticket's timeline.
    kind: String,
    entry_id: i64,
    /// A staff-only entry (an internal note): never sent to a client's key.
    internal: bool,
    at: DateTime<Utc>,
}

impl From<LiveEvent> for ApiEvent {
    fn from(e: LiveEvent) -> Self {
        ApiEvent {
            id: e.id,
            ticket: e.ticket,
            kind: e.kind,
            entry_id: e.entry_id,
            internal: e.internal,
            at: e.at,
        }
    }
}

/// Follow events (Server-Sent Events)
#[utoipa::path(
    get,
    path = "/api/v1/events",
    tag = "events",
    params(
        EventsQuery,
        ("Last-Event-ID" = Option<String>, Header, description = "The last event id seen: the stream resumes after it"),
    ),
    responses(
        (status = 200, description = "A `text/event-stream` of events (`id`, `event` = kind, `data` = the event as JSON), with a comment every 15 s while nothing happens. It ends when the key is revoked or its person deactivated.", content_type = "text/event-stream", body = ApiEvent),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 404, description = "Unknown ticket, or not yours to see", body = ErrorBody),
        (status = 422, description = "The last event id is not a whole number", body = ErrorBody),
    )
)]
pub async fn follow(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(query): Query<EventsQuery>,
) -> Result<Response, ApiError> {
    let Caller {
        viewer,
        lang,
        credential,
    } = caller(&state, &headers).await?;
    let start = start_of(&headers, query.after.as_deref(), lang)?;
    let events = live::follow(
        &state.db,
        &state.config,
        &state.events,
        &viewer,
        credential,
        query.ticket.as_deref(),
        start,
    )
    .await
    .map_err(|e| ApiError::from_service(e, lang))?;
    let first = futures_util::stream::once(async {
        Ok::<_, Infallible>(Event::default().retry(RETRY_AFTER).comment("cupula events"))
    });
    let stream = first.chain(events.map(|event| {
        let sent = Event::default()
            .id(event.id.to_string())
            .event(event.kind.clone())
            .json_data(ApiEvent::from(event))
            .unwrap_or_else(|_| Event::default().comment("unencodable event"));
        Ok::<_, Infallible>(sent)
    }));
    let sse = Sse::new(stream).keep_alive(KeepAlive::new().interval(HEARTBEAT_EVERY));
    Ok((
        [
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
            // nginx and its kind would otherwise hold events back to fill a buffer.
            (
                header::HeaderName::from_static("x-accel-buffering"),
                HeaderValue::from_static("no"),
            ),
        ],
        sse,
    )
        .into_response())
}

/// Where the stream starts: after `Last-Event-ID`, else after `after`, else now.
fn start_of(headers: &HeaderMap, after: Option<&str>, lang: Lang) -> Result<StartAt, ApiError> {
    let last_seen = headers
        .get("last-event-id")
        .map(|v| v.to_str().unwrap_or("invalid"))
        .or(after);
    match last_seen.map(str::trim) {
        None | Some("") => Ok(StartAt::Now),
        Some(id) => id
            .parse::<i64>()
            .ok()
            .filter(|id| *id >= 0)
            .map(StartAt::After)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    Msg::ErrorInvalidEventId,
                    lang,
                )
            }),
    }
}
