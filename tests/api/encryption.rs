//! Personal data at rest: names, emails and message bodies are sealed with
//! the tenant's data key before they reach the table, the lookups that find
//! an account by email hold a keyed index, and an instance unwraps a
//! tenant's key with KMS once.

use axum::http::StatusCode;
use serde_json::json;

use crate::helpers::{Account, TestApp, snapshot, unique_email};

const CHILD_FIRST: &str = "Zebulon";
const CHILD_LAST: &str = "Quartzfield";
const PARENT_FIRST: &str = "Persephone";
const BODY: &str = "The heron keeps the riddle of the marsh";
const USERNAME: &str = "zebulon.quartz";

/// A member with a name (and a username) of their own, signed in.
async fn named(app: &TestApp, admin: &Account, role: &str, (first, last): (&str, &str), username: &str) -> Account {
    let email = unique_email(&first.to_ascii_lowercase());
    let token = app.invite(admin, &email, role).await;
    let response = app
        .post("/api/v1/auth/register")
        .json(json!({"email": email, "password": "member-password-1", "first_name": first, "last_name": last,
                     "username": username, "invite_token": token}))
        .send()
        .await;
    response.expect(StatusCode::CREATED, None);
    Account::from_auth(&response.body, email, "member-password-1".into())
}

#[tokio::test]
async fn no_name_email_or_message_body_is_stored_in_the_clear() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    // Usernames are unique across the platform: one of this run's own.
    let username = format!("{USERNAME}.{}", &ulid::Ulid::new().to_string()[20..].to_ascii_lowercase());
    let child = named(&app, &admin, "student", (CHILD_FIRST, CHILD_LAST), &username).await;
    let parent_name = format!("p.{}", &ulid::Ulid::new().to_string()[20..].to_ascii_lowercase());
    let parent = named(&app, &admin, "parent", (PARENT_FIRST, "Wolfsbane"), &parent_name).await;
    app.link_parent(&admin, &parent, &child).await;
    app.class_with(&teacher, &[&child]).await;
    let pending = unique_email("pending");
    app.invite(&admin, &pending, "student").await;
    app.send_message(&child, &[&teacher], "Question", BODY).await;
    app.send_message(&teacher, &[&child], "Answer", &format!("{BODY}, says the teacher")).await;

    // The whole table, global lookups and counters included: read once (a
    // scan holds moto, which serves one request at a time, for a while).
    let table: Vec<String> = crate::helpers::scan(&app, None).await.iter().map(crate::helpers::describe_item).collect();
    for secret in
        [CHILD_FIRST, CHILD_LAST, PARENT_FIRST, BODY, &username, &child.email, &parent.email, &admin.email, &pending]
    {
        let holding: Vec<&String> = table.iter().filter(|item| item.contains(secret)).collect();
        assert!(holding.is_empty(), "{secret} is stored in the clear: {holding:#?}");
    }
    // Sealed, not dropped: the tenant's items hold sealed values of its own.
    let stored = snapshot(&app, &admin).await;
    let sealed = stored.values().filter(|item| item.contains(&format!("sealed:v1:{}:", admin.org_id))).count();
    assert!(sealed >= 8, "{sealed} items with sealed values");

    // Every reader still sees them in the clear.
    let members = app.get("/api/v1/organizations/current/members?limit=100").bearer(&admin.access_token).send().await;
    assert!(members.text.contains(CHILD_LAST) && members.text.contains(&child.email), "{}", members.text);
    let children = app
        .get(&format!("/api/v1/organizations/current/members/{}/children", parent.user_id))
        .bearer(&parent.access_token)
        .send()
        .await;
    assert_eq!(children.data()[0]["child_first_name"], CHILD_FIRST);
    let inbox = app.get("/api/v1/messages").bearer(&teacher.access_token).send().await;
    let copy = inbox.data().as_array().unwrap().iter().find(|m| m["subject"] == "Question").unwrap().clone();
    assert_eq!(copy["sender_name"], format!("{CHILD_FIRST} {CHILD_LAST}"));
    let message = app.get(&format!("/api/v1/messages/{}", copy["id"].as_str().unwrap())).bearer(&teacher.access_token);
    assert!(message.send().await.text.contains(BODY));
    let invites = app.get("/api/v1/organizations/current/invites").bearer(&admin.access_token).send().await;
    assert!(invites.text.contains(&pending), "{}", invites.text);
    // Sign-in by email finds the account through the keyed index.
    app.login(&child.email, &child.password).await.expect(StatusCode::OK, None);
    app.login(&child.email.to_uppercase(), &child.password).await.expect(StatusCode::OK, None);
    let by_name = app.post("/api/v1/auth/login").json(json!({"username": username, "password": child.password})).send();
    by_name.await.expect(StatusCode::OK, None);
}

#[tokio::test]
async fn an_instance_unwraps_a_tenants_key_once_and_never_another_tenants_with_it() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let user_id: domain::ids::UserId = admin.user_id.parse().unwrap();
    // A cold instance, its calls recorded.
    let recorder = crate::iam::Recorder::default();
    let base = store::aws::load_sdk_config().await;
    let sdk = recorder.sdk_for(&base, "cold");
    let config = (*app.state.config).clone();
    let cold = store::AppState::new(config, store::aws::AwsClients::new(&sdk), app.clock.clone());
    let kms_calls = |sent: &[crate::iam::Sent]| {
        sent.iter().filter(|s| s.target.as_deref().is_some_and(|t| t.starts_with("TrentService."))).count()
    };
    let user: domain::user::User = cold.db.get(&admin.tenant().user(&user_id)).await.unwrap().unwrap();
    assert_eq!(user.email.as_str(), admin.email);
    assert_eq!(kms_calls(&recorder.take()), 1, "a cold read unwraps the key");
    for _ in 0..5 {
        let again: domain::user::User = cold.db.get(&admin.tenant().user(&user_id)).await.unwrap().unwrap();
        assert_eq!(again.first_name.as_str(), "Ada");
    }
    assert_eq!(kms_calls(&recorder.take()), 0, "a warm read makes no KMS call");
    // Another tenant's sealed value, moved into this tenant's item, opens nothing.
    let other = app.register_org().await;
    let other_id: domain::ids::UserId = other.user_id.parse().unwrap();
    let theirs = app.raw_item(&other.tenant().user(&other_id)).await.unwrap();
    let sealed_email = theirs.lines().find_map(|line| line.strip_prefix("email=S(\"")).unwrap().trim_end_matches("\")");
    app.state
        .aws
        .dynamodb
        .update_item()
        .table_name(&app.state.config.table_name)
        .set_key(Some(store::db::KeyItem::to_item(&admin.tenant().user(&user_id))))
        .update_expression("SET email = :e")
        .expression_attribute_values(":e", aws_sdk_dynamodb::types::AttributeValue::S(sealed_email.to_owned()))
        .send()
        .await
        .unwrap();
    recorder.take();
    assert!(cold.db.get::<domain::user::User>(&admin.tenant().user(&user_id)).await.is_err());
    assert_eq!(kms_calls(&recorder.take()), 0, "another tenant's key is never unwrapped for this tenant's item");
}

#[tokio::test]
async fn text_that_looks_sealed_is_only_text() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let student = app.member(&admin, "student").await;
    // A subject (not a sealed field) naming a tenant with no key, and one naming another tenant.
    let other = app.register_org().await;
    for planted in [format!("sealed:v1:{}:AAAA", ulid::Ulid::new()), format!("sealed:v1:{}:AAAA", other.org_id)] {
        app.send_message(&student, &[&teacher], &planted, "Hello.").await;
        let inbox = app.get("/api/v1/messages").bearer(&teacher.access_token).send().await;
        inbox.expect(StatusCode::OK, None);
        assert!(inbox.text.contains(&planted), "{}", inbox.text);
    }
    // No key was made for a tenant that does not exist.
    let nobody: domain::ids::OrgId = ulid::Ulid::new().to_string().parse().unwrap();
    assert!(app.raw_item(&domain::tenancy::Tenant::for_data_key(&nobody).data_key()).await.is_none());
}
