//! Tickets as the browser and the server share them: what a list shows, what a ticket page
//! shows, and the filter of a list, which lives in the page's address so it can be bookmarked.

use super::{Priority, RequestType, Status};
use crate::i18n::{Lang, Msg};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// The longest subject a ticket takes, in characters.
pub const SUBJECT_MAX_CHARS: usize = 200;
/// The longest message, in characters (a long report with logs pasted in still fits).
pub const MESSAGE_MAX_CHARS: usize = 20_000;
/// The longest reason given for blocking a ticket.
pub const REASON_MAX_CHARS: usize = 2_000;
/// Tickets a list page shows at once.
pub const PAGE_SIZE: usize = 25;

/// A part of a text with the words a search matched marked, for highlighting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TextSegment {
    pub text: String,
    pub hit: bool,
}

/// One row of a ticket list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketSummary {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub request_type: RequestType,
    pub status: Status,
    pub priority: Priority,
    pub organization: String,
    pub telescope: Option<String>,
    pub assignee: Option<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// How a done request was closed; `None` while it awaits confirmation (or is not done).
    #[serde(default)]
    pub resolution: Option<Resolution>,
    /// For search results: the subject with the matched words marked.
    pub subject_hits: Option<Vec<TextSegment>>,
    /// For search results: an excerpt of the matching message with the matched words marked.
    pub excerpt: Option<Vec<TextSegment>>,
}

/// Counted views stop here: a count of `COUNT_CAP + 1` means "more than `COUNT_CAP`".
pub const COUNT_CAP: i64 = 10_000;

/// How many tickets each view of a list holds, with the list's other filters applied.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ViewCounts {
    pub all: i64,
    pub open: i64,
    pub closed: i64,
    pub exactness: Exactness,
}

/// How far a list's counts can be trusted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exactness {
    #[default]
    Exact,
    /// Counted up to `COUNT_CAP + 1` (filters without kept counts): that value means more.
    Capped,
    /// Lower bounds: a keyword search counts among the most recent matching texts only.
    AtLeast,
}

impl ViewCounts {
    /// A count as people read it: digits grouped the language's way, with a `+` where there may
    /// be more (`10.000+` past the cap).
    pub fn format(&self, count: i64, lang: Lang) -> String {
        match self.exactness {
            Exactness::Capped if count > COUNT_CAP => format!("{}+", group_digits(COUNT_CAP, lang)),
            Exactness::AtLeast if count > 0 => format!("{}+", group_digits(count, lang)),
            _ => group_digits(count, lang),
        }
    }
}

/// `1234567` as `1.234.567` (Spanish) or `1,234,567` (English).
pub fn group_digits(number: i64, lang: Lang) -> String {
    let separator = match lang {
        Lang::Es => '.',
        Lang::En => ',',
    };
    let digits = number.unsigned_abs().to_string();
    let mut grouped = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if number < 0 {
        grouped.push('-');
    }
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            grouped.push(separator);
        }
        grouped.push(digit);
    }
    grouped
}

/// One page of a ticket list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketPage {
    pub items: Vec<TicketSummary>,
    /// The cursor of the next page, when there is one.
    pub next: Option<String>,
    pub counts: ViewCounts,
    /// The newest event when the page was read: the live list counts changes after it.
    pub live_from: i64,
}

/// All, open (open, in progress, blocked) or closed (done, cancelled) tickets.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TicketView {
    #[default]
    All,
    Open,
    Closed,
}

impl TicketView {
    pub const ALL: [TicketView; 3] = [TicketView::All, TicketView::Open, TicketView::Closed];

    pub fn code(self) -> &'static str {
        match self {
            TicketView::All => "all",
            TicketView::Open => "open",
            TicketView::Closed => "closed",
        }
    }

    pub fn from_code(code: &str) -> Option<TicketView> {
        TicketView::ALL.into_iter().find(|v| v.code() == code)
    }
}

/// The order of a list; every order ends with the ticket id so pages never overlap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TicketSort {
    /// Latest activity first.
    #[default]
    Updated,
    /// Newest first.
    Created,
    /// Highest priority first, then latest activity.
    Priority,
}

impl TicketSort {
    pub const ALL: [TicketSort; 3] = [
        TicketSort::Updated,
        TicketSort::Created,
        TicketSort::Priority,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TicketSort::Updated => "updated",
            TicketSort::Created => "created",
            TicketSort::Priority => "priority",
        }
    }

    pub fn from_code(code: &str) -> Option<TicketSort> {
        TicketSort::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// Whose tickets, by assignee.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum AssigneeFilter {
    Unassigned,
    User(i64),
}

/// The parameters of a ticket list's query string, each read in one place (`TicketFilter::set`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FilterParameter {
    View,
    Status,
    Type,
    Priority,
    Telescope,
    Organization,
    Assignee,
    Mine,
    Resolution,
    Sort,
    Query,
    After,
}

impl FilterParameter {
    pub const ALL: [FilterParameter; 12] = [
        FilterParameter::View,
        FilterParameter::Status,
        FilterParameter::Type,
        FilterParameter::Priority,
        FilterParameter::Telescope,
        FilterParameter::Organization,
        FilterParameter::Assignee,
        FilterParameter::Mine,
        FilterParameter::Resolution,
        FilterParameter::Sort,
        FilterParameter::Query,
        FilterParameter::After,
    ];

    /// Its name in the query string.
    pub fn name(self) -> &'static str {
        match self {
            FilterParameter::View => "view",
            FilterParameter::Status => "status",
            FilterParameter::Type => "type",
            FilterParameter::Priority => "priority",
            FilterParameter::Telescope => "telescope",
            FilterParameter::Organization => "organization",
            FilterParameter::Assignee => "assignee",
            FilterParameter::Mine => "mine",
            FilterParameter::Resolution => "resolution",
            FilterParameter::Sort => "sort",
            FilterParameter::Query => "q",
            FilterParameter::After => "after",
        }
    }

    pub fn from_name(name: &str) -> Option<FilterParameter> {
        FilterParameter::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// Why a query string is not a ticket filter, in the strict reading (`TicketFilter::parse_strict`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FilterError {
    /// A parameter the list does not have, as it was written.
    Unknown(String),
    /// A value the parameter does not take.
    Invalid(FilterParameter),
    /// The parameter more than once, which would leave it unclear which value counts.
    Repeated(FilterParameter),
}

/// The longest search a list takes, in characters; longer ones are cut.
pub const QUERY_MAX_CHARS: usize = 200;

/// What a ticket list shows. It travels in the page's query string (`to_pairs`/`from_pairs`),
/// so a view can be bookmarked and shared; pages ignore unknown or malformed values, the REST
/// API refuses them (`parse_strict`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TicketFilter {
    pub view: TicketView,
    pub status: Option<Status>,
    pub request_type: Option<RequestType>,
    pub priority: Option<Priority>,
    pub telescope: Option<i64>,
    /// Staff only.
    pub organization: Option<i64>,
    /// Staff only.
    pub assignee: Option<AssigneeFilter>,
    /// Staff: assigned to me. Clients: opened by me.
    pub mine: bool,
    /// How done requests stand: awaiting the client's confirmation, or how they closed.
    pub resolution: Option<ResolutionFilter>,
    pub sort: TicketSort,
    /// Keywords; when present the list is ranked by relevance.
    pub query: String,
    /// The cursor of the page to show (from `TicketPage::next`).
    pub after: Option<String>,
}

impl TicketFilter {
    /// The query-string pairs of this filter, defaults left out.
    pub fn to_pairs(&self) -> Vec<(&'static str, String)> {
        use FilterParameter as P;
        let mut pairs = Vec::new();
        if self.view != TicketView::All {
            pairs.push((P::View.name(), self.view.code().to_string()));
        }
        if let Some(status) = self.status {
            pairs.push((P::Status.name(), status.code().to_string()));
        }
        if let Some(kind) = self.request_type {
            pairs.push((P::Type.name(), kind.code().to_string()));
        }
        if let Some(priority) = self.priority {
            pairs.push((P::Priority.name(), priority.code().to_string()));
        }
        if let Some(id) = self.telescope {
            pairs.push((P::Telescope.name(), id.to_string()));
        }
        if let Some(id) = self.organization {
            pairs.push((P::Organization.name(), id.to_string()));
        }
        match self.assignee {
            Some(AssigneeFilter::Unassigned) => pairs.push((P::Assignee.name(), "none".into())),
            Some(AssigneeFilter::User(id)) => pairs.push((P::Assignee.name(), id.to_string())),
            None => {}
        }
        if self.mine {
            pairs.push((P::Mine.name(), "1".into()));
        }
        if let Some(resolution) = self.resolution {
            pairs.push((P::Resolution.name(), resolution.code().to_string()));
        }
        if self.sort != TicketSort::Updated {
            pairs.push((P::Sort.name(), self.sort.code().to_string()));
        }
        if !self.query.trim().is_empty() {
            pairs.push((P::Query.name(), self.query.trim().to_string()));
        }
        if let Some(after) = &self.after {
            pairs.push((P::After.name(), after.clone()));
        }
        pairs
    }

    /// Reads a filter from query-string pairs as people edit addresses by hand: unknown
    /// parameters and malformed values are ignored.
    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> TicketFilter {
        let mut filter = TicketFilter::default();
        for (key, value) in pairs {
            if let Some(parameter) = FilterParameter::from_name(key) {
                // A malformed value leaves the parameter as it was.
                filter.set(parameter, value).ok();
            }
        }
        filter
    }

    /// Reads a filter from query-string pairs as programs send them: an unknown parameter, a
    /// malformed value or a repeated parameter is an error, never silently a wider list.
    pub fn parse_strict<'a>(
        pairs: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<TicketFilter, FilterError> {
        let mut filter = TicketFilter::default();
        let mut seen = Vec::new();
        for (key, value) in pairs {
            let parameter = FilterParameter::from_name(key)
                .ok_or_else(|| FilterError::Unknown(key.to_string()))?;
            if seen.contains(&parameter) {
                return Err(FilterError::Repeated(parameter));
            }
            seen.push(parameter);
            filter.set(parameter, value)?;
        }
        Ok(filter)
    }

    /// Sets one parameter from its query-string value, the one reading of each parameter. An
    /// empty value means the default, as a form's "any" choice sends it.
    fn set(&mut self, parameter: FilterParameter, value: &str) -> Result<(), FilterError> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(());
        }
        let invalid = FilterError::Invalid(parameter);
        match parameter {
            FilterParameter::View => self.view = TicketView::from_code(value).ok_or(invalid)?,
            FilterParameter::Status => self.status = Some(Status::from_code(value).ok_or(invalid)?),
            FilterParameter::Type => {
                self.request_type = Some(RequestType::from_code(value).ok_or(invalid)?)
            }
            FilterParameter::Priority => {
                self.priority = Some(Priority::from_code(value).ok_or(invalid)?)
            }
            FilterParameter::Telescope => self.telescope = Some(parse_id(value).ok_or(invalid)?),
            FilterParameter::Organization => {
                self.organization = Some(parse_id(value).ok_or(invalid)?)
            }
            FilterParameter::Assignee => {
                self.assignee = Some(match value {
                    "none" => AssigneeFilter::Unassigned,
                    id => AssigneeFilter::User(parse_id(id).ok_or(invalid)?),
                })
            }
            FilterParameter::Mine => {
                self.mine = match value {
                    "1" | "true" | "on" => true,
                    "0" | "false" | "off" => false,
                    _ => return Err(invalid),
                }
            }
            FilterParameter::Resolution => {
                self.resolution = Some(ResolutionFilter::from_code(value).ok_or(invalid)?)
            }
            FilterParameter::Sort => self.sort = TicketSort::from_code(value).ok_or(invalid)?,
            FilterParameter::Query => self.query = value.chars().take(QUERY_MAX_CHARS).collect(),
            FilterParameter::After if is_cursor(value) => self.after = Some(value.to_string()),
            FilterParameter::After => return Err(invalid),
        }
        Ok(())
    }

    /// The filter as a query string without the `?` (`view=open&q=c%C3%BApula`).
    pub fn to_query_string(&self) -> String {
        self.to_pairs()
            .iter()
            .map(|(key, value)| format!("{key}={}", escape_query_value(value)))
            .collect::<Vec<_>>()
            .join("&")
    }

    /// The same filter on its first page, or another view of it.
    pub fn first_page(&self) -> TicketFilter {
        TicketFilter {
            after: None,
            ..self.clone()
        }
    }
}

/// A row id as a filter takes it: a positive integer.
fn parse_id(value: &str) -> Option<i64> {
    value.parse().ok().filter(|id| *id > 0)
}

/// Whether `value` has the shape of a list cursor (`TicketPage::next`): a letter, then numbers
/// separated by dots. Whether it fits the list's order is the service's to judge (one that does
/// not means the first page).
fn is_cursor(value: &str) -> bool {
    let mut chars = value.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.as_str().split('.').all(|part| {
            let digits = part.strip_prefix('-').unwrap_or(part);
            !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
        })
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
fn escape_query_value(value: &str) -> String {
    value
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// How a done request was closed (the regulator's accepted → resolved → closed): the five
/// statuses stay; a done request is "closed" once its client accepted it or the portal closed
/// it after its reminders.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Resolution {
    /// The client accepted the resolution.
    Accepted,
    /// Nobody answered the confirmation reminders: closed automatically.
    AutoClosed,
    /// The request waited for its client, who never answered.
    NoReply,
}

impl Resolution {
    pub const ALL: [Resolution; 3] = [
        Resolution::Accepted,
        Resolution::AutoClosed,
        Resolution::NoReply,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Resolution::Accepted => "accepted",
            Resolution::AutoClosed => "auto_closed",
            Resolution::NoReply => "no_reply",
        }
    }

    pub fn from_code(code: &str) -> Option<Resolution> {
        Resolution::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self) -> Msg {
        match self {
            Resolution::Accepted => Msg::ResolutionAccepted,
            Resolution::AutoClosed => Msg::ResolutionAutoClosed,
            Resolution::NoReply => Msg::ResolutionNoReply,
        }
    }
}

/// A list's choice among done requests: those awaiting their client's confirmation, or those
/// closed one way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum ResolutionFilter {
    Awaiting,
    Closed(Resolution),
}

impl ResolutionFilter {
    pub const ALL: [ResolutionFilter; 4] = [
        ResolutionFilter::Awaiting,
        ResolutionFilter::Closed(Resolution::Accepted),
        ResolutionFilter::Closed(Resolution::AutoClosed),
        ResolutionFilter::Closed(Resolution::NoReply),
    ];

    /// `awaiting`, or the resolution's code.
    pub fn code(self) -> &'static str {
        match self {
            ResolutionFilter::Awaiting => "awaiting",
            ResolutionFilter::Closed(resolution) => resolution.code(),
        }
    }

    pub fn from_code(code: &str) -> Option<ResolutionFilter> {
        ResolutionFilter::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self) -> Msg {
        match self {
            ResolutionFilter::Awaiting => Msg::ResolutionPending,
            ResolutionFilter::Closed(resolution) => resolution.label(),
        }
    }
}

/// What the portal did by itself in a request's life cycle (a `System` entry's action).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AutoAction {
    /// Reminder `n` of `of` that the request waits for the client.
    WaitingReminder { n: i64, of: i64 },
    /// The request closes in `hours` unless the client answers.
    WaitingClosureNotice { hours: i64 },
    /// Closed: the client never answered.
    ClosedNoReply,
    /// The client is reminded to accept the resolution (or reopen).
    ConfirmationReminder,
    /// The done request closes in `hours` unless the client reopens it.
    ConfirmationClosureNotice { hours: i64 },
    /// Closed automatically: the resolution was not contested.
    ClosedAutomatically,
    /// The client accepted the resolution.
    Accepted,
}

impl AutoAction {
    /// How it is kept: `new_value` names it, `old_value` carries its number.
    pub fn code(self) -> &'static str {
        match self {
            AutoAction::WaitingReminder { .. } => "waiting_reminder",
            AutoAction::WaitingClosureNotice { .. } => "waiting_closure_notice",
            AutoAction::ClosedNoReply => "closed_no_reply",
            AutoAction::ConfirmationReminder => "confirmation_reminder",
            AutoAction::ConfirmationClosureNotice { .. } => "confirmation_closure_notice",
            AutoAction::ClosedAutomatically => "closed_automatically",
            AutoAction::Accepted => "accepted",
        }
    }

    /// The number kept with it (`old_value`), as `"n/of"` or hours.
    pub fn argument(self) -> Option<String> {
        match self {
            AutoAction::WaitingReminder { n, of } => Some(format!("{n}/{of}")),
            AutoAction::WaitingClosureNotice { hours }
            | AutoAction::ConfirmationClosureNotice { hours } => Some(hours.to_string()),
            _ => None,
        }
    }

    pub fn from_parts(code: &str, argument: Option<&str>) -> Option<AutoAction> {
        let hours = || argument.and_then(|a| a.parse().ok());
        Some(match code {
            "waiting_reminder" => {
                let (n, of) = argument?.split_once('/')?;
                AutoAction::WaitingReminder {
                    n: n.parse().ok()?,
                    of: of.parse().ok()?,
                }
            }
            "waiting_closure_notice" => AutoAction::WaitingClosureNotice { hours: hours()? },
            "closed_no_reply" => AutoAction::ClosedNoReply,
            "confirmation_reminder" => AutoAction::ConfirmationReminder,
            "confirmation_closure_notice" => {
                AutoAction::ConfirmationClosureNotice { hours: hours()? }
            }
            "closed_automatically" => AutoAction::ClosedAutomatically,
            "accepted" => AutoAction::Accepted,
            _ => return None,
        })
    }

    /// Whether it closes the request.
    pub fn closes(self) -> Option<Resolution> {
        match self {
            AutoAction::ClosedNoReply => Some(Resolution::NoReply),
            AutoAction::ClosedAutomatically => Some(Resolution::AutoClosed),
            AutoAction::Accepted => Some(Resolution::Accepted),
            _ => None,
        }
    }
}

/// A change a timeline entry records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Change {
    Status {
        from: Option<Status>,
        to: Status,
    },
    Priority {
        from: Option<Priority>,
        to: Priority,
    },
    /// Names of the agents; `None` for nobody.
    Assignee {
        from: Option<String>,
        to: Option<String>,
    },
    /// Something the portal did by itself, or the client's acceptance.
    Automatic(AutoAction),
}

/// What kind of event an entry of the timeline is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum EntryKind {
    /// The request was opened.
    Created,
    /// A message everybody on the ticket sees.
    Message,
    /// A note among staff, never shown or sent to clients.
    Note,
    Status,
    Assignment,
    Priority,
    Attachment,
    Voice,
    /// Something the portal did by itself.
    System,
}

/// The kind of the live event that says a voice entry's transcript arrived (or could not be
/// made); every other event carries its entry's kind.
pub const TRANSCRIPT_EVENT: &str = "transcript";

impl EntryKind {
    /// Every kind a live event can have.
    pub fn event_kinds() -> impl Iterator<Item = &'static str> {
        EntryKind::ALL
            .into_iter()
            .map(EntryKind::code)
            .chain([TRANSCRIPT_EVENT])
    }

    pub const ALL: [EntryKind; 9] = [
        EntryKind::Created,
        EntryKind::Message,
        EntryKind::Note,
        EntryKind::Status,
        EntryKind::Assignment,
        EntryKind::Priority,
        EntryKind::Attachment,
        EntryKind::Voice,
        EntryKind::System,
    ];

    pub fn code(self) -> &'static str {
        match self {
            EntryKind::Created => "created",
            EntryKind::Message => "message",
            EntryKind::Note => "note",
            EntryKind::Status => "status",
            EntryKind::Assignment => "assignment",
            EntryKind::Priority => "priority",
            EntryKind::Attachment => "attachment",
            EntryKind::Voice => "voice",
            EntryKind::System => "system",
        }
    }

    pub fn from_code(code: &str) -> Option<EntryKind> {
        EntryKind::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// One entry of a ticket's timeline, as the viewer may see it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub id: i64,
    pub kind: EntryKind,
    /// Staff only; never present in what a client receives.
    pub internal: bool,
    pub author: Option<String>,
    /// The author works for the observatory.
    pub by_staff: bool,
    /// The message, or the reason given with a change.
    pub body: String,
    pub change: Option<Change>,
    /// The files an attachment entry carries (those the viewer may see).
    pub attachments: Vec<super::AttachmentInfo>,
    /// A voice entry's recording and transcript.
    pub voice: Option<VoiceInfo>,
    pub created_at: DateTime<Utc>,
}

/// Where a voice comment's transcript stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum TranscriptState {
    /// Being transcribed: the entry is written to once it is done.
    Pending,
    Done,
    /// No transcription engine is configured: the audio is there to play.
    Unavailable,
    /// The engine could not transcribe it; staff may try again.
    Failed,
}

impl TranscriptState {
    pub const ALL: [TranscriptState; 4] = [
        TranscriptState::Pending,
        TranscriptState::Done,
        TranscriptState::Unavailable,
        TranscriptState::Failed,
    ];

    pub fn code(self) -> &'static str {
        match self {
            TranscriptState::Pending => "pending",
            TranscriptState::Done => "done",
            TranscriptState::Unavailable => "unavailable",
            TranscriptState::Failed => "failed",
        }
    }

    pub fn from_code(code: &str) -> Option<TranscriptState> {
        TranscriptState::ALL.into_iter().find(|s| s.code() == code)
    }
}

/// A voice comment: its recording (an attachment, with the same access rules), how long it
/// lasts, what it is spoken in and its transcript.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VoiceInfo {
    /// `None` when the viewer may not reach the recording.
    pub audio: Option<super::AttachmentInfo>,
    pub duration_ms: u64,
    /// A Whisper language code (`es`, `en`…).
    pub language: String,
    pub state: TranscriptState,
    /// The machine's transcript, once done.
    pub transcript: Option<String>,
    /// What the person sent instead of the machine's text, when they changed it.
    pub edited_text: Option<String>,
}

impl VoiceInfo {
    /// The text to read: the person's edit, else the machine's transcript.
    pub fn text(&self) -> Option<&str> {
        self.edited_text.as_deref().or(self.transcript.as_deref())
    }
}

/// What the viewer may do with a ticket, decided by the server.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketActions {
    /// Statuses the viewer may move the ticket to.
    pub statuses: Vec<Status>,
    pub reply: bool,
    pub internal_notes: bool,
    pub assign: bool,
    pub priority: bool,
    /// The client may accept the resolution of this done request.
    pub accept: bool,
}

/// An agent a ticket can be assigned to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agent {
    pub id: i64,
    pub name: String,
}

/// A ticket with its timeline, as its page shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TicketDetail {
    pub id: i64,
    pub number: String,
    pub subject: String,
    pub request_type: RequestType,
    pub status: Status,
    pub priority: Priority,
    pub organization_id: i64,
    pub organization: String,
    pub telescope_id: Option<i64>,
    pub telescope: Option<String>,
    pub assignee_id: Option<i64>,
    pub assignee: Option<String>,
    pub opened_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    /// How a done request was closed; `None` while it awaits confirmation (or is not done).
    pub resolution: Option<Resolution>,
    /// Blocked, and its client is reminded until they answer.
    pub waiting_for_client: bool,
    pub timeline: Vec<TimelineEntry>,
    pub actions: TicketActions,
    /// For staff: the agents the ticket can be assigned to.
    pub agents: Vec<Agent>,
    /// For staff: e-mails to the request's reply address that wait for a decision.
    pub held_mail: Vec<HeldMail>,
    /// The newest event when the ticket was read: the live page follows it from there.
    pub live_from: i64,
}

/// An e-mail to a request's reply address that was not posted, for staff to publish as an
/// internal note or discard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HeldMail {
    pub id: i64,
    pub from: String,
    pub subject: String,
    pub text: String,
    pub received_at: DateTime<Utc>,
    /// Its sender is nobody who may write on the request (else: the request was closed).
    pub unknown_sender: bool,
}

/// A telescope and every request about it, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelescopeHistory {
    pub id: i64,
    pub name: String,
    pub model: String,
    pub location: String,
    pub organization: String,
    pub retired: bool,
    pub tickets: Vec<TicketSummary>,
}

/// The choices of the new-request form and of the list's filters: telescopes per organization
/// (clients see only their own organization).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTicketChoices {
    pub organizations: Vec<OrganizationChoice>,
    /// For staff: who tickets can be assigned to (the queue's assignee filter).
    pub agents: Vec<Agent>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationChoice {
    pub id: i64,
    pub name: String,
    pub telescopes: Vec<TelescopeChoice>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TelescopeChoice {
    pub id: i64,
    pub name: String,
}

/// One of the person's API keys (the key itself is shown once, when created).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiTokenInfo {
    pub id: i64,
    pub name: String,
    pub created_at: DateTime<Utc>,
    /// `None`: the key does not expire.
    pub expires_at: Option<DateTime<Utc>>,
    /// Decided by the server when the list was read, so the page and its hydration agree.
    pub expired: bool,
    pub last_used_at: Option<DateTime<Utc>>,
}

/// How long a new API key works, chosen when it is created.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum ApiKeyValidity {
    Days30,
    #[default]
    Days90,
    Days365,
    Never,
}

impl ApiKeyValidity {
    pub const ALL: [ApiKeyValidity; 4] = [
        ApiKeyValidity::Days30,
        ApiKeyValidity::Days90,
        ApiKeyValidity::Days365,
        ApiKeyValidity::Never,
    ];

    pub fn code(self) -> &'static str {
        match self {
            ApiKeyValidity::Days30 => "30",
            ApiKeyValidity::Days90 => "90",
            ApiKeyValidity::Days365 => "365",
            ApiKeyValidity::Never => "never",
        }
    }

    pub fn from_code(code: &str) -> Option<ApiKeyValidity> {
        ApiKeyValidity::ALL.into_iter().find(|v| v.code() == code)
    }

    /// How many days the key works; `None` for a key that does not expire.
    pub fn days(self) -> Option<i64> {
        match self {
            ApiKeyValidity::Days30 => Some(30),
            ApiKeyValidity::Days90 => Some(90),
            ApiKeyValidity::Days365 => Some(365),
            ApiKeyValidity::Never => None,
        }
    }

    pub fn label(self) -> Msg {
        match self {
            ApiKeyValidity::Days30 => Msg::KeyValidity30Days,
            ApiKeyValidity::Days90 => Msg::KeyValidity90Days,
            ApiKeyValidity::Days365 => Msg::KeyValidity365Days,
            ApiKeyValidity::Never => Msg::KeyValidityNever,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_read_with_grouped_digits_and_a_cap_only_when_counted() {
        assert_eq!(group_digits(0, Lang::Es), "0");
        assert_eq!(group_digits(999, Lang::En), "999");
        assert_eq!(group_digits(1_000, Lang::Es), "1.000");
        assert_eq!(group_digits(1_234_567, Lang::En), "1,234,567");
        assert_eq!(group_digits(-12_345, Lang::Es), "-12.345");
        let kept = ViewCounts {
            all: 1_000_000,
            ..ViewCounts::default()
        };
        assert_eq!(kept.format(kept.all, Lang::Es), "1.000.000");
        let counted = ViewCounts {
            all: COUNT_CAP + 1,
            open: 12,
            exactness: Exactness::Capped,
            ..ViewCounts::default()
        };
        assert_eq!(counted.format(counted.all, Lang::En), "10,000+");
        assert_eq!(counted.format(counted.open, Lang::En), "12");
        let searched = ViewCounts {
            all: 1_000,
            exactness: Exactness::AtLeast,
            ..ViewCounts::default()
        };
        assert_eq!(searched.format(searched.all, Lang::Es), "1.000+");
        assert_eq!(searched.format(searched.closed, Lang::Es), "0");
    }

    #[test]
    fn a_filter_survives_the_address_bar() {
        let filter = TicketFilter {
            view: TicketView::Open,
            status: Some(Status::Blocked),
            request_type: Some(RequestType::Repair),
            priority: Some(Priority::High),
            telescope: Some(7),
            organization: Some(3),
            assignee: Some(AssigneeFilter::Unassigned),
            mine: true,
            resolution: Some(ResolutionFilter::Awaiting),
            sort: TicketSort::Priority,
            query: "cúpula".into(),
            after: Some("p10.1790000000123456.42".into()),
        };
        let pairs = filter.to_pairs();
        let back = TicketFilter::from_pairs(pairs.iter().map(|(k, v)| (*k, v.as_str())));
        assert_eq!(back, filter);
        assert!(TicketFilter::default().to_pairs().is_empty());
        assert_eq!(
            TicketFilter {
                query: "cúpula & co".into(),
                ..TicketFilter::default()
            }
            .to_query_string(),
            "q=c%C3%BApula%20%26%20co"
        );
    }

    #[test]
    fn malformed_filter_values_are_ignored() {
        let filter = TicketFilter::from_pairs([
            ("view", "weird"),
            ("status", "exploded"),
            ("telescope", "x1"),
            ("assignee", "someone"),
            ("sort", "random"),
        ]);
        assert_eq!(filter, TicketFilter::default());
    }

    #[test]
    fn the_strict_reading_takes_what_a_filter_writes() {
        let filter = TicketFilter {
            view: TicketView::Closed,
            status: Some(Status::Done),
            request_type: Some(RequestType::Visit),
            priority: Some(Priority::Low),
            telescope: Some(7),
            organization: Some(3),
            assignee: Some(AssigneeFilter::User(12)),
            mine: true,
            resolution: Some(ResolutionFilter::Closed(Resolution::AutoClosed)),
            sort: TicketSort::Created,
            query: "cúpula".into(),
            after: Some("c1790000000123456.42".into()),
        };
        let pairs = filter.to_pairs();
        assert_eq!(pairs.len(), FilterParameter::ALL.len(), "{pairs:?}");
        assert_eq!(
            TicketFilter::parse_strict(pairs.iter().map(|(k, v)| (*k, v.as_str()))),
            Ok(filter)
        );
        // Empty values are a form's "any", and "mine" can be said off.
        assert_eq!(
            TicketFilter::parse_strict([("status", ""), ("q", " "), ("mine", "0")]),
            Ok(TicketFilter::default())
        );
        assert_eq!(
            TicketFilter::parse_strict([("assignee", "none"), ("after", "s25")])
                .map(|f| (f.assignee, f.after)),
            Ok((Some(AssigneeFilter::Unassigned), Some("s25".into())))
        );
    }

    #[test]
    fn the_strict_reading_refuses_unknown_parameters_bad_values_and_repeats() {
        use FilterParameter as P;
        assert_eq!(
            TicketFilter::parse_strict([("status", "open"), ("colour", "red")]),
            Err(FilterError::Unknown("colour".into()))
        );
        for (key, value, parameter) in [
            ("status", "oepn", P::Status),
            ("type", "repairs", P::Type),
            ("priority", "10", P::Priority),
            ("view", "weird", P::View),
            ("sort", "random", P::Sort),
            ("telescope", "x1", P::Telescope),
            ("telescope", "0", P::Telescope),
            ("organization", "-3", P::Organization),
            ("assignee", "someone", P::Assignee),
            ("mine", "yes", P::Mine),
            ("resolution", "closed", P::Resolution),
            ("after", "u123.", P::After),
            ("after", "1.2", P::After),
        ] {
            assert_eq!(
                TicketFilter::parse_strict([(key, value)]),
                Err(FilterError::Invalid(parameter)),
                "{key}={value}"
            );
            // The pages' lenient reading of the same address is the default list.
            assert_eq!(
                TicketFilter::from_pairs([(key, value)]),
                TicketFilter::default()
            );
        }
        assert_eq!(
            TicketFilter::parse_strict([("status", "open"), ("status", "done")]),
            Err(FilterError::Repeated(P::Status))
        );
        for parameter in FilterParameter::ALL {
            assert_eq!(
                FilterParameter::from_name(parameter.name()),
                Some(parameter)
            );
        }
    }

    #[test]
    fn entry_kinds_round_trip() {
        for kind in EntryKind::ALL {
            assert_eq!(EntryKind::from_code(kind.code()), Some(kind));
        }
    }
}

/// What a person is writing on a ticket's page, as others are told.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Composing {
    Reply,
    /// An internal note: only staff are ever told.
    Note,
}

impl Composing {
    pub fn code(self) -> &'static str {
        match self {
            Composing::Reply => "reply",
            Composing::Note => "note",
        }
    }

    pub fn from_code(code: &str) -> Option<Composing> {
        match code {
            "reply" => Some(Composing::Reply),
            "note" => Some(Composing::Note),
            _ => None,
        }
    }
}

/// Someone else on a ticket's page now.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PresentViewer {
    /// Their name; `None` for the observatory's staff as a client is told of them ("the
    /// observatory is replying"), never by name and never while they write a note.
    pub name: Option<String>,
    pub composing: Option<Composing>,
}

/// How often an open ticket page reports its presence; after four missed reports it no
/// longer counts.
pub const PRESENCE_EVERY_SECS: u64 = 3;

/// One in-app notification: what happened on which request, read or not.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BellItem {
    pub id: i64,
    pub number: String,
    pub subject: String,
    /// The entry it tells of (without its files): what happened, who did it, when.
    pub entry: TimelineEntry,
    pub read: bool,
}

/// The bell: the unread count and the newest notifications.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bell {
    pub unread: i64,
    pub items: Vec<BellItem>,
}
