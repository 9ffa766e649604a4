//! The dashboard: exact numbers of what an organization did, kept five
//! minutes and revalidated with `If-None-Match`, a series of days settled
//! once, and nothing of another tenant's.

use axum::http::{StatusCode, header};
use domain::day::Day;
use serde_json::{Value, json};
use store::counters::Counter;

use crate::assessments::{ALL_RIGHT, answers, published, submit};
use crate::helpers::{Account, TestApp, TestResponse};
use crate::progress::{at, published_lesson, report};

async fn get(app: &TestApp, account: &Account, path: &str) -> TestResponse {
    app.get(path).bearer(&account.access_token).send().await
}

/// The metrics computed now (not a kept copy).
async fn metrics(app: &TestApp, account: &Account) -> Value {
    let response = app
        .get("/api/v1/dashboard/metrics")
        .bearer(&account.access_token)
        .header("cache-control", "no-cache")
        .send()
        .await;
    response.expect(StatusCode::OK, None);
    response.data().clone()
}

/// A school where a teacher's class of two completed a lesson and one
/// student submitted an assessment and sent a message.
pub struct School {
    pub admin: Account,
    pub teacher: Account,
    pub ann: Account,
    pub ben: Account,
    pub lesson: String,
}

pub async fn school(app: &TestApp) -> School {
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (ann, ben) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let lesson = published_lesson(app, &teacher, &[&ann, &ben]).await;
    for student in [&ann, &ben] {
        report(app, student, &lesson, at("completed", 100, 60)).await.expect(StatusCode::OK, None);
    }
    let assessment = published(app, &teacher, &[&ann], json!({})).await;
    submit(app, &ann, &assessment, 1, answers(ALL_RIGHT)).await.expect(StatusCode::CREATED, None);
    let note = json!({"recipient_ids": [teacher.user_id], "subject": "Done", "body": "Finished the lesson."});
    app.post("/api/v1/messages").bearer(&ann.access_token).json(note).send().await.expect(StatusCode::CREATED, None);
    School { admin, teacher, ann, ben, lesson }
}

#[tokio::test]
async fn metrics_count_exactly_what_the_organization_did() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let data = metrics(&app, &school.admin).await;

    let users = &data["users"];
    assert_eq!(users["total"], 4);
    assert_eq!(users["by_role"], json!({"admin": 1, "teacher": 1, "student": 2, "parent": 0}));
    // Everyone signed up today: active today, this week and month, and no
    // members 30 days ago to grow from.
    assert_eq!(users["active"], 4);
    assert_eq!(users["growth_pct"], Value::Null);
    let content = &data["content"];
    assert_eq!(content["lessons"], json!({"published": 1, "draft": 0}));
    assert_eq!(content["assessments"], json!({"published": 1, "draft": 0}));
    assert_eq!((content["total"].as_i64(), content["published"].as_i64()), (Some(2), Some(2)));
    let engagement = &data["engagement"];
    assert_eq!(engagement["daily_active"], 4);
    assert_eq!(engagement["weekly_active"], 4);
    assert_eq!(engagement["monthly_active"], 4);
    assert_eq!(engagement["lessons_completed_today"], 2);
    assert_eq!(engagement["assessments_submitted_today"], 1);
    assert_eq!(engagement["messages_sent_today"], 1);
    assert_eq!(engagement["logins_today"], 0);
    assert!(engagement.get("session_duration_avg").is_none(), "no session length is measured");

    // A teacher sees the organization's numbers too.
    assert_eq!(metrics(&app, &school.teacher).await["users"]["total"], 4);
}

#[tokio::test]
async fn totals_follow_members_leaving_and_content_deleted_and_drafted() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let admin = &school.admin;
    app.delete(&format!("/api/v1/organizations/current/members/{}", school.ben.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);
    app.set_role(admin, &school.teacher.user_id, "admin").await;
    app.delete(&format!("/api/v1/lessons/{}", school.lesson))
        .bearer(&school.teacher.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    let draft = crate::lessons::create(&app, admin, crate::lessons::body("Draft")).await;
    draft.expect(StatusCode::CREATED, None);

    let data = metrics(&app, admin).await;
    assert_eq!(data["users"]["total"], 3);
    assert_eq!(data["users"]["by_role"], json!({"admin": 2, "teacher": 0, "student": 1, "parent": 0}));
    assert_eq!(data["content"]["lessons"], json!({"published": 0, "draft": 1}));
    assert_eq!(app.daily_count(admin, Counter::MembersLeft).await, 1);
    assert_eq!(app.daily_count(admin, Counter::MembersJoined).await, 4);
}

#[tokio::test]
async fn a_kept_answer_is_revalidated_to_a_304_and_no_cache_computes_it_again() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let admin = &school.admin;
    let first = get(&app, admin, "/api/v1/dashboard/metrics").await;
    first.expect(StatusCode::OK, None);
    let etag = first.headers[header::ETAG].to_str().unwrap().to_owned();
    let cache_control = first.headers[header::CACHE_CONTROL].to_str().unwrap();
    assert!(cache_control.starts_with("private, max-age="), "{cache_control}");
    let max_age: u64 = cache_control.trim_start_matches("private, max-age=").parse().unwrap();
    assert!((295..=300).contains(&max_age), "{max_age}");
    assert_eq!(first.body["metadata"]["cache_ttl"], 300);

    let again =
        app.get("/api/v1/dashboard/metrics").bearer(&admin.access_token).header("if-none-match", &etag).send().await;
    again.expect(StatusCode::NOT_MODIFIED, None);
    assert_eq!(again.headers[header::ETAG].to_str().unwrap(), etag);

    // A new member: the kept answer stands until it expires or a fresh one is asked for.
    app.member(admin, "parent").await;
    let kept = get(&app, admin, "/api/v1/dashboard/metrics").await;
    assert_eq!(kept.data()["users"]["total"], 4);
    assert_eq!(kept.headers[header::ETAG].to_str().unwrap(), etag);
    let fresh = metrics(&app, admin).await;
    assert_eq!(fresh["users"]["total"], 5);
    // The fresh answer is the one kept now.
    let now_kept = get(&app, admin, "/api/v1/dashboard/metrics").await;
    assert_eq!(now_kept.data()["users"]["total"], 5);
    assert_ne!(now_kept.headers[header::ETAG].to_str().unwrap(), etag);

    // It expires after five minutes. (Tokens are signed by the real clock,
    // so past the test's clock jump an API key of the admin's reads it.)
    let key = app.create_api_key(admin, json!({"name": "bi", "scopes": ["read", "analytics:read"]})).await;
    app.member(admin, "parent").await;
    app.clock.advance(301);
    let expired = app.get("/api/v1/dashboard/metrics").api_key(&key.key).send().await;
    assert_eq!(expired.data()["users"]["total"], 6);
}

#[tokio::test]
async fn staff_share_one_copy_until_the_numbers_are_announced_to_move() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    // Kept by the admin, then a member joins.
    get(&app, &school.admin, "/api/v1/dashboard/metrics").await.expect(StatusCode::OK, None);
    let newcomer = app.member(&school.admin, "teacher").await;
    // Every member of staff is given the one copy.
    assert_eq!(get(&app, &newcomer, "/api/v1/dashboard/metrics").await.data()["users"]["total"], 4);
    assert_eq!(get(&app, &school.teacher, "/api/v1/dashboard/metrics").await.data()["users"]["total"], 4);
    // dashboard-events announces the move (a second later): the copy is computed again, once.
    app.clock.advance(1);
    assert!(store::counters::claim_announcement(&app.state, &school.admin.tenant()).await.unwrap());
    app.clock.advance(1);
    let fresh = get(&app, &school.teacher, "/api/v1/dashboard/metrics").await;
    assert_eq!(fresh.data()["users"]["total"], 5);
    let etag = fresh.headers[header::ETAG].to_str().unwrap().to_owned();
    let kept = get(&app, &school.admin, "/api/v1/dashboard/metrics").await;
    assert_eq!(kept.headers[header::ETAG].to_str().unwrap(), etag);
}

#[tokio::test]
async fn another_tenant_sees_none_of_it() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let elsewhere = app.register_org().await;
    // The other tenant's first read comes after the school's answer is kept.
    get(&app, &school.admin, "/api/v1/dashboard/metrics").await.expect(StatusCode::OK, None);
    let theirs = get(&app, &elsewhere, "/api/v1/dashboard/metrics").await;
    theirs.expect(StatusCode::OK, None);
    let data = theirs.data();
    assert_eq!(data["users"]["total"], 1);
    assert_eq!(data["content"]["total"], 0);
    assert_eq!(data["engagement"]["lessons_completed_today"], 0);
    let today = Day::of(app.state.now());
    let stats = get(&app, &elsewhere, &format!("/api/v1/dashboard/statistics?from={today}&to={today}")).await;
    assert_eq!(stats.data()["points"][0]["lessons_completed"], 0);
    // And the school's numbers are as they were.
    assert_eq!(metrics(&app, &school.admin).await["engagement"]["lessons_completed_today"], 2);
}

#[tokio::test]
async fn students_and_parents_are_refused_and_api_keys_need_analytics_read() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let parent = app.member(&school.admin, "parent").await;
    for account in [&school.ann, &parent] {
        for path in ["/api/v1/dashboard/metrics", "/api/v1/dashboard/statistics"] {
            get(&app, account, path).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
        }
    }
    let reader = app.create_api_key(&school.admin, json!({"name": "bi", "scopes": ["read", "analytics:read"]})).await;
    let plain = app.create_api_key(&school.admin, json!({"name": "plain", "scopes": ["read"]})).await;
    let with_key = app.get("/api/v1/dashboard/metrics").api_key(&reader.key).send().await;
    with_key.expect(StatusCode::OK, None);
    assert_eq!(with_key.data()["users"]["total"], 5);
    app.get("/api/v1/dashboard/statistics")
        .api_key(&plain.key)
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    app.get("/api/v1/dashboard/metrics").send().await.expect(StatusCode::UNAUTHORIZED, None);
}

#[tokio::test]
async fn statistics_give_one_point_a_day_zeros_included() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let today = Day::of(app.state.now());
    let from = today.plus(-6);
    let week = get(&app, &school.teacher, &format!("/api/v1/dashboard/statistics?from={from}&to={today}")).await;
    week.expect(StatusCode::OK, None);
    let points = week.data()["points"].as_array().unwrap();
    assert_eq!(points.len(), 7);
    let dates: Vec<&str> = points.iter().map(|p| p["date"].as_str().unwrap()).collect();
    assert_eq!(dates.first().copied(), Some(from.to_string().as_str()));
    assert_eq!(dates.last().copied(), Some(today.to_string().as_str()));
    let last = &points[6];
    assert_eq!(
        (&last["active_users"], &last["lessons_completed"], &last["assessments_submitted"], &last["messages_sent"]),
        (&json!(4), &json!(2), &json!(1), &json!(1))
    );
    for earlier in &points[..6] {
        assert_eq!((&earlier["active_users"], &earlier["lessons_completed"]), (&json!(0), &json!(0)), "{earlier}");
    }
    // By default: the 30 days that end today.
    let default = get(&app, &school.teacher, "/api/v1/dashboard/statistics").await;
    assert_eq!(default.data()["points"].as_array().unwrap().len(), 30);
    assert_eq!(default.data()["to"], today.to_string());
}

#[tokio::test]
async fn bad_ranges_are_a_400_and_store_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let today = Day::of(app.state.now());
    let series = admin.tenant().series_partition();
    for query in [
        "from=yesterday".to_owned(),
        "to=2026-02-30".to_owned(),
        format!("from={today}&to={}", today.plus(-1)),
        format!("from={}&to={today}", today.plus(-366)),
        "from=2026-12-01T00:00:00Z".to_owned(),
    ] {
        let refused = get(&app, &admin, &format!("/api/v1/dashboard/statistics?{query}")).await;
        refused.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
    let stored = app.state.db.query_between(&series, "DAY#", "DAY#~").await.unwrap();
    assert!(stored.is_empty(), "{} series items", stored.len());
    // 366 days is the longest range.
    let year = get(&app, &admin, &format!("/api/v1/dashboard/statistics?from={}&to={today}", today.plus(-365))).await;
    assert_eq!(year.data()["points"].as_array().unwrap().len(), 366);
}

#[tokio::test]
async fn a_finished_day_is_settled_into_the_series_once() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let admin = &school.admin;
    // Tokens are signed by the real clock: past the test's clock jump, an
    // API key of the admin's reads the dashboard.
    let key = app.create_api_key(admin, json!({"name": "bi", "scopes": ["read", "analytics:read"]})).await;
    let read = |path: String| app.get(&path).api_key(&key.key).header("cache-control", "no-cache").send();
    let yesterday = Day::of(app.state.now());
    // A day and two minutes later, the school's day is over and settled.
    app.clock.advance(24 * 3600 + 120);
    app.login(&admin.email, &admin.password).await.expect(StatusCode::OK, None);
    let today = Day::of(app.state.now());
    let path = format!("/api/v1/dashboard/statistics?from={yesterday}&to={today}");
    let first = read(path.clone()).await;
    first.expect(StatusCode::OK, None);
    let points = first.data()["points"].as_array().unwrap().clone();
    assert_eq!((&points[0]["lessons_completed"], &points[0]["active_users"]), (&json!(2), &json!(4)));
    // Today: the admin signed in again.
    assert_eq!((&points[1]["logins"], &points[1]["active_users"]), (&json!(1), &json!(1)));
    let settled = app.state.db.get::<Value>(&admin.tenant().series_day(&yesterday)).await.unwrap();
    assert_eq!(settled.expect("yesterday is in the series")["lessons_completed"], 2);

    // Its shards no longer count: the series is read. Emptied, they would
    // show as zeros if they were summed again.
    let shards = store::counters::daily_keys(&admin.tenant(), yesterday);
    app.state.db.batch_write(Vec::new(), shards).await.unwrap();
    let again = read(path).await;
    assert_eq!(again.data()["points"][0]["lessons_completed"], 2);
    let metrics = read("/api/v1/dashboard/metrics".into()).await;
    let metrics = metrics.data();
    assert_eq!(metrics["engagement"]["daily_active"], 1);
    // Active this week: the four of yesterday if it was this week, and the
    // admin again only if today starts a new one.
    let weekly = if today.week_start() == yesterday.week_start() { 4 } else { 1 };
    assert_eq!(metrics["engagement"]["weekly_active"], weekly);
    let monthly = if today.month_start() == yesterday.month_start() { 4 } else { 1 };
    assert_eq!(metrics["engagement"]["monthly_active"], monthly);
}

#[tokio::test]
async fn a_member_is_counted_active_once_a_day_however_often_they_sign_in() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let mut refresh_tokens = Vec::new();
    for _ in 0..3 {
        let login = app.login(&admin.email, &admin.password).await;
        login.expect(StatusCode::OK, None);
        refresh_tokens.push(login.data()["refresh_token"].as_str().unwrap().to_owned());
    }
    assert_eq!(app.daily_count(&admin, Counter::ActiveUsers).await, 1);
    assert_eq!(app.daily_count(&admin, Counter::Logins).await, 3);
    // The next day, three of their sessions are renewed at the same moment: one counts.
    app.clock.advance(24 * 3600);
    let renew = |token: &str| app.post("/api/v1/auth/refresh").json(json!({"refresh_token": token})).send();
    let (first, second, third) =
        tokio::join!(renew(&refresh_tokens[0]), renew(&refresh_tokens[1]), renew(&refresh_tokens[2]));
    for response in [&first, &second, &third] {
        response.expect(StatusCode::OK, None);
    }
    assert_eq!(app.daily_count(&admin, Counter::ActiveUsers).await, 1);
    app.login(&admin.email, &admin.password).await.expect(StatusCode::OK, None);
    assert_eq!(app.daily_count(&admin, Counter::ActiveUsers).await, 1);
    assert_eq!(app.daily_count(&admin, Counter::Logins).await, 1);
}

#[tokio::test]
async fn statistics_export_as_csv_or_json_files() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let today = Day::of(app.state.now());
    let from = today.plus(-2);
    let body = json!({"format": "csv", "from": from.to_string(), "to": today.to_string()});
    let csv = app.post("/api/v1/dashboard/export").bearer(&school.teacher.access_token).json(body).send().await;
    csv.expect(StatusCode::OK, None);
    assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
    let disposition = csv.headers[header::CONTENT_DISPOSITION].to_str().unwrap();
    assert_eq!(disposition, format!("attachment; filename=\"statistics-{from}-{today}.csv\""));
    let lines: Vec<&str> = csv.text.split("\r\n").collect();
    assert_eq!(
        lines,
        [
            "date,logins,active_users,lessons_completed,assessments_submitted,messages_sent,content_generated",
            &format!("{from},0,0,0,0,0,0"),
            &format!("{},0,0,0,0,0,0", today.plus(-1)),
            &format!("{today},0,4,2,1,1,0"),
            "",
        ]
    );

    let json = app
        .post("/api/v1/dashboard/export")
        .bearer(&school.admin.access_token)
        .json(json!({"format": "json", "from": today.to_string()}))
        .send()
        .await;
    json.expect(StatusCode::OK, None);
    assert!(json.headers[header::CONTENT_DISPOSITION].to_str().unwrap().ends_with(".json\""));
    assert_eq!(json.data()["points"][0]["lessons_completed"], 2);
}

#[tokio::test]
async fn an_export_refuses_bad_bodies_and_other_roles() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let today = Day::of(app.state.now());
    let export = |account: &Account, body: Value| {
        app.post("/api/v1/dashboard/export").bearer(&account.access_token).json(body).send()
    };
    for (body, field) in [
        (json!({"format": "xlsx"}), "format"),
        (json!({}), "format"),
        (json!({"format": "csv", "from": "last week"}), "from"),
        (json!({"format": "csv", "from": today.to_string(), "to": today.plus(-1).to_string()}), "to"),
        (json!({"format": "csv", "from": today.plus(-400).to_string()}), "to"),
        (json!({"format": "csv", "query": "DROP TABLE"}), "query"),
    ] {
        let refused = export(&school.admin, body.clone()).await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], field, "{body}");
    }
    app.post("/api/v1/dashboard/export")
        .bearer(&school.admin.access_token)
        .raw("application/json", "{\"format\": ")
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    export(&school.ann, json!({"format": "csv"})).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

#[tokio::test]
async fn a_trend_follows_one_counter_by_day_week_or_month() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let today = Day::of(app.state.now());
    let trend = get(&app, &school.teacher, "/api/v1/analytics/trends/lessons_completed?period=7").await;
    trend.expect(StatusCode::OK, None);
    let data = trend.data();
    let points = data["points"].as_array().unwrap();
    assert_eq!(points.len(), 7);
    assert_eq!(points[6], json!({"start": today.to_string(), "value": 2}));
    assert_eq!(points[0]["value"], 0);
    let summary = &data["summary"];
    assert_eq!((&summary["direction"], &summary["percent_change"]), (&json!("up"), &Value::Null));
    assert_eq!(summary["peak"], points[6]);
    assert_eq!(summary["lowest"], points[0]);
    assert!((summary["average"].as_f64().unwrap() - 2.0 / 7.0).abs() < 1e-9);

    let weekly = get(&app, &school.admin, "/api/v1/analytics/trends/active_users?granularity=weekly&period=3").await;
    let points = weekly.data()["points"].as_array().unwrap().clone();
    assert_eq!(points.len(), 3);
    assert_eq!(points[2], json!({"start": today.week_start().to_string(), "value": 4}));
    let monthly = get(&app, &school.admin, "/api/v1/analytics/trends/messages_sent?granularity=monthly&period=2").await;
    assert_eq!(monthly.data()["points"][1], json!({"start": today.month_start().to_string(), "value": 1}));
}

#[tokio::test]
async fn a_trend_refuses_unknown_metrics_bad_periods_and_students() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    get(&app, &school.admin, "/api/v1/analytics/trends/revenue").await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    for query in ["granularity=hourly", "period=0", "period=367", "granularity=monthly&period=13", "period=ten"] {
        let refused = get(&app, &school.admin, &format!("/api/v1/analytics/trends/logins?{query}")).await;
        refused.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
    get(&app, &school.ann, "/api/v1/analytics/trends/logins").await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    // Nothing was kept for the refused requests, nor for another tenant.
    let elsewhere = app.register_org().await;
    let theirs = get(&app, &elsewhere, "/api/v1/analytics/trends/lessons_completed?period=1").await;
    assert_eq!(theirs.data()["points"][0]["value"], 0);
}
