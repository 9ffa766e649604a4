//! The generation worker: an SQS batch handler. Each message names a job;
//! the worker claims it with a conditional update (so a redelivered or
//! concurrent duplicate never runs twice, and a finished job is acknowledged
//! without rework), runs the pipeline, stores the content and reports only
//! the messages worth retrying as batch item failures.
//!
//! Each job runs within the invocation's deadline: one that cannot finish
//! [`RELEASE_MARGIN`] before Lambda would stop the batch is released to the
//! queue instead of dying with it. Its log lines carry the request id and
//! X-Ray trace of the request that asked for it, and it ends with one `Jobs`
//! metric.

use std::sync::Arc;
use std::time::Duration;

use aws_lambda_events::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent, SqsMessage};
use aws_sdk_dynamodb::types::Update;
use domain::audit::Audit;
use domain::clock::rfc3339;
use domain::content::{ContentItem, ContentStatus};
use domain::generation::content::GeneratedContent;
use domain::ids::ContentId;
use domain::job::{Job, JobMessage, JobStatus, field};
use domain::publication::ContentKind;
use domain::tenancy::Tenant;
use integrations::generation::meter;
use integrations::generation::pipeline::{self, PipelineError};
use integrations::generation::provider::{Provider, ProviderError, Stage};
use integrations::pusher::Realtime;
use serde_json::json;
use store::AppState;
use store::bodies::StoredBody;
use store::counters::{self, Counter, Total};
use store::db::{Db, DbError, Write};
use store::logging::{self, Correlation, Invocations};
use store::metrics::{Document, Unit};
use store::records::{Changes, Condition};
use store::search;
use tokio::time::Instant;
use tracing::Instrument;

/// SQS hands a message over this many times before the dead-letter queue
/// takes it (`maxReceiveCount` in template.yaml).
pub const MAX_RECEIVES: u32 = 5;

/// How long a claim holds: the worker's Lambda timeout (300 s in
/// template.yaml) and a margin, so a claim outlives the invocation holding it.
pub const LEASE_SECONDS: i64 = 330;

/// Time kept back from the invocation's deadline to release unfinished jobs.
pub const RELEASE_MARGIN: Duration = Duration::from_secs(5);

/// What Lambda says about one invocation.
#[derive(Debug, Clone, Default)]
pub struct Call {
    /// Its ids, function, cold start and X-Ray trace (a batch's jobs each
    /// follow their own message's trace and request).
    pub invocation: Correlation,
    /// When Lambda stops the invocation; `None` runs jobs to their end.
    pub deadline: Option<Instant>,
}

impl Call {
    pub fn of(context: &lambda_runtime::Context, invocations: &Invocations) -> Self {
        let since_epoch = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        let left = Duration::from_millis(context.deadline).saturating_sub(since_epoch);
        Self { invocation: invocations.begin(context), deadline: (context.deadline > 0).then(|| Instant::now() + left) }
    }

    /// When a job still running is released.
    fn budget(&self) -> Option<Instant> {
        self.deadline.map(|deadline| deadline.checked_sub(RELEASE_MARGIN).unwrap_or(deadline))
    }
}

pub struct Worker {
    pub state: AppState,
    pub provider: Arc<dyn Provider>,
    pub realtime: Realtime,
    /// How long a claim holds: past it, a redelivered message may take over.
    pub lease_seconds: i64,
}

/// Why a message goes back to the queue, and when it should come back: a
/// message is made visible again on purpose, not after the queue's
/// visibility timeout (1,800 s, there only for a worker that died).
#[derive(Debug)]
struct Retry {
    reason: &'static str,
    /// Seconds until it is delivered again; `None`: [`REDELIVER_AFTER_SECONDS`]
    /// times the receives so far, so a failing write backs off and an
    /// unreadable message reaches the dead-letter queue within minutes.
    after_seconds: Option<i32>,
}

impl Retry {
    fn later(reason: &'static str) -> Self {
        Self { reason, after_seconds: None }
    }

    /// The job was given back unfinished (out of time, or the provider
    /// failing for now): try it again soon.
    fn released(reason: &'static str) -> Self {
        Self { reason, after_seconds: Some(REDELIVER_AFTER_SECONDS) }
    }

    /// Another worker holds the job for `seconds` more: come back once its
    /// claim has ended or lapsed, not five times before it does.
    fn held(seconds: i64) -> Self {
        let seconds = i32::try_from(seconds.clamp(0, MAX_VISIBILITY_SECONDS)).unwrap_or(0);
        Self { reason: "another worker holds the job", after_seconds: Some(seconds + REDELIVER_AFTER_SECONDS) }
    }

    fn delay(&self, receives: u32) -> i32 {
        let backoff = REDELIVER_AFTER_SECONDS.saturating_mul(i32::try_from(receives.max(1)).unwrap_or(i32::MAX));
        self.after_seconds.unwrap_or(backoff).min(MAX_VISIBILITY_SECONDS as i32)
    }
}

/// The shortest wait before a message comes back, and the unit of backoff.
pub const REDELIVER_AFTER_SECONDS: i32 = 10;
/// SQS's longest visibility timeout, 12 hours.
const MAX_VISIBILITY_SECONDS: i64 = 43_200;

/// What the worker's Lambda function is invoked with.
pub enum Invocation {
    /// A batch from the generation queue.
    Batch(SqsEvent),
    /// The schedule's tick (an EventBridge event): sweep the outbox.
    Sweep,
}

impl Invocation {
    /// Tells the two triggers apart: only SQS batches carry `Records`.
    pub fn of(payload: serde_json::Value) -> Result<Self, serde_json::Error> {
        if payload.get("Records").is_some() {
            serde_json::from_value(payload).map(Self::Batch)
        } else {
            Ok(Self::Sweep)
        }
    }
}

impl Worker {
    /// Runs one invocation; the answer is what Lambda expects back. An error
    /// fails the whole invocation, so Lambda retries every message of a batch.
    pub async fn invoke(
        self: &Arc<Self>,
        invocation: Invocation,
        call: Call,
    ) -> Result<serde_json::Value, Box<dyn std::error::Error + Send + Sync>> {
        Ok(match invocation {
            Invocation::Batch(batch) => serde_json::to_value(self.handle_within(batch, call).await)?,
            // No request asked for a sweep: the invocation's own id stands for one.
            Invocation::Sweep => json!({ "sent": call.invocation.run(Box::pin(self.sweep())).await? }),
        })
    }

    /// Processes a batch concurrently, with no deadline.
    pub async fn handle(self: &Arc<Self>, event: SqsEvent) -> SqsBatchResponse {
        self.handle_within(event, Call::default()).await
    }

    /// Processes a batch concurrently within `call`'s deadline; the failures
    /// are the messages to retry.
    pub async fn handle_within(self: &Arc<Self>, event: SqsEvent, call: Call) -> SqsBatchResponse {
        let mut tasks = tokio::task::JoinSet::new();
        for record in event.records {
            let worker = self.clone();
            let call = call.clone();
            tasks.spawn(async move {
                let id = record.message_id.clone().unwrap_or_default();
                (id, record.receipt_handle.clone(), receives(&record), worker.process(&record, &call).await)
            });
        }
        let mut response = SqsBatchResponse::default();
        let mut returning = Vec::new();
        while let Some(joined) = tasks.join_next().await {
            match joined {
                Ok((_, _, _, Ok(()))) => {}
                Ok((id, receipt, receives, Err(retry))) => {
                    let after = retry.delay(receives);
                    tracing::warn!(message_id = %id, reason = retry.reason, after, "message left for redelivery");
                    returning.extend(receipt.map(|receipt| (receipt, after)));
                    let mut failure = BatchItemFailure::default();
                    failure.item_identifier = id;
                    response.batch_item_failures.push(failure);
                }
                Err(err) => tracing::error!(error = %err, "a message's task panicked"),
            }
        }
        self.redeliver(&returning).await;
        response
    }

    /// Makes each message visible again after its delay. A failure is
    /// logged: the message then comes back after the queue's visibility timeout.
    async fn redeliver(&self, returning: &[(String, i32)]) {
        let sqs = self.state.aws.sqs();
        let changes = returning.iter().map(|(receipt, after)| {
            sqs.change_message_visibility()
                .queue_url(&self.state.config.queue_url)
                .receipt_handle(receipt)
                .visibility_timeout(*after)
                .send()
        });
        for changed in futures_util::future::join_all(changes).await {
            if let Err(err) = changed {
                tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(err), "a message waits for its visibility timeout");
            }
        }
    }

    /// The scheduled run: sends the queue messages that `POST /content/generate`
    /// recorded but could not be seen to send (see `store::outbox`).
    pub async fn sweep(&self) -> Result<usize, store::outbox::OutboxError> {
        let sent = store::outbox::sweep(&self.state).await?;
        if sent > 0 {
            tracing::warn!(sent, "outbox sweep sent stuck job messages");
        }
        Ok(sent)
    }

    async fn process(&self, record: &SqsMessage, call: &Call) -> Result<(), Retry> {
        let Some(message) = record.body.as_deref().and_then(|body| serde_json::from_str::<JobMessage>(body).ok())
        else {
            // A poison message: redelivered until the DLQ takes it.
            tracing::error!(message_id = ?record.message_id, "unreadable generation message");
            return Err(Retry::later("unreadable message"));
        };
        let receives = receives(record);
        // Lambda hands over the message's trace as `AWSTraceHeader`; the body
        // carries it too, for the local poller.
        let trace_header = record.attributes.get("AWSTraceHeader").or(message.trace_header.as_ref());
        let correlation = Correlation {
            request_id: message.request_id.clone(),
            trace_header: trace_header.filter(|header| logging::sane_trace_header(header)).cloned(),
            organization_id: Some(message.org_id.to_string()),
            ..call.invocation.clone()
        };
        let span = correlation.span();
        span.record("user_id", tracing::field::display(&message.requested_by));
        let job = tracing::info_span!(parent: &span, "job", job_id = %message.job_id);
        // Boxed: a job's future is large, and each of a batch's runs on the same stack.
        correlation.scope(Box::pin(self.run_job(&message, receives, call.budget())).instrument(job)).await
    }

    async fn run_job(&self, message: &JobMessage, receives: u32, budget: Option<Instant>) -> Result<(), Retry> {
        if budget.is_some_and(|budget| Instant::now() >= budget) {
            return Err(Retry::released("no time left in the invocation"));
        }
        let tenant = Tenant::named_by_queue(&message.org_id);
        let Some(job) = self.claim(&tenant, message).await? else { return Ok(()) };
        let claimed = Instant::now();
        tracing::info!(provider = self.provider.name(), attempt = job.attempts, "job claimed");
        // Stages are reported as they start, beside the pipeline.
        let (sender, mut stages) = tokio::sync::mpsc::unbounded_channel();
        let total = pipeline::stages(job.request.kind).len();
        let run = pipeline::run(self.provider.as_ref(), &job.request, move |stage| {
            let _ = sender.send(stage);
        });
        let report = async {
            let mut started = 0;
            while let Some(stage) = stages.recv().await {
                started += 1;
                self.progress(&tenant, &job, stage, (started * 90 / total).min(95) as u8).await;
            }
        };
        let work = async { tokio::join!(run, report).0 };
        let (finished, reading) = meter::measure(async {
            match budget {
                Some(budget) => tokio::time::timeout_at(budget, work).await.ok(),
                None => Some(work.await),
            }
        })
        .await;
        let (outcome, result) = match finished {
            None if receives >= MAX_RECEIVES => {
                ("failed", self.fail(&tenant, &job, "timed_out: the job did not finish within the worker's time").await)
            }
            None => {
                tracing::warn!("the invocation's time is running out; job released");
                self.release(&tenant, &job).await;
                ("released", Err(Retry::released("the invocation's time ran out")))
            }
            Some(Ok(content)) => ("succeeded", self.succeed(&tenant, &job, content).await),
            Some(Err(PipelineError::Provider { source: ProviderError::Unavailable, .. })) => {
                ("failed", self.fail(&tenant, &job, "provider_unavailable").await)
            }
            Some(Err(PipelineError::Provider { source, stage })) if source.is_transient() => {
                if receives >= MAX_RECEIVES {
                    let reason = format!("provider_failed: {source} (at {})", stage.as_str());
                    ("failed", self.fail(&tenant, &job, &reason).await)
                } else {
                    self.release(&tenant, &job).await;
                    ("released", Err(Retry::released("the provider failed for now")))
                }
            }
            Some(Err(PipelineError::Provider { source, stage })) => {
                ("failed", self.fail(&tenant, &job, &format!("provider_error: {source} (at {})", stage.as_str())).await)
            }
            Some(Err(PipelineError::Review(problems))) => {
                ("failed", self.fail(&tenant, &job, &format!("review_failed: {}", problems.join("; "))).await)
            }
        };
        // An outcome that could not be written leaves the claim to lapse.
        let outcome = if result.is_err() && outcome != "released" { "retried" } else { outcome };
        job_metric(outcome, claimed.elapsed(), &reading, &job, self.provider.name());
        result
    }

    /// Takes the job if it is queued, or running under a claim that lapsed.
    /// `None` when there is nothing to do (finished, or gone).
    async fn claim(&self, tenant: &Tenant, message: &JobMessage) -> Result<Option<Job>, Retry> {
        let now = self.state.now();
        let lapsed = Condition::equals(field::STATUS, &JobStatus::Running)
            .and(Condition::below(field::LEASE_UNTIL, &now.unix_timestamp()));
        let claim = moved_to(tenant, JobStatus::Running)
            .set(field::LEASE_UNTIL, &(now.unix_timestamp() + self.lease_seconds))
            .add(field::ATTEMPTS, 1)
            .set(field::STAGE, Stage::Outline.as_str())
            .set(field::UPDATED_AT, &rfc3339(now))
            .when(Condition::exists().and(Condition::equals(field::STATUS, &JobStatus::Queued).or(lapsed)));
        let update = self
            .state
            .db
            .update_with(&tenant.job(&message.job_id), claim)
            .map_err(|_| Retry::later("the claim could not be written"))?;
        match self.state.db.run_update(update).await {
            Ok(item) => Db::decode(item).map(Some).map_err(|_| Retry::later("the job is unreadable")),
            Err(DbError::ConditionFailed) => {
                let job: Option<Job> = self
                    .state
                    .db
                    .get(&tenant.job(&message.job_id))
                    .await
                    .map_err(|_| Retry::later("the job read failed"))?;
                match job {
                    None => {
                        tracing::warn!("a message for a job that does not exist; dropped");
                        Ok(None)
                    }
                    Some(job) if job.status.is_finished() => {
                        tracing::info!(status = job.status.as_str(), "job already finished; acknowledged");
                        Ok(None)
                    }
                    Some(job) => Err(Retry::held(job.lease_until.unwrap_or(0) - self.state.now().unix_timestamp())),
                }
            }
            Err(_) => Err(Retry::later("the claim failed")),
        }
    }

    /// An update of the job on the condition that this claim still holds: a
    /// claim that lapsed and was taken over must not overwrite the new one.
    fn under_claim(&self, tenant: &Tenant, job: &Job, changes: Changes<Job>) -> Result<Update, DbError> {
        let claimed = Condition::equals(field::STATUS, &JobStatus::Running)
            .and(Condition::equals(field::ATTEMPTS, &job.attempts));
        let changes = changes.set(field::UPDATED_AT, &rfc3339(self.state.now())).when(claimed);
        self.state.db.update_with(&tenant.job(&job.id), changes)
    }

    async fn progress(&self, tenant: &Tenant, job: &Job, stage: Stage, progress: u8) {
        let changes = Changes::new().set(field::STAGE, stage.as_str()).set(field::PROGRESS, &progress);
        let recorded = match self.under_claim(tenant, job, changes) {
            Ok(update) => self.state.db.run_update(update).await.map(drop),
            Err(err) => Err(err),
        };
        if let Err(err) = recorded {
            tracing::warn!(error = %err, stage = stage.as_str(), "job progress not recorded");
        }
        let event = json!({"job_id": job.id, "status": "running", "stage": stage.as_str(), "progress": progress});
        self.notify(job, "job.progress", &event).await;
    }

    /// Tells the organisation and the requester; a lost event is logged, never
    /// worth failing the job for.
    async fn notify(&self, job: &Job, event: &str, data: &serde_json::Value) {
        let channels = vec![format!("private-org-{}", job.org_id), format!("private-user-{}", job.audit.created_by)];
        if let Err(err) = self.realtime.trigger(&channels, event, data, self.state.now().unix_timestamp()).await {
            tracing::warn!(error = %err, event, "realtime event not sent");
        }
    }

    /// Stores the content (a large body in S3) and marks the job succeeded,
    /// in one transaction under the claim.
    async fn succeed(&self, tenant: &Tenant, job: &Job, content: GeneratedContent) -> Result<(), Retry> {
        let id = ContentId::new();
        let stored = StoredBody::store(&self.state, tenant, &id, 1, &content)
            .await
            .map_err(|_| Retry::later("the content body could not be stored"))?;
        let search_terms = search::terms(&content);
        if let Err(err) = search::add(&self.state.db, tenant, &id, 1, &search_terms).await {
            tracing::error!(error = %err, "the content's search entries could not be written");
            return Err(Retry::later("the search entries could not be written"));
        }
        let item = ContentItem {
            id: id.clone(),
            org_id: tenant.org_id().clone(),
            kind: job.request.kind,
            title: content.title,
            summary: content.summary,
            status: ContentStatus::Draft,
            provider: self.provider.name().to_owned(),
            job_id: Some(job.id.clone()),
            body: stored.body,
            body_object: stored.body_object,
            search_terms,
            published_at: None,
            published_by: None,
            audit: Audit::new(&job.audit.created_by, self.state.now()),
        };
        let done = |err| {
            tracing::error!(error = %err, "the job's result could not be written");
            Retry::later("the result could not be written")
        };
        let writes = vec![
            Write::Put(self.state.db.put_new(&tenant.content(&id), &item).map_err(done)?),
            Write::Update(
                self.under_claim(
                    tenant,
                    job,
                    moved_to(tenant, JobStatus::Succeeded)
                        .set(field::CONTENT_ID, &id)
                        .set(field::PROGRESS, &100)
                        .set(field::STAGE, "review")
                        .remove(field::LEASE_UNTIL),
                )
                .map_err(done)?,
            ),
            counters::total(
                &self.state,
                tenant,
                &job.audit.created_by,
                &[(Total::Content(ContentKind::Library, false), 1)],
            )
            .map_err(done)?,
            counters::count(&self.state, tenant, &job.audit.created_by, &[(Counter::ContentGenerated, 1)])
                .map_err(done)?,
        ];
        match self.state.db.transact(writes).await {
            Ok(()) => {
                tracing::info!(content_id = %id, "job succeeded");
                self.notify(job, "job.completed", &json!({"job_id": job.id, "status": "succeeded", "content_id": id}))
                    .await;
                Ok(())
            }
            Err(DbError::Cancelled { failed }) if failed.contains(&1) => {
                tracing::warn!("the claim lapsed before the result was written; the new holder finishes the job");
                Ok(())
            }
            Err(err) => Err(done(err)),
        }
    }

    /// Marks the job failed with `reason`; the message is then done with.
    async fn fail(&self, tenant: &Tenant, job: &Job, reason: &str) -> Result<(), Retry> {
        tracing::warn!(reason, "job failed");
        let update = self
            .under_claim(
                tenant,
                job,
                moved_to(tenant, JobStatus::Failed).set(field::ERROR, reason).remove(field::LEASE_UNTIL),
            )
            .map_err(|_| Retry::later("the failure could not be written"))?;
        match self.state.db.run_update(update).await {
            Ok(_) => {
                self.notify(job, "job.failed", &json!({"job_id": job.id, "status": "failed", "error": reason})).await;
                Ok(())
            }
            Err(DbError::ConditionFailed) => Ok(()),
            Err(_) => Err(Retry::later("the failure could not be written")),
        }
    }

    /// Gives the job back to the queue's next delivery.
    async fn release(&self, tenant: &Tenant, job: &Job) {
        let changes =
            moved_to(tenant, JobStatus::Queued).set(field::STAGE, Stage::Outline.as_str()).remove(field::LEASE_UNTIL);
        let released = match self.under_claim(tenant, job, changes) {
            Ok(update) => self.state.db.run_update(update).await.map(drop),
            Err(err) => Err(err),
        };
        if let Err(err) = released {
            tracing::warn!(error = %err, "job not released; its claim will lapse");
        }
    }
}

/// How many times SQS has handed the message over, this time included.
fn receives(record: &SqsMessage) -> u32 {
    record.attributes.get("ApproximateReceiveCount").and_then(|c| c.parse().ok()).unwrap_or(1)
}

/// The job's `Jobs` document: its outcome, how long it ran and what the
/// provider cost, by stage.
fn job_metric(outcome: &str, took: Duration, reading: &meter::Reading, job: &Job, provider: &str) {
    let mut doc = Document::by(&[&["Outcome"]])
        .dimension("Outcome", outcome)
        .metric("Jobs", Unit::Count, 1.0)
        .metric("JobDuration", Unit::Milliseconds, millis(took))
        .metric("ProviderLatency", Unit::Milliseconds, millis(reading.provider_time()))
        .metric("ProviderRetries", Unit::Count, f64::from(reading.retries))
        .property("job_id", job.id.to_string())
        .property("kind", serde_json::to_value(job.request.kind).unwrap_or_default())
        .property("attempt", job.attempts)
        .property("provider", provider);
    for (stage, took) in &reading.stages {
        doc = doc.metric(stage_metric(*stage), Unit::Milliseconds, millis(*took));
    }
    doc.emit();
}

fn stage_metric(stage: Stage) -> &'static str {
    match stage {
        Stage::Outline => "StageOutline",
        Stage::Content => "StageContent",
        Stage::Quiz => "StageQuiz",
        Stage::Repair => "StageRepair",
    }
}

fn millis(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

/// A job moved to `status`, and to its place in the tenant's list by status.
fn moved_to(tenant: &Tenant, status: JobStatus) -> Changes<Job> {
    Changes::new().set(field::STATUS, &status).set(field::STATUS_INDEX, &tenant.jobs_in_status(status.as_str()))
}
