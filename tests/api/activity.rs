//! The activity feed: everything for admins, their classes' for teachers,
//! newest first a page at a time, and nothing of another tenant's.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::dashboard::{School, school};
use crate::helpers::{Account, TestApp, TestResponse};
use crate::lessons::{body, create, publish};
use crate::progress::{at, report};

const FEED: &str = "/api/v1/dashboard/activity";

async fn page(app: &TestApp, account: &Account, query: &str) -> TestResponse {
    app.get(&format!("{FEED}?{query}")).bearer(&account.access_token).send().await
}

/// Every event of `account`'s feed, page after page of `limit`.
async fn whole_feed(app: &TestApp, account: &Account, limit: usize) -> Vec<Value> {
    let mut events = Vec::new();
    let mut query = format!("limit={limit}");
    loop {
        let response = page(app, account, &query).await;
        response.expect(StatusCode::OK, None);
        let items = response.data().as_array().unwrap().clone();
        assert!(items.len() <= limit);
        events.extend(items);
        match response.body["metadata"]["next_cursor"].as_str() {
            Some(cursor) => query = format!("limit={limit}&cursor={cursor}"),
            None => return events,
        }
    }
}

fn kinds_by(events: &[Value], actor: &Account) -> Vec<String> {
    events.iter().filter(|e| e["actor_id"] == actor.user_id).map(|e| e["kind"].as_str().unwrap().to_owned()).collect()
}

fn has(events: &[Value], kind: &str, actor: &Account) -> bool {
    events.iter().any(|e| e["kind"] == kind && e["actor_id"] == actor.user_id)
}

#[tokio::test]
async fn an_admin_pages_through_everything_newest_first() {
    let app = TestApp::spawn().await;
    let School { admin, teacher, ann, ben, lesson } = school(&app).await;
    let all = whole_feed(&app, &admin, 100).await;
    let paged = whole_feed(&app, &admin, 2).await;
    let ids = |events: &[Value]| events.iter().map(|e| e["id"].as_str().unwrap().to_owned()).collect::<Vec<_>>();
    assert_eq!(ids(&paged), ids(&all), "pages of two add up to the whole feed, each event once");
    let all_ids = ids(&all);
    assert!(all_ids.windows(2).all(|pair| pair[0] > pair[1]), "newest first: {all_ids:?}");

    // What the school did, each by whom it was done.
    assert_eq!(kinds_by(&all, &ann), ["message.sent", "assessment.submitted", "lesson.completed"]);
    assert_eq!(kinds_by(&all, &ben), ["lesson.completed"]);
    let completed = all.iter().find(|e| e["kind"] == "lesson.completed" && e["actor_id"] == ben.user_id).unwrap();
    assert_eq!(completed["subject_id"], lesson.as_str());
    assert_eq!(completed["class_ids"].as_array().unwrap().len(), 1);
    for kind in ["class.created", "class.students_enrolled", "lesson.created", "lesson.published"] {
        assert!(has(&all, kind, &teacher), "{kind}");
    }
}

#[tokio::test]
async fn a_teacher_sees_their_classes_and_not_another_teachers() {
    let app = TestApp::spawn().await;
    let School { admin, teacher, ann, ben, lesson } = school(&app).await;
    let other = app.member(&admin, "teacher").await;
    let cara = app.member(&admin, "student").await;
    let theirs = crate::progress::published_lesson(&app, &other, &[&cara]).await;
    report(&app, &cara, &theirs, at("in_progress", 10, 5)).await.expect(StatusCode::OK, None);
    // An admin publishing into the teacher's class reaches the teacher's feed.
    let class = app.class_with(&teacher, &[&ann]).await;
    let by_admin = create(&app, &admin, body("Decimals")).await.data()["id"].as_str().unwrap().to_owned();
    publish(&app, &admin, &by_admin, json!([class])).await.expect(StatusCode::OK, None);
    // So do an admin's edit of the teacher's lesson and deletion of one in their class.
    app.call(axum::http::Method::PUT, &format!("/api/v1/lessons/{lesson}"))
        .bearer(&admin.access_token)
        .json(body("Fractions, again"))
        .send()
        .await
        .expect(StatusCode::OK, None);
    app.delete(&format!("/api/v1/lessons/{by_admin}"))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);

    let mine = whole_feed(&app, &teacher, 100).await;
    assert!(has(&mine, "lesson.completed", &ann) && has(&mine, "lesson.completed", &ben));
    assert!(has(&mine, "assessment.submitted", &ann));
    assert!(has(&mine, "lesson.published", &admin), "an admin's publication into their class");
    assert!(has(&mine, "lesson.updated", &admin), "an admin's edit of their lesson");
    assert!(has(&mine, "lesson.deleted", &admin), "an admin's deletion in their class");
    assert!(!has(&whole_feed(&app, &other, 100).await, "lesson.updated", &admin), "not another teacher's class");
    assert!(has(&mine, "lesson.created", &teacher), "what they did themselves");
    assert!(!has(&mine, "message.sent", &ann), "a direct message is not a class's event");
    assert!(!mine.iter().any(|e| e["actor_id"] == other.user_id || e["actor_id"] == cara.user_id));
    assert!(!has(&mine, "lesson.created", &admin), "an admin's draft is in no class");

    let others = whole_feed(&app, &other, 100).await;
    assert_eq!(kinds_by(&others, &cara), ["lesson.started"]);
    assert!(!others.iter().any(|e| e["actor_id"] == ann.user_id || e["actor_id"] == teacher.user_id));
    // The organization's feed has both teachers' classes.
    let all = whole_feed(&app, &admin, 100).await;
    assert!(has(&all, "lesson.started", &cara) && has(&all, "lesson.completed", &ann));
}

#[tokio::test]
async fn students_parents_and_keys_without_analytics_read_are_refused_and_tenants_see_their_own() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let parent = app.member(&school.admin, "parent").await;
    for account in [&school.ann, &parent] {
        page(&app, account, "").await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    let plain = app.create_api_key(&school.admin, json!({"name": "plain", "scopes": ["read"]})).await;
    app.get(FEED).api_key(&plain.key).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    // A key acts with a teacher's authority unless it has `admin`: it reads
    // the feed of the classes its maker teaches (none here).
    let reader = app.create_api_key(&school.admin, json!({"name": "bi", "scopes": ["read", "analytics:read"]})).await;
    let as_teacher = app.get(FEED).api_key(&reader.key).send().await;
    as_teacher.expect(StatusCode::OK, None);
    assert_eq!(as_teacher.data(), &json!([]));
    let admin_key = json!({"name": "bi-admin", "scopes": ["admin", "analytics:read"]});
    let admin_key = app.create_api_key(&school.admin, admin_key).await;
    let with_key = app.get(FEED).api_key(&admin_key.key).send().await;
    with_key.expect(StatusCode::OK, None);
    assert_eq!(with_key.data(), page(&app, &school.admin, "").await.data(), "an admin key reads the organization's");
    app.get(FEED).send().await.expect(StatusCode::UNAUTHORIZED, None);

    let elsewhere = app.register_org().await;
    let theirs = page(&app, &elsewhere, "").await;
    theirs.expect(StatusCode::OK, None);
    assert_eq!(theirs.data(), &json!([]));

    // Kept 90 days, whether or not DynamoDB has deleted them yet.
    app.clock.advance(90 * 24 * 3600 + 1);
    let later = app.get(FEED).api_key(&admin_key.key).send().await;
    later.expect(StatusCode::OK, None);
    assert_eq!(later.data(), &json!([]));
}

#[tokio::test]
async fn bad_limits_and_cursors_are_a_400() {
    let app = TestApp::spawn().await;
    let school = school(&app).await;
    let elsewhere = app.register_org().await;
    for query in ["limit=0", "limit=101", "limit=x", "cursor=garbage", "cursor=a.b"] {
        page(&app, &school.admin, query).await.expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
    let teachers = page(&app, &school.teacher, "limit=1").await;
    let cursor = teachers.body["metadata"]["next_cursor"].as_str().expect("more than one event").to_owned();
    // A cursor pages only the feed, and the tenant, it came from.
    for (account, what) in [(&school.admin, "another feed"), (&elsewhere, "another tenant")] {
        let response = page(&app, account, &format!("cursor={cursor}")).await;
        assert_eq!(response.status, StatusCode::BAD_REQUEST, "{what}");
    }
    let next = page(&app, &school.teacher, &format!("limit=1&cursor={cursor}")).await;
    next.expect(StatusCode::OK, None);
    assert!(next.data()[0]["id"].as_str() < teachers.data()[0]["id"].as_str());
}
