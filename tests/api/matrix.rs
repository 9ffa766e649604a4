//! The auth and cross-tenant matrix, generated from the OpenAPI document, so
//! a new route is covered the day it is documented:
//! - every authenticated operation refuses no token, a garbage token and an
//!   expired token with 401;
//! - every operation with a resource id answers another tenant with 404;
//! - every operation with an `x-roles` rule answers the other roles with 403.
//!
//! None of those requests may change a byte of the target tenant's data.

use axum::http::{Method, StatusCode};
use credentials::jwt::{self, AccessClaims};
use serde_json::{Value, json};

use crate::helpers::{Account, Generated, TestApp, snapshot};

struct Operation {
    id: String,
    method: Method,
    path: String,
    authenticated: bool,
    roles: Option<Vec<String>>,
    has_body: bool,
}

fn operations() -> Vec<Operation> {
    let doc: Value = serde_json::from_str(toolbox_health::OPENAPI_JSON).unwrap();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, operation) in item.as_object().unwrap() {
            let security = operation["security"].as_array().cloned().unwrap_or_default();
            operations.push(Operation {
                id: operation["operationId"].as_str().unwrap().to_owned(),
                method: method.to_uppercase().parse().unwrap(),
                path: path.clone(),
                authenticated: security.iter().any(|s| s.as_object().is_some_and(|o| !o.is_empty())),
                roles: operation[web::openapi::ROLES_EXTENSION]
                    .as_array()
                    .map(|roles| roles.iter().map(|r| r.as_str().unwrap().to_owned()).collect()),
                has_body: operation["requestBody"].is_object(),
            });
        }
    }
    assert!(operations.len() >= 17, "the document lists {} operations", operations.len());
    operations
}

/// A body each operation would accept, so a refusal is about who asks, not
/// about what they sent. A new operation with a body needs a line here.
fn valid_body(operation: &Operation, tenant: &Tenant) -> Option<Value> {
    if !operation.has_body {
        return None;
    }
    Some(match operation.id.as_str() {
        "logout" => json!({"refresh_token": tenant.admin.refresh_token}),
        "change_password" => json!({"current_password": tenant.admin.password, "new_password": "matrix-password-1"}),
        "update" => json!({"name": "Renamed by the matrix"}),
        "change_role" => json!({"role": "admin"}),
        "create" => json!({"email": crate::helpers::unique_email("matrix"), "role": "admin"}),
        "create_api_key" => json!({"name": "matrix", "scopes": ["read"]}),
        "rotate_api_key" => json!({"grace_period_seconds": 0}),
        "generate_content" => json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"}),
        "update_content" => tenant.content_edit.clone(),
        "create_class" => json!({"name": "Matrix class"}),
        "create_lesson" | "update_lesson" => json!({"title": "Matrix lesson", "summary": "S.", "objectives": ["O"],
                                                     "sections": [{"heading": "H", "body": "B"}]}),
        "publish_lesson" => json!({"class_ids": [tenant.class_id]}),
        "create_assessment" | "update_assessment" => json!({"title": "Matrix assessment",
            "questions": [{"kind": "true_false", "prompt": "Water is wet.", "answer": true}]}),
        "publish_assessment" => json!({"class_ids": [tenant.class_id]}),
        "submit_assessment" => json!({"attempt": 1, "answers": [true]}),
        "send_message" => json!({"recipient_ids": [tenant.teacher.user_id], "subject": "Matrix", "body": "Hello."}),
        "star_message" => json!({"starred": true}),
        "archive_message" => json!({"archived": true}),
        "report_lesson_progress" => json!({"status": "in_progress", "percent": 10, "time_spent_seconds": 30}),
        "link_child" => json!({"child_id": tenant.student.user_id}),
        "update_class" => json!({"name": "Renamed class"}),
        "enroll_students" => json!({"student_ids": [tenant.student.user_id]}),
        "export_dashboard_statistics" => json!({"format": "csv"}),
        "run_custom_query" => json!({"metrics": ["logins"]}),
        "create_checkout_session" => json!({"tier": "pro", "interval": "month"}),
        "record_consent" => json!({"user_id": tenant.student.user_id, "type": "ferpa", "granted": true}),
        "create_export" | "create_erasure" => json!({"user_id": tenant.student.user_id}),
        "create_roblox_environment" => json!({"content_id": tenant.generated.content_id}),
        "put_roblox_settings" => json!({"api_key": "matrix-key", "universe_id": 1, "place_id": 2}),
        "pusher_auth" => {
            json!({"socket_id": "1234.5678", "channel_name": format!("private-org-{}", tenant.admin.org_id)})
        }
        other => panic!("operation {other} has a body but no valid body in tests/api/matrix.rs"),
    })
}

/// True when a path parameter names a record (not a fixed name, such as a
/// trend's metric or an export's format), or an export names a kept query:
/// another tenant's must be a 404.
fn names_ids(path: &str) -> bool {
    path.starts_with("/api/v1/analytics/export/")
        || path.split('/').any(|part| part.starts_with('{') && part != "{metric}" && part != "{format}")
}

/// The path with its ids filled in from `tenant`. A new path parameter needs
/// a line here.
fn concrete_path(operation: &Operation, tenant: &Tenant) -> String {
    let mut path = operation.path.clone();
    while let Some(start) = path.find('{') {
        let end = path[start..].find('}').unwrap() + start;
        let value = match &path[start + 1..end] {
            "user_id" if operation.path.contains("/children") => tenant.parent.user_id.clone(),
            "child_id" => tenant.student.user_id.clone(),
            "user_id" => tenant.student.user_id.clone(),
            "id" if operation.path.starts_with("/api/v1/api-keys/") => tenant.api_key_id.clone(),
            "id" if operation.path.starts_with("/api/v1/organizations/current/invites/") => tenant.invite_id.clone(),
            "id" if operation.path.starts_with("/api/v1/content/jobs/") => tenant.generated.job_id.clone(),
            "id" if operation.path.starts_with("/api/v1/classes/") => tenant.class_id.clone(),
            "id" if operation.path.starts_with("/api/v1/lessons/") => tenant.lesson_id.clone(),
            "id" if operation.path.starts_with("/api/v1/assessments/") => tenant.assessment_id.clone(),
            "id" if operation.path.starts_with("/api/v1/messages/") => tenant.message_id.clone(),
            "id" if operation.path.starts_with("/api/v1/compliance/exports/") => tenant.export_id.clone(),
            "id" if operation.path.starts_with("/api/v1/compliance/erasures/") => tenant.erasure_id.clone(),
            "id" if operation.path.starts_with("/api/v1/roblox/environments/") => tenant.environment_id.clone(),
            "thread_id" => tenant.thread_id.clone(),
            "metric" => "lessons_completed".to_owned(),
            "format" => "csv".to_owned(),
            "student_id" => tenant.student.user_id.clone(),
            "id" if operation.path.starts_with("/api/v1/content/") => tenant.generated.content_id.clone(),
            other => panic!("path parameter {other} of {} has no fixture in tests/api/matrix.rs", operation.path),
        };
        path.replace_range(start..=end, &value);
    }
    if operation.id == "export_custom_query" {
        path.push_str(&format!("?query_id={}", tenant.query_id));
    }
    if operation.id == "download_roblox_environment" {
        path.push_str("?format=place");
    }
    path
}

struct Tenant {
    admin: Account,
    teacher: Account,
    student: Account,
    parent: Account,
    api_key_id: String,
    /// A pending invite.
    invite_id: String,
    generated: Generated,
    /// A body `PUT /content/{id}` accepts for `generated`.
    content_edit: Value,
    /// The teacher's class, with the student enrolled.
    class_id: String,
    /// The teacher's lesson, published to that class.
    lesson_id: String,
    /// The teacher's assessment (one true/false question), published to that class.
    assessment_id: String,
    /// A message from the teacher to the student, and its thread.
    message_id: String,
    thread_id: String,
    /// The admin's kept custom query.
    query_id: String,
    /// An export of the student, and an erasure of another student.
    export_id: String,
    erasure_id: String,
    /// The teacher's Roblox environment of `generated`.
    environment_id: String,
}

impl Tenant {
    async fn new(app: &TestApp) -> Self {
        let admin = app.register_org().await;
        let generated = app
            .generated(&admin, json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"}))
            .await;
        let view = app
            .get(&format!("/api/v1/content/{}", generated.content_id))
            .bearer(&admin.access_token)
            .send()
            .await
            .data()
            .clone();
        let teacher = app.member(&admin, "teacher").await;
        let student = app.member(&admin, "student").await;
        let class =
            app.post("/api/v1/classes").bearer(&teacher.access_token).json(json!({"name": "Fixture"})).send().await;
        let class_id = class.data()["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/classes/{class_id}/students"))
            .bearer(&teacher.access_token)
            .json(json!({"student_ids": [student.user_id]}))
            .send()
            .await
            .expect(axum::http::StatusCode::OK, None);
        let parent = app.member(&admin, "parent").await;
        app.post(&format!("/api/v1/organizations/current/members/{}/children", parent.user_id))
            .bearer(&admin.access_token)
            .json(json!({"child_id": student.user_id}))
            .send()
            .await
            .expect(axum::http::StatusCode::CREATED, None);
        let lesson = app
            .post("/api/v1/lessons")
            .bearer(&teacher.access_token)
            .json(json!({"title": "Fixture", "summary": "S.", "objectives": ["O"], "sections": [{"heading": "H", "body": "B"}]}))
            .send()
            .await;
        let lesson_id = lesson.data()["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/lessons/{lesson_id}/publish"))
            .bearer(&teacher.access_token)
            .json(json!({"class_ids": [class_id]}))
            .send()
            .await
            .expect(axum::http::StatusCode::OK, None);
        let assessment = app
            .post("/api/v1/assessments")
            .bearer(&teacher.access_token)
            .json(json!({"title": "Fixture", "questions": [{"kind": "true_false", "prompt": "Ice floats.", "answer": true}]}))
            .send()
            .await;
        let assessment_id = assessment.data()["id"].as_str().unwrap().to_owned();
        app.post(&format!("/api/v1/assessments/{assessment_id}/publish"))
            .bearer(&teacher.access_token)
            .json(json!({"class_ids": [class_id]}))
            .send()
            .await
            .expect(axum::http::StatusCode::OK, None);
        let message = app
            .post("/api/v1/messages")
            .bearer(&teacher.access_token)
            .json(json!({"recipient_ids": [student.user_id], "subject": "Fixture", "body": "Hello."}))
            .send()
            .await;
        message.expect(axum::http::StatusCode::CREATED, None);
        let message_id = message.data()["id"].as_str().unwrap().to_owned();
        let thread_id = message.data()["thread_id"].as_str().unwrap().to_owned();
        let query = app
            .post("/api/v1/analytics/custom-query")
            .bearer(&admin.access_token)
            .json(json!({"metrics": ["logins"]}))
            .send()
            .await;
        query.expect(axum::http::StatusCode::CREATED, None);
        let query_id = query.data()["query_id"].as_str().unwrap().to_owned();
        let job = |response: crate::helpers::TestResponse| {
            response.expect(StatusCode::ACCEPTED, None);
            response.data()["id"].as_str().unwrap().to_owned()
        };
        let asked = json!({"user_id": student.user_id});
        let export = app.post("/api/v1/compliance/exports").bearer(&admin.access_token).json(asked).send().await;
        let leaver = app.member(&admin, "student").await;
        let asked = json!({"user_id": leaver.user_id});
        let erasure = app.post("/api/v1/compliance/erasures").bearer(&admin.access_token).json(asked).send().await;
        let environment = app
            .post("/api/v1/roblox/environments")
            .bearer(&teacher.access_token)
            .json(json!({"content_id": generated.content_id, "class_id": class_id}))
            .send()
            .await;
        environment.expect(StatusCode::CREATED, None);
        Self {
            environment_id: environment.data()["id"].as_str().unwrap().to_owned(),
            export_id: job(export),
            erasure_id: job(erasure),
            query_id,
            message_id,
            thread_id,
            assessment_id,
            lesson_id,
            class_id,
            parent,
            teacher,
            student,
            content_edit: json!({"title": view["title"], "summary": view["summary"],
                                 "objectives": view["objectives"], "questions": view["questions"]}),
            generated,
            api_key_id: app.create_api_key(&admin, json!({"name": "fixture", "scopes": ["read"]})).await.id,
            invite_id: pending_invite(app, &admin).await,
            admin,
        }
    }

    fn by_role(&self, role: &str) -> &Account {
        match role {
            "admin" => &self.admin,
            "teacher" => &self.teacher,
            "student" => &self.student,
            "parent" => &self.parent,
            other => panic!("unknown role {other}"),
        }
    }
}

/// The id of a new invite `admin` sends and nobody uses.
async fn pending_invite(app: &TestApp, admin: &Account) -> String {
    let invite = app
        .post("/api/v1/organizations/current/invites")
        .bearer(&admin.access_token)
        .json(json!({"email": crate::helpers::unique_email("pending"), "role": "student"}))
        .send()
        .await;
    invite.expect(StatusCode::CREATED, None);
    invite.data()["id"].as_str().unwrap().to_owned()
}

async fn call(
    app: &TestApp,
    operation: &Operation,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> crate::helpers::TestResponse {
    let mut call = app.call(operation.method.clone(), path);
    if let Some(token) = token {
        call = call.bearer(token);
    }
    if let Some(body) = body {
        call = call.json(body);
    }
    call.send().await
}

async fn expired_token(app: &TestApp, account: &Account) -> String {
    let keys = app.state.key_set().await.unwrap();
    let payload = account.access_token.split('.').nth(1).unwrap();
    let mut claims: AccessClaims = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, payload).unwrap(),
    )
    .unwrap();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    (claims.iat, claims.nbf, claims.exp) = (now - 3600, now - 3600, now - 120);
    jwt::sign(&keys, &claims)
}

#[tokio::test]
async fn every_authenticated_operation_refuses_missing_garbage_and_expired_tokens() {
    let app = TestApp::spawn().await;
    let a = Tenant::new(&app).await;
    let before = snapshot(&app, &a.admin).await;
    let expired = expired_token(&app, &a.admin).await;
    for operation in operations().iter().filter(|o| o.authenticated) {
        let path = concrete_path(operation, &a);
        for (case, token) in
            [("no token", None), ("garbage", Some("garbage.token.here")), ("expired", Some(expired.as_str()))]
        {
            let response = call(&app, operation, &path, token, valid_body(operation, &a)).await;
            assert_eq!(
                response.status,
                StatusCode::UNAUTHORIZED,
                "{case}: {} {path}: {}",
                operation.method,
                response.text
            );
            assert_eq!(response.code(), "unauthenticated");
        }
    }
    assert_eq!(snapshot(&app, &a.admin).await, before, "a refused request changed data");
}

#[tokio::test]
async fn another_tenants_ids_are_404_and_change_nothing() {
    let app = TestApp::spawn().await;
    let a = Tenant::new(&app).await;
    let b = Tenant::new(&app).await;
    let before = snapshot(&app, &a.admin).await;
    let with_ids: Vec<_> = operations().into_iter().filter(|o| o.authenticated && names_ids(&o.path)).collect();
    assert!(!with_ids.is_empty());
    for operation in &with_ids {
        let path = concrete_path(operation, &a);
        // B's caller holds a role the operation allows (its admin where
        // admins may), so only tenancy can refuse this.
        let allows = |role: &str| operation.roles.as_ref().is_none_or(|roles| roles.iter().any(|r| r == role));
        let role = ["admin", "teacher", "student", "parent"].into_iter().find(|r| allows(r)).unwrap();
        let caller = b.by_role(role);
        let response = call(&app, operation, &path, Some(&caller.access_token), valid_body(operation, &b)).await;
        assert_eq!(response.status, StatusCode::NOT_FOUND, "{} {path}: {}", operation.method, response.text);
        assert_eq!(response.code(), "not_found");
    }
    assert_eq!(snapshot(&app, &a.admin).await, before, "another tenant changed data");
}

#[tokio::test]
async fn every_role_rule_refuses_the_other_roles_with_403() {
    let app = TestApp::spawn().await;
    let a = Tenant::new(&app).await;
    let before = snapshot(&app, &a.admin).await;
    let ruled: Vec<_> = operations().into_iter().filter(|o| o.roles.is_some()).collect();
    assert!(!ruled.is_empty());
    for operation in &ruled {
        let allowed = operation.roles.as_ref().unwrap();
        for role in ["admin", "teacher", "student", "parent"].into_iter().filter(|r| !allowed.iter().any(|a| a == r)) {
            let caller = a.by_role(role);
            let path = concrete_path(operation, &a);
            let response = call(&app, operation, &path, Some(&caller.access_token), valid_body(operation, &a)).await;
            assert_eq!(
                response.status,
                StatusCode::FORBIDDEN,
                "{role}: {} {path}: {}",
                operation.method,
                response.text
            );
            assert_eq!(response.code(), "forbidden");
        }
    }
    assert_eq!(snapshot(&app, &a.admin).await, before, "a forbidden request changed data");
}
