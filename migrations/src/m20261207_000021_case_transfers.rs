//! Transfers of a case between agencies, with the client's consent (issue 23).
//!
//! A transfer is two rows, one in each agency, with the same id, so each agency's rows stay its
//! own under row-level security and on its own shard:
//! - `transfers_out` (the sender's): the case, the receiving agency, what was included, the reason
//!   (sealed with the sender's key) and the status. It never holds the payload.
//! - `transfers_in` (the receiver's): the sending agency, what was included, the reason and the
//!   payload, both sealed with the receiver's key, so only the receiver can open them. The payload
//!   is erased once the transfer is settled; an accepted transfer keeps the case it opened.
//!
//! No policy reads across agencies. The one transaction that sends a transfer writes the
//! receiver's row in the receiver's scope (`app.tenant_id` set to it for that statement, as tenant
//! provisioning does), and a settlement updates the other side's status the same way.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    blob, blob_null, integer, string, text, timestamp_with_time_zone, timestamp_with_time_zone_null, uuid, uuid_null,
};

use crate::rls::enable_tenant_rls;
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

const TABLES: [&str; 2] = ["transfers_out", "transfers_in"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut out = tenant_table(
            "transfers_out",
            vec![
                uuid(a("case_id")),
                uuid(a("to_tenant_id")),
                text(a("include")),
                blob(a("reason_sealed")),
                string(a("status")),
                uuid(a("created_by")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone_null(a("settled_at")),
                integer(a("version")),
            ],
        );
        out.foreign_key(&mut tenant_fk("transfers_out", "case_id", "cases"));
        manager.create_table(out).await?;
        manager.create_index(index("transfers_out", "case", &["tenant_id", "case_id"], false)).await?;
        let incoming = tenant_table(
            "transfers_in",
            vec![
                uuid(a("from_tenant_id")),
                text(a("include")),
                blob(a("reason_sealed")),
                blob_null(a("payload_sealed")),
                string(a("status")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone_null(a("settled_at")),
                uuid_null(a("settled_by")),
                blob_null(a("decline_reason_sealed")),
                uuid_null(a("case_id")),
                integer(a("version")),
            ],
        );
        manager.create_table(incoming).await?;
        manager.create_index(index("transfers_in", "status", &["tenant_id", "status"], false)).await?;
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
