//! Jobs and content as the API shows them.

use domain::content::{ContentItem, ContentStatus};
use domain::generation::content::{GeneratedContent, Question, Section};
use domain::generation::request::{ContentKind, GenerateRequest};
use domain::ids::{ContentId, JobId, UserId};
use domain::job::{Job, JobStatus};
use serde::Serialize;
use utoipa::ToSchema;

/// `202` to a generation request: where to follow the job.
#[derive(Debug, Serialize, ToSchema)]
pub struct Accepted {
    pub job_id: JobId,
    pub status: JobStatus,
    /// `GET` this to follow the job.
    pub status_url: String,
}

impl Accepted {
    pub fn of(job: &Job) -> Self {
        Self { job_id: job.id.clone(), status: job.status, status_url: format!("/api/v1/content/jobs/{}", job.id) }
    }
}

#[derive(Debug, Serialize, ToSchema)]
pub struct JobView {
    id: JobId,
    #[serde(rename = "type")]
    kind: ContentKind,
    status: JobStatus,
    /// The pipeline stage running, or the last one run.
    #[serde(skip_serializing_if = "Option::is_none")]
    stage: Option<String>,
    /// 0 to 100.
    progress: u8,
    /// Set when the job succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    content_id: Option<ContentId>,
    /// Why it failed: `review_failed: …`, `provider_unavailable`, …
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    request: GenerateRequest,
    created_by: UserId,
    created_at: String,
    updated_at: String,
}

impl From<Job> for JobView {
    fn from(job: Job) -> Self {
        Self {
            id: job.id,
            kind: job.request.kind,
            status: job.status,
            stage: job.stage,
            progress: job.progress,
            content_id: job.content_id,
            error: job.error,
            request: job.request,
            created_by: job.audit.created_by,
            created_at: job.audit.created_at,
            updated_at: job.audit.updated_at,
        }
    }
}

/// A content item without its body, as lists and searches show it.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContentSummary {
    id: ContentId,
    #[serde(rename = "type")]
    kind: ContentKind,
    title: String,
    summary: String,
    status: ContentStatus,
    /// What wrote it: `template` is the offline provider.
    provider: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    job_id: Option<JobId>,
    version: u64,
    created_by: UserId,
    created_at: String,
    updated_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    published_at: Option<String>,
}

impl From<&ContentItem> for ContentSummary {
    fn from(item: &ContentItem) -> Self {
        Self {
            id: item.id.clone(),
            kind: item.kind,
            title: item.title.clone(),
            summary: item.summary.clone(),
            status: item.status,
            provider: item.provider.clone(),
            job_id: item.job_id.clone(),
            version: item.audit.version,
            created_by: item.audit.created_by.clone(),
            created_at: item.audit.created_at.clone(),
            updated_at: item.audit.updated_at.clone(),
            published_at: item.published_at.clone(),
        }
    }
}

/// A content item with its body: a lesson has `sections` and a `quiz`, a
/// quiz has `questions`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ContentView {
    #[serde(flatten)]
    summary: ContentSummary,
    objectives: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    sections: Option<Vec<Section>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    quiz: Option<Vec<Question>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    questions: Option<Vec<Question>>,
}

impl ContentView {
    pub fn of(item: &ContentItem, body: GeneratedContent) -> Self {
        let (sections, quiz, questions) = match item.kind {
            ContentKind::Lesson => (Some(body.sections), Some(body.quiz), None),
            ContentKind::Quiz => (None, None, Some(body.quiz)),
        };
        Self { summary: item.into(), objectives: body.objectives, sections, quiz, questions }
    }
}

/// A search result: the item, and how well it matched.
#[derive(Debug, Serialize, ToSchema)]
pub struct SearchHit {
    #[serde(flatten)]
    pub content: ContentSummary,
    /// How many of the query's words it matched.
    pub matched: usize,
    /// The matched words' weights: a title counts more than a paragraph.
    pub score: u32,
}
