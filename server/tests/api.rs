//! The REST API over HTTP with API keys: the same rules as the pages, JSON errors with stable
//! codes, and nobody reaching another organization's tickets.

mod common;

use app::backend::accounts::{authenticate, sign_in, ClientInfo, Viewer};
use app::backend::api_tokens;
use app::backend::config::Config;
use app::backend::storage::accounts::NewTelescope;
use app::model::Role;
use common::{spawn_app, TestApp};
use reqwest::header::{ACCEPT_LANGUAGE, AUTHORIZATION, LOCATION};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// The demo person of `role` signed in on the server side, and an API key of theirs.
async fn key_of(app: &TestApp, role: &str) -> (Viewer, String) {
    let account = app.account(role);
    key_for(app, &account.email, &account.password).await
}

/// A person signed in on the server side by e-mail and password, and an API key of theirs.
async fn key_for(app: &TestApp, email: &str, password: &str) -> (Viewer, String) {
    let db = &app.db.db;
    let config = Config::load(None, |_| None).unwrap();
    let observatory = db.default_observatory().await.unwrap().unwrap();
    let client = ClientInfo {
        user_agent: "tests".into(),
        ip: "127.0.0.1".into(),
    };
    let signed_in = sign_in(db, &config, observatory.id, email, password, &client)
        .await
        .unwrap();
    let viewer = authenticate(db, &config, &signed_in.token)
        .await
        .unwrap()
        .unwrap();
    let key = api_tokens::create(db, &viewer, "monitor").await.unwrap();
    (viewer, key)
}

struct Api {
    http: Client,
    base: String,
    key: String,
}

impl Api {
    fn new(app: &TestApp, key: &str) -> Api {
        Api {
            http: Client::new(),
            base: app.base.clone(),
            key: key.to_string(),
        }
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .header(ACCEPT_LANGUAGE, "en");
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(reqwest::Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(reqwest::Method::POST, path, Some(body)).await
    }
}

fn code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn monitoring_software_opens_and_follows_a_ticket_with_a_key() {
    let app = spawn_app().await;
    let (client_viewer, client_key) = key_of(&app, "client").await;
    let (_, staff_key) = key_of(&app, "admin").await;
    let client = Api::new(&app, &client_key);
    let staff = Api::new(&app, &staff_key);
    let telescope = app
        .db
        .db
        .insert_telescope(NewTelescope {
            observatory_id: client_viewer.observatory_id,
            organization_id: client_viewer.organization_id.unwrap(),
            name: "Sonda",
            model: "",
            location: "",
            notes: "",
        })
        .await
        .unwrap();

    let response = client
        .http
        .post(format!("{}/api/v1/tickets", app.base))
        .header(AUTHORIZATION, format!("Bearer {client_key}"))
        .json(&json!({
            "request_type": "repair", "priority": 10, "telescope_id": telescope,
            "subject": "Alarma de humedad", "comment": "La cúpula detectó humedad alta a las 03:12."
        }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::CREATED);
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    let created: Value = response.json().await.unwrap();
    let number = created["number"].as_str().unwrap().to_string();
    assert_eq!(location, format!("/api/v1/tickets/{number}"));
    assert_eq!(created["status"], "open");
    assert_eq!(created["priority"], 10);
    assert_eq!(created["telescope"], "Sonda");

    let (status, found) = client.get("/api/v1/tickets?q=CUPULA&view=open").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(found["items"][0]["number"], number);
    assert_eq!(found["counts"]["open"], 1);

    let path = format!("/api/v1/tickets/{number}");
    let (status, _) = staff
        .post(
            &format!("{path}/messages"),
            json!({ "body": "Nota de guardia", "internal": true }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, ticket) = client
        .post(
            &format!("{path}/messages"),
            json!({ "body": "Sigue alta." }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let kinds: Vec<&str> = ticket["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        vec!["created", "message"],
        "the client never sees the internal note"
    );
    let (_, staff_view) = staff.get(&path).await;
    assert_eq!(staff_view["timeline"].as_array().unwrap().len(), 3);

    // Staff work it; the rules are the pages' rules.
    let (status, body) = staff
        .post(&format!("{path}/status"), json!({ "status": "blocked" }))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "blocked_reason_required")
    );
    let (status, body) = staff
        .post(
            &format!("{path}/status"),
            json!({ "status": "blocked", "reason": "Esperando acceso" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], "blocked");
    let (status, body) = staff
        .post(&format!("{path}/priority"), json!({ "priority": 5 }))
        .await;
    assert_eq!(
        (status, body["priority"].clone()),
        (StatusCode::OK, json!(5))
    );
    let (status, body) = client
        .post(
            &format!("{path}/status"),
            json!({ "status": "in_progress" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "status_not_allowed")
    );
    let (status, body) = client
        .post(&format!("{path}/assignee"), json!({ "assignee_id": null }))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
    let (status, body) = client
        .post(&format!("{path}/status"), json!({ "status": "cancelled" }))
        .await;
    assert_eq!(
        (status, body["status"].clone()),
        (StatusCode::OK, json!("cancelled"))
    );
}

#[tokio::test]
async fn bad_input_gets_a_json_error_with_a_stable_code_in_the_callers_language() {
    let app = spawn_app().await;
    let (_, key) = key_of(&app, "client").await;
    let api = Api::new(&app, &key);
    let raw = |body: &'static str| {
        let api = &api;
        async move {
            api.http
                .post(format!("{}/api/v1/tickets", api.base))
                .header(AUTHORIZATION, format!("Bearer {}", api.key))
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .unwrap()
                .status()
        }
    };
    assert_eq!(raw("{not json").await, StatusCode::BAD_REQUEST);
    assert_eq!(
        raw(r#"{"request_type": "repair"}"#).await,
        StatusCode::UNPROCESSABLE_ENTITY
    );
    let (status, body) = api
        .post(
            "/api/v1/tickets",
            json!({ "request_type": "repair", "priority": 3, "comment": "x" }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "invalid_choice")
    );
    let (status, body) = api
        .post(
            "/api/v1/tickets",
            json!({ "request_type": "repair", "priority": 0, "comment": " " }),
        )
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "comment_required")
    );
    assert_eq!(
        body["error"]["message"],
        "Describe in the comment what you need."
    );
    let spanish = api
        .http
        .get(format!("{}/api/v1/tickets/OBS-1999-00001", app.base))
        .header(AUTHORIZATION, format!("Bearer {key}"))
        .header(ACCEPT_LANGUAGE, "es")
        .send()
        .await
        .unwrap();
    assert_eq!(spanish.status(), StatusCode::NOT_FOUND);
    let body: Value = spanish.json().await.unwrap();
    assert_eq!(code(&body), "not_found");
    assert_eq!(
        body["error"]["message"],
        "No hemos encontrado lo que buscas."
    );
}

#[tokio::test]
async fn keys_must_be_valid_and_unrevoked_and_browsers_must_come_from_the_portal() {
    let app = spawn_app().await;
    let (viewer, key) = key_of(&app, "client").await;
    for bad in [
        "",
        "cupula_",
        "cupula_0123",
        "Basic abc",
        &format!("{key}x"),
    ] {
        let (status, body) = Api::new(&app, bad).get("/api/v1/tickets").await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::UNAUTHORIZED, "sign_in_required"),
            "{bad:?}"
        );
    }
    let (status, _) = Api::new(&app, &key).get("/api/v1/tickets").await;
    assert_eq!(status, StatusCode::OK);
    let listed = api_tokens::list(&app.db.db, &viewer).await.unwrap();
    assert!(listed[0].last_used_at.is_some());
    api_tokens::revoke(&app.db.db, &viewer, listed[0].id)
        .await
        .unwrap();
    let (status, _) = Api::new(&app, &key).get("/api/v1/tickets").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A browser session works too, but a cross-site write with it is refused.
    let browser = app.browser();
    let account = app.account("client");
    app.sign_in(&browser, &account.email, &account.password)
        .await;
    let listed = browser
        .get(app.url("/api/v1/tickets"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let forged = browser
        .post(app.url("/api/v1/tickets"))
        .header("Origin", "https://evil.example")
        .json(&json!({ "request_type": "repair", "priority": 0, "comment": "x" }))
        .send()
        .await
        .unwrap();
    assert_eq!(forged.status(), StatusCode::FORBIDDEN);
}

#[tokio::test]
async fn another_organizations_tickets_do_not_exist_through_the_api() {
    let app = spawn_app().await;
    let (client, key) = key_of(&app, "client").await;
    let db = &app.db.db;
    let other_org = db
        .insert_organization(client.observatory_id, "Otra Asociación")
        .await
        .unwrap();
    app::backend::accounts::create_account(
        db,
        app::backend::accounts::NewAccount {
            observatory_id: client.observatory_id,
            organization_id: Some(other_org),
            email: "intruso@otra.example",
            name: "Intruso",
            role: Role::Client,
            language: app::i18n::Lang::Es,
            password: Some("una clave bastante larga"),
        },
    )
    .await
    .unwrap();
    let (status, created) = Api::new(&app, &key)
        .post(
            "/api/v1/tickets",
            json!({ "request_type": "question", "priority": 0, "comment": "Privado" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let number = created["number"].as_str().unwrap();

    let (intruder, intruder_key) =
        key_for(&app, "intruso@otra.example", "una clave bastante larga").await;
    let api = Api::new(&app, &intruder_key);
    let path = format!("/api/v1/tickets/{number}");
    let (status, _) = api.get(&path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    for (suffix, body) in [
        ("messages", json!({ "body": "hola" })),
        ("status", json!({ "status": "cancelled" })),
        ("assignee", json!({ "assignee_id": null })),
        ("priority", json!({ "priority": 0 })),
    ] {
        let (status, body) = api.post(&format!("{path}/{suffix}"), body).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::NOT_FOUND, "not_found"),
            "{suffix}"
        );
    }
    let (_, list) = api.get("/api/v1/tickets?q=privado").await;
    assert_eq!(list["items"], json!([]));
    // Nor through the pages or their server functions.
    let browser = app.browser();
    app.sign_in(&browser, "intruso@otra.example", "una clave bastante larga")
        .await;
    let page = browser
        .get(app.url(&path.replace("/api/v1", "")))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("No hemos encontrado lo que buscas."),
        "{page}"
    );
    assert!(!page.contains("Privado"));
    let call = browser
        .post(app.url("/api/tickets/get"))
        .header("Origin", &app.base)
        .form(&[("number", number)])
        .send()
        .await
        .unwrap();
    assert!(!call.status().is_success());
    assert!(!call.text().await.unwrap().contains("Privado"));
    // Nor can one person revoke another's key.
    let theirs = api_tokens::list(db, &client).await.unwrap();
    assert!(api_tokens::revoke(db, &intruder, theirs[0].id)
        .await
        .is_err());
}

#[tokio::test]
async fn the_openapi_description_covers_every_route() {
    let app = spawn_app().await;
    let doc: Value = Client::new()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for (method, path, _) in server::rest::ROUTES {
        assert!(
            doc["paths"][path][method]["responses"].is_object(),
            "{method} {path}"
        );
    }
    assert_eq!(
        doc["components"]["securitySchemes"]["apiKey"]["scheme"],
        "bearer"
    );
}
