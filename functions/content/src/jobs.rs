//! `GET /content/jobs` (optionally by status) and `GET /content/jobs/{id}`.

use axum::extract::{Query, State};
use axum::http::Uri;
use domain::ids::JobId;
use domain::job::{Job, JobStatus};
use domain::tenancy::Tenant;
use serde::Deserialize;
use store::AppState;
use store::cursor;
use store::db::Range;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::Staff;
use web::openapi::*;

use crate::view::JobView;

#[derive(Deserialize)]
struct JobFilter {
    status: Option<String>,
}

fn status_filter(uri: &Uri) -> AppResult<Option<JobStatus>> {
    let bad = || AppError::BadRequest("status must be one of queued, running, succeeded, failed".into());
    let Query(filter) = Query::<JobFilter>::try_from_uri(uri).map_err(|_| bad())?;
    filter.status.map(|s| serde_json::from_value(serde_json::Value::String(s)).map_err(|_| bad())).transpose()
}

/// The organization's generation jobs, newest first; `?status=` narrows
/// them to one status (read from an index, not filtered).
// A key that may generate may also follow its jobs and read what they made.
#[utoipa::path(
    get,
    path = "/api/v1/content/jobs",
    operation_id = "list_jobs",
    tag = "content",
    params(
        ("status" = Option<JobStatus>, Query, nullable = false, description = "Only jobs in this status"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of jobs", body = Success<Vec<JobView>>),
        ReadList,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["read", "content:generate"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    uri: Uri,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<JobView>>> {
    let status = status_filter(&uri)?;
    let keys = state.key_set().await?;
    let list = format!("jobs?status={}", status.map_or("", JobStatus::as_str));
    let start = page.start(&keys, &tenant, &list)?;
    // The jobs in one status (gsi1), or all of them (the tenant's list, gsi2).
    let partition = match status {
        Some(status) => tenant.jobs_in_status(status.as_str()),
        None => tenant.listing(Tenant::JOB_PREFIX),
    };
    let range = match status {
        Some(_) => Range::gsi1(&partition, Tenant::JOB_PREFIX),
        None => Range::listing(&partition, Tenant::JOB_PREFIX),
    }
    .newest_first();
    let found = state.db.query::<Job>(&range, page.limit, start).await?;
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, &list, &key));
    Ok(ApiResponse::page(found.items.into_iter().map(JobView::from).collect(), next))
}

/// One job: its status, stage and progress, and its content once it succeeded.
#[utoipa::path(
    get,
    path = "/api/v1/content/jobs/{id}",
    operation_id = "get_job",
    tag = "content",
    params(("id" = JobId, Path, description = "The job's id")),
    responses(
        (status = 200, description = "The job", body = Success<JobView>),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["read", "content:generate"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    PathId(id): PathId<JobId>,
) -> AppResult<ApiResponse<JobView>> {
    let job = state.db.get::<Job>(&tenant.job(&id)).await?.ok_or_else(|| AppError::not_found("job"))?;
    Ok(ApiResponse::ok(job.into()))
}
