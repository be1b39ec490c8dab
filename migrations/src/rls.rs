//! Row-level security for tenant tables on PostgreSQL (SQLite has none; the application's own
//! `tenant_id` filters are the only wall there).

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// Enables and FORCEs row-level security on `table`, with one policy that admits only rows of the
/// tenant set by `SET LOCAL app.tenant_id`. With no tenant set, `current_setting` returns '' and
/// the policy matches nothing: fail closed. No subqueries, so Citus can propagate the policy.
///
/// # Errors
/// Any database error.
pub async fn enable_tenant_rls(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Postgres {
        return Ok(());
    }
    let sql = format!(
        "ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;
         ALTER TABLE {table} FORCE ROW LEVEL SECURITY;
         CREATE POLICY tenant_isolation ON {table}
           USING (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid)
           WITH CHECK (tenant_id = NULLIF(current_setting('app.tenant_id', true), '')::uuid);"
    );
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}

/// Makes `table` append-only for everyone but a superuser on SQLite, where there are no grants.
/// (On PostgreSQL the runtime role simply lacks UPDATE and DELETE on it; see provisioning.)
///
/// # Errors
/// Any database error.
pub async fn make_append_only(manager: &SchemaManager<'_>, table: &str) -> Result<(), DbErr> {
    if manager.get_database_backend() != DbBackend::Sqlite {
        return Ok(());
    }
    let sql = format!(
        "CREATE TRIGGER {table}_no_update BEFORE UPDATE ON {table}
           BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;
         CREATE TRIGGER {table}_no_delete BEFORE DELETE ON {table}
           BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END;"
    );
    manager.get_connection().execute_unprepared(&sql).await?;
    Ok(())
}
