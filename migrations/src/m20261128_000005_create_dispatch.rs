//! Exit Route dispatch: agency settings (escalation windows), postings and shifts of workers at
//! police divisions, referrals made at the point of contact (personal fields sealed), contact
//! attempts, and the event outbox that SSE streams read.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    blob, blob_null, boolean, boolean_null, date, date_null, integer, string, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid, uuid_null,
};

use crate::rls::enable_tenant_rls;
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables created here.
pub const TABLES: &[&str] = &["agency_settings", "postings", "shifts", "referrals", "contact_attempts", "events"];

fn division_fk(table: &str) -> ForeignKeyCreateStatement {
    ForeignKey::create()
        .name(format!("fk_{table}_division"))
        .from(a(table), a("division_id"))
        .to(a("police_divisions"), a("id"))
        .to_owned()
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(a("agency_settings"))
                    .col(uuid(a("tenant_id")))
                    .col(integer(a("escalation_immediate_minutes")))
                    .col(integer(a("escalation_same_day_minutes")))
                    .col(integer(a("escalation_routine_minutes")))
                    .col(integer(a("version")))
                    .col(timestamp_with_time_zone(a("updated_at")))
                    .primary_key(Index::create().col(a("tenant_id")))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_agency_settings_tenant")
                            .from(a("agency_settings"), a("tenant_id"))
                            .to(a("tenants"), a("id")),
                    )
                    .to_owned(),
            )
            .await?;

        let mut postings = tenant_table(
            "postings",
            vec![
                uuid(a("user_id")),
                uuid(a("division_id")),
                date(a("starts_on")),
                date_null(a("ends_on")),
                timestamp_with_time_zone(a("created_at")),
            ],
        );
        postings.foreign_key(&mut tenant_fk("postings", "user_id", "users")).foreign_key(&mut division_fk("postings"));
        manager.create_table(postings).await?;
        manager.create_index(index("postings", "division", &["tenant_id", "division_id", "starts_on"], false)).await?;

        let mut shifts = tenant_table(
            "shifts",
            vec![
                uuid(a("user_id")),
                uuid(a("division_id")),
                timestamp_with_time_zone(a("starts_at")),
                timestamp_with_time_zone(a("ends_at")),
                timestamp_with_time_zone(a("created_at")),
            ],
        );
        shifts.foreign_key(&mut tenant_fk("shifts", "user_id", "users")).foreign_key(&mut division_fk("shifts"));
        manager.create_table(shifts).await?;
        manager.create_index(index("shifts", "division", &["tenant_id", "division_id", "starts_at"], false)).await?;
        manager.create_index(index("shifts", "user", &["tenant_id", "user_id", "starts_at"], false)).await?;

        let mut referrals = tenant_table(
            "referrals",
            vec![
                uuid(a("division_id")),
                uuid_null(a("program_id")),
                uuid(a("created_by")),
                blob_null(a("occurrence_number_sealed")),
                string(a("victimization_types")),
                string(a("urgency")),
                blob(a("person_sealed")),
                boolean(a("consent_to_contact")),
                boolean_null(a("children_involved")),
                blob_null(a("notes_sealed")),
                string(a("status")),
                uuid_null(a("assigned_to")),
                uuid_null(a("accepted_by")),
                timestamp_with_time_zone_null(a("accepted_at")),
                timestamp_with_time_zone_null(a("first_contact_at")),
                timestamp_with_time_zone(a("escalation_due_at")),
                timestamp_with_time_zone_null(a("escalated_at")),
                uuid_null(a("case_id")),
                uuid_null(a("client_id")),
                integer(a("version")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone(a("updated_at")),
            ],
        );
        referrals
            .foreign_key(&mut division_fk("referrals"))
            .foreign_key(&mut tenant_fk("referrals", "program_id", "programs"))
            .foreign_key(&mut tenant_fk("referrals", "created_by", "users"))
            .foreign_key(&mut tenant_fk("referrals", "assigned_to", "users"))
            .foreign_key(&mut tenant_fk("referrals", "case_id", "cases"))
            .foreign_key(&mut tenant_fk("referrals", "client_id", "clients"));
        manager.create_table(referrals).await?;
        manager.create_index(index("referrals", "status", &["tenant_id", "status", "id"], false)).await?;
        manager.create_index(index("referrals", "division", &["tenant_id", "division_id", "id"], false)).await?;
        manager.create_index(index("referrals", "created_by", &["tenant_id", "created_by", "id"], false)).await?;
        manager.create_index(index("referrals", "assigned_to", &["tenant_id", "assigned_to", "status"], false)).await?;
        // The escalation sweeper visits each tenant (row-level security allows nothing else) and
        // reads its due, unaccepted referrals from this index.
        manager
            .create_index(index("referrals", "escalation", &["tenant_id", "status", "escalation_due_at"], false))
            .await?;

        let mut attempts = tenant_table(
            "contact_attempts",
            vec![
                uuid(a("referral_id")),
                string(a("outcome")),
                blob_null(a("notes_sealed")),
                uuid(a("attempted_by")),
                timestamp_with_time_zone(a("created_at")),
            ],
        );
        attempts.foreign_key(&mut tenant_fk("contact_attempts", "referral_id", "referrals"));
        manager.create_table(attempts).await?;
        manager.create_index(index("contact_attempts", "referral", &["tenant_id", "referral_id", "id"], false)).await?;

        // One row per recipient: a stream reads its own rows after the last id it saw.
        manager
            .create_table(tenant_table(
                "events",
                vec![
                    uuid(a("user_id")),
                    string(a("kind")),
                    string(a("payload")),
                    timestamp_with_time_zone(a("created_at")),
                ],
            ))
            .await?;
        manager.create_index(index("events", "recipient", &["tenant_id", "user_id", "id"], false)).await?;

        for table in TABLES {
            enable_tenant_rls(manager, table).await?;
        }
        Ok(())
    }
}
