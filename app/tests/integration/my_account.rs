//! A person's own account on a real database: profile, password change, sessions.

use crate::common;

use app::backend::accounts::{authenticate, sign_in, Viewer};
use app::backend::api_tokens::{self, LAST_USED_PRECISION, PREFIX};
use app::backend::my_account;
use app::backend::tokens;
use app::i18n::{Lang, Msg};
use app::model::ApiKeyValidity;
use chrono::{Duration, Utc};
use common::{add_client, client, config, user_msg, world, World};

const EMAIL: &str = "ana@andromeda.example";
const PASSWORD: &str = "estrellas fugaces";

async fn signed_in(world: &World, password: &str) -> (String, Viewer) {
    let token = sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        EMAIL,
        password,
        &client(),
    )
    .await
    .unwrap()
    .token;
    let viewer = authenticate(&world.db, &config(), &token)
        .await
        .unwrap()
        .unwrap();
    (token, viewer)
}

/// Adds Ana to the world's organization and signs her in with her password.
async fn ana_signed_in(world: &World) -> (String, Viewer) {
    add_client(world, EMAIL, PASSWORD).await;
    signed_in(world, PASSWORD).await
}

/// A program's call with `key`, which must let it in.
async fn use_key(world: &World, key: &str) {
    api_tokens::authenticate(&world.db, key)
        .await
        .unwrap()
        .expect("the key lets the program in");
}

#[tokio::test]
async fn the_profile_keeps_a_name_and_a_language() {
    let world = world().await;
    let (token, viewer) = ana_signed_in(&world).await;
    assert_eq!(
        user_msg(my_account::update_profile(&world.db, &viewer, "  ", Lang::Es, None).await),
        Msg::ErrorNameRequired
    );
    assert_eq!(
        user_msg(
            my_account::update_profile(&world.db, &viewer, &"n".repeat(201), Lang::Es, None).await
        ),
        Msg::ErrorNameTooLong
    );
    my_account::update_profile(&world.db, &viewer, " Ana María ", Lang::Es, None)
        .await
        .unwrap();
    let viewer = authenticate(&world.db, &config(), &token)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(viewer.name, "Ana María");
    assert_eq!(viewer.language, Lang::Es);
}

#[tokio::test]
async fn changing_the_password_asks_for_the_current_one() {
    let world = world().await;
    let (_, viewer) = ana_signed_in(&world).await;
    let wrong = my_account::change_password(
        &world.db,
        &viewer,
        &client(),
        "no es",
        "una nueva frase larga",
        false,
    )
    .await;
    assert_eq!(user_msg(wrong), Msg::ErrorCurrentPasswordWrong);
    let weak =
        my_account::change_password(&world.db, &viewer, &client(), PASSWORD, "password", false)
            .await;
    assert_eq!(user_msg(weak), Msg::ErrorPasswordCommon);
    my_account::change_password(
        &world.db,
        &viewer,
        &client(),
        PASSWORD,
        "una nueva frase larga",
        false,
    )
    .await
    .unwrap();
    assert!(sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        EMAIL,
        PASSWORD,
        &client()
    )
    .await
    .is_err());
    signed_in(&world, "una nueva frase larga").await;
}

#[tokio::test]
async fn sessions_are_listed_and_ended_one_by_one_or_all_but_this_one() {
    let world = world().await;
    let user_id = add_client(&world, EMAIL, PASSWORD).await;
    let (laptop_token, laptop) = signed_in(&world, PASSWORD).await;
    let (phone_token, phone) = signed_in(&world, PASSWORD).await;
    let (tablet_token, _tablet) = signed_in(&world, PASSWORD).await;

    let listed = my_account::sessions(&world.db, &laptop).await.unwrap();
    assert_eq!(listed.len(), 3);
    assert_eq!(listed.iter().filter(|s| s.current).count(), 1);
    assert!(listed.iter().find(|s| s.current).unwrap().id == laptop.session_id);

    my_account::end_session(&world.db, &laptop, phone.session_id)
        .await
        .unwrap();
    assert!(authenticate(&world.db, &config(), &phone_token)
        .await
        .unwrap()
        .is_none());

    my_account::end_other_sessions(&world.db, &laptop)
        .await
        .unwrap();
    assert!(authenticate(&world.db, &config(), &tablet_token)
        .await
        .unwrap()
        .is_none());
    assert!(
        authenticate(&world.db, &config(), &laptop_token)
            .await
            .unwrap()
            .is_some(),
        "this one stays"
    );
    assert_eq!(world.sessions_of(user_id).await, 1);
}

#[tokio::test]
async fn nobody_can_end_someone_elses_session() {
    let world = world().await;
    add_client(&world, EMAIL, PASSWORD).await;
    add_client(&world, "otra@andromeda.example", PASSWORD).await;
    let (_, ana) = signed_in(&world, PASSWORD).await;
    let other_token = sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "otra@andromeda.example",
        PASSWORD,
        &client(),
    )
    .await
    .unwrap()
    .token;
    let other = authenticate(&world.db, &config(), &other_token)
        .await
        .unwrap()
        .unwrap();
    let attempt = my_account::end_session(&world.db, &ana, other.session_id).await;
    assert_eq!(user_msg(attempt), Msg::ErrorNotFound);
    assert!(authenticate(&world.db, &config(), &other_token)
        .await
        .unwrap()
        .is_some());
    let anas = my_account::sessions(&world.db, &ana).await.unwrap();
    assert!(anas.iter().any(|s| s.id == ana.session_id));
    assert!(anas.iter().all(|s| s.id != other.session_id));
    // Positive controls: the session's owner lists it and ends it with the same call.
    assert!(my_account::sessions(&world.db, &other)
        .await
        .unwrap()
        .iter()
        .any(|s| s.id == other.session_id));
    my_account::end_session(&world.db, &other, other.session_id)
        .await
        .unwrap();
    assert!(authenticate(&world.db, &config(), &other_token)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn guessing_the_current_password_is_limited_like_signing_in() {
    let world = world().await;
    let (_, viewer) = ana_signed_in(&world).await;
    for _ in 0..app::backend::accounts::MAX_FAILURES_PER_ACCOUNT {
        let wrong = my_account::change_password(
            &world.db,
            &viewer,
            &client(),
            "no es",
            "otra frase larga",
            false,
        )
        .await;
        assert_eq!(user_msg(wrong), Msg::ErrorCurrentPasswordWrong);
    }
    let right = my_account::change_password(
        &world.db,
        &viewer,
        &client(),
        PASSWORD,
        "otra frase larga",
        false,
    )
    .await;
    assert_eq!(user_msg(right), Msg::ErrorTooManyAttempts);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_burst_of_current_password_guesses_gets_at_most_the_limit() {
    let world = world().await;
    let (_, viewer) = ana_signed_in(&world).await;
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..100 {
        let db = world.db.clone();
        let viewer = viewer.clone();
        burst.spawn(async move {
            my_account::change_password(
                &db,
                &viewer,
                &client(),
                &format!("guess {i}"),
                "otra frase larga",
                false,
            )
            .await
        });
    }
    let outcomes: Vec<Msg> = burst.join_all().await.into_iter().map(user_msg).collect();
    let checked = outcomes
        .iter()
        .filter(|m| **m == Msg::ErrorCurrentPasswordWrong)
        .count();
    assert_eq!(
        checked,
        app::backend::accounts::MAX_FAILURES_PER_ACCOUNT as usize,
        "of 100 parallel guesses, exactly the limit are checked"
    );
    assert!(outcomes.iter().all(|m| matches!(
        m,
        Msg::ErrorCurrentPasswordWrong | Msg::ErrorTooManyAttempts | Msg::ErrorBusy
    )));
}

/// The last recorded use of the viewer's key named `name`, read from the database.
async fn last_used(world: &World, viewer: &Viewer, name: &str) -> Option<chrono::DateTime<Utc>> {
    api_tokens::list(&world.db, viewer)
        .await
        .unwrap()
        .into_iter()
        .find(|key| key.name == name)
        .expect("the key is listed")
        .last_used_at
}

#[tokio::test]
async fn an_expired_api_key_is_refused_while_an_unexpired_one_works() {
    let world = world().await;
    let (_, viewer) = ana_signed_in(&world).await;
    let monthly = world
        .new_key(&viewer, "mensual", ApiKeyValidity::Days30)
        .await;
    let forever = world
        .new_key(&viewer, "siempre", ApiKeyValidity::Never)
        .await;
    // A key whose chosen time ran out a moment ago.
    let expired = format!("{PREFIX}{}", tokens::random_token());
    let created = Utc::now() - Duration::days(30);
    world
        .db
        .insert_api_token(
            viewer.user_id,
            "caducada",
            &tokens::hash_token(&expired),
            created,
            Some(Utc::now() - Duration::seconds(1)),
        )
        .await
        .unwrap();

    for working in [&monthly, &forever] {
        let acting = api_tokens::authenticate(&world.db, working).await.unwrap();
        assert_eq!(acting.map(|v| v.user_id), Some(viewer.user_id));
    }
    assert_eq!(
        api_tokens::authenticate(&world.db, &expired).await.unwrap(),
        None
    );

    let listed = api_tokens::list(&world.db, &viewer).await.unwrap();
    let of = |name: &str| listed.iter().find(|k| k.name == name).unwrap();
    assert!(of("caducada").expired);
    assert!(!of("mensual").expired);
    let monthly_ends = of("mensual").expires_at.expect("a 30-day key has an end");
    let days = (monthly_ends - of("mensual").created_at).num_days();
    assert_eq!(days, 30);
    assert_eq!(of("siempre").expires_at, None);
    assert!(!of("siempre").expired);
    assert_eq!(
        of("caducada").last_used_at,
        None,
        "a refused key is not used"
    );
}

#[tokio::test]
async fn an_api_key_records_its_last_use_at_most_once_a_minute() {
    let world = world().await;
    let (_, viewer) = ana_signed_in(&world).await;
    let key = world
        .new_key(&viewer, "monitor", ApiKeyValidity::Days90)
        .await;
    assert_eq!(last_used(&world, &viewer, "monitor").await, None);

    use_key(&world, &key).await;
    let first = last_used(&world, &viewer, "monitor")
        .await
        .expect("recorded");
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    use_key(&world, &key).await;
    assert_eq!(
        last_used(&world, &viewer, "monitor").await,
        Some(first),
        "a second use within the minute writes nothing"
    );

    // A minute later the next use is recorded again.
    let id = api_tokens::list(&world.db, &viewer).await.unwrap()[0].id;
    let a_minute_ago = Utc::now() - LAST_USED_PRECISION - Duration::seconds(1);
    world
        .db
        .touch_api_token(id, a_minute_ago, Utc::now())
        .await
        .unwrap();
    use_key(&world, &key).await;
    let later = last_used(&world, &viewer, "monitor").await.unwrap();
    assert!(later > first, "{later} should follow {first}");
}
