//! Requests: opening them, following them and working them. Every rule about tickets lives
//! here, and pages, server functions and the REST API all call these functions with the
//! `Viewer` who asks, so there is one implementation of who may see and do what.
//!
//! Each change is written in one transaction together with the timeline entry that records it,
//! then published on the event bus.

use super::accounts::Viewer;
use super::attachments;
use super::config::Config;
use super::error::ServiceError;
use super::events::EventBus;
use super::inbound;
use super::lifecycle;
use super::search::{document_terms, DocumentScope, SearchQuery, SearchScope};
use super::storage::attachments::AttachmentRow;
use super::storage::tickets::{
    now_micros, EntryRow, Keyset, ListRow, NewEntry, NewTicketRow, Selection, TicketChange,
    TicketRow, TicketScope, SEARCH_CANDIDATES,
};
use super::storage::{Db, Tx};
use super::time_zone;
use super::voice;
use crate::i18n::Msg;
use crate::model::{
    Agent, AssigneeFilter, AttachmentInfo, AutoAction, Change, EntryKind, Exactness,
    NewTicketChoices, OrganizationChoice, Priority, RequestType, Resolution, ResolutionFilter,
    Role, Status, TelescopeChoice, TelescopeHistory, TicketActions, TicketDetail, TicketFilter,
    TicketPage, TicketSort, TicketSummary, TicketView, TimelineEntry, ViewCounts, VoiceInfo,
    COUNT_CAP, MESSAGE_MAX_CHARS, PAGE_SIZE, REASON_MAX_CHARS, SUBJECT_MAX_CHARS,
};
use chrono::{DateTime, Utc};
use std::collections::{HashMap, HashSet};

/// A person's view of tickets: their observatory, and their organization if a client.
pub fn scope_of(viewer: &Viewer) -> TicketScope {
    TicketScope {
        observatory_id: viewer.observatory_id,
        organization_id: if viewer.role.is_staff() {
            None
        } else {
            // A client without an organization cannot exist (the schema forbids it); scope to
            // an id no row has, to be safe.
            Some(viewer.organization_id.unwrap_or(-1))
        },
        internal: viewer.role.is_staff(),
    }
}

/// The search scope of a text everybody on the ticket may read.
fn public_document(observatory_id: i64, organization_id: i64) -> DocumentScope {
    DocumentScope {
        observatory_id,
        organization_id,
        internal: false,
    }
}

/// What a new request says.
#[derive(Debug, Clone)]
pub struct NewTicket<'a> {
    /// Staff opening a request for a client choose the organization; clients need not.
    pub organization_id: Option<i64>,
    pub request_type: RequestType,
    pub telescope_id: Option<i64>,
    pub priority: Priority,
    /// Empty: the first words of the comment are used.
    pub subject: &'a str,
    pub comment: &'a str,
    /// The viewer's staged attachments to send with it (ids), committed in the same
    /// transaction.
    pub attachments: &'a [String],
}

/// A ticket just opened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    pub id: i64,
    pub number: String,
}

/// The subject used when none is given: the comment's first line, cut at a word.
fn subject_from(comment: &str) -> String {
    const MAX: usize = 80;
    let first_line = comment
        .lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim();
    if first_line.chars().count() <= MAX {
        return first_line.to_string();
    }
    let cut: String = first_line.chars().take(MAX).collect();
    let at_word = cut.rfind(' ').filter(|i| *i > MAX / 2).unwrap_or(cut.len());
    format!("{}…", cut[..at_word].trim_end())
}

fn check_text(text: &str, max_chars: usize, empty: Msg) -> Result<&str, ServiceError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(empty.into());
    }
    if text.chars().count() > max_chars {
        return Err(Msg::ErrorTextTooLong.into());
    }
    Ok(text)
}

/// Opens a request: for the client's own organization, or for the organization staff choose.
pub async fn open_ticket(
    db: &Db,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    new: NewTicket<'_>,
) -> Result<Opened, ServiceError> {
    open_ticket_with_voice(db, events, config, viewer, new, None).await
}

/// A recording streamed from the page (`voice_live`) sent with a request or a message, and the
/// text the person sent with it (the transcript, maybe corrected).
#[derive(Debug, Clone, Copy)]
pub struct VoiceSent<'a> {
    pub recording: &'a str,
    pub text: Option<&'a str>,
}

/// Opens a request whose comment may be (or include) a voice recording: with one, the typed
/// comment may be empty, and the subject comes from the recording's text.
pub async fn open_ticket_with_voice(
    db: &Db,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    new: NewTicket<'_>,
    voice: Option<VoiceSent<'_>>,
) -> Result<Opened, ServiceError> {
    open_ticket_at(db, events, config, viewer, new, voice, now_micros()).await
}

/// Opens a request at `now` (the clock is a parameter so that the year of its number can be
/// checked at any moment, such as New Year's Eve in the observatory's zone).
pub async fn open_ticket_at(
    db: &Db,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    new: NewTicket<'_>,
    voice: Option<VoiceSent<'_>>,
    now: DateTime<Utc>,
) -> Result<Opened, ServiceError> {
    // Each field is authorized on its own: a client may name no organization but their own.
    let organization_id = if viewer.role.is_staff() {
        let id = new.organization_id.ok_or(Msg::ErrorOrganizationRequired)?;
        if !db.organization_exists(viewer.observatory_id, id).await? {
            return Err(Msg::ErrorOrganizationRequired.into());
        }
        id
    } else {
        let own = viewer.organization_id.ok_or(Msg::ErrorNotFound)?;
        if new.organization_id.is_some_and(|id| id != own) {
            return Err(Msg::ErrorNotFound.into());
        }
        own
    };
    let voice_text = match voice {
        Some(sent) => Some(voice::recording_text(db, viewer, sent.recording, sent.text).await?),
        None => None,
    };
    let comment = match &voice_text {
        Some(_) if new.comment.trim().is_empty() => "",
        _ => check_text(new.comment, MESSAGE_MAX_CHARS, Msg::ErrorCommentRequired)?,
    };
    let subject = match (new.subject.trim(), voice_text.as_deref()) {
        ("", Some(spoken)) if comment.is_empty() && !spoken.trim().is_empty() => {
            subject_from(spoken)
        }
        ("", Some(_)) if comment.is_empty() => {
            Msg::VoiceRequestSubject.text(viewer.language).to_string()
        }
        ("", _) => subject_from(comment),
        (typed, _) => typed.to_string(),
    };
    if subject.chars().count() > SUBJECT_MAX_CHARS {
        return Err(Msg::ErrorSubjectTooLong.into());
    }
    if let Some(telescope_id) = new.telescope_id {
        if !db
            .telescope_in_service(viewer.observatory_id, organization_id, telescope_id)
            .await?
        {
            return Err(Msg::ErrorTelescopeUnknown.into());
        }
    }
    let mut tx = db.begin().await?;
    let created = tx
        .insert_ticket(NewTicketRow {
            number_year: time_zone::local_year(
                time_zone::stored(&viewer.observatory_time_zone),
                now,
            ),
            observatory_id: viewer.observatory_id,
            organization_id,
            request_type: new.request_type.code(),
            telescope_id: new.telescope_id,
            priority: new.priority.value(),
            subject: &subject,
            comment,
            created_by: viewer.user_id,
            subject_terms: document_terms(
                &subject,
                public_document(viewer.observatory_id, organization_id),
            ),
            comment_terms: document_terms(
                comment,
                public_document(viewer.observatory_id, organization_id),
            ),
            now,
        })
        .await?;
    if !new.attachments.is_empty() {
        let ticket = tx
            .ticket_by_id(viewer.observatory_id, created.id)
            .await?
            .ok_or(Msg::ErrorInternal)?;
        let staged =
            attachments::staged_for_commit(&mut tx, config, viewer, &ticket, new.attachments, now)
                .await?;
        // The files belong to the first comment's entry; their names are found by search.
        let names = file_names(&staged);
        tx.index_text(
            created.id,
            created.entry_id,
            false,
            &document_terms(
                &names,
                public_document(viewer.observatory_id, organization_id),
            ),
        )
        .await?;
        attachments::attach_in_tx(
            &mut tx,
            viewer,
            &ticket,
            &staged,
            created.entry_id,
            false,
            now,
        )
        .await?;
    }
    if let Some(sent) = voice {
        let ticket = tx
            .ticket_by_id(viewer.observatory_id, created.id)
            .await?
            .ok_or(Msg::ErrorInternal)?;
        voice::commit_recorded(
            &mut tx,
            config,
            viewer,
            &ticket,
            sent.recording,
            sent.text,
            false,
            now,
        )
        .await?;
    }
    tx.commit().await?;
    events.committed();
    Ok(Opened {
        id: created.id,
        number: created.number,
    })
}

pub(crate) async fn load(
    db: &Db,
    viewer: &Viewer,
    number: &str,
) -> Result<TicketRow, ServiceError> {
    db.ticket_by_number(scope_of(viewer), number.trim())
        .await?
        .ok_or(Msg::ErrorNotFound.into())
}

fn status_of(row: &TicketRow) -> Status {
    Status::from_code(&row.status).unwrap_or(Status::Open)
}

/// The statuses the viewer may move the ticket to now.
fn allowed_statuses(viewer: &Viewer, row: &TicketRow, config: &Config) -> Vec<Status> {
    let current = status_of(row);
    if viewer.role.is_staff() {
        return Status::ALL.into_iter().filter(|s| *s != current).collect();
    }
    match current {
        // A client may withdraw a request that is still open, in progress or blocked…
        Status::Open | Status::InProgress | Status::Blocked => vec![Status::Cancelled],
        // …and reopen a finished one within the reopening window.
        Status::Done => {
            let window = chrono::Duration::from_std(config.reopen_window).unwrap_or_default();
            let done_at = row.closed_at.unwrap_or(row.updated_at);
            if Utc::now() - done_at <= window {
                vec![Status::Open]
            } else {
                Vec::new()
            }
        }
        Status::Cancelled => Vec::new(),
    }
}

fn actions_of(viewer: &Viewer, row: &TicketRow, config: &Config) -> TicketActions {
    let staff = viewer.role.is_staff();
    TicketActions {
        statuses: allowed_statuses(viewer, row, config),
        // A closed request takes no more client messages: it can be reopened, or a new one opened.
        reply: staff || !status_of(row).is_closed(),
        internal_notes: staff,
        assign: staff,
        priority: staff,
        accept: !staff && status_of(row) == Status::Done && row.resolution.is_none(),
    }
}

/// Moves a ticket to another status. Blocking needs a reason (what it waits for); staff may
/// block it `waiting_for_client`, which starts the reminders and automatic closure
/// (`lifecycle`); marking it done starts the closure confirmation.
#[allow(clippy::too_many_arguments)]
pub async fn change_status(
    db: &Db,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    number: &str,
    to: Status,
    reason: &str,
    waiting_for_client: bool,
) -> Result<(), ServiceError> {
    let row = load(db, viewer, number).await?;
    let from = status_of(&row);
    if from == to {
        return Err(Msg::ErrorStatusUnchanged.into());
    }
    if !allowed_statuses(viewer, &row, config).contains(&to) {
        return Err(Msg::ErrorStatusNotAllowed.into());
    }
    let reason = reason.trim();
    if to == Status::Blocked && reason.is_empty() {
        return Err(Msg::ErrorBlockedReasonRequired.into());
    }
    if reason.chars().count() > REASON_MAX_CHARS {
        return Err(Msg::ErrorTextTooLong.into());
    }
    // Only staff set a request waiting for its client.
    let waiting_for_client = waiting_for_client && viewer.role.is_staff();
    let cadences = db.cadence_settings(row.observatory_id).await?;
    db.record_change(
        row.observatory_id,
        row.id,
        TicketChange {
            status: Some((to.code().to_string(), to.is_closed())),
            expected_status: Some(from.code().to_string()),
            timer: lifecycle::timer_for(to, waiting_for_client, cadences, Utc::now()),
            ..TicketChange::default()
        },
        NewEntry {
            kind: EntryKind::Status.code(),
            internal: false,
            author_id: Some(viewer.user_id),
            body: reason,
            old_value: Some(from.code().to_string()),
            new_value: Some(to.code().to_string()),
            terms: (!reason.is_empty()).then(|| {
                document_terms(
                    reason,
                    public_document(row.observatory_id, row.organization_id),
                )
            }),
        },
    )
    .await?
    .ok_or(Msg::ErrorTicketChanged)?;
    events.committed();
    Ok(())
}

/// The client accepts the resolution of their done request: it is closed, accepted.
pub async fn accept_resolution(
    db: &Db,
    events: &EventBus,
    viewer: &Viewer,
    number: &str,
) -> Result<(), ServiceError> {
    let row = load(db, viewer, number).await?;
    if viewer.role.is_staff() {
        return Err(Msg::ErrorForbidden.into());
    }
    let now = now_micros();
    let mut tx = db.begin().await?;
    tx.accept_resolution(row.observatory_id, row.id, viewer.user_id, now)
        .await?
        .ok_or(Msg::ErrorNotAwaitingConfirmation)?;
    tx.commit().await?;
    events.committed();
    Ok(())
}

/// Assigns a ticket to an agent, or to nobody (staff only). `None` unassigns. `seen`: the
/// assignee the person saw when they chose (`None` when they say nothing of it); if someone
/// else assigned it since, nothing is changed and they are told.
pub async fn assign(
    db: &Db,
    events: &EventBus,
    viewer: &Viewer,
    number: &str,
    assignee: Option<i64>,
    seen: Option<Option<i64>>,
) -> Result<(), ServiceError> {
    let row = load(db, viewer, number).await?;
    if !viewer.role.is_staff() {
        return Err(Msg::ErrorForbidden.into());
    }
    if seen.is_some_and(|seen| seen != row.assignee_id) {
        return Err(Msg::ErrorTicketChanged.into());
    }
    if row.assignee_id == assignee {
        return Err(Msg::ErrorNothingChanged.into());
    }
    if let Some(id) = assignee {
        if db.agent_name(viewer.observatory_id, id).await?.is_none() {
            return Err(Msg::ErrorAgentUnknown.into());
        }
    }
    db.record_change(
        row.observatory_id,
        row.id,
        TicketChange {
            assignee: Some(assignee),
            expected_assignee: Some(row.assignee_id),
            ..TicketChange::default()
        },
        NewEntry {
            kind: EntryKind::Assignment.code(),
            internal: false,
            author_id: Some(viewer.user_id),
            body: "",
            old_value: row.assignee_id.map(|id| id.to_string()),
            new_value: assignee.map(|id| id.to_string()),
            terms: None,
        },
    )
    .await?
    .ok_or(Msg::ErrorTicketChanged)?;
    events.committed();
    Ok(())
}

/// Changes a ticket's priority (staff only). `seen`: the priority the person saw, as for
/// `assign`.
pub async fn change_priority(
    db: &Db,
    events: &EventBus,
    viewer: &Viewer,
    number: &str,
    priority: Priority,
    seen: Option<Priority>,
) -> Result<(), ServiceError> {
    let row = load(db, viewer, number).await?;
    if !viewer.role.is_staff() {
        return Err(Msg::ErrorForbidden.into());
    }
    let from = Priority::from_value(row.priority);
    if seen.is_some_and(|seen| Some(seen) != from) {
        return Err(Msg::ErrorTicketChanged.into());
    }
    if from == Some(priority) {
        return Err(Msg::ErrorNothingChanged.into());
    }
    db.record_change(
        row.observatory_id,
        row.id,
        TicketChange {
            priority: Some(priority.value()),
            expected_priority: Some(row.priority),
            ..TicketChange::default()
        },
        NewEntry {
            kind: EntryKind::Priority.code(),
            internal: false,
            author_id: Some(viewer.user_id),
            body: "",
            old_value: from.map(|p| p.code().to_string()),
            new_value: Some(priority.code().to_string()),
            terms: None,
        },
    )
    .await?
    .ok_or(Msg::ErrorTicketChanged)?;
    events.committed();
    Ok(())
}

/// Adds a message to a ticket's thread, with the viewer's staged attachments `attachments`
/// (ids) committed to the same entry in the same transaction; staff may make it an internal
/// note (its files are then internal too). A message of files alone is an attachment entry
/// listing their names.
/// The ticket something is added to (a message, files, a voice comment), checked as a reply
/// is: in the viewer's scope, open for clients, internal only for staff.
pub(crate) async fn writable_ticket(
    db: &Db,
    viewer: &Viewer,
    number: &str,
    internal: bool,
) -> Result<TicketRow, ServiceError> {
    let row = load(db, viewer, number).await?;
    if internal && !viewer.role.is_staff() {
        return Err(Msg::ErrorForbidden.into());
    }
    if !viewer.role.is_staff() && status_of(&row).is_closed() {
        return Err(Msg::ErrorTicketClosed.into());
    }
    Ok(row)
}

/// Locks the ticket for what the transaction adds to it, checking again what
/// `writable_ticket` checked before: a client's request closed meanwhile is refused with the
/// same clear message, not written to.
pub(crate) async fn lock_for_writing(
    tx: &mut Tx,
    viewer: &Viewer,
    ticket: &TicketRow,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let open_only = !viewer.role.is_staff();
    match tx
        .touch_ticket(ticket.observatory_id, ticket.id, now, open_only)
        .await?
    {
        true => Ok(()),
        false if open_only => Err(Msg::ErrorTicketClosed.into()),
        false => Err(Msg::ErrorNotFound.into()),
    }
}

#[allow(clippy::too_many_arguments)]
pub async fn add_message(
    db: &Db,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    number: &str,
    body: &str,
    internal: bool,
    attachments: &[String],
) -> Result<i64, ServiceError> {
    add_message_with_voice(
        db,
        events,
        config,
        viewer,
        number,
        body,
        internal,
        attachments,
        None,
        None,
    )
    .await
}

/// A message that may carry a voice recording: with one, the typed text may be empty (then the
/// recording is the message). With `seen_up_to`, the last entry the writer had seen when they
/// began, it is refused while someone else has replied since (they read it first, then send
/// again with the newer entry). Returns the first entry written.
#[allow(clippy::too_many_arguments)]
pub async fn add_message_with_voice(
    db: &Db,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    number: &str,
    body: &str,
    internal: bool,
    attachments: &[String],
    voice: Option<VoiceSent<'_>>,
    seen_up_to: Option<i64>,
) -> Result<i64, ServiceError> {
    let row = writable_ticket(db, viewer, number, internal).await?;
    if let Some(seen) = seen_up_to {
        let replies = db
            .replies_after(scope_of(viewer), row.id, seen, viewer.user_id)
            .await?;
        if !replies.is_empty() {
            return Err(Msg::ErrorRepliedMeanwhile.into());
        }
    }
    let only_voice = voice.is_some() && attachments.is_empty() && body.trim().is_empty();
    let text = if only_voice {
        None
    } else if attachments.is_empty() || !body.trim().is_empty() {
        Some(check_text(
            body,
            MESSAGE_MAX_CHARS,
            Msg::ErrorMessageRequired,
        )?)
    } else {
        None
    };
    let now = now_micros();
    let mut tx = db.begin().await?;
    lock_for_writing(&mut tx, viewer, &row, now).await?;
    let staged = if attachments.is_empty() {
        Vec::new()
    } else {
        attachments::staged_for_commit(&mut tx, config, viewer, &row, attachments, now).await?
    };
    // The typed message (or its files), unless the recording is the whole message.
    let mut message = None;
    if !only_voice {
        let names = file_names(&staged);
        let kind = match (text, internal) {
            (None, _) => EntryKind::Attachment,
            (Some(_), true) => EntryKind::Note,
            (Some(_), false) => EntryKind::Message,
        };
        let body = text.unwrap_or(&names);
        let searched = match text {
            Some(text) if !names.is_empty() => format!("{text}\n{names}"),
            _ => body.to_string(),
        };
        let entry_id = tx
            .append_entry(
                row.observatory_id,
                row.id,
                NewEntry {
                    kind: kind.code(),
                    internal,
                    author_id: Some(viewer.user_id),
                    body,
                    old_value: None,
                    new_value: None,
                    terms: Some(document_terms(
                        &searched,
                        DocumentScope {
                            observatory_id: row.observatory_id,
                            organization_id: row.organization_id,
                            internal,
                        },
                    )),
                },
                now,
            )
            .await?;
        if !staged.is_empty() {
            attachments::attach_in_tx(&mut tx, viewer, &row, &staged, entry_id, internal, now)
                .await?;
        }
        message = Some((entry_id, kind));
    }
    let recorded = match voice {
        Some(sent) => Some(
            voice::commit_recorded(
                &mut tx,
                config,
                viewer,
                &row,
                sent.recording,
                sent.text,
                internal,
                now,
            )
            .await?,
        ),
        None => None,
    };
    // A client's answer to a request that waits for them ends the wait.
    if !viewer.role.is_staff() && row.timer_cadence.as_deref() == Some(lifecycle::WAITING) {
        tx.end_waiting(row.observatory_id, row.id, viewer.user_id, now)
            .await?;
    }
    tx.commit().await?;
    events.committed();
    message
        .map(|(entry_id, _)| entry_id)
        .or(recorded.map(|recorded| recorded.entry_id))
        .ok_or_else(|| Msg::ErrorInternal.into())
}

/// The names of files sent together, one a line: the body of an attachment entry, and what
/// search finds them by.
fn file_names(files: &[AttachmentRow]) -> String {
    files
        .iter()
        .map(|a| a.name.as_str())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A ticket with the timeline the viewer may see and what they may do with it.
pub async fn ticket(
    db: &Db,
    config: &Config,
    viewer: &Viewer,
    number: &str,
) -> Result<TicketDetail, ServiceError> {
    // Read before the ticket: an event in between is seen twice, never missed.
    let live_from = db.last_event_id().await?;
    let row = load(db, viewer, number).await?;
    let entries = db.timeline(scope_of(viewer), row.id).await?;
    let names = assignment_names(db, viewer.observatory_id, &entries).await?;
    let by_entry = attachments::by_entry(db, viewer, row.id).await?;
    let mut voices = voice::by_entry(db, viewer, row.id, &by_entry).await?;
    // A recording shows in its voice entry's player, not again as a file.
    let recordings: HashSet<String> = voices
        .values()
        .filter_map(|v| Some(v.audio.as_ref()?.id.clone()))
        .collect();
    let mut files: HashMap<i64, Vec<AttachmentInfo>> = HashMap::new();
    for (entry_id, file) in by_entry {
        if !recordings.contains(&file.id) {
            files.entry(entry_id).or_default().push(file);
        }
    }
    let agents = agents_for(db, viewer).await?;
    let held_mail = inbound::held_for(db, viewer, row.id).await?;
    let actions = actions_of(viewer, &row, config);
    Ok(TicketDetail {
        id: row.id,
        number: row.number.clone(),
        subject: row.subject.clone(),
        request_type: RequestType::from_code(&row.request_type).unwrap_or(RequestType::Question),
        status: status_of(&row),
        priority: Priority::from_value(row.priority).unwrap_or(Priority::Medium),
        organization_id: row.organization_id,
        organization: row.organization.clone(),
        telescope_id: row.telescope_id,
        telescope: row.telescope.clone(),
        assignee_id: row.assignee_id,
        assignee: row.assignee.clone(),
        opened_by: row.opened_by.clone(),
        created_at: row.created_at,
        updated_at: row.updated_at,
        closed_at: row.closed_at,
        resolution: row.resolution.as_deref().and_then(Resolution::from_code),
        waiting_for_client: row.timer_cadence.as_deref() == Some(lifecycle::WAITING),
        timeline: entries
            .into_iter()
            .filter_map(|e| {
                let attachments = files.remove(&e.id).unwrap_or_default();
                let voice = voices.remove(&e.id);
                timeline_entry(e, &names, attachments, voice)
            })
            .collect(),
        actions,
        agents,
        held_mail,
        live_from,
    })
}

/// The agents tickets can be assigned to, for staff; nobody for clients.
async fn agents_for(db: &Db, viewer: &Viewer) -> Result<Vec<Agent>, ServiceError> {
    if !viewer.role.is_staff() {
        return Ok(Vec::new());
    }
    Ok(db
        .agents(viewer.observatory_id)
        .await?
        .into_iter()
        .map(|(id, name)| Agent { id, name })
        .collect())
}

/// The names of the people assignment entries name (their values are user ids).
async fn assignment_names(
    db: &Db,
    observatory_id: i64,
    entries: &[EntryRow],
) -> Result<HashMap<i64, String>, ServiceError> {
    let user_ids: Vec<i64> = entries
        .iter()
        .filter(|e| e.kind == EntryKind::Assignment.code())
        .flat_map(|e| [&e.old_value, &e.new_value])
        .filter_map(|v| v.as_deref()?.parse().ok())
        .collect();
    Ok(db
        .user_names(observatory_id, &user_ids)
        .await?
        .into_iter()
        .collect())
}

/// Entries as a page tells of them elsewhere (the bell): what happened, without their files.
pub(crate) async fn entries_told(
    db: &Db,
    observatory_id: i64,
    entries: Vec<EntryRow>,
) -> Result<Vec<Option<TimelineEntry>>, ServiceError> {
    let names = assignment_names(db, observatory_id, &entries).await?;
    Ok(entries
        .into_iter()
        .map(|e| timeline_entry(e, &names, Vec::new(), None))
        .collect())
}

fn timeline_entry(
    row: EntryRow,
    names: &HashMap<i64, String>,
    attachments: Vec<AttachmentInfo>,
    voice: Option<VoiceInfo>,
) -> Option<TimelineEntry> {
    let kind = EntryKind::from_code(&row.kind)?;
    let name_of = |value: &Option<String>| {
        value
            .as_deref()
            .and_then(|v| v.parse::<i64>().ok())
            .and_then(|id| names.get(&id).cloned())
    };
    let change = match kind {
        EntryKind::Status => Some(Change::Status {
            from: row.old_value.as_deref().and_then(Status::from_code),
            to: Status::from_code(row.new_value.as_deref()?)?,
        }),
        EntryKind::Priority => Some(Change::Priority {
            from: row.old_value.as_deref().and_then(Priority::from_code),
            to: Priority::from_code(row.new_value.as_deref()?)?,
        }),
        EntryKind::Assignment => Some(Change::Assignee {
            from: name_of(&row.old_value),
            to: name_of(&row.new_value),
        }),
        EntryKind::System => row
            .new_value
            .as_deref()
            .and_then(|code| AutoAction::from_parts(code, row.old_value.as_deref()))
            .map(Change::Automatic),
        _ => None,
    };
    Some(TimelineEntry {
        id: row.id,
        kind,
        internal: row.internal,
        by_staff: row
            .author_role
            .as_deref()
            .and_then(Role::from_code)
            .is_some_and(Role::is_staff),
        author: row.author,
        body: row.body,
        change,
        attachments,
        voice,
        created_at: row.created_at,
    })
}

/// What a list for this viewer and filter holds; the view (all/open/closed) apart, so the
/// counts of the three views can share it.
fn selection_for(viewer: &Viewer, filter: &TicketFilter) -> Selection {
    let scope = scope_of(viewer);
    let mut selection = Selection {
        observatory_id: scope.observatory_id,
        organization_id: scope.organization_id,
        status: filter.status.map(|status| status.code().to_string()),
        request_type: filter.request_type.map(|kind| kind.code().to_string()),
        priority: filter.priority.map(Priority::value),
        telescope_id: filter.telescope,
        ..Selection::default()
    };
    match filter.resolution {
        Some(ResolutionFilter::Awaiting) => selection.awaiting_confirmation = true,
        Some(ResolutionFilter::Closed(resolution)) => {
            selection.resolution = Some(resolution.code().to_string())
        }
        None => {}
    }
    if viewer.role.is_staff() {
        // Staff see the whole observatory: the organization is a filter of theirs.
        if filter.organization.is_some() {
            selection.organization_id = filter.organization;
        }
        match filter.assignee {
            Some(AssigneeFilter::Unassigned) => selection.assignees.push(None),
            Some(AssigneeFilter::User(id)) => selection.assignees.push(Some(id)),
            None => {}
        }
        if filter.mine {
            selection.assignees.push(Some(viewer.user_id));
        }
    } else if filter.mine {
        selection.created_by = Some(viewer.user_id);
    }
    selection
}

fn with_view(mut selection: Selection, view: TicketView) -> Selection {
    selection.closed = match view {
        TicketView::All => None,
        TicketView::Open => Some(false),
        TicketView::Closed => Some(true),
    };
    selection
}

/// Cursors: `u<micros>.<id>`, `c<micros>.<id>`, `p<priority>.<micros>.<id>`; `s<offset>` for
/// ranked search results. A malformed cursor means the first page.
fn keyset_of(sort: TicketSort, cursor: &str) -> Option<Keyset> {
    let time = |micros: &str| DateTime::from_timestamp_micros(micros.parse().ok()?);
    let parts: Vec<&str> = cursor.get(1..)?.split('.').collect();
    match (sort, cursor.chars().next()?, parts.as_slice()) {
        (TicketSort::Updated, 'u', [at, id]) => Some(Keyset::Updated(time(at)?, id.parse().ok()?)),
        (TicketSort::Created, 'c', [at, id]) => Some(Keyset::Created(time(at)?, id.parse().ok()?)),
        (TicketSort::Priority, 'p', [p, at, id]) => Some(Keyset::Priority(
            p.parse().ok()?,
            time(at)?,
            id.parse().ok()?,
        )),
        _ => None,
    }
}

fn cursor_after(sort: TicketSort, row: &ListRow) -> String {
    match sort {
        TicketSort::Updated => format!("u{}.{}", row.updated_at.timestamp_micros(), row.id),
        TicketSort::Created => format!("c{}.{}", row.created_at.timestamp_micros(), row.id),
        TicketSort::Priority => format!(
            "p{}.{}.{}",
            row.priority,
            row.updated_at.timestamp_micros(),
            row.id
        ),
    }
}

fn summary(row: ListRow) -> TicketSummary {
    TicketSummary {
        id: row.id,
        number: row.number,
        subject: row.subject,
        request_type: RequestType::from_code(&row.request_type).unwrap_or(RequestType::Question),
        status: Status::from_code(&row.status).unwrap_or(Status::Open),
        priority: Priority::from_value(row.priority).unwrap_or(Priority::Medium),
        organization: row.organization,
        telescope: row.telescope,
        assignee: row.assignee,
        created_at: row.created_at,
        updated_at: row.updated_at,
        resolution: row.resolution.as_deref().and_then(Resolution::from_code),
        subject_hits: None,
        excerpt: None,
    }
}

/// Search results beyond this many are not paged through: refine the words instead.
const MAX_SEARCH_RESULTS: usize = 200;

/// One page of the viewer's tickets: a client's organization, or the observatory's queue.
pub async fn list(
    db: &Db,
    viewer: &Viewer,
    filter: &TicketFilter,
) -> Result<TicketPage, ServiceError> {
    // Read before the list: a change in between is counted, never missed.
    let live_from = db.last_event_id().await?;
    let base = selection_for(viewer, filter);
    if let Some(query) = SearchQuery::parse(&filter.query) {
        return search(db, viewer, filter, base, &query, live_from).await;
    }
    let counts = view_counts(db, viewer, filter, &base).await?;
    let keyset = filter
        .after
        .as_deref()
        .and_then(|c| keyset_of(filter.sort, c));
    let mut rows = db
        .list_tickets(
            &with_view(base, filter.view),
            filter.sort,
            keyset,
            PAGE_SIZE,
        )
        .await?;
    let next = if rows.len() > PAGE_SIZE {
        rows.truncate(PAGE_SIZE);
        rows.last().map(|row| cursor_after(filter.sort, row))
    } else {
        None
    };
    Ok(TicketPage {
        items: rows.into_iter().map(summary).collect(),
        next,
        counts,
        live_from,
    })
}

/// How many tickets each view (all, open, closed) of a list holds. The views people keep open
/// (the queue, an organization, a status, an assignee, "mine", unassigned) read the kept counts
/// of `ticket_counts`, exact at any volume; other filters count matching rows, up to `COUNT_CAP`.
async fn view_counts(
    db: &Db,
    viewer: &Viewer,
    filter: &TicketFilter,
    base: &Selection,
) -> Result<ViewCounts, ServiceError> {
    let staff = viewer.role.is_staff();
    let organization = if staff {
        filter.organization
    } else {
        scope_of(viewer).organization_id
    };
    // Which assignee's counts (0: unassigned), or all of them; `None` when not kept.
    let assignee = match (staff, filter.mine, filter.assignee) {
        (true, true, None) => Some(Some(viewer.user_id)),
        (true, false, Some(AssigneeFilter::User(id))) => Some(Some(id)),
        (true, false, Some(AssigneeFilter::Unassigned)) => Some(Some(0)),
        (true, false, None) | (false, false, _) => Some(None),
        // "Mine" together with an assignee, or a client's "opened by me".
        (true, true, Some(_)) | (false, true, _) => None,
    };
    let kept = filter.request_type.is_none()
        && filter.priority.is_none()
        && filter.telescope.is_none()
        && filter.resolution.is_none();
    if let (true, Some(assignee)) = (kept, assignee) {
        let mut counts = ViewCounts::default();
        let statuses = db
            .status_counts(viewer.observatory_id, organization, assignee)
            .await?;
        for (code, tickets) in statuses {
            let Some(status) = Status::from_code(&code) else {
                continue;
            };
            if filter.status.is_some_and(|wanted| wanted != status) {
                continue;
            }
            counts.all += tickets;
            if status.is_closed() {
                counts.closed += tickets;
            } else {
                counts.open += tickets;
            }
        }
        return Ok(counts);
    }
    Ok(ViewCounts {
        exactness: Exactness::Capped,
        all: db.count_tickets(base, COUNT_CAP).await?,
        open: db
            .count_tickets(&with_view(base.clone(), TicketView::Open), COUNT_CAP)
            .await?,
        closed: db
            .count_tickets(&with_view(base.clone(), TicketView::Closed), COUNT_CAP)
            .await?,
    })
}

/// A ticket a keyword search found.
struct Hit {
    id: i64,
    score: f64,
    closed: bool,
    updated_at: DateTime<Utc>,
}

async fn search(
    db: &Db,
    viewer: &Viewer,
    filter: &TicketFilter,
    base: Selection,
    query: &SearchQuery,
    live_from: i64,
) -> Result<TicketPage, ServiceError> {
    let scope = scope_of(viewer);
    let internal = scope.internal;
    let shared = db.count_observatories().await? > 1;
    let search_scope = SearchScope {
        observatory_id: shared.then_some(scope.observatory_id),
        organization_id: scope.organization_id,
        internal,
    };
    let mut texts = db.matching_texts(&base, query, search_scope).await?;
    // All the most recent matching texts were taken: older ones may match too.
    let taken_all = texts.len() >= SEARCH_CANDIDATES;
    texts.retain(|text| text.in_view);
    let average_terms = texts
        .iter()
        .map(|text| text.terms.split(' ').count() as f64)
        .sum::<f64>()
        / texts.len().max(1) as f64;
    // A ticket scores as its best text.
    let mut hits: HashMap<i64, Hit> = HashMap::new();
    for text in &texts {
        let score = query.score(&text.terms, text.subject, average_terms);
        let hit = hits.entry(text.ticket_id).or_insert(Hit {
            id: text.ticket_id,
            score,
            closed: text.closed,
            updated_at: text.updated_at,
        });
        hit.score = hit.score.max(score);
    }
    let mut hits: Vec<Hit> = hits.into_values().collect();
    let all = hits.len() as i64;
    let closed = hits.iter().filter(|hit| hit.closed).count() as i64;
    hits.retain(|hit| match filter.view {
        TicketView::All => true,
        TicketView::Open => !hit.closed,
        TicketView::Closed => hit.closed,
    });
    // Best first; among equals, the most recent activity.
    hits.sort_by(|a, b| {
        b.score
            .total_cmp(&a.score)
            .then(b.updated_at.cmp(&a.updated_at))
            .then(b.id.cmp(&a.id))
    });
    let offset = filter
        .after
        .as_deref()
        .and_then(|c| c.strip_prefix('s')?.parse::<usize>().ok())
        .unwrap_or(0)
        .min(MAX_SEARCH_RESULTS);
    let page: Vec<i64> = hits
        .iter()
        .skip(offset)
        .take(PAGE_SIZE)
        .map(|hit| hit.id)
        .collect();
    let next = (hits.len() > offset + PAGE_SIZE && offset + PAGE_SIZE < MAX_SEARCH_RESULTS)
        .then(|| format!("s{}", offset + PAGE_SIZE));
    let mut found: HashMap<i64, ListRow> = db
        .tickets_by_ids(&page)
        .await?
        .into_iter()
        .map(|row| (row.id, row))
        .collect();
    let rows: Vec<ListRow> = page.iter().filter_map(|id| found.remove(id)).collect();
    // The excerpt: the first text of each ticket (that the viewer may see) with a match.
    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
    let mut excerpts: HashMap<i64, String> = HashMap::new();
    for (ticket_id, body) in db.searchable_texts(&ids, internal).await? {
        if !excerpts.contains_key(&ticket_id) && query.excerpt(&body, 160).iter().any(|s| s.hit) {
            excerpts.insert(ticket_id, body);
        }
    }
    let items = rows
        .into_iter()
        .map(|row| {
            let excerpt = excerpts.get(&row.id).map(|body| query.excerpt(body, 160));
            let mut item = summary(row);
            item.subject_hits = Some(query.highlight(&item.subject));
            item.excerpt = excerpt;
            item
        })
        .collect();
    Ok(TicketPage {
        items,
        next,
        counts: ViewCounts {
            all,
            open: all - closed,
            closed,
            exactness: if taken_all {
                Exactness::AtLeast
            } else {
                Exactness::Exact
            },
        },
        live_from,
    })
}

/// The most requests a telescope's history shows.
const HISTORY_LIMIT: usize = 500;

/// A telescope and every request about it, newest first.
pub async fn telescope_history(
    db: &Db,
    viewer: &Viewer,
    telescope_id: i64,
) -> Result<TelescopeHistory, ServiceError> {
    let scope = scope_of(viewer);
    let (name, model, location, organization, retired) = db
        .scoped_telescope(scope, telescope_id)
        .await?
        .ok_or(Msg::ErrorNotFound)?;
    let filter = TicketFilter {
        telescope: Some(telescope_id),
        ..TicketFilter::default()
    };
    let mut rows = db
        .list_tickets(
            &selection_for(viewer, &filter),
            TicketSort::Created,
            None,
            HISTORY_LIMIT,
        )
        .await?;
    rows.truncate(HISTORY_LIMIT);
    Ok(TelescopeHistory {
        id: telescope_id,
        name,
        model,
        location,
        organization,
        retired,
        tickets: rows.into_iter().map(summary).collect(),
    })
}

/// What a new request may be about: the client's organization, or every active one for staff.
pub async fn new_ticket_choices(
    db: &Db,
    viewer: &Viewer,
) -> Result<NewTicketChoices, ServiceError> {
    let scope = scope_of(viewer);
    let rows = db
        .ticket_choices(viewer.observatory_id, scope.organization_id)
        .await?;
    let mut organizations: Vec<OrganizationChoice> = Vec::new();
    for (org_id, org_name, telescope_id, telescope_name) in rows {
        if organizations.last().is_none_or(|o| o.id != org_id) {
            organizations.push(OrganizationChoice {
                id: org_id,
                name: org_name,
                telescopes: Vec::new(),
            });
        }
        if let (Some(id), Some(name), Some(org)) =
            (telescope_id, telescope_name, organizations.last_mut())
        {
            org.telescopes.push(TelescopeChoice { id, name });
        }
    }
    let agents = agents_for(db, viewer).await?;
    Ok(NewTicketChoices {
        organizations,
        agents,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_subject_comes_from_the_comment() {
        assert_eq!(
            subject_from("\n  La cúpula no gira\nDesde ayer."),
            "La cúpula no gira"
        );
        let long = "palabra ".repeat(30);
        let subject = subject_from(&long);
        assert!(subject.ends_with('…'));
        assert!(subject.chars().count() <= 81);
        assert!(!subject.contains("  "));
    }

    #[test]
    fn cursors_round_trip_and_bad_ones_mean_the_first_page() {
        let at = DateTime::from_timestamp_micros(1_790_000_000_123_456).unwrap();
        let row = ListRow {
            id: 42,
            number: "OBS-2026-00042".into(),
            subject: String::new(),
            request_type: "repair".into(),
            status: "open".into(),
            priority: 10,
            organization: String::new(),
            telescope: None,
            assignee: None,
            created_at: at,
            updated_at: at,
            resolution: None,
        };
        for sort in TicketSort::ALL {
            let cursor = cursor_after(sort, &row);
            let keyset = keyset_of(sort, &cursor).expect(&cursor);
            let expected = match sort {
                TicketSort::Updated => Keyset::Updated(at, 42),
                TicketSort::Created => Keyset::Created(at, 42),
                TicketSort::Priority => Keyset::Priority(10, at, 42),
            };
            assert_eq!(keyset, expected);
        }
        assert_eq!(keyset_of(TicketSort::Updated, "c1.2"), None);
        assert_eq!(keyset_of(TicketSort::Updated, "u1"), None);
        assert_eq!(keyset_of(TicketSort::Updated, ""), None);
        assert_eq!(keyset_of(TicketSort::Updated, "ué.x"), None);
    }
}
