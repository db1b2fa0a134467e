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

    /// The HTTP status that answers this error: the server functions' and the REST API's.
    pub fn http_status(&self) -> u16 {
        match self.message {
            Msg::ErrorSignInRequired | Msg::ErrorSessionExpired => 401,
            Msg::ErrorForbidden | Msg::ErrorCrossSite => 403,
            Msg::ErrorNotFound => 404,
            Msg::ErrorTicketChanged | Msg::ErrorRepliedMeanwhile => 409,
            Msg::ErrorBodyTooLarge => 413,
            Msg::ErrorTooManyAttempts => 429,
            Msg::ErrorInvalidBody => 400,
            Msg::ErrorInternal => 500,
            Msg::ErrorNetwork => 502,
            // What the person sent cannot be done as it is: the message says why.
            _ => 422,
        }
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
            // The arguments did not arrive as the function takes them: a malformed body.
            E::Args(_) | E::MissingArg(_) | E::Deserialization(_) => {
                UserError::new(Msg::ErrorInvalidBody)
            }
            _ => UserError::internal(),
        }
    }
}
