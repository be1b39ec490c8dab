//! What transfers look like over HTTP: the requests, the two sides' views of a transfer, and
//! what travelled, with the conversions from the store's types. Each side's view holds only what
//! that side may see: the sender's never the payload nor the decline reason.

use chrono::{DateTime, NaiveDate, Utc};
use domain::transfer::{Direction, Part};
use infra::store::tenants;
use infra::store::transfers::{Incoming, Outgoing, Payload};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::routes::case_records::safety_plan::EmergencyContactDto;
use crate::routes::clients::SafeContactDto;

/// An agency in the directory.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AgencyResponse {
    /// The agency's slug: what `to_agency` names.
    pub slug: String,
    /// Its name.
    pub name: String,
}

/// A case sent to another agency.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"to_agency": "north-bay-vs", "reason": "Moving to North Bay to stay with family.",
    "include": ["identity", "contact", "safety_plan"]}))]
pub struct CreateTransferRequest {
    /// The receiving agency's slug (`GET /api/v1/agencies`).
    pub to_agency: String,
    /// Why (1 to 2,000 characters; the receiving agency reads it; encrypted at rest on both sides).
    pub reason: String,
    /// What travels, the minimum necessary: `identity` (required: given and family name, date of birth, gender,
    /// preferred language), `contact` (phone, email, address, safe-contact preferences), `risk_level`,
    /// `safety_plan`. The case's victimization types and whether it is restricted always travel.
    pub include: Vec<String>,
}

/// The client as a transfer carries them.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferClient {
    /// Given name.
    pub given_name: String,
    /// Family name.
    pub family_name: Option<String>,
    /// Date of birth.
    pub date_of_birth: Option<NaiveDate>,
    /// Gender.
    pub gender: Option<String>,
    /// Preferred language.
    pub preferred_language: Option<String>,
    /// Phone (with `contact`).
    pub phone: Option<String>,
    /// Email (with `contact`).
    pub email: Option<String>,
    /// Address (with `contact`).
    pub address: Option<String>,
    /// How to contact the client safely (with `contact`).
    pub safe_contact: Option<SafeContactDto>,
}

/// A safety plan as a transfer carries it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferSafetyPlan {
    /// Steps to take.
    pub steps: Vec<String>,
    /// People to call.
    pub emergency_contacts: Vec<EmergencyContactDto>,
    /// Places to go.
    pub safe_places: Vec<String>,
    /// Notes.
    pub notes: Option<String>,
    /// When the plan is due for review.
    pub review_on: Option<NaiveDate>,
}

/// What travelled: exactly the included parts.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferPayload {
    /// The client.
    pub client: TransferClient,
    /// The case's victimization types.
    pub victimization_types: Vec<String>,
    /// The case's risk level (with `risk_level`).
    pub risk_level: Option<String>,
    /// The case's safety plan (with `safety_plan`).
    pub safety_plan: Option<TransferSafetyPlan>,
    /// Whether the case was restricted (the case opened on acceptance is restricted too).
    pub restricted: bool,
}

/// A transfer as one side sees it.
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct TransferResponse {
    /// Id (the same on both sides).
    pub id: uuid::Uuid,
    /// `outgoing` (this agency sent it) or `incoming`.
    pub direction: String,
    /// `pending`, `accepted`, `declined` or `withdrawn`.
    pub status: String,
    /// What was included.
    pub include: Vec<String>,
    /// Why it was sent.
    pub reason: String,
    /// Outgoing: the case sent. Incoming: the case opened here on acceptance (null before).
    pub case_id: Option<uuid::Uuid>,
    /// Outgoing: the receiving agency.
    pub to_agency: Option<AgencyResponse>,
    /// Incoming: the sending agency.
    pub from_agency: Option<AgencyResponse>,
    /// Incoming and pending: what travelled. Erased once the transfer is settled; the sender never sees it.
    pub payload: Option<TransferPayload>,
    /// Incoming: why it was declined (the sender sees only the status).
    pub decline_reason: Option<String>,
    /// When it was sent.
    pub created_at: DateTime<Utc>,
    /// When it was accepted, declined or withdrawn.
    pub settled_at: Option<DateTime<Utc>>,
    /// Version, as the `ETag`.
    pub version: i32,
}

/// A transfer declined.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"reason": "We do not serve the client's new area; Sudbury's agency does."}))]
pub struct DeclineRequest {
    /// Why (1 to 2,000 characters; encrypted at rest; the sender sees only the status).
    pub reason: String,
}

/// Which side's transfers to list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TransferListQuery {
    /// `incoming` (supervisors) or `outgoing` (the cases the caller may see).
    pub direction: String,
    /// `pending`, `accepted`, `declined` or `withdrawn`.
    pub status: Option<String>,
    /// Page size, 1 to 100 (default 50).
    pub limit: Option<u64>,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

pub(super) fn agency(directory: &[tenants::Tenant], id: domain::TenantId) -> Option<AgencyResponse> {
    directory.iter().find(|t| t.id == id).map(|t| AgencyResponse { slug: t.slug.clone(), name: t.name.clone() })
}

pub(super) fn part_names(parts: &[Part]) -> Vec<String> {
    parts.iter().map(|p| p.as_str().to_owned()).collect()
}

pub(super) fn outgoing_response(t: Outgoing, directory: &[tenants::Tenant]) -> TransferResponse {
    TransferResponse {
        id: t.id,
        direction: Direction::Outgoing.as_str().to_owned(),
        status: t.status.as_str().to_owned(),
        include: part_names(&t.include),
        reason: t.reason,
        case_id: Some(t.case_id),
        to_agency: agency(directory, t.to_tenant),
        from_agency: None,
        payload: None,
        decline_reason: None,
        created_at: t.created_at,
        settled_at: t.settled_at,
        version: t.version,
    }
}

fn payload_response(p: Payload) -> TransferPayload {
    let contact = p.contact;
    TransferPayload {
        client: TransferClient {
            given_name: p.identity.given_name,
            family_name: p.identity.family_name,
            date_of_birth: p.identity.date_of_birth,
            gender: p.identity.gender.map(|g| g.as_str().to_owned()),
            preferred_language: p.identity.preferred_language,
            phone: contact.as_ref().and_then(|c| c.phone.clone()),
            email: contact.as_ref().and_then(|c| c.email.clone()),
            address: contact.as_ref().and_then(|c| c.address.clone()),
            safe_contact: contact.and_then(|c| c.safe_contact).map(|s| SafeContactDto {
                ok_to_call: s.ok_to_call,
                ok_to_text: s.ok_to_text,
                ok_to_voicemail: s.ok_to_voicemail,
                notes: s.notes,
            }),
        },
        victimization_types: p.victimization_types.iter().map(|t| t.as_str().to_owned()).collect(),
        risk_level: p.risk_level.map(|r| r.as_str().to_owned()),
        safety_plan: p.safety_plan.map(|plan| TransferSafetyPlan {
            steps: plan.steps,
            emergency_contacts: plan
                .emergency_contacts
                .into_iter()
                .map(|c| EmergencyContactDto { name: c.name, phone: c.phone })
                .collect(),
            safe_places: plan.safe_places,
            notes: plan.notes,
            review_on: plan.review_on,
        }),
        restricted: p.restricted,
    }
}

pub(super) fn incoming_response(t: Incoming, directory: &[tenants::Tenant]) -> TransferResponse {
    TransferResponse {
        id: t.id,
        direction: Direction::Incoming.as_str().to_owned(),
        status: t.status.as_str().to_owned(),
        include: part_names(&t.include),
        reason: t.reason,
        case_id: t.case_id,
        to_agency: None,
        from_agency: agency(directory, t.from_tenant),
        payload: t.payload.map(payload_response),
        decline_reason: t.decline_reason,
        created_at: t.created_at,
        settled_at: t.settled_at,
        version: t.version,
    }
}
