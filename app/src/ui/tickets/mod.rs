//! Requests: the list (the start page), a new request, a ticket's page, a telescope's history.

pub mod detail;
pub mod list;
pub mod new;
mod presence;
pub mod telescope;

use super::components::{PriorityBadge, StatusBadge};
use super::prefs::use_t;
use crate::i18n::Msg;
use crate::model::{format_time, Status, TextSegment, TicketSummary};
use crate::use_zone;
use leptos::prelude::*;

/// A text with the words a search matched in `<mark>`.
#[component]
pub fn Highlighted(segments: Vec<TextSegment>) -> impl IntoView {
    segments
        .into_iter()
        .map(|segment| {
            if segment.hit {
                view! { <mark>{segment.text}</mark> }.into_any()
            } else {
                segment.text.into_any()
            }
        })
        .collect_view()
}

/// `<time>` with the portal's date format, in the person's zone (named in full on hover).
#[component]
pub fn Time(at: chrono::DateTime<chrono::Utc>) -> impl IntoView {
    let zone = use_zone();
    view! { <time datetime=at.to_rfc3339() title=zone.name.clone()>{format_time(&at, &zone)}</time> }
}

/// One request in a list: number, subject (highlighted in search results), badges, details.
#[component]
pub fn TicketItem(ticket: TicketSummary, show_organization: bool) -> impl IntoView {
    let t = use_t();
    let href = format!("/tickets/{}", ticket.number);
    let subject = match ticket.subject_hits {
        Some(segments) => view! { <Highlighted segments /> }.into_any(),
        None => ticket.subject.into_any(),
    };
    view! {
        <li class="ticket-item" data-testid="ticket-item">
            <div class="ticket-item-head">
                <a class="ticket-item-subject" href=href>
                    <span class="ticket-number">{ticket.number.clone()}</span>
                    <span>{subject}</span>
                </a>
                <span class="ticket-item-badges">
                    <StatusBadge status=ticket.status />
                    {match (ticket.status, ticket.resolution) {
                        (_, Some(resolution)) => Some(resolution.label()),
                        (Status::Done, None) => Some(Msg::ResolutionPending),
                        _ => None,
                    }
                        .map(|label| view! { <span class="badge badge-lifecycle">{t(label)}</span> })}
                    <PriorityBadge priority=ticket.priority />
                </span>
            </div>
            {ticket
                .excerpt
                .map(|segments| {
                    view! {
                        <p class="ticket-excerpt">
                            <Highlighted segments />
                        </p>
                    }
                })}
            <p class="ticket-item-meta muted">
                <span>{t(ticket.request_type.label())}</span>
                {show_organization.then(|| view! { <span>{ticket.organization.clone()}</span> })}
                {ticket.telescope.map(|name| view! { <span>{name}</span> })}
                {ticket.assignee.map(|name| view! { <span>{t(Msg::Assignee)} ": " {name}</span> })}
                <span>{t(Msg::UpdatedAt)} " " <Time at=ticket.updated_at /></span>
            </p>
        </li>
    }
}
