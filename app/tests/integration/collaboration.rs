//! Working a request together: presence on a ticket's page (`presence::report`), the "someone
//! replied meanwhile" check of a message (`tickets::add_message_with_voice` with the last entry
//! the writer had seen), and the bell (`bell`).
//! Staff see everyone by name and what they write; a client sees the people of their
//! organization, and staff only as "the observatory is replying", never while a note is
//! written; nobody reports on a ticket that is not theirs. The bell tells whom the e-mail
//! rules tell, never of internal notes, never of one's own doing, never another
//! organization's requests.

use crate::common::{self, person, user_msg, world, World};
use app::backend::accounts::Viewer;
use app::backend::config::Config;
use app::backend::events::EventBus;
use app::backend::presence::{self, Report};
use app::backend::tickets::{self, NewTicket};
use app::backend::{bell, notifications};
use app::i18n::Msg;
use app::model::{Composing, PresentViewer, Priority, RequestType, Role};
use chrono::Utc;

struct Site {
    world: World,
    config: Config,
    events: EventBus,
    tomas: Viewer,
    lucia: Viewer,
    /// Clients of the world's organization.
    ana: Viewer,
    bea: Viewer,
    /// A client of another organization.
    carla: Viewer,
    number: String,
}

async fn site() -> Site {
    let world = world().await;
    let (db, obs, org) = (&world.db, world.observatory_id, world.organization_id);
    let other = db.insert_organization(obs, "Club Orión").await.unwrap();
    let tomas = person(db, obs, None, "tomas@obs.example", Role::Agent).await;
    let lucia = person(db, obs, None, "lucia@obs.example", Role::Admin).await;
    let ana = person(db, obs, Some(org), "ana@andromeda.example", Role::Client).await;
    let bea = person(db, obs, Some(org), "bea@andromeda.example", Role::Client).await;
    let carla = person(db, obs, Some(other), "carla@orion.example", Role::Client).await;
    let config = common::config();
    let events = EventBus::new();
    let number = tickets::open_ticket(
        db,
        &events,
        &config,
        &ana,
        NewTicket {
            organization_id: Some(org),
            request_type: RequestType::Repair,
            telescope_id: None,
            priority: Priority::Medium,
            subject: "La cúpula no gira",
            comment: "Se para a medio camino",
            attachments: &[],
        },
    )
    .await
    .unwrap()
    .number;
    Site {
        world,
        config,
        events,
        tomas,
        lucia,
        ana,
        bea,
        carla,
        number,
    }
}

impl Site {
    async fn report(
        &self,
        who: &Viewer,
        tab: &str,
        composing: Option<Composing>,
    ) -> Vec<PresentViewer> {
        presence::report(
            &self.world.db,
            who,
            &self.number,
            Report {
                tab,
                composing,
                leaving: false,
            },
        )
        .await
        .unwrap()
    }

    async fn last_entry(&self, who: &Viewer) -> i64 {
        tickets::ticket(&self.world.db, &self.config, who, &self.number)
            .await
            .unwrap()
            .timeline
            .last()
            .unwrap()
            .id
    }

    async fn send(
        &self,
        who: &Viewer,
        body: &str,
        internal: bool,
        seen_up_to: i64,
    ) -> Result<i64, app::backend::error::ServiceError> {
        tickets::add_message_with_voice(
            &self.world.db,
            &self.events,
            &self.config,
            who,
            &self.number,
            body,
            internal,
            &[],
            None,
            Some(seen_up_to),
        )
        .await
    }
}

fn named(name: &str, composing: Option<Composing>) -> PresentViewer {
    PresentViewer {
        name: Some(name.to_string()),
        composing,
    }
}

#[tokio::test]
async fn staff_see_everyone_on_the_page_and_what_they_write() {
    let site = site().await;
    site.report(&site.lucia, "lucia1", Some(Composing::Note))
        .await;
    site.report(&site.ana, "ana1", None).await;
    let seen_by_tomas = site.report(&site.tomas, "tomas1", None).await;
    assert_eq!(
        seen_by_tomas,
        vec![
            named(&site.ana.name, None),
            named(&site.lucia.name, Some(Composing::Note)),
        ]
    );
    // Tomás does not see himself, even in another tab; Lucía sees him once.
    site.report(&site.tomas, "tomas2", Some(Composing::Reply))
        .await;
    let seen_by_lucia = site
        .report(&site.lucia, "lucia1", Some(Composing::Note))
        .await;
    assert_eq!(
        seen_by_lucia,
        vec![
            named(&site.ana.name, None),
            named(&site.tomas.name, Some(Composing::Reply)),
        ],
        "a person writing in one of two tabs is writing"
    );
}

#[tokio::test]
async fn a_client_sees_the_observatory_reply_but_never_its_notes_or_names() {
    let site = site().await;
    site.report(&site.bea, "bea1", Some(Composing::Reply)).await;
    site.report(&site.lucia, "lucia1", Some(Composing::Note))
        .await;
    site.report(&site.tomas, "tomas1", None).await;
    let seen_by_ana = site.report(&site.ana, "ana1", None).await;
    assert_eq!(
        seen_by_ana,
        vec![named(&site.bea.name, Some(Composing::Reply))],
        "Ana sees Bea writing; of the staff (reading, writing a note) nothing"
    );
    // The positive control: staff see what Ana does not.
    let seen_by_tomas = site.report(&site.tomas, "tomas1", None).await;
    assert!(seen_by_tomas.contains(&named(&site.lucia.name, Some(Composing::Note))));

    site.report(&site.lucia, "lucia1", Some(Composing::Reply))
        .await;
    let seen_by_ana = site.report(&site.ana, "ana1", None).await;
    assert_eq!(
        seen_by_ana,
        vec![
            named(&site.bea.name, Some(Composing::Reply)),
            PresentViewer {
                name: None,
                composing: Some(Composing::Reply),
            },
        ],
        "Lucía's public reply shows as the observatory replying, without her name"
    );
}

#[tokio::test]
async fn a_client_writing_is_writing_a_reply_whatever_the_page_says() {
    let site = site().await;
    site.report(&site.ana, "ana1", Some(Composing::Note)).await;
    let seen_by_tomas = site.report(&site.tomas, "tomas1", None).await;
    assert_eq!(
        seen_by_tomas,
        vec![named(&site.ana.name, Some(Composing::Reply))]
    );
}

#[tokio::test]
async fn nobody_reports_on_a_request_that_is_not_theirs() {
    let site = site().await;
    let refused = presence::report(
        &site.world.db,
        &site.carla,
        &site.number,
        Report {
            tab: "carla1",
            composing: Some(Composing::Reply),
            leaving: false,
        },
    )
    .await;
    assert_eq!(user_msg(refused), Msg::ErrorNotFound);
    // The positive control: the ticket's own client reports, and Carla left no trace.
    assert_eq!(site.report(&site.ana, "ana1", None).await, vec![]);
    let bad_tab = presence::report(
        &site.world.db,
        &site.ana,
        &site.number,
        Report {
            tab: "../x'",
            composing: None,
            leaving: false,
        },
    )
    .await;
    assert_eq!(user_msg(bad_tab), Msg::ErrorInvalidChoice);
}

#[tokio::test]
async fn a_page_left_or_gone_quiet_no_longer_counts() {
    let site = site().await;
    site.report(&site.ana, "ana1", None).await;
    site.report(&site.bea, "bea1", None).await;
    assert_eq!(
        site.report(&site.tomas, "tomas1", None).await,
        vec![named(&site.ana.name, None), named(&site.bea.name, None)]
    );
    presence::report(
        &site.world.db,
        &site.ana,
        &site.number,
        Report {
            tab: "ana1",
            composing: None,
            leaving: true,
        },
    )
    .await
    .unwrap();
    // Bea's phone was locked: her last report is older than the page's patience.
    let ticket_id = site
        .world
        .db
        .ticket_by_number(tickets::scope_of(&site.tomas), &site.number)
        .await
        .unwrap()
        .unwrap()
        .id;
    let quiet_since = Utc::now() - chrono::Duration::from_std(presence::GONE_AFTER).unwrap();
    site.world
        .db
        .note_viewer(
            ticket_id,
            site.bea.user_id,
            "bea1",
            None,
            quiet_since - chrono::Duration::seconds(1),
        )
        .await
        .unwrap();
    assert_eq!(site.report(&site.tomas, "tomas1", None).await, vec![]);
    // Bea's phone is back: she counts again.
    site.report(&site.bea, "bea1", None).await;
    assert_eq!(
        site.report(&site.tomas, "tomas1", None).await,
        vec![named(&site.bea.name, None)]
    );
}

#[tokio::test]
async fn a_message_waits_while_someone_else_replied_since_the_writer_began() {
    let site = site().await;
    let began = site.last_entry(&site.ana).await;
    site.send(&site.tomas, "Vamos mañana a revisarla", false, began)
        .await
        .unwrap();
    assert_eq!(
        user_msg(site.send(&site.ana, "¿Alguna novedad?", false, began).await),
        Msg::ErrorRepliedMeanwhile
    );
    // Having read the reply, Ana sends; her own messages never hold her back.
    let read = site.last_entry(&site.ana).await;
    site.send(&site.ana, "Perfecto, gracias", false, read)
        .await
        .unwrap();
    site.send(&site.ana, "Estaré allí a las 10", false, read)
        .await
        .unwrap();

    // A note is a reply to staff only: it does not hold a client back, it holds staff back.
    let before_note = site.last_entry(&site.tomas).await;
    site.send(&site.tomas, "Llevar el repuesto", true, before_note)
        .await
        .unwrap();
    site.send(&site.ana, "Traeré café", false, before_note)
        .await
        .unwrap();
    assert_eq!(
        user_msg(
            site.send(&site.lucia, "Yo llevo la llave", true, before_note)
                .await
        ),
        Msg::ErrorRepliedMeanwhile
    );
    // A change of status is not a reply.
    let before_status = site.last_entry(&site.lucia).await;
    tickets::change_status(
        &site.world.db,
        &site.events,
        &site.config,
        &site.tomas,
        &site.number,
        app::model::Status::InProgress,
        "",
        false,
    )
    .await
    .unwrap();
    site.send(&site.lucia, "Yo llevo la llave", true, before_status)
        .await
        .unwrap();
    let said: Vec<String> =
        tickets::ticket(&site.world.db, &site.config, &site.lucia, &site.number)
            .await
            .unwrap()
            .timeline
            .into_iter()
            .map(|entry| entry.body)
            .collect();
    assert_eq!(
        said.iter()
            .filter(|body| body.contains("¿Alguna novedad?"))
            .count(),
        0,
        "the refused message was not written"
    );
    assert_eq!(
        said.iter()
            .filter(|body| body.contains("Yo llevo la llave"))
            .count(),
        1
    );
}

impl Site {
    /// Runs the notifier over what is queued, as the mail worker does.
    async fn notify(&self) {
        notifications::notify_pending(&self.world.db, &self.config, Utc::now())
            .await
            .unwrap();
    }

    async fn bell(&self, who: &Viewer) -> app::model::Bell {
        bell::bell(&self.world.db, who).await.unwrap()
    }
}

fn told(bell: &app::model::Bell) -> Vec<(String, app::model::EntryKind, String, bool)> {
    bell.items
        .iter()
        .map(|item| {
            (
                item.number.clone(),
                item.entry.kind,
                item.entry.body.clone(),
                item.read,
            )
        })
        .collect()
}

#[tokio::test]
async fn the_bell_tells_whom_the_rules_tell_of_what_others_did() {
    use app::model::EntryKind::{Created, Message};
    let site = site().await;
    site.notify().await;
    // Unassigned, with no queue address: every member of staff hears of the new request;
    // Ana, who opened it, is not told of her own doing (her acknowledgement is an e-mail).
    let opened = (
        site.number.clone(),
        Created,
        "Se para a medio camino".to_string(),
        false,
    );
    for staff in [&site.tomas, &site.lucia] {
        let bell = site.bell(staff).await;
        assert_eq!(told(&bell), vec![opened.clone()]);
        assert_eq!(bell.unread, 1);
    }
    assert_eq!(site.bell(&site.ana).await.unread, 0);

    // An internal note tells nobody; the public reply after it tells Ana (the reporter), not
    // Tomás who wrote it.
    let began = site.last_entry(&site.tomas).await;
    site.send(&site.tomas, "Revisar el motor", true, began)
        .await
        .unwrap();
    let after_note = site.last_entry(&site.tomas).await;
    site.send(&site.tomas, "Mañana vamos", false, after_note)
        .await
        .unwrap();
    site.notify().await;
    let ana = site.bell(&site.ana).await;
    assert_eq!(
        told(&ana),
        vec![(
            site.number.clone(),
            Message,
            "Mañana vamos".to_string(),
            false
        )]
    );
    assert_eq!(ana.unread, 1);
    assert_eq!(
        ana.items[0].entry.author.as_deref(),
        Some(site.tomas.name.as_str())
    );
    assert_eq!(
        site.bell(&site.tomas).await.unread,
        1,
        "nothing new for Tomás"
    );
    // Carla, of another organization, hears of nothing; Bea, who only belongs to the same
    // organization (no support contact), neither.
    assert_eq!(told(&site.bell(&site.carla).await), vec![]);
    assert_eq!(told(&site.bell(&site.bea).await), vec![]);
    // A client's answer reaches the staff.
    let read = site.last_entry(&site.ana).await;
    site.send(&site.ana, "Perfecto", false, read).await.unwrap();
    site.notify().await;
    let tomas = site.bell(&site.tomas).await;
    assert_eq!(tomas.unread, 2);
    assert_eq!(tomas.items[0].entry.body, "Perfecto", "newest first");
}

#[tokio::test]
async fn notifications_are_marked_read_one_or_all_by_their_person_only() {
    let site = site().await;
    let began = site.last_entry(&site.ana).await;
    site.send(&site.ana, "¿Hay novedades?", false, began)
        .await
        .unwrap();
    site.notify().await;
    let tomas = site.bell(&site.tomas).await;
    assert_eq!(tomas.unread, 2);
    let (newest, oldest) = (tomas.items[0].id, tomas.items[1].id);
    // Lucía cannot mark Tomás's notification read (nor anyone another's).
    bell::mark_read(&site.world.db, &site.lucia, Some(newest))
        .await
        .unwrap();
    assert_eq!(site.bell(&site.tomas).await.unread, 2);
    assert_eq!(
        site.bell(&site.lucia).await.unread,
        2,
        "Lucía's own stay unread too"
    );
    // Tomás marks one, then all.
    bell::mark_read(&site.world.db, &site.tomas, Some(newest))
        .await
        .unwrap();
    let tomas = site.bell(&site.tomas).await;
    assert_eq!(tomas.unread, 1);
    assert_eq!(
        tomas
            .items
            .iter()
            .map(|i| (i.id, i.read))
            .collect::<Vec<_>>(),
        vec![(newest, true), (oldest, false)]
    );
    bell::mark_read(&site.world.db, &site.tomas, None)
        .await
        .unwrap();
    assert_eq!(site.bell(&site.tomas).await.unread, 0);
    assert_eq!(bell::unread(&site.world.db, &site.lucia).await.unwrap(), 2);
}
