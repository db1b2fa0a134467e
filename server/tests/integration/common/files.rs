//! Files over HTTP as a tus client sends them, shared by the files and previews tests.

use super::TestApp;
use reqwest::header::{CONTENT_TYPE, LOCATION};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

pub fn base64(text: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A ticket opened by the demo client through the API; its number.
pub async fn open_ticket(app: &TestApp, client: &Client) -> String {
    let opened: Value = client
        .post(app.url("/api/v1/tickets"))
        .json(&json!({ "request_type": "repair", "priority": 5, "comment": "La cúpula no cierra" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    opened["number"].as_str().unwrap().to_string()
}

/// `POST /api/v1/uploads` as a tus client: the upload's address.
pub async fn begin(app: &TestApp, client: &Client, name: &str, length: usize) -> reqwest::Response {
    client
        .post(app.url("/api/v1/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", length.to_string())
        .header("Upload-Metadata", format!("filename {}", base64(name)))
        .send()
        .await
        .unwrap()
}

pub async fn location(app: &TestApp, client: &Client, name: &str, length: usize) -> String {
    let created = begin(app, client, name, length).await;
    assert_eq!(created.status(), StatusCode::CREATED);
    assert_eq!(created.headers()["tus-resumable"], "1.0.0");
    assert!(created.headers().contains_key("upload-expires"));
    created.headers()[LOCATION].to_str().unwrap().to_string()
}

pub async fn patch(
    app: &TestApp,
    client: &Client,
    upload: &str,
    offset: usize,
    bytes: &[u8],
) -> reqwest::Response {
    client
        .patch(app.url(upload))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", offset.to_string())
        .header(CONTENT_TYPE, "application/offset+octet-stream")
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap()
}

pub async fn server_offset(
    app: &TestApp,
    client: &Client,
    upload: &str,
) -> (StatusCode, Option<u64>) {
    let head = client
        .head(app.url(upload))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    let offset = head
        .headers()
        .get("upload-offset")
        .map(|v| v.to_str().unwrap().parse().unwrap());
    (head.status(), offset)
}

/// Uploads `bytes` whole in one `PATCH`: the staged attachment's id.
pub async fn upload(app: &TestApp, client: &Client, name: &str, bytes: &[u8]) -> String {
    let upload = location(app, client, name, bytes.len()).await;
    let done = patch(app, client, &upload, 0, bytes).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT, "{name}");
    done.headers()["cupula-attachment-id"]
        .to_str()
        .unwrap()
        .to_string()
}

pub async fn attach(
    app: &TestApp,
    client: &Client,
    number: &str,
    ids: &[&str],
) -> reqwest::Response {
    client
        .post(app.url(&format!("/api/v1/tickets/{number}/attachments")))
        .json(&json!({ "attachments": ids }))
        .send()
        .await
        .unwrap()
}
