//! 一人一档 on SQLite and PostgreSQL: a real case history written through the
//! command buses becomes the case file and its timeline (corrections shown on
//! the original entry, which stays as recorded), lists filter by region,
//! category, status, organization and worker, no personal value ever reaches
//! a read-model table, unsealing is logged, erasure shows as erased, and a
//! rebuild gives the same tables as the incremental projector.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{NaiveDate, SubsecRound};
use serde_json::{Map, json};
use shouwang_domain::Personal;
use shouwang_domain::PointsPolicy;
use shouwang_domain::care_case::*;
use shouwang_domain::need::*;
use shouwang_domain::organization::*;
use shouwang_domain::vocabulary::*;
use shouwang_infrastructure::{
    Application, CommandMetadata, Database, MasterKey, Store, with_pool,
};
use shouwang_projections::audit::{AccessLogFilter, access_log};
use shouwang_projections::case_file::{
    CaseFileProjection, CaseFilter, CaseSummary, Page, Reader, RevealError, case_file, list_cases,
    mask_id_number, mask_phone, reveal_personal_fields,
};
use shouwang_projections::dump::dump_table;
use shouwang_projections::{Projection, Projector, ProjectorSettings, rebuild};
use shouwang_testkit::on_both_backends;
use uuid::Uuid;

const ID_NUMBER: &str = "11010519491231002X";
const PHONE: &str = "13807910000";
const CORRECTED_PHONE: &str = "13900001111";
const ADDRESS: &str = "和平里街道东湖村 3 组 12 号";
const HEALTH: &str = "高血压二级，需每日服药";
const WELLBEING: &str = "夜间失眠，情绪低落";
const CORRECTED_WELLBEING: &str = "夜间偶有失眠，情绪尚可";
const REFERRAL_REASON: &str = "慢病门诊医保报销需协助办理";
const REFERRAL_ANSWER: &str = "医保局已受理门诊慢特病备案";

/// Texts that must never appear in a read-model table.
const SECRETS: &[&str] = &[
    ID_NUMBER,
    PHONE,
    CORRECTED_PHONE,
    "东湖村",
    "高血压",
    "失眠",
    "慢病门诊",
    "慢特病",
    "灯泡",
];

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

fn day(month: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, d).unwrap()
}

fn worker(actor: &str, organization: Uuid) -> CommandMetadata {
    CommandMetadata {
        actor: actor.to_owned(),
        role: "social_worker".to_owned(),
        organization: Some(organization.to_string()),
        ..CommandMetadata::system(actor)
    }
}

fn supervisor(reason: &str) -> CommandMetadata {
    CommandMetadata {
        actor: "supervisor-zhao".to_owned(),
        role: "supervisor".to_owned(),
        reason: Some(reason.to_owned()),
        ..CommandMetadata::system("supervisor-zhao")
    }
}

async fn application(url: &str) -> Application {
    let db = Database::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    Application::new(
        Store::new(db, MasterKey::generate().1),
        PointsPolicy::default(),
    )
}

fn projector(store: &Store) -> Projector {
    Projector::new(store.clone(), vec![Arc::new(CaseFileProjection)])
}

/// Catches up, waiting out the PostgreSQL fence held by other tests'
/// transactions (the feed lags, never skips).
async fn catch_up(projector: &Projector) {
    let last: i64 = with_pool!(projector.store().database(), pool => {
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
    panic!("projector did not reach position {last}");
}

async fn case(app: &Application, id: Uuid, action: impl Into<CaseAction>, meta: CommandMetadata) {
    app.cases
        .execute(&id.to_string(), CaseCommand::new(today(), action), meta)
        .await
        .unwrap();
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
                    kind: OrganizationKind::ALL[0],
                    level: RegionLevel::Township,
                    region_code: "360102003000".into(),
                    hub: false,
                    registered_on: day(1, 2),
                },
            ),
            CommandMetadata::system("official-qian"),
        )
        .await
        .unwrap();
    id
}

fn open_case(
    name: &str,
    region: &str,
    categories: Vec<CareCategory>,
    organization: Uuid,
) -> OpenCase {
    OpenCase {
        name: name.into(),
        gender: Gender::Female,
        birth_date: NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(),
        id_number: ID_NUMBER.into(),
        phone: PHONE.into(),
        address: ADDRESS.into(),
        residence_region: region.into(),
        categories,
        identified_via: IdentificationChannel::VisitDiscovery,
        risk_level: RiskLevel::Medium,
        organization_id: Some(organization),
        opened_on: day(1, 5),
    }
}

struct History {
    case_id: Uuid,
    other_case: Uuid,
    station: Uuid,
    county_org: Uuid,
    worker_li: Uuid,
    worker_wang: Uuid,
    need_id: Uuid,
}

/// One person's year: every kind of entry a case file holds.
async fn write_history(app: &Application) -> History {
    let station = register_organization(app, "东湖社区社工站").await;
    let county_org = register_organization(app, "县心理援助中心").await;
    let worker_li = Uuid::from_u128(0x11);
    let worker_wang = Uuid::from_u128(0x22);
    let li = || worker("worker-li", station);
    let case_id = Uuid::now_v7();

    // v1
    case(
        app,
        case_id,
        open_case(
            "王秀英",
            "360102003005",
            vec![CareCategory::EmptyNestElder, CareCategory::LowIncome],
            station,
        ),
        li(),
    )
    .await;
    // v2
    case(
        app,
        case_id,
        ChangeCategories {
            added: vec![CareCategory::FrailElder],
            removed: vec![CareCategory::LowIncome],
            reason: "家庭收入核查后不再属于低保边缘；经评估为失能老人".into(),
            effective_on: day(2, 1),
        },
        li(),
    )
    .await;
    // v3
    case(
        app,
        case_id,
        RecordProfile {
            economic_source: "养老金".into(),
            family_structure: "独居，子女在外务工".into(),
            health: HEALTH.into(),
            care_situation: "邻居每日探望".into(),
            lives_alone: true,
            monthly_income_fen: 150_000,
            notes: "喜欢听戏".into(),
            recorded_on: day(2, 3),
        },
        li(),
    )
    .await;
    // v4
    case(
        app,
        case_id,
        AssessRisk {
            level: RiskLevel::High,
            factors: vec![RiskFactor::LivesAlone, RiskFactor::AdvancedAge],
            assessed_on: day(2, 3),
        },
        li(),
    )
    .await;
    // v5, v6, v7
    case(
        app,
        case_id,
        AssignCaregiver {
            organization_id: station,
            worker_id: worker_li,
            arrangement: HelpArrangement::OneToOne,
            started_on: day(2, 4),
        },
        supervisor("指派包户社工"),
    )
    .await;
    case(
        app,
        case_id,
        AssignCaregiver {
            organization_id: station,
            worker_id: worker_wang,
            arrangement: HelpArrangement::Pairing,
            started_on: day(2, 4),
        },
        supervisor("结对帮扶"),
    )
    .await;
    case(
        app,
        case_id,
        ReleaseCaregiver {
            organization_id: station,
            worker_id: worker_wang,
            ended_on: day(3, 1),
            reason: "调岗".into(),
        },
        supervisor("调岗"),
    )
    .await;
    // v8
    case(
        app,
        case_id,
        RecordVisit {
            visited_on: day(3, 10),
            visitor_ids: vec![worker_li],
            method: VisitMethod::HomeVisit,
            minutes: 45,
            findings: "居住环境整洁，饮食正常".into(),
            wellbeing_notes: WELLBEING.into(),
            follow_up_needed: true,
        },
        li(),
    )
    .await;
    // v9
    case(
        app,
        case_id,
        RecordService {
            delivered_on: day(3, 12),
            service_types: vec![ServiceType::ALL[0], ServiceType::ALL[1]],
            action_line: None,
            provider_organization_id: station,
            volunteers: 2,
            minutes: 120,
            money_fen: 5_000,
            material_value_fen: 2_050,
            description: "上门打扫卫生并陪同聊天".into(),
        },
        li(),
    )
    .await;
    // v10, v11
    let referral_id = Uuid::now_v7();
    case(
        app,
        case_id,
        MakeReferral {
            referral_id,
            department: Department::MedicalInsurance,
            reason: REFERRAL_REASON.into(),
            referred_on: day(3, 15),
        },
        li(),
    )
    .await;
    case(
        app,
        case_id,
        ResolveReferral {
            referral_id,
            answer: REFERRAL_ANSWER.into(),
            resolved_on: day(4, 2),
        },
        li(),
    )
    .await;
    // v12
    case(
        app,
        case_id,
        RecordOutcome {
            goal: "按时服药，情绪稳定".into(),
            achievement: OutcomeAchievement::PartlyAchieved,
            satisfaction: 4,
            own_words: "社工常来看我，心里踏实".into(),
            evaluated_on: day(5, 20),
        },
        li(),
    )
    .await;
    // v13
    case(
        app,
        case_id,
        TransferCase {
            new_region: Some("360102004001".into()),
            new_organization_id: Some(county_org),
            reason: "随女儿迁居邻近街道".into(),
            transferred_on: day(6, 1),
        },
        supervisor("迁居"),
    )
    .await;
    // v14: the phone was typed wrong at opening; v15: the visit note.
    case(
        app,
        case_id,
        CorrectEntry {
            corrected_version: 1,
            corrected_fields: Map::from_iter([("phone".to_owned(), json!(CORRECTED_PHONE))]),
            reason: "建档时电话号码录错".into(),
        },
        supervisor("核对原始登记表"),
    )
    .await;
    case(
        app,
        case_id,
        CorrectEntry {
            corrected_version: 8,
            corrected_fields: Map::from_iter([(
                "wellbeing_notes".to_owned(),
                json!(CORRECTED_WELLBEING),
            )]),
            reason: "走访记录串户，按纸质记录更正".into(),
        },
        li(),
    )
    .await;
    // v16, v17
    case(
        app,
        case_id,
        CloseCase {
            reason: CloseReason::MovedAway,
            note: String::new(),
            closed_on: day(7, 1),
        },
        supervisor("迁出"),
    )
    .await;
    case(
        app,
        case_id,
        ReopenCase {
            reason: "迁居未成，仍在本街道居住".into(),
            reopened_on: day(7, 20),
        },
        supervisor("重新开案"),
    )
    .await;

    // A need raised for her, through to fulfilment.
    let need_id = Uuid::now_v7();
    let need = |action: NeedAction| NeedCommand {
        today: today(),
        action,
    };
    app.execute_need(
        need_id,
        need(NeedAction::RaiseNeed(RaiseNeed {
            case_id: Some(case_id),
            region_code: "360102004001".into(),
            category: NeedCategory::Living,
            description: "家中灯泡损坏，夜间行动不便".into(),
            micro_wish: true,
            urgency: NeedUrgency::Pressing,
            source: NeedSource::HouseholdSurvey,
            raised_on: day(8, 1),
        })),
        li(),
    )
    .await
    .unwrap();
    app.execute_need(
        need_id,
        need(NeedAction::DispatchNeed(DispatchNeed {
            organization_id: county_org,
            organization_active: true,
            due_on: day(8, 20),
            dispatched_on: day(8, 2),
            instructions: String::new(),
        })),
        supervisor("一社一单"),
    )
    .await
    .unwrap();
    app.execute_need(
        need_id,
        need(NeedAction::AcceptNeed(AcceptNeed {
            acting_organization_id: county_org,
            accepted_on: day(8, 3),
        })),
        worker("worker-sun", county_org),
    )
    .await
    .unwrap();

    // A second person elsewhere, closed, looked after by another worker.
    let other_case = Uuid::now_v7();
    case(
        app,
        other_case,
        open_case(
            "李建国",
            "360111001002",
            vec![CareCategory::LowIncome],
            county_org,
        ),
        worker("worker-sun", county_org),
    )
    .await;
    case(
        app,
        other_case,
        CloseCase {
            reason: CloseReason::NoLongerEligible,
            note: String::new(),
            closed_on: day(9, 1),
        },
        worker("worker-sun", county_org),
    )
    .await;

    History {
        case_id,
        other_case,
        station,
        county_org,
        worker_li,
        worker_wang,
        need_id,
    }
}

async fn dump_all(db: &Database) -> Vec<Vec<String>> {
    let mut dumps = Vec::new();
    for table in CaseFileProjection.tables() {
        dumps.push(dump_table(db, table).await.unwrap());
    }
    dumps
}

on_both_backends! {
    the_case_file_shows_the_history_with_corrections_and_no_personal_data => case_file_history;
    unsealing_is_logged_and_shows_corrections_and_erasure => reveal_and_erase;
    one_event_per_batch_gives_the_tables_of_one_batch_for_all => one_event_per_batch;
}

/// A batch holds back rows and writes them at its end, or before a
/// statement that needs them; applied one event per batch (nothing held
/// back) the history gives the same tables as a rebuild, which applies it
/// in one batch.
async fn one_event_per_batch(url: &str) {
    let app = application(url).await;
    write_history(&app).await;
    let projector = projector(app.store()).with_settings(ProjectorSettings {
        batch_size: 1,
        poll_interval: Duration::from_secs(3600),
    });
    projector.prepare().await.unwrap();
    catch_up(&projector).await;
    let db = app.store().database();
    let one_by_one = dump_all(db).await;
    assert!(
        one_by_one.iter().all(|table| !table.is_empty()),
        "the history reaches every table: {one_by_one:?}"
    );
    rebuild(app.store(), &CaseFileProjection, |_, _| {})
        .await
        .unwrap();
    assert_eq!(dump_all(db).await, one_by_one);
}

async fn case_file_history(url: &str) {
    let app = application(url).await;
    let history = write_history(&app).await;
    let projector = projector(app.store());
    projector.prepare().await.unwrap();
    catch_up(&projector).await;
    let db = app.store().database();

    let file = case_file(db, history.case_id).await.unwrap().unwrap();
    assert_eq!(file.name, "王秀英");
    assert_eq!(file.gender, "female");
    assert_eq!(
        file.birth_date,
        NaiveDate::from_ymd_opt(1949, 12, 31).unwrap()
    );
    assert_eq!(file.region_code, "360102004001", "transferred");
    assert_eq!(
        file.organization_id,
        Some(history.county_org.to_string()),
        "transferred to the county organization"
    );
    assert_eq!(file.status, "open");
    assert_eq!(file.reopened_on, Some(day(7, 20)));
    assert_eq!((file.closed_on, file.close_reason.as_deref()), (None, None));
    assert!(!file.erased);
    assert_eq!(file.version, 17);
    assert_eq!(file.categories, vec!["empty_nest_elder", "frail_elder"]);
    let changes: Vec<(&str, &str, u64)> = file
        .category_history
        .iter()
        .map(|c| (c.category.as_str(), c.change.as_str(), c.stream_version))
        .collect();
    assert_eq!(
        changes,
        vec![
            ("empty_nest_elder", "added", 1),
            ("low_income", "added", 1),
            ("low_income", "removed", 2),
            ("frail_elder", "added", 2),
        ]
    );
    let removal = &file.category_history[2];
    assert!(removal.reason.contains("不再属于低保边缘"));
    assert_eq!(removal.effective_on, day(2, 1));
    assert_eq!(removal.recorded_by.actor, "worker-li");
    assert_eq!(removal.recorded_by.role, "social_worker");
    assert_eq!(
        removal.recorded_by.organization,
        Some(history.station.to_string())
    );

    assert_eq!(file.risk_level, "high");
    assert_eq!(file.risk_assessed_on, Some(day(2, 3)));
    let risks: Vec<(&str, u64)> = file
        .risk_history
        .iter()
        .map(|r| (r.level.as_str(), r.stream_version))
        .collect();
    assert_eq!(risks, vec![("medium", 1), ("high", 4)]);
    assert_eq!(
        file.risk_history[1].factors,
        vec!["lives_alone", "advanced_age"]
    );

    assert_eq!(file.caregivers.len(), 1);
    assert_eq!(file.caregivers[0].worker_id, history.worker_li.to_string());
    assert_eq!(file.caregivers[0].arrangement, "one_to_one");
    assert_eq!(file.caregiver_history.len(), 2);
    let released = &file.caregiver_history[1];
    assert_eq!(released.worker_id, history.worker_wang.to_string());
    assert_eq!(released.ended_on, Some(day(3, 1)));
    assert_eq!(released.release_reason.as_deref(), Some("调岗"));
    assert_eq!(released.assigned_by, "supervisor-zhao");

    let profile = file.profile.as_ref().unwrap();
    assert_eq!(profile.economic_source, "养老金");
    assert_eq!(profile.family_structure, "独居，子女在外务工");
    assert!(profile.lives_alone);
    assert_eq!(profile.monthly_income_fen, 150_000);
    assert_eq!(profile.stream_version, 3);

    assert_eq!(file.referrals.len(), 1);
    assert_eq!(file.referrals[0].department, "medical_insurance");
    assert_eq!(file.referrals[0].resolved_on, Some(day(4, 2)));
    assert_eq!(file.needs.len(), 1);
    assert_eq!(file.needs[0].need_id, history.need_id.to_string());
    assert_eq!(file.needs[0].status, "accepted");
    assert_eq!(
        file.needs[0].organization_id,
        Some(history.county_org.to_string())
    );
    assert_eq!(file.needs[0].due_on, Some(day(8, 20)));
    assert!(file.needs[0].micro_wish);
    assert_eq!((file.visits, file.services), (1, 1));
    assert_eq!(file.last_visit_on, Some(day(3, 10)));

    // One timeline: 17 case entries and 3 need entries, in recording order.
    let kinds: Vec<&str> = file
        .timeline
        .iter()
        .map(|e| e.event_type.as_str())
        .collect();
    assert_eq!(
        kinds,
        vec![
            "CaseOpened",
            "CategoriesChanged",
            "ProfileRecorded",
            "RiskAssessed",
            "CaregiverAssigned",
            "CaregiverAssigned",
            "CaregiverReleased",
            "VisitRecorded",
            "ServiceDelivered",
            "ReferralMade",
            "ReferralResolved",
            "OutcomeRecorded",
            "CaseTransferred",
            "EntryCorrected",
            "EntryCorrected",
            "CaseClosed",
            "CaseReopened",
            "NeedRaised",
            "NeedDispatched",
            "NeedAccepted",
        ]
    );
    assert!(
        file.timeline
            .windows(2)
            .all(|w| w[0].position < w[1].position)
    );
    for entry in &file.timeline[..17] {
        assert_eq!(entry.stream_type, "care_case");
        assert_eq!(entry.stream_id, history.case_id.to_string());
        assert!(!entry.recorded_by.actor.is_empty());
    }
    let need_entries = &file.timeline[17..];
    assert!(
        need_entries
            .iter()
            .all(|e| e.stream_type == "need" && e.stream_id == history.need_id.to_string())
    );
    assert_eq!(need_entries[2].recorded_by.actor, "worker-sun");
    assert!(
        need_entries[0].summary.contains("微星愿"),
        "{}",
        need_entries[0].summary
    );

    let visit = &file.timeline[7];
    assert_eq!(visit.stream_version, 8);
    assert_eq!(visit.occurred_on, Some(day(3, 10)));
    assert!(
        visit.summary.contains("入户走访 45 分钟"),
        "{}",
        visit.summary
    );
    assert!(visit.summary.contains("居住环境整洁"), "{}", visit.summary);
    assert_eq!(visit.details["minutes"], json!(45));
    assert!(
        visit.details.get("wellbeing_notes").is_none(),
        "sealed fields are left out"
    );
    let service = &file.timeline[8];
    assert!(service.summary.contains("¥50.00"), "{}", service.summary);
    assert!(service.summary.contains("¥20.50"), "{}", service.summary);
    let transfer = &file.timeline[12];
    assert!(
        transfer.summary.contains("360102003005 → 360102004001"),
        "{}",
        transfer.summary
    );
    assert_eq!(transfer.recorded_by.role, "supervisor");
    assert!(file.timeline[15].summary.contains("迁出"));

    // The corrected entries keep their original summary and carry the
    // correction: who, when, why.
    let opened = &file.timeline[0];
    assert!(opened.summary.starts_with("建档"), "{}", opened.summary);
    assert_eq!(opened.corrections.len(), 1);
    let correction = &opened.corrections[0];
    assert_eq!(correction.stream_version, 14);
    assert_eq!(correction.reason, "建档时电话号码录错");
    assert_eq!(correction.corrected_by.actor, "supervisor-zhao");
    assert_eq!(correction.corrected_at, file.timeline[13].recorded_at);
    assert_eq!(visit.corrections.len(), 1);
    assert_eq!(visit.corrections[0].corrected_by.actor, "worker-li");
    assert!(visit.summary.contains("居住环境整洁"), "original kept");
    assert!(file.timeline[13].summary.contains("更正第 1 条记录"));
    assert!(
        file.timeline
            .iter()
            .filter(|e| ![1, 8].contains(&e.stream_version) || e.stream_type == "need")
            .all(|e| e.corrections.is_empty())
    );

    // Nothing personal in any table of the projection.
    for (table, rows) in CaseFileProjection.tables().iter().zip(dump_all(db).await) {
        for row in &rows {
            for secret in SECRETS {
                assert!(!row.contains(secret), "{secret} in {table}: {row}");
            }
        }
    }

    // Lists and their filters.
    let all = list_cases(db, &CaseFilter::default()).await.unwrap();
    assert_eq!(all.total, 2);
    let ids = |page: &Page<CaseSummary>| -> Vec<String> {
        page.items.iter().map(|s| s.case_id.clone()).collect()
    };
    let mine = history.case_id.to_string();
    let other = history.other_case.to_string();
    let filtered = |filter: CaseFilter| {
        let db = db.clone();
        async move { list_cases(&db, &filter).await.unwrap() }
    };
    assert_eq!(
        ids(&filtered(CaseFilter {
            region_prefix: Some("360102004".into()),
            ..Default::default()
        })
        .await),
        vec![mine.clone()]
    );
    assert_eq!(
        ids(&filtered(CaseFilter {
            region_prefix: Some("360102003".into()),
            ..Default::default()
        })
        .await),
        Vec::<String>::new(),
        "she moved away from 360102003"
    );
    assert_eq!(
        filtered(CaseFilter {
            region_prefix: Some("36".into()),
            ..Default::default()
        })
        .await
        .total,
        2
    );
    assert_eq!(
        ids(&filtered(CaseFilter {
            region_prefix: Some("3_%".into()),
            ..Default::default()
        })
        .await),
        Vec::<String>::new(),
        "no wildcards in a prefix"
    );
    assert_eq!(
        ids(&filtered(CaseFilter {
            category: Some(CareCategory::FrailElder),
            ..Default::default()
        })
        .await),
        vec![mine.clone()]
    );
    assert_eq!(
        ids(&filtered(CaseFilter {
            category: Some(CareCategory::LowIncome),
            ..Default::default()
        })
        .await),
        vec![other.clone()],
        "a removed category no longer matches"
    );
    assert_eq!(
        ids(&filtered(CaseFilter {
            status: Some(CaseStatus::Closed),
            ..Default::default()
        })
        .await),
        vec![other.clone()]
    );
    assert_eq!(
        ids(&filtered(CaseFilter {
            worker: Some(history.worker_li),
            ..Default::default()
        })
        .await),
        vec![mine.clone()]
    );
    assert_eq!(
        filtered(CaseFilter {
            worker: Some(history.worker_wang),
            ..Default::default()
        })
        .await
        .total,
        0,
        "released caregivers no longer match"
    );
    assert_eq!(
        ids(&filtered(CaseFilter {
            organization: Some(history.station),
            ..Default::default()
        })
        .await),
        vec![mine.clone()],
        "a current caregiver's organization"
    );
    assert_eq!(
        filtered(CaseFilter {
            organization: Some(history.county_org),
            ..Default::default()
        })
        .await
        .total,
        2,
        "the responsible organization"
    );
    let first = filtered(CaseFilter {
        limit: Some(1),
        ..Default::default()
    })
    .await;
    let second = filtered(CaseFilter {
        limit: Some(1),
        offset: 1,
        ..Default::default()
    })
    .await;
    assert_eq!(
        (first.total, first.items.len(), second.items.len()),
        (2, 1, 1)
    );
    assert_ne!(ids(&first), ids(&second));
    let summary = all.items.iter().find(|s| s.case_id == mine).unwrap();
    assert_eq!(summary.categories, vec!["empty_nest_elder", "frail_elder"]);
    assert_eq!(summary.risk_level, "high");
    assert_eq!(summary.last_visit_on, Some(day(3, 10)));

    assert_eq!(case_file(db, Uuid::now_v7()).await.unwrap(), None);

    // A rebuild gives exactly the incremental tables.
    let incremental = dump_all(db).await;
    rebuild(app.store(), &CaseFileProjection, |_, _| {})
        .await
        .unwrap();
    assert_eq!(dump_all(db).await, incremental);
    assert_eq!(case_file(db, history.case_id).await.unwrap().unwrap(), file);
}

async fn reveal_and_erase(url: &str) {
    let app = application(url).await;
    let history = write_history(&app).await;
    let store = app.store();
    let db = store.database();
    let auditor = Reader {
        actor: "auditor-chen".into(),
        role: "auditor".into(),
        organization: Some("第三方评估机构".into()),
        reason: "年度第三方评估抽查".into(),
    };

    // Without a reason nothing is read and nothing is logged.
    let refused = reveal_personal_fields(
        store,
        history.case_id,
        &Reader {
            reason: "  ".into(),
            ..auditor.clone()
        },
    )
    .await;
    assert!(
        matches!(refused, Err(RevealError::ReasonRequired)),
        "{refused:?}"
    );
    assert!(matches!(
        reveal_personal_fields(store, Uuid::now_v7(), &auditor).await,
        Err(RevealError::CaseNotFound(_))
    ));
    assert!(
        access_log(db, &AccessLogFilter::default())
            .await
            .unwrap()
            .is_empty()
    );

    let fields = reveal_personal_fields(store, history.case_id, &auditor)
        .await
        .unwrap();
    assert_eq!(fields.name, "王秀英");
    assert_eq!(fields.id_number, Personal::known(ID_NUMBER.to_owned()));
    assert_eq!(
        fields.phone,
        Personal::known(CORRECTED_PHONE.to_owned()),
        "the corrected value"
    );
    assert_eq!(fields.address, Personal::known(ADDRESS.to_owned()));
    assert_eq!(fields.health, Some(Personal::known(HEALTH.to_owned())));
    assert_eq!(fields.wellbeing_notes.len(), 1);
    assert_eq!(
        fields.wellbeing_notes[0].text,
        Personal::known(CORRECTED_WELLBEING.to_owned())
    );
    assert_eq!(fields.referrals.len(), 1);
    assert_eq!(
        fields.referrals[0].reason,
        Personal::known(REFERRAL_REASON.to_owned())
    );
    assert_eq!(
        fields.referrals[0].answer,
        Some(Personal::known(REFERRAL_ANSWER.to_owned()))
    );
    // The originals stay visible next to the corrections.
    assert_eq!(fields.corrections.len(), 2);
    let phone_fix = &fields.corrections[0];
    assert_eq!(
        (
            phone_fix.target_version,
            phone_fix.target_event_type.as_str()
        ),
        (1, "CaseOpened")
    );
    assert_eq!(phone_fix.original["phone"], json!(PHONE));
    assert_eq!(
        phone_fix.corrected.as_known().unwrap()["phone"],
        json!(CORRECTED_PHONE)
    );
    assert_eq!(phone_fix.reason, "建档时电话号码录错");
    assert_eq!(phone_fix.corrected_by.actor, "supervisor-zhao");
    assert_eq!(
        fields.corrections[1].original["wellbeing_notes"],
        json!(WELLBEING)
    );
    assert!(!fields.erased);
    assert_eq!(fields.version, 17);
    assert_eq!(
        mask_id_number(fields.id_number.as_known().unwrap()),
        "110105********002X"
    );
    assert_eq!(mask_phone(fields.phone.as_known().unwrap()), "139****1111");

    let logged = access_log(db, &AccessLogFilter::default()).await.unwrap();
    assert_eq!(logged.len(), 1);
    let entry = &logged[0];
    assert_eq!(entry.actor, "auditor-chen");
    assert_eq!(entry.role, "auditor");
    assert_eq!(entry.organization.as_deref(), Some("第三方评估机构"));
    assert_eq!(entry.case_id, history.case_id.to_string());
    assert_eq!(entry.reason, "年度第三方评估抽查");
    assert_eq!(entry.stream_version, 17);
    assert!(!entry.erased);
    for field in ["id_number", "phone", "address", "health", "wellbeing_notes"] {
        assert!(
            entry.revealed.iter().any(|f| f == field),
            "{:?}",
            entry.revealed
        );
    }
    assert_eq!(entry.accessed_at, fields.revealed_at.trunc_subsecs(6));
    for row in dump_table(db, "access_log").await.unwrap() {
        for secret in SECRETS {
            assert!(!row.contains(secret), "{secret} in the access log: {row}");
        }
    }

    // The access log is evidence: the database refuses to change it.
    with_pool!(db, pool => {
        assert!(sqlx::query("UPDATE access_log SET reason = 'x'").execute(pool).await.is_err());
        assert!(sqlx::query("DELETE FROM access_log").execute(pool).await.is_err());
    });
    assert_eq!(
        access_log(db, &AccessLogFilter::default())
            .await
            .unwrap()
            .len(),
        1
    );

    // After erasure nothing personal can be read; the case file says so.
    case(
        &app,
        history.case_id,
        ErasePersonalData {
            legal_basis: "《个人信息保护法》第四十七条：本人撤回同意".into(),
        },
        supervisor("本人申请删除"),
    )
    .await;
    let erased = reveal_personal_fields(store, history.case_id, &auditor)
        .await
        .unwrap();
    assert!(erased.erased);
    assert!(erased.id_number.is_erased() && erased.phone.is_erased() && erased.address.is_erased());
    assert!(erased.health.as_ref().unwrap().is_erased());
    assert!(erased.wellbeing_notes[0].text.is_erased());
    assert!(erased.referrals[0].reason.is_erased());
    assert!(erased.corrections.iter().all(|c| c.corrected.is_erased()));
    // Which fields a correction changed is itself sealed; that it happened,
    // why and by whom stays.
    assert_eq!(erased.corrections.len(), 2);
    assert!(erased.corrections[0].original.is_empty());
    assert_eq!(erased.corrections[0].reason, "建档时电话号码录错");
    assert_eq!(erased.name, "王秀英", "the name is not sealed");
    let logged = access_log(db, &AccessLogFilter::default()).await.unwrap();
    assert_eq!(logged.len(), 2);
    assert!(logged[1].erased);
    assert!(logged[1].revealed.is_empty(), "{:?}", logged[1].revealed);
    assert_eq!(logged[1].stream_version, 18);

    let projector = projector(store);
    projector.prepare().await.unwrap();
    catch_up(&projector).await;
    let file = case_file(db, history.case_id).await.unwrap().unwrap();
    assert!(file.erased);
    assert_eq!(file.erased_on, Some(today()));
    assert_eq!(
        file.timeline.last().unwrap().event_type,
        "PersonalDataErased"
    );
    assert!(
        list_cases(db, &CaseFilter::default())
            .await
            .unwrap()
            .items
            .iter()
            .any(|s| s.erased)
    );
}
