//! Replies by e-mail. Each notification about a request is sent with a reply address of that
//! request (`reply_address`: `CUPULA_MAIL_FROM`'s mailbox tagged with the request and a MAC
//! under the portal's secret key, so nobody can make one up). The mail server that receives
//! the portal's domain hands such mail to the SMTP listener (`smtp`), which calls `receive`:
//!
//! - the request is found by the tag alone, never by the sender or the subject;
//! - the reply's own words are kept (`reply_text`: quoted text, the "reply above this line"
//!   part and the signature go), with its attachments, and posted as a message of the person
//!   whose address sent it, through the same rules as the portal (`tickets::add_message`): a
//!   client of another organization, or a stranger, cannot write there;
//! - mail from somebody who may not write there, or to a closed request, is held: staff see
//!   it on the request and publish it as an internal note or discard it;
//! - each message counts once (its Message-ID), and automatic replies (out of office,
//!   bounces) are dropped, so two systems never answer each other forever.

pub mod smtp;

use super::accounts::Viewer;
use super::attachments;
use super::config::Config;
use super::error::ServiceError;
use super::events::EventBus;
use super::files::FileStore;
use super::secret_key::SecretKey;
use super::storage::inbound::{NewInbound, Recorded};
use super::storage::{Db, StoreError};
use super::tickets;
use crate::i18n::Msg;
use crate::model::{HeldMail, MESSAGE_MAX_CHARS};
use chrono::Utc;
use mail_parser::MimeHeaders as _;
use std::sync::Arc;

/// The tag's context under the secret key: a tag made for anything else never fits.
const TAG_CONTEXT: &str = "cupula reply address";
/// The tag's length in bytes (hex in the address: 24 characters).
const TAG_BYTES: usize = 12;
/// The most of a message kept: a mail bigger than this is refused at the door.
pub const MAX_MESSAGE_BYTES: usize = 40 * 1024 * 1024;

/// What the listener needs to turn a mail into a message.
#[derive(Clone)]
pub struct Inbound {
    pub db: Db,
    pub events: EventBus,
    pub config: Arc<Config>,
    pub files: FileStore,
    pub key: SecretKey,
}

/// What became of a received mail.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Received {
    /// Posted as the timeline entry.
    Posted(i64),
    /// Kept for staff to decide.
    Held,
    /// A copy of a mail received before.
    Copy,
    /// Dropped: an automatic reply, a mail from the portal itself, or nothing said.
    Ignored(&'static str),
}

#[derive(Debug, thiserror::Error)]
pub enum InboundError {
    /// Worth the mail server's trying again later.
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Account(String),
}

impl From<ServiceError> for InboundError {
    fn from(err: ServiceError) -> Self {
        match err {
            ServiceError::Store(err) => InboundError::Store(err),
            other => InboundError::Account(other.to_string()),
        }
    }
}

/// The reply address of a request: `local+<ticket id>.<tag>@domain` of `mail_from`'s mailbox.
pub fn reply_address(key: &SecretKey, mail_from: &str, ticket_id: i64) -> Option<String> {
    let mailbox: lettre::message::Mailbox = mail_from.parse().ok()?;
    let tag = key.tag(TAG_CONTEXT, &ticket_id.to_string());
    Some(format!(
        "{}+{ticket_id}.{}@{}",
        mailbox.email.user(),
        hex::encode(&tag[..TAG_BYTES]),
        mailbox.email.domain()
    ))
}

/// The request a reply address names, if its tag is the portal's (any case: some mail
/// servers change it).
pub fn ticket_of_address(key: &SecretKey, address: &str) -> Option<i64> {
    let (local, _domain) = address.trim().rsplit_once('@')?;
    let (_, tagged) = local.rsplit_once('+')?;
    let (id, tag) = tagged.split_once('.')?;
    let ticket_id: i64 = id.parse().ok().filter(|id| *id > 0)?;
    let tag = hex::decode(tag.to_ascii_lowercase()).ok()?;
    (tag.len() == TAG_BYTES && key.verify_tag(TAG_CONTEXT, &ticket_id.to_string(), &tag))
        .then_some(ticket_id)
}

/// Whether a line starts what the reply quotes: our "reply above this line", a mail
/// program's "On … wrote:" or its forwarded-message header.
fn starts_quote(line: &str) -> bool {
    let line = line.trim_start_matches(|c: char| c == '>' || c.is_whitespace());
    let trimmed = line.trim_end();
    crate::i18n::Lang::ALL
        .iter()
        .any(|lang| trimmed.contains(Msg::MailReplyAbove.text(*lang).trim_matches('#').trim()))
        || ((trimmed.ends_with("wrote:") || trimmed.ends_with("escribió:"))
            && (trimmed.starts_with("On ") || trimmed.starts_with("El ")))
        || trimmed.starts_with("-----Original Message-----")
        || trimmed.starts_with("-----Mensaje original-----")
        || trimmed.starts_with("________________________________")
}

/// The reply's own words: everything above the first line that starts the quoted mail, less
/// quoted lines, the signature (after `-- `) and blank lines at either end.
pub fn reply_text(text: &str) -> String {
    let text = text.replace("\r\n", "\n");
    let mut kept: Vec<&str> = Vec::new();
    for line in text.lines() {
        if starts_quote(line) || line == "-- " || line == "--" {
            break;
        }
        if line.trim_start().starts_with('>') {
            continue;
        }
        kept.push(line.trim_end());
    }
    kept.join("\n").trim().to_string()
}

/// Whether a mail says it was sent by a program, not a person (RFC 3834, and what common
/// autoresponders add): such mail is never posted, so two systems cannot answer each other.
fn is_automatic(message: &mail_parser::Message<'_>) -> bool {
    let header = |name: &str| {
        message
            .header_raw(name)
            .map(|v| v.trim().to_ascii_lowercase())
    };
    header("Auto-Submitted").is_some_and(|v| v != "no")
        || header("X-Autoreply").is_some()
        || header("X-Autorespond").is_some()
        || header("Precedence")
            .is_some_and(|v| ["bulk", "junk", "list", "auto_reply"].contains(&v.as_str()))
        || message
            .return_path()
            .as_text()
            .is_some_and(|path| path.trim_matches(['<', '>', ' ']).is_empty())
}

/// A person of the observatory with this address who may sign in, as a viewer.
async fn sender(db: &Db, observatory_id: i64, address: &str) -> Result<Option<Viewer>, StoreError> {
    for user_id in db.people_with_address(observatory_id, address).await? {
        if let Some(viewer) = db
            .user_with_organization(user_id)
            .await?
            .filter(|(user, _)| user.may_sign_in())
            .and_then(|(user, organization)| Viewer::of_user(user, organization, 0))
        {
            return Ok(Some(viewer));
        }
    }
    Ok(None)
}

/// Turns `raw`, a mail sent to the reply address of ticket `ticket_id`, into a message on it,
/// or holds it for staff. An `Err` is worth the mail server's trying again.
pub async fn receive(
    inbound: &Inbound,
    ticket_id: i64,
    raw: &[u8],
) -> Result<Received, InboundError> {
    let Some(ticket) = inbound.db.reply_ticket(ticket_id).await? else {
        return Ok(Received::Ignored("the request no longer exists"));
    };
    let Some(message) = mail_parser::MessageParser::default().parse(raw) else {
        return Ok(Received::Ignored("not a mail message"));
    };
    let Some(from) = message
        .from()
        .and_then(|from| from.first())
        .and_then(|addr| addr.address())
        .map(|address| address.trim().to_string())
    else {
        return Ok(Received::Ignored("no sender"));
    };
    let own_address = inbound
        .config
        .mail_from
        .parse::<lettre::message::Mailbox>()
        .map(|m| m.email.to_string())
        .unwrap_or_default();
    if is_automatic(&message) || from.eq_ignore_ascii_case(&own_address) {
        return Ok(Received::Ignored("an automatic reply"));
    }
    let message_id = match message.message_id() {
        Some(id) => id.to_string(),
        // Without one, the mail itself names it: the same mail sent again is the same.
        None => {
            use sha2::Digest as _;
            hex::encode(sha2::Sha256::digest(raw))
        }
    };
    let subject = message.subject().unwrap_or_default().trim().to_string();
    let said: String = reply_text(&message.body_text(0).unwrap_or_default())
        .chars()
        .take(MESSAGE_MAX_CHARS)
        .collect();
    let files: Vec<(String, Vec<u8>)> = message
        .attachments()
        .filter(|part| !part.contents().is_empty())
        .map(|part| {
            (
                part.attachment_name().unwrap_or("adjunto").to_string(),
                part.contents().to_vec(),
            )
        })
        .collect();
    if said.is_empty() && files.is_empty() {
        return Ok(Received::Ignored("nothing said"));
    }
    let recorded = inbound
        .db
        .record_inbound(&NewInbound {
            ticket_id,
            message_id: &message_id,
            from_address: &from,
            subject: &subject,
            body_text: &said,
            received_at: Utc::now(),
        })
        .await?;
    let Recorded::New(inbound_id) = recorded else {
        return Ok(Received::Copy);
    };
    let Some(viewer) = sender(&inbound.db, ticket.observatory_id, &from).await? else {
        inbound
            .db
            .hold_inbound(inbound_id, "unknown_sender")
            .await?;
        return Ok(Received::Held);
    };
    // Whether the person may write there at all, before any file is kept for them.
    match tickets::writable_ticket(&inbound.db, &viewer, &ticket.number, false).await {
        Ok(_) => {}
        Err(ServiceError::User(Msg::ErrorTicketClosed)) => {
            inbound.db.hold_inbound(inbound_id, "closed").await?;
            return Ok(Received::Held);
        }
        Err(ServiceError::User(_)) => {
            inbound
                .db
                .hold_inbound(inbound_id, "unknown_sender")
                .await?;
            return Ok(Received::Held);
        }
        Err(err) => return Err(err.into()),
    }
    let mut staged = Vec::new();
    let mut refused = Vec::new();
    for (name, bytes) in files {
        let body = futures_util::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(bytes))]);
        match attachments::stage_whole(
            &inbound.db,
            &inbound.files,
            &inbound.config,
            &viewer,
            &name,
            body,
        )
        .await
        {
            Ok(info) => staged.push(info.id),
            Err(ServiceError::User(_)) => refused.push(name),
            Err(err) => {
                discard(inbound, &viewer, &staged).await;
                return Err(err.into());
            }
        }
    }
    let mut body = said;
    if !refused.is_empty() {
        let note = Msg::MailFilesNotKept.fill(viewer.language, &[("names", &refused.join(", "))]);
        body = if body.is_empty() {
            note
        } else {
            format!("{body}\n\n{note}")
        };
    }
    match tickets::add_message(
        &inbound.db,
        &inbound.events,
        &inbound.config,
        &viewer,
        &ticket.number,
        &body,
        false,
        &staged,
    )
    .await
    {
        Ok(entry_id) => {
            inbound.db.inbound_posted(inbound_id, entry_id).await?;
            Ok(Received::Posted(entry_id))
        }
        Err(err) => {
            discard(inbound, &viewer, &staged).await;
            match err {
                // Refused by the portal's rules (the request closed a moment ago, say): trying
                // again would not change that, so staff decide.
                ServiceError::User(msg) => {
                    let because = if msg == Msg::ErrorTicketClosed {
                        "closed"
                    } else {
                        "unknown_sender"
                    };
                    inbound.db.hold_inbound(inbound_id, because).await?;
                    Ok(Received::Held)
                }
                err => Err(err.into()),
            }
        }
    }
}

/// Removes files staged for a message that was not posted.
async fn discard(inbound: &Inbound, viewer: &Viewer, staged: &[String]) {
    for id in staged {
        if let Err(err) = attachments::discard_staged(&inbound.db, &inbound.files, viewer, id).await
        {
            tracing::warn!(error = %err, "a staged file of an e-mailed reply could not be removed");
        }
    }
}

/// The request's held mail, for staff; nothing for anyone else.
pub async fn held_for(
    db: &Db,
    viewer: &Viewer,
    ticket_id: i64,
) -> Result<Vec<HeldMail>, ServiceError> {
    if !viewer.role.is_staff() {
        return Ok(Vec::new());
    }
    Ok(db
        .held_mail(ticket_id)
        .await?
        .into_iter()
        .map(|row| HeldMail {
            id: row.id,
            from: row.from_address,
            subject: row.subject,
            text: row.body_text,
            received_at: row.received_at,
            unknown_sender: row.held_because.as_deref() != Some("closed"),
        })
        .collect())
}

/// Staff publish a held mail on its request as an internal note that says who sent it.
/// Returns the note's entry.
pub async fn release_held(
    db: &Db,
    events: &EventBus,
    config: &Config,
    viewer: &Viewer,
    number: &str,
    held_id: i64,
) -> Result<i64, ServiceError> {
    let row = decide(db, viewer, number, held_id, "released").await?;
    let heading = Msg::MailHeldReleased.fill(
        viewer.language,
        &[
            ("from", &row.from_address),
            ("actor", &viewer.name),
            ("subject", &row.subject),
        ],
    );
    let body: String = format!("{heading}\n\n{}", row.body_text)
        .chars()
        .take(MESSAGE_MAX_CHARS)
        .collect();
    let entry_id =
        tickets::add_message(db, events, config, viewer, number, &body, true, &[]).await?;
    db.inbound_posted(row.id, entry_id).await?;
    Ok(entry_id)
}

/// Staff throw a held mail away.
pub async fn discard_held(
    db: &Db,
    viewer: &Viewer,
    number: &str,
    held_id: i64,
) -> Result<(), ServiceError> {
    decide(db, viewer, number, held_id, "discarded")
        .await
        .map(|_| ())
}

async fn decide(
    db: &Db,
    viewer: &Viewer,
    number: &str,
    held_id: i64,
    state: &str,
) -> Result<super::storage::inbound::HeldMailRow, ServiceError> {
    if !viewer.role.is_staff() {
        return Err(Msg::ErrorNotFound.into());
    }
    let ticket = tickets::load(db, viewer, number).await?;
    db.decide_held(ticket.id, held_id, state, viewer.user_id, Utc::now())
        .await?
        .ok_or(Msg::ErrorHeldMailGone.into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reply_address_names_its_request_and_no_other() {
        let key = SecretKey::generate();
        let address = reply_address(&key, "Observatorio <soporte@obs.example>", 42).unwrap();
        assert!(address.starts_with("soporte+42."), "{address}");
        assert!(address.ends_with("@obs.example"), "{address}");
        assert_eq!(ticket_of_address(&key, &address), Some(42));
        assert_eq!(
            ticket_of_address(&key, &address.to_ascii_uppercase()),
            Some(42)
        );
        // Another request's number with this tag, another key, a cut tag: nothing.
        assert_eq!(
            ticket_of_address(&key, &address.replace("+42.", "+43.")),
            None
        );
        assert_eq!(ticket_of_address(&SecretKey::generate(), &address), None);
        let (head, _) = address.split_once('@').unwrap();
        assert_eq!(
            ticket_of_address(&key, &format!("{}@obs.example", &head[..head.len() - 2])),
            None
        );
        assert_eq!(ticket_of_address(&key, "soporte@obs.example"), None);
        assert_eq!(ticket_of_address(&key, "soporte+42@obs.example"), None);
    }

    #[test]
    fn a_reply_keeps_its_own_words_only() {
        let mail = "Sigue sin cerrar.\r\nAdjunto foto.\r\n\r\nEl lun, 1 dic 2026 a las 10:00, Observatorio <soporte@obs.example> escribió:\r\n> ## Responde encima de esta línea para añadir un mensaje a la solicitud ##\r\n> Hola, Ana:\r\n";
        assert_eq!(reply_text(mail), "Sigue sin cerrar.\nAdjunto foto.");
        let marker_first = "Thanks, it works now.\n\n## Reply above this line to add a message to the request ##\nHello Ana,\n";
        assert_eq!(reply_text(marker_first), "Thanks, it works now.");
        let signed = "Ok.\n-- \nAna Pérez\nTeléfono 555\n";
        assert_eq!(reply_text(signed), "Ok.");
        let outlook = "De acuerdo.\n\n-----Original Message-----\nFrom: soporte\n";
        assert_eq!(reply_text(outlook), "De acuerdo.");
        let inline = "> pregunta\nrespuesta\n> otra\notra respuesta";
        assert_eq!(reply_text(inline), "respuesta\notra respuesta");
    }
}
