//! A small Lambda Runtime API emulator: enough of
//! `/2018-06-01/runtime/invocation/*` for a real function binary to start,
//! poll, receive events and answer them, with no Docker.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use tokio::sync::{Mutex, Notify, mpsc};

pub struct Completion {
    pub ok: bool,
    pub at: Instant,
}

struct Shared {
    first_poll: std::sync::Mutex<Option<Instant>>,
    polled: Notify,
    events: Mutex<mpsc::Receiver<(String, Vec<u8>)>>,
    completions: mpsc::Sender<Completion>,
}

pub struct RuntimeApi {
    pub addr: SocketAddr,
    shared: Arc<Shared>,
    events: mpsc::Sender<(String, Vec<u8>)>,
    completions: mpsc::Receiver<Completion>,
    counter: u64,
}

impl RuntimeApi {
    pub async fn start() -> std::io::Result<Self> {
        let (events, events_rx) = mpsc::channel(1);
        let (completions_tx, completions) = mpsc::channel(16);
        let shared = Arc::new(Shared {
            first_poll: std::sync::Mutex::new(None),
            polled: Notify::new(),
            events: Mutex::new(events_rx),
            completions: completions_tx,
        });
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route("/2018-06-01/runtime/invocation/{id}/response", post(response))
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move { axum::serve(listener, app).await });
        Ok(Self { addr, shared, events, completions, counter: 0 })
    }

    /// When the function first asked for work: its init is over.
    pub async fn first_poll(&self, timeout: Duration) -> Option<Instant> {
        let notified = self.shared.polled.notified();
        if let Some(at) = *self.shared.first_poll.lock().unwrap() {
            return Some(at);
        }
        tokio::time::timeout(timeout, notified).await.ok()?;
        *self.shared.first_poll.lock().unwrap()
    }

    /// Hands the function one event and waits for its answer.
    pub async fn invoke(&mut self, event: &[u8], timeout: Duration) -> Option<(Duration, bool)> {
        self.counter += 1;
        let started = Instant::now();
        self.events.send((format!("bench-{}", self.counter), event.to_vec())).await.ok()?;
        let done = tokio::time::timeout(timeout, self.completions.recv()).await.ok()??;
        Some((done.at - started, done.ok))
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> impl IntoResponse {
    {
        let mut first = shared.first_poll.lock().unwrap();
        if first.is_none() {
            *first = Some(Instant::now());
            shared.polled.notify_waiters();
            shared.polled.notify_one();
        }
    }
    let Some((id, body)) = shared.events.lock().await.recv().await else {
        // The bench is over; the function is about to be killed.
        std::future::pending::<()>().await;
        unreachable!()
    };
    let mut headers = HeaderMap::new();
    let deadline = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default()
        + Duration::from_secs(30);
    headers.insert("lambda-runtime-aws-request-id", HeaderValue::from_str(&id).expect("ascii id"));
    headers.insert("lambda-runtime-deadline-ms", HeaderValue::from(deadline.as_millis() as u64));
    headers.insert(
        "lambda-runtime-invoked-function-arn",
        HeaderValue::from_static("arn:aws:lambda:us-east-1:123456789012:function:bench"),
    );
    headers.insert("lambda-runtime-trace-id", HeaderValue::from_static("Root=1-00000000-000000000000000000000000"));
    (StatusCode::OK, headers, body)
}

async fn response(State(shared): State<Arc<Shared>>, Path(_id): Path<String>, _body: Bytes) -> StatusCode {
    let _ = shared.completions.send(Completion { ok: true, at: Instant::now() }).await;
    StatusCode::ACCEPTED
}

async fn error(State(shared): State<Arc<Shared>>, Path(_id): Path<String>, _body: Bytes) -> StatusCode {
    let _ = shared.completions.send(Completion { ok: false, at: Instant::now() }).await;
    StatusCode::ACCEPTED
}

async fn init_error(_body: Bytes) -> StatusCode {
    StatusCode::ACCEPTED
}
