//! The per-request facts every response and log line needs: the request id and
//! the time the request was received. Set once by the middleware in
//! [`crate::http`], read by the envelopes through a task-local so an error
//! raised deep in a handler still answers with the right request id.

use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub received_at: OffsetDateTime,
}

tokio::task_local! {
    static CURRENT: RequestMeta;
}

pub async fn scope<F: Future>(meta: RequestMeta, fut: F) -> F::Output {
    CURRENT.scope(meta, fut).await
}

/// The current request's meta, or a fresh one outside a request (a response
/// built by a test or by a background task).
pub fn current() -> RequestMeta {
    CURRENT
        .try_with(Clone::clone)
        .unwrap_or_else(|_| RequestMeta { request_id: new_request_id(), received_at: OffsetDateTime::now_utc() })
}

pub fn new_request_id() -> String {
    ulid::Ulid::new().to_string()
}

/// The caller's `X-Request-ID`, when it is sane.
pub fn from_headers(headers: &http::HeaderMap) -> Option<String> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).filter(|id| sane_request_id(id)).map(str::to_owned)
}

pub use store::logging::sane_request_id;
