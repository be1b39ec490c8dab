//! A grant of `supervisor` takes two people.
//!
//! Supervisors read restricted cases, which agency admins may not. An admin could give the role to
//! themselves (`PATCH /users/{own id}`) or to an account they made, and read them after all. Now
//! an admin's grant of `supervisor` is recorded as *requested* (`supervisor_pending`, with who
//! asked in `supervisor_requested_by`) and takes effect only when a second person confirms it: a
//! supervisor of the agency who is neither the requester nor the grantee, or the operator with
//! `vcao confirm-supervisor` for an agency that has none yet. Existing supervisors stay confirmed.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Users {
    Table,
    SupervisorPending,
    SupervisorRequestedBy,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::SupervisorPending).boolean().not_null().default(false))
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(
                Table::alter()
                    .table(Users::Table)
                    .add_column(ColumnDef::new(Users::SupervisorRequestedBy).uuid().null())
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Users::Table).drop_column(Users::SupervisorRequestedBy).to_owned())
            .await?;
        manager.alter_table(Table::alter().table(Users::Table).drop_column(Users::SupervisorPending).to_owned()).await
    }
}
