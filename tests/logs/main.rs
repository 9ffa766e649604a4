//! The log stream: secrets never reach a line (passwords, tokens, invite
//! tokens), and what an operator needs does (see `telemetry`).
//!
//! A binary of its own: it installs the process's global subscriber, which
//! would otherwise capture (and race with) every other test.

#[path = "../api/helpers.rs"]
#[allow(dead_code)]
mod helpers;
mod telemetry;

use axum::http::StatusCode;
use serde_json::json;
use store::logging::Captured;

use helpers::{TestApp, unique_email};

/// Every log line of this process, at the level deployments use.
fn capture() -> Captured {
    store::logging::capture("info,toolbox=debug")
}

#[tokio::test]
async fn no_secret_of_a_whole_session_appears_in_the_logs() {
    let capture = capture();

    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    app.login(&admin.email, "a-wrong-password-9").await.expect(StatusCode::UNAUTHORIZED, None);
    let login = app.login(&admin.email, &admin.password).await;
    let refreshed = app.post("/api/v1/auth/refresh").json(json!({"refresh_token": admin.refresh_token})).send().await;
    refreshed.expect(StatusCode::OK, None);
    // A reuse, which is logged as a warning.
    app.post("/api/v1/auth/refresh").json(json!({"refresh_token": admin.refresh_token})).send().await;
    // The reuse ended the registration session; carry on in the login's.
    let login_access = login.data()["access_token"].as_str().unwrap();
    let signed_in = helpers::Account { access_token: login_access.to_owned(), ..admin.clone() };
    let email = unique_email("logged");
    let invite = app.invite(&signed_in, &email, "teacher").await;
    let joined = app
        .post("/api/v1/auth/register")
        .json(json!({"email": email, "password": "joiner-secret-pw", "first_name": "J", "last_name": "O", "invite_token": invite}))
        .send()
        .await;
    joined.expect(StatusCode::CREATED, None);
    app.post("/api/v1/auth/password")
        .bearer(login_access)
        .json(json!({"current_password": admin.password, "new_password": "the-next-secret-pw"}))
        .send()
        .await
        .expect(StatusCode::OK, None);

    let logs = capture.text();
    assert!(
        logs.contains("request finished") && logs.contains("refresh token reuse"),
        "the logs were not captured: {}",
        &logs[..logs.len().min(3000)]
    );
    let secrets = [
        admin.password.as_str(),
        "a-wrong-password-9",
        "joiner-secret-pw",
        "the-next-secret-pw",
        admin.refresh_token.rsplit('.').next().unwrap(),
        refreshed.data()["refresh_token"].as_str().unwrap().rsplit('.').next().unwrap(),
        login.data()["refresh_token"].as_str().unwrap().rsplit('.').next().unwrap(),
        admin.access_token.rsplit('.').next().unwrap(),
        login_access.rsplit('.').next().unwrap(),
        invite.trim_start_matches("inv_"),
        "$argon2id$",
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret is in the logs: {secret}");
    }
}

#[tokio::test]
async fn no_api_key_secret_appears_in_the_logs() {
    let capture = capture();

    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let plain = app.create_api_key(&admin, json!({"name": "plain", "scopes": ["read"]})).await;
    let signed =
        app.create_api_key(&admin, json!({"name": "signed", "scopes": ["read"], "require_signature": true})).await;
    app.get("/api/v1/organizations/current").api_key(&plain.key).send().await.expect(StatusCode::OK, None);
    // A wrong secret under a real prefix, which is refused.
    let prefix = plain.key.split('_').nth(1).unwrap();
    let wrong = format!("tbx_{prefix}_{}", "W".repeat(40));
    app.get("/api/v1/organizations/current").api_key(&wrong).send().await.expect(StatusCode::UNAUTHORIZED, None);
    let rotated = app.post(&format!("/api/v1/api-keys/{}/rotate", signed.id)).bearer(&admin.access_token).send().await;
    rotated.expect(StatusCode::OK, None);
    // Unsigned: refused.
    app.get("/api/v1/organizations/current").api_key(&signed.key).send().await.expect(StatusCode::UNAUTHORIZED, None);

    let logs = capture.text();
    assert!(logs.contains("api key created") && logs.contains("api key rotated"), "the logs were not captured");
    let secret_of = |key: &str| key.rsplit('_').next().unwrap().to_owned();
    let secrets = [
        secret_of(&plain.key),
        secret_of(&signed.key),
        secret_of(rotated.data()["key"].as_str().unwrap()),
        signed.signing_secret.clone().unwrap(),
        rotated.data()["signing_secret"].as_str().unwrap().to_owned(),
        "W".repeat(40),
    ];
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret is in the logs: {secret}");
    }
}

#[tokio::test]
async fn every_worker_log_line_of_a_job_carries_the_request_id_of_the_call_that_asked_for_it() {
    let capture = capture();

    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let request_id = format!("corr-{}", domain::ids::JobId::new());
    let accepted = app
        .post("/api/v1/content/generate")
        .bearer(&admin.access_token)
        .header("x-request-id", &request_id)
        .json(json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"}))
        .send()
        .await;
    accepted.expect(StatusCode::ACCEPTED, None);
    let job_id = accepted.data()["job_id"].as_str().unwrap().to_owned();
    let job: domain::job::Job = app.state.db.get(&admin.tenant().job(&job_id.parse().unwrap())).await.unwrap().unwrap();
    let worker = app.worker(integrations::generation::template::TemplateProvider);
    let batch = helpers::sqs_event(&[("m1", serde_json::to_string(&job.message()).unwrap(), 1)]);
    assert!(worker.handle(batch).await.batch_item_failures.is_empty());

    let logs = capture.text();
    let lines: Vec<&str> = logs.lines().filter(|line| line.contains(&job_id)).collect();
    assert!(lines.iter().any(|l| l.contains("job claimed")) && lines.iter().any(|l| l.contains("job succeeded")));
    for line in &lines {
        assert!(line.contains(&request_id), "a log line of the job lacks its request id: {line}");
    }
}
