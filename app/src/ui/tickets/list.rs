//! The start page: the person's requests (clients: their organization's; staff: the queue),
//! with views, filters, keyword search and keyset pages. The filter lives in the address, and
//! the filter form is a plain GET form, so it works before the page's code has loaded.

use super::TicketItem;
use crate::api::{list_tickets, ticket_choices};
use crate::error::UserError;
use crate::i18n::Msg;
use crate::model::{
    AssigneeFilter, EntryKind, NewTicketChoices, Priority, RequestType, ResolutionFilter,
    SessionUser, Status, TicketFilter, TicketPage, TicketSort, TicketView,
};
use crate::ui::components::{EmptyState, PageError};
use crate::ui::live::follow_events;
use crate::ui::prefs::{use_prefs, use_t};
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_query_map;
use std::collections::HashSet;

#[component]
pub fn HomePage() -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let portal = use_portal();
    let Some(user) = portal.user else {
        return view! { <Redirect path="/sign-in" /> }.into_any();
    };
    let staff = user.role.is_staff();
    let query = use_query_map();
    let filter = Memo::new(move |_| {
        query.with(|q| TicketFilter::from_pairs(q.latest_values().map(|(k, v)| (k.as_ref(), v))))
    });
    let page = Resource::new(move || filter.get().to_query_string(), list_tickets);
    // The list's own `page` (the loaded value) hides this name where `ListChanges` needs it.
    let page_resource = page;
    let choices = Resource::new(|| (), |_| ticket_choices());
    let title = if staff {
        Msg::RequestsQueue
    } else {
        Msg::Requests
    };

    view! {
        <Title text=t(title) />
        <div class="stack">
            <div class="page-head">
                <div>
                    <h1>{t(title)}</h1>
                    <ProfileLine user=user.clone() observatory=portal.branding.name.clone() />
                </div>
                <a class="btn btn-primary" href="/tickets/new">
                    {t(Msg::NewRequest)}
                </a>
            </div>
            <Suspense fallback=|| ()>
                {move || Suspend::new(async move {
                    let choices = choices.await.ok();
                    view! { <FilterForm filter=filter.get_untracked() choices staff /> }
                })}
            </Suspense>
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    let current = filter.get_untracked();
                    match page.await {
                        Ok(page) => {
                            let counts = page.counts;
                            let live_from = page.live_from;
                            let empty = page.items.is_empty();
                            let next = page.next.clone().map(|after| {
                                let next = TicketFilter {
                                    after: Some(after),
                                    ..current.clone()
                                };
                                format!("/?{}", next.to_query_string())
                            });
                            let first = current
                                .after
                                .is_some()
                                .then(|| format!("/?{}", current.first_page().to_query_string()));
                            view! {
                                <nav class="view-tabs" aria-label=t(Msg::Filters)>
                                    {TicketView::ALL
                                        .into_iter()
                                        .map(|view| {
                                            let (label, count) = match view {
                                                TicketView::All => (Msg::ViewAll, counts.all),
                                                TicketView::Open => (Msg::ViewOpen, counts.open),
                                                TicketView::Closed => (Msg::ViewClosed, counts.closed),
                                            };
                                            let target = TicketFilter {
                                                view,
                                                ..current.first_page()
                                            };
                                            view! {
                                                <a
                                                    class="view-tab"
                                                    href=format!("/?{}", target.to_query_string())
                                                    aria-current=(view == current.view).then_some("page")
                                                >
                                                    {t(label)}
                                                    <span class="view-count">{counts.format(count, lang)}</span>
                                                </a>
                                            }
                                        })
                                        .collect_view()}
                                </nav>
                                <ListChanges live_from page=page_resource />
                                {if empty {
                                    view! {
                                        <EmptyState
                                            title=t(if current == TicketFilter::default() { Msg::NoRequestsYet } else { Msg::NoMatches })
                                            body=t(if current == TicketFilter::default() { Msg::NoRequestsYetBody } else { Msg::NoMatchesBody })
                                        />
                                    }
                                        .into_any()
                                } else {
                                    view! {
                                        <ul class="ticket-list" aria-label=t(Msg::Requests)>
                                            {page
                                                .items
                                                .into_iter()
                                                .map(|ticket| view! { <TicketItem ticket show_organization=staff /> })
                                                .collect_view()}
                                        </ul>
                                    }
                                        .into_any()
                                }}
                                <nav class="pager" aria-label=Msg::RequestsCount.fill(lang, &[("count", &counts.format(counts.all, lang))])>
                                    {first.map(|href| view! { <a class="btn btn-secondary" href=href>{t(Msg::FirstPage)}</a> })}
                                    {next.map(|href| view! { <a class="btn btn-secondary" href=href rel="next">{t(Msg::NextPage)}</a> })}
                                </nav>
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

/// What changes the list: a request opened, or its status, assignee or priority changed (by a
/// person or by the portal itself).
const LIST_EVENT_KINDS: [EntryKind; 5] = [
    EntryKind::Created,
    EntryKind::Status,
    EntryKind::Assignment,
    EntryKind::Priority,
    EntryKind::System,
];

/// "Requests changed since you opened the list: N": the list follows the requests' events, and shows
/// them when asked, so nothing moves under the reader's pointer.
#[component]
fn ListChanges(live_from: i64, page: Resource<Result<TicketPage, UserError>>) -> impl IntoView {
    let lang = use_prefs().lang;
    let changed = RwSignal::new(HashSet::<String>::new());
    follow_events(None, live_from, move |heard| {
        if LIST_EVENT_KINDS
            .iter()
            .any(|kind| kind.code() == heard.kind)
        {
            changed.update(|changed| {
                changed.insert(heard.ticket);
            });
        }
    });
    view! {
        <div class="list-changes" aria-live="polite">
            {move || {
                let count = changed.with(HashSet::len);
                (count > 0).then(|| view! {
                    <button type="button" class="btn btn-secondary list-changes-bar" data-testid="list-changes" on:click=move |_| page.refetch()>
                        {Msg::ListChanged.fill(lang, &[("count", &count.to_string())])}
                    </button>
                })
            }}
        </div>
    }
}

/// Who is signed in, in one line (name, role, organization).
#[component]
fn ProfileLine(user: SessionUser, observatory: String) -> impl IntoView {
    let t = use_t();
    view! {
        <p class="muted profile-line">
            <span data-testid="profile-name">{user.name}</span>
            " · "
            <span data-testid="profile-role">{t(user.role.label())}</span>
            " · "
            {match user.organization {
                Some(org) => view! { <span data-testid="profile-organization">{org}</span> }.into_any(),
                None => view! { <span>{observatory}</span> }.into_any(),
            }}
        </p>
    }
}

/// A `<select>` whose first option means "any".
#[component]
fn FilterSelect(
    id: &'static str,
    name: &'static str,
    label: Msg,
    options: Vec<(String, String)>,
    selected: Option<String>,
) -> impl IntoView {
    let t = use_t();
    view! {
        <div class="field">
            <label for=id>{t(label)}</label>
            <select class="input" id=id name=name>
                <option value="">{t(Msg::AnyOption)}</option>
                {options
                    .into_iter()
                    .map(|(value, text)| {
                        let is_selected = selected.as_deref() == Some(value.as_str());
                        view! {
                            <option value=value selected=is_selected>
                                {text}
                            </option>
                        }
                    })
                    .collect_view()}
            </select>
        </div>
    }
}

#[component]
fn FilterForm(
    filter: TicketFilter,
    choices: Option<NewTicketChoices>,
    staff: bool,
) -> impl IntoView {
    let t = use_t();
    let choices = choices.unwrap_or(NewTicketChoices {
        organizations: Vec::new(),
        agents: Vec::new(),
    });
    let telescopes: Vec<(String, String)> = choices
        .organizations
        .iter()
        .flat_map(|org| {
            org.telescopes.iter().map(move |tel| {
                let text = if staff {
                    format!("{} · {}", tel.name, org.name)
                } else {
                    tel.name.clone()
                };
                (tel.id.to_string(), text)
            })
        })
        .collect();
    let organizations: Vec<(String, String)> = choices
        .organizations
        .iter()
        .map(|o| (o.id.to_string(), o.name.clone()))
        .collect();
    let mut assignees = vec![("none".to_string(), t(Msg::Unassigned).to_string())];
    assignees.extend(
        choices
            .agents
            .iter()
            .map(|a| (a.id.to_string(), a.name.clone())),
    );
    let assignee = filter.assignee.map(|a| match a {
        AssigneeFilter::Unassigned => "none".to_string(),
        AssigneeFilter::User(id) => id.to_string(),
    });
    let has_filters = filter.first_page() != TicketFilter::default();
    // Keywords alone leave the panel closed, so results come first on a phone.
    let filters_open = TicketFilter {
        query: String::new(),
        ..filter.first_page()
    } != TicketFilter::default();
    view! {
        <form class="card filter-form" method="get" action="/" role="search">
            <div class="search-row">
                <label class="visually-hidden" for="q">{t(Msg::SearchLabel)}</label>
                <input
                    class="input"
                    type="search"
                    id="q"
                    name="q"
                    value=filter.query.clone()
                    placeholder=t(Msg::SearchLabel)
                    enterkeyhint="search"
                    aria-describedby="q-hint"
                />
                <button type="submit" class="btn btn-primary">{t(Msg::Search)}</button>
            </div>
            <p class="field-hint" id="q-hint">{t(Msg::SearchHint)}</p>
            <details class="filters" open=filters_open>
                <summary>{t(Msg::Filters)}</summary>
                <div class="filter-grid">
                    {(filter.view != TicketView::All)
                        .then(|| view! { <input type="hidden" name="view" value=filter.view.code() /> })}
                    <FilterSelect
                        id="filter-status"
                        name="status"
                        label=Msg::StatusLabel
                        options=Status::ALL.iter().map(|s| (s.code().to_string(), t(s.label()).to_string())).collect()
                        selected=filter.status.map(|s| s.code().to_string())
                    />
                    <FilterSelect
                        id="filter-type"
                        name="type"
                        label=Msg::RequestTypeLabel
                        options=RequestType::ALL.iter().map(|r| (r.code().to_string(), t(r.label()).to_string())).collect()
                        selected=filter.request_type.map(|r| r.code().to_string())
                    />
                    <FilterSelect
                        id="filter-priority"
                        name="priority"
                        label=Msg::PriorityLabel
                        options=Priority::ALL.iter().rev().map(|p| (p.code().to_string(), t(p.label()).to_string())).collect()
                        selected=filter.priority.map(|p| p.code().to_string())
                    />
                    <FilterSelect
                        id="filter-resolution"
                        name="resolution"
                        label=Msg::ResolutionLabel
                        options=ResolutionFilter::ALL.iter().map(|r| (r.code().to_string(), t(r.label()).to_string())).collect()
                        selected=filter.resolution.map(|r| r.code().to_string())
                    />
                    <FilterSelect
                        id="filter-telescope"
                        name="telescope"
                        label=Msg::Telescope
                        options=telescopes
                        selected=filter.telescope.map(|id| id.to_string())
                    />
                    {staff
                        .then(|| {
                            view! {
                                <FilterSelect
                                    id="filter-organization"
                                    name="organization"
                                    label=Msg::Organization
                                    options=organizations
                                    selected=filter.organization.map(|id| id.to_string())
                                />
                                <FilterSelect
                                    id="filter-assignee"
                                    name="assignee"
                                    label=Msg::Assignee
                                    options=assignees
                                    selected=assignee
                                />
                            }
                        })}
                    <div class="field">
                        <label for="filter-sort">{t(Msg::SortBy)}</label>
                        <select class="input" id="filter-sort" name="sort">
                            {TicketSort::ALL
                                .into_iter()
                                .map(|sort| {
                                    let label = match sort {
                                        TicketSort::Updated => Msg::SortUpdated,
                                        TicketSort::Created => Msg::SortCreated,
                                        TicketSort::Priority => Msg::SortPriority,
                                    };
                                    view! {
                                        <option value=sort.code() selected=sort == filter.sort>
                                            {t(label)}
                                        </option>
                                    }
                                })
                                .collect_view()}
                        </select>
                    </div>
                    <label class="checkbox">
                        <input type="checkbox" name="mine" value="1" checked=filter.mine />
                        {t(if staff { Msg::MineStaff } else { Msg::MineClient })}
                    </label>
                </div>
                <div class="cluster">
                    <button type="submit" class="btn btn-secondary">{t(Msg::ApplyFilters)}</button>
                    {has_filters.then(|| view! { <a class="btn btn-ghost" href="/">{t(Msg::ClearFilters)}</a> })}
                </div>
            </details>
        </form>
    }
}
