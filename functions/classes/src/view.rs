//! Classes and rosters as the API shows them.

use domain::class::{Class, RosterEntry, RosterRole};
use domain::fields::{ClassDescription, ClassName, PersonName, Subject};
use domain::generation::request::GradeLevel;
use domain::ids::{ClassId, UserId};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct ClassView {
    id: ClassId,
    name: ClassName,
    #[serde(skip_serializing_if = "Option::is_none")]
    subject: Option<Subject>,
    #[serde(skip_serializing_if = "Option::is_none")]
    grade_level: Option<GradeLevel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    description: Option<ClassDescription>,
    teacher_id: UserId,
    student_count: u64,
    /// Lessons published to the class now.
    lessons_published: u64,
    /// Assessments published to the class now.
    assessments_published: u64,
    version: u64,
    created_at: String,
    updated_at: String,
}

impl From<Class> for ClassView {
    fn from(class: Class) -> Self {
        Self {
            id: class.id,
            name: class.name,
            subject: class.subject,
            grade_level: class.grade_level,
            description: class.description,
            teacher_id: class.teacher_id,
            student_count: class.student_count,
            lessons_published: class.lessons_published,
            assessments_published: class.assessments_published,
            version: class.audit.version,
            created_at: class.audit.created_at,
            updated_at: class.audit.updated_at,
        }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct RosterView {
    user_id: UserId,
    role: RosterRole,
    first_name: PersonName,
    last_name: PersonName,
    enrolled_at: String,
}

impl From<RosterEntry> for RosterView {
    fn from(entry: RosterEntry) -> Self {
        Self {
            user_id: entry.user_id,
            role: entry.role,
            first_name: entry.first_name,
            last_name: entry.last_name,
            enrolled_at: entry.enrolled_at,
        }
    }
}

/// Why one student of a batch was not enrolled.
#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollFailure {
    pub student_id: String,
    /// `not_found` (no such member), `not_a_student`, `already_enrolled` or `invalid_id`.
    pub reason: &'static str,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EnrollResult {
    pub enrolled: Vec<UserId>,
    pub failed: Vec<EnrollFailure>,
    /// The class's student count after this batch.
    pub student_count: u64,
}
