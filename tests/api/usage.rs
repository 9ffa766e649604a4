//! `GET /organizations/current/usage`: the organization's requests, counted
//! by the authorizer, against its tier's usage plan, with warnings near the
//! quota; admins only, and nothing of another tenant's.

use aws_sdk_apigateway::types::{QuotaPeriodType, QuotaSettings};
use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Account, TestApp};

const USAGE: &str = "/api/v1/organizations/current/usage";

async fn usage(app: &TestApp, admin: &Account) -> Value {
    let response = app.get(USAGE).bearer(&admin.access_token).send().await;
    response.expect(StatusCode::OK, None);
    response.data().clone()
}

#[tokio::test]
async fn an_admin_sees_the_requests_of_the_day_and_month_against_the_tiers_plan() {
    let app = TestApp::spawn().await;
    // Counts are by UTC day: a test running over midnight stays on one.
    app.clock.freeze();
    let admin = app.register_org().await;
    let before = usage(&app, &admin).await;
    assert_eq!(before["tier"], "free");
    // The free plan of template.yaml, as API Gateway holds it.
    assert_eq!(
        before["plan"],
        json!({"rate_limit": 10.0, "burst_limit": 20, "quota": {"limit": 10000, "period": "DAY"}})
    );
    assert_eq!(before["generation"]["per_user_per_minute"], app.state.config.generations_per_minute);
    for _ in 0..4 {
        app.get("/api/v1/organizations/current").bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
    }
    let after = usage(&app, &admin).await;
    // Four reads and the first usage read itself.
    let moved = |field: &str| after["requests"][field].as_u64().unwrap() - before["requests"][field].as_u64().unwrap();
    assert_eq!((moved("today"), moved("this_month"), moved("quota_used")), (5, 5, 5));
    let used = after["requests"]["quota_used"].as_u64().unwrap();
    assert_eq!(after["requests"]["quota_remaining"], 10000 - used);
    let tomorrow = domain::day::Day::of(app.state.now()).plus(1);
    assert_eq!(after["requests"]["quota_resets_at"], format!("{tomorrow}T00:00:00Z"));
    assert_eq!(after["warnings"], json!([]));
}

#[tokio::test]
async fn another_organizations_requests_never_count_toward_this_one() {
    let app = TestApp::spawn().await;
    app.clock.freeze();
    let (ours, theirs) = (app.register_org().await, app.register_org().await);
    let before = usage(&app, &ours).await["requests"]["today"].as_u64().unwrap();
    for _ in 0..3 {
        app.get("/api/v1/organizations/current").bearer(&theirs.access_token).send().await.expect(StatusCode::OK, None);
    }
    let after = usage(&app, &ours).await["requests"]["today"].as_u64().unwrap();
    assert_eq!(after, before + 1, "only our own usage read");
}

#[tokio::test]
async fn only_admins_see_the_usage() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    for role in ["teacher", "student", "parent"] {
        let member = app.member(&admin, role).await;
        app.get(USAGE).bearer(&member.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    app.get(USAGE).send().await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    let read_only = app.create_api_key(&admin, json!({"name": "reader", "scopes": ["read"]})).await;
    app.get(USAGE).api_key(&read_only.key).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let admin_key = app.create_api_key(&admin, json!({"name": "ops", "scopes": ["read", "admin"]})).await;
    app.get(USAGE).api_key(&admin_key.key).send().await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn a_quota_near_its_end_warns_and_a_spent_one_says_so() {
    // A free plan of ten requests a day, under a name of this test's own.
    let plan = format!("toolbox-test-tiny-{}", ulid::Ulid::new().to_string().to_lowercase());
    let apigateway = aws_sdk_apigateway::Client::new(&store::aws::load_sdk_config().await);
    let quota = QuotaSettings::builder().limit(10).period(QuotaPeriodType::Day).build();
    apigateway.create_usage_plan().name(&plan).quota(quota).send().await.expect("the plan is made");
    let app = TestApp::spawn_with(|config| config.usage_plans.free = plan.clone()).await;
    app.clock.freeze();
    let admin = app.register_org().await;
    let first = usage(&app, &admin).await;
    assert_eq!(
        first["plan"],
        json!({"rate_limit": null, "burst_limit": null, "quota": {"limit": 10, "period": "DAY"}})
    );
    let used = first["requests"]["quota_used"].as_u64().unwrap();
    assert!(used < 8, "registering took {used} of the ten");
    for _ in used..7 {
        app.get("/api/v1/organizations/current").bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
    }
    let near = usage(&app, &admin).await;
    assert_eq!(near["requests"]["quota_used"], 8);
    assert_eq!(near["warnings"][0]["code"], "requests_near_quota");
    assert_eq!(near["warnings"][0]["percent_used"], 80);
    app.get("/api/v1/organizations/current").bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
    let spent = usage(&app, &admin).await;
    assert_eq!(
        (spent["requests"]["quota_used"].as_u64(), spent["requests"]["quota_remaining"].as_u64()),
        (Some(10), Some(0))
    );
    assert_eq!(
        spent["warnings"],
        json!([{"code": "requests_quota_reached", "percent_used": 100,
        "message": "this day's 10 requests are used: API Gateway answers 429 until it ends"}])
    );
}

#[tokio::test]
async fn yesterdays_requests_count_toward_the_month_and_not_today() {
    let app = TestApp::spawn().await;
    app.clock.freeze();
    let admin = app.register_org().await;
    // Tokens are signed by the real clock: a key is the caller after the day moves.
    let key = app.create_api_key(&admin, json!({"name": "ops", "scopes": ["read", "admin"]})).await;
    let yesterday = app.get(USAGE).api_key(&key.key).send().await;
    yesterday.expect(StatusCode::OK, None);
    let yesterday = yesterday.data()["requests"].clone();
    let day = domain::day::Day::of(app.state.now());
    app.clock.advance(24 * 3600);
    let today = app.get(USAGE).api_key(&key.key).send().await;
    today.expect(StatusCode::OK, None);
    let today = &today.data()["requests"];
    assert_eq!((today["today"].as_u64(), today["quota_used"].as_u64()), (Some(1), Some(1)));
    let same_month = day.month_start() == day.plus(1).month_start();
    let month = if same_month { yesterday["this_month"].as_u64().unwrap() + 1 } else { 1 };
    assert_eq!(today["this_month"], month);
}
