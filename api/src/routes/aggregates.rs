//! `GET /aggregates`: de-identified figures for the ministry (every agency) and for an agency's
//! supervisors and admins (their own), computed in SQL from the reporting facts, with small cells
//! withheld (see `domain::reporting::suppression`), as JSON or CSV.

use std::borrow::Cow;
use std::collections::HashMap;

use actix_web::{HttpRequest, HttpResponse, get, http::header, web};
use chrono::{DateTime, NaiveDate, Utc};
use domain::ValidationErrors;
use domain::authz::{Action, Actor};
use domain::reporting::release::answer::{self, ChunkCell};
use domain::reporting::release::{Figure, Level};
use domain::reporting::{Dimension, Metric, ReleasePeriod, Unit, parse_group_by};
use domain::tenant::TenantKind;
use infra::TenantTx;
use infra::cache::AnswerScope;
use infra::store::aggregates::Agencies;
use infra::store::releases;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::authorize;
use crate::error::{ApiError, Problem};
use crate::extract::Authenticated;
use crate::state::AppState;

/// `?metric=&from=&to=&group_by=`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AggregateQuery {
    /// One of `clients_served`, `cases_opened`, `cases_closed`, `referrals`, `services`,
    /// `vqrp_plus_cents`, `minutes_to_accept_p50`, `minutes_to_accept_p90`,
    /// `minutes_to_first_contact_p50`, `minutes_to_first_contact_p90`.
    #[param(required = true)]
    pub metric: Option<String>,
    /// First day (Ontario date, inclusive), `YYYY-MM-DD`: the first day of an Ontario fiscal month, quarter or year
    /// (the fiscal year starts on 1 April).
    #[param(required = true)]
    pub from: Option<String>,
    /// Last day (inclusive), `YYYY-MM-DD`: the last day of the same month, quarter or fiscal year. Any other range
    /// answers `422 period_not_releasable`.
    #[param(required = true)]
    pub to: Option<String>,
    /// Comma list of at most three of `agency`, `program`, `fiscal_quarter`, `month`,
    /// `victimization_type`, `division`, `service_type`, `gender`, `age_band`, `urgency`.
    /// Empty or absent: the grand total only.
    pub group_by: Option<String>,
}

impl AggregateQuery {
    fn parse(&self) -> Result<(Metric, ReleasePeriod, Vec<Dimension>), ApiError> {
        let mut e = ValidationErrors::default();
        let date = |e: &mut ValidationErrors, name: &str, raw: &Option<String>| match raw {
            None => {
                e.add(name, "is required (YYYY-MM-DD)");
                None
            }
            Some(raw) => {
                e.check(name, NaiveDate::parse_from_str(raw, "%Y-%m-%d").map_err(|_| "must be a date YYYY-MM-DD"))
            }
        };
        let metric = match &self.metric {
            None => {
                e.add("metric", "is required");
                None
            }
            Some(raw) => e.check("metric", Metric::parse(raw)),
        };
        let from = date(&mut e, "from", &self.from);
        let to = date(&mut e, "to", &self.to);
        if let (Some(from), Some(to)) = (from, to)
            && to < from
        {
            e.add("to", "must not be before from");
        }
        let group_by = e.check("group_by", parse_group_by(self.group_by.as_deref().unwrap_or("")));
        let (metric, from, to, group_by) = e.finish(|| Some((metric?, from?, to?, group_by?)))?;
        // Only a release period: arbitrary ranges could be subtracted from one another.
        let period = ReleasePeriod::spanning(from, to).map_err(|_| ApiError::PeriodNotReleasable)?;
        Ok((metric, period, group_by))
    }
}

/// One cell of a table: the value of each grouped dimension (a total leaves out the dimensions it
/// sums over), the figure, and whether it is withheld.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AggregateRow {
    /// The agency's slug.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agency: Option<String>,
    /// The program's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub program: Option<String>,
    /// `2026-Q1` (fiscal year starting 1 April 2026, April–June).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fiscal_quarter: Option<String>,
    /// `2026-07`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub month: Option<String>,
    /// The first victimization type recorded on the case or referral.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub victimization_type: Option<String>,
    /// The police division's code.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub division: Option<String>,
    /// The kind of service delivered; present only in cells grouped by `service_type`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub service_type: Option<String>,
    /// Gender as the client describes it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gender: Option<String>,
    /// Age band on the day of the fact.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub age_band: Option<String>,
    /// The referral's urgency; present only in cells grouped by `urgency`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub urgency: Option<String>,
    /// The figure; null when withheld (or a percentile of nothing).
    pub value: Option<i64>,
    /// True when withheld to protect people.
    pub suppressed: bool,
}

impl AggregateRow {
    fn set(&mut self, dimension: Dimension, value: String) {
        let slot = match dimension {
            Dimension::Agency => &mut self.agency,
            Dimension::Program => &mut self.program,
            Dimension::FiscalQuarterOf => &mut self.fiscal_quarter,
            Dimension::Month => &mut self.month,
            Dimension::VictimizationType => &mut self.victimization_type,
            Dimension::Division => &mut self.division,
            Dimension::ServiceType => &mut self.service_type,
            Dimension::Gender => &mut self.gender,
            Dimension::AgeBand => &mut self.age_band,
            Dimension::Urgency => &mut self.urgency,
        };
        *slot = Some(value);
    }

    fn get(&self, dimension: Dimension) -> Option<&str> {
        match dimension {
            Dimension::Agency => self.agency.as_deref(),
            Dimension::Program => self.program.as_deref(),
            Dimension::FiscalQuarterOf => self.fiscal_quarter.as_deref(),
            Dimension::Month => self.month.as_deref(),
            Dimension::VictimizationType => self.victimization_type.as_deref(),
            Dimension::Division => self.division.as_deref(),
            Dimension::ServiceType => self.service_type.as_deref(),
            Dimension::Gender => self.gender.as_deref(),
            Dimension::AgeBand => self.age_band.as_deref(),
            Dimension::Urgency => self.urgency.as_deref(),
        }
    }
}

/// How small cells were withheld.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SuppressionInfo {
    /// The fewest distinct people a published figure rests on.
    pub threshold: i64,
    /// `primary_and_complementary` (counts and sums) or `primary` (percentiles).
    pub method: String,
}

/// A table of figures.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct AggregateTable {
    /// The metric asked for.
    pub metric: String,
    /// What its values count: `people` (distinct people, in one agency's figures),
    /// `service_episodes` (the same count across agencies: a person served by two agencies is
    /// counted by each), `events` (cases, referrals or services; one person may have several),
    /// `cents`, `minutes` or `business_days` (Ontario business days).
    pub unit: String,
    /// First day (inclusive).
    pub from: NaiveDate,
    /// Last day (inclusive).
    pub to: NaiveDate,
    /// The dimensions, in the order asked.
    pub group_by: Vec<String>,
    /// `all_agencies` (ministry) or `agency` (the caller's own).
    pub scope: String,
    /// One row per combination of the grouped dimensions that has any facts.
    pub rows: Vec<AggregateRow>,
    /// Every margin: the totals over one or more dimensions, down to the grand total. A total
    /// leaves out the dimensions it sums over. With no `group_by` the grand total is the one
    /// row of `rows` and this is empty.
    pub totals: Vec<AggregateRow>,
    /// How cells were withheld.
    pub suppression: SuppressionInfo,
}

/// An answer: the table and when it was computed (answers may be served from a cache for up to
/// `VCAO_AGGREGATE_CACHE_SECONDS`).
#[derive(Clone, Debug, Serialize, Deserialize, ToSchema)]
pub struct AggregateResponse {
    /// The table of figures; its fields appear at the top level of the answer.
    #[serde(flatten)]
    pub table: AggregateTable,
    /// When the release the figures are read from was built (they include every fact recorded
    /// before then).
    pub computed_at: DateTime<Utc>,
}

/// The agencies a caller's figures come from.
fn agencies_of(actor: &Actor) -> Agencies {
    if actor.tenant_kind == TenantKind::Ministry { Agencies::All } else { Agencies::One(actor.tenant_id) }
}

/// A question for the release: a metric by some dimensions over a release period, for the
/// ministry (every agency) or one agency's leads.
#[derive(Clone, Debug)]
pub(crate) struct Asked {
    pub metric: Metric,
    pub period: ReleasePeriod,
    pub group_by: Vec<Dimension>,
    pub agencies: Agencies,
}

/// Reads the table answering `asked` from its fiscal year's protected release, in `tx` (widened
/// to every agency for the ministry). Nothing is computed: the cells, their figures and which are
/// withheld were decided once, when the release was built (`crate::releases`), so the same cell
/// reads the same in every answer, whatever the order of the dimensions, the grouping or the
/// metric. `None` when the year's release has not been built yet (see
/// [`crate::releases::ensure_built`]).
///
/// # Errors
/// A question finer than the release holds (422), database failures.
pub(crate) async fn release_table(
    state: &AppState,
    tx: &TenantTx,
    asked: &Asked,
) -> Result<Option<(AggregateTable, DateTime<Utc>)>, ApiError> {
    let (fiscal_year, node) = answer::node_of(asked.period);
    let (slices, agency) = match asked.agencies {
        Agencies::All => (answer::plan(node, &asked.group_by), None),
        Agencies::One(tenant) => (answer::plan_fixing(node, &asked.group_by, answer::AGENCY_BIT), Some(tenant)),
    };
    let slices = slices.map_err(|e| {
        let mut errors = ValidationErrors::default();
        errors.add("group_by", e.to_string());
        ApiError::from(errors)
    })?;
    let mut shapes: Vec<(Level, u8)> = slices.iter().map(|s| (s.level, s.mask)).collect();
    shapes.sort_unstable();
    shapes.dedup();
    let Some(loaded) = releases::load(tx, fiscal_year, &shapes, agency).await? else { return Ok(None) };
    let empty: Vec<ChunkCell> = Vec::new();
    let rows =
        answer::rows(&slices, &asked.group_by, asked.metric, fiscal_year, &loaded.dictionaries, |level, mask| {
            loaded.chunks.get(&(level, mask)).unwrap_or(&empty).as_slice()
        });
    let interior = rows.iter().filter(|r| r.interior).count();
    if interior > domain::reporting::MAX_TABLE_CELLS {
        let mut e = ValidationErrors::default();
        e.add(
            "group_by",
            format!(
                "gives {interior} cells, more than {}; group by fewer dimensions or ask for a shorter period",
                domain::reporting::MAX_TABLE_CELLS
            ),
        );
        return Err(e.into());
    }
    let dims = &asked.group_by;
    // Agencies appear by slug (a cell names its agency by tenant id). Facts are only written by
    // existing agencies; should one ever be missing, its figures still show, under its tenant id
    // (never a person's).
    let slugs = if dims.contains(&Dimension::Agency) {
        infra::store::tenants::slugs_by_id(tx.raw()).await?
    } else {
        HashMap::new()
    };
    let threshold = state.settings.suppression_threshold;
    let mut table_rows = Vec::new();
    let mut totals = Vec::new();
    for answer_row in rows {
        let withheld = answer_row.figure == Figure::Withheld;
        let mut row = AggregateRow {
            value: match answer_row.figure {
                Figure::Value(v) => Some(v),
                Figure::Withheld | Figure::Absent => None,
            },
            suppressed: withheld,
            ..AggregateRow::default()
        };
        for (d, label) in answer_row.labels.into_iter().enumerate() {
            if let Some(label) = label {
                let shown = if dims[d] == Dimension::Agency {
                    uuid::Uuid::parse_str(&label).ok().and_then(|id| slugs.get(&id).cloned()).unwrap_or(label)
                } else {
                    label
                };
                row.set(dims[d], shown);
            }
        }
        if answer_row.interior { table_rows.push(row) } else { totals.push(row) }
    }
    // A table of nothing still has its grand total: zero, which identifies no one (a percentile
    // of nothing is null).
    let has_grand_total =
        if dims.is_empty() { !table_rows.is_empty() } else { totals.iter().any(|r| order_empty(r, dims)) };
    if !has_grand_total {
        let zero = AggregateRow {
            value: (asked.metric.additivity() == domain::reporting::Additivity::Additive).then_some(0),
            ..AggregateRow::default()
        };
        if dims.is_empty() { table_rows.push(zero) } else { totals.push(zero) }
    }
    let order = |row: &AggregateRow| dims.iter().map(|&d| row.get(d).map(str::to_owned)).collect::<Vec<_>>();
    table_rows.sort_by_key(order);
    // Totals: finest first, then by value; the grand total last.
    totals.sort_by_key(|row| {
        let key = order(row);
        (std::cmp::Reverse(key.iter().filter(|v| v.is_some()).count()), key)
    });
    let table = AggregateTable {
        metric: asked.metric.as_str().to_owned(),
        unit: match asked.metric.unit() {
            // Pseudonyms differ between agencies, so across agencies a person served by two is
            // counted by each: service episodes, not people.
            Unit::People if asked.agencies == Agencies::All => "service_episodes",
            Unit::People => "people",
            Unit::Events => "events",
            Unit::Cents => "cents",
            Unit::Minutes => "minutes",
            Unit::BusinessDays => "business_days",
        }
        .to_owned(),
        from: asked.period.first_day(),
        to: asked.period.last_day(),
        group_by: dims.iter().map(|d| d.as_str().to_owned()).collect(),
        scope: match asked.agencies {
            Agencies::All => "all_agencies",
            Agencies::One(_) => "agency",
        }
        .to_owned(),
        rows: table_rows,
        totals,
        suppression: SuppressionInfo {
            threshold,
            method: match asked.metric.additivity() {
                domain::reporting::Additivity::Additive => "primary_and_complementary",
                domain::reporting::Additivity::NotAdditive => "primary",
            }
            .to_owned(),
        },
    };
    Ok(Some((table, loaded.built_at.unwrap_or_else(infra::db::now))))
}

/// Whether `row` names none of `dims`: the grand total.
fn order_empty(row: &AggregateRow, dims: &[Dimension]) -> bool {
    dims.iter().all(|&d| row.get(d).is_none())
}

/// Opens a read transaction that sees the facts `agencies` names.
pub(crate) async fn reporting_read_tx(
    state: &AppState,
    actor: &Actor,
    agencies: Agencies,
) -> Result<TenantTx, ApiError> {
    let tx = infra::db::begin_tenant_read_tx(&state.db, actor).await?;
    if agencies == Agencies::All {
        tx.widen_to_all_agencies().await?;
    }
    Ok(tx)
}

/// A label as it goes into the CSV. A label that a spreadsheet would read as a formula (it starts
/// with `=`, `+`, `-`, `@`, a tab or a carriage return: an agency or program name someone typed)
/// is prefixed with `'`, as OWASP advises for CSV injection, so it shows as text and never runs.
fn neutral(label: &str) -> Cow<'_, str> {
    if label.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        Cow::Owned(format!("'{label}"))
    } else {
        Cow::Borrowed(label)
    }
}

/// The table as CSV (RFC 4180, CRLF, quoted where needed): a `row_type` column (`cell` or
/// `total`), one column per dimension (empty where a total sums over it), then `value` (empty
/// when withheld) and `suppressed`.
fn to_csv(table: &AggregateTable) -> Result<Vec<u8>, ApiError> {
    let failed = |e: &dyn std::fmt::Display| ApiError::Internal(format!("CSV: {e}"));
    let dims: Vec<Dimension> = table.group_by.iter().filter_map(|d| Dimension::parse(d).ok()).collect();
    let mut csv = csv::WriterBuilder::new().terminator(csv::Terminator::CRLF).from_writer(Vec::new());
    let header = std::iter::once("row_type").chain(dims.iter().map(|d| d.as_str())).chain(["value", "suppressed"]);
    csv.write_record(header).map_err(|e| failed(&e))?;
    let lines = table.rows.iter().map(|r| ("cell", r)).chain(table.totals.iter().map(|r| ("total", r)));
    for (kind, row) in lines {
        let labels = dims.iter().map(|&d| neutral(row.get(d).unwrap_or("")));
        let value = row.value.map(|v| v.to_string()).unwrap_or_default();
        let suppressed = if row.suppressed { "true" } else { "false" };
        let record =
            std::iter::once(Cow::Borrowed(kind)).chain(labels).chain([Cow::Owned(value), Cow::Borrowed(suppressed)]);
        csv.write_record(record.map(|field| field.into_owned())).map_err(|e| failed(&e))?;
    }
    csv.into_inner().map_err(|e| failed(&e))
}

fn wants_csv(request: &HttpRequest) -> bool {
    request
        .headers()
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|accept| accept.contains("text/csv"))
}

/// De-identified figures for the ministry and agency leads.
///
/// Counts, sums and response-time percentiles of de-identified reporting facts, grouped by up to three
/// dimensions, with every margin in `totals`. Ministry analysts see every agency; an agency's supervisors and
/// admins see their own. Periods are Ontario fiscal months, quarters and years only (`from` the first day, `to` the
/// last); over a quarter or a month at most two dimensions besides `agency`, `month` and `fiscal_quarter`.
/// Every answer is read from the fiscal year's protected release, built in the background from the facts (at most
/// `VCAO_RELEASE_REFRESH_SECONDS` plus one build behind; `computed_at` says when): the same cell shows the same
/// figure, or is withheld, in every answer, whatever the order of the dimensions or the grouping, and an agency's
/// own figures are the same cells as the ministry's for that agency. A figure is published only when it is a sum of
/// whole groups of at least the threshold's people (default 5), so no combination of answers leads back to fewer;
/// withheld figures are `value: null, suppressed: true`. A percentile also needs that many values on each side of
/// its rank. Send `Accept: text/csv` for the same table as CSV.
#[utoipa::path(
    tag = "reporting",
    operation_id = "get_aggregates",
    params(AggregateQuery),
    responses(
        (status = 200, description = "The table (with `Accept: text/csv`, the same table as CSV)", body = AggregateResponse,
            content(
                (AggregateResponse = "application/json"),
                (String = "text/csv"),
            )),
        (status = 403, description = "Not a ministry analyst, or an agency's supervisor or admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "A missing or unknown metric, a bad group_by (more dimensions than the period's release holds), a table of more than 5,000 cells, or a period that is not an Ontario fiscal month, quarter or year (`period_not_releasable`)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The year's release is being built for the first time by another replica; retry shortly", body = Problem, content_type = "application/problem+json"),
    ),
    security(("bearer" = []))
)]
#[get("/aggregates")]
pub async fn get_aggregates(
    state: web::Data<AppState>,
    caller: Authenticated,
    request: HttpRequest,
    query: web::Query<AggregateQuery>,
) -> Result<HttpResponse, ApiError> {
    let actor = caller.0;
    authorize(&actor, Action::ReadAggregates)?;
    let (metric, period, group_by) = query.parse()?;
    let agencies = agencies_of(&actor);
    let asked = Asked { metric, period, group_by, agencies };
    let scope = match agencies {
        Agencies::All => AnswerScope::AllAgencies,
        Agencies::One(tenant) => AnswerScope::Tenant(tenant),
    };
    let threshold = state.settings.suppression_threshold;
    // Canonical: the same question in any order of its dimensions is one cache entry too.
    let mut canonical = asked.group_by.clone();
    canonical.sort_unstable();
    let cache_key = format!("{}|{}|{:?}|{:?}|{threshold}", metric.as_str(), period.label(), canonical, asked.group_by);
    // The transaction before the cache: beginning it checks the caller's session, which a cached
    // answer must not skip.
    let tx = reporting_read_tx(&state, &actor, agencies).await?;
    let cached = state.answers.get("aggregates", scope, &cache_key).await;
    let response = match cached.and_then(|json| serde_json::from_str::<AggregateResponse>(&json).ok()) {
        Some(hit) => {
            tx.commit().await?;
            hit
        }
        None => {
            let read = release_table(&state, &tx, &asked).await?;
            tx.commit().await?;
            let (table, built_at) = match read {
                Some(read) => read,
                None => {
                    // A new deployment's first question about the year: built now, once.
                    crate::releases::ensure_built(&state, answer::node_of(period).0).await?;
                    let tx = reporting_read_tx(&state, &actor, agencies).await?;
                    let read = release_table(&state, &tx, &asked).await?.ok_or(ApiError::Unavailable)?;
                    tx.commit().await?;
                    read
                }
            };
            let fresh = AggregateResponse { table, computed_at: built_at };
            if let Ok(json) = serde_json::to_string(&fresh) {
                state.answers.put("aggregates", scope, &cache_key, &json).await;
            }
            fresh
        }
    };
    if wants_csv(&request) {
        return Ok(HttpResponse::Ok().content_type("text/csv; charset=utf-8").body(to_csv(&response.table)?));
    }
    Ok(HttpResponse::Ok().json(response))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_a_spreadsheet_would_run_are_neutralised() {
        for label in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tcmd", "\rcmd"] {
            assert_eq!(neutral(label), format!("'{label}"), "{label:?}");
        }
        for label in ["Victim Services Toronto", "a, b", "under-25"] {
            assert_eq!(neutral(label), label, "{label:?}: a dash inside is no formula");
        }
    }

    /// A table of cases opened by program with these rows and totals.
    fn by_program(rows: Vec<AggregateRow>, totals: Vec<AggregateRow>) -> AggregateTable {
        AggregateTable {
            metric: "cases_opened".into(),
            unit: "events".into(),
            from: NaiveDate::default(),
            to: NaiveDate::default(),
            group_by: vec!["program".into()],
            scope: "agency".into(),
            rows,
            totals,
            suppression: SuppressionInfo { threshold: 5, method: "primary_and_complementary".into() },
        }
    }

    /// A reader gets back exactly the neutralised labels, whatever they hold.
    #[test]
    fn every_label_reads_back_as_written() {
        let labels = ["=1+1", "a,b", "say \"hi\"", "two\r\nlines", "\tcmd", "plain", ""];
        let rows = labels
            .iter()
            .map(|l| AggregateRow { program: Some((*l).into()), value: Some(5), ..AggregateRow::default() })
            .collect();
        let table = by_program(rows, Vec::new());
        let bytes = to_csv(&table).unwrap_or_default();
        let mut reader = csv::ReaderBuilder::new().from_reader(bytes.as_slice());
        let read: Vec<String> = reader.records().map(|r| r.map(|r| r[1].to_owned()).unwrap_or_default()).collect();
        let expected: Vec<String> = labels.iter().map(|l| neutral(l).into_owned()).collect();
        assert_eq!(read, expected);
    }

    #[test]
    fn csv_quotes_what_needs_quoting_and_leaves_withheld_values_empty() {
        let table = by_program(
            vec![
                AggregateRow { program: Some("a,b".into()), value: Some(7), ..AggregateRow::default() },
                AggregateRow { program: Some("c".into()), value: None, suppressed: true, ..AggregateRow::default() },
            ],
            vec![AggregateRow { value: Some(9), ..AggregateRow::default() }],
        );
        assert_eq!(
            String::from_utf8(to_csv(&table).unwrap_or_default()).unwrap_or_default(),
            "row_type,program,value,suppressed\r\ncell,\"a,b\",7,false\r\ncell,c,,true\r\ntotal,,9,false\r\n"
        );
    }
}
