//! Server functions: the browser's calls into the server. Each one is glue: it finds the state and
//! the viewer and calls one service. Endpoints are pinned so URLs stay stable across builds.

use crate::error::UserError;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::backend::{accounts, request};
#[cfg(feature = "ssr")]
use crate::i18n::{Lang, Msg};
#[cfg(feature = "ssr")]
use crate::model::Theme;

/// Signs in with e-mail and password; sets the session and language cookies.
#[server(endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), UserError> {
    let state = request::app_state()?;
    let parts = request::request_parts()?;
    let observatory = state
        .db
        .default_observatory()
        .await
        .map_err(request::internal)?
        .ok_or_else(|| request::internal("no observatory in the database"))?;
    let result = accounts::sign_in(
        &state.db,
        &state.config,
        observatory.id,
        &email,
        &password,
        &request::client_info(&parts),
    )
    .await;
    let plain_form = request::is_plain_form_post(&parts);
    match result {
        Ok(signed_in) => {
            request::set_cookie(request::session_cookie(&state.config, &signed_in.token));
            request::set_cookie(request::language_cookie(&state.config, signed_in.language));
            if plain_form {
                leptos_axum::redirect("/");
            }
            Ok(())
        }
        Err(err) => {
            let error = match err {
                accounts::AccountError::User(msg) => UserError::new(msg),
                accounts::AccountError::Store(e) => request::internal(e),
            };
            if plain_form {
                // Without JavaScript the page is reloaded: carry the message and what was typed
                // (never the password) back to the form.
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("error", &error.message.name())
                    .append_pair("email", &email)
                    .finish();
                leptos_axum::redirect(&format!("/sign-in?{query}"));
            }
            Err(error)
        }
    }
}

/// Ends the current session on the server and clears the cookie.
#[server(endpoint = "sign_out")]
pub async fn sign_out() -> Result<(), UserError> {
    let state = request::app_state()?;
    let parts = request::request_parts()?;
    if let Some(viewer) = request::current_viewer().await? {
        accounts::sign_out(&state.db, &viewer)
            .await
            .map_err(request::internal)?;
    }
    request::set_cookie(request::expired_session_cookie(&state.config));
    if request::is_plain_form_post(&parts) {
        leptos_axum::redirect("/sign-in?signed_out=1");
    }
    Ok(())
}

/// Switches the interface language; remembered on the device and, when signed in, on the account.
#[server(endpoint = "set_language")]
pub async fn set_language(lang: String) -> Result<(), UserError> {
    let state = request::app_state()?;
    let lang = Lang::from_code(&lang).ok_or(UserError::new(Msg::ErrorNotFound))?;
    if let Some(viewer) = request::current_viewer().await? {
        accounts::set_language(&state.db, &viewer, lang)
            .await
            .map_err(request::internal)?;
    }
    request::set_cookie(request::language_cookie(&state.config, lang));
    Ok(())
}

/// Switches the colour theme of this device.
#[server(endpoint = "set_theme")]
pub async fn set_theme(theme: String) -> Result<(), UserError> {
    let state = request::app_state()?;
    let theme = Theme::from_code(&theme).ok_or(UserError::new(Msg::ErrorNotFound))?;
    request::set_cookie(request::theme_cookie(&state.config, theme));
    Ok(())
}
