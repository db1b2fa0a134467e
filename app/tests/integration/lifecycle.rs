//! The request life cycle with a controllable clock (`lifecycle::fire_due` is given the time):
//! the whole waiting-for-the-client and closure-confirmation cadences, a client's answer
//! ending the wait, acceptance, each step firing once with two workers at the same moment, and
//! a restart (a new connection pool, as a restarted server has) in the middle.

use crate::notifications::{plain, site, Site};

use app::backend::lifecycle;
use app::backend::storage::Db;
use app::backend::tickets;
use app::i18n::Msg;
use app::model::{AutoAction, Change, Resolution, Status, TicketDetail, TicketFilter};
use chrono::{DateTime, Duration, Utc};

impl Site {
    async fn fire(&self, db: &Db, at: DateTime<Utc>) -> usize {
        lifecycle::fire_due(db, &self.events, at).await.unwrap()
    }

    async fn detail(&self, number: &str) -> TicketDetail {
        tickets::ticket(&self.world.db, &self.config, &self.ana, number)
            .await
            .unwrap()
    }

    /// The life-cycle steps of the ticket's timeline, in order.
    async fn steps(&self, number: &str) -> Vec<AutoAction> {
        self.detail(number)
            .await
            .timeline
            .into_iter()
            .filter_map(|e| match e.change {
                Some(Change::Automatic(action)) => Some(action),
                _ => None,
            })
            .collect()
    }

    fn last_mail_to_ana(&self) -> String {
        plain(self.inbox("ana@andromeda.example").last().unwrap())
    }
}

fn hours(h: i64) -> Duration {
    Duration::hours(h) + Duration::minutes(1)
}

#[tokio::test]
async fn waiting_for_the_client_reminds_three_times_warns_then_closes_each_step_once() {
    let site = site().await;
    let db = &site.world.db;
    let number = site.open(&site.ana, "Acceso a la cúpula", "¿Cuándo?").await;
    let start = Utc::now();
    site.status_waiting(
        &site.agent,
        &number,
        Status::Blocked,
        "¿Qué día os va bien?",
        true,
    )
    .await;
    site.deliver().await;
    assert!(site.detail(&number).await.waiting_for_client);

    assert_eq!(
        site.fire(db, start + Duration::hours(23)).await,
        0,
        "not yet"
    );
    assert_eq!(site.fire(db, start + hours(24)).await, 1);
    assert_eq!(site.fire(db, start + hours(24)).await, 0, "fired once");
    site.deliver().await;
    let reminder = site.last_mail_to_ana();
    assert!(reminder.contains("(recordatorio 1 de 3)"), "{reminder}");

    // Two workers at the same moment fire the second reminder once.
    let (a, b) = tokio::join!(
        lifecycle::fire_due(db, &site.events, start + hours(48)),
        lifecycle::fire_due(db, &site.events, start + hours(48)),
    );
    assert_eq!(a.unwrap() + b.unwrap(), 1);

    // A restart: a new pool on the same database carries on where the other stopped.
    let restarted = Db::connect(site.world.database_url()).await.unwrap();
    assert_eq!(site.fire(&restarted, start + hours(72)).await, 1);
    assert_eq!(site.fire(&restarted, start + hours(96)).await, 1);
    site.deliver().await;
    assert!(site
        .last_mail_to_ana()
        .contains("se cerrará automáticamente dentro de 24 horas"));
    assert_eq!(
        site.detail(&number).await.status,
        Status::Blocked,
        "the notice does not close it"
    );
    assert_eq!(site.fire(&restarted, start + hours(120)).await, 1);
    site.deliver().await;
    assert!(site
        .last_mail_to_ana()
        .contains("se ha cerrado porque no hemos recibido respuesta"));

    let detail = site.detail(&number).await;
    assert_eq!(detail.status, Status::Done);
    assert_eq!(detail.resolution, Some(Resolution::NoReply));
    assert!(!detail.waiting_for_client);
    assert_eq!(
        site.steps(&number).await,
        [
            AutoAction::WaitingReminder { n: 1, of: 3 },
            AutoAction::WaitingReminder { n: 2, of: 3 },
            AutoAction::WaitingReminder { n: 3, of: 3 },
            AutoAction::WaitingClosureNotice { hours: 24 },
            AutoAction::ClosedNoReply,
        ]
    );
    assert_eq!(site.fire(db, start + hours(1000)).await, 0, "nothing left");
}

#[tokio::test]
async fn a_client_answer_ends_the_wait_and_moves_the_request_back_to_in_progress() {
    let site = site().await;
    let db = &site.world.db;
    let number = site.open(&site.ana, "Guiado", "Falla.").await;
    let start = Utc::now();
    site.status_waiting(
        &site.agent,
        &number,
        Status::Blocked,
        "Envíanos el registro",
        true,
    )
    .await;
    assert_eq!(site.fire(db, start + hours(24)).await, 1);
    site.say(&site.ana, &number, "Adjunto el registro.", false)
        .await;
    let detail = site.detail(&number).await;
    assert_eq!(detail.status, Status::InProgress);
    assert!(!detail.waiting_for_client);
    assert_eq!(db.timer_of(detail.id).await.unwrap(), None);
    assert_eq!(site.fire(db, start + hours(1000)).await, 0);
    // Positive control: a request blocked without waiting for the client starts no cadence.
    let other = site.open(&site.ana, "Otra", "Otra.").await;
    site.status_waiting(
        &site.agent,
        &other,
        Status::Blocked,
        "Falta la pieza",
        false,
    )
    .await;
    assert_eq!(site.fire(db, start + hours(1000)).await, 0);
    assert_eq!(site.detail(&other).await.status, Status::Blocked);
}

#[tokio::test]
async fn a_done_request_is_accepted_by_its_client_or_closes_automatically() {
    let site = site().await;
    let db = &site.world.db;
    let accepted = site.open(&site.ana, "Primera", "Uno.").await;
    let silent = site.open(&site.ana, "Segunda", "Dos.").await;
    let start = Utc::now();
    site.status_waiting(&site.agent, &accepted, Status::Done, "", false)
        .await;
    site.status_waiting(&site.agent, &silent, Status::Done, "", false)
        .await;
    site.deliver().await;
    assert!(site
        .last_mail_to_ana()
        .contains("acepta la solución desde el portal"));
    let detail = site.detail(&accepted).await;
    assert_eq!(detail.resolution, None, "awaiting confirmation");
    assert!(detail.actions.accept);

    assert_eq!(site.fire(db, start + hours(24)).await, 2, "a reminder each");
    // Staff cannot accept for the client; the client can, once.
    assert!(
        tickets::accept_resolution(db, &site.events, &site.agent, &accepted)
            .await
            .is_err()
    );
    tickets::accept_resolution(db, &site.events, &site.ana, &accepted)
        .await
        .unwrap();
    let again = tickets::accept_resolution(db, &site.events, &site.ana, &accepted).await;
    assert_eq!(common_msg(again), Msg::ErrorNotAwaitingConfirmation);
    let detail = site.detail(&accepted).await;
    assert_eq!(detail.status, Status::Done);
    assert_eq!(detail.resolution, Some(Resolution::Accepted));
    assert!(!detail.actions.accept);

    assert_eq!(
        site.fire(db, start + hours(48)).await,
        1,
        "only the silent one"
    );
    assert_eq!(site.fire(db, start + hours(72)).await, 1);
    site.deliver().await;
    assert!(site
        .last_mail_to_ana()
        .contains("se ha cerrado automáticamente"));
    assert_eq!(
        site.detail(&silent).await.resolution,
        Some(Resolution::AutoClosed)
    );
    assert_eq!(
        site.steps(&silent).await,
        [
            AutoAction::ConfirmationReminder,
            AutoAction::ConfirmationClosureNotice { hours: 24 },
            AutoAction::ClosedAutomatically,
        ]
    );
    assert_eq!(
        site.steps(&accepted).await,
        [AutoAction::ConfirmationReminder, AutoAction::Accepted]
    );
    // Reopening ends a resolution: the request is open again, with no timer.
    site.status_waiting(&site.agent, &accepted, Status::Open, "", false)
        .await;
    assert_eq!(site.detail(&accepted).await.resolution, None);
}

#[tokio::test]
async fn lists_tell_done_requests_awaiting_confirmation_from_closed_ones() {
    let site = site().await;
    let db = &site.world.db;
    let awaiting = site.open(&site.ana, "Pendiente", "Uno.").await;
    let accepted = site.open(&site.ana, "Aceptada", "Dos.").await;
    let silent = site.open(&site.ana, "Silenciosa", "Tres.").await;
    let open = site.open(&site.ana, "Abierta", "Cuatro.").await;
    let start = Utc::now();
    for number in [&awaiting, &accepted, &silent] {
        site.status_waiting(&site.agent, number, Status::Done, "", false)
            .await;
    }
    tickets::accept_resolution(db, &site.events, &site.ana, &accepted)
        .await
        .unwrap();
    // Reminder, notice and closure of the two still awaiting; then the first is reopened
    // and done again, so it awaits confirmation afresh.
    for h in [24, 48, 72] {
        site.fire(db, start + hours(h)).await;
    }
    site.status_waiting(&site.agent, &awaiting, Status::Open, "", false)
        .await;
    site.status_waiting(&site.agent, &awaiting, Status::Done, "", false)
        .await;

    let listed = |code: &'static str| {
        let site = &site;
        async move {
            let filter = TicketFilter::from_pairs([("resolution", code)]);
            let mut numbers: Vec<String> = Vec::new();
            for who in [&site.agent, &site.ana] {
                let page = tickets::list(db, who, &filter).await.unwrap();
                assert_eq!(
                    page.counts.all,
                    page.items.len() as i64,
                    "{code}: counts agree"
                );
                let these: Vec<String> = page.items.into_iter().map(|t| t.number).collect();
                if numbers.is_empty() {
                    numbers = these;
                } else {
                    assert_eq!(numbers, these, "{code}: staff and the client see the same");
                }
            }
            numbers
        }
    };
    assert_eq!(listed("awaiting").await, [awaiting.as_str()]);
    assert_eq!(listed("accepted").await, [accepted.as_str()]);
    assert_eq!(listed("auto_closed").await, [silent.as_str()]);
    assert!(listed("no_reply").await.is_empty());
    // The control: without the filter every request is listed, the open one too.
    let all = tickets::list(db, &site.agent, &TicketFilter::default())
        .await
        .unwrap();
    let numbers: Vec<&str> = all.items.iter().map(|t| t.number.as_str()).collect();
    for number in [&awaiting, &accepted, &silent, &open] {
        assert!(
            numbers.contains(&number.as_str()),
            "{number} in {numbers:?}"
        );
    }
}

#[tokio::test]
async fn the_cadences_are_the_observatorys_own() {
    let site = site().await;
    let db = &site.world.db;
    let cadences = app::model::Cadences {
        reminder_hours: 6,
        reminder_count: 1,
        closure_hours: 2,
    };
    lifecycle::save_settings(db, &site.admin, cadences)
        .await
        .unwrap();
    assert_eq!(
        lifecycle::settings(db, &site.admin).await.unwrap(),
        cadences
    );
    assert!(lifecycle::save_settings(db, &site.agent, cadences)
        .await
        .is_err());
    let out_of_range = app::model::Cadences {
        reminder_hours: 0,
        ..cadences
    };
    assert_eq!(
        common_msg(lifecycle::save_settings(db, &site.admin, out_of_range).await),
        Msg::ErrorCadenceOutOfRange
    );

    let number = site.open(&site.ana, "Rápida", "Tres.").await;
    let start = Utc::now();
    site.status_waiting(&site.agent, &number, Status::Blocked, "¿Sigue?", true)
        .await;
    assert_eq!(site.fire(db, start + hours(6)).await, 1);
    assert_eq!(site.fire(db, start + hours(12)).await, 1);
    assert_eq!(site.fire(db, start + hours(14)).await, 1);
    assert_eq!(
        site.steps(&number).await,
        [
            AutoAction::WaitingReminder { n: 1, of: 1 },
            AutoAction::WaitingClosureNotice { hours: 2 },
            AutoAction::ClosedNoReply,
        ]
    );
}

fn common_msg<T: std::fmt::Debug>(result: Result<T, app::backend::error::ServiceError>) -> Msg {
    crate::common::user_msg(result)
}
