//! `bench-events`: live delivery to many followers. A real `cupula serve` (the binary beside
//! this one) on the database `CUPULA_TEST_DATABASE_URL` names (a new database on that
//! PostgreSQL server) or, unset, a new SQLite file; this program holds `CONNECTIONS` open
//! streams of `GET /api/v1/events` (staff API keys, plain HTTP/1.1 over loopback) and posts
//! `EVENTS` staff messages through the REST API, one every 200 ms. For each level it prints
//!
//! - the delay from posting a message to its event reaching each follower (p50, p99, max),
//!   and how many of the expected deliveries arrived;
//! - the server's resident memory per open stream (the growth from before the streams were
//!   opened, over their number) and its CPU while delivering.
//!
//! `scripts/bench-events.sh` runs it on both engines; the figures go in docs/PERFORMANCE.md.
//!
//!     bench-events [EVENTS] [CONNECTIONS…]      (defaults 20 1000 5000 10000)

use app::backend::events::EventBus;
use app::backend::storage::testing::{engine_name, fresh_database};
use app::backend::{api_tokens, demo};
use app::model::{ApiKeyValidity, Role};
use server::bench::{argument, open_repair, percentile, usage, viewer_with_role, Server};
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Staff keys the streams share out (each stream one of them).
const KEYS: usize = 20;
/// Pause between two posted messages.
const EVERY: Duration = Duration::from_millis(200);

/// Set when the benchmark stops the server: its streams end then.
static ENDING: AtomicBool = AtomicBool::new(false);

/// When each follower heard each event (by event id).
type Heard = Arc<Mutex<Vec<(i64, Instant)>>>;

/// One plain HTTP/1.1 request on a new connection; the status code and the body.
async fn request(port: u16, method: &str, path: &str, key: &str, body: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = String::from_utf8_lossy(&answer).into_owned();
    let status = answer
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, answer)
}

/// Opens one stream and records the id of every event it hears, until the program ends.
async fn follow(port: u16, key: String, heard: Heard, open: Arc<AtomicUsize>) {
    let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)).await else {
        eprintln!("a stream could not connect");
        return;
    };
    let head = format!(
        "GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {key}\r\n\
         Accept: text/event-stream\r\n\r\n"
    );
    if stream.write_all(head.as_bytes()).await.is_err() {
        return;
    }
    let mut buffer = Vec::with_capacity(1024);
    let mut chunk = [0u8; 2048];
    let mut answered = false;
    loop {
        let Ok(read) = stream.read(&mut chunk).await else {
            return;
        };
        if read == 0 {
            if !ENDING.load(Ordering::Relaxed) {
                eprintln!("a stream was closed by the server");
            }
            return;
        }
        let at = Instant::now();
        buffer.extend_from_slice(&chunk[..read]);
        while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
            let line: Vec<u8> = buffer.drain(..=end).collect();
            let line = String::from_utf8_lossy(&line);
            let line = line.trim_end();
            if !answered && line.starts_with("HTTP/1.1 200") {
                answered = true;
                open.fetch_add(1, Ordering::Relaxed);
            }
            if let Some(id) = line.strip_prefix("id: ").and_then(|v| v.parse().ok()) {
                heard.lock().unwrap().push((id, at));
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let events_per_level = argument(1, 20);
    let levels: Vec<usize> = std::env::args()
        .skip(2)
        .filter_map(|a| a.parse().ok())
        .collect();
    let levels = if levels.is_empty() {
        vec![1_000, 5_000, 10_000]
    } else {
        levels
    };
    let test_db = fresh_database().await.expect("a fresh database");
    let db = test_db.db.clone();
    let accounts = demo::seed_if_empty(&db).await.unwrap().unwrap();
    let observatory_id = db.default_observatory().await.unwrap().unwrap().id;
    let agent = viewer_with_role(&db, &accounts, observatory_id, Role::Agent).await;
    let client = viewer_with_role(&db, &accounts, observatory_id, Role::Client).await;
    let mut keys = Vec::with_capacity(KEYS);
    for n in 0..KEYS {
        let key = api_tokens::create(&db, &agent, &format!("monitor {n}"), ApiKeyValidity::Never)
            .await
            .unwrap();
        keys.push(key);
    }
    let config = app::backend::config::Config::load(None, |_| None).unwrap();
    let number = open_repair(
        &db,
        &EventBus::new(),
        &config,
        &client,
        "La cúpula no gira",
        "Se para a medio camino",
    )
    .await;

    let server = Server::start(&test_db.url).await;
    let pid = server.pid();
    let port = server.port;
    println!("engine: {}", engine_name());
    println!("connections  delivered       p50       p99       max  KiB/stream  server CPU");

    let open = Arc::new(AtomicUsize::new(0));
    let mut followers: Vec<Heard> = Vec::new();
    let (rss_before, _) = usage(pid);
    for level in levels {
        while followers.len() < level {
            let heard: Heard = Arc::new(Mutex::new(Vec::with_capacity(events_per_level * 4)));
            let key = keys[followers.len() % KEYS].clone();
            tokio::spawn(follow(port, key, heard.clone(), open.clone()));
            followers.push(heard);
            // Connections opened in waves, as browsers would, not in one burst.
            if followers.len().is_multiple_of(500) {
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
        let deadline = Instant::now() + Duration::from_secs(120);
        while open.load(Ordering::Relaxed) < level && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let opened = open.load(Ordering::Relaxed);
        // Idle for a while: what the streams cost at rest.
        tokio::time::sleep(Duration::from_secs(3)).await;
        let (rss_idle, cpu_before) = usage(pid);
        for heard in &followers {
            heard.lock().unwrap().clear();
        }
        let mut posted: HashMap<i64, Instant> = HashMap::new();
        let delivering = Instant::now();
        for n in 0..events_per_level {
            let next_event = db.last_event_id().await.unwrap() + 1;
            let at = Instant::now();
            let (status, answer) = request(
                port,
                "POST",
                &format!("/api/v1/tickets/{number}/messages"),
                &keys[0],
                &format!("{{\"body\": \"Mensaje {n} a {level} seguidores\"}}"),
            )
            .await;
            assert_eq!(status, 201, "{answer}");
            posted.insert(next_event, at);
            tokio::time::sleep(EVERY).await;
        }
        // The last deliveries land.
        tokio::time::sleep(Duration::from_secs(2)).await;
        let (_, cpu_after) = usage(pid);
        let elapsed = delivering.elapsed().as_secs_f64();
        let mut delays: Vec<Duration> = Vec::with_capacity(level * events_per_level);
        for heard in &followers {
            for (id, at) in heard.lock().unwrap().iter() {
                if let Some(posted) = posted.get(id) {
                    delays.push(at.saturating_duration_since(*posted));
                }
            }
        }
        delays.sort();
        let expected = level * events_per_level;
        let ticks_per_second = 100.0;
        let cpu = (cpu_after - cpu_before) as f64 / ticks_per_second / elapsed * 100.0;
        let per_stream = (rss_idle.saturating_sub(rss_before)) as f64 / level as f64;
        if delays.is_empty() {
            println!("{level:>11}  0/{expected} (open {opened})");
            continue;
        }
        println!(
            "{level:>11}  {:>9}  {:>8.1?}  {:>8.1?}  {:>8.1?}  {per_stream:>10.1}  {cpu:>9.0}%",
            format!("{}/{expected}", delays.len()),
            percentile(&delays, 0.5),
            percentile(&delays, 0.99),
            delays.last().unwrap(),
        );
        if opened < level {
            println!("             (only {opened} of {level} streams opened)");
        }
    }
    ENDING.store(true, Ordering::Relaxed);
    drop(server);
}
