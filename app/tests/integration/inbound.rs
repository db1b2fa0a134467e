//! Replies by e-mail, through the portal's SMTP listener over a real SMTP conversation: the
//! reply address a notification carries takes the client's answer to the request (their own
//! words, their files; a request waiting for them goes back to work), once however often the
//! mail server sends it; strangers' mail waits for staff, who publish it as an internal note or
//! discard it; made-up addresses and automatic replies never get in.

use crate::common;
use crate::notifications::{plain, site_with, Site};

use app::backend::files::testing::{fresh_store, TestStore};
use app::backend::inbound::{self, Inbound};
use app::backend::tickets;
use app::i18n::Msg;
use app::model::{EntryKind, Status, TicketDetail};
use lettre::address::Envelope;
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use std::sync::Arc;

const PDF: &[u8] = b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n";

struct Replies {
    site: Site,
    port: u16,
    _store: TestStore,
}

/// The site with its reply listener running on a port of its own.
async fn replies() -> Replies {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let site = site_with(&[("CUPULA_INBOUND_SMTP_LISTEN", format!("127.0.0.1:{port}"))]).await;
    let store = fresh_store();
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .unwrap();
    let inbound = Inbound {
        db: site.world.db.clone(),
        events: site.events.clone(),
        config: Arc::new(site.config.clone()),
        files: store.store.clone(),
        key: site.config.secret_key.clone().unwrap(),
    };
    tokio::spawn(inbound::smtp::serve(listener, inbound));
    Replies {
        site,
        port,
        _store: store,
    }
}

impl Replies {
    /// Sends `raw` from `from` to `to` through the listener, as the portal's mail server
    /// would relay it; the listener's verdict.
    async fn relay(
        &self,
        from: &str,
        to: &str,
        raw: &str,
    ) -> Result<(), lettre::transport::smtp::Error> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous("127.0.0.1")
            .port(self.port)
            .build();
        let envelope =
            Envelope::new(Some(from.parse().unwrap()), vec![to.parse().unwrap()]).unwrap();
        transport
            .send_raw(&envelope, raw.replace('\n', "\r\n").as_bytes())
            .await
            .map(|_| ())
    }

    async fn ticket_as(&self, who: &app::backend::accounts::Viewer, number: &str) -> TicketDetail {
        tickets::ticket(&self.site.world.db, &self.site.config, who, number)
            .await
            .unwrap()
    }

    /// Ana opens a request and the agent asks her `question` on it; the request's number and
    /// the reply address of the mail that tells her.
    async fn asked(&self, subject: &str, comment: &str, question: &str) -> (String, String) {
        let site = &self.site;
        let number = site.open(&site.ana, subject, comment).await;
        site.say(&site.agent, &number, question, false).await;
        site.deliver().await;
        (
            number,
            self.reply_address_in_mail_to("ana@andromeda.example"),
        )
    }

    /// The reply address of the last notification `address` received.
    fn reply_address_in_mail_to(&self, address: &str) -> String {
        let mail = self.site.inbox(address).pop().expect("a notification");
        let reply_to = mail.header("Reply-To").expect("a Reply-To address");
        let start = reply_to.find('<').map_or(0, |i| i + 1);
        let end = reply_to.rfind('>').unwrap_or(reply_to.len());
        reply_to[start..end].to_string()
    }
}

/// A reply as a mail program writes it: the answer, then the quoted notification.
fn reply_mail(from: &str, to: &str, message_id: &str, answer: &str, quoted: &str) -> String {
    let quoted: String = quoted.lines().map(|l| format!("> {l}\n")).collect();
    format!(
        "From: {from}\nTo: {to}\nSubject: Re: la cúpula\nMessage-ID: <{message_id}>\nMIME-Version: 1.0\n\
         Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
         {answer}\n\nEl mar, 1 dic 2026 a las 22:10, Observatorio <noreply@localhost> escribió:\n{quoted}"
    )
}

fn messages_by(ticket: &TicketDetail, author: &str) -> Vec<String> {
    ticket
        .timeline
        .iter()
        .filter(|e| e.author.as_deref() == Some(author) && e.kind != EntryKind::Created)
        .map(|e| e.body.clone())
        .collect()
}

#[tokio::test]
async fn a_clients_reply_to_a_notification_is_posted_on_the_request_with_its_files_once() {
    let replies = replies().await;
    let site = &replies.site;
    let number = site
        .open(&site.ana, "La cúpula no gira", "Se atasca a 90°")
        .await;
    site.status_waiting(
        &site.agent,
        &number,
        Status::Blocked,
        "¿Puede enviar una foto del motor?",
        true,
    )
    .await;
    site.deliver().await;
    let notice = site.inbox("ana@andromeda.example").pop().unwrap();
    let text = plain(&notice);
    assert!(
        text.starts_with(Msg::MailReplyAbove.text(app::i18n::Lang::Es)),
        "the mail says where the reply goes: {text}"
    );
    let to = replies.reply_address_in_mail_to("ana@andromeda.example");
    assert!(to.contains('+'), "a tagged reply address: {to}");

    let boundary = "limite-7d1f";
    let attachment = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, PDF);
    let mail = format!(
        "From: Ana <ana@andromeda.example>\nTo: {to}\nSubject: Re: [{number}] La cúpula no gira\n\
         Message-ID: <respuesta-1@andromeda.example>\nMIME-Version: 1.0\n\
         Content-Type: multipart/mixed; boundary=\"{boundary}\"\n\n\
         --{boundary}\nContent-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n\
         Adjunto la foto del motor: tiene holgura.\n\nEl mar, 1 dic 2026, Observatorio escribió:\n\
         > {}\n> ¿Puede enviar una foto del motor?\n\n\
         --{boundary}\nContent-Type: application/pdf; name=\"motor.pdf\"\n\
         Content-Disposition: attachment; filename=\"motor.pdf\"\nContent-Transfer-Encoding: base64\n\n\
         {attachment}\n--{boundary}--\n",
        Msg::MailReplyAbove.text(app::i18n::Lang::Es)
    );
    replies
        .relay("ana@andromeda.example", &to, &mail)
        .await
        .expect("the listener takes the reply");

    let seen_by_agent = replies.ticket_as(&site.agent, &number).await;
    let posted: Vec<_> = seen_by_agent
        .timeline
        .iter()
        .filter(|e| {
            e.author.as_deref() == Some(site.ana.name.as_str()) && e.kind == EntryKind::Message
        })
        .collect();
    assert_eq!(posted.len(), 1, "one message: {:?}", seen_by_agent.timeline);
    assert_eq!(posted[0].body, "Adjunto la foto del motor: tiene holgura.");
    assert!(!posted[0].internal);
    let files: Vec<_> = posted[0]
        .attachments
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(files, ["motor.pdf"]);
    // The client answered: the wait ends and the request is worked on again.
    assert_eq!(seen_by_agent.status, Status::InProgress);
    assert!(!seen_by_agent.waiting_for_client);

    // The mail server sends it again (it never heard the answer): still one message.
    replies
        .relay("ana@andromeda.example", &to, &mail)
        .await
        .unwrap();
    let again = replies.ticket_as(&site.agent, &number).await;
    let count = again
        .timeline
        .iter()
        .filter(|e| {
            e.kind == EntryKind::Message && e.author.as_deref() == Some(site.ana.name.as_str())
        })
        .count();
    assert_eq!(count, 1);

    // Staff hear of it as of any client message.
    site.deliver().await;
    let staff_mail = site.inbox("tomas@obs.example");
    assert!(
        staff_mail
            .iter()
            .any(|m| plain(m).contains("tiene holgura")),
        "the agent is told"
    );
}

#[tokio::test]
async fn mail_from_someone_who_may_not_write_there_is_held_for_staff_and_never_reaches_the_client()
{
    let replies = replies().await;
    let site = &replies.site;
    let (number, to) = replies
        .asked(
            "Guiado inestable",
            "El guiado oscila",
            "Revisaremos la montura.",
        )
        .await;

    // A forwarded notification answered by someone unknown to the portal.
    let stranger = reply_mail(
        "desconocido@otra.example",
        &to,
        "extrano-1@otra.example",
        "Yo también tengo ese problema, llamadme.",
        "Revisaremos la montura.",
    );
    replies
        .relay("desconocido@otra.example", &to, &stranger)
        .await
        .expect("taken, to be held");
    let spam = reply_mail(
        "spam@otra.example",
        &to,
        "spam-1@otra.example",
        "Compre ya.",
        "",
    );
    replies
        .relay("spam@otra.example", &to, &spam)
        .await
        .unwrap();

    let for_agent = replies.ticket_as(&site.agent, &number).await;
    assert_eq!(for_agent.held_mail.len(), 2, "staff see the held mail");
    assert_eq!(for_agent.held_mail[0].from, "desconocido@otra.example");
    assert!(for_agent.held_mail[0].unknown_sender);
    assert_eq!(
        for_agent.held_mail[0].text,
        "Yo también tengo ese problema, llamadme."
    );
    let for_ana = replies.ticket_as(&site.ana, &number).await;
    assert!(for_ana.held_mail.is_empty(), "the client sees no held mail");
    assert!(
        !for_agent
            .timeline
            .iter()
            .any(|e| e.body.contains("llamadme")),
        "held, not posted"
    );

    // Published as an internal note: staff read it, the client never does.
    let entry = inbound::release_held(
        &site.world.db,
        &site.events,
        &site.config,
        &site.agent,
        &number,
        for_agent.held_mail[0].id,
    )
    .await
    .unwrap();
    let after = replies.ticket_as(&site.agent, &number).await;
    let note = after.timeline.iter().find(|e| e.id == entry).unwrap();
    assert!(note.internal);
    assert!(note.body.contains("desconocido@otra.example"));
    assert!(note.body.contains("llamadme"));
    let for_ana = replies.ticket_as(&site.ana, &number).await;
    assert!(for_ana
        .timeline
        .iter()
        .all(|e| !e.body.contains("llamadme")));
    // Decided once: a second click (or another agent's) is told so.
    let twice = inbound::release_held(
        &site.world.db,
        &site.events,
        &site.config,
        &site.agent,
        &number,
        for_agent.held_mail[0].id,
    )
    .await;
    assert!(matches!(
        twice,
        Err(app::backend::error::ServiceError::User(
            Msg::ErrorHeldMailGone
        ))
    ));
    // A client cannot decide on held mail.
    let by_client = inbound::discard_held(
        &site.world.db,
        &site.ana,
        &number,
        for_agent.held_mail[1].id,
    )
    .await;
    assert!(by_client.is_err());
    inbound::discard_held(
        &site.world.db,
        &site.agent,
        &number,
        for_agent.held_mail[1].id,
    )
    .await
    .unwrap();
    let last = replies.ticket_as(&site.agent, &number).await;
    assert!(last.held_mail.is_empty());
    assert!(last.timeline.iter().all(|e| !e.body.contains("Compre ya")));
}

#[tokio::test]
async fn a_client_of_another_organization_cannot_write_on_a_request_by_mail() {
    let replies = replies().await;
    let site = &replies.site;
    let world = &site.world;
    let other_org = world
        .db
        .insert_organization(world.observatory_id, "Club Vega")
        .await
        .unwrap();
    let vega = common::person(
        &world.db,
        world.observatory_id,
        Some(other_org),
        "vega@vega.example",
        app::model::Role::Client,
    )
    .await;
    let (number, to) = replies
        .asked(
            "Foco",
            "El enfocador no responde",
            "¿Qué versión de firmware?",
        )
        .await;

    let from_vega = reply_mail(
        "vega@vega.example",
        &to,
        "vega-1@vega.example",
        "La 2.1",
        "",
    );
    replies
        .relay("vega@vega.example", &to, &from_vega)
        .await
        .unwrap();
    let from_ana = reply_mail(
        "ana@andromeda.example",
        &to,
        "ana-2@andromeda.example",
        "La 2.3",
        "",
    );
    replies
        .relay("ana@andromeda.example", &to, &from_ana)
        .await
        .unwrap();

    let ticket = replies.ticket_as(&site.agent, &number).await;
    assert!(
        messages_by(&ticket, &vega.name).is_empty(),
        "not posted as Vega's"
    );
    assert_eq!(
        messages_by(&ticket, &site.ana.name),
        ["La 2.3"],
        "the owner's reply is"
    );
    assert_eq!(ticket.held_mail.len(), 1);
    assert_eq!(ticket.held_mail[0].from, "vega@vega.example");
}

#[tokio::test]
async fn made_up_reply_addresses_and_automatic_replies_never_get_in() {
    let replies = replies().await;
    let site = &replies.site;
    let (number, to) = replies
        .asked("Cúpula", "Ruido al girar", "¿Desde cuándo?")
        .await;
    let (local, domain) = to.split_once('@').unwrap();

    // Another request's number under this tag, a tag changed, no tag: refused at RCPT.
    let (base, tagged) = local.split_once('+').unwrap();
    let (id, tag) = tagged.split_once('.').unwrap();
    let other_id: i64 = id.parse::<i64>().unwrap() + 1;
    let mut flipped = tag.to_string();
    let last = flipped.pop().unwrap();
    flipped.push(if last == '0' { '1' } else { '0' });
    for forged in [
        format!("{base}+{other_id}.{tag}@{domain}"),
        format!("{base}+{id}.{flipped}@{domain}"),
        format!("{base}@{domain}"),
    ] {
        let mail = reply_mail(
            "ana@andromeda.example",
            &forged,
            "forja@andromeda.example",
            "Hola",
            "",
        );
        let refused = replies
            .relay("ana@andromeda.example", &forged, &mail)
            .await
            .expect_err("a made-up address is refused");
        assert!(refused.is_permanent(), "{forged}: {refused}");
    }

    // An out-of-office answer to the reply address is taken and dropped.
    let auto = format!(
        "From: ana@andromeda.example\nTo: {to}\nSubject: Fuera de la oficina\nAuto-Submitted: auto-replied\n\
         Message-ID: <ausente@andromeda.example>\n\nEstoy de vacaciones hasta enero.\n"
    );
    replies
        .relay("ana@andromeda.example", &to, &auto)
        .await
        .unwrap();
    let ticket = replies.ticket_as(&site.agent, &number).await;
    assert!(ticket
        .timeline
        .iter()
        .all(|e| !e.body.contains("vacaciones")));
    assert!(ticket.held_mail.is_empty());

    // The positive control: the same address with a person's reply gets in.
    let real = reply_mail(
        "ana@andromeda.example",
        &to,
        "real@andromeda.example",
        "Desde ayer.",
        "",
    );
    replies
        .relay("ana@andromeda.example", &to, &real)
        .await
        .unwrap();
    let ticket = replies.ticket_as(&site.agent, &number).await;
    assert_eq!(messages_by(&ticket, &site.ana.name), ["Desde ayer."]);
}
