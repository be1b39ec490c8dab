//! Ministry facts for VQRP+ applications (issue 23): a decision's fact records the Ontario
//! business days it took, in its own column rather than `minutes`, so each column means one thing
//! to whoever reads the table. Facts written before this have none (they are not decisions).

use sea_orm_migration::prelude::*;

use crate::tables::a;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut column = ColumnDef::new(a("business_days")).big_integer().null().to_owned();
        manager.alter_table(Table::alter().table(a("reporting_facts")).add_column(&mut column).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(a("reporting_facts")).drop_column(a("business_days")).to_owned()).await
    }
}
