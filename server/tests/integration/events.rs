//! `GET /api/v1/events` over HTTP: Server-Sent Events with an API key, each event to who may
//! see it (internal notes to staff only), resumed after `Last-Event-ID` with the gap once,
//! clear errors; and two real `cupula serve` processes on one PostgreSQL database, where a
//! message written through one reaches a follower of the other.

use crate::common::process::{free_port, settings, start};
use crate::common::{self, spawn_app, TestApp, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD};
use app::backend::demo;
use app::backend::storage::testing::{engine_name, fresh_database};
use reqwest::header::{ACCEPT_LANGUAGE, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;

/// One event of a stream: its `id`, `event` and `data` fields.
#[derive(Debug, Clone, PartialEq)]
struct Sent {
    id: i64,
    event: String,
    data: Value,
}

/// An open event stream, read as a program reads it.
struct Stream {
    response: reqwest::Response,
    buffer: String,
}

impl Stream {
    async fn open(base: &str, key: &str, last_event_id: Option<i64>, query: &str) -> Stream {
        let mut request = Client::new()
            .get(format!("{base}/api/v1/events{query}"))
            .header(AUTHORIZATION, format!("Bearer {key}"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert!(response.headers()[CONTENT_TYPE]
            .to_str()
            .unwrap()
            .starts_with("text/event-stream"));
        assert_eq!(response.headers()["x-accel-buffering"], "no");
        Stream {
            response,
            buffer: String::new(),
        }
    }

    /// The next event, within `wait`; `None` when nothing came.
    async fn next_within(&mut self, wait: Duration) -> Option<Sent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            while let Some(end) = self.buffer.find("\n\n") {
                let frame: String = self.buffer.drain(..end + 2).collect();
                if let Some(sent) = parse(&frame) {
                    return Some(sent);
                }
            }
            let chunk = tokio::time::timeout_at(deadline, self.response.chunk())
                .await
                .ok()?
                .unwrap()
                .expect("the stream ended");
            self.buffer.push_str(std::str::from_utf8(&chunk).unwrap());
        }
    }

    async fn next(&mut self) -> Sent {
        self.next_within(Duration::from_secs(5))
            .await
            .expect("an event within 5 s")
    }

    /// Everything else that comes within 1.5 s.
    async fn more(&mut self) -> Vec<Sent> {
        let mut got = Vec::new();
        while let Some(sent) = self.next_within(Duration::from_millis(1500)).await {
            got.push(sent);
        }
        got
    }
}

/// An event frame's fields; `None` for comments and the `retry` advice.
fn parse(frame: &str) -> Option<Sent> {
    let (mut id, mut event, mut data) = (None, None, None);
    for line in frame.lines() {
        if let Some(value) = line.strip_prefix("id:") {
            id = value.trim().parse().ok();
        } else if let Some(value) = line.strip_prefix("event:") {
            event = Some(value.trim().to_string());
        } else if let Some(value) = line.strip_prefix("data:") {
            data = serde_json::from_str(value.trim()).ok();
        }
    }
    Some(Sent {
        id: id?,
        event: event?,
        data: data?,
    })
}

async fn call(base: &str, key: &str, method: reqwest::Method, path: &str, body: Value) -> Value {
    let response = Client::new()
        .request(method, format!("{base}{path}"))
        .header(AUTHORIZATION, format!("Bearer {key}"))
        .json(&body)
        .send()
        .await
        .unwrap();
    assert!(
        response.status().is_success(),
        "{path}: {}",
        response.status()
    );
    response.json().await.unwrap()
}

async fn open_ticket(base: &str, key: &str, subject: &str) -> String {
    let ticket = call(
        base,
        key,
        reqwest::Method::POST,
        "/api/v1/tickets",
        json!({"request_type": "repair", "priority": 5, "subject": subject, "comment": "La cúpula no gira"}),
    )
    .await;
    ticket["number"].as_str().unwrap().to_string()
}

async fn say(base: &str, key: &str, number: &str, body: &str, internal: bool) -> i64 {
    let ticket = call(
        base,
        key,
        reqwest::Method::POST,
        &format!("/api/v1/tickets/{number}/messages"),
        json!({"body": body, "internal": internal}),
    )
    .await;
    ticket["timeline"].as_array().unwrap().last().unwrap()["id"]
        .as_i64()
        .unwrap()
}

async fn keys(app: &TestApp) -> (String, String, String) {
    app.add_client_of_another_organization().await;
    let db = &app.db.db;
    let staff = app.account("agent");
    let client = app.account("client");
    let (_, staff_key) = common::api_key(db, &staff.email, &staff.password).await;
    let (_, client_key) = common::api_key(db, &client.email, &client.password).await;
    let (_, other_key) = common::api_key(db, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD).await;
    (staff_key, client_key, other_key)
}

#[tokio::test]
async fn a_key_follows_what_its_person_may_see_and_resumes_after_the_last_event_id() {
    let app = spawn_app().await;
    let (staff_key, client_key, other_key) = keys(&app).await;
    let base = app.base.as_str();
    let mut staff = Stream::open(base, &staff_key, None, "").await;
    let mut client = Stream::open(base, &client_key, None, "").await;
    let mut other = Stream::open(base, &other_key, None, "").await;

    let number = open_ticket(base, &client_key, "Cúpula atascada").await;
    let note = say(base, &staff_key, &number, "Revisad el motor", true).await;
    let message = say(base, &staff_key, &number, "Vamos mañana", false).await;

    let seen_by_staff = [staff.next().await, staff.next().await, staff.next().await];
    assert_eq!(
        seen_by_staff
            .iter()
            .map(|s| s.event.as_str())
            .collect::<Vec<_>>(),
        ["created", "note", "message"]
    );
    assert_eq!(seen_by_staff[1].data["entry_id"], note);
    assert_eq!(seen_by_staff[1].data["internal"], true);
    assert_eq!(seen_by_staff[2].data["ticket"], number.as_str());
    assert_eq!(seen_by_staff[2].data["id"], seen_by_staff[2].id);

    let created = client.next().await;
    let public = client.next().await;
    assert_eq!(
        (created.event.as_str(), public.event.as_str()),
        ("created", "message")
    );
    assert_eq!(public.data["entry_id"], message);
    assert!(
        client.more().await.is_empty(),
        "the note never reaches the client"
    );
    assert!(
        other.more().await.is_empty(),
        "nor another organization's client"
    );

    // The client comes back after the first event: the message once, then what is new.
    drop(client);
    let mut back = Stream::open(base, &client_key, Some(created.id), "").await;
    assert_eq!(back.next().await.data["entry_id"], message);
    let later = say(base, &staff_key, &number, "Ya está", false).await;
    assert_eq!(back.next().await.data["entry_id"], later);
    assert!(back.more().await.is_empty());
    // `after` in the query does the same for programs that cannot set headers.
    let mut by_query =
        Stream::open(base, &client_key, None, &format!("?after={}", created.id)).await;
    assert_eq!(by_query.next().await.data["entry_id"], message);
}

#[tokio::test]
async fn the_event_stream_refuses_clearly() {
    let app = spawn_app().await;
    let (staff_key, client_key, other_key) = keys(&app).await;
    let base = app.base.as_str();
    let number = open_ticket(base, &client_key, "Cúpula").await;
    let http = Client::new();
    let get = |key: Option<&str>, query: &str, last: Option<&str>| {
        let mut request = http
            .get(format!("{base}/api/v1/events{query}"))
            .header(ACCEPT_LANGUAGE, "en");
        if let Some(key) = key {
            request = request.header(AUTHORIZATION, format!("Bearer {key}"));
        }
        if let Some(last) = last {
            request = request.header("Last-Event-ID", last);
        }
        request.send()
    };
    let anonymous = get(None, "", None).await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::UNAUTHORIZED);
    let bad = get(Some(&staff_key), "", Some("yesterday")).await.unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let body: Value = bad.json().await.unwrap();
    assert_eq!(body["error"]["code"], "invalid_event_id");
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("Last-Event-ID"));
    let query = format!("?ticket={number}");
    let theirs = get(Some(&other_key), &query, None).await.unwrap();
    assert_eq!(theirs.status(), StatusCode::NOT_FOUND);
    let own = get(Some(&client_key), &query, None).await.unwrap();
    assert_eq!(
        own.status(),
        StatusCode::OK,
        "the owner follows the same ticket"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_written_through_one_server_reaches_a_follower_of_another() {
    if engine_name() != "postgres" {
        eprintln!("a_message_written_through_one_server_reaches_a_follower_of_another: PostgreSQL only (CUPULA_TEST_DATABASE_URL)");
        return;
    }
    let test_db = fresh_database().await.unwrap();
    let accounts = demo::seed_if_empty(&test_db.db).await.unwrap().unwrap();
    let account = |role: &str| accounts.iter().find(|a| a.role.code() == role).unwrap();
    let (_, staff_key) = common::api_key(
        &test_db.db,
        &account("agent").email,
        &account("agent").password,
    )
    .await;
    let (_, client_key) = common::api_key(
        &test_db.db,
        &account("client").email,
        &account("client").password,
    )
    .await;
    // One data dir: the processes of one portal share its secret key and files.
    let data_dir = tempfile::tempdir().unwrap();
    let (first_port, second_port) = (free_port(), free_port());
    let _first = start(&settings(data_dir.path(), &test_db.url, first_port));
    let _second = start(&settings(data_dir.path(), &test_db.url, second_port));
    let (first, second) = (
        format!("http://127.0.0.1:{first_port}"),
        format!("http://127.0.0.1:{second_port}"),
    );

    let mut following_second = Stream::open(&second, &client_key, None, "").await;
    let mut following_first = Stream::open(&first, &client_key, None, "").await;
    let number = open_ticket(&first, &client_key, "Cúpula").await;
    let message = say(&first, &staff_key, &number, "Vamos mañana", false).await;
    for stream in [&mut following_second, &mut following_first] {
        let created = stream.next().await;
        assert_eq!(
            (created.event.as_str(), created.data["ticket"].as_str()),
            ("created", Some(number.as_str()))
        );
        assert_eq!(stream.next().await.data["entry_id"], message);
    }
    // And the other way round.
    let answer = say(&second, &client_key, &number, "Gracias", false).await;
    assert_eq!(following_first.next().await.data["entry_id"], answer);
    assert_eq!(following_second.next().await.data["entry_id"], answer);
    assert!(following_first.more().await.is_empty(), "each event once");
}
