//! Liveness, readiness and metrics.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use serde::Serialize;
use utoipa::{OpenApi, ToSchema};

use crate::state::AppState;

#[derive(Debug, OpenApi)]
#[openapi(paths(healthz, readyz, metrics))]
pub struct HealthApi;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/healthz", get(healthz))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    pub status: &'static str,
}

/// The process is up.
#[utoipa::path(get, path = "/healthz", tag = "operations", responses((status = 200, body = Health)))]
pub async fn healthz() -> Json<Health> {
    Json(Health { status: "ok" })
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    pub ready: bool,
    pub database: bool,
    pub migrations: bool,
    /// Read models stopped by an event they could not apply.
    pub stopped_projections: Vec<String>,
}

/// Ready to serve: database reachable, migrations applied, no read model stopped.
#[utoipa::path(get, path = "/readyz", tag = "operations", responses(
    (status = 200, body = Readiness), (status = 503, body = Readiness)))]
pub async fn readyz(State(state): State<AppState>) -> Response {
    let migrations = state.db().migrations_applied().await;
    let database = migrations.is_ok();
    let migrations = migrations.unwrap_or(false);
    let stopped_projections: Vec<String> = match state.projector().status().await {
        Ok(statuses) => statuses
            .into_iter()
            .filter(|s| s.error.is_some())
            .map(|s| s.name)
            .collect(),
        Err(_) => Vec::new(),
    };
    let ready = database && migrations && stopped_projections.is_empty();
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        status,
        Json(Readiness {
            ready,
            database,
            migrations,
            stopped_projections,
        }),
    )
        .into_response()
}

/// Prometheus metrics: request counts and latencies, events appended, projection lag.
#[utoipa::path(get, path = "/metrics", tag = "operations", responses((status = 200, content_type = "text/plain", body = String)))]
pub async fn metrics(State(state): State<AppState>) -> Response {
    let last = state.store().last_position().await.unwrap_or_default();
    let statuses = state.projector().status().await.unwrap_or_default();
    let lags: Vec<(String, i64)> = statuses
        .iter()
        .map(|s| (s.name.clone(), (last - s.cursor.position).max(0)))
        .collect();
    let stopped: Vec<String> = statuses
        .iter()
        .filter(|s| s.error.is_some())
        .map(|s| s.name.clone())
        .collect();
    let mut response = state.metrics().render(&lags, &stopped).into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    response
}
