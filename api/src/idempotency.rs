//! Idempotent creates. With an `Idempotency-Key`, the first request's response is stored in the
//! same transaction as its effect; a retry with the same key and body replays it (same status,
//! body and `Location`), the same key with another body answers 422, and a duplicate arriving
//! while the first is still running answers 409.
//!
//! A replay shows what the first answer showed, so it is treated as a read of it: the handler's
//! role check has run before [`Idempotent::begin`], a handler whose records can be hidden checks
//! the record is still visible to the caller ([`Replay::tx`], [`Replay::resource_id`]), and
//! [`Replay::answer`] writes a `request.replayed` audit event on the record in the same
//! transaction. The stored answer is sealed with the tenant's key (`infra::store::idempotency`).

use std::sync::Arc;

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use domain::audit::actions;
use domain::authz::Actor;
use domain::idempotency::IdempotencyKey;
use infra::crypto::TenantCipher;
use infra::db::{TenantTx, begin_tenant_tx};
use infra::store::audit;
use infra::store::idempotency::{self as store, Prior, StoredResponse};
use sha2::{Digest, Sha256};

use crate::audit_trail::entry;
use crate::error::ApiError;
use crate::extract::{IdempotencyHeader, RequestMeta};
use crate::state::AppState;

/// A create in progress, with its key if the client sent one.
#[derive(Debug)]
pub struct Idempotent {
    key: Option<(IdempotencyKey, Vec<u8>)>,
    operation: &'static str,
    /// The record a replay shows, for its audit event: the kind, and the id when it is not the
    /// last segment of the stored `Location`.
    shows: (&'static str, Option<uuid::Uuid>),
    /// For a record on a case: which record, named as the case's access log names it.
    record: Option<&'static str>,
    /// The tenant's cipher, taken by `begin` before its transaction (loading it uncached takes a
    /// transaction of its own, which on SQLite would wait for this one), for `finish` to seal with.
    cipher: std::sync::OnceLock<Arc<TenantCipher>>,
}

/// What to do after [`Idempotent::begin`].
#[derive(Debug)]
pub enum Begun {
    /// Do the work in this transaction.
    Proceed(TenantTx),
    /// Answer with the stored response, once any visibility check has passed:
    /// [`Replay::answer`].
    Replay(Box<Replay>),
}

/// A stored answer about to be sent again, in the transaction that audits it.
#[derive(Debug)]
pub struct Replay {
    tx: TenantTx,
    stored: StoredResponse,
    audit: infra::store::audit::AuditEntry,
}

impl Replay {
    /// The transaction, for a visibility check before answering.
    #[must_use]
    pub fn tx(&self) -> &TenantTx {
        &self.tx
    }

    /// The id of the record the stored answer shows.
    ///
    /// # Errors
    /// 500 when the stored answer names no record (a create always does).
    pub fn resource_id(&self) -> Result<uuid::Uuid, ApiError> {
        self.audit.resource_id.ok_or_else(|| ApiError::Internal("stored answer names no record".to_owned()))
    }

    /// Audits the replay as a read of the record and sends the stored answer again.
    ///
    /// # Errors
    /// When the audit event cannot be written or the transaction committed: nothing is sent.
    pub async fn answer(self: Box<Self>) -> Result<HttpResponse, ApiError> {
        let Self { tx, stored, audit: event } = *self;
        audit::record(&tx, event).await?;
        tx.commit().await?;
        let status = StatusCode::from_u16(stored.status)
            .map_err(|_| ApiError::Internal(format!("stored status {} unreadable", stored.status)))?;
        let mut response = HttpResponse::build(status);
        if let Some(location) = stored.location {
            response.insert_header((header::LOCATION, location));
        }
        response.insert_header(("Idempotent-Replayed", "true"));
        Ok(response.content_type("application/json").body(stored.body))
    }
}

/// A response to send and, with a key, to store.
#[derive(Debug)]
pub struct Created {
    /// The status, normally 201.
    pub status: StatusCode,
    /// The JSON body.
    pub body: serde_json::Value,
    /// The new resource's path.
    pub location: Option<String>,
    /// The new resource's version, sent as its `ETag` (not stored: a replay answers without it).
    pub version: Option<i32>,
}

impl Created {
    /// A 201 with `Location`.
    ///
    /// # Errors
    /// 500 when the body does not serialise (never sent half-made, never stored as a guess).
    pub fn new(body: &impl serde::Serialize, location: String) -> Result<Self, ApiError> {
        let body =
            serde_json::to_value(body).map_err(|e| ApiError::Internal(format!("response unserialisable: {e}")))?;
        Ok(Self { status: StatusCode::CREATED, body, location: Some(location), version: None })
    }

    /// Also sends the new resource's `ETag`.
    #[must_use]
    pub fn with_etag(mut self, version: i32) -> Self {
        self.version = Some(version);
        self
    }

    fn into_response(self) -> HttpResponse {
        let mut response = HttpResponse::build(self.status);
        if let Some(location) = &self.location {
            response.insert_header((header::LOCATION, location.clone()));
        }
        if let Some(version) = self.version {
            response.insert_header((header::ETAG, crate::extract::etag(version)));
        }
        response.json(self.body)
    }
}

/// Removes secrets before hashing a request: a fast hash of a password must never be stored.
fn without_secrets(mut value: serde_json::Value) -> serde_json::Value {
    match &mut value {
        serde_json::Value::Object(map) => {
            map.remove("password");
            for v in map.values_mut() {
                *v = without_secrets(v.take());
            }
        }
        serde_json::Value::Array(items) => {
            for v in items.iter_mut() {
                *v = without_secrets(v.take());
            }
        }
        _ => {}
    }
    value
}

impl Idempotent {
    /// Fingerprints the request (caller, operation and body, secrets removed). `operation` is
    /// `create_<kind>` (or `<verb>_<kind>`): a replay is audited on the record of that kind whose
    /// id ends the stored `Location`.
    ///
    /// # Errors
    /// 500 when the body does not serialise.
    pub fn new(
        header: IdempotencyHeader,
        actor: &Actor,
        operation: &'static str,
        body: &impl serde::Serialize,
    ) -> Result<Self, ApiError> {
        let key = match header.0 {
            None => None,
            Some(key) => {
                let value = serde_json::to_value(body)
                    .map_err(|e| ApiError::Internal(format!("request unserialisable: {e}")))?;
                let canonical = without_secrets(value).to_string();
                let mut hasher = Sha256::new();
                hasher.update(actor.user_id.as_uuid().as_bytes());
                hasher.update(operation.as_bytes());
                hasher.update([0]);
                hasher.update(canonical.as_bytes());
                Some((key, hasher.finalize().to_vec()))
            }
        };
        let kind = operation.split_once('_').map_or(operation, |(_, kind)| kind);
        Ok(Self { key, operation, shows: (kind, None), record: None, cipher: std::sync::OnceLock::new() })
    }

    /// A replay is audited on this record rather than the one at the stored `Location`.
    #[must_use]
    pub fn showing(mut self, kind: &'static str, id: uuid::Uuid) -> Self {
        self.shows = (kind, Some(id));
        self
    }

    /// For a record kept on a case: a replay is audited as a read of the case, naming `record`.
    #[must_use]
    pub fn on_case(mut self, case_id: uuid::Uuid, record: &'static str) -> Self {
        self.record = Some(record);
        self.showing("case", case_id)
    }

    /// Opens the caller's tenant transaction, or answers from an earlier use of the key.
    ///
    /// # Errors
    /// 422 when the key was used for another request; 409 while a duplicate is in flight.
    pub async fn begin(&self, state: &AppState, actor: &Actor, meta: &RequestMeta) -> Result<Begun, ApiError> {
        if self.key.is_none() {
            return Ok(Begun::Proceed(begin_tenant_tx(&state.db, actor).await?));
        }
        let cipher = state.cipher(actor.tenant_id).await?;
        let tx = begin_tenant_tx(&state.db, actor).await?;
        self.begin_in(tx, &cipher, actor, meta).await
    }

    /// [`Idempotent::begin`] in a transaction the caller opened (after checking what the record
    /// hangs on, so a replay is refused exactly when a first request would be).
    ///
    /// # Errors
    /// As [`Idempotent::begin`].
    pub async fn begin_in(
        &self,
        tx: TenantTx,
        cipher: &Arc<TenantCipher>,
        actor: &Actor,
        meta: &RequestMeta,
    ) -> Result<Begun, ApiError> {
        let Some((key, hash)) = &self.key else { return Ok(Begun::Proceed(tx)) };
        let _ = self.cipher.set(Arc::clone(cipher));
        // A duplicate arriving while the first is still running is told to retry, not queued.
        if !store::try_lock(&tx, cipher, key).await? {
            return Err(ApiError::Conflict(
                "A request with this Idempotency-Key is in flight; retry shortly.".to_owned(),
            ));
        }
        match store::find(&tx, cipher, key, hash).await? {
            Prior::None => Ok(Begun::Proceed(tx)),
            Prior::Mismatch => Err(ApiError::IdempotencyKeyReused),
            Prior::Replay(stored) => {
                let (kind, id) = self.shows;
                let id = id.or_else(|| {
                    let last = stored.location.as_deref()?.rsplit('/').next()?;
                    uuid::Uuid::parse_str(last).ok()
                });
                let mut details = serde_json::json!({ "operation": self.operation });
                if let Some(record) = self.record {
                    details["record"] = record.into();
                }
                let audit = entry(actor, meta, actions::REQUEST_REPLAYED, kind, id, details);
                Ok(Begun::Replay(Box::new(Replay { tx, stored, audit })))
            }
        }
    }

    /// Stores the response (with a key), commits, and returns the response.
    ///
    /// # Errors
    /// When storing or committing fails; the effect is then rolled back too.
    pub async fn finish(&self, tx: TenantTx, actor: &Actor, created: Created) -> Result<HttpResponse, ApiError> {
        if let Some((key, hash)) = &self.key {
            let stored = StoredResponse {
                status: created.status.as_u16(),
                body: created.body.to_string(),
                location: created.location.clone(),
            };
            let cipher = self
                .cipher
                .get()
                .ok_or_else(|| ApiError::Internal("idempotent create finished before begin".to_owned()))?;
            store::record(&tx, cipher, key, actor.user_id, hash.clone(), &stored)?;
        }
        tx.commit().await?;
        Ok(created.into_response())
    }
}
