//! The success envelope: `{"status": "success", "data": …, "metadata": …}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use domain::clock::rfc3339;
use domain::error::RateLimit;

use crate::request_meta;

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Metadata {
    pub request_id: String,
    /// RFC 3339, UTC.
    pub timestamp: String,
    /// Present on lists that have a next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
    /// Present on answers that may be kept: for how many seconds an answer
    /// of this route is kept (`Cache-Control: max-age` says how many of
    /// them this one has left).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cache_ttl: Option<u64>,
}

impl Metadata {
    pub fn now() -> Self {
        let meta = request_meta::current();
        Self { request_id: meta.request_id, timestamp: rfc3339(meta.received_at), next_cursor: None, cache_ttl: None }
    }
}

/// `Cache-Control` of an answer that carries a credential.
pub const NO_STORE: &str = "no-store";

/// A successful answer. `ETag` is set from an item's version so clients can
/// send it back in `If-Match`.
#[derive(Debug)]
pub struct ApiResponse<T> {
    status: StatusCode,
    data: T,
    next_cursor: Option<String>,
    etag: Option<u64>,
    cache_control: Option<HeaderValue>,
    cache_ttl: Option<u64>,
    rate_limit: Option<RateLimit>,
}

impl<T: Serialize> ApiResponse<T> {
    pub fn ok(data: T) -> Self {
        Self {
            status: StatusCode::OK,
            data,
            next_cursor: None,
            etag: None,
            cache_control: None,
            cache_ttl: None,
            rate_limit: None,
        }
    }

    pub fn created(data: T) -> Self {
        Self { status: StatusCode::CREATED, ..Self::ok(data) }
    }

    /// Taken on, to be done later (a queued job).
    pub fn accepted(data: T) -> Self {
        Self { status: StatusCode::ACCEPTED, ..Self::ok(data) }
    }

    /// A page of a list; `next_cursor` is `null` on the last page.
    pub fn page(data: T, next_cursor: Option<String>) -> Self {
        Self { next_cursor, ..Self::ok(data) }
    }

    pub fn with_etag(mut self, version: u64) -> Self {
        self.etag = Some(version);
        self
    }

    /// Marks a per-user resource that clients may keep and revalidate with
    /// `If-None-Match`.
    pub fn revalidate(mut self) -> Self {
        self.cache_control = Some(HeaderValue::from_static("private, no-cache"));
        self
    }

    /// Marks an answer kept for `ttl` seconds of which `max_age` are left:
    /// the caller's own client may keep it that long.
    pub fn kept(mut self, ttl: u64, max_age: u64) -> Self {
        self.cache_control = Some(crate::cache::private_max_age(max_age));
        self.cache_ttl = Some(ttl);
        self
    }

    /// Says where the caller stands against the business quota the request
    /// counted against, in `X-RateLimit-*` headers.
    pub fn with_rate_limit(mut self, limit: RateLimit) -> Self {
        self.rate_limit = Some(limit);
        self
    }

    /// Marks an answer that carries a credential (a token, a key, a signing
    /// secret, an invite token): no cache or proxy may keep a copy.
    pub fn no_store(mut self) -> Self {
        self.cache_control = Some(HeaderValue::from_static(NO_STORE));
        self
    }
}

/// The body of every success: also the schema the OpenAPI document shows.
#[derive(Serialize, utoipa::ToSchema)]
pub struct Success<T> {
    /// Always `success`.
    #[schema(value_type = String, example = "success")]
    status: &'static str,
    data: T,
    metadata: Metadata,
}

impl<T: Serialize> IntoResponse for ApiResponse<T> {
    fn into_response(self) -> Response {
        let mut metadata = Metadata::now();
        metadata.next_cursor = self.next_cursor;
        metadata.cache_ttl = self.cache_ttl;
        let mut response =
            crate::http::json_response(self.status, &Success { status: "success", data: self.data, metadata });
        if let Some(value) = self.cache_control {
            response.headers_mut().insert(header::CACHE_CONTROL, value);
        }
        if let Some(limit) = &self.rate_limit {
            crate::http::set_rate_limit(response.headers_mut(), limit);
        }
        if let Some(version) = self.etag
            && let Ok(value) = HeaderValue::from_str(&format!("\"{version}\""))
        {
            response.headers_mut().insert(header::ETAG, value);
        }
        response
    }
}
