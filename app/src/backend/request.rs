//! What a request tells about its sender: session, language and theme cookies, address.
//! Server functions and plain axum routes both go through these helpers.

use super::accounts::{self, ClientInfo, Viewer};
use super::client_ip;
use super::config::Config;
use super::drafts;
use super::error::ServiceError;
use super::state::AppState;
use super::storage::accounts::ObservatoryRow;
use super::time_zone;
use crate::error::UserError;
use crate::i18n::Lang;
use crate::model::{Branding, PortalContext, Theme};
use axum::extract::ConnectInfo;
use axum::http::header::{ACCEPT, ACCEPT_LANGUAGE, COOKIE, SET_COOKIE, USER_AGENT};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue};
use leptos::prelude::*;
use leptos_axum::ResponseOptions;
use std::net::SocketAddr;

pub const LANG_COOKIE: &str = "cupula_lang";
pub const THEME_COOKIE: &str = "cupula_theme";
/// A year: language and theme are preferences of the device, not secrets.
const PREFERENCE_MAX_AGE: u64 = 365 * 24 * 3600;

/// The session cookie's name; over HTTPS the `__Host-` prefix pins it to this exact host.
pub fn session_cookie_name(config: &Config) -> &'static str {
    if config.is_https() {
        "__Host-cupula_session"
    } else {
        "cupula_session"
    }
}

/// The value of a cookie of the request, if present.
pub fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.to_string())
}

fn cookie_header(config: &Config, name: &str, value: &str, max_age: u64) -> HeaderValue {
    let secure = if config.is_https() { "; Secure" } else { "" };
    HeaderValue::from_str(&format!(
        "{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}"
    ))
    .expect("cookie names and values are ASCII tokens")
}

pub fn session_cookie(config: &Config, token: &str) -> HeaderValue {
    cookie_header(
        config,
        session_cookie_name(config),
        token,
        config.session_absolute_timeout.as_secs(),
    )
}

pub fn expired_session_cookie(config: &Config) -> HeaderValue {
    cookie_header(config, session_cookie_name(config), "", 0)
}

pub fn language_cookie(config: &Config, lang: Lang) -> HeaderValue {
    cookie_header(config, LANG_COOKIE, lang.code(), PREFERENCE_MAX_AGE)
}

pub fn theme_cookie(config: &Config, theme: Theme) -> HeaderValue {
    cookie_header(config, THEME_COOKIE, theme.code(), PREFERENCE_MAX_AGE)
}

/// The language for this request: the cookie (set from the person's own setting at sign-in and
/// by the switcher), then `Accept-Language`, then Spanish.
pub fn language_of(headers: &HeaderMap) -> Lang {
    cookie(headers, LANG_COOKIE)
        .and_then(|c| Lang::from_code(&c))
        .or_else(|| {
            headers
                .get(ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::negotiate)
        })
        .unwrap_or_default()
}

pub fn theme_of(headers: &HeaderMap) -> Theme {
    cookie(headers, THEME_COOKIE)
        .and_then(|c| Theme::from_code(&c))
        .unwrap_or_default()
}

/// The user agent and the client's address: the TCP peer, or what a configured trusted proxy
/// says (`client_ip`).
pub fn client_info(parts: &Parts, config: &Config) -> ClientInfo {
    ClientInfo {
        user_agent: parts
            .headers
            .get(USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string(),
        ip: parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|ConnectInfo(addr)| {
                client_ip::client_ip(addr.ip(), &parts.headers, &config.trusted_proxies).to_string()
            })
            .unwrap_or_default(),
    }
}

/// A file of a plain form post that was refused before the form reached its server function
/// (the server's `form_files` stages them): the function answers with this instead.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefusedFormFile(pub crate::i18n::Msg);

/// The refusal of a file this form post carried, if any.
pub fn refused_form_file(parts: &Parts) -> Option<UserError> {
    parts
        .extensions
        .get::<RefusedFormFile>()
        .map(|RefusedFormFile(msg)| UserError::new(*msg))
}

/// Whether the request is a plain HTML form post (no JavaScript yet), which expects a redirect.
pub fn is_plain_form_post(parts: &Parts) -> bool {
    parts
        .headers
        .get(ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/html"))
}

/// Resolves the session cookie of these headers.
pub async fn viewer_from_headers(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<Viewer>, UserError> {
    let Some(token) = cookie(headers, session_cookie_name(&state.config)) else {
        return Ok(None);
    };
    accounts::authenticate(&state.db, &state.config, &token)
        .await
        .map_err(internal)
}

/// The observatory this request is served for (the default one until portals have their own
/// addresses).
pub async fn observatory(state: &AppState) -> Result<ObservatoryRow, UserError> {
    state
        .db
        .default_observatory()
        .await
        .map_err(internal)?
        .ok_or(UserError::new(crate::i18n::Msg::ErrorNotSetUp))
}

/// The signed-in person of a page request, resolved once with its `PortalContext` (the
/// server's router attaches both): the server functions its page calls while rendering read
/// it instead of looking the session up again.
#[derive(Debug, Clone)]
pub struct PageViewer(pub Option<Viewer>);

/// The branding of the observatory and the signed-in person, resolved once per page request
/// before rendering (the server's router attaches it to the request).
pub async fn portal_context(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<(PortalContext, PageViewer), UserError> {
    let observatory = observatory(state).await?;
    let viewer = viewer_from_headers(state, headers)
        .await?
        .filter(|v| v.observatory_id == observatory.id);
    let zone = match &viewer {
        Some(viewer) => viewer.zone(),
        None => time_zone::for_person(None, &observatory.time_zone),
    };
    let portal = PortalContext {
        branding: Branding {
            name: observatory.name,
            logo_url: observatory
                .logo_file
                .map(|file| format!("/branding/logo/{file}")),
            primary_color: observatory.primary_color,
            accent_color: observatory.accent_color,
        },
        user: viewer.as_ref().map(|v| v.session_user()),
        max_file_bytes: state.config.max_file_bytes,
        zone,
    };
    Ok((portal, PageViewer(viewer)))
}

/// The person-facing form of a service error; internals are logged, never shown.
pub fn service_error(err: ServiceError) -> UserError {
    match err {
        ServiceError::User(msg) => UserError::new(msg),
        ServiceError::Store(e) => internal(e),
        ServiceError::Io(e) => internal(e),
    }
}

/// For plain form posts (no JavaScript yet): sends the browser back to `path` (which may carry
/// a query of its own, such as a link's token) with the error's name in the address. What was
/// `typed` never goes into an address, which the browser's history, proxies and logs keep: it
/// waits on the server as a draft for that page, named by a short-lived cookie and kept for the
/// session `session_id` (`None` on forms for the signed-out). See `backend::drafts`.
pub async fn redirect_back_with_error(
    path: &str,
    error: &UserError,
    session_id: Option<i64>,
    typed: &[(&str, &str)],
) {
    if let (Ok(state), Ok(parts)) = (app_state(), request_parts()) {
        let page = path.split('?').next().unwrap_or(path);
        let held = cookie(&parts.headers, form_draft_cookie_name(&state.config));
        match drafts::keep(&state.db, session_id, page, typed, held.as_deref()).await {
            Ok(Some(token)) => set_cookie(form_draft_cookie(&state.config, &token)),
            Ok(None) => {}
            // The page still shows the error; only what was typed is lost.
            Err(err) => {
                internal(err);
            }
        }
    }
    let separator = if path.contains('?') { '&' } else { '?' };
    leptos_axum::redirect(&format!("{path}{separator}error={}", error.message.name()));
}

/// Logs an internal failure and turns it into the generic message a person may see.
pub fn internal(err: impl std::fmt::Display) -> UserError {
    tracing::error!(error = %err, "request failed");
    UserError::internal()
}

// ---- Inside server functions: the request and response of the current call. ----

/// The signed-in person of the current call, or the message that asks them to sign in.
pub async fn require_viewer() -> Result<Viewer, UserError> {
    current_viewer()
        .await?
        .ok_or(UserError::new(crate::i18n::Msg::ErrorSignInRequired))
}

pub fn app_state() -> Result<AppState, UserError> {
    use_context::<AppState>().ok_or_else(|| internal("AppState missing from the context"))
}

pub fn request_parts() -> Result<Parts, UserError> {
    use_context::<Parts>().ok_or_else(|| internal("request parts missing from the context"))
}

pub fn set_cookie(value: HeaderValue) {
    if let Some(response) = use_context::<ResponseOptions>() {
        response.append_header(SET_COOKIE, value);
    }
}

/// The signed-in person of the current server-function call, if any: the page's, when the call
/// is made while a page renders.
pub async fn current_viewer() -> Result<Option<Viewer>, UserError> {
    let parts = request_parts()?;
    if let Some(PageViewer(viewer)) = parts.extensions.get::<PageViewer>() {
        return Ok(viewer.clone());
    }
    let state = app_state()?;
    viewer_from_headers(&state, &parts.headers).await
}

// ---- Drafts of forms posted without JavaScript (`backend::drafts`). ----

/// The draft cookie's name; over HTTPS the `__Host-` prefix pins it to this exact host.
fn form_draft_cookie_name(config: &Config) -> &'static str {
    if config.is_https() {
        "__Host-cupula_draft"
    } else {
        "cupula_draft"
    }
}

fn form_draft_cookie(config: &Config, token: &str) -> HeaderValue {
    cookie_header(
        config,
        form_draft_cookie_name(config),
        token,
        drafts::DRAFT_LIFETIME.as_secs(),
    )
}

pub fn expired_form_draft_cookie(config: &Config) -> HeaderValue {
    cookie_header(config, form_draft_cookie_name(config), "", 0)
}

/// Before a page renders: takes the draft that the request's cookie names for this page and
/// attaches it to the request, where the page finds it (`ui::form_draft`). True when one was
/// taken: the response then clears the cookie.
pub async fn take_form_draft(state: &AppState, request: &mut axum::extract::Request) -> bool {
    let Some(token) = cookie(request.headers(), form_draft_cookie_name(&state.config)) else {
        return false;
    };
    let session = cookie(request.headers(), session_cookie_name(&state.config));
    match drafts::take(&state.db, &token, session.as_deref(), request.uri().path()).await {
        Ok(Some(draft)) => {
            request.extensions_mut().insert(draft);
            true
        }
        Ok(None) => false,
        Err(err) => {
            internal(err);
            false
        }
    }
}
