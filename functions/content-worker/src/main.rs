use std::sync::Arc;

use lambda_runtime::{LambdaEvent, service_fn};
use toolbox::pusher::{PusherConfig, Realtime};
use toolbox_content_worker::Worker;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    toolbox::logging::init();
    let state = toolbox::AppState::from_env().await?;
    let provider =
        toolbox::generation::setup::provider_from(|name| std::env::var(name).ok(), &state.aws.secrets).await?;
    let realtime = Realtime::new(PusherConfig::from_source(|name| std::env::var(name).ok()));
    let worker = Arc::new(Worker { state, provider, realtime, lease_seconds: 120 });
    lambda_runtime::run(service_fn(|event: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, lambda_runtime::Error>(worker.handle(event.payload).await) }
    }))
    .await
}
