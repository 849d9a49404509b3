//! The `CareCase` aggregate on the real store, on SQLite and PostgreSQL:
//! personal data sealed and erasable, snapshots free of personal data, and
//! snapshot + tail == full replay for random command sequences.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use shouwang_testkit::on_both_backends;

use chrono::{Days, NaiveDate};
use proptest::prelude::*;
use shouwang_domain::care_case::{
    AssessRisk, AssignCaregiver, CareCase, CaseAction, CaseCommand, CaseError, CaseEvent,
    CloseCase, ErasePersonalData, OpenCase, RecordService, RecordVisit, ReleaseCaregiver,
    ReopenCase,
};
use shouwang_domain::vocabulary::{
    CareCategory, CloseReason, Gender, HelpArrangement, IdentificationChannel, RiskLevel,
    ServiceType, VisitMethod,
};
use shouwang_infrastructure::{
    AsOf, CommandError, CommandMetadata, PersonalDataMode, care_case_bus, verify::verify_chains,
};
use support::open_store;
use uuid::Uuid;

const ID_NUMBER: &str = "11010519491231002X";

fn today() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 29).unwrap()
}

fn opened_on() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 1, 5).unwrap()
}

fn command(action: CaseAction) -> CaseCommand {
    CaseCommand {
        today: today(),
        action,
    }
}

fn open_case() -> CaseCommand {
    command(CaseAction::OpenCase(OpenCase {
        name: "王秀英".into(),
        gender: Gender::Female,
        birth_date: NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(),
        id_number: ID_NUMBER.into(),
        phone: "13807910000".into(),
        address: "北京市朝阳区和平里街道 1 号".into(),
        residence_region: "110105001001".into(),
        categories: vec![CareCategory::EmptyNestElder],
        identified_via: IdentificationChannel::ALL[0],
        risk_level: RiskLevel::High,
        organization_id: None,
        opened_on: opened_on(),
    }))
}

fn visit(day: u64, minutes: u32) -> CaseCommand {
    command(CaseAction::RecordVisit(RecordVisit {
        visited_on: opened_on() + Days::new(day),
        visitor_ids: vec![Uuid::from_u128(7)],
        method: VisitMethod::ALL[0],
        minutes,
        findings: "身体状况平稳".into(),
        wellbeing_notes: "夜间失眠，情绪低落".into(),
        follow_up_needed: false,
    }))
}

on_both_backends! {
    case_personal_data_is_sealed_findable_and_erasable => personal_data_lifecycle;
    opening_an_open_case_again_is_refused_and_a_retry_is_answered => open_twice;
}

/// Opening a case is decided without reading the stream (it is expected not
/// to exist). A bus that has not seen the case — another process, or after
/// the cache let it go — must still refuse a second opening and answer a
/// retry of the first with its receipt, writing nothing.
async fn open_twice(url: &str) {
    let store = open_store(url).await;
    let id = Uuid::now_v7().to_string();
    let first_metadata = CommandMetadata::system("t");
    let first = care_case_bus(&store)
        .execute(&id, open_case(), first_metadata.clone())
        .await
        .unwrap();
    assert!(!first.replayed);
    for (visits_before, bus) in [care_case_bus(&store), care_case_bus(&store)]
        .into_iter()
        .enumerate()
    {
        let again = bus
            .execute(&id, open_case(), CommandMetadata::system("t"))
            .await;
        assert!(
            matches!(
                again,
                Err(CommandError::Refused(CaseError::CaseAlreadyOpened))
            ),
            "{again:?}"
        );
        let retry = bus
            .execute(&id, open_case(), first_metadata.clone())
            .await
            .unwrap();
        assert!(retry.replayed);
        assert_eq!(
            (
                retry.stream_version,
                retry.first_position,
                retry.last_position
            ),
            (
                first.stream_version,
                first.first_position,
                first.last_position
            )
        );
        // The bus that has seen the case decides on what it holds.
        let visit = bus
            .execute(&id, visit(3, 40), CommandMetadata::system("t"))
            .await
            .unwrap();
        assert_eq!(
            visit.stream_version,
            Some(first.stream_version.unwrap() + visits_before as u64 + 1)
        );
    }
    let events = store
        .load_stream(&id, 0, PersonalDataMode::Withhold)
        .await
        .unwrap();
    assert_eq!(events.len(), 3, "one opening and two visits, nothing twice");
    let verified = verify_chains(store.database(), |_| {}).await.unwrap();
    assert_eq!((verified.events, verified.first_broken), (3, None));
}

async fn personal_data_lifecycle(url: &str) {
    let store = open_store(url).await.with_snapshot_every(2);
    let bus = care_case_bus(&store);
    let id = Uuid::now_v7().to_string();
    bus.execute(&id, open_case(), CommandMetadata::system("t"))
        .await
        .unwrap();
    bus.execute(&id, visit(3, 40), CommandMetadata::system("t"))
        .await
        .unwrap();

    // Found by ID number through the blind index only.
    assert_eq!(
        store
            .find_by_blind_index("id_number", ID_NUMBER)
            .await
            .unwrap(),
        vec![id.clone()]
    );
    // Nothing personal in clear text anywhere in the database rows we wrote.
    let clear: Vec<String> = shouwang_infrastructure::with_pool!(store.database(), pool => {
        let mut texts: Vec<String> = sqlx::query_scalar("SELECT payload FROM events").fetch_all(pool).await.unwrap();
        texts.extend(sqlx::query_scalar::<_, String>("SELECT state FROM snapshots").fetch_all(pool).await.unwrap());
        texts
    });
    assert_eq!(clear.len(), 3, "two events and one snapshot");
    for text in &clear {
        for secret in [ID_NUMBER, "13807910000", "和平里", "失眠"] {
            assert!(!text.contains(secret), "{secret} in clear: {text}");
        }
    }

    let history = bus.event_store().history(&id).await.unwrap();
    let CaseEvent::CaseOpened(opened) = &history[0].payload else {
        panic!("opened first")
    };
    assert_eq!(
        opened.phone.as_known().map(String::as_str),
        Some("13807910000")
    );

    bus.execute(
        &id,
        command(CaseAction::ErasePersonalData(ErasePersonalData {
            legal_basis: "《个人信息保护法》第四十七条：本人撤回同意".into(),
        })),
        CommandMetadata::system("t"),
    )
    .await
    .unwrap();
    let history = bus.event_store().history(&id).await.unwrap();
    let CaseEvent::CaseOpened(opened) = &history[0].payload else {
        panic!("opened first")
    };
    assert!(opened.phone.is_erased() && opened.id_number.is_erased() && opened.address.is_erased());
    let CaseEvent::VisitRecorded(visited) = &history[1].payload else {
        panic!("visit second")
    };
    assert!(visited.wellbeing_notes.is_erased());
    assert_eq!(
        visited.minutes, 40,
        "non-personal facts stay for statistics"
    );
    assert!(
        store
            .find_by_blind_index("id_number", ID_NUMBER)
            .await
            .unwrap()
            .is_empty()
    );
    // The domain refuses further recording for an erased person.
    let refused = bus
        .execute(&id, visit(5, 30), CommandMetadata::system("t"))
        .await;
    assert!(
        matches!(refused, Err(CommandError::Refused(_))),
        "{refused:?}"
    );
    let report = shouwang_infrastructure::verify_chains(store.database(), |_| {})
        .await
        .unwrap();
    assert_eq!(report.first_broken, None);
}

/// One step of a random case history; some steps are refused by the rules,
/// which must change nothing.
#[derive(Debug, Clone)]
enum Step {
    Visit {
        day: u64,
        minutes: u32,
    },
    Service {
        day: u64,
        minutes: u32,
        money_fen: i64,
    },
    Risk(usize),
    Assign(u128),
    Release(u128),
    Close,
    Reopen,
}

fn step() -> impl Strategy<Value = Step> {
    prop_oneof![
        4 => (0_u64..300, 0_u32..1500).prop_map(|(day, minutes)| Step::Visit { day, minutes }),
        2 => (0_u64..300, 1_u32..300, -10_i64..5000)
            .prop_map(|(day, minutes, money_fen)| Step::Service { day, minutes, money_fen }),
        1 => (0_usize..4).prop_map(Step::Risk),
        1 => (0_u128..3).prop_map(Step::Assign),
        1 => (0_u128..3).prop_map(Step::Release),
        1 => Just(Step::Close),
        1 => Just(Step::Reopen),
    ]
}

fn step_command(step: &Step) -> CaseCommand {
    let on = |day: u64| opened_on() + Days::new(day);
    command(match step {
        Step::Visit { day, minutes } => return visit(*day, *minutes),
        Step::Service {
            day,
            minutes,
            money_fen,
        } => CaseAction::RecordService(RecordService {
            delivered_on: on(*day),
            service_types: vec![ServiceType::ALL[0]],
            action_line: None,
            provider_organization_id: Uuid::from_u128(1),
            volunteers: 1,
            minutes: *minutes,
            money_fen: *money_fen,
            material_value_fen: 0,
            description: "送餐".into(),
        }),
        Step::Risk(level) => CaseAction::AssessRisk(AssessRisk {
            level: RiskLevel::ALL[*level % RiskLevel::ALL.len()],
            factors: Vec::new(),
            assessed_on: on(10),
        }),
        Step::Assign(worker) => CaseAction::AssignCaregiver(AssignCaregiver {
            organization_id: Uuid::from_u128(1),
            worker_id: Uuid::from_u128(*worker),
            arrangement: HelpArrangement::ALL[0],
            started_on: on(1),
        }),
        Step::Release(worker) => CaseAction::ReleaseCaregiver(ReleaseCaregiver {
            organization_id: Uuid::from_u128(1),
            worker_id: Uuid::from_u128(*worker),
            ended_on: on(20),
            reason: "调岗".into(),
        }),
        Step::Close => CaseAction::CloseCase(CloseCase {
            reason: CloseReason::ALL[0],
            note: "结案".into(),
            closed_on: on(299),
        }),
        Step::Reopen => CaseAction::ReopenCase(ReopenCase {
            reason: "重新纳入".into(),
            reopened_on: on(300),
        }),
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 10, ..ProptestConfig::default() })]

    #[test]
    fn care_case_snapshot_plus_tail_equals_full_replay(
        steps in proptest::collection::vec(step(), 1..30),
        every in 1_u64..7,
    ) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            let sqlite = shouwang_testkit::sqlite_database();
            let postgres = shouwang_testkit::postgres_database().await;
            for url in [sqlite.url(), postgres.url()] {
                let store = open_store(url).await.with_snapshot_every(every);
                let bus = care_case_bus(&store);
                let id = Uuid::now_v7().to_string();
                bus.execute(&id, open_case(), CommandMetadata::system("p")).await.unwrap();
                for step in &steps {
                    let _ = bus.execute(&id, step_command(step), CommandMetadata::system("p")).await;
                }
                let from_snapshot = bus.event_store().load_for_decision(&id).await.unwrap();
                let (replayed, version): (CareCase, u64) =
                    bus.event_store().load_as_of(&id, AsOf::Version(u64::MAX >> 1)).await.unwrap();
                assert_eq!(
                    serde_json::to_value(&from_snapshot.aggregate).unwrap(),
                    serde_json::to_value(&replayed).unwrap()
                );
                assert_eq!(from_snapshot.version, version);
                assert_eq!(version, store.stream_version(&id).await.unwrap());
            }
        });
    }
}
