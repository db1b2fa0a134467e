//! The event bus: the durable events of tickets (`ticket_events`, written in each change's
//! transaction) handed to everyone following them in this process, as they commit.
//!
//! One task per process reads the new rows in id order and broadcasts them; followers filter
//! them for their viewer (`live`). It reads when a service says it committed a change
//! (`committed`), when PostgreSQL announces a commit of any server process sharing the
//! database (LISTEN on `EVENTS_CHANNEL`, sent by the writing transaction itself), and every
//! `SWEEP_EVERY` in any case, so a change written without a word (a transcription, a lost
//! announcement) is still delivered. Nothing is lost when the bus misses something: a follower
//! that falls behind reads what it missed from the table.

use super::storage::events::{EventRow, EVENTS_CHANNEL};
use super::storage::{Db, StoreError};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{broadcast, Notify};

/// How often the table is read when nothing said it changed.
pub const SWEEP_EVERY: Duration = Duration::from_millis(500);

/// Events read at once; more are read at once after.
const READ_AT_ONCE: i64 = 500;

#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<Arc<EventRow>>,
    wake: Arc<Notify>,
    /// The followers' credential checks, shared by the followers of one credential.
    pub(crate) checked: super::live::CheckedCredentials,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        // A follower this far behind is told so (`RecvError::Lagged`) and reads the table;
        // the bus never waits for anyone.
        let (sender, _) = broadcast::channel(1024);
        EventBus {
            sender,
            wake: Arc::new(Notify::new()),
            checked: super::live::CheckedCredentials::default(),
        }
    }

    /// A service committed a change with its event: deliver it now rather than at the next sweep.
    pub fn committed(&self) {
        self.wake.notify_one();
    }

    /// The events committed from now on, in id order.
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventRow>> {
        self.sender.subscribe()
    }

    /// Starts the task that reads new events and broadcasts them, from the newest one now.
    pub async fn spawn_reader(&self, db: Db) -> Result<tokio::task::JoinHandle<()>, StoreError> {
        let mut last = db.last_event_id().await?;
        if let Db::Postgres(pool) = &db {
            let mut listener = sqlx::postgres::PgListener::connect_with(pool).await?;
            listener.listen(EVENTS_CHANNEL).await?;
            let wake = self.wake.clone();
            tokio::spawn(async move {
                loop {
                    // `recv` reconnects by itself after a lost connection; what was announced
                    // meanwhile is found by the next sweep.
                    match listener.recv().await {
                        Ok(_) => wake.notify_one(),
                        // The pool closes only when the process stops: the listener gives its
                        // connection back (dropped here), or closing would wait for it forever.
                        Err(sqlx::Error::PoolClosed) => break,
                        Err(err) => {
                            tracing::warn!(error = %err, "listening for other servers' events failed; trying again");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
            });
        }
        let bus = self.clone();
        Ok(tokio::spawn(async move {
            loop {
                let _ = tokio::time::timeout(SWEEP_EVERY, bus.wake.notified()).await;
                loop {
                    match db.events_since(last, READ_AT_ONCE).await {
                        Ok(rows) => {
                            let full = rows.len() as i64 == READ_AT_ONCE;
                            for row in rows {
                                last = row.id;
                                // Nobody following is not an error.
                                let _ = bus.sender.send(Arc::new(row));
                            }
                            if !full {
                                break;
                            }
                        }
                        Err(StoreError::Database(sqlx::Error::PoolClosed)) => return,
                        Err(err) => {
                            tracing::warn!(error = %err, "reading new ticket events failed; trying again");
                            break;
                        }
                    }
                }
            }
        }))
    }
}
