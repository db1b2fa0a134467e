//! The `cupula` server killed (SIGKILL) in the middle of uploads: a resumable upload and a form
//! whose file was still arriving. Nothing half-received is attached; the resumable upload goes
//! on after the restart from the server's last checkpoint into a byte-identical file; and once
//! the cleanup has run, the store holds no file that nothing names.

use crate::common::process::{free_port, settings, start};
use app::backend::attachments;
use app::backend::config::Config;
use app::backend::demo;
use app::backend::files::FileStore;
use app::backend::storage::testing::fresh_database;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const MIB: usize = 1024 * 1024;

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Bytes no compression or pattern could stand in for.
fn random_bytes(len: usize) -> Vec<u8> {
    let mut state = 0x9E37_79B9_7F4A_7C15u64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// Sends a request's head and the first `sent` bytes of its body, then keeps the connection
/// open without sending more: a request in the middle of its body.
async fn stalled_request(port: u16, head: String, body: Vec<u8>) -> tokio::task::JoinHandle<()> {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    tokio::spawn(async move {
        if stream.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let _ = stream.write_all(&body).await;
        // Hold the connection until the server dies.
        let mut rest = Vec::new();
        let _ = stream.read_to_end(&mut rest).await;
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_killed_mid_upload_attaches_nothing_and_leaves_no_orphan_file() {
    let test_db = fresh_database().await.unwrap();
    let accounts = demo::seed_if_empty(&test_db.db).await.unwrap().unwrap();
    let client_account = accounts.iter().find(|a| a.role.code() == "client").unwrap();
    let data_dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let base = format!("http://127.0.0.1:{port}");
    let settings = settings(data_dir.path(), &test_db.url, port);
    let config = Config::load(None, |name| settings.get(name).cloned()).unwrap();
    let store = FileStore::from_config(&config).unwrap();
    let mut server = start(&settings);

    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert("origin", base.parse().unwrap());
    headers.insert("sec-fetch-site", "same-origin".parse().unwrap());
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let signed_in = client
        .post(format!("{base}/api/sign_in"))
        .form(&[
            ("email", client_account.email.as_str()),
            ("password", client_account.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    let cookie = signed_in
        .headers()
        .get_all(reqwest::header::SET_COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with("cupula_session="))
        .and_then(|v| v.split(';').next())
        .expect("a session cookie")
        .to_string();
    let opened: Value = client
        .post(format!("{base}/api/v1/tickets"))
        .header("cookie", &cookie)
        .json(&json!({ "request_type": "repair", "priority": 5, "comment": "La cúpula no cierra" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let number = opened["number"].as_str().unwrap().to_string();

    // A resumable upload of 40 MiB (a long log as a PDF), 20 MiB of it sent (past the 16 MiB checkpoint), then
    // the connection waits.
    let mut video = b"%PDF-1.4\n".to_vec();
    video.extend(random_bytes(40 * MIB - video.len()));
    let created = client
        .post(format!("{base}/api/v1/uploads"))
        .header("cookie", &cookie)
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Length", video.len().to_string())
        .header("Upload-Metadata", "filename cmVnaXN0cm8ucGRm")
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), reqwest::StatusCode::CREATED);
    let upload = created.headers()["location"].to_str().unwrap().to_string();
    let tus_head = format!(
        "PATCH {upload} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\nOrigin: {base}\r\n\
         Sec-Fetch-Site: same-origin\r\nTus-Resumable: 1.0.0\r\nUpload-Offset: 0\r\n\
         Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
        video.len()
    );
    let _tus = stalled_request(port, tus_head, video[..20 * MIB].to_vec()).await;

    // A reply posted as a plain form, its file half sent.
    let boundary = "cupulaBoundary7MA4YWxk";
    let mut form = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"number\"\r\n\r\n{number}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"body\"\r\n\r\nFoto del foco\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"foco.png\"\r\n\
         Content-Type: image/png\r\n\r\n"
    )
    .into_bytes();
    form.extend_from_slice(&[0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n']);
    form.extend(random_bytes(3 * MIB));
    let form_head = format!(
        "POST /api/tickets/message HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nCookie: {cookie}\r\n\
         Origin: {base}\r\nSec-Fetch-Site: same-origin\r\nAccept: text/html\r\n\
         Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n",
        form.len() + 5 * MIB
    );
    let _form = stalled_request(port, form_head, form).await;

    // Killed once the server holds bytes of both: the upload's checkpoint, the form's file.
    let offset_of = |client: reqwest::Client, cookie: String, url: String| async move {
        let answer = client
            .head(url)
            .header("cookie", cookie)
            .header("Tus-Resumable", "1.0.0")
            .send()
            .await
            .unwrap();
        answer.headers()["upload-offset"]
            .to_str()
            .unwrap()
            .parse::<usize>()
            .unwrap()
    };
    let partial_dir = data_dir.path().join("files").join("partial");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let offset = offset_of(client.clone(), cookie.clone(), format!("{base}{upload}")).await;
        let partial_bytes: u64 = std::fs::read_dir(&partial_dir)
            .map(|dir| {
                dir.filter_map(Result::ok)
                    .filter_map(|e| e.metadata().ok())
                    .map(|m| m.len())
                    .sum()
            })
            .unwrap_or(0);
        // Both uploads have begun (an unfinished upload's row counts as expired far ahead).
        let began = test_db
            .db
            .expired_uploads(chrono::Utc::now() + chrono::Duration::days(30))
            .await
            .unwrap()
            .len();
        // A local store writes the form's bytes as they come; object storage holds them until
        // a part is full, so only its row can be awaited.
        let form_bytes_stored =
            matches!(store, FileStore::S3(_)) || partial_bytes >= (20 * MIB + 2 * MIB) as u64;
        if offset >= 16 * MIB && began == 2 && form_bytes_stored {
            break;
        }
        assert!(Instant::now() < deadline, "the uploads did not arrive");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();

    let _server = start(&settings);
    let listed: Value = client
        .get(format!("{base}/api/v1/tickets/{number}/attachments"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed, json!([]), "nothing half-received is attached");

    // The upload resumes from its checkpoint once the dead writer's lease has lapsed.
    let offset = offset_of(client.clone(), cookie.clone(), format!("{base}{upload}")).await;
    assert!((16 * MIB..=20 * MIB).contains(&offset), "{offset}");
    let deadline = Instant::now() + Duration::from_secs(90);
    let finished = loop {
        let answer = client
            .patch(format!("{base}{upload}"))
            .header("cookie", &cookie)
            .header("Tus-Resumable", "1.0.0")
            .header("Upload-Offset", offset.to_string())
            .header("Content-Type", "application/offset+octet-stream")
            .body(video[offset..].to_vec())
            .send()
            .await;
        // While locked the server answers 409 before reading the body and closes the
        // connection, so the client may see its write fail instead of the answer: the uploader
        // retries both alike.
        match answer {
            Ok(answer) if answer.status() != reqwest::StatusCode::CONFLICT => break answer,
            Ok(_) => {}
            Err(err) if err.is_request() => {}
            Err(err) => panic!("{err}"),
        }
        assert!(Instant::now() < deadline, "the upload stayed locked");
        tokio::time::sleep(Duration::from_secs(2)).await;
    };
    assert_eq!(finished.status(), reqwest::StatusCode::NO_CONTENT);
    let attachment_id = finished.headers()["cupula-attachment-id"]
        .to_str()
        .unwrap()
        .to_string();
    let attached = client
        .post(format!("{base}/api/v1/tickets/{number}/attachments"))
        .header("cookie", &cookie)
        .json(&json!({ "attachments": [attachment_id] }))
        .send()
        .await
        .unwrap();
    assert_eq!(attached.status(), reqwest::StatusCode::CREATED);
    let files: Value = attached.json().await.unwrap();
    assert_eq!(files[0]["sha256"], sha256_hex(&video));
    let downloaded = client
        .get(format!("{base}{}", files[0]["url"].as_str().unwrap()))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(sha256_hex(&downloaded), sha256_hex(&video));

    // The cleanup, a day later (when the form's never-finished upload has expired): the store
    // holds the one attached file and nothing else.
    let later = chrono::Utc::now() + chrono::Duration::hours(25);
    attachments::purge_expired(&test_db.db, &store, later)
        .await
        .unwrap();
    attachments::remove_orphans(&test_db.db, &store, later)
        .await
        .unwrap();
    let left = store.list().await.unwrap();
    assert_eq!(left.len(), 1, "{left:?}");
    assert!(!left[0].partial);
}
