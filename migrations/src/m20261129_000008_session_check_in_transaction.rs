//! The session check moves into the request's own transaction.
//!
//! Migration 000007 let every signed-in request ask "is this session live?" in one statement on
//! the pool, before its transaction. That still cost a connection checkout, a round trip and the
//! pool's release ping per request. Now the request's transaction asks it in the same message as
//! its `SET LOCAL app.tenant_id` (`infra::db::begin_tenant_tx`): `vcao_require_live_session`
//! returns nothing when the session is live and belongs to the user, and raises SQLSTATE `VC401`
//! otherwise, which aborts the transaction before any other statement of the request runs.
//!
//! It runs under the transaction's tenant (SECURITY INVOKER, row-level security as for any query
//! of the runtime role), so a session of another tenant is not found. On Citus it is pushed to the
//! worker holding the tenant's shard like any other statement of the transaction, after the
//! `SET LOCAL` Citus propagates. The old `vcao_live_session_user` has no caller left and is dropped.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

use crate::m20261129_000007_session_check::LIVE_SESSION_USER;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(
            "CREATE OR REPLACE FUNCTION vcao_require_live_session(p_tenant uuid, p_session uuid, p_user uuid)
             RETURNS void
             LANGUAGE plpgsql VOLATILE SECURITY INVOKER
             SET search_path = pg_catalog, public
             AS $$
             BEGIN
               PERFORM 1 FROM public.sessions s
                WHERE s.tenant_id = p_tenant AND s.id = p_session AND s.user_id = p_user
                  AND s.revoked_at IS NULL AND s.expires_at > now();
               IF NOT FOUND THEN
                 RAISE EXCEPTION 'session is not live' USING ERRCODE = 'VC401';
               END IF;
             END $$",
        )
        .await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS vcao_live_session_user(uuid, uuid)").await?;
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        if manager.get_database_backend() != DbBackend::Postgres {
            return Ok(());
        }
        let db = manager.get_connection();
        db.execute_unprepared(LIVE_SESSION_USER).await?;
        db.execute_unprepared("DROP FUNCTION IF EXISTS vcao_require_live_session(uuid, uuid, uuid)").await?;
        Ok(())
    }
}
