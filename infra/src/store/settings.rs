//! An agency's settings: the escalation windows per urgency.

use domain::dispatch::EscalationWindows;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::agency_setting;

/// The settings and their version (0 while the defaults have never been changed).
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    /// Escalation windows in minutes.
    pub windows: EscalationWindows,
    /// Version for If-Match.
    pub version: i32,
}

/// The agency's settings, or the defaults.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn get(tx: &TenantTx) -> Result<Settings, StoreError> {
    let row = agency_setting::Entity::find_by_id(tx.tenant_id().as_uuid()).one(tx.raw()).await.store()?;
    Ok(match row {
        None => Settings { windows: EscalationWindows::default(), version: 0 },
        Some(m) => Settings {
            windows: EscalationWindows {
                immediate: m.escalation_immediate_minutes,
                same_day: m.escalation_same_day_minutes,
                routine: m.escalation_routine_minutes,
            },
            version: m.version,
        },
    })
}

/// Replaces the windows if the version is still `expected_version` (0: never saved).
///
/// # Errors
/// [`StoreError::VersionMismatch`] when changed meanwhile.
pub async fn update(tx: &TenantTx, expected_version: i32, windows: EscalationWindows) -> Result<Settings, StoreError> {
    let now = crate::db::now();
    if expected_version == 0 {
        let inserted = agency_setting::ActiveModel {
            tenant_id: Set(tx.tenant_id().as_uuid()),
            escalation_immediate_minutes: Set(windows.immediate),
            escalation_same_day_minutes: Set(windows.same_day),
            escalation_routine_minutes: Set(windows.routine),
            version: Set(1),
            updated_at: Set(now),
        }
        .insert(tx.raw())
        .await;
        return match inserted {
            Ok(_) => get(tx).await,
            Err(_) => Err(StoreError::VersionMismatch),
        };
    }
    let result = agency_setting::Entity::update_many()
        .col_expr(agency_setting::Column::EscalationImmediateMinutes, Expr::value(windows.immediate))
        .col_expr(agency_setting::Column::EscalationSameDayMinutes, Expr::value(windows.same_day))
        .col_expr(agency_setting::Column::EscalationRoutineMinutes, Expr::value(windows.routine))
        .col_expr(agency_setting::Column::Version, Expr::col(agency_setting::Column::Version).add(1))
        .col_expr(agency_setting::Column::UpdatedAt, Expr::value(now))
        .filter(agency_setting::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(agency_setting::Column::Version.eq(expected_version))
        .exec(tx.raw())
        .await
        .store()?;
    if result.rows_affected == 0 {
        return Err(StoreError::VersionMismatch);
    }
    get(tx).await
}
