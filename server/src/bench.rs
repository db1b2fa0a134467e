//! What the benchmark programs (`src/bin/bench_*.rs`) share: their arguments, the demo
//! accounts they act as, and percentiles.

use app::backend::accounts::Viewer;
use app::backend::config::Config;
use app::backend::events::EventBus;
use app::backend::storage::Db;
use app::backend::{demo, tickets};
use app::model::{Priority, RequestType, Role};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// The numeric argument at `position`, or `default`.
pub fn argument(position: usize, default: usize) -> usize {
    std::env::args()
        .nth(position)
        .and_then(|a| a.parse().ok())
        .unwrap_or(default)
}

/// The demo account of `role`, as the viewer it signs in as.
pub async fn viewer_with_role(
    db: &Db,
    accounts: &[demo::DemoAccount],
    observatory_id: i64,
    role: Role,
) -> Viewer {
    let account = accounts
        .iter()
        .find(|a| a.role == role)
        .expect("a demo account");
    let user = db
        .user_by_email(observatory_id, &account.email)
        .await
        .unwrap()
        .expect("the demo account");
    let (user, organization) = db.user_with_organization(user.id).await.unwrap().unwrap();
    Viewer::of_user(user, organization, 0).unwrap()
}

/// Opens a repair request for the `client`'s organization; its number.
pub async fn open_repair(
    db: &Db,
    events: &EventBus,
    config: &Config,
    client: &Viewer,
    subject: &str,
    comment: &str,
) -> String {
    tickets::open_ticket(
        db,
        events,
        config,
        client,
        tickets::NewTicket {
            organization_id: client.organization_id,
            request_type: RequestType::Repair,
            telescope_id: None,
            priority: Priority::Medium,
            subject,
            comment,
            attachments: &[],
        },
    )
    .await
    .unwrap()
    .number
}

/// The `p` percentile (0 to 1) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}

/// A real `cupula serve` (the binary beside the benchmark's own) on `database_url`, with a
/// data directory of its own, stopped when dropped.
pub struct Server {
    child: Child,
    pub port: u16,
    _data_dir: tempfile::TempDir,
}

impl Server {
    /// Starts the server and waits until it accepts connections.
    pub async fn start(database_url: &str) -> Server {
        let data_dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let binary = std::env::current_exe().unwrap().with_file_name("cupula");
        let child = Command::new(&binary)
            .arg("serve")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("CUPULA_DATA_DIR", data_dir.path())
            .env("CUPULA_DATABASE_URL", database_url)
            .env("CUPULA_LISTEN", format!("127.0.0.1:{port}"))
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{} cannot start: {e}", binary.display()));
        let started = Instant::now();
        while TcpStream::connect(("127.0.0.1", port)).await.is_err() {
            assert!(
                started.elapsed() < Duration::from_secs(60),
                "the server did not start"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        Server {
            child,
            port,
            _data_dir: data_dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A process's resident memory (KiB) and CPU time used so far (clock ticks, 100 a second).
pub fn usage(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let rss = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0);
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // The fields after the command's closing parenthesis; utime and stime are the 12th and 13th.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .map(|(_, rest)| rest.split_whitespace().collect())
        .unwrap_or_default();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (rss, ticks(11) + ticks(12))
}
