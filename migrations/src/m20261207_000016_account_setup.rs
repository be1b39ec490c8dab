//! What a sign-in must finish before it gets a full session (issue 22).
//!
//! - `users.password_change_required`: the password was set by someone else (the tenant's
//!   creation, an admin's `POST /users`, the bootstrap or demo passwords), so the next sign-in may
//!   only change it. Users that exist when this runs keep signing in as before (false): forcing
//!   every existing account to change at once is the operator's decision, not a migration's.
//! - `tenants.mfa_required`: whether the tenant's users need a second factor (the platform's
//!   always do, whatever this says); existing tenants keep today's behaviour (false), new ones are
//!   created with it on unless their creator says otherwise. `tenants.version` is its `ETag`.

use sea_orm_migration::prelude::*;

use crate::tables::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `(table, column, definition)`: SQLite alters one column per statement.
fn columns() -> [(&'static str, ColumnDef); 3] {
    [
        ("users", ColumnDef::new(a("password_change_required")).boolean().not_null().default(false).to_owned()),
        ("tenants", ColumnDef::new(a("mfa_required")).boolean().not_null().default(false).to_owned()),
        ("tenants", ColumnDef::new(a("version")).integer().not_null().default(1).to_owned()),
    ]
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, mut column) in columns() {
            manager.alter_table(Table::alter().table(a(table)).add_column(&mut column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (table, column) in columns().into_iter().rev() {
            let name = a(&column.get_column_name());
            manager.alter_table(Table::alter().table(a(table)).drop_column(name).to_owned()).await?;
        }
        Ok(())
    }
}
