//! 统计与评估报表: the statistics table a bureau hands in (附件1, as JSON or
//! as the CSV of the printed form), the record sheet of one activity
//! (附件2), case-based figures and the events behind each of them, progress
//! towards a target, and evaluation reports (月调度, 季督导, 年底通报) —
//! generated from the statistics up to a cut in the global feed, stored
//! append-only, computed again exactly and compared down to the late
//! entries and corrections between two versions.
//!
//! Read from the `statistics` read model; every query accepts
//! `?after=POSITION`. Areas default to the user's scope and must lie within
//! it. Money is in fen, time in minutes, ratios in per mille.

use std::collections::BTreeMap;
use std::num::NonZeroU64;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::{NaiveDate, NaiveDateTime};
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use shouwang_domain::activity::Activity;
use shouwang_domain::vocabulary::{
    ActionLine, ActivityStatus, CareCategory, RegionLevel, ServiceType,
};
use shouwang_infrastructure::users::User;
use shouwang_projections::evaluations::{
    self, EvaluationError, EventNature, EventRef, FigureChange, RankingRow, RankingWeights,
    ReportBody, ReportCut, ReportDiff, ReportKind, ReportPeriod, ReportRequest, ReportSummary,
    ReportVersion, StoredReport, figure_label,
};
use shouwang_projections::statistics::{
    self, Attachment1, Attachment1Header, Attachment1Row, Attachment1Totals, Attachment2,
    EvidenceLine, FigureKey, FigureRow, Month, ParticipantLine, Progress, STATISTICS,
    StatisticsFilter, render_attachment1_csv,
};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::{CurrentUser, IdempotencyKey};
use crate::authz::{self, Operation};
use crate::consistency::{After, wait_for};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath, ApiQuery};
use crate::routes::ledgers::{PageWindow, area_in_scope, parse_month};
use crate::state::AppState;

/// The name a downloaded 附件1 is saved under.
const ATTACHMENT1_FILE_NAME: &str = "附件1统计表.csv";
/// Its ASCII stand-in for clients that do not read RFC 6266 `filename*`.
const ATTACHMENT1_FALLBACK_FILE_NAME: &str = "attachment1.csv";

impl From<EvaluationError> for ApiError {
    fn from(error: EvaluationError) -> Self {
        match error {
            EvaluationError::NotFound(_) => ApiError::not_found("该评估报告"),
            EvaluationError::NotComparable { .. } => {
                ApiError::refused("reports_not_comparable", error.to_string())
            }
            EvaluationError::RequestIdReused(_) => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                error.to_string(),
            ),
            EvaluationError::InvalidPeriod(_) => {
                ApiError::bad_request("invalid_period", error.to_string()).with_field("period")
            }
            EvaluationError::StatisticsNotReady => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "statistics_not_ready",
                error.to_string(),
            )
            .with_retry_after(1),
            EvaluationError::StatisticsStopped { .. } => {
                // The reason is for the operator's log, not for the client.
                tracing::error!(error = %error, "统计读模型已停止，无法生成报表");
                ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "read_model_stopped",
                    "统计读模型已因错误停止，暂时无法生成或比较报表，请联系系统管理员",
                )
            }
            other => ApiError::internal(&other),
        }
    }
}

/// `?after=POSITION` alone.
#[derive(Debug, Clone, Copy, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AfterQuery {
    /// Answer only once the statistics include the event at this global position.
    pub after: Option<i64>,
}

// ---------------------------------------------------------------------------
// 附件1 统计表.

/// Which activities 附件1 covers and who fills it in.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct Attachment1Query {
    /// Answer only once the statistics include the event at this global position.
    pub after: Option<i64>,
    /// The county (6-digit 区划代码), or any area prefix; default: your scope.
    pub county: Option<String>,
    /// First day of the activities' start dates; default: the first of this month.
    pub from: Option<NaiveDate>,
    /// Last day; default: today.
    pub to: Option<NaiveDate>,
    /// 填表单位, e.g. 南昌县民政局; left blank to fill in by hand when not given.
    pub filling_unit: Option<String>,
}

/// The header of 附件1.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment1HeaderView {
    /// 填表单位.
    pub filling_unit: String,
    /// 填表时间.
    pub filled_on: NaiveDate,
}

/// 参与社会组织: name and 参与人数.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ParticipantLineView {
    pub name: String,
    pub organization_id: Option<Uuid>,
    pub headcount: i64,
}

impl From<ParticipantLine> for ParticipantLineView {
    fn from(line: ParticipantLine) -> Self {
        Self {
            name: line.name,
            organization_id: line.organization_id,
            headcount: line.headcount,
        }
    }
}

/// One activity of 附件1.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment1RowView {
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
    pub participants: Vec<ParticipantLineView>,
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

impl From<Attachment1Row> for Attachment1RowView {
    fn from(row: Attachment1Row) -> Self {
        Self {
            serial: row.serial,
            activity_id: row.activity_id,
            name: row.name,
            organizer: row.organizer,
            area: row.area,
            region: row.region,
            region_level: row.region_level,
            time: row.time,
            starts_at: row.starts_at,
            ends_at: row.ends_at,
            participants: row.participants.into_iter().map(Into::into).collect(),
            funds_fen: row.funds_fen,
            money_fen: row.money_fen,
            material_value_fen: row.material_value_fen,
            beneficiaries: row.beneficiaries,
            beneficiary_categories: row.beneficiary_categories,
            person_times: row.person_times,
            persons: row.persons,
            service_minutes: row.service_minutes,
            overall: row.overall,
            status: row.status,
            corrections: row.corrections,
        }
    }
}

/// The 合计 line of 附件1.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment1TotalsView {
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

impl From<Attachment1Totals> for Attachment1TotalsView {
    fn from(totals: Attachment1Totals) -> Self {
        Self {
            activities: totals.activities,
            participations: totals.participations,
            participant_headcount: totals.participant_headcount,
            funds_fen: totals.funds_fen,
            money_fen: totals.money_fen,
            material_value_fen: totals.material_value_fen,
            person_times: totals.person_times,
            persons: totals.persons,
            service_minutes: totals.service_minutes,
        }
    }
}

/// 社会组织“邻里守望”关爱行动情况统计表 (附件1), units 人次 and 元 (amounts here
/// in fen): the activities of an area started within the period, cancelled
/// ones left out, corrections applied, ordered by time.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment1View {
    pub title: String,
    pub header: Attachment1HeaderView,
    /// The area covered.
    pub region: String,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub rows: Vec<Attachment1RowView>,
    pub totals: Attachment1TotalsView,
}

impl From<Attachment1> for Attachment1View {
    fn from(table: Attachment1) -> Self {
        Self {
            title: statistics::ATTACHMENT1_TITLE.to_owned(),
            header: Attachment1HeaderView {
                filling_unit: table.header.filling_unit,
                filled_on: table.header.filled_on,
            },
            region: table.region,
            from: table.from,
            to: table.to,
            rows: table.rows.into_iter().map(Into::into).collect(),
            totals: table.totals.into(),
        }
    }
}

/// Builds 附件1 as asked: the area within scope, the period, the header.
async fn attachment1_table(
    state: &AppState,
    user: &User,
    query: Attachment1Query,
) -> Result<Attachment1, ApiError> {
    let area = area_in_scope(
        user,
        Operation::ReadReports,
        query.county.as_deref(),
        "county",
    )?;
    let today = state.today();
    let from = query.from.unwrap_or_else(|| Month::of(today).first_day());
    let to = query.to.unwrap_or(today);
    if from > to {
        return Err(ApiError::bad_request(
            "invalid_period",
            format!("起始日期 {from} 晚于截止日期 {to}，请核对"),
        )
        .with_field("from"));
    }
    wait_for(state, After { after: query.after }, &[STATISTICS]).await?;
    let header = Attachment1Header {
        filling_unit: query.filling_unit.unwrap_or_default().trim().to_owned(),
        filled_on: today,
    };
    Ok(statistics::attachment1(state.db(), &area, (from, to), header).await?)
}

/// True when the client asked for CSV rather than JSON.
fn wants_csv(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|media| {
            media
                .split(';')
                .next()
                .is_some_and(|m| m.trim() == "text/csv")
        })
}

/// RFC 8187 `value-chars`: UTF-8 bytes outside `attr-char` percent-encoded.
fn rfc8187_encode(text: &str) -> String {
    let mut encoded = String::new();
    for byte in text.bytes() {
        let attr_char = byte.is_ascii_alphanumeric()
            || matches!(
                byte,
                b'!' | b'#' | b'$' | b'&' | b'+' | b'-' | b'.' | b'^' | b'_' | b'`' | b'|' | b'~'
            );
        if attr_char {
            encoded.push(char::from(byte));
        } else {
            encoded.push_str(&format!("%{byte:02X}"));
        }
    }
    encoded
}

/// 附件1 as a CSV download named 附件1统计表.csv (RFC 6266: an ASCII
/// `filename` for old clients and the Chinese name in `filename*`).
fn attachment1_csv(table: &Attachment1) -> Response {
    let disposition = format!(
        "attachment; filename=\"{ATTACHMENT1_FALLBACK_FILE_NAME}\"; filename*=UTF-8''{}",
        rfc8187_encode(ATTACHMENT1_FILE_NAME)
    );
    let mut response = render_attachment1_csv(table).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/csv; charset=utf-8"),
    );
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    response
}

/// 附件1 统计表 of an area for a period: JSON, or the CSV of the printed
/// form with `Accept: text/csv` (UTF-8 with BOM, amounts in 元; the same as
/// `/api/v1/statistics/attachment1.csv`).
#[utoipa::path(get, path = "/api/v1/statistics/attachment1", tag = "reports",
    security(("bearer" = [])),
    params(Attachment1Query),
    responses(
        (status = 200, description = "附件1 as JSON, or as CSV when asked with `Accept: text/csv`",
            content((Attachment1View = "application/json"), (String = "text/csv"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_attachment1(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    headers: HeaderMap,
    ApiQuery(query): ApiQuery<Attachment1Query>,
) -> Result<Response, ApiError> {
    let table = attachment1_table(&state, &user, query).await?;
    if wants_csv(&headers) {
        Ok(attachment1_csv(&table))
    } else {
        Ok(Json(Attachment1View::from(table)).into_response())
    }
}

/// 附件1 统计表 as a CSV download (附件1统计表.csv): the title, 填表单位 and
/// 填表时间, the two header lines of the printed form, one line per activity
/// (further participating organizations on continuation lines) and 合计.
#[utoipa::path(get, path = "/api/v1/statistics/attachment1.csv", tag = "reports",
    security(("bearer" = [])),
    params(Attachment1Query),
    responses(
        (status = 200, description = "附件1统计表.csv", body = String, content_type = "text/csv"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_attachment1_csv(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<Attachment1Query>,
) -> Result<Response, ApiError> {
    let table = attachment1_table(&state, &user, query).await?;
    Ok(attachment1_csv(&table))
}

// ---------------------------------------------------------------------------
// 附件2 记录表.

/// One evidence image of 附件2 (fetch it at `/api/v1/evidence/{sha256}`).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvidenceLineView {
    pub sha256: String,
    pub media_type: String,
    pub size_bytes: i64,
    pub file_name: String,
}

impl From<EvidenceLine> for EvidenceLineView {
    fn from(line: EvidenceLine) -> Self {
        Self {
            sha256: line.sha256,
            media_type: line.media_type,
            size_bytes: line.size_bytes,
            file_name: line.file_name,
        }
    }
}

/// 社会组织“邻里守望”关爱行动情况记录表 (附件2) of one activity, corrections applied.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Attachment2View {
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
    /// 活动受益人数, as printed.
    pub beneficiaries: String,
    pub person_times: i64,
    pub persons: i64,
    /// 累计服务时长, as printed.
    pub service_time: String,
    pub service_minutes: i64,
    /// 活动负责人.
    pub leader: String,
    /// 参加社会组织及人员.
    pub participants: Vec<ParticipantLineView>,
    pub participants_text: String,
    /// 活动详情（约300字）.
    pub details: String,
    /// 佐证材料（1–2张图片）.
    pub evidence: Vec<EvidenceLineView>,
    pub action_line: Option<ActionLine>,
    pub money_fen: i64,
    pub material_value_fen: i64,
    pub status: ActivityStatus,
    pub corrections: i64,
}

impl From<Attachment2> for Attachment2View {
    fn from(sheet: Attachment2) -> Self {
        Self {
            activity_id: sheet.activity_id,
            name: sheet.name,
            organizer: sheet.organizer,
            organizer_organization_id: sheet.organizer_organization_id,
            place: sheet.place,
            area: sheet.area,
            time: sheet.time,
            starts_at: sheet.starts_at,
            ends_at: sheet.ends_at,
            beneficiaries: sheet.beneficiaries,
            person_times: sheet.person_times,
            persons: sheet.persons,
            service_time: sheet.service_time,
            service_minutes: sheet.service_minutes,
            leader: sheet.leader,
            participants: sheet.participants.into_iter().map(Into::into).collect(),
            participants_text: sheet.participants_text,
            details: sheet.details,
            evidence: sheet.evidence.into_iter().map(Into::into).collect(),
            action_line: sheet.action_line,
            money_fen: sheet.money_fen,
            material_value_fen: sheet.material_value_fen,
            status: sheet.status,
            corrections: sheet.corrections,
        }
    }
}

/// 附件2 记录表 of one activity (a cancelled one too: the sheet says so).
#[utoipa::path(get, path = "/api/v1/activities/{id}/attachment2", tag = "reports",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "活动编号"), AfterQuery),
    responses(
        (status = 200, body = Attachment2View),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_attachment2(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(activity_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<AfterQuery>,
) -> Result<Json<Attachment2View>, ApiError> {
    authz::require(&user, Operation::ReadReports)?;
    let stream_id = activity_id.to_string();
    if state.store().stream_type(&stream_id).await?.as_deref() != Some(Activity::TYPE) {
        return Err(ApiError::not_found("该活动"));
    }
    let activity = state
        .app()
        .activities
        .event_store()
        .load_for_decision(&stream_id)
        .await?
        .aggregate;
    let region = activity
        .region()
        .map(|region| region.as_str().to_owned())
        .unwrap_or_default();
    authz::require_in_scope(&user, Operation::ReadReports, &region)?;
    wait_for(&state, After { after: query.after }, &[STATISTICS]).await?;
    match statistics::attachment2(state.db(), activity_id).await? {
        Some(sheet) => Ok(Json(sheet.into())),
        // The activity is recorded but the statistics have not reached it.
        None => Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "read_model_behind",
            "该活动的统计数据正在更新，请稍后重试",
        )
        .with_retry_after(1)),
    }
}

// ---------------------------------------------------------------------------
// Case-based figures, their trace, progress.

/// Which figures.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct FiguresQuery {
    /// Answer only once the statistics include the event at this global position.
    pub after: Option<i64>,
    /// 区划代码 prefix; default: your scope.
    pub region: Option<String>,
    /// Rows per `county` or per `township` (default).
    pub group_by: Option<RegionLevel>,
    /// First month of the service dates, `YYYY-MM`.
    pub from_month: Option<String>,
    /// Last month, `YYYY-MM`.
    pub to_month: Option<String>,
    pub category: Option<CareCategory>,
    pub service_type: Option<ServiceType>,
    pub action_line: Option<ActionLine>,
    /// At most this many rows (1–1000, default 100).
    pub limit: Option<u32>,
    /// Skip this many rows.
    pub offset: Option<u32>,
}

/// One row of case-based figures. Within a row each event counts once; a
/// service for a person of two categories appears in the rows of both, so
/// rows must not be added up across categories or service types (use
/// `/api/v1/statistics/progress` for totals).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FigureRowView {
    /// The row's key, for `/api/v1/statistics/trace?key=`:
    /// `区划/月份/对象类别/服务内容/行动`.
    pub key: String,
    /// The county or township.
    pub region: String,
    /// `YYYY-MM`.
    pub month: String,
    pub category: CareCategory,
    pub category_label: String,
    pub service_type: ServiceType,
    pub service_type_label: String,
    pub action_line: Option<ActionLine>,
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

impl From<FigureRow> for FigureRowView {
    fn from(row: FigureRow) -> Self {
        Self {
            key: row.key.to_string(),
            region: row.key.region.clone(),
            month: row.key.month.to_string(),
            category: row.key.category,
            category_label: row.category_label,
            service_type: row.key.service_type,
            service_type_label: row.service_type_label,
            action_line: row.key.action_line,
            action_line_label: row.action_line_label,
            person_times: row.person_times,
            persons: row.persons,
            service_minutes: row.service_minutes,
            money_fen: row.money_fen,
            material_value_fen: row.material_value_fen,
            organizations: row.organizations,
        }
    }
}

/// Case-based figures of an area.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FiguresView {
    pub region: String,
    pub group_by: RegionLevel,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub rows: Vec<FigureRowView>,
}

/// Case-based figures (受益人次, persons, service time, money and material
/// value, participating organizations) from services and visits recorded in
/// care cases, per region × month × care category × service type × action
/// line.
#[utoipa::path(get, path = "/api/v1/statistics/figures", tag = "reports",
    security(("bearer" = [])),
    params(FiguresQuery),
    responses(
        (status = 200, body = FiguresView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_figures(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<FiguresQuery>,
) -> Result<Json<FiguresView>, ApiError> {
    let area = area_in_scope(
        &user,
        Operation::ReadReports,
        query.region.as_deref(),
        "region",
    )?;
    let group_by = query.group_by.unwrap_or(RegionLevel::Township);
    if !matches!(group_by, RegionLevel::County | RegionLevel::Township) {
        return Err(ApiError::bad_request(
            "invalid_group_by",
            "group_by 只能是 county（按县）或 township（按乡镇）",
        )
        .with_field("group_by"));
    }
    let from_month = query
        .from_month
        .as_deref()
        .map(|text| parse_month(text, "from_month"))
        .transpose()?;
    let to_month = query
        .to_month
        .as_deref()
        .map(|text| parse_month(text, "to_month"))
        .transpose()?;
    let window = PageWindow::new(query.limit, query.offset)?;
    wait_for(&state, After { after: query.after }, &[STATISTICS]).await?;
    let filter = StatisticsFilter {
        region_prefix: area.clone(),
        group_by,
        from_month,
        to_month,
        category: query.category,
        service_type: query.service_type,
        action_line: query.action_line,
    };
    let rows = statistics::service_figures(state.db(), &filter).await?;
    let (total, rows) = window.apply(rows);
    Ok(Json(FiguresView {
        region: area.as_str().to_owned(),
        group_by,
        total,
        limit: window.limit,
        offset: window.offset,
        rows: rows.into_iter().map(Into::into).collect(),
    }))
}

/// Which figure to trace.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TraceQuery {
    /// Answer only once the statistics include the event at this global position.
    pub after: Option<i64>,
    /// A figure row's key, e.g. `360121100/2026-03/empty_nest_elder/home_visiting/-`.
    pub key: String,
}

/// The events behind one figure row.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TraceView {
    pub key: String,
    /// Global positions of the events, ascending: as many as the row's 受益人次.
    pub positions: Vec<i64>,
    pub person_times: u64,
}

/// The events behind one figure row: every statistic can be traced back to
/// what workers recorded (look the positions up in the audit trail).
#[utoipa::path(get, path = "/api/v1/statistics/trace", tag = "reports",
    security(("bearer" = [])),
    params(TraceQuery),
    responses(
        (status = 200, body = TraceView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_trace(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<TraceQuery>,
) -> Result<Json<TraceView>, ApiError> {
    authz::require(&user, Operation::ReadReports)?;
    let key: FigureKey = query
        .key
        .parse()
        .map_err(|error: statistics::FigureKeyParseError| {
            ApiError::bad_request("invalid_figure_key", error.to_string()).with_field("key")
        })?;
    area_in_scope(&user, Operation::ReadReports, Some(&key.region), "key")?;
    wait_for(&state, After { after: query.after }, &[STATISTICS]).await?;
    let positions = statistics::trace(state.db(), &key).await?;
    Ok(Json(TraceView {
        key: key.to_string(),
        person_times: positions.len() as u64,
        positions,
    }))
}

/// Which area, against what target.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ProgressQuery {
    /// Answer only once the statistics include the event at this global position.
    pub after: Option<i64>,
    /// 区划代码 prefix; default: your scope.
    pub region: Option<String>,
    /// The target in 受益人次 (the 2021 campaign aimed at 500000 for Jiangxi).
    pub target: Option<u64>,
}

/// How far an area has come towards a target in 受益人次.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ProgressView {
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

impl From<Progress> for ProgressView {
    fn from(progress: Progress) -> Self {
        Self {
            region: progress.region,
            target_person_times: progress.target_person_times,
            case_person_times: progress.case_person_times,
            activity_person_times: progress.activity_person_times,
            person_times: progress.person_times,
            permille: progress.permille,
        }
    }
}

/// Progress of an area towards a target in 受益人次, counting care-case
/// services and visits and the activities not cancelled.
#[utoipa::path(get, path = "/api/v1/statistics/progress", tag = "reports",
    security(("bearer" = [])),
    params(ProgressQuery),
    responses(
        (status = 200, body = ProgressView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_progress(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<ProgressQuery>,
) -> Result<Json<ProgressView>, ApiError> {
    let area = area_in_scope(
        &user,
        Operation::ReadReports,
        query.region.as_deref(),
        "region",
    )?;
    let target = query.target.and_then(NonZeroU64::new).ok_or_else(|| {
        ApiError::bad_request(
            "target_required",
            "请用 target 参数给出目标受益人次（大于 0）",
        )
        .with_field("target")
    })?;
    wait_for(&state, After { after: query.after }, &[STATISTICS]).await?;
    Ok(Json(
        statistics::progress(state.db(), &area, target)
            .await?
            .into(),
    ))
}

// ---------------------------------------------------------------------------
// Evaluation reports (月调度, 季督导, 年底通报).

/// What a report is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ReportKindView {
    /// 月调度.
    MonthlyDispatch,
    /// 季督导.
    QuarterlySupervision,
    /// 年底通报 (with the organization ranking).
    AnnualRanking,
}

impl From<ReportKind> for ReportKindView {
    fn from(kind: ReportKind) -> Self {
        match kind {
            ReportKind::MonthlyDispatch => Self::MonthlyDispatch,
            ReportKind::QuarterlySupervision => Self::QuarterlySupervision,
            ReportKind::AnnualRanking => Self::AnnualRanking,
        }
    }
}

impl From<ReportKindView> for ReportKind {
    fn from(kind: ReportKindView) -> Self {
        match kind {
            ReportKindView::MonthlyDispatch => Self::MonthlyDispatch,
            ReportKindView::QuarterlySupervision => Self::QuarterlySupervision,
            ReportKindView::AnnualRanking => Self::AnnualRanking,
        }
    }
}

/// Where in the global feed a report was computed.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct ReportCutView {
    /// The statistics' feed cursor: every event up to it in feed order is
    /// included, none after.
    pub txid: i64,
    pub cursor_position: i64,
    /// The highest event position included.
    pub position: i64,
}

impl From<ReportCut> for ReportCutView {
    fn from(cut: ReportCut) -> Self {
        Self {
            txid: cut.txid,
            cursor_position: cut.cursor_position,
            position: cut.position,
        }
    }
}

/// Points of the year-end ranking: score = Σ weight × metric.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct RankingWeightsView {
    pub service: i64,
    pub visit: i64,
    pub service_hour: i64,
    pub activity_organized: i64,
    pub activity_person_time: i64,
    pub activity_participation: i64,
    pub need_on_time: i64,
    pub need_late: i64,
    pub satisfaction_point: i64,
}

impl From<RankingWeights> for RankingWeightsView {
    fn from(weights: RankingWeights) -> Self {
        Self {
            service: weights.service,
            visit: weights.visit,
            service_hour: weights.service_hour,
            activity_organized: weights.activity_organized,
            activity_person_time: weights.activity_person_time,
            activity_participation: weights.activity_participation,
            need_on_time: weights.need_on_time,
            need_late: weights.need_late,
            satisfaction_point: weights.satisfaction_point,
        }
    }
}

/// One organization in the year-end ranking, with the metrics behind its rank.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RankingRowView {
    /// Equal scores share a rank (1, 2, 2, 4).
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

impl From<RankingRow> for RankingRowView {
    fn from(row: RankingRow) -> Self {
        Self {
            rank: row.rank,
            organization_id: row.organization_id,
            name: row.name,
            score: row.score,
            services: row.services,
            visits: row.visits,
            service_minutes: row.service_minutes,
            activities_organized: row.activities_organized,
            activity_person_times: row.activity_person_times,
            activity_participations: row.activity_participations,
            needs_fulfilled_on_time: row.needs_fulfilled_on_time,
            needs_fulfilled_late: row.needs_fulfilled_late,
            evaluations: row.evaluations,
            satisfaction_sum: row.satisfaction_sum,
        }
    }
}

/// A report's content, computed from the statistics up to `as_of`.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportBodyView {
    pub kind: ReportKindView,
    pub title: String,
    /// `2026-03`, `2026-Q1` or `2026`.
    pub period: String,
    /// First and last date covered (dispatch months close on the 25th).
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub region: String,
    pub as_of: ReportCutView,
    /// Every figure by its key, e.g. `care.visits`; money in fen.
    pub figures: BTreeMap<String, i64>,
    /// The Chinese label of every figure.
    pub labels: BTreeMap<String, String>,
    /// Names of the organizations the figures mention, by id.
    pub organizations: BTreeMap<String, String>,
    /// The year-end ranking (empty for other kinds).
    pub ranking: Vec<RankingRowView>,
    pub weights: Option<RankingWeightsView>,
}

impl From<ReportBody> for ReportBodyView {
    fn from(body: ReportBody) -> Self {
        let labels = body
            .figures
            .keys()
            .map(|key| (key.clone(), figure_label(key, &body.organizations)))
            .collect();
        Self {
            kind: body.kind.into(),
            title: body.title,
            period: body.period.to_string(),
            from: body.from,
            to: body.to,
            region: body.region,
            as_of: body.as_of.into(),
            figures: body.figures,
            labels,
            organizations: body.organizations,
            ranking: body.ranking.into_iter().map(Into::into).collect(),
            weights: body.weights.map(Into::into),
        }
    }
}

/// A report as stored (append-only; a later one of the same kind, period
/// and region is the next version).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct StoredReportView {
    pub id: Uuid,
    pub kind: ReportKindView,
    /// 月调度, 季督导 or 年底通报.
    pub kind_label: String,
    pub period: String,
    /// `2026年3月`, `2026年第一季度`, `2026年度`.
    pub period_label: String,
    pub region: String,
    /// 1, 2, … for the same kind, period and region.
    pub version: i64,
    pub cut: ReportCutView,
    pub generated_at: String,
    /// The username of whoever generated it.
    pub generated_by: String,
    pub body: ReportBodyView,
}

impl From<StoredReport> for StoredReportView {
    fn from(report: StoredReport) -> Self {
        Self {
            id: report.id,
            kind: report.kind.into(),
            kind_label: report.kind.label_zh().to_owned(),
            period: report.period.to_string(),
            period_label: report.period.label_zh(),
            region: report.region,
            version: report.version,
            cut: report.cut.into(),
            generated_at: report.generated_at,
            generated_by: report.generated_by,
            body: report.body.into(),
        }
    }
}

/// What to report on.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct GenerateReportRequest {
    /// `2026-03` for 月调度, `2026-Q1` for 季督导, `2026` for 年底通报.
    pub period: String,
    /// 区划代码 prefix of the area; default: your scope.
    pub region: Option<String>,
}

/// Generate an evaluation report (月调度 for `2026-03`, 季督导 for
/// `2026-Q1`, 年底通报 with the organization ranking for `2026`) from the
/// statistics as they stand, and store it as the next version for its
/// period and area. Pass `?after=` with the position of your last write to
/// be sure it is included. Send an `Idempotency-Key`: the report is stored
/// under it once, and a retry with the same key gets the stored report
/// (200) instead of another version; without one, every request stores a
/// new version.
#[utoipa::path(post, path = "/api/v1/reports", tag = "reports",
    security(("bearer" = [])),
    params(AfterQuery,
        ("Idempotency-Key" = Option<String>, Header, description = "UUID; a retry with the same key stores nothing twice")),
    request_body = GenerateReportRequest,
    responses(
        (status = 201, body = StoredReportView),
        (status = 200, description = "A retry with the same Idempotency-Key: the report stored the first time", body = StoredReportView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "The Idempotency-Key was used for another report", body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn generate_report(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    IdempotencyKey(key): IdempotencyKey,
    ApiQuery(query): ApiQuery<AfterQuery>,
    ApiJson(request): ApiJson<GenerateReportRequest>,
) -> Result<(StatusCode, Json<StoredReportView>), ApiError> {
    let region = area_in_scope(
        &user,
        Operation::GenerateReports,
        request.region.as_deref(),
        "region",
    )?;
    let period: ReportPeriod = request.period.parse().map_err(EvaluationError::from)?;
    wait_for(&state, After { after: query.after }, &[STATISTICS]).await?;
    let generated = evaluations::generate_report(
        state.db(),
        &ReportRequest { period, region },
        &user.username,
        key,
    )
    .await?;
    let status = if generated.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(generated.report.into())))
}

/// Which reports to list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ReportListQuery {
    /// Answer only once the statistics include the event at this global position.
    pub after: Option<i64>,
    /// Reports on areas within this 区划代码 prefix; default: your scope.
    pub region: Option<String>,
    /// Only reports of this kind.
    pub kind: Option<ReportKindView>,
    /// Only reports of this period (`2026-03`, `2026-Q1`, `2026`).
    pub period: Option<String>,
    /// At most this many reports (1–1000, default 100).
    pub limit: Option<u32>,
    /// Skip this many reports.
    pub offset: Option<u32>,
}

/// A stored report without its body.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportSummaryView {
    pub id: Uuid,
    pub kind: ReportKindView,
    pub kind_label: String,
    pub period: String,
    pub period_label: String,
    pub region: String,
    pub version: i64,
    /// The highest event position the report includes.
    pub position: i64,
    pub generated_at: String,
    pub generated_by: String,
}

impl From<ReportSummary> for ReportSummaryView {
    fn from(summary: ReportSummary) -> Self {
        Self {
            id: summary.id,
            kind: summary.kind.into(),
            kind_label: summary.kind.label_zh().to_owned(),
            period: summary.period.to_string(),
            period_label: summary.period.label_zh(),
            region: summary.region,
            version: summary.version,
            position: summary.position,
            generated_at: summary.generated_at,
            generated_by: summary.generated_by,
        }
    }
}

/// Stored reports, by kind, period, region and version.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportListView {
    pub region: String,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub reports: Vec<ReportSummaryView>,
}

/// The stored reports on areas within a region, by kind, period, region and
/// version.
#[utoipa::path(get, path = "/api/v1/reports", tag = "reports",
    security(("bearer" = [])),
    params(ReportListQuery),
    responses(
        (status = 200, body = ReportListView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn list_reports(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<ReportListQuery>,
) -> Result<Json<ReportListView>, ApiError> {
    let area = area_in_scope(
        &user,
        Operation::ReadReports,
        query.region.as_deref(),
        "region",
    )?;
    let period: Option<ReportPeriod> = query
        .period
        .as_deref()
        .map(|text| text.parse().map_err(EvaluationError::from))
        .transpose()?;
    let window = PageWindow::new(query.limit, query.offset)?;
    wait_for(&state, After { after: query.after }, &[STATISTICS]).await?;
    let reports: Vec<ReportSummary> =
        evaluations::list_reports(state.db(), &area, query.kind.map(Into::into))
            .await?
            .into_iter()
            .filter(|report| period.is_none_or(|period| report.period == period))
            .collect();
    let (total, reports) = window.apply(reports);
    Ok(Json(ReportListView {
        region: area.as_str().to_owned(),
        total,
        limit: window.limit,
        offset: window.offset,
        reports: reports.into_iter().map(Into::into).collect(),
    }))
}

/// A stored report the user may read: 404 when there is none, 403 when its
/// area lies outside the user's scope.
async fn report_in_scope(
    state: &AppState,
    user: &User,
    report_id: Uuid,
) -> Result<StoredReport, ApiError> {
    authz::require(user, Operation::ReadReports)?;
    let report = evaluations::report(state.db(), report_id)
        .await?
        .ok_or_else(|| ApiError::not_found("该评估报告"))?;
    authz::require_in_scope(user, Operation::ReadReports, &report.region)?;
    Ok(report)
}

/// A stored report with its figures as they were generated.
#[utoipa::path(get, path = "/api/v1/reports/{id}", tag = "reports",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "报告编号"), AfterQuery),
    responses(
        (status = 200, body = StoredReportView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_report(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(report_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<AfterQuery>,
) -> Result<Json<StoredReportView>, ApiError> {
    let report = report_in_scope(&state, &user, report_id).await?;
    wait_for(&state, After { after: query.after }, &[STATISTICS]).await?;
    Ok(Json(report.into()))
}

/// A stored report computed again from the facts up to its cut.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RegeneratedReportView {
    pub id: Uuid,
    pub version: i64,
    /// True when the recomputed body equals the stored one, figure for figure.
    pub matches_stored: bool,
    /// Keys of the figures whose recomputed value differs from the stored one.
    pub differing_figures: Vec<String>,
    /// The recomputed body.
    pub body: ReportBodyView,
}

/// Compute a stored report again from the statistics facts up to its cut and
/// say whether it equals what was stored: an auditor's check that nothing
/// behind the figures was altered afterwards.
#[utoipa::path(get, path = "/api/v1/reports/{id}/regenerate", tag = "reports",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "报告编号"), AfterQuery),
    responses(
        (status = 200, body = RegeneratedReportView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn regenerate_report(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(report_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<AfterQuery>,
) -> Result<Json<RegeneratedReportView>, ApiError> {
    let stored = report_in_scope(&state, &user, report_id).await?;
    wait_for(&state, After { after: query.after }, &[STATISTICS]).await?;
    let body = evaluations::regenerate(state.db(), report_id).await?;
    let differing_figures = stored
        .body
        .figures
        .keys()
        .chain(body.figures.keys())
        .filter(|key| stored.body.figures.get(*key) != body.figures.get(*key))
        .cloned()
        .collect::<std::collections::BTreeSet<String>>()
        .into_iter()
        .collect();
    Ok(Json(RegeneratedReportView {
        id: stored.id,
        version: stored.version,
        matches_stored: body == stored.body,
        differing_figures,
        body: body.into(),
    }))
}

/// Which two reports to compare.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DiffQuery {
    /// Answer only once the statistics include the event at this global position.
    pub after: Option<i64>,
    /// The earlier version (values are shown from `a` to `b`).
    pub a: Uuid,
    /// The later version.
    pub b: Uuid,
}

/// A report version, as a diff names it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportVersionView {
    pub id: Uuid,
    pub version: i64,
    pub generated_at: String,
    pub cut: ReportCutView,
}

impl From<ReportVersion> for ReportVersionView {
    fn from(version: ReportVersion) -> Self {
        Self {
            id: version.id,
            version: version.version,
            generated_at: version.generated_at,
            cut: version.cut.into(),
        }
    }
}

/// Why an event recorded after a report changes it.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum EventNatureView {
    /// 补录: an entry for a date the earlier report already covered.
    LateEntry,
    /// 更正: a correction of an earlier entry.
    Correction,
}

/// An event a diff names.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EventRefView {
    pub position: i64,
    pub stream_type: String,
    pub stream_id: String,
    pub event_type: String,
    pub recorded_at: String,
    pub nature: EventNatureView,
    /// 补录 or 更正.
    pub nature_label: String,
}

impl From<EventRef> for EventRefView {
    fn from(event: EventRef) -> Self {
        Self {
            position: event.position,
            stream_type: event.stream_type,
            stream_id: event.stream_id,
            event_type: event.event_type,
            recorded_at: event.recorded_at,
            nature: match event.nature {
                EventNature::LateEntry => EventNatureView::LateEntry,
                EventNature::Correction => EventNatureView::Correction,
            },
            nature_label: event.nature.label_zh().to_owned(),
        }
    }
}

/// One figure that differs, and the events behind the difference.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct FigureChangeView {
    pub key: String,
    pub label: String,
    pub old: i64,
    pub new: i64,
    pub events: Vec<EventRefView>,
}

impl From<FigureChange> for FigureChangeView {
    fn from(change: FigureChange) -> Self {
        Self {
            key: change.key,
            label: change.label,
            old: change.old,
            new: change.new,
            events: change.events.into_iter().map(Into::into).collect(),
        }
    }
}

/// What changed between two versions of a report.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReportDiffView {
    pub kind: ReportKindView,
    pub period: String,
    pub region: String,
    pub old: ReportVersionView,
    pub new: ReportVersionView,
    pub changes: Vec<FigureChangeView>,
    /// Every event recorded between the two cuts that changed a figure, by position.
    pub events: Vec<EventRefView>,
}

impl From<ReportDiff> for ReportDiffView {
    fn from(diff: ReportDiff) -> Self {
        Self {
            kind: diff.kind.into(),
            period: diff.period.to_string(),
            region: diff.region,
            old: diff.old.into(),
            new: diff.new.into(),
            changes: diff.changes.into_iter().map(Into::into).collect(),
            events: diff.events.into_iter().map(Into::into).collect(),
        }
    }
}

/// Compare two versions of the same report (same kind, period and area):
/// each figure that differs, with the events recorded between the two cuts
/// that changed it — late entries (补录) and corrections (更正).
#[utoipa::path(get, path = "/api/v1/reports/diff", tag = "reports",
    security(("bearer" = [])),
    params(DiffQuery),
    responses(
        (status = 200, body = ReportDiffView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn diff_reports(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<DiffQuery>,
) -> Result<Json<ReportDiffView>, ApiError> {
    report_in_scope(&state, &user, query.a).await?;
    report_in_scope(&state, &user, query.b).await?;
    wait_for(&state, After { after: query.after }, &[STATISTICS]).await?;
    Ok(Json(
        evaluations::diff_reports(state.db(), query.a, query.b)
            .await?
            .into(),
    ))
}

#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        get_attachment1,
        get_attachment1_csv,
        get_attachment2,
        get_figures,
        get_trace,
        get_progress,
        generate_report,
        list_reports,
        get_report,
        regenerate_report,
        diff_reports
    ),
    components(schemas(
        Attachment1HeaderView,
        ParticipantLineView,
        Attachment1RowView,
        Attachment1TotalsView,
        Attachment1View,
        EvidenceLineView,
        Attachment2View,
        FigureRowView,
        FiguresView,
        TraceView,
        ProgressView,
        ReportKindView,
        ReportCutView,
        RankingWeightsView,
        RankingRowView,
        ReportBodyView,
        StoredReportView,
        GenerateReportRequest,
        ReportSummaryView,
        ReportListView,
        RegeneratedReportView,
        ReportVersionView,
        EventNatureView,
        EventRefView,
        FigureChangeView,
        ReportDiffView
    ))
)]
pub struct Api;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/statistics/attachment1", get(get_attachment1))
        .route(
            "/api/v1/statistics/attachment1.csv",
            get(get_attachment1_csv),
        )
        .route("/api/v1/activities/{id}/attachment2", get(get_attachment2))
        .route("/api/v1/statistics/figures", get(get_figures))
        .route("/api/v1/statistics/trace", get(get_trace))
        .route("/api/v1/statistics/progress", get(get_progress))
        .route("/api/v1/reports", get(list_reports).post(generate_report))
        .route("/api/v1/reports/diff", get(diff_reports))
        .route("/api/v1/reports/{id}", get(get_report))
        .route("/api/v1/reports/{id}/regenerate", get(regenerate_report))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_chinese_file_name_is_percent_encoded_as_rfc_8187_asks() {
        assert_eq!(
            rfc8187_encode(ATTACHMENT1_FILE_NAME),
            "%E9%99%84%E4%BB%B61%E7%BB%9F%E8%AE%A1%E8%A1%A8.csv"
        );
        assert_eq!(rfc8187_encode("a b\"c"), "a%20b%22c");
    }

    #[test]
    fn csv_is_chosen_only_when_asked_for() {
        let mut headers = HeaderMap::new();
        assert!(!wants_csv(&headers));
        headers.insert(
            header::ACCEPT,
            HeaderValue::from_static("application/json, text/csv;q=0.5"),
        );
        assert!(wants_csv(&headers));
        headers.insert(header::ACCEPT, HeaderValue::from_static("text/csv-schema"));
        assert!(!wants_csv(&headers));
    }
}
