//! Reading cases: the list and the case file (read-your-writes, scope),
//! personal data with the access log and auditors' masking,
//! break-the-glass, replay and as-of.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use reqwest::{Client, StatusCode};
use serde_json::{Value, json};
use shouwang_api::{ApiSettings, AppState};
use shouwang_domain::vocabulary::UserRole;
use shouwang_domain::volunteer::PointsPolicy;
use shouwang_infrastructure::users::{NewUser, add_user, find_user, grant_break_glass};
use shouwang_infrastructure::{Application, Database, MasterKey, Store};
use shouwang_projections::Projector;
use uuid::Uuid;

use crate::both;
use crate::helpers::*;

/// A township of the test county other than the worker's.
pub const OTHER_TOWNSHIP_VILLAGE: &str = "360121200001";

both! {
    the_case_list_is_filtered_paged_and_kept_within_scope => case_list;
    a_case_file_reads_your_own_write_and_its_opening_is_logged => read_your_writes;
    a_case_outside_ones_scope_is_refused => scope;
    break_the_glass_opens_a_case_outside_scope_for_reading_until_it_expires => break_glass;
    personal_data_needs_a_reason_is_logged_and_is_masked_for_auditors => personal_data;
    replay_and_as_of_reconstruct_the_case_from_its_events => time_travel;
}

/// Adds a user of the given role and scope and logs them in.
pub async fn add_and_login(app: &mut TestApp, username: &'static str, role: UserRole, scope: &str) {
    add_user(
        app.store.database(),
        NewUser {
            username: username.to_owned(),
            display_name: format!("测试{username}"),
            role,
            region_scope: scope.to_owned(),
            organization_id: None,
            password: PASSWORD.to_owned(),
        },
    )
    .await
    .unwrap();
    let response = app
        .post_json(
            None,
            "/api/v1/auth/login",
            &json!({ "username": username, "password": PASSWORD }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::OK);
    let body: Value = response.json().await.unwrap();
    app.tokens
        .insert(username, body["token"].as_str().unwrap().to_owned());
}

/// A worker of the neighbouring county, where no test user has scope.
pub async fn case_elsewhere(app: &mut TestApp) -> (String, i64) {
    add_and_login(app, "far_worker", UserRole::SocialWorker, "360122100").await;
    app.open_case("far_worker", ELSEWHERE).await
}

pub async fn get_json(app: &TestApp, user: &str, path: &str) -> Value {
    let response = app.get(Some(user), path).await;
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "GET {path} as {user}: {}",
        response.text().await.unwrap()
    );
    response.json().await.unwrap()
}

pub async fn post_ok(app: &TestApp, user: &str, path: &str, body: &Value) -> Value {
    let response = app.post_json(Some(user), path, body).await;
    assert!(
        response.status().is_success(),
        "POST {path} as {user}: {} {}",
        response.status(),
        response.text().await.unwrap()
    );
    response.json().await.unwrap()
}

fn case_ids(list: &Value) -> Vec<&str> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|item| item["case_id"].as_str().unwrap())
        .collect()
}

async fn case_list(app: TestApp) {
    let (mine, _) = app.open_case("worker", VILLAGE).await;
    let (other, last) = app.open_case("supervisor", OTHER_TOWNSHIP_VILLAGE).await;
    let close = post_ok(
        &app,
        "supervisor",
        &format!("/api/v1/cases/{other}/close"),
        &json!({ "reason": "moved_away", "closed_on": "2026-02-01" }),
    )
    .await;
    let after = close["position"].as_i64().unwrap();
    assert!(after > last);

    // A worker sees their township only; a supervisor the whole county.
    let worker = get_json(&app, "worker", &format!("/api/v1/cases?after={after}")).await;
    assert_eq!(case_ids(&worker), [mine.as_str()]);
    assert_eq!(worker["total"], 1);
    let county = get_json(&app, "supervisor", "/api/v1/cases").await;
    assert_eq!(county["total"], 2);
    let item = county["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["case_id"] == mine.as_str())
        .unwrap();
    assert_eq!(item["name"], "王秀英");
    assert_eq!(item["region_code"], VILLAGE);
    assert_eq!(item["categories"], json!(["empty_nest_elder"]));
    assert!(item.get("id_number").is_none() && item.get("phone").is_none());

    // Filters: status, category, region within scope; paging.
    let closed = get_json(&app, "supervisor", "/api/v1/cases?status=closed").await;
    assert_eq!(case_ids(&closed), [other.as_str()]);
    let open = get_json(&app, "supervisor", "/api/v1/cases?status=open").await;
    assert_eq!(case_ids(&open), [mine.as_str()]);
    let elders = get_json(
        &app,
        "supervisor",
        "/api/v1/cases?category=empty_nest_elder",
    )
    .await;
    assert_eq!(elders["total"], 2);
    let orphans = get_json(&app, "supervisor", "/api/v1/cases?category=orphan").await;
    assert_eq!(orphans["total"], 0);
    let township = get_json(
        &app,
        "supervisor",
        &format!("/api/v1/cases?region={TOWNSHIP}"),
    )
    .await;
    assert_eq!(case_ids(&township), [mine.as_str()]);
    let first = get_json(&app, "supervisor", "/api/v1/cases?limit=1").await;
    let second = get_json(&app, "supervisor", "/api/v1/cases?limit=1&offset=1").await;
    assert_eq!(
        (first["total"].as_u64(), first["limit"].as_u64()),
        (Some(2), Some(1))
    );
    assert_eq!(case_ids(&first).len() + case_ids(&second).len(), 2);
    assert_ne!(case_ids(&first), case_ids(&second));

    // A region wider than one's scope, a malformed one, a wrong code.
    assert_problem(
        app.get(Some("worker"), &format!("/api/v1/cases?region={COUNTY}"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let problem = assert_problem(
        app.get(Some("worker"), "/api/v1/cases?region=36x").await,
        StatusCode::BAD_REQUEST,
        "region_prefix_not_digits",
    )
    .await;
    assert_eq!(problem["field"], "region");
    assert_problem(
        app.get(Some("worker"), "/api/v1/cases?status=asleep").await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    // Admins manage users; they do not read cases.
    assert_problem(
        app.get(Some("admin"), "/api/v1/cases").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(None, "/api/v1/cases").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
}

async fn read_your_writes(app: TestApp) {
    let (case_id, _) = app.open_case("worker", VILLAGE).await;
    let visit = post_ok(
        &app,
        "worker",
        &format!("/api/v1/cases/{case_id}/visits"),
        &visit_body("2026-02-01"),
    )
    .await;
    let position = visit["position"].as_i64().unwrap();

    // With `after`, the answer already holds the visit: no polling.
    let file = get_json(
        &app,
        "worker",
        &format!("/api/v1/cases/{case_id}?after={position}"),
    )
    .await;
    assert_eq!(file["visits"], 1);
    assert_eq!(file["version"], 2);
    assert!(file["last_position"].as_i64().unwrap() >= position);
    let timeline = file["timeline"].as_array().unwrap();
    assert_eq!(timeline.len(), 2);
    assert_eq!(timeline[1]["event_type"], "VisitRecorded");
    assert_eq!(timeline[1]["position"], position);
    assert_eq!(timeline[1]["recorded_by"]["actor"], "worker");
    assert!(
        timeline[1]["summary"]
            .as_str()
            .unwrap()
            .contains("身体状况平稳")
    );
    // Personal fields are not in the case file, not even in the details.
    let text = file.to_string();
    for personal in [
        "11010519491231002X",
        "13807910000",
        "东湖村 3 组",
        "夜间失眠",
    ] {
        assert!(!text.contains(personal), "{personal} leaked: {text}");
    }

    // Every opening is in the access log, naming no field as revealed.
    let log = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit/access-log?case_id={case_id}"),
    )
    .await;
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{log}");
    assert_eq!(entries[0]["actor"], "worker");
    assert_eq!(entries[0]["role"], "social_worker");
    assert_eq!(entries[0]["reason"], "查看个案档案");
    assert_eq!(entries[0]["revealed"], json!([]));
    assert_eq!(entries[0]["stream_version"], 2);
    // A reason given with the request is the one logged.
    get_json(
        &app,
        "supervisor",
        &format!("/api/v1/cases/{case_id}?reason=%E5%AD%A3%E7%9D%A3%E5%AF%BC"),
    )
    .await;
    let log = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit/access-log?case_id={case_id}&actor=supervisor"),
    )
    .await;
    assert_eq!(log["items"][0]["reason"], "季督导");

    // A position no write ever returned is refused, not waited for.
    let problem = assert_problem(
        app.get(
            Some("worker"),
            &format!("/api/v1/cases/{case_id}?after={}", position + 1000),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "unknown_position",
    )
    .await;
    assert_eq!(problem["field"], "after");
    // No such case; a malformed id.
    assert_problem(
        app.get(Some("worker"), &format!("/api/v1/cases/{}", Uuid::now_v7()))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(Some("worker"), "/api/v1/cases/not-a-uuid").await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
    )
    .await;
}

async fn scope(app: TestApp) {
    let (other, position) = app.open_case("supervisor", OTHER_TOWNSHIP_VILLAGE).await;
    get_json(
        &app,
        "supervisor",
        &format!("/api/v1/cases/{other}?after={position}"),
    )
    .await;
    // The worker of another township sees none of it.
    for response in [
        app.get(Some("worker"), &format!("/api/v1/cases/{other}"))
            .await,
        app.post_json(
            Some("worker"),
            &format!("/api/v1/cases/{other}/personal-data"),
            &json!({ "reason": "好奇" }),
        )
        .await,
    ] {
        assert_problem(response, StatusCode::FORBIDDEN, "forbidden").await;
    }
    // Workers do not replay; admins do not read cases at all.
    for (user, path) in [
        ("worker", format!("/api/v1/cases/{other}/replay")),
        ("worker", format!("/api/v1/cases/{other}/as-of?version=1")),
        ("admin", format!("/api/v1/cases/{other}")),
    ] {
        assert_problem(
            app.get(Some(user), &path).await,
            StatusCode::FORBIDDEN,
            "forbidden",
        )
        .await;
    }
    // Refusals wrote nothing to the access log.
    let log = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit/access-log?case_id={other}"),
    )
    .await;
    let actors: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["actor"].as_str().unwrap())
        .collect();
    assert_eq!(actors, ["supervisor"]);
}

async fn break_glass(mut app: TestApp) {
    let (far, position) = case_elsewhere(&mut app).await;
    let path = format!("/api/v1/cases/{far}?after={position}");
    let grant_path = format!("/api/v1/cases/{far}/break-glass");
    assert_problem(
        app.get(Some("supervisor"), &path).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Only supervisors and officials break the glass, and never silently.
    assert_problem(
        app.post_json(Some("worker"), &grant_path, &json!({ "reason": "紧急" }))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_json(Some("auditor"), &grant_path, &json!({ "reason": "紧急" }))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let problem = assert_problem(
        app.post_json(Some("supervisor"), &grant_path, &json!({ "reason": "  " }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reason_required",
    )
    .await;
    assert_eq!(problem["field"], "reason");
    assert_problem(
        app.post_json(
            Some("supervisor"),
            &format!("/api/v1/cases/{}/break-glass", Uuid::now_v7()),
            &json!({ "reason": "紧急" }),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // A case within scope needs no grant, and none is recorded.
    let (near, _) = app.open_case("worker", VILLAGE).await;
    assert_problem(
        app.post_json(
            Some("supervisor"),
            &format!("/api/v1/cases/{near}/break-glass"),
            &json!({ "reason": "紧急" }),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "break_glass_not_needed",
    )
    .await;

    let response = app
        .post_json(
            Some("supervisor"),
            &grant_path,
            &json!({ "reason": "老人走失，邻县求助核实身份" }),
        )
        .await;
    assert_eq!(response.status(), StatusCode::CREATED);
    let grant: Value = response.json().await.unwrap();
    assert_eq!(grant["username"], "supervisor");
    assert_eq!(grant["case_id"], far.as_str());
    assert_eq!(grant["live"], true);
    let instant = |v: &Value| v.as_str().unwrap().parse::<DateTime<Utc>>().unwrap();
    assert_eq!(
        instant(&grant["expires_at"]) - instant(&grant["granted_at"]),
        chrono::Duration::hours(3)
    );

    // Now readable, and only readable.
    let file = get_json(&app, "supervisor", &path).await;
    assert_eq!(file["region_code"], ELSEWHERE);
    get_json(&app, "supervisor", &format!("/api/v1/cases/{far}/replay")).await;
    assert_problem(
        app.post_json(
            Some("supervisor"),
            &format!("/api/v1/cases/{far}/visits"),
            &visit_body("2026-02-01"),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    // The grant is the supervisor's alone.
    assert_problem(
        app.get(Some("official"), &path).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // An expired grant opens nothing, and is still on the record.
    let official = find_user(app.store.database(), "official")
        .await
        .unwrap()
        .unwrap();
    let far_id = Uuid::parse_str(&far).unwrap();
    grant_break_glass(
        app.store.database(),
        &official,
        far_id,
        "已过期的授权",
        chrono::Duration::minutes(-1),
    )
    .await
    .unwrap();
    assert_problem(
        app.get(Some("official"), &path).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Both grants are in the audit, for the auditor of the county the
    // holders belong to.
    let grants = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit/break-glass?case_id={far}"),
    )
    .await;
    let items = grants["items"].as_array().unwrap();
    assert_eq!(items.len(), 2, "{grants}");
    let by = |username: &str| {
        items
            .iter()
            .find(|grant| grant["username"] == username)
            .unwrap()
    };
    assert_eq!(by("supervisor")["reason"], "老人走失，邻县求助核实身份");
    assert_eq!(by("supervisor")["live"], true);
    assert_eq!(by("official")["live"], false);
    // The opening under the grant is in the access log.
    let log = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit/access-log?case_id={far}&actor=supervisor"),
    )
    .await;
    let reasons: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["reason"].as_str().unwrap())
        .collect();
    assert_eq!(reasons, ["查看个案档案", "回放个案历史"]);
}

async fn personal_data(app: TestApp) {
    let (case_id, _) = app.open_case("worker", VILLAGE).await;
    post_ok(
        &app,
        "worker",
        &format!("/api/v1/cases/{case_id}/visits"),
        &visit_body("2026-02-01"),
    )
    .await;
    let path = format!("/api/v1/cases/{case_id}/personal-data");

    // A reason is required, and a missing one is named.
    let problem = assert_problem(
        app.post_json(Some("worker"), &path, &json!({ "reason": " " }))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reason_required",
    )
    .await;
    assert_eq!(problem["field"], "reason");
    assert_problem(
        app.post_json(Some("worker"), &path, &json!({})).await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    )
    .await;
    assert_problem(
        app.post_json(Some("admin"), &path, &json!({ "reason": "看看" }))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    let full = post_ok(
        &app,
        "worker",
        &path,
        &json!({ "reason": "入户前核对联系电话" }),
    )
    .await;
    assert_eq!(full["masked"], false);
    assert_eq!(full["id_number"], "11010519491231002X");
    assert_eq!(full["phone"], "13807910000");
    assert_eq!(full["address"], "莲塘镇东湖村 3 组 12 号");
    assert_eq!(full["wellbeing_notes"][0]["text"], "夜间失眠");
    assert_eq!(full["version"], 2);

    let masked = post_ok(
        &app,
        "auditor",
        &path,
        &json!({ "reason": "年度第三方评估抽查" }),
    )
    .await;
    assert_eq!(masked["masked"], true);
    assert_eq!(masked["name"], "王秀英");
    assert_eq!(masked["id_number"], "110105********002X");
    assert_eq!(masked["phone"], "138****0000");
    assert_eq!(masked["address"], "莲塘镇东湖村****");
    assert_eq!(
        masked["wellbeing_notes"][0]["text"],
        json!({ "erased": false, "withheld": true })
    );
    let text = masked.to_string();
    for personal in [
        "11010519491231002X",
        "13807910000",
        "3 组 12 号",
        "夜间失眠",
    ] {
        assert!(
            !text.contains(personal),
            "{personal} shown to an auditor: {text}"
        );
    }

    // The access log says who read what, when and why — the auditor's
    // masked reading too.
    let log = get_json(
        &app,
        "auditor",
        &format!("/api/v1/audit/access-log?case_id={case_id}"),
    )
    .await;
    let entries = log["items"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{log}");
    assert_eq!(entries[0]["actor"], "worker");
    assert_eq!(entries[0]["reason"], "入户前核对联系电话");
    assert_eq!(entries[1]["actor"], "auditor");
    assert_eq!(entries[1]["role"], "auditor");
    assert_eq!(entries[1]["reason"], "年度第三方评估抽查");
    for entry in entries {
        let revealed = entry["revealed"].as_array().unwrap();
        for field in ["id_number", "phone", "address", "wellbeing_notes"] {
            assert!(revealed.contains(&json!(field)), "{entry}");
        }
        assert!(
            entry["accessed_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .is_ok()
        );
    }
    assert!(
        entries[0]["accessed_at"]
            .as_str()
            .unwrap()
            .parse::<DateTime<Utc>>()
            .unwrap()
            <= entries[1]["accessed_at"]
                .as_str()
                .unwrap()
                .parse::<DateTime<Utc>>()
                .unwrap()
    );
    let worker_only = get_json(
        &app,
        "supervisor",
        &format!("/api/v1/audit/access-log?case_id={case_id}&actor=worker"),
    )
    .await;
    assert_eq!(worker_only["items"].as_array().unwrap().len(), 1);
}

async fn time_travel(app: TestApp) {
    let (case_id, _) = app.open_case("worker", VILLAGE).await;
    post_ok(
        &app,
        "worker",
        &format!("/api/v1/cases/{case_id}/visits"),
        &visit_body("2026-02-01"),
    )
    .await;
    post_ok(
        &app,
        "supervisor",
        &format!("/api/v1/cases/{case_id}/close"),
        &json!({ "reason": "moved_away", "closed_on": "2026-03-01" }),
    )
    .await;

    let replay = get_json(
        &app,
        "supervisor",
        &format!("/api/v1/cases/{case_id}/replay"),
    )
    .await;
    let steps = replay["steps"].as_array().unwrap();
    let types: Vec<&str> = steps
        .iter()
        .map(|s| s["event_type"].as_str().unwrap())
        .collect();
    assert_eq!(types, ["CaseOpened", "VisitRecorded", "CaseClosed"]);
    assert_eq!(
        steps
            .iter()
            .map(|s| s["version"].as_u64().unwrap())
            .collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(steps[0]["actor"], "worker");
    assert_eq!(steps[2]["actor"], "supervisor");
    assert_eq!(steps[2]["role"], "supervisor");
    // Sealed fields say so and show nothing.
    assert_eq!(steps[0]["event"]["id_number"], json!({ "sealed": true }));
    assert_eq!(
        steps[1]["event"]["wellbeing_notes"],
        json!({ "sealed": true })
    );
    assert!(!replay.to_string().contains("13807910000"));
    assert_eq!(steps[0]["state"]["status"], "open");
    assert_eq!(steps[2]["state"]["status"], "closed");
    assert_eq!(steps[2]["state"]["version"], 3);
    // Officials and auditors replay too.
    for user in ["official", "auditor"] {
        let other = get_json(&app, user, &format!("/api/v1/cases/{case_id}/replay")).await;
        assert_eq!(other["steps"], replay["steps"]);
    }

    let as_of = |query: String| {
        let app = &app;
        let case_id = &case_id;
        async move {
            app.get(
                Some("supervisor"),
                &format!("/api/v1/cases/{case_id}/as-of?{query}"),
            )
            .await
        }
    };
    let at_one: Value = as_of("version=1".into()).await.json().await.unwrap();
    assert_eq!(at_one["version"], 1);
    assert_eq!(at_one["state"], steps[0]["state"]);
    let at_two: Value = as_of("version=2".into()).await.json().await.unwrap();
    assert_eq!(at_two["state"], steps[1]["state"]);
    // An instant takes every event recorded up to and including it.
    for (index, step) in steps.iter().enumerate() {
        let recorded_at: DateTime<Utc> = step["recorded_at"].as_str().unwrap().parse().unwrap();
        let time = recorded_at
            .to_rfc3339_opts(SecondsFormat::Micros, false)
            .replace('+', "%2B");
        let response = as_of(format!("time={time}")).await;
        assert_eq!(response.status(), StatusCode::OK);
        let at: Value = response.json().await.unwrap();
        assert_eq!(at["version"], index + 1, "{at}");
        assert_eq!(at["state"]["version"], at["version"]);
    }
    assert_problem(
        as_of("time=2020-01-01T00:00:00Z".into()).await,
        StatusCode::NOT_FOUND,
        "not_yet_opened",
    )
    .await;
    assert_problem(
        as_of(String::new()).await,
        StatusCode::BAD_REQUEST,
        "as_of_required",
    )
    .await;
    assert_problem(
        as_of("version=1&time=2026-01-01T00:00:00Z".into()).await,
        StatusCode::BAD_REQUEST,
        "as_of_ambiguous",
    )
    .await;
    assert_problem(
        as_of("version=first".into()).await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_problem(
        app.get(
            Some("supervisor"),
            &format!("/api/v1/cases/{}/replay", Uuid::now_v7()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

// ---------------------------------------------------------------------------
// Read-your-writes while the read model is behind: a server whose projector
// is prepared but not running, so it catches up only when the test says.
// ---------------------------------------------------------------------------

struct LaggingApp {
    address: String,
    client: Client,
    token: String,
    projector: Projector,
    _database: Box<dyn std::any::Any + Send>,
}

async fn spawn_lagging_app(postgres: bool) -> LaggingApp {
    let (url, database): (String, Box<dyn std::any::Any + Send>) = if postgres {
        let db = shouwang_testkit::postgres_database().await;
        (db.url().to_owned(), Box::new(db))
    } else {
        let db = shouwang_testkit::sqlite_database();
        (db.url().to_owned(), Box::new(db))
    };
    let db = Database::connect(&url).await.unwrap();
    db.migrate().await.unwrap();
    let store = Store::new(db, MasterKey::generate().1);
    add_user(
        store.database(),
        NewUser {
            username: "worker".to_owned(),
            display_name: "测试worker".to_owned(),
            role: UserRole::SocialWorker,
            region_scope: TOWNSHIP.to_owned(),
            organization_id: None,
            password: PASSWORD.to_owned(),
        },
    )
    .await
    .unwrap();
    let projector = Projector::new(store.clone(), shouwang_projections::all_projections());
    projector.prepare().await.unwrap();
    let state = AppState::new(
        Application::new(store, PointsPolicy::default()),
        projector.clone(),
        ApiSettings {
            read_your_writes_wait: Duration::from_millis(200),
            ..ApiSettings::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(shouwang_api::serve(listener, state, std::future::pending()));
    let client = Client::new();
    let login: Value = client
        .post(format!("{address}/api/v1/auth/login"))
        .json(&json!({ "username": "worker", "password": PASSWORD }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    LaggingApp {
        address,
        client,
        token: login["token"].as_str().unwrap().to_owned(),
        projector,
        _database: database,
    }
}

async fn a_read_model_behind_answers_503_with_retry_after(postgres: bool) {
    let app = spawn_lagging_app(postgres).await;
    let get = |path: String| {
        let app = &app;
        async move {
            app.client
                .get(format!("{}{path}", app.address))
                .bearer_auth(&app.token)
                .send()
                .await
                .unwrap()
        }
    };
    let opened: Value = app
        .client
        .post(format!("{}/api/v1/cases", app.address))
        .bearer_auth(&app.token)
        .json(&open_case_body(VILLAGE))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let case_id = opened["id"].as_str().unwrap().to_owned();
    let position = opened["position"].as_i64().unwrap();

    // Asked to include the write, the server waits (boundedly) and then
    // says to retry, instead of answering from stale data.
    let behind = get(format!("/api/v1/cases/{case_id}?after={position}")).await;
    assert_eq!(behind.headers()["retry-after"], "1");
    assert_problem(behind, StatusCode::SERVICE_UNAVAILABLE, "read_model_behind").await;
    let list = get(format!("/api/v1/cases?after={position}")).await;
    assert_problem(list, StatusCode::SERVICE_UNAVAILABLE, "read_model_behind").await;
    // Without `after`, a case whose file is not built yet is not a 404.
    let unbuilt = get(format!("/api/v1/cases/{case_id}")).await;
    assert!(unbuilt.headers().contains_key("retry-after"));
    assert_problem(
        unbuilt,
        StatusCode::SERVICE_UNAVAILABLE,
        "read_model_behind",
    )
    .await;

    app.projector.catch_up().await.unwrap();
    let caught_up = get(format!("/api/v1/cases/{case_id}?after={position}")).await;
    assert_eq!(caught_up.status(), StatusCode::OK);
    let file: Value = caught_up.json().await.unwrap();
    assert_eq!(file["case_id"], case_id.as_str());
    assert_eq!(file["last_position"], position);
}

mod a_read_model_behind_answers_503_with_retry_after {
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn sqlite() {
        super::a_read_model_behind_answers_503_with_retry_after(false).await;
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn postgres() {
        super::a_read_model_behind_answers_503_with_retry_after(true).await;
    }
}
