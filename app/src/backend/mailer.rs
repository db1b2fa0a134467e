//! Sends the outbox. A worker (`run`) takes the mails that are due in small batches
//! (`Db::claim_due_mail`: each row is leased to one sender, so several server processes on
//! one PostgreSQL never send the same row at once), sends each, and records the outcome:
//! sent (its sealed link text wiped, `outbox::mark_sent`), due again later with a growing
//! delay, or failed for good once the mail server refuses it outright or `MAX_ATTEMPTS` are
//! spent.
//!
//! A sender starts a mail of its batch only while the lease has room for the whole SMTP
//! exchange (`SMTP_TIMEOUT`), so no mail is sent after its lease lapsed and another sender
//! took it; what it cannot start in time it gives back. A sender that dies holds its batch
//! for one lease (a minute), then another sender or the restarted one takes it.
//!
//! Delivery is at least once: a crash between the mail server's "250" and the record of it
//! sends that mail again after its lease, under the same `Message-ID` (`message_id`), which
//! receiving servers and mail clients use to drop the copy.
//!
//! With no mail server configured (the embedded default), each mail is written as an `.eml`
//! file under `Config::mail_dir` and its path logged. A mail carrying a single-use link is
//! written with the link redacted: no usable link stays at rest, on disk as in the database;
//! the whole text goes to the log once, for the person trying the portal in a terminal.

use super::config::{Config, SmtpSecurity, SmtpSettings};
use super::events::EventBus;
use super::inbound;
use super::lifecycle;
use super::links::header_safe;
use super::notifications;
use super::outbox::{self, OutboxError};
use super::secret_key::SecretKey;
use super::storage::links::OutboxRow;
use super::storage::Db;
use chrono::{DateTime, Utc};
use futures_util::StreamExt as _;
use lettre::message::header::{ContentType, Header, HeaderName, HeaderValue};
use lettre::message::{Mailbox, MultiPart};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub mod testing;

/// Mails taken at once by one sender.
pub const BATCH: i64 = 20;
/// How long a taken batch is its sender's alone. Longer than one send may take
/// (`SMTP_TIMEOUT`), and short, since a sender that died holds its batch this long.
pub const LEASE: chrono::Duration = chrono::Duration::minutes(1);
/// Mails of a batch in flight at once (each on a connection of lettre's pool). A sender
/// killed mid-batch may send these again, under their Message-IDs.
pub const SENDING_AT_ONCE: usize = 8;
/// A send is given up after this many tries (about 17 hours of retries).
pub const MAX_ATTEMPTS: i64 = 8;
/// How often the worker looks for due mails: a change is mailed within a few seconds.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// How long one SMTP exchange may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(30);
/// The longest error text kept with a mail.
const ERROR_MAX_CHARS: usize = 500;

/// The wait before try `attempt + 1`, after `attempt` tries failed: 1, 4, 16, 64 minutes…, at
/// most 6 hours.
pub fn retry_delay(attempt: i64) -> chrono::Duration {
    let exponent = u32::try_from(attempt.clamp(1, 10) - 1).unwrap_or(0);
    chrono::Duration::minutes(4i64.pow(exponent)).min(chrono::Duration::hours(6))
}

/// The `Message-ID` of a queued mail: the same on every try, different for every row of
/// every portal (the row's id and creation instant, at the portal's host).
pub fn message_id(mail: &OutboxRow, domain: &str) -> String {
    format!(
        "<cupula.{}.{}@{domain}>",
        mail.id,
        mail.created_at.timestamp_micros()
    )
}

/// The id every mail about one ticket refers to (`In-Reply-To`, `References`), so that mail
/// clients show a ticket's mails as one conversation.
pub fn thread_id(ticket_id: i64, domain: &str) -> String {
    format!("<cupula.ticket.{ticket_id}@{domain}>")
}

/// The `List-Unsubscribe` header (RFC 2369): where the recipient stops mails of a kind.
#[derive(Debug, Clone)]
struct ListUnsubscribe(String);

impl Header for ListUnsubscribe {
    fn name() -> HeaderName {
        HeaderName::new_from_ascii_str("List-Unsubscribe")
    }

    fn parse(s: &str) -> Result<Self, Box<dyn std::error::Error + Send + Sync>> {
        Ok(ListUnsubscribe(s.to_string()))
    }

    fn display(&self) -> HeaderValue {
        HeaderValue::new(Self::name(), self.0.clone())
    }
}

/// Where mails go.
#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(PathBuf),
}

/// The portal's sender: its transport, its `From` and the domain of its `Message-ID`s.
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    domain: String,
    /// Replies by e-mail reach the requests: each request's mail carries its reply address.
    replies: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum MailerError {
    #[error("the mail server settings do not work: {0}")]
    Settings(String),
    #[error("CUPULA_MAIL_FROM is not an e-mail address: {0}")]
    From(String),
}

/// What one pass over the due mails did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct SendReport {
    pub sent: usize,
    /// Due again later.
    pub deferred: usize,
    /// Given up.
    pub failed: usize,
}

/// How a send ended.
enum Outcome {
    Sent,
    /// Worth trying again (a connection problem, a 4xx answer).
    Transient(String),
    /// Never worth trying again (a 5xx answer, an address that is none).
    Permanent(String),
}

impl Mailer {
    pub fn from_config(config: &Config) -> Result<Mailer, MailerError> {
        let from = config
            .mail_from
            .parse::<Mailbox>()
            .map_err(|e| MailerError::From(e.to_string()))?;
        let transport = match &config.smtp {
            Some(settings) => Transport::Smtp(smtp_transport(settings)?),
            None => Transport::Files(config.mail_dir()),
        };
        let domain = config
            .base_url
            .host_str()
            .filter(|host| !host.is_empty())
            .unwrap_or("localhost")
            .to_string();
        Ok(Mailer {
            transport,
            from,
            domain,
            replies: config.inbound_smtp_listen.is_some(),
        })
    }

    /// Whether mails are written to files (no mail server configured).
    pub fn writes_files(&self) -> bool {
        matches!(self.transport, Transport::Files(_))
    }

    /// The message as it goes out, with `body` (the whole text, or the redacted one): sent
    /// under the observatory's name, threaded under its ticket, with its HTML part and the
    /// recipient's way out of its kind when it has them.
    fn message(&self, key: &SecretKey, mail: &OutboxRow, body: String) -> Result<Message, String> {
        let to = mail
            .to_address
            .parse::<Mailbox>()
            .map_err(|e| format!("the address {:?} is not valid: {e}", mail.to_address))?;
        let from = match mail.from_name.as_deref().map(header_safe) {
            Some(name) if !name.trim().is_empty() => {
                Mailbox::new(Some(name.trim().to_string()), self.from.email.clone())
            }
            _ => self.from.clone(),
        };
        let mut builder = Message::builder()
            .from(from.clone())
            .to(to)
            .subject(header_safe(&mail.subject).trim())
            .message_id(Some(message_id(mail, &self.domain)))
            .date(mail.created_at.into());
        if let Some(ticket_id) = mail.ticket_id {
            let thread = thread_id(ticket_id, &self.domain);
            builder = builder.in_reply_to(thread.clone()).references(thread);
            // An answer reaches the request itself (`inbound`).
            if self.replies {
                let reply_to = inbound::reply_address(key, &self.from.to_string(), ticket_id)
                    .and_then(|address| address.parse().ok())
                    .map(|address| Mailbox::new(from.name.clone(), address));
                if let Some(reply_to) = reply_to {
                    builder = builder.reply_to(reply_to);
                }
            }
        }
        if let Some(url) = &mail.unsubscribe_url {
            builder = builder.header(ListUnsubscribe(format!("<{}>", header_safe(url))));
        }
        let message = match &mail.body_html {
            Some(html) => builder.multipart(MultiPart::alternative_plain_html(body, html.clone())),
            None => builder.header(ContentType::TEXT_PLAIN).body(body),
        };
        message.map_err(|e| e.to_string())
    }

    async fn send(&self, key: &SecretKey, mail: &OutboxRow) -> Outcome {
        let body = match outbox::body_to_send(key, mail) {
            Ok(body) => body,
            // Another key sealed it: no server of this portal can send it; said plainly.
            Err(err @ OutboxError::WrongKey) => return Outcome::Permanent(err.to_string()),
            Err(err) => return Outcome::Transient(err.to_string()),
        };
        match &self.transport {
            Transport::Smtp(smtp) => {
                let message = match self.message(key, mail, body) {
                    Ok(message) => message,
                    Err(err) => return Outcome::Permanent(err),
                };
                match smtp.send(message).await {
                    Ok(_) => Outcome::Sent,
                    Err(err) if err.is_permanent() => Outcome::Permanent(err.to_string()),
                    Err(err) => Outcome::Transient(err.to_string()),
                }
            }
            Transport::Files(dir) => {
                let carries_link = mail.sealed_body.is_some();
                let on_disk = if carries_link {
                    mail.body_text.clone()
                } else {
                    body.clone()
                };
                let message = match self.message(key, mail, on_disk) {
                    Ok(message) => message,
                    Err(err) => return Outcome::Permanent(err),
                };
                match write_eml(dir, mail, message.formatted()).await {
                    Ok(path) => {
                        if carries_link {
                            tracing::info!(path = %path.display(), to = %mail.to_address, subject = %mail.subject, text = %body, "e-mail written (no mail server configured; its link only here, redacted in the file)");
                        } else {
                            tracing::info!(path = %path.display(), to = %mail.to_address, subject = %mail.subject, "e-mail written (no mail server configured)");
                        }
                        Outcome::Sent
                    }
                    Err(err) => Outcome::Transient(format!("writing {}: {err}", dir.display())),
                }
            }
        }
    }
}

fn smtp_transport(
    settings: &SmtpSettings,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailerError> {
    let tls = || {
        TlsParameters::new(settings.host.clone()).map_err(|e| MailerError::Settings(e.to_string()))
    };
    let tls = match settings.security {
        SmtpSecurity::Plain => Tls::None,
        SmtpSecurity::StartTls => Tls::Required(tls()?),
        SmtpSecurity::Tls => Tls::Wrapper(tls()?),
    };
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(&settings.host)
        .port(settings.port)
        .tls(tls)
        .timeout(Some(SMTP_TIMEOUT));
    if let (Some(user), Some(password)) = (&settings.username, &settings.password) {
        builder = builder.credentials(Credentials::new(user.clone(), password.clone()));
    }
    Ok(builder.build())
}

/// Writes a mail as `<dir>/<created>-<id>.eml`, whole or not at all (a temporary name, then
/// renamed), readable by its owner only.
async fn write_eml(
    dir: &std::path::Path,
    mail: &OutboxRow,
    bytes: Vec<u8>,
) -> std::io::Result<PathBuf> {
    tokio::fs::create_dir_all(dir).await?;
    let name = format!(
        "{}-{}.eml",
        mail.created_at.format("%Y%m%d-%H%M%S"),
        mail.id
    );
    let path = dir.join(&name);
    let partial = dir.join(format!(".{name}.part"));
    let mut options = tokio::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    options.mode(0o600);
    let mut file = options.open(&partial).await?;
    tokio::io::AsyncWriteExt::write_all(&mut file, &bytes).await?;
    file.sync_all().await?;
    drop(file);
    tokio::fs::rename(&partial, &path).await?;
    Ok(path)
}

/// Sends the mails due at `now`, a batch at a time, until none is due. Each batch's lease
/// runs from when it is taken (`now` plus the time the sending took so far).
pub async fn send_due(
    db: &Db,
    key: &SecretKey,
    mailer: &Mailer,
    now: DateTime<Utc>,
) -> Result<SendReport, OutboxError> {
    let started = Instant::now();
    let lease = LEASE.to_std().unwrap_or_default();
    let mut report = SendReport::default();
    loop {
        let taken_at = now + chrono::Duration::from_std(started.elapsed()).unwrap_or_default();
        let batch = db.claim_due_mail(now, taken_at + LEASE, BATCH).await?;
        let claimed_at = Instant::now();
        let mut more = batch.len() as i64 == BATCH;
        // Several at once: each SMTP exchange spends most of its time waiting for the other
        // side (about 40 ms per mail on one connection, as lettre writes a message's end in
        // a second small packet), so one at a time would cap a portal at some 25 mails a second.
        // One person's mails about one request still go one after another, in the order they
        // were written: a reminder never lands after the notice that followed it.
        let steps: Vec<Result<Step, OutboxError>> = futures_util::stream::iter(by_recipient(batch))
            .map(|mails| async move {
                let mut steps = Vec::with_capacity(mails.len());
                for mail in mails {
                    if claimed_at.elapsed() + SMTP_TIMEOUT > lease {
                        // No room left for a whole exchange: it goes back, to be taken afresh.
                        steps.push(Ok(Step::Release(mail.id)));
                        continue;
                    }
                    let outcome = mailer.send(key, &mail).await;
                    steps.push(record(db, &mail, outcome, now).await);
                }
                steps
            })
            .buffer_unordered(SENDING_AT_ONCE)
            .flat_map(futures_util::stream::iter)
            .collect()
            .await;
        let mut unsent = Vec::new();
        let mut failure = None;
        for step in steps {
            match step {
                Ok(Step::Sent) => report.sent += 1,
                Ok(Step::Deferred) => report.deferred += 1,
                Ok(Step::Failed) => report.failed += 1,
                Ok(Step::Release(id)) => unsent.push(id),
                Err(err) => failure = Some(err),
            }
        }
        if !unsent.is_empty() {
            db.release_mail(&unsent, now).await?;
            more = true;
        }
        if let Some(err) = failure {
            return Err(err);
        }
        if !more {
            return Ok(report);
        }
    }
}

/// A batch's mails by recipient and request, each group in the batch's order (the outbox's):
/// what one person hears of one request arrives in the order it happened, while mails about
/// different requests (separate threads in their mail client) go side by side.
fn by_recipient(batch: Vec<OutboxRow>) -> Vec<Vec<OutboxRow>> {
    let mut groups: Vec<Vec<OutboxRow>> = Vec::new();
    for mail in batch {
        let recipient = mail.to_address.to_lowercase();
        match groups.iter_mut().find(|group| {
            group[0].to_address.to_lowercase() == recipient && group[0].ticket_id == mail.ticket_id
        }) {
            Some(group) => group.push(mail),
            None => groups.push(vec![mail]),
        }
    }
    groups
}

/// What became of one mail of a batch.
enum Step {
    Sent,
    Deferred,
    Failed,
    /// Not tried: given back.
    Release(i64),
}

/// Records how a send ended.
async fn record(
    db: &Db,
    mail: &OutboxRow,
    outcome: Outcome,
    now: DateTime<Utc>,
) -> Result<Step, OutboxError> {
    match outcome {
        Outcome::Sent => {
            outbox::mark_sent(db, mail.id).await?;
            Ok(Step::Sent)
        }
        Outcome::Transient(error) if mail.attempts < MAX_ATTEMPTS => {
            tracing::warn!(mail = mail.id, attempts = mail.attempts, %error, "an e-mail could not be sent; it will be tried again");
            let retry_at = now + retry_delay(mail.attempts);
            db.record_mail_failure(mail.id, &kept(&error), Some(retry_at), None)
                .await?;
            Ok(Step::Deferred)
        }
        Outcome::Transient(error) | Outcome::Permanent(error) => {
            tracing::error!(mail = mail.id, attempts = mail.attempts, %error, "an e-mail could not be sent and is given up");
            db.record_mail_failure(mail.id, &kept(&error), None, Some(now))
                .await?;
            Ok(Step::Failed)
        }
    }
}

fn kept(error: &str) -> String {
    error.chars().take(ERROR_MAX_CHARS).collect()
}

/// The sender's loop, for as long as the server runs: fires the life cycle's due timers
/// (`lifecycle::fire_due`), turns the changes of tickets into e-mails
/// (`notifications::notify_pending`), then sends what is due.
pub async fn run(db: Db, config: Arc<Config>, events: EventBus, key: SecretKey, mailer: Mailer) {
    if mailer.writes_files() {
        tracing::warn!("no mail server configured (CUPULA_SMTP_URL): e-mails are written as .eml files, not sent");
    }
    // Two loops that do not wait for each other: one turns changes and due timers into
    // e-mails, the other sends, woken as soon as there is mail (else every `POLL_EVERY`, for
    // retries and for mail other processes queued). Sending a busy minute's mail never holds
    // up the next changes' e-mails, nor the other way round.
    let queued = tokio::sync::Notify::new();
    let writing = async {
        loop {
            let now = Utc::now();
            if let Err(err) = lifecycle::fire_due(&db, &events, now).await {
                tracing::warn!(error = %err, "the requests' reminders could not be fired; trying again shortly");
            }
            match notifications::notify_pending(&db, &config, now).await {
                Ok(0) => {}
                Ok(_) => queued.notify_one(),
                Err(err) => {
                    tracing::warn!(error = %err, "ticket changes could not be turned into e-mails; trying again shortly")
                }
            }
            tokio::time::sleep(POLL_EVERY).await;
        }
    };
    let sending = async {
        loop {
            if let Err(err) = send_due(&db, &key, &mailer, Utc::now()).await {
                tracing::warn!(error = %err, "the outbox could not be read; trying again shortly");
            }
            tokio::select! {
                _ = queued.notified() => {}
                _ = tokio::time::sleep(POLL_EVERY) => {}
            }
        }
    };
    tokio::join!(writing, sending);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_wait_longer_each_time_up_to_six_hours() {
        assert_eq!(retry_delay(1), chrono::Duration::minutes(1));
        assert_eq!(retry_delay(2), chrono::Duration::minutes(4));
        assert_eq!(retry_delay(4), chrono::Duration::minutes(64));
        assert_eq!(retry_delay(7), chrono::Duration::hours(6));
        assert_eq!(retry_delay(99), chrono::Duration::hours(6));
    }
}
