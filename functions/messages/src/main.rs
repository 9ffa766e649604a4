#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    toolbox::lambda::run_http(toolbox_messages::router).await
}
