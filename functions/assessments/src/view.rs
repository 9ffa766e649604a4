//! Assessments and submissions as the API shows them. Students never see
//! what counts as right in an assessment; in their feedback only once the
//! teacher shows answers.

use domain::assessment::{Assessment, AssessmentStatus, Graded, LatePolicy, Question, Submission};
use domain::ids::{AssessmentId, ClassId, ContentId, UserId};
use serde::Serialize;
use serde_json::Value;
use utoipa::ToSchema;

/// A question; `answer`, `answers`, `tolerance` and `pattern` are shown to
/// staff only, in the shape a question is written in.
#[derive(Debug, Serialize, ToSchema)]
pub struct QuestionView {
    /// `multiple_choice`, `multiple_select`, `true_false`, `numeric` or `short_text`.
    kind: String,
    prompt: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    options: Option<Vec<String>>,
    points: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    answer: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    answers: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    tolerance: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pattern: Option<String>,
}

impl QuestionView {
    fn of(question: &Question, with_answers: bool) -> Self {
        let mut written = serde_json::to_value(question).unwrap_or_default();
        let mut take = |field: &str| written.as_object_mut().and_then(|o| o.remove(field));
        let kind = take("kind").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let prompt = take("prompt").and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default();
        let options = take("options").and_then(|v| serde_json::from_value(v).ok());
        let (answer, answers, tolerance, pattern) =
            (take("answer"), take("answers"), take("tolerance"), take("pattern"));
        let shown = |value: Option<Value>| value.filter(|_| with_answers);
        Self {
            kind,
            prompt,
            options,
            points: question.points(),
            answer: shown(answer),
            answers: shown(answers),
            tolerance: shown(tolerance).and_then(|v| v.as_f64()),
            pattern: shown(pattern).and_then(|v| v.as_str().map(str::to_owned)),
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct AssessmentView {
    id: AssessmentId,
    title: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<String>,
    questions: Vec<QuestionView>,
    max_score: u32,
    max_attempts: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    due_at: Option<String>,
    late_policy: LatePolicy,
    late_penalty_percent: u8,
    pass_percent: u8,
    show_answers: bool,
    status: AssessmentStatus,
    class_ids: Vec<ClassId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    content_id: Option<ContentId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_at: Option<String>,
    version: u64,
    created_by: UserId,
    created_at: String,
    updated_at: String,
}

impl AssessmentView {
    /// The assessment; with `with_answers` (staff), what counts as right.
    pub fn of(assessment: Assessment, with_answers: bool) -> Self {
        Self {
            questions: assessment.questions.iter().map(|q| QuestionView::of(q, with_answers)).collect(),
            max_score: assessment.max_score(),
            id: assessment.id,
            title: assessment.title,
            description: assessment.description,
            max_attempts: assessment.max_attempts,
            due_at: assessment.due_at,
            late_policy: assessment.late_policy,
            late_penalty_percent: assessment.late_penalty_percent,
            pass_percent: assessment.pass_percent,
            show_answers: assessment.show_answers,
            status: assessment.status,
            class_ids: assessment.class_ids,
            content_id: assessment.content_id,
            published_at: assessment.published_at,
            version: assessment.audit.version,
            created_by: assessment.audit.created_by,
            created_at: assessment.audit.created_at,
            updated_at: assessment.audit.updated_at,
        }
    }
}

/// How one answer fared.
#[derive(Debug, Serialize, ToSchema)]
pub struct Feedback {
    question: usize,
    correct: bool,
    points_awarded: u32,
    points_possible: u32,
    /// What was right (`answer` or `answers` of the question), once the
    /// teacher shows answers; always for staff.
    #[serde(skip_serializing_if = "Option::is_none")]
    right_answer: Option<Value>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct SubmissionView {
    assessment_id: AssessmentId,
    student_id: UserId,
    attempt: u32,
    /// The answers as given, one per question (`null` for none).
    answers: Vec<Value>,
    /// Points earned, before any late penalty.
    raw_score: u32,
    max_score: u32,
    /// The final score in percent, after any late penalty.
    percent: f64,
    passed: bool,
    late: bool,
    submitted_at: String,
    feedback: Vec<Feedback>,
}

impl SubmissionView {
    pub fn of(submission: Submission, assessment: &Assessment, with_answers: bool) -> Self {
        let feedback = submission
            .graded
            .iter()
            .enumerate()
            .map(|(index, Graded { correct, points_awarded, points_possible })| Feedback {
                question: index,
                correct: *correct,
                points_awarded: *points_awarded,
                points_possible: *points_possible,
                right_answer: with_answers.then(|| assessment.questions.get(index).map(right_answer)).flatten(),
            })
            .collect();
        Self {
            assessment_id: submission.assessment_id,
            student_id: submission.student_id,
            attempt: submission.attempt,
            answers: submission.answers,
            raw_score: submission.raw_score,
            max_score: submission.max_score,
            percent: submission.percent,
            passed: submission.passed,
            late: submission.late,
            submitted_at: submission.submitted_at,
            feedback,
        }
    }
}

/// The right answer in the shape the question is written in.
fn right_answer(question: &Question) -> Value {
    match question {
        Question::MultipleChoice { answer, .. } => Value::from(*answer),
        Question::MultipleSelect { answers, .. } => Value::from(answers.clone()),
        Question::TrueFalse { answer, .. } => Value::from(*answer),
        Question::Numeric { answer, .. } => Value::from(*answer),
        Question::ShortText { answers, pattern, .. } => match (answers.first(), pattern) {
            (Some(first), _) => Value::from(first.clone()),
            (None, pattern) => Value::from(pattern.clone()),
        },
    }
}
