//! Passkeys (WebAuthn) as a second factor (issue 22).
//!
//! - `mfa_passkeys`: a user's registered passkeys, each sealed with the tenant's key (its public
//!   key and credential id would otherwise tie the account to a device across sites), found at
//!   sign-in by a keyed hash of its credential id.
//! - `mfa_passkey_ceremonies`: the state between a ceremony's two requests (the challenge the
//!   browser signs), sealed, for five minutes, so any replica finishes what another began: a
//!   registration (one per user), or the second step of a sign-in (one per `mfa_challenges` row).

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    blob, string, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

use crate::rls::enable_tenant_rls;
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 2] = ["mfa_passkeys", "mfa_passkey_ceremonies"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut passkeys = tenant_table(
            "mfa_passkeys",
            vec![
                uuid(a("user_id")),
                string(a("credential_hash")),
                blob(a("passkey_sealed")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone_null(a("last_used_at")),
            ],
        );
        passkeys.foreign_key(&mut tenant_fk("mfa_passkeys", "user_id", "users"));
        manager.create_table(passkeys).await?;
        manager.create_index(index("mfa_passkeys", "credential", &["tenant_id", "credential_hash"], true)).await?;
        manager.create_index(index("mfa_passkeys", "user", &["tenant_id", "user_id"], false)).await?;
        let mut ceremonies = tenant_table(
            "mfa_passkey_ceremonies",
            vec![
                uuid(a("user_id")),
                string(a("purpose")),
                uuid_null(a("challenge_id")),
                blob(a("state_sealed")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone(a("expires_at")),
            ],
        );
        ceremonies.foreign_key(&mut tenant_fk("mfa_passkey_ceremonies", "user_id", "users"));
        manager.create_table(ceremonies).await?;
        manager
            .create_index(index("mfa_passkey_ceremonies", "user", &["tenant_id", "user_id", "purpose"], false))
            .await?;
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
