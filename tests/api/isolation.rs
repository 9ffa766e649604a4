//! Another tenant's ids: always 404, and the other tenant's data unchanged.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn another_tenants_member_ids_are_404_and_untouched() {
    let app = TestApp::spawn().await;
    let a = app.register_org().await;
    let a_teacher = app.member(&a, "teacher").await;
    let b = app.register_org().await;
    let key = a.tenant().user(&a_teacher.user_id.parse().unwrap());
    let org_key = a.tenant().organization();
    let before = (app.raw_item(&key).await, app.raw_item(&org_key).await);

    let path = format!("/api/v1/organizations/current/members/{}", a_teacher.user_id);
    app.patch(&path)
        .bearer(&b.access_token)
        .json(json!({"role": "admin"}))
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.delete(&path).bearer(&b.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let path = format!("/api/v1/organizations/current/members/{}", a.user_id);
    app.delete(&path).bearer(&b.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));

    assert_eq!((app.raw_item(&key).await, app.raw_item(&org_key).await), before);
    app.get("/api/v1/auth/me").bearer(&a_teacher.access_token).send().await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn each_tenant_sees_only_itself() {
    let app = TestApp::spawn().await;
    let a = app.register_org().await;
    let b = app.register_org().await;
    let org = app.get("/api/v1/organizations/current").bearer(&b.access_token).send().await;
    assert_eq!(org.data()["id"], b.org_id.as_str());
    let members = app.get("/api/v1/organizations/current/members").bearer(&b.access_token).send().await;
    let ids: Vec<&str> = members.data().as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, vec![b.user_id.as_str()]);
    assert!(!members.text.contains(&a.user_id));
}

#[tokio::test]
async fn another_tenants_cursor_is_400() {
    let app = TestApp::spawn().await;
    let a = app.register_org().await;
    app.member(&a, "student").await;
    let b = app.register_org().await;
    let page = app.get("/api/v1/organizations/current/members?limit=1").bearer(&a.access_token).send().await;
    let cursor = page.body["metadata"]["next_cursor"].as_str().expect("a second page").to_owned();
    app.get(&format!("/api/v1/organizations/current/members?limit=1&cursor={cursor}"))
        .bearer(&b.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
}

#[tokio::test]
async fn another_tenants_refresh_token_cannot_be_logged_out() {
    let app = TestApp::spawn().await;
    let a = app.register_org().await;
    let b = app.register_org().await;
    app.post("/api/v1/auth/logout")
        .bearer(&b.access_token)
        .json(json!({"refresh_token": a.refresh_token}))
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.post("/api/v1/auth/refresh")
        .json(json!({"refresh_token": a.refresh_token}))
        .send()
        .await
        .expect(StatusCode::OK, None);
}
