//! Social organizations (社会组织) and township social-work stations (社工站):
//! registration, members, liaison officers (联络员), the supply list
//! (供给清单), suspension. Officials manage the organizations registered in
//! their area; an organization's state is read straight from its aggregate,
//! which is always current, so no `?after=` is needed.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use serde::Serialize;
use shouwang_domain::codes::RegionPrefix;
use shouwang_domain::organization::{
    AddMember, AddSupplyEntry, DesignateLiaison, Organization, OrganizationAction,
    OrganizationCommand, ReactivateOrganization, RegisterOrganization, ReleaseLiaison,
    RemoveMember, RemoveSupplyEntry, SuspendOrganization,
};
use shouwang_domain::vocabulary::{
    MemberRole, OrganizationKind, OrganizationStatus, RegionLevel, ServiceType,
};
use shouwang_infrastructure::users::User;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::{CurrentUser, IdempotencyKey, command_metadata};
use crate::authz::{self, Operation};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::receipt::WriteReceipt;
use crate::state::AppState;

/// The stream id a creating command writes to: a retry with the same
/// `Idempotency-Key` goes to the stream its first attempt created, so the
/// command store answers it with the first receipt instead of creating a
/// second record.
pub(crate) async fn stream_id_for_creation(
    state: &AppState,
    key: IdempotencyKey,
) -> Result<Uuid, ApiError> {
    if let Some(command_id) = key.0
        && let Some(record) = state
            .store()
            .command_record(&command_id.to_string())
            .await?
        && let Ok(stream_id) = Uuid::parse_str(&record.stream_id)
    {
        return Ok(stream_id);
    }
    Ok(Uuid::now_v7())
}

/// 201 for a new record, 200 when a retry is answered from the first result.
pub(crate) fn creation_status(receipt: &WriteReceipt) -> StatusCode {
    if receipt.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    }
}

/// Loads a registered organization: 404 when there is none with this id.
pub(crate) async fn load_organization(
    state: &AppState,
    organization_id: Uuid,
) -> Result<Organization, ApiError> {
    let stream_type = state
        .store()
        .stream_type(&organization_id.to_string())
        .await?;
    if stream_type.as_deref() != Some(Organization::TYPE) {
        return Err(ApiError::not_found("该社会组织"));
    }
    Ok(state.app().organization(organization_id).await?)
}

/// The area an organization is registered in, as a region prefix.
pub(crate) fn organization_region(organization: &Organization) -> String {
    organization
        .region()
        .map(|region| region.as_str().to_owned())
        .unwrap_or_default()
}

async fn run(
    state: &AppState,
    user: &User,
    key: IdempotencyKey,
    organization_id: Uuid,
    action: OrganizationAction,
) -> Result<Json<WriteReceipt>, ApiError> {
    authz::require(user, Operation::ManageOrganizations)?;
    let organization = load_organization(state, organization_id).await?;
    authz::require_in_scope(
        user,
        Operation::ManageOrganizations,
        &organization_region(&organization),
    )?;
    let receipt = state
        .app()
        .organizations
        .execute(
            &organization_id.to_string(),
            OrganizationCommand {
                today: state.today(),
                action,
            },
            command_metadata(user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    Ok(Json(receipt.into()))
}

/// Register an organization (登记). Its region must lie within the
/// official's area. A retry with the same `Idempotency-Key` returns the same
/// organization.
#[utoipa::path(post, path = "/api/v1/organizations", tag = "organizations",
    request_body = RegisterOrganization,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID; a retry with the same key writes nothing twice")),
    responses(
        (status = 201, body = WriteReceipt),
        (status = 200, body = WriteReceipt, description = "A retry answered from the first result"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn register_organization(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    key: IdempotencyKey,
    ApiJson(register): ApiJson<RegisterOrganization>,
) -> Result<(StatusCode, Json<WriteReceipt>), ApiError> {
    match RegionPrefix::parse(&register.region_code) {
        Ok(region) => {
            authz::require_in_scope(&user, Operation::ManageOrganizations, region.as_str())?
        }
        // A code that is no region at all lies in nobody's area; the
        // aggregate refuses it with a message that says what is wrong.
        Err(_) => authz::require(&user, Operation::ManageOrganizations)?,
    }
    let organization_id = stream_id_for_creation(&state, key).await?;
    let receipt = state
        .app()
        .organizations
        .execute(
            &organization_id.to_string(),
            OrganizationCommand::new(state.today(), register),
            command_metadata(&user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    let receipt = WriteReceipt::from(receipt);
    Ok((creation_status(&receipt), Json(receipt)))
}

/// A member of an organization, as the aggregate knows them (names are kept
/// in the events, not in the state).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct MemberView {
    pub member_id: Uuid,
    pub role: MemberRole,
    pub joined_on: NaiveDate,
    /// True when the member is a liaison officer (联络员).
    pub liaison: bool,
}

/// A service on the supply list (供给清单) and the areas it is offered in.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct SupplyView {
    pub service_type: ServiceType,
    /// 区划代码 prefixes.
    pub areas: Vec<String>,
}

/// An organization as it stands now.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct OrganizationView {
    pub id: Uuid,
    /// The organization's stream version.
    pub version: u64,
    pub status: OrganizationStatus,
    pub kind: Option<OrganizationKind>,
    /// 登记层级.
    pub level: Option<RegionLevel>,
    /// The 区划代码 prefix of the area it is registered in.
    pub region: String,
    /// 枢纽型社会组织.
    pub hub: bool,
    pub registered_on: Option<NaiveDate>,
    /// Set while the organization is suspended.
    pub suspended_on: Option<NaiveDate>,
    pub members: Vec<MemberView>,
    /// Ids of the liaison officers.
    pub liaisons: Vec<Uuid>,
    pub supply: Vec<SupplyView>,
}

impl OrganizationView {
    fn of(id: Uuid, organization: &Organization, status: OrganizationStatus) -> Self {
        Self {
            id,
            version: organization.version(),
            status,
            kind: organization.kind(),
            level: organization.level(),
            region: organization_region(organization),
            hub: organization.is_hub(),
            registered_on: organization.registered_on(),
            suspended_on: organization.suspended_on(),
            members: organization
                .members()
                .iter()
                .map(|(member_id, membership)| MemberView {
                    member_id: *member_id,
                    role: membership.role,
                    joined_on: membership.joined_on,
                    liaison: organization.is_liaison(*member_id),
                })
                .collect(),
            liaisons: organization.liaison_ids().collect(),
            supply: organization
                .supply()
                .iter()
                .map(|(service_type, areas)| SupplyView {
                    service_type: *service_type,
                    areas: areas.iter().map(|area| area.as_str().to_owned()).collect(),
                })
                .collect(),
        }
    }
}

/// An organization's status, registration, members, liaison officers and
/// supply list. Visible to its own members and to users whose area it lies
/// in or serves.
#[utoipa::path(get, path = "/api/v1/organizations/{id}", tag = "organizations",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "社会组织编号")),
    responses(
        (status = 200, body = OrganizationView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_organization(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(organization_id): ApiPath<Uuid>,
) -> Result<Json<OrganizationView>, ApiError> {
    authz::require(&user, Operation::ReadOrganizations)?;
    let organization = load_organization(&state, organization_id).await?;
    authz::require_organization_visible(
        &user,
        organization_id,
        &organization_region(&organization),
    )?;
    let status = organization
        .status()
        .ok_or_else(|| ApiError::not_found("该社会组织"))?;
    Ok(Json(OrganizationView::of(
        organization_id,
        &organization,
        status,
    )))
}

macro_rules! organization_commands {
    ($($handler:ident: $path:literal, $body:ident, $summary:literal;)+) => {
        $(
            #[doc = $summary]
            #[utoipa::path(post, path = $path, tag = "organizations", request_body = $body,
                security(("bearer" = [])),
                params(
                    ("id" = Uuid, Path, description = "社会组织编号"),
                    ("Idempotency-Key" = Option<String>, Header, description = "UUID; a retry with the same key writes nothing twice")),
                responses(
                    (status = 200, body = WriteReceipt),
                    (status = 400, body = Problem, content_type = "application/problem+json"),
                    (status = 401, body = Problem, content_type = "application/problem+json"),
                    (status = 403, body = Problem, content_type = "application/problem+json"),
                    (status = 404, body = Problem, content_type = "application/problem+json"),
                    (status = 409, body = Problem, content_type = "application/problem+json"),
                    (status = 422, body = Problem, content_type = "application/problem+json")))]
            pub async fn $handler(
                State(state): State<AppState>,
                CurrentUser(user): CurrentUser,
                key: IdempotencyKey,
                ApiPath(organization_id): ApiPath<Uuid>,
                ApiJson(body): ApiJson<$body>,
            ) -> Result<Json<WriteReceipt>, ApiError> {
                run(&state, &user, key, organization_id, OrganizationAction::$body(body)).await
            }
        )+

        #[derive(Debug, OpenApi)]
        #[openapi(
            paths(register_organization, get_organization, $($handler),+),
            components(schemas(OrganizationView, MemberView, SupplyView))
        )]
        pub struct Api;

        pub fn routes() -> axum::Router<AppState> {
            axum::Router::new()
                .route("/api/v1/organizations", post(register_organization))
                .route("/api/v1/organizations/{id}", get(get_organization))
                $(.route($path, post($handler)))+
        }
    };
}

organization_commands! {
    add_member: "/api/v1/organizations/{id}/members", AddMember, "Add a member: a social worker, volunteer or staff (成员加入).";
    remove_member: "/api/v1/organizations/{id}/members/removal", RemoveMember, "A member leaves the organization (成员退出).";
    designate_liaison: "/api/v1/organizations/{id}/liaisons", DesignateLiaison, "Designate a member as liaison officer (明确联络员).";
    release_liaison: "/api/v1/organizations/{id}/liaisons/release", ReleaseLiaison, "A liaison officer steps down and stays a member.";
    add_supply_entry: "/api/v1/organizations/{id}/supply", AddSupplyEntry, "Add a service to the supply list, with its areas (供给清单).";
    remove_supply_entry: "/api/v1/organizations/{id}/supply/removal", RemoveSupplyEntry, "Take a service off the supply list.";
    suspend_organization: "/api/v1/organizations/{id}/suspend", SuspendOrganization, "Suspend the organization (暂停): it is dispatched no needs.";
    reactivate_organization: "/api/v1/organizations/{id}/reactivate", ReactivateOrganization, "End a suspension (恢复).";
}
