//! sea-orm entities: one module per table, rows exactly as stored. Entities never leave `infra`:
//! stores map them to domain values or plain records, and `api` maps those to DTOs. Columns named
//! `*_sealed` hold ciphertext (see `crate::crypto`), `*_index` blind indexes.

pub mod agency_setting;
pub mod audit_event;
pub mod audit_seal;
pub mod case;
pub mod case_status_change;
pub mod case_victimization_type;
pub mod child;
pub mod client;
pub mod consent;
pub mod contact_attempt;
pub mod event;
pub mod idempotency_key;
pub mod mfa_challenge;
pub mod mfa_passkey;
pub mod mfa_passkey_ceremony;
pub mod mfa_recovery_code;
pub mod mfa_totp;
pub mod note;
pub mod organization;
pub mod outbound_referral;
pub mod password_reset;
pub mod police_division;
pub mod police_service;
pub mod posting;
pub mod program;
pub mod referral;
pub mod refresh_token;
pub mod report;
pub mod reporting_fact;
pub mod risk_assessment;
pub mod safety_plan;
pub mod service;
pub mod session;
pub mod shift;
pub mod task;
pub mod tenant;
pub mod tenant_key;
pub mod transfer_in;
pub mod transfer_out;
pub mod user;
pub mod vqrp_application;
pub mod vqrp_payment;
pub mod vqrp_rule_version;
