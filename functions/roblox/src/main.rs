#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    web::lambda::run_http(toolbox_roblox::routes).await
}
