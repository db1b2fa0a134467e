//! The state every request handler and server function reaches.

use super::config::Config;
use super::events::EventBus;
use super::files::FileStore;
use super::storage::Db;
use axum::extract::FromRef;
use leptos::config::LeptosOptions;
use std::sync::Arc;

#[derive(Clone, FromRef)]
pub struct AppState {
    pub leptos_options: LeptosOptions,
    pub db: Db,
    pub config: Arc<Config>,
    /// Ticket changes, for notifications and live updates.
    pub events: EventBus,
    /// Attached files.
    pub files: FileStore,
}
