//! 一人一档: the case file of one cared-for person, and the explicit call that
//! unseals their personal data for one reader.
//!
//! The `case_file` projection keeps, per case, the person as far as they may
//! be shown without unsealing (name, gender, birth date, region, status), the
//! history of categories, caregivers and risk, the latest non-personal
//! profile, and one timeline of everything recorded about the person —
//! including the needs raised for them, which live in their own streams.
//!
//! It never holds personal data: the projector reads the feed with personal
//! fields withheld, and the timeline's details leave the sealed fields out
//! altogether. A correction is shown on the row it corrects, which keeps its
//! original summary; the corrected values themselves are sealed and are read
//! only through [`reveal_personal_fields`], which logs who read them and why.

use std::collections::BTreeMap;
use std::sync::Arc;

use async_trait::async_trait;
use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;
use serde_json::{Map, Value};
use shouwang_domain::care_case::CaseEvent;
use shouwang_domain::need::NeedEvent;
use shouwang_domain::vocabulary::{
    CareCategory, CaseStatus, Department, EscalationLevel, IdentificationChannel, RiskFactor,
    RiskLevel, ServiceType,
};
use shouwang_domain::{Personal, PersonalData};
use shouwang_infrastructure::store::format_instant;
use shouwang_infrastructure::{
    Backend, Database, PersonalDataMode, RecordedEvent, Store, StoreError, with_pool,
};
use sqlx::AssertSqlSafe;
use thiserror::Error;
use uuid::Uuid;

use crate::audit::{NewAccess, record_access};
use crate::projector::{BatchBuffer, apply_buffered};
use crate::sql::execute_rows;
use crate::{Projection, ProjectionError, TableNames, Tx};

use statements::{Arg, execute, fetch_texts};

/// The projections this module keeps.
pub fn projections() -> Vec<Arc<dyn Projection>> {
    vec![Arc::new(CaseFileProjection)]
}

/// Keeps the `case_files` tables from care-case and need events.
#[derive(Debug, Clone, Copy, Default)]
pub struct CaseFileProjection;

const TABLES: &[&str] = &[
    "case_files",
    "case_file_categories",
    "case_file_category_changes",
    "case_file_risk_history",
    "case_file_caregivers",
    "case_file_referrals",
    "case_file_needs",
    "case_timeline",
    "case_file_corrections",
];

const CREATE_TABLES: &[&str] = &[
    "CREATE TABLE {case_files} (
        case_id             TEXT   PRIMARY KEY,
        name                TEXT   NOT NULL,
        gender              TEXT   NOT NULL,
        birth_date          TEXT   NOT NULL,
        region_code         TEXT   NOT NULL,
        organization_id     TEXT,
        identified_via      TEXT   NOT NULL,
        categories          TEXT   NOT NULL,
        status              TEXT   NOT NULL,
        opened_on           TEXT   NOT NULL,
        closed_on           TEXT,
        close_reason        TEXT,
        close_note          TEXT,
        reopened_on         TEXT,
        risk_level          TEXT   NOT NULL,
        risk_assessed_on    TEXT,
        economic_source     TEXT,
        family_structure    TEXT,
        lives_alone         BIGINT,
        monthly_income_fen  BIGINT,
        profile_recorded_on TEXT,
        profile_version     BIGINT,
        last_visit_on       TEXT,
        visits              BIGINT NOT NULL DEFAULT 0,
        services            BIGINT NOT NULL DEFAULT 0,
        erased              BIGINT NOT NULL DEFAULT 0,
        erased_on           TEXT,
        version             BIGINT NOT NULL,
        last_position       BIGINT NOT NULL,
        opened_at           TEXT   NOT NULL,
        updated_at          TEXT   NOT NULL
    )",
    "CREATE INDEX {case_files}_by_region ON {case_files} (region_code)",
    "CREATE INDEX {case_files}_by_organization ON {case_files} (organization_id)",
    "CREATE TABLE {case_file_categories} (
        case_id  TEXT NOT NULL,
        category TEXT NOT NULL,
        since_on TEXT NOT NULL,
        PRIMARY KEY (case_id, category)
    )",
    "CREATE INDEX {case_file_categories}_by_category ON {case_file_categories} (category)",
    "CREATE TABLE {case_file_category_changes} (
        case_id        TEXT   NOT NULL,
        stream_version BIGINT NOT NULL,
        category       TEXT   NOT NULL,
        change         TEXT   NOT NULL,
        reason         TEXT   NOT NULL,
        effective_on   TEXT   NOT NULL,
        actor          TEXT   NOT NULL,
        role           TEXT   NOT NULL,
        organization   TEXT,
        recorded_at    TEXT   NOT NULL,
        PRIMARY KEY (case_id, stream_version, category)
    )",
    "CREATE TABLE {case_file_risk_history} (
        case_id        TEXT   NOT NULL,
        stream_version BIGINT NOT NULL,
        level          TEXT   NOT NULL,
        factors        TEXT   NOT NULL,
        assessed_on    TEXT   NOT NULL,
        actor          TEXT   NOT NULL,
        role           TEXT   NOT NULL,
        organization   TEXT,
        recorded_at    TEXT   NOT NULL,
        PRIMARY KEY (case_id, stream_version)
    )",
    "CREATE TABLE {case_file_caregivers} (
        case_id          TEXT   NOT NULL,
        assigned_version BIGINT NOT NULL,
        organization_id  TEXT   NOT NULL,
        worker_id        TEXT   NOT NULL,
        arrangement      TEXT   NOT NULL,
        started_on       TEXT   NOT NULL,
        assigned_by      TEXT   NOT NULL,
        assigned_at      TEXT   NOT NULL,
        ended_on         TEXT,
        release_reason   TEXT,
        released_version BIGINT,
        released_by      TEXT,
        released_at      TEXT,
        PRIMARY KEY (case_id, assigned_version)
    )",
    "CREATE INDEX {case_file_caregivers}_by_worker ON {case_file_caregivers} (worker_id)",
    "CREATE INDEX {case_file_caregivers}_by_organization ON {case_file_caregivers} (organization_id)",
    "CREATE TABLE {case_file_referrals} (
        case_id          TEXT   NOT NULL,
        referral_id      TEXT   NOT NULL,
        department       TEXT   NOT NULL,
        referred_on      TEXT   NOT NULL,
        made_version     BIGINT NOT NULL,
        resolved_on      TEXT,
        resolved_version BIGINT,
        PRIMARY KEY (case_id, referral_id)
    )",
    "CREATE TABLE {case_file_needs} (
        need_id         TEXT   PRIMARY KEY,
        case_id         TEXT   NOT NULL,
        category        TEXT   NOT NULL,
        micro_wish      BIGINT NOT NULL,
        urgency         TEXT   NOT NULL,
        source          TEXT   NOT NULL,
        status          TEXT   NOT NULL,
        level           TEXT   NOT NULL,
        organization_id TEXT,
        raised_on       TEXT   NOT NULL,
        due_on          TEXT,
        fulfilled_on    TEXT,
        satisfaction    BIGINT,
        version         BIGINT NOT NULL
    )",
    "CREATE INDEX {case_file_needs}_by_case ON {case_file_needs} (case_id)",
    "CREATE TABLE {case_timeline} (
        case_id        TEXT   NOT NULL,
        position       BIGINT NOT NULL,
        stream_type    TEXT   NOT NULL,
        stream_id      TEXT   NOT NULL,
        stream_version BIGINT NOT NULL,
        event_type     TEXT   NOT NULL,
        occurred_on    TEXT,
        summary        TEXT   NOT NULL,
        details        TEXT   NOT NULL,
        actor          TEXT   NOT NULL,
        role           TEXT   NOT NULL,
        organization   TEXT,
        recorded_at    TEXT   NOT NULL,
        PRIMARY KEY (case_id, position)
    )",
    "CREATE TABLE {case_file_corrections} (
        case_id        TEXT   NOT NULL,
        stream_version BIGINT NOT NULL,
        position       BIGINT NOT NULL,
        target_version BIGINT NOT NULL,
        reason         TEXT   NOT NULL,
        actor          TEXT   NOT NULL,
        role           TEXT   NOT NULL,
        organization   TEXT,
        recorded_at    TEXT   NOT NULL,
        PRIMARY KEY (case_id, stream_version)
    )",
    "CREATE INDEX {case_file_corrections}_by_target ON {case_file_corrections} (case_id, target_version)",
];

#[async_trait]
impl Projection for CaseFileProjection {
    fn name(&self) -> &'static str {
        "case_file"
    }

    fn version(&self) -> i32 {
        1
    }

    fn tables(&self) -> &'static [&'static str] {
        TABLES
    }

    fn create_tables(&self, _backend: Backend, names: &TableNames) -> Vec<String> {
        CREATE_TABLES.iter().map(|sql| names.render(sql)).collect()
    }

    async fn apply(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        apply_buffered::<CaseFileBatch>(self.name(), tx, names, std::slice::from_ref(event)).await
    }

    async fn apply_batch(
        &self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        events: &[RecordedEvent],
    ) -> Result<(), ProjectionError> {
        apply_buffered::<CaseFileBatch>(self.name(), tx, names, events).await
    }
}

/// Who recorded an event, from its metadata.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recorder {
    pub actor: String,
    pub role: String,
    pub organization: Option<String>,
}

impl Recorder {
    fn of(event: &RecordedEvent) -> Self {
        let get = |key: &str| event.metadata.get(key).cloned();
        Recorder {
            actor: get("actor").unwrap_or_default(),
            role: get("role").unwrap_or_default(),
            organization: get("organization"),
        }
    }
}

fn date(on: NaiveDate) -> Arg {
    Arg::Text(Some(on.to_string()))
}

fn text(value: impl Into<String>) -> Arg {
    Arg::Text(Some(value.into()))
}

fn opt_text(value: Option<impl Into<String>>) -> Arg {
    Arg::Text(value.map(Into::into))
}

fn int(value: i64) -> Arg {
    Arg::Int(Some(value))
}

fn version_arg(version: u64) -> Arg {
    int(i64::try_from(version).unwrap_or(i64::MAX))
}

fn flag(value: bool) -> Arg {
    int(i64::from(value))
}

fn codes<T>(items: &[T], code: impl Fn(&T) -> &'static str) -> String {
    Value::Array(
        items
            .iter()
            .map(|item| Value::String(code(item).to_owned()))
            .collect(),
    )
    .to_string()
}

fn labels<T>(items: &[T], label: impl Fn(&T) -> &'static str) -> String {
    items.iter().map(label).collect::<Vec<_>>().join("、")
}

/// Fen as yuan, e.g. `¥12.05`: exact, no floating point.
pub fn yuan(fen: i64) -> String {
    let sign = if fen < 0 { "-" } else { "" };
    let fen = fen.unsigned_abs();
    format!("{sign}¥{}.{:02}", fen / 100, fen % 100)
}

/// The event's fields without the sealed ones: what the timeline may keep.
fn open_details(event: &RecordedEvent, sealed: &[&str]) -> String {
    let mut details = event.payload.clone();
    if let Value::Object(fields) = &mut details {
        for name in sealed {
            fields.remove(*name);
        }
    }
    details.to_string()
}

/// The date the event says it happened on, and a one-line summary in words
/// a worker reads. Sealed fields are never part of it.
fn describe_case_event(event: &CaseEvent) -> (Option<NaiveDate>, String) {
    match event {
        CaseEvent::CaseOpened(opened) => (
            Some(opened.opened_on),
            format!(
                "建档（{}）：{}；{}",
                IdentificationChannel::label_zh(&opened.identified_via),
                labels(&opened.categories, CareCategory::label_zh),
                opened.risk_level.label_zh()
            ),
        ),
        CaseEvent::CategoriesChanged(changed) => {
            let mut parts = Vec::new();
            if !changed.added.is_empty() {
                parts.push(format!(
                    "增加 {}",
                    labels(&changed.added, CareCategory::label_zh)
                ));
            }
            if !changed.removed.is_empty() {
                parts.push(format!(
                    "移除 {}",
                    labels(&changed.removed, CareCategory::label_zh)
                ));
            }
            (
                Some(changed.effective_on),
                format!("类别变更：{}（{}）", parts.join("；"), changed.reason),
            )
        }
        CaseEvent::ProfileRecorded(profile) => (
            Some(profile.recorded_on),
            format!(
                "登记台账：经济来源 {}，家庭结构 {}，{}，月收入 {}",
                or_unknown(&profile.economic_source),
                or_unknown(&profile.family_structure),
                if profile.lives_alone {
                    "独居"
                } else {
                    "非独居"
                },
                yuan(profile.monthly_income_fen)
            ),
        ),
        CaseEvent::RiskAssessed(assessed) => (
            Some(assessed.assessed_on),
            if assessed.factors.is_empty() {
                format!("风险评估：{}", assessed.level.label_zh())
            } else {
                format!(
                    "风险评估：{}（{}）",
                    assessed.level.label_zh(),
                    labels(&assessed.factors, RiskFactor::label_zh)
                )
            },
        ),
        CaseEvent::CaregiverAssigned(assigned) => (
            Some(assigned.started_on),
            format!("指派照护人（{}）", assigned.arrangement.label_zh()),
        ),
        CaseEvent::CaregiverReleased(released) => (
            Some(released.ended_on),
            format!("解除照护人：{}", released.reason),
        ),
        CaseEvent::VisitRecorded(visit) => (
            Some(visit.visited_on),
            format!(
                "{} {} 分钟：{}{}",
                visit.method.label_zh(),
                visit.minutes,
                visit.findings,
                if visit.follow_up_needed {
                    "（需跟进）"
                } else {
                    ""
                }
            ),
        ),
        CaseEvent::ServiceDelivered(service) => (
            Some(service.delivered_on),
            format!(
                "服务（{}）{} 分钟，{} 人参与，资金 {}，物资折款 {}：{}",
                labels(&service.service_types, ServiceType::label_zh),
                service.minutes,
                service.volunteers,
                yuan(service.money_fen),
                yuan(service.material_value_fen),
                service.description
            ),
        ),
        CaseEvent::ReferralMade(made) => (
            Some(made.referred_on),
            format!("转介至{}", made.department.label_zh()),
        ),
        CaseEvent::ReferralResolved(resolved) => {
            (Some(resolved.resolved_on), "转介已答复".to_owned())
        }
        CaseEvent::OutcomeRecorded(outcome) => (
            Some(outcome.evaluated_on),
            format!(
                "成效评价：{}，满意度 {}/5（目标：{}）{}",
                outcome.achievement.label_zh(),
                outcome.satisfaction,
                outcome.goal,
                if outcome.own_words.is_empty() {
                    String::new()
                } else {
                    format!("，本人评价：“{}”", outcome.own_words)
                }
            ),
        ),
        CaseEvent::CaseTransferred(transferred) => {
            let mut moves = Vec::new();
            if transferred.from_region != transferred.to_region {
                moves.push(format!(
                    "区划 {} → {}",
                    transferred.from_region.as_str(),
                    transferred.to_region.as_str()
                ));
            }
            if transferred.from_organization_id != transferred.to_organization_id {
                moves.push("责任组织变更".to_owned());
            }
            (
                Some(transferred.transferred_on),
                format!("档案转移：{}（{}）", moves.join("，"), transferred.reason),
            )
        }
        CaseEvent::CaseClosed(closed) => (
            Some(closed.closed_on),
            if closed.note.is_empty() {
                format!("结案：{}", closed.reason.label_zh())
            } else {
                format!("结案：{}（{}）", closed.reason.label_zh(), closed.note)
            },
        ),
        CaseEvent::CaseReopened(reopened) => (
            Some(reopened.reopened_on),
            format!("重新开案：{}", reopened.reason),
        ),
        CaseEvent::EntryCorrected(corrected) => (
            None,
            format!(
                "更正第 {} 条记录：{}",
                corrected.corrected_version, corrected.reason
            ),
        ),
        CaseEvent::PersonalDataErased(erased) => (
            Some(erased.erased_on),
            format!("删除个人信息：{}", erased.legal_basis),
        ),
    }
}

fn or_unknown(text: &str) -> &str {
    if text.is_empty() { "未填写" } else { text }
}

fn describe_need_event(event: &NeedEvent) -> (Option<NaiveDate>, String) {
    match event {
        NeedEvent::NeedRaised(raised) => (
            Some(raised.raised_on),
            format!(
                "提出{}（{}，{}，来源：{}）",
                if raised.micro_wish {
                    "微星愿"
                } else {
                    "需求"
                },
                raised.category.label_zh(),
                raised.urgency.label_zh(),
                raised.source.label_zh()
            ),
        ),
        NeedEvent::NeedDispatched(dispatched) => (
            Some(dispatched.dispatched_on),
            format!(
                "需求派单（{}），限 {} 前办结",
                dispatched.level.label_zh(),
                dispatched.due_on
            ),
        ),
        NeedEvent::NeedAccepted(accepted) => (Some(accepted.accepted_on), "需求已接单".to_owned()),
        NeedEvent::NeedDeclined(declined) => (
            Some(declined.declined_on),
            format!("需求拒单：{}", declined.reason),
        ),
        NeedEvent::NeedProgressRecorded(progress) => (
            Some(progress.recorded_on),
            format!("需求进展：{}", progress.note),
        ),
        NeedEvent::NeedFulfilled(fulfilled) => (
            Some(fulfilled.fulfilled_on),
            format!(
                "需求办结：{}（资金 {}，物资折款 {}）",
                fulfilled.what_was_done,
                yuan(fulfilled.money_fen),
                yuan(fulfilled.material_value_fen)
            ),
        ),
        NeedEvent::NeedEvaluated(evaluated) => (
            Some(evaluated.evaluated_on),
            if evaluated.words.is_empty() {
                format!("需求评价：满意度 {}/5", evaluated.satisfaction)
            } else {
                format!(
                    "需求评价：满意度 {}/5，“{}”",
                    evaluated.satisfaction, evaluated.words
                )
            },
        ),
        NeedEvent::NeedEscalated(escalated) => (
            Some(escalated.escalated_on),
            format!(
                "需求上报至{}：{}",
                escalated.to.label_zh(),
                escalated.reason
            ),
        ),
        NeedEvent::NeedWithdrawn(withdrawn) => (
            Some(withdrawn.withdrawn_on),
            format!("需求撤回：{}", withdrawn.reason),
        ),
    }
}

const INSERT_TIMELINE: &str = "INSERT INTO {case_timeline} (case_id, position, stream_type, \
     stream_id, stream_version, event_type, occurred_on, summary, details, actor, role, organization, \
     recorded_at)";

fn timeline_row(
    case_id: &str,
    event: &RecordedEvent,
    (occurred_on, summary): (Option<NaiveDate>, String),
    details: String,
) -> Vec<Arg> {
    let recorder = Recorder::of(event);
    vec![
        text(case_id),
        int(event.position),
        text(&event.stream_type),
        text(&event.stream_id),
        version_arg(event.stream_version),
        text(&event.event_type),
        opt_text(occurred_on.map(|on| on.to_string())),
        text(summary),
        text(details),
        text(recorder.actor),
        text(recorder.role),
        opt_text(recorder.organization),
        text(format_instant(event.recorded_at)),
    ]
}

/// What one batch holds back, to write at its end in a few multi-row
/// statements instead of several statements per event: the rows of new
/// cases, per-case changes to `case_files` folded in memory, and the rows of
/// the insert-only tables. An event whose statements read or update a table
/// first writes what is held back for that table ([`CaseFileBatch::flush`]),
/// so the result equals applying the events one by one.
#[derive(Debug, Default)]
struct CaseFileBatch {
    opened: Vec<Vec<Arg>>,
    deltas: BTreeMap<String, CaseDelta>,
    categories: Vec<Vec<Arg>>,
    category_changes: Vec<Vec<Arg>>,
    risk_history: Vec<Vec<Arg>>,
    caregivers: Vec<Vec<Arg>>,
    referrals: Vec<Vec<Arg>>,
    corrections: Vec<Vec<Arg>>,
    timeline: Vec<Vec<Arg>>,
}

/// The tables whose held-back rows a statement may need written first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HeldBack {
    Opened,
    Categories,
    Caregivers,
    Referrals,
}

/// What a batch did to one case's row beyond its opening: counters, the
/// latest profile and risk, and where the case stands in the feed.
#[derive(Debug, Default)]
struct CaseDelta {
    visits: i64,
    services: i64,
    last_visit_on: Option<String>,
    profile: Option<ProfileColumns>,
    risk: Option<(String, String)>,
    version: i64,
    last_position: i64,
    updated_at: String,
}

#[derive(Debug)]
struct ProfileColumns {
    economic_source: String,
    family_structure: String,
    lives_alone: bool,
    monthly_income_fen: i64,
    recorded_on: String,
    version: i64,
}

const INSERT_CASE_FILE: &str = "INSERT INTO {case_files} (case_id, name, gender, birth_date, \
     region_code, organization_id, identified_via, categories, status, opened_on, risk_level, \
     version, last_position, opened_at, updated_at)";
const INSERT_CATEGORY: &str = "INSERT INTO {case_file_categories} (case_id, category, since_on)";
const INSERT_CATEGORY_CHANGE: &str = "INSERT INTO {case_file_category_changes} (case_id, \
     stream_version, category, change, reason, effective_on, actor, role, organization, recorded_at)";
const INSERT_RISK: &str = "INSERT INTO {case_file_risk_history} (case_id, stream_version, level, \
     factors, assessed_on, actor, role, organization, recorded_at)";
const INSERT_CAREGIVER: &str = "INSERT INTO {case_file_caregivers} (case_id, assigned_version, \
     organization_id, worker_id, arrangement, started_on, assigned_by, assigned_at)";
const INSERT_REFERRAL: &str = "INSERT INTO {case_file_referrals} (case_id, referral_id, \
     department, referred_on, made_version)";
const INSERT_CORRECTION: &str = "INSERT INTO {case_file_corrections} (case_id, stream_version, \
     position, target_version, reason, actor, role, organization, recorded_at)";

/// Profile and risk columns change only where the batch saw a profile
/// (column 13, its version, is set) or an assessment (column 14 is set).
const UPDATE_CASE_DELTAS_HEAD: &str = "UPDATE {case_files} SET visits = visits + v.column2, \
     services = services + v.column3, last_visit_on = CASE WHEN v.column4 IS NOT NULL AND \
     (last_visit_on IS NULL OR last_visit_on < v.column4) THEN v.column4 ELSE last_visit_on END, \
     version = v.column5, last_position = v.column6, updated_at = v.column7, \
     economic_source = CASE WHEN v.column13 IS NULL THEN economic_source ELSE v.column8 END, \
     family_structure = CASE WHEN v.column13 IS NULL THEN family_structure ELSE v.column9 END, \
     lives_alone = CASE WHEN v.column13 IS NULL THEN lives_alone ELSE v.column10 END, \
     monthly_income_fen = CASE WHEN v.column13 IS NULL THEN monthly_income_fen ELSE v.column11 END, \
     profile_recorded_on = CASE WHEN v.column13 IS NULL THEN profile_recorded_on ELSE v.column12 END, \
     profile_version = CASE WHEN v.column13 IS NULL THEN profile_version ELSE v.column13 END, \
     risk_level = CASE WHEN v.column14 IS NULL THEN risk_level ELSE v.column14 END, \
     risk_assessed_on = CASE WHEN v.column14 IS NULL THEN risk_assessed_on ELSE v.column15 END \
     FROM (";
const UPDATE_CASE_DELTAS_TAIL: &str = ") AS v WHERE {case_files}.case_id = v.column1";

fn delta_row(case_id: String, delta: CaseDelta) -> Vec<Arg> {
    let (risk_level, assessed_on) = delta.risk.unzip();
    let profile = delta.profile;
    vec![
        text(case_id),
        int(delta.visits),
        int(delta.services),
        opt_text(delta.last_visit_on),
        int(delta.version),
        int(delta.last_position),
        text(delta.updated_at),
        opt_text(profile.as_ref().map(|p| p.economic_source.clone())),
        opt_text(profile.as_ref().map(|p| p.family_structure.clone())),
        Arg::Int(profile.as_ref().map(|p| i64::from(p.lives_alone))),
        Arg::Int(profile.as_ref().map(|p| p.monthly_income_fen)),
        opt_text(profile.as_ref().map(|p| p.recorded_on.clone())),
        Arg::Int(profile.as_ref().map(|p| p.version)),
        opt_text(risk_level),
        opt_text(assessed_on),
    ]
}

#[async_trait]
impl BatchBuffer for CaseFileBatch {
    async fn apply(
        &mut self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        event: &RecordedEvent,
    ) -> Result<(), ProjectionError> {
        match event.stream_type.as_str() {
            "care_case" => {
                let decoded: CaseEvent = event.decode()?;
                self.apply_case_event(tx, names, event, &decoded).await
            }
            "need" => {
                let decoded: NeedEvent = event.decode()?;
                if let Some(case_id) = apply_need_event(tx, names, event, &decoded).await? {
                    self.timeline.push(timeline_row(
                        &case_id,
                        event,
                        describe_need_event(&decoded),
                        open_details(event, decoded.sealed_fields()),
                    ));
                }
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Writes everything held back, in an order where every row a
    /// statement refers to exists: new cases before their changes.
    async fn write(mut self, tx: &mut Tx<'_>, names: &TableNames) -> Result<(), ProjectionError> {
        self.flush(
            tx,
            names,
            &[
                HeldBack::Opened,
                HeldBack::Categories,
                HeldBack::Caregivers,
                HeldBack::Referrals,
            ],
        )
        .await?;
        let deltas = std::mem::take(&mut self.deltas)
            .into_iter()
            .map(|(case_id, delta)| delta_row(case_id, delta))
            .collect();
        execute_rows(
            tx,
            &names.render(UPDATE_CASE_DELTAS_HEAD),
            &names.render(UPDATE_CASE_DELTAS_TAIL),
            deltas,
        )
        .await?;
        for (head, rows) in [
            (INSERT_CATEGORY_CHANGE, self.category_changes),
            (INSERT_RISK, self.risk_history),
            (INSERT_CORRECTION, self.corrections),
            (INSERT_TIMELINE, self.timeline),
        ] {
            execute_rows(tx, &names.render(head), "", rows).await?;
        }
        Ok(())
    }
}

impl CaseFileBatch {
    /// Writes the rows held back for `tables`, before a statement that
    /// reads or updates them.
    async fn flush(
        &mut self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        tables: &[HeldBack],
    ) -> Result<(), ProjectionError> {
        for table in tables {
            let (head, rows) = match table {
                HeldBack::Opened => (INSERT_CASE_FILE, &mut self.opened),
                HeldBack::Categories => (INSERT_CATEGORY, &mut self.categories),
                HeldBack::Caregivers => (INSERT_CAREGIVER, &mut self.caregivers),
                HeldBack::Referrals => (INSERT_REFERRAL, &mut self.referrals),
            };
            execute_rows(tx, &names.render(head), "", std::mem::take(rows)).await?;
        }
        Ok(())
    }

    fn category_change(
        &mut self,
        event: &RecordedEvent,
        recorder: &Recorder,
        (category, change, reason, effective_on): (CareCategory, &str, &str, NaiveDate),
    ) {
        self.category_changes.push(vec![
            text(&event.stream_id),
            version_arg(event.stream_version),
            text(category.code()),
            text(change),
            text(reason),
            date(effective_on),
            text(&recorder.actor),
            text(&recorder.role),
            opt_text(recorder.organization.clone()),
            text(format_instant(event.recorded_at)),
        ]);
    }

    fn risk(
        &mut self,
        event: &RecordedEvent,
        recorder: &Recorder,
        (level, factors, assessed_on): (RiskLevel, &[RiskFactor], NaiveDate),
    ) {
        self.risk_history.push(vec![
            text(&event.stream_id),
            version_arg(event.stream_version),
            text(level.code()),
            text(codes(factors, RiskFactor::code)),
            date(assessed_on),
            text(&recorder.actor),
            text(&recorder.role),
            opt_text(recorder.organization.clone()),
            text(format_instant(event.recorded_at)),
        ]);
    }

    async fn apply_case_event(
        &mut self,
        tx: &mut Tx<'_>,
        names: &TableNames,
        event: &RecordedEvent,
        decoded: &CaseEvent,
    ) -> Result<(), ProjectionError> {
        let case_id = event.stream_id.as_str();
        let recorded_at = format_instant(event.recorded_at);
        let recorder = Recorder::of(event);
        match decoded {
            CaseEvent::CaseOpened(opened) => {
                self.opened.push(vec![
                    text(case_id),
                    text(&opened.name),
                    text(opened.gender.code()),
                    date(opened.birth_date),
                    text(opened.residence_region.as_str()),
                    opt_text(opened.organization_id.map(|id| id.to_string())),
                    text(opened.identified_via.code()),
                    text(category_list(
                        opened.categories.iter().map(CareCategory::code),
                    )),
                    text(CaseStatus::Open.code()),
                    date(opened.opened_on),
                    text(opened.risk_level.code()),
                    version_arg(event.stream_version),
                    int(event.position),
                    text(&recorded_at),
                    text(&recorded_at),
                ]);
                for category in &opened.categories {
                    self.categories.push(vec![
                        text(case_id),
                        text(category.code()),
                        date(opened.opened_on),
                    ]);
                    self.category_change(
                        event,
                        &recorder,
                        (*category, "added", "建档时认定", opened.opened_on),
                    );
                }
                self.risk(event, &recorder, (opened.risk_level, &[], opened.opened_on));
            }
            CaseEvent::CategoriesChanged(changed) => {
                self.flush(tx, names, &[HeldBack::Opened, HeldBack::Categories])
                    .await?;
                for category in &changed.removed {
                    execute(
                        tx,
                        names.sql(
                            "DELETE FROM {case_file_categories} WHERE case_id = $1 AND category = $2",
                        ),
                        vec![text(case_id), text(category.code())],
                    )
                    .await?;
                    self.category_change(
                        event,
                        &recorder,
                        (*category, "removed", &changed.reason, changed.effective_on),
                    );
                }
                for category in &changed.added {
                    self.categories.push(vec![
                        text(case_id),
                        text(category.code()),
                        date(changed.effective_on),
                    ]);
                    self.category_change(
                        event,
                        &recorder,
                        (*category, "added", &changed.reason, changed.effective_on),
                    );
                }
                self.flush(tx, names, &[HeldBack::Categories]).await?;
                refresh_categories(tx, names, case_id).await?;
            }
            CaseEvent::ProfileRecorded(profile) => {
                self.delta(case_id).profile = Some(ProfileColumns {
                    economic_source: profile.economic_source.clone(),
                    family_structure: profile.family_structure.clone(),
                    lives_alone: profile.lives_alone,
                    monthly_income_fen: profile.monthly_income_fen,
                    recorded_on: profile.recorded_on.to_string(),
                    version: i64::try_from(event.stream_version).unwrap_or(i64::MAX),
                });
            }
            CaseEvent::RiskAssessed(assessed) => {
                self.delta(case_id).risk = Some((
                    assessed.level.code().to_owned(),
                    assessed.assessed_on.to_string(),
                ));
                self.risk(
                    event,
                    &recorder,
                    (assessed.level, &assessed.factors, assessed.assessed_on),
                );
            }
            CaseEvent::CaregiverAssigned(assigned) => {
                self.caregivers.push(vec![
                    text(case_id),
                    version_arg(event.stream_version),
                    text(assigned.organization_id.to_string()),
                    text(assigned.worker_id.to_string()),
                    text(assigned.arrangement.code()),
                    date(assigned.started_on),
                    text(&recorder.actor),
                    text(&recorded_at),
                ]);
            }
            CaseEvent::CaregiverReleased(released) => {
                self.flush(tx, names, &[HeldBack::Caregivers]).await?;
                execute(
                    tx,
                    names.sql(
                        "UPDATE {case_file_caregivers} SET ended_on = $4, release_reason = $5, \
                         released_version = $6, released_by = $7, released_at = $8 \
                         WHERE case_id = $1 AND organization_id = $2 AND worker_id = $3 \
                         AND released_version IS NULL",
                    ),
                    vec![
                        text(case_id),
                        text(released.organization_id.to_string()),
                        text(released.worker_id.to_string()),
                        date(released.ended_on),
                        text(&released.reason),
                        version_arg(event.stream_version),
                        text(&recorder.actor),
                        text(&recorded_at),
                    ],
                )
                .await?;
            }
            CaseEvent::VisitRecorded(visit) => {
                let on = visit.visited_on.to_string();
                let delta = self.delta(case_id);
                delta.visits += 1;
                if delta.last_visit_on.as_ref().is_none_or(|last| *last < on) {
                    delta.last_visit_on = Some(on);
                }
            }
            CaseEvent::ServiceDelivered(_) => self.delta(case_id).services += 1,
            CaseEvent::ReferralMade(made) => {
                self.referrals.push(vec![
                    text(case_id),
                    text(made.referral_id.to_string()),
                    text(made.department.code()),
                    date(made.referred_on),
                    version_arg(event.stream_version),
                ]);
            }
            CaseEvent::ReferralResolved(resolved) => {
                self.flush(tx, names, &[HeldBack::Referrals]).await?;
                execute(
                    tx,
                    names.sql(
                        "UPDATE {case_file_referrals} SET resolved_on = $3, resolved_version = $4 \
                         WHERE case_id = $1 AND referral_id = $2",
                    ),
                    vec![
                        text(case_id),
                        text(resolved.referral_id.to_string()),
                        date(resolved.resolved_on),
                        version_arg(event.stream_version),
                    ],
                )
                .await?;
            }
            CaseEvent::OutcomeRecorded(_) => {}
            CaseEvent::CaseTransferred(transferred) => {
                self.flush(tx, names, &[HeldBack::Opened]).await?;
                execute(
                    tx,
                    names.sql(
                        "UPDATE {case_files} SET region_code = $2, organization_id = $3 WHERE case_id = $1",
                    ),
                    vec![
                        text(case_id),
                        text(transferred.to_region.as_str()),
                        opt_text(transferred.to_organization_id.map(|id| id.to_string())),
                    ],
                )
                .await?;
            }
            CaseEvent::CaseClosed(closed) => {
                self.flush(tx, names, &[HeldBack::Opened]).await?;
                execute(
                    tx,
                    names.sql(
                        "UPDATE {case_files} SET status = $2, closed_on = $3, close_reason = $4, \
                         close_note = $5 WHERE case_id = $1",
                    ),
                    vec![
                        text(case_id),
                        text(CaseStatus::Closed.code()),
                        date(closed.closed_on),
                        text(closed.reason.code()),
                        text(&closed.note),
                    ],
                )
                .await?;
            }
            CaseEvent::CaseReopened(reopened) => {
                self.flush(tx, names, &[HeldBack::Opened]).await?;
                execute(
                    tx,
                    names.sql(
                        "UPDATE {case_files} SET status = $2, closed_on = NULL, close_reason = NULL, \
                         close_note = NULL, reopened_on = $3 WHERE case_id = $1",
                    ),
                    vec![
                        text(case_id),
                        text(CaseStatus::Open.code()),
                        date(reopened.reopened_on),
                    ],
                )
                .await?;
            }
            CaseEvent::EntryCorrected(corrected) => {
                self.corrections.push(vec![
                    text(case_id),
                    version_arg(event.stream_version),
                    int(event.position),
                    version_arg(corrected.corrected_version),
                    text(&corrected.reason),
                    text(&recorder.actor),
                    text(&recorder.role),
                    opt_text(recorder.organization.clone()),
                    text(&recorded_at),
                ]);
            }
            CaseEvent::PersonalDataErased(erased) => {
                self.flush(tx, names, &[HeldBack::Opened]).await?;
                execute(
                    tx,
                    names.sql(
                        "UPDATE {case_files} SET erased = 1, erased_on = $2 WHERE case_id = $1",
                    ),
                    vec![text(case_id), date(erased.erased_on)],
                )
                .await?;
            }
        }
        let delta = self.delta(case_id);
        delta.version = i64::try_from(event.stream_version).unwrap_or(i64::MAX);
        delta.last_position = event.position;
        delta.updated_at = recorded_at;
        self.timeline.push(timeline_row(
            case_id,
            event,
            describe_case_event(decoded),
            open_details(event, decoded.sealed_fields()),
        ));
        Ok(())
    }

    fn delta(&mut self, case_id: &str) -> &mut CaseDelta {
        self.deltas.entry(case_id.to_owned()).or_default()
    }
}

/// Rewrites the current categories as a JSON list from the membership
/// table (the one filters use).
async fn refresh_categories(
    tx: &mut Tx<'_>,
    names: &TableNames,
    case_id: &str,
) -> Result<(), ProjectionError> {
    let current = fetch_texts(
        tx,
        names.sql("SELECT category FROM {case_file_categories} WHERE case_id = $1"),
        vec![text(case_id)],
    )
    .await?;
    let list = category_list(current.into_iter().flatten());
    execute(
        tx,
        names.sql("UPDATE {case_files} SET categories = $2 WHERE case_id = $1"),
        vec![text(case_id), text(list)],
    )
    .await?;
    Ok(())
}

/// Category codes as the JSON list `case_files.categories` holds, sorted by
/// their bytes here rather than by the database, whose collation may differ
/// (`severe_mental_disorder` sorts after `severely_disabled` in en_US).
fn category_list(codes: impl IntoIterator<Item = impl Into<String>>) -> String {
    let mut codes: Vec<String> = codes.into_iter().map(Into::into).collect();
    codes.sort_unstable();
    Value::Array(codes.into_iter().map(Value::String).collect()).to_string()
}

/// Applies a need event to the needs of the person it was raised for; the
/// case whose timeline shows it, `None` for a community need.
async fn apply_need_event(
    tx: &mut Tx<'_>,
    names: &TableNames,
    event: &RecordedEvent,
    decoded: &NeedEvent,
) -> Result<Option<String>, ProjectionError> {
    let need_id = event.stream_id.as_str();
    let case_id = if let NeedEvent::NeedRaised(raised) = decoded {
        // A community need belongs to no one's file.
        let Some(case_id) = raised.case_id else {
            return Ok(None);
        };
        execute(
            tx,
            names.sql(
                "INSERT INTO {case_file_needs} (need_id, case_id, category, micro_wish, urgency, \
                 source, status, level, raised_on, version) \
                 VALUES ($1, $2, $3, $4, $5, $6, 'on_ledger', $7, $8, $9)",
            ),
            vec![
                text(need_id),
                text(case_id.to_string()),
                text(raised.category.code()),
                flag(raised.micro_wish),
                text(raised.urgency.code()),
                text(raised.source.code()),
                text(EscalationLevel::County.code()),
                date(raised.raised_on),
                version_arg(event.stream_version),
            ],
        )
        .await?;
        case_id.to_string()
    } else {
        let found = fetch_texts(
            tx,
            names.sql("SELECT case_id FROM {case_file_needs} WHERE need_id = $1"),
            vec![text(need_id)],
        )
        .await?;
        let Some(Some(case_id)) = found.into_iter().next() else {
            return Ok(None);
        };
        update_need(tx, names, need_id, decoded).await?;
        case_id
    };
    execute(
        tx,
        names.sql("UPDATE {case_file_needs} SET version = $2 WHERE need_id = $1"),
        vec![text(need_id), version_arg(event.stream_version)],
    )
    .await?;
    Ok(Some(case_id))
}

async fn update_need(
    tx: &mut Tx<'_>,
    names: &TableNames,
    need_id: &str,
    decoded: &NeedEvent,
) -> Result<(), ProjectionError> {
    let (sql, args): (&str, Vec<Arg>) = match decoded {
        NeedEvent::NeedRaised(_) | NeedEvent::NeedProgressRecorded(_) => return Ok(()),
        NeedEvent::NeedDispatched(dispatched) => (
            "UPDATE {case_file_needs} SET status = 'dispatched', organization_id = $2, due_on = $3 \
             WHERE need_id = $1",
            vec![
                text(dispatched.organization_id.to_string()),
                date(dispatched.due_on),
            ],
        ),
        NeedEvent::NeedAccepted(_) => (
            "UPDATE {case_file_needs} SET status = 'accepted' WHERE need_id = $1",
            vec![],
        ),
        // Back on the ledger of whoever holds it: the county's, or the level
        // it was escalated to.
        NeedEvent::NeedDeclined(_) => (
            "UPDATE {case_file_needs} SET status = CASE WHEN level = 'county' THEN 'on_ledger' \
             ELSE 'escalated' END, organization_id = NULL, due_on = NULL WHERE need_id = $1",
            vec![],
        ),
        NeedEvent::NeedFulfilled(fulfilled) => (
            "UPDATE {case_file_needs} SET status = 'fulfilled', fulfilled_on = $2 WHERE need_id = $1",
            vec![date(fulfilled.fulfilled_on)],
        ),
        NeedEvent::NeedEvaluated(evaluated) => (
            "UPDATE {case_file_needs} SET status = 'evaluated', satisfaction = $2 WHERE need_id = $1",
            vec![int(i64::from(evaluated.satisfaction))],
        ),
        NeedEvent::NeedEscalated(escalated) => (
            "UPDATE {case_file_needs} SET status = 'escalated', level = $2 WHERE need_id = $1",
            vec![text(escalated.to.code())],
        ),
        NeedEvent::NeedWithdrawn(_) => (
            "UPDATE {case_file_needs} SET status = 'withdrawn' WHERE need_id = $1",
            vec![],
        ),
    };
    let mut all = vec![text(need_id)];
    all.extend(args);
    execute(tx, names.sql(sql), all).await?;
    Ok(())
}

// ---------------------------------------------------------------------------
// Queries
// ---------------------------------------------------------------------------

/// The case file as far as it may be shown without unsealing personal data.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CaseFile {
    pub case_id: String,
    pub name: String,
    /// Codes; labels come from the vocabulary (`Gender::from_code(..).label_zh()`).
    pub gender: String,
    pub birth_date: NaiveDate,
    pub region_code: String,
    pub organization_id: Option<String>,
    pub identified_via: String,
    pub status: String,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub close_reason: Option<String>,
    pub close_note: Option<String>,
    pub reopened_on: Option<NaiveDate>,
    /// True once the person's personal data was erased (个人信息保护法 第47条).
    pub erased: bool,
    pub erased_on: Option<NaiveDate>,
    /// The current categories, sorted by code.
    pub categories: Vec<String>,
    pub category_history: Vec<CategoryChange>,
    pub risk_level: String,
    pub risk_assessed_on: Option<NaiveDate>,
    pub risk_history: Vec<RiskEntry>,
    /// Caregivers looking after the person now.
    pub caregivers: Vec<Caregiver>,
    /// Every assignment, current and ended, oldest first.
    pub caregiver_history: Vec<Caregiver>,
    /// The latest 台账, without the sealed health, care situation and notes.
    pub profile: Option<Profile>,
    pub referrals: Vec<Referral>,
    pub needs: Vec<CaseNeed>,
    /// Everything recorded about the person, in recording order.
    pub timeline: Vec<TimelineEntry>,
    pub visits: u64,
    pub services: u64,
    pub last_visit_on: Option<NaiveDate>,
    pub version: u64,
    pub last_position: i64,
    pub opened_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CategoryChange {
    pub category: String,
    /// `added` or `removed`.
    pub change: String,
    pub reason: String,
    pub effective_on: NaiveDate,
    pub stream_version: u64,
    pub recorded_by: Recorder,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RiskEntry {
    pub level: String,
    pub factors: Vec<String>,
    pub assessed_on: NaiveDate,
    pub stream_version: u64,
    pub recorded_by: Recorder,
    pub recorded_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Caregiver {
    pub organization_id: String,
    pub worker_id: String,
    pub arrangement: String,
    pub started_on: NaiveDate,
    pub ended_on: Option<NaiveDate>,
    pub release_reason: Option<String>,
    pub assigned_by: String,
    pub assigned_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Profile {
    pub economic_source: String,
    pub family_structure: String,
    pub lives_alone: bool,
    pub monthly_income_fen: i64,
    pub recorded_on: NaiveDate,
    pub stream_version: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Referral {
    pub referral_id: String,
    pub department: String,
    pub referred_on: NaiveDate,
    pub resolved_on: Option<NaiveDate>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseNeed {
    pub need_id: String,
    pub category: String,
    pub micro_wish: bool,
    pub urgency: String,
    pub source: String,
    pub status: String,
    pub level: String,
    pub organization_id: Option<String>,
    pub raised_on: NaiveDate,
    pub due_on: Option<NaiveDate>,
    pub fulfilled_on: Option<NaiveDate>,
    pub satisfaction: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TimelineEntry {
    pub position: i64,
    /// `care_case`, or `need` for a need raised for the person.
    pub stream_type: String,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_type: String,
    pub occurred_on: Option<NaiveDate>,
    /// As first recorded; corrections never rewrite it.
    pub summary: String,
    /// The event's fields without the sealed personal ones.
    pub details: Value,
    pub recorded_by: Recorder,
    pub recorded_at: DateTime<Utc>,
    /// Corrections of this entry, oldest first. The corrected values are
    /// sealed (they may be personal): read them with
    /// [`reveal_personal_fields`].
    pub corrections: Vec<CorrectionNote>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CorrectionNote {
    /// The stream version of the `EntryCorrected` event.
    pub stream_version: u64,
    pub position: i64,
    pub reason: String,
    pub corrected_by: Recorder,
    pub corrected_at: DateTime<Utc>,
}

/// One line of a case list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CaseSummary {
    pub case_id: String,
    pub name: String,
    pub gender: String,
    pub birth_date: NaiveDate,
    pub region_code: String,
    pub organization_id: Option<String>,
    pub status: String,
    pub risk_level: String,
    pub categories: Vec<String>,
    pub opened_on: NaiveDate,
    pub closed_on: Option<NaiveDate>,
    pub last_visit_on: Option<NaiveDate>,
    pub erased: bool,
    pub updated_at: DateTime<Utc>,
}

/// Which cases to list. Every condition given must hold.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CaseFilter {
    /// A prefix of the 12-digit region code (province 2, city 4, county 6,
    /// township 9, village 12 digits).
    pub region_prefix: Option<String>,
    pub category: Option<CareCategory>,
    pub status: Option<CaseStatus>,
    /// The responsible organization, or one with a current caregiver.
    pub organization: Option<Uuid>,
    /// A current caregiver.
    pub worker: Option<Uuid>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
    pub offset: u32,
}

/// One page of a longer list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    /// How many match in all.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
}

pub(crate) const DEFAULT_LIMIT: u32 = 50;
pub(crate) const MAX_LIMIT: u32 = 500;

pub(crate) fn parse_date(text: &str) -> Result<NaiveDate, ProjectionError> {
    text.parse()
        .map_err(|e| ProjectionError::decode(format!("日期 {text} 无法解析：{e}")))
}

pub(crate) fn parse_optional_date(
    text: Option<String>,
) -> Result<Option<NaiveDate>, ProjectionError> {
    text.as_deref().map(parse_date).transpose()
}

pub(crate) fn parse_instant(text: &str) -> Result<DateTime<Utc>, ProjectionError> {
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| ProjectionError::decode(format!("时间 {text} 无法解析：{e}")))
}

fn to_u64(value: i64) -> u64 {
    u64::try_from(value).unwrap_or_default()
}

fn json_list(text: &str) -> Vec<String> {
    serde_json::from_str(text).unwrap_or_default()
}

#[derive(Debug, sqlx::FromRow)]
struct CaseRow {
    case_id: String,
    name: String,
    gender: String,
    birth_date: String,
    region_code: String,
    organization_id: Option<String>,
    identified_via: String,
    categories: String,
    status: String,
    opened_on: String,
    closed_on: Option<String>,
    close_reason: Option<String>,
    close_note: Option<String>,
    reopened_on: Option<String>,
    risk_level: String,
    risk_assessed_on: Option<String>,
    economic_source: Option<String>,
    family_structure: Option<String>,
    lives_alone: Option<i64>,
    monthly_income_fen: Option<i64>,
    profile_recorded_on: Option<String>,
    profile_version: Option<i64>,
    last_visit_on: Option<String>,
    visits: i64,
    services: i64,
    erased: i64,
    erased_on: Option<String>,
    version: i64,
    last_position: i64,
    opened_at: String,
    updated_at: String,
}

#[derive(Debug, sqlx::FromRow)]
struct CategoryChangeRow {
    category: String,
    change: String,
    reason: String,
    effective_on: String,
    stream_version: i64,
    actor: String,
    role: String,
    organization: Option<String>,
    recorded_at: String,
}

#[derive(Debug, sqlx::FromRow)]
struct RiskRow {
    level: String,
    factors: String,
    assessed_on: String,
    stream_version: i64,
    actor: String,
    role: String,
    organization: Option<String>,
    recorded_at: String,
}

#[derive(Debug, sqlx::FromRow)]
struct CaregiverRow {
    organization_id: String,
    worker_id: String,
    arrangement: String,
    started_on: String,
    ended_on: Option<String>,
    release_reason: Option<String>,
    assigned_by: String,
    assigned_at: String,
}

#[derive(Debug, sqlx::FromRow)]
struct ReferralRow {
    referral_id: String,
    department: String,
    referred_on: String,
    resolved_on: Option<String>,
}

#[derive(Debug, sqlx::FromRow)]
struct NeedRow {
    need_id: String,
    category: String,
    micro_wish: i64,
    urgency: String,
    source: String,
    status: String,
    level: String,
    organization_id: Option<String>,
    raised_on: String,
    due_on: Option<String>,
    fulfilled_on: Option<String>,
    satisfaction: Option<i64>,
}

#[derive(Debug, sqlx::FromRow)]
struct TimelineRow {
    position: i64,
    stream_type: String,
    stream_id: String,
    stream_version: i64,
    event_type: String,
    occurred_on: Option<String>,
    summary: String,
    details: String,
    actor: String,
    role: String,
    organization: Option<String>,
    recorded_at: String,
}

#[derive(Debug, sqlx::FromRow)]
struct CorrectionRow {
    stream_version: i64,
    position: i64,
    target_version: i64,
    reason: String,
    actor: String,
    role: String,
    organization: Option<String>,
    recorded_at: String,
}

const SELECT_CASE: &str = "SELECT case_id, name, gender, birth_date, region_code, organization_id, \
     identified_via, categories, status, opened_on, closed_on, close_reason, close_note, reopened_on, \
     risk_level, risk_assessed_on, economic_source, family_structure, lives_alone, monthly_income_fen, \
     profile_recorded_on, profile_version, last_visit_on, visits, services, erased, erased_on, \
     version, last_position, opened_at, updated_at FROM case_files WHERE case_id = $1";
const SELECT_CATEGORY_CHANGES: &str = "SELECT category, change, reason, effective_on, stream_version, \
     actor, role, organization, recorded_at FROM case_file_category_changes WHERE case_id = $1 \
     ORDER BY stream_version, change DESC, category";
const SELECT_RISK: &str = "SELECT level, factors, assessed_on, stream_version, actor, role, \
     organization, recorded_at FROM case_file_risk_history WHERE case_id = $1 ORDER BY stream_version";
const SELECT_CAREGIVERS: &str = "SELECT organization_id, worker_id, arrangement, started_on, ended_on, \
     release_reason, assigned_by, assigned_at FROM case_file_caregivers WHERE case_id = $1 \
     ORDER BY assigned_version";
const SELECT_REFERRALS: &str = "SELECT referral_id, department, referred_on, resolved_on \
     FROM case_file_referrals WHERE case_id = $1 ORDER BY made_version";
const SELECT_NEEDS: &str = "SELECT need_id, category, micro_wish, urgency, source, status, level, \
     organization_id, raised_on, due_on, fulfilled_on, satisfaction FROM case_file_needs \
     WHERE case_id = $1 ORDER BY raised_on, need_id";
const SELECT_TIMELINE: &str = "SELECT position, stream_type, stream_id, stream_version, event_type, \
     occurred_on, summary, details, actor, role, organization, recorded_at FROM case_timeline \
     WHERE case_id = $1 ORDER BY position";
const SELECT_CORRECTIONS: &str = "SELECT stream_version, position, target_version, reason, actor, role, \
     organization, recorded_at FROM case_file_corrections WHERE case_id = $1 ORDER BY stream_version";

/// The case file of one person, or `None` when no such case was opened (or
/// the projection has not reached it yet).
pub async fn case_file(db: &Database, case_id: Uuid) -> Result<Option<CaseFile>, ProjectionError> {
    let id = case_id.to_string();
    let (row, changes, risks, caregivers, referrals, needs, timeline, corrections) = with_pool!(db, pool => {
        let row: Option<CaseRow> = sqlx::query_as(SELECT_CASE).bind(&id).fetch_optional(pool).await?;
        if row.is_none() {
            return Ok(None);
        }
        (
            row,
            sqlx::query_as::<_, CategoryChangeRow>(SELECT_CATEGORY_CHANGES).bind(&id).fetch_all(pool).await?,
            sqlx::query_as::<_, RiskRow>(SELECT_RISK).bind(&id).fetch_all(pool).await?,
            sqlx::query_as::<_, CaregiverRow>(SELECT_CAREGIVERS).bind(&id).fetch_all(pool).await?,
            sqlx::query_as::<_, ReferralRow>(SELECT_REFERRALS).bind(&id).fetch_all(pool).await?,
            sqlx::query_as::<_, NeedRow>(SELECT_NEEDS).bind(&id).fetch_all(pool).await?,
            sqlx::query_as::<_, TimelineRow>(SELECT_TIMELINE).bind(&id).fetch_all(pool).await?,
            sqlx::query_as::<_, CorrectionRow>(SELECT_CORRECTIONS).bind(&id).fetch_all(pool).await?,
        )
    });
    let Some(row) = row else {
        return Ok(None);
    };

    let mut corrections_by_target: BTreeMap<i64, Vec<CorrectionNote>> = BTreeMap::new();
    for correction in corrections {
        corrections_by_target
            .entry(correction.target_version)
            .or_default()
            .push(CorrectionNote {
                stream_version: to_u64(correction.stream_version),
                position: correction.position,
                reason: correction.reason,
                corrected_by: Recorder {
                    actor: correction.actor,
                    role: correction.role,
                    organization: correction.organization,
                },
                corrected_at: parse_instant(&correction.recorded_at)?,
            });
    }
    let timeline = timeline
        .into_iter()
        .map(|entry| {
            let corrections = if entry.stream_type == "care_case" {
                corrections_by_target
                    .remove(&entry.stream_version)
                    .unwrap_or_default()
            } else {
                Vec::new()
            };
            Ok(TimelineEntry {
                position: entry.position,
                stream_type: entry.stream_type,
                stream_id: entry.stream_id,
                stream_version: to_u64(entry.stream_version),
                event_type: entry.event_type,
                occurred_on: parse_optional_date(entry.occurred_on)?,
                summary: entry.summary,
                details: serde_json::from_str(&entry.details).map_err(ProjectionError::decode)?,
                recorded_by: Recorder {
                    actor: entry.actor,
                    role: entry.role,
                    organization: entry.organization,
                },
                recorded_at: parse_instant(&entry.recorded_at)?,
                corrections,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;

    let caregiver_history = caregivers
        .into_iter()
        .map(|c| {
            Ok(Caregiver {
                organization_id: c.organization_id,
                worker_id: c.worker_id,
                arrangement: c.arrangement,
                started_on: parse_date(&c.started_on)?,
                ended_on: parse_optional_date(c.ended_on)?,
                release_reason: c.release_reason,
                assigned_by: c.assigned_by,
                assigned_at: parse_instant(&c.assigned_at)?,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;

    let profile = match (row.profile_recorded_on, row.profile_version) {
        (Some(recorded_on), Some(version)) => Some(Profile {
            economic_source: row.economic_source.unwrap_or_default(),
            family_structure: row.family_structure.unwrap_or_default(),
            lives_alone: row.lives_alone.unwrap_or_default() != 0,
            monthly_income_fen: row.monthly_income_fen.unwrap_or_default(),
            recorded_on: parse_date(&recorded_on)?,
            stream_version: to_u64(version),
        }),
        _ => None,
    };

    Ok(Some(CaseFile {
        case_id: row.case_id,
        name: row.name,
        gender: row.gender,
        birth_date: parse_date(&row.birth_date)?,
        region_code: row.region_code,
        organization_id: row.organization_id,
        identified_via: row.identified_via,
        status: row.status,
        opened_on: parse_date(&row.opened_on)?,
        closed_on: parse_optional_date(row.closed_on)?,
        close_reason: row.close_reason,
        close_note: row.close_note,
        reopened_on: parse_optional_date(row.reopened_on)?,
        erased: row.erased != 0,
        erased_on: parse_optional_date(row.erased_on)?,
        categories: json_list(&row.categories),
        category_history: changes
            .into_iter()
            .map(|c| {
                Ok(CategoryChange {
                    category: c.category,
                    change: c.change,
                    reason: c.reason,
                    effective_on: parse_date(&c.effective_on)?,
                    stream_version: to_u64(c.stream_version),
                    recorded_by: Recorder {
                        actor: c.actor,
                        role: c.role,
                        organization: c.organization,
                    },
                    recorded_at: parse_instant(&c.recorded_at)?,
                })
            })
            .collect::<Result<_, ProjectionError>>()?,
        risk_level: row.risk_level,
        risk_assessed_on: parse_optional_date(row.risk_assessed_on)?,
        risk_history: risks
            .into_iter()
            .map(|r| {
                Ok(RiskEntry {
                    level: r.level,
                    factors: json_list(&r.factors),
                    assessed_on: parse_date(&r.assessed_on)?,
                    stream_version: to_u64(r.stream_version),
                    recorded_by: Recorder {
                        actor: r.actor,
                        role: r.role,
                        organization: r.organization,
                    },
                    recorded_at: parse_instant(&r.recorded_at)?,
                })
            })
            .collect::<Result<_, ProjectionError>>()?,
        caregivers: caregiver_history
            .iter()
            .filter(|c| c.ended_on.is_none())
            .cloned()
            .collect(),
        caregiver_history,
        profile,
        referrals: referrals
            .into_iter()
            .map(|r| {
                Ok(Referral {
                    referral_id: r.referral_id,
                    department: r.department,
                    referred_on: parse_date(&r.referred_on)?,
                    resolved_on: parse_optional_date(r.resolved_on)?,
                })
            })
            .collect::<Result<_, ProjectionError>>()?,
        needs: needs
            .into_iter()
            .map(|n| {
                Ok(CaseNeed {
                    need_id: n.need_id,
                    category: n.category,
                    micro_wish: n.micro_wish != 0,
                    urgency: n.urgency,
                    source: n.source,
                    status: n.status,
                    level: n.level,
                    organization_id: n.organization_id,
                    raised_on: parse_date(&n.raised_on)?,
                    due_on: parse_optional_date(n.due_on)?,
                    fulfilled_on: parse_optional_date(n.fulfilled_on)?,
                    satisfaction: n.satisfaction,
                })
            })
            .collect::<Result<_, ProjectionError>>()?,
        timeline,
        visits: to_u64(row.visits),
        services: to_u64(row.services),
        last_visit_on: parse_optional_date(row.last_visit_on)?,
        version: to_u64(row.version),
        last_position: row.last_position,
        opened_at: parse_instant(&row.opened_at)?,
        updated_at: parse_instant(&row.updated_at)?,
    }))
}

#[derive(Debug, sqlx::FromRow)]
struct SummaryRow {
    case_id: String,
    name: String,
    gender: String,
    birth_date: String,
    region_code: String,
    organization_id: Option<String>,
    status: String,
    risk_level: String,
    categories: String,
    opened_on: String,
    closed_on: Option<String>,
    last_visit_on: Option<String>,
    erased: i64,
    updated_at: String,
}

/// `$1` region prefix, `$2` category, `$3` status, `$4` organization,
/// `$5` worker; a NULL parameter leaves its condition out. The prefix is
/// compared with `substr`, not `LIKE`, so no character in it is a wildcard.
const CASE_CONDITIONS: &str = "WHERE ($1 IS NULL OR substr(c.region_code, 1, length($1)) = $1) \
     AND ($2 IS NULL OR EXISTS (SELECT 1 FROM case_file_categories k \
          WHERE k.case_id = c.case_id AND k.category = $2)) \
     AND ($3 IS NULL OR c.status = $3) \
     AND ($4 IS NULL OR c.organization_id = $4 OR EXISTS (SELECT 1 FROM case_file_caregivers g \
          WHERE g.case_id = c.case_id AND g.released_version IS NULL AND g.organization_id = $4)) \
     AND ($5 IS NULL OR EXISTS (SELECT 1 FROM case_file_caregivers w \
          WHERE w.case_id = c.case_id AND w.released_version IS NULL AND w.worker_id = $5))";

/// The cases matching `filter`, most recently opened first.
pub async fn list_cases(
    db: &Database,
    filter: &CaseFilter,
) -> Result<Page<CaseSummary>, ProjectionError> {
    let limit = filter.limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT);
    let list_sql = format!(
        "SELECT c.case_id, c.name, c.gender, c.birth_date, c.region_code, c.organization_id, \
         c.status, c.risk_level, c.categories, c.opened_on, c.closed_on, c.last_visit_on, \
         c.erased, c.updated_at FROM case_files c {CASE_CONDITIONS} \
         ORDER BY c.opened_on DESC, c.case_id LIMIT $6 OFFSET $7"
    );
    let count_sql = format!("SELECT COUNT(*) FROM case_files c {CASE_CONDITIONS}");
    let region = filter.region_prefix.clone();
    let category = filter.category.map(|c| c.code());
    let status = filter.status.map(|s| s.code());
    let organization = filter.organization.map(|id| id.to_string());
    let worker = filter.worker.map(|id| id.to_string());
    let (rows, total): (Vec<SummaryRow>, i64) = with_pool!(db, pool => {
        let rows = sqlx::query_as(AssertSqlSafe(list_sql))
            .bind(region.clone())
            .bind(category)
            .bind(status)
            .bind(organization.clone())
            .bind(worker.clone())
            .bind(i64::from(limit))
            .bind(i64::from(filter.offset))
            .fetch_all(pool)
            .await?;
        let total = sqlx::query_scalar(AssertSqlSafe(count_sql))
            .bind(region)
            .bind(category)
            .bind(status)
            .bind(organization)
            .bind(worker)
            .fetch_one(pool)
            .await?;
        (rows, total)
    });
    let items = rows
        .into_iter()
        .map(|r| {
            Ok(CaseSummary {
                case_id: r.case_id,
                name: r.name,
                gender: r.gender,
                birth_date: parse_date(&r.birth_date)?,
                region_code: r.region_code,
                organization_id: r.organization_id,
                status: r.status,
                risk_level: r.risk_level,
                categories: json_list(&r.categories),
                opened_on: parse_date(&r.opened_on)?,
                closed_on: parse_optional_date(r.closed_on)?,
                last_visit_on: parse_optional_date(r.last_visit_on)?,
                erased: r.erased != 0,
                updated_at: parse_instant(&r.updated_at)?,
            })
        })
        .collect::<Result<Vec<_>, ProjectionError>>()?;
    Ok(Page {
        items,
        total: to_u64(total),
        limit,
        offset: filter.offset,
    })
}

// ---------------------------------------------------------------------------
// Personal data, unsealed for one reader
// ---------------------------------------------------------------------------

/// Who asks to see a person's personal data, and why. Written to the access
/// log with what was shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    pub actor: String,
    pub role: String,
    pub organization: Option<String>,
    pub reason: String,
}

#[derive(Debug, Error)]
pub enum RevealError {
    #[error("查看个人信息必须说明理由（个人信息保护法要求记录查看目的）")]
    ReasonRequired,
    #[error("查看人身份不明，不能查看个人信息")]
    ReaderUnknown,
    #[error("未找到档案 {0}")]
    CaseNotFound(Uuid),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("访问记录未能写入，个人信息不予显示：{0}")]
    AccessLog(#[from] sqlx::Error),
    #[error("档案事件无法解析：{0}")]
    Decode(String),
}

/// A person's personal fields as of now, corrections applied. A value whose
/// key was destroyed reads as [`Personal::Erased`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonalFields {
    pub case_id: Uuid,
    pub name: String,
    pub id_number: Personal<String>,
    pub phone: Personal<String>,
    pub address: Personal<String>,
    /// From the latest 台账, if any was recorded.
    pub health: Option<Personal<String>>,
    pub care_situation: Option<Personal<String>>,
    pub profile_notes: Option<Personal<String>>,
    pub wellbeing_notes: Vec<RevealedNote>,
    pub referrals: Vec<RevealedReferral>,
    /// Every correction with the original value it replaced.
    pub corrections: Vec<RevealedCorrection>,
    /// True once the person's data was erased: nothing above is readable.
    pub erased: bool,
    /// The stream version these values are as of.
    pub version: u64,
    pub revealed_at: DateTime<Utc>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevealedNote {
    pub stream_version: u64,
    pub visited_on: NaiveDate,
    pub text: Personal<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevealedReferral {
    pub referral_id: Uuid,
    pub department: Department,
    pub referred_on: NaiveDate,
    pub reason: Personal<String>,
    pub answer: Option<Personal<String>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RevealedCorrection {
    /// The stream version of the `EntryCorrected` event.
    pub stream_version: u64,
    pub target_version: u64,
    pub target_event_type: String,
    pub reason: String,
    /// The corrected values, by field name.
    pub corrected: Personal<Map<String, Value>>,
    /// The same fields as first recorded in the target event.
    pub original: Map<String, Value>,
    pub corrected_by: Recorder,
    pub corrected_at: DateTime<Utc>,
}

/// Reads the personal fields of one case from the event store, unsealed,
/// and records in the access log who read them, as whom, why and what was
/// shown — in this same call, before anything is returned: if the log
/// cannot be written, nothing is shown.
pub async fn reveal_personal_fields(
    store: &Store,
    case_id: Uuid,
    reader: &Reader,
) -> Result<PersonalFields, RevealError> {
    if reader.actor.trim().is_empty() || reader.role.trim().is_empty() {
        return Err(RevealError::ReaderUnknown);
    }
    if reader.reason.trim().is_empty() {
        return Err(RevealError::ReasonRequired);
    }
    let stream_id = case_id.to_string();
    let events = store
        .load_stream(&stream_id, 0, PersonalDataMode::Reveal)
        .await?;
    if events.first().is_none_or(|e| e.stream_type != "care_case") {
        return Err(RevealError::CaseNotFound(case_id));
    }
    let fields = personal_fields(case_id, &events)?;
    record_access(
        store.database(),
        &NewAccess {
            accessed_at: fields.revealed_at,
            actor: &reader.actor,
            role: &reader.role,
            organization: reader.organization.as_deref(),
            case_id: &stream_id,
            reason: reader.reason.trim(),
            revealed: &fields.readable_field_names(),
            stream_version: fields.version,
            erased: fields.erased,
        },
    )
    .await?;
    Ok(fields)
}

/// Records in the access log that `reader` opened the case file without
/// its personal fields (一人一档 as lists and timelines show it): every
/// opening of a full case file is itself recorded, and this one names no
/// field as revealed. `stream_version` is the version of the file shown,
/// `erased` whether the person's data had been erased by then.
pub async fn record_case_file_opened(
    db: &Database,
    case_id: Uuid,
    reader: &Reader,
    stream_version: u64,
    erased: bool,
) -> Result<(), RevealError> {
    if reader.actor.trim().is_empty() || reader.role.trim().is_empty() {
        return Err(RevealError::ReaderUnknown);
    }
    if reader.reason.trim().is_empty() {
        return Err(RevealError::ReasonRequired);
    }
    record_access(
        db,
        &NewAccess {
            accessed_at: Utc::now(),
            actor: &reader.actor,
            role: &reader.role,
            organization: reader.organization.as_deref(),
            case_id: &case_id.to_string(),
            reason: reader.reason.trim(),
            revealed: &[],
            stream_version,
            erased,
        },
    )
    .await?;
    Ok(())
}

impl PersonalFields {
    /// The names of the fields that held a readable value: what the access
    /// log says was seen.
    pub fn readable_field_names(&self) -> Vec<String> {
        let mut names = Vec::new();
        let mut note = |name: &str, known: bool| {
            if known && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        };
        note("id_number", !self.id_number.is_erased());
        note("phone", !self.phone.is_erased());
        note("address", !self.address.is_erased());
        note(
            "health",
            self.health.as_ref().is_some_and(|v| !v.is_erased()),
        );
        note(
            "care_situation",
            self.care_situation.as_ref().is_some_and(|v| !v.is_erased()),
        );
        note(
            "profile_notes",
            self.profile_notes.as_ref().is_some_and(|v| !v.is_erased()),
        );
        for visit in &self.wellbeing_notes {
            note("wellbeing_notes", !visit.text.is_erased());
        }
        for referral in &self.referrals {
            note("referral_reason", !referral.reason.is_erased());
            note(
                "referral_answer",
                referral.answer.as_ref().is_some_and(|v| !v.is_erased()),
            );
        }
        for correction in &self.corrections {
            note("corrected_fields", !correction.corrected.is_erased());
        }
        names
    }
}

/// Builds the personal fields from the revealed events: each event is read
/// with the corrections that target it laid over its fields (later
/// corrections win), while the corrections list keeps the originals.
fn personal_fields(case_id: Uuid, events: &[RecordedEvent]) -> Result<PersonalFields, RevealError> {
    let mut patches: BTreeMap<u64, Map<String, Value>> = BTreeMap::new();
    let mut corrections = Vec::new();
    for event in events {
        let Ok(CaseEvent::EntryCorrected(corrected)) = event.decode::<CaseEvent>() else {
            continue;
        };
        let target = events
            .iter()
            .find(|e| e.stream_version == corrected.corrected_version);
        let mut original = Map::new();
        if let (Personal::Known(fields), Some(target)) = (&corrected.corrected_fields, target) {
            for (name, value) in fields {
                original.insert(
                    name.clone(),
                    target.payload.get(name).cloned().unwrap_or(Value::Null),
                );
                patches
                    .entry(corrected.corrected_version)
                    .or_default()
                    .insert(name.clone(), value.clone());
            }
        }
        corrections.push(RevealedCorrection {
            stream_version: event.stream_version,
            target_version: corrected.corrected_version,
            target_event_type: target.map(|t| t.event_type.clone()).unwrap_or_default(),
            reason: corrected.reason,
            corrected: corrected.corrected_fields,
            original,
            corrected_by: Recorder::of(event),
            corrected_at: event.recorded_at,
        });
    }

    let mut fields = PersonalFields {
        case_id,
        name: String::new(),
        id_number: Personal::erased(),
        phone: Personal::erased(),
        address: Personal::erased(),
        health: None,
        care_situation: None,
        profile_notes: None,
        wellbeing_notes: Vec::new(),
        referrals: Vec::new(),
        corrections,
        erased: false,
        version: events.last().map(|e| e.stream_version).unwrap_or_default(),
        revealed_at: Utc::now(),
    };
    for event in events {
        match corrected_event(event, patches.get(&event.stream_version))? {
            CaseEvent::CaseOpened(opened) => {
                fields.name = opened.name;
                fields.id_number = match opened.id_number {
                    Personal::Known(id) => Personal::known(id.as_str().to_owned()),
                    Personal::Erased(marker) => Personal::Erased(marker),
                };
                fields.phone = opened.phone;
                fields.address = opened.address;
            }
            CaseEvent::ProfileRecorded(profile) => {
                fields.health = Some(profile.health);
                fields.care_situation = Some(profile.care_situation);
                fields.profile_notes = Some(profile.notes);
            }
            CaseEvent::VisitRecorded(visit) => fields.wellbeing_notes.push(RevealedNote {
                stream_version: event.stream_version,
                visited_on: visit.visited_on,
                text: visit.wellbeing_notes,
            }),
            CaseEvent::ReferralMade(made) => fields.referrals.push(RevealedReferral {
                referral_id: made.referral_id,
                department: made.department,
                referred_on: made.referred_on,
                reason: made.reason,
                answer: None,
            }),
            CaseEvent::ReferralResolved(resolved) => {
                if let Some(referral) = fields
                    .referrals
                    .iter_mut()
                    .find(|r| r.referral_id == resolved.referral_id)
                {
                    referral.answer = Some(resolved.answer);
                }
            }
            CaseEvent::PersonalDataErased(_) => fields.erased = true,
            _ => {}
        }
    }
    Ok(fields)
}

/// The event with `patch` laid over its fields. A correction whose values
/// do not fit the event (a malformed ID number, say) leaves the event as
/// recorded; the correction still shows in the corrections list.
fn corrected_event(
    event: &RecordedEvent,
    patch: Option<&Map<String, Value>>,
) -> Result<CaseEvent, RevealError> {
    let original = || {
        event
            .decode::<CaseEvent>()
            .map_err(|e| RevealError::Decode(e.to_string()))
    };
    let Some(patch) = patch else {
        return original();
    };
    let mut patched = event.clone();
    if let Value::Object(fields) = &mut patched.payload {
        for (name, value) in patch {
            fields.insert(name.clone(), value.clone());
        }
    }
    patched.decode::<CaseEvent>().or_else(|_| original())
}

/// An ID number as auditors see it: the first 6 and last 4 characters,
/// the birth date and sequence hidden (`360102********1234`). Works on any
/// text, so a malformed number is masked too.
pub fn mask_id_number(id_number: &str) -> String {
    mask_middle(id_number, 6, 4)
}

/// A phone number as auditors see it: `138****5678`.
pub fn mask_phone(phone: &str) -> String {
    mask_middle(phone, 3, 4)
}

/// Keeps `head` and `tail` characters and masks the rest; a text too short
/// to keep anything hidden is masked whole.
fn mask_middle(text: &str, head: usize, tail: usize) -> String {
    let chars: Vec<char> = text.trim().chars().collect();
    if chars.len() <= head + tail {
        return "*".repeat(chars.len());
    }
    let hidden = chars.len() - head - tail;
    let mut masked: String = chars[..head].iter().collect();
    masked.push_str(&"*".repeat(hidden));
    masked.extend(&chars[chars.len() - tail..]);
    masked
}

/// Statement helpers shared by this crate's projections: SQL written once
/// with `$n` placeholders, arguments bound in a loop on either backend.
pub(crate) mod statements {
    use sqlx::AssertSqlSafe;

    use crate::{ProjectionError, Tx, with_tx};

    pub(crate) use crate::sql::Arg;

    pub(crate) async fn execute(
        tx: &mut Tx<'_>,
        sql: AssertSqlSafe<String>,
        args: Vec<Arg>,
    ) -> Result<u64, ProjectionError> {
        with_tx!(tx, conn => {
            let mut query = sqlx::query(sql);
            for arg in args {
                query = match arg {
                    Arg::Text(value) => query.bind(value),
                    Arg::Int(value) => query.bind(value),
                };
            }
            Ok(query.execute(&mut *conn).await?.rows_affected())
        })
    }

    /// The first column of every row, as text.
    pub(crate) async fn fetch_texts(
        tx: &mut Tx<'_>,
        sql: AssertSqlSafe<String>,
        args: Vec<Arg>,
    ) -> Result<Vec<Option<String>>, ProjectionError> {
        with_tx!(tx, conn => {
            let mut query = sqlx::query_scalar::<_, Option<String>>(sql);
            for arg in args {
                query = match arg {
                    Arg::Text(value) => query.bind(value),
                    Arg::Int(value) => query.bind(value),
                };
            }
            Ok(query.fetch_all(&mut *conn).await?)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn masks_keep_only_what_auditors_may_see() {
        assert_eq!(mask_id_number("360102199001011234"), "360102********1234");
        assert_eq!(mask_phone("13812345678"), "138****5678");
        assert_eq!(mask_phone("1234"), "****");
        assert_eq!(mask_id_number(""), "");
    }

    #[test]
    fn money_is_shown_in_yuan_exactly() {
        assert_eq!(yuan(0), "¥0.00");
        assert_eq!(yuan(1205), "¥12.05");
        assert_eq!(yuan(-5), "-¥0.05");
    }
}
