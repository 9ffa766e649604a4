//! Classes (`ORG#<org>#CLASS#<id> / CLASS#<id>`) and their rosters: one
//! entry per member in the class's partition (`ROSTER#<user>`), which `gsi1`
//! also files under the user, so "the students of a class" and "the
//! classes of a student" are each one Query.

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::fields::{ClassDescription, ClassName, PersonName, Subject};
use crate::generation::request::GradeLevel;
use crate::ids::{ClassId, OrgId, UserId};
use crate::tenancy::Tenant;
use crate::user::User;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Class {
    pub id: ClassId,
    pub org_id: OrgId,
    pub name: ClassName,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grade_level: Option<GradeLevel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<ClassDescription>,
    pub teacher_id: UserId,
    /// Enrolled students, kept exact by the writes that enroll and remove.
    #[serde(default)]
    pub student_count: u64,
    /// Lessons and assessments published to it now, kept exact by the
    /// writes that publish and delete them (`Publishable::COUNTED_AS`).
    /// The class item also keeps each published assessment's due date
    /// (`publication::Due`), read by overviews from the raw item.
    #[serde(default, deserialize_with = "at_least_zero")]
    pub lessons_published: u64,
    #[serde(default, deserialize_with = "at_least_zero")]
    pub assessments_published: u64,
    #[serde(flatten)]
    pub audit: Audit,
}

crate::record!(Class, ClassId, "class", class);

/// A count that a class made before counts were kept may have taken below
/// zero (an item published before, deleted since): read as none.
fn at_least_zero<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<u64, D::Error> {
    Ok(u64::try_from(i64::deserialize(deserializer)?).unwrap_or(0))
}

/// The fields a change to a class names.
pub mod field {
    use super::{Class, ClassDescription, ClassName, GradeLevel, RosterEntry, RosterRole, Subject, UserId};
    use crate::record::Field;

    pub const NAME: Field<Class, ClassName> = Field::new("name");
    pub const SUBJECT: Field<Class, Option<Subject>> = Field::new("subject");
    pub const GRADE_LEVEL: Field<Class, Option<GradeLevel>> = Field::new("grade_level");
    pub const DESCRIPTION: Field<Class, Option<ClassDescription>> = Field::new("description");
    pub const TEACHER_ID: Field<Class, UserId> = Field::new("teacher_id");
    /// Moved by roster changes, never set.
    pub const STUDENT_COUNT: Field<Class, u64> = Field::new("student_count");
    pub const ROSTER_ROLE: Field<RosterEntry, RosterRole> = Field::new("role");
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum RosterRole {
    Teacher,
    Student,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RosterEntry {
    pub class_id: ClassId,
    pub user_id: UserId,
    pub role: RosterRole,
    /// The member's name when they joined, so a roster page needs no more reads.
    #[serde(with = "crate::sealed")]
    pub first_name: PersonName,
    #[serde(with = "crate::sealed")]
    pub last_name: PersonName,
    pub enrolled_at: String,
    pub enrolled_by: UserId,
    /// `gsi1` files the entry under its user: the classes of a student.
    pub gsi1pk: String,
    pub gsi1sk: String,
}

impl RosterEntry {
    pub fn of(tenant: &Tenant, class: &ClassId, user: &User, role: RosterRole, by: &UserId, at: &str) -> Self {
        Self {
            class_id: class.clone(),
            user_id: user.id.clone(),
            role,
            first_name: user.first_name.clone(),
            last_name: user.last_name.clone(),
            enrolled_at: at.to_owned(),
            enrolled_by: by.clone(),
            gsi1pk: tenant.held_by(&user.id),
            gsi1sk: tenant.class(class).sk,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_count_taken_below_zero_reads_as_none() {
        let class = serde_json::json!({"id": ClassId::new(), "org_id": OrgId::new(), "name": "7B",
            "teacher_id": UserId::new(), "lessons_published": -1, "assessments_published": 2,
            "created_at": "2026-12-05T00:00:00Z", "created_by": UserId::new(),
            "updated_at": "2026-12-05T00:00:00Z", "updated_by": UserId::new(), "version": 1});
        let class: Class = serde_json::from_value(class).unwrap();
        assert_eq!((class.lessons_published, class.assessments_published, class.student_count), (0, 2, 0));
    }
}
