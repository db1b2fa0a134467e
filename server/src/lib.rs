//! The Cúpula server: builds the state, the axum router around the Leptos app, and serves it.

pub mod bench;
mod form_files;
pub mod limits;
pub mod rest;
mod voice_stream;

use app::backend::config::Config;
use app::backend::error::ServiceError;
use app::backend::files::FileStore;
use app::backend::storage::Db;
use app::backend::AppState;
use app::backend::{attachments, logo, presence, previews, request, voice, voice_live};
use app::i18n::Msg;
use app::{shell, App, SITE_OUTPUT_NAME};
use axum::extract::{DefaultBodyLimit, Multipart, Path as AxumPath};
use axum::extract::{Request, State};
use axum::http::HeaderMap;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::Redirect;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use leptos::config::LeptosOptions;
use leptos_axum::{generate_route_list, AxumRouteListing, LeptosRoutes};
use std::future::Future;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};
use tokio::net::TcpListener;
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;

/// Why the server could not start, told in one line.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    #[error("cannot use the data directory {path}: {reason}")]
    DataDir { path: String, reason: String },
    #[error("cannot open the database {url}: {reason}")]
    Database { url: String, reason: String },
    #[error("cannot prepare the database: {0}")]
    Migration(String),
    #[error("cannot use the bucket {bucket} for files: {reason}")]
    FileStore { bucket: String, reason: String },
    #[error("cannot listen on {addr}: {reason}")]
    Listen { addr: SocketAddr, reason: String },
}

/// Creates the data directory if needed and checks that it is writable.
pub fn prepare_data_dir(dir: &Path) -> Result<(), StartError> {
    let fail = |e: std::io::Error| StartError::DataDir {
        path: dir.display().to_string(),
        reason: e.to_string(),
    };
    std::fs::create_dir_all(dir).map_err(fail)?;
    let probe = dir.join(".write-test");
    std::fs::write(&probe, b"").map_err(fail)?;
    std::fs::remove_file(&probe).map_err(fail)?;
    Ok(())
}

/// Opens the database named by the configuration and applies pending migrations.
pub async fn open_database(config: &Config) -> Result<Db, StartError> {
    if config.database_url.starts_with("sqlite:") {
        prepare_data_dir(&config.data_dir)?;
    }
    let db = Db::connect(&config.database_url)
        .await
        .map_err(|e| StartError::Database {
            url: redact_password(&config.database_url),
            reason: root_cause(&e),
        })?;
    db.migrate()
        .await
        .map_err(|e| StartError::Migration(root_cause(&e)))?;
    Ok(db)
}

/// The built site (wasm, JS, CSS, public assets): configured, or found next to the binary so the
/// portal runs from any working directory (`target/<profile>/cupula` beside `target/site`).
pub fn site_root(config: &Config) -> PathBuf {
    if let Some(root) = &config.site_root {
        return root.clone();
    }
    let exe_dir = std::env::current_exe()
        .ok()
        .and_then(|exe| exe.parent().map(Path::to_path_buf))
        .unwrap_or_default();
    [exe_dir.join("site"), exe_dir.join("../site")]
        .into_iter()
        .find(|candidate| candidate.join("pkg").is_dir())
        .and_then(|found| found.canonicalize().ok())
        .unwrap_or_else(|| PathBuf::from("target/site"))
}

pub fn leptos_options(config: &Config) -> LeptosOptions {
    LeptosOptions::builder()
        .output_name(SITE_OUTPUT_NAME)
        .site_root(site_root(config).display().to_string())
        .site_pkg_dir("pkg")
        .site_addr(config.listen)
        .build()
}

/// The portal's state; prepares the file store (the data directory's, or the bucket's client).
pub fn state(config: Config, db: Db) -> Result<AppState, StartError> {
    let files = FileStore::from_config(&config).map_err(|e| match &config.s3 {
        Some(s3) => StartError::FileStore {
            bucket: s3.bucket.clone(),
            reason: e.to_string(),
        },
        None => StartError::DataDir {
            path: config.data_dir.display().to_string(),
            reason: e.to_string(),
        },
    })?;
    Ok(AppState {
        files,
        leptos_options: leptos_options(&config),
        db,
        config: Arc::new(config),
        events: app::backend::events::EventBus::new(),
    })
}

/// How often expired uploads and files nobody attached are cleaned up.
const HOUSEKEEPING_EVERY: std::time::Duration = std::time::Duration::from_secs(10 * 60);

/// Cleans up in the background while the portal runs: partial uploads past their expiry,
/// staged files never attached, and files that no row names (left by a crash mid-upload,
/// older than an hour so that no upload in flight is touched); then makes the previews a
/// crash or a full queue left unmade, schedules the transcriptions left pending, forgets
/// ticket pages that stopped reporting their presence, and removes what is past its retention
/// (`retention`). The first round runs at start-up.
pub fn spawn_housekeeping(state: &AppState) -> tokio::task::JoinHandle<()> {
    let (db, files, config) = (state.db.clone(), state.files.clone(), state.config.clone());
    tokio::spawn(async move {
        let mut ticks = tokio::time::interval(HOUSEKEEPING_EVERY);
        loop {
            ticks.tick().await;
            let now = chrono::Utc::now();
            match attachments::purge_expired(&db, &files, now).await {
                Ok(purged) if purged.uploads + purged.staged > 0 => {
                    tracing::info!(
                        uploads = purged.uploads,
                        staged = purged.staged,
                        "expired uploads removed"
                    );
                }
                Ok(_) => {}
                Err(err) => tracing::warn!(error = %err, "cleaning up expired uploads failed"),
            }
            match attachments::remove_orphans(&db, &files, now - chrono::Duration::hours(1)).await {
                Ok(0) => {}
                Ok(removed) => {
                    tracing::info!(removed, "files no upload or attachment names removed")
                }
                Err(err) => tracing::warn!(error = %err, "cleaning up orphan files failed"),
            }
            if let Err(err) = previews::make_missing(&db, &files).await {
                tracing::warn!(error = %err, "making missing previews failed");
            }
            match voice_live::purge_stale(&db).await {
                Ok(0) => {}
                Ok(removed) => tracing::info!(removed, "unsent voice recordings removed"),
                Err(err) => tracing::warn!(error = %err, "cleaning up unsent recordings failed"),
            }
            if let Err(err) = voice::transcribe_pending(&db, &files, &config).await {
                tracing::warn!(error = %err, "scheduling pending transcriptions failed");
            }
            if let Err(err) = presence::purge(&db).await {
                tracing::warn!(error = %err, "forgetting closed ticket pages failed");
            }
            match app::backend::retention::purge(&db, &config, now).await {
                Ok(purged) if purged.total() > 0 => tracing::info!(
                    sessions = purged.sessions,
                    sign_in_failures = purged.sign_in_failures,
                    links = purged.links,
                    mail_bodies = purged.mail_bodies,
                    events = purged.events,
                    "records past their retention removed"
                ),
                Ok(_) => {}
                Err(err) => {
                    tracing::warn!(error = %err, "removing records past their retention failed")
                }
            }
        }
    })
}

/// Hands the tickets' events to the live pages and event streams of this process as they
/// commit (`EventBus::spawn_reader`), those of other processes on the same PostgreSQL too.
pub async fn spawn_event_reader(state: &AppState) -> Result<tokio::task::JoinHandle<()>, String> {
    state
        .events
        .spawn_reader(state.db.clone())
        .await
        .map_err(|e| format!("the ticket events cannot be followed: {e}"))
}

/// Sends the outbox in the background while the portal runs (`mailer::run`): through the
/// configured mail server, or as `.eml` files under the data dir.
pub fn spawn_mailer(state: &AppState) -> Result<tokio::task::JoinHandle<()>, String> {
    let mailer =
        app::backend::mailer::Mailer::from_config(&state.config).map_err(|e| e.to_string())?;
    let key = state
        .config
        .secret_key
        .clone()
        .ok_or("the secret key is needed to send e-mailed links")?;
    Ok(tokio::spawn(app::backend::mailer::run(
        state.db.clone(),
        state.config.clone(),
        state.events.clone(),
        key,
        mailer,
    )))
}

/// Listens for replies by e-mail when `CUPULA_INBOUND_SMTP_LISTEN` is set
/// (`inbound::smtp`); an address that cannot be taken stops the start, said plainly.
pub async fn spawn_reply_listener(
    state: &AppState,
) -> Result<Option<tokio::task::JoinHandle<()>>, String> {
    let Some(addr) = state.config.inbound_smtp_listen else {
        return Ok(None);
    };
    let key = state
        .config
        .secret_key
        .clone()
        .ok_or("the secret key is needed to check reply addresses")?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
        format!("cannot listen for replies by e-mail on {addr} (CUPULA_INBOUND_SMTP_LISTEN): {e}")
    })?;
    tracing::info!(%addr, "listening for replies by e-mail (SMTP)");
    let inbound = app::backend::inbound::Inbound {
        db: state.db.clone(),
        events: state.events.clone(),
        config: state.config.clone(),
        files: state.files.clone(),
        key,
    };
    Ok(Some(tokio::spawn(app::backend::inbound::smtp::serve(
        listener, inbound,
    ))))
}

/// The app's routes, discovered once per process. Discovery renders the app with resource
/// loading switched off process-wide, so it must never overlap a real render (which a second
/// `router()` in the same process, as in the tests, would otherwise risk).
fn route_list() -> Vec<AxumRouteListing> {
    static ROUTES: OnceLock<Vec<AxumRouteListing>> = OnceLock::new();
    ROUTES.get_or_init(|| generate_route_list(App)).clone()
}

/// Every route of the portal with its protections.
pub fn router(state: AppState) -> Router {
    let routes = route_list();
    let options = state.leptos_options.clone();
    Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route(
            "/admin/branding/logo",
            post(upload_logo).layer(DefaultBodyLimit::max(
                logo::MAX_UPLOAD_BYTES + limits::MULTIPART_OVERHEAD,
            )),
        )
        .route("/branding/logo/{name}", get(serve_logo))
        .route("/voice/stream", get(voice_stream::voice_stream))
        .merge(rest::routes())
        .leptos_routes_with_context(&state, routes, || {}, move || shell(options.clone()))
        .fallback(leptos_axum::file_and_error_handler::<AppState, _>(shell))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            form_files::stage_form_files,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            attach_portal_context,
        ))
        .layer(middleware::from_fn(server_fn_error_status))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            limits::limit_requests,
        ))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            refuse_cross_site_writes,
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::X_FRAME_OPTIONS,
            HeaderValue::from_static("DENY"),
        ))
        .layer(SetResponseHeaderLayer::overriding(
            header::REFERRER_POLICY,
            HeaderValue::from_static("same-origin"),
        ))
        .layer(SetResponseHeaderLayer::if_not_present(
            header::HeaderName::from_static("permissions-policy"),
            // The microphone is for voice comments; nothing else is wanted.
            HeaderValue::from_static("camera=(), geolocation=(), microphone=(self), payment=()"),
        ))
        .layer(TraceLayer::new_for_http())
        .with_state(state)
}

/// The largest error answer of a server function read to set its status (they are a few dozen
/// bytes: a message name and a field).
const SERVER_FN_ERROR_MAX_BYTES: usize = 4096;

/// Server functions answer every error with 500; this gives each the status its message means
/// (`UserError::http_status`: 401 signed out, 404 not found, 422 refused input…), so that only
/// the server's own failures read as server errors. The body stays as it was.
async fn server_fn_error_status(request: Request, next: Next) -> Response {
    let is_server_fn =
        request.uri().path().starts_with("/api/") && !request.uri().path().starts_with("/api/v1/");
    let response = next.run(request).await;
    if !is_server_fn || response.status() != StatusCode::INTERNAL_SERVER_ERROR {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, SERVER_FN_ERROR_MAX_BYTES).await else {
        parts.status = StatusCode::INTERNAL_SERVER_ERROR;
        return Response::from_parts(parts, axum::body::Body::empty());
    };
    if let Ok(error) = serde_json::from_slice::<app::error::UserError>(&bytes) {
        parts.status =
            StatusCode::from_u16(error.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    }
    Response::from_parts(parts, axum::body::Body::from(bytes))
}

/// Listens on the configured address (port 0 picks a free port).
pub async fn bind(addr: SocketAddr) -> Result<TcpListener, StartError> {
    TcpListener::bind(addr)
        .await
        .map_err(|e| StartError::Listen {
            addr,
            reason: e.to_string(),
        })
}

/// Serves until `shutdown` completes, then finishes the requests in flight.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(
        listener,
        router.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .with_graceful_shutdown(shutdown)
    .await
}

/// Completes on Ctrl-C or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}

/// The process is up.
async fn healthz() -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "ok" }))
}

/// The database answers.
async fn readyz(State(state): State<AppState>) -> Response {
    match state.db.ping().await {
        Ok(()) => Json(serde_json::json!({ "status": "ready" })).into_response(),
        Err(err) => {
            tracing::warn!(error = %err, "readiness check failed");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(serde_json::json!({ "status": "unavailable" })),
            )
                .into_response()
        }
    }
}

/// Resolves the branding and the signed-in person (and a form's draft, `backend::drafts`) before
/// a page renders, so the whole page (header, redirects, the data handed to the browser) reads
/// them without waiting.
/// Asset, API and health requests skip the work.
async fn attach_portal_context(
    State(state): State<AppState>,
    mut request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    let is_page = request.method() == Method::GET
        && !path.starts_with("/pkg/")
        && !path.starts_with("/api/")
        && !matches!(path, "/healthz" | "/readyz" | "/voice/stream")
        && Path::new(path).extension().is_none_or(|ext| ext == "html");
    if is_page {
        match request::portal_context(&state, request.headers()).await {
            Ok((portal, viewer)) => {
                request.extensions_mut().insert(portal);
                request.extensions_mut().insert(viewer);
            }
            Err(error) => {
                // A catalogue message: "not set up yet" on a fresh installation, else internal.
                let lang = request::language_of(request.headers());
                return (
                    StatusCode::SERVICE_UNAVAILABLE,
                    [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                    error.message.text(lang),
                )
                    .into_response();
            }
        }
        // What a form posted without JavaScript typed, for the page it came back to.
        if request::take_form_draft(&state, &mut request).await {
            let mut response = next.run(request).await;
            response.headers_mut().append(
                header::SET_COOKIE,
                request::expired_form_draft_cookie(&state.config),
            );
            return response;
        }
    }
    next.run(request).await
}

/// CSRF protection for every state-changing request, server functions included: a browser says
/// where a request comes from (`Sec-Fetch-Site`, else `Origin`), and only this portal's own pages
/// may change anything. Requests without either header come from programs, which carry no
/// ambient cookies of a victim; one that carries the session cookie anyway is refused, since
/// only a browser holds that cookie and every current browser sends `Origin` on a POST.
async fn refuse_cross_site_writes(
    State(state): State<AppState>,
    request: Request,
    next: Next,
) -> Response {
    if matches!(
        *request.method(),
        Method::GET | Method::HEAD | Method::OPTIONS
    ) || !is_cross_site(&request, &state.config)
    {
        return next.run(request).await;
    }
    tracing::warn!(path = %request.uri().path(), "refused a cross-site request");
    let lang = request::language_of(request.headers());
    (
        StatusCode::FORBIDDEN,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Msg::ErrorCrossSite.text(lang),
    )
        .into_response()
}

fn is_cross_site(request: &Request, config: &Config) -> bool {
    let headers = request.headers();
    if let Some(site) = headers.get("sec-fetch-site") {
        return !matches!(site.to_str(), Ok("same-origin") | Ok("none"));
    }
    if headers.contains_key(header::ORIGIN) {
        return !is_own_page(headers, config);
    }
    request::cookie(headers, request::session_cookie_name(config)).is_some()
}

/// Whether the request's `Origin` is this portal: its configured address, or the host the
/// request was addressed to (the portal reached by another name). No `Origin`: no.
pub(crate) fn is_own_page(headers: &HeaderMap, config: &Config) -> bool {
    let Some(Ok(origin)) = headers.get(header::ORIGIN).map(|o| o.to_str()) else {
        return false;
    };
    if origin == config.origin() {
        return true;
    }
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
    let origin_host = origin.split_once("://").map(|(_, rest)| rest);
    host.is_some() && origin_host == host
}

fn redact_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The innermost message of an error chain: the part a person can act on.
fn root_cause(err: &dyn std::error::Error) -> String {
    let mut current = err;
    while let Some(source) = current.source() {
        current = source;
    }
    current.to_string()
}

/// Receives a new logo from the branding page (a plain multipart form, so it works without
/// JavaScript). The body is counted while it streams: past the limit the upload stops with 413
/// and nothing of it is kept.
async fn upload_logo(
    State(state): State<AppState>,
    headers: HeaderMap,
    mut multipart: Multipart,
) -> Response {
    let lang = request::language_of(&headers);
    let viewer = match request::viewer_from_headers(&state, &headers).await {
        Ok(Some(viewer)) => viewer,
        Ok(None) => return Redirect::to("/sign-in").into_response(),
        Err(_) => {
            return plain(
                StatusCode::SERVICE_UNAVAILABLE,
                Msg::ErrorInternal.text(lang),
            )
        }
    };
    if viewer.require_admin().is_err() {
        return plain(StatusCode::NOT_FOUND, Msg::ErrorNotFound.text(lang));
    }
    let too_large = || {
        plain(
            StatusCode::PAYLOAD_TOO_LARGE,
            Msg::ErrorLogoTooLarge.text(lang),
        )
    };
    let mut upload = Vec::new();
    loop {
        let field = match multipart.next_field().await {
            Ok(Some(field)) => field,
            Ok(None) => break,
            Err(_) => return back_to_branding(Some(Msg::ErrorLogoUnreadable)),
        };
        if field.name() != Some("logo") {
            continue;
        }
        let mut field = field;
        loop {
            match field.chunk().await {
                Ok(Some(chunk)) => {
                    if upload.len() + chunk.len() > logo::MAX_UPLOAD_BYTES {
                        return too_large();
                    }
                    upload.extend_from_slice(&chunk);
                }
                Ok(None) => break,
                Err(_) => return back_to_branding(Some(Msg::ErrorLogoUnreadable)),
            }
        }
    }
    if upload.is_empty() {
        return back_to_branding(Some(Msg::ErrorLogoMissing));
    }
    match logo::replace_logo(&state.db, &state.config.data_dir, &viewer, upload).await {
        Ok(()) => back_to_branding(None),
        Err(ServiceError::User(msg)) => back_to_branding(Some(msg)),
        Err(err) => {
            tracing::error!(error = %err, "storing a logo failed");
            back_to_branding(Some(Msg::ErrorInternal))
        }
    }
}

fn back_to_branding(error: Option<Msg>) -> Response {
    let target = match error {
        Some(msg) => format!("/admin/branding?error={}", msg.name()),
        None => "/admin/branding?logo=saved".to_string(),
    };
    Redirect::to(&target).into_response()
}

fn plain(status: StatusCode, text: &'static str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text,
    )
        .into_response()
}

/// Serves the current logo. Its name changes with every upload, so it can be cached for good.
async fn serve_logo(State(state): State<AppState>, AxumPath(name): AxumPath<String>) -> Response {
    let current = state
        .db
        .default_observatory()
        .await
        .ok()
        .flatten()
        .and_then(|o| o.logo_file);
    if current.as_deref() != Some(name.as_str()) {
        return StatusCode::NOT_FOUND.into_response();
    }
    match tokio::fs::read(logo::logo_dir(&state.config.data_dir).join(&name)).await {
        Ok(png) => (
            [
                (header::CONTENT_TYPE, "image/png"),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (
                    header::CONTENT_SECURITY_POLICY,
                    "default-src 'none'; sandbox",
                ),
            ],
            png,
        )
            .into_response(),
        Err(_) => StatusCode::NOT_FOUND.into_response(),
    }
}
