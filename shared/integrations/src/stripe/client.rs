//! Stripe's REST API as it documents its wire format: form-encoded bodies
//! with bracketed keys for nested fields (`line_items[0][price]`), the
//! secret key as a bearer token, a pinned `Stripe-Version`, and an
//! `Idempotency-Key` on every POST, sent again unchanged on each retry so a
//! retried create makes one object. Timeouts, 429 and 5xx are retried with
//! backoff unless Stripe says `Stripe-Should-Retry: false`; a call that
//! still fails counts toward the circuit breaker.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde::Deserialize;
use serde::de::DeserializeOwned;

use std::sync::Arc;

use super::{Keys, StripeKeys};
use crate::breaker::Breaker;
use crate::retry::{Failed, Retry};

/// The API version every request pins, so a change Stripe makes to its
/// objects reaches this code only when this line changes.
pub const API_VERSION: &str = "2024-06-20";

/// Stripe's defaults: a request waits for it about 25 s at most in all,
/// inside API Gateway's 29 s.
pub const DEFAULT_RETRY: Retry = Retry {
    timeout: Duration::from_secs(8),
    attempts: 3,
    backoff: Duration::from_millis(300),
    max_backoff: Duration::from_secs(2),
    breaker_threshold: 5,
    breaker_cooldown: Duration::from_secs(30),
};

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StripeError {
    #[error("no Stripe API key is configured")]
    NotConfigured,
    #[error("the Stripe keys could not be read")]
    Keys,
    #[error("Stripe is failing; the circuit is open")]
    CircuitOpen,
    #[error("Stripe could not be reached")]
    Unreachable,
    #[error("Stripe answered {0}")]
    Server(u16),
    /// Stripe refused the request: our configuration or our code is wrong.
    #[error("Stripe refused the request with {status} ({kind}, {code:?})")]
    Refused { status: u16, kind: String, code: Option<String> },
    #[error("Stripe's answer could not be read")]
    Malformed,
}

impl StripeError {
    fn is_transient(&self) -> bool {
        matches!(self, Self::Unreachable | Self::Server(_))
    }
}

/// A form body, its keys bracketed as Stripe nests them.
#[derive(Debug, Default, Clone)]
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn set(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.push((key.into(), value.into()));
        self
    }

    fn encode(&self) -> String {
        serde_urlencoded::to_string(&self.0).expect("string pairs always encode")
    }
}

#[derive(Deserialize)]
struct ErrorBody {
    error: ErrorDetail,
}

#[derive(Deserialize)]
struct ErrorDetail {
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    code: Option<String>,
}

/// No `Debug`: it holds the keys.
pub struct Stripe {
    http: reqwest::Client,
    base_url: String,
    keys: Keys,
    options: Retry,
    breaker: Breaker,
}

impl Stripe {
    /// `base_url` is `https://api.stripe.com`, or a local server in tests.
    pub fn new(base_url: &str, keys: Keys, options: Retry) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(options.timeout).build()?;
        Ok(Self {
            http,
            base_url: base_url.trim_end_matches('/').to_owned(),
            keys,
            breaker: options.breaker("stripe"),
            options,
        })
    }

    /// The keys as the secret holds them now (the webhook's secrets too).
    pub async fn keys(&self) -> Result<Arc<StripeKeys>, StripeError> {
        self.keys.current().await.map_err(|err| {
            tracing::error!(error = %err, "the Stripe keys could not be read");
            StripeError::Keys
        })
    }

    /// `POST /v1/<path>` with `form`; `idempotency_key` names the operation,
    /// so that Stripe carries it out once however often it is sent.
    pub async fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        form: &Form,
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        let keys = self.keys().await?;
        let api_key = keys.api_key().ok_or(StripeError::NotConfigured)?;
        if !self.breaker.allows(Instant::now()) {
            return Err(StripeError::CircuitOpen);
        }
        let body = form.encode();
        let retried = |error: &StripeError, attempt| tracing::warn!(error = %error, path, attempt, "stripe call failed; retrying");
        let call = || self.try_post(path, api_key, &body, idempotency_key);
        self.options.run(&self.breaker, StripeError::is_transient, retried, call).await
    }

    async fn try_post<T: DeserializeOwned>(
        &self,
        path: &str,
        api_key: &str,
        body: &str,
        idempotency_key: &str,
    ) -> Result<T, Failed<StripeError>> {
        let response = self
            .http
            .post(format!("{}/v1/{path}", self.base_url))
            .bearer_auth(api_key)
            .header("Stripe-Version", API_VERSION)
            .header("Idempotency-Key", idempotency_key)
            .header(reqwest::header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(body.to_owned())
            .send()
            .await
            .map_err(|_| Failed { error: StripeError::Unreachable, retry: true, pause: Duration::ZERO })?;
        let status = response.status();
        // Stripe's own word on retrying wins over the status code.
        let should_retry = response
            .headers()
            .get("stripe-should-retry")
            .and_then(|v| v.to_str().ok())
            .map(|v| v.eq_ignore_ascii_case("true"));
        if status.is_success() {
            return response.json().await.map_err(|_| Failed {
                error: StripeError::Malformed,
                retry: false,
                pause: Duration::ZERO,
            });
        }
        if status.is_server_error() {
            return Err(Failed {
                error: StripeError::Server(status.as_u16()),
                retry: should_retry.unwrap_or(true),
                pause: Duration::ZERO,
            });
        }
        let retry = should_retry.unwrap_or(status == StatusCode::TOO_MANY_REQUESTS);
        let detail = response.json::<ErrorBody>().await.ok().map(|body| body.error);
        let (kind, code) = detail.map_or_else(|| ("unknown".to_owned(), None), |d| (d.kind, d.code));
        let error = if status == StatusCode::TOO_MANY_REQUESTS {
            StripeError::Server(status.as_u16())
        } else {
            StripeError::Refused { status: status.as_u16(), kind, code }
        };
        Err(Failed { error, retry, pause: Duration::ZERO })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;
    use serde_json::{Value, json};

    use super::*;
    use crate::stripe::StripeKeys;

    /// A status to answer with, and the `Stripe-Should-Retry` header if any.
    type Failure = (u16, Option<&'static str>);

    #[derive(Clone, Default)]
    struct Fake {
        /// Failures to answer before the real answer, in order.
        failures: Arc<Mutex<Vec<Failure>>>,
        /// Idempotency keys seen, in order.
        keys: Arc<Mutex<Vec<String>>>,
        /// The customer made for each idempotency key, as Stripe keeps them.
        made: Arc<Mutex<HashMap<String, Value>>>,
    }

    fn stripe_error(status: StatusCode, kind: &str, message: &str) -> Response {
        (status, axum::Json(json!({"error": {"type": kind, "message": message}}))).into_response()
    }

    /// Checks what Stripe checks before it does anything: the bearer secret
    /// key, the form content type, an idempotency key, the API version, and
    /// only parameters the endpoint knows.
    async fn customers(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
        if header("authorization") != "Bearer sk_test_123" {
            return stripe_error(StatusCode::UNAUTHORIZED, "invalid_request_error", "Invalid API Key provided");
        }
        if header("stripe-version") != API_VERSION || header("idempotency-key").is_empty() {
            return stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", "bad headers");
        }
        if !header("content-type").starts_with("application/x-www-form-urlencoded") {
            return stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", "not a form");
        }
        let form: Vec<(String, String)> = serde_urlencoded::from_str(&body).unwrap();
        let allowed = |key: &str| key == "name" || key.starts_with("metadata[") && key.ends_with(']');
        if let Some((key, _)) = form.iter().find(|(key, _)| !allowed(key)) {
            let message = format!("Received unknown parameter: {key}");
            return stripe_error(StatusCode::BAD_REQUEST, "invalid_request_error", &message);
        }
        let key = header("idempotency-key");
        fake.keys.lock().unwrap().push(key.clone());
        let failure = fake.failures.lock().unwrap().pop();
        if let Some((status, should_retry)) = failure {
            let mut response = stripe_error(StatusCode::from_u16(status).unwrap(), "api_error", "try later");
            if let Some(value) = should_retry {
                response.headers_mut().insert("stripe-should-retry", value.parse().unwrap());
            }
            return response;
        }
        let mut made = fake.made.lock().unwrap();
        let count = made.len();
        let customer = made.entry(key).or_insert_with(|| {
            let fields: HashMap<String, String> = form.into_iter().collect();
            json!({"id": format!("cus_{count}"), "object": "customer", "metadata": {"org_id": fields["metadata[org_id]"]}})
        });
        axum::Json(customer.clone()).into_response()
    }

    async fn serve(failures: Vec<Failure>) -> (String, Fake) {
        let fake = Fake { failures: Arc::new(Mutex::new(failures.into_iter().rev().collect())), ..Fake::default() };
        let app = Router::new().route("/v1/customers", post(customers)).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}"), fake)
    }

    fn client(base: &str, api_key: Option<&str>) -> Stripe {
        let options = Retry {
            timeout: Duration::from_millis(500),
            attempts: 3,
            backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            breaker_threshold: 2,
            breaker_cooldown: Duration::from_secs(60),
        };
        let keys = StripeKeys::parse(&json!({"api_key": api_key, "webhook_secret": "whsec_test"}).to_string()).unwrap();
        Stripe::new(base, Keys::Given(Arc::new(keys)), options).unwrap()
    }

    fn customer() -> Form {
        Form::new().set("name", "Test School").set("metadata[org_id]", "01ORG")
    }

    #[tokio::test]
    async fn a_create_sends_a_bracketed_form_with_the_pinned_version_and_its_idempotency_key() {
        let (base, fake) = serve(vec![]).await;
        let stripe = client(&base, Some("sk_test_123"));
        let made: Value = stripe.post("customers", &customer(), "customer-01ORG").await.unwrap();
        assert_eq!(made["metadata"]["org_id"], "01ORG");
        // The same key again is the same customer, as Stripe promises.
        let again: Value = stripe.post("customers", &customer(), "customer-01ORG").await.unwrap();
        assert_eq!(again["id"], made["id"]);
        assert_eq!(fake.made.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn server_errors_and_rate_limits_are_retried_with_the_same_idempotency_key() {
        let (base, fake) = serve(vec![(500, None), (429, None)]).await;
        let stripe = client(&base, Some("sk_test_123"));
        let made: Value = stripe.post("customers", &customer(), "customer-retried").await.unwrap();
        assert_eq!(made["object"], "customer");
        assert_eq!(*fake.keys.lock().unwrap(), vec!["customer-retried"; 3]);
    }

    #[tokio::test]
    async fn stripe_should_retry_false_is_obeyed() {
        let (base, fake) = serve(vec![(503, Some("false"))]).await;
        let stripe = client(&base, Some("sk_test_123"));
        let failed = stripe.post::<Value>("customers", &customer(), "k").await.unwrap_err();
        assert_eq!(failed, StripeError::Server(503));
        assert_eq!(fake.keys.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn refusals_name_stripes_error_and_are_not_retried() {
        let (base, fake) = serve(vec![]).await;
        let stripe = client(&base, Some("sk_test_123"));
        let unknown = Form::new().set("price_id", "price_x");
        match stripe.post::<Value>("customers", &unknown, "k").await.unwrap_err() {
            StripeError::Refused { status: 400, kind, .. } => assert_eq!(kind, "invalid_request_error"),
            other => panic!("{other:?}"),
        }
        assert!(fake.keys.lock().unwrap().is_empty(), "refused before it was carried out");
        let wrong = client(&base, Some("sk_test_wrong"));
        assert!(matches!(
            wrong.post::<Value>("customers", &customer(), "k").await,
            Err(StripeError::Refused { status: 401, .. })
        ));
    }

    #[tokio::test]
    async fn without_an_api_key_nothing_is_sent() {
        let (base, fake) = serve(vec![]).await;
        for key in [None, Some("a-generated-placeholder")] {
            let stripe = client(&base, key);
            assert_eq!(stripe.post::<Value>("customers", &customer(), "k").await, Err(StripeError::NotConfigured));
        }
        assert!(fake.keys.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_stripe_that_keeps_failing_opens_the_circuit() {
        let (base, fake) = serve(vec![(500, None); 6]).await;
        let stripe = client(&base, Some("sk_test_123"));
        for _ in 0..2 {
            assert_eq!(stripe.post::<Value>("customers", &customer(), "k").await, Err(StripeError::Server(500)));
        }
        assert_eq!(fake.keys.lock().unwrap().len(), 6);
        assert_eq!(stripe.post::<Value>("customers", &customer(), "k").await, Err(StripeError::CircuitOpen));
        assert_eq!(fake.keys.lock().unwrap().len(), 6, "no request while open");
    }
}
