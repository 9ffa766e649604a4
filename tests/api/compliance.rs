//! The audit log: one entry per audited change, written in the change's
//! transaction; admins read it, filtered and a page at a time; nobody
//! changes it.

use std::collections::HashSet;

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::helpers::{Account, TestApp, snapshot, unique_email};

const LOG: &str = "/api/v1/compliance/audit-logs";

/// Every entry of `admin`'s organisation that `query` selects, newest first,
/// following cursors to the end.
async fn entries(app: &TestApp, admin: &Account, query: &str) -> Vec<Value> {
    let mut found = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..50 {
        let path = match &cursor {
            Some(cursor) => format!("{LOG}?{query}&cursor={cursor}"),
            None => format!("{LOG}?{query}"),
        };
        let page = app.get(&path).bearer(&admin.access_token).send().await;
        page.expect(StatusCode::OK, None);
        found.extend(page.data().as_array().unwrap().iter().cloned());
        match page.body["metadata"]["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => return found,
        }
    }
    panic!("the audit log does not end");
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries.iter().map(|entry| entry["action"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn a_role_change_leaves_exactly_one_entry_whose_request_id_is_the_responses() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let changed = app
        .patch(&format!("/api/v1/organizations/current/members/{}", teacher.user_id))
        .bearer(&admin.access_token)
        .header("user-agent", "district-console/2.1")
        .peer_ip("203.0.113.9")
        .json(json!({"role": "admin"}))
        .send()
        .await;
    changed.expect(StatusCode::OK, None);
    let found = entries(&app, &admin, "action=member.role_changed").await;
    assert_eq!(found.len(), 1, "{found:?}");
    let entry = &found[0];
    assert_eq!(entry["context"]["request_id"], changed.headers["x-request-id"].to_str().unwrap());
    assert_eq!(entry["context"]["ip"], "203.0.113.9");
    assert_eq!(entry["context"]["user_agent"], "district-console/2.1");
    assert_eq!(entry["actor"], json!({"type": "user", "id": admin.user_id}));
    assert_eq!(entry["targets"], json!([{"type": "user", "id": teacher.user_id}]));
    assert_eq!(entry["changes"], json!({"before": {"role": "teacher"}, "after": {"role": "admin"}}));
    assert!(entry["occurred_at"].as_str().unwrap().ends_with('Z'));
    // Asking for the same role again changes nothing and logs nothing.
    app.set_role(&admin, &teacher.user_id, "admin").await;
    assert_eq!(entries(&app, &admin, "action=member.role_changed").await.len(), 1);
}

#[tokio::test]
async fn each_audited_change_writes_its_entry_and_a_refused_one_writes_none() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let student = app.member(&admin, "student").await;
    let parent = app.member(&admin, "parent").await;
    // Invites: made and used (by `member`), made and withdrawn.
    let withdrawn = app
        .post("/api/v1/organizations/current/invites")
        .bearer(&admin.access_token)
        .json(json!({"email": unique_email("w"), "role": "teacher"}))
        .send()
        .await;
    let invite_id = withdrawn.data()["id"].as_str().unwrap().to_owned();
    app.delete(&format!("/api/v1/organizations/current/invites/{invite_id}"))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);
    // Keys: made, rotated, revoked.
    let key = app.create_api_key(&admin, json!({"name": "sis", "scopes": ["read"]})).await;
    app.post(&format!("/api/v1/api-keys/{}/rotate", key.id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    app.delete(&format!("/api/v1/api-keys/{}", key.id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::OK, None);
    // Settings, a family link made and ended, a password changed, a removal.
    app.patch("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .json(json!({"name": "Renamed School"}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    app.link_parent(&admin, &parent, &student).await;
    app.delete(&format!("/api/v1/organizations/current/members/{}/children/{}", parent.user_id, student.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);
    app.post("/api/v1/auth/password")
        .bearer(&student.access_token)
        .json(json!({"current_password": student.password, "new_password": "a-new-password-2"}))
        .send()
        .await
        .expect(StatusCode::OK, None);
    app.delete(&format!("/api/v1/organizations/current/members/{}", parent.user_id))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::NO_CONTENT, None);

    // Refused: the last admin's demotion (409), a stale settings change (412),
    // a second link of a linked pair is not tried (a removed parent).
    app.patch(&format!("/api/v1/organizations/current/members/{}", admin.user_id))
        .bearer(&admin.access_token)
        .json(json!({"role": "teacher"}))
        .send()
        .await
        .expect(StatusCode::CONFLICT, Some("conflict"));
    app.patch("/api/v1/organizations/current")
        .bearer(&admin.access_token)
        .header("if-match", "\"1\"")
        .json(json!({"name": "Stale"}))
        .send()
        .await
        .expect(StatusCode::PRECONDITION_FAILED, Some("precondition_failed"));

    let mut found: Vec<&str> = Vec::new();
    let all = entries(&app, &admin, "limit=100").await;
    found.extend(actions(&all));
    found.reverse();
    let expected = [
        "login.succeeded",
        "invite.created",
        "invite.accepted",
        "login.succeeded",
        "invite.created",
        "invite.accepted",
        "login.succeeded",
        "invite.created",
        "invite.withdrawn",
        "api_key.created",
        "api_key.rotated",
        "api_key.revoked",
        "organization.updated",
        "guardian.linked",
        "guardian.unlinked",
        "password.changed",
        "member.removed",
    ];
    // Registering a new organisation is not an invite; the registrations'
    // first sign-ins come with their accounts (register signs in without a login).
    let audited: Vec<&str> = found.into_iter().filter(|action| *action != "login.succeeded").collect();
    let expected: Vec<&str> = expected.into_iter().filter(|action| *action != "login.succeeded").collect();
    assert_eq!(audited, expected);

    let settings = entries(&app, &admin, "action=organization.updated").await;
    assert_eq!(settings.len(), 1);
    assert_eq!(settings[0]["changes"]["before"]["name"], "Test School");
    assert_eq!(settings[0]["changes"]["after"]["name"], "Renamed School");
    let rotated = entries(&app, &admin, "action=api_key.rotated").await;
    assert_eq!(rotated[0]["changes"], json!({"before": {"generation": 1}, "after": {"generation": 2}}));
    let accepted = entries(&app, &admin, &format!("target_id={}", student.user_id)).await;
    assert!(actions(&accepted).contains(&"invite.accepted"), "{accepted:?}");
    assert_eq!(
        accepted.iter().find(|e| e["action"] == "invite.accepted").unwrap()["actor"],
        json!({"type": "user", "id": student.user_id})
    );
}

#[tokio::test]
async fn sign_ins_failures_and_lockouts_are_logged_without_the_password() {
    let app = TestApp::spawn_with(|config| config.login_max_failures = 2).await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    app.login(&teacher.email, &teacher.password).await.expect(StatusCode::OK, None);
    for _ in 0..2 {
        app.login(&teacher.email, "not-the-password-9").await.expect(StatusCode::UNAUTHORIZED, None);
    }
    // An email of no account is nobody's to log.
    app.login(&unique_email("nobody"), "not-the-password-9").await.expect(StatusCode::UNAUTHORIZED, None);
    let about = entries(&app, &admin, &format!("target_id={}", teacher.user_id)).await;
    let mut logged = actions(&about);
    logged.reverse();
    assert_eq!(logged, ["invite.accepted", "login.succeeded", "login.failed", "login.failed", "login.locked_out"]);
    let failed = about.iter().find(|e| e["action"] == "login.failed").unwrap();
    assert_eq!(failed["actor"], json!({"type": "anonymous", "id": null}));
    let signed_in = about.iter().find(|e| e["action"] == "login.succeeded").unwrap();
    assert_eq!(signed_in["actor"], json!({"type": "user", "id": teacher.user_id}));
    // No password, hash, email or token in any stored entry.
    let stored = snapshot(&app, &admin).await;
    for (key, item) in stored.iter().filter(|(key, _)| key.contains("#AUDIT#")) {
        for secret in ["not-the-password-9", &teacher.password, &teacher.email, "argon2", "refresh"] {
            assert!(!item.contains(secret), "{key} holds {secret}: {item}");
        }
    }
}

#[tokio::test]
async fn only_admins_read_the_log_and_a_key_needs_the_admin_scope() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    for role in ["teacher", "student", "parent"] {
        let member = app.member(&admin, role).await;
        app.get(LOG).bearer(&member.access_token).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    }
    app.get(LOG).send().await.expect(StatusCode::UNAUTHORIZED, Some("unauthenticated"));
    let reader = app.create_api_key(&admin, json!({"name": "r", "scopes": ["read", "analytics:read"]})).await;
    app.get(LOG).api_key(&reader.key).send().await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    let auditor = app.create_api_key(&admin, json!({"name": "a", "scopes": ["admin"]})).await;
    let read = app.get(LOG).api_key(&auditor.key).send().await;
    read.expect(StatusCode::OK, None);
    // The key is the actor of its own read.
    let reads = entries(&app, &admin, "action=audit_log.read").await;
    assert!(reads.iter().any(|entry| entry["actor"] == json!({"type": "api_key", "id": auditor.id})), "{reads:?}");
}

#[tokio::test]
async fn another_tenant_sees_none_of_the_log() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    app.set_role(&admin, &teacher.user_id, "student").await;
    let other = app.register_org().await;
    let before = snapshot(&app, &admin).await;
    for query in
        ["limit=100".to_owned(), format!("actor_id={}", admin.user_id), format!("target_id={}", teacher.user_id)]
    {
        let seen = entries(&app, &other, &query).await;
        assert!(
            seen.iter().all(|entry| entry["actor"]["id"] == other.user_id || entry["action"] == "audit_log.read"),
            "{seen:?}"
        );
        assert!(!seen.iter().any(|entry| entry.to_string().contains(&admin.user_id)), "{seen:?}");
    }
    assert_eq!(snapshot(&app, &admin).await, before);
}

#[tokio::test]
async fn the_log_pages_newest_first_and_filters_by_action_actor_target_and_time() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let started = app.state.now();
    let mut invited = Vec::new();
    for _ in 0..7 {
        let response = app
            .post("/api/v1/organizations/current/invites")
            .bearer(&admin.access_token)
            .json(json!({"email": unique_email("p"), "role": "student"}))
            .send()
            .await;
        invited.push(response.data()["id"].as_str().unwrap().to_owned());
    }
    // Pages of three, newest first, each entry once.
    let paged = entries(&app, &admin, "action=invite.created&limit=3").await;
    let ids: Vec<&str> = paged.iter().map(|entry| entry["targets"][0]["id"].as_str().unwrap()).collect();
    let newest_first: Vec<&str> = invited.iter().rev().map(String::as_str).collect();
    assert_eq!(ids, newest_first);
    let unfiltered = entries(&app, &admin, "limit=2").await;
    let unique: HashSet<&str> = unfiltered.iter().map(|entry| entry["id"].as_str().unwrap()).collect();
    assert_eq!(unique.len(), unfiltered.len());
    let mut sorted = unfiltered.clone();
    sorted.sort_by(|a, b| b["id"].as_str().cmp(&a["id"].as_str()));
    assert_eq!(sorted, unfiltered);

    let one = entries(&app, &admin, &format!("target_id={}", invited[3])).await;
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["targets"][0]["id"], invited[3]);
    let by_admin = entries(&app, &admin, &format!("actor_id={}&action=invite.created", admin.user_id)).await;
    assert_eq!(by_admin.len(), 7);
    assert!(entries(&app, &admin, &format!("actor_id={}", invited[0])).await.is_empty());

    // A time range: nothing before the test began, all of it since.
    let at = |t: time::OffsetDateTime| t.format(&time::format_description::well_known::Rfc3339).unwrap();
    let early = at(started - time::Duration::days(30));
    let before_start = at(started - time::Duration::seconds(1));
    let range = format!("action=invite.created&from={early}&to={before_start}");
    assert!(entries(&app, &admin, &range.replace('+', "%2B")).await.is_empty());
    let since = format!("action=invite.created&from={}", at(started - time::Duration::seconds(1)));
    assert_eq!(entries(&app, &admin, &since).await.len(), 7);

    // Several actors, so several shards: every entry comes once, in order,
    // whatever the page size.
    let second = app.member(&admin, "admin").await;
    let third = app.member(&admin, "admin").await;
    for inviter in [&second, &third, &admin, &second] {
        app.invite(inviter, &unique_email("q"), "teacher").await;
    }
    // Actors are spread by id: until two shards hold entries, one more acts.
    let mut stored = snapshot(&app, &admin).await;
    for _ in 0..20 {
        let shards: HashSet<&str> =
            stored.keys().filter(|key| key.contains("#AUDIT#")).map(|key| key.split(' ').next().unwrap()).collect();
        if shards.len() >= 2 {
            break;
        }
        let another = app.member(&admin, "admin").await;
        app.invite(&another, &unique_email("q"), "teacher").await;
        stored = snapshot(&app, &admin).await;
    }
    let in_table = stored.keys().filter(|key| key.contains("#AUDIT#")).count();
    let shards: HashSet<&str> =
        stored.keys().filter(|key| key.contains("#AUDIT#")).map(|key| key.split(' ').next().unwrap()).collect();
    assert!(shards.len() >= 2, "the actors fell in one shard: {shards:?}");
    for limit in [1, 3, 7, 100] {
        let listed = entries(&app, &admin, &format!("limit={limit}")).await;
        let ids: Vec<&str> = listed.iter().map(|entry| entry["id"].as_str().unwrap()).collect();
        let unique: HashSet<&&str> = ids.iter().collect();
        assert_eq!(unique.len(), ids.len(), "limit {limit}: an entry came twice");
        // The reads of the log made while listing are entries too.
        assert!(ids.len() >= in_table, "limit {limit}: {} of {in_table}", ids.len());
        assert!(ids.windows(2).all(|pair| pair[0] > pair[1]), "limit {limit}: not newest first");
    }
}

#[tokio::test]
async fn bad_filters_and_cursors_are_400() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let long = "x".repeat(65);
    for query in [
        "action=member.promoted".to_owned(),
        "action=".to_owned(),
        "from=yesterday".to_owned(),
        "to=2026-13-01T00:00:00Z".to_owned(),
        "from=2026-02-01T00:00:00Z&to=2026-01-01T00:00:00Z".to_owned(),
        format!("actor_id={long}"),
        format!("target_id={long}"),
        "limit=0".to_owned(),
        "limit=101".to_owned(),
        "cursor=garbage".to_owned(),
    ] {
        app.get(&format!("{LOG}?{query}"))
            .bearer(&admin.access_token)
            .send()
            .await
            .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    }
    // A cursor of one filter does not page another.
    for _ in 0..3 {
        app.invite(&admin, &unique_email("c"), "student").await;
    }
    let first = app.get(&format!("{LOG}?limit=1")).bearer(&admin.access_token).send().await;
    let cursor = first.body["metadata"]["next_cursor"].as_str().unwrap().to_owned();
    app.get(&format!("{LOG}?limit=1&action=invite.created&cursor={cursor}"))
        .bearer(&admin.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
}

#[tokio::test]
async fn no_route_changes_or_deletes_an_entry_and_the_store_creates_only() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    app.invite(&admin, &unique_email("e"), "student").await;
    let found = entries(&app, &admin, "action=invite.created").await;
    let id = found[0]["id"].as_str().unwrap();
    let before = snapshot(&app, &admin).await;
    for method in [axum::http::Method::PUT, axum::http::Method::PATCH, axum::http::Method::DELETE] {
        for path in [format!("{LOG}/{id}"), LOG.to_owned()] {
            let response =
                app.call(method.clone(), &path).bearer(&admin.access_token).json(json!({"action": "x"})).send().await;
            assert!(
                [StatusCode::NOT_FOUND, StatusCode::METHOD_NOT_ALLOWED].contains(&response.status),
                "{method} {path}: {}",
                response.status
            );
        }
    }
    assert_eq!(snapshot(&app, &admin).await, before);
    // The store refuses to write an entry over one that exists.
    let entry: domain::audit_log::Entry = serde_json::from_value(found[0].clone()).unwrap();
    let put = store::audit_log::put(&app.state, &admin.tenant(), &entry).unwrap();
    assert!(matches!(app.state.db.transact(vec![put]).await, Err(store::DbError::Cancelled { .. })));
}

#[tokio::test]
async fn an_entry_is_kept_for_the_configured_retention() {
    let app = TestApp::spawn_with(|config| config.audit_retention_days = 30).await;
    let admin = app.register_org().await;
    app.invite(&admin, &unique_email("t"), "student").await;
    let stored = snapshot(&app, &admin).await;
    let entry = stored.iter().find(|(_, item)| item.contains("invite.created")).expect("the entry").1;
    let expires_at: i64 = entry
        .lines()
        .find_map(|line| line.strip_prefix("expires_at=N(\""))
        .and_then(|rest| rest.split('"').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{entry}"));
    let expected = app.state.now().unix_timestamp() + 30 * 24 * 3600;
    assert!((expected - 60..=expected).contains(&expires_at), "{expires_at} vs {expected}");
}
