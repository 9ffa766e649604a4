use aws_lambda_events::dynamodb::Event;
use integrations::pusher::Realtime;
use lambda_runtime::{LambdaEvent, service_fn};
use toolbox_dashboard_events::Announcer;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    store::logging::init();
    let state = store::AppState::from_env().await?;
    let announcer = Announcer { realtime: Realtime::new(state.config.pusher.clone()), state };
    let announcer = &announcer;
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async move {
        announcer.handle(event.payload).await;
        Ok::<(), lambda_runtime::Error>(())
    }))
    .await
}
