//! Presence on a ticket's page (`presence::report`) and the "someone replied meanwhile" check
//! of a message (`tickets::add_message_with_voice` with the last entry the writer had seen).
//! Staff see everyone by name and what they write; a client sees the people of their
//! organization, and staff only as "the observatory is replying", never while a note is
//! written; nobody reports on a ticket that is not theirs.

use crate::common::{self, person, user_msg, world, World};
use app::backend::accounts::Viewer;
use app::backend::config::Config;
use app::backend::events::EventBus;
use app::backend::presence::{self, Report};
use app::backend::tickets::{self, NewTicket};
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
    ) -> Result<i64, app::backend::accounts::AccountError> {
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
