//! Classes and rosters: who may create, read and change them, batch
//! enrollment with per-student failures, an exact student count, and what a
//! student sees.

use axum::http::{Method, StatusCode};
use domain::ids::UserId;
use serde_json::{Value, json};

use crate::helpers::{Account, TestApp, TestResponse};

async fn create_class(app: &TestApp, teacher: &Account, body: Value) -> TestResponse {
    app.post("/api/v1/classes").bearer(&teacher.access_token).json(body).send().await
}

async fn new_class(app: &TestApp, teacher: &Account) -> String {
    let created =
        create_class(app, teacher, json!({"name": "7B Biology", "subject": "Biology", "grade_level": 7})).await;
    created.expect(StatusCode::CREATED, None);
    created.data()["id"].as_str().unwrap().to_owned()
}

async fn enroll(app: &TestApp, caller: &Account, class: &str, ids: Value) -> TestResponse {
    app.post(&format!("/api/v1/classes/{class}/students"))
        .bearer(&caller.access_token)
        .json(json!({"student_ids": ids}))
        .send()
        .await
}

fn ids(response: &TestResponse) -> Vec<String> {
    response.data().as_array().unwrap().iter().map(|c| c["id"].as_str().unwrap().to_owned()).collect()
}

#[tokio::test]
async fn a_teacher_creates_a_class_and_enrolls_students_reporting_each_failure() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (s1, s2) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let created =
        create_class(&app, &teacher, json!({"name": "7B Biology", "subject": "Biology", "grade_level": 7})).await;
    created.expect(StatusCode::CREATED, None);
    assert_eq!(created.data()["teacher_id"], teacher.user_id.as_str());
    assert_eq!((created.data()["student_count"].as_u64(), created.data()["version"].as_u64()), (Some(0), Some(1)));
    let class = created.data()["id"].as_str().unwrap().to_owned();

    let stranger = UserId::new().to_string();
    let result =
        enroll(&app, &teacher, &class, json!([s1.user_id, s2.user_id, s1.user_id, teacher.user_id, stranger, "nope"]))
            .await;
    result.expect(StatusCode::OK, None);
    let enrolled: Vec<&str> =
        result.data()["enrolled"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert_eq!(enrolled, [s1.user_id.as_str(), s2.user_id.as_str()]);
    let reasons: Vec<(String, String)> = result.data()["failed"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["student_id"].as_str().unwrap().to_owned(), f["reason"].as_str().unwrap().to_owned()))
        .collect();
    assert!(reasons.contains(&("nope".into(), "invalid_id".into())), "{reasons:?}");
    assert!(reasons.contains(&(stranger, "not_found".into())));
    assert!(reasons.contains(&(teacher.user_id.clone(), "not_a_student".into())));
    assert_eq!(result.data()["student_count"], 2);
    // Again: both already in, the count unchanged.
    let again = enroll(&app, &teacher, &class, json!([s1.user_id, s2.user_id])).await;
    assert!(again.data()["enrolled"].as_array().unwrap().is_empty());
    assert_eq!(again.data()["failed"][0]["reason"], "already_enrolled");
    assert_eq!(again.data()["student_count"], 2);

    let roster = app.get(&format!("/api/v1/classes/{class}/students")).bearer(&teacher.access_token).send().await;
    roster.expect(StatusCode::OK, None);
    let mut listed: Vec<&str> =
        roster.data().as_array().unwrap().iter().map(|s| s["user_id"].as_str().unwrap()).collect();
    listed.sort();
    let mut expected = vec![s1.user_id.as_str(), s2.user_id.as_str()];
    expected.sort();
    assert_eq!(listed, expected, "the roster lists students, not the teacher");

    let path = format!("/api/v1/classes/{class}/students/{}", s1.user_id);
    app.delete(&path).bearer(&teacher.access_token).send().await.expect(StatusCode::NO_CONTENT, None);
    app.delete(&path).bearer(&teacher.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let read = app.get(&format!("/api/v1/classes/{class}")).bearer(&teacher.access_token).send().await;
    assert_eq!(read.data()["student_count"], 1);
    // The teacher's own entry is not a student's to remove.
    app.delete(&format!("/api/v1/classes/{class}/students/{}", teacher.user_id))
        .bearer(&teacher.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn concurrent_enrollments_of_the_same_students_count_each_once() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let class = new_class(&app, &admin).await;
    let mut students = Vec::new();
    for _ in 0..4 {
        students.push(app.member(&admin, "student").await.user_id);
    }
    let batch = json!(students);
    let (a, b, c) = tokio::join!(
        enroll(&app, &admin, &class, batch.clone()),
        enroll(&app, &admin, &class, batch.clone()),
        enroll(&app, &admin, &class, batch.clone())
    );
    let total: usize = [&a, &b, &c].iter().map(|r| r.data()["enrolled"].as_array().unwrap().len()).sum();
    assert_eq!(total, 4, "each student enrolled by exactly one request");
    let read = app.get(&format!("/api/v1/classes/{class}")).bearer(&admin.access_token).send().await;
    assert_eq!(read.data()["student_count"], 4);
}

#[tokio::test]
async fn a_student_sees_only_the_classes_they_are_enrolled_in() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let student = app.member(&admin, "student").await;
    let mine = new_class(&app, &teacher).await;
    let other = new_class(&app, &teacher).await;
    enroll(&app, &teacher, &mine, json!([student.user_id])).await.expect(StatusCode::OK, None);
    let listed = app.get("/api/v1/classes").bearer(&student.access_token).send().await;
    listed.expect(StatusCode::OK, None);
    assert_eq!(ids(&listed), vec![mine.clone()]);
    app.get(&format!("/api/v1/classes/{mine}")).bearer(&student.access_token).send().await.expect(StatusCode::OK, None);
    app.get(&format!("/api/v1/classes/{other}"))
        .bearer(&student.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    // Staff see every class of the organization.
    let all = app.get("/api/v1/classes").bearer(&teacher.access_token).send().await;
    assert_eq!(ids(&all), vec![other.clone(), mine.clone()]);
    // A deleted class leaves the student's list too.
    app.delete(&format!("/api/v1/classes/{mine}"))
        .bearer(&teacher.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    let listed = app.get("/api/v1/classes").bearer(&student.access_token).send().await;
    assert!(ids(&listed).is_empty());
    app.get(&format!("/api/v1/classes/{mine}"))
        .bearer(&teacher.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn only_the_classes_teacher_or_an_admin_changes_it_and_edits_are_versioned() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let colleague = app.member(&admin, "teacher").await;
    let class = new_class(&app, &teacher).await;
    let path = format!("/api/v1/classes/{class}");
    let change = json!({"name": "7B Biology (autumn)", "grade_level": 7});
    app.call(Method::PUT, &path)
        .bearer(&colleague.access_token)
        .json(change.clone())
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let student = app.member(&admin, "student").await;
    enroll(&app, &colleague, &class, json!([student.user_id])).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let changed = app
        .call(Method::PUT, &path)
        .bearer(&teacher.access_token)
        .header("if-match", "\"1\"")
        .json(change.clone())
        .send()
        .await;
    changed.expect(StatusCode::OK, None);
    assert_eq!(
        (changed.data()["name"].as_str(), changed.data()["version"].as_u64()),
        (Some("7B Biology (autumn)"), Some(2))
    );
    assert!(changed.data().get("subject").is_none(), "a PUT replaces: the subject left out is gone");
    app.call(Method::PUT, &path)
        .bearer(&admin.access_token)
        .header("if-match", "\"1\"")
        .json(change)
        .send()
        .await
        .expect(StatusCode::PRECONDITION_FAILED, Some("precondition_failed"));
    for (body, field) in [
        (json!({"name": ""}), "name"),
        (json!({"name": "x", "grade_level": 13}), "grade_level"),
        (json!({"name": "x", "teacher_id": "nobody"}), "teacher_id"),
    ] {
        let refused = app.call(Method::PUT, &path).bearer(&teacher.access_token).json(body).send().await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], field, "{}", refused.text);
    }
    // A teacher creates classes for themselves only; an admin names the teacher.
    create_class(&app, &teacher, json!({"name": "Mine", "teacher_id": colleague.user_id}))
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let assigned = create_class(&app, &admin, json!({"name": "Theirs", "teacher_id": colleague.user_id})).await;
    assigned.expect(StatusCode::CREATED, None);
    assert_eq!(assigned.data()["teacher_id"], colleague.user_id.as_str());
    let refused = create_class(&app, &admin, json!({"name": "Nobody's", "teacher_id": student.user_id})).await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(refused.body["error"]["details"][0]["field"], "teacher_id");
}

#[tokio::test]
async fn a_batch_over_500_or_empty_is_refused_and_enrolls_no_one() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let class = new_class(&app, &admin).await;
    let student = app.member(&admin, "student").await;
    let mut many: Vec<String> = (0..500).map(|_| UserId::new().to_string()).collect();
    many.push(student.user_id.clone());
    for batch in [json!(many), json!([])] {
        let refused = enroll(&app, &admin, &class, batch).await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], "student_ids");
    }
    let read = app.get(&format!("/api/v1/classes/{class}")).bearer(&admin.access_token).send().await;
    assert_eq!(read.data()["student_count"], 0);
    // 500 is allowed: the unknown ids are reported, the one student enrolled.
    many.remove(0);
    let result = enroll(&app, &admin, &class, json!(many)).await;
    result.expect(StatusCode::OK, None);
    assert_eq!(result.data()["enrolled"], json!([student.user_id]));
    assert_eq!(result.data()["failed"].as_array().unwrap().len(), 499);
}

#[tokio::test]
async fn another_tenants_classes_are_404_and_their_students_cannot_be_enrolled() {
    let app = TestApp::spawn().await;
    let a = app.register_org().await;
    let b = app.register_org().await;
    let class = new_class(&app, &a).await;
    let key = a.tenant().class(&class.parse().unwrap());
    let before = app.raw_item(&key).await.unwrap();
    let path = format!("/api/v1/classes/{class}");
    app.get(&path).bearer(&b.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.call(Method::PUT, &path)
        .bearer(&b.access_token)
        .json(json!({"name": "Taken"}))
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.delete(&path).bearer(&b.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let b_student = app.member(&b, "student").await;
    enroll(&app, &b, &class, json!([b_student.user_id])).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(app.raw_item(&key).await.unwrap(), before);
    // B's student in A's class, by A's admin: no such member in A.
    let result = enroll(&app, &a, &class, json!([b_student.user_id])).await;
    assert_eq!(result.data()["failed"][0]["reason"], "not_found");
    let listed = app.get("/api/v1/classes").bearer(&b.access_token).send().await;
    assert!(ids(&listed).is_empty());
}

#[tokio::test]
async fn a_parent_reads_only_a_linked_childs_classes() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let parent = app.member(&admin, "parent").await;
    let (child, other) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let class = new_class(&app, &teacher).await;
    let elsewhere = new_class(&app, &teacher).await;
    enroll(&app, &teacher, &class, json!([child.user_id])).await.expect(StatusCode::OK, None);
    enroll(&app, &teacher, &elsewhere, json!([other.user_id])).await.expect(StatusCode::OK, None);
    let children = format!("/api/v1/organizations/current/members/{}/children", parent.user_id);
    let of = |student: &Account| format!("/api/v1/classes?student_id={}", student.user_id);

    // Before an admin links them, the child is nobody to the parent.
    app.get(&of(&child)).bearer(&parent.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let linked = app.post(&children).bearer(&admin.access_token).json(json!({"child_id": child.user_id})).send().await;
    linked.expect(StatusCode::CREATED, None);
    assert_eq!(linked.data()["child_id"], child.user_id.as_str());
    app.post(&children)
        .bearer(&admin.access_token)
        .json(json!({"child_id": child.user_id}))
        .send()
        .await
        .expect(StatusCode::CONFLICT, Some("conflict"));

    let listed = app.get(&format!("{}&limit=100", of(&child))).bearer(&parent.access_token).send().await;
    listed.expect(StatusCode::OK, None);
    assert_eq!(ids(&listed), vec![class.clone()]);
    let one = format!("/api/v1/classes/{class}?student_id={}", child.user_id);
    app.get(&one).bearer(&parent.access_token).send().await.expect(StatusCode::OK, None);
    // Not their child, not their child's class, no child named.
    app.get(&of(&other)).bearer(&parent.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get(&format!("/api/v1/classes/{elsewhere}?student_id={}", child.user_id))
        .bearer(&parent.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get("/api/v1/classes")
        .bearer(&parent.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    // A student may not look through another student's eyes.
    app.get(&of(&other)).bearer(&child.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    // The parent sees the link; another parent does not.
    let mine = app.get(&children).bearer(&parent.access_token).send().await;
    assert_eq!(mine.data()[0]["child_id"], child.user_id.as_str());
    let stranger = app.member(&admin, "parent").await;
    app.get(&children).bearer(&stranger.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));

    // Unlinked: access ends at once.
    let unlink = format!("{children}/{}", child.user_id);
    app.delete(&unlink).bearer(&admin.access_token).send().await.expect(StatusCode::NO_CONTENT, None);
    app.delete(&unlink).bearer(&admin.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get(&of(&child)).bearer(&parent.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn only_a_parent_links_to_only_a_student() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let parent = app.member(&admin, "parent").await;
    let student = app.member(&admin, "student").await;
    let link = |parent: &Account, child: &str| {
        app.post(&format!("/api/v1/organizations/current/members/{}/children", parent.user_id))
            .bearer(&admin.access_token)
            .json(json!({"child_id": child}))
    };
    let refused = link(&parent, &teacher.user_id).send().await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(refused.body["error"]["details"][0]["field"], "child_id");
    let refused = link(&parent, &UserId::new().to_string()).send().await;
    assert_eq!(refused.body["error"]["details"][0]["field"], "child_id");
    link(&teacher, &student.user_id).send().await.expect(StatusCode::CONFLICT, Some("conflict"));
    // Another organization's student is no member here.
    let other = app.register_org().await;
    let theirs = app.member(&other, "student").await;
    link(&parent, &theirs.user_id).send().await.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    app.post(&format!("/api/v1/organizations/current/members/{}/children", parent.user_id))
        .bearer(&teacher.access_token)
        .json(json!({"child_id": student.user_id}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

#[tokio::test]
async fn a_removed_member_leaves_their_classes_and_families() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (leaving, staying) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let (parent, other_parent) = (app.member(&admin, "parent").await, app.member(&admin, "parent").await);
    let first = app.class_with(&teacher, &[&leaving, &staying]).await;
    let second = app.class_with(&teacher, &[&leaving]).await;
    app.link_parent(&admin, &parent, &leaving).await;
    app.link_parent(&admin, &parent, &staying).await;
    app.link_parent(&admin, &other_parent, &staying).await;

    let remove = |who: &Account| format!("/api/v1/organizations/current/members/{}", who.user_id);
    app.delete(&remove(&leaving)).bearer(&admin.access_token).send().await.expect(StatusCode::NO_CONTENT, None);
    for (class, count) in [(&first, 1), (&second, 0)] {
        let seen = app.get(&format!("/api/v1/classes/{class}")).bearer(&teacher.access_token).send().await;
        assert_eq!(seen.data()["student_count"], count);
        let roster = app.get(&format!("/api/v1/classes/{class}/students")).bearer(&teacher.access_token).send().await;
        let ids: Vec<&str> = roster.data().as_array().unwrap().iter().map(|e| e["user_id"].as_str().unwrap()).collect();
        assert!(!ids.contains(&leaving.user_id.as_str()), "{ids:?}");
    }
    let children = |who: &Account| format!("/api/v1/organizations/current/members/{}/children", who.user_id);
    let theirs = app.get(&children(&parent)).bearer(&admin.access_token).send().await;
    let linked: Vec<&str> = theirs.data().as_array().unwrap().iter().map(|l| l["child_id"].as_str().unwrap()).collect();
    assert_eq!(linked, [staying.user_id.as_str()]);

    // A removed parent's links go too; the child's other parent keeps theirs.
    app.delete(&remove(&parent)).bearer(&admin.access_token).send().await.expect(StatusCode::NO_CONTENT, None);
    let key = admin.tenant().guardian_link(&parent.user_id.parse().unwrap(), &staying.user_id.parse().unwrap());
    assert_eq!(app.raw_item(&key).await, None);
    let kept = app.get(&children(&other_parent)).bearer(&admin.access_token).send().await;
    assert_eq!(kept.data().as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn an_admin_hands_a_class_to_another_teacher_with_its_roster_place() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let (old, new) = (app.member(&admin, "teacher").await, app.member(&admin, "teacher").await);
    let student = app.member(&admin, "student").await;
    let class = app.class_with(&old, &[&student]).await;
    let path = format!("/api/v1/classes/{class}");
    let handed = json!({"name": "7B", "teacher_id": new.user_id});

    // Only an admin hands a class over, and only to a teacher or admin.
    let refused = app.call(Method::PUT, &path).bearer(&old.access_token).json(handed.clone()).send().await;
    refused.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let to_student = json!({"name": "7B", "teacher_id": student.user_id});
    let refused = app.call(Method::PUT, &path).bearer(&admin.access_token).json(to_student).send().await;
    refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(refused.body["error"]["details"][0]["field"], "teacher_id");

    let changed = app.call(Method::PUT, &path).bearer(&admin.access_token).json(handed).send().await;
    changed.expect(StatusCode::OK, None);
    assert_eq!(
        (changed.data()["teacher_id"].as_str(), changed.data()["student_count"].as_u64()),
        (Some(new.user_id.as_str()), Some(1))
    );
    let place =
        |teacher: &Account| admin.tenant().roster_entry(&class.parse().unwrap(), &teacher.user_id.parse().unwrap());
    assert!(app.raw_item(&place(&new)).await.is_some());
    assert_eq!(app.raw_item(&place(&old)).await, None);
    // The new teacher manages it now; the old one no longer does.
    let rename = json!({"name": "7B Science"});
    app.call(Method::PUT, &path)
        .bearer(&new.access_token)
        .json(rename.clone())
        .send()
        .await
        .expect(StatusCode::OK, None);
    app.call(Method::PUT, &path)
        .bearer(&old.access_token)
        .json(rename)
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
}
