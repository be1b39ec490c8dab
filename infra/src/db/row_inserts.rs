//! Several rows of one table inserted with SQL whose text does not depend on how many rows there
//! are.
//!
//! The driver prepares each distinct statement text once per connection and keeps it, with its
//! parameters' types, in a cache of up to 100 statements per connection. A multi-row
//! `INSERT … VALUES` has a text of its own for every row count, so a list page of 1 to 200
//! results (one audit event each) or a referral to 1 to n workers on duty (one event each) would
//! fill every connection's cache with statements that differ only in their count: memory that
//! grows with the variety of the traffic (the audit sealer's version of this grew the 5-minute
//! soak by 14 %). Instead:
//! - PostgreSQL: one insert that reads its rows from one `jsonb` parameter with
//!   `jsonb_populate_recordset`, typed by the table's own row type: one text, one round trip;
//! - SQLite: one single-row insert per row; its statements cost no round trip.

use chrono::SecondsFormat;
use sea_orm::sea_query::{Alias, Expr, Func, InsertStatement, Query, Value};
use sea_orm::{ActiveModelTrait, ActiveValue, DbBackend, EntityName, EntityTrait, IdenStatic, Iterable, QueryTrait};

/// The inserts that write `rows` on `backend`: see the module documentation.
pub(super) fn inserts<A: ActiveModelTrait>(backend: DbBackend, rows: Vec<A>) -> Vec<InsertStatement> {
    if rows.is_empty() {
        return Vec::new();
    }
    if backend == DbBackend::Postgres
        && let Some(insert) = from_json(&rows)
    {
        return vec![insert];
    }
    rows.into_iter().map(|row| A::Entity::insert(row).into_query()).collect()
}

/// `INSERT INTO t (columns) SELECT columns FROM jsonb_populate_recordset(NULL::t, $1)`, or `None`
/// when the rows do not set the same columns or hold a kind of value this does not write as JSON
/// (the caller then inserts them one by one).
fn from_json<A: ActiveModelTrait>(rows: &[A]) -> Option<InsertStatement> {
    let all_columns: Vec<<A::Entity as EntityTrait>::Column> = <A::Entity as EntityTrait>::Column::iter().collect();
    // The columns the first row sets; every other row must set the same ones.
    let set: Vec<bool> = all_columns.iter().map(|column| !rows[0].is_not_set(*column)).collect();
    let mut objects = Vec::with_capacity(rows.len());
    for row in rows {
        let mut object = serde_json::Map::with_capacity(all_columns.len());
        for (column, in_insert) in all_columns.iter().zip(&set) {
            match (row.get(*column), in_insert) {
                (ActiveValue::Set(value) | ActiveValue::Unchanged(value), true) => {
                    object.insert(column.as_str().to_owned(), json_of(value)?);
                }
                (ActiveValue::NotSet, false) => {}
                _ => return None,
            }
        }
        objects.push(serde_json::Value::Object(object));
    }
    let columns: Vec<_> = all_columns.into_iter().zip(set).filter_map(|(column, set)| set.then_some(column)).collect();
    let table = A::Entity::default();
    // The table's name comes from its entity, never from input.
    let row_type = Expr::cust(format!("NULL::\"{}\"", table.table_name()));
    let rows_param = Expr::val(Value::Json(Some(Box::new(serde_json::Value::Array(objects)))));
    let select = Query::select()
        .columns(columns.iter().copied())
        .from_function(Func::cust("jsonb_populate_recordset").arg(row_type).arg(rows_param), Alias::new("r"))
        .to_owned();
    let mut insert = Query::insert();
    insert.into_table(table).columns(columns).select_from(select).ok()?;
    Some(insert)
}

/// A column's value as `jsonb_populate_recordset` reads it back into the column's type: text as
/// a string, a uuid or a time in its text form (times to the microsecond, as stored), bytes in
/// `bytea`'s hex form, numbers as numbers. `None` for kinds of value no appended table uses.
fn json_of(value: Value) -> Option<serde_json::Value> {
    use serde_json::Value as Json;
    Some(match value {
        Value::String(v) => v.map_or(Json::Null, Json::String),
        Value::Uuid(v) => v.map_or(Json::Null, |id| Json::String(id.to_string())),
        Value::ChronoDateTimeUtc(v) => {
            v.map_or(Json::Null, |at| Json::String(at.to_rfc3339_opts(SecondsFormat::Micros, true)))
        }
        Value::Bytes(v) => v.map_or(Json::Null, |bytes| Json::String(format!("\\x{}", hex::encode(bytes)))),
        Value::Bool(v) => v.map_or(Json::Null, Json::Bool),
        Value::SmallInt(v) => v.map_or(Json::Null, Json::from),
        Value::Int(v) => v.map_or(Json::Null, Json::from),
        Value::BigInt(v) => v.map_or(Json::Null, Json::from),
        _ => return None,
    })
}
