//! Figures computed in SQL from the de-identified facts, on SQLite and PostgreSQL alike.
//!
//! One statement answers one question: a `UNION ALL` of one `GROUP BY` per subset of the grouped
//! dimensions, the finest first, so the answer holds every interior cell and every margin that
//! suppression must reason about. Each cell carries its figure and the number of distinct people
//! it rests on. Percentiles are nearest-rank, computed with window functions that both backends
//! have. Nothing is loaded into the service but the cells.

use chrono::NaiveDate;
use domain::TenantId;
use domain::reporting::{Dimension, Measure, Metric, NOT_RECORDED};
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
/// is its tenant id as text (hex on SQLite, where ids are stored as 16 bytes).
fn dimension_sql(backend: DbBackend, dimension: Dimension) -> String {
    let column = match dimension {
        Dimension::Agency => {
            return match backend {
                DbBackend::Postgres => "CAST(tenant_id AS text)".to_owned(),
                _ => "lower(hex(tenant_id))".to_owned(),
            };
        }
        Dimension::FiscalQuarterOf => return "fiscal_quarter".to_owned(),
        Dimension::Month => return "month".to_owned(),
        Dimension::Program => "program",
        Dimension::VictimizationType => "victimization_type",
        Dimension::Division => "division",
        Dimension::ServiceType => "service_type",
        Dimension::Gender => "gender",
        Dimension::AgeBand => "age_band",
        Dimension::Urgency => "urgency",
    };
    format!("COALESCE({column}, '{NOT_RECORDED}')")
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
    if matches!(question.metric.measure(), Measure::PercentileOfMinutes(_)) {
        sql.push_str(" AND minutes IS NOT NULL");
    }
    sql
}

/// One `SELECT` for the cells that group by the dimensions in `mask` (bit i: `group_by[i]`).
fn branch(question: &Question, mask: usize, binds: &mut Binds) -> String {
    let exprs: Vec<String> = question.group_by.iter().map(|&d| dimension_sql(binds.backend, d)).collect();
    let grouped: Vec<usize> = (0..exprs.len()).filter(|i| mask & (1 << i) != 0).collect();
    let where_sql = filter(question, binds);
    match question.metric.measure() {
        Measure::PercentileOfMinutes(p) => {
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
                "SELECT {outer}CAST(MIN(CASE WHEN rn = (n * {p} + 99) / 100 THEN minutes END) AS BIGINT) AS value, \
                 COUNT(DISTINCT subject) AS people FROM (SELECT {inner}minutes, subject, \
                 ROW_NUMBER() OVER ({partition} ORDER BY minutes) AS rn, COUNT(*) OVER ({partition}) AS n \
                 FROM reporting_facts WHERE {where_sql}) ranked{group}",
                outer = outer_cols.iter().map(|c| format!("{c}, ")).collect::<String>(),
                inner = inner_cols.iter().map(|c| format!("{c}, ")).collect::<String>(),
            )
        }
        measure => {
            let value = match measure {
                Measure::DistinctPeople => "COUNT(DISTINCT subject)",
                Measure::SumOfAmounts => "CAST(COALESCE(SUM(amount_cents), 0) AS BIGINT)",
                _ => "COUNT(*)",
            };
            let cols: Vec<String> = (0..exprs.len())
                .map(|i| if grouped.contains(&i) { format!("{} AS d{i}", exprs[i]) } else { format!("NULL AS d{i}") })
                .collect();
            let group = if grouped.is_empty() {
                String::new()
            } else {
                format!(" GROUP BY {}", grouped.iter().map(|&i| exprs[i].clone()).collect::<Vec<_>>().join(", "))
            };
            format!(
                "SELECT {cols}{value} AS value, COUNT(DISTINCT subject) AS people FROM reporting_facts WHERE {where_sql}{group}",
                cols = cols.iter().map(|c| format!("{c}, ")).collect::<String>(),
            )
        }
    }
}

/// The statement that answers `question`, with its bound values (also what the benchmark runs
/// in `psql`, through `vcao aggregates-sql`).
#[must_use]
pub fn statement(backend: DbBackend, question: &Question) -> Statement {
    let mut binds = Binds { backend, values: Vec::new() };
    let dims = question.group_by.len();
    // Finest grouping first: its columns carry the types the later NULLs take.
    let branches: Vec<String> = (0..(1_usize << dims)).rev().map(|mask| branch(question, mask, &mut binds)).collect();
    Statement::from_sql_and_values(backend, branches.join(" UNION ALL "), binds.values)
}

/// The statement for PostgreSQL (or SQLite) with its values inlined, for running by hand.
#[must_use]
pub fn printable_sql(question: &Question, postgres: bool) -> String {
    let backend = if postgres { DbBackend::Postgres } else { DbBackend::Sqlite };
    statement(backend, question).to_string()
}

/// Computes the cells of `question`: interior cells and every margin.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn compute(tx: &TenantTx, question: &Question) -> Result<Vec<RawCell>, StoreError> {
    let backend = tx.raw().get_database_backend();
    let rows = tx.raw().query_all_raw(statement(backend, question)).await.store()?;
    let dims = question.group_by.len();
    rows.into_iter()
        .map(|row| {
            let key = (0..dims).map(|i| row.try_get::<Option<String>>("", &format!("d{i}"))).collect::<Result<_, _>>();
            Ok(RawCell {
                key: key.store()?,
                value: row.try_get::<Option<i64>>("", "value").store()?,
                people: row.try_get::<i64>("", "people").store()?,
            })
        })
        .collect()
}
