//! The current organisation: read, and admin updates with versions.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::TestApp;

#[tokio::test]
async fn members_read_the_organization_with_its_version() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let student = app.member(&admin, "student").await;
    let response = app.get("/api/v1/organizations/current").bearer(&student.access_token).send().await;
    response.expect(StatusCode::OK, None);
    assert_eq!(response.data()["id"], admin.org_id.as_str());
    assert_eq!(response.data()["status"], "active");
    assert_eq!(response.headers["etag"], "\"1\"");
}

#[tokio::test]
async fn an_admin_renames_and_changes_settings() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let response = app
        .patch("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .header("if-match", "\"1\"")
        .json(json!({"name": "Renamed School", "settings": {"timezone": "Europe/Paris", "locale": "fr"}}))
        .send()
        .await;
    response.expect(StatusCode::OK, None);
    assert_eq!(response.data()["name"], "Renamed School");
    assert_eq!(response.data()["settings"]["timezone"], "Europe/Paris");
    assert_eq!(response.data()["version"], 2);
    assert_eq!(response.headers["etag"], "\"2\"");

    // A partial settings change keeps the other setting.
    let response = app
        .patch("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .json(json!({"settings": {"locale": "de"}}))
        .send()
        .await;
    assert_eq!(response.data()["settings"], json!({"timezone": "Europe/Paris", "locale": "de"}));
}

#[tokio::test]
async fn a_stale_if_match_is_412_and_changes_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    app.patch("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .json(json!({"name": "First Change"}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    let before = app.raw_item(&admin.tenant().organization()).await;
    app.patch("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .header("if-match", "\"1\"")
        .json(json!({"name": "Lost Update"}))
        .send()
        .await
        .expect(StatusCode::PRECONDITION_FAILED, Some("precondition_failed"));
    app.patch("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .header("if-match", "not-a-version")
        .json(json!({"name": "Lost Update"}))
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    assert_eq!(app.raw_item(&admin.tenant().organization()).await, before);
}

#[tokio::test]
async fn only_admins_update_the_organization() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let before = app.raw_item(&admin.tenant().organization()).await;
    for role in ["teacher", "student", "parent"] {
        let member = app.member(&admin, role).await;
        app.patch("/api/v1/organizations/current")
            .bearer(&member.access_token)
            .json(json!({"name": "Taken Over"}))
            .send()
            .await
            .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    assert_eq!(app.raw_item(&admin.tenant().organization()).await, before);
}

#[tokio::test]
async fn invalid_updates_are_422_and_change_nothing() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let before = app.raw_item(&admin.tenant().organization()).await;
    for (body, field) in [
        (json!({}), "body"),
        (json!({"name": "x"}), "name"),
        (json!({"settings": {"timezone": "../../etc/passwd"}}), "settings.timezone"),
        (json!({"settings": {"colour": "red"}}), "settings.colour"),
        (json!({"status": "suspended"}), "status"),
    ] {
        let response = app.patch("/api/v1/organizations/current").bearer(&admin.access_token).json(body).send().await;
        response.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(response.body["error"]["details"][0]["field"], field, "{}", response.text);
    }
    assert_eq!(app.raw_item(&admin.tenant().organization()).await, before);
}

#[tokio::test]
async fn the_organization_revalidates_with_if_none_match() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let first = app.get("/api/v1/organizations/current").bearer(&admin.access_token).send().await;
    assert_eq!(first.headers["cache-control"], "private, no-cache");
    let etag = first.headers["etag"].to_str().unwrap().to_owned();
    let again = app
        .get("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .header("if-none-match", &etag)
        .send()
        .await;
    again.expect(StatusCode::NOT_MODIFIED, None);
    assert!(again.text.is_empty());
    app.patch("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .json(json!({"name": "Changed"}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    let changed = app
        .get("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .header("if-none-match", &etag)
        .send()
        .await;
    changed.expect(StatusCode::OK, None);
    assert_eq!(changed.data()["name"], "Changed");
}
