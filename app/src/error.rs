//! The error a person sees: a catalogue message and, when it concerns one form field, that field.
//! Internal details never travel in it; the server logs them and sends `Msg::ErrorInternal`.

use crate::i18n::Msg;
use leptos::server_fn::{self, codec::JsonEncoding, error::FromServerFnError};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
#[error("{message:?}")]
pub struct UserError {
    pub message: Msg,
    /// The name of the form field the message belongs to, if any.
    pub field: Option<String>,
}

impl UserError {
    pub fn new(message: Msg) -> Self {
        UserError {
            message,
            field: None,
        }
    }

    pub fn on_field(message: Msg, field: &str) -> Self {
        UserError {
            message,
            field: Some(field.to_string()),
        }
    }

    pub fn internal() -> Self {
        UserError::new(Msg::ErrorInternal)
    }
}

impl From<Msg> for UserError {
    fn from(message: Msg) -> Self {
        UserError::new(message)
    }
}

impl FromServerFnError for UserError {
    type Encoder = JsonEncoding;

    /// Transport failures: the request never reached the server or the answer was unreadable.
    fn from_server_fn_error(value: server_fn::error::ServerFnErrorErr) -> Self {
        use server_fn::error::ServerFnErrorErr as E;
        match value {
            E::Request(_) | E::Response(_) => UserError::new(Msg::ErrorNetwork),
            _ => UserError::internal(),
        }
    }
}
