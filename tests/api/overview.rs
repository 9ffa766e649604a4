//! The overview: one call for each role's home page, from counts and due
//! dates the classes keep exact, and nothing of another tenant's.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::assessments::{ALL_RIGHT, answers, published, submit};
use crate::dashboard::{School, school};
use crate::helpers::{Account, TestApp};
use crate::progress::{at, report};

const OVERVIEW: &str = "/api/v1/dashboard/overview";
const SOON: &str = "2999-01-01T00:00:00Z";
const LATER: &str = "2999-06-01T00:00:00Z";

async fn overview(app: &TestApp, account: &Account) -> Value {
    let response = app.get(OVERVIEW).bearer(&account.access_token).send().await;
    response.expect(StatusCode::OK, None);
    response.data().clone()
}

fn due_ids(upcoming: &Value) -> Vec<&str> {
    upcoming.as_array().unwrap().iter().map(|due| due["assessment_id"].as_str().unwrap()).collect()
}

/// The school, with a quiz due soon for Ann's class and one due later for
/// a class of both, and Ben halfway through the lesson of that class.
async fn busy_school(app: &TestApp) -> (School, String, String) {
    let school = school(app).await;
    let (teacher, ann, ben) = (&school.teacher, &school.ann, &school.ben);
    let soon = published(app, teacher, &[ann], json!({"title": "Soon", "due_at": SOON})).await;
    let later = published(app, teacher, &[ann, ben], json!({"title": "Later", "due_at": LATER})).await;
    let lesson = crate::progress::published_lesson(app, teacher, &[ben]).await;
    // Timestamps have whole seconds: the second lesson is the latest only a
    // second after the school's first one.
    app.clock.advance(1);
    report(app, ben, &lesson, at("in_progress", 50, 30)).await.expect(StatusCode::OK, None);
    (school, soon, later)
}

#[tokio::test]
async fn a_teacher_sees_their_classes_students_due_dates_and_progress() {
    let app = TestApp::spawn().await;
    let (school, soon, later) = busy_school(&app).await;
    let data = overview(&app, &school.teacher).await;
    assert_eq!(data["role"], "teacher");
    // Five classes: the lesson's (Ann, Ben), the school's quiz's (Ann),
    // Soon's (Ann), Later's (Ann, Ben), the second lesson's (Ben).
    let classes = data["classes"].as_array().unwrap();
    assert_eq!(classes.len(), 5);
    assert_eq!(data["students"], 7);
    assert_eq!(data["lessons_published"], 2);
    assert_eq!(classes.iter().map(|c| c["assessments_published"].as_u64().unwrap()).sum::<u64>(), 3);
    assert_eq!(due_ids(&data["assessments_due"]), [soon.as_str(), later.as_str()]);
    assert_eq!(data["assessments_due"][0]["title"], "Soon");
    // Ann and Ben completed the first lesson; Ben is halfway through the second.
    assert_eq!(data["progress"], json!({"learners": 3, "started": 3, "completed": 2, "average_percent": 83.3}));
    assert!(data.get("assessments_to_grade").is_none(), "grading is automatic");
}

#[tokio::test]
async fn a_teacher_whose_class_reaches_a_lesson_late_counts_the_students_whole_progress() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let (first, second) = (app.member(&admin, "teacher").await, app.member(&admin, "teacher").await);
    let student = app.member(&admin, "student").await;
    let lesson = crate::progress::published_lesson(&app, &first, &[&student]).await;
    report(&app, &student, &lesson, at("in_progress", 40, 10)).await.expect(StatusCode::OK, None);
    // The second teacher's class gets the lesson after the first report.
    let later = app.class_with(&second, &[&student]).await;
    crate::lessons::publish(&app, &admin, &lesson, json!([later])).await.expect(StatusCode::OK, None);
    report(&app, &student, &lesson, at("in_progress", 60, 20)).await.expect(StatusCode::OK, None);
    let counted = json!({"learners": 1, "started": 1, "completed": 0, "average_percent": 60.0});
    assert_eq!(overview(&app, &second).await["progress"], counted);
    assert_eq!(overview(&app, &first).await["progress"], counted);
    // Later changes reach both once.
    report(&app, &student, &lesson, at("completed", 100, 30)).await.expect(StatusCode::OK, None);
    let done = json!({"learners": 1, "started": 1, "completed": 1, "average_percent": 100.0});
    assert_eq!(overview(&app, &second).await["progress"], done);
    assert_eq!(overview(&app, &first).await["progress"], done);
}

#[tokio::test]
async fn a_student_sees_their_classes_progress_and_what_is_due_and_a_parent_sees_each_child() {
    let app = TestApp::spawn().await;
    let (school, soon, later) = busy_school(&app).await;
    let ann = overview(&app, &school.ann).await;
    assert_eq!(ann["role"], "student");
    assert_eq!(ann["classes"].as_array().unwrap().len(), 4);
    assert_eq!(due_ids(&ann["upcoming_assessments"]), [soon.as_str(), later.as_str()]);
    let progress = &ann["progress"];
    assert_eq!((progress["lessons_started"].as_u64(), progress["lessons_completed"].as_u64()), (Some(1), Some(1)));
    assert_eq!(progress["average_percent"], 100.0);
    let ben = overview(&app, &school.ben).await;
    assert_eq!(due_ids(&ben["upcoming_assessments"]), [later.as_str()]);
    assert_eq!(ben["progress"]["lessons_started"], 2);
    assert_eq!(ben["progress"]["average_percent"], 75.0);
    assert_eq!(ben["progress"]["time_spent_seconds"], 90);
    assert_eq!(ben["progress"]["recent"][0]["percent"], 50, "the latest first");

    let parent = app.member(&school.admin, "parent").await;
    assert_eq!(overview(&app, &parent).await, json!({"role": "parent", "children": []}));
    app.link_parent(&school.admin, &parent, &school.ann).await;
    app.link_parent(&school.admin, &parent, &school.ben).await;
    let family = overview(&app, &parent).await;
    let children = family["children"].as_array().unwrap();
    assert_eq!(children.len(), 2);
    for (child, own) in [(&school.ann, &ann), (&school.ben, &ben)] {
        let seen = children.iter().find(|c| c["student_id"] == child.user_id).unwrap();
        for part in ["classes", "progress", "upcoming_assessments"] {
            assert_eq!(seen[part], own[part], "{part}");
        }
    }
}

#[tokio::test]
async fn due_dates_follow_edits_and_deletions_and_an_admin_gets_the_metrics() {
    let app = TestApp::spawn().await;
    let (school, soon, later) = busy_school(&app).await;
    // Soon moves past Later; Later is deleted; a past due date is not upcoming.
    let path = format!("/api/v1/assessments/{soon}");
    let current = app.get(&path).bearer(&school.teacher.access_token).send().await;
    let mut body = json!({"title": "Moved", "due_at": "2999-12-01T00:00:00Z"});
    for kept in ["questions", "max_attempts", "late_policy", "late_penalty_percent", "pass_percent", "show_answers"] {
        body[kept] = current.data()[kept].clone();
    }
    app.call(axum::http::Method::PUT, &path)
        .bearer(&school.teacher.access_token)
        .json(body)
        .send()
        .await
        .expect(StatusCode::OK, None);
    app.delete(&format!("/api/v1/assessments/{later}"))
        .bearer(&school.teacher.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    let past = published(&app, &school.teacher, &[&school.ann], json!({"due_at": "2020-01-01T00:00:00Z"})).await;
    submit(&app, &school.ann, &past, 1, answers(ALL_RIGHT)).await.expect(StatusCode::CREATED, None);
    let ann = overview(&app, &school.ann).await;
    assert_eq!(due_ids(&ann["upcoming_assessments"]), [soon.as_str()]);
    assert_eq!(ann["upcoming_assessments"][0]["title"], "Moved");
    let teacher = overview(&app, &school.teacher).await;
    assert_eq!(
        teacher["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c["assessments_published"].as_u64().unwrap())
            .sum::<u64>(),
        3
    );

    let admin = overview(&app, &school.admin).await;
    assert_eq!(admin["role"], "admin");
    let metrics = app
        .get("/api/v1/dashboard/metrics")
        .bearer(&school.admin.access_token)
        .header("cache-control", "no-cache")
        .send()
        .await;
    assert_eq!(admin["metrics"], *metrics.data());
}

#[tokio::test]
async fn another_tenant_sees_none_of_it_and_anonymous_callers_are_refused() {
    let app = TestApp::spawn().await;
    let (school, _, _) = busy_school(&app).await;
    let elsewhere = app.register_org().await;
    let their_teacher = app.member(&elsewhere, "teacher").await;
    let theirs = overview(&app, &their_teacher).await;
    assert_eq!((theirs["classes"].as_array().unwrap().len(), theirs["students"].as_u64()), (0, Some(0)));
    assert_eq!(theirs["progress"]["learners"], 0);
    assert_eq!(theirs["progress"]["average_percent"], Value::Null);
    assert_eq!(overview(&app, &elsewhere).await["metrics"]["users"]["total"], 2);
    // And the school's are as they were.
    assert_eq!(overview(&app, &school.teacher).await["students"], 7);
    app.get(OVERVIEW).send().await.expect(StatusCode::UNAUTHORIZED, None);
    // A key acts with its maker's authority: an admin's `admin` key sees the metrics.
    let key = app.create_api_key(&school.admin, json!({"name": "home", "scopes": ["read", "admin"]})).await;
    let with_key = app.get(OVERVIEW).api_key(&key.key).send().await;
    with_key.expect(StatusCode::OK, None);
    assert_eq!(with_key.data()["role"], "admin");
}
