//! 统计: the tables a bureau hands in and the figures behind its progress
//! reports.
//!
//! * **附件1 统计表 and 附件2 记录表**, from activities. Corrections
//!   (`ActivityCorrected`) are applied when reading: the activity's own events
//!   are kept in `statistics_activity_events`, and its row is recomputed from
//!   them, each corrected event read with its corrected fields.
//! * **Case-based figures** (受益人次, service time, money and material value,
//!   participating organizations) from `ServiceDelivered` and `VisitRecorded`,
//!   by care category × region × month × service type × action line. The fact
//!   table holds one row per (event position, category, service type), so
//!   every figure is traced back to the events behind it ([`trace`]).
//! * **Facts for evaluation reports** (`crate::evaluations`): needs and
//!   organizations, besides the two above.
//!
//! Fact rows are inserted, never updated, and carry the feed cursor (`txid`,
//! `position`) of their event: a report can recompute any earlier state by
//! reading only the facts up to a cut. Case state (categories, region) is
//! copied onto each fact as it stood when the event was recorded.
//!
//! Nothing personal is stored: projections read the feed with personal data
//! withheld. One consequence: a care-case `EntryCorrected` seals its
//! corrected fields as a whole, so the statistics cannot apply it; only
//! activity corrections change figures.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::num::NonZeroU64;
use std::str::FromStr;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Datelike, NaiveDate, NaiveDateTime};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use shouwang_domain::RegionPrefix;
use shouwang_domain::activity::{ActivityCorrected, ActivityEvent};
use shouwang_domain::care_case::CaseEvent;
use shouwang_domain::need::NeedEvent;
use shouwang_domain::organization::OrganizationEvent;
use shouwang_domain::vocabulary::{
    ActionLine, ActivityStatus, CareCategory, RegionLevel, ServiceType,
};
use shouwang_infrastructure::store::format_instant;
use shouwang_infrastructure::{Backend, Database, RecordedEvent, with_pool};
use sqlx::AssertSqlSafe;
use uuid::Uuid;

use crate::sql::{Arg, execute_rows, fetch_text_rows};
use crate::{Projection, ProjectionError, TableNames, Tx};

/// The projection's name: its checkpoint key and `shouwang rebuild statistics`.
pub const STATISTICS: &str = "statistics";

/// The projections this module keeps.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    vec![Arc::new(StatisticsProjection)]
}

/// Keeps the statistics tables.
#[derive(Debug, Clone, Copy, Default)]
pub struct StatisticsProjection;

const TABLES: &[&str] = &[
    "statistics_cases",
    "statistics_service_facts",
    "statistics_service_cells",
    "statistics_service_cell_members",
    "statistics_activity_events",
    "statistics_activities",
    "statistics_activity_participants",
    "statistics_activity_beneficiaries",
    "statistics_activity_evidence",
    "statistics_needs",
    "statistics_need_facts",
    "statistics_organizations",
];

const CREATE_TABLES: &[&str] = &[
    // Working state of each case, copied onto its facts. Not a fact itself.
    "CREATE TABLE {statistics_cases} (
        case_id         TEXT   PRIMARY KEY,
        region          TEXT   NOT NULL,
        categories      TEXT   NOT NULL,
        organization_id TEXT   NOT NULL)",
    "CREATE TABLE {statistics_service_facts} (
        position           BIGINT NOT NULL,
        txid               BIGINT NOT NULL,
        case_id            TEXT   NOT NULL,
        event_type         TEXT   NOT NULL,
        served_on          TEXT   NOT NULL,
        month              TEXT   NOT NULL,
        region             TEXT   NOT NULL,
        county             TEXT   NOT NULL,
        township           TEXT   NOT NULL,
        category           TEXT   NOT NULL,
        service_type       TEXT   NOT NULL,
        action_line        TEXT   NOT NULL,
        organization_id    TEXT   NOT NULL,
        volunteers         BIGINT NOT NULL,
        minutes            BIGINT NOT NULL,
        money_fen          BIGINT NOT NULL,
        material_value_fen BIGINT NOT NULL,
        recorded_at        TEXT   NOT NULL,
        PRIMARY KEY (position, category, service_type))",
    // Areas are found by a range of codes (`RegionPrefix::code_range`). The
    // key is the code alone: a batch appends a case's facts at the end of its
    // village's run, a few hundred pages a batch, where a (code, month) key
    // scattered them over every month.
    "CREATE INDEX {statistics_service_facts}_by_region ON {statistics_service_facts} (region)",
    "CREATE INDEX {statistics_service_facts}_by_served_on ON {statistics_service_facts} (served_on)",
    // The facts summed per county and per township (`level`), so an area's
    // figures read a few rows per month instead of every fact in it.
    "CREATE TABLE {statistics_service_cells} (
        level              TEXT   NOT NULL,
        region             TEXT   NOT NULL,
        month              TEXT   NOT NULL,
        category           TEXT   NOT NULL,
        service_type       TEXT   NOT NULL,
        action_line        TEXT   NOT NULL,
        person_times       BIGINT NOT NULL,
        persons            BIGINT NOT NULL,
        service_minutes    BIGINT NOT NULL,
        money_fen          BIGINT NOT NULL,
        material_value_fen BIGINT NOT NULL,
        organizations      BIGINT NOT NULL,
        PRIMARY KEY (level, region, month, category, service_type, action_line))",
    // Who a cell has counted: `c:` case or `o:` organization ids. A member is
    // new to its cell at most once, which is what keeps `persons` and
    // `organizations` distinct counts although facts only ever add. The key
    // leads with the member: a batch of the feed holds a few hundred cases'
    // events, so its rows land on a few hundred pages of the index, where a
    // cell-first key scattered them over every cell the batch touches (at a
    // million people, tens of thousands of pages written per batch).
    "CREATE TABLE {statistics_service_cell_members} (
        member TEXT NOT NULL,
        cell   TEXT NOT NULL,
        PRIMARY KEY (member, cell))",
    // Every event of every activity, as recorded: the activity rows below are
    // recomputed from it, and reports fold it as of their cut.
    "CREATE TABLE {statistics_activity_events} (
        activity_id    TEXT   NOT NULL,
        stream_version BIGINT NOT NULL,
        position       BIGINT NOT NULL,
        txid           BIGINT NOT NULL,
        event_type     TEXT   NOT NULL,
        payload        TEXT   NOT NULL,
        region         TEXT   NOT NULL,
        recorded_at    TEXT   NOT NULL,
        PRIMARY KEY (activity_id, stream_version))",
    "CREATE INDEX {statistics_activity_events}_by_region ON {statistics_activity_events} (region)",
    "CREATE TABLE {statistics_activities} (
        activity_id               TEXT   PRIMARY KEY,
        name                      TEXT   NOT NULL,
        organizer_name            TEXT   NOT NULL,
        organizer_organization_id TEXT   NOT NULL,
        action_line               TEXT   NOT NULL,
        region                    TEXT   NOT NULL,
        county                    TEXT   NOT NULL,
        region_level              TEXT   NOT NULL,
        place                     TEXT   NOT NULL,
        starts_at                 TEXT   NOT NULL,
        ends_at                   TEXT   NOT NULL,
        activity_date             TEXT   NOT NULL,
        leader                    TEXT   NOT NULL,
        status                    TEXT   NOT NULL,
        money_fen                 BIGINT NOT NULL,
        material_value_fen        BIGINT NOT NULL,
        person_times              BIGINT NOT NULL,
        persons                   BIGINT NOT NULL,
        service_minutes           BIGINT NOT NULL,
        participant_headcount     BIGINT NOT NULL,
        details                   TEXT   NOT NULL,
        corrections               BIGINT NOT NULL,
        last_position             BIGINT NOT NULL)",
    "CREATE INDEX {statistics_activities}_by_county ON {statistics_activities} (county, activity_date)",
    "CREATE TABLE {statistics_activity_participants} (
        activity_id       TEXT   NOT NULL,
        seq               BIGINT NOT NULL,
        organization_name TEXT   NOT NULL,
        organization_id   TEXT   NOT NULL,
        headcount         BIGINT NOT NULL,
        PRIMARY KEY (activity_id, organization_name))",
    "CREATE TABLE {statistics_activity_beneficiaries} (
        activity_id TEXT NOT NULL,
        case_id     TEXT NOT NULL,
        PRIMARY KEY (activity_id, case_id))",
    "CREATE TABLE {statistics_activity_evidence} (
        activity_id TEXT   NOT NULL,
        seq         BIGINT NOT NULL,
        sha256      TEXT   NOT NULL,
        media_type  TEXT   NOT NULL,
        size_bytes  BIGINT NOT NULL,
        file_name   TEXT   NOT NULL,
        PRIMARY KEY (activity_id, sha256))",
    // Working state of each need, copied onto its facts.
    "CREATE TABLE {statistics_needs} (
        need_id         TEXT PRIMARY KEY,
        region          TEXT NOT NULL,
        organization_id TEXT NOT NULL,
        due_on          TEXT NOT NULL,
        fulfilled_by    TEXT NOT NULL)",
    "CREATE TABLE {statistics_need_facts} (
        position           BIGINT PRIMARY KEY,
        txid               BIGINT NOT NULL,
        need_id            TEXT   NOT NULL,
        event_type         TEXT   NOT NULL,
        region             TEXT   NOT NULL,
        county             TEXT   NOT NULL,
        township           TEXT   NOT NULL,
        category           TEXT   NOT NULL,
        micro_wish         BIGINT NOT NULL,
        organization_id    TEXT   NOT NULL,
        event_on           TEXT   NOT NULL,
        due_on             TEXT   NOT NULL,
        on_time            BIGINT NOT NULL,
        satisfaction       BIGINT NOT NULL,
        minutes            BIGINT NOT NULL,
        money_fen          BIGINT NOT NULL,
        material_value_fen BIGINT NOT NULL,
        recorded_at        TEXT   NOT NULL)",
    "CREATE INDEX {statistics_need_facts}_by_county ON {statistics_need_facts} (county)",
    "CREATE INDEX {statistics_need_facts}_by_need ON {statistics_need_facts} (need_id)",
    "CREATE TABLE {statistics_organizations} (
        organization_id TEXT   PRIMARY KEY,
        name            TEXT   NOT NULL,
        kind            TEXT   NOT NULL,
        region          TEXT   NOT NULL,
        position        BIGINT NOT NULL,
        txid            BIGINT NOT NULL)",
];

#[async_trait]
impl Projection for StatisticsProjection {
    fn name(&self) -> &'static str {
        STATISTICS
    }

    fn version(&self) -> i32 {
        // 2: the service cells; 3: their members keyed member first; 4: the
        // facts indexed by region code instead of county and township.
        4
    }

    fn tables(&self) -> &'static [&'static str] {
        TABLES
    }

    fn create_tables(&self, backend: Backend, names: &TableNames) -> Vec<String> {
        CREATE_TABLES
            .iter()
            .map(|sql| {
                let sql = names.render(sql);
                // The members are nothing but their key: on SQLite the key's
                // index is then the whole table, half the size and writes.
                if backend == Backend::Sqlite
                    && sql.contains(names.get("statistics_service_cell_members"))
                {
                    format!("{sql} WITHOUT ROWID")
                } else {
                    sql
                }
            })
            .collect()
    }

    async fn apply(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.stream_type.as_str() {
            "care_case" => apply_case_events(tx, names, &[event]).await,
            "activity" => apply_activity_event(tx, names, event).await,
            "need" => apply_need_event(tx, names, event).await,
            "organization" => apply_organization_event(tx, names, event).await,
            _ => Ok(()),
        }
    }

    /// Care-case events — most of the feed — are folded in memory over the
    /// batch (their tables are touched by nothing else); the others are
    /// applied one by one.
    async fn apply_batch(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        let (cases, others): (Vec<&RecordedEvent>, Vec<&RecordedEvent>) = events
            .iter()
            .partition(|event| event.stream_type == "care_case");
        apply_case_events(tx, names, &cases).await?;
        for event in others {
            self.apply(tx, names, event)
                .await
                .map_err(|error| ProjectionError::at(self.name(), event, error))?;
        }
        Ok(())
    }
}

// ---------------------------------------------------------------------------
// Care cases: services and visits.

const CASE_EVENTS_USED: &[&str] = &[
    "CaseOpened",
    "CategoriesChanged",
    "CaseTransferred",
    "ServiceDelivered",
    "VisitRecorded",
];

const INSERT_SERVICE_FACTS: &str = "INSERT INTO {statistics_service_facts} (position, txid, case_id, \
     event_type, served_on, month, region, county, township, category, service_type, action_line, \
     organization_id, volunteers, minutes, money_fen, material_value_fen, recorded_at)";

/// A case as the statistics know it.
#[derive(Debug, Clone)]
struct CaseState {
    region: String,
    categories: BTreeSet<CareCategory>,
    organization_id: String,
}

/// Categories are stored as their codes, comma-separated, in vocabulary order.
fn category_codes(categories: &BTreeSet<CareCategory>) -> String {
    categories
        .iter()
        .map(CareCategory::code)
        .collect::<Vec<_>>()
        .join(",")
}

fn parse_categories(codes: &str) -> BTreeSet<CareCategory> {
    codes
        .split(',')
        .filter_map(CareCategory::from_code)
        .collect()
}

const UPSERT_CASES_HEAD: &str =
    "INSERT INTO {statistics_cases} (case_id, region, categories, organization_id)";
const UPSERT_CASES_TAIL: &str = "ON CONFLICT (case_id) DO UPDATE SET region = excluded.region, \
     categories = excluded.categories, organization_id = excluded.organization_id";

/// Reads the stored state of `case_ids` (at most a few thousand per
/// statement).
async fn load_cases(
    tx: &mut Tx<'_>,
    names: &TableNames,
    case_ids: &BTreeSet<&str>,
) -> Result<HashMap<String, CaseState>, ProjectionError> {
    let ids: Vec<&str> = case_ids.iter().copied().collect();
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(5_000) {
        let placeholders = crate::sql::placeholders(tx, chunk.len());
        let sql = names.render(&format!(
            "SELECT case_id, region, categories, organization_id FROM {{statistics_cases}} \
             WHERE case_id IN ({placeholders})"
        ));
        let rows: Vec<(String, String, String, String)> = crate::with_tx!(tx, conn => {
            let mut query = sqlx::query_as(AssertSqlSafe(sql)).persistent(false);
            for id in chunk {
                query = query.bind(*id);
            }
            query.fetch_all(&mut *conn).await?
        });
        for (case_id, region, categories, organization_id) in rows {
            found.insert(
                case_id,
                CaseState {
                    region,
                    categories: parse_categories(&categories),
                    organization_id,
                },
            );
        }
    }
    Ok(found)
}

/// One service or visit, before it is spread over categories and types.
struct ServiceFact<'a> {
    event_type: &'a str,
    served_on: NaiveDate,
    service_types: BTreeSet<ServiceType>,
    action_line: Option<ActionLine>,
    organization_id: String,
    volunteers: i64,
    minutes: i64,
    money_fen: i64,
    material_value_fen: i64,
}

/// What a batch of care-case events adds: fact rows, and the same facts
/// summed per cell.
#[derive(Default)]
struct ServiceFacts {
    rows: Vec<Vec<Arg>>,
    cells: BTreeMap<String, Cell>,
    /// `(member, cell)` pairs seen in the batch, in the members table's key
    /// order; which are new to their cell is decided by that table.
    members: BTreeSet<(String, String)>,
}

/// One row of `statistics_service_cells`, or what a batch adds to it.
#[derive(Debug, Default)]
struct Cell {
    level: &'static str,
    region: String,
    month: String,
    category: &'static str,
    service_type: &'static str,
    action_line: &'static str,
    person_times: i64,
    persons: i64,
    service_minutes: i64,
    money_fen: i64,
    material_value_fen: i64,
    organizations: i64,
}

const CELL_LEVELS: [(&str, usize); 2] = [("county", 6), ("township", 9)];
const CASE_MEMBER: &str = "c:";
const ORGANIZATION_MEMBER: &str = "o:";

impl ServiceFacts {
    /// Counts one fact row in its county cell and its township cell.
    #[allow(clippy::too_many_arguments)]
    fn add_to_cells(
        &mut self,
        region: &str,
        month: &str,
        category: CareCategory,
        service_type: ServiceType,
        action_line: Option<ActionLine>,
        case_id: &str,
        fact: &ServiceFact<'_>,
    ) {
        let action_line = action_line.map(|a| a.code()).unwrap_or_default();
        for (level, digits) in CELL_LEVELS {
            let area = prefix_of(region, digits);
            let key = format!(
                "{level}|{area}|{month}|{}|{}|{action_line}",
                category.code(),
                service_type.code()
            );
            let cell = self.cells.entry(key.clone()).or_insert_with(|| Cell {
                level,
                region: area.to_owned(),
                month: month.to_owned(),
                category: category.code(),
                service_type: service_type.code(),
                action_line,
                ..Cell::default()
            });
            cell.person_times += 1;
            cell.service_minutes += fact.minutes;
            cell.money_fen += fact.money_fen;
            cell.material_value_fen += fact.material_value_fen;
            if !fact.organization_id.is_empty() {
                self.members.insert((
                    format!("{ORGANIZATION_MEMBER}{}", fact.organization_id),
                    key.clone(),
                ));
            }
            self.members
                .insert((format!("{CASE_MEMBER}{case_id}"), key));
        }
    }
}

const INSERT_CELL_MEMBERS: &str = "INSERT INTO {statistics_service_cell_members} (member, cell)";
const INSERT_CELL_MEMBERS_TAIL: &str = "ON CONFLICT DO NOTHING RETURNING member, cell";
const UPSERT_CELLS: &str = "INSERT INTO {statistics_service_cells} (level, region, month, \
     category, service_type, action_line, person_times, persons, service_minutes, money_fen, \
     material_value_fen, organizations)";
const UPSERT_CELLS_TAIL: &str = "ON CONFLICT (level, region, month, category, service_type, action_line) DO UPDATE SET \
     person_times = {statistics_service_cells}.person_times + excluded.person_times, \
     persons = {statistics_service_cells}.persons + excluded.persons, \
     service_minutes = {statistics_service_cells}.service_minutes + excluded.service_minutes, \
     money_fen = {statistics_service_cells}.money_fen + excluded.money_fen, \
     material_value_fen = {statistics_service_cells}.material_value_fen + excluded.material_value_fen, \
     organizations = {statistics_service_cells}.organizations + excluded.organizations";

/// Writes a batch's facts and adds them to their cells: members new to a
/// cell (returned by the insert that ignores known ones) count once.
async fn write_service_facts(
    tx: &mut Tx<'_>,
    names: &TableNames,
    facts: ServiceFacts,
) -> Result<(), ProjectionError> {
    let ServiceFacts {
        rows,
        mut cells,
        members,
    } = facts;
    execute_rows(tx, &names.render(INSERT_SERVICE_FACTS), "", rows).await?;
    let members = members
        .into_iter()
        .map(|(member, cell)| vec![Arg::Text(Some(member)), Arg::Text(Some(cell))])
        .collect();
    let new_members = fetch_text_rows(
        tx,
        &names.render(INSERT_CELL_MEMBERS),
        INSERT_CELL_MEMBERS_TAIL,
        members,
    )
    .await?;
    for returned in new_members {
        let [member, cell] = returned.as_slice() else {
            return Err(ProjectionError::decode("统计单元成员的返回列数不对"));
        };
        let Some(cell) = cells.get_mut(cell) else {
            return Err(ProjectionError::decode(format!(
                "统计单元 {cell} 不在本批次中"
            )));
        };
        if member.starts_with(CASE_MEMBER) {
            cell.persons += 1;
        } else {
            cell.organizations += 1;
        }
    }
    let text = |value: &str| Arg::Text(Some(value.to_owned()));
    let int = |value: i64| Arg::Int(Some(value));
    let rows = cells
        .into_values()
        .map(|cell| {
            vec![
                text(cell.level),
                text(&cell.region),
                text(&cell.month),
                text(cell.category),
                text(cell.service_type),
                text(cell.action_line),
                int(cell.person_times),
                int(cell.persons),
                int(cell.service_minutes),
                int(cell.money_fen),
                int(cell.material_value_fen),
                int(cell.organizations),
            ]
        })
        .collect();
    execute_rows(
        tx,
        &names.render(UPSERT_CELLS),
        &names.render(UPSERT_CELLS_TAIL),
        rows,
    )
    .await
}

fn service_fact_rows(
    event: &RecordedEvent,
    case: &CaseState,
    fact: ServiceFact<'_>,
    facts: &mut ServiceFacts,
) -> Result<(), ProjectionError> {
    if case.categories.is_empty() {
        return Err(ProjectionError::decode(format!(
            "关爱档案 {} 没有关爱对象类别，无法统计",
            event.stream_id
        )));
    }
    let served_on = fact.served_on.to_string();
    let month = Month::of(fact.served_on).to_string();
    let county = prefix_of(&case.region, 6);
    let township = prefix_of(&case.region, 9);
    let action_line = fact.action_line.map(|a| a.code()).unwrap_or_default();
    let recorded_at = format_instant(event.recorded_at);
    let text = |value: &str| Arg::Text(Some(value.to_owned()));
    let int = |value: i64| Arg::Int(Some(value));
    for category in &case.categories {
        for service_type in &fact.service_types {
            facts.add_to_cells(
                &case.region,
                &month,
                *category,
                *service_type,
                fact.action_line,
                &event.stream_id,
                &fact,
            );
            facts.rows.push(vec![
                int(event.position),
                int(event.txid),
                text(&event.stream_id),
                text(fact.event_type),
                text(&served_on),
                text(&month),
                text(&case.region),
                text(county),
                text(township),
                text(category.code()),
                text(service_type.code()),
                text(action_line),
                text(&fact.organization_id),
                int(fact.volunteers),
                int(fact.minutes),
                int(fact.money_fen),
                int(fact.material_value_fen),
                text(&recorded_at),
            ]);
        }
    }
    Ok(())
}

fn prefix_of(region: &str, digits: usize) -> &str {
    region.get(..digits).unwrap_or(region)
}

fn optional_id(id: Option<Uuid>) -> String {
    id.map(|id| id.to_string()).unwrap_or_default()
}

/// Applies care-case events in feed order: the cases they touch are read in
/// one statement, changed in memory, and written back with the facts in a
/// few multi-row statements.
async fn apply_case_events(
    tx: &mut Tx<'_>,
    names: &TableNames,
    events: &[&RecordedEvent],
) -> Result<(), ProjectionError> {
    let used: Vec<&RecordedEvent> = events
        .iter()
        .copied()
        .filter(|event| CASE_EVENTS_USED.contains(&event.event_type.as_str()))
        .collect();
    if used.is_empty() {
        return Ok(());
    }
    let ids: BTreeSet<&str> = used.iter().map(|event| event.stream_id.as_str()).collect();
    let mut cases = load_cases(tx, names, &ids).await?;
    let mut changed = BTreeSet::new();
    let mut facts = ServiceFacts::default();
    for event in used {
        fold_case_event(event, &mut cases, &mut changed, &mut facts)
            .map_err(|error| ProjectionError::at(STATISTICS, event, error))?;
    }
    let rows: Vec<Vec<Arg>> = changed
        .into_iter()
        .filter_map(|case_id| {
            let case = cases.get(&case_id)?;
            Some(vec![
                Arg::Text(Some(case_id.clone())),
                Arg::Text(Some(case.region.clone())),
                Arg::Text(Some(category_codes(&case.categories))),
                Arg::Text(Some(case.organization_id.clone())),
            ])
        })
        .collect();
    execute_rows(
        tx,
        &names.render(UPSERT_CASES_HEAD),
        &names.render(UPSERT_CASES_TAIL),
        rows,
    )
    .await?;
    write_service_facts(tx, names, facts).await
}

fn fold_case_event(
    event: &RecordedEvent,
    cases: &mut HashMap<String, CaseState>,
    changed: &mut BTreeSet<String>,
    facts: &mut ServiceFacts,
) -> Result<(), ProjectionError> {
    let case_id = event.stream_id.as_str();
    let decoded = event
        .decode::<CaseEvent>()
        .map_err(ProjectionError::decode)?;
    if let CaseEvent::CaseOpened(opened) = decoded {
        let case = CaseState {
            region: opened.residence_region.as_str().to_owned(),
            categories: opened.categories.into_iter().collect(),
            organization_id: optional_id(opened.organization_id),
        };
        cases.insert(case_id.to_owned(), case);
        changed.insert(case_id.to_owned());
        return Ok(());
    }
    let case = cases.get_mut(case_id).ok_or_else(|| {
        ProjectionError::decode(format!("关爱档案 {case_id} 在统计中不存在（没有建档事件）"))
    })?;
    match decoded {
        CaseEvent::CategoriesChanged(changes) => {
            for removed in &changes.removed {
                case.categories.remove(removed);
            }
            case.categories.extend(changes.added);
            changed.insert(case_id.to_owned());
        }
        CaseEvent::CaseTransferred(transferred) => {
            case.region = transferred.to_region.as_str().to_owned();
            case.organization_id = optional_id(transferred.to_organization_id);
            changed.insert(case_id.to_owned());
        }
        CaseEvent::ServiceDelivered(service) => {
            let fact = ServiceFact {
                event_type: "ServiceDelivered",
                served_on: service.delivered_on,
                service_types: service.service_types.into_iter().collect(),
                action_line: service.action_line,
                organization_id: service.provider_organization_id.to_string(),
                volunteers: i64::from(service.volunteers),
                minutes: i64::from(service.minutes),
                money_fen: service.money_fen,
                material_value_fen: service.material_value_fen,
            };
            service_fact_rows(event, case, fact, facts)?;
        }
        CaseEvent::VisitRecorded(visit) => {
            // A visit is 居家探视巡访 by whoever looks after the case.
            let fact = ServiceFact {
                event_type: "VisitRecorded",
                served_on: visit.visited_on,
                service_types: BTreeSet::from([ServiceType::HomeVisiting]),
                action_line: None,
                organization_id: case.organization_id.clone(),
                volunteers: 0,
                minutes: i64::from(visit.minutes),
                money_fen: 0,
                material_value_fen: 0,
            };
            service_fact_rows(event, case, fact, facts)?;
        }
        _ => {}
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Activities: 附件1 and 附件2.

const INSERT_ACTIVITY_EVENT: &str = "INSERT INTO {statistics_activity_events} (activity_id, stream_version, \
     position, txid, event_type, payload, region, recorded_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)";
const SELECT_ACTIVITY_EVENTS: &str = "SELECT stream_version, position, txid, event_type, payload, recorded_at \
     FROM {statistics_activity_events} WHERE activity_id = $1 ORDER BY stream_version";
const DELETE_ACTIVITY: &str = "DELETE FROM {statistics_activities} WHERE activity_id = $1";
const DELETE_PARTICIPANTS: &str =
    "DELETE FROM {statistics_activity_participants} WHERE activity_id = $1";
const DELETE_BENEFICIARIES: &str =
    "DELETE FROM {statistics_activity_beneficiaries} WHERE activity_id = $1";
const DELETE_EVIDENCE: &str = "DELETE FROM {statistics_activity_evidence} WHERE activity_id = $1";
const INSERT_ACTIVITY: &str = "INSERT INTO {statistics_activities} (activity_id, name, organizer_name, \
     organizer_organization_id, action_line, region, county, region_level, place, starts_at, ends_at, \
     activity_date, leader, status, money_fen, material_value_fen, person_times, persons, service_minutes, \
     participant_headcount, details, corrections, last_position) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, $21, $22, $23)";
const INSERT_PARTICIPANT: &str = "INSERT INTO {statistics_activity_participants} (activity_id, seq, \
     organization_name, organization_id, headcount) VALUES ($1, $2, $3, $4, $5)";
const INSERT_BENEFICIARY: &str =
    "INSERT INTO {statistics_activity_beneficiaries} (activity_id, case_id) VALUES ($1, $2)";
const INSERT_EVIDENCE: &str = "INSERT INTO {statistics_activity_evidence} (activity_id, seq, sha256, \
     media_type, size_bytes, file_name) VALUES ($1, $2, $3, $4, $5, $6)";

/// One stored event of an activity.
#[derive(Debug, Clone, sqlx::FromRow)]
pub(crate) struct LoggedActivityEvent {
    pub stream_version: i64,
    pub position: i64,
    pub txid: i64,
    pub event_type: String,
    pub payload: String,
    pub recorded_at: String,
}

/// The region an activity event places the activity in, if it names one:
/// reports look activities up by every region they were ever placed in, so a
/// correction that moves an activity is still found.
fn region_named_by(event: &RecordedEvent) -> String {
    let region = match event.event_type.as_str() {
        "ActivityPlanned" => event.payload.get("region"),
        "ActivityCorrected" => event
            .payload
            .get("corrected_fields")
            .and_then(|fields| fields.get("region")),
        _ => None,
    };
    region
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned()
}

async fn apply_activity_event(
    tx: &mut Tx<'_>,
    names: &TableNames,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let activity_id = event.stream_id.as_str();
    let payload = serde_json::to_string(&event.payload).map_err(ProjectionError::decode)?;
    let version = i64::try_from(event.stream_version).map_err(ProjectionError::decode)?;
    let region = region_named_by(event);
    let recorded_at = format_instant(event.recorded_at);
    let logged: Vec<LoggedActivityEvent> = crate::with_tx!(tx, conn => {
        sqlx::query(names.sql(INSERT_ACTIVITY_EVENT))
            .bind(activity_id)
            .bind(version)
            .bind(event.position)
            .bind(event.txid)
            .bind(&event.event_type)
            .bind(&payload)
            .bind(&region)
            .bind(&recorded_at)
            .execute(&mut *conn)
            .await?;
        sqlx::query_as(names.sql(SELECT_ACTIVITY_EVENTS))
            .bind(activity_id)
            .fetch_all(&mut *conn)
            .await?
    });
    let record = fold_activity(activity_id, &logged)?;
    crate::with_tx!(tx, conn => {
        for statement in [DELETE_ACTIVITY, DELETE_PARTICIPANTS, DELETE_BENEFICIARIES, DELETE_EVIDENCE] {
            sqlx::query(names.sql(statement))
                .bind(activity_id)
                .execute(&mut *conn)
                .await?;
        }
        if let Some(record) = &record {
            let starts_at = record.starts_at.format(STORED_DATETIME).to_string();
            let ends_at = record.ends_at.format(STORED_DATETIME).to_string();
            sqlx::query(names.sql(INSERT_ACTIVITY))
                .bind(activity_id)
                .bind(&record.name)
                .bind(&record.organizer_name)
                .bind(optional_id(record.organizer_organization_id))
                .bind(record.action_line.map(|a| a.code()).unwrap_or_default())
                .bind(&record.region)
                .bind(prefix_of(&record.region, 6))
                .bind(record.region_level.code())
                .bind(&record.place)
                .bind(&starts_at)
                .bind(&ends_at)
                .bind(record.starts_at.date().to_string())
                .bind(&record.leader)
                .bind(record.status.code())
                .bind(record.money_fen)
                .bind(record.material_value_fen)
                .bind(i64::from(record.person_times))
                .bind(i64::from(record.persons))
                .bind(i64::from(record.service_minutes))
                .bind(record.participant_headcount())
                .bind(&record.details)
                .bind(i64::from(record.corrections))
                .bind(record.last_position)
                .execute(&mut *conn)
                .await?;
            for (seq, participant) in (1_i64..).zip(&record.participants) {
                sqlx::query(names.sql(INSERT_PARTICIPANT))
                    .bind(activity_id)
                    .bind(seq)
                    .bind(&participant.name)
                    .bind(optional_id(participant.organization_id))
                    .bind(i64::from(participant.headcount))
                    .execute(&mut *conn)
                    .await?;
            }
            for case_id in &record.linked_case_ids {
                sqlx::query(names.sql(INSERT_BENEFICIARY))
                    .bind(activity_id)
                    .bind(case_id.to_string())
                    .execute(&mut *conn)
                    .await?;
            }
            for (seq, image) in (1_i64..).zip(&record.evidence) {
                sqlx::query(names.sql(INSERT_EVIDENCE))
                    .bind(activity_id)
                    .bind(seq)
                    .bind(&image.sha256)
                    .bind(&image.media_type)
                    .bind(i64::try_from(image.size_bytes).unwrap_or(i64::MAX))
                    .bind(&image.file_name)
                    .execute(&mut *conn)
                    .await?;
            }
        }
    });
    Ok(())
}

const STORED_DATETIME: &str = "%Y-%m-%dT%H:%M:%S";

/// An activity as its events say, corrections applied.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ActivityRecord {
    pub name: String,
    pub organizer_name: String,
    pub organizer_organization_id: Option<Uuid>,
    pub action_line: Option<ActionLine>,
    pub region: String,
    pub region_level: RegionLevel,
    pub place: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    pub leader: String,
    pub status: ActivityStatus,
    pub participants: Vec<ParticipantRecord>,
    pub money_fen: i64,
    pub material_value_fen: i64,
    pub person_times: u32,
    pub persons: u32,
    pub linked_case_ids: Vec<Uuid>,
    pub service_minutes: u32,
    pub details: String,
    pub evidence: Vec<EvidenceRecord>,
    /// How many corrections were applied.
    pub corrections: u32,
    pub last_position: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct ParticipantRecord {
    pub name: String,
    pub organization_id: Option<Uuid>,
    pub headcount: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct EvidenceRecord {
    pub sha256: String,
    pub media_type: String,
    pub size_bytes: u64,
    pub file_name: String,
}

impl ActivityRecord {
    pub fn participant_headcount(&self) -> i64 {
        self.participants
            .iter()
            .map(|p| i64::from(p.headcount))
            .sum()
    }

    fn apply(&mut self, event: ActivityEvent) {
        match event {
            ActivityEvent::ActivityPlanned(planned) => {
                self.name = planned.name;
                self.organizer_name = planned.organizer_name;
                self.organizer_organization_id = planned.organizer_organization_id;
                self.action_line = planned.action_line;
                self.region = planned.region.as_str().to_owned();
                self.region_level = planned.region_level;
                self.place = planned.place;
                self.starts_at = planned.starts_at;
                self.ends_at = planned.ends_at;
                self.leader = planned.leader;
            }
            ActivityEvent::ParticipantAdded(added) => {
                self.participants
                    .retain(|p| p.name != added.organization_name);
                self.participants.push(ParticipantRecord {
                    name: added.organization_name,
                    organization_id: added.organization_id,
                    headcount: added.headcount,
                });
            }
            ActivityEvent::ParticipantHeadcountUpdated(updated) => {
                for participant in &mut self.participants {
                    if participant.name == updated.organization_name {
                        participant.headcount = updated.headcount;
                    }
                }
            }
            ActivityEvent::ParticipantRemoved(removed) => {
                self.participants
                    .retain(|p| p.name != removed.organization_name);
            }
            ActivityEvent::FundsRecorded(funds) => {
                self.money_fen = self.money_fen.saturating_add(funds.money_fen);
                self.material_value_fen = self
                    .material_value_fen
                    .saturating_add(funds.material_value_fen);
            }
            ActivityEvent::BeneficiariesRecorded(beneficiaries) => {
                self.person_times = beneficiaries.person_times;
                self.persons = beneficiaries.persons;
                self.linked_case_ids = beneficiaries.linked_case_ids;
            }
            ActivityEvent::ServiceTimeRecorded(time) => self.service_minutes = time.minutes,
            ActivityEvent::DetailsWritten(details) => self.details = details.details,
            ActivityEvent::EvidenceAttached(image) => {
                self.evidence.push(EvidenceRecord {
                    sha256: image.sha256.as_str().to_owned(),
                    media_type: image.media_type.as_str().to_owned(),
                    size_bytes: image.size_bytes,
                    file_name: image.file_name,
                });
            }
            ActivityEvent::EvidenceRemoved(removed) => {
                self.evidence
                    .retain(|image| image.sha256 != removed.sha256.as_str());
            }
            ActivityEvent::ActivityCompleted(completed) => {
                self.status = ActivityStatus::Completed;
                self.starts_at = completed.actual_starts_at;
                self.ends_at = completed.actual_ends_at;
                self.person_times = completed.person_times;
                self.persons = completed.persons;
                self.service_minutes = completed.service_minutes;
            }
            ActivityEvent::ActivityCancelled(_) => self.status = ActivityStatus::Cancelled,
            ActivityEvent::ActivityCorrected(_) => {}
        }
    }
}

fn decode_activity_event(event_type: &str, payload: Value) -> Result<ActivityEvent, String> {
    let tagged = match payload {
        Value::Null => Value::String(event_type.to_owned()),
        inner => Value::Object(Map::from_iter([(event_type.to_owned(), inner)])),
    };
    serde_json::from_value(tagged).map_err(|error| format!("{event_type}: {error}"))
}

/// Folds an activity's stored events (in stream order) into its record,
/// reading each corrected event with its corrected fields.
///
/// Corrections apply in the order they were recorded, so a later correction
/// of the same field wins. A correction whose fields would make the event
/// unreadable (a wrong type, say) is left out rather than stopping the
/// statistics; it is not counted in [`ActivityRecord::corrections`].
pub(crate) fn fold_activity(
    activity_id: &str,
    logged: &[LoggedActivityEvent],
) -> Result<Option<ActivityRecord>, ProjectionError> {
    let mut payloads: BTreeMap<i64, (&str, Value)> = BTreeMap::new();
    for event in logged {
        let payload: Value = serde_json::from_str(&event.payload).map_err(|error| {
            ProjectionError::decode(format!(
                "活动 {activity_id} 第 {} 条记录无法解析：{error}",
                event.stream_version
            ))
        })?;
        payloads.insert(event.stream_version, (event.event_type.as_str(), payload));
    }
    let mut corrections = 0_u32;
    let correction_versions: Vec<i64> = payloads
        .iter()
        .filter(|(_, (event_type, _))| *event_type == "ActivityCorrected")
        .map(|(version, _)| *version)
        .collect();
    for version in correction_versions {
        let Some((_, payload)) = payloads.get(&version) else {
            continue;
        };
        let Ok(correction) = serde_json::from_value::<ActivityCorrected>(payload.clone()) else {
            continue;
        };
        let Ok(target) = i64::try_from(correction.corrected_version) else {
            continue;
        };
        let Some((target_type, target_payload)) = payloads.get(&target) else {
            continue;
        };
        if target >= version || *target_type == "ActivityCorrected" {
            continue;
        }
        let mut patched = target_payload.clone();
        if let Value::Object(fields) = &mut patched {
            for (field, value) in correction.corrected_fields {
                fields.insert(field, value);
            }
        }
        if decode_activity_event(target_type, patched.clone()).is_ok() {
            let target_type = *target_type;
            payloads.insert(target, (target_type, patched));
            corrections += 1;
        }
    }

    let mut record: Option<ActivityRecord> = None;
    let mut last_position = 0;
    for event in logged {
        last_position = last_position.max(event.position);
        let Some((event_type, payload)) = payloads.remove(&event.stream_version) else {
            continue;
        };
        let decoded = decode_activity_event(event_type, payload).map_err(|error| {
            ProjectionError::decode(format!("活动 {activity_id} 的记录无法解析：{error}"))
        })?;
        match (&mut record, decoded) {
            (None, ActivityEvent::ActivityPlanned(planned)) => {
                record = Some(ActivityRecord {
                    name: planned.name,
                    organizer_name: planned.organizer_name,
                    organizer_organization_id: planned.organizer_organization_id,
                    action_line: planned.action_line,
                    region: planned.region.as_str().to_owned(),
                    region_level: planned.region_level,
                    place: planned.place,
                    starts_at: planned.starts_at,
                    ends_at: planned.ends_at,
                    leader: planned.leader,
                    status: ActivityStatus::Planned,
                    participants: Vec::new(),
                    money_fen: 0,
                    material_value_fen: 0,
                    person_times: 0,
                    persons: 0,
                    linked_case_ids: Vec::new(),
                    service_minutes: 0,
                    details: String::new(),
                    evidence: Vec::new(),
                    corrections: 0,
                    last_position: 0,
                });
            }
            (Some(existing), decoded) => existing.apply(decoded),
            (None, _) => {}
        }
    }
    Ok(record.map(|mut record| {
        record.corrections = corrections;
        record.last_position = last_position;
        record
    }))
}

// ---------------------------------------------------------------------------
// Needs.

const UPSERT_NEED: &str = "INSERT INTO {statistics_needs} (need_id, region, organization_id, due_on, fulfilled_by) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (need_id) DO UPDATE SET region = excluded.region, \
     organization_id = excluded.organization_id, due_on = excluded.due_on, fulfilled_by = excluded.fulfilled_by";
const SELECT_NEED: &str = "SELECT region, organization_id, due_on, fulfilled_by FROM {statistics_needs} WHERE need_id = $1";
const INSERT_NEED_FACT: &str = "INSERT INTO {statistics_need_facts} (position, txid, need_id, event_type, \
     region, county, township, category, micro_wish, organization_id, event_on, due_on, on_time, \
     satisfaction, minutes, money_fen, material_value_fen, recorded_at) \
     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)";

#[derive(Debug, Default)]
struct NeedState {
    region: String,
    organization_id: String,
    due_on: String,
    fulfilled_by: String,
}

/// One need event as a fact row.
#[derive(Debug, Default)]
struct NeedFact {
    category: String,
    micro_wish: bool,
    organization_id: String,
    event_on: String,
    on_time: bool,
    satisfaction: i64,
    minutes: i64,
    money_fen: i64,
    material_value_fen: i64,
}

async fn apply_need_event(
    tx: &mut Tx<'_>,
    names: &TableNames,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let need_id = event.stream_id.as_str();
    let decoded = event
        .decode::<NeedEvent>()
        .map_err(ProjectionError::decode)?;
    let mut state = if let NeedEvent::NeedRaised(raised) = &decoded {
        NeedState {
            region: raised.region.as_str().to_owned(),
            ..NeedState::default()
        }
    } else {
        let row: Option<(String, String, String, String)> = crate::with_tx!(tx, conn => {
            sqlx::query_as(names.sql(SELECT_NEED))
                .bind(need_id)
                .fetch_optional(&mut *conn)
                .await?
        });
        let (region, organization_id, due_on, fulfilled_by) = row.ok_or_else(|| {
            ProjectionError::decode(format!("需求 {need_id} 在统计中不存在（没有登记事件）"))
        })?;
        NeedState {
            region,
            organization_id,
            due_on,
            fulfilled_by,
        }
    };
    let fact = match decoded {
        NeedEvent::NeedRaised(raised) => NeedFact {
            category: raised.category.code().to_owned(),
            micro_wish: raised.micro_wish,
            event_on: raised.raised_on.to_string(),
            ..NeedFact::default()
        },
        NeedEvent::NeedDispatched(dispatched) => {
            state.organization_id = dispatched.organization_id.to_string();
            state.due_on = dispatched.due_on.to_string();
            NeedFact {
                organization_id: state.organization_id.clone(),
                event_on: dispatched.dispatched_on.to_string(),
                ..NeedFact::default()
            }
        }
        NeedEvent::NeedAccepted(accepted) => NeedFact {
            organization_id: accepted.organization_id.to_string(),
            event_on: accepted.accepted_on.to_string(),
            ..NeedFact::default()
        },
        NeedEvent::NeedDeclined(declined) => {
            state.organization_id.clear();
            state.due_on.clear();
            NeedFact {
                organization_id: declined.organization_id.to_string(),
                event_on: declined.declined_on.to_string(),
                ..NeedFact::default()
            }
        }
        NeedEvent::NeedProgressRecorded(progress) => NeedFact {
            organization_id: progress.organization_id.to_string(),
            event_on: progress.recorded_on.to_string(),
            ..NeedFact::default()
        },
        NeedEvent::NeedFulfilled(fulfilled) => {
            let fulfilled_on = fulfilled.fulfilled_on.to_string();
            // Dates are stored as YYYY-MM-DD, so text order is date order.
            let on_time = state.due_on.is_empty() || fulfilled_on <= state.due_on;
            state.fulfilled_by = fulfilled.organization_id.to_string();
            NeedFact {
                organization_id: state.fulfilled_by.clone(),
                event_on: fulfilled_on,
                on_time,
                minutes: i64::from(fulfilled.minutes),
                money_fen: fulfilled.money_fen,
                material_value_fen: fulfilled.material_value_fen,
                ..NeedFact::default()
            }
        }
        NeedEvent::NeedEvaluated(evaluated) => NeedFact {
            organization_id: state.fulfilled_by.clone(),
            event_on: evaluated.evaluated_on.to_string(),
            satisfaction: i64::from(evaluated.satisfaction),
            ..NeedFact::default()
        },
        NeedEvent::NeedEscalated(escalated) => {
            state.organization_id.clear();
            state.due_on.clear();
            NeedFact {
                event_on: escalated.escalated_on.to_string(),
                ..NeedFact::default()
            }
        }
        NeedEvent::NeedWithdrawn(withdrawn) => NeedFact {
            event_on: withdrawn.withdrawn_on.to_string(),
            ..NeedFact::default()
        },
    };
    let recorded_at = format_instant(event.recorded_at);
    crate::with_tx!(tx, conn => {
        sqlx::query(names.sql(UPSERT_NEED))
            .bind(need_id)
            .bind(&state.region)
            .bind(&state.organization_id)
            .bind(&state.due_on)
            .bind(&state.fulfilled_by)
            .execute(&mut *conn)
            .await?;
        sqlx::query(names.sql(INSERT_NEED_FACT))
            .bind(event.position)
            .bind(event.txid)
            .bind(need_id)
            .bind(&event.event_type)
            .bind(&state.region)
            .bind(prefix_of(&state.region, 6))
            .bind(prefix_of(&state.region, 9))
            .bind(&fact.category)
            .bind(i64::from(fact.micro_wish))
            .bind(&fact.organization_id)
            .bind(&fact.event_on)
            .bind(&state.due_on)
            .bind(i64::from(fact.on_time))
            .bind(fact.satisfaction)
            .bind(fact.minutes)
            .bind(fact.money_fen)
            .bind(fact.material_value_fen)
            .bind(&recorded_at)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

// ---------------------------------------------------------------------------
// Organizations: names for rankings.

const INSERT_ORGANIZATION: &str = "INSERT INTO {statistics_organizations} (organization_id, name, kind, region, \
     position, txid) VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (organization_id) DO NOTHING";

async fn apply_organization_event(
    tx: &mut Tx<'_>,
    names: &TableNames,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    if event.event_type != "OrganizationRegistered" {
        return Ok(());
    }
    let OrganizationEvent::OrganizationRegistered(registered) = event
        .decode::<OrganizationEvent>()
        .map_err(ProjectionError::decode)?
    else {
        return Ok(());
    };
    crate::with_tx!(tx, conn => {
        sqlx::query(names.sql(INSERT_ORGANIZATION))
            .bind(&event.stream_id)
            .bind(&registered.name)
            .bind(registered.kind.code())
            .bind(registered.region.as_str())
            .bind(event.position)
            .bind(event.txid)
            .execute(&mut *conn)
            .await?;
    });
    Ok(())
}

// ---------------------------------------------------------------------------
// Values shared by the queries.

/// A calendar month, written `2026-03`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    pub fn new(year: i32, month: u32) -> Option<Self> {
        ((1..=12).contains(&month) && (0..=9999).contains(&year)).then_some(Month { year, month })
    }

    /// The month a date falls in.
    pub fn of(date: NaiveDate) -> Self {
        Month {
            year: date.year(),
            month: date.month(),
        }
    }

    pub fn year(&self) -> i32 {
        self.year
    }

    pub fn month(&self) -> u32 {
        self.month
    }

    /// The first day of the month.
    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or_default()
    }

    /// The month before.
    pub fn previous(&self) -> Month {
        if self.month == 1 {
            Month {
                year: self.year - 1,
                month: 12,
            }
        } else {
            Month {
                year: self.year,
                month: self.month - 1,
            }
        }
    }

    /// The month after.
    pub fn next(&self) -> Month {
        if self.month == 12 {
            Month {
                year: self.year + 1,
                month: 1,
            }
        } else {
            Month {
                year: self.year,
                month: self.month + 1,
            }
        }
    }
}

impl fmt::Display for Month {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(formatter, "{:04}-{:02}", self.year, self.month)
    }
}

/// Why a text is not a month.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("月份“{0}”格式有误，请写作 2026-03")]
pub struct MonthParseError(String);

impl FromStr for Month {
    type Err = MonthParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || MonthParseError(text.to_owned());
        let (year, month) = text.trim().split_once('-').ok_or_else(error)?;
        if year.len() != 4 || month.len() != 2 {
            return Err(error());
        }
        let year = year.parse().map_err(|_| error())?;
        let month = month.parse().map_err(|_| error())?;
        Month::new(year, month).ok_or_else(error)
    }
}

impl Serialize for Month {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Month {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Shows an amount in fen as yuan with two decimals (`1234.50`), by integer
/// arithmetic.
pub fn format_yuan(amount_fen: i64) -> String {
    let sign = if amount_fen < 0 { "-" } else { "" };
    let absolute = amount_fen.unsigned_abs();
    format!("{sign}{}.{:02}", absolute / 100, absolute % 100)
}

/// Shows minutes as 小时 and 分钟 (`3小时20分钟`).
pub fn format_minutes(minutes: i64) -> String {
    let (hours, rest) = (minutes / 60, minutes % 60);
    match (hours, rest) {
        (0, rest) => format!("{rest}分钟"),
        (hours, 0) => format!("{hours}小时"),
        (hours, rest) => format!("{hours}小时{rest}分钟"),
    }
}

/// 活动时间: `2026-03-12 09:00—11:30`, or with both dates when it spans days.
fn format_activity_time(starts_at: NaiveDateTime, ends_at: NaiveDateTime) -> String {
    let start = starts_at.format("%Y-%m-%d %H:%M");
    if starts_at.date() == ends_at.date() {
        format!("{start}—{}", ends_at.format("%H:%M"))
    } else {
        format!("{start}—{}", ends_at.format("%Y-%m-%d %H:%M"))
    }
}

/// 活动地域（县/乡/村）: the level and the code of the area.
fn format_area(region: &str, level: RegionLevel) -> String {
    let digits = match level {
        RegionLevel::Province => 2,
        RegionLevel::City => 4,
        RegionLevel::County => 6,
        RegionLevel::Township => 9,
        RegionLevel::Village => 12,
    };
    format!("{} {}", level.label_zh(), prefix_of(region, digits))
}

fn parse_stored_datetime(text: &str) -> Result<NaiveDateTime, ProjectionError> {
    NaiveDateTime::parse_from_str(text, STORED_DATETIME).map_err(ProjectionError::decode)
}

fn parse_optional_uuid(text: &str) -> Option<Uuid> {
    Uuid::parse_str(text).ok()
}

/// `region` within the area, as a range the facts' region index seeks
/// (`LIKE` uses no index). Written into the text — a RegionPrefix is digits
/// only — so that the planner sees the values.
fn within_area(area: &RegionPrefix) -> String {
    match area.code_range() {
        (lower, Some(upper)) => format!("region >= '{lower}' AND region < '{upper}'"),
        (lower, None) => format!("region >= '{lower}'"),
    }
}

fn like_prefix(region: &RegionPrefix) -> String {
    // A RegionPrefix is digits only, so it holds no LIKE wildcards.
    format!("{}%", region.as_str())
}

// ---------------------------------------------------------------------------
// 附件1 统计表.

/// The header of 附件1, supplied by whoever fills it in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment1Header {
    /// 填表单位, e.g. 南昌县民政局.
    pub filling_unit: String,
    /// 填表时间.
    pub filled_on: NaiveDate,
}

/// 江西省社会组织“邻里守望”关爱行动情况统计表 (附件1), units 人次 and 元.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment1 {
    pub header: Attachment1Header,
    /// The area covered (the county, or any prefix).
    pub region: String,
    /// Activities whose (actual) start falls in `from..=to`.
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: Vec<Attachment1Row>,
    pub totals: Attachment1Totals,
}

/// One activity of 附件1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment1Row {
    /// 序号, from 1.
    pub serial: u32,
    pub activity_id: Uuid,
    /// 活动名称.
    pub name: String,
    /// 发起单位（组织者）.
    pub organizer: String,
    /// 活动地域（县/乡/村）, as printed.
    pub area: String,
    pub region: String,
    pub region_level: RegionLevel,
    /// 活动时间, as printed.
    pub time: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    /// 参与社会组织（名称、参与人数）.
    pub participants: Vec<ParticipantLine>,
    /// 投入资金（含物资折款）: money plus material value, in fen.
    pub funds_fen: i64,
    pub money_fen: i64,
    pub material_value_fen: i64,
    /// 受益对象及人数, as printed.
    pub beneficiaries: String,
    /// Care categories of the linked cases (受益对象).
    pub beneficiary_categories: Vec<CareCategory>,
    /// 受益人次.
    pub person_times: i64,
    /// 受益人数.
    pub persons: i64,
    pub service_minutes: i64,
    /// 活动总体情况.
    pub overall: String,
    pub status: ActivityStatus,
    /// How many corrections the figures include.
    pub corrections: i64,
}

/// 参与社会组织: name and 参与人数.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParticipantLine {
    pub name: String,
    pub organization_id: Option<Uuid>,
    pub headcount: i64,
}

/// The 合计 line of 附件1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment1Totals {
    pub activities: i64,
    /// Participations (an organization in two activities counts twice).
    pub participations: i64,
    pub participant_headcount: i64,
    pub funds_fen: i64,
    pub money_fen: i64,
    pub material_value_fen: i64,
    pub person_times: i64,
    /// Sum over activities: a person at two activities counts twice.
    pub persons: i64,
    pub service_minutes: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct ActivityRow {
    activity_id: String,
    name: String,
    organizer_name: String,
    organizer_organization_id: String,
    action_line: String,
    region: String,
    region_level: String,
    place: String,
    starts_at: String,
    ends_at: String,
    leader: String,
    status: String,
    money_fen: i64,
    material_value_fen: i64,
    person_times: i64,
    persons: i64,
    service_minutes: i64,
    details: String,
    corrections: i64,
}

const ACTIVITY_COLUMNS: &str = "a.activity_id, a.name, a.organizer_name, a.organizer_organization_id, \
     a.action_line, a.region, a.region_level, a.place, a.starts_at, a.ends_at, a.leader, a.status, \
     a.money_fen, a.material_value_fen, a.person_times, a.persons, a.service_minutes, a.details, a.corrections";

/// The activities of `region` (any prefix; a county for 附件1) that started
/// within `from..=to` and were not cancelled.
const ATTACHMENT1_FILTER: &str = "FROM statistics_activities a WHERE a.region LIKE $1 \
     AND a.activity_date >= $2 AND a.activity_date <= $3 AND a.status <> 'cancelled'";

/// Activities, their participants `(activity, seq, name, id, headcount)` and
/// the categories of their linked cases `(activity, categories)`.
type Attachment1Rows = (
    Vec<ActivityRow>,
    Vec<(String, i64, String, String, i64)>,
    Vec<(String, String)>,
);

/// The activity, its participants `(seq, name, id, headcount)` and its
/// evidence `(seq, sha256, media type, size, file name)`.
type Attachment2Rows = (
    Option<ActivityRow>,
    Vec<(i64, String, String, i64)>,
    Vec<(i64, String, String, i64, String)>,
);

/// Builds 附件1 for the activities of `region` started within
/// `period.0..=period.1` (cancelled ones left out, corrections applied),
/// ordered by time.
pub async fn attachment1(
    db: &Database,
    region: &RegionPrefix,
    period: (NaiveDate, NaiveDate),
    header: Attachment1Header,
) -> Result<Attachment1, ProjectionError> {
    let (from, to) = period;
    let pattern = like_prefix(region);
    let (from_text, to_text) = (from.to_string(), to.to_string());
    let activities_sql = format!("SELECT {ACTIVITY_COLUMNS} {ATTACHMENT1_FILTER}");
    let participants_sql = format!(
        "SELECT p.activity_id, p.seq, p.organization_name, p.organization_id, p.headcount \
         FROM statistics_activity_participants p WHERE p.activity_id IN (SELECT a.activity_id {ATTACHMENT1_FILTER})"
    );
    let categories_sql = format!(
        "SELECT b.activity_id, c.categories FROM statistics_activity_beneficiaries b \
         JOIN statistics_cases c ON c.case_id = b.case_id \
         WHERE b.activity_id IN (SELECT a.activity_id {ATTACHMENT1_FILTER})"
    );
    let (activities, participants, categories): Attachment1Rows = with_pool!(db, pool => {
        let activities = sqlx::query_as(sqlx::AssertSqlSafe(activities_sql))
            .bind(&pattern).bind(&from_text).bind(&to_text)
            .fetch_all(pool).await?;
        let participants = sqlx::query_as(sqlx::AssertSqlSafe(participants_sql))
            .bind(&pattern).bind(&from_text).bind(&to_text)
            .fetch_all(pool).await?;
        let categories = sqlx::query_as(sqlx::AssertSqlSafe(categories_sql))
            .bind(&pattern).bind(&from_text).bind(&to_text)
            .fetch_all(pool).await?;
        (activities, participants, categories)
    });

    let mut participants_by_activity: BTreeMap<String, Vec<(i64, ParticipantLine)>> =
        BTreeMap::new();
    for (activity_id, seq, name, organization_id, headcount) in participants {
        participants_by_activity
            .entry(activity_id)
            .or_default()
            .push((
                seq,
                ParticipantLine {
                    name,
                    organization_id: parse_optional_uuid(&organization_id),
                    headcount,
                },
            ));
    }
    let mut categories_by_activity: BTreeMap<String, BTreeSet<CareCategory>> = BTreeMap::new();
    for (activity_id, codes) in categories {
        categories_by_activity
            .entry(activity_id)
            .or_default()
            .extend(parse_categories(&codes));
    }

    let mut rows = Vec::with_capacity(activities.len());
    for activity in activities {
        let mut lines = participants_by_activity
            .remove(&activity.activity_id)
            .unwrap_or_default();
        lines.sort_by_key(|(seq, _)| *seq);
        let participants = lines.into_iter().map(|(_, line)| line).collect();
        let beneficiary_categories: Vec<CareCategory> = categories_by_activity
            .remove(&activity.activity_id)
            .unwrap_or_default()
            .into_iter()
            .collect();
        rows.push(attachment1_row(
            activity,
            participants,
            beneficiary_categories,
        )?);
    }
    rows.sort_by(|a, b| {
        (a.starts_at, a.ends_at, a.activity_id).cmp(&(b.starts_at, b.ends_at, b.activity_id))
    });
    let mut totals = Attachment1Totals::default();
    for (serial, row) in (1_u32..).zip(rows.iter_mut()) {
        row.serial = serial;
        totals.activities += 1;
        totals.participations += i64::try_from(row.participants.len()).unwrap_or(i64::MAX);
        totals.participant_headcount += row.participants.iter().map(|p| p.headcount).sum::<i64>();
        totals.funds_fen += row.funds_fen;
        totals.money_fen += row.money_fen;
        totals.material_value_fen += row.material_value_fen;
        totals.person_times += row.person_times;
        totals.persons += row.persons;
        totals.service_minutes += row.service_minutes;
    }
    Ok(Attachment1 {
        header,
        region: region.as_str().to_owned(),
        from,
        to,
        rows,
        totals,
    })
}

fn beneficiaries_text(categories: &[CareCategory], person_times: i64, persons: i64) -> String {
    let counts = format!("{person_times}人次（{persons}人）");
    if categories.is_empty() {
        counts
    } else {
        let labels = categories
            .iter()
            .map(CareCategory::label_zh)
            .collect::<Vec<_>>()
            .join("、");
        format!("{labels} {counts}")
    }
}

fn parse_status(code: &str) -> Result<ActivityStatus, ProjectionError> {
    ActivityStatus::from_code(code)
        .ok_or_else(|| ProjectionError::decode(format!("未知的活动状态 {code}")))
}

fn parse_level(code: &str) -> Result<RegionLevel, ProjectionError> {
    RegionLevel::from_code(code)
        .ok_or_else(|| ProjectionError::decode(format!("未知的地域级别 {code}")))
}

fn attachment1_row(
    activity: ActivityRow,
    participants: Vec<ParticipantLine>,
    beneficiary_categories: Vec<CareCategory>,
) -> Result<Attachment1Row, ProjectionError> {
    let starts_at = parse_stored_datetime(&activity.starts_at)?;
    let ends_at = parse_stored_datetime(&activity.ends_at)?;
    let region_level = parse_level(&activity.region_level)?;
    let status = parse_status(&activity.status)?;
    let overall = if activity.details.is_empty() {
        status.label_zh().to_owned()
    } else {
        activity.details
    };
    Ok(Attachment1Row {
        serial: 0,
        activity_id: Uuid::parse_str(&activity.activity_id).map_err(ProjectionError::decode)?,
        name: activity.name,
        organizer: activity.organizer_name,
        area: format_area(&activity.region, region_level),
        region: activity.region,
        region_level,
        time: format_activity_time(starts_at, ends_at),
        starts_at,
        ends_at,
        participants,
        funds_fen: activity.money_fen + activity.material_value_fen,
        money_fen: activity.money_fen,
        material_value_fen: activity.material_value_fen,
        beneficiaries: beneficiaries_text(
            &beneficiary_categories,
            activity.person_times,
            activity.persons,
        ),
        beneficiary_categories,
        person_times: activity.person_times,
        persons: activity.persons,
        service_minutes: activity.service_minutes,
        overall,
        status,
        corrections: activity.corrections,
    })
}

/// The title printed above 附件1.
pub const ATTACHMENT1_TITLE: &str = "社会组织“邻里守望”关爱行动情况统计表（统计单位：人次、元）";

/// Renders 附件1 as CSV (RFC 4180, UTF-8 with a byte-order mark so that
/// Excel and WPS open it as UTF-8): the title, the 填表单位/填表时间 line, the
/// two header lines of the printed form (参与社会组织 spans 名称 and 参与人数),
/// one line per activity with further participating organizations on
/// continuation lines (the form's “可附加行数”), and a 合计 line. Amounts are
/// in 元 with two decimals.
pub fn render_attachment1_csv(table: &Attachment1) -> String {
    let mut lines: Vec<Vec<String>> = Vec::new();
    let blank = |count: usize| vec![String::new(); count];
    let mut title = vec![ATTACHMENT1_TITLE.to_owned()];
    title.extend(blank(9));
    lines.push(title);
    let mut header = vec![
        format!("填表单位：{}", table.header.filling_unit),
        String::new(),
        String::new(),
        String::new(),
        String::new(),
        format!(
            "填表时间：{}年{}月{}日",
            table.header.filled_on.year(),
            table.header.filled_on.month(),
            table.header.filled_on.day()
        ),
    ];
    header.extend(blank(4));
    lines.push(header);
    lines.push(
        [
            "序号",
            "活动名称",
            "发起单位（组织者）",
            "活动地域（县/乡/村）",
            "活动时间",
            "参与社会组织",
            "",
            "投入资金（含物资折款）",
            "受益对象及人数",
            "活动总体情况",
        ]
        .map(str::to_owned)
        .to_vec(),
    );
    let mut sub_header = blank(10);
    sub_header[5] = "名称".to_owned();
    sub_header[6] = "参与人数".to_owned();
    lines.push(sub_header);
    for row in &table.rows {
        let (first_name, first_count) = row
            .participants
            .first()
            .map(|p| (p.name.clone(), p.headcount.to_string()))
            .unwrap_or_default();
        lines.push(vec![
            row.serial.to_string(),
            row.name.clone(),
            row.organizer.clone(),
            row.area.clone(),
            row.time.clone(),
            first_name,
            first_count,
            format_yuan(row.funds_fen),
            row.beneficiaries.clone(),
            row.overall.clone(),
        ]);
        for participant in row.participants.iter().skip(1) {
            let mut continuation = blank(10);
            continuation[5] = participant.name.clone();
            continuation[6] = participant.headcount.to_string();
            lines.push(continuation);
        }
    }
    let totals = &table.totals;
    lines.push(vec![
        "合计".to_owned(),
        format!("{}项活动", totals.activities),
        String::new(),
        String::new(),
        String::new(),
        format!("{}个（次）组织", totals.participations),
        totals.participant_headcount.to_string(),
        format_yuan(totals.funds_fen),
        format!("{}人次（{}人）", totals.person_times, totals.persons),
        String::new(),
    ]);
    let mut csv = String::from("\u{feff}");
    for line in lines {
        let cells: Vec<String> = line.iter().map(|cell| csv_cell(cell)).collect();
        csv.push_str(&cells.join(","));
        csv.push_str("\r\n");
    }
    csv
}

/// One CSV cell: quoted when needed; text that a spreadsheet would run as a
/// formula gets a leading apostrophe.
fn csv_cell(text: &str) -> String {
    let guarded = if text.starts_with(['=', '+', '@']) {
        format!("'{text}")
    } else {
        text.to_owned()
    };
    if guarded.contains([',', '"', '\r', '\n']) {
        format!("\"{}\"", guarded.replace('"', "\"\""))
    } else {
        guarded
    }
}

// ---------------------------------------------------------------------------
// 附件2 记录表.

/// 江西省社会组织“邻里守望”关爱行动情况记录表 (附件2) for one activity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attachment2 {
    pub activity_id: Uuid,
    /// 活动名称.
    pub name: String,
    /// 发起单位（组织者）.
    pub organizer: String,
    pub organizer_organization_id: Option<Uuid>,
    /// 活动地点.
    pub place: String,
    pub area: String,
    /// 活动时间, as printed.
    pub time: String,
    pub starts_at: NaiveDateTime,
    pub ends_at: NaiveDateTime,
    /// 活动受益人数, as printed (`86人次（41人）`).
    pub beneficiaries: String,
    pub person_times: i64,
    pub persons: i64,
    /// 累计服务时长, as printed (`12小时30分钟`).
    pub service_time: String,
    pub service_minutes: i64,
    /// 活动负责人.
    pub leader: String,
    /// 参加社会组织及人员.
    pub participants: Vec<ParticipantLine>,
    /// The same, as printed (`南昌县义工联合会（12人）、…`).
    pub participants_text: String,
    /// 活动详情（300字左右）.
    pub details: String,
    /// 佐证材料（1–2张图片）: the images by their SHA-256.
    pub evidence: Vec<EvidenceLine>,
    pub action_line: Option<ActionLine>,
    pub money_fen: i64,
    pub material_value_fen: i64,
    pub status: ActivityStatus,
    pub corrections: i64,
}

/// One evidence image of 附件2.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EvidenceLine {
    pub sha256: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub file_name: String,
}

/// 附件2 for one activity (cancelled ones too: the sheet says so), or `None`
/// when there is no such activity.
pub async fn attachment2(
    db: &Database,
    activity_id: Uuid,
) -> Result<Option<Attachment2>, ProjectionError> {
    let id = activity_id.to_string();
    let activity_sql =
        format!("SELECT {ACTIVITY_COLUMNS} FROM statistics_activities a WHERE a.activity_id = $1");
    let (activity, participants, evidence): Attachment2Rows = with_pool!(db, pool => {
        let activity = sqlx::query_as(sqlx::AssertSqlSafe(activity_sql))
            .bind(&id).fetch_optional(pool).await?;
        let participants = sqlx::query_as(
            "SELECT seq, organization_name, organization_id, headcount \
             FROM statistics_activity_participants WHERE activity_id = $1",
        )
        .bind(&id).fetch_all(pool).await?;
        let evidence = sqlx::query_as(
            "SELECT seq, sha256, media_type, size_bytes, file_name \
             FROM statistics_activity_evidence WHERE activity_id = $1",
        )
        .bind(&id).fetch_all(pool).await?;
        (activity, participants, evidence)
    });
    let Some(activity) = activity else {
        return Ok(None);
    };
    let mut participants = participants;
    participants.sort_by_key(|(seq, ..)| *seq);
    let participants: Vec<ParticipantLine> = participants
        .into_iter()
        .map(|(_, name, organization_id, headcount)| ParticipantLine {
            name,
            organization_id: parse_optional_uuid(&organization_id),
            headcount,
        })
        .collect();
    let mut evidence = evidence;
    evidence.sort_by_key(|(seq, ..)| *seq);
    let evidence = evidence
        .into_iter()
        .map(
            |(_, sha256, media_type, size_bytes, file_name)| EvidenceLine {
                sha256,
                media_type,
                size_bytes,
                file_name,
            },
        )
        .collect();
    let starts_at = parse_stored_datetime(&activity.starts_at)?;
    let ends_at = parse_stored_datetime(&activity.ends_at)?;
    let region_level = parse_level(&activity.region_level)?;
    let participants_text = participants
        .iter()
        .map(|p| format!("{}（{}人）", p.name, p.headcount))
        .collect::<Vec<_>>()
        .join("、");
    Ok(Some(Attachment2 {
        activity_id,
        name: activity.name,
        organizer: activity.organizer_name,
        organizer_organization_id: parse_optional_uuid(&activity.organizer_organization_id),
        place: activity.place,
        area: format_area(&activity.region, region_level),
        time: format_activity_time(starts_at, ends_at),
        starts_at,
        ends_at,
        beneficiaries: beneficiaries_text(&[], activity.person_times, activity.persons),
        person_times: activity.person_times,
        persons: activity.persons,
        service_time: format_minutes(activity.service_minutes),
        service_minutes: activity.service_minutes,
        leader: activity.leader,
        participants,
        participants_text,
        details: activity.details,
        evidence,
        action_line: ActionLine::from_code(&activity.action_line),
        money_fen: activity.money_fen,
        material_value_fen: activity.material_value_fen,
        status: parse_status(&activity.status)?,
        corrections: activity.corrections,
    }))
}

// ---------------------------------------------------------------------------
// Case-based figures.

/// Which figures [`service_figures`] returns.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatisticsFilter {
    /// The area (any prefix; the whole province with `"36"`).
    pub region_prefix: RegionPrefix,
    /// Rows per county or per township.
    pub group_by: RegionLevel,
    /// Months of the service date, inclusive; open when `None`.
    pub from_month: Option<Month>,
    pub to_month: Option<Month>,
    pub category: Option<CareCategory>,
    pub service_type: Option<ServiceType>,
    pub action_line: Option<ActionLine>,
}

impl StatisticsFilter {
    /// Every figure of an area, per township.
    pub fn area(region_prefix: RegionPrefix) -> Self {
        StatisticsFilter {
            region_prefix,
            group_by: RegionLevel::Township,
            from_month: None,
            to_month: None,
            category: None,
            service_type: None,
            action_line: None,
        }
    }
}

/// What one figure row counts: its dimensions. Also the argument of
/// [`trace`]; written as text `360121100/2026-03/empty_nest_elder/home_visiting/-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct FigureKey {
    /// The county (6 digits) or township (9 digits).
    pub region: String,
    pub month: Month,
    pub category: CareCategory,
    pub service_type: ServiceType,
    pub action_line: Option<ActionLine>,
}

impl fmt::Display for FigureKey {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            formatter,
            "{}/{}/{}/{}/{}",
            self.region,
            self.month,
            self.category.code(),
            self.service_type.code(),
            self.action_line.map_or("-", |a| a.code())
        )
    }
}

/// Why a text is not a figure key.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "统计项“{0}”格式有误，应为 区划/月份/对象类别/服务内容/行动，例如 360121100/2026-03/empty_nest_elder/home_visiting/-"
)]
pub struct FigureKeyParseError(String);

impl FromStr for FigureKey {
    type Err = FigureKeyParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let error = || FigureKeyParseError(text.to_owned());
        let parts: Vec<&str> = text.trim().split('/').collect();
        let [region, month, category, service_type, action_line] = parts.as_slice() else {
            return Err(error());
        };
        let region = RegionPrefix::parse(region).map_err(|_| error())?;
        if !matches!(region.level(), RegionLevel::County | RegionLevel::Township) {
            return Err(error());
        }
        Ok(FigureKey {
            region: region.as_str().to_owned(),
            month: month.parse().map_err(|_| error())?,
            category: CareCategory::from_code(category).ok_or_else(error)?,
            service_type: ServiceType::from_code(service_type).ok_or_else(error)?,
            action_line: match *action_line {
                "-" => None,
                code => Some(ActionLine::from_code(code).ok_or_else(error)?),
            },
        })
    }
}

impl Serialize for FigureKey {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for FigureKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// One row of case-based figures. Within a row each event counts once; a
/// service for a person of two categories appears in the rows of both, so
/// rows must not be added up across categories or service types — use
/// [`progress`] for totals.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureRow {
    pub key: FigureKey,
    pub category_label: String,
    pub service_type_label: String,
    pub action_line_label: Option<String>,
    /// 受益人次: services and visits.
    pub person_times: i64,
    /// Distinct persons (cases) served.
    pub persons: i64,
    pub service_minutes: i64,
    pub money_fen: i64,
    pub material_value_fen: i64,
    /// Distinct participating organizations.
    pub organizations: i64,
}

#[derive(Debug, sqlx::FromRow)]
struct FigureSqlRow {
    region: String,
    month: String,
    category: String,
    service_type: String,
    action_line: String,
    person_times: i64,
    persons: i64,
    service_minutes: i64,
    money_fen: i64,
    material_value_fen: i64,
    organizations: i64,
}

/// Case-based figures: 受益人次, persons, service time, money and material
/// value and participating organizations, per region × month × category ×
/// service type × action line, ordered by those.
///
/// Read from the cells of the grouping level when the area is a whole
/// region at or above it (a province, county or township); an area cut finer
/// than the grouping (a village, say, per township) is counted from the
/// facts, which [`service_figures_from_facts`] does for any filter.
pub async fn service_figures(
    db: &Database,
    filter: &StatisticsFilter,
) -> Result<Vec<FigureRow>, ProjectionError> {
    let (level, digits) = cell_level(filter.group_by);
    if filter.region_prefix.as_str().len() > digits {
        return service_figures_from_facts(db, filter).await;
    }
    fetch_figures(db, SELECT_CELLS.to_owned(), filter, Some(level)).await
}

/// Runs a figures query whose parameters are `$1` the area (a `LIKE`
/// prefix), `$2`–`$3` the months, `$4`–`$6` category, service type and
/// action line (`''` for any), and `$7` the cell level when one is given.
async fn fetch_figures(
    db: &Database,
    sql: String,
    filter: &StatisticsFilter,
    level: Option<&str>,
) -> Result<Vec<FigureRow>, ProjectionError> {
    let (from, to) = month_bounds(filter);
    let rows: Vec<FigureSqlRow> = with_pool!(db, pool => {
        let mut query = sqlx::query_as(sqlx::AssertSqlSafe(sql.clone()))
            .bind(like_prefix(&filter.region_prefix))
            .bind(&from)
            .bind(&to)
            .bind(filter.category.map(|c| c.code()).unwrap_or_default())
            .bind(filter.service_type.map(|s| s.code()).unwrap_or_default())
            .bind(filter.action_line.map(|a| a.code()).unwrap_or_default());
        if let Some(level) = level {
            query = query.bind(level);
        }
        query.fetch_all(pool).await?
    });
    figure_rows(rows)
}

const SELECT_CELLS: &str = "SELECT region, month, category, service_type, action_line, \
     person_times, persons, service_minutes, money_fen, material_value_fen, organizations \
     FROM statistics_service_cells \
     WHERE region LIKE $1 AND month >= $2 AND month <= $3 \
     AND ($4 = '' OR category = $4) AND ($5 = '' OR service_type = $5) AND ($6 = '' OR action_line = $6) \
     AND level = $7";

/// The cells a grouping reads, and how many digits of a region code they keep.
fn cell_level(level: RegionLevel) -> (&'static str, usize) {
    match level {
        RegionLevel::Province | RegionLevel::City | RegionLevel::County => CELL_LEVELS[0],
        RegionLevel::Township | RegionLevel::Village => CELL_LEVELS[1],
    }
}

fn month_bounds(filter: &StatisticsFilter) -> (String, String) {
    let from = filter
        .from_month
        .map_or_else(|| "0000-00".to_owned(), |m| m.to_string());
    let to = filter
        .to_month
        .map_or_else(|| "9999-99".to_owned(), |m| m.to_string());
    (from, to)
}

/// [`service_figures`] counted from every matching fact: the reference the
/// cells are kept equal to, and the way to answer areas finer than the
/// grouping.
pub async fn service_figures_from_facts(
    db: &Database,
    filter: &StatisticsFilter,
) -> Result<Vec<FigureRow>, ProjectionError> {
    // The cell level names the facts' column of the same region codes.
    let column = cell_level(filter.group_by).0;
    let indexed = within_area(&filter.region_prefix);
    let sql = format!(
        "SELECT {column} AS region, month, category, service_type, action_line, \
         COUNT(*) AS person_times, COUNT(DISTINCT case_id) AS persons, \
         CAST(SUM(minutes) AS BIGINT) AS service_minutes, CAST(SUM(money_fen) AS BIGINT) AS money_fen, \
         CAST(SUM(material_value_fen) AS BIGINT) AS material_value_fen, \
         COUNT(DISTINCT NULLIF(organization_id, '')) AS organizations \
         FROM statistics_service_facts \
         WHERE region LIKE $1 AND {indexed} AND month >= $2 AND month <= $3 \
         AND ($4 = '' OR category = $4) AND ($5 = '' OR service_type = $5) AND ($6 = '' OR action_line = $6) \
         GROUP BY {column}, month, category, service_type, action_line"
    );
    fetch_figures(db, sql, filter, None).await
}

fn figure_rows(rows: Vec<FigureSqlRow>) -> Result<Vec<FigureRow>, ProjectionError> {
    let mut figures = rows
        .into_iter()
        .map(figure_row)
        .collect::<Result<Vec<_>, _>>()?;
    figures.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(figures)
}

fn figure_row(row: FigureSqlRow) -> Result<FigureRow, ProjectionError> {
    let unknown = |what: &str, code: &str| ProjectionError::decode(format!("未知的{what} {code}"));
    let category = CareCategory::from_code(&row.category)
        .ok_or_else(|| unknown("关爱对象类别", &row.category))?;
    let service_type = ServiceType::from_code(&row.service_type)
        .ok_or_else(|| unknown("服务内容", &row.service_type))?;
    let action_line = match row.action_line.as_str() {
        "" => None,
        code => Some(ActionLine::from_code(code).ok_or_else(|| unknown("行动", code))?),
    };
    let month = row.month.parse().map_err(ProjectionError::decode)?;
    Ok(FigureRow {
        category_label: category.label_zh().to_owned(),
        service_type_label: service_type.label_zh().to_owned(),
        action_line_label: action_line.map(|a| a.label_zh().to_owned()),
        key: FigureKey {
            region: row.region,
            month,
            category,
            service_type,
            action_line,
        },
        person_times: row.person_times,
        persons: row.persons,
        service_minutes: row.service_minutes,
        money_fen: row.money_fen,
        material_value_fen: row.material_value_fen,
        organizations: row.organizations,
    })
}

/// The global positions of the events behind one figure row, ascending:
/// as many as the row's 受益人次.
pub async fn trace(db: &Database, key: &FigureKey) -> Result<Vec<i64>, ProjectionError> {
    let area = RegionPrefix::parse(&key.region)
        .map_err(|error| ProjectionError::decode(format!("统计口径的地区有误：{error}")))?;
    let sql = format!(
        "SELECT DISTINCT position FROM statistics_service_facts \
         WHERE {} AND month = $1 AND category = $2 AND service_type = $3 AND action_line = $4",
        within_area(&area)
    );
    let mut positions: Vec<i64> = with_pool!(db, pool => {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql))
        .bind(key.month.to_string())
        .bind(key.category.code())
        .bind(key.service_type.code())
        .bind(key.action_line.map(|a| a.code()).unwrap_or_default())
        .fetch_all(pool)
        .await?
    });
    positions.sort_unstable();
    Ok(positions)
}

/// Progress of an area against a target in 受益人次 (the 2021 campaign aimed
/// at 500,000 for Jiangxi).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub region: String,
    pub target_person_times: u64,
    /// Services and visits recorded in care cases (each event once).
    pub case_person_times: i64,
    /// 受益人次 of activities not cancelled.
    pub activity_person_times: i64,
    pub person_times: i64,
    /// `person_times` per thousand of the target, rounded down.
    pub permille: i64,
}

/// How far an area has come towards `target_person_times` 受益人次, counting
/// care-case services and visits and the activities not cancelled.
pub async fn progress(
    db: &Database,
    region: &RegionPrefix,
    target_person_times: NonZeroU64,
) -> Result<Progress, ProjectionError> {
    let pattern = like_prefix(region);
    let (case_person_times, activity_person_times): (i64, i64) = with_pool!(db, pool => {
        let cases = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT COUNT(DISTINCT position) FROM statistics_service_facts WHERE {}",
            within_area(region)
        )))
        .fetch_one(pool)
        .await?;
        let activities = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(person_times), 0) AS BIGINT) FROM statistics_activities \
             WHERE region LIKE $1 AND status <> 'cancelled'",
        )
        .bind(&pattern)
        .fetch_one(pool)
        .await?;
        (cases, activities)
    });
    let person_times = case_person_times + activity_person_times;
    let target = i128::from(target_person_times.get());
    let permille = i64::try_from(i128::from(person_times) * 1000 / target).unwrap_or(i64::MAX);
    Ok(Progress {
        region: region.as_str().to_owned(),
        target_person_times: target_person_times.get(),
        case_person_times,
        activity_person_times,
        person_times,
        permille,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yuan_is_formatted_from_fen_by_integer_arithmetic() {
        assert_eq!(format_yuan(0), "0.00");
        assert_eq!(format_yuan(5), "0.05");
        assert_eq!(format_yuan(123_450), "1234.50");
        assert_eq!(format_yuan(-1_001), "-10.01");
        assert_eq!(format_yuan(i64::MIN), "-92233720368547758.08");
    }

    #[test]
    fn months_and_figure_keys_read_back_what_they_write() {
        let month: Month = "2026-03".parse().unwrap();
        assert_eq!(month.to_string(), "2026-03");
        assert_eq!(month.previous().to_string(), "2026-02");
        assert_eq!(
            Month::new(2026, 1).unwrap().previous().to_string(),
            "2025-12"
        );
        assert!("2026-13".parse::<Month>().is_err());
        assert!("2026-3".parse::<Month>().is_err());
        let key: FigureKey = "360121100/2026-03/empty_nest_elder/home_visiting/-"
            .parse()
            .unwrap();
        assert_eq!(
            key.to_string(),
            "360121100/2026-03/empty_nest_elder/home_visiting/-"
        );
        assert!(
            "36012/2026-03/empty_nest_elder/home_visiting/-"
                .parse::<FigureKey>()
                .is_err()
        );
    }

    #[test]
    fn csv_cells_are_quoted_and_guarded() {
        assert_eq!(csv_cell("普通"), "普通");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("说“好”\"x\""), "\"说“好”\"\"x\"\"\"");
        assert_eq!(csv_cell("=1+1"), "'=1+1");
    }

    #[test]
    fn minutes_read_as_hours_and_minutes() {
        assert_eq!(format_minutes(45), "45分钟");
        assert_eq!(format_minutes(120), "2小时");
        assert_eq!(format_minutes(750), "12小时30分钟");
    }
}
