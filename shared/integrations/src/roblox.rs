//! Roblox Open Cloud's place publishing, as Roblox documents it: `POST
//! {base}/universes/v1/{universe}/places/{place}/versions?versionType=Published`
//! with the organization's API key in `x-api-key` and the place file as the
//! body (`application/xml` for `.rbxlx`), answered with
//! `{"versionNumber": n}`. Timeouts, 429 (after its `Retry-After`) and 5xx
//! are retried with backoff; a call that still fails counts toward the
//! circuit breaker. Refusals (400, 401, 403, 404, 409) are not retried.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Deserialize;

use crate::breaker::Breaker;
use crate::retry::{Failed, Retry};

/// Place files go up to 10 MiB; three tries of 7.5 s and their pauses
/// take 24 s at most, inside the function's 28 s and API Gateway's 29 s.
pub const DEFAULT_RETRY: Retry = Retry {
    timeout: Duration::from_millis(7500),
    attempts: 3,
    backoff: Duration::from_millis(500),
    max_backoff: Duration::from_secs(4),
    breaker_threshold: 5,
    breaker_cooldown: Duration::from_secs(60),
};

/// The largest place file Open Cloud takes.
pub const MAX_PLACE_BYTES: usize = 10 * 1024 * 1024;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OpenCloudError {
    #[error("Roblox is failing; the circuit is open")]
    CircuitOpen,
    #[error("Roblox could not be reached")]
    Unreachable,
    #[error("Roblox answered {0}")]
    Server(u16),
    #[error("Roblox's rate limit was reached")]
    RateLimited { retry_after: Option<Duration> },
    /// Roblox refused the request: the key, the ids or the file.
    #[error("Roblox refused the request with {status}: {message}")]
    Refused { status: u16, message: String },
    #[error("Roblox's answer could not be read")]
    Malformed,
}

impl OpenCloudError {
    /// Roblox failing, which the breaker counts. A rate limit is not: it is
    /// one organization's key's, and must not stop the others' publishing.
    fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable | Self::Server(_))
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Published {
    version_number: u64,
}

/// Open Cloud's error bodies: `{"message"}` or `{"errors": [{"message"}]}`.
#[derive(Deserialize, Default)]
struct ErrorBody {
    #[serde(default)]
    message: Option<String>,
    #[serde(default)]
    errors: Vec<ErrorBody>,
}

impl ErrorBody {
    fn message(self) -> Option<String> {
        self.message.or_else(|| self.errors.into_iter().find_map(ErrorBody::message))
    }
}

pub struct OpenCloud {
    http: reqwest::Client,
    base_url: String,
    options: Retry,
    breaker: Breaker,
}

impl OpenCloud {
    /// `base_url` is `https://apis.roblox.com`, or a local server in tests.
    pub fn new(base_url: &str, options: Retry) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(options.timeout).build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            breaker: options.breaker("roblox_open_cloud"),
            options,
        })
    }

    /// Publishes `rbxlx` as the place's new live version; its number.
    pub async fn publish_place(
        &self,
        api_key: &str,
        universe_id: u64,
        place_id: u64,
        rbxlx: Vec<u8>,
    ) -> Result<u64, OpenCloudError> {
        if !self.breaker.allows(Instant::now()) {
            return Err(OpenCloudError::CircuitOpen);
        }
        let url =
            format!("{}/universes/v1/{universe_id}/places/{place_id}/versions?versionType=Published", self.base_url);
        let retried = |error: &OpenCloudError, attempt| {
            tracing::warn!(error = %error, attempt, "open cloud publish failed; retrying");
        };
        let call = || self.try_publish(&url, api_key, rbxlx.clone());
        self.options.run(&self.breaker, OpenCloudError::is_transient, retried, call).await
    }

    async fn try_publish(&self, url: &str, api_key: &str, rbxlx: Vec<u8>) -> Result<u64, Failed<OpenCloudError>> {
        let response = self
            .http
            .post(url)
            .header("x-api-key", api_key)
            .header(reqwest::header::CONTENT_TYPE, "application/xml")
            .body(rbxlx)
            .send()
            .await
            .map_err(|_| Failed { error: OpenCloudError::Unreachable, retry: true, pause: Duration::ZERO })?;
        let status = response.status();
        if status.is_success() {
            // Documented as text/plain holding JSON.
            let text = response.text().await.unwrap_or_default();
            let published: Published = serde_json::from_str(&text).map_err(|_| Failed {
                error: OpenCloudError::Malformed,
                retry: false,
                pause: Duration::ZERO,
            })?;
            return Ok(published.version_number);
        }
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after = response
                .headers()
                .get(reqwest::header::RETRY_AFTER)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.trim().parse::<u64>().ok())
                .map(Duration::from_secs);
            let pause = retry_after.unwrap_or(Duration::ZERO);
            return Err(Failed { error: OpenCloudError::RateLimited { retry_after }, retry: true, pause });
        }
        if status.is_server_error() {
            return Err(Failed { error: OpenCloudError::Server(status.as_u16()), retry: true, pause: Duration::ZERO });
        }
        let message = response.json::<ErrorBody>().await.ok().and_then(ErrorBody::message);
        let message = message.unwrap_or_else(|| status.canonical_reason().unwrap_or("refused").to_owned());
        Err(Failed {
            error: OpenCloudError::Refused { status: status.as_u16(), message },
            retry: false,
            pause: Duration::ZERO,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::body::Bytes;
    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use serde_json::json;

    use super::*;

    const KEY: &str = "open-cloud-key-123";

    #[derive(Clone, Default)]
    struct Fake {
        /// Statuses to answer before the real answer, in order.
        failures: Arc<Mutex<Vec<u16>>>,
        /// Place files accepted, as (universe, place, bytes).
        published: Arc<Mutex<Vec<(u64, u64, usize)>>>,
        calls: Arc<Mutex<usize>>,
    }

    fn refusal(status: StatusCode, message: &str) -> Response {
        (status, axum::Json(json!({"code": status.as_u16(), "message": message}))).into_response()
    }

    /// Checks what Open Cloud checks: the key and its access to the place,
    /// the version type, the content type, a place file, its size.
    async fn versions(
        State(fake): State<Fake>,
        Path((universe, place)): Path<(u64, u64)>,
        Query(query): Query<std::collections::HashMap<String, String>>,
        headers: HeaderMap,
        body: Bytes,
    ) -> Response {
        *fake.calls.lock().unwrap() += 1;
        if let Some(status) = fake.failures.lock().unwrap().pop() {
            let mut response = refusal(StatusCode::from_u16(status).unwrap(), "try later");
            if status == 429 {
                response.headers_mut().insert("retry-after", "0".parse().unwrap());
            }
            return response;
        }
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if header("x-api-key") != KEY {
            return refusal(StatusCode::UNAUTHORIZED, "Invalid API Key");
        }
        if universe != 111 {
            return refusal(StatusCode::NOT_FOUND, "Place or universe does not exist.");
        }
        if place != 222 {
            return refusal(StatusCode::CONFLICT, "Place not part of the universe.");
        }
        let version_type = query.get("versionType").map(String::as_str);
        if !matches!(version_type, Some("Published" | "Saved")) || header("content-type") != "application/xml" {
            return refusal(StatusCode::BAD_REQUEST, "Invalid request");
        }
        if body.len() > MAX_PLACE_BYTES || !body.starts_with(b"<roblox") {
            return refusal(StatusCode::BAD_REQUEST, "Invalid file content.");
        }
        let mut published = fake.published.lock().unwrap();
        published.push((universe, place, body.len()));
        (StatusCode::OK, [("content-type", "text/plain")], format!("{{\"versionNumber\":{}}}", published.len()))
            .into_response()
    }

    async fn serve(failures: Vec<u16>) -> (String, Fake) {
        let fake = Fake { failures: Arc::new(Mutex::new(failures.into_iter().rev().collect())), ..Fake::default() };
        let app = Router::new()
            .route("/universes/v1/{universe}/places/{place}/versions", post(versions))
            .with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), fake)
    }

    fn client(base: &str) -> OpenCloud {
        let options = Retry {
            timeout: Duration::from_millis(500),
            attempts: 3,
            backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            breaker_threshold: 2,
            breaker_cooldown: Duration::from_secs(60),
        };
        OpenCloud::new(base, options).unwrap()
    }

    const PLACE: &[u8] = b"<roblox version=\"4\"></roblox>";

    #[tokio::test]
    async fn a_place_is_published_as_a_new_version() {
        let (base, fake) = serve(vec![]).await;
        let cloud = client(&base);
        assert_eq!(cloud.publish_place(KEY, 111, 222, PLACE.to_vec()).await, Ok(1));
        assert_eq!(cloud.publish_place(KEY, 111, 222, PLACE.to_vec()).await, Ok(2));
        assert_eq!(*fake.published.lock().unwrap(), vec![(111, 222, PLACE.len()); 2]);
    }

    #[tokio::test]
    async fn rate_limits_and_server_errors_are_retried() {
        let (base, fake) = serve(vec![429, 503]).await;
        assert_eq!(client(&base).publish_place(KEY, 111, 222, PLACE.to_vec()).await, Ok(1));
        assert_eq!(*fake.calls.lock().unwrap(), 3);
    }

    #[tokio::test]
    async fn refusals_carry_roblox_s_message_and_are_not_retried() {
        let (base, fake) = serve(vec![]).await;
        let cloud = client(&base);
        let refused = |status: u16, message: &str| Err(OpenCloudError::Refused { status, message: message.into() });
        assert_eq!(cloud.publish_place("wrong", 111, 222, PLACE.to_vec()).await, refused(401, "Invalid API Key"));
        assert_eq!(
            cloud.publish_place(KEY, 999, 222, PLACE.to_vec()).await,
            refused(404, "Place or universe does not exist.")
        );
        assert_eq!(
            cloud.publish_place(KEY, 111, 999, PLACE.to_vec()).await,
            refused(409, "Place not part of the universe.")
        );
        assert_eq!(cloud.publish_place(KEY, 111, 222, b"{}".to_vec()).await, refused(400, "Invalid file content."));
        assert_eq!(*fake.calls.lock().unwrap(), 4);
        assert!(fake.published.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_roblox_that_keeps_failing_opens_the_circuit() {
        let (base, fake) = serve(vec![500; 6]).await;
        let cloud = client(&base);
        for _ in 0..2 {
            assert_eq!(cloud.publish_place(KEY, 111, 222, PLACE.to_vec()).await, Err(OpenCloudError::Server(500)));
        }
        assert_eq!(*fake.calls.lock().unwrap(), 6);
        assert_eq!(cloud.publish_place(KEY, 111, 222, PLACE.to_vec()).await, Err(OpenCloudError::CircuitOpen));
        assert_eq!(*fake.calls.lock().unwrap(), 6, "no request while open");
    }
}
