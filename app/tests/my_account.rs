//! A person's own account on a real database: profile, password change, sessions.

mod common;

use app::backend::accounts::{authenticate, sign_in, Viewer};
use app::backend::my_account;
use app::i18n::{Lang, Msg};
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

#[tokio::test]
async fn the_profile_keeps_a_name_and_a_language() {
    let world = world().await;
    add_client(&world, EMAIL, PASSWORD).await;
    let (token, viewer) = signed_in(&world, PASSWORD).await;
    assert_eq!(
        user_msg(my_account::update_profile(&world.db, &viewer, "  ", Lang::Es).await),
        Msg::ErrorNameRequired
    );
    assert_eq!(
        user_msg(my_account::update_profile(&world.db, &viewer, &"n".repeat(201), Lang::Es).await),
        Msg::ErrorNameTooLong
    );
    my_account::update_profile(&world.db, &viewer, " Ana María ", Lang::Es)
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
    add_client(&world, EMAIL, PASSWORD).await;
    let (_, viewer) = signed_in(&world, PASSWORD).await;
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
    assert_eq!(world.db.count_sessions_of_user(user_id).await.unwrap(), 1);
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
    assert!(my_account::sessions(&world.db, &ana)
        .await
        .unwrap()
        .iter()
        .all(|s| s.id != other.session_id));
}

#[tokio::test]
async fn guessing_the_current_password_is_limited_like_signing_in() {
    let world = world().await;
    add_client(&world, EMAIL, PASSWORD).await;
    let (_, viewer) = signed_in(&world, PASSWORD).await;
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
