//! Server functions: the browser's calls into the server. Each one is glue: it finds the state and
//! the viewer and calls one service. Endpoints are pinned so URLs stay stable across builds.

use crate::error::UserError;
#[cfg(feature = "ssr")]
use crate::model::ContactEntry;
use crate::model::{
    BrandingSettings, Cadences, LinkKind, MyNotifications, NotificationEmailState,
    NotificationSettings, OrganizationDetail, OrganizationSummary, OutboxMail, Person, SessionInfo,
    TimeZoneChoices,
};
use leptos::prelude::*;

mod bell;
mod tickets;
pub use bell::*;
pub use tickets::*;

#[cfg(feature = "ssr")]
use crate::backend::storage::admin::TelescopeFields;
#[cfg(feature = "ssr")]
use crate::backend::{accounts, admin, lifecycle, links, my_account, notifications, request};
#[cfg(feature = "ssr")]
use crate::i18n::{Lang, Msg};
#[cfg(feature = "ssr")]
use crate::model::{NotifyRule, Role, Theme};

/// Signs in with e-mail and password; sets the session and language cookies.
#[server(endpoint = "sign_in")]
pub async fn sign_in(email: String, password: String) -> Result<(), UserError> {
    let state = request::app_state()?;
    let parts = request::request_parts()?;
    let observatory = request::observatory(&state).await?;
    let result = accounts::sign_in(
        &state.db,
        &state.config,
        observatory.id,
        &email,
        &password,
        &request::client_info(&parts, &state.config),
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
            let error = request::service_error(err);
            if plain_form {
                // Without JavaScript the page is reloaded: carry the message and what was typed
                // (never the password) back to the form.
                request::redirect_back_with_error("/sign-in", &error, None, &[("email", &email)])
                    .await;
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

/// Sends a link to choose a new password. Answers the same whether or not the account exists.
#[server(endpoint = "request_password_reset")]
pub async fn request_password_reset(email: String) -> Result<(), UserError> {
    let state = request::app_state()?;
    let parts = request::request_parts()?;
    let observatory = request::observatory(&state).await?;
    let result = links::request_password_reset(&state.db, &state.config, observatory.id, &email)
        .await
        .map_err(request::service_error);
    if request::is_plain_form_post(&parts) {
        match &result {
            Ok(()) => leptos_axum::redirect("/forgot-password?sent=1"),
            Err(error) => {
                request::redirect_back_with_error(
                    "/forgot-password",
                    error,
                    None,
                    &[("email", &email)],
                )
                .await
            }
        }
    }
    result
}

/// Whether a link from an e-mail still works, and what for.
#[server(endpoint = "check_link")]
pub async fn check_link(token: String) -> Result<Option<LinkKind>, UserError> {
    let state = request::app_state()?;
    let link = links::valid_link(&state.db, &token)
        .await
        .map_err(request::internal)?;
    Ok(link.and_then(|l| LinkKind::from_code(&l.purpose)))
}

/// Sets a password through a link (invitation or reset). Nobody is signed in by it.
#[server(endpoint = "set_password_with_link")]
pub async fn set_password_with_link(
    token: String,
    password: String,
    end_other_sessions: Option<String>,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let parts = request::request_parts()?;
    let result =
        links::set_password_with_link(&state.db, &token, &password, end_other_sessions.is_some())
            .await
            .map_err(request::service_error);
    if request::is_plain_form_post(&parts) {
        match &result {
            Ok(()) => leptos_axum::redirect("/sign-in?password_set=1"),
            // The link's token is the page's address itself; the password is never kept.
            Err(error) => {
                let query = url::form_urlencoded::Serializer::new(String::new())
                    .append_pair("token", &token)
                    .finish();
                let page = format!("/reset-password?{query}");
                request::redirect_back_with_error(&page, error, None, &[]).await
            }
        }
    }
    result
}

// ---- Administration (observatory admins only; anyone else gets "not found"). ----

#[server(endpoint = "admin/organizations")]
pub async fn admin_organizations() -> Result<Vec<OrganizationSummary>, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::organizations(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/create_organization")]
pub async fn create_organization(name: String) -> Result<(), UserError> {
    let state = request::app_state()?;
    let parts = request::request_parts()?;
    let viewer = request::require_viewer().await?;
    let result = admin::create_organization(&state.db, &viewer, &name)
        .await
        .map(|_| ())
        .map_err(request::service_error);
    if let (true, Err(error)) = (request::is_plain_form_post(&parts), &result) {
        request::redirect_back_with_error(
            "/admin/clients",
            error,
            Some(viewer.session_id),
            &[("name", &name)],
        )
        .await;
    }
    result
}

#[server(endpoint = "admin/people")]
pub async fn admin_people() -> Result<Vec<Person>, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::people(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/invite")]
pub async fn invite_person(
    name: String,
    email: String,
    role: String,
    organization_id: Option<String>,
    language: String,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let parts = request::request_parts()?;
    let viewer = request::require_viewer().await?;
    let role = Role::from_code(&role).ok_or(UserError::new(Msg::ErrorNotFound))?;
    let organization_id = organization_id
        .as_deref()
        .filter(|id| !id.is_empty())
        .map(|id| {
            id.parse::<i64>()
                .map_err(|_| UserError::new(Msg::ErrorOrganizationRequired))
        })
        .transpose()?;
    let result = admin::invite(
        &state.db,
        &state.config,
        &viewer,
        admin::Invitation {
            name: &name,
            email: &email,
            role,
            organization_id,
            language: Lang::from_code(&language).unwrap_or_default(),
        },
    )
    .await
    .map_err(request::service_error);
    if let (true, Err(error)) = (request::is_plain_form_post(&parts), &result) {
        request::redirect_back_with_error(
            "/admin/people",
            error,
            Some(viewer.session_id),
            &[("name", &name), ("email", &email)],
        )
        .await;
    }
    result
}

#[server(endpoint = "admin/resend_invitation")]
pub async fn resend_invitation(user_id: i64) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::resend_invitation(&state.db, &state.config, &viewer, user_id)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/revoke_invitation")]
pub async fn revoke_invitation(user_id: i64) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::revoke_invitation(&state.db, &viewer, user_id)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/set_person_active")]
pub async fn set_person_active(user_id: i64, active: bool) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::set_active(&state.db, &viewer, user_id, active)
        .await
        .map_err(request::service_error)
}

/// The observatory's outgoing e-mail: `filter` is `all`, `waiting` or `failed`.
#[server(endpoint = "admin/outbox")]
pub async fn admin_outbox(
    filter: String,
    before_id: Option<i64>,
) -> Result<Vec<OutboxMail>, UserError> {
    use crate::backend::storage::links::OutboxFilter;
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::outbox(
        &state.db,
        &viewer,
        OutboxFilter::from_code(&filter),
        before_id,
    )
    .await
    .map_err(request::service_error)
}

#[server(endpoint = "admin/retry_mail")]
pub async fn retry_mail(mail_id: i64) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::retry_mail(&state.db, &viewer, mail_id)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/cancel_mail")]
pub async fn cancel_mail(mail_id: i64) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::cancel_mail(&state.db, &viewer, mail_id)
        .await
        .map_err(request::service_error)
}

// ---- My account: the signed-in person's own profile, password and sessions. ----

#[server(endpoint = "account/sessions")]
pub async fn my_sessions() -> Result<Vec<SessionInfo>, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    my_account::sessions(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "account/time_zones")]
pub async fn time_zones() -> Result<TimeZoneChoices, UserError> {
    let viewer = request::require_viewer().await?;
    Ok(my_account::time_zone_choices(&viewer))
}

#[server(endpoint = "account/profile")]
pub async fn update_profile(
    name: String,
    language: String,
    time_zone: Option<String>,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let lang = Lang::from_code(&language).ok_or(UserError::new(Msg::ErrorNotFound))?;
    my_account::update_profile(&state.db, &viewer, &name, lang, time_zone.as_deref())
        .await
        .map_err(request::service_error)?;
    request::set_cookie(request::language_cookie(&state.config, lang));
    Ok(())
}

#[server(endpoint = "account/password")]
pub async fn change_password(
    current: String,
    new: String,
    end_other_sessions: Option<String>,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let parts = request::request_parts()?;
    my_account::change_password(
        &state.db,
        &viewer,
        &request::client_info(&parts, &state.config),
        &current,
        &new,
        end_other_sessions.is_some(),
    )
    .await
    .map_err(request::service_error)
}

#[server(endpoint = "account/end_session")]
pub async fn end_session(session_id: i64) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    my_account::end_session(&state.db, &viewer, session_id)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "account/end_other_sessions")]
pub async fn end_other_sessions() -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    my_account::end_other_sessions(&state.db, &viewer)
        .await
        .map(|_| ())
        .map_err(request::service_error)
}

#[server(endpoint = "admin/organization")]
pub async fn admin_organization(organization_id: i64) -> Result<OrganizationDetail, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::organization(&state.db, &viewer, organization_id)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/update_organization")]
pub async fn update_organization(
    organization_id: i64,
    name: String,
    active: Option<String>,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::update_organization(&state.db, &viewer, organization_id, &name, active.is_some())
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/add_telescope")]
pub async fn add_telescope(
    organization_id: i64,
    name: String,
    model: String,
    location: String,
    notes: String,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let fields = TelescopeFields {
        name: &name,
        model: &model,
        location: &location,
        notes: &notes,
    };
    admin::add_telescope(&state.db, &viewer, organization_id, fields)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/update_telescope")]
pub async fn update_telescope(
    telescope_id: i64,
    name: String,
    model: String,
    location: String,
    notes: String,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let fields = TelescopeFields {
        name: &name,
        model: &model,
        location: &location,
        notes: &notes,
    };
    admin::update_telescope(&state.db, &viewer, telescope_id, fields)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/set_telescope_retired")]
pub async fn set_telescope_retired(telescope_id: i64, retired: bool) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::set_telescope_retired(&state.db, &viewer, telescope_id, retired)
        .await
        .map_err(request::service_error)
}

/// Replaces an organization's support contacts; `contacts` holds one `ContactEntry` a line.
#[server(endpoint = "admin/support_contacts")]
pub async fn save_support_contacts(
    organization_id: i64,
    contacts: String,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let entries = contacts
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| ContactEntry::decode(line).ok_or(UserError::new(Msg::ErrorInvalidContactEmail)))
        .collect::<Result<Vec<_>, _>>()?;
    admin::save_support_contacts(&state.db, &viewer, organization_id, &entries)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/branding")]
pub async fn admin_branding() -> Result<BrandingSettings, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    admin::branding(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/update_branding")]
pub async fn update_branding(
    name: String,
    slug: String,
    email_sender_name: String,
    primary_color: String,
    accent_color: String,
    time_zone: String,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let settings = BrandingSettings {
        name,
        slug,
        email_sender_name,
        primary_color,
        accent_color,
        time_zone,
    };
    admin::update_branding(&state.db, &viewer, &settings)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "account/notification_email")]
pub async fn my_notification_email() -> Result<NotificationEmailState, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    my_account::notification_email(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

/// Returns true when a confirmation link was sent to the new address.
#[server(endpoint = "account/change_notification_email")]
pub async fn change_notification_email(email: String) -> Result<bool, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    links::request_notification_email(&state.db, &state.config, &viewer, &email)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "confirm_email")]
pub async fn confirm_notification_email(token: String) -> Result<String, UserError> {
    let state = request::app_state()?;
    links::confirm_notification_email(&state.db, &token)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "admin/notifications")]
pub async fn admin_notifications() -> Result<NotificationSettings, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    notifications::settings(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

#[server(endpoint = "account/notifications")]
pub async fn my_notification_choices() -> Result<MyNotifications, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    notifications::my_notifications(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

/// The notification forms: a checkbox per rule, so one argument per rule.
mod notification_forms {
    #![allow(clippy::too_many_arguments)]
    use super::*;

    /// Saves the observatory's notification settings: each rule is a checkbox named by its code,
    /// present when on (so the form works before the page's script has loaded).
    #[server(endpoint = "admin/save_notifications")]
    pub async fn save_notifications(
        queue_email: String,
        opened_reporter: Option<String>,
        opened_contacts: Option<String>,
        opened_staff: Option<String>,
        status_reporter: Option<String>,
        status_contacts: Option<String>,
        status_assignee: Option<String>,
        reply_reporter: Option<String>,
        reply_contacts: Option<String>,
        client_message_staff: Option<String>,
        assigned: Option<String>,
    ) -> Result<(), UserError> {
        let state = request::app_state()?;
        let viewer = request::require_viewer().await?;
        let on = NotifyRule::checked(&[
            (NotifyRule::OpenedToReporter, opened_reporter),
            (NotifyRule::OpenedToContacts, opened_contacts),
            (NotifyRule::OpenedToStaff, opened_staff),
            (NotifyRule::StatusToReporter, status_reporter),
            (NotifyRule::StatusToContacts, status_contacts),
            (NotifyRule::StatusToAssignee, status_assignee),
            (NotifyRule::ReplyToReporter, reply_reporter),
            (NotifyRule::ReplyToContacts, reply_contacts),
            (NotifyRule::ClientMessageToStaff, client_message_staff),
            (NotifyRule::Assigned, assigned),
        ]);
        let result = notifications::save_settings(&state.db, &viewer, &queue_email, &on)
            .await
            .map_err(request::service_error);
        back_with_error(
            "/admin/notifications",
            viewer.session_id,
            &result,
            &[("queue_email", &queue_email)],
        )
        .await;
        result
    }

    /// Saves what the person wants among the optional notifications offered to them (checkboxes
    /// named by rule code, present when wanted).
    #[server(endpoint = "account/save_notifications")]
    pub async fn save_my_notifications(
        opened_contacts: Option<String>,
        opened_staff: Option<String>,
        status_contacts: Option<String>,
        status_assignee: Option<String>,
        reply_contacts: Option<String>,
        client_message_staff: Option<String>,
        assigned: Option<String>,
    ) -> Result<(), UserError> {
        let state = request::app_state()?;
        let viewer = request::require_viewer().await?;
        let on = NotifyRule::checked(&[
            (NotifyRule::OpenedToContacts, opened_contacts),
            (NotifyRule::OpenedToStaff, opened_staff),
            (NotifyRule::StatusToContacts, status_contacts),
            (NotifyRule::StatusToAssignee, status_assignee),
            (NotifyRule::ReplyToContacts, reply_contacts),
            (NotifyRule::ClientMessageToStaff, client_message_staff),
            (NotifyRule::Assigned, assigned),
        ]);
        let result = notifications::save_my_notifications(&state.db, &viewer, &on)
            .await
            .map_err(request::service_error);
        back_with_error("/account", viewer.session_id, &result, &[]).await;
        result
    }
}
pub use notification_forms::*;

#[server(endpoint = "admin/cadences")]
pub async fn admin_cadences() -> Result<Cadences, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    lifecycle::settings(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

/// Saves the life-cycle cadences; the fields are whole numbers (hours, a count).
#[server(endpoint = "admin/save_cadences")]
pub async fn save_cadences(
    reminder_hours: String,
    reminder_count: String,
    closure_hours: String,
) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    let number = |text: &str| {
        text.trim()
            .parse::<i64>()
            .map_err(|_| UserError::new(Msg::ErrorCadenceOutOfRange))
    };
    let result = match (
        number(&reminder_hours),
        number(&reminder_count),
        number(&closure_hours),
    ) {
        (Ok(reminder_hours), Ok(reminder_count), Ok(closure_hours)) => {
            let cadences = Cadences {
                reminder_hours,
                reminder_count,
                closure_hours,
            };
            lifecycle::save_settings(&state.db, &viewer, cadences)
                .await
                .map_err(request::service_error)
        }
        (Err(error), _, _) | (_, Err(error), _) | (_, _, Err(error)) => Err(error),
    };
    back_with_error("/admin/notifications", viewer.session_id, &result, &[]).await;
    result
}

/// A settings form posted without JavaScript that failed goes back to its page with the
/// error (and what was typed), translated, instead of a bare error answer.
#[cfg(feature = "ssr")]
async fn back_with_error(
    path: &str,
    session_id: i64,
    result: &Result<(), UserError>,
    typed: &[(&str, &str)],
) {
    let Ok(parts) = request::request_parts() else {
        return;
    };
    if let (true, Err(error)) = (request::is_plain_form_post(&parts), result) {
        request::redirect_back_with_error(path, error, Some(session_id), typed).await;
    }
}
