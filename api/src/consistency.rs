//! Read-your-writes: a query may pass the position its write returned
//! (`?after=POSITION`) and is answered only once the read models it reads
//! have applied that event — or, after a bounded wait, refused with 503 and
//! `Retry-After`, so the client can try again instead of reading stale data.

use std::time::Instant;

use serde::Deserialize;
use utoipa::IntoParams;

use crate::error::ApiError;
use crate::state::AppState;

/// `?after=POSITION`: the global position returned by an earlier write.
#[derive(Debug, Clone, Copy, Default, Deserialize, IntoParams)]
pub struct After {
    /// Answer only once the read model includes the event at this position.
    pub after: Option<i64>,
}

/// Waits until the named projections have applied the event at `position`.
pub async fn wait_for(
    state: &AppState,
    after: After,
    projections: &[&str],
) -> Result<(), ApiError> {
    let Some(position) = after.after else {
        return Ok(());
    };
    let Some(target) = state.store().cursor_at(position).await? else {
        return Err(ApiError::bad_request(
            "unknown_position",
            format!("全局位置 {position} 上没有事件，请使用写入时返回的位置"),
        )
        .with_field("after"));
    };
    let deadline = Instant::now() + state.settings().read_your_writes_wait;
    loop {
        let statuses = state.projector().status().await?;
        let relevant = statuses
            .iter()
            .filter(|status| projections.is_empty() || projections.contains(&status.name.as_str()));
        let mut caught_up = true;
        for status in relevant {
            if status.error.is_some() {
                return Err(ApiError::new(
                    axum::http::StatusCode::SERVICE_UNAVAILABLE,
                    "read_model_stopped",
                    format!(
                        "读模型 {} 已因错误停止，数据暂不可用，请联系系统管理员",
                        status.name
                    ),
                ));
            }
            caught_up &= status.cursor >= target;
        }
        if caught_up {
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(ApiError::new(
                axum::http::StatusCode::SERVICE_UNAVAILABLE,
                "read_model_behind",
                "数据正在更新，请稍后重试",
            )
            .with_retry_after(1));
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
}
