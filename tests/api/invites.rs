//! Invitations: admin only, single use, expiring, stored hashed.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{TestApp, unique_email};

fn join(email: &str, token: &str) -> serde_json::Value {
    json!({"email": email, "password": "joiner-password", "first_name": "Jo", "last_name": "Iner", "invite_token": token})
}

#[tokio::test]
async fn an_invited_teacher_joins_as_a_teacher() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let email = unique_email("teacher");
    let token = app.invite(&admin, &email, "teacher").await;
    let joined = app.post("/api/v1/auth/register").json(join(&email, &token)).send().await;
    joined.expect(StatusCode::CREATED, None);
    assert_eq!(joined.data()["user"]["role"], "teacher");
    assert_eq!(joined.data()["user"]["organization_id"], admin.org_id.as_str());

    let teacher_token = joined.data()["access_token"].as_str().unwrap();
    let me = app.get("/api/v1/auth/me").bearer(teacher_token).send().await;
    assert_eq!(me.data()["role"], "teacher");
}

#[tokio::test]
async fn an_invite_is_single_use() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let email = unique_email("once");
    let token = app.invite(&admin, &email, "student").await;
    app.post("/api/v1/auth/register").json(join(&email, &token)).send().await.expect(StatusCode::CREATED, None);
    let again = app.post("/api/v1/auth/register").json(join(&unique_email("twice"), &token)).send().await;
    // Spent with the join: the token no longer names an invite.
    again.expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn an_invite_expires_after_seven_days() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let email = unique_email("late");
    let response = app
        .post("/api/v1/organizations/current/invites")
        .bearer(&admin.access_token)
        .json(json!({"email": email, "role": "teacher"}))
        .send()
        .await;
    response.expect(StatusCode::CREATED, None);
    let expires = time::OffsetDateTime::parse(
        response.data()["expires_at"].as_str().unwrap(),
        &time::format_description::well_known::Rfc3339,
    )
    .unwrap();
    let days = (expires - time::OffsetDateTime::now_utc()).whole_hours();
    assert!((167..=168).contains(&days), "expires in {days} hours");

    app.clock.advance(7 * 24 * 3600 + 1);
    let token = response.data()["invite_token"].as_str().unwrap();
    let late = app.post("/api/v1/auth/register").json(join(&email, token)).send().await;
    late.expect(StatusCode::CONFLICT, Some("conflict"));
    assert!(late.body["error"]["message"].as_str().unwrap().contains("expired"));
}

#[tokio::test]
async fn an_invite_is_for_its_email_only() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let token = app.invite(&admin, &unique_email("intended"), "teacher").await;
    let other = app.post("/api/v1/auth/register").json(join(&unique_email("other"), &token)).send().await;
    other.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    assert!(other.body["error"]["message"].as_str().unwrap().contains("another email"));
}

#[tokio::test]
async fn an_unknown_invite_token_is_refused() {
    let app = TestApp::spawn().await;
    let response = app.post("/api/v1/auth/register").json(join(&unique_email("x"), "inv_0000")).send().await;
    response.expect(StatusCode::NOT_FOUND, Some("not_found"));
}

#[tokio::test]
async fn only_admins_invite() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    for role in ["teacher", "student", "parent"] {
        let member = app.member(&admin, role).await;
        app.post("/api/v1/organizations/current/invites")
            .bearer(&member.access_token)
            .json(json!({"email": unique_email("nope"), "role": "admin"}))
            .send()
            .await
            .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
}

#[tokio::test]
async fn inviting_a_registered_email_is_a_conflict() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let other = app.register_org().await;
    app.post("/api/v1/organizations/current/invites")
        .bearer(&admin.access_token)
        .json(json!({"email": other.email, "role": "teacher"}))
        .send()
        .await
        .expect(StatusCode::CONFLICT, Some("conflict"));
}

#[tokio::test]
async fn the_invite_token_is_stored_only_as_a_hash() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let response = app
        .post("/api/v1/organizations/current/invites")
        .bearer(&admin.access_token)
        .json(json!({"email": unique_email("hashed"), "role": "student"}))
        .send()
        .await;
    let token = response.data()["invite_token"].as_str().unwrap();
    let secret = token.trim_start_matches("inv_");
    let invite_id = response.data()["id"].as_str().unwrap().parse().unwrap();
    let stored = app.raw_item(&admin.tenant().invite(&invite_id)).await.expect("the invite is stored");
    assert!(!stored.contains(secret), "the token is in the item: {stored}");
    let hash = store::secret::sha256_hex(token.as_bytes());
    assert!(stored.contains(&hash));
    assert!(app.raw_item(&domain::tenancy::global::invite_token(&hash)).await.is_some());
}

#[tokio::test]
async fn an_invite_for_a_suspended_organization_cannot_be_used() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let email = unique_email("suspended");
    let token = app.invite(&admin, &email, "teacher").await;
    crate::authorizer::suspend(&app, &admin).await;
    app.post("/api/v1/auth/register")
        .json(join(&email, &token))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

#[tokio::test]
async fn two_joins_racing_on_one_invite_make_one_account() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let email = unique_email("race");
    let token = app.invite(&admin, &email, "teacher").await;
    let mut second = join(&email, &token);
    second["password"] = json!("a-different-password");
    let (a, b) = tokio::join!(
        app.post("/api/v1/auth/register").json(join(&email, &token)).send(),
        app.post("/api/v1/auth/register").json(second).send(),
    );
    let mut statuses = [a.status.as_u16(), b.status.as_u16()];
    statuses.sort();
    assert_eq!(statuses[0], 201, "{} / {}", a.text, b.text);
    assert_eq!(statuses[1], 409, "{} / {}", a.text, b.text);
    let members = app.get("/api/v1/organizations/current/members").bearer(&admin.access_token).send().await;
    assert_eq!(members.data().as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn an_invite_dies_with_its_senders_admin_role() {
    let app = TestApp::spawn().await;
    let owner = app.register_org().await;
    let second_admin = app.member(&owner, "admin").await;
    let email = unique_email("orphan");
    let token = app.invite(&second_admin, &email, "admin").await;
    app.patch(&format!("/api/v1/organizations/current/members/{}", second_admin.user_id))
        .bearer(&owner.access_token)
        .json(json!({"role": "teacher"}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    let response = app.post("/api/v1/auth/register").json(join(&email, &token)).send().await;
    response.expect(StatusCode::CONFLICT, Some("conflict"));
    assert!(response.body["error"]["message"].as_str().unwrap().contains("no longer valid"));
    let members = app.get("/api/v1/organizations/current/members").bearer(&owner.access_token).send().await;
    assert_eq!(members.data().as_array().unwrap().len(), 2, "nobody joined");
}

const INVITES: &str = "/api/v1/organizations/current/invites";

#[tokio::test]
async fn admins_list_invites_newest_first_with_their_status_and_never_a_token() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let used_email = unique_email("used");
    let used = app.invite(&admin, &used_email, "teacher").await;
    app.post("/api/v1/auth/register").json(join(&used_email, &used)).send().await.expect(StatusCode::CREATED, None);
    let pending_email = unique_email("pending");
    let pending = app.invite(&admin, &pending_email, "student").await;

    let first = app.get(&format!("{INVITES}?limit=1")).bearer(&admin.access_token).send().await;
    first.expect(StatusCode::OK, None);
    assert_eq!(first.data()[0]["email"], pending_email.as_str());
    assert_eq!(first.data()[0]["status"], "pending");
    let cursor = first.body["metadata"]["next_cursor"].as_str().unwrap();
    let second = app.get(&format!("{INVITES}?limit=1&cursor={cursor}")).bearer(&admin.access_token).send().await;
    assert_eq!(second.data()[0]["email"], used_email.as_str());
    assert_eq!(second.data()[0]["status"], "used");
    assert!(second.data()[0]["used_by"].is_string());
    for page in [&first, &second] {
        assert!(
            !page.text.contains(&pending) && !page.text.contains(&used) && !page.text.contains("token"),
            "{}",
            page.text
        );
    }

    for role in ["teacher", "student", "parent"] {
        let member = app.member(&admin, role).await;
        app.get(INVITES).bearer(&member.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    // Paging is checked as every list's: a foreign or made-up cursor is a 400.
    let members_cursor =
        app.get("/api/v1/organizations/current/members?limit=1").bearer(&admin.access_token).send().await;
    let foreign = members_cursor.body["metadata"]["next_cursor"].as_str().unwrap().to_owned();
    for query in ["limit=0", "limit=101", "cursor=garbage", &format!("cursor={foreign}")] {
        app.get(&format!("{INVITES}?{query}"))
            .bearer(&admin.access_token)
            .send()
            .await
            .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }

    // Past its expiry (the access token would not outlive a clock moved a
    // week on, so the invite's expiry moves back instead).
    let id: domain::ids::InviteId = first.data()[0]["id"].as_str().unwrap().parse().unwrap();
    let past = app.state.now().unix_timestamp() - 1;
    let expire = app.state.db.update(
        &admin.tenant().invite(&id),
        "SET expires_at = :past",
        None,
        &[],
        vec![(":past", store::db::number(past))],
    );
    app.state.db.run_update(expire.unwrap()).await.unwrap();
    let later = app.get(&format!("{INVITES}?limit=100")).bearer(&admin.access_token).send().await;
    let statuses: Vec<&str> = later.data().as_array().unwrap().iter().map(|i| i["status"].as_str().unwrap()).collect();
    assert_eq!(statuses, ["used", "used", "used", "expired", "used"]);
}

#[tokio::test]
async fn a_withdrawn_invite_admits_nobody_and_is_no_longer_listed() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let email = unique_email("withdrawn");
    let token = app.invite(&admin, &email, "teacher").await;
    let listed = app.get(INVITES).bearer(&admin.access_token).send().await;
    let id = listed.data()[0]["id"].as_str().unwrap().to_owned();

    app.delete(&format!("{INVITES}/{id}"))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);
    app.post("/api/v1/auth/register")
        .json(join(&email, &token))
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    let listed = app.get(INVITES).bearer(&admin.access_token).send().await;
    assert_eq!(listed.data(), &json!([]));
    app.delete(&format!("{INVITES}/{id}"))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    // Kept, marked, for the record.
    let stored = app.raw_item(&admin.tenant().invite(&id.parse().unwrap())).await.unwrap();
    assert!(stored.contains("deleted_by="), "{stored}");
}

#[tokio::test]
async fn a_used_invite_cannot_be_withdrawn_and_only_admins_withdraw() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let email = unique_email("joined");
    let token = app.invite(&admin, &email, "student").await;
    let id = app.get(INVITES).bearer(&admin.access_token).send().await.data()[0]["id"].as_str().unwrap().to_owned();
    let teacher = app.member(&admin, "teacher").await;
    let key = admin.tenant().invite(&id.parse().unwrap());
    let before = app.raw_item(&key).await;
    app.delete(&format!("{INVITES}/{id}"))
        .bearer(&teacher.access_token)
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));
    assert_eq!(app.raw_item(&key).await, before);

    app.post("/api/v1/auth/register").json(join(&email, &token)).send().await.expect(StatusCode::CREATED, None);
    app.delete(&format!("{INVITES}/{id}"))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::CONFLICT, Some("conflict"));
    for bad in ["not-an-id", "01ARZ3NDEKTSV4RRFFQ69G5FAV"] {
        app.delete(&format!("{INVITES}/{bad}"))
            .bearer(&admin.access_token)
            .send()
            .await
            .expect(StatusCode::NOT_FOUND, Some("not_found"));
    }
}
