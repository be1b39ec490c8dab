//! PostgreSQL roles: the runtime role the service connects as must not own the tables, must not
//! be a superuser and must not bypass row-level security, or tenant isolation would rest on the
//! application's filters alone.

use sea_orm::{ConnectionTrait, DatabaseConnection, DbBackend, DbErr, Statement, TransactionTrait};
use secrecy::ExposeSecret as _;

use crate::config::Settings;

/// The runtime connection could bypass row-level security.
#[derive(Debug, thiserror::Error)]
#[error(
    "refusing to serve: the runtime database role {role} {reason}; connect as a role that owns no tables \
     and has neither SUPERUSER nor BYPASSRLS (see README, PostgreSQL roles)"
)]
pub struct RuntimeRoleError {
    role: String,
    reason: &'static str,
}

/// Creates the runtime role when missing (the owner needs CREATEROLE or superuser for that; an
/// operator can create it beforehand instead) and grants it exactly what it needs: read and write
/// on tenant and reference tables, insert-only on the audit tables, read-only on migrations.
pub(super) async fn provision_runtime_role(owner: &DatabaseConnection, settings: &Settings) -> Result<(), DbErr> {
    let role = &settings.database_app_role; // validated: [a-z_][a-z0-9_]*
    let tx = owner.begin().await?;
    tx.execute_unprepared("SELECT pg_advisory_xact_lock(7436017)").await?;
    let exists = tx
        .query_one_raw(Statement::from_sql_and_values(
            DbBackend::Postgres,
            "SELECT 1 AS present FROM pg_roles WHERE rolname = $1",
            [role.clone().into()],
        ))
        .await?
        .is_some();
    if !exists {
        tx.execute_unprepared(&format!(
            "CREATE ROLE {role} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT"
        ))
        .await?;
    }
    if let Some(password) = &settings.database_app_password {
        let quoted = password.expose_secret().replace('\'', "''");
        tx.execute_unprepared(&format!("ALTER ROLE {role} PASSWORD '{quoted}'")).await?;
    }
    let append_only = migrations::APPEND_ONLY_TABLES.join(", ");
    tx.execute_unprepared(&format!(
        "DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {role}', current_database()); END $$;
         GRANT USAGE ON SCHEMA public TO {role};
         GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};
         REVOKE UPDATE, DELETE, TRUNCATE ON {append_only} FROM {role};
         REVOKE ALL ON seaql_migrations FROM {role};
         GRANT SELECT ON seaql_migrations TO {role};"
    ))
    .await?;
    tx.commit().await
}

/// Refuses a runtime connection whose role could see every tenant's rows.
pub(super) async fn check_runtime_role(conn: &DatabaseConnection) -> Result<(), super::OpenError> {
    let row = conn
        .query_one_raw(Statement::from_string(
            DbBackend::Postgres,
            "SELECT current_user::text AS role, r.rolsuper AS superuser, r.rolbypassrls AS bypass,
                    (SELECT count(*) FROM pg_tables t WHERE t.schemaname = 'public' AND t.tableowner = current_user) AS owned
             FROM pg_roles r WHERE r.rolname = current_user",
        ))
        .await?
        .ok_or_else(|| DbErr::Custom("current role not found in pg_roles".to_owned()))?;
    let role: String = row.try_get("", "role")?;
    let reason = if row.try_get::<bool>("", "superuser")? {
        Some("is a superuser")
    } else if row.try_get::<bool>("", "bypass")? {
        Some("has BYPASSRLS")
    } else if row.try_get::<i64>("", "owned")? > 0 {
        Some("owns tables (an owner can switch row-level security off)")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(RuntimeRoleError { role, reason }.into()),
        None => Ok(()),
    }
}
