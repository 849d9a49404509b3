//! The caseload read model on SQLite and PostgreSQL, fed by real `CareCase`
//! commands: visit obligations by risk level, late-entered visits, closing
//! and reopening, scopes, the monthly visit rate, and rebuild ==
//! incremental. Every figure is worked out by hand in the comments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::NaiveDate;
use shouwang_domain::RegionPrefix;
use shouwang_domain::care_case::{
    AssessRisk, AssignCaregiver, CaseAction, CaseCommand, CloseCase, OpenCase, RecordVisit,
    ReleaseCaregiver, ReopenCase, TransferCase,
};
use shouwang_domain::vocabulary::{
    CareCategory, CloseReason, Gender, HelpArrangement, IdentificationChannel, RiskLevel,
    VisitMethod,
};
use shouwang_infrastructure::{
    CareCaseBus, CommandMetadata, Database, MasterKey, Store, care_case_bus, with_pool,
};
use shouwang_projections::caseload::{
    CaseObligation, CaseloadProjection, CaseloadScope, Month, VisitPolicy, caseload,
    monthly_visit_rate, overdue_visits,
};
use shouwang_projections::dump::dump_table;
use shouwang_projections::{Projection, Projector, ProjectorSettings, rebuild};
use shouwang_testkit::on_both_backends;
use uuid::Uuid;

const ID_NUMBER: &str = "11010519491231002X";
const PHONE: &str = "13807910000";
const ADDRESS: &str = "和平里街道 1 号";
const NAME: &str = "王秀英";

fn date(month: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, month, day).unwrap()
}

/// The day every command is sent and every query asked.
fn today() -> NaiveDate {
    date(3, 20)
}

fn prefix(text: &str) -> RegionPrefix {
    RegionPrefix::parse(text).unwrap()
}

async fn open_store(url: &str) -> Store {
    let db = Database::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    Store::new(db, MasterKey::generate().1)
}

struct Cases {
    bus: CareCaseBus,
}

impl Cases {
    async fn run(&self, case: Uuid, action: impl Into<CaseAction>) {
        self.bus
            .execute(
                &case.to_string(),
                CaseCommand::new(today(), action),
                CommandMetadata::system("caseload-test"),
            )
            .await
            .unwrap();
    }

    async fn open(
        &self,
        region: &str,
        risk: RiskLevel,
        organization_id: Option<Uuid>,
        opened_on: NaiveDate,
    ) -> Uuid {
        let case = Uuid::now_v7();
        self.run(
            case,
            OpenCase {
                name: NAME.into(),
                gender: Gender::Female,
                birth_date: NaiveDate::from_ymd_opt(1949, 12, 31).unwrap(),
                id_number: ID_NUMBER.into(),
                phone: PHONE.into(),
                address: ADDRESS.into(),
                residence_region: region.into(),
                categories: vec![CareCategory::EmptyNestElder],
                identified_via: IdentificationChannel::VisitDiscovery,
                risk_level: risk,
                organization_id,
                opened_on,
            },
        )
        .await;
        case
    }

    async fn visit(&self, case: Uuid, visited_on: NaiveDate) {
        self.run(
            case,
            RecordVisit {
                visited_on,
                visitor_ids: vec![Uuid::from_u128(99)],
                method: VisitMethod::HomeVisit,
                minutes: 45,
                findings: "生活基本正常".into(),
                wellbeing_notes: "夜间失眠".into(),
                follow_up_needed: false,
            },
        )
        .await;
    }

    async fn assign(&self, case: Uuid, organization_id: Uuid, worker_id: Uuid) {
        self.run(
            case,
            AssignCaregiver {
                organization_id,
                worker_id,
                arrangement: HelpArrangement::OneToOne,
                started_on: date(3, 1),
            },
        )
        .await;
    }

    async fn close(&self, case: Uuid, closed_on: NaiveDate) {
        self.run(
            case,
            CloseCase {
                reason: CloseReason::MovedAway,
                note: String::new(),
                closed_on,
            },
        )
        .await;
    }
}

async fn last_position(store: &Store) -> i64 {
    with_pool!(store.database(), pool => {
        sqlx::query_scalar::<_, i64>("SELECT COALESCE(MAX(position), 0) FROM events")
            .fetch_one(pool)
            .await
            .unwrap()
    })
}

/// Catches up to everything written so far, waiting out the PostgreSQL
/// feed fence (other tests' open transactions may delay, never skip).
async fn catch_up(projector: &Projector) {
    let expected = last_position(projector.store()).await;
    for _ in 0..500 {
        projector.catch_up().await.unwrap();
        let status = projector.status().await.unwrap();
        assert!(status.iter().all(|s| s.error.is_none()), "{status:?}");
        if status.iter().all(|s| s.cursor.position >= expected) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("caseload did not reach position {expected}");
}

async fn dump_all(db: &Database) -> Vec<Vec<String>> {
    let mut tables = Vec::new();
    for table in CaseloadProjection.tables() {
        tables.push(dump_table(db, table).await.unwrap());
    }
    tables
}

fn ids(cases: &[CaseObligation]) -> Vec<Uuid> {
    cases.iter().map(|case| case.case_id).collect()
}

fn find(cases: &[CaseObligation], case_id: Uuid) -> &CaseObligation {
    cases.iter().find(|case| case.case_id == case_id).unwrap()
}

on_both_backends! {
    visit_obligations_caseloads_and_monthly_visit_rate => obligations_and_rates;
}

async fn obligations_and_rates(url: &str) {
    let store = open_store(url).await;
    let cases = Cases {
        bus: care_case_bus(&store),
    };
    // One event per batch, so nothing is held back: the rebuild at the end,
    // one batch for the whole history, must give the same tables.
    let projector = Projector::new(store.clone(), shouwang_projections::caseload::projections())
        .with_settings(ProjectorSettings {
            batch_size: 1,
            poll_interval: Duration::from_secs(3600),
        });
    projector.prepare().await.unwrap();
    let db = store.database();
    let policy = VisitPolicy::default();
    let organization = Uuid::from_u128(0x0001);
    let worker = Uuid::from_u128(0x00a1);
    let second_worker = Uuid::from_u128(0x00a2);

    // Township 110105001 of county 110105.
    // A: high risk, visited 2 Feb, 10 Mar and — entered late — 5 Mar.
    let a = cases
        .open(
            "110105001001",
            RiskLevel::High,
            Some(organization),
            date(2, 1),
        )
        .await;
    cases.visit(a, date(2, 3)).await;
    cases.visit(a, date(3, 10)).await;
    cases.assign(a, organization, worker).await;
    cases.assign(a, organization, second_worker).await;
    // B: medium risk, visited 20 Feb and 1 Mar; looked after by the
    // organization's worker though another organization is responsible.
    let b = cases
        .open("110105001002", RiskLevel::Medium, None, date(2, 10))
        .await;
    cases.visit(b, date(2, 20)).await;
    cases.visit(b, date(3, 1)).await;
    cases.assign(b, organization, worker).await;
    // E: open in February until the 15th, visited only in January.
    let e = cases
        .open("110105001003", RiskLevel::Medium, None, date(1, 10))
        .await;
    cases.visit(e, date(1, 20)).await;
    cases.close(e, date(2, 15)).await;
    // G: closed before February.
    let g = cases
        .open("110105001004", RiskLevel::Low, None, date(1, 2))
        .await;
    cases.visit(g, date(1, 15)).await;
    cases.close(g, date(1, 31)).await;
    // F: opened in March in this township, then moved to township 002.
    let f = cases
        .open("110105001005", RiskLevel::Medium, None, date(3, 5))
        .await;
    // C, township 110105002: low risk visited on 2 Mar, crisis since 15 Mar.
    let c = cases
        .open("110105002001", RiskLevel::Low, None, date(3, 1))
        .await;
    cases.visit(c, date(3, 2)).await;
    cases
        .run(
            c,
            AssessRisk {
                level: RiskLevel::Crisis,
                factors: Vec::new(),
                assessed_on: date(3, 15),
            },
        )
        .await;
    // D, another county: low risk, never visited.
    let d = cases
        .open("110106001001", RiskLevel::Low, None, date(1, 5))
        .await;

    catch_up(&projector).await;

    // Later entries arrive: a visit to A dated before its last one, a
    // caregiver released, F transferred.
    cases.visit(a, date(3, 5)).await;
    cases
        .run(
            a,
            ReleaseCaregiver {
                organization_id: organization,
                worker_id: second_worker,
                ended_on: date(3, 12),
                reason: "调岗".into(),
            },
        )
        .await;
    cases
        .run(
            f,
            TransferCase {
                new_region: Some("110105002002".into()),
                new_organization_id: None,
                reason: "搬迁".into(),
                transferred_on: date(3, 10),
            },
        )
        .await;
    catch_up(&projector).await;

    // The worker: A (high, last visit 10 Mar — the late 5 Mar entry does not
    // move it back — due 17 Mar, 3 days overdue) and B (medium, last visit
    // 1 Mar, due 31 Mar).
    let mine = caseload(db, &CaseloadScope::Worker(worker), today(), &policy)
        .await
        .unwrap();
    assert_eq!(mine.open_cases, 2);
    assert_eq!(mine.overdue_count, 1);
    assert_eq!(ids(&mine.cases), vec![a, b], "the visit due first on top");
    let case_a = find(&mine.cases, a);
    assert_eq!(case_a.last_visit, Some(date(3, 10)));
    assert_eq!(case_a.next_visit_due, date(3, 17));
    assert_eq!(case_a.overdue_days, 3);
    assert_eq!(case_a.worker_ids, vec![worker], "the released one is gone");
    assert_eq!(case_a.organization_id, Some(organization));
    assert_eq!(case_a.region, "110105001001");
    let case_b = find(&mine.cases, b);
    assert_eq!(case_b.next_visit_due, date(3, 31));
    assert_eq!(case_b.overdue_days, 0);
    assert!(
        caseload(db, &CaseloadScope::Worker(second_worker), today(), &policy)
            .await
            .unwrap()
            .cases
            .is_empty()
    );
    // The organization: A (responsible) and B (its worker looks after it).
    let organization_load = caseload(
        db,
        &CaseloadScope::Organization(organization),
        today(),
        &policy,
    )
    .await
    .unwrap();
    assert_eq!(ids(&organization_load.cases), vec![a, b]);

    // Township 001: A and B (E and G closed, F moved away).
    let township = caseload(
        db,
        &CaseloadScope::Township(prefix("110105001")),
        today(),
        &policy,
    )
    .await
    .unwrap();
    assert_eq!(township.open_cases, 2);
    assert_eq!((township.by_risk.high, township.by_risk.medium), (1, 1));

    // County 110105: A, B, C, F. C is a crisis since 15 Mar; its 2 Mar visit
    // was before the crisis, so the first visit was due on 16 Mar: 4 days
    // overdue. F (medium, opened 5 Mar, never visited) is due 4 Apr.
    let county = caseload(
        db,
        &CaseloadScope::County(prefix("110105")),
        today(),
        &policy,
    )
    .await
    .unwrap();
    assert_eq!(county.open_cases, 4);
    assert_eq!(
        (
            county.by_risk.crisis,
            county.by_risk.high,
            county.by_risk.medium,
            county.by_risk.low
        ),
        (1, 1, 2, 0)
    );
    assert_eq!(county.overdue_count, 2);
    assert_eq!(find(&county.cases, c).next_visit_due, date(3, 16));
    assert_eq!(find(&county.cases, f).next_visit_due, date(4, 4));
    assert_eq!(find(&county.cases, f).region, "110105002002");
    let overdue = overdue_visits(
        db,
        &CaseloadScope::County(prefix("110105")),
        today(),
        &policy,
    )
    .await
    .unwrap();
    assert_eq!(ids(&overdue), vec![c, a], "most overdue first");
    assert_eq!(
        overdue.iter().map(|o| o.overdue_days).collect::<Vec<_>>(),
        vec![4, 3]
    );
    // A laxer policy (high risk every 14 days) clears A.
    let lax = VisitPolicy {
        high_every_days: 14,
        ..VisitPolicy::default()
    };
    assert_eq!(
        ids(
            &overdue_visits(db, &CaseloadScope::County(prefix("110105")), today(), &lax)
                .await
                .unwrap()
        ),
        vec![c]
    );
    // On 1 April B, due on 31 March, is overdue by one day.
    let later = overdue_visits(db, &CaseloadScope::Worker(worker), date(4, 1), &policy)
        .await
        .unwrap();
    assert_eq!(ids(&later), vec![a, b]);
    assert_eq!(find(&later, b).overdue_days, 1);

    // February in township 001: A, B and E were open (G closed in January,
    // F not yet opened); A and B were visited: 2/3 = 667‰.
    let february = monthly_visit_rate(db, &prefix("110105001"), Month::new(2026, 2).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (
            february.open_cases,
            february.visited_cases,
            february.rate_permille
        ),
        (3, 2, 667)
    );
    assert_eq!(february.month, "2026-02");
    // January: E and G open and both visited; A and B not yet opened.
    let january = monthly_visit_rate(db, &prefix("110105"), Month::new(2026, 1).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (
            january.open_cases,
            january.visited_cases,
            january.rate_permille
        ),
        (2, 2, 1000)
    );
    // March in the county: A, B, C, F open; A, B, C visited: 750‰.
    let march = monthly_visit_rate(db, &prefix("110105"), Month::new(2026, 3).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (march.open_cases, march.visited_cases, march.rate_permille),
        (4, 3, 750)
    );
    let nothing = monthly_visit_rate(db, &prefix("110106002"), Month::new(2026, 3).unwrap())
        .await
        .unwrap();
    assert_eq!((nothing.open_cases, nothing.rate_permille), (0, 0));

    // D leaves the caseload when closed and comes back when reopened, its
    // low-risk obligation running anew from the reopening.
    let other_county = CaseloadScope::County(prefix("110106"));
    assert_eq!(
        find(
            &caseload(db, &other_county, today(), &policy)
                .await
                .unwrap()
                .cases,
            d
        )
        .next_visit_due,
        date(4, 5)
    );
    cases.close(d, date(3, 18)).await;
    catch_up(&projector).await;
    assert_eq!(
        caseload(db, &other_county, today(), &policy)
            .await
            .unwrap()
            .open_cases,
        0
    );
    cases
        .run(
            d,
            ReopenCase {
                reason: "仍需关爱".into(),
                reopened_on: date(3, 19),
            },
        )
        .await;
    catch_up(&projector).await;
    let reopened = caseload(db, &other_county, today(), &policy).await.unwrap();
    assert_eq!(ids(&reopened.cases), vec![d]);
    assert_eq!(reopened.cases[0].next_visit_due, date(6, 17));
    // Closed from 18 to 19 March, D was still open during March.
    let march_elsewhere = monthly_visit_rate(db, &prefix("110106"), Month::new(2026, 3).unwrap())
        .await
        .unwrap();
    assert_eq!(
        (march_elsewhere.open_cases, march_elsewhere.visited_cases),
        (1, 0)
    );

    // Nothing personal reached the tables.
    let incremental = dump_all(db).await;
    for row in incremental.iter().flatten() {
        for personal in [ID_NUMBER, PHONE, ADDRESS, NAME, "失眠"] {
            assert!(!row.contains(personal), "{personal} in {row}");
        }
    }
    // Rebuilt from the feed, the tables are the same.
    assert_eq!(
        incremental.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![7, 2, 8, 7],
        "cases, caregivers, open periods, visit months"
    );
    rebuild(&store, &CaseloadProjection, |_, _| {})
        .await
        .unwrap();
    assert_eq!(dump_all(db).await, incremental);
}
