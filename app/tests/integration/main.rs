//! Every integration test of the `app` crate, in one binary: each test file linked
//! separately cost a full link of the portal and ~200 MB of disk apiece.

mod common;

mod accounts;
mod admin;
mod attachments;
mod audio;
mod collaboration;
mod form_drafts;
mod inbound;
mod lifecycle;
mod links;
mod live;
mod mail_sending;
mod my_account;
mod notifications;
mod previews;
mod retention;
mod speech;
mod tickets;
mod time_zones;
mod voice;
