//! The needs ledger (需求台账): every need of a township from the survey
//! that found it to the resident's evaluation, the orders given to
//! organizations (“一社一单” 派单/接单), escalations (逐级上报) and what
//! meeting the needs took.
//!
//! Whether an order is overdue depends on today, so it is computed by the
//! query functions from the stored due dates, never stored.
//!
//! A need that belongs to a care case has its description sealed; the
//! projector reads it withheld, so only community needs' descriptions
//! (社区照明不足…) appear here.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::NaiveDate;
use serde::Serialize;
use shouwang_domain::RegionPrefix;
use shouwang_domain::need::NeedEvent;
use shouwang_domain::organization::OrganizationEvent;
use shouwang_domain::vocabulary::{
    Department, EscalationLevel, NeedCategory, NeedSource, NeedStatus, NeedUrgency,
};
use shouwang_infrastructure::{Backend, Database, RecordedEvent, with_pool};
use uuid::Uuid;

use crate::sql::{TableNames, Tx};
use crate::{Projection, ProjectionError, with_tx};

/// The projections this module keeps.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    vec![Arc::new(NeedsLedgerProjection)]
}

const TABLES: &[&str] = &[
    "needs_ledger_needs",
    "needs_ledger_orders",
    "needs_ledger_escalations",
    "needs_ledger_organizations",
];

const DATE_FORMAT: &str = "%Y-%m-%d";

/// The `needs_ledger` read model.
#[derive(Debug, Clone, Copy, Default)]
pub struct NeedsLedgerProjection;

#[async_trait]
impl Projection for NeedsLedgerProjection {
    fn name(&self) -> &'static str {
        "needs_ledger"
    }

    fn version(&self) -> i32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        TABLES
    }

    fn create_tables(&self, _backend: Backend, names: &TableNames) -> Vec<String> {
        [
            // One row per need, as it stands. The dispatch columns describe
            // the current order and are cleared when it is declined.
            "CREATE TABLE {needs_ledger_needs} (
                need_id TEXT PRIMARY KEY,
                case_id TEXT,
                region TEXT NOT NULL,
                township TEXT NOT NULL,
                county TEXT NOT NULL,
                category TEXT NOT NULL,
                urgency TEXT NOT NULL,
                micro_wish BIGINT NOT NULL,
                source TEXT NOT NULL,
                description TEXT,
                raised_on TEXT NOT NULL,
                status TEXT NOT NULL,
                level TEXT NOT NULL,
                organization_id TEXT,
                dispatched_on TEXT,
                due_on TEXT,
                accepted_on TEXT,
                fulfilled_on TEXT,
                evaluated_on TEXT,
                withdrawn_on TEXT,
                satisfaction BIGINT,
                minutes BIGINT NOT NULL,
                money_fen BIGINT NOT NULL,
                material_value_fen BIGINT NOT NULL
            )",
            "CREATE INDEX {needs_ledger_needs}_by_region ON {needs_ledger_needs} (region)",
            "CREATE INDEX {needs_ledger_needs}_by_township ON {needs_ledger_needs} (township)",
            // 一社一单: one row per dispatch, keyed by the stream version of
            // the dispatch, kept after a decline so that an organization's
            // record shows what it turned down.
            "CREATE TABLE {needs_ledger_orders} (
                need_id TEXT NOT NULL,
                dispatched_version BIGINT NOT NULL,
                organization_id TEXT NOT NULL,
                dispatched_by TEXT NOT NULL,
                dispatched_on TEXT NOT NULL,
                due_on TEXT NOT NULL,
                status TEXT NOT NULL,
                accepted_on TEXT,
                declined_on TEXT,
                last_progress_on TEXT,
                fulfilled_on TEXT,
                withdrawn_on TEXT,
                minutes BIGINT NOT NULL,
                money_fen BIGINT NOT NULL,
                material_value_fen BIGINT NOT NULL,
                PRIMARY KEY (need_id, dispatched_version)
            )",
            "CREATE INDEX {needs_ledger_orders}_by_organization ON {needs_ledger_orders} (organization_id)",
            "CREATE TABLE {needs_ledger_escalations} (
                need_id TEXT NOT NULL,
                escalated_version BIGINT NOT NULL,
                from_level TEXT NOT NULL,
                to_level TEXT NOT NULL,
                department TEXT,
                reason TEXT NOT NULL,
                escalated_on TEXT NOT NULL,
                PRIMARY KEY (need_id, escalated_version)
            )",
            // The public register, for names and whether an organization may
            // currently be given orders.
            "CREATE TABLE {needs_ledger_organizations} (
                organization_id TEXT PRIMARY KEY,
                name TEXT NOT NULL,
                region TEXT NOT NULL,
                active BIGINT NOT NULL
            )",
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
        match event.stream_type.as_str() {
            "need" => apply_need(tx, names, event).await,
            "organization" => apply_organization(tx, names, event).await,
            _ => Ok(()),
        }
    }
}

/// Order statuses that are still in an organization's hands.
const OPEN_ORDER: &str = "status IN ('dispatched', 'accepted')";

async fn apply_need(
    tx: &mut Tx<'_>,
    names: &TableNames,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let need_id = event.stream_id.as_str();
    let version = i64::try_from(event.stream_version).map_err(ProjectionError::decode)?;
    match event.decode::<NeedEvent>()? {
        NeedEvent::NeedRaised(raised) => {
            let region = &raised.region;
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "INSERT INTO {needs_ledger_needs} (need_id, case_id, region, township, county, \
                     category, urgency, micro_wish, source, description, raised_on, status, level, \
                     minutes, money_fen, material_value_fen) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, 0, 0, 0)",
                ))
                .bind(need_id)
                .bind(raised.case_id.map(|id| id.to_string()))
                .bind(region.as_str())
                .bind(raised.township.as_str())
                .bind(region.county())
                .bind(raised.category.code())
                .bind(raised.urgency.code())
                .bind(i64::from(raised.micro_wish))
                .bind(raised.source.code())
                .bind(raised.description.as_known().cloned())
                .bind(date_text(raised.raised_on))
                .bind(NeedStatus::OnLedger.code())
                .bind(EscalationLevel::County.code())
                .execute(&mut *conn)
                .await?;
            });
        }
        NeedEvent::NeedDispatched(dispatched) => {
            let organization_id = dispatched.organization_id.to_string();
            let dispatched_on = date_text(dispatched.dispatched_on);
            let due_on = date_text(dispatched.due_on);
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {needs_ledger_needs} SET status = $2, organization_id = $3, \
                     dispatched_on = $4, due_on = $5, accepted_on = NULL WHERE need_id = $1",
                ))
                .bind(need_id)
                .bind(NeedStatus::Dispatched.code())
                .bind(&organization_id)
                .bind(&dispatched_on)
                .bind(&due_on)
                .execute(&mut *conn)
                .await?;
                sqlx::query(names.sql(
                    "INSERT INTO {needs_ledger_orders} (need_id, dispatched_version, organization_id, \
                     dispatched_by, dispatched_on, due_on, status, minutes, money_fen, material_value_fen) \
                     VALUES ($1, $2, $3, $4, $5, $6, 'dispatched', 0, 0, 0)",
                ))
                .bind(need_id)
                .bind(version)
                .bind(&organization_id)
                .bind(dispatched.level.code())
                .bind(&dispatched_on)
                .bind(&due_on)
                .execute(&mut *conn)
                .await?;
            });
        }
        NeedEvent::NeedAccepted(accepted) => {
            let accepted_on = date_text(accepted.accepted_on);
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {needs_ledger_needs} SET status = $2, accepted_on = $3 WHERE need_id = $1",
                ))
                .bind(need_id)
                .bind(NeedStatus::Accepted.code())
                .bind(&accepted_on)
                .execute(&mut *conn)
                .await?;
                sqlx::query(names.sql(&format!(
                    "UPDATE {{needs_ledger_orders}} SET status = 'accepted', accepted_on = $2 \
                     WHERE need_id = $1 AND {OPEN_ORDER}"
                )))
                .bind(need_id)
                .bind(&accepted_on)
                .execute(&mut *conn)
                .await?;
            });
        }
        NeedEvent::NeedDeclined(declined) => {
            // Back on the ledger of whoever holds the need: the county's, or
            // the level it was escalated to.
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {needs_ledger_needs} SET \
                     status = CASE WHEN level = $2 THEN $3 ELSE $4 END, \
                     organization_id = NULL, dispatched_on = NULL, due_on = NULL, accepted_on = NULL \
                     WHERE need_id = $1",
                ))
                .bind(need_id)
                .bind(EscalationLevel::County.code())
                .bind(NeedStatus::OnLedger.code())
                .bind(NeedStatus::Escalated.code())
                .execute(&mut *conn)
                .await?;
                sqlx::query(names.sql(&format!(
                    "UPDATE {{needs_ledger_orders}} SET status = 'declined', declined_on = $2 \
                     WHERE need_id = $1 AND {OPEN_ORDER}"
                )))
                .bind(need_id)
                .bind(date_text(declined.declined_on))
                .execute(&mut *conn)
                .await?;
            });
        }
        NeedEvent::NeedProgressRecorded(progress) => {
            // Notes may be entered out of order: keep the latest date.
            with_tx!(tx, conn => {
                sqlx::query(names.sql(&format!(
                    "UPDATE {{needs_ledger_orders}} SET last_progress_on = \
                     CASE WHEN last_progress_on IS NULL OR last_progress_on < $2 THEN $2 \
                     ELSE last_progress_on END WHERE need_id = $1 AND {OPEN_ORDER}"
                )))
                .bind(need_id)
                .bind(date_text(progress.recorded_on))
                .execute(&mut *conn)
                .await?;
            });
        }
        NeedEvent::NeedFulfilled(fulfilled) => {
            let fulfilled_on = date_text(fulfilled.fulfilled_on);
            let minutes = i64::from(fulfilled.minutes);
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {needs_ledger_needs} SET status = $2, fulfilled_on = $3, minutes = $4, \
                     money_fen = $5, material_value_fen = $6 WHERE need_id = $1",
                ))
                .bind(need_id)
                .bind(NeedStatus::Fulfilled.code())
                .bind(&fulfilled_on)
                .bind(minutes)
                .bind(fulfilled.money_fen)
                .bind(fulfilled.material_value_fen)
                .execute(&mut *conn)
                .await?;
                sqlx::query(names.sql(&format!(
                    "UPDATE {{needs_ledger_orders}} SET status = 'fulfilled', fulfilled_on = $2, \
                     minutes = $3, money_fen = $4, material_value_fen = $5 \
                     WHERE need_id = $1 AND {OPEN_ORDER}"
                )))
                .bind(need_id)
                .bind(&fulfilled_on)
                .bind(minutes)
                .bind(fulfilled.money_fen)
                .bind(fulfilled.material_value_fen)
                .execute(&mut *conn)
                .await?;
            });
        }
        NeedEvent::NeedEvaluated(evaluated) => {
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {needs_ledger_needs} SET status = $2, satisfaction = $3, evaluated_on = $4 \
                     WHERE need_id = $1",
                ))
                .bind(need_id)
                .bind(NeedStatus::Evaluated.code())
                .bind(i64::from(evaluated.satisfaction))
                .bind(date_text(evaluated.evaluated_on))
                .execute(&mut *conn)
                .await?;
            });
        }
        NeedEvent::NeedEscalated(escalated) => {
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {needs_ledger_needs} SET status = $2, level = $3 WHERE need_id = $1",
                ))
                .bind(need_id)
                .bind(NeedStatus::Escalated.code())
                .bind(escalated.to.code())
                .execute(&mut *conn)
                .await?;
                sqlx::query(names.sql(
                    "INSERT INTO {needs_ledger_escalations} (need_id, escalated_version, from_level, \
                     to_level, department, reason, escalated_on) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                ))
                .bind(need_id)
                .bind(version)
                .bind(escalated.from.code())
                .bind(escalated.to.code())
                .bind(escalated.department.map(|department| department.code()))
                .bind(&escalated.reason)
                .bind(date_text(escalated.escalated_on))
                .execute(&mut *conn)
                .await?;
            });
        }
        NeedEvent::NeedWithdrawn(withdrawn) => {
            let withdrawn_on = date_text(withdrawn.withdrawn_on);
            with_tx!(tx, conn => {
                sqlx::query(names.sql(
                    "UPDATE {needs_ledger_needs} SET status = $2, withdrawn_on = $3 WHERE need_id = $1",
                ))
                .bind(need_id)
                .bind(NeedStatus::Withdrawn.code())
                .bind(&withdrawn_on)
                .execute(&mut *conn)
                .await?;
                sqlx::query(names.sql(&format!(
                    "UPDATE {{needs_ledger_orders}} SET status = 'withdrawn', withdrawn_on = $2 \
                     WHERE need_id = $1 AND {OPEN_ORDER}"
                )))
                .bind(need_id)
                .bind(&withdrawn_on)
                .execute(&mut *conn)
                .await?;
            });
        }
    }
    Ok(())
}

async fn apply_organization(
    tx: &mut Tx<'_>,
    names: &TableNames,
    event: &RecordedEvent,
) -> Result<(), ProjectionError> {
    let active = match event.event_type.as_str() {
        "OrganizationRegistered" => None,
        "OrganizationSuspended" => Some(0_i64),
        "OrganizationReactivated" => Some(1_i64),
        _ => return Ok(()),
    };
    let organization_id = event.stream_id.as_str();
    if let Some(active) = active {
        with_tx!(tx, conn => {
            sqlx::query(names.sql(
                "UPDATE {needs_ledger_organizations} SET active = $2 WHERE organization_id = $1",
            ))
            .bind(organization_id)
            .bind(active)
            .execute(&mut *conn)
            .await?;
        });
        return Ok(());
    }
    let OrganizationEvent::OrganizationRegistered(registered) =
        event.decode::<OrganizationEvent>()?
    else {
        return Ok(());
    };
    with_tx!(tx, conn => {
        sqlx::query(names.sql(
            "INSERT INTO {needs_ledger_organizations} (organization_id, name, region, active) \
             VALUES ($1, $2, $3, 1)",
        ))
        .bind(organization_id)
        .bind(&registered.name)
        .bind(registered.region.as_str())
        .execute(&mut *conn)
        .await?;
    });
    Ok(())
}

fn date_text(date: NaiveDate) -> String {
    date.format(DATE_FORMAT).to_string()
}

fn parse_date(text: &str) -> Result<NaiveDate, ProjectionError> {
    NaiveDate::parse_from_str(text, DATE_FORMAT)
        .map_err(|error| ProjectionError::decode(format!("日期“{text}”无法解析：{error}")))
}

fn parse_optional_date(text: Option<&str>) -> Result<Option<NaiveDate>, ProjectionError> {
    text.map(parse_date).transpose()
}

fn parse_uuid(text: &str) -> Result<Uuid, ProjectionError> {
    Uuid::parse_str(text)
        .map_err(|error| ProjectionError::decode(format!("编号“{text}”无法解析：{error}")))
}

/// A stored vocabulary code read back into its enum.
fn parse_code<T>(
    code: &str,
    from_code: fn(&str) -> Option<T>,
    what: &str,
) -> Result<T, ProjectionError> {
    from_code(code).ok_or_else(|| ProjectionError::decode(format!("未知的{what}代码“{code}”")))
}

/// A `LIKE` pattern for codes within `prefix`; a prefix is digits only, so
/// it holds no wildcard.
fn like_prefix(prefix: &RegionPrefix) -> String {
    format!("{}%", prefix.as_str())
}

/// Days `due_on` lies before `today`: positive when overdue.
fn days_overdue(due_on: NaiveDate, today: NaiveDate) -> i64 {
    (today - due_on).num_days().max(0)
}

/// Needs in each status.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct NeedsByStatus {
    pub on_ledger: u64,
    pub dispatched: u64,
    pub accepted: u64,
    pub fulfilled: u64,
    pub evaluated: u64,
    pub escalated: u64,
    pub withdrawn: u64,
}

impl NeedsByStatus {
    fn count(&mut self, status: NeedStatus) {
        let slot = match status {
            NeedStatus::OnLedger => &mut self.on_ledger,
            NeedStatus::Dispatched => &mut self.dispatched,
            NeedStatus::Accepted => &mut self.accepted,
            NeedStatus::Fulfilled => &mut self.fulfilled,
            NeedStatus::Evaluated => &mut self.evaluated,
            NeedStatus::Escalated => &mut self.escalated,
            NeedStatus::Withdrawn => &mut self.withdrawn,
        };
        *slot += 1;
    }
}

/// What meeting the needs took (投入), summed over met needs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Fulfilment {
    /// Needs fulfilled (evaluated or not).
    pub needs: u64,
    pub minutes: i64,
    pub money_fen: i64,
    pub material_value_fen: i64,
}

/// Escalations by the level the need went to.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct EscalationCounts {
    pub to_city: u64,
    pub to_province: u64,
    /// Reported to the government or one of its departments.
    pub to_government: u64,
}

impl EscalationCounts {
    pub fn of(escalations: &[Escalation]) -> Self {
        let mut counts = Self::default();
        for escalation in escalations {
            match escalation.to {
                EscalationLevel::City => counts.to_city += 1,
                EscalationLevel::Province => counts.to_province += 1,
                EscalationLevel::Government => counts.to_government += 1,
                // Nothing is escalated to the county, where needs start.
                EscalationLevel::County => {}
            }
        }
        counts
    }
}

/// 成效让群众评价: residents' satisfaction with how their needs were met.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SatisfactionSummary {
    pub evaluations: u64,
    /// The average score (1–5) in tenths, rounded half up: 43 is 4.3.
    /// `None` when nothing was evaluated.
    pub average_tenths: Option<u64>,
    /// How many evaluations gave 1, 2, 3, 4 and 5.
    pub by_score: [u64; 5],
}

impl SatisfactionSummary {
    fn add(&mut self, score: i64, count: u64) {
        if let Some(slot) = usize::try_from(score - 1)
            .ok()
            .and_then(|index| self.by_score.get_mut(index))
        {
            *slot += count;
            self.evaluations += count;
        }
        self.average_tenths = average_tenths(&self.by_score);
    }
}

fn average_tenths(by_score: &[u64; 5]) -> Option<u64> {
    let count: u64 = by_score.iter().sum();
    if count == 0 {
        return None;
    }
    let sum: u64 = by_score
        .iter()
        .zip(1_u64..)
        .map(|(count, score)| count * score)
        .sum();
    Some((sum * 20 + count) / (count * 2))
}

/// One need on the ledger.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LedgerEntry {
    pub need_id: Uuid,
    /// The care case it belongs to; `None` for a community need.
    pub case_id: Option<Uuid>,
    pub region: String,
    pub township: String,
    pub category: NeedCategory,
    pub urgency: NeedUrgency,
    pub micro_wish: bool,
    pub source: NeedSource,
    /// Only for community needs: a case's need description is personal.
    pub description: Option<String>,
    pub raised_on: NaiveDate,
    pub status: NeedStatus,
    /// Whose ledger the need is on.
    pub level: EscalationLevel,
    /// The organization holding the current order, if any.
    pub organization_id: Option<Uuid>,
    pub organization_name: Option<String>,
    pub dispatched_on: Option<NaiveDate>,
    pub due_on: Option<NaiveDate>,
    pub accepted_on: Option<NaiveDate>,
    pub fulfilled_on: Option<NaiveDate>,
    pub satisfaction: Option<u8>,
    pub minutes: i64,
    pub money_fen: i64,
    pub material_value_fen: i64,
    /// Days past the due date while dispatched or accepted; 0 otherwise.
    pub overdue_days: i64,
}

/// A township's needs ledger on a given day (分乡镇编列需求台账).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TownshipLedger {
    pub township: String,
    pub total: u64,
    pub micro_wishes: u64,
    pub by_status: NeedsByStatus,
    /// Orders past their due date and not yet fulfilled.
    pub overdue: u64,
    pub escalations: EscalationCounts,
    pub fulfilment: Fulfilment,
    pub satisfaction: SatisfactionSummary,
    /// Every need, the earliest raised first.
    pub needs: Vec<LedgerEntry>,
}

#[derive(sqlx::FromRow)]
struct NeedRow {
    need_id: String,
    case_id: Option<String>,
    region: String,
    township: String,
    category: String,
    urgency: String,
    micro_wish: i64,
    source: String,
    description: Option<String>,
    raised_on: String,
    status: String,
    level: String,
    organization_id: Option<String>,
    organization_name: Option<String>,
    dispatched_on: Option<String>,
    due_on: Option<String>,
    accepted_on: Option<String>,
    fulfilled_on: Option<String>,
    satisfaction: Option<i64>,
    minutes: i64,
    money_fen: i64,
    material_value_fen: i64,
}

impl NeedRow {
    fn into_entry(self, today: NaiveDate) -> Result<LedgerEntry, ProjectionError> {
        let status = parse_code(&self.status, NeedStatus::from_code, "需求状态")?;
        let due_on = parse_optional_date(self.due_on.as_deref())?;
        let overdue_days = match (status, due_on) {
            (NeedStatus::Dispatched | NeedStatus::Accepted, Some(due_on)) => {
                days_overdue(due_on, today)
            }
            _ => 0,
        };
        Ok(LedgerEntry {
            need_id: parse_uuid(&self.need_id)?,
            case_id: self.case_id.as_deref().map(parse_uuid).transpose()?,
            region: self.region,
            township: self.township,
            category: parse_code(&self.category, NeedCategory::from_code, "需求类别")?,
            urgency: parse_code(&self.urgency, NeedUrgency::from_code, "紧急程度")?,
            micro_wish: self.micro_wish != 0,
            source: parse_code(&self.source, NeedSource::from_code, "需求来源")?,
            description: self.description,
            raised_on: parse_date(&self.raised_on)?,
            status,
            level: parse_code(&self.level, EscalationLevel::from_code, "层级")?,
            organization_id: self
                .organization_id
                .as_deref()
                .map(parse_uuid)
                .transpose()?,
            organization_name: self.organization_name,
            dispatched_on: parse_optional_date(self.dispatched_on.as_deref())?,
            due_on,
            accepted_on: parse_optional_date(self.accepted_on.as_deref())?,
            fulfilled_on: parse_optional_date(self.fulfilled_on.as_deref())?,
            satisfaction: self.satisfaction.and_then(|score| u8::try_from(score).ok()),
            minutes: self.minutes,
            money_fen: self.money_fen,
            material_value_fen: self.material_value_fen,
            overdue_days,
        })
    }
}

/// The ledger of the needs raised in `township` (any area prefix works:
/// the needs whose region lies within it), with overdue orders as of
/// `today`.
pub async fn township_ledger(
    db: &Database,
    township: &RegionPrefix,
    today: NaiveDate,
) -> Result<TownshipLedger, ProjectionError> {
    let names = TableNames::live(TABLES);
    let sql = names.sql(
        "SELECT n.need_id, n.case_id, n.region, n.township, n.category, n.urgency, n.micro_wish, \
         n.source, n.description, n.raised_on, n.status, n.level, n.organization_id, \
         o.name AS organization_name, n.dispatched_on, n.due_on, n.accepted_on, n.fulfilled_on, \
         n.satisfaction, n.minutes, n.money_fen, n.material_value_fen \
         FROM {needs_ledger_needs} n \
         LEFT JOIN {needs_ledger_organizations} o ON o.organization_id = n.organization_id \
         WHERE n.region LIKE $1 ORDER BY n.raised_on, n.need_id",
    );
    let pattern = like_prefix(township);
    let rows: Vec<NeedRow> = with_pool!(db, pool => {
        sqlx::query_as(sql).bind(&pattern).fetch_all(pool).await?
    });
    let needs = rows
        .into_iter()
        .map(|row| row.into_entry(today))
        .collect::<Result<Vec<_>, _>>()?;
    let mut by_status = NeedsByStatus::default();
    let mut fulfilment = Fulfilment::default();
    let mut satisfaction = SatisfactionSummary::default();
    for need in &needs {
        by_status.count(need.status);
        if need.fulfilled_on.is_some() {
            fulfilment.needs += 1;
            fulfilment.minutes += need.minutes;
            fulfilment.money_fen += need.money_fen;
            fulfilment.material_value_fen += need.material_value_fen;
        }
        if let Some(score) = need.satisfaction {
            satisfaction.add(i64::from(score), 1);
        }
    }
    Ok(TownshipLedger {
        township: township.as_str().to_owned(),
        total: needs.len() as u64,
        micro_wishes: needs.iter().filter(|need| need.micro_wish).count() as u64,
        by_status,
        overdue: needs.iter().filter(|need| need.overdue_days > 0).count() as u64,
        escalations: EscalationCounts::of(&escalations(db, township).await?),
        fulfilment,
        satisfaction,
        needs,
    })
}

/// Where an order (一社一单) stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// 已派单, not yet taken on.
    Dispatched,
    /// 已接单.
    Accepted,
    /// 已拒单: the need went back to the ledger.
    Declined,
    /// 已办结.
    Fulfilled,
    /// The need was withdrawn while the order was open.
    Withdrawn,
}

impl OrderStatus {
    fn from_code(code: &str) -> Option<Self> {
        Some(match code {
            "dispatched" => OrderStatus::Dispatched,
            "accepted" => OrderStatus::Accepted,
            "declined" => OrderStatus::Declined,
            "fulfilled" => OrderStatus::Fulfilled,
            "withdrawn" => OrderStatus::Withdrawn,
            _ => return None,
        })
    }

    /// Still in the organization's hands.
    pub fn is_open(self) -> bool {
        matches!(self, OrderStatus::Dispatched | OrderStatus::Accepted)
    }
}

/// One order given to an organization.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Order {
    pub need_id: Uuid,
    pub organization_id: Uuid,
    pub organization_name: Option<String>,
    /// The need's region and township.
    pub region: String,
    pub township: String,
    pub category: NeedCategory,
    pub urgency: NeedUrgency,
    pub micro_wish: bool,
    /// Who dispatched it: the county, or the level it was escalated to.
    pub dispatched_by: EscalationLevel,
    pub dispatched_on: NaiveDate,
    pub due_on: NaiveDate,
    pub status: OrderStatus,
    pub accepted_on: Option<NaiveDate>,
    pub declined_on: Option<NaiveDate>,
    pub last_progress_on: Option<NaiveDate>,
    pub fulfilled_on: Option<NaiveDate>,
    pub minutes: i64,
    pub money_fen: i64,
    pub material_value_fen: i64,
    /// The resident's evaluation of the need, once this order met it.
    pub satisfaction: Option<u8>,
    /// Days past the due date while open; 0 otherwise.
    pub overdue_days: i64,
}

#[derive(sqlx::FromRow)]
struct OrderRow {
    need_id: String,
    organization_id: String,
    organization_name: Option<String>,
    region: String,
    township: String,
    category: String,
    urgency: String,
    micro_wish: i64,
    dispatched_by: String,
    dispatched_on: String,
    due_on: String,
    status: String,
    accepted_on: Option<String>,
    declined_on: Option<String>,
    last_progress_on: Option<String>,
    fulfilled_on: Option<String>,
    minutes: i64,
    money_fen: i64,
    material_value_fen: i64,
    satisfaction: Option<i64>,
}

impl OrderRow {
    fn into_order(self, today: NaiveDate) -> Result<Order, ProjectionError> {
        let status = parse_code(&self.status, OrderStatus::from_code, "派单状态")?;
        let due_on = parse_date(&self.due_on)?;
        Ok(Order {
            need_id: parse_uuid(&self.need_id)?,
            organization_id: parse_uuid(&self.organization_id)?,
            organization_name: self.organization_name,
            region: self.region,
            township: self.township,
            category: parse_code(&self.category, NeedCategory::from_code, "需求类别")?,
            urgency: parse_code(&self.urgency, NeedUrgency::from_code, "紧急程度")?,
            micro_wish: self.micro_wish != 0,
            dispatched_by: parse_code(&self.dispatched_by, EscalationLevel::from_code, "层级")?,
            dispatched_on: parse_date(&self.dispatched_on)?,
            due_on,
            status,
            accepted_on: parse_optional_date(self.accepted_on.as_deref())?,
            declined_on: parse_optional_date(self.declined_on.as_deref())?,
            last_progress_on: parse_optional_date(self.last_progress_on.as_deref())?,
            fulfilled_on: parse_optional_date(self.fulfilled_on.as_deref())?,
            minutes: self.minutes,
            money_fen: self.money_fen,
            material_value_fen: self.material_value_fen,
            satisfaction: if status == OrderStatus::Fulfilled {
                self.satisfaction.and_then(|score| u8::try_from(score).ok())
            } else {
                None
            },
            overdue_days: if status.is_open() {
                days_overdue(due_on, today)
            } else {
                0
            },
        })
    }
}

const ORDER_COLUMNS: &str = "SELECT r.need_id, r.organization_id, o.name AS organization_name, \
     n.region, n.township, n.category, n.urgency, n.micro_wish, r.dispatched_by, r.dispatched_on, \
     r.due_on, r.status, r.accepted_on, r.declined_on, r.last_progress_on, r.fulfilled_on, \
     r.minutes, r.money_fen, r.material_value_fen, n.satisfaction \
     FROM {needs_ledger_orders} r \
     JOIN {needs_ledger_needs} n ON n.need_id = r.need_id \
     LEFT JOIN {needs_ledger_organizations} o ON o.organization_id = r.organization_id";

async fn orders_where(
    db: &Database,
    condition: &str,
    parameter: &str,
    today: NaiveDate,
) -> Result<Vec<Order>, ProjectionError> {
    let names = TableNames::live(TABLES);
    let sql = names.sql(&format!(
        "{ORDER_COLUMNS} WHERE {condition} \
         ORDER BY r.dispatched_on, r.need_id, r.dispatched_version"
    ));
    let rows: Vec<OrderRow> = with_pool!(db, pool => {
        sqlx::query_as(sql).bind(parameter).fetch_all(pool).await?
    });
    rows.into_iter().map(|row| row.into_order(today)).collect()
}

/// Every order given to an organization (一社一单), open or not, the
/// earliest dispatched first, with overdue days as of `today`.
pub async fn organization_orders(
    db: &Database,
    organization_id: Uuid,
    today: NaiveDate,
) -> Result<Vec<Order>, ProjectionError> {
    orders_where(
        db,
        "r.organization_id = $1",
        &organization_id.to_string(),
        today,
    )
    .await
}

/// Open orders for needs in `region_prefix` whose due date has passed on
/// `today`, the most overdue first.
pub async fn overdue_orders(
    db: &Database,
    region_prefix: &RegionPrefix,
    today: NaiveDate,
) -> Result<Vec<Order>, ProjectionError> {
    let mut overdue: Vec<Order> = orders_where(
        db,
        "n.region LIKE $1 AND r.status IN ('dispatched', 'accepted')",
        &like_prefix(region_prefix),
        today,
    )
    .await?
    .into_iter()
    .filter(|order| order.overdue_days > 0)
    .collect();
    overdue.sort_by(|a, b| {
        b.overdue_days
            .cmp(&a.overdue_days)
            .then(b.urgency.cmp(&a.urgency))
            .then(a.need_id.cmp(&b.need_id))
    });
    Ok(overdue)
}

/// One escalation (上报) of a need.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Escalation {
    pub need_id: Uuid,
    pub region: String,
    pub township: String,
    pub category: NeedCategory,
    pub from: EscalationLevel,
    pub to: EscalationLevel,
    /// The department reported to, when `to` is the government.
    pub department: Option<Department>,
    pub reason: String,
    pub escalated_on: NaiveDate,
    /// Whether the need still lies at `to` awaiting an order (not since
    /// dispatched, escalated further, met or withdrawn).
    pub pending: bool,
}

#[derive(sqlx::FromRow)]
struct EscalationRow {
    need_id: String,
    region: String,
    township: String,
    category: String,
    from_level: String,
    to_level: String,
    department: Option<String>,
    reason: String,
    escalated_on: String,
    need_status: String,
    need_level: String,
}

/// Every escalation of needs in `region_prefix`, in date order.
pub async fn escalations(
    db: &Database,
    region_prefix: &RegionPrefix,
) -> Result<Vec<Escalation>, ProjectionError> {
    let names = TableNames::live(TABLES);
    let sql = names.sql(
        "SELECT e.need_id, n.region, n.township, n.category, e.from_level, e.to_level, \
         e.department, e.reason, e.escalated_on, n.status AS need_status, n.level AS need_level \
         FROM {needs_ledger_escalations} e JOIN {needs_ledger_needs} n ON n.need_id = e.need_id \
         WHERE n.region LIKE $1 ORDER BY e.escalated_on, e.need_id, e.escalated_version",
    );
    let pattern = like_prefix(region_prefix);
    let rows: Vec<EscalationRow> = with_pool!(db, pool => {
        sqlx::query_as(sql).bind(&pattern).fetch_all(pool).await?
    });
    rows.into_iter()
        .map(|row| {
            let to = parse_code(&row.to_level, EscalationLevel::from_code, "层级")?;
            Ok(Escalation {
                need_id: parse_uuid(&row.need_id)?,
                region: row.region,
                township: row.township,
                category: parse_code(&row.category, NeedCategory::from_code, "需求类别")?,
                from: parse_code(&row.from_level, EscalationLevel::from_code, "层级")?,
                to,
                department: row
                    .department
                    .as_deref()
                    .map(|code| parse_code(code, Department::from_code, "部门"))
                    .transpose()?,
                reason: row.reason,
                escalated_on: parse_date(&row.escalated_on)?,
                pending: row.need_status == NeedStatus::Escalated.code()
                    && row.need_level == to.code(),
            })
        })
        .collect()
}

/// Residents' satisfaction with the needs met in `region_prefix`.
pub async fn satisfaction(
    db: &Database,
    region_prefix: &RegionPrefix,
) -> Result<SatisfactionSummary, ProjectionError> {
    let names = TableNames::live(TABLES);
    let sql = names.sql(
        "SELECT satisfaction, COUNT(*) FROM {needs_ledger_needs} \
         WHERE region LIKE $1 AND satisfaction IS NOT NULL GROUP BY satisfaction",
    );
    let pattern = like_prefix(region_prefix);
    let rows: Vec<(i64, i64)> = with_pool!(db, pool => {
        sqlx::query_as(sql).bind(&pattern).fetch_all(pool).await?
    });
    let mut summary = SatisfactionSummary::default();
    for (score, count) in rows {
        summary.add(score, u64::try_from(count).unwrap_or_default());
    }
    Ok(summary)
}

/// One organization's orders at a glance, and whether it may currently be
/// given more (a suspended one may not).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OrganizationOrders {
    pub organization_id: Uuid,
    pub name: String,
    pub active: bool,
    pub open_orders: u64,
    pub overdue_orders: u64,
    pub fulfilled_orders: u64,
    pub declined_orders: u64,
}

/// Per organization registered within `region_prefix`: its open, overdue,
/// fulfilled and declined orders as of `today` — the 一社一单 overview.
pub async fn orders_by_organization(
    db: &Database,
    region_prefix: &RegionPrefix,
    today: NaiveDate,
) -> Result<Vec<OrganizationOrders>, ProjectionError> {
    let names = TableNames::live(TABLES);
    let organizations_sql = names.sql(
        "SELECT organization_id, name, active FROM {needs_ledger_organizations} \
         WHERE region LIKE $1",
    );
    let orders_sql = names.sql(
        "SELECT r.organization_id, r.status, r.due_on FROM {needs_ledger_orders} r \
         JOIN {needs_ledger_organizations} o ON o.organization_id = r.organization_id \
         WHERE o.region LIKE $1",
    );
    let pattern = like_prefix(region_prefix);
    let organizations: Vec<(String, String, i64)> = with_pool!(db, pool => {
        sqlx::query_as(organizations_sql).bind(&pattern).fetch_all(pool).await?
    });
    let orders: Vec<(String, String, String)> = with_pool!(db, pool => {
        sqlx::query_as(orders_sql).bind(&pattern).fetch_all(pool).await?
    });
    let mut by_organization: BTreeMap<String, OrganizationOrders> = BTreeMap::new();
    for (organization_id, name, active) in organizations {
        by_organization.insert(
            organization_id.clone(),
            OrganizationOrders {
                organization_id: parse_uuid(&organization_id)?,
                name,
                active: active != 0,
                open_orders: 0,
                overdue_orders: 0,
                fulfilled_orders: 0,
                declined_orders: 0,
            },
        );
    }
    for (organization_id, status, due_on) in orders {
        let Some(summary) = by_organization.get_mut(&organization_id) else {
            continue;
        };
        let status = parse_code(&status, OrderStatus::from_code, "派单状态")?;
        match status {
            OrderStatus::Dispatched | OrderStatus::Accepted => {
                summary.open_orders += 1;
                if days_overdue(parse_date(&due_on)?, today) > 0 {
                    summary.overdue_orders += 1;
                }
            }
            OrderStatus::Fulfilled => summary.fulfilled_orders += 1,
            OrderStatus::Declined => summary.declined_orders += 1,
            OrderStatus::Withdrawn => {}
        }
    }
    // Sorted here rather than in SQL: the databases collate Chinese names
    // differently.
    let mut overview: Vec<OrganizationOrders> = by_organization.into_values().collect();
    overview.sort_by(|a, b| {
        a.name
            .cmp(&b.name)
            .then(a.organization_id.cmp(&b.organization_id))
    });
    Ok(overview)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn satisfaction_average_in_tenths_rounds_half_up() {
        let mut summary = SatisfactionSummary::default();
        assert_eq!(summary.average_tenths, None);
        summary.add(5, 1);
        summary.add(4, 2);
        // (5 + 4 + 4) / 3 = 4.333…
        assert_eq!(summary.average_tenths, Some(43));
        assert_eq!(summary.evaluations, 3);
        summary.add(2, 1);
        // 15 / 4 = 3.75 → 3.8
        assert_eq!(summary.average_tenths, Some(38));
        assert_eq!(summary.by_score, [0, 1, 0, 2, 1]);
        summary.add(9, 1);
        assert_eq!(summary.evaluations, 4, "an impossible score is not counted");
    }
}
