//! Commands on care cases (一人一档). Each handler decodes, authorizes, runs
//! one command and maps the result; the rules live in the domain.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use shouwang_domain::care_case::{
    AssessRisk, AssignCaregiver, CareCase, CaseAction, CaseCommand, ChangeCategories, CloseCase,
    CorrectEntry, ErasePersonalData, MakeReferral, OpenCase, RecordOutcome, RecordProfile,
    RecordService, RecordVisit, ReleaseCaregiver, ReopenCase, ResolveReferral, TransferCase,
};
use shouwang_infrastructure::users::User;
use utoipa::OpenApi;
use uuid::Uuid;

use crate::auth::{CurrentUser, IdempotencyKey, command_metadata};
use crate::authz::{self, Operation};
use crate::error::{ApiError, Problem};
use crate::extract::{ApiJson, ApiPath};
use crate::receipt::WriteReceipt;
use crate::state::AppState;

/// Loads a case for an authorization decision: 404 when there is no such
/// case, 403 when it lies outside the user's scope.
pub async fn case_in_scope(
    state: &AppState,
    user: &User,
    case_id: Uuid,
    operation: Operation,
) -> Result<CareCase, ApiError> {
    authz::require(user, operation)?;
    if !state.app().case_exists(case_id).await? {
        return Err(ApiError::not_found("该个案"));
    }
    let case = state
        .app()
        .cases
        .event_store()
        .load_for_decision(&case_id.to_string())
        .await?
        .aggregate;
    let region = case
        .region()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    if authz::require_in_scope(user, operation, &region).is_err()
        && !shouwang_infrastructure::users::has_break_glass(state.db(), user.id, case_id).await?
    {
        authz::require_in_scope(user, operation, &region)?;
    }
    Ok(case)
}

async fn run(
    state: &AppState,
    user: &User,
    key: IdempotencyKey,
    case_id: Uuid,
    operation: Operation,
    action: CaseAction,
) -> Result<Json<WriteReceipt>, ApiError> {
    let case = case_in_scope(state, user, case_id, operation).await?;
    // Break-the-glass opens a case for reading only: writes need scope.
    let region = case
        .region()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    authz::require_in_scope(user, operation, &region)?;
    if let CaseAction::TransferCase(TransferCase {
        new_region: Some(new_region),
        ..
    }) = &action
    {
        authz::require_in_scope(user, operation, new_region)?;
    }
    let receipt = state
        .app()
        .cases
        .execute(
            &case_id.to_string(),
            CaseCommand {
                today: state.today(),
                action,
            },
            command_metadata(user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    Ok(Json(receipt.into()))
}

/// Open a case (建档). A retry with the same `Idempotency-Key` returns the
/// same case.
#[utoipa::path(post, path = "/api/v1/cases", tag = "cases", request_body = OpenCase,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID; a retry with the same key writes nothing twice")),
    responses(
        (status = 201, body = WriteReceipt),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn open_case(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    key: IdempotencyKey,
    ApiJson(open): ApiJson<OpenCase>,
) -> Result<(StatusCode, Json<WriteReceipt>), ApiError> {
    authz::require_in_scope(&user, Operation::OpenCase, &open.residence_region)?;
    let case_id = match key.0 {
        Some(command_id) => match state
            .store()
            .command_record(&command_id.to_string())
            .await?
        {
            Some(record) => record.stream_id,
            None => Uuid::now_v7().to_string(),
        },
        None => Uuid::now_v7().to_string(),
    };
    let receipt = state
        .app()
        .cases
        .execute(
            &case_id,
            CaseCommand {
                today: state.today(),
                action: CaseAction::OpenCase(open),
            },
            command_metadata(&user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    let status = if receipt.replayed {
        StatusCode::OK
    } else {
        StatusCode::CREATED
    };
    Ok((status, Json(receipt.into())))
}

macro_rules! case_commands {
    ($($handler:ident: $path:literal, $body:ident, $operation:expr, $summary:literal;)+) => {
        $(
            #[doc = $summary]
            #[utoipa::path(post, path = $path, tag = "cases", request_body = $body,
                security(("bearer" = [])),
                params(
                    ("id" = Uuid, Path, description = "个案编号"),
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
                ApiPath(case_id): ApiPath<Uuid>,
                ApiJson(body): ApiJson<$body>,
            ) -> Result<Json<WriteReceipt>, ApiError> {
                run(&state, &user, key, case_id, $operation, CaseAction::$body(body)).await
            }
        )+

        #[derive(Debug, OpenApi)]
        #[openapi(paths(open_case, $($handler),+))]
        pub struct CasesApi;

        pub fn routes() -> axum::Router<AppState> {
            axum::Router::new()
                .route("/api/v1/cases", post(open_case))
                $(.route($path, post($handler)))+
        }
    };
}

case_commands! {
    change_categories: "/api/v1/cases/{id}/categories", ChangeCategories, Operation::ManageCase, "Change care categories (类别变更).";
    record_profile: "/api/v1/cases/{id}/profile", RecordProfile, Operation::RecordOnCase, "Record the profile ledger (经济来源、家庭结构、健康状况、照料情况).";
    assess_risk: "/api/v1/cases/{id}/risk", AssessRisk, Operation::ManageCase, "Assess risk (风险评估).";
    assign_caregiver: "/api/v1/cases/{id}/caregivers", AssignCaregiver, Operation::ManageCase, "Assign a caregiver (包户).";
    release_caregiver: "/api/v1/cases/{id}/caregivers/release", ReleaseCaregiver, Operation::ManageCase, "Release a caregiver.";
    record_visit: "/api/v1/cases/{id}/visits", RecordVisit, Operation::RecordOnCase, "Record a visit (探访).";
    record_service: "/api/v1/cases/{id}/services", RecordService, Operation::RecordOnCase, "Record a service delivered (服务).";
    make_referral: "/api/v1/cases/{id}/referrals", MakeReferral, Operation::RecordOnCase, "Refer to a department (转介).";
    resolve_referral: "/api/v1/cases/{id}/referrals/resolution", ResolveReferral, Operation::RecordOnCase, "Record a referral's answer.";
    record_outcome: "/api/v1/cases/{id}/outcomes", RecordOutcome, Operation::RecordOnCase, "Record an outcome with the person's own evaluation (成效让群众评价).";
    transfer_case: "/api/v1/cases/{id}/transfer", TransferCase, Operation::ManageCase, "Transfer the case to another region or organization.";
    close_case: "/api/v1/cases/{id}/close", CloseCase, Operation::ManageCase, "Close the case (结案).";
    reopen_case: "/api/v1/cases/{id}/reopen", ReopenCase, Operation::ManageCase, "Reopen a closed case.";
    correct_entry: "/api/v1/cases/{id}/corrections", CorrectEntry, Operation::RecordOnCase, "Correct an earlier entry (nothing is edited; the correction is an event).";
    erase_personal_data: "/api/v1/cases/{id}/erasure", ErasePersonalData, Operation::ErasePersonalData, "Erase the person's personal data (个人信息保护法 第47条).";
}
