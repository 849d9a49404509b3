//! The audit trail, the access log and the break-the-glass grants: filters,
//! paging, and what a scoped reader may see.

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::both;
use crate::case_files::{case_elsewhere, get_json, post_ok};
use crate::helpers::*;

both! {
    the_audit_trail_shows_who_did_what_when_and_why_filtered_and_paged => audit_trail;
    audit_readers_see_only_their_area_and_the_whole_country_sees_all => audit_scope;
}

fn field<'a>(page: &'a Value, name: &str) -> Vec<&'a str> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item[name].as_str().unwrap())
        .collect()
}

async fn audit_trail(app: TestApp) {
    let (case_id, _) = app.open_case("worker", VILLAGE).await;
    let visit = post_ok(
        &app,
        "worker",
        &format!("/api/v1/cases/{case_id}/visits"),
        &visit_body("2026-02-01"),
    )
    .await;
    let close = post_ok(
        &app,
        "supervisor",
        &format!("/api/v1/cases/{case_id}/close"),
        &json!({ "reason": "moved_away", "closed_on": "2026-03-01" }),
    )
    .await;
    let last = close["position"].as_i64().unwrap();

    let trail = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit?case_id={case_id}&after={last}"),
    )
    .await;
    assert_eq!(
        field(&trail, "event_type"),
        ["CaseOpened", "VisitRecorded", "CaseClosed"]
    );
    assert_eq!(field(&trail, "actor"), ["worker", "worker", "supervisor"]);
    let visit_entry = &trail["items"][1];
    assert_eq!(visit_entry["position"], visit["position"]);
    assert_eq!(visit_entry["role"], "social_worker");
    assert_eq!(visit_entry["stream_version"], 2);
    assert_eq!(visit_entry["region_code"], VILLAGE);
    assert_eq!(visit_entry["command_id"], visit["command_id"]);
    assert_eq!(trail["next_after_position"], Value::Null);

    // Filters: actor, event type, stream, time.
    let by_supervisor = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit?case_id={case_id}&actor=supervisor"),
    )
    .await;
    assert_eq!(field(&by_supervisor, "event_type"), ["CaseClosed"]);
    let visits = get_json(
        &app,
        "supervisor",
        &format!("/api/v1/audit?event_type=VisitRecorded&region={TOWNSHIP}"),
    )
    .await;
    assert_eq!(field(&visits, "stream_id"), [case_id.as_str()]);
    let stream = get_json(&app, "admin", &format!("/api/v1/audit?stream_id={case_id}")).await;
    assert_eq!(stream["items"].as_array().unwrap().len(), 3);
    let later = get_json(&app, "auditor", "/api/v1/audit?from=2999-01-01T00:00:00Z").await;
    assert_eq!(later["items"], json!([]));
    let earlier = get_json(&app, "auditor", "/api/v1/audit?to=2000-01-01T00:00:00Z").await;
    assert_eq!(earlier["items"], json!([]));

    // Paging by position: one event a page, then the end.
    let mut after = None;
    let mut seen = Vec::new();
    for _ in 0..5 {
        let query = match after {
            Some(position) => format!("case_id={case_id}&limit=1&after_position={position}"),
            None => format!("case_id={case_id}&limit=1"),
        };
        let page = get_json(&app, "auditor", &format!("/api/v1/audit?{query}")).await;
        seen.extend(field(&page, "event_type").into_iter().map(str::to_owned));
        match page["next_after_position"].as_i64() {
            Some(position) => after = Some(position),
            None => break,
        }
    }
    assert_eq!(seen, ["CaseOpened", "VisitRecorded", "CaseClosed"]);

    // Who may read the audit, and bad queries.
    for user in ["worker", "official"] {
        assert_problem(
            app.get(Some(user), "/api/v1/audit").await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_problem(
            app.get(Some(user), "/api/v1/audit/access-log").await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
        assert_problem(
            app.get(Some(user), "/api/v1/audit/break-glass").await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    assert_problem(
        app.get(Some("auditor"), "/api/v1/audit?from=yesterday")
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get(Some("auditor"), "/api/v1/audit?region=360122")
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
}

async fn audit_scope(mut app: TestApp) {
    let (near, _) = app.open_case("worker", VILLAGE).await;
    let (far, far_position) = case_elsewhere(&mut app).await;
    // The far county's worker opens their own case: an access in their area.
    get_json(
        &app,
        "far_worker",
        &format!("/api/v1/cases/{far}?after={far_position}"),
    )
    .await;
    get_json(
        &app,
        "worker",
        &format!("/api/v1/cases/{near}?after={far_position}"),
    )
    .await;

    // The county auditor's trail holds the county's events only; the
    // admin's (the whole country) holds both.
    let county = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit?after={far_position}"),
    )
    .await;
    let streams = field(&county, "stream_id");
    assert!(streams.contains(&near.as_str()), "{county}");
    assert!(!streams.contains(&far.as_str()), "{county}");
    let everything = get_json(&app, "admin", "/api/v1/audit").await;
    let streams = field(&everything, "stream_id");
    assert!(streams.contains(&near.as_str()) && streams.contains(&far.as_str()));

    // So is the access log.
    let county_log = get_json(&app, "auditor", "/api/v1/audit/access-log").await;
    assert_eq!(field(&county_log, "case_id"), [near.as_str()]);
    assert_eq!(county_log["more"], false);
    let far_log = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit/access-log?case_id={far}"),
    )
    .await;
    assert_eq!(far_log["items"], json!([]));
    let all_log = get_json(&app, "admin", "/api/v1/audit/access-log").await;
    assert_eq!(field(&all_log, "actor"), ["far_worker", "worker"]);
    let limited = get_json(&app, "admin", "/api/v1/audit/access-log?limit=1").await;
    assert_eq!(field(&limited, "actor"), ["far_worker"]);
    assert_eq!(limited["more"], true);

    // A supervisor of the county who breaks the glass on the far case is
    // seen by the county's auditor (a holder of theirs) and by the admin.
    let response = app
        .post_json(
            Some("supervisor"),
            &format!("/api/v1/cases/{far}/break-glass"),
            &json!({ "reason": "跨县转介核实" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    for reader in ["auditor", "admin"] {
        let grants = get_json(&app, reader, "/api/v1/audit/break-glass").await;
        assert_eq!(field(&grants, "username"), ["supervisor"], "{reader}");
        assert_eq!(field(&grants, "reason"), ["跨县转介核实"]);
    }
    let none = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit/break-glass?case_id={near}"),
    )
    .await;
    assert_eq!(none["items"], json!([]));
}
