//! The schema of the VCAO platform, for SQLite (embedded default) and PostgreSQL (production).
//!
//! Rules every migration follows (they keep the schema ready for Citus with `tenant_id` as the
//! distribution column):
//! - every table is classified in [`TENANT_TABLES`], [`REFERENCE_TABLES`] or [`GLOBAL_TABLES`];
//!   an integration test fails when a table is missing from the lists;
//! - tenant tables have `tenant_id` first in the primary key and in every unique key, and foreign
//!   keys between them include `tenant_id`;
//! - on PostgreSQL every tenant table has row-level security, FORCEd, keyed on `app.tenant_id`;
//! - ids are UUID v7 made by the application; no serials.

pub use sea_orm_migration::prelude::*;

mod m20261128_000001_create_reference_tables;
mod m20261128_000002_create_identity_tables;
mod m20261128_000003_create_audit_and_idempotency;
mod m20261128_000004_create_case_management;
mod m20261128_000005_create_dispatch;
mod m20261128_000006_create_reporting;
mod m20261129_000007_session_check;
mod m20261129_000008_session_check_in_transaction;
mod m20261129_000009_background_work_queries;
mod m20261203_000010_idempotency_sealed;
mod m20261203_000011_supervisor_confirmation;
mod m20261203_000012_aggregate_releases;
mod m20261206_000013_password_resets;
mod m20261206_000014_session_user_agent;
mod m20261206_000015_mfa;
mod m20261207_000016_account_setup;
mod m20261207_000017_passkeys;
mod m20261207_000018_vqrp_applications;
mod m20261207_000019_vqrp_facts;
mod m20261207_000020_tasks;
mod m20261207_000021_case_transfers;
mod rls;
mod tables;

/// Tables whose rows belong to one tenant. Each has row-level security on PostgreSQL.
pub const TENANT_TABLES: &[&str] = &[
    "users",
    "sessions",
    "refresh_tokens",
    "idempotency_keys",
    "audit_events",
    "audit_seals",
    "tenant_keys",
    "programs",
    "organizations",
    "clients",
    "cases",
    "case_victimization_types",
    "case_status_changes",
    "notes",
    "services",
    "consents",
    "risk_assessments",
    "safety_plans",
    "children",
    "outbound_referrals",
    "agency_settings",
    "postings",
    "shifts",
    "referrals",
    "contact_attempts",
    "events",
    "reporting_facts",
    "reports",
    "aggregate_releases",
    "aggregate_release_counts",
    "aggregate_release_chunks",
    "password_resets",
    "mfa_totp",
    "mfa_recovery_codes",
    "mfa_challenges",
    "mfa_passkeys",
    "mfa_passkey_ceremonies",
    "vqrp_applications",
    "vqrp_payments",
    "tasks",
    "transfers_out",
    "transfers_in",
];

/// Small tables every tenant reads (replicated to every node on Citus).
pub const REFERENCE_TABLES: &[&str] = &["tenants", "police_services", "police_divisions", "vqrp_rule_versions"];

/// Tables that belong to no tenant and stay on the coordinator.
pub const GLOBAL_TABLES: &[&str] = &["seaql_migrations"];

/// Tables the runtime role may insert into and read, but never update or delete.
pub const APPEND_ONLY_TABLES: &[&str] = &["audit_events", "audit_seals", "reporting_facts"];

/// The ordered list of migrations.
#[derive(Debug)]
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261128_000001_create_reference_tables::Migration),
            Box::new(m20261128_000002_create_identity_tables::Migration),
            Box::new(m20261128_000003_create_audit_and_idempotency::Migration),
            Box::new(m20261128_000004_create_case_management::Migration),
            Box::new(m20261128_000005_create_dispatch::Migration),
            Box::new(m20261128_000006_create_reporting::Migration),
            Box::new(m20261129_000007_session_check::Migration),
            Box::new(m20261129_000008_session_check_in_transaction::Migration),
            Box::new(m20261129_000009_background_work_queries::Migration),
            Box::new(m20261203_000010_idempotency_sealed::Migration),
            Box::new(m20261203_000011_supervisor_confirmation::Migration),
            Box::new(m20261203_000012_aggregate_releases::Migration),
            Box::new(m20261206_000013_password_resets::Migration),
            Box::new(m20261206_000014_session_user_agent::Migration),
            Box::new(m20261206_000015_mfa::Migration),
            Box::new(m20261207_000016_account_setup::Migration),
            Box::new(m20261207_000017_passkeys::Migration),
            Box::new(m20261207_000018_vqrp_applications::Migration),
            Box::new(m20261207_000019_vqrp_facts::Migration),
            Box::new(m20261207_000020_tasks::Migration),
            Box::new(m20261207_000021_case_transfers::Migration),
        ]
    }
}
