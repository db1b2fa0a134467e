//! Drafts of forms posted without JavaScript: what was typed waits on the server for the page the
//! browser returns to, for the session that typed it, once, and for a few minutes only.

use crate::common;

use app::backend::accounts::{self, authenticate, sign_in, Viewer};
use app::backend::drafts;
use app::backend::storage::Db;
use app::model::Role;
use common::{client, config, person, world, PASSWORD};

/// A new session of the person with this e-mail: its cookie's token and its viewer.
async fn session(db: &Db, observatory_id: i64, email: &str) -> (String, Viewer) {
    let signed_in = sign_in(db, &config(), observatory_id, email, PASSWORD, &client())
        .await
        .unwrap();
    let viewer = authenticate(db, &config(), &signed_in.token)
        .await
        .unwrap()
        .unwrap();
    (signed_in.token, viewer)
}

async fn drafts_kept(db: &Db) -> i64 {
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM form_drafts")
            .fetch_one(pool)
            .await
            .unwrap(),
        Db::Postgres(pool) => sqlx::query_scalar("SELECT COUNT(*) FROM form_drafts")
            .fetch_one(pool)
            .await
            .unwrap(),
    }
}

#[tokio::test]
async fn a_draft_is_shown_once_to_its_session_on_its_page() {
    let world = world().await;
    let db = &world.db;
    let obs = world.observatory_id;
    let org = Some(world.organization_id);
    person(db, obs, org, "ana@club.example", Role::Client).await;
    let (ana_cookie, ana) = session(db, obs, "ana@club.example").await;
    // The same person in another browser, and someone else.
    let (ana_elsewhere, _) = session(db, obs, "ana@club.example").await;
    person(db, obs, org, "bruno@club.example", Role::Client).await;
    let (bruno_cookie, _) = session(db, obs, "bruno@club.example").await;

    let page = "/tickets/TST-2026-00001";
    let typed = [("body", "La cúpula no cierra."), ("reason", "")];
    let token = drafts::keep(db, Some(ana.session_id), page, &typed, None)
        .await
        .unwrap()
        .expect("something was typed");
    for (session_token, path) in [
        (None, page),
        (Some(ana_elsewhere.as_str()), page),
        (Some(bruno_cookie.as_str()), page),
        (Some(ana_cookie.as_str()), "/tickets/new"),
    ] {
        assert_eq!(
            drafts::take(db, &token, session_token, path).await.unwrap(),
            None,
            "{session_token:?} on {path}"
        );
    }
    let draft = drafts::take(db, &token, Some(&ana_cookie), page)
        .await
        .unwrap()
        .expect("the draft, for its session and page");
    assert_eq!(draft.path, page);
    assert_eq!(draft.field("body"), "La cúpula no cierra.");
    assert_eq!(draft.field("reason"), "", "empty fields are not kept");
    assert_eq!(draft.fields.len(), 1);
    assert_eq!(
        drafts::take(db, &token, Some(&ana_cookie), page)
            .await
            .unwrap(),
        None,
        "shown once"
    );
    assert_eq!(drafts_kept(db).await, 0);

    // Nothing typed: nothing kept, no cookie to set.
    assert_eq!(
        drafts::keep(db, Some(ana.session_id), page, &[("body", "")], None)
            .await
            .unwrap(),
        None
    );

    // Signing out ends the session's drafts with it.
    drafts::keep(db, Some(ana.session_id), page, &typed, None)
        .await
        .unwrap();
    accounts::sign_out(db, &ana).await.unwrap();
    assert_eq!(drafts_kept(db).await, 0);
}

#[tokio::test]
async fn a_signed_out_form_keeps_its_draft_for_whoever_holds_the_cookie() {
    let world = world().await;
    let db = &world.db;
    let token = drafts::keep(db, None, "/sign-in", &[("email", "ana@club.example")], None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        drafts::take(db, "another token", None, "/sign-in")
            .await
            .unwrap(),
        None
    );
    let draft = drafts::take(db, &token, None, "/sign-in")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(draft.field("email"), "ana@club.example");
}

#[tokio::test]
async fn drafts_expire_are_replaced_and_are_cleared_away_by_new_ones() {
    let world = world().await;
    let db = &world.db;
    let page = "/forgot-password";
    let first = drafts::keep(db, None, page, &[("email", "uno")], None)
        .await
        .unwrap()
        .unwrap();
    // The same browser posts again: its new draft takes the place of the first.
    let second = drafts::keep(db, None, page, &[("email", "dos")], Some(&first))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(drafts_kept(db).await, 1);
    assert_eq!(drafts::take(db, &first, None, page).await.unwrap(), None);

    // Past its lifetime a draft is not shown, and the next draft written deletes it.
    let past = "UPDATE form_drafts SET expires_at = $1";
    let an_hour_ago = chrono::Utc::now() - chrono::Duration::hours(1);
    match db {
        Db::Sqlite(pool) => sqlx::query(past)
            .bind(an_hour_ago)
            .execute(pool)
            .await
            .map(drop),
        Db::Postgres(pool) => sqlx::query(past)
            .bind(an_hour_ago)
            .execute(pool)
            .await
            .map(drop),
    }
    .unwrap();
    assert_eq!(drafts::take(db, &second, None, page).await.unwrap(), None);
    assert_eq!(
        drafts_kept(db).await,
        1,
        "still there until a draft is written"
    );
    let third = drafts::keep(db, None, page, &[("email", "tres")], None)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(drafts_kept(db).await, 1);
    let draft = drafts::take(db, &third, None, page).await.unwrap().unwrap();
    assert_eq!(draft.field("email"), "tres");
}
