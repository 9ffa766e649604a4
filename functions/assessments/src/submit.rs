//! Submitting attempts, and what teachers read of them.
//!
//! Each attempt is one item, `SUBMISSION#<assessment>#<student>#<attempt>`,
//! created on the condition that it does not exist, in the same transaction
//! as the assessment's totals and the day's counter. So an attempt is graded
//! and counted exactly once: a repeated or concurrent submit of the same
//! attempt finds the stored grade and answers with it.

use axum::extract::State;
use domain::assessment::{Assessment, AssessmentStats, LatePolicy, StoredSubmission, Submission, field};
use domain::clock::rfc3339;
use domain::error::FieldError;
use domain::ids::AssessmentId;
use domain::json::whole;
use domain::principal::Role;
use domain::tenancy::Tenant;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use store::AppState;
use store::activity;
use store::counters::{self, ClassCounter, Counter};
use store::cursor;
use store::db::{Db, DbError, Range, Write, as_stored};
use store::publication;
use store::records::{Changes, Condition};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;
use utoipa::ToSchema;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::PageRequest;
use web::extract::PathId;
use web::extract::{Caller, Staff};
use web::json::Json;
use web::openapi::*;

use crate::view::SubmissionView;

/// A submission is one item, which DynamoDB keeps under 400 KB.
const MAX_ANSWERS_BYTES: usize = 100 * 1024;
use crate::grading;

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

/// Grades `answers` against the assessment's questions; problems by field.
fn graded(assessment: &Assessment, attempt: &Attempt) -> AppResult<Vec<domain::assessment::Graded>> {
    let mut problems = Vec::new();
    if attempt.attempt == 0 || attempt.attempt > assessment.max_attempts {
        let allowed = assessment.max_attempts;
        problems.push(FieldError::new("attempt", format!("this assessment allows attempts 1 to {allowed}")));
    }
    let questions = assessment.questions.len();
    if attempt.answers.len() != questions {
        problems.push(FieldError::new("answers", format!("give one answer per question: {questions}")));
    }
    for (index, (question, answer)) in assessment.questions.iter().zip(&attempt.answers).enumerate() {
        if let Some(problem) = (!answer.is_null()).then(|| grading::shape_problem(question, answer)).flatten() {
            problems.push(FieldError::new(format!("answers[{index}]"), problem));
        }
    }
    if serde_json::to_vec(&attempt.answers).map_or(0, |bytes| bytes.len()) > MAX_ANSWERS_BYTES {
        problems.push(FieldError::new("answers", "at most 100 KB of answers"));
    }
    if !problems.is_empty() {
        return Err(AppError::Validation(problems));
    }
    Ok(assessment.questions.iter().zip(&attempt.answers).map(|(q, a)| grading::grade(q, a)).collect())
}

/// Whether a submission at `now` is late, and the percent of its score it
/// keeps (100, or less under a late penalty).
fn lateness(assessment: &Assessment, now: OffsetDateTime) -> AppResult<(bool, u32)> {
    let due = assessment.due_at.as_deref().and_then(|due| OffsetDateTime::parse(due, &Rfc3339).ok());
    let late = due.is_some_and(|due| now > due);
    match (late, assessment.late_policy) {
        (false, _) | (true, LatePolicy::Accept) => Ok((late, 100)),
        (true, LatePolicy::Penalize) => Ok((true, 100 - u32::from(assessment.late_penalty_percent.min(100)))),
        (true, LatePolicy::Reject) => Err(AppError::Conflict(format!(
            "the assessment was due at {} and takes no late submissions",
            assessment.due_at.as_deref().unwrap_or_default()
        ))),
    }
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
    Json(mut attempt): Json<Attempt>,
) -> AppResult<ApiResponse<SubmissionView>> {
    principal.require_role(&[Role::Student])?;
    // As the table will hold them, so that a repeat compares equal to what was stored.
    attempt.answers = as_stored(&attempt.answers)?;
    let tenant = tenant.clone();
    let assessment = state.db.live::<Assessment>(&tenant, &id).await?;
    let classes = publication::reaching_item(&state, &tenant, &principal.user_id, &assessment).await?;
    if classes.is_empty() {
        return Err(AppError::not_found("assessment"));
    }
    let graded = graded(&assessment, &attempt)?;
    let key = tenant.submission(&id, &principal.user_id, attempt.attempt);
    // A repeat of a graded attempt is answered before the deadline is
    // checked again: the attempt was on time when it was graded.
    if let Some(stored) = state.db.get::<Submission>(&key).await? {
        return replayed(stored, &assessment, &attempt);
    }
    let now = state.now();
    let (late, kept) = lateness(&assessment, now)?;
    let raw_score: u32 = graded.iter().map(|g| g.points_awarded).sum();
    let max_score = assessment.max_score().max(1);
    // In whole numbers, so that full marks less 7 % is exactly 93 %.
    let scaled = u64::from(raw_score) * u64::from(kept);
    let submission = Submission {
        assessment_id: id.clone(),
        student_id: principal.user_id.clone(),
        attempt: attempt.attempt,
        answers: attempt.answers.clone(),
        passed: scaled >= u64::from(assessment.pass_percent) * u64::from(max_score),
        graded,
        raw_score,
        max_score,
        percent: scaled as f64 / f64::from(max_score),
        late,
        submitted_at: rfc3339(now),
    };
    let bucket = (scaled / u64::from(max_score)) as u32;
    let stored = StoredSubmission::of(&tenant, submission.clone());
    let mut writes = vec![Write::Put(state.db.put_new(&key, &stored)?)];
    let previous = (attempt.attempt > 1).then(|| tenant.submission(&id, &principal.user_id, attempt.attempt - 1));
    if let Some(previous) = &previous {
        writes.push(Write::Check(state.db.check(previous, Condition::<Submission>::exists())?));
    }
    writes.push(add_to_totals(&state, &tenant, &submission, bucket)?);
    writes.push(counters::count(&state, &tenant, &principal.user_id, &[(Counter::AssessmentsSubmitted, 1)])?);
    for class in &classes {
        let submitted = [(ClassCounter::AssessmentsSubmitted, 1)];
        writes.push(counters::count_in_class(&state, &tenant, &class.id, &principal.user_id, &submitted)?);
    }
    match state.db.transact(writes).await {
        Ok(()) => {}
        // The same attempt, submitted at the same moment, won: its grade stands.
        Err(DbError::Cancelled { failed }) if failed.contains(&0) => {
            let stored =
                state.db.get::<Submission>(&key).await?.ok_or_else(|| AppError::internal("lost submission"))?;
            return replayed(stored, &assessment, &attempt);
        }
        Err(DbError::Cancelled { failed }) if previous.is_some() && failed.contains(&1) => {
            return Err(AppError::Conflict(format!("submit attempt {} first", attempt.attempt - 1)));
        }
        Err(err) => return Err(err.into()),
    }
    activity::record(&state, &tenant, &principal, "assessment.submitted", &id, &activity::in_classes(&classes)).await;
    tracing::info!(assessment_id = %id, attempt = attempt.attempt, "assessment submitted");
    Ok(ApiResponse::created(SubmissionView::of(submission, &assessment, assessment.show_answers)))
}

/// The stored grade of an attempt submitted before, if these are its answers.
fn replayed(stored: Submission, assessment: &Assessment, attempt: &Attempt) -> AppResult<ApiResponse<SubmissionView>> {
    if stored.answers != attempt.answers {
        return Err(AppError::Conflict(format!(
            "attempt {} was already submitted with other answers",
            attempt.attempt
        )));
    }
    Ok(ApiResponse::ok(SubmissionView::of(stored, assessment, assessment.show_answers)))
}

/// The totals one graded submission adds to, in its student's shard;
/// `bucket` is its whole percent.
fn add_to_totals(state: &AppState, tenant: &Tenant, submission: &Submission, bucket: u32) -> Result<Write, DbError> {
    let correct = submission.graded.iter().enumerate().filter(|(_, graded)| graded.correct);
    let changes = correct.fold(
        Changes::new()
            .add(field::SUBMISSIONS, 1)
            .add(field::PASSED, u64::from(submission.passed))
            .add(field::PERCENT_TOTAL, submission.percent)
            .add(field::histogram(bucket), 1),
        |changes, (index, _)| changes.add(field::correct(index), 1),
    );
    let shard = counters::shard_of(&submission.student_id);
    Ok(Write::Update(state.db.update_with(&tenant.assessment_stats(&submission.assessment_id, shard), changes)?))
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
