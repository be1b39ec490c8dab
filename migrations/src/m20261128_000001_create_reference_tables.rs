//! Tenants, police services and police divisions (reference data), seeded with Toronto Police
//! Service and its sixteen divisions.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{date, date_null, string, string_uniq, timestamp_with_time_zone, uuid};
use sea_orm_migration::sea_orm::prelude::Uuid;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[derive(DeriveIden)]
enum Tenants {
    Table,
    Id,
    Slug,
    Name,
    Kind,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PoliceServices {
    Table,
    Id,
    Name,
    ShortName,
    EffectiveFrom,
    EffectiveTo,
    CreatedAt,
}

#[derive(DeriveIden)]
enum PoliceDivisions {
    Table,
    Id,
    PoliceServiceId,
    Name,
    Code,
    EffectiveFrom,
    EffectiveTo,
    CreatedAt,
}

/// The day Toronto's police services amalgamated; the seeded divisions are in force from then.
const SEED_EFFECTIVE_FROM: &str = "1998-01-01";

const TORONTO_DIVISIONS: [&str; 16] =
    ["11", "12", "13", "14", "22", "23", "31", "32", "33", "41", "42", "43", "51", "52", "53", "55"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Tenants::Table)
                    .col(uuid(Tenants::Id).primary_key())
                    .col(string_uniq(Tenants::Slug))
                    .col(string(Tenants::Name))
                    .col(string(Tenants::Kind))
                    .col(timestamp_with_time_zone(Tenants::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PoliceServices::Table)
                    .col(uuid(PoliceServices::Id).primary_key())
                    .col(string(PoliceServices::Name))
                    .col(string(PoliceServices::ShortName))
                    .col(date(PoliceServices::EffectiveFrom))
                    .col(date_null(PoliceServices::EffectiveTo))
                    .col(timestamp_with_time_zone(PoliceServices::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table(PoliceDivisions::Table)
                    .col(uuid(PoliceDivisions::Id).primary_key())
                    .col(uuid(PoliceDivisions::PoliceServiceId))
                    .col(string(PoliceDivisions::Name))
                    .col(string(PoliceDivisions::Code))
                    .col(date(PoliceDivisions::EffectiveFrom))
                    .col(date_null(PoliceDivisions::EffectiveTo))
                    .col(timestamp_with_time_zone(PoliceDivisions::CreatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_police_divisions_service")
                            .from(PoliceDivisions::Table, PoliceDivisions::PoliceServiceId)
                            .to(PoliceServices::Table, PoliceServices::Id),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("ux_police_divisions_code")
                    .table(PoliceDivisions::Table)
                    .col(PoliceDivisions::PoliceServiceId)
                    .col(PoliceDivisions::Code)
                    .col(PoliceDivisions::EffectiveFrom)
                    .unique()
                    .to_owned(),
            )
            .await?;
        seed_toronto(manager).await
    }
}

async fn seed_toronto(manager: &SchemaManager<'_>) -> Result<(), DbErr> {
    let conn = manager.get_connection();
    let backend = manager.get_database_backend();
    let now = chrono::Utc::now();
    let from =
        chrono::NaiveDate::parse_from_str(SEED_EFFECTIVE_FROM, "%Y-%m-%d").map_err(|e| DbErr::Custom(e.to_string()))?;
    let service_id = Uuid::now_v7();
    let mut insert_service = Query::insert();
    insert_service
        .into_table(PoliceServices::Table)
        .columns([
            PoliceServices::Id,
            PoliceServices::Name,
            PoliceServices::ShortName,
            PoliceServices::EffectiveFrom,
            PoliceServices::CreatedAt,
        ])
        .values([service_id.into(), "Toronto Police Service".into(), "TPS".into(), from.into(), now.into()])
        .map_err(|e| DbErr::Custom(e.to_string()))?;
    conn.execute_raw(backend.build(&insert_service)).await?;
    for code in TORONTO_DIVISIONS {
        let mut insert_division = Query::insert();
        insert_division
            .into_table(PoliceDivisions::Table)
            .columns([
                PoliceDivisions::Id,
                PoliceDivisions::PoliceServiceId,
                PoliceDivisions::Name,
                PoliceDivisions::Code,
                PoliceDivisions::EffectiveFrom,
                PoliceDivisions::CreatedAt,
            ])
            .values([
                Uuid::now_v7().into(),
                service_id.into(),
                format!("{code} Division").into(),
                code.into(),
                from.into(),
                now.into(),
            ])
            .map_err(|e| DbErr::Custom(e.to_string()))?;
        conn.execute_raw(backend.build(&insert_division)).await?;
    }
    Ok(())
}
