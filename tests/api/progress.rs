//! Lesson progress: reported by students, only ever forward, totalled
//! exactly into the lesson's statistics and the day's counters, and read by
//! the student, their linked parents and staff.

use axum::http::{Method, StatusCode};
use domain::ids::{LessonId, UserId};
use domain::lesson::PublishedLesson;
use serde_json::{Value, json};
use store::counters::Counter;

use crate::helpers::{Account, TestApp, TestResponse};
use crate::lessons::{body, create, publish};

/// A lesson of `teacher`'s, published to a new class of `students`; its id.
pub(crate) async fn published_lesson(app: &TestApp, teacher: &Account, students: &[&Account]) -> String {
    let class = app.class_with(teacher, students).await;
    let lesson = create(app, teacher, body("Fractions")).await.data()["id"].as_str().unwrap().to_owned();
    publish(app, teacher, &lesson, json!([class])).await.expect(StatusCode::OK, None);
    lesson
}

pub(crate) async fn report(app: &TestApp, student: &Account, lesson: &str, report: Value) -> TestResponse {
    app.call(Method::PUT, &format!("/api/v1/lessons/{lesson}/progress"))
        .bearer(&student.access_token)
        .json(report)
        .send()
        .await
}

pub(crate) fn at(status: &str, percent: u64, time: u64) -> Value {
    json!({"status": status, "percent": percent, "time_spent_seconds": time})
}

fn seen(response: &TestResponse) -> (String, u64, u64) {
    let data = response.data();
    (
        data["status"].as_str().unwrap().to_owned(),
        data["percent"].as_u64().unwrap(),
        data["time_spent_seconds"].as_u64().unwrap(),
    )
}

async fn statistics(app: &TestApp, teacher: &Account, lesson: &str) -> Value {
    let response = app.get(&format!("/api/v1/lessons/{lesson}/statistics")).bearer(&teacher.access_token).send().await;
    response.expect(StatusCode::OK, None);
    response.data().clone()
}

#[tokio::test]
async fn progress_only_moves_forward_and_the_statistics_follow_it() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (ann, ben) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let lesson = published_lesson(&app, &teacher, &[&ann, &ben]).await;
    let empty = statistics(&app, &teacher, &lesson).await;
    assert_eq!((empty["learners"].as_u64(), empty["completion_rate"].as_f64()), (Some(0), Some(0.0)));

    let first = report(&app, &ann, &lesson, at("in_progress", 40, 120)).await;
    first.expect(StatusCode::OK, None);
    assert_eq!(seen(&first), ("in_progress".into(), 40, 120));
    assert!(first.data()["started_at"].is_string() && first.data()["completed_at"].is_null());
    // A stale report (an app that was offline) moves nothing back.
    let stale = report(&app, &ann, &lesson, at("not_started", 20, 60)).await;
    assert_eq!(seen(&stale), ("in_progress".into(), 40, 120));
    // A mixed one keeps the larger value of each field.
    let mixed = report(&app, &ann, &lesson, at("in_progress", 30, 200)).await;
    assert_eq!(seen(&mixed), ("in_progress".into(), 40, 200));
    let done = report(&app, &ann, &lesson, at("completed", 90, 300)).await;
    assert_eq!(seen(&done), ("completed".into(), 100, 300));
    assert!(done.data()["completed_at"].is_string());
    let after = report(&app, &ann, &lesson, at("in_progress", 50, 100)).await;
    assert_eq!(seen(&after), ("completed".into(), 100, 300));
    report(&app, &ben, &lesson, at("in_progress", 50, 60)).await.expect(StatusCode::OK, None);

    let stats = statistics(&app, &teacher, &lesson).await;
    assert_eq!(
        (stats["learners"].as_u64(), stats["started"].as_u64(), stats["completed"].as_u64()),
        (Some(2), Some(2), Some(1))
    );
    assert_eq!(stats["completion_rate"].as_f64(), Some(0.5));
    assert_eq!(stats["average_time_spent_seconds"].as_f64(), Some((300.0 + 60.0) / 2.0));
    assert_eq!(stats["average_percent"].as_f64(), Some((100.0 + 50.0) / 2.0));
    // Completing counts once, however often it is reported.
    assert_eq!(app.daily_count(&admin, Counter::LessonsCompleted).await, 1);
    let kinds = app.activity_kinds(&admin).await;
    assert_eq!(kinds.iter().filter(|k| *k == "lesson.completed").count(), 1);
    assert_eq!(kinds.iter().filter(|k| *k == "lesson.started").count(), 2);
}

#[tokio::test]
async fn concurrent_reports_keep_the_totals_exact() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let student = app.member(&admin, "student").await;
    let lesson = published_lesson(&app, &teacher, &[&student]).await;
    let send = |percent: u64| report(&app, &student, &lesson, at("in_progress", percent, percent * 10));
    let (a, b, c, d, e) = tokio::join!(send(10), send(30), send(50), send(70), send(90));
    for response in [a, b, c, d, e] {
        response.expect(StatusCode::OK, None);
    }
    let stored = app.get(&format!("/api/v1/lessons/{lesson}/progress")).bearer(&student.access_token).send().await;
    assert_eq!(seen(&stored), ("in_progress".into(), 90, 900));
    let stats = statistics(&app, &teacher, &lesson).await;
    // Each total is the sum of the steps actually stored: one learner at 90 %.
    assert_eq!((stats["learners"].as_u64(), stats["started"].as_u64()), (Some(1), Some(1)));
    assert_eq!(
        (stats["average_percent"].as_f64(), stats["average_time_spent_seconds"].as_f64()),
        (Some(90.0), Some(900.0))
    );
}

#[tokio::test]
async fn a_student_reports_only_on_published_lessons_of_their_classes() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (inside, outside) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let lesson = published_lesson(&app, &teacher, &[&inside]).await;
    let draft = create(&app, &teacher, body("Draft")).await.data()["id"].as_str().unwrap().to_owned();
    let progress_of = |student: &Account, lesson: &str| {
        let lesson: LessonId = lesson.parse().unwrap();
        let student: UserId = student.user_id.parse().unwrap();
        admin.tenant().progress(&lesson, &student)
    };

    report(&app, &outside, &lesson, at("in_progress", 10, 5)).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    report(&app, &inside, &draft, at("in_progress", 10, 5)).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    for staff in [&teacher, &admin] {
        report(&app, staff, &lesson, at("in_progress", 10, 5)).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    assert_eq!(app.raw_item(&progress_of(&outside, &lesson)).await, None);

    // Bad bodies are refused by field, and store nothing.
    for (bad, field) in [
        (at("in_progress", 101, 5), "percent"),
        (json!({"status": "done", "percent": 5, "time_spent_seconds": 5}), "status"),
        (json!({"status": "in_progress", "percent": "5", "time_spent_seconds": 5}), "percent"),
        (json!({"status": "in_progress", "percent": 5}), "time_spent_seconds"),
        (at("in_progress", 5, 400 * 24 * 3600), "time_spent_seconds"),
        (json!({"status": "in_progress", "percent": -1, "time_spent_seconds": 5}), "percent"),
    ] {
        let refused = report(&app, &inside, &lesson, bad.clone()).await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], field, "{bad}");
    }
    assert_eq!(app.raw_item(&progress_of(&inside, &lesson)).await, None);

    // Another tenant's student cannot reach the lesson, nor change its progress.
    report(&app, &inside, &lesson, at("in_progress", 10, 5)).await.expect(StatusCode::OK, None);
    let before = app.raw_item(&progress_of(&inside, &lesson)).await;
    let stranger_admin = app.register_org().await;
    let stranger = app.member(&stranger_admin, "student").await;
    report(&app, &stranger, &lesson, at("completed", 100, 5)).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get(&format!("/api/v1/lessons/{lesson}/statistics"))
        .bearer(&stranger_admin.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get(&format!("/api/v1/lessons/{lesson}/progress?student_id={}", inside.user_id))
        .bearer(&stranger_admin.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(app.raw_item(&progress_of(&inside, &lesson)).await, before);
    // Statistics are for staff.
    app.get(&format!("/api/v1/lessons/{lesson}/statistics"))
        .bearer(&inside.access_token)
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

/// What progress reports read of a lesson (`domain::lesson::PublishedLesson`)
/// follows the lesson: written when it is published, renamed with it, gone
/// when it is deleted, untouched by a refused change.
#[tokio::test]
async fn reports_follow_a_lessons_publication_title_and_deletion() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (first, second) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let class = app.class_with(&teacher, &[&first, &second]).await;
    let lesson = create(&app, &teacher, body("Fractions")).await.data()["id"].as_str().unwrap().to_owned();
    let summary = admin.tenant().published_lesson(&lesson.parse().unwrap());
    assert_eq!(app.raw_item(&summary).await, None, "a draft has no summary");
    publish(&app, &teacher, &lesson, json!([class])).await.expect(StatusCode::OK, None);
    let stored = app.state.db.get::<PublishedLesson>(&summary).await.unwrap().unwrap();
    assert_eq!(stored, PublishedLesson { title: "Fractions".into(), class_ids: vec![class.parse().unwrap()] });
    let reported = report(&app, &first, &lesson, at("in_progress", 10, 5)).await;
    assert_eq!(reported.data()["lesson_title"], "Fractions");

    // A rename at a stale version is refused and changes nothing beside it.
    let rename = |version: &str| {
        app.call(Method::PUT, &format!("/api/v1/lessons/{lesson}"))
            .bearer(&teacher.access_token)
            .header("if-match", &format!("\"{version}\""))
            .json(body("Fractions and decimals"))
            .send()
    };
    let before = app.raw_item(&summary).await;
    rename("1").await.expect(StatusCode::PRECONDITION_FAILED, Some("precondition_failed"));
    assert_eq!(app.raw_item(&summary).await, before);
    rename("2").await.expect(StatusCode::OK, None);
    let reported = report(&app, &second, &lesson, at("in_progress", 10, 5)).await;
    assert_eq!(reported.data()["lesson_title"], "Fractions and decimals");

    app.call(Method::DELETE, &format!("/api/v1/lessons/{lesson}"))
        .bearer(&teacher.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    assert_eq!(app.raw_item(&summary).await, None);
    report(&app, &first, &lesson, at("completed", 100, 9)).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn a_parent_sees_only_their_childs_progress() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (child, other) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let parent = app.member(&admin, "parent").await;
    let lesson = published_lesson(&app, &teacher, &[&child, &other]).await;
    report(&app, &child, &lesson, at("completed", 100, 600)).await.expect(StatusCode::OK, None);
    report(&app, &other, &lesson, at("in_progress", 20, 60)).await.expect(StatusCode::OK, None);
    let list_of = |student: &Account| format!("/api/v1/lessons/progress?student_id={}", student.user_id);
    let one_of = |student: &Account| format!("/api/v1/lessons/{lesson}/progress?student_id={}", student.user_id);

    // Not linked yet: the child is nobody to the parent.
    app.get(&list_of(&child))
        .bearer(&parent.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.link_parent(&admin, &parent, &child).await;
    let listed = app.get(&list_of(&child)).bearer(&parent.access_token).send().await;
    listed.expect(StatusCode::OK, None);
    assert_eq!(listed.data().as_array().unwrap().len(), 1);
    assert_eq!(
        (listed.data()[0]["lesson_id"].as_str(), listed.data()[0]["lesson_title"].as_str()),
        (Some(lesson.as_str()), Some("Fractions"))
    );
    assert_eq!(listed.data()[0]["status"], "completed");
    let one = app.get(&one_of(&child)).bearer(&parent.access_token).send().await;
    assert_eq!(seen(&one), ("completed".into(), 100, 600));
    for path in [list_of(&other), one_of(&other)] {
        app.get(&path).bearer(&parent.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    }
    app.get("/api/v1/lessons/progress")
        .bearer(&parent.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));

    // A student reads their own, never another's; staff name the student.
    let own = app.get("/api/v1/lessons/progress").bearer(&other.access_token).send().await;
    assert_eq!(own.data()[0]["percent"], 20);
    app.get(&list_of(&child)).bearer(&other.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let staff = app.get(&one_of(&other)).bearer(&teacher.access_token).send().await;
    assert_eq!(seen(&staff), ("in_progress".into(), 20, 60));
    app.get("/api/v1/lessons/progress")
        .bearer(&teacher.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    // Before any report, progress reads as not started.
    let fresh = app.member(&admin, "student").await;
    let none = app.get(&one_of(&fresh)).bearer(&teacher.access_token).send().await;
    assert_eq!(seen(&none), ("not_started".into(), 0, 0));
    assert!(none.data()["updated_at"].is_null());
}
