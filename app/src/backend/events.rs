//! The event interface: every change to a ticket is published here after its transaction
//! commits. Notifications and live updates subscribe; publishing never waits for them.
//!
//! In one process this is a broadcast channel. Several server instances sharing a PostgreSQL
//! database will relay the same events through LISTEN/NOTIFY behind this same type.

use crate::model::EntryKind;
use tokio::sync::broadcast;

/// Something that happened to a ticket. It carries ids only: a subscriber loads what it needs
/// with its own viewer's rights, so nothing staff-only can leak through an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketEvent {
    pub observatory_id: i64,
    pub organization_id: i64,
    pub ticket_id: i64,
    /// The timeline entry that records the change.
    pub entry_id: i64,
    pub kind: EntryKind,
    /// Staff-only (an internal note): clients' subscriptions must skip it.
    pub internal: bool,
    /// Who caused it.
    pub actor_id: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct EventBus {
    sender: broadcast::Sender<TicketEvent>,
}

impl Default for EventBus {
    fn default() -> Self {
        EventBus::new()
    }
}

impl EventBus {
    pub fn new() -> EventBus {
        // A slow subscriber that falls this far behind misses events (and is told so by
        // `RecvError::Lagged`); publishers never block.
        let (sender, _) = broadcast::channel(1024);
        EventBus { sender }
    }

    pub fn publish(&self, event: TicketEvent) {
        // No subscriber is not an error: nobody is listening right now.
        let _ = self.sender.send(event);
    }

    pub fn subscribe(&self) -> broadcast::Receiver<TicketEvent> {
        self.sender.subscribe()
    }
}
