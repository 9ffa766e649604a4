//! The ten lines every function's `main.rs` would otherwise repeat.

use axum::Router;

use store::AppState;

/// Cold start of an HTTP function: JSON logs, configuration (failing fast on
/// a missing variable), clients, then the Lambda runtime loop.
pub async fn run_http(router: fn(AppState) -> Router) -> Result<(), lambda_http::Error> {
    store::logging::init();
    let state = AppState::from_env().await.inspect_err(|err| tracing::error!(error = %err, "cold start failed"))?;
    lambda_http::run(router(state)).await
}
