//! Notifications through a real SMTP conversation: who is mailed about each change of a
//! request, in their language, with the ticket's number, a deep link and the words that caused
//! it; threaded per ticket; internal notes never sent; opt-outs and the observatory's switches
//! honoured; each entry mailed once by concurrent notifiers.

use crate::common;
use app::backend::mailer::testing::{quoted_printable, Received, Receiver};

use app::backend::accounts::Viewer;
use app::backend::config::Config;
use app::backend::events::EventBus;
use app::backend::mailer::{self, Mailer};
use app::backend::notifications;
use app::backend::tickets::{self, NewTicket};
use app::backend::{admin, my_account};
use app::i18n::Lang;
use app::model::{ContactEntry, NotifyRule, Priority, RequestType, Role, Status};
use base64::Engine as _;
use chrono::Utc;
use common::{config_with, person, world, World};

const GUARD: &str = "guardia@andromeda.example";

pub(crate) struct Site {
    pub(crate) world: World,
    pub(crate) config: Config,
    pub(crate) receiver: Receiver,
    pub(crate) events: EventBus,
    pub(crate) admin: Viewer,
    pub(crate) agent: Viewer,
    /// The reporter, a client (Spanish).
    pub(crate) ana: Viewer,
    /// A support contact of Ana's organization who reads English.
    pub(crate) bruno: Viewer,
}

pub(crate) async fn site() -> Site {
    site_with(&[]).await
}

/// The site, its settings `extra` added to the test mail server's.
pub(crate) async fn site_with(extra: &[(&str, String)]) -> Site {
    let world = world().await;
    let receiver = Receiver::start().await;
    let mut settings = vec![("CUPULA_SMTP_URL", receiver.url())];
    settings.extend(extra.iter().cloned());
    let config = config_with(&settings);
    let (db, obs, org) = (&world.db, world.observatory_id, Some(world.organization_id));
    let admin = person(db, obs, None, "admin@obs.example", Role::Admin).await;
    let agent = person(db, obs, None, "tomas@obs.example", Role::Agent).await;
    let ana = person(db, obs, org, "ana@andromeda.example", Role::Client).await;
    let bruno = person(db, obs, org, "bruno@andromeda.example", Role::Client).await;
    my_account::update_profile(db, &bruno, "Bruno", Lang::En, None)
        .await
        .unwrap();
    admin::save_support_contacts(
        db,
        &admin,
        world.organization_id,
        &[
            ContactEntry::User(bruno.user_id),
            ContactEntry::Email(GUARD.into()),
        ],
    )
    .await
    .unwrap();
    Site {
        world,
        config,
        receiver,
        events: EventBus::new(),
        admin,
        agent,
        ana,
        bruno,
    }
}

impl Site {
    /// What the mail worker does on each tick: the queued changes become e-mails, then go.
    pub(crate) async fn deliver(&self) {
        let now = Utc::now();
        notifications::notify_pending(&self.world.db, &self.config, now)
            .await
            .unwrap();
        let mailer = Mailer::from_config(&self.config).unwrap();
        let key = self.config.secret_key.clone().unwrap();
        mailer::send_due(&self.world.db, &key, &mailer, now)
            .await
            .unwrap();
    }

    pub(crate) async fn open(&self, who: &Viewer, subject: &str, comment: &str) -> String {
        tickets::open_ticket(
            &self.world.db,
            &self.events,
            &self.config,
            who,
            NewTicket {
                organization_id: who.organization_id.or(Some(self.world.organization_id)),
                request_type: RequestType::Repair,
                telescope_id: None,
                priority: Priority::Medium,
                subject,
                comment,
                attachments: &[],
            },
        )
        .await
        .unwrap()
        .number
    }

    pub(crate) async fn status(&self, who: &Viewer, number: &str, to: Status, reason: &str) {
        self.status_waiting(who, number, to, reason, false).await
    }

    /// A status change; `waiting` blocks it waiting for the client.
    pub(crate) async fn status_waiting(
        &self,
        who: &Viewer,
        number: &str,
        to: Status,
        reason: &str,
        waiting: bool,
    ) {
        tickets::change_status(
            &self.world.db,
            &self.events,
            &self.config,
            who,
            number,
            to,
            reason,
            waiting,
        )
        .await
        .unwrap();
    }

    pub(crate) async fn say(&self, who: &Viewer, number: &str, body: &str, internal: bool) {
        tickets::add_message(
            &self.world.db,
            &self.events,
            &self.config,
            who,
            number,
            body,
            internal,
            &[],
        )
        .await
        .unwrap();
    }

    /// The mails one address received, oldest first.
    pub(crate) fn inbox(&self, address: &str) -> Vec<Received> {
        self.receiver.to(address)
    }
}

/// The decoded part of `content_type` (`text/plain`, `text/html`) of a multipart message.
fn part(mail: &Received, content_type: &str) -> String {
    let boundary = mail
        .header("Content-Type")
        .and_then(|value| {
            value
                .split("boundary=")
                .nth(1)
                .map(|b| b.trim_matches('"').to_string())
        })
        .expect("a multipart message");
    let body = mail.data.split_once("\r\n\r\n").unwrap().1;
    for section in body.split(&format!("--{boundary}")) {
        let Some((head, content)) = section.split_once("\r\n\r\n") else {
            continue;
        };
        let head = head.to_ascii_lowercase();
        if !head.contains(&format!("content-type: {content_type}")) {
            continue;
        }
        let content = content.trim_end_matches("\r\n");
        return if head.contains("content-transfer-encoding: base64") {
            String::from_utf8(
                base64::engine::general_purpose::STANDARD
                    .decode(content.replace("\r\n", ""))
                    .unwrap(),
            )
            .unwrap()
        } else if head.contains("content-transfer-encoding: quoted-printable") {
            quoted_printable(content)
        } else {
            content.to_string()
        };
    }
    panic!("no {content_type} part in {}", mail.data);
}

/// The `Subject`, its RFC 2047 encoded words decoded.
fn subject(mail: &Received) -> String {
    let raw = mail.header("Subject").unwrap_or_default();
    let mut out = String::new();
    let mut last_encoded = false;
    for word in raw.split_whitespace() {
        let encoded = word
            .strip_prefix("=?")
            .and_then(|w| w.strip_suffix("?="))
            .and_then(|w| {
                let mut parts = w.splitn(3, '?');
                let (_charset, encoding, text) = (parts.next()?, parts.next()?, parts.next()?);
                let bytes = match encoding.to_ascii_uppercase().as_str() {
                    "B" => base64::engine::general_purpose::STANDARD
                        .decode(text)
                        .ok()?,
                    _ => quoted_printable(&text.replace('_', " ")).into_bytes(),
                };
                String::from_utf8(bytes).ok()
            });
        match encoded {
            Some(text) => {
                if !out.is_empty() && !last_encoded {
                    out.push(' ');
                }
                out.push_str(&text);
                last_encoded = true;
            }
            None => {
                if !out.is_empty() {
                    out.push(' ');
                }
                out.push_str(word);
                last_encoded = false;
            }
        }
    }
    out
}

pub(crate) fn plain(mail: &Received) -> String {
    part(mail, "text/plain")
}

#[tokio::test]
async fn a_request_is_acknowledged_copied_to_its_contacts_and_announced_to_staff() {
    let site = site().await;
    let number = site
        .open(
            &site.ana,
            "La cúpula no gira",
            "Se detiene a los 90 grados.",
        )
        .await;
    site.deliver().await;

    let ana = site.inbox("ana@andromeda.example");
    assert_eq!(ana.len(), 1, "one acknowledgement");
    let ack = &ana[0];
    assert_eq!(subject(ack), format!("[{number}] La cúpula no gira"));
    let text = plain(ack);
    assert!(
        text.contains(&format!("Hemos recibido tu solicitud {number}")),
        "{text}"
    );
    assert!(
        text.contains(&format!("/tickets/{number}#entry-")),
        "{text}"
    );
    assert!(text.contains("Se detiene a los 90 grados."), "{text}");
    // Branded: the observatory's name as sender and in the HTML part, in its colour.
    assert!(ack
        .header("From")
        .unwrap()
        .contains("Observatorio de Pruebas"));
    let html = part(ack, "text/html");
    assert!(html.contains("Observatorio de Pruebas"));
    assert!(html.contains("background:#1f4e8c"), "{html}");
    // Essential: no way out offered.
    assert_eq!(ack.header("List-Unsubscribe"), None);

    // The support contacts: the user in their language, the plain address in Spanish.
    let bruno = site.inbox("bruno@andromeda.example");
    assert_eq!(bruno.len(), 1);
    let copy = plain(&bruno[0]);
    assert!(
        copy.contains(&format!("opened request {number} for Club Andrómeda")),
        "{copy}"
    );
    assert!(bruno[0]
        .header("List-Unsubscribe")
        .unwrap()
        .contains("/account#notifications"));
    assert_eq!(site.inbox(GUARD).len(), 1);
    assert!(plain(&site.inbox(GUARD)[0]).contains("ha abierto la solicitud"));

    // Staff: nobody is assigned and there is no queue address, so every member of staff.
    for staff in ["tomas@obs.example", "admin@obs.example"] {
        let mails = site.inbox(staff);
        assert_eq!(mails.len(), 1, "{staff}");
        assert!(plain(&mails[0]).contains(&format!("Nueva solicitud {number} de Club Andrómeda")));
    }
    // All of the ticket's mails thread under one id.
    let thread = ack.header("References").unwrap();
    assert_eq!(ack.header("In-Reply-To").as_deref(), Some(thread.as_str()));
    assert_eq!(
        bruno[0].header("References").as_deref(),
        Some(thread.as_str())
    );
    assert_ne!(ack.header("Message-ID"), bruno[0].header("Message-ID"));
}

#[tokio::test]
async fn status_changes_replies_and_assignments_reach_who_should_know_and_notes_nobody() {
    let site = site().await;
    let number = site.open(&site.ana, "Enfocador", "No responde.").await;
    site.deliver().await;
    let before = |address: &str| site.inbox(address).len();
    let (ana0, bruno0, guard0, tomas0, admin0) = (
        before("ana@andromeda.example"),
        before("bruno@andromeda.example"),
        before(GUARD),
        before("tomas@obs.example"),
        before("admin@obs.example"),
    );

    // Staff block it with a reason: the client side is told why; the author is not mailed.
    site.status(
        &site.agent,
        &number,
        Status::Blocked,
        "Esperamos la pieza nueva",
    )
    .await;
    site.deliver().await;
    let ana = site.inbox("ana@andromeda.example");
    assert_eq!(ana.len(), ana0 + 1);
    let text = plain(ana.last().unwrap());
    assert!(text.contains("de «Abierta» a «Bloqueada»"), "{text}");
    assert!(text.contains("> Esperamos la pieza nueva"), "{text}");
    let bruno = site.inbox("bruno@andromeda.example");
    assert_eq!(bruno.len(), bruno0 + 1);
    assert!(plain(bruno.last().unwrap()).contains("went from “Open” to “Blocked”"));
    assert_eq!(site.inbox(GUARD).len(), guard0 + 1);
    assert_eq!(site.inbox("tomas@obs.example").len(), tomas0, "the author");
    assert_eq!(
        site.inbox("admin@obs.example").len(),
        admin0,
        "not assigned"
    );

    // An internal note reaches nobody, in any mail; a public reply reaches the client side.
    let total = site.receiver.count();
    site.say(
        &site.agent,
        &number,
        "NOTA-INTERNA: el cliente rompió el motor",
        true,
    )
    .await;
    site.deliver().await;
    assert_eq!(
        site.receiver.count(),
        total,
        "an internal note mails nobody"
    );
    site.say(&site.agent, &number, "La pieza llega el martes.", false)
        .await;
    site.deliver().await;
    let reply = plain(site.inbox("ana@andromeda.example").last().unwrap());
    assert!(reply.contains("tomas ha respondido"), "{reply}");
    assert!(reply.contains("> La pieza llega el martes."), "{reply}");
    let everything: String = site
        .receiver
        .received
        .lock()
        .unwrap()
        .iter()
        .map(|m| m.data.clone())
        .collect();
    assert!(!everything.contains("NOTA-INTERNA"));

    // Assigned to Tomás by the admin: Tomás is told; then the client's message goes to him only.
    tickets::assign(
        &site.world.db,
        &site.events,
        &site.admin,
        &number,
        Some(site.agent.user_id),
        None,
    )
    .await
    .unwrap();
    site.deliver().await;
    let tomas = site.inbox("tomas@obs.example");
    assert_eq!(tomas.len(), tomas0 + 1);
    assert!(plain(tomas.last().unwrap()).contains(&format!("te ha asignado la solicitud {number}")));
    let admin_before = site.inbox("admin@obs.example").len();
    site.say(&site.ana, &number, "Gracias, quedo a la espera.", false)
        .await;
    site.deliver().await;
    let tomas = site.inbox("tomas@obs.example");
    assert_eq!(tomas.len(), tomas0 + 2);
    assert!(plain(tomas.last().unwrap()).contains("> Gracias, quedo a la espera."));
    assert_eq!(site.inbox("admin@obs.example").len(), admin_before);
}

#[tokio::test]
async fn opt_outs_and_the_observatorys_switches_are_honoured() {
    let site = site().await;
    let db = &site.world.db;
    let number = site.open(&site.ana, "Montura", "Vibra.").await;
    site.deliver().await;
    // Bruno stops the copies of status changes; Ana tries to stop the essential ones.
    notifications::save_my_notifications(db, &site.bruno, &[NotifyRule::ReplyToContacts])
        .await
        .unwrap();
    notifications::save_my_notifications(db, &site.ana, &[])
        .await
        .unwrap();
    let choices = notifications::my_notifications(db, &site.bruno)
        .await
        .unwrap();
    let status_copy = choices
        .rules
        .iter()
        .find(|s| s.rule == NotifyRule::StatusToContacts)
        .unwrap();
    assert!(!status_copy.on);
    assert!(choices.rules.iter().all(|s| !s.rule.essential()));

    let (ana0, bruno0, guard0) = (
        site.inbox("ana@andromeda.example").len(),
        site.inbox("bruno@andromeda.example").len(),
        site.inbox(GUARD).len(),
    );
    site.status(&site.agent, &number, Status::InProgress, "")
        .await;
    site.deliver().await;
    assert_eq!(
        site.inbox("ana@andromeda.example").len(),
        ana0 + 1,
        "essential"
    );
    assert_eq!(
        site.inbox("bruno@andromeda.example").len(),
        bruno0,
        "opted out"
    );
    assert_eq!(site.inbox(GUARD).len(), guard0 + 1, "positive control");

    // The admin switches off the staff notice of new requests and sets nothing else.
    let everything_but_staff: Vec<NotifyRule> = NotifyRule::ALL
        .into_iter()
        .filter(|r| *r != NotifyRule::OpenedToStaff)
        .collect();
    notifications::save_settings(db, &site.admin, "", &everything_but_staff)
        .await
        .unwrap();
    let tomas0 = site.inbox("tomas@obs.example").len();
    let ana1 = site.inbox("ana@andromeda.example").len();
    site.open(&site.ana, "Otra", "Otra cosa.").await;
    site.deliver().await;
    assert_eq!(site.inbox("tomas@obs.example").len(), tomas0);
    assert_eq!(site.inbox("ana@andromeda.example").len(), ana1 + 1);

    // A queue address takes the staff notices instead of every agent.
    notifications::save_settings(db, &site.admin, "Soporte@Obs.example", &NotifyRule::ALL)
        .await
        .unwrap();
    site.open(&site.ana, "Tercera", "Y otra.").await;
    site.deliver().await;
    assert_eq!(site.inbox("soporte@obs.example").len(), 1);
    assert_eq!(site.inbox("tomas@obs.example").len(), tomas0);
    // Only administrators change the settings.
    assert!(
        notifications::save_settings(db, &site.agent, "", &NotifyRule::ALL)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn concurrent_notifiers_mail_each_entry_once() {
    let site = site().await;
    let db = &site.world.db;
    let mut numbers = Vec::new();
    for i in 0..8 {
        numbers.push(
            site.open(&site.ana, &format!("Petición {i}"), "Texto.")
                .await,
        );
    }
    assert_eq!(db.queued_notifications().await.unwrap(), 8);
    let now = Utc::now();
    let (a, b) = tokio::join!(
        notifications::notify_pending(db, &site.config, now),
        notifications::notify_pending(db, &site.config, now),
    );
    // Each opening mails Ana, Bruno, the plain contact and two members of staff.
    assert_eq!(a.unwrap() + b.unwrap(), 8 * 5);
    assert_eq!(db.queued_notifications().await.unwrap(), 0);
    let mailer = Mailer::from_config(&site.config).unwrap();
    let key = site.config.secret_key.clone().unwrap();
    mailer::send_due(db, &key, &mailer, now).await.unwrap();
    let ana = site.inbox("ana@andromeda.example");
    assert_eq!(ana.len(), 8);
    for number in &numbers {
        assert_eq!(
            ana.iter()
                .filter(|m| subject(m).contains(number.as_str()))
                .count(),
            1,
            "{number}"
        );
    }
}

#[tokio::test]
async fn a_deactivated_organization_hears_nothing_and_staff_still_do() {
    let site = site().await;
    let db = &site.world.db;
    let number = site.open(&site.ana, "Antes", "Texto.").await;
    site.deliver().await;
    let (ana0, bruno0, guard0, tomas0) = (
        site.inbox("ana@andromeda.example").len(),
        site.inbox("bruno@andromeda.example").len(),
        site.inbox(GUARD).len(),
        site.inbox("tomas@obs.example").len(),
    );
    admin::update_organization(
        db,
        &site.admin,
        site.world.organization_id,
        "Club Andrómeda",
        false,
    )
    .await
    .unwrap();
    // Staff work the request on: the client side is not told, the assignee is.
    tickets::assign(
        db,
        &site.events,
        &site.admin,
        &number,
        Some(site.agent.user_id),
        None,
    )
    .await
    .unwrap();
    site.status(&site.admin, &number, Status::InProgress, "")
        .await;
    site.deliver().await;
    assert_eq!(site.inbox("ana@andromeda.example").len(), ana0);
    assert_eq!(site.inbox("bruno@andromeda.example").len(), bruno0);
    assert_eq!(site.inbox(GUARD).len(), guard0);
    assert_eq!(
        site.inbox("tomas@obs.example").len(),
        tomas0 + 2,
        "assigned, then the status"
    );
    // Positive control: active again, the client side hears of the next change.
    admin::update_organization(
        db,
        &site.admin,
        site.world.organization_id,
        "Club Andrómeda",
        true,
    )
    .await
    .unwrap();
    site.status(&site.admin, &number, Status::Blocked, "Pieza")
        .await;
    site.deliver().await;
    assert_eq!(site.inbox("ana@andromeda.example").len(), ana0 + 1);
    assert_eq!(site.inbox(GUARD).len(), guard0 + 1);
}

#[tokio::test]
async fn titles_and_names_cannot_forge_headers_or_markup() {
    let site = site().await;
    let number = site
        .open(
            &site.ana,
            "Cúpula\r\nBcc: intruso@evil.example <script>x</script>",
            "Texto.",
        )
        .await;
    site.deliver().await;
    let ack = site.inbox("ana@andromeda.example").pop().unwrap();
    assert!(site.inbox("intruso@evil.example").is_empty());
    assert_eq!(ack.header("Bcc"), None);
    assert!(subject(&ack).starts_with(&format!("[{number}] Cúpula")));
    let html = part(&ack, "text/html");
    assert!(!html.contains("<script>x</script>"));
    assert!(html.contains("&lt;script&gt;x&lt;/script&gt;"));
}

#[tokio::test]
async fn the_assignee_told_is_the_one_when_the_change_was_made() {
    let site = site().await;
    let db = &site.world.db;
    let number = site.open(&site.ana, "Relevo", "Texto.").await;
    tickets::assign(
        db,
        &site.events,
        &site.admin,
        &number,
        Some(site.agent.user_id),
        None,
    )
    .await
    .unwrap();
    site.deliver().await;
    // Joins after the request's opening was announced.
    let rosa = person(
        db,
        site.world.observatory_id,
        None,
        "rosa@obs.example",
        Role::Agent,
    )
    .await;
    let tomas0 = site.inbox("tomas@obs.example").len();
    // The status changes while Tomás has it; it is handed to Rosa before the worker's tick.
    site.status(&site.admin, &number, Status::InProgress, "")
        .await;
    tickets::assign(
        db,
        &site.events,
        &site.admin,
        &number,
        Some(rosa.user_id),
        None,
    )
    .await
    .unwrap();
    site.deliver().await;
    let tomas = site.inbox("tomas@obs.example");
    assert_eq!(tomas.len(), tomas0 + 1);
    assert!(plain(tomas.last().unwrap()).contains("«En progreso»"));
    let rosa_mails = site.inbox("rosa@obs.example");
    assert_eq!(rosa_mails.len(), 1, "only her assignment");
    assert!(plain(&rosa_mails[0]).contains("te ha asignado"));
}
