//! Idempotent creates. With an `Idempotency-Key`, the first request's response is stored in the
//! same transaction as its effect; a retry with the same key and body replays it (same status,
//! body and `Location`), the same key with another body answers 422, and a duplicate arriving
//! while the first is still running answers 409.

use actix_web::HttpResponse;
use actix_web::http::StatusCode;
use actix_web::http::header;
use domain::authz::Actor;
use domain::idempotency::IdempotencyKey;
use infra::db::{Db, TenantTx, begin_tenant_tx};
use infra::store::idempotency::{self as store, Prior, StoredResponse};
use sha2::{Digest, Sha256};

use crate::error::ApiError;
use crate::extract::IdempotencyHeader;

/// A create in progress, with its key if the client sent one.
#[derive(Debug)]
pub struct Idempotent {
    key: Option<(IdempotencyKey, Vec<u8>)>,
}

/// What to do after [`Idempotent::begin`].
#[derive(Debug)]
pub enum Begun {
    /// Do the work in this transaction.
    Proceed(TenantTx),
    /// Answer with the stored response.
    Replay(HttpResponse),
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
    #[must_use]
    pub fn new(body: &impl serde::Serialize, location: String) -> Self {
        Self {
            status: StatusCode::CREATED,
            body: serde_json::to_value(body).unwrap_or_default(),
            location: Some(location),
            version: None,
        }
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
    /// Fingerprints the request (caller, operation and body, secrets removed).
    #[must_use]
    pub fn new(header: IdempotencyHeader, actor: &Actor, operation: &str, body: &impl serde::Serialize) -> Self {
        let key = header.0.map(|key| {
            let canonical = without_secrets(serde_json::to_value(body).unwrap_or_default()).to_string();
            let mut hasher = Sha256::new();
            hasher.update(actor.user_id.as_uuid().as_bytes());
            hasher.update(operation.as_bytes());
            hasher.update([0]);
            hasher.update(canonical.as_bytes());
            (key, hasher.finalize().to_vec())
        });
        Self { key }
    }

    /// Opens the caller's tenant transaction, or answers from an earlier use of the key.
    ///
    /// # Errors
    /// 422 when the key was used for another request; 409 while a duplicate is in flight.
    pub async fn begin(&self, db: &Db, actor: &Actor) -> Result<Begun, ApiError> {
        let tx = begin_tenant_tx(db, actor).await?;
        let Some((key, hash)) = &self.key else { return Ok(Begun::Proceed(tx)) };
        // A duplicate arriving while the first is still running is told to retry, not queued.
        if !store::try_lock(&tx, key).await? {
            return Err(ApiError::Conflict(
                "A request with this Idempotency-Key is in flight; retry shortly.".to_owned(),
            ));
        }
        match store::find(&tx, key, hash).await? {
            Prior::None => Ok(Begun::Proceed(tx)),
            Prior::Mismatch => Err(ApiError::IdempotencyKeyReused),
            Prior::Replay(stored) => {
                tx.commit().await?;
                let mut response = HttpResponse::build(StatusCode::from_u16(stored.status).unwrap_or(StatusCode::OK));
                if let Some(location) = stored.location {
                    response.insert_header((header::LOCATION, location));
                }
                response.insert_header(("Idempotent-Replayed", "true"));
                Ok(Begun::Replay(response.content_type("application/json").body(stored.body)))
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
            store::record(&tx, key, actor.user_id, hash.clone(), &stored);
        }
        tx.commit().await?;
        Ok(created.into_response())
    }
}
