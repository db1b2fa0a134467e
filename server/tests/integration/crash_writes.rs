//! The `cupula` server killed (SIGKILL) at random moments while requests are opened, answered
//! and moved through their statuses over HTTP, and started again: afterwards every write the
//! server acknowledged is there exactly once, every write whose answer was lost is there at
//! most once, refused ones not at all; ticket numbers have no duplicate and no gap; the kept
//! counts and the search index agree with the tickets.
//!
//! `CUPULA_CRASH_TRIALS` sets the number of kills (3 in the test command;
//! `scripts/crash-test.sh` runs more and reports them).

use crate::common::process::{free_port, settings, start, Running};
use crate::common::{api_key, json_of};
use app::backend::demo;
use app::backend::storage::testing::{engine_name, fresh_database};
use app::backend::storage::Db;
use reqwest::header::AUTHORIZATION;
use serde_json::{json, Value};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const WRITERS: usize = 4;

/// Runs `$body` with `$pool` the test database's pool of either engine.
macro_rules! on_db {
    ($db:expr, |$pool:ident| $body:expr) => {
        match $db {
            Db::Sqlite($pool) => $body,
            Db::Postgres($pool) => $body,
        }
    };
}

/// What became of one write.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// The server answered that it was done.
    Acknowledged,
    /// The server answered that it would not do it.
    Refused,
    /// No answer: the server died before or after doing it.
    Unknown,
}

/// Every write sent, by the unique word it carries.
#[derive(Default)]
struct Journal {
    tickets: BTreeMap<String, Outcome>,
    messages: BTreeMap<String, Outcome>,
    statuses: BTreeMap<String, Outcome>,
    /// Acknowledged tickets: (marker, number).
    opened: Vec<(String, String)>,
}

/// A word of letters only, unique per writer and sequence, all of one length so that none is
/// the start of another (search splits on digits and dashes, and may match word starts).
fn marker(kind: char, writer: usize, seq: usize) -> String {
    let mut n = writer * 100_000 + seq;
    let mut word = format!("zz{kind}");
    for _ in 0..5 {
        word.push((b'a' + (n % 26) as u8) as char);
        n /= 26;
    }
    word
}

fn outcome(response: Result<reqwest::Response, reqwest::Error>) -> Outcome {
    match response {
        Ok(response) if response.status().is_success() => Outcome::Acknowledged,
        Ok(response) if response.status().is_client_error() => Outcome::Refused,
        // A server error is not an answer about the write: it may or may not have happened.
        _ => Outcome::Unknown,
    }
}

struct Writer {
    http: reqwest::Client,
    base: Arc<Mutex<String>>,
    client_key: String,
    staff_key: String,
    journal: Arc<Mutex<Journal>>,
}

impl Writer {
    fn post(&self, path: &str, key: &str, body: Value) -> reqwest::RequestBuilder {
        let base = self.base.lock().unwrap().clone();
        self.http
            .post(format!("{base}{path}"))
            .header(AUTHORIZATION, format!("Bearer {key}"))
            .json(&body)
    }

    /// Sends write number `seq` of `writer`: a new request, a message or a status change.
    async fn write(&self, writer: usize, seq: usize) -> Outcome {
        let opened = self.journal.lock().unwrap().opened.clone();
        let target = (!opened.is_empty()).then(|| opened[(writer + seq) % opened.len()].1.clone());
        match (seq % 3, target) {
            (1, Some(number)) => {
                let word = marker('m', writer, seq);
                let sent = self
                    .post(
                        &format!("/api/v1/tickets/{number}/messages"),
                        &self.client_key,
                        json!({ "body": format!("Mensaje {word}") }),
                    )
                    .send()
                    .await;
                let outcome = outcome(sent);
                self.journal.lock().unwrap().messages.insert(word, outcome);
                outcome
            }
            (2, Some(number)) => {
                let word = marker('s', writer, seq);
                let status = if seq.is_multiple_of(2) {
                    "in_progress"
                } else {
                    "blocked"
                };
                let sent = self
                    .post(
                        &format!("/api/v1/tickets/{number}/status"),
                        &self.staff_key,
                        json!({ "status": status, "reason": format!("Motivo {word}") }),
                    )
                    .send()
                    .await;
                let outcome = outcome(sent);
                self.journal.lock().unwrap().statuses.insert(word, outcome);
                outcome
            }
            _ => {
                let word = marker('t', writer, seq);
                let sent = self
                    .post(
                        "/api/v1/tickets",
                        &self.client_key,
                        json!({
                            "request_type": "repair", "priority": 5,
                            "subject": format!("Petición {word}"),
                            "comment": "La montura se detiene sola."
                        }),
                    )
                    .send()
                    .await;
                let acknowledged = match sent {
                    Ok(response) if response.status().is_success() => {
                        let body: Option<Value> = response.json().await.ok();
                        body.and_then(|b| b["number"].as_str().map(str::to_string))
                    }
                    other => {
                        let outcome = outcome(other);
                        self.journal.lock().unwrap().tickets.insert(word, outcome);
                        return outcome;
                    }
                };
                let mut journal = self.journal.lock().unwrap();
                match acknowledged {
                    Some(number) => {
                        journal.tickets.insert(word.clone(), Outcome::Acknowledged);
                        journal.opened.push((word, number));
                        Outcome::Acknowledged
                    }
                    // Its answer was cut off: done or not, it cannot be told here.
                    None => {
                        journal.tickets.insert(word, Outcome::Unknown);
                        Outcome::Unknown
                    }
                }
            }
        }
    }
}

/// How many times each word appears in `sql`'s texts.
async fn occurrences(db: &Db, sql: &str) -> BTreeMap<String, usize> {
    let texts: Vec<String> = on_db!(db, |pool| sqlx::query_scalar(sql)
        .fetch_all(pool)
        .await
        .unwrap());
    let mut found = BTreeMap::new();
    for text in texts {
        for word in text.split_whitespace().filter(|w| w.starts_with("zz")) {
            *found.entry(word.to_string()).or_insert(0) += 1;
        }
    }
    found
}

/// Each write is there as often as its outcome allows; the problems found.
fn check(
    kind: &str,
    sent: &BTreeMap<String, Outcome>,
    found: &BTreeMap<String, usize>,
) -> Vec<String> {
    let mut problems = Vec::new();
    for (word, outcome) in sent {
        let times = found.get(word).copied().unwrap_or(0);
        let fine = match outcome {
            Outcome::Acknowledged => times == 1,
            Outcome::Unknown => times <= 1,
            Outcome::Refused => times == 0,
        };
        if !fine {
            problems.push(format!(
                "{kind} {word} ({outcome:?}) is there {times} times"
            ));
        }
    }
    for word in found.keys().filter(|word| !sent.contains_key(*word)) {
        problems.push(format!("{kind} {word} is there but was never sent"));
    }
    problems
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn writes_survive_a_server_killed_at_random_moments() {
    let trials: usize = std::env::var("CUPULA_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3);
    let test_db = fresh_database().await.unwrap();
    let accounts = demo::seed_if_empty(&test_db.db).await.unwrap().unwrap();
    let account = |role: &str| accounts.iter().find(|a| a.role.code() == role).unwrap();
    let (_, client_key) = api_key(
        &test_db.db,
        &account("client").email,
        &account("client").password,
    )
    .await;
    let (_, staff_key) = api_key(
        &test_db.db,
        &account("admin").email,
        &account("admin").password,
    )
    .await;
    let data_dir = tempfile::tempdir().unwrap();
    let base = Arc::new(Mutex::new(String::new()));
    let journal = Arc::new(Mutex::new(Journal::default()));
    let stop = Arc::new(AtomicBool::new(false));

    let serve = |base: &Arc<Mutex<String>>| -> Running {
        let port = free_port();
        let server = start(&settings(data_dir.path(), &test_db.url, port));
        *base.lock().unwrap() = format!("http://127.0.0.1:{port}");
        server
    };
    let mut server = serve(&base);
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(20))
        .build()
        .unwrap();
    let mut writers = Vec::new();
    for w in 0..WRITERS {
        let writer = Writer {
            http: http.clone(),
            base: base.clone(),
            client_key: client_key.clone(),
            staff_key: staff_key.clone(),
            journal: journal.clone(),
        };
        let stop = stop.clone();
        writers.push(tokio::spawn(async move {
            let mut seq = 0;
            while !stop.load(Ordering::SeqCst) {
                // While the server is down, a write every 50 ms is enough to meet it back.
                if writer.write(w, seq).await == Outcome::Unknown {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                seq += 1;
            }
        }));
    }

    let mut random = 0x9E37_79B9_7F4A_7C15u64 ^ trials as u64;
    for _ in 0..trials {
        random ^= random << 13;
        random ^= random >> 7;
        random ^= random << 17;
        let after = Duration::from_millis(300 + random % 1200);
        tokio::time::sleep(after).await;
        server.0.kill().unwrap();
        server.0.wait().unwrap();
        server = serve(&base);
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }

    let journal = std::mem::take(&mut *journal.lock().unwrap());
    let db = &test_db.db;
    let mut problems = Vec::new();
    problems.extend(check(
        "request",
        &journal.tickets,
        &occurrences(db, "SELECT subject FROM tickets").await,
    ));
    problems.extend(check(
        "message",
        &journal.messages,
        &occurrences(
            db,
            "SELECT body FROM timeline_entries WHERE kind = 'message'",
        )
        .await,
    ));
    problems.extend(check(
        "status change",
        &journal.statuses,
        &occurrences(
            db,
            "SELECT body FROM timeline_entries WHERE kind = 'status'",
        )
        .await,
    ));

    // Numbers: one each, from 1 up without a gap.
    let numbers: Vec<String> = on_db!(db, |pool| sqlx::query_scalar("SELECT number FROM tickets")
        .fetch_all(pool)
        .await
        .unwrap());
    let sequence: BTreeSet<u64> = numbers
        .iter()
        .map(|n| n.rsplit('-').next().unwrap().parse().unwrap())
        .collect();
    if sequence.len() != numbers.len() {
        problems.push(format!("duplicate numbers among {numbers:?}"));
    }
    if sequence.iter().copied().ne(1..=numbers.len() as u64) {
        problems.push(format!("numbers with a gap: {sequence:?}"));
    }
    // The kept counts agree with the tickets.
    let counted: Vec<(i64, String, i64, i64)> = on_db!(db, |pool| {
        sqlx::query_as(
        "SELECT organization_id, status, assignee_id, CAST(tickets AS BIGINT) FROM ticket_counts \
         WHERE tickets <> 0 ORDER BY 1, 2, 3"
    )
    .fetch_all(pool)
    .await
    .unwrap()
    });
    let actual: Vec<(i64, String, i64, i64)> = on_db!(db, |pool| sqlx::query_as(
        "SELECT organization_id, status, COALESCE(assignee_id, 0), COUNT(*) FROM tickets \
         GROUP BY organization_id, status, COALESCE(assignee_id, 0) ORDER BY 1, 2, 3"
    )
    .fetch_all(pool)
    .await
    .unwrap());
    if counted != actual {
        problems.push(format!("ticket_counts {counted:?} but tickets {actual:?}"));
    }
    // Every ticket and every message has its search document…
    let unindexed: i64 = on_db!(db, |pool| sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM tickets t WHERE NOT EXISTS \
           (SELECT 1 FROM search_documents d WHERE d.ticket_id = t.id AND d.entry_id IS NULL)) \
         + (SELECT COUNT(*) FROM timeline_entries e WHERE e.kind = 'message' AND NOT EXISTS \
           (SELECT 1 FROM search_documents d WHERE d.entry_id = e.id))"
    )
    .fetch_one(pool)
    .await
    .unwrap());
    if unindexed != 0 {
        problems.push(format!(
            "{unindexed} tickets or messages missing from the search index"
        ));
    }
    // …and search finds acknowledged requests by their word.
    let server_base = base.lock().unwrap().clone();
    for (word, number) in journal
        .opened
        .iter()
        .step_by((journal.opened.len() / 10).max(1))
    {
        let page = json_of(
            http.get(format!("{server_base}/api/v1/tickets?q={word}"))
                .header(AUTHORIZATION, format!("Bearer {client_key}")),
        )
        .await;
        let found: Vec<&str> = page["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|item| item["number"].as_str())
            .collect();
        if found != [number.as_str()] {
            problems.push(format!("searching {word} finds {found:?}, not {number}"));
        }
    }
    drop(server);

    let count = |map: &BTreeMap<String, Outcome>, wanted: Outcome| {
        map.values().filter(|outcome| **outcome == wanted).count()
    };
    println!(
        "crash test on {}: {trials} kills; requests {} acknowledged, {} unanswered; messages {} \
         acknowledged, {} unanswered; status changes {} acknowledged, {} refused, {} unanswered; \
         {} problems",
        engine_name(),
        count(&journal.tickets, Outcome::Acknowledged),
        count(&journal.tickets, Outcome::Unknown),
        count(&journal.messages, Outcome::Acknowledged),
        count(&journal.messages, Outcome::Unknown),
        count(&journal.statuses, Outcome::Acknowledged),
        count(&journal.statuses, Outcome::Refused),
        count(&journal.statuses, Outcome::Unknown),
        problems.len()
    );
    assert!(
        count(&journal.tickets, Outcome::Acknowledged) > trials,
        "the writers wrote between the kills"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
