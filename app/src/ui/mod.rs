//! Pages and components.

pub mod components;
pub mod header;
pub mod home;
pub mod icons;
pub mod not_found;
pub mod prefs;
pub mod sign_in;
