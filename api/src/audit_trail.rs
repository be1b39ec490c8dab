//! Building audit entries from a request: who (the actor), from where (address, request id).

use domain::authz::Actor;
use infra::store::audit::AuditEntry;
use uuid::Uuid;

use crate::extract::RequestMeta;

/// An entry for `action` by `actor` on `resource_type`/`resource_id`. `details` must hold ids and
/// fixed words only.
#[must_use]
pub fn entry(
    actor: &Actor,
    meta: &RequestMeta,
    action: &'static str,
    resource_type: &'static str,
    resource_id: Option<Uuid>,
    details: serde_json::Value,
) -> AuditEntry {
    AuditEntry {
        actor_id: Some(actor.user_id.as_uuid()),
        action,
        resource_type,
        resource_id,
        client_ip: meta.client_ip.clone(),
        request_id: meta.request_id.clone(),
        details,
    }
}
