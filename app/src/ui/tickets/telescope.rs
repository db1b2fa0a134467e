//! A telescope's history: every request about it, newest first (installation, repairs, updates,
//! visits), for its client and for staff.

use super::TicketItem;
use crate::api::get_telescope_history;
use crate::i18n::Msg;
use crate::ui::components::{EmptyState, PageError};
use crate::ui::prefs::{use_prefs, use_t};
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::use_params_map;

#[component]
pub fn TelescopePage() -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let Some(user) = use_portal().user else {
        return view! { <Redirect path="/sign-in" /> }.into_any();
    };
    let staff = user.role.is_staff();
    let params = use_params_map();
    let history = Resource::new(
        move || params.with(|p| p.get("id").and_then(|id| id.parse::<i64>().ok())),
        |id| async move {
            match id {
                Some(id) => get_telescope_history(id).await,
                None => Err(crate::error::UserError::new(Msg::ErrorNotFound)),
            }
        },
    );
    view! {
        <div class="stack">
            <a class="back-link" href="/">{t(Msg::BackToRequests)}</a>
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match history.await {
                        Ok(history) => {
                            let title = Msg::TelescopeHistoryTitle.fill(lang, &[("name", &history.name)]);
                            view! {
                                <Title text=title.clone() />
                                <h1>{title}</h1>
                                <dl class="profile-summary card">
                                    <dt>{t(Msg::TelescopeModel)}</dt>
                                    <dd>{history.model}</dd>
                                    <dt>{t(Msg::TelescopeLocation)}</dt>
                                    <dd>{history.location}</dd>
                                    <dt>{t(Msg::Organization)}</dt>
                                    <dd>{history.organization}</dd>
                                    <dt>{t(Msg::State)}</dt>
                                    <dd>{t(if history.retired { Msg::Retired } else { Msg::Active })}</dd>
                                </dl>
                                {if history.tickets.is_empty() {
                                    view! { <EmptyState title=t(Msg::NoRequestsYet) body=t(Msg::NoRequestsForTelescope) /> }.into_any()
                                } else {
                                    view! {
                                        <ul class="ticket-list" aria-label=t(Msg::History)>
                                            {history
                                                .tickets
                                                .into_iter()
                                                .map(|ticket| view! { <TicketItem ticket show_organization=staff /> })
                                                .collect_view()}
                                        </ul>
                                    }
                                        .into_any()
                                }}
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
