//! Password resets, invitations, the outbox and sign-in throttling, on a real database.

use crate::common;

use app::backend::accounts::{
    authenticate, create_account, sign_in, ClientInfo, NewAccount, Viewer,
};
use app::backend::links::{self, header_safe, LINK_MAILS_PER_HOUR};
use app::backend::outbox::{self, OutboxError};
use app::backend::secret_key::SecretKey;
use app::backend::storage::links::{NewMail, OutboxRow};
use app::backend::storage::testing::{migrate_before, unmigrated_database};
use app::backend::storage::{Db, Engine};
use app::backend::tokens;
use app::i18n::{Lang, Msg};
use app::model::{LinkKind, Role};
use chrono::{Duration, Utc};
use common::{
    add_client, client, config, insert_test_observatory, link_token, newest_mail_body, user_msg,
    world, World,
};

const EMAIL: &str = "ana@andromeda.example";
const OLD: &str = "estrellas fugaces";
const NEW: &str = "nebulosa del cangrejo";

/// The token of the newest link e-mailed to `to`, read from the message as it will be sent.
async fn token_from_newest_mail(world: &World, to: &str) -> String {
    link_token(&newest_mail_body(&world.db, to).await)
}

async fn can_sign_in(world: &World, password: &str) -> bool {
    sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        EMAIL,
        password,
        &client(),
    )
    .await
    .is_ok()
}

/// Ana, signed in with her first password.
async fn signed_in_with_old_password(world: &World) -> Viewer {
    let token = sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        EMAIL,
        OLD,
        &client(),
    )
    .await
    .unwrap()
    .token;
    authenticate(&world.db, &config(), &token)
        .await
        .unwrap()
        .unwrap()
}

/// Asks, as "forgot password" does, for a reset link for Ana's address.
async fn ask_for_a_reset(world: &World) {
    links::request_password_reset(&world.db, &config(), world.observatory_id, EMAIL)
        .await
        .unwrap();
}

#[tokio::test]
async fn a_reset_link_is_mailed_in_the_persons_language_and_works_once() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await; // language: English
    links::request_password_reset(
        &world.db,
        &config(),
        world.observatory_id,
        "ANA@andromeda.example",
    )
    .await
    .unwrap();

    let mails = world.db.mail_to(EMAIL, 10).await.unwrap();
    assert_eq!(mails.len(), 1);
    let mail = &mails[0];
    assert_eq!(mail.kind, "password_reset");
    assert_eq!(
        mail.subject,
        "Observatorio de Pruebas: choose a new password"
    );
    assert!(
        mail.body_text.contains("Hello Ana Cliente"),
        "{}",
        mail.body_text
    );
    assert!(mail
        .body_text
        .contains("http://127.0.0.1:3000/reset-password?token="));

    let token = token_from_newest_mail(&world, EMAIL).await;
    assert!(links::valid_link(&world.db, &token)
        .await
        .unwrap()
        .is_some());
    links::set_password_with_link(&world.db, &token, NEW, false)
        .await
        .unwrap();
    assert!(can_sign_in(&world, NEW).await);
    assert!(!can_sign_in(&world, OLD).await);

    // Used once, it is spent.
    let again =
        links::set_password_with_link(&world.db, &token, "otra frase bien larga", false).await;
    assert_eq!(user_msg(again), Msg::ErrorLinkInvalid);
    assert!(links::valid_link(&world.db, &token)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn unknown_addresses_get_the_same_answer_and_no_mail() {
    let world = world().await;
    let result = links::request_password_reset(
        &world.db,
        &config(),
        world.observatory_id,
        "nadie@andromeda.example",
    )
    .await;
    assert!(result.is_ok());
    assert!(world
        .db
        .mail_to("nadie@andromeda.example", 10)
        .await
        .unwrap()
        .is_empty());
    let malformed = links::request_password_reset(
        &world.db,
        &config(),
        world.observatory_id,
        "no es un correo",
    )
    .await;
    assert_eq!(user_msg(malformed), Msg::ErrorEmailInvalid);
}

#[tokio::test]
async fn a_newer_link_replaces_the_older_one() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    ask_for_a_reset(&world).await;
    let first = token_from_newest_mail(&world, EMAIL).await;
    ask_for_a_reset(&world).await;
    let second = token_from_newest_mail(&world, EMAIL).await;
    assert_ne!(first, second);
    assert!(links::valid_link(&world.db, &first)
        .await
        .unwrap()
        .is_none());
    assert!(links::valid_link(&world.db, &second)
        .await
        .unwrap()
        .is_some());
}

#[tokio::test]
async fn link_mails_to_one_address_are_limited() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    for _ in 0..LINK_MAILS_PER_HOUR + 2 {
        ask_for_a_reset(&world).await;
    }
    let sent = world.db.mail_to(EMAIL, 100).await.unwrap().len() as i64;
    assert_eq!(sent, LINK_MAILS_PER_HOUR);
}

#[tokio::test]
async fn expired_links_do_not_work() {
    let world = world().await;
    let user_id = add_client(&world, EMAIL, OLD).await;
    let token = tokens::random_token();
    let past = Utc::now() - Duration::hours(2);
    let mut tx = world.db.begin().await.unwrap();
    tx.insert_link_with_mail(
        &tokens::hash_token(&token),
        user_id,
        LinkKind::PasswordReset,
        past,
        past + links::RESET_VALIDITY,
        NewMail {
            observatory_id: world.observatory_id,
            to_address: EMAIL,
            subject: "s",
            body_text: "b",
            sealed_body: None,
            kind: "password_reset",
            ticket_id: None,
            body_html: None,
            from_name: None,
            unsubscribe_url: None,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    assert!(links::valid_link(&world.db, &token)
        .await
        .unwrap()
        .is_none());
    let result = links::set_password_with_link(&world.db, &token, NEW, false).await;
    assert_eq!(user_msg(result), Msg::ErrorLinkInvalid);
    assert!(can_sign_in(&world, OLD).await);
}

#[tokio::test]
async fn a_reset_signs_nobody_in_and_may_end_every_other_session() {
    let world = world().await;
    let user_id = add_client(&world, EMAIL, OLD).await;
    let config = config();
    let session = sign_in(
        &world.db,
        &config,
        world.observatory_id,
        EMAIL,
        OLD,
        &client(),
    )
    .await
    .unwrap();

    links::request_password_reset(&world.db, &config, world.observatory_id, EMAIL)
        .await
        .unwrap();
    let token = token_from_newest_mail(&world, EMAIL).await;
    links::set_password_with_link(&world.db, &token, NEW, false)
        .await
        .unwrap();
    assert_eq!(world.sessions_of(user_id).await, 1, "kept when asked to");
    assert!(authenticate(&world.db, &config, &session.token)
        .await
        .unwrap()
        .is_some());

    links::request_password_reset(&world.db, &config, world.observatory_id, EMAIL)
        .await
        .unwrap();
    let token = token_from_newest_mail(&world, EMAIL).await;
    links::set_password_with_link(&world.db, &token, "tercera frase bien larga", true)
        .await
        .unwrap();
    assert_eq!(world.sessions_of(user_id).await, 0);
    assert!(authenticate(&world.db, &config, &session.token)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn new_passwords_follow_the_rules() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    ask_for_a_reset(&world).await;
    let token = token_from_newest_mail(&world, EMAIL).await;
    let short = links::set_password_with_link(&world.db, &token, "corta", false).await;
    assert_eq!(user_msg(short), Msg::ErrorPasswordTooShort);
    let common = links::set_password_with_link(&world.db, &token, "Contraseña123", false).await;
    assert_eq!(user_msg(common), Msg::ErrorPasswordCommon);
    // A refused password does not spend the link.
    links::set_password_with_link(&world.db, &token, NEW, false)
        .await
        .unwrap();
}

#[tokio::test]
async fn an_invited_person_chooses_a_password_and_signs_in() {
    let world = world().await;
    create_account(
        &world.db,
        NewAccount {
            observatory_id: world.observatory_id,
            organization_id: None,
            email: "nuevo@obs.example",
            name: "Nuevo Técnico",
            role: Role::Agent,
            language: Lang::Es,
            password: None,
        },
    )
    .await
    .unwrap();
    links::invite(
        &world.db,
        &config(),
        world.observatory_id,
        "nuevo@obs.example",
    )
    .await
    .unwrap();
    let mail = &world.db.mail_to("nuevo@obs.example", 1).await.unwrap()[0];
    assert_eq!(mail.kind, "invitation");
    assert_eq!(
        mail.subject,
        "Observatorio de Pruebas te invita a su portal de soporte"
    );
    assert!(mail.body_text.contains("/invitation?token="));
    assert!(mail.body_text.contains("caduca en 7 días"));

    let token = token_from_newest_mail(&world, "nuevo@obs.example").await;
    let link = links::valid_link(&world.db, &token).await.unwrap().unwrap();
    assert_eq!(
        LinkKind::from_code(&link.purpose),
        Some(LinkKind::Invitation)
    );
    links::set_password_with_link(&world.db, &token, NEW, false)
        .await
        .unwrap();
    sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "nuevo@obs.example",
        NEW,
        &client(),
    )
    .await
    .expect("the invited person signs in with the chosen password");
}

#[tokio::test]
async fn repeated_failures_slow_down_an_address_and_a_network_address() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    let config = config();
    for _ in 0..app::backend::accounts::MAX_FAILURES_PER_ACCOUNT {
        let wrong = sign_in(
            &world.db,
            &config,
            world.observatory_id,
            EMAIL,
            "mal",
            &client(),
        )
        .await;
        assert_eq!(user_msg(wrong), Msg::ErrorInvalidCredentials);
    }
    // Now even the right password waits, and an unknown address answers alike.
    let right = sign_in(
        &world.db,
        &config,
        world.observatory_id,
        EMAIL,
        OLD,
        &client(),
    )
    .await;
    assert_eq!(user_msg(right), Msg::ErrorTooManyAttempts);

    // Another address from another network is not affected.
    add_client(&world, "otra@andromeda.example", OLD).await;
    let elsewhere = ClientInfo {
        user_agent: "tests".into(),
        ip: "192.0.2.7".into(),
    };
    sign_in(
        &world.db,
        &config,
        world.observatory_id,
        "otra@andromeda.example",
        OLD,
        &elsewhere,
    )
    .await
    .expect("other people can still sign in");

    // One network address guessing across many accounts is stopped too.
    let attacker = ClientInfo {
        user_agent: "tests".into(),
        ip: "198.51.100.9".into(),
    };
    for i in 0..app::backend::accounts::MAX_FAILURES_PER_IP {
        let _ = sign_in(
            &world.db,
            &config,
            world.observatory_id,
            &format!("u{i}@x.example"),
            "mal",
            &attacker,
        )
        .await;
    }
    let blocked = sign_in(
        &world.db,
        &config,
        world.observatory_id,
        "otra@andromeda.example",
        OLD,
        &attacker,
    )
    .await;
    assert_eq!(user_msg(blocked), Msg::ErrorTooManyAttempts);
}

#[test]
fn header_values_cannot_carry_line_breaks() {
    assert_eq!(
        header_safe("Obs\r\nBcc: victim@example.org"),
        "Obs  Bcc: victim@example.org"
    );
    assert_eq!(header_safe("Normal — título"), "Normal — título");
}

#[tokio::test]
async fn a_new_notification_address_counts_only_once_its_link_is_used() {
    let world = world().await;
    let user_id = add_client(&world, EMAIL, OLD).await;
    let viewer = signed_in_with_old_password(&world).await;

    let bad = links::request_notification_email(&world.db, &config(), &viewer, "avisos@").await;
    assert_eq!(user_msg(bad), Msg::ErrorEmailInvalid);
    let sent = links::request_notification_email(
        &world.db,
        &config(),
        &viewer,
        "Avisos@Andromeda.example",
    )
    .await
    .unwrap();
    assert!(sent);
    assert_eq!(
        world.db.notification_emails(user_id).await.unwrap(),
        (None, Some("avisos@andromeda.example".to_string())),
        "pending, not yet in effect"
    );
    let mail = &world
        .db
        .mail_to("avisos@andromeda.example", 1)
        .await
        .unwrap()[0];
    assert_eq!(mail.kind, "email_verification");
    assert!(mail.body_text.contains("/confirm-email?token="));
    let link_token = &token_from_newest_mail(&world, "avisos@andromeda.example").await;

    assert_eq!(
        user_msg(links::confirm_notification_email(&world.db, "nonsense").await),
        Msg::ErrorLinkInvalid
    );
    let confirmed = links::confirm_notification_email(&world.db, link_token)
        .await
        .unwrap();
    assert_eq!(confirmed, "avisos@andromeda.example");
    assert_eq!(
        world.db.notification_emails(user_id).await.unwrap(),
        (Some("avisos@andromeda.example".to_string()), None)
    );
    assert_eq!(
        user_msg(links::confirm_notification_email(&world.db, link_token).await),
        Msg::ErrorLinkInvalid,
        "used once"
    );

    // Back to the log-in address, at once.
    assert!(
        !links::request_notification_email(&world.db, &config(), &viewer, "")
            .await
            .unwrap()
    );
    assert_eq!(
        world.db.notification_emails(user_id).await.unwrap(),
        (None, None)
    );
}

#[tokio::test]
async fn an_address_confirmation_link_never_sets_a_password() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    let viewer = signed_in_with_old_password(&world).await;
    links::request_notification_email(&world.db, &config(), &viewer, "atacante@evil.example")
        .await
        .unwrap();
    let confirmation = token_from_newest_mail(&world, "atacante@evil.example").await;
    assert!(links::valid_link(&world.db, &confirmation)
        .await
        .unwrap()
        .is_none());
    let takeover =
        links::set_password_with_link(&world.db, &confirmation, "contraseña del atacante", false)
            .await;
    assert_eq!(user_msg(takeover), Msg::ErrorLinkInvalid);
    assert!(
        can_sign_in(&world, OLD).await,
        "the password did not change"
    );
}

#[tokio::test]
async fn setting_or_changing_a_password_voids_the_other_outstanding_links() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    ask_for_a_reset(&world).await;
    let older = token_from_newest_mail(&world, EMAIL).await;
    // A password change in "My account" voids the reset link someone else may have asked for.
    let viewer = signed_in_with_old_password(&world).await;
    app::backend::my_account::change_password(&world.db, &viewer, &client(), OLD, NEW, false)
        .await
        .unwrap();
    assert!(links::valid_link(&world.db, &older)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn guesses_from_elsewhere_do_not_lock_the_owner_out() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    let config = config();
    let attacker = ClientInfo {
        user_agent: "tests".into(),
        ip: "203.0.113.5".into(),
    };
    for _ in 0..app::backend::accounts::MAX_FAILURES_PER_ACCOUNT {
        let _ = sign_in(
            &world.db,
            &config,
            world.observatory_id,
            EMAIL,
            "mal",
            &attacker,
        )
        .await;
    }
    let attacker_again = sign_in(
        &world.db,
        &config,
        world.observatory_id,
        EMAIL,
        OLD,
        &attacker,
    )
    .await;
    assert_eq!(user_msg(attacker_again), Msg::ErrorTooManyAttempts);
    // The owner, from their own network, still gets in.
    sign_in(
        &world.db,
        &config,
        world.observatory_id,
        EMAIL,
        OLD,
        &client(),
    )
    .await
    .expect("the owner is not locked out by someone else's guesses");
}

#[tokio::test]
async fn one_person_cannot_send_confirmation_mails_to_many_strangers() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    let viewer = signed_in_with_old_password(&world).await;
    for i in 0..LINK_MAILS_PER_HOUR {
        links::request_notification_email(
            &world.db,
            &config(),
            &viewer,
            &format!("extraño{i}@example.org"),
        )
        .await
        .unwrap();
    }
    let more =
        links::request_notification_email(&world.db, &config(), &viewer, "otro@example.org").await;
    assert_eq!(user_msg(more), Msg::ErrorTooManyAttempts);
    assert!(world
        .db
        .mail_to("otro@example.org", 1)
        .await
        .unwrap()
        .is_empty());
}

/// Runs `$body` with `$pool` bound to the test database's pool, whichever the engine.
macro_rules! on_pool {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// Every outbox and link row as the database holds them, each column as text: what a copy of
/// the database would give away.
async fn raw_outbox_and_link_rows(db: &Db) -> Vec<String> {
    let queries = match db.engine() {
        Engine::Postgres => [
            "SELECT outbox::text FROM outbox",
            "SELECT account_tokens::text FROM account_tokens",
        ],
        Engine::Sqlite => [
            "SELECT id || '|' || observatory_id || '|' || to_address || '|' || subject || '|' \
             || body_text || '|' || COALESCE(sealed_body, '') || '|' || kind || '|' \
             || created_at || '|' || COALESCE(sent_at, '') || '|' || attempts || '|' \
             || COALESCE(last_error, '') FROM outbox",
            "SELECT id || '|' || token_hash || '|' || user_id || '|' || purpose || '|' \
             || COALESCE(new_email, '') || '|' || created_at || '|' || expires_at FROM account_tokens",
        ],
    };
    let mut rows = Vec::new();
    for query in queries {
        let found: Vec<String> = on_pool!(db, |pool| sqlx::query_scalar(query)
            .fetch_all(pool)
            .await
            .unwrap());
        rows.extend(found);
    }
    rows
}

#[tokio::test]
async fn a_queued_link_is_not_readable_in_the_database_and_works_once_opened_with_the_key() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    ask_for_a_reset(&world).await;
    let user = world
        .db
        .user_by_email(world.observatory_id, EMAIL)
        .await
        .unwrap()
        .unwrap();
    let viewer = app::backend::accounts::Viewer::of_user(user, None, 0).unwrap();
    links::request_notification_email(&world.db, &config(), &viewer, "avisos@andromeda.example")
        .await
        .unwrap();

    let reset = token_from_newest_mail(&world, EMAIL).await;
    let confirmation = token_from_newest_mail(&world, "avisos@andromeda.example").await;
    let rows = raw_outbox_and_link_rows(&world.db).await;
    assert_eq!(rows.len(), 4, "two mails and two links: {rows:#?}");
    for token in [&reset, &confirmation] {
        assert!(
            rows.iter().all(|row| !row.contains(token.as_str())),
            "a token is readable in {rows:#?}"
        );
    }
    // What the operator reads: the mail with its token redacted.
    let mail = &world.db.mail_to(EMAIL, 1).await.unwrap()[0];
    assert!(
        mail.body_text
            .contains(&format!("/reset-password?token={}", outbox::REDACTED)),
        "{}",
        mail.body_text
    );
    assert!(mail.sealed_body.is_some());

    // Opened with the key, the link is whole and works.
    let body = newest_mail_body(&world.db, EMAIL).await;
    assert!(body.contains(&format!(
        "http://127.0.0.1:3000/reset-password?token={reset}"
    )));
    assert_eq!(body.replace(&reset, outbox::REDACTED), mail.body_text);
    links::set_password_with_link(&world.db, &reset, NEW, false)
        .await
        .unwrap();
    assert!(can_sign_in(&world, NEW).await);
    assert_eq!(
        links::confirm_notification_email(&world.db, &confirmation)
            .await
            .unwrap(),
        "avisos@andromeda.example"
    );
}

#[tokio::test]
async fn another_key_opens_no_link_and_fails_cleanly() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    ask_for_a_reset(&world).await;
    let mail = world.db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    let right = config().secret_key.unwrap();
    assert!(
        outbox::body_to_send(&right, &mail).is_ok(),
        "positive control"
    );
    let wrong = SecretKey::generate();
    assert!(matches!(
        outbox::body_to_send(&wrong, &mail),
        Err(OutboxError::WrongKey)
    ));
    assert!(matches!(
        outbox::mail_to(&world.db, EMAIL, 10, Some(&wrong)).await,
        Err(OutboxError::WrongKey)
    ));
    // Without revealing, the operator's view needs no key at all.
    let redacted = outbox::mail_to(&world.db, EMAIL, 10, None).await.unwrap();
    assert_eq!(redacted[0].body, mail.body_text);
    // A sealed body moved to another address does not open there.
    let moved = OutboxRow {
        to_address: "eva@evil.example".into(),
        ..mail.clone()
    };
    assert!(matches!(
        outbox::body_to_send(&right, &moved),
        Err(OutboxError::WrongKey)
    ));
}

#[tokio::test]
async fn sending_wipes_the_sealed_copy() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    ask_for_a_reset(&world).await;
    let key = config().secret_key.unwrap();
    let queued = world.db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    let body = outbox::body_to_send(&key, &queued).unwrap();
    assert!(body.contains("token="));
    assert!(!body.contains(outbox::REDACTED));

    assert!(outbox::mark_sent(&world.db, queued.id).await.unwrap());
    assert!(
        !outbox::mark_sent(&world.db, queued.id).await.unwrap(),
        "once"
    );
    let sent = world.db.mail_to(EMAIL, 1).await.unwrap().remove(0);
    assert!(sent.sent_at.is_some());
    assert_eq!(sent.sealed_body, None);
    assert_eq!(sent.body_text, queued.body_text, "the redacted text stays");
    assert!(matches!(
        outbox::body_to_send(&key, &sent),
        Err(OutboxError::AlreadySent)
    ));
    // Revealing shows a sent mail as it is kept: redacted.
    let shown = outbox::mail_to(&world.db, EMAIL, 1, Some(&key))
        .await
        .unwrap();
    assert_eq!(shown[0].body, queued.body_text);
    assert!(shown[0].sent_at.is_some());
}

#[tokio::test]
async fn without_a_secret_key_no_link_is_queued() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    let mut keyless = config();
    keyless.secret_key = None;
    let refused =
        links::request_password_reset(&world.db, &keyless, world.observatory_id, EMAIL).await;
    assert_eq!(user_msg(refused), Msg::ErrorInternal);
    assert!(world.db.mail_to(EMAIL, 10).await.unwrap().is_empty());
    ask_for_a_reset(&world).await;
    assert_eq!(world.db.mail_to(EMAIL, 10).await.unwrap().len(), 1);
}

/// The migration that seals links, as a portal upgraded from before it meets it.
const LINKS_AT_REST_MIGRATION: i64 = 20261201000003;

#[tokio::test]
async fn links_queued_before_the_upgrade_lose_their_token_and_stop_working() {
    let test_db = unmigrated_database().await.unwrap();
    let db = test_db.db.clone();
    migrate_before(&db, LINKS_AT_REST_MIGRATION).await.unwrap();
    let observatory_id = insert_test_observatory(&db).await;
    let user_id = create_account(
        &db,
        NewAccount {
            observatory_id,
            organization_id: None,
            email: EMAIL,
            name: "Ana",
            role: Role::Agent,
            language: Lang::Es,
            password: Some(OLD),
        },
    )
    .await
    .unwrap();
    let token = tokens::random_token();
    let now = Utc::now();
    let body = format!("Hola:\n\nhttp://127.0.0.1:3000/reset-password?token={token}\n\nAdiós.\n");
    on_pool!(&db, |pool| {
        sqlx::query(
            "INSERT INTO account_tokens (token_hash, user_id, purpose, created_at, expires_at) \
             VALUES ($1, $2, 'password_reset', $3, $4)",
        )
        .bind(tokens::hash_token(&token))
        .bind(user_id)
        .bind(now)
        .bind(now + links::RESET_VALIDITY)
        .execute(pool)
        .await
        .unwrap();
        sqlx::query(
            "INSERT INTO outbox (observatory_id, to_address, subject, body_text, kind, created_at) \
             VALUES ($1, $2, 'Asunto', $3, 'password_reset', $4)",
        )
        .bind(observatory_id)
        .bind(EMAIL)
        .bind(&body)
        .bind(now)
        .execute(pool)
        .await
        .unwrap();
    });
    assert!(
        links::valid_link(&db, &token).await.unwrap().is_some(),
        "the old link worked before the upgrade"
    );

    db.migrate().await.unwrap();
    let rows = raw_outbox_and_link_rows(&db).await;
    assert!(rows.iter().all(|row| !row.contains(&token)), "{rows:#?}");
    let mail = &db.mail_to(EMAIL, 1).await.unwrap()[0];
    assert_eq!(
        mail.body_text,
        "Hola:\n\nhttp://127.0.0.1:3000/reset-password?token=[redacted]\n\nAdiós.\n"
    );
    assert!(
        links::valid_link(&db, &token).await.unwrap().is_none(),
        "nor does a copy of the database from before the upgrade hold a usable link"
    );
}

/// A link opened several times at once (a double click, a mail scanner and the person) works
/// exactly once; every other opening is told the link no longer works, none fails: on SQLite
/// the transaction that reads the link and then uses it holds the write lock from its start.
#[tokio::test]
async fn a_link_opened_several_times_at_once_works_exactly_once() {
    const AT_ONCE: usize = 8;
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    let viewer = signed_in_with_old_password(&world).await;
    assert!(links::request_notification_email(
        &world.db,
        &config(),
        &viewer,
        "avisos@andromeda.example"
    )
    .await
    .unwrap());
    let token = token_from_newest_mail(&world, "avisos@andromeda.example").await;
    let mut openings = tokio::task::JoinSet::new();
    for _ in 0..AT_ONCE {
        let (db, token) = (world.db.clone(), token.clone());
        openings.spawn(async move { links::confirm_notification_email(&db, &token).await });
    }
    let outcomes = openings.join_all().await;
    let worked = outcomes.iter().filter(|outcome| outcome.is_ok()).count();
    assert_eq!(worked, 1, "{outcomes:?}");
    for outcome in outcomes.into_iter().filter(|outcome| outcome.is_err()) {
        assert_eq!(user_msg(outcome), Msg::ErrorLinkInvalid);
    }
}
