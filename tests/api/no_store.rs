//! Answers that carry a credential (tokens, an API key and its signing
//! secret, an invite token, a channel signature) tell every cache and proxy
//! not to keep a copy; other answers do not need to.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, TestResponse, pusher, unique_email};

#[track_caller]
fn not_stored(response: &TestResponse, what: &str) {
    assert!(response.status.is_success(), "{what}: {}", response.text);
    assert_eq!(response.headers.get("cache-control").map(|v| v.to_str().unwrap()), Some("no-store"), "{what}");
}

#[tokio::test]
async fn every_answer_that_carries_a_credential_is_no_store() {
    let app = TestApp::spawn_with(|config| config.pusher = Some(pusher("http://127.0.0.1:9"))).await;
    let email = unique_email("nostore");
    let registered = app
        .post("/api/v1/auth/register")
        .json(json!({"email": email, "password": "a-long-password", "first_name": "N", "last_name": "S",
            "organization_name": "No Store School"}))
        .send()
        .await;
    not_stored(&registered, "register");
    let token = registered.data()["access_token"].as_str().unwrap().to_owned();

    let login = app.login(&email, "a-long-password").await;
    not_stored(&login, "login");
    let refresh = login.data()["refresh_token"].as_str().unwrap();
    not_stored(&app.post("/api/v1/auth/refresh").json(json!({"refresh_token": refresh})).send().await, "refresh");

    let key = app
        .post("/api/v1/api-keys")
        .bearer(&token)
        .json(json!({"name": "sis", "scopes": ["read"],
        "require_signature": true}))
        .send()
        .await;
    not_stored(&key, "api key creation");
    let id = key.data()["id"].as_str().unwrap();
    not_stored(&app.post(&format!("/api/v1/api-keys/{id}/rotate")).bearer(&token).send().await, "api key rotation");

    let invite = app
        .post("/api/v1/organizations/current/invites")
        .bearer(&token)
        .json(json!({"email": unique_email("invited"), "role": "teacher"}))
        .send()
        .await;
    not_stored(&invite, "invite");

    let org = registered.data()["user"]["organization_id"].as_str().unwrap();
    let signed = app
        .post("/api/v1/pusher/auth")
        .bearer(&token)
        .raw("application/x-www-form-urlencoded", format!("socket_id=1234.5678&channel_name=private-org-{org}"))
        .send()
        .await;
    not_stored(&signed, "channel signature");

    // An answer without a credential leaves caching to its route.
    let me = app.get("/api/v1/auth/me").bearer(&token).send().await;
    me.expect(StatusCode::OK, None);
    assert_eq!(me.headers.get("cache-control"), None);
}
