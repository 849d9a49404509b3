//! The statistics read model on SQLite and PostgreSQL, fed through the real
//! command buses: 附件1 reproduced to the fen for a hand-computed set of
//! activities (one cancelled, one corrected, two outside the table), 附件2,
//! case-based figures traced back to their events, progress against a
//! target, and rebuild == incremental.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::num::NonZeroU64;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::json;
use shouwang_domain::RegionPrefix;
use shouwang_domain::activity::*;
use shouwang_domain::care_case::{
    CaseCommand, ChangeCategories, OpenCase, RecordService, RecordVisit, TransferCase,
};
use shouwang_domain::organization::{OrganizationCommand, RegisterOrganization};
use shouwang_domain::values::IdNumber;
use shouwang_domain::vocabulary::*;
use shouwang_domain::volunteer::PointsPolicy;
use shouwang_infrastructure::{Application, CommandMetadata, Database, MasterKey, Store};
use shouwang_projections::dump::dump_table;
use shouwang_projections::statistics::{
    Attachment1Header, FigureKey, Month, StatisticsFilter, StatisticsProjection, attachment1,
    attachment2, progress, render_attachment1_csv, service_figures, service_figures_from_facts,
    trace,
};
use shouwang_projections::{Projection, Projector, ProjectorSettings, rebuild};
use shouwang_testkit::on_both_backends;
use uuid::Uuid;

fn today() -> NaiveDate {
    day(11, 20)
}

fn day(month: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, d).unwrap()
}

fn at(month: u32, d: u32, hour: u32, minute: u32) -> NaiveDateTime {
    day(month, d).and_hms_opt(hour, minute, 0).unwrap()
}

fn meta() -> CommandMetadata {
    CommandMetadata::system("statistics-test")
}

async fn application(url: &str) -> Application {
    let db = Database::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    Application::new(
        Store::new(db, MasterKey::generate().1),
        PointsPolicy::default(),
    )
}

async fn caught_up_projector(app: &Application) -> Projector {
    let projector = Projector::new(
        app.store().clone(),
        vec![std::sync::Arc::new(StatisticsProjection) as std::sync::Arc<dyn Projection>],
    );
    projector.prepare().await.unwrap();
    catch_up(&projector).await;
    projector
}

/// Catches up to the last event, waiting out the PostgreSQL fence held by
/// other tests' transactions (it delays the feed, never skips).
async fn catch_up(projector: &Projector) {
    let last: i64 = shouwang_infrastructure::with_pool!(projector.store().database(), pool => {
        sqlx::query_scalar("SELECT COALESCE(MAX(position), 0) FROM events").fetch_one(pool).await.unwrap()
    });
    for _ in 0..500 {
        projector.catch_up().await.unwrap();
        let status = projector.status().await.unwrap();
        assert!(status.iter().all(|s| s.error.is_none()), "{status:?}");
        if status.iter().all(|s| s.cursor.position >= last) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the statistics did not reach position {last}");
}

async fn dump_all(db: &Database) -> Vec<Vec<String>> {
    let mut dumps = Vec::new();
    for table in StatisticsProjection.tables() {
        dumps.push(dump_table(db, table).await.unwrap());
    }
    dumps
}

async fn assert_rebuild_equals_incremental(app: &Application) {
    let db = app.store().database();
    let incremental = dump_all(db).await;
    rebuild(app.store(), &StatisticsProjection, |_, _| {})
        .await
        .unwrap();
    assert_eq!(dump_all(db).await, incremental, "rebuild == incremental");
}

async fn register_organization(app: &Application, name: &str) -> Uuid {
    let id = Uuid::now_v7();
    app.organizations
        .execute(
            &id.to_string(),
            OrganizationCommand::new(
                today(),
                RegisterOrganization {
                    name: name.into(),
                    credit_code: "91350100M000100Y43".into(),
                    kind: OrganizationKind::SocialWorkAgency,
                    level: RegionLevel::County,
                    region_code: "360121".into(),
                    hub: false,
                    registered_on: day(1, 2),
                },
            ),
            meta(),
        )
        .await
        .unwrap();
    id
}

/// A valid ID number of a woman born 1949-12-31 (the sequence keeps them apart).
fn id_number(sequence: u32) -> String {
    let first_17 = format!("36012119491231{:02}2", sequence % 100);
    let check = IdNumber::check_character_for(&first_17).unwrap();
    format!("{first_17}{check}")
}

async fn open_case(
    app: &Application,
    sequence: u32,
    region: &str,
    categories: Vec<CareCategory>,
    organization_id: Option<Uuid>,
) -> Uuid {
    let id = Uuid::now_v7();
    app.cases
        .execute(
            &id.to_string(),
            CaseCommand::new(
                today(),
                OpenCase {
                    name: format!("关爱对象{sequence}"),
                    gender: Gender::Female,
                    birth_date: NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(),
                    id_number: id_number(sequence),
                    phone: "13807910000".into(),
                    address: "莲塘镇东湖村 3 组 12 号".into(),
                    residence_region: region.into(),
                    categories,
                    identified_via: IdentificationChannel::VisitDiscovery,
                    risk_level: RiskLevel::Medium,
                    organization_id,
                    opened_on: day(1, 5),
                },
            ),
            meta(),
        )
        .await
        .unwrap();
    id
}

async fn activity(app: &Application, id: Uuid, action: impl Into<ActivityAction>) -> u64 {
    app.execute_activity(id, ActivityCommand::new(today(), action), meta())
        .await
        .unwrap()
        .stream_version
        .unwrap()
}

fn plan(
    name: &str,
    organizer: &str,
    region: &str,
    level: RegionLevel,
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
) -> PlanActivity {
    PlanActivity {
        name: name.into(),
        organizer_name: organizer.into(),
        organizer_organization_id: None,
        action_line: Some(ActionLine::NeighborhoodKinship),
        region_code: region.into(),
        region_level: level,
        place: "莲塘镇社工站活动室".into(),
        starts_at,
        ends_at,
        leader: "李红".into(),
    }
}

fn funds(money_fen: i64, material_value_fen: i64) -> RecordFunds {
    RecordFunds {
        source: FundSource::SocialDonation,
        money_fen,
        material_value_fen,
        note: String::new(),
    }
}

fn participant(name: &str, headcount: u32) -> AddParticipatingOrganization {
    AddParticipatingOrganization {
        organization_name: name.into(),
        organization_id: None,
        headcount,
    }
}

fn complete(
    starts_at: NaiveDateTime,
    ends_at: NaiveDateTime,
    person_times: u32,
    persons: u32,
    service_minutes: u32,
) -> CompleteActivity {
    CompleteActivity {
        actual_starts_at: starts_at,
        actual_ends_at: ends_at,
        person_times,
        persons,
        service_minutes,
        completed_on: ends_at.date(),
    }
}

fn correct(version: u64, fields: serde_json::Value) -> CorrectActivity {
    CorrectActivity {
        corrected_version: version,
        corrected_fields: fields.as_object().unwrap().clone(),
        reason: "录入有误，按签到表更正".into(),
    }
}

fn png(seed: u8) -> Vec<u8> {
    let mut bytes = b"\x89PNG\r\n\x1a\n".to_vec();
    bytes.extend(std::iter::repeat_n(seed, 200));
    bytes
}

on_both_backends! {
    attachment1_reproduces_a_hand_computed_table_to_the_fen => attachment1_table;
    case_figures_are_traced_to_their_events => case_figures;
    the_cells_give_the_figures_the_facts_give => cells_equal_facts;
}

async fn attachment1_table(url: &str) {
    let app = application(url).await;
    let elder = open_case(
        &app,
        1,
        "360121100001",
        vec![CareCategory::EmptyNestElder],
        None,
    )
    .await;

    // 1. Completed, in a township of the county, with two rounds of funds, a
    //    participant added and removed again, and an evidence image.
    let dumplings = Uuid::now_v7();
    let (start, end) = (at(10, 20, 9, 0), at(10, 20, 11, 30));
    activity(
        &app,
        dumplings,
        plan(
            "重阳敬老包饺子",
            "莲塘镇社工站",
            "360121100000",
            RegionLevel::Township,
            start,
            end,
        ),
    )
    .await;
    activity(&app, dumplings, participant("莲塘镇社工站", 12)).await;
    activity(&app, dumplings, participant("临时志愿队", 4)).await;
    activity(&app, dumplings, participant("南昌县义工联合会", 8)).await;
    activity(
        &app,
        dumplings,
        RemoveParticipatingOrganization {
            organization_name: "临时志愿队".into(),
            reason: "当天未到场".into(),
        },
    )
    .await;
    activity(&app, dumplings, funds(150_000, 32_050)).await;
    activity(&app, dumplings, funds(0, 12_345)).await;
    activity(
        &app,
        dumplings,
        RecordBeneficiaries {
            person_times: 86,
            persons: 41,
            linked_case_ids: vec![elder],
            missing_case_ids: Vec::new(),
        },
    )
    .await;
    activity(
        &app,
        dumplings,
        WriteDetails {
            details: "为辖区空巢老人包饺子，开展健康讲座。".into(),
        },
    )
    .await;
    let (image, _) = app
        .upload_evidence(dumplings, today(), &png(7), "合影.png", meta())
        .await
        .unwrap();
    activity(&app, dumplings, complete(start, end, 86, 41, 1_500)).await;

    // 2. Completed at village level, then corrected: the material value
    //    (50.00 → 80.00 元) and, twice, the beneficiaries (the later wins).
    let legal = Uuid::now_v7();
    let (start, end) = (at(11, 3, 14, 0), at(11, 3, 16, 0));
    activity(
        &app,
        legal,
        plan(
            "邻里守望法律咨询 \"以案说法\"",
            "南昌县法律援助中心",
            "360121100001",
            RegionLevel::Village,
            start,
            end,
        ),
    )
    .await;
    activity(&app, legal, participant("江西赣江律师事务所志愿服务队", 3)).await;
    let funds_version = activity(&app, legal, funds(0, 5_000)).await;
    let completed_version = activity(&app, legal, complete(start, end, 25, 25, 240)).await;
    activity(
        &app,
        legal,
        correct(funds_version, json!({ "material_value_fen": 8_000 })),
    )
    .await;
    activity(
        &app,
        legal,
        correct(
            completed_version,
            json!({ "person_times": 27, "persons": 27 }),
        ),
    )
    .await;
    activity(
        &app,
        legal,
        correct(
            completed_version,
            json!({ "person_times": 30, "persons": 28 }),
        ),
    )
    .await;

    // 3. Cancelled: left out.
    let fair = Uuid::now_v7();
    activity(
        &app,
        fair,
        plan(
            "中秋游园会",
            "南昌县民政局",
            "360121000000",
            RegionLevel::County,
            at(9, 15, 19, 0),
            at(9, 15, 21, 0),
        ),
    )
    .await;
    activity(&app, fair, funds(200_000, 0)).await;
    activity(
        &app,
        fair,
        CancelActivity {
            reason: "台风预警".into(),
            cancelled_on: day(9, 14),
        },
    )
    .await;

    // 4. Another county, and 5. before the period: left out.
    let elsewhere = Uuid::now_v7();
    activity(
        &app,
        elsewhere,
        plan(
            "新建区敬老活动",
            "新建区社工站",
            "360122100000",
            RegionLevel::Township,
            at(10, 10, 9, 0),
            at(10, 10, 11, 0),
        ),
    )
    .await;
    activity(&app, elsewhere, funds(99_900, 0)).await;
    let earlier = Uuid::now_v7();
    activity(
        &app,
        earlier,
        plan(
            "暑期护童课堂",
            "莲塘镇社工站",
            "360121100000",
            RegionLevel::Township,
            at(8, 1, 9, 0),
            at(8, 1, 11, 0),
        ),
    )
    .await;
    activity(&app, earlier, funds(10_000, 0)).await;

    caught_up_projector(&app).await;
    let db = app.store().database();
    let county = RegionPrefix::parse("360121").unwrap();
    let table = attachment1(
        db,
        &county,
        (day(9, 1), day(11, 30)),
        Attachment1Header {
            filling_unit: "南昌县民政局".into(),
            filled_on: today(),
        },
    )
    .await
    .unwrap();

    // By hand: 1500.00 + 320.50 + 123.45 = 1943.95 元; 80.00 元 after the
    // correction; 86 + 30 = 116 人次, 41 + 28 = 69 人; 12 + 8 + 3 = 23 people
    // of 3 participating organizations.
    assert_eq!(table.rows.len(), 2);
    assert_eq!(table.rows[0].activity_id, dumplings);
    assert_eq!(table.rows[0].funds_fen, 194_395);
    assert_eq!(table.rows[1].funds_fen, 8_000);
    assert_eq!(table.rows[1].person_times, 30);
    assert_eq!(table.rows[1].persons, 28);
    assert_eq!(table.rows[1].corrections, 3);
    assert_eq!(table.totals.funds_fen, 202_395);
    assert_eq!(table.totals.money_fen, 150_000);
    assert_eq!(table.totals.material_value_fen, 52_395);
    assert_eq!(table.totals.person_times, 116);
    assert_eq!(table.totals.persons, 69);
    assert_eq!(table.totals.participant_headcount, 23);
    assert_eq!(table.totals.participations, 3);
    assert_eq!(table.totals.service_minutes, 1_740);

    let expected = [
        "社会组织“邻里守望”关爱行动情况统计表（统计单位：人次、元）,,,,,,,,,",
        "填表单位：南昌县民政局,,,,,填表时间：2026年11月20日,,,,",
        "序号,活动名称,发起单位（组织者）,活动地域（县/乡/村）,活动时间,参与社会组织,,投入资金（含物资折款）,受益对象及人数,活动总体情况",
        ",,,,,名称,参与人数,,,",
        "1,重阳敬老包饺子,莲塘镇社工站,乡镇（街道） 360121100,2026-10-20 09:00—11:30,莲塘镇社工站,12,1943.95,空巢老人 86人次（41人）,为辖区空巢老人包饺子，开展健康讲座。",
        ",,,,,南昌县义工联合会,8,,,",
        "2,\"邻里守望法律咨询 \"\"以案说法\"\"\",南昌县法律援助中心,村（社区） 360121100001,2026-11-03 14:00—16:00,江西赣江律师事务所志愿服务队,3,80.00,30人次（28人）,已完成",
        "合计,2项活动,,,,3个（次）组织,23,2023.95,116人次（69人）,",
    ];
    let csv = render_attachment1_csv(&table);
    let csv = csv.strip_prefix('\u{feff}').expect("UTF-8 byte-order mark");
    assert_eq!(csv, expected.map(|line| format!("{line}\r\n")).concat());

    // 附件2 of the first activity, and of the cancelled one.
    let sheet = attachment2(db, dumplings).await.unwrap().unwrap();
    assert_eq!(sheet.name, "重阳敬老包饺子");
    assert_eq!(sheet.organizer, "莲塘镇社工站");
    assert_eq!(sheet.place, "莲塘镇社工站活动室");
    assert_eq!(sheet.time, "2026-10-20 09:00—11:30");
    assert_eq!(sheet.beneficiaries, "86人次（41人）");
    assert_eq!(sheet.service_time, "25小时");
    assert_eq!(sheet.leader, "李红");
    assert_eq!(
        sheet.participants_text,
        "莲塘镇社工站（12人）、南昌县义工联合会（8人）"
    );
    assert_eq!(sheet.details, "为辖区空巢老人包饺子，开展健康讲座。");
    assert_eq!(sheet.evidence.len(), 1);
    assert_eq!(sheet.evidence[0].sha256, image.sha256);
    assert_eq!(sheet.evidence[0].media_type, "image/png");
    let cancelled = attachment2(db, fair).await.unwrap().unwrap();
    assert_eq!(cancelled.status, ActivityStatus::Cancelled);
    assert!(attachment2(db, Uuid::now_v7()).await.unwrap().is_none());

    // Progress counts the activities not cancelled (the other county's has
    // no beneficiaries recorded).
    let progress = progress(db, &county, NonZeroU64::new(500_000).unwrap())
        .await
        .unwrap();
    assert_eq!(progress.activity_person_times, 116);
    assert_eq!(progress.case_person_times, 0);
    assert_eq!(progress.permille, 0);

    assert_rebuild_equals_incremental(&app).await;
}

async fn record_service(
    app: &Application,
    case_id: Uuid,
    delivered_on: NaiveDate,
    service_types: Vec<ServiceType>,
    action_line: Option<ActionLine>,
    provider: Uuid,
    (minutes, money_fen, material_value_fen): (u32, i64, i64),
) -> i64 {
    app.cases
        .execute(
            &case_id.to_string(),
            CaseCommand::new(
                today(),
                RecordService {
                    delivered_on,
                    service_types,
                    action_line,
                    provider_organization_id: provider,
                    volunteers: 2,
                    minutes,
                    money_fen,
                    material_value_fen,
                    description: "上门服务".into(),
                },
            ),
            meta(),
        )
        .await
        .unwrap()
        .last_position
        .unwrap()
}

async fn case_figures(url: &str) {
    let app = application(url).await;
    let station = register_organization(&app, "莲塘镇社工站").await;
    let volunteers = register_organization(&app, "南昌县义工联合会").await;
    let elder = open_case(
        &app,
        1,
        "360121100001",
        vec![CareCategory::EmptyNestElder, CareCategory::Disabled],
        None,
    )
    .await;
    let child = open_case(
        &app,
        2,
        "360121101002",
        vec![CareCategory::LeftBehindChild],
        Some(station),
    )
    .await;

    let knock = record_service(
        &app,
        elder,
        day(10, 5),
        vec![ServiceType::Companionship, ServiceType::DailyCare],
        Some(ActionLine::KnockingForElders),
        station,
        (90, 0, 5_000),
    )
    .await;
    let company = record_service(
        &app,
        elder,
        day(10, 20),
        vec![ServiceType::Companionship],
        None,
        volunteers,
        (30, 10_000, 0),
    )
    .await;
    let visit = app
        .cases
        .execute(
            &elder.to_string(),
            CaseCommand::new(
                today(),
                RecordVisit {
                    visited_on: day(10, 12),
                    visitor_ids: vec![Uuid::from_u128(7)],
                    method: VisitMethod::HomeVisit,
                    minutes: 40,
                    findings: "身体状况平稳".into(),
                    wellbeing_notes: "夜间失眠".into(),
                    follow_up_needed: false,
                },
            ),
            meta(),
        )
        .await
        .unwrap()
        .last_position
        .unwrap();
    let tutoring = record_service(
        &app,
        child,
        day(11, 2),
        vec![ServiceType::Tutoring],
        Some(ActionLine::ChildrenGrowth),
        station,
        (60, 0, 0),
    )
    .await;
    // A category added later counts for later services only.
    app.cases
        .execute(
            &child.to_string(),
            CaseCommand::new(
                today(),
                ChangeCategories {
                    added: vec![CareCategory::ChildInDifficulty],
                    removed: Vec::new(),
                    reason: "父母外出务工，经评估为困境儿童".into(),
                    effective_on: day(11, 5),
                },
            ),
            meta(),
        )
        .await
        .unwrap();
    let tutoring_again = record_service(
        &app,
        child,
        day(11, 10),
        vec![ServiceType::Tutoring],
        Some(ActionLine::ChildrenGrowth),
        station,
        (45, 0, 0),
    )
    .await;

    caught_up_projector(&app).await;
    let db = app.store().database();
    let county = RegionPrefix::parse("360121").unwrap();
    let rows = service_figures(db, &StatisticsFilter::area(county.clone()))
        .await
        .unwrap();
    let summary: Vec<(String, i64, i64, i64, i64, i64, i64)> = rows
        .iter()
        .map(|row| {
            (
                row.key.to_string(),
                row.person_times,
                row.persons,
                row.service_minutes,
                row.money_fen,
                row.material_value_fen,
                row.organizations,
            )
        })
        .collect();
    let row = |key: &str, counts: (i64, i64, i64, i64, i64, i64)| {
        (
            key.to_owned(),
            counts.0,
            counts.1,
            counts.2,
            counts.3,
            counts.4,
            counts.5,
        )
    };
    assert_eq!(
        summary,
        vec![
            row(
                "360121100/2026-10/empty_nest_elder/companionship/-",
                (1, 1, 30, 10_000, 0, 1)
            ),
            row(
                "360121100/2026-10/empty_nest_elder/companionship/knocking_for_elders",
                (1, 1, 90, 0, 5_000, 1)
            ),
            row(
                "360121100/2026-10/empty_nest_elder/daily_care/knocking_for_elders",
                (1, 1, 90, 0, 5_000, 1)
            ),
            row(
                "360121100/2026-10/empty_nest_elder/home_visiting/-",
                (1, 1, 40, 0, 0, 0)
            ),
            row(
                "360121100/2026-10/disabled/companionship/-",
                (1, 1, 30, 10_000, 0, 1)
            ),
            row(
                "360121100/2026-10/disabled/companionship/knocking_for_elders",
                (1, 1, 90, 0, 5_000, 1)
            ),
            row(
                "360121100/2026-10/disabled/daily_care/knocking_for_elders",
                (1, 1, 90, 0, 5_000, 1)
            ),
            row(
                "360121100/2026-10/disabled/home_visiting/-",
                (1, 1, 40, 0, 0, 0)
            ),
            row(
                "360121101/2026-11/left_behind_child/tutoring/children_growth",
                (2, 1, 105, 0, 0, 1)
            ),
            row(
                "360121101/2026-11/child_in_difficulty/tutoring/children_growth",
                (1, 1, 45, 0, 0, 1)
            ),
        ]
    );

    // Every figure is made of exactly the events trace names.
    for row in &rows {
        let positions = trace(db, &row.key).await.unwrap();
        assert_eq!(positions.len() as i64, row.person_times, "{}", row.key);
    }
    let key: FigureKey = "360121100/2026-10/disabled/companionship/knocking_for_elders"
        .parse()
        .unwrap();
    assert_eq!(trace(db, &key).await.unwrap(), vec![knock]);
    let key: FigureKey = "360121101/2026-11/left_behind_child/tutoring/children_growth"
        .parse()
        .unwrap();
    assert_eq!(
        trace(db, &key).await.unwrap(),
        vec![tutoring, tutoring_again]
    );

    // Per county, filtered: one category, one service type, one month.
    let filter = StatisticsFilter {
        group_by: RegionLevel::County,
        from_month: Some(Month::new(2026, 10).unwrap()),
        to_month: Some(Month::new(2026, 10).unwrap()),
        category: Some(CareCategory::EmptyNestElder),
        service_type: Some(ServiceType::Companionship),
        ..StatisticsFilter::area(county.clone())
    };
    let rows = service_figures(db, &filter).await.unwrap();
    let keys: Vec<String> = rows.iter().map(|row| row.key.to_string()).collect();
    assert_eq!(
        keys,
        vec![
            "360121/2026-10/empty_nest_elder/companionship/-",
            "360121/2026-10/empty_nest_elder/companionship/knocking_for_elders",
        ]
    );
    assert_eq!(rows[0].category_label, "空巢老人");
    assert_eq!(rows[1].action_line_label.as_deref(), Some("助老敲门"));
    assert_eq!(trace(db, &rows[0].key).await.unwrap(), vec![company]);
    let filter = StatisticsFilter {
        service_type: Some(ServiceType::HomeVisiting),
        ..StatisticsFilter::area(county.clone())
    };
    for row in service_figures(db, &filter).await.unwrap() {
        assert_eq!(trace(db, &row.key).await.unwrap(), vec![visit]);
    }

    // Five services and visits: each event once, whatever its categories.
    let three = progress(db, &county, NonZeroU64::new(3).unwrap())
        .await
        .unwrap();
    assert_eq!(three.case_person_times, 5);
    assert_eq!(three.person_times, 5);
    assert_eq!(three.permille, 1_666);
    let township = RegionPrefix::parse("360121101").unwrap();
    let target = progress(db, &township, NonZeroU64::new(500_000).unwrap())
        .await
        .unwrap();
    assert_eq!((target.person_times, target.permille), (2, 0));

    assert_rebuild_equals_incremental(&app).await;
}

/// A small deterministic generator (SplitMix64) for varied histories.
struct Dice(u64);

impl Dice {
    fn below(&mut self, bound: u64) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % bound
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize]
    }
}

/// The cells are summed batch by batch and count people and organizations
/// once per cell; for varied histories — people served in several months,
/// by several organizations, moved to another township mid-month, given
/// another category — and batches that split them, every grouping and filter
/// reads from the cells exactly what counting the facts gives, and a rebuild
/// writes the same cells.
async fn cells_equal_facts(url: &str) {
    let app = application(url).await;
    let organizations = [
        register_organization(&app, "莲塘镇社工站").await,
        register_organization(&app, "南昌县义工联合会").await,
        register_organization(&app, "向塘镇社工站").await,
    ];
    let villages = [
        "360121100001",
        "360121100002",
        "360121101001",
        "360122100001",
    ];
    let categories = [
        CareCategory::EmptyNestElder,
        CareCategory::Disabled,
        CareCategory::LeftBehindChild,
    ];
    let services = [
        ServiceType::Companionship,
        ServiceType::DailyCare,
        ServiceType::Tutoring,
    ];
    let lines = [None, Some(ActionLine::KnockingForElders)];
    let mut dice = Dice(2026);
    let mut cases = Vec::new();
    for sequence in 0..8 {
        let first = dice.pick(&categories);
        let mut chosen = vec![first];
        if dice.below(2) == 0 {
            let second = dice.pick(&categories);
            if second != first {
                chosen.push(second);
            }
        }
        let village = dice.pick(&villages);
        cases.push((
            open_case(&app, sequence, village, chosen, None).await,
            village,
            false,
        ));
    }
    for round in 0..40_u32 {
        let index = dice.below(cases.len() as u64) as usize;
        let (case, village, in_difficulty) = cases[index];
        match dice.below(12) {
            0 => {
                let moved_to = villages
                    .iter()
                    .copied()
                    .find(|other| *other != village && dice.below(2) == 0)
                    .unwrap_or(if village == villages[0] {
                        villages[1]
                    } else {
                        villages[0]
                    });
                cases[index].1 = moved_to;
                app.cases
                    .execute(
                        &case.to_string(),
                        CaseCommand::new(
                            today(),
                            TransferCase {
                                new_region: Some(moved_to.to_owned()),
                                new_organization_id: None,
                                reason: "随子女迁居".into(),
                                transferred_on: today(),
                            },
                        ),
                        meta(),
                    )
                    .await
                    .unwrap();
            }
            1 if !in_difficulty => {
                cases[index].2 = true;
                app.cases
                    .execute(
                        &case.to_string(),
                        CaseCommand::new(
                            today(),
                            ChangeCategories {
                                added: vec![CareCategory::ChildInDifficulty],
                                removed: Vec::new(),
                                reason: "经评估为困境儿童".into(),
                                effective_on: today(),
                            },
                        ),
                        meta(),
                    )
                    .await
                    .unwrap();
            }
            _ => {
                let first = dice.pick(&services);
                let second = dice.pick(&services);
                let mut types = vec![first];
                if second != first {
                    types.push(second);
                }
                record_service(
                    &app,
                    case,
                    day(9 + dice.below(3) as u32, 1 + round % 20),
                    types,
                    dice.pick(&lines),
                    dice.pick(&organizations),
                    (
                        10 + dice.below(90) as u32,
                        dice.below(3) as i64 * 1_000,
                        dice.below(2) as i64 * 550,
                    ),
                )
                .await;
            }
        }
    }
    let projector = Projector::new(
        app.store().clone(),
        vec![std::sync::Arc::new(StatisticsProjection) as std::sync::Arc<dyn Projection>],
    )
    .with_settings(ProjectorSettings {
        batch_size: 5,
        poll_interval: Duration::from_secs(3600),
    });
    projector.prepare().await.unwrap();
    catch_up(&projector).await;

    let db = app.store().database();
    let filters = |area: &str| {
        let area = RegionPrefix::parse(area).unwrap();
        let mut filters = Vec::new();
        for group_by in [RegionLevel::County, RegionLevel::Township] {
            let whole = StatisticsFilter {
                group_by,
                ..StatisticsFilter::area(area.clone())
            };
            filters.push(whole.clone());
            filters.push(StatisticsFilter {
                from_month: Some(Month::new(2026, 10).unwrap()),
                to_month: Some(Month::new(2026, 11).unwrap()),
                ..whole.clone()
            });
            filters.push(StatisticsFilter {
                category: Some(CareCategory::EmptyNestElder),
                service_type: Some(ServiceType::Companionship),
                ..whole.clone()
            });
            filters.push(StatisticsFilter {
                action_line: Some(ActionLine::KnockingForElders),
                ..whole
            });
        }
        filters
    };
    let mut compared = 0;
    for area in ["36", "360121", "360121100", "360121100001"] {
        for filter in filters(area) {
            let from_cells = service_figures(db, &filter).await.unwrap();
            let from_facts = service_figures_from_facts(db, &filter).await.unwrap();
            assert_eq!(from_cells, from_facts, "{filter:?}");
            compared += from_cells.len();
        }
    }
    assert!(
        compared > 100,
        "the histories give figures to compare: {compared}"
    );
    let whole = service_figures(
        db,
        &StatisticsFilter {
            group_by: RegionLevel::County,
            ..StatisticsFilter::area(RegionPrefix::parse("36").unwrap())
        },
    )
    .await
    .unwrap();
    assert!(
        whole
            .iter()
            .any(|row| row.persons > 1 && row.person_times > row.persons),
        "some cell counts a person twice and people once: {whole:?}"
    );
    assert_rebuild_equals_incremental(&app).await;
}
