//! `cupula backup` while the portal takes new requests, and `cupula restore` into an empty
//! data dir: every request acknowledged before the backup began comes back, with its files.

use crate::common::api_key;
use crate::common::process::{free_port, settings, start};
use app::backend::demo;
use app::backend::storage::testing::{engine_name, fresh_database};
use reqwest::header::AUTHORIZATION;
use reqwest::StatusCode;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

const PNG: &[u8] = include_bytes!("../fixtures/logo.png");

/// `cupula` with these settings (and nothing else of the environment).
fn cupula(settings: &HashMap<&'static str, String>, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_cupula"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(settings.iter())
        .env("RUST_LOG", "warn")
        .output()
        .unwrap()
}

/// `GET` through the REST API with `key`.
async fn get(http: &reqwest::Client, url: String, key: &str) -> reqwest::Response {
    http.get(url)
        .header(AUTHORIZATION, format!("Bearer {key}"))
        .send()
        .await
        .unwrap()
}

/// Opens a request through the REST API; its number once the server acknowledged it.
async fn open(http: &reqwest::Client, base: &str, key: &str, n: usize) -> Option<String> {
    let response = http
        .post(format!("{base}/api/v1/tickets"))
        .header(AUTHORIZATION, format!("Bearer {key}"))
        .json(&json!({
            "request_type": "repair", "priority": 5,
            "subject": format!("Petición {n}"), "comment": "El seguimiento se pierde."
        }))
        .send()
        .await
        .ok()?;
    if response.status() != StatusCode::CREATED {
        return None;
    }
    let body: Value = response.json().await.ok()?;
    body["number"].as_str().map(str::to_string)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_taken_under_load_restores_every_acknowledged_request_and_file() {
    let test_db = fresh_database().await.unwrap();
    let accounts = demo::seed_if_empty(&test_db.db).await.unwrap().unwrap();
    let client = accounts.iter().find(|a| a.role.code() == "client").unwrap();
    let (_, key) = api_key(&test_db.db, &client.email, &client.password).await;
    let data = tempfile::tempdir().unwrap();
    let port = free_port();
    let serving = settings(data.path(), &test_db.url, port);
    let work = tempfile::tempdir().unwrap();
    let archive = work.path().join("cupula-backup.tar");

    if engine_name() == "postgres" {
        // PostgreSQL is copied with its own tools; the command says so and writes nothing.
        let refused = cupula(&serving, &["backup", archive.to_str().unwrap()]);
        assert!(!refused.status.success());
        assert!(String::from_utf8_lossy(&refused.stderr).contains("pg_dump"));
        assert!(!archive.exists());
        return;
    }

    let _server = start(&serving);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    // A request with a photo, so the files come along.
    let with_photo = open(&http, &base, &key, 0).await.unwrap();
    let form = reqwest::multipart::Form::new().part(
        "file",
        reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("cúpula.png"),
    );
    let attached = http
        .post(format!("{base}/api/v1/tickets/{with_photo}/attachments"))
        .header(AUTHORIZATION, format!("Bearer {key}"))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(attached.status(), StatusCode::CREATED);

    // Writers go on while the backup is taken.
    let acknowledged = Arc::new(Mutex::new(vec![with_photo.clone()]));
    let stop = Arc::new(AtomicBool::new(false));
    let mut writers = Vec::new();
    for writer in 0..4 {
        let (http, base, key) = (http.clone(), base.clone(), key.clone());
        let (acknowledged, stop) = (acknowledged.clone(), stop.clone());
        writers.push(tokio::spawn(async move {
            let mut n = 1 + writer * 10_000;
            while !stop.load(Ordering::SeqCst) {
                if let Some(number) = open(&http, &base, &key, n).await {
                    acknowledged.lock().unwrap().push(number);
                }
                n += 1;
            }
        }));
    }
    while acknowledged.lock().unwrap().len() < 40 {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    // Acknowledged before the backup began: each one must come back.
    let before_backup: Vec<String> = acknowledged.lock().unwrap().clone();
    let backed_up = {
        let serving = serving.clone();
        let archive = archive.clone();
        tokio::task::spawn_blocking(move || {
            cupula(&serving, &["backup", archive.to_str().unwrap()])
        })
        .await
        .unwrap()
    };
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(
        backed_up.status.success(),
        "{}",
        String::from_utf8_lossy(&backed_up.stderr)
    );
    let written_during = acknowledged.lock().unwrap().len() - before_backup.len();
    assert!(written_during > 0, "the writers went on during the backup");
    // A second backup to the same file never overwrites the first.
    let again = cupula(&serving, &["backup", archive.to_str().unwrap()]);
    assert!(!again.status.success());

    // Restored into an empty data dir, checked, and served.
    let restored_dir = tempfile::tempdir().unwrap();
    let restored_url = format!(
        "sqlite://{}",
        restored_dir.path().join("cupula.db").display()
    );
    let restored_port = free_port();
    let restored = settings(restored_dir.path(), &restored_url, restored_port);
    let restoring = cupula(&restored, &["restore", archive.to_str().unwrap()]);
    assert!(
        restoring.status.success(),
        "{}",
        String::from_utf8_lossy(&restoring.stderr)
    );
    // The photo, and the preview made of it.
    let said = String::from_utf8_lossy(&restoring.stdout);
    assert!(said.contains(" attached files, all checked"), "{said}");
    assert!(!said.contains(" 0 attached files"), "{said}");
    // Not twice into the same place.
    let twice = cupula(&restored, &["restore", archive.to_str().unwrap()]);
    assert!(!twice.status.success());

    let _restored_server = start(&restored);
    let restored_base = format!("http://127.0.0.1:{restored_port}");
    for number in &before_backup {
        let found = get(
            &http,
            format!("{restored_base}/api/v1/tickets/{number}"),
            &key,
        )
        .await;
        assert_eq!(found.status(), StatusCode::OK, "{number} was acknowledged");
    }
    let attachments = format!("{restored_base}/api/v1/tickets/{with_photo}/attachments");
    let files: Value = get(&http, attachments, &key).await.json().await.unwrap();
    let photo = files[0]["id"].as_str().unwrap();
    let bytes = get(
        &http,
        format!("{restored_base}/api/v1/attachments/{photo}"),
        &key,
    )
    .await
    .bytes()
    .await
    .unwrap();
    assert_eq!(&bytes[..], PNG, "the photo comes back byte for byte");
}
