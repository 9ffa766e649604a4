//! Lessons as the API shows them.

use domain::generation::content::Section;
use domain::ids::{ClassId, ContentId, LessonId, UserId};
use domain::lesson::{Lesson, LessonStatus};
use serde::Serialize;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
pub struct LessonView {
    id: LessonId,
    title: String,
    summary: String,
    objectives: Vec<String>,
    sections: Vec<Section>,
    status: LessonStatus,
    /// The classes it is published to.
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

impl From<Lesson> for LessonView {
    fn from(lesson: Lesson) -> Self {
        Self {
            id: lesson.id,
            title: lesson.title,
            summary: lesson.summary,
            objectives: lesson.objectives,
            sections: lesson.sections,
            status: lesson.status,
            class_ids: lesson.class_ids,
            content_id: lesson.content_id,
            published_at: lesson.published_at,
            version: lesson.audit.version,
            created_by: lesson.audit.created_by,
            created_at: lesson.audit.created_at,
            updated_at: lesson.audit.updated_at,
        }
    }
}
