use std::sync::atomic::{AtomicBool, Ordering};

use aws_lambda_events::dynamodb::Event;
use integrations::pusher::Realtime;
use lambda_runtime::{LambdaEvent, service_fn};
use store::logging::Correlation;
use toolbox_dashboard_events::Announcer;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    store::logging::init();
    let state = store::AppState::from_env().await?;
    let announcer = Announcer { realtime: Realtime::configured(&state), state };
    let (announcer, warm) = (&announcer, &AtomicBool::new(false));
    lambda_runtime::run(service_fn(|event: LambdaEvent<Event>| async move {
        let context = &event.context;
        let correlation = Correlation::of_invocation(
            &context.request_id,
            &context.env_config.function_name,
            context.xray_trace_id.as_deref(),
            !warm.swap(true, Ordering::Relaxed),
        );
        if correlation.cold_start {
            store::metrics::cold_start(&context.env_config.function_name);
        }
        // Boxed: the handler's future is too deep to nest further on the stack type.
        correlation.run(Box::pin(announcer.handle(event.payload))).await;
        Ok::<(), lambda_runtime::Error>(())
    }))
    .await
}
