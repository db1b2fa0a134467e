//! Administration rules on a real database: who may administer, and that one observatory's
//! admins cannot reach another observatory's people or organizations.

use crate::common;

use app::backend::accounts::{create_account, NewAccount, Viewer};
use app::backend::admin::{self, Invitation};
use app::backend::links;
use app::backend::logo;
use app::backend::storage::accounts::{NewObservatory, NewTelescope};
use app::backend::storage::admin::TelescopeFields;
use app::backend::storage::links::OutboxFilter;
use app::i18n::{Lang, Msg};
use app::model::{AccountState, ApiKeyValidity, BrandingSettings, ContactEntry, MailState, Role};
use common::{config, link_token, newest_mail_body, person, user_msg, world, PASSWORD};

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
    let agent = world.agent("agente@obs.example").await;
    let client_user = world.client("cli@club.example").await;
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
    // Nothing of what they tried was done…
    let boss = world.admin("jefa@obs.example").await;
    assert!(!admin::organizations(&world.db, &boss)
        .await
        .unwrap()
        .iter()
        .any(|o| o.name == "X"));
    assert!(!admin::people(&world.db, &boss)
        .await
        .unwrap()
        .iter()
        .any(|p| p.email == "x@y.example"));
    // …and positive controls: the same calls by an admin find and do it all.
    assert!(admin::organizations(&world.db, &boss)
        .await
        .unwrap()
        .iter()
        .any(|o| o.id == world.organization_id));
    assert!(admin::people(&world.db, &boss)
        .await
        .unwrap()
        .iter()
        .any(|p| p.id == agent.user_id));
    admin::create_organization(&world.db, &boss, "X")
        .await
        .unwrap();
    admin::invite(
        &world.db,
        &config(),
        &boss,
        invitation("x@y.example", Role::Agent, None),
    )
    .await
    .unwrap();
    // The agent is found, but has already joined: nothing to resend.
    assert_eq!(
        user_msg(admin::resend_invitation(&world.db, &config(), &boss, agent.user_id).await),
        Msg::ErrorAlreadyJoined
    );
    admin::set_active(&world.db, &boss, agent.user_id, false)
        .await
        .unwrap();
}

/// The account, its link and its e-mail commit together: an invitation whose link cannot be
/// sent leaves no account behind, so trying again is not "already used".
#[tokio::test]
async fn a_refused_invitation_leaves_no_account_and_trying_again_invites() {
    const NEW: &str = "nueva@club.example";
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
    let mut keyless = config();
    keyless.secret_key = None;
    let refused = admin::invite(
        &world.db,
        &keyless,
        &boss,
        invitation(NEW, Role::Client, Some(world.organization_id)),
    )
    .await;
    assert_eq!(user_msg(refused), Msg::ErrorInternal);
    let people = admin::people(&world.db, &boss).await.unwrap();
    assert!(!people.iter().any(|p| p.email == NEW), "{people:?}");
    assert!(world.db.mail_to(NEW, 10).await.unwrap().is_empty());

    admin::invite(
        &world.db,
        &config(),
        &boss,
        invitation(NEW, Role::Client, Some(world.organization_id)),
    )
    .await
    .unwrap();
    let people = admin::people(&world.db, &boss).await.unwrap();
    let invited = people.iter().find(|p| p.email == NEW).unwrap();
    assert_eq!(invited.state, AccountState::Invited);
    assert_eq!(world.db.mail_to(NEW, 10).await.unwrap().len(), 1);
}

#[tokio::test]
async fn an_admin_invites_a_client_who_joins_with_the_link() {
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
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
    let token = link_token(&newest_mail_body(&world.db, "nueva@club.example").await);
    links::set_password_with_link(&world.db, &token, PASSWORD, false)
        .await
        .unwrap();
    world.sign_in("nueva@club.example").await.unwrap();
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
    let boss = world.admin("jefa@obs.example").await;
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
    let first = newest_mail_body(&world.db, "tec@obs.example").await;
    admin::resend_invitation(&world.db, &config(), &boss, id)
        .await
        .unwrap();
    let second = newest_mail_body(&world.db, "tec@obs.example").await;
    assert!(
        links::valid_link(&world.db, &link_token(&first))
            .await
            .unwrap()
            .is_none(),
        "replaced"
    );
    assert!(links::valid_link(&world.db, &link_token(&second))
        .await
        .unwrap()
        .is_some());

    admin::revoke_invitation(&world.db, &boss, id)
        .await
        .unwrap();
    assert!(
        links::valid_link(&world.db, &link_token(&second))
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
    let boss = world.admin("jefa@obs.example").await;
    let client_user = world.client("cli@club.example").await;
    assert_eq!(world.sessions_of(client_user.user_id).await, 1);
    admin::set_active(&world.db, &boss, client_user.user_id, false)
        .await
        .unwrap();
    assert_eq!(world.sessions_of(client_user.user_id).await, 0);
    let again = world.sign_in("cli@club.example").await;
    assert_eq!(user_msg(again), Msg::ErrorAccountInactive);

    admin::set_active(&world.db, &boss, client_user.user_id, true)
        .await
        .unwrap();
    world.sign_in("cli@club.example").await.unwrap();
    assert_eq!(
        user_msg(admin::set_active(&world.db, &boss, boss.user_id, false).await),
        Msg::ErrorCannotDeactivateSelf
    );
}

#[tokio::test]
async fn organizations_need_a_name_unique_in_the_observatory() {
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
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

/// A second observatory, B, with a client organization and an admin of its own: the owner
/// whose same calls are the positive controls of the cross-observatory checks.
struct ObservatoryB {
    id: i64,
    organization: i64,
    admin: Viewer,
}

async fn observatory_b(world: &common::World) -> ObservatoryB {
    let id = world
        .db
        .insert_observatory(NewObservatory {
            slug: "b",
            name: "Observatorio B",
            ticket_prefix: "OBB",
        })
        .await
        .unwrap();
    let organization = world
        .db
        .insert_organization(id, "Cliente de B")
        .await
        .unwrap();
    let admin = person(&world.db, id, None, "jefa@b.example", Role::Admin).await;
    ObservatoryB {
        id,
        organization,
        admin,
    }
}

#[tokio::test]
async fn one_observatorys_admin_cannot_reach_another_observatory() {
    let world = world().await;
    let boss_a = world.admin("jefa@obs.example").await;

    let b = observatory_b(&world).await;
    let client_b = person(
        &world.db,
        b.id,
        Some(b.organization),
        "cli@b.example",
        Role::Client,
    )
    .await;
    // And someone of B who has not joined yet (no password), for the calls that apply to
    // them only. (B is not the portal's observatory, so no link e-mail can be sent for it.)
    let invited_b = create_account(
        &world.db,
        NewAccount {
            observatory_id: b.id,
            organization_id: Some(b.organization),
            email: "invitada@b.example",
            name: "Invitada de B",
            role: Role::Client,
            language: Lang::Es,
            password: None,
        },
    )
    .await
    .unwrap();
    let people_of_b = admin::people(&world.db, &b.admin).await.unwrap();
    // Positive control: B's admin lists B's people and organization.
    assert!(people_of_b.iter().any(|p| p.id == client_b.user_id));
    assert!(admin::organizations(&world.db, &b.admin)
        .await
        .unwrap()
        .iter()
        .any(|o| o.id == b.organization));

    // B's people and organizations are invisible to A's admin (whose lists are not empty)…
    let people_of_a = admin::people(&world.db, &boss_a).await.unwrap();
    assert!(people_of_a.iter().any(|p| p.id == boss_a.user_id));
    assert!(people_of_a
        .iter()
        .all(|p| p.id != client_b.user_id && p.id != invited_b));
    let organizations_of_a = admin::organizations(&world.db, &boss_a).await.unwrap();
    assert!(organizations_of_a
        .iter()
        .any(|o| o.id == world.organization_id));
    assert!(organizations_of_a.iter().all(|o| o.id != b.organization));
    // …and B's ids act as if they did not exist.
    assert_eq!(
        user_msg(admin::set_active(&world.db, &boss_a, client_b.user_id, false).await),
        Msg::ErrorNotFound
    );
    for id in [client_b.user_id, invited_b] {
        assert_eq!(
            user_msg(admin::resend_invitation(&world.db, &config(), &boss_a, id).await),
            Msg::ErrorNotFound
        );
        assert_eq!(
            user_msg(admin::revoke_invitation(&world.db, &boss_a, id).await),
            Msg::ErrorNotFound
        );
    }
    // An organization id of B in A's invitation form is refused, not used.
    let smuggled = admin::invite(
        &world.db,
        &config(),
        &boss_a,
        invitation("colado@a.example", Role::Client, Some(b.organization)),
    )
    .await;
    assert_eq!(user_msg(smuggled), Msg::ErrorOrganizationRequired);
    for observatory in [world.observatory_id, b.id] {
        assert!(world
            .db
            .user_by_email(observatory, "colado@a.example")
            .await
            .unwrap()
            .is_none());
    }
    // Nothing of B was touched: its client is still signed in, its invitation still pending.
    assert_eq!(world.sessions_of(client_b.user_id).await, 1);
    let state_in_b = |id: i64| {
        let (db, admin_b) = (&world.db, &b.admin);
        async move {
            admin::people(db, admin_b)
                .await
                .unwrap()
                .into_iter()
                .find(|p| p.id == id)
                .unwrap()
                .state
        }
    };
    assert_eq!(state_in_b(invited_b).await, AccountState::Invited);

    // Positive controls: B's admin makes the same calls on the same ids, and reaches them.
    assert_eq!(
        user_msg(admin::resend_invitation(&world.db, &config(), &b.admin, client_b.user_id).await),
        Msg::ErrorAlreadyJoined,
        "found, and already joined"
    );
    assert_eq!(
        user_msg(admin::revoke_invitation(&world.db, &b.admin, client_b.user_id).await),
        Msg::ErrorAlreadyJoined,
        "found, and already joined"
    );
    admin::revoke_invitation(&world.db, &b.admin, invited_b)
        .await
        .unwrap();
    assert_eq!(state_in_b(invited_b).await, AccountState::Deactivated);
    // The invitation form itself is fine: with A's own organization, A's admin invites.
    admin::invite(
        &world.db,
        &config(),
        &boss_a,
        invitation(
            "colado@a.example",
            Role::Client,
            Some(world.organization_id),
        ),
    )
    .await
    .unwrap();
    admin::set_active(&world.db, &b.admin, client_b.user_id, false)
        .await
        .unwrap();
    assert_eq!(world.sessions_of(client_b.user_id).await, 0);
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
    let boss = world.admin("jefa@obs.example").await;
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

/// Saves the world's organization with `name` and `active`, as its administration form does.
async fn save_club(world: &common::World, boss: &Viewer, name: &str, active: bool) {
    admin::update_organization(&world.db, boss, world.organization_id, name, active)
        .await
        .unwrap();
}

#[tokio::test]
async fn deactivating_an_organization_shuts_its_people_out_until_reactivated() {
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
    let member = world.client("cli@club.example").await;
    save_club(&world, &boss, "Club Andrómeda", false).await;
    assert_eq!(world.sessions_of(member.user_id).await, 0);
    let refused = world.sign_in("cli@club.example").await;
    assert_eq!(user_msg(refused), Msg::ErrorAccountInactive);

    save_club(&world, &boss, "Club Andrómeda Norte", true).await;
    world.sign_in("cli@club.example").await.unwrap();
    let detail = admin::organization(&world.db, &boss, world.organization_id)
        .await
        .unwrap();
    assert_eq!(detail.organization.name, "Club Andrómeda Norte");
    assert_eq!(detail.people.len(), 1);
}

#[tokio::test]
async fn another_observatorys_organizations_and_telescopes_are_not_found() {
    let world = world().await;
    let boss_a = world.admin("jefa@obs.example").await;
    let b = observatory_b(&world).await;
    let organization_b = b.organization;
    let telescope_b = world
        .db
        .insert_telescope(NewTelescope {
            observatory_id: b.id,
            organization_id: organization_b,
            name: "Telescopio de B",
            model: "",
            location: "",
            notes: "",
        })
        .await
        .unwrap();
    // Positive control: B's admin finds the organization and its telescope.
    let detail = admin::organization(&world.db, &b.admin, organization_b)
        .await
        .unwrap();
    assert_eq!(detail.telescopes.len(), 1);
    assert_eq!(detail.telescopes[0].id, telescope_b);

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
    let untouched = admin::organization(&world.db, &b.admin, organization_b)
        .await
        .unwrap()
        .organization;
    assert_eq!(
        (untouched.name.as_str(), untouched.active),
        ("Cliente de B", true)
    );

    // Positive controls: the same calls by B's admin on the same ids change what was checked
    // above.
    admin::add_telescope(&world.db, &b.admin, organization_b, scope("Intruso", ""))
        .await
        .unwrap();
    admin::update_telescope(&world.db, &b.admin, telescope_b, scope("Mío", ""))
        .await
        .unwrap();
    assert_eq!(
        world.db.telescope_names(organization_b).await.unwrap(),
        ["Intruso", "Mío"]
    );
    admin::set_telescope_retired(&world.db, &b.admin, telescope_b, true)
        .await
        .unwrap();
    assert_eq!(
        world.db.telescope_names(organization_b).await.unwrap(),
        ["Intruso"]
    );
    admin::update_organization(&world.db, &b.admin, organization_b, "Mía", false)
        .await
        .unwrap();
    let changed = admin::organization(&world.db, &b.admin, organization_b)
        .await
        .unwrap()
        .organization;
    assert_eq!((changed.name.as_str(), changed.active), ("Mía", false));
}

#[tokio::test]
async fn support_contacts_are_members_or_valid_addresses_and_an_invalid_one_saves_nothing() {
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
    let member = world.client("cli@club.example").await;
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
    let contacts_of = |organization_id: i64| {
        let (db, boss) = (&world.db, &boss);
        async move {
            admin::organization(db, boss, organization_id)
                .await
                .unwrap()
                .support_contacts
        }
    };
    assert_eq!(contacts_of(org).await, contacts, "nothing was saved");
    // Positive control: the same user is a contact of their own organization.
    admin::save_support_contacts(
        &world.db,
        &boss,
        other_org,
        &[ContactEntry::User(outsider.user_id)],
    )
    .await
    .unwrap();
    let theirs = contacts_of(other_org).await;
    assert_eq!(theirs.len(), 1);
    assert_eq!(theirs[0].user_id, Some(outsider.user_id));
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
    let boss = world.admin("jefa@obs.example").await;
    let agent = world.agent("agente@obs.example").await;
    let good = BrandingSettings {
        name: " Observatorio del Teide ".into(),
        slug: "teide".into(),
        email_sender_name: "Soporte del Teide".into(),
        primary_color: "#14532D".into(),
        accent_color: "#9a3412".into(),
        time_zone: "Atlantic/Canary".into(),
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
        (
            with(|s| s.time_zone = "Canarias".into()),
            Msg::ErrorUnknownTimeZone,
        ),
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
    // Positive control of the agent's refusal: the admin's same call saves the same settings.
    admin::update_branding(&world.db, &boss, &good)
        .await
        .unwrap();
    assert_eq!(
        admin::branding(&world.db, &boss).await.unwrap().name,
        "Observatorio del Teide"
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

    let roque = world
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
    // One observatory's branding is its own: what A saved is not B's, and B's admin changes B's.
    let roque_admin = person(&world.db, roque, None, "jefa@roque.example", Role::Admin).await;
    let roque_branding = admin::branding(&world.db, &roque_admin).await.unwrap();
    assert_eq!(
        (roque_branding.name.as_str(), roque_branding.slug.as_str()),
        ("Roque", "roque")
    );
    admin::update_branding(
        &world.db,
        &roque_admin,
        &BrandingSettings {
            name: "Roque de los Muchachos".into(),
            ..roque_branding
        },
    )
    .await
    .unwrap();
    assert_eq!(
        admin::branding(&world.db, &roque_admin).await.unwrap().name,
        "Roque de los Muchachos"
    );
    assert_eq!(
        admin::branding(&world.db, &boss).await.unwrap().name,
        "Observatorio del Teide"
    );
}

#[tokio::test]
async fn deactivating_a_person_revokes_their_api_keys_for_good() {
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
    let client_user = world.client("cli@club.example").await;
    let key = world
        .new_key(&client_user, "monitor", ApiKeyValidity::Never)
        .await;
    assert!(world.key_works(&key).await, "positive control");

    admin::set_active(&world.db, &boss, client_user.user_id, false)
        .await
        .unwrap();
    assert!(!world.key_works(&key).await, "refused while deactivated");
    admin::set_active(&world.db, &boss, client_user.user_id, true)
        .await
        .unwrap();
    assert!(
        !world.key_works(&key).await,
        "reactivation does not bring the key back"
    );
    assert!(app::backend::api_tokens::list(&world.db, &client_user)
        .await
        .unwrap()
        .is_empty());
    // The person is back: a new key of theirs works.
    let fresh = world
        .new_key(&client_user, "monitor 2", ApiKeyValidity::Days30)
        .await;
    assert!(world.key_works(&fresh).await);
}

#[tokio::test]
async fn deactivating_an_organization_revokes_its_peoples_api_keys_for_good() {
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
    let client_user = world.client("cli@club.example").await;
    let staff_key = world
        .new_key(&boss, "informes", ApiKeyValidity::Never)
        .await;
    let key = world
        .new_key(&client_user, "monitor", ApiKeyValidity::Never)
        .await;
    assert!(world.key_works(&key).await, "positive control");

    save_club(&world, &boss, "Club Andrómeda", false).await;
    assert!(!world.key_works(&key).await, "refused while deactivated");
    save_club(&world, &boss, "Club Andrómeda", true).await;
    assert!(
        !world.key_works(&key).await,
        "reactivation does not bring the key back"
    );
    assert!(
        world.key_works(&staff_key).await,
        "only the organization's people lose their keys"
    );
}

#[tokio::test]
async fn only_the_observatorys_admins_see_its_outbox_retry_and_cancel() {
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
    let agent = world.agent("tec@obs.example").await;
    let b = observatory_b(&world).await;
    // A mail of the observatory: the invitation of a new client.
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

    let all = admin::outbox(&world.db, &boss, OutboxFilter::All, None)
        .await
        .unwrap();
    let mail = all
        .iter()
        .find(|m| m.to == "nueva@club.example")
        .expect("the invitation in the outbox");
    assert_eq!(mail.state, MailState::Waiting);
    assert_eq!(mail.kind, "invitation");
    assert!(admin::outbox(&world.db, &boss, OutboxFilter::Failed, None)
        .await
        .unwrap()
        .is_empty());

    // Staff who are not admins, and another observatory's admin, are told nothing exists.
    assert_eq!(
        user_msg(admin::outbox(&world.db, &agent, OutboxFilter::All, None).await),
        Msg::ErrorNotFound
    );
    assert!(admin::outbox(&world.db, &b.admin, OutboxFilter::All, None)
        .await
        .unwrap()
        .iter()
        .all(|m| m.id != mail.id));
    assert_eq!(
        user_msg(admin::cancel_mail(&world.db, &b.admin, mail.id).await),
        Msg::ErrorMailNotCancellable
    );
    assert_eq!(
        user_msg(admin::cancel_mail(&world.db, &agent, mail.id).await),
        Msg::ErrorNotFound
    );
    // Not failed: nothing to retry.
    assert_eq!(
        user_msg(admin::retry_mail(&world.db, &boss, mail.id).await),
        Msg::ErrorMailNotRetryable
    );

    // The owner cancels it: never sent, and said so.
    admin::cancel_mail(&world.db, &boss, mail.id).await.unwrap();
    let after = admin::outbox(&world.db, &boss, OutboxFilter::All, None)
        .await
        .unwrap();
    let cancelled = after.iter().find(|m| m.id == mail.id).unwrap();
    assert_eq!(cancelled.state, MailState::Cancelled);
    assert!(admin::outbox(&world.db, &boss, OutboxFilter::Waiting, None)
        .await
        .unwrap()
        .iter()
        .all(|m| m.id != mail.id));
    assert_eq!(
        user_msg(admin::cancel_mail(&world.db, &boss, mail.id).await),
        Msg::ErrorMailNotCancellable
    );
}

/// Admins replacing the logo at the same moment: one logo wins, and the files of the others are
/// deleted, not left behind under the data directory.
#[tokio::test]
async fn logos_uploaded_at_once_leave_only_the_one_in_use() {
    const UPLOADS: usize = 6;
    let world = world().await;
    let boss = world.admin("jefa@obs.example").await;
    let data = tempfile::tempdir().unwrap();
    let mut uploads = tokio::task::JoinSet::new();
    for shade in 0..UPLOADS {
        let picture = image::RgbaImage::from_pixel(8, 8, image::Rgba([shade as u8, 60, 120, 255]));
        let mut png = Vec::new();
        image::DynamicImage::ImageRgba8(picture)
            .write_to(&mut std::io::Cursor::new(&mut png), image::ImageFormat::Png)
            .unwrap();
        let (db, dir, boss) = (world.db.clone(), data.path().to_path_buf(), boss.clone());
        uploads.spawn(async move { logo::replace_logo(&db, &dir, &boss, png).await });
    }
    for uploaded in uploads.join_all().await {
        uploaded.expect("every upload is taken");
    }
    let in_use = world
        .db
        .default_observatory()
        .await
        .unwrap()
        .unwrap()
        .logo_file
        .expect("a logo is set");
    let stored: Vec<String> = std::fs::read_dir(logo::logo_dir(data.path()))
        .unwrap()
        .map(|entry| entry.unwrap().file_name().into_string().unwrap())
        .collect();
    assert_eq!(stored, vec![in_use]);
}
