//! Data subject requests, run as jobs by the compliance worker:
//! `ORG#<org>#PRIVACY / JOB#<id>`. An export gathers one member's data
//! into a JSON bundle; an erasure deletes it, step by step, each step safe
//! to run again, so a job that stopped halfway resumes where it was.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::ids::{OrgId, PrivacyJobId, UserId};
use crate::job::JobStatus;
use crate::tenancy::Tenant;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyJobKind {
    Export,
    Erasure,
}

/// The steps of an erasure, in order; a job records each it finished.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErasureStep {
    /// Roster entries (class counts drop) and parent–child links.
    Memberships,
    Progress,
    Submissions,
    /// Messages they sent stay, authored by "deleted user".
    SentMessages,
    /// Their own partition: the user item, sessions, copies of messages,
    /// their unread count. (Their email and username were freed when the
    /// erasure was asked for, in the same transaction that disabled them.)
    OwnItems,
    /// Their exports' bundles in S3.
    Objects,
}

impl ErasureStep {
    pub const ALL: [ErasureStep; 6] = [
        ErasureStep::Memberships,
        ErasureStep::Progress,
        ErasureStep::Submissions,
        ErasureStep::SentMessages,
        ErasureStep::OwnItems,
        ErasureStep::Objects,
    ];
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PrivacyJob {
    pub id: PrivacyJobId,
    pub org_id: OrgId,
    pub kind: PrivacyJobKind,
    /// Whose data.
    pub user_id: UserId,
    pub requested_by: UserId,
    pub status: JobStatus,
    /// An erasure's finished steps.
    #[serde(default)]
    pub steps_done: Vec<ErasureStep>,
    /// Items and objects deleted so far (an erasure).
    #[serde(default)]
    pub deleted: u64,
    /// An export's bundle, once written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Claims so far; the current claim's number guards its writes.
    #[serde(default)]
    pub attempts: u32,
    /// Epoch seconds until which the current claim holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lease_until: Option<i64>,
    /// The request that asked for it.
    pub request_id: String,
    pub created_at: String,
    pub updated_at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    /// `gsi1`: the tenant's pending jobs; removed once it is finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1pk: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gsi1sk: Option<String>,
}

/// The fields the worker's claim and its updates name.
pub mod field {
    use super::{ErasureStep, JobStatus, PrivacyJob};
    use crate::record::Field;

    pub const STATUS: Field<PrivacyJob, JobStatus> = Field::new("status");
    pub const STEPS_DONE: Field<PrivacyJob, Vec<ErasureStep>> = Field::new("steps_done");
    pub const DELETED: Field<PrivacyJob, u64> = Field::new("deleted");
    pub const OBJECT_KEY: Field<PrivacyJob, str> = Field::new("object_key");
    pub const ERROR: Field<PrivacyJob, str> = Field::new("error");
    pub const ATTEMPTS: Field<PrivacyJob, u32> = Field::new("attempts");
    pub const LEASE_UNTIL: Field<PrivacyJob, i64> = Field::new("lease_until");
    pub const UPDATED_AT: Field<PrivacyJob, str> = Field::new("updated_at");
    pub const COMPLETED_AT: Field<PrivacyJob, str> = Field::new("completed_at");
    pub const PENDING: Field<PrivacyJob, str> = Field::new("gsi1pk");
    pub const PENDING_SORT: Field<PrivacyJob, str> = Field::new("gsi1sk");
}

impl PrivacyJob {
    pub fn new(
        tenant: &Tenant,
        kind: PrivacyJobKind,
        user_id: UserId,
        requested_by: UserId,
        request_id: String,
        at: &str,
    ) -> Self {
        let id = PrivacyJobId::new();
        Self {
            gsi1pk: Some(tenant.pending_privacy_jobs()),
            gsi1sk: Some(format!("{kind:?}#{id}").to_ascii_uppercase()),
            id,
            org_id: tenant.org_id().clone(),
            kind,
            user_id,
            requested_by,
            status: JobStatus::Queued,
            steps_done: Vec::new(),
            deleted: 0,
            object_key: None,
            error: None,
            attempts: 0,
            lease_until: None,
            request_id,
            created_at: at.to_owned(),
            updated_at: at.to_owned(),
            completed_at: None,
        }
    }

    /// What the worker is sent: enough to find the job.
    pub fn message(&self) -> PrivacyMessage {
        PrivacyMessage { org_id: self.org_id.clone(), job_id: self.id.clone() }
    }
}

/// The queue message of a job.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PrivacyMessage {
    pub org_id: OrgId,
    pub job_id: PrivacyJobId,
}
