//! A case's safety plan: one per case, sealed whole, versioned for If-Match.

use chrono::{DateTime, Utc};
use domain::UserId;
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, Set};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::safety_plan;

/// An emergency contact in a safety plan.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmergencyContact {
    /// Name.
    pub name: String,
    /// Phone.
    pub phone: String,
}

/// What a safety plan holds (all of it personal: sealed as one JSON document).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PlanContent {
    /// Steps to take.
    pub steps: Vec<String>,
    /// People to call.
    pub emergency_contacts: Vec<EmergencyContact>,
    /// Places to go.
    pub safe_places: Vec<String>,
    /// Notes.
    pub notes: Option<String>,
    /// The day the plan is to be reviewed. Absent from plans saved before review dates existed,
    /// which had none: `None` is what they hold, not a guess.
    #[serde(default)]
    pub review_on: Option<chrono::NaiveDate>,
}

/// A stored safety plan.
#[derive(Clone, Debug)]
pub struct SafetyPlan {
    /// The case.
    pub case_id: Uuid,
    /// The plan.
    pub content: PlanContent,
    /// Version for If-Match.
    pub version: i32,
    /// Who last saved it.
    pub updated_by: UserId,
    /// When.
    pub updated_at: DateTime<Utc>,
}

const FIELD: &str = "safety_plans.content";

fn open(cipher: &TenantCipher, m: safety_plan::Model) -> Result<SafetyPlan, StoreError> {
    let json = cipher.open(FIELD, m.case_id, &m.content_sealed)?;
    Ok(SafetyPlan {
        content: super::decode_json(FIELD, &json)?,
        case_id: m.case_id,
        version: m.version,
        updated_by: UserId::from_uuid(m.updated_by),
        updated_at: m.updated_at,
    })
}

/// The case's plan, if one was saved.
///
/// # Errors
/// [`StoreError`] on database or decryption failure.
pub async fn get(tx: &TenantTx, cipher: &TenantCipher, case_id: Uuid) -> Result<Option<SafetyPlan>, StoreError> {
    safety_plan::Entity::find_by_id((tx.tenant_id().as_uuid(), case_id))
        .one(tx.raw())
        .await
        .store()?
        .map(|m| open(cipher, m))
        .transpose()
}

/// Saves the plan: creates it when `expected_version` is `None`, else replaces it if the stored
/// version still matches.
///
/// # Errors
/// [`StoreError::VersionMismatch`] when it changed meanwhile; [`StoreError::Conflict`] when a plan
/// was created concurrently.
pub async fn save(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case_id: Uuid,
    content: &PlanContent,
    expected_version: Option<i32>,
    by: UserId,
) -> Result<SafetyPlan, StoreError> {
    let sealed = cipher.seal(FIELD, case_id, &super::encode_json(FIELD, content)?)?;
    let now = crate::db::now();
    match expected_version {
        None => {
            let model = safety_plan::ActiveModel {
                tenant_id: Set(tx.tenant_id().as_uuid()),
                case_id: Set(case_id),
                content_sealed: Set(sealed),
                version: Set(1),
                updated_by: Set(by.as_uuid()),
                updated_at: Set(now),
            }
            .insert(tx.raw())
            .await
            .store()?;
            open(cipher, model)
        }
        Some(version) => {
            let result = safety_plan::Entity::update_many()
                .col_expr(safety_plan::Column::ContentSealed, Expr::value(sealed))
                .col_expr(safety_plan::Column::Version, Expr::col(safety_plan::Column::Version).add(1))
                .col_expr(safety_plan::Column::UpdatedBy, Expr::value(by.as_uuid()))
                .col_expr(safety_plan::Column::UpdatedAt, Expr::value(now))
                .filter(safety_plan::Column::TenantId.eq(tx.tenant_id().as_uuid()))
                .filter(safety_plan::Column::CaseId.eq(case_id))
                .filter(safety_plan::Column::Version.eq(version))
                .exec(tx.raw())
                .await
                .store()?;
            if result.rows_affected == 0 {
                return Err(StoreError::VersionMismatch);
            }
            get(tx, cipher, case_id).await?.ok_or(StoreError::NotFound)
        }
    }
}
