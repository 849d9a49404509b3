//! Login, logout and "who am I".

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde::{Deserialize, Serialize};
use shouwang_infrastructure::users::{User, login, revoke_session};
use utoipa::{OpenApi, ToSchema};

use crate::auth::{CurrentUser, bearer_token};
use crate::error::{ApiError, Problem};
use crate::extract::ApiJson;
use crate::state::AppState;

#[derive(Debug, OpenApi)]
#[openapi(
    paths(login_handler, logout, me),
    components(schemas(LoginRequest, LoginResponse, UserView))
)]
pub struct AuthApi;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/auth/login", post(login_handler))
        .route("/api/v1/auth/logout", post(logout))
        .route("/api/v1/auth/me", get(me))
}

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    pub username: String,
    pub password: String,
}

/// A user as shown through the API.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub id: String,
    pub username: String,
    pub display_name: String,
    /// social_worker, supervisor, official, auditor or admin.
    pub role: String,
    pub role_label: String,
    /// Region-code prefix the user works in ("" = whole country).
    pub region_scope: String,
    pub organization_id: Option<String>,
}

impl From<&User> for UserView {
    fn from(user: &User) -> Self {
        Self {
            id: user.id.to_string(),
            username: user.username.clone(),
            display_name: user.display_name.clone(),
            role: user.role.code().to_owned(),
            role_label: user.role.label_zh().to_owned(),
            region_scope: user.region_scope.clone(),
            organization_id: user.organization_id.map(|o| o.to_string()),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct LoginResponse {
    /// Send as `Authorization: Bearer <token>`.
    pub token: String,
    pub expires_at: String,
    pub user: UserView,
}

/// Log in with username and password; returns a session token.
#[utoipa::path(post, path = "/api/v1/auth/login", tag = "auth", request_body = LoginRequest, responses(
    (status = 200, body = LoginResponse),
    (status = 401, body = Problem, content_type = "application/problem+json"),
    (status = 429, body = Problem, content_type = "application/problem+json")))]
pub async fn login_handler(
    State(state): State<AppState>,
    ApiJson(request): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let session = login(
        state.db(),
        request.username.trim(),
        &request.password,
        &state.settings().sessions,
    )
    .await?;
    Ok(Json(LoginResponse {
        token: session.token,
        expires_at: shouwang_infrastructure::store::format_instant(session.expires_at),
        user: UserView::from(&session.user),
    }))
}

/// End the current session.
#[utoipa::path(post, path = "/api/v1/auth/logout", tag = "auth", security(("bearer" = [])), responses(
    (status = 204), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn logout(
    State(state): State<AppState>,
    CurrentUser(_user): CurrentUser,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    if let Some(token) = bearer_token(&headers) {
        revoke_session(state.db(), token).await?;
    }
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in user.
#[utoipa::path(get, path = "/api/v1/auth/me", tag = "auth", security(("bearer" = [])), responses(
    (status = 200, body = UserView), (status = 401, body = Problem, content_type = "application/problem+json")))]
pub async fn me(CurrentUser(user): CurrentUser) -> Json<UserView> {
    Json(UserView::from(&user))
}
