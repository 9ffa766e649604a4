//! The compliance worker: runs the export and erasure jobs the queue names.
//! A job is claimed once (a lease, as the generation worker's); each
//! erasure step is recorded as it finishes, so a job that failed or timed
//! out resumes at the step it was in when its message comes back. The
//! fifth claim that fails marks it failed.

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use domain::audit_log::{Action, Actor, Context, Entry, Target, TargetType};
use domain::clock::rfc3339;
use domain::job::JobStatus;
use domain::privacy::{ErasureStep, PrivacyJob, PrivacyJobKind, PrivacyMessage, field};
use domain::tenancy::Tenant;
use domain::user::{self, User};
use store::AppState;
use store::audit_log;
use store::db::{Db, DbError, Write};
use store::records::{Changes, Condition};

use crate::{bundle, erase};

/// How long a claim holds: longer than the worker's timeout.
pub const LEASE_SECONDS: i64 = 330;
/// Claims before a job that keeps failing is failed.
const MAX_ATTEMPTS: u32 = 5;

pub struct Worker {
    pub state: AppState,
}

#[derive(Debug, thiserror::Error)]
pub enum JobError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("s3 {op}: {message}")]
    S3 { op: &'static str, message: String },
    /// The member is being (or was) erased: their export is never made.
    #[error("the member was erased")]
    Erased,
}

impl Worker {
    /// One batch: each message's job run; those that failed are reported,
    /// so SQS brings them back.
    pub async fn handle(&self, event: SqsEvent) -> SqsBatchResponse {
        let mut response = SqsBatchResponse::default();
        for record in event.records {
            let id = record.message_id.clone().unwrap_or_default();
            let Some(message) =
                record.body.as_deref().and_then(|body| serde_json::from_str::<PrivacyMessage>(body).ok())
            else {
                tracing::error!(message_id = %id, "an unreadable compliance message; dropped");
                continue;
            };
            if let Err(err) = self.run(&message).await {
                tracing::warn!(error = %err, job_id = %message.job_id, "a compliance job stopped; it resumes when its message returns");
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id;
                response.batch_item_failures.push(failure);
            }
        }
        response
    }

    /// Claims and runs one job to its end.
    pub async fn run(&self, message: &PrivacyMessage) -> Result<(), JobError> {
        let tenant = Tenant::named_by_queue(&message.org_id);
        let Some(job) = self.claim(&tenant, message).await? else {
            return Ok(());
        };
        let ran = match job.kind {
            PrivacyJobKind::Export => bundle::export(&self.state, &tenant, &job).await.map(Some),
            PrivacyJobKind::Erasure => erase::run(&self.state, &tenant, &job).await.map(|()| None),
        };
        match ran {
            Ok(object_key) => self.finish(&tenant, &job, object_key).await,
            Err(err @ JobError::Erased) => {
                tracing::info!(job_id = %job.id, "an export of an erased member is not made");
                self.fail(&tenant, &job, &err).await
            }
            Err(err) if job.attempts >= MAX_ATTEMPTS => {
                tracing::error!(error = %err, job_id = %job.id, "a compliance job failed for good");
                self.fail(&tenant, &job, &err).await?;
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    async fn claim(&self, tenant: &Tenant, message: &PrivacyMessage) -> Result<Option<PrivacyJob>, JobError> {
        let now = self.state.now().unix_timestamp();
        let lapsed =
            Condition::equals(field::STATUS, &JobStatus::Running).and(Condition::below(field::LEASE_UNTIL, &now));
        let claim = Changes::new()
            .set(field::STATUS, &JobStatus::Running)
            .set(field::LEASE_UNTIL, &(now + LEASE_SECONDS))
            .add(field::ATTEMPTS, 1)
            .set(field::UPDATED_AT, &rfc3339(self.state.now()))
            .when(Condition::exists().and(Condition::equals(field::STATUS, &JobStatus::Queued).or(lapsed)));
        let update = self.state.db.update_with(&tenant.privacy_job(&message.job_id), claim)?;
        match self.state.db.run_update(update).await {
            Ok(item) => Ok(Some(Db::decode(item)?)),
            Err(DbError::ConditionFailed) => {
                let job: Option<PrivacyJob> = self.state.db.get(&tenant.privacy_job(&message.job_id)).await?;
                match job {
                    None => tracing::warn!(job_id = %message.job_id, "a message for no job; dropped"),
                    Some(job) if job.status.is_finished() => {}
                    // Another worker holds it; its message settles it.
                    Some(_) => tracing::info!(job_id = %message.job_id, "a job held by another claim"),
                }
                Ok(None)
            }
            Err(err) => Err(err.into()),
        }
    }

    /// The job done: its status, its bundle, and its audit entry, at once.
    /// An export is done only if its member is not being erased meanwhile:
    /// else its bundle is deleted again and the export fails.
    async fn finish(&self, tenant: &Tenant, job: &PrivacyJob, object_key: Option<String>) -> Result<(), JobError> {
        let now = rfc3339(self.state.now());
        let mut done = finished(job, JobStatus::Succeeded, &now);
        if let Some(key) = &object_key {
            done = done.set(field::OBJECT_KEY, key.as_str());
        }
        let action = match job.kind {
            PrivacyJobKind::Export => Action::ExportCompleted,
            PrivacyJobKind::Erasure => Action::ErasureCompleted,
        };
        // In the name of the request that asked for the job.
        let context = Context { request_id: job.request_id.clone(), ip: None, user_agent: None };
        let entry = Entry::new(action, Actor::system(&job.id), context, self.state.now())
            .target(Target::user(&job.user_id))
            .target(Target::of(TargetType::PrivacyJob, &job.id));
        let mut writes = vec![
            Write::Update(self.state.db.update_with(&tenant.privacy_job(&job.id), done)?),
            audit_log::put(&self.state, tenant, &entry)?,
        ];
        if object_key.is_some() {
            let not_erased = Condition::<User>::exists().and(Condition::absent(user::field::ERASURE_ID));
            writes.push(Write::Check(self.state.db.check(&tenant.user(&job.user_id), not_erased)?));
        }
        match (self.state.db.transact(writes).await, object_key) {
            (Ok(()), _) => {
                tracing::info!(job_id = %job.id, kind = ?job.kind, "compliance job done");
                Ok(())
            }
            (Err(DbError::Cancelled { failed }), Some(object)) if failed.contains(&2) => {
                crate::bundle::delete(&self.state, &object).await?;
                self.fail(tenant, job, &JobError::Erased).await
            }
            (Err(err), _) => Err(err.into()),
        }
    }

    async fn fail(&self, tenant: &Tenant, job: &PrivacyJob, err: &JobError) -> Result<(), JobError> {
        let now = rfc3339(self.state.now());
        let failed = finished(job, JobStatus::Failed, &now).set(field::ERROR, &failure(err));
        self.state.db.run_update(self.state.db.update_with(&tenant.privacy_job(&job.id), failed)?).await?;
        Ok(())
    }
}

/// The changes that finish `job` as `status`, on the condition that this
/// claim still holds it; it leaves the pending list.
fn finished(job: &PrivacyJob, status: JobStatus, now: &str) -> Changes<PrivacyJob> {
    Changes::new()
        .set(field::STATUS, &status)
        .set(field::UPDATED_AT, now)
        .set(field::COMPLETED_AT, now)
        .remove(field::LEASE_UNTIL)
        .remove(field::PENDING)
        .remove(field::PENDING_SORT)
        .when(held(job))
}

/// This claim still holds the job.
pub fn held(job: &PrivacyJob) -> Condition<PrivacyJob> {
    Condition::equals(field::STATUS, &JobStatus::Running).and(Condition::equals(field::ATTEMPTS, &job.attempts))
}

/// What a failed job tells its reader: no internals.
fn failure(err: &JobError) -> String {
    match err {
        JobError::S3 { op, .. } => format!("storage_unavailable: {op}"),
        JobError::Db(_) => "store_unavailable".into(),
        JobError::Erased => "erased".into(),
    }
}

/// The erasure steps in order, from the first not yet done.
pub fn remaining(job: &PrivacyJob) -> impl Iterator<Item = ErasureStep> + '_ {
    ErasureStep::ALL.into_iter().filter(|step| !job.steps_done.contains(step))
}
