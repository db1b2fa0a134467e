//! The observatory's administration: client organizations, the people of the portal, its
//! branding, its e-mail notifications and its outgoing e-mail.

use super::components::{
    error_from_query, form_error, toast_outcome, use_toasts, EmailField, EmptyState, ErrorAlert,
    PageError, ToastKind,
};
use super::form_draft::use_form_draft;
use super::not_found::NotFound;
use super::prefs::{use_prefs, use_t};
use super::tickets::Time;
use super::time_zone::TimeZoneSelect;
use crate::api::{
    admin_branding, admin_cadences, admin_notifications, admin_organization, admin_organizations,
    admin_outbox, admin_people, AddTelescope, CancelMail, CreateOrganization, InvitePerson,
    ResendInvitation, RetryMail, RevokeInvitation, SaveCadences, SaveNotifications,
    SaveSupportContacts, SetPersonActive, SetTelescopeRetired, UpdateBranding, UpdateOrganization,
    UpdateTelescope,
};
use crate::i18n::{Lang, Msg};
use crate::model::{
    format_time, mail_kind_label, AccountState, ContactEntry, Email, MailState, OutboxMail, Person,
    Role, RuleSwitch, SupportContact, OUTBOX_PAGE,
};
use crate::{use_portal, use_zone};
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

#[component]
pub fn ClientsPage() -> impl IntoView {
    if let Some(gate) = admin_gate() {
        return gate;
    }
    let t = use_t();
    let from_redirect = use_query_map().with_untracked(error_from_query);
    let typed_name = use_form_draft().field("name");
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
                                                            <th scope="row">
                                                                <a href=format!("/admin/clients/{}", org.id)>{org.name}</a>
                                                            </th>
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
                        Err(error) => view! { <PageError error /> }.into_any(),
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
    let from_redirect = use_query_map().with_untracked(error_from_query);
    let typed = use_form_draft();
    let (typed_name, typed_email) = (typed.field("name"), typed.field("email"));
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
    toast_outcome(resend, Msg::InvitationSent);
    toast_outcome(revoke, Msg::InvitationRevoked);
    toast_outcome(set_active, Msg::ChangesSaved);

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
                                                                    {t(state_label(person.state))}
                                                                </span>
                                                            </td>
                                                            <td>
                                                                <div class="row-actions">
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
                                                                </div>
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
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
    .into_any()
}

#[component]
pub fn OrganizationPage() -> impl IntoView {
    if let Some(gate) = admin_gate() {
        return gate;
    }
    let t = use_t();
    let params = leptos_router::hooks::use_params_map();
    let organization_id = move || {
        params.with(|p| {
            p.get("id")
                .and_then(|id| id.parse::<i64>().ok())
                .unwrap_or(-1)
        })
    };
    let update = ServerAction::<UpdateOrganization>::new();
    let add = ServerAction::<AddTelescope>::new();
    let edit = ServerAction::<UpdateTelescope>::new();
    let retire = ServerAction::<SetTelescopeRetired>::new();
    toast_outcome(update, Msg::ChangesSaved);
    toast_outcome(edit, Msg::ChangesSaved);
    toast_outcome(retire, Msg::ChangesSaved);
    let add_error = form_error(add.value(), None);
    let add_form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let Some(Ok(())) = add.value().get() {
            if let Some(form) = add_form.get() {
                form.reset();
            }
        }
    });
    let detail = Resource::new(
        move || {
            (
                organization_id(),
                update.version().get(),
                add.version().get(),
                edit.version().get(),
                retire.version().get(),
            )
        },
        |(id, ..)| admin_organization(id),
    );

    view! {
        <div class="stack">
            <p>
                <a href="/admin/clients">{t(Msg::BackToClients)}</a>
            </p>
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match detail.await {
                        Ok(detail) => {
                            let org = detail.organization;
                            let id = org.id;
                            view! {
                                <Title text=org.name.clone() />
                                <h1>{org.name.clone()}</h1>
                                <section class="card stack-sm" aria-labelledby="details-title">
                                    <h2 class="card-title" id="details-title">{t(Msg::Details)}</h2>
                                    <ActionForm action=update attr:class="stack-sm" attr:novalidate=true>
                                        <input type="hidden" name="organization_id" value=id />
                                        <div class="field">
                                            <label for="organization-name">{t(Msg::OrganizationName)}</label>
                                            <input class="input" id="organization-name" name="name" value=org.name.clone() />
                                        </div>
                                        <label class="checkbox">
                                            <input type="checkbox" name="active" value="on" checked=org.active />
                                            {t(Msg::OrganizationActive)}
                                        </label>
                                        <p class="field-hint">{t(Msg::OrganizationActiveHint)}</p>
                                        <button type="submit" class="btn btn-primary">{t(Msg::SaveChanges)}</button>
                                    </ActionForm>
                                </section>

                                <section class="card stack-sm" aria-labelledby="telescopes-title">
                                    <h2 class="card-title" id="telescopes-title">{t(Msg::Telescopes)}</h2>
                                    {if detail.telescopes.is_empty() {
                                        view! { <p class="muted">{t(Msg::NoTelescopes)}</p> }.into_any()
                                    } else {
                                        view! {
                                            <ul class="item-list">
                                                {detail.telescopes.into_iter().map(|scope| view! {
                                                    <li class="item" data-testid="telescope">
                                                        <div class="item-main">
                                                            <strong>{scope.name.clone()}</strong>
                                                            {scope.retired.then(|| view! {
                                                                " "<span class="badge badge-account-deactivated">{t(Msg::Retired)}</span>
                                                            })}
                                                            <br />
                                                            <span class="muted">
                                                                {[scope.model.clone(), scope.location.clone()]
                                                                    .into_iter()
                                                                    .filter(|s| !s.is_empty())
                                                                    .collect::<Vec<_>>()
                                                                    .join(" · ")}
                                                            </span>
                                                        </div>
                                                        <details class="item-edit">
                                                            <summary class="btn btn-secondary">{t(Msg::Edit)}</summary>
                                                            <ActionForm action=edit attr:class="form-grid" attr:novalidate=true>
                                                                <input type="hidden" name="telescope_id" value=scope.id />
                                                                <TelescopeFieldsView prefix=format!("t{}", scope.id) name=scope.name model=scope.model location=scope.location notes=scope.notes />
                                                                <button type="submit" class="btn btn-primary">{t(Msg::SaveChanges)}</button>
                                                            </ActionForm>
                                                        </details>
                                                        <ActionForm action=retire>
                                                            <input type="hidden" name="telescope_id" value=scope.id />
                                                            <input type="hidden" name="retired" value=(!scope.retired).to_string() />
                                                            <button type="submit" class="btn btn-ghost">
                                                                {t(if scope.retired { Msg::Reinstate } else { Msg::Retire })}
                                                            </button>
                                                        </ActionForm>
                                                    </li>
                                                }).collect_view()}
                                            </ul>
                                        }.into_any()
                                    }}
                                    <h3>{t(Msg::AddTelescope)}</h3>
                                    {move || add_error.get().map(|error| view! { <ErrorAlert error /> })}
                                    <ActionForm action=add node_ref=add_form attr:class="form-grid" attr:novalidate=true>
                                        <input type="hidden" name="organization_id" value=id />
                                        <TelescopeFieldsView prefix="new".to_string() name=String::new() model=String::new() location=String::new() notes=String::new() />
                                        <button type="submit" class="btn btn-primary">{t(Msg::AddTelescope)}</button>
                                    </ActionForm>
                                </section>

                                <SupportContactsEditor
                                    organization_id=id
                                    members=detail
                                        .people
                                        .iter()
                                        .filter(|p| p.state != AccountState::Deactivated)
                                        .cloned()
                                        .collect()
                                    initial=detail.support_contacts
                                />
                                <section class="card stack-sm" aria-labelledby="org-people-title">
                                    <h2 class="card-title" id="org-people-title">{t(Msg::People)}</h2>
                                    <ul class="item-list">
                                        {detail.people.into_iter().map(|person| view! {
                                            <li class="item">
                                                <div class="item-main">
                                                    <strong>{person.name}</strong><br />
                                                    <span class="muted">{person.email}</span>
                                                </div>
                                                <span class="badge">{t(state_label(person.state))}</span>
                                            </li>
                                        }).collect_view()}
                                    </ul>
                                    <a href="/admin/people">{t(Msg::InvitePerson)}</a>
                                </section>
                            }
                                .into_any()
                        }
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
    .into_any()
}

/// The fields of a telescope, for adding one or editing it; `prefix` keeps ids unique on the page.
#[component]
fn TelescopeFieldsView(
    prefix: String,
    name: String,
    model: String,
    location: String,
    notes: String,
) -> impl IntoView {
    let t = use_t();
    let id = move |field: &str| format!("{prefix}-{field}");
    view! {
        <div class="field">
            <label for=id("name")>{t(Msg::TelescopeName)}</label>
            <input class="input" id=id("name") name="name" value=name />
        </div>
        <div class="field">
            <label for=id("model")>{t(Msg::TelescopeModel)}</label>
            <input class="input" id=id("model") name="model" value=model />
        </div>
        <div class="field">
            <label for=id("location")>{t(Msg::TelescopeLocation)}</label>
            <input class="input" id=id("location") name="location" value=location />
        </div>
        <div class="field">
            <label for=id("notes")>{t(Msg::Notes)}</label>
            <textarea class="input" id=id("notes") name="notes" rows="2">{notes}</textarea>
        </div>
    }
}

fn state_label(state: AccountState) -> Msg {
    match state {
        AccountState::Active => Msg::StateActive,
        AccountState::Invited => Msg::StateInvited,
        AccountState::Deactivated => Msg::StateDeactivated,
    }
}

/// The support contacts of an organization: chips of the chosen users and addresses, a search
/// box that suggests the organization's users by name or e-mail as one types, and Enter (or
/// "Add") to take a suggestion or a typed address. Nothing is saved until "Save".
#[component]
fn SupportContactsEditor(
    organization_id: i64,
    members: Vec<Person>,
    initial: Vec<SupportContact>,
) -> impl IntoView {
    let t = use_t();
    let toasts = use_toasts();
    let contacts = RwSignal::new(initial);
    let query = RwSignal::new(String::new());
    let typed_error = RwSignal::new(None::<Msg>);
    let save = ServerAction::<SaveSupportContacts>::new();
    Effect::new(move |_| match save.value().get() {
        Some(Ok(())) => toasts.push(ToastKind::Success, Msg::SupportContactsSaved),
        Some(Err(err)) => typed_error.set(Some(err.message)),
        None => {}
    });
    let members = StoredValue::new(members);
    let suggestions = Memo::new(move |_| {
        let needle = query.get().trim().to_lowercase();
        if needle.is_empty() {
            return Vec::new();
        }
        let chosen = contacts.get();
        members.with_value(|members| {
            members
                .iter()
                .filter(|p| p.name.to_lowercase().contains(&needle) || p.email.contains(&needle))
                .filter(|p| !chosen.iter().any(|c| c.user_id == Some(p.id)))
                .take(8)
                .cloned()
                .collect::<Vec<_>>()
        })
    });
    let add_member = move |person: Person| {
        contacts.update(|list| {
            list.push(SupportContact {
                user_id: Some(person.id),
                email: person.email,
                name: Some(person.name),
            })
        });
        query.set(String::new());
        typed_error.set(None);
    };
    // Enter or "Add": a suggestion when the text is not an address, else the typed address.
    let add_typed = move || {
        let text = query.get_untracked();
        if !text.contains('@') {
            if let Some(first) = suggestions.get_untracked().into_iter().next() {
                add_member(first);
            }
            return;
        }
        match Email::parse(&text) {
            Ok(email) => {
                let member =
                    members.with_value(|m| m.iter().find(|p| p.email == email.as_str()).cloned());
                match member {
                    Some(person) => add_member(person),
                    None => {
                        contacts.update(|list| {
                            if !list
                                .iter()
                                .any(|c| c.user_id.is_none() && c.email == email.as_str())
                            {
                                list.push(SupportContact {
                                    user_id: None,
                                    email: email.as_str().to_string(),
                                    name: None,
                                });
                            }
                        });
                        query.set(String::new());
                        typed_error.set(None);
                    }
                }
            }
            Err(_) => typed_error.set(Some(Msg::ErrorInvalidContactEmail)),
        }
    };
    let encoded = move || {
        contacts
            .get()
            .iter()
            .map(|c| {
                match c.user_id {
                    Some(id) => ContactEntry::User(id),
                    None => ContactEntry::Email(c.email.clone()),
                }
                .encode()
            })
            .collect::<Vec<_>>()
            .join("\n")
    };

    view! {
        <section class="card stack-sm" aria-labelledby="contacts-title">
            <h2 class="card-title" id="contacts-title">{t(Msg::SupportContacts)}</h2>
            <p class="muted">{t(Msg::SupportContactsIntro)}</p>
            <ul class="chips" aria-live="polite">
                <For each=move || contacts.get() key=|c| (c.user_id, c.email.clone()) let:contact>
                    <li class="contact-chip" data-testid="support-contact">
                        <span>
                            {contact.name.clone().map(|n| format!("{n} · ")).unwrap_or_default()}
                            {contact.email.clone()}
                        </span>
                        <button
                            type="button"
                            class="chip-remove"
                            aria-label=Msg::RemoveContact.fill(use_prefs().lang, &[("contact", &contact.email)])
                            on:click={
                                let key = (contact.user_id, contact.email.clone());
                                move |_| contacts.update(|list| list.retain(|c| (c.user_id, c.email.clone()) != key))
                            }
                        >
                            "×"
                        </button>
                    </li>
                </For>
            </ul>
            {move || contacts.with(|c| c.is_empty()).then(|| view! { <p class="muted">{t(Msg::NoSupportContacts)}</p> })}
            <div class="field">
                <label for="contact-search">{t(Msg::SupportContactSearch)}</label>
                <div class="inline-form">
                    <input
                        class="input"
                        id="contact-search"
                        autocomplete="off"
                        aria-describedby="contact-error"
                        aria-invalid=move || typed_error.get().is_some().to_string()
                        prop:value=move || query.get()
                        on:input=move |ev| {
                            query.set(event_target_value(&ev));
                            typed_error.set(None);
                        }
                        on:keydown=move |ev| {
                            if ev.key() == "Enter" {
                                ev.prevent_default();
                                add_typed();
                            }
                        }
                    />
                    <button type="button" class="btn btn-secondary" on:click=move |_| add_typed()>
                        {t(Msg::Add)}
                    </button>
                </div>
                <p class="field-error" id="contact-error" role="alert">
                    {move || typed_error.get().map(t)}
                </p>
                <ul class="suggestions">
                    <For each=move || suggestions.get() key=|p| p.id let:person>
                        <li>
                            <button
                                type="button"
                                class="suggestion"
                                on:click={
                                    let person = person.clone();
                                    move |_| add_member(person.clone())
                                }
                            >
                                {person.name.clone()}" · "<span class="muted">{person.email.clone()}</span>
                            </button>
                        </li>
                    </For>
                </ul>
            </div>
            <ActionForm action=save>
                <input type="hidden" name="organization_id" value=organization_id />
                // An attribute, not a property, so the page as sent (before its code loads) already
                // carries the current list: a save then never empties it.
                <input type="hidden" name="contacts" value=encoded />
                <button type="submit" class="btn btn-primary" aria-busy=move || save.pending().get().to_string()>
                    {t(Msg::SaveChanges)}
                </button>
            </ActionForm>
        </section>
    }
}

#[component]
pub fn BrandingPage() -> impl IntoView {
    if let Some(gate) = admin_gate() {
        return gate;
    }
    let t = use_t();
    let save = ServerAction::<UpdateBranding>::new();
    let error = form_error(save.value(), None);
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            // The whole page (header, colours) is drawn from the branding: load it again.
            let _ = window().location().reload();
        }
    });
    let settings = Resource::new(|| (), |_| admin_branding());
    view! {
        <Title text=t(Msg::Branding) />
        <div class="stack">
            <h1>{t(Msg::Branding)}</h1>
            <p class="muted">{t(Msg::BrandingIntro)}</p>
            <LogoSection current=use_portal().branding.logo_url />
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(current) => view! {
                            <section class="card stack-sm">
                                {move || error.get().map(|error| view! { <ErrorAlert error /> })}
                                <ActionForm action=save attr:class="form-grid" attr:novalidate=true>
                                    <div class="field">
                                        <label for="name">{t(Msg::ObservatoryName)}</label>
                                        <input class="input" id="name" name="name" value=current.name />
                                    </div>
                                    <div class="field">
                                        <label for="slug">{t(Msg::PortalSlug)}</label>
                                        <input class="input" id="slug" name="slug" value=current.slug aria-describedby="slug-hint" />
                                        <p class="field-hint" id="slug-hint">{t(Msg::PortalSlugHint)}</p>
                                    </div>
                                    <div class="field">
                                        <label for="sender">{t(Msg::SenderName)}</label>
                                        <input class="input" id="sender" name="email_sender_name" value=current.email_sender_name />
                                    </div>
                                    <div class="field">
                                        <label for="primary">{t(Msg::PrimaryColour)}</label>
                                        <input class="input input-colour" id="primary" name="primary_color" type="color" value=current.primary_color aria-describedby="colour-hint" />
                                    </div>
                                    <div class="field">
                                        <label for="accent">{t(Msg::AccentColour)}</label>
                                        <input class="input input-colour" id="accent" name="accent_color" type="color" value=current.accent_color aria-describedby="colour-hint" />
                                        <p class="field-hint" id="colour-hint">{t(Msg::ColourHint)}</p>
                                    </div>
                                    <TimeZoneSelect hint=Msg::ObservatoryTimeZoneHint observatory_setting=Some(current.time_zone) />
                                    <button type="submit" class="btn btn-primary" aria-busy=move || save.pending().get().to_string()>
                                        {t(Msg::SaveChanges)}
                                    </button>
                                </ActionForm>
                            </section>
                        }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
    .into_any()
}

/// Which e-mails the portal sends about requests, and where staff notices of unassigned
/// requests go. A plain form of checkboxes: it works before the page's code has loaded.
#[component]
pub fn NotificationsPage() -> impl IntoView {
    if let Some(gate) = admin_gate() {
        return gate;
    }
    let t = use_t();
    let toasts = use_toasts();
    let from_redirect = use_query_map().with_untracked(error_from_query);
    let typed_queue = StoredValue::new(use_form_draft().field("queue_email"));
    let save = ServerAction::<SaveNotifications>::new();
    let error = form_error(save.value(), from_redirect);
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            toasts.push(ToastKind::Success, Msg::NotificationsSaved);
        }
    });
    let settings = Resource::new(move || save.version().get(), |_| admin_notifications());
    view! {
        <Title text=t(Msg::EmailNotifications) />
        <div class="stack">
            <h1>{t(Msg::EmailNotifications)}</h1>
            <p class="muted">{t(Msg::NotificationsIntro)}</p>
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match settings.await {
                        Ok(current) => view! {
                            <section class="card stack-sm">
                                {move || error.get().map(|error| view! { <ErrorAlert error /> })}
                                <ActionForm action=save attr:class="stack-sm" attr:novalidate=true>
                                    <div class="field">
                                        <label for="queue-email">{t(Msg::QueueEmail)}</label>
                                        <input class="input" id="queue-email" name="queue_email" type="email" inputmode="email" value=typed_queue.with_value(|typed| if typed.is_empty() { current.queue_email.clone() } else { typed.clone() }) aria-describedby="queue-hint" />
                                        <p class="field-hint" id="queue-hint">{t(Msg::QueueEmailHint)}</p>
                                    </div>
                                    <fieldset class="choice-group stack-sm">
                                        <legend>{t(Msg::NotificationRules)}</legend>
                                        <RuleCheckboxes rules=current.rules />
                                    </fieldset>
                                    <button type="submit" class="btn btn-primary" aria-busy=move || save.pending().get().to_string()>
                                        {t(Msg::SaveNotifications)}
                                    </button>
                                </ActionForm>
                            </section>
                        }.into_any(),
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Suspense>
            <CadencesSection />
        </div>
    }
    .into_any()
}

/// The life cycle's cadences: reminders and automatic closure.
#[component]
fn CadencesSection() -> impl IntoView {
    let t = use_t();
    let toasts = use_toasts();
    let save = ServerAction::<SaveCadences>::new();
    let error = form_error(save.value(), None);
    Effect::new(move |_| {
        if let Some(Ok(())) = save.value().get() {
            toasts.push(ToastKind::Success, Msg::ChangesSaved);
        }
    });
    let cadences = Resource::new(move || save.version().get(), |_| admin_cadences());
    view! {
        <section class="card stack-sm" aria-labelledby="cadence-title">
            <h2 class="card-title" id="cadence-title">{t(Msg::CadenceTitle)}</h2>
            <p class="muted">{t(Msg::CadenceIntro)}</p>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <Suspense>
                {move || Suspend::new(async move {
                    cadences.await.ok().map(|current| view! {
                        <ActionForm action=save attr:class="form-grid" attr:novalidate=true>
                            <div class="field">
                                <label for="reminder-hours">{t(Msg::ReminderHours)}</label>
                                <input class="input" id="reminder-hours" name="reminder_hours" type="number" inputmode="numeric" min="1" max="720" value=current.reminder_hours.to_string() />
                            </div>
                            <div class="field">
                                <label for="reminder-count">{t(Msg::ReminderCount)}</label>
                                <input class="input" id="reminder-count" name="reminder_count" type="number" inputmode="numeric" min="0" max="10" value=current.reminder_count.to_string() />
                            </div>
                            <div class="field">
                                <label for="closure-hours">{t(Msg::ClosureHours)}</label>
                                <input class="input" id="closure-hours" name="closure_hours" type="number" inputmode="numeric" min="1" max="720" value=current.closure_hours.to_string() />
                            </div>
                            <button type="submit" class="btn btn-primary" aria-busy=move || save.pending().get().to_string()>
                                {t(Msg::SaveChanges)}
                            </button>
                        </ActionForm>
                    })
                })}
            </Suspense>
        </section>
    }
}

/// One checkbox per rule, named by its code and ticked when on.
#[component]
pub fn RuleCheckboxes(rules: Vec<RuleSwitch>) -> impl IntoView {
    let t = use_t();
    rules
        .into_iter()
        .map(|switch| {
            view! {
                <label class="checkbox">
                    <input type="checkbox" name=switch.rule.code() value="on" checked=switch.on data-testid=format!("rule-{}", switch.rule.code()) />
                    {t(switch.rule.label())}
                </label>
            }
        })
        .collect_view()
}

/// The logo form: a plain multipart post (it works before the page's code has loaded); the
/// server answers with a redirect back here, with `?error=…` or `?logo=saved`.
#[component]
fn LogoSection(current: Option<String>) -> impl IntoView {
    let t = use_t();
    let (error, saved) =
        use_query_map().with_untracked(|q| (error_from_query(q), q.get("logo").is_some()));
    view! {
        <section class="card stack-sm" aria-labelledby="logo-title">
            <h2 class="card-title" id="logo-title">{t(Msg::Logo)}</h2>
            {current.map(|src| view! { <img class="logo-preview" src=src alt=t(Msg::CurrentLogo) /> })}
            {saved.then(|| view! { <div class="alert alert-success" role="status">{t(Msg::LogoSaved)}</div> })}
            {error.map(|error| view! { <ErrorAlert error /> })}
            <form method="post" action="/admin/branding/logo" enctype="multipart/form-data" class="inline-form">
                <div class="field">
                    <label for="logo">{t(Msg::Logo)}</label>
                    <input class="input" id="logo" name="logo" type="file" accept="image/png,image/jpeg,image/webp" aria-describedby="logo-hint" />
                </div>
                <button type="submit" class="btn btn-secondary">{t(Msg::UploadLogo)}</button>
            </form>
            <p class="field-hint" id="logo-hint">{t(Msg::LogoHint)}</p>
        </section>
    }
}

/// The outgoing e-mail: every mail the portal queued, its state and the mail server's last
/// answer; failed ones can be retried and unsent ones cancelled. Filters and pages are links,
/// so they work before the page's code has loaded.
#[component]
pub fn OutboxPage() -> impl IntoView {
    if let Some(gate) = admin_gate() {
        return gate;
    }
    let t = use_t();
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| match q.get("state").as_deref() {
            Some("waiting") => "waiting",
            Some("failed") => "failed",
            _ => "all",
        })
    });
    let before =
        Memo::new(move |_| query.with(|q| q.get("before").and_then(|b| b.parse::<i64>().ok())));
    let retry = ServerAction::<RetryMail>::new();
    let cancel = ServerAction::<CancelMail>::new();
    toast_outcome(retry, Msg::MailRetried);
    toast_outcome(cancel, Msg::MailSendingCancelled);
    let mails = Resource::new(
        move || {
            (
                filter.get(),
                before.get(),
                retry.version().get(),
                cancel.version().get(),
            )
        },
        |(filter, before, _, _)| admin_outbox(filter.to_string(), before),
    );
    let tabs = [
        ("all", Msg::MailFilterAll),
        ("waiting", Msg::MailWaiting),
        ("failed", Msg::MailFailed),
    ];
    view! {
        <Title text=t(Msg::Outbox) />
        <div class="stack">
            <h1>{t(Msg::Outbox)}</h1>
            <p class="muted">{t(Msg::OutboxIntro)}</p>
            <nav class="view-tabs" aria-label=t(Msg::Filters)>
                {tabs
                    .into_iter()
                    .map(|(code, label)| {
                        view! {
                            <a
                                class="view-tab"
                                href=format!("/admin/outbox?state={code}")
                                aria-current=move || (filter.get() == code).then_some("page")
                            >
                                {t(label)}
                            </a>
                        }
                    })
                    .collect_view()}
            </nav>
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match mails.await {
                        Ok(list) if list.is_empty() => {
                            view! { <EmptyState title=t(Msg::NoMails) body=t(Msg::NoMailsBody) /> }.into_any()
                        }
                        Ok(list) => {
                            let older = (list.len() as i64 >= OUTBOX_PAGE)
                                .then(|| list.last().map(|m| m.id))
                                .flatten();
                            view! {
                                <div class="table-wrap">
                                    <table class="data-table table-stacked" data-testid="outbox">
                                        <caption class="visually-hidden">{t(Msg::Outbox)}</caption>
                                        <thead>
                                            <tr>
                                                <th scope="col">{t(Msg::MailRecipient)}</th>
                                                <th scope="col">{t(Msg::Subject)}</th>
                                                <th scope="col">{t(Msg::State)}</th>
                                                <th scope="col">{t(Msg::MailQueuedAt)}</th>
                                                <th scope="col">{t(Msg::Actions)}</th>
                                            </tr>
                                        </thead>
                                        <tbody>
                                            {list
                                                .into_iter()
                                                .map(|mail| view! { <OutboxRow mail retry cancel /> })
                                                .collect_view()}
                                        </tbody>
                                    </table>
                                </div>
                                {older
                                    .map(|id| {
                                        view! {
                                            <a class="btn btn-secondary" href=format!("/admin/outbox?state={}&before={id}", filter.get_untracked())>
                                                {t(Msg::OlderMails)}
                                            </a>
                                        }
                                    })}
                            }
                                .into_any()
                        }
                        Err(error) => view! { <PageError error /> }.into_any(),
                    }
                })}
            </Suspense>
        </div>
    }
    .into_any()
}

#[component]
fn OutboxRow(
    mail: OutboxMail,
    retry: ServerAction<RetryMail>,
    cancel: ServerAction<CancelMail>,
) -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let zone = use_zone();
    let id = mail.id;
    let kind = mail_kind_label(&mail.kind)
        .map(|label| t(label).to_string())
        .unwrap_or_else(|| mail.kind.clone());
    let detail = match mail.state {
        MailState::Sent => mail
            .sent_at
            .map(|at| Msg::MailSentAt.fill(lang, &[("when", &format_time(&at, &zone))])),
        MailState::Waiting => mail
            .next_attempt_at
            .map(|at| Msg::MailNextAttempt.fill(lang, &[("when", &format_time(&at, &zone))])),
        MailState::Failed | MailState::Cancelled => None,
    };
    let answer = mail
        .last_error
        .filter(|_| mail.state != MailState::Sent)
        .map(|answer| Msg::MailServerAnswer.fill(lang, &[("answer", &answer)]));
    view! {
        <tr data-testid="outbox-row" data-state=mail.state.code()>
            <th scope="row" class="break-anywhere">{mail.to}</th>
            <td>
                {mail.subject}
                <br />
                <span class="muted">{kind}</span>
            </td>
            <td>
                <span class=format!("badge badge-mail-{}", mail.state.code())>{t(mail.state.label())}</span>
                <br />
                <span class="muted">{Msg::MailAttempts.fill(lang, &[("count", &mail.attempts.to_string())])}</span>
                {detail.map(|detail| view! { <br /><span class="muted">{detail}</span> })}
                {answer.map(|answer| view! { <p class="field-hint break-anywhere">{answer}</p> })}
            </td>
            <td><Time at=mail.created_at /></td>
            <td>
                <div class="row-actions">
                {(mail.state == MailState::Failed)
                    .then(|| {
                        view! {
                            <ActionForm action=retry>
                                <input type="hidden" name="mail_id" value=id />
                                <button type="submit" class="btn btn-secondary">{t(Msg::RetryMail)}</button>
                            </ActionForm>
                        }
                    })}
                {matches!(mail.state, MailState::Waiting | MailState::Failed)
                    .then(|| {
                        view! {
                            <ActionForm action=cancel>
                                <input type="hidden" name="mail_id" value=id />
                                <button type="submit" class="btn btn-ghost">{t(Msg::CancelMail)}</button>
                            </ActionForm>
                        }
                    })}
                </div>
            </td>
        </tr>
    }
}
