use lambda_runtime::{LambdaEvent, service_fn};
use toolbox_compliance::worker::Worker;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    store::logging::init();
    let worker = std::sync::Arc::new(Worker { state: store::AppState::from_env().await? });
    lambda_runtime::run(service_fn(|event: LambdaEvent<aws_lambda_events::sqs::SqsEvent>| {
        let worker = worker.clone();
        async move { Ok::<_, lambda_runtime::Error>(worker.handle(event.payload).await) }
    }))
    .await
}
