//! `POST /lessons/{id}/publish`: a lesson goes out to classes, whose
//! students may then read it.

use axum::extract::State;
use axum::http::HeaderMap;
use serde::Deserialize;
use toolbox::AppState;
use toolbox::clock::rfc3339;
use toolbox::db::{Db, Write, s, value};
use toolbox::domain::class::Class;
use toolbox::domain::lesson::{ClassLesson, LessonStatus};
use toolbox::envelope::{ApiResponse, Success};
use toolbox::error::{AppError, AppResult};
use toolbox::http::{PathId, expect_version, lost_race};
use toolbox::ids::{ClassId, LessonId};
use toolbox::json::Json;
use toolbox::openapi::*;
use toolbox::principal::{Principal, Role};
use toolbox::tenancy::Tenant;
use utoipa::ToSchema;

use crate::lessons::find;
use crate::may_manage;
use crate::view::LessonView;

/// A lesson is published to at most this many classes.
const MAX_CLASSES: usize = 20;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Publication {
    /// Classes of the organization to publish to (added to those it is in).
    #[schema(min_items = 1, max_items = 20)]
    class_ids: Vec<ClassId>,
}

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
    principal: Principal,
    headers: HeaderMap,
    PathId(id): PathId<LessonId>,
    Json(req): Json<Publication>,
) -> AppResult<ApiResponse<LessonView>> {
    principal.require_role(&[Role::Admin, Role::Teacher])?;
    let tenant = Tenant::of(&principal);
    let lesson = find(&state, &tenant, &id).await?;
    may_manage(&principal, &lesson)?;
    let expected = expect_version(&headers, lesson.audit.version, "lesson")?;
    if req.class_ids.is_empty() {
        return Err(AppError::invalid("class_ids", "give at least one class"));
    }
    let mut added: Vec<ClassId> = Vec::new();
    for class in req.class_ids {
        if !lesson.class_ids.contains(&class) && !added.contains(&class) {
            added.push(class);
        }
    }
    if added.is_empty() {
        // Published there already: nothing changes.
        let version = lesson.audit.version;
        return Ok(ApiResponse::ok(LessonView::from(lesson)).with_etag(version));
    }
    if lesson.class_ids.len() + added.len() > MAX_CLASSES {
        return Err(AppError::invalid("class_ids", format!("a lesson is published to at most {MAX_CLASSES} classes")));
    }
    let found = state.db.batch_get(&added.iter().map(|class| tenant.class(class)).collect::<Vec<_>>()).await?;
    for (class, item) in added.iter().zip(found) {
        let Some(class) = item.map(Db::decode::<Class>).transpose()?.filter(|class| class.deleted_at.is_none()) else {
            return Err(AppError::invalid("class_ids", format!("no such class: {class}")));
        };
        if principal.role != Role::Admin && class.teacher_id != principal.user_id {
            return Err(AppError::Forbidden(format!(
                "only the teacher of class {} or an admin publishes to it",
                class.id
            )));
        }
    }
    let now = rfc3339(state.now());
    let mut class_ids = lesson.class_ids.clone();
    class_ids.extend(added.iter().cloned());
    let mut writes = vec![Write::Update(state.db.update_versioned(
        &tenant.lesson(&id),
        lesson.audit.version,
        &principal.user_id,
        state.now(),
        vec![
            ("status", value(&LessonStatus::Published)?),
            ("class_ids", value(&class_ids)?),
            ("published_at", s(lesson.published_at.clone().unwrap_or_else(|| now.clone()))),
        ],
    )?)];
    for class in &added {
        let entry = ClassLesson { class_id: class.clone(), lesson_id: id.clone(), published_at: now.clone() };
        writes.push(Write::Put(state.db.put_new(&tenant.class_lesson(class, &id), &entry)?));
    }
    state.db.transact(writes).await.map_err(|err| match err {
        toolbox::db::DbError::Cancelled { failed } if failed.contains(&0) => {
            lost_race(expected, "lesson")(toolbox::db::DbError::ConditionFailed)
        }
        other => other.into(),
    })?;
    let published = find(&state, &tenant, &id).await?;
    tracing::info!(lesson_id = %id, classes = added.len(), "lesson published");
    let version = published.audit.version;
    Ok(ApiResponse::ok(LessonView::from(published)).with_etag(version))
}
