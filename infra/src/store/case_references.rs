//! What a new case names (its client, program, police division and assignee), read in one
//! statement: opening a case is the agency's most frequent write, and each look-up was a round
//! trip of its own. The handler then checks what came back with no further query.

use domain::authz::CaseScope;
use domain::{PoliceDivisionId, UserId};
use sea_orm::sea_query::{Alias, Condition, Expr, ExprTrait as _, JoinType, Query, SelectStatement};
use sea_orm::{ConnectionTrait as _, EntityTrait, FromQueryResult, IdenStatic as _, Iterable as _, QueryResult};
use uuid::Uuid;

use super::clients::CaseClient;
use super::programs::Program;
use super::reference::PoliceDivision;
use super::users::User;
use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{client, police_division, program, user};

/// The references a new case names; `None` for one it does not name.
#[derive(Clone, Copy, Debug)]
pub struct Named {
    /// The client (always named).
    pub client: Uuid,
    /// The program.
    pub program: Option<Uuid>,
    /// The police division.
    pub division: Option<PoliceDivisionId>,
    /// The worker to assign.
    pub assignee: Option<UserId>,
}

/// What each reference names in this tenant: `None` where it names nothing (or nothing the caller
/// may see, for the client), or where nothing was named.
#[derive(Debug)]
pub struct Found {
    /// The client, if it exists and `scope` may see it.
    pub client: Option<CaseClient>,
    /// The program, if it is this agency's.
    pub program: Option<Program>,
    /// The police division.
    pub division: Option<PoliceDivision>,
    /// The worker named for assignment, if a user of this agency.
    pub assignee: Option<User>,
}

/// Reads everything `named` names in one statement: one row of left joins on a constant, so a
/// reference that names nothing leaves its columns null instead of removing the row.
///
/// # Errors
/// [`StoreError`] on database or decryption failure, or a stored value that does not decode.
pub async fn find(tx: &TenantTx, cipher: &TenantCipher, named: Named, scope: CaseScope) -> Result<Found, StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    // Nothing has the nil id, so an unnamed reference joins no row.
    let or_none = |id: Option<Uuid>| id.unwrap_or(Uuid::nil());
    let mut query = Query::select()
        .from_subquery(Query::select().expr_as(Expr::val(1), Alias::new("one")).to_owned(), Alias::new("anchor"))
        .to_owned();
    let tenant_row = |t: Expr, id: Expr, wanted: Uuid| Condition::all().add(t.eq(tenant)).add(id.eq(wanted));
    join::<client::Entity>(
        &mut query,
        "c_",
        tenant_row(
            Expr::col((client::Entity, client::Column::TenantId)),
            Expr::col((client::Entity, client::Column::Id)),
            named.client,
        )
        .add(super::clients::seen_in(tenant, scope)),
    );
    join::<program::Entity>(
        &mut query,
        "p_",
        tenant_row(
            Expr::col((program::Entity, program::Column::TenantId)),
            Expr::col((program::Entity, program::Column::Id)),
            or_none(named.program),
        ),
    );
    join::<police_division::Entity>(
        &mut query,
        "d_",
        Condition::all().add(
            Expr::col((police_division::Entity, police_division::Column::Id))
                .eq(or_none(named.division.map(|d| d.as_uuid()))),
        ),
    );
    join::<user::Entity>(
        &mut query,
        "u_",
        tenant_row(
            Expr::col((user::Entity, user::Column::TenantId)),
            Expr::col((user::Entity, user::Column::Id)),
            or_none(named.assignee.map(|u| u.as_uuid())),
        ),
    );
    let backend = tx.raw().get_database_backend();
    let row = tx.raw().query_one_raw(backend.build(&query)).await.store()?.ok_or(StoreError::NotFound)?;
    Ok(Found {
        client: decode::<client::Model>(&row, "c_")?.map(|m| CaseClient::of(cipher, &m)).transpose()?,
        program: decode::<program::Model>(&row, "p_")?.map(Program::from),
        division: decode::<police_division::Model>(&row, "d_")?.map(PoliceDivision::try_from).transpose()?,
        assignee: decode::<user::Model>(&row, "u_")?.map(User::try_from).transpose()?,
    })
}

/// Left-joins `E` on `on`, selecting each of its columns as `prefix` + its name.
fn join<E: EntityTrait>(query: &mut SelectStatement, prefix: &str, on: Condition) {
    for column in E::Column::iter() {
        query.expr_as(Expr::col((E::default(), column)), Alias::new(format!("{prefix}{}", column.as_str())));
    }
    query.join(JoinType::LeftJoin, E::default(), on);
}

/// The row's `prefix` columns as a model, or `None` when the join found nothing (its id is null).
fn decode<M: FromQueryResult>(row: &QueryResult, prefix: &str) -> Result<Option<M>, StoreError> {
    if row.try_get::<Option<Uuid>>(prefix, "id").store()?.is_none() {
        return Ok(None);
    }
    M::from_query_result(row, prefix).map(Some).store()
}
