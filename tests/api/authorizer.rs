//! The authorizer refuses every token that is not exactly right, and a
//! suspended organisation.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};
use store::db::KeyItem;

use crate::helpers::{Account, TestApp};

/// The claims of an account's real access token.
fn claims_of(account: &Account) -> Value {
    let payload = account.access_token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap()
}

async fn sign(app: &TestApp, claims: &Value, algorithm: Algorithm) -> String {
    let keys = app.state.key_set().await.unwrap();
    let key = keys.newest();
    let header = Header { kid: Some(key.kid.clone()), ..Header::new(algorithm) };
    jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(key.secret())).unwrap()
}

async fn me(app: &TestApp, token: &str) -> crate::helpers::TestResponse {
    app.get("/api/v1/auth/me").bearer(token).send().await
}

fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

fn with(claims: &Value, changes: Value) -> Value {
    let mut claims = claims.clone();
    for (k, v) in changes.as_object().unwrap() {
        if v.is_null() {
            claims.as_object_mut().unwrap().remove(k);
        } else {
            claims[k] = v.clone();
        }
    }
    claims
}

#[tokio::test]
async fn a_token_signed_here_with_the_real_claims_is_accepted() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let token = sign(&app, &claims_of(&account), Algorithm::HS256).await;
    me(&app, &token).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn malformed_claims_are_refused() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let claims = claims_of(&account);
    let cases = [
        ("expired", json!({"exp": now() - 120, "iat": now() - 1000, "nbf": now() - 1000})),
        ("not yet valid", json!({"nbf": now() + 600})),
        ("wrong issuer", json!({"iss": "someone-else"})),
        ("wrong audience", json!({"aud": "another-api"})),
        ("no exp", json!({"exp": null})),
        ("no iss", json!({"iss": null})),
        ("no aud", json!({"aud": null})),
        ("no session", json!({"sid": null})),
        ("another user", json!({"sub": ulid::Ulid::new().to_string()})),
        ("another org", json!({"org": ulid::Ulid::new().to_string()})),
    ];
    for (case, changes) in cases {
        let token = sign(&app, &with(&claims, changes), Algorithm::HS256).await;
        let response = me(&app, &token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{case}: {}", response.text);
        assert_eq!(response.code(), "unauthenticated", "{case}");
    }
}

#[tokio::test]
async fn forged_tokens_are_refused() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let claims = claims_of(&account);
    let payload = URL_SAFE_NO_PAD.encode(claims.to_string());
    let mut forged = Vec::new();
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = URL_SAFE_NO_PAD.encode(json!({"alg": alg, "typ": "JWT", "kid": "k1"}).to_string());
        forged.push((format!("alg {alg}"), format!("{header}.{payload}.")));
    }
    let wrong_key = jsonwebtoken::encode(
        &Header { kid: Some("k1".into()), ..Header::new(Algorithm::HS256) },
        &claims,
        &EncodingKey::from_secret(b"an-attacker-chosen-key-of-32-bytes!!"),
    )
    .unwrap();
    forged.push(("wrong key".into(), wrong_key));
    let unknown_kid = jsonwebtoken::encode(
        &Header { kid: Some("k999".into()), ..Header::new(Algorithm::HS256) },
        &claims,
        &EncodingKey::from_secret(app.state.key_set().await.unwrap().newest().secret()),
    )
    .unwrap();
    forged.push(("unknown kid".into(), unknown_kid));
    forged.push(("HS512".into(), sign(&app, &claims, Algorithm::HS512).await));
    // The real signature over a changed payload.
    let parts: Vec<&str> = account.access_token.split('.').collect();
    let tampered = URL_SAFE_NO_PAD.encode(with(&claims, json!({"role": "admin", "exp": now() + 86400})).to_string());
    forged.push(("tampered payload".into(), format!("{}.{tampered}.{}", parts[0], parts[2])));
    let padded = with(&claims, json!({"pad": "x".repeat(9000)}));
    forged.push(("over 8 KB".into(), sign(&app, &padded, Algorithm::HS256).await));
    forged.push(("garbage".into(), "not.a.jwt".into()));
    forged.push(("empty".into(), String::new()));

    for (case, token) in forged {
        let response = me(&app, &token).await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{case}: {}", response.text);
        assert_eq!(response.code(), "unauthenticated", "{case}");
    }
    me(&app, &account.access_token).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn only_the_bearer_scheme_is_accepted() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    for header in [format!("Token {}", account.access_token), account.access_token.clone(), "Bearer".into()] {
        app.get("/api/v1/auth/me")
            .header("authorization", &header)
            .send()
            .await
            .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    }
    app.get("/api/v1/auth/me")
        .header("authorization", &format!("bearer {}", account.access_token))
        .send()
        .await
        .expect(StatusCode::OK, None);
}

/// Suspends an organisation the way an operator would: on the item itself.
pub async fn suspend(app: &TestApp, account: &Account) {
    let key = account.tenant().organization();
    app.state
        .aws
        .dynamodb
        .update_item()
        .table_name(&app.state.config.table_name)
        .set_key(Some(key.to_item()))
        .update_expression("SET #status = :suspended")
        .expression_attribute_names("#status", "status")
        .expression_attribute_values(":suspended", aws_sdk_dynamodb::types::AttributeValue::S("suspended".into()))
        .send()
        .await
        .expect("suspend");
}

#[tokio::test]
async fn a_suspended_organization_is_denied_everywhere() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    suspend(&app, &account).await;
    me(&app, &account.access_token).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    app.login(&account.email, &account.password).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    app.post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": account.refresh_token}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

fn lambda_event(token: &str) -> aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest {
    serde_json::from_value(json!({
        "type": "REQUEST",
        "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/api/v1/auth/me",
        "resource": "/api/v1/auth/me",
        "path": "/api/v1/auth/me",
        "httpMethod": "GET",
        "headers": {"Authorization": format!("Bearer {token}")},
        "requestContext": {"stage": "dev", "requestId": "r-1", "httpMethod": "GET", "resourcePath": "/api/v1/auth/me"}
    }))
    .unwrap()
}

#[tokio::test]
async fn the_lambda_handler_allows_with_the_principal_and_refuses_with_unauthorized() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let allowed = toolbox_authorizer::handle(&app.state, lambda_event(&account.access_token)).await.unwrap();
    let policy = serde_json::to_value(&allowed).unwrap();
    assert_eq!(policy["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(
        policy["policyDocument"]["Statement"][0]["Resource"][0],
        "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/*"
    );
    assert_eq!(policy["context"]["tenant_id"], account.org_id.as_str());
    assert_eq!(policy["context"]["user_id"], account.user_id.as_str());
    assert_eq!(policy["context"]["role"], "admin");
    assert_eq!(policy["context"]["auth_method"], "jwt");
    assert!(policy["context"]["scopes"].as_str().unwrap().split(' ').any(|s| s == "admin"));

    let refused = toolbox_authorizer::handle(&app.state, lambda_event("nope")).await.unwrap_err();
    assert_eq!(refused.to_string(), "Unauthorized", "API Gateway answers 401 only for exactly this message");

    suspend(&app, &account).await;
    let denied = serde_json::to_value(
        toolbox_authorizer::handle(&app.state, lambda_event(&account.access_token)).await.unwrap(),
    )
    .unwrap();
    assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");
    assert!(denied["context"].as_object().is_none_or(|c| c.is_empty()));
}
