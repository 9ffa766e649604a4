//! Integration API keys end to end: lifecycle, rotation grace, scopes, the
//! IP allow-list, expiry, signed requests, usage, and tenancy.

use axum::http::StatusCode;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::helpers::{Account, CreatedKey, TestApp, TestResponse};

const ORG: &str = "/api/v1/organizations/current";

async fn read_org(app: &TestApp, key: &str) -> TestResponse {
    app.get(ORG).api_key(key).send().await
}

async fn key_view(app: &TestApp, admin: &Account, id: &str) -> TestResponse {
    app.get(&format!("/api/v1/api-keys/{id}")).bearer(&admin.access_token).send().await
}

#[tokio::test]
async fn a_created_key_authenticates_and_its_secret_is_never_shown_again() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let created = app
        .post("/api/v1/api-keys")
        .bearer(&admin.access_token)
        .json(json!({"name": "SIS sync", "scopes": ["read", "write"]}))
        .send()
        .await;
    created.expect(StatusCode::CREATED, None);
    let data = created.data();
    let key = data["key"].as_str().unwrap();
    let (prefix, secret) = key.strip_prefix("tbx_").unwrap().split_once('_').unwrap();
    assert_eq!(data["prefix"], prefix);
    assert_eq!(data["scopes"], json!(["read", "write"]));
    assert_eq!(data["status"], "active");
    assert!(data.get("signing_secret").is_none(), "no signing secret without require_signature");

    let org = read_org(&app, key).await;
    org.expect(StatusCode::OK, None);
    assert_eq!(org.data()["id"], admin.org_id.as_str());

    let id = data["id"].as_str().unwrap();
    let listed = app.get("/api/v1/api-keys").bearer(&admin.access_token).send().await;
    listed.expect(StatusCode::OK, None);
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    let fetched = key_view(&app, &admin, id).await;
    fetched.expect(StatusCode::OK, None);
    for later in [&listed, &fetched] {
        assert!(!later.text.contains(secret), "a later response shows the secret");
        assert!(!later.text.contains(&hex::encode(Sha256::digest(secret.as_bytes()))), "a response shows the hash");
        assert!(later.text.contains(prefix));
    }
    // Only a hash is stored.
    let lookup = app.raw_item(&domain::tenancy::global::api_key(prefix)).await.unwrap();
    assert!(!lookup.contains(secret));
    assert!(lookup.contains(&hex::encode(Sha256::digest(secret.as_bytes()))));
    let item = app.raw_item(&admin.tenant().api_key(&id.parse().unwrap())).await.unwrap();
    assert!(!item.contains(secret));
}

#[tokio::test]
async fn a_read_key_cannot_write_and_only_admin_keys_act_as_admins() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let before = app.raw_item(&admin.tenant().organization()).await;
    let read = app.create_api_key(&admin, json!({"name": "reader", "scopes": ["read"]})).await;
    read_org(&app, &read.key).await.expect(StatusCode::OK, None);
    app.patch(ORG)
        .api_key(&read.key)
        .json(json!({"name": "Written by a reader"}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    app.post("/api/v1/organizations/current/invites")
        .api_key(&read.key)
        .json(json!({"email": crate::helpers::unique_email("by-key"), "role": "teacher"}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    assert_eq!(app.raw_item(&admin.tenant().organization()).await, before, "a refused write changed the organization");

    // Write without admin acts as staff: admin-only routes refuse it.
    let writer = app.create_api_key(&admin, json!({"name": "writer", "scopes": ["read", "write"]})).await;
    app.patch(ORG)
        .api_key(&writer.key)
        .json(json!({"name": "Written by staff"}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let admin_key = app.create_api_key(&admin, json!({"name": "ops", "scopes": ["read", "write", "admin"]})).await;
    let renamed = app.patch(ORG).api_key(&admin_key.key).json(json!({"name": "Renamed by a key"})).send().await;
    renamed.expect(StatusCode::OK, None);
    assert_eq!(renamed.data()["name"], "Renamed by a key");

    // Nor can an admin key make principals that would outlive it.
    app.post("/api/v1/organizations/current/invites")
        .api_key(&admin_key.key)
        .json(json!({"email": crate::helpers::unique_email("by-key"), "role": "admin"}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let teacher = app.member(&admin, "teacher").await;
    app.patch(&format!("/api/v1/organizations/current/members/{}", teacher.user_id))
        .api_key(&admin_key.key)
        .json(json!({"role": "admin"}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));

    // What only a person may do: keys, their own session, their password.
    for key in [&read.key, &admin_key.key] {
        app.post("/api/v1/api-keys")
            .api_key(key)
            .json(json!({"name": "minted", "scopes": ["read"]}))
            .send()
            .await
            .expect(StatusCode::FORBIDDEN, Some("forbidden"));
        app.get("/api/v1/api-keys").api_key(key).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
        app.get("/api/v1/auth/me").api_key(key).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
}

#[tokio::test]
async fn a_revoked_key_is_refused_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let key = app.create_api_key(&admin, json!({"name": "temp", "scopes": ["read"]})).await;
    read_org(&app, &key.key).await.expect(StatusCode::OK, None);
    let revoked = app.delete(&format!("/api/v1/api-keys/{}", key.id)).bearer(&admin.access_token).send().await;
    revoked.expect(StatusCode::OK, None);
    assert_eq!(revoked.data()["status"], "revoked");
    assert!(revoked.data()["revoked_at"].is_string());
    read_org(&app, &key.key).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    // Gone from the API; the item stays, marked, for the audit trail.
    let path = format!("/api/v1/api-keys/{}", key.id);
    key_view(&app, &admin, &key.id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.delete(&path).bearer(&admin.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let rotate = app.post(&format!("{path}/rotate")).bearer(&admin.access_token).send().await;
    rotate.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let listed = app.get("/api/v1/api-keys").bearer(&admin.access_token).send().await;
    assert_eq!(listed.data(), &json!([]));
    let stored = app.raw_item(&admin.tenant().api_key(&key.id.parse().unwrap())).await.unwrap();
    assert!(stored.contains("status=S(\"revoked\")") && stored.contains("deleted_by="), "{stored}");
    assert!(app.raw_item(&domain::tenancy::global::api_key(key.key.split('_').nth(1).unwrap())).await.is_none());
}

#[tokio::test]
async fn rotation_keeps_the_old_secret_for_its_grace_period_only() {
    let app = TestApp::spawn().await;
    // Decided to the second: the wall clock must not tick between the calls.
    app.clock.freeze();
    let admin = app.register_org().await;
    let old = app.create_api_key(&admin, json!({"name": "rotating", "scopes": ["read"]})).await;
    let rotated = app
        .post(&format!("/api/v1/api-keys/{}/rotate", old.id))
        .bearer(&admin.access_token)
        .json(json!({"grace_period_seconds": 600}))
        .send()
        .await;
    rotated.expect(StatusCode::OK, None);
    let new = rotated.data()["key"].as_str().unwrap().to_owned();
    assert_ne!(new, old.key);
    assert_eq!(new.split('_').nth(1), old.key.split('_').nth(1), "the prefix names the key across rotations");
    assert!(rotated.data()["rotated_at"].is_string());
    read_org(&app, &new).await.expect(StatusCode::OK, None);
    read_org(&app, &old.key).await.expect(StatusCode::OK, None);
    app.clock.advance(599);
    read_org(&app, &old.key).await.expect(StatusCode::OK, None);
    app.clock.advance(2);
    read_org(&app, &old.key).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    read_org(&app, &new).await.expect(StatusCode::OK, None);

    // The default grace is a day; a second rotation ends the first secret's
    // grace at once, since only one previous secret is kept.
    // No body, an empty object and `null` all take the defaults.
    let second = app
        .post(&format!("/api/v1/api-keys/{}/rotate", old.id))
        .bearer(&admin.access_token)
        .raw("application/json", "null")
        .send()
        .await;
    second.expect(StatusCode::OK, None);
    let third = app
        .post(&format!("/api/v1/api-keys/{}/rotate", old.id))
        .bearer(&admin.access_token)
        .json(json!({}))
        .send()
        .await;
    third.expect(StatusCode::OK, None);
    read_org(&app, &new).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    read_org(&app, second.data()["key"].as_str().unwrap()).await.expect(StatusCode::OK, None);
    app.clock.advance(86_401);
    read_org(&app, second.data()["key"].as_str().unwrap())
        .await
        .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    read_org(&app, third.data()["key"].as_str().unwrap()).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn an_expired_key_is_refused() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let expires = domain::clock::rfc3339(app.state.now() + time::Duration::seconds(120));
    let key = app.create_api_key(&admin, json!({"name": "short", "scopes": ["read"], "expires_at": expires})).await;
    read_org(&app, &key.key).await.expect(StatusCode::OK, None);
    app.clock.advance(121);
    read_org(&app, &key.key).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
}

#[tokio::test]
async fn the_ip_allow_list_refuses_other_addresses() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let key = app
        .create_api_key(
            &admin,
            json!({"name": "school", "scopes": ["read"], "ip_allowlist": ["203.0.113.0/24", "2001:db8::/32"]}),
        )
        .await;
    app.get(ORG).api_key(&key.key).peer_ip("203.0.113.9").send().await.expect(StatusCode::OK, None);
    app.get(ORG).api_key(&key.key).peer_ip("2001:db8::7").send().await.expect(StatusCode::OK, None);
    app.get(ORG)
        .api_key(&key.key)
        .peer_ip("198.51.100.1")
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    // No known address is no allowed address.
    read_org(&app, &key.key).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    // The allow-list is shown as the networks it holds.
    assert_eq!(
        key_view(&app, &admin, &key.id).await.data()["ip_allowlist"],
        json!(["203.0.113.0/24", "2001:db8::/32"])
    );
}

#[tokio::test]
async fn unknown_malformed_and_doubled_credentials_are_401() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let key = app.create_api_key(&admin, json!({"name": "real", "scopes": ["read"]})).await;
    let prefix = key.key.split('_').nth(1).unwrap();
    let wrong_secret = format!("tbx_{prefix}_{}", "A".repeat(40));
    let unknown_prefix = format!("tbx_{}_{}", "a".repeat(12), &key.key[key.key.len() - 40..]);
    for bad in ["garbage", "tbx_", &wrong_secret, &unknown_prefix, &key.key.to_uppercase()] {
        read_org(&app, bad).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    }
    app.get(ORG)
        .api_key(&key.key)
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
}

#[tokio::test]
async fn another_tenants_key_ids_are_404_and_the_key_keeps_working() {
    let app = TestApp::spawn().await;
    let a = app.register_org().await;
    let b = app.register_org().await;
    let key = app.create_api_key(&a, json!({"name": "a's", "scopes": ["read"]})).await;
    let stored = app.raw_item(&a.tenant().api_key(&key.id.parse().unwrap())).await;
    let base = format!("/api/v1/api-keys/{}", key.id);
    for (method, path) in [
        ("GET", base.clone()),
        ("DELETE", base.clone()),
        ("POST", format!("{base}/rotate")),
        ("GET", format!("{base}/usage")),
    ] {
        let response = app.call(method.parse().unwrap(), &path).bearer(&b.access_token).send().await;
        response.expect(StatusCode::NOT_FOUND, Some("not_found"));
    }
    assert_eq!(app.raw_item(&a.tenant().api_key(&key.id.parse().unwrap())).await, stored);
    read_org(&app, &key.key).await.expect(StatusCode::OK, None);
    let listed = app.get("/api/v1/api-keys").bearer(&b.access_token).send().await;
    assert_eq!(listed.data(), &json!([]));
    // A malformed id is simply not found.
    key_view(&app, &b, "not-an-id").await.expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn usage_counts_each_request_per_day() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let key = app.create_api_key(&admin, json!({"name": "metered", "scopes": ["read"]})).await;
    for _ in 0..3 {
        read_org(&app, &key.key).await.expect(StatusCode::OK, None);
    }
    let usage = app.get(&format!("/api/v1/api-keys/{}/usage?days=2", key.id)).bearer(&admin.access_token).send().await;
    usage.expect(StatusCode::OK, None);
    let days = usage.data()["days"].as_array().unwrap();
    assert_eq!(days.len(), 2);
    assert_eq!(days[1]["date"], domain::api_key::usage::day(app.state.now()));
    assert_eq!(days[1]["requests"], 3);
    assert_eq!(days[0]["requests"], 0);
    assert_eq!(usage.data()["total"], 3);
    // Tomorrow counts apart; the default range is 30 days.
    app.clock.advance(86_400);
    read_org(&app, &key.key).await.expect(StatusCode::OK, None);
    let usage = app.get(&format!("/api/v1/api-keys/{}/usage", key.id)).bearer(&admin.access_token).send().await;
    let days = usage.data()["days"].as_array().unwrap();
    assert_eq!(days.len(), 30);
    assert_eq!((days[28]["requests"].as_u64(), days[29]["requests"].as_u64()), (Some(3), Some(1)));
    for bad in ["0", "91", "abc", "1.5", ""] {
        app.get(&format!("/api/v1/api-keys/{}/usage?days={bad}", key.id))
            .bearer(&admin.access_token)
            .send()
            .await
            .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
}

fn field_of(response: &TestResponse) -> &str {
    response.body["error"]["details"][0]["field"].as_str().unwrap_or_default()
}

#[tokio::test]
async fn bad_key_requests_are_422_and_create_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let past = domain::clock::rfc3339(app.state.now() - time::Duration::seconds(1));
    let many: Vec<String> = (0..21).map(|i| format!("10.0.{i}.0/24")).collect();
    for (body, field) in [
        (json!({"scopes": ["read"]}), "name"),
        (json!({"name": "", "scopes": ["read"]}), "name"),
        (json!({"name": "x", "scopes": []}), "scopes"),
        (json!({"name": "x", "scopes": ["root"]}), "scopes[0]"),
        (json!({"name": "x", "scopes": "read"}), "scopes"),
        (json!({"name": "x", "scopes": ["read"], "expires_at": past}), "expires_at"),
        (json!({"name": "x", "scopes": ["read"], "expires_at": "tomorrow"}), "expires_at"),
        (json!({"name": "x", "scopes": ["read"], "ip_allowlist": ["10.0.0.300/8"]}), "ip_allowlist[0]"),
        (json!({"name": "x", "scopes": ["read"], "ip_allowlist": many}), "ip_allowlist"),
        (json!({"name": "x", "scopes": ["read"], "require_signature": "yes"}), "require_signature"),
        (json!({"name": "x", "scopes": ["read"], "require_signature": null}), "require_signature"),
        (json!({"name": "x", "scopes": ["read"], "secret": "mine"}), "secret"),
    ] {
        let response = app.post("/api/v1/api-keys").bearer(&admin.access_token).json(body.clone()).send().await;
        response.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(field_of(&response), field, "{body}");
    }
    let listed = app.get("/api/v1/api-keys").bearer(&admin.access_token).send().await;
    assert_eq!(listed.data(), &json!([]), "a refused create stored a key");

    let key = app.create_api_key(&admin, json!({"name": "x", "scopes": ["read"]})).await;
    let rotate = format!("/api/v1/api-keys/{}/rotate", key.id);
    for grace in [json!(-1), json!(604_801), json!("soon")] {
        let response =
            app.post(&rotate).bearer(&admin.access_token).json(json!({"grace_period_seconds": grace})).send().await;
        response.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(field_of(&response), "grace_period_seconds");
    }
    app.post(&rotate)
        .bearer(&admin.access_token)
        .raw("application/json", "{")
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    app.post(&rotate)
        .bearer(&admin.access_token)
        .raw("text/plain", "x")
        .send()
        .await
        .expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, None);
    let oversized = format!("{{\"grace_period_seconds\":1,\"pad\":\"{}\"}}", "a".repeat(1024 * 1024));
    app.post(&rotate)
        .bearer(&admin.access_token)
        .raw("application/json", oversized)
        .send()
        .await
        .expect(StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"));
    // The key was not rotated by any of those.
    read_org(&app, &key.key).await.expect(StatusCode::OK, None);
    assert_eq!(key_view(&app, &admin, &key.id).await.data()["version"], 1);
}

/// A signature made as docs/api.md tells a client to, independently of the code.
pub(crate) fn sign(secret: &str, timestamp: i64, method: &str, path: &str, body: &str) -> String {
    let message = format!("{timestamp}.{method}.{path}.{}", hex::encode(Sha256::digest(body.as_bytes())));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn signed_patch(app: &TestApp, key: &CreatedKey, secret: &str, timestamp: i64, body: &Value) -> TestResponse {
    let text = body.to_string();
    app.patch(ORG)
        .api_key(&key.key)
        .header("x-timestamp", &timestamp.to_string())
        .header("x-signature", &sign(secret, timestamp, "PATCH", ORG, &text))
        .raw("application/json", text)
        .send()
        .await
}

#[tokio::test]
async fn signed_requests_are_checked_and_each_signature_is_accepted_once() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let key = app
        .create_api_key(
            &admin,
            json!({"name": "signed", "scopes": ["read", "write", "admin"], "require_signature": true}),
        )
        .await;
    let secret = key.signing_secret.clone().expect("a signing secret at creation");
    assert_eq!(secret.len(), 64);
    assert!(!key_view(&app, &admin, &key.id).await.text.contains(&secret), "the signing secret is shown again");
    let now = app.state.now().unix_timestamp();
    let body = json!({"name": "Signed School"});

    // Unsigned, wrongly signed, stale and future requests are refused.
    read_org(&app, &key.key).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    signed_patch(&app, &key, &"0".repeat(64), now, &body)
        .await
        .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    signed_patch(&app, &key, &secret, now - 330, &body).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    signed_patch(&app, &key, &secret, now + 330, &body).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    // A signature over another body does not carry over.
    let tampered = app
        .patch(ORG)
        .api_key(&key.key)
        .header("x-timestamp", &now.to_string())
        .header("x-signature", &sign(&secret, now, "PATCH", ORG, &body.to_string()))
        .json(json!({"name": "Tampered School"}))
        .send()
        .await;
    tampered.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    let unchanged = app.get(ORG).bearer(&admin.access_token).send().await;
    assert_eq!(unchanged.data()["name"], "Test School");

    // A good signature is accepted once; its replay is refused.
    signed_patch(&app, &key, &secret, now - 290, &body).await.expect(StatusCode::OK, None);
    signed_patch(&app, &key, &secret, now - 290, &body).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    let read_ts = now + 1;
    let signed_get = app
        .get(&format!("{ORG}?view=full"))
        .api_key(&key.key)
        .header("x-timestamp", &read_ts.to_string())
        .header("x-signature", &sign(&secret, read_ts, "GET", ORG, ""))
        .send()
        .await;
    signed_get.expect(StatusCode::OK, None);
    assert_eq!(signed_get.data()["name"], "Signed School");

    // Rotation brings a new signing secret; the old pair works through the grace.
    let rotated = app.post(&format!("/api/v1/api-keys/{}/rotate", key.id)).bearer(&admin.access_token).send().await;
    let new_secret = rotated.data()["signing_secret"].as_str().unwrap().to_owned();
    assert_ne!(new_secret, secret);
    let new_key = CreatedKey { key: rotated.data()["key"].as_str().unwrap().to_owned(), ..key.clone() };
    signed_patch(&app, &new_key, &new_secret, now + 2, &json!({"name": "Rotated School"}))
        .await
        .expect(StatusCode::OK, None);
    signed_patch(&app, &new_key, &secret, now + 3, &json!({"name": "Mixed School"}))
        .await
        .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    signed_patch(&app, &key, &secret, now + 4, &json!({"name": "Old School"})).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn the_lambda_authorizer_returns_the_tenants_usage_key_and_the_keys_scopes() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let key = app
        .create_api_key(&admin, json!({"name": "lambda", "scopes": ["read"], "ip_allowlist": ["192.0.2.0/24"]}))
        .await;
    let event = |ip: &str| -> aws_lambda_events::apigw::ApiGatewayCustomAuthorizerRequestTypeRequest {
        serde_json::from_value(json!({
            "type": "REQUEST",
            "methodArn": "arn:aws:execute-api:us-east-1:123456789012:abc123/dev/GET/api/v1/organizations/current",
            "headers": {"X-API-Key": key.key},
            "requestContext": {"stage": "dev", "requestId": "r-2", "httpMethod": "GET", "identity": {"sourceIp": ip}}
        }))
        .unwrap()
    };
    let allowed =
        serde_json::to_value(toolbox_authorizer::handle(&app.state, event("192.0.2.10")).await.unwrap()).unwrap();
    assert_eq!(allowed["policyDocument"]["Statement"][0]["Effect"], "Allow");
    assert_eq!(allowed["context"]["auth_method"], "api_key");
    assert_eq!(allowed["context"]["scopes"], "read");
    assert_eq!(allowed["context"]["api_key_id"], key.id.as_str());
    let org: domain::organization::Organization =
        app.state.db.get(&admin.tenant().organization()).await.unwrap().unwrap();
    assert_eq!(allowed["usageIdentifierKey"], org.usage_key.unwrap().value.as_str());

    let denied =
        serde_json::to_value(toolbox_authorizer::handle(&app.state, event("198.51.100.4")).await.unwrap()).unwrap();
    assert_eq!(denied["policyDocument"]["Statement"][0]["Effect"], "Deny");
}

fn member_path(id: &str) -> String {
    format!("/api/v1/organizations/current/members/{id}")
}

/// A second admin of `admin`'s organization, who makes keys and is then
/// demoted or removed by `admin`.
async fn second_admin(app: &TestApp, admin: &Account) -> Account {
    app.member(admin, "admin").await
}

#[tokio::test]
async fn a_demoted_admins_keys_keep_only_what_a_teacher_may_do() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let maker = second_admin(&app, &admin).await;
    let both = app.create_api_key(&maker, json!({"name": "ops", "scopes": ["read", "write", "admin"]})).await;
    let only_admin = app.create_api_key(&maker, json!({"name": "admin only", "scopes": ["admin"]})).await;
    let reader = app.create_api_key(&maker, json!({"name": "reader", "scopes": ["read"]})).await;
    app.patch(ORG).api_key(&both.key).json(json!({"name": "Renamed"})).send().await.expect(StatusCode::OK, None);

    app.set_role(&admin, &maker.user_id, "teacher").await;

    // The very next request is judged by what the maker may do now.
    let before = app.raw_item(&admin.tenant().organization()).await;
    app.patch(ORG)
        .api_key(&both.key)
        .json(json!({"name": "Still an admin?"}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    assert_eq!(app.raw_item(&admin.tenant().organization()).await, before);
    read_org(&app, &both.key).await.expect(StatusCode::OK, None);
    let narrowed = key_view(&app, &admin, &both.id).await;
    assert_eq!(narrowed.data()["scopes"], json!(["read", "write"]));
    // A key with nothing left is revoked; one within a teacher's reach stays as it was.
    read_org(&app, &only_admin.key).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    key_view(&app, &admin, &only_admin.id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    read_org(&app, &reader.key).await.expect(StatusCode::OK, None);
    assert_eq!(key_view(&app, &admin, &reader.id).await.data()["scopes"], json!(["read"]));

    // Down to a student, nothing is left: every key is refused.
    app.set_role(&admin, &maker.user_id, "student").await;
    for key in [&both, &reader] {
        read_org(&app, &key.key).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    }
    let listed = app.get("/api/v1/api-keys").bearer(&admin.access_token).send().await;
    assert_eq!(listed.data(), &json!([]));
}

#[tokio::test]
async fn a_removed_admins_keys_are_refused_at_once_even_within_a_rotation_grace() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let maker = second_admin(&app, &admin).await;
    let victim = app.member(&admin, "teacher").await;
    let old = app.create_api_key(&maker, json!({"name": "ops", "scopes": ["read", "write", "admin"]})).await;
    let rotated = app
        .post(&format!("/api/v1/api-keys/{}/rotate", old.id))
        .bearer(&maker.access_token)
        .json(json!({"grace_period_seconds": 3600}))
        .send()
        .await;
    rotated.expect(StatusCode::OK, None);
    let new_key = rotated.data()["key"].as_str().unwrap().to_owned();
    read_org(&app, &old.key).await.expect(StatusCode::OK, None);

    app.delete(&member_path(&maker.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);

    for key in [&old.key, &new_key] {
        read_org(&app, key).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
        app.delete(&member_path(&victim.user_id))
            .api_key(key)
            .send()
            .await
            .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    }
    app.get("/api/v1/auth/me").bearer(&victim.access_token).send().await.expect(StatusCode::OK, None);
    let stored = app.raw_item(&admin.tenant().api_key(&old.id.parse().unwrap())).await.unwrap();
    assert!(stored.contains("status=S(\"revoked\")"), "{stored}");
}

#[tokio::test]
async fn a_demotion_in_a_rotation_grace_narrows_both_secrets() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let maker = second_admin(&app, &admin).await;
    let old = app.create_api_key(&maker, json!({"name": "ops", "scopes": ["read", "write", "admin"]})).await;
    let rotated = app.post(&format!("/api/v1/api-keys/{}/rotate", old.id)).bearer(&maker.access_token).send().await;
    let new_key = rotated.data()["key"].as_str().unwrap().to_owned();
    app.set_role(&admin, &maker.user_id, "teacher").await;
    for key in [&old.key, &new_key] {
        read_org(&app, key).await.expect(StatusCode::OK, None);
        app.patch(ORG).api_key(key).json(json!({"name": "Renamed"})).send().await.expect(StatusCode::FORBIDDEN, None);
    }
}

#[tokio::test]
async fn an_admin_holds_a_bounded_number_of_keys_and_a_revoked_one_frees_its_place() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let mut last = None;
    for n in 0..domain::api_key::MAX_PER_ADMIN {
        last = Some(app.create_api_key(&admin, json!({"name": format!("k{n}"), "scopes": ["read"]})).await);
    }
    let over = app
        .post("/api/v1/api-keys")
        .bearer(&admin.access_token)
        .json(json!({"name": "one more", "scopes": ["read"]}))
        .send()
        .await;
    over.expect(StatusCode::CONFLICT, Some("conflict"));
    let last = last.unwrap();
    app.delete(&format!("/api/v1/api-keys/{}", last.id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    app.create_api_key(&admin, json!({"name": "one more", "scopes": ["read"]})).await;
}

#[tokio::test]
async fn revoking_a_key_moves_its_makers_version_so_a_role_change_cannot_write_it_back() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let maker = second_admin(&app, &admin).await;
    let key = app.create_api_key(&maker, json!({"name": "ops", "scopes": ["read"]})).await;
    let user = admin.tenant().user(&maker.user_id.parse().unwrap());
    let before: domain::user::User = app.state.db.get(&user).await.unwrap().unwrap();
    assert!(before.api_keys.contains_key(&key.id.parse().unwrap()));
    app.delete(&format!("/api/v1/api-keys/{}", key.id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    let after: domain::user::User = app.state.db.get(&user).await.unwrap().unwrap();
    assert!(after.api_keys.is_empty());
    assert!(after.audit.version > before.audit.version, "a role change that read the key would still commit");
}
