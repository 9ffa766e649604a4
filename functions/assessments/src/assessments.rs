//! Create (written, or from a generated quiz), list, read, change and
//! delete assessments. Students read the published assessments of their
//! classes, without what counts as right.

use axum::extract::State;
use axum::http::Uri;
use domain::assessment::field;
use domain::assessment::{Assessment, AssessmentStatus, LatePolicy, Question};
use domain::audit::Audit;
use domain::clock::rfc3339;
use domain::content::ContentItem;
use domain::error::FieldError;
use domain::generation::request::ContentKind;
use domain::ids::{AssessmentId, ClassId, ContentId};
use domain::json::{present, present_whole};
use domain::principal::Role;
use domain::tenancy::Tenant;
use serde::Deserialize;
use store::AppState;
use store::bodies;
use store::publication;
use store::records::Changes;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::IfMatch;
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::{Caller, Staff, query_param};
use web::json::Json;
use web::openapi::*;

use crate::view::AssessmentView;
use domain::grading;

const MAX_QUESTIONS: usize = 100;
const MAX_ATTEMPTS: u32 = 10;
const DEFAULT_PASS_PERCENT: u8 = 60;
/// An assessment is one item, which DynamoDB keeps under 400 KB.
const MAX_QUESTIONS_BYTES: usize = 300 * 1024;

/// An assessment as written: its questions and its rules. To make one from
/// a generated quiz, give `content_id` instead of `title` and `questions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AssessmentBody {
    /// A generated quiz of the organization to make it from (creating only).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    content_id: Option<ContentId>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_length = 1, max_length = 200)]
    title: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, max_length = 2000)]
    description: Option<String>,
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, min_items = 1, max_items = 100)]
    questions: Option<Vec<Question>>,
    /// Attempts each student may submit (default 1).
    #[serde(default, deserialize_with = "present_whole")]
    #[schema(nullable = false, minimum = 1, maximum = 10)]
    max_attempts: Option<u32>,
    /// After this moment (RFC 3339) a submission is late.
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false, format = DateTime)]
    due_at: Option<String>,
    /// What happens to a late submission (default `accept`).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    late_policy: Option<LatePolicy>,
    /// With `penalize`: the percent of a late score taken off.
    #[serde(default, deserialize_with = "present_whole")]
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    late_penalty_percent: Option<u8>,
    /// The percent of the points that passes (default 60).
    #[serde(default, deserialize_with = "present_whole")]
    #[schema(nullable = false, minimum = 0, maximum = 100)]
    pass_percent: Option<u8>,
    /// Whether students see the right answers in their feedback (default false).
    #[serde(default, deserialize_with = "present")]
    #[schema(nullable = false)]
    show_answers: Option<bool>,
}

/// The parts of an assessment a body sets, checked.
struct Written {
    title: String,
    description: Option<String>,
    questions: Vec<Question>,
    max_attempts: u32,
    due_at: Option<String>,
    late_policy: LatePolicy,
    late_penalty_percent: u8,
    pass_percent: u8,
    show_answers: bool,
}

impl AssessmentBody {
    /// The body held to every rule; `title` and `questions` must be given.
    fn written(self) -> AppResult<Written> {
        let mut problems = Vec::new();
        let title = self.title.unwrap_or_default();
        if title.trim().is_empty() || title.chars().count() > 200 {
            problems.push(FieldError::new("title", "1 to 200 characters"));
        }
        if self.description.as_ref().is_some_and(|d| d.chars().count() > 2000) {
            problems.push(FieldError::new("description", "at most 2000 characters"));
        }
        let questions = self.questions.unwrap_or_default();
        if !(1..=MAX_QUESTIONS).contains(&questions.len()) {
            problems.push(FieldError::new("questions", format!("1 to {MAX_QUESTIONS} questions")));
        }
        problems.extend(questions.iter().enumerate().flat_map(|(i, q)| grading::check(i, q)));
        if serde_json::to_vec(&questions).map_or(0, |bytes| bytes.len()) > MAX_QUESTIONS_BYTES {
            problems.push(FieldError::new("questions", "at most 300 KB of questions"));
        }
        let max_attempts = self.max_attempts.unwrap_or(1);
        if !(1..=MAX_ATTEMPTS).contains(&max_attempts) {
            problems.push(FieldError::new("max_attempts", format!("from 1 to {MAX_ATTEMPTS}")));
        }
        let due_at = match self.due_at.as_deref().map(|raw| OffsetDateTime::parse(raw, &Rfc3339)) {
            None => None,
            Some(Ok(at)) => Some(rfc3339(at)),
            Some(Err(_)) => {
                problems.push(FieldError::new("due_at", "must be an RFC 3339 date-time"));
                None
            }
        };
        let late_penalty_percent = self.late_penalty_percent.unwrap_or(0);
        if late_penalty_percent > 100 {
            problems.push(FieldError::new("late_penalty_percent", "from 0 to 100"));
        }
        let pass_percent = self.pass_percent.unwrap_or(DEFAULT_PASS_PERCENT);
        if pass_percent > 100 {
            problems.push(FieldError::new("pass_percent", "from 0 to 100"));
        }
        if !problems.is_empty() {
            return Err(AppError::Validation(problems));
        }
        Ok(Written {
            title,
            description: self.description,
            questions,
            max_attempts,
            due_at,
            late_policy: self.late_policy.unwrap_or_default(),
            late_penalty_percent,
            pass_percent,
            show_answers: self.show_answers.unwrap_or(false),
        })
    }
}

/// The body of a new assessment: as given, or with the title and questions
/// of a generated quiz (`content_id`).
async fn new_body(state: &AppState, tenant: &Tenant, mut body: AssessmentBody) -> AppResult<Written> {
    let Some(id) = body.content_id.take() else {
        return body.written();
    };
    if body.title.is_some() || body.questions.is_some() {
        return Err(AppError::invalid("content_id", "give content_id, or a title and questions, not both"));
    }
    let item = state
        .db
        .find_live::<ContentItem>(tenant, &id)
        .await?
        .ok_or_else(|| AppError::invalid("content_id", "no such content"))?;
    if item.kind != ContentKind::Quiz {
        return Err(AppError::invalid("content_id", "must be a quiz (a lesson becomes a lesson)"));
    }
    let quiz = bodies::load(state, &item).await?;
    body.title = Some(quiz.title);
    body.description = body.description.or(Some(quiz.summary));
    body.questions = Some(
        quiz.quiz
            .into_iter()
            .map(|q| Question::MultipleChoice {
                prompt: q.question,
                options: q.options,
                answer: q.answer_index,
                points: 1,
            })
            .collect(),
    );
    body.written()
}

/// Creates a draft assessment, written here or made from a generated quiz.
#[utoipa::path(
    post,
    path = "/api/v1/assessments",
    operation_id = "create_assessment",
    tag = "assessments",
    request_body = AssessmentBody,
    responses(
        (status = 201, description = "The assessment, a draft", body = Success<AssessmentView>),
        JsonBodyErrors,
        Create,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn create(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    Json(body): Json<AssessmentBody>,
) -> AppResult<ApiResponse<AssessmentView>> {
    let content_id = body.content_id.clone();
    let written = new_body(&state, &tenant, body).await?;
    let assessment = Assessment {
        id: AssessmentId::new(),
        org_id: tenant.org_id().clone(),
        title: written.title,
        description: written.description,
        questions: written.questions,
        max_attempts: written.max_attempts,
        due_at: written.due_at,
        late_policy: written.late_policy,
        late_penalty_percent: written.late_penalty_percent,
        pass_percent: written.pass_percent,
        show_answers: written.show_answers,
        status: AssessmentStatus::Draft,
        class_ids: Vec::new(),
        content_id,
        published_at: None,
        audit: Audit::new(&principal.user_id, state.now()),
    };
    publication::create(&state, &tenant, &principal.user_id, &assessment).await?;
    store::activity::record(&state, &tenant, &principal, "assessment.created", &assessment.id, &[]).await;
    Ok(ApiResponse::created(AssessmentView::of(assessment, true)))
}

/// Assessments, newest first: every one for teachers and admins; for a
/// student, the published ones of one of their classes (`?class_id=`).
#[utoipa::path(
    get,
    path = "/api/v1/assessments",
    operation_id = "list_assessments",
    tag = "assessments",
    params(
        ("class_id" = Option<ClassId>, Query, nullable = false, description = "A class's published assessments (required for students)"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of assessments", body = Success<Vec<AssessmentView>>),
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
) -> AppResult<ApiResponse<Vec<AssessmentView>>> {
    let (assessments, next) = publication::list::<Assessment>(
        &state,
        &principal,
        query_param(&uri, "class_id")?.as_deref(),
        page.limit,
        page.cursor.as_deref(),
    )
    .await?;
    let staff = principal.role != Role::Student;
    Ok(ApiResponse::page(assessments.into_iter().map(|a| AssessmentView::of(a, staff)).collect(), next))
}

/// One assessment: with its answers for teachers and admins; for a student,
/// a published one of their classes, without them.
#[utoipa::path(
    get,
    path = "/api/v1/assessments/{id}",
    operation_id = "get_assessment",
    tag = "assessments",
    params(("id" = AssessmentId, Path, description = "The assessment's id")),
    responses(
        (status = 200, description = "The assessment", body = Success<AssessmentView>),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student"])))
)]
pub async fn get(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(id): PathId<AssessmentId>,
) -> AppResult<ApiResponse<AssessmentView>> {
    principal.require_role(&[Role::Admin, Role::Teacher, Role::Student])?;
    let tenant = tenant.clone();
    let assessment = state.db.live::<Assessment>(&tenant, &id).await?;
    if !publication::visible_to(&state, &tenant, &principal, &assessment).await? {
        return Err(AppError::not_found("assessment"));
    }
    let version = assessment.audit.version;
    Ok(ApiResponse::ok(AssessmentView::of(assessment, principal.role != Role::Student)).with_etag(version))
}

/// Replaces an assessment's questions and rules (a new version). Once
/// published, its questions are fixed (a 409): submissions were graded
/// against them. With `If-Match`, a stale version is a 412.
#[utoipa::path(
    put,
    path = "/api/v1/assessments/{id}",
    operation_id = "update_assessment",
    tag = "assessments",
    params(
        ("id" = AssessmentId, Path, description = "The assessment's id"),
        IfMatch,
    ),
    request_body = AssessmentBody,
    responses(
        (status = 200, description = "The assessment as changed", body = Success<AssessmentView>,
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
    PathId(id): PathId<AssessmentId>,
    IfMatch(asked): IfMatch,
    Json(body): Json<AssessmentBody>,
) -> AppResult<ApiResponse<AssessmentView>> {
    let assessment: Assessment = state.db.live(&tenant, &id).await?;
    principal.require_owner_or_admin(&assessment.audit.created_by, "the assessment's author")?;
    if body.content_id.is_some() {
        return Err(AppError::invalid("content_id", "only when creating"));
    }
    let written = body.written()?;
    if assessment.status == AssessmentStatus::Published && written.questions != assessment.questions {
        return Err(AppError::Conflict(
            "a published assessment's questions are fixed; its rules may change, or make a new one".into(),
        ));
    }
    let changes = Changes::new()
        .set(field::TITLE, &written.title)
        .set(field::DESCRIPTION, &written.description)
        .set(field::QUESTIONS, &written.questions)
        .set(field::MAX_ATTEMPTS, &written.max_attempts)
        .set(field::DUE_AT, &written.due_at)
        .set(field::LATE_POLICY, &written.late_policy)
        .set(field::LATE_PENALTY_PERCENT, &written.late_penalty_percent)
        .set(field::PASS_PERCENT, &written.pass_percent)
        .set(field::SHOW_ANSWERS, &written.show_answers);
    // Its classes keep its title and due date.
    let retitled = Assessment { title: written.title.clone(), due_at: written.due_at.clone(), ..assessment.clone() };
    let by = &principal.user_id;
    let changed = publication::patch(&state, &tenant, &assessment, Some(&retitled), asked, by, changes).await?;
    store::activity::record_published(&state, &tenant, &principal, "assessment.updated", &id, &changed.class_ids).await;
    let version = changed.audit.version;
    Ok(ApiResponse::ok(AssessmentView::of(changed, true)).with_etag(version))
}

/// Deletes an assessment: gone from lists, classes and reads; the stored
/// item and its submissions are kept for the audit trail.
#[utoipa::path(
    delete,
    path = "/api/v1/assessments/{id}",
    operation_id = "delete_assessment",
    tag = "assessments",
    params(
        ("id" = AssessmentId, Path, description = "The assessment's id"),
        IfMatch,
    ),
    responses(
        (status = 200, description = "The deleted assessment", body = Success<AssessmentView>),
        (status = 400, response = BadRequest),
        VersionedChange,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn delete(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    PathId(id): PathId<AssessmentId>,
    IfMatch(asked): IfMatch,
) -> AppResult<ApiResponse<AssessmentView>> {
    let deleted: Assessment = publication::delete(&state, &tenant, &principal, &id, asked).await?;
    Ok(ApiResponse::ok(AssessmentView::of(deleted, true)))
}
