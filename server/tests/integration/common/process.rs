//! `cupula serve` as its own process, for tests that kill it or run two of it.

use app::backend::files::testing::fresh_s3_settings;
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The server process, killed (SIGKILL) when dropped.
pub struct Running(pub Child);

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// The server's settings: this data dir and database, and the test run's kind of file store
/// (a fresh prefix of the test S3 server's bucket when the run names one).
pub fn settings(
    data_dir: &std::path::Path,
    database_url: &str,
    port: u16,
) -> HashMap<&'static str, String> {
    let mut settings = HashMap::from([
        ("CUPULA_DATA_DIR", data_dir.display().to_string()),
        ("CUPULA_DATABASE_URL", database_url.to_string()),
        ("CUPULA_LISTEN", format!("127.0.0.1:{port}")),
    ]);
    if let Some(s3) = fresh_s3_settings() {
        settings.extend([
            ("CUPULA_S3_ENDPOINT", s3.endpoint.to_string()),
            ("CUPULA_S3_BUCKET", s3.bucket),
            ("CUPULA_S3_REGION", s3.region),
            (
                "CUPULA_S3_ACCESS_KEY_ID",
                s3.access_key_id.unwrap_or_default(),
            ),
            (
                "CUPULA_S3_SECRET_ACCESS_KEY",
                s3.secret_access_key.unwrap_or_default(),
            ),
            ("CUPULA_S3_PREFIX", s3.prefix),
        ]);
    }
    settings
}

/// `cupula serve` with these settings, once it says it listens.
pub fn start(settings: &HashMap<&'static str, String>) -> Running {
    let mut server = Running(
        Command::new(env!("CARGO_BIN_EXE_cupula"))
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(settings.iter())
            .env("RUST_LOG", "warn")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let stdout = server.0.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            let _ = tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    while Instant::now() < deadline {
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("is listening") {
                return server;
            }
        }
    }
    panic!("the server did not start");
}
