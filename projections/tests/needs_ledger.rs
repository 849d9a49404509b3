//! The needs ledger (需求台账) on SQLite and PostgreSQL, fed by real Need
//! and Organization commands through the application layer: statuses,
//! orders per organization (一社一单), overdue orders before and after
//! fulfilment, a decline returning a need to the ledger, escalations by
//! level, satisfaction, what meeting needs took, and rebuild ==
//! incremental. Every figure is worked out by hand in the comments.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use chrono::NaiveDate;
use shouwang_domain::need::{
    AcceptNeed, DeclineNeed, DispatchNeed, EscalateNeed, EvaluateNeed, FulfilNeed, NeedAction,
    NeedCommand, RaiseNeed, RecordNeedProgress, WithdrawNeed,
};
use shouwang_domain::organization::{
    OrganizationAction, OrganizationCommand, RegisterOrganization, SuspendOrganization,
};
use shouwang_domain::vocabulary::{
    Department, EscalationLevel, NeedCategory, NeedSource, NeedStatus, NeedUrgency,
    OrganizationKind, RegionLevel,
};
use shouwang_domain::volunteer::PointsPolicy;
use shouwang_domain::{CreditCode, RegionPrefix};
use shouwang_infrastructure::{
    Application, CommandMetadata, Database, MasterKey, Store, with_pool,
};
use shouwang_projections::dump::dump_table;
use shouwang_projections::needs_ledger::{
    EscalationCounts, NeedsLedgerProjection, Order, OrderStatus, escalations,
    orders_by_organization, organization_orders, overdue_orders, satisfaction, township_ledger,
};
use shouwang_projections::{Projection, Projector, rebuild};
use shouwang_testkit::on_both_backends;
use uuid::Uuid;

const TOWNSHIP: &str = "360121100";
const OTHER_TOWNSHIP: &str = "360121101";
const COUNTY: &str = "360121";

fn day(d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 6, d).unwrap()
}

/// The day every command is sent and every query asked.
fn today() -> NaiveDate {
    day(20)
}

fn prefix(text: &str) -> RegionPrefix {
    RegionPrefix::parse(text).unwrap()
}

fn meta() -> CommandMetadata {
    CommandMetadata::system("needs-ledger-test")
}

async fn open_store(url: &str) -> Store {
    let db = Database::connect(url).await.unwrap();
    db.migrate().await.unwrap();
    Store::new(db, MasterKey::generate().1)
}

struct County {
    app: Application,
}

impl County {
    async fn register(&self, name: &str, level: RegionLevel, region: &str, number: u32) -> Uuid {
        let id = Uuid::now_v7();
        let first_17 = format!("52{COUNTY}MJ{:07}", 1_000 + number);
        let check = CreditCode::check_character_for(&first_17).unwrap();
        self.organization(
            id,
            RegisterOrganization {
                name: name.into(),
                credit_code: format!("{first_17}{check}"),
                kind: OrganizationKind::SocialWorkAgency,
                level,
                region_code: region.into(),
                hub: false,
                registered_on: NaiveDate::from_ymd_opt(2025, 3, 1).unwrap(),
            },
        )
        .await;
        id
    }

    async fn organization(&self, id: Uuid, action: impl Into<OrganizationAction>) {
        self.app
            .organizations
            .execute(
                &id.to_string(),
                OrganizationCommand::new(today(), action),
                meta(),
            )
            .await
            .unwrap();
    }

    async fn need(&self, id: Uuid, action: impl Into<NeedAction>) {
        self.app
            .execute_need(id, NeedCommand::new(today(), action), meta())
            .await
            .unwrap();
    }

    async fn raise(
        &self,
        region: &str,
        category: NeedCategory,
        case_id: Option<Uuid>,
        description: &str,
        raised_on: NaiveDate,
    ) -> Uuid {
        let id = Uuid::now_v7();
        self.need(
            id,
            RaiseNeed {
                case_id,
                region_code: region.into(),
                category,
                description: description.into(),
                micro_wish: case_id.is_some(),
                urgency: NeedUrgency::Normal,
                source: NeedSource::HouseholdSurvey,
                raised_on,
            },
        )
        .await;
        id
    }

    async fn dispatch(&self, need: Uuid, organization: Uuid, on: NaiveDate, due: NaiveDate) {
        self.need(
            need,
            DispatchNeed {
                organization_id: organization,
                // Filled in by the application from the Organization.
                organization_active: false,
                due_on: due,
                dispatched_on: on,
                instructions: String::new(),
            },
        )
        .await;
    }

    async fn accept(&self, need: Uuid, organization: Uuid, on: NaiveDate) {
        self.need(
            need,
            AcceptNeed {
                acting_organization_id: organization,
                accepted_on: on,
            },
        )
        .await;
    }

    async fn fulfil(
        &self,
        need: Uuid,
        organization: Uuid,
        on: NaiveDate,
        minutes: u32,
        money_fen: i64,
        material_value_fen: i64,
    ) {
        self.need(
            need,
            FulfilNeed {
                acting_organization_id: organization,
                what_was_done: "已上门办理".into(),
                minutes,
                money_fen,
                material_value_fen,
                evidence: Vec::new(),
                fulfilled_on: on,
            },
        )
        .await;
    }

    async fn evaluate(&self, need: Uuid, satisfaction: u8, on: NaiveDate) {
        self.need(
            need,
            EvaluateNeed {
                satisfaction,
                words: "很满意".into(),
                evaluated_on: on,
            },
        )
        .await;
    }

    async fn escalate(
        &self,
        need: Uuid,
        to: EscalationLevel,
        department: Option<Department>,
        on: NaiveDate,
    ) {
        self.need(
            need,
            EscalateNeed {
                to,
                department,
                reason: "超出本级社会组织能力".into(),
                escalated_on: on,
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
    panic!("needs_ledger did not reach position {expected}");
}

async fn dump_all(db: &Database) -> Vec<Vec<String>> {
    let mut tables = Vec::new();
    for table in NeedsLedgerProjection.tables() {
        tables.push(dump_table(db, table).await.unwrap());
    }
    tables
}

fn need_ids(orders: &[Order]) -> Vec<Uuid> {
    orders.iter().map(|order| order.need_id).collect()
}

on_both_backends! {
    ledger_orders_escalations_and_satisfaction => ledger_orders_escalations_and_satisfaction;
}

async fn ledger_orders_escalations_and_satisfaction(url: &str) {
    let store = open_store(url).await;
    let county = County {
        app: Application::new(store.clone(), PointsPolicy::default()),
    };
    let projector = Projector::new(
        store.clone(),
        shouwang_projections::needs_ledger::projections(),
    );
    projector.prepare().await.unwrap();
    let db = store.database();

    let station = county
        .register("莲塘镇社工站", RegionLevel::Township, TOWNSHIP, 1)
        .await;
    let volunteers = county
        .register("南昌县志愿服务协会", RegionLevel::County, COUNTY, 2)
        .await;
    let suspended = county
        .register("向塘镇邻里互助会", RegionLevel::Township, OTHER_TOWNSHIP, 3)
        .await;
    county
        .organization(
            suspended,
            SuspendOrganization {
                reason: "年检未通过".into(),
                suspended_on: day(1),
            },
        )
        .await;

    // N1, a case's small wish: dispatched to the station due 10 June and
    // accepted, not yet met.
    let case_id = Uuid::now_v7();
    let n1 = county
        .raise(
            "360121100001",
            NeedCategory::Living,
            Some(case_id),
            "独居老人家中灯泡损坏",
            day(1),
        )
        .await;
    county.dispatch(n1, station, day(2), day(10)).await;
    county.accept(n1, station, day(3)).await;
    county
        .need(
            n1,
            RecordNeedProgress {
                acting_organization_id: station,
                note: "已采购灯具".into(),
                recorded_on: day(4),
            },
        )
        .await;
    // N2, a community need: the volunteers' association declines it.
    let n2 = county
        .raise(
            "360121100002",
            NeedCategory::Environment,
            None,
            "社区照明不足",
            day(1),
        )
        .await;
    county.dispatch(n2, volunteers, day(5), day(12)).await;
    county
        .need(
            n2,
            DeclineNeed {
                acting_organization_id: volunteers,
                reason: "本周人手不足".into(),
                declined_on: day(6),
            },
        )
        .await;
    catch_up(&projector).await;

    // The decline put N2 back on the county's ledger, with no organization.
    let ledger = township_ledger(db, &prefix(TOWNSHIP), today())
        .await
        .unwrap();
    let entry = ledger.needs.iter().find(|n| n.need_id == n2).unwrap();
    assert_eq!(entry.status, NeedStatus::OnLedger);
    assert_eq!(entry.organization_id, None);
    assert_eq!(entry.due_on, None);
    assert_eq!(entry.description.as_deref(), Some("社区照明不足"));
    let first = ledger.needs.iter().find(|n| n.need_id == n1).unwrap();
    assert_eq!(first.description, None, "a case's need is personal");
    assert_eq!(first.case_id, Some(case_id));
    assert_eq!(first.organization_name.as_deref(), Some("莲塘镇社工站"));

    // N2 goes to the station instead, due 30 June.
    county.dispatch(n2, station, day(7), day(30)).await;
    // N3 climbs to the city, then the province.
    let n3 = county
        .raise(
            "360121100003",
            NeedCategory::Medical,
            None,
            "村卫生室缺少轮椅",
            day(2),
        )
        .await;
    county
        .escalate(n3, EscalationLevel::City, None, day(5))
        .await;
    county
        .escalate(n3, EscalationLevel::Province, None, day(8))
        .await;
    // N4 is reported to the justice department.
    let n4 = county
        .raise(
            "360121100004",
            NeedCategory::Legal,
            None,
            "集体土地纠纷",
            day(3),
        )
        .await;
    county
        .escalate(
            n4,
            EscalationLevel::Government,
            Some(Department::Justice),
            day(4),
        )
        .await;
    // N5 is escalated to the city, which dispatches it to the volunteers:
    // met on 14 June (120 minutes, ¥200), evaluated 4.
    let n5 = county
        .raise(
            "360121100005",
            NeedCategory::Psychological,
            None,
            "社区需要心理讲座",
            day(3),
        )
        .await;
    county
        .escalate(n5, EscalationLevel::City, None, day(6))
        .await;
    county.dispatch(n5, volunteers, day(7), day(15)).await;
    county.accept(n5, volunteers, day(8)).await;
    county.fulfil(n5, volunteers, day(14), 120, 20_000, 0).await;
    county.evaluate(n5, 4, day(15)).await;
    // N6 is withdrawn.
    let n6 = county
        .raise(
            "360121100006",
            NeedCategory::Other,
            None,
            "健身器材维修",
            day(4),
        )
        .await;
    county
        .need(
            n6,
            WithdrawNeed {
                reason: "已由村委会自行解决".into(),
                withdrawn_on: day(5),
            },
        )
        .await;
    // N9: met by the station on 8 June (30 minutes, ¥50), evaluated 4.
    let n9 = county
        .raise(
            "360121100007",
            NeedCategory::Living,
            None,
            "楼道扶手松动",
            day(1),
        )
        .await;
    county.dispatch(n9, station, day(1), day(9)).await;
    county.accept(n9, station, day(2)).await;
    county.fulfil(n9, station, day(8), 30, 5_000, 0).await;
    county.evaluate(n9, 4, day(9)).await;
    // N10 waits on the ledger.
    let n10 = county
        .raise(
            "360121100008",
            NeedCategory::Education,
            None,
            "留守儿童课后辅导",
            day(10),
        )
        .await;
    // N7, in the other township: dispatched to the volunteers due 9 June,
    // never accepted.
    let n7 = county
        .raise(
            "360121101001",
            NeedCategory::Living,
            None,
            "老年食堂缺少餐桌",
            day(2),
        )
        .await;
    county.dispatch(n7, volunteers, day(3), day(9)).await;
    catch_up(&projector).await;

    // The township on 20 June: N1 accepted and 10 days overdue, N2
    // dispatched, N3 and N4 escalated, N5 and N9 evaluated, N6 withdrawn,
    // N10 on the ledger.
    let ledger = township_ledger(db, &prefix(TOWNSHIP), today())
        .await
        .unwrap();
    assert_eq!(ledger.total, 8);
    assert_eq!(ledger.micro_wishes, 1);
    let s = ledger.by_status;
    assert_eq!(
        (
            s.on_ledger,
            s.dispatched,
            s.accepted,
            s.fulfilled,
            s.evaluated,
            s.escalated,
            s.withdrawn
        ),
        (1, 1, 1, 0, 2, 2, 1)
    );
    assert_eq!(ledger.overdue, 1);
    assert_eq!(
        ledger
            .needs
            .iter()
            .find(|n| n.need_id == n1)
            .unwrap()
            .overdue_days,
        10
    );
    assert_eq!(
        ledger.needs.iter().find(|n| n.need_id == n3).unwrap().level,
        EscalationLevel::Province
    );
    assert!(ledger.needs.iter().any(|n| n.need_id == n10));
    // N3 to the city and the province, N5 to the city, N4 to the government.
    assert_eq!(
        ledger.escalations,
        EscalationCounts {
            to_city: 2,
            to_province: 1,
            to_government: 1,
        }
    );
    // N5 and N9: 150 minutes, ¥250.
    let f = ledger.fulfilment;
    assert_eq!(
        (f.needs, f.minutes, f.money_fen, f.material_value_fen),
        (2, 150, 25_000, 0)
    );
    assert_eq!(ledger.satisfaction.average_tenths, Some(40));

    // Overdue in the county: N7 (due 9 June, 11 days) before N1 (10 days).
    let overdue = overdue_orders(db, &prefix(COUNTY), today()).await.unwrap();
    assert_eq!(need_ids(&overdue), vec![n7, n1]);
    assert_eq!(
        overdue.iter().map(|o| o.overdue_days).collect::<Vec<_>>(),
        vec![11, 10]
    );
    assert_eq!(overdue[1].status, OrderStatus::Accepted);
    assert_eq!(overdue[1].last_progress_on, Some(day(4)));
    assert_eq!(
        need_ids(
            &overdue_orders(db, &prefix(TOWNSHIP), today())
                .await
                .unwrap()
        ),
        vec![n1]
    );
    // On 9 June, N7's due day, nothing is overdue yet.
    assert!(
        overdue_orders(db, &prefix(COUNTY), day(9))
            .await
            .unwrap()
            .is_empty()
    );

    // The volunteers' orders: N7 (open, overdue), N2 (declined), N5
    // (dispatched by the city, met, evaluated 4).
    let orders = organization_orders(db, volunteers, today()).await.unwrap();
    assert_eq!(need_ids(&orders), vec![n7, n2, n5]);
    assert_eq!(
        orders.iter().map(|o| o.status).collect::<Vec<_>>(),
        vec![
            OrderStatus::Dispatched,
            OrderStatus::Declined,
            OrderStatus::Fulfilled
        ]
    );
    assert_eq!(orders[1].declined_on, Some(day(6)));
    assert_eq!(orders[1].overdue_days, 0);
    assert_eq!(orders[2].dispatched_by, EscalationLevel::City);
    assert_eq!(orders[2].fulfilled_on, Some(day(14)));
    assert_eq!(orders[2].satisfaction, Some(4));
    assert_eq!((orders[2].minutes, orders[2].money_fen), (120, 20_000));
    assert_eq!(
        orders[0].organization_name.as_deref(),
        Some("南昌县志愿服务协会")
    );

    // Escalations in date order; each says whether the need still lies there.
    let escalated = escalations(db, &prefix(TOWNSHIP)).await.unwrap();
    assert_eq!(
        escalated
            .iter()
            .map(|e| (e.need_id, e.to, e.pending))
            .collect::<Vec<_>>(),
        vec![
            (n4, EscalationLevel::Government, true),
            (n3, EscalationLevel::City, false),
            (n5, EscalationLevel::City, false),
            (n3, EscalationLevel::Province, true),
        ]
    );
    assert_eq!(escalated[0].department, Some(Department::Justice));
    assert_eq!(escalated[3].from, EscalationLevel::City);
    assert!(
        escalations(db, &prefix(OTHER_TOWNSHIP))
            .await
            .unwrap()
            .is_empty()
    );

    // N1 is met on 20 June (90 minutes, goods worth ¥35) and rated 5.
    county.fulfil(n1, station, day(20), 90, 0, 3_500).await;
    catch_up(&projector).await;
    assert_eq!(
        need_ids(&overdue_orders(db, &prefix(COUNTY), today()).await.unwrap()),
        vec![n7],
        "a met order is no longer overdue"
    );
    county.evaluate(n1, 5, day(20)).await;
    catch_up(&projector).await;

    let ledger = township_ledger(db, &prefix(TOWNSHIP), today())
        .await
        .unwrap();
    assert_eq!(
        (
            ledger.by_status.accepted,
            ledger.by_status.evaluated,
            ledger.overdue
        ),
        (0, 3, 0)
    );
    let f = ledger.fulfilment;
    assert_eq!(
        (f.needs, f.minutes, f.money_fen, f.material_value_fen),
        (3, 240, 25_000, 3_500)
    );
    // Scores 5, 4 and 4: 13 / 3 = 4.33… → 43 tenths.
    let rated = satisfaction(db, &prefix(TOWNSHIP)).await.unwrap();
    assert_eq!(rated.evaluations, 3);
    assert_eq!(rated.average_tenths, Some(43));
    assert_eq!(rated.by_score, [0, 0, 0, 2, 1]);
    assert_eq!(ledger.satisfaction, rated);
    assert_eq!(
        satisfaction(db, &prefix(OTHER_TOWNSHIP))
            .await
            .unwrap()
            .average_tenths,
        None
    );

    // The station's orders: N9, N1, N2 by dispatch date.
    let orders = organization_orders(db, station, today()).await.unwrap();
    assert_eq!(need_ids(&orders), vec![n9, n1, n2]);
    assert_eq!(orders[1].satisfaction, Some(5));
    assert_eq!(orders[1].material_value_fen, 3_500);
    assert_eq!(orders[2].due_on, day(30));

    // 一社一单 at a glance, the suspended organization included.
    let overview = orders_by_organization(db, &prefix(COUNTY), today())
        .await
        .unwrap();
    let summary = |id: Uuid| overview.iter().find(|o| o.organization_id == id).unwrap();
    assert_eq!(overview.len(), 3);
    let s = summary(station);
    assert_eq!(
        (
            s.active,
            s.open_orders,
            s.overdue_orders,
            s.fulfilled_orders
        ),
        (true, 1, 0, 2)
    );
    let v = summary(volunteers);
    assert_eq!(
        (
            v.open_orders,
            v.overdue_orders,
            v.fulfilled_orders,
            v.declined_orders
        ),
        (1, 1, 1, 1)
    );
    assert!(!summary(suspended).active);

    // Nothing personal reached the tables, and a rebuild gives the same.
    let incremental = dump_all(db).await;
    for row in incremental.iter().flatten() {
        assert!(!row.contains("灯泡"), "a case's need description in {row}");
    }
    assert_eq!(
        incremental.iter().map(Vec::len).collect::<Vec<_>>(),
        vec![9, 6, 4, 3],
        "needs, orders, escalations, organizations"
    );
    rebuild(&store, &NeedsLedgerProjection, |_, _| {})
        .await
        .unwrap();
    assert_eq!(dump_all(db).await, incremental);
}
