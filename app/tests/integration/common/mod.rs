//! Fixtures shared by the integration tests: a fresh database with one observatory and one
//! client organization.

use app::backend::accounts::{
    authenticate, create_account, sign_in, ClientInfo, NewAccount, SignedIn, Viewer,
};

use app::backend::config::Config;
use app::backend::error::ServiceError;
use app::backend::events::EventBus;
use app::backend::files::testing::{fresh_store, TestStore};
use app::backend::files::FileStore;
use app::backend::outbox;
use app::backend::storage::accounts::NewObservatory;
use app::backend::storage::testing::{fresh_database, TestDatabase};
use app::backend::storage::Db;
use app::backend::tickets;
use app::i18n::{Lang, Msg};
use app::model::{ApiKeyValidity, Role, TicketFilter};

/// The secret key of the tested portal: the same on every call, as for one portal's processes.
pub const SECRET_KEY: &str = "5ec2e7005ec2e7005ec2e7005ec2e7005ec2e7005ec2e7005ec2e7005ec2e700";

pub fn config() -> Config {
    Config::load(None, |key| {
        (key == "CUPULA_SECRET_KEY").then(|| SECRET_KEY.to_string())
    })
    .expect("default configuration")
}

/// The portal's configuration with these settings on top of the tests' own.
pub fn config_with(settings: &[(&str, String)]) -> Config {
    let settings = settings.to_vec();
    Config::load(None, |key| {
        if key == "CUPULA_SECRET_KEY" {
            return Some(SECRET_KEY.to_string());
        }
        settings
            .iter()
            .find(|(name, _)| *name == key)
            .map(|(_, value)| value.clone())
    })
    .expect("the tests' configuration")
}

/// The whole text of the newest e-mail queued for `to`, as the sender will send it: links
/// opened with the portal's secret key.
pub async fn newest_mail_body(db: &Db, to: &str) -> String {
    let key = config().secret_key.expect("the tests' secret key");
    outbox::mail_to(db, to, 1, Some(&key))
        .await
        .unwrap()
        .into_iter()
        .next()
        .expect("a queued e-mail")
        .body
}

/// The token of the link in an e-mail's text.
pub fn link_token(body: &str) -> String {
    let start = body.find("token=").expect("a link in the e-mail") + "token=".len();
    body[start..start + 64].to_string()
}

pub fn client() -> ClientInfo {
    ClientInfo {
        user_agent: "tests".into(),
        ip: "127.0.0.1".into(),
    }
}

pub struct World {
    pub db: Db,
    pub observatory_id: i64,
    pub organization_id: i64,
    _guard: TestDatabase,
}

/// The tests' observatory ("Observatorio de Pruebas", numbering TST-…), returning its id.
pub async fn insert_test_observatory(db: &Db) -> i64 {
    db.insert_observatory(NewObservatory {
        slug: "test",
        name: "Observatorio de Pruebas",
        ticket_prefix: "TST",
    })
    .await
    .unwrap()
}

pub async fn world() -> World {
    let test_db = fresh_database().await.expect("a fresh test database");
    let db = test_db.db.clone();
    let observatory_id = insert_test_observatory(&db).await;
    let organization_id = db
        .insert_organization(observatory_id, "Club Andrómeda")
        .await
        .unwrap();
    World {
        db,
        observatory_id,
        organization_id,
        _guard: test_db,
    }
}

impl World {
    /// Where the world's database is: another pool on it is what a restarted server sees.
    pub fn database_url(&self) -> &str {
        &self._guard.url
    }
}

pub async fn add_client(world: &World, email: &str, password: &str) -> i64 {
    create_account(
        &world.db,
        NewAccount {
            observatory_id: world.observatory_id,
            organization_id: Some(world.organization_id),
            email,
            name: "Ana Cliente",
            role: Role::Client,
            language: Lang::En,
            password: Some(password),
        },
    )
    .await
    .unwrap()
}

pub fn user_msg(result: Result<impl std::fmt::Debug, ServiceError>) -> Msg {
    match result {
        Err(ServiceError::User(msg)) => msg,
        other => panic!("expected a message for the person, got {other:?}"),
    }
}

/// The password of the accounts `person` creates.
pub const PASSWORD: &str = "cielo profundo estrellado";

/// Creates an account with a password and signs it in, returning its viewer.
pub async fn person(
    db: &Db,
    observatory_id: i64,
    organization_id: Option<i64>,
    email: &str,
    role: Role,
) -> Viewer {
    create_account(
        db,
        NewAccount {
            observatory_id,
            organization_id,
            email,
            name: email.split('@').next().unwrap(),
            role,
            language: Lang::Es,
            password: Some(PASSWORD),
        },
    )
    .await
    .unwrap();
    let signed_in = sign_in(db, &config(), observatory_id, email, PASSWORD, &client())
        .await
        .unwrap();
    authenticate(db, &config(), &signed_in.token)
        .await
        .unwrap()
        .unwrap()
}

impl World {
    /// An admin of the world's observatory (no organization), created and signed in by `person`.
    pub async fn admin(&self, email: &str) -> Viewer {
        person(&self.db, self.observatory_id, None, email, Role::Admin).await
    }

    /// An agent of the world's observatory (no organization), created and signed in by `person`.
    pub async fn agent(&self, email: &str) -> Viewer {
        person(&self.db, self.observatory_id, None, email, Role::Agent).await
    }

    /// A client of the world's organization, created and signed in by `person`.
    pub async fn client(&self, email: &str) -> Viewer {
        let organization = Some(self.organization_id);
        person(
            &self.db,
            self.observatory_id,
            organization,
            email,
            Role::Client,
        )
        .await
    }

    /// Signs `email` in to the world's observatory with the password `person` gave it: the
    /// result as it comes, for the tests that expect a refusal.
    pub async fn sign_in(&self, email: &str) -> Result<SignedIn, ServiceError> {
        sign_in(
            &self.db,
            &config(),
            self.observatory_id,
            email,
            PASSWORD,
            &client(),
        )
        .await
    }

    /// How many sessions the user has open.
    pub async fn sessions_of(&self, user_id: i64) -> i64 {
        self.db.count_sessions_of_user(user_id).await.unwrap()
    }

    /// A new API key of `viewer`'s.
    pub async fn new_key(&self, viewer: &Viewer, name: &str, validity: ApiKeyValidity) -> String {
        app::backend::api_tokens::create(&self.db, viewer, name, validity)
            .await
            .unwrap()
    }

    /// Whether `key` still lets a program in.
    pub async fn key_works(&self, key: &str) -> bool {
        app::backend::api_tokens::authenticate(&self.db, key)
            .await
            .unwrap()
            .is_some()
    }
}

/// An observatory with an agent, two clients of its organization (Ana and Bruno) and a client
/// of another organization (Carla), and a file store of the test run's kind: where the tests of
/// files, previews and voice comments work.
pub struct FileSite {
    pub world: World,
    pub events: EventBus,
    pub config: Config,
    pub store: FileStore,
    /// The store's files, behind its back (local directory or bucket prefix).
    pub files: TestStore,
    pub agent: Viewer,
    pub ana: Viewer,
    pub bruno: Viewer,
    pub carla: Viewer,
}

pub async fn file_site(config: Config) -> FileSite {
    let world = world().await;
    let db = &world.db;
    let obs = world.observatory_id;
    let org = Some(world.organization_id);
    let other_org = db.insert_organization(obs, "Grupo Vega").await.unwrap();
    let files = fresh_store();
    FileSite {
        agent: person(db, obs, None, "tomas@obs.example", Role::Agent).await,
        ana: person(db, obs, org, "ana@club.example", Role::Client).await,
        bruno: person(db, obs, org, "bruno@club.example", Role::Client).await,
        carla: person(db, obs, Some(other_org), "carla@vega.example", Role::Client).await,
        events: EventBus::new(),
        config,
        store: files.store.clone(),
        files,
        world,
    }
}

impl FileSite {
    pub fn db(&self) -> &Db {
        &self.world.db
    }

    /// The numbers of the tickets `who` finds with `words`.
    pub async fn search(&self, who: &Viewer, words: &str) -> Vec<String> {
        let filter = TicketFilter {
            query: words.into(),
            ..TicketFilter::default()
        };
        tickets::list(self.db(), who, &filter)
            .await
            .unwrap()
            .items
            .into_iter()
            .map(|t| t.number)
            .collect()
    }
}

/// The ticket events the portal records from the moment it is made, read in order: what a
/// change must leave for its followers.
pub struct RecordedEvents {
    db: Db,
    last: i64,
}

impl RecordedEvents {
    pub async fn from_now(db: &Db) -> RecordedEvents {
        RecordedEvents {
            db: db.clone(),
            last: db.last_event_id().await.unwrap(),
        }
    }

    /// The next event recorded, if there is one.
    pub async fn next(&mut self) -> Option<app::backend::storage::events::EventRow> {
        let event = self.db.events_since(self.last, 1).await.unwrap().pop()?;
        self.last = event.id;
        Some(event)
    }
}
