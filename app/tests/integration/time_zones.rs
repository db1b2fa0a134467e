//! Local time: the observatory's zone (Branding), a person's own (My account), the dates pages
//! show, and the local year of ticket numbers. Stored times stay UTC.

use crate::common;

use app::backend::accounts::{authenticate, sign_in, Viewer};
use app::backend::admin;
use app::backend::events::EventBus;
use app::backend::my_account;
use app::backend::tickets::{self, NewTicket};
use app::i18n::{Lang, Msg};
use app::model::{format_time, Priority, RequestType};
use chrono::{DateTime, Utc};
use common::{client, config, user_msg, world, World, PASSWORD};

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text).unwrap().to_utc()
}

fn request(subject: &str) -> NewTicket<'_> {
    NewTicket {
        organization_id: None,
        request_type: RequestType::Question,
        telescope_id: None,
        priority: Priority::Medium,
        subject,
        comment: "¿A qué hora abre la cúpula?",
        attachments: &[],
    }
}

/// The person as a fresh request sees them (their zone and their observatory's as saved now).
async fn again(world: &World, email: &str) -> Viewer {
    let signed_in = sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        email,
        PASSWORD,
        &client(),
    )
    .await
    .unwrap();
    authenticate(&world.db, &config(), &signed_in.token)
        .await
        .unwrap()
        .unwrap()
}

async fn set_observatory_zone(world: &World, admin: &Viewer, zone: &str) -> Result<(), Msg> {
    let mut settings = admin::branding(&world.db, admin).await.unwrap();
    settings.time_zone = zone.into();
    admin::update_branding(&world.db, admin, &settings)
        .await
        .map_err(|e| user_msg(Err::<(), _>(e)))
}

#[tokio::test]
async fn ticket_numbers_carry_the_observatory_s_local_year() {
    let world = world().await;
    let events = EventBus::new();
    let boss = world.admin("jefa@obs.example").await;
    world.client("ana@club.example").await;
    let open = |viewer: Viewer, now: DateTime<Utc>| {
        let (db, events) = (world.db.clone(), events.clone());
        async move {
            tickets::open_ticket_at(&db, &events, &config(), &viewer, request("Hora"), None, now)
                .await
                .unwrap()
        }
    };
    // 23:30 on New Year's Eve in Chile (UTC-3 in summer) is 02:30 on January 1 in UTC.
    let new_years_eve_in_chile = at("2027-01-01T02:30:00Z");

    // Positive control: in UTC (the default) that moment is already 2027.
    let ana = again(&world, "ana@club.example").await;
    assert_eq!(ana.observatory_time_zone, "UTC");
    let in_utc = open(ana, new_years_eve_in_chile).await;
    assert_eq!(in_utc.number, "TST-2027-00001");

    set_observatory_zone(&world, &boss, "America/Santiago")
        .await
        .unwrap();
    let ana = again(&world, "ana@club.example").await;
    let in_chile = open(ana.clone(), new_years_eve_in_chile).await;
    assert_eq!(in_chile.number, "TST-2026-00001");
    // Half an hour after local midnight the year turns, and its count goes on from 2027's.
    let new_year_in_chile = open(ana.clone(), at("2027-01-01T03:30:00Z")).await;
    assert_eq!(new_year_in_chile.number, "TST-2027-00002");

    // What is stored is the moment itself, in UTC; shown in the observatory's zone, named.
    let detail = tickets::ticket(&world.db, &config(), &ana, &in_chile.number)
        .await
        .unwrap();
    assert_eq!(detail.created_at, new_years_eve_in_chile);
    assert_eq!(
        format_time(&detail.created_at, &ana.zone()),
        "2026-12-31 23:30 UTC-3"
    );
}

#[tokio::test]
async fn dates_are_shown_in_the_person_s_zone_else_the_observatory_s() {
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
    world.client("ana@club.example").await;
    world.agent("tomas@obs.example").await;
    let summer_noon = at("2026-07-01T12:00:00Z");

    assert_eq!(
        set_observatory_zone(&world, &boss, "Mars/Olympus").await,
        Err(Msg::ErrorUnknownTimeZone)
    );
    set_observatory_zone(&world, &boss, " Atlantic/Canary ")
        .await
        .unwrap();
    assert_eq!(
        admin::branding(&world.db, &boss).await.unwrap().time_zone,
        "Atlantic/Canary",
        "saved by its canonical name"
    );

    // Ana chooses Hawaii; Tomás keeps the observatory's.
    let ana = again(&world, "ana@club.example").await;
    assert_eq!(
        user_msg(
            my_account::update_profile(&world.db, &ana, "Ana", Lang::Es, Some("Hawaii/Nowhere"))
                .await
        ),
        Msg::ErrorUnknownTimeZone
    );
    my_account::update_profile(&world.db, &ana, "Ana", Lang::Es, Some("Pacific/Honolulu"))
        .await
        .unwrap();
    let ana = again(&world, "ana@club.example").await;
    let tomas = again(&world, "tomas@obs.example").await;
    assert_eq!(ana.zone().name, "Pacific/Honolulu");
    assert_eq!(
        format_time(&summer_noon, &ana.zone()),
        "2026-07-01 02:00 HST"
    );
    assert_eq!(tomas.zone().name, "Atlantic/Canary");
    assert_eq!(
        format_time(&summer_noon, &tomas.zone()),
        "2026-07-01 13:00 WEST"
    );
    let choices = my_account::time_zone_choices(&ana);
    assert_eq!(choices.own.as_deref(), Some("Pacific/Honolulu"));
    assert_eq!(choices.observatory, "Atlantic/Canary");

    // A form sent before its list of zones arrived keeps the zone; "" goes back to the
    // observatory's.
    my_account::update_profile(&world.db, &ana, "Ana María", Lang::Es, None)
        .await
        .unwrap();
    let kept = again(&world, "ana@club.example").await;
    assert_eq!(
        (kept.name.as_str(), kept.time_zone.as_deref()),
        ("Ana María", Some("Pacific/Honolulu"))
    );
    my_account::update_profile(&world.db, &kept, "Ana María", Lang::Es, Some(""))
        .await
        .unwrap();
    let back = again(&world, "ana@club.example").await;
    assert_eq!(back.time_zone, None);
    assert_eq!(back.zone().name, "Atlantic/Canary");
    // In winter the islands are on WET, UTC+0.
    assert_eq!(
        format_time(&at("2026-12-01T12:00:00Z"), &back.zone()),
        "2026-12-01 12:00 WET"
    );
}
