//! What tests build their scenes from: clients, cases, shifts and referrals made over HTTP as a
//! worker would, each asserting its own success. Agencies and users are on [`TestApp`] itself
//! (`create_agency`, `create_user`). Add a fixture here when a second test module needs it.

use chrono::{Duration, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Agency, Session, TestApp};

/// Records a client with `body` as `token`'s user.
pub async fn create_client(app: &TestApp, token: &str, body: &Value) -> Value {
    app.post::<Value>("/api/v1/clients", Some(token), body, StatusCode::CREATED).await
}

/// Opens a case (on a new client) as `worker`, with `extra` fields over the defaults.
pub async fn open_case(app: &TestApp, worker: &Session, extra: Value) -> Value {
    let client =
        create_client(app, &worker.access_token, &json!({"given_name": "Case", "family_name": "Client"})).await;
    let mut body = json!({"client_id": client["id"], "victimization_types": ["intimate_partner_violence"], "referral_source": "police"});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    app.post::<Value>("/api/v1/cases", Some(&worker.access_token), &body, StatusCode::CREATED).await
}

/// Puts `worker` on duty at `division` from an hour ago to seven hours from now.
pub async fn on_shift(app: &TestApp, agency: &Agency, worker: &Session, division: Uuid) -> Value {
    let now = Utc::now();
    let body = json!({"user_id": worker.user_id, "division_id": division, "starts_at": now - Duration::hours(1), "ends_at": now + Duration::hours(7)});
    app.post::<Value>("/api/v1/shifts", Some(&agency.admin.access_token), &body, StatusCode::CREATED).await
}

/// A referral at `division` of a person who did (or did not) consent to be contacted.
pub fn referral_body(division: Uuid, consent: bool) -> Value {
    json!({"division_id": division, "victimization_types": ["human_trafficking_sexual"], "urgency": "immediate",
           "occurrence_number": "TPS-2026-4471", "consent_to_contact": consent, "children_involved": false,
           "person": {"given_name": "Marisol", "family_name": "Vantongeren", "phone": "416-555-0177",
                      "safe_contact": {"ok_to_call": true, "ok_to_text": false, "ok_to_voicemail": false, "notes": "Use a blocked number"}}})
}
