//! `POST /compliance/erasures` and `GET /compliance/erasures/{id}`: a
//! member's data deleted, the school being the controller that decides it.

use axum::extract::State;
use axum::http::StatusCode;
use domain::audit_log::{Action, Target, TargetType};
use domain::ids::{PrivacyJobId, UserId};
use domain::principal::Role;
use domain::privacy::PrivacyJobKind;
use domain::user::{User, field};
use serde::Deserialize;
use store::AppState;
use store::audit_log;
use store::db::{DbError, Write};
use store::membership;
use store::records::{Changes, Condition};
use utoipa::ToSchema;
use web::audit;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::{Admin, PathId};
use web::json::Json;
use web::openapi::*;

use crate::jobs::{self, PrivacyJobView};

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ErasureRequest {
    /// The member (or former member) to erase.
    user_id: UserId,
}

/// Erases a member. At once, in one transaction, they are disabled and
/// signed out everywhere (their token is refused from the next request),
/// their API keys revoked and their email freed; then the worker deletes
/// their user item, roster entries (class counts drop), progress,
/// submissions, copies of messages, parent–child links and exports.
/// Messages they sent stay, from "deleted user"; statistics and counters
/// stay; audit entries keep their id, which is then a pseudonym. The last
/// admin cannot be erased (409), nor anyone twice (409).
#[utoipa::path(
    post,
    path = "/api/v1/compliance/erasures",
    operation_id = "create_erasure",
    tag = "compliance",
    request_body = ErasureRequest,
    responses(
        (status = 202, description = "The member is disabled; the erasure is queued", body = Success<PrivacyJobView>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn create(
    State(state): State<AppState>,
    Admin(principal, tenant): Admin,
    Json(req): Json<ErasureRequest>,
) -> AppResult<(StatusCode, ApiResponse<PrivacyJobView>)> {
    principal.require_user()?;
    let member: User = state.db.get(&tenant.user(&req.user_id)).await?.ok_or_else(|| AppError::not_found("user"))?;
    if member.erasure_id.is_some() {
        return Err(AppError::Conflict("an erasure of this member is already under way".into()));
    }
    let job = jobs::new_job(&state, &tenant, PrivacyJobKind::Erasure, &member.id, &principal);
    // Marked once: a second erasure finds the mark and stops.
    let mark =
        |changes: Changes<User>| changes.set(field::ERASURE_ID, &job.id).when(Condition::absent(field::ERASURE_ID));
    // A member still here leaves as a removal makes them leave; a former
    // member (removed before) is only marked. The member's write is first.
    let mut writes = if member.is_active() {
        membership::removal(&state, &tenant, &member, &principal.user_id, mark).await?
    } else {
        let marked = mark(Changes::new());
        vec![Write::Update(state.db.patch_update(&tenant, &member, None, &principal.user_id, state.now(), marked)?)]
    };
    writes.push(jobs::create(&state, &tenant, &job)?);
    let entry = audit::by(&state, &principal, Action::ErasureRequested)
        .target(Target::user(&member.id))
        .target(Target::of(TargetType::PrivacyJob, &job.id))
        .changes(serde_json::json!({"role": member.role}), serde_json::json!(null));
    writes.push(audit_log::put(&state, &tenant, &entry)?);
    state.db.transact(writes).await.map_err(|err| match err {
        DbError::Cancelled { failed } if failed.contains(&0) => {
            AppError::Conflict("the member was changed meanwhile, or is already being erased; retry".into())
        }
        other => membership::last_admin(other).into(),
    })?;
    jobs::send(&state, &job).await;
    tracing::info!(job_id = %job.id, user_id = %member.id, was_admin = member.role == Role::Admin, "erasure requested");
    Ok((StatusCode::ACCEPTED, ApiResponse::ok(PrivacyJobView::of(job))))
}

/// An erasure's progress: its steps done of all, and what it deleted.
#[utoipa::path(
    get,
    path = "/api/v1/compliance/erasures/{id}",
    operation_id = "get_erasure",
    tag = "compliance",
    params(("id" = PrivacyJobId, Path, description = "The erasure's id")),
    responses(
        (status = 200, description = "The erasure", body = Success<PrivacyJobView>),
        ReadOne,
    ),
    security(("bearer" = [])),
    extensions(("x-roles" = json!(["admin"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Admin(principal, tenant): Admin,
    PathId(id): PathId<PrivacyJobId>,
) -> AppResult<ApiResponse<PrivacyJobView>> {
    let job = jobs::visible(&state, &principal, &tenant, &id, PrivacyJobKind::Erasure).await?;
    Ok(ApiResponse::ok(PrivacyJobView::of(job)))
}
