//! Tasks and deadlines: what a worker must do by when. Made by a person on a case
//! (`POST /cases/{id}/tasks`), or by the platform with the change that requires it (a VQRP+
//! application submitted, a consent with an expiry, a referral accepted, a safety plan with a
//! review date: [`open_system_task`], [`close_system_tasks`]); listed as a worker's day; completed,
//! reopened, reassigned or moved with `If-Match`. A task is seen only where its case is; titles are
//! sealed at rest and never leave in events or the audit log. The rules are `domain::tasks`.

use actix_web::{HttpResponse, get, patch, post, web};
use chrono::{DateTime, Utc};
use domain::UserId;
use domain::ValidationErrors;
use domain::audit::actions;
use domain::authz::{Action, Actor, CaseScope};
use domain::tasks::{self as rules, Assignee, CaseAccess, Patch, SystemTask, TaskError, TaskState, TaskStatus};
use infra::TenantTx;
use infra::crypto::TenantCipher;
use infra::store::tasks::{self as store, Closed, NewTask, Task};
use infra::store::{audit, cases, users};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::case_records::{Opened, begin_record};
use super::{Page, PageQuery, authorize};
use crate::audit_trail::entry;
use crate::error::{ApiError, Problem};
use crate::extract::{Authenticated, IdempotencyHeader, IfMatch, RequestMeta, with_etag};
use crate::idempotency::{Created, Idempotent};
use crate::state::AppState;

/// A new task on a case.
#[derive(Debug, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"title": "Call back about the shelter bed", "due_at": "2030-01-15T17:00:00Z"}))]
pub struct CreateTaskRequest {
    /// What to do: one line of 1 to 200 characters, trimmed (encrypted at rest).
    pub title: String,
    /// By when (RFC 3339; in the future).
    #[schema(value_type = String, format = DateTime)]
    pub due_at: String,
    /// Who must do it: an active supervisor or case manager of this agency who can see the case (a restricted case:
    /// its worker or a supervisor). Default: the caller.
    pub assigned_to: Option<uuid::Uuid>,
}

/// Changes to a task; absent fields stay.
#[derive(Debug, Default, Deserialize, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
#[schema(example = json!({"status": "completed"}))]
pub struct UpdateTaskRequest {
    /// `completed` completes an open task (recording `completed_at` and `completed_by`); `open` reopens a completed
    /// one.
    pub status: Option<String>,
    /// Reassign: an active supervisor or case manager of this agency who can see the task's case.
    pub assigned_to: Option<uuid::Uuid>,
    /// A new deadline (RFC 3339; in the future).
    #[schema(value_type = Option<String>, format = DateTime)]
    pub due_at: Option<String>,
    /// A new title (a manual task's only: a system task's is the platform's).
    pub title: Option<String>,
}

/// A task.
#[derive(Debug, Serialize, ToSchema)]
pub struct TaskResponse {
    /// The task's id.
    pub id: uuid::Uuid,
    /// The case it is on; null for a referral's first-contact task (the referral is `source_id`).
    pub case_id: Option<uuid::Uuid>,
    /// `manual` (made by a person) or the rule that made it: `vqrp_decision`, `consent_expiry`,
    /// `referral_first_contact`, `safety_plan_review`.
    pub kind: String,
    /// What a system task is about: the VQRP+ application, the consent, the referral, or the case whose safety plan
    /// is to be reviewed; null for a manual task.
    pub source_id: Option<uuid::Uuid>,
    /// What to do (a system task's is the platform's fixed text).
    pub title: String,
    /// Who must do it.
    pub assigned_to: uuid::Uuid,
    /// By when.
    pub due_at: DateTime<Utc>,
    /// `open` or `completed`.
    pub status: String,
    /// Open and past `due_at`.
    pub overdue: bool,
    /// When it was completed (by a person, or by the platform when its reason went away); null while open.
    pub completed_at: Option<DateTime<Utc>>,
    /// Who completed it, or whose change completed it; null while open.
    pub completed_by: Option<uuid::Uuid>,
    /// Who made it (for a system task, whose change required it).
    pub created_by: uuid::Uuid,
    /// Version (also the `ETag`).
    pub version: i32,
    /// When it was made.
    pub created_at: DateTime<Utc>,
}

impl From<Task> for TaskResponse {
    fn from(t: Task) -> Self {
        Self {
            id: t.id,
            case_id: t.case_id,
            kind: t.kind.as_str().to_owned(),
            source_id: t.source_id,
            title: t.title,
            assigned_to: t.assigned_to.as_uuid(),
            due_at: t.due_at,
            status: t.status.as_str().to_owned(),
            overdue: t.status == TaskStatus::Open && t.due_at < Utc::now(),
            completed_at: t.completed_at,
            completed_by: t.completed_by.map(|u| u.as_uuid()),
            created_by: t.created_by.as_uuid(),
            version: t.version,
            created_at: t.created_at,
        }
    }
}

/// Filters of the task list.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskListQuery {
    /// `me`, or a user's id (a supervisor's: a case manager may name only themselves, `403` otherwise). Default: the
    /// caller's own for a case manager, the whole team's for a supervisor.
    pub assigned_to: Option<String>,
    /// `open` or `completed`.
    pub status: Option<String>,
    /// Only those due before this instant (RFC 3339).
    pub due_before: Option<String>,
    /// `true`: only open tasks past their deadline.
    pub overdue: Option<bool>,
    /// Page size, 1 to 200 (default 50).
    #[param(minimum = 1, maximum = 200)]
    pub limit: Option<u64>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

/// An RFC 3339 instant.
fn instant(e: &mut ValidationErrors, field: &str, raw: &str) -> Option<DateTime<Utc>> {
    match DateTime::parse_from_rfc3339(raw.trim()) {
        Ok(at) => Some(at.with_timezone(&Utc)),
        Err(_) => {
            e.add(field, "must be an RFC 3339 date and time, such as 2030-01-15T17:00:00Z");
            None
        }
    }
}

fn refused(e: TaskError) -> ApiError {
    match e {
        TaskError::AlreadyThere(_) => ApiError::Conflict(format!("{e}.")),
        other => ApiError::field(other.field(), other.to_string()),
    }
}

/// Why an assignee is refused.
const ASSIGNEE_REFUSED: &str = "must be an active supervisor or case manager of this agency who can see the case (a restricted case: its worker or a supervisor)";

/// Refuses an assignee who may not hold a task on the case with `access` (`domain::tasks::may_hold`).
async fn check_assignee(tx: &TenantTx, worker: UserId, access: Option<CaseAccess>) -> Result<(), ApiError> {
    match users::get(tx, worker).await {
        Ok(user) if rules::may_hold(user.id, user.active, &user.roles, access) => Ok(()),
        Ok(_) | Err(infra::StoreError::NotFound) => Err(ApiError::field("assigned_to", ASSIGNEE_REFUSED)),
        Err(e) => Err(e.into()),
    }
}

fn access(case: &cases::Case) -> CaseAccess {
    CaseAccess { restricted: case.restricted, assigned_to: case.assigned_to }
}

/// An audit entry about a task: ids, its kind and the names of what changed; never the title.
fn task_entry(
    actor: &Actor,
    meta: &RequestMeta,
    action: &'static str,
    id: uuid::Uuid,
    details: serde_json::Value,
) -> infra::store::audit::AuditEntry {
    entry(actor, meta, action, "task", Some(id), details)
}

/// Makes the system task `system` in the caller's transaction (with the change that requires it)
/// and audits it (`task.created`); both are appended, written with the transaction's next
/// statement or its commit.
///
/// # Errors
/// Database or encryption failures; the caller's change then rolls back with it.
pub(crate) async fn open_system_task(
    tx: &TenantTx,
    cipher: &TenantCipher,
    actor: &Actor,
    meta: &RequestMeta,
    system: &SystemTask,
) -> Result<(), ApiError> {
    let task = store::queue_system(tx, cipher, system, actor.user_id)?;
    let details = serde_json::json!({
        "kind": task.kind.as_str(), "case_id": task.case_id, "source_id": task.source_id,
        "assigned_to": task.assigned_to, "due_at": task.due_at, "system": true,
    });
    audit::record(tx, task_entry(actor, meta, actions::TASK_CREATED, task.id, details)).await?;
    Ok(())
}

/// Audits the system tasks the platform just completed (`task.completed`) because the caller's
/// change removed their reason.
///
/// # Errors
/// Database failures.
pub(crate) async fn close_system_tasks(
    tx: &TenantTx,
    actor: &Actor,
    meta: &RequestMeta,
    closed: Vec<Closed>,
) -> Result<(), ApiError> {
    let entries = closed
        .into_iter()
        .map(|c| {
            let details = serde_json::json!({
                "kind": c.kind.as_str(), "case_id": c.case_id, "version": c.version, "system": true,
            });
            task_entry(actor, meta, actions::TASK_COMPLETED, c.id, details)
        })
        .collect();
    audit::record_many(tx, entries).await?;
    Ok(())
}

/// Add a task to a case.
///
/// Makes an open task on the case, due at `due_at`, for `assigned_to` (default: the caller), who must be an active
/// supervisor or case manager of this agency able to see the case (`422` naming `assigned_to` otherwise). Only
/// someone who can see the case may add one (a restricted case is `404` to anyone else). The title is sealed at
/// rest. Audited (`task.created`).
#[utoipa::path(
    tag = "tasks",
    operation_id = "create_task",
    request_body = CreateTaskRequest,
    params(("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe: 1 to 255 printable ASCII characters."), ("id" = uuid::Uuid, Path, description = "Case id")),
    responses(
        (status = 201, description = "Made", body = TaskResponse, headers(("Location" = String, description = "The task"), ("ETag" = String, description = "Its version"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[post("/cases/{id}/tasks")]
pub async fn create_task(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    idempotency: IdempotencyHeader,
    path: web::Path<uuid::Uuid>,
    body: web::Json<CreateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let mut e = ValidationErrors::default();
    let title = e.check("title", rules::title(&body.title));
    let due_at =
        instant(&mut e, "due_at", &body.due_at).and_then(|at| e.check("due_at", rules::check_due(at, Utc::now())));
    let (title, due_at) = e.finish(|| Some((title?, due_at?)))?;
    let case_id = path.into_inner();
    let fingerprint = serde_json::json!({ "case_id": case_id, "body": &*body });
    let idempotent = Idempotent::new(idempotency, &actor, "create_task", &fingerprint)?;
    let (idempotent, opened) = begin_record(&state, &actor, &meta, case_id, idempotent, "task").await?;
    let (tx, cipher, case) = match opened {
        Opened::Replay(response) => return Ok(response),
        Opened::Proceed(tx, cipher, case) => (tx, cipher, case),
    };
    let assignee = body.assigned_to.map_or(actor.user_id, UserId::from_uuid);
    check_assignee(&tx, assignee, Some(access(&case))).await?;
    let new = NewTask { case_id: case.id, title, assigned_to: assignee, due_at };
    let task = store::insert(&tx, &cipher, new, actor.user_id).await?;
    let details = serde_json::json!({
        "kind": task.kind.as_str(), "case_id": case.id, "assigned_to": task.assigned_to, "due_at": task.due_at,
    });
    audit::record(&tx, task_entry(&actor, &meta, actions::TASK_CREATED, task.id, details)).await?;
    let location = format!("/api/v1/tasks/{}", task.id);
    let version = task.version;
    idempotent.finish(tx, &actor, Created::new(&TaskResponse::from(task), location)?.with_etag(version)).await
}

/// List tasks: a worker's day.
///
/// Tasks soonest due first (then by id), on the cases the caller may see (a restricted case's only for its worker and
/// supervisors). A case manager lists their own (`assigned_to` absent, `me` or their id; another's is `403`); a
/// supervisor lists the team's, or one worker's with `assigned_to`. Filtered by `status`, `due_before` and
/// `overdue=true` (open and past the deadline). Each task listed is an audited read.
#[utoipa::path(
    tag = "tasks",
    operation_id = "list_tasks",
    params(TaskListQuery),
    responses(
        (status = 200, description = "A page of tasks", body = Page<TaskResponse>),
        (status = 403, description = "Not a supervisor or case manager, or a case manager naming another worker", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tasks")]
pub async fn list_tasks(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    query: web::Query<TaskListQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let query = query.into_inner();
    let mut e = ValidationErrors::default();
    let assignee = query.assigned_to.as_deref().map(|raw| e.check("assigned_to", Assignee::parse(raw)));
    let mut status = query.status.as_deref().map(|raw| e.check("status", TaskStatus::parse(raw)));
    let mut due_before = query.due_before.as_deref().map(|raw| instant(&mut e, "due_before", raw));
    if query.overdue == Some(true) {
        if status.flatten() == Some(TaskStatus::Completed) {
            e.add("overdue", "only open tasks are overdue");
        }
        // Open and due before now; a `due_before` earlier than now narrows it further.
        status = Some(Some(TaskStatus::Open));
        let now = Utc::now();
        due_before = Some(Some(due_before.flatten().map_or(now, |at| at.min(now))));
    }
    let (limit, after) = PageQuery { limit: query.limit, cursor: query.cursor }.parse()?;
    let (assignee, status, due_before) =
        e.finish(|| Some((assignee.flatten(), status.flatten(), due_before.flatten())))?;
    let may_list_team = authorize(&actor, Action::ListTeamTasks).is_ok();
    let assigned_to = rules::whose_tasks(may_list_team, actor.user_id, assignee)
        .map_err(|why| ApiError::ForbiddenBecause(format!("{}.", capitalised(&why.to_string()))))?;
    let filter = store::Filter { assigned_to, status, due_before };
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let rows = match store::list(&tx, &cipher, &filter, CaseScope::of(&actor), after, limit.get() + 1).await {
        // A cursor naming no task of this tenant was not issued by this list.
        Err(infra::StoreError::NotFound) => {
            return Err(ApiError::field("cursor", domain::paging::CursorError.to_string()));
        }
        other => other?,
    };
    let (rows, next_cursor) = domain::paging::into_page(rows, limit, |t| t.id);
    let reads = rows
        .iter()
        .map(|t| task_entry(&actor, &meta, actions::TASK_READ, t.id, serde_json::json!({ "via": "list" })))
        .collect();
    audit::record_many(&tx, reads).await?;
    tx.commit().await?;
    Ok(HttpResponse::Ok().json(Page { items: rows.into_iter().map(TaskResponse::from).collect(), next_cursor }))
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    chars.next().map(|c| c.to_uppercase().chain(chars).collect()).unwrap_or_default()
}

/// Read a task.
///
/// With its `ETag`. `404` when its case is not one the caller may see. Audited (`task.read`).
#[utoipa::path(
    tag = "tasks",
    operation_id = "get_task",
    params(("id" = uuid::Uuid, Path, description = "Task id")),
    responses(
        (status = 200, description = "The task (the read is audited)", body = TaskResponse, headers(("ETag" = String, description = "Version for If-Match"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/tasks/{id}")]
pub async fn get_task(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let task = store::get(&tx, &cipher, path.into_inner(), CaseScope::of(&actor)).await?;
    audit::record(&tx, task_entry(&actor, &meta, actions::TASK_READ, task.id, serde_json::json!({}))).await?;
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), task.version, &TaskResponse::from(task)))
}

impl UpdateTaskRequest {
    /// The change asked, each field checked: `status`, `due_at` and `title` named when invalid.
    fn try_into_domain(&self) -> Result<Patch, ValidationErrors> {
        let mut e = ValidationErrors::default();
        let status = self.status.as_deref().map(|raw| e.check("status", TaskStatus::parse(raw)));
        let due_at = self.due_at.as_deref().map(|raw| instant(&mut e, "due_at", raw));
        let title = self.title.as_deref().map(|raw| e.check("title", rules::title(raw)));
        e.finish(|| {
            Some(Patch {
                status: status.flatten(),
                assigned_to: self.assigned_to.map(UserId::from_uuid),
                due_at: due_at.flatten(),
                title: title.flatten(),
            })
        })
    }
}

/// Change a task.
///
/// Complete it (`status: completed`: records `completed_at` and `completed_by`), reopen it (`status: open`),
/// reassign it (`assigned_to`, who must be able to see its case: `422` otherwise), move its deadline (`due_at`, in the
/// future) or retitle it (a manual task's only). Requires `If-Match` with the `ETag` last read: without it `428`, stale
/// `412`, and nothing changes. `409` when completing a completed task or reopening an open one. A reassigned, moved or
/// reopened task announces itself again when overdue. Audited (`task.completed`, `task.reopened`, `task.updated`).
#[utoipa::path(
    tag = "tasks",
    operation_id = "update_task",
    request_body = UpdateTaskRequest,
    params(("id" = uuid::Uuid, Path, description = "Task id"), ("If-Match" = String, Header, description = "The ETag last read")),
    responses(
        (status = 200, description = "Changed", body = TaskResponse, headers(("ETag" = String, description = "New version"))),
        (status = 403, description = "Not a supervisor or case manager", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "Completed already, or open already", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[patch("/tasks/{id}")]
pub async fn update_task(
    state: web::Data<AppState>,
    caller: Authenticated,
    meta: RequestMeta,
    path: web::Path<uuid::Uuid>,
    if_match: IfMatch,
    body: web::Json<UpdateTaskRequest>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::WorkCases)?;
    let patch = body.try_into_domain()?;
    let cipher = state.cipher(actor.tenant_id).await?;
    let tx = infra::db::begin_tenant_tx(&state.db, &actor).await?;
    let current = store::get(&tx, &cipher, path.into_inner(), CaseScope::of(&actor)).await?;
    // Read only now: a caller who may not see the task gets its 404 first.
    let expected = if_match.version()?;
    if expected != current.version {
        return Err(ApiError::PreconditionFailed);
    }
    if let Some(worker) = patch.assigned_to {
        let case_access = match current.case_id {
            Some(case_id) => Some(access(&cases::get(&tx, case_id, CaseScope::All).await?)),
            None => None,
        };
        check_assignee(&tx, worker, case_access).await?;
    }
    let state_now = TaskState {
        kind: current.kind,
        status: current.status,
        assigned_to: current.assigned_to,
        due_at: current.due_at,
    };
    let change = rules::decide(state_now, patch, actor.user_id, Utc::now()).map_err(refused)?;
    let task = match store::apply(&tx, &cipher, current.id, expected, &change).await {
        Err(infra::StoreError::VersionMismatch) => return Err(ApiError::PreconditionFailed),
        other => other?,
    };
    let details = serde_json::json!({
        "kind": task.kind.as_str(), "case_id": task.case_id, "version": task.version, "changed": change.fields(),
    });
    audit::record(&tx, task_entry(&actor, &meta, change.action(), task.id, details)).await?;
    tx.commit().await?;
    Ok(with_etag(HttpResponse::Ok(), task.version, &TaskResponse::from(task)))
}
