//! Answers that may be kept: computed once, kept in the table for a while
//! (`store::cache`), revalidated by the client with `If-None-Match`.
//!
//! An answer is named by its route and parameters (the day they are asked
//! on among them, where the answer depends on it): one copy per
//! organization, for every caller its route admits, since none of the
//! answers kept today depend on who asks. `Cache-Control: no-cache` on the
//! request computes it again. API Gateway's stage cache is not used: its key
//! does not hold the tenant.

use std::future::Future;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use domain::tenancy::Tenant;
use store::AppState;
use store::cache::{self, Kept};

use crate::envelope::ApiResponse;
use crate::error::{AppError, AppResult};
use crate::http::not_modified;

/// How long an answer is kept, in seconds (`metadata.cache_ttl`).
pub const KEEP_SECONDS: u64 = 300;

/// `Cache-Control` of an answer the caller's own client may keep `seconds`.
pub fn private_max_age(seconds: u64) -> HeaderValue {
    HeaderValue::from_str(&format!("private, max-age={seconds}")).expect("a number is a valid header value")
}

/// True when the request asks for an answer computed now.
fn asks_fresh(headers: &HeaderMap) -> bool {
    [header::CACHE_CONTROL, header::PRAGMA].iter().any(|name| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .any(|value| value.split(',').any(|directive| directive.trim().eq_ignore_ascii_case("no-cache")))
    })
}

/// What a kept answer is named by, besides the caller.
pub struct Asked<'a> {
    pub tenant: &'a Tenant,
    /// The route, as its operation is named.
    pub route: &'a str,
    /// The parameters that decide the answer, in a fixed order.
    pub params: &'a [&'a str],
}

/// The kept answer to `asked` if there is one (and the request does not
/// ask for a fresh one), else `compute`'s, kept for next time. A 304 when
/// the client's `If-None-Match` names it.
pub async fn answer<T, F>(state: &AppState, headers: &HeaderMap, asked: Asked<'_>, compute: F) -> AppResult<Response>
where
    T: Serialize,
    F: Future<Output = AppResult<T>>,
{
    let mut parts = vec![asked.route];
    parts.extend_from_slice(asked.params);
    let name = cache::name(&parts);
    let kept = match asks_fresh(headers) {
        true => None,
        // A copy that cannot be read is computed again, as a missing one is.
        false => {
            let kept = cache::find(state, asked.tenant, &name).await.unwrap_or_else(|err| {
                tracing::warn!(error = %err, route = asked.route, "kept answer not read");
                None
            });
            store::metrics::cache_lookup(asked.route, kept.is_some());
            kept
        }
    };
    let kept = match kept {
        Some(kept) => kept,
        None => {
            let body = serde_json::to_string(&compute.await?).map_err(|err| AppError::internal(err.to_string()))?;
            let kept = Kept::new(state, body, KEEP_SECONDS);
            // The answer stands without its copy; the next request computes it again.
            if let Err(err) = cache::keep(state, asked.tenant, &name, &kept).await {
                tracing::warn!(error = %err, route = asked.route, "answer not kept");
            }
            kept
        }
    };
    let max_age = kept.remaining(state);
    if not_modified(headers, kept.etag) {
        let etag = HeaderValue::from_str(&format!("\"{}\"", kept.etag)).expect("a number is a valid header value");
        return Ok((
            StatusCode::NOT_MODIFIED,
            [(header::ETAG, etag), (header::CACHE_CONTROL, private_max_age(max_age))],
        )
            .into_response());
    }
    let data: serde_json::Value =
        serde_json::from_str(&kept.body).map_err(|err| AppError::internal(err.to_string()))?;
    Ok(ApiResponse::ok(data).with_etag(kept.etag).kept(KEEP_SECONDS, max_age).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_cache_in_either_header_asks_for_a_fresh_answer() {
        let mut headers = HeaderMap::new();
        assert!(!asks_fresh(&headers));
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("max-age=0, No-Cache"));
        assert!(asks_fresh(&headers));
        let mut headers = HeaderMap::new();
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        assert!(asks_fresh(&headers));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-store"));
        assert!(!asks_fresh(&headers));
    }
}
