//! Live updates (`live::follow`): staff and the clients of two organizations follow the same
//! observatory; each event reaches exactly who may see it, internal notes never a client; a
//! follower that comes back with the last id it saw gets the gap once and then the new events;
//! one ticket's followers get only its events, and nobody follows a ticket that is not theirs;
//! a follower ends with the session that let it in.

use crate::common::{self, person, world, World};
use app::backend::accounts::{self, Viewer};
use app::backend::admin;
use app::backend::config::Config;
use app::backend::events::EventBus;
use app::backend::live::{self, Credential, LiveEvent, StartAt};
use app::backend::tickets::{self, scope_of, NewTicket};
use app::i18n::Msg;
use app::model::{ApiKeyValidity, Priority, RequestType, Role};
use futures_util::{Stream, StreamExt};
use std::pin::Pin;
use std::sync::Arc;
use std::time::Duration;

type Follower = Pin<Box<dyn Stream<Item = LiveEvent> + Send>>;

struct Site {
    world: World,
    config: Arc<Config>,
    events: EventBus,
    agent: Viewer,
    /// A client of the world's organization.
    ana: Viewer,
    /// A client of another organization.
    carla: Viewer,
    _reader: tokio::task::JoinHandle<()>,
}

async fn site() -> Site {
    let world = world().await;
    let (db, obs) = (&world.db, world.observatory_id);
    let other = db.insert_organization(obs, "Club Orión").await.unwrap();
    let agent = person(db, obs, None, "tomas@obs.example", Role::Agent).await;
    let ana = person(
        db,
        obs,
        Some(world.organization_id),
        "ana@andromeda.example",
        Role::Client,
    )
    .await;
    let carla = person(db, obs, Some(other), "carla@orion.example", Role::Client).await;
    let events = EventBus::new();
    let reader = events.spawn_reader(db.clone()).await.unwrap();
    Site {
        config: Arc::new(common::config()),
        world,
        events,
        agent,
        ana,
        carla,
        _reader: reader,
    }
}

impl Site {
    async fn follow(&self, who: &Viewer, ticket: Option<&str>, start: StartAt) -> Follower {
        Box::pin(self.try_follow(who, ticket, start).await.unwrap())
    }

    async fn try_follow(
        &self,
        who: &Viewer,
        ticket: Option<&str>,
        start: StartAt,
    ) -> Result<impl Stream<Item = LiveEvent> + Send + 'static, app::backend::error::ServiceError>
    {
        let key = self
            .world
            .new_key(who, "live", ApiKeyValidity::Days30)
            .await;
        live::follow(
            &self.world.db,
            &self.config,
            &self.events,
            who,
            Credential::ApiKey(key),
            ticket,
            start,
        )
        .await
    }

    async fn open(&self, who: &Viewer, organization_id: i64, subject: &str) -> String {
        tickets::open_ticket(
            &self.world.db,
            &self.events,
            &self.config,
            who,
            NewTicket {
                organization_id: Some(organization_id),
                request_type: RequestType::Repair,
                telescope_id: None,
                priority: Priority::Medium,
                subject,
                comment: "La cúpula no gira",
                attachments: &[],
            },
        )
        .await
        .unwrap()
        .number
    }

    async fn say(&self, who: &Viewer, number: &str, body: &str, internal: bool) -> i64 {
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
        .unwrap()
    }
}

/// The next `count` events, each within a few seconds.
async fn next(follower: &mut Follower, count: usize) -> Vec<LiveEvent> {
    let mut got = Vec::new();
    while got.len() < count {
        match tokio::time::timeout(Duration::from_secs(5), follower.next()).await {
            Ok(Some(event)) => got.push(event),
            Ok(None) => panic!("the follower ended after {got:?}"),
            Err(_) => panic!("only {} of {count} events arrived: {got:?}", got.len()),
        }
    }
    got
}

/// What else arrives within a second (the bus sweeps the table twice a second).
async fn more(follower: &mut Follower) -> Vec<LiveEvent> {
    let mut got = Vec::new();
    while let Ok(Some(event)) =
        tokio::time::timeout(Duration::from_millis(1200), follower.next()).await
    {
        got.push(event);
    }
    got
}

fn kinds(events: &[LiveEvent]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| (e.ticket.clone(), e.kind.clone()))
        .collect()
}

fn pair(ticket: &str, kind: &str) -> (String, String) {
    (ticket.to_string(), kind.to_string())
}

#[tokio::test]
async fn each_event_reaches_exactly_who_may_see_it() {
    let site = site().await;
    let mut staff = site.follow(&site.agent, None, StartAt::Now).await;
    let mut ana = site.follow(&site.ana, None, StartAt::Now).await;
    let mut carla = site.follow(&site.carla, None, StartAt::Now).await;

    let ours = site
        .open(&site.ana, site.world.organization_id, "Cúpula atascada")
        .await;
    site.say(&site.agent, &ours, "Revisad el motor", true).await;
    site.say(&site.agent, &ours, "Vamos mañana", false).await;
    let theirs = site
        .open(&site.carla, site.carla.organization_id.unwrap(), "Montura")
        .await;

    let seen_by_staff = next(&mut staff, 4).await;
    assert_eq!(
        kinds(&seen_by_staff),
        vec![
            pair(&ours, "created"),
            pair(&ours, "note"),
            pair(&ours, "message"),
            pair(&theirs, "created"),
        ]
    );
    assert!(seen_by_staff[1].internal);
    assert!(
        seen_by_staff.windows(2).all(|w| w[0].id < w[1].id),
        "in order: {seen_by_staff:?}"
    );
    let mut seen_by_ana = next(&mut ana, 2).await;
    seen_by_ana.extend(more(&mut ana).await);
    assert_eq!(
        kinds(&seen_by_ana),
        vec![pair(&ours, "created"), pair(&ours, "message")],
        "Ana sees her organization's public events only"
    );
    assert!(seen_by_ana.iter().all(|e| !e.internal));
    let mut seen_by_carla = next(&mut carla, 1).await;
    seen_by_carla.extend(more(&mut carla).await);
    assert_eq!(kinds(&seen_by_carla), vec![pair(&theirs, "created")]);
    assert!(more(&mut staff).await.is_empty(), "each event once");
}

#[tokio::test]
async fn a_follower_back_with_its_last_id_gets_the_gap_once_then_what_is_new() {
    let site = site().await;
    let mut ana = site.follow(&site.ana, None, StartAt::Now).await;
    let number = site
        .open(&site.ana, site.world.organization_id, "Cúpula atascada")
        .await;
    let last_seen = next(&mut ana, 1).await[0].id;
    drop(ana);

    // While Ana's phone is locked.
    let first = site
        .say(&site.agent, &number, "Primera respuesta", false)
        .await;
    site.say(&site.agent, &number, "Nota para el equipo", true)
        .await;
    let second = site
        .say(&site.agent, &number, "Segunda respuesta", false)
        .await;

    let mut back = site
        .follow(&site.ana, None, StartAt::After(last_seen))
        .await;
    let gap = next(&mut back, 2).await;
    assert_eq!(
        gap.iter().map(|e| e.entry_id).collect::<Vec<_>>(),
        vec![first, second],
        "the two public messages, in order, the note left out"
    );
    let third = site
        .say(&site.agent, &number, "Tercera respuesta", false)
        .await;
    let after = next(&mut back, 1).await;
    assert_eq!(after[0].entry_id, third);
    assert!(more(&mut back).await.is_empty(), "nothing twice");

    // The staff's view of the same gap has the note too: the note was there to leave out.
    let mut staff = site
        .follow(&site.agent, None, StartAt::After(last_seen))
        .await;
    assert_eq!(
        kinds(&next(&mut staff, 4).await),
        vec![
            pair(&number, "message"),
            pair(&number, "note"),
            pair(&number, "message"),
            pair(&number, "message"),
        ]
    );
}

#[tokio::test]
async fn one_tickets_followers_get_its_events_and_nobody_follows_a_ticket_not_theirs() {
    let site = site().await;
    let ours = site
        .open(&site.ana, site.world.organization_id, "Cúpula")
        .await;
    let other = site
        .open(&site.ana, site.world.organization_id, "Montura")
        .await;
    let mut following = site.follow(&site.ana, Some(&ours), StartAt::Now).await;
    site.say(&site.agent, &other, "Sobre la montura", false)
        .await;
    let on_ours = site.say(&site.agent, &ours, "Sobre la cúpula", false).await;
    let got = next(&mut following, 1).await;
    assert_eq!(
        (got[0].ticket.as_str(), got[0].entry_id),
        (ours.as_str(), on_ours)
    );
    assert!(more(&mut following).await.is_empty());

    let refused = site
        .try_follow(&site.carla, Some(&ours), StartAt::Now)
        .await;
    assert!(
        matches!(
            refused,
            Err(app::backend::error::ServiceError::User(Msg::ErrorNotFound))
        ),
        "another organization's request does not exist for Carla"
    );
    assert!(site
        .try_follow(&site.agent, Some(&ours), StartAt::Now)
        .await
        .is_ok());
}

#[tokio::test]
async fn the_tables_rule_and_the_buss_rule_agree_on_who_sees_what() {
    let site = site().await;
    let db = &site.world.db;
    let ours = site
        .open(&site.ana, site.world.organization_id, "Cúpula")
        .await;
    site.say(&site.agent, &ours, "Nota", true).await;
    site.say(&site.agent, &ours, "Respuesta", false).await;
    let theirs = site
        .open(&site.carla, site.carla.organization_id.unwrap(), "Montura")
        .await;
    site.say(&site.agent, &theirs, "Otra nota", true).await;
    let everything = db.events_since(0, 1000).await.unwrap();
    assert_eq!(everything.len(), 5);
    for (who, expected) in [(&site.agent, 5), (&site.ana, 2), (&site.carla, 1)] {
        let scope = scope_of(who);
        let by_sql: Vec<i64> = db
            .events_after(&scope, None, 0, 1000)
            .await
            .unwrap()
            .iter()
            .map(|e| e.id)
            .collect();
        let by_rust: Vec<i64> = everything
            .iter()
            .filter(|e| scope.sees_event(e))
            .map(|e| e.id)
            .collect();
        assert_eq!(by_sql, by_rust, "{}", who.email);
        assert_eq!(by_sql.len(), expected, "{}", who.email);
    }
}

#[tokio::test]
async fn a_follower_ends_with_the_session_that_let_it_in() {
    let site = site().await;
    let db = &site.world.db;
    let admin = site.world.admin("admin@obs.example").await;
    let signed_in = site.world.sign_in("ana@andromeda.example").await.unwrap();
    let ana = accounts::authenticate(db, &site.config, &signed_in.token)
        .await
        .unwrap()
        .unwrap();
    let follow = |credential| {
        live::follow(
            db,
            &site.config,
            &site.events,
            &ana,
            credential,
            None,
            StartAt::Now,
        )
    };
    let mut by_session: Follower = Box::pin(
        follow(Credential::Session(signed_in.token.clone()))
            .await
            .unwrap(),
    );
    let key = site
        .world
        .new_key(&ana, "monitor", ApiKeyValidity::Days30)
        .await;
    let mut by_key: Follower = Box::pin(follow(Credential::ApiKey(key)).await.unwrap());
    let number = site.open(&ana, site.world.organization_id, "Cúpula").await;
    assert_eq!(next(&mut by_session, 1).await[0].ticket, number);
    assert_eq!(next(&mut by_key, 1).await[0].ticket, number);

    accounts::sign_out(db, &ana).await.unwrap();
    let ended = tokio::time::timeout(live::RECHECK_EVERY * 2, async {
        while by_session.next().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the session's follower ends after sign-out");
    // The key is not the session: it follows on, until its person is deactivated.
    site.say(&site.agent, &number, "Seguimos", false).await;
    assert_eq!(next(&mut by_key, 1).await[0].kind, "message");
    admin::set_active(db, &admin, ana.user_id, false)
        .await
        .unwrap();
    let ended = tokio::time::timeout(live::RECHECK_EVERY * 2, async {
        while by_key.next().await.is_some() {}
    })
    .await;
    assert!(
        ended.is_ok(),
        "the key's follower ends when its person is deactivated"
    );
}
