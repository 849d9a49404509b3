//! The HTTP API of shouwang (守望): every command and query as JSON over REST
//! under `/api/v1`, with sessions, the permission matrix and region scope,
//! RFC 9457 problem responses, an OpenAPI 3.1 document and a built-in page.

pub mod auth;
pub mod authz;
pub mod consistency;
pub mod docs;
pub mod error;
pub mod extract;
pub mod metrics;
pub mod receipt;
pub mod routes;
pub mod state;

use std::future::Future;

pub use routes::{openapi, router};
pub use state::{ApiSettings, AppState};

/// Serves the API until `shutdown` resolves; in-flight requests finish.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(state))
        .with_graceful_shutdown(shutdown)
        .await
}
