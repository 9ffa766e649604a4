//! `POST /lessons/{id}/publish`: a lesson goes out to classes, whose
//! students may then read it.

use axum::extract::State;
use axum::http::HeaderMap;
use domain::ids::{ClassId, LessonId};
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

use crate::lessons::find;
use crate::view::LessonView;

/// Publishes a lesson to classes (a new version); publishing again adds classes.
#[utoipa::path(
    post,
    path = "/api/v1/lessons/{id}/publish",
    operation_id = "publish_lesson",
    tag = "lessons",
    params(
        ("id" = LessonId, Path, description = "The lesson's id"),
        ("If-Match" = Option<String>, Header, nullable = false, pattern = r#"^(\*|(W/)?("[0-9]+"|[0-9]+))$"#, description = "The `ETag` the change is based on"),
    ),
    request_body = Publication,
    responses(
        (status = 200, description = "The lesson, published", body = Success<LessonView>,
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
    PathId(id): PathId<LessonId>,
    Json(req): Json<Publication>,
) -> AppResult<ApiResponse<LessonView>> {
    principal.require_role(&[Role::Admin, Role::Teacher])?;
    let tenant = Tenant::of(&principal);
    let lesson = find(&state, &tenant, &id).await?;
    principal.require_owner_or_admin(&lesson.audit.created_by, "the lesson's author")?;
    let expected = expect_version(&headers, lesson.audit.version, "lesson")?;
    let added = publication::classes_to_add(&state, &tenant, &principal, &lesson.class_ids, req.class_ids).await?;
    if added.is_empty() {
        // Published there already: nothing changes.
        let version = lesson.audit.version;
        return Ok(ApiResponse::ok(LessonView::from(lesson)).with_etag(version));
    }
    let published = Published {
        item: tenant.lesson(&id),
        item_id: id.to_string(),
        version: lesson.audit.version,
        class_ids: &lesson.class_ids,
        published_at: lesson.published_at.as_deref(),
    };
    let entry = |class: &ClassId| tenant.class_lesson(class, &id);
    publication::commit(&state, &principal, published, &added, entry, expected, "lesson").await?;
    let published = find(&state, &tenant, &id).await?;
    store::activity::record(&state, &tenant, &principal.user_id, "lesson.published", &id).await;
    tracing::info!(lesson_id = %id, classes = added.len(), "lesson published");
    let version = published.audit.version;
    Ok(ApiResponse::ok(LessonView::from(published)).with_etag(version))
}
