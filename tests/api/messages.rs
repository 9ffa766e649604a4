//! Messages: to members or a whole class, threads only their participants
//! read, each participant's own read / star / archive / delete state, an
//! unread count that stays exact under concurrency, and `message.created`
//! reaching each recipient's private channel.

use axum::http::StatusCode;
use serde_json::{Value, json};
use store::counters::Counter;

use crate::helpers::{Account, TestApp, TestResponse};

async fn send(app: &TestApp, sender: &Account, body: Value) -> TestResponse {
    app.post("/api/v1/messages").bearer(&sender.access_token).json(body).send().await
}

async fn unread(app: &TestApp, account: &Account) -> u64 {
    let response = app.get("/api/v1/messages/unread-count").bearer(&account.access_token).send().await;
    response.expect(StatusCode::OK, None);
    response.data()["unread"].as_u64().unwrap()
}

async fn mark(app: &TestApp, account: &Account, message: &str, action: &str) -> TestResponse {
    app.post(&format!("/api/v1/messages/{message}/{action}")).bearer(&account.access_token).send().await
}

async fn inbox(app: &TestApp, account: &Account, which: &str) -> Vec<Value> {
    let response = app.get(&format!("/api/v1/messages?box={which}")).bearer(&account.access_token).send().await;
    response.expect(StatusCode::OK, None);
    response.data().as_array().unwrap().clone()
}

#[tokio::test]
async fn a_class_message_reaches_every_student_and_the_unread_counts_stay_exact() {
    let (app, events) = TestApp::spawn_with_fake_pusher().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let students = [app.member(&admin, "student").await, app.member(&admin, "student").await];
    let outsider = app.member(&admin, "student").await;
    let class = app.class_with(&teacher, &[&students[0], &students[1]]).await;

    let sent =
        send(&app, &teacher, json!({"class_id": class, "subject": "Field trip", "body": "Bring a packed lunch."}))
            .await;
    sent.expect(StatusCode::CREATED, None);
    let (message, thread) =
        (sent.data()["id"].as_str().unwrap().to_owned(), sent.data()["thread_id"].as_str().unwrap().to_owned());
    assert_eq!(
        (sent.data()["sent"].as_bool(), sent.data()["body"].as_str()),
        (Some(true), Some("Bring a packed lunch."))
    );
    for student in &students {
        assert_eq!(unread(&app, student).await, 1);
        let listed = inbox(&app, student, "inbox").await;
        assert_eq!(
            (listed[0]["id"].as_str(), listed[0]["preview"].as_str()),
            (Some(message.as_str()), Some("Bring a packed lunch."))
        );
        assert_eq!(listed[0]["read"], false);
    }
    assert_eq!(unread(&app, &teacher).await, 0, "one's own message is not unread");
    assert_eq!(inbox(&app, &teacher, "sent").await.len(), 1);
    // Pusher was told, on each student's private channel.
    let created: Vec<Value> =
        events.lock().unwrap().iter().filter(|e| e["name"] == "message.created").cloned().collect();
    assert_eq!(created.len(), 1);
    let mut channels: Vec<String> = serde_json::from_value(created[0]["channels"].clone()).unwrap();
    channels.sort();
    let mut expected: Vec<String> = students.iter().map(|s| format!("private-user-{}", s.user_id)).collect();
    expected.sort();
    assert_eq!(channels, expected);
    let data: Value = serde_json::from_str(created[0]["data"].as_str().unwrap()).unwrap();
    assert_eq!((data["message_id"].as_str(), data["subject"].as_str()), (Some(message.as_str()), Some("Field trip")));

    // Read twice at once: the count drops once.
    let (a, b) = tokio::join!(mark(&app, &students[0], &message, "read"), mark(&app, &students[0], &message, "read"));
    assert_eq!((a.status, b.status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(unread(&app, &students[0]).await, 0);
    mark(&app, &students[0], &message, "unread").await.expect(StatusCode::OK, None);
    mark(&app, &students[0], &message, "unread").await.expect(StatusCode::OK, None);
    assert_eq!(unread(&app, &students[0]).await, 1);
    mark(&app, &students[0], &message, "read").await.expect(StatusCode::OK, None);

    // A student's reply goes to the staff of the thread, not to classmates.
    let reply = send(&app, &students[0], json!({"thread_id": thread, "body": "Can we bring snacks?"})).await;
    reply.expect(StatusCode::CREATED, None);
    assert_eq!(reply.data()["subject"], "Field trip");
    assert_eq!(
        (unread(&app, &teacher).await, unread(&app, &students[1]).await, unread(&app, &students[0]).await),
        (1, 1, 0)
    );
    let bodies = |response: &TestResponse| -> Vec<String> {
        response.data()["messages"].as_array().unwrap().iter().map(|m| m["body"].as_str().unwrap().to_owned()).collect()
    };
    let theirs = app.get(&format!("/api/v1/messages/thread/{thread}")).bearer(&students[1].access_token).send().await;
    theirs.expect(StatusCode::OK, None);
    assert_eq!(bodies(&theirs), ["Bring a packed lunch."]);
    // A student sees the staff and themself among the participants, not the class.
    let mut seen: Vec<String> = serde_json::from_value(theirs.data()["participant_ids"].clone()).unwrap();
    seen.sort();
    let mut expected = vec![teacher.user_id.clone(), students[1].user_id.clone()];
    expected.sort();
    assert_eq!(seen, expected);
    // The teacher's reply reaches the whole class again.
    let all = app.get(&format!("/api/v1/messages/thread/{thread}")).bearer(&teacher.access_token).send().await;
    assert_eq!(bodies(&all), ["Bring a packed lunch.", "Can we bring snacks?"]);
    assert_eq!(all.data()["participant_ids"].as_array().unwrap().len(), 3);
    send(&app, &teacher, json!({"thread_id": thread, "body": "Yes."})).await.expect(StatusCode::CREATED, None);
    assert_eq!((unread(&app, &students[0]).await, unread(&app, &students[1]).await), (1, 2));
    // Someone outside the thread reads none of it, nor replies to it.
    app.get(&format!("/api/v1/messages/thread/{thread}"))
        .bearer(&outsider.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    app.get(&format!("/api/v1/messages/{message}"))
        .bearer(&outsider.access_token)
        .send()
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    send(&app, &outsider, json!({"thread_id": thread, "body": "Me too?"}))
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(app.daily_count(&admin, Counter::MessagesSent).await, 3);
}

#[tokio::test]
async fn students_and_parents_write_to_staff_and_bad_messages_are_refused() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    let teacher = app.member(&admin, "teacher").await;
    let (student, classmate) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let parent = app.member(&admin, "parent").await;
    let to = |who: &Account| json!({"recipient_ids": [who.user_id], "subject": "Hello", "body": "Hi there."});

    send(&app, &student, to(&teacher)).await.expect(StatusCode::CREATED, None);
    send(&app, &parent, to(&teacher)).await.expect(StatusCode::CREATED, None);
    send(&app, &teacher, to(&student)).await.expect(StatusCode::CREATED, None);
    send(&app, &student, to(&classmate)).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    send(&app, &parent, to(&student)).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    assert_eq!(unread(&app, &classmate).await, 0);
    // A class is written to by its teacher or an admin only.
    let class = app.class_with(&teacher, &[&student]).await;
    let colleague = app.member(&admin, "teacher").await;
    let to_class = json!({"class_id": class, "subject": "Hi", "body": "All of you."});
    send(&app, &colleague, to_class.clone()).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    send(&app, &student, to_class.clone()).await.expect(StatusCode::FORBIDDEN, Some("forbidden"));
    send(&app, &admin, to_class).await.expect(StatusCode::CREATED, None);
    // An API key is not a person.
    let key = app.create_api_key(&admin, json!({"name": "k", "scopes": ["read", "write"]})).await;
    app.post("/api/v1/messages")
        .api_key(&key.key)
        .json(to(&teacher))
        .send()
        .await
        .expect(StatusCode::FORBIDDEN, Some("forbidden"));

    let stranger = app.register_org().await;
    for (bad, field) in [
        (json!({"recipient_ids": [teacher.user_id], "body": "No subject."}), "subject"),
        (json!({"recipient_ids": [teacher.user_id], "subject": "S", "body": "   "}), "body"),
        (json!({"recipient_ids": [teacher.user_id], "subject": "S", "body": "x".repeat(10_001)}), "body"),
        (
            json!({"recipient_ids": [teacher.user_id], "class_id": class, "subject": "S", "body": "Two."}),
            "recipient_ids",
        ),
        (json!({"recipient_ids": [], "subject": "S", "body": "Nobody."}), "recipient_ids"),
        (json!({"recipient_ids": [stranger.user_id], "subject": "S", "body": "Another school."}), "recipient_ids"),
        (json!({"recipient_ids": ["not-an-id"], "subject": "S", "body": "B"}), "recipient_ids[0]"),
        (json!({"subject": "S", "body": "To no one."}), "recipient_ids"),
        (json!({"class_id": class, "subject": 5, "body": "B"}), "subject"),
    ] {
        let refused = send(&app, &teacher, bad.clone()).await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], field, "{bad}");
    }
    assert_eq!(unread(&app, &stranger).await, 0);
    let thread = send(&app, &student, to(&teacher)).await.data()["thread_id"].as_str().unwrap().to_owned();
    let reply_with_subject = json!({"thread_id": thread, "subject": "New", "body": "B"});
    let refused = send(&app, &teacher, reply_with_subject).await;
    assert_eq!(refused.body["error"]["details"][0]["field"], "subject");
    // Another tenant's thread is not found, and gets no message.
    send(&app, &stranger, json!({"thread_id": thread, "body": "Hi."}))
        .await
        .expect(StatusCode::NOT_FOUND, Some("not_found"));
    // From the student twice, the parent, and the admin's class message (the teacher is in the class).
    assert_eq!(unread(&app, &teacher).await, 4);
}

#[tokio::test]
async fn star_archive_and_delete_change_only_ones_own_copy() {
    let app = TestApp::spawn().await;
    let admin = app.register_org().await;
    app.login(&admin.email, &admin.password).await.expect(StatusCode::OK, None);
    assert_eq!(app.daily_count(&admin, Counter::Logins).await, 1);
    let teacher = app.member(&admin, "teacher").await;
    let (ann, ben) = (app.member(&admin, "student").await, app.member(&admin, "student").await);
    let sent = send(
        &app,
        &teacher,
        json!({"recipient_ids": [ann.user_id, ben.user_id], "subject": "Homework", "body": "Page 12."}),
    )
    .await;
    let message = sent.data()["id"].as_str().unwrap().to_owned();
    let thread = sent.data()["thread_id"].as_str().unwrap().to_owned();

    let starred = mark(&app, &ann, &message, "star").await;
    assert_eq!(starred.data()["starred"], true);
    assert_eq!(inbox(&app, &ann, "starred").await.len(), 1);
    let unstarred = app
        .post(&format!("/api/v1/messages/{message}/star"))
        .bearer(&ann.access_token)
        .json(json!({"starred": false}))
        .send()
        .await;
    assert_eq!(unstarred.data()["starred"], false);
    mark(&app, &ann, &message, "archive").await.expect(StatusCode::OK, None);
    assert!(inbox(&app, &ann, "inbox").await.is_empty());
    assert_eq!(inbox(&app, &ann, "archived").await.len(), 1);
    assert_eq!(unread(&app, &ann).await, 1, "archiving keeps a message unread");

    // Deleting an unread message, twice at once: gone for Ann, counted once.
    let path = format!("/api/v1/messages/{message}");
    let (a, b) = tokio::join!(
        app.delete(&path).bearer(&ann.access_token).send(),
        app.delete(&path).bearer(&ann.access_token).send()
    );
    let mut statuses = [a.status, b.status];
    statuses.sort();
    assert_eq!(statuses, [StatusCode::NO_CONTENT, StatusCode::NOT_FOUND]);
    assert_eq!(unread(&app, &ann).await, 0);
    app.get(&path).bearer(&ann.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    let hers = app.get(&format!("/api/v1/messages/thread/{thread}")).bearer(&ann.access_token).send().await;
    assert!(hers.data()["messages"].as_array().unwrap().is_empty());
    // Ben's copy is untouched.
    assert_eq!(unread(&app, &ben).await, 1);
    let his = app.get(&path).bearer(&ben.access_token).send().await;
    assert_eq!((his.data()["read"].as_bool(), his.data()["body"].as_str()), (Some(false), Some("Page 12.")));

    // Another tenant cannot reach the message, and changes nothing.
    let key = ben.tenant().inbox_entry(&ben.user_id.parse().unwrap(), &message.parse().unwrap());
    let before = app.raw_item(&key).await;
    let stranger = app.register_org().await;
    app.get(&path).bearer(&stranger.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    for action in ["read", "star", "archive"] {
        mark(&app, &stranger, &message, action).await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    }
    app.delete(&path).bearer(&stranger.access_token).send().await.expect(StatusCode::NOT_FOUND, Some("not_found"));
    assert_eq!(app.raw_item(&key).await, before);
    // One's own sent copy is neither starred nor archived.
    mark(&app, &teacher, &message, "star").await.expect(StatusCode::CONFLICT, Some("conflict"));
    // A bad box is a 400; a bad flag body a 422.
    app.get("/api/v1/messages?box=spam")
        .bearer(&ben.access_token)
        .send()
        .await
        .expect(StatusCode::BAD_REQUEST, Some("bad_request"));
    app.post(&format!("{path}/star"))
        .bearer(&ben.access_token)
        .json(json!({"starred": "yes"}))
        .send()
        .await
        .expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
    // An optional body is still an object: an array (which serde would read
    // as the fields in order) is refused, and the copy stays as it was.
    let copy = ben.tenant().inbox_entry(&ben.user_id.parse().unwrap(), &message.parse().unwrap());
    let before = app.raw_item(&copy).await;
    assert!(before.is_some(), "ben's copy");
    for action in ["star", "archive"] {
        let refused = app.post(&format!("{path}/{action}")).bearer(&ben.access_token).json(json!([false])).send().await;
        refused.expect(StatusCode::UNPROCESSABLE_ENTITY, Some("validation_failed"));
        assert_eq!(refused.body["error"]["details"][0]["field"], "body");
    }
    assert_eq!(app.raw_item(&copy).await, before);
}
