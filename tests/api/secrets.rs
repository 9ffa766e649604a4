//! Secrets kept in Secrets Manager and read at run time: a rotated Pusher
//! secret or provider key is used once the cached value is due for a
//! refresh, without a restart, and not before.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::post;
use serde_json::{Value, json};

use domain::generation::content::GeneratedContent;
use domain::generation::request::GenerateRequest;
use integrations::generation::openai::{DEFAULT_RETRY, OpenAiProvider};
use integrations::generation::provider::{Provider, ProviderError, Stage, Task};
use integrations::pusher::{PusherConfig, PusherError, Realtime};
use integrations::retry::Retry;
use store::managed_secret::{REFRESH_AFTER, Secret};

use crate::helpers::{FakePusher, TestApp, put_secret};

fn unique_secret_id(what: &str) -> String {
    format!("toolbox-test-{what}-{}", ulid::Ulid::new().to_string().to_lowercase())
}

fn realtime(app: &TestApp, fake: &FakePusher, secret_id: &str, refresh_after: Duration) -> Realtime {
    let config = PusherConfig::stored(
        "3".into(),
        "278d425bdf160c739803".into(),
        secret_id.into(),
        fake.base_url.clone(),
        refresh_after,
    );
    Realtime::new(Some(config), app.state.aws.secrets.clone())
}

async fn trigger(realtime: &Realtime) -> Result<(), PusherError> {
    realtime.trigger(&["private-org-1".into()], "job.completed", &json!({"job_id": "j1"}), 1_800_000_000).await
}

#[tokio::test]
async fn a_rotated_pusher_secret_signs_events_once_the_cached_one_is_due_for_refresh() {
    let app = TestApp::spawn().await;
    let secrets = &app.state.aws.secrets;
    let id = unique_secret_id("pusher");
    put_secret(secrets, &id, &json!({"secret": "the-first-app-secret"}).to_string()).await;
    let fake = FakePusher::serve("the-first-app-secret").await;
    let refreshed = realtime(&app, &fake, &id, Duration::ZERO);
    let cached = realtime(&app, &fake, &id, REFRESH_AFTER);
    trigger(&refreshed).await.unwrap();
    trigger(&cached).await.unwrap();

    // Rotation: the new secret in Secrets Manager, and at Pusher.
    put_secret(secrets, &id, &json!({"secret": "the-second-app-secret"}).to_string()).await;
    *fake.secret.lock().unwrap() = "the-second-app-secret".into();
    trigger(&refreshed).await.expect("the new secret is read at the refresh");
    let stale = trigger(&cached).await;
    assert!(matches!(stale, Err(PusherError::Status(401))), "kept for its interval: {stale:?}");
    assert_eq!(fake.seen.lock().unwrap().len(), 3);
}

#[tokio::test]
async fn a_missing_pusher_secret_fails_the_event_not_the_caller() {
    let app = TestApp::spawn().await;
    let fake = FakePusher::serve("any").await;
    let failed = trigger(&realtime(&app, &fake, &unique_secret_id("missing"), REFRESH_AFTER)).await;
    assert!(matches!(failed, Err(PusherError::Secret(_))), "{failed:?}");
    assert!(fake.seen.lock().unwrap().is_empty());
}

/// An OpenAI-compatible server that accepts one bearer key: the one it holds now.
async fn completions(State(key): State<Arc<Mutex<String>>>, headers: HeaderMap) -> (StatusCode, Json) {
    let expected = format!("Bearer {}", key.lock().unwrap());
    if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some(expected.as_str()) {
        return (StatusCode::UNAUTHORIZED, axum::Json(json!({"error": {"message": "Incorrect API key provided"}})));
    }
    let content = json!({"title": "T", "summary": "S", "objectives": [], "sections": []}).to_string();
    (StatusCode::OK, axum::Json(json!({"choices": [{"message": {"role": "assistant", "content": content}}]})))
}

type Json = axum::Json<Value>;

async fn outline(provider: &OpenAiProvider) -> Result<Value, ProviderError> {
    let request: GenerateRequest =
        serde_json::from_value(json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Sums"})).unwrap();
    let draft = GeneratedContent::default();
    provider.complete(Task { stage: Stage::Outline, request: &request, draft: &draft, problems: &[] }).await
}

#[tokio::test]
async fn a_rotated_provider_key_is_used_once_the_cached_one_is_due_for_refresh() {
    let app = TestApp::spawn().await;
    let secrets = &app.state.aws.secrets;
    let id = unique_secret_id("provider");
    put_secret(secrets, &id, &json!({"api_key": "sk-first"}).to_string()).await;
    let key = Arc::new(Mutex::new("sk-first".to_owned()));
    let server = Router::new().route("/v1/chat/completions", post(completions)).with_state(key.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/v1", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, server).await.unwrap() });
    let provider = |refresh_after| {
        let key = Secret::stored(secrets.clone(), id.clone(), "api_key", refresh_after);
        let options = Retry { attempts: 1, ..DEFAULT_RETRY };
        OpenAiProvider::new(&base, "test-model", key, options).unwrap()
    };
    let (refreshed, cached) = (provider(Duration::ZERO), provider(REFRESH_AFTER));
    assert_eq!(outline(&refreshed).await.unwrap()["title"], "T");
    assert_eq!(outline(&cached).await.unwrap()["title"], "T");

    put_secret(secrets, &id, "sk-second").await;
    *key.lock().unwrap() = "sk-second".into();
    assert_eq!(outline(&refreshed).await.unwrap()["title"], "T", "the new key, read plain, is used");
    assert!(matches!(outline(&cached).await, Err(ProviderError::Refused(_))), "kept for its interval");
}

#[tokio::test]
async fn a_provider_key_that_cannot_be_read_fails_the_call_without_opening_the_breaker() {
    let app = TestApp::spawn().await;
    let key = Secret::stored(app.state.aws.secrets.clone(), unique_secret_id("missing"), "api_key", REFRESH_AFTER);
    // Nothing listens there: no call may be made anyway.
    let options = Retry { attempts: 1, breaker_threshold: 1, ..DEFAULT_RETRY };
    let provider = OpenAiProvider::new("http://127.0.0.1:9/v1", "test-model", key, options).unwrap();
    for _ in 0..3 {
        assert_eq!(
            outline(&provider).await,
            Err(ProviderError::KeyUnavailable),
            "not Unavailable: the breaker stays closed"
        );
    }
}
