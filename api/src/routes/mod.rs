//! The router: every endpoint group, the API document and page, and the
//! middleware that gives each request an id, a log line and metrics.

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, Method, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use utoipa::OpenApi;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};

use crate::error::{ApiError, REQUEST_ID};
use crate::state::AppState;

pub mod activities;
pub mod audit;
pub mod auth;
pub mod case_files;
pub mod cases;
pub mod health;
pub mod ledgers;
pub mod needs;
pub mod organizations;
pub mod reports;
pub mod users;
pub mod volunteers;

#[derive(Debug, OpenApi)]
#[openapi(
    info(
        title = "守望 shouwang API",
        description = "困难群众关爱服务“一人一档”个案管理系统的接口。所有错误都是 application/problem+json，带稳定的 code 和中文 detail。写操作可带 Idempotency-Key（UUID）以安全重试；查询可带 ?after=POSITION 以读到自己刚写入的数据。",
        license(name = "Apache-2.0")
    ),
    components(schemas(crate::error::Problem, crate::receipt::WriteReceipt)),
    tags(
        (name = "auth", description = "登录与会话"),
        (name = "cases", description = "个案（一人一档）指令"),
        (name = "case_files", description = "个案档案、时间线、回放"),
        (name = "organizations", description = "社会组织"),
        (name = "volunteers", description = "志愿者积分"),
        (name = "needs", description = "需求（一社一单）"),
        (name = "activities", description = "活动（附件1/附件2）"),
        (name = "ledgers", description = "台账与探访义务"),
        (name = "reports", description = "统计与评估报表"),
        (name = "audit", description = "审计与访问日志"),
        (name = "users", description = "用户管理（系统管理员）"),
        (name = "operations", description = "运行状态")
    )
)]
struct RootApi;

/// The complete OpenAPI 3.1 document.
pub fn openapi() -> utoipa::openapi::OpenApi {
    let mut document = RootApi::openapi();
    for part in [
        health::HealthApi::openapi(),
        auth::AuthApi::openapi(),
        cases::CasesApi::openapi(),
        case_files::Api::openapi(),
        organizations::Api::openapi(),
        volunteers::Api::openapi(),
        needs::Api::openapi(),
        activities::Api::openapi(),
        ledgers::Api::openapi(),
        reports::Api::openapi(),
        audit::Api::openapi(),
        users::Api::openapi(),
    ] {
        document.merge(part);
    }
    let components = document.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        "bearer",
        SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
    );
    document
}

pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(health::routes())
        .merge(auth::routes())
        .merge(cases::routes())
        .merge(case_files::routes())
        .merge(organizations::routes())
        .merge(volunteers::routes())
        .merge(needs::routes())
        .merge(activities::routes())
        .merge(ledgers::routes())
        .merge(reports::routes())
        .merge(audit::routes())
        .merge(users::routes())
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/docs", get(docs_page))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn_with_state(state.clone(), observe))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError::not_found("该地址（接口）")
}

async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        "该地址不支持这种请求方法",
    )
}

async fn openapi_json() -> Response {
    match openapi().to_pretty_json() {
        Ok(json) => (
            [(axum::http::header::CONTENT_TYPE, "application/json")],
            json,
        )
            .into_response(),
        Err(error) => ApiError::internal(&error).into_response(),
    }
}

async fn docs_page() -> Html<String> {
    Html(crate::docs::render(&openapi()))
}

/// Gives the request an id (in the response's `x-request-id` and in every
/// problem body), logs one line, and records metrics by route template.
async fn observe(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let request_id = uuid::Uuid::now_v7().to_string();
    let method: Method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|path| path.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let mut response = REQUEST_ID
        .scope(request_id.clone(), next.run(request))
        .await;
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&request_id) {
        response.headers_mut().insert("x-request-id", value);
    }
    let status = response.status().as_u16();
    state
        .metrics()
        .observe_request(method.as_str(), &route, status, elapsed);
    tracing::info!(
        request_id = %request_id,
        method = %method,
        route = %route,
        status,
        millis = elapsed.as_millis() as u64,
        "请求"
    );
    response
}
