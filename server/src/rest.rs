//! The REST API under `/api/v1`, for programs such as an observatory's monitoring software.
//!
//! It calls the same services as the pages (`app::backend::tickets`), with the same `Viewer`,
//! so there is no second implementation of any rule. A program authenticates with a personal
//! API key (`Authorization: Bearer cupula_…`, created in "My account"); a browser may use its
//! session cookie, and then the portal's cross-site check applies as to every other write.
//!
//! Errors are JSON: `{"error": {"code": "…", "message": "…"}}`, with a stable code from
//! `code_of` and a message in the caller's language.
//!
//! The router and its OpenAPI description come from one place: each handler carries its
//! `#[utoipa::path]`, `api()` registers the handlers, and `split_for_parts` yields both the
//! axum router and the description: the routes served and the routes documented are one list.

mod events;
mod files;
pub(crate) use files::idle_limited;
mod tus;
mod voice;

use app::backend::accounts::Viewer;
use app::error::UserError;

use app::backend::error::ServiceError;
use app::backend::live::Credential;
use app::backend::storage::tickets::SEARCH_CANDIDATES;
use app::backend::tickets::{self, NewTicket};
use app::backend::{api_tokens, request, AppState};
use app::i18n::{Lang, Msg};
use app::model::{
    Change, EntryKind, Exactness, FilterError, FilterParameter, Priority, RequestType, Resolution,
    ResolutionFilter, Status, TicketDetail, TicketFilter, TicketPage, TicketSort, TicketSummary,
    TicketView, TimelineEntry, TranscriptState, VoiceInfo, COUNT_CAP, QUERY_MAX_CHARS,
};
use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use std::sync::OnceLock;
use utoipa::openapi::path::{Parameter, ParameterBuilder, ParameterIn};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Object, ObjectBuilder, OpenApi as Description, Required, Type};
use utoipa::{IntoParams, IntoResponses, Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

/// The description's fixed parts; the paths and schemas come from the handlers in `api()`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Cúpula API",
        version = "1",
        description = "Requests of an observatory's support portal. Authenticate with a personal API key from \"My account\": `Authorization: Bearer cupula_…`. A program acts with the rights of the person who created its key. Errors answer `{\"error\": {\"code\", \"message\"}}`: the code is stable, the message is in the caller's language (`Accept-Language`)."
    ),
    modifiers(&BearerKey),
    security(("apiKey" = [])),
    tags(
        (name = "tickets", description = "Support requests and their timelines"),
        (name = "files", description = "Resumable uploads (tus 1.0), a ticket's files and their downloads"),
        (name = "events", description = "What happens to tickets, as it happens (Server-Sent Events)")
    )
)]
struct ApiDoc;

/// The `apiKey` security scheme that every operation requires.
struct BearerKey;

impl Modify for BearerKey {
    fn modify(&self, description: &mut Description) {
        description
            .components
            .get_or_insert_with(Default::default)
            .add_security_scheme(
                "apiKey",
                SecurityScheme::Http(
                    HttpBuilder::new()
                        .scheme(HttpAuthScheme::Bearer)
                        .description(Some("A personal API key (`cupula_…`) from \"My account\""))
                        .build(),
                ),
            );
    }
}

/// Every route of the API with its description.
fn api() -> OpenApiRouter<AppState> {
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .routes(routes!(list, open))
        .routes(routes!(show))
        .routes(routes!(add_message))
        .routes(routes!(change_status))
        .routes(routes!(accept))
        .routes(routes!(assign))
        .routes(routes!(change_priority))
        .routes(routes!(files::discover, files::begin))
        .routes(routes!(files::offset, files::append, files::terminate))
        .routes(routes!(files::attach, files::list))
        .routes(routes!(files::download))
        .routes(routes!(files::preview))
        .routes(routes!(files::display))
        .routes(routes!(voice::add))
        .routes(routes!(voice::show))
        .routes(routes!(voice::retranscribe))
        .routes(routes!(events::follow))
        .routes(routes!(description))
}

/// The API's routes, as `/api/v1/openapi.json` describes them.
pub fn routes() -> Router<AppState> {
    api().split_for_parts().0
}

/// The OpenAPI 3.1 description of the API, built once.
fn openapi() -> &'static Description {
    static DESCRIPTION: OnceLock<Description> = OnceLock::new();
    DESCRIPTION.get_or_init(|| api().split_for_parts().1)
}

/// This description
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    security(()),
    responses((status = 200, description = "The OpenAPI 3.1 description of this API", body = Value))
)]
async fn description() -> Json<&'static Description> {
    Json(openapi())
}

// ---- Errors ----

/// The stable code of each error message, as API clients branch on it. Written out rather than
/// derived from the messages' Rust names, so renaming a message cannot change a code; the
/// tests check that every error message has one and that no two share one.
pub fn code_of(message: Msg) -> &'static str {
    error_code(message).unwrap_or(FALLBACK_CODE)
}

/// The code of a message that is not one of the catalogue's errors (none is expected here).
const FALLBACK_CODE: &str = "invalid_input";

fn error_code(message: Msg) -> Option<&'static str> {
    Some(match message {
        // Who is asking.
        Msg::ErrorSignInRequired => "sign_in_required",
        Msg::ErrorSessionExpired => "session_expired",
        Msg::ErrorInvalidCredentials => "invalid_credentials",
        Msg::ErrorAccountInactive => "account_inactive",
        Msg::ErrorTooManyAttempts => "too_many_attempts",
        Msg::ErrorForbidden => "forbidden",
        Msg::ErrorCrossSite => "cross_site",
        Msg::ErrorNotFound => "not_found",
        // The request itself.
        Msg::ErrorInvalidBody => "invalid_body",
        Msg::ErrorBodyTooLarge => "body_too_large",
        Msg::ErrorRequestTimeout => "request_timeout",
        Msg::ErrorInvalidChoice => "invalid_choice",
        Msg::ErrorInvalidEventId => "invalid_event_id",
        // Files.
        Msg::ErrorFileTooLarge => "file_too_large",
        Msg::ErrorFileEmpty => "file_empty",
        Msg::ErrorFileNameRequired => "file_name_required",
        Msg::ErrorFileLongerThanDeclared => "file_longer_than_declared",
        Msg::ErrorFileTypeNotAllowed => "file_type_not_allowed",
        Msg::ErrorQuotaExceeded => "quota_exceeded",
        Msg::ErrorRequestFilesTooLarge => "request_files_too_large",
        Msg::ErrorUploadOffsetConflict => "upload_offset_conflict",
        Msg::ErrorUploadInterrupted => "upload_interrupted",
        Msg::ErrorUploadLengthRequired => "upload_length_required",
        Msg::ErrorUploadContentType => "upload_content_type",
        Msg::ErrorUploadRefused => "upload_refused",
        Msg::ErrorNoFiles => "no_files",
        Msg::ErrorVoiceNotAudio => "voice_not_audio",
        Msg::ErrorVoiceTooLong => "voice_too_long",
        Msg::ErrorVoiceLanguage => "voice_language",
        Msg::ErrorVoiceRecordingGone => "voice_recording_gone",
        Msg::ErrorVoiceRecordingIncomplete => "voice_recording_incomplete",
        Msg::ErrorVoiceBusy => "voice_busy",
        Msg::ErrorFilterUnknown => "unknown_filter",
        Msg::ErrorFilterInvalid => "invalid_filter",
        Msg::ErrorFilterRepeated => "repeated_filter",
        Msg::ErrorTextTooLong => "text_too_long",
        // Tickets.
        Msg::ErrorCommentRequired => "comment_required",
        Msg::ErrorSubjectTooLong => "subject_too_long",
        Msg::ErrorTelescopeUnknown => "telescope_unknown",
        Msg::ErrorOrganizationRequired => "organization_required",
        Msg::ErrorStatusUnchanged => "status_unchanged",
        Msg::ErrorStatusNotAllowed => "status_not_allowed",
        Msg::ErrorBlockedReasonRequired => "blocked_reason_required",
        Msg::ErrorTicketChanged => "ticket_changed",
        Msg::ErrorRepliedMeanwhile => "replied_meanwhile",
        Msg::ErrorNothingChanged => "nothing_changed",
        Msg::ErrorAgentUnknown => "agent_unknown",
        Msg::ErrorTicketClosed => "ticket_closed",
        Msg::ErrorHeldMailGone => "held_mail_gone",
        Msg::ErrorMessageRequired => "message_required",
        // Accounts and administration, which the pages answer but the services share.
        Msg::ErrorEmailRequired => "email_required",
        Msg::ErrorEmailInvalid => "email_invalid",
        Msg::ErrorEmailTaken => "email_taken",
        Msg::ErrorNameRequired => "name_required",
        Msg::ErrorNameTooLong => "name_too_long",
        Msg::ErrorPasswordRequired => "password_required",
        Msg::ErrorPasswordTooShort => "password_too_short",
        Msg::ErrorPasswordTooLong => "password_too_long",
        Msg::ErrorPasswordCommon => "password_common",
        Msg::ErrorCurrentPasswordWrong => "current_password_wrong",
        Msg::ErrorLinkInvalid => "link_invalid",
        Msg::ErrorOrganizationTaken => "organization_taken",
        Msg::ErrorMailNotRetryable => "mail_not_retryable",
        Msg::ErrorMailNotCancellable => "mail_not_cancellable",
        Msg::ErrorCadenceOutOfRange => "cadence_out_of_range",
        Msg::ErrorNotAwaitingConfirmation => "not_awaiting_confirmation",
        Msg::ErrorAlreadyJoined => "already_joined",
        Msg::ErrorCannotDeactivateSelf => "cannot_deactivate_self",
        Msg::ErrorInvalidContactEmail => "invalid_contact_email",
        Msg::ErrorSlugInvalid => "slug_invalid",
        Msg::ErrorUnknownTimeZone => "time_zone_unknown",
        Msg::ErrorSlugTaken => "slug_taken",
        Msg::ErrorPrimaryUnreadable => "primary_unreadable",
        Msg::ErrorAccentUnreadable => "accent_unreadable",
        Msg::ErrorLogoTooLarge => "logo_too_large",
        Msg::ErrorLogoFormat => "logo_format",
        Msg::ErrorLogoUnreadable => "logo_unreadable",
        Msg::ErrorLogoMissing => "logo_missing",
        // The server.
        Msg::ErrorInternal => "internal",
        Msg::ErrorBusy => "busy",
        Msg::ErrorNotSetUp => "not_set_up",
        Msg::ErrorNetwork => "network",
        _ => return None,
    })
}

/// Every code `code_of` can answer, for the description's `Error` schema.
fn error_codes() -> Vec<&'static str> {
    let mut codes: Vec<&'static str> = Msg::ALL.iter().filter_map(|m| error_code(*m)).collect();
    codes.push(FALLBACK_CODE);
    codes
}

/// The failures every write to a ticket may answer, besides its own (documentation only: the
/// handlers answer them through `ApiError`, the CSRF guard and the request limits).
#[derive(IntoResponses)]
#[allow(dead_code)]
enum WriteFailures {
    #[response(status = 400, description = "The body is not JSON")]
    NotJson(ErrorBody),
    #[response(status = 401, description = "No valid API key or session")]
    SignedOut(ErrorBody),
    #[response(
        status = 403,
        description = "Not allowed for your role, or a browser's cross-site request"
    )]
    Forbidden(ErrorBody),
    #[response(status = 413, description = "The body is larger than the limit")]
    TooLarge(ErrorBody),
}

/// What every failure answers.
#[derive(Serialize, ToSchema)]
#[schema(as = Error)]
struct ErrorBody {
    #[schema(inline)]
    error: ErrorDetail,
}

#[derive(Serialize, ToSchema)]
struct ErrorDetail {
    /// Stable: programs may branch on it.
    #[schema(schema_with = error_code_schema)]
    code: &'static str,
    /// In the caller's language (`Accept-Language`).
    message: String,
    /// The query parameter at fault (filter errors only).
    #[serde(skip_serializing_if = "Option::is_none")]
    parameter: Option<String>,
}

/// An API failure: an HTTP status, a stable code and a translated message.
pub struct ApiError {
    status: StatusCode,
    detail: ErrorDetail,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (self.status, Json(ErrorBody { error: self.detail })).into_response()
    }
}

/// The longest unknown parameter name an error repeats back.
const ECHOED_NAME_MAX_CHARS: usize = 40;

impl ApiError {
    fn new(status: StatusCode, message: Msg, lang: Lang) -> ApiError {
        ApiError {
            status,
            detail: ErrorDetail {
                code: code_of(message),
                message: message.text(lang).to_string(),
                parameter: None,
            },
        }
    }

    fn from_service(err: ServiceError, lang: Lang) -> ApiError {
        match err {
            ServiceError::User(message) => {
                let status = StatusCode::from_u16(UserError::new(message).http_status())
                    .unwrap_or(StatusCode::UNPROCESSABLE_ENTITY);
                ApiError::new(status, message, lang)
            }
            other => {
                tracing::error!(error = %other, "API request failed");
                ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Msg::ErrorInternal, lang)
            }
        }
    }

    /// A body that is not JSON, not of the expected shape, or past the body limit.
    fn bad_body(rejection: JsonRejection, lang: Lang) -> ApiError {
        match rejection.status() {
            StatusCode::PAYLOAD_TOO_LARGE => {
                ApiError::new(StatusCode::PAYLOAD_TOO_LARGE, Msg::ErrorBodyTooLarge, lang)
            }
            StatusCode::UNPROCESSABLE_ENTITY => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Msg::ErrorInvalidBody,
                lang,
            ),
            _ => ApiError::new(StatusCode::BAD_REQUEST, Msg::ErrorInvalidBody, lang),
        }
    }

    /// A query string that is not a ticket filter: the message names the parameter.
    fn bad_filter(err: FilterError, lang: Lang) -> ApiError {
        let (message, parameter) = match err {
            FilterError::Unknown(name) => (
                Msg::ErrorFilterUnknown,
                name.chars().take(ECHOED_NAME_MAX_CHARS).collect(),
            ),
            FilterError::Invalid(parameter) => {
                (Msg::ErrorFilterInvalid, parameter.name().to_string())
            }
            FilterError::Repeated(parameter) => {
                (Msg::ErrorFilterRepeated, parameter.name().to_string())
            }
        };
        ApiError {
            status: StatusCode::BAD_REQUEST,
            detail: ErrorDetail {
                code: code_of(message),
                message: message.fill(lang, &[("name", &parameter)]),
                parameter: Some(parameter),
            },
        }
    }
}

/// The caller: an API key, or a browser's session. Also the language of the answers.
struct Caller {
    viewer: Viewer,
    lang: Lang,
    /// What let them in, for answers that last (an event stream checks it again).
    credential: Credential,
}

async fn caller(state: &AppState, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let lang = request::language_of(headers);
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let (viewer, credential) = match bearer {
        Some(token) => (
            api_tokens::authenticate(&state.db, token.trim())
                .await
                .map_err(|e| {
                    tracing::error!(error = %e, "API key check failed");
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Msg::ErrorInternal, lang)
                })?,
            Credential::ApiKey(token.trim().to_string()),
        ),
        None => (
            request::viewer_from_headers(state, headers)
                .await
                .map_err(|_| {
                    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, Msg::ErrorInternal, lang)
                })?,
            Credential::Session(
                request::cookie(headers, request::session_cookie_name(&state.config))
                    .unwrap_or_default(),
            ),
        ),
    };
    match viewer {
        Some(viewer) => Ok(Caller {
            viewer,
            lang,
            credential,
        }),
        None => Err(ApiError::new(
            StatusCode::UNAUTHORIZED,
            Msg::ErrorSignInRequired,
            lang,
        )),
    }
}

// ---- The schemas of codes: the API speaks codes rather than the pages' enums. ----

/// A string schema that takes only `codes`.
fn codes_schema(codes: impl IntoIterator<Item = &'static str>) -> ObjectBuilder {
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(codes))
}

fn error_code_schema() -> Object {
    codes_schema(error_codes())
        .description(Some("stable, e.g. not_found, comment_required"))
        .build()
}

fn status_schema() -> Object {
    codes_schema(Status::ALL.map(Status::code))
        .description(Some("the status"))
        .build()
}

fn request_type_schema() -> Object {
    codes_schema(RequestType::ALL.map(RequestType::code))
        .description(Some("what is asked for"))
        .build()
}

fn priority_schema() -> Object {
    let meaning: Vec<String> = Priority::ALL
        .iter()
        .map(|p| format!("{} {}", p.code(), p.value()))
        .collect();
    ObjectBuilder::new()
        .schema_type(Type::Integer)
        .enum_values(Some(Priority::ALL.map(Priority::value)))
        .description(Some(meaning.join(", ")))
        .build()
}

fn entry_kind_schema() -> Object {
    codes_schema(EntryKind::ALL.map(EntryKind::code))
        .description(Some("what the entry records"))
        .build()
}

fn transcript_state_schema() -> Object {
    codes_schema(TranscriptState::ALL.map(TranscriptState::code))
        .description(Some("where the transcript stands"))
        .build()
}

fn change_field_schema() -> Object {
    codes_schema(CHANGE_FIELDS)
        .description(Some("the field that changed"))
        .build()
}

fn exactness_schema() -> Object {
    let counted = COUNT_CAP + 1;
    ObjectBuilder::new()
        .schema_type(Type::String)
        .enum_values(Some(
            [Exactness::Exact, Exactness::Capped, Exactness::AtLeast]
                .iter()
                .filter_map(|e| serde_json::to_value(e).ok()),
        ))
        .description(Some(format!(
            "capped: counted up to {counted} (filters by type, priority, telescope or a client's \"mine\"), so {counted} means more; at_least: a keyword search counts among the {SEARCH_CANDIDATES} most recent matching texts only"
        )))
        .build()
}

// ---- What the API answers: codes rather than the pages' enums, priorities as numbers. ----

/// One row of a list.
#[derive(Serialize, ToSchema)]
#[schema(as = TicketSummary)]
struct ApiTicketSummary {
    #[schema(example = "OBS-2026-00042")]
    number: String,
    subject: String,
    #[schema(schema_with = request_type_schema)]
    request_type: &'static str,
    #[schema(schema_with = status_schema)]
    status: &'static str,
    #[schema(schema_with = priority_schema)]
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

/// One page of a list.
#[derive(Serialize, ToSchema)]
#[schema(as = TicketPage)]
struct ApiTicketPage {
    items: Vec<ApiTicketSummary>,
    /// Pass as `after` for the next page.
    next: Option<String>,
    counts: ApiCounts,
}

/// How many tickets each view of the list holds, with the other filters applied.
#[derive(Serialize, ToSchema)]
#[schema(as = ViewCounts)]
struct ApiCounts {
    all: i64,
    open: i64,
    closed: i64,
    #[schema(schema_with = exactness_schema)]
    exactness: Exactness,
}

impl From<TicketPage> for ApiTicketPage {
    fn from(page: TicketPage) -> Self {
        ApiTicketPage {
            items: page.items.into_iter().map(ApiTicketSummary::from).collect(),
            next: page.next,
            counts: ApiCounts {
                all: page.counts.all,
                open: page.counts.open,
                closed: page.counts.closed,
                exactness: page.counts.exactness,
            },
        }
    }
}

/// The fields a timeline entry's change can name.
const CHANGE_FIELDS: [&str; 4] = ["status", "priority", "assignee", "lifecycle"];

/// A change a timeline entry records.
#[derive(Serialize, ToSchema)]
#[schema(as = Change)]
struct ApiChange {
    #[schema(schema_with = change_field_schema)]
    field: &'static str,
    /// Before: a status code, a priority number or an agent's name; null for none. For
    /// `lifecycle` (a reminder, notice or automatic closure, or the client's acceptance): its
    /// number (`"2/3"` for the second of three reminders, hours for a notice) or null.
    from: Value,
    /// After, in the same terms; for `lifecycle`, what happened (`waiting_reminder`,
    /// `waiting_closure_notice`, `closed_no_reply`, `confirmation_reminder`,
    /// `confirmation_closure_notice`, `closed_automatically`, `accepted`).
    to: Value,
}

impl From<Change> for ApiChange {
    fn from(change: Change) -> Self {
        let [status, priority, assignee, lifecycle] = CHANGE_FIELDS;
        let (field, from, to) = match change {
            Change::Status { from, to } => {
                (status, json!(from.map(Status::code)), json!(to.code()))
            }
            Change::Priority { from, to } => (
                priority,
                json!(from.map(Priority::value)),
                json!(to.value()),
            ),
            Change::Assignee { from, to } => (assignee, json!(from), json!(to)),
            Change::Automatic(action) => {
                (lifecycle, json!(action.argument()), json!(action.code()))
            }
        };
        ApiChange { field, from, to }
    }
}

/// An entry of a ticket's timeline.
#[derive(Serialize, ToSchema)]
#[schema(as = TimelineEntry)]
struct ApiEntry {
    id: i64,
    #[schema(schema_with = entry_kind_schema)]
    kind: &'static str,
    /// Staff only; never sent to clients.
    internal: bool,
    author: Option<String>,
    body: String,
    change: Option<ApiChange>,
    /// The files of an `attachment` entry.
    attachments: Vec<files::ApiAttachment>,
    /// A `voice` entry's recording and transcript.
    voice: Option<ApiVoice>,
    created_at: DateTime<Utc>,
}

/// A voice comment's recording and transcript.
#[derive(Serialize, ToSchema)]
#[schema(as = Voice)]
struct ApiVoice {
    /// The recording (the same rights apply); absent when it is not yours to reach.
    audio: Option<files::ApiAttachment>,
    duration_ms: u64,
    /// The spoken language (`es`, `en`…).
    language: String,
    /// `pending` (poll the entry), `done`, `unavailable` (no transcription configured: the
    /// audio is kept) or `failed`.
    #[schema(schema_with = transcript_state_schema)]
    transcript_state: &'static str,
    /// The machine's transcript, once `done`.
    transcript: Option<String>,
    /// What the person sent instead of the machine's text, when they changed it.
    edited_text: Option<String>,
}

impl From<VoiceInfo> for ApiVoice {
    fn from(v: VoiceInfo) -> Self {
        ApiVoice {
            audio: v.audio.map(files::ApiAttachment::from),
            duration_ms: v.duration_ms,
            language: v.language,
            transcript_state: v.state.code(),
            transcript: v.transcript,
            edited_text: v.edited_text,
        }
    }
}

impl From<TimelineEntry> for ApiEntry {
    fn from(e: TimelineEntry) -> Self {
        ApiEntry {
            id: e.id,
            kind: e.kind.code(),
            internal: e.internal,
            author: e.author,
            body: e.body,
            change: e.change.map(ApiChange::from),
            attachments: e
                .attachments
                .into_iter()
                .map(files::ApiAttachment::from)
                .collect(),
            voice: e.voice.map(ApiVoice::from),
            created_at: e.created_at,
        }
    }
}

/// A ticket with its timeline.
#[derive(Serialize, ToSchema)]
#[schema(as = Ticket)]
struct ApiTicket {
    #[schema(example = "OBS-2026-00042")]
    number: String,
    subject: String,
    #[schema(schema_with = request_type_schema)]
    request_type: &'static str,
    #[schema(schema_with = status_schema)]
    status: &'static str,
    #[schema(schema_with = priority_schema)]
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
    /// How a done request was closed: `accepted` by its client, `auto_closed` after the
    /// confirmation reminders, `no_reply` after waiting for its client; null while a done
    /// request awaits confirmation, and for the other statuses.
    resolution: Option<&'static str>,
    /// Blocked waiting for its client, who is being reminded.
    waiting_for_client: bool,
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
            resolution: t.resolution.map(Resolution::code),
            waiting_for_client: t.waiting_for_client,
            timeline: t.timeline.into_iter().map(ApiEntry::from).collect(),
        }
    }
}

// ---- Handlers ----

/// The list's query parameters, each as `TicketFilter::parse_strict` reads it.
enum ListFilters {}

impl IntoParams for ListFilters {
    fn into_params(_: impl Fn() -> Option<ParameterIn>) -> Vec<Parameter> {
        FilterParameter::ALL
            .into_iter()
            .map(|parameter| {
                let (description, schema) = filter_documentation(parameter);
                ParameterBuilder::new()
                    .name(parameter.name())
                    .parameter_in(ParameterIn::Query)
                    .required(Required::False)
                    .description(Some(description))
                    .schema(Some(schema))
                    .build()
            })
            .collect()
    }
}

fn filter_documentation(parameter: FilterParameter) -> (String, Object) {
    let id = |description: &str| {
        (
            description.to_string(),
            ObjectBuilder::new()
                .schema_type(Type::Integer)
                .minimum(Some(1))
                .build(),
        )
    };
    let text = |description: String, pattern: Option<&str>| {
        (
            description,
            ObjectBuilder::new()
                .schema_type(Type::String)
                .pattern(pattern)
                .build(),
        )
    };
    let codes = |description: &str, codes: Vec<&'static str>| {
        (description.to_string(), codes_schema(codes).build())
    };
    match parameter {
        FilterParameter::View => codes(
            "all, open (open, in progress, blocked) or closed (done, cancelled)",
            TicketView::ALL.map(TicketView::code).to_vec(),
        ),
        FilterParameter::Status => codes("a status", Status::ALL.map(Status::code).to_vec()),
        FilterParameter::Type => codes(
            "a request type",
            RequestType::ALL.map(RequestType::code).to_vec(),
        ),
        FilterParameter::Priority => {
            codes("a priority", Priority::ALL.map(Priority::code).to_vec())
        }
        FilterParameter::Telescope => id("a telescope id"),
        FilterParameter::Organization => id("staff: an organization id"),
        FilterParameter::Assignee => text(
            "staff: an agent id, or none".into(),
            Some("^(none|[1-9][0-9]*)$"),
        ),
        FilterParameter::Mine => codes(
            "1: assigned to me (staff) or opened by me (clients)",
            vec!["1", "0", "true", "false", "on", "off"],
        ),
        FilterParameter::Resolution => codes(
            "done requests: awaiting the client's confirmation, or closed accepted, automatically, or without the client's answer",
            ResolutionFilter::ALL.map(ResolutionFilter::code).to_vec(),
        ),
        FilterParameter::Sort => codes(
            "the order: latest activity, newest, highest priority",
            TicketSort::ALL.map(TicketSort::code).to_vec(),
        ),
        FilterParameter::Query => text(
            format!("keywords: every word must match, accent- and case-insensitive, ranked; a word ending in * matches the words it begins; cut to {QUERY_MAX_CHARS} characters"),
            None,
        ),
        FilterParameter::After => text(
            "the `next` cursor of the previous page".into(),
            Some("^[a-z]-?[0-9]+(\\.-?[0-9]+)*$"),
        ),
    }
}

/// List, filter and search tickets
///
/// An empty value means "any". An unknown parameter, a value a parameter does not take, or a
/// parameter given twice is refused with 400 rather than ignored.
#[utoipa::path(
    get,
    path = "/api/v1/tickets",
    tag = "tickets",
    params(ListFilters),
    responses(
        (status = 200, description = "A page of tickets", body = ApiTicketPage),
        (status = 400, description = "An unknown filter, or a value it does not take (unknown_filter, invalid_filter, repeated_filter)", body = ErrorBody),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
    )
)]
async fn list(
    State(state): State<AppState>,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Result<Json<ApiTicketPage>, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
    let query = query.unwrap_or_default();
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let filter = TicketFilter::parse_strict(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .map_err(|e| ApiError::bad_filter(e, lang))?;
    let page = tickets::list(&state.db, &viewer, &filter)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    Ok(Json(ApiTicketPage::from(page)))
}

/// A new ticket.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewTicket)]
#[serde(deny_unknown_fields)]
struct OpenBody {
    #[schema(schema_with = request_type_schema)]
    request_type: String,
    #[schema(schema_with = priority_schema)]
    priority: i64,
    /// Optional: the comment's first line.
    #[serde(default)]
    #[schema(max_length = 200)]
    subject: String,
    comment: String,
    telescope_id: Option<i64>,
    /// Staff: the client organization.
    organization_id: Option<i64>,
}

/// Open a ticket
#[utoipa::path(
    post,
    path = "/api/v1/tickets",
    tag = "tickets",
    request_body = OpenBody,
    responses(
        WriteFailures,
        (status = 201, description = "Opened; `Location` names it", body = ApiTicket),
        (status = 404, description = "An organization or telescope that is not yours to see", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    )
)]
async fn open(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Result<Json<OpenBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
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
        // Programs attach files with `POST …/attachments` once the ticket exists.
        attachments: &[],
    };
    let opened = tickets::open_ticket(&state.db, &state.events, &state.config, &viewer, new)
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

/// A ticket with its timeline
#[utoipa::path(
    get,
    path = "/api/v1/tickets/{number}",
    tag = "tickets",
    params(("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042")),
    responses(
        (status = 200, description = "The ticket", body = ApiTicket),
        (status = 401, description = "No valid API key or session", body = ErrorBody),
        (status = 404, description = "Unknown, or not yours to see", body = ErrorBody),
    )
)]
async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Json<ApiTicket>, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
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

/// A message, or (staff) an internal note.
#[derive(Deserialize, ToSchema)]
#[schema(as = NewMessage)]
#[serde(deny_unknown_fields)]
struct MessageBody {
    body: String,
    /// Staff only: a note clients never see.
    #[serde(default)]
    internal: bool,
}

/// Add a message (staff: or an internal note)
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/messages",
    tag = "tickets",
    params(("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042")),
    request_body = MessageBody,
    responses(
        WriteFailures,
        (status = 201, description = "Added; the ticket as it is now", body = ApiTicket),
        (status = 404, description = "Unknown, or not yours to see", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    )
)]
async fn add_message(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Result<Json<MessageBody>, JsonRejection>,
) -> Result<Response, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
    let Json(body) = body.map_err(|r| ApiError::bad_body(r, lang))?;
    tickets::add_message(
        &state.db,
        &state.events,
        &state.config,
        &viewer,
        &number,
        &body.body,
        body.internal,
        &[],
    )
    .await
    .map_err(|e| ApiError::from_service(e, lang))?;
    let ticket = current(&state, &viewer, &number, lang).await?;
    Ok((StatusCode::CREATED, ticket).into_response())
}

/// A new status.
#[derive(Deserialize, ToSchema)]
#[schema(as = StatusChange)]
#[serde(deny_unknown_fields)]
struct StatusBody {
    #[schema(schema_with = status_schema)]
    status: String,
    /// Required for blocked.
    #[serde(default)]
    reason: String,
    /// Staff, with blocked: the request waits for its client, who is reminded and, without an
    /// answer, the request closes.
    #[serde(default)]
    waiting_for_client: bool,
}

/// Change the status
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/status",
    tag = "tickets",
    params(("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042")),
    request_body = StatusBody,
    responses(
        WriteFailures,
        (status = 200, description = "Changed; the ticket as it is now", body = ApiTicket),
        (status = 404, description = "Unknown, or not yours to see", body = ErrorBody),
        (status = 409, description = "Changed by someone else meanwhile", body = ErrorBody),
        (status = 422, description = "Invalid input, or a change the status does not allow", body = ErrorBody),
    )
)]
async fn change_status(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Result<Json<StatusBody>, JsonRejection>,
) -> Result<Json<ApiTicket>, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
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
        body.waiting_for_client,
    )
    .await
    .map_err(|e| ApiError::from_service(e, lang))?;
    current(&state, &viewer, &number, lang).await
}

/// Accept the resolution
///
/// The client accepts the resolution of their done request, which closes it (`resolution`
/// becomes `accepted`); what the portal's "Accept the resolution" button does.
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/accept",
    tag = "tickets",
    params(("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042")),
    responses(
        WriteFailures,
        (status = 200, description = "Accepted; the ticket as it is now", body = ApiTicket),
        (status = 404, description = "Unknown, or not yours to see", body = ErrorBody),
        (status = 422, description = "Not a done request awaiting confirmation", body = ErrorBody),
    )
)]
async fn accept(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
) -> Result<Json<ApiTicket>, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
    tickets::accept_resolution(&state.db, &state.events, &viewer, &number)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    current(&state, &viewer, &number, lang).await
}

/// A new assignee.
#[derive(Deserialize, ToSchema)]
#[schema(as = AssigneeChange)]
#[serde(deny_unknown_fields)]
struct AssigneeBody {
    /// An agent's id, or null for nobody.
    #[schema(required)]
    assignee_id: Option<i64>,
}

/// Assign the ticket (staff)
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/assignee",
    tag = "tickets",
    params(("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042")),
    request_body = AssigneeBody,
    responses(
        WriteFailures,
        (status = 200, description = "Assigned; the ticket as it is now", body = ApiTicket),
        (status = 404, description = "Unknown, or not yours to see", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    )
)]
async fn assign(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Result<Json<AssigneeBody>, JsonRejection>,
) -> Result<Json<ApiTicket>, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
    let Json(body) = body.map_err(|r| ApiError::bad_body(r, lang))?;
    tickets::assign(
        &state.db,
        &state.events,
        &viewer,
        &number,
        body.assignee_id,
        None,
    )
    .await
    .map_err(|e| ApiError::from_service(e, lang))?;
    current(&state, &viewer, &number, lang).await
}

/// A new priority.
#[derive(Deserialize, ToSchema)]
#[schema(as = PriorityChange)]
#[serde(deny_unknown_fields)]
struct PriorityBody {
    #[schema(schema_with = priority_schema)]
    priority: i64,
}

/// Change the priority (staff)
#[utoipa::path(
    post,
    path = "/api/v1/tickets/{number}/priority",
    tag = "tickets",
    params(("number" = String, Path, description = "The ticket's number", example = "OBS-2026-00042")),
    request_body = PriorityBody,
    responses(
        WriteFailures,
        (status = 200, description = "Changed; the ticket as it is now", body = ApiTicket),
        (status = 404, description = "Unknown, or not yours to see", body = ErrorBody),
        (status = 422, description = "Invalid input", body = ErrorBody),
    )
)]
async fn change_priority(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(number): Path<String>,
    body: Result<Json<PriorityBody>, JsonRejection>,
) -> Result<Json<ApiTicket>, ApiError> {
    let Caller { viewer, lang, .. } = caller(&state, &headers).await?;
    let Json(body) = body.map_err(|r| ApiError::bad_body(r, lang))?;
    let priority = Priority::from_value(body.priority).ok_or_else(|| {
        ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Msg::ErrorInvalidChoice,
            lang,
        )
    })?;
    tickets::change_priority(&state.db, &state.events, &viewer, &number, priority, None)
        .await
        .map_err(|e| ApiError::from_service(e, lang))?;
    current(&state, &viewer, &number, lang).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_the_stable_names_clients_rely_on() {
        for (message, code) in [
            (Msg::ErrorCommentRequired, "comment_required"),
            (Msg::ErrorNotFound, "not_found"),
            (Msg::ErrorTicketChanged, "ticket_changed"),
            (Msg::ErrorSignInRequired, "sign_in_required"),
            (Msg::ErrorInvalidBody, "invalid_body"),
            (Msg::ErrorInvalidChoice, "invalid_choice"),
            (Msg::ErrorBlockedReasonRequired, "blocked_reason_required"),
            (Msg::ErrorFilterInvalid, "invalid_filter"),
            (Msg::ErrorFilterUnknown, "unknown_filter"),
            (Msg::ErrorBodyTooLarge, "body_too_large"),
            (Msg::ErrorInternal, "internal"),
        ] {
            assert_eq!(code_of(message), code, "{message:?}");
        }
    }

    #[test]
    fn every_error_message_has_its_own_code() {
        let mut seen = HashSet::new();
        for message in Msg::ALL {
            let code = error_code(*message);
            // The catalogue names its errors `Error…`: each needs a code written out above.
            if message.name().starts_with("Error") {
                assert!(code.is_some(), "{message:?} has no API code");
            }
            if let Some(code) = code {
                assert!(seen.insert(code), "{code} is used twice");
                assert!(
                    code.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'),
                    "{code}"
                );
            }
        }
        assert!(!seen.contains(FALLBACK_CODE));
    }

    #[test]
    fn the_error_schema_lists_every_code() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let documented: HashSet<&str> = doc["components"]["schemas"]["Error"]["properties"]
            ["error"]["properties"]["code"]["enum"]
            .as_array()
            .map(|codes| codes.iter().filter_map(Value::as_str).collect())
            .unwrap_or_default();
        let expected: HashSet<&str> = error_codes().into_iter().collect();
        assert!(documented.contains("invalid_filter"), "{documented:?}");
        assert_eq!(documented, expected);
    }

    #[test]
    fn the_documented_filters_are_the_ones_the_list_reads() {
        let doc = serde_json::to_value(openapi()).unwrap();
        let parameters = doc["paths"]["/api/v1/tickets"]["get"]["parameters"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let names: Vec<&str> = parameters
            .iter()
            .filter_map(|p| p["name"].as_str())
            .collect();
        let expected: Vec<&str> = FilterParameter::ALL.iter().map(|p| p.name()).collect();
        assert_eq!(names, expected);
        for parameter in &parameters {
            let name = parameter["name"].as_str().unwrap_or_default();
            assert_eq!(parameter["in"], "query", "{name}");
            assert!(parameter["description"].is_string(), "{name}");
            // Every value the description offers is one the strict reading takes.
            for value in parameter["schema"]["enum"].as_array().into_iter().flatten() {
                let value = value.as_str().unwrap_or_default();
                assert!(
                    TicketFilter::parse_strict([(name, value)]).is_ok(),
                    "{name}={value}"
                );
            }
        }
    }

    #[test]
    fn the_description_is_openapi_3_1_with_the_bearer_key() {
        let doc = serde_json::to_value(openapi()).unwrap();
        assert_eq!(doc["openapi"], "3.1.0");
        assert_eq!(doc["info"]["title"], "Cúpula API");
        assert_eq!(
            doc["components"]["securitySchemes"]["apiKey"]["scheme"],
            "bearer"
        );
        assert_eq!(doc["security"], json!([{ "apiKey": [] }]));
        let status = &doc["components"]["schemas"]["StatusChange"]["properties"]["status"];
        assert_eq!(status["enum"], json!(Status::ALL.map(Status::code)));
    }
}
