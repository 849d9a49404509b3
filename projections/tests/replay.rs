//! Time travel on SQLite and PostgreSQL, read from the event store alone:
//! one full state per event, in order, with who recorded it; the state at a
//! version and at an instant equals the replayed step; snapshots do not
//! change what is seen; sealed fields are shown as sealed, never in clear.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use chrono::NaiveDate;
use serde_json::json;
use shouwang_domain::care_case::*;
use shouwang_domain::vocabulary::*;
use shouwang_infrastructure::{AsOf, CommandMetadata, Database, MasterKey, Store, care_case_bus};
use shouwang_projections::replay::{case_as_of, replay_case};
use shouwang_testkit::on_both_backends;
use uuid::Uuid;

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 28).unwrap()
}

fn day(month: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, d).unwrap()
}

fn by(actor: &str, role: &str) -> CommandMetadata {
    CommandMetadata {
        actor: actor.to_owned(),
        role: role.to_owned(),
        ..CommandMetadata::system(actor)
    }
}

on_both_backends! {
    replay_gives_one_state_per_event_and_as_of_agrees => replay_and_as_of;
}

async fn replay_and_as_of(url: &str) {
    let db = Database::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    // Snapshots every 3 events: time travel must not depend on them.
    let store = Store::new(db, MasterKey::generate().1).with_snapshot_every(3);
    let bus = care_case_bus(&store);
    let case_id = Uuid::now_v7();
    let worker = Uuid::from_u128(0x11);
    let organization = Uuid::from_u128(0x99);
    let actions: Vec<(CaseAction, CommandMetadata)> = vec![
        (
            OpenCase {
                name: "王秀英".into(),
                gender: Gender::Female,
                birth_date: NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(),
                id_number: "11010519491231002X".into(),
                phone: "13807910000".into(),
                address: "东湖村 3 组 12 号".into(),
                residence_region: "360102003005".into(),
                categories: vec![CareCategory::EmptyNestElder],
                identified_via: IdentificationChannel::VisitDiscovery,
                risk_level: RiskLevel::Medium,
                organization_id: None,
                opened_on: day(1, 5),
            }
            .into(),
            by("worker-li", "social_worker"),
        ),
        (
            AssignCaregiver {
                organization_id: organization,
                worker_id: worker,
                arrangement: HelpArrangement::OneToOne,
                started_on: day(1, 6),
            }
            .into(),
            by("supervisor-zhao", "supervisor"),
        ),
        (
            RecordVisit {
                visited_on: day(2, 1),
                visitor_ids: vec![worker],
                method: VisitMethod::HomeVisit,
                minutes: 30,
                findings: "饮食正常".into(),
                wellbeing_notes: "夜间失眠".into(),
                follow_up_needed: false,
            }
            .into(),
            by("worker-li", "social_worker"),
        ),
        (
            AssessRisk {
                level: RiskLevel::High,
                factors: vec![RiskFactor::LivesAlone],
                assessed_on: day(2, 1),
            }
            .into(),
            by("worker-li", "social_worker"),
        ),
        (
            ChangeCategories {
                added: vec![CareCategory::FrailElder],
                removed: Vec::new(),
                reason: "评估为失能".into(),
                effective_on: day(2, 2),
            }
            .into(),
            by("worker-li", "social_worker"),
        ),
        (
            CloseCase {
                reason: CloseReason::MovedAway,
                note: String::new(),
                closed_on: day(3, 1),
            }
            .into(),
            by("supervisor-zhao", "supervisor"),
        ),
        (
            ReopenCase {
                reason: "迁居未成".into(),
                reopened_on: day(3, 9),
            }
            .into(),
            by("supervisor-zhao", "supervisor"),
        ),
    ];
    let count = actions.len();
    for (action, meta) in actions {
        bus.execute(
            &case_id.to_string(),
            CaseCommand::new(today(), action),
            meta,
        )
        .await
        .unwrap();
    }

    let steps = replay_case(&store, case_id).await.unwrap();
    assert_eq!(steps.len(), count, "one state per event");
    for (index, step) in steps.iter().enumerate() {
        assert_eq!(step.version, index as u64 + 1);
        assert_eq!(
            step.state["version"],
            json!(index + 1),
            "the full state after it"
        );
    }
    assert!(
        steps
            .windows(2)
            .all(|w| w[0].position < w[1].position && w[0].recorded_at <= w[1].recorded_at)
    );
    let types: Vec<&str> = steps.iter().map(|s| s.event_type.as_str()).collect();
    assert_eq!(
        types,
        vec![
            "CaseOpened",
            "CaregiverAssigned",
            "VisitRecorded",
            "RiskAssessed",
            "CategoriesChanged",
            "CaseClosed",
            "CaseReopened"
        ]
    );
    assert_eq!(steps[1].actor.as_deref(), Some("supervisor-zhao"));
    assert_eq!(steps[1].role.as_deref(), Some("supervisor"));
    assert_eq!(steps[0].state["status"], json!("open"));
    assert_eq!(steps[0].state["risk_level"], json!("medium"));
    assert_eq!(steps[1].state["caregivers"].as_array().unwrap().len(), 1);
    assert_eq!(steps[3].state["risk_level"], json!("high"));
    assert_eq!(
        steps[2].state["risk_level"],
        json!("medium"),
        "earlier states are kept as they were"
    );
    assert_eq!(
        steps[4].state["categories"],
        json!(["empty_nest_elder", "frail_elder"])
    );
    assert_eq!(steps[5].state["status"], json!("closed"));
    assert_eq!(steps[5].state["closed_on"], json!("2026-03-01"));
    assert_eq!(steps[6].state["status"], json!("open"));
    assert_eq!(steps[6].state["closed_on"], json!(null));

    // Sealed fields are shown as sealed; nothing personal is in clear.
    assert_eq!(steps[0].event["phone"], json!({"sealed": true}));
    assert_eq!(steps[0].event["id_number"], json!({"sealed": true}));
    assert_eq!(steps[2].event["wellbeing_notes"], json!({"sealed": true}));
    assert_eq!(steps[2].event["findings"], json!("饮食正常"));
    let shown = serde_json::to_string(&steps).unwrap();
    for secret in ["11010519491231002X", "13807910000", "东湖村", "失眠"] {
        assert!(!shown.contains(secret), "{secret} in the replay");
    }

    // As of a version: exactly the replayed state.
    for step in &steps {
        let (state, version) = case_as_of(&store, case_id, AsOf::Version(step.version))
            .await
            .unwrap()
            .unwrap();
        assert_eq!((state, version), (step.state.clone(), step.version));
    }
    assert_eq!(
        case_as_of(&store, case_id, AsOf::Version(0)).await.unwrap(),
        None
    );
    let beyond = case_as_of(&store, case_id, AsOf::Version(99))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(beyond.1, count as u64);

    // As of an instant: everything recorded up to and including it.
    for step in &steps {
        let (state, version) = case_as_of(&store, case_id, AsOf::Time(step.recorded_at))
            .await
            .unwrap()
            .unwrap();
        let reached = steps
            .iter()
            .filter(|s| s.recorded_at <= step.recorded_at)
            .count() as u64;
        assert!(version >= step.version);
        assert_eq!(version, reached);
        assert_eq!(state, steps[reached as usize - 1].state);
    }
    let before = steps[0].recorded_at - chrono::Duration::milliseconds(1);
    assert_eq!(
        case_as_of(&store, case_id, AsOf::Time(before))
            .await
            .unwrap(),
        None
    );

    // No such case.
    assert!(
        replay_case(&store, Uuid::now_v7())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        case_as_of(&store, Uuid::now_v7(), AsOf::Version(3))
            .await
            .unwrap(),
        None
    );
}
