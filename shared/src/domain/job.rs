//! Content generation jobs: `ORG#<org> / JOB#<id>`, and the SQS message that
//! asks the worker to run one.

use serde::{Deserialize, Serialize};

use crate::domain::audit::Audit;
use crate::generation::request::GenerateRequest;
use crate::ids::{ContentId, JobId, OrgId, UserId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum JobStatus {
    Queued,
    Running,
    Succeeded,
    Failed,
}

impl JobStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queued => "queued",
            Self::Running => "running",
            Self::Succeeded => "succeeded",
            Self::Failed => "failed",
        }
    }

    pub fn is_finished(self) -> bool {
        matches!(self, Self::Succeeded | Self::Failed)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Job {
    pub id: JobId,
    pub org_id: OrgId,
    pub request: GenerateRequest,
    pub status: JobStatus,
    /// The pipeline stage running or last run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    #[serde(default)]
    pub progress: u8,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_id: Option<ContentId>,
    /// Why it failed, for people: `review_failed: …`, `provider_unavailable`, …
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Claims so far; the current claim's number guards its writes.
    #[serde(default)]
    pub attempts: u32,
    /// Epoch seconds until which the current claim holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    /// The HTTP request that asked for it, carried into every worker log line.
    pub request_id: String,
    #[serde(flatten)]
    pub audit: Audit,
}

/// The body of a generation queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub org_id: OrgId,
    pub job_id: JobId,
    pub request_id: String,
    pub requested_by: UserId,
}
