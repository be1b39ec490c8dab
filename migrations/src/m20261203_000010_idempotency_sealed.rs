//! Stored idempotent answers become ciphertext, and their keys keyed hashes.
//!
//! A create's answer carries what it created: a client's name, date of birth and phone, a note's
//! body. `idempotency_keys.response_body` kept it as plaintext JSON, in the table, in backups and
//! in the write-ahead log, for as long as the row lived (rows were never deleted). From here on the
//! service seals the answer with the tenant's data key (`response_sealed`) and stores the client's
//! key only as a keyed hash (a careless client may put a name in it), and a background task purges
//! rows past the 24-hour replay window.
//!
//! The rows written before this migration hold plaintext that no migration can encrypt (the keys
//! live in the service, not the database), so they are dropped: `TRUNCATE`, which row-level
//! security does not filter. A client retrying across the upgrade with a key from before it makes
//! a second record instead of a replay; nothing acknowledged is lost.

use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::DbBackend;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = if manager.get_database_backend() == DbBackend::Postgres {
            &[
                "TRUNCATE idempotency_keys",
                "ALTER TABLE idempotency_keys DROP COLUMN response_body,
                   ADD COLUMN response_sealed bytea NOT NULL DEFAULT ''::bytea",
                "ALTER TABLE idempotency_keys ALTER COLUMN response_sealed DROP DEFAULT",
                "CREATE INDEX ix_idempotency_keys_created ON idempotency_keys (tenant_id, created_at)",
            ]
        } else {
            &[
                "DELETE FROM idempotency_keys",
                "ALTER TABLE idempotency_keys DROP COLUMN response_body",
                "ALTER TABLE idempotency_keys ADD COLUMN response_sealed BLOB NOT NULL DEFAULT x''",
                "CREATE INDEX ix_idempotency_keys_created ON idempotency_keys (tenant_id, created_at)",
            ]
        };
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        let statements: &[&str] = if manager.get_database_backend() == DbBackend::Postgres {
            &[
                "TRUNCATE idempotency_keys",
                "DROP INDEX IF EXISTS ix_idempotency_keys_created",
                "ALTER TABLE idempotency_keys DROP COLUMN response_sealed,
                   ADD COLUMN response_body text NOT NULL DEFAULT ''",
                "ALTER TABLE idempotency_keys ALTER COLUMN response_body DROP DEFAULT",
            ]
        } else {
            &[
                "DELETE FROM idempotency_keys",
                "DROP INDEX IF EXISTS ix_idempotency_keys_created",
                "ALTER TABLE idempotency_keys DROP COLUMN response_sealed",
                "ALTER TABLE idempotency_keys ADD COLUMN response_body TEXT NOT NULL DEFAULT ''",
            ]
        };
        for statement in statements {
            db.execute_unprepared(statement).await?;
        }
        Ok(())
    }
}
