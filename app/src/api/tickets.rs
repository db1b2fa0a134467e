//! Server functions of requests: lists, a ticket page and its actions, telescope histories, and
//! the API keys of "My account", presence on a ticket's page. Each one calls one service.
//!
//! The forms that change a ticket also work before the page's code has loaded: a plain form
//! post is answered with a redirect back to the page, carrying the error if there was one (and
//! keeping what was typed in a draft on the server, never in the address).

use crate::error::UserError;
use crate::model::{
    ApiTokenInfo, NewTicketChoices, PresentViewer, TelescopeHistory, TicketDetail, TicketPage,
    VoiceInfo,
};
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::backend::{api_tokens, inbound, presence, request, tickets, voice};
#[cfg(feature = "ssr")]
use crate::i18n::Msg;
#[cfg(feature = "ssr")]
use crate::model::{ApiKeyValidity, Composing, Priority, RequestType, Status, TicketFilter};

/// One page of the viewer's requests; `query` is the list page's query string (the filter).
#[server(endpoint = "tickets/list")]
pub async fn list_tickets(query: String) -> Result<TicketPage, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let pairs: Vec<(String, String)> = url::form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    let filter = TicketFilter::from_pairs(pairs.iter().map(|(k, v)| (k.as_str(), v.as_str())));
    tickets::list(&state.db, &viewer, &filter)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "tickets/get")]
pub async fn get_ticket(number: String) -> Result<TicketDetail, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    tickets::ticket(&state.db, &state.config, &viewer, &number)
        .await
        .map_err(request::service_error)
}

/// An open ticket page's report of itself (`backend::presence`): returns the others on the
/// page. `composing` is `reply` or `note` while the reader writes one; `leaving` when the
/// page closes.
#[server(endpoint = "tickets/presence")]
pub async fn report_presence(
    number: String,
    tab: String,
    composing: Option<String>,
    leaving: bool,
) -> Result<Vec<PresentViewer>, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    presence::report(
        &state.db,
        &viewer,
        &number,
        presence::Report {
            tab: &tab,
            composing: composing.as_deref().and_then(Composing::from_code),
            leaving,
        },
    )
    .await
    .map_err(request::service_error)
}

/// A voice entry's recording and transcript, for the page to follow a transcript being made.
#[server(endpoint = "tickets/voice")]
pub async fn get_voice_entry(number: String, entry_id: i64) -> Result<VoiceInfo, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    voice::voice_info(&state.db, &state.config, &viewer, &number, entry_id)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "tickets/choices")]
pub async fn ticket_choices() -> Result<NewTicketChoices, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    tickets::new_ticket_choices(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

/// Parses an optional id from a form field ("" for none).
#[cfg(feature = "ssr")]
fn optional_id(value: &Option<String>) -> Result<Option<i64>, UserError> {
    match value.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(id) => id
            .parse()
            .map(Some)
            .map_err(|_| UserError::new(Msg::ErrorInvalidChoice)),
    }
}

/// The staged attachment ids of a form's `attachments` field (comma-separated: one field
/// the uploader keeps up to date, which every form encoding carries the same way).
#[cfg(feature = "ssr")]
fn attachment_ids(field: &Option<String>) -> Vec<String> {
    field
        .as_deref()
        .unwrap_or_default()
        .split(',')
        .map(str::trim)
        .filter(|id| !id.is_empty())
        .map(str::to_string)
        .collect()
}

/// The recording a form sends (its key, from the page's recorder) and its text.
#[cfg(feature = "ssr")]
fn voice_sent<'a>(
    recording: &'a Option<String>,
    text: &'a Option<String>,
) -> Option<tickets::VoiceSent<'a>> {
    let recording = recording
        .as_deref()
        .map(str::trim)
        .filter(|k| !k.is_empty())?;
    Some(tickets::VoiceSent {
        recording,
        text: text.as_deref(),
    })
}

/// The new-request form: one argument per field, so more than lints like.
mod opening {
    #![allow(clippy::too_many_arguments)]
    use super::*;

    /// Opens a request; returns its number.
    #[server(endpoint = "tickets/open")]
    pub async fn open_ticket(
        request_type: String,
        priority: String,
        subject: String,
        comment: String,
        telescope_id: Option<String>,
        organization_id: Option<String>,
        attachments: Option<String>,
        voice_recording: Option<String>,
        voice_text: Option<String>,
    ) -> Result<String, UserError> {
        let state = request::app_state()?;
        let parts = request::request_parts()?;
        let viewer = request::require_viewer().await?;
        let result = async {
            if let Some(refused) = request::refused_form_file(&parts) {
                return Err(refused);
            }
            let new = tickets::NewTicket {
                organization_id: optional_id(&organization_id)?,
                request_type: RequestType::from_code(&request_type)
                    .ok_or(UserError::new(Msg::ErrorInvalidChoice))?,
                telescope_id: optional_id(&telescope_id)?,
                priority: Priority::from_code(&priority)
                    .ok_or(UserError::new(Msg::ErrorInvalidChoice))?,
                subject: &subject,
                comment: &comment,
                attachments: &attachment_ids(&attachments),
            };
            let voice = voice_sent(&voice_recording, &voice_text);
            tickets::open_ticket_with_voice(
                &state.db,
                &state.events,
                &state.config,
                &viewer,
                new,
                voice,
            )
            .await
            .map(|opened| opened.number)
            .map_err(request::service_error)
        }
        .await;
        if request::is_plain_form_post(&parts) {
            match &result {
                Ok(number) => leptos_axum::redirect(&format!("/tickets/{number}?created=1")),
                Err(error) => {
                    request::redirect_back_with_error(
                        "/tickets/new",
                        error,
                        Some(viewer.session_id),
                        &[
                            ("request_type", &request_type),
                            ("priority", &priority),
                            ("subject", &subject),
                            ("comment", &comment),
                            ("telescope_id", telescope_id.as_deref().unwrap_or_default()),
                            (
                                "organization_id",
                                organization_id.as_deref().unwrap_or_default(),
                            ),
                        ],
                    )
                    .await
                }
            }
        }
        result
    }
}
pub use opening::*;

/// Answers a plain form post (no JavaScript yet) with a redirect back to the ticket's page,
/// keeping what was `typed` for it, for the poster's session, when the change failed.
#[cfg(feature = "ssr")]
async fn back_to_ticket(
    session_id: i64,
    number: &str,
    result: &Result<(), UserError>,
    typed: &[(&str, &str)],
) {
    let Ok(parts) = request::request_parts() else {
        return;
    };
    if !request::is_plain_form_post(&parts) {
        return;
    }
    let path = format!("/tickets/{}", urlencoding_path(number));
    match result {
        Ok(()) => leptos_axum::redirect(&path),
        Err(error) => {
            request::redirect_back_with_error(&path, error, Some(session_id), typed).await
        }
    }
}

/// Ticket numbers are letters, digits and hyphens; anything else is dropped from a path.
#[cfg(feature = "ssr")]
fn urlencoding_path(number: &str) -> String {
    number
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
        .collect()
}

#[server(endpoint = "tickets/message")]
pub async fn add_message(
    number: String,
    body: String,
    internal: Option<String>,
    attachments: Option<String>,
    voice_recording: Option<String>,
    voice_text: Option<String>,
    seen_up_to: Option<String>,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let parts = request::request_parts()?;
    let viewer = request::require_viewer().await?;
    let result = match request::refused_form_file(&parts) {
        Some(refused) => Err(refused),
        None => tickets::add_message_with_voice(
            &state.db,
            &state.events,
            &state.config,
            &viewer,
            &number,
            &body,
            internal.is_some(),
            &attachment_ids(&attachments),
            voice_sent(&voice_recording, &voice_text),
            seen_up_to.and_then(|seen| seen.trim().parse().ok()),
        )
        .await
        .map(|_| ())
        .map_err(request::service_error),
    };
    back_to_ticket(viewer.session_id, &number, &result, &[("body", &body)]).await;
    result
}

#[server(endpoint = "tickets/status")]
pub async fn change_status(
    number: String,
    status: String,
    reason: Option<String>,
    waiting_for_client: Option<String>,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let reason = reason.unwrap_or_default();
    let result = match Status::from_code(&status) {
        Some(to) => tickets::change_status(
            &state.db,
            &state.events,
            &state.config,
            &viewer,
            &number,
            to,
            &reason,
            waiting_for_client.is_some(),
        )
        .await
        .map_err(request::service_error),
        None => Err(UserError::new(Msg::ErrorInvalidChoice)),
    };
    back_to_ticket(viewer.session_id, &number, &result, &[("reason", &reason)]).await;
    result
}

/// Assigns the ticket; `assignee` is an agent's id, or empty for nobody. `seen_assignee`, in
/// the same form: the assignee the page showed.
#[server(endpoint = "tickets/assign")]
pub async fn assign_ticket(
    number: String,
    assignee: String,
    seen_assignee: Option<String>,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let seen = seen_assignee
        .map(|seen| optional_id(&Some(seen)))
        .transpose();
    let result = match (optional_id(&Some(assignee)), seen) {
        (Ok(assignee), Ok(seen)) => {
            tickets::assign(&state.db, &state.events, &viewer, &number, assignee, seen)
                .await
                .map_err(request::service_error)
        }
        (Err(error), _) | (_, Err(error)) => Err(error),
    };
    back_to_ticket(viewer.session_id, &number, &result, &[]).await;
    result
}

/// The client accepts the resolution of their done request, which closes it.
#[server(endpoint = "tickets/accept")]
pub async fn accept_resolution(number: String) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let result = tickets::accept_resolution(&state.db, &state.events, &viewer, &number)
        .await
        .map_err(request::service_error);
    back_to_ticket(viewer.session_id, &number, &result, &[]).await;
    result
}

/// Staff publish a held e-mail as an internal note (`decision` "release") or discard it.
#[server(endpoint = "tickets/held-mail")]
pub async fn decide_held_mail(
    number: String,
    held_id: i64,
    decision: String,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let result = match decision.as_str() {
        "release" => inbound::release_held(
            &state.db,
            &state.events,
            &state.config,
            &viewer,
            &number,
            held_id,
        )
        .await
        .map(|_| ()),
        "discard" => inbound::discard_held(&state.db, &viewer, &number, held_id).await,
        _ => Err(Msg::ErrorInvalidChoice.into()),
    }
    .map_err(request::service_error);
    back_to_ticket(viewer.session_id, &number, &result, &[]).await;
    result
}

/// Changes the priority; `seen_priority`, in the same form: the priority the page showed.
#[server(endpoint = "tickets/priority")]
pub async fn change_priority(
    number: String,
    priority: String,
    seen_priority: Option<String>,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let seen = match seen_priority.as_deref().map(Priority::from_code) {
        None => Ok(None),
        Some(Some(seen)) => Ok(Some(seen)),
        Some(None) => Err(UserError::new(Msg::ErrorInvalidChoice)),
    };
    let result = match (Priority::from_code(&priority), seen) {
        (Some(priority), Ok(seen)) => {
            tickets::change_priority(&state.db, &state.events, &viewer, &number, priority, seen)
                .await
                .map_err(request::service_error)
        }
        (None, _) => Err(UserError::new(Msg::ErrorInvalidChoice)),
        (_, Err(error)) => Err(error),
    };
    back_to_ticket(viewer.session_id, &number, &result, &[]).await;
    result
}

#[server(endpoint = "telescopes/history")]
pub async fn get_telescope_history(telescope_id: i64) -> Result<TelescopeHistory, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    tickets::telescope_history(&state.db, &viewer, telescope_id)
        .await
        .map_err(request::service_error)
}

// ---- API keys, in "My account". ----

#[server(endpoint = "account/api_tokens")]
pub async fn my_api_tokens() -> Result<Vec<ApiTokenInfo>, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    api_tokens::list(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

/// Creates a key working for `validity` (an `ApiKeyValidity` code) and returns it: the only
/// time it is shown.
#[server(endpoint = "account/create_api_token")]
pub async fn create_api_token(name: String, validity: String) -> Result<String, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let validity =
        ApiKeyValidity::from_code(&validity).ok_or(UserError::new(Msg::ErrorInvalidChoice))?;
    api_tokens::create(&state.db, &viewer, &name, validity)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "account/revoke_api_token")]
pub async fn revoke_api_token(token_id: i64) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    api_tokens::revoke(&state.db, &viewer, token_id)
        .await
        .map_err(request::service_error)
}
