//! Cohorts: the students who joined each week, and how many of them came
//! back in each week since, counted as it happens.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Account, TestApp, TestResponse};

async fn cohorts(app: &TestApp, key: &str, query: &str) -> TestResponse {
    app.get(&format!("/api/v1/analytics/cohorts?{query}")).api_key(key).header("cache-control", "no-cache").send().await
}

fn row(data: &Value, index: usize) -> (i64, Value, Value) {
    let cohort = &data["cohorts"][index];
    (cohort["students"].as_i64().unwrap(), cohort["active"].clone(), cohort["retention_pct"].clone())
}

async fn sign_in(app: &TestApp, account: &Account) {
    app.login(&account.email, &account.password).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn a_weeks_new_students_are_followed_into_the_next_week() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let (ann, _ben, _cy) =
        (app.member(&admin, "student").await, app.member(&admin, "student").await, app.member(&admin, "student").await);
    // A teacher made a student joins this week's cohort, active in it already.
    let dee = app.member(&admin, "teacher").await;
    app.set_role(&admin, &dee.user_id, "student").await;
    app.member(&admin, "teacher").await;
    // Keys, not tokens, read across the clock's jump (tokens are signed by the real clock).
    let key = app.create_api_key(&admin, json!({"name": "bi", "scopes": ["read", "analytics:read"]})).await.key;

    let now = cohorts(&app, &key, "weeks=2").await;
    now.expect(StatusCode::OK, None);
    assert_eq!(now.data()["weeks"], 2);
    assert_eq!(row(now.data(), 0), (0, json!([0, 0]), json!([null, null])), "last week: no one");
    assert_eq!(row(now.data(), 1), (4, json!([4]), json!([100.0])), "this week: four students, all active");

    // A week later two of them come back (one twice); the admin's sign-in is not a student's.
    app.clock.advance(7 * 24 * 3600);
    for account in [&ann, &ann, &dee, &admin] {
        sign_in(&app, account).await;
    }
    let later = cohorts(&app, &key, "weeks=2").await;
    later.expect(StatusCode::OK, None);
    assert_eq!(row(later.data(), 0), (4, json!([4, 2]), json!([100.0, 50.0])));
    assert_eq!(row(later.data(), 1), (0, json!([0]), json!([null])));
    let default = cohorts(&app, &key, "").await;
    assert_eq!(default.data()["cohorts"].as_array().unwrap().len(), 8);
    assert_eq!(row(default.data(), 6), (4, json!([4, 2]), json!([100.0, 50.0])), "the same cohort in a wider view");
}

#[tokio::test]
async fn bad_weeks_other_roles_and_other_tenants_see_nothing_of_it() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let student = app.member(&admin, "student").await;
    let parent = app.member(&admin, "parent").await;
    for query in ["weeks=0", "weeks=13", "weeks=x", "weeks=-2"] {
        let response = app.get(&format!("/api/v1/analytics/cohorts?{query}")).bearer(&admin.access_token).send().await;
        response.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
    for account in [&student, &parent] {
        let response = app.get("/api/v1/analytics/cohorts").bearer(&account.access_token).send().await;
        response.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    let plain = app.create_api_key(&admin, json!({"name": "plain", "scopes": ["read"]})).await;
    cohorts(&app, &plain.key, "").await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let teacher = app.member(&admin, "teacher").await;
    let mine = app.get("/api/v1/analytics/cohorts?weeks=1").bearer(&teacher.access_token).send().await;
    mine.expect(StatusCode::OK, None);
    assert_eq!(row(mine.data(), 0).0, 1);

    let elsewhere = app.register_org().await;
    let theirs = app.get("/api/v1/analytics/cohorts?weeks=1").bearer(&elsewhere.access_token).send().await;
    theirs.expect(StatusCode::OK, None);
    assert_eq!(row(theirs.data(), 0), (0, json!([0]), json!([null])));
}
