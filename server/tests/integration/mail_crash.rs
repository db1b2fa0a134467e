//! The outbox sent by real `cupula serve` processes to a slow SMTP server: one killed
//! (SIGKILL) in the middle of a batch and started again delivers every mail, a copy at most
//! of those in flight, under the same Message-ID; and two processes on one PostgreSQL
//! database send each mail once.

use crate::common::process::{free_port, settings, start, Running};
use app::backend::mailer::testing::{self, Received, Receiver};
use app::backend::mailer::SENDING_AT_ONCE;
use app::backend::storage::accounts::NewObservatory;
use app::backend::storage::links::OutboxFilter;
use app::backend::storage::testing::{engine_name, fresh_database, TestDatabase};
use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

/// A new observatory with `count` notices ("Aviso 0"…) queued; its id.
async fn queue_notices(test_db: &TestDatabase, count: usize) -> i64 {
    let observatory_id = test_db
        .db
        .insert_observatory(NewObservatory {
            slug: "obs",
            name: "Observatorio",
            ticket_prefix: "OBS",
        })
        .await
        .unwrap();
    testing::queue_notices(&test_db.db, observatory_id, count).await;
    observatory_id
}

/// The received messages by Message-ID, each with its subjects (one per copy).
fn by_message_id(received: &[Received]) -> BTreeMap<String, Vec<String>> {
    let mut copies: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for message in received {
        copies
            .entry(message.header("Message-ID").expect("a Message-ID"))
            .or_default()
            .push(message.header("Subject").unwrap_or_default());
    }
    copies
}

fn all_subjects(count: usize) -> BTreeSet<String> {
    (0..count).map(|n| format!("Aviso {n}")).collect()
}

/// Waits until the receiver holds `count` distinct messages.
async fn until_distinct(receiver: &Receiver, count: usize, within: Duration) {
    let deadline = Instant::now() + within;
    while by_message_id(&receiver.all()).len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} mails arrived",
            by_message_id(&receiver.all()).len()
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Waits until the outbox holds no unsent mail of the observatory.
async fn until_all_sent(test_db: &TestDatabase, observatory_id: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while unsent(test_db, observatory_id).await > 0 {
        assert!(
            Instant::now() < deadline,
            "mails stayed unsent in the outbox"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

async fn unsent(test_db: &TestDatabase, observatory_id: i64) -> usize {
    test_db
        .db
        .observatory_outbox(observatory_id, OutboxFilter::Waiting, None, 1000)
        .await
        .unwrap()
        .len()
}

fn sending_to(receiver: &Receiver, data_dir: &std::path::Path, database_url: &str) -> Running {
    let mut settings = settings(data_dir, database_url, free_port());
    settings.insert("CUPULA_SMTP_URL", receiver.url());
    start(&settings)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sender_killed_mid_batch_delivers_every_mail_after_its_restart() {
    const MAILS: usize = 100;
    let test_db = fresh_database().await.unwrap();
    let observatory_id = queue_notices(&test_db, MAILS).await;
    // 300 ms a message: the 100 take about 4 s, so the kill lands in the middle.
    let receiver = Receiver::taking(Duration::from_millis(300)).await;
    let data_dir = tempfile::tempdir().unwrap();

    let mut server = sending_to(&receiver, data_dir.path(), &test_db.url);
    let deadline = Instant::now() + Duration::from_secs(60);
    while receiver.count() < 5 {
        assert!(
            Instant::now() < deadline,
            "the sender did not start sending"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    // What the receiver was still working on when the sender died is kept, as a mail server
    // commits a message before it answers.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let before_restart = by_message_id(&receiver.all()).len();
    assert!(
        before_restart < MAILS,
        "the sender was killed after it had sent everything"
    );
    assert!(unsent(&test_db, observatory_id).await > 0);

    // The restarted sender takes the dead one's batch once its lease lapses (a minute).
    let _restarted = sending_to(&receiver, data_dir.path(), &test_db.url);
    until_distinct(&receiver, MAILS, Duration::from_secs(150)).await;
    until_all_sent(&test_db, observatory_id).await;

    let copies = by_message_id(&receiver.all());
    let subjects: BTreeSet<String> = copies.values().flatten().cloned().collect();
    assert_eq!(
        subjects,
        all_subjects(MAILS),
        "every mail arrived under its own Message-ID"
    );
    for (message_id, sent) in &copies {
        assert!(
            sent.iter().all(|s| s == &sent[0]),
            "{message_id} named two mails: {sent:?}"
        );
    }
    let repeated: Vec<_> = copies.values().filter(|sent| sent.len() > 1).collect();
    assert!(
        repeated.len() <= SENDING_AT_ONCE && repeated.iter().all(|sent| sent.len() == 2),
        "only the mails in flight at the kill may come twice: {repeated:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_server_processes_on_one_postgresql_send_each_mail_once() {
    if engine_name() != "postgres" {
        eprintln!("two_server_processes_on_one_postgresql_send_each_mail_once: PostgreSQL only (CUPULA_TEST_DATABASE_URL)");
        return;
    }
    const MAILS: usize = 120;
    let test_db = fresh_database().await.unwrap();
    let observatory_id = queue_notices(&test_db, MAILS).await;
    let receiver = Receiver::taking(Duration::from_millis(20)).await;
    // One data dir: the processes of one portal share its secret key and files.
    let data_dir = tempfile::tempdir().unwrap();
    let _first = sending_to(&receiver, data_dir.path(), &test_db.url);
    let _second = sending_to(&receiver, data_dir.path(), &test_db.url);

    until_distinct(&receiver, MAILS, Duration::from_secs(90)).await;
    until_all_sent(&test_db, observatory_id).await;
    // Both have had time for another round: a copy sent late would be here by now.
    tokio::time::sleep(Duration::from_secs(3)).await;

    let copies = by_message_id(&receiver.all());
    let subjects: BTreeSet<String> = copies.values().flatten().cloned().collect();
    assert_eq!(subjects, all_subjects(MAILS));
    let twice: Vec<_> = copies.iter().filter(|(_, sent)| sent.len() > 1).collect();
    assert!(twice.is_empty(), "mails sent twice: {twice:?}");
    assert_eq!(receiver.count(), MAILS);
}
