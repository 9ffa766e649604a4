//! Registration, login, me, lockout.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, TestResponse, unique_email};

#[tokio::test]
async fn registering_creates_an_organization_with_its_first_admin() {
    let app = TestApp::spawn().await;
    let email = unique_email("founder");
    let response = app
        .post("/api/v1/auth/register")
        .json(json!({
            "email": email.to_uppercase(), "password": "a-long-password", "username": format!("u{}", &ulid::Ulid::new().to_string()[16..]),
            "first_name": "Grace", "last_name": "Hopper", "organization_name": "Hopper Academy",
        }))
        .send()
        .await;
    response.expect(StatusCode::CREATED, None);
    let data = response.data();
    assert_eq!(data["token_type"], "bearer");
    assert_eq!(data["expires_in"], 900);
    assert_eq!(data["user"]["role"], "admin");
    assert_eq!(data["user"]["email"], email, "emails are stored lowercased");
    assert!(data["user"].get("password_hash").is_none());

    let token = data["access_token"].as_str().unwrap();
    let org = app.get("/api/v1/organizations/current").bearer(token).send().await;
    org.expect(StatusCode::OK, None);
    assert_eq!(org.data()["name"], "Hopper Academy");
    assert_eq!(org.data()["id"], data["user"]["organization_id"]);
}

#[tokio::test]
async fn a_taken_email_is_a_conflict_and_the_first_account_is_untouched() {
    let app = TestApp::spawn().await;
    let first = app.register_org().await;
    let before = app.raw_item(&first.tenant().user(&first.user_id.parse().unwrap())).await;
    let response = app
        .post("/api/v1/auth/register")
        .json(json!({
            "email": first.email, "password": "another-password", "first_name": "Eve", "last_name": "Imposter",
            "organization_name": "Evil Org",
        }))
        .send()
        .await;
    response.expect(StatusCode::CONFLICT, Some("conflict"));
    assert_eq!(app.raw_item(&first.tenant().user(&first.user_id.parse().unwrap())).await, before);
    app.login(&first.email, &first.password).await.expect(StatusCode::OK, None);
    app.login(&first.email, "another-password").await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
}

#[tokio::test]
async fn a_taken_username_is_a_conflict() {
    let app = TestApp::spawn().await;
    let username = format!("user{}", &ulid::Ulid::new().to_string()[16..].to_lowercase());
    let register = |email: String| {
        json!({
            "email": email, "password": "a-long-password", "username": username, "first_name": "A", "last_name": "B",
            "organization_name": "Org",
        })
    };
    app.post("/api/v1/auth/register").json(register(unique_email("a"))).send().await.expect(StatusCode::CREATED, None);
    let response = app.post("/api/v1/auth/register").json(register(unique_email("b"))).send().await;
    response.expect(StatusCode::CONFLICT, Some("conflict"));
    assert!(response.body["error"]["message"].as_str().unwrap().contains("username"));
}

#[tokio::test]
async fn registering_needs_exactly_one_of_organization_or_invite() {
    let app = TestApp::spawn().await;
    for extra in [json!({}), json!({"organization_name": "Org", "invite_token": "inv_x"})] {
        let mut body =
            json!({"email": unique_email("x"), "password": "a-long-password", "first_name": "A", "last_name": "B"});
        body.as_object_mut().unwrap().extend(extra.as_object().unwrap().clone());
        let response = app.post("/api/v1/auth/register").json(body).send().await;
        response.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(response.body["error"]["details"][0]["field"], "organization_name");
    }
}

#[tokio::test]
async fn field_rules_are_reported_per_field() {
    let app = TestApp::spawn().await;
    let cases = [
        (
            "email",
            json!({"email": "not-an-email", "password": "a-long-password", "first_name": "A", "last_name": "B", "organization_name": "Org"}),
        ),
        (
            "password",
            json!({"email": unique_email("p"), "password": "short", "first_name": "A", "last_name": "B", "organization_name": "Org"}),
        ),
        (
            "password",
            json!({"email": unique_email("p"), "password": "x".repeat(129), "first_name": "A", "last_name": "B", "organization_name": "Org"}),
        ),
        (
            "first_name",
            json!({"email": unique_email("p"), "password": "a-long-password", "first_name": " ", "last_name": "B", "organization_name": "Org"}),
        ),
        (
            "username",
            json!({"email": unique_email("p"), "password": "a-long-password", "username": "has@sign", "first_name": "A", "last_name": "B", "organization_name": "Org"}),
        ),
    ];
    for (field, body) in cases {
        let response = app.post("/api/v1/auth/register").json(body).send().await;
        response.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(response.body["error"]["details"][0]["field"], field, "{}", response.text);
    }
}

#[tokio::test]
async fn login_works_by_email_and_by_username() {
    let app = TestApp::spawn().await;
    let email = unique_email("both");
    let username = format!("both{}", &ulid::Ulid::new().to_string()[18..].to_lowercase());
    app.post("/api/v1/auth/register")
        .json(json!({
            "email": email, "password": "a-long-password", "username": username, "first_name": "A", "last_name": "B",
            "organization_name": "Org",
        }))
        .send()
        .await
        .expect(StatusCode::CREATED, None);
    let by_email = app.login(&email.to_uppercase(), "a-long-password").await;
    by_email.expect(StatusCode::OK, None);
    let by_name =
        app.post("/api/v1/auth/login").json(json!({"username": username, "password": "a-long-password"})).send().await;
    by_name.expect(StatusCode::OK, None);
    assert_eq!(by_email.data()["user"]["id"], by_name.data()["user"]["id"]);
    assert_ne!(by_email.data()["refresh_token"], by_name.data()["refresh_token"], "each login is its own session");
}

#[tokio::test]
async fn unknown_user_and_wrong_password_get_the_same_answer() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let wrong = app.login(&account.email, "wrong-password-1").await;
    let unknown = app.login(&unique_email("nobody"), "wrong-password-1").await;
    wrong.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    unknown.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    assert_eq!(wrong.body["error"], unknown.body["error"]);
}

#[tokio::test]
async fn me_returns_the_caller() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let me = app.get("/api/v1/auth/me").bearer(&account.access_token).send().await;
    me.expect(StatusCode::OK, None);
    assert_eq!(me.data()["id"], account.user_id.as_str());
    assert_eq!(me.data()["email"], account.email.as_str());
    assert_eq!(me.data()["organization_id"], account.org_id.as_str());
    assert_eq!(me.body["metadata"]["request_id"], me.headers["x-request-id"].to_str().unwrap());
}

#[tokio::test]
async fn a_sane_request_id_is_echoed_and_an_unsafe_one_replaced() {
    let app = TestApp::spawn().await;
    let kept = app.get("/api/v1/health").header("x-request-id", "client-abc-123").send().await;
    assert_eq!(kept.headers["x-request-id"], "client-abc-123");
    assert_eq!(kept.body["metadata"]["request_id"], "client-abc-123");
    let replaced = app.get("/api/v1/health").header("x-request-id", "has spaces<script>").send().await;
    assert_ne!(replaced.headers["x-request-id"], "has spaces<script>");
    assert_eq!(replaced.body["metadata"]["request_id"], replaced.headers["x-request-id"].to_str().unwrap());
}

async fn login_from(app: &TestApp, ip: &str, email: &str, password: &str) -> TestResponse {
    app.post("/api/v1/auth/login").peer_ip(ip).json(json!({"email": email, "password": password})).send().await
}

#[tokio::test]
async fn wrong_passwords_lock_out_only_the_address_they_came_from_then_it_unlocks() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let limit = app.state.config.login_max_failures;
    for _ in 0..limit {
        login_from(&app, "198.51.100.7", &account.email, "wrong-password-1")
            .await
            .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    }
    // Locked from there: even the right password is refused, with a clear 429.
    let locked = login_from(&app, "198.51.100.7", &account.email, &account.password).await;
    locked.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    let retry_after: i64 = locked.headers["retry-after"].to_str().unwrap().parse().unwrap();
    assert!(retry_after > 0 && retry_after <= app.state.config.login_lockout_seconds);
    // The owner, elsewhere, is not locked out by someone else's guesses.
    login_from(&app, "203.0.113.20", &account.email, &account.password).await.expect(StatusCode::OK, None);

    app.clock.advance(app.state.config.login_lockout_seconds + 1);
    login_from(&app, "198.51.100.7", &account.email, &account.password).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn an_unknown_account_is_answered_and_locked_exactly_like_a_known_one() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let unknown = unique_email("nobody");
    let limit = app.state.config.login_max_failures as usize;
    let mut answers = Vec::new();
    for email in [&account.email, &unknown] {
        let mut seen = Vec::new();
        for _ in 0..limit + 1 {
            let response = login_from(&app, "198.51.100.8", email, "wrong-password-1").await;
            seen.push((response.status, response.code().to_owned(), response.headers.contains_key("retry-after")));
        }
        answers.push(seen);
    }
    assert_eq!(answers[0], answers[1]);
    assert_eq!(answers[0][limit].0, StatusCode::TOO_MANY_REQUESTS);
}

#[tokio::test]
async fn guesses_from_many_addresses_lock_the_account_for_everyone() {
    let app = TestApp::spawn_with(|config| config.login_max_account_failures = 6).await;
    let account = app.register_org().await;
    for ip in ["198.51.100.1", "198.51.100.2", "198.51.100.3"] {
        for _ in 0..2 {
            login_from(&app, ip, &account.email, "wrong-password-1").await.expect(StatusCode::UNAUTHORIZED, None);
        }
    }
    // No address reached its own limit, but the account reached its own.
    login_from(&app, "203.0.113.9", &account.email, &account.password)
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    app.clock.advance(app.state.config.login_lockout_seconds + 1);
    login_from(&app, "203.0.113.9", &account.email, &account.password).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let limit = app.state.config.login_max_failures;
    for _ in 0..limit - 1 {
        app.login(&account.email, "wrong-password-1").await.expect(StatusCode::UNAUTHORIZED, None);
    }
    app.login(&account.email, &account.password).await.expect(StatusCode::OK, None);
    app.login(&account.email, "wrong-password-1").await.expect(StatusCode::UNAUTHORIZED, None);
    app.login(&account.email, &account.password).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn password_change_guesses_count_towards_the_lockout_of_their_address() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let change = |current: &str| {
        app.post("/api/v1/auth/password")
            .peer_ip("198.51.100.9")
            .bearer(&account.access_token)
            .json(json!({"current_password": current, "new_password": "attacker-password"}))
    };
    for _ in 0..app.state.config.login_max_failures {
        change("a-guessed-password").send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    // Locked from there now, even with the right current password, and for logins too.
    change(&account.password).send().await.expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    login_from(&app, "198.51.100.9", &account.email, &account.password)
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
    login_from(&app, "203.0.113.10", &account.email, &account.password).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn responses_are_json_with_a_charset() {
    let app = TestApp::spawn().await;
    for response in [app.get("/api/v1/health").send().await, app.get("/api/v1/auth/me").send().await] {
        assert_eq!(response.headers["content-type"], "application/json; charset=utf-8");
    }
}

#[tokio::test]
async fn a_burst_of_parallel_guesses_gets_no_more_password_checks_than_the_limit() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let account = app.register_org().await;
    let limit = app.state.config.login_max_failures as usize;
    let mut guesses = tokio::task::JoinSet::new();
    for n in 0..3 * limit {
        let (app, email) = (app.clone(), account.email.clone());
        guesses
            .spawn(async move { login_from(&app, "198.51.100.60", &email, &format!("guess-number-{n}")).await.status });
    }
    let statuses = guesses.join_all().await;
    let checked = statuses.iter().filter(|s| **s == StatusCode::UNAUTHORIZED).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert!(checked <= limit, "{checked} passwords were checked: {statuses:?}");
    assert_eq!(checked + refused, statuses.len(), "{statuses:?}");
    // And the right password from there is refused too, until the lock ends.
    login_from(&app, "198.51.100.60", &account.email, &account.password)
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
}

#[tokio::test]
async fn the_owner_signing_in_does_not_reset_the_count_of_guesses_from_elsewhere() {
    let app = TestApp::spawn_with(|config| config.login_max_account_failures = 6).await;
    let account = app.register_org().await;
    for ip in ["198.51.100.71", "198.51.100.72"] {
        for _ in 0..2 {
            login_from(&app, ip, &account.email, "wrong-password-1").await.expect(StatusCode::UNAUTHORIZED, None);
        }
    }
    login_from(&app, "203.0.113.70", &account.email, &account.password).await.expect(StatusCode::OK, None);
    for _ in 0..2 {
        login_from(&app, "198.51.100.73", &account.email, "wrong-password-1")
            .await
            .expect(StatusCode::UNAUTHORIZED, None);
    }
    // Six failures in the window, whoever signed in between: the account is locked.
    login_from(&app, "203.0.113.70", &account.email, &account.password)
        .await
        .expect(StatusCode::TOO_MANY_REQUESTS, Some("rate_limited"));
}
