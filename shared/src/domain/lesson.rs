//! Lessons (`ORG#<org> / LESSON#<id>`) and where they are published: one
//! `CLASSLESSON#<class>#<lesson>` entry per class (`publication::ClassEntry`),
//! so a class's lessons are one Query.

use serde::{Deserialize, Serialize};

use crate::domain::audit::Audit;
use crate::generation::content::Section;
use crate::ids::{ClassId, ContentId, LessonId, OrgId, UserId};

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
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted_by: Option<UserId>,
    #[serde(flatten)]
    pub audit: Audit,
}
