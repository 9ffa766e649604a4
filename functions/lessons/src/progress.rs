//! Students' progress through lessons, and each lesson's statistics. A
//! report is recorded by `store::progress`, which a Roblox game's reports
//! go through too.

use axum::extract::State;
use axum::http::Uri;
use domain::clock::rfc3339;
use domain::guardian::{GuardianLink, Whose};
use domain::ids::{LessonId, UserId};
use domain::json::whole;
use domain::lesson::Lesson;
use domain::principal::Role;
use domain::progress::{LessonProgress, LessonStats, ProgressStatus, Report};
use domain::tenancy::Tenant;
use serde::{Deserialize, Serialize};
use store::AppState;
use store::counters::{self};
use store::cursor;
use store::db::{Db, Range};
use store::guardian::read_with_link;
use store::publication;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::{Caller, Staff, query_param};
use web::json::Json;
use web::openapi::*;

/// Where a student is in a lesson, as their app last saw it.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProgressReport {
    status: ProgressStatus,
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 0, maximum = 100)]
    percent: u8,
    /// Total time in the lesson so far, not the time since the last report.
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 0, maximum = 31536000)]
    time_spent_seconds: u64,
}

impl ProgressReport {
    fn parsed(self) -> AppResult<Report> {
        Ok(Report::checked(self.status, self.percent, self.time_spent_seconds)?)
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProgressView {
    lesson_id: LessonId,
    lesson_title: String,
    student_id: UserId,
    status: ProgressStatus,
    #[schema(minimum = 0, maximum = 100)]
    percent: u8,
    time_spent_seconds: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    started_at: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    completed_at: Option<String>,
    /// When progress last moved; absent before the first report.
    #[serde(skip_serializing_if = "Option::is_none")]
    updated_at: Option<String>,
}

impl From<LessonProgress> for ProgressView {
    fn from(progress: LessonProgress) -> Self {
        Self {
            updated_at: (progress.version > 0).then_some(progress.updated_at),
            lesson_id: progress.lesson_id,
            lesson_title: progress.lesson_title,
            student_id: progress.student_id,
            status: progress.status,
            percent: progress.percent,
            time_spent_seconds: progress.time_spent_seconds,
            started_at: progress.started_at,
            completed_at: progress.completed_at,
        }
    }
}

/// Records a student's progress through a lesson published to one of their
/// classes. Progress never moves back: each field keeps the larger of the
/// stored and reported values, so a late or repeated report changes nothing.
#[utoipa::path(
    put,
    path = "/api/v1/lessons/{id}/progress",
    operation_id = "report_lesson_progress",
    tag = "lessons",
    params(("id" = LessonId, Path, description = "The lesson's id")),
    request_body = ProgressReport,
    responses(
        (status = 200, description = "The progress as stored", body = Success<ProgressView>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["student"])))
)]
pub async fn report(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(id): PathId<LessonId>,
    Json(body): Json<ProgressReport>,
) -> AppResult<ApiResponse<ProgressView>> {
    principal.require_role(&[Role::Student])?;
    let report = body.parsed()?;
    let progress = store::progress::report(&state, &tenant, &principal.user_id, &id, report).await?;
    Ok(ApiResponse::ok(progress.into()))
}

/// One student's progress through one lesson: a student's own, a linked
/// child's for a parent, anyone's for staff (`?student_id=`). Before the
/// first report it is `not_started`.
#[utoipa::path(
    get,
    path = "/api/v1/lessons/{id}/progress",
    operation_id = "get_lesson_progress",
    tag = "lessons",
    params(
        ("id" = LessonId, Path, description = "The lesson's id"),
        ("student_id" = Option<UserId>, Query, nullable = false, description = "Whose progress (required for staff and parents)"),
    ),
    responses(
        (status = 200, description = "The progress", body = Success<ProgressView>),
        ReadListOf,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    uri: Uri,
    PathId(id): PathId<LessonId>,
) -> AppResult<ApiResponse<ProgressView>> {
    let (student, link) = match Whose::asked(&principal, &tenant, query_param(&uri, "student_id")?.as_deref())? {
        Whose::Student { id, link } => (id, link),
        // An unknown lesson is a 404 before a missing parameter is a 400.
        Whose::All => {
            state.db.live::<Lesson>(&tenant, &id).await?;
            return Err(AppError::BadRequest("name the student: ?student_id=".into()));
        }
    };
    let found = read_with_link(&state.db, link, vec![tenant.lesson(&id), tenant.progress(&id, &student)]).await?;
    let mut found = found.into_iter();
    let lesson = Db::decode_live::<Lesson>(found.next().flatten())?.ok_or_else(|| AppError::not_found("lesson"))?;
    // A student, or a parent for their child, sees the lessons the student reaches.
    let reached = match principal.role {
        Role::Student | Role::Parent => {
            !publication::reaching_item(&state, &tenant, &student, &lesson).await?.is_empty()
        }
        Role::Admin | Role::Teacher => true,
    };
    if !reached {
        return Err(AppError::not_found("lesson"));
    }
    let progress = match found.next().flatten() {
        Some(item) => Db::decode::<LessonProgress>(item)?,
        None => LessonProgress::none(&tenant, &id, &lesson.title, &student, &rfc3339(state.now())),
    };
    Ok(ApiResponse::ok(progress.into()))
}

/// One student's progress through every lesson they reported on, newest
/// lesson first: a student's own, a linked child's for a parent, anyone's
/// for staff (`?student_id=`).
#[utoipa::path(
    get,
    path = "/api/v1/lessons/progress",
    operation_id = "list_lesson_progress",
    tag = "lessons",
    params(
        ("student_id" = Option<UserId>, Query, nullable = false, description = "Whose progress (required for staff and parents)"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of progress", body = Success<Vec<ProgressView>>),
        ReadListOf,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student", "parent"])))
)]
pub async fn list(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    uri: Uri,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<ProgressView>>> {
    let (student, link) = Whose::one_student(&principal, &tenant, query_param(&uri, "student_id")?.as_deref())?;
    let keys = state.key_set().await?;
    let list = format!("progress-of:{student}");
    let start = page.start(&keys, &tenant, &list)?;
    if let Some(link) = link {
        state.db.get::<GuardianLink>(&link).await?.ok_or_else(|| AppError::not_found("student"))?;
    }
    let partition = tenant.held_by(&student);
    let range = Range::gsi1(&partition, Tenant::LESSON_PREFIX).newest_first();
    let found = state.db.query::<LessonProgress>(&range, page.limit, start).await?;
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, &list, &key));
    Ok(ApiResponse::page(found.items.into_iter().map(ProgressView::from).collect(), next))
}

/// A lesson's statistics over the students who reported progress.
#[derive(Debug, Serialize, ToSchema)]
pub struct LessonStatistics {
    lesson_id: LessonId,
    /// Students with any progress reported.
    learners: u64,
    started: u64,
    completed: u64,
    /// `completed / learners`, from 0 to 1 (0 with no learners).
    completion_rate: f64,
    average_time_spent_seconds: f64,
    average_percent: f64,
}

impl LessonStatistics {
    fn of(lesson_id: LessonId, totals: LessonStats) -> Self {
        let per_learner = |total: u64| if totals.learners == 0 { 0.0 } else { total as f64 / totals.learners as f64 };
        Self {
            lesson_id,
            completion_rate: per_learner(totals.completed),
            average_time_spent_seconds: per_learner(totals.time_spent_total),
            average_percent: per_learner(totals.percent_total),
            learners: totals.learners,
            started: totals.started,
            completed: totals.completed,
        }
    }
}

/// How far students got with a lesson: started, completed, average time and
/// percent, read from totals kept exact by every report.
#[utoipa::path(
    get,
    path = "/api/v1/lessons/{id}/statistics",
    operation_id = "get_lesson_statistics",
    tag = "lessons",
    params(("id" = LessonId, Path, description = "The lesson's id")),
    responses(
        (status = 200, description = "The statistics", body = Success<LessonStatistics>),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn statistics(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    PathId(id): PathId<LessonId>,
) -> AppResult<ApiResponse<LessonStatistics>> {
    let mut wanted = vec![tenant.lesson(&id)];
    wanted.extend((0..counters::SHARDS).map(|shard| tenant.lesson_stats(&id, shard)));
    let mut found = state.db.batch_get(&wanted).await?.into_iter();
    if Db::decode_live::<Lesson>(found.next().flatten())?.is_none() {
        return Err(AppError::not_found("lesson"));
    }
    let mut totals = LessonStats::default();
    for shard in found.flatten() {
        totals += Db::decode::<LessonStats>(shard)?;
    }
    Ok(ApiResponse::ok(LessonStatistics::of(id, totals)))
}
