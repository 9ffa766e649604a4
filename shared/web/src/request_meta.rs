//! The per-request facts every response and log line needs: the request id and
//! the time the request was received (and, for the audit log, where it came
//! from). Set once by the middleware in
//! [`crate::http`], read by the envelopes through a task-local so an error
//! raised deep in a handler still answers with the right request id.

use std::net::IpAddr;

use time::OffsetDateTime;

#[derive(Debug, Clone)]
pub struct RequestMeta {
    pub request_id: String,
    pub received_at: OffsetDateTime,
    /// The address API Gateway saw ([`crate::client_ip`]).
    pub ip: Option<IpAddr>,
    /// The `User-Agent` the client sent, cut to [`MAX_USER_AGENT`] bytes.
    pub user_agent: Option<String>,
}

/// A user agent is kept this long at most: it is the client's to choose.
pub const MAX_USER_AGENT: usize = 256;

impl RequestMeta {
    pub fn new(request_id: String, received_at: OffsetDateTime) -> Self {
        Self { request_id, received_at, ip: None, user_agent: None }
    }

    pub fn from(mut self, ip: Option<IpAddr>, headers: &http::HeaderMap) -> Self {
        self.ip = ip;
        self.user_agent = headers.get(http::header::USER_AGENT).and_then(|v| v.to_str().ok()).map(|agent| {
            let mut end = agent.len().min(MAX_USER_AGENT);
            while !agent.is_char_boundary(end) {
                end -= 1;
            }
            agent[..end].to_owned()
        });
        self
    }
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
    CURRENT.try_with(Clone::clone).unwrap_or_else(|_| RequestMeta::new(new_request_id(), OffsetDateTime::now_utc()))
}

pub fn new_request_id() -> String {
    ulid::Ulid::new().to_string()
}

/// The caller's `X-Request-ID`, when it is sane.
pub fn from_headers(headers: &http::HeaderMap) -> Option<String> {
    headers.get("x-request-id").and_then(|v| v.to_str().ok()).filter(|id| sane_request_id(id)).map(str::to_owned)
}

pub use store::logging::sane_request_id;
