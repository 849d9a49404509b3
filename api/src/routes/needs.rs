//! Needs (需求 / 微星愿) and “一社一单”: raised onto a township's ledger,
//! dispatched by the county to one organization (派单), accepted, declined
//! or fulfilled by that organization only (接单/拒单/办结), evaluated by the
//! resident, escalated or withdrawn. Every command runs through
//! `Application::execute_need`, so a dispatch learns from the Organization
//! aggregate whether the organization is active.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use chrono::NaiveDate;
use cqrs_es::Aggregate;
use serde::Deserialize;
use shouwang_domain::need::{
    AcceptNeed, DeclineNeed, DispatchNeed, EscalateNeed, EvaluateNeed, FulfilNeed, Need,
    NeedAction, NeedCommand, RaiseNeed, RecordNeedProgress, WithdrawNeed,
};
use shouwang_domain::values::RegionCode;
use shouwang_infrastructure::users::User;
use utoipa::{OpenApi, ToSchema};
use uuid::Uuid;

use crate::auth::{CurrentUser, IdempotencyKey, command_metadata};
use crate::authz::{self, Operation};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::receipt::WriteReceipt;
use crate::routes::organizations::{creation_status, stream_id_for_creation};
use crate::state::AppState;

/// 派单: the organization, due date and instructions. Whether the
/// organization is active is looked up by the server, never taken from the
/// client.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DispatchRequest {
    pub organization_id: Uuid,
    /// 办结期限.
    pub due_on: NaiveDate,
    pub dispatched_on: NaiveDate,
    /// What the organization is asked to do, if more than the need says.
    #[serde(default)]
    pub instructions: String,
}

/// 接单. The acting organization is the caller's own.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct AcceptRequest {
    pub accepted_on: NaiveDate,
}

/// 拒单: the need returns to the ledger. The acting organization is the
/// caller's own.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct DeclineRequest {
    pub reason: String,
    pub declined_on: NaiveDate,
}

/// 进展. The acting organization is the caller's own.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct ProgressRequest {
    pub note: String,
    pub recorded_on: NaiveDate,
}

/// 办结, with what it took. The acting organization is the caller's own.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct FulfilRequest {
    pub what_was_done: String,
    /// Service time spent, in minutes (0 when only goods were given).
    pub minutes: u32,
    /// 投入资金, in fen.
    pub money_fen: i64,
    /// 物资折款, in fen.
    pub material_value_fen: i64,
    /// SHA-256 digests of stored evidence images.
    #[serde(default)]
    pub evidence: Vec<String>,
    pub fulfilled_on: NaiveDate,
}

/// Loads a raised need: 404 when there is none with this id.
async fn load_need(state: &AppState, need_id: Uuid) -> Result<Need, ApiError> {
    let stream_type = state.store().stream_type(&need_id.to_string()).await?;
    if stream_type.as_deref() != Some(Need::TYPE) {
        return Err(ApiError::not_found("该需求"));
    }
    Ok(state
        .app()
        .needs
        .event_store()
        .load_for_decision(&need_id.to_string())
        .await?
        .aggregate)
}

async fn execute(
    state: &AppState,
    user: &User,
    key: IdempotencyKey,
    need_id: Uuid,
    action: NeedAction,
) -> Result<WriteReceipt, ApiError> {
    let receipt = state
        .app()
        .execute_need(
            need_id,
            NeedCommand {
                today: state.today(),
                action,
            },
            command_metadata(user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    Ok(receipt.into())
}

/// Runs a command of the county (or higher) on a need in the user's area.
async fn run_in_scope(
    state: &AppState,
    user: &User,
    key: IdempotencyKey,
    need_id: Uuid,
    operation: Operation,
    action: NeedAction,
) -> Result<Json<WriteReceipt>, ApiError> {
    authz::require(user, operation)?;
    let need = load_need(state, need_id).await?;
    let region = need
        .region()
        .map(|region| region.as_str().to_owned())
        .unwrap_or_default();
    authz::require_in_scope(user, operation, &region)?;
    Ok(Json(execute(state, user, key, need_id, action).await?))
}

/// Runs an organization's answer to a dispatch: only people of the
/// organization the need is dispatched to may give it, and the acting
/// organization is always the caller's own, never one the client names.
async fn respond(
    state: &AppState,
    user: &User,
    key: IdempotencyKey,
    need_id: Uuid,
    action: impl FnOnce(Uuid) -> NeedAction,
) -> Result<Json<WriteReceipt>, ApiError> {
    authz::require(user, Operation::RespondToDispatch)?;
    let Some(acting_organization_id) = user.organization_id else {
        return Err(ApiError::forbidden(
            "您的账号不属于任何社会组织，不能接单、拒单或办结；请由接单组织的人员操作",
        ));
    };
    let need = load_need(state, need_id).await?;
    // A need on the ledger is nobody's yet: the aggregate refuses the answer
    // as "not dispatched", which says more than a 403 would.
    if let Some(dispatched_to) = need.organization_id() {
        authz::require_own_organization(user, dispatched_to)?;
    }
    Ok(Json(
        execute(state, user, key, need_id, action(acting_organization_id)).await?,
    ))
}

/// Raise a need onto its township's ledger (编列需求台账). The region must
/// lie within the user's area. A retry with the same `Idempotency-Key`
/// returns the same need.
#[utoipa::path(post, path = "/api/v1/needs", tag = "needs", request_body = RaiseNeed,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID; a retry with the same key writes nothing twice")),
    responses(
        (status = 201, body = WriteReceipt),
        (status = 200, body = WriteReceipt, description = "A retry answered from the first result"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn raise_need(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    key: IdempotencyKey,
    ApiJson(raise): ApiJson<RaiseNeed>,
) -> Result<(StatusCode, Json<WriteReceipt>), ApiError> {
    match RegionCode::parse(&raise.region_code) {
        Ok(region) => authz::require_in_scope(&user, Operation::RaiseNeed, region.as_str())?,
        // Not a region code at all: the aggregate says what is wrong with it.
        Err(_) => authz::require(&user, Operation::RaiseNeed)?,
    }
    let need_id = stream_id_for_creation(&state, key).await?;
    let receipt = execute(&state, &user, key, need_id, NeedAction::RaiseNeed(raise)).await?;
    Ok((creation_status(&receipt), Json(receipt)))
}

macro_rules! need_endpoint {
    ($handler:ident, $path:literal, $body:ty, $summary:literal, |$state:ident, $user:ident, $key:ident, $need_id:ident, $request:ident| $run:expr) => {
        #[doc = $summary]
        #[utoipa::path(post, path = $path, tag = "needs", request_body = $body,
            security(("bearer" = [])),
            params(
                ("id" = Uuid, Path, description = "需求编号"),
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
            State($state): State<AppState>,
            CurrentUser($user): CurrentUser,
            $key: IdempotencyKey,
            ApiPath($need_id): ApiPath<Uuid>,
            ApiJson($request): ApiJson<$body>,
        ) -> Result<Json<WriteReceipt>, ApiError> {
            $run
        }
    };
}

need_endpoint!(
    dispatch_need,
    "/api/v1/needs/{id}/dispatch",
    DispatchRequest,
    "Dispatch the need to one organization with a due date (“一社一单” 派单). A suspended or unknown organization is refused (`organization_inactive`).",
    |state, user, key, need_id, request| {
        let dispatch = DispatchNeed {
            organization_id: request.organization_id,
            // Filled in by `Application::execute_need`.
            organization_active: false,
            due_on: request.due_on,
            dispatched_on: request.dispatched_on,
            instructions: request.instructions,
        };
        run_in_scope(
            &state,
            &user,
            key,
            need_id,
            Operation::DispatchNeed,
            dispatch.into(),
        )
        .await
    }
);

need_endpoint!(
    accept_need,
    "/api/v1/needs/{id}/accept",
    AcceptRequest,
    "Accept the dispatch (接单): only people of the organization it was dispatched to.",
    |state, user, key, need_id, request| {
        respond(&state, &user, key, need_id, |acting_organization_id| {
            AcceptNeed {
                acting_organization_id,
                accepted_on: request.accepted_on,
            }
            .into()
        })
        .await
    }
);

need_endpoint!(
    decline_need,
    "/api/v1/needs/{id}/decline",
    DeclineRequest,
    "Decline the dispatch (拒单): the need returns to the ledger.",
    |state, user, key, need_id, request| {
        respond(&state, &user, key, need_id, |acting_organization_id| {
            DeclineNeed {
                acting_organization_id,
                reason: request.reason,
                declined_on: request.declined_on,
            }
            .into()
        })
        .await
    }
);

need_endpoint!(
    record_progress,
    "/api/v1/needs/{id}/progress",
    ProgressRequest,
    "Record progress on an accepted need (进展).",
    |state, user, key, need_id, request| {
        respond(&state, &user, key, need_id, |acting_organization_id| {
            RecordNeedProgress {
                acting_organization_id,
                note: request.note,
                recorded_on: request.recorded_on,
            }
            .into()
        })
        .await
    }
);

need_endpoint!(
    fulfil_need,
    "/api/v1/needs/{id}/fulfil",
    FulfilRequest,
    "Fulfil the need (办结), with the time, money and materials it took.",
    |state, user, key, need_id, request| {
        respond(&state, &user, key, need_id, |acting_organization_id| {
            FulfilNeed {
                acting_organization_id,
                what_was_done: request.what_was_done,
                minutes: request.minutes,
                money_fen: request.money_fen,
                material_value_fen: request.material_value_fen,
                evidence: request.evidence,
                fulfilled_on: request.fulfilled_on,
            }
            .into()
        })
        .await
    }
);

need_endpoint!(
    evaluate_need,
    "/api/v1/needs/{id}/evaluation",
    EvaluateNeed,
    "Record the resident's evaluation of a fulfilled need (成效让群众评价, 满意度 1–5).",
    |state, user, key, need_id, request| {
        run_in_scope(
            &state,
            &user,
            key,
            need_id,
            Operation::EvaluateNeed,
            request.into(),
        )
        .await
    }
);

need_endpoint!(
    escalate_need,
    "/api/v1/needs/{id}/escalate",
    EscalateNeed,
    "Escalate the need one level up, or report it to the government (上报).",
    |state, user, key, need_id, request| {
        run_in_scope(
            &state,
            &user,
            key,
            need_id,
            Operation::EscalateNeed,
            request.into(),
        )
        .await
    }
);

need_endpoint!(
    withdraw_need,
    "/api/v1/needs/{id}/withdraw",
    WithdrawNeed,
    "Withdraw the need (撤回): it is no longer to be met.",
    |state, user, key, need_id, request| {
        run_in_scope(
            &state,
            &user,
            key,
            need_id,
            Operation::DispatchNeed,
            request.into(),
        )
        .await
    }
);

#[derive(Debug, OpenApi)]
#[openapi(
    paths(
        raise_need,
        dispatch_need,
        accept_need,
        decline_need,
        record_progress,
        fulfil_need,
        evaluate_need,
        escalate_need,
        withdraw_need
    ),
    components(schemas(
        DispatchRequest,
        AcceptRequest,
        DeclineRequest,
        ProgressRequest,
        FulfilRequest
    ))
)]
pub struct Api;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
        .route("/api/v1/needs", post(raise_need))
        .route("/api/v1/needs/{id}/dispatch", post(dispatch_need))
        .route("/api/v1/needs/{id}/accept", post(accept_need))
        .route("/api/v1/needs/{id}/decline", post(decline_need))
        .route("/api/v1/needs/{id}/progress", post(record_progress))
        .route("/api/v1/needs/{id}/fulfil", post(fulfil_need))
        .route("/api/v1/needs/{id}/evaluation", post(evaluate_need))
        .route("/api/v1/needs/{id}/escalate", post(escalate_need))
        .route("/api/v1/needs/{id}/withdraw", post(withdraw_need))
}
