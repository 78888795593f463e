//! Integration tests of the running application (one binary, modules per area). They run on
//! SQLite by default and on PostgreSQL when OUVRAGE_TEST_POSTGRES is set.

#[allow(dead_code)] // each area uses its part of the shared helpers
mod support;

mod accounts;
mod api;
mod api_documents;
mod auth;
mod backup;
mod cli;
mod clients;
mod crash;
mod dashboard;
mod digests;
mod documents;
mod exports;
mod faults;
mod files;
mod hardening;
mod help;
mod interventions;
mod isolation;
mod jobs;
mod mail;
mod messaging;
mod notifications;
mod passwords;
mod published;
mod requests;
mod requirements;
mod schema;
mod settings;
mod signatures;
mod sites;
mod smtp;
mod studies;
mod users;
