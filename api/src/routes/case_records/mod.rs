//! Records kept on a case: notes, services, consents and referrals out, risk assessments, the
//! safety plan and children. Each endpoint first finds the case as the caller may see it (a hidden
//! or foreign case is 404), and audits the read or change against the case in the same transaction.

pub mod assessments;
pub mod children;
pub mod consents;
pub mod notes;
pub mod safety_plan;
pub mod services;

use std::sync::Arc;

use domain::audit::actions;
use domain::authz::{Action, Actor, CaseScope};
use infra::TenantTx;
use infra::crypto::TenantCipher;
use infra::db::begin_tenant_tx;
use infra::store::audit;
use infra::store::cases::{self, Case};

use super::authorize;
use crate::audit_trail::entry;
use crate::error::ApiError;
use crate::extract::RequestMeta;
use crate::state::AppState;

/// The caller's transaction, the tenant cipher and the case, once the caller may work it.
pub(crate) async fn open_case(
    state: &AppState,
    actor: &Actor,
    case_id: uuid::Uuid,
) -> Result<(TenantTx, Arc<TenantCipher>, Case), ApiError> {
    authorize(actor, Action::WorkCases)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = begin_tenant_tx(&state.db, actor).await?;
    let case = cases::get(&tx, case_id, CaseScope::of(actor)).await?;
    Ok((tx, cipher, case))
}

/// What [`begin_record`] found.
pub(crate) enum Opened {
    /// An earlier request with this `Idempotency-Key` answered already: send that again.
    Replay(actix_web::HttpResponse),
    /// Go ahead in this transaction.
    Proceed(TenantTx, Arc<TenantCipher>, Case),
}

/// [`open_case`] for a create that accepts an `Idempotency-Key`. The case is found as the caller
/// may see it before the key is looked up, so a replay is refused (404) exactly when a first
/// request would be, and audited on the case as `record`.
pub(crate) async fn begin_record(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    case_id: uuid::Uuid,
    idempotent: crate::idempotency::Idempotent,
    record: &'static str,
) -> Result<(crate::idempotency::Idempotent, Opened), ApiError> {
    let (tx, cipher, case) = open_case(state, actor, case_id).await?;
    let idempotent = idempotent.on_case(case.id, record);
    let opened = match idempotent.begin_in(tx, &cipher, actor, meta).await? {
        crate::idempotency::Begun::Replay(replay) => Opened::Replay(replay.answer().await?),
        crate::idempotency::Begun::Proceed(tx) => Opened::Proceed(tx, cipher, case),
    };
    Ok((idempotent, opened))
}

/// Audits a read of the case's `record` list.
pub(crate) async fn audit_read(
    tx: &TenantTx,
    actor: &Actor,
    meta: &RequestMeta,
    case: &Case,
    record: &str,
) -> Result<(), ApiError> {
    let details = serde_json::json!({ "record": record });
    audit::record(tx, entry(actor, meta, actions::CASE_READ, "case", Some(case.id), details)).await?;
    Ok(())
}

/// Audits a record added to (or changed on) the case.
pub(crate) async fn audit_change(
    tx: &TenantTx,
    actor: &Actor,
    meta: &RequestMeta,
    case: &Case,
    record: &str,
    record_id: uuid::Uuid,
) -> Result<(), ApiError> {
    let details = serde_json::json!({ "record": record, "record_id": record_id });
    audit::record(tx, entry(actor, meta, actions::CASE_UPDATED, "case", Some(case.id), details)).await?;
    Ok(())
}

/// The body every record list shares: find the case as the caller may see it, fetch a page,
/// audit the read, answer `{items, next_cursor}`.
#[expect(clippy::too_many_arguments, reason = "the parts in which record lists differ")]
pub(crate) async fn list_records<T, R: serde::Serialize + utoipa::ToSchema>(
    state: &AppState,
    actor: &Actor,
    meta: &RequestMeta,
    case_id: uuid::Uuid,
    page: &crate::routes::PageQuery,
    record: &str,
    fetch: impl AsyncFnOnce(
        &TenantTx,
        &TenantCipher,
        uuid::Uuid,
        Option<uuid::Uuid>,
        u64,
    ) -> Result<Vec<T>, infra::StoreError>,
    id_of: impl Fn(&T) -> uuid::Uuid,
    to_response: impl Fn(T) -> R,
) -> Result<actix_web::HttpResponse, ApiError> {
    let (limit, after) = page.parse()?;
    let (tx, cipher, case) = open_case(state, actor, case_id).await?;
    let rows = fetch(&tx, &cipher, case.id, after, limit.get() + 1).await?;
    audit_read(&tx, actor, meta, &case, record).await?;
    tx.commit().await?;
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, id_of);
    Ok(actix_web::HttpResponse::Ok()
        .json(crate::routes::Page { items: rows.into_iter().map(to_response).collect(), next_cursor }))
}

/// Optional free text (notes on a record): 1 to 20,000 characters when given.
pub(crate) fn optional_notes(e: &mut domain::ValidationErrors, field: &str, raw: Option<&str>) -> Option<String> {
    raw.and_then(|n| e.check(field, domain::case::note_text(n)))
}
