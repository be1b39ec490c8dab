//! HTTP resources, one module per resource. Handlers read top to bottom: extract, parse into
//! domain values, ask `domain::authz`, run one tenant transaction through `infra`, map the result.

pub mod aggregates;
pub mod audit;
pub mod auth;
pub mod case_records;
pub mod cases;
pub mod clients;
pub mod embedding;
pub mod events;
pub mod mfa;
pub mod ops;
pub mod organizations;
pub mod passkeys;
pub mod passwords;
pub mod programs;
pub mod reference;
pub mod referrals;
pub mod reports;
pub mod sessions;
pub mod settings;
pub mod tasks;
pub mod tenants;
pub mod transfers;
pub mod users;
pub mod vqrp;
pub mod vqrp_rules;

use domain::authz::{Action, Actor, Decision, may};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use utoipa_actix_web::service_config::ServiceConfig;

use crate::error::ApiError;

/// Registers every `/api/v1` handler (through `service`, so the OpenAPI document sees them all).
pub fn configure_v1(cfg: &mut ServiceConfig<'_>) {
    cfg.service(auth::login)
        .service(auth::refresh)
        .service(auth::logout)
        .service(auth::me)
        .service(passwords::change_password)
        .service(passwords::redeem_password_reset)
        .service(passwords::issue_password_reset)
        .service(sessions::list_my_sessions)
        .service(sessions::end_my_session)
        .service(sessions::end_user_sessions)
        .service(mfa::enrol_totp)
        .service(mfa::confirm_totp)
        .service(mfa::remove_totp)
        .service(mfa::complete_mfa)
        .service(mfa::remove_user_mfa)
        .service(passkeys::begin_registration)
        .service(passkeys::finish_registration)
        .service(passkeys::list_passkeys)
        .service(passkeys::remove_passkey)
        .service(passkeys::begin_sign_in)
        .service(passkeys::complete_sign_in)
        .service(vqrp::create_application)
        .service(vqrp::list_applications)
        .service(vqrp::get_application)
        .service(vqrp::submit_application)
        .service(vqrp::withdraw_application)
        .service(vqrp::decide_application)
        .service(vqrp::record_payment)
        .service(transfers::list_agencies)
        .service(transfers::create_transfer)
        .service(transfers::list_transfers)
        .service(transfers::get_transfer)
        .service(transfers::accept_transfer)
        .service(transfers::decline_transfer)
        .service(transfers::withdraw_transfer)
        .service(vqrp_rules::list_rules)
        .service(tasks::create_task)
        .service(tasks::list_tasks)
        .service(tasks::get_task)
        .service(tasks::update_task)
        .service(vqrp_rules::add_rules)
        .service(tenants::create_tenant)
        .service(tenants::list_tenants)
        .service(tenants::get_tenant)
        .service(tenants::update_tenant)
        .service(reference::create_police_service)
        .service(reference::list_police_services)
        .service(reference::create_police_division)
        .service(reference::list_police_divisions)
        .service(users::create_user)
        .service(users::list_users)
        .service(users::get_user)
        .service(users::update_user)
        .service(users::confirm_supervisor)
        .service(audit::list_audit_events)
        .service(audit::verify_audit_events)
        .service(programs::create_program)
        .service(programs::list_programs)
        .service(programs::get_program)
        .service(organizations::create_organization)
        .service(organizations::list_organizations)
        .service(organizations::get_organization)
        .service(clients::create_client)
        .service(clients::search_clients)
        .service(clients::get_client)
        .service(clients::update_client)
        .service(cases::create_case)
        .service(cases::list_cases)
        .service(cases::get_case)
        .service(cases::update_case)
        .service(cases::close_case)
        .service(cases::reopen_case)
        .service(cases::get_case_access_log)
        .service(case_records::notes::create_note)
        .service(case_records::notes::list_notes)
        .service(case_records::notes::create_note_amendment)
        .service(case_records::services::create_service)
        .service(case_records::services::list_services)
        .service(case_records::consents::create_consent)
        .service(case_records::consents::list_consents)
        .service(case_records::consents::create_outbound_referral)
        .service(case_records::consents::list_outbound_referrals)
        .service(case_records::assessments::create_risk_assessment)
        .service(case_records::assessments::list_risk_assessments)
        .service(case_records::safety_plan::put_safety_plan)
        .service(case_records::safety_plan::get_safety_plan)
        .service(case_records::children::create_child)
        .service(case_records::children::list_children)
        .service(embedding::create_posting)
        .service(embedding::list_postings)
        .service(embedding::create_shift)
        .service(embedding::list_shifts)
        .service(embedding::delete_shift)
        .service(embedding::get_on_duty)
        .service(settings::get_settings)
        .service(settings::update_settings)
        .service(referrals::create_referral)
        .service(referrals::list_referrals)
        .service(referrals::get_referral)
        .service(referrals::accept_referral)
        .service(referrals::create_contact_attempt)
        .service(referrals::convert_referral)
        .service(events::stream_events)
        .service(aggregates::get_aggregates)
        .service(reports::create_report)
        .service(reports::list_reports)
        .service(reports::get_report)
        .service(reports::submit_report)
        .service(reports::accept_report)
        .service(reports::return_report);
}

/// Refuses the caller unless `domain::authz` allows the action.
///
/// # Errors
/// [`ApiError::Forbidden`] when it does not.
pub fn authorize(actor: &Actor, action: Action) -> Result<(), ApiError> {
    match may(actor, action) {
        Decision::Allow => Ok(()),
        Decision::Forbidden => Err(ApiError::Forbidden),
    }
}

/// `?limit=&cursor=` of every list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Parses both parameters.
    ///
    /// # Errors
    /// 422 naming `limit` or `cursor`.
    pub fn parse(&self) -> Result<(domain::paging::PageLimit, Option<uuid::Uuid>), ApiError> {
        let mut errors = domain::ValidationErrors::default();
        let limit = errors.check("limit", domain::paging::PageLimit::parse(self.limit));
        let cursor = match self.cursor.as_deref().filter(|c| !c.is_empty()) {
            // An empty `cursor=` is the first page, as an absent one is.
            None => Some(None),
            Some(raw) => errors.check("cursor", domain::paging::Cursor::decode(raw)).map(|c| Some(c.after)),
        };
        errors.finish(|| Some((limit?, cursor?))).map_err(ApiError::from)
    }
}

/// A page of items.
#[derive(Debug, Serialize, ToSchema)]
pub struct Page<T: ToSchema> {
    /// The items of this page.
    pub items: Vec<T>,
    /// Pass as `cursor` for the next page; null on the last page.
    pub next_cursor: Option<String>,
}
