//! What the benchmark programs (`src/bin/bench_*.rs`) share: their arguments, the demo
//! accounts they act as, and percentiles.

use app::backend::accounts::Viewer;
use app::backend::demo;
use app::backend::storage::Db;
use app::model::Role;
use std::time::Duration;

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

/// The `p` percentile (0 to 1) of sorted durations.
pub fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let at = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[at.min(sorted.len() - 1)]
}
