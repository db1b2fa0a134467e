//! Everything that runs only on the server: configuration, storage, services, authentication.

pub mod accounts;
pub mod admin;
pub mod api_tokens;
pub mod attachments;
pub mod audio;
pub mod client_ip;
pub mod config;
pub mod demo;
pub mod drafts;
pub mod events;
pub mod file_types;
pub mod files;
pub mod inbound;
pub mod lifecycle;
pub mod links;
pub mod live;
pub mod logo;
pub mod mailer;
pub mod my_account;
pub mod notifications;
pub mod outbox;
pub mod passwords;
pub mod previews;
pub mod request;
pub mod search;
pub mod secret_key;
pub mod speech_model;
pub mod state;
pub mod storage;
pub mod tickets;
pub mod tokens;
pub mod transcription;
pub mod voice;
pub mod voice_live;

pub use state::AppState;
