//! Submitting attempts, and what teachers read of them. An attempt is
//! graded and recorded exactly once by `store::submissions`, which a Roblox
//! game's answers go through too.

use axum::extract::State;
use domain::assessment::{Assessment, AssessmentStats, Submission};
use domain::ids::AssessmentId;
use domain::json::whole;
use domain::principal::Role;
use domain::tenancy::Tenant;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::AppState;
use store::counters::{self};
use store::cursor;
use store::db::{Db, Range};
use store::publication;
use store::submissions::Outcome;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::{Caller, Staff};
use web::json::Json;
use web::openapi::*;

use crate::view::SubmissionView;

/// One attempt's answers.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Attempt {
    /// Which attempt this is, from 1: naming it makes a retried submit safe
    /// (the same attempt is graded once).
    #[serde(deserialize_with = "whole")]
    #[schema(minimum = 1, maximum = 10)]
    attempt: u32,
    /// One answer per question, in order: an option's index, a list of
    /// indexes, true or false, a number, or text; `null` leaves it unanswered.
    #[schema(min_items = 1, max_items = 100, value_type = Vec<serde_json::Value>)]
    answers: Vec<Value>,
}

/// Submits one attempt of a published assessment of the student's class: it
/// is graded at once and the score and feedback returned (201). Submitting
/// the same attempt again returns the stored grade (200); other answers for
/// it are a 409. Right answers are shown once the teacher allows it.
#[utoipa::path(
    post,
    path = "/api/v1/assessments/{id}/submit",
    operation_id = "submit_assessment",
    tag = "assessments",
    params(("id" = AssessmentId, Path, description = "The assessment's id")),
    request_body = Attempt,
    responses(
        (status = 201, description = "The attempt, graded", body = Success<SubmissionView>),
        (status = 200, description = "This attempt was graded before: its stored grade", body = Success<SubmissionView>),
        JsonBodyErrors,
        Change,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["student"])))
)]
pub async fn submit(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(id): PathId<AssessmentId>,
    Json(attempt): Json<Attempt>,
) -> AppResult<ApiResponse<SubmissionView>> {
    principal.require_role(&[Role::Student])?;
    let attempt = store::submissions::Attempt { number: attempt.attempt, answers: attempt.answers };
    let (outcome, assessment) = store::submissions::submit(&state, &tenant, &principal.user_id, &id, attempt).await?;
    Ok(match outcome {
        Outcome::Graded(submission) => {
            ApiResponse::created(SubmissionView::of(submission, &assessment, assessment.show_answers))
        }
        Outcome::Repeated(stored) => ApiResponse::ok(SubmissionView::of(stored, &assessment, assessment.show_answers)),
    })
}

/// Graded submissions, by student and attempt: every one for teachers and
/// admins, their own for a student.
#[utoipa::path(
    get,
    path = "/api/v1/assessments/{id}/submissions",
    operation_id = "list_submissions",
    tag = "assessments",
    params(
        ("id" = AssessmentId, Path, description = "The assessment's id"),
        PageRequest,
    ),
    responses(
        (status = 200, description = "A page of submissions", body = Success<Vec<SubmissionView>>),
        ReadListOf,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher", "student"])))
)]
pub async fn submissions(
    State(state): State<AppState>,
    Caller(principal, tenant): Caller,
    PathId(id): PathId<AssessmentId>,
    page: PageRequest,
) -> AppResult<ApiResponse<Vec<SubmissionView>>> {
    principal.require_role(&[Role::Admin, Role::Teacher, Role::Student])?;
    let tenant = tenant.clone();
    let student = principal.role == Role::Student;
    let prefix = match student {
        true => Tenant::submissions_of_prefix(&principal.user_id),
        false => String::new(),
    };
    // The cursor is bound to the assessment and, for a student, to them.
    let list = format!("submissions:{id}:{prefix}");
    let keys = state.key_set().await?;
    let start = page.start(&keys, &tenant, &list)?;
    let assessment = state.db.live::<Assessment>(&tenant, &id).await?;
    if !publication::visible_to(&state, &tenant, &principal, &assessment).await? {
        return Err(AppError::not_found("assessment"));
    }
    let partition = tenant.submissions_partition(&id);
    let range = Range::of(&partition, &prefix);
    let found = state.db.query::<Submission>(&range, page.limit, start).await?;
    let shown = !student || assessment.show_answers;
    let views = found.items.into_iter().map(|s| SubmissionView::of(s, &assessment, shown)).collect();
    let next = found.last_key.map(|key| cursor::encode(&keys, &tenant, &list, &key));
    Ok(ApiResponse::page(views, next))
}

/// How one question fared over every graded submission.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionStatistics {
    question: usize,
    /// The share of submissions that got it right, 0 to 1.
    correct_rate: f64,
    /// `1 - correct_rate`: the higher, the harder.
    difficulty: f64,
}

/// An assessment's statistics over every graded submission (each attempt counts).
#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentStatistics {
    assessment_id: AssessmentId,
    submissions: u64,
    /// Absent before the first submission.
    #[serde(skip_serializing_if = "Option::is_none")]
    mean_percent: Option<f64>,
    /// To the whole percent. Absent before the first submission.
    #[serde(skip_serializing_if = "Option::is_none")]
    median_percent: Option<f64>,
    /// The share of submissions that passed, 0 to 1.
    pass_rate: f64,
    questions: Vec<QuestionStatistics>,
}

/// Mean, median, pass rate and per-question difficulty, read from totals
/// that every graded submission moves in its own transaction.
#[utoipa::path(
    get,
    path = "/api/v1/assessments/{id}/statistics",
    operation_id = "get_assessment_statistics",
    tag = "assessments",
    params(("id" = AssessmentId, Path, description = "The assessment's id")),
    responses(
        (status = 200, description = "The statistics", body = Success<AssessmentStatistics>),
        ReadOne,
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])))
)]
pub async fn statistics(
    State(state): State<AppState>,
    Staff(_, tenant): Staff,
    PathId(id): PathId<AssessmentId>,
) -> AppResult<ApiResponse<AssessmentStatistics>> {
    let mut wanted = vec![tenant.assessment(&id)];
    wanted.extend((0..counters::SHARDS).map(|shard| tenant.assessment_stats(&id, shard)));
    let mut found = state.db.batch_get(&wanted).await?.into_iter();
    let assessment =
        Db::decode_live::<Assessment>(found.next().flatten())?.ok_or_else(|| AppError::not_found("assessment"))?;
    let shards: Vec<_> = found.flatten().map(Db::numbers).collect();
    let totals = AssessmentStats::from_shards(&shards, assessment.questions.len());
    let share = |count: u64| if totals.submissions == 0 { 0.0 } else { count as f64 / totals.submissions as f64 };
    let questions = totals
        .correct
        .iter()
        .enumerate()
        .map(|(question, right)| QuestionStatistics {
            question,
            correct_rate: share(*right),
            difficulty: if totals.submissions == 0 { 0.0 } else { 1.0 - share(*right) },
        })
        .collect();
    Ok(ApiResponse::ok(AssessmentStatistics {
        assessment_id: id,
        submissions: totals.submissions,
        mean_percent: (totals.submissions > 0).then(|| totals.percent_total / totals.submissions as f64),
        median_percent: totals.median_percent(),
        pass_rate: share(totals.passed),
        questions,
    }))
}
