//! Password resets, invitations, the outbox and sign-in throttling, on a real database.

mod common;

use app::backend::accounts::{authenticate, create_account, sign_in, ClientInfo, NewAccount};
use app::backend::links::{self, header_safe, LINK_MAILS_PER_HOUR};
use app::backend::storage::links::NewMail;
use app::backend::tokens;
use app::i18n::{Lang, Msg};
use app::model::{LinkKind, Role};
use chrono::{Duration, Utc};
use common::{add_client, client, config, user_msg, world, World};

const EMAIL: &str = "ana@andromeda.example";
const OLD: &str = "estrellas fugaces";
const NEW: &str = "nebulosa del cangrejo";

/// The token of the newest link e-mailed to `to`, read from the queued message as a person would.
async fn token_from_newest_mail(world: &World, to: &str) -> String {
    let mails = world.db.mail_to(to, 1).await.unwrap();
    let body = &mails.first().expect("a queued e-mail").body_text;
    let start = body.find("token=").expect("a link in the e-mail") + "token=".len();
    body[start..start + 64].to_string()
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
    links::request_password_reset(&world.db, &config(), world.observatory_id, EMAIL)
        .await
        .unwrap();
    let first = token_from_newest_mail(&world, EMAIL).await;
    links::request_password_reset(&world.db, &config(), world.observatory_id, EMAIL)
        .await
        .unwrap();
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
        links::request_password_reset(&world.db, &config(), world.observatory_id, EMAIL)
            .await
            .unwrap();
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
    world
        .db
        .insert_link_with_mail(
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
                kind: "password_reset",
            },
        )
        .await
        .unwrap();
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
    assert_eq!(
        world.db.count_sessions_of_user(user_id).await.unwrap(),
        1,
        "kept when asked to"
    );
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
    assert_eq!(world.db.count_sessions_of_user(user_id).await.unwrap(), 0);
    assert!(authenticate(&world.db, &config, &session.token)
        .await
        .unwrap()
        .is_none());
}

#[tokio::test]
async fn new_passwords_follow_the_rules() {
    let world = world().await;
    add_client(&world, EMAIL, OLD).await;
    links::request_password_reset(&world.db, &config(), world.observatory_id, EMAIL)
        .await
        .unwrap();
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
    let viewer = authenticate(&world.db, &config(), &token)
        .await
        .unwrap()
        .unwrap();

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
    let link_token = &mail.body_text[mail.body_text.find("token=").unwrap() + 6..][..64];

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
    let viewer = authenticate(&world.db, &config(), &token)
        .await
        .unwrap()
        .unwrap();
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
    links::request_password_reset(&world.db, &config(), world.observatory_id, EMAIL)
        .await
        .unwrap();
    let older = token_from_newest_mail(&world, EMAIL).await;
    // A password change in "My account" voids the reset link someone else may have asked for.
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
    let viewer = authenticate(&world.db, &config(), &token)
        .await
        .unwrap()
        .unwrap();
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
    let viewer = authenticate(&world.db, &config(), &token)
        .await
        .unwrap()
        .unwrap();
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
