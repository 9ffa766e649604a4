use aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest;
use lambda_runtime::{LambdaEvent, service_fn};
use store::AppState;
use store::logging::{Invocations, sane_request_id};

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    store::logging::init();
    let state = AppState::from_env().await?;
    let (state, invocations) = (&state, &Invocations::default());
    lambda_runtime::run(service_fn(|event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>| async move {
        let mut correlation = invocations.begin(&event.context);
        // The request's id as its function will log it: the caller's
        // X-Request-ID when sane, else API Gateway's.
        let header = event.payload.headers.get("x-request-id").and_then(|v| v.to_str().ok());
        let request_id = header.filter(|id| sane_request_id(id)).map(str::to_owned);
        if let Some(request_id) = request_id.or_else(|| event.payload.request_context.request_id.clone()) {
            correlation.request_id = request_id;
        }
        // Boxed: the handler's future is too deep to nest further on the stack type.
        correlation.run(Box::pin(toolbox_authorizer::handle(state, event.payload))).await
    }))
    .await
}
