//! Case management: tenant data keys, programs, community organisations, clients (personal fields
//! encrypted, blind indexes for exact search), cases and everything recorded on them.
//!
//! Columns holding personal information are `blob`s of ciphertext; their names say what they hold.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer_null, blob, blob_null, boolean, integer, integer_null, string, string_null, timestamp_with_time_zone,
    timestamp_with_time_zone_null, uuid, uuid_null,
};

use crate::rls::enable_tenant_rls;
use crate::tables::{a, index, tenant_fk, tenant_table};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Tables created here, in creation order.
pub const TABLES: &[&str] = &[
    "tenant_keys",
    "programs",
    "organizations",
    "clients",
    "cases",
    "case_victimization_types",
    "case_status_changes",
    "notes",
    "services",
    "consents",
    "risk_assessments",
    "safety_plans",
    "children",
    "outbound_referrals",
];

/// A table keyed by `(tenant_id, id)` that belongs to one case.
fn case_child(name: &str, mut columns: Vec<ColumnDef>) -> TableCreateStatement {
    let mut all = vec![uuid(a("case_id"))];
    all.append(&mut columns);
    all.push(timestamp_with_time_zone(a("created_at")));
    let mut table = tenant_table(name, all);
    table.foreign_key(&mut tenant_fk(name, "case_id", "cases"));
    table
}

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(a("tenant_keys"))
                    .col(uuid(a("tenant_id")))
                    .col(integer(a("version")))
                    .col(string(a("master_key_id")))
                    .col(blob(a("wrapped_key")))
                    .col(timestamp_with_time_zone(a("created_at")))
                    .primary_key(Index::create().col(a("tenant_id")).col(a("version")))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_tenant_keys_tenant")
                            .from(a("tenant_keys"), a("tenant_id"))
                            .to(a("tenants"), a("id")),
                    )
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(tenant_table(
                "programs",
                vec![
                    string(a("code")),
                    string(a("name")),
                    string_null(a("funder")),
                    timestamp_with_time_zone(a("created_at")),
                ],
            ))
            .await?;
        manager.create_index(index("programs", "code", &["tenant_id", "code"], true)).await?;

        manager
            .create_table(tenant_table(
                "organizations",
                vec![
                    string(a("name")),
                    string(a("kind")),
                    string_null(a("phone")),
                    string_null(a("email")),
                    timestamp_with_time_zone(a("created_at")),
                ],
            ))
            .await?;

        manager
            .create_table(tenant_table(
                "clients",
                vec![
                    blob(a("given_name_sealed")),
                    blob_null(a("family_name_sealed")),
                    blob_null(a("date_of_birth_sealed")),
                    string_null(a("gender")),
                    blob_null(a("phone_sealed")),
                    blob_null(a("email_sealed")),
                    blob_null(a("preferred_language_sealed")),
                    blob_null(a("address_sealed")),
                    blob_null(a("safe_contact_sealed")),
                    blob(a("given_name_index")),
                    blob_null(a("family_name_index")),
                    blob_null(a("date_of_birth_index")),
                    integer(a("version")),
                    timestamp_with_time_zone(a("created_at")),
                    timestamp_with_time_zone(a("updated_at")),
                ],
            ))
            .await?;
        for column in ["given_name_index", "family_name_index", "date_of_birth_index"] {
            manager.create_index(index("clients", column, &["tenant_id", column], false)).await?;
        }

        let mut cases = tenant_table(
            "cases",
            vec![
                uuid(a("client_id")),
                string(a("status")),
                string(a("victimization_types")),
                string(a("referral_source")),
                uuid_null(a("program_id")),
                uuid_null(a("division_id")),
                uuid_null(a("assigned_to")),
                boolean(a("restricted")),
                string_null(a("risk_level")),
                timestamp_with_time_zone(a("opened_at")),
                timestamp_with_time_zone_null(a("closed_at")),
                integer(a("version")),
                timestamp_with_time_zone(a("created_at")),
                timestamp_with_time_zone(a("updated_at")),
            ],
        );
        cases
            .foreign_key(&mut tenant_fk("cases", "client_id", "clients"))
            .foreign_key(&mut tenant_fk("cases", "program_id", "programs"))
            .foreign_key(&mut tenant_fk("cases", "assigned_to", "users"))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_cases_division")
                    .from(a("cases"), a("division_id"))
                    .to(a("police_divisions"), a("id")),
            );
        manager.create_table(cases).await?;
        for (name, columns) in [
            ("status", &["tenant_id", "status", "id"][..]),
            ("assigned_to", &["tenant_id", "assigned_to", "id"][..]),
            ("division", &["tenant_id", "division_id", "id"][..]),
            ("client", &["tenant_id", "client_id"][..]),
        ] {
            manager.create_index(index("cases", name, columns, false)).await?;
        }

        // One row per (case, type): the victimization-type filter is an index lookup, not a scan.
        manager
            .create_table(
                Table::create()
                    .table(a("case_victimization_types"))
                    .col(uuid(a("tenant_id")))
                    .col(uuid(a("case_id")))
                    .col(string(a("victimization_type")))
                    .primary_key(Index::create().col(a("tenant_id")).col(a("case_id")).col(a("victimization_type")))
                    .foreign_key(&mut tenant_fk("case_victimization_types", "case_id", "cases"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(index(
                "case_victimization_types",
                "type",
                &["tenant_id", "victimization_type", "case_id"],
                false,
            ))
            .await?;

        manager
            .create_table(case_child(
                "case_status_changes",
                vec![string(a("status")), blob(a("reason_sealed")), uuid(a("changed_by"))],
            ))
            .await?;

        let mut notes =
            case_child("notes", vec![blob(a("body_sealed")), uuid(a("author_id")), uuid_null(a("amends_note_id"))]);
        notes.foreign_key(&mut tenant_fk("notes", "amends_note_id", "notes"));
        manager.create_table(notes).await?;

        manager
            .create_table(case_child(
                "services",
                vec![
                    string(a("service_type")),
                    timestamp_with_time_zone(a("delivered_at")),
                    integer_null(a("minutes")),
                    big_integer_null(a("amount_cents")),
                    blob_null(a("notes_sealed")),
                    uuid(a("recorded_by")),
                ],
            ))
            .await?;
        manager
            .create_table(case_child(
                "consents",
                vec![
                    string(a("scope")),
                    boolean(a("granted")),
                    timestamp_with_time_zone_null(a("expires_at")),
                    blob_null(a("notes_sealed")),
                    uuid(a("recorded_by")),
                ],
            ))
            .await?;
        manager
            .create_table(case_child(
                "risk_assessments",
                vec![
                    string(a("tool")),
                    integer_null(a("score")),
                    string(a("level")),
                    blob_null(a("notes_sealed")),
                    uuid(a("assessor_id")),
                ],
            ))
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(a("safety_plans"))
                    .col(uuid(a("tenant_id")))
                    .col(uuid(a("case_id")))
                    .col(blob(a("content_sealed")))
                    .col(integer(a("version")))
                    .col(uuid(a("updated_by")))
                    .col(timestamp_with_time_zone(a("updated_at")))
                    .primary_key(Index::create().col(a("tenant_id")).col(a("case_id")))
                    .foreign_key(&mut tenant_fk("safety_plans", "case_id", "cases"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(case_child(
                "children",
                vec![blob(a("given_name_sealed")), integer_null(a("year_of_birth")), blob_null(a("notes_sealed"))],
            ))
            .await?;
        let mut outbound = case_child(
            "outbound_referrals",
            vec![uuid(a("organization_id")), string(a("service")), blob_null(a("notes_sealed")), uuid(a("created_by"))],
        );
        outbound.foreign_key(&mut tenant_fk("outbound_referrals", "organization_id", "organizations"));
        manager.create_table(outbound).await?;

        for table in [
            "case_status_changes",
            "notes",
            "services",
            "consents",
            "risk_assessments",
            "children",
            "outbound_referrals",
        ] {
            manager.create_index(index(table, "case", &["tenant_id", "case_id", "id"], false)).await?;
        }
        for table in TABLES {
            enable_tenant_rls(manager, table).await?;
        }
        Ok(())
    }
}
