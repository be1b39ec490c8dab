//! Multi-factor sign-in with TOTP (RFC 6238) (issue 22).
//!
//! - `mfa_totp`: a user's authenticator secret (sealed with the tenant's key, as personal data
//!   is), whether it is confirmed (a code from the authenticator was shown once), and the last
//!   time step a code was accepted for, so a code works once.
//! - `mfa_recovery_codes`: ten single-use codes issued at confirmation, as keyed hashes.
//! - `mfa_challenges`: the `mfa_token` a sign-in with the right password answers with, as a
//!   SHA-256 (it is 256 random bits): five minutes, single use, bound to its user.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer_null, blob, blob_null, string, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid,
};

use crate::rls::enable_tenant_rls;
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 3] = ["mfa_totp", "mfa_recovery_codes", "mfa_challenges"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut totp = tenant_table(
            "mfa_totp",
            vec![
                uuid(a("user_id")),
                blob_null(a("secret_sealed")),
                timestamp_with_time_zone_null(a("confirmed_at")),
                big_integer_null(a("last_step")),
                timestamp_with_time_zone(a("created_at")),
            ],
        );
        totp.foreign_key(&mut tenant_fk("mfa_totp", "user_id", "users"));
        manager.create_table(totp).await?;
        manager.create_index(index("mfa_totp", "user", &["tenant_id", "user_id"], true)).await?;
        let mut codes = tenant_table(
            "mfa_recovery_codes",
            vec![
                uuid(a("user_id")),
                string(a("code_hash")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone_null(a("used_at")),
            ],
        );
        codes.foreign_key(&mut tenant_fk("mfa_recovery_codes", "user_id", "users"));
        manager.create_table(codes).await?;
        manager.create_index(index("mfa_recovery_codes", "code", &["tenant_id", "code_hash"], true)).await?;
        let mut challenges = tenant_table(
            "mfa_challenges",
            vec![
                uuid(a("user_id")),
                blob(a("token_hash")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone(a("expires_at")),
                timestamp_with_time_zone_null(a("used_at")),
            ],
        );
        challenges.foreign_key(&mut tenant_fk("mfa_challenges", "user_id", "users"));
        manager.create_table(challenges).await?;
        manager.create_index(index("mfa_challenges", "token", &["tenant_id", "token_hash"], true)).await?;
        for table in TABLES {
            enable_tenant_rls(manager, table).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in TABLES.iter().rev() {
            manager.drop_table(Table::drop().table(a(table)).to_owned()).await?;
        }
        Ok(())
    }
}
