//! End-to-end tests of the HTTP API: the real server on a loopback port,
//! against a fresh database per test, on SQLite and PostgreSQL. One test
//! binary (zero-to-production style) so it links once.

#![allow(clippy::unwrap_used, clippy::expect_used, dead_code)]

mod helpers;

mod audit;
mod basics;
mod case_files;
mod ledgers;
mod permissions;
mod reports;
mod users;
mod writes;
