//! Housekeeping of what the portal keeps only for a while: sessions that ended, old failed
//! sign-ins, single-use links once used or dead, the bodies of e-mails long sent, and ticket
//! events older than any page or program resumes from. Run by the server's periodic task.

use super::accounts::THROTTLE_WINDOW;
use super::config::Config;
use super::storage::{Db, StoreError};
use chrono::{DateTime, Duration, Utc};

/// Failed sign-ins are kept this long (the throttle needs minutes; a day helps an admin who
/// asks why someone was locked out).
pub const SIGN_IN_FAILURES_KEPT: Duration = Duration::days(1);
/// Used, revoked or expired links are kept this long, for "this link was already used".
pub const LINKS_KEPT: Duration = Duration::days(30);
/// The bodies of sent, failed or cancelled e-mails are kept this long; the rows stay.
pub const MAIL_BODIES_KEPT: Duration = Duration::days(90);
/// Ticket events are kept this long: a live page or an event stream resumes from the last
/// event it saw within this time without a gap.
pub const EVENTS_KEPT: Duration = Duration::days(7);

/// How many rows each purge removed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Purged {
    pub sessions: u64,
    pub sign_in_failures: u64,
    pub links: u64,
    pub mail_bodies: u64,
    pub events: u64,
}

impl Purged {
    pub fn total(&self) -> u64 {
        self.sessions + self.sign_in_failures + self.links + self.mail_bodies + self.events
    }
}

/// Removes what is past its retention at `now`.
pub async fn purge(db: &Db, config: &Config, now: DateTime<Utc>) -> Result<Purged, StoreError> {
    let idle = Duration::from_std(config.session_idle_timeout).unwrap_or(Duration::hours(12));
    Ok(Purged {
        sessions: db.purge_sessions(now, now - idle).await?,
        sign_in_failures: db
            .purge_sign_in_failures(now - SIGN_IN_FAILURES_KEPT.max(THROTTLE_WINDOW))
            .await?,
        links: db.purge_links(now - LINKS_KEPT).await?,
        mail_bodies: db.purge_mail_bodies(now - MAIL_BODIES_KEPT).await?,
        events: db.purge_events(now - EVENTS_KEPT).await?,
    })
}
