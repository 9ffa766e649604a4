//! Submitting an attempt at an assessment: the one rule every submitter
//! (the student's app, a Roblox game) goes through.
//!
//! Each attempt is one item, `SUBMISSION#<assessment>#<student>#<attempt>`,
//! created on the condition that it does not exist, in the same transaction
//! as the assessment's totals and the day's counter. So an attempt is graded
//! and counted exactly once: a repeated or concurrent submit of the same
//! attempt finds the stored grade and answers with it.

use domain::assessment::{Assessment, LatePolicy, StoredSubmission, Submission, field};
use domain::clock::rfc3339;
use domain::error::{Error, FieldError, Result};
use domain::grading;
use domain::ids::{AssessmentId, UserId};
use domain::principal::Role;
use domain::tenancy::Tenant;
use serde_json::Value;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::activity::{self, Actor};
use crate::counters::{self, ClassCounter, Counter};
use crate::db::{DbError, Write, as_stored};
use crate::publication;
use crate::records::{Changes, Condition};
use crate::state::AppState;

/// A submission is one item, which DynamoDB keeps under 400 KB.
const MAX_ANSWERS_BYTES: usize = 100 * 1024;

/// One attempt's answers, as sent.
#[derive(Debug, Clone)]
pub struct Attempt {
    /// Which attempt this is, from 1.
    pub number: u32,
    /// One answer per question, in order; `null` leaves it unanswered.
    pub answers: Vec<Value>,
}

/// A graded attempt: graded now, or found graded before.
#[derive(Debug)]
pub enum Outcome {
    Graded(Submission),
    Repeated(Submission),
}

/// Grades `answers` against the assessment's questions; problems by field.
fn graded(assessment: &Assessment, attempt: &Attempt) -> Result<Vec<domain::assessment::Graded>> {
    let mut problems = Vec::new();
    if attempt.number == 0 || attempt.number > assessment.max_attempts {
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
        return Err(Error::Invalid(problems));
    }
    Ok(assessment.questions.iter().zip(&attempt.answers).map(|(q, a)| grading::grade(q, a)).collect())
}

/// Whether a submission at `now` is late, and the percent of its score it
/// keeps (100, or less under a late penalty).
fn lateness(assessment: &Assessment, now: OffsetDateTime) -> Result<(bool, u32)> {
    let due = assessment.due_at.as_deref().and_then(|due| OffsetDateTime::parse(due, &Rfc3339).ok());
    let late = due.is_some_and(|due| now > due);
    match (late, assessment.late_policy) {
        (false, _) | (true, LatePolicy::Accept) => Ok((late, 100)),
        (true, LatePolicy::Penalize) => Ok((true, 100 - u32::from(assessment.late_penalty_percent.min(100)))),
        (true, LatePolicy::Reject) => Err(Error::Conflict(format!(
            "the assessment was due at {} and takes no late submissions",
            assessment.due_at.as_deref().unwrap_or_default()
        ))),
    }
}

/// Grades and records `student`'s attempt at a published assessment of one
/// of their classes (any other is not found). Submitting the same attempt
/// again returns the stored grade; other answers for it are a conflict.
pub async fn submit(
    state: &AppState,
    tenant: &Tenant,
    student: &UserId,
    id: &AssessmentId,
    mut attempt: Attempt,
) -> Result<(Outcome, Assessment)> {
    // As the table will hold them, so that a repeat compares equal to what was stored.
    attempt.answers = as_stored(&attempt.answers)?;
    let assessment = state.db.live::<Assessment>(tenant, id).await?;
    let classes = publication::reaching_item(state, tenant, student, &assessment).await?;
    if classes.is_empty() {
        return Err(Error::not_found("assessment"));
    }
    let graded = graded(&assessment, &attempt)?;
    let key = tenant.submission(id, student, attempt.number);
    // A repeat of a graded attempt is answered before the deadline is
    // checked again: the attempt was on time when it was graded.
    if let Some(stored) = state.db.get::<Submission>(&key).await? {
        return Ok((replayed(stored, &attempt)?, assessment));
    }
    let now = state.now();
    let (late, kept) = lateness(&assessment, now)?;
    let raw_score: u32 = graded.iter().map(|g| g.points_awarded).sum();
    let max_score = assessment.max_score().max(1);
    // In whole numbers, so that full marks less 7 % is exactly 93 %.
    let scaled = u64::from(raw_score) * u64::from(kept);
    let submission = Submission {
        assessment_id: id.clone(),
        student_id: student.clone(),
        attempt: attempt.number,
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
    let stored = StoredSubmission::of(tenant, submission.clone());
    let mut writes = vec![Write::Put(state.db.put_new(&key, &stored)?)];
    let previous = (attempt.number > 1).then(|| tenant.submission(id, student, attempt.number - 1));
    if let Some(previous) = &previous {
        writes.push(Write::Check(state.db.check(previous, Condition::<Submission>::exists())?));
    }
    writes.push(add_to_totals(state, tenant, &submission, bucket)?);
    writes.push(counters::count(state, tenant, student, &[(Counter::AssessmentsSubmitted, 1)])?);
    for class in &classes {
        let submitted = [(ClassCounter::AssessmentsSubmitted, 1)];
        writes.push(counters::count_in_class(state, tenant, &class.id, student, &submitted)?);
    }
    match state.db.transact(writes).await {
        Ok(()) => {}
        // The same attempt, submitted at the same moment, won: its grade stands.
        Err(DbError::Cancelled { failed }) if failed.contains(&0) => {
            let stored = state.db.get::<Submission>(&key).await?.ok_or_else(|| Error::internal("lost submission"))?;
            return Ok((replayed(stored, &attempt)?, assessment));
        }
        Err(DbError::Cancelled { failed }) if previous.is_some() && failed.contains(&1) => {
            return Err(Error::Conflict(format!("submit attempt {} first", attempt.number - 1)));
        }
        Err(err) => return Err(err.into()),
    }
    let actor = Actor { user_id: student, role: Role::Student };
    activity::record(state, tenant, actor, "assessment.submitted", id, &activity::in_classes(&classes)).await;
    tracing::info!(assessment_id = %id, attempt = attempt.number, "assessment submitted");
    Ok((Outcome::Graded(submission), assessment))
}

/// The stored grade of an attempt submitted before, if these are its answers.
fn replayed(stored: Submission, attempt: &Attempt) -> Result<Outcome> {
    if stored.answers != attempt.answers {
        return Err(Error::Conflict(format!("attempt {} was already submitted with other answers", attempt.number)));
    }
    Ok(Outcome::Repeated(stored))
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
