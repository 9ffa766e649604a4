//! Refresh rotation and reuse detection, logout (one session or all), the
//! cap on sessions per user, password change.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{Account, TestApp};

async fn refresh(app: &TestApp, token: &str) -> crate::helpers::TestResponse {
    app.post("/api/v1/auth/refresh").json(json!({"refresh_token": token})).send().await
}

async fn me_status(app: &TestApp, account_token: &str) -> StatusCode {
    app.get("/api/v1/auth/me").bearer(account_token).send().await.status
}

#[tokio::test]
async fn refresh_rotates_the_refresh_token() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let first = refresh(&app, &account.refresh_token).await;
    first.expect(StatusCode::OK, None);
    let next = first.data()["refresh_token"].as_str().unwrap();
    assert_ne!(next, account.refresh_token);
    assert_eq!(first.data()["user"]["id"], account.user_id.as_str());
    let second = refresh(&app, next).await;
    second.expect(StatusCode::OK, None);
    assert_eq!(me_status(&app, second.data()["access_token"].as_str().unwrap()).await, StatusCode::OK);
}

#[tokio::test]
async fn reusing_a_spent_refresh_token_revokes_the_whole_family() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let rotated = refresh(&app, &account.refresh_token).await;
    rotated.expect(StatusCode::OK, None);
    let live_refresh = rotated.data()["refresh_token"].as_str().unwrap().to_owned();
    let live_access = rotated.data()["access_token"].as_str().unwrap().to_owned();

    // The spent token comes back: a copy exists somewhere.
    let reuse = refresh(&app, &account.refresh_token).await;
    reuse.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    assert!(reuse.body["error"]["message"].as_str().unwrap().contains("reuse"));

    // Every token of the family is dead, the newest included.
    refresh(&app, &live_refresh).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    assert_eq!(me_status(&app, &live_access).await, StatusCode::UNAUTHORIZED);
    // Other sessions of the user live on.
    let other = app.login(&account.email, &account.password).await;
    other.expect(StatusCode::OK, None);
    assert_eq!(me_status(&app, other.data()["access_token"].as_str().unwrap()).await, StatusCode::OK);
}

#[tokio::test]
async fn a_malformed_or_forged_refresh_token_is_refused() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    refresh(&app, "garbage").await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    // Well-formed, but for a session that does not exist.
    let mut parts: Vec<&str> = account.refresh_token.split('.').collect();
    let other_session = ulid::Ulid::new().to_string();
    parts[2] = &other_session;
    refresh(&app, &parts.join(".")).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    // The real session with a made-up secret: refused, but not revoked, so
    // knowing a session id (it is in every access token) cannot log anyone out.
    let mut parts: Vec<&str> = account.refresh_token.split('.').collect();
    let made_up = "ab".repeat(32);
    parts[3] = &made_up;
    let forged = refresh(&app, &parts.join(".")).await;
    forged.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    assert!(!forged.body["error"]["message"].as_str().unwrap().contains("reuse"));
    refresh(&app, &account.refresh_token).await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn a_token_spent_several_rotations_ago_still_counts_as_reuse() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let mut token = account.refresh_token.clone();
    for _ in 0..3 {
        let next = refresh(&app, &token).await;
        next.expect(StatusCode::OK, None);
        token = next.data()["refresh_token"].as_str().unwrap().to_owned();
    }
    let reuse = refresh(&app, &account.refresh_token).await;
    reuse.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    assert!(reuse.body["error"]["message"].as_str().unwrap().contains("reuse"));
    refresh(&app, &token).await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
}

#[tokio::test]
async fn logout_ends_the_session_at_once() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let response = app
        .post("/api/v1/auth/logout")
        .bearer(&account.access_token)
        .json(json!({"refresh_token": account.refresh_token}))
        .send()
        .await;
    response.expect(StatusCode::NO_CONTENT, None);
    refresh(&app, &account.refresh_token).await.expect(StatusCode::UNAUTHORIZED, None);
    assert_eq!(me_status(&app, &account.access_token).await, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn logout_needs_credentials() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    app.post("/api/v1/auth/logout")
        .json(json!({"refresh_token": account.refresh_token}))
        .send()
        .await
        .expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    refresh(&app, &account.refresh_token).await.expect(StatusCode::OK, None);
}

async fn change_password(app: &TestApp, account: &Account, current: &str, new: &str) -> crate::helpers::TestResponse {
    app.post("/api/v1/auth/password")
        .bearer(&account.access_token)
        .json(json!({"current_password": current, "new_password": new}))
        .send()
        .await
}

#[tokio::test]
async fn a_password_change_ends_every_other_session() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let elsewhere = app.login(&account.email, &account.password).await;
    let elsewhere_access = elsewhere.data()["access_token"].as_str().unwrap().to_owned();
    let elsewhere_refresh = elsewhere.data()["refresh_token"].as_str().unwrap().to_owned();

    let changed = change_password(&app, &account, &account.password, "a-brand-new-password").await;
    changed.expect(StatusCode::OK, None);
    assert_eq!(changed.data()["sessions_revoked"], 1);

    assert_eq!(me_status(&app, &elsewhere_access).await, StatusCode::UNAUTHORIZED);
    refresh(&app, &elsewhere_refresh).await.expect(StatusCode::UNAUTHORIZED, None);
    assert_eq!(me_status(&app, &account.access_token).await, StatusCode::OK, "this session stays");
    app.login(&account.email, &account.password).await.expect(StatusCode::UNAUTHORIZED, None);
    app.login(&account.email, "a-brand-new-password").await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn a_wrong_current_password_changes_nothing() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    // A wrong guess is counted elsewhere (`auth::lockout`): the user item
    // stays exactly as it was.
    let stored = || async { app.raw_item(&account.tenant().user(&account.user_id.parse().unwrap())).await.unwrap() };
    let before = stored().await;
    let response = change_password(&app, &account, "not-my-password", "a-brand-new-password").await;
    response.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let short = change_password(&app, &account, &account.password, "short").await;
    short.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    assert_eq!(stored().await, before);
    app.login(&account.email, &account.password).await.expect(StatusCode::OK, None);
}

/// A new session of `account`: its access and refresh tokens.
async fn signed_in(app: &TestApp, account: &Account) -> (String, String) {
    let login = app.login(&account.email, &account.password).await;
    login.expect(StatusCode::OK, None);
    let token = |name: &str| login.data()[name].as_str().unwrap().to_owned();
    (token("access_token"), token("refresh_token"))
}

#[tokio::test]
async fn signing_out_everywhere_ends_every_session_this_one_included_in_one_write() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let others = [signed_in(&app, &account).await, signed_in(&app, &account).await];
    let key = account.tenant().user(&account.user_id.parse().unwrap());

    let ended = app.post("/api/v1/auth/logout-all").bearer(&account.access_token).send().await;
    ended.expect(StatusCode::OK, None);
    assert_eq!(ended.data()["sessions_revoked"], 3);
    assert!(app.raw_item(&key).await.unwrap().contains("sessions=M{}"));
    assert_eq!(me_status(&app, &account.access_token).await, StatusCode::UNAUTHORIZED);
    refresh(&app, &account.refresh_token).await.expect(StatusCode::UNAUTHORIZED, None);
    for (access, refresh_token) in &others {
        assert_eq!(me_status(&app, access).await, StatusCode::UNAUTHORIZED);
        refresh(&app, refresh_token).await.expect(StatusCode::UNAUTHORIZED, None);
    }
    // Signing in again starts afresh.
    let (access, _) = signed_in(&app, &account).await;
    assert_eq!(me_status(&app, &access).await, StatusCode::OK);
    // Without a user's token there is nobody to sign out.
    app.post("/api/v1/auth/logout-all").send().await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    let admin = Account { access_token: access, ..account.clone() };
    let key = app.create_api_key(&admin, json!({"name": "k", "scopes": ["write"]})).await;
    app.post("/api/v1/auth/logout-all").api_key(&key.key).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
}

#[tokio::test]
async fn a_user_holds_at_most_ten_sessions_and_a_new_one_ends_the_oldest() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let mut sessions = vec![(account.access_token.clone(), account.refresh_token.clone())];
    for _ in 1..store::sessions::MAX_PER_USER {
        sessions.push(signed_in(&app, &account).await);
    }
    for (access, _) in &sessions {
        assert_eq!(me_status(&app, access).await, StatusCode::OK);
    }
    let newest = signed_in(&app, &account).await;
    assert_eq!(me_status(&app, &newest.0).await, StatusCode::OK);
    let (oldest_access, oldest_refresh) = &sessions[0];
    assert_eq!(me_status(&app, oldest_access).await, StatusCode::UNAUTHORIZED, "the oldest session ended");
    refresh(&app, oldest_refresh).await.expect(StatusCode::UNAUTHORIZED, None);
    for (access, _) in &sessions[1..] {
        assert_eq!(me_status(&app, access).await, StatusCode::OK);
    }
}

#[tokio::test]
async fn concurrent_sign_ins_never_pass_the_cap() {
    let app = std::sync::Arc::new(TestApp::spawn().await);
    let account = app.register_org().await;
    let mut logins = tokio::task::JoinSet::new();
    // From as many addresses: more sign-ins to one account from one address
    // at the same moment than its failure limit are told to retry (`auth.rs`).
    for n in 0..14 {
        let (app, email, password) = (app.clone(), account.email.clone(), account.password.clone());
        logins.spawn(async move {
            let body = json!({"email": email, "password": password});
            app.post("/api/v1/auth/login").peer_ip(&format!("198.51.100.{}", 100 + n)).json(body).send().await.status
        });
    }
    assert!(logins.join_all().await.iter().all(|status| *status == StatusCode::OK));
    let user: domain::user::User =
        app.state.db.get(&account.tenant().user(&account.user_id.parse().unwrap())).await.unwrap().unwrap();
    assert_eq!(user.sessions.len(), store::sessions::MAX_PER_USER);
}

#[tokio::test]
async fn a_sign_in_checked_against_the_old_password_cannot_commit_after_a_change() {
    let app = TestApp::spawn().await;
    let account = app.register_org().await;
    let tenant = account.tenant();
    let key = tenant.user(&account.user_id.parse().unwrap());
    // A sign-in read the user (and checked the old password) ...
    let read: domain::user::User = app.state.db.get(&key).await.unwrap().unwrap();
    // ... the password changes meanwhile ...
    change_password(&app, &account, &account.password, "a-brand-new-password").await.expect(StatusCode::OK, None);
    // ... and its session is refused when it commits.
    let user_id = account.user_id.parse().unwrap();
    let session =
        domain::session::Session::start(user_id, domain::ids::SessionId::new(), "h".into(), app.state.now(), 60);
    let admit = store::sessions::admit(&app.state.db, &tenant, &read, &session, app.state.now().unix_timestamp());
    let stale = app.state.db.run_update(admit.unwrap()).await;
    assert!(matches!(stale, Err(store::db::DbError::ConditionFailed)), "{stale:?}");
    let after: domain::user::User = app.state.db.get(&key).await.unwrap().unwrap();
    assert!(!after.sessions.contains_key(&session.session_id));
}
