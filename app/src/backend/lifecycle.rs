//! The request life cycle: requests left waiting must not rot.
//!
//! - *Waiting for the client*: staff block a request "waiting for the client". Every
//!   `reminder_hours` the client is reminded, `reminder_count` times; `reminder_hours` after the
//!   last reminder, a notice that it closes in `closure_hours`; then it closes as done, "no
//!   reply". A client's answer (portal, API) ends the wait and moves it back to in progress.
//! - *Closure confirmation*: staff mark a request done; its client is asked to accept the
//!   resolution, or to reopen it with a comment. After `reminder_hours` a reminder; after as
//!   long again, a notice; `closure_hours` later it closes automatically. Accepting closes it
//!   at once. The status stays Done; `Resolution` tells a closed one from one waiting.
//!
//! Each request has at most one timer (`ticket_timers`): the next step of its cadence and when
//! it is due. A status change replaces it. The worker (`fire_due`, run by the mail worker on
//! each tick) fires each due timer in the transaction that deletes it, so a timer fires once
//! with any number of server processes and across restarts. Every step is a system entry in
//! the timeline (so the notifier mails it) and an event.

use super::accounts::Viewer;
use super::error::ServiceError;
use super::events::EventBus;
use super::storage::lifecycle::{CadenceSettings, DueTimer, Firing};
use super::storage::tickets::NewTimer;
use super::storage::{Db, StoreError};
use crate::i18n::Msg;
use crate::model::{AutoAction, Cadences, Status};
use chrono::{DateTime, Duration, Utc};

pub const WAITING: &str = "waiting";
pub const CONFIRMATION: &str = "confirmation";
/// Timers fired at once.
const BATCH: i64 = 50;
/// The limits of the cadence settings.
pub const MAX_HOURS: i64 = 24 * 30;
pub const MAX_REMINDERS: i64 = 10;

/// The timer a new status starts: a request blocked waiting for its client starts the waiting
/// cadence; a done one, the confirmation cadence; any other none.
pub fn timer_for(
    to: Status,
    waiting_for_client: bool,
    settings: CadenceSettings,
    now: DateTime<Utc>,
) -> Option<NewTimer> {
    let first = now + Duration::hours(settings.reminder_hours);
    match to {
        Status::Blocked if waiting_for_client => Some(NewTimer {
            cadence: WAITING,
            step: 1,
            due_at: first,
        }),
        Status::Done => Some(NewTimer {
            cadence: CONFIRMATION,
            step: 1,
            due_at: first,
        }),
        _ => None,
    }
}

/// What a due timer does, and the timer that follows it.
fn step_of(timer: &DueTimer) -> Option<(AutoAction, Option<NewTimer>)> {
    let (hours, count, closure) = (
        timer.reminder_hours,
        timer.reminder_count,
        timer.closure_hours,
    );
    let next = |step: i64, after: i64| {
        Some(NewTimer {
            cadence: if timer.cadence == WAITING {
                WAITING
            } else {
                CONFIRMATION
            },
            step,
            due_at: timer.due_at + Duration::hours(after),
        })
    };
    let step = timer.step;
    match timer.cadence.as_str() {
        WAITING if step <= count => Some((
            AutoAction::WaitingReminder { n: step, of: count },
            // After the last reminder, the notice comes as long after as the reminders did.
            next(step + 1, hours),
        )),
        WAITING if step == count + 1 => Some((
            AutoAction::WaitingClosureNotice { hours: closure },
            next(step + 1, closure),
        )),
        WAITING => Some((AutoAction::ClosedNoReply, None)),
        CONFIRMATION if step == 1 => Some((AutoAction::ConfirmationReminder, next(2, hours))),
        CONFIRMATION if step == 2 => Some((
            AutoAction::ConfirmationClosureNotice { hours: closure },
            next(3, closure),
        )),
        CONFIRMATION => Some((AutoAction::ClosedAutomatically, None)),
        _ => None,
    }
}

/// Fires every timer due at `now`. Returns how many it fired.
pub async fn fire_due(db: &Db, events: &EventBus, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let mut fired = 0;
    loop {
        let due = db.due_timers(now, BATCH).await?;
        for timer in &due {
            let Some((action, next)) = step_of(timer) else {
                continue;
            };
            let firing = Firing {
                action: action.code(),
                argument: action.argument(),
                resolution: action.closes().map(|r| r.code()),
                next,
            };
            if db.fire_timer(timer, firing, now).await?.is_some() {
                fired += 1;
                events.committed();
            }
        }
        if (due.len() as i64) < BATCH {
            return Ok(fired);
        }
    }
}

/// An observatory's cadences (administrators).
pub async fn settings(db: &Db, viewer: &Viewer) -> Result<Cadences, ServiceError> {
    viewer.require_admin()?;
    let row = db.cadence_settings(viewer.observatory_id).await?;
    Ok(Cadences {
        reminder_hours: row.reminder_hours,
        reminder_count: row.reminder_count,
        closure_hours: row.closure_hours,
    })
}

/// Checks and saves an observatory's cadences: hours from 1 to 30 days, 0 to 10 reminders.
pub async fn save_settings(
    db: &Db,
    viewer: &Viewer,
    settings: Cadences,
) -> Result<(), ServiceError> {
    viewer.require_admin()?;
    let hours_ok = |h: i64| (1..=MAX_HOURS).contains(&h);
    if !hours_ok(settings.reminder_hours)
        || !hours_ok(settings.closure_hours)
        || !(0..=MAX_REMINDERS).contains(&settings.reminder_count)
    {
        return Err(Msg::ErrorCadenceOutOfRange.into());
    }
    db.save_cadence_settings(
        viewer.observatory_id,
        CadenceSettings {
            reminder_hours: settings.reminder_hours,
            reminder_count: settings.reminder_count,
            closure_hours: settings.closure_hours,
        },
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timer(cadence: &str, step: i64) -> DueTimer {
        DueTimer {
            ticket_id: 1,
            cadence: cadence.into(),
            step,
            due_at: DateTime::from_timestamp(1_800_000_000, 0).unwrap(),
            observatory_id: 1,
            organization_id: 1,
            reminder_hours: 24,
            reminder_count: 3,
            closure_hours: 12,
        }
    }

    #[test]
    fn the_waiting_cadence_reminds_three_times_warns_then_closes() {
        let actions: Vec<_> = (1..=5)
            .map(|step| step_of(&timer(WAITING, step)).unwrap())
            .collect();
        assert_eq!(actions[0].0, AutoAction::WaitingReminder { n: 1, of: 3 });
        assert_eq!(actions[2].0, AutoAction::WaitingReminder { n: 3, of: 3 });
        assert_eq!(actions[3].0, AutoAction::WaitingClosureNotice { hours: 12 });
        assert_eq!(actions[4].0, AutoAction::ClosedNoReply);
        let due = timer(WAITING, 1).due_at;
        assert_eq!(
            actions[0].1.as_ref().unwrap().due_at,
            due + Duration::hours(24)
        );
        assert_eq!(
            actions[3].1.as_ref().unwrap().due_at,
            due + Duration::hours(12)
        );
        assert!(actions[4].1.is_none());
    }

    #[test]
    fn the_confirmation_cadence_reminds_warns_then_closes_automatically() {
        let steps: Vec<_> = (1..=3)
            .map(|step| step_of(&timer(CONFIRMATION, step)).unwrap())
            .collect();
        assert_eq!(steps[0].0, AutoAction::ConfirmationReminder);
        assert_eq!(
            steps[1].0,
            AutoAction::ConfirmationClosureNotice { hours: 12 }
        );
        assert_eq!(steps[2].0, AutoAction::ClosedAutomatically);
        assert_eq!(
            steps[2].0.closes(),
            Some(crate::model::Resolution::AutoClosed)
        );
        assert!(steps[2].1.is_none());
    }

    #[test]
    fn only_waiting_blocks_and_done_start_a_timer() {
        let settings = CadenceSettings {
            reminder_hours: 24,
            reminder_count: 3,
            closure_hours: 24,
        };
        let now = Utc::now();
        assert!(timer_for(Status::Blocked, false, settings, now).is_none());
        assert_eq!(
            timer_for(Status::Blocked, true, settings, now)
                .unwrap()
                .cadence,
            WAITING
        );
        assert_eq!(
            timer_for(Status::Done, false, settings, now)
                .unwrap()
                .cadence,
            CONFIRMATION
        );
        assert!(timer_for(Status::InProgress, true, settings, now).is_none());
    }
}
