//! estate-server's integration tests, as one binary: config files, the CLI, the store
//! suite on SQLite and PostgreSQL, and the HTTP API started in-process on 127.0.0.1:0.
// Test helpers outside #[test] functions panic on purpose.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod assessments;
mod carbon;
mod checks;
mod cli;
mod cli_checks;
mod configs;
mod http;
mod quickstart;
mod read_api;
mod store;
mod store_postgres;
mod support;
