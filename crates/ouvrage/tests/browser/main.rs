//! End-to-end tests in a real headless Chromium driven over WebDriver (chromedriver), against the
//! real app started in-process. Built only with `--features browser-tests`:
//! `cargo test --features browser-tests --test browser`.

#[allow(dead_code)] // the browser tests use a few of the shared helpers
#[path = "../app/support.rs"]
mod support;

mod chantier_from_study;
mod driver;
mod interventions;
mod login;
mod signature;
