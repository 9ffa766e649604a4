use std::sync::atomic::{AtomicBool, Ordering};

use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use store::AppState;
use store::logging::Correlation;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    store::logging::init();
    let state = AppState::from_env().await?;
    let warm = AtomicBool::new(false);
    let (state, warm) = (&state, &warm);
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async move {
        let context = &event.context;
        let mut correlation = Correlation::of_invocation(
            &context.request_id,
            &context.env_config.function_name,
            context.xray_trace_id.as_deref(),
            !warm.swap(true, Ordering::Relaxed),
        );
        // API Gateway's id of the request being authorized, as its function logs it.
        if let Some(request_id) = event.payload.request_context.request_id.clone() {
            correlation.request_id = request_id;
        }
        if correlation.cold_start {
            store::metrics::cold_start(&context.env_config.function_name);
        }
        // Boxed: the handler's future is too deep to nest further on the stack type.
        correlation.run(Box::pin(toolbox_authorizer::handle(state, event.payload))).await
    }))
    .await
}
