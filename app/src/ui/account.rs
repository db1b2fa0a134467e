//! "My account": name and language, password, and the devices where the person is signed in.

use super::admin::RuleCheckboxes;
use super::components::{form_error, toast_outcome, use_toasts, ErrorAlert, PageError, ToastKind};
use super::prefs::{use_prefs, use_t};
use super::tickets::Time;
use super::time_zone::TimeZoneSelect;
use crate::api::{
    my_api_tokens, my_notification_choices, my_notification_email, my_sessions,
    ChangeNotificationEmail, ChangePassword, CreateApiToken, EndOtherSessions, EndSession,
    RevokeApiToken, SaveMyNotifications, UpdateProfile,
};
use crate::i18n::{Lang, Msg};
use crate::model::ApiKeyValidity;
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

#[component]
pub fn AccountPage() -> impl IntoView {
    let Some(user) = use_portal().user else {
        return view! { <Redirect path="/sign-in" /> }.into_any();
    };
    let t = use_t();
    let lang = use_prefs().lang;
    let toasts = use_toasts();

    let profile = ServerAction::<UpdateProfile>::new();
    let profile_error = form_error(profile.value(), None);
    Effect::new(move |_| {
        if let Some(Ok(())) = profile.value().get() {
            // The language may have changed: load the page again in it.
            let _ = window().location().reload();
        }
    });

    let password = ServerAction::<ChangePassword>::new();
    let password_error = form_error(password.value(), None);
    let password_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = password.value().get() {
            toasts.push(ToastKind::Success, Msg::PasswordChanged);
            if let Some(form) = password_form.get() {
                form.reset();
            }
        }
    });

    let end_one = ServerAction::<EndSession>::new();
    let end_others = ServerAction::<EndOtherSessions>::new();
    toast_outcome(end_one, Msg::ChangesSaved);
    toast_outcome(end_others, Msg::ChangesSaved);
    let sessions = Resource::new(
        move || {
            (
                end_one.version().get(),
                end_others.version().get(),
                password.version().get(),
            )
        },
        |_| my_sessions(),
    );

    view! {
        <Title text=t(Msg::MyAccount) />
        <div class="stack">
            <h1>{t(Msg::MyAccount)}</h1>

            <section class="card stack-sm" aria-labelledby="profile-title">
                <h2 class="card-title" id="profile-title">{t(Msg::Profile)}</h2>
                {move || profile_error.get().map(|error| view! { <ErrorAlert error /> })}
                <ActionForm action=profile attr:class="form-grid" attr:novalidate=true>
                    <div class="field">
                        <label for="name">{t(Msg::Name)}</label>
                        <input class="input" id="name" name="name" autocomplete="name" value=user.name.clone() />
                    </div>
                    <div class="field">
                        <label for="language">{t(Msg::Language)}</label>
                        <select class="input" id="language" name="language">
                            {Lang::ALL
                                .into_iter()
                                .map(|l| view! { <option value=l.code() selected=l == lang>{l.native_name()}</option> })
                                .collect_view()}
                        </select>
                    </div>
                    <TimeZoneSelect hint=Msg::MyTimeZoneHint observatory_setting=None />
                    <p class="muted">{t(Msg::Email)}": "{user.email.clone()}</p>
                    <button type="submit" class="btn btn-primary" aria-busy=move || profile.pending().get().to_string()>
                        {t(Msg::SaveChanges)}
                    </button>
                </ActionForm>
            </section>

            <NotificationEmailSection />
            <NotificationChoicesSection />

            <section class="card stack-sm" aria-labelledby="password-title">
                <h2 class="card-title" id="password-title">{t(Msg::ChangePasswordTitle)}</h2>
                {move || password_error.get().map(|error| view! { <ErrorAlert error /> })}
                <ActionForm action=password node_ref=password_form attr:class="stack-sm" attr:novalidate=true>
                    <div class="field">
                        <label for="current">{t(Msg::CurrentPassword)}</label>
                        <input class="input" id="current" name="current" type="password" autocomplete="current-password" />
                    </div>
                    <div class="field">
                        <label for="new">{t(Msg::NewPassword)}</label>
                        <input
                            class="input"
                            id="new"
                            name="new"
                            type="password"
                            autocomplete="new-password"
                            aria-describedby="new-hint"
                        />
                        <p class="field-hint" id="new-hint">{t(Msg::PasswordHint)}</p>
                    </div>
                    <label class="checkbox">
                        <input type="checkbox" name="end_other_sessions" value="on" />
                        {t(Msg::SignOutOtherSessions)}
                    </label>
                    <button type="submit" class="btn btn-primary" aria-busy=move || password.pending().get().to_string()>
                        {t(Msg::SavePassword)}
                    </button>
                </ActionForm>
            </section>

            <section class="card stack-sm" aria-labelledby="sessions-title">
                <h2 class="card-title" id="sessions-title">{t(Msg::WhereSignedIn)}</h2>
                <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                    {move || Suspend::new(async move {
                        match sessions.await {
                            Ok(list) => view! {
                                <div class="table-wrap">
                                    <table class="data-table">
                                        <caption class="visually-hidden">{t(Msg::WhereSignedIn)}</caption>
                                        <thead>
                                            <tr>
                                                <th scope="col">{t(Msg::Device)}</th>
                                                <th scope="col">{t(Msg::SignedInAt)}</th>
                                                <th scope="col">{t(Msg::LastSeen)}</th>
                                                <th scope="col">{t(Msg::Actions)}</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {list.into_iter().map(|s| view! {
                                                <tr data-testid="session-row">
                                                    <th scope="row">
                                                        {s.device}
                                                        <br />
                                                        <span class="muted">{s.ip}</span>
                                                    </th>
                                                    <td><Time at=s.signed_in_at /></td>
                                                    <td><Time at=s.last_seen_at /></td>
                                                    <td>
                                                        {if s.current {
                                                            view! { <span class="badge badge-account-active">{t(Msg::ThisDevice)}</span> }.into_any()
                                                        } else {
                                                            view! {
                                                                <ActionForm action=end_one>
                                                                    <input type="hidden" name="session_id" value=s.id />
                                                                    <button type="submit" class="btn btn-secondary">{t(Msg::EndSession)}</button>
                                                                </ActionForm>
                                                            }.into_any()
                                                        }}
                                                    </td>
                                                </tr>
                                            }).collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }.into_any(),
                            Err(error) => view! { <PageError error /> }.into_any(),
                        }
                    })}
                </Suspense>
                <ActionForm action=end_others>
                    <button type="submit" class="btn btn-danger" aria-busy=move || end_others.pending().get().to_string()>
                        {t(Msg::SignOutOtherSessions)}
                    </button>
                </ActionForm>
            </section>

            <ApiTokensSection />
        </div>
    }
    .into_any()
}

/// Keys for programs: create one (shown once) for a chosen time, see when each expires and was
/// last used, revoke.
#[component]
fn ApiTokensSection() -> impl IntoView {
    let t = use_t();
    let create = ServerAction::<CreateApiToken>::new();
    let revoke = ServerAction::<RevokeApiToken>::new();
    toast_outcome(revoke, Msg::TokenRevoked);
    let error = Signal::derive(move || match create.value().get() {
        Some(Err(err)) => Some(err),
        _ => None,
    });
    let created = Signal::derive(move || match create.value().get() {
        Some(Ok(token)) => Some(token),
        _ => None,
    });
    // A new key's name is cleared once the key exists, ready for the next one.
    let create_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(_)) = create.value().get() {
            if let Some(form) = create_form.get() {
                form.reset();
            }
        }
    });
    let tokens = Resource::new(
        move || (create.version().get(), revoke.version().get()),
        |_| my_api_tokens(),
    );
    view! {
        <section class="card stack-sm" aria-labelledby="api-tokens-title">
            <h2 class="card-title" id="api-tokens-title">{t(Msg::ApiTokens)}</h2>
            <p class="muted">{t(Msg::ApiTokensIntro)}</p>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            {move || {
                created
                    .get()
                    .map(|token| {
                        view! {
                            <div class="alert alert-success stack-sm" role="status">
                                <p>{t(Msg::TokenCreated)}</p>
                                <code class="token" data-testid="new-api-token">{token}</code>
                            </div>
                        }
                    })
            }}
            <ActionForm action=create node_ref=create_form attr:class="inline-form" attr:novalidate=true>
                <div class="field">
                    <label for="token-name">{t(Msg::TokenName)}</label>
                    <input class="input" id="token-name" name="name" maxlength="100" />
                </div>
                <div class="field">
                    <label for="token-validity">{t(Msg::KeyValidity)}</label>
                    <select class="input" id="token-validity" name="validity">
                        {ApiKeyValidity::ALL
                            .into_iter()
                            .map(|v| view! {
                                <option value=v.code() selected=v == ApiKeyValidity::default()>{t(v.label())}</option>
                            })
                            .collect_view()}
                    </select>
                </div>
                <button type="submit" class="btn btn-primary" aria-busy=move || create.pending().get().to_string()>
                    {t(Msg::CreateToken)}
                </button>
            </ActionForm>
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match tokens.await {
                        Ok(list) if list.is_empty() => view! { <p class="muted">{t(Msg::NoTokens)}</p> }.into_any(),
                        Ok(list) => view! {
                            <ul class="item-list">
                                {list.into_iter().map(|token| view! {
                                    <li class="item" data-testid="api-token-row">
                                        <div class="item-main">
                                            <strong>{token.name}</strong>
                                            {token.expired.then(|| view! { " " <span class="badge" data-testid="api-token-expired">{t(Msg::KeyExpired)}</span> })}
                                            <br />
                                            <span class="muted">
                                                {t(Msg::Created)} " " <Time at=token.created_at /> " · "
                                                {match token.expires_at {
                                                    Some(at) => view! { {t(Msg::KeyExpires)} " " <Time at /> }.into_any(),
                                                    None => t(Msg::KeyValidityNever).into_any(),
                                                }} " · "
                                                {t(Msg::LastUsed)} " "
                                                {match token.last_used_at {
                                                    Some(at) => view! { <Time at /> }.into_any(),
                                                    None => t(Msg::Never).into_any(),
                                                }}
                                            </span>
                                        </div>
                                        <ActionForm action=revoke>
                                            <input type="hidden" name="token_id" value=token.id />
                                            <button type="submit" class="btn btn-danger">{t(Msg::RevokeToken)}</button>
                                        </ActionForm>
                                    </li>
                                }).collect_view()}
                            </ul>
                        }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Suspense>
        </section>
    }
}

/// Where notifications go: the log-in address, or another one confirmed by a link.
#[component]
fn NotificationEmailSection() -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let toasts = use_toasts();
    let change = ServerAction::<ChangeNotificationEmail>::new();
    let error = Signal::derive(move || match change.value().get() {
        Some(Err(err)) => Some(err),
        _ => None,
    });
    Effect::new(move |_| match change.value().get() {
        Some(Ok(true)) => toasts.push(ToastKind::Success, Msg::ConfirmationSent),
        Some(Ok(false)) => toasts.push(ToastKind::Success, Msg::ChangesSaved),
        _ => {}
    });
    let state = Resource::new(move || change.version().get(), |_| my_notification_email());
    view! {
        <section class="card stack-sm" aria-labelledby="notification-title">
            <h2 class="card-title" id="notification-title">{t(Msg::Notifications)}</h2>
            <Suspense>
                {move || Suspend::new(async move {
                    state.await.ok().map(|state| {
                        let current = state.current.clone().unwrap_or(state.login.clone());
                        view! {
                            <p data-testid="notifications-go-to">
                                {Msg::NotificationsGoTo.fill(lang, &[("email", &current)])}
                            </p>
                            {state.pending.map(|pending| view! {
                                <p class="muted" data-testid="notification-pending">
                                    {Msg::NotificationPending.fill(lang, &[("email", &pending)])}
                                </p>
                            })}
                        }
                    })
                })}
            </Suspense>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <ActionForm action=change attr:class="inline-form" attr:novalidate=true>
                <div class="field">
                    <label for="notification-email">{t(Msg::NotificationEmail)}</label>
                    <input
                        class="input"
                        id="notification-email"
                        name="email"
                        type="email"
                        inputmode="email"
                        autocomplete="email"
                        aria-describedby="notification-hint"
                        aria-invalid=move || error.get().is_some().to_string()
                    />
                </div>
                <button type="submit" class="btn btn-primary" aria-busy=move || change.pending().get().to_string()>
                    {t(Msg::SaveChanges)}
                </button>
            </ActionForm>
            <p class="field-hint" id="notification-hint">{t(Msg::NotificationEmailHint)}</p>
        </section>
    }
}

/// Which optional notifications the person wants; those about their own requests always come.
#[component]
fn NotificationChoicesSection() -> impl IntoView {
    let t = use_t();
    let toasts = use_toasts();
    let save = ServerAction::<SaveMyNotifications>::new();
    let error = form_error(save.value(), None);
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            toasts.push(ToastKind::Success, Msg::ChangesSaved);
        }
    });
    let choices = Resource::new(move || save.version().get(), |_| my_notification_choices());
    let intro = if use_portal()
        .user
        .as_ref()
        .is_some_and(|v| v.role.is_staff())
    {
        Msg::MyNotificationsStaffIntro
    } else {
        Msg::MyNotificationsIntro
    };
    view! {
        <section class="card stack-sm" id="notifications" aria-labelledby="choices-title">
            <h2 class="card-title" id="choices-title">{t(Msg::MyEmailChoices)}</h2>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <Suspense>
                {move || Suspend::new(async move {
                    choices.await.ok().map(|choices| {
                        if choices.rules.is_empty() {
                            view! { <p class="muted">{t(Msg::MyNotificationsNone)}</p> }.into_any()
                        } else {
                            view! {
                                <p class="muted">{t(intro)}</p>
                                <ActionForm action=save attr:class="stack-sm">
                                    <RuleCheckboxes rules=choices.rules />
                                    <button type="submit" class="btn btn-primary" aria-busy=move || save.pending().get().to_string()>
                                        {t(Msg::SaveChanges)}
                                    </button>
                                </ActionForm>
                            }
                            .into_any()
                        }
                    })
                })}
            </Suspense>
        </section>
    }
}
