//! Live updates: the ticket events a person may see, read back from the last one they saw and
//! then followed as they commit (`EventBus`), each once and in order. A follower lives only as
//! long as what let it in: its session or API key is checked again every `RECHECK_EVERY` (once
//! for all the followers that share it, `CheckedCredentials`), and the stream ends when the
//! session ended or the person was deactivated.

use super::accounts::{self, Viewer};
use super::api_tokens;
use super::config::Config;
use super::error::ServiceError;
use super::events::EventBus;
use super::storage::events::EventRow;
use super::storage::tickets::TicketScope;
use super::storage::Db;
use super::tickets::{self, scope_of};
use chrono::{DateTime, Utc};
use futures_util::Stream;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::broadcast::{error::RecvError, Receiver};
use tokio::task::JoinHandle;

/// How often a follower's session or key is checked again.
pub const RECHECK_EVERY: Duration = Duration::from_secs(10);

/// Events read from the table at once while catching up.
const CATCH_UP_AT_ONCE: i64 = 200;

/// One event, as its follower receives it: which ticket, what kind of entry, which entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveEvent {
    pub id: i64,
    pub ticket: String,
    /// The entry's kind code, or `transcript` when a voice entry's transcript arrived.
    pub kind: String,
    pub entry_id: i64,
    /// Staff-only (an internal note); a client never receives one.
    pub internal: bool,
    pub at: DateTime<Utc>,
}

impl From<&EventRow> for LiveEvent {
    fn from(row: &EventRow) -> LiveEvent {
        LiveEvent {
            id: row.id,
            ticket: row.number.clone(),
            kind: row.kind.clone(),
            entry_id: row.entry_id,
            internal: row.internal,
            at: row.created_at,
        }
    }
}

/// What let a follower in, checked again while it follows.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Credential {
    Session(String),
    ApiKey(String),
}

/// Where a follower starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StartAt {
    /// After the event with this id (the last one it saw).
    After(i64),
    /// With the events committed from now on.
    Now,
}

/// The events `viewer` may see from `start` on, of one ticket when `ticket` names one (not
/// found when it is not theirs), for as long as `credential` stays valid.
pub async fn follow(
    db: &Db,
    config: &Arc<Config>,
    events: &EventBus,
    viewer: &Viewer,
    credential: Credential,
    ticket: Option<&str>,
    start: StartAt,
) -> Result<impl Stream<Item = LiveEvent> + Send + 'static, ServiceError> {
    let ticket_id = match ticket {
        Some(number) => Some(tickets::load(db, viewer, number).await?.id),
        None => None,
    };
    // Subscribed before the first read of the table: what commits in between arrives twice,
    // once each way, and is passed on once.
    let receiver = events.subscribe();
    let last = match start {
        StartAt::After(id) => id,
        StartAt::Now => db.last_event_id().await?,
    };
    let following = Following {
        access: Arc::new(Access {
            db: db.clone(),
            config: config.clone(),
            viewer: viewer.clone(),
            credential,
            checked: events.checked.clone(),
        }),
        receiver,
        scope: scope_of(viewer),
        ticket_id,
        last,
        pending: VecDeque::new(),
        caught_up: false,
        checked_at: Instant::now(),
        checking: None,
    };
    Ok(futures_util::stream::unfold(following, Following::next))
}

/// What let a follower in, to check again.
struct Access {
    db: Db,
    config: Arc<Config>,
    viewer: Viewer,
    credential: Credential,
    checked: CheckedCredentials,
}

/// A credential's last check: when, and whether it still let its person in.
type LastCheck = Arc<tokio::sync::Mutex<Option<(Instant, bool)>>>;

/// The last check of each credential that followers of this process use, so that one check
/// answers all the followers sharing a credential (a person's tabs, a program's streams): ten
/// thousand streams on twenty keys cost the database two checks a second, not a thousand.
#[derive(Clone, Debug, Default)]
pub struct CheckedCredentials {
    last: Arc<Mutex<HashMap<Holder, LastCheck>>>,
}

/// A credential as held by one person with one role in one organization: a check answers
/// whether it still lets exactly them in.
type Holder = (Credential, i64, &'static str, Option<i64>);

impl CheckedCredentials {
    /// The slot of one credential as one person's, forgetting checks long past.
    fn slot(&self, holder: Holder) -> LastCheck {
        let mut last = self
            .last
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(slot) = last.get(&holder) {
            return slot.clone();
        }
        // Forgotten once nobody follows with it (no follower holds its slot) and its check is
        // old, so the map holds about the credentials in use.
        if last.len() >= 64 && last.len().is_power_of_two() {
            last.retain(|_, slot| {
                Arc::strong_count(slot) > 1
                    || slot.try_lock().map_or(true, |check| {
                        check.is_some_and(|(at, _)| at.elapsed() < RECHECK_EVERY * 2)
                    })
            });
        }
        last.entry(holder).or_default().clone()
    }
}

struct Following {
    access: Arc<Access>,
    receiver: Receiver<Arc<EventRow>>,
    scope: TicketScope,
    ticket_id: Option<i64>,
    /// The last event passed on (or skipped as not for this viewer).
    last: i64,
    pending: VecDeque<LiveEvent>,
    /// Everything up to the bus's present was read from the table.
    caught_up: bool,
    checked_at: Instant,
    /// The check of the credential under way: it runs beside the follower, so that a busy
    /// database delays the check, never the events.
    checking: Option<JoinHandle<bool>>,
}

/// What woke a follower up.
enum Woke {
    Heard(Result<Arc<EventRow>, RecvError>),
    Checked(bool),
    CheckDue,
}

impl Following {
    async fn next(mut self) -> Option<(LiveEvent, Following)> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some((event, self));
            }
            if !self.caught_up {
                // Boxed: rare, and kept inline its future would make every idle follower's
                // state as large as it is.
                let rows = match Box::pin(self.access.db.events_after(
                    &self.scope,
                    self.ticket_id,
                    self.last,
                    CATCH_UP_AT_ONCE,
                ))
                .await
                {
                    Ok(rows) => rows,
                    Err(err) => {
                        // The follower reconnects from its last event; nothing is lost.
                        tracing::warn!(error = %err, "reading a follower's events failed");
                        return None;
                    }
                };
                self.caught_up = (rows.len() as i64) < CATCH_UP_AT_ONCE;
                self.take(rows.iter());
                continue;
            }
            let check_in = RECHECK_EVERY.saturating_sub(self.checked_at.elapsed());
            let has_check = self.checking.is_some();
            let checking = self.checking.as_mut();
            let woke = tokio::select! {
                heard = self.receiver.recv() => Woke::Heard(heard),
                allowed = async { checking.expect("a check under way").await }, if has_check => {
                    Woke::Checked(allowed.unwrap_or(false))
                }
                _ = tokio::time::sleep(check_in), if !has_check => Woke::CheckDue,
            };
            match woke {
                Woke::Heard(Ok(row)) => self.take(std::iter::once(row.as_ref())),
                // Too far behind the bus: read what was missed from the table.
                Woke::Heard(Err(RecvError::Lagged(_))) => self.caught_up = false,
                Woke::Heard(Err(RecvError::Closed)) => return None,
                Woke::Checked(false) => return None,
                Woke::Checked(true) => {
                    self.checking = None;
                    self.checked_at = Instant::now();
                }
                Woke::CheckDue => {
                    let access = self.access.clone();
                    self.checking = Some(tokio::spawn(async move { access.still_allowed().await }));
                }
            }
        }
    }

    fn take<'a>(&mut self, rows: impl Iterator<Item = &'a EventRow>) {
        for row in rows {
            if row.id <= self.last {
                continue;
            }
            // The bus carries everybody's events; the table's rows were read for this scope.
            if self.scope.sees_event(row) && self.ticket_id.is_none_or(|t| t == row.ticket_id) {
                self.pending.push_back(LiveEvent::from(row));
            }
            self.last = row.id;
        }
    }
}

impl Access {
    /// The session or key still lets the same person in, with the same rights: as the last
    /// check of this credential found, when it is less than half a period old.
    async fn still_allowed(&self) -> bool {
        let slot = self.checked.slot((
            self.credential.clone(),
            self.viewer.user_id,
            self.viewer.role.code(),
            self.viewer.organization_id,
        ));
        // Followers of one credential wait here for the one check among them.
        let mut last = slot.lock().await;
        if let Some((at, allowed)) = *last {
            if at.elapsed() < RECHECK_EVERY / 2 {
                return allowed;
            }
        }
        let allowed = self.check_now().await;
        *last = Some((Instant::now(), allowed));
        allowed
    }

    async fn check_now(&self) -> bool {
        let now = match &self.credential {
            Credential::Session(token) => {
                accounts::authenticate(&self.db, &self.config, token).await
            }
            Credential::ApiKey(token) => api_tokens::authenticate(&self.db, token).await,
        };
        match now {
            Ok(Some(now)) => {
                now.user_id == self.viewer.user_id
                    && now.role == self.viewer.role
                    && now.organization_id == self.viewer.organization_id
            }
            Ok(None) => false,
            Err(err) => {
                tracing::warn!(error = %err, "checking a follower's session failed");
                false
            }
        }
    }
}
