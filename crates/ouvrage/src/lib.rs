//! ouvrage: back office and client extranet for French building-services firms.

pub mod app;
pub mod backup;
pub mod bench;
pub mod cli;
pub mod config;
pub mod db;
pub mod demo;
pub mod domain;
pub mod features;
pub mod http;
