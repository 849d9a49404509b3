//! Who is calling: the bearer session token resolved to a user, and the
//! command metadata built from that user and the request.

use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use shouwang_infrastructure::CommandMetadata;
use shouwang_infrastructure::users::{User, session_user};
use uuid::Uuid;

use crate::error::{ApiError, REQUEST_ID};
use crate::state::AppState;

/// The authenticated user of a request; rejects with 401 otherwise.
#[derive(Debug, Clone)]
pub struct CurrentUser(pub User);

/// The bearer token of a request, if any.
pub fn bearer_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(axum::http::header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|token| !token.is_empty())
}

impl FromRequestParts<AppState> for CurrentUser {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let token = bearer_token(&parts.headers).ok_or_else(ApiError::unauthenticated)?;
        match session_user(state.db(), token).await? {
            Some(user) => Ok(CurrentUser(user)),
            None => Err(ApiError::unauthenticated()),
        }
    }
}

/// The client's command id from the `Idempotency-Key` header: a retried
/// request with the same key returns the first response and writes nothing.
#[derive(Debug, Clone, Copy)]
pub struct IdempotencyKey(pub Option<Uuid>);

impl<S: Send + Sync> FromRequestParts<S> for IdempotencyKey {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        match parts.headers.get("idempotency-key") {
            None => Ok(IdempotencyKey(None)),
            Some(value) => value
                .to_str()
                .ok()
                .and_then(|text| Uuid::parse_str(text.trim()).ok())
                .map(|key| IdempotencyKey(Some(key)))
                .ok_or_else(|| {
                    ApiError::bad_request(
                        "invalid_idempotency_key",
                        "Idempotency-Key 必须是一个 UUID（建议每次新操作生成一个，重试时沿用）",
                    )
                    .with_field("Idempotency-Key")
                }),
        }
    }
}

/// Metadata stored with every event the command writes.
pub fn command_metadata(
    user: &User,
    key: IdempotencyKey,
    reason: Option<String>,
) -> CommandMetadata {
    let command_id = key.0.unwrap_or_else(Uuid::now_v7);
    let correlation_id = REQUEST_ID
        .try_with(|id| Uuid::parse_str(id).ok())
        .ok()
        .flatten()
        .unwrap_or(command_id);
    CommandMetadata {
        actor: user.username.clone(),
        role: user.role.code().to_owned(),
        organization: user.organization_id.map(|o| o.to_string()),
        command_id,
        correlation_id,
        reason,
        client_time: None,
    }
}
