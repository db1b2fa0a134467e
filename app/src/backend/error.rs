//! What a service answers when it does not do what was asked: a message for the person, or a
//! failure of the database or the files underneath (logged, never shown).

use super::storage::StoreError;
use crate::i18n::Msg;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// Safe to show: a catalogue message.
    #[error("{0:?}")]
    User(Msg),
    #[error(transparent)]
    Store(StoreError),
    /// Files could not be read or written.
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

impl From<StoreError> for ServiceError {
    /// Text the database cannot hold (PostgreSQL takes no NUL character) was sent by someone:
    /// their input is refused, not reported as the server's failure.
    fn from(err: StoreError) -> Self {
        if err.is_unstorable_text() {
            ServiceError::User(Msg::ErrorInvalidBody)
        } else {
            ServiceError::Store(err)
        }
    }
}

impl From<Msg> for ServiceError {
    fn from(msg: Msg) -> Self {
        ServiceError::User(msg)
    }
}
