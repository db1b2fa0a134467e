//! The portal under test: the real router on a free port, a real database seeded with the
//! demo observatory, and a browser-like HTTP client.

pub mod files;
pub mod process;

use app::backend::config::Config;
use app::backend::demo::{self, DemoAccount};
use app::backend::secret_key::SecretKey;
use app::backend::storage::testing::{fresh_database, TestDatabase};
use reqwest::{redirect::Policy, Client};

/// The sign-in of the client `TestApp::add_client_of_another_organization` creates.
pub const OTHER_CLIENT_EMAIL: &str = "vega@vega.example";
pub const OTHER_CLIENT_PASSWORD: &str = "una clave bastante larga";

pub struct TestApp {
    pub base: String,
    pub accounts: Vec<DemoAccount>,
    pub db: TestDatabase,
    /// The portal's files (logos), removed with the test.
    pub files: tempfile::TempDir,
    /// Opens the links of the portal's queued e-mails.
    pub secret_key: SecretKey,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The portal with some settings of its configuration changed.
pub async fn spawn_app_with(configure: impl FnOnce(&mut Config)) -> TestApp {
    let test_db = fresh_database().await.expect("a test database");
    let accounts = demo::seed_if_empty(&test_db.db).await.unwrap().unwrap();
    let mut config = Config::load(None, |_| None).unwrap();
    configure(&mut config);
    config.listen = "127.0.0.1:0".parse().unwrap();
    let files = tempfile::TempDir::new().unwrap();
    config.data_dir = files.path().to_path_buf();
    // Attachments on the store the test run names: this directory, or a fresh bucket prefix.
    config.s3 = app::backend::files::testing::fresh_s3_settings();
    let secret_key = SecretKey::generate();
    config.secret_key = Some(secret_key.clone());
    let listener = server::bind(config.listen).await.unwrap();
    let addr = listener.local_addr().unwrap();
    config.base_url = format!("http://{addr}").parse().unwrap();
    let state = server::state(config, test_db.db.clone()).unwrap();
    server::spawn_event_reader(&state).await.unwrap();
    tokio::spawn(server::serve(
        listener,
        server::router(state),
        std::future::pending(),
    ));
    TestApp {
        base: format!("http://{addr}"),
        accounts,
        db: test_db,
        files,
        secret_key,
    }
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn account(&self, role: &str) -> &DemoAccount {
        self.accounts
            .iter()
            .find(|a| a.role.code() == role)
            .unwrap()
    }

    /// A browser-like client: keeps cookies, does not follow redirects, and sends the headers a
    /// browser sends from the portal's own pages (`Origin`, `Sec-Fetch-Site: same-origin`); a
    /// request's own header of the same name replaces them.
    pub fn browser(&self) -> Client {
        let mut headers = reqwest::header::HeaderMap::new();
        headers.insert("origin", self.base.parse().unwrap());
        headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
        Client::builder()
            .cookie_store(true)
            .redirect(Policy::none())
            .default_headers(headers)
            .build()
            .unwrap()
    }

    /// A program's client (curl, a script): no cookies kept, no browser headers.
    pub fn program(&self) -> Client {
        Client::builder().redirect(Policy::none()).build().unwrap()
    }

    pub async fn sign_in(&self, client: &Client, email: &str, password: &str) -> reqwest::Response {
        client
            .post(self.url("/api/sign_in"))
            .header("Origin", &self.base)
            .form(&[("email", email), ("password", password)])
            .send()
            .await
            .unwrap()
    }

    /// A browser (as `browser`) in which the demo account of `role` has signed in; the sign-in's
    /// answer is not looked at, as when a test signs in itself.
    pub async fn signed_in_browser(&self, role: &str) -> Client {
        let browser = self.browser();
        let account = self.account(role);
        self.sign_in(&browser, &account.email, &account.password)
            .await;
        browser
    }

    /// Signs the demo account of `role` in and returns its session cookie as `name=value`, for
    /// requests made without a cookie store.
    pub async fn session_cookie(&self, role: &str) -> String {
        let account = self.account(role);
        let response = self
            .sign_in(&self.browser(), &account.email, &account.password)
            .await;
        assert!(response.status().is_success(), "{}", response.status());
        response
            .headers()
            .get_all(reqwest::header::SET_COOKIE)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|v| v.starts_with("cupula_session="))
            .and_then(|v| v.split(';').next())
            .expect("a session cookie")
            .to_string()
    }

    /// Runs `talk` on a raw TCP connection to the portal (reads time out after 20 s), with plain
    /// blocking I/O off the runtime that serves the portal; `talk` is given the `host:port`.
    pub async fn over_raw_tcp<T: Send + 'static>(
        &self,
        talk: impl FnOnce(&mut std::net::TcpStream, &str) -> T + Send + 'static,
    ) -> T {
        let addr = self.base.trim_start_matches("http://").to_string();
        tokio::task::spawn_blocking(move || {
            let mut stream = std::net::TcpStream::connect(&addr).unwrap();
            stream
                .set_read_timeout(Some(std::time::Duration::from_secs(20)))
                .unwrap();
            talk(&mut stream, &addr)
        })
        .await
        .unwrap()
    }

    /// Creates a client of a second organization of the demo observatory, who signs in with
    /// `OTHER_CLIENT_EMAIL` and `OTHER_CLIENT_PASSWORD`: the one who must not see the demo
    /// client's things.
    pub async fn add_client_of_another_organization(&self) {
        let db = &self.db.db;
        let observatory = db.default_observatory().await.unwrap().unwrap();
        let organization = db
            .insert_organization(observatory.id, "Agrupación Vega")
            .await
            .unwrap();
        app::backend::accounts::create_account(
            db,
            app::backend::accounts::NewAccount {
                observatory_id: observatory.id,
                organization_id: Some(organization),
                email: OTHER_CLIENT_EMAIL,
                name: "Vega",
                role: app::model::Role::Client,
                language: app::i18n::Lang::Es,
                password: Some(OTHER_CLIENT_PASSWORD),
            },
        )
        .await
        .unwrap();
    }

    /// A browser signed in as a new client of another organization
    /// (`add_client_of_another_organization`).
    pub async fn client_of_another_organization(&self) -> Client {
        self.add_client_of_another_organization().await;
        let browser = self.browser();
        self.sign_in(&browser, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD)
            .await;
        browser
    }

    /// `path` asked for by `client` as a browser asks for a page (`Accept: text/html`).
    pub async fn get_page(&self, client: &Client, path: &str) -> reqwest::Response {
        client
            .get(self.url(path))
            .header(reqwest::header::ACCEPT, "text/html")
            .send()
            .await
            .unwrap()
    }
}

/// Sends `request` and reads its answer as JSON.
pub async fn json_of(request: reqwest::RequestBuilder) -> serde_json::Value {
    request.send().await.unwrap().json().await.unwrap()
}

/// A person of the default observatory signed in on the server side by e-mail and password.
pub async fn signed_in(
    db: &app::backend::storage::Db,
    email: &str,
    password: &str,
) -> app::backend::accounts::Viewer {
    use app::backend::accounts::{authenticate, sign_in, ClientInfo};
    let config = Config::load(None, |_| None).unwrap();
    let observatory = db.default_observatory().await.unwrap().unwrap();
    let signed_in = sign_in(
        db,
        &config,
        observatory.id,
        email,
        password,
        &ClientInfo::default(),
    )
    .await
    .unwrap();
    authenticate(db, &config, &signed_in.token)
        .await
        .unwrap()
        .unwrap()
}

/// A person signed in as `signed_in` does, and a new API key of theirs.
pub async fn api_key(
    db: &app::backend::storage::Db,
    email: &str,
    password: &str,
) -> (app::backend::accounts::Viewer, String) {
    let viewer = signed_in(db, email, password).await;
    let key =
        app::backend::api_tokens::create(db, &viewer, "monitor", app::model::ApiKeyValidity::Never)
            .await
            .unwrap();
    (viewer, key)
}
