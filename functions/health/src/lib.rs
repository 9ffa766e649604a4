//! `/api/v1/health`, `/health/live` and `/health/ready`. Readiness really calls each
//! dependency, each with a short timeout, and names whichever failed.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::Router;
use axum::extract::State;
use serde::Serialize;
use toolbox::AppState;
use toolbox::aws::QueueAttributeName;
use toolbox::envelope::ApiResponse;
use toolbox::error::{AppError, AppResult};
use toolbox::http::RouteTable;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> RouteTable {
    RouteTable::new().get("/api/v1/health", health).get("/api/v1/health/live", live).get("/api/v1/health/ready", ready)
}

pub fn router(state: AppState) -> Router {
    routes().into_router(state)
}

#[derive(Debug, Serialize)]
pub struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
}

async fn health() -> ApiResponse<Health> {
    ApiResponse::ok(Health { status: "ok", service: "toolbox-ai", version: env!("CARGO_PKG_VERSION") })
}

/// Liveness: the process answers. No dependency is called.
async fn live() -> ApiResponse<Health> {
    health().await
}

#[derive(Debug, Serialize)]
pub struct Check {
    status: &'static str,
    latency_ms: u64,
}

#[derive(Debug, Serialize)]
pub struct Readiness {
    status: &'static str,
    checks: BTreeMap<&'static str, Check>,
}

async fn timed<F, T, E>(name: &'static str, call: F) -> (&'static str, Check)
where
    F: Future<Output = Result<T, E>>,
    E: std::fmt::Debug,
{
    let started = Instant::now();
    let status = match tokio::time::timeout(CHECK_TIMEOUT, call).await {
        Ok(Ok(_)) => "ok",
        Ok(Err(err)) => {
            tracing::warn!(dependency = name, error = ?err, "readiness check failed");
            "error"
        }
        Err(_) => {
            tracing::warn!(dependency = name, "readiness check timed out");
            "timeout"
        }
    };
    (name, Check { status, latency_ms: started.elapsed().as_millis() as u64 })
}

async fn ready(State(state): State<AppState>) -> AppResult<ApiResponse<Readiness>> {
    let aws = &state.aws;
    let config = &state.config;
    let (dynamodb, sqs, s3, secrets) = tokio::join!(
        timed("dynamodb", aws.dynamodb.describe_table().table_name(&config.table_name).send()),
        timed(
            "sqs",
            aws.sqs
                .get_queue_attributes()
                .queue_url(&config.queue_url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .send()
        ),
        timed("s3", aws.s3.head_bucket().bucket(&config.bucket_name).send()),
        timed("secretsmanager", aws.secrets.describe_secret().secret_id(&config.jwt_secret_id).send()),
    );
    let checks = BTreeMap::from([dynamodb, sqs, s3, secrets]);
    let failing: Vec<&str> = checks.iter().filter(|(_, c)| c.status != "ok").map(|(name, _)| *name).collect();
    if !failing.is_empty() {
        return Err(AppError::Unavailable {
            message: format!("not ready: {} unavailable", failing.join(", ")),
            retry_after_seconds: Some(5),
        });
    }
    Ok(ApiResponse::ok(Readiness { status: "ready", checks }))
}
