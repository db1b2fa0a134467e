//! Previews over HTTP: served as the download is (same rights, nosniff, sandboxing CSP, a
//! private cache), 404 while there is none and for anyone who may not see the file; and video
//! served with ranges for the browser's player.

use crate::common;

use common::files::{attach, open_ticket, upload};
use common::{spawn_app, TestApp};
use reqwest::header::{
    CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_RANGE, CONTENT_SECURITY_POLICY, CONTENT_TYPE, RANGE,
};
use reqwest::{Client, StatusCode};
use serde_json::Value;

/// 640 × 320.
const WIDE_JPEG: &[u8] = include_bytes!("../fixtures/wide.jpg");
/// Two seconds of VP8 in WebM.
const WEBM: &[u8] = include_bytes!("../../../end2end/fixtures/clip.webm");

/// Uploads and attaches one file to the ticket (tus, then the attach call): its id.
async fn attach_file(
    app: &TestApp,
    client: &Client,
    number: &str,
    name: &str,
    bytes: &[u8],
) -> String {
    let id = upload(app, client, name, bytes).await;
    assert_eq!(
        attach(app, client, number, &[&id]).await.status(),
        StatusCode::CREATED
    );
    id
}

/// Asks for the preview until it is made (it is made off the request path).
async fn preview_when_ready(app: &TestApp, client: &Client, id: &str) -> reqwest::Response {
    let started = std::time::Instant::now();
    loop {
        let response = client
            .get(app.url(&format!("/api/v1/attachments/{id}/preview")))
            .send()
            .await
            .unwrap();
        if response.status() != StatusCode::NOT_FOUND {
            return response;
        }
        assert!(started.elapsed().as_secs() < 60, "no preview of {id}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

async fn status_of(client: &Client, url: String) -> StatusCode {
    client.get(url).send().await.unwrap().status()
}

#[tokio::test]
async fn previews_are_served_like_downloads_and_are_not_found_for_other_organizations() {
    let app = spawn_app().await;
    let owner = app.signed_in_browser("client").await;
    let number = open_ticket(&app, &owner).await;
    let photo = attach_file(&app, &owner, &number, "montura.jpg", WIDE_JPEG).await;
    let video = attach_file(&app, &owner, &number, "cúpula.webm", WEBM).await;

    let preview = preview_when_ready(&app, &owner, &photo).await;
    assert_eq!(preview.status(), StatusCode::OK);
    let headers = preview.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "image/jpeg");
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers[CONTENT_SECURITY_POLICY],
        "sandbox; default-src 'none'"
    );
    assert!(headers[CACHE_CONTROL]
        .to_str()
        .unwrap()
        .starts_with("private"));
    assert!(headers[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    let bytes = preview.bytes().await.unwrap();
    assert!(bytes.starts_with(&[0xFF, 0xD8, 0xFF]), "a JPEG");
    let display = owner
        .get(app.url(&format!("/api/v1/attachments/{photo}/display")))
        .send()
        .await
        .unwrap();
    assert_eq!(display.status(), StatusCode::OK);
    assert_eq!(display.headers()[CONTENT_TYPE], "image/jpeg");

    // The list says which files have a preview; a video has none, and its address says so.
    let listed: Value = owner
        .get(app.url(&format!("/api/v1/tickets/{number}/attachments")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = listed.as_array().unwrap();
    let photo_entry = listed.iter().find(|f| f["id"] == photo.as_str()).unwrap();
    assert_eq!(
        photo_entry["preview_url"],
        format!("/api/v1/attachments/{photo}/preview")
    );
    let video_entry = listed.iter().find(|f| f["id"] == video.as_str()).unwrap();
    assert_eq!(video_entry["preview_url"], Value::Null);
    let none = owner
        .get(app.url(&format!("/api/v1/attachments/{video}/preview")))
        .send()
        .await
        .unwrap();
    assert_eq!(none.status(), StatusCode::NOT_FOUND);
    let error: Value = none.json().await.unwrap();
    assert_eq!(error["error"]["code"], "not_found");

    // A client of another organization of the same observatory, and a program without a key.
    let intruder = app.client_of_another_organization().await;
    let staff = app.signed_in_browser("agent").await;
    for picture in ["preview", "display"] {
        let url = app.url(&format!("/api/v1/attachments/{photo}/{picture}"));
        assert_eq!(status_of(&owner, url.clone()).await, StatusCode::OK);
        assert_eq!(status_of(&staff, url.clone()).await, StatusCode::OK);
        assert_eq!(
            status_of(&intruder, url.clone()).await,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            status_of(&app.program(), url).await,
            StatusCode::UNAUTHORIZED
        );
    }
}

#[tokio::test]
async fn video_plays_inline_with_the_ranges_a_player_asks_for() {
    let app = spawn_app().await;
    let owner = app.signed_in_browser("client").await;
    let number = open_ticket(&app, &owner).await;
    let video = attach_file(&app, &owner, &number, "cúpula.webm", WEBM).await;
    let url = app.url(&format!("/api/v1/attachments/{video}"));

    // What a browser's player sends first, then when the person seeks.
    let first = owner
        .get(&url)
        .header(RANGE, "bytes=0-")
        .send()
        .await
        .unwrap();
    assert_eq!(first.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(first.headers()[CONTENT_TYPE], "video/webm");
    assert!(first.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("inline"));
    assert_eq!(
        first.headers()[CONTENT_RANGE],
        format!("bytes 0-{}/{}", WEBM.len() - 1, WEBM.len())
    );
    assert_eq!(&first.bytes().await.unwrap()[..], WEBM);
    let seek = owner
        .get(&url)
        .header(RANGE, "bytes=4000-")
        .send()
        .await
        .unwrap();
    assert_eq!(seek.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&seek.bytes().await.unwrap()[..], &WEBM[4000..]);
}
