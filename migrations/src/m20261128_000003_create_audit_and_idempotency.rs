//! The audit log (append-only events and the seals that chain them) and stored idempotent
//! responses: tenant tables.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, blob, integer, string, string_null, text, timestamp_with_time_zone, uuid, uuid_null,
};

use crate::rls::{enable_tenant_rls, make_append_only};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
}

#[derive(DeriveIden)]
enum IdempotencyKeys {
    Table,
    TenantId,
    Key,
    UserId,
    RequestHash,
    StatusCode,
    ResponseBody,
    Location,
    CreatedAt,
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    TenantId,
    Id,
    OccurredAt,
    ActorId,
    Action,
    ResourceType,
    ResourceId,
    ClientIp,
    RequestId,
    Details,
}

#[derive(DeriveIden)]
enum AuditSeals {
    Table,
    TenantId,
    Seq,
    EventId,
    Hash,
    SealedAt,
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(IdempotencyKeys::Table)
                    .col(uuid(IdempotencyKeys::TenantId))
                    .col(string(IdempotencyKeys::Key))
                    .col(uuid(IdempotencyKeys::UserId))
                    .col(blob(IdempotencyKeys::RequestHash))
                    .col(integer(IdempotencyKeys::StatusCode))
                    .col(text(IdempotencyKeys::ResponseBody))
                    .col(string_null(IdempotencyKeys::Location))
                    .col(timestamp_with_time_zone(IdempotencyKeys::CreatedAt))
                    .primary_key(Index::create().col(IdempotencyKeys::TenantId).col(IdempotencyKeys::Key))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_idempotency_keys_tenant")
                            .from(IdempotencyKeys::Table, IdempotencyKeys::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .col(uuid(AuditEvents::TenantId))
                    .col(uuid(AuditEvents::Id))
                    .col(timestamp_with_time_zone(AuditEvents::OccurredAt))
                    .col(uuid_null(AuditEvents::ActorId))
                    .col(string(AuditEvents::Action))
                    .col(string(AuditEvents::ResourceType))
                    .col(uuid_null(AuditEvents::ResourceId))
                    .col(string_null(AuditEvents::ClientIp))
                    .col(string_null(AuditEvents::RequestId))
                    .col(text(AuditEvents::Details))
                    .primary_key(Index::create().col(AuditEvents::TenantId).col(AuditEvents::Id))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_audit_events_tenant")
                            .from(AuditEvents::Table, AuditEvents::TenantId)
                            .to(Tenants::Table, Tenants::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_resource")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::ResourceType)
                    .col(AuditEvents::ResourceId)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ix_audit_events_actor")
                    .table(AuditEvents::Table)
                    .col(AuditEvents::TenantId)
                    .col(AuditEvents::ActorId)
                    .col(AuditEvents::Id)
                    .to_owned(),
            )
            .await?;

        // No foreign key to audit_events on purpose: a deleted event must show up as a broken
        // link when the chain is verified, not be silently blocked or cascaded.
        manager
            .create_table(
                Table::create()
                    .table(AuditSeals::Table)
                    .col(uuid(AuditSeals::TenantId))
                    .col(big_integer(AuditSeals::Seq))
                    .col(uuid(AuditSeals::EventId))
                    .col(blob(AuditSeals::Hash))
                    .col(timestamp_with_time_zone(AuditSeals::SealedAt))
                    .primary_key(Index::create().col(AuditSeals::TenantId).col(AuditSeals::Seq))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_audit_seals_event")
                    .table(AuditSeals::Table)
                    .col(AuditSeals::TenantId)
                    .col(AuditSeals::EventId)
                    .unique()
                    .to_owned(),
            )
            .await?;

        for table in ["idempotency_keys", "audit_events", "audit_seals"] {
            enable_tenant_rls(manager, table).await?;
        }
        // This migration's own append-only tables (a shared list would grow with later ones).
        for table in ["audit_events", "audit_seals"] {
            make_append_only(manager, table).await?;
        }
        Ok(())
    }
}
