//! Services delivered on a case; VQRP+ emergency funds need an amount.

use actix_web::{HttpResponse, get, post, web};
use chrono::{DateTime, Utc};
use domain::ValidationErrors;
use domain::case::{self, AmountCents, ServiceType};
use infra::store::case_records::{self, NewService, Service};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use infra::TenantTx;
use infra::crypto::TenantCipher;

use super::{Opened, audit_change, begin_record, list_records, optional_notes};
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, RequestMeta};
use crate::idempotency::{Created, Idempotent};
use crate::routes::{Page, PageQuery};
use crate::state::AppState;

/// A service delivered.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"service_type": "vqrp_plus", "delivered_at": "2026-11-28T15:00:00Z", "amount_cents": 25000, "minutes": 30}))]
pub struct ServiceRequest {
    /// One of the service types (`crisis_intervention`, …, `vqrp_plus`, …).
    pub service_type: String,
    /// When it was delivered (not in the future).
    pub delivered_at: DateTime<Utc>,
    /// Minutes spent, 1 to 1440.
    #[schema(minimum = 1, maximum = 1440)]
    #[serde(default, deserialize_with = "crate::whole_numbers::optional")]
    pub minutes: Option<i32>,
    /// Money spent in cents, 1 to 10,000,000; required for `vqrp_plus`.
    #[schema(minimum = 1, maximum = 10000000)]
    #[serde(default, deserialize_with = "crate::whole_numbers::optional")]
    pub amount_cents: Option<i64>,
    /// Notes (encrypted at rest).
    pub notes: Option<String>,
}

/// A service.
#[derive(Debug, Serialize, ToSchema)]
pub struct ServiceResponse {
    /// The service record's id, assigned by the server.
    pub id: uuid::Uuid,
    /// Id of the case the service was delivered on.
    pub case_id: uuid::Uuid,
    /// The kind of service delivered.
    pub service_type: String,
    /// When the service was delivered (UTC), as the worker gave it.
    pub delivered_at: DateTime<Utc>,
    /// Time spent in minutes, 1 to 1440; null when not given.
    pub minutes: Option<i32>,
    /// Money spent in cents; always present for `vqrp_plus`, otherwise null when not given.
    pub amount_cents: Option<i64>,
    /// Free-text notes (encrypted at rest); null when none were given.
    pub notes: Option<String>,
    /// Id of the user who recorded the service.
    pub recorded_by: uuid::Uuid,
    /// When the service was recorded (UTC, set by the server).
    pub created_at: DateTime<Utc>,
}

impl From<Service> for ServiceResponse {
    fn from(s: Service) -> Self {
        Self {
            id: s.id,
            case_id: s.case_id,
            service_type: s.service_type.as_str().to_owned(),
            delivered_at: s.delivered_at,
            minutes: s.minutes,
            amount_cents: s.amount_cents,
            notes: s.notes,
            recorded_by: s.recorded_by.as_uuid(),
            created_at: s.created_at,
        }
    }
}

impl ServiceRequest {
    fn try_into_domain(&self) -> Result<NewService, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let kind = e.check("service_type", ServiceType::parse(&self.service_type));
        // A few minutes of clock skew between a worker's device and the server are tolerated.
        if self.delivered_at > Utc::now() + chrono::Duration::minutes(5) {
            e.add("delivered_at", "must not be in the future");
        }
        let minutes = self.minutes.map(|m| e.check("minutes", case::minutes(m)));
        let amount = self.amount_cents.map(|a| e.check("amount_cents", AmountCents::parse(a)));
        let notes = optional_notes(&mut e, "notes", self.notes.as_deref());
        if let Some(kind) = kind
            && self.amount_cents.is_none()
        {
            e.check("amount_cents", case::check_service_amount(kind, None));
        }
        e.finish(|| {
            Some(NewService {
                service_type: kind?,
                delivered_at: self.delivered_at,
                minutes: minutes.flatten(),
                amount_cents: amount.flatten(),
                notes,
            })
        })
    }
}

/// Record a service.
///
/// Records a service delivered on the case: its type, when, minutes spent and, for VQRP+, the amount in cents.
/// Audited; also records a de-identified reporting fact.
#[utoipa::path(
    tag = "cases",
    operation_id = "create_service",
    request_body = ServiceRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 201, description = "Recorded", body = ServiceResponse, headers(("Location" = String, description = "The case's services"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Invalid fields (vqrp_plus without amount_cents, …)", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/services")]
pub async fn create_service(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<ServiceRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    let new = body.try_into_domain()?;
    let case_id = path.into_inner();
    // The case is part of the request: the same key on another case is another request.
    let fingerprint = serde_json::json!({ "case_id": case_id, "body": &*body });
    let idempotent = Idempotent::new(idempotency, &actor, "create_service", &fingerprint)?;
    let (idempotent, opened) = begin_record(&state, &actor, &meta, case_id, idempotent, "service").await?;
    let (tx, cipher, case) = match opened {
        Opened::Replay(response) => return Ok(response),
        Opened::Proceed(tx, cipher, case) => (tx, cipher, case),
    };
    let service = case_records::insert_service(&tx, &cipher, case.id, new, actor.user_id).await?;
    audit_change(&tx, &actor, &meta, &case, "service", service.id).await?;
    let location = format!("/api/v1/cases/{}/services", case.id);
    idempotent.finish(tx, &actor, Created::new(&ServiceResponse::from(service), location)?).await
}

/// List a case's services.
///
/// Services delivered, oldest first, with minutes and VQRP+ amounts.
#[utoipa::path(
    tag = "cases",
    operation_id = "list_services",
    params(("id" = uuid::Uuid, Path, description = "Case id"), PageQuery),
    responses(
        (status = 200, description = "A page of services (the read is audited)", body = Page<ServiceResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/cases/{id}/services")]
pub async fn list_services(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let fetch = async |tx: &TenantTx, cipher: &TenantCipher, case_id, after, limit| {
        case_records::list_services(tx, cipher, case_id, after, limit).await
    };
    list_records(&state, &caller.0, &meta, path.into_inner(), &page, "services", fetch, |r| r.id, ServiceResponse::from)
        .await
}
