//! Limits: the usage plans and stage throttles of `template.yaml` as
//! `toolbox-local` applies them, a tier change moving a tenant's usage key,
//! and the business quota on invites.

use integrations::usage_plans::UsagePlans;
use std::sync::Arc;
use store::db::KeyItem;

use axum::http::StatusCode;
use domain::clock::ManualClock;
use domain::organization::{Organization, Tier};
use serde_json::json;
use toolbox_local::throttle::{Limits, Period, Quota, Rate};
use web::http::{X_RATELIMIT_LIMIT, X_RATELIMIT_REMAINING, X_RATELIMIT_RESET};

use crate::helpers::{Account, TestApp, TestResponse, stack, unique_email};

const ORG: &str = "/api/v1/organizations/current";

fn free_plan(limits: &Limits) -> toolbox_local::throttle::Plan {
    limits.plan_for_tier(&stack_template(), "free").expect("a free plan").1.clone()
}

fn stack_template() -> toolbox_local::template::Template {
    toolbox_local::template::Template::workspace().unwrap()
}

fn retry_after(response: &TestResponse) -> u64 {
    response.headers["retry-after"].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn a_burst_over_the_free_plan_gets_429_with_retry_after_per_tenant() {
    let clock = Arc::new(ManualClock::default());
    let app = TestApp::spawn_gated(clock.clone(), |_| {}).await;
    let limits = Limits::from_template(&stack().await.template).unwrap();
    let rate = free_plan(&limits).throttle.expect("the free plan has a throttle");
    let a = app.register_org().await;
    let b = app.register_org().await;

    for _ in 0..rate.burst {
        app.get(ORG).bearer(&a.access_token).send().await.expect(StatusCode::OK, None);
    }
    let refused = app.get(ORG).bearer(&a.access_token).send().await;
    refused.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    assert_eq!(retry_after(&refused), (1.0 / rate.rate).ceil().max(1.0) as u64);
    assert!(refused.headers.contains_key("x-request-id"));

    // Limits are per tenant, not per tier: B still has its whole burst.
    app.get(ORG).bearer(&b.access_token).send().await.expect(StatusCode::OK, None);

    // The bucket refills at the plan's rate.
    clock.advance_millis((1000.0 / rate.rate).ceil() as i64);
    app.get(ORG).bearer(&a.access_token).send().await.expect(StatusCode::OK, None);
    app.get(ORG).bearer(&a.access_token).send().await.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
}

#[tokio::test]
async fn an_api_key_counts_against_its_tenants_plan() {
    let clock = Arc::new(ManualClock::default());
    let app = TestApp::spawn_gated(clock.clone(), |_| {}).await;
    let limits = Limits::from_template(&stack().await.template).unwrap();
    let burst = free_plan(&limits).throttle.unwrap().burst;
    let admin = app.register_org().await;
    let key = app.create_api_key(&admin, json!({"name": "burst", "scopes": ["read"]})).await;
    // Creating the key took one token of the tenant's bucket.
    for _ in 1..burst {
        app.get(ORG).api_key(&key.key).send().await.expect(StatusCode::OK, None);
    }
    app.get(ORG).api_key(&key.key).send().await.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    app.get(ORG).bearer(&admin.access_token).send().await.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
}

#[tokio::test]
async fn the_plan_quota_ends_the_period_with_429_until_it_renews() {
    let clock = Arc::new(ManualClock::default());
    let app = TestApp::spawn_gated(clock.clone(), |limits| {
        let free = limits.plans.get_mut("FreeUsagePlan").expect("FreeUsagePlan");
        free.quota = Some(Quota { limit: 3, period: Period::Day });
    })
    .await;
    let admin = app.register_org().await;
    for _ in 0..3 {
        app.get(ORG).bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
    }
    let refused = app.get(ORG).bearer(&admin.access_token).send().await;
    refused.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    let wait = retry_after(&refused);
    assert!((1..=86_400).contains(&wait), "retry after {wait}s, within the day");
    clock.advance_millis(wait as i64 * 1000);
    app.get(ORG).bearer(&admin.access_token).send().await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn public_routes_meet_only_their_stage_throttle() {
    let clock = Arc::new(ManualClock::default());
    // The template's ceiling is hundreds a second: a burst of five shows the
    // same gate at work without hashing a thousand passwords.
    let login = Rate { rate: 1.0, burst: 5 };
    let app = TestApp::spawn_gated(clock.clone(), |limits| {
        limits.stage_methods.insert("/api/v1/auth/login/POST".into(), login);
    })
    .await;
    for _ in 0..login.burst {
        app.post("/api/v1/auth/login")
            .json(json!({"email": unique_email("nobody"), "password": "not-the-password"}))
            .send()
            .await
            .expect(StatusCode::UNAUTHORIZED, None);
    }
    let refused = app
        .post("/api/v1/auth/login")
        .json(json!({"email": unique_email("nobody"), "password": "not-the-password"}))
        .send()
        .await;
    refused.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    // Health has no throttle of its own.
    for _ in 0..50 {
        app.get("/api/v1/health/live").send().await.expect(StatusCode::OK, None);
    }
}

async fn organization(app: &TestApp, account: &Account) -> Organization {
    app.state.db.get(&account.tenant().organization()).await.unwrap().unwrap()
}

#[tokio::test]
async fn each_organization_gets_its_own_usage_key_and_a_tier_change_moves_it() {
    let app = TestApp::spawn().await;
    let a = app.register_org().await;
    let b = app.register_org().await;
    let (org_a, org_b) = (organization(&app, &a).await, organization(&app, &b).await);
    let key = org_a.usage_key.clone().expect("a usage key at sign-up");
    assert_ne!(Some(&key), org_b.usage_key.as_ref(), "limits are per tenant, so keys are too");
    let plans = UsagePlans::of(&app.state);
    assert_eq!(plans.tiers_of(&key).await.unwrap(), vec![Tier::Free]);
    // The org view never shows the usage key.
    let shown = app.get(ORG).bearer(&a.access_token).send().await;
    assert!(!shown.text.contains(&key.value));

    let changed =
        integrations::usage_plans::change_tier(&app.state, &a.tenant(), Tier::Pro, &a.user_id.parse().unwrap())
            .await
            .unwrap();
    assert_eq!(changed.tier, Tier::Pro);
    assert_eq!(changed.audit.version, org_a.audit.version + 1);
    assert_eq!(plans.tiers_of(&key).await.unwrap(), vec![Tier::Pro]);
    assert_eq!(app.get(ORG).bearer(&a.access_token).send().await.data()["tier"], "pro");
    // B is where it was.
    assert_eq!(plans.tiers_of(org_b.usage_key.as_ref().unwrap()).await.unwrap(), vec![Tier::Free]);
}

#[tokio::test]
async fn an_organization_without_a_usage_key_gets_one_at_its_next_login() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    // As an organisation registered before usage plans existed would be.
    app.state
        .aws
        .dynamodb
        .update_item()
        .table_name(&app.state.config.table_name)
        .set_key(Some(admin.tenant().organization().to_item()))
        .update_expression("REMOVE usage_key")
        .send()
        .await
        .unwrap();
    assert!(organization(&app, &admin).await.usage_key.is_none());
    app.login(&admin.email, &admin.password).await.expect(StatusCode::OK, None);
    let healed = organization(&app, &admin).await.usage_key.expect("a usage key after login");
    assert_eq!(UsagePlans::of(&app.state).tiers_of(&healed).await.unwrap(), vec![Tier::Free]);
    // A second login keeps that key.
    app.login(&admin.email, &admin.password).await.expect(StatusCode::OK, None);
    assert_eq!(organization(&app, &admin).await.usage_key, Some(healed));
}

fn header_number(response: &TestResponse, name: &axum::http::HeaderName) -> i64 {
    response.headers[name].to_str().unwrap().parse().unwrap()
}

#[tokio::test]
async fn the_invite_quota_counts_per_user_and_answers_429_with_rate_limit_headers() {
    let app = TestApp::spawn_with(|config| config.invites_per_minute = 3).await;
    // One minute window for every invite below until the test moves on:
    // across a minute boundary the counts would start afresh part-way.
    app.clock.freeze();
    let admin = app.register_org().await;
    let other_admin = app.member(&admin, "admin").await;
    let invite = |account: &Account| {
        app.post("/api/v1/organizations/current/invites")
            .bearer(&account.access_token)
            .json(json!({"email": unique_email("quota"), "role": "teacher"}))
            .send()
    };
    // `member` used one of the first admin's invites.
    let mut remaining = Vec::new();
    for _ in 0..2 {
        let response = invite(&admin).await;
        response.expect(StatusCode::CREATED, None);
        assert_eq!(header_number(&response, &X_RATELIMIT_LIMIT), 3);
        remaining.push(header_number(&response, &X_RATELIMIT_REMAINING));
    }
    assert_eq!(remaining, vec![1, 0]);
    let refused = invite(&admin).await;
    refused.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    assert_eq!(header_number(&refused, &X_RATELIMIT_REMAINING), 0);
    let reset = header_number(&refused, &X_RATELIMIT_RESET);
    let wait = retry_after(&refused) as i64;
    let now = app.state.now().unix_timestamp();
    assert!((1..=60).contains(&wait) && reset - now <= 60 && reset % 60 == 0, "wait {wait}, reset {reset}, now {now}");
    // Another user has a count of their own.
    invite(&other_admin).await.expect(StatusCode::CREATED, None);
    // The next window starts afresh.
    app.clock.advance(wait);
    invite(&admin).await.expect(StatusCode::CREATED, None);
}

#[tokio::test]
async fn concurrent_requests_never_exceed_the_quota() {
    let app = Arc::new(TestApp::spawn_with(|config| config.invites_per_minute = 4).await);
    let admin = app.register_org().await;
    // `member` is not used, so the admin's count is still 0; align to a
    // fresh window so all eight land in the same one.
    let now = app.state.now().unix_timestamp();
    app.clock.advance(60 - now.rem_euclid(60));
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (app, token) = (app.clone(), admin.access_token.clone());
        tasks.spawn(async move {
            app.post("/api/v1/organizations/current/invites")
                .bearer(&token)
                .json(json!({"email": unique_email("race"), "role": "student"}))
                .send()
                .await
                .status
        });
    }
    let statuses = tasks.join_all().await;
    let created = statuses.iter().filter(|s| **s == StatusCode::CREATED).count();
    let limited = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((created, limited), (4, 4), "{statuses:?}");
}

#[tokio::test]
async fn the_web_acl_limits_each_address_on_the_public_routes_and_no_other() {
    let clock = Arc::new(ManualClock::default());
    // The template's rules, with the login rule made small enough to reach.
    let app = TestApp::spawn_gated(clock.clone(), |limits| {
        for rule in &mut limits.per_address {
            if rule.path.ends_with("/auth/login") {
                rule.limit = 3;
                rule.window_seconds = 60;
            }
        }
    })
    .await;
    let account = app.register_org().await;
    let login = |ip: &str, password: &str| {
        app.post("/api/v1/auth/login")
            .header(toolbox_local::LOCAL_SOURCE_IP, ip)
            .json(json!({"email": account.email, "password": password}))
    };
    for _ in 0..3 {
        login("198.51.100.40", "wrong-password-1").send().await.expect(StatusCode::UNAUTHORIZED, None);
    }
    // The fourth from that address is refused before any password is checked.
    let refused = login("198.51.100.40", &account.password).send().await;
    refused.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    assert_eq!(retry_after(&refused), 60);
    // Another address, and another route from the same one, are not limited.
    login("198.51.100.41", &account.password).send().await.expect(StatusCode::OK, None);
    app.get("/api/v1/health")
        .header(toolbox_local::LOCAL_SOURCE_IP, "198.51.100.40")
        .send()
        .await
        .expect(StatusCode::OK, None);
    // The peer address counts the same as the local header.
    for _ in 0..3 {
        app.post("/api/v1/auth/login")
            .peer_ip("198.51.100.42")
            .json(json!({"email": "x@example.com", "password": "whatever-pass"}))
            .send()
            .await
            .expect(StatusCode::UNAUTHORIZED, None);
    }
    app.post("/api/v1/auth/login")
        .peer_ip("198.51.100.42")
        .json(json!({"email": "x@example.com", "password": "whatever-pass"}))
        .send()
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    // The window slides: once the first requests leave it, the address may try again.
    clock.advance_millis(61_000);
    login("198.51.100.40", &account.password).send().await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn the_web_acl_covers_login_register_and_refresh_and_is_associated_with_the_stage() {
    let template = stack_template();
    let limits = Limits::from_template(&template).unwrap();
    let mut covered: Vec<(&str, &str)> =
        limits.per_address.iter().map(|rule| (rule.method.as_str(), rule.path.as_str())).collect();
    covered.sort();
    assert_eq!(
        covered,
        [("POST", "/api/v1/auth/login"), ("POST", "/api/v1/auth/refresh"), ("POST", "/api/v1/auth/register")]
    );
    for rule in &limits.per_address {
        assert!(rule.limit >= 10 && [60, 120, 300, 600].contains(&rule.window_seconds), "{rule:?}: WAF's bounds");
    }
    // The stage throttles stay as the ceiling over every address, above a
    // district's sign-in wave (docs/scale.md: 50,000 in 15 minutes).
    let login = limits.stage_methods["/api/v1/auth/login/POST"];
    assert!(login.rate * 900.0 >= 50_000.0 && login.burst as f64 >= login.rate, "{login:?}");
    let (acl, declared) = template.resources_of_type("AWS::WAFv2::WebACL").next().expect("a web ACL");
    // WAF answers before API Gateway: its 429 must carry what a browser and a client need.
    let rules = declared.get("Properties").and_then(|p| p.get("Rules")).and_then(|r| r.as_sequence()).unwrap();
    for rule in rules {
        let response = format!("{:?}", rule.get("Action").unwrap());
        assert!(response.contains("Retry-After") && response.contains("Access-Control-Allow-Origin"), "{response}");
    }
    let (_, association) = template.resources_of_type("AWS::WAFv2::WebACLAssociation").next().expect("an association");
    let properties = format!("{:?}", association.get("Properties").unwrap());
    assert!(properties.contains(&format!("{acl}.Arn")) && properties.contains("Api.Stage"), "{properties}");
}
