//! User administration over HTTP (admins only); the first admin is created
//! with `shouwang users add`.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::{get, post};
use serde::Deserialize;
use shouwang_domain::vocabulary::UserRole;
use shouwang_infrastructure::users::{NewUser, add_user, disable_user, list_users, reset_password};
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::CurrentUser;
use crate::authz::{self, Operation};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::routes::auth::UserView;
use crate::state::AppState;

#[derive(Debug, OpenApi)]
#[openapi(
    paths(list, add, disable, set_password),
    components(schemas(NewUserRequest, PasswordRequest))
)]
pub struct Api;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/users", get(list).post(add))
        .route("/api/v1/users/{username}/disable", post(disable))
        .route("/api/v1/users/{username}/password", post(set_password))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct NewUserRequest {
    pub username: String,
    pub display_name: String,
    /// social_worker, supervisor, official, auditor or admin.
    pub role: UserRole,
    /// Region-code prefix ("" = whole country).
    #[serde(default)]
    pub region_scope: String,
    pub organization_id: Option<Uuid>,
    /// At least 10 characters.
    pub password: String,
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct PasswordRequest {
    /// At least 10 characters. Every session of the user ends.
    pub password: String,
}

/// List users.
#[utoipa::path(get, path = "/api/v1/users", tag = "users", security(("bearer" = [])), responses(
    (status = 200, body = [UserView]),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json")))]
pub async fn list(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
) -> Result<Json<Vec<UserView>>, ApiError> {
    authz::require(&user, Operation::ManageUsers)?;
    Ok(Json(
        list_users(state.db())
            .await?
            .iter()
            .map(UserView::from)
            .collect(),
    ))
}

/// Add a user.
#[utoipa::path(post, path = "/api/v1/users", tag = "users", security(("bearer" = [])), request_body = NewUserRequest, responses(
    (status = 201, body = UserView),
    (status = 400, body = Problem, content_type = "application/problem+json"),
    (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn add(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiJson(request): ApiJson<NewUserRequest>,
) -> Result<(StatusCode, Json<UserView>), ApiError> {
    authz::require(&user, Operation::ManageUsers)?;
    let added = add_user(
        state.db(),
        NewUser {
            username: request.username,
            display_name: request.display_name,
            role: request.role,
            region_scope: request.region_scope,
            organization_id: request.organization_id,
            password: request.password,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(UserView::from(&added))))
}

/// Disable a user; all their sessions end.
#[utoipa::path(post, path = "/api/v1/users/{username}/disable", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path)), responses(
    (status = 204), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn disable(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(username): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    authz::require(&user, Operation::ManageUsers)?;
    disable_user(state.db(), &username)
        .await
        .map_err(not_found_as_404)?;
    Ok(StatusCode::NO_CONTENT)
}

/// Set a user's password; all their sessions end.
#[utoipa::path(post, path = "/api/v1/users/{username}/password", tag = "users", security(("bearer" = [])),
    params(("username" = String, Path)), request_body = PasswordRequest, responses(
    (status = 204), (status = 403, body = Problem, content_type = "application/problem+json"),
    (status = 404, body = Problem, content_type = "application/problem+json"),
    (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn set_password(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(username): ApiPath<String>,
    ApiJson(request): ApiJson<PasswordRequest>,
) -> Result<StatusCode, ApiError> {
    authz::require(&user, Operation::ManageUsers)?;
    reset_password(state.db(), &username, &request.password)
        .await
        .map_err(not_found_as_404)?;
    Ok(StatusCode::NO_CONTENT)
}

fn not_found_as_404(error: shouwang_infrastructure::users::UserError) -> ApiError {
    match error {
        shouwang_infrastructure::users::UserError::NotFound(_) => ApiError::not_found("该用户"),
        other => other.into(),
    }
}
