//! Who is mailed about what happens to a request, and what the e-mail says.
//!
//! Every timeline entry is queued for notification in the transaction that writes it
//! (`storage::notifications::QUEUE_ENTRY`). The notifier (`notify_pending`, run by the mail
//! worker before each send) reads a queued entry, decides its recipients by the rules
//! (`NotifyRule`: switched per observatory, optional ones opted out of per person), renders one
//! e-mail per recipient in their language, and queues them in the transaction that takes the
//! entry off the queue: each entry is mailed once, however many server processes run.
//!
//! The people among the recipients are told in the portal too (the bell, `bell`), in the
//! same transaction.
//!
//! Internal entries reach nobody. The person who made a change is not mailed about it, except
//! for the acknowledgement of a request they opened.

use super::accounts::Viewer;
use super::config::Config;
use super::error::ServiceError;
use super::links::header_safe;
use super::storage::accounts::sender_name;
use super::storage::links::NewMail;
use super::storage::notifications::{Audience, Candidate, PendingNotification};
use super::storage::{Db, StoreError};
use crate::i18n::{Lang, Msg};
use crate::model::{
    notifications::Audience as RuleAudience, AutoAction, Email, MyNotifications,
    NotificationSettings, NotifyRule, Role, RuleSwitch, Status,
};
use chrono::{DateTime, Duration, Utc};
use std::collections::HashSet;

/// Entries read at once.
const BATCH: i64 = 50;
/// How long a voice comment's e-mail waits for its transcript before it goes without one.
pub const TRANSCRIPT_WAIT: Duration = Duration::minutes(2);

/// What an entry tells the people on a ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Opened,
    Status {
        from: Status,
        to: Status,
    },
    StaffMessage,
    ClientMessage,
    Assigned {
        to: i64,
    },
    /// A step of the life cycle (`lifecycle`), or the client's acceptance.
    Automatic(AutoAction),
}

impl Event {
    /// The entry's event, or `None` when it mails nobody (an internal note, a priority, a
    /// voice comment transcribed again).
    fn of(pending: &PendingNotification) -> Option<Event> {
        if pending.internal {
            return None;
        }
        let by_staff = pending
            .author_role
            .as_deref()
            .and_then(Role::from_code)
            .is_some_and(Role::is_staff);
        let message = || {
            Some(if by_staff {
                Event::StaffMessage
            } else {
                Event::ClientMessage
            })
        };
        match pending.kind.as_str() {
            "created" => Some(Event::Opened),
            "status" => Some(Event::Status {
                from: Status::from_code(pending.old_value.as_deref()?)?,
                to: Status::from_code(pending.new_value.as_deref()?)?,
            }),
            "message" | "attachment" => message(),
            "voice" if pending.old_value.is_none() => message(),
            "assignment" => Some(Event::Assigned {
                to: pending.new_value.as_deref()?.parse().ok()?,
            }),
            "system" => {
                AutoAction::from_parts(pending.new_value.as_deref()?, pending.old_value.as_deref())
                    .map(Event::Automatic)
            }
            _ => None,
        }
    }

    /// The outbox kind of its e-mails.
    fn mail_kind(&self) -> &'static str {
        match self {
            Event::Opened => "ticket_opened",
            Event::Status { .. } => "ticket_status",
            Event::StaffMessage | Event::ClientMessage => "ticket_message",
            Event::Assigned { .. } => "ticket_assigned",
            Event::Automatic(_) => "ticket_lifecycle",
        }
    }
}

/// Why somebody gets an e-mail: said at its foot.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Reason {
    Reporter,
    SupportContact,
    Assignee,
    Staff,
}

/// One e-mail to send: where, in which language, why.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Recipient {
    /// The person, when it is one: they are told in the portal too (the bell).
    user_id: Option<i64>,
    address: String,
    /// `None` for a plain address (a support contact that is no user, the queue address).
    name: Option<String>,
    lang: Lang,
    rule: NotifyRule,
    reason: Reason,
}

/// The recipients of one entry, each address once.
#[derive(Default)]
struct Collector {
    out: Vec<Recipient>,
    seen: HashSet<String>,
}

impl Collector {
    fn push(&mut self, recipient: Recipient) {
        if self.seen.insert(recipient.address.clone()) {
            self.out.push(recipient);
        }
    }

    /// A plain address: mailed in the portal's default language.
    fn push_address(&mut self, address: &str, rule: NotifyRule, reason: Reason) {
        self.push(Recipient {
            user_id: None,
            address: address.trim().to_lowercase(),
            name: None,
            lang: Lang::default(),
            rule,
            reason,
        });
    }
}

/// Decides who is mailed about `pending`: each address once, in the order reporter, support
/// contacts, staff (so the reporter who is also a contact gets the reporter's e-mail).
fn recipients(pending: &PendingNotification, event: &Event, audience: &Audience) -> Vec<Recipient> {
    let actor = pending.author_id;
    let enabled = |rule: NotifyRule| rule_on(&audience.rules, rule);
    let mut to = Collector::default();
    let add_person = |to: &mut Collector, person: &Candidate, rule: NotifyRule, reason| {
        let opted_out = !rule.essential()
            && audience
                .opt_outs
                .iter()
                .any(|(id, code)| *id == person.id && code == rule.code());
        if !enabled(rule) || opted_out {
            return;
        }
        let address = person
            .notification_email
            .as_deref()
            .filter(|a| !a.trim().is_empty())
            .unwrap_or(&person.email);
        to.push(Recipient {
            user_id: Some(person.id),
            address: address.trim().to_lowercase(),
            name: Some(person.name.clone()),
            lang: Lang::from_code(&person.language).unwrap_or_default(),
            rule,
            reason,
        });
    };
    // A plain address (a support contact, the queue) that is a person's own is that person:
    // their language and opt-outs apply, and the actor is not mailed at it.
    let add_address = |to: &mut Collector, address: &str, rule: NotifyRule, reason| {
        let address = address.trim();
        let owner = audience.people.iter().find(|p| {
            p.email.eq_ignore_ascii_case(address)
                || p.notification_email
                    .as_deref()
                    .is_some_and(|n| n.trim().eq_ignore_ascii_case(address))
        });
        match owner {
            Some(owner) if Some(owner.id) == actor => {}
            Some(owner) => add_person(to, owner, rule, reason),
            None if enabled(rule) => to.push_address(address, rule, reason),
            None => {}
        }
    };
    let person = |id: i64| audience.people.iter().find(|p| p.id == id);
    let is_client = |p: &&Candidate| p.role == Role::Client.code();
    let not_actor = |p: &&Candidate| Some(p.id) != actor;
    // The reporter, when a client reported it (staff who open a request for a client follow it
    // as staff).
    let reporter = person(pending.created_by).filter(is_client);
    let assignee = pending.assignee_id.and_then(person);

    let reporter_rule = match event {
        Event::Opened => Some(NotifyRule::OpenedToReporter),
        Event::Status { .. } | Event::Automatic(_) => Some(NotifyRule::StatusToReporter),
        Event::StaffMessage => Some(NotifyRule::ReplyToReporter),
        _ => None,
    };
    if let (Some(rule), Some(reporter)) = (reporter_rule, reporter) {
        // The acknowledgement goes to the reporter who opened it; nothing else to the actor.
        if rule == NotifyRule::OpenedToReporter || not_actor(&reporter) {
            add_person(&mut to, reporter, rule, Reason::Reporter);
        }
    }
    let contact_rule = match event {
        Event::Opened => Some(NotifyRule::OpenedToContacts),
        Event::Status { .. } | Event::Automatic(_) => Some(NotifyRule::StatusToContacts),
        Event::StaffMessage => Some(NotifyRule::ReplyToContacts),
        _ => None,
    };
    if let Some(rule) = contact_rule {
        let contacts = audience
            .people
            .iter()
            .filter(|p| p.support_contact && is_client(p))
            .filter(not_actor);
        for contact in contacts {
            add_person(&mut to, contact, rule, Reason::SupportContact);
        }
        for address in &audience.contact_addresses {
            add_address(&mut to, address, rule, Reason::SupportContact);
        }
    }
    // Staff: the assignee, else the queue address, else every member of staff.
    let by_client = pending.author_role.as_deref() == Some(Role::Client.code());
    let staff_rule = match event {
        Event::Opened => Some(NotifyRule::OpenedToStaff),
        Event::ClientMessage => Some(NotifyRule::ClientMessageToStaff),
        // A client cancelling, reopening or accepting reaches staff even when unassigned.
        Event::Status { .. } | Event::Automatic(AutoAction::Accepted) if by_client => {
            Some(NotifyRule::StatusToAssignee)
        }
        _ => None,
    };
    if let Some(rule) = staff_rule {
        let queue = pending
            .queue_email
            .as_deref()
            .map(str::trim)
            .filter(|a| !a.is_empty());
        match (assignee, queue) {
            (Some(assignee), _) => {
                if not_actor(&assignee) {
                    add_person(&mut to, assignee, rule, Reason::Assignee);
                }
            }
            (None, Some(queue)) => add_address(&mut to, queue, rule, Reason::Staff),
            (None, None) => {
                let staff = audience
                    .people
                    .iter()
                    .filter(|p| !is_client(p))
                    .filter(not_actor);
                for member in staff {
                    add_person(&mut to, member, rule, Reason::Staff);
                }
            }
        }
    }
    // The assignee hears of changes of status, and of the life cycle's closures, not of its
    // reminders.
    let tells_assignee = match event {
        Event::Status { .. } => true,
        Event::Automatic(action) => action.closes().is_some(),
        _ => false,
    };
    match event {
        _ if tells_assignee => {
            if let Some(assignee) = assignee.filter(not_actor) {
                add_person(
                    &mut to,
                    assignee,
                    NotifyRule::StatusToAssignee,
                    Reason::Assignee,
                );
            }
        }
        Event::Assigned { to: new } => {
            if let Some(new) = person(*new).filter(not_actor) {
                add_person(&mut to, new, NotifyRule::Assigned, Reason::Assignee);
            }
        }
        _ => {}
    }
    to.out
}

/// An e-mail as rendered for one recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Rendered {
    subject: String,
    text: String,
    html: String,
    unsubscribe_url: Option<String>,
}

/// The link to a ticket's entry, and to the notification choices in My account.
fn ticket_link(config: &Config, number: &str, entry_id: i64) -> String {
    let mut link = config.base_url.clone();
    link.set_path(&format!("tickets/{number}"));
    link.set_fragment(Some(&format!("entry-{entry_id}")));
    link.to_string()
}

fn preferences_link(config: &Config) -> String {
    let mut link = config.base_url.clone();
    link.set_path("account");
    link.set_fragment(Some("notifications"));
    link.to_string()
}

/// Escapes text for HTML.
fn html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A brand colour fit for a style attribute (`#rrggbb`), else `fallback`.
fn colour<'a>(value: &'a str, fallback: &'a str) -> &'a str {
    let hex = value.strip_prefix('#').unwrap_or("");
    if hex.len() == 6 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        value
    } else {
        fallback
    }
}

fn render(
    config: &Config,
    pending: &PendingNotification,
    event: &Event,
    to: &Recipient,
) -> Rendered {
    let lang = to.lang;
    let actor = pending
        .author_name
        .clone()
        .unwrap_or_else(|| Msg::MailSomeone.text(lang).to_string());
    let status_name = |status: &Status| status.label().text(lang).to_string();
    let (from, to_status) = match event {
        Event::Status { from, to } => (status_name(from), status_name(to)),
        _ => (String::new(), String::new()),
    };
    let args = [
        ("number", pending.number.as_str()),
        ("subject", pending.subject.as_str()),
        ("actor", actor.as_str()),
        ("organization", pending.organization_name.as_str()),
        ("observatory", pending.observatory_name.as_str()),
        ("from", from.as_str()),
        ("to", to_status.as_str()),
    ];
    let automatic = automatic_args(event);
    let headline = match (event, to.reason) {
        (Event::Opened, Reason::Reporter) => Msg::MailOpenedReporter,
        (Event::Opened, Reason::SupportContact) => Msg::MailOpenedContacts,
        (Event::Opened, _) => Msg::MailOpenedStaff,
        (Event::Status { .. }, _) => Msg::MailStatusChanged,
        (Event::StaffMessage, _) => Msg::MailStaffReplied,
        (Event::ClientMessage, _) => Msg::MailClientWrote,
        (Event::Assigned { .. }, _) => Msg::MailAssigned,
        (Event::Automatic(action), _) => match action {
            AutoAction::WaitingReminder { .. } => Msg::MailWaitingReminder,
            AutoAction::WaitingClosureNotice { .. } => Msg::MailWaitingClosureNotice,
            AutoAction::ClosedNoReply => Msg::MailClosedNoReply,
            AutoAction::ConfirmationReminder => Msg::MailConfirmationReminder,
            AutoAction::ConfirmationClosureNotice { .. } => Msg::MailConfirmationClosureNotice,
            AutoAction::ClosedAutomatically => Msg::MailClosedAutomatically,
            AutoAction::Accepted => Msg::MailAccepted,
        },
    }
    .fill(lang, &{
        let mut all = args.to_vec();
        all.extend(automatic.iter().map(|(k, v)| (*k, v.as_str())));
        all
    });
    // A done request asks its reporter to accept the resolution or reopen it.
    let ask = match (event, to.reason) {
        (
            Event::Status {
                to: Status::Done, ..
            },
            Reason::Reporter,
        ) => Some(Msg::MailConfirmationAsk.text(lang)),
        _ => None,
    };
    // The words that caused it: the comment, the message, the reason for a status.
    let said = match pending.kind.as_str() {
        "voice" => {
            let text = if pending.body.trim().is_empty() {
                pending.voice_transcript.as_deref().unwrap_or("")
            } else {
                &pending.body
            };
            if text.trim().is_empty() {
                Msg::MailVoiceComment.text(lang).to_string()
            } else {
                format!("{}\n\n{}", text.trim(), Msg::MailVoiceComment.text(lang))
            }
        }
        _ => pending.body.trim().to_string(),
    };
    let said_label = match event {
        Event::Status { .. } if !said.is_empty() => Some(Msg::MailReason.text(lang)),
        _ => None,
    };
    let greeting = match &to.name {
        Some(name) => Msg::MailGreeting.fill(lang, &[("name", name)]),
        None => Msg::MailGreetingNoName.text(lang).to_string(),
    };
    let why = match to.reason {
        Reason::Reporter => Msg::MailWhyReporter,
        Reason::SupportContact => Msg::MailWhyContact,
        Reason::Assignee => Msg::MailWhyAssignee,
        Reason::Staff => Msg::MailWhyStaff,
    }
    .fill(lang, &args);
    let link = ticket_link(config, &pending.number, pending.entry_id);
    let unsubscribe_url =
        (!to.rule.essential() && to.name.is_some()).then(|| preferences_link(config));
    let subject_line = Msg::MailSubjectLine.fill(lang, &args);
    let view = Msg::MailViewRequest.text(lang);
    let manage = Msg::MailManage.text(lang);

    // Where a reply's own words end, when replies by e-mail reach the request.
    let reply_above = config
        .inbound_smtp_listen
        .is_some()
        .then(|| Msg::MailReplyAbove.text(lang));
    let mut text = reply_above
        .map(|line| format!("{line}\n\n"))
        .unwrap_or_default();
    text.push_str(&format!("{greeting}\n\n{headline}\n"));
    if let Some(ask) = ask {
        text.push_str(ask);
        text.push('\n');
    }
    text.push_str(&subject_line);
    text.push('\n');
    if !said.is_empty() {
        text.push('\n');
        if let Some(label) = said_label {
            text.push_str(label);
            text.push('\n');
        }
        for line in said.lines() {
            text.push_str("> ");
            text.push_str(line);
            text.push('\n');
        }
    }
    text.push_str(&format!("\n{view}: {link}\n\n-- \n{why}\n"));
    if let Some(url) = &unsubscribe_url {
        text.push_str(&format!("{manage}: {url}\n"));
    }

    let primary = colour(&pending.primary_color, "#1f4e8c");
    let accent = colour(&pending.accent_color, "#c2410c");
    let logo = pending.logo_file.as_deref().map(|file| {
        let mut url = config.base_url.clone();
        url.set_path(&format!("branding/logo/{file}"));
        format!(
            r#"<img src="{}" alt="" height="32" style="height:32px;vertical-align:middle;margin-right:10px;border:0">"#,
            html(url.as_str())
        )
    });
    let said_html = if said.is_empty() {
        String::new()
    } else {
        let label = said_label
            .map(|label| {
                format!(
                    r#"<p style="margin:0 0 4px;font-weight:bold">{}</p>"#,
                    html(label)
                )
            })
            .unwrap_or_default();
        format!(
            r#"{label}<blockquote style="margin:0 0 16px;padding:8px 12px;border-left:4px solid {primary};background:#f3f4f6">{}</blockquote>"#,
            // Line breaks as elements: some mail programs ignore `white-space`.
            html(&said).replace('\n', "<br>\n")
        )
    };
    let manage_html = unsubscribe_url
        .as_ref()
        .map(|url| {
            format!(
                r#"<br><a href="{}" style="color:#374151">{}</a>"#,
                html(url),
                html(manage)
            )
        })
        .unwrap_or_default();
    let html_body = format!(
        r#"<!DOCTYPE html>
<html lang="{lang_code}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width"><title>{title}</title></head>
<body style="margin:0;padding:0;background:#f3f4f6;font-family:Arial,Helvetica,sans-serif;color:#111827">
{reply_above_html}<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="background:#f3f4f6"><tr><td align="center" style="padding:16px">
<table role="presentation" width="100%" cellpadding="0" cellspacing="0" style="max-width:600px;background:#ffffff;border-radius:6px">
<tr><td style="background:{primary};color:#ffffff;padding:14px 20px;font-size:18px;font-weight:bold;border-radius:6px 6px 0 0">{logo}{observatory}</td></tr>
<tr><td style="padding:20px;font-size:15px;line-height:1.5">
<p style="margin:0 0 12px">{greeting}</p>
<p style="margin:0 0 4px">{headline}</p>
{ask_html}<p style="margin:0 0 16px;color:#374151">{subject_line}</p>
{said_html}<p style="margin:0 0 8px"><a href="{link}" style="display:inline-block;background:{accent};color:#ffffff;text-decoration:none;padding:10px 18px;border-radius:4px;font-weight:bold">{view}</a></p>
</td></tr>
<tr><td style="padding:12px 20px;font-size:12px;color:#374151;border-top:1px solid #e5e7eb">{why}{manage_html}</td></tr>
</table></td></tr></table></body></html>
"#,
        lang_code = lang.code(),
        reply_above_html = reply_above
            .map(|line| format!(
                r#"<p style="margin:0;padding:8px 16px 0;font-size:12px;color:#4b5563">{}</p>"#,
                html(line)
            ))
            .unwrap_or_default(),
        title = html(&pending.subject),
        logo = logo.unwrap_or_default(),
        observatory = html(&pending.observatory_name),
        greeting = html(&greeting),
        headline = html(&headline),
        ask_html = ask
            .map(|ask| format!(r#"<p style="margin:0 0 4px">{}</p>"#, html(ask)))
            .unwrap_or_default(),
        subject_line = html(&subject_line),
        link = html(&link),
        view = html(view),
        why = html(&why),
    );
    Rendered {
        subject: header_safe(&format!("[{}] {}", pending.number, pending.subject)),
        text,
        html: html_body,
        unsubscribe_url,
    }
}

/// The numbers a life-cycle step's text names.
fn automatic_args(event: &Event) -> Vec<(&'static str, String)> {
    match event {
        Event::Automatic(AutoAction::WaitingReminder { n, of }) => {
            vec![("n", n.to_string()), ("of", of.to_string())]
        }
        Event::Automatic(
            AutoAction::WaitingClosureNotice { hours }
            | AutoAction::ConfirmationClosureNotice { hours },
        ) => vec![("hours", hours.to_string())],
        _ => Vec::new(),
    }
}

/// Whether a queued entry should wait: a voice comment whose transcript is still being made,
/// for a while, so that its e-mail carries the words.
fn waits(pending: &PendingNotification, now: DateTime<Utc>) -> bool {
    pending.voice_state.as_deref() == Some("pending")
        && pending.entry_created_at + TRANSCRIPT_WAIT > now
}

/// Turns the queued entries into e-mails in the outbox. Returns how many e-mails it queued.
pub async fn notify_pending(
    db: &Db,
    config: &Config,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let mut queued = 0;
    let mut after = 0;
    loop {
        let pending = db.pending_notifications(after, BATCH).await?;
        for entry in &pending {
            after = entry.entry_id;
            if waits(entry, now) {
                continue;
            }
            // One entry that cannot be mailed (a database error) must not hold the others.
            match notify(db, config, entry, now).await {
                Ok(count) => queued += count,
                Err(err) => {
                    tracing::warn!(entry = entry.entry_id, error = %err, "a ticket change could not be turned into e-mails; it is tried again shortly")
                }
            }
        }
        if (pending.len() as i64) < BATCH {
            return Ok(queued);
        }
    }
}

/// Mails one queued entry; returns how many e-mails it queued (none when another notifier
/// took it first).
async fn notify(
    db: &Db,
    config: &Config,
    entry: &PendingNotification,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let Some(event) = Event::of(entry) else {
        // Nobody is told (an internal note, a priority): it only leaves the queue.
        db.deliver_notification(entry.entry_id, &[], &[], now)
            .await?;
        return Ok(0);
    };
    let audience = db.notification_audience(entry).await?;
    let rendered: Vec<(Recipient, Rendered)> = recipients(entry, &event, &audience)
        .into_iter()
        .map(|to| {
            let mail = render(config, entry, &event, &to);
            (to, mail)
        })
        .collect();
    let kind = event.mail_kind();
    let from_name = sender_name(entry.email_sender_name.as_deref(), &entry.observatory_name);
    let mails: Vec<NewMail> = rendered
        .iter()
        .map(|(to, mail)| NewMail {
            observatory_id: entry.observatory_id,
            to_address: &to.address,
            subject: &mail.subject,
            body_text: &mail.text,
            sealed_body: None,
            kind,
            ticket_id: Some(entry.ticket_id),
            body_html: Some(&mail.html),
            from_name: Some(from_name),
            unsubscribe_url: mail.unsubscribe_url.as_deref(),
        })
        .collect();
    // The bell does not tell people of what they did (not even the acknowledgement).
    let told: Vec<i64> = rendered
        .iter()
        .filter_map(|(to, _)| to.user_id)
        .filter(|id| Some(*id) != entry.author_id)
        .collect();
    let delivered = db
        .deliver_notification(entry.entry_id, &mails, &told, now)
        .await?;
    Ok(if delivered { mails.len() } else { 0 })
}

/// Whether an observatory has `rule` on: a rule it never switched is on.
fn rule_on(observatory_rules: &[(String, bool)], rule: NotifyRule) -> bool {
    observatory_rules
        .iter()
        .find(|(code, _)| code == rule.code())
        .is_none_or(|(_, on)| *on)
}

fn switches(observatory_rules: &[(String, bool)]) -> Vec<RuleSwitch> {
    NotifyRule::ALL
        .into_iter()
        .map(|rule| RuleSwitch {
            rule,
            on: rule_on(observatory_rules, rule),
        })
        .collect()
}

/// An observatory's notification settings (administrators).
pub async fn settings(db: &Db, viewer: &Viewer) -> Result<NotificationSettings, ServiceError> {
    viewer.require_admin()?;
    let (queue, rules) = db.notification_settings(viewer.observatory_id).await?;
    Ok(NotificationSettings {
        queue_email: queue.unwrap_or_default(),
        rules: switches(&rules),
    })
}

/// Saves an observatory's notification settings: `on` lists the rules switched on (the rest
/// are off).
pub async fn save_settings(
    db: &Db,
    viewer: &Viewer,
    queue_email: &str,
    on: &[NotifyRule],
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    let queue = match queue_email.trim() {
        "" => None,
        address => Some(Email::parse(address)?),
    };
    let rules: Vec<(&str, bool)> = NotifyRule::ALL
        .into_iter()
        .map(|rule| (rule.code(), on.contains(&rule)))
        .collect();
    db.save_notification_settings(
        viewer.observatory_id,
        queue.as_ref().map(Email::as_str),
        &rules,
    )
    .await?;
    Ok(())
}

/// The optional rules for people like the viewer that their observatory has on: staff's, or a
/// support contact's copies (a client who is none receives only the essential ones).
fn optional_rules(
    viewer: &Viewer,
    support_contact: bool,
    observatory_rules: &[(String, bool)],
) -> Vec<NotifyRule> {
    let audience = if viewer.role.is_staff() {
        RuleAudience::Staff
    } else if support_contact {
        RuleAudience::Clients
    } else {
        return Vec::new();
    };
    switches(observatory_rules)
        .into_iter()
        .filter(|s| s.on && !s.rule.essential() && s.rule.audience() == audience)
        .map(|s| s.rule)
        .collect()
}

/// The optional rules offered to the viewer now.
async fn offered(db: &Db, viewer: &Viewer) -> Result<Vec<NotifyRule>, StoreError> {
    let (_, observatory_rules) = db.notification_settings(viewer.observatory_id).await?;
    let support_contact = !viewer.role.is_staff() && db.is_support_contact(viewer.user_id).await?;
    Ok(optional_rules(viewer, support_contact, &observatory_rules))
}

/// What the viewer may choose to receive, and what they chose.
pub async fn my_notifications(db: &Db, viewer: &Viewer) -> Result<MyNotifications, ServiceError> {
    let opted_out = db.opt_outs(viewer.user_id).await?;
    Ok(MyNotifications {
        rules: offered(db, viewer)
            .await?
            .into_iter()
            .map(|rule| RuleSwitch {
                rule,
                on: !opted_out.iter().any(|code| code == rule.code()),
            })
            .collect(),
    })
}

/// Saves the viewer's choices: `on` lists what they want among the optional rules offered to
/// them, the others offered are opted out of. A rule not offered now (its observatory switched
/// it off) keeps the person's earlier choice. Essential rules cannot be opted out of.
pub async fn save_my_notifications(
    db: &Db,
    viewer: &Viewer,
    on: &[NotifyRule],
) -> Result<(), ServiceError> {
    let offered = offered(db, viewer).await?;
    let earlier = db.opt_outs(viewer.user_id).await?;
    let off: Vec<&str> = NotifyRule::ALL
        .into_iter()
        .filter(|rule| {
            if offered.contains(rule) {
                !on.contains(rule)
            } else {
                !rule.essential() && earlier.iter().any(|code| code == rule.code())
            }
        })
        .map(NotifyRule::code)
        .collect();
    db.save_opt_outs(viewer.user_id, &off).await?;
    Ok(())
}

#[cfg(test)]
mod tests;
