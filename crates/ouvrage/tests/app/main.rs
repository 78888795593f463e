//! Integration tests of the running application (one binary, modules per area). They run on
//! SQLite by default and on PostgreSQL when OUVRAGE_TEST_POSTGRES is set.

#[allow(dead_code)] // each area uses its part of the shared helpers
mod support;

mod accounts;
mod api;
mod auth;
mod cli;
mod clients;
mod digests;
mod exports;
mod files;
mod isolation;
mod jobs;
mod mail;
mod messaging;
mod notifications;
mod passwords;
mod requests;
mod schema;
mod settings;
mod sites;
mod smtp;
mod studies;
mod users;
