//! Clients: the people an agency helps. Every read is audited in the same transaction; personal
//! fields are encrypted at rest; search is exact and case-insensitive through blind indexes.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::NaiveDate;
use domain::ValidationErrors;
use domain::audit::actions;
use domain::authz::{Action, CaseScope};
use domain::person::{self, Gender, SafeContact};
use infra::db::begin_tenant_tx;
use infra::store::audit;
use infra::store::clients::{self, Client, ClientFields, ClientSearch};
use serde::{Deserialize, Deserializer, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::{Page, PageQuery, authorize};
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, IfMatch, RequestMeta, with_etag};
use crate::idempotency::{Begun, Created, Idempotent};
use crate::state::AppState;

/// How a person may be contacted safely.
#[derive(Clone, Debug, Default, Deserialize, Serialize, ToSchema)]
pub struct SafeContactDto {
    /// Calling is safe.
    pub ok_to_call: bool,
    /// Texting is safe.
    pub ok_to_text: bool,
    /// Leaving a voicemail is safe.
    pub ok_to_voicemail: bool,
    /// Anything else a worker must know before contacting (encrypted at rest).
    pub notes: Option<String>,
}

/// A new client. Everything but `gender` is encrypted at rest.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"given_name": "Ana", "family_name": "Silva", "date_of_birth": "1994-03-02", "gender": "woman",
    "phone": "+1 416 555 0199", "preferred_language": "Portuguese",
    "safe_contact": {"ok_to_call": true, "ok_to_text": false, "ok_to_voicemail": false, "notes": "Call after 6 pm only"}}))]
pub struct CreateClientRequest {
    /// Given name, trimmed; found later by exact, case-insensitive search.
    pub given_name: String,
    /// Family name, trimmed; omit when unknown.
    pub family_name: Option<String>,
    /// Date of birth as `YYYY-MM-DD`, from 1900-01-01 to today; omit when unknown.
    pub date_of_birth: Option<NaiveDate>,
    /// `woman`, `man`, `non_binary`, `two_spirit`, `another_gender` or `prefer_not_to_say`.
    pub gender: Option<String>,
    /// Phone number with 7 to 15 digits; `+`, spaces, dots, dashes and parentheses are allowed.
    pub phone: Option<String>,
    /// Email address, stored trimmed and lowercased; only kept on record, never used to sign in.
    #[schema(format = Email)]
    pub email: Option<String>,
    /// The language the client prefers, as free text (e.g. "Portuguese").
    pub preferred_language: Option<String>,
    /// Address as free text.
    pub address: Option<String>,
    /// How to contact the client safely; omit when not yet known.
    pub safe_contact: Option<SafeContactDto>,
}

/// Changes to a client. Absent fields stay; `null` clears an optional field.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[schema(example = json!({"phone": "+1 416 555 0100", "preferred_language": "Portuguese"}))]
pub struct UpdateClientRequest {
    /// New given name; omit to keep it (it cannot be cleared).
    pub given_name: Option<String>,
    /// New family name, or `null` to clear it; omit to keep it.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub family_name: Option<Option<String>>,
    /// New date of birth (`YYYY-MM-DD`, 1900-01-01 to today), or `null` to clear it; omit to keep it.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<NaiveDate>)]
    pub date_of_birth: Option<Option<NaiveDate>>,
    /// New gender, or `null` to clear it; omit to keep it.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub gender: Option<Option<String>>,
    /// New phone number (7 to 15 digits), or `null` to clear it; omit to keep it.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub phone: Option<Option<String>>,
    /// New email address, or `null` to clear it; omit to keep it.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(format = Email, max_length = 254, value_type = Option<String>)]
    pub email: Option<Option<String>>,
    /// New preferred language, or `null` to clear it; omit to keep it.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub preferred_language: Option<Option<String>>,
    /// New address, or `null` to clear it; omit to keep it.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    pub address: Option<Option<String>>,
    /// Replaces the whole safe-contact record, or `null` clears it; omit to keep it.
    #[serde(default, deserialize_with = "nullable", skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<SafeContactDto>)]
    pub safe_contact: Option<Option<SafeContactDto>>,
}

/// `Some(None)` for an explicit `null`, `None` (by `default`) when the field is absent.
pub(crate) fn nullable<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A client.
#[derive(Debug, Serialize, ToSchema)]
pub struct ClientResponse {
    /// The client's id, assigned by the server.
    pub id: uuid::Uuid,
    /// Given name (encrypted at rest, like every personal field here except `gender`).
    pub given_name: String,
    /// Family name; null when not recorded.
    pub family_name: Option<String>,
    /// Date of birth as `YYYY-MM-DD`; null when not recorded.
    pub date_of_birth: Option<NaiveDate>,
    /// Gender as the client describes it; null when not recorded. Not encrypted at rest.
    pub gender: Option<String>,
    /// Phone number as entered (trimmed); null when not recorded.
    pub phone: Option<String>,
    /// Email address, lowercased; null when not recorded.
    pub email: Option<String>,
    /// Preferred language as free text; null when not recorded.
    pub preferred_language: Option<String>,
    /// Address as free text; null when not recorded.
    pub address: Option<String>,
    /// How to contact the client safely; null when not recorded.
    pub safe_contact: Option<SafeContactDto>,
    /// Same as the `ETag`: send it back as `If-Match: "<version>"` to change the client. Goes up on every change.
    pub version: i32,
    /// When the client was recorded (UTC, set by the server).
    pub created_at: chrono::DateTime<chrono::Utc>,
    /// When the client was last changed (UTC); equal to `created_at` until the first change.
    pub updated_at: chrono::DateTime<chrono::Utc>,
}

impl From<Client> for ClientResponse {
    fn from(c: Client) -> Self {
        let f = c.fields;
        Self {
            id: c.id,
            given_name: f.given_name,
            family_name: f.family_name,
            date_of_birth: f.date_of_birth,
            gender: f.gender.map(|g| g.as_str().to_owned()),
            phone: f.phone,
            email: f.email,
            preferred_language: f.preferred_language,
            address: f.address,
            safe_contact: f.safe_contact.map(|s| SafeContactDto {
                ok_to_call: s.ok_to_call,
                ok_to_text: s.ok_to_text,
                ok_to_voicemail: s.ok_to_voicemail,
                notes: s.notes,
            }),
            version: c.version,
            created_at: c.created_at,
            updated_at: c.updated_at,
        }
    }
}

/// Exact-match search on names and date of birth (case-insensitive for names).
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClientQuery {
    /// Given name, matched exactly ignoring case and extra spaces.
    pub given_name: Option<String>,
    /// Family name, matched exactly ignoring case and extra spaces.
    pub family_name: Option<String>,
    /// Date of birth as `YYYY-MM-DD`, matched exactly.
    pub date_of_birth: Option<NaiveDate>,
}

fn safe_contact(e: &mut ValidationErrors, field: &str, dto: Option<&SafeContactDto>) -> Option<SafeContact> {
    let dto = dto?;
    let notes = dto
        .notes
        .as_deref()
        .and_then(|n| e.check(&format!("{field}.notes"), person::free_text(n, domain::validation::limits::REASON)));
    Some(SafeContact {
        ok_to_call: dto.ok_to_call,
        ok_to_text: dto.ok_to_text,
        ok_to_voicemail: dto.ok_to_voicemail,
        notes,
    })
}

/// A client's fields as sent, before checking.
struct RawClient<'a> {
    given_name: &'a str,
    family_name: Option<&'a str>,
    date_of_birth: Option<NaiveDate>,
    gender: Option<&'a str>,
    phone: Option<&'a str>,
    email: Option<&'a str>,
    preferred_language: Option<&'a str>,
    address: Option<&'a str>,
    safe_contact: Option<&'a SafeContactDto>,
}

/// Checks every field of a client, collecting all errors.
fn check_fields(e: &mut ValidationErrors, raw: &RawClient<'_>) -> Option<ClientFields> {
    let today = chrono::Utc::now().date_naive();
    let given = e.check("given_name", person::name(raw.given_name));
    let family = raw.family_name.map(|n| e.check("family_name", person::name(n)));
    let dob = raw.date_of_birth.map(|d| e.check("date_of_birth", person::date_of_birth(d, today)));
    let gender = raw.gender.map(|g| e.check("gender", Gender::parse(g)));
    let phone = raw.phone.map(|p| e.check("phone", person::phone(p)));
    let email = raw.email.map(|m| e.check("email", person::email(m)));
    let language = raw
        .preferred_language
        .map(|l| e.check("preferred_language", person::free_text(l, domain::validation::limits::SHORT_LABEL)));
    let address = raw.address.map(|a| e.check("address", person::free_text(a, domain::validation::limits::PLAN_ITEM)));
    let safe = safe_contact(e, "safe_contact", raw.safe_contact);
    if !e.is_empty() {
        return None;
    }
    Some(ClientFields {
        given_name: given?,
        family_name: family.flatten(),
        date_of_birth: dob.flatten(),
        gender: gender.flatten(),
        phone: phone.flatten(),
        email: email.flatten(),
        preferred_language: language.flatten(),
        address: address.flatten(),
        safe_contact: safe,
    })
}

impl CreateClientRequest {
    fn try_into_domain(&self) -> Result<ClientFields, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let raw = RawClient {
            given_name: &self.given_name,
            family_name: self.family_name.as_deref(),
            date_of_birth: self.date_of_birth,
            gender: self.gender.as_deref(),
            phone: self.phone.as_deref(),
            email: self.email.as_deref(),
            preferred_language: self.preferred_language.as_deref(),
            address: self.address.as_deref(),
            safe_contact: self.safe_contact.as_ref(),
        };
        let fields = check_fields(&mut e, &raw);
        e.finish(|| fields)
    }
}

impl UpdateClientRequest {
    /// The client's fields after this change.
    fn apply(&self, current: &ClientFields) -> Result<ClientFields, ValidationErrors> {
        let pick = |change: &Option<Option<String>>, now: &Option<String>| match change {
            Some(value) => value.clone(),
            None => now.clone(),
        };
        let gender_now = current.gender.map(|g| g.as_str().to_owned());
        let safe_now = current.safe_contact.as_ref().map(|s| SafeContactDto {
            ok_to_call: s.ok_to_call,
            ok_to_text: s.ok_to_text,
            ok_to_voicemail: s.ok_to_voicemail,
            notes: s.notes.clone(),
        });
        let safe = match &self.safe_contact {
            Some(value) => value.clone(),
            None => safe_now,
        };
        let mut e = ValidationErrors::default();
        let (family, gender, phone, email, language, address) = (
            pick(&self.family_name, &current.family_name),
            pick(&self.gender, &gender_now),
            pick(&self.phone, &current.phone),
            pick(&self.email, &current.email),
            pick(&self.preferred_language, &current.preferred_language),
            pick(&self.address, &current.address),
        );
        let raw = RawClient {
            given_name: self.given_name.as_deref().unwrap_or(&current.given_name),
            family_name: family.as_deref(),
            date_of_birth: self.date_of_birth.unwrap_or(current.date_of_birth),
            gender: gender.as_deref(),
            phone: phone.as_deref(),
            email: email.as_deref(),
            preferred_language: language.as_deref(),
            address: address.as_deref(),
            safe_contact: safe.as_ref(),
        };
        let fields = check_fields(&mut e, &raw);
        e.finish(|| fields)
    }
}

/// Record a client.
///
/// Records a person the agency helps. Names, date of birth, contact details, address and safe-contact notes are
/// encrypted at rest. Supervisors and case managers only. Audited.
#[utoipa::path(
    tag = "clients",
    operation_id = "create_client",
    request_body = CreateClientRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters.")),
    responses(
        (status = 201, description = "Created", body = ClientResponse, headers(("Location" = String, description = "The new client"), ("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/clients")]
pub async fn create_client(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    body: web::Json<CreateClientRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let fields = body.try_into_domain()?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let idempotent = Idempotent::new(idempotency, &actor, "create_client", &*body)?;
    let tx = match idempotent.begin(&state, &actor, &meta).await? {
        Begun::Replay(replay) => {
            // The client may have been hidden from the caller since (a restricted case).
            clients::get(replay.tx(), &cipher, replay.resource_id()?, CaseScope::of(&actor)).await?;
            return replay.answer().await;
        }
        Begun::Proceed(tx) => tx,
    };
    let client = clients::insert(&tx, &cipher, &fields).await?;
    audit::record(&tx, entry(&actor, &meta, actions::CLIENT_CREATED, "client", Some(client.id), serde_json::json!({})))
        .await?;
    let location = format!("/api/v1/clients/{}", client.id);
    let version = client.version;
    let response = idempotent
        .finish(tx, &actor, Created::new(&ClientResponse::from(client), location)?.with_etag(version))
        .await?;
    Ok(response)
}

/// Find clients.
///
/// Exact, case-insensitive search by given name, family name and/or date of birth (at least one), through keyed
/// blind indexes: personal fields are never decrypted to search. Clients whose every case is hidden from the caller
/// are hidden too. Each result is an audited read.
#[utoipa::path(
    tag = "clients",
    operation_id = "search_clients",
    params(ClientQuery, PageQuery),
    responses(
        (status = 200, description = "Matching clients (each read is audited)", body = Page<ClientResponse>),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "No criterion, or a bad one", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients")]
pub async fn search_clients(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    query: web::Query<ClientQuery>,
    page: web::Query<PageQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let (limit, after) = page.parse()?;
    let mut e = ValidationErrors::default();
    let given = query.given_name.as_deref().and_then(|n| e.check("given_name", person::name(n)));
    let family = query.family_name.as_deref().and_then(|n| e.check("family_name", person::name(n)));
    if e.is_empty() && given.is_none() && family.is_none() && query.date_of_birth.is_none() {
        e.add("given_name", "give at least one of given_name, family_name, date_of_birth");
    }
    e.finish(|| Some(()))?;
    let search = ClientSearch { given_name: given, family_name: family, date_of_birth: query.date_of_birth };
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let (found, more) = clients::search(&tx, &cipher, &search, CaseScope::of(&actor), after, limit.get()).await?;
    let reads = found
        .iter()
        .map(|c| {
            entry(&actor, &meta, actions::CLIENT_READ, "client", Some(c.id), serde_json::json!({ "via": "search" }))
        })
        .collect();
    audit::record_many(&tx, reads).await?;
    tx.commit().await?;
    // The cursor names the last client of this page, which the caller has just been shown.
    let next_cursor = if more { found.last().map(|c| domain::paging::Cursor { after: c.id }.encode()) } else { None };
    Ok(HttpResponse::Ok().json(Page { items: found.into_iter().map(ClientResponse::from).collect(), next_cursor }))
}

/// Read a client.
///
/// Supervisors and case managers; a client whose every case is restricted from the caller answers `404`. Audited
/// read, with the `ETag` for `If-Match`.
#[utoipa::path(
    tag = "clients",
    operation_id = "get_client",
    params(("id" = uuid::Uuid, Path, description = "Client id")),
    responses(
        (status = 200, description = "The client (the read is audited)", body = ClientResponse, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/clients/{id}")]
pub async fn get_client(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let client = clients::get(&tx, &cipher, path.into_inner(), CaseScope::of(&actor)).await?;
    audit::record(&tx, entry(&actor, &meta, actions::CLIENT_READ, "client", Some(client.id), serde_json::json!({})))
        .await?;
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), client.version, &ClientResponse::from(client)))
}

/// Change a client.
///
/// Changes the fields sent. Requires `If-Match` with the ETag last read: without it `428`, stale `412`. Audited.
#[utoipa::path(
    tag = "clients",
    operation_id = "update_client",
    request_body = UpdateClientRequest,
    params(
        ("id" = uuid::Uuid, Path, description = "Client id"),
        ("If-Match" = String, Header, description = "The ETag last read"),
    ),
    responses(
        (status = 200, description = "Updated", body = ClientResponse, headers(("ETag" = String, description = "New version"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/clients/{id}")]
pub async fn update_client(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    if_match: IfMatch,
    body: web::Json<UpdateClientRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = begin_tenant_tx(&state.db, &actor).await?;
    let current = clients::get(&tx, &cipher, path.into_inner(), CaseScope::of(&actor)).await?;
    let version = if_match.version()?;
    if current.version != version {
        return Err(ApiError::PreconditionFailed);
    }
    let fields = body.apply(&current.fields)?;
    let client = clients::update(&tx, &cipher, current.id, version, &fields).await?;
    let event = entry(
        &actor,
        &meta,
        actions::CLIENT_UPDATED,
        "client",
        Some(client.id),
        serde_json::json!({ "version": client.version }),
    );
    audit::record(&tx, event).await?;
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), client.version, &ClientResponse::from(client)))
}
