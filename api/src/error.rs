//! RFC 9457 problem details. Every error a client sees is
//! `application/problem+json` with a stable machine `code` and a Chinese
//! `detail` a worker can act on; nothing internal ever leaks into a 500.

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use shouwang_infrastructure::{CommandError, StoreError};
use utoipa::ToSchema;

tokio::task_local! {
    /// The id of the request being served, for problem details and logs.
    pub static REQUEST_ID: String;
}

/// The body of every error response.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Problem {
    /// `about:blank` or a URN naming the problem type.
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    /// Stable machine code, e.g. `date_in_future`, `unauthenticated`.
    pub code: String,
    /// What went wrong and what to do, in Chinese.
    pub detail: String,
    /// The request field at fault, when known.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// The request id, to quote when asking for help.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
}

/// An error on its way to becoming a problem response.
#[derive(Debug, Clone)]
pub struct ApiError {
    status: StatusCode,
    code: String,
    detail: String,
    field: Option<String>,
    retry_after_seconds: Option<u64>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            status,
            code: code.into(),
            detail: detail.into(),
            field: None,
            retry_after_seconds: None,
        }
    }

    pub fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after_seconds = Some(seconds);
        self
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    pub fn code(&self) -> &str {
        &self.code
    }

    pub fn bad_request(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    pub fn unauthenticated() -> Self {
        Self::new(
            StatusCode::UNAUTHORIZED,
            "unauthenticated",
            "尚未登录或登录已过期，请重新登录后再试",
        )
    }

    pub fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "forbidden", detail)
    }

    pub fn not_found(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "not_found",
            format!("找不到{what}，请核对编号"),
        )
    }

    pub fn conflict() -> Self {
        Self::new(
            StatusCode::CONFLICT,
            "concurrent_modification",
            "该记录刚被他人同时修改，自动重试后仍有冲突，请刷新后再提交",
        )
    }

    /// A domain refusal: the rules said no; the domain's code and message.
    pub fn refused(code: &str, detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNPROCESSABLE_ENTITY, code, detail)
    }

    /// Something broke on our side. The cause is logged once here, with the
    /// request id; the client sees only the id.
    pub fn internal(cause: &dyn std::fmt::Display) -> Self {
        let request_id = REQUEST_ID.try_with(Clone::clone).unwrap_or_default();
        tracing::error!(request_id = %request_id, error = %cause, "内部错误");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal_error",
            "服务器内部错误，请稍后重试；如果反复出现，请把请求编号告诉系统管理员",
        )
    }

    fn problem(&self) -> Problem {
        Problem {
            problem_type: format!("urn:shouwang:problem:{}", self.code),
            title: self.status.canonical_reason().unwrap_or("Error").to_owned(),
            status: self.status.as_u16(),
            code: self.code.clone(),
            detail: self.detail.clone(),
            field: self.field.clone(),
            request_id: REQUEST_ID.try_with(Clone::clone).ok(),
        }
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = serde_json::to_vec(&self.problem()).unwrap_or_default();
        let mut response = (self.status, body).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/problem+json"),
        );
        if let Some(seconds) = self.retry_after_seconds {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

/// Domain errors that refuse a command carry a stable code.
pub trait Refusal: std::error::Error {
    fn refusal_code(&self) -> &'static str;
}

macro_rules! refusals {
    ($($error:ty),+ $(,)?) => {
        $(impl Refusal for $error {
            fn refusal_code(&self) -> &'static str {
                self.code()
            }
        })+
    };
}

refusals!(
    shouwang_domain::care_case::CaseError,
    shouwang_domain::organization::OrganizationError,
    shouwang_domain::volunteer::VolunteerError,
    shouwang_domain::need::NeedError,
    shouwang_domain::activity::ActivityError,
);

impl<E: Refusal> From<CommandError<E>> for ApiError {
    fn from(error: CommandError<E>) -> Self {
        match error {
            CommandError::Refused(refusal) => {
                ApiError::refused(refusal.refusal_code(), refusal.to_string())
            }
            CommandError::Conflict => ApiError::conflict(),
            CommandError::Store(store) => store.into(),
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(error: StoreError) -> Self {
        match error {
            StoreError::IdempotencyMismatch { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                "idempotency_key_reused",
                error.to_string(),
            ),
            StoreError::Conflict { .. } => ApiError::conflict(),
            StoreError::PersonalDataErased { .. } => {
                ApiError::refused("personal_data_erased", error.to_string())
            }
            other => ApiError::internal(&other),
        }
    }
}

impl From<shouwang_projections::ProjectionError> for ApiError {
    fn from(error: shouwang_projections::ProjectionError) -> Self {
        ApiError::internal(&error)
    }
}

impl From<shouwang_infrastructure::users::UserError> for ApiError {
    fn from(error: shouwang_infrastructure::users::UserError) -> Self {
        use shouwang_infrastructure::users::UserError;
        match error {
            UserError::BadCredentials => ApiError::new(
                StatusCode::UNAUTHORIZED,
                "bad_credentials",
                error.to_string(),
            ),
            UserError::Disabled => {
                ApiError::new(StatusCode::FORBIDDEN, "account_disabled", error.to_string())
            }
            UserError::RateLimited {
                retry_after_seconds,
            } => ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "login_rate_limited",
                error.to_string(),
            )
            .with_retry_after(retry_after_seconds),
            UserError::Store(store) => store.into(),
            other => ApiError::refused("invalid_user", other.to_string()),
        }
    }
}

/// The first path segment of a serde error such as
/// `action.minutes: invalid type: string "x", expected u32 at line 1 column 30`.
fn field_of(message: &str) -> Option<String> {
    let candidate = message.split(": ").next()?;
    let is_path = !candidate.is_empty()
        && !candidate.contains(' ')
        && candidate
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'));
    is_path.then(|| candidate.to_owned())
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::JsonDataError(error) => {
                let text = error.body_text();
                let inner = text
                    .split_once("target type: ")
                    .map(|(_, rest)| rest.to_owned())
                    .unwrap_or(text);
                let field = field_of(&inner);
                let detail = match &field {
                    Some(field) => format!("字段 {field} 的值不正确：{inner}"),
                    None => format!("请求内容缺少字段或字段类型不正确：{inner}"),
                };
                let error = ApiError::bad_request("invalid_field", detail);
                match field {
                    Some(field) => error.with_field(field),
                    None => error,
                }
            }
            JsonRejection::JsonSyntaxError(error) => ApiError::bad_request(
                "malformed_json",
                format!("请求内容不是合法的 JSON：{}", error.body_text()),
            ),
            JsonRejection::MissingJsonContentType(_) => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported_media_type",
                "请求必须是 JSON（Content-Type: application/json）",
            ),
            other => ApiError::bad_request("bad_request", other.body_text()),
        }
    }
}

impl From<PathRejection> for ApiError {
    fn from(rejection: PathRejection) -> Self {
        ApiError::bad_request(
            "invalid_path",
            format!("地址中的编号格式不正确：{}", rejection.body_text()),
        )
    }
}

impl From<QueryRejection> for ApiError {
    fn from(rejection: QueryRejection) -> Self {
        let text = rejection.body_text();
        let inner = text
            .split_once("query string: ")
            .map(|(_, rest)| rest.to_owned())
            .unwrap_or(text);
        let error = ApiError::bad_request("invalid_query", format!("查询参数不正确：{inner}"));
        match field_of(&inner) {
            Some(field) => error.with_field(field),
            None => error,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_are_taken_from_serde_messages() {
        assert_eq!(
            field_of("action.minutes: invalid type: string \"x\", expected u32"),
            Some("action.minutes".to_owned())
        );
        assert_eq!(field_of("missing field `minutes` at line 1"), None);
    }
}

#[cfg(test)]
mod mapping_tests {
    use shouwang_domain::care_case::CaseError;
    use shouwang_infrastructure::CommandError;

    use super::*;

    #[test]
    fn command_outcomes_map_to_their_status_and_code() {
        let conflict = ApiError::from(CommandError::<CaseError>::Conflict);
        assert_eq!(
            (conflict.status(), conflict.code()),
            (StatusCode::CONFLICT, "concurrent_modification")
        );
        let refused = ApiError::from(CommandError::Refused(CaseError::CaseNotOpened));
        assert_eq!(
            (refused.status(), refused.code()),
            (StatusCode::UNPROCESSABLE_ENTITY, "case_not_opened")
        );
        let internal = ApiError::from(StoreError::Configuration("secret table name".into()));
        assert_eq!(
            (internal.status(), internal.code()),
            (StatusCode::INTERNAL_SERVER_ERROR, "internal_error")
        );
        assert!(!internal.problem().detail.contains("secret"));
    }
}
