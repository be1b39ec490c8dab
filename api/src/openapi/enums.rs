//! The closed sets of names the API uses (victimization types, statuses, roles…) written into the
//! OpenAPI document as `enum`s, from the domain's own lists, so the document can never disagree
//! with what the service accepts and typed clients get unions instead of bare strings.
//!
//! Applied after the routes are collected: a property (or query parameter) gets its set by name,
//! or by name within a family of schemas where one name means different sets (`status`).

use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{ArrayItems, Schema, SchemaType, Type};
use utoipa::openapi::{OpenApi, RefOr};

fn names_of<T: Copy>(all: &[T], name: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|v| name(*v)).collect()
}

/// The closed set a property or parameter named `property` of `schema` (a schema name, or
/// `operation_id` for parameters) takes, if any.
fn closed_set(schema: &str, property: &str) -> Option<Vec<&'static str>> {
    use domain::case::{CaseStatus, ConsentScope, ReferralSource, RiskLevel, RiskTool, ServiceType, VictimizationType};
    use domain::dispatch::{ContactOutcome, ReferralStatus, Urgency};
    use domain::reporting::report::ReportStatus;
    use domain::reporting::{Dimension, Metric};
    use domain::tasks::{TaskKind, TaskStatus};
    let in_family = |family: &str| schema.to_ascii_lowercase().contains(family);
    // Figures group facts that lack a value as `not_recorded`.
    if in_family("aggregaterow") {
        let mut names = closed_set("", property)?;
        names.push(domain::reporting::NOT_RECORDED);
        return Some(names);
    }
    Some(match property {
        "victimization_types" | "victimization_type" => names_of(VictimizationType::ALL, VictimizationType::as_str),
        "referral_source" => names_of(ReferralSource::ALL, ReferralSource::as_str),
        "risk_level" => names_of(RiskLevel::ALL, RiskLevel::as_str),
        "level" if in_family("risk") => names_of(RiskLevel::ALL, RiskLevel::as_str),
        "tool" if in_family("risk") => names_of(RiskTool::ALL, RiskTool::as_str),
        "service_type" => names_of(ServiceType::ALL, ServiceType::as_str),
        "scope" if in_family("consent") => names_of(ConsentScope::ALL, ConsentScope::as_str),
        "urgency" => names_of(Urgency::ALL, Urgency::as_str),
        "outcome" if in_family("contact") => names_of(ContactOutcome::ALL, ContactOutcome::as_str),
        "gender" => names_of(domain::person::Gender::ALL, domain::person::Gender::as_str),
        // Every role; each tenant's admin grants its own kind's (422 otherwise, `domain::user::RoleSet`).
        "roles" => names_of(&domain::user::Role::ALL, domain::user::Role::as_str),
        "profession" => names_of(&domain::user::Profession::ALL, domain::user::Profession::as_str),
        "status" if in_family("case") => names_of(CaseStatus::ALL, CaseStatus::as_str),
        "status" if in_family("referral") => names_of(ReferralStatus::ALL, ReferralStatus::as_str),
        "status" if in_family("report") => names_of(ReportStatus::ALL, ReportStatus::as_str),
        "status" if in_family("task") => names_of(TaskStatus::ALL, TaskStatus::as_str),
        "kind" if in_family("task") => names_of(TaskKind::ALL, TaskKind::as_str),
        "kind" if in_family("createtenant") => vec!["agency", "ministry"],
        "kind" if in_family("tenant") => vec!["platform", "agency", "ministry"],
        "metric" if in_family("aggregate") => names_of(Metric::ALL, Metric::as_str),
        "group_by" if in_family("aggregatetable") || in_family("aggregateresponse") => {
            names_of(Dimension::ALL, Dimension::as_str)
        }
        "scope" if in_family("aggregate") => vec!["all_agencies", "agency"],
        "method" if in_family("suppression") => vec!["primary_and_complementary", "primary"],
        "unit" if in_family("aggregate") => vec!["people", "service_episodes", "events", "cents", "minutes"],
        _ => return None,
    })
}

/// Sets the enum on a string (or nullable string) schema, or on an array's string items.
fn constrain(schema: &mut Schema, names: &[&'static str]) {
    match schema {
        Schema::Object(object) => {
            let nullable = matches!(&object.schema_type, SchemaType::Array(types) if types.contains(&Type::Null));
            let is_string = match &object.schema_type {
                SchemaType::Type(t) => *t == Type::String,
                SchemaType::Array(types) => types.contains(&Type::String),
                SchemaType::AnyValue => false,
            };
            if is_string {
                let mut values: Vec<serde_json::Value> = names.iter().map(|n| serde_json::Value::from(*n)).collect();
                if nullable {
                    values.push(serde_json::Value::Null);
                }
                object.enum_values = Some(values);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(item) = items.as_mut()
            {
                constrain(item, names);
            }
        }
        _ => {}
    }
}

fn annotate_schema(name: &str, schema: &mut Schema) {
    match schema {
        Schema::Object(object) => {
            for (property, child) in &mut object.properties {
                if let RefOr::T(child) = child
                    && let Some(names) = closed_set(name, property)
                {
                    constrain(child, &names);
                }
            }
        }
        Schema::AllOf(all) => all.items.iter_mut().for_each(|s| {
            if let RefOr::T(s) = s {
                annotate_schema(name, s);
            }
        }),
        _ => {}
    }
}

fn annotate_parameters(op: &mut Operation) {
    let family = op.operation_id.clone().unwrap_or_default();
    for parameter in op.parameters.iter_mut().flatten() {
        if let RefOr::T(parameter) = parameter
            && let Some(names) = closed_set(&family, &parameter.name)
            && let Some(RefOr::T(schema)) = &mut parameter.schema
        {
            constrain(schema, &names);
        }
    }
}

/// Writes every closed set into `doc`.
pub fn apply(doc: &mut OpenApi) {
    if let Some(components) = &mut doc.components {
        for (name, schema) in &mut components.schemas {
            if let RefOr::T(schema) = schema {
                annotate_schema(name, schema);
            }
        }
    }
    for item in doc.paths.paths.values_mut() {
        for op in
            [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete].into_iter().flatten()
        {
            annotate_parameters(op);
        }
    }
}
