//! Realtime: `POST /pusher/auth` signs only the channels a user may join, in
//! Pusher's format, and the worker's job events reach a Pusher server that
//! checks them as Pusher does.

use axum::http::StatusCode;
use domain::ids::ClassId;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::helpers::{Account, PUSHER_TEST_SECRET, TestApp, TestResponse, pusher};

const SOCKET: &str = "1234.5678";

fn hmac_hex(message: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(PUSHER_TEST_SECRET.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    hex::encode(mac.finalize().into_bytes())
}

async fn configured() -> TestApp {
    TestApp::spawn_with(|config| config.pusher = Some(pusher("http://127.0.0.1:9"))).await
}

async fn subscribe(app: &TestApp, account: &Account, channel: &str) -> TestResponse {
    app.post("/api/v1/pusher/auth")
        .bearer(&account.access_token)
        .raw("application/x-www-form-urlencoded", format!("socket_id={SOCKET}&channel_name={channel}"))
        .send()
        .await
}

#[tokio::test]
async fn a_member_may_join_their_organizations_and_their_own_channel_signed_as_pusher_signs() {
    let app = configured().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    for channel in [format!("private-org-{}", admin.org_id), format!("private-user-{}", teacher.user_id)] {
        let signed = subscribe(&app, &teacher, &channel).await;
        signed.expect(StatusCode::OK, None);
        // Pusher's own shape, not the envelope.
        assert_eq!(
            signed.body,
            json!({"auth": format!("278d425bdf160c739803:{}", hmac_hex(&format!("{SOCKET}:{channel}")))})
        );
    }
    // JSON bodies are signed the same way.
    let channel = format!("private-org-{}", admin.org_id);
    let json_body = app
        .post("/api/v1/pusher/auth")
        .bearer(&teacher.access_token)
        .json(json!({"socket_id": SOCKET, "channel_name": channel}))
        .send()
        .await;
    json_body.expect(StatusCode::OK, None);
    assert_eq!(json_body.body["auth"], subscribe(&app, &teacher, &channel).await.body["auth"]);
}

#[tokio::test]
async fn students_and_parents_may_not_join_their_organizations_staff_channel() {
    let app = configured().await;
    let admin = app.register_org().await;
    for role in ["student", "parent"] {
        let member = app.member(&admin, role).await;
        subscribe(&app, &member, &format!("private-org-{}", admin.org_id))
            .await
            .expect(StatusCode::FORBIDDEN, Some("forbidden"));
        subscribe(&app, &member, &format!("private-user-{}", member.user_id)).await.expect(StatusCode::OK, None);
    }
}

#[tokio::test]
async fn another_tenants_or_users_channel_and_unknown_channels_are_403() {
    let app = configured().await;
    let a = app.register_org().await;
    let b = app.register_org().await;
    let student = app.member(&a, "student").await;
    for channel in [
        format!("private-org-{}", b.org_id),
        format!("private-user-{}", a.user_id),
        format!("private-user-{}", b.user_id),
        format!("presence-class-{}", ClassId::new()),
        "private-org-not-an-id".to_owned(),
        "public-news".to_owned(),
        "presence-org-x".to_owned(),
    ] {
        subscribe(&app, &student, &channel).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
}

#[tokio::test]
async fn a_class_member_joins_its_presence_channel_with_their_id_and_name() {
    let app = configured().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let colleague = app.member(&admin, "teacher").await;
    // Creating a class puts its teacher on the roster.
    let class = app.post("/api/v1/classes").bearer(&teacher.access_token).json(json!({"name": "7B"})).send().await;
    let channel = format!("presence-class-{}", class.data()["id"].as_str().unwrap());
    subscribe(&app, &colleague, &channel).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let signed = subscribe(&app, &teacher, &channel).await;
    signed.expect(StatusCode::OK, None);
    let data = signed.body["channel_data"].as_str().unwrap();
    let parsed: Value = serde_json::from_str(data).unwrap();
    assert_eq!(parsed["user_id"], teacher.user_id.as_str());
    assert_eq!(parsed["user_info"]["role"], "teacher");
    assert!(parsed["user_info"]["name"].as_str().is_some_and(|n| !n.trim().is_empty()));
    let expected = hmac_hex(&format!("{SOCKET}:{channel}:{data}"));
    assert_eq!(signed.body["auth"], format!("278d425bdf160c739803:{expected}"));
    // Membership in one class is not membership in another.
    subscribe(&app, &teacher, &format!("presence-class-{}", ClassId::new()))
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

#[tokio::test]
async fn bad_socket_ids_and_channel_names_are_422_by_field() {
    let app = configured().await;
    let admin = app.register_org().await;
    let channel = format!("private-org-{}", admin.org_id);
    for (body, field) in [
        (format!("socket_id=abc&channel_name={channel}"), "socket_id"),
        (format!("socket_id=1234&channel_name={channel}"), "socket_id"),
        (format!("socket_id={SOCKET}&channel_name=private%20org"), "channel_name"),
        (format!("socket_id={SOCKET}&channel_name={}", "a".repeat(165)), "channel_name"),
        (format!("channel_name={channel}"), "socket_id"),
        (format!("socket_id={SOCKET}"), "channel_name"),
    ] {
        let refused = app
            .post("/api/v1/pusher/auth")
            .bearer(&admin.access_token)
            .raw("application/x-www-form-urlencoded", body)
            .send()
            .await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], field, "{}", refused.text);
    }
    app.post("/api/v1/pusher/auth")
        .bearer(&admin.access_token)
        .raw("application/x-www-form-urlencoded", "socket_id=1.2&socket_id=3.4")
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
}

#[tokio::test]
async fn api_keys_cannot_subscribe_and_an_unconfigured_pusher_is_503() {
    let app = configured().await;
    let admin = app.register_org().await;
    let key = app.create_api_key(&admin, json!({"name": "k", "scopes": ["read", "write"]})).await;
    app.post("/api/v1/pusher/auth")
        .api_key(&key.key)
        .json(json!({"socket_id": SOCKET, "channel_name": format!("private-org-{}", admin.org_id)}))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let unconfigured = TestApp::spawn().await;
    subscribe(&unconfigured, &admin, &format!("private-org-{}", admin.org_id))
        .await
        .expect(StatusCode::SERVICE_UNAVAILABLE, Some("unavailable"));
}

#[tokio::test]
async fn the_worker_tells_the_organization_and_the_requester_how_the_job_goes() {
    let (app, seen) = TestApp::spawn_with_fake_pusher().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let message = app
        .queued_job(&teacher, json!({"type": "lesson", "subject": "Biology", "grade_level": 7, "topic": "Cells"}))
        .await;
    let batch = crate::helpers::sqs_event(&[("m1", serde_json::to_string(&message).unwrap(), 1)]);
    assert!(
        app.worker(integrations::generation::template::TemplateProvider)
            .handle(batch)
            .await
            .batch_item_failures
            .is_empty()
    );
    let job: domain::job::Job = app.state.db.get(&teacher.tenant().job(&message.job_id)).await.unwrap().unwrap();
    let events = seen.lock().unwrap().clone();
    let names: Vec<&str> = events.iter().map(|e| e["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["job.progress", "job.progress", "job.progress", "job.completed"], "{events:?}");
    for event in &events {
        assert_eq!(
            event["channels"],
            json!([format!("private-org-{}", admin.org_id), format!("private-user-{}", teacher.user_id)])
        );
    }
    let stages: Vec<String> = events[..3]
        .iter()
        .map(|e| {
            serde_json::from_str::<Value>(e["data"].as_str().unwrap()).unwrap()["stage"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(stages, ["outline", "content", "quiz"]);
    let completed: Value = serde_json::from_str(events[3]["data"].as_str().unwrap()).unwrap();
    assert_eq!(completed, json!({"job_id": message.job_id, "status": "succeeded", "content_id": job.content_id}));
}
