//! Examples for every JSON response, built from the response's own schema, so a developer sees
//! the shape of every answer filled in and spectral (`oas3-valid-media-example`) proves each
//! example valid against its schema. Values follow the field's name where it says what it holds
//! (an email, a date of birth, a division code), else its type, format and first enum value.

use serde_json::{Map, Value, json};
use utoipa::openapi::{OpenApi, RefOr};

const DEPTH: usize = 12;

fn by_name(field: &str) -> Option<Value> {
    Some(match field {
        "given_name" => json!("Ana"),
        "family_name" => json!("Silva"),
        "display_name" => json!("Ana Case"),
        "name" => json!("Toronto Police Service"),
        "short_name" => json!("TPS"),
        "email" => json!("ana@vst.example"),
        "phone" => json!("+1 416 555 0100"),
        "slug" => json!("vst"),
        "code" => json!("51"),
        "date_of_birth" => json!("1994-03-02"),
        "preferred_language" => json!("Portuguese"),
        "address" => json!("100 Queen St W, Toronto"),
        "notes" | "body" => json!("Met at 51 Division; safe to call after 6 pm."),
        "reason" | "return_reason" => json!("Goals met; connected with shelter services."),
        "access_token" => json!("eyJhbGciOiJFZERTQSIsImtpZCI6IjAxOTM2ZjFlIn0.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl"),
        "refresh_token" => json!("rt1.01936f1e00007000800000000000000a.q3v9WkqZ1bM4h2oT8yJrXc5uE0sLdPa7nGfK6tRwYiB"),
        "token_type" => json!("Bearer"),
        "content_hash" => json!("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        "next_cursor" => json!("eyJhZnRlciI6IjAxOTM2ZjFlLTAwMDAtNzAwMC04MDAwLTAwMDAwMDAwMDAwMSJ9"),
        "fiscal_quarter" => json!("2026-Q2"),
        "month" => json!("2026-07"),
        "agency" => json!("vst"),
        "program" => json!("exit-route"),
        "division" => json!("51"),
        "age_band" => json!("25-34"),
        "fiscal_year" => json!(2026),
        "quarter" => json!(2),
        "version" | "report_version" => json!(1),
        _ => return None,
    })
}

fn resolve<'a>(schema: &'a Value, components: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let name = reference.rsplit('/').next().unwrap_or_default();
            components.get(name).map_or(schema, |target| resolve(target, components))
        }
        None => schema,
    }
}

fn types(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn example(field: &str, schema: &Value, components: &Value, depth: usize) -> Value {
    let schema = resolve(schema, components);
    if let Some(given) = schema.get("example") {
        return given.clone();
    }
    if let Some(first) = schema.get("enum").and_then(Value::as_array).and_then(|e| e.iter().find(|v| !v.is_null())) {
        return first.clone();
    }
    if let Some(parts) = schema.get("allOf").and_then(Value::as_array) {
        // Every part holds: merge their examples (a flattened struct is an allOf of objects).
        let mut merged = Map::new();
        for part in parts {
            if let Value::Object(fields) = example(field, part, components, depth) {
                merged.extend(fields);
            }
        }
        return Value::Object(merged);
    }
    for combinator in ["oneOf", "anyOf"] {
        if let Some(variants) = schema.get(combinator).and_then(Value::as_array) {
            let chosen = variants.iter().find(|v| types(resolve(v, components)) != ["null"]);
            return chosen.map_or(Value::Null, |v| example(field, v, components, depth));
        }
    }
    let kinds = types(schema);
    if kinds.contains(&"object") || schema.get("properties").is_some() {
        if depth == 0 {
            return json!({});
        }
        let mut out = Map::new();
        for (name, property) in schema.get("properties").and_then(Value::as_object).into_iter().flatten() {
            out.insert(name.clone(), example(name, property, components, depth - 1));
        }
        return Value::Object(out);
    }
    if kinds.contains(&"array") {
        let items = schema.get("items").cloned().unwrap_or(Value::Null);
        return if depth == 0 || items.is_null() {
            json!([])
        } else {
            json!([example(field, &items, components, depth - 1)])
        };
    }
    if let Some(value) = by_name(field)
        && (kinds.contains(&"string") && value.is_string() || kinds.contains(&"integer") && value.is_i64())
    {
        return value;
    }
    match (kinds.iter().find(|k| **k != "null").copied(), schema.get("format").and_then(Value::as_str)) {
        (Some("string"), Some("uuid")) => json!("01936f1e-0000-7000-8000-000000000001"),
        (Some("string"), Some("date-time")) => json!("2026-11-28T14:05:00Z"),
        (Some("string"), Some("date")) => json!("2026-11-28"),
        (Some("string"), _) => json!("text"),
        (Some("integer"), _) => schema.get("minimum").cloned().unwrap_or(json!(1)),
        (Some("number"), _) => json!(1.5),
        (Some("boolean"), _) => json!(false),
        _ => Value::Null,
    }
}

/// Adds an example to every JSON success response that has none.
pub fn apply(doc: &mut OpenApi) {
    let components = serde_json::to_value(&doc.components).unwrap_or_default();
    let schemas = components.get("schemas").cloned().unwrap_or_default();
    for item in doc.paths.paths.values_mut() {
        for op in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            for (status, response) in &mut op.responses.responses {
                let RefOr::T(response) = response else { continue };
                if !status.starts_with('2') {
                    continue;
                }
                if let Some(RefOr::T(content)) = response.content.get_mut("application/json")
                    && content.example.is_none()
                    && let Some(schema) = &content.schema
                {
                    let schema = serde_json::to_value(schema).unwrap_or_default();
                    content.example = Some(example("", &schema, &schemas, DEPTH));
                }
            }
        }
    }
}
