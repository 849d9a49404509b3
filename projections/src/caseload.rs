//! Caseload and visit obligations (走访频次): who looks after which open
//! case, at what risk, when it was last visited and when the next visit is
//! due.
//!
//! The tables hold facts only (last visit, risk level and since when, open
//! periods, visits per month). Whether a visit is due or overdue depends on
//! today and on the [`VisitPolicy`], so it is computed by the query
//! functions, never stored: a read model that changed with the wall clock
//! would differ between an incremental run and a rebuild.
//!
//! Nothing personal is kept: no name, no ID number, no address, no
//! wellbeing notes — a case is its id, its region and its risk.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{Datelike, Days, NaiveDate};
use serde::Serialize;
use shouwang_domain::RegionPrefix;
use shouwang_domain::care_case::CaseEvent;
use shouwang_domain::vocabulary::RiskLevel;
use shouwang_infrastructure::{Backend, Database, RecordedEvent, with_pool};
use uuid::Uuid;

use crate::projector::{BatchBuffer, apply_buffered};
use crate::sql::{Arg, TableNames, Tx, execute_rows};
use crate::{Projection, ProjectionError, with_tx};

/// The projections this module keeps.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    vec![Arc::new(CaseloadProjection)]
}

const TABLES: &[&str] = &[
    "caseload_cases",
    "caseload_caregivers",
    "caseload_open_periods",
    "caseload_visit_months",
];

const DATE_FORMAT: &str = "%Y-%m-%d";

/// The `caseload` read model.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaseloadProjection;

#[async_trait]
impl Projection for CaseloadProjection {
    fn name(&self) -> &'static str {
        "caseload"
    }

    fn version(&self) -> i32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        TABLES
    }

    fn create_tables(&self, _backend: Backend, names: &TableNames) -> Vec<String> {
        [
            // risk_since: when the current risk level began (a reassessment
            // at the same level does not restart the schedule);
            // active_since: when the case was last opened or reopened.
            "CREATE TABLE {caseload_cases} (
                case_id TEXT PRIMARY KEY,
                region TEXT NOT NULL,
                township TEXT NOT NULL,
                county TEXT NOT NULL,
                organization_id TEXT,
                status TEXT NOT NULL,
                risk_level TEXT NOT NULL,
                risk_since TEXT NOT NULL,
                opened_on TEXT NOT NULL,
                active_since TEXT NOT NULL,
                closed_on TEXT,
                last_visit TEXT,
                visits BIGINT NOT NULL
            )",
            "CREATE INDEX {caseload_cases}_by_region ON {caseload_cases} (region)",
            "CREATE INDEX {caseload_cases}_by_township ON {caseload_cases} (township)",
            "CREATE INDEX {caseload_cases}_by_county ON {caseload_cases} (county)",
            "CREATE INDEX {caseload_cases}_by_organization ON {caseload_cases} (organization_id)",
            "CREATE TABLE {caseload_caregivers} (
                case_id TEXT NOT NULL,
                organization_id TEXT NOT NULL,
                worker_id TEXT NOT NULL,
                arrangement TEXT NOT NULL,
                started_on TEXT NOT NULL,
                PRIMARY KEY (case_id, organization_id, worker_id)
            )",
            "CREATE INDEX {caseload_caregivers}_by_worker ON {caseload_caregivers} (worker_id)",
            "CREATE INDEX {caseload_caregivers}_by_organization ON {caseload_caregivers} (organization_id)",
            // One row per opening or reopening, keyed by the stream version
            // of that event: what the monthly visit rate counts as open.
            "CREATE TABLE {caseload_open_periods} (
                case_id TEXT NOT NULL,
                opened_version BIGINT NOT NULL,
                opened_on TEXT NOT NULL,
                closed_on TEXT,
                PRIMARY KEY (case_id, opened_version)
            )",
            "CREATE TABLE {caseload_visit_months} (
                case_id TEXT NOT NULL,
                month TEXT NOT NULL,
                visits BIGINT NOT NULL,
                PRIMARY KEY (case_id, month)
            )",
            "CREATE INDEX {caseload_visit_months}_by_month ON {caseload_visit_months} (month)",
        ]
        .iter()
        .map(|template| names.render(template))
        .collect()
    }

    async fn apply(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        apply_buffered::<CaseloadBatch>(self.name(), tx, names, std::slice::from_ref(event)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        apply_buffered::<CaseloadBatch>(self.name(), tx, names, events).await
    }
}

/// What a batch holds back. Visits only add to counters that no other event
/// reads; a case opened in the batch is kept in memory until its end, so
/// its risk reassessments change it there.
#[derive(Debug, Default)]
struct CaseloadBatch {
    opened: BTreeMap<String, OpenedCase>,
    open_periods: Vec<Vec<Arg>>,
    caregivers: Vec<Vec<Arg>>,
    /// Per case: visits recorded and the latest visit date seen.
    visits: BTreeMap<String, (i64, String)>,
    /// Per case and month: visits recorded.
    months: BTreeMap<(String, String), i64>,
}

#[derive(Debug)]
struct OpenedCase {
    region: String,
    township: String,
    county: String,
    organization_id: Option<String>,
    risk_level: &'static str,
    risk_since: String,
    opened_on: String,
}

const INSERT_CASES: &str = "INSERT INTO {caseload_cases} (case_id, region, township, county, \
     organization_id, status, risk_level, risk_since, opened_on, active_since, visits)";
const INSERT_OPEN_PERIODS: &str =
    "INSERT INTO {caseload_open_periods} (case_id, opened_version, opened_on)";
const INSERT_CAREGIVERS: &str = "INSERT INTO {caseload_caregivers} (case_id, organization_id, \
     worker_id, arrangement, started_on)";

#[async_trait]
impl BatchBuffer for CaseloadBatch {
    async fn apply(
        &mut self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        if event.stream_type != "care_case" || !USED_EVENTS.contains(&event.event_type.as_str()) {
            return Ok(());
        }
        let case_id = event.stream_id.as_str();
        let version = i64::try_from(event.stream_version).map_err(ProjectionError::decode)?;
        match event.decode::<CaseEvent>()? {
            CaseEvent::CaseOpened(opened) => {
                let region = &opened.residence_region;
                let opened_on = date_text(opened.opened_on);
                self.open_periods.push(vec![
                    Arg::Text(Some(case_id.to_owned())),
                    Arg::Int(Some(version)),
                    Arg::Text(Some(opened_on.clone())),
                ]);
                self.opened.insert(
                    case_id.to_owned(),
                    OpenedCase {
                        region: region.as_str().to_owned(),
                        township: region.township().to_owned(),
                        county: region.county().to_owned(),
                        organization_id: opened.organization_id.map(|id| id.to_string()),
                        risk_level: opened.risk_level.code(),
                        risk_since: opened_on.clone(),
                        opened_on,
                    },
                );
            }
            CaseEvent::RiskAssessed(assessed) => match self.opened.get_mut(case_id) {
                // Opened in this batch: reassessed in memory. A reassessment
                // at the same level does not restart the schedule, as in the
                // UPDATE of `apply_statement`.
                Some(case) => {
                    if case.risk_level != assessed.level.code() {
                        case.risk_since = date_text(assessed.assessed_on);
                    }
                    case.risk_level = assessed.level.code();
                }
                // Its row is already written: nothing held back to write first.
                None => {
                    let assessed = CaseEvent::RiskAssessed(assessed);
                    apply_statement(tx, names, case_id, version, assessed).await?;
                }
            },
            CaseEvent::CaregiverAssigned(assigned) => {
                self.caregivers.push(vec![
                    Arg::Text(Some(case_id.to_owned())),
                    Arg::Text(Some(assigned.organization_id.to_string())),
                    Arg::Text(Some(assigned.worker_id.to_string())),
                    Arg::Text(Some(assigned.arrangement.code().to_owned())),
                    Arg::Text(Some(date_text(assigned.started_on))),
                ]);
            }
            CaseEvent::VisitRecorded(visit) => {
                let visited_on = date_text(visit.visited_on);
                let case = self
                    .visits
                    .entry(case_id.to_owned())
                    .or_insert_with(|| (0, visited_on.clone()));
                case.0 += 1;
                // Visits are entered late and out of order: the latest date
                // seen, not the latest entry.
                if case.1 < visited_on {
                    case.1 = visited_on;
                }
                let month = visit.visited_on.format("%Y-%m").to_string();
                *self.months.entry((case_id.to_owned(), month)).or_default() += 1;
            }
            released @ CaseEvent::CaregiverReleased(_) => {
                self.write_caregivers(tx, names).await?;
                apply_statement(tx, names, case_id, version, released).await?;
            }
            other => {
                self.write_opened(tx, names).await?;
                apply_statement(tx, names, case_id, version, other).await?;
            }
        }
        Ok(())
    }

    async fn write(mut self, tx: &mut Tx<'_>, names: &TableNames) -> Result<(), ProjectionError> {
        self.write_opened(tx, names).await?;
        self.write_caregivers(tx, names).await?;
        let case_rows = self
            .visits
            .into_iter()
            .map(|(case_id, (visits, last))| {
                vec![
                    Arg::Text(Some(case_id)),
                    Arg::Int(Some(visits)),
                    Arg::Text(Some(last)),
                ]
            })
            .collect();
        execute_rows(
            tx,
            &names.render(
                "UPDATE {caseload_cases} SET visits = visits + v.column2, \
                 last_visit = CASE WHEN last_visit IS NULL OR last_visit < v.column3 \
                 THEN v.column3 ELSE last_visit END FROM (",
            ),
            &names.render(") AS v WHERE {caseload_cases}.case_id = v.column1"),
            case_rows,
        )
        .await?;
        let month_rows = self
            .months
            .into_iter()
            .map(|((case_id, month), visits)| {
                vec![
                    Arg::Text(Some(case_id)),
                    Arg::Text(Some(month)),
                    Arg::Int(Some(visits)),
                ]
            })
            .collect();
        execute_rows(
            tx,
            &names.render("INSERT INTO {caseload_visit_months} (case_id, month, visits)"),
            &names.render(
                "ON CONFLICT (case_id, month) DO UPDATE \
                 SET visits = {caseload_visit_months}.visits + excluded.visits",
            ),
            month_rows,
        )
        .await
    }
}

impl CaseloadBatch {
    /// Writes the cases opened in the batch and their open periods.
    async fn write_opened(
        &mut self,
        tx: &mut Tx<'_>,
        names: &TableNames,
    ) -> Result<(), ProjectionError> {
        let cases = std::mem::take(&mut self.opened)
            .into_iter()
            .map(|(case_id, case)| {
                vec![
                    Arg::Text(Some(case_id)),
                    Arg::Text(Some(case.region)),
                    Arg::Text(Some(case.township)),
                    Arg::Text(Some(case.county)),
                    Arg::Text(case.organization_id),
                    Arg::Text(Some("open".to_owned())),
                    Arg::Text(Some(case.risk_level.to_owned())),
                    Arg::Text(Some(case.risk_since)),
                    Arg::Text(Some(case.opened_on.clone())),
                    Arg::Text(Some(case.opened_on)),
                    Arg::Int(Some(0)),
                ]
            })
            .collect();
        execute_rows(tx, &names.render(INSERT_CASES), "", cases).await?;
        let periods = std::mem::take(&mut self.open_periods);
        execute_rows(tx, &names.render(INSERT_OPEN_PERIODS), "", periods).await
    }

    async fn write_caregivers(
        &mut self,
        tx: &mut Tx<'_>,
        names: &TableNames,
    ) -> Result<(), ProjectionError> {
        let rows = std::mem::take(&mut self.caregivers);
        execute_rows(tx, &names.render(INSERT_CAREGIVERS), "", rows).await
    }
}

/// The events that update rows the batch does not hold: each by its own
/// statements. Openings, caregivers assigned and visits never come here.
async fn apply_statement(
    tx: &mut Tx<'_>,
    names: &TableNames,
    case_id: &str,
    version: i64,
    event: CaseEvent,
) -> Result<(), ProjectionError> {
    match event {
        CaseEvent::RiskAssessed(assessed) => {
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {caseload_cases} SET \
                     risk_since = CASE WHEN risk_level = $2 THEN risk_since ELSE $3 END, \
                     risk_level = $2 WHERE case_id = $1",
                ))
                .bind(case_id)
                .bind(assessed.level.code())
                .bind(date_text(assessed.assessed_on))
                .execute(&mut *conn)
                .await?;
            });
        }
        CaseEvent::CaregiverReleased(released) => {
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "DELETE FROM {caseload_caregivers} \
                     WHERE case_id = $1 AND organization_id = $2 AND worker_id = $3",
                ))
                .bind(case_id)
                .bind(released.organization_id.to_string())
                .bind(released.worker_id.to_string())
                .execute(&mut *conn)
                .await?;
            });
        }
        CaseEvent::CaseTransferred(transferred) => {
            let region = &transferred.to_region;
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {caseload_cases} SET region = $2, township = $3, county = $4, \
                     organization_id = $5 WHERE case_id = $1",
                ))
                .bind(case_id)
                .bind(region.as_str())
                .bind(region.township())
                .bind(region.county())
                .bind(transferred.to_organization_id.map(|id| id.to_string()))
                .execute(&mut *conn)
                .await?;
            });
        }
        CaseEvent::CaseClosed(closed) => {
            let closed_on = date_text(closed.closed_on);
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {caseload_cases} SET status = 'closed', closed_on = $2 WHERE case_id = $1",
                ))
                .bind(case_id)
                .bind(&closed_on)
                .execute(&mut *conn)
                .await?;
                sqlx::query(names.sql(
                    "UPDATE {caseload_open_periods} SET closed_on = $2 \
                     WHERE case_id = $1 AND closed_on IS NULL",
                ))
                .bind(case_id)
                .bind(&closed_on)
                .execute(&mut *conn)
                .await?;
            });
        }
        CaseEvent::CaseReopened(reopened) => {
            let reopened_on = date_text(reopened.reopened_on);
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {caseload_cases} SET status = 'open', closed_on = NULL, \
                     active_since = $2 WHERE case_id = $1",
                ))
                .bind(case_id)
                .bind(&reopened_on)
                .execute(&mut *conn)
                .await?;
                sqlx::query(names.sql(
                    "INSERT INTO {caseload_open_periods} (case_id, opened_version, opened_on, closed_on) \
                     VALUES ($1, $2, $3, NULL)",
                ))
                .bind(case_id)
                .bind(version)
                .bind(&reopened_on)
                .execute(&mut *conn)
                .await?;
            });
        }
        _ => {}
    }
    Ok(())
}

/// The care-case events this read model uses. Corrections are not among
/// them: their corrected fields are sealed as a whole, so a projection
/// (which never sees personal data) cannot read what they correct.
const USED_EVENTS: &[&str] = &[
    "CaseOpened",
    "RiskAssessed",
    "CaregiverAssigned",
    "CaregiverReleased",
    "VisitRecorded",
    "CaseTransferred",
    "CaseClosed",
    "CaseReopened",
];

fn date_text(date: NaiveDate) -> String {
    date.format(DATE_FORMAT).to_string()
}

fn parse_date(text: &str) -> Result<NaiveDate, ProjectionError> {
    NaiveDate::parse_from_str(text, DATE_FORMAT)
        .map_err(|error| ProjectionError::decode(format!("日期“{text}”无法解析：{error}")))
}

fn parse_uuid(text: &str) -> Result<Uuid, ProjectionError> {
    Uuid::parse_str(text)
        .map_err(|error| ProjectionError::decode(format!("编号“{text}”无法解析：{error}")))
}

fn parse_risk(code: &str) -> Result<RiskLevel, ProjectionError> {
    RiskLevel::from_code(code)
        .ok_or_else(|| ProjectionError::decode(format!("未知的风险等级“{code}”")))
}

/// How often a case must be visited, by risk level (走访频次). Intervals
/// are in days; a visit is overdue the day after it falls due.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct VisitPolicy {
    /// A crisis case is visited within this many days of the crisis being
    /// assessed (or of opening or reopening at crisis level)…
    pub crisis_first_within_days: u32,
    /// …and then at least this often.
    pub crisis_every_days: u32,
    pub high_every_days: u32,
    pub medium_every_days: u32,
    pub low_every_days: u32,
}

impl Default for VisitPolicy {
    /// Crisis: within 24 hours, then weekly; high: weekly; medium: monthly;
    /// low: quarterly.
    fn default() -> Self {
        Self {
            crisis_first_within_days: 1,
            crisis_every_days: 7,
            high_every_days: 7,
            medium_every_days: 30,
            low_every_days: 90,
        }
    }
}

impl VisitPolicy {
    /// The regular interval for `risk`.
    pub fn every_days(&self, risk: RiskLevel) -> u32 {
        match risk {
            RiskLevel::Crisis => self.crisis_every_days,
            RiskLevel::High => self.high_every_days,
            RiskLevel::Medium => self.medium_every_days,
            RiskLevel::Low => self.low_every_days,
        }
    }

    /// When the next visit falls due. `since` is when the obligation at this
    /// level began: the later of the date the risk level was set and the
    /// date the case was (re)opened. A visit before `since` was made under
    /// another obligation and does not count towards this one's first visit.
    pub fn next_visit_due(
        &self,
        risk: RiskLevel,
        since: NaiveDate,
        last_visit: Option<NaiveDate>,
    ) -> NaiveDate {
        let current_visit = last_visit.filter(|visited| *visited >= since);
        let (base, days) = match (risk, current_visit) {
            (RiskLevel::Crisis, None) => (since, self.crisis_first_within_days),
            (_, Some(visited)) => (visited, self.every_days(risk)),
            (_, None) => (since, self.every_days(risk)),
        };
        base.checked_add_days(Days::new(u64::from(days)))
            .unwrap_or(NaiveDate::MAX)
    }
}

/// Whose caseload to look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CaseloadScope {
    /// The cases a worker currently looks after (包户).
    Worker(Uuid),
    /// The cases an organization is responsible for, or that one of its
    /// workers currently looks after.
    Organization(Uuid),
    /// The cases living in a township (9-digit prefix).
    Township(RegionPrefix),
    /// The cases living in a county (6-digit prefix).
    County(RegionPrefix),
}

impl CaseloadScope {
    /// The SQL condition on `c` (the case row) and its one parameter.
    /// Region scopes match by prefix of the full region code, so a prefix of
    /// another level than the variant says still selects exactly its area.
    fn condition(&self) -> (&'static str, String) {
        match self {
            CaseloadScope::Worker(worker_id) => (
                "EXISTS (SELECT 1 FROM {caseload_caregivers} w \
                 WHERE w.case_id = c.case_id AND w.worker_id = $1)",
                worker_id.to_string(),
            ),
            CaseloadScope::Organization(organization_id) => (
                "(c.organization_id = $1 OR EXISTS (SELECT 1 FROM {caseload_caregivers} w \
                 WHERE w.case_id = c.case_id AND w.organization_id = $1))",
                organization_id.to_string(),
            ),
            CaseloadScope::Township(prefix) | CaseloadScope::County(prefix) => {
                ("c.region LIKE $1", like_prefix(prefix))
            }
        }
    }
}

/// A `LIKE` pattern for codes within `prefix`; a prefix is digits only, so
/// it holds no wildcard.
fn like_prefix(prefix: &RegionPrefix) -> String {
    format!("{}%", prefix.as_str())
}

/// One open case and its visit obligation on a given day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseObligation {
    pub case_id: Uuid,
    /// The 12-digit region code where the person lives.
    pub region: String,
    /// The organization responsible for the case.
    pub organization_id: Option<Uuid>,
    /// The workers currently looking after the person.
    pub worker_ids: Vec<Uuid>,
    pub risk: RiskLevel,
    pub opened_on: NaiveDate,
    pub last_visit: Option<NaiveDate>,
    pub next_visit_due: NaiveDate,
    /// Days past the due date; 0 when not overdue.
    pub overdue_days: i64,
}

impl CaseObligation {
    pub fn is_overdue(&self) -> bool {
        self.overdue_days > 0
    }
}

/// Open cases by current risk level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RiskCounts {
    pub crisis: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

impl RiskCounts {
    fn count(&mut self, risk: RiskLevel) {
        let slot = match risk {
            RiskLevel::Crisis => &mut self.crisis,
            RiskLevel::High => &mut self.high,
            RiskLevel::Medium => &mut self.medium,
            RiskLevel::Low => &mut self.low,
        };
        *slot += 1;
    }
}

/// A caseload on a given day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caseload {
    pub open_cases: u64,
    pub by_risk: RiskCounts,
    pub overdue_count: u64,
    /// Every open case in scope, the visit falling due first at the top.
    pub cases: Vec<CaseObligation>,
}

type CaseRow = (
    String,
    String,
    Option<String>,
    String,
    String,
    String,
    String,
    Option<String>,
);

/// The open cases in `scope`, with their obligations on `today`.
async fn obligations(
    db: &Database,
    scope: &CaseloadScope,
    today: NaiveDate,
    policy: &VisitPolicy,
) -> Result<Vec<CaseObligation>, ProjectionError> {
    let names = TableNames::live(TABLES);
    let (condition, parameter) = scope.condition();
    let cases_sql = names.sql(&format!(
        "SELECT c.case_id, c.region, c.organization_id, c.risk_level, c.risk_since, \
         c.active_since, c.opened_on, c.last_visit FROM {{caseload_cases}} c \
         WHERE c.status = 'open' AND {condition}"
    ));
    let workers_sql = names.sql(&format!(
        "SELECT g.case_id, g.worker_id FROM {{caseload_caregivers}} g \
         JOIN {{caseload_cases}} c ON c.case_id = g.case_id \
         WHERE c.status = 'open' AND {condition}"
    ));
    let (rows, worker_rows): (Vec<CaseRow>, Vec<(String, String)>) = with_pool!(db, pool => {
        let rows = sqlx::query_as(cases_sql).bind(&parameter).fetch_all(pool).await?;
        let worker_rows = sqlx::query_as(workers_sql).bind(&parameter).fetch_all(pool).await?;
        (rows, worker_rows)
    });
    let mut workers: BTreeMap<String, Vec<Uuid>> = BTreeMap::new();
    for (case_id, worker_id) in worker_rows {
        workers
            .entry(case_id)
            .or_default()
            .push(parse_uuid(&worker_id)?);
    }
    let mut cases = Vec::with_capacity(rows.len());
    for (case_id, region, organization_id, risk, risk_since, active_since, opened_on, last_visit) in
        rows
    {
        let risk = parse_risk(&risk)?;
        let since = parse_date(&risk_since)?.max(parse_date(&active_since)?);
        let last_visit = last_visit.as_deref().map(parse_date).transpose()?;
        let next_visit_due = policy.next_visit_due(risk, since, last_visit);
        let mut worker_ids = workers.remove(&case_id).unwrap_or_default();
        worker_ids.sort();
        cases.push(CaseObligation {
            case_id: parse_uuid(&case_id)?,
            region,
            organization_id: organization_id.as_deref().map(parse_uuid).transpose()?,
            worker_ids,
            risk,
            opened_on: parse_date(&opened_on)?,
            last_visit,
            next_visit_due,
            overdue_days: (today - next_visit_due).num_days().max(0),
        });
    }
    cases.sort_by(|a, b| {
        a.next_visit_due
            .cmp(&b.next_visit_due)
            .then(b.risk.cmp(&a.risk))
            .then(a.case_id.cmp(&b.case_id))
    });
    Ok(cases)
}

/// The caseload of `scope` on `today`: open cases, their risk levels and
/// visit obligations under `policy`. Closed cases are not part of it.
pub async fn caseload(
    db: &Database,
    scope: &CaseloadScope,
    today: NaiveDate,
    policy: &VisitPolicy,
) -> Result<Caseload, ProjectionError> {
    let cases = obligations(db, scope, today, policy).await?;
    let mut by_risk = RiskCounts::default();
    for case in &cases {
        by_risk.count(case.risk);
    }
    Ok(Caseload {
        open_cases: cases.len() as u64,
        by_risk,
        overdue_count: cases.iter().filter(|case| case.is_overdue()).count() as u64,
        cases,
    })
}

/// The open cases of `scope` whose visit is overdue on `today`, the most
/// overdue first (then the higher risk).
pub async fn overdue_visits(
    db: &Database,
    scope: &CaseloadScope,
    today: NaiveDate,
    policy: &VisitPolicy,
) -> Result<Vec<CaseObligation>, ProjectionError> {
    let mut overdue: Vec<CaseObligation> = obligations(db, scope, today, policy)
        .await?
        .into_iter()
        .filter(CaseObligation::is_overdue)
        .collect();
    overdue.sort_by(|a, b| {
        b.overdue_days
            .cmp(&a.overdue_days)
            .then(b.risk.cmp(&a.risk))
            .then(a.case_id.cmp(&b.case_id))
    });
    Ok(overdue)
}

/// A calendar month.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub struct Month {
    year: i32,
    month: u32,
}

impl Month {
    /// `None` when `month` is not 1–12 or the year is out of range.
    pub fn new(year: i32, month: u32) -> Option<Self> {
        NaiveDate::from_ymd_opt(year, month, 1).map(|_| Self { year, month })
    }

    /// The month `date` falls in.
    pub fn of(date: NaiveDate) -> Self {
        Self {
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

    pub fn first_day(&self) -> NaiveDate {
        NaiveDate::from_ymd_opt(self.year, self.month, 1).unwrap_or(NaiveDate::MIN)
    }

    pub fn last_day(&self) -> NaiveDate {
        let (year, month) = if self.month == 12 {
            (self.year + 1, 1)
        } else {
            (self.year, self.month + 1)
        };
        NaiveDate::from_ymd_opt(year, month, 1)
            .and_then(|next| next.pred_opt())
            .unwrap_or(NaiveDate::MAX)
    }

    /// `YYYY-MM`.
    pub fn key(&self) -> String {
        format!("{:04}-{:02}", self.year, self.month)
    }
}

/// 月探访率: of the cases open at any time during a month, how many had at
/// least one visit dated in that month.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VisitRate {
    pub region_prefix: String,
    /// `YYYY-MM`.
    pub month: String,
    pub open_cases: u64,
    pub visited_cases: u64,
    /// visited / open in per mille, rounded half up; 0 when nothing was open.
    pub rate_permille: u64,
}

/// The monthly visit rate of the cases living in `region_prefix` (by their
/// current region). A visit entered late still counts for the month it is
/// dated in.
pub async fn monthly_visit_rate(
    db: &Database,
    region_prefix: &RegionPrefix,
    month: Month,
) -> Result<VisitRate, ProjectionError> {
    let names = TableNames::live(TABLES);
    let open_in_month = "FROM {caseload_cases} c WHERE c.region LIKE $1 AND EXISTS (\
         SELECT 1 FROM {caseload_open_periods} p WHERE p.case_id = c.case_id \
         AND p.opened_on <= $3 AND (p.closed_on IS NULL OR p.closed_on >= $2))";
    let open_sql = names.sql(&format!("SELECT COUNT(*) {open_in_month}"));
    let visited_sql = names.sql(&format!(
        "SELECT COUNT(*) {open_in_month} AND EXISTS (SELECT 1 FROM {{caseload_visit_months}} v \
         WHERE v.case_id = c.case_id AND v.month = $4)"
    ));
    let pattern = like_prefix(region_prefix);
    let first_day = date_text(month.first_day());
    let last_day = date_text(month.last_day());
    let key = month.key();
    let (open_cases, visited_cases): (i64, i64) = with_pool!(db, pool => {
        let open: i64 = sqlx::query_scalar(open_sql)
            .bind(&pattern)
            .bind(&first_day)
            .bind(&last_day)
            .fetch_one(pool)
            .await?;
        let visited: i64 = sqlx::query_scalar(visited_sql)
            .bind(&pattern)
            .bind(&first_day)
            .bind(&last_day)
            .bind(&key)
            .fetch_one(pool)
            .await?;
        (open, visited)
    });
    let open_cases = u64::try_from(open_cases).unwrap_or_default();
    let visited_cases = u64::try_from(visited_cases).unwrap_or_default();
    Ok(VisitRate {
        region_prefix: region_prefix.as_str().to_owned(),
        month: key,
        open_cases,
        visited_cases,
        rate_permille: permille(visited_cases, open_cases),
    })
}

/// `part / whole` in per mille, rounded half up.
fn permille(part: u64, whole: u64) -> u64 {
    if whole == 0 {
        return 0;
    }
    (part * 1000 + whole / 2) / whole
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn obligations_follow_the_policy() {
        let policy = VisitPolicy::default();
        let since = date(2026, 3, 1);
        assert_eq!(
            policy.next_visit_due(RiskLevel::Crisis, since, None),
            date(2026, 3, 2),
            "a crisis is visited within a day"
        );
        assert_eq!(
            policy.next_visit_due(RiskLevel::Crisis, since, Some(date(2026, 2, 27))),
            date(2026, 3, 2),
            "a visit before the crisis does not count as its first visit"
        );
        assert_eq!(
            policy.next_visit_due(RiskLevel::Crisis, since, Some(date(2026, 3, 2))),
            date(2026, 3, 9)
        );
        assert_eq!(
            policy.next_visit_due(RiskLevel::High, since, Some(date(2026, 3, 10))),
            date(2026, 3, 17)
        );
        assert_eq!(
            policy.next_visit_due(RiskLevel::Medium, since, None),
            date(2026, 3, 31)
        );
        assert_eq!(
            policy.next_visit_due(RiskLevel::Low, since, Some(date(2026, 2, 1))),
            date(2026, 5, 30),
            "the new obligation runs from when it began"
        );
    }

    #[test]
    fn months_and_rates() {
        let february = Month::new(2028, 2).unwrap();
        assert_eq!(february.last_day(), date(2028, 2, 29));
        assert_eq!(Month::new(2026, 12).unwrap().last_day(), date(2026, 12, 31));
        assert_eq!(Month::new(2026, 13), None);
        assert_eq!(Month::of(date(2026, 7, 9)).key(), "2026-07");
        assert_eq!(permille(2, 3), 667);
        assert_eq!(permille(1, 3), 333);
        assert_eq!(permille(0, 0), 0);
        assert_eq!(permille(5, 5), 1000);
    }
}
