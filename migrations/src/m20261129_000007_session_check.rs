//! The session check every signed-in request makes, as one statement.
//!
//! Every request with an access token asks the database whether its session is still live (a
//! logout or a revocation on another replica must end it at once). Done as a transaction (BEGIN,
//! `SET LOCAL app.tenant_id`, SELECT, COMMIT) that is four round trips more per request than the
//! question needs. `vcao_live_session_user(tenant, session)` asks it in one: it sets the tenant
//! for its own duration and reads `sessions` under the same row-level security as any query of
//! the runtime role (SECURITY INVOKER: it bypasses nothing). Its `SET app.tenant_id = ''` clause
//! makes PostgreSQL restore the caller's tenant when it returns, even on error, so calling it
//! inside another tenant's transaction cannot move that transaction to this tenant.
//!
//! On Citus, distribute it by its first argument (`create_distributed_function(...,
//! '$1', colocate_with := 'sessions')`) so it runs on the worker holding the tenant's shard, where
//! its `set_config` applies. SQLite has no row-level security and needs no function: the store
//! reads the row by its `(tenant_id, id)` key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

/// The function as this migration made it; the next migration, which replaces it, restores it
/// on the way down.
pub(crate) const LIVE_SESSION_USER: &str =
    "CREATE OR REPLACE FUNCTION vcao_live_session_user(p_tenant uuid, p_session uuid) RETURNS uuid
    LANGUAGE plpgsql VOLATILE SECURITY INVOKER
    SET search_path = pg_catalog, public
    SET app.tenant_id = ''
    AS $$
    DECLARE owner uuid;
    BEGIN
      PERFORM set_config('app.tenant_id', p_tenant::text, true);
      SELECT s.user_id INTO owner FROM public.sessions s
       WHERE s.tenant_id = p_tenant AND s.id = p_session
         AND s.revoked_at IS NULL AND s.expires_at > now();
      RETURN owner;
    END $$";

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        manager.get_connection().execute_unprepared(LIVE_SESSION_USER).await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() == DbBackend::Postgres {
            manager
                .get_connection()
                .execute_unprepared("DROP FUNCTION IF EXISTS vcao_live_session_user(uuid, uuid)")
                .await?;
        }
        Ok(())
    }
}
