//! Server functions of the bell (in-app notifications). Each one calls one service of
//! `backend::bell`.

use crate::error::UserError;
use crate::model::Bell;
use leptos::prelude::*;

#[cfg(feature = "ssr")]
use crate::backend::{bell, request};

/// The viewer's unread notifications, counted: the bell's badge.
#[server(endpoint = "bell/unread")]
pub async fn bell_unread() -> Result<i64, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    bell::unread(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

/// The viewer's newest notifications and unread count.
#[server(endpoint = "bell/list")]
pub async fn get_bell() -> Result<Bell, UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    bell::bell(&state.db, &viewer)
        .await
        .map_err(request::service_error)
}

/// Marks one notification read (`id`), or all of them (no `id`).
#[server(endpoint = "bell/read")]
pub async fn mark_bell_read(id: Option<i64>) -> Result<(), UserError> {
    let state = request::app_state()?;
    let viewer = request::require_viewer().await?;
    bell::mark_read(&state.db, &viewer, id)
        .await
        .map_err(request::service_error)
}
