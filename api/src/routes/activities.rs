//! Activities (活动 / 项目): what 附件1 统计表 and 附件2 记录表 are made
//! from — planning, participating organizations, funds, beneficiaries,
//! service time, details, evidence images (佐证材料), completion,
//! cancellation and corrections. Anyone who manages activities may do so in
//! their own area; every command runs through `Application::execute_activity`
//! so linked care cases are checked to exist.

use axum::Json;
use axum::extract::multipart::{Multipart, MultipartError, MultipartRejection};
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use cqrs_es::Aggregate;
use serde::{Deserialize, Serialize};
use shouwang_domain::activity::{
    Activity, ActivityAction, ActivityCommand, AddParticipatingOrganization, CancelActivity,
    CompleteActivity, CorrectActivity, PlanActivity, RecordBeneficiaries, RecordFunds,
    RecordServiceTime, RemoveEvidence, RemoveParticipatingOrganization, UpdateParticipantHeadcount,
    WriteDetails,
};
use shouwang_domain::evidence::{MAX_EVIDENCE_BYTES, Sha256Hex};
use shouwang_domain::values::RegionCode;
use shouwang_infrastructure::EvidenceUploadError;
use shouwang_infrastructure::attachments::{AttachmentError, load_attachment};
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

/// The body limit of an evidence upload: the 5 MiB image plus room for the
/// multipart framing, so an image just under the limit is judged by the
/// domain's rule (with its message) rather than cut off by the server.
const EVIDENCE_BODY_LIMIT: usize = MAX_EVIDENCE_BYTES + 1024 * 1024;

impl From<AttachmentError> for ApiError {
    fn from(error: AttachmentError) -> Self {
        match error {
            AttachmentError::Refused(refusal) => {
                ApiError::refused(refusal.code(), refusal.to_string()).with_field("file")
            }
            AttachmentError::Store(store) => store.into(),
        }
    }
}

impl From<EvidenceUploadError> for ApiError {
    fn from(error: EvidenceUploadError) -> Self {
        match error {
            EvidenceUploadError::Attachment(attachment) => attachment.into(),
            EvidenceUploadError::Command(command) => command.into(),
        }
    }
}

fn multipart_problem(status: StatusCode, text: String) -> ApiError {
    if status == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::new(
            status,
            "payload_too_large",
            "上传的内容超过 5 MB 的上限，请压缩图片后再上传",
        )
        .with_field("file")
    } else {
        ApiError::bad_request(
            "invalid_multipart",
            format!("上传内容不是合法的 multipart/form-data 表单（图片放在 file 字段中）：{text}"),
        )
    }
}

impl From<MultipartRejection> for ApiError {
    fn from(rejection: MultipartRejection) -> Self {
        multipart_problem(rejection.status(), rejection.body_text())
    }
}

impl From<MultipartError> for ApiError {
    fn from(error: MultipartError) -> Self {
        multipart_problem(error.status(), error.body_text())
    }
}

/// 受益对象及人数. Which linked cases do not exist is looked up by the
/// server.
#[derive(Debug, Clone, Deserialize, ToSchema)]
pub struct BeneficiariesRequest {
    /// 受益人次.
    pub person_times: u32,
    /// 受益人数 (distinct persons), at most `person_times`.
    pub persons: u32,
    /// Care cases among the beneficiaries.
    #[serde(default)]
    pub linked_case_ids: Vec<Uuid>,
}

/// The bytes of an image file.
#[derive(Debug, ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct ImageBytes(pub Vec<u8>);

/// An evidence upload: one image in the field `file`.
#[derive(Debug, ToSchema)]
pub struct EvidenceUpload {
    /// A JPEG, PNG or WebP image of at most 5 MiB, recognised by its
    /// content, not its name.
    pub file: ImageBytes,
}

/// The image as stored, and where the attachment landed.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct EvidenceReceipt {
    /// The image's SHA-256: its name at `/api/v1/evidence/{sha256}`.
    pub sha256: String,
    /// The media type found from the bytes.
    pub media_type: String,
    pub size_bytes: u64,
    pub receipt: WriteReceipt,
}

/// Loads a planned activity: 404 when there is none with this id.
async fn load_activity(state: &AppState, activity_id: Uuid) -> Result<Activity, ApiError> {
    let stream_type = state.store().stream_type(&activity_id.to_string()).await?;
    if stream_type.as_deref() != Some(Activity::TYPE) {
        return Err(ApiError::not_found("该活动"));
    }
    Ok(state
        .app()
        .activities
        .event_store()
        .load_for_decision(&activity_id.to_string())
        .await?
        .aggregate)
}

/// Refuses unless the user may manage activities and this one lies in
/// their area.
async fn require_activity_in_scope(
    state: &AppState,
    user: &User,
    activity_id: Uuid,
) -> Result<(), ApiError> {
    authz::require(user, Operation::ManageActivities)?;
    let activity = load_activity(state, activity_id).await?;
    let region = activity
        .region()
        .map(|region| region.as_str().to_owned())
        .unwrap_or_default();
    authz::require_in_scope(user, Operation::ManageActivities, &region)
}

async fn run(
    state: &AppState,
    user: &User,
    key: IdempotencyKey,
    activity_id: Uuid,
    action: ActivityAction,
) -> Result<Json<WriteReceipt>, ApiError> {
    require_activity_in_scope(state, user, activity_id).await?;
    let receipt = state
        .app()
        .execute_activity(
            activity_id,
            ActivityCommand {
                today: state.today(),
                action,
            },
            command_metadata(user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    Ok(Json(receipt.into()))
}

/// Plan an activity (活动策划) in the user's area. A retry with the same
/// `Idempotency-Key` returns the same activity.
#[utoipa::path(post, path = "/api/v1/activities", tag = "activities", request_body = PlanActivity,
    security(("bearer" = [])),
    params(("Idempotency-Key" = Option<String>, Header, description = "UUID; a retry with the same key writes nothing twice")),
    responses(
        (status = 201, body = WriteReceipt),
        (status = 200, body = WriteReceipt, description = "A retry answered from the first result"),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn plan_activity(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    key: IdempotencyKey,
    ApiJson(plan): ApiJson<PlanActivity>,
) -> Result<(StatusCode, Json<WriteReceipt>), ApiError> {
    match RegionCode::parse(&plan.region_code) {
        Ok(region) => authz::require_in_scope(&user, Operation::ManageActivities, region.as_str())?,
        // Not a region code at all: the aggregate says what is wrong with it.
        Err(_) => authz::require(&user, Operation::ManageActivities)?,
    }
    let activity_id = stream_id_for_creation(&state, key).await?;
    let receipt = state
        .app()
        .execute_activity(
            activity_id,
            ActivityCommand::new(state.today(), plan),
            command_metadata(&user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    let receipt = WriteReceipt::from(receipt);
    Ok((creation_status(&receipt), Json(receipt)))
}

/// Record the beneficiaries (受益对象及人数), replacing earlier figures;
/// linked care cases must exist.
#[utoipa::path(post, path = "/api/v1/activities/{id}/beneficiaries", tag = "activities",
    request_body = BeneficiariesRequest,
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "活动编号"),
        ("Idempotency-Key" = Option<String>, Header, description = "UUID; a retry with the same key writes nothing twice")),
    responses(
        (status = 200, body = WriteReceipt),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn record_beneficiaries(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    key: IdempotencyKey,
    ApiPath(activity_id): ApiPath<Uuid>,
    ApiJson(request): ApiJson<BeneficiariesRequest>,
) -> Result<Json<WriteReceipt>, ApiError> {
    let beneficiaries = RecordBeneficiaries {
        person_times: request.person_times,
        persons: request.persons,
        linked_case_ids: request.linked_case_ids,
        // Filled in by `Application::execute_activity`.
        missing_case_ids: Vec::new(),
    };
    run(&state, &user, key, activity_id, beneficiaries.into()).await
}

/// Upload an evidence image (佐证材料, 1–2 per activity) as
/// `multipart/form-data` with the image in the field `file`. The bytes must
/// be a JPEG, PNG or WebP image of at most 5 MiB, whatever the file is
/// called. The same bytes uploaded again are stored once.
#[utoipa::path(post, path = "/api/v1/activities/{id}/evidence", tag = "activities",
    request_body(content = EvidenceUpload, content_type = "multipart/form-data"),
    security(("bearer" = [])),
    params(
        ("id" = Uuid, Path, description = "活动编号"),
        ("Idempotency-Key" = Option<String>, Header, description = "UUID; a retry with the same key writes nothing twice")),
    responses(
        (status = 200, body = EvidenceReceipt),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json"),
        (status = 409, body = Problem, content_type = "application/problem+json"),
        (status = 413, body = Problem, content_type = "application/problem+json"),
        (status = 422, body = Problem, content_type = "application/problem+json")))]
pub async fn upload_evidence(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    key: IdempotencyKey,
    ApiPath(activity_id): ApiPath<Uuid>,
    multipart: Result<Multipart, MultipartRejection>,
) -> Result<Json<EvidenceReceipt>, ApiError> {
    // Authorize before reading the upload: nobody outside the area makes the
    // server receive (or store) five megabytes.
    require_activity_in_scope(&state, &user, activity_id).await?;
    let mut multipart = multipart?;
    let mut upload = None;
    while let Some(field) = multipart.next_field().await? {
        if field.name() == Some("file") {
            let file_name = field.file_name().unwrap_or_default().to_owned();
            upload = Some((file_name, field.bytes().await?));
            break;
        }
    }
    let Some((file_name, bytes)) = upload else {
        return Err(ApiError::bad_request(
            "evidence_file_missing",
            "表单中没有图片：请把图片放在名为 file 的字段中上传",
        )
        .with_field("file"));
    };
    let (stored, receipt) = state
        .app()
        .upload_evidence(
            activity_id,
            state.today(),
            &bytes,
            &file_name,
            command_metadata(&user, key, None),
        )
        .await?;
    state.metrics().observe_events_appended(receipt.events);
    Ok(Json(EvidenceReceipt {
        sha256: stored.sha256,
        media_type: stored.media_type.as_str().to_owned(),
        size_bytes: stored.size_bytes,
        receipt: receipt.into(),
    }))
}

/// An evidence image as it was uploaded, with its media type. Images are
/// named by their SHA-256, so a response never changes and may be cached.
#[utoipa::path(get, path = "/api/v1/evidence/{sha256}", tag = "activities",
    security(("bearer" = [])),
    params(("sha256" = String, Path, description = "图片的 SHA-256（64 位十六进制）")),
    responses(
        (status = 200, description = "The image", content(
            (ImageBytes = "image/jpeg"),
            (ImageBytes = "image/png"),
            (ImageBytes = "image/webp"))),
        (status = 400, body = Problem, content_type = "application/problem+json"),
        (status = 401, body = Problem, content_type = "application/problem+json"),
        (status = 403, body = Problem, content_type = "application/problem+json"),
        (status = 404, body = Problem, content_type = "application/problem+json")))]
pub async fn get_evidence(
    State(state): State<AppState>,
    CurrentUser(user): CurrentUser,
    ApiPath(sha256): ApiPath<String>,
) -> Result<Response, ApiError> {
    // Evaluators read evidence with the reports; those who record
    // activities see what they uploaded.
    if authz::require(&user, Operation::ReadReports).is_err() {
        authz::require(&user, Operation::ManageActivities)?;
    }
    let sha256 = Sha256Hex::parse(&sha256).map_err(|refusal| {
        ApiError::bad_request("invalid_path", refusal.to_string()).with_field("sha256")
    })?;
    let Some((media_type, content)) = load_attachment(state.db(), sha256.as_str()).await? else {
        return Err(ApiError::not_found("该图片"));
    };
    let mut response = content.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(media_type.as_str()),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=31536000, immutable"),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    Ok(response)
}

macro_rules! activity_commands {
    ($($handler:ident: $path:literal, $body:ident, $summary:literal;)+) => {
        $(
            #[doc = $summary]
            #[utoipa::path(post, path = $path, tag = "activities", request_body = $body,
                security(("bearer" = [])),
                params(
                    ("id" = Uuid, Path, description = "活动编号"),
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
                ApiPath(activity_id): ApiPath<Uuid>,
                ApiJson(body): ApiJson<$body>,
            ) -> Result<Json<WriteReceipt>, ApiError> {
                run(&state, &user, key, activity_id, ActivityAction::$body(body)).await
            }
        )+

        #[derive(Debug, OpenApi)]
        #[openapi(
            paths(plan_activity, record_beneficiaries, upload_evidence, get_evidence, $($handler),+),
            components(schemas(BeneficiariesRequest, EvidenceUpload, EvidenceReceipt, ImageBytes))
        )]
        pub struct Api;

        pub fn routes() -> axum::Router<AppState> {
            axum::Router::new()
                .route("/api/v1/activities", post(plan_activity))
                .route("/api/v1/activities/{id}/beneficiaries", post(record_beneficiaries))
                .route(
                    "/api/v1/activities/{id}/evidence",
                    post(upload_evidence).layer(DefaultBodyLimit::max(EVIDENCE_BODY_LIMIT)),
                )
                .route("/api/v1/evidence/{sha256}", get(get_evidence))
                $(.route($path, post($handler)))+
        }
    };
}

activity_commands! {
    add_participant: "/api/v1/activities/{id}/participants", AddParticipatingOrganization, "Add a participating organization with its headcount (参与社会组织及人数).";
    update_headcount: "/api/v1/activities/{id}/participants/headcount", UpdateParticipantHeadcount, "Change a participating organization's headcount.";
    remove_participant: "/api/v1/activities/{id}/participants/removal", RemoveParticipatingOrganization, "Take an organization off the participants.";
    record_funds: "/api/v1/activities/{id}/funds", RecordFunds, "Record a contribution of money or materials, in fen (投入资金（含物资折款）).";
    record_service_time: "/api/v1/activities/{id}/service-time", RecordServiceTime, "Record the total service time in minutes (累计服务时长), replacing the earlier figure.";
    write_details: "/api/v1/activities/{id}/details", WriteDetails, "Write the activity's details (活动详情, about 300 characters).";
    remove_evidence: "/api/v1/activities/{id}/evidence/removal", RemoveEvidence, "Remove an evidence image from the activity, giving a reason.";
    complete_activity: "/api/v1/activities/{id}/complete", CompleteActivity, "Complete the activity with its actual figures (活动完成).";
    cancel_activity: "/api/v1/activities/{id}/cancel", CancelActivity, "Cancel the activity (活动取消).";
    correct_activity: "/api/v1/activities/{id}/corrections", CorrectActivity, "Correct an earlier event of the activity (更正); nothing is edited.";
}
