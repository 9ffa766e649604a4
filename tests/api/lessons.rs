//! Lessons: written or made from generated content, versioned, published to
//! classes, and read by those classes' students only.

use axum::http::{Method, StatusCode};
use serde_json::{Value, json};

use crate::helpers::{Account, TestApp, TestResponse};

pub(crate) fn body(title: &str) -> Value {
    json!({"title": title, "summary": "How plants make food.", "objectives": ["Explain photosynthesis"],
           "sections": [{"heading": "Light", "body": "Leaves catch light."}]})
}

pub(crate) async fn create(app: &TestApp, author: &Account, body: Value) -> TestResponse {
    app.post("/api/v1/lessons").bearer(&author.access_token).json(body).send().await
}

pub(crate) async fn publish(app: &TestApp, author: &Account, lesson: &str, classes: Value) -> TestResponse {
    app.post(&format!("/api/v1/lessons/{lesson}/publish"))
        .bearer(&author.access_token)
        .json(json!({"class_ids": classes}))
        .send()
        .await
}

#[tokio::test]
async fn a_published_lesson_is_read_by_its_classes_students_only() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (inside, outside) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let class = app.class_with(&teacher, &[&inside]).await;
    let other_class = app.class_with(&teacher, &[&outside]).await;
    let created = create(&app, &teacher, body("Photosynthesis")).await;
    created.expect(StatusCode::CREATED, None);
    assert_eq!((created.data()["status"].as_str(), created.data()["version"].as_u64()), (Some("draft"), Some(1)));
    let lesson = created.data()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/lessons/{lesson}");

    // A draft is nobody's but the staff's.
    app.get(&path).bearer(&inside.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let published = publish(&app, &teacher, &lesson, json!([class])).await;
    published.expect(StatusCode::OK, None);
    assert_eq!(published.data()["status"], "published");
    assert_eq!(published.data()["class_ids"], json!([class]));
    app.get(&path).bearer(&inside.access_token).send().await.expect(StatusCode::OK, None);
    app.get(&path).bearer(&outside.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));

    let of = |class: &str| format!("/api/v1/lessons?class_id={class}");
    let listed = app.get(&of(&class)).bearer(&inside.access_token).send().await;
    listed.expect(StatusCode::OK, None);
    assert_eq!(listed.data()[0]["id"], lesson.as_str());
    // Not their class: 404; no class named: 400.
    app.get(&of(&class)).bearer(&outside.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let theirs = app.get(&of(&other_class)).bearer(&outside.access_token).send().await;
    assert!(theirs.data().as_array().unwrap().is_empty());
    app.get("/api/v1/lessons")
        .bearer(&inside.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));

    // Publishing again to the same class changes nothing; to another adds it.
    let again = publish(&app, &teacher, &lesson, json!([class])).await;
    assert_eq!(again.data()["version"], published.data()["version"]);
    publish(&app, &teacher, &lesson, json!([other_class])).await.expect(StatusCode::OK, None);
    app.get(&path).bearer(&outside.access_token).send().await.expect(StatusCode::OK, None);
    // A full page is allowed (the class and the student's place ride along).
    let full = app.get(&format!("{}&limit=100", of(&class))).bearer(&inside.access_token).send().await;
    full.expect(StatusCode::OK, None);
    // A deleted class takes its lessons from its students.
    app.delete(&format!("/api/v1/classes/{other_class}"))
        .bearer(&teacher.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    app.get(&path).bearer(&outside.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get(&of(&other_class))
        .bearer(&outside.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));

    // Deleted: gone for everyone.
    app.delete(&path).bearer(&teacher.access_token).send().await.expect(StatusCode::OK, None);
    app.get(&path).bearer(&inside.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let listed = app.get(&of(&class)).bearer(&inside.access_token).send().await;
    assert!(listed.data().as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_generated_lesson_becomes_a_lesson_and_a_quiz_does_not() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let made = app
        .generated(&admin, json!({"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Cells"}))
        .await;
    let created = create(&app, &admin, json!({"content_id": made.content_id})).await;
    created.expect(StatusCode::CREATED, None);
    assert_eq!(created.data()["content_id"], made.content_id.as_str());
    assert!(created.data()["title"].as_str().unwrap().starts_with("Cells"));
    assert!(!created.data()["sections"].as_array().unwrap().is_empty());
    let quiz = app
        .generated(&admin, json!({"type": "quiz", "subject": "Maths", "grade_level": 4, "topic": "Fractions"}))
        .await;
    for (body, field) in [
        (json!({"content_id": quiz.content_id}), "content_id"),
        (json!({"content_id": made.content_id, "title": "Both"}), "content_id"),
        (json!({"content_id": domain::ids::ContentId::new()}), "content_id"),
        (json!({"title": "Only a title"}), "body"),
    ] {
        let refused = create(&app, &admin, body).await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], field, "{}", refused.text);
    }
}

#[tokio::test]
async fn only_the_author_or_an_admin_changes_a_lesson_and_edits_are_versioned() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let author = app.member(&admin, "teacher").await;
    let colleague = app.member(&admin, "teacher").await;
    let lesson = create(&app, &author, body("Draft")).await.data()["id"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/lessons/{lesson}");
    app.call(Method::PUT, &path)
        .bearer(&colleague.access_token)
        .json(body("Mine now"))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let class = app.class_with(&colleague, &[]).await;
    publish(&app, &colleague, &lesson, json!([class])).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    // Nor does the author publish into a colleague's class.
    publish(&app, &author, &lesson, json!([class])).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let changed = app
        .call(Method::PUT, &path)
        .bearer(&author.access_token)
        .header("if-match", "\"1\"")
        .json(body("Final"))
        .send()
        .await;
    changed.expect(StatusCode::OK, None);
    assert_eq!((changed.data()["title"].as_str(), changed.data()["version"].as_u64()), (Some("Final"), Some(2)));
    app.call(Method::PUT, &path)
        .bearer(&admin.access_token)
        .header("if-match", "\"1\"")
        .json(body("Stale"))
        .send()
        .await
        .expect(StatusCode::PRECONDITION_FAILED, Some("precondition_failed"));
    let mut empty = body("No sections");
    empty["sections"] = json!([]);
    let refused = app.call(Method::PUT, &path).bearer(&author.access_token).json(empty).send().await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(refused.body["error"]["details"][0]["field"], "sections");
    for classes in [json!([]), json!([domain::ids::ClassId::new()])] {
        let refused = publish(&app, &author, &lesson, classes).await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], "class_ids");
    }
    let read = app.get(&path).bearer(&author.access_token).send().await;
    assert_eq!((read.data()["title"].as_str(), read.data()["status"].as_str()), (Some("Final"), Some("draft")));
}

#[tokio::test]
async fn another_tenants_lessons_and_classes_are_out_of_reach() {
    let app = TestApp::spawn().await;
    let a = app.register_org().await;
    let b = app.register_org().await;
    let lesson = create(&app, &a, body("A's")).await.data()["id"].as_str().unwrap().to_owned();
    let key = a.tenant().lesson(&lesson.parse().unwrap());
    let before = app.raw_item(&key).await.unwrap();
    let path = format!("/api/v1/lessons/{lesson}");
    app.get(&path).bearer(&b.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.call(Method::PUT, &path)
        .bearer(&b.access_token)
        .json(body("B's"))
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.delete(&path).bearer(&b.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let b_class = app.class_with(&b, &[]).await;
    publish(&app, &b, &lesson, json!([b_class])).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    // A's lesson to B's class: no such class in A.
    let refused = publish(&app, &a, &lesson, json!([b_class])).await;
    assert_eq!(refused.body["error"]["details"][0]["field"], "class_ids");
    assert_eq!(app.raw_item(&key).await.unwrap(), before);
    let listed = app.get("/api/v1/lessons").bearer(&b.access_token).send().await;
    assert!(listed.data().as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_publish_naming_more_classes_than_an_item_may_have_is_refused_whole() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let class = app.class_with(&teacher, &[]).await;
    let lesson = create(&app, &teacher, body("Too many")).await.data()["id"].as_str().unwrap().to_owned();
    let key = teacher.tenant().lesson(&lesson.parse().unwrap());
    let before = app.raw_item(&key).await;
    // The same class 21 times, then a list as long as a body may be: refused
    // by their length, before any class is read or compared.
    let many: Vec<&str> = std::iter::repeat_n(class.as_str(), domain::publication::MAX_CLASSES + 1).collect();
    let refused = publish(&app, &teacher, &lesson, json!(many)).await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(refused.body["error"]["details"][0]["field"], "class_ids");
    let huge: Vec<String> = (0..20_000).map(|_| domain::ids::ClassId::new().to_string()).collect();
    publish(&app, &teacher, &lesson, json!(huge))
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(app.raw_item(&key).await, before);
    publish(&app, &teacher, &lesson, json!([class, class])).await.expect(StatusCode::OK, None);
}
