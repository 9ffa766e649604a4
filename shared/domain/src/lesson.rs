//! Lessons (`ORG#<org>#LESSON#<id> / LESSON#<id>`) and where they are
//! published: one `LESSON#<lesson>` entry in each class's partition
//! (`publication::ClassEntry`), so a class's lessons are one Query, and
//! beside a published lesson what its progress reports need of it
//! ([`PublishedLesson`]).

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::generation::content::Section;
use crate::ids::{ClassId, ContentId, LessonId, OrgId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum LessonStatus {
    Draft,
    Published,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Lesson {
    pub id: LessonId,
    pub org_id: OrgId,
    pub title: String,
    pub summary: String,
    pub objectives: Vec<String>,
    pub sections: Vec<Section>,
    pub status: LessonStatus,
    /// The classes it is published to.
    #[serde(default)]
    pub class_ids: Vec<ClassId>,
    /// The generated content it was made from, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<ContentId>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    #[serde(flatten)]
    pub audit: Audit,
}

crate::record!(Lesson, LessonId, "lesson", lesson);

/// The fields a change to a lesson names.
pub mod field {
    use super::{Lesson, Section};
    use crate::record::Field;

    pub const TITLE: Field<Lesson, str> = Field::new("title");
    pub const SUMMARY: Field<Lesson, str> = Field::new("summary");
    pub const OBJECTIVES: Field<Lesson, [String]> = Field::new("objectives");
    pub const SECTIONS: Field<Lesson, [Section]> = Field::new("sections");
}

/// What a progress report needs of a published lesson, in a small item
/// beside it (`Tenant::published_lesson`): every report of every student
/// reads it, and the lesson itself may be large (docs/scale.md). It is
/// there while the lesson is published and not deleted, and publishing,
/// editing and deleting write it in the lesson's own transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PublishedLesson {
    pub title: String,
    pub class_ids: Vec<ClassId>,
}

impl crate::publication::Publishable for Lesson {
    const KIND: crate::publication::ContentKind = crate::publication::ContentKind::Lesson;
    const PREFIX: &'static str = crate::tenancy::Tenant::LESSON_PREFIX;
    const LIST: &'static str = "lessons";
    const COUNTED_AS: &'static str = "lessons_published";

    fn class_entry(tenant: &crate::tenancy::Tenant, class: &ClassId, id: &Self::Id) -> crate::tenancy::Key {
        tenant.class_lesson(class, id)
    }

    fn published_at(&self) -> Option<&str> {
        self.published_at.as_deref()
    }

    fn is_published(&self) -> bool {
        self.status == LessonStatus::Published
    }

    fn class_ids(&self) -> &[ClassId] {
        &self.class_ids
    }

    fn summary(
        &self,
        tenant: &crate::tenancy::Tenant,
        class_ids: &[ClassId],
    ) -> crate::error::Result<Option<crate::publication::Summary>> {
        let published = PublishedLesson { title: self.title.clone(), class_ids: class_ids.to_vec() };
        crate::publication::Summary::of(tenant.published_lesson(&self.id), &published).map(Some)
    }
}
