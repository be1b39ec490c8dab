//! Tasks and their deadlines (`domain::tasks` decides; this stores). The title is sealed. A task
//! is found only where its case is visible (a referral's task, with no case, wherever referrals
//! are). Every change is an `UPDATE … WHERE version = ? AND status = ?` on what it was decided
//! from; system tasks are made once per source (a unique key backs that up) and completed by the
//! change that removes their reason. The overdue sweeper claims
//! its announcements with a conditional update (`FOR UPDATE SKIP LOCKED` on PostgreSQL), so
//! replicas sweeping together announce each once.

use chrono::{DateTime, Utc};
use domain::authz::CaseScope;
use domain::case::ConsentScope;
use domain::tasks::{Change, Completion, SystemTask, TaskKind, TaskStatus};
use domain::{TenantId, UserId};
use sea_orm::sea_query::{Condition, Expr, ExprTrait as _, LockBehavior, LockType, SelectStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder, QuerySelect,
    QueryTrait,
};
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;
use crate::crypto::TenantCipher;
use crate::entities::{case, consent, task};

const TITLE: &str = "tasks.title";

/// A task, its title decrypted.
#[derive(Clone)]
pub struct Task {
    /// Id.
    pub id: Uuid,
    /// The case, if on one.
    pub case_id: Option<Uuid>,
    /// Why it exists.
    pub kind: TaskKind,
    /// What a system task is about.
    pub source_id: Option<Uuid>,
    /// The title.
    pub title: String,
    /// Who must do it.
    pub assigned_to: UserId,
    /// By when.
    pub due_at: DateTime<Utc>,
    /// Where it stands.
    pub status: TaskStatus,
    /// When completed.
    pub completed_at: Option<DateTime<Utc>>,
    /// By whom.
    pub completed_by: Option<UserId>,
    /// When its assignee was told it is overdue.
    pub overdue_announced_at: Option<DateTime<Utc>>,
    /// When the supervisors were told it is overdue past the grace.
    pub supervisors_announced_at: Option<DateTime<Utc>>,
    /// Who made it (for a system task, whose change required it).
    pub created_by: UserId,
    /// Version for `ETag`.
    pub version: i32,
    /// When made.
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for Task {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Task").field("id", &self.id).field("kind", &self.kind).finish_non_exhaustive()
    }
}

/// Reads a row; the title is decrypted only when `title` is not given already.
fn read(cipher: &TenantCipher, m: task::Model, title: Option<String>) -> Result<Task, StoreError> {
    let title = match title {
        Some(title) => title,
        None => cipher.open(TITLE, m.id, &m.title_sealed)?,
    };
    Ok(Task {
        id: m.id,
        case_id: m.case_id,
        kind: super::decode("tasks.kind", &m.kind, TaskKind::parse)?,
        source_id: m.source_id,
        title,
        assigned_to: UserId::from_uuid(m.assigned_to),
        due_at: m.due_at,
        status: super::decode("tasks.status", &m.status, TaskStatus::parse)?,
        completed_at: m.completed_at,
        completed_by: m.completed_by.map(UserId::from_uuid),
        overdue_announced_at: m.overdue_announced_at,
        supervisors_announced_at: m.supervisors_announced_at,
        created_by: UserId::from_uuid(m.created_by),
        version: m.version,
        created_at: m.created_at,
    })
}

/// The row of a new open task.
#[expect(clippy::too_many_arguments, reason = "one value per column of a new task")]
fn new_row(
    tx: &TenantTx,
    cipher: &TenantCipher,
    id: Uuid,
    kind: TaskKind,
    source: Option<(Uuid, i32)>,
    case_id: Option<Uuid>,
    title: &str,
    assigned_to: UserId,
    due_at: DateTime<Utc>,
    by: UserId,
) -> Result<task::Model, StoreError> {
    let now = crate::db::now();
    Ok(task::Model {
        tenant_id: tx.tenant_id().as_uuid(),
        id,
        case_id,
        kind: kind.as_str().to_owned(),
        source_id: source.map(|(s, _)| s),
        source_version: source.map(|(_, v)| v),
        title_sealed: cipher.seal(TITLE, id, title)?,
        assigned_to: assigned_to.as_uuid(),
        due_at,
        status: TaskStatus::Open.as_str().to_owned(),
        completed_at: None,
        completed_by: None,
        overdue_announced_at: None,
        supervisors_announced_at: None,
        created_by: by.as_uuid(),
        version: 1,
        created_at: now,
        updated_at: now,
    })
}

/// A task a person makes on a case (validated: the title checked, the assignee may hold the case).
#[derive(Clone)]
pub struct NewTask {
    /// The case.
    pub case_id: Uuid,
    /// The title.
    pub title: String,
    /// Who must do it.
    pub assigned_to: UserId,
    /// By when.
    pub due_at: DateTime<Utc>,
}

/// Records a manual task.
///
/// # Errors
/// [`StoreError`] on database or encryption failure.
pub async fn insert(tx: &TenantTx, cipher: &TenantCipher, new: NewTask, by: UserId) -> Result<Task, StoreError> {
    let id = Uuid::now_v7();
    let row = new_row(
        tx,
        cipher,
        id,
        TaskKind::Manual,
        None,
        Some(new.case_id),
        &new.title,
        new.assigned_to,
        new.due_at,
        by,
    )?;
    let model = task::ActiveModel::from(row).insert(tx.raw()).await.store()?;
    read(cipher, model, Some(new.title))
}

/// Makes the system task `system`, appended (`TenantTx::append`): written with the transaction's
/// next statement or its commit, so it costs no round trip of its own on PostgreSQL. One per
/// (kind, source, version): the change that requires it moves its source on conditionally
/// (a submission from a draft, an acceptance from pending, a new consent or plan version), so
/// a retry or a racing request never reaches here twice; should anything else, the unique key
/// refuses the second task and its transaction fails (`StoreError::Conflict` on `tasks.source`),
/// never making two.
///
/// # Errors
/// [`StoreError`] on encryption failure.
pub fn queue_system(tx: &TenantTx, cipher: &TenantCipher, system: &SystemTask, by: UserId) -> Result<Task, StoreError> {
    let id = Uuid::now_v7();
    let row = new_row(
        tx,
        cipher,
        id,
        system.kind,
        Some((system.source_id, system.source_version)),
        system.case_id,
        system.title(),
        system.assigned_to,
        system.due_at,
        by,
    )?;
    tx.append(task::Entity::insert(task::ActiveModel::from(row.clone())).into_query());
    read(cipher, row, Some(system.title().to_owned()))
}

/// A task the platform completed because its reason went away.
#[derive(Clone, Copy, Debug)]
pub struct Closed {
    /// The task.
    pub id: Uuid,
    /// Its case, if any.
    pub case_id: Option<Uuid>,
    /// Its kind.
    pub kind: TaskKind,
    /// Its new version.
    pub version: i32,
}

/// Completes, as `by` at `at`, the open tasks of `kind` whose source matches `source` (and, when
/// given, on `case_id`): one `UPDATE … RETURNING`.
async fn complete_where(
    tx: &TenantTx,
    kind: TaskKind,
    source: Condition,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<Vec<Closed>, StoreError> {
    let rows = task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(TaskStatus::Completed.as_str()))
        .col_expr(task::Column::CompletedAt, Expr::value(Some(at)))
        .col_expr(task::Column::CompletedBy, Expr::value(Some(by.as_uuid())))
        .col_expr(task::Column::Version, Expr::col(task::Column::Version).add(1))
        .col_expr(task::Column::UpdatedAt, Expr::value(at))
        .filter(task::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(task::Column::Kind.eq(kind.as_str()))
        .filter(task::Column::Status.eq(TaskStatus::Open.as_str()))
        .filter(source)
        .exec_with_returning(tx.raw())
        .await
        .store()?;
    rows.into_iter()
        .map(|m| {
            Ok(Closed {
                id: m.id,
                case_id: m.case_id,
                kind: super::decode("tasks.kind", &m.kind, TaskKind::parse)?,
                version: m.version,
            })
        })
        .collect()
}

/// Completes the open tasks of `kind` about `source_id` (a VQRP+ application decided or
/// withdrawn, a referral contacted or converted, a case's safety plan replaced).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn complete_for_source(
    tx: &TenantTx,
    kind: TaskKind,
    source_id: Uuid,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<Vec<Closed>, StoreError> {
    complete_where(tx, kind, Condition::all().add(task::Column::SourceId.eq(source_id)), by, at).await
}

/// Completes the open consent-expiry tasks of `case_id` whose consent is of `scope`: a newer
/// decision of that scope (a renewal or a withdrawal) is recorded, so the older one no longer
/// lapses into anything.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn complete_consent_renewals(
    tx: &TenantTx,
    case_id: Uuid,
    scope: ConsentScope,
    by: UserId,
    at: DateTime<Utc>,
) -> Result<Vec<Closed>, StoreError> {
    let of_scope = consent::Entity::find()
        .select_only()
        .column(consent::Column::Id)
        .filter(consent::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(consent::Column::CaseId.eq(case_id))
        .filter(consent::Column::Scope.eq(scope.as_str()))
        .into_query();
    let source =
        Condition::all().add(task::Column::CaseId.eq(case_id)).add(task::Column::SourceId.in_subquery(of_scope));
    complete_where(tx, TaskKind::ConsentExpiry, source, by, at).await
}

/// The ids of the cases visible in `scope`, as a subquery.
fn visible_cases(tx: &TenantTx, scope: CaseScope) -> SelectStatement {
    case::Entity::find()
        .select_only()
        .column(case::Column::Id)
        .filter(case::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(super::cases::visible(scope))
        .into_query()
}

/// The SQL of "a task the caller may see": on a case visible in `scope`, or on no case (a
/// referral's, seen wherever referrals are).
fn visible(tx: &TenantTx, scope: CaseScope) -> Condition {
    match scope {
        CaseScope::All => Condition::all(),
        CaseScope::UnrestrictedOrAssignedTo(_) => Condition::any()
            .add(task::Column::CaseId.is_null())
            .add(task::Column::CaseId.in_subquery(visible_cases(tx, scope))),
    }
}

/// One task, if visible in `scope`; missing, another tenant's and hidden look the same.
///
/// # Errors
/// [`StoreError::NotFound`]; database or decryption failures.
pub async fn get(tx: &TenantTx, cipher: &TenantCipher, id: Uuid, scope: CaseScope) -> Result<Task, StoreError> {
    let row = task::Entity::find()
        .filter(task::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(task::Column::Id.eq(id))
        .filter(visible(tx, scope))
        .one(tx.raw())
        .await
        .store()?
        .ok_or(StoreError::NotFound)?;
    read(cipher, row, None)
}

/// Filters of the task list.
#[derive(Clone, Debug, Default)]
pub struct Filter {
    /// Only this worker's (`None`: the team's).
    pub assigned_to: Option<UserId>,
    /// Only this status.
    pub status: Option<TaskStatus>,
    /// Only those due before this.
    pub due_before: Option<DateTime<Utc>>,
}

/// A page of visible tasks, soonest due first, then by id. `after` is the last task of the
/// previous page: the page continues after its place in that order (where it is now).
///
/// # Errors
/// [`StoreError::NotFound`] when `after` is no task of this tenant; database or decryption
/// failures.
pub async fn list(
    tx: &TenantTx,
    cipher: &TenantCipher,
    filter: &Filter,
    scope: CaseScope,
    after: Option<Uuid>,
    limit: u64,
) -> Result<Vec<Task>, StoreError> {
    let tenant = tx.tenant_id().as_uuid();
    let mut query = task::Entity::find()
        .filter(task::Column::TenantId.eq(tenant))
        .filter(visible(tx, scope))
        .order_by_asc(task::Column::DueAt)
        .order_by_asc(task::Column::Id)
        .limit(limit);
    if let Some(worker) = filter.assigned_to {
        query = query.filter(task::Column::AssignedTo.eq(worker.as_uuid()));
    }
    if let Some(status) = filter.status {
        query = query.filter(task::Column::Status.eq(status.as_str()));
    }
    if let Some(before) = filter.due_before {
        query = query.filter(task::Column::DueAt.lt(before));
    }
    if let Some(after) = after {
        let due: DateTime<Utc> = task::Entity::find()
            .select_only()
            .column(task::Column::DueAt)
            .filter(task::Column::TenantId.eq(tenant))
            .filter(task::Column::Id.eq(after))
            .into_tuple()
            .one(tx.raw())
            .await
            .store()?
            .ok_or(StoreError::NotFound)?;
        query = query.filter(
            Condition::any()
                .add(task::Column::DueAt.gt(due))
                .add(Condition::all().add(task::Column::DueAt.eq(due)).add(task::Column::Id.gt(after))),
        );
    }
    query.all(tx.raw()).await.store()?.into_iter().map(|m| read(cipher, m, None)).collect()
}

/// Applies `change` (`domain::tasks::decide`) to the task, conditional on the version and status
/// it was decided from: the task as it now is, or [`StoreError::VersionMismatch`] when it moved on
/// meanwhile.
///
/// # Errors
/// [`StoreError`].
pub async fn apply(
    tx: &TenantTx,
    cipher: &TenantCipher,
    id: Uuid,
    expected_version: i32,
    change: &Change,
) -> Result<Task, StoreError> {
    let now = crate::db::now();
    let mut update = task::Entity::update_many()
        .col_expr(task::Column::Status, Expr::value(change.to.as_str()))
        .col_expr(task::Column::Version, Expr::col(task::Column::Version).add(1))
        .col_expr(task::Column::UpdatedAt, Expr::value(now))
        .filter(task::Column::TenantId.eq(tx.tenant_id().as_uuid()))
        .filter(task::Column::Id.eq(id))
        .filter(task::Column::Version.eq(expected_version))
        .filter(task::Column::Status.eq(change.from.as_str()));
    match change.completion {
        Completion::Keep => {}
        Completion::Set(at, by) => {
            update = update
                .col_expr(task::Column::CompletedAt, Expr::value(Some(at)))
                .col_expr(task::Column::CompletedBy, Expr::value(Some(by.as_uuid())));
        }
        Completion::Clear => {
            update = update
                .col_expr(task::Column::CompletedAt, Expr::value(Option::<DateTime<Utc>>::None))
                .col_expr(task::Column::CompletedBy, Expr::value(Option::<Uuid>::None));
        }
    }
    if let Some(worker) = change.assigned_to {
        update = update.col_expr(task::Column::AssignedTo, Expr::value(worker.as_uuid()));
    }
    if let Some(due) = change.due_at {
        update = update.col_expr(task::Column::DueAt, Expr::value(due));
    }
    if let Some(title) = &change.title {
        update = update.col_expr(task::Column::TitleSealed, Expr::value(cipher.seal(TITLE, id, title)?));
    }
    if change.announce_again {
        update = update.col_expr(task::Column::OverdueAnnouncedAt, Expr::value(Option::<DateTime<Utc>>::None));
    }
    if change.escalate_again {
        update = update.col_expr(task::Column::SupervisorsAnnouncedAt, Expr::value(Option::<DateTime<Utc>>::None));
    }
    let Some(model) = update.exec_with_returning(tx.raw()).await.store()?.into_iter().next() else {
        return Err(StoreError::VersionMismatch);
    };
    read(cipher, model, change.title.clone())
}

/// The tenants with a task to announce at `now`: an open task past its deadline not yet announced
/// to its assignee, or past `escalate_before` (the deadline plus the grace) not yet announced to
/// the supervisors. One statement for all tenants; on PostgreSQL,
/// `vcao_tenants_with_overdue_tasks` visits them under row-level security (migration 000020),
/// spelling in SQL the conditions [`claim_overdue`] and [`claim_escalations`] claim by.
///
/// # Errors
/// [`StoreError::Unexpected`] on database failure.
pub async fn tenants_with_overdue(
    db: &crate::db::Db,
    now: DateTime<Utc>,
    escalate_before: DateTime<Utc>,
) -> Result<Vec<TenantId>, StoreError> {
    let conn = db.global();
    let ids: Vec<Uuid> = if conn.get_database_backend() == DbBackend::Postgres {
        let rows = conn
            .query_all_raw(sea_orm::Statement::from_sql_and_values(
                DbBackend::Postgres,
                "SELECT t AS tenant_id FROM vcao_tenants_with_overdue_tasks($1, $2) AS t",
                [now.into(), escalate_before.into()],
            ))
            .await
            .store()?;
        rows.iter().map(|row| row.try_get("", "tenant_id")).collect::<Result<_, _>>().store()?
    } else {
        task::Entity::find()
            .select_only()
            .column(task::Column::TenantId)
            .distinct()
            .filter(task::Column::Status.eq(TaskStatus::Open.as_str()))
            .filter(
                Condition::any()
                    .add(task::Column::OverdueAnnouncedAt.is_null().and(task::Column::DueAt.lte(now)))
                    .add(task::Column::SupervisorsAnnouncedAt.is_null().and(task::Column::DueAt.lte(escalate_before))),
            )
            .into_tuple()
            .all(conn)
            .await
            .store()?
    };
    Ok(ids.into_iter().map(TenantId::from_uuid).collect())
}

/// An overdue task the sweeper claimed to announce: ids, kind and deadline only (never the title).
#[derive(Clone, Copy, Debug)]
pub struct Overdue {
    /// The task.
    pub id: Uuid,
    /// Its case, if any.
    pub case_id: Option<Uuid>,
    /// Its kind.
    pub kind: TaskKind,
    /// Its assignee.
    pub assigned_to: UserId,
    /// Its deadline.
    pub due_at: DateTime<Utc>,
}

/// Which announcement a claim is for.
#[derive(Clone, Copy)]
enum Announcement {
    /// To the assignee, once the deadline passed.
    Assignee,
    /// To the supervisors, once the grace passed too.
    Supervisors,
}

/// Claims up to `limit` open tasks due by `due_by` whose `announcement` is not yet made, and marks
/// it made at `now`: one `UPDATE … WHERE id IN (SELECT … FOR UPDATE SKIP LOCKED) AND <not yet
/// made> RETURNING`, so two replicas sweeping at once never claim the same task (PostgreSQL skips
/// the rows the other holds and rechecks the condition; SQLite writes one transaction at a time).
async fn claim(
    tx: &TenantTx,
    announcement: Announcement,
    due_by: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Overdue>, StoreError> {
    let column = match announcement {
        Announcement::Assignee => task::Column::OverdueAnnouncedAt,
        Announcement::Supervisors => task::Column::SupervisorsAnnouncedAt,
    };
    let tenant = tx.tenant_id().as_uuid();
    let due = Condition::all()
        .add(task::Column::TenantId.eq(tenant))
        .add(task::Column::Status.eq(TaskStatus::Open.as_str()))
        .add(column.is_null())
        .add(task::Column::DueAt.lte(due_by));
    let mut candidates = task::Entity::find()
        .select_only()
        .column(task::Column::Id)
        .filter(due.clone())
        .order_by_asc(task::Column::DueAt)
        .limit(limit)
        .into_query();
    if tx.raw().get_database_backend() == DbBackend::Postgres {
        candidates.lock_with_behavior(LockType::Update, LockBehavior::SkipLocked);
    }
    let claimed = task::Entity::update_many()
        .col_expr(column, Expr::value(Some(now)))
        .filter(due)
        .filter(task::Column::Id.in_subquery(candidates))
        .exec_with_returning(tx.raw())
        .await
        .store()?;
    claimed
        .into_iter()
        .map(|m| {
            Ok(Overdue {
                id: m.id,
                case_id: m.case_id,
                kind: super::decode("tasks.kind", &m.kind, TaskKind::parse)?,
                assigned_to: UserId::from_uuid(m.assigned_to),
                due_at: m.due_at,
            })
        })
        .collect()
}

/// Claims up to `limit` open tasks past their deadline at `now` not yet announced to their
/// assignee, marking them announced.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn claim_overdue(tx: &TenantTx, now: DateTime<Utc>, limit: u64) -> Result<Vec<Overdue>, StoreError> {
    claim(tx, Announcement::Assignee, now, now, limit).await
}

/// Claims up to `limit` open tasks whose deadline is before `escalate_before` (now less the
/// grace) not yet announced to the supervisors, marking them announced at `now`.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn claim_escalations(
    tx: &TenantTx,
    escalate_before: DateTime<Utc>,
    now: DateTime<Utc>,
    limit: u64,
) -> Result<Vec<Overdue>, StoreError> {
    claim(tx, Announcement::Supervisors, escalate_before, now, limit).await
}
