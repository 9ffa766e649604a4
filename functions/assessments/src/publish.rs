//! `POST /assessments/{id}/publish`: an assessment goes out to classes, whose
//! students may then read it.

use axum::extract::State;
use axum::http::HeaderMap;
use domain::ids::{AssessmentId, ClassId};
use domain::principal::Role;
use domain::publication::Publication;
use domain::tenancy::Tenant;
use store::AppState;
use store::publication::{self, Published};
use web::envelope::{ApiResponse, Success};
use web::error::AppResult;
use web::extract::Caller;
use web::extract::PathId;
use web::http::expect_version;
use web::json::Json;
use web::openapi::*;

use crate::find;
use crate::view::AssessmentView;

/// Publishes an assessment to classes (a new version); publishing again adds classes.
#[utoipa::path(
    post,
    path = "/api/v1/assessments/{id}/publish",
    operation_id = "publish_assessment",
    tag = "assessments",
    params(
        ("id" = AssessmentId, Path, description = "The assessment's id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?("[0-9]+"|[0-9]+))$"#, description = "The `ETag` the change is based on"),
    ),
    request_body = Publication,
    responses(
        (status = 200, description = "The assessment, published", body = Success<AssessmentView>,
            headers(("ETag" = String, description = "The new version, quoted"))),
        JsonBodyErrors,
        (status = 401, response = Unauthenticated),
        (status = 403, response = Forbidden),
        (status = 404, response = NotFound),
        (status = 409, response = Conflict),
        (status = 412, response = PreconditionFailed),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn publish(
    State(state): State<AppState>,
    Caller(principal): Caller,
    headers: HeaderMap,
    PathId(id): PathId<AssessmentId>,
    Json(req): Json<Publication>,
) -> AppResult<ApiResponse<AssessmentView>> {
    principal.require_role(&[Role::Admin, Role::Teacher])?;
    let tenant = Tenant::of(&principal);
    let assessment = find(&state, &tenant, &id).await?;
    principal.require_owner_or_admin(&assessment.audit.created_by, "the assessment's author")?;
    let expected = expect_version(&headers, assessment.audit.version, "assessment")?;
    let added = publication::classes_to_add(&state, &tenant, &principal, &assessment.class_ids, req.class_ids).await?;
    if added.is_empty() {
        // Published there already: nothing changes.
        let version = assessment.audit.version;
        return Ok(ApiResponse::ok(AssessmentView::of(assessment, true)).with_etag(version));
    }
    let published = Published {
        item: tenant.assessment(&id),
        item_id: id.to_string(),
        version: assessment.audit.version,
        class_ids: &assessment.class_ids,
        published_at: assessment.published_at.as_deref(),
    };
    let entry = |class: &ClassId| tenant.class_assessment(class, &id);
    publication::commit(&state, &principal, published, &added, entry, expected, "assessment").await?;
    let published = find(&state, &tenant, &id).await?;
    store::activity::record(&state, &tenant, &principal.user_id, "assessment.published", &id).await;
    tracing::info!(assessment_id = %id, classes = added.len(), "assessment published");
    let version = published.audit.version;
    Ok(ApiResponse::ok(AssessmentView::of(published, true)).with_etag(version))
}
