//! Assessments (`ASSESSMENT#<id>`), published to classes like lessons
//! (`CLASSASSESSMENT#<class>#<id>`), their submissions
//! (`ORG#<org>#SUBMISSIONS#<assessment> / <student>#<attempt>`, one item per attempt, so
//! an attempt is graded exactly once) and their running totals
//! (`ORG#<org>#ASSESSMENTSTATS#<id>#<shard>`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::ids::{AssessmentId, ClassId, ContentId, OrgId, UserId};
use crate::json::{whole, whole_list};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum AssessmentStatus {
    Draft,
    Published,
}

/// One question, with what counts as right. `points` is what a right answer earns.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
#[schema(as = AssessmentQuestion)]
pub enum Question {
    /// One option is right: the answer is its index.
    MultipleChoice {
        #[schema(min_length = 1, max_length = 2000)]
        prompt: String,
        #[schema(min_items = 2, max_items = 10)]
        options: Vec<String>,
        #[serde(deserialize_with = "whole")]
        #[schema(minimum = 0, maximum = 9)]
        answer: usize,
        #[serde(default = "one", deserialize_with = "whole")]
        #[schema(minimum = 1, maximum = 100)]
        points: u32,
    },
    /// Every right option and no other: the answer is the list of their indexes.
    MultipleSelect {
        #[schema(min_length = 1, max_length = 2000)]
        prompt: String,
        #[schema(min_items = 2, max_items = 10)]
        options: Vec<String>,
        #[serde(deserialize_with = "whole_list")]
        #[schema(min_items = 1, max_items = 10)]
        answers: Vec<usize>,
        #[serde(default = "one", deserialize_with = "whole")]
        #[schema(minimum = 1, maximum = 100)]
        points: u32,
    },
    TrueFalse {
        #[schema(min_length = 1, max_length = 2000)]
        prompt: String,
        answer: bool,
        #[serde(default = "one", deserialize_with = "whole")]
        #[schema(minimum = 1, maximum = 100)]
        points: u32,
    },
    /// A number within `tolerance` of `answer` (inclusive).
    Numeric {
        #[schema(min_length = 1, max_length = 2000)]
        prompt: String,
        answer: f64,
        #[serde(default)]
        #[schema(minimum = 0)]
        tolerance: f64,
        #[serde(default = "one", deserialize_with = "whole")]
        #[schema(minimum = 1, maximum = 100)]
        points: u32,
    },
    /// Text equal to one of `answers` (ignoring case and extra spaces), or
    /// matching the whole of `pattern` (a regular expression).
    ShortText {
        #[schema(min_length = 1, max_length = 2000)]
        prompt: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        #[schema(max_items = 20)]
        answers: Vec<String>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schema(nullable = false, min_length = 1, max_length = 200)]
        pattern: Option<String>,
        #[serde(default = "one", deserialize_with = "whole")]
        #[schema(minimum = 1, maximum = 100)]
        points: u32,
    },
}

fn one() -> u32 {
    1
}

impl Question {
    pub fn points(&self) -> u32 {
        match self {
            Question::MultipleChoice { points, .. }
            | Question::MultipleSelect { points, .. }
            | Question::TrueFalse { points, .. }
            | Question::Numeric { points, .. }
            | Question::ShortText { points, .. } => *points,
        }
    }
}

/// What happens to a submission after `due_at`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum LatePolicy {
    /// Graded as usual, marked late.
    #[default]
    Accept,
    /// Refused.
    Reject,
    /// Graded, then `late_penalty_percent` of the score is taken off.
    Penalize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Assessment {
    pub id: AssessmentId,
    pub org_id: OrgId,
    pub title: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    pub questions: Vec<Question>,
    /// Attempts each student may submit.
    pub max_attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due_at: Option<String>,
    pub late_policy: LatePolicy,
    pub late_penalty_percent: u8,
    /// The percent of the points that passes.
    pub pass_percent: u8,
    /// Whether students see the right answers in their feedback.
    pub show_answers: bool,
    pub status: AssessmentStatus,
    #[serde(default)]
    pub class_ids: Vec<ClassId>,
    /// The generated quiz it was made from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<ContentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    #[serde(flatten)]
    pub audit: Audit,
}

crate::record!(Assessment, AssessmentId, "assessment", assessment);

/// The fields a change to an assessment names.
pub mod field {
    use super::{Assessment, AssessmentStats, LatePolicy, Question};
    use crate::record::Field;

    pub const TITLE: Field<Assessment, str> = Field::new("title");
    pub const DESCRIPTION: Field<Assessment, Option<String>> = Field::new("description");
    pub const QUESTIONS: Field<Assessment, [Question]> = Field::new("questions");
    pub const MAX_ATTEMPTS: Field<Assessment, u32> = Field::new("max_attempts");
    pub const DUE_AT: Field<Assessment, Option<String>> = Field::new("due_at");
    pub const LATE_POLICY: Field<Assessment, LatePolicy> = Field::new("late_policy");
    pub const LATE_PENALTY_PERCENT: Field<Assessment, u8> = Field::new("late_penalty_percent");
    pub const PASS_PERCENT: Field<Assessment, u8> = Field::new("pass_percent");
    pub const SHOW_ANSWERS: Field<Assessment, bool> = Field::new("show_answers");

    /// The counters one graded submission moves, in its student's shard.
    pub const SUBMISSIONS: Field<AssessmentStats, u64> = Field::new("submissions");
    pub const PASSED: Field<AssessmentStats, u64> = Field::new("passed");
    pub const PERCENT_TOTAL: Field<AssessmentStats, f64> = Field::new("percent_total");

    /// The histogram's counter of submissions scoring `whole_percent`.
    pub fn histogram(whole_percent: u32) -> Field<AssessmentStats, u64> {
        Field::named(AssessmentStats::histogram_attribute(whole_percent))
    }

    /// The counter of right answers to question `index`.
    pub fn correct(index: usize) -> Field<AssessmentStats, u64> {
        Field::named(AssessmentStats::correct_attribute(index))
    }
}

impl Assessment {
    pub fn max_score(&self) -> u32 {
        self.questions.iter().map(Question::points).sum()
    }
}

impl crate::publication::Publishable for Assessment {
    const KIND: crate::publication::ContentKind = crate::publication::ContentKind::Assessment;
    const PREFIX: &'static str = crate::tenancy::Tenant::ASSESSMENT_PREFIX;
    const LIST: &'static str = "assessments";
    const COUNTED_AS: &'static str = "assessments_published";

    fn class_entry(tenant: &crate::tenancy::Tenant, class: &ClassId, id: &Self::Id) -> crate::tenancy::Key {
        tenant.class_assessment(class, id)
    }

    fn published_at(&self) -> Option<&str> {
        self.published_at.as_deref()
    }

    fn is_published(&self) -> bool {
        self.status == AssessmentStatus::Published
    }

    fn class_ids(&self) -> &[ClassId] {
        &self.class_ids
    }

    fn due(&self) -> Option<crate::publication::Due> {
        let due_at = self.due_at.as_deref()?;
        // In UTC, as readers compare it with now as text; a due date stored
        // before timestamps were always UTC may carry an offset.
        let due_at = time::OffsetDateTime::parse(due_at, &time::format_description::well_known::Rfc3339)
            .map_or_else(|_| due_at.to_owned(), crate::clock::rfc3339);
        Some(crate::publication::Due { title: self.title.clone(), due_at })
    }
}

/// How one answer was graded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Graded {
    pub correct: bool,
    pub points_awarded: u32,
    pub points_possible: u32,
}

/// One graded attempt.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Submission {
    pub assessment_id: AssessmentId,
    pub student_id: UserId,
    pub attempt: u32,
    /// The answers as given, one per question.
    pub answers: Vec<serde_json::Value>,
    pub graded: Vec<Graded>,
    /// Points earned, before any late penalty.
    pub raw_score: u32,
    pub max_score: u32,
    /// The final score in percent of `max_score`, after any late penalty.
    pub percent: f64,
    pub passed: bool,
    pub late: bool,
    pub submitted_at: String,
}

/// A submission as stored: `gsi1` also files it under its student, so a
/// student's attempts at every assessment are one Query (their export, their
/// erasure).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredSubmission {
    #[serde(flatten)]
    pub submission: Submission,
    pub gsi1pk: String,
    pub gsi1sk: String,
}

impl StoredSubmission {
    pub fn of(tenant: &crate::tenancy::Tenant, submission: Submission) -> Self {
        Self {
            gsi1pk: tenant.submitted_by(&submission.student_id),
            gsi1sk: format!("{}#{:03}", submission.assessment_id, submission.attempt),
            submission,
        }
    }
}

/// An assessment's running totals over its graded submissions. Each count
/// is a top-level number attribute, since DynamoDB's `ADD` creates only
/// those: `h<p>` counts submissions scoring from p to p+1 percent (`h100`
/// is 100), `q<i>` right answers to question i.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct AssessmentStats {
    pub submissions: u64,
    pub passed: u64,
    pub percent_total: f64,
    /// Submissions by whole percent, 0 to 100.
    pub histogram: Vec<u64>,
    /// Right answers by question index.
    pub correct: Vec<u64>,
}

impl AssessmentStats {
    pub fn histogram_attribute(whole_percent: u32) -> String {
        format!("h{}", whole_percent.min(100))
    }

    pub fn correct_attribute(question: usize) -> String {
        format!("q{question}")
    }

    /// The totals: the sum of the shards found, each a map of its number
    /// attributes.
    pub fn from_shards<'a>(shards: impl IntoIterator<Item = &'a BTreeMap<String, f64>>, questions: usize) -> Self {
        let mut stats = Self { histogram: vec![0; 101], correct: vec![0; questions], ..Self::default() };
        for shard in shards {
            let number = |name: &str| shard.get(name).copied();
            let count = |name: &str| number(name).unwrap_or(0.0) as u64;
            stats.submissions += count("submissions");
            stats.passed += count("passed");
            stats.percent_total += number("percent_total").unwrap_or(0.0);
            for (p, bucket) in stats.histogram.iter_mut().enumerate() {
                *bucket += count(&format!("h{p}"));
            }
            for (i, right) in stats.correct.iter_mut().enumerate() {
                *right += count(&Self::correct_attribute(i));
            }
        }
        stats
    }

    /// The median percent, to the whole percent its histogram keeps.
    pub fn median_percent(&self) -> Option<f64> {
        if self.submissions == 0 {
            return None;
        }
        // The lower median: the smallest bucket reaching half the submissions.
        let half = self.submissions.div_ceil(2);
        let mut seen = 0;
        for (percent, count) in self.histogram.iter().enumerate() {
            seen += count;
            if seen >= half {
                return Some(percent as f64);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_is_read_from_the_histogram() {
        let mut stats = AssessmentStats { submissions: 4, histogram: vec![0; 101], ..Default::default() };
        for p in [20, 40, 80, 100] {
            stats.histogram[p] += 1;
        }
        assert_eq!(stats.median_percent(), Some(40.0));
        stats.submissions = 5;
        stats.histogram[90] += 1;
        assert_eq!(stats.median_percent(), Some(80.0));
        assert_eq!(AssessmentStats::histogram_attribute(140), "h100");
        assert_eq!(AssessmentStats::default().median_percent(), None);
    }
}
