//! Users of one tenant.

use chrono::Utc;
use domain::user::{DisplayName, EmailAddress, Profession, RoleSet};
use domain::{PoliceDivisionId, UserId};
use sea_orm::sea_query::{Expr, ExprTrait as _};
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::entities::user;

/// A user as the rest of the service sees it. The password hash stays inside `infra`.
#[derive(Clone, Debug)]
pub struct User {
    /// Its id.
    pub id: UserId,
    /// Normalised sign-in email.
    pub email: String,
    /// Name shown to colleagues.
    pub display_name: String,
    /// What the user may do now: the roles in effect.
    pub roles: RoleSet,
    /// The roles as stored, a requested `supervisor` not yet confirmed included.
    pub grants: domain::grants::StoredRoles,
    /// The police division a liaison or embedded worker belongs to.
    pub division_id: Option<PoliceDivisionId>,
    /// What the person is.
    pub profession: Option<Profession>,
    /// Inactive users cannot sign in.
    pub active: bool,
    /// Optimistic-concurrency version.
    pub version: i32,
    /// The password was set by someone else: the next sign-in may only change it.
    pub password_change_required: bool,
    /// When created.
    pub created_at: chrono::DateTime<Utc>,
}

/// The roles a row names, and whether its `supervisor` waits for confirmation.
fn stored_roles(m: &user::Model) -> domain::grants::StoredRoles {
    domain::grants::StoredRoles {
        named: RoleSet::from_storage(&m.roles),
        supervisor_pending: m.supervisor_pending,
        requested_by: m.supervisor_requested_by.map(UserId::from_uuid),
    }
}

impl TryFrom<user::Model> for User {
    type Error = StoreError;

    fn try_from(m: user::Model) -> Result<Self, StoreError> {
        let grants = stored_roles(&m);
        Ok(Self {
            id: UserId::from_uuid(m.id),
            email: m.email,
            display_name: m.display_name,
            roles: grants.effective(),
            grants,
            division_id: m.division_id.map(PoliceDivisionId::from_uuid),
            profession: super::decode_opt("users.profession", m.profession.as_deref(), Profession::parse)?,
            active: m.active,
            version: m.version,
            password_change_required: m.password_change_required,
            created_at: m.created_at,
        })
    }
}

/// A user about to be created, its password already hashed.
#[derive(Debug)]
pub struct NewUser {
    /// Sign-in email.
    pub email: EmailAddress,
    /// Display name.
    pub display_name: DisplayName,
    /// Roles named.
    pub roles: RoleSet,
    /// Who asked for the `supervisor` among `roles`, when it waits for confirmation
    /// (`domain::grants`); `None` when every role is in effect.
    pub supervisor_requested_by: Option<UserId>,
    /// Division, required for police liaisons.
    pub division_id: Option<PoliceDivisionId>,
    /// Profession.
    pub profession: Option<Profession>,
    /// The argon2id PHC string.
    pub password_hash: String,
    /// The password was set by someone else (an admin, the bootstrap, the demo): the user's next
    /// sign-in may only change it. Only synthetic accounts (the benchmark's) are made without.
    pub password_change_required: bool,
}

/// What a PATCH may change; `None` leaves a field alone.
#[derive(Debug, Default)]
pub struct UserChanges {
    /// New display name.
    pub display_name: Option<DisplayName>,
    /// New roles, with whether `supervisor` waits for confirmation (`domain::grants`).
    pub roles: Option<domain::grants::StoredRoles>,
    /// New division (`Some(None)` clears it).
    pub division_id: Option<Option<PoliceDivisionId>>,
    /// Activate or deactivate.
    pub active: Option<bool>,
}

/// Inserts a user into the transaction's tenant.
///
/// # Errors
/// [`StoreError::Conflict`] on `users.email` when the email is taken in this tenant, or on
/// `reference` when the division does not exist.
pub async fn insert(tx: &TenantTx, new: NewUser) -> Result<User, StoreError> {
    let now = crate::db::now();
    let row = user::ActiveModel {
        tenant_id: Set(tx.tenant_id().as_uuid()),
        id: Set(UserId::new().as_uuid()),
        email: Set(new.email.as_str().to_owned()),
        display_name: Set(new.display_name.as_str().to_owned()),
        password_hash: Set(new.password_hash),
        roles: Set(new.roles.to_storage()),
        supervisor_pending: Set(new.supervisor_requested_by.is_some()),
        supervisor_requested_by: Set(new.supervisor_requested_by.map(|u| u.as_uuid())),
        division_id: Set(new.division_id.map(|d| d.as_uuid())),
        profession: Set(new.profession.map(|p| p.as_str().to_owned())),
        active: Set(true),
        version: Set(1),
        password_change_required: Set(new.password_change_required),
        created_at: Set(now),
        updated_at: Set(now),
    };
    row.insert(tx.raw()).await.store().and_then(User::try_from)
}

/// The user with this id in the transaction's tenant.
///
/// # Errors
/// [`StoreError::NotFound`] when absent here (including when it belongs to another tenant).
pub async fn get(tx: &TenantTx, id: UserId) -> Result<User, StoreError> {
    user::Entity::find_by_id((tx.tenant_id().as_uuid(), id.as_uuid()))
        .one(tx.raw())
        .await
        .store()?
        .map(User::try_from)
        .ok_or(StoreError::NotFound)?
}

/// The user and password hash for a sign-in email.
///
/// # Errors
/// [`StoreError::NotFound`] when no user has that email in this tenant.
pub async fn find_credentials(tx: &TenantTx, email: &EmailAddress) -> Result<(User, String), StoreError> {
    let row = user::Entity::find()
        .filter(user::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(user::Column::Email.eq(email.as_str()))
        .one(tx.raw())
        .await
        .store()?
        .ok_or(StoreError::NotFound)?;
    let hash = row.password_hash.clone();
    Ok((User::try_from(row)?, hash))
}

/// A page of users after `after`, in creation order.
///
/// # Errors
/// [`StoreError::Unexpected`] on database failure.
pub async fn list(tx: &TenantTx, after: Option<uuid::Uuid>, limit: u64) -> Result<Vec<User>, StoreError> {
    let mut query = user::Entity::find()
        .filter(user::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .order_by_asc(user::Column::Id)
        .limit(limit);
    if let Some(after) = after {
        query = query.filter(user::Column::Id.gt(after));
    }
    query.all(tx.raw()).await.store()?.into_iter().map(User::try_from).collect()
}

/// Applies `changes` if the stored version is still `expected_version`, bumping it. One
/// conditional UPDATE, so two concurrent writers with the same version cannot both win.
///
/// # Errors
/// [`StoreError::NotFound`] when absent, [`StoreError::VersionMismatch`] when changed meanwhile.
pub async fn update(
    tx: &TenantTx,
    id: UserId,
    expected_version: i32,
    changes: UserChanges,
) -> Result<User, StoreError> {
    let mut update = user::Entity::update_many()
        .col_expr(user::Column::Version, Expr::col(user::Column::Version).add(1))
        .col_expr(user::Column::UpdatedAt, Expr::value(crate::db::now()))
        .filter(user::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(user::Column::Id.eq(id.as_uuid()))
        .filter(user::Column::Version.eq(expected_version));
    if let Some(name) = changes.display_name {
        update = update.col_expr(user::Column::DisplayName, Expr::value(name.as_str().to_owned()));
    }
    if let Some(roles) = changes.roles {
        update = update
            .col_expr(user::Column::Roles, Expr::value(roles.named.to_storage()))
            .col_expr(user::Column::SupervisorPending, Expr::value(roles.supervisor_pending))
            .col_expr(user::Column::SupervisorRequestedBy, Expr::value(roles.requested_by.map(|u| u.as_uuid())));
    }
    if let Some(division) = changes.division_id {
        update = update.col_expr(user::Column::DivisionId, Expr::value(division.map(|d| d.as_uuid())));
    }
    if let Some(active) = changes.active {
        update = update.col_expr(user::Column::Active, Expr::value(active));
    }
    let result = update.exec(tx.raw()).await.store()?;
    if result.rows_affected == 0 {
        // Tell "gone" from "changed meanwhile": the client's remedy differs.
        get(tx, id).await?;
        return Err(StoreError::VersionMismatch);
    }
    get(tx, id).await
}

/// Active users of this tenant holding `role` (escalation recipients, say).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn active_with_role(tx: &TenantTx, role: domain::user::Role) -> Result<Vec<UserId>, StoreError> {
    let rows = user::Entity::find()
        .filter(user::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(user::Column::Active.eq(true))
        .filter(user::Column::Roles.contains(role.as_str()))
        .all(tx.raw())
        .await
        .store()?;
    // `contains` is a substring match on the stored list; parse to be exact.
    Ok(rows
        .into_iter()
        .filter(|u| stored_roles(u).effective().contains(role))
        .map(|u| UserId::from_uuid(u.id))
        .collect())
}
