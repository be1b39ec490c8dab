//! One-time password reset codes (issue 22).
//!
//! An agency admin (or, for a supervisor, another supervisor) issues a code for a user of the
//! tenant; the user redeems it once within 24 hours at `POST /api/v1/auth/password-reset` to set a
//! new password. The code itself is never stored: `code_hash` is a keyed hash of it (HMAC with the
//! master key, so a copy of the database cannot even try codes against it), unique per tenant.
//! `used_at` marks the redemption; issuing a new code for a user marks the old unused ones used.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{string, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid};

use crate::rls::enable_tenant_rls;
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut resets = tenant_table(
            "password_resets",
            vec![
                uuid(a("user_id")),
                string(a("code_hash")),
                uuid(a("issued_by")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone(a("expires_at")),
                timestamp_with_time_zone_null(a("used_at")),
            ],
        );
        resets.foreign_key(&mut tenant_fk("password_resets", "user_id", "users"));
        manager.create_table(resets).await?;
        manager.create_index(index("password_resets", "code", &["tenant_id", "code_hash"], true)).await?;
        manager.create_index(index("password_resets", "user", &["tenant_id", "user_id"], false)).await?;
        enable_tenant_rls(manager, "password_resets").await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(a("password_resets")).to_owned()).await
    }
}
