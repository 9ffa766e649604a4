//! A client for OpenAI-compatible chat completions (`POST
//! {base}/chat/completions`), so one setting points the pipeline at OpenAI,
//! Ollama, vLLM or any server that speaks the same wire format. Each stage
//! is one request in JSON mode; the answer's `choices[0].message.content` must
//! be a JSON object. Transient failures (timeouts, 429, 5xx) are retried with
//! exponential backoff (honouring `Retry-After`); a task that still fails
//! counts toward the circuit breaker.

use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::RETRY_AFTER;
use serde_json::{Value, json};

use store::managed_secret::Secret;

use crate::breaker::Breaker;
use crate::generation::provider::{Provider, ProviderError, ProviderFuture, Stage, Task};
use crate::retry::{Failed, Retry};

/// The provider's defaults: a stage may take a while to write.
pub const DEFAULT_RETRY: Retry = Retry {
    timeout: Duration::from_secs(30),
    attempts: 3,
    backoff: Duration::from_millis(500),
    max_backoff: Duration::from_secs(8),
    breaker_threshold: 5,
    breaker_cooldown: Duration::from_secs(60),
};

/// No `Debug`: it holds the API key.
pub struct OpenAiProvider {
    http: reqwest::Client,
    url: String,
    model: String,
    /// Given, or kept in Secrets Manager and read again every few minutes,
    /// so a rotated key is used without a redeploy.
    api_key: Secret,
    options: Retry,
    breaker: Breaker,
}

/// The JSON each stage must answer with, in words a model follows.
fn shape(stage: Stage) -> &'static str {
    match stage {
        Stage::Outline => {
            r#"{"title": string, "summary": string, "objectives": [string], "sections": [{"heading": string}]} (no sections for a quiz)"#
        }
        Stage::Content => {
            r#"{"sections": [{"heading": string, "body": string}]} with the outline's headings, each body a full explanation"#
        }
        Stage::Quiz => {
            r#"{"questions": [{"question": string, "options": [2 to 6 distinct strings], "answer_index": index of the one right option, "explanation": string}]} with exactly num_questions questions"#
        }
        Stage::Repair => {
            r#"{"title", "summary", "objectives", "sections": [{"heading", "body"}], "quiz": [{"question", "options", "answer_index", "explanation"}]}: the whole draft again with every listed problem fixed"#
        }
    }
}

/// The chat request for one stage.
pub fn request_body(model: &str, task: &Task<'_>) -> Value {
    let system = format!(
        "You write accurate, age-appropriate school learning content. This is the {} stage. \
         Answer with one JSON object and nothing else, shaped as: {}. Every learning objective \
         given must appear among the objectives.",
        task.stage.as_str(),
        shape(task.stage)
    );
    let user = json!({
        "request": task.request,
        "language": task.request.language(),
        "num_questions": task.request.questions(),
        "draft": task.draft,
        "problems": task.problems,
    });
    json!({
        "model": model,
        "messages": [
            {"role": "system", "content": system},
            {"role": "user", "content": user.to_string()},
        ],
        "response_format": {"type": "json_object"},
        "temperature": 0.4,
    })
}

impl OpenAiProvider {
    /// `base_url` as the provider documents it, e.g. `https://api.openai.com/v1`
    /// or `http://localhost:11434/v1` for Ollama.
    pub fn new(base_url: &str, model: &str, api_key: Secret, options: Retry) -> Result<Self, reqwest::Error> {
        let http = reqwest::Client::builder().timeout(options.timeout).build()?;
        Ok(Self {
            http,
            url: format!("{}/chat/completions", base_url.trim_end_matches('/')),
            model: model.to_owned(),
            api_key,
            breaker: options.breaker("provider"),
            options,
        })
    }

    async fn call(&self, api_key: &str, body: &Value) -> Result<Value, ProviderError> {
        let response = self
            .http
            .post(&self.url)
            .bearer_auth(api_key)
            .json(body)
            .send()
            .await
            .map_err(|err| if err.is_timeout() { ProviderError::Timeout } else { ProviderError::Unreachable })?;
        let status = response.status();
        if status == StatusCode::TOO_MANY_REQUESTS {
            let retry_after_seconds =
                response.headers().get(RETRY_AFTER).and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse().ok());
            return Err(ProviderError::RateLimited { retry_after_seconds });
        }
        if status.is_server_error() {
            return Err(ProviderError::Server(status.as_u16()));
        }
        if !status.is_success() {
            return Err(ProviderError::Refused(format!("status {}", status.as_u16())));
        }
        let completion: Value = response.json().await.map_err(|err| {
            if err.is_timeout() { ProviderError::Timeout } else { ProviderError::Malformed("not JSON".into()) }
        })?;
        let content = completion["choices"][0]["message"]["content"]
            .as_str()
            .ok_or_else(|| ProviderError::Malformed("no choices[0].message.content".into()))?;
        match serde_json::from_str::<Value>(content) {
            Ok(value) if value.is_object() => Ok(value),
            _ => Err(ProviderError::Malformed("the message content is not a JSON object".into())),
        }
    }

    async fn run(&self, task: Task<'_>) -> Result<Value, ProviderError> {
        // Our own secret, not the provider: read before the breaker is asked
        // (a half-open probe must report), and its failure counts for nothing.
        let api_key = self.api_key.current().await.map_err(|err| {
            tracing::error!(error = %err, "the provider's API key could not be read");
            ProviderError::KeyUnavailable
        })?;
        if !self.breaker.allows(Instant::now()) {
            return Err(ProviderError::Unavailable);
        }
        let body = request_body(&self.model, &task);
        let retried = |err: &ProviderError, attempt| {
            tracing::warn!(error = %err, stage = task.stage.as_str(), attempt, "provider call failed; retrying");
            crate::generation::meter::retried();
        };
        let call = || async {
            self.call(&api_key, &body).await.map_err(|error| Failed {
                retry: error.is_transient(),
                pause: asked_pause(&error),
                error,
            })
        };
        // A refusal or a malformed answer is still an answer: only an
        // unreachable or failing provider counts against it.
        self.options.run(&self.breaker, ProviderError::is_transient, retried, call).await
    }
}

/// The pause a rate-limited provider asked for (`Retry-After`).
fn asked_pause(error: &ProviderError) -> Duration {
    match error {
        ProviderError::RateLimited { retry_after_seconds: Some(seconds) } => Duration::from_secs(*seconds),
        _ => Duration::ZERO,
    }
}

impl Provider for OpenAiProvider {
    fn name(&self) -> &'static str {
        "openai-compatible"
    }

    fn complete<'a>(&'a self, task: Task<'a>) -> ProviderFuture<'a> {
        Box::pin(self.run(task))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use axum::Router;
    use axum::extract::State;
    use axum::http::{HeaderMap, StatusCode};
    use axum::response::{IntoResponse, Response};
    use axum::routing::post;

    use super::*;
    use crate::generation::pipeline;
    use crate::generation::template::TemplateProvider;
    use domain::generation::content::GeneratedContent;
    use domain::generation::request::GenerateRequest;

    /// What the fake server answers, in order, and what it was sent.
    #[derive(Clone, Default)]
    struct Fake {
        script: Arc<Mutex<Vec<Reply>>>,
        hits: Arc<Mutex<Vec<Value>>>,
    }

    #[derive(Clone)]
    enum Reply {
        Json(Value),
        Status(u16, Option<&'static str>),
        Slow,
        Body(&'static str),
    }

    /// Checks what OpenAI checks: the bearer key, JSON, the model, the
    /// messages, JSON mode. A request that fails a check gets the 4xx a real
    /// provider would send.
    async fn completions(State(fake): State<Fake>, headers: HeaderMap, body: String) -> Response {
        if headers.get("authorization").and_then(|v| v.to_str().ok()) != Some("Bearer test-key") {
            return (StatusCode::UNAUTHORIZED, "bad key").into_response();
        }
        if !headers.get("content-type").and_then(|v| v.to_str().ok()).is_some_and(|v| v.starts_with("application/json"))
        {
            return (StatusCode::BAD_REQUEST, "not json").into_response();
        }
        let Ok(body) = serde_json::from_str::<Value>(&body) else {
            return (StatusCode::BAD_REQUEST, "malformed").into_response();
        };
        let roles: Vec<&str> =
            body["messages"].as_array().into_iter().flatten().filter_map(|m| m["role"].as_str()).collect();
        let contents_are_text = body["messages"].as_array().into_iter().flatten().all(|m| m["content"].is_string());
        if body["model"] != "test-model"
            || roles != ["system", "user"]
            || !contents_are_text
            || body["response_format"]["type"] != "json_object"
        {
            return (StatusCode::BAD_REQUEST, "bad body").into_response();
        }
        fake.hits.lock().unwrap().push(body);
        let reply = fake.script.lock().unwrap().pop().expect("a scripted reply");
        match reply {
            Reply::Json(content) => axum::Json(json!({
                "id": "chatcmpl-1", "object": "chat.completion",
                "choices": [{"index": 0, "message": {"role": "assistant", "content": content.to_string()}, "finish_reason": "stop"}]
            }))
            .into_response(),
            Reply::Status(code, retry_after) => {
                let mut response = (StatusCode::from_u16(code).unwrap(), "{}").into_response();
                if let Some(seconds) = retry_after {
                    response.headers_mut().insert("retry-after", seconds.parse().unwrap());
                }
                response
            }
            Reply::Slow => {
                tokio::time::sleep(Duration::from_secs(5)).await;
                (StatusCode::OK, "{}").into_response()
            }
            Reply::Body(text) => (StatusCode::OK, [("content-type", "application/json")], text).into_response(),
        }
    }

    async fn serve(replies: Vec<Reply>) -> (String, Fake) {
        let fake = Fake { script: Arc::new(Mutex::new(replies.into_iter().rev().collect())), ..Fake::default() };
        let app = Router::new().route("/v1/chat/completions", post(completions)).with_state(fake.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        (format!("http://{addr}/v1"), fake)
    }

    fn fast() -> Retry {
        Retry {
            timeout: Duration::from_millis(300),
            attempts: 3,
            backoff: Duration::from_millis(5),
            max_backoff: Duration::from_millis(20),
            breaker_threshold: 2,
            breaker_cooldown: Duration::from_secs(60),
        }
    }

    fn lesson() -> GenerateRequest {
        domain::json::parse(br#"{"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Cells"}"#).unwrap()
    }

    /// The template provider's answer for a stage: valid content to reply with.
    async fn valid(stage: Stage, request: &GenerateRequest) -> Value {
        TemplateProvider
            .complete(Task { stage, request, draft: &GeneratedContent::default(), problems: &[] })
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn a_lesson_runs_through_a_compatible_server() {
        let req = lesson();
        let replies = vec![
            Reply::Json(valid(Stage::Outline, &req).await),
            Reply::Json(valid(Stage::Content, &req).await),
            Reply::Json(valid(Stage::Quiz, &req).await),
        ];
        let (base, fake) = serve(replies).await;
        let provider = OpenAiProvider::new(&base, "test-model", "test-key".into(), fast()).unwrap();
        let content = pipeline::run(&provider, &req, |_| {}).await.unwrap();
        assert!(content.review(&req).is_empty());
        let hits = fake.hits.lock().unwrap();
        assert_eq!(hits.len(), 3);
        // Each stage names itself and carries the request.
        let user: Value = serde_json::from_str(hits[1]["messages"][1]["content"].as_str().unwrap()).unwrap();
        assert_eq!(user["request"]["topic"], "Cells");
        assert!(hits[1]["messages"][0]["content"].as_str().unwrap().contains("content stage"));
    }

    #[tokio::test]
    async fn content_that_fails_review_is_sent_back_once_with_the_problems_then_fails() {
        let req = lesson();
        let mut quiz = valid(Stage::Quiz, &req).await;
        quiz["questions"][0]["answer_index"] = json!(7);
        let mut repaired = valid(Stage::Repair, &req).await;
        repaired["quiz"][0]["options"] = json!(["Only one"]);
        let replies = vec![
            Reply::Json(valid(Stage::Outline, &req).await),
            Reply::Json(valid(Stage::Content, &req).await),
            Reply::Json(quiz),
            Reply::Json(repaired),
        ];
        let (base, fake) = serve(replies).await;
        let provider = OpenAiProvider::new(&base, "test-model", "test-key".into(), fast()).unwrap();
        match pipeline::run(&provider, &req, |_| {}).await {
            Err(pipeline::PipelineError::Review(problems)) => {
                assert!(problems.iter().any(|p| p.contains("question 1 needs 2 to 6 options")), "{problems:?}");
            }
            other => panic!("{other:?}"),
        }
        let hits = fake.hits.lock().unwrap();
        assert_eq!(hits.len(), 4, "one repair, no more");
        // The repair request names what the review found.
        let repair: Value = serde_json::from_str(hits[3]["messages"][1]["content"].as_str().unwrap()).unwrap();
        assert!(repair.to_string().contains("no option at answer_index 7"), "{repair}");
    }

    #[tokio::test]
    async fn server_errors_and_rate_limits_are_retried() {
        let req = lesson();
        let outline = valid(Stage::Outline, &req).await;
        let (base, fake) =
            serve(vec![Reply::Status(500, None), Reply::Status(429, Some("0")), Reply::Json(outline.clone())]).await;
        let provider = OpenAiProvider::new(&base, "test-model", "test-key".into(), fast()).unwrap();
        let task = Task { stage: Stage::Outline, request: &req, draft: &GeneratedContent::default(), problems: &[] };
        assert_eq!(provider.complete(task).await.unwrap(), outline);
        assert_eq!(fake.hits.lock().unwrap().len(), 3);
    }

    #[tokio::test]
    async fn a_server_that_keeps_failing_opens_the_circuit() {
        let req = lesson();
        let replies = vec![Reply::Status(503, None); 6];
        let (base, fake) = serve(replies).await;
        let provider = OpenAiProvider::new(&base, "test-model", "test-key".into(), fast()).unwrap();
        let task = Task { stage: Stage::Outline, request: &req, draft: &GeneratedContent::default(), problems: &[] };
        assert_eq!(provider.complete(task).await, Err(ProviderError::Server(503)));
        assert_eq!(provider.complete(task).await, Err(ProviderError::Server(503)));
        assert_eq!(fake.hits.lock().unwrap().len(), 6, "three tries per task");
        // Open: the next task fails at once, without a request.
        assert_eq!(provider.complete(task).await, Err(ProviderError::Unavailable));
        assert_eq!(fake.hits.lock().unwrap().len(), 6);
    }

    #[tokio::test]
    async fn a_slow_server_times_out() {
        let req = lesson();
        let (base, _fake) = serve(vec![Reply::Slow; 3]).await;
        let provider = OpenAiProvider::new(&base, "test-model", "test-key".into(), fast()).unwrap();
        let task = Task { stage: Stage::Outline, request: &req, draft: &GeneratedContent::default(), problems: &[] };
        assert_eq!(provider.complete(task).await, Err(ProviderError::Timeout));
    }

    #[tokio::test]
    async fn malformed_answers_and_refusals_are_not_retried() {
        let req = lesson();
        let task = Task { stage: Stage::Outline, request: &req, draft: &GeneratedContent::default(), problems: &[] };
        for reply in [
            Reply::Body("not json at all"),
            Reply::Body(r#"{"choices": []}"#),
            Reply::Json(json!("a string, not an object")),
        ] {
            let (base, fake) = serve(vec![reply]).await;
            let provider = OpenAiProvider::new(&base, "test-model", "test-key".into(), fast()).unwrap();
            assert!(matches!(provider.complete(task).await, Err(ProviderError::Malformed(_))));
            assert_eq!(fake.hits.lock().unwrap().len(), 1);
        }
        // A wrong key is the provider's 401: refused, not retried.
        let (base, fake) = serve(vec![]).await;
        let provider = OpenAiProvider::new(&base, "test-model", "wrong-key".into(), fast()).unwrap();
        assert_eq!(provider.complete(task).await, Err(ProviderError::Refused("status 401".into())));
        assert!(fake.hits.lock().unwrap().is_empty());
    }
}
