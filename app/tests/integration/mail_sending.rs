//! The outbox sent through a real SMTP conversation with a receiver on a socket (the test's
//! own, below), or written as `.eml` files: once per mail, links whole on the wire and nowhere
//! at rest, retried when the server defers, given up when it refuses, and never sent twice by
//! two senders at once.

use crate::common;

use app::backend::config::Config;
use app::backend::links;
use app::backend::mailer::testing::{queue_notices, queue_notices_to, Received, Receiver};
use app::backend::mailer::{self, Mailer, MAX_ATTEMPTS};
use app::backend::outbox;
use app::backend::storage::links::OutboxFilter;
use chrono::{DateTime, Duration, Utc};
use common::{add_client, config_with, link_token, world, World};
use std::collections::{BTreeMap, HashSet};

const EMAIL: &str = "ana@andromeda.example";

/// Settings that send through `receiver`.
fn smtp_config(receiver: &Receiver) -> Config {
    config_with(&[("CUPULA_SMTP_URL", receiver.url())])
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

/// Queues `count` plain mails (no link) for the observatory, as a notification would.
async fn queue_plain_mails(world: &World, count: usize) {
    queue_notices(&world.db, world.observatory_id, count).await;
}

#[tokio::test]
async fn a_queued_link_goes_through_an_smtp_conversation_once_whole_and_is_then_wiped() {
    let world = world().await;
    let receiver = Receiver::start().await;
    let config = smtp_config(&receiver);
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
    let config = smtp_config(&receiver);
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
    let config = smtp_config(&receiver);
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
    let config = smtp_config(&receiver);
    queue_plain_mails(&world, 45).await;
    let now = Utc::now();
    let (first, second) = tokio::join!(send(&world, &config, now), send(&world, &config, now));
    assert_eq!(first.sent + second.sent, 45, "{first:?} {second:?}");
    let got = receiver.all();
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

/// Mails go several at once, but what one person hears of one request (or outside any
/// request) arrives in the order it was written: a reminder before the notice that followed it.
#[tokio::test]
async fn each_persons_mails_arrive_in_the_order_they_were_written() {
    let world = world().await;
    let receiver = Receiver::taking(std::time::Duration::from_millis(30)).await;
    let config = smtp_config(&receiver);
    let people = ["ana", "bea", "carla", "dora", "eva"];
    // Uneven on purpose: ana has most of them, so her mails queue behind each other.
    let recipients: Vec<String> = (0..30)
        .map(|n| {
            let who = if n % 3 == 0 {
                "ana"
            } else {
                people[n % people.len()]
            };
            format!("{who}@andromeda.example")
        })
        .collect();
    queue_notices_to(&world.db, world.observatory_id, &recipients).await;
    let report = send(&world, &config, Utc::now()).await;
    assert_eq!(report.sent + report.deferred, 30, "{report:?}");
    // Whatever the batches, everything is sent once the worker has gone round again.
    send(&world, &config, Utc::now() + Duration::hours(1)).await;

    let mut arrived: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    let mut got = receiver.all();
    got.sort_by_key(|mail| mail.at);
    for mail in &got {
        let text = mail.text();
        let after = &text[text.find("Texto del aviso ").unwrap() + "Texto del aviso ".len()..];
        let digits: String = after.chars().take_while(char::is_ascii_digit).collect();
        let n: usize = digits.parse().unwrap();
        arrived.entry(mail.rcpt_to[0].clone()).or_default().push(n);
    }
    let mut written: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (n, to) in recipients.iter().enumerate() {
        written.entry(to.clone()).or_default().push(n);
    }
    assert_eq!(arrived, written);
    assert_eq!(written["ana@andromeda.example"].len(), 14);
}

#[tokio::test]
async fn a_cancelled_mail_is_never_sent_and_loses_its_link() {
    let world = world().await;
    let receiver = Receiver::start().await;
    let config = smtp_config(&receiver);
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
        at: std::time::Instant::now(),
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
