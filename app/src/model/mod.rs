//! Types shared by the browser and the server. Parsing constructors keep invalid values out.

use crate::i18n::Msg;

pub mod attachments;
mod form_draft;
pub mod notifications;
pub mod tickets;
mod time;
pub use attachments::{AttachmentInfo, PictureSize, FILE_NAME_MAX_CHARS};
pub use form_draft::FormDraft;
pub use notifications::{Cadences, MyNotifications, NotificationSettings, NotifyRule, RuleSwitch};
use serde::{Deserialize, Serialize};
pub use tickets::*;
pub use time::{format_time, LocalZone, ZoneSpan, UTC_ZONE};

/// What a person is to an observatory.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Role {
    /// Staff who also manage clients, staff, branding and settings.
    Admin,
    /// Staff who work requests.
    Agent,
    /// A user of a client organization.
    Client,
}

impl Role {
    pub fn code(self) -> &'static str {
        match self {
            Role::Admin => "admin",
            Role::Agent => "agent",
            Role::Client => "client",
        }
    }

    pub fn from_code(code: &str) -> Option<Role> {
        match code {
            "admin" => Some(Role::Admin),
            "agent" => Some(Role::Agent),
            "client" => Some(Role::Client),
            _ => None,
        }
    }

    pub fn is_staff(self) -> bool {
        matches!(self, Role::Admin | Role::Agent)
    }

    pub fn label(self) -> Msg {
        match self {
            Role::Admin => Msg::RoleAdmin,
            Role::Agent => Msg::RoleAgent,
            Role::Client => Msg::RoleClient,
        }
    }
}

/// The colour theme of the portal, remembered per browser.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
pub enum Theme {
    #[default]
    Light,
    Dark,
    /// Red on black, for people at the telescope who must keep their dark adaptation.
    Night,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::Light, Theme::Dark, Theme::Night];

    pub fn code(self) -> &'static str {
        match self {
            Theme::Light => "light",
            Theme::Dark => "dark",
            Theme::Night => "night",
        }
    }

    pub fn from_code(code: &str) -> Option<Theme> {
        Theme::ALL.into_iter().find(|t| t.code() == code)
    }

    pub fn label(self) -> Msg {
        match self {
            Theme::Light => Msg::ThemeLight,
            Theme::Dark => Msg::ThemeDark,
            Theme::Night => Msg::ThemeNight,
        }
    }
}

/// Where a request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Status {
    Open,
    InProgress,
    Blocked,
    Done,
    Cancelled,
}

impl Status {
    pub const ALL: [Status; 5] = [
        Status::Open,
        Status::InProgress,
        Status::Blocked,
        Status::Done,
        Status::Cancelled,
    ];

    pub fn code(self) -> &'static str {
        match self {
            Status::Open => "open",
            Status::InProgress => "in_progress",
            Status::Blocked => "blocked",
            Status::Done => "done",
            Status::Cancelled => "cancelled",
        }
    }

    pub fn from_code(code: &str) -> Option<Status> {
        Status::ALL.into_iter().find(|s| s.code() == code)
    }

    /// Done and Cancelled close a request; the others keep it open.
    pub fn is_closed(self) -> bool {
        matches!(self, Status::Done | Status::Cancelled)
    }

    pub fn label(self) -> Msg {
        match self {
            Status::Open => Msg::StatusOpen,
            Status::InProgress => Msg::StatusInProgress,
            Status::Blocked => Msg::StatusBlocked,
            Status::Done => Msg::StatusDone,
            Status::Cancelled => Msg::StatusCancelled,
        }
    }
}

/// How urgent a request is; the numbers are the observatory's own scale.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Priority {
    Low = 0,
    Medium = 5,
    High = 10,
}

impl Priority {
    pub const ALL: [Priority; 3] = [Priority::Low, Priority::Medium, Priority::High];

    pub fn value(self) -> i64 {
        self as i64
    }

    pub fn from_value(value: i64) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.value() == value)
    }

    pub fn from_code(code: &str) -> Option<Priority> {
        Priority::ALL.into_iter().find(|p| p.code() == code)
    }

    pub fn code(self) -> &'static str {
        match self {
            Priority::Low => "low",
            Priority::Medium => "medium",
            Priority::High => "high",
        }
    }

    pub fn label(self) -> Msg {
        match self {
            Priority::Low => Msg::PriorityLow,
            Priority::Medium => Msg::PriorityMedium,
            Priority::High => Msg::PriorityHigh,
        }
    }
}

/// What a client asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum RequestType {
    Question,
    Installation,
    Repair,
    Update,
    Visit,
}

impl RequestType {
    pub const ALL: [RequestType; 5] = [
        RequestType::Question,
        RequestType::Installation,
        RequestType::Repair,
        RequestType::Update,
        RequestType::Visit,
    ];

    pub fn code(self) -> &'static str {
        match self {
            RequestType::Question => "question",
            RequestType::Installation => "installation",
            RequestType::Repair => "repair",
            RequestType::Update => "update",
            RequestType::Visit => "visit",
        }
    }

    pub fn from_code(code: &str) -> Option<RequestType> {
        RequestType::ALL.into_iter().find(|r| r.code() == code)
    }

    pub fn label(self) -> Msg {
        match self {
            RequestType::Question => Msg::RequestQuestion,
            RequestType::Installation => Msg::RequestInstallation,
            RequestType::Repair => Msg::RequestRepair,
            RequestType::Update => Msg::RequestUpdate,
            RequestType::Visit => Msg::RequestVisit,
        }
    }
}

/// An e-mail address that passed a pragmatic syntax check, stored lower-cased.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Email(String);

impl Email {
    /// Accepts `local@domain.tld` without spaces, control characters or a second `@`.
    /// Deliverability is proved by the links we send, not by a regular expression.
    pub fn parse(input: &str) -> Result<Email, Msg> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(Msg::ErrorEmailRequired);
        }
        let valid = trimmed.len() <= 254
            && !trimmed.chars().any(|c| c.is_whitespace() || c.is_control())
            && match trimmed.split_once('@') {
                Some((local, domain)) => {
                    !local.is_empty()
                        && local.len() <= 64
                        && !domain.contains('@')
                        && domain.contains('.')
                        && !domain.starts_with(['.', '-'])
                        && !domain.ends_with(['.', '-'])
                        && !domain.contains("..")
                        && domain
                            .chars()
                            .all(|c| c.is_alphanumeric() || c == '.' || c == '-')
                }
                None => false,
            };
        if valid {
            Ok(Email(trimmed.to_lowercase()))
        } else {
            Err(Msg::ErrorEmailInvalid)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for Email {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// A client organization as the administration lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationSummary {
    pub id: i64,
    pub name: String,
    pub active: bool,
    pub people: i64,
    pub telescopes: i64,
}

/// A telescope of a client organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Telescope {
    pub id: i64,
    pub name: String,
    pub model: String,
    pub location: String,
    pub notes: String,
    /// Out of service; kept for the history of its requests.
    pub retired: bool,
}

/// A support contact of a client organization: one of its users, or an explicit address.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportContact {
    pub user_id: Option<i64>,
    pub email: String,
    /// The user's name, for user contacts.
    pub name: Option<String>,
}

/// One entry of a support-contacts list as a form sends it: `user:12` or `email:ana@club.org`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContactEntry {
    User(i64),
    Email(String),
}

impl ContactEntry {
    pub fn encode(&self) -> String {
        match self {
            ContactEntry::User(id) => format!("user:{id}"),
            ContactEntry::Email(email) => format!("email:{email}"),
        }
    }

    /// Reads one line; `None` for anything that is neither form.
    pub fn decode(line: &str) -> Option<ContactEntry> {
        let (kind, value) = line.trim().split_once(':')?;
        match kind {
            "user" => value.parse().ok().map(ContactEntry::User),
            "email" => Some(ContactEntry::Email(value.to_string())),
            _ => None,
        }
    }
}

/// One client organization with its telescopes and people, for the administration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrganizationDetail {
    pub organization: OrganizationSummary,
    pub telescopes: Vec<Telescope>,
    pub people: Vec<Person>,
    pub support_contacts: Vec<SupportContact>,
}

/// Where a person's account stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum AccountState {
    /// Can sign in.
    Active,
    /// Invited, has not chosen a password yet.
    Invited,
    /// Switched off by the observatory: cannot sign in.
    Deactivated,
}

/// A person as the administration lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub organization: Option<String>,
    pub state: AccountState,
}

/// Where a person's notifications go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NotificationEmailState {
    pub login: String,
    /// A confirmed address other than the log-in one.
    pub current: Option<String>,
    /// An address waiting for its confirmation link to be opened.
    pub pending: Option<String>,
}

/// The time zones one may choose from (IANA names), the observatory's, and the person's own
/// choice (`None`: the observatory's).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeZoneChoices {
    pub names: Vec<String>,
    pub observatory: String,
    pub own: Option<String>,
}

/// One of the person's sessions, as "My account" lists them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionInfo {
    pub id: i64,
    /// The session of this very page.
    pub current: bool,
    /// A short name of the browser and system ("Chrome · Android").
    pub device: String,
    pub ip: String,
    pub signed_in_at: chrono::DateTime<chrono::Utc>,
    pub last_seen_at: chrono::DateTime<chrono::Utc>,
}

/// What a link from an e-mail lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LinkKind {
    Invitation,
    PasswordReset,
}

impl LinkKind {
    pub fn code(self) -> &'static str {
        match self {
            LinkKind::Invitation => "invitation",
            LinkKind::PasswordReset => "password_reset",
        }
    }

    pub fn from_code(code: &str) -> Option<LinkKind> {
        [LinkKind::Invitation, LinkKind::PasswordReset]
            .into_iter()
            .find(|k| k.code() == code)
    }
}

/// The observatory's look, as the portal shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Branding {
    pub name: String,
    /// URL of the logo, or `None` for the default mark.
    pub logo_url: Option<String>,
    /// `#rrggbb`
    pub primary_color: String,
    /// `#rrggbb`
    pub accent_color: String,
}

/// `colour` if it is a `#rrggbb` hexadecimal colour, the only form that reaches a stylesheet.
pub fn css_hex_colour(colour: &str) -> Option<&str> {
    let valid = colour.len() == 7
        && colour.starts_with('#')
        && colour[1..].bytes().all(|b| b.is_ascii_hexdigit());
    valid.then_some(colour)
}

/// WCAG 2 contrast ratio between two `#rrggbb` colours (1.0 to 21.0).
pub fn contrast_ratio(a: &str, b: &str) -> Option<f64> {
    let (la, lb) = (relative_luminance(a)?, relative_luminance(b)?);
    let (light, dark) = if la > lb { (la, lb) } else { (lb, la) };
    Some((light + 0.05) / (dark + 0.05))
}

fn relative_luminance(colour: &str) -> Option<f64> {
    let hex = css_hex_colour(colour)?;
    let channel = |i: usize| -> Option<f64> {
        let value = u8::from_str_radix(&hex[i..i + 2], 16).ok()? as f64 / 255.0;
        Some(if value <= 0.03928 {
            value / 12.92
        } else {
            ((value + 0.055) / 1.055).powf(2.4)
        })
    };
    Some(0.2126 * channel(1)? + 0.7152 * channel(3)? + 0.0722 * channel(5)?)
}

/// The observatory's settings as its administrators edit them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrandingSettings {
    pub name: String,
    pub slug: String,
    pub email_sender_name: String,
    pub primary_color: String,
    pub accent_color: String,
    /// The IANA zone the portal shows dates in (unless a person chose their own) and whose
    /// year ticket numbers carry.
    pub time_zone: String,
}

/// The signed-in person, as the pages need them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionUser {
    pub id: i64,
    pub name: String,
    pub email: String,
    pub role: Role,
    pub organization: Option<String>,
}

/// Everything the shell of every page needs, resolved once per page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PortalContext {
    pub branding: Branding,
    pub user: Option<SessionUser>,
    /// The largest file one may attach (`CUPULA_MAX_FILE_BYTES`), so the page refuses a larger
    /// one before uploading it; 0 when unknown.
    #[serde(default)]
    pub max_file_bytes: u64,
    /// The zone dates are shown in: the person's own, else the observatory's.
    #[serde(default)]
    pub zone: LocalZone,
}

impl PortalContext {
    /// Used only when the context could not be resolved: the product's own look, nobody signed in.
    pub fn unknown() -> PortalContext {
        PortalContext {
            branding: Branding {
                name: "Cúpula".into(),
                logo_url: None,
                primary_color: "#1f4e8c".into(),
                accent_color: "#c2410c".into(),
            },
            user: None,
            max_file_bytes: 0,
            zone: LocalZone::default(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn email_parse_accepts_ordinary_addresses_and_lowercases() {
        assert_eq!(
            Email::parse(" Ana.Perez@Observatorio.ES ")
                .unwrap()
                .as_str(),
            "ana.perez@observatorio.es"
        );
        assert!(Email::parse("a+tag@sub.example.org").is_ok());
        assert!(Email::parse("josé@cúpula.es").is_ok());
    }

    #[test]
    fn email_parse_refuses_malformed_addresses() {
        assert_eq!(Email::parse("  "), Err(Msg::ErrorEmailRequired));
        for bad in [
            "ana",
            "ana@",
            "@obs.es",
            "ana@obs",
            "ana@@obs.es",
            "ana@obs..es",
            "ana perez@obs.es",
            "ana@obs.es\r\nBcc: x@y.z",
            "ana@-obs.es",
            "ana@obs.es.",
        ] {
            assert_eq!(Email::parse(bad), Err(Msg::ErrorEmailInvalid), "{bad:?}");
        }
    }

    #[test]
    fn priorities_keep_the_observatory_scale() {
        assert_eq!(Priority::Low.value(), 0);
        assert_eq!(Priority::Medium.value(), 5);
        assert_eq!(Priority::High.value(), 10);
        assert_eq!(Priority::from_value(5), Some(Priority::Medium));
        assert_eq!(Priority::from_value(3), None);
    }

    #[test]
    fn only_hex_colours_reach_css() {
        assert_eq!(css_hex_colour("#1f4E8c"), Some("#1f4E8c"));
        for bad in [
            "1f4e8c",
            "#1f4e8",
            "#1f4e8cc",
            "red",
            "#1f4e8c;}body{",
            "#gggggg",
        ] {
            assert_eq!(css_hex_colour(bad), None, "{bad}");
        }
    }

    #[test]
    fn contrast_ratios_follow_wcag() {
        let ratio = |a, b| (contrast_ratio(a, b).unwrap() * 100.0).round() / 100.0;
        assert_eq!(ratio("#000000", "#ffffff"), 21.0);
        assert_eq!(ratio("#ffffff", "#ffffff"), 1.0);
        assert_eq!(ratio("#767676", "#ffffff"), 4.54);
        assert_eq!(ratio("#1f4e8c", "#ffffff"), ratio("#ffffff", "#1f4e8c"));
        assert!(contrast_ratio("#1f4e8c", "#ffffff").unwrap() > 4.5);
        assert!(contrast_ratio("#ffeb3b", "#ffffff").unwrap() < 4.5);
        assert_eq!(contrast_ratio("yellow", "#ffffff"), None);
    }

    #[test]
    fn codes_round_trip() {
        for role in [Role::Admin, Role::Agent, Role::Client] {
            assert_eq!(Role::from_code(role.code()), Some(role));
        }
        for theme in Theme::ALL {
            assert_eq!(Theme::from_code(theme.code()), Some(theme));
        }
        for status in Status::ALL {
            assert_eq!(Status::from_code(status.code()), Some(status));
        }
        for kind in RequestType::ALL {
            assert_eq!(RequestType::from_code(kind.code()), Some(kind));
        }
        for priority in Priority::ALL {
            assert_eq!(Priority::from_code(priority.code()), Some(priority));
        }
    }
}

/// Where a queued e-mail stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum MailState {
    /// Not yet sent: due now, or again later after a deferral.
    Waiting,
    Sent,
    /// Given up: refused by the mail server, or every attempt spent.
    Failed,
    /// Cancelled by an administrator.
    Cancelled,
}

impl MailState {
    pub fn label(self) -> Msg {
        match self {
            MailState::Waiting => Msg::MailWaiting,
            MailState::Sent => Msg::MailSent,
            MailState::Failed => Msg::MailFailed,
            MailState::Cancelled => Msg::MailCancelled,
        }
    }

    pub fn code(self) -> &'static str {
        match self {
            MailState::Waiting => "waiting",
            MailState::Sent => "sent",
            MailState::Failed => "failed",
            MailState::Cancelled => "cancelled",
        }
    }
}

/// An e-mail of the outbox as administrators see it: links redacted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutboxMail {
    pub id: i64,
    pub to: String,
    pub subject: String,
    /// What it is about: `invitation`, `password_reset`, `email_verification`…
    pub kind: String,
    pub state: MailState,
    pub attempts: i64,
    /// The mail server's last answer when a try failed.
    pub last_error: Option<String>,
    pub created_at: chrono::DateTime<chrono::Utc>,
    pub sent_at: Option<chrono::DateTime<chrono::Utc>>,
    /// When a deferred mail is tried again.
    pub next_attempt_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// E-mails listed at once on the administration's outbox page.
pub const OUTBOX_PAGE: i64 = 50;

/// What a kind of e-mail is called, for the ones the portal sends.
pub fn mail_kind_label(kind: &str) -> Option<Msg> {
    match kind {
        "invitation" => Some(Msg::MailKindInvitation),
        "password_reset" => Some(Msg::MailKindPasswordReset),
        "email_verification" => Some(Msg::MailKindEmailVerification),
        "ticket_opened" => Some(Msg::MailKindTicketOpened),
        "ticket_status" => Some(Msg::MailKindTicketStatus),
        "ticket_message" => Some(Msg::MailKindTicketMessage),
        "ticket_assigned" => Some(Msg::MailKindTicketAssigned),
        "ticket_lifecycle" => Some(Msg::MailKindTicketLifecycle),
        _ => None,
    }
}
