//! The REST API under `/api/v1`, for programs such as an observatory's monitoring software.
//!
//! It calls the same services as the pages (`app::backend::tickets`), with the same `Viewer`,
//! so there is no second implementation of any rule. A program authenticates with a personal
//! API key (`Authorization: Bearer cupula_…`, created in "My account"); a browser may use its
//! session cookie, and then the portal's cross-site check applies as to every other write.
//!
//! Errors are JSON: `{"error": {"code": "…", "message": "…"}}`, with a stable code and a
//! message in the caller's language.

use app::backend::accounts::{AccountError, Viewer};
use app::backend::tickets::{self, NewTicket};
use app::backend::{api_tokens, request, AppState};
use app::i18n::{Lang, Msg};
use app::model::{
    Change, Priority, RequestType, Status, TicketDetail, TicketFilter, TicketSummary, TimelineEntry,
};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

/// The API's routes, which `openapi()` documents: method, path, summary.
pub const ROUTES: &[(&str, &str, &str)] = &[
    ("get", "/api/v1/tickets", "List, filter and search tickets"),
    ("post", "/api/v1/tickets", "Open a ticket"),
    (
        "get",
        "/api/v1/tickets/{number}",
        "A ticket with its timeline",
    ),
    (
        "post",
        "/api/v1/tickets/{number}/messages",
        "Add a message (staff: or an internal note)",
    ),
    (
        "post",
        "/api/v1/tickets/{number}/status",
        "Change the status",
    ),
    (
        "post",
        "/api/v1/tickets/{number}/assignee",
        "Assign the ticket (staff)",
    ),
    (
        "post",
        "/api/v1/tickets/{number}/priority",
        "Change the priority (staff)",
    ),
    ("get", "/api/v1/openapi.json", "This description"),
];

pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/api/v1/tickets", get(list).post(open))
        .route("/api/v1/tickets/{number}", get(show))
        .route("/api/v1/tickets/{number}/messages", post(add_message))
        .route("/api/v1/tickets/{number}/status", post(change_status))
        .route("/api/v1/tickets/{number}/assignee", post(assign))
        .route("/api/v1/tickets/{number}/priority", post(change_priority))
        .route("/api/v1/openapi.json", get(|| async { Json(openapi()) }))
}

/// An API failure: an HTTP status, a stable code and a translated message.
pub struct ApiError {
    status: StatusCode,
    code: String,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(json!({ "error": { "code": self.code, "message": self.message } })),
        )
            .into_response()
    }
}

/// `ErrorCommentRequired` → `comment_required`: the stable code of a catalogue message.
fn code_of(message: Msg) -> String {
    let name = message.name();
    let name = name.strip_prefix("Error").unwrap_or(&name);
    let mut code = String::new();
    for (i, c) in name.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            code.push('_');
        }
        code.push(c.to_ascii_lowercase());
    }
    code
}

impl ApiError {
    fn new(status: StatusCode, message: Msg, lang: Lang) -> ApiError {
        ApiError {
            status,
            code: code_of(message),
            message: message.text(lang).to_string(),
        }
    }

    fn from_service(err: AccountError, lang: Lang) -> ApiError {
        match err {
            AccountError::User(message) => {
                let status = match message {
                    Msg::ErrorNotFound => StatusCode::NOT_FOUND,
                    Msg::ErrorForbidden => StatusCode::FORBIDDEN,
                    Msg::ErrorTicketChanged => StatusCode::CONFLICT,
                    _ => StatusCode::UNPROCESSABLE_ENTITY,
                };
                ApiError::new(status, message, lang)
            }
            other => {
                tracing::error!(error = %other, "API request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Msg::ErrorInternal, lang)
            }
        }
    }

    /// A body that is not JSON, or not of the expected shape.
    fn bad_body(rejection: JsonRejection, lang: Lang) -> ApiError {
        let status = match rejection {
            JsonRejection::JsonDataError(_) => StatusCode::UNPROCESSABLE_ENTITY,
            _ => StatusCode::BAD_REQUEST,
        };
        ApiError {
            status,
            code: "invalid_body".into(),
            message: Msg::ErrorInvalidBody.text(lang).to_string(),
        }
    }
}

/// The caller: an API key, or a browser's session. Also the language of the answers.
struct Caller {
    viewer: Viewer,
    lang: Lang,
}

async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let lang = request::language_of(headers);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let viewer = match bearer {
        Some(token) => api_tokens::authenticate(&state.db, token.trim())
            .await
            .map_err(|e| {
                tracing::error!(error = %e, "API key check failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Msg::ErrorInternal, lang)
            })?,
        None => request::viewer_from_headers(state, headers)
            .await
            .map_err(|_| {
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Msg::ErrorInternal, lang)
            })?,
    };
    match viewer {
        Some(viewer) => Ok(Caller { viewer, lang }),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            Msg::ErrorSignInRequired,
            lang,
        )),
    }
}

// ---- What the API answers: codes rather than the pages' enums, priorities as numbers. ----

#[derive(Serialize)]
struct ApiTicketSummary {
    number: String,
    subject: String,
    request_type: &'static str,
    status: &'static str,
    priority: i64,
    organization: String,
    telescope: Option<String>,
    assignee: Option<String>,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
}

impl From<TicketSummary> for ApiTicketSummary {
    fn from(t: TicketSummary) -> Self {
        ApiTicketSummary {
            number: t.number,
            subject: t.subject,
            request_type: t.request_type.code(),
            status: t.status.code(),
            priority: t.priority.value(),
            organization: t.organization,
            telescope: t.telescope,
            assignee: t.assignee,
            created_at: t.created_at,
            updated_at: t.updated_at,
        }
    }
}

#[derive(Serialize)]
struct ApiEntry {
    id: i64,
    kind: &'static str,
    internal: bool,
    author: Option<String>,
    body: String,
    change: Option<Value>,
    created_at: DateTime<Utc>,
}

impl From<TimelineEntry> for ApiEntry {
    fn from(e: TimelineEntry) -> Self {
        let change = e.change.map(|c| match c {
            Change::Status { from, to } => {
                json!({ "field": "status", "from": from.map(Status::code), "to": to.code() })
            }
            Change::Priority { from, to } => {
                json!({ "field": "priority", "from": from.map(Priority::value), "to": to.value() })
            }
            Change::Assignee { from, to } => json!({ "field": "assignee", "from": from, "to": to }),
        });
        ApiEntry {
            id: e.id,
            kind: e.kind.code(),
            internal: e.internal,
            author: e.author,
            body: e.body,
            change,
            created_at: e.created_at,
        }
    }
}

#[derive(Serialize)]
struct ApiTicket {
    number: String,
    subject: String,
    request_type: &'static str,
    status: &'static str,
    priority: i64,
    organization: String,
    telescope_id: Option<i64>,
    telescope: Option<String>,
    assignee_id: Option<i64>,
    assignee: Option<String>,
    opened_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    closed_at: Option<DateTime<Utc>>,
    timeline: Vec<ApiEntry>,
}

impl From<TicketDetail> for ApiTicket {
    fn from(t: TicketDetail) -> Self {
        ApiTicket {
            number: t.number,
            subject: t.subject,
            request_type: t.request_type.code(),
            status: t.status.code(),
            priority: t.priority.value(),
            organization: t.organization,
            telescope_id: t.telescope_id,
            telescope: t.telescope,
            assignee_id: t.assignee_id,
            assignee: t.assignee,
            opened_by: t.opened_by,
            created_at: t.created_at,
            updated_at: t.updated_at,
            closed_at: t.closed_at,
            timeline: t.timeline.into_iter().map(ApiEntry::from).collect(),
        }
    }
}

// ---- Handlers ----

async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Response, ApiError> {
    let Caller { viewer, lang } = caller(&state, &headers).await?;
    let query = query.unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let filter = TicketFilter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    let page = tickets::list(&state.db, &viewer, &filter)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    Ok(Json(json!({
        "items": page.items.into_iter().map(ApiTicketSummary::from).collect::<Vec<_>>(),
        "next": page.next,
        "counts": { "all": page.counts.all, "open": page.counts.open, "closed": page.counts.closed,
            "exactness": page.counts.exactness },
    }))
    .into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    request_type: String,
    priority: i64,
    #[serde(default)]
    subject: String,
    comment: String,
    telescope_id: Option<i64>,
    organization_id: Option<i64>,
}

async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<OpenBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Caller { viewer, lang } = caller(&state, &headers).await?;
    let Json(body) = body.map_err(|r| ApiError::bad_body(r, lang))?;
    let invalid = || {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Msg::ErrorInvalidChoice,
            lang,
        )
    };
    let new = NewTicket {
        organization_id: body.organization_id,
        request_type: RequestType::from_code(&body.request_type).ok_or_else(invalid)?,
        telescope_id: body.telescope_id,
        priority: Priority::from_value(body.priority).ok_or_else(invalid)?,
        subject: &body.subject,
        comment: &body.comment,
    };
    let opened = tickets::open_ticket(&state.db, &state.events, &viewer, new)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    let ticket = tickets::ticket(&state.db, &state.config, &viewer, &opened.number)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    let location = format!("/api/v1/tickets/{}", opened.number);
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, location)],
        Json(ApiTicket::from(ticket)),
    )
        .into_response())
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Json<ApiTicket>, ApiError> {
    let Caller { viewer, lang } = caller(&state, &headers).await?;
    current(&state, &viewer, &number, lang).await
}

async fn current(
    state: &AppState,
    viewer: &Viewer,
    number: &str,
    lang: Lang,
) -> Result<Json<ApiTicket>, ApiError> {
    tickets::ticket(&state.db, &state.config, viewer, number)
        .await
        .map(|t| Json(ApiTicket::from(t)))
        .map_err(|e| ApiError::from_service(e, lang))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    body: String,
    #[serde(default)]
    internal: bool,
}

async fn add_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Result<Json<MessageBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Caller { viewer, lang } = caller(&state, &headers).await?;
    let Json(body) = body.map_err(|r| ApiError::bad_body(r, lang))?;
    tickets::add_message(
        &state.db,
        &state.events,
        &viewer,
        &number,
        &body.body,
        body.internal,
    )
    .await
    .map_err(|e| ApiError::from_service(e, lang))?;
    let ticket = current(&state, &viewer, &number, lang).await?;
    Ok((StatusCode::CREATED, ticket).into_response())
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    status: String,
    #[serde(default)]
    reason: String,
}

async fn change_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<Json<ApiTicket>, ApiError> {
    let Caller { viewer, lang } = caller(&state, &headers).await?;
    let Json(body) = body.map_err(|r| ApiError::bad_body(r, lang))?;
    let to = Status::from_code(&body.status).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Msg::ErrorInvalidChoice,
            lang,
        )
    })?;
    tickets::change_status(
        &state.db,
        &state.events,
        &state.config,
        &viewer,
        &number,
        to,
        &body.reason,
    )
    .await
    .map_err(|e| ApiError::from_service(e, lang))?;
    current(&state, &viewer, &number, lang).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct AssigneeBody {
    assignee_id: Option<i64>,
}

async fn assign(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Result<Json<AssigneeBody>, JsonRejection>,
) -> Result<Json<ApiTicket>, ApiError> {
    let Caller { viewer, lang } = caller(&state, &headers).await?;
    let Json(body) = body.map_err(|r| ApiError::bad_body(r, lang))?;
    tickets::assign(&state.db, &state.events, &viewer, &number, body.assignee_id)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    current(&state, &viewer, &number, lang).await
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct PriorityBody {
    priority: i64,
}

async fn change_priority(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Result<Json<PriorityBody>, JsonRejection>,
) -> Result<Json<ApiTicket>, ApiError> {
    let Caller { viewer, lang } = caller(&state, &headers).await?;
    let Json(body) = body.map_err(|r| ApiError::bad_body(r, lang))?;
    let priority = Priority::from_value(body.priority).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Msg::ErrorInvalidChoice,
            lang,
        )
    })?;
    tickets::change_priority(&state.db, &state.events, &viewer, &number, priority)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    current(&state, &viewer, &number, lang).await
}

/// The OpenAPI 3.1 description of the API, generated from `ROUTES` and the schemas below.
pub fn openapi() -> Value {
    let codes = |values: &[&str]| json!({ "type": "string", "enum": values });
    let statuses: Vec<&str> = Status::ALL.iter().map(|s| s.code()).collect();
    let types: Vec<&str> = RequestType::ALL.iter().map(|r| r.code()).collect();
    let priority =
        json!({ "type": "integer", "enum": [0, 5, 10], "description": "low 0, medium 5, high 10" });
    let time = json!({ "type": "string", "format": "date-time" });
    let nullable = |schema: Value| json!({ "oneOf": [schema, { "type": "null" }] });
    let schemas = json!({
        "Error": {
            "type": "object", "required": ["error"],
            "properties": { "error": { "type": "object", "required": ["code", "message"], "properties": {
                "code": { "type": "string", "description": "stable, e.g. not_found, comment_required" },
                "message": { "type": "string", "description": "in the caller's language (Accept-Language)" }
            }}}
        },
        "TicketSummary": {
            "type": "object",
            "properties": {
                "number": { "type": "string", "example": "OBS-2026-00042" },
                "subject": { "type": "string" },
                "request_type": codes(&types),
                "status": codes(&statuses),
                "priority": priority,
                "organization": { "type": "string" },
                "telescope": nullable(json!({ "type": "string" })),
                "assignee": nullable(json!({ "type": "string" })),
                "created_at": time, "updated_at": time
            }
        },
        "TicketPage": {
            "type": "object",
            "properties": {
                "items": { "type": "array", "items": { "$ref": "#/components/schemas/TicketSummary" } },
                "next": nullable(json!({ "type": "string", "description": "pass as `after` for the next page" })),
                "counts": { "type": "object", "description": "per view", "properties": {
                    "all": { "type": "integer" }, "open": { "type": "integer" }, "closed": { "type": "integer" },
                    "exactness": { "type": "string", "enum": ["exact", "capped", "at_least"], "description": "capped: counted up to 10001 (filters by type, priority, telescope or a client's \"mine\"), so 10001 means more; at_least: a keyword search counts among the 1000 most recent matching texts only" } } }
            }
        },
        "TimelineEntry": {
            "type": "object",
            "properties": {
                "id": { "type": "integer" },
                "kind": codes(&["created", "message", "note", "status", "assignment", "priority", "attachment", "voice", "system"]),
                "internal": { "type": "boolean", "description": "staff only; never sent to clients" },
                "author": nullable(json!({ "type": "string" })),
                "body": { "type": "string" },
                "change": nullable(json!({ "type": "object", "properties": {
                    "field": codes(&["status", "priority", "assignee"]), "from": {}, "to": {} } })),
                "created_at": time
            }
        },
        "Ticket": {
            "type": "object",
            "properties": {
                "number": { "type": "string" }, "subject": { "type": "string" },
                "request_type": codes(&types), "status": codes(&statuses), "priority": priority,
                "organization": { "type": "string" },
                "telescope_id": nullable(json!({ "type": "integer" })),
                "telescope": nullable(json!({ "type": "string" })),
                "assignee_id": nullable(json!({ "type": "integer" })),
                "assignee": nullable(json!({ "type": "string" })),
                "opened_by": { "type": "string" },
                "created_at": time, "updated_at": time, "closed_at": nullable(time.clone()),
                "timeline": { "type": "array", "items": { "$ref": "#/components/schemas/TimelineEntry" } }
            }
        },
        "NewTicket": {
            "type": "object", "required": ["request_type", "priority", "comment"],
            "properties": {
                "request_type": codes(&types), "priority": priority,
                "subject": { "type": "string", "maxLength": 200, "description": "optional: the comment's first line" },
                "comment": { "type": "string" },
                "telescope_id": nullable(json!({ "type": "integer" })),
                "organization_id": nullable(json!({ "type": "integer", "description": "staff: the client organization" }))
            }
        },
        "NewMessage": { "type": "object", "required": ["body"], "properties": {
            "body": { "type": "string" }, "internal": { "type": "boolean", "default": false } } },
        "StatusChange": { "type": "object", "required": ["status"], "properties": {
            "status": codes(&statuses), "reason": { "type": "string", "description": "required for blocked" } } },
        "AssigneeChange": { "type": "object", "required": ["assignee_id"], "properties": {
            "assignee_id": nullable(json!({ "type": "integer" })) } },
        "PriorityChange": { "type": "object", "required": ["priority"], "properties": { "priority": priority } }
    });
    let error = |description: &str| {
        json!({ "description": description, "content": { "application/json": {
            "schema": { "$ref": "#/components/schemas/Error" } } } })
    };
    let ok = |status: &str, schema: &str| {
        json!({ status: { "description": "OK", "content": { "application/json": {
            "schema": { "$ref": format!("#/components/schemas/{schema}") } } } } })
    };
    let body = |schema: &str| {
        json!({ "required": true, "content": { "application/json": {
            "schema": { "$ref": format!("#/components/schemas/{schema}") } } } })
    };
    let number =
        json!({ "name": "number", "in": "path", "required": true, "schema": { "type": "string" } });
    let filters: Vec<Value> = [
        ("view", "all | open | closed"),
        ("status", "a status code"),
        ("type", "a request type code"),
        ("priority", "low | medium | high"),
        ("telescope", "a telescope id"),
        ("organization", "staff: an organization id"),
        ("assignee", "staff: an agent id, or none"),
        (
            "mine",
            "1: assigned to me (staff) or opened by me (clients)",
        ),
        ("sort", "updated | created | priority"),
        ("q", "keywords: every word must match, accent- and case-insensitive, ranked; a word ending in * matches the words it begins"),
        ("after", "the `next` cursor of the previous page"),
    ]
    .iter()
    .map(|(name, description)| {
        json!({ "name": name, "in": "query", "required": false, "description": description,
                "schema": { "type": "string" } })
    })
    .collect();

    let mut paths = serde_json::Map::new();
    for (method, path, summary) in ROUTES {
        let mut operation = json!({ "summary": summary });
        let (responses, request_body, parameters) = match (*method, *path) {
            ("get", "/api/v1/tickets") => (ok("200", "TicketPage"), None, filters.clone()),
            ("post", "/api/v1/tickets") => (ok("201", "Ticket"), Some(body("NewTicket")), vec![]),
            ("get", "/api/v1/tickets/{number}") => {
                (ok("200", "Ticket"), None, vec![number.clone()])
            }
            ("post", "/api/v1/tickets/{number}/messages") => (
                ok("201", "Ticket"),
                Some(body("NewMessage")),
                vec![number.clone()],
            ),
            ("post", "/api/v1/tickets/{number}/status") => (
                ok("200", "Ticket"),
                Some(body("StatusChange")),
                vec![number.clone()],
            ),
            ("post", "/api/v1/tickets/{number}/assignee") => (
                ok("200", "Ticket"),
                Some(body("AssigneeChange")),
                vec![number.clone()],
            ),
            ("post", "/api/v1/tickets/{number}/priority") => (
                ok("200", "Ticket"),
                Some(body("PriorityChange")),
                vec![number.clone()],
            ),
            _ => (json!({ "200": { "description": "OK" } }), None, vec![]),
        };
        let mut responses = responses;
        if *path != "/api/v1/openapi.json" {
            let map = responses.as_object_mut().expect("responses are an object");
            map.insert("401".into(), error("No valid API key or session"));
            map.insert("404".into(), error("Unknown, or not yours to see"));
            if *method == "post" {
                map.insert("400".into(), error("The body is not JSON"));
                map.insert("403".into(), error("Not allowed for your role"));
                map.insert("409".into(), error("Changed by someone else meanwhile"));
                map.insert("422".into(), error("Invalid input"));
            }
        }
        operation["responses"] = responses;
        if let Some(request_body) = request_body {
            operation["requestBody"] = request_body;
        }
        if !parameters.is_empty() {
            operation["parameters"] = Value::Array(parameters);
        }
        let entry = paths.entry(path.to_string()).or_insert_with(|| json!({}));
        entry[*method] = operation;
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "Cúpula API",
            "version": "1",
            "description": "Requests of an observatory's support portal. Authenticate with a personal API key from \"My account\": `Authorization: Bearer cupula_…`. A program acts with the rights of the person who created its key."
        },
        "security": [{ "apiKey": [] }],
        "components": {
            "securitySchemes": { "apiKey": { "type": "http", "scheme": "bearer" } },
            "schemas": schemas
        },
        "paths": paths
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_are_stable_snake_case_names() {
        assert_eq!(code_of(Msg::ErrorCommentRequired), "comment_required");
        assert_eq!(code_of(Msg::ErrorNotFound), "not_found");
        assert_eq!(code_of(Msg::ErrorTicketChanged), "ticket_changed");
    }

    #[test]
    fn every_route_is_documented() {
        let doc = openapi();
        for (method, path, _) in ROUTES {
            assert!(doc["paths"][path][method].is_object(), "{method} {path}");
        }
        assert_eq!(doc["openapi"], "3.1.0");
    }
}
