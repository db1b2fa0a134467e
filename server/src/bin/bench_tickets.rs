//! `bench-tickets`: fills a fresh database with generated tickets (deterministic seed) and prints
//! the server time of the pages people use most: the staff queue's first page and a deep page,
//! a client's list, a keyword search, and a ticket page with 50 entries.
//!
//! It calls the same services the pages call, so the figures are what a request costs minus
//! HTTP and rendering. The database is the one `CUPULA_TEST_DATABASE_URL` names (a new database
//! on that PostgreSQL server) or, unset, a new SQLite file. `scripts/bench-tickets.sh` runs it on
//! both engines; the figures go in docs/PERFORMANCE.md.
//!
//! `CUPULA_BENCH_DATABASE_URL` names a database to keep between runs instead: it is migrated,
//! filled only while it has no tickets, and measured as it is. Filling takes minutes; a change
//! to a query can then be measured again in seconds.
//!
//!     bench-tickets [TICKETS] [ENTRIES_PER_TICKET] [RUNS]      (defaults 1000000 5 200)

use app::backend::accounts::Viewer;
use app::backend::config::Config;
use app::backend::error::ServiceError;
use app::backend::search::{document_terms, DocumentScope};
use app::backend::storage::testing::fresh_database;
use app::backend::storage::Db;
use app::backend::tickets;
use app::i18n::Lang;
use app::model::{Role, TicketFilter};
use chrono::{DateTime, Duration, SecondsFormat, TimeZone, Utc};
use std::time::Instant;

const ORGANIZATIONS: i64 = 50;
const ROWS_PER_INSERT: usize = 400;

/// SplitMix64: a tiny deterministic generator, so every run builds the same data.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const WORDS: &[&str] = &[
    "cúpula",
    "telescopio",
    "montura",
    "enfocador",
    "cámara",
    "espejo",
    "secundario",
    "primario",
    "guiado",
    "rueda",
    "filtros",
    "deshumidificador",
    "humedad",
    "viento",
    "lluvia",
    "nubes",
    "seeing",
    "firmware",
    "controlador",
    "motor",
    "encoder",
    "cable",
    "fuente",
    "alimentación",
    "red",
    "router",
    "switch",
    "servidor",
    "ordenador",
    "software",
    "driver",
    "ascom",
    "indi",
    "colimación",
    "óptica",
    "refrigeración",
    "sensor",
    "temperatura",
    "calibración",
    "flats",
    "darks",
    "bias",
    "apertura",
    "obturador",
    "persiana",
    "anillo",
    "pilar",
    "contrapeso",
    "balanceo",
    "eje",
    "declinación",
    "ascensión",
    "recta",
    "polar",
    "alineación",
    "estrellas",
    "campo",
    "aplanador",
    "reductor",
    "corrector",
    "ocular",
    "buscador",
    "autoguiado",
    "error",
    "reinicio",
    "actualización",
    "instalación",
    "reparación",
    "visita",
    "consulta",
    "urgente",
    "mañana",
    "noche",
    "ayer",
    "semana",
    "cliente",
    "técnico",
    "revisión",
    "mantenimiento",
    "ruido",
    "vibración",
    "desplazamiento",
    "límite",
    "parking",
    "home",
    "sincronización",
    "tiempo",
    "gps",
    "reloj",
    "batería",
    "sai",
    "tormenta",
    "rayo",
    "polvo",
    "limpieza",
    "mirror",
    "dome",
    "mount",
    "focuser",
    "camera",
    "weather",
    "station",
    "roof",
    "shutter",
];

fn sentence(rng: &mut Rng, words: usize) -> String {
    (0..words)
        .map(|_| WORDS[rng.below(WORDS.len() as u64) as usize])
        .collect::<Vec<_>>()
        .join(" ")
}

/// A timestamp as sqlx writes it for SQLite (and as PostgreSQL reads it).
fn ts(at: DateTime<Utc>) -> String {
    format!("'{}'", at.to_rfc3339_opts(SecondsFormat::AutoSi, false))
}

async fn execute(db: &Db, sql: &str) -> Result<(), sqlx::Error> {
    match db {
        Db::Sqlite(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
        Db::Postgres(pool) => sqlx::raw_sql(sql).execute(pool).await.map(|_| ()),
    }
}

/// Buffers rows of one table and inserts them a few hundred at a time.
struct Batch<'a> {
    db: &'a Db,
    head: String,
    rows: Vec<String>,
}

impl<'a> Batch<'a> {
    fn new(db: &'a Db, head: &str) -> Batch<'a> {
        Batch {
            db,
            head: head.to_string(),
            rows: Vec::with_capacity(ROWS_PER_INSERT),
        }
    }

    async fn push(&mut self, row: String) -> Result<(), sqlx::Error> {
        self.rows.push(row);
        Ok(())
    }

    fn full(&self) -> bool {
        self.rows.len() >= ROWS_PER_INSERT
    }

    async fn flush(&mut self) -> Result<(), sqlx::Error> {
        if self.rows.is_empty() {
            return Ok(());
        }
        let sql = format!("{} VALUES {}", self.head, self.rows.join(","));
        self.rows.clear();
        execute(self.db, &sql).await
    }
}

struct Fixture {
    staff: Viewer,
    client: Viewer,
    big_ticket: String,
}

fn viewer(user_id: i64, observatory_id: i64, organization_id: Option<i64>, role: Role) -> Viewer {
    Viewer {
        session_id: 0,
        user_id,
        observatory_id,
        organization_id,
        organization_name: None,
        role,
        name: "bench".into(),
        email: "bench@bench.example".into(),
        language: Lang::Es,
        time_zone: None,
        observatory_time_zone: "UTC".into(),
    }
}

async fn fill(db: &Db, tickets: i64, entries_per_ticket: i64) -> Result<(), sqlx::Error> {
    let mut rng = Rng(42);
    let start = Utc.with_ymd_and_hms(2023, 1, 1, 0, 0, 0).unwrap();
    let now = ts(Utc::now());
    execute(db, &format!(
        "INSERT INTO observatories (slug, name, ticket_prefix, created_at) VALUES ('bench', 'Bench', 'BEN', {now})"
    ))
    .await?;
    let observatory = 1;
    let mut orgs = Batch::new(
        db,
        "INSERT INTO organizations (observatory_id, name, created_at)",
    );
    for o in 1..=ORGANIZATIONS {
        orgs.push(format!("({observatory}, 'Organización {o}', {now})"))
            .await?;
    }
    orgs.flush().await?;
    // User 1 is the agent; users 2..=51 are one client per organization.
    let mut users = Batch::new(db, "INSERT INTO users (observatory_id, organization_id, email, name, role, password_hash, created_at, updated_at)");
    users
        .push(format!(
            "({observatory}, NULL, 'agent@bench.example', 'Agente', 'agent', 'x', {now}, {now})"
        ))
        .await?;
    for o in 1..=ORGANIZATIONS {
        users.push(format!("({observatory}, {o}, 'client{o}@bench.example', 'Cliente {o}', 'client', 'x', {now}, {now})")).await?;
    }
    users.flush().await?;
    let mut telescopes = Batch::new(
        db,
        "INSERT INTO telescopes (observatory_id, organization_id, name, created_at)",
    );
    for o in 1..=ORGANIZATIONS {
        for t in 1..=2 {
            telescopes
                .push(format!("({observatory}, {o}, 'T{o}-{t}', {now})"))
                .await?;
        }
    }
    telescopes.flush().await?;

    let statuses = [
        "open",
        "in_progress",
        "blocked",
        "done",
        "done",
        "done",
        "cancelled",
    ];
    let types = ["question", "installation", "repair", "update", "visit"];
    let mut ticket_rows = Batch::new(db, "INSERT INTO tickets (observatory_id, organization_id, number, request_type, telescope_id, priority, status, closed, subject, assignee_id, created_by, created_at, updated_at, closed_at)");
    let mut entry_rows = Batch::new(db, "INSERT INTO timeline_entries (observatory_id, ticket_id, kind, internal, author_id, body, old_value, new_value, created_at)");
    let mut doc_rows = Batch::new(
        db,
        "INSERT INTO search_documents (ticket_id, entry_id, internal, terms)",
    );
    let mut entry_id: i64 = 0;
    let mut sequence_per_year = std::collections::HashMap::new();
    let began = Instant::now();
    // The last ticket gets exactly 50 entries: the ticket page measured below.
    for id in 1..=tickets {
        let org = (id - 1) % ORGANIZATIONS + 1;
        let client = org + 1;
        let created =
            start + Duration::seconds((id * 94_608_000 / tickets.max(1)) + rng.below(600) as i64);
        let year = chrono::Datelike::year(&created);
        let seq = sequence_per_year
            .entry(year)
            .and_modify(|s| *s += 1)
            .or_insert(1i64);
        let status = statuses[rng.below(statuses.len() as u64) as usize];
        let closed = matches!(status, "done" | "cancelled");
        let count = if id == tickets {
            50
        } else {
            (rng.below(entries_per_ticket as u64 * 2 - 1) + 1) as i64
        };
        let updated = created + Duration::minutes(count * 37);
        let subject = sentence(&mut rng, 4);
        let telescope = if rng.below(3) == 0 {
            "NULL".to_string()
        } else {
            (org * 2 - rng.below(2) as i64).to_string()
        };
        let assignee = if rng.below(2) == 0 { "NULL" } else { "1" };
        ticket_rows.push(format!(
            "({observatory}, {org}, 'BEN-{year}-{seq:05}', '{}', {telescope}, {}, '{status}', {}, '{subject}', {assignee}, {client}, {}, {}, {})",
            types[rng.below(5) as usize],
            [0, 5, 10][rng.below(3) as usize],
            if closed { "TRUE" } else { "FALSE" },
            ts(created), ts(updated),
            if closed { ts(updated) } else { "NULL".into() },
        )).await?;
        let scope = |internal| DocumentScope {
            observatory_id: observatory,
            organization_id: org,
            internal,
        };
        doc_rows
            .push(format!(
                "({id}, NULL, FALSE, '{} ben {year} {seq:05}')",
                document_terms(&subject, scope(false))
            ))
            .await?;
        for e in 0..count {
            entry_id += 1;
            let at = ts(created + Duration::minutes(e * 37));
            let (kind, internal, author) = match (e, rng.below(10)) {
                (0, _) => ("created", false, client),
                (_, 0..=4) => ("message", false, client),
                (_, 5..=6) => ("message", false, 1),
                (_, 7) => ("note", true, 1),
                _ => ("status", false, 1),
            };
            if kind == "status" {
                entry_rows.push(format!("({observatory}, {id}, 'status', FALSE, 1, '', 'open', 'in_progress', {at})")).await?;
            } else {
                let body = sentence(&mut rng, 12);
                entry_rows.push(format!("({observatory}, {id}, '{kind}', {internal}, {author}, '{body}', NULL, NULL, {at})")).await?;
                doc_rows
                    .push(format!(
                        "({id}, {entry_id}, {internal}, '{}')",
                        document_terms(&body, scope(internal))
                    ))
                    .await?;
            }
        }
        // Parents before children: tickets, then their entries, then the search documents.
        if ticket_rows.full() || entry_rows.full() || doc_rows.full() {
            ticket_rows.flush().await?;
            entry_rows.flush().await?;
            doc_rows.flush().await?;
        }
        if id % 100_000 == 0 {
            eprintln!(
                "  {id} tickets, {entry_id} entries ({:.0} s)",
                began.elapsed().as_secs_f64()
            );
        }
    }
    ticket_rows.flush().await?;
    entry_rows.flush().await?;
    doc_rows.flush().await?;
    for (year, last) in sequence_per_year {
        execute(db, &format!("INSERT INTO ticket_counters (observatory_id, year, last_number) VALUES ({observatory}, {year}, {last})")).await?;
    }
    // What autovacuum does after a bulk load on PostgreSQL: statistics, and the GIN index's
    // pending entries merged into its posting lists.
    let settle = match db {
        Db::Sqlite(_) => "ANALYZE",
        Db::Postgres(_) => "VACUUM ANALYZE",
    };
    execute(db, settle).await?;
    eprintln!(
        "  filled: {tickets} tickets, {entry_id} entries in {:.0} s",
        began.elapsed().as_secs_f64()
    );
    Ok(())
}

async fn scalar<T>(db: &Db, sql: &str) -> Result<T, sqlx::Error>
where
    T: Send + Unpin,
    for<'r> T: sqlx::Decode<'r, sqlx::Sqlite> + sqlx::Type<sqlx::Sqlite>,
    for<'r> T: sqlx::Decode<'r, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
{
    match db {
        Db::Sqlite(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_scalar(sql).fetch_one(pool).await,
    }
}

/// Who is measured, and on what, in the generated data: the agent (user 1), the client of the
/// first organization (user 2) and the last ticket (the one with 50 entries).
async fn fixture(db: &Db) -> Result<Fixture, sqlx::Error> {
    let observatory = 1;
    Ok(Fixture {
        staff: viewer(1, observatory, None, Role::Agent),
        client: viewer(2, observatory, Some(1), Role::Client),
        big_ticket: scalar(db, "SELECT number FROM tickets ORDER BY id DESC LIMIT 1").await?,
    })
}

/// The p-quantile of sorted times.
fn quantile(sorted: &[f64], q: f64) -> f64 {
    sorted[((sorted.len() as f64 * q).ceil() as usize)
        .saturating_sub(1)
        .min(sorted.len() - 1)]
}

/// Calls `f(i)` for `i` in `0..runs` and prints p50 and p99 in milliseconds. `f` takes its input
/// from `i % inputs`; each input is called once first, unmeasured, so the figures are those of
/// a server that has served it before (its pages cached), and with several inputs each one's
/// figures follow.
async fn measure<F, Fut>(name: &str, runs: usize, inputs: usize, mut f: F)
where
    F: FnMut(usize) -> Fut,
    Fut: std::future::Future<Output = Result<usize, ServiceError>>,
{
    for i in 0..inputs {
        f(i).await.expect("the measured call succeeds");
    }
    let mut times = Vec::with_capacity(runs);
    let mut per_input = vec![Vec::new(); inputs];
    let mut rows = 0;
    for i in 0..runs {
        let began = Instant::now();
        rows = f(i).await.expect("the measured call succeeds");
        let ms = began.elapsed().as_secs_f64() * 1000.0;
        times.push(ms);
        per_input[i % inputs].push(ms);
    }
    times.sort_by(|a, b| a.total_cmp(b));
    println!(
        "{:<28} p50 {:>8.2} ms   p99 {:>8.2} ms   ({} rows, {runs} runs)",
        name,
        quantile(&times, 0.50),
        quantile(&times, 0.99),
        rows
    );
    if inputs > 1 {
        for (i, mut times) in per_input.into_iter().enumerate() {
            times.sort_by(|a, b| a.total_cmp(b));
            println!(
                "  input {i:<22} p50 {:>8.2} ms   max {:>8.2} ms",
                quantile(&times, 0.50),
                quantile(&times, 1.0)
            );
        }
    }
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<i64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let tickets_wanted = args.first().copied().unwrap_or(1_000_000);
    let entries_per_ticket = args.get(1).copied().unwrap_or(5).max(1);
    let runs = args.get(2).copied().unwrap_or(200).max(1) as usize;
    let (db, _fresh) = match std::env::var("CUPULA_BENCH_DATABASE_URL") {
        Ok(url) => {
            let db = Db::connect(&url).await.expect("the kept database");
            db.migrate().await.expect("migrations");
            (db, None)
        }
        Err(_) => {
            let fresh = fresh_database().await.expect("a fresh database");
            (fresh.db.clone(), Some(fresh))
        }
    };
    let db = &db;
    if scalar::<i64>(db, "SELECT COUNT(*) FROM tickets")
        .await
        .expect("count")
        == 0
    {
        fill(db, tickets_wanted, entries_per_ticket)
            .await
            .expect("generated data");
    }
    let tickets_present: i64 = scalar(db, "SELECT COUNT(*) FROM tickets")
        .await
        .expect("count");
    let entries_present: i64 = scalar(db, "SELECT COUNT(*) FROM timeline_entries")
        .await
        .expect("count");
    println!(
        "engine: {}  tickets: {tickets_present}  entries: {entries_present}",
        match db {
            Db::Sqlite(_) => "sqlite",
            Db::Postgres(_) => "postgres",
        }
    );
    let fixture = fixture(db).await.expect("the measured people and ticket");
    let config = Config::load(None, |_| None).expect("default configuration");

    let queue = TicketFilter::default();
    measure("staff queue, first page", runs, 1, |_| {
        let f = queue.clone();
        let staff = fixture.staff.clone();
        async move { tickets::list(db, &staff, &f).await.map(|p| p.items.len()) }
    })
    .await;

    // A deep page: the keyset of the row half-way down the queue.
    let (updated, id): (DateTime<Utc>, i64) = match db {
        Db::Sqlite(pool) => sqlx::query_as("SELECT updated_at, id FROM tickets ORDER BY updated_at DESC, id DESC LIMIT 1 OFFSET $1").bind(tickets_present / 2).fetch_one(pool).await,
        Db::Postgres(pool) => sqlx::query_as("SELECT updated_at, id FROM tickets ORDER BY updated_at DESC, id DESC LIMIT 1 OFFSET $1").bind(tickets_present / 2).fetch_one(pool).await,
    }
    .expect("a row half-way");
    let deep = TicketFilter {
        after: Some(format!("u{}.{id}", updated.timestamp_micros())),
        ..TicketFilter::default()
    };
    measure("staff queue, deep page", runs, 1, |_| {
        let f = deep.clone();
        let staff = fixture.staff.clone();
        async move { tickets::list(db, &staff, &f).await.map(|p| p.items.len()) }
    })
    .await;

    let open = TicketFilter {
        view: app::model::TicketView::Open,
        ..TicketFilter::default()
    };
    measure("client list, open", runs, 1, |_| {
        let f = open.clone();
        let client = fixture.client.clone();
        async move { tickets::list(db, &client, &f).await.map(|p| p.items.len()) }
    })
    .await;

    let words = [
        "deshumidificador",
        "cupula obturador",
        "encoders",
        "vibracion motor",
        "gps reloj",
        "tormenta rayo sai",
    ];
    for (i, words) in words.iter().enumerate() {
        println!("  input {i}: {words}");
    }
    for (name, who) in [
        ("keyword search, staff", &fixture.staff),
        ("keyword search, client", &fixture.client),
    ] {
        measure(name, runs, words.len(), |i| {
            let f = TicketFilter {
                query: words[i % words.len()].into(),
                ..TicketFilter::default()
            };
            let who = who.clone();
            async move { tickets::list(db, &who, &f).await.map(|p| p.items.len()) }
        })
        .await;
    }

    measure("ticket page, 50 entries", runs, 1, |_| {
        let staff = fixture.staff.clone();
        let number = fixture.big_ticket.clone();
        let config = &config;
        async move {
            tickets::ticket(db, config, &staff, &number)
                .await
                .map(|t| t.timeline.len())
        }
    })
    .await;
}
