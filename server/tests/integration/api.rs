//! The REST API over HTTP with API keys: the same rules as the pages, JSON errors with stable
//! codes, and nobody reaching another organization's tickets.

use crate::common;

use app::backend::accounts::Viewer;
use app::backend::api_tokens;
use app::backend::config::Config;
use app::backend::storage::accounts::NewTelescope;
use common::{spawn_app, TestApp, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD};
use reqwest::header::{ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE, LOCATION};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};

/// The demo person of `role` signed in on the server side, and an API key of theirs.
async fn key_of(app: &TestApp, role: &str) -> (Viewer, String) {
    let account = app.account(role);
    key_for(app, &account.email, &account.password).await
}

/// A person signed in on the server side by e-mail and password, and an API key of theirs.
async fn key_for(app: &TestApp, email: &str, password: &str) -> (Viewer, String) {
    common::api_key(&app.db.db, email, password).await
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

    /// Sends a voice comment as a field app does: a multipart form, its text fields first.
    async fn post_voice(
        &self,
        number: &str,
        fields: &[(&str, &str)],
        audio: Option<(&str, &[u8])>,
    ) -> (StatusCode, Value) {
        let mut form = reqwest::multipart::Form::new();
        for (name, value) in fields {
            form = form.text(name.to_string(), value.to_string());
        }
        if let Some((name, bytes)) = audio {
            form = form.part(
                "audio",
                reqwest::multipart::Part::bytes(bytes.to_vec()).file_name(name.to_string()),
            );
        }
        let response = self
            .http
            .post(format!("{}/api/v1/tickets/{number}/voice", self.base))
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .header(ACCEPT_LANGUAGE, "en")
            .multipart(form)
            .send()
            .await
            .unwrap();
        let status = response.status();
        (status, response.json().await.unwrap_or(Value::Null))
    }
}

/// `GET /api/v1/events` from the first event: its status and the first event's data.
async fn first_event(api: &Api) -> (StatusCode, Value) {
    let mut response = api
        .http
        .get(format!("{}/api/v1/events?after=0", api.base))
        .header(AUTHORIZATION, format!("Bearer {}", api.key))
        .send()
        .await
        .unwrap();
    let status = response.status();
    let mut text = String::new();
    loop {
        while let Some(end) = text.find("\n\n") {
            let frame: String = text.drain(..end + 2).collect();
            if let Some(data) = frame.lines().find_map(|line| line.strip_prefix("data:")) {
                return (status, serde_json::from_str(data.trim()).unwrap());
            }
        }
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(5), response.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("the stream went on");
        text.push_str(std::str::from_utf8(&chunk).unwrap());
    }
}

/// A recording as Firefox makes it: two seconds of Ogg Opus.
const VOICE_OGG: &[u8] = include_bytes!("../fixtures/voice.ogg");

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
    let browser = app.signed_in_browser("client").await;
    let listed = browser
        .get(app.url("/api/v1/tickets"))
        .send()
        .await
        .unwrap();
    assert_eq!(listed.status(), StatusCode::OK);
    let forged = browser
        .post(app.url("/api/v1/tickets"))
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
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
    app.add_client_of_another_organization().await;
    let (status, created) = Api::new(&app, &key)
        .post(
            "/api/v1/tickets",
            json!({ "request_type": "question", "priority": 0, "comment": "Privado" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let number = created["number"].as_str().unwrap();

    let (intruder, intruder_key) = key_for(&app, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD).await;
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
    // Positive controls: the same requests from the ticket's side find it. The owner writes
    // and searches; assignment and priority are staff's, so the observatory's admin does those.
    let owner = Api::new(&app, &key);
    let (admin, admin_key) = key_of(&app, "admin").await;
    let staff = Api::new(&app, &admin_key);
    let (status, _) = owner.get(&path).await;
    assert_eq!(status, StatusCode::OK);
    let (_, list) = owner.get("/api/v1/tickets?q=privado").await;
    assert_eq!(list["items"][0]["number"], number);
    for (caller, suffix, body, expected) in [
        (
            &owner,
            "messages",
            json!({ "body": "hola" }),
            StatusCode::CREATED,
        ),
        (
            &staff,
            "assignee",
            json!({ "assignee_id": admin.user_id }),
            StatusCode::OK,
        ),
        (&staff, "priority", json!({ "priority": 5 }), StatusCode::OK),
        (
            &owner,
            "status",
            json!({ "status": "cancelled" }),
            StatusCode::OK,
        ),
    ] {
        let (status, body) = caller.post(&format!("{path}/{suffix}"), body).await;
        assert_eq!(status, expected, "{suffix}: {body}");
    }
    // Nor through the pages or their server functions.
    let page_and_call = |email: String, password: String| {
        let (app, path) = (&app, &path);
        async move {
            let browser = app.browser();
            app.sign_in(&browser, &email, &password).await;
            let page = browser
                .get(app.url(&path.replace("/api/v1", "")))
                .send()
                .await
                .unwrap();
            let page = (page.status(), page.text().await.unwrap());
            let call = browser
                .post(app.url("/api/tickets/get"))
                .header("Origin", &app.base)
                .form(&[("number", number)])
                .send()
                .await
                .unwrap();
            let success = call.status().is_success();
            let call = call.text().await.unwrap();
            // Presence on the page is the page's: reporting on it answers like reading it.
            let presence = browser
                .post(app.url("/api/tickets/presence"))
                .header("Origin", &app.base)
                .form(&[("number", number), ("tab", "tab1"), ("leaving", "false")])
                .send()
                .await
                .unwrap();
            (page, success, presence.status().is_success(), call)
        }
    };
    let ((status, page), success, presence, call) =
        page_and_call(OTHER_CLIENT_EMAIL.into(), OTHER_CLIENT_PASSWORD.into()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        page.contains("No hemos encontrado lo que buscas."),
        "{page}"
    );
    assert!(!page.contains("Privado"));
    assert!(!success);
    assert!(!presence, "nor does the page's presence");
    assert!(!call.contains("Privado"));
    // Positive control: the owner's page and call show the ticket.
    let account = app.account("client");
    let ((status, page), success, presence, call) =
        page_and_call(account.email.clone(), account.password.clone()).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("Privado"), "{page}");
    assert!(!page.contains("No hemos encontrado lo que buscas."));
    assert!(success, "{call}");
    assert!(presence);
    assert!(call.contains("Privado"), "{call}");
    // Nor can one person revoke another's key.
    let db = &app.db.db;
    let theirs = api_tokens::list(db, &client).await.unwrap();
    assert!(api_tokens::revoke(db, &intruder, theirs[0].id)
        .await
        .is_err());
    let (status, _) = owner.get("/api/v1/tickets").await;
    assert_eq!(status, StatusCode::OK, "the key still works");
    // Positive control: its owner revokes it with the same call.
    api_tokens::revoke(db, &client, theirs[0].id).await.unwrap();
    let (status, _) = owner.get("/api/v1/tickets").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
}

/// The description as the portal serves it.
async fn served_description(app: &TestApp) -> Value {
    let response = Client::new()
        .get(app.url("/api/v1/openapi.json"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    response.json().await.unwrap()
}

/// Whether a response is the API's own answer (JSON) rather than the router's "no such route"
/// (the portal's not-found page) or "no such method" (an empty 405).
fn is_json(response: &reqwest::Response) -> bool {
    response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"))
}

/// Every operation of the description as (method, path).
fn documented_operations(doc: &Value) -> Vec<(String, String)> {
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            operations.push((method.clone(), path.clone()));
        }
    }
    operations.sort();
    operations
}

#[tokio::test]
async fn every_documented_operation_is_answered_by_its_handler_with_a_documented_status() {
    let app = spawn_app().await;
    let (_, key) = key_of(&app, "client").await;
    let api = Api::new(&app, &key);
    let (status, created) = api
        .post(
            "/api/v1/tickets",
            json!({ "request_type": "question", "priority": 0, "comment": "¿Hay luna?" }),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED);
    let number = created["number"].as_str().unwrap();
    let doc = served_description(&app).await;
    let operations = documented_operations(&doc);
    assert!(operations.len() > 1, "{operations:?}");
    let send = |method: reqwest::Method, path: String| {
        let api = &api;
        async move {
            // The upload routes speak tus, which every request of theirs must say.
            let mut request = api
                .http
                .request(method.clone(), format!("{}{path}", api.base))
                .header(AUTHORIZATION, format!("Bearer {}", api.key))
                .header("Tus-Resumable", "1.0.0");
            if method == reqwest::Method::POST {
                // Each handler answers an empty object itself (a missing field is its 422).
                request = request.json(&json!({}));
            }
            request.send().await.unwrap()
        }
    };
    for (method, path) in &operations {
        let response = send(
            method.to_uppercase().parse().unwrap(),
            path.replace("{number}", number)
                .replace("{id}", &"0".repeat(64)),
        )
        .await;
        let status = response.status();
        // Only an answer documented without content (tus discovery) may come without JSON,
        // and one documented as an event stream as one.
        let content = &doc["paths"][path][method]["responses"][status.as_str()]["content"];
        let event_stream = response
            .headers()
            .get(CONTENT_TYPE)
            .is_some_and(|v| v.to_str().unwrap_or("").starts_with("text/event-stream"));
        assert!(
            is_json(&response)
                || (status == StatusCode::NO_CONTENT && content.is_null())
                || (event_stream && content["text/event-stream"].is_object()),
            "{method} {path}: {status} is not the API's"
        );
        assert!(
            doc["paths"][path][method]["responses"][status.as_str()].is_object(),
            "{method} {path} answered {status}, which it does not document"
        );
    }
    // The check above tells a route that is not there apart: both of these would fail it.
    let wrong_method = send(
        reqwest::Method::GET,
        format!("/api/v1/tickets/{number}/status"),
    )
    .await;
    assert_eq!(wrong_method.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(!is_json(&wrong_method));
    let no_route = send(
        reqwest::Method::POST,
        format!("/api/v1/tickets/{number}/colour"),
    )
    .await;
    assert!(!is_json(&no_route), "{}", no_route.status());
}

/// A successful call of each file operation, as a tus client and a program make them:
/// discover, begin, send, look up, attach, list, download; and begin and end another upload.
async fn file_operations(api: &Api, number: &str) -> Vec<(String, String, StatusCode, Value)> {
    let tus = |method: reqwest::Method, path: &str| {
        api.http
            .request(method, format!("{}{path}", api.base))
            .header(AUTHORIZATION, format!("Bearer {}", api.key))
            .header("Tus-Resumable", "1.0.0")
    };
    let json_of = |bytes: &[u8]| serde_json::from_slice(bytes).unwrap_or(Value::Null);
    let mut answered = Vec::new();
    let mut note = |method: &str, path: &str, status: StatusCode, body: Value| {
        answered.push((method.to_string(), path.to_string(), status, body));
    };
    let options = tus(reqwest::Method::OPTIONS, "/api/v1/uploads")
        .send()
        .await
        .unwrap();
    note("options", "/api/v1/uploads", options.status(), Value::Null);
    let begin = || {
        tus(reqwest::Method::POST, "/api/v1/uploads")
            .header("Upload-Length", "5")
            .header("Upload-Metadata", "filename bm90YXMudHh0") // notas.txt
            .send()
    };
    let created = begin().await.unwrap();
    note("post", "/api/v1/uploads", created.status(), Value::Null);
    let upload = created.headers()["location"].to_str().unwrap().to_string();
    let sent = tus(reqwest::Method::PATCH, &upload)
        .header("Upload-Offset", "0")
        .header(CONTENT_TYPE, "application/offset+octet-stream")
        .body("hola\n")
        .send()
        .await
        .unwrap();
    let attachment = sent.headers()["cupula-attachment-id"]
        .to_str()
        .unwrap()
        .to_string();
    note("patch", "/api/v1/uploads/{id}", sent.status(), Value::Null);
    let head = tus(reqwest::Method::HEAD, &upload).send().await.unwrap();
    note("head", "/api/v1/uploads/{id}", head.status(), Value::Null);
    let (status, body) = api
        .post(
            &format!("/api/v1/tickets/{number}/attachments"),
            json!({ "attachments": [attachment] }),
        )
        .await;
    note("post", "/api/v1/tickets/{number}/attachments", status, body);
    let (status, body) = api
        .get(&format!("/api/v1/tickets/{number}/attachments"))
        .await;
    note("get", "/api/v1/tickets/{number}/attachments", status, body);
    let download = tus(
        reqwest::Method::GET,
        &format!("/api/v1/attachments/{attachment}"),
    )
    .send()
    .await
    .unwrap();
    let status = download.status();
    assert_eq!(&download.bytes().await.unwrap()[..], b"hola\n");
    note("get", "/api/v1/attachments/{id}", status, Value::Null);
    let range = tus(
        reqwest::Method::GET,
        &format!("/api/v1/attachments/{attachment}"),
    )
    .header("Range", "bytes=0-1")
    .send()
    .await
    .unwrap();
    note(
        "get",
        "/api/v1/attachments/{id}",
        range.status(),
        Value::Null,
    );
    // A picture's preview and display size, made off the request path: asked for until made.
    let photo = include_bytes!("../fixtures/wide.jpg");
    let created = tus(reqwest::Method::POST, "/api/v1/uploads")
        .header("Upload-Length", photo.len().to_string())
        .header("Upload-Metadata", "filename Zm90by5qcGc=") // foto.jpg
        .send()
        .await
        .unwrap();
    let upload = created.headers()["location"].to_str().unwrap().to_string();
    let sent = tus(reqwest::Method::PATCH, &upload)
        .header("Upload-Offset", "0")
        .header(CONTENT_TYPE, "application/offset+octet-stream")
        .body(photo.to_vec())
        .send()
        .await
        .unwrap();
    let photo_id = sent.headers()["cupula-attachment-id"]
        .to_str()
        .unwrap()
        .to_string();
    for picture in ["preview", "display"] {
        let path = format!("/api/v1/attachments/{{id}}/{picture}");
        let started = std::time::Instant::now();
        let status = loop {
            let got = tus(reqwest::Method::GET, &path.replace("{id}", &photo_id))
                .send()
                .await
                .unwrap();
            if got.status() != StatusCode::NOT_FOUND || started.elapsed().as_secs() > 60 {
                break got.status();
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        };
        note("get", &path, status, Value::Null);
    }
    let other = begin().await.unwrap();
    let other = other.headers()["location"].to_str().unwrap().to_string();
    let ended = tus(reqwest::Method::DELETE, &other).send().await.unwrap();
    let status = ended.status();
    note(
        "delete",
        "/api/v1/uploads/{id}",
        status,
        json_of(&ended.bytes().await.unwrap()),
    );
    answered
}

/// A successful call of each voice operation: a client sends a recording and polls its
/// entry; staff run its transcription again.
async fn voice_operations(
    client: &Api,
    staff: &Api,
    number: &str,
) -> Vec<(String, String, StatusCode, Value)> {
    let mut answered = Vec::new();
    let (status, entry) = client
        .post_voice(number, &[], Some(("voz.ogg", VOICE_OGG)))
        .await;
    let id = entry["id"].as_i64().unwrap_or_default();
    answered.push((
        "post".into(),
        "/api/v1/tickets/{number}/voice".into(),
        status,
        entry,
    ));
    let (status, body) = client
        .get(&format!("/api/v1/tickets/{number}/voice/{id}"))
        .await;
    answered.push((
        "get".into(),
        "/api/v1/tickets/{number}/voice/{id}".into(),
        status,
        body,
    ));
    let (status, body) = staff
        .post(
            &format!("/api/v1/tickets/{number}/voice/{id}/transcription"),
            json!({}),
        )
        .await;
    answered.push((
        "post".into(),
        "/api/v1/tickets/{number}/voice/{id}/transcription".into(),
        status,
        body,
    ));
    answered
}

#[tokio::test]
async fn a_voice_comment_through_the_api_says_its_transcript_state_and_stays_in_its_organization() {
    let app = spawn_app().await;
    let (_, key) = key_of(&app, "client").await;
    let api = Api::new(&app, &key);
    let (_, created) = api
        .post(
            "/api/v1/tickets",
            json!({ "request_type": "repair", "priority": 10, "comment": "Grabo un audio." }),
        )
        .await;
    let number = created["number"].as_str().unwrap().to_string();
    let (status, entry) = api
        .post_voice(
            &number,
            &[("language", "en"), ("text", "The dome does not open")],
            Some(("voice.ogg", VOICE_OGG)),
        )
        .await;
    assert_eq!(status, StatusCode::CREATED, "{entry}");
    assert_eq!(entry["kind"], "voice");
    let voice = &entry["voice"];
    // No speech server in the tests' portal: the audio is kept and says so.
    assert_eq!(voice["transcript_state"], "unavailable");
    assert_eq!(voice["transcript"], Value::Null);
    assert_eq!(voice["edited_text"], "The dome does not open");
    assert_eq!(voice["language"], "en");
    assert!(
        (1900..=2200).contains(&voice["duration_ms"].as_u64().unwrap()),
        "{voice}"
    );
    assert_eq!(voice["audio"]["content_type"], "audio/ogg");
    let audio_url = voice["audio"]["url"].as_str().unwrap().to_string();
    // The ticket's timeline shows it with its transcript.
    let (_, ticket) = api.get(&format!("/api/v1/tickets/{number}")).await;
    let shown = ticket["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["id"] == entry["id"])
        .unwrap();
    assert_eq!(shown["voice"], entry["voice"]);
    // The ticket's page plays it: a seekable player with its speeds, the person's text marked
    // as edited, and the transcript's state.
    let browser = app.signed_in_browser("client").await;
    let page = app
        .get_page(&browser, &format!("/tickets/{number}"))
        .await
        .text()
        .await
        .unwrap();
    for expected in [
        "data-testid=\"voice-player\"",
        "preload=\"metadata\"",
        &format!("src=\"{audio_url}\""),
        "aria-pressed=\"true\"",
        "data-transcript-state=\"unavailable\"",
        "data-testid=\"voice-edited\"",
        "data-testid=\"voice-state\"",
        "The dome does not open",
    ] {
        assert!(page.contains(expected), "{expected}: {page}");
    }

    // What is not a recording, or no recording at all, is refused with its code.
    for (audio, expected) in [
        (
            Some(("voz.webm", &b"%PDF-1.7\n%\xE2\xE3\xCF\xD3\n1 0 obj\n"[..])),
            (StatusCode::UNSUPPORTED_MEDIA_TYPE, "voice_not_audio"),
        ),
        (None, (StatusCode::BAD_REQUEST, "no_files")),
    ] {
        let (status, body) = api.post_voice(&number, &[("language", "es")], audio).await;
        assert_eq!((status, code(&body)), expected, "{body}");
    }
    let (status, body) = api
        .post_voice(&number, &[("language", "xx")], Some(("voz.ogg", VOICE_OGG)))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNPROCESSABLE_ENTITY, "voice_language")
    );

    // A client of another organization: neither the entry nor its audio exist.
    app.add_client_of_another_organization().await;
    let (_, intruder_key) = key_for(&app, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD).await;
    let download = |key: String| {
        let http = api.http.clone();
        let url = format!("{}{audio_url}", app.base);
        async move {
            http.get(url)
                .header(AUTHORIZATION, format!("Bearer {key}"))
                .send()
                .await
                .unwrap()
        }
    };
    let own = download(key.clone()).await;
    assert_eq!(own.status(), StatusCode::OK);
    // Audio plays in the page (security.md 18), under the download's sandbox.
    assert!(own.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    assert_eq!(own.headers()[CONTENT_TYPE], "audio/ogg");
    assert_eq!(&own.bytes().await.unwrap()[..], VOICE_OGG);
    assert_eq!(
        download(intruder_key.clone()).await.status(),
        StatusCode::NOT_FOUND
    );
    let intruder = Api::new(&app, &intruder_key);
    let entry_path = format!("/api/v1/tickets/{number}/voice/{}", entry["id"]);
    let (status, _) = intruder.get(&entry_path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = api.get(&entry_path).await;
    assert_eq!(status, StatusCode::OK);
    let (status, body) = intruder
        .post_voice(&number, &[], Some(("voz.ogg", VOICE_OGG)))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::NOT_FOUND, "not_found"));
    // Only staff run a transcription again.
    let (status, body) = api
        .post(&format!("{entry_path}/transcription"), json!({}))
        .await;
    assert_eq!((status, code(&body)), (StatusCode::FORBIDDEN, "forbidden"));
}

#[tokio::test]
async fn the_description_documents_what_each_handler_really_answers() {
    let app = spawn_app().await;
    let (_, client_key) = key_of(&app, "client").await;
    let (staff, staff_key) = key_of(&app, "admin").await;
    let client = Api::new(&app, &client_key);
    let staff_api = Api::new(&app, &staff_key);
    let doc = served_description(&app).await;

    // A successful call of each operation: (method, documented path, status, body).
    let mut answered: Vec<(String, String, StatusCode, Value)> = Vec::new();
    let (status, created) = client
        .post(
            "/api/v1/tickets",
            json!({ "request_type": "repair", "priority": 10, "comment": "La cúpula no gira." }),
        )
        .await;
    let number = created["number"].as_str().unwrap_or_default().to_string();
    answered.push(("post".into(), "/api/v1/tickets".into(), status, created));
    let (status, body) = client.get("/api/v1/tickets").await;
    answered.push(("get".into(), "/api/v1/tickets".into(), status, body));
    let ticket = format!("/api/v1/tickets/{number}");
    let (status, body) = client.get(&ticket).await;
    answered.push((
        "get".into(),
        "/api/v1/tickets/{number}".into(),
        status,
        body,
    ));
    for (api, suffix, body) in [
        (&client, "messages", json!({ "body": "Desde anoche." })),
        (
            &staff_api,
            "assignee",
            json!({ "assignee_id": staff.user_id }),
        ),
        (&staff_api, "priority", json!({ "priority": 5 })),
        (&staff_api, "status", json!({ "status": "in_progress" })),
        // Done, then accepted by its client: closed.
        (&staff_api, "status", json!({ "status": "done" })),
        (&client, "accept", json!({})),
        // Open again for the file and voice operations below.
        (&staff_api, "status", json!({ "status": "in_progress" })),
    ] {
        let (status, body) = api.post(&format!("{ticket}/{suffix}"), body).await;
        answered.push((
            "post".into(),
            format!("/api/v1/tickets/{{number}}/{suffix}"),
            status,
            body,
        ));
    }
    let accepted = &answered
        .iter()
        .find(|(_, path, _, _)| path.ends_with("/accept"))
        .unwrap()
        .3;
    assert_eq!(accepted["status"], "done");
    assert_eq!(accepted["resolution"], "accepted", "{accepted}");
    let (status, body) = client.get("/api/v1/openapi.json").await;
    answered.push(("get".into(), "/api/v1/openapi.json".into(), status, body));
    let (status, body) = first_event(&client).await;
    answered.push(("get".into(), "/api/v1/events".into(), status, body));
    answered.extend(file_operations(&client, &number).await);
    answered.extend(voice_operations(&client, &staff_api, &number).await);

    for (method, path, status, body) in &answered {
        let operation = &doc["paths"][path][method];
        let successes: Vec<&String> = operation["responses"]
            .as_object()
            .map(|responses| responses.keys().filter(|s| s.starts_with('2')).collect())
            .unwrap_or_default();
        assert!(
            successes.iter().any(|s| *s == status.as_str()),
            "{method} {path}: answered {status} {body}, documented {successes:?}"
        );
        // The answer has exactly the fields its documented schema names.
        let content = &operation["responses"][status.as_str()]["content"];
        let schema = if content["text/event-stream"].is_object() {
            &content["text/event-stream"]["schema"]["$ref"]
        } else {
            &content["application/json"]["schema"]["$ref"]
        };
        if let Some(name) = schema.as_str() {
            let name = name.trim_start_matches("#/components/schemas/");
            let mut documented: Vec<&String> = doc["components"]["schemas"][name]["properties"]
                .as_object()
                .unwrap()
                .keys()
                .collect();
            let mut sent: Vec<&String> = body.as_object().unwrap().keys().collect();
            documented.sort();
            sent.sort();
            assert_eq!(sent, documented, "{method} {path}");
        }
    }
    // Every documented operation was called, and every call was of a documented operation.
    let mut called: Vec<(String, String)> = answered
        .iter()
        .map(|(method, path, _, _)| (method.clone(), path.clone()))
        .collect();
    called.sort();
    called.dedup();
    assert_eq!(called, documented_operations(&doc));
    // An operation that documents several successes was seen giving each.
    for (method, path) in &called {
        let responses = doc["paths"][path][method]["responses"].as_object().unwrap();
        for success in responses.keys().filter(|s| s.starts_with('2')) {
            assert!(
                answered
                    .iter()
                    .any(|(m, p, s, _)| (m, p) == (method, path) && s.as_str() == success),
                "{method} {path} never answered its documented {success}"
            );
        }
    }
}

#[tokio::test]
async fn the_list_refuses_unknown_filters_and_values_naming_the_parameter() {
    let app = spawn_app().await;
    let (_, key) = key_of(&app, "client").await;
    let api = Api::new(&app, &key);
    let mut numbers = Vec::new();
    for comment in ["Sigue abierta", "Ya no hace falta"] {
        let (status, created) = api
            .post(
                "/api/v1/tickets",
                json!({ "request_type": "question", "priority": 0, "comment": comment }),
            )
            .await;
        assert_eq!(status, StatusCode::CREATED);
        numbers.push(created["number"].as_str().unwrap().to_string());
    }
    let (status, _) = api
        .post(
            &format!("/api/v1/tickets/{}/status", numbers[1]),
            json!({ "status": "cancelled" }),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    let listed = |body: &Value| -> Vec<String> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["number"].as_str().unwrap().to_string())
            .collect()
    };

    // A valid filter narrows the list; an empty value means "any".
    let (status, body) = api.get("/api/v1/tickets?status=open").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&body), vec![numbers[0].clone()]);
    let (status, body) = api.get("/api/v1/tickets?status=&sort=created").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(listed(&body).len(), 2);

    for (query, expected_code, parameter) in [
        ("status=oepn", "invalid_filter", "status"),
        ("type=repairs", "invalid_filter", "type"),
        ("priority=10", "invalid_filter", "priority"),
        ("view=everything", "invalid_filter", "view"),
        ("sort=random", "invalid_filter", "sort"),
        ("telescope=x1", "invalid_filter", "telescope"),
        ("organization=abc", "invalid_filter", "organization"),
        ("assignee=someone", "invalid_filter", "assignee"),
        ("mine=yes", "invalid_filter", "mine"),
        ("after=garbage", "invalid_filter", "after"),
        ("colour=red", "unknown_filter", "colour"),
        ("status=open&status=done", "repeated_filter", "status"),
    ] {
        let (status, body) = api.get(&format!("/api/v1/tickets?{query}")).await;
        assert_eq!(
            (status, code(&body)),
            (StatusCode::BAD_REQUEST, expected_code),
            "{query}: {body}"
        );
        assert_eq!(body["error"]["parameter"], parameter, "{query}");
        let message = body["error"]["message"].as_str().unwrap();
        assert!(message.contains(&format!("“{parameter}”")), "{message}");
    }
    let spanish = api
        .http
        .get(app.url("/api/v1/tickets?status=oepn"))
        .header(AUTHORIZATION, format!("Bearer {key}"))
        .header(ACCEPT_LANGUAGE, "es")
        .send()
        .await
        .unwrap();
    assert_eq!(spanish.status(), StatusCode::BAD_REQUEST);
    let body: Value = spanish.json().await.unwrap();
    assert_eq!(
        body["error"]["message"],
        "El valor del filtro «status» no es válido."
    );
}

#[tokio::test]
async fn oversize_bodies_get_413_with_the_api_error() {
    let app = spawn_app().await;
    let (_, key) = key_of(&app, "client").await;
    let api = Api::new(&app, &key);
    let ticket =
        |comment: String| json!({ "request_type": "question", "priority": 0, "comment": comment });
    let (status, _) = api.post("/api/v1/tickets", ticket("x".repeat(1000))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = api
        .post("/api/v1/tickets", ticket("x".repeat(3 * 1024 * 1024)))
        .await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );

    // The API's own routes keep answering a limit set around them in JSON, not as a bad body.
    let mut config = Config::load(None, |_| None).unwrap();
    config.data_dir = app.files.path().to_path_buf();
    let state = server::state(config, app.db.db.clone()).unwrap();
    let limited = server::rest::routes()
        .layer(axum::extract::DefaultBodyLimit::max(4096))
        .with_state(state);
    let listener = server::bind("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(server::serve(listener, limited, std::future::pending()));
    let api = Api {
        http: Client::new(),
        base,
        key,
    };
    let (status, _) = api.post("/api/v1/tickets", ticket("x".repeat(1000))).await;
    assert_eq!(status, StatusCode::CREATED);
    let (status, body) = api.post("/api/v1/tickets", ticket("x".repeat(8192))).await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "body_too_large")
    );
}

#[tokio::test]
async fn an_expired_key_gets_401_while_an_unexpired_one_works() {
    let app = spawn_app().await;
    let (viewer, key) = key_of(&app, "client").await;
    let expired = format!(
        "{}{}",
        api_tokens::PREFIX,
        app::backend::tokens::random_token()
    );
    app.db
        .db
        .insert_api_token(
            viewer.user_id,
            "caducada",
            &app::backend::tokens::hash_token(&expired),
            chrono::Utc::now() - chrono::Duration::days(31),
            Some(chrono::Utc::now() - chrono::Duration::days(1)),
        )
        .await
        .unwrap();
    let (status, _) = Api::new(&app, &key).get("/api/v1/tickets").await;
    assert_eq!(status, StatusCode::OK, "positive control");
    let (status, body) = Api::new(&app, &expired).get("/api/v1/tickets").await;
    assert_eq!(
        (status, code(&body)),
        (StatusCode::UNAUTHORIZED, "sign_in_required")
    );
}
