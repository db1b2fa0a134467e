//! A ticket's page: its details, the whole timeline in order, and what the viewer may do:
//! reply (staff may leave internal notes), change the status (clients: cancel or reopen),
//! assign and change the priority (staff).

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
use crate::ui::prefs::{use_prefs, use_t};
use crate::ui::recorder::{RecorderHandle, VoiceRecorder};
use crate::use_portal;
use leptos::prelude::*;
use leptos_meta::Title;
use leptos_router::components::Redirect;
use leptos_router::hooks::{use_params_map, use_query_map};

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
    let ticket = Resource::new(
        move || {
            (
                params.with(|p| p.get("number").unwrap_or_default()),
                actions.message.version().get(),
                actions.status.version().get(),
                actions.assign.version().get(),
                actions.priority.version().get(),
                actions.accept.version().get(),
                actions.held_mail.version().get(),
            )
        },
        |(number, ..)| get_ticket(number),
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
    Gallery::provide(ticket.timeline.iter().flat_map(|entry| &entry.attachments));
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
                <span data-testid="ticket-status"><StatusBadge status=ticket.status /></span>
                <LifecycleBadge ticket=ticket.clone() />
                <PriorityBadge priority=ticket.priority />
                <span class="badge">{t(ticket.request_type.label())}</span>
            </p>
        </header>
        {ticket.actions.accept.then(|| view! { <AcceptCard number=ticket.number.clone() actions /> })}
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
                    {ticket.assignee.clone().unwrap_or_else(|| t(Msg::Unassigned).to_string())}
                </dd>
                <dt>{t(Msg::OpenedBy)}</dt>
                <dd>{ticket.opened_by.clone()}</dd>
                <dt>{t(Msg::CreatedAt)}</dt>
                <dd><Time at=ticket.created_at /></dd>
                <dt>{t(Msg::UpdatedAt)}</dt>
                <dd><Time at=ticket.updated_at /></dd>
            </dl>
            <section class="stack ticket-main" aria-labelledby="history-title">
                <h2 id="history-title">{t(Msg::History)}</h2>
                {(!ticket.held_mail.is_empty()).then(|| view! {
                    <HeldMailCard number=number.clone() held=ticket.held_mail.clone() actions />
                })}
                <ol class="timeline">
                    {ticket
                        .timeline
                        .iter()
                        .cloned()
                        .map(|entry| view! { <Entry entry lang number=number.clone() /> })
                        .collect_view()}
                </ol>
                {if ticket.actions.reply {
                    view! {
                        <ReplyForm
                            number=number.clone()
                            internal_notes=ticket.actions.internal_notes
                            actions
                            typed_body
                        />
                    }
                        .into_any()
                } else {
                    view! { <p class="alert alert-info">{t(Msg::ClosedRequestNote)}</p> }.into_any()
                }}
            </section>
            <aside class="stack ticket-side">
                <StatusForm ticket=ticket.clone() actions typed_reason />
                {ticket.actions.assign.then(|| view! { <AssignForm ticket=ticket.clone() actions me /> })}
                {ticket.actions.priority.then(|| view! { <PriorityForm ticket=ticket.clone() actions /> })}
            </aside>
        </div>
        <Lightbox />
    }
}

/// The heading of a timeline entry: who did what.
fn entry_heading(entry: &TimelineEntry, lang: Lang) -> String {
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
        <li class=class id=format!("entry-{}", entry.id) data-testid="timeline-entry" data-kind=entry.kind.code()>
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
    typed_body: String,
) -> impl IntoView {
    let t = use_t();
    let action = actions.message;
    let error = form_error(action.value(), actions.from_redirect.get_value());
    let form = NodeRef::<leptos::html::Form>::new();
    Effect::new(move |_| {
        if let (Some(Ok(())), Some(form)) = (action.value().get(), form.get()) {
            form.reset();
        }
    });
    let uploading = RwSignal::new(false);
    // Send while recording stops the recorder; the form goes once the server has the audio.
    let voice = RecorderHandle::new();
    let sent = Signal::derive(move || matches!(action.value().get(), Some(Ok(()))));
    view! {
        <ActionForm action node_ref=form attr:class="card stack-sm reply-form" attr:novalidate=true attr:enctype="multipart/form-data">
            <h3 class="card-title">{t(Msg::AddMessage)}</h3>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <input type="hidden" name="number" value=number />
            <div class="field">
                <label for="reply-body">{t(Msg::Message)}</label>
                <textarea
                    class="input"
                    id="reply-body"
                    name="body"
                    rows="4"
                    aria-invalid=move || error.with(|e| e.is_some()).to_string()
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
                            <input type="checkbox" name="internal" value="1" />
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
                    {t(Msg::Send)}
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
    view! {
        <div class="card stack-sm">
            <h3 class="card-title">{t(Msg::Assign)}</h3>
            {move || error.get().map(|error| view! { <ErrorAlert error /> })}
            <ActionForm action attr:class="stack-sm">
                <input type="hidden" name="number" value=number />
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
