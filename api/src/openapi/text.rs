//! The rules the domain applies to free text in request bodies, written into the OpenAPI document
//! as `pattern`, `minLength`, `maxLength` and `maxItems`, so a client (and Schemathesis) knows
//! what is accepted without reading prose.
//!
//! The domain trims text before it checks it (`domain::validation::bounded_text`,
//! `domain::person`, `domain::case::note_text`), so the patterns allow white space around the
//! value. White space is Rust's (`char::is_whitespace`) spelt out, not `\s`, whose meaning differs
//! between regex engines (Python's `\s` also matches U+001C–U+001F, which Rust does not trim).
//! Length limits count the text as sent, white space included, on both sides.
//!
//! The tests compile every pattern with the `regex` crate and compare it with the domain's own
//! function over generated strings, so the document cannot drift from the service.

use utoipa::openapi::schema::{ArrayItems, Schema};
use utoipa::openapi::{Components, OpenApi, RefOr};

/// `char::is_whitespace`: the Unicode `White_Space` property, as the body of a character class.
const WHITE_SPACE: &str = r"\t\n\x0B\x0C\r \x85\xA0\u1680\u2000-\u200A\u2028\u2029\u202F\u205F\u3000";
/// `char::is_control`: the Unicode `Cc` category, as the body of a character class.
const CONTROL: &str = r"\x00-\x1F\x7F-\x9F";

/// How the service reads one text field.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Rule {
    /// `bounded_text` and `person::name`: something besides white space, no control characters
    /// (so no line breaks) once trimmed, at most this many characters.
    OneLine(usize),
    /// `note_text` and `person::free_text`: something besides white space, at most this many
    /// characters; line breaks allowed.
    NotBlank(usize),
    /// `person::phone`: 7 to 15 digits, with spaces, `+`, `-`, `.` and parentheses; at most 32
    /// characters.
    Phone,
}

impl Rule {
    fn pattern(self) -> String {
        match self {
            Self::OneLine(_) => format!(
                "^[{WHITE_SPACE}]*[^{WHITE_SPACE}{CONTROL}]([^{CONTROL}]*[^{WHITE_SPACE}{CONTROL}])?[{WHITE_SPACE}]*$"
            ),
            Self::NotBlank(_) => format!("[^{WHITE_SPACE}]"),
            Self::Phone => format!(r"^[{WHITE_SPACE}]*[ +.()\-]*([0-9][ +.()\-]*){{7,15}}[{WHITE_SPACE}]*$"),
        }
    }

    fn max_length(self) -> Option<usize> {
        match self {
            Self::OneLine(max) | Self::NotBlank(max) => Some(max),
            Self::Phone => usize::try_from(domain::person::PHONE_MAX_CHARS).ok(),
        }
    }
}

/// `Type.field` as the names the document uses, checked by the compiler: renaming a field or a
/// request type without updating the table below fails to build instead of failing when the
/// document is made.
macro_rules! property {
    ($schema:ident . $field:ident) => {{
        let _field_exists = |s: &$schema| {
            let _ = &s.$field;
        };
        (stringify!($schema), stringify!($field))
    }};
}

/// Every free-text property of a request schema, with the rule its handler applies (the limits
/// are `domain::validation::limits`, which the handlers' checks read too). A list property
/// (`steps`) names the rule of its items.
fn fields() -> Vec<((&'static str, &'static str), Rule)> {
    use domain::validation::limits::{LABEL, NOTE, PERSON_NAME, PLAN_ITEM, REASON, SHORT_LABEL, SHORT_NAME};

    use crate::routes::case_records::assessments::RiskAssessmentRequest;
    use crate::routes::case_records::children::ChildRequest;
    use crate::routes::case_records::consents::{ConsentRequest, OutboundReferralRequest};
    use crate::routes::case_records::notes::NoteRequest;
    use crate::routes::case_records::safety_plan::{EmergencyContactDto, SafetyPlanRequest};
    use crate::routes::case_records::services::ServiceRequest;
    use crate::routes::cases::ReasonRequest;
    use crate::routes::clients::{CreateClientRequest, SafeContactDto, UpdateClientRequest};
    use crate::routes::organizations::CreateOrganizationRequest;
    use crate::routes::programs::CreateProgramRequest;
    use crate::routes::reference::{CreatePoliceDivisionRequest, CreatePoliceServiceRequest};
    use crate::routes::referrals::{ContactAttemptRequest, CreateReferralRequest, ReferralPersonDto};
    use crate::routes::reports::ReturnReportRequest;
    use crate::routes::tasks::{CreateTaskRequest, UpdateTaskRequest};
    use crate::routes::tenants::{CreateTenantRequest, TenantAdminRequest};
    use crate::routes::users::{CreateUserRequest, UpdateUserRequest};

    vec![
        (property!(ChildRequest.given_name), Rule::OneLine(PERSON_NAME)),
        (property!(ChildRequest.notes), Rule::NotBlank(NOTE)),
        (property!(ConsentRequest.notes), Rule::NotBlank(NOTE)),
        (property!(ContactAttemptRequest.notes), Rule::NotBlank(NOTE)),
        (property!(CreateClientRequest.given_name), Rule::OneLine(PERSON_NAME)),
        (property!(CreateClientRequest.family_name), Rule::OneLine(PERSON_NAME)),
        (property!(CreateClientRequest.phone), Rule::Phone),
        (property!(CreateClientRequest.preferred_language), Rule::NotBlank(SHORT_LABEL)),
        (property!(CreateClientRequest.address), Rule::NotBlank(PLAN_ITEM)),
        (property!(UpdateClientRequest.given_name), Rule::OneLine(PERSON_NAME)),
        (property!(UpdateClientRequest.family_name), Rule::OneLine(PERSON_NAME)),
        (property!(UpdateClientRequest.phone), Rule::Phone),
        (property!(UpdateClientRequest.preferred_language), Rule::NotBlank(SHORT_LABEL)),
        (property!(UpdateClientRequest.address), Rule::NotBlank(PLAN_ITEM)),
        (property!(SafeContactDto.notes), Rule::NotBlank(REASON)),
        (property!(ReferralPersonDto.given_name), Rule::OneLine(PERSON_NAME)),
        (property!(ReferralPersonDto.family_name), Rule::OneLine(PERSON_NAME)),
        (property!(ReferralPersonDto.phone), Rule::Phone),
        (property!(ReferralPersonDto.preferred_language), Rule::NotBlank(SHORT_LABEL)),
        (property!(CreateReferralRequest.notes), Rule::NotBlank(NOTE)),
        (property!(CreateOrganizationRequest.name), Rule::OneLine(LABEL)),
        (property!(CreateOrganizationRequest.kind), Rule::OneLine(SHORT_LABEL)),
        (property!(CreateOrganizationRequest.phone), Rule::Phone),
        (property!(CreateProgramRequest.name), Rule::OneLine(LABEL)),
        (property!(CreateProgramRequest.funder), Rule::OneLine(LABEL)),
        (property!(CreatePoliceServiceRequest.name), Rule::OneLine(LABEL)),
        (property!(CreatePoliceServiceRequest.short_name), Rule::OneLine(SHORT_NAME)),
        (property!(CreatePoliceDivisionRequest.name), Rule::OneLine(LABEL)),
        (property!(CreateTenantRequest.name), Rule::OneLine(LABEL)),
        (property!(TenantAdminRequest.display_name), Rule::OneLine(LABEL)),
        (property!(CreateUserRequest.display_name), Rule::OneLine(LABEL)),
        (property!(UpdateUserRequest.display_name), Rule::OneLine(LABEL)),
        (property!(NoteRequest.body), Rule::NotBlank(NOTE)),
        (property!(OutboundReferralRequest.service), Rule::OneLine(LABEL)),
        (property!(OutboundReferralRequest.notes), Rule::NotBlank(NOTE)),
        (property!(RiskAssessmentRequest.notes), Rule::NotBlank(NOTE)),
        (property!(ServiceRequest.notes), Rule::NotBlank(NOTE)),
        (property!(SafetyPlanRequest.steps), Rule::OneLine(PLAN_ITEM)),
        (property!(SafetyPlanRequest.safe_places), Rule::OneLine(PLAN_ITEM)),
        (property!(SafetyPlanRequest.notes), Rule::NotBlank(NOTE)),
        (property!(EmergencyContactDto.name), Rule::OneLine(PERSON_NAME)),
        (property!(EmergencyContactDto.phone), Rule::Phone),
        (property!(ReasonRequest.reason), Rule::OneLine(REASON)),
        (property!(ReturnReportRequest.reason), Rule::OneLine(REASON)),
        (property!(CreateTaskRequest.title), Rule::OneLine(LABEL)),
        (property!(UpdateTaskRequest.title), Rule::OneLine(LABEL)),
    ]
}

/// Lists the handlers cap (`steps: at most 50 entries`).
const LIST_LIMITS: &[(&str, &str, usize)] = &[
    ("SafetyPlanRequest", "steps", 50),
    ("SafetyPlanRequest", "safe_places", 50),
    ("SafetyPlanRequest", "emergency_contacts", 20),
];

fn constrain_text(schema: &mut Schema, rule: Rule) {
    match schema {
        Schema::Object(object) => {
            object.pattern = Some(rule.pattern());
            // Something besides white space; a phone number, at least its 7 digits.
            object.min_length = Some(if rule == Rule::Phone { 7 } else { 1 });
            if let Some(max) = rule.max_length() {
                object.max_length = Some(max);
            }
        }
        Schema::Array(array) => {
            if let ArrayItems::RefOrSchema(items) = &mut array.items
                && let RefOr::T(item) = items.as_mut()
            {
                constrain_text(item, rule);
            }
        }
        _ => {}
    }
}

/// The property `field` of the component schema `schema`, written out (not a reference).
///
/// # Panics
/// When either is missing: the compiler checks the type and field names (`property!`), but a
/// `serde` rename or a schema name of utoipa's own would still miss, and the document would
/// silently lose its constraint. Every test that builds the document catches it.
fn property<'a>(components: &'a mut Components, schema: &str, field: &str) -> &'a mut Schema {
    let Some(RefOr::T(Schema::Object(object))) = components.schemas.get_mut(schema) else {
        panic!("openapi::text: no object schema {schema}")
    };
    match object.properties.get_mut(field) {
        Some(RefOr::T(child)) => child,
        _ => panic!("openapi::text: no written-out property {schema}.{field}"),
    }
}

/// Writes every free-text rule into `doc`.
pub fn apply(doc: &mut OpenApi) {
    let Some(components) = &mut doc.components else { return };
    for ((schema, field), rule) in fields() {
        constrain_text(property(components, schema, field), rule);
    }
    for &(schema, field, max) in LIST_LIMITS {
        let Schema::Array(array) = property(components, schema, field) else {
            panic!("openapi::text: {schema}.{field} is not a list")
        };
        array.max_items = Some(max);
    }
}

#[cfg(test)]
#[expect(clippy::unwrap_used, clippy::expect_used, reason = "a test fails loudly")]
mod tests {
    use proptest::prelude::*;
    use regex::Regex;

    use super::{CONTROL, Rule, WHITE_SPACE};

    const RULES: [Rule; 3] = [Rule::OneLine(12), Rule::NotBlank(12), Rule::Phone];

    /// What the document says of `text`: the pattern, and `maxLength` (in characters).
    fn matches(rule: Rule, re: &Regex, text: &str) -> bool {
        let fits = rule.max_length().is_none_or(|max| text.chars().count() <= max);
        re.is_match(text) && fits
    }

    fn compiled(rule: Rule) -> Regex {
        Regex::new(&rule.pattern()).expect("pattern compiles")
    }

    fn domain_accepts(rule: Rule, text: &str) -> bool {
        match rule {
            Rule::OneLine(max) => domain::validation::bounded_text(text, max).is_ok(),
            Rule::NotBlank(max) => domain::person::free_text(text, max).is_ok(),
            Rule::Phone => domain::person::phone(text).is_ok(),
        }
    }

    /// Strings made mostly of the characters the rules turn on.
    fn tricky_text() -> impl Strategy<Value = String> {
        let interesting = prop_oneof![
            Just(' '),
            Just('\t'),
            Just('\n'),
            Just('\u{1c}'),
            Just('\u{85}'),
            Just('\u{a0}'),
            Just('\u{2003}'),
            Just('\u{feff}'),
            Just('\u{7f}'),
            Just('\0'),
            Just('+'),
            Just('('),
            Just('-'),
            prop::char::range('0', '9'),
            prop::char::range('a', 'z'),
            prop::char::any(),
        ];
        prop::collection::vec(interesting, 0..24).prop_map(|chars| chars.into_iter().collect())
    }

    #[test]
    fn white_space_and_control_classes_are_rusts() {
        let white = Regex::new(&format!("^[{WHITE_SPACE}]$")).unwrap();
        let control = Regex::new(&format!("^[{CONTROL}]$")).unwrap();
        for c in (0..=0x3000_u32).filter_map(char::from_u32).chain(['\u{feff}', '\u{205f}']) {
            let s = c.to_string();
            assert_eq!(white.is_match(&s), c.is_whitespace(), "white space {:?}", c);
            assert_eq!(control.is_match(&s), c.is_control(), "control {:?}", c);
        }
    }

    #[test]
    fn examples_agree_with_the_domain() {
        for (rule, text, ok) in [
            (Rule::OneLine(10), "Ana", true),
            (Rule::OneLine(13), "  Ana Maria \n", true),
            (Rule::OneLine(12), "  Ana Maria \n", false),
            (Rule::OneLine(10), "Ana\nMaria", false),
            (Rule::OneLine(10), " \t ", false),
            (Rule::OneLine(3), "Anna", false),
            (Rule::NotBlank(50), "line one\nline two", true),
            (Rule::NotBlank(50), "\u{a0}\n", false),
            (Rule::Phone, "+1 (416) 555-0199", true),
            (Rule::Phone, "555-01", false),
            (Rule::Phone, "((((((((", false),
        ] {
            assert_eq!(domain_accepts(rule, text), ok, "domain {rule:?} {text:?}");
            assert_eq!(matches(rule, &compiled(rule), text), ok, "pattern {rule:?} {text:?}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]
        #[test]
        fn each_pattern_accepts_exactly_what_the_domain_accepts(text in tricky_text()) {
            thread_local!(static COMPILED: Vec<Regex> = RULES.map(compiled).into());
            COMPILED.with(|compiled| {
                for (rule, re) in RULES.into_iter().zip(compiled) {
                    prop_assert_eq!(matches(rule, re, &text), domain_accepts(rule, &text), "{:?} {:?}", rule, text);
                }
                Ok(())
            })?;
        }
    }
}
