//! Housekeeping: what is past its retention goes, what is not stays, on a real database.

use crate::common;

use app::backend::events::EventBus;
use app::backend::links;
use app::backend::retention::{self, Purged};
use app::backend::tickets::{self, NewTicket};
use app::model::{Priority, RequestType};
use chrono::{Duration, Utc};
use common::{add_client, client, config, world};

const EMAIL: &str = "ana@andromeda.example";
const PASSWORD: &str = "Andromeda-Cupula-2026";

#[tokio::test]
async fn records_go_when_past_their_retention_and_not_before() {
    let world = world().await;
    let db = &world.db;
    let config = config();
    let user_id = add_client(&world, EMAIL, PASSWORD).await;
    // A session, a failed sign-in, a reset link and its e-mail, sent, and a request's event.
    let signed_in = app::backend::accounts::sign_in(
        db,
        &config,
        world.observatory_id,
        EMAIL,
        PASSWORD,
        &client(),
    )
    .await
    .unwrap();
    assert!(app::backend::accounts::sign_in(
        db,
        &config,
        world.observatory_id,
        EMAIL,
        "not-the-password",
        &client(),
    )
    .await
    .is_err());
    links::request_password_reset(db, &config, world.observatory_id, EMAIL)
        .await
        .unwrap();
    let mail = db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    assert!(db.mark_mail_sent(mail.id, Utc::now()).await.unwrap());
    let viewer = app::backend::accounts::authenticate(db, &config, &signed_in.token)
        .await
        .unwrap()
        .expect("the session works");
    tickets::open_ticket(
        db,
        &EventBus::new(),
        &config,
        &viewer,
        NewTicket {
            organization_id: None,
            request_type: RequestType::Question,
            telescope_id: None,
            priority: Priority::Low,
            subject: "Horario",
            comment: "¿A qué hora abre la cúpula?",
            attachments: &[],
        },
    )
    .await
    .unwrap();
    let now = Utc::now();

    // Nothing is past its retention yet: everything stays.
    assert_eq!(
        retention::purge(db, &config, now).await.unwrap(),
        Purged::default()
    );
    assert_eq!(world.sessions_of(user_id).await, 1);

    // A day on, the idle session and the failed sign-in have gone; the rest stays.
    let purged = retention::purge(db, &config, now + Duration::days(1) + Duration::hours(1))
        .await
        .unwrap();
    assert_eq!(
        purged,
        Purged {
            sessions: 1,
            sign_in_failures: 1,
            ..Purged::default()
        }
    );
    assert_eq!(world.sessions_of(user_id).await, 0);
    assert!(!db.events_since(0, 10).await.unwrap().is_empty());
    assert!(!db.mail_to(EMAIL, 1).await.unwrap()[0].body_text.is_empty());

    // A hundred days on, the link, the sent e-mail's body and the event have gone too; the
    // e-mail's row stays for the administration's list.
    let purged = retention::purge(db, &config, now + Duration::days(100))
        .await
        .unwrap();
    assert_eq!(purged.links, 1, "{purged:?}");
    assert_eq!(purged.mail_bodies, 1, "{purged:?}");
    assert!(purged.events >= 1, "{purged:?}");
    assert!(db.events_since(0, 10).await.unwrap().is_empty());
    let kept = db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    assert_eq!(kept.id, mail.id);
    assert!(kept.body_text.is_empty() && kept.sealed_body.is_none());
    assert_eq!(kept.subject, mail.subject);
}

/// Times compare as times whatever their precision (SQLite compares the text sqlx writes for
/// them: whole seconds, milliseconds, micro- and nanoseconds must still sort as time does).
#[tokio::test]
async fn stored_times_compare_as_times_at_every_precision() {
    let world = world().await;
    let db = &world.db;
    let base = chrono::DateTime::from_timestamp(1_798_761_599, 0).unwrap(); // 2026-12-31 23:59:59
    let offsets_ns = [0, 1_000, 1_000_000, 999_999_000, 1_000_000_000];
    for offset in offsets_ns {
        let at = base + Duration::nanoseconds(offset);
        db.reserve_sign_in_attempt(world.observatory_id, EMAIL, "192.0.2.7", at, at)
            .await
            .unwrap();
    }
    // Before base + 0.5 ms: the attempts at the whole second and one microsecond after it.
    let removed = db
        .purge_sign_in_failures(base + Duration::microseconds(500))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    // Before base + 1 s: the millisecond and the 0.999999 s ones; the whole next second stays.
    let removed = db
        .purge_sign_in_failures(base + Duration::seconds(1))
        .await
        .unwrap();
    assert_eq!(removed, 2);
    let removed = db
        .purge_sign_in_failures(base + Duration::seconds(2))
        .await
        .unwrap();
    assert_eq!(removed, 1);
}
