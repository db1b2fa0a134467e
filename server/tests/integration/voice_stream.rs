//! The pages' voice WebSocket (`/voice/stream`) over a real connection: a recording streamed in
//! pieces survives a dropped connection and a gap, arrives whole, and is sent with a reply or a
//! new request; it stays its author's; other sites and the signed-out cannot open the stream.

use crate::common;

use common::{spawn_app, spawn_app_with, TestApp, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD};
use futures_util::{SinkExt, StreamExt};
use reqwest::header::COOKIE;
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::time::Duration;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

const VOICE_WEBM: &[u8] = include_bytes!("../fixtures/voice.webm");
const KEY: &str = "3f2b8c1e-0d7a-4c55-9b1e-2a6f0c9d8e71";

/// Opens the stream with the headers a browser sends from the portal's page.
async fn connect(app: &TestApp, cookie: Option<&str>, origin: &str) -> Result<Socket, u16> {
    let url = app.url("/voice/stream").replacen("http://", "ws://", 1);
    let mut request = url.into_client_request().unwrap();
    request
        .headers_mut()
        .insert("origin", origin.parse().unwrap());
    if let Some(cookie) = cookie {
        request
            .headers_mut()
            .insert("cookie", cookie.parse().unwrap());
    }
    match tokio_tungstenite::connect_async(request).await {
        Ok((socket, _)) => Ok(socket),
        Err(tokio_tungstenite::tungstenite::Error::Http(response)) => {
            Err(response.status().as_u16())
        }
        Err(other) => panic!("the stream could not be opened: {other}"),
    }
}

async fn send_json(socket: &mut Socket, message: Value) {
    socket
        .send(Message::Text(message.to_string().into()))
        .await
        .unwrap();
}

async fn send_chunk(socket: &mut Socket, seq: u32, bytes: &[u8]) {
    let mut frame = seq.to_be_bytes().to_vec();
    frame.extend_from_slice(bytes);
    socket.send(Message::Binary(frame.into())).await.unwrap();
}

/// The next JSON message from the server (pings skipped).
async fn next_json(socket: &mut Socket) -> Value {
    loop {
        let message = tokio::time::timeout(Duration::from_secs(30), socket.next())
            .await
            .expect("the server answers within 30 s")
            .expect("the connection stays open")
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(text.as_str()).unwrap();
        }
    }
}

/// The next message of `kind`, skipping partial texts.
async fn expect(socket: &mut Socket, kind: &str) -> Value {
    loop {
        let message = next_json(socket).await;
        if message["type"] == "partial" && kind != "partial" {
            continue;
        }
        assert_eq!(message["type"], kind, "{message}");
        return message;
    }
}

fn start(key: &str) -> Value {
    json!({"type": "start", "key": key, "format": "audio/webm;codecs=opus", "language": "es"})
}

fn pieces(bytes: &[u8], count: usize) -> Vec<&[u8]> {
    bytes.chunks(bytes.len().div_ceil(count)).collect()
}

/// A browser client of the session `cookie` (the same person as the stream's).
fn browser_of(app: &TestApp, cookie: &str) -> Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", app.url("").trim_end_matches('/').parse().unwrap());
    headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
    headers.insert(COOKIE, cookie.parse().unwrap());
    Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

async fn open_request(
    app: &TestApp,
    browser: &Client,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut form = vec![
        ("request_type", "repair"),
        ("priority", "medium"),
        ("subject", ""),
    ];
    form.extend_from_slice(fields);
    browser
        .post(app.url("/api/tickets/open"))
        .form(&form)
        .send()
        .await
        .unwrap()
}

/// Streams the whole fixture under `key` in `count` pieces and stops: the `final` message.
async fn stream_whole(app: &TestApp, cookie: &str, key: &str, count: usize) -> Value {
    let mut socket = connect(app, Some(cookie), &origin(app)).await.unwrap();
    send_json(&mut socket, start(key)).await;
    assert_eq!(expect(&mut socket, "ready").await["next"], 0);
    let chunks = pieces(VOICE_WEBM, count);
    for (seq, piece) in chunks.iter().enumerate() {
        send_chunk(&mut socket, seq as u32, piece).await;
        assert_eq!(expect(&mut socket, "ack").await["seq"], seq);
    }
    send_json(&mut socket, json!({"type": "stop", "chunks": chunks.len()})).await;
    expect(&mut socket, "stored").await;
    expect(&mut socket, "final").await
}

fn origin(app: &TestApp) -> String {
    app.url("").trim_end_matches('/').to_string()
}

#[tokio::test]
async fn a_recording_streamed_in_pieces_survives_a_dropped_connection_and_goes_with_a_reply() {
    let app = spawn_app().await;
    let cookie = app.session_cookie("client").await;
    let browser = browser_of(&app, &cookie);
    let opened = open_request(&app, &browser, &[("comment", "La cúpula no gira.")]).await;
    assert_eq!(opened.status(), StatusCode::OK);
    let number: String = opened.json().await.unwrap();
    let chunks = pieces(VOICE_WEBM, 6);

    let mut socket = connect(&app, Some(&cookie), &origin(&app)).await.unwrap();
    send_json(&mut socket, start(KEY)).await;
    let ready = expect(&mut socket, "ready").await;
    assert_eq!(ready["next"], 0);
    assert_eq!(ready["max_seconds"], 300);
    for (seq, piece) in chunks.iter().enumerate().take(3) {
        send_chunk(&mut socket, seq as u32, piece).await;
        assert_eq!(expect(&mut socket, "ack").await["seq"], seq);
    }
    // The connection drops (a tunnel, a locked phone); the browser comes back with the key.
    drop(socket);
    let mut socket = connect(&app, Some(&cookie), &origin(&app)).await.unwrap();
    send_json(&mut socket, start(KEY)).await;
    assert_eq!(expect(&mut socket, "ready").await["next"], 3);
    // A chunk after a gap is not taken: the server says where to go on from.
    send_chunk(&mut socket, 5, chunks[5]).await;
    assert_eq!(expect(&mut socket, "ready").await["next"], 3);
    // A chunk sent twice is acknowledged again and stored once.
    send_chunk(&mut socket, 2, chunks[2]).await;
    assert_eq!(expect(&mut socket, "ack").await["seq"], 2);
    // Stopping with chunks missing asks for them.
    send_json(&mut socket, json!({"type": "stop", "chunks": chunks.len()})).await;
    assert_eq!(expect(&mut socket, "ready").await["next"], 3);
    for (seq, piece) in chunks.iter().enumerate().skip(3) {
        send_chunk(&mut socket, seq as u32, piece).await;
        assert_eq!(expect(&mut socket, "ack").await["seq"], seq);
    }
    send_json(&mut socket, json!({"type": "stop", "chunks": chunks.len()})).await;
    let stored = expect(&mut socket, "stored").await;
    let duration = stored["duration_ms"].as_u64().unwrap();
    assert!((1500..=2600).contains(&duration), "{stored}");
    let done = expect(&mut socket, "final").await;
    // No engine is configured in this test: the audio is kept, and it says so.
    assert_eq!(done["state"], "unavailable", "{done}");
    assert_eq!(done["text"], Value::Null);

    // The key is its author's: another person cannot send it.
    app.add_client_of_another_organization().await;
    let other = app.browser();
    app.sign_in(&other, OTHER_CLIENT_EMAIL, OTHER_CLIENT_PASSWORD)
        .await;
    let stolen = open_request(
        &app,
        &other,
        &[
            ("comment", ""),
            ("voice_recording", KEY),
            ("voice_text", "robado"),
        ],
    )
    .await;
    assert!(!stolen.status().is_success());
    let refusal = stolen.text().await.unwrap();
    assert!(
        refusal.contains("ErrorVoiceRecordingIncomplete"),
        "{refusal}"
    );

    // Its author sends it with a reply whose typed text is empty: the recording is the reply.
    let reply = browser
        .post(app.url("/api/tickets/message"))
        .form(&[
            ("number", number.as_str()),
            ("body", ""),
            ("voice_recording", KEY),
            ("voice_text", "La cúpula hace un ruido extraño al girar"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        reply.status(),
        StatusCode::OK,
        "{}",
        reply.text().await.unwrap()
    );
    let page = app
        .get_page(&browser, &format!("/tickets/{number}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(page.contains("La cúpula hace un ruido extraño al girar"));
    assert!(page.contains("<audio"), "the ticket page has the player");
    // Sent once: the same key cannot be sent again.
    let again = browser
        .post(app.url("/api/tickets/message"))
        .form(&[
            ("number", number.as_str()),
            ("body", ""),
            ("voice_recording", KEY),
        ])
        .send()
        .await
        .unwrap();
    assert!(!again.status().is_success());
}

#[tokio::test]
async fn a_request_can_be_only_a_recording_and_takes_its_subject_from_the_words() {
    let app = spawn_app().await;
    let cookie = app.session_cookie("client").await;
    let browser = browser_of(&app, &cookie);
    stream_whole(&app, &cookie, KEY, 3).await;
    let opened = open_request(
        &app,
        &browser,
        &[
            ("comment", ""),
            ("voice_recording", KEY),
            ("voice_text", "El telescopio no abre la cúpula desde ayer"),
        ],
    )
    .await;
    assert_eq!(opened.status(), StatusCode::OK);
    let number: String = opened.json().await.unwrap();
    let page = app
        .get_page(&browser, &format!("/tickets/{number}"))
        .await
        .text()
        .await
        .unwrap();
    let title = page
        .split("<title>")
        .nth(1)
        .unwrap_or("")
        .split("</title>")
        .next();
    assert!(
        title.is_some_and(|t| t.ends_with("· El telescopio no abre la cúpula desde ayer")),
        "the subject: {title:?}"
    );
    assert!(page.contains("<audio"));
    // Without a recording, an empty comment is still refused.
    let empty = open_request(&app, &browser, &[("comment", "")]).await;
    assert!(!empty.status().is_success());
}

#[tokio::test]
async fn what_is_not_audio_or_is_too_long_is_refused_at_stop_with_a_clear_message() {
    let app = spawn_app_with(|config| config.max_voice_duration = Duration::from_secs(1)).await;
    let cookie = app.session_cookie("client").await;

    let mut socket = connect(&app, Some(&cookie), &origin(&app)).await.unwrap();
    send_json(&mut socket, start("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa1")).await;
    expect(&mut socket, "ready").await;
    send_chunk(
        &mut socket,
        0,
        b"%PDF-1.7\n1 0 obj << /Type /Catalog >> endobj\n",
    )
    .await;
    expect(&mut socket, "ack").await;
    send_json(&mut socket, json!({"type": "stop", "chunks": 1})).await;
    let refused = expect(&mut socket, "error").await;
    assert_eq!(refused["code"], "voice_not_audio", "{refused}");
    assert!(refused["message"]
        .as_str()
        .unwrap()
        .contains("no es una grabación de audio"));

    // Two seconds of audio where one is the most.
    send_json(&mut socket, start("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa2")).await;
    expect(&mut socket, "ready").await;
    send_chunk(&mut socket, 0, VOICE_WEBM).await;
    expect(&mut socket, "ack").await;
    send_json(&mut socket, json!({"type": "stop", "chunks": 1})).await;
    let refused = expect(&mut socket, "error").await;
    assert_eq!(refused["code"], "voice_too_long", "{refused}");

    // A format that is not a recording is refused at start.
    send_json(
        &mut socket,
        json!({"type": "start", "key": KEY, "format": "application/pdf"}),
    )
    .await;
    assert_eq!(
        expect(&mut socket, "error").await["code"],
        "voice_not_audio"
    );
}

#[tokio::test]
async fn only_the_portals_own_signed_in_pages_open_the_voice_stream() {
    let app = spawn_app().await;
    let cookie = app.session_cookie("client").await;
    // Positive control: the portal's page, signed in.
    let mut socket = connect(&app, Some(&cookie), &origin(&app)).await.unwrap();
    send_json(&mut socket, start(KEY)).await;
    expect(&mut socket, "ready").await;
    // Another site's page, with the person's cookie (cross-site WebSocket hijacking).
    assert_eq!(
        connect(&app, Some(&cookie), "https://evil.example")
            .await
            .err(),
        Some(403)
    );
    // Signed out.
    assert_eq!(connect(&app, None, &origin(&app)).await.err(), Some(401));
    // The page itself still loads for the signed-in person (the route is not a page).
    let page = app.get_page(&browser_of(&app, &cookie), "/").await;
    assert_eq!(page.status(), StatusCode::OK);
}
