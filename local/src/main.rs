//! `toolbox-local`: provisions the template's resources in the local AWS
//! endpoint, seeds a demo organisation, and serves the whole API.
//! `toolbox-local openapi` prints the API's OpenAPI document instead, and
//! `toolbox-local sam-env` the variables `sam local invoke` needs to reach
//! the local stack (see the README, "Replay an event").

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use domain::clock::SystemClock;
use integrations::pusher::Realtime;
use store::AppState;
use store::aws::{AwsClients, load_sdk_config};
use toolbox_content_worker::Worker;
use toolbox_dashboard_events::Announcer;
use toolbox_local::provision::provision;
use toolbox_local::stream::StreamPoller;
use toolbox_local::template::Template;
use toolbox_local::throttle::{Gate, Limits};
use toolbox_local::worker::Poller;
use tower::ServiceExt;

type Error = Box<dyn std::error::Error + Send + Sync>;

fn env_or(name: &str, default: &str) -> String {
    std::env::var(name).ok().filter(|v| !v.is_empty()).unwrap_or_else(|| default.to_owned())
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    let command = std::env::args().nth(1);
    if command.as_deref() == Some("openapi") {
        println!("{}", toolbox_local::openapi_json()?);
        return Ok(());
    }
    // Never provision into a real account by accident.
    let Some(endpoint) = std::env::var("AWS_ENDPOINT_URL").ok().filter(|v| !v.is_empty()) else {
        return Err("AWS_ENDPOINT_URL must point at the local AWS endpoint (moto); `make dev` sets it".into());
    };
    let template = Template::load(&PathBuf::from(env_or("TEMPLATE_PATH", "template.yaml")))?;
    let sdk = load_sdk_config().await;
    let provisioned = provision(&template, &sdk, &env_or("LOCAL_RESOURCE_PREFIX", "toolbox-local")).await?;
    // `toolbox-local sam-env`: the variables `sam local invoke` needs to reach this stack.
    if command.as_deref() == Some("sam-env") {
        println!("{:#}", toolbox_local::sam_env_vars(&template, &provisioned, &endpoint));
        return Ok(());
    }
    store::logging::init();
    let config = toolbox_local::config(&template, &provisioned)?;
    let aws = AwsClients::new(&sdk);
    // The fuzzer and the benchmark measure the functions, not the plans.
    let gate = match env_or("LOCAL_THROTTLE", "1").as_str() {
        "0" | "off" => None,
        _ => Some(Gate::new(
            Limits::from_template(&template)?,
            &provisioned,
            aws_sdk_apigateway::Client::new(&sdk),
            Arc::new(SystemClock),
        )),
    };
    let state = AppState::new(config, aws, Arc::new(SystemClock));
    let app = toolbox_local::app(state.clone(), &template, gate)?;
    // The dashboard's announcements, fed from the table's stream as Lambda's would be.
    let streams = aws_sdk_dynamodbstreams::Client::new(&sdk);
    let announcer = Arc::new(Announcer { realtime: Realtime::configured(&state), state: state.clone() });
    let announcing = tokio::spawn(StreamPoller::new(streams, &state.config.table_name, announcer).await?.run());
    // The worker, fed from the queue as Lambda's event source mapping would.
    let provider = integrations::generation::setup::provider_from(|name| std::env::var(name).ok(), &state.aws.secrets)?;
    let realtime = Realtime::configured(&state);
    let state_for_compliance = state.clone();
    let poller = Poller {
        sqs: state.aws.sqs().clone(),
        queue_url: state.config.queue_url.clone(),
        worker: Arc::new(Worker { state, provider, realtime, lease_seconds: toolbox_content_worker::LEASE_SECONDS }),
        visibility_timeout: None,
    };
    let polling = tokio::spawn(poller.run());
    // Exports and erasures, from the compliance queue.
    let compliance = Poller {
        sqs: state_for_compliance.aws.sqs().clone(),
        queue_url: state_for_compliance.config.compliance_queue_url.clone(),
        worker: Arc::new(toolbox_compliance::worker::Worker { state: state_for_compliance }),
        visibility_timeout: None,
    };
    let complying = tokio::spawn(compliance.run());

    if env_or("LOCAL_SEED_DEMO", "1") != "0" {
        seed_demo(&app).await?;
    }

    let addr: SocketAddr = env_or("LOCAL_ADDR", "127.0.0.1:8011").parse()?;
    let listener = tokio::net::TcpListener::bind(addr).await?;
    tracing::info!(%addr, "toolbox-local serving");
    eprintln!("ToolboxAI API on http://{addr} (Ctrl-C stops it)");
    axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown())
        .await?;
    polling.abort();
    complying.abort();
    announcing.abort();
    tracing::info!("toolbox-local stopped");
    Ok(())
}

/// A demo organisation to log in with, registered through the API itself.
async fn seed_demo(app: &axum::Router) -> Result<(), Error> {
    let email = env_or("DEMO_EMAIL", "admin@demo.school");
    let password = env_or("DEMO_PASSWORD", "demo-password-123");
    let body = serde_json::json!({
        "email": email, "password": password, "username": "demo-admin",
        "first_name": "Demo", "last_name": "Admin", "organization_name": "Demo School",
    });
    let request = Request::post("/api/v1/auth/register")
        .header(header::CONTENT_TYPE, "application/json")
        .body(Body::from(body.to_string()))?;
    let status = app.clone().oneshot(request).await?.status();
    match status {
        StatusCode::CREATED => eprintln!("Seeded the demo organization."),
        StatusCode::CONFLICT => eprintln!("The demo organization exists already."),
        other => return Err(format!("seeding the demo organization failed with {other}").into()),
    }
    eprintln!("Demo login: email {email}, password {password}");
    Ok(())
}

async fn shutdown() {
    let interrupt = tokio::signal::ctrl_c();
    #[cfg(unix)]
    let terminate = async {
        if let Ok(mut signal) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            signal.recv().await;
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => {},
        _ = terminate => {},
    }
}
