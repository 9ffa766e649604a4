//! Content generation jobs: `ORG#<org>#JOB#<id> / JOB#<id>`, and the SQS message that
//! asks the worker to run one.

use serde::{Deserialize, Serialize};

use crate::audit::Audit;
use crate::generation::request::GenerateRequest;
use crate::ids::{ContentId, JobId, OrgId, UserId};
use crate::tenancy::Tenant;

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
    /// The X-Ray trace of that request, passed to SQS so the worker's run
    /// joins it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<String>,
    /// `gsi1` lists a tenant's jobs by status: every status change sets it.
    pub gsi1pk: String,
    pub gsi1sk: String,
    #[serde(flatten)]
    pub audit: Audit,
}

/// The fields the worker's claim and its updates name.
pub mod field {
    use super::{Job, JobStatus};
    use crate::ids::ContentId;
    use crate::record::Field;

    pub const STATUS: Field<Job, JobStatus> = Field::new("status");
    /// `gsi1pk`: the job's place in the tenant's list by status.
    pub const STATUS_INDEX: Field<Job, str> = Field::new("gsi1pk");
    pub const STAGE: Field<Job, str> = Field::new("stage");
    pub const PROGRESS: Field<Job, u8> = Field::new("progress");
    pub const CONTENT_ID: Field<Job, ContentId> = Field::new("content_id");
    pub const ERROR: Field<Job, str> = Field::new("error");
    pub const ATTEMPTS: Field<Job, u32> = Field::new("attempts");
    pub const LEASE_UNTIL: Field<Job, i64> = Field::new("lease_until");
    pub const UPDATED_AT: Field<Job, str> = Field::new("updated_at");
}

impl Job {
    /// A job as `POST /content/generate` writes it: queued, nothing run yet.
    pub fn queued(
        id: JobId,
        tenant: &Tenant,
        request: GenerateRequest,
        request_id: String,
        by: &UserId,
        at: time::OffsetDateTime,
    ) -> Self {
        Self {
            gsi1pk: tenant.jobs_in_status(JobStatus::Queued.as_str()),
            gsi1sk: tenant.job(&id).sk,
            id,
            org_id: tenant.org_id().clone(),
            request,
            status: JobStatus::Queued,
            stage: None,
            progress: 0,
            content_id: None,
            error: None,
            attempts: 0,
            lease_until: None,
            request_id,
            trace_header: None,
            audit: Audit::new(by, at),
        }
    }

    /// The job with the trace of the request that asked for it.
    pub fn traced(self, trace_header: Option<String>) -> Self {
        Self { trace_header, ..self }
    }

    /// The queue message that asks the worker to run this job.
    pub fn message(&self) -> JobMessage {
        JobMessage {
            org_id: self.org_id.clone(),
            job_id: self.id.clone(),
            request_id: self.request_id.clone(),
            requested_by: self.audit.created_by.clone(),
            trace_header: self.trace_header.clone(),
        }
    }
}

/// The body of a generation queue message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JobMessage {
    pub org_id: OrgId,
    pub job_id: JobId,
    pub request_id: String,
    pub requested_by: UserId,
    /// Also sent as the message's `AWSTraceHeader`; here too, so that a
    /// worker not run by Lambda (`make dev`) still joins the trace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_header: Option<String>,
}
