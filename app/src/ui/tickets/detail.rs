//! A ticket's page: its details, the whole timeline in order, and what the viewer may do:
//! reply (staff may leave internal notes), change the status (clients: cancel or reopen),
//! assign and change the priority (staff).

use super::presence::{PresenceLine, Writing, NOTE_BOX_ID};
use super::Time;
use crate::api::{
    get_ticket, AcceptResolution, AddMessage, AssignTicket, ChangePriority, ChangeStatus,
    DecideHeldMail,
};
use crate::error::UserError;
use crate::i18n::{Lang, Msg};
use crate::model::{
    AutoAction, Change, EntryKind, HeldMail, Priority, Status, TicketDetail, TimelineEntry,
};
use crate::ui::attachments::{EntryFiles, Gallery, Lightbox, VoicePlayer};
use crate::ui::components::{
    error_from_query, form_error, toast_success, ErrorAlert, PageError, PriorityBadge, StatusBadge,
};
use crate::ui::files::FileUploader;
use crate::ui::form_draft::use_form_draft;
use crate::ui::live::follow_events;
use crate::ui::prefs::{use_prefs, use_t};
use crate::ui::recorder::{RecorderHandle, VoiceRecorder};
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_params_map, use_query_map};
use std::collections::HashSet;
#[cfg(feature = "hydrate")]
use wasm_bindgen::JsCast;

/// The actions of the page, shared by its parts; every success reloads the ticket.
#[derive(Clone, Copy)]
struct TicketActionsState {
    message: ServerAction<AddMessage>,
    status: ServerAction<ChangeStatus>,
    assign: ServerAction<AssignTicket>,
    priority: ServerAction<ChangePriority>,
    accept: ServerAction<AcceptResolution>,
    held_mail: ServerAction<DecideHeldMail>,
    /// An error a form posted without JavaScript carried back.
    from_redirect: StoredValue<Option<UserError>>,
}

#[component]
pub fn TicketPage() -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let Some(user) = use_portal().user else {
        return view! { <Redirect path="/sign-in" /> }.into_any();
    };
    let params = use_params_map();
    let (created, from_redirect) =
        use_query_map().with_untracked(|q| (q.get("created").is_some(), error_from_query(q)));
    // What a form posted without JavaScript typed, back with its error.
    let typed = use_form_draft();
    let typed_body = typed.field("body");
    let typed_reason = typed.field("reason");
    let actions = TicketActionsState {
        message: ServerAction::<AddMessage>::new(),
        status: ServerAction::<ChangeStatus>::new(),
        assign: ServerAction::<AssignTicket>::new(),
        priority: ServerAction::<ChangePriority>::new(),
        accept: ServerAction::<AcceptResolution>::new(),
        held_mail: ServerAction::<DecideHeldMail>::new(),
        from_redirect: StoredValue::new(from_redirect),
    };
    toast_success(actions.message, Msg::MessageAdded);
    toast_success(actions.status, Msg::StatusChanged);
    toast_success(actions.assign, Msg::AssignmentChanged);
    toast_success(actions.priority, Msg::PriorityChanged);
    toast_success(actions.accept, Msg::ResolutionAcceptedToast);
    toast_success(actions.held_mail, Msg::HeldMailDecided);
    // Read once per ticket; afterwards the page follows the ticket's events (`LiveTicket`).
    let ticket = Resource::new(
        move || params.with(|p| p.get("number").unwrap_or_default()),
        get_ticket,
    );
    let me = user.id;

    view! {
        <div class="stack">
            <a class="back-link" href="/">{t(Msg::BackToRequests)}</a>
            <Suspense fallback=move || view! { <p class="muted">{t(Msg::Loading)}</p> }>
                {
                    let (typed_body, typed_reason) = (typed_body.clone(), typed_reason.clone());
                    move || {
                        let (typed_body, typed_reason) = (typed_body.clone(), typed_reason.clone());
                        Suspend::new(async move {
                            match ticket.await {
                                Ok(ticket) => view! {
                                    <TicketView ticket created lang actions me typed_body typed_reason />
                                }
                                .into_any(),
                                Err(error) => view! { <PageError error /> }.into_any(),
                            }
                        })
                    }
                }
            </Suspense>
        </div>
    }
    .into_any()
}

/// The ticket as the page shows it, kept current: each event of the ticket, and each of the
/// viewer's own changes, reads it again and applies what changed. Entries are keyed by id, so
/// one heard twice shows once, and those already shown (and the reply being typed) stay as
/// they are.
#[derive(Clone, Copy)]
struct LiveTicket {
    ticket: RwSignal<TicketDetail>,
    /// Entries that arrived below the reader's view, oldest first, until they are seen.
    unseen: RwSignal<Vec<i64>>,
    /// A reading is under way; another is wanted after it.
    reading: StoredValue<(bool, bool)>,
    my_name: StoredValue<String>,
}

impl LiveTicket {
    fn new(ticket: TicketDetail, my_name: String) -> LiveTicket {
        LiveTicket {
            ticket: RwSignal::new(ticket),
            unseen: RwSignal::new(Vec::new()),
            reading: StoredValue::new((false, false)),
            my_name: StoredValue::new(my_name),
        }
    }

    /// Reads the ticket again (once more after a reading under way, never two at once).
    fn refresh(self) {
        let (busy, _) = self.reading.get_value();
        self.reading.set_value((true, busy));
        if busy {
            return;
        }
        let number = self.ticket.with_untracked(|t| t.number.clone());
        leptos::task::spawn_local(async move {
            let mut wait_ms = 1_000;
            loop {
                match get_ticket(number.clone()).await {
                    Ok(fresh) => self.apply(fresh),
                    // Offline (a phone in a tunnel): asked again until the network is back.
                    Err(error) if error.message == Msg::ErrorNetwork => {
                        if self.ticket.try_with_untracked(|_| ()).is_none() {
                            return;
                        }
                        #[cfg(feature = "hydrate")]
                        gloo_timers::future::TimeoutFuture::new(wait_ms).await;
                        wait_ms = (wait_ms * 2).min(5_000);
                        continue;
                    }
                    // The ticket is no longer theirs: the page stays as it is.
                    Err(_) => {}
                }
                match self.reading.try_get_value() {
                    Some((_, true)) => self.reading.set_value((true, false)),
                    _ => break,
                }
            }
            self.reading.try_set_value((false, false));
        });
    }

    fn apply(self, fresh: TicketDetail) {
        let Some(known) = self
            .ticket
            .try_with_untracked(|t| t.timeline.iter().map(|e| e.id).collect::<HashSet<_>>())
        else {
            return;
        };
        let mine = self.my_name.get_value();
        let arrived: Vec<i64> = fresh
            .timeline
            .iter()
            .filter(|e| !known.contains(&e.id) && e.author.as_deref() != Some(mine.as_str()))
            .map(|e| e.id)
            .collect();
        if !arrived.is_empty() && !timeline_end_in_view() {
            self.unseen.update(|unseen| unseen.extend(arrived));
        }
        if self.ticket.with_untracked(|t| *t != fresh) {
            self.ticket.set(fresh);
        }
    }
}

/// Whether the end of the timeline is on the screen (the reader sees what arrives there).
fn timeline_end_in_view() -> bool {
    #[cfg(feature = "hydrate")]
    {
        let end = document().get_element_by_id("timeline-end");
        let height = window()
            .inner_height()
            .ok()
            .and_then(|h| h.as_f64())
            .unwrap_or(0.0);
        end.is_none_or(|end| end.get_bounding_client_rect().top() <= height)
    }
    #[cfg(not(feature = "hydrate"))]
    true
}

/// A fingerprint of what an entry shows: an entry that changes (its transcript arrived, a
/// preview is ready) is drawn again, the others stay.
fn entry_key(entry: &TimelineEntry) -> (i64, u64) {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::hash::DefaultHasher::new();
    format!("{entry:?}").hash(&mut hasher);
    (entry.id, hasher.finish())
}

#[component]
fn TicketView(
    ticket: TicketDetail,
    created: bool,
    lang: Lang,
    actions: TicketActionsState,
    me: i64,
    typed_body: String,
    typed_reason: String,
) -> impl IntoView {
    let t = use_t();
    let title = format!("{} · {}", ticket.number, ticket.subject);
    let number = ticket.number.clone();
    let gallery = Gallery::provide(ticket.timeline.iter().flat_map(|entry| &entry.attachments));
    let my_name = use_portal().user.map(|user| user.name).unwrap_or_default();
    let live = LiveTicket::new(ticket.clone(), my_name);
    follow_events(Some(number.clone()), ticket.live_from, move |_| {
        live.refresh()
    });
    // The viewer's own changes show at once, without waiting for their event.
    Effect::new(move |seen: Option<usize>| {
        let versions = actions.message.version().get()
            + actions.status.version().get()
            + actions.assign.version().get()
            + actions.priority.version().get()
            + actions.accept.version().get()
            + actions.held_mail.version().get();
        if seen.is_some_and(|seen| seen != versions) {
            live.refresh();
        }
        versions
    });
    Effect::new(move |_| {
        live.ticket
            .with(|t| gallery.show_files(t.timeline.iter().flat_map(|entry| &entry.attachments)))
    });
    let _seen_on_scroll = window_event_listener(leptos::ev::scroll, move |_| {
        if !live.unseen.with_untracked(Vec::is_empty) && timeline_end_in_view() {
            live.unseen.set(Vec::new());
        }
    });
    let status = Memo::new(move |_| live.ticket.with(|t| t.status));
    let priority = Memo::new(move |_| live.ticket.with(|t| t.priority));
    let accept = Memo::new(move |_| live.ticket.with(|t| t.actions.accept));
    let held = Memo::new(move |_| live.ticket.with(|t| t.held_mail.clone()));
    let reply_rights = Memo::new(move |_| {
        live.ticket
            .with(|t| (t.actions.reply, t.actions.internal_notes))
    });
    // The side forms are drawn again only when what they offer changed.
    let side = Memo::new(move |_| {
        live.ticket.with(|t| {
            (
                t.status,
                t.resolution,
                t.assignee_id,
                t.priority,
                t.actions.clone(),
                t.agents.clone(),
            )
        })
    });
    let typed_body = StoredValue::new(typed_body);
    let typed_reason = StoredValue::new(typed_reason);
    let writing = Writing::new();
    view! {
        <Title text=title />
        {created
            .then(|| {
                view! {
                    <div class="alert alert-success" role="status" data-testid="ticket-created">
                        {Msg::RequestReceived.fill(lang, &[("number", &ticket.number)])}
                    </div>
                }
            })}
        <header class="ticket-head">
            <p class="ticket-number" data-testid="ticket-number">{ticket.number.clone()}</p>
            <h1>{ticket.subject.clone()}</h1>
            <p class="cluster">
                <span data-testid="ticket-status">{move || view! { <StatusBadge status=status.get() /> }}</span>
                {move || {
                    side.track();
                    view! { <LifecycleBadge ticket=live.ticket.get_untracked() /> }
                }}
                {move || view! { <PriorityBadge priority=priority.get() /> }}
                <span class="badge">{t(ticket.request_type.label())}</span>
            </p>
        </header>
        {
            let number = number.clone();
            move || accept.get().then(|| view! { <AcceptCard number=number.clone() actions /> })
        }
        // The facts come first: on a phone they are read before the history; on a wide screen
        // they head the side column (see `.ticket-layout` in style/main.css).
        <div class="ticket-layout">
            <dl class="card profile-summary ticket-facts">
                <dt>{t(Msg::Organization)}</dt>
                <dd>{ticket.organization.clone()}</dd>
                <dt>{t(Msg::Telescope)}</dt>
                <dd>
                    {match (ticket.telescope_id, ticket.telescope.clone()) {
                        (Some(id), Some(name)) => view! {
                            <a href=format!("/telescopes/{id}") title=t(Msg::SeeHistory)>{name}</a>
                        }
                        .into_any(),
                        _ => t(Msg::NoTelescope).into_any(),
                    }}
                </dd>
                <dt>{t(Msg::Assignee)}</dt>
                <dd data-testid="ticket-assignee">
                    {move || {
                        live.ticket
                            .with(|t| t.assignee.clone())
                            .unwrap_or_else(|| t(Msg::Unassigned).to_string())
                    }}
                </dd>
                <dt>{t(Msg::OpenedBy)}</dt>
                <dd>{ticket.opened_by.clone()}</dd>
                <dt>{t(Msg::CreatedAt)}</dt>
                <dd><Time at=ticket.created_at /></dd>
                <dt>{t(Msg::UpdatedAt)}</dt>
                <dd>{move || view! { <Time at=live.ticket.with(|t| t.updated_at) /> }}</dd>
            </dl>
            <section class="stack ticket-main" aria-labelledby="history-title">
                <h2 id="history-title">{t(Msg::History)}</h2>
                {
                    let number = number.clone();
                    move || {
                        let held = held.get();
                        (!held.is_empty()).then(|| view! {
                            <HeldMailCard number=number.clone() held actions />
                        })
                    }
                }
                <ol class="timeline" aria-live="polite" aria-relevant="additions">
                    <For
                        each=move || live.ticket.with(|t| t.timeline.clone())
                        key=entry_key
                        children={
                            let number = number.clone();
                            move |entry| view! { <Entry entry lang number=number.clone() /> }
                        }
                    />
                </ol>
                <div id="timeline-end"></div>
                <NewEntriesBar live />
                <PresenceLine number=number.clone() writing />
                {
                    let number = number.clone();
                    move || {
                        let (reply, internal_notes) = reply_rights.get();
                        if reply {
                            view! {
                                <ReplyForm
                                    number=number.clone()
                                    internal_notes
                                    actions
                                    live
                                    writing
                                    typed_body=typed_body.get_value()
                                />
                            }
                                .into_any()
                        } else {
                            view! { <p class="alert alert-info">{t(Msg::ClosedRequestNote)}</p> }.into_any()
                        }
                    }
                }
            </section>
            <aside class="stack ticket-side">
                {move || {
                    let (_, _, _, _, rights, _) = side.get();
                    let ticket = live.ticket.get_untracked();
                    view! {
                        <StatusForm ticket=ticket.clone() actions typed_reason=typed_reason.get_value() />
                        {rights.assign.then(|| view! { <AssignForm ticket=ticket.clone() actions me /> })}
                        {rights.priority.then(|| view! { <PriorityForm ticket=ticket.clone() actions /> })}
                    }
                }}
            </aside>
        </div>
        <Lightbox />
    }
}

/// "N new entries": shown while entries arrived below the reader's view; it takes them there.
#[component]
fn NewEntriesBar(live: LiveTicket) -> impl IntoView {
    let lang = use_prefs().lang;
    let go = move |_| {
        let first = live.unseen.with_untracked(|unseen| unseen.first().copied());
        live.unseen.set(Vec::new());
        #[cfg(feature = "hydrate")]
        if let Some(entry) =
            first.and_then(|id| document().get_element_by_id(&format!("entry-{id}")))
        {
            entry.scroll_into_view();
            if let Ok(entry) = entry.dyn_into::<web_sys::HtmlElement>() {
                let _ = entry.focus();
            }
        }
        #[cfg(not(feature = "hydrate"))]
        let _ = first;
    };
    move || {
        let count = live.unseen.with(Vec::len);
        (count > 0).then(|| {
            view! {
                <button type="button" class="btn btn-primary new-entries-bar" data-testid="new-entries" on:click=go>
                    {Msg::NewEntriesBelow.fill(lang, &[("count", &count.to_string())])}
                </button>
            }
        })
    }
}

/// The heading of a timeline entry: who did what.
pub(crate) fn entry_heading(entry: &TimelineEntry, lang: Lang) -> String {
    let name = entry
        .author
        .clone()
        .unwrap_or_else(|| Msg::Someone.text(lang).to_string());
    let fill = |msg: Msg, args: &[(&str, &str)]| {
        let mut all = vec![("name", name.as_str())];
        all.extend_from_slice(args);
        msg.fill(lang, &all)
    };
    match (&entry.kind, &entry.change) {
        (_, Some(Change::Status { from, to })) => fill(
            Msg::EntryStatus,
            &[
                ("from", from.map(|s| s.label().text(lang)).unwrap_or("—")),
                ("to", to.label().text(lang)),
            ],
        ),
        (_, Some(Change::Priority { from, to })) => fill(
            Msg::EntryPriority,
            &[
                ("from", from.map(|p| p.label().text(lang)).unwrap_or("—")),
                ("to", to.label().text(lang)),
            ],
        ),
        (_, Some(Change::Assignee { to: Some(to), .. })) => fill(Msg::EntryAssigned, &[("to", to)]),
        (_, Some(Change::Assignee { to: None, .. })) => fill(Msg::EntryUnassigned, &[]),
        (EntryKind::Created, None) => fill(Msg::EntryCreated, &[]),
        (EntryKind::Note, None) => fill(Msg::EntryNote, &[]),
        (EntryKind::Attachment, None) => fill(Msg::EntryAttachment, &[]),
        (EntryKind::Voice, None) => fill(Msg::EntryVoice, &[]),
        (_, Some(Change::Automatic(action))) => automatic_heading(*action, &fill),
        (EntryKind::System, None) => Msg::EntrySystem.text(lang).to_string(),
        _ => fill(Msg::EntryMessage, &[]),
    }
}

/// Fills a heading's message with the entry's author and the given arguments.
type FillHeading<'a> = dyn Fn(Msg, &[(&str, &str)]) -> String + 'a;

/// What the portal did by itself, or the client's acceptance.
fn automatic_heading(action: AutoAction, fill: &FillHeading) -> String {
    match action {
        AutoAction::WaitingReminder { n, of } => fill(
            Msg::EntryWaitingReminder,
            &[("n", &n.to_string()), ("of", &of.to_string())],
        ),
        AutoAction::WaitingClosureNotice { hours } => fill(
            Msg::EntryWaitingClosureNotice,
            &[("hours", &hours.to_string())],
        ),
        AutoAction::ClosedNoReply => fill(Msg::EntryClosedNoReply, &[]),
        AutoAction::ConfirmationReminder => fill(Msg::EntryConfirmationReminder, &[]),
        AutoAction::ConfirmationClosureNotice { hours } => fill(
            Msg::EntryConfirmationClosureNotice,
            &[("hours", &hours.to_string())],
        ),
        AutoAction::ClosedAutomatically => fill(Msg::EntryClosedAutomatically, &[]),
        AutoAction::Accepted => fill(Msg::EntryAccepted, &[]),
    }
}

/// Where a request stands in its life cycle, beside its status: waiting for its client,
/// awaiting confirmation, or how it was closed.
#[component]
fn LifecycleBadge(ticket: TicketDetail) -> impl IntoView {
    let t = use_t();
    let label = match (ticket.status, ticket.resolution) {
        (_, Some(resolution)) => Some(resolution.label()),
        (Status::Done, None) => Some(Msg::ResolutionPending),
        (Status::Blocked, None) if ticket.waiting_for_client => Some(Msg::WaitingForClientBadge),
        _ => None,
    };
    label.map(|label| {
        view! { <span class="badge badge-lifecycle" data-testid="ticket-resolution">{t(label)}</span> }
    })
}

/// The client's question once a request is done: accept the resolution (it closes), or reopen.
#[component]
fn AcceptCard(number: String, actions: TicketActionsState) -> impl IntoView {
    let t = use_t();
    let action = actions.accept;
    let error = form_error(action.value(), None);
    view! {
        <section class="card stack-sm accept-card" aria-labelledby="accept-title">
            <h2 class="card-title" id="accept-title">{t(Msg::AcceptTitle)}</h2>
            <p>{t(Msg::AcceptIntro)}</p>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <ActionForm action>
                <input type="hidden" name="number" value=number />
                <button type="submit" class="btn btn-primary" aria-busy=move || action.pending().get().to_string()>
                    {t(Msg::AcceptResolution)}
                </button>
            </ActionForm>
        </section>
    }
}

/// E-mails to the request's reply address that were not posted, for staff to decide on.
#[component]
fn HeldMailCard(number: String, held: Vec<HeldMail>, actions: TicketActionsState) -> impl IntoView {
    let t = use_t();
    let action = actions.held_mail;
    let error = form_error(action.value(), None);
    view! {
        <section class="card stack-sm held-mail" aria-labelledby="held-mail-title" data-testid="held-mail">
            <h3 class="card-title" id="held-mail-title">{t(Msg::HeldMailTitle)}</h3>
            <p class="muted">{t(Msg::HeldMailIntro)}</p>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            {held
                .into_iter()
                .map(|mail| {
                    let why = if mail.unknown_sender {
                        Msg::HeldMailUnknownSender
                    } else {
                        Msg::HeldMailClosed
                    };
                    let decide = |decision: &'static str, label: Msg, class: &'static str| {
                        let number = number.clone();
                        view! {
                            <ActionForm action>
                                <input type="hidden" name="number" value=number />
                                <input type="hidden" name="held_id" value=mail.id.to_string() />
                                <input type="hidden" name="decision" value=decision />
                                <button type="submit" class=class aria-busy=move || action.pending().get().to_string()>
                                    {t(label)}
                                </button>
                            </ActionForm>
                        }
                    };
                    view! {
                        <article class="held-mail-item stack-sm">
                            <p>
                                <strong>{mail.from.clone()}</strong>
                                " · "
                                <Time at=mail.received_at />
                            </p>
                            <p class="muted">{t(why)}</p>
                            {(!mail.subject.is_empty()).then(|| view! { <p><em>{mail.subject.clone()}</em></p> })}
                            <div class="entry-body">{mail.text.clone()}</div>
                            <div class="row-actions">
                                {decide("release", Msg::HeldMailRelease, "btn btn-primary")}
                                {decide("discard", Msg::HeldMailDiscard, "btn btn-secondary")}
                            </div>
                        </article>
                    }
                })
                .collect_view()}
        </section>
    }
}

#[component]
fn Entry(entry: TimelineEntry, lang: Lang, number: String) -> impl IntoView {
    let t = use_t();
    let heading = entry_heading(&entry, lang);
    let is_change = entry.change.is_some();
    let class = format!(
        "entry entry-{}{}{}",
        entry.kind.code(),
        if entry.by_staff { " entry-staff" } else { "" },
        if entry.internal {
            " entry-internal"
        } else {
            ""
        }
    );
    // An attachment entry's body lists the names for search; the page shows the files. A
    // message's files are shown under its text.
    let files = (!entry.attachments.is_empty())
        .then(|| view! { <EntryFiles files=entry.attachments.clone() /> });
    // A voice entry's body is the person's edit of its transcript, which its player shows.
    let voice = entry.voice.clone().map(|voice| {
        view! { <VoicePlayer voice number entry_id=entry.id /> }
    });
    let shows_body = !matches!(entry.kind, EntryKind::Attachment | EntryKind::Voice);
    let body = (shows_body && !entry.body.is_empty()).then(|| {
        let text = entry.body.clone();
        if is_change {
            view! {
                <p class="entry-reason">
                    <span class="muted">{t(Msg::Reason)} ": "</span>
                    {text}
                </p>
            }
            .into_any()
        } else {
            view! { <div class="entry-body">{text}</div> }.into_any()
        }
    });
    view! {
        <li class=class id=format!("entry-{}", entry.id) tabindex="-1" data-testid="timeline-entry" data-kind=entry.kind.code()>
            <div class="entry-head">
                <span class="entry-title">{heading}</span>
                {entry.internal.then(|| view! { <span class="badge badge-internal">{t(Msg::Internal)}</span> })}
                <Time at=entry.created_at />
            </div>
            {body}
            {voice}
            {files}
        </li>
    }
    // Erased, so the ticket page's view type stays within the compiler's depth limit in the
    // release build (which keeps component types).
    .into_any()
}

#[component]
fn ReplyForm(
    number: String,
    internal_notes: bool,
    actions: TicketActionsState,
    live: LiveTicket,
    writing: Writing,
    typed_body: String,
) -> impl IntoView {
    let t = use_t();
    let lang = use_prefs().lang;
    let action = actions.message;
    let error = form_error(action.value(), actions.from_redirect.get_value());
    let form = NodeRef::<leptos::html::Form>::new();
    // The newest entry the writer had seen when they began: the server refuses the message
    // while someone else has replied since, and the form shows what they said.
    let latest = Memo::new(move |_| {
        live.ticket
            .with(|t| t.timeline.last().map_or(0, |entry| entry.id))
    });
    let seen = RwSignal::new(latest.get_untracked());
    let collided = RwSignal::new(None::<i64>);
    // Only what is sent from this form counts: one drawn again (the request reopened) does
    // not inherit the last answer.
    let sent_before = action.version().get_untracked();
    Effect::new(move |_| match action.value().get() {
        _ if action.version().get() == sent_before => {}
        Some(Ok(())) => {
            collided.set(None);
            if let Some(form) = form.get() {
                form.reset();
            }
            writing.typed("");
            writing.note.set(false);
        }
        Some(Err(error)) if error.message == Msg::ErrorRepliedMeanwhile => {
            collided.set(Some(seen.get_untracked()));
        }
        _ => {}
    });
    // Once warned, the writer has seen what arrived: sending again goes through.
    Effect::new(move |_| {
        if collided.get().is_some() {
            seen.set(latest.get());
        }
    });
    let replies_meanwhile = move || {
        let Some(after) = collided.get() else {
            return Vec::new();
        };
        let mine = live.my_name.get_value();
        live.ticket.with(|t| {
            t.timeline
                .iter()
                .filter(|entry| {
                    entry.id > after
                        && entry.author.as_deref() != Some(mine.as_str())
                        && matches!(
                            entry.kind,
                            EntryKind::Message
                                | EntryKind::Note
                                | EntryKind::Attachment
                                | EntryKind::Voice
                        )
                })
                .cloned()
                .collect::<Vec<_>>()
        })
    };
    let uploading = RwSignal::new(false);
    // Send while recording stops the recorder; the form goes once the server has the audio.
    let voice = RecorderHandle::new();
    writing.voice.set_value(Some(voice));
    writing.typed(&typed_body);
    on_cleanup(move || {
        writing.voice.try_set_value(None);
        writing.filled.try_set(false);
    });
    let sent = Signal::derive(move || matches!(action.value().get(), Some(Ok(()))));
    view! {
        <ActionForm action node_ref=form attr:class="card stack-sm reply-form" attr:novalidate=true attr:enctype="multipart/form-data">
            <h3 class="card-title">{t(Msg::AddMessage)}</h3>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            {move || {
                let replies = replies_meanwhile();
                (!replies.is_empty()).then(|| view! {
                    <ul class="replies-meanwhile stack-sm" data-testid="replies-meanwhile">
                        {replies
                            .into_iter()
                            .map(|entry| {
                                let text = entry
                                    .voice
                                    .as_ref()
                                    .and_then(|voice| voice.text().map(str::to_string))
                                    .unwrap_or_else(|| entry.body.clone());
                                view! {
                                    <li>
                                        <p class="entry-heading">{entry_heading(&entry, lang)}</p>
                                        <blockquote class="entry-body">{text}</blockquote>
                                    </li>
                                }
                            })
                            .collect_view()}
                    </ul>
                })
            }}
            <input type="hidden" name="number" value=number />
            <input type="hidden" name="seen_up_to" value=move || seen.get().to_string() />
            <div class="field">
                <label for="reply-body">{t(Msg::Message)}</label>
                <textarea
                    class="input"
                    id="reply-body"
                    name="body"
                    rows="4"
                    // A reply that arrived meanwhile is no fault of the text.
                    aria-invalid=move || {
                        (error.with(|e| e.is_some()) && collided.with(Option::is_none)).to_string()
                    }
                    on:input=move |ev| {
                        let text = event_target_value(&ev);
                        // Beginning to write: what is on the page now is what they have seen.
                        if !writing.filled.get_untracked() && collided.get_untracked().is_none() {
                            seen.set(latest.get_untracked());
                        }
                        writing.typed(&text);
                    }
                >
                    {typed_body}
                </textarea>
            </div>
            <VoiceRecorder id="reply-voice" handle=voice sent />
            <FileUploader uploading sent />
            {internal_notes
                .then(|| {
                    view! {
                        <label class="checkbox">
                            <input
                                type="checkbox"
                                id=NOTE_BOX_ID
                                name="internal"
                                value="1"
                                on:change=move |ev| writing.note.set(event_target_checked(&ev))
                            />
                            {t(Msg::InternalNoteOption)}
                        </label>
                    }
                })}
            <div class="cluster">
                <button
                    type="submit"
                    class="btn btn-primary"
                    data-testid="send-reply"
                    aria-busy=move || (action.pending().get() || voice.queued.get()).to_string()
                    disabled=move || uploading.get()
                    aria-describedby="reply-waiting"
                >
                    {move || if collided.get().is_some() { t(Msg::SendAnyway) } else { t(Msg::Send) }}
                </button>
                <span class="muted" id="reply-waiting" aria-live="polite">
                    {move || {
                        if uploading.get() {
                            Some(t(Msg::WaitingForUploads))
                        } else {
                            voice.queued.get().then(|| t(Msg::RecorderSendWaits))
                        }
                    }}
                </span>
            </div>
        </ActionForm>
    }
}

#[component]
fn StatusForm(
    ticket: TicketDetail,
    actions: TicketActionsState,
    typed_reason: String,
) -> impl IntoView {
    let t = use_t();
    let action = actions.status;
    let error = form_error(action.value(), None);
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(())), Some(form)) = (action.value().get(), form.get()) {
            form.reset();
        }
    });
    let statuses = ticket.actions.statuses.clone();
    if statuses.is_empty() {
        return ().into_any();
    }
    let number = ticket.number.clone();
    if !ticket.actions.assign {
        // A client: reopen at once; cancel after a second, deliberate step (phones are
        // easily mis-tapped), with an optional reason. Both work without JavaScript.
        return view! {
            <div class="card stack-sm">
                {move || error.get().map(|error| view! { <ErrorAlert error /> })}
                {statuses
                    .into_iter()
                    .map(|to| {
                        let number = number.clone();
                        let typed_reason = typed_reason.clone();
                        // Open when a cancellation came back with its reason.
                        let open = !typed_reason.is_empty();
                        if to == Status::Cancelled {
                            view! {
                                <details class="confirm" open=open>
                                    <summary class="btn btn-secondary btn-block">{t(Msg::CancelRequest)}</summary>
                                    <ActionForm action attr:class="stack-sm">
                                        <input type="hidden" name="number" value=number />
                                        <input type="hidden" name="status" value=to.code() />
                                        <p class="muted">{t(Msg::CancelExplained)}</p>
                                        <div class="field">
                                            <label for="cancel-reason">{t(Msg::Reason)}</label>
                                            <textarea class="input" id="cancel-reason" name="reason" rows="2">
                                                {typed_reason}
                                            </textarea>
                                        </div>
                                        <button type="submit" class="btn btn-danger btn-block">{t(Msg::ConfirmCancel)}</button>
                                    </ActionForm>
                                </details>
                            }
                            .into_any()
                        } else {
                            view! {
                                <ActionForm action>
                                    <input type="hidden" name="number" value=number />
                                    <input type="hidden" name="status" value=to.code() />
                                    <button type="submit" class="btn btn-secondary btn-block">{t(Msg::ReopenRequest)}</button>
                                </ActionForm>
                            }
                            .into_any()
                        }
                    })
                    .collect_view()}
            </div>
        }
        .into_any();
    }
    view! {
        <ActionForm action node_ref=form attr:class="card stack-sm" attr:novalidate=true>
            <h3 class="card-title">{t(Msg::ChangeStatus)}</h3>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <input type="hidden" name="number" value=number />
            <div class="field">
                <label for="new-status">{t(Msg::NewStatus)}</label>
                <select class="input" id="new-status" name="status">
                    {statuses
                        .into_iter()
                        .map(|s| view! { <option value=s.code()>{t(s.label())}</option> })
                        .collect_view()}
                </select>
            </div>
            <div class="field">
                <label for="status-reason">{t(Msg::Reason)}</label>
                <textarea class="input" id="status-reason" name="reason" rows="2" aria-describedby="status-reason-hint">
                    {typed_reason}
                </textarea>
                <p class="field-hint" id="status-reason-hint">{t(Msg::ReasonHint)}</p>
            </div>
            <label class="checkbox">
                <input type="checkbox" name="waiting_for_client" value="on" />
                {t(Msg::WaitingForClient)}
            </label>
            <button type="submit" class="btn btn-primary" aria-busy=move || action.pending().get().to_string()>
                {t(Msg::ChangeStatus)}
            </button>
        </ActionForm>
    }
    .into_any()
}

#[component]
fn AssignForm(ticket: TicketDetail, actions: TicketActionsState, me: i64) -> impl IntoView {
    let t = use_t();
    let action = actions.assign;
    let error = form_error(action.value(), None);
    let number = ticket.number.clone();
    let take_number = ticket.number.clone();
    let current = ticket.assignee_id;
    // What the person saw: if someone else assigns it meanwhile, their choice is not applied.
    let seen = current.map(|id| id.to_string()).unwrap_or_default();
    let take_seen = seen.clone();
    view! {
        <div class="card stack-sm">
            <h3 class="card-title">{t(Msg::Assign)}</h3>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <ActionForm action attr:class="stack-sm">
                <input type="hidden" name="number" value=number />
                <input type="hidden" name="seen_assignee" value=seen />
                <div class="field">
                    <label for="assignee">{t(Msg::Assignee)}</label>
                    <select class="input" id="assignee" name="assignee">
                        <option value="" selected=current.is_none()>{t(Msg::Nobody)}</option>
                        {ticket
                            .agents
                            .iter()
                            .map(|agent| {
                                view! {
                                    <option value=agent.id.to_string() selected=current == Some(agent.id)>
                                        {agent.name.clone()}
                                    </option>
                                }
                            })
                            .collect_view()}
                    </select>
                </div>
                <button type="submit" class="btn btn-secondary">{t(Msg::Assign)}</button>
            </ActionForm>
            {(current != Some(me))
                .then(|| {
                    view! {
                        <ActionForm action>
                            <input type="hidden" name="number" value=take_number />
                            <input type="hidden" name="assignee" value=me.to_string() />
                            <input type="hidden" name="seen_assignee" value=take_seen />
                            <button type="submit" class="btn btn-primary btn-block">{t(Msg::TakeIt)}</button>
                        </ActionForm>
                    }
                })}
        </div>
    }
}

#[component]
fn PriorityForm(ticket: TicketDetail, actions: TicketActionsState) -> impl IntoView {
    let t = use_t();
    let action = actions.priority;
    let error = form_error(action.value(), None);
    view! {
        <ActionForm action attr:class="card stack-sm">
            <h3 class="card-title">{t(Msg::ChangePriority)}</h3>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <input type="hidden" name="number" value=ticket.number.clone() />
            <input type="hidden" name="seen_priority" value=ticket.priority.code() />
            <div class="field">
                <label for="priority">{t(Msg::PriorityLabel)}</label>
                <select class="input" id="priority" name="priority">
                    {Priority::ALL
                        .into_iter()
                        .rev()
                        .map(|p| view! { <option value=p.code() selected=p == ticket.priority>{t(p.label())}</option> })
                        .collect_view()}
                </select>
            </div>
            <button type="submit" class="btn btn-secondary">{t(Msg::Save)}</button>
        </ActionForm>
    }
}
