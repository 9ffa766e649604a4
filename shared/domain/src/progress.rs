//! A student's progress through a lesson (`PROGRESS#<lesson>#<student>`,
//! filed by `gsi1` under the student for their parents) and the lesson's
//! running totals (`ORG#<org>#LESSONSTATS#<lesson>#<shard>`), moved in the same transaction.
//!
//! Progress only moves forward: a report is merged with what is stored,
//! field by field, so a report that arrives late (a phone that was offline,
//! a retried request) can never undo a later one.

use serde::{Deserialize, Serialize};

use crate::ids::{LessonId, UserId};
use crate::tenancy::Tenant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProgressStatus {
    NotStarted,
    InProgress,
    Completed,
}

/// What a student's app (or a game they play) reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Report {
    pub status: ProgressStatus,
    pub percent: u8,
    pub time_spent_seconds: u64,
}

/// A year: more time than any one lesson takes, and far from overflowing a total.
pub const MAX_TIME_SPENT_SECONDS: u64 = 365 * 24 * 3600;

impl Report {
    /// A report as sent, held to its bounds: a percent to 100, at most a
    /// year of time.
    pub fn checked(status: ProgressStatus, percent: u8, time_spent_seconds: u64) -> crate::error::Result<Self> {
        if percent > 100 {
            return Err(crate::error::Error::invalid("percent", "must be from 0 to 100"));
        }
        if time_spent_seconds > MAX_TIME_SPENT_SECONDS {
            return Err(crate::error::Error::invalid("time_spent_seconds", "must be at most a year"));
        }
        Ok(Self { status, percent, time_spent_seconds })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonProgress {
    pub lesson_id: LessonId,
    pub student_id: UserId,
    /// The lesson's title when first reported, so a parent's list needs no more reads.
    pub lesson_title: String,
    pub status: ProgressStatus,
    pub percent: u8,
    pub time_spent_seconds: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    pub updated_at: String,
    /// Each stored change adds one; a write is conditional on the version it read.
    pub version: u64,
    /// The teachers whose progress totals (`TAUGHT`) count this record: a
    /// teacher whose class reaches the lesson only after the first report
    /// gets the whole record at the next change, the others its changes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub counted_for: Vec<UserId>,
    pub gsi1pk: String,
    pub gsi1sk: String,
}

impl LessonProgress {
    /// Progress not yet reported: what a read shows before the first report.
    pub fn none(tenant: &Tenant, lesson: &LessonId, title: &str, student: &UserId, at: &str) -> Self {
        Self {
            lesson_id: lesson.clone(),
            student_id: student.clone(),
            lesson_title: title.to_owned(),
            status: ProgressStatus::NotStarted,
            percent: 0,
            time_spent_seconds: 0,
            started_at: None,
            completed_at: None,
            updated_at: at.to_owned(),
            version: 0,
            counted_for: Vec::new(),
            gsi1pk: tenant.held_by(student),
            gsi1sk: tenant.lesson(lesson).sk,
        }
    }

    /// The stored progress moved forward by `report`, or `None` when the
    /// report moves nothing. Each field keeps the larger value; a completed
    /// lesson is 100 percent, and any percent above 0 means started.
    pub fn advanced(&self, report: Report, at: &str) -> Option<Self> {
        let mut status = self.status.max(report.status);
        let mut percent = self.percent.max(report.percent.min(100));
        if status == ProgressStatus::Completed {
            percent = 100;
        } else if percent > 0 {
            status = status.max(ProgressStatus::InProgress);
        }
        let time_spent_seconds = self.time_spent_seconds.max(report.time_spent_seconds);
        if (status, percent, time_spent_seconds) == (self.status, self.percent, self.time_spent_seconds) {
            return None;
        }
        let now = || Some(at.to_owned());
        Some(Self {
            status,
            percent,
            time_spent_seconds,
            started_at: self.started_at.clone().or_else(|| (status > ProgressStatus::NotStarted).then(now).flatten()),
            completed_at: self
                .completed_at
                .clone()
                .or_else(|| (status == ProgressStatus::Completed).then(now).flatten()),
            updated_at: at.to_owned(),
            version: self.version + 1,
            ..self.clone()
        })
    }
}

/// A lesson's running totals over the students who reported progress.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LessonStats {
    #[serde(default)]
    pub learners: u64,
    #[serde(default)]
    pub started: u64,
    #[serde(default)]
    pub completed: u64,
    #[serde(default)]
    pub time_spent_total: u64,
    #[serde(default)]
    pub percent_total: u64,
}

/// The counters one student's report moves, in that student's shard.
pub mod field {
    use super::LessonStats;
    use crate::record::Field;

    pub const LEARNERS: Field<LessonStats, u64> = Field::new("learners");
    pub const STARTED: Field<LessonStats, u64> = Field::new("started");
    pub const COMPLETED: Field<LessonStats, u64> = Field::new("completed");
    pub const TIME_SPENT_TOTAL: Field<LessonStats, u64> = Field::new("time_spent_total");
    pub const PERCENT_TOTAL: Field<LessonStats, u64> = Field::new("percent_total");
}

impl std::ops::AddAssign for LessonStats {
    fn add_assign(&mut self, other: Self) {
        self.learners += other.learners;
        self.started += other.started;
        self.completed += other.completed;
        self.time_spent_total += other.time_spent_total;
        self.percent_total += other.percent_total;
    }
}

impl LessonStats {
    /// What one change of one student's progress adds to each total
    /// (`before` is `None` for their first report). Every delta is ≥ 0,
    /// since progress only moves forward.
    pub fn delta(before: &LessonProgress, after: &LessonProgress) -> Self {
        let (before_counts, after_counts) = (Self::whole(before), Self::whole(after));
        Self {
            learners: u64::from(before.version == 0),
            started: after_counts.started - before_counts.started,
            completed: after_counts.completed - before_counts.completed,
            time_spent_total: after_counts.time_spent_total - before_counts.time_spent_total,
            percent_total: after_counts.percent_total - before_counts.percent_total,
        }
    }

    /// What one student's record adds to totals that did not count it yet.
    pub fn whole(progress: &LessonProgress) -> Self {
        Self {
            learners: 1,
            started: u64::from(progress.status > ProgressStatus::NotStarted),
            completed: u64::from(progress.status == ProgressStatus::Completed),
            time_spent_total: progress.time_spent_seconds,
            percent_total: u64::from(progress.percent),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored() -> LessonProgress {
        LessonProgress::none(&Tenant::for_new_organization(), &LessonId::new(), "Fractions", &UserId::new(), "t0")
    }

    fn report(status: ProgressStatus, percent: u8, time: u64) -> Report {
        Report { status, percent, time_spent_seconds: time }
    }

    #[test]
    fn a_stale_report_never_moves_progress_back() {
        let now = stored().advanced(report(ProgressStatus::InProgress, 60, 300), "t1").unwrap();
        assert_eq!(now.advanced(report(ProgressStatus::InProgress, 40, 200), "t2"), None);
        let mixed = now.advanced(report(ProgressStatus::NotStarted, 10, 400), "t2").unwrap();
        assert_eq!((mixed.status, mixed.percent, mixed.time_spent_seconds), (ProgressStatus::InProgress, 60, 400));
        assert_eq!(mixed.started_at.as_deref(), Some("t1"));
    }

    #[test]
    fn completing_means_a_hundred_percent_and_counts_once() {
        let before = stored();
        let done = before.advanced(report(ProgressStatus::Completed, 30, 90), "t1").unwrap();
        assert_eq!((done.percent, done.completed_at.as_deref(), done.version), (100, Some("t1"), 1));
        let delta = LessonStats::delta(&before, &done);
        assert_eq!(
            delta,
            LessonStats { learners: 1, started: 1, completed: 1, time_spent_total: 90, percent_total: 100 }
        );
        let more_time = done.advanced(report(ProgressStatus::Completed, 100, 120), "t2").unwrap();
        let delta = LessonStats::delta(&done, &more_time);
        assert_eq!(delta, LessonStats { time_spent_total: 30, ..LessonStats::default() });
        assert_eq!(more_time.completed_at.as_deref(), Some("t1"));
    }

    #[test]
    fn a_percent_above_zero_is_started() {
        let moved = stored().advanced(report(ProgressStatus::NotStarted, 5, 0), "t1").unwrap();
        assert_eq!(moved.status, ProgressStatus::InProgress);
    }
}
