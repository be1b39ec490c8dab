//! The demo's live work, written the way the routes write it: referrals in every state at 51
//! Division (one left to escalate), a case converted from a referral with notes, services (one
//! `vqrp_plus`), consents, a safety plan, VQRP+ applications from draft to paid and tasks (manual
//! and the platform's own), and a case sent to `demo-north` with the client's consent, pending.
//!
//! Each step calls the store functions its route calls, with the same audit entries, events and
//! system tasks (through `routes::tasks`' helpers). Where a route keeps a step's logic in its
//! handler (checks and fan-out around the stores), the minimum of it is reproduced here and says
//! which route it follows. Times are set back where the stores take them (a referral made 40
//! minutes ago), so the minutes to accept and to first contact are real-looking.

use chrono::{DateTime, Duration, NaiveDate, Utc};
use domain::UserId;
use domain::audit::actions;
use domain::authz::Actor;
use domain::case::{AmountCents, ConsentScope, ReferralSource, ServiceType, VictimizationType};
use domain::dispatch::{self, ContactOutcome, Urgency};
use domain::person::{Gender, SafeContact};
use domain::tasks::{SystemTask, TaskKind};
use domain::transfer::{self, Part};
use domain::user::Role;
use domain::vqrp::{self, Decision, Eligibility, Payee, ReportedTo};
use infra::TenantTx;
use infra::store::cases::{self, Case, NewCase};
use infra::store::clients::{self, CaseClient, ClientFields};
use infra::store::facts::Codes;
use infra::store::referrals::{self, NewReferral, Referral, ReferralPerson};
use infra::store::safety_plans::{self, EmergencyContact, PlanContent};
use infra::store::transfers::{self as transfer_store, NewTransfer};
use infra::store::vqrp::{self as vqrp_store, NewApplication, Transition};
use infra::store::{audit, case_records, consents, events, notes, reference, routing, tasks, users};

use super::people::{Demo, Tenant};
use super::{actor, meta};
use crate::audit_trail::entry;
use crate::routes::case_records::audit_change;
use crate::routes::tasks::{close_system_tasks, open_system_task};

/// A route helper's `ApiError` as the seeding's error.
fn api(e: crate::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

fn parse<T, E: std::fmt::Display>(r: Result<T, E>) -> anyhow::Result<T> {
    r.map_err(|e| anyhow::anyhow!("demo value: {e}"))
}

/// Seeds the live work of both agencies. `tx` is in `demo-agency`'s scope and is left there.
///
/// # Errors
/// When a store fails.
pub async fn seed(tx: &mut TenantTx, demo: &Demo) -> anyhow::Result<()> {
    let a = &demo.agency;
    let liaison = actor(a, a.user(Role::PoliceLiaison)?);
    let worker = actor(a, a.user(Role::CaseManager)?);
    let supervisor = actor(a, a.user(Role::Supervisor)?);
    let now = infra::db::now();
    let at51 = demo.divisions.d51.id;
    let minutes = Duration::minutes;

    // Pending, on the on-duty worker's plate; and an immediate one nobody took within the
    // agency's window, which the escalation sweeper escalates to supervisors at its next round.
    refer(tx, a, &liaison, at51, 1, Urgency::Routine, now - minutes(5)).await?;
    refer(tx, a, &liaison, at51, 2, Urgency::Immediate, now - minutes(40)).await?;
    // Accepted (its first contact is the worker's task), contacted, converted.
    let r = refer(tx, a, &liaison, at51, 3, Urgency::SameDay, now - minutes(90)).await?;
    accept(tx, a, &worker, r.id, now - minutes(78)).await?;
    let r = refer(tx, a, &liaison, at51, 4, Urgency::Immediate, now - minutes(100)).await?;
    accept(tx, a, &worker, r.id, now - minutes(96)).await?;
    contact(tx, a, &worker, r.id, ContactOutcome::Reached, now - minutes(70)).await?;
    let r = refer(tx, a, &liaison, at51, 5, Urgency::Immediate, now - minutes(115)).await?;
    accept(tx, a, &worker, r.id, now - minutes(109)).await?;
    contact(tx, a, &worker, r.id, ContactOutcome::NoAnswer, now - minutes(100)).await?;
    contact(tx, a, &worker, r.id, ContactOutcome::Reached, now - minutes(85)).await?;
    let case = convert(tx, a, &worker, r.id).await?;
    records(tx, a, &worker, &case).await?;
    applications(tx, a, &worker, &supervisor, &case).await?;

    // A case the client asked to move to demo-north: made directly, consented, sent.
    let case = open_case(tx, a, &worker, 6).await?;
    consent(tx, a, &worker, &case, ConsentScope::ShareWithOtherAgency, None).await?;
    send(tx, a, &worker, &case, &demo.north).await?;

    // demo-north: a referral its supervisor made at 14 Division, with the case manager on duty there.
    tx.switch_tenant(demo.north.id).await?;
    let north_supervisor = actor(&demo.north, demo.north.user(Role::Supervisor)?);
    refer(tx, &demo.north, &north_supervisor, demo.divisions.d14.id, 7, Urgency::SameDay, now - minutes(20)).await?;
    tx.switch_tenant(a.id).await?;
    Ok(())
}

/// As `routes::referrals::create_referral`: routed to the worker on duty at `at`, announced to
/// everyone on duty, audited.
async fn refer(
    tx: &TenantTx,
    t: &Tenant,
    by: &Actor,
    division: domain::PoliceDivisionId,
    n: u32,
    urgency: Urgency,
    at: DateTime<Utc>,
) -> anyhow::Result<Referral> {
    let routing = routing::of(tx, division, by.user_id, at).await?.ok_or_else(|| anyhow::anyhow!("no division"))?;
    let assigned_to = dispatch::choose_assignee(&routing.on_duty);
    let on_duty: Vec<UserId> = routing.on_duty.iter().map(|c| c.user_id).collect();
    let program = t.programs.first().ok_or_else(|| anyhow::anyhow!("no program"))?;
    let kinds = ["intimate_partner_violence", "human_trafficking_sexual", "sexual_assault"];
    let kind = kinds[usize::try_from(n).unwrap_or(0) % kinds.len()];
    let new = NewReferral {
        division_id: division,
        program_id: Some(program.id),
        created_by: by.user_id,
        occurrence_number: Some(format!("DEMO-{n:04}")),
        victimization_types: vec![parse(VictimizationType::parse(kind))?],
        urgency,
        person: person(n),
        consent_to_contact: true,
        children_involved: Some(n.is_multiple_of(3)),
        notes: Some("Synthetic demo note: met at the front desk of the division.".to_owned()),
        assigned_to,
        created_at: at,
        escalation_due_at: routing.windows.deadline(urgency, at),
        codes: Codes { program: Some(program.code.clone()), division: Some(routing.division_code.clone()) },
    };
    let referral = referrals::queue_insert(tx, &t.cipher, new)?;
    let payload = serde_json::json!({ "referral_id": referral.id, "division_id": division, "urgency": urgency.as_str(), "assigned_to": assigned_to });
    events::publish(tx, &on_duty, "referral.created", &payload).await?;
    let details = serde_json::json!({ "division_id": division, "assigned_to": assigned_to, "on_duty": on_duty.len() });
    audit::record(tx, entry(by, &meta(), "referral.created", "referral", Some(referral.id), details)).await?;
    Ok(referral)
}

fn person(n: u32) -> ReferralPerson {
    ReferralPerson {
        given_name: format!("Demo Client {n}"),
        family_name: Some("Synthetic".to_owned()),
        date_of_birth: NaiveDate::from_ymd_opt(1985 + i32::try_from(n % 20).unwrap_or(0), 1 + n % 12, 1 + n % 28),
        phone: Some(format!("416-555-01{:02}", n % 100)),
        email: None,
        preferred_language: Some("en".to_owned()),
        safe_contact: SafeContact {
            ok_to_call: true,
            ok_to_text: n.is_multiple_of(2),
            ok_to_voicemail: false,
            notes: Some("Synthetic demo note: call after 6 pm.".to_owned()),
        },
    }
}

/// As `routes::referrals::accept_referral`, at `at`.
async fn accept(tx: &TenantTx, t: &Tenant, by: &Actor, id: uuid::Uuid, at: DateTime<Utc>) -> anyhow::Result<()> {
    let referral = referrals::get(tx, Some(&t.cipher), id).await?;
    let next = parse(dispatch::accept(referral.status))?;
    let accepted = referrals::accept(tx, &t.cipher, &referral, next, by.user_id, at).await?;
    let payload = serde_json::json!({ "referral_id": referral.id, "accepted_by": by.user_id });
    let mut recipients = vec![referral.created_by];
    recipients.extend(referral.assigned_to.filter(|a| *a != by.user_id));
    events::publish(tx, &recipients, "referral.accepted", &payload).await?;
    audit::record(tx, entry(by, &meta(), "referral.accepted", "referral", Some(id), serde_json::json!({}))).await?;
    if accepted.consent_to_contact {
        let task = SystemTask::first_contact(accepted.id, by.user_id, accepted.urgency, at);
        open_system_task(tx, &t.cipher, by, &meta(), &task).await.map_err(api)?;
    }
    Ok(())
}

/// As `routes::referrals::create_contact_attempt`, at `at`.
async fn contact(
    tx: &TenantTx,
    t: &Tenant,
    by: &Actor,
    id: uuid::Uuid,
    outcome: ContactOutcome,
    at: DateTime<Utc>,
) -> anyhow::Result<()> {
    let referral = referrals::get(tx, Some(&t.cipher), id).await?;
    let next = parse(dispatch::contact(referral.status, referral.consent_to_contact, outcome))?;
    let note = Some("Synthetic demo note: contact attempt.");
    let (attempt, _) = referrals::record_contact(tx, &t.cipher, &referral, outcome, next, note, by.user_id, at).await?;
    first_contact_done(tx, by, id, at).await?;
    let details = serde_json::json!({ "outcome": outcome.as_str(), "attempt_id": attempt });
    audit::record(tx, entry(by, &meta(), "referral.contact_attempted", "referral", Some(id), details)).await?;
    Ok(())
}

async fn first_contact_done(tx: &TenantTx, by: &Actor, id: uuid::Uuid, at: DateTime<Utc>) -> anyhow::Result<()> {
    let closed = tasks::complete_for_source(tx, TaskKind::ReferralFirstContact, id, by.user_id, at).await?;
    close_system_tasks(tx, by, &meta(), closed).await.map_err(api)
}

/// As `routes::referrals::convert_referral`: a client and a case from the referral.
async fn convert(tx: &TenantTx, t: &Tenant, by: &Actor, id: uuid::Uuid) -> anyhow::Result<Case> {
    let referral = referrals::get(tx, Some(&t.cipher), id).await?;
    let next = parse(dispatch::convert(referral.status))?;
    let person = referral.person.clone().ok_or_else(|| anyhow::anyhow!("referral person unreadable"))?;
    let fields = ClientFields::from(person);
    let client = clients::insert(tx, &t.cipher, &fields).await?;
    let worker = referral.accepted_by.or(referral.assigned_to);
    let program = t.programs.iter().find(|p| Some(p.id) == referral.program_id).cloned();
    let division = reference::get_division(tx.raw(), referral.division_id).await?;
    let case = cases::queue_insert(
        tx,
        &t.cipher,
        NewCase {
            client: CaseClient::from(&client),
            victimization_types: referral.victimization_types.clone(),
            referral_source: ReferralSource::Police,
            program,
            division: Some(division),
            assigned_to: worker,
            restricted: false,
        },
    )?;
    referrals::mark_converted(tx, &referral, next, case.id, client.id).await?;
    first_contact_done(tx, by, referral.id, infra::db::now()).await?;
    if let Some(worker) = worker {
        let payload = serde_json::json!({ "case_id": case.id, "referral_id": referral.id });
        events::publish(tx, &[worker], "case.assigned", &payload).await?;
    }
    let details = serde_json::json!({ "case_id": case.id, "client_id": client.id });
    audit::record(tx, entry(by, &meta(), "referral.converted", "referral", Some(referral.id), details)).await?;
    let details = serde_json::json!({ "referral_id": referral.id });
    audit::record(tx, entry(by, &meta(), actions::CASE_CREATED, "case", Some(case.id), details)).await?;
    Ok(case)
}

/// As `routes::clients::create_client` then `routes::cases::create_case`, assigned to `by`.
async fn open_case(tx: &TenantTx, t: &Tenant, by: &Actor, n: u32) -> anyhow::Result<Case> {
    let p = person(n);
    let fields = ClientFields {
        given_name: p.given_name,
        family_name: p.family_name,
        date_of_birth: p.date_of_birth,
        gender: Some(parse(Gender::parse("woman"))?),
        phone: p.phone,
        email: None,
        preferred_language: p.preferred_language,
        address: Some("1 Synthetic Demo Street, Toronto ON".to_owned()),
        safe_contact: Some(p.safe_contact),
    };
    let client = clients::insert(tx, &t.cipher, &fields).await?;
    audit::record(tx, entry(by, &meta(), actions::CLIENT_CREATED, "client", Some(client.id), serde_json::json!({})))
        .await?;
    let case = cases::queue_insert(
        tx,
        &t.cipher,
        NewCase {
            client: CaseClient::from(&client),
            victimization_types: vec![parse(VictimizationType::parse("intimate_partner_violence"))?],
            referral_source: parse(ReferralSource::parse("self"))?,
            program: t.programs.first().cloned(),
            division: None,
            assigned_to: Some(by.user_id),
            restricted: false,
        },
    )?;
    events::publish(tx, &[by.user_id], "case.assigned", &serde_json::json!({ "case_id": case.id })).await?;
    let details = serde_json::json!({ "client_id": case.client_id, "restricted": case.restricted });
    audit::record(tx, entry(by, &meta(), actions::CASE_CREATED, "case", Some(case.id), details)).await?;
    Ok(case)
}

/// Notes, services, consents, a safety plan and a manual task on `case`, as their routes write them.
async fn records(tx: &TenantTx, t: &Tenant, by: &Actor, case: &Case) -> anyhow::Result<()> {
    let now = infra::db::now();
    for body in [
        "Synthetic demo note: first meeting at 51 Division; client safe at a friend's for tonight.",
        "Synthetic demo note: safety plan written with the client.",
        "Synthetic demo note: VQRP+ application prepared for a lock change.",
    ] {
        let note = notes::insert(tx, &t.cipher, case.id, body, by.user_id, None).await?;
        audit_change(tx, by, &meta(), case, "note", note.id).await.map_err(api)?;
    }
    for (kind, ago, minutes, amount) in [
        ("crisis_intervention", 80, Some(45), None),
        ("safety_planning", 60, Some(30), None),
        ("vqrp_plus", 30, Some(20), Some(25_000)),
    ] {
        let new = case_records::NewService {
            service_type: parse(ServiceType::parse(kind))?,
            delivered_at: now - Duration::minutes(ago),
            minutes,
            amount_cents: amount.map(AmountCents::parse).transpose().map_err(|e| anyhow::anyhow!("{e}"))?,
            notes: Some("Synthetic demo note".to_owned()),
        };
        let service = case_records::insert_service(tx, &t.cipher, case.id, new, by.user_id).await?;
        audit_change(tx, by, &meta(), case, "service", service.id).await.map_err(api)?;
    }
    consent(tx, t, by, case, ConsentScope::ContactByPhone, None).await?;
    consent(tx, t, by, case, ConsentScope::ShareWithOtherAgency, None).await?;
    // Lapses in three weeks: the platform makes its renewal task.
    consent(tx, t, by, case, ConsentScope::ContactByText, Some(now + Duration::days(21))).await?;

    // As `routes::case_records::safety_plan::put_safety_plan` for a first plan.
    let content = PlanContent {
        steps: vec!["Synthetic demo step: keep a bag packed at a friend's.".to_owned()],
        emergency_contacts: vec![EmergencyContact {
            name: "Demo Contact".to_owned(),
            phone: "416-555-0100".to_owned(),
        }],
        safe_places: vec!["Synthetic demo place: the community centre".to_owned()],
        notes: Some("Synthetic demo note".to_owned()),
        review_on: Some(domain::reporting::ontario_date(now) + Duration::days(14)),
    };
    let plan = safety_plans::save(tx, &t.cipher, case.id, &content, None, by.user_id).await?;
    let replaced = tasks::complete_for_source(tx, TaskKind::SafetyPlanReview, case.id, by.user_id, now).await?;
    close_system_tasks(tx, by, &meta(), replaced).await.map_err(api)?;
    if let Some(day) = plan.content.review_on {
        let task = SystemTask::safety_plan_review(case.id, plan.version, case.assigned_to, by.user_id, day);
        open_system_task(tx, &t.cipher, by, &meta(), &task).await.map_err(api)?;
    }
    audit_change(tx, by, &meta(), case, "safety_plan", case.id).await.map_err(api)?;

    // As `routes::tasks::create_task`.
    let new = tasks::NewTask {
        case_id: case.id,
        title: "Synthetic demo task: call the client about the court date".to_owned(),
        assigned_to: by.user_id,
        due_at: now + Duration::days(2),
    };
    let task = tasks::insert(tx, &t.cipher, new, by.user_id).await?;
    let details = serde_json::json!({
        "kind": task.kind.as_str(), "case_id": case.id, "assigned_to": task.assigned_to, "due_at": task.due_at,
    });
    audit::record(tx, entry(by, &meta(), actions::TASK_CREATED, "task", Some(task.id), details)).await?;
    Ok(())
}

/// As `routes::case_records::consents::create_consent`.
async fn consent(
    tx: &TenantTx,
    t: &Tenant,
    by: &Actor,
    case: &Case,
    scope: ConsentScope,
    expires_at: Option<DateTime<Utc>>,
) -> anyhow::Result<()> {
    let note = Some("Synthetic demo note: consent given in person.");
    let consent = consents::insert(tx, &t.cipher, case.id, scope, true, expires_at, note, by.user_id).await?;
    let now = infra::db::now();
    let renewed = tasks::complete_consent_renewals(tx, case.id, scope, by.user_id, now).await?;
    close_system_tasks(tx, by, &meta(), renewed).await.map_err(api)?;
    if let Some(expires_at) = consent.expires_at {
        let task = SystemTask::consent_expiry(consent.id, case.id, case.assigned_to, by.user_id, expires_at, now);
        open_system_task(tx, &t.cipher, by, &meta(), &task).await.map_err(api)?;
    }
    audit_change(tx, by, &meta(), case, "consent", consent.id).await.map_err(api)?;
    Ok(())
}

/// VQRP+ applications on `case` in four statuses: draft, submitted (its decision is the maker's
/// task), approved, and paid; as `routes::vqrp`'s create, submit, decide (by the supervisor, not
/// the maker) and payment.
async fn applications(tx: &TenantTx, t: &Tenant, maker: &Actor, decider: &Actor, case: &Case) -> anyhow::Result<()> {
    let today = domain::reporting::ontario_date(Utc::now());
    let versions = vqrp_store::rule_versions(tx.raw()).await?;
    let plan = [
        ("immediate_safety", 40_000, 0),
        ("transportation_accommodation", 30_000, 1),
        ("crime_scene_cleanup", 60_000, 2),
        ("immediate_safety", 25_000, 3),
    ];
    for (category, requested, steps) in plan {
        let crime_date = today - Duration::days(3);
        let judged = vqrp::judge(
            &versions,
            vqrp::Application {
                category,
                crime_date,
                applied_on: today,
                requested_cents: requested,
                extension_reason: None,
            },
        )
        .map_err(|e| anyhow::anyhow!("demo application refused: {e}"))?;
        let eligibility = Eligibility {
            reported_to: ReportedTo::Police,
            crime_in_ontario: true,
            no_other_source_of_funds: true,
            applicant_eligible: true,
        };
        let new = NewApplication {
            expense_category: category.to_owned(),
            crime_date,
            eligibility,
            requested_cents: requested,
            judged,
            extension_reason: None,
            notes: Some("Synthetic demo note".to_owned()),
            applied_on: today,
        };
        let mut app = vqrp_store::insert(tx, &t.cipher, case.id, new, maker.user_id).await?;
        audit_change(tx, maker, &meta(), case, "vqrp_application", app.id).await.map_err(api)?;
        if steps >= 1 {
            let to = parse(vqrp::submit(app.status))?;
            let due = vqrp::decision_due(today, u32::try_from(app.decision_business_days).unwrap_or(0));
            let change = Transition {
                from: app.status,
                to,
                submitted: Some((Utc::now(), due)),
                decided: None,
                paid_cents: None,
            };
            app = vqrp_store::transition(tx, &t.cipher, app.id, app.version, change).await?;
            audit_change(tx, maker, &meta(), case, "vqrp_submitted", app.id).await.map_err(api)?;
            if let Some(due) = app.decision_due {
                let task = SystemTask::vqrp_decision(app.id, app.case_id, app.created_by, due);
                open_system_task(tx, &t.cipher, maker, &meta(), &task).await.map_err(api)?;
            }
        }
        if steps >= 2 {
            parse(vqrp::may_decide(decider.user_id, app.created_by))?;
            let reason = "Synthetic demo note: receipts in order.".to_owned();
            let (to, approved) =
                parse(vqrp::decide(app.status, Decision::Approved, app.requested_cents, app.cap_cents, None, &reason))?;
            let decided = Some((Utc::now(), decider.user_id, approved, reason));
            let change = Transition { from: app.status, to, submitted: None, decided, paid_cents: None };
            app = vqrp_store::transition(tx, &t.cipher, app.id, app.version, change).await?;
            audit_change(tx, decider, &meta(), case, "vqrp_decided", app.id).await.map_err(api)?;
            let closed =
                tasks::complete_for_source(tx, TaskKind::VqrpDecision, app.id, decider.user_id, infra::db::now())
                    .await?;
            close_system_tasks(tx, decider, &meta(), closed).await.map_err(api)?;
        }
        if steps >= 3 {
            let paid = app.approved_cents.unwrap_or(0);
            let to = parse(vqrp::pay(app.status, paid, app.paid_cents, paid))?;
            let change = Transition {
                from: app.status,
                to,
                submitted: None,
                decided: None,
                paid_cents: Some(app.paid_cents + paid),
            };
            app = vqrp_store::transition(tx, &t.cipher, app.id, app.version, change).await?;
            audit_change(tx, maker, &meta(), case, "vqrp_payment", app.id).await.map_err(api)?;
            vqrp_store::insert_payment(tx, &t.cipher, &app, paid, Payee::Vendor, today, maker.user_id).await?;
        }
    }
    Ok(())
}

/// As `routes::transfers::create_transfer`: the sender's row here, the receiver's written with the
/// transaction in the receiver's scope and sealed with the receiver's key, both logs audited, the
/// receiver's supervisors told. Leaves `tx` back in the sender's scope.
async fn send(tx: &mut TenantTx, t: &Tenant, by: &Actor, case: &Case, to: &Tenant) -> anyhow::Result<()> {
    let now = Utc::now();
    let records = consents::records(tx, case.id).await?;
    parse(transfer::may_send(t.id, to.id, &records, now))?;
    let parts = vec![Part::Identity, Part::Contact];
    let payload = crate::routes::transfers::gather(tx, &t.cipher, case, &parts, by).await.map_err(api)?;
    let new = NewTransfer {
        id: uuid::Uuid::now_v7(),
        case_id: case.id,
        to_tenant: to.id,
        from_tenant: t.id,
        include: parts,
        reason: "Synthetic demo note: the client is moving north and asked to continue there.".to_owned(),
        by: by.user_id,
        at: now,
    };
    transfer_store::insert_outgoing(tx, &t.cipher, &new).await?;
    let details = serde_json::json!({ "transfer_id": new.id, "to_agency": to.id, "include": ["identity", "contact"] });
    audit::record(tx, entry(by, &meta(), actions::TRANSFER_SENT, "case", Some(case.id), details)).await?;
    tx.switch_tenant(to.id).await?;
    transfer_store::deliver(tx, &to.cipher, &new, &payload).await?;
    let counterpart = crate::routes::transfers::counterpart_entry(&meta(), actions::TRANSFER_RECEIVED, new.id, t.id);
    audit::record(tx, counterpart).await?;
    let supervisors = users::active_with_role(tx, Role::Supervisor).await?;
    events::publish(tx, &supervisors, "transfer.received", &serde_json::json!({ "transfer_id": new.id })).await?;
    tx.switch_tenant(t.id).await?;
    Ok(())
}
