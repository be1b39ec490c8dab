//! Protected releases: the facts a release is built from, its stored chunks, and the lease one
//! replica holds while building it (migration `m20261203_000012`).
//!
//! The builder works as the nil tenant ([`BUILDER`]) with its transaction widened to all agencies,
//! so row-level security admits every agency's facts and the release rows. Requests read chunks
//! only: the ministry's widened transaction every chunk, an agency's the chunks of its own cells.
//!
//! A chunk's body is JSON: one array per cell, `[node, [labels...], [figures...]]`, where the node
//! is the lattice's code (0 the year, 1–4 quarters, 5–16 months from April), the labels are the
//! values of the chunk's dimensions in `PLAIN` order, and each metric's figure (in `Metric::ALL`
//! order) is a number, `null` for withheld, or `false` where the metric has no facts. Labels
//! rather than codes: a chunk reads on its own, with no dictionary beside it.

use std::collections::HashMap;

use chrono::{DateTime, NaiveDate, Utc};
use domain::TenantId;
use domain::reporting::release::answer::ChunkCell;
use domain::reporting::release::{CellKey, FactInput, FamilyMask, Figure, Level, Lineage, Node, PLAIN, Tabulation};
use domain::reporting::{FactKind, FiscalQuarter, METRICS};
use sea_orm::{ConnectionTrait, DbBackend, Statement, Value};
use serde_json::Value as Json;
use uuid::Uuid;

use super::{DbResultExt, StoreError};
use crate::TenantTx;

/// The tenant the builder works as, and that owns every release row: none.
pub const BUILDER: TenantId = TenantId::from_uuid(Uuid::nil());

/// A placeholder in the backend's style, `n` from 1.
fn ph(backend: DbBackend, n: usize) -> String {
    match backend {
        DbBackend::Postgres => format!("${n}"),
        _ => "?".to_owned(),
    }
}

fn statement(tx: &TenantTx, sql: &str, values: Vec<Value>) -> Statement {
    let backend = tx.raw().get_database_backend();
    let mut n = 0;
    let sql = sql
        .split('?')
        .enumerate()
        .map(|(i, part)| {
            if i == 0 {
                part.to_owned()
            } else {
                n += 1;
                format!("{}{part}", ph(backend, n))
            }
        })
        .collect::<String>();
    Statement::from_sql_and_values(backend, sql, values)
}

/// How many facts each agency has in each fiscal year (a widened transaction).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn fact_counts(tx: &TenantTx) -> Result<Vec<(TenantId, i32, i64)>, StoreError> {
    let rows = tx
        .raw()
        .query_all_raw(statement(
            tx,
            "SELECT tenant_id, fiscal_quarter, COUNT(*) AS n FROM reporting_facts GROUP BY tenant_id, fiscal_quarter",
            vec![],
        ))
        .await
        .store()?;
    let mut counts: HashMap<(TenantId, i32), i64> = HashMap::new();
    for row in rows {
        let tenant = TenantId::from_uuid(row.try_get::<Uuid>("", "tenant_id").store()?);
        let quarter: String = row.try_get("", "fiscal_quarter").store()?;
        let year = quarter
            .split('-')
            .next()
            .and_then(|y| y.parse::<i32>().ok())
            .ok_or_else(|| StoreError::Corrupt(format!("fiscal quarter label {quarter:?}")))?;
        *counts.entry((tenant, year)).or_default() += row.try_get::<i64>("", "n").store()?;
    }
    let mut out: Vec<(TenantId, i32, i64)> = counts.into_iter().map(|((t, y), n)| (t, y, n)).collect();
    out.sort_by_key(|&(t, y, _)| (y, t.as_uuid()));
    Ok(out)
}

/// What the builder knows of a fiscal year's release.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReleaseState {
    /// The fiscal year.
    pub fiscal_year: i32,
    /// The facts it was built from (-1 before its first build).
    pub facts: i64,
    /// Its threshold.
    pub threshold: i64,
    /// When it was built.
    pub built_at: Option<DateTime<Utc>>,
    /// Until when a replica holds it to build.
    pub lease_until: Option<DateTime<Utc>>,
}

/// Every release's state (the builder's transaction).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn states(tx: &TenantTx) -> Result<Vec<ReleaseState>, StoreError> {
    let rows = tx
        .raw()
        .query_all_raw(statement(
            tx,
            "SELECT fiscal_year, facts, threshold, built_at, lease_until FROM aggregate_releases \
             WHERE tenant_id = ? ORDER BY fiscal_year",
            vec![BUILDER.as_uuid().into()],
        ))
        .await
        .store()?;
    rows.iter()
        .map(|row| {
            Ok(ReleaseState {
                fiscal_year: row.try_get("", "fiscal_year").store()?,
                facts: row.try_get("", "facts").store()?,
                threshold: row.try_get("", "threshold").store()?,
                built_at: row.try_get("", "built_at").store()?,
                lease_until: row.try_get("", "lease_until").store()?,
            })
        })
        .collect()
}

/// Takes the lease to build `fiscal_year` for `holder` until `until`, when no replica holds it
/// or its lease ran out (making the release's row on its first build). `false` when another
/// holds it.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn claim(
    tx: &TenantTx,
    fiscal_year: i32,
    holder: Uuid,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let owner: Value = BUILDER.as_uuid().into();
    tx.raw()
        .execute_raw(statement(
            tx,
            "INSERT INTO aggregate_releases \
             (tenant_id, id, fiscal_year, facts, threshold, built_at, lease_holder, lease_until) \
             VALUES (?, ?, ?, -1, 0, NULL, NULL, NULL) ON CONFLICT (tenant_id, fiscal_year) DO NOTHING",
            vec![owner.clone(), Uuid::now_v7().into(), fiscal_year.into()],
        ))
        .await
        .store()?;
    let taken = tx
        .raw()
        .execute_raw(statement(
            tx,
            "UPDATE aggregate_releases SET lease_holder = ?, lease_until = ? \
             WHERE tenant_id = ? AND fiscal_year = ? AND (lease_until IS NULL OR lease_until < ?)",
            vec![holder.into(), until.into(), owner, fiscal_year.into(), now.into()],
        ))
        .await
        .store()?
        .rows_affected();
    Ok(taken == 1)
}

/// Extends `holder`'s lease on `fiscal_year` to `until`, while its build runs. `false` when the
/// lease is no longer `holder`'s (it ran out and another replica took it): the build must stop.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn renew_lease(
    tx: &TenantTx,
    fiscal_year: i32,
    holder: Uuid,
    until: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let renewed = tx
        .raw()
        .execute_raw(statement(
            tx,
            "UPDATE aggregate_releases SET lease_until = ? \
             WHERE tenant_id = ? AND fiscal_year = ? AND lease_holder = ?",
            vec![until.into(), BUILDER.as_uuid().into(), fiscal_year.into(), holder.into()],
        ))
        .await
        .store()?
        .rows_affected();
    Ok(renewed == 1)
}

/// Gives `holder`'s lease back without a build (the build failed; another replica may try at once).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn release_lease(tx: &TenantTx, fiscal_year: i32, holder: Uuid) -> Result<(), StoreError> {
    tx.raw()
        .execute_raw(statement(
            tx,
            "UPDATE aggregate_releases SET lease_holder = NULL, lease_until = NULL \
             WHERE tenant_id = ? AND fiscal_year = ? AND lease_holder = ?",
            vec![BUILDER.as_uuid().into(), fiscal_year.into(), holder.into()],
        ))
        .await
        .store()?;
    Ok(())
}

/// A year's facts, tabulated, with what the last build counted of each.
#[derive(Debug)]
pub struct Facts {
    /// The tabulation.
    pub tabulation: Tabulation,
    /// Each fact's id, in the order pushed.
    pub ids: Vec<Uuid>,
    /// The families the last build counts each fact in (all zero without `counted`).
    pub counted: Vec<FamilyMask>,
}

/// The facts of every agency in `fiscal_year`, tabulated (a widened transaction), read one
/// agency at a time so the service holds one agency's rows at once. With `counted`, each fact
/// carries what the last build counted it in (`aggregate_release_counts`); without, none.
///
/// # Errors
/// [`StoreError`] on database failure or a fact the tabulation refuses.
pub async fn tabulate(
    tx: &TenantTx,
    fiscal_year: i32,
    agencies: &[TenantId],
    counted: bool,
) -> Result<Facts, StoreError> {
    let first = FiscalQuarter::new(fiscal_year, 1).map_err(|e| StoreError::Corrupt(e.to_string()))?.range().0;
    let last = FiscalQuarter::new(fiscal_year, 4).map_err(|e| StoreError::Corrupt(e.to_string()))?.range().1;
    let last = last.pred_opt().unwrap_or(last);
    let mut out = Facts { tabulation: Tabulation::new(fiscal_year), ids: Vec::new(), counted: Vec::new() };
    for agency in agencies {
        let rows = tx
            .raw()
            .query_all_raw(statement(
                tx,
                "SELECT f.id, f.kind, f.occurred_on, f.program, f.victimization_type, f.division, f.service_type, \
                 f.urgency, f.gender, f.age_band, f.amount_cents, f.minutes, f.business_days, f.subject, c.families \
                 FROM reporting_facts f LEFT JOIN aggregate_release_counts c \
                 ON c.tenant_id = ? AND c.fact_id = f.id \
                 WHERE f.tenant_id = ? AND f.occurred_on >= ? AND f.occurred_on <= ?",
                vec![BUILDER.as_uuid().into(), agency.as_uuid().into(), first.into(), last.into()],
            ))
            .await
            .store()?;
        let agency_label = agency.as_uuid().to_string();
        for row in rows {
            let text = |column: &str| row.try_get::<Option<String>>("", column).store();
            let kind: String = row.try_get("", "kind").store()?;
            let kind = FactKind::parse(&kind).map_err(|e| StoreError::Corrupt(e.to_string()))?;
            let occurred_on: NaiveDate = row.try_get("", "occurred_on").store()?;
            let (program, victimization, division, service_type) =
                (text("program")?, text("victimization_type")?, text("division")?, text("service_type")?);
            let (urgency, gender, age_band) = (text("urgency")?, text("gender")?, text("age_band")?);
            let subject: String = row.try_get("", "subject").store()?;
            let families: Option<i32> = row.try_get("", "families").store()?;
            let families = if counted { FamilyMask::try_from(families.unwrap_or(0)).unwrap_or(0) } else { 0 };
            // Percentiles read one duration per fact: a referral's minutes or a decision's days.
            let minutes: Option<i64> = row.try_get("", "minutes").store()?;
            let business_days: Option<i64> = row.try_get("", "business_days").store()?;
            // In PLAIN order: agency, program, victimization type, division, service type,
            // gender, age band, urgency.
            let plain = [
                Some(agency_label.as_str()),
                program.as_deref(),
                victimization.as_deref(),
                division.as_deref(),
                service_type.as_deref(),
                gender.as_deref(),
                age_band.as_deref(),
                urgency.as_deref(),
            ];
            out.tabulation
                .push(&FactInput {
                    kind,
                    occurred_on,
                    plain,
                    amount_cents: row.try_get("", "amount_cents").store()?,
                    minutes: minutes.or(business_days),
                    subject: &subject,
                    counted: families,
                })
                .map_err(|e| StoreError::Corrupt(e.to_string()))?;
            out.ids.push(row.try_get("", "id").store()?);
            out.counted.push(families);
        }
    }
    Ok(out)
}

/// The blocks `fiscal_year`'s last build left (`None` before the first build, or when they
/// cannot be read: the next build then protects the facts afresh).
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn lineage(tx: &TenantTx, fiscal_year: i32) -> Result<Option<Lineage>, StoreError> {
    let row = tx
        .raw()
        .query_one_raw(statement(
            tx,
            "SELECT lineage FROM aggregate_releases WHERE tenant_id = ? AND fiscal_year = ?",
            vec![BUILDER.as_uuid().into(), fiscal_year.into()],
        ))
        .await
        .store()?;
    let Some(row) = row else { return Ok(None) };
    let text: Option<String> = row.try_get("", "lineage").store()?;
    Ok(text.and_then(|t| serde_json::from_str(&t).ok()))
}

/// The mask of the chunk every release has, with no cells: it says the release was built (its
/// `built_at`), so a year without facts answers empty tables rather than looking unbuilt. Every
/// transaction may read it (`marker_read`).
pub const MARKER_MASK: i32 = -1;

/// One stored chunk: its shape, the agency its cells fix (the nil uuid for the province's), and
/// its body.
#[derive(Clone, Debug)]
pub struct StoredChunk {
    /// Level.
    pub level: Level,
    /// Mask of plain dimensions.
    pub mask: u8,
    /// The agency the cells fix, or nil.
    pub agency: Uuid,
    /// The JSON body.
    pub body: String,
}

/// Encodes cells into chunk bodies, split by the agency they fix when the mask holds the agency.
#[must_use]
pub fn encode(level: Level, mask: u8, cells: &[ChunkCell], dictionaries: &[Vec<String>; 8]) -> Vec<StoredChunk> {
    let mut by_agency: std::collections::BTreeMap<Uuid, Vec<Json>> = std::collections::BTreeMap::new();
    for cell in cells {
        let labels: Vec<Json> = (0..PLAIN.len())
            .filter_map(|d| cell.key.value(d).map(|code| (d, code)))
            .map(|(d, code)| Json::String(dictionaries[d].get(usize::from(code)).cloned().unwrap_or_default()))
            .collect();
        let agency = match cell.key.value(0) {
            Some(code) => {
                dictionaries[0].get(usize::from(code)).and_then(|id| Uuid::parse_str(id).ok()).unwrap_or_default()
            }
            None => Uuid::nil(),
        };
        let figures: Vec<Json> = cell
            .figures
            .iter()
            .map(|f| match f {
                Figure::Value(v) => Json::from(*v),
                Figure::Withheld => Json::Null,
                Figure::Absent => Json::Bool(false),
            })
            .collect();
        let node = node_code(cell.key.node());
        by_agency.entry(agency).or_default().push(Json::Array(vec![
            Json::from(node),
            Json::Array(labels),
            Json::Array(figures),
        ]));
    }
    by_agency
        .into_iter()
        .map(|(agency, cells)| StoredChunk { level, mask, agency, body: Json::Array(cells).to_string() })
        .collect()
}

fn node_code(node: Node) -> u8 {
    match node {
        Node::Year => 0,
        Node::Quarter(q) => q,
        Node::Month(m) => 5 + m,
    }
}

fn node_of_code(code: u64) -> Option<Node> {
    match code {
        0 => Some(Node::Year),
        1..=4 => u8::try_from(code).ok().map(Node::Quarter),
        5..=16 => u8::try_from(code - 5).ok().map(Node::Month),
        _ => None,
    }
}

/// A chunk as an answer reads it: cells whose values are labels, interned into `dictionaries`
/// (shared by every chunk an answer reads, so keys compare across chunks).
///
/// # Errors
/// [`StoreError::Corrupt`] for a body that is not a chunk.
pub fn decode(
    body: &str,
    mask: u8,
    dictionaries: &mut [Vec<String>; 8],
    index: &mut [HashMap<String, u16>; 8],
) -> Result<Vec<ChunkCell>, StoreError> {
    let corrupt = || StoreError::Corrupt("an aggregate release chunk".to_owned());
    let cells: Vec<Json> = serde_json::from_str(body).map_err(|_| corrupt())?;
    let dims: Vec<usize> = (0..PLAIN.len()).filter(|d| mask & (1 << d) != 0).collect();
    cells
        .iter()
        .map(|cell| {
            let [node, labels, figures] = cell.as_array().map(Vec::as_slice).ok_or_else(corrupt)? else {
                return Err(corrupt());
            };
            let node = node.as_u64().and_then(node_of_code).ok_or_else(corrupt)?;
            let labels = labels.as_array().filter(|l| l.len() == dims.len()).ok_or_else(corrupt)?;
            let mut values = [0_u16; 8];
            for (&d, label) in dims.iter().zip(labels) {
                let label = label.as_str().ok_or_else(corrupt)?;
                let next = u16::try_from(dictionaries[d].len()).map_err(|_| corrupt())?;
                values[d] = *index[d].entry(label.to_owned()).or_insert_with(|| {
                    dictionaries[d].push(label.to_owned());
                    next
                });
            }
            // A chunk stored before the newest metrics lists fewer figures: theirs are withheld
            // until the next build (which follows within the build interval).
            let figures = figures.as_array().filter(|f| f.len() <= METRICS).ok_or_else(corrupt)?;
            let mut out = [Figure::Withheld; METRICS];
            for (slot, figure) in out.iter_mut().zip(figures) {
                *slot = match figure {
                    Json::Null => Figure::Withheld,
                    Json::Bool(false) => Figure::Absent,
                    Json::Number(n) => Figure::Value(n.as_i64().ok_or_else(corrupt)?),
                    _ => return Err(corrupt()),
                };
            }
            Ok(ChunkCell { key: CellKey::new(node, mask, &values), figures: out })
        })
        .collect()
}

/// Replaces `fiscal_year`'s release with `chunks`, built from `facts` facts with `threshold`,
/// records what it counts (`counts`: each fact whose families changed, and the `lineage` the next
/// build continues), and gives `holder`'s lease back (the builder's transaction). `false`,
/// writing nothing, when the lease is no longer `holder`'s: another replica took it over.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn save(
    tx: &TenantTx,
    holder: Uuid,
    fiscal_year: i32,
    built: &Built,
    chunks: &[StoredChunk],
    counts: &[(Uuid, FamilyMask)],
    lineage: &Lineage,
) -> Result<bool, StoreError> {
    let owner: Value = BUILDER.as_uuid().into();
    let lineage = serde_json::to_string(lineage).map_err(|e| StoreError::Corrupt(e.to_string()))?;
    // First, so the row is locked (PostgreSQL) or the writer held (SQLite) while the rest changes.
    let held = tx
        .raw()
        .execute_raw(statement(
            tx,
            "UPDATE aggregate_releases \
             SET facts = ?, threshold = ?, built_at = ?, lineage = ?, lease_holder = NULL, lease_until = NULL \
             WHERE tenant_id = ? AND fiscal_year = ? AND lease_holder = ?",
            vec![
                built.facts.into(),
                built.threshold.into(),
                built.at.into(),
                lineage.into(),
                owner.clone(),
                fiscal_year.into(),
                holder.into(),
            ],
        ))
        .await
        .store()?
        .rows_affected();
    if held != 1 {
        return Ok(false);
    }
    let release_id = tx
        .raw()
        .query_one_raw(statement(
            tx,
            "SELECT id FROM aggregate_releases WHERE tenant_id = ? AND fiscal_year = ?",
            vec![owner.clone(), fiscal_year.into()],
        ))
        .await
        .store()?
        .ok_or(StoreError::NotFound)?
        .try_get::<Uuid>("", "id")
        .store()?;
    // Many rows per statement: one round trip per row made a big year's write take minutes.
    for batch in counts.chunks(COUNTS_PER_STATEMENT) {
        let mut values = Vec::with_capacity(batch.len() * 5);
        for (fact, families) in batch {
            values.extend([
                owner.clone(),
                Uuid::now_v7().into(),
                fiscal_year.into(),
                (*fact).into(),
                i32::from(*families).into(),
            ]);
        }
        let rows = vec!["(?, ?, ?, ?, ?)"; batch.len()].join(", ");
        tx.raw()
            .execute_raw(statement(
                tx,
                &format!(
                    "INSERT INTO aggregate_release_counts (tenant_id, id, fiscal_year, fact_id, families) \
                     VALUES {rows} ON CONFLICT (tenant_id, fact_id) DO UPDATE SET families = excluded.families"
                ),
                values,
            ))
            .await
            .store()?;
    }
    tx.raw()
        .execute_raw(statement(
            tx,
            "DELETE FROM aggregate_release_chunks WHERE tenant_id = ? AND fiscal_year = ?",
            vec![owner.clone(), fiscal_year.into()],
        ))
        .await
        .store()?;
    let marker = StoredChunk { level: Level::Year, mask: 0, agency: Uuid::nil(), body: "[]".to_owned() };
    let all: Vec<(&StoredChunk, i32)> =
        chunks.iter().map(|c| (c, i32::from(c.mask))).chain(std::iter::once((&marker, MARKER_MASK))).collect();
    for batch in all.chunks(CHUNKS_PER_STATEMENT) {
        let mut values = Vec::with_capacity(batch.len() * 9);
        for (chunk, mask) in batch {
            values.extend([
                owner.clone(),
                Uuid::now_v7().into(),
                release_id.into(),
                fiscal_year.into(),
                built.at.into(),
                chunk.agency.into(),
                chunk.level.as_str().into(),
                (*mask).into(),
                chunk.body.as_str().into(),
            ]);
        }
        let rows = vec!["(?, ?, ?, ?, ?, ?, ?, ?, ?)"; batch.len()].join(", ");
        tx.raw()
            .execute_raw(statement(
                tx,
                &format!(
                    "INSERT INTO aggregate_release_chunks \
                     (tenant_id, id, release_id, fiscal_year, built_at, agency_id, level, mask, body) VALUES {rows}"
                ),
                values,
            ))
            .await
            .store()?;
    }
    Ok(true)
}

/// Rows per statement when storing what a release counts (5 values a row; PostgreSQL takes at
/// most 65,535 values a statement, SQLite 32,766).
const COUNTS_PER_STATEMENT: usize = 2_000;
/// Chunks per statement (9 values each; a chunk's body can be large, so fewer).
const CHUNKS_PER_STATEMENT: usize = 100;

/// What a release was built from, and when.
#[derive(Clone, Copy, Debug)]
pub struct Built {
    /// How many facts.
    pub facts: i64,
    /// The suppression threshold it was protected with.
    pub threshold: i64,
    /// When the build finished.
    pub at: DateTime<Utc>,
}

/// The chunks of `fiscal_year` an answer needs: each (level, mask), for the province (`agency`
/// `None`: every agency's chunks of a mask that holds the agency) or for one agency. With the
/// time the release was built; `None` when it has not been built.
///
/// # Errors
/// [`StoreError`] on database failure or a corrupt chunk.
pub async fn load(
    tx: &TenantTx,
    fiscal_year: i32,
    shapes: &[(Level, u8)],
    agency: Option<TenantId>,
) -> Result<Option<Loaded>, StoreError> {
    let mut loaded = Loaded::default();
    let mut index: [HashMap<String, u16>; 8] = Default::default();
    let mut any = false;
    for &(level, mask) in shapes {
        let mut sql = "SELECT built_at, body FROM aggregate_release_chunks \
                       WHERE tenant_id = ? AND fiscal_year = ? AND level = ? AND mask = ?"
            .to_owned();
        let mut values: Vec<Value> =
            vec![BUILDER.as_uuid().into(), fiscal_year.into(), level.as_str().into(), i32::from(mask).into()];
        if let Some(agency) = agency {
            sql.push_str(" AND agency_id = ?");
            values.push(agency.as_uuid().into());
        }
        // In agency order, so cells (and answers) come in the same order on every read.
        sql.push_str(" ORDER BY agency_id");
        let rows = tx.raw().query_all_raw(statement(tx, &sql, values)).await.store()?;
        let mut cells = Vec::new();
        for row in rows {
            any = true;
            loaded.built_at = loaded.built_at.max(Some(row.try_get::<DateTime<Utc>>("", "built_at").store()?));
            let body: String = row.try_get("", "body").store()?;
            cells.extend(decode(&body, mask, &mut loaded.dictionaries, &mut index)?);
        }
        loaded.chunks.insert((level, mask), cells);
    }
    if !any {
        // No cell in any shape asked: either the release was never built, or it holds none of
        // these (a year without facts). Its marker says which.
        let row = tx
            .raw()
            .query_one_raw(statement(
                tx,
                "SELECT built_at FROM aggregate_release_chunks WHERE tenant_id = ? AND fiscal_year = ? \
                 AND mask = ?",
                vec![BUILDER.as_uuid().into(), fiscal_year.into(), MARKER_MASK.into()],
            ))
            .await
            .store()?;
        match row {
            Some(row) => loaded.built_at = Some(row.try_get("", "built_at").store()?),
            None => return Ok(None),
        }
    }
    Ok(Some(loaded))
}

/// Whether `fiscal_year`'s release has been built (its marker exists). Any transaction.
///
/// # Errors
/// [`StoreError`] on database failure.
pub async fn is_built(tx: &TenantTx, fiscal_year: i32) -> Result<bool, StoreError> {
    let row = tx
        .raw()
        .query_one_raw(statement(
            tx,
            "SELECT built_at FROM aggregate_release_chunks WHERE tenant_id = ? AND fiscal_year = ? AND mask = ?",
            vec![BUILDER.as_uuid().into(), fiscal_year.into(), MARKER_MASK.into()],
        ))
        .await
        .store()?;
    Ok(row.is_some())
}

/// The chunks an answer read.
#[derive(Clone, Debug, Default)]
pub struct Loaded {
    /// When the release was built.
    pub built_at: Option<DateTime<Utc>>,
    /// The labels the cells' codes index, by plain dimension.
    pub dictionaries: [Vec<String>; 8],
    /// The cells, by shape.
    pub chunks: HashMap<(Level, u8), Vec<ChunkCell>>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chunk_stored_before_the_newest_metrics_withholds_them_until_rebuilt() {
        // The year's total as a build with ten metrics stored it: a value, a withheld figure and
        // no facts among them.
        let old = r#"[[0, [], [7, null, false, 1, 2, 3, 4, 5, 6, 7]]]"#;
        let (mut dictionaries, mut index) = (Default::default(), Default::default());
        let cells = decode(old, 0, &mut dictionaries, &mut index).unwrap_or_else(|e| panic!("{e}"));
        let figures = &cells[0].figures;
        assert_eq!(figures[..3], [Figure::Value(7), Figure::Withheld, Figure::Absent]);
        assert!(figures[10..].iter().all(|f| *f == Figure::Withheld), "{figures:?}");
        let too_many = format!("[[0, [], [{}]]]", vec!["1"; METRICS + 1].join(","));
        assert!(decode(&too_many, 0, &mut dictionaries, &mut index).is_err());
    }
}
