//! Figures computed in SQL from the de-identified facts, on SQLite and PostgreSQL alike.
//!
//! One statement answers one question, with every interior cell and every margin that
//! suppression must reason about. Each cell carries its figure and the number of distinct people
//! it rests on. Percentiles are nearest-rank, computed with window functions that both backends
//! have. Nothing is loaded into the service but the cells.
//!
//! Two forms of the statement give the same cells:
//! - **The portable form** (SQLite, and percentiles everywhere): a `UNION ALL` of one `GROUP BY`
//!   per subset of the grouped dimensions, the finest first. Each branch scans the facts again.
//! - **PostgreSQL's form** for counts, sums and people: one scan with `GROUPING SETS`. When the
//!   question groups by agency, only the sets that include the agency are computed from the
//!   facts; the margins over agencies are sums of those cells. That is exact because a subject is
//!   a pseudonym keyed with its own agency's key (`store::facts`): no person is one subject in
//!   two agencies, so distinct people add up across agencies, as counts and sums do (the
//!   ministry's unit for people is `service_episodes` for this reason). Distinct people are the
//!   expensive part (a sort per cell), and this halves the sets that need them. Text is compared
//!   with the `C` collation: the figures do not depend on an order, and byte comparison is several
//!   times cheaper than the database's locale (`EXPLAIN ANALYZE` and timings:
//!   `docs/benchmarks.md`).

use chrono::NaiveDate;
use domain::TenantId;
use domain::reporting::{Dimension, Duration, Measure, Metric, NOT_RECORDED};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};

use super::{DbResultExt, StoreError};
use crate::TenantTx;

/// Whose facts a question reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Agencies {
    /// One agency's (its supervisors and admins).
    One(TenantId),
    /// Every agency's (the ministry; the transaction must be widened to all agencies).
    All,
}

/// A question for the facts.
#[derive(Clone, Debug)]
pub struct Question {
    /// The figure.
    pub metric: Metric,
    /// Grouped by these, in order.
    pub group_by: Vec<Dimension>,
    /// First day, inclusive (Ontario dates).
    pub from: NaiveDate,
    /// Last day, inclusive.
    pub to: NaiveDate,
    /// Whose facts.
    pub agencies: Agencies,
}

/// One cell of the answer: a value per grouped dimension (`None` where the cell totals over it;
/// the agency as its tenant id), the figure (`None` for a percentile of nothing), and the
/// distinct people it rests on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RawCell {
    /// Dimension values, in `group_by` order.
    pub key: Vec<Option<String>>,
    /// The figure.
    pub value: Option<i64>,
    /// Distinct people.
    pub people: i64,
}

/// The SQL expression of a dimension's value. Missing values group as `not_recorded`; the agency
/// is its tenant id as text (hex on SQLite, where ids are stored as 16 bytes). On PostgreSQL text
/// groups bytewise (`COLLATE "C"`): grouping needs equality, not the locale's order.
fn dimension_sql(backend: DbBackend, dimension: Dimension) -> String {
    let column = match dimension {
        Dimension::Agency => {
            return match backend {
                DbBackend::Postgres => "CAST(tenant_id AS text)".to_owned(),
                _ => "lower(hex(tenant_id))".to_owned(),
            };
        }
        Dimension::FiscalQuarterOf => "fiscal_quarter".to_owned(),
        Dimension::Month => "month".to_owned(),
        Dimension::Program => recorded("program"),
        Dimension::VictimizationType => recorded("victimization_type"),
        Dimension::Division => recorded("division"),
        Dimension::ServiceType => recorded("service_type"),
        Dimension::Gender => recorded("gender"),
        Dimension::AgeBand => recorded("age_band"),
        Dimension::Urgency => recorded("urgency"),
    };
    match backend {
        DbBackend::Postgres => format!("{column} COLLATE \"C\""),
        _ => column,
    }
}

/// A column that may be missing, with missing values as `not_recorded`.
fn recorded(column: &str) -> String {
    format!("COALESCE({column}, '{NOT_RECORDED}')")
}

/// What PostgreSQL's form groups a dimension by: the agency by its uuid (16 bytes to compare,
/// not 36 characters), shown as text; anything else by the value it shows.
fn grouping_sql(dimension: Dimension) -> String {
    match dimension {
        Dimension::Agency => "tenant_id".to_owned(),
        other => dimension_sql(DbBackend::Postgres, other),
    }
}

/// Distinct people. On PostgreSQL the pseudonyms (hex) are compared bytewise.
fn people_sql(backend: DbBackend) -> &'static str {
    match backend {
        DbBackend::Postgres => "COUNT(DISTINCT subject COLLATE \"C\")",
        _ => "COUNT(DISTINCT subject)",
    }
}

/// The figure of a measure that is not a percentile.
fn value_sql(backend: DbBackend, measure: Measure) -> &'static str {
    match measure {
        Measure::DistinctPeople => people_sql(backend),
        Measure::SumOfAmounts => "CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT)",
        Measure::Events | Measure::Percentile(_) => "COUNT(*)",
    }
}

/// The column a percentile metric's durations are in.
const fn duration_column(duration: Duration) -> &'static str {
    match duration {
        Duration::Minutes => "minutes",
        Duration::BusinessDays => "business_days",
    }
}

/// Placeholders in the backend's style, numbered across the whole statement.
struct Binds {
    backend: DbBackend,
    values: Vec<Value>,
}

impl Binds {
    fn push(&mut self, value: Value) -> String {
        self.values.push(value);
        match self.backend {
            DbBackend::Postgres => format!("${}", self.values.len()),
            _ => "?".to_owned(),
        }
    }
}

fn filter(question: &Question, binds: &mut Binds) -> String {
    let kinds: Vec<String> =
        question.metric.kinds().iter().map(|k| binds.push(Value::String(Some(k.as_str().to_owned())))).collect();
    let mut sql = format!(
        "kind IN ({}) AND occurred_on >= {} AND occurred_on <= {}",
        kinds.join(", "),
        binds.push(question.from.into()),
        binds.push(question.to.into()),
    );
    if let Agencies::One(tenant) = question.agencies {
        sql.push_str(&format!(" AND tenant_id = {}", binds.push(tenant.as_uuid().into())));
    }
    if let Some(service_type) = question.metric.service_type_filter() {
        sql.push_str(&format!(" AND service_type = {}", binds.push(service_type.into())));
    }
    if let Some(duration) = question.metric.duration() {
        sql.push_str(&format!(" AND {} IS NOT NULL", duration_column(duration)));
    }
    sql
}

/// The dimensions a grouping set holds: `mask` has bit i set for `group_by[i]`.
fn members(mask: usize, dims: usize) -> impl Iterator<Item = usize> {
    (0..dims).filter(move |i| mask & (1 << i) != 0)
}

/// The portable form's `SELECT` for the cells that group by the dimensions in `mask` (bit i:
/// `group_by[i]`).
fn branch(question: &Question, mask: usize, binds: &mut Binds) -> String {
    let exprs: Vec<String> = question.group_by.iter().map(|&d| dimension_sql(binds.backend, d)).collect();
    let grouped: Vec<usize> = members(mask, exprs.len()).collect();
    let people = people_sql(binds.backend);
    let where_sql = filter(question, binds);
    match question.metric.measure() {
        Measure::Percentile(p) => {
            let minutes = question.metric.duration().map_or("minutes", duration_column);
            let inner_cols: Vec<String> = grouped.iter().map(|&i| format!("{} AS g{i}", exprs[i])).collect();
            let partition = if grouped.is_empty() {
                String::new()
            } else {
                format!("PARTITION BY {}", grouped.iter().map(|&i| exprs[i].clone()).collect::<Vec<_>>().join(", "))
            };
            let outer_cols: Vec<String> = (0..exprs.len())
                .map(|i| if grouped.contains(&i) { format!("g{i} AS d{i}") } else { format!("NULL AS d{i}") })
                .collect();
            let group = if grouped.is_empty() {
                String::new()
            } else {
                format!(" GROUP BY {}", grouped.iter().map(|&i| format!("g{i}")).collect::<Vec<_>>().join(", "))
            };
            format!(
                "SELECT {outer}CAST(MIN(CASE WHEN rn = (n * {p} + 99) / 100 THEN {minutes} END) AS BIGINT) AS value, \
                 {people} AS people FROM (SELECT {inner}{minutes}, subject, \
                 ROW_NUMBER() OVER ({partition} ORDER BY {minutes}) AS rn, COUNT(*) OVER ({partition}) AS n \
                 FROM reporting_facts WHERE {where_sql}) ranked{group}",
                outer = outer_cols.iter().map(|c| format!("{c}, ")).collect::<String>(),
                inner = inner_cols.iter().map(|c| format!("{c}, ")).collect::<String>(),
            )
        }
        measure => {
            let value = value_sql(binds.backend, measure);
            let cols: Vec<String> = (0..exprs.len())
                .map(|i| if grouped.contains(&i) { format!("{} AS d{i}", exprs[i]) } else { format!("NULL AS d{i}") })
                .collect();
            let group = if grouped.is_empty() {
                String::new()
            } else {
                format!(" GROUP BY {}", grouped.iter().map(|&i| exprs[i].clone()).collect::<Vec<_>>().join(", "))
            };
            format!(
                "SELECT {cols}{value} AS value, {people} AS people FROM reporting_facts WHERE {where_sql}{group}",
                cols = cols.iter().map(|c| format!("{c}, ")).collect::<String>(),
            )
        }
    }
}

/// The portable form: one branch per subset of the dimensions, finest first (its columns carry
/// the types the later NULLs take).
fn union_sql(question: &Question, binds: &mut Binds) -> String {
    let dims = question.group_by.len();
    let branches: Vec<String> = (0..(1_usize << dims)).rev().map(|mask| branch(question, mask, binds)).collect();
    branches.join(" UNION ALL ")
}

/// PostgreSQL's form for a measure that is not a percentile, grouping by at least one dimension.
fn grouping_sets_sql(question: &Question, binds: &mut Binds) -> String {
    let dims = question.group_by.len();
    let groups: Vec<String> = question.group_by.iter().map(|&d| grouping_sql(d)).collect();
    let shown: Vec<String> = question.group_by.iter().map(|&d| dimension_sql(DbBackend::Postgres, d)).collect();
    let agency = question.group_by.iter().position(|&d| d == Dimension::Agency).map(|i| 1_usize << i);
    // The sets computed from the facts: every subset, or with the agency only those that hold it.
    let masks: Vec<usize> =
        (0..(1_usize << dims)).rev().filter(|mask| agency.is_none_or(|bit| mask & bit != 0)).collect();
    let set = |mask: usize| {
        let held: Vec<&str> = members(mask, dims).map(|i| groups[i].as_str()).collect();
        format!("({})", held.join(", "))
    };
    let columns: String = shown.iter().enumerate().map(|(i, e)| format!("{e} AS d{i}, ")).collect();
    let value = value_sql(DbBackend::Postgres, question.metric.measure());
    let people = people_sql(DbBackend::Postgres);
    let where_sql = filter(question, binds);
    let sets = masks.iter().map(|&m| set(m)).collect::<Vec<_>>().join(", ");
    let Some(agency) = agency else {
        return format!(
            "SELECT {columns}{value} AS value, {people} AS people FROM reporting_facts WHERE {where_sql} \
             GROUP BY GROUPING SETS ({sets})"
        );
    };
    // GROUPING(…) has a bit per dimension, the first the highest, set where the cell totals over it.
    let grouping_of =
        |mask: usize| (0..dims).filter(|i| mask & (1 << i) == 0).map(|i| 1_usize << (dims - 1 - i)).sum::<usize>();
    let d_columns: Vec<String> = (0..dims).map(|i| format!("d{i}")).collect();
    let mut sql = format!(
        "WITH cells AS (SELECT {columns}{value} AS value, {people} AS people, GROUPING({}) AS rolled_up \
         FROM reporting_facts WHERE {where_sql} GROUP BY GROUPING SETS ({sets})) \
         SELECT {}, value, people FROM cells",
        groups.join(", "),
        d_columns.join(", "),
    );
    for mask in (0..(1_usize << dims)).rev().filter(|mask| mask & agency == 0) {
        let cols: String = (0..dims)
            .map(|i| if mask & (1 << i) != 0 { format!("d{i}, ") } else { format!("NULL AS d{i}, ") })
            .collect();
        let kept: Vec<&str> = members(mask, dims).map(|i| d_columns[i].as_str()).collect();
        let group = if kept.is_empty() { String::new() } else { format!(" GROUP BY {}", kept.join(", ")) };
        sql.push_str(&format!(
            " UNION ALL SELECT {cols}CAST(COALESCE(SUM(value), 0) AS BIGINT) AS value, \
             CAST(COALESCE(SUM(people), 0) AS BIGINT) AS people FROM cells WHERE rolled_up = {}{group}",
            grouping_of(mask | agency),
        ));
    }
    sql
}

/// The statement that answers `question`, with its bound values (also what the benchmark runs
/// in `psql`, through `vcao aggregates-sql`).
#[must_use]
pub fn statement(backend: DbBackend, question: &Question) -> Statement {
    let mut binds = Binds { backend, values: Vec::new() };
    let grouping_sets = backend == DbBackend::Postgres
        && !question.group_by.is_empty()
        && !matches!(question.metric.measure(), Measure::Percentile(_));
    let sql = if grouping_sets { grouping_sets_sql(question, &mut binds) } else { union_sql(question, &mut binds) };
    Statement::from_sql_and_values(backend, sql, binds.values)
}

/// The portable form of the statement, on any backend: what PostgreSQL's form must agree with.
#[must_use]
pub fn portable_statement(backend: DbBackend, question: &Question) -> Statement {
    let mut binds = Binds { backend, values: Vec::new() };
    let sql = union_sql(question, &mut binds);
    Statement::from_sql_and_values(backend, sql, binds.values)
}

/// The statement for PostgreSQL (or SQLite) with its values inlined, for running by hand.
#[must_use]
pub fn printable_sql(question: &Question, postgres: bool) -> String {
    let backend = if postgres { DbBackend::Postgres } else { DbBackend::Sqlite };
    statement(backend, question).to_string()
}

/// Computes the cells of `question`: interior cells and every margin, ordered by their keys.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn compute(tx: &TenantTx, question: &Question) -> Result<Vec<RawCell>, StoreError> {
    let backend = tx.raw().get_database_backend();
    if backend == DbBackend::Postgres {
        // The planner's costs for a scan of millions of facts pass the JIT thresholds, and JIT
        // compiles the statement's expressions afresh on every request: seconds of CPU that the
        // statement did not win back (docs/benchmarks.md, ministry aggregates).
        tx.raw().execute_unprepared("SET LOCAL jit = off").await.store()?;
    }
    cells(tx, statement(backend, question), question.group_by.len()).await
}

/// The cells of the portable form of `question`, on any backend: PostgreSQL's form must give
/// the same (the tests compare them).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn compute_portable(tx: &TenantTx, question: &Question) -> Result<Vec<RawCell>, StoreError> {
    let backend = tx.raw().get_database_backend();
    cells(tx, portable_statement(backend, question), question.group_by.len()).await
}

/// The statement's cells in one order, whatever order the database returned them in (it depends
/// on the plan, parallel workers included): suppression breaks ties by position, and the same
/// table asked twice must withhold the same cells, or two answers together could reveal what
/// each withholds.
async fn cells(tx: &TenantTx, statement: Statement, dims: usize) -> Result<Vec<RawCell>, StoreError> {
    let rows = tx.raw().query_all_raw(statement).await.store()?;
    let mut cells = rows
        .into_iter()
        .map(|row| {
            let key = (0..dims).map(|i| row.try_get::<Option<String>>("", &format!("d{i}"))).collect::<Result<_, _>>();
            Ok(RawCell {
                key: key.store()?,
                value: row.try_get::<Option<i64>>("", "value").store()?,
                people: row.try_get::<i64>("", "people").store()?,
            })
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    cells.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(cells)
}
