//! JSON logs, installed first thing at every cold start. An HTTP request runs
//! in a span carrying `request_id`, `tenant_id` and `user_id` (see
//! `web::http`), and every line inside it repeats them.

use tracing_subscriber::EnvFilter;

/// Installs the JSON subscriber; `RUST_LOG` or `LOG_LEVEL` pick the level.
pub fn init() {
    let filter = std::env::var("RUST_LOG").or_else(|_| std::env::var("LOG_LEVEL")).unwrap_or_else(|_| "info".into());
    let _ = tracing_subscriber::fmt()
        .json()
        .with_env_filter(EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info")))
        .with_current_span(true)
        .with_span_list(false)
        .flatten_event(true)
        .with_target(false)
        .try_init();
}
