//! The audit trail (every event: who, in what role, for which organization,
//! when, why, under which command), the access log (every opening of a
//! case and of personal data) and the break-the-glass grants.
//!
//! Scope: the trail is filtered by the region of the record each event
//! concerns. The access log and the grants carry no region of their own; a
//! reader sees an entry when its case lies within their area or when the
//! user who opened it belongs to their area (someone of theirs looking
//! elsewhere). An empty scope (the whole country) sees everything.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::routing::get;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use shouwang_infrastructure::users::{User, break_glass_grants, list_users};
use shouwang_projections::audit::{
    AccessLogEntry, AccessLogFilter, AuditEntry, AuditFilter, access_log, audit_trail,
};
use utoipa::{IntoParams, OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::authz::{self, Operation};
use crate::consistency::{After, wait_for};
use crate::error::{ApiError, Problem};
use crate::extract::ApiQuery;
use crate::routes::case_files::{BreakGlassGrantView, case_region};
use crate::routes::ledgers::requested_area;
use crate::state::AppState;

/// The read model the trail comes from.
const AUDIT_TRAIL_PROJECTION: &str = "audit_trail";

const DEFAULT_LIMIT: u32 = 50;
/// The most rows one page may hold, and the most a scoped reader's page is
/// chosen from.
const MAX_LIMIT: u32 = 500;

fn page_size(limit: Option<u32>) -> u32 {
    limit.unwrap_or(DEFAULT_LIMIT).clamp(1, MAX_LIMIT)
}

// ---------------------------------------------------------------------------
// Views
// ---------------------------------------------------------------------------

/// One recorded event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditEntryView {
    pub position: i64,
    pub stream_type: String,
    pub stream_id: String,
    pub stream_version: u64,
    pub event_type: String,
    pub schema_version: i64,
    pub actor: Option<String>,
    pub role: Option<String>,
    pub organization: Option<String>,
    pub recorded_at: DateTime<Utc>,
    /// The reason given with the command, if any.
    pub reason: Option<String>,
    pub command_id: Option<String>,
    pub correlation_id: Option<String>,
    /// When the worker's device says it happened (offline recording).
    pub client_time: Option<DateTime<Utc>>,
    pub case_id: Option<String>,
    pub region_code: Option<String>,
}

impl From<AuditEntry> for AuditEntryView {
    fn from(entry: AuditEntry) -> Self {
        Self {
            position: entry.position,
            stream_type: entry.stream_type,
            stream_id: entry.stream_id,
            stream_version: entry.stream_version,
            event_type: entry.event_type,
            schema_version: entry.schema_version,
            actor: entry.actor,
            role: entry.role,
            organization: entry.organization,
            recorded_at: entry.recorded_at,
            reason: entry.reason,
            command_id: entry.command_id,
            correlation_id: entry.correlation_id,
            client_time: entry.client_time,
            case_id: entry.case_id,
            region_code: entry.region_code,
        }
    }
}

/// Events in position order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AuditTrailView {
    pub items: Vec<AuditEntryView>,
    /// Pass as `after_position` for the next page; absent on the last page.
    pub next_after_position: Option<i64>,
}

/// One opening of a case. `revealed` names the personal fields shown; it is
/// empty when the case file, its replay or a past state was opened without
/// them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccessLogEntryView {
    pub id: i64,
    pub accessed_at: DateTime<Utc>,
    pub actor: String,
    pub role: String,
    pub organization: Option<String>,
    pub case_id: String,
    pub reason: String,
    pub revealed: Vec<String>,
    /// The case version that was read.
    pub stream_version: u64,
    /// True when the person's data had been erased.
    pub erased: bool,
}

impl From<AccessLogEntry> for AccessLogEntryView {
    fn from(entry: AccessLogEntry) -> Self {
        Self {
            id: entry.id,
            accessed_at: entry.accessed_at,
            actor: entry.actor,
            role: entry.role,
            organization: entry.organization,
            case_id: entry.case_id,
            reason: entry.reason,
            revealed: entry.revealed,
            stream_version: entry.stream_version,
            erased: entry.erased,
        }
    }
}

/// Openings, oldest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct AccessLogView {
    pub items: Vec<AccessLogEntryView>,
    /// True when more entries may follow: ask again with `from` set to the
    /// last `accessed_at` (entries at that instant repeat).
    pub more: bool,
}

/// Break-the-glass grants, newest first.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, ToSchema)]
pub struct BreakGlassListView {
    pub items: Vec<BreakGlassGrantView>,
}

// ---------------------------------------------------------------------------
// Requests
// ---------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Username of the one who recorded the event.
    pub actor: Option<String>,
    /// Events of the case and of the needs raised for it.
    pub case_id: Option<Uuid>,
    /// Events of one record of any type.
    pub stream_id: Option<String>,
    /// The organization the actor acted for.
    pub organization: Option<String>,
    /// e.g. `VisitRecorded`.
    pub event_type: Option<String>,
    /// A region code prefix within your scope; default: your whole scope.
    /// A transfer matches both its regions.
    pub region: Option<String>,
    /// Recorded at or after (RFC 3339; write `+` as `%2B`).
    pub from: Option<DateTime<Utc>>,
    /// Recorded at or before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
    /// Only events after this global position (paging).
    pub after_position: Option<i64>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AccessLogQuery {
    pub case_id: Option<Uuid>,
    /// Username of the reader.
    pub actor: Option<String>,
    /// Opened at or after (RFC 3339; write `+` as `%2B`).
    pub from: Option<DateTime<Utc>>,
    /// Opened at or before (RFC 3339).
    pub to: Option<DateTime<Utc>>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Default, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct BreakGlassQuery {
    pub case_id: Option<Uuid>,
    /// At most this many (default 50, at most 500).
    pub limit: Option<u32>,
}

// ---------------------------------------------------------------------------
// Who sees which access-log entry and grant
// ---------------------------------------------------------------------------

/// Decides, for one reader, which entries about a case by a user are in
/// their area; remembers the regions it looked up.
struct AreaOfReader<'a> {
    state: &'a AppState,
    scope: &'a str,
    /// username → region scope, of every user.
    user_scopes: HashMap<String, String>,
    case_in_area: HashMap<Uuid, bool>,
}

impl<'a> AreaOfReader<'a> {
    async fn of(state: &'a AppState, reader: &'a User) -> Result<Self, ApiError> {
        let user_scopes = if reader.region_scope.is_empty() {
            HashMap::new()
        } else {
            list_users(state.db())
                .await?
                .into_iter()
                .map(|user| (user.username, user.region_scope))
                .collect()
        };
        Ok(Self {
            state,
            scope: &reader.region_scope,
            user_scopes,
            case_in_area: HashMap::new(),
        })
    }

    /// Everything is in the area of the whole country; a scoped reader
    /// has to look entries up one by one.
    fn sees_everything(&self) -> bool {
        self.scope.is_empty()
    }

    async fn shows(&mut self, case_id: &str, actor: &str) -> Result<bool, ApiError> {
        if self.sees_everything() {
            return Ok(true);
        }
        let actor_in_area = self
            .user_scopes
            .get(actor)
            .is_some_and(|scope| scope.starts_with(self.scope));
        if actor_in_area {
            return Ok(true);
        }
        let Ok(case_id) = Uuid::parse_str(case_id) else {
            return Ok(false);
        };
        if let Some(known) = self.case_in_area.get(&case_id) {
            return Ok(*known);
        }
        let in_area = case_region(self.state, case_id)
            .await?
            .is_some_and(|region| region.starts_with(self.scope));
        self.case_in_area.insert(case_id, in_area);
        Ok(in_area)
    }
}

// ---------------------------------------------------------------------------
// Handlers
// ---------------------------------------------------------------------------

/// The audit trail: every recorded event within your scope, in position
/// order, filtered by actor, case, record, organization, event type,
/// region and time. Page with `after_position`.
#[utoipa::path(get, path = "/api/v1/audit", tag = "audit",
    security(("bearer" = [])),
    params(After, AuditQuery),
    responses(
        (status = 200, body = AuditTrailView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 503, body = Problem, content_type = "application/problem+json")))]
pub async fn get_audit_trail(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(after): ApiQuery<After>,
    ApiQuery(query): ApiQuery<AuditQuery>,
) -> Result<Json<AuditTrailView>, ApiError> {
    let region = requested_area(
        &user,
        Operation::ReadAudit,
        query.region.as_deref(),
        "region",
    )?
    .map(String::from);
    wait_for(&state, after, &[AUDIT_TRAIL_PROJECTION]).await?;
    let limit = page_size(query.limit);
    let entries = audit_trail(
        state.db(),
        &AuditFilter {
            actor: query.actor,
            case_id: query.case_id,
            stream_id: query.stream_id,
            organization: query.organization,
            event_type: query.event_type,
            region_prefix: region,
            from: query.from,
            to: query.to,
            limit: Some(limit),
            after_position: query.after_position,
        },
    )
    .await?;
    let full_page = entries.len() == limit as usize;
    let next_after_position = entries
        .last()
        .map(|entry| entry.position)
        .filter(|_| full_page);
    Ok(Json(AuditTrailView {
        items: entries.into_iter().map(Into::into).collect(),
        next_after_position,
    }))
}

/// The access log: who opened which case (and which personal fields),
/// when and why, oldest first. Entries whose case lies in your area or
/// whose reader belongs to it.
#[utoipa::path(get, path = "/api/v1/audit/access-log", tag = "audit",
    security(("bearer" = [])),
    params(AccessLogQuery),
    responses(
        (status = 200, body = AccessLogView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn get_access_log(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<AccessLogQuery>,
) -> Result<Json<AccessLogView>, ApiError> {
    authz::require(&user, Operation::ReadAudit)?;
    let limit = page_size(query.limit);
    let mut area = AreaOfReader::of(&state, &user).await?;
    // A scoped reader's page is chosen from the largest page the log gives,
    // so that entries outside their area do not crowd theirs out.
    let scanned = if area.sees_everything() {
        limit
    } else {
        MAX_LIMIT
    };
    let entries = access_log(
        state.db(),
        &AccessLogFilter {
            case_id: query.case_id,
            actor: query.actor,
            from: query.from,
            to: query.to,
            limit: Some(scanned),
        },
    )
    .await?;
    let more = entries.len() == scanned as usize;
    let mut items = Vec::new();
    for entry in entries {
        if items.len() == limit as usize {
            return Ok(Json(AccessLogView { items, more: true }));
        }
        if area.shows(&entry.case_id, &entry.actor).await? {
            items.push(entry.into());
        }
    }
    Ok(Json(AccessLogView { items, more }))
}

/// Break-the-glass grants, newest first, live or expired: who opened which
/// case outside their scope, why, and until when. Grants whose case lies in
/// your area or whose holder belongs to it.
#[utoipa::path(get, path = "/api/v1/audit/break-glass", tag = "audit",
    security(("bearer" = [])),
    params(BreakGlassQuery),
    responses(
        (status = 200, body = BreakGlassListView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn get_break_glass_grants(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiQuery(query): ApiQuery<BreakGlassQuery>,
) -> Result<Json<BreakGlassListView>, ApiError> {
    authz::require(&user, Operation::ReadAudit)?;
    let limit = page_size(query.limit);
    let mut area = AreaOfReader::of(&state, &user).await?;
    let scanned = if area.sees_everything() {
        limit
    } else {
        MAX_LIMIT
    };
    let grants = break_glass_grants(state.db(), query.case_id, i64::from(scanned)).await?;
    let now = Utc::now();
    let mut items = Vec::new();
    for grant in grants {
        if items.len() == limit as usize {
            break;
        }
        if area
            .shows(&grant.case_id.to_string(), &grant.username)
            .await?
        {
            items.push(BreakGlassGrantView::of(grant, now)?);
        }
    }
    Ok(Json(BreakGlassListView { items }))
}

#[derive(Debug, OpenApi)]
#[openapi(
    paths(get_audit_trail, get_access_log, get_break_glass_grants),
    components(schemas(
        AuditTrailView,
        AuditEntryView,
        AccessLogView,
        AccessLogEntryView,
        BreakGlassListView
    ))
)]
pub struct Api;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/audit", get(get_audit_trail))
        .route("/api/v1/audit/access-log", get(get_access_log))
        .route("/api/v1/audit/break-glass", get(get_break_glass_grants))
}
