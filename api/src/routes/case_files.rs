//! (endpoints under construction)

use utoipa::OpenApi;

use crate::state::AppState;

#[derive(Debug, OpenApi)]
#[openapi()]
pub struct Api;

pub fn routes() -> axum::Router<AppState> {
    axum::Router::new()
}
