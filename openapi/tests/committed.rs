//! The committed `openapi/openapi.json` must be exactly what the service serves.

#![expect(clippy::expect_used, reason = "a test fails loudly")]

#[test]
fn the_committed_document_matches_what_the_service_serves() {
    let served = api::openapi::document().to_pretty_json().expect("the document serialises");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    let parse = |text: &str| serde_json::from_str::<serde_json::Value>(text).ok();
    assert!(
        parse(&committed).is_some() && parse(&committed) == parse(&served),
        "openapi/openapi.json is not what the service serves; regenerate it with:\n\n    \
         cargo run -q -p api --bin vcao -- openapi > openapi/openapi.json\n"
    );
}
