//! Administration rules on a real database: who may administer, and that one observatory's
//! admins cannot reach another observatory's people or organizations.

mod common;

use app::backend::accounts::sign_in;
use app::backend::admin::{self, Invitation};
use app::backend::links;
use app::backend::storage::accounts::{NewObservatory, NewTelescope};
use app::backend::storage::admin::TelescopeFields;
use app::i18n::{Lang, Msg};
use app::model::{AccountState, BrandingSettings, ContactEntry, Role};
use common::{client, config, person, user_msg, world, PASSWORD};

fn invitation(email: &str, role: Role, organization_id: Option<i64>) -> Invitation<'_> {
    Invitation {
        name: "Persona Invitada",
        email,
        role,
        organization_id,
        language: Lang::En,
    }
}

#[tokio::test]
async fn only_admins_administer_and_others_are_told_nothing_exists() {
    let world = world().await;
    let agent = person(
        &world.db,
        world.observatory_id,
        None,
        "agente@obs.example",
        Role::Agent,
    )
    .await;
    let client_user = person(
        &world.db,
        world.observatory_id,
        Some(world.organization_id),
        "cli@club.example",
        Role::Client,
    )
    .await;
    for viewer in [&agent, &client_user] {
        assert_eq!(
            user_msg(admin::organizations(&world.db, viewer).await),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(admin::people(&world.db, viewer).await),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(admin::create_organization(&world.db, viewer, "X").await),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(
                admin::invite(
                    &world.db,
                    &config(),
                    viewer,
                    invitation("x@y.example", Role::Agent, None)
                )
                .await
            ),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(admin::set_active(&world.db, viewer, agent.user_id, false).await),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(admin::resend_invitation(&world.db, &config(), viewer, agent.user_id).await),
            Msg::ErrorNotFound
        );
    }
}

#[tokio::test]
async fn an_admin_invites_a_client_who_joins_with_the_link() {
    let world = world().await;
    let boss = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;
    admin::invite(
        &world.db,
        &config(),
        &boss,
        invitation(
            "nueva@club.example",
            Role::Client,
            Some(world.organization_id),
        ),
    )
    .await
    .unwrap();
    let people = admin::people(&world.db, &boss).await.unwrap();
    let invited = people
        .iter()
        .find(|p| p.email == "nueva@club.example")
        .unwrap();
    assert_eq!(invited.state, AccountState::Invited);
    assert_eq!(invited.organization.as_deref(), Some("Club Andrómeda"));

    let mail = &world.db.mail_to("nueva@club.example", 1).await.unwrap()[0];
    assert_eq!(mail.kind, "invitation");
    assert!(
        mail.subject.contains("invites you"),
        "in the invitee's language: {}",
        mail.subject
    );
    let token = &mail.body_text[mail.body_text.find("token=").unwrap() + 6..][..64];
    links::set_password_with_link(&world.db, token, PASSWORD, false)
        .await
        .unwrap();
    sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "nueva@club.example",
        PASSWORD,
        &client(),
    )
    .await
    .unwrap();
    let people = admin::people(&world.db, &boss).await.unwrap();
    assert_eq!(
        people
            .iter()
            .find(|p| p.email == "nueva@club.example")
            .unwrap()
            .state,
        AccountState::Active
    );
}

#[tokio::test]
async fn invitations_can_be_resent_and_withdrawn() {
    let world = world().await;
    let boss = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;
    admin::invite(
        &world.db,
        &config(),
        &boss,
        invitation("tec@obs.example", Role::Agent, None),
    )
    .await
    .unwrap();
    let id = admin::people(&world.db, &boss)
        .await
        .unwrap()
        .iter()
        .find(|p| p.email == "tec@obs.example")
        .unwrap()
        .id;
    let first = world.db.mail_to("tec@obs.example", 1).await.unwrap()[0]
        .body_text
        .clone();
    admin::resend_invitation(&world.db, &config(), &boss, id)
        .await
        .unwrap();
    let second = world.db.mail_to("tec@obs.example", 1).await.unwrap()[0]
        .body_text
        .clone();
    let token_of = |body: &str| body[body.find("token=").unwrap() + 6..][..64].to_string();
    assert!(
        links::valid_link(&world.db, &token_of(&first))
            .await
            .unwrap()
            .is_none(),
        "replaced"
    );
    assert!(links::valid_link(&world.db, &token_of(&second))
        .await
        .unwrap()
        .is_some());

    admin::revoke_invitation(&world.db, &boss, id)
        .await
        .unwrap();
    assert!(
        links::valid_link(&world.db, &token_of(&second))
            .await
            .unwrap()
            .is_none(),
        "withdrawn"
    );
    // Withdrawn means out: "forgot password" cannot open the account either.
    let people = admin::people(&world.db, &boss).await.unwrap();
    assert_eq!(
        people.iter().find(|p| p.id == id).unwrap().state,
        AccountState::Deactivated
    );
    links::request_password_reset(
        &world.db,
        &config(),
        world.observatory_id,
        "tec@obs.example",
    )
    .await
    .unwrap();
    assert_eq!(
        world.db.mail_to("tec@obs.example", 10).await.unwrap().len(),
        2,
        "no reset link was sent"
    );
    // Someone who already joined has nothing to resend.
    assert_eq!(
        user_msg(admin::resend_invitation(&world.db, &config(), &boss, boss.user_id).await),
        Msg::ErrorAlreadyJoined
    );
}

#[tokio::test]
async fn deactivating_someone_ends_their_sessions_at_once() {
    let world = world().await;
    let boss = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;
    let client_user = person(
        &world.db,
        world.observatory_id,
        Some(world.organization_id),
        "cli@club.example",
        Role::Client,
    )
    .await;
    assert_eq!(
        world
            .db
            .count_sessions_of_user(client_user.user_id)
            .await
            .unwrap(),
        1
    );
    admin::set_active(&world.db, &boss, client_user.user_id, false)
        .await
        .unwrap();
    assert_eq!(
        world
            .db
            .count_sessions_of_user(client_user.user_id)
            .await
            .unwrap(),
        0
    );
    let again = sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "cli@club.example",
        PASSWORD,
        &client(),
    )
    .await;
    assert_eq!(user_msg(again), Msg::ErrorAccountInactive);

    admin::set_active(&world.db, &boss, client_user.user_id, true)
        .await
        .unwrap();
    sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "cli@club.example",
        PASSWORD,
        &client(),
    )
    .await
    .unwrap();
    assert_eq!(
        user_msg(admin::set_active(&world.db, &boss, boss.user_id, false).await),
        Msg::ErrorCannotDeactivateSelf
    );
}

#[tokio::test]
async fn organizations_need_a_name_unique_in_the_observatory() {
    let world = world().await;
    let boss = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;
    assert_eq!(
        user_msg(admin::create_organization(&world.db, &boss, "  ").await),
        Msg::ErrorNameRequired
    );
    assert_eq!(
        user_msg(admin::create_organization(&world.db, &boss, "Club Andrómeda").await),
        Msg::ErrorOrganizationTaken
    );
    admin::create_organization(&world.db, &boss, "Grupo Casiopea")
        .await
        .unwrap();
    let names: Vec<String> = admin::organizations(&world.db, &boss)
        .await
        .unwrap()
        .into_iter()
        .map(|o| o.name)
        .collect();
    assert_eq!(names, ["Club Andrómeda", "Grupo Casiopea"]);
}

#[tokio::test]
async fn one_observatorys_admin_cannot_reach_another_observatory() {
    let world = world().await;
    let boss_a = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;

    let observatory_b = world
        .db
        .insert_observatory(NewObservatory {
            slug: "b",
            name: "Observatorio B",
            ticket_prefix: "OBB",
        })
        .await
        .unwrap();
    let organization_b = world
        .db
        .insert_organization(observatory_b, "Cliente de B")
        .await
        .unwrap();
    let client_b = person(
        &world.db,
        observatory_b,
        Some(organization_b),
        "cli@b.example",
        Role::Client,
    )
    .await;

    // B's people and organizations are invisible to A's admin…
    assert!(admin::people(&world.db, &boss_a)
        .await
        .unwrap()
        .iter()
        .all(|p| p.id != client_b.user_id));
    assert!(admin::organizations(&world.db, &boss_a)
        .await
        .unwrap()
        .iter()
        .all(|o| o.id != organization_b));
    // …and B's ids act as if they did not exist.
    assert_eq!(
        user_msg(admin::set_active(&world.db, &boss_a, client_b.user_id, false).await),
        Msg::ErrorNotFound
    );
    assert_eq!(
        user_msg(admin::resend_invitation(&world.db, &config(), &boss_a, client_b.user_id).await),
        Msg::ErrorNotFound
    );
    assert_eq!(
        user_msg(admin::revoke_invitation(&world.db, &boss_a, client_b.user_id).await),
        Msg::ErrorNotFound
    );
    // An organization id of B in A's invitation form is refused, not used.
    let smuggled = admin::invite(
        &world.db,
        &config(),
        &boss_a,
        invitation("colado@a.example", Role::Client, Some(organization_b)),
    )
    .await;
    assert_eq!(user_msg(smuggled), Msg::ErrorOrganizationRequired);
    assert!(world
        .db
        .user_by_email(world.observatory_id, "colado@a.example")
        .await
        .unwrap()
        .is_none());
    // Nothing of B was touched: its client is still signed in.
    assert_eq!(
        world
            .db
            .count_sessions_of_user(client_b.user_id)
            .await
            .unwrap(),
        1
    );
}

fn scope<'a>(name: &'a str, location: &'a str) -> TelescopeFields<'a> {
    TelescopeFields {
        name,
        model: "Planewave CDK24",
        location,
        notes: "",
    }
}

#[tokio::test]
async fn telescopes_are_added_edited_retired_and_reinstated() {
    let world = world().await;
    let boss = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;
    let org = world.organization_id;
    assert_eq!(
        user_msg(admin::add_telescope(&world.db, &boss, org, scope("  ", "")).await),
        Msg::ErrorNameRequired
    );
    let long = "x".repeat(201);
    assert_eq!(
        user_msg(admin::add_telescope(&world.db, &boss, org, scope(&long, "")).await),
        Msg::ErrorTextTooLong
    );
    admin::add_telescope(&world.db, &boss, org, scope(" Vega ", "Cúpula 1"))
        .await
        .unwrap();
    let detail = admin::organization(&world.db, &boss, org).await.unwrap();
    assert_eq!(detail.telescopes.len(), 1);
    let vega = &detail.telescopes[0];
    assert_eq!(
        (vega.name.as_str(), vega.location.as_str(), vega.retired),
        ("Vega", "Cúpula 1", false)
    );

    admin::update_telescope(&world.db, &boss, vega.id, scope("Vega II", "Cúpula 2"))
        .await
        .unwrap();
    admin::set_telescope_retired(&world.db, &boss, vega.id, true)
        .await
        .unwrap();
    let detail = admin::organization(&world.db, &boss, org).await.unwrap();
    assert_eq!(detail.telescopes[0].name, "Vega II");
    assert!(detail.telescopes[0].retired);
    assert_eq!(
        detail.organization.telescopes, 0,
        "retired telescopes are not counted"
    );
    admin::set_telescope_retired(&world.db, &boss, vega.id, false)
        .await
        .unwrap();
    assert!(
        !admin::organization(&world.db, &boss, org)
            .await
            .unwrap()
            .telescopes[0]
            .retired
    );
}

#[tokio::test]
async fn deactivating_an_organization_shuts_its_people_out_until_reactivated() {
    let world = world().await;
    let boss = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;
    let member = person(
        &world.db,
        world.observatory_id,
        Some(world.organization_id),
        "cli@club.example",
        Role::Client,
    )
    .await;
    admin::update_organization(
        &world.db,
        &boss,
        world.organization_id,
        "Club Andrómeda",
        false,
    )
    .await
    .unwrap();
    assert_eq!(
        world
            .db
            .count_sessions_of_user(member.user_id)
            .await
            .unwrap(),
        0
    );
    let refused = sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "cli@club.example",
        PASSWORD,
        &client(),
    )
    .await;
    assert_eq!(user_msg(refused), Msg::ErrorAccountInactive);

    admin::update_organization(
        &world.db,
        &boss,
        world.organization_id,
        "Club Andrómeda Norte",
        true,
    )
    .await
    .unwrap();
    sign_in(
        &world.db,
        &config(),
        world.observatory_id,
        "cli@club.example",
        PASSWORD,
        &client(),
    )
    .await
    .unwrap();
    let detail = admin::organization(&world.db, &boss, world.organization_id)
        .await
        .unwrap();
    assert_eq!(detail.organization.name, "Club Andrómeda Norte");
    assert_eq!(detail.people.len(), 1);
}

#[tokio::test]
async fn another_observatorys_organizations_and_telescopes_are_not_found() {
    let world = world().await;
    let boss_a = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;
    let observatory_b = world
        .db
        .insert_observatory(NewObservatory {
            slug: "b",
            name: "Observatorio B",
            ticket_prefix: "OBB",
        })
        .await
        .unwrap();
    let organization_b = world
        .db
        .insert_organization(observatory_b, "Cliente de B")
        .await
        .unwrap();
    let telescope_b = world
        .db
        .insert_telescope(NewTelescope {
            observatory_id: observatory_b,
            organization_id: organization_b,
            name: "Telescopio de B",
            model: "",
            location: "",
            notes: "",
        })
        .await
        .unwrap();
    assert_eq!(
        user_msg(admin::organization(&world.db, &boss_a, organization_b).await),
        Msg::ErrorNotFound
    );
    assert_eq!(
        user_msg(
            admin::update_organization(&world.db, &boss_a, organization_b, "Mía", false).await
        ),
        Msg::ErrorNotFound
    );
    assert_eq!(
        user_msg(
            admin::add_telescope(&world.db, &boss_a, organization_b, scope("Intruso", "")).await
        ),
        Msg::ErrorNotFound
    );
    assert_eq!(
        user_msg(admin::update_telescope(&world.db, &boss_a, telescope_b, scope("Mío", "")).await),
        Msg::ErrorNotFound
    );
    assert_eq!(
        user_msg(admin::set_telescope_retired(&world.db, &boss_a, telescope_b, true).await),
        Msg::ErrorNotFound
    );
    assert_eq!(
        world.db.telescope_names(organization_b).await.unwrap(),
        ["Telescopio de B"]
    );
}

#[tokio::test]
async fn support_contacts_are_members_or_valid_addresses_and_an_invalid_one_saves_nothing() {
    let world = world().await;
    let boss = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;
    let member = person(
        &world.db,
        world.observatory_id,
        Some(world.organization_id),
        "cli@club.example",
        Role::Client,
    )
    .await;
    let org = world.organization_id;
    admin::save_support_contacts(
        &world.db,
        &boss,
        org,
        &[
            ContactEntry::User(member.user_id),
            ContactEntry::Email(" Guardia@Club.example ".into()),
            ContactEntry::Email("guardia@club.example".into()),
        ],
    )
    .await
    .unwrap();
    let contacts = admin::organization(&world.db, &boss, org)
        .await
        .unwrap()
        .support_contacts;
    let emails: Vec<&str> = contacts.iter().map(|c| c.email.as_str()).collect();
    assert_eq!(
        emails,
        ["cli@club.example", "guardia@club.example"],
        "deduplicated, lower-cased"
    );
    assert_eq!(contacts[0].name.as_deref(), Some("cli"));

    let refused = admin::save_support_contacts(
        &world.db,
        &boss,
        org,
        &[
            ContactEntry::Email("nueva@club.example".into()),
            ContactEntry::Email("no es un correo".into()),
        ],
    )
    .await;
    assert_eq!(user_msg(refused), Msg::ErrorInvalidContactEmail);
    let after = admin::organization(&world.db, &boss, org)
        .await
        .unwrap()
        .support_contacts;
    assert_eq!(after, contacts, "nothing was saved");

    // A user of another organization cannot be made a contact.
    let other_org = world
        .db
        .insert_organization(world.observatory_id, "Otro club")
        .await
        .unwrap();
    let outsider = person(
        &world.db,
        world.observatory_id,
        Some(other_org),
        "fuera@otro.example",
        Role::Client,
    )
    .await;
    let smuggled = admin::save_support_contacts(
        &world.db,
        &boss,
        org,
        &[ContactEntry::User(outsider.user_id)],
    )
    .await;
    assert_eq!(user_msg(smuggled), Msg::ErrorNotFound);
}

#[test]
fn contact_entries_round_trip_through_the_form() {
    for entry in [
        ContactEntry::User(42),
        ContactEntry::Email("ana@club.example".into()),
    ] {
        assert_eq!(ContactEntry::decode(&entry.encode()), Some(entry));
    }
    assert_eq!(ContactEntry::decode("user:x"), None);
    assert_eq!(ContactEntry::decode("group:1"), None);
}

#[tokio::test]
async fn branding_is_checked_before_it_is_saved() {
    let world = world().await;
    let boss = person(
        &world.db,
        world.observatory_id,
        None,
        "jefa@obs.example",
        Role::Admin,
    )
    .await;
    let agent = person(
        &world.db,
        world.observatory_id,
        None,
        "agente@obs.example",
        Role::Agent,
    )
    .await;
    let good = BrandingSettings {
        name: " Observatorio del Teide ".into(),
        slug: "teide".into(),
        email_sender_name: "Soporte del Teide".into(),
        primary_color: "#14532D".into(),
        accent_color: "#9a3412".into(),
    };
    assert_eq!(
        user_msg(admin::update_branding(&world.db, &agent, &good).await),
        Msg::ErrorNotFound
    );

    let with = |change: fn(&mut BrandingSettings)| {
        let mut settings = good.clone();
        change(&mut settings);
        settings
    };
    for (settings, expected) in [
        (
            with(|s| s.primary_color = "#ffeb3b".into()),
            Msg::ErrorPrimaryUnreadable,
        ),
        (
            with(|s| s.accent_color = "#7dd3fc".into()),
            Msg::ErrorAccentUnreadable,
        ),
        (
            with(|s| s.primary_color = "red; }".into()),
            Msg::ErrorPrimaryUnreadable,
        ),
        (
            with(|s| s.slug = "Teide Norte".into()),
            Msg::ErrorSlugInvalid,
        ),
        (with(|s| s.slug = "-teide".into()), Msg::ErrorSlugInvalid),
        (with(|s| s.name = " ".into()), Msg::ErrorNameRequired),
    ] {
        assert_eq!(
            user_msg(admin::update_branding(&world.db, &boss, &settings).await),
            expected
        );
    }
    assert_eq!(
        admin::branding(&world.db, &boss).await.unwrap().name,
        "Observatorio de Pruebas",
        "nothing saved"
    );

    admin::update_branding(
        &world.db,
        &boss,
        &with(|s| s.email_sender_name = "Soporte\r\nBcc: x@y.z".into()),
    )
    .await
    .unwrap();
    let saved = admin::branding(&world.db, &boss).await.unwrap();
    assert_eq!(saved.name, "Observatorio del Teide");
    assert_eq!(saved.primary_color, "#14532d");
    assert_eq!(
        saved.email_sender_name, "Soporte  Bcc: x@y.z",
        "no line breaks reach a header"
    );

    world
        .db
        .insert_observatory(NewObservatory {
            slug: "roque",
            name: "Roque",
            ticket_prefix: "ROQ",
        })
        .await
        .unwrap();
    let taken = admin::update_branding(&world.db, &boss, &with(|s| s.slug = "roque".into())).await;
    assert_eq!(user_msg(taken), Msg::ErrorSlugTaken);
}
