//! sea-orm entities: one module per table, rows exactly as stored. Entities never leave `infra`:
//! stores map them to domain values or plain records, and `api` maps those to DTOs.

pub mod audit_event;
pub mod audit_seal;
pub mod idempotency_key;
pub mod police_division;
pub mod police_service;
pub mod refresh_token;
pub mod session;
pub mod tenant;
pub mod user;
