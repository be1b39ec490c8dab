//! Transfers of a case to another agency, with the client's consent: the directory of agencies,
//! sending (`POST /cases/{id}/transfers`), the two sides' lists and reads, and accepting,
//! declining and withdrawing.
//!
//! Each agency holds its own side of a transfer (`infra::store::transfers`). The one transaction
//! of a step moves into the other agency's scope only to write or settle that agency's side, and
//! audits the step there too: no policy ever reads across agencies, and each agency's log tells
//! its own story.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use domain::ValidationErrors;
use domain::audit::actions;
use domain::authz::{Action, Actor, CaseScope};
use domain::tasks::SystemTask;
use domain::tenant::TenantKind;
use domain::transfer::{self, Direction, Part, SendError, TransferStatus};
use infra::TenantTx;
use infra::crypto::TenantCipher;
use infra::store::audit::{self, AuditEntry};
use infra::store::clients::{CaseClient, ClientFields};
use infra::store::safety_plans::{EmergencyContact, PlanContent};
use infra::store::transfers::{self as store, Contact, Identity, Incoming, NewTransfer, Payload, Settlement};
use infra::store::{cases, clients, consents, events, safety_plans, tenants, users};

use super::case_records::{Opened, begin_record};
use super::{Page, PageQuery, authorize};
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta, with_etag};
use crate::idempotency::{Created, Idempotent};
use crate::state::AppState;

mod views;

pub use views::{
    AgencyResponse, CreateTransferRequest, DeclineRequest, TransferClient, TransferListQuery, TransferPayload,
    TransferResponse, TransferSafetyPlan,
};
use views::{incoming_response, outgoing_response, part_names};

/// List agencies.
///
/// The directory of agencies a case may be transferred to: slug and name only, by name. Supervisors and case managers.
#[utoipa::path(
    tag = "transfers",
    operation_id = "list_agencies",
    responses(
        (status = 200, description = "Every agency", body = Page<AgencyResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/agencies")]
pub async fn list_agencies(state: web::Data<AppState>, caller: Authenticated) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let tx = infra::db::begin_tenant_read_tx(&state.db, &actor).await?;
    let mut agencies = tenants::all(tx.raw()).await?;
    tx.commit().await?;
    agencies.retain(|t| t.kind == TenantKind::Agency);
    agencies.sort_by(|a, b| a.name.cmp(&b.name).then_with(|| a.slug.cmp(&b.slug)));
    let items = agencies.into_iter().map(|t| AgencyResponse { slug: t.slug, name: t.name }).collect();
    Ok(HttpResponse::Ok().json(Page { items, next_cursor: None }))
}

/// An audit event in the other agency's log: no one of that agency acted, so no actor; the
/// acting agency is named.
pub(crate) fn counterpart_entry(
    meta: &RequestMeta,
    action: &'static str,
    id: uuid::Uuid,
    acting: domain::TenantId,
) -> AuditEntry {
    AuditEntry {
        actor_id: None,
        action,
        resource_type: "transfer",
        resource_id: Some(id),
        client_ip: None,
        request_id: meta.request_id.clone(),
        details: serde_json::json!({ "by_agency": acting }),
    }
}

/// What travels of the case: the parts named, read with the sender's key.
pub(crate) async fn gather(
    tx: &TenantTx,
    cipher: &TenantCipher,
    case: &cases::Case,
    parts: &[Part],
    actor: &Actor,
) -> Result<Payload, ApiError> {
    let client = clients::get(tx, cipher, case.client_id, CaseScope::of(actor)).await?.fields;
    let contact = parts.contains(&Part::Contact).then(|| Contact {
        phone: client.phone.clone(),
        email: client.email.clone(),
        address: client.address.clone(),
        safe_contact: client.safe_contact.clone(),
    });
    let safety_plan = if parts.contains(&Part::SafetyPlan) {
        safety_plans::get(tx, cipher, case.id).await?.map(|p| p.content)
    } else {
        None
    };
    Ok(Payload {
        identity: Identity {
            given_name: client.given_name,
            family_name: client.family_name,
            date_of_birth: client.date_of_birth,
            gender: client.gender,
            preferred_language: client.preferred_language,
        },
        contact,
        victimization_types: case.victimization_types.clone(),
        risk_level: if parts.contains(&Part::RiskLevel) { case.risk_level } else { None },
        safety_plan,
        restricted: case.restricted,
    })
}

fn send_refused(e: &SendError) -> ApiError {
    match e {
        SendError::Include(_) | SendError::NoIdentity => ApiError::field("include", e.to_string()),
        SendError::OwnAgency => ApiError::field("to_agency", e.to_string()),
        SendError::NoConsent => ApiError::ConsentRequired,
    }
}

/// Transfer a case to another agency.
///
/// Sends the case to another agency with the client's consent: `409` with `code: consent_required` unless a
/// `share_with_other_agency` consent is in force on the case. Only what `include` names travels, sealed with the
/// receiving agency's key; the receiving agency's supervisors are told on the event stream (`transfer.received`).
/// The case stays open here until someone closes it. Audited on the case here, and in the receiving agency's log.
#[utoipa::path(
    tag = "transfers",
    operation_id = "create_transfer",
    request_body = CreateTransferRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 201, description = "Sent (pending)", body = TransferResponse, headers(("Location" = String, description = "The transfer"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "No share_with_other_agency consent in force (`consent_required`)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/transfers")]
pub async fn create_transfer(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<CreateTransferRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let mut e = ValidationErrors::default();
    let reason = e.check("reason", domain::case::reason(&body.reason));
    let parts = match transfer::parts(&body.include) {
        Ok(parts) => Some(parts),
        Err(err) => {
            e.add("include", err.to_string());
            None
        }
    };
    let slug = e.check("to_agency", domain::validation::bounded_text(&body.to_agency, 64));
    let (reason, parts, slug) = e.finish(|| Some((reason?, parts?, slug?)))?;
    let case_id = path.into_inner();
    let fingerprint = serde_json::json!({ "case_id": case_id, "body": &*body });
    let idempotent = Idempotent::new(idempotency, &actor, "create_transfer", &fingerprint)?;
    let (idempotent, opened) = begin_record(&state, &actor, &meta, case_id, idempotent, "transfer").await?;
    let (mut tx, cipher, case) = match opened {
        Opened::Replay(response) => return Ok(response),
        Opened::Proceed(tx, cipher, case) => (tx, cipher, case),
    };
    let receiver = match tenants::find_by_slug(tx.raw(), &slug).await {
        Ok(t) if t.kind == TenantKind::Agency => t,
        Ok(_) | Err(infra::StoreError::NotFound) => {
            return Err(ApiError::field("to_agency", "is not an agency's slug (see GET /api/v1/agencies)"));
        }
        Err(other) => return Err(other.into()),
    };
    let now = Utc::now();
    let consents = consents::records(&tx, case.id).await?;
    transfer::may_send(actor.tenant_id, receiver.id, &consents, now).map_err(|e| send_refused(&e))?;
    let payload = gather(&tx, &cipher, &case, &parts, &actor).await?;
    let new = NewTransfer {
        id: uuid::Uuid::now_v7(),
        case_id: case.id,
        to_tenant: receiver.id,
        from_tenant: actor.tenant_id,
        include: parts,
        reason,
        by: actor.user_id,
        at: now,
    };
    let sent = store::insert_outgoing(&tx, &cipher, &new).await?;
    let details =
        serde_json::json!({ "transfer_id": new.id, "to_agency": receiver.id, "include": part_names(&new.include) });
    audit::record(&tx, entry(&actor, &meta, actions::TRANSFER_SENT, "case", Some(case.id), details)).await?;
    // The receiver's side, in the receiver's scope and sealed with its key.
    let receiver_cipher = state.cipher(receiver.id).await?;
    tx.switch_tenant(receiver.id).await?;
    store::deliver(&tx, &receiver_cipher, &new, &payload).await?;
    audit::record(&tx, counterpart_entry(&meta, actions::TRANSFER_RECEIVED, new.id, actor.tenant_id)).await?;
    let supervisors = users::active_with_role(&tx, domain::user::Role::Supervisor).await?;
    events::publish(&tx, &supervisors, "transfer.received", &serde_json::json!({ "transfer_id": new.id })).await?;
    tx.switch_tenant(actor.tenant_id).await?;
    let directory = vec![receiver.clone()];
    let location = format!("/api/v1/transfers/{}", new.id);
    let created = Created::new(&outgoing_response(sent, &directory), location)?;
    let response = idempotent.finish(tx, &actor, created).await?;
    state.bus.publish(&infra::cache::events_topic(receiver.id)).await;
    Ok(response)
}

/// List transfers.
///
/// `direction=incoming`: the cases other agencies sent this one, with what travelled while pending (supervisors;
/// each is an audited read). `direction=outgoing`: the transfers of the cases the caller may see, with their status
/// only. Oldest first.
#[utoipa::path(
    tag = "transfers",
    operation_id = "list_transfers",
    params(TransferListQuery),
    responses(
        (status = 200, description = "A page of transfers", body = Page<TransferResponse>),
        (status = 403, description = "Incoming: not a supervisor. Outgoing: not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/transfers")]
pub async fn list_transfers(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    query: web::Query<TransferListQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let query = query.into_inner();
    let mut e = ValidationErrors::default();
    let direction = e.check("direction", Direction::parse(&query.direction));
    let status = query.status.as_deref().map(|s| e.check("status", TransferStatus::parse(s)));
    let (direction, status) = e.finish(|| Some((direction?, status.flatten())))?;
    authorize(&actor, if direction == Direction::Incoming { Action::ReceiveTransfers } else { Action::WorkCases })?;
    let (limit, after) = PageQuery { limit: query.limit, cursor: query.cursor }.parse()?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let directory = tenants::all(tx.raw()).await?;
    let page = match direction {
        Direction::Incoming => {
            let rows = store::list_incoming(&tx, &cipher, status, after, limit.get() + 1).await?;
            let (rows, next_cursor) = domain::paging::into_page(rows, limit, |t| t.id);
            let reads = rows
                .iter()
                .map(|t| {
                    entry(
                        &actor,
                        &meta,
                        actions::TRANSFER_READ,
                        "transfer",
                        Some(t.id),
                        serde_json::json!({ "via": "list" }),
                    )
                })
                .collect();
            audit::record_many(&tx, reads).await?;
            Page { items: rows.into_iter().map(|t| incoming_response(t, &directory)).collect(), next_cursor }
        }
        Direction::Outgoing => {
            let rows = store::list_outgoing(&tx, &cipher, status, after, limit.get() + 1).await?;
            let (rows, next_cursor) = domain::paging::into_page(rows, limit, |t| t.id);
            // Only the transfers of cases the caller may see (a restricted case's are hidden with it).
            let mut items = Vec::with_capacity(rows.len());
            for t in rows {
                if cases::get(&tx, t.case_id, CaseScope::of(&actor)).await.is_ok() {
                    items.push(outgoing_response(t, &directory));
                }
            }
            Page { items, next_cursor }
        }
    };
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(page))
}

/// Read a transfer.
///
/// Either side's view: the receiving agency's supervisors see what travelled while it is pending (an audited read);
/// the sending agency sees the status of the transfers of cases the caller may see. `404` otherwise.
#[utoipa::path(
    tag = "transfers",
    operation_id = "get_transfer",
    params(("id" = uuid::Uuid, Path, description = "Transfer id")),
    responses(
        (status = 200, description = "The transfer", body = TransferResponse, headers(("ETag" = String, description = "Version"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/transfers/{id}")]
pub async fn get_transfer(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let id = path.into_inner();
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let directory = tenants::all(tx.raw()).await?;
    let response = if let Some(t) = store::find_outgoing(&tx, &cipher, id).await? {
        cases::get(&tx, t.case_id, CaseScope::of(&actor)).await?;
        outgoing_response(t, &directory)
    } else if let Some(t) = store::find_incoming(&tx, &cipher, id).await? {
        // A case manager does not learn that another agency sent one: intake is the supervisors'.
        if authorize(&actor, Action::ReceiveTransfers).is_err() {
            return Err(ApiError::NotFound);
        }
        let read = entry(&actor, &meta, actions::TRANSFER_READ, "transfer", Some(t.id), serde_json::json!({}));
        audit::record(&tx, read).await?;
        incoming_response(t, &directory)
    } else {
        return Err(ApiError::NotFound);
    };
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), response.version, &response))
}

/// The receiver's pending transfer `id`, and the sender's side settled to `to` first: both steps
/// that settle a transfer (the receiver's here, the sender's withdrawal) change the sender's row
/// before the receiver's, so two of them never wait on each other. `409` when it was settled
/// meanwhile.
async fn settle_sender_side(
    tx: &mut TenantTx,
    actor: &Actor,
    meta: &RequestMeta,
    transfer: &Incoming,
    to: TransferStatus,
    action: &'static str,
) -> Result<DateTime<Utc>, ApiError> {
    transfer::settle(transfer.status, to).map_err(|e| ApiError::Conflict(format!("{e}.")))?;
    let at = Utc::now();
    tx.switch_tenant(transfer.from_tenant).await?;
    if !store::settle_outgoing(tx, transfer.id, Some(actor.tenant_id), to, at).await? {
        return Err(ApiError::Conflict("The transfer was withdrawn meanwhile; read it again.".to_owned()));
    }
    audit::record(tx, counterpart_entry(meta, action, transfer.id, actor.tenant_id)).await?;
    tx.switch_tenant(actor.tenant_id).await?;
    Ok(at)
}

/// The receiver's pending transfer, for a supervisor.
async fn pending_incoming(
    state: &AppState,
    actor: &Actor,
    id: uuid::Uuid,
) -> Result<(TenantTx, std::sync::Arc<TenantCipher>, Incoming, Payload), ApiError> {
    authorize(actor, Action::ReceiveTransfers)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, actor).await?;
    let transfer = store::find_incoming(&tx, &cipher, id).await?.ok_or(ApiError::NotFound)?;
    let Some(payload) = transfer.payload.clone() else {
        return Err(ApiError::Conflict(format!(
            "A transfer that is {} cannot be settled again.",
            transfer.status.as_str()
        )));
    };
    Ok((tx, cipher, transfer, payload))
}

/// Answers the receiver's side as it now is.
async fn answer_incoming(tx: TenantTx, cipher: &TenantCipher, id: uuid::Uuid) -> Result<HttpResponse, ApiError> {
    let directory = tenants::all(tx.raw()).await?;
    let settled = store::find_incoming(&tx, cipher, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let response = incoming_response(settled, &directory);
    Ok(with_etag(HttpResponse::Ok(), response.version, &response))
}

/// Accept a transfer.
///
/// Opens a client and a case in this agency from what travelled, sealed with this agency's key, assigned to the
/// accepting supervisor (restricted when the sender's case was; with its risk level and safety plan when they were
/// included). The payload is then erased from the transfer; the answer names the new case. `409` unless pending.
/// Audited here (the client, the case and the acceptance) and in the sending agency's log.
#[utoipa::path(
    tag = "transfers",
    operation_id = "accept_transfer",
    params(("id" = uuid::Uuid, Path, description = "Transfer id")),
    responses(
        (status = 200, description = "Accepted", body = TransferResponse),
        (status = 403, description = "Not a supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/transfers/{id}/accept")]
pub async fn accept_transfer(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let id = path.into_inner();
    let (mut tx, cipher, transfer, payload) = pending_incoming(&state, &actor, id).await?;
    let at =
        settle_sender_side(&mut tx, &actor, &meta, &transfer, TransferStatus::Accepted, actions::TRANSFER_ACCEPTED)
            .await?;
    let contact = payload.contact.clone();
    let fields = ClientFields {
        given_name: payload.identity.given_name.clone(),
        family_name: payload.identity.family_name.clone(),
        date_of_birth: payload.identity.date_of_birth,
        gender: payload.identity.gender,
        phone: contact.as_ref().and_then(|c| c.phone.clone()),
        email: contact.as_ref().and_then(|c| c.email.clone()),
        preferred_language: payload.identity.preferred_language.clone(),
        address: contact.as_ref().and_then(|c| c.address.clone()),
        safe_contact: contact.and_then(|c| c.safe_contact),
    };
    let client = clients::insert(&tx, &cipher, &fields).await?;
    let case = cases::queue_insert(
        &tx,
        &cipher,
        cases::NewCase {
            client: CaseClient::from(&client),
            victimization_types: payload.victimization_types.clone(),
            // Another VCAO agency referred the person: no closer source exists.
            referral_source: domain::case::ReferralSource::Other,
            program: None,
            division: None,
            assigned_to: Some(actor.user_id),
            restricted: payload.restricted,
        },
    )?;
    if let Some(level) = payload.risk_level {
        cases::set_risk_level(&tx, case.id, level).await?;
    }
    if let Some(plan) = &payload.safety_plan {
        let content = PlanContent {
            steps: plan.steps.clone(),
            emergency_contacts: plan
                .emergency_contacts
                .iter()
                .map(|c| EmergencyContact { name: c.name.clone(), phone: c.phone.clone() })
                .collect(),
            safe_places: plan.safe_places.clone(),
            notes: plan.notes.clone(),
            review_on: plan.review_on,
        };
        let saved = safety_plans::save(&tx, &cipher, case.id, &content, None, actor.user_id).await?;
        // The plan keeps its review day here, with its task, as a plan saved here would.
        if let Some(day) = saved.content.review_on {
            let task = SystemTask::safety_plan_review(case.id, saved.version, Some(actor.user_id), actor.user_id, day);
            crate::routes::tasks::open_system_task(&tx, &cipher, &actor, &meta, &task).await?;
        }
    }
    let settlement = Settlement {
        to: TransferStatus::Accepted,
        at,
        by: Some(actor.user_id),
        decline_reason: None,
        case_id: Some(case.id),
    };
    if !store::settle_incoming(&tx, &cipher, id, None, &settlement).await? {
        return Err(ApiError::Conflict("The transfer was settled meanwhile; read it again.".to_owned()));
    }
    let from = serde_json::json!({ "transfer_id": id, "from_agency": transfer.from_tenant });
    audit::record(&tx, entry(&actor, &meta, actions::CLIENT_CREATED, "client", Some(client.id), from.clone())).await?;
    audit::record(&tx, entry(&actor, &meta, actions::CASE_CREATED, "case", Some(case.id), from.clone())).await?;
    audit::record(
        &tx,
        entry(
            &actor,
            &meta,
            actions::TRANSFER_ACCEPTED,
            "transfer",
            Some(id),
            serde_json::json!({ "case_id": case.id }),
        ),
    )
    .await?;
    answer_incoming(tx, &cipher, id).await
}

/// Decline a transfer.
///
/// With a reason, which stays with this agency (encrypted at rest); the sender sees only `declined`. The payload is
/// erased. `409` unless pending. Audited here and in the sending agency's log.
#[utoipa::path(
    tag = "transfers",
    operation_id = "decline_transfer",
    request_body = DeclineRequest,
    params(("id" = uuid::Uuid, Path, description = "Transfer id")),
    responses(
        (status = 200, description = "Declined", body = TransferResponse),
        (status = 403, description = "Not a supervisor", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/transfers/{id}/decline")]
pub async fn decline_transfer(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    body: web::Json<DeclineRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let mut e = ValidationErrors::default();
    let reason = e.check("reason", domain::case::reason(&body.reason));
    let reason = e.finish(|| reason)?;
    let id = path.into_inner();
    let (mut tx, cipher, transfer, _) = pending_incoming(&state, &actor, id).await?;
    let at =
        settle_sender_side(&mut tx, &actor, &meta, &transfer, TransferStatus::Declined, actions::TRANSFER_DECLINED)
            .await?;
    let settlement = Settlement {
        to: TransferStatus::Declined,
        at,
        by: Some(actor.user_id),
        decline_reason: Some(reason),
        case_id: None,
    };
    if !store::settle_incoming(&tx, &cipher, id, None, &settlement).await? {
        return Err(ApiError::Conflict("The transfer was settled meanwhile; read it again.".to_owned()));
    }
    audit::record(&tx, entry(&actor, &meta, actions::TRANSFER_DECLINED, "transfer", Some(id), serde_json::json!({})))
        .await?;
    answer_incoming(tx, &cipher, id).await
}

/// Withdraw a transfer.
///
/// The sender takes back a pending transfer: the receiving agency's copy of what travelled is erased. `409` once the
/// receiver accepted or declined it. Audited on the case here and in the receiving agency's log.
#[utoipa::path(
    tag = "transfers",
    operation_id = "withdraw_transfer",
    params(("id" = uuid::Uuid, Path, description = "Transfer id")),
    responses(
        (status = 200, description = "Withdrawn", body = TransferResponse),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Not pending", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/transfers/{id}/withdraw")]
pub async fn withdraw_transfer(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let id = path.into_inner();
    let cipher = state.cipher(actor.tenant_id).await?;
    let mut tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let sent = store::find_outgoing(&tx, &cipher, id).await?.ok_or(ApiError::NotFound)?;
    let case = cases::get(&tx, sent.case_id, CaseScope::of(&actor)).await?;
    transfer::settle(sent.status, TransferStatus::Withdrawn).map_err(|e| ApiError::Conflict(format!("{e}.")))?;
    let at = Utc::now();
    if !store::settle_outgoing(&tx, id, None, TransferStatus::Withdrawn, at).await? {
        return Err(ApiError::Conflict("The transfer was settled meanwhile; read it again.".to_owned()));
    }
    let details = serde_json::json!({ "transfer_id": id });
    audit::record(&tx, entry(&actor, &meta, actions::TRANSFER_WITHDRAWN, "case", Some(case.id), details)).await?;
    let receiver_cipher = state.cipher(sent.to_tenant).await?;
    tx.switch_tenant(sent.to_tenant).await?;
    let settlement = Settlement { to: TransferStatus::Withdrawn, at, by: None, decline_reason: None, case_id: None };
    if !store::settle_incoming(&tx, &receiver_cipher, id, Some(actor.tenant_id), &settlement).await? {
        return Err(ApiError::Conflict("The transfer was settled meanwhile; read it again.".to_owned()));
    }
    audit::record(&tx, counterpart_entry(&meta, actions::TRANSFER_WITHDRAWN, id, actor.tenant_id)).await?;
    tx.switch_tenant(actor.tenant_id).await?;
    let directory = tenants::all(tx.raw()).await?;
    let withdrawn = store::find_outgoing(&tx, &cipher, id).await?.ok_or(ApiError::NotFound)?;
    tx.commit().await?;
    let response = outgoing_response(withdrawn, &directory);
    Ok(with_etag(HttpResponse::Ok(), response.version, &response))
}
