//! Statistics and evaluation reports over HTTP, written through the API and
//! read back with `?after=`: 附件1 reproduced to the fen as JSON and as the
//! CSV download, 附件2 of one activity, case-based figures traced to their
//! events, progress, and a monthly report generated, a late entry, a second
//! version, the diff naming the late event and the first version computed
//! again exactly — with who may read and generate them, inside and outside
//! scope.

use reqwest::StatusCode;
use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};
use shouwang_domain::vocabulary::UserRole;
use uuid::Uuid;

use crate::both;
use crate::helpers::*;
use crate::ledgers::{add_logged_in, position, read, write};

both! {
    attachment1_and_attachment2_reproduce_the_activities_to_the_fen => attachments;
    case_figures_are_traced_and_add_up_to_progress => figures;
    a_late_entry_shows_in_the_diff_between_two_versions_of_a_report => evaluation_reports;
}

/// The column header line of the printed 附件1.
const ATTACHMENT1_COLUMNS: &str = "序号,活动名称,发起单位（组织者）,活动地域（县/乡/村）,活动时间,参与社会组织,,投入资金（含物资折款）,受益对象及人数,活动总体情况";
/// 附件1统计表.csv, percent-encoded as RFC 8187 asks.
const ENCODED_FILE_NAME: &str = "%E9%99%84%E4%BB%B61%E7%BB%9F%E8%AE%A1%E8%A1%A8.csv";

fn plan(name: &str, region: &str, level: &str, starts_at: &str, ends_at: &str) -> Value {
    json!({
        "name": name,
        "organizer_name": "南昌县心灵家园社工服务中心",
        "action_line": "knocking_for_elders",
        "region_code": region,
        "region_level": level,
        "place": "东湖村党群服务中心",
        "starts_at": starts_at,
        "ends_at": ends_at,
        "leader": "李社工"
    })
}

fn funds(money_fen: i64, material_value_fen: i64) -> Value {
    json!({
        "source": "social_donation", "money_fen": money_fen,
        "material_value_fen": material_value_fen, "note": "商会捐赠"
    })
}

fn complete(
    starts_at: &str,
    ends_at: &str,
    person_times: u32,
    persons: u32,
    minutes: u32,
) -> Value {
    json!({
        "actual_starts_at": starts_at,
        "actual_ends_at": ends_at,
        "person_times": person_times,
        "persons": persons,
        "service_minutes": minutes,
        "completed_on": &ends_at[..10]
    })
}

/// Plans an activity as `user`; returns its path.
async fn planned(app: &TestApp, user: &str, body: Value) -> String {
    let receipt = write(app, user, "/api/v1/activities", body).await;
    format!("/api/v1/activities/{}", receipt["id"].as_str().unwrap())
}

async fn attachments(app: TestApp) {
    let (elder, _) = app.open_case("worker", VILLAGE).await;

    // 1. In a village, with two participating organizations, 500.00 元 and
    //    200.00 元 of materials, 30 人次 (20 people) linked to a care case, an
    //    evidence image, completed.
    let knocking = planned(
        &app,
        "worker",
        plan(
            "邻里守望·助老敲门",
            VILLAGE,
            "village",
            "2026-03-01T09:00:00",
            "2026-03-01T11:30:00",
        ),
    )
    .await;
    for (name, headcount) in [("南昌县心灵家园", 6), ("东湖村志愿队", 8)] {
        write(
            &app,
            "worker",
            &format!("{knocking}/participants"),
            json!({ "organization_name": name, "headcount": headcount }),
        )
        .await;
    }
    write(
        &app,
        "worker",
        &format!("{knocking}/funds"),
        funds(50_000, 20_000),
    )
    .await;
    write(
        &app,
        "worker",
        &format!("{knocking}/beneficiaries"),
        json!({ "person_times": 30, "persons": 20, "linked_case_ids": [elder] }),
    )
    .await;
    write(
        &app,
        "worker",
        &format!("{knocking}/details"),
        json!({ "details": "社工与志愿者分组入户，为 20 位老人测量血压、清扫房屋。" }),
    )
    .await;
    let mut image = b"\x89PNG\r\n\x1a\n".to_vec();
    image.extend(std::iter::repeat_n(7u8, 200));
    let part = Part::bytes(image.clone())
        .file_name("现场.png")
        .mime_str("image/png")
        .unwrap();
    let uploaded = app
        .client
        .post(app.url(&format!("{knocking}/evidence")))
        .bearer_auth(&app.tokens["worker"])
        .multipart(Form::new().part("file", part))
        .send()
        .await
        .unwrap();
    assert_eq!(uploaded.status(), StatusCode::OK);
    let uploaded: Value = uploaded.json().await.unwrap();
    write(
        &app,
        "worker",
        &format!("{knocking}/complete"),
        complete("2026-03-01T09:10:00", "2026-03-01T11:40:00", 30, 20, 620),
    )
    .await;

    // 2. County-wide, 123.45 元 corrected to 123.00 元 after completion.
    let fair = planned(
        &app,
        "supervisor",
        plan(
            "政策宣讲进万家",
            &format!("{COUNTY}000000"),
            "county",
            "2026-03-05T14:00:00",
            "2026-03-05T16:00:00",
        ),
    )
    .await;
    let funded = write(
        &app,
        "supervisor",
        &format!("{fair}/funds"),
        funds(12_345, 0),
    )
    .await;
    write(
        &app,
        "supervisor",
        &format!("{fair}/complete"),
        complete("2026-03-05T14:00:00", "2026-03-05T16:00:00", 10, 10, 120),
    )
    .await;
    write(
        &app,
        "supervisor",
        &format!("{fair}/corrections"),
        json!({
            "corrected_version": funded["stream_version"],
            "corrected_fields": { "money_fen": 12_300 },
            "reason": "按收据更正"
        }),
    )
    .await;

    // 3. Cancelled, and 4. in April: neither is in March's table.
    let cancelled = planned(
        &app,
        "worker",
        plan(
            "中秋游园会",
            VILLAGE,
            "village",
            "2026-03-08T19:00:00",
            "2026-03-08T21:00:00",
        ),
    )
    .await;
    write(
        &app,
        "worker",
        &format!("{cancelled}/funds"),
        funds(99_900, 0),
    )
    .await;
    write(
        &app,
        "worker",
        &format!("{cancelled}/cancel"),
        json!({ "reason": "台风预警", "cancelled_on": "2026-03-07" }),
    )
    .await;
    let april = planned(
        &app,
        "worker",
        plan(
            "清明文明祭扫",
            VILLAGE,
            "village",
            "2026-04-02T09:00:00",
            "2026-04-02T11:00:00",
        ),
    )
    .await;
    let last = write(&app, "worker", &format!("{april}/funds"), funds(10_000, 0)).await;
    let after = position(&last);

    let query = format!(
        "county={COUNTY}&from=2026-03-01&to=2026-03-31&filling_unit=南昌县民政局&after={after}"
    );
    let table = read(
        &app,
        "official",
        &format!("/api/v1/statistics/attachment1?{query}"),
    )
    .await;
    assert_eq!(table["header"]["filling_unit"], "南昌县民政局");
    assert_eq!(
        (&table["from"], &table["to"]),
        (&json!("2026-03-01"), &json!("2026-03-31"))
    );
    let rows = table["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(
        (&rows[0]["serial"], &rows[0]["name"]),
        (&json!(1), &json!("邻里守望·助老敲门"))
    );
    assert_eq!(rows[0]["funds_fen"], 70_000);
    assert_eq!(rows[0]["participants"].as_array().unwrap().len(), 2);
    assert_eq!(
        rows[0]["beneficiary_categories"],
        json!(["empty_nest_elder"])
    );
    assert_eq!(
        (&rows[1]["serial"], &rows[1]["money_fen"]),
        (&json!(2), &json!(12_300))
    );
    assert_eq!(rows[1]["corrections"], 1);
    assert_eq!(
        table["totals"],
        json!({
            "activities": 2,
            "participations": 2,
            "participant_headcount": 14,
            "funds_fen": 82_300,
            "money_fen": 62_300,
            "material_value_fen": 20_000,
            "person_times": 40,
            "persons": 30,
            "service_minutes": 740
        })
    );

    // The same table as the CSV of the printed form, by content negotiation
    // and at its own address.
    let response = app
        .client
        .get(app.url(&format!("/api/v1/statistics/attachment1?{query}")))
        .bearer_auth(&app.tokens["auditor"])
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        response.headers()["content-type"],
        "text/csv; charset=utf-8"
    );
    let disposition = response.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(disposition.starts_with("attachment;"), "{disposition}");
    assert!(
        disposition.contains(&format!("filename*=UTF-8''{ENCODED_FILE_NAME}")),
        "{disposition}"
    );
    let csv = response.text().await.unwrap();
    let lines: Vec<&str> = csv.split("\r\n").collect();
    assert!(
        lines[0].starts_with("\u{feff}社会组织“邻里守望”关爱行动情况统计表"),
        "{csv}"
    );
    assert!(lines[1].starts_with("填表单位：南昌县民政局,"), "{csv}");
    assert_eq!(lines[2], ATTACHMENT1_COLUMNS);
    assert!(lines[4].starts_with("1,邻里守望·助老敲门,"), "{csv}");
    assert!(lines[4].contains(",南昌县心灵家园,6,700.00,"), "{csv}");
    assert!(
        lines[5].contains(",东湖村志愿队,8,"),
        "a continuation line: {csv}"
    );
    assert_eq!(
        lines.iter().rev().find(|line| !line.is_empty()).copied(),
        Some("合计,2项活动,,,,2个（次）组织,14,823.00,40人次（30人）,")
    );
    let download = app
        .client
        .get(app.url(&format!("/api/v1/statistics/attachment1.csv?{query}")))
        .bearer_auth(&app.tokens["auditor"])
        .send()
        .await
        .unwrap();
    assert_eq!(
        download.headers()["content-disposition"],
        disposition.as_str()
    );
    assert_eq!(download.text().await.unwrap(), csv);

    // 附件2 of the first activity.
    let sheet = read(&app, "auditor", &format!("{knocking}/attachment2")).await;
    assert_eq!(sheet["name"], "邻里守望·助老敲门");
    assert_eq!(sheet["leader"], "李社工");
    assert_eq!(sheet["place"], "东湖村党群服务中心");
    assert_eq!(sheet["service_minutes"], 620);
    assert_eq!(sheet["service_time"], "10小时20分钟");
    assert_eq!(
        (&sheet["person_times"], &sheet["persons"]),
        (&json!(30), &json!(20))
    );
    assert_eq!(
        sheet["participants_text"],
        "南昌县心灵家园（6人）、东湖村志愿队（8人）"
    );
    assert_eq!(sheet["evidence"][0]["sha256"], uploaded["sha256"]);
    assert_eq!(sheet["evidence"][0]["size_bytes"], image.len());
    assert_eq!(sheet["status"], "completed");
    let sheet = read(&app, "official", &format!("{cancelled}/attachment2")).await;
    assert_eq!(
        sheet["status"], "cancelled",
        "附件2 says an activity was cancelled"
    );

    // Scope, role and malformed requests.
    assert_problem(
        app.get(
            Some("official"),
            "/api/v1/statistics/attachment1?county=360122",
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(Some("worker"), "/api/v1/statistics/attachment1.csv")
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(Some("worker"), &format!("{knocking}/attachment2"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let problem = assert_problem(
        app.get(
            Some("official"),
            "/api/v1/statistics/attachment1?from=2026-04-01&to=2026-03-01",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_period",
    )
    .await;
    assert_eq!(problem["field"], "from");
    assert_problem(
        app.get(
            Some("official"),
            &format!("/api/v1/activities/{}/attachment2", Uuid::now_v7()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

async fn figures(app: TestApp) {
    let (elder, _) = app.open_case("worker", VILLAGE).await;
    let visit = write(
        &app,
        "worker",
        &format!("/api/v1/cases/{elder}/visits"),
        visit_body("2026-03-10"),
    )
    .await;
    let service = write(
        &app,
        "worker",
        &format!("/api/v1/cases/{elder}/services"),
        json!({
            "delivered_on": "2026-03-15",
            "service_types": ["companionship", "daily_care"],
            "action_line": "knocking_for_elders",
            "provider_organization_id": app.organization,
            "volunteers": 2,
            "minutes": 90,
            "money_fen": 5_000,
            "material_value_fen": 12_000,
            "description": "陪伴聊天，打扫卫生"
        }),
    )
    .await;
    // A visit in another month, outside the filter below.
    let april = write(
        &app,
        "worker",
        &format!("/api/v1/cases/{elder}/visits"),
        visit_body("2026-04-02"),
    )
    .await;

    let figures = read(
        &app,
        "auditor",
        &format!(
            "/api/v1/statistics/figures?region={TOWNSHIP}&from_month=2026-03&to_month=2026-03&after={}",
            position(&april)
        ),
    )
    .await;
    assert_eq!(figures["group_by"], "township");
    assert_eq!(figures["total"], 3);
    let rows = figures["rows"].as_array().unwrap();
    let service_key =
        format!("{TOWNSHIP}/2026-03/empty_nest_elder/companionship/knocking_for_elders");
    assert_eq!(rows[0]["key"], service_key.as_str());
    assert_eq!(rows[0]["category_label"], "空巢老人");
    assert_eq!(rows[0]["action_line_label"], "助老敲门");
    assert_eq!(
        (
            &rows[0]["person_times"],
            &rows[0]["persons"],
            &rows[0]["service_minutes"],
            &rows[0]["money_fen"],
            &rows[0]["material_value_fen"],
            &rows[0]["organizations"]
        ),
        (
            &json!(1),
            &json!(1),
            &json!(90),
            &json!(5_000),
            &json!(12_000),
            &json!(1)
        )
    );
    assert_eq!(rows[1]["service_type"], "daily_care");
    let visit_key = format!("{TOWNSHIP}/2026-03/empty_nest_elder/home_visiting/-");
    assert_eq!(rows[2]["key"], visit_key.as_str());
    assert_eq!(
        (&rows[2]["person_times"], &rows[2]["service_minutes"]),
        (&json!(1), &json!(40))
    );
    let by_type = read(
        &app,
        "auditor",
        "/api/v1/statistics/figures?group_by=county&service_type=home_visiting",
    )
    .await;
    assert_eq!(by_type["total"], 2, "March and April");
    assert_eq!(by_type["rows"][0]["region"], COUNTY);

    // Each figure traced back to the events behind it.
    let traced = read(
        &app,
        "official",
        &format!("/api/v1/statistics/trace?key={service_key}"),
    )
    .await;
    assert_eq!(traced["positions"], json!([position(&service)]));
    let traced = read(
        &app,
        "official",
        &format!("/api/v1/statistics/trace?key={visit_key}"),
    )
    .await;
    assert_eq!(traced["positions"], json!([position(&visit)]));
    assert_eq!(traced["person_times"], 1);

    // Progress: three events (the service counts once whatever its types).
    let progress = read(
        &app,
        "supervisor",
        "/api/v1/statistics/progress?target=1000",
    )
    .await;
    assert_eq!(
        progress,
        json!({
            "region": COUNTY, "target_person_times": 1000, "case_person_times": 3,
            "activity_person_times": 0, "person_times": 3, "permille": 3
        })
    );

    // Scope, role and malformed parameters.
    assert_problem(
        app.get(
            Some("official"),
            "/api/v1/statistics/trace?key=360122100/2026-03/empty_nest_elder/home_visiting/-",
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(Some("worker"), "/api/v1/statistics/figures").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let problem = assert_problem(
        app.get(
            Some("official"),
            "/api/v1/statistics/trace?key=360121100/2026-03",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_figure_key",
    )
    .await;
    assert_eq!(problem["field"], "key");
    let problem = assert_problem(
        app.get(Some("official"), "/api/v1/statistics/progress")
            .await,
        StatusCode::BAD_REQUEST,
        "target_required",
    )
    .await;
    assert_eq!(problem["field"], "target");
    let problem = assert_problem(
        app.get(
            Some("official"),
            "/api/v1/statistics/figures?from_month=2026-3",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_month",
    )
    .await;
    assert_eq!(problem["field"], "from_month");
    assert_problem(
        app.get(
            Some("official"),
            "/api/v1/statistics/figures?group_by=village",
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_group_by",
    )
    .await;
}

/// Generates a report as `user` after `after`; returns it.
async fn generate(app: &TestApp, user: &str, body: Value, after: i64) -> Value {
    let response = app
        .post_json(Some(user), &format!("/api/v1/reports?after={after}"), &body)
        .await;
    let status = response.status();
    let text = response.text().await.unwrap();
    assert_eq!(status, StatusCode::CREATED, "{text}");
    serde_json::from_str(&text).unwrap()
}

async fn evaluation_reports(mut app: TestApp) {
    // The dispatch month 2026-03 runs from 26 February to 25 March.
    let (elder, _) = app.open_case("worker", VILLAGE).await;
    let first_visit = write(
        &app,
        "worker",
        &format!("/api/v1/cases/{elder}/visits"),
        visit_body("2026-03-10"),
    )
    .await;
    let march = json!({ "period": "2026-03", "region": COUNTY });
    let first = generate(&app, "official", march.clone(), position(&first_visit)).await;
    assert_eq!(first["kind"], "monthly_dispatch");
    assert_eq!(first["kind_label"], "月调度");
    assert_eq!(first["period_label"], "2026年3月");
    assert_eq!(first["version"], 1);
    assert_eq!(first["generated_by"], "official");
    assert_eq!(
        (&first["body"]["from"], &first["body"]["to"]),
        (&json!("2026-02-26"), &json!("2026-03-25"))
    );
    assert!(first["cut"]["position"].as_i64().unwrap() >= position(&first_visit));
    let figures = &first["body"]["figures"];
    assert_eq!(
        (
            &figures["care.visits"],
            &figures["care.person_times"],
            &figures["care.minutes"]
        ),
        (&json!(1), &json!(1), &json!(40))
    );
    assert_eq!(first["body"]["labels"]["care.visits"], "探访次数");

    // A visit entered late, for a date the first report already covered.
    let late = write(
        &app,
        "worker",
        &format!("/api/v1/cases/{elder}/visits"),
        visit_body("2026-03-12"),
    )
    .await;
    let second = generate(&app, "supervisor", march.clone(), position(&late)).await;
    assert_eq!(second["version"], 2);
    assert_eq!(second["body"]["figures"]["care.visits"], 2);

    // The diff names the late event behind every figure it changed.
    let (a, b) = (
        first["id"].as_str().unwrap(),
        second["id"].as_str().unwrap(),
    );
    let diff = read(
        &app,
        "auditor",
        &format!("/api/v1/reports/diff?a={a}&b={b}"),
    )
    .await;
    assert_eq!(
        (&diff["old"]["version"], &diff["new"]["version"]),
        (&json!(1), &json!(2))
    );
    let visits = diff["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|change| change["key"] == "care.visits")
        .cloned()
        .unwrap();
    assert_eq!((&visits["old"], &visits["new"]), (&json!(1), &json!(2)));
    assert_eq!(visits["label"], "探访次数");
    let event = &visits["events"][0];
    assert_eq!(event["position"], position(&late));
    assert_eq!(event["stream_id"], elder.as_str());
    assert_eq!(event["event_type"], "VisitRecorded");
    assert_eq!(
        (&event["nature"], &event["nature_label"]),
        (&json!("late_entry"), &json!("补录"))
    );
    assert_eq!(diff["events"].as_array().unwrap().len(), 1, "{diff}");
    assert_eq!(diff["events"][0]["position"], position(&late));

    // The first version computed again from the facts up to its cut is
    // exactly what was stored, the late visit left out.
    let again = read(&app, "auditor", &format!("/api/v1/reports/{a}/regenerate")).await;
    assert_eq!(again["matches_stored"], true);
    assert_eq!(again["differing_figures"], json!([]));
    assert_eq!(again["body"]["figures"], first["body"]["figures"]);

    // Stored reports, listed and read back.
    let list = read(
        &app,
        "auditor",
        "/api/v1/reports?kind=monthly_dispatch&period=2026-03",
    )
    .await;
    assert_eq!(list["total"], 2);
    assert_eq!(
        list["reports"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["version"].clone())
            .collect::<Vec<_>>(),
        vec![json!(1), json!(2)]
    );
    let none = read(&app, "auditor", "/api/v1/reports?kind=annual_ranking").await;
    assert_eq!(none["total"], 0);
    let stored = read(&app, "official", &format!("/api/v1/reports/{a}")).await;
    assert_eq!(stored, first);

    // With an Idempotency-Key a report is stored once: the retry is answered
    // with it, and the key is refused for any other request.
    let key = Uuid::new_v4();
    let keyed = app
        .post_with_key(Some("official"), "/api/v1/reports", &march, Some(key))
        .await;
    assert_eq!(keyed.status(), StatusCode::CREATED);
    let keyed: Value = keyed.json().await.unwrap();
    assert_eq!((&keyed["id"], &keyed["version"]), (&json!(key), &json!(3)));
    let retry = app
        .post_with_key(Some("official"), "/api/v1/reports", &march, Some(key))
        .await;
    assert_eq!(retry.status(), StatusCode::OK);
    assert_eq!(retry.json::<Value>().await.unwrap(), keyed);
    let listed = read(&app, "auditor", "/api/v1/reports?period=2026-03").await;
    assert_eq!(listed["total"], 3, "the retry stored nothing: {listed}");
    for (user, body) in [
        ("official", json!({ "period": "2026-02", "region": COUNTY })),
        ("supervisor", march.clone()),
    ] {
        assert_problem(
            app.post_with_key(Some(user), "/api/v1/reports", &body, Some(key))
                .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
        )
        .await;
    }

    // A quarter and a year are other kinds of report, not comparable to a month.
    let quarter = generate(
        &app,
        "official",
        json!({ "period": "2026-Q1" }),
        position(&late),
    )
    .await;
    assert_eq!(quarter["kind"], "quarterly_supervision");
    assert_eq!(
        quarter["region"], COUNTY,
        "the area defaults to the user's scope"
    );
    let year = generate(
        &app,
        "official",
        json!({ "period": "2026" }),
        position(&late),
    )
    .await;
    assert_eq!(year["kind"], "annual_ranking");
    assert!(year["body"]["weights"].is_object());
    assert_problem(
        app.get(
            Some("auditor"),
            &format!(
                "/api/v1/reports/diff?a={a}&b={}",
                quarter["id"].as_str().unwrap()
            ),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "reports_not_comparable",
    )
    .await;

    // Roles: social workers neither read nor generate reports; auditors
    // read but never generate.
    assert_problem(
        app.get(Some("worker"), "/api/v1/reports").await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(Some("worker"), &format!("/api/v1/reports/{a}"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_json(Some("worker"), "/api/v1/reports", &march)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.post_json(Some("auditor"), "/api/v1/reports", &march)
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;

    // Scope: nobody generates or reads a report on an area outside theirs.
    assert_problem(
        app.post_json(
            Some("official"),
            "/api/v1/reports",
            &json!({ "period": "2026-03", "region": "360122" }),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    add_logged_in(
        &mut app,
        "provincial_official",
        UserRole::Official,
        "36",
        None,
    )
    .await;
    let elsewhere = generate(
        &app,
        "provincial_official",
        json!({ "period": "2026-03", "region": "360122" }),
        position(&late),
    )
    .await;
    let elsewhere = elsewhere["id"].as_str().unwrap();
    assert_problem(
        app.get(Some("official"), &format!("/api/v1/reports/{elsewhere}"))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    assert_problem(
        app.get(
            Some("auditor"),
            &format!("/api/v1/reports/diff?a={a}&b={elsewhere}"),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden",
    )
    .await;
    let county_list = read(&app, "official", "/api/v1/reports").await;
    assert_eq!(
        county_list["total"], 5,
        "the report on 360122 is not listed"
    );
    let province_list = read(&app, "provincial_official", "/api/v1/reports?region=36").await;
    assert_eq!(province_list["total"], 6);

    // Malformed requests and missing reports.
    let problem = assert_problem(
        app.post_json(
            Some("official"),
            "/api/v1/reports",
            &json!({ "period": "2026-13" }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_period",
    )
    .await;
    assert_eq!(problem["field"], "period");
    let problem = assert_problem(
        app.post_json(
            Some("official"),
            "/api/v1/reports",
            &json!({ "region": COUNTY }),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_field",
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("period"),
        "{problem}"
    );
    assert_problem(
        app.get(
            Some("official"),
            &format!("/api/v1/reports/{}", Uuid::now_v7()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(
            Some("official"),
            &format!("/api/v1/reports/{}/regenerate", Uuid::now_v7()),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_problem(
        app.get(Some("official"), &format!("/api/v1/reports/diff?a={a}"))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
}
