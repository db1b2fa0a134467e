//! The outbox sent through a real SMTP conversation with a receiver on a socket (the test's
//! own, below), or written as `.eml` files: once per mail, links whole on the wire and nowhere
//! at rest, retried when the server defers, given up when it refuses, and never sent twice by
//! two senders at once.

use crate::common;

use app::backend::config::Config;
use app::backend::links;
use app::backend::mailer::{self, Mailer, MAX_ATTEMPTS};
use app::backend::outbox;
use app::backend::storage::links::OutboxFilter;
use app::backend::storage::Db;
use base64::Engine as _;
use chrono::{DateTime, Duration, Utc};
use common::{add_client, config_with, link_token, world, World};
use std::collections::HashSet;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};

const EMAIL: &str = "ana@andromeda.example";

/// A message as the receiver got it.
#[derive(Debug, Clone)]
pub(crate) struct Received {
    pub(crate) mail_from: String,
    pub(crate) rcpt_to: Vec<String>,
    /// The message as sent: headers, blank line, body (dot-unstuffed).
    pub(crate) data: String,
}

impl Received {
    pub(crate) fn header(&self, name: &str) -> Option<String> {
        // Folded lines (a continuation starts with white space) belong to the header above.
        let head = self
            .data
            .split("\r\n\r\n")
            .next()
            .unwrap_or("")
            .replace("\r\n ", " ")
            .replace("\r\n\t", " ");
        let prefix = format!("{}:", name.to_ascii_lowercase());
        head.split("\r\n")
            .find(|line| line.to_ascii_lowercase().starts_with(&prefix))
            .map(|line| line[prefix.len()..].trim().to_string())
    }

    /// The body, its transfer encoding undone.
    pub(crate) fn text(&self) -> String {
        let body = self.data.split_once("\r\n\r\n").map_or("", |(_, b)| b);
        match self.header("Content-Transfer-Encoding").as_deref() {
            Some("base64") => String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(body.replace("\r\n", ""))
                    .unwrap(),
            )
            .unwrap(),
            Some("quoted-printable") => quoted_printable(body),
            _ => body.to_string(),
        }
    }
}

pub(crate) fn quoted_printable(body: &str) -> String {
    let joined = body.replace("=\r\n", "");
    let bytes = joined.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'=' && i + 2 < bytes.len() {
            let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
            out.push(u8::from_str_radix(hex, 16).unwrap());
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap()
}

/// An SMTP server on a free port that keeps what it is sent. `refuse` is its answer to
/// `RCPT TO` while set (a "451 …" defers, a "550 …" refuses).
pub(crate) struct Receiver {
    port: u16,
    pub(crate) received: Arc<Mutex<Vec<Received>>>,
    refuse: Arc<Mutex<Option<&'static str>>>,
}

impl Receiver {
    pub(crate) async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let received: Arc<Mutex<Vec<Received>>> = Arc::default();
        let refuse: Arc<Mutex<Option<&'static str>>> = Arc::default();
        let (kept, answer) = (received.clone(), refuse.clone());
        tokio::spawn(async move {
            while let Ok((socket, _)) = listener.accept().await {
                tokio::spawn(converse(socket, kept.clone(), answer.clone()));
            }
        });
        Receiver {
            port,
            received,
            refuse,
        }
    }

    pub(crate) fn to(&self, address: &str) -> Vec<Received> {
        self.received
            .lock()
            .unwrap()
            .iter()
            .filter(|m| m.rcpt_to.iter().any(|r| r == address))
            .cloned()
            .collect()
    }

    pub(crate) fn count(&self) -> usize {
        self.received.lock().unwrap().len()
    }

    fn answer_rcpt(&self, answer: Option<&'static str>) {
        *self.refuse.lock().unwrap() = answer;
    }

    pub(crate) fn config(&self) -> Config {
        config_with(&[("CUPULA_SMTP_URL", format!("smtp://127.0.0.1:{}", self.port))])
    }
}

/// One SMTP session, as RFC 5321 has it (the commands lettre uses).
async fn converse(
    socket: tokio::net::TcpStream,
    received: Arc<Mutex<Vec<Received>>>,
    refuse: Arc<Mutex<Option<&'static str>>>,
) {
    let (read, mut write) = socket.into_split();
    let mut lines = BufReader::new(read);
    let _ = write.write_all(b"220 receiver.test ESMTP\r\n").await;
    let (mut from, mut to) = (String::new(), Vec::new());
    loop {
        let mut line = String::new();
        if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
            return;
        }
        let command = line.trim_end().to_string();
        let upper = command.to_ascii_uppercase();
        let answer = if upper.starts_with("EHLO") || upper.starts_with("HELO") {
            "250-receiver.test\r\n250-8BITMIME\r\n250 SMTPUTF8\r\n".to_string()
        } else if upper.starts_with("MAIL FROM:") {
            from = address_in(&command);
            to.clear();
            "250 2.1.0 OK\r\n".into()
        } else if upper.starts_with("RCPT TO:") {
            match *refuse.lock().unwrap() {
                Some(refusal) => format!("{refusal}\r\n"),
                None => {
                    to.push(address_in(&command));
                    "250 2.1.5 OK\r\n".into()
                }
            }
        } else if upper == "DATA" {
            let _ = write.write_all(b"354 go ahead\r\n").await;
            let mut data = String::new();
            loop {
                let mut line = String::new();
                if lines.read_line(&mut line).await.unwrap_or(0) == 0 {
                    return;
                }
                if line == ".\r\n" {
                    break;
                }
                data.push_str(line.strip_prefix('.').unwrap_or(&line));
            }
            received.lock().unwrap().push(Received {
                mail_from: from.clone(),
                rcpt_to: to.clone(),
                data,
            });
            "250 2.0.0 queued\r\n".into()
        } else if upper == "RSET" || upper == "NOOP" {
            "250 2.0.0 OK\r\n".into()
        } else if upper == "QUIT" {
            let _ = write.write_all(b"221 2.0.0 bye\r\n").await;
            return;
        } else {
            "502 5.5.2 not implemented\r\n".into()
        };
        if write.write_all(answer.as_bytes()).await.is_err() {
            return;
        }
    }
}

/// `x@y` from `MAIL FROM:<x@y>` or `RCPT TO:<x@y>`.
fn address_in(command: &str) -> String {
    let start = command.find('<').map_or(0, |i| i + 1);
    let end = command.rfind('>').unwrap_or(command.len());
    command[start..end].to_string()
}

async fn send(world: &World, config: &Config, now: DateTime<Utc>) -> mailer::SendReport {
    let mailer = Mailer::from_config(config).unwrap();
    let key = config.secret_key.clone().unwrap();
    mailer::send_due(&world.db, &key, &mailer, now)
        .await
        .unwrap()
}

async fn ask_for_a_reset(world: &World, config: &Config, email: &str) {
    links::request_password_reset(&world.db, config, world.observatory_id, email)
        .await
        .unwrap();
}

/// Runs `$body` with `$pool` bound to the test database's pool, whichever the engine.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Queues `count` plain mails (no link) for the observatory, as a notification would.
async fn queue_plain_mails(world: &World, count: usize) {
    for n in 0..count {
        let to = format!("aviso{n}@andromeda.example");
        on_pool!(&world.db, |pool| {
            sqlx::query(
            "INSERT INTO outbox (observatory_id, to_address, subject, body_text, kind, created_at) \
             VALUES ($1, $2, $3, $4, 'notice', $5)"
        )
        .bind(world.observatory_id)
        .bind(&to)
        .bind(format!("Aviso {n}"))
        .bind(format!("Texto del aviso {n}"))
        .bind(Utc::now())
        .execute(pool)
        .await
        .map(|_| ())
        .unwrap()
        });
    }
}

#[tokio::test]
async fn a_queued_link_goes_through_an_smtp_conversation_once_whole_and_is_then_wiped() {
    let world = world().await;
    let receiver = Receiver::start().await;
    let config = receiver.config();
    add_client(&world, EMAIL, "estrellas fugaces").await;
    ask_for_a_reset(&world, &config, EMAIL).await;

    let report = send(&world, &config, Utc::now()).await;
    assert_eq!(report.sent, 1, "{report:?}");
    let got = receiver.to(EMAIL);
    assert_eq!(got.len(), 1, "{got:?}");
    let mail = &got[0];
    assert_eq!(mail.mail_from, "no-reply@localhost");
    assert_eq!(mail.header("To").as_deref(), Some(EMAIL));
    assert!(mail.header("From").unwrap().contains("no-reply@localhost"));
    let message_id = mail.header("Message-ID").unwrap();
    assert!(
        message_id.starts_with("<cupula.") && message_id.ends_with("@127.0.0.1>"),
        "{message_id}"
    );
    assert!(mail.header("Subject").is_some());
    assert!(mail.header("Date").is_some());
    // On the wire the link is whole, and it works.
    let text = mail.text();
    assert!(!text.contains(outbox::REDACTED), "{text}");
    let token = link_token(&text);
    assert!(token.bytes().all(|b| b.is_ascii_hexdigit()), "{token}");

    // Sent: the database keeps only the redacted text, and a second pass sends nothing.
    let row = world.db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    assert!(row.sent_at.is_some());
    assert!(row.sealed_body.is_none());
    assert!(row.body_text.contains(outbox::REDACTED));
    assert!(!row.body_text.contains(&token));
    assert_eq!(send(&world, &config, Utc::now()).await.sent, 0);
    assert_eq!(receiver.count(), 1);
    links::set_password_with_link(&world.db, &token, "nebulosa del cangrejo", false)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_deferring_server_gets_the_mail_later_and_a_refusing_one_has_it_given_up() {
    let world = world().await;
    let receiver = Receiver::start().await;
    let config = receiver.config();
    add_client(&world, EMAIL, "estrellas fugaces").await;
    ask_for_a_reset(&world, &config, EMAIL).await;
    let start = Utc::now();

    // "Try later": kept, due again in a minute, not before.
    receiver.answer_rcpt(Some("451 4.3.0 mailbox busy"));
    assert_eq!(send(&world, &config, start).await.deferred, 1);
    let row = world.db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    assert_eq!(row.attempts, 1);
    assert!(
        row.last_error.as_deref().unwrap().contains("451"),
        "{row:?}"
    );
    assert!(row.sent_at.is_none() && row.failed_at.is_none());
    // (PostgreSQL keeps microseconds.)
    assert_eq!(
        row.next_attempt_at.map(|at| at.timestamp_micros()),
        Some((start + mailer::retry_delay(1)).timestamp_micros())
    );
    receiver.answer_rcpt(None);
    assert_eq!(
        send(&world, &config, start + Duration::seconds(30))
            .await
            .sent,
        0
    );
    assert_eq!(receiver.count(), 0);
    let later = start + mailer::retry_delay(1);
    assert_eq!(send(&world, &config, later).await.sent, 1);
    assert_eq!(receiver.to(EMAIL).len(), 1);
    let row = world.db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    assert!(row.sent_at.is_some() && row.last_error.is_none());

    // "No such mailbox": given up at once, and not tried again.
    queue_plain_mails(&world, 1).await;
    receiver.answer_rcpt(Some("550 5.1.1 no such mailbox"));
    assert_eq!(send(&world, &config, later).await.failed, 1);
    let failed = world
        .db
        .observatory_outbox(world.observatory_id, OutboxFilter::Failed, None, 10)
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].to_address, "aviso0@andromeda.example");
    assert!(failed[0].last_error.as_deref().unwrap().contains("550"));
    receiver.answer_rcpt(None);
    assert_eq!(
        send(&world, &config, later + Duration::days(1)).await.sent,
        0
    );

    // An administrator retries it: it goes.
    assert!(world
        .db
        .retry_failed_mail(world.observatory_id, failed[0].id)
        .await
        .unwrap());
    assert_eq!(send(&world, &config, later).await.sent, 1);
    assert_eq!(receiver.to("aviso0@andromeda.example").len(), 1);
}

#[tokio::test]
async fn a_mail_deferred_every_time_is_given_up_after_its_last_attempt() {
    let world = world().await;
    let receiver = Receiver::start().await;
    let config = receiver.config();
    queue_plain_mails(&world, 1).await;
    receiver.answer_rcpt(Some("421 4.7.0 try again later"));
    let mut now = Utc::now();
    for attempt in 1..MAX_ATTEMPTS {
        let report = send(&world, &config, now).await;
        assert_eq!(report.deferred, 1, "attempt {attempt}: {report:?}");
        now += mailer::retry_delay(attempt);
    }
    assert_eq!(send(&world, &config, now).await.failed, 1);
    let waiting = world
        .db
        .observatory_outbox(world.observatory_id, OutboxFilter::Waiting, None, 10)
        .await
        .unwrap();
    assert!(waiting.is_empty(), "{waiting:?}");
    let all = world
        .db
        .observatory_outbox(world.observatory_id, OutboxFilter::All, None, 10)
        .await
        .unwrap();
    assert_eq!(all[0].attempts, MAX_ATTEMPTS);
    assert!(all[0].failed_at.is_some());
    assert_eq!(receiver.count(), 0);
}

#[tokio::test]
async fn two_senders_at_once_send_each_mail_exactly_once() {
    let world = world().await;
    let receiver = Receiver::start().await;
    let config = receiver.config();
    queue_plain_mails(&world, 45).await;
    let now = Utc::now();
    let (first, second) = tokio::join!(send(&world, &config, now), send(&world, &config, now));
    assert_eq!(first.sent + second.sent, 45, "{first:?} {second:?}");
    let got = receiver.received.lock().unwrap().clone();
    assert_eq!(got.len(), 45);
    let ids: HashSet<String> = got
        .iter()
        .map(|m| m.header("Message-ID").unwrap())
        .collect();
    assert_eq!(ids.len(), 45, "a Message-ID twice");
    let addresses: HashSet<String> = got.iter().map(|m| m.rcpt_to[0].clone()).collect();
    let queued: HashSet<String> = (0..45)
        .map(|n| format!("aviso{n}@andromeda.example"))
        .collect();
    assert_eq!(addresses, queued);
    assert!(got
        .iter()
        .any(|m| m.text().contains("Texto del aviso 7")
            && m.rcpt_to[0] == "aviso7@andromeda.example"));
}

#[tokio::test]
async fn a_cancelled_mail_is_never_sent_and_loses_its_link() {
    let world = world().await;
    let receiver = Receiver::start().await;
    let config = receiver.config();
    add_client(&world, EMAIL, "estrellas fugaces").await;
    ask_for_a_reset(&world, &config, EMAIL).await;
    queue_plain_mails(&world, 1).await;
    let row = world.db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    assert!(world
        .db
        .cancel_mail(world.observatory_id, row.id, Utc::now())
        .await
        .unwrap());
    // Another observatory's administrator could not have: the id is checked with it.
    assert!(!world
        .db
        .cancel_mail(world.observatory_id + 1, row.id + 1, Utc::now())
        .await
        .unwrap());
    assert_eq!(send(&world, &config, Utc::now()).await.sent, 1);
    assert!(receiver.to(EMAIL).is_empty());
    assert_eq!(
        receiver.to("aviso0@andromeda.example").len(),
        1,
        "positive control"
    );
    let row = world.db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    assert!(row.cancelled_at.is_some() && row.sealed_body.is_none() && row.sent_at.is_none());
}

#[tokio::test]
async fn without_a_mail_server_mails_are_eml_files_with_links_redacted() {
    let world = world().await;
    let data = tempfile::tempdir().unwrap();
    let config = config_with(&[("CUPULA_DATA_DIR", data.path().display().to_string())]);
    assert!(config.smtp.is_none());
    add_client(&world, EMAIL, "estrellas fugaces").await;
    ask_for_a_reset(&world, &config, EMAIL).await;
    queue_plain_mails(&world, 1).await;
    assert_eq!(send(&world, &config, Utc::now()).await.sent, 2);

    let mut files: Vec<_> = std::fs::read_dir(config.mail_dir())
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    assert!(files.iter().all(|f| f.extension().unwrap() == "eml"));
    let texts: Vec<String> = files
        .iter()
        .map(|f| std::fs::read_to_string(f).unwrap())
        .collect();
    let reset = texts.iter().find(|t| t.contains(EMAIL)).unwrap();
    let notice = texts
        .iter()
        .find(|t| t.contains("aviso0@andromeda.example"))
        .unwrap();
    let as_received = |data: &str| Received {
        mail_from: String::new(),
        rcpt_to: Vec::new(),
        data: data.to_string(),
    };
    assert!(as_received(reset).text().contains(outbox::REDACTED));
    assert!(as_received(notice).text().contains("Texto del aviso 0"));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&files[0]).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
    // Nothing usable is left in the database either.
    let row = world.db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    assert!(row.sent_at.is_some() && row.sealed_body.is_none());
}

#[test]
fn the_mail_server_is_named_by_one_address() {
    let smtp = |url: &str| config_with(&[("CUPULA_SMTP_URL", url.to_string())]).smtp;
    let plain = smtp("smtp://127.0.0.1:2525").unwrap();
    assert_eq!((plain.host.as_str(), plain.port), ("127.0.0.1", 2525));
    assert_eq!(plain.security, app::backend::config::SmtpSecurity::Plain);
    let starttls = smtp("smtp://mail.example.org?tls=starttls").unwrap();
    assert_eq!(starttls.port, 587);
    assert_eq!(
        starttls.security,
        app::backend::config::SmtpSecurity::StartTls
    );
    let tls = smtp("smtps://soporte%40obs:p%C3%A1ss@mail.example.org").unwrap();
    assert_eq!(tls.port, 465);
    assert_eq!(tls.security, app::backend::config::SmtpSecurity::Tls);
    assert_eq!(tls.username.as_deref(), Some("soporte@obs"));
    assert_eq!(tls.password.as_deref(), Some("páss"));
    assert!(!format!("{tls:?}").contains("páss"));
    for wrong in [
        "http://mail.example.org",
        "smtp://",
        "smtp://h?tls=maybe",
        "smtps://u@h",
    ] {
        let err = Config::load(None, |key| {
            (key == "CUPULA_SMTP_URL").then(|| wrong.to_string())
        })
        .unwrap_err();
        assert!(
            err.to_string().contains("CUPULA_SMTP_URL"),
            "{wrong}: {err}"
        );
    }
    let err = Config::load(None, |key| {
        (key == "CUPULA_MAIL_FROM").then(|| "soporte".to_string())
    })
    .unwrap_err();
    assert!(err.to_string().contains("CUPULA_MAIL_FROM"), "{err}");
    let from = config_with(&[("CUPULA_MAIL_FROM", "Soporte <soporte@obs.example>".into())]);
    assert_eq!(from.mail_from, "Soporte <soporte@obs.example>");
}
