use std::sync::Arc;

use integrations::pusher::Realtime;
use lambda_runtime::{LambdaEvent, service_fn};
use serde_json::Value;
use store::logging::Invocations;
use toolbox_content_worker::{Call, Invocation, LEASE_SECONDS, Worker};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    store::logging::init();
    let state = store::AppState::from_env().await?;
    let provider = integrations::generation::setup::provider_from(|name| std::env::var(name).ok(), &state.aws.secrets)?;
    let realtime = Realtime::configured(&state);
    let worker = Arc::new(Worker { state, provider, realtime, lease_seconds: LEASE_SECONDS });
    // Two triggers: the queue's batches, and the schedule that sweeps the outbox.
    let invocations = Invocations::default();
    lambda_runtime::run(service_fn(|event: LambdaEvent<Value>| {
        let worker = worker.clone();
        let call = Call::of(&event.context, &invocations);
        async move { worker.invoke(Invocation::of(event.payload)?, call).await }
    }))
    .await
}
