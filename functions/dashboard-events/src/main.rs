use aws_lambda_events::dynamodb::Event;
use integrations::pusher::Realtime;
use lambda_runtime::{LambdaEvent, service_fn};
use store::logging::Invocations;
use toolbox_dashboard_events::Announcer;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    store::logging::init();
    let state = store::AppState::from_env().await?;
    let announcer = Announcer { realtime: Realtime::configured(&state), state };
    let (announcer, invocations) = (&announcer, &Invocations::default());
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async move {
        let correlation = invocations.begin(&event.context);
        // Boxed: the handler's future is too deep to nest further on the stack type.
        correlation.run(Box::pin(announcer.handle(event.payload))).await;
        Ok::<(), lambda_runtime::Error>(())
    }))
    .await
}
