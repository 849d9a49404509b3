//! Evaluation reports on SQLite and PostgreSQL, from events written through
//! the real command buses: a monthly dispatch report reproduced by hand; a
//! late entry and a correction, then a second version — the first one
//! regenerates exactly and the diff names exactly those two events; quarters
//! adding up their months; the year-end ranking with the metrics behind each
//! rank.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, NaiveDateTime};
use serde_json::json;
use shouwang_domain::RegionPrefix;
use shouwang_domain::activity::*;
use shouwang_domain::care_case::{CaseCommand, OpenCase, RecordService, RecordVisit};
use shouwang_domain::need::*;
use shouwang_domain::organization::{OrganizationCommand, RegisterOrganization};
use shouwang_domain::values::IdNumber;
use shouwang_domain::vocabulary::*;
use shouwang_domain::volunteer::PointsPolicy;
use shouwang_infrastructure::{Application, CommandMetadata, Database, MasterKey, Store};
use shouwang_projections::evaluations::{
    EvaluationError, EventNature, RankingRow, ReportKind, ReportRequest, diff_reports,
    generate_report, list_reports, regenerate, report,
};
use shouwang_projections::statistics::StatisticsProjection;
use shouwang_projections::{Projection, Projector};
use shouwang_testkit::on_both_backends;
use uuid::Uuid;

fn today() -> NaiveDate {
    day(11, 20)
}

fn day(month: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, d).unwrap()
}

fn at(month: u32, d: u32, hour: u32) -> NaiveDateTime {
    day(month, d).and_hms_opt(hour, 0, 0).unwrap()
}

fn meta() -> CommandMetadata {
    CommandMetadata::system("evaluations-test")
}

async fn application(url: &str) -> Application {
    let db = Database::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    Application::new(
        Store::new(db, MasterKey::generate().1),
        PointsPolicy::default(),
    )
}

fn projector(app: &Application) -> Projector {
    Projector::new(
        app.store().clone(),
        vec![Arc::new(StatisticsProjection) as Arc<dyn Projection>],
    )
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

fn id_number(sequence: u32) -> String {
    let first_17 = format!("36012119491231{:02}2", sequence % 100);
    let check = IdNumber::check_character_for(&first_17).unwrap();
    format!("{first_17}{check}")
}

async fn open_case(
    app: &Application,
    sequence: u32,
    region: &str,
    category: CareCategory,
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
                    categories: vec![category],
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

/// Records a service; returns its global position.
async fn service(
    app: &Application,
    case_id: Uuid,
    delivered_on: NaiveDate,
    service_type: ServiceType,
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
                    service_types: vec![service_type],
                    action_line: None,
                    provider_organization_id: provider,
                    volunteers: 1,
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

async fn visit(app: &Application, case_id: Uuid, visited_on: NaiveDate, minutes: u32) {
    app.cases
        .execute(
            &case_id.to_string(),
            CaseCommand::new(
                today(),
                RecordVisit {
                    visited_on,
                    visitor_ids: vec![Uuid::from_u128(7)],
                    method: VisitMethod::HomeVisit,
                    minutes,
                    findings: "身体状况平稳".into(),
                    wellbeing_notes: String::new(),
                    follow_up_needed: false,
                },
            ),
            meta(),
        )
        .await
        .unwrap();
}

/// Runs an activity command; returns the receipt's (stream version, position).
async fn activity(app: &Application, id: Uuid, action: impl Into<ActivityAction>) -> (u64, i64) {
    let receipt = app
        .execute_activity(id, ActivityCommand::new(today(), action), meta())
        .await
        .unwrap();
    (
        receipt.stream_version.unwrap(),
        receipt.last_position.unwrap(),
    )
}

/// A completed activity; returns its id and the stream version of its
/// completion.
async fn completed_activity(
    app: &Application,
    region: &str,
    on: (u32, u32),
    organizer: Option<Uuid>,
    participant: (&str, Uuid, u32),
    (money_fen, person_times, persons): (i64, u32, u32),
) -> (Uuid, u64) {
    let id = Uuid::now_v7();
    let (start, end) = (at(on.0, on.1, 9), at(on.0, on.1, 11));
    activity(
        app,
        id,
        PlanActivity {
            name: "邻里守望敬老活动".into(),
            organizer_name: "莲塘镇社工站".into(),
            organizer_organization_id: organizer,
            action_line: Some(ActionLine::NeighborhoodKinship),
            region_code: region.into(),
            region_level: RegionLevel::Township,
            place: "社工站活动室".into(),
            starts_at: start,
            ends_at: end,
            leader: "李红".into(),
        },
    )
    .await;
    activity(
        app,
        id,
        AddParticipatingOrganization {
            organization_name: participant.0.into(),
            organization_id: Some(participant.1),
            headcount: participant.2,
        },
    )
    .await;
    if money_fen > 0 {
        activity(
            app,
            id,
            RecordFunds {
                source: FundSource::CharityFund,
                money_fen,
                material_value_fen: 0,
                note: String::new(),
            },
        )
        .await;
    }
    let (version, _) = activity(
        app,
        id,
        CompleteActivity {
            actual_starts_at: start,
            actual_ends_at: end,
            person_times,
            persons,
            service_minutes: 300,
            completed_on: end.date(),
        },
    )
    .await;
    (id, version)
}

async fn need(app: &Application, id: Uuid, action: impl Into<NeedAction>) -> i64 {
    app.execute_need(id, NeedCommand::new(today(), action), meta())
        .await
        .unwrap()
        .last_position
        .unwrap()
}

async fn raise_need(app: &Application, case_id: Uuid, region: &str, on: NaiveDate) -> Uuid {
    let id = Uuid::now_v7();
    need(
        app,
        id,
        RaiseNeed {
            case_id: Some(case_id),
            region_code: region.into(),
            category: NeedCategory::Living,
            description: "家中灯泡损坏".into(),
            micro_wish: true,
            urgency: NeedUrgency::Normal,
            source: NeedSource::HouseholdSurvey,
            raised_on: on,
        },
    )
    .await;
    id
}

async fn dispatch_and_accept(
    app: &Application,
    need_id: Uuid,
    organization: Uuid,
    dispatched_on: NaiveDate,
    due_on: NaiveDate,
) {
    need(
        app,
        need_id,
        DispatchNeed {
            organization_id: organization,
            organization_active: true,
            due_on,
            dispatched_on,
            instructions: String::new(),
        },
    )
    .await;
    need(
        app,
        need_id,
        AcceptNeed {
            acting_organization_id: organization,
            accepted_on: dispatched_on,
        },
    )
    .await;
}

/// The county of the tests, with what happened in it.
struct World {
    app: Application,
    projector: Projector,
    station: Uuid,
    volunteers: Uuid,
    lawyers: Uuid,
    elder: Uuid,
    child: Uuid,
    dumplings: Uuid,
    dumplings_completed: u64,
    overdue_need: Uuid,
}

const COUNTY: &str = "360121";

/// October's dispatch month is 26 September – 25 October 2026.
async fn world(url: &str) -> World {
    let app = application(url).await;
    let station = register_organization(&app, "莲塘镇社工站").await;
    let volunteers = register_organization(&app, "南昌县义工联合会").await;
    let lawyers = register_organization(&app, "江西赣江律师事务所志愿服务队").await;
    let elder = open_case(&app, 1, "360121100001", CareCategory::EmptyNestElder, None).await;
    let child = open_case(
        &app,
        2,
        "360121101002",
        CareCategory::LeftBehindChild,
        Some(station),
    )
    .await;
    let elsewhere = open_case(&app, 3, "360122100001", CareCategory::EmptyNestElder, None).await;

    // October.
    service(
        &app,
        elder,
        day(10, 5),
        ServiceType::Companionship,
        station,
        (90, 0, 5_000),
    )
    .await;
    service(
        &app,
        child,
        day(10, 20),
        ServiceType::Tutoring,
        volunteers,
        (60, 2_000, 0),
    )
    .await;
    visit(&app, elder, day(10, 12), 40).await;
    visit(&app, child, day(9, 28), 30).await;
    let (dumplings, dumplings_completed) = completed_activity(
        &app,
        "360121100000",
        (10, 18),
        Some(station),
        ("南昌县义工联合会", volunteers, 8),
        (10_000, 50, 30),
    )
    .await;
    let fulfilled = raise_need(&app, elder, "360121100001", day(10, 1)).await;
    dispatch_and_accept(&app, fulfilled, station, day(10, 2), day(10, 10)).await;
    need(
        &app,
        fulfilled,
        FulfilNeed {
            acting_organization_id: station,
            what_was_done: "更换灯泡".into(),
            minutes: 60,
            money_fen: 0,
            material_value_fen: 0,
            evidence: Vec::new(),
            fulfilled_on: day(10, 8),
        },
    )
    .await;
    need(
        &app,
        fulfilled,
        EvaluateNeed {
            satisfaction: 5,
            words: "很满意".into(),
            evaluated_on: day(10, 9),
        },
    )
    .await;
    let overdue_need = raise_need(&app, child, "360121101002", day(10, 5)).await;
    dispatch_and_accept(&app, overdue_need, volunteers, day(10, 6), day(10, 15)).await;

    // Outside October: the 26th belongs to November; another county.
    service(
        &app,
        elder,
        day(10, 26),
        ServiceType::Companionship,
        station,
        (30, 0, 0),
    )
    .await;
    service(
        &app,
        elder,
        day(11, 10),
        ServiceType::LegalAid,
        lawyers,
        (60, 0, 0),
    )
    .await;
    completed_activity(
        &app,
        "360121101000",
        (11, 12),
        None,
        ("江西赣江律师事务所志愿服务队", lawyers, 3),
        (0, 20, 20),
    )
    .await;
    service(
        &app,
        elsewhere,
        day(10, 7),
        ServiceType::Companionship,
        station,
        (500, 0, 0),
    )
    .await;

    let projector = projector(&app);
    projector.prepare().await.unwrap();
    catch_up(&projector).await;
    World {
        app,
        projector,
        station,
        volunteers,
        lawyers,
        elder,
        child,
        dumplings,
        dumplings_completed,
        overdue_need,
    }
}

fn request(period: &str) -> ReportRequest {
    ReportRequest {
        period: period.parse().unwrap(),
        region: RegionPrefix::parse(COUNTY).unwrap(),
    }
}

/// The non-zero figures, by hand.
fn october_by_hand(w: &World) -> BTreeMap<String, i64> {
    let (station, volunteers) = (w.station, w.volunteers);
    [
        // Services S1 (elder, station, 90 min, 50.00 元 material) and S2
        // (child, volunteers, 60 min, 20.00 元); visits to the elder (40 min)
        // and to the child, looked after by the station (30 min).
        ("care.services", 2),
        ("care.visits", 2),
        ("care.person_times", 4),
        ("care.persons", 2),
        ("care.minutes", 220),
        ("care.money_fen", 2_000),
        ("care.material_value_fen", 5_000),
        ("care.organizations", 2),
        ("care.by_service_type.companionship", 1),
        ("care.by_service_type.tutoring", 1),
        ("care.by_service_type.home_visiting", 2),
        ("care.by_category.empty_nest_elder", 2),
        ("care.by_category.left_behind_child", 2),
        ("care.by_township.360121100", 2),
        ("care.by_township.360121101", 2),
        // The dumplings activity.
        ("activities.count", 1),
        ("activities.person_times", 50),
        ("activities.persons", 30),
        ("activities.money_fen", 10_000),
        ("activities.service_minutes", 300),
        ("activities.participant_headcount", 8),
        ("activities.organizations", 1),
        // Two needs raised, both dispatched and accepted; one fulfilled on
        // time and rated 5, the other overdue (due 15 October) at the 25th.
        ("needs.raised", 2),
        ("needs.micro_wishes", 2),
        ("needs.dispatched", 2),
        ("needs.accepted", 2),
        ("needs.fulfilled", 1),
        ("needs.fulfilled_on_time", 1),
        ("needs.on_time_permille", 1_000),
        ("needs.minutes", 60),
        ("needs.evaluated", 1),
        ("needs.satisfaction_sum", 5),
        ("needs.satisfaction_avg_x100", 500),
        ("needs.overdue_open", 1),
        ("total.person_times", 54),
    ]
    .into_iter()
    .map(|(key, value)| (key.to_owned(), value))
    .chain([
        (format!("org.{station}.services"), 1),
        (format!("org.{station}.service_minutes"), 90),
        (format!("org.{station}.visits"), 1),
        (format!("org.{station}.activities_organized"), 1),
        (format!("org.{station}.activity_person_times"), 50),
        (format!("org.{station}.needs_on_time"), 1),
        (format!("org.{station}.evaluations"), 1),
        (format!("org.{station}.satisfaction_sum"), 5),
        (format!("org.{volunteers}.services"), 1),
        (format!("org.{volunteers}.service_minutes"), 60),
        (format!("org.{volunteers}.activity_participations"), 1),
    ])
    .collect()
}

fn non_zero(figures: &BTreeMap<String, i64>) -> BTreeMap<String, i64> {
    figures
        .iter()
        .filter(|(_, value)| **value != 0)
        .map(|(key, value)| (key.clone(), *value))
        .collect()
}

on_both_backends! {
    a_report_regenerates_exactly_and_the_diff_names_the_late_events => versions_and_diff;
    quarters_add_up_their_months_and_the_year_ranks_organizations => quarters_and_ranking;
}

async fn versions_and_diff(url: &str) {
    let w = world(url).await;
    let db = w.app.store().database();
    let first = generate_report(db, &request("2026-10"), "督导 张敏", None)
        .await
        .unwrap()
        .report;
    assert_eq!(first.kind, ReportKind::MonthlyDispatch);
    assert_eq!(first.version, 1);
    assert_eq!(first.generated_by, "督导 张敏");
    assert_eq!((first.body.from, first.body.to), (day(9, 26), day(10, 25)));
    assert_eq!(non_zero(&first.body.figures), october_by_hand(&w));
    assert_eq!(first.body.figures["activities.material_value_fen"], 0);
    assert_eq!(
        first.body.organizations[&w.station.to_string()],
        "莲塘镇社工站"
    );
    assert!(first.body.ranking.is_empty());

    // After the report: a service entered late for 15 October, a correction
    // of the activity's beneficiaries, and events that change nothing in
    // it — a service in November, one in another county, progress on a need.
    let late = service(
        &w.app,
        w.elder,
        day(10, 15),
        ServiceType::DailyCare,
        w.volunteers,
        (45, 0, 0),
    )
    .await;
    let (_, correction) = activity(
        &w.app,
        w.dumplings,
        CorrectActivity {
            corrected_version: w.dumplings_completed,
            corrected_fields: json!({ "person_times": 65 }).as_object().unwrap().clone(),
            reason: "按签到表更正受益人次".into(),
        },
    )
    .await;
    service(
        &w.app,
        w.child,
        day(11, 15),
        ServiceType::Tutoring,
        w.volunteers,
        (60, 0, 0),
    )
    .await;
    need(
        &w.app,
        w.overdue_need,
        RecordNeedProgress {
            acting_organization_id: w.volunteers,
            note: "已联系电工".into(),
            recorded_on: day(10, 20),
        },
    )
    .await;
    catch_up(&w.projector).await;
    let second = generate_report(db, &request("2026-10"), "督导 张敏", None)
        .await
        .unwrap()
        .report;
    assert_eq!(second.version, 2);
    assert!(second.cut.position > first.cut.position);

    // The first version is computed again exactly, from the facts up to its
    // cut — though more facts have arrived since.
    let again = regenerate(db, first.id).await.unwrap();
    assert_eq!(again, first.body);
    assert_eq!(serde_json::to_string(&again).unwrap(), first.body_json);
    assert_eq!(regenerate(db, second.id).await.unwrap(), second.body);
    assert_eq!(report(db, first.id).await.unwrap().unwrap(), first);

    let diff = diff_reports(db, first.id, second.id).await.unwrap();
    let named: Vec<i64> = diff.events.iter().map(|event| event.position).collect();
    assert_eq!(named, vec![late, correction], "{diff:#?}");
    assert_eq!(diff.events[0].nature, EventNature::LateEntry);
    assert_eq!(diff.events[0].event_type, "ServiceDelivered");
    assert_eq!(diff.events[1].nature, EventNature::Correction);
    assert_eq!(diff.events[1].event_type, "ActivityCorrected");
    assert!(
        diff.events
            .iter()
            .all(|event| !event.recorded_at.is_empty())
    );

    let (station, volunteers) = (w.station, w.volunteers);
    let changes: BTreeMap<String, (i64, i64, Vec<i64>)> = diff
        .changes
        .iter()
        .map(|change| {
            let positions = change.events.iter().map(|e| e.position).collect();
            (change.key.clone(), (change.old, change.new, positions))
        })
        .collect();
    let expected: BTreeMap<String, (i64, i64, Vec<i64>)> = [
        ("care.services".to_owned(), (2, 3, vec![late])),
        ("care.person_times".to_owned(), (4, 5, vec![late])),
        ("care.minutes".to_owned(), (220, 265, vec![late])),
        (
            "care.by_service_type.daily_care".to_owned(),
            (0, 1, vec![late]),
        ),
        (
            "care.by_category.empty_nest_elder".to_owned(),
            (2, 3, vec![late]),
        ),
        ("care.by_township.360121100".to_owned(), (2, 3, vec![late])),
        (format!("org.{volunteers}.services"), (1, 2, vec![late])),
        (
            format!("org.{volunteers}.service_minutes"),
            (60, 105, vec![late]),
        ),
        (
            "activities.person_times".to_owned(),
            (50, 65, vec![correction]),
        ),
        ("activities.corrected".to_owned(), (0, 1, vec![correction])),
        (
            format!("org.{station}.activity_person_times"),
            (50, 65, vec![correction]),
        ),
        (
            "total.person_times".to_owned(),
            (54, 70, vec![late, correction]),
        ),
    ]
    .into_iter()
    .collect();
    assert_eq!(changes, expected);
    let label = |key: &str| {
        diff.changes
            .iter()
            .find(|change| change.key == key)
            .map(|change| change.label.clone())
            .unwrap()
    };
    assert_eq!(
        label("care.by_service_type.daily_care"),
        "受益人次·生活照料、照料看护"
    );
    assert_eq!(
        label(&format!("org.{volunteers}.services")),
        "南昌县义工联合会·服务次数"
    );

    // Only versions of the same report compare; reports are kept as made.
    let quarter = generate_report(db, &request("2026-Q4"), "督导 张敏", None)
        .await
        .unwrap()
        .report;
    assert!(matches!(
        diff_reports(db, first.id, quarter.id).await,
        Err(EvaluationError::NotComparable { .. })
    ));
    assert!(matches!(
        regenerate(db, Uuid::now_v7()).await,
        Err(EvaluationError::NotFound(_))
    ));
    let listed = list_reports(db, &RegionPrefix::parse("3601").unwrap(), None)
        .await
        .unwrap();
    let listed: Vec<(ReportKind, String, i64)> = listed
        .iter()
        .map(|r| (r.kind, r.period.to_string(), r.version))
        .collect();
    assert_eq!(
        listed,
        vec![
            (ReportKind::MonthlyDispatch, "2026-10".to_owned(), 1),
            (ReportKind::MonthlyDispatch, "2026-10".to_owned(), 2),
            (ReportKind::QuarterlySupervision, "2026-Q4".to_owned(), 1),
        ]
    );
    let altered = shouwang_infrastructure::with_pool!(db, pool => {
        sqlx::query("UPDATE evaluation_reports SET body = '{}' WHERE id = $1")
            .bind(first.id.to_string())
            .execute(pool)
            .await
            .map(|_| ())
    });
    assert!(altered.is_err(), "stored reports are append-only");

    // Rebuilding the statistics keeps every fact at its position: the
    // reports still regenerate exactly.
    shouwang_projections::rebuild(w.app.store(), &StatisticsProjection, |_, _| {})
        .await
        .unwrap();
    assert_eq!(regenerate(db, first.id).await.unwrap(), first.body);
    assert_eq!(regenerate(db, second.id).await.unwrap(), second.body);
}

async fn quarters_and_ranking(url: &str) {
    let w = world(url).await;
    let db = w.app.store().database();
    let quarter = generate_report(db, &request("2026-Q4"), "民政局", None)
        .await
        .unwrap()
        .report;
    assert_eq!(quarter.kind, ReportKind::QuarterlySupervision);
    assert_eq!(
        (quarter.body.from, quarter.body.to),
        (day(9, 26), day(12, 25))
    );
    let figures = &quarter.body.figures;
    // October as above; November has the service of 26 October, the legal
    // aid of 10 November and the second activity.
    assert_eq!(figures["month.2026-10.care.person_times"], 4);
    assert_eq!(figures["month.2026-11.care.person_times"], 2);
    assert_eq!(figures["month.2026-12.care.person_times"], 0);
    assert_eq!(figures["month.2026-10.activities.count"], 1);
    assert_eq!(figures["month.2026-11.activities.person_times"], 20);
    assert_eq!(figures["month.2026-10.needs.fulfilled"], 1);
    assert_eq!(figures["township.360121101.needs.overdue_open"], 1);
    assert_eq!(figures["care.person_times"], 6);
    assert_eq!(figures["total.person_times"], 6 + 50 + 20);

    // The quarter adds up its three months.
    for month in ["2026-10", "2026-11", "2026-12"] {
        generate_report(db, &request(month), "民政局", None)
            .await
            .unwrap();
    }
    let months = list_reports(
        db,
        &RegionPrefix::parse(COUNTY).unwrap(),
        Some(ReportKind::MonthlyDispatch),
    )
    .await
    .unwrap();
    assert_eq!(months.len(), 3);
    for key in [
        "care.person_times",
        "care.minutes",
        "care.money_fen",
        "activities.count",
        "activities.person_times",
        "needs.fulfilled",
        "needs.raised",
    ] {
        let mut sum = 0;
        for month in &months {
            sum += report(db, month.id).await.unwrap().unwrap().body.figures[key];
        }
        assert_eq!(sum, figures[key], "{key}");
    }

    let year = generate_report(db, &request("2026"), "民政局", None)
        .await
        .unwrap()
        .report;
    assert_eq!(year.kind, ReportKind::AnnualRanking);
    assert_eq!(
        (year.body.from, year.body.to),
        (day_2025_12_26(), day(12, 25))
    );
    let weights = year.body.weights.unwrap();
    assert_eq!(weights.service, 10);
    // By hand, with the documented weights:
    // station:    2 services ×10 + 1 visit ×5 + 2 hours (120 min) ×2
    //             + 1 activity ×20 + 50 人次 ×1 + 1 on time ×30
    //             + (5 − 3) ×10 = 149
    // volunteers: 1 service ×10 + 1 hour ×2 + 1 participation ×5 = 17
    // lawyers:    1 service ×10 + 1 hour ×2 + 1 participation ×5 = 17
    let row = |id: Uuid, name: &str, rank, score, metrics: [i64; 10]| RankingRow {
        rank,
        organization_id: id.to_string(),
        name: name.to_owned(),
        score,
        services: metrics[0],
        visits: metrics[1],
        service_minutes: metrics[2],
        activities_organized: metrics[3],
        activity_person_times: metrics[4],
        activity_participations: metrics[5],
        needs_fulfilled_on_time: metrics[6],
        needs_fulfilled_late: metrics[7],
        evaluations: metrics[8],
        satisfaction_sum: metrics[9],
    };
    assert_eq!(
        year.body.ranking,
        vec![
            row(
                w.station,
                "莲塘镇社工站",
                1,
                149,
                [2, 1, 120, 1, 50, 0, 1, 0, 1, 5]
            ),
            row(
                w.volunteers,
                "南昌县义工联合会",
                2,
                17,
                [1, 0, 60, 0, 0, 1, 0, 0, 0, 0]
            ),
            row(
                w.lawyers,
                "江西赣江律师事务所志愿服务队",
                2,
                17,
                [1, 0, 60, 0, 0, 1, 0, 0, 0, 0]
            ),
        ]
    );
    assert_eq!(year.body.figures[&format!("org.{}.rank", w.lawyers)], 2);
    assert_eq!(year.body.figures[&format!("org.{}.score", w.station)], 149);
    assert_eq!(regenerate(db, year.id).await.unwrap(), year.body);
    let ids: BTreeSet<String> = year.body.organizations.keys().cloned().collect();
    assert_eq!(
        ids,
        [w.station, w.volunteers, w.lawyers]
            .map(|id| id.to_string())
            .into_iter()
            .collect()
    );
}

fn day_2025_12_26() -> NaiveDate {
    NaiveDate::from_ymd_opt(2025, 12, 26).unwrap()
}
