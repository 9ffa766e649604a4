//! `POST /lessons/{id}/publish`: a lesson goes out to classes, whose
//! students may then read it.

use axum::extract::State;
use domain::ids::LessonId;
use domain::lesson::Lesson;
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

use crate::view::LessonView;

/// Publishes a lesson to classes (a new version); publishing again adds classes.
#[utoipa::path(
    post,
    path = "/api/v1/lessons/{id}/publish",
    operation_id = "publish_lesson",
    tag = "lessons",
    params(
        ("id" = LessonId, Path, description = "The lesson's id"),
        IfMatch,
    ),
    request_body = Publication,
    responses(
        (status = 200, description = "The lesson, published", body = Success<LessonView>,
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
    PathId(id): PathId<LessonId>,
    IfMatch(asked): IfMatch,
    Json(req): Json<Publication>,
) -> AppResult<ApiResponse<LessonView>> {
    let published: Lesson = publication::publish(&state, &tenant, &principal, &id, req.class_ids, asked).await?;
    let version = published.audit.version;
    Ok(ApiResponse::ok(LessonView::from(published)).with_etag(version))
}
