//! Files over HTTP as a tus client and a browser use them: resumable uploads cut off and
//! resumed, types from the bytes, attaching to a ticket, downloads with ranges and the headers
//! that keep a browser from running them, and other organizations' ids answering 404.

use crate::common;

use common::files::{
    attach, begin, location, open_ticket, patch, server_offset, sha256_hex, upload,
};
use common::{spawn_app, spawn_app_with, TestApp};
use reqwest::header::{CONTENT_DISPOSITION, CONTENT_SECURITY_POLICY, CONTENT_TYPE, LOCATION};
use reqwest::{Client, StatusCode};
use serde_json::{json, Value};
use std::io::{Read, Write};

const PNG: &[u8] = include_bytes!("../fixtures/logo.png");

fn pdf() -> Vec<u8> {
    let mut bytes = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\n".to_vec();
    bytes.extend(std::iter::repeat_n(b'x', 300_000));
    bytes.extend_from_slice(b"\n%%EOF\n");
    bytes
}

#[tokio::test]
async fn a_cut_upload_resumes_from_the_servers_offset_into_an_identical_file() {
    let app = spawn_app().await;
    let client = app.signed_in_browser("client").await;
    let cookie = app.session_cookie("client").await;
    let number = open_ticket(&app, &client).await;
    let file = pdf();

    // Discovery, as tus clients do.
    let options = client
        .request(reqwest::Method::OPTIONS, app.url("/api/v1/uploads"))
        .send()
        .await
        .unwrap();
    assert_eq!(options.status(), StatusCode::NO_CONTENT);
    assert_eq!(options.headers()["tus-version"], "1.0.0");
    assert!(options.headers()["tus-extension"]
        .to_str()
        .unwrap()
        .contains("creation"));

    let upload = location(&app, &client, "registro de la cúpula.pdf", file.len()).await;
    // Twice the connection drops in the middle of a PATCH: what arrived is kept.
    let mut sent = 0;
    for cut_after in [100_000, 90_000] {
        let (path, chunk, cookie, origin) = (
            upload.clone(),
            file[sent..].to_vec(),
            cookie.clone(),
            app.base.clone(),
        );
        let offset = sent;
        app.over_raw_tcp(move |stream, addr| {
            write!(
                stream,
                "PATCH {path} HTTP/1.1\r\nHost: {addr}\r\nCookie: {cookie}\r\nOrigin: {origin}\r\n\
                 Tus-Resumable: 1.0.0\r\nUpload-Offset: {offset}\r\n\
                 Content-Type: application/offset+octet-stream\r\nContent-Length: {}\r\n\r\n",
                chunk.len()
            )
            .unwrap();
            stream.write_all(&chunk[..cut_after]).unwrap();
            stream.flush().unwrap();
            // The network goes away: no more bytes, the connection closes.
            stream.shutdown(std::net::Shutdown::Write).unwrap();
            let mut answer = Vec::new();
            let _ = stream.read_to_end(&mut answer);
        })
        .await;
        // The server has exactly what reached it, and says so.
        let mut offset = None;
        for _ in 0..50 {
            let (status, now) = server_offset(&app, &client, &upload).await;
            assert_eq!(status, StatusCode::OK);
            offset = now;
            if offset == Some((sent + cut_after) as u64) {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
        assert_eq!(offset, Some((sent + cut_after) as u64));
        sent += cut_after;
    }
    // A resend from a stale offset is refused, then the rest from the server's offset completes.
    let stale = patch(&app, &client, &upload, 0, &file).await;
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    let done = patch(&app, &client, &upload, sent, &file[sent..]).await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);
    assert_eq!(done.headers()["upload-offset"], file.len().to_string());
    let id = done.headers()["cupula-attachment-id"]
        .to_str()
        .unwrap()
        .to_string();

    let attached = attach(&app, &client, &number, &[&id]).await;
    assert_eq!(attached.status(), StatusCode::CREATED);
    let ticket: Value = client
        .get(app.url(&format!("/api/v1/tickets/{number}")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let entry = ticket["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["kind"] == "attachment")
        .expect("an attachment entry");
    assert!(entry["body"]
        .as_str()
        .unwrap()
        .contains("registro de la cúpula.pdf"));
    assert_eq!(entry["attachments"][0]["id"], id);
    // The ticket's page lists the file with its download link.
    let page = app
        .get_page(&client, &format!("/tickets/{number}"))
        .await
        .text()
        .await
        .unwrap();
    assert!(
        page.contains(&format!("/api/v1/attachments/{id}")),
        "{page}"
    );
    assert!(page.contains("registro de la cúpula.pdf"));

    let listed: Value = client
        .get(app.url(&format!("/api/v1/tickets/{number}/attachments")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let listed = &listed[0];
    assert_eq!(listed["sha256"], sha256_hex(&file));
    assert_eq!(listed["size"], file.len());
    assert_eq!(listed["content_type"], "application/pdf");

    let download = client
        .get(app.url(listed["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let headers = download.headers().clone();
    assert_eq!(headers[CONTENT_TYPE], "application/pdf");
    assert!(headers[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    assert_eq!(
        headers[CONTENT_SECURITY_POLICY],
        "sandbox; default-src 'none'"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        sha256_hex(&download.bytes().await.unwrap()),
        sha256_hex(&file)
    );

    // A range, as a video player seeking asks for one.
    let range = client
        .get(app.url(listed["url"].as_str().unwrap()))
        .header("Range", "bytes=100-199")
        .send()
        .await
        .unwrap();
    assert_eq!(range.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&range.bytes().await.unwrap()[..], &file[100..200]);
}

#[tokio::test]
async fn the_type_comes_from_the_bytes_never_from_the_name() {
    let app = spawn_app().await;
    let client = app.signed_in_browser("client").await;
    let number = open_ticket(&app, &client).await;

    // A picture named as a PDF is a picture, shown inline.
    let png = upload(&app, &client, "informe.pdf", PNG).await;
    assert_eq!(
        attach(&app, &client, &number, &[&png]).await.status(),
        StatusCode::CREATED
    );
    let download = client
        .get(app.url(&format!("/api/v1/attachments/{png}")))
        .send()
        .await
        .unwrap();
    assert_eq!(download.headers()[CONTENT_TYPE], "image/png");
    assert!(download.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("inline;"));

    // An SVG drawing is kept, and only ever downloads: scripts in it never run in the portal.
    let drawing = b"<svg xmlns=\"http://www.w3.org/2000/svg\"><script>alert(1)</script></svg>";
    let svg = upload(&app, &client, "montura.svg", drawing).await;
    assert_eq!(
        attach(&app, &client, &number, &[&svg]).await.status(),
        StatusCode::CREATED
    );
    let download = client
        .get(app.url(&format!("/api/v1/attachments/{svg}")))
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    assert_eq!(download.headers()[CONTENT_TYPE], "image/svg+xml");
    assert!(download.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));
    let policy = download.headers()[CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(
        policy.contains("sandbox") && policy.contains("default-src 'none'"),
        "{policy}"
    );
    assert_eq!(download.headers()["x-content-type-options"], "nosniff");
    // Asked to show it inline, it still downloads.
    let inline = client
        .get(app.url(&format!("/api/v1/attachments/{svg}?inline=1")))
        .send()
        .await
        .unwrap();
    assert!(inline.headers()[CONTENT_DISPOSITION]
        .to_str()
        .unwrap()
        .starts_with("attachment;"));

    // A web page named as a photo, or as a drawing, is refused when its last byte arrives.
    for (name, bytes) in [
        (
            "foto.jpg",
            &b"<!DOCTYPE html><html><script>alert(1)</script></html>"[..],
        ),
        (
            "plano.svg",
            &b"<html><body><svg></svg><script>alert(1)</script></body></html>"[..],
        ),
    ] {
        let upload = location(&app, &client, name, bytes.len()).await;
        let refused = patch(&app, &client, &upload, 0, bytes).await;
        assert_eq!(
            refused.status(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "{name}"
        );
        let error: Value = refused.json().await.unwrap();
        assert_eq!(error["error"]["code"], "file_type_not_allowed");
        let (status, _) = server_offset(&app, &client, &upload).await;
        assert_eq!(status, StatusCode::NOT_FOUND, "a refused upload is gone");
    }
}

#[tokio::test]
async fn the_protocols_rules_and_the_limits_are_enforced() {
    let app = spawn_app_with(|config| config.max_file_bytes = 1000).await;
    let client = app.signed_in_browser("client").await;

    let no_version = client
        .post(app.url("/api/v1/uploads"))
        .header("Upload-Length", "10")
        .send()
        .await
        .unwrap();
    assert_eq!(no_version.status(), StatusCode::PRECONDITION_FAILED);
    let no_length = client
        .post(app.url("/api/v1/uploads"))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(no_length.status(), StatusCode::BAD_REQUEST);

    // Declared too large: refused before any byte.
    let too_large = begin(&app, &client, "vídeo.mp4", 1001).await;
    assert_eq!(too_large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let error: Value = too_large.json().await.unwrap();
    assert_eq!(error["error"]["code"], "file_too_large");

    // More bytes than declared: stopped at the declared length.
    let upload = location(&app, &client, "notas.txt", 10).await;
    let longer = patch(&app, &client, &upload, 0, b"0123456789 and more").await;
    assert_eq!(longer.status(), StatusCode::PAYLOAD_TOO_LARGE);

    // The body's content type is the protocol's.
    let upload = location(&app, &client, "notas.txt", 5).await;
    let wrong_type = client
        .patch(app.url(&upload))
        .header("Tus-Resumable", "1.0.0")
        .header("Upload-Offset", "0")
        .header(CONTENT_TYPE, "text/plain")
        .body("hola\n")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong_type.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    // Positive control: the same bytes as the protocol sends them.
    let done = patch(&app, &client, &upload, 0, b"hola\n").await;
    assert_eq!(done.status(), StatusCode::NO_CONTENT);

    // Ended early: gone.
    let upload = location(&app, &client, "borrador.txt", 5).await;
    let ended = client
        .delete(app.url(&upload))
        .header("Tus-Resumable", "1.0.0")
        .send()
        .await
        .unwrap();
    assert_eq!(ended.status(), StatusCode::NO_CONTENT);
    assert_eq!(
        server_offset(&app, &client, &upload).await.0,
        StatusCode::NOT_FOUND
    );
}

#[tokio::test]
async fn another_organizations_uploads_and_files_do_not_exist() {
    let app = spawn_app().await;
    let owner = app.signed_in_browser("client").await;
    let number = open_ticket(&app, &owner).await;
    let file_id = upload(&app, &owner, "montura.png", PNG).await;
    assert_eq!(
        attach(&app, &owner, &number, &[&file_id]).await.status(),
        StatusCode::CREATED
    );
    let pending = location(&app, &owner, "pendiente.txt", 5).await;

    // A client of another organization of the same observatory.
    let intruder = app.client_of_another_organization().await;

    for (who, expected) in [(&owner, true), (&intruder, false)] {
        let download = who
            .get(app.url(&format!("/api/v1/attachments/{file_id}")))
            .send()
            .await
            .unwrap();
        let listed = who
            .get(app.url(&format!("/api/v1/tickets/{number}/attachments")))
            .send()
            .await
            .unwrap();
        let (head, _) = server_offset(&app, who, &pending).await;
        if expected {
            assert_eq!(download.status(), StatusCode::OK);
            assert_eq!(listed.status(), StatusCode::OK);
            assert_eq!(head, StatusCode::OK);
        } else {
            assert_eq!(download.status(), StatusCode::NOT_FOUND);
            assert_eq!(listed.status(), StatusCode::NOT_FOUND);
            assert_eq!(head, StatusCode::NOT_FOUND);
            assert_eq!(
                patch(&app, who, &pending, 0, b"hola\n").await.status(),
                StatusCode::NOT_FOUND
            );
            // Nor can another person attach someone's finished upload to their own request.
            let theirs = open_ticket(&app, who).await;
            assert_eq!(
                attach(&app, who, &theirs, &[&file_id]).await.status(),
                StatusCode::NOT_FOUND
            );
        }
    }
}

#[tokio::test]
async fn a_program_attaches_files_in_one_multipart_request() {
    let app = spawn_app().await;
    let client = app.signed_in_browser("client").await;
    let number = open_ticket(&app, &client).await;
    let file = pdf();
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("cámara 3.png"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(file.clone()).file_name("registro.pdf"),
        );
    let attached = client
        .post(app.url(&format!("/api/v1/tickets/{number}/attachments")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(attached.status(), StatusCode::CREATED);
    let files: Value = attached.json().await.unwrap();
    let files = files.as_array().unwrap();
    assert_eq!(files.len(), 2);
    let pdf_entry = files.iter().find(|f| f["name"] == "registro.pdf").unwrap();
    assert_eq!(pdf_entry["sha256"], sha256_hex(&file));
    assert_eq!(pdf_entry["content_type"], "application/pdf");
    let png_entry = files.iter().find(|f| f["name"] == "cámara 3.png").unwrap();
    assert_eq!(png_entry["content_type"], "image/png");
    let download = client
        .get(app.url(pdf_entry["url"].as_str().unwrap()))
        .send()
        .await
        .unwrap();
    assert_eq!(
        sha256_hex(&download.bytes().await.unwrap()),
        sha256_hex(&file)
    );

    // One refused file refuses the request, and nothing of it is attached.
    let form = reqwest::multipart::Form::new()
        .part(
            "file",
            reqwest::multipart::Part::bytes(PNG.to_vec()).file_name("otra.png"),
        )
        .part(
            "file",
            reqwest::multipart::Part::bytes(b"<html><body>hola</body></html>".to_vec())
                .file_name("foto.jpg"),
        );
    let refused = client
        .post(app.url(&format!("/api/v1/tickets/{number}/attachments")))
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    let listed: Value = client
        .get(app.url(&format!("/api/v1/tickets/{number}/attachments")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2, "{listed}");
}

/// The reply box and the new-request form as a browser posts them before the page's script
/// has loaded: `multipart/form-data` with the files in it, expecting a redirect.
async fn post_plain_form(
    app: &TestApp,
    client: &Client,
    path: &str,
    fields: &[(&str, &str)],
    files: &[(&str, Vec<u8>)],
) -> reqwest::Response {
    let mut form = reqwest::multipart::Form::new();
    for (name, value) in fields {
        form = form.text(name.to_string(), value.to_string());
    }
    for (name, bytes) in files {
        form = form.part(
            "file",
            reqwest::multipart::Part::bytes(bytes.clone()).file_name(name.to_string()),
        );
    }
    // The hidden field the uploader keeps, empty before the script runs.
    form = form.text("attachments", "");
    client
        .post(app.url(path))
        .header(reqwest::header::ACCEPT, "text/html")
        .multipart(form)
        .send()
        .await
        .unwrap()
}

/// The bytes the demo client's organization holds or has staged, as its quota counts them.
async fn client_organization_usage(app: &TestApp) -> i64 {
    let db = &app.db.db;
    let observatory = db.default_observatory().await.unwrap().unwrap();
    let client = db
        .user_by_email(observatory.id, &app.account("client").email)
        .await
        .unwrap()
        .unwrap();
    db.organization_usage(
        observatory.id,
        client.organization_id.unwrap(),
        chrono::Utc::now(),
    )
    .await
    .unwrap()
}

async fn attachment_names(app: &TestApp, client: &Client, number: &str) -> Vec<String> {
    let listed: Value = client
        .get(app.url(&format!("/api/v1/tickets/{number}/attachments")))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    listed
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["name"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn forms_posted_before_the_script_loads_carry_their_files() {
    let app = spawn_app_with(|config| config.max_file_bytes = 200_000).await;
    let client = app.signed_in_browser("client").await;

    // A new request with a file and an empty file field (a second picker left empty).
    let mut form_fields = vec![
        ("request_type", "repair"),
        ("priority", "medium"),
        ("subject", ""),
        ("comment", "El foco no responde"),
        ("telescope_id", ""),
    ];
    let opened = post_plain_form(
        &app,
        &client,
        "/api/tickets/open",
        &form_fields,
        &[("foco.png", PNG.to_vec()), ("", Vec::new())],
    )
    .await;
    assert!(opened.status().is_redirection(), "{}", opened.status());
    let to = opened.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        to.starts_with("/tickets/") && to.ends_with("?created=1"),
        "{to}"
    );
    let number = to
        .trim_start_matches("/tickets/")
        .trim_end_matches("?created=1")
        .to_string();
    assert_eq!(attachment_names(&app, &client, &number).await, ["foco.png"]);

    // A reply with two files.
    let path = "/api/tickets/message";
    let replied = post_plain_form(
        &app,
        &client,
        path,
        &[("number", &number), ("body", "Adjunto más fotos")],
        &[("a.png", PNG.to_vec()), ("b.png", PNG.to_vec())],
    )
    .await;
    assert!(replied.status().is_redirection(), "{}", replied.status());
    assert_eq!(
        replied.headers()[LOCATION].to_str().unwrap(),
        format!("/tickets/{number}")
    );
    let mut names = attachment_names(&app, &client, &number).await;
    names.sort();
    assert_eq!(names, ["a.png", "b.png", "foco.png"]);

    // A refused file (an HTML page named .jpg; then one over the limit) sends the person
    // back with the reason, the typed text waiting in the form, and nothing attached.
    let oversize = vec![b'x'; 300_000];
    for (refused, code) in [
        (
            ("pagina.jpg", b"<html><body>hola</body></html>".to_vec()),
            "ErrorFileTypeNotAllowed",
        ),
        (("grande.txt", oversize), "ErrorFileTooLarge"),
    ] {
        let typed = format!("Texto que no se pierde ({code})");
        let back = post_plain_form(
            &app,
            &client,
            path,
            &[("number", &number), ("body", &typed)],
            &[("c.png", PNG.to_vec()), refused],
        )
        .await;
        assert!(back.status().is_redirection(), "{}", back.status());
        let location = back.headers()[LOCATION].to_str().unwrap().to_string();
        assert!(location.contains(&format!("error={code}")), "{location}");
        let page = app.get_page(&client, &location).await.text().await.unwrap();
        assert!(page.contains(&typed), "the typed text is lost");
        let mut names = attachment_names(&app, &client, &number).await;
        names.sort();
        assert_eq!(names, ["a.png", "b.png", "foco.png"]);
    }

    // Files of a reply the service refuses (the request was cancelled meanwhile) are not left
    // staged: the organization's usage is as before.
    let usage_before = client_organization_usage(&app).await;
    let cancelled = client
        .post(app.url(&format!("/api/v1/tickets/{number}/status")))
        .json(&json!({ "status": "cancelled", "reason": "Ya no hace falta" }))
        .send()
        .await
        .unwrap();
    assert!(cancelled.status().is_success(), "{}", cancelled.status());
    let back = post_plain_form(
        &app,
        &client,
        path,
        &[("number", &number), ("body", "Una más")],
        &[("d.png", PNG.to_vec())],
    )
    .await;
    let location = back.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(location.contains("error=ErrorTicketClosed"), "{location}");
    assert_eq!(client_organization_usage(&app).await, usage_before);

    // A text field is bounded before it is read (as a URL-encoded form is): 2 MiB of it
    // is refused, with nothing attached.
    let huge = "x".repeat(2 * 1024 * 1024);
    let back = post_plain_form(
        &app,
        &client,
        path,
        &[("number", &number), ("body", &huge)],
        &[("e.png", PNG.to_vec())],
    )
    .await;
    let location = back.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(location.contains("error=ErrorBodyTooLarge"), "{location}");
    assert_eq!(client_organization_usage(&app).await, usage_before);

    // The new-request form keeps its text too.
    form_fields[3] = ("comment", "Comentario que sigue ahí");
    let back = post_plain_form(
        &app,
        &client,
        "/api/tickets/open",
        &form_fields,
        &[("pagina.jpg", b"<html></html>".to_vec())],
    )
    .await;
    let location = back.headers()[LOCATION].to_str().unwrap().to_string();
    assert!(
        location.starts_with("/tickets/new?error=ErrorFileTypeNotAllowed"),
        "{location}"
    );
    let page = app.get_page(&client, &location).await.text().await.unwrap();
    assert!(page.contains("Comentario que sigue ahí"));
}

#[tokio::test]
async fn downloads_answer_ranges_and_conditional_requests_on_either_store() {
    let app = spawn_app().await;
    let client = app.signed_in_browser("client").await;
    let number = open_ticket(&app, &client).await;
    let file = pdf();
    let id = upload(&app, &client, "bitácora.pdf", &file).await;
    assert_eq!(
        attach(&app, &client, &number, &[&id]).await.status(),
        StatusCode::CREATED
    );
    let url = app.url(&format!("/api/v1/attachments/{id}"));
    let get = |headers: &[(&str, &str)]| {
        let mut request = client.get(&url);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send()
    };
    let len = file.len();

    let whole = get(&[]).await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.headers()["content-length"], len.to_string().as_str());
    let etag = whole.headers()["etag"].to_str().unwrap().to_string();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&file)));
    assert_eq!(&whole.bytes().await.unwrap()[..], &file[..]);

    // The end of the file, as a player asks for an index.
    let suffix = get(&[("Range", "bytes=-50")]).await.unwrap();
    assert_eq!(suffix.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(
        suffix.headers()["content-range"],
        format!("bytes {}-{}/{len}", len - 50, len - 1).as_str()
    );
    assert_eq!(suffix.headers()[CONTENT_TYPE], "application/pdf");
    assert_eq!(
        suffix.headers()[CONTENT_SECURITY_POLICY],
        "sandbox; default-src 'none'"
    );
    assert_eq!(&suffix.bytes().await.unwrap()[..], &file[len - 50..]);
    let open_ended = get(&[("Range", "bytes=299990-")]).await.unwrap();
    assert_eq!(open_ended.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(&open_ended.bytes().await.unwrap()[..], &file[299_990..]);

    // A range outside the file.
    let outside = get(&[("Range", &format!("bytes={len}-"))]).await.unwrap();
    assert_eq!(outside.status(), StatusCode::RANGE_NOT_SATISFIABLE);
    assert_eq!(
        outside.headers()["content-range"],
        format!("bytes */{len}").as_str()
    );
    assert_eq!(outside.headers()["x-content-type-options"], "nosniff");

    // A copy the browser holds is still good; another one is not.
    let unchanged = get(&[("If-None-Match", &etag)]).await.unwrap();
    assert_eq!(unchanged.status(), StatusCode::NOT_MODIFIED);
    assert_eq!(unchanged.headers()["etag"], etag.as_str());
    assert!(unchanged.bytes().await.unwrap().is_empty());
    let changed = get(&[("If-None-Match", "\"0000\"")]).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    assert_eq!(changed.bytes().await.unwrap().len(), len);
}
