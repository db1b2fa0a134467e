//! The portal attacked as an outsider would: forged provenance and forwarding headers,
//! oversize bodies, other organizations' numbers. Each test carries its positive control.

use crate::common;

use app::backend::accounts::Viewer;
use app::backend::tickets::{self, NewTicket};
use app::model::{Priority, RequestType};
use common::{spawn_app, spawn_app_with, TestApp, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD};
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE, LOCATION};
use reqwest::{RequestBuilder, StatusCode};
use serde_json::Value;
use std::io::{Read, Write};

async fn post_language(app: &TestApp, cookie: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut request = app
        .program()
        .post(app.url("/api/set_language"))
        .header("Cookie", cookie)
        .form(&[("lang", "en")]);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.send().await.unwrap().status()
}

#[tokio::test]
async fn writes_are_refused_unless_a_browser_says_they_come_from_the_portal() {
    let app = spawn_app().await;
    let cookie = app.session_cookie("client").await;
    let refused = [
        vec![("Sec-Fetch-Site", "cross-site")],
        vec![("Sec-Fetch-Site", "same-site")],
        vec![("Origin", "null")],
        vec![("Origin", "https://evil.example")],
        // The portal's session cookie, and nothing that says where the request comes from.
        vec![],
    ];
    for headers in refused {
        assert_eq!(
            post_language(&app, &cookie, &headers).await,
            StatusCode::FORBIDDEN,
            "{headers:?}"
        );
    }
    // Positive controls: the portal's own pages, by either header.
    let base = app.base.clone();
    for headers in [
        vec![("Sec-Fetch-Site", "same-origin")],
        vec![("Origin", base.as_str())],
    ] {
        assert!(
            post_language(&app, &cookie, &headers).await.is_success(),
            "{headers:?}"
        );
    }
    // A program without cookies needs no provenance: it carries no victim's session.
    let lucia = app.account("client");
    let program = app
        .program()
        .post(app.url("/api/sign_in"))
        .form(&[
            ("email", lucia.email.as_str()),
            ("password", lucia.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert!(program.status().is_success(), "{}", program.status());
}

/// Ten wrong passwords with one forwarded address, then the eleventh try with another.
async fn sign_in_after_failures(app: &TestApp, failing_from: &str, then_from: &str) -> String {
    let lucia = app.account("client");
    let attempt = |password: String, forwarded: &str| {
        app.program()
            .post(app.url("/api/sign_in"))
            .header("X-Forwarded-For", forwarded)
            .form(&[("email", lucia.email.clone()), ("password", password)])
            .send()
    };
    for i in 0..app::backend::accounts::MAX_FAILURES_PER_ACCOUNT {
        let wrong = attempt(format!("wrong {i}"), failing_from).await.unwrap();
        assert!(wrong
            .text()
            .await
            .unwrap()
            .contains("ErrorInvalidCredentials"));
    }
    let last = attempt(lucia.password.clone(), then_from).await.unwrap();
    format!("{} {}", last.status(), last.text().await.unwrap())
}

#[tokio::test]
async fn forwarded_addresses_count_only_from_a_trusted_proxy() {
    // Behind a trusted proxy each client is throttled on its own address: one client's
    // failures do not lock out the next one behind the same proxy.
    let proxied = spawn_app_with(|config| {
        config.trusted_proxies = vec!["127.0.0.1".parse().unwrap()];
    })
    .await;
    let other_client = sign_in_after_failures(&proxied, "203.0.113.1", "203.0.113.2").await;
    assert!(other_client.starts_with("200"), "{other_client}");
    let same_client = sign_in_after_failures(&proxied, "203.0.113.3", "203.0.113.3").await;
    assert!(
        same_client.contains("ErrorTooManyAttempts"),
        "{same_client}"
    );

    // Without one, a forged header changes nothing: the peer address is what counts, so
    // rotating the header does not evade the limit.
    let direct = spawn_app().await;
    let rotated = sign_in_after_failures(&direct, "203.0.113.1", "203.0.113.2").await;
    assert!(rotated.contains("ErrorTooManyAttempts"), "{rotated}");
}

const FIFTY_MB: usize = 50 * 1024 * 1024;

/// A browser's form post of a ticket message with the session `cookie`; its body still to add.
fn message_form_post(app: &TestApp, cookie: &str) -> RequestBuilder {
    app.browser()
        .post(app.url("/api/tickets/message"))
        .header("Cookie", cookie)
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
}

/// A program's JSON post to the REST API's ticket list, without a key; its body still to add.
fn api_ticket_post(app: &TestApp) -> RequestBuilder {
    app.program()
        .post(app.url("/api/v1/tickets"))
        .header(CONTENT_TYPE, "application/json")
}

#[tokio::test]
async fn a_fifty_megabyte_body_is_refused_with_413_and_a_translated_message() {
    let app = spawn_app().await;
    let cookie = app.session_cookie("client").await;
    let huge = vec![b'a'; FIFTY_MB];

    // A server function, as the portal's script calls it: its own error, translated.
    let call = message_form_post(&app, &cookie)
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(call.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = call.json().await.unwrap();
    assert_eq!(error["message"], "ErrorBodyTooLarge", "{error}");

    // The REST API: its JSON error with a stable code, in the caller's language.
    let api = api_ticket_post(&app)
        .header("Accept-Language", "en")
        .body(huge.clone())
        .send()
        .await
        .unwrap();
    assert_eq!(api.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = api.json().await.unwrap();
    assert_eq!(error["error"]["code"], "body_too_large", "{error}");
    assert!(
        error["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too large"),
        "{error}"
    );

    // A form posted without JavaScript: a page that says so, in Spanish by default.
    let page = message_form_post(&app, &cookie)
        .header("Accept", "text/html")
        .body(huge)
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert!(page.text().await.unwrap().contains("demasiado grande"));

    // Positive control: a body within the limit reaches the API (and is judged on its merits).
    let small = api_ticket_post(&app).body("{}").send().await.unwrap();
    assert_eq!(small.status(), StatusCode::UNAUTHORIZED);
}

/// The head of a JSON `POST /api/v1/tickets` to `addr`, with `framing` (the header lines that
/// say how the body is sent) and the blank line before the body.
fn post_tickets_head(addr: &str, framing: &str) -> String {
    format!(
        "POST /api/v1/tickets HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n\
         {framing}\r\n"
    )
}

#[tokio::test]
async fn a_body_without_a_declared_length_is_cut_off_at_the_limit() {
    let app = spawn_app().await;
    // Chunked, a little past the limit, then silence: the server must answer without waiting
    // for the rest.
    let response = app
        .over_raw_tcp(|stream, addr| {
            write!(
                stream,
                "{}",
                post_tickets_head(addr, "Transfer-Encoding: chunked\r\n")
            )
            .unwrap();
            let chunk = vec![b' '; 64 * 1024];
            for _ in 0..(server::limits::BODY_LIMIT / chunk.len() + 2) {
                write!(stream, "{:x}\r\n", chunk.len()).unwrap();
                stream.write_all(&chunk).unwrap();
                stream.write_all(b"\r\n").unwrap();
            }
            let mut response = Vec::new();
            let mut buffer = [0u8; 4096];
            while !String::from_utf8_lossy(&response).contains("body_too_large") {
                match stream.read(&mut buffer) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => response.extend_from_slice(&buffer[..n]),
                }
            }
            response
        })
        .await;
    let response = String::from_utf8_lossy(&response);
    assert!(response.starts_with("HTTP/1.1 413"), "{response}");
    assert!(response.contains("body_too_large"), "{response}");
}

#[tokio::test]
async fn the_logo_upload_has_its_own_larger_limit() {
    let app = spawn_app().await;
    let cookie = app.session_cookie("admin").await;
    let response = app
        .browser()
        .post(app.url("/admin/branding/logo"))
        .header("Cookie", &cookie)
        .header(CONTENT_TYPE, "multipart/form-data; boundary=x")
        .header(CONTENT_LENGTH, (server::limits::BODY_LIMIT * 2).to_string())
        .body(vec![b'x'; server::limits::BODY_LIMIT * 2])
        .send()
        .await
        .unwrap();
    // Past the forms' limit, within the logo's: the upload route itself judges it.
    assert_ne!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
}

/// A client of a second organization of the demo observatory, with one request of its own.
async fn second_organization(app: &TestApp) -> (Viewer, String) {
    app.add_client_of_another_organization().await;
    let db = &app.db.db;
    let config = app::backend::config::Config::load(None, |_| None).unwrap();
    let viewer = common::signed_in(db, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD).await;
    let opened = tickets::open_ticket(
        db,
        &app::backend::events::EventBus::new(),
        &config,
        &viewer,
        NewTicket {
            organization_id: None,
            request_type: RequestType::Repair,
            telescope_id: None,
            priority: Priority::High,
            subject: "",
            comment: "La montura de Vega no responde",
            attachments: &[],
        },
    )
    .await
    .unwrap();
    (viewer, opened.number)
}

/// The status and text of `path` as `client` gets it.
async fn status_of(app: &TestApp, client: &reqwest::Client, path: &str) -> (StatusCode, String) {
    let response = client.get(app.url(path)).send().await.unwrap();
    (response.status(), response.text().await.unwrap())
}

#[tokio::test]
async fn what_does_not_exist_or_is_not_yours_is_a_404_page() {
    let app = spawn_app().await;
    let (vega, vega_ticket) = second_organization(&app).await;
    let vega_browser = app.browser();
    app.sign_in(&vega_browser, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD)
        .await;
    let orion_browser = app.signed_in_browser("client").await;

    // The owner sees the ticket: the positive control.
    let (status, page) = status_of(&app, &vega_browser, &format!("/tickets/{vega_ticket}")).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains("La montura de Vega no responde"));
    // Another organization's client: the same number does not exist.
    let (status, page) = status_of(&app, &orion_browser, &format!("/tickets/{vega_ticket}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains("La montura de Vega"));
    let (status, _) = status_of(&app, &vega_browser, "/tickets/OBS-2026-99999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Telescopes likewise: Orión's first telescope is Orión's, not Vega's.
    let db = &app.db.db;
    let orion_org = db
        .organizations(vega.observatory_id)
        .await
        .unwrap()
        .into_iter()
        .find(|o| Some(o.id) != vega.organization_id)
        .unwrap();
    let telescope = db
        .telescopes(vega.observatory_id, orion_org.id)
        .await
        .unwrap()
        .remove(0);
    let path = format!("/telescopes/{}", telescope.id);
    let (status, page) = status_of(&app, &orion_browser, &path).await;
    assert_eq!(status, StatusCode::OK);
    assert!(page.contains(&telescope.name));
    let (status, page) = status_of(&app, &vega_browser, &path).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(!page.contains(&telescope.model));
    let (status, _) = status_of(&app, &vega_browser, "/telescopes/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // An organization's administration page that does not exist.
    let admin = app.signed_in_browser("admin").await;
    let (status, _) = status_of(&app, &admin, &format!("/admin/clients/{}", orion_org.id)).await;
    assert_eq!(status, StatusCode::OK);
    let (status, _) = status_of(&app, &admin, "/admin/clients/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn pages_that_need_signing_in_redirect_there() {
    let app = spawn_app().await;
    for path in [
        "/",
        "/tickets/new",
        "/tickets/OBS-2026-00001",
        "/telescopes/1",
        "/account",
        "/admin/clients",
        "/admin/clients/1",
        "/admin/people",
        "/admin/branding",
        "/admin/outbox",
    ] {
        let response = app.get_page(&app.browser(), path).await;
        assert!(
            response.status().is_redirection(),
            "{path}: {}",
            response.status()
        );
        assert_eq!(response.headers()[LOCATION], "/sign-in", "{path}");
    }
    // Positive control: the sign-in page itself is a page.
    let (status, _) = status_of(&app, &app.browser(), "/sign-in").await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn a_request_that_outlasts_its_time_limit_is_ended_with_408() {
    let app = spawn_app_with(|config| {
        config.request_time_limit = std::time::Duration::from_secs(1);
    })
    .await;
    let started = std::time::Instant::now();
    // A body announced and never finished: a slow client holding a connection open.
    let response = app
        .over_raw_tcp(|stream, addr| {
            write!(
                stream,
                "{}{{\"comment\":",
                post_tickets_head(addr, "Content-Length: 100\r\n")
            )
            .unwrap();
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            response
        })
        .await;
    assert!(response.starts_with("HTTP/1.1 408"), "{response}");
    assert!(response.contains("request_timeout"), "{response}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10));

    // Positive control: a request that finishes in time is answered on its merits.
    let quick = app
        .program()
        .get(app.url("/api/v1/tickets"))
        .send()
        .await
        .unwrap();
    assert_eq!(quick.status(), StatusCode::UNAUTHORIZED);
}
