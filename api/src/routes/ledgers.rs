//! 台账: caseloads and visit obligations (走访频次), the monthly visit rate,
//! the needs ledger of a township (需求台账), the orders given to an
//! organization (一社一单), overdue orders, escalations (逐级上报) and
//! residents' satisfaction.
//!
//! Read from the `caseload` and `needs_ledger` read models. Whether a visit
//! or an order is overdue depends on today, so it is computed for today in
//! Asia/Shanghai under the default visit policy; the read models store only
//! facts. Every query accepts `?after=POSITION` (read-your-writes), and an
//! area defaults to the user's own scope and must lie within it.

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use shouwang_domain::RegionPrefix;
use shouwang_domain::organization::Organization;
use shouwang_domain::vocabulary::{
    Department, EscalationLevel, NeedCategory, NeedSource, NeedStatus, NeedUrgency, RegionLevel,
    RiskLevel, UserRole,
};
use shouwang_infrastructure::users::User;
use shouwang_projections::caseload::{
    self, CaseObligation, CaseloadScope, RiskCounts, VisitPolicy,
};
use shouwang_projections::needs_ledger::{
    self, Escalation, EscalationCounts, Fulfilment, LedgerEntry, NeedsByStatus, Order, OrderStatus,
    OrganizationOrders, SatisfactionSummary,
};
use shouwang_projections::statistics::Month;
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::authz::{self, Operation, OrdersVisible};
use crate::consistency::{After, wait_for};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiPath, ApiQuery};
use crate::state::AppState;

/// The read model names `?after=` waits on.
const CASELOAD: &str = "caseload";
const NEEDS_LEDGER: &str = "needs_ledger";

/// How many items a list returns when `limit` is not given, and at most.
const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: u32 = 1000;

// ---------------------------------------------------------------------------
// Shared by the ledger and report endpoints.

/// The area a query covers: `region` when given, else the user's own scope.
/// Refused with 400 when it is no region code, and with 403 when the role
/// may not perform `operation` or the area lies outside the user's scope.
/// `None` only for a whole-country scope with no region asked: lists then
/// include records without a region too.
pub(crate) fn requested_area(
    user: &User,
    operation: Operation,
    region: Option<&str>,
    field: &str,
) -> Result<Option<RegionPrefix>, ApiError> {
    authz::require(user, operation)?;
    let text = match region.map(str::trim).filter(|text| !text.is_empty()) {
        Some(text) => text,
        None if user.region_scope.is_empty() => return Ok(None),
        None => user.region_scope.as_str(),
    };
    let prefix = parse_region(text, field)?;
    authz::require_in_scope(user, operation, prefix.as_str())?;
    Ok(Some(prefix))
}

/// As [`requested_area`], for figures that need an area: a whole-country
/// scope must name one.
pub(crate) fn area_in_scope(
    user: &User,
    operation: Operation,
    region: Option<&str>,
    field: &str,
) -> Result<RegionPrefix, ApiError> {
    requested_area(user, operation, region, field)?.ok_or_else(|| {
        ApiError::bad_request(
            "region_required",
            format!("您的管辖范围是全国，请用 {field} 参数指定地区（区划代码，如 360121）"),
        )
        .with_field(field)
    })
}

/// A region prefix from a request; a malformed one is a 400 naming `field`.
pub(crate) fn parse_region(text: &str, field: &str) -> Result<RegionPrefix, ApiError> {
    RegionPrefix::parse(text).map_err(|error| {
        ApiError::bad_request(error.code(), format!("参数 {field} 不正确：{error}"))
            .with_field(field)
    })
}

/// `limit`/`offset` as asked, within bounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PageWindow {
    pub limit: u32,
    pub offset: u32,
}

impl PageWindow {
    pub(crate) fn new(limit: Option<u32>, offset: Option<u32>) -> Result<Self, ApiError> {
        let limit = limit.unwrap_or(DEFAULT_LIMIT);
        if limit == 0 || limit > MAX_LIMIT {
            return Err(ApiError::bad_request(
                "invalid_limit",
                format!("limit 应在 1 到 {MAX_LIMIT} 之间"),
            )
            .with_field("limit"));
        }
        Ok(Self {
            limit,
            offset: offset.unwrap_or(0),
        })
    }

    /// The items of this page, and how many there were in all.
    pub(crate) fn apply<T>(&self, items: Vec<T>) -> (u64, Vec<T>) {
        let total = items.len() as u64;
        let page = items
            .into_iter()
            .skip(self.offset as usize)
            .take(self.limit as usize)
            .collect();
        (total, page)
    }
}

pub(crate) fn parse_month(text: &str, field: &str) -> Result<Month, ApiError> {
    text.parse::<Month>().map_err(|error| {
        ApiError::bad_request("invalid_month", error.to_string()).with_field(field)
    })
}

// ---------------------------------------------------------------------------
// Caseload (包户名单) and visit obligations.

/// Whose caseload to look at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CaseloadScopeKind {
    /// The cases a worker currently looks after (包户).
    Worker,
    /// The cases an organization is responsible for or whose workers look after them.
    Organization,
    /// The cases living in a township (9-digit 区划代码).
    Township,
    /// The cases living in a county (6-digit 区划代码), or any wider area.
    County,
}

/// Which caseload, and which of its cases.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CaseloadQuery {
    /// Answer only once the read model includes the event at this global position.
    pub after: Option<i64>,
    /// `worker`, `organization`, `township` or `county`. Default: a social
    /// worker's own caseload; for everyone else the area of `region`.
    pub scope: Option<CaseloadScopeKind>,
    /// The worker (user id) for `scope=worker`; default: yourself.
    pub worker: Option<Uuid>,
    /// The organization for `scope=organization`; default: your own.
    pub organization: Option<Uuid>,
    /// 区划代码 for `scope=township|county`; default: your scope.
    pub region: Option<String>,
    /// Only cases at this risk level.
    pub risk: Option<RiskLevel>,
    /// At most this many cases (1–1000, default 100).
    pub limit: Option<u32>,
    /// Skip this many cases.
    pub offset: Option<u32>,
}

/// The caseload a response is about.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseloadScopeView {
    pub kind: CaseloadScopeKind,
    pub worker_id: Option<Uuid>,
    pub organization_id: Option<Uuid>,
    /// The 区划代码 prefix for township and county caseloads.
    pub region: Option<String>,
}

/// How often a case must be visited by risk level (走访频次), in days.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct VisitPolicyView {
    /// A crisis is visited within this many days of being assessed…
    pub crisis_first_within_days: u32,
    /// …and then at least this often.
    pub crisis_every_days: u32,
    pub high_every_days: u32,
    pub medium_every_days: u32,
    pub low_every_days: u32,
}

impl From<VisitPolicy> for VisitPolicyView {
    fn from(policy: VisitPolicy) -> Self {
        Self {
            crisis_first_within_days: policy.crisis_first_within_days,
            crisis_every_days: policy.crisis_every_days,
            high_every_days: policy.high_every_days,
            medium_every_days: policy.medium_every_days,
            low_every_days: policy.low_every_days,
        }
    }
}

/// Open cases by current risk level.
#[derive(Debug, Clone, Copy, Default, Serialize, ToSchema)]
pub struct RiskCountsView {
    pub crisis: u64,
    pub high: u64,
    pub medium: u64,
    pub low: u64,
}

impl From<RiskCounts> for RiskCountsView {
    fn from(counts: RiskCounts) -> Self {
        Self {
            crisis: counts.crisis,
            high: counts.high,
            medium: counts.medium,
            low: counts.low,
        }
    }
}

/// One open case and its visit obligation today. No personal data: a case
/// is its id, its region and its risk.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseObligationView {
    pub case_id: Uuid,
    /// The 12-digit 区划代码 where the person lives.
    pub region: String,
    pub organization_id: Option<Uuid>,
    /// The workers currently looking after the person (包户).
    pub worker_ids: Vec<Uuid>,
    pub risk: RiskLevel,
    pub opened_on: NaiveDate,
    pub last_visit: Option<NaiveDate>,
    pub next_visit_due: NaiveDate,
    /// Days past the due date; 0 when not overdue.
    pub overdue_days: i64,
}

impl From<CaseObligation> for CaseObligationView {
    fn from(case: CaseObligation) -> Self {
        Self {
            case_id: case.case_id,
            region: case.region,
            organization_id: case.organization_id,
            worker_ids: case.worker_ids,
            risk: case.risk,
            opened_on: case.opened_on,
            last_visit: case.last_visit,
            next_visit_due: case.next_visit_due,
            overdue_days: case.overdue_days,
        }
    }
}

/// A caseload today: every open case, the visit falling due first at the top.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct CaseloadView {
    pub scope: CaseloadScopeView,
    /// Today in Asia/Shanghai: what "due" and "overdue" are measured against.
    pub today: NaiveDate,
    pub policy: VisitPolicyView,
    /// Open cases in the caseload (all risk levels).
    pub open_cases: u64,
    pub by_risk: RiskCountsView,
    /// Open cases whose visit is overdue (all risk levels).
    pub overdue_count: u64,
    /// Cases matching the `risk` filter; `cases` is one page of them.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub cases: Vec<CaseObligationView>,
}

/// The open cases of a caseload whose visit is overdue, the most overdue first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverdueVisitsView {
    pub scope: CaseloadScopeView,
    pub today: NaiveDate,
    pub policy: VisitPolicyView,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub cases: Vec<CaseObligationView>,
}

/// The caseload asked for, and whether its cases must still be limited to
/// the user's scope (a worker's or an organization's cases can lie anywhere).
struct ResolvedScope {
    scope: CaseloadScope,
    view: CaseloadScopeView,
    limit_to_user_scope: bool,
}

fn resolve_caseload_scope(user: &User, query: &CaseloadQuery) -> Result<ResolvedScope, ApiError> {
    let kind = match query.scope {
        Some(kind) => kind,
        None if query.worker.is_some() => CaseloadScopeKind::Worker,
        None if query.organization.is_some() => CaseloadScopeKind::Organization,
        // A social worker's first question is "whom must I visit?"; an
        // explicit region asks for an area instead.
        None if query.region.is_none() && user.role == UserRole::SocialWorker => {
            CaseloadScopeKind::Worker
        }
        None => {
            let area = area_in_scope(
                user,
                Operation::ReadReports,
                query.region.as_deref(),
                "region",
            )?;
            return Ok(area_scope(area));
        }
    };
    match kind {
        CaseloadScopeKind::Worker => {
            let worker_id = query.worker.unwrap_or(user.id);
            authz::require_worker_caseload(user, worker_id)?;
            Ok(ResolvedScope {
                scope: CaseloadScope::Worker(worker_id),
                view: CaseloadScopeView {
                    kind,
                    worker_id: Some(worker_id),
                    organization_id: None,
                    region: None,
                },
                limit_to_user_scope: true,
            })
        }
        CaseloadScopeKind::Organization => {
            authz::require(user, Operation::ReadReports)?;
            let organization_id = query.organization.or(user.organization_id).ok_or_else(|| {
                ApiError::bad_request(
                    "organization_required",
                    "请用 organization 参数指定社会组织编号",
                )
                .with_field("organization")
            })?;
            Ok(ResolvedScope {
                scope: CaseloadScope::Organization(organization_id),
                view: CaseloadScopeView {
                    kind,
                    worker_id: None,
                    organization_id: Some(organization_id),
                    region: None,
                },
                limit_to_user_scope: true,
            })
        }
        CaseloadScopeKind::Township | CaseloadScopeKind::County => {
            let (level, level_label) = if kind == CaseloadScopeKind::Township {
                (RegionLevel::Township, "乡镇（9 位）")
            } else {
                (RegionLevel::County, "县（6 位）")
            };
            authz::require(user, Operation::ReadReports)?;
            let region = match query.region.as_deref() {
                Some(text) => parse_region(text, "region")?,
                None => RegionPrefix::parse(&user.region_scope)
                    .ok()
                    .and_then(|scope| scope.at_level(level))
                    .ok_or_else(|| {
                        ApiError::bad_request(
                            "region_required",
                            format!("请用 region 参数指定{level_label}区划代码"),
                        )
                        .with_field("region")
                    })?,
            };
            if region.level() != level {
                return Err(ApiError::bad_request(
                    "region_level_mismatch",
                    format!(
                        "scope={} 需要{level_label}区划代码，{} 不是",
                        if level == RegionLevel::Township {
                            "township"
                        } else {
                            "county"
                        },
                        region.as_str()
                    ),
                )
                .with_field("region"));
            }
            let area = area_in_scope(
                user,
                Operation::ReadReports,
                Some(region.as_str()),
                "region",
            )?;
            Ok(area_scope(area))
        }
    }
}

/// The caseload of an area: a township and anything narrower reads as a
/// township, anything wider as a county (both select by prefix).
fn area_scope(area: RegionPrefix) -> ResolvedScope {
    let kind = if area.as_str().len() >= 9 {
        CaseloadScopeKind::Township
    } else {
        CaseloadScopeKind::County
    };
    let view = CaseloadScopeView {
        kind,
        worker_id: None,
        organization_id: None,
        region: Some(area.as_str().to_owned()),
    };
    let scope = match kind {
        CaseloadScopeKind::Township => CaseloadScope::Township(area),
        _ => CaseloadScope::County(area),
    };
    ResolvedScope {
        scope,
        view,
        // The area itself was checked to lie within the user's scope.
        limit_to_user_scope: false,
    }
}

/// A caseload (包户名单) today: the open cases, their risk levels, last
/// visits and when the next visit is due under the default policy (crisis
/// within a day then weekly, high weekly, medium monthly, low quarterly).
/// Social workers see their own; other caseloads need ReadReports. Only
/// cases within your scope are shown.
#[utoipa::path(get, path = "/api/v1/caseload", tag = "ledgers",
    security(("bearer" = [])),
    params(CaseloadQuery),
    responses(
        (status = 200, body = CaseloadView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_caseload(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<CaseloadQuery>,
) -> Result<Json<CaseloadView>, ApiError> {
    let resolved = resolve_caseload_scope(&user, &query)?;
    let window = PageWindow::new(query.limit, query.offset)?;
    wait_for(&state, After { after: query.after }, &[CASELOAD]).await?;
    let today = state.today();
    let policy = VisitPolicy::default();
    let mut cases = caseload::caseload(state.db(), &resolved.scope, today, &policy)
        .await?
        .cases;
    if resolved.limit_to_user_scope {
        cases.retain(|case| authz::in_scope(&user, &case.region));
    }
    let mut by_risk = RiskCounts::default();
    for case in &cases {
        match case.risk {
            RiskLevel::Crisis => by_risk.crisis += 1,
            RiskLevel::High => by_risk.high += 1,
            RiskLevel::Medium => by_risk.medium += 1,
            RiskLevel::Low => by_risk.low += 1,
        }
    }
    let open_cases = cases.len() as u64;
    let overdue_count = cases.iter().filter(|case| case.is_overdue()).count() as u64;
    if let Some(risk) = query.risk {
        cases.retain(|case| case.risk == risk);
    }
    let (total, cases) = window.apply(cases);
    Ok(Json(CaseloadView {
        scope: resolved.view,
        today,
        policy: policy.into(),
        open_cases,
        by_risk: by_risk.into(),
        overdue_count,
        total,
        limit: window.limit,
        offset: window.offset,
        cases: cases.into_iter().map(Into::into).collect(),
    }))
}

/// The open cases of a caseload whose visit is overdue today, the most
/// overdue first (then the higher risk). Same scopes and rules as
/// `/api/v1/caseload`.
#[utoipa::path(get, path = "/api/v1/caseload/overdue", tag = "ledgers",
    security(("bearer" = [])),
    params(CaseloadQuery),
    responses(
        (status = 200, body = OverdueVisitsView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_overdue_visits(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<CaseloadQuery>,
) -> Result<Json<OverdueVisitsView>, ApiError> {
    let resolved = resolve_caseload_scope(&user, &query)?;
    let window = PageWindow::new(query.limit, query.offset)?;
    wait_for(&state, After { after: query.after }, &[CASELOAD]).await?;
    let today = state.today();
    let policy = VisitPolicy::default();
    let mut cases = caseload::overdue_visits(state.db(), &resolved.scope, today, &policy).await?;
    if resolved.limit_to_user_scope {
        cases.retain(|case| authz::in_scope(&user, &case.region));
    }
    if let Some(risk) = query.risk {
        cases.retain(|case| case.risk == risk);
    }
    let (total, cases) = window.apply(cases);
    Ok(Json(OverdueVisitsView {
        scope: resolved.view,
        today,
        policy: policy.into(),
        total,
        limit: window.limit,
        offset: window.offset,
        cases: cases.into_iter().map(Into::into).collect(),
    }))
}

/// Which area and month.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct VisitRateQuery {
    /// Answer only once the read model includes the event at this global position.
    pub after: Option<i64>,
    /// 区划代码 prefix; default: your scope.
    pub region: Option<String>,
    /// `YYYY-MM`; default: the current month.
    pub month: Option<String>,
}

/// 月探访率: of the cases open at any time during a month, how many had a
/// visit dated in that month.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VisitRateView {
    pub region_prefix: String,
    /// `YYYY-MM`.
    pub month: String,
    pub open_cases: u64,
    pub visited_cases: u64,
    /// visited / open in per mille (‰), rounded half up; 0 when nothing was open.
    pub rate_permille: u64,
}

/// The monthly visit rate (月探访率) of the cases living in an area, by the
/// date of each visit: a visit entered late still counts for its month.
#[utoipa::path(get, path = "/api/v1/visit-rate", tag = "ledgers",
    security(("bearer" = [])),
    params(VisitRateQuery),
    responses(
        (status = 200, body = VisitRateView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_visit_rate(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<VisitRateQuery>,
) -> Result<Json<VisitRateView>, ApiError> {
    let area = area_in_scope(
        &user,
        Operation::ReadReports,
        query.region.as_deref(),
        "region",
    )?;
    let month = match query.month.as_deref() {
        Some(text) => parse_month(text, "month")?,
        None => Month::of(state.today()),
    };
    let month = caseload::Month::new(month.year(), month.month()).ok_or_else(|| {
        ApiError::bad_request("invalid_month", "月份超出范围，请写作 2026-03").with_field("month")
    })?;
    wait_for(&state, After { after: query.after }, &[CASELOAD]).await?;
    let rate = caseload::monthly_visit_rate(state.db(), &area, month).await?;
    Ok(Json(VisitRateView {
        region_prefix: rate.region_prefix,
        month: rate.month,
        open_cases: rate.open_cases,
        visited_cases: rate.visited_cases,
        rate_permille: rate.rate_permille,
    }))
}

// ---------------------------------------------------------------------------
// The needs ledger (需求台账).

/// Needs in each status.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct NeedsByStatusView {
    pub on_ledger: u64,
    pub dispatched: u64,
    pub accepted: u64,
    pub fulfilled: u64,
    pub evaluated: u64,
    pub escalated: u64,
    pub withdrawn: u64,
}

impl From<NeedsByStatus> for NeedsByStatusView {
    fn from(counts: NeedsByStatus) -> Self {
        Self {
            on_ledger: counts.on_ledger,
            dispatched: counts.dispatched,
            accepted: counts.accepted,
            fulfilled: counts.fulfilled,
            evaluated: counts.evaluated,
            escalated: counts.escalated,
            withdrawn: counts.withdrawn,
        }
    }
}

/// What meeting the needs took (投入), summed over met needs.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct FulfilmentView {
    /// Needs fulfilled (evaluated or not).
    pub needs: u64,
    pub minutes: i64,
    pub money_fen: i64,
    pub material_value_fen: i64,
}

impl From<Fulfilment> for FulfilmentView {
    fn from(fulfilment: Fulfilment) -> Self {
        Self {
            needs: fulfilment.needs,
            minutes: fulfilment.minutes,
            money_fen: fulfilment.money_fen,
            material_value_fen: fulfilment.material_value_fen,
        }
    }
}

/// Escalations by the level the need went to.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
pub struct EscalationCountsView {
    pub to_city: u64,
    pub to_province: u64,
    /// Reported to the government or one of its departments.
    pub to_government: u64,
}

impl From<EscalationCounts> for EscalationCountsView {
    fn from(counts: EscalationCounts) -> Self {
        Self {
            to_city: counts.to_city,
            to_province: counts.to_province,
            to_government: counts.to_government,
        }
    }
}

/// 成效让群众评价: residents' satisfaction with how their needs were met.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SatisfactionView {
    pub evaluations: u64,
    /// The average score (1–5) in tenths, rounded half up: 43 is 4.3.
    /// Null when nothing was evaluated.
    pub average_tenths: Option<u64>,
    /// How many evaluations gave 1, 2, 3, 4 and 5.
    pub by_score: Vec<u64>,
}

impl From<SatisfactionSummary> for SatisfactionView {
    fn from(summary: SatisfactionSummary) -> Self {
        Self {
            evaluations: summary.evaluations,
            average_tenths: summary.average_tenths,
            by_score: summary.by_score.to_vec(),
        }
    }
}

/// One need on the ledger.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct LedgerEntryView {
    pub need_id: Uuid,
    /// The care case it belongs to; null for a community need.
    pub case_id: Option<Uuid>,
    pub region: String,
    pub township: String,
    pub category: NeedCategory,
    pub urgency: NeedUrgency,
    /// 微星愿.
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
    /// The resident's evaluation, 1–5.
    pub satisfaction: Option<u8>,
    pub minutes: i64,
    pub money_fen: i64,
    pub material_value_fen: i64,
    /// Days past the due date while dispatched or accepted; 0 otherwise.
    pub overdue_days: i64,
}

impl From<LedgerEntry> for LedgerEntryView {
    fn from(entry: LedgerEntry) -> Self {
        Self {
            need_id: entry.need_id,
            case_id: entry.case_id,
            region: entry.region,
            township: entry.township,
            category: entry.category,
            urgency: entry.urgency,
            micro_wish: entry.micro_wish,
            source: entry.source,
            description: entry.description,
            raised_on: entry.raised_on,
            status: entry.status,
            level: entry.level,
            organization_id: entry.organization_id,
            organization_name: entry.organization_name,
            dispatched_on: entry.dispatched_on,
            due_on: entry.due_on,
            accepted_on: entry.accepted_on,
            fulfilled_on: entry.fulfilled_on,
            satisfaction: entry.satisfaction,
            minutes: entry.minutes,
            money_fen: entry.money_fen,
            material_value_fen: entry.material_value_fen,
            overdue_days: entry.overdue_days,
        }
    }
}

/// Which needs of the ledger to list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LedgerQuery {
    /// Answer only once the read model includes the event at this global position.
    pub after: Option<i64>,
    /// Only needs in this status.
    pub status: Option<NeedStatus>,
    /// Only needs of this category.
    pub category: Option<NeedCategory>,
    /// Only 微星愿 (`true`) or only other needs (`false`).
    pub micro_wish: Option<bool>,
    /// Only needs whose order is overdue.
    pub overdue: Option<bool>,
    /// At most this many needs (1–1000, default 100).
    pub limit: Option<u32>,
    /// Skip this many needs.
    pub offset: Option<u32>,
}

/// A township's needs ledger today (分乡镇编列需求台账). The summary covers
/// every need of the township; `needs` is one page of those matching the
/// filters, the earliest raised first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct TownshipLedgerView {
    pub township: String,
    pub today: NaiveDate,
    pub needs_total: u64,
    pub micro_wishes: u64,
    pub by_status: NeedsByStatusView,
    /// Orders past their due date and not yet fulfilled.
    pub overdue: u64,
    pub escalations: EscalationCountsView,
    pub fulfilment: FulfilmentView,
    pub satisfaction: SatisfactionView,
    /// Needs matching the filters.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub needs: Vec<LedgerEntryView>,
}

/// The needs ledger of a township (需求台账): every need raised there from
/// the survey to the resident's evaluation, with counts by status, overdue
/// orders, escalations, what meeting them took and satisfaction. Any area
/// prefix within your scope works (a county gives all its townships).
#[utoipa::path(get, path = "/api/v1/needs-ledger/{township}", tag = "ledgers",
    security(("bearer" = [])),
    params(("township" = String, Path, description = "乡镇（街道）区划代码, 9 digits"), LedgerQuery),
    responses(
        (status = 200, body = TownshipLedgerView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_needs_ledger(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(township): ApiPath<String>,
    ApiQuery(query): ApiQuery<LedgerQuery>,
) -> Result<Json<TownshipLedgerView>, ApiError> {
    let area = area_in_scope(&user, Operation::ReadReports, Some(&township), "township")?;
    let window = PageWindow::new(query.limit, query.offset)?;
    wait_for(&state, After { after: query.after }, &[NEEDS_LEDGER]).await?;
    let today = state.today();
    let ledger = needs_ledger::township_ledger(state.db(), &area, today).await?;
    let needs: Vec<LedgerEntry> = ledger
        .needs
        .into_iter()
        .filter(|need| query.status.is_none_or(|status| need.status == status))
        .filter(|need| {
            query
                .category
                .is_none_or(|category| need.category == category)
        })
        .filter(|need| query.micro_wish.is_none_or(|wish| need.micro_wish == wish))
        .filter(|need| {
            query
                .overdue
                .is_none_or(|overdue| (need.overdue_days > 0) == overdue)
        })
        .collect();
    let (total, needs) = window.apply(needs);
    Ok(Json(TownshipLedgerView {
        township: ledger.township,
        today,
        needs_total: ledger.total,
        micro_wishes: ledger.micro_wishes,
        by_status: ledger.by_status.into(),
        overdue: ledger.overdue,
        escalations: ledger.escalations.into(),
        fulfilment: ledger.fulfilment.into(),
        satisfaction: ledger.satisfaction.into(),
        total,
        limit: window.limit,
        offset: window.offset,
        needs: needs.into_iter().map(Into::into).collect(),
    }))
}

// ---------------------------------------------------------------------------
// Orders (一社一单).

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatusView {
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

impl From<OrderStatus> for OrderStatusView {
    fn from(status: OrderStatus) -> Self {
        match status {
            OrderStatus::Dispatched => Self::Dispatched,
            OrderStatus::Accepted => Self::Accepted,
            OrderStatus::Declined => Self::Declined,
            OrderStatus::Fulfilled => Self::Fulfilled,
            OrderStatus::Withdrawn => Self::Withdrawn,
        }
    }
}

/// One order given to an organization.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrderView {
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
    pub status: OrderStatusView,
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

impl From<Order> for OrderView {
    fn from(order: Order) -> Self {
        Self {
            need_id: order.need_id,
            organization_id: order.organization_id,
            organization_name: order.organization_name,
            region: order.region,
            township: order.township,
            category: order.category,
            urgency: order.urgency,
            micro_wish: order.micro_wish,
            dispatched_by: order.dispatched_by,
            dispatched_on: order.dispatched_on,
            due_on: order.due_on,
            status: order.status.into(),
            accepted_on: order.accepted_on,
            declined_on: order.declined_on,
            last_progress_on: order.last_progress_on,
            fulfilled_on: order.fulfilled_on,
            minutes: order.minutes,
            money_fen: order.money_fen,
            material_value_fen: order.material_value_fen,
            satisfaction: order.satisfaction,
            overdue_days: order.overdue_days,
        }
    }
}

/// Which orders to list.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OrdersQuery {
    /// Answer only once the read model includes the event at this global position.
    pub after: Option<i64>,
    /// Only orders in this state.
    pub status: Option<OrderStatusView>,
    /// Only overdue orders (`true`) or only those not overdue (`false`).
    pub overdue: Option<bool>,
    /// At most this many orders (1–1000, default 100).
    pub limit: Option<u32>,
    /// Skip this many orders.
    pub offset: Option<u32>,
}

/// An organization's orders, the earliest dispatched first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationOrdersListView {
    pub organization_id: Uuid,
    pub today: NaiveDate,
    /// True when only the orders for needs within your scope are shown.
    pub limited_to_scope: bool,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub orders: Vec<OrderView>,
}

/// Every order given to an organization (一社一单), open or not, with
/// overdue days as of today. The organization's own people who respond to
/// dispatches see all its orders; readers of reports see those for needs
/// within their scope, of an organization registered in or serving their area.
#[utoipa::path(get, path = "/api/v1/organizations/{id}/orders", tag = "ledgers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "社会组织编号"), OrdersQuery),
    responses(
        (status = 200, body = OrganizationOrdersListView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_organization_orders(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(organization_id): ApiPath<Uuid>,
    ApiQuery(query): ApiQuery<OrdersQuery>,
) -> Result<Json<OrganizationOrdersListView>, ApiError> {
    let stream_type = state
        .store()
        .stream_type(&organization_id.to_string())
        .await?;
    if stream_type.as_deref() != Some(Organization::TYPE) {
        return Err(ApiError::not_found("该社会组织"));
    }
    let organization = state.app().organization(organization_id).await?;
    let region = organization
        .region()
        .map(|region| region.as_str().to_owned())
        .unwrap_or_default();
    let visible = authz::require_orders_visible(&user, organization_id, &region)?;
    let window = PageWindow::new(query.limit, query.offset)?;
    wait_for(&state, After { after: query.after }, &[NEEDS_LEDGER]).await?;
    let today = state.today();
    let orders: Vec<Order> = needs_ledger::organization_orders(state.db(), organization_id, today)
        .await?
        .into_iter()
        .filter(|order| visible == OrdersVisible::All || authz::in_scope(&user, &order.region))
        .filter(|order| {
            query
                .status
                .is_none_or(|status| OrderStatusView::from(order.status) == status)
        })
        .filter(|order| {
            query
                .overdue
                .is_none_or(|overdue| (order.overdue_days > 0) == overdue)
        })
        .collect();
    let (total, orders) = window.apply(orders);
    Ok(Json(OrganizationOrdersListView {
        organization_id,
        today,
        limited_to_scope: visible == OrdersVisible::WithinScope,
        total,
        limit: window.limit,
        offset: window.offset,
        orders: orders.into_iter().map(Into::into).collect(),
    }))
}

/// Which area, and which page.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AreaListQuery {
    /// Answer only once the read model includes the event at this global position.
    pub after: Option<i64>,
    /// 区划代码 prefix; default: your scope.
    pub region: Option<String>,
    /// At most this many items (1–1000, default 100).
    pub limit: Option<u32>,
    /// Skip this many items.
    pub offset: Option<u32>,
}

/// Open orders past their due date, the most overdue first.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OverdueOrdersView {
    pub region: String,
    pub today: NaiveDate,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub orders: Vec<OrderView>,
}

/// Open orders for needs in an area whose due date has passed today, the
/// most overdue first (then the more urgent).
#[utoipa::path(get, path = "/api/v1/needs/overdue", tag = "ledgers",
    security(("bearer" = [])),
    params(AreaListQuery),
    responses(
        (status = 200, body = OverdueOrdersView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_overdue_orders(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<AreaListQuery>,
) -> Result<Json<OverdueOrdersView>, ApiError> {
    let area = area_in_scope(
        &user,
        Operation::ReadReports,
        query.region.as_deref(),
        "region",
    )?;
    let window = PageWindow::new(query.limit, query.offset)?;
    wait_for(&state, After { after: query.after }, &[NEEDS_LEDGER]).await?;
    let today = state.today();
    let orders = needs_ledger::overdue_orders(state.db(), &area, today).await?;
    let (total, orders) = window.apply(orders);
    Ok(Json(OverdueOrdersView {
        region: area.as_str().to_owned(),
        today,
        total,
        limit: window.limit,
        offset: window.offset,
        orders: orders.into_iter().map(Into::into).collect(),
    }))
}

/// Which escalations.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EscalationsQuery {
    /// Answer only once the read model includes the event at this global position.
    pub after: Option<i64>,
    /// 区划代码 prefix; default: your scope.
    pub region: Option<String>,
    /// Only escalations still awaiting an order at the level they went to
    /// (`true`), or only those since dealt with (`false`).
    pub pending: Option<bool>,
    /// Only escalations to this level.
    pub to: Option<EscalationLevel>,
    /// At most this many escalations (1–1000, default 100).
    pub limit: Option<u32>,
    /// Skip this many escalations.
    pub offset: Option<u32>,
}

/// One escalation (上报) of a need.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationView {
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
    /// Whether the need still lies at `to` awaiting an order.
    pub pending: bool,
}

impl From<Escalation> for EscalationView {
    fn from(escalation: Escalation) -> Self {
        Self {
            need_id: escalation.need_id,
            region: escalation.region,
            township: escalation.township,
            category: escalation.category,
            from: escalation.from,
            to: escalation.to,
            department: escalation.department,
            reason: escalation.reason,
            escalated_on: escalation.escalated_on,
            pending: escalation.pending,
        }
    }
}

/// The escalations of an area in date order, with counts by level.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EscalationsView {
    pub region: String,
    /// Every escalation of the area, by the level it went to.
    pub counts: EscalationCountsView,
    /// Escalations matching the filters.
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub escalations: Vec<EscalationView>,
}

/// Every escalation (逐级上报: county → city → province, or to the
/// government) of needs in an area, in date order.
#[utoipa::path(get, path = "/api/v1/needs/escalations", tag = "ledgers",
    security(("bearer" = [])),
    params(EscalationsQuery),
    responses(
        (status = 200, body = EscalationsView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_escalations(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<EscalationsQuery>,
) -> Result<Json<EscalationsView>, ApiError> {
    let area = area_in_scope(
        &user,
        Operation::ReadReports,
        query.region.as_deref(),
        "region",
    )?;
    let window = PageWindow::new(query.limit, query.offset)?;
    wait_for(&state, After { after: query.after }, &[NEEDS_LEDGER]).await?;
    let escalations = needs_ledger::escalations(state.db(), &area).await?;
    let counts = EscalationCounts::of(&escalations);
    let escalations: Vec<Escalation> = escalations
        .into_iter()
        .filter(|escalation| {
            query
                .pending
                .is_none_or(|pending| escalation.pending == pending)
        })
        .filter(|escalation| query.to.is_none_or(|to| escalation.to == to))
        .collect();
    let (total, escalations) = window.apply(escalations);
    Ok(Json(EscalationsView {
        region: area.as_str().to_owned(),
        counts: counts.into(),
        total,
        limit: window.limit,
        offset: window.offset,
        escalations: escalations.into_iter().map(Into::into).collect(),
    }))
}

/// Which area.
#[derive(Debug, Clone, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AreaQuery {
    /// Answer only once the read model includes the event at this global position.
    pub after: Option<i64>,
    /// 区划代码 prefix; default: your scope.
    pub region: Option<String>,
}

/// Residents' satisfaction in an area.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct AreaSatisfactionView {
    pub region: String,
    pub satisfaction: SatisfactionView,
}

/// 成效让群众评价: residents' evaluations of how the needs of an area were
/// met — how many, the average in tenths and how many gave each score.
#[utoipa::path(get, path = "/api/v1/needs/satisfaction", tag = "ledgers",
    security(("bearer" = [])),
    params(AreaQuery),
    responses(
        (status = 200, body = AreaSatisfactionView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_satisfaction(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<AreaQuery>,
) -> Result<Json<AreaSatisfactionView>, ApiError> {
    let area = area_in_scope(
        &user,
        Operation::ReadReports,
        query.region.as_deref(),
        "region",
    )?;
    wait_for(&state, After { after: query.after }, &[NEEDS_LEDGER]).await?;
    let summary = needs_ledger::satisfaction(state.db(), &area).await?;
    Ok(Json(AreaSatisfactionView {
        region: area.as_str().to_owned(),
        satisfaction: summary.into(),
    }))
}

/// One organization's orders at a glance.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationOrdersView {
    pub organization_id: Uuid,
    pub name: String,
    /// False while suspended: it may not be given more orders.
    pub active: bool,
    pub open_orders: u64,
    pub overdue_orders: u64,
    pub fulfilled_orders: u64,
    pub declined_orders: u64,
}

impl From<OrganizationOrders> for OrganizationOrdersView {
    fn from(orders: OrganizationOrders) -> Self {
        Self {
            organization_id: orders.organization_id,
            name: orders.name,
            active: orders.active,
            open_orders: orders.open_orders,
            overdue_orders: orders.overdue_orders,
            fulfilled_orders: orders.fulfilled_orders,
            declined_orders: orders.declined_orders,
        }
    }
}

/// The 一社一单 overview of an area.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrdersByOrganizationView {
    pub region: String,
    pub today: NaiveDate,
    pub total: u64,
    pub limit: u32,
    pub offset: u32,
    pub organizations: Vec<OrganizationOrdersView>,
}

/// Per organization registered in an area: its open, overdue, fulfilled
/// and declined orders as of today (一社一单 overview), by name.
#[utoipa::path(get, path = "/api/v1/needs/by-organization", tag = "ledgers",
    security(("bearer" = [])),
    params(AreaListQuery),
    responses(
        (status = 200, body = OrdersByOrganizationView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_orders_by_organization(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<AreaListQuery>,
) -> Result<Json<OrdersByOrganizationView>, ApiError> {
    let area = area_in_scope(
        &user,
        Operation::ReadReports,
        query.region.as_deref(),
        "region",
    )?;
    let window = PageWindow::new(query.limit, query.offset)?;
    wait_for(&state, After { after: query.after }, &[NEEDS_LEDGER]).await?;
    let today = state.today();
    let overview = needs_ledger::orders_by_organization(state.db(), &area, today).await?;
    let (total, organizations) = window.apply(overview);
    Ok(Json(OrdersByOrganizationView {
        region: area.as_str().to_owned(),
        today,
        total,
        limit: window.limit,
        offset: window.offset,
        organizations: organizations.into_iter().map(Into::into).collect(),
    }))
}

#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        get_caseload,
        get_overdue_visits,
        get_visit_rate,
        get_needs_ledger,
        get_organization_orders,
        get_overdue_orders,
        get_escalations,
        get_satisfaction,
        get_orders_by_organization
    ),
    components(schemas(
        CaseloadScopeKind,
        CaseloadScopeView,
        VisitPolicyView,
        RiskCountsView,
        CaseObligationView,
        CaseloadView,
        OverdueVisitsView,
        VisitRateView,
        NeedsByStatusView,
        FulfilmentView,
        EscalationCountsView,
        SatisfactionView,
        LedgerEntryView,
        TownshipLedgerView,
        OrderStatusView,
        OrderView,
        OrganizationOrdersListView,
        OverdueOrdersView,
        EscalationView,
        EscalationsView,
        AreaSatisfactionView,
        OrganizationOrdersView,
        OrdersByOrganizationView
    ))
)]
pub struct Api;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/caseload", get(get_caseload))
        .route("/api/v1/caseload/overdue", get(get_overdue_visits))
        .route("/api/v1/visit-rate", get(get_visit_rate))
        .route("/api/v1/needs-ledger/{township}", get(get_needs_ledger))
        .route(
            "/api/v1/organizations/{id}/orders",
            get(get_organization_orders),
        )
        .route("/api/v1/needs/overdue", get(get_overdue_orders))
        .route("/api/v1/needs/escalations", get(get_escalations))
        .route("/api/v1/needs/satisfaction", get(get_satisfaction))
        .route(
            "/api/v1/needs/by-organization",
            get(get_orders_by_organization),
        )
}
