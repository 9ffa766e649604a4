//! Members: paginated list, role changes, removal, and the last admin.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

fn member_path(id: &str) -> String {
    format!("/api/v1/organizations/current/members/{id}")
}

#[tokio::test]
async fn the_member_list_pages_with_a_cursor() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let mut expected = HashSet::from([admin.user_id.clone()]);
    for role in ["teacher", "student", "parent"] {
        expected.insert(app.member(&admin, role).await.user_id);
    }
    let mut seen = HashSet::new();
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/organizations/current/members?limit=3&cursor={c}"),
            None => "/api/v1/organizations/current/members?limit=3".into(),
        };
        let page = app.get(&path).bearer(&admin.access_token).send().await;
        page.expect(StatusCode::OK, None);
        pages += 1;
        for member in page.data().as_array().unwrap() {
            assert!(member.get("password_hash").is_none());
            assert!(seen.insert(member["id"].as_str().unwrap().to_owned()), "a member came twice");
        }
        match page.body["metadata"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(pages < 10, "pagination does not end");
    }
    assert_eq!(seen, expected);
    assert!(pages >= 2);
}

#[tokio::test]
async fn bad_paging_parameters_are_400() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    for query in ["limit=0", "limit=101", "limit=ten", "cursor=garbage", "cursor=a.b"] {
        app.get(&format!("/api/v1/organizations/current/members?{query}"))
            .bearer(&admin.access_token)
            .send()
            .await
            .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
}

#[tokio::test]
async fn an_admin_changes_a_role_and_it_applies_at_once() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let second_admin = app.member(&admin, "admin").await;
    let response = app
        .patch(&member_path(&second_admin.user_id))
        .bearer(&admin.access_token)
        .json(json!({"role": "teacher"}))
        .send()
        .await;
    response.expect(StatusCode::OK, None);
    assert_eq!(response.data()["role"], "teacher");
    // The demoted member's token still says admin; the stored role wins.
    app.post("/api/v1/organizations/current/invites")
        .bearer(&second_admin.access_token)
        .json(json!({"email": crate::helpers::unique_email("x"), "role": "student"}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let me = app.get("/api/v1/auth/me").bearer(&second_admin.access_token).send().await;
    assert_eq!(me.data()["role"], "teacher");
}

#[tokio::test]
async fn the_last_admin_can_be_neither_demoted_nor_removed() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let before = app.raw_item(&admin.tenant().user(&admin.user_id.parse().unwrap())).await;
    app.patch(&member_path(&admin.user_id))
        .bearer(&admin.access_token)
        .json(json!({"role": "teacher"}))
        .send()
        .await
        .expect(StatusCode::CONFLICT, Some("conflict"));
    app.delete(&member_path(&admin.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::CONFLICT, Some("conflict"));
    assert_eq!(app.raw_item(&admin.tenant().user(&admin.user_id.parse().unwrap())).await, before);

    // With a second admin, the first may step down.
    let _second = app.member(&admin, "admin").await;
    app.set_role(&admin, &admin.user_id, "teacher").await;
}

#[tokio::test]
async fn concurrent_demotions_of_two_admins_leave_one() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let second = app.member(&admin, "admin").await;
    let (a, b) = tokio::join!(
        app.patch(&member_path(&admin.user_id)).bearer(&second.access_token).json(json!({"role": "teacher"})).send(),
        app.patch(&member_path(&second.user_id)).bearer(&admin.access_token).json(json!({"role": "teacher"})).send(),
    );
    let ok = [a.status, b.status].iter().filter(|s| **s == StatusCode::OK).count();
    assert_eq!(ok, 1, "exactly one demotion lands: {} / {}", a.text, b.text);
}

#[tokio::test]
async fn a_removed_member_is_signed_out_and_their_email_freed() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    app.delete(&member_path(&teacher.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);

    app.get("/api/v1/auth/me").bearer(&teacher.access_token).send().await.expect(StatusCode::UNAUTHORIZED, None);
    app.post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": teacher.refresh_token}))
        .send()
        .await
        .expect(StatusCode::UNAUTHORIZED, None);
    app.login(&teacher.email, &teacher.password).await.expect(StatusCode::UNAUTHORIZED, None);
    let list = app.get("/api/v1/organizations/current/members").bearer(&admin.access_token).send().await;
    assert!(list.data().as_array().unwrap().iter().all(|m| m["id"] != teacher.user_id.as_str()));
    // Removing again finds nobody.
    app.delete(&member_path(&teacher.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    // The address can be invited again.
    app.invite(&admin, &teacher.email, "teacher").await;
}

#[tokio::test]
async fn only_admins_change_roles_or_remove() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let target = app.member(&admin, "student").await;
    let before = app.raw_item(&admin.tenant().user(&target.user_id.parse().unwrap())).await;
    for role in ["teacher", "student", "parent"] {
        let member = app.member(&admin, role).await;
        app.patch(&member_path(&target.user_id))
            .bearer(&member.access_token)
            .json(json!({"role": "admin"}))
            .send()
            .await
            .expect(StatusCode::FORBIDDEN, Some("forbidden"));
        app.delete(&member_path(&target.user_id))
            .bearer(&member.access_token)
            .send()
            .await
            .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    assert_eq!(app.raw_item(&admin.tenant().user(&target.user_id.parse().unwrap())).await, before);
}

#[tokio::test]
async fn unknown_or_malformed_member_ids_are_404_and_bad_roles_422() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    for id in [ulid::Ulid::new().to_string(), "not-an-id".into()] {
        app.patch(&member_path(&id))
            .bearer(&admin.access_token)
            .json(json!({"role": "teacher"}))
            .send()
            .await
            .expect(StatusCode::NOT_FOUND, Some("not_found"));
    }
    let response =
        app.patch(&member_path(&admin.user_id)).bearer(&admin.access_token).json(json!({"role": "owner"})).send().await;
    response.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(response.body["error"]["details"][0]["field"], "role");
}

/// Every page of the member list as `token` sees it.
async fn all_members(app: &TestApp, token: &str) -> Vec<serde_json::Value> {
    let mut members = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/organizations/current/members?limit=2&cursor={c}"),
            None => "/api/v1/organizations/current/members?limit=2".into(),
        };
        let page = app.get(&path).bearer(token).send().await;
        page.expect(StatusCode::OK, None);
        members.extend(page.data().as_array().unwrap().iter().cloned());
        match page.body["metadata"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return members,
        }
    }
}

#[tokio::test]
async fn students_and_parents_see_only_the_staff_and_no_contact_details() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let student = app.member(&admin, "student").await;
    let parent = app.member(&admin, "parent").await;
    let staff = HashSet::from([admin.user_id.clone(), teacher.user_id.clone()]);

    for viewer in [&student, &parent] {
        let seen = all_members(&app, &viewer.access_token).await;
        let ids: HashSet<String> = seen.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
        assert_eq!(ids, staff, "a student or parent sees the staff, and only them");
        for member in &seen {
            let mut fields: Vec<&str> = member.as_object().unwrap().keys().map(String::as_str).collect();
            fields.sort();
            assert_eq!(fields, ["first_name", "id", "last_name", "role"], "{member}");
        }
    }
    // A directory cursor does not page through the full list.
    let first = app.get("/api/v1/organizations/current/members?limit=1").bearer(&student.access_token).send().await;
    let cursor = first.body["metadata"]["next_cursor"].as_str().unwrap();
    app.get(&format!("/api/v1/organizations/current/members?limit=1&cursor={cursor}"))
        .bearer(&teacher.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));

    // Staff see everyone, with emails.
    let seen = all_members(&app, &teacher.access_token).await;
    assert_eq!(seen.len(), 4);
    assert!(seen.iter().all(|m| m["email"].is_string()));

    // The directory follows role changes and removals.
    app.set_role(&admin, &teacher.user_id, "parent").await;
    app.set_role(&admin, &parent.user_id, "teacher").await;
    let second_admin = app.member(&admin, "admin").await;
    app.delete(&member_path(&second_admin.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);
    let ids: HashSet<String> =
        all_members(&app, &student.access_token).await.iter().map(|m| m["id"].as_str().unwrap().to_owned()).collect();
    assert_eq!(ids, HashSet::from([admin.user_id.clone(), parent.user_id.clone()]));
}
