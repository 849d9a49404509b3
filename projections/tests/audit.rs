//! The audit trail on SQLite and PostgreSQL: every event of every stream
//! type with who, as whom, for which organization, when, why and under which
//! command; filters by actor, case, stream, organization, event type, region
//! and time; keyset paging; the access log beside it; and a rebuild equal to
//! the incremental projection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use shouwang_domain::PointsPolicy;
use shouwang_domain::care_case::*;
use shouwang_domain::need::*;
use shouwang_domain::organization::*;
use shouwang_domain::vocabulary::*;
use shouwang_domain::volunteer::*;
use shouwang_infrastructure::{
    Application, CommandMetadata, Database, MasterKey, Store, with_pool,
};
use shouwang_projections::audit::{
    AccessLogFilter, AuditEntry, AuditFilter, AuditTrailProjection, access_log, audit_trail,
};
use shouwang_projections::case_file::{Reader, reveal_personal_fields};
use shouwang_projections::dump::dump_table;
use shouwang_projections::{Projection, Projector, rebuild};
use shouwang_testkit::on_both_backends;
use uuid::Uuid;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 3, d).unwrap()
}

fn acting(
    actor: &str,
    role: &str,
    organization: Option<Uuid>,
    reason: Option<&str>,
) -> CommandMetadata {
    CommandMetadata {
        actor: actor.to_owned(),
        role: role.to_owned(),
        organization: organization.map(|o| o.to_string()),
        reason: reason.map(str::to_owned),
        client_time: Some(
            DateTime::parse_from_rfc3339("2026-03-10T08:30:00Z")
                .unwrap()
                .with_timezone(&Utc),
        ),
        ..CommandMetadata::system(actor)
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

fn open(name: &str, region: &str) -> OpenCase {
    OpenCase {
        name: name.into(),
        gender: Gender::Female,
        birth_date: NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(),
        id_number: "11010519491231002X".into(),
        phone: "13807910000".into(),
        address: "东湖村 3 组".into(),
        residence_region: region.into(),
        categories: vec![CareCategory::EmptyNestElder],
        identified_via: IdentificationChannel::VisitDiscovery,
        risk_level: RiskLevel::Medium,
        organization_id: None,
        opened_on: day(1),
    }
}

fn visit(on: u32) -> RecordVisit {
    RecordVisit {
        visited_on: day(on),
        visitor_ids: vec![Uuid::from_u128(7)],
        method: VisitMethod::PhoneCall,
        minutes: 20,
        findings: "电话问候".into(),
        wellbeing_notes: String::new(),
        follow_up_needed: false,
    }
}

struct World {
    station: Uuid,
    case_a: Uuid,
    case_b: Uuid,
    need_id: Uuid,
    volunteer: Uuid,
}

async fn write_world(app: &Application) -> World {
    let official = || acting("official-qian", "official", None, Some("年度备案"));
    let station = Uuid::now_v7();
    app.organizations
        .execute(
            &station.to_string(),
            OrganizationCommand::new(
                today(),
                RegisterOrganization {
                    name: "东湖社区社工站".into(),
                    credit_code: "91350100M000100Y43".into(),
                    kind: OrganizationKind::ALL[0],
                    level: RegionLevel::Township,
                    region_code: "360102003000".into(),
                    hub: false,
                    registered_on: day(1),
                },
            ),
            official(),
        )
        .await
        .unwrap();
    let volunteer = Uuid::now_v7();
    app.volunteers
        .execute(
            &volunteer.to_string(),
            VolunteerCommand::new(
                today(),
                RegisterVolunteer {
                    organization_id: station,
                    name: "志愿者小周".into(),
                    phone: "13912345678".into(),
                    registered_on: day(2),
                },
            ),
            official(),
        )
        .await
        .unwrap();

    let li = || acting("worker-li", "social_worker", Some(station), None);
    let wang = || acting("worker-wang", "social_worker", None, None);
    let case_a = Uuid::now_v7();
    let run = |id: Uuid, action: CaseAction, meta: CommandMetadata| async move {
        app.cases
            .execute(&id.to_string(), CaseCommand::new(today(), action), meta)
            .await
            .unwrap();
    };
    run(case_a, open("王秀英", "360102003005").into(), li()).await;
    run(case_a, visit(3).into(), li()).await;
    run(case_a, visit(4).into(), wang()).await;
    let need_id = Uuid::now_v7();
    app.execute_need(
        need_id,
        NeedCommand::new(
            today(),
            RaiseNeed {
                case_id: Some(case_a),
                region_code: "360102003005".into(),
                category: NeedCategory::Living,
                description: "灯泡损坏".into(),
                micro_wish: true,
                urgency: NeedUrgency::Normal,
                source: NeedSource::HouseholdSurvey,
                raised_on: day(5),
            },
        ),
        li(),
    )
    .await
    .unwrap();
    app.execute_need(
        need_id,
        NeedCommand::new(
            today(),
            WithdrawNeed {
                reason: "家属已自行更换".into(),
                withdrawn_on: day(6),
            },
        ),
        li(),
    )
    .await
    .unwrap();
    run(
        case_a,
        TransferCase {
            new_region: Some("360103001001".into()),
            new_organization_id: None,
            reason: "搬家".into(),
            transferred_on: day(7),
        }
        .into(),
        acting("supervisor-zhao", "supervisor", None, Some("搬家随迁")),
    )
    .await;
    run(case_a, visit(8).into(), li()).await;

    let case_b = Uuid::now_v7();
    run(case_b, open("李建国", "360111001002").into(), wang()).await;
    run(case_b, visit(9).into(), wang()).await;
    World {
        station,
        case_a,
        case_b,
        need_id,
        volunteer,
    }
}

fn kinds(entries: &[AuditEntry]) -> Vec<(&str, &str)> {
    entries
        .iter()
        .map(|e| (e.stream_type.as_str(), e.event_type.as_str()))
        .collect()
}

on_both_backends! {
    the_audit_trail_records_every_event_and_filters_it => audit_trail_filters;
    the_access_log_is_shown_with_the_trail => access_log_filters;
}

async fn audit_trail_filters(url: &str) {
    let app = application(url).await;
    let world = write_world(&app).await;
    let store = app.store();
    let db = store.database();
    let projector = Projector::new(store.clone(), vec![Arc::new(AuditTrailProjection)]);
    projector.prepare().await.unwrap();
    catch_up(&projector).await;
    let trail = |filter: AuditFilter| {
        let db = db.clone();
        async move { audit_trail(&db, &filter).await.unwrap() }
    };

    let all = trail(AuditFilter::default()).await;
    assert_eq!(all.len(), 11, "{:?}", kinds(&all));
    assert!(all.windows(2).all(|w| w[0].position < w[1].position));
    for stream_type in ["organization", "volunteer", "care_case", "need"] {
        assert!(
            all.iter().any(|e| e.stream_type == stream_type),
            "{stream_type}"
        );
    }
    let registered = &all[0];
    assert_eq!(registered.event_type, "OrganizationRegistered");
    assert_eq!(registered.actor.as_deref(), Some("official-qian"));
    assert_eq!(registered.role.as_deref(), Some("official"));
    assert_eq!(registered.reason.as_deref(), Some("年度备案"));
    assert_eq!(registered.region_code.as_deref(), Some("360102003"));
    assert!(registered.command_id.is_some() && registered.correlation_id.is_some());
    assert_eq!(
        registered.client_time,
        Some(
            DateTime::parse_from_rfc3339("2026-03-10T08:30:00Z")
                .unwrap()
                .with_timezone(&Utc)
        )
    );
    let volunteer = &all[1];
    assert_eq!(volunteer.stream_id, world.volunteer.to_string());
    assert_eq!(
        volunteer.region_code.as_deref(),
        Some("360102003"),
        "a volunteer is where their organization is"
    );
    // The raw event row and the trail agree.
    let (command_id, recorded_at): (String, String) = with_pool!(db, pool => {
        sqlx::query_as("SELECT metadata, recorded_at FROM events WHERE position = $1")
            .bind(all[2].position)
            .fetch_one(pool)
            .await
            .unwrap()
    });
    assert!(command_id.contains(all[2].command_id.as_deref().unwrap()));
    assert_eq!(
        shouwang_infrastructure::store::format_instant(all[2].recorded_at),
        recorded_at
    );

    // By actor.
    let li = trail(AuditFilter {
        actor: Some("worker-li".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        kinds(&li),
        vec![
            ("care_case", "CaseOpened"),
            ("care_case", "VisitRecorded"),
            ("need", "NeedRaised"),
            ("need", "NeedWithdrawn"),
            ("care_case", "VisitRecorded"),
        ]
    );
    assert!(
        li.iter()
            .all(|e| e.organization.as_deref() == Some(&*world.station.to_string()))
    );
    // By organization acted for.
    let for_station = trail(AuditFilter {
        organization: Some(world.station.to_string()),
        ..Default::default()
    })
    .await;
    assert_eq!(for_station, li);

    // By case: the case's own events and those of the need raised for it.
    let case_a = trail(AuditFilter {
        case_id: Some(world.case_a),
        ..Default::default()
    })
    .await;
    assert_eq!(
        kinds(&case_a),
        vec![
            ("care_case", "CaseOpened"),
            ("care_case", "VisitRecorded"),
            ("care_case", "VisitRecorded"),
            ("need", "NeedRaised"),
            ("need", "NeedWithdrawn"),
            ("care_case", "CaseTransferred"),
            ("care_case", "VisitRecorded"),
        ]
    );
    let transfer = &case_a[5];
    assert_eq!(transfer.actor.as_deref(), Some("supervisor-zhao"));
    assert_eq!(transfer.reason.as_deref(), Some("搬家随迁"));
    // By stream.
    let need = trail(AuditFilter {
        stream_id: Some(world.need_id.to_string()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        kinds(&need),
        vec![("need", "NeedRaised"), ("need", "NeedWithdrawn")]
    );
    assert!(
        need.iter()
            .all(|e| e.case_id.as_deref() == Some(&*world.case_a.to_string()))
    );

    // By event type.
    let visits = trail(AuditFilter {
        event_type: Some("VisitRecorded".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(visits.len(), 4);
    assert_eq!(
        visits
            .iter()
            .filter(|e| e.case_id.as_deref() == Some(&*world.case_b.to_string()))
            .count(),
        1
    );

    // By region: a transfer shows on both sides; later events follow the case.
    let old_region = trail(AuditFilter {
        region_prefix: Some("360102003".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        kinds(&old_region),
        vec![
            ("organization", "OrganizationRegistered"),
            ("volunteer", "VolunteerRegistered"),
            ("care_case", "CaseOpened"),
            ("care_case", "VisitRecorded"),
            ("care_case", "VisitRecorded"),
            ("need", "NeedRaised"),
            ("need", "NeedWithdrawn"),
            ("care_case", "CaseTransferred"),
        ]
    );
    let new_region = trail(AuditFilter {
        region_prefix: Some("360103".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(
        kinds(&new_region),
        vec![
            ("care_case", "CaseTransferred"),
            ("care_case", "VisitRecorded")
        ]
    );
    assert_eq!(
        trail(AuditFilter {
            region_prefix: Some("360111".into()),
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    assert!(
        trail(AuditFilter {
            region_prefix: Some("3601%".into()),
            ..Default::default()
        })
        .await
        .is_empty(),
        "no wildcards in a prefix"
    );

    // By time, both ends inclusive.
    let from = all[6].recorded_at;
    let to = all[9].recorded_at;
    let window = trail(AuditFilter {
        from: Some(from),
        to: Some(to),
        ..Default::default()
    })
    .await;
    let expected: Vec<i64> = all
        .iter()
        .filter(|e| e.recorded_at >= from && e.recorded_at <= to)
        .map(|e| e.position)
        .collect();
    assert_eq!(
        window.iter().map(|e| e.position).collect::<Vec<_>>(),
        expected
    );
    assert!(expected.len() >= 4);
    assert!(
        trail(AuditFilter {
            to: Some(all[0].recorded_at - chrono::Duration::seconds(1)),
            ..Default::default()
        })
        .await
        .is_empty()
    );

    // Combined, and paged by position.
    let combined = trail(AuditFilter {
        actor: Some("worker-wang".into()),
        case_id: Some(world.case_b),
        event_type: Some("VisitRecorded".into()),
        ..Default::default()
    })
    .await;
    assert_eq!(combined.len(), 1);
    let mut paged = Vec::new();
    let mut after = None;
    loop {
        let page = trail(AuditFilter {
            limit: Some(5),
            after_position: after,
            ..Default::default()
        })
        .await;
        let Some(last) = page.last() else { break };
        after = Some(last.position);
        paged.extend(page);
    }
    assert_eq!(paged, all);

    // A rebuild gives exactly the incremental tables.
    let dump = || async {
        let mut dumps = Vec::new();
        for table in AuditTrailProjection.tables() {
            dumps.push(dump_table(db, table).await.unwrap());
        }
        dumps
    };
    let incremental = dump().await;
    rebuild(store, &AuditTrailProjection, |_, _| {})
        .await
        .unwrap();
    assert_eq!(dump().await, incremental);
    assert_eq!(trail(AuditFilter::default()).await, all);
}

async fn access_log_filters(url: &str) {
    let app = application(url).await;
    let world = write_world(&app).await;
    let store = app.store();
    let db = store.database();
    let reader = |actor: &str, reason: &str| Reader {
        actor: actor.into(),
        role: "supervisor".into(),
        organization: None,
        reason: reason.into(),
    };
    reveal_personal_fields(
        store,
        world.case_a,
        &reader("supervisor-zhao", "核实转介材料"),
    )
    .await
    .unwrap();
    reveal_personal_fields(store, world.case_b, &reader("supervisor-zhao", "电话回访"))
        .await
        .unwrap();
    reveal_personal_fields(store, world.case_a, &reader("auditor-chen", "年度评估抽查"))
        .await
        .unwrap();
    let log = |filter: AccessLogFilter| {
        let db = db.clone();
        async move { access_log(&db, &filter).await.unwrap() }
    };
    let all = log(AccessLogFilter::default()).await;
    assert_eq!(all.len(), 3);
    assert!(all.windows(2).all(|w| w[0].accessed_at <= w[1].accessed_at));
    let reasons = |entries: &[shouwang_projections::audit::AccessLogEntry]| {
        entries.iter().map(|e| e.reason.clone()).collect::<Vec<_>>()
    };
    assert_eq!(
        reasons(
            &log(AccessLogFilter {
                case_id: Some(world.case_a),
                ..Default::default()
            })
            .await
        ),
        vec!["核实转介材料", "年度评估抽查"]
    );
    assert_eq!(
        reasons(
            &log(AccessLogFilter {
                actor: Some("supervisor-zhao".into()),
                ..Default::default()
            })
            .await
        ),
        vec!["核实转介材料", "电话回访"]
    );
    assert_eq!(
        reasons(
            &log(AccessLogFilter {
                from: Some(all[1].accessed_at),
                ..Default::default()
            })
            .await
        ),
        vec!["电话回访", "年度评估抽查"]
    );
    assert_eq!(
        reasons(
            &log(AccessLogFilter {
                to: Some(all[0].accessed_at),
                ..Default::default()
            })
            .await
        ),
        vec!["核实转介材料"]
    );
    assert_eq!(
        log(AccessLogFilter {
            limit: Some(2),
            ..Default::default()
        })
        .await
        .len(),
        2
    );
    assert!(all[0].revealed.iter().any(|f| f == "phone"));
}
