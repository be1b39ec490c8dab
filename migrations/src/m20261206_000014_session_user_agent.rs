//! What a user sees of their own sessions (issue 22): the user agent that signed in, so a person
//! can tell their phone's session from a stranger's. Sealed with the tenant's key, as personal
//! data is (`sessions.user_agent_sealed`); when a session was last used is the newest of its
//! refresh tokens, already stored.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::blob_null;

use crate::tables::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(a("sessions")).add_column(blob_null(a("user_agent_sealed"))).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(a("sessions")).drop_column(a("user_agent_sealed")).to_owned()).await
    }
}
