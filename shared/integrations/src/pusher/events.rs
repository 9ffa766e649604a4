//! Events: the HTTP events API, with its signed query string.

use std::sync::Arc;

use serde_json::{Value, json};
use store::config::PusherKeys;
use store::state::AppState;

use super::{PusherConfig, Signing};

#[derive(Debug, thiserror::Error)]
pub enum PusherError {
    #[error("pusher could not be reached: {0}")]
    Unreachable(String),
    #[error("pusher answered {0}")]
    Status(u16),
    #[error("the pusher secret could not be read: {0}")]
    Secret(#[from] store::managed_secret::SecretError),
}

/// Sends events, or only logs them when Pusher is not configured.
#[derive(Clone, Debug)]
pub struct Realtime {
    /// The HTTP client is made on the first event: building its TLS setup
    /// would otherwise double the worker's cold start. Clones (one per
    /// request, with the state) share it.
    pusher: Option<Arc<Pusher>>,
}

struct Pusher {
    config: PusherConfig,
    keys: PusherKeys,
    http: std::sync::OnceLock<reqwest::Client>,
}

impl std::fmt::Debug for Pusher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.config.fmt(f)
    }
}

impl Realtime {
    /// `secrets` reads the app's secret when Secrets Manager keeps it.
    pub fn new(config: Option<PusherConfig>, secrets: aws_sdk_secretsmanager::Client) -> Self {
        let pusher = config.map(|config| {
            let keys = config.keys(secrets);
            Arc::new(Pusher { config, keys, http: std::sync::OnceLock::new() })
        });
        Self { pusher }
    }

    /// The sender `state`'s configuration names.
    pub fn configured(state: &AppState) -> Self {
        Self::new(state.config.pusher.clone(), state.aws.secrets.clone())
    }

    /// The function's sender: built on first use from its configuration and
    /// kept with its state, so warm requests share one HTTP client.
    pub fn of(state: &AppState) -> std::sync::Arc<Self> {
        state.lazy(|| Self::configured(state))
    }

    /// Triggers `event` with `data` on `channels` (at most 100 per call, as
    /// Pusher allows). Failures are the caller's to log: an event is never
    /// worth failing the work it reports on.
    pub async fn trigger(&self, channels: &[String], event: &str, data: &Value, now: i64) -> Result<(), PusherError> {
        let Some(pusher) = &self.pusher else {
            tracing::info!(event, ?channels, "pusher is not configured; event not sent");
            return Ok(());
        };
        let body = json!({"name": event, "channels": channels, "data": data.to_string()}).to_string();
        let path = format!("/apps/{}/events", pusher.config.app_id);
        let query = pusher.keys.signer().await?.signed_query("POST", &path, body.as_bytes(), now);
        let response = pusher
            .http
            .get_or_init(reqwest::Client::new)
            .post(format!("{}{path}?{query}", pusher.config.base_url))
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|err| PusherError::Unreachable(err.to_string()))?;
        if response.status().is_success() { Ok(()) } else { Err(PusherError::Status(response.status().as_u16())) }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::{RawQuery, State};
    use axum::http::StatusCode;
    use axum::routing::post;
    use md5::{Digest, Md5};

    use super::*;
    use crate::pusher::tests::{documented, documented_signer};

    /// A client never called: the documented app's secret is given.
    fn no_secrets() -> aws_sdk_secretsmanager::Client {
        let config = aws_sdk_secretsmanager::Config::builder()
            .behavior_version_latest()
            .region(aws_sdk_secretsmanager::config::Region::new("us-east-1"))
            .build();
        aws_sdk_secretsmanager::Client::from_conf(config)
    }

    /// Pusher's side: recompute body_md5 and the signature from the secret.
    async fn events(State(seen): State<Arc<Mutex<Vec<Value>>>>, RawQuery(query): RawQuery, body: String) -> StatusCode {
        let query = query.unwrap_or_default();
        let (unsigned, signature) = query.rsplit_once("&auth_signature=").unwrap_or_default();
        let params: BTreeMap<&str, &str> = unsigned.split('&').filter_map(|p| p.split_once('=')).collect();
        let expected = documented_signer().signed_query(
            "POST",
            "/apps/3/events",
            body.as_bytes(),
            params["auth_timestamp"].parse().unwrap(),
        );
        if params.get("body_md5") != Some(&hex::encode(Md5::digest(body.as_bytes())).as_str())
            || !expected.ends_with(signature)
        {
            return StatusCode::UNAUTHORIZED;
        }
        seen.lock().unwrap().push(serde_json::from_str(&body).unwrap());
        StatusCode::OK
    }

    #[tokio::test]
    async fn trigger_posts_a_signed_event_pusher_accepts() {
        let seen = Arc::new(Mutex::new(Vec::new()));
        let app = Router::new().route("/apps/3/events", post(events)).with_state(seen.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        let realtime = Realtime::new(Some(documented(&format!("http://{addr}"))), no_secrets());
        let channels = vec!["private-org-1".to_owned(), "private-user-2".to_owned()];
        realtime.trigger(&channels, "job.completed", &json!({"job_id": "j1"}), 1_800_000_000).await.unwrap();
        let seen = seen.lock().unwrap().clone();
        assert_eq!(seen[0]["name"], "job.completed");
        assert_eq!(seen[0]["channels"], json!(channels));
        // `data` is itself JSON, as a string.
        assert_eq!(serde_json::from_str::<Value>(seen[0]["data"].as_str().unwrap()).unwrap(), json!({"job_id": "j1"}));

        // A wrong secret is Pusher's 401.
        let wrong = PusherConfig::with_secret(
            "3".into(),
            "278d425bdf160c739803".into(),
            "not-the-secret".into(),
            format!("http://{addr}"),
        );
        let failed = Realtime::new(Some(wrong), no_secrets())
            .trigger(&channels, "job.completed", &json!({}), 1_800_000_000)
            .await;
        assert!(matches!(failed, Err(PusherError::Status(401))));
    }

    #[tokio::test]
    async fn without_configuration_events_are_only_logged() {
        let realtime = Realtime::new(PusherConfig::from_source(|_| None), no_secrets());
        assert!(realtime.pusher.is_none());
        realtime.trigger(&["private-org-1".into()], "job.progress", &json!({}), 0).await.unwrap();
    }
}
