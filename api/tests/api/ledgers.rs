//! Ledgers over HTTP, written through the API and read back with `?after=`:
//! a caseload with an overdue high-risk case, the monthly visit rate, the
//! needs ledger of a township, an organization's orders, overdue orders,
//! escalations, satisfaction and the 一社一单 overview — each figure
//! computed by hand — and who may read them, inside and outside scope.

use chrono::{Duration, NaiveDate, Utc};
use reqwest::StatusCode;
use serde_json::{Value, json};
use shouwang_domain::vocabulary::UserRole;
use shouwang_infrastructure::users::{NewUser, add_user};
use uuid::Uuid;

use crate::both;
use crate::helpers::*;

both! {
    a_caseload_shows_whose_visit_is_overdue_within_scope => caseload;
    the_monthly_visit_rate_counts_cases_open_in_the_month => visit_rate;
    the_needs_ledger_orders_escalations_and_satisfaction_add_up => needs_ledger;
}

/// Another township of the test county.
pub const OTHER_TOWNSHIP: &str = "360121200";
pub const OTHER_TOWNSHIP_VILLAGE: &str = "360121200001";

/// Today in Asia/Shanghai, as the server reckons it.
pub fn today() -> NaiveDate {
    (Utc::now() + Duration::hours(8)).date_naive()
}

pub fn date(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

/// Posts as `user` and expects 200 or 201; returns the receipt.
pub async fn write(app: &TestApp, user: &str, path: &str, body: Value) -> Value {
    let response = app.post_json(Some(user), path, &body).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert!(
        status == StatusCode::OK || status == StatusCode::CREATED,
        "POST {path} as {user}: {status} {text}"
    );
    serde_json::from_str(&text).unwrap()
}

/// The position a write's receipt says it reached.
pub fn position(receipt: &Value) -> i64 {
    receipt["position"].as_i64().unwrap()
}

/// Gets as `user` and expects 200; returns the body.
pub async fn read(app: &TestApp, user: &str, path: &str) -> Value {
    let response = app.get(Some(user), path).await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::OK, "GET {path} as {user}: {text}");
    serde_json::from_str(&text).unwrap()
}

/// Adds a user and logs them in under `username`.
pub async fn add_logged_in(
    app: &mut TestApp,
    username: &'static str,
    role: UserRole,
    scope: &str,
    organization: Option<Uuid>,
) {
    add_user(
        app.store.database(),
        NewUser {
            username: username.to_owned(),
            display_name: format!("测试{username}"),
            role,
            region_scope: scope.to_owned(),
            organization_id: organization,
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

/// A user's id, as the server knows it.
pub async fn user_id(app: &TestApp, username: &str) -> String {
    read(app, username, "/api/v1/auth/me").await["id"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn assign_body(organization: Uuid, worker: &str) -> Value {
    json!({
        "organization_id": organization,
        "worker_id": worker,
        "arrangement": "one_to_one",
        "started_on": "2026-01-06"
    })
}

fn visit(on: &str, minutes: u32) -> Value {
    let mut body = visit_body(on);
    body["minutes"] = json!(minutes);
    body
}

async fn caseload(app: TestApp) {
    let worker = user_id(&app, "worker").await;
    let supervisor = user_id(&app, "supervisor").await;
    // Both high risk (opened 2026-01-05 at high, looked after by the worker):
    // `overdue` was never visited, so its first weekly visit fell due on
    // 2026-01-12; `visited` was seen yesterday, so it is due in six days.
    let (overdue, _) = app.open_case("worker", VILLAGE).await;
    let (visited, _) = app.open_case("worker", VILLAGE).await;
    // A third case in another township, looked after by the supervisor.
    let (other, _) = app.open_case("supervisor", OTHER_TOWNSHIP_VILLAGE).await;
    for case in [&overdue, &visited] {
        write(
            &app,
            "supervisor",
            &format!("/api/v1/cases/{case}/caregivers"),
            assign_body(app.organization, &worker),
        )
        .await;
    }
    // Looked after by the supervisor, and by the worker too — but it lies
    // outside the worker's township, so the worker's own list leaves it out.
    for caregiver in [&supervisor, &worker] {
        write(
            &app,
            "supervisor",
            &format!("/api/v1/cases/{other}/caregivers"),
            assign_body(app.organization, caregiver),
        )
        .await;
    }
    let yesterday = today() - Duration::days(1);
    let last = write(
        &app,
        "worker",
        &format!("/api/v1/cases/{visited}/visits"),
        visit(&yesterday.to_string(), 30),
    )
    .await;
    let after = position(&last);

    // A social worker's default: their own caseload.
    let mine = read(&app, "worker", &format!("/api/v1/caseload?after={after}")).await;
    assert_eq!(mine["scope"]["kind"], "worker");
    assert_eq!(mine["scope"]["worker_id"], worker);
    assert_eq!(mine["today"], today().to_string());
    assert_eq!(mine["policy"]["high_every_days"], 7);
    assert_eq!(mine["open_cases"], 2);
    assert_eq!(
        mine["by_risk"],
        json!({ "crisis": 0, "high": 2, "medium": 0, "low": 0 })
    );
    assert_eq!(mine["overdue_count"], 1);
    assert_eq!(mine["total"], 2);
    let first = &mine["cases"][0];
    assert_eq!(first["case_id"], overdue.as_str());
    assert_eq!(first["risk"], "high");
    assert_eq!(first["region"], VILLAGE);
    assert_eq!(first["worker_ids"], json!([worker]));
    assert!(
        mine["cases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|case| case["case_id"] != other.as_str()),
        "a case outside the worker's scope is not shown"
    );
    assert_eq!(first["last_visit"], Value::Null);
    assert_eq!(first["next_visit_due"], "2026-01-12");
    assert_eq!(
        first["overdue_days"],
        (today() - date("2026-01-12")).num_days()
    );
    let second = &mine["cases"][1];
    assert_eq!(second["case_id"], visited.as_str());
    assert_eq!(second["last_visit"], yesterday.to_string());
    assert_eq!(
        second["next_visit_due"],
        (yesterday + Duration::days(7)).to_string()
    );
    assert_eq!(second["overdue_days"], 0);

    // The overdue list holds only the case nobody visited.
    let late = read(&app, "worker", "/api/v1/caseload/overdue").await;
    assert_eq!(late["total"], 1);
    assert_eq!(late["cases"][0]["case_id"], overdue.as_str());

    // Filters and pages; the summary still counts every open case.
    let page = read(&app, "worker", "/api/v1/caseload?limit=1&offset=1").await;
    assert_eq!(
        (page["total"].as_u64(), page["open_cases"].as_u64()),
        (Some(2), Some(2))
    );
    assert_eq!(page["cases"].as_array().unwrap().len(), 1);
    assert_eq!(page["cases"][0]["case_id"], visited.as_str());
    let medium = read(&app, "worker", "/api/v1/caseload?risk=medium").await;
    assert_eq!(
        (medium["total"].as_u64(), medium["open_cases"].as_u64()),
        (Some(0), Some(2))
    );

    // Supervisors read areas: the worker's township, the whole county (their
    // default), another worker's caseload.
    let township = read(
        &app,
        "supervisor",
        &format!("/api/v1/caseload?scope=township&region={TOWNSHIP}"),
    )
    .await;
    assert_eq!(township["scope"]["region"], TOWNSHIP);
    assert_eq!(township["open_cases"], 2);
    let county = read(&app, "supervisor", "/api/v1/caseload").await;
    assert_eq!(county["scope"]["kind"], "county");
    assert_eq!(county["scope"]["region"], COUNTY);
    assert_eq!(county["open_cases"], 3);
    assert_eq!(
        county["overdue_count"], 2,
        "the third case was never visited either"
    );
    let theirs = read(
        &app,
        "supervisor",
        &format!("/api/v1/caseload?worker={worker}"),
    )
    .await;
    assert_eq!(
        theirs["open_cases"], 3,
        "the supervisor's scope holds all three"
    );
    let own = read(&app, "supervisor", "/api/v1/caseload?scope=worker").await;
    assert_eq!(own["scope"]["worker_id"], supervisor);
    assert_eq!(own["cases"][0]["case_id"], other.as_str());
    let organization = read(
        &app,
        "auditor",
        &format!(
            "/api/v1/caseload?scope=organization&organization={}",
            app.organization
        ),
    )
    .await;
    assert_eq!(organization["open_cases"], 3);

    // A social worker sees only their own caseload; nobody sees outside scope.
    assert_problem(
        app.get(
            Some("worker"),
            &format!("/api/v1/caseload?worker={supervisor}"),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(
            Some("worker"),
            &format!("/api/v1/caseload?scope=township&region={TOWNSHIP}"),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(
            Some("supervisor"),
            "/api/v1/caseload/overdue?scope=county&region=360122",
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(Some("admin"), "/api/v1/caseload").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(None, "/api/v1/caseload").await,
        StatusCode::UNAUTHORIZED,
        "unauthenticated",
    )
    .await;
    // The level must match the scope asked for; malformed values are named.
    let problem = assert_problem(
        app.get(
            Some("official"),
            "/api/v1/caseload?scope=township&region=360121",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "region_level_mismatch",
    )
    .await;
    assert_eq!(problem["field"], "region");
    let problem = assert_problem(
        app.get(Some("official"), "/api/v1/caseload?risk=severe")
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    assert_eq!(problem["field"], "risk");
    assert_problem(
        app.get(Some("official"), "/api/v1/caseload?limit=0").await,
        StatusCode::BAD_REQUEST,
        "invalid_limit",
    )
    .await;
}

async fn visit_rate(app: TestApp) {
    // Three cases opened on 2026-01-05; `closed` moves away on 2026-02-20.
    let (march, _) = app.open_case("worker", VILLAGE).await;
    let (current, _) = app.open_case("worker", VILLAGE).await;
    let (closed, _) = app.open_case("worker", VILLAGE).await;
    for (case, on) in [
        (&march, "2026-03-10"),
        (&march, "2026-03-20"),
        (&closed, "2026-02-15"),
    ] {
        write(
            &app,
            "worker",
            &format!("/api/v1/cases/{case}/visits"),
            visit(on, 40),
        )
        .await;
    }
    write(
        &app,
        "supervisor",
        &format!("/api/v1/cases/{closed}/close"),
        json!({ "reason": "moved_away", "closed_on": "2026-02-20" }),
    )
    .await;
    let last = write(
        &app,
        "worker",
        &format!("/api/v1/cases/{current}/visits"),
        visit(&today().to_string(), 20),
    )
    .await;
    let after = position(&last);

    // March: two cases open (the third closed in February), one visited
    // (twice, counted once) = 500‰.
    let rate = read(
        &app,
        "supervisor",
        &format!("/api/v1/visit-rate?region={TOWNSHIP}&month=2026-03&after={after}"),
    )
    .await;
    assert_eq!(
        rate,
        json!({
            "region_prefix": TOWNSHIP, "month": "2026-03",
            "open_cases": 2, "visited_cases": 1, "rate_permille": 500
        })
    );
    // February: all three open, one visited = 333‰ (rounded half up).
    let rate = read(&app, "auditor", "/api/v1/visit-rate?month=2026-02").await;
    assert_eq!(
        rate["region_prefix"], COUNTY,
        "an auditor's default area is their scope"
    );
    assert_eq!(
        (
            &rate["open_cases"],
            &rate["visited_cases"],
            &rate["rate_permille"]
        ),
        (&json!(3), &json!(1), &json!(333))
    );
    // January: nobody visited.
    let rate = read(&app, "official", "/api/v1/visit-rate?month=2026-01").await;
    assert_eq!(
        (&rate["open_cases"], &rate["rate_permille"]),
        (&json!(3), &json!(0))
    );
    // This month by default: two open, today's visit counts.
    let rate = read(&app, "official", "/api/v1/visit-rate").await;
    assert_eq!(rate["month"], today().format("%Y-%m").to_string());
    assert_eq!(
        (&rate["open_cases"], &rate["visited_cases"]),
        (&json!(2), &json!(1))
    );
    // Nothing lives in the other township: 0 of 0 is 0‰.
    let rate = read(
        &app,
        "official",
        &format!("/api/v1/visit-rate?region={OTHER_TOWNSHIP}&month=2026-03"),
    )
    .await;
    assert_eq!(
        (&rate["open_cases"], &rate["rate_permille"]),
        (&json!(0), &json!(0))
    );

    // A visit entered late counts for the month it is dated in.
    let late = write(
        &app,
        "worker",
        &format!("/api/v1/cases/{current}/visits"),
        visit("2026-03-05", 30),
    )
    .await;
    let rate = read(
        &app,
        "official",
        &format!("/api/v1/visit-rate?month=2026-03&after={}", position(&late)),
    )
    .await;
    assert_eq!(
        (&rate["visited_cases"], &rate["rate_permille"]),
        (&json!(2), &json!(1000))
    );

    // Scope, role and malformed parameters.
    assert_problem(
        app.get(Some("official"), "/api/v1/visit-rate?region=360122")
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(Some("worker"), "/api/v1/visit-rate").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let problem = assert_problem(
        app.get(Some("official"), "/api/v1/visit-rate?month=2026-13")
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_month",
    )
    .await;
    assert_eq!(problem["field"], "month");
    let problem = assert_problem(
        app.get(Some("official"), "/api/v1/visit-rate?region=12345")
            .await,
        StatusCode::BAD_REQUEST,
        "region_prefix_wrong_length",
    )
    .await;
    assert_eq!(problem["field"], "region");
    assert_problem(
        app.get(Some("official"), "/api/v1/visit-rate?after=999999")
            .await,
        StatusCode::BAD_REQUEST,
        "unknown_position",
    )
    .await;
}

fn organization_body(name: &str) -> Value {
    json!({
        "name": name,
        "credit_code": "52360103MJB123450D",
        "kind": "social_work_agency",
        "level": "county",
        "region_code": COUNTY,
        "hub": false,
        "registered_on": "2026-01-05"
    })
}

fn need_body(region: &str, micro_wish: bool) -> Value {
    json!({
        "case_id": null,
        "region_code": region,
        "category": "living",
        "description": "独居老人家中灯泡损坏，行动不便无法自行更换",
        "micro_wish": micro_wish,
        "urgency": "pressing",
        "source": "household_survey",
        "raised_on": "2026-02-10"
    })
}

fn dispatch_body(organization: &str, due_on: &str) -> Value {
    json!({
        "organization_id": organization,
        "due_on": due_on,
        "dispatched_on": "2026-02-11",
        "instructions": "请按期上门"
    })
}

async fn needs_ledger(mut app: TestApp) {
    let lights = write(
        &app,
        "official",
        "/api/v1/organizations",
        organization_body("南昌县心灵家园"),
    )
    .await;
    let lights = lights["id"].as_str().unwrap().to_owned();
    let idle = write(
        &app,
        "official",
        "/api/v1/organizations",
        organization_body("南昌县照明协会"),
    )
    .await;
    let idle = idle["id"].as_str().unwrap().to_owned();
    add_logged_in(
        &mut app,
        "lights_worker",
        UserRole::SocialWorker,
        TOWNSHIP,
        Some(lights.parse().unwrap()),
    )
    .await;
    add_logged_in(
        &mut app,
        "township_supervisor",
        UserRole::Supervisor,
        TOWNSHIP,
        None,
    )
    .await;
    let in_month = (today() + Duration::days(30)).to_string();

    // 1. Dispatched, accepted, due 2026-03-31 and still open: overdue.
    let late = write(&app, "worker", "/api/v1/needs", need_body(VILLAGE, true)).await;
    let late = late["id"].as_str().unwrap().to_owned();
    write(
        &app,
        "supervisor",
        &format!("/api/v1/needs/{late}/dispatch"),
        dispatch_body(&lights, "2026-03-31"),
    )
    .await;
    write(
        &app,
        "lights_worker",
        &format!("/api/v1/needs/{late}/accept"),
        json!({ "accepted_on": "2026-02-12" }),
    )
    .await;
    // 2. Met on 2026-02-16 (30 minutes, 10.00 元 and 45.00 元 of materials),
    //    evaluated 4 by the resident.
    let met = write(&app, "worker", "/api/v1/needs", need_body(VILLAGE, true)).await;
    let met = met["id"].as_str().unwrap().to_owned();
    write(
        &app,
        "supervisor",
        &format!("/api/v1/needs/{met}/dispatch"),
        dispatch_body(&lights, "2026-02-28"),
    )
    .await;
    write(
        &app,
        "lights_worker",
        &format!("/api/v1/needs/{met}/accept"),
        json!({ "accepted_on": "2026-02-12" }),
    )
    .await;
    write(
        &app,
        "lights_worker",
        &format!("/api/v1/needs/{met}/fulfil"),
        json!({
            "what_was_done": "上门更换灯泡 3 只", "minutes": 30, "money_fen": 1_000,
            "material_value_fen": 4_500, "fulfilled_on": "2026-02-16"
        }),
    )
    .await;
    write(
        &app,
        "worker",
        &format!("/api/v1/needs/{met}/evaluation"),
        json!({
            "satisfaction": 4, "words": "满意", "evaluated_on": "2026-02-20"
        }),
    )
    .await;
    // 3. Escalated to the city.
    let escalated = write(&app, "worker", "/api/v1/needs", need_body(VILLAGE, true)).await;
    let escalated = escalated["id"].as_str().unwrap().to_owned();
    write(
        &app,
        "official",
        &format!("/api/v1/needs/{escalated}/escalate"),
        json!({
            "to": "city", "reason": "县内无组织能提供", "escalated_on": "2026-02-11"
        }),
    )
    .await;
    // 4. Declined, back on the ledger; not a 微星愿.
    let declined = write(&app, "worker", "/api/v1/needs", need_body(VILLAGE, false)).await;
    let declined = declined["id"].as_str().unwrap().to_owned();
    write(
        &app,
        "supervisor",
        &format!("/api/v1/needs/{declined}/dispatch"),
        dispatch_body(&lights, "2026-03-31"),
    )
    .await;
    write(
        &app,
        "lights_worker",
        &format!("/api/v1/needs/{declined}/decline"),
        json!({
            "reason": "人手不足", "declined_on": "2026-02-12"
        }),
    )
    .await;
    // 5. In another township, dispatched to the same organization, due in a month.
    let elsewhere = write(
        &app,
        "supervisor",
        "/api/v1/needs",
        need_body(OTHER_TOWNSHIP_VILLAGE, true),
    )
    .await;
    let elsewhere = elsewhere["id"].as_str().unwrap().to_owned();
    let last = write(
        &app,
        "supervisor",
        &format!("/api/v1/needs/{elsewhere}/dispatch"),
        dispatch_body(&lights, &in_month),
    )
    .await;
    let after = position(&last);

    // The township's ledger.
    let ledger = read(
        &app,
        "official",
        &format!("/api/v1/needs-ledger/{TOWNSHIP}?after={after}"),
    )
    .await;
    assert_eq!(ledger["township"], TOWNSHIP);
    assert_eq!(ledger["needs_total"], 4);
    assert_eq!(ledger["micro_wishes"], 3);
    assert_eq!(
        ledger["by_status"],
        json!({
            "on_ledger": 1, "dispatched": 0, "accepted": 1, "fulfilled": 0,
            "evaluated": 1, "escalated": 1, "withdrawn": 0
        })
    );
    assert_eq!(ledger["overdue"], 1);
    assert_eq!(
        ledger["escalations"],
        json!({ "to_city": 1, "to_province": 0, "to_government": 0 })
    );
    assert_eq!(
        ledger["fulfilment"],
        json!({ "needs": 1, "minutes": 30, "money_fen": 1_000, "material_value_fen": 4_500 })
    );
    assert_eq!(
        ledger["satisfaction"],
        json!({ "evaluations": 1, "average_tenths": 40, "by_score": [0, 0, 0, 1, 0] })
    );
    assert_eq!(ledger["total"], 4);
    let overdue_days = (today() - date("2026-03-31")).num_days();
    let only_late = read(
        &app,
        "official",
        &format!("/api/v1/needs-ledger/{TOWNSHIP}?overdue=true"),
    )
    .await;
    assert_eq!(only_late["total"], 1);
    assert_eq!(only_late["needs"][0]["need_id"], late.as_str());
    assert_eq!(only_late["needs"][0]["organization_name"], "南昌县心灵家园");
    assert_eq!(only_late["needs"][0]["overdue_days"], overdue_days);
    let on_ledger = read(
        &app,
        "auditor",
        &format!("/api/v1/needs-ledger/{TOWNSHIP}?status=on_ledger"),
    )
    .await;
    assert_eq!(on_ledger["total"], 1);
    assert_eq!(on_ledger["needs"][0]["need_id"], declined.as_str());
    assert_eq!(on_ledger["needs"][0]["organization_id"], Value::Null);
    let not_wishes = read(
        &app,
        "auditor",
        &format!("/api/v1/needs-ledger/{TOWNSHIP}?micro_wish=false"),
    )
    .await;
    assert_eq!(not_wishes["total"], 1);
    let county = read(&app, "official", &format!("/api/v1/needs-ledger/{COUNTY}")).await;
    assert_eq!(county["needs_total"], 5);

    // The organization's orders: its own people see all four; a township
    // supervisor sees the three for needs in their township.
    let path = format!("/api/v1/organizations/{lights}/orders");
    let orders = read(&app, "lights_worker", &path).await;
    assert_eq!(orders["limited_to_scope"], false);
    assert_eq!(orders["total"], 4);
    let orders = read(&app, "official", &path).await;
    assert_eq!(orders["total"], 4);
    let orders = read(&app, "township_supervisor", &path).await;
    assert_eq!(orders["limited_to_scope"], true);
    assert_eq!(orders["total"], 3);
    assert!(
        orders["orders"]
            .as_array()
            .unwrap()
            .iter()
            .all(|order| order["township"] == TOWNSHIP)
    );
    let fulfilled = read(&app, "auditor", &format!("{path}?status=fulfilled")).await;
    assert_eq!(fulfilled["total"], 1);
    let order = &fulfilled["orders"][0];
    assert_eq!(order["need_id"], met.as_str());
    assert_eq!(
        (
            &order["minutes"],
            &order["money_fen"],
            &order["material_value_fen"],
            &order["satisfaction"]
        ),
        (&json!(30), &json!(1_000), &json!(4_500), &json!(4))
    );
    let declined_orders = read(&app, "auditor", &format!("{path}?status=declined")).await;
    assert_eq!(declined_orders["orders"][0]["declined_on"], "2026-02-12");
    let late_orders = read(&app, "auditor", &format!("{path}?overdue=true")).await;
    assert_eq!(late_orders["total"], 1);
    assert_eq!(late_orders["orders"][0]["overdue_days"], overdue_days);
    // Someone else's organization: a worker may not see its orders.
    assert_problem(
        app.get(Some("worker"), &path).await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(
            Some("official"),
            &format!("/api/v1/organizations/{}/orders", Uuid::now_v7()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Overdue orders of the county, the most overdue first.
    let overdue = read(&app, "supervisor", "/api/v1/needs/overdue").await;
    assert_eq!(overdue["region"], COUNTY);
    assert_eq!(overdue["total"], 1);
    assert_eq!(overdue["orders"][0]["need_id"], late.as_str());
    assert_eq!(overdue["orders"][0]["status"], "accepted");

    // Escalations.
    let escalations = read(&app, "official", "/api/v1/needs/escalations").await;
    assert_eq!(escalations["counts"]["to_city"], 1);
    assert_eq!(escalations["total"], 1);
    let escalation = &escalations["escalations"][0];
    assert_eq!(escalation["need_id"], escalated.as_str());
    assert_eq!(
        (&escalation["from"], &escalation["to"]),
        (&json!("county"), &json!("city"))
    );
    assert_eq!(escalation["pending"], true);
    assert_eq!(escalation["escalated_on"], "2026-02-11");
    let dealt_with = read(&app, "official", "/api/v1/needs/escalations?pending=false").await;
    assert_eq!(dealt_with["total"], 0);

    // Satisfaction and the 一社一单 overview.
    let satisfaction = read(
        &app,
        "auditor",
        &format!("/api/v1/needs/satisfaction?region={TOWNSHIP}"),
    )
    .await;
    assert_eq!(
        satisfaction,
        json!({
            "region": TOWNSHIP,
            "satisfaction": { "evaluations": 1, "average_tenths": 40, "by_score": [0, 0, 0, 1, 0] }
        })
    );
    let overview = read(&app, "official", "/api/v1/needs/by-organization").await;
    assert_eq!(overview["total"], 2);
    let row = |id: &str| {
        overview["organizations"]
            .as_array()
            .unwrap()
            .iter()
            .find(|row| row["organization_id"] == id)
            .cloned()
            .unwrap()
    };
    assert_eq!(
        row(&lights),
        json!({
            "organization_id": lights, "name": "南昌县心灵家园", "active": true,
            "open_orders": 2, "overdue_orders": 1, "fulfilled_orders": 1, "declined_orders": 1
        })
    );
    assert_eq!(row(&idle)["open_orders"], 0);

    // Scope and role.
    assert_problem(
        app.get(Some("official"), "/api/v1/needs-ledger/360122100")
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(
            Some("township_supervisor"),
            &format!("/api/v1/needs/escalations?region={COUNTY}"),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(Some("lights_worker"), "/api/v1/needs/overdue")
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(Some("worker"), &format!("/api/v1/needs-ledger/{TOWNSHIP}"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let problem = assert_problem(
        app.get(Some("official"), "/api/v1/needs-ledger/36012x")
            .await,
        StatusCode::BAD_REQUEST,
        "region_prefix_not_digits",
    )
    .await;
    assert_eq!(problem["field"], "township");
}
