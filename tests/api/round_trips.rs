//! DynamoDB calls per request, counted by an SDK interceptor on the client
//! every function uses: no Scan anywhere, and at most three round trips for
//! a read route (the authorizer's included), as docs/architecture.md budgets.
//! `make bench` prints the table (`--nocapture`).

use std::collections::BTreeMap;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::calls::CallLog;
use crate::helpers::{TestApp, TestResponse, unique_email};

const READ_BUDGET: usize = 3;

/// A read with an API key instead of a token, measured beside the routes.
const WITH_API_KEY: &str = "/api/v1/organizations/current (with an API key)";
/// A dashboard read answered from its kept copy, measured beside the routes
/// (the route itself is measured computing its answer), and one that also
/// settles the finished days of a fresh tenant into its series (once a day
/// per tenant: reported, not budgeted).
const KEPT: &str = " (kept)";
const FIRST_OF_THE_DAY: &str = " (first of the day)";
/// What a dashboard or analytics read may take from its kept copy (the
/// authorizer's read and the copy), computing the metrics (and a lookup of
/// the copy, one read, the copy kept), and computing a series (the same,
/// with a Query of the finished days beside a read of today's counters).
const KEPT_BUDGET: usize = 2;
const METRICS_BUDGET: usize = 4;
const SERIES_BUDGET: usize = 5;
/// A page of the activity feed: the authorizer's read and one Query per
/// shard of the feed, all four at once.
const FEED_BUDGET: usize = 1 + store::activity::FEED_SHARDS as usize;
/// The organization's usage: the authorizer's read, then the organization
/// beside one Query per shard of its request counts for this month (and the
/// last, in a week that began in it), all at once: two round trips.
const USAGE_BUDGET: usize = 2 + 2 * store::request_counts::SHARDS as usize;
/// A page of the audit log: the authorizer's read, one Query per shard (all
/// at once), and the entry that audits the read.
const AUDIT_LOG_BUDGET: usize = 2 + store::audit_log::SHARDS as usize;
/// The compliance summary: the authorizer's read, then the totals, the
/// pending jobs and one Query per shard of the audit log, all at once.
const STATUS_BUDGET: usize = 3 + store::audit_log::SHARDS as usize;
/// A role's overview: the authorizer's read, what the person holds (their
/// classes and progress, one Query), then the class items. A parent's reads
/// the links to their children first: one call more, and one per child
/// beside the first (measured with one).
const OVERVIEW_BUDGET: usize = 4;

pub(crate) struct Measured {
    method: &'static str,
    path: String,
    /// Every call but the authorizer's count of the request, which runs
    /// beside its read and costs no round trip.
    calls: Vec<String>,
    /// Those counts: one per request whose credential verified.
    counted: usize,
}

/// The authorizer's count of a request for its organization (`store::request_counts`).
fn counts_a_request(exchange: &crate::calls::Exchange) -> bool {
    exchange.operation == "UpdateItem"
        && exchange.request["Key"]["pk"]["S"].as_str().is_some_and(|pk| pk.contains("#USAGE#"))
}

async fn measure(
    log: &CallLog,
    table: &mut Vec<Measured>,
    method: &'static str,
    path: &str,
    call: impl Future<Output = TestResponse>,
) -> TestResponse {
    log.take();
    log.take_exchanges();
    let response = call.await;
    assert!(
        response.status.is_success() || response.status == StatusCode::NOT_MODIFIED,
        "{method} {path}: {}",
        response.text
    );
    let counted = log.take_exchanges().iter().filter(|exchange| counts_a_request(exchange)).count();
    let mut calls = log.take();
    for _ in 0..counted {
        let count = calls.iter().position(|call| call == "UpdateItem").expect("the count is an UpdateItem");
        calls.remove(count);
    }
    table.push(Measured { method, path: path.to_owned(), calls, counted });
    response
}

#[tokio::test]
async fn every_route_stays_within_its_dynamodb_budget() {
    let log = CallLog::default();
    let stripe = crate::payments::FakeStripe::serve().await;
    let stripe_config = crate::payments::stripe_config(&stripe.base_url, crate::payments::keys()).await;
    let (open_cloud, _) = crate::roblox::FakeOpenCloud::serve(Vec::new()).await;
    let app = TestApp::spawn_intercepted(log.clone(), |config| {
        config.pusher = Some(crate::helpers::pusher("http://127.0.0.1:9"));
        config.stripe = Some(stripe_config);
        config.roblox_api_base = open_cloud;
    })
    .await;
    let table = every_route(&app, &log).await;

    println!("\n| route | DynamoDB calls | operations |\n|---|---|---|");
    println!("(each authorized request also counts itself beside the authorizer's read: one UpdateItem, not listed)");
    for m in &table {
        let mut ops: BTreeMap<&str, usize> = BTreeMap::new();
        m.calls.iter().for_each(|c| *ops.entry(c.as_str()).or_default() += 1);
        let ops: Vec<String> = ops.into_iter().map(|(op, n)| format!("{op}×{n}")).collect();
        println!("| {} {} | {} | {} |", m.method, m.path, m.calls.len(), ops.join(", "));
    }
    let routes = crate::helpers::stack().await.template.routes();
    let public: Vec<(&str, &str)> =
        routes.iter().filter(|r| !r.authorized).map(|r| (r.method.as_str(), r.path.as_str())).collect();
    for m in &table {
        assert!(!m.calls.iter().any(|c| c == "Scan"), "{} {} scans", m.method, m.path);
        let counted = usize::from(!public.contains(&(m.method, m.path.as_str())));
        assert_eq!(
            m.counted, counted,
            "{} {}: the authorizer counts each request whose credential verifies",
            m.method, m.path
        );
        if m.path == WITH_API_KEY {
            // With an API key the authorizer reads the key's lookup, then the
            // organisation and key beside the day's usage count: one round
            // trip more than a token's, and one call that runs concurrently.
            let calls = &m.calls;
            assert_eq!(calls.iter().filter(|c| *c == "UpdateItem").count(), 1, "{calls:?}");
            assert!(calls.len() - 1 <= READ_BUDGET, "an API-key read makes {} sequential round trips", calls.len() - 1);
        } else {
            let budget = match m.path.as_str() {
                first if first.ends_with(FIRST_OF_THE_DAY) => continue,
                kept if kept.ends_with(KEPT) => KEPT_BUDGET,
                "/api/v1/dashboard/metrics" => METRICS_BUDGET,
                "/api/v1/organizations/current/usage" => USAGE_BUDGET,
                "/api/v1/dashboard/activity" => FEED_BUDGET,
                "/api/v1/compliance/audit-logs" => AUDIT_LOG_BUDGET,
                // Totals and pending jobs beside the audit log's last day.
                "/api/v1/compliance/status" => STATUS_BUDGET,
                path if path.starts_with("/api/v1/dashboard/overview") => OVERVIEW_BUDGET,
                path if path.starts_with("/api/v1/dashboard/") || path.starts_with("/api/v1/analytics/") => {
                    SERIES_BUDGET
                }
                _ if m.method == "GET" => READ_BUDGET,
                _ => continue,
            };
            assert!(
                m.calls.len() <= budget,
                "{} {} makes {} DynamoDB calls: {:?}",
                m.method,
                m.path,
                m.calls.len(),
                m.calls
            );
        }
    }
}

/// Calls every documented operation once, successfully, in a fresh
/// organisation, counting each one's DynamoDB calls with `log` (an
/// interceptor on `app`'s client, or a log nothing writes to). Also what
/// `tests/api/iam.rs` drives to see every call each function makes.
pub(crate) async fn every_route(app: &TestApp, log: &CallLog) -> Vec<Measured> {
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let leaving = app.member(&admin, "student").await;
    let mut table = Vec::new();
    let t = &mut table;

    measure(log, t, "GET", "/api/v1/health", app.get("/api/v1/health").send()).await;
    measure(log, t, "GET", "/api/v1/health/live", app.get("/api/v1/health/live").send()).await;
    measure(log, t, "GET", "/api/v1/health/ready", app.get("/api/v1/health/ready").send()).await;
    measure(log, t, "GET", "/api/v1/openapi.json", app.get("/api/v1/openapi.json").send()).await;
    measure(log, t, "GET", "/api/v1/docs", app.get("/api/v1/docs").send()).await;
    let body = json!({"email": unique_email("budget"), "password": "a-long-password", "first_name": "B", "last_name": "U",
        "organization_name": "Budget School"});
    measure(log, t, "POST", "/api/v1/auth/register", app.post("/api/v1/auth/register").json(body).send()).await;
    let login = measure(log, t, "POST", "/api/v1/auth/login", app.login(&admin.email, &admin.password)).await;
    let refresh = login.data()["refresh_token"].as_str().unwrap().to_owned();
    let refreshed = measure(
        log,
        t,
        "POST",
        "/api/v1/auth/refresh",
        app.post("/api/v1/auth/refresh").json(json!({"refresh_token": refresh})).send(),
    )
    .await;
    let spare = refreshed.data()["refresh_token"].as_str().unwrap().to_owned();
    let token = &admin.access_token;
    measure(log, t, "GET", "/api/v1/auth/me", app.get("/api/v1/auth/me").bearer(token).send()).await;
    measure(
        log,
        t,
        "POST",
        "/api/v1/auth/logout",
        app.post("/api/v1/auth/logout").bearer(token).json(json!({"refresh_token": spare})).send(),
    )
    .await;
    let signing_out = app.member(&admin, "parent").await;
    measure(
        log,
        t,
        "POST",
        "/api/v1/auth/logout-all",
        app.post("/api/v1/auth/logout-all").bearer(&signing_out.access_token).send(),
    )
    .await;
    measure(
        log,
        t,
        "GET",
        "/api/v1/organizations/current",
        app.get("/api/v1/organizations/current").bearer(token).send(),
    )
    .await;
    let usage = app.get("/api/v1/organizations/current/usage").bearer(token).send();
    measure(log, t, "GET", "/api/v1/organizations/current/usage", usage).await;
    measure(
        log,
        t,
        "PATCH",
        "/api/v1/organizations/current",
        app.patch("/api/v1/organizations/current").bearer(token).json(json!({"name": "Budgeted"})).send(),
    )
    .await;
    measure(
        log,
        t,
        "GET",
        "/api/v1/organizations/current/members",
        app.get("/api/v1/organizations/current/members?limit=2").bearer(token).send(),
    )
    .await;
    let member = format!("/api/v1/organizations/current/members/{}", teacher.user_id);
    measure(
        log,
        t,
        "PATCH",
        "/api/v1/organizations/current/members/{user_id}",
        app.patch(&member).bearer(token).json(json!({"role": "parent"})).send(),
    )
    .await;
    let leaver = format!("/api/v1/organizations/current/members/{}", leaving.user_id);
    measure(
        log,
        t,
        "DELETE",
        "/api/v1/organizations/current/members/{user_id}",
        app.delete(&leaver).bearer(token).send(),
    )
    .await;
    let invite = measure(
        log,
        t,
        "POST",
        "/api/v1/organizations/current/invites",
        app.post("/api/v1/organizations/current/invites")
            .bearer(token)
            .json(json!({"email": unique_email("budget"), "role": "teacher"}))
            .send(),
    )
    .await;
    let invites = "/api/v1/organizations/current/invites";
    measure(log, t, "GET", invites, app.get(invites).bearer(token).send()).await;
    let withdraw = format!("{invites}/{}", invite.data()["id"].as_str().unwrap());
    measure(log, t, "DELETE", "/api/v1/organizations/current/invites/{id}", app.delete(&withdraw).bearer(token).send())
        .await;
    measure(
        log,
        t,
        "POST",
        "/api/v1/auth/password",
        app.post("/api/v1/auth/password")
            .bearer(token)
            .json(json!({"current_password": admin.password, "new_password": "budget-password-2"}))
            .send(),
    )
    .await;

    let created = measure(
        log,
        t,
        "POST",
        "/api/v1/api-keys",
        app.post("/api/v1/api-keys").bearer(token).json(json!({"name": "budget", "scopes": ["read"]})).send(),
    )
    .await;
    let key_id = created.data()["id"].as_str().unwrap().to_owned();
    let api_key = created.data()["key"].as_str().unwrap().to_owned();
    let key_path = format!("/api/v1/api-keys/{key_id}");
    measure(log, t, "GET", "/api/v1/api-keys", app.get("/api/v1/api-keys").bearer(token).send()).await;
    measure(log, t, "GET", "/api/v1/api-keys/{id}", app.get(&key_path).bearer(token).send()).await;
    measure(log, t, "GET", "/api/v1/api-keys/{id}/usage", app.get(&format!("{key_path}/usage")).bearer(token).send())
        .await;
    let org = app.get("/api/v1/organizations/current").api_key(&api_key).send();
    measure(log, t, "GET", WITH_API_KEY, org).await;
    measure(
        log,
        t,
        "POST",
        "/api/v1/api-keys/{id}/rotate",
        app.post(&format!("{key_path}/rotate")).bearer(token).send(),
    )
    .await;
    measure(log, t, "DELETE", "/api/v1/api-keys/{id}", app.delete(&key_path).bearer(token).send()).await;

    let quiz = json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"});
    measure(
        log,
        t,
        "POST",
        "/api/v1/content/generate",
        app.post("/api/v1/content/generate").bearer(token).json(quiz.clone()).send(),
    )
    .await;
    let made = app.generated(&admin, quiz).await;
    let job_path = format!("/api/v1/content/jobs/{}", made.job_id);
    let content_path = format!("/api/v1/content/{}", made.content_id);
    measure(
        log,
        t,
        "GET",
        "/api/v1/content/jobs",
        app.get("/api/v1/content/jobs?status=succeeded").bearer(token).send(),
    )
    .await;
    measure(log, t, "GET", "/api/v1/content/jobs/{id}", app.get(&job_path).bearer(token).send()).await;
    measure(log, t, "GET", "/api/v1/content", app.get("/api/v1/content").bearer(token).send()).await;
    let view = measure(log, t, "GET", "/api/v1/content/{id}", app.get(&content_path).bearer(token).send()).await;
    measure(
        log,
        t,
        "GET",
        "/api/v1/content/search",
        app.get("/api/v1/content/search?q=fractions").bearer(token).send(),
    )
    .await;
    let edit = json!({"title": "Fractions, again", "summary": view.data()["summary"],
                      "objectives": view.data()["objectives"], "questions": view.data()["questions"]});
    measure(
        log,
        t,
        "PUT",
        "/api/v1/content/{id}",
        app.call(axum::http::Method::PUT, &content_path).bearer(token).json(edit).send(),
    )
    .await;
    measure(
        log,
        t,
        "POST",
        "/api/v1/content/{id}/publish",
        app.post(&format!("{content_path}/publish")).bearer(token).send(),
    )
    .await;
    measure(log, t, "DELETE", "/api/v1/content/{id}", app.delete(&content_path).bearer(token).send()).await;
    let student = app.member(&admin, "student").await;
    let class = measure(
        log,
        t,
        "POST",
        "/api/v1/classes",
        app.post("/api/v1/classes").bearer(token).json(json!({"name": "Budget"})).send(),
    )
    .await;
    let class_path = format!("/api/v1/classes/{}", class.data()["id"].as_str().unwrap());
    let roster_path = format!("{class_path}/students");
    measure(
        log,
        t,
        "POST",
        "/api/v1/classes/{id}/students",
        app.post(&roster_path).bearer(token).json(json!({"student_ids": [student.user_id]})).send(),
    )
    .await;
    // A student's reads are the dearer ones: their roster entries, then the classes.
    measure(log, t, "GET", "/api/v1/classes", app.get("/api/v1/classes").bearer(&student.access_token).send()).await;
    measure(log, t, "GET", "/api/v1/classes/{id}", app.get(&class_path).bearer(&student.access_token).send()).await;
    measure(log, t, "GET", "/api/v1/classes/{id}/students", app.get(&roster_path).bearer(token).send()).await;
    measure(
        log,
        t,
        "PUT",
        "/api/v1/classes/{id}",
        app.call(axum::http::Method::PUT, &class_path).bearer(token).json(json!({"name": "Budget 2"})).send(),
    )
    .await;
    measure(
        log,
        t,
        "DELETE",
        "/api/v1/classes/{id}/students/{student_id}",
        app.delete(&format!("{roster_path}/{}", student.user_id)).bearer(token).send(),
    )
    .await;
    let parent = app.member(&admin, "parent").await;
    let children = format!("/api/v1/organizations/current/members/{}/children", parent.user_id);
    measure(
        log,
        t,
        "POST",
        "/api/v1/organizations/current/members/{user_id}/children",
        app.post(&children).bearer(token).json(json!({"child_id": student.user_id})).send(),
    )
    .await;
    measure(
        log,
        t,
        "GET",
        "/api/v1/organizations/current/members/{user_id}/children",
        app.get(&children).bearer(&parent.access_token).send(),
    )
    .await;
    app.post(&roster_path).bearer(token).json(json!({"student_ids": [student.user_id]})).send().await;
    let of_child = format!("/api/v1/classes?student_id={}", student.user_id);
    let parents_view =
        measure(log, t, "GET", "/api/v1/classes", app.get(&of_child).bearer(&parent.access_token).send()).await;
    assert_eq!(parents_view.data().as_array().unwrap().len(), 1);
    measure(
        log,
        t,
        "DELETE",
        "/api/v1/organizations/current/members/{user_id}/children/{child_id}",
        app.delete(&format!("{children}/{}", student.user_id)).bearer(token).send(),
    )
    .await;
    let lesson_body =
        json!({"title": "Budget", "summary": "S.", "objectives": ["O"], "sections": [{"heading": "H", "body": "B"}]});
    let lesson = measure(
        log,
        t,
        "POST",
        "/api/v1/lessons",
        app.post("/api/v1/lessons").bearer(token).json(lesson_body.clone()).send(),
    )
    .await;
    let lesson_path = format!("/api/v1/lessons/{}", lesson.data()["id"].as_str().unwrap());
    let class_id = class.data()["id"].as_str().unwrap();
    measure(
        log,
        t,
        "POST",
        "/api/v1/lessons/{id}/publish",
        app.post(&format!("{lesson_path}/publish")).bearer(token).json(json!({"class_ids": [class_id]})).send(),
    )
    .await;
    // A student's reads: their place in the class is read with the lessons.
    measure(
        log,
        t,
        "GET",
        "/api/v1/lessons",
        app.get(&format!("/api/v1/lessons?class_id={class_id}")).bearer(&student.access_token).send(),
    )
    .await;
    measure(log, t, "GET", "/api/v1/lessons/{id}", app.get(&lesson_path).bearer(&student.access_token).send()).await;
    let progress_path = format!("{lesson_path}/progress");
    let progress = json!({"status": "completed", "percent": 100, "time_spent_seconds": 600});
    measure(
        log,
        t,
        "PUT",
        "/api/v1/lessons/{id}/progress",
        app.call(axum::http::Method::PUT, &progress_path).bearer(&student.access_token).json(progress).send(),
    )
    .await;
    measure(
        log,
        t,
        "GET",
        "/api/v1/lessons/{id}/progress",
        app.get(&progress_path).bearer(&student.access_token).send(),
    )
    .await;
    let progress_list = format!("/api/v1/lessons/progress?student_id={}", student.user_id);
    measure(log, t, "GET", "/api/v1/lessons/progress", app.get(&progress_list).bearer(token).send()).await;
    let statistics = format!("{lesson_path}/statistics");
    let stats =
        measure(log, t, "GET", "/api/v1/lessons/{id}/statistics", app.get(&statistics).bearer(token).send()).await;
    assert_eq!(stats.data()["completed"], 1);
    measure(
        log,
        t,
        "PUT",
        "/api/v1/lessons/{id}",
        app.call(axum::http::Method::PUT, &lesson_path).bearer(token).json(lesson_body).send(),
    )
    .await;
    measure(log, t, "DELETE", "/api/v1/lessons/{id}", app.delete(&lesson_path).bearer(token).send()).await;
    let assessment_body =
        json!({"title": "Budget", "questions": [{"kind": "true_false", "prompt": "Ice floats.", "answer": true}]});
    let assessment = measure(
        log,
        t,
        "POST",
        "/api/v1/assessments",
        app.post("/api/v1/assessments").bearer(token).json(assessment_body.clone()).send(),
    )
    .await;
    let assessment_path = format!("/api/v1/assessments/{}", assessment.data()["id"].as_str().unwrap());
    measure(
        log,
        t,
        "POST",
        "/api/v1/assessments/{id}/publish",
        app.post(&format!("{assessment_path}/publish")).bearer(token).json(json!({"class_ids": [class_id]})).send(),
    )
    .await;
    measure(
        log,
        t,
        "GET",
        "/api/v1/assessments",
        app.get(&format!("/api/v1/assessments?class_id={class_id}")).bearer(&student.access_token).send(),
    )
    .await;
    measure(log, t, "GET", "/api/v1/assessments/{id}", app.get(&assessment_path).bearer(&student.access_token).send())
        .await;
    let attempt = json!({"attempt": 1, "answers": [true]});
    let graded = measure(
        log,
        t,
        "POST",
        "/api/v1/assessments/{id}/submit",
        app.post(&format!("{assessment_path}/submit")).bearer(&student.access_token).json(attempt).send(),
    )
    .await;
    assert_eq!(graded.data()["percent"], 100.0);
    measure(
        log,
        t,
        "GET",
        "/api/v1/assessments/{id}/submissions",
        app.get(&format!("{assessment_path}/submissions")).bearer(token).send(),
    )
    .await;
    measure(
        log,
        t,
        "GET",
        "/api/v1/assessments/{id}/statistics",
        app.get(&format!("{assessment_path}/statistics")).bearer(token).send(),
    )
    .await;
    measure(
        log,
        t,
        "PUT",
        "/api/v1/assessments/{id}",
        app.call(axum::http::Method::PUT, &assessment_path).bearer(token).json(assessment_body).send(),
    )
    .await;
    measure(log, t, "DELETE", "/api/v1/assessments/{id}", app.delete(&assessment_path).bearer(token).send()).await;
    let note = json!({"recipient_ids": [student.user_id], "subject": "Budget", "body": "Counted calls."});
    let sent =
        measure(log, t, "POST", "/api/v1/messages", app.post("/api/v1/messages").bearer(token).json(note).send()).await;
    let message_path = format!("/api/v1/messages/{}", sent.data()["id"].as_str().unwrap());
    let thread_path = format!("/api/v1/messages/thread/{}", sent.data()["thread_id"].as_str().unwrap());
    let reader = &student.access_token;
    measure(log, t, "GET", "/api/v1/messages", app.get("/api/v1/messages").bearer(reader).send()).await;
    measure(
        log,
        t,
        "GET",
        "/api/v1/messages/unread-count",
        app.get("/api/v1/messages/unread-count").bearer(reader).send(),
    )
    .await;
    measure(log, t, "GET", "/api/v1/messages/thread/{thread_id}", app.get(&thread_path).bearer(reader).send()).await;
    measure(log, t, "GET", "/api/v1/messages/{id}", app.get(&message_path).bearer(reader).send()).await;
    for (route, action) in [
        ("/api/v1/messages/{id}/read", "read"),
        ("/api/v1/messages/{id}/unread", "unread"),
        ("/api/v1/messages/{id}/star", "star"),
        ("/api/v1/messages/{id}/archive", "archive"),
    ] {
        measure(log, t, "POST", route, app.post(&format!("{message_path}/{action}")).bearer(reader).send()).await;
    }
    measure(log, t, "DELETE", "/api/v1/messages/{id}", app.delete(&message_path).bearer(reader).send()).await;
    measure(log, t, "DELETE", "/api/v1/classes/{id}", app.delete(&class_path).bearer(token).send()).await;
    // The first read of the day settles the tenant's finished days (84 of
    // them, more than any later read needs); then each route is computed
    // (parameters not asked for before) and answered from its copy.
    let today = domain::day::Day::of(app.state.now());
    let settling = format!("/api/v1/dashboard/statistics?from={}&to={today}", today.plus(-83));
    let first = format!("/api/v1/dashboard/statistics{FIRST_OF_THE_DAY}");
    measure(log, t, "GET", &first, app.get(&settling).bearer(token).send()).await;
    for (route, path) in [
        ("/api/v1/dashboard/statistics", "/api/v1/dashboard/statistics".to_owned()),
        ("/api/v1/dashboard/metrics", "/api/v1/dashboard/metrics".to_owned()),
        ("/api/v1/analytics/trends/{metric}", "/api/v1/analytics/trends/lessons_completed".to_owned()),
        ("/api/v1/analytics/cohorts", "/api/v1/analytics/cohorts?weeks=12".to_owned()),
    ] {
        measure(log, t, "GET", route, app.get(&path).bearer(token).send()).await;
        measure(log, t, "GET", &format!("{route}{KEPT}"), app.get(&path).bearer(token).send()).await;
    }
    let query = json!({"metrics": ["logins", "lessons_completed"], "granularity": "weekly"});
    let ran = measure(
        log,
        t,
        "POST",
        "/api/v1/analytics/custom-query",
        app.post("/api/v1/analytics/custom-query").bearer(token).json(query).send(),
    )
    .await;
    let exported = format!("/api/v1/analytics/export/csv?query_id={}", ran.data()["query_id"].as_str().unwrap());
    measure(log, t, "GET", "/api/v1/analytics/export/{format}", app.get(&exported).bearer(token).send()).await;
    let feed = app.get("/api/v1/dashboard/activity").bearer(token).send();
    measure(log, t, "GET", "/api/v1/dashboard/activity", feed).await;
    // Each role's overview, with a class of the student's and a parent
    // linked to them (a parent's is the largest: the links, then each
    // child's holdings); a student's is the route's measure.
    let (teacher, parent) = (app.member(&admin, "teacher").await, app.member(&admin, "parent").await);
    app.class_with(&teacher, &[&student]).await;
    app.link_parent(&admin, &parent, &student).await;
    for (account, route) in [
        (&admin, "/api/v1/dashboard/overview (admin)"),
        (&teacher, "/api/v1/dashboard/overview (teacher)"),
        (&student, "/api/v1/dashboard/overview"),
        (&parent, "/api/v1/dashboard/overview (parent of one)"),
    ] {
        let overview = app.get("/api/v1/dashboard/overview").bearer(&account.access_token).send();
        measure(log, t, "GET", route, overview).await;
    }
    let export = app.post("/api/v1/dashboard/export").bearer(token).json(json!({"format": "csv"})).send();
    measure(log, t, "POST", "/api/v1/dashboard/export", export).await;
    let channel = json!({"socket_id": "1234.5678", "channel_name": format!("private-org-{}", admin.org_id)});
    measure(log, t, "POST", "/api/v1/pusher/auth", app.post("/api/v1/pusher/auth").bearer(token).json(channel).send())
        .await;

    // Payments, against the local Stripe the app is configured with: a
    // checkout makes the customer, and its subscription's signed event
    // moves the organisation to pro.
    let checkout =
        app.post("/api/v1/payments/checkout").bearer(token).json(json!({"tier": "pro", "interval": "month"}));
    measure(log, t, "POST", "/api/v1/payments/checkout", checkout.send()).await;
    measure(log, t, "POST", "/api/v1/payments/portal", app.post("/api/v1/payments/portal").bearer(token).send()).await;
    let billing: domain::billing::Billing = app.state.db.get(&admin.tenant().billing()).await.unwrap().unwrap();
    let customer = billing.customer_id.expect("the checkout made a customer");
    let event = crate::payments::subscription_event(
        "customer.subscription.created",
        &customer,
        "active",
        crate::payments::PRO_MONTH,
        app.state.now().unix_timestamp(),
    );
    let delivered = crate::payments::deliver(app, &event, crate::payments::WEBHOOK_SECRET);
    let applied = measure(log, t, "POST", "/api/v1/stripe/webhooks", delivered).await;
    assert_eq!(applied.data()["outcome"], "applied", "{}", applied.text);
    let subscription = app.get("/api/v1/payments/subscription").bearer(token).send();
    measure(log, t, "GET", "/api/v1/payments/subscription", subscription).await;

    // The audit log, filtered as an auditor would.
    let filtered = format!("/api/v1/compliance/audit-logs?action=member.role_changed&actor_id={}", admin.user_id);
    let audit_log =
        measure(log, t, "GET", "/api/v1/compliance/audit-logs", app.get(&filtered).bearer(token).send()).await;
    assert!(!audit_log.data().as_array().unwrap().is_empty(), "{}", audit_log.text);

    // Compliance: a consent, an export and an erasure asked for (the
    // worker's runs are measured in tests/api/compliance.rs), the summary.
    let erased = app.member(&admin, "student").await;
    let consent = json!({"user_id": erased.user_id, "type": "coppa", "granted": true});
    let consent = app.post("/api/v1/compliance/consents").bearer(token).json(consent).send();
    measure(log, t, "POST", "/api/v1/compliance/consents", consent).await;
    let export = app.post("/api/v1/compliance/exports").bearer(token).json(json!({"user_id": erased.user_id})).send();
    let export = measure(log, t, "POST", "/api/v1/compliance/exports", export).await;
    let export_path = format!("/api/v1/compliance/exports/{}", export.data()["id"].as_str().unwrap());
    measure(log, t, "GET", "/api/v1/compliance/exports/{id}", app.get(&export_path).bearer(token).send()).await;
    let erasure = app.post("/api/v1/compliance/erasures").bearer(token).json(json!({"user_id": erased.user_id}));
    let erasure = measure(log, t, "POST", "/api/v1/compliance/erasures", erasure.send()).await;
    let erasure_path = format!("/api/v1/compliance/erasures/{}", erasure.data()["id"].as_str().unwrap());
    measure(log, t, "GET", "/api/v1/compliance/erasures/{id}", app.get(&erasure_path).bearer(token).send()).await;
    measure(log, t, "GET", "/api/v1/compliance/status", app.get("/api/v1/compliance/status").bearer(token).send())
        .await;

    // Roblox: an environment of a quiz made into an assessment of a class,
    // read and downloaded; a student's join code, the game's link and a
    // graded attempt (signed as the game signs); then deleted.
    let quiz = json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Angles"});
    let played = app.generated(&admin, quiz).await;
    let game_class = app.class_with(&admin, &[&student]).await;
    let quizzed = json!({"content_id": played.content_id, "max_attempts": 2});
    let quizzed = app.post("/api/v1/assessments").bearer(token).json(quizzed).send().await;
    quizzed.expect(StatusCode::CREATED, None);
    let assessment_id = quizzed.data()["id"].as_str().unwrap().to_owned();
    app.post(&format!("/api/v1/assessments/{assessment_id}/publish"))
        .bearer(token)
        .json(json!({"class_ids": [game_class]}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    let environment = json!({"content_id": played.content_id, "assessment_id": assessment_id,
                             "class_id": game_class, "theme": "ocean"});
    let environment = app.post("/api/v1/roblox/environments").bearer(token).json(environment).send();
    let environment = measure(log, t, "POST", "/api/v1/roblox/environments", environment).await;
    let game = crate::roblox::GameKey::of(&environment);
    let environment_path = format!("/api/v1/roblox/environments/{}", game.environment_id);
    let environments = app.get("/api/v1/roblox/environments").bearer(token).send();
    measure(log, t, "GET", "/api/v1/roblox/environments", environments).await;
    let one = app.get(&environment_path).bearer(token).send();
    measure(log, t, "GET", "/api/v1/roblox/environments/{id}", one).await;
    let download = app.get(&format!("{environment_path}/download?format=place")).bearer(token).send();
    measure(log, t, "GET", "/api/v1/roblox/environments/{id}/download", download).await;
    let code = app.post(&format!("{environment_path}/join-code")).bearer(&student.access_token).send();
    let code = measure(log, t, "POST", "/api/v1/roblox/environments/{id}/join-code", code).await;
    let link = json!({"code": code.data()["code"], "roblox_user_id": 31337});
    let link = game.post(app, "/api/v1/roblox/links", link);
    measure(log, t, "POST", "/api/v1/roblox/links", link).await;
    let questions = quizzed.data()["questions"].as_array().unwrap();
    let answers: Vec<Value> = questions.iter().map(|question| question["answer"].clone()).collect();
    let attempt = |number: u32| {
        json!({"type": "attempt", "roblox_user_id": 31337, "assessment_id": assessment_id,
               "attempt": number, "answers": answers})
    };
    let events = game.events();
    let first = game.post(app, &events, attempt(1));
    measure(log, t, "POST", "/api/v1/roblox/environments/{id}/events", first).await;
    // A second attempt is recorded only beside the first (a condition check).
    game.post(app, &events, attempt(2)).await.expect(StatusCode::OK, None);
    // Published through the local Open Cloud the app is configured with.
    let settings = json!({"api_key": crate::roblox::OPEN_CLOUD_KEY, "universe_id": 111, "place_id": 222});
    let settings = app.call(axum::http::Method::PUT, "/api/v1/roblox/settings").bearer(token).json(settings).send();
    measure(log, t, "PUT", "/api/v1/roblox/settings", settings).await;
    let settings = app.get("/api/v1/roblox/settings").bearer(token).send();
    measure(log, t, "GET", "/api/v1/roblox/settings", settings).await;
    let published = app.post(&format!("{environment_path}/publish")).bearer(token).send();
    measure(log, t, "POST", "/api/v1/roblox/environments/{id}/publish", published).await;
    let deleted = app.delete(&environment_path).bearer(token).send();
    measure(log, t, "DELETE", "/api/v1/roblox/environments/{id}", deleted).await;

    // Every documented operation was measured.
    let doc: serde_json::Value = serde_json::from_str(toolbox_health::OPENAPI_JSON).unwrap();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in item.as_object().unwrap().keys() {
            assert!(
                table.iter().any(|m| m.path == *path && m.method.eq_ignore_ascii_case(method)),
                "{method} {path} has no round-trip measurement in tests/api/round_trips.rs"
            );
        }
    }
    table
}

#[tokio::test]
async fn an_api_keys_use_is_counted_beside_the_authorizers_read_not_after_it() {
    let log = CallLog::default();
    let app = TestApp::spawn_intercepted(log.clone(), |_| {}).await;
    let admin = app.register_org().await;
    let key = app.create_api_key(&admin, json!({"name": "timed", "scopes": ["read"]})).await;
    log.take_events();
    app.get("/api/v1/organizations/current").api_key(&key.key).send().await.expect(StatusCode::OK, None);
    let events = log.take_events();
    let at = |event: &str| events.iter().position(|e| e == event).unwrap_or_else(|| panic!("{event}: {events:?}"));
    // The lookup comes first; the count and the read are in flight together.
    assert!(at("end GetItem") < at("start BatchGetItem"), "{events:?}");
    assert!(at("start UpdateItem") < at("end BatchGetItem"), "{events:?}");
    assert!(at("start BatchGetItem") < at("end UpdateItem"), "{events:?}");
}
