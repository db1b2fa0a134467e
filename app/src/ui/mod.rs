//! Pages and components.

pub mod account;
pub mod admin;
pub mod attachments;
pub mod bell;
pub mod components;
pub mod confirm_email;
pub mod files;
pub mod forgot_password;
pub mod form_draft;
pub mod header;
pub mod icons;
pub mod live;
pub mod not_found;
pub mod prefs;
pub mod recorder;
pub mod set_password;
pub mod sign_in;
pub mod tickets;
pub mod time_zone;
