//! `POST /content/generate`: writes the job (with its outbox entry, see
//! `store::outbox`), sends its queue message and answers `202`.

use axum::extract::State;
use axum::http::HeaderMap;
use domain::generation::request::GenerateRequest;
use domain::ids::{JobId, UserId};
use domain::job::Job;
use domain::tenancy::Tenant;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::AppState;
use store::db::{DbError, Write};
use store::logging::Correlation;
use store::outbox;
use store::quota::Quota;
use web::envelope::{ApiResponse, Success};
use web::error::{AppError, AppResult};
use web::extract::Staff;
use web::json::Json;
use web::openapi::*;
use web::request_meta;

use crate::view::Accepted;

const IDEMPOTENCY_HEADER: &str = "idempotency-key";
/// An `Idempotency-Key` is remembered at least this long.
const IDEMPOTENCY_TTL_SECONDS: i64 = 24 * 3600;
const MAX_IDEMPOTENCY_KEY: usize = 255;

/// The answer given to one `Idempotency-Key`: the job, and the request it was for.
#[derive(Serialize, Deserialize)]
struct Remembered {
    job_id: JobId,
    /// SHA-256 of the parsed request, so spacing and key order do not matter.
    fingerprint: String,
    expires_at: i64,
}

/// The SHA-256 (hex) of the caller's `Idempotency-Key`, if they sent one:
/// 1 to 255 visible ASCII characters, else a 400.
fn idempotency_key(headers: &HeaderMap) -> AppResult<Option<String>> {
    let Some(raw) = headers.get(IDEMPOTENCY_HEADER) else { return Ok(None) };
    let key = raw.as_bytes();
    if key.is_empty() || key.len() > MAX_IDEMPOTENCY_KEY || !key.iter().all(|b| b.is_ascii_graphic()) {
        return Err(AppError::BadRequest(format!(
            "Idempotency-Key must be 1 to {MAX_IDEMPOTENCY_KEY} visible ASCII characters"
        )));
    }
    Ok(Some(hex::encode(Sha256::digest(key))))
}

/// The job an earlier request with this key made, if there was one; a 422
/// if that request asked for something else.
async fn replay(
    state: &AppState,
    tenant: &Tenant,
    caller: &UserId,
    key: &str,
    fingerprint: &str,
) -> AppResult<Option<Job>> {
    let Some(remembered) = state.db.get::<Remembered>(&tenant.idempotency(caller, key)).await? else {
        return Ok(None);
    };
    if remembered.fingerprint != fingerprint {
        return Err(AppError::invalid("Idempotency-Key", "was already used for a different request"));
    }
    let job = state.db.get::<Job>(&tenant.job(&remembered.job_id)).await?;
    job.map(Some).ok_or_else(|| AppError::internal("an idempotency record names a missing job"))
}

/// The job of the concurrent request that took this key, once its
/// transaction has committed (a few tries), else a 409 to retry.
async fn replay_the_winner(
    state: &AppState,
    tenant: &Tenant,
    caller: &UserId,
    key: &str,
    fingerprint: &str,
) -> AppResult<Job> {
    for attempt in 0..5u64 {
        if let Some(job) = replay(state, tenant, caller, key, fingerprint).await? {
            return Ok(job);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20 << attempt)).await;
    }
    Err(AppError::Conflict("a request with this Idempotency-Key is in flight; retry".into()))
}

/// Asks for a lesson or a quiz. The work runs later; follow `status_url`.
/// The same `Idempotency-Key` with the same body gives the same job. API keys
/// need the `content:generate` scope (which also lets them follow jobs and
/// read the content they made).
#[utoipa::path(
    post,
    path = "/api/v1/content/generate",
    operation_id = "generate_content",
    tag = "content",
    params(("Idempotency-Key" = Option<String>, Header, nullable = false, min_length = 1, max_length = 255,
        pattern = "^[!-~]+$", description = "Repeats of a request with this key give the first request's job")),
    request_body = GenerateRequest,
    responses(
        (status = 202, description = "The job, queued", body = Success<Accepted>, headers(
            ("X-RateLimit-Limit" = u32, description = "Generation requests the caller may make per minute"),
            ("X-RateLimit-Remaining" = u32, description = "Requests left in this minute"),
            ("X-RateLimit-Reset" = i64, description = "When the minute ends, in epoch seconds"),
        )),
        JsonBodyErrors,
        Create,
        (status = 429, response = RateLimited),
    ),
    security(("bearer" = []), ("api_key" = [])),
    extensions(("x-roles" = json!(["admin", "teacher"])), ("x-scopes" = json!(["content:generate"])))
)]
pub async fn start(
    State(state): State<AppState>,
    Staff(principal, tenant): Staff,
    headers: HeaderMap,
    Json(request): Json<GenerateRequest>,
) -> AppResult<ApiResponse<Accepted>> {
    let key = idempotency_key(&headers)?;
    let fingerprint = hex::encode(Sha256::digest(serde_json::to_vec(&request).map_err(AppError::internal)?));
    if let Some(key) = &key
        && let Some(job) = replay(&state, &tenant, &principal.user_id, key, &fingerprint).await?
    {
        return Ok(ApiResponse::accepted(Accepted::of(&job)));
    }
    let quota = Quota { name: "generate", limit: state.config.generations_per_minute, window_seconds: 60 };
    let rate_limit = quota.take(&state, &tenant, &principal.user_id).await?;
    let now = state.now();
    let job = Job::queued(JobId::new(), &tenant, request, request_meta::current().request_id, &principal.user_id, now)
        .traced(Correlation::current().and_then(|correlation| correlation.trace_header));
    let mut writes = vec![Write::Put(state.db.put_new(&tenant.job(&job.id), &job)?), outbox::record(&state, &job)?];
    if let Some(key) = &key {
        let remembered = Remembered {
            job_id: job.id.clone(),
            fingerprint: fingerprint.clone(),
            expires_at: now.unix_timestamp() + IDEMPOTENCY_TTL_SECONDS,
        };
        writes.push(Write::Put(state.db.put_new(&tenant.idempotency(&principal.user_id, key), &remembered)?));
    }
    match (state.db.transact(writes).await, &key) {
        (Ok(()), _) => {}
        // A concurrent request with the same key won (its record exists), or
        // is writing it now (a transaction conflict): answer with its job.
        (Err(DbError::Cancelled { failed }), Some(key)) if failed.is_empty() || failed.contains(&2) => {
            let job = replay_the_winner(&state, &tenant, &principal.user_id, key, &fingerprint).await?;
            return Ok(ApiResponse::accepted(Accepted::of(&job)).with_rate_limit(rate_limit));
        }
        (Err(err), _) => return Err(err.into()),
    }
    if let Err(err) = outbox::dispatch(&state, &job).await {
        // The job is stored with its outbox entry: the sweeper sends it.
        tracing::warn!(error = %err, job_id = %job.id, "job message not sent now; the outbox sweeper will send it");
    }
    tracing::info!(job_id = %job.id, kind = ?job.request.kind, "generation job queued");
    Ok(ApiResponse::accepted(Accepted::of(&job)).with_rate_limit(rate_limit))
}
