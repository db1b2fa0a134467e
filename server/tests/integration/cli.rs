//! The `cupula` binary as an operator runs it: start-up errors, create-admin, graceful shutdown.

use app::backend::secret_key::SecretKey;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn cupula(data_dir: &std::path::Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_cupula"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("CUPULA_DATA_DIR", data_dir)
        .env("RUST_LOG", "info");
    command
}

/// Runs to completion and returns (success, stdout, stderr).
fn run(command: &mut Command) -> (bool, String, String) {
    let output = command.output().expect("the binary runs");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn assert_one_line_error(stderr: &str, expected: &str) {
    let lines: Vec<&str> = stderr
        .lines()
        .filter(|l| l.starts_with("cupula: "))
        .collect();
    assert_eq!(lines.len(), 1, "one error line expected in {stderr:?}");
    assert!(
        lines[0].contains(expected),
        "{:?} lacks {expected:?}",
        lines[0]
    );
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(!stderr.contains("RUST_BACKTRACE"), "{stderr}");
}

#[test]
fn a_bad_listen_address_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(cupula(dir.path())
        .arg("serve")
        .env("CUPULA_LISTEN", "localhost"));
    assert!(!ok);
    assert_one_line_error(&stderr, "CUPULA_LISTEN must be an address and port");
}

#[test]
fn a_bad_database_url_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, _, stderr) = run(cupula(dir.path())
        .arg("migrate")
        .env("CUPULA_DATABASE_URL", "mysql://x/y"));
    assert!(!ok);
    assert_one_line_error(
        &stderr,
        "CUPULA_DATABASE_URL must start with sqlite:// or postgres://",
    );
}

#[test]
fn an_unusable_data_directory_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("not-a-directory");
    std::fs::write(&file, b"x").unwrap();
    let (ok, _, stderr) = run(&mut cupula(&file.join("data")));
    assert!(!ok);
    assert_one_line_error(&stderr, "cannot use the data directory");
}

#[test]
fn a_port_in_use_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let taken = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let (ok, _, stderr) = run(cupula(dir.path()).arg("serve").env("CUPULA_LISTEN", &addr));
    assert!(!ok);
    assert_one_line_error(&stderr, &format!("cannot listen on {addr}"));
}

#[test]
fn migrate_prepares_the_database_and_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let (ok, stdout, stderr) = run(cupula(dir.path()).arg("migrate"));
    assert!(ok, "{stderr}");
    assert!(stdout.contains("up to date"));
    assert!(dir.path().join("cupula.db").exists());
}

#[test]
fn create_admin_reads_the_password_from_stdin_and_refuses_short_ones() {
    let dir = tempfile::tempdir().unwrap();
    let create = |email: &str, password: &str| {
        let mut child = cupula(dir.path())
            .args(["create-admin", "--email", email, "--name", "Rosa Admin"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(format!("{password}\n").as_bytes())
            .unwrap();
        let output = child.wait_with_output().unwrap();
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stdout).into_owned(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, stdout, stderr) = create("rosa@obs.example", "una contraseña bien larga");
    assert!(ok, "{stderr}");
    assert!(stdout.contains("rosa@obs.example"));
    assert!(
        !stdout.contains("una contraseña bien larga"),
        "the password is never echoed"
    );

    let (ok, _, stderr) = create("rosa@obs.example", "otra contraseña larga");
    assert!(!ok);
    assert_one_line_error(
        &stderr,
        "There is already an account with that e-mail address.",
    );

    let (ok, _, stderr) = create("pedro@obs.example", "corta");
    assert!(!ok);
    assert_one_line_error(&stderr, "at least 8 characters");
}

struct Running(Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn serve_prints_the_demo_accounts_once_and_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let start = || {
        Running(
            cupula(dir.path())
                .args(["serve", "--demo"])
                .env("CUPULA_LISTEN", format!("127.0.0.1:{port}"))
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    };

    let mut first = start();
    let lines = wait_until_listening(&mut first);
    let accounts: Vec<&String> = lines
        .iter()
        .filter(|l| l.contains("@") && l.split_whitespace().count() == 3)
        .collect();
    assert_eq!(accounts.len(), 4, "{lines:#?}");
    assert!(lines
        .iter()
        .any(|l| l.contains("Observatorio Astronómico de Demostración")));

    let health = http_get(port, "/healthz");
    assert!(health.starts_with("HTTP/1.1 200"), "{health}");

    let pid = first.0.id().to_string();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(20);
    let exit = loop {
        if let Some(exit) = first.0.try_wait().unwrap() {
            break exit;
        }
        assert!(Instant::now() < deadline, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(exit.success(), "graceful shutdown exits 0, got {exit:?}");

    // The second start finds the data and prints no passwords.
    let mut second = start();
    let lines = wait_until_listening(&mut second);
    assert!(!lines.iter().any(|l| l.contains("@")), "{lines:#?}");
}

/// Reads the output until the server says it listens; returns the lines seen before.
fn wait_until_listening(server: &mut Running) -> Vec<String> {
    let stdout = BufReader::new(server.0.stdout.take().unwrap());
    let stderr = BufReader::new(server.0.stderr.take().unwrap());
    let (tx, rx) = std::sync::mpsc::channel();
    let tx2 = tx.clone();
    std::thread::spawn(move || {
        stdout.lines().map_while(Result::ok).for_each(|l| {
            let _ = tx.send(l);
        })
    });
    std::thread::spawn(move || {
        stderr.lines().map_while(Result::ok).for_each(|l| {
            let _ = tx2.send(l);
        })
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("is listening") {
                return seen;
            }
            seen.push(line);
        }
    }
    panic!("the server did not start: {seen:#?}");
}

#[test]
fn a_fresh_install_has_no_accounts_and_says_how_to_create_the_first_admin() {
    let dir = tempfile::tempdir().unwrap();
    let port = free_port();
    let mut server = Running(
        cupula(dir.path())
            .arg("serve")
            .env("CUPULA_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    );
    let lines = wait_until_listening(&mut server);
    assert!(
        lines.iter().any(|l| l.contains("cupula create-admin")),
        "{lines:#?}"
    );
    assert!(
        !lines
            .iter()
            .any(|l| l.contains("Demostración") || l.contains("-demo.example")),
        "no demo accounts without --demo: {lines:#?}"
    );
    // Its pages say what the operator must do, instead of failing obscurely.
    let page = http_get(port, "/sign-in");
    assert!(page.starts_with("HTTP/1.1 503"), "{page}");
    assert!(page.contains("cupula create-admin"), "{page}");
    drop(server);
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let users = runtime.block_on(async {
        let url = format!("sqlite://{}", dir.path().join("cupula.db").display());
        let db = app::backend::storage::Db::connect(&url).await.unwrap();
        db.count_users().await.unwrap()
    });
    assert_eq!(users, 0);
}

/// A minimal HTTP/1.1 GET, so this test needs no async runtime.
fn http_get(port: u16, path: &str) -> String {
    use std::io::Read;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
}

#[test]
fn outbox_redacts_links_unless_revealed_with_the_key_that_serve_created() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let test_db = runtime
        .block_on(app::backend::storage::testing::fresh_database())
        .unwrap();
    let portal = |command: &mut Command| {
        command.env("CUPULA_DATABASE_URL", &test_db.url);
    };

    // The first start creates the secret key, readable by its owner only.
    let port = free_port();
    let mut serving = cupula(dir.path());
    portal(
        serving
            .arg("serve")
            .env("CUPULA_LISTEN", format!("127.0.0.1:{port}"))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped()),
    );
    let mut server = Running(serving.spawn().unwrap());
    wait_until_listening(&mut server);
    drop(server);
    let key_file = dir.path().join("secret.key");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The portal queues a reset link, sealed with that key.
    let email = "ana@obs.example";
    let token = runtime.block_on(async {
        use app::backend::accounts::{create_account, NewAccount};
        use app::backend::config::Config;
        let db = &test_db.db;
        let observatory_id = db
            .insert_observatory(app::backend::storage::accounts::NewObservatory {
                slug: "obs",
                name: "Observatorio",
                ticket_prefix: "OBS",
            })
            .await
            .unwrap();
        create_account(
            db,
            NewAccount {
                observatory_id,
                organization_id: None,
                email,
                name: "Ana",
                role: app::model::Role::Admin,
                language: app::i18n::Lang::Es,
                password: Some("una contraseña bien larga"),
            },
        )
        .await
        .unwrap();
        let mut config = Config::load(None, |_| None).unwrap();
        config.secret_key = Some(SecretKey::read_file(&key_file).unwrap());
        app::backend::links::request_password_reset(db, &config, observatory_id, email)
            .await
            .unwrap();
        let mail = db.mail_to(email, 1).await.unwrap().remove(0);
        let body =
            app::backend::outbox::body_to_send(config.secret_key.as_ref().unwrap(), &mail).unwrap();
        body[body.find("token=").unwrap() + 6..][..64].to_string()
    });

    let outbox = |extra: &[&str], key: Option<&str>| {
        let mut command = cupula(dir.path());
        // Log lines share standard output with the JSON (PostgreSQL's notices are at info).
        command
            .args(["outbox", "--to", email])
            .args(extra)
            .env("RUST_LOG", "warn");
        portal(&mut command);
        if let Some(key) = key {
            command.env("CUPULA_SECRET_KEY", key);
        }
        run(&mut command)
    };
    let (ok, stdout, stderr) = outbox(&[], None);
    assert!(ok, "{stderr}");
    let mails: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let body = mails[0]["body"].as_str().unwrap();
    assert_eq!(mails[0]["kind"], "password_reset");
    assert!(body.contains("/reset-password?token=[redacted]"), "{body}");
    assert!(!stdout.contains(&token), "redacted by default: {stdout}");

    let (ok, stdout, stderr) = outbox(&["--reveal"], None);
    assert!(ok, "{stderr}");
    let mails: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    let body = mails[0]["body"].as_str().unwrap();
    assert!(
        body.contains(&format!("/reset-password?token={token}")),
        "{body}"
    );

    // Another key opens nothing, and says so in one line.
    let other = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
    let (ok, stdout, stderr) = outbox(&["--reveal"], Some(other));
    assert!(!ok);
    assert!(!stdout.contains(&token));
    assert_one_line_error(&stderr, "does not open with this secret key");
    // Without any key there is nothing to reveal with.
    std::fs::remove_file(&key_file).unwrap();
    let (ok, _, stderr) = outbox(&["--reveal"], None);
    assert!(!ok);
    assert_one_line_error(&stderr, "cannot read the secret key file");
    assert!(!key_file.exists(), "revealing never creates a key");
}
