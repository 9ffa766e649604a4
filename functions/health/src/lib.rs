//! `/api/v1/health`, `/health/live` and `/health/ready` (readiness really
//! calls each dependency, each with a short timeout, and names whichever
//! failed), and the API's own description: `/openapi.json` and `/docs`.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse};
use serde::Serialize;
use store::AppState;
use store::aws::QueueAttributeName;
use utoipa::OpenApi;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::http::{RouteTable, routes};
use web::openapi::Unavailable;

const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub fn routes() -> RouteTable {
    RouteTable::new(ApiDoc::openapi)
        .routes(routes!(health))
        .routes(routes!(live))
        .routes(routes!(ready))
        .routes(routes!(openapi_json))
        .routes(routes!(docs))
}

#[derive(utoipa::OpenApi)]
#[openapi(
    tags((name = "health", description = "Liveness, readiness and this document"))
)]
pub struct ApiDoc;

/// The whole API's OpenAPI document, generated from the code of every
/// function by `make openapi`; a test fails when it is stale.
pub const OPENAPI_JSON: &str = include_str!("../../../openapi.json");

#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    status: &'static str,
    service: &'static str,
    version: &'static str,
}

#[utoipa::path(
    get,
    path = "/api/v1/health",
    tag = "health",
    responses((status = 200, description = "The service answers", body = Success<Health>)),
    security(())
)]
async fn health() -> ApiResponse<Health> {
    ApiResponse::ok(Health { status: "ok", service: "toolbox-ai", version: env!("CARGO_PKG_VERSION") })
}

/// Liveness: the process answers. No dependency is called.
#[utoipa::path(
    get,
    path = "/api/v1/health/live",
    tag = "health",
    responses((status = 200, description = "The process is alive", body = Success<Health>)),
    security(())
)]
async fn live() -> ApiResponse<Health> {
    health().await
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Check {
    /// `ok`, `error` or `timeout`.
    #[schema(value_type = String)]
    status: &'static str,
    latency_ms: u64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct Readiness {
    #[schema(value_type = String, example = "ready")]
    status: &'static str,
    /// One check per dependency: dynamodb, sqs, s3, secretsmanager.
    #[schema(value_type = BTreeMap<String, Check>)]
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

/// Readiness: each dependency answers within its timeout.
#[utoipa::path(
    get,
    path = "/api/v1/health/ready",
    tag = "health",
    responses(
        (status = 200, description = "Every dependency answers", body = Success<Readiness>),
        (status = 503, response = Unavailable),
    ),
    security(())
)]
async fn ready(State(state): State<AppState>) -> AppResult<ApiResponse<Readiness>> {
    let aws = &state.aws;
    let config = &state.config;
    let (dynamodb, sqs, s3, secrets) = tokio::join!(
        timed("dynamodb", aws.dynamodb.describe_table().table_name(&config.table_name).send()),
        timed(
            "sqs",
            aws.sqs()
                .get_queue_attributes()
                .queue_url(&config.queue_url)
                .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
                .send()
        ),
        timed("s3", aws.s3().head_bucket().bucket(&config.bucket_name).send()),
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

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/api/v1/openapi.json",
    tag = "health",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json")),
    security(())
)]
async fn openapi_json() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json; charset=utf-8"), (header::CACHE_CONTROL, "public, max-age=300")],
        OPENAPI_JSON,
    )
}

/// The document rendered for people (Redoc, loaded by the browser).
#[utoipa::path(
    get,
    path = "/api/v1/docs",
    tag = "health",
    responses((status = 200, description = "An HTML page", content_type = "text/html")),
    security(())
)]
async fn docs() -> impl IntoResponse {
    Html(DOCS_PAGE)
}

// A relative spec URL, so the page works under an API Gateway stage prefix.
const DOCS_PAGE: &str = r#"<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>ToolboxAI Serverless API</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body>
<redoc spec-url="openapi.json"></redoc>
<script src="https://cdn.redoc.ly/redoc/v2.1.5/bundles/redoc.standalone.js"></script>
</body>
</html>
"#;
