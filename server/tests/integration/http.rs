//! The portal over HTTP: the real router on a free port, a real database, a real HTTP client.

use crate::common;

use common::{spawn_app, TestApp};
use reqwest::header::{ACCEPT, ACCEPT_LANGUAGE, CONTENT_TYPE, LOCATION, SET_COOKIE};
use reqwest::{redirect::Policy, Client, Response, StatusCode};

/// `path` posted by `client` with no body, from the portal's own pages.
async fn post_from_the_portal(app: &TestApp, client: &Client, path: &str) -> Response {
    client
        .post(app.url(path))
        .header("Origin", &app.base)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn health_and_readiness_answer_json() {
    let app = spawn_app().await;
    let client = app.browser();
    let health = client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(
        health.json::<serde_json::Value>().await.unwrap()["status"],
        "ok"
    );
    let ready = client.get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::OK);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "ready"
    );
}

#[tokio::test]
async fn readiness_fails_when_the_database_is_gone() {
    let app = spawn_app().await;
    app.db.db.close().await;
    let ready = app.browser().get(app.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        ready.json::<serde_json::Value>().await.unwrap()["status"],
        "unavailable"
    );
}

#[tokio::test]
async fn sign_in_page_is_branded_spanish_by_default_and_english_on_request() {
    let app = spawn_app().await;
    let client = app.browser();
    let page = client.get(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(r#"<html lang="es" data-theme="light""#),
        "{html}"
    );
    assert!(html.contains("Observatorio Astronómico de Demostración"));
    assert!(html.contains("Accede al portal de soporte"));
    assert!(html.contains("--brand-primary:#1f4e8c"));

    let english = client
        .get(app.url("/sign-in"))
        .header(ACCEPT_LANGUAGE, "en-GB,en;q=0.9,es;q=0.5")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(english.contains(r#"<html lang="en""#));
    assert!(english.contains("Sign in to the support portal"));
}

#[tokio::test]
async fn pages_carry_security_headers_and_a_nonce_policy() {
    let app = spawn_app().await;
    let page = app.browser().get(app.url("/sign-in")).send().await.unwrap();
    let headers = page.headers().clone();
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "same-origin");
    let csp = headers["content-security-policy"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    let nonce = csp
        .split("'nonce-")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .expect("the policy names a nonce")
        .to_string();
    let html = page.text().await.unwrap();
    // Every inline script of the page carries the nonce, or the browser would refuse it.
    let scripts = html.matches("<script").count();
    assert!(scripts > 0);
    let with_nonce = html.matches(&format!("nonce=\"{nonce}\"")).count();
    assert!(
        with_nonce >= scripts,
        "{scripts} scripts, {with_nonce} with the nonce: {html}"
    );
}

#[tokio::test]
async fn signing_in_sets_a_protected_cookie_and_shows_the_home_page() {
    let app = spawn_app().await;
    let client = app.browser();
    let lucia = app.account("client");
    let response = app.sign_in(&client, &lucia.email, &lucia.password).await;
    assert_eq!(response.status(), StatusCode::OK);
    let cookies: Vec<String> = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .collect();
    let session = cookies
        .iter()
        .find(|c| c.starts_with("cupula_session="))
        .expect("a session cookie");
    assert!(session.contains("HttpOnly"), "{session}");
    assert!(session.contains("SameSite=Lax"), "{session}");
    assert!(session.contains("Path=/"), "{session}");
    let token = session["cupula_session=".len()..]
        .split(';')
        .next()
        .unwrap();
    assert!(token.len() >= 32, "at least 128 bits of token");

    let home = client.get(app.url("/")).send().await.unwrap();
    assert_eq!(home.status(), StatusCode::OK);
    let html = home.text().await.unwrap();
    assert!(html.contains("Lucía Cliente"), "{html}");
    assert!(html.contains("Asociación Astronómica Orión"));
    assert!(html.contains("Cliente"));
}

#[tokio::test]
async fn wrong_password_and_unknown_account_answer_alike() {
    let app = spawn_app().await;
    let client = app.browser();
    let lucia = app.account("client");
    let wrong = app.sign_in(&client, &lucia.email, "not her password").await;
    let wrong_status = wrong.status();
    let wrong_body = wrong.text().await.unwrap();
    let unknown = app
        .sign_in(&client, "nadie@orion-demo.example", "not her password")
        .await;
    assert_eq!(unknown.status(), wrong_status);
    assert_eq!(unknown.text().await.unwrap(), wrong_body);
    assert!(
        wrong_body.contains("ErrorInvalidCredentials"),
        "{wrong_body}"
    );
    // And no session came of either.
    let home = app.get_page(&client, "/").await;
    assert_eq!(home.status(), StatusCode::FOUND);
}

#[tokio::test]
async fn a_plain_form_post_that_fails_comes_back_with_the_message_and_the_email() {
    let app = spawn_app().await;
    let browser = app.browser();
    let response = browser
        .post(app.url("/api/sign_in"))
        .header("Origin", &app.base)
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .header("Referer", app.url("/sign-in"))
        .form(&[("email", "lucia@orion-demo.example"), ("password", "mal")])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    let location = response.headers()[LOCATION].to_str().unwrap().to_string();
    // The address (history, proxies, logs) carries the error only, not the e-mail.
    assert_eq!(location, "/sign-in?error=ErrorInvalidCredentials");
    let draft = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap().to_string())
        .find(|c| c.starts_with("cupula_draft="))
        .expect("a draft cookie");
    assert!(
        draft.contains("HttpOnly") && draft.contains("SameSite=Lax"),
        "{draft}"
    );
    assert!(
        draft.contains("Max-Age=600") && !draft.contains("lucia"),
        "{draft}"
    );
    let page = browser
        .get(app.url(&location))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("El correo electrónico o la contraseña no son correctos."));
    assert!(
        page.contains(r#"value="lucia@orion-demo.example""#),
        "{page}"
    );
    // Shown once, to that browser only.
    for client in [browser, app.browser()] {
        let again = client
            .get(app.url(&location))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(!again.contains("lucia@orion-demo.example"), "{again}");
    }
}

#[tokio::test]
async fn signed_out_visitors_are_sent_to_sign_in() {
    let app = spawn_app().await;
    let response = app
        .browser()
        .get(app.url("/"))
        .header(ACCEPT, "text/html")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::FOUND);
    assert_eq!(response.headers()[LOCATION], "/sign-in");
}

#[tokio::test]
async fn sign_out_destroys_the_session_on_the_server() {
    let app = spawn_app().await;
    let client = app.browser();
    let admin = app.account("admin");
    let response = app.sign_in(&client, &admin.email, &admin.password).await;
    let cookie = response
        .headers()
        .get_all(SET_COOKIE)
        .iter()
        .map(|v| v.to_str().unwrap())
        .find(|c| c.starts_with("cupula_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_string();
    let out = post_from_the_portal(&app, &client, "/api/sign_out").await;
    assert_eq!(out.status(), StatusCode::OK);
    // Replaying the old cookie by hand finds no session.
    let replay = Client::builder()
        .redirect(Policy::none())
        .build()
        .unwrap()
        .get(app.url("/"))
        .header(ACCEPT, "text/html")
        .header("Cookie", cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(replay.status(), StatusCode::FOUND);
    assert_eq!(replay.headers()[LOCATION], "/sign-in");
}

#[tokio::test]
async fn cross_site_posts_are_refused_before_any_server_function_runs() {
    let app = spawn_app().await;
    let lucia = app.account("client");
    let form = [
        ("email", lucia.email.as_str()),
        ("password", lucia.password.as_str()),
    ];
    let client = app.browser();

    // A browser that sends `Origin` alone (no Fetch Metadata).
    let evil_origin = app
        .program()
        .post(app.url("/api/sign_in"))
        .header("Origin", "https://evil.example")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(evil_origin.status(), StatusCode::FORBIDDEN);
    assert!(evil_origin.headers().get(SET_COOKIE).is_none());

    let cross_site = client
        .post(app.url("/api/set_language"))
        .header("Sec-Fetch-Site", "cross-site")
        .form(&[("lang", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    assert!(cross_site.headers().get(SET_COOKIE).is_none());

    let same_origin = client
        .post(app.url("/api/sign_in"))
        .header("Sec-Fetch-Site", "same-origin")
        .form(&form)
        .send()
        .await
        .unwrap();
    assert_eq!(same_origin.status(), StatusCode::OK);
}

#[tokio::test]
async fn reading_never_changes_state() {
    let app = spawn_app().await;
    // Server functions that change state answer only to POST.
    for endpoint in [
        "/api/sign_in",
        "/api/sign_out",
        "/api/set_language",
        "/api/set_theme",
    ] {
        let response = app.browser().get(app.url(endpoint)).send().await.unwrap();
        assert!(response.headers().get(SET_COOKIE).is_none(), "{endpoint}");
        assert_ne!(response.status(), StatusCode::OK, "{endpoint}");
    }
}

#[tokio::test]
async fn language_and_theme_switches_are_remembered() {
    let app = spawn_app().await;
    let client = app.browser();
    let switch = client
        .post(app.url("/api/set_language"))
        .header("Origin", &app.base)
        .header(ACCEPT, "text/html")
        .header("Referer", app.url("/sign-in"))
        .form(&[("lang", "en")])
        .send()
        .await
        .unwrap();
    assert_eq!(switch.status(), StatusCode::FOUND);
    let back = switch.headers()[LOCATION].to_str().unwrap();
    assert!(
        back.starts_with(&app.url("/sign-in")),
        "back to the page it came from: {back}"
    );
    client
        .post(app.url("/api/set_theme"))
        .header("Origin", &app.base)
        .form(&[("theme", "night")])
        .send()
        .await
        .unwrap();
    let html = client
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains(r#"<html lang="en" data-theme="night""#),
        "{html}"
    );

    let bad = client
        .post(app.url("/api/set_theme"))
        .header("Origin", &app.base)
        .form(&[("theme", "<script>")])
        .send()
        .await
        .unwrap();
    assert!(!bad.status().is_success());
    assert!(bad.headers().get(SET_COOKIE).is_none());
}

#[tokio::test]
async fn signing_in_switches_to_the_persons_language() {
    let app = spawn_app().await;
    let client = app.browser();
    let marta = app.account("admin");
    // The browser asks for English, but Marta's account says Spanish.
    let response = client
        .post(app.url("/api/sign_in"))
        .header("Origin", &app.base)
        .header(ACCEPT_LANGUAGE, "en")
        .form(&[
            ("email", marta.email.as_str()),
            ("password", marta.password.as_str()),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let html = client
        .get(app.url("/"))
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"<html lang="es""#), "{html}");
    assert!(html.contains("Administración del observatorio"));
}

#[tokio::test]
async fn unknown_addresses_get_a_translated_404_page() {
    let app = spawn_app().await;
    let response = app
        .browser()
        .get(app.url("/no/such/page"))
        .header(ACCEPT_LANGUAGE, "en")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::NOT_FOUND);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    assert!(response.text().await.unwrap().contains("Page not found"));
}

#[tokio::test]
async fn forgot_password_without_javascript_answers_alike_and_keeps_the_address() {
    let app = spawn_app().await;
    let browser = app.browser();
    let post = |email: &'static str| {
        browser
            .post(app.url("/api/request_password_reset"))
            .header("Origin", &app.base)
            .header(ACCEPT, "text/html")
            .form(&[("email", email)])
            .send()
    };
    let known = post("lucia@orion-demo.example").await.unwrap();
    let unknown = post("nadie@orion-demo.example").await.unwrap();
    assert_eq!(known.status(), StatusCode::FOUND);
    assert_eq!(known.headers()[LOCATION], "/forgot-password?sent=1");
    assert_eq!(unknown.headers()[LOCATION], "/forgot-password?sent=1");

    let malformed = post("lucia").await.unwrap();
    // The typed address waits in a draft for the page, never in its address.
    assert_eq!(
        malformed.headers()[LOCATION],
        "/forgot-password?error=ErrorEmailInvalid"
    );
    let page = browser
        .get(app.url("/forgot-password?error=ErrorEmailInvalid"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Esa dirección de correo electrónico no es válida."));
    assert!(page.contains(r#"value="lucia""#));
}

#[tokio::test]
async fn a_bad_or_spent_link_shows_how_to_get_a_new_one() {
    let app = spawn_app().await;
    for token in ["nonsense", &"a".repeat(64)] {
        let page = app
            .browser()
            .get(app.url(&format!("/reset-password?token={token}")))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(page.contains("Este enlace ya no sirve"), "{page}");
        assert!(page.contains(r#"href="/forgot-password""#));
        assert!(
            !page.contains(r#"name="password""#),
            "no form for a dead link"
        );
    }
    let refused = app
        .browser()
        .post(app.url("/api/set_password_with_link"))
        .header("Origin", &app.base)
        .form(&[
            ("token", "a".repeat(64).as_str()),
            ("password", "una frase bien larga"),
        ])
        .send()
        .await
        .unwrap();
    assert!(!refused.status().is_success());
    assert!(refused.text().await.unwrap().contains("ErrorLinkInvalid"));
}

/// The invitation form posted by `client`: "Intrusa" (intrusa@x.example) invited as an admin.
async fn invite_an_intruder_as_admin(app: &TestApp, client: &Client) -> Response {
    client
        .post(app.url("/api/admin/invite"))
        .header("Origin", &app.base)
        .form(&[
            ("name", "Intrusa"),
            ("email", "intrusa@x.example"),
            ("role", "admin"),
            ("language", "es"),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn administration_does_not_exist_for_clients_and_asks_strangers_to_sign_in() {
    let app = spawn_app().await;
    let stranger = app.browser();
    let answer = post_from_the_portal(&app, &stranger, "/api/admin/people").await;
    assert!(!answer.status().is_success());
    assert!(answer.text().await.unwrap().contains("ErrorSignInRequired"));
    let page = app.get_page(&stranger, "/admin/people").await;
    assert_eq!(page.status(), StatusCode::FOUND);
    assert_eq!(page.headers()[LOCATION], "/sign-in");

    let client = app.signed_in_browser("client").await;
    for endpoint in ["/api/admin/people", "/api/admin/organizations"] {
        let answer = post_from_the_portal(&app, &client, endpoint).await;
        let body = answer.text().await.unwrap();
        assert!(body.contains("ErrorNotFound"), "{endpoint}: {body}");
        assert!(
            !body.contains("orion-demo.example"),
            "no data leaks: {body}"
        );
    }
    let invite = invite_an_intruder_as_admin(&app, &client).await;
    assert!(invite.text().await.unwrap().contains("ErrorNotFound"));
    let page = app.get_page(&client, "/admin/people").await;
    assert_eq!(page.status(), StatusCode::NOT_FOUND);
    assert!(!page
        .text()
        .await
        .unwrap()
        .contains("tecnico@observatorio-demo.example"));

    // Positive controls: the same requests by the observatory's admin are answered in full.
    let admin = app.signed_in_browser("admin").await;
    for endpoint in ["/api/admin/people", "/api/admin/organizations"] {
        let answer = post_from_the_portal(&app, &admin, endpoint).await;
        assert_eq!(answer.status(), StatusCode::OK, "{endpoint}");
        let body = answer.text().await.unwrap();
        assert!(!body.contains("ErrorNotFound"), "{endpoint}: {body}");
    }
    let people = post_from_the_portal(&app, &admin, "/api/admin/people")
        .await
        .text()
        .await
        .unwrap();
    assert!(people.contains("orion-demo.example"), "{people}");
    let page = app.get_page(&admin, "/admin/people").await;
    assert_eq!(page.status(), StatusCode::OK);
    assert!(page
        .text()
        .await
        .unwrap()
        .contains("tecnico@observatorio-demo.example"));
    // The client's invitation was not made; the admin's, the same form, is.
    let invited = |who: &'static str| {
        let db = &app.db.db;
        async move {
            let observatory = db.default_observatory().await.unwrap().unwrap();
            db.user_by_email(observatory.id, who)
                .await
                .unwrap()
                .is_some()
        }
    };
    assert!(!invited("intrusa@x.example").await);
    let invite = invite_an_intruder_as_admin(&app, &admin).await;
    assert_eq!(invite.status(), StatusCode::OK, "{:?}", invite.text().await);
    assert!(invited("intrusa@x.example").await);
}

#[tokio::test]
async fn opening_a_confirmation_link_changes_nothing_until_it_is_posted() {
    let app = spawn_app().await;
    let client = app.signed_in_browser("client").await;
    let lucia = app.account("client");
    let asked = client
        .post(app.url("/api/account/change_notification_email"))
        .header("Origin", &app.base)
        .form(&[("email", "avisos@orion-demo.example")])
        .send()
        .await
        .unwrap();
    assert_eq!(asked.status(), StatusCode::OK);
    let db = &app.db.db;
    let user_id = db
        .user_by_email(
            db.default_observatory().await.unwrap().unwrap().id,
            &lucia.email,
        )
        .await
        .unwrap()
        .unwrap()
        .id;
    let body =
        app::backend::outbox::mail_to(db, "avisos@orion-demo.example", 1, Some(&app.secret_key))
            .await
            .unwrap()[0]
            .body
            .clone();
    let token = &body[body.find("token=").unwrap() + 6..][..64];

    // A link scanner (or the person) opens the link: nothing changes.
    let page = Client::new()
        .get(app.url(&format!("/confirm-email?token={token}")))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let (current, pending) = db.notification_emails(user_id).await.unwrap();
    assert_eq!(current, None);
    assert_eq!(pending.as_deref(), Some("avisos@orion-demo.example"));

    let confirmed = Client::new()
        .post(app.url("/api/confirm_email"))
        .header("Origin", &app.base)
        .form(&[("token", token)])
        .send()
        .await
        .unwrap();
    assert_eq!(confirmed.status(), StatusCode::OK);
    let (current, _) = db.notification_emails(user_id).await.unwrap();
    assert_eq!(current.as_deref(), Some("avisos@orion-demo.example"));
}

/// Posts a file to the logo form as a browser does.
async fn post_logo(
    app: &TestApp,
    client: &Client,
    bytes: Vec<u8>,
    file_name: &str,
    mime: &str,
) -> reqwest::Response {
    let part = reqwest::multipart::Part::bytes(bytes)
        .file_name(file_name.to_string())
        .mime_str(mime)
        .unwrap();
    client
        .post(app.url("/admin/branding/logo"))
        .header("Origin", &app.base)
        .multipart(reqwest::multipart::Form::new().part("logo", part))
        .send()
        .await
        .unwrap()
}

/// The tests' PNG logo (fixtures/logo.png) uploaded by `client` under `file_name`.
async fn post_the_fixture_logo(app: &TestApp, client: &Client, file_name: &str) -> Response {
    post_logo(
        app,
        client,
        include_bytes!("../fixtures/logo.png").to_vec(),
        file_name,
        "image/png",
    )
    .await
}

#[tokio::test]
async fn an_admin_uploads_a_logo_that_is_checked_reencoded_and_served() {
    let app = spawn_app().await;
    let admin = app.signed_in_browser("admin").await;

    // Not a picture, whatever it claims to be: refused, nothing stored.
    let svg = post_logo(
        &app,
        &admin,
        b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>".to_vec(),
        "logo.png",
        "image/png",
    )
    .await;
    assert_eq!(svg.status(), StatusCode::SEE_OTHER);
    assert_eq!(
        svg.headers()[LOCATION],
        "/admin/branding?error=ErrorLogoFormat"
    );

    // Too large: stopped while it streams.
    let huge = post_logo(
        &app,
        &admin,
        vec![0x89; 3 * 1024 * 1024],
        "logo.png",
        "image/png",
    )
    .await;
    assert_eq!(huge.status(), StatusCode::PAYLOAD_TOO_LARGE);

    let saved = post_the_fixture_logo(&app, &admin, "mi logo.png").await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(saved.headers()[LOCATION], "/admin/branding?logo=saved");
    let page = admin
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let src = page
        .split("src=\"/branding/logo/")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("the header shows the uploaded logo")
        .to_string();
    assert!(
        src.starts_with("logo-") && src.ends_with(".png"),
        "a server-made name: {src}"
    );
    let served = Client::new()
        .get(app.url(&format!("/branding/logo/{src}")))
        .send()
        .await
        .unwrap();
    assert_eq!(served.status(), StatusCode::OK);
    assert_eq!(served.headers()[CONTENT_TYPE], "image/png");
    assert_eq!(served.headers()["x-content-type-options"], "nosniff");
    assert!(served.bytes().await.unwrap().starts_with(b"\x89PNG"));
    // Names other than the current logo's are not served.
    let other = Client::new()
        .get(app.url("/branding/logo/..%2F..%2Fcupula.db"))
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn only_admins_upload_logos_and_only_from_the_portal() {
    let app = spawn_app().await;
    let client = app.signed_in_browser("client").await;
    let refused = post_the_fixture_logo(&app, &client, "l.png").await;
    assert_eq!(refused.status(), StatusCode::NOT_FOUND);
    assert!(!shows_a_logo(&app).await, "no logo was saved");

    let stranger = post_logo(
        &app,
        &app.browser(),
        include_bytes!("../fixtures/logo.png").to_vec(),
        "l.png",
        "image/png",
    )
    .await;
    assert_eq!(stranger.status(), StatusCode::SEE_OTHER);
    assert_eq!(stranger.headers()[LOCATION], "/sign-in");

    let admin = app.signed_in_browser("admin").await;
    let cross_site = admin
        .post(app.url("/admin/branding/logo"))
        .header("Origin", "https://evil.example")
        .header("Sec-Fetch-Site", "cross-site")
        .multipart(
            reqwest::multipart::Form::new().part(
                "logo",
                reqwest::multipart::Part::bytes(include_bytes!("../fixtures/logo.png").to_vec())
                    .file_name("l.png"),
            ),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(cross_site.status(), StatusCode::FORBIDDEN);
    // Positive control: the same upload by the admin, from the portal, is saved.
    let saved = post_the_fixture_logo(&app, &admin, "l.png").await;
    assert_eq!(saved.status(), StatusCode::SEE_OTHER);
    assert_eq!(saved.headers()[LOCATION], "/admin/branding?logo=saved");
    assert!(shows_a_logo(&app).await);
}

/// Whether the portal's pages show an uploaded logo.
async fn shows_a_logo(app: &TestApp) -> bool {
    app.browser()
        .get(app.url("/sign-in"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .contains("/branding/logo/")
}

/// A reply posted without JavaScript that fails comes back with its error and what was typed in
/// the form, but the text never goes into an address (history, proxies and logs keep those):
/// it waits on the server as a draft for that page, for that session, once.
#[tokio::test]
async fn a_failed_plain_form_reply_keeps_its_text_out_of_the_address() {
    let app = spawn_app().await;
    let browser = app.signed_in_browser("client").await;
    let opened = browser
        .post(app.url("/api/tickets/open"))
        .form(&[
            ("request_type", "question"),
            ("priority", "medium"),
            ("subject", "Cúpula"),
            ("comment", "La cúpula no gira."),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    let number: String = opened.json().await.unwrap();

    // Too long to be sent: refused, and nothing of it may be lost or leak.
    let typed = format!(
        "La clave del armario es 4711. {}",
        "muy largo ".repeat(app::model::MESSAGE_MAX_CHARS / 10)
    );
    let reply = browser
        .post(app.url("/api/tickets/message"))
        .header(ACCEPT, "text/html,application/xhtml+xml")
        .form(&[("number", number.as_str()), ("body", typed.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(reply.status(), StatusCode::FOUND);
    let location = reply.headers()[LOCATION].to_str().unwrap().to_string();
    assert_eq!(
        location,
        format!("/tickets/{number}?error=ErrorTextTooLong")
    );
    assert!(!location.contains("clave") && !location.contains("4711"));

    let textarea_of = |page: &str| -> String {
        let start = page.find(r#"id="reply-body""#).expect("the reply form");
        let text = &page[start..];
        let text = &text[text.find('>').unwrap() + 1..];
        text[..text.find("</textarea>").unwrap()].to_string()
    };
    let page = app.get_page(&browser, &location).await;
    assert_eq!(page.status(), StatusCode::OK);
    let page = page.text().await.unwrap();
    assert!(page.contains("El texto es demasiado largo."));
    assert!(
        textarea_of(&page)
            .trim()
            .starts_with("La clave del armario es 4711."),
        "{}",
        textarea_of(&page)
    );
    // Read once: the next visit has an empty form.
    let again = app
        .get_page(&browser, &location)
        .await
        .text()
        .await
        .unwrap();
    assert!(
        textarea_of(&again).trim().is_empty(),
        "{}",
        textarea_of(&again)
    );
}

/// The `<time>` elements of a page: the moment (as sent, UTC) and the text shown.
fn times_of(page: &str) -> Vec<(chrono::DateTime<chrono::Utc>, String)> {
    page.split("<time datetime=\"")
        .skip(1)
        .map(|rest| {
            let moment = &rest[..rest.find('"').unwrap()];
            let text = &rest[rest.find('>').unwrap() + 1..rest.find("</time>").unwrap()];
            (
                chrono::DateTime::parse_from_rfc3339(moment)
                    .unwrap()
                    .to_utc(),
                // Without the hydration markers (`<!>`) around the text.
                text.replace("<!>", ""),
            )
        })
        .collect()
}

/// Dates on pages are in the observatory's zone, or in the person's own once they choose one,
/// with the zone named; the number of a request carries the observatory's local year.
#[tokio::test]
async fn pages_show_dates_in_the_observatory_s_zone_or_the_person_s() {
    use chrono::Datelike;
    use chrono_tz::Tz;
    let app = spawn_app().await;
    let admin = app.signed_in_browser("admin").await;
    let saved = admin
        .post(app.url("/api/admin/update_branding"))
        .header("Origin", &app.base)
        .form(&[
            ("name", "Observatorio de Mauna Kea"),
            ("slug", "mauna-kea"),
            ("email_sender_name", ""),
            ("primary_color", "#1f4e8c"),
            ("accent_color", "#c2410c"),
            ("time_zone", "Pacific/Honolulu"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(
        saved.status(),
        StatusCode::OK,
        "{}",
        saved.text().await.unwrap()
    );

    let client = app.signed_in_browser("client").await;
    let opened = client
        .post(app.url("/api/tickets/open"))
        .form(&[
            ("request_type", "question"),
            ("priority", "medium"),
            ("subject", "Horario de la cúpula"),
            ("comment", "¿A qué hora abre?"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(opened.status(), StatusCode::OK);
    let number: String = opened.json().await.unwrap();
    let hawaii_year = chrono::Utc::now()
        .with_timezone(&Tz::Pacific__Honolulu)
        .year();
    assert!(number.contains(&format!("-{hawaii_year}-")), "{number}");

    let page_times = |page: String| {
        let times = times_of(&page);
        assert!(!times.is_empty(), "the ticket page shows its dates");
        times
    };
    let page = app.get_page(&client, &format!("/tickets/{number}")).await;
    for (moment, shown) in page_times(page.text().await.unwrap()) {
        let hawaii = moment.with_timezone(&Tz::Pacific__Honolulu);
        assert_eq!(shown, hawaii.format("%Y-%m-%d %H:%M HST").to_string());
    }

    // The client chooses Tokyo: their pages follow; the observatory's staff keep Hawaii.
    let chosen = client
        .post(app.url("/api/account/profile"))
        .header("Origin", &app.base)
        .form(&[
            ("name", "Lucía"),
            ("language", "es"),
            ("time_zone", "Asia/Tokyo"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(chosen.status(), StatusCode::OK);
    let page = app.get_page(&client, &format!("/tickets/{number}")).await;
    for (moment, shown) in page_times(page.text().await.unwrap()) {
        let tokyo = moment.with_timezone(&Tz::Asia__Tokyo);
        assert_eq!(shown, tokyo.format("%Y-%m-%d %H:%M JST").to_string());
    }
    let page = app.get_page(&admin, &format!("/tickets/{number}")).await;
    for (_, shown) in page_times(page.text().await.unwrap()) {
        assert!(shown.ends_with(" HST"), "{shown}");
    }

    let unknown = client
        .post(app.url("/api/account/profile"))
        .header("Origin", &app.base)
        .form(&[
            ("name", "Lucía"),
            ("language", "es"),
            ("time_zone", "Luna/Tranquilidad"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(unknown
        .text()
        .await
        .unwrap()
        .contains("ErrorUnknownTimeZone"));
}
