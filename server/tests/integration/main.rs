//! Every integration test of the `server` crate, in one binary: each test file linked
//! separately cost a full link of the portal and ~200 MB of disk apiece.

mod common;

mod api;
mod backup;
mod cli;
mod crash;
mod crash_writes;
mod events;
mod files;
mod fuzz;
mod http;
mod mail_crash;
mod previews;
mod security;
mod voice_stream;
