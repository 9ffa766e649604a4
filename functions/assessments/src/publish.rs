//! `POST /assessments/{id}/publish`: an assessment goes out to classes, whose
//! students may then read it.

use axum::extract::State;
use domain::assessment::Assessment;
use domain::ids::AssessmentId;
use domain::publication::Publication;
use store::AppState;
use store::publication;
use web::envelope::{ApiResponse, Success};
use web::error::AppResult;
use web::extract::IfMatch;
use web::extract::PathId;
use web::extract::Staff;
use web::json::Json;
use web::openapi::*;

use crate::view::AssessmentView;

/// Publishes an assessment to classes (a new version); publishing again adds classes.
#[utoipa::path(
    post,
    path = "/api/v1/assessments/{id}/publish",
    operation_id = "publish_assessment",
    tag = "assessments",
    params(
        ("id" = AssessmentId, Path, description = "The assessment's id"),
        IfMatch,
    ),
    request_body = Publication,
    responses(
        (status = 200, description = "The assessment, published", body = Success<AssessmentView>,
            headers(("ETag" = String, description = "The new version, quoted"))),
        JsonBodyErrors,
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn publish(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<AssessmentId>,
    IfMatch(asked): IfMatch,
    Json(req): Json<Publication>,
) -> AppResult<ApiResponse<AssessmentView>> {
    let published: Assessment = publication::publish(&state, &tenant, &principal, &id, req.class_ids, asked).await?;
    let version = published.audit.version;
    Ok(ApiResponse::ok(AssessmentView::of(published, true)).with_etag(version))
}
