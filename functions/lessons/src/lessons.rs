//! Create (written, or from generated content), list, read, change and
//! delete lessons. Students read the published lessons of their classes.

use axum::extract::State;
use axum::http::Uri;
use domain::audit::Audit;
use domain::content::ContentItem;
use domain::generation::content::{GeneratedContent, Section};
use domain::generation::request::ContentKind;
use domain::ids::{ClassId, ContentId, LessonId};
use domain::json::present;
use domain::lesson::field;
use domain::lesson::{Lesson, LessonStatus};
use domain::principal::Role;
use domain::tenancy::Tenant;
use serde::Deserialize;
use store::AppState;
use store::bodies;
use store::publication;
use store::records::Changes;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::IfMatch;
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::{Caller, Staff, query_param};
use web::json::Json;
use web::openapi::*;

use crate::view::LessonView;

/// What a lesson says: the shape a generated lesson has, without its quiz.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LessonBody {
    #[schema(min_length = 1, max_length = 200)]
    title: String,
    #[schema(min_length = 1, max_length = 2000)]
    summary: String,
    #[schema(min_items = 1, max_items = 20)]
    objectives: Vec<String>,
    #[schema(min_items = 1, max_items = 30)]
    sections: Vec<Section>,
}

impl LessonBody {
    /// The body, held to the review's rules of shape for a lesson.
    fn checked(self) -> AppResult<GeneratedContent> {
        let body = GeneratedContent {
            title: self.title,
            summary: self.summary,
            objectives: self.objectives,
            sections: self.sections,
            quiz: Vec::new(),
        };
        let problems = body.check_edit(ContentKind::Lesson);
        if problems.is_empty() { Ok(body) } else { Err(AppError::Validation(problems)) }
    }
}

/// A lesson written here, or made from a generated lesson (`content_id` alone).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewLesson {
    /// A generated lesson of the organization to copy; give this or the body.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    content_id: Option<ContentId>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_length = 1, max_length = 2000)]
    summary: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_items = 1, max_items = 20)]
    objectives: Option<Vec<String>>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_items = 1, max_items = 30)]
    sections: Option<Vec<Section>>,
}

/// The body of a new lesson: the generated content's, or the one given.
async fn new_body(state: &AppState, tenant: &Tenant, req: NewLesson) -> AppResult<GeneratedContent> {
    match (req.content_id, req.title, req.summary, req.objectives, req.sections) {
        (Some(id), None, None, None, None) => {
            let item = state
                .db
                .find_live::<ContentItem>(tenant, &id)
                .await?
                .ok_or_else(|| AppError::invalid("content_id", "no such content"))?;
            if item.kind != ContentKind::Lesson {
                return Err(AppError::invalid("content_id", "must be a lesson (a quiz becomes an assessment)"));
            }
            let mut body = bodies::load(state, &item).await?;
            body.quiz.clear();
            Ok(body)
        }
        (None, Some(title), Some(summary), Some(objectives), Some(sections)) => {
            LessonBody { title, summary, objectives, sections }.checked()
        }
        (Some(_), ..) => Err(AppError::invalid("content_id", "give content_id alone, or a body without it")),
        _ => Err(AppError::invalid("body", "give title, summary, objectives and sections, or a content_id")),
    }
}

/// Creates a draft lesson, written here or copied from generated content.
#[utoipa::path(
    post,
    path = "/api/v1/lessons",
    operation_id = "create_lesson",
    tag = "lessons",
    request_body = NewLesson,
    responses(
        (status = 201, description = "The lesson, a draft", body = Success<LessonView>),
        JsonBodyErrors,
        Create,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn create(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    Json(req): Json<NewLesson>,
) -> AppResult<ApiResponse<LessonView>> {
    let content_id = req.content_id.clone();
    let body = new_body(&state, &tenant, req).await?;
    let lesson = Lesson {
        id: LessonId::new(),
        org_id: tenant.org_id().clone(),
        title: body.title,
        summary: body.summary,
        objectives: body.objectives,
        sections: body.sections,
        status: LessonStatus::Draft,
        class_ids: Vec::new(),
        content_id,
        published_at: None,
        audit: Audit::new(&principal.user_id, state.now()),
    };
    publication::create(&state, &tenant, &principal.user_id, &lesson).await?;
    store::activity::record(&state, &tenant, &principal, "lesson.created", &lesson.id, &[]).await;
    tracing::info!(lesson_id = %lesson.id, "lesson created");
    Ok(ApiResponse::created(lesson.into()))
}

/// Lessons, newest first: every lesson for teachers and admins; for a
/// student, the published lessons of one of their classes (`?class_id=`).
#[utoipa::path(
    get,
    path = "/api/v1/lessons",
    operation_id = "list_lessons",
    tag = "lessons",
    params(
        ("class_id" = Option<ClassId>, Query, nullable = false, description = "A class's published lessons (required for students)"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of lessons", body = Success<Vec<LessonView>>),
        ReadListOf,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal, _): Caller,
    uri: Uri,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<LessonView>>> {
    let (lessons, next) = publication::list::<Lesson>(
        &state,
        &principal,
        query_param(&uri, "class_id")?.as_deref(),
        page.limit,
        page.cursor.as_deref(),
    )
    .await?;
    Ok(ApiResponse::page(lessons.into_iter().map(LessonView::from).collect(), next))
}

/// One lesson: any lesson for teachers and admins; for a student, a lesson
/// published to one of their classes (any other is not found).
#[utoipa::path(
    get,
    path = "/api/v1/lessons/{id}",
    operation_id = "get_lesson",
    tag = "lessons",
    params(("id" = LessonId, Path, description = "The lesson's id")),
    responses(
        (status = 200, description = "The lesson", body = Success<LessonView>),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(id): PathId<LessonId>,
) -> AppResult<ApiResponse<LessonView>> {
    principal.require_role(&[Role::Admin, Role::Teacher, Role::Student])?;
    let tenant = tenant.clone();
    let lesson = state.db.live::<Lesson>(&tenant, &id).await?;
    if !publication::visible_to(&state, &tenant, &principal, &lesson).await? {
        return Err(AppError::not_found("lesson"));
    }
    let version = lesson.audit.version;
    Ok(ApiResponse::ok(LessonView::from(lesson)).with_etag(version))
}

/// Replaces a lesson's body (a new version). With `If-Match`, a stale
/// version is a 412; without, a concurrent change is a 409.
#[utoipa::path(
    put,
    path = "/api/v1/lessons/{id}",
    operation_id = "update_lesson",
    tag = "lessons",
    params(
        ("id" = LessonId, Path, description = "The lesson's id"),
        IfMatch,
    ),
    request_body = LessonBody,
    responses(
        (status = 200, description = "The lesson as changed", body = Success<LessonView>,
            headers(("ETag" = String, description = "The new version, quoted"))),
        JsonBodyErrors,
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn update(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<LessonId>,
    IfMatch(asked): IfMatch,
    Json(body): Json<LessonBody>,
) -> AppResult<ApiResponse<LessonView>> {
    let lesson: Lesson = state.db.live(&tenant, &id).await?;
    principal.require_owner_or_admin(&lesson.audit.created_by, "the lesson's author")?;
    let body = body.checked()?;
    let changes = Changes::new()
        .set(field::TITLE, &body.title)
        .set(field::SUMMARY, &body.summary)
        .set(field::OBJECTIVES, &body.objectives)
        .set(field::SECTIONS, &body.sections);
    // Its progress reports' summary holds the title.
    let renamed = Lesson { title: body.title.clone(), ..lesson.clone() };
    let changed =
        publication::patch(&state, &tenant, &lesson, Some(&renamed), asked, &principal.user_id, changes).await?;
    let version = changed.audit.version;
    store::activity::record_published(&state, &tenant, &principal, "lesson.updated", &id, &changed.class_ids).await;
    Ok(ApiResponse::ok(LessonView::from(changed)).with_etag(version))
}

/// Deletes a lesson: gone from lists, classes and reads; the stored item is
/// kept, marked deleted, for the audit trail.
#[utoipa::path(
    delete,
    path = "/api/v1/lessons/{id}",
    operation_id = "delete_lesson",
    tag = "lessons",
    params(
        ("id" = LessonId, Path, description = "The lesson's id"),
        IfMatch,
    ),
    responses(
        (status = 200, description = "The deleted lesson", body = Success<LessonView>),
        (status = 400, response = BadRequest),
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<LessonId>,
    IfMatch(asked): IfMatch,
) -> AppResult<ApiResponse<LessonView>> {
    let deleted: Lesson = publication::delete(&state, &tenant, &principal, &id, asked).await?;
    tracing::info!(lesson_id = %id, "lesson deleted");
    Ok(ApiResponse::ok(deleted.into()))
}
