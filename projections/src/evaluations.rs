//! 评估报告: the monthly dispatch report (月调度), the quarterly supervision
//! summary (季督导) and the year-end organization ranking (年底通报).
//!
//! Reports are generated on request, not kept by the projector. Each one is
//! computed from the facts of the statistics read model up to a **cut** in the
//! global feed — the statistics projection's checkpoint when it was generated
//! — and stored with that cut in `evaluation_reports` (append-only). Because
//! fact rows are never changed and carry their feed cursor, a stored report
//! can be computed again exactly ([`regenerate`]), and two versions of the same
//! report can be compared figure by figure, naming the events recorded
//! between their cuts that changed each figure ([`diff_reports`]): late
//! entries (a visit entered for a date already reported) and corrections.
//!
//! The cut is a feed cursor `(txid, position)`, not a bare position: on
//! PostgreSQL the feed is ordered by writing transaction first (ADR 0001), so
//! "position ≤ P" could later take in an event that committed after the
//! report. `position` in the report is the highest event position included,
//! for people.
//!
//! Periods close on the 25th (月调度 “每月 25 日之前”): month M covers the 26th
//! of M−1 through the 25th of M. A quarter is its three dispatch months and a
//! year its twelve (26 December of the year before through 25 December), so
//! quarters add up to the year and months to the quarter.
//!
//! All arithmetic is on integers. Ratios are given per thousand (‰) or ×100,
//! rounded down.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use chrono::{Datelike, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use shouwang_domain::RegionPrefix;
use shouwang_domain::vocabulary::{ActionLine, ActivityStatus, CareCategory, ServiceType};
use shouwang_infrastructure::store::format_instant;
use shouwang_infrastructure::{Database, with_pool};
use uuid::Uuid;

use crate::statistics::{LoggedActivityEvent, Month, STATISTICS, fold_activity};
use crate::{Projection, ProjectionError};

/// Reports are generated on request; no projection of their own.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    Vec::new()
}

/// Why a report could not be generated, found or compared.
#[derive(Debug, thiserror::Error)]
pub enum EvaluationError {
    #[error("找不到评估报告 {0}")]
    NotFound(Uuid),
    #[error("两份报告不是同一类型、同一期间、同一地区的报告，无法比较：{a} 与 {b}")]
    NotComparable { a: String, b: String },
    #[error("统计读模型尚未建立，请先启动读模型或运行 shouwang rebuild statistics")]
    StatisticsNotReady,
    #[error(
        "统计读模型已因错误停止（位置 {position}）：{reason}。修复后请运行 shouwang rebuild statistics 再生成报告"
    )]
    StatisticsStopped { position: i64, reason: String },
    #[error(transparent)]
    InvalidPeriod(#[from] PeriodParseError),
    #[error(
        "请求编号 {0} 已用于另一份不同的报告（期间、地区或生成人不同），请为新的操作生成新的编号"
    )]
    RequestIdReused(Uuid),
    #[error("已存储的报告 {id} 无法读取：{reason}")]
    Unreadable { id: String, reason: String },
    #[error(transparent)]
    Projection(#[from] ProjectionError),
    #[error("评估报告数据库操作失败：{0}")]
    Database(#[from] sqlx::Error),
}

// ---------------------------------------------------------------------------
// Kinds and periods.

/// What a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// 月调度.
    MonthlyDispatch,
    /// 季督导.
    QuarterlySupervision,
    /// 年底通报 (with the organization ranking).
    AnnualRanking,
}

impl ReportKind {
    pub const ALL: &'static [Self] = &[
        Self::MonthlyDispatch,
        Self::QuarterlySupervision,
        Self::AnnualRanking,
    ];

    pub fn code(&self) -> &'static str {
        match self {
            ReportKind::MonthlyDispatch => "monthly_dispatch",
            ReportKind::QuarterlySupervision => "quarterly_supervision",
            ReportKind::AnnualRanking => "annual_ranking",
        }
    }

    pub fn label_zh(&self) -> &'static str {
        match self {
            ReportKind::MonthlyDispatch => "月调度",
            ReportKind::QuarterlySupervision => "季督导",
            ReportKind::AnnualRanking => "年底通报",
        }
    }

    pub fn from_code(code: &str) -> Option<Self> {
        Self::ALL.iter().copied().find(|kind| kind.code() == code)
    }
}

/// The period a report covers; its form decides the kind of report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ReportPeriod {
    /// A dispatch month, written `2026-03`.
    Month(Month),
    /// A quarter of dispatch months, written `2026-Q1`.
    Quarter { year: i32, quarter: u32 },
    /// A year of dispatch months, written `2026`.
    Year(i32),
}

/// Why a text is not a report period.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("报告期间“{0}”格式有误：月调度写作 2026-03，季督导写作 2026-Q1，年底通报写作 2026")]
pub struct PeriodParseError(String);

/// The dispatch month a date is reported in: the 26th and later belong to the
/// next month.
pub fn dispatch_month(date: NaiveDate) -> Month {
    let month = Month::of(date);
    if date.day() >= 26 {
        month.next()
    } else {
        month
    }
}

/// The dates a dispatch month covers: the 26th of the month before through
/// the 25th.
pub fn dispatch_window(month: Month) -> (NaiveDate, NaiveDate) {
    let previous = month.previous();
    let from = NaiveDate::from_ymd_opt(previous.year(), previous.month(), 26).unwrap_or_default();
    let to = NaiveDate::from_ymd_opt(month.year(), month.month(), 25).unwrap_or_default();
    (from, to)
}

impl ReportPeriod {
    pub fn kind(&self) -> ReportKind {
        match self {
            ReportPeriod::Month(_) => ReportKind::MonthlyDispatch,
            ReportPeriod::Quarter { .. } => ReportKind::QuarterlySupervision,
            ReportPeriod::Year(_) => ReportKind::AnnualRanking,
        }
    }

    /// The dispatch months covered, in order.
    pub fn months(&self) -> Vec<Month> {
        let (year, first, count) = match *self {
            ReportPeriod::Month(month) => return vec![month],
            ReportPeriod::Quarter { year, quarter } => (year, quarter * 3 - 2, 3),
            ReportPeriod::Year(year) => (year, 1, 12),
        };
        (first..first + count)
            .filter_map(|month| Month::new(year, month))
            .collect()
    }

    /// First and last date covered.
    pub fn window(&self) -> (NaiveDate, NaiveDate) {
        let months = self.months();
        let from = months.first().map(|m| dispatch_window(*m).0);
        let to = months.last().map(|m| dispatch_window(*m).1);
        (from.unwrap_or_default(), to.unwrap_or_default())
    }

    /// How the period is named in titles: `2026年3月`, `2026年第一季度`, `2026年度`.
    pub fn label_zh(&self) -> String {
        match self {
            ReportPeriod::Month(month) => format!("{}年{}月", month.year(), month.month()),
            ReportPeriod::Quarter { year, quarter } => {
                let ordinal = ["一", "二", "三", "四"]
                    .get(usize::try_from(*quarter).unwrap_or(0).saturating_sub(1))
                    .copied()
                    .unwrap_or("?");
                format!("{year}年第{ordinal}季度")
            }
            ReportPeriod::Year(year) => format!("{year}年度"),
        }
    }
}

impl fmt::Display for ReportPeriod {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportPeriod::Month(month) => write!(formatter, "{month}"),
            ReportPeriod::Quarter { year, quarter } => write!(formatter, "{year:04}-Q{quarter}"),
            ReportPeriod::Year(year) => write!(formatter, "{year:04}"),
        }
    }
}

impl FromStr for ReportPeriod {
    type Err = PeriodParseError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let text = text.trim();
        let error = || PeriodParseError(text.to_owned());
        let year = |digits: &str| -> Result<i32, PeriodParseError> {
            if digits.len() != 4 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(error());
            }
            digits.parse().map_err(|_| error())
        };
        if let Some((y, q)) = text.split_once("-Q") {
            let quarter = match q {
                "1" => 1,
                "2" => 2,
                "3" => 3,
                "4" => 4,
                _ => return Err(error()),
            };
            return Ok(ReportPeriod::Quarter {
                year: year(y)?,
                quarter,
            });
        }
        if text.len() == 4 {
            return Ok(ReportPeriod::Year(year(text)?));
        }
        text.parse().map(ReportPeriod::Month).map_err(|_| error())
    }
}

impl Serialize for ReportPeriod {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for ReportPeriod {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// What to report on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportRequest {
    pub period: ReportPeriod,
    /// The area: facts (services, needs, activities) located within it.
    pub region: RegionPrefix,
}

// ---------------------------------------------------------------------------
// The report body.

/// Where in the global feed a report was computed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportCut {
    /// The statistics projection's feed cursor: every event up to it in feed
    /// order is included, none after.
    pub txid: i64,
    pub cursor_position: i64,
    /// The highest event position included.
    pub position: i64,
}

impl ReportCut {
    fn includes(&self, txid: i64, position: i64) -> bool {
        (txid, position) <= (self.txid, self.cursor_position)
    }
}

/// Points of the year-end ranking. Score = Σ weight × metric; the satisfaction
/// term rewards evaluations above “3 — 一般” and penalises those below.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankingWeights {
    /// Per service delivered to a care case (服务次数).
    pub service: i64,
    /// Per visit to a case the organization looks after (探访次数).
    pub visit: i64,
    /// Per full hour of service time.
    pub service_hour: i64,
    /// Per activity organized (发起).
    pub activity_organized: i64,
    /// Per 受益人次 of the activities it organized.
    pub activity_person_time: i64,
    /// Per activity it took part in (参与).
    pub activity_participation: i64,
    /// Per need fulfilled by its due date (按期办结).
    pub need_on_time: i64,
    /// Per need fulfilled after its due date.
    pub need_late: i64,
    /// Per point of (satisfaction − 3) in residents' evaluations (1–5).
    pub satisfaction_point: i64,
}

/// The weights in force; changing them changes future reports only (a
/// stored report carries the weights it used).
pub const RANKING_WEIGHTS: RankingWeights = RankingWeights {
    service: 10,
    visit: 5,
    service_hour: 2,
    activity_organized: 20,
    activity_person_time: 1,
    activity_participation: 5,
    need_on_time: 30,
    need_late: 10,
    satisfaction_point: 10,
};

/// One organization in the year-end ranking, with the metrics behind its
/// rank.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RankingRow {
    /// Competition ranking: equal scores share a rank (1, 2, 2, 4).
    pub rank: i64,
    pub organization_id: String,
    pub name: String,
    pub score: i64,
    pub services: i64,
    pub visits: i64,
    pub service_minutes: i64,
    pub activities_organized: i64,
    pub activity_person_times: i64,
    pub activity_participations: i64,
    pub needs_fulfilled_on_time: i64,
    pub needs_fulfilled_late: i64,
    pub evaluations: i64,
    pub satisfaction_sum: i64,
}

/// A report's content: everything in it is computed from the facts up to
/// `as_of`, so it is the same whenever it is computed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportBody {
    pub kind: ReportKind,
    pub title: String,
    pub period: ReportPeriod,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub region: String,
    pub as_of: ReportCut,
    /// Every figure by its key (see [`figure_label`]).
    pub figures: BTreeMap<String, i64>,
    /// Names of the organizations the figures mention.
    pub organizations: BTreeMap<String, String>,
    /// The year-end ranking (empty for other kinds).
    pub ranking: Vec<RankingRow>,
    pub weights: Option<RankingWeights>,
}

/// A report as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReport {
    pub id: Uuid,
    pub kind: ReportKind,
    pub period: ReportPeriod,
    pub region: String,
    /// 1, 2, … for the same kind, period and region.
    pub version: i64,
    pub cut: ReportCut,
    pub generated_at: String,
    pub generated_by: String,
    pub body: ReportBody,
    /// The body exactly as stored.
    pub body_json: String,
}

// ---------------------------------------------------------------------------
// Facts as of a cut.

const CUT: &str = "(txid < $2 OR (txid = $2 AND position <= $3))";

#[derive(Debug, Clone, sqlx::FromRow)]
struct ServiceFactRow {
    position: i64,
    txid: i64,
    case_id: String,
    event_type: String,
    served_on: String,
    township: String,
    category: String,
    service_type: String,
    action_line: String,
    organization_id: String,
    minutes: i64,
    money_fen: i64,
    material_value_fen: i64,
    recorded_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct NeedFactRow {
    position: i64,
    txid: i64,
    need_id: String,
    event_type: String,
    township: String,
    micro_wish: i64,
    organization_id: String,
    event_on: String,
    due_on: String,
    on_time: i64,
    satisfaction: i64,
    minutes: i64,
    money_fen: i64,
    material_value_fen: i64,
    recorded_at: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
struct ActivityEventRow {
    activity_id: String,
    #[sqlx(flatten)]
    event: LoggedActivityEvent,
}

type FactRows = (
    Vec<ServiceFactRow>,
    Vec<NeedFactRow>,
    Vec<ActivityEventRow>,
    Vec<(String, String)>,
);

struct Facts {
    services: Vec<ServiceFactRow>,
    needs: Vec<NeedFactRow>,
    activities: Vec<ActivityEventRow>,
    organizations: BTreeMap<String, String>,
}

async fn load_facts(
    db: &Database,
    request: &ReportRequest,
    cut: &ReportCut,
) -> Result<Facts, EvaluationError> {
    let pattern = format!("{}%", request.region.as_str());
    let (from, to) = request.period.window();
    let (from, to) = (from.to_string(), to.to_string());
    let services_sql = format!(
        "SELECT position, txid, case_id, event_type, served_on, township, category, service_type, \
         action_line, organization_id, minutes, money_fen, material_value_fen, recorded_at \
         FROM statistics_service_facts WHERE region LIKE $1 AND {CUT} AND served_on >= $4 AND served_on <= $5"
    );
    let needs_sql = format!(
        "SELECT position, txid, need_id, event_type, township, micro_wish, organization_id, event_on, \
         due_on, on_time, satisfaction, minutes, money_fen, material_value_fen, recorded_at \
         FROM statistics_need_facts WHERE region LIKE $1 AND {CUT}"
    );
    let activities_sql = format!(
        "SELECT activity_id, stream_version, position, txid, event_type, payload, recorded_at \
         FROM statistics_activity_events WHERE {CUT} AND activity_id IN \
         (SELECT activity_id FROM statistics_activity_events WHERE region LIKE $1 AND {CUT})"
    );
    let organizations_sql = format!(
        "SELECT organization_id, name FROM statistics_organizations WHERE $1 = $1 AND {CUT}"
    );
    let (mut services, mut needs, mut activities, organizations): FactRows = with_pool!(db, pool => {
        let services = sqlx::query_as(sqlx::AssertSqlSafe(services_sql))
            .bind(&pattern).bind(cut.txid).bind(cut.cursor_position).bind(&from).bind(&to)
            .fetch_all(pool).await?;
        let needs = sqlx::query_as(sqlx::AssertSqlSafe(needs_sql))
            .bind(&pattern).bind(cut.txid).bind(cut.cursor_position)
            .fetch_all(pool).await?;
        let activities = sqlx::query_as(sqlx::AssertSqlSafe(activities_sql))
            .bind(&pattern).bind(cut.txid).bind(cut.cursor_position)
            .fetch_all(pool).await?;
        let organizations = sqlx::query_as(sqlx::AssertSqlSafe(organizations_sql))
            .bind(&pattern).bind(cut.txid).bind(cut.cursor_position)
            .fetch_all(pool).await?;
        (services, needs, activities, organizations)
    });
    // Ordered here rather than in SQL: text collation differs between the
    // backends, and the body must be the same on both.
    services.sort_by(|a, b| {
        (a.position, &a.category, &a.service_type).cmp(&(b.position, &b.category, &b.service_type))
    });
    needs.sort_by_key(|row| row.position);
    activities.sort_by(|a, b| {
        (&a.activity_id, a.event.stream_version).cmp(&(&b.activity_id, b.event.stream_version))
    });
    Ok(Facts {
        services,
        needs,
        activities,
        organizations: organizations.into_iter().collect(),
    })
}

// ---------------------------------------------------------------------------
// Computing a report from facts.

/// An event named by a diff.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct EventRef {
    pub position: i64,
    pub stream_type: String,
    pub stream_id: String,
    pub event_type: String,
    pub recorded_at: String,
    pub nature: EventNature,
}

/// Why an event recorded after a report changes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventNature {
    /// 补录: an entry for a date the earlier report already covered.
    LateEntry,
    /// 更正: a correction of an earlier entry.
    Correction,
}

impl EventNature {
    pub fn label_zh(&self) -> &'static str {
        match self {
            EventNature::LateEntry => "补录",
            EventNature::Correction => "更正",
        }
    }

    fn of(event_type: &str) -> Self {
        if event_type.ends_with("Corrected") {
            EventNature::Correction
        } else {
            EventNature::LateEntry
        }
    }
}

/// What one source of facts (a service or visit event, a need, an activity)
/// adds to a report: amounts to add up, and members of sets to count.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
struct Contribution {
    sums: BTreeMap<String, i64>,
    members: BTreeMap<String, BTreeSet<String>>,
}

impl Contribution {
    fn add(&mut self, key: impl Into<String>, amount: i64) {
        *self.sums.entry(key.into()).or_default() += amount;
    }

    fn member(&mut self, key: impl Into<String>, member: impl Into<String>) {
        self.members
            .entry(key.into())
            .or_default()
            .insert(member.into());
    }
}

/// One source of facts with its events (each with its feed cursor).
#[derive(Debug, Default)]
struct Unit {
    contribution: Contribution,
    events: Vec<(i64, EventRef)>,
}

struct Computed {
    body: ReportBody,
    units: BTreeMap<String, Unit>,
    /// For each derived figure, the figures it is computed from.
    derived_inputs: BTreeMap<String, Vec<String>>,
}

/// Figures every report has, zero when nothing counts.
const BASE_FIGURES: &[&str] = &[
    "care.services",
    "care.visits",
    "care.person_times",
    "care.persons",
    "care.minutes",
    "care.money_fen",
    "care.material_value_fen",
    "care.organizations",
    "activities.count",
    "activities.person_times",
    "activities.persons",
    "activities.money_fen",
    "activities.material_value_fen",
    "activities.service_minutes",
    "activities.participant_headcount",
    "activities.organizations",
    "activities.corrected",
    "needs.raised",
    "needs.micro_wishes",
    "needs.dispatched",
    "needs.accepted",
    "needs.fulfilled",
    "needs.fulfilled_on_time",
    "needs.minutes",
    "needs.money_fen",
    "needs.material_value_fen",
    "needs.evaluated",
    "needs.satisfaction_sum",
    "needs.escalated",
    "needs.withdrawn",
    "needs.overdue_open",
];

/// Per-month figures of quarterly and annual reports.
const MONTH_FIGURES: &[&str] = &[
    "care.person_times",
    "activities.count",
    "activities.person_times",
    "needs.fulfilled",
];

fn compute(request: &ReportRequest, cut: ReportCut, facts: &Facts) -> Computed {
    let kind = request.period.kind();
    let (from, to) = request.period.window();
    let by_month = kind != ReportKind::MonthlyDispatch;
    let mut units: BTreeMap<String, Unit> = BTreeMap::new();

    for rows in facts.services.chunk_by(|a, b| a.position == b.position) {
        let mut unit = Unit::default();
        service_contribution(rows, by_month, &mut unit.contribution);
        if let Some(first) = rows.first() {
            unit.events.push((
                first.txid,
                EventRef {
                    position: first.position,
                    stream_type: "care_case".to_owned(),
                    stream_id: first.case_id.clone(),
                    event_type: first.event_type.clone(),
                    recorded_at: first.recorded_at.clone(),
                    nature: EventNature::of(&first.event_type),
                },
            ));
            units.insert(format!("service:{:020}", first.position), unit);
        }
    }

    let mut needs: BTreeMap<&str, Vec<&NeedFactRow>> = BTreeMap::new();
    for row in &facts.needs {
        needs.entry(row.need_id.as_str()).or_default().push(row);
    }
    for (need_id, rows) in needs {
        let mut unit = Unit::default();
        need_contribution(&rows, (from, to), kind, &mut unit.contribution);
        unit.events = rows
            .iter()
            .map(|row| {
                (
                    row.txid,
                    EventRef {
                        position: row.position,
                        stream_type: "need".to_owned(),
                        stream_id: need_id.to_owned(),
                        event_type: row.event_type.clone(),
                        recorded_at: row.recorded_at.clone(),
                        nature: EventNature::of(&row.event_type),
                    },
                )
            })
            .collect();
        units.insert(format!("need:{need_id}"), unit);
    }

    for rows in facts
        .activities
        .chunk_by(|a, b| a.activity_id == b.activity_id)
    {
        let Some(activity_id) = rows.first().map(|row| row.activity_id.as_str()) else {
            continue;
        };
        let logged: Vec<LoggedActivityEvent> = rows.iter().map(|row| row.event.clone()).collect();
        let mut unit = Unit::default();
        // An activity whose events cannot be read is left out here exactly as
        // the projection would have stopped on it.
        if let Ok(Some(record)) = fold_activity(activity_id, &logged) {
            let date = record.starts_at.date();
            if record.status != ActivityStatus::Cancelled
                && (from..=to).contains(&date)
                && record.region.starts_with(request.region.as_str())
            {
                let contribution = &mut unit.contribution;
                let person_times = i64::from(record.person_times);
                contribution.add("activities.count", 1);
                contribution.add("activities.person_times", person_times);
                contribution.add("activities.persons", i64::from(record.persons));
                contribution.add("activities.money_fen", record.money_fen);
                contribution.add("activities.material_value_fen", record.material_value_fen);
                contribution.add(
                    "activities.service_minutes",
                    i64::from(record.service_minutes),
                );
                contribution.add(
                    "activities.participant_headcount",
                    record.participant_headcount(),
                );
                if record.corrections > 0 {
                    contribution.add("activities.corrected", 1);
                }
                for participant in &record.participants {
                    contribution.member("activities.organizations", participant.name.clone());
                    if let Some(id) = participant.organization_id {
                        contribution.add(format!("org.{id}.activity_participations"), 1);
                    }
                }
                if let Some(id) = record.organizer_organization_id {
                    contribution.add(format!("org.{id}.activities_organized"), 1);
                    contribution.add(format!("org.{id}.activity_person_times"), person_times);
                }
                if by_month {
                    let month = dispatch_month(date);
                    contribution.add(format!("month.{month}.activities.count"), 1);
                    contribution.add(
                        format!("month.{month}.activities.person_times"),
                        person_times,
                    );
                }
            }
        }
        unit.events = logged
            .iter()
            .map(|event| {
                (
                    event.txid,
                    EventRef {
                        position: event.position,
                        stream_type: "activity".to_owned(),
                        stream_id: activity_id.to_owned(),
                        event_type: event.event_type.clone(),
                        recorded_at: event.recorded_at.clone(),
                        nature: EventNature::of(&event.event_type),
                    },
                )
            })
            .collect();
        units.insert(format!("activity:{activity_id}"), unit);
    }

    // Add up.
    let mut figures: BTreeMap<String, i64> = BASE_FIGURES
        .iter()
        .map(|key| ((*key).to_owned(), 0))
        .collect();
    if by_month {
        for month in request.period.months() {
            for figure in MONTH_FIGURES {
                figures.insert(format!("month.{month}.{figure}"), 0);
            }
        }
    }
    let mut members: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for unit in units.values() {
        for (key, amount) in &unit.contribution.sums {
            *figures.entry(key.clone()).or_default() += amount;
        }
        for (key, set) in &unit.contribution.members {
            members
                .entry(key.as_str())
                .or_default()
                .extend(set.iter().map(String::as_str));
        }
    }
    for (key, set) in members {
        figures.insert(key.to_owned(), i64::try_from(set.len()).unwrap_or(i64::MAX));
    }

    // Derived figures.
    let mut derived_inputs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut derive = |figures: &mut BTreeMap<String, i64>, key: &str, inputs: &[&str], value| {
        figures.insert(key.to_owned(), value);
        derived_inputs.insert(
            key.to_owned(),
            inputs.iter().map(|input| (*input).to_owned()).collect(),
        );
    };
    let get = |figures: &BTreeMap<String, i64>, key: &str| figures.get(key).copied().unwrap_or(0);
    let total = get(&figures, "care.person_times") + get(&figures, "activities.person_times");
    derive(
        &mut figures,
        "total.person_times",
        &["care.person_times", "activities.person_times"],
        total,
    );
    let on_time = ratio(
        get(&figures, "needs.fulfilled_on_time"),
        get(&figures, "needs.fulfilled"),
        1000,
    );
    derive(
        &mut figures,
        "needs.on_time_permille",
        &["needs.fulfilled_on_time", "needs.fulfilled"],
        on_time,
    );
    let satisfaction = ratio(
        get(&figures, "needs.satisfaction_sum"),
        get(&figures, "needs.evaluated"),
        100,
    );
    derive(
        &mut figures,
        "needs.satisfaction_avg_x100",
        &["needs.satisfaction_sum", "needs.evaluated"],
        satisfaction,
    );

    let organization_ids: BTreeSet<String> = figures
        .keys()
        .filter_map(|key| key.strip_prefix("org."))
        .filter_map(|rest| rest.split_once('.').map(|(id, _)| id.to_owned()))
        .collect();
    let organizations: BTreeMap<String, String> = organization_ids
        .iter()
        .map(|id| {
            let name = facts
                .organizations
                .get(id)
                .cloned()
                .unwrap_or_else(|| format!("未登记的组织 {id}"));
            (id.clone(), name)
        })
        .collect();

    let mut ranking = Vec::new();
    let mut weights = None;
    if kind == ReportKind::AnnualRanking {
        weights = Some(RANKING_WEIGHTS);
        for id in &organization_ids {
            let metric = |name: &str| get(&figures, &format!("org.{id}.{name}"));
            let row = RankingRow {
                rank: 0,
                organization_id: id.clone(),
                name: organizations.get(id).cloned().unwrap_or_default(),
                score: 0,
                services: metric("services"),
                visits: metric("visits"),
                service_minutes: metric("service_minutes"),
                activities_organized: metric("activities_organized"),
                activity_person_times: metric("activity_person_times"),
                activity_participations: metric("activity_participations"),
                needs_fulfilled_on_time: metric("needs_on_time"),
                needs_fulfilled_late: metric("needs_late"),
                evaluations: metric("evaluations"),
                satisfaction_sum: metric("satisfaction_sum"),
            };
            ranking.push(RankingRow {
                score: score(&row, &RANKING_WEIGHTS),
                ..row
            });
        }
        ranking.sort_by(|a, b| {
            (b.score, &a.name, &a.organization_id).cmp(&(a.score, &b.name, &b.organization_id))
        });
        let mut previous: Option<(i64, i64)> = None;
        for (place, row) in (1_i64..).zip(ranking.iter_mut()) {
            row.rank = match previous {
                Some((score, rank)) if score == row.score => rank,
                _ => place,
            };
            previous = Some((row.score, row.rank));
        }
        let score_keys: Vec<String> = organization_ids
            .iter()
            .map(|id| format!("org.{id}.score"))
            .collect();
        for row in &ranking {
            let id = &row.organization_id;
            let inputs: Vec<String> = ORGANIZATION_METRICS
                .iter()
                .map(|metric| format!("org.{id}.{metric}"))
                .collect();
            let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
            derive(&mut figures, &format!("org.{id}.score"), &inputs, row.score);
        }
        let score_inputs: Vec<&str> = score_keys.iter().map(String::as_str).collect();
        for row in &ranking {
            let key = format!("org.{}.rank", row.organization_id);
            derive(&mut figures, &key, &score_inputs, row.rank);
        }
    }

    let title = format!(
        "{}{}（{}，{} 至 {}）",
        request.period.label_zh(),
        kind.label_zh(),
        request.region.as_str(),
        from,
        to
    );
    Computed {
        body: ReportBody {
            kind,
            title,
            period: request.period,
            from,
            to,
            region: request.region.as_str().to_owned(),
            as_of: cut,
            figures,
            organizations,
            ranking,
            weights,
        },
        units,
        derived_inputs,
    }
}

const ORGANIZATION_METRICS: &[&str] = &[
    "services",
    "visits",
    "service_minutes",
    "activities_organized",
    "activity_person_times",
    "activity_participations",
    "needs_on_time",
    "needs_late",
    "evaluations",
    "satisfaction_sum",
];

fn score(row: &RankingRow, weights: &RankingWeights) -> i64 {
    weights.service * row.services
        + weights.visit * row.visits
        + weights.service_hour * (row.service_minutes / 60)
        + weights.activity_organized * row.activities_organized
        + weights.activity_person_time * row.activity_person_times
        + weights.activity_participation * row.activity_participations
        + weights.need_on_time * row.needs_fulfilled_on_time
        + weights.need_late * row.needs_fulfilled_late
        + weights.satisfaction_point * (row.satisfaction_sum - 3 * row.evaluations)
}

/// `part × scale / whole`, rounded down; 0 when there is no whole.
fn ratio(part: i64, whole: i64, scale: i64) -> i64 {
    if whole == 0 {
        0
    } else {
        part.saturating_mul(scale) / whole
    }
}

fn service_contribution(rows: &[ServiceFactRow], by_month: bool, c: &mut Contribution) {
    let Some(first) = rows.first() else {
        return;
    };
    let is_service = first.event_type == "ServiceDelivered";
    c.add(
        if is_service {
            "care.services"
        } else {
            "care.visits"
        },
        1,
    );
    c.add("care.person_times", 1);
    c.add("care.minutes", first.minutes);
    c.add("care.money_fen", first.money_fen);
    c.add("care.material_value_fen", first.material_value_fen);
    c.member("care.persons", first.case_id.clone());
    let categories: BTreeSet<&str> = rows.iter().map(|row| row.category.as_str()).collect();
    let service_types: BTreeSet<&str> = rows.iter().map(|row| row.service_type.as_str()).collect();
    for category in categories {
        c.add(format!("care.by_category.{category}"), 1);
    }
    for service_type in service_types {
        c.add(format!("care.by_service_type.{service_type}"), 1);
    }
    if !first.action_line.is_empty() {
        c.add(format!("care.by_action_line.{}", first.action_line), 1);
    }
    c.add(format!("care.by_township.{}", first.township), 1);
    if by_month && let Ok(date) = first.served_on.parse::<NaiveDate>() {
        c.add(
            format!("month.{}.care.person_times", dispatch_month(date)),
            1,
        );
    }
    let organization = &first.organization_id;
    if !organization.is_empty() {
        c.member("care.organizations", organization.clone());
        if is_service {
            c.add(format!("org.{organization}.services"), 1);
            c.add(format!("org.{organization}.service_minutes"), first.minutes);
        } else {
            c.add(format!("org.{organization}.visits"), 1);
        }
    }
}

fn need_contribution(
    rows: &[&NeedFactRow],
    (from, to): (NaiveDate, NaiveDate),
    kind: ReportKind,
    c: &mut Contribution,
) {
    let (from_text, to_text) = (from.to_string(), to.to_string());
    // Dates are stored as YYYY-MM-DD, so text order is date order.
    let in_window = |on: &str| on >= from_text.as_str() && on <= to_text.as_str();
    let mut due: Option<&str> = None;
    let mut closed = false;
    let mut township = "";
    for row in rows {
        township = &row.township;
        let organization = &row.organization_id;
        if in_window(&row.event_on) {
            match row.event_type.as_str() {
                "NeedRaised" => {
                    c.add("needs.raised", 1);
                    if row.micro_wish != 0 {
                        c.add("needs.micro_wishes", 1);
                    }
                }
                "NeedDispatched" => c.add("needs.dispatched", 1),
                "NeedAccepted" => c.add("needs.accepted", 1),
                "NeedFulfilled" => {
                    c.add("needs.fulfilled", 1);
                    c.add("needs.minutes", row.minutes);
                    c.add("needs.money_fen", row.money_fen);
                    c.add("needs.material_value_fen", row.material_value_fen);
                    let on_time = row.on_time != 0;
                    if on_time {
                        c.add("needs.fulfilled_on_time", 1);
                    }
                    if !organization.is_empty() {
                        let metric = if on_time {
                            "needs_on_time"
                        } else {
                            "needs_late"
                        };
                        c.add(format!("org.{organization}.{metric}"), 1);
                    }
                    if kind != ReportKind::MonthlyDispatch
                        && let Ok(date) = row.event_on.parse::<NaiveDate>()
                    {
                        c.add(format!("month.{}.needs.fulfilled", dispatch_month(date)), 1);
                    }
                }
                "NeedEvaluated" => {
                    c.add("needs.evaluated", 1);
                    c.add("needs.satisfaction_sum", row.satisfaction);
                    if !organization.is_empty() {
                        c.add(format!("org.{organization}.evaluations"), 1);
                        c.add(
                            format!("org.{organization}.satisfaction_sum"),
                            row.satisfaction,
                        );
                    }
                }
                "NeedEscalated" => c.add("needs.escalated", 1),
                "NeedWithdrawn" => c.add("needs.withdrawn", 1),
                _ => {}
            }
        }
        // Where the need stood at the end of the period.
        if row.event_on.as_str() <= to_text.as_str() {
            match row.event_type.as_str() {
                "NeedDispatched" => due = Some(&row.due_on),
                "NeedDeclined" | "NeedEscalated" => due = None,
                "NeedFulfilled" | "NeedWithdrawn" => closed = true,
                _ => {}
            }
        }
    }
    if !closed && due.is_some_and(|due| due < to_text.as_str()) {
        c.add("needs.overdue_open", 1);
        if kind != ReportKind::MonthlyDispatch {
            c.add(format!("township.{township}.needs.overdue_open"), 1);
        }
    }
}

// ---------------------------------------------------------------------------
// Labels.

/// The Chinese label of a figure key, naming organizations from `names`.
pub fn figure_label(key: &str, names: &BTreeMap<String, String>) -> String {
    if let Some(rest) = key.strip_prefix("month.")
        && let Some((month, figure)) = rest.split_once('.')
    {
        return format!("{month} 调度月·{}", figure_label(figure, names));
    }
    if let Some(rest) = key.strip_prefix("township.")
        && let Some((township, figure)) = rest.split_once('.')
    {
        return format!("乡镇（街道）{township}·{}", figure_label(figure, names));
    }
    if let Some(rest) = key.strip_prefix("org.")
        && let Some((id, metric)) = rest.split_once('.')
    {
        let name = names.get(id).map_or(id, String::as_str);
        let metric = match metric {
            "services" => "服务次数",
            "visits" => "探访次数",
            "service_minutes" => "服务时长（分钟）",
            "activities_organized" => "发起活动数",
            "activity_person_times" => "发起活动受益人次",
            "activity_participations" => "参与活动数",
            "needs_on_time" => "按期办结需求数",
            "needs_late" => "逾期办结需求数",
            "evaluations" => "群众评价数",
            "satisfaction_sum" => "满意度合计",
            "score" => "得分",
            "rank" => "名次",
            other => other,
        };
        return format!("{name}·{metric}");
    }
    if let Some(code) = key.strip_prefix("care.by_category.") {
        let label = CareCategory::from_code(code).map_or(code, |c| c.label_zh());
        return format!("受益人次·{label}");
    }
    if let Some(code) = key.strip_prefix("care.by_service_type.") {
        let label = ServiceType::from_code(code).map_or(code, |s| s.label_zh());
        return format!("受益人次·{label}");
    }
    if let Some(code) = key.strip_prefix("care.by_action_line.") {
        let label = ActionLine::from_code(code).map_or(code, |a| a.label_zh());
        return format!("受益人次·{label}");
    }
    if let Some(township) = key.strip_prefix("care.by_township.") {
        return format!("受益人次·乡镇（街道）{township}");
    }
    let label = match key {
        "care.services" => "服务次数",
        "care.visits" => "探访次数",
        "care.person_times" => "服务探访受益人次",
        "care.persons" => "服务探访受益人数",
        "care.minutes" => "服务探访时长（分钟）",
        "care.money_fen" => "服务投入资金（分）",
        "care.material_value_fen" => "服务物资折款（分）",
        "care.organizations" => "参与服务的社会组织数",
        "activities.count" => "活动数",
        "activities.person_times" => "活动受益人次",
        "activities.persons" => "活动受益人数",
        "activities.money_fen" => "活动投入资金（分）",
        "activities.material_value_fen" => "活动物资折款（分）",
        "activities.service_minutes" => "活动累计服务时长（分钟）",
        "activities.participant_headcount" => "活动参与人数",
        "activities.organizations" => "参与活动的社会组织数",
        "activities.corrected" => "含更正的活动数",
        "needs.raised" => "新登记需求数",
        "needs.micro_wishes" => "其中微星愿",
        "needs.dispatched" => "派单数",
        "needs.accepted" => "接单数",
        "needs.fulfilled" => "办结数",
        "needs.fulfilled_on_time" => "按期办结数",
        "needs.on_time_permille" => "按期办结率（‰）",
        "needs.minutes" => "办结服务时长（分钟）",
        "needs.money_fen" => "办结投入资金（分）",
        "needs.material_value_fen" => "办结物资折款（分）",
        "needs.evaluated" => "群众评价数",
        "needs.satisfaction_sum" => "满意度合计",
        "needs.satisfaction_avg_x100" => "平均满意度（×100）",
        "needs.escalated" => "上报数",
        "needs.withdrawn" => "撤回数",
        "needs.overdue_open" => "期末逾期未办结需求数",
        "total.person_times" => "受益人次合计",
        other => other,
    };
    label.to_owned()
}

// ---------------------------------------------------------------------------
// Generating, reading, regenerating and comparing reports.

/// Where the statistics projection stands: the cut a report made now uses.
async fn current_cut(db: &Database) -> Result<ReportCut, EvaluationError> {
    let row: Option<(i64, i64, Option<String>, Option<i64>)> = with_pool!(db, pool => {
        sqlx::query_as(
            "SELECT txid, position, error, failed_position FROM projection_checkpoints WHERE name = $1",
        )
        .bind(STATISTICS)
        .fetch_optional(pool)
        .await?
    });
    let (txid, cursor_position, error, failed_position) =
        row.ok_or(EvaluationError::StatisticsNotReady)?;
    if let Some(reason) = error {
        return Err(EvaluationError::StatisticsStopped {
            position: failed_position.unwrap_or_default(),
            reason,
        });
    }
    let position: i64 = with_pool!(db, pool => {
        sqlx::query_scalar(
            "SELECT CAST(COALESCE(MAX(position), 0) AS BIGINT) FROM events \
             WHERE txid < $1 OR (txid = $1 AND position <= $2)",
        )
        .bind(txid)
        .bind(cursor_position)
        .fetch_one(pool)
        .await?
    });
    Ok(ReportCut {
        txid,
        cursor_position,
        position,
    })
}

const INSERT_REPORT: &str = "INSERT INTO evaluation_reports (id, kind, period, region, version, position, \
     cut_txid, cut_position, period_from, period_to, generated_at, generated_by, body) \
     VALUES ($1, $2, $3, $4, (SELECT COALESCE(MAX(version), 0) + 1 FROM evaluation_reports \
     WHERE kind = $2 AND period = $3 AND region = $4), $5, $6, $7, $8, $9, $10, $11, $12)";

const SELECT_REPORT_COLUMNS: &str = "SELECT id, kind, period, region, version, position, cut_txid, \
     cut_position, generated_at, generated_by, body FROM evaluation_reports";

type ReportRow = (
    String,
    String,
    String,
    String,
    i64,
    i64,
    i64,
    i64,
    String,
    String,
    String,
);

/// A report as [`generate_report`] answered it.
#[derive(Debug, Clone)]
pub struct GeneratedReport {
    pub report: StoredReport,
    /// True when the request id had already stored this report: a retry is
    /// answered with what the first request stored, and stores nothing.
    pub replayed: bool,
}

/// Computes a report from the statistics as they stand (the projection's
/// checkpoint) and stores it as the next version for its kind, period and
/// region. With a `request_id` (the client's `Idempotency-Key`) the report
/// is stored under that id, at most once: sending the same request again
/// returns the stored report, and the id used for another request is refused.
pub async fn generate_report(
    db: &Database,
    request: &ReportRequest,
    generated_by: &str,
    request_id: Option<Uuid>,
) -> Result<GeneratedReport, EvaluationError> {
    if let Some(id) = request_id
        && let Some(stored) = report(db, id).await?
    {
        return answer_retry(stored, request, generated_by);
    }
    let cut = current_cut(db).await?;
    let facts = load_facts(db, request, &cut).await?;
    let body = compute(request, cut, &facts).body;
    let body_json = serde_json::to_string(&body).map_err(|error| EvaluationError::Unreadable {
        id: String::new(),
        reason: error.to_string(),
    })?;
    let (from, to) = request.period.window();
    let kind = request.period.kind();
    let period = request.period.to_string();
    let generated_at = format_instant(Utc::now());
    // Two reports of the same period generated at once may pick the same
    // version; the unique key refuses one, which then takes the next.
    let mut attempts = 0;
    let id = loop {
        let id = request_id.unwrap_or_else(Uuid::now_v7);
        let inserted = with_pool!(db, pool => {
            sqlx::query(INSERT_REPORT)
                .bind(id.to_string())
                .bind(kind.code())
                .bind(&period)
                .bind(request.region.as_str())
                .bind(cut.position)
                .bind(cut.txid)
                .bind(cut.cursor_position)
                .bind(from.to_string())
                .bind(to.to_string())
                .bind(&generated_at)
                .bind(generated_by)
                .bind(&body_json)
                .execute(pool)
                .await
                .map(|_| ())
        });
        match inserted {
            Ok(_) => break id,
            Err(sqlx::Error::Database(error)) if error.is_unique_violation() => {
                // A retry that raced the first request finds its report.
                if let Some(id) = request_id
                    && let Some(stored) = report(db, id).await?
                {
                    return answer_retry(stored, request, generated_by);
                }
                if attempts == 5 {
                    return Err(sqlx::Error::Database(error).into());
                }
                attempts += 1;
            }
            Err(error) => return Err(error.into()),
        }
    };
    let report = report(db, id).await?.ok_or(EvaluationError::NotFound(id))?;
    Ok(GeneratedReport {
        report,
        replayed: false,
    })
}

/// The stored report answers a retry of the request that stored it; the same
/// id sent with another request (or by another user) is refused.
fn answer_retry(
    stored: StoredReport,
    request: &ReportRequest,
    generated_by: &str,
) -> Result<GeneratedReport, EvaluationError> {
    if stored.period == request.period
        && stored.region == request.region.as_str()
        && stored.generated_by == generated_by
    {
        Ok(GeneratedReport {
            report: stored,
            replayed: true,
        })
    } else {
        Err(EvaluationError::RequestIdReused(stored.id))
    }
}

fn stored_report(row: ReportRow) -> Result<StoredReport, EvaluationError> {
    let (
        id,
        kind,
        period,
        region,
        version,
        position,
        cut_txid,
        cut_position,
        generated_at,
        generated_by,
        body_json,
    ) = row;
    let unreadable = |reason: String| EvaluationError::Unreadable {
        id: id.clone(),
        reason,
    };
    let body: ReportBody =
        serde_json::from_str(&body_json).map_err(|error| unreadable(error.to_string()))?;
    Ok(StoredReport {
        id: Uuid::parse_str(&id).map_err(|error| unreadable(error.to_string()))?,
        kind: ReportKind::from_code(&kind).ok_or_else(|| unreadable(format!("未知类型 {kind}")))?,
        period: period.parse()?,
        region,
        version,
        cut: ReportCut {
            txid: cut_txid,
            cursor_position: cut_position,
            position,
        },
        generated_at,
        generated_by,
        body,
        body_json,
    })
}

/// A stored report, or `None`.
pub async fn report(db: &Database, id: Uuid) -> Result<Option<StoredReport>, EvaluationError> {
    let sql = format!("{SELECT_REPORT_COLUMNS} WHERE id = $1");
    let row: Option<ReportRow> = with_pool!(db, pool => {
        sqlx::query_as(sqlx::AssertSqlSafe(sql)).bind(id.to_string()).fetch_optional(pool).await?
    });
    row.map(stored_report).transpose()
}

/// A stored report without its body, for lists.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportSummary {
    pub id: Uuid,
    pub kind: ReportKind,
    pub period: ReportPeriod,
    pub region: String,
    pub version: i64,
    pub position: i64,
    pub generated_at: String,
    pub generated_by: String,
}

type SummaryRow = (String, String, String, String, i64, i64, String, String);

/// The reports on areas within `region`, optionally of one kind: by kind,
/// period, region and version.
pub async fn list_reports(
    db: &Database,
    region: &RegionPrefix,
    kind: Option<ReportKind>,
) -> Result<Vec<ReportSummary>, EvaluationError> {
    let rows: Vec<SummaryRow> = with_pool!(db, pool => {
        sqlx::query_as(
            "SELECT id, kind, period, region, version, position, generated_at, generated_by \
             FROM evaluation_reports WHERE region LIKE $1 AND ($2 = '' OR kind = $2)",
        )
        .bind(format!("{}%", region.as_str()))
        .bind(kind.map(|k| k.code()).unwrap_or_default())
        .fetch_all(pool)
        .await?
    });
    let mut reports = Vec::with_capacity(rows.len());
    for (id, kind, period, region, version, position, generated_at, generated_by) in rows {
        let unreadable = |reason: String| EvaluationError::Unreadable {
            id: id.clone(),
            reason,
        };
        reports.push(ReportSummary {
            id: Uuid::parse_str(&id).map_err(|error| unreadable(error.to_string()))?,
            kind: ReportKind::from_code(&kind)
                .ok_or_else(|| unreadable(format!("未知类型 {kind}")))?,
            period: period.parse()?,
            region,
            version,
            position,
            generated_at,
            generated_by,
        });
    }
    reports.sort_by(|a, b| {
        (a.kind, a.period, &a.region, a.version).cmp(&(b.kind, b.period, &b.region, b.version))
    });
    Ok(reports)
}

async fn load_report(db: &Database, id: Uuid) -> Result<StoredReport, EvaluationError> {
    report(db, id).await?.ok_or(EvaluationError::NotFound(id))
}

fn request_of(stored: &StoredReport) -> Result<ReportRequest, EvaluationError> {
    let region =
        RegionPrefix::parse(&stored.region).map_err(|error| EvaluationError::Unreadable {
            id: stored.id.to_string(),
            reason: error.to_string(),
        })?;
    Ok(ReportRequest {
        period: stored.period,
        region,
    })
}

/// Computes a stored report again from the facts up to its cut. The result
/// equals the stored body unless the facts were altered (or the statistics
/// rebuilt by different code).
pub async fn regenerate(db: &Database, id: Uuid) -> Result<ReportBody, EvaluationError> {
    let stored = load_report(db, id).await?;
    let request = request_of(&stored)?;
    let facts = load_facts(db, &request, &stored.cut).await?;
    Ok(compute(&request, stored.cut, &facts).body)
}

/// A report version, as a diff names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportVersion {
    pub id: Uuid,
    pub version: i64,
    pub generated_at: String,
    pub cut: ReportCut,
}

/// One figure that differs between two versions, and the events behind the
/// difference.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FigureChange {
    pub key: String,
    pub label: String,
    pub old: i64,
    pub new: i64,
    pub events: Vec<EventRef>,
}

/// What changed between two versions of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportDiff {
    pub kind: ReportKind,
    pub period: ReportPeriod,
    pub region: String,
    pub old: ReportVersion,
    pub new: ReportVersion,
    pub changes: Vec<FigureChange>,
    /// Every event recorded between the two cuts that changed a figure, by
    /// position.
    pub events: Vec<EventRef>,
}

fn version_of(stored: &StoredReport) -> ReportVersion {
    ReportVersion {
        id: stored.id,
        version: stored.version,
        generated_at: stored.generated_at.clone(),
        cut: stored.cut,
    }
}

/// Compares two versions of the same report (same kind, period and region):
/// each figure whose value differs, with the events recorded between the two
/// cuts that changed it — late entries and corrections. `old` and `new` may be
/// given in either order of time; values are shown from `old` to `new`.
pub async fn diff_reports(
    db: &Database,
    old: Uuid,
    new: Uuid,
) -> Result<ReportDiff, EvaluationError> {
    let old_report = load_report(db, old).await?;
    let new_report = load_report(db, new).await?;
    if (old_report.kind, old_report.period, &old_report.region)
        != (new_report.kind, new_report.period, &new_report.region)
    {
        return Err(EvaluationError::NotComparable {
            a: old_report.body.title.clone(),
            b: new_report.body.title.clone(),
        });
    }
    let request = request_of(&old_report)?;
    let before = compute(
        &request,
        old_report.cut,
        &load_facts(db, &request, &old_report.cut).await?,
    );
    let after = compute(
        &request,
        new_report.cut,
        &load_facts(db, &request, &new_report.cut).await?,
    );
    let (earlier, later) = if old_report
        .cut
        .includes(new_report.cut.txid, new_report.cut.cursor_position)
    {
        (&new_report.cut, &old_report.cut)
    } else {
        (&old_report.cut, &new_report.cut)
    };
    let between = |txid: i64, position: i64| {
        !earlier.includes(txid, position) && later.includes(txid, position)
    };

    // Which events changed which figures: per source of facts, the figures
    // its contribution differs in are attributed to its events between the
    // cuts. A source without such events contributes the same to both.
    let empty = Unit::default();
    let mut attribution: BTreeMap<String, BTreeSet<EventRef>> = BTreeMap::new();
    let unit_keys: BTreeSet<&String> = before.units.keys().chain(after.units.keys()).collect();
    for unit_key in unit_keys {
        let old_unit = before.units.get(unit_key).unwrap_or(&empty);
        let new_unit = after.units.get(unit_key).unwrap_or(&empty);
        let new_events: Vec<&EventRef> = old_unit
            .events
            .iter()
            .chain(new_unit.events.iter())
            .filter(|(txid, event)| between(*txid, event.position))
            .map(|(_, event)| event)
            .collect();
        if new_events.is_empty() {
            continue;
        }
        let (old_c, new_c) = (&old_unit.contribution, &new_unit.contribution);
        let mut changed: BTreeSet<&String> = BTreeSet::new();
        for key in old_c.sums.keys().chain(new_c.sums.keys()) {
            if old_c.sums.get(key).copied().unwrap_or(0)
                != new_c.sums.get(key).copied().unwrap_or(0)
            {
                changed.insert(key);
            }
        }
        for key in old_c.members.keys().chain(new_c.members.keys()) {
            if old_c.members.get(key) != new_c.members.get(key) {
                changed.insert(key);
            }
        }
        for key in changed {
            attribution
                .entry(key.clone())
                .or_default()
                .extend(new_events.iter().map(|event| (*event).clone()));
        }
    }
    // Derived figures in the order they were derived from each other: scores
    // from metrics, ranks from scores.
    let mut derived_inputs: Vec<(&String, &Vec<String>)> = after
        .derived_inputs
        .iter()
        .chain(before.derived_inputs.iter())
        .collect();
    derived_inputs.sort_by_key(|(key, _)| key.ends_with(".rank"));
    for (key, inputs) in derived_inputs {
        let events: BTreeSet<EventRef> = inputs
            .iter()
            .filter_map(|input| attribution.get(input))
            .flatten()
            .cloned()
            .collect();
        attribution.entry(key.clone()).or_default().extend(events);
    }

    let old_figures = &old_report.body.figures;
    let new_figures = &new_report.body.figures;
    let mut names = old_report.body.organizations.clone();
    names.extend(new_report.body.organizations.clone());
    let keys: BTreeSet<&String> = old_figures.keys().chain(new_figures.keys()).collect();
    let mut changes = Vec::new();
    let mut all_events: BTreeSet<EventRef> = BTreeSet::new();
    for key in keys {
        let old_value = old_figures.get(key).copied().unwrap_or(0);
        let new_value = new_figures.get(key).copied().unwrap_or(0);
        if old_value == new_value {
            continue;
        }
        let events: Vec<EventRef> = attribution
            .get(key)
            .map(|events| events.iter().cloned().collect())
            .unwrap_or_default();
        all_events.extend(events.iter().cloned());
        changes.push(FigureChange {
            key: key.clone(),
            label: figure_label(key, &names),
            old: old_value,
            new: new_value,
            events,
        });
    }
    Ok(ReportDiff {
        kind: old_report.kind,
        period: old_report.period,
        region: old_report.region.clone(),
        old: version_of(&old_report),
        new: version_of(&new_report),
        changes,
        events: all_events.into_iter().collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn periods_close_on_the_25th() {
        assert_eq!(dispatch_month(date(2026, 3, 25)).to_string(), "2026-03");
        assert_eq!(dispatch_month(date(2026, 3, 26)).to_string(), "2026-04");
        assert_eq!(dispatch_month(date(2025, 12, 26)).to_string(), "2026-01");
        let month: ReportPeriod = "2026-01".parse().unwrap();
        assert_eq!(month.window(), (date(2025, 12, 26), date(2026, 1, 25)));
        let quarter: ReportPeriod = "2026-Q2".parse().unwrap();
        assert_eq!(quarter.window(), (date(2026, 3, 26), date(2026, 6, 25)));
        assert_eq!(quarter.kind(), ReportKind::QuarterlySupervision);
        let year: ReportPeriod = "2026".parse().unwrap();
        assert_eq!(year.window(), (date(2025, 12, 26), date(2026, 12, 25)));
        assert_eq!(year.months().len(), 12);
        for text in ["2026-03", "2026-Q4", "2026"] {
            assert_eq!(text.parse::<ReportPeriod>().unwrap().to_string(), text);
        }
        for bad in ["2026-Q5", "26", "2026-3", "2026-00"] {
            assert!(bad.parse::<ReportPeriod>().is_err(), "{bad}");
        }
    }

    #[test]
    fn ratios_round_down_and_survive_zero() {
        assert_eq!(ratio(2, 3, 1000), 666);
        assert_eq!(ratio(5, 0, 1000), 0);
    }

    #[test]
    fn labels_name_organizations_and_vocabulary() {
        let names = BTreeMap::from([("o1".to_owned(), "莲塘镇社工站".to_owned())]);
        assert_eq!(figure_label("org.o1.score", &names), "莲塘镇社工站·得分");
        assert_eq!(
            figure_label("care.by_service_type.home_visiting", &names),
            "受益人次·居家探视巡访"
        );
        assert_eq!(
            figure_label("month.2026-02.care.person_times", &names),
            "2026-02 调度月·服务探访受益人次"
        );
    }
}
