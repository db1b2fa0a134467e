//! The bell: in the header, the count of unread notifications (kept current by a slow poll,
//! and soon after each live event a page hears); `/notifications`, the list: which request,
//! what happened, when, a link to the entry, marked read one by one or all at once.

use super::components::{ErrorAlert, PageError};
use super::icons::BellIcon;
use super::prefs::{use_prefs, use_t};
use super::tickets::detail::entry_heading;
use super::tickets::Time;
use crate::api::{bell_unread, get_bell, MarkBellRead};
use crate::i18n::Msg;
use crate::model::{BellItem, EntryKind};
use crate::ui::components::form_error;
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;

/// How often the header asks for the count while the page is visible.
#[cfg(feature = "hydrate")]
const POLL_EVERY_MS: u32 = 30_000;
/// After a live event, the notifier has told its people within a few seconds.
#[cfg(feature = "hydrate")]
const AFTER_EVENT_MS: u32 = 3_000;

/// The header's unread count, shared with the pages that hear live events.
#[derive(Clone, Copy)]
pub struct BellState {
    /// `None` until first read.
    pub unread: RwSignal<Option<i64>>,
    /// A read is planned already.
    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    planned: StoredValue<bool>,
}

impl BellState {
    pub fn provide() -> BellState {
        let state = BellState {
            unread: RwSignal::new(None),
            planned: StoredValue::new(false),
        };
        provide_context(state);
        state
    }

    /// Reads the count again a little later (once, however many events ask).
    pub fn refresh_soon(self) {
        #[cfg(feature = "hydrate")]
        {
            if self.planned.get_value() {
                return;
            }
            self.planned.set_value(true);
            leptos::task::spawn_local(async move {
                gloo_timers::future::TimeoutFuture::new(AFTER_EVENT_MS).await;
                self.planned.try_set_value(false);
                self.refresh().await;
            });
        }
    }

    #[cfg_attr(not(feature = "hydrate"), allow(dead_code))]
    async fn refresh(self) {
        if let Ok(count) = bell_unread().await {
            if self.unread.try_get_untracked() != Some(Some(count)) {
                self.unread.try_set(Some(count));
            }
        }
    }
}

pub fn use_bell() -> Option<BellState> {
    use_context::<BellState>()
}

/// The bell in the header: a link to the list, with the unread count.
#[component]
pub fn BellLink() -> impl IntoView {
    let lang = use_prefs().lang;
    let state = use_bell().unwrap_or_else(BellState::provide);
    #[cfg(feature = "hydrate")]
    leptos::task::spawn_local(async move {
        loop {
            if !document().hidden() {
                state.refresh().await;
            }
            gloo_timers::future::TimeoutFuture::new(POLL_EVERY_MS).await;
            if state.unread.try_get_untracked().is_none() {
                return;
            }
        }
    });
    let path = leptos_router::hooks::use_location().pathname;
    view! {
        <a
            class="bell"
            href="/notifications"
            data-testid="bell"
            aria-current=move || (path.get() == "/notifications").then_some("page")
            aria-label=move || {
                let count = state.unread.get().unwrap_or(0).to_string();
                Msg::BellLabel.fill(lang, &[("count", &count)])
            }
        >
            <BellIcon />
            {move || {
                state
                    .unread
                    .get()
                    .filter(|count| *count > 0)
                    .map(|count| {
                        let shown = if count > 99 { "99+".to_string() } else { count.to_string() };
                        view! { <span class="bell-count" aria-hidden="true" data-testid="bell-count">{shown}</span> }
                    })
            }}
        </a>
    }
}

/// `/notifications`: the person's newest notifications.
#[component]
pub fn BellPage() -> impl IntoView {
    let t = use_t();
    if use_portal().user.is_none() {
        return view! { <Redirect path="/sign-in" /> }.into_any();
    }
    let mark = ServerAction::<MarkBellRead>::new();
    let bell = Resource::new(move || mark.version().get(), |_| get_bell());
    let error = form_error(mark.value(), None);
    let state = use_bell();
    view! {
        <Title text=t(Msg::BellTitle) />
        <div class="stack">
            <h1>{t(Msg::BellTitle)}</h1>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {move || Suspend::new(async move {
                    match bell.await {
                        Ok(bell) => {
                            if let Some(state) = state {
                                state.unread.set(Some(bell.unread));
                            }
                            view! { <BellList items=bell.items unread=bell.unread mark /> }.into_any()
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
fn BellList(items: Vec<BellItem>, unread: i64, mark: ServerAction<MarkBellRead>) -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    if items.is_empty() {
        return view! { <p class="card muted" data-testid="bell-empty">{t(Msg::BellEmpty)}</p> }
            .into_any();
    }
    view! {
        <div class="cluster bell-head">
            <p data-testid="bell-unread">
                {Msg::BellUnreadCount.fill(lang, &[("count", &unread.to_string())])}
            </p>
            {(unread > 0).then(|| view! {
                <ActionForm action=mark>
                    <button type="submit" class="btn btn-secondary">{t(Msg::BellMarkAllRead)}</button>
                </ActionForm>
            })}
        </div>
        <ul class="bell-list stack-sm">
            {items
                .into_iter()
                .map(|item| view! { <BellEntry item mark /> })
                .collect_view()}
        </ul>
    }
    .into_any()
}

#[component]
fn BellEntry(item: BellItem, mark: ServerAction<MarkBellRead>) -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    // A full load, so that the browser scrolls to the entry.
    let href = format!("/tickets/{}#entry-{}", item.number, item.entry.id);
    let said = matches!(
        item.entry.kind,
        EntryKind::Message | EntryKind::Created | EntryKind::Attachment
    )
    .then(|| excerpt(&item.entry.body));
    let id = item.id;
    let open = move |ev: leptos::ev::MouseEvent| {
        if item.read {
            return;
        }
        // Marked read first, then opened (a navigation would cut the call short).
        #[cfg(feature = "hydrate")]
        {
            use wasm_bindgen::JsCast;
            let Some(href) = ev
                .current_target()
                .and_then(|target| target.dyn_into::<web_sys::HtmlAnchorElement>().ok())
                .map(|link| link.href())
            else {
                return;
            };
            // Opened elsewhere (a new tab, a new window): marked read on the side.
            if ev.ctrl_key() || ev.meta_key() || ev.shift_key() || ev.button() != 0 {
                leptos::task::spawn_local(async move {
                    let _ = crate::api::mark_bell_read(Some(id)).await;
                });
                return;
            }
            ev.prevent_default();
            leptos::task::spawn_local(async move {
                let _ = crate::api::mark_bell_read(Some(id)).await;
                let _ = window().location().assign(&href);
            });
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = (ev, id);
    };
    view! {
        <li class="card bell-item" class:bell-unread=!item.read data-testid="bell-item">
            <a class="bell-ticket" href=href rel="external" on:click=open>
                <span class="ticket-number">{item.number.clone()}</span>
                " · "
                {item.subject.clone()}
            </a>
            <p class="bell-what">{entry_heading(&item.entry, lang)}</p>
            {said.map(|said| view! { <p class="muted bell-said">{said}</p> })}
            <div class="cluster bell-foot">
                <Time at=item.entry.created_at />
                {if item.read {
                    view! { <span class="muted">{t(Msg::BellRead)}</span> }.into_any()
                } else {
                    view! {
                        <span class="badge">{t(Msg::BellUnread)}</span>
                        <ActionForm action=mark>
                            <input type="hidden" name="id" value=id.to_string() />
                            <button type="submit" class="btn btn-ghost">{t(Msg::BellMarkRead)}</button>
                        </ActionForm>
                    }
                    .into_any()
                }}
            </div>
        </li>
    }
}

/// The start of what was said, on one line.
fn excerpt(text: &str) -> String {
    const SHOWN_CHARS: usize = 160;
    let line = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if line.chars().count() <= SHOWN_CHARS {
        return line;
    }
    let mut cut: String = line.chars().take(SHOWN_CHARS).collect();
    cut.push('…');
    cut
}
