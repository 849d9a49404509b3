//! Volunteers under 积分制管理: registration with an organization, points
//! credited for verified service, points redeemed for rewards. A volunteer
//! belongs to the area of the organization they serve with, so that
//! organization's region decides who may manage and see them.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use serde::Serialize;
use shouwang_domain::organization::OrganizationError;
use shouwang_domain::vocabulary::VolunteerStatus;
use shouwang_domain::volunteer::{
    CreditPoints, DeactivateVolunteer, ReactivateVolunteer, RedeemPoints, RegisterVolunteer,
    Volunteer, VolunteerAction, VolunteerCommand,
};
use shouwang_infrastructure::users::User;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::{CurrentUser, IdempotencyKey, command_metadata};
use crate::authz::{self, Operation};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::receipt::WriteReceipt;
use crate::routes::organizations::{
    creation_status, load_organization, organization_region, stream_id_for_creation,
};
use crate::state::AppState;

/// The region of the organization a volunteer registers or serves with; a
/// volunteer cannot be registered with an organization that is not.
async fn region_of_organization(
    state: &AppState,
    organization_id: Uuid,
) -> Result<String, ApiError> {
    match load_organization(state, organization_id).await {
        Ok(organization) => Ok(organization_region(&organization)),
        Err(error) if error.status() == StatusCode::NOT_FOUND => {
            let refusal = OrganizationError::NotRegistered;
            Err(ApiError::refused(refusal.code(), refusal.to_string())
                .with_field("organization_id"))
        }
        Err(error) => Err(error),
    }
}

/// Loads a registered volunteer (404 otherwise) with the region of their
/// organization.
async fn load_volunteer(
    state: &AppState,
    volunteer_id: Uuid,
) -> Result<(Volunteer, String), ApiError> {
    let stream_type = state.store().stream_type(&volunteer_id.to_string()).await?;
    if stream_type.as_deref() != Some(Volunteer::TYPE) {
        return Err(ApiError::not_found("该志愿者"));
    }
    let volunteer = state
        .app()
        .volunteers
        .event_store()
        .load_for_decision(&volunteer_id.to_string())
        .await?
        .aggregate;
    let region = match volunteer.organization_id() {
        Some(organization_id) => {
            organization_region(&load_organization(state, organization_id).await?)
        }
        None => String::new(),
    };
    Ok((volunteer, region))
}

async fn run(
    state: &AppState,
    user: &User,
    key: IdempotencyKey,
    volunteer_id: Uuid,
    action: VolunteerAction,
) -> Result<Json<WriteReceipt>, ApiError> {
    authz::require(user, Operation::ManageVolunteers)?;
    let (_, region) = load_volunteer(state, volunteer_id).await?;
    authz::require_in_scope(user, Operation::ManageVolunteers, &region)?;
    let receipt = state
        .app()
        .volunteers
        .execute(
            &volunteer_id.to_string(),
            VolunteerCommand {
                today: state.today(),
                action,
            },
            command_metadata(user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    Ok(Json(receipt.into()))
}

/// Register a volunteer (志愿者注册) with an organization in the user's
/// area. A retry with the same `Idempotency-Key` returns the same volunteer.
#[utoipa::path(post, path = "/api/v1/volunteers", tag = "volunteers",
    request_body = RegisterVolunteer,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID; a retry with the same key writes nothing twice")),
    responses(
        (status = 201, body = WriteReceipt),
        (status = 200, body = WriteReceipt, description = "A retry answered from the first result"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn register_volunteer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    key: IdempotencyKey,
    ApiJson(register): ApiJson<RegisterVolunteer>,
) -> Result<(StatusCode, Json<WriteReceipt>), ApiError> {
    authz::require(&user, Operation::ManageVolunteers)?;
    let region = region_of_organization(&state, register.organization_id).await?;
    authz::require_in_scope(&user, Operation::ManageVolunteers, &region)?;
    let volunteer_id = stream_id_for_creation(&state, key).await?;
    let receipt = state
        .app()
        .volunteers
        .execute(
            &volunteer_id.to_string(),
            VolunteerCommand::new(state.today(), register),
            command_metadata(&user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    let receipt = WriteReceipt::from(receipt);
    Ok((creation_status(&receipt), Json(receipt)))
}

/// A volunteer's record: status and points (no name or phone: those stay in
/// the sealed events).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VolunteerView {
    pub id: Uuid,
    /// The volunteer's stream version.
    pub version: u64,
    pub status: VolunteerStatus,
    pub organization_id: Option<Uuid>,
    pub registered_on: Option<NaiveDate>,
    /// Points that can still be redeemed.
    pub balance: u64,
    /// All points ever credited.
    pub points_earned: u64,
    pub points_redeemed: u64,
    /// Total verified service time, in minutes.
    pub verified_minutes: u64,
}

/// A volunteer's points balance, earned and redeemed points and status.
#[utoipa::path(get, path = "/api/v1/volunteers/{id}", tag = "volunteers",
    security(("bearer" = [])),
    params(("id" = Uuid, Path, description = "志愿者编号")),
    responses(
        (status = 200, body = VolunteerView),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_volunteer(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(volunteer_id): ApiPath<Uuid>,
) -> Result<Json<VolunteerView>, ApiError> {
    authz::require(&user, Operation::ReadOrganizations)?;
    let (volunteer, region) = load_volunteer(&state, volunteer_id).await?;
    let organization_id = volunteer.organization_id().unwrap_or_default();
    authz::require_organization_visible(&user, organization_id, &region)?;
    let status = volunteer
        .status()
        .ok_or_else(|| ApiError::not_found("该志愿者"))?;
    Ok(Json(VolunteerView {
        id: volunteer_id,
        version: volunteer.version(),
        status,
        organization_id: volunteer.organization_id(),
        registered_on: volunteer.registered_on(),
        balance: volunteer.balance(),
        points_earned: volunteer.points_earned(),
        points_redeemed: volunteer.points_redeemed(),
        verified_minutes: volunteer.verified_minutes(),
    }))
}

macro_rules! volunteer_commands {
    ($($handler:ident: $path:literal, $body:ident, $summary:literal;)+) => {
        $(
            #[doc = $summary]
            #[utoipa::path(post, path = $path, tag = "volunteers", request_body = $body,
                security(("bearer" = [])),
                params(
                    ("id" = Uuid, Path, description = "志愿者编号"),
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
                ApiPath(volunteer_id): ApiPath<Uuid>,
                ApiJson(body): ApiJson<$body>,
            ) -> Result<Json<WriteReceipt>, ApiError> {
                run(&state, &user, key, volunteer_id, VolunteerAction::$body(body)).await
            }
        )+

        #[derive(Debug, OpenApi)]
        #[openapi(
            paths(register_volunteer, get_volunteer, $($handler),+),
            components(schemas(VolunteerView))
        )]
        pub struct Api;

        pub fn routes() -> axum::Router<AppState> {
            axum::Router::new()
                .route("/api/v1/volunteers", post(register_volunteer))
                .route("/api/v1/volunteers/{id}", get(get_volunteer))
                $(.route($path, post($handler)))+
        }
    };
}

volunteer_commands! {
    credit_points: "/api/v1/volunteers/{id}/credits", CreditPoints, "Credit points for verified service time (积分); each activity, service or need is credited once.";
    redeem_points: "/api/v1/volunteers/{id}/redemptions", RedeemPoints, "Redeem points for a reward (积分兑换); never more than the balance.";
    deactivate_volunteer: "/api/v1/volunteers/{id}/deactivate", DeactivateVolunteer, "Deactivate the volunteer (停用).";
    reactivate_volunteer: "/api/v1/volunteers/{id}/reactivate", ReactivateVolunteer, "Reactivate the volunteer (重新启用).";
}
