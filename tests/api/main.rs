//! Black-box tests of the VCAO service over HTTP. One binary, a module per resource, a fresh
//! service and fresh tenants per test; the same suite runs on SQLite and on PostgreSQL + Redis.

#![expect(clippy::unwrap_used, clippy::expect_used, reason = "tests fail loudly")]

mod account_setup;
mod appends;
mod at_rest;
mod audit;
mod auth;
mod case_records;
mod cases;
mod clients;
mod db_connections;
mod demo;
mod dispatch;
mod errors;
mod expiry;
mod fixtures;
mod grants;
mod helpers;
mod idempotency;
mod isolation;
mod jwt;
mod master_key;
mod matrix;
mod mfa;
mod ministry_privacy;
mod operations;
mod passkeys;
mod passwords;
mod programs;
mod redis_outage;
mod reference;
mod referrals;
mod releases;
mod reporting;
mod reports;
mod sessions;
mod staff;
mod stored_values;
mod tasks;
mod tenants;
mod transfers;
mod users;
mod vqrp;
