//! `POST /compliance/exports` and `GET /compliance/exports/{id}`: one
//! member's data as a JSON bundle (GDPR access and portability, a parent's
//! review under COPPA).

use axum::extract::State;
use axum::http::StatusCode;
use domain::audit_log::{Action, Target, TargetType};
use domain::ids::{PrivacyJobId, UserId};
use domain::job::JobStatus;
use domain::principal::Role;
use domain::privacy::PrivacyJobKind;
use serde::Deserialize;
use store::AppState;
use store::audit_log;
use utoipa::ToSchema;
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::{Caller, PathId};
use web::json::Json;
use web::openapi::*;

use crate::jobs::{self, PrivacyJobView};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DataExportRequest {
    /// Whose data: an admin names anyone, a parent a linked child, anyone
    /// else themselves.
    user_id: UserId,
}

/// Asks for a member's data: their profile, classes, progress, submissions,
/// their own copies of messages, their consents and their own audit
/// entries, in one JSON file. The worker writes it; poll the job for its
/// link. Nobody else's personal data is in it.
#[utoipa::path(
    post,
    path = "/api/v1/compliance/exports",
    operation_id = "create_export",
    tag = "compliance",
    request_body = DataExportRequest,
    responses(
        (status = 202, description = "Queued", body = Success<PrivacyJobView>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn create(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    Json(req): Json<DataExportRequest>,
) -> AppResult<(StatusCode, ApiResponse<PrivacyJobView>)> {
    // A person's own right, or their parent's, or the school's: not a key's.
    principal.require_user()?;
    let own = req.user_id == principal.user_id;
    let link = match principal.role {
        Role::Admin => None,
        _ if own => None,
        // Not linked to this parent: as if there were no such child.
        Role::Parent => Some(tenant.guardian_link(&principal.user_id, &req.user_id)),
        _ => return Err(AppError::Forbidden("a member exports their own data".into())),
    };
    let subject = jobs::subject(&state, &tenant, &req.user_id, link).await?;
    let job = jobs::new_job(&state, &tenant, PrivacyJobKind::Export, &subject.id, &principal);
    let entry = audit::by(&state, &principal, Action::ExportRequested)
        .target(Target::user(&subject.id))
        .target(Target::of(TargetType::PrivacyJob, &job.id));
    state.db.transact(vec![jobs::create(&state, &tenant, &job)?, audit_log::put(&state, &tenant, &entry)?]).await?;
    jobs::send(&state, &job).await;
    tracing::info!(job_id = %job.id, user_id = %subject.id, "export requested");
    Ok((StatusCode::ACCEPTED, ApiResponse::ok(PrivacyJobView::of(job))))
}

/// An export's status and, once it succeeded, a link to its bundle valid
/// for 15 minutes, made anew on each read. For admins and the member who
/// asked for it.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/exports/{id}",
    operation_id = "get_export",
    tag = "compliance",
    params(("id" = PrivacyJobId, Path, description = "The export's id")),
    responses(
        (status = 200, description = "The export", body = Success<PrivacyJobView>),
        ReadOne,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(id): PathId<PrivacyJobId>,
) -> AppResult<ApiResponse<PrivacyJobView>> {
    principal.require_user()?;
    let job = jobs::visible(&state, &principal, &tenant, &id, PrivacyJobKind::Export).await?;
    let object = job.object_key.clone().filter(|_| job.status == JobStatus::Succeeded);
    let view = PrivacyJobView::of(job);
    let Some(object) = object else {
        return Ok(ApiResponse::ok(view));
    };
    let (link, expires_at) = store::objects::download_link(&state, &object, "export.json").await?;
    Ok(ApiResponse::ok(view.with_download(link, expires_at)))
}
