//! Accounts and sessions against a real database (SQLite, or PostgreSQL when the test run names
//! one in CUPULA_TEST_DATABASE_URL).

use crate::common;

use app::backend::accounts::{self, authenticate, create_account, sign_in, NewAccount, SignedIn};
use app::backend::config::Config;
use app::backend::demo;
use app::backend::passwords;
use app::backend::storage::testing::{engine_name, fresh_database};
use app::i18n::{Lang, Msg};
use app::model::Role;
use common::{add_client, client, config, user_msg, world, World};
use std::time::Duration;

/// Ana, the client most of these tests sign in: her address and password.
const ANA: &str = "ana@andromeda.example";
const ANAS_PASSWORD: &str = "estrellas fugaces";

/// Adds Ana to the world's organization, returning her user id.
async fn add_ana(world: &World) -> i64 {
    add_client(world, ANA, ANAS_PASSWORD).await
}

/// Signs Ana in with her password under `config`.
async fn sign_ana_in(world: &World, config: &Config) -> SignedIn {
    sign_in(
        &world.db,
        config,
        world.observatory_id,
        ANA,
        ANAS_PASSWORD,
        &client(),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn migrations_apply_once_and_are_idempotent() {
    let world = world().await;
    world
        .db
        .migrate()
        .await
        .expect("re-running migrations is a no-op");
    world.db.ping().await.unwrap();
    assert_eq!(
        world.db.count_observatories().await.unwrap(),
        1,
        "on {}",
        engine_name()
    );
}

#[tokio::test]
async fn sign_in_opens_a_session_that_identifies_the_person() {
    let world = world().await;
    let user_id = add_client(&world, "Ana@Andromeda.example", "estrellas fugaces").await;
    let config = config();

    // The address is matched whatever its case.
    let signed_in = sign_in(
        &world.db,
        &config,
        world.observatory_id,
        "ana@ANDROMEDA.example",
        "estrellas fugaces",
        &client(),
    )
    .await
    .expect("right password signs in");
    assert_eq!(signed_in.user_id, user_id);
    assert_eq!(signed_in.language, Lang::En);

    let viewer = authenticate(&world.db, &config, &signed_in.token)
        .await
        .unwrap()
        .expect("the token names a live session");
    assert_eq!(viewer.user_id, user_id);
    assert_eq!(viewer.role, Role::Client);
    assert_eq!(viewer.observatory_id, world.observatory_id);
    assert_eq!(viewer.organization_id, Some(world.organization_id));
    assert_eq!(viewer.organization_name.as_deref(), Some("Club Andrómeda"));
    assert_eq!(viewer.email, "ana@andromeda.example");
}

#[tokio::test]
async fn unknown_email_and_wrong_password_get_the_same_message() {
    let world = world().await;
    add_ana(&world).await;
    let config = config();
    let attempt = |email: &'static str, password: &'static str| {
        let db = world.db.clone();
        let config = config.clone();
        let observatory_id = world.observatory_id;
        async move { sign_in(&db, &config, observatory_id, email, password, &client()).await }
    };
    let wrong_password = user_msg(attempt("ana@andromeda.example", "estrellas fugace").await);
    let unknown_email = user_msg(attempt("nadie@andromeda.example", "estrellas fugaces").await);
    let malformed_email = user_msg(attempt("nadie", "estrellas fugaces").await);
    assert_eq!(wrong_password, Msg::ErrorInvalidCredentials);
    assert_eq!(unknown_email, Msg::ErrorInvalidCredentials);
    assert_eq!(malformed_email, Msg::ErrorInvalidCredentials);
    assert_eq!(user_msg(attempt("", "x").await), Msg::ErrorEmailRequired);
    assert_eq!(
        user_msg(attempt("ana@andromeda.example", "").await),
        Msg::ErrorPasswordRequired
    );
}

#[tokio::test]
async fn accounts_without_a_password_cannot_sign_in() {
    let world = world().await;
    create_account(
        &world.db,
        NewAccount {
            observatory_id: world.observatory_id,
            organization_id: None,
            email: "invitada@obs.example",
            name: "Invitada",
            role: Role::Agent,
            language: Lang::Es,
            password: None,
        },
    )
    .await
    .unwrap();
    // Not even the dummy hash's own password gets in: there is nothing to match.
    let result = sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "invitada@obs.example",
        "cualquier cosa",
        &client(),
    )
    .await;
    assert_eq!(user_msg(result), Msg::ErrorInvalidCredentials);
}

#[tokio::test]
async fn each_sign_in_gets_a_new_token_and_sign_out_ends_it_on_the_server() {
    let world = world().await;
    let user_id = add_ana(&world).await;
    let config = config();
    let first = sign_ana_in(&world, &config).await;
    let second = sign_ana_in(&world, &config).await;
    assert_ne!(first.token, second.token);
    assert_eq!(world.sessions_of(user_id).await, 2);

    let viewer = authenticate(&world.db, &config, &first.token)
        .await
        .unwrap()
        .unwrap();
    accounts::sign_out(&world.db, &viewer).await.unwrap();
    assert!(authenticate(&world.db, &config, &first.token)
        .await
        .unwrap()
        .is_none());
    assert!(authenticate(&world.db, &config, &second.token)
        .await
        .unwrap()
        .is_some());
    assert_eq!(world.sessions_of(user_id).await, 1);
}

#[tokio::test]
async fn forged_and_malformed_tokens_name_nobody() {
    let world = world().await;
    let config = config();
    for token in ["", "abc", &"0".repeat(64), &"z".repeat(64), "' OR 1=1 --"] {
        assert!(
            authenticate(&world.db, &config, token)
                .await
                .unwrap()
                .is_none(),
            "{token:?}"
        );
    }
    // Positive control: a real session's token names its person.
    let user_id = add_ana(&world).await;
    let real = sign_ana_in(&world, &config).await;
    let viewer = authenticate(&world.db, &config, &real.token)
        .await
        .unwrap()
        .expect("a real token names someone");
    assert_eq!(viewer.user_id, user_id);
}

#[tokio::test]
async fn idle_and_absolute_timeouts_end_sessions() {
    let world = world().await;
    let user_id = add_ana(&world).await;

    let mut idle = config();
    idle.session_idle_timeout = Duration::ZERO;
    let signed_in = sign_ana_in(&world, &idle).await;
    assert!(authenticate(&world.db, &idle, &signed_in.token)
        .await
        .unwrap()
        .is_none());
    assert_eq!(
        world.sessions_of(user_id).await,
        0,
        "expired sessions are deleted"
    );

    let mut absolute = config();
    absolute.session_absolute_timeout = Duration::ZERO;
    let signed_in = sign_ana_in(&world, &absolute).await;
    assert!(authenticate(&world.db, &config(), &signed_in.token)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn weak_hashes_are_upgraded_at_sign_in() {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let world = world().await;
    let user_id = add_ana(&world).await;
    let weak = argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(4096, 1, 1, None).unwrap(),
    )
    .hash_password(
        b"estrellas fugaces",
        &SaltString::generate(&mut rand::rngs::OsRng),
    )
    .unwrap()
    .to_string();
    world.db.set_password_hash(user_id, &weak).await.unwrap();
    assert!(passwords::needs_rehash(&weak));

    sign_ana_in(&world, &config()).await;
    let stored = world
        .db
        .user_by_email(world.observatory_id, "ana@andromeda.example")
        .await
        .unwrap()
        .unwrap()
        .password_hash
        .unwrap();
    assert_ne!(stored, weak);
    assert!(!passwords::needs_rehash(&stored));
}

#[tokio::test]
async fn e_mail_addresses_are_unique_per_observatory_whatever_their_case() {
    let world = world().await;
    add_ana(&world).await;
    let again = create_account(
        &world.db,
        NewAccount {
            observatory_id: world.observatory_id,
            organization_id: Some(world.organization_id),
            email: "ANA@andromeda.example",
            name: "Otra Ana",
            role: Role::Client,
            language: Lang::Es,
            password: Some("otra contraseña"),
        },
    )
    .await;
    assert_eq!(user_msg(again), Msg::ErrorEmailTaken);

    let short = create_account(
        &world.db,
        NewAccount {
            observatory_id: world.observatory_id,
            organization_id: None,
            email: "corta@obs.example",
            name: "Corta",
            role: Role::Agent,
            language: Lang::Es,
            password: Some("1234567"),
        },
    )
    .await;
    assert_eq!(user_msg(short), Msg::ErrorPasswordTooShort);
}

#[tokio::test]
async fn the_demo_is_seeded_once_and_its_printed_passwords_work() {
    let test_db = fresh_database().await.unwrap();
    let db = &test_db.db;
    let accounts = demo::seed_if_empty(db)
        .await
        .unwrap()
        .expect("an empty database gets the demo");
    assert!(
        demo::seed_if_empty(db).await.unwrap().is_none(),
        "never seeded twice"
    );

    let roles: Vec<Role> = accounts.iter().map(|a| a.role).collect();
    assert_eq!(
        roles,
        [Role::Admin, Role::Agent, Role::Client, Role::Client]
    );
    let observatory = db.default_observatory().await.unwrap().unwrap();
    assert_eq!(observatory.name, demo::DEMO_OBSERVATORY_NAME);
    let config = config();
    for account in &accounts {
        assert!(account.password.len() >= 16);
        let signed_in = sign_in(
            db,
            &config,
            observatory.id,
            &account.email,
            &account.password,
            &client(),
        )
        .await
        .unwrap_or_else(|e| panic!("{} cannot sign in: {e:?}", account.email));
        let viewer = authenticate(db, &config, &signed_in.token)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(viewer.role, account.role);
        assert_eq!(
            viewer.organization_name.is_some(),
            account.role == Role::Client
        );
    }
    let client_org = authenticate(
        db,
        &config,
        &sign_in(
            db,
            &config,
            observatory.id,
            &accounts[2].email,
            &accounts[2].password,
            &client(),
        )
        .await
        .unwrap()
        .token,
    )
    .await
    .unwrap()
    .unwrap()
    .organization_id
    .unwrap();
    assert_eq!(db.telescope_names(client_org).await.unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_parallel_burst_of_wrong_passwords_gets_at_most_the_limit_of_checks() {
    let world = world().await;
    add_client(&world, "burst@club.example", "cielo profundo estrellado").await;
    let mut burst = tokio::task::JoinSet::new();
    for i in 0..200 {
        let db = world.db.clone();
        let observatory_id = world.observatory_id;
        burst.spawn(async move {
            sign_in(
                &db,
                &config(),
                observatory_id,
                "burst@club.example",
                &format!("wrong guess {i}"),
                &client(),
            )
            .await
            .map(|_| ())
        });
    }
    let outcomes: Vec<Msg> = burst.join_all().await.into_iter().map(user_msg).collect();
    let checked = outcomes
        .iter()
        .filter(|m| **m == Msg::ErrorInvalidCredentials)
        .count();
    let refused = outcomes
        .iter()
        .filter(|m| matches!(m, Msg::ErrorTooManyAttempts | Msg::ErrorBusy))
        .count();
    assert_eq!(
        checked,
        accounts::MAX_FAILURES_PER_ACCOUNT as usize,
        "of 200 parallel guesses, exactly the limit are checked"
    );
    assert_eq!(checked + refused, 200, "{outcomes:?}");

    // From there even the right password now waits; from elsewhere the owner gets in.
    let here = sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "burst@club.example",
        "cielo profundo estrellado",
        &client(),
    )
    .await;
    assert_eq!(user_msg(here), Msg::ErrorTooManyAttempts);
    let elsewhere = accounts::ClientInfo {
        user_agent: "tests".into(),
        ip: "192.0.2.44".into(),
    };
    sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "burst@club.example",
        "cielo profundo estrellado",
        &elsewhere,
    )
    .await
    .expect("the owner signs in from another address");
}
