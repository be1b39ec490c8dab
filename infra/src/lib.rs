//! Adapters of the VCAO platform: configuration, the database (tenant-scoped transactions and
//! the stores that run inside them), signing keys and password hashing, and Redis with its
//! in-process twins.
//!
//! Rules this crate keeps: every query on tenant data runs in a [`db::TenantTx`]; nothing here
//! decides who may do what (that is `domain::authz`) or which HTTP status an error gets (`api`);
//! nothing logs personal information.

pub mod auth;
pub mod cache;
pub mod config;
pub mod crypto;
pub mod db;
pub mod entities;
pub mod store;

pub use db::{Db, TenantTx};
pub use store::StoreError;
