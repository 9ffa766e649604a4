//! Custom queries: fixed lists of metrics, buckets, aggregations and a
//! teacher's own classes, counted exactly, kept a day and exported.

use axum::http::{StatusCode, header};
use serde_json::{Value, json};

use crate::assessments::{ALL_RIGHT, answers, published, submit};
use crate::dashboard::{School, school};
use crate::helpers::{Account, TestApp, TestResponse};
use crate::progress::{at, report};

async fn run(app: &TestApp, account: &Account, query: Value) -> TestResponse {
    app.post("/api/v1/analytics/custom-query").bearer(&account.access_token).json(query).send().await
}

async fn export(app: &TestApp, account: &Account, format: &str, id: &str) -> TestResponse {
    app.get(&format!("/api/v1/analytics/export/{format}?query_id={id}")).bearer(&account.access_token).send().await
}

#[tokio::test]
async fn a_query_counts_the_organization_by_bucket_and_sums_it_up() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let today = domain::day::Day::of(app.state.now());
    let query = json!({"metrics": ["lessons_completed", "assessments_submitted", "members_joined"],
                       "from": today.plus(-2), "to": today, "aggregation": "max"});
    let ran = run(&app, &school.admin, query).await;
    ran.expect(StatusCode::CREATED, None);
    let result = ran.data();
    let rows = result["rows"].as_array().unwrap();
    assert_eq!(rows.len(), 3, "three days, zeros included");
    assert_eq!(rows[2]["start"], today.to_string());
    assert_eq!(rows[2]["values"], json!({"lessons_completed": 2, "assessments_submitted": 1, "members_joined": 4}));
    assert_eq!(rows[0]["values"]["lessons_completed"], 0);
    assert_eq!(
        result["summary"],
        json!({"lessons_completed": 2.0, "assessments_submitted": 1.0, "members_joined": 4.0})
    );
    let weekly = run(
        &app,
        &school.teacher,
        json!({"metrics": ["members_joined"], "granularity": "weekly",
                                                    "from": today, "aggregation": "average"}),
    )
    .await;
    weekly.expect(StatusCode::CREATED, None);
    assert_eq!(weekly.data()["from"], today.week_start().to_string(), "whole weeks");
    assert_eq!(weekly.data()["rows"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn a_teacher_filters_on_their_own_classes_only() {
    let app = TestApp::spawn().await;
    let School { admin, teacher, ben, .. } = school(&app).await;
    // Another teacher's class, where Ben completes a lesson and submits.
    let other = app.member(&admin, "teacher").await;
    let theirs = crate::progress::published_lesson(&app, &other, &[&ben]).await;
    report(&app, &ben, &theirs, at("completed", 100, 10)).await.expect(StatusCode::OK, None);
    let quiz = published(&app, &other, &[&ben], json!({})).await;
    submit(&app, &ben, &quiz, 1, answers(ALL_RIGHT)).await.expect(StatusCode::CREATED, None);
    let classes = |account: &Account| {
        let app = &app;
        let token = account.access_token.clone();
        async move {
            let listed = app.get("/api/v1/classes").bearer(&token).send().await;
            listed
                .data()
                .as_array()
                .unwrap()
                .iter()
                .map(|c| (c["id"].clone(), c["teacher_id"].clone()))
                .collect::<Vec<_>>()
        }
    };
    let all = classes(&admin).await;
    let mine: Vec<Value> = all.iter().filter(|(_, t)| *t == teacher.user_id).map(|(id, _)| id.clone()).collect();
    let others: Vec<Value> = all.iter().filter(|(_, t)| *t == other.user_id).map(|(id, _)| id.clone()).collect();
    assert_eq!((mine.len(), others.len()), (2, 2));
    let metrics = json!(["lessons_completed", "assessments_submitted", "messages_sent"]);

    let ran = run(&app, &teacher, json!({"metrics": metrics, "filters": {"class_ids": mine}})).await;
    ran.expect(StatusCode::CREATED, None);
    // Ann and Ben completed the school's lesson, Ann submitted its quiz; Ben's work elsewhere is not here.
    assert_eq!(
        ran.data()["summary"],
        json!({"lessons_completed": 2.0, "assessments_submitted": 1.0, "messages_sent": 0.0})
    );
    let by_admin = run(&app, &admin, json!({"metrics": metrics, "filters": {"class_ids": others}})).await;
    assert_eq!(
        by_admin.data()["summary"],
        json!({"lessons_completed": 1.0, "assessments_submitted": 1.0, "messages_sent": 0.0})
    );

    let refused =
        run(&app, &teacher, json!({"metrics": ["lessons_completed"], "filters": {"class_ids": [others[0]]}})).await;
    refused.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let twice =
        run(&app, &teacher, json!({"metrics": ["lessons_completed"], "filters": {"class_ids": [mine[0], mine[0]]}}))
            .await;
    twice.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    let elsewhere = app.register_org().await;
    let foreign = app.class_with(&elsewhere, &[]).await;
    let theirs =
        run(&app, &admin, json!({"metrics": ["lessons_completed"], "filters": {"class_ids": [foreign]}})).await;
    theirs.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    let not_by_class = run(&app, &teacher, json!({"metrics": ["logins"], "filters": {"class_ids": mine}})).await;
    not_by_class.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    let unknown = run(
        &app,
        &admin,
        json!({"metrics": ["lessons_completed"], "filters": {"class_ids": [domain::ids::ClassId::new()]}}),
    )
    .await;
    unknown.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
}

#[tokio::test]
async fn a_kept_result_exports_as_csv_or_json_to_its_asker_and_admins_only() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let ran = run(
        &app,
        &school.teacher,
        json!({"metrics": ["lessons_completed", "logins"], "from": domain::day::Day::of(app.state.now())}),
    )
    .await;
    ran.expect(StatusCode::CREATED, None);
    let id = ran.data()["query_id"].as_str().unwrap().to_owned();
    let csv = export(&app, &school.teacher, "csv", &id).await;
    csv.expect(StatusCode::OK, None);
    assert!(csv.headers[header::CONTENT_TYPE].to_str().unwrap().starts_with("text/csv"));
    assert!(csv.headers[header::CONTENT_DISPOSITION].to_str().unwrap().contains(&format!("query-{id}.csv")));
    let today = domain::day::Day::of(app.state.now());
    assert_eq!(csv.text, format!("start,lessons_completed,logins\r\n{today},2,0\r\nsum,2,0\r\n"));
    let json_file = export(&app, &school.admin, "json", &id).await;
    json_file.expect(StatusCode::OK, None);
    assert_eq!(json_file.data(), ran.data());
    assert!(json_file.headers[header::CONTENT_DISPOSITION].to_str().unwrap().contains(&format!("query-{id}.json")));

    let other_teacher = app.member(&school.admin, "teacher").await;
    export(&app, &other_teacher, "csv", &id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let elsewhere = app.register_org().await;
    export(&app, &elsewhere, "csv", &id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    export(&app, &school.teacher, "xlsx", &id).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    for bad in ["/api/v1/analytics/export/csv", "/api/v1/analytics/export/csv?query_id=nope"] {
        app.get(bad)
            .bearer(&school.teacher.access_token)
            .send()
            .await
            .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
    export(&app, &school.ann, "csv", &id).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    // A day later it is gone, whether or not DynamoDB has deleted it yet.
    let key =
        app.create_api_key(&school.admin, json!({"name": "bi", "scopes": ["read", "admin", "analytics:read"]})).await;
    app.clock.advance(24 * 3600 + 1);
    let late = app.get(&format!("/api/v1/analytics/export/json?query_id={id}")).api_key(&key.key).send().await;
    late.expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn bad_queries_are_refused_and_keep_nothing() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    for bad in [
        json!({}),
        json!({"metrics": []}),
        json!({"metrics": ["salary"]}),
        json!({"metrics": ["logins", "logins"]}),
        json!({"metrics": "logins"}),
        json!({"metrics": ["logins"], "from": "yesterday"}),
        json!({"metrics": ["logins"], "from": "2026-12-05", "to": "2026-12-01"}),
        json!({"metrics": ["logins"], "from": "2024-01-01", "to": "2026-12-01"}),
        json!({"metrics": ["logins"], "granularity": "hourly"}),
        json!({"metrics": ["logins"], "aggregation": "median"}),
        json!({"metrics": ["logins"], "filters": {"sql": "1=1"}}),
        json!({"metrics": ["logins"], "expression": "logins * 2"}),
        json!({"metrics": ["lessons_completed"], "filters": {"class_ids": vec![domain::ids::ClassId::new(); 11]}}),
    ] {
        let response = run(&app, &school.admin, bad.clone()).await;
        assert_eq!(response.status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {}", response.text);
    }
    let huge = json!({"metrics": ["logins"], "padding": "x".repeat(2 * 1024 * 1024)});
    assert_eq!(run(&app, &school.admin, huge).await.status, StatusCode::PAYLOAD_TOO_LARGE);
    run(&app, &school.ann, json!({"metrics": ["logins"]})).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    assert_eq!(kept_queries(&app, &school.admin).await, 0, "a refused query keeps nothing");
    run(&app, &school.admin, json!({"metrics": ["logins"]})).await.expect(StatusCode::CREATED, None);
    assert_eq!(kept_queries(&app, &school.admin).await, 1);
}

/// The tenant's kept query results.
async fn kept_queries(app: &TestApp, account: &Account) -> usize {
    crate::helpers::snapshot(app, account).await.keys().filter(|key| key.contains("#QUERY#")).count()
}
