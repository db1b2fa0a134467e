//! `bench-mail`: the notification e-mails of a busy portal, sent by the real mail worker
//! (`mailer::run`, as `serve` starts it) through a real SMTP conversation with a local
//! receiver. It prints
//!
//! - how many e-mails a second the worker delivers from a full outbox;
//! - the delay from a status change to the delivery of its e-mails, while staff make
//!   `RATE` changes a second for `SECONDS` seconds (p50, p99, max).
//!
//! The database is the one `CUPULA_TEST_DATABASE_URL` names (a new database on that
//! PostgreSQL server) or, unset, a new SQLite file. `scripts/bench-mail.sh` runs it on both
//! engines; the figures go in docs/PERFORMANCE.md.
//!
//!     bench-mail [MAILS] [RATE] [SECONDS]      (defaults 2000 100 20)

use app::backend::config::Config;
use app::backend::events::EventBus;
use app::backend::mailer::testing::Receiver;
use app::backend::mailer::{self, Mailer};
use app::backend::storage::testing::{engine_name, fresh_database};
use app::backend::{demo, tickets};
use app::model::{Role, Status};
use server::bench::{argument, open_repair, percentile, viewer_with_role};
use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Waits until the receiver holds `count` messages; the time it took.
async fn until_received(receiver: &Receiver, count: usize, since: Instant) -> Duration {
    let deadline = Instant::now() + Duration::from_secs(600);
    while receiver.count() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} e-mails arrived",
            receiver.count()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    since.elapsed()
}

/// Waits until nothing new arrives for three ticks of the worker; how many messages arrived.
async fn settle(receiver: &Receiver) -> usize {
    let mut last = receiver.count();
    loop {
        tokio::time::sleep(mailer::POLL_EVERY * 3).await;
        let now = receiver.count();
        if now == last {
            return now;
        }
        last = now;
    }
}

#[tokio::main]
async fn main() {
    let mails = argument(1, 2000);
    let rate = argument(2, 100);
    let seconds = argument(3, 20);
    let test_db = fresh_database().await.expect("a fresh database");
    let db = test_db.db.clone();
    let accounts = demo::seed_if_empty(&db).await.unwrap().unwrap();
    let observatory_id = db.default_observatory().await.unwrap().unwrap().id;
    let receiver = Receiver::start().await;
    let data_dir = tempfile::tempdir().unwrap();
    let settings = HashMap::from([
        ("CUPULA_SMTP_URL", receiver.url()),
        ("CUPULA_DATA_DIR", data_dir.path().display().to_string()),
        (
            "CUPULA_SECRET_KEY",
            "0f1e2d3c4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69788796a5b4c3d2e1f0".to_string(),
        ),
    ]);
    let config = Arc::new(Config::load(None, |name| settings.get(name).cloned()).unwrap());
    let key = config.secret_key.clone().unwrap();
    let events = EventBus::new();
    let agent = viewer_with_role(&db, &accounts, observatory_id, Role::Agent).await;
    let client = viewer_with_role(&db, &accounts, observatory_id, Role::Client).await;
    println!("engine: {}", engine_name());

    // Requests to change later, opened first; their own e-mails are sent and left aside.
    let changes = rate * seconds;
    let mut numbers = Vec::with_capacity(changes);
    for n in 0..changes {
        let subject = format!("Solicitud {n}");
        numbers.push(
            open_repair(
                &db,
                &events,
                &config,
                &client,
                &subject,
                "La cúpula no gira",
            )
            .await,
        );
    }
    let worker = tokio::spawn(mailer::run(
        db.clone(),
        config.clone(),
        events.clone(),
        key.clone(),
        Mailer::from_config(&config).unwrap(),
    ));
    let opened_mails = settle(&receiver).await;
    println!("{changes} requests opened ({opened_mails} e-mails: acknowledgements and notices)");

    // 1. A full outbox: e-mails a second.
    mailer::testing::queue_notices(&db, observatory_id, mails).await;
    let queued = Instant::now();
    let took = until_received(&receiver, opened_mails + mails, queued).await;
    println!(
        "outbox of {mails}: delivered in {:.2} s, {:.0} e-mails/s (including up to {} s until the worker's next tick)",
        took.as_secs_f64(),
        mails as f64 / took.as_secs_f64(),
        mailer::POLL_EVERY.as_secs()
    );

    // 2. Status changes at `rate` a second: the delay to each of their e-mails.
    let before = receiver.count();
    let mut changed_at: HashMap<String, Instant> = HashMap::new();
    let mut ticks = tokio::time::interval(Duration::from_secs_f64(1.0 / rate as f64));
    let started = Instant::now();
    for number in &numbers {
        ticks.tick().await;
        tickets::change_status(
            &db,
            &events,
            &config,
            &agent,
            number,
            Status::InProgress,
            "Revisamos el motor de la cúpula",
            false,
        )
        .await
        .unwrap();
        changed_at.insert(number.clone(), Instant::now());
    }
    let made_in = started.elapsed();
    let total = settle(&receiver).await;
    let mut delays: Vec<Duration> = receiver.all()[before..]
        .iter()
        .filter_map(|mail| {
            let subject = mail.header("Subject")?;
            let number = subject.strip_prefix('[')?.split(']').next()?;
            Some(mail.at.saturating_duration_since(*changed_at.get(number)?))
        })
        .collect();
    delays.sort();
    assert!(!delays.is_empty(), "no e-mail of a status change arrived");
    println!(
        "{changes} status changes in {:.1} s ({:.0}/s): {} e-mails; delay to delivery p50 {:.2} s, p99 {:.2} s, max {:.2} s",
        made_in.as_secs_f64(),
        changes as f64 / made_in.as_secs_f64(),
        total - before,
        percentile(&delays, 0.5).as_secs_f64(),
        percentile(&delays, 0.99).as_secs_f64(),
        delays.last().unwrap().as_secs_f64(),
    );
    worker.abort();
}
