//! The ten lines every function's `main.rs` would otherwise repeat.

use store::AppState;

use crate::http::RouteTable;

/// Cold start of an HTTP function: JSON logs, configuration (failing fast on
/// a missing variable), clients, then the function's routes in the Lambda
/// runtime loop.
pub async fn run_http(routes: fn() -> RouteTable) -> Result<(), lambda_http::Error> {
    store::logging::init();
    let state = AppState::from_env().await.inspect_err(|err| tracing::error!(error = %err, "cold start failed"))?;
    lambda_http::run(routes().into_router(state)).await
}
