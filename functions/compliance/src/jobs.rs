//! What exports and erasures share: a job item written with the change
//! that asks for it, its queue message, and its status as the API shows it.

use domain::clock::rfc3339;
use domain::ids::{PrivacyJobId, UserId};
use domain::job::JobStatus;
use domain::principal::{Principal, Role};
use domain::privacy::{ErasureStep, PrivacyJob, PrivacyJobKind};
use domain::tenancy::{Key, Tenant};
use domain::user::User;
use serde::Serialize;
use store::AppState;
use store::db::{Db, Write};
use store::guardian;
use utoipa::ToSchema;
use web::error::{AppError, AppResult};

/// A queued job whose message has not been seen this long is sent again
/// when its status is read: a message lost between the job's write and
/// its send does not leave it queued for ever (a second message is
/// harmless, the worker claims a job once).
const RESEND_AFTER_SECONDS: i64 = 60;

/// A new job of `kind` about `subject`, asked for in this request.
pub fn new_job(
    state: &AppState,
    tenant: &Tenant,
    kind: PrivacyJobKind,
    subject: &UserId,
    by: &Principal,
) -> PrivacyJob {
    let request_id = web::request_meta::current().request_id;
    PrivacyJob::new(tenant, kind, subject.clone(), by.user_id.clone(), request_id, &rfc3339(state.now()))
}

/// The write that creates `job`, for the transaction that asks for it.
pub fn create(state: &AppState, tenant: &Tenant, job: &PrivacyJob) -> Result<Write, store::DbError> {
    Ok(Write::Put(state.db.put_new(&tenant.privacy_job(&job.id), job)?))
}

/// Sends `job`'s message to the worker. A failure is logged: the job is
/// written, and the next read of its status sends it again.
pub async fn send(state: &AppState, job: &PrivacyJob) {
    let body = match serde_json::to_string(&job.message()) {
        Ok(body) => body,
        Err(err) => return tracing::error!(error = %err, "a job message could not be written"),
    };
    let sent = state.aws.sqs().send_message().queue_url(&state.config.compliance_queue_url).message_body(body).send();
    if let Err(err) = sent.await {
        tracing::warn!(error = %aws_sdk_sqs::error::DisplayErrorContext(err), job_id = %job.id, "a job message was not sent; a status read sends it again");
    }
}

/// The member a request is about, read with the asking parent's `link` to
/// them when there is one (one round trip): another tenant's id, an unknown
/// one, an erased (or erasing) member and a child not linked to the parent
/// are all the same 404.
pub async fn subject(state: &AppState, tenant: &Tenant, user_id: &UserId, link: Option<Key>) -> AppResult<User> {
    let found = guardian::read_with_link(&state.db, link, vec![tenant.user(user_id)]).await?;
    let user = found.into_iter().next().flatten().map(Db::decode::<User>).transpose()?;
    user.filter(|user| user.erasure_id.is_none()).ok_or_else(|| AppError::not_found("user"))
}

/// The job `id` of `kind`, for a caller who may see it: an admin, or the
/// member who asked for it. Anyone else, and another kind's id, gets 404;
/// a job queued too long is sent again.
pub async fn visible(
    state: &AppState,
    principal: &Principal,
    tenant: &Tenant,
    id: &PrivacyJobId,
    kind: PrivacyJobKind,
) -> AppResult<PrivacyJob> {
    let job: PrivacyJob = state
        .db
        .get(&tenant.privacy_job(id))
        .await?
        .filter(|job: &PrivacyJob| job.kind == kind)
        .filter(|job| principal.role == Role::Admin || job.requested_by == principal.user_id)
        .ok_or_else(|| AppError::not_found("job"))?;
    let created = time::OffsetDateTime::parse(&job.created_at, &time::format_description::well_known::Rfc3339)
        .map_err(|_| AppError::internal("a job's created_at is unreadable"))?;
    if job.status == JobStatus::Queued && (state.now() - created).whole_seconds() > RESEND_AFTER_SECONDS {
        send(state, &job).await;
    }
    Ok(job)
}

/// A job as the API shows it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrivacyJobView {
    id: PrivacyJobId,
    kind: PrivacyJobKind,
    /// Whose data.
    user_id: UserId,
    status: JobStatus,
    /// An erasure's finished steps, of [`ErasureStep::ALL`] in order.
    #[serde(skip_serializing_if = "Option::is_none")]
    steps_done: Option<Vec<ErasureStep>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    steps_total: Option<usize>,
    /// Items and objects an erasure deleted so far.
    #[serde(skip_serializing_if = "Option::is_none")]
    deleted: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    created_at: String,
    updated_at: String,
    completed_at: Option<String>,
    /// An export's bundle: a link valid for at most 15 minutes, made anew
    /// on each read.
    #[serde(skip_serializing_if = "Option::is_none")]
    download_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    download_expires_at: Option<String>,
}

impl PrivacyJobView {
    pub fn of(job: PrivacyJob) -> Self {
        let erasure = job.kind == PrivacyJobKind::Erasure;
        Self {
            id: job.id,
            kind: job.kind,
            user_id: job.user_id,
            status: job.status,
            steps_total: erasure.then_some(ErasureStep::ALL.len()),
            steps_done: erasure.then_some(job.steps_done),
            deleted: erasure.then_some(job.deleted),
            error: job.error,
            created_at: job.created_at,
            updated_at: job.updated_at,
            completed_at: job.completed_at,
            download_url: None,
            download_expires_at: None,
        }
    }

    pub fn with_download(self, url: String, expires_at: String) -> Self {
        Self { download_url: Some(url), download_expires_at: Some(expires_at), ..self }
    }
}
