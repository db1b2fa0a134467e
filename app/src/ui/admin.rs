//! The observatory's administration: client organizations and the people of the portal.

use super::components::{
    error_from_query, form_error, use_toasts, EmailField, EmptyState, ErrorAlert, ToastKind,
};
use super::not_found::NotFound;
use super::prefs::{use_prefs, use_t};
use crate::api::{
    admin_organizations, admin_people, CreateOrganization, InvitePerson, ResendInvitation,
    RevokeInvitation, SetPersonActive,
};
use crate::i18n::{Lang, Msg};
use crate::model::{AccountState, Role};
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;

/// Signed-out visitors go to sign-in; anyone but an admin is told the page does not exist.
fn admin_gate() -> Option<AnyView> {
    match use_portal().user {
        None => Some(view! { <Redirect path="/sign-in" /> }.into_any()),
        Some(user) if user.role != Role::Admin => Some(view! { <NotFound /> }.into_any()),
        Some(_) => None,
    }
}

/// Shows a toast when an action succeeds, or its error when it fails.
fn toast_outcome(result: Memo<Option<Result<(), crate::error::UserError>>>, success: Msg) {
    let toasts = use_toasts();
    Effect::new(move |_| match result.get() {
        Some(Ok(())) => toasts.push(ToastKind::Success, success),
        Some(Err(err)) => toasts.push(ToastKind::Error, err.message),
        None => {}
    });
}

#[component]
pub fn ClientsPage() -> impl IntoView {
    if let Some(gate) = admin_gate() {
        return gate;
    }
    let t = use_t();
    let (typed_name, from_redirect) = use_query_map()
        .with_untracked(|q| (q.get("name").unwrap_or_default(), error_from_query(q)));
    let create = ServerAction::<CreateOrganization>::new();
    let error = form_error(create.value(), from_redirect);
    let name_input = NodeRef::<leptos::html::Input>::new();
    let toasts = use_toasts();
    Effect::new(move |_| {
        if let Some(Ok(())) = create.value().get() {
            toasts.push(ToastKind::Success, Msg::OrganizationCreated);
            if let Some(input) = name_input.get() {
                input.set_value("");
            }
        }
    });
    let organizations = Resource::new(move || create.version().get(), |_| admin_organizations());

    view! {
        <Title text=t(Msg::ClientsTitle) />
        <div class="stack">
            <h1>{t(Msg::ClientsTitle)}</h1>
            <section class="card stack-sm" aria-labelledby="new-organization">
                <h2 class="card-title" id="new-organization">
                    {t(Msg::NewOrganization)}
                </h2>
                {move || error.get().map(|error| view! { <ErrorAlert error /> })}
                <ActionForm action=create attr:class="inline-form" attr:novalidate=true>
                    <div class="field">
                        <label for="organization-name">{t(Msg::OrganizationName)}</label>
                        <input
                            class="input"
                            id="organization-name"
                            name="name"
                            node_ref=name_input
                            value=typed_name
                            aria-invalid=move || error.with(|e| e.is_some()).to_string()
                        />
                    </div>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        aria-busy=move || create.pending().get().to_string()
                    >
                        {t(Msg::Create)}
                    </button>
                </ActionForm>
            </section>
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match organizations.await {
                        Ok(list) if list.is_empty() => {
                            view! {
                                <EmptyState
                                    title=t(Msg::NoOrganizations)
                                    body=t(Msg::NoOrganizationsBody)
                                />
                            }
                                .into_any()
                        }
                        Ok(list) => {
                            view! {
                                <div class="table-wrap">
                                    <table class="data-table">
                                        <caption class="visually-hidden">
                                            {t(Msg::ClientsTitle)}
                                        </caption>
                                        <thead>
                                            <tr>
                                                <th scope="col">{t(Msg::Organization)}</th>
                                                <th scope="col" class="numeric">{t(Msg::People)}</th>
                                                <th scope="col" class="numeric">
                                                    {t(Msg::TelescopesCount)}
                                                </th>
                                                <th scope="col">{t(Msg::State)}</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {list
                                                .into_iter()
                                                .map(|org| {
                                                    view! {
                                                        <tr>
                                                            <th scope="row">{org.name}</th>
                                                            <td class="numeric">{org.people}</td>
                                                            <td class="numeric">{org.telescopes}</td>
                                                            <td>
                                                                {t(if org.active { Msg::Active } else { Msg::Inactive })}
                                                            </td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <ErrorAlert error /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
    .into_any()
}

#[component]
pub fn PeoplePage() -> impl IntoView {
    if let Some(gate) = admin_gate() {
        return gate;
    }
    let t = use_t();
    let lang = use_prefs().lang;
    let me = use_portal().user.map(|u| u.id);
    let (typed_name, typed_email, from_redirect) = use_query_map().with_untracked(|q| {
        (
            q.get("name").unwrap_or_default(),
            q.get("email").unwrap_or_default(),
            error_from_query(q),
        )
    });
    let invite = ServerAction::<InvitePerson>::new();
    let resend = ServerAction::<ResendInvitation>::new();
    let revoke = ServerAction::<RevokeInvitation>::new();
    let set_active = ServerAction::<SetPersonActive>::new();
    let error = form_error(invite.value(), from_redirect);
    let form = NodeRef::<leptos::html::Form>::new();
    let toasts = use_toasts();
    Effect::new(move |_| {
        if let Some(Ok(())) = invite.value().get() {
            toasts.push(ToastKind::Success, Msg::InvitationSent);
            if let Some(form) = form.get() {
                form.reset();
            }
        }
    });
    toast_outcome(
        Memo::new(move |_| resend.value().get()),
        Msg::InvitationSent,
    );
    toast_outcome(
        Memo::new(move |_| revoke.value().get()),
        Msg::InvitationRevoked,
    );
    toast_outcome(
        Memo::new(move |_| set_active.value().get()),
        Msg::ChangesSaved,
    );

    let people = Resource::new(
        move || {
            (
                invite.version().get(),
                resend.version().get(),
                revoke.version().get(),
                set_active.version().get(),
            )
        },
        |_| admin_people(),
    );
    let organizations = Resource::new(|| (), |_| admin_organizations());

    view! {
        <Title text=t(Msg::PeopleTitle) />
        <div class="stack">
            <h1>{t(Msg::PeopleTitle)}</h1>
            <section class="card stack-sm" aria-labelledby="invite-title">
                <h2 class="card-title" id="invite-title">
                    {t(Msg::InvitePerson)}
                </h2>
                <p class="muted">{t(Msg::InviteIntro)}</p>
                {move || error.get().map(|error| view! { <ErrorAlert error /> })}
                <ActionForm action=invite node_ref=form attr:class="form-grid" attr:novalidate=true>
                    <div class="field">
                        <label for="name">{t(Msg::Name)}</label>
                        <input class="input" id="name" name="name" autocomplete="off" value=typed_name />
                    </div>
                    <EmailField
                        value=typed_email
                        invalid=Signal::derive(move || {
                            error
                                .with(|e| {
                                    e.as_ref()
                                        .is_some_and(|e| {
                                            matches!(
                                                e.message,
                                                Msg::ErrorEmailInvalid | Msg::ErrorEmailRequired | Msg::ErrorEmailTaken
                                            )
                                        })
                                })
                        })
                    />
                    <div class="field">
                        <label for="role">{t(Msg::Role)}</label>
                        <select class="input" id="role" name="role">
                            {[Role::Client, Role::Agent, Role::Admin]
                                .into_iter()
                                .map(|role| view! { <option value=role.code()>{t(role.label())}</option> })
                                .collect_view()}
                        </select>
                    </div>
                    <div class="field">
                        <label for="organization">{t(Msg::Organization)}</label>
                        <select class="input" id="organization" name="organization_id" aria-describedby="organization-hint">
                            <option value="">{t(Msg::ChooseOrganization)}</option>
                            <Suspense>
                                {move || Suspend::new(async move {
                                    organizations
                                        .await
                                        .unwrap_or_default()
                                        .into_iter()
                                        .filter(|o| o.active)
                                        .map(|o| view! { <option value=o.id>{o.name}</option> })
                                        .collect_view()
                                })}
                            </Suspense>
                        </select>
                        <p class="field-hint" id="organization-hint">
                            {t(Msg::OrganizationHint)}
                        </p>
                    </div>
                    <div class="field">
                        <label for="language">{t(Msg::Language)}</label>
                        <select class="input" id="language" name="language">
                            {Lang::ALL
                                .into_iter()
                                .map(|l| {
                                    view! {
                                        <option value=l.code() selected=l == lang>
                                            {l.native_name()}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </div>
                    <button
                        type="submit"
                        class="btn btn-primary"
                        aria-busy=move || invite.pending().get().to_string()
                    >
                        {t(Msg::SendInvitation)}
                    </button>
                </ActionForm>
            </section>
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match people.await {
                        Ok(list) => {
                            view! {
                                <div class="table-wrap">
                                    <table class="data-table">
                                        <caption class="visually-hidden">{t(Msg::PeopleTitle)}</caption>
                                        <thead>
                                            <tr>
                                                <th scope="col">{t(Msg::Name)}</th>
                                                <th scope="col">{t(Msg::Role)}</th>
                                                <th scope="col">{t(Msg::Organization)}</th>
                                                <th scope="col">{t(Msg::State)}</th>
                                                <th scope="col">{t(Msg::Actions)}</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {list
                                                .into_iter()
                                                .map(|person| {
                                                    let id = person.id;
                                                    view! {
                                                        <tr data-testid="person-row">
                                                            <th scope="row">
                                                                {person.name}
                                                                <br />
                                                                <span class="muted">{person.email}</span>
                                                            </th>
                                                            <td>{t(person.role.label())}</td>
                                                            <td>
                                                                {person
                                                                    .organization
                                                                    .unwrap_or_else(|| t(Msg::StaffNoOrganization).to_string())}
                                                            </td>
                                                            <td>
                                                                <span class=format!(
                                                                    "badge badge-account-{}",
                                                                    match person.state {
                                                                        AccountState::Active => "active",
                                                                        AccountState::Invited => "invited",
                                                                        AccountState::Deactivated => "deactivated",
                                                                    },
                                                                )>
                                                                    {t(
                                                                        match person.state {
                                                                            AccountState::Active => Msg::StateActive,
                                                                            AccountState::Invited => Msg::StateInvited,
                                                                            AccountState::Deactivated => Msg::StateDeactivated,
                                                                        },
                                                                    )}
                                                                </span>
                                                            </td>
                                                            <td class="row-actions">
                                                                {(person.state == AccountState::Invited)
                                                                    .then(|| {
                                                                        view! {
                                                                            <ActionForm action=resend>
                                                                                <input type="hidden" name="user_id" value=id />
                                                                                <button type="submit" class="btn btn-secondary">
                                                                                    {t(Msg::ResendInvitation)}
                                                                                </button>
                                                                            </ActionForm>
                                                                            <ActionForm action=revoke>
                                                                                <input type="hidden" name="user_id" value=id />
                                                                                <button type="submit" class="btn btn-ghost">
                                                                                    {t(Msg::RevokeInvitation)}
                                                                                </button>
                                                                            </ActionForm>
                                                                        }
                                                                    })}
                                                                {(Some(id) != me).then(|| view! {
                                                                <ActionForm action=set_active>
                                                                    <input type="hidden" name="user_id" value=id />
                                                                    <input
                                                                        type="hidden"
                                                                        name="active"
                                                                        value=(person.state == AccountState::Deactivated).to_string()
                                                                    />
                                                                    <button
                                                                        type="submit"
                                                                        class=if person.state == AccountState::Deactivated {
                                                                            "btn btn-secondary"
                                                                        } else {
                                                                            "btn btn-danger"
                                                                        }
                                                                    >
                                                                        {t(
                                                                            if person.state == AccountState::Deactivated {
                                                                                Msg::Reactivate
                                                                            } else {
                                                                                Msg::Deactivate
                                                                            },
                                                                        )}
                                                                    </button>
                                                                </ActionForm>
                                                                })}
                                                            </td>
                                                        </tr>
                                                    }
                                                })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <ErrorAlert error /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
    .into_any()
}
