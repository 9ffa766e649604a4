use axum::http::StatusCode;

use crate::helpers::TestApp;

#[tokio::test]
async fn health_and_liveness_answer_without_credentials() {
    let app = TestApp::spawn().await;
    for path in ["/api/v1/health", "/api/v1/health/live"] {
        let response = app.get(path).send().await;
        response.expect(StatusCode::OK, None);
        assert_eq!(response.data()["status"], "ok");
        assert_eq!(response.body["status"], "success");
        assert!(response.headers.contains_key("x-request-id"));
    }
}

#[tokio::test]
async fn readiness_reports_every_dependency() {
    let app = TestApp::spawn().await;
    let response = app.get("/api/v1/health/ready").send().await;
    response.expect(StatusCode::OK, None);
    let checks = &response.data()["checks"];
    for dependency in ["dynamodb", "sqs", "s3", "secretsmanager"] {
        assert_eq!(checks[dependency]["status"], "ok", "{dependency}: {}", response.text);
    }
}

#[tokio::test]
async fn readiness_is_503_naming_the_missing_table() {
    let app = TestApp::spawn_with(|config| config.table_name = "no-such-table".into()).await;
    let response = app.get("/api/v1/health/ready").send().await;
    response.expect(StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"));
    let message = response.body["error"]["message"].as_str().unwrap();
    assert!(message.contains("dynamodb"), "{message}");
    assert!(!message.contains("sqs") && !message.contains("s3"), "{message}");
    assert!(response.headers.contains_key("retry-after"));
}

#[tokio::test]
async fn readiness_is_503_naming_every_dependency_when_the_endpoint_is_down() {
    let app = TestApp::spawn().await;
    // The same functions, pointed at an endpoint where nothing listens: the
    // state of a stopped moto.
    let sdk = store::aws::sdk_config_loader().endpoint_url("http://127.0.0.1:9").load().await;
    let state = store::AppState::new(
        (*app.state.config).clone(),
        store::aws::AwsClients::new(&sdk),
        std::sync::Arc::new(domain::clock::SystemClock),
    );
    let router = toolbox_health::routes().into_router(state);
    let response = tower::ServiceExt::oneshot(
        router,
        axum::http::Request::get("/api/v1/health/ready").body(axum::body::Body::empty()).unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = http_body_util::BodyExt::collect(response.into_body()).await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&body);
    for dependency in ["dynamodb", "sqs", "s3", "secretsmanager"] {
        assert!(text.contains(dependency), "{dependency} not named in {text}");
    }
}

#[tokio::test]
async fn the_dashboard_origin_gets_cors_headers_and_others_do_not() {
    let app = TestApp::spawn().await;
    let origin = app.state.config.cors_origin.clone().expect("template.yaml gives a CORS origin");
    let preflight = app
        .call(axum::http::Method::OPTIONS, "/api/v1/auth/me")
        .header("origin", &origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
        .await;
    assert!(preflight.status.is_success(), "{}", preflight.status);
    assert_eq!(preflight.headers["access-control-allow-origin"], origin.as_str());
    assert!(preflight.headers["access-control-allow-headers"].to_str().unwrap().contains("authorization"));

    let actual = app.get("/api/v1/health").header("origin", &origin).send().await;
    assert_eq!(actual.headers["access-control-allow-origin"], origin.as_str());
    assert!(actual.headers["access-control-expose-headers"].to_str().unwrap().contains("x-request-id"));
    let foreign = app.get("/api/v1/health").header("origin", "https://evil.example").send().await;
    // The configured origin is named, never the caller's: a browser on
    // another origin refuses the response.
    let allowed = foreign.headers.get("access-control-allow-origin").map(|v| v.to_str().unwrap().to_owned());
    assert_ne!(allowed.as_deref(), Some("https://evil.example"));
}

#[tokio::test]
async fn the_api_describes_itself() {
    let app = TestApp::spawn().await;
    let doc = app.get("/api/v1/openapi.json").send().await;
    doc.expect(StatusCode::OK, None);
    assert_eq!(doc.body["openapi"], "3.1.0");
    assert!(doc.body["paths"]["/api/v1/auth/register"]["post"].is_object());
    assert!(doc.body["components"]["securitySchemes"]["bearer"].is_object());
    assert!(doc.body["components"]["securitySchemes"]["api_key"].is_object());
    let page = app.get("/api/v1/docs").send().await;
    page.expect(StatusCode::OK, None);
    assert!(page.headers["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(page.text.contains("spec-url=\"openapi.json\""));
}
