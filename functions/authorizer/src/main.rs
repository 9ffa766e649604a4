use lambda_runtime::{LambdaEvent, service_fn};
use store::AppState;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    store::logging::init();
    let state = AppState::from_env().await?;
    lambda_runtime::run(service_fn(|event: LambdaEvent<_>| toolbox_authorizer::handle(&state, event.payload))).await
}
