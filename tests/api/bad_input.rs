//! Every JSON route against every kind of bad body: a clear 4xx each time,
//! and nothing stored changes.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Account, TestApp};

struct JsonRoute {
    method: Method,
    path: String,
    authenticated: bool,
    /// Well-formed JSON with a wrong type, and the field it names.
    wrong_type: Value,
    field: &'static str,
}

fn routes(admin: &Account, content_id: &str, class_id: &str, lesson_id: &str, assessment_id: &str) -> Vec<JsonRoute> {
    let route = |method, path: &str, authenticated, wrong_type, field| JsonRoute {
        method,
        path: path.to_owned(),
        authenticated,
        wrong_type,
        field,
    };
    vec![
        route(
            Method::POST,
            "/api/v1/auth/register",
            false,
            json!({"email": 1, "password": "a-long-password", "first_name": "A", "last_name": "B", "organization_name": "Org"}),
            "email",
        ),
        route(
            Method::POST,
            "/api/v1/auth/login",
            false,
            json!({"email": ["x"], "password": "a-long-password"}),
            "email",
        ),
        route(Method::POST, "/api/v1/auth/refresh", false, json!({"refresh_token": 42}), "refresh_token"),
        route(Method::POST, "/api/v1/auth/logout", true, json!({"refresh_token": true}), "refresh_token"),
        route(
            Method::POST,
            "/api/v1/auth/password",
            true,
            json!({"current_password": 1, "new_password": "a-long-password"}),
            "current_password",
        ),
        route(Method::PATCH, "/api/v1/organizations/current", true, json!({"name": 7}), "name"),
        route(
            Method::PATCH,
            &format!("/api/v1/organizations/current/members/{}", admin.user_id),
            true,
            json!({"role": 3}),
            "role",
        ),
        route(
            Method::POST,
            "/api/v1/organizations/current/invites",
            true,
            json!({"email": "a@b.co", "role": null}),
            "role",
        ),
        route(Method::POST, "/api/v1/api-keys", true, json!({"name": "k", "scopes": "read"}), "scopes"),
        route(
            Method::POST,
            "/api/v1/content/generate",
            true,
            json!({"type": "quiz", "subject": "M", "grade_level": "four", "topic": "T"}),
            "grade_level",
        ),
        route(
            Method::PUT,
            &format!("/api/v1/content/{content_id}"),
            true,
            json!({"title": "t", "summary": "s", "objectives": "one"}),
            "objectives",
        ),
        route(Method::POST, "/api/v1/classes", true, json!({"name": 5}), "name"),
        route(Method::POST, "/api/v1/lessons", true, json!({"title": 5}), "title"),
        route(Method::PUT, &format!("/api/v1/lessons/{lesson_id}"), true, json!({"title": ["x"]}), "title"),
        route(
            Method::POST,
            &format!("/api/v1/lessons/{lesson_id}/publish"),
            true,
            json!({"class_ids": "all"}),
            "class_ids",
        ),
        route(
            Method::POST,
            "/api/v1/messages",
            true,
            json!({"recipient_ids": [admin.user_id], "subject": "s", "body": 5}),
            "body",
        ),
        route(Method::POST, "/api/v1/assessments", true, json!({"title": 5}), "title"),
        route(
            Method::PUT,
            &format!("/api/v1/assessments/{assessment_id}"),
            true,
            json!({"title": "t", "questions": "all of them"}),
            "questions",
        ),
        route(
            Method::POST,
            &format!("/api/v1/assessments/{assessment_id}/publish"),
            true,
            json!({"class_ids": 7}),
            "class_ids",
        ),
        route(
            Method::POST,
            &format!("/api/v1/assessments/{assessment_id}/submit"),
            true,
            json!({"attempt": "first", "answers": [true]}),
            "attempt",
        ),
        route(
            Method::PUT,
            &format!("/api/v1/lessons/{lesson_id}/progress"),
            true,
            json!({"status": "in_progress", "percent": "lots", "time_spent_seconds": 1}),
            "percent",
        ),
        route(
            Method::POST,
            &format!("/api/v1/organizations/current/members/{}/children", admin.user_id),
            true,
            json!({"child_id": 5}),
            "child_id",
        ),
        route(Method::PUT, &format!("/api/v1/classes/{class_id}"), true, json!({"name": ["x"]}), "name"),
        route(
            Method::POST,
            &format!("/api/v1/classes/{class_id}/students"),
            true,
            json!({"student_ids": "everyone"}),
            "student_ids",
        ),
        route(
            Method::POST,
            "/api/v1/pusher/auth",
            true,
            json!({"socket_id": 1234.5, "channel_name": "c"}),
            "socket_id",
        ),
    ]
}

#[tokio::test]
async fn every_json_route_answers_bad_bodies_with_the_right_4xx_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let user_key = admin.tenant().user(&admin.user_id.parse().unwrap());
    let before = (app.raw_item(&user_key).await, app.raw_item(&admin.tenant().organization()).await);
    let oversized = format!("{{\"padding\":\"{}\"}}", "a".repeat(1024 * 1024));
    let made = app
        .generated(&admin, json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"}))
        .await;
    let content_key = admin.tenant().content(&made.content_id.parse().unwrap());
    let content_before = app.raw_item(&content_key).await;

    let class = app.post("/api/v1/classes").bearer(&admin.access_token).json(json!({"name": "Bad input"})).send().await;
    let class_id = class.data()["id"].as_str().unwrap().to_owned();
    let class_before = app.raw_item(&admin.tenant().class(&class_id.parse().unwrap())).await;
    let lesson = app.post("/api/v1/lessons").bearer(&admin.access_token).json(json!({"title": "Bad input", "summary": "S.", "objectives": ["O"], "sections": [{"heading": "H", "body": "B"}]})).send().await;
    let lesson_id = lesson.data()["id"].as_str().unwrap_or_default().to_owned();
    let lesson_before = app.raw_item(&admin.tenant().lesson(&lesson_id.parse().unwrap())).await;
    let assessment = app
        .post("/api/v1/assessments")
        .bearer(&admin.access_token)
        .json(json!({"title": "Bad input", "questions": [{"kind": "true_false", "prompt": "P", "answer": true}]}))
        .send()
        .await;
    let assessment_id = assessment.data()["id"].as_str().unwrap_or_default().to_owned();
    let assessment_key = admin.tenant().assessment(&assessment_id.parse().unwrap());
    let assessment_before = app.raw_item(&assessment_key).await;

    for route in routes(&admin, &made.content_id, &class_id, &lesson_id, &assessment_id) {
        let call = || {
            let call = app.call(route.method.clone(), &route.path);
            if route.authenticated { call.bearer(&admin.access_token) } else { call }
        };
        let label = format!("{} {}", route.method, route.path);

        call().raw("application/json", "{\"email\":").send().await.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
        call().raw("application/json", "").send().await.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
        call()
            .raw("text/plain", "{}")
            .send()
            .await
            .expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type"));
        call().send().await.expect(StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("unsupported_media_type"));
        call()
            .raw("application/json", oversized.clone())
            .send()
            .await
            .expect(StatusCode::PAYLOAD_TOO_LARGE, Some("payload_too_large"));
        call().json(json!([])).send().await.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        let missing = call().json(json!({})).send().await;
        missing.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert!(missing.body["error"]["details"][0]["field"].is_string(), "{label}: {}", missing.text);
        let wrong = call().json(route.wrong_type.clone()).send().await;
        assert_eq!(wrong.status, StatusCode::UNPROCESSABLE_ENTITY, "{label}: {}", wrong.text);
        assert_eq!(wrong.body["error"]["details"][0]["field"], route.field, "{label}: {}", wrong.text);
        let unknown = call().json(with_unknown_field(&route.wrong_type)).send().await;
        unknown.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        let named: Vec<&str> = unknown.body["error"]["details"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|detail| detail["field"].as_str())
            .collect();
        // pusher-js may send more than the two fields it reads.
        let refuses_unknown = route.path != "/api/v1/pusher/auth";
        assert!(named.contains(&route.field), "{label}: {}", unknown.text);
        assert_eq!(named.contains(&"is_superuser"), refuses_unknown, "{label}: {}", unknown.text);
    }

    let after = (app.raw_item(&user_key).await, app.raw_item(&admin.tenant().organization()).await);
    assert_eq!(after, before, "bad input changed stored data");
    assert_eq!(app.raw_item(&content_key).await, content_before, "bad input changed stored content");
    assert_eq!(app.raw_item(&admin.tenant().class(&class_id.parse().unwrap())).await, class_before);
    assert_eq!(app.raw_item(&admin.tenant().lesson(&lesson_id.parse().unwrap())).await, lesson_before);
    assert_eq!(app.raw_item(&assessment_key).await, assessment_before);
    app.login(&admin.email, &admin.password).await.expect(StatusCode::OK, None);
}

fn with_unknown_field(body: &Value) -> Value {
    let mut body = body.clone();
    body["is_superuser"] = json!(true);
    body
}

#[tokio::test]
async fn unknown_routes_are_404_and_unknown_methods_405_with_allow() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    app.get("/api/v1/nothing-here").send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let wrong = app.delete("/api/v1/auth/me").bearer(&account.access_token).send().await;
    wrong.expect(StatusCode::METHOD_NOT_ALLOWED, Some("method_not_allowed"));
    let allow = wrong.headers["allow"].to_str().unwrap();
    assert!(allow.contains("GET") && !allow.contains("DELETE"), "{allow}");
}

#[tokio::test]
async fn a_422_names_every_invalid_field_in_the_order_of_the_request() {
    let app = TestApp::spawn().await;
    let refused = app
        .post("/api/v1/auth/register")
        .json(json!({
            "organization_name": 5,
            "email": "not-an-email",
            "nickname": "x",
            "password": "short",
            "first_name": "",
        }))
        .send()
        .await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    let details = refused.body["error"]["details"].as_array().unwrap();
    let fields: Vec<&str> = details.iter().map(|detail| detail["field"].as_str().unwrap()).collect();
    assert_eq!(
        fields,
        ["organization_name", "email", "nickname", "password", "first_name", "last_name"],
        "{}",
        refused.text
    );
    assert!(details.iter().all(|detail| !detail["message"].as_str().unwrap().is_empty()));
    assert_eq!(details[5]["message"], "missing field `last_name`");
}
