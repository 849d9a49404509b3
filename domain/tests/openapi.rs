//! The OpenAPI schemas of the command and vocabulary types, as the HTTP API's
//! document will show them.
#![cfg(feature = "openapi")]

use serde_json::Value;
use shouwang_domain::care_case::RecordVisit;
use shouwang_domain::need::DispatchNeed;
use shouwang_domain::vocabulary::CareCategory;
use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(components(schemas(RecordVisit, CareCategory, DispatchNeed)))]
struct Document;

fn schemas() -> Value {
    let document = serde_json::to_value(Document::openapi()).expect("the document is JSON");
    document["components"]["schemas"].clone()
}

fn required(schema: &Value) -> Vec<&str> {
    schema["required"]
        .as_array()
        .expect("a list of required properties")
        .iter()
        .map(|name| name.as_str().expect("a property name"))
        .collect()
}

#[test]
fn record_visit_has_its_fields_with_their_types() {
    let schemas = schemas();
    let visit = &schemas["RecordVisit"];
    assert_eq!(visit["type"], "object", "{visit:#}");

    let mut required = required(visit);
    required.sort_unstable();
    assert_eq!(
        required,
        [
            "findings",
            "follow_up_needed",
            "method",
            "minutes",
            "visited_on",
            "visitor_ids",
        ],
        "`wellbeing_notes` has a serde default and is not required: {visit:#}"
    );

    let properties = &visit["properties"];
    assert_eq!(properties["visited_on"]["type"], "string", "{visit:#}");
    assert_eq!(properties["visited_on"]["format"], "date", "{visit:#}");
    assert_eq!(properties["minutes"]["type"], "integer", "{visit:#}");
    assert_eq!(properties["visitor_ids"]["type"], "array", "{visit:#}");
    assert_eq!(
        properties["visitor_ids"]["items"]["format"], "uuid",
        "{visit:#}"
    );
    assert_eq!(
        properties["follow_up_needed"]["type"], "boolean",
        "{visit:#}"
    );
    assert_eq!(properties["wellbeing_notes"]["type"], "string", "{visit:#}");
    assert_eq!(
        properties["method"]["$ref"], "#/components/schemas/VisitMethod",
        "{visit:#}"
    );
    // Field doc comments become descriptions.
    assert!(
        properties["visited_on"]["description"]
            .as_str()
            .is_some_and(|description| description.contains("Asia/Shanghai")),
        "{visit:#}"
    );
}

#[test]
fn care_category_is_an_enum_of_its_snake_case_codes() {
    let schemas = schemas();
    let category = &schemas["CareCategory"];
    assert_eq!(category["type"], "string", "{category:#}");
    let codes: Vec<&str> = category["enum"]
        .as_array()
        .expect("an enum")
        .iter()
        .map(|code| code.as_str().expect("a string code"))
        .collect();
    let expected: Vec<&str> = CareCategory::ALL.iter().map(CareCategory::code).collect();
    assert_eq!(codes, expected);
    assert!(codes.contains(&"empty_nest_elder"));

    let description = category["description"].as_str().expect("a description");
    assert!(description.starts_with("关爱对象类别."), "{description}");
    assert!(
        description.contains("- `empty_nest_elder`: 空巢老人"),
        "{description}"
    );
}

#[test]
fn dispatch_need_shows_dates_and_an_optional_instruction() {
    let schemas = schemas();
    let dispatch = &schemas["DispatchNeed"];
    let properties = &dispatch["properties"];
    assert_eq!(
        properties["organization_id"]["format"], "uuid",
        "{dispatch:#}"
    );
    assert_eq!(
        properties["organization_active"]["type"], "boolean",
        "{dispatch:#}"
    );
    assert_eq!(properties["due_on"]["format"], "date", "{dispatch:#}");
    assert_eq!(
        properties["dispatched_on"]["format"], "date",
        "{dispatch:#}"
    );
    assert!(
        !required(dispatch).contains(&"instructions"),
        "{dispatch:#}"
    );
}

#[test]
fn other_shapes_follow_serde() {
    use shouwang_domain::ImageMediaType;
    use shouwang_domain::activity::{CorrectActivity, PlanActivity};
    use shouwang_domain::care_case::CaseAction;
    use shouwang_domain::volunteer::CreditSource;

    #[derive(OpenApi)]
    #[openapi(components(schemas(
        CaseAction,
        PlanActivity,
        CorrectActivity,
        CreditSource,
        ImageMediaType
    )))]
    struct More;

    let document = serde_json::to_value(More::openapi()).expect("the document is JSON");
    let schemas = &document["components"]["schemas"];

    // Referenced schemas are collected: every command of the action enum.
    for name in [
        "OpenCase",
        "RecordVisit",
        "CorrectEntry",
        "Gender",
        "RiskLevel",
    ] {
        assert!(schemas.get(name).is_some(), "{name} missing: {schemas:#}");
    }
    // Externally tagged, as serde writes it: {"RecordVisit": {...}}.
    let variants = schemas["CaseAction"]["oneOf"]
        .as_array()
        .expect("oneOf variants");
    assert_eq!(variants.len(), 16);
    assert!(
        variants.iter().any(|variant| {
            variant["properties"]["RecordVisit"]["$ref"] == "#/components/schemas/RecordVisit"
        }),
        "{variants:#?}"
    );

    let plan = &schemas["PlanActivity"]["properties"];
    assert_eq!(plan["starts_at"]["format"], "date-time", "{plan:#}");
    let correct = &schemas["CorrectActivity"]["properties"];
    assert_eq!(correct["corrected_fields"]["type"], "object", "{correct:#}");
    let entry = &schemas["CorrectEntry"]["properties"];
    assert_eq!(entry["corrected_fields"]["type"], "object", "{entry:#}");

    let media = &schemas["ImageMediaType"]["enum"];
    assert_eq!(
        media,
        &serde_json::json!(["image/jpeg", "image/png", "image/webp"])
    );

    let credit = serde_json::to_string(&schemas["CreditSource"]).expect("JSON");
    for key in [
        "\"activity\"",
        "\"service\"",
        "\"need\"",
        "\"stream_version\"",
    ] {
        assert!(credit.contains(key), "{key} missing: {credit}");
    }
}
