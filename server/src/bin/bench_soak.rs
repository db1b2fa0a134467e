//! `bench-soak`: a steady load for minutes, to see that nothing fails, slows or grows. A real
//! `cupula serve` (the binary beside this one) on the database `CUPULA_TEST_DATABASE_URL` names
//! (a new database on that PostgreSQL server) or, unset, a new SQLite file, with the demo
//! accounts. Requests start at a fixed rate whatever the answers take (an open loop: a slow
//! answer does not hold the next request back), in a cycle of ten:
//!
//! - writes (3 in 10): a client opens a request (REST), staff post a message on a recent one
//!   (REST) and move an open one to In progress (REST);
//! - reads (7 in 10): the client's list (REST, twice), a ticket (REST), staff's open queue and
//!   a search (REST), and two whole pages over HTTP with a session cookie: the client's start
//!   page and a ticket's page as staff.
//!
//! Every `WINDOW` it prints the requests that started in it, their errors (any answer but the
//! expected one, or no answer), latency p50/p99/max from the moment each was due, and the
//! server's resident memory; then the totals. The figures go in docs/PERFORMANCE.md.
//!
//!     bench-soak [SECONDS] [RATE]      (defaults 600 200)

use app::backend::events::EventBus;
use app::backend::storage::testing::{engine_name, fresh_database};
use app::backend::{api_tokens, demo};
use app::model::{ApiKeyValidity, Role};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{Client, StatusCode};
use server::bench::{argument, open_repair, percentile, usage, viewer_with_role, Server};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The length of one line of figures.
const WINDOW: Duration = Duration::from_secs(30);
/// Requests opened before the load starts, so that reads have something to read.
const STARTING_TICKETS: usize = 100;

/// What happened to the requests that started in one window.
#[derive(Default)]
struct Window {
    latencies: Vec<Duration>,
    errors: usize,
    /// The first few failures, to say what they were.
    examples: Vec<String>,
}

struct Load {
    base: String,
    client_api: Client,
    staff_api: Client,
    client_pages: Client,
    staff_pages: Client,
    /// Every request's number, in the order opened.
    numbers: Mutex<Vec<String>>,
    /// Requests still open, for staff to take.
    open: Mutex<VecDeque<String>>,
    windows: Mutex<Vec<Window>>,
    started: Instant,
}

/// A client that sends `key` with every request.
fn api_client(key: &str) -> Client {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {key}")).unwrap(),
    );
    Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// A browser-like client signed in as `email`.
async fn signed_in(base: &str, email: &str, password: &str) -> Client {
    let client = Client::builder()
        .cookie_store(true)
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap();
    let answer = client
        .post(format!("{base}/api/sign_in"))
        .header("Origin", base)
        .form(&[("email", email), ("password", password)])
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::OK, "signing in as {email}");
    client
}

/// A cheap, repeatable pick among `len` things for request `n`.
fn pick(n: usize, len: usize) -> usize {
    (n.wrapping_mul(2_654_435_761) >> 7) % len.max(1)
}

impl Load {
    fn recent(&self, n: usize) -> String {
        let numbers = self.numbers.lock().unwrap();
        // Most activity is on recent requests, some on older ones.
        let from = if n.is_multiple_of(4) {
            0
        } else {
            numbers.len().saturating_sub(200)
        };
        numbers[from + pick(n, numbers.len() - from)].clone()
    }

    /// Request `n` of the cycle: what it expects, and the answer.
    async fn run(&self, n: usize) -> Result<(), String> {
        let base = &self.base;
        let (expected, sent) = match n % 10 {
            0 => {
                let body = serde_json::json!({
                    "request_type": "repair",
                    "priority": 5,
                    "comment": format!("La cúpula {n} no gira desde anoche."),
                });
                let answer = self
                    .client_api
                    .post(format!("{base}/api/v1/tickets"))
                    .json(&body)
                    .send()
                    .await;
                if let Ok(answer) = answer {
                    if answer.status() != StatusCode::CREATED {
                        return Err(format!("open: {}", answer.status()));
                    }
                    let ticket: serde_json::Value =
                        answer.json().await.map_err(|e| format!("open: {e}"))?;
                    let number = ticket["number"].as_str().unwrap_or_default().to_string();
                    self.numbers.lock().unwrap().push(number.clone());
                    self.open.lock().unwrap().push_back(number);
                    return Ok(());
                }
                (StatusCode::CREATED, answer)
            }
            1 | 9 => (
                StatusCode::OK,
                self.client_api
                    .get(format!("{base}/api/v1/tickets"))
                    .send()
                    .await,
            ),
            2 => (
                StatusCode::OK,
                self.client_api
                    .get(format!("{base}/api/v1/tickets/{}", self.recent(n)))
                    .send()
                    .await,
            ),
            3 => (
                StatusCode::OK,
                self.client_pages.get(format!("{base}/")).send().await,
            ),
            4 => (
                StatusCode::CREATED,
                self.staff_api
                    .post(format!("{base}/api/v1/tickets/{}/messages", self.recent(n)))
                    .json(&serde_json::json!({ "body": format!("Revisamos el motor ({n}).") }))
                    .send()
                    .await,
            ),
            5 => (
                StatusCode::OK,
                self.staff_api
                    .get(format!("{base}/api/v1/tickets?status=open"))
                    .send()
                    .await,
            ),
            6 => (
                StatusCode::OK,
                self.staff_api
                    .get(format!("{base}/api/v1/tickets?q=c%C3%BApula+motor"))
                    .send()
                    .await,
            ),
            7 => {
                let next = self.open.lock().unwrap().pop_front();
                match next {
                    Some(number) => (
                        StatusCode::OK,
                        self.staff_api
                            .post(format!("{base}/api/v1/tickets/{number}/status"))
                            .json(&serde_json::json!({ "status": "in_progress" }))
                            .send()
                            .await,
                    ),
                    None => (
                        StatusCode::OK,
                        self.staff_api
                            .get(format!("{base}/api/v1/tickets"))
                            .send()
                            .await,
                    ),
                }
            }
            _ => (
                StatusCode::OK,
                self.staff_pages
                    .get(format!("{base}/tickets/{}", self.recent(n)))
                    .send()
                    .await,
            ),
        };
        let answer = sent.map_err(|e| format!("request {}: {e}", n % 10))?;
        let status = answer.status();
        let url = answer.url().path().to_string();
        // The whole answer is read: a page is served when its last byte is.
        let body = answer
            .bytes()
            .await
            .map_err(|e| format!("{url}: body: {e}"))?;
        if status != expected {
            let text = String::from_utf8_lossy(&body);
            return Err(format!(
                "{url}: {status}: {}",
                text.chars().take(200).collect::<String>()
            ));
        }
        Ok(())
    }

    fn record(&self, due: Instant, outcome: Result<(), String>) {
        let at = due.duration_since(self.started);
        let index = (at.as_secs() / WINDOW.as_secs()) as usize;
        let mut windows = self.windows.lock().unwrap();
        while windows.len() <= index {
            windows.push(Window::default());
        }
        let window = &mut windows[index];
        window.latencies.push(due.elapsed());
        if let Err(error) = outcome {
            window.errors += 1;
            if window.examples.len() < 3 {
                window.examples.push(error);
            }
        }
    }
}

#[tokio::main]
async fn main() {
    let seconds = argument(1, 600);
    let rate = argument(2, 200);
    let test_db = fresh_database().await.expect("a fresh database");
    let db = test_db.db.clone();
    let accounts = demo::seed_if_empty(&db).await.unwrap().unwrap();
    let observatory_id = db.default_observatory().await.unwrap().unwrap().id;
    let agent = viewer_with_role(&db, &accounts, observatory_id, Role::Agent).await;
    let client = viewer_with_role(&db, &accounts, observatory_id, Role::Client).await;
    let staff_key = api_tokens::create(&db, &agent, "soak", ApiKeyValidity::Never)
        .await
        .unwrap();
    let client_key = api_tokens::create(&db, &client, "soak", ApiKeyValidity::Never)
        .await
        .unwrap();
    let config = app::backend::config::Config::load(None, |_| None).unwrap();
    let mut numbers = Vec::with_capacity(seconds * rate / 10 + STARTING_TICKETS);
    let events = EventBus::new();
    for n in 0..STARTING_TICKETS {
        let comment = format!("El motor de la cúpula {n} hace ruido.");
        numbers.push(open_repair(&db, &events, &config, &client, "", &comment).await);
    }

    let server = Server::start(&test_db.url).await;
    let pid = server.pid();
    let base = format!("http://127.0.0.1:{}", server.port);
    let account = |role: Role| accounts.iter().find(|a| a.role == role).unwrap();
    let (client_account, agent_account) = (account(Role::Client), account(Role::Agent));
    let load = Arc::new(Load {
        client_pages: signed_in(&base, &client_account.email, &client_account.password).await,
        staff_pages: signed_in(&base, &agent_account.email, &agent_account.password).await,
        client_api: api_client(&client_key),
        staff_api: api_client(&staff_key),
        base,
        open: Mutex::new(numbers.iter().cloned().collect()),
        numbers: Mutex::new(numbers),
        windows: Mutex::new(Vec::new()),
        started: Instant::now(),
    });
    println!(
        "engine: {}; {rate} requests/s for {seconds} s, 3 in 10 writes",
        engine_name()
    );

    // The server's memory, sampled through the run.
    let memory = Arc::new(Mutex::new(Vec::<(Duration, u64)>::new()));
    let sampler = {
        let (memory, started) = (memory.clone(), load.started);
        tokio::spawn(async move {
            loop {
                memory
                    .lock()
                    .unwrap()
                    .push((started.elapsed(), usage(pid).0));
                tokio::time::sleep(Duration::from_secs(5)).await;
            }
        })
    };
    let total = seconds * rate;
    let every = Duration::from_secs_f64(1.0 / rate as f64);
    let mut running = Vec::with_capacity(total);
    for n in 0..total {
        let due = load.started + every * n as u32;
        tokio::time::sleep_until(due.into()).await;
        let load = load.clone();
        running.push(tokio::spawn(async move {
            let outcome = load.run(n).await;
            load.record(due, outcome);
        }));
    }
    for task in running {
        task.await.unwrap();
    }
    sampler.abort();
    let (_, cpu) = usage(pid);

    println!("   from s  requests  errors       p50       p99       max  server RSS MiB");
    let memory = memory.lock().unwrap();
    let windows = load.windows.lock().unwrap();
    let mut all = Vec::new();
    let mut errors = 0;
    for (index, window) in windows.iter().enumerate() {
        let from = WINDOW * index as u32;
        let rss = memory
            .iter()
            .filter(|(at, _)| *at >= from && *at < from + WINDOW)
            .map(|(_, rss)| *rss)
            .max()
            .unwrap_or(0);
        let mut latencies = window.latencies.clone();
        latencies.sort();
        if latencies.is_empty() {
            continue;
        }
        println!(
            "{:>9}  {:>8}  {:>6}  {:>8.1?}  {:>8.1?}  {:>8.1?}  {:>14.1}",
            from.as_secs(),
            latencies.len(),
            window.errors,
            percentile(&latencies, 0.5),
            percentile(&latencies, 0.99),
            latencies.last().unwrap(),
            rss as f64 / 1024.0
        );
        for example in &window.examples {
            println!("           error: {example}");
        }
        errors += window.errors;
        all.extend(latencies);
    }
    all.sort();
    let first_rss = memory
        .iter()
        .map(|(_, rss)| *rss)
        .find(|rss| *rss > 0)
        .unwrap_or(0);
    let peak_rss = memory.iter().map(|(_, rss)| *rss).max().unwrap_or(0);
    let last_rss = memory.last().map_or(0, |(_, rss)| *rss);
    println!(
        "total: {} requests, {errors} errors; p50 {:.1?}, p99 {:.1?}, max {:.1?}; \
         server RSS {:.1} MiB at the start, {:.1} peak, {:.1} at the end; server CPU {:.0} s",
        all.len(),
        percentile(&all, 0.5),
        percentile(&all, 0.99),
        all.last().unwrap(),
        first_rss as f64 / 1024.0,
        peak_rss as f64 / 1024.0,
        last_rss as f64 / 1024.0,
        cpu as f64 / 100.0
    );
    drop(server);
}
